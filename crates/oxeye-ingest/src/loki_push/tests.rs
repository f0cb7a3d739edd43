use oxeye_model::{Label, Labels, LogEntry};
use proptest::prelude::*;

use super::*;
use crate::LogRejectReason;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).unwrap()
}

fn meta(pairs: &[(&str, &str)]) -> Vec<Label> {
    pairs.iter().map(|(name, value)| Label::new(*name, *value)).collect()
}

#[test]
fn json_push_decodes_streams_entries_and_metadata() {
    let body = br#"{"streams":[
        {"stream":{"job":"api","env":"prod","empty":""},"values":[
            ["1700000000000000001","level=info msg=hello"],
            ["1700000000000000002","oops",{"trace.id":"abc","user":"u1"}],
            null
        ]},
        {"stream":{"job":"api","env":"prod"},"values":[["3","merged"]]},
        {"stream":{"app":"web"},"values":[]},
        {"stream":{"__aggregated_metric__":"x"},"values":[["4","m"]]}
    ],"extra":1}"#;
    let decoded = decode_json(body).unwrap();
    assert!(decoded.rejections.is_empty(), "{:?}", decoded.rejections);
    let streams = &decoded.batch.streams;
    assert_eq!(streams.len(), 2);
    assert_eq!(streams[0].labels, labels(&[("env", "prod"), ("job", "api"), ("service_name", "api")]));
    assert_eq!(
        streams[0].entries,
        vec![
            LogEntry {
                timestamp_ns: 1_700_000_000_000_000_001,
                line: "level=info msg=hello".into(),
                metadata: meta(&[("detected_level", "info")]),
            },
            LogEntry {
                timestamp_ns: 1_700_000_000_000_000_002,
                line: "oops".into(),
                metadata: meta(&[("trace_id", "abc"), ("user", "u1"), ("detected_level", "unknown")]),
            },
            LogEntry { timestamp_ns: 3, line: "merged".into(), metadata: meta(&[("detected_level", "unknown")]) },
        ]
    );
    // Internal streams do not get a service_name.
    assert_eq!(streams[1].labels, labels(&[("__aggregated_metric__", "x")]));
}

#[test]
fn json_empty_label_set_gets_unknown_service() {
    let decoded = decode_json(br#"{"streams":[{"stream":{},"values":[["1","a"]]},{"values":[["2","b"]]}]}"#).unwrap();
    assert_eq!(decoded.batch.streams.len(), 1);
    assert_eq!(decoded.batch.streams[0].labels, labels(&[("service_name", "unknown_service")]));
    assert_eq!(decoded.batch.entry_count(), 2);
    assert!(decode_json(b"{}").unwrap().batch.is_empty());
    assert!(decode_json(br#"{"streams":null}"#).unwrap().batch.is_empty());
}

#[test]
fn json_bad_streams_are_refused_one_by_one() {
    let f = |stream: &str, reason: LogRejectReason, entries: usize, want_message: &str| {
        let body = format!(r#"{{"streams":[{stream},{{"stream":{{"job":"ok"}},"values":[["1","kept"]]}}]}}"#);
        let decoded = decode_json(body.as_bytes()).unwrap();
        assert_eq!(decoded.batch.entry_count(), 1, "{stream}");
        assert_eq!(decoded.rejections.len(), 1, "{stream}");
        let rejection = &decoded.rejections[0];
        assert_eq!(rejection.reason, reason, "{stream}: {}", rejection.message);
        assert_eq!(rejection.entries, entries, "{stream}");
        assert_eq!(rejection.message, want_message, "{stream}");
    };
    f(
        r#"{"stream":{"a.b":"x"},"values":[["1","l"]]}"#,
        LogRejectReason::InvalidLabels,
        1,
        r#"streams[0]: error parsing labels '{a.b="x"}' with error: invalid label name "a.b""#,
    );
    f(
        r#"{"stream":{"a":"x"},"values":[["1","l"],[2,"l"]]}"#,
        LogRejectReason::InvalidEntry,
        2,
        r#"streams[0] {a="x"}: values[1]: timestamp must be a string of Unix nanoseconds, got a number"#,
    );
    f(
        r#"{"stream":{"a":"x"},"values":[["1.5","l"]]}"#,
        LogRejectReason::InvalidEntry,
        1,
        r#"streams[0] {a="x"}: values[0]: timestamp "1.5" is not an integer number of nanoseconds"#,
    );
    f(
        r#"{"stream":{"a":"x"},"values":[["1",5]]}"#,
        LogRejectReason::InvalidEntry,
        1,
        r#"streams[0] {a="x"}: values[0]: line must be a string, got a number"#,
    );
    f(
        r#"{"stream":{"a":"x"},"values":[["1","l",{"m":1}]]}"#,
        LogRejectReason::InvalidEntry,
        1,
        r#"streams[0] {a="x"}: values[0]: structured metadata: value of "m" must be a string, got a number"#,
    );
    f(
        r#"{"stream":{"a":"x"},"values":[["1","l",{"...":"v"}]]}"#,
        LogRejectReason::InvalidEntry,
        1,
        r#"streams[0] {a="x"}: entries[0]: structured metadata name "..." is invalid: normalization for label name "..." resulted in invalid name "_""#,
    );
    f(
        r#"{"stream":{"a":1},"values":[["1","l"]]}"#,
        LogRejectReason::InvalidEntry,
        1,
        r#"streams[0] {}: stream: value of "a" must be a string, got a number"#,
    );
    f(
        r#"{"stream":{"a":"x"},"values":[[]]}"#,
        LogRejectReason::InvalidEntry,
        1,
        r#"streams[0] {a="x"}: values[0]: an entry needs at least a timestamp and a line"#,
    );
    f(
        r#"{"stream":{"a":"x"},"values":{"k":1}}"#,
        LogRejectReason::InvalidEntry,
        0,
        r#"streams[0] {a="x"}: values: expected an array, got an object"#,
    );
}

#[test]
fn json_lenient_where_loki_is() {
    // A repeated label keeps its last value; elements after the third are ignored; a null line is empty.
    let body = br#"{"streams":[{"stream":{"a":"1","a":"2"},"values":[["5",null],["6","x",{},"ignored"]]}]}"#;
    let decoded = decode_json(body).unwrap();
    assert!(decoded.rejections.is_empty(), "{:?}", decoded.rejections);
    let stream = &decoded.batch.streams[0];
    assert_eq!(stream.labels.get("a"), Some("2"));
    assert_eq!(stream.entries[0].line, "");
    assert_eq!(stream.entries[1].line, "x");
}

#[test]
fn json_invalid_utf8_is_replaced() {
    let mut body = br#"{"streams":[{"stream":{"a":"x"},"values":[["1","bad "#.to_vec();
    body.push(0xff);
    body.extend_from_slice(br#" byte",{"m":"v"#);
    body.push(0xfe);
    body.extend_from_slice(br#""}]]}]}"#);
    let decoded = decode_json(&body).unwrap();
    let entry = &decoded.batch.streams[0].entries[0];
    assert_eq!(entry.line, "bad \u{fffd} byte");
    assert_eq!(entry.metadata_value("m"), Some("v "));
}

#[test]
fn json_unreadable_bodies_fail() {
    let f = |body: &str| {
        let error = decode_json(body.as_bytes()).unwrap_err();
        assert!(error.to_string().starts_with("json: "), "{body}: {error}");
    };
    f("");
    f("[]");
    f(r#"{"streams":{}}"#);
    f(r#"{"streams":[1]}"#);
    f(r#"{"streams":[{"values":[["1","a"]]}"#);
}

fn entry(seconds: i64, nanos: i32, line: &[u8], metadata: &[(&[u8], &[u8])]) -> EntryAdapter {
    EntryAdapter {
        timestamp: Some(Timestamp { seconds, nanos }),
        line: line.to_vec(),
        structured_metadata: metadata
            .iter()
            .map(|(name, value)| LabelPairAdapter { name: name.to_vec(), value: value.to_vec() })
            .collect(),
    }
}

fn stream(selector: &[u8], entries: Vec<EntryAdapter>) -> StreamAdapter {
    StreamAdapter { labels: selector.to_vec(), entries, hash: 0 }
}

#[test]
fn protobuf_push_round_trip() {
    let request = PushRequest {
        streams: vec![
            stream(
                br#"{app="web", env="dev"}"#,
                vec![
                    entry(1_700_000_000, 5, b"GET / 200", &[(b"trace_id", b"0af7651916cd43dd8448eb211c80319c")]),
                    entry(1_700_000_001, 0, b"bad \xff", &[(b"k", b"\xffv")]),
                ],
            ),
            stream(br#"{ env = "dev" , app = 'web' , }"#, vec![entry(1, 0, b"same stream", &[])]),
            stream(b"{}", vec![EntryAdapter { timestamp: None, line: b"epoch".to_vec(), structured_metadata: vec![] }]),
        ],
    };
    let decoded = decode_protobuf_snappy(&encode_protobuf_snappy(&request), 1 << 20).unwrap();
    assert!(decoded.rejections.is_empty(), "{:?}", decoded.rejections);
    let streams = &decoded.batch.streams;
    assert_eq!(streams.len(), 2);
    assert_eq!(streams[0].labels, labels(&[("app", "web"), ("env", "dev"), ("service_name", "web")]));
    assert_eq!(streams[0].entries.len(), 3);
    assert_eq!(streams[0].entries[0].timestamp_ns, 1_700_000_000_000_000_005);
    assert_eq!(
        streams[0].entries[0].metadata,
        meta(&[("trace_id", "0af7651916cd43dd8448eb211c80319c"), ("detected_level", "unknown")])
    );
    assert_eq!(streams[0].entries[1].line, "bad \u{fffd}");
    assert_eq!(streams[0].entries[1].metadata_value("k"), Some(" v"));
    assert_eq!(streams[0].entries[2].line, "same stream");
    assert_eq!(streams[1].labels, labels(&[("service_name", "unknown_service")]));
    assert_eq!(streams[1].entries[0].timestamp_ns, 0);
}

#[test]
fn protobuf_bad_streams_are_refused_one_by_one() {
    let f = |selector: &[u8], entries: Vec<EntryAdapter>, reason: LogRejectReason, want_message: &str| {
        let request = PushRequest {
            streams: vec![stream(selector, entries), stream(br#"{job="ok"}"#, vec![entry(1, 0, b"kept", &[])])],
        };
        let decoded = decode_protobuf_snappy(&encode_protobuf_snappy(&request), 1 << 20).unwrap();
        assert_eq!(decoded.batch.entry_count(), 1);
        assert_eq!(decoded.rejections.len(), 1);
        assert_eq!(decoded.rejections[0].reason, reason, "{}", decoded.rejections[0].message);
        assert_eq!(decoded.rejections[0].message, want_message);
        assert_eq!(decoded.rejected_entries(), 1);
    };
    let one = || vec![entry(1, 0, b"x", &[])];
    f(
        br#"{a="b", a="c"}"#,
        one(),
        LogRejectReason::DuplicateLabelNames,
        r#"streams[0]: stream '{a="b", a="c"}' has duplicate label name: 'a'"#,
    );
    f(
        br#"{a="b" c="d"}"#,
        one(),
        LogRejectReason::InvalidLabels,
        r#"streams[0]: error parsing labels '{a="b" c="d"}' with error: unexpected 'c' at offset 7, expected "," or "}""#,
    );
    f(
        b"{a=\"\xff\"}",
        one(),
        LogRejectReason::InvalidLabels,
        "streams[0]: error parsing labels '{a=\"\u{fffd}\"}' with error: invalid UTF-8",
    );
    f(
        br#"{a="b"}"#,
        vec![entry(i64::MAX, 0, b"x", &[])],
        LogRejectReason::InvalidEntry,
        r#"streams[0] {a="b"}: entries[0]: timestamp 9223372036854775807s 0ns is out of range"#,
    );
    f(
        br#"{a="b"}"#,
        vec![entry(1, 0, b"x", &[(b"", b"v")])],
        LogRejectReason::InvalidEntry,
        r#"streams[0] {a="b"}: entries[0]: structured metadata name "" is invalid: label name is empty"#,
    );
}

#[test]
fn protobuf_unreadable_bodies_fail() {
    assert_eq!(decode_protobuf_snappy(b"\xff\xff\xff", 1 << 20).unwrap_err(), DecodeError::SnappyCorrupt);
    let big =
        encode_protobuf_snappy(&PushRequest { streams: vec![stream(b"{}", vec![entry(1, 0, &[b'x'; 100], &[])])] });
    assert!(matches!(decode_protobuf_snappy(&big, 10).unwrap_err(), DecodeError::DecompressedTooLarge { .. }));
    let not_protobuf = snap::raw::Encoder::new().compress_vec(&[0x0a, 0x05, 0x01]).unwrap();
    assert!(decode_protobuf_snappy(&not_protobuf, 1 << 20).unwrap_err().to_string().starts_with("protobuf: "));
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_json(&body);
        let _ = decode_protobuf_snappy(&body, 1 << 20);
        let compressed = snap::raw::Encoder::new().compress_vec(&body).unwrap();
        let _ = decode_protobuf_snappy(&compressed, 1 << 20);
    }

    #[test]
    fn arbitrary_json_shapes_never_panic(
        selector in "\\{[a-z_=\"', `\\\\x]{0,20}\\}",
        timestamp in "[0-9-]{0,22}",
        line in ".{0,20}",
    ) {
        let body = serde_json::json!({"streams":[{"stream":{"a": selector.clone()},"values":[[timestamp.clone(), line.clone(), {"k": line.clone()}]]}]});
        let _ = decode_json(body.to_string().as_bytes());
        let request = PushRequest { streams: vec![stream(selector.as_bytes(), vec![entry(1, 0, line.as_bytes(), &[])])] };
        let _ = decode_protobuf_snappy(&encode_protobuf_snappy(&request), 1 << 20);
    }
}
