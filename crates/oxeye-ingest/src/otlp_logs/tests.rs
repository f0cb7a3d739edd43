use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value::Value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use oxeye_model::{Label, Labels};
use proptest::prelude::*;
use prost::Message;

use super::*;
use crate::LogRejectReason;

const NOW: i64 = 1_800_000_000_000_000_000;

fn string(text: &str) -> Option<AnyValue> {
    Some(AnyValue { value: Some(Value::StringValue(text.into())) })
}

fn attribute(key: &str, value: Option<AnyValue>) -> KeyValue {
    KeyValue { key: key.into(), value, ..Default::default() }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).unwrap()
}

fn meta(pairs: &[(&str, &str)]) -> Vec<Label> {
    pairs.iter().map(|(name, value)| Label::new(*name, *value)).collect()
}

fn request(resources: Vec<(Vec<KeyValue>, Vec<LogRecord>)>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: resources
            .into_iter()
            .map(|(attributes, records)| ResourceLogs {
                resource: Some(Resource { attributes, ..Default::default() }),
                scope_logs: vec![ScopeLogs { log_records: records, ..Default::default() }],
                ..Default::default()
            })
            .collect(),
    }
}

#[test]
fn resource_attributes_split_into_labels_and_metadata() {
    let record = LogRecord {
        time_unix_nano: 10,
        observed_time_unix_nano: 20,
        severity_number: 13,
        severity_text: "WARN".into(),
        body: string("disk full"),
        attributes: vec![
            attribute("http.method", string("GET")),
            attribute(
                "http",
                Some(AnyValue {
                    value: Some(Value::KvlistValue(KeyValueList {
                        values: vec![attribute("status.code", Some(AnyValue { value: Some(Value::IntValue(500)) }))],
                    })),
                }),
            ),
            attribute("event_name", string("shadowed")),
        ],
        dropped_attributes_count: 2,
        flags: 1,
        trace_id: (1..=16).collect(),
        span_id: vec![0xab; 8],
        event_name: "disk.event".into(),
    };
    let decoded = translate(
        request(vec![(
            vec![
                attribute("service.name", string("checkout")),
                attribute("k8s.pod.name", string("checkout-1")),
                attribute("deployment.environment", string("")),
                attribute("host.name", string("node-1")),
            ],
            vec![record],
        )]),
        NOW,
    );
    assert!(decoded.rejections.is_empty(), "{:?}", decoded.rejections);
    let stream = &decoded.batch.streams[0];
    assert_eq!(stream.labels, labels(&[("k8s_pod_name", "checkout-1"), ("service_name", "checkout")]));
    let entry = &stream.entries[0];
    assert_eq!(entry.timestamp_ns, 10);
    assert_eq!(entry.line, "disk full");
    assert_eq!(
        entry.metadata,
        meta(&[
            ("http_method", "GET"),
            ("http_status_code", "500"),
            ("observed_timestamp", "20"),
            ("severity_number", "13"),
            ("severity_text", "WARN"),
            ("dropped_attributes_count", "2"),
            ("flags", "1"),
            ("trace_id", "0102030405060708090a0b0c0d0e0f10"),
            ("span_id", "abababababababab"),
            ("event_name", "disk.event"),
            ("host_name", "node-1"),
            ("detected_level", "warn"),
        ])
    );
}

#[test]
fn service_name_discovery_and_grouping() {
    let record = |time: u64, observed: u64, body: Option<AnyValue>| LogRecord {
        time_unix_nano: time,
        observed_time_unix_nano: observed,
        body,
        ..Default::default()
    };
    let decoded = translate(
        request(vec![
            (vec![attribute("k8s.container.name", string("nginx"))], vec![record(0, 7, string("a"))]),
            (vec![attribute("k8s.container.name", string("nginx"))], vec![record(0, 0, None)]),
            (vec![attribute("app", string("not-indexed"))], vec![record(5, 0, string("c"))]),
        ]),
        NOW,
    );
    let streams = &decoded.batch.streams;
    assert_eq!(streams.len(), 2);
    assert_eq!(streams[0].labels, labels(&[("k8s_container_name", "nginx"), ("service_name", "nginx")]));
    assert_eq!(streams[0].entries[0].timestamp_ns, 7);
    assert_eq!(streams[0].entries[1].timestamp_ns, NOW);
    assert_eq!(streams[0].entries[1].line, "");
    assert_eq!(streams[1].labels, labels(&[("service_name", "unknown_service")]));
    assert_eq!(streams[1].entries[0].metadata_value("app"), Some("not-indexed"));
}

#[test]
fn bodies_render_like_pdata_as_string() {
    let f = |body: Value, want: &str| {
        let record = LogRecord { time_unix_nano: 1, body: Some(AnyValue { value: Some(body) }), ..Default::default() };
        let decoded = translate(request(vec![(vec![], vec![record])]), NOW);
        assert_eq!(decoded.batch.streams[0].entries[0].line, want);
    };
    f(Value::IntValue(42), "42");
    f(Value::BoolValue(true), "true");
    f(Value::BytesValue(b"hi".to_vec()), "aGk=");
    f(
        Value::KvlistValue(KeyValueList {
            values: vec![
                attribute("z", string("<1>")),
                attribute("a", Some(AnyValue { value: Some(Value::DoubleValue(1.5)) })),
            ],
        }),
        r#"{"a":1.5,"z":"\u003c1\u003e"}"#,
    );
    f(Value::ArrayValue(ArrayValue { values: vec![string("x").unwrap(), AnyValue { value: None }] }), r#"["x",null]"#);
}

#[test]
fn scope_fields_and_bad_records() {
    let scope = InstrumentationScope {
        name: "lib".into(),
        version: "1.2".into(),
        attributes: vec![attribute("scope.attr", string("s")), attribute("http_method", string("scope-loses"))],
        dropped_attributes_count: 3,
    };
    let good = LogRecord {
        time_unix_nano: 1,
        attributes: vec![attribute("http.method", string("GET"))],
        ..Default::default()
    };
    let bad_key =
        LogRecord { time_unix_nano: 2, attributes: vec![attribute("...", string("x"))], ..Default::default() };
    let bad_trace = LogRecord { time_unix_nano: 3, trace_id: vec![1, 2, 3], ..Default::default() };
    let request = ExportLogsServiceRequest {
        resource_logs: vec![
            ResourceLogs {
                resource: None,
                scope_logs: vec![ScopeLogs {
                    scope: Some(scope),
                    log_records: vec![good, bad_key, bad_trace],
                    ..Default::default()
                }],
                ..Default::default()
            },
            ResourceLogs {
                resource: Some(Resource { attributes: vec![attribute("", string("v"))], ..Default::default() }),
                scope_logs: vec![ScopeLogs { log_records: vec![LogRecord::default(); 2], ..Default::default() }],
                ..Default::default()
            },
        ],
    };
    let decoded = translate(request, NOW);
    assert_eq!(decoded.batch.entry_count(), 1);
    assert_eq!(
        decoded.batch.streams[0].entries[0].metadata,
        meta(&[
            ("http_method", "GET"),
            ("scope_attr", "s"),
            ("scope_name", "lib"),
            ("scope_version", "1.2"),
            ("scope_dropped_attributes_count", "3"),
            ("detected_level", "unknown"),
        ])
    );
    let messages: Vec<&str> = decoded.rejections.iter().map(|rejection| rejection.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            r#"resourceLogs[0].scopeLogs[0].logRecords[1]: attribute "...": normalization for label name "..." resulted in invalid name "_""#,
            "resourceLogs[0].scopeLogs[0].logRecords[2]: trace_id must be 16 bytes, got 3",
            r#"resourceLogs[1]: resource attribute "": label name is empty"#,
        ]
    );
    assert_eq!(decoded.rejections[2].reason, LogRejectReason::InvalidLabels);
    assert_eq!(decoded.rejected_entries(), 4);
    let partial = partial_success(&decoded).unwrap();
    assert_eq!(partial.rejected_log_records, 4);
    assert!(partial.error_message.contains("; "), "{}", partial.error_message);
    assert_eq!(partial_success(&DecodedLogs::default()), None);
}

#[test]
fn json_snake_case_and_camel_case_decode_alike() {
    let camel = r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},
        "scopeLogs":[{"scope":{"name":"lib"},"logRecords":[{"timeUnixNano":"5","observedTimeUnixNano":6,
        "severityNumber":9,"severityText":"INFO","body":{"stringValue":"hello"},"flags":1,"droppedAttributesCount":2,
        "traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"eee19b7ec3c1b174",
        "attributes":[{"key":"a","value":{"intValue":"3"}}]}]}]}]}"#;
    let snake = r#"{"resource_logs":[{"resource":{"attributes":[{"key":"service.name","value":{"string_value":"svc"}}]},
        "scope_logs":[{"scope":{"name":"lib"},"log_records":[{"time_unix_nano":5,"observed_time_unix_nano":"6",
        "severity_number":"SEVERITY_NUMBER_INFO","severity_text":"INFO","body":{"string_value":"hello"},"flags":"1",
        "dropped_attributes_count":"2","trace_id":"5b8efff798038103d269b633813fc60c","span_id":"EEE19B7EC3C1B174",
        "attributes":[{"key":"a","value":{"int_value":3}}]}]}]}]}"#;
    let from_camel = decode_json_request(camel.as_bytes()).unwrap();
    let from_snake = decode_json_request(snake.as_bytes()).unwrap();
    assert_eq!(from_camel, from_snake);
    let decoded = decode_json(camel.as_bytes(), NOW).unwrap();
    let entry = &decoded.batch.streams[0].entries[0];
    assert_eq!(entry.line, "hello");
    assert_eq!(entry.metadata_value("trace_id"), Some("5b8efff798038103d269b633813fc60c"));
    assert_eq!(entry.metadata_value("severity_number"), Some("9"));
    assert_eq!(entry.metadata_value("a"), Some("3"));
    assert_eq!(entry.metadata_value("detected_level"), Some("info"));
    // The protobuf form of the same request translates identically.
    let protobuf = decode_protobuf(&from_camel.encode_to_vec(), NOW).unwrap();
    assert_eq!(protobuf, decoded);
}

#[test]
fn unreadable_bodies_fail() {
    let f = |body: &str| {
        let error = decode_json(body.as_bytes(), NOW).unwrap_err();
        assert!(error.to_string().starts_with("json: "), "{body}: {error}");
    };
    f("");
    f("{");
    f(r#"{"resourceLogs":3}"#);
    f(r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"x"}]}]}]}"#);
    f(r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"zz"}]}]}]}"#);
    f(r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":"LOUD"}]}]}]}"#);
    assert!(decode_protobuf(&[0x0a, 0x05, 0x01], NOW).unwrap_err().to_string().starts_with("protobuf: "));
}

/// The OTLP example request of `opentelemetry-proto` (`examples/logs.json`), if the conformance files are present.
#[test]
fn conformance_sample_maps_like_loki() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/conformance/otlp/logs.json");
    let Ok(body) = std::fs::read(path) else {
        println!("skipping: {path} not found");
        return;
    };
    let decoded = decode_json(&body, NOW).unwrap();
    assert!(decoded.rejections.is_empty(), "{:?}", decoded.rejections);
    assert_eq!(decoded.batch.streams.len(), 1);
    let stream = &decoded.batch.streams[0];
    assert_eq!(stream.labels, labels(&[("service_name", "my.service")]));
    assert_eq!(stream.entries.len(), 1);
    let entry = &stream.entries[0];
    assert_eq!(entry.timestamp_ns, 1_544_712_660_300_000_000);
    assert_eq!(entry.line, "Example log record");
    assert_eq!(
        entry.metadata,
        meta(&[
            ("string_attribute", "some string"),
            ("boolean_attribute", "true"),
            ("int_attribute", "10"),
            ("double_attribute", "637.704"),
            ("array_attribute", r#"["many","values"]"#),
            ("map_attribute_some_map_key", "some value"),
            ("observed_timestamp", "1544712660300000000"),
            ("severity_number", "10"),
            ("severity_text", "Information"),
            ("trace_id", "5b8efff798038103d269b633813fc60c"),
            ("span_id", "eee19b7ec3c1b174"),
            ("my_scope_attribute", "some scope attribute"),
            ("scope_name", "my.library"),
            ("scope_version", "1.0.0"),
            ("detected_level", "info"),
        ])
    );
    println!("conformance/otlp/logs.json: 1/1 records mapped");
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_protobuf(&body, NOW);
        let _ = decode_json(&body, NOW);
    }

    #[test]
    fn arbitrary_attributes_never_panic(key in ".{0,12}", value in ".{0,12}", body in ".{0,24}") {
        let record = LogRecord {
            body: string(&body),
            attributes: vec![attribute(&key, string(&value))],
            ..Default::default()
        };
        let decoded = translate(request(vec![(vec![attribute(&key, string(&value))], vec![record])]), NOW);
        prop_assert_eq!(decoded.batch.entry_count() + decoded.rejected_entries(), 1);
    }
}

#[test]
fn snake_case_keys_send_the_body_down_the_normalising_path() {
    use crate::otlp_json::has_snake_case_key;
    assert!(!has_snake_case_key(br#"{"resourceLogs":[{"scopeLogs":[],"x":"a_b"}]}"#));
    assert!(has_snake_case_key(br#"{"resource_logs":[]}"#));
    assert!(has_snake_case_key(br#"{"a" : {"time_unix_nano" :"1"}}"#));
    assert!(!has_snake_case_key(br#"{"k":"escaped \" quote_with underscore: x"}"#));
    assert!(has_snake_case_key(br#"{"unterminated"#));
}
