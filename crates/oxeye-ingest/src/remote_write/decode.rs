//! Snappy + protobuf decoding of a remote_write 1.0 request and its conversion into the model.

use oxeye_model::{
    Exemplar as ModelExemplar, Labels, LabelsBuilder, METRIC_NAME_LABEL, MetricMetadata as ModelMetadata, MetricType,
    RejectReason, Rejection, Sample as ModelSample, TimeSeries as ModelTimeSeries,
};
use prost::Message;

use super::proto::{Exemplar, Label, MetricMetadata, MetricType as ProtoMetricType, TimeSeries, WriteRequest};
use crate::{DecodeError, DecodedWrite};

/// Decodes a remote_write 1.0 HTTP body (snappy block format around a protobuf `WriteRequest`).
///
/// The decompressed length announced by the snappy header is checked against `max_decompressed_bytes` before
/// anything is allocated, so the memory used is bounded by the limit. Series that cannot be stored (an empty or
/// duplicated label name, no `__name__`) are returned as [`Rejection`]s and the rest of the request is kept;
/// series with neither samples nor exemplars are dropped silently. Label pairs with an empty value are dropped
/// (Prometheus treats `a=""` as the absence of `a`). Exemplars whose labels repeat a name are dropped.
///
/// Fails with [`DecodeError::SnappyCorrupt`], [`DecodeError::DecompressedTooLarge`] or
/// [`DecodeError::Protobuf`] when the body as a whole cannot be read.
pub fn decode_write_request(body: &[u8], max_decompressed_bytes: usize) -> Result<DecodedWrite, DecodeError> {
    let decompressed = decompress(body, max_decompressed_bytes)?;
    let request = WriteRequest::decode(decompressed.as_slice())
        .map_err(|error| DecodeError::Protobuf { message: error.to_string() })?;
    Ok(convert_write_request(request))
}

/// Decompresses a snappy block-format body, refusing (before allocating) one that announces more than
/// `max_decompressed_bytes`.
pub fn decompress(body: &[u8], max_decompressed_bytes: usize) -> Result<Vec<u8>, DecodeError> {
    let decompressed_len = snap::raw::decompress_len(body).map_err(|_| DecodeError::SnappyCorrupt)?;
    if decompressed_len > max_decompressed_bytes {
        return Err(DecodeError::DecompressedTooLarge { size: decompressed_len, limit: max_decompressed_bytes });
    }
    let mut decompressed = vec![0u8; decompressed_len];
    snap::raw::Decoder::new().decompress(body, &mut decompressed).map_err(|_| DecodeError::SnappyCorrupt)?;
    Ok(decompressed)
}

/// Encodes `request` as a remote_write 1.0 body (protobuf, then snappy block format). For tests and benchmarks.
///
/// # Panics
/// If the encoded protobuf is larger than snappy's block limit (about 4 GiB).
pub fn encode_write_request(request: &WriteRequest) -> Vec<u8> {
    let protobuf = request.encode_to_vec();
    snap::raw::Encoder::new()
        .compress_vec(&protobuf)
        .expect("a remote_write request larger than snappy's 4 GiB block limit")
}

pub(super) fn convert_write_request(request: WriteRequest) -> DecodedWrite {
    let mut decoded = DecodedWrite::default();
    decoded.batch.series.reserve(request.timeseries.len());
    for series in request.timeseries {
        match convert_series(series) {
            Ok(Some(series)) => decoded.batch.series.push(series),
            Ok(None) => {}
            Err(rejection) => decoded.rejections.push(rejection),
        }
    }
    decoded.batch.metadata = request.metadata.into_iter().filter_map(convert_metadata).collect();
    decoded
}

/// Converts one series; `Ok(None)` for a series with nothing to store.
pub(super) fn convert_series(series: TimeSeries) -> Result<Option<ModelTimeSeries>, Rejection> {
    if series.samples.is_empty() && series.exemplars.is_empty() {
        return Ok(None);
    }
    if let Some(reason) = label_problem(&series.labels) {
        let rendered = render_raw_series(&series.labels);
        let message = match &reason {
            LabelProblem::EmptyLabel => format!("series {rendered}: empty label name"),
            LabelProblem::DuplicateLabel(name) => {
                format!("series {rendered}: duplicated label name {name:?}")
            }
            LabelProblem::NoMetricName => {
                format!("series {rendered}: missing metric name (no non-empty {METRIC_NAME_LABEL} label)")
            }
        };
        return Err(Rejection::new(reason.reject_reason(), rendered, series.samples.len(), message));
    }

    let mut builder = LabelsBuilder::with_capacity(series.labels.len());
    for label in series.labels {
        builder.push(label.name, label.value);
    }
    let labels = builder.build().map_err(|duplicate| {
        // Unreachable after `label_problem`, but a rejection is cheaper to reason about than a panic.
        Rejection::new(
            RejectReason::DuplicateLabelName,
            String::new(),
            series.samples.len(),
            format!("duplicated label name {duplicate:?}"),
        )
    })?;
    let samples = series.samples.iter().map(|sample| ModelSample::new(sample.timestamp, sample.value)).collect();
    let exemplars = series.exemplars.into_iter().filter_map(convert_exemplar).collect();
    Ok(Some(ModelTimeSeries { labels, samples, exemplars }))
}

enum LabelProblem {
    EmptyLabel,
    DuplicateLabel(String),
    NoMetricName,
}

impl LabelProblem {
    fn reject_reason(&self) -> RejectReason {
        match self {
            LabelProblem::EmptyLabel => RejectReason::EmptyLabelName,
            LabelProblem::DuplicateLabel(_) => RejectReason::DuplicateLabelName,
            LabelProblem::NoMetricName => RejectReason::MissingMetricName,
        }
    }
}

/// The first thing that makes `labels` unusable as a series identity, checked in the order Prometheus's write
/// handler reports them (names must be valid, unique, and include a metric name).
fn label_problem(labels: &[Label]) -> Option<LabelProblem> {
    if labels.iter().any(|label| label.name.is_empty()) {
        return Some(LabelProblem::EmptyLabel);
    }
    // Duplicates are checked on the raw names: `a=""` next to `a="x"` is a malformed request even though the
    // empty value would be dropped.
    let mut names: Vec<&str> = labels.iter().map(|label| label.name.as_str()).collect();
    names.sort_unstable();
    if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
        return Some(LabelProblem::DuplicateLabel(pair[0].to_string()));
    }
    let has_metric_name = labels.iter().any(|label| label.name == METRIC_NAME_LABEL && !label.value.is_empty());
    if !has_metric_name {
        return Some(LabelProblem::NoMetricName);
    }
    None
}

/// Renders labels as sent, in the Prometheus text style (`name{a="1", b="2"}`), for rejection messages.
fn render_raw_series(labels: &[Label]) -> String {
    let metric_name = labels.iter().find(|label| label.name == METRIC_NAME_LABEL);
    let mut rendered = metric_name.map(|label| label.value.clone()).unwrap_or_default();
    rendered.push('{');
    let mut first = true;
    for label in labels {
        if metric_name.is_some_and(|name_label| std::ptr::eq(name_label, label)) {
            continue;
        }
        if !first {
            rendered.push_str(", ");
        }
        first = false;
        rendered.push_str(&format!("{}={:?}", label.name, label.value));
    }
    rendered.push('}');
    rendered
}

fn convert_exemplar(exemplar: Exemplar) -> Option<ModelExemplar> {
    let labels = Labels::from_pairs(exemplar.labels.into_iter().map(|label| (label.name, label.value))).ok()?;
    Some(ModelExemplar { labels, value: exemplar.value, timestamp_ms: exemplar.timestamp })
}

pub(super) fn convert_metadata(metadata: MetricMetadata) -> Option<ModelMetadata> {
    if metadata.metric_family_name.is_empty() {
        return None;
    }
    let metric_type = match ProtoMetricType::try_from(metadata.r#type) {
        Ok(ProtoMetricType::Counter) => MetricType::Counter,
        Ok(ProtoMetricType::Gauge) => MetricType::Gauge,
        Ok(ProtoMetricType::Histogram) => MetricType::Histogram,
        Ok(ProtoMetricType::Gaugehistogram) => MetricType::GaugeHistogram,
        Ok(ProtoMetricType::Summary) => MetricType::Summary,
        Ok(ProtoMetricType::Info) => MetricType::Info,
        Ok(ProtoMetricType::Stateset) => MetricType::StateSet,
        Ok(ProtoMetricType::Unknown) | Err(_) => MetricType::Unknown,
    };
    Some(ModelMetadata {
        metric_family: metadata.metric_family_name,
        metric_type,
        help: metadata.help,
        unit: metadata.unit,
    })
}
