use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use oxeye_model::{AttrValue, SpanKind, StatusCode};
use prost::Message;

use super::*;

fn string_kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(value.into())) }),
        ..Default::default()
    }
}

fn proto_span(trace_id: Vec<u8>, span_id: Vec<u8>, name: &str) -> Span {
    Span {
        trace_id,
        span_id,
        name: name.into(),
        kind: 3,
        start_time_unix_nano: 1_000,
        end_time_unix_nano: 5_000,
        status: Some(Status { code: 2, message: "boom".into() }),
        events: vec![span::Event {
            time_unix_nano: 2_000,
            name: "exception".into(),
            attributes: vec![string_kv("exception.type", "ValueError")],
            dropped_attributes_count: 0,
        }],
        ..Default::default()
    }
}

fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource { attributes: vec![string_kv("service.name", "checkout")], ..Default::default() }),
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            schema_url: String::new(),
        }],
    }
}

#[test]
fn protobuf_spans_keep_every_field_and_share_their_resource() {
    let body =
        request(vec![proto_span(vec![1; 16], vec![2; 8], "GET /cart"), proto_span(vec![1; 16], vec![3; 8], "db")])
            .encode_to_vec();
    let decoded = decode_protobuf(&body).unwrap();
    assert!(decoded.rejections.is_empty());
    let spans = &decoded.batch.spans;
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[0].name, "GET /cart");
    assert_eq!(spans[0].kind, SpanKind::Client);
    assert_eq!(spans[0].status_code, StatusCode::Error);
    assert_eq!(spans[0].status_message, "boom");
    assert_eq!(spans[0].duration_ns(), 4_000);
    assert!(spans[0].is_root());
    assert_eq!(spans[0].events[0].attributes[0].value, AttrValue::Str("ValueError".into()));
    assert_eq!(spans[0].service_name(), "checkout");
    assert!(std::sync::Arc::ptr_eq(&spans[0].resource, &spans[1].resource));
}

#[test]
fn spans_with_bad_ids_are_refused_one_by_one() {
    let body = request(vec![
        proto_span(vec![1; 16], vec![2; 8], "good"),
        proto_span(vec![0; 16], vec![2; 8], "zero trace"),
        proto_span(vec![1; 8], vec![2; 8], "short trace"),
        proto_span(vec![1; 16], vec![], "no span id"),
        Span { parent_span_id: vec![1, 2, 3], ..proto_span(vec![1; 16], vec![4; 8], "bad parent") },
    ])
    .encode_to_vec();
    let decoded = decode_protobuf(&body).unwrap();
    assert_eq!(decoded.batch.spans.len(), 1);
    assert_eq!(decoded.rejected_spans(), 4);
    let trace_ids = decoded.rejections.iter().find(|r| r.reason == SpanRejectReason::InvalidTraceId).unwrap();
    assert_eq!(trace_ids.spans, 2);
    assert!(trace_ids.message.contains("\"zero trace\""), "{}", trace_ids.message);
    assert!(decoded.error_message().contains("1 span(s) refused"), "{}", decoded.error_message());
}

#[test]
fn the_conformance_example_decodes() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/conformance/otlp/trace.json");
    let body = std::fs::read(path).expect("conformance trace.json");
    let decoded = decode_json(&body).unwrap();
    assert!(decoded.rejections.is_empty(), "{:?}", decoded.rejections);
    assert!(!decoded.batch.spans.is_empty());
    let server = &decoded.batch.spans[0];
    assert_eq!(server.trace_id.to_hex(), "5b8efff798038103d269b633813fc60c");
    assert_eq!(server.parent_span_id.to_hex(), "eee19b7ec3c1b173");
    assert_eq!(server.kind, SpanKind::Server);
    assert_eq!(server.service_name(), "my.service");
    assert_eq!(server.scope.name, "my.library");
    assert_eq!(server.start_ns, 1_544_712_660_000_000_000);
    assert_eq!(server.attribute("my.span.attr"), Some(&AttrValue::Str("some value".into())));
}

#[test]
fn snake_case_json_with_enum_names_and_string_integers_decodes() {
    let body =
        br#"{"resource_spans":[{"resource":{"attributes":[{"key":"service.name","value":{"string_value":"api"}}]},
        "scope_spans":[{"spans":[{"trace_id":"0102030405060708090a0b0c0d0e0f10","span_id":"0102030405060708",
        "name":"op","kind":"SPAN_KIND_PRODUCER","start_time_unix_nano":"10","end_time_unix_nano":"20",
        "status":{"code":"STATUS_CODE_ERROR"},"dropped_events_count":"3",
        "attributes":[{"key":"n","value":{"int_value":"42"}},{"key":"d","value":{"double_value":1.5}},
        {"key":"arr","value":{"array_value":{"values":[{"bool_value":true}]}}}]}]}]}]}"#;
    let decoded = decode_json(body).unwrap();
    let span = &decoded.batch.spans[0];
    assert_eq!(span.kind, SpanKind::Producer);
    assert_eq!(span.status_code, StatusCode::Error);
    assert_eq!(span.dropped_events_count, 3);
    assert_eq!(span.end_ns, 20);
    assert_eq!(span.service_name(), "api");
    assert_eq!(span.attribute("n"), Some(&AttrValue::Int(42)));
    assert_eq!(span.attribute("d"), Some(&AttrValue::Double(1.5)));
    assert_eq!(span.attribute("arr"), Some(&AttrValue::Array(vec![AttrValue::Bool(true)])));
}

#[test]
fn unreadable_bodies_fail_with_the_layer_named() {
    assert!(matches!(decode_protobuf(b"\xff\xff\xff"), Err(DecodeError::Protobuf { .. })));
    let error = decode_json(b"{\"resourceSpans\": 3}").unwrap_err();
    assert!(error.to_string().starts_with("json: "), "{error}");
}

#[test]
fn spans_round_trip_through_otlp_grouped_by_resource_and_scope() {
    let mut with_links = proto_span(vec![1; 16], vec![5; 8], "linked");
    with_links.links = vec![span::Link { trace_id: vec![7; 16], span_id: vec![8; 8], ..Default::default() }];
    with_links.parent_span_id = vec![2; 8];
    with_links.attributes = vec![
        string_kv("s", "v"),
        KeyValue {
            key: "list".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::KvlistValue(opentelemetry_proto::tonic::common::v1::KeyValueList {
                    values: vec![string_kv("inner", "x")],
                })),
            }),
            ..Default::default()
        },
    ];
    let original = request(vec![proto_span(vec![1; 16], vec![2; 8], "root"), with_links]);
    let decoded = translate(original.clone());
    let encoded = to_request(&decoded.batch.spans);
    assert_eq!(encoded.resource_spans.len(), 1);
    assert_eq!(encoded.resource_spans[0].scope_spans.len(), 1);
    let again = translate(encoded);
    assert_eq!(again.batch.spans, decoded.batch.spans);
    assert_eq!(again.batch.spans[1].links[0].span_id.0, [8; 8]);
}
