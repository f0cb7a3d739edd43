//! Why data was refused: a reason code shared by receivers and storage.
//!
//! A receiver keeps the good part of a write and reports each refused part as a [`Rejection`]. The
//! [`RejectReason`] is a closed set of causes whose [`RejectReason::as_str`] names are stable, snake_case and
//! meant to be used as the `reason` label of a self-metric (`oxeye_rejected_samples_total{reason="…"}`), so they
//! must never be renamed. Receivers produce the label and protocol reasons; storage adds the limit and ordering
//! reasons.

use std::fmt;

/// The cause of a rejection. Each reason's [`as_str`](RejectReason::as_str) name is a stable metric label value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    /// Two labels of one series have the same name.
    DuplicateLabelName,
    /// The series has no `__name__` label (or an empty one).
    MissingMetricName,
    /// A label has an empty name.
    EmptyLabelName,
    /// A label name is not acceptable (for example it is made only of underscores after translation).
    InvalidLabelName,
    /// The metric name is not acceptable (for example it is empty after translation).
    InvalidMetricName,
    /// Delta temporality data that the receiver was not configured to convert.
    DeltaTemporality,
    /// A temporality that is neither cumulative nor delta (OTLP `AGGREGATION_TEMPORALITY_UNSPECIFIED`).
    InvalidTemporality,
    /// A metric type that oxeye does not store yet (for example OTLP exponential histograms).
    UnsupportedMetricType,
    /// The series has more labels than the tenant's limit.
    TooManyLabels,
    /// A label name is longer than the tenant's limit.
    LabelNameTooLong,
    /// A label value is longer than the tenant's limit.
    LabelValueTooLong,
    /// The sample is older than the store accepts.
    SampleTooOld,
    /// The sample is too far in the future.
    SampleTooNew,
    /// The sample is older than the newest sample already stored for its series.
    OutOfOrder,
    /// A sample with the same timestamp and a different value is already stored.
    DuplicateTimestamp,
    /// Creating the series would exceed the tenant's series limit.
    SeriesLimit,
    /// The tenant's ingestion rate limit was exceeded.
    RateLimit,
}

impl RejectReason {
    /// Every reason, so that a self-metric can be pre-registered with each label value.
    pub const ALL: [RejectReason; 17] = [
        RejectReason::DuplicateLabelName,
        RejectReason::MissingMetricName,
        RejectReason::EmptyLabelName,
        RejectReason::InvalidLabelName,
        RejectReason::InvalidMetricName,
        RejectReason::DeltaTemporality,
        RejectReason::InvalidTemporality,
        RejectReason::UnsupportedMetricType,
        RejectReason::TooManyLabels,
        RejectReason::LabelNameTooLong,
        RejectReason::LabelValueTooLong,
        RejectReason::SampleTooOld,
        RejectReason::SampleTooNew,
        RejectReason::OutOfOrder,
        RejectReason::DuplicateTimestamp,
        RejectReason::SeriesLimit,
        RejectReason::RateLimit,
    ];

    /// The stable snake_case name, used as a metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::DuplicateLabelName => "duplicate_label_name",
            RejectReason::MissingMetricName => "missing_metric_name",
            RejectReason::EmptyLabelName => "empty_label_name",
            RejectReason::InvalidLabelName => "invalid_label_name",
            RejectReason::InvalidMetricName => "invalid_metric_name",
            RejectReason::DeltaTemporality => "delta_temporality",
            RejectReason::InvalidTemporality => "invalid_temporality",
            RejectReason::UnsupportedMetricType => "unsupported_metric_type",
            RejectReason::TooManyLabels => "too_many_labels",
            RejectReason::LabelNameTooLong => "label_name_too_long",
            RejectReason::LabelValueTooLong => "label_value_too_long",
            RejectReason::SampleTooOld => "sample_too_old",
            RejectReason::SampleTooNew => "sample_too_new",
            RejectReason::OutOfOrder => "out_of_order",
            RejectReason::DuplicateTimestamp => "duplicate_timestamp",
            RejectReason::SeriesLimit => "series_limit",
            RejectReason::RateLimit => "rate_limit",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One refused part of a write: which series, how many samples, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub reason: RejectReason,
    /// The series as the client sent it, rendered in the Prometheus text style (`name{a="1"}`); for OTLP data
    /// refused before a series exists, the OTLP metric name.
    pub series: String,
    /// How many samples were refused (for OTLP: how many data points, the unit OTLP's partial success counts).
    pub samples: usize,
    /// A human-readable explanation naming the series and the reason, suitable for a response body or a log.
    pub message: String,
}

impl Rejection {
    pub fn new(reason: RejectReason, series: impl Into<String>, samples: usize, message: impl Into<String>) -> Self {
        Self { reason, series: series.into(), samples, message: message.into() }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_names_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for reason in RejectReason::ALL {
            let name = reason.as_str();
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{name}");
            assert!(seen.insert(name), "{name} appears twice");
            assert_eq!(reason.to_string(), name);
        }
        assert_eq!(RejectReason::DeltaTemporality.as_str(), "delta_temporality");
    }
}
