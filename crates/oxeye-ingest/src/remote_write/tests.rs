use oxeye_model::{Labels, MetricType, RejectReason};
use proptest::prelude::*;
use prost::Message;

use super::*;
use crate::DecodeError;

const LIMIT: usize = 32 << 20;

fn label(name: &str, value: &str) -> Label {
    Label { name: name.to_string(), value: value.to_string() }
}

fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels: labels.iter().map(|(name, value)| label(name, value)).collect(),
        samples: samples.iter().map(|&(timestamp, value)| Sample { value, timestamp }).collect(),
        exemplars: Vec::new(),
    }
}

#[test]
fn decodes_series_exemplars_and_metadata() {
    let mut with_exemplar =
        series(&[("__name__", "http_requests_total"), ("job", "api"), ("empty", "")], &[(1000, 1.0), (2000, 2.5)]);
    with_exemplar.exemplars.push(Exemplar { labels: vec![label("trace_id", "abc")], value: 2.5, timestamp: 1500 });
    let request = WriteRequest {
        timeseries: vec![with_exemplar, series(&[("__name__", "up")], &[(3000, 1.0)])],
        metadata: vec![
            MetricMetadata {
                r#type: ProtoMetricType::Counter as i32,
                metric_family_name: "http_requests_total".into(),
                help: "Requests.".into(),
                unit: String::new(),
            },
            MetricMetadata { r#type: 99, metric_family_name: "odd".into(), help: String::new(), unit: "s".into() },
            MetricMetadata { r#type: 2, metric_family_name: String::new(), help: String::new(), unit: String::new() },
        ],
    };

    let decoded = decode_write_request(&encode_write_request(&request), LIMIT).unwrap();

    assert!(decoded.rejections.is_empty());
    let batch = &decoded.batch;
    assert_eq!(batch.series.len(), 2);
    assert_eq!(batch.series[0].labels.to_string(), r#"http_requests_total{job="api"}"#);
    assert_eq!(batch.series[0].samples, vec![oxeye_model::Sample::new(1000, 1.0), oxeye_model::Sample::new(2000, 2.5)]);
    assert_eq!(batch.series[0].exemplars.len(), 1);
    assert_eq!(batch.series[0].exemplars[0].labels, Labels::from_pairs([("trace_id", "abc")]).unwrap());
    assert_eq!(batch.series[0].exemplars[0].timestamp_ms, 1500);
    assert_eq!(batch.series[1].labels.to_string(), "up{}");
    assert_eq!(batch.metadata.len(), 2);
    assert_eq!(batch.metadata[0].metric_family, "http_requests_total");
    assert_eq!(batch.metadata[0].metric_type, MetricType::Counter);
    assert_eq!(batch.metadata[0].help, "Requests.");
    assert_eq!(batch.metadata[1].metric_type, MetricType::Unknown);
    assert_eq!(batch.metadata[1].unit, "s");
}

#[test]
fn bad_series_are_rejected_individually() {
    let f = |labels: &[(&str, &str)], reason: RejectReason, message: &str| {
        let request = WriteRequest {
            timeseries: vec![
                series(&[("__name__", "good_before")], &[(1, 1.0)]),
                series(labels, &[(1, 1.0), (2, 2.0)]),
                series(&[("__name__", "good_after")], &[(1, 1.0)]),
            ],
            metadata: Vec::new(),
        };
        let decoded = decode_write_request(&encode_write_request(&request), LIMIT).unwrap();
        let kept: Vec<String> = decoded.batch.series.iter().map(|s| s.labels.to_string()).collect();
        assert_eq!(kept, ["good_before{}", "good_after{}"], "{labels:?}");
        assert_eq!(decoded.rejections.len(), 1, "{labels:?}");
        let rejection = &decoded.rejections[0];
        assert_eq!(rejection.reason, reason, "{labels:?}");
        assert_eq!(rejection.samples, 2);
        assert_eq!(rejection.message, message);
        assert_eq!(decoded.rejected_samples(), 2);
    };
    f(
        &[("__name__", "m"), ("a", "1"), ("a", "2")],
        RejectReason::DuplicateLabelName,
        r#"series m{a="1", a="2"}: duplicated label name "a""#,
    );
    f(
        &[("__name__", "m"), ("a", ""), ("a", "2")],
        RejectReason::DuplicateLabelName,
        r#"series m{a="", a="2"}: duplicated label name "a""#,
    );
    f(&[("__name__", "m"), ("", "x")], RejectReason::EmptyLabelName, r#"series m{="x"}: empty label name"#);
    f(
        &[("job", "api")],
        RejectReason::MissingMetricName,
        r#"series {job="api"}: missing metric name (no non-empty __name__ label)"#,
    );
    f(
        &[("__name__", ""), ("job", "api")],
        RejectReason::MissingMetricName,
        r#"series {job="api"}: missing metric name (no non-empty __name__ label)"#,
    );
    f(
        &[("__name__", "a"), ("__name__", "b")],
        RejectReason::DuplicateLabelName,
        r#"series a{__name__="b"}: duplicated label name "__name__""#,
    );
}

#[test]
fn series_without_samples_are_dropped() {
    let request = WriteRequest { timeseries: vec![series(&[("__name__", "m")], &[])], metadata: Vec::new() };
    let decoded = decode_write_request(&encode_write_request(&request), LIMIT).unwrap();
    assert!(decoded.batch.series.is_empty());
    assert!(decoded.rejections.is_empty());
}

#[test]
fn whole_request_errors_say_what_was_wrong() {
    let f = |body: &[u8], limit: usize, want: &str| {
        let error = decode_write_request(body, limit).unwrap_err();
        assert_eq!(error.to_string(), want);
    };
    f(b"", LIMIT, "snappy: corrupt input");
    f(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff], LIMIT, "snappy: corrupt input");
    // A header announcing 5 bytes followed by a literal of 2: the header is fine, the data is not.
    f(&[0x05, 0x04, b'a', b'b'], LIMIT, "snappy: corrupt input");

    let request = WriteRequest { timeseries: vec![series(&[("__name__", "m")], &[(1, 1.0)])], metadata: vec![] };
    let body = encode_write_request(&request);
    let size = request.encode_to_vec().len();
    f(&body, size - 1, &format!("snappy: decompressed size {size} exceeds limit {}", size - 1));
    assert!(decode_write_request(&body, size).is_ok());

    let not_protobuf = snap::raw::Encoder::new().compress_vec(&[0x0a, 0x05, 0x01]).unwrap();
    let error = decode_write_request(&not_protobuf, LIMIT).unwrap_err();
    assert!(matches!(error, DecodeError::Protobuf { .. }), "{error:?}");
    assert!(error.to_string().starts_with("protobuf: "), "{error}");
}

#[test]
fn announced_size_is_checked_before_allocating() {
    // A varint header announcing 1 TiB followed by nothing: must fail on the limit, not try to allocate.
    let mut body = Vec::new();
    let mut announced: u64 = 1 << 40;
    while announced >= 0x80 {
        body.push((announced as u8) | 0x80);
        announced >>= 7;
    }
    body.push(announced as u8);
    match decode_write_request(&body, LIMIT) {
        // snap rejects lengths above u32::MAX as corrupt; anything it accepts must hit the limit.
        Err(DecodeError::SnappyCorrupt) => {}
        Err(DecodeError::DecompressedTooLarge { size, limit }) => {
            assert_eq!(size, 1 << 40);
            assert_eq!(limit, LIMIT);
        }
        other => panic!("unexpected {other:?}"),
    }
    let mut body = vec![0x80, 0x80, 0x80, 0x80, 0x0f]; // 0xf000_0000 bytes, within snappy's u32 range
    body.extend_from_slice(b"xx");
    assert_eq!(
        decode_write_request(&body, LIMIT),
        Err(DecodeError::DecompressedTooLarge { size: 0xf000_0000, limit: LIMIT })
    );
}

fn label_name() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_]{0,8}"
}

fn arbitrary_series() -> impl Strategy<Value = TimeSeries> {
    (
        "[a-z_:][a-z0-9_:]{0,10}",
        proptest::collection::btree_map(label_name(), ".{1,6}", 0..4),
        proptest::collection::vec((any::<i64>(), any::<f64>()), 1..4),
    )
        .prop_map(|(metric_name, labels, samples)| {
            let mut all_labels = vec![label("__name__", &metric_name)];
            all_labels.extend(
                labels.into_iter().filter(|(name, _)| name != "__name__").map(|(name, value)| Label { name, value }),
            );
            TimeSeries {
                labels: all_labels,
                samples: samples.into_iter().map(|(timestamp, value)| Sample { value, timestamp }).collect(),
                exemplars: Vec::new(),
            }
        })
}

proptest! {
    #[test]
    fn encode_decode_round_trip(timeseries in proptest::collection::vec(arbitrary_series(), 0..5)) {
        let request = WriteRequest { timeseries: timeseries.clone(), metadata: Vec::new() };
        let decoded = decode_write_request(&encode_write_request(&request), LIMIT).unwrap();
        prop_assert!(decoded.rejections.is_empty());
        prop_assert_eq!(decoded.batch.series.len(), timeseries.len());
        for (got, sent) in decoded.batch.series.iter().zip(&timeseries) {
            let want = Labels::from_pairs(sent.labels.iter().map(|l| (l.name.clone(), l.value.clone()))).unwrap();
            prop_assert_eq!(&got.labels, &want);
            prop_assert_eq!(got.samples.len(), sent.samples.len());
            for (got_sample, sent_sample) in got.samples.iter().zip(&sent.samples) {
                prop_assert_eq!(got_sample.timestamp_ms, sent_sample.timestamp);
                // prost, like any proto3 encoder, omits a zero double, so -0.0 arrives as 0.0.
                if sent_sample.value == 0.0 {
                    prop_assert_eq!(got_sample.value, 0.0);
                } else {
                    prop_assert_eq!(got_sample.value.to_bits(), sent_sample.value.to_bits());
                }
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_write_request(&body, 1 << 16);
        let compressed = snap::raw::Encoder::new().compress_vec(&body).unwrap();
        let _ = decode_write_request(&compressed, 1 << 16);
    }
}
