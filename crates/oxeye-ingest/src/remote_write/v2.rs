//! Remote write 2.0 (`io.prometheus.write.v2.Request`): interned strings, per-series metadata.
//!
//! The request is resolved against its symbol table into remote write 1.0 series and then goes through the same
//! conversion, so both versions refuse the same malformed series for the same reasons. A series whose label or
//! metadata references point outside the symbol table is refused on its own. Native histograms (field 3) are not
//! decoded yet: such series are refused with `unsupported_metric_type`. Field numbers follow
//! `prompb/io/prometheus/write/v2/types.proto`.

use oxeye_model::{RejectReason, Rejection};
use prost::Message;

use super::decode::convert_write_request;
use super::proto as v1;
use crate::{DecodeError, DecodedWrite};

/// `io.prometheus.write.v2.Request`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RequestV2 {
    #[prost(string, repeated, tag = "4")]
    pub symbols: Vec<String>,
    #[prost(message, repeated, tag = "5")]
    pub timeseries: Vec<TimeSeriesV2>,
}

/// `io.prometheus.write.v2.TimeSeries`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeriesV2 {
    #[prost(uint32, repeated, tag = "1")]
    pub labels_refs: Vec<u32>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<v1::Sample>,
    /// Native histogram samples, kept only as raw bytes to detect and refuse them.
    #[prost(bytes = "vec", repeated, tag = "3")]
    pub histograms: Vec<Vec<u8>>,
    #[prost(message, repeated, tag = "4")]
    pub exemplars: Vec<ExemplarV2>,
    #[prost(message, optional, tag = "5")]
    pub metadata: Option<MetadataV2>,
    #[prost(int64, tag = "6")]
    pub created_timestamp: i64,
}

/// `io.prometheus.write.v2.Exemplar`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExemplarV2 {
    #[prost(uint32, repeated, tag = "1")]
    pub labels_refs: Vec<u32>,
    #[prost(double, tag = "2")]
    pub value: f64,
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// `io.prometheus.write.v2.Metadata` (its type enum has the same numbers as 1.0's).
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetadataV2 {
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    #[prost(uint32, tag = "3")]
    pub help_ref: u32,
    #[prost(uint32, tag = "4")]
    pub unit_ref: u32,
}

/// What a 2.0 request held, for the `X-Prometheus-Remote-Write-*-Written` response headers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WrittenCounts {
    pub samples: usize,
    pub histograms: usize,
    pub exemplars: usize,
}

/// Decodes a remote write 2.0 body (snappy block format) into a batch, like
/// [`decode_write_request`](super::decode_write_request) does for 1.0.
pub fn decode_write_request_v2(body: &[u8], max_decompressed_bytes: usize) -> Result<DecodedWrite, DecodeError> {
    let decompressed_len = snap::raw::decompress_len(body).map_err(|_| DecodeError::SnappyCorrupt)?;
    if decompressed_len > max_decompressed_bytes {
        return Err(DecodeError::DecompressedTooLarge { size: decompressed_len, limit: max_decompressed_bytes });
    }
    let mut decompressed = vec![0u8; decompressed_len];
    snap::raw::Decoder::new().decompress(body, &mut decompressed).map_err(|_| DecodeError::SnappyCorrupt)?;
    let request = RequestV2::decode(decompressed.as_slice())
        .map_err(|error| DecodeError::Protobuf { message: error.to_string() })?;
    Ok(convert_v2(request))
}

fn convert_v2(request: RequestV2) -> DecodedWrite {
    let symbols = &request.symbols;
    let mut v1_request = v1::WriteRequest::default();
    let mut rejections = Vec::new();
    for series in request.timeseries {
        let labels = match resolve_labels(symbols, &series.labels_refs) {
            Ok(labels) => labels,
            Err(message) => {
                rejections.push(Rejection::new(RejectReason::InvalidLabelName, "", series.samples.len(), message));
                continue;
            }
        };
        if !series.histograms.is_empty() {
            let rendered = render(&labels);
            rejections.push(Rejection::new(
                RejectReason::UnsupportedMetricType,
                rendered.clone(),
                series.histograms.len(),
                format!("series {rendered}: native histogram samples are not supported yet"),
            ));
        }
        if let Some(metadata) = &series.metadata {
            let family = labels.iter().find(|l| l.name == "__name__").map(|l| l.value.clone());
            let help = symbols.get(metadata.help_ref as usize);
            let unit = symbols.get(metadata.unit_ref as usize);
            if let (Some(family), Some(help), Some(unit)) = (family, help, unit)
                && (metadata.r#type != 0 || !help.is_empty() || !unit.is_empty())
            {
                v1_request.metadata.push(v1::MetricMetadata {
                    r#type: metadata.r#type,
                    metric_family_name: family,
                    help: help.clone(),
                    unit: unit.clone(),
                });
            }
        }
        let exemplars = series
            .exemplars
            .iter()
            .filter_map(|exemplar| {
                let labels = resolve_labels(symbols, &exemplar.labels_refs).ok()?;
                Some(v1::Exemplar { labels, value: exemplar.value, timestamp: exemplar.timestamp })
            })
            .collect();
        v1_request.timeseries.push(v1::TimeSeries { labels, samples: series.samples, exemplars });
    }
    let mut decoded = convert_write_request(v1_request);
    rejections.append(&mut decoded.rejections);
    decoded.rejections = rejections;
    decoded
}

fn resolve_labels(symbols: &[String], refs: &[u32]) -> Result<Vec<v1::Label>, String> {
    if !refs.len().is_multiple_of(2) {
        return Err(format!("labels_refs has an odd length ({})", refs.len()));
    }
    refs.chunks_exact(2)
        .map(|pair| {
            let lookup = |reference: u32| {
                symbols.get(reference as usize).cloned().ok_or_else(|| {
                    format!("label reference {reference} is outside the symbols table of {} entries", symbols.len())
                })
            };
            Ok(v1::Label { name: lookup(pair[0])?, value: lookup(pair[1])? })
        })
        .collect()
}

fn render(labels: &[v1::Label]) -> String {
    let name = labels.iter().find(|l| l.name == "__name__").map_or("", |l| l.value.as_str());
    let rest: Vec<String> =
        labels.iter().filter(|l| l.name != "__name__").map(|l| format!("{}={:?}", l.name, l.value)).collect();
    format!("{name}{{{}}}", rest.join(", "))
}

/// Encodes a 2.0 request (protobuf, then snappy), for tests and benchmarks.
pub fn encode_write_request_v2(request: &RequestV2) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(&request.encode_to_vec()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn symbols(all: &[&str]) -> Vec<String> {
        all.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn v2_requests_resolve_symbols_metadata_and_exemplars() {
        let request = RequestV2 {
            symbols: symbols(&["", "__name__", "http_requests_total", "job", "api", "Requests.", "trace_id", "abc"]),
            timeseries: vec![
                TimeSeriesV2 {
                    labels_refs: vec![1, 2, 3, 4],
                    samples: vec![v1::Sample { value: 5.0, timestamp: 1000 }],
                    exemplars: vec![ExemplarV2 { labels_refs: vec![6, 7], value: 1.0, timestamp: 1000 }],
                    metadata: Some(MetadataV2 { r#type: 1, help_ref: 5, unit_ref: 0 }),
                    ..Default::default()
                },
                TimeSeriesV2 {
                    labels_refs: vec![1, 99],
                    samples: vec![v1::Sample { value: 1.0, timestamp: 1 }],
                    ..Default::default()
                },
                TimeSeriesV2 { labels_refs: vec![1, 2], histograms: vec![vec![1, 2]], ..Default::default() },
            ],
        };
        let decoded = decode_write_request_v2(&encode_write_request_v2(&request), 1 << 20).unwrap();
        assert_eq!(decoded.batch.series.len(), 1);
        let series = &decoded.batch.series[0];
        assert_eq!(series.labels.to_string(), "http_requests_total{job=\"api\"}");
        assert_eq!(series.samples[0].value, 5.0);
        assert_eq!(series.exemplars[0].labels.get("trace_id"), Some("abc"));
        assert_eq!(decoded.batch.metadata[0].metric_family, "http_requests_total");
        assert_eq!(decoded.batch.metadata[0].help, "Requests.");
        assert_eq!(decoded.batch.metadata[0].metric_type, oxeye_model::MetricType::Counter);
        let reasons: Vec<RejectReason> = decoded.rejections.iter().map(|r| r.reason).collect();
        assert_eq!(reasons, [RejectReason::InvalidLabelName, RejectReason::UnsupportedMetricType]);
        assert!(decoded.rejections[0].message.contains("reference 99"), "{}", decoded.rejections[0].message);
        assert!(matches!(decode_write_request_v2(&[1, 2, 3], 1 << 20), Err(DecodeError::SnappyCorrupt)));
    }
}
