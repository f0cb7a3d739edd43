//! Per-tenant ingest limits and the messages Loki answers when one is hit.
//!
//! Messages follow Loki's distributor and ingester validation texts, so clients and runbooks that match on them
//! keep working. Validation failures are HTTP 400; the stream and rate limits are 429, as in Loki.

use std::time::Duration;

use oxeye_model::Labels;

/// Limits of one tenant.
#[derive(Clone, Debug, PartialEq)]
pub struct LogLimits {
    /// Blocks whose newest entry is older than this are deleted; entries older than this are refused.
    pub retention: Duration,
    /// Longest accepted line in bytes (Loki: `max_line_size`, 256 KiB).
    pub max_line_size: usize,
    /// Most labels a stream may have (Loki: `max_label_names_per_series`, 15).
    pub max_label_names_per_stream: usize,
    pub max_label_name_length: usize,
    pub max_label_value_length: usize,
    /// Most streams held in the head at once (Loki: `max_global_streams_per_user`, 5000; oxeye defaults higher
    /// because one node holds everything).
    pub max_streams: usize,
    /// Sustained ingest rate in bytes per second (lines and structured metadata).
    pub ingestion_rate_bytes: f64,
    /// Burst allowance in bytes.
    pub ingestion_burst_bytes: f64,
    /// How far in the future an entry may be (Loki: `creation_grace_period`, 10 min).
    pub creation_grace_period: Duration,
}

impl Default for LogLimits {
    fn default() -> Self {
        Self {
            retention: Duration::from_secs(7 * 86_400),
            max_line_size: 256 << 10,
            max_label_names_per_stream: 15,
            max_label_name_length: 1024,
            max_label_value_length: 2048,
            max_streams: 20_000,
            ingestion_rate_bytes: 64.0 * (1 << 20) as f64,
            ingestion_burst_bytes: 128.0 * (1 << 20) as f64,
            creation_grace_period: Duration::from_secs(600),
        }
    }
}

/// Why entries were refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogRejectReason {
    LineTooLong,
    TooManyLabels,
    LabelNameTooLong,
    LabelValueTooLong,
    TooOld,
    TooNew,
    StreamLimit,
    RateLimited,
    /// The head holds as much as it may while blocks are written (disk too slow or failing): retry later.
    HeadFull,
}

impl LogRejectReason {
    /// The label value used in `oxeye_rejected_log_entries_total{reason}` (Loki's discarded-samples reasons).
    pub fn as_str(self) -> &'static str {
        match self {
            LogRejectReason::LineTooLong => "line_too_long",
            LogRejectReason::TooManyLabels => "max_label_names_per_series",
            LogRejectReason::LabelNameTooLong => "label_name_too_long",
            LogRejectReason::LabelValueTooLong => "label_value_too_long",
            LogRejectReason::TooOld => "greater_than_max_sample_age",
            LogRejectReason::TooNew => "too_far_in_future",
            LogRejectReason::StreamLimit => "stream_limit",
            LogRejectReason::RateLimited => "rate_limited",
            LogRejectReason::HeadFull => "head_full",
        }
    }

    /// The HTTP status Loki answers for this reason.
    pub fn http_status(self) -> u16 {
        match self {
            LogRejectReason::StreamLimit | LogRejectReason::RateLimited | LogRejectReason::HeadFull => 429,
            _ => 400,
        }
    }
}

/// Entries refused for one reason, with Loki's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRejection {
    pub reason: LogRejectReason,
    pub entries: usize,
    pub bytes: usize,
    pub message: String,
}

pub(crate) fn line_too_long(limit: usize, stream: &Labels, length: usize) -> String {
    format!(
        "Max entry size '{limit}' bytes exceeded for stream '{}' while adding an entry with length '{length}' bytes",
        selector(stream)
    )
}

pub(crate) fn too_many_labels(stream: &Labels, count: usize, limit: usize) -> String {
    format!("entry for stream '{}' has {count} label names; limit {limit}", selector(stream))
}

pub(crate) fn label_name_too_long(stream: &Labels, name: &str) -> String {
    format!("stream '{}' has label name too long: '{name}'", selector(stream))
}

pub(crate) fn label_value_too_long(stream: &Labels, value: &str) -> String {
    format!("stream '{}' has label value too long: '{value}'", selector(stream))
}

pub(crate) fn too_old(stream: &Labels, timestamp_ns: i64, oldest_ns: i64) -> String {
    format!(
        "entry for stream '{}' has timestamp too old: {}, oldest acceptable timestamp is: {}",
        selector(stream),
        go_time(timestamp_ns),
        go_time(oldest_ns)
    )
}

pub(crate) fn too_new(stream: &Labels, timestamp_ns: i64) -> String {
    format!("entry for stream '{}' has timestamp too new: {}", selector(stream), go_time(timestamp_ns))
}

pub(crate) fn stream_limit(tenant: &str) -> String {
    format!(
        "Maximum active stream limit exceeded, reduce the number of active streams (reduce labels or reduce label \
         values), or contact your Loki administrator to see if the limit can be increased, user: '{tenant}'"
    )
}

pub(crate) fn rate_limited(tenant: &str, limit: f64, lines: usize, bytes: usize) -> String {
    format!(
        "Ingestion rate limit exceeded for user {tenant} (limit: {} bytes/sec) while attempting to ingest '{lines}' \
         lines totaling '{bytes}' bytes, reduce log volume or contact your Loki administrator to see if the limit \
         can be increased",
        limit as u64
    )
}

pub(crate) fn head_full(tenant: &str, bytes: u64) -> String {
    format!(
        "the log head of tenant {tenant} holds {bytes} bytes not yet written to disk, its hard limit; block writing \
         is behind (check the disk and the logs): retry later"
    )
}

/// A label set as Loki prints a stream: `{a="b", c="d"}`.
pub fn selector(labels: &Labels) -> String {
    let mut out = String::from("{");
    for (index, label) in labels.iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        out.push_str(&label.name);
        out.push('=');
        oxeye_model::go_json::write_string(&mut out, &label.value);
    }
    out.push('}');
    out
}

/// Go's `time.Time.String()` in UTC: `2006-01-02 15:04:05.999999999 +0000 UTC` (fraction without trailing zeros).
pub(crate) fn go_time(timestamp_ns: i64) -> String {
    let seconds = timestamp_ns.div_euclid(1_000_000_000);
    let nanos = timestamp_ns.rem_euclid(1_000_000_000);
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = oxeye_model::time::civil_from_days(days);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    );
    if nanos != 0 {
        let fraction = format!("{nanos:09}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push_str(" +0000 UTC");
    out
}

/// The token bucket of the ingestion rate limit.
pub(crate) type RateLimiter = oxeye_model::rate::TokenBucket;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_lokis_wording() {
        let stream = Labels::from_pairs([("app", "api"), ("env", "a\"b")]).unwrap();
        assert_eq!(selector(&stream), r#"{app="api", env="a\"b"}"#);
        assert_eq!(
            line_too_long(262_144, &stream, 300_000),
            r#"Max entry size '262144' bytes exceeded for stream '{app="api", env="a\"b"}' while adding an entry with length '300000' bytes"#
        );
        assert_eq!(go_time(1_700_000_000_123_000_000), "2023-11-14 22:13:20.123 +0000 UTC");
        assert_eq!(go_time(0), "1970-01-01 00:00:00 +0000 UTC");
    }

    #[test]
    fn the_bucket_refills_at_the_rate_and_caps_at_the_burst() {
        let mut bucket = RateLimiter::new(100.0);
        assert!(bucket.try_take(60.0, 10.0, 100.0, 0));
        assert!(!bucket.try_take(60.0, 10.0, 100.0, 0));
        assert!(bucket.try_take(60.0, 10.0, 100.0, 2_000_000_000));
        assert!(!bucket.try_take(101.0, 10.0, 100.0, 1_000_000_000_000));
    }
}
