//! Traces in the JSON Tempo writes: its protobuf messages through Go's `jsonpb` (lowerCamelCase names, 64-bit
//! integers as strings, enums by name, `bytes` — trace and span ids — in standard base64, default values omitted).

use base64::Engine as _;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, Span, span};
use oxeye_model::{AttrValue, SpanKind, StatusCode};
use serde_json::{Map, Value, json};

fn base64(bytes: &[u8]) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// `resourceSpans` (v2 and OTLP) or `batches` (Tempo's v1 API) holding every resource group.
pub(crate) fn trace_json(request: &ExportTraceServiceRequest, field: &str) -> Value {
    let mut object = Map::new();
    if !request.resource_spans.is_empty() {
        object.insert(field.to_string(), Value::Array(request.resource_spans.iter().map(resource_spans).collect()));
    }
    Value::Object(object)
}

fn resource_spans(group: &ResourceSpans) -> Value {
    let mut object = Map::new();
    if let Some(resource) = &group.resource {
        let mut fields = Map::new();
        insert_attributes(&mut fields, &resource.attributes);
        insert_nonzero(&mut fields, "droppedAttributesCount", resource.dropped_attributes_count);
        object.insert("resource".into(), Value::Object(fields));
    }
    let scopes: Vec<Value> = group
        .scope_spans
        .iter()
        .map(|scope_spans| {
            let mut fields = Map::new();
            if let Some(scope) = &scope_spans.scope {
                let mut scope_fields = Map::new();
                insert_string(&mut scope_fields, "name", &scope.name);
                insert_string(&mut scope_fields, "version", &scope.version);
                insert_attributes(&mut scope_fields, &scope.attributes);
                fields.insert("scope".into(), Value::Object(scope_fields));
            }
            fields.insert("spans".into(), Value::Array(scope_spans.spans.iter().map(span_json).collect()));
            Value::Object(fields)
        })
        .collect();
    object.insert("scopeSpans".into(), Value::Array(scopes));
    Value::Object(object)
}

fn span_json(span: &Span) -> Value {
    let mut object = Map::new();
    object.insert("traceId".into(), base64(&span.trace_id));
    object.insert("spanId".into(), base64(&span.span_id));
    insert_string(&mut object, "traceState", &span.trace_state);
    if !span.parent_span_id.is_empty() {
        object.insert("parentSpanId".into(), base64(&span.parent_span_id));
    }
    insert_nonzero(&mut object, "flags", span.flags);
    insert_string(&mut object, "name", &span.name);
    if span.kind != 0 {
        object.insert("kind".into(), json!(SpanKind::from_i32(span.kind).otlp_name()));
    }
    object.insert("startTimeUnixNano".into(), json!(span.start_time_unix_nano.to_string()));
    object.insert("endTimeUnixNano".into(), json!(span.end_time_unix_nano.to_string()));
    insert_attributes(&mut object, &span.attributes);
    insert_nonzero(&mut object, "droppedAttributesCount", span.dropped_attributes_count);
    if !span.events.is_empty() {
        object.insert("events".into(), Value::Array(span.events.iter().map(event_json).collect()));
    }
    insert_nonzero(&mut object, "droppedEventsCount", span.dropped_events_count);
    if !span.links.is_empty() {
        object.insert("links".into(), Value::Array(span.links.iter().map(link_json).collect()));
    }
    insert_nonzero(&mut object, "droppedLinksCount", span.dropped_links_count);
    let mut status = Map::new();
    if let Some(proto_status) = &span.status {
        insert_string(&mut status, "message", &proto_status.message);
        if proto_status.code != 0 {
            status.insert("code".into(), json!(StatusCode::from_i32(proto_status.code).otlp_name()));
        }
    }
    object.insert("status".into(), Value::Object(status));
    Value::Object(object)
}

fn event_json(event: &span::Event) -> Value {
    let mut object = Map::new();
    object.insert("timeUnixNano".into(), json!(event.time_unix_nano.to_string()));
    insert_string(&mut object, "name", &event.name);
    insert_attributes(&mut object, &event.attributes);
    insert_nonzero(&mut object, "droppedAttributesCount", event.dropped_attributes_count);
    Value::Object(object)
}

fn link_json(link: &span::Link) -> Value {
    let mut object = Map::new();
    object.insert("traceId".into(), base64(&link.trace_id));
    object.insert("spanId".into(), base64(&link.span_id));
    insert_string(&mut object, "traceState", &link.trace_state);
    insert_attributes(&mut object, &link.attributes);
    insert_nonzero(&mut object, "droppedAttributesCount", link.dropped_attributes_count);
    insert_nonzero(&mut object, "flags", link.flags);
    Value::Object(object)
}

fn insert_string(object: &mut Map<String, Value>, key: &str, value: &str) {
    if !value.is_empty() {
        object.insert(key.into(), json!(value));
    }
}

fn insert_nonzero(object: &mut Map<String, Value>, key: &str, value: u32) {
    if value != 0 {
        object.insert(key.into(), json!(value));
    }
}

fn insert_attributes(object: &mut Map<String, Value>, attributes: &[KeyValue]) {
    if !attributes.is_empty() {
        object.insert("attributes".into(), Value::Array(attributes.iter().map(key_value_json).collect()));
    }
}

/// An OTLP `KeyValue` as jsonpb writes it.
pub(crate) fn key_value_json(kv: &KeyValue) -> Value {
    let mut object = Map::new();
    object.insert("key".into(), json!(kv.key));
    object.insert("value".into(), kv.value.as_ref().map_or_else(|| json!({}), any_value_json));
    Value::Object(object)
}

fn any_value_json(value: &AnyValue) -> Value {
    match &value.value {
        None => json!({}),
        Some(any_value::Value::StringValue(text)) => json!({ "stringValue": text }),
        Some(any_value::Value::BoolValue(flag)) => json!({ "boolValue": flag }),
        Some(any_value::Value::IntValue(integer)) => json!({ "intValue": integer.to_string() }),
        Some(any_value::Value::DoubleValue(double)) => json!({ "doubleValue": double }),
        Some(any_value::Value::BytesValue(bytes)) => json!({ "bytesValue": base64(bytes) }),
        Some(any_value::Value::ArrayValue(array)) => {
            json!({ "arrayValue": { "values": array.values.iter().map(any_value_json).collect::<Vec<_>>() } })
        }
        Some(any_value::Value::KvlistValue(list)) => {
            json!({ "kvlistValue": { "values": list.values.iter().map(key_value_json).collect::<Vec<_>>() } })
        }
        Some(any_value::Value::StringValueStrindex(index)) => json!({ "stringValueStrindex": index }),
    }
}

/// A model attribute as a jsonpb `KeyValue` (search results' span and spanset attributes).
pub(crate) fn attribute_json(key: &str, value: &AttrValue) -> Value {
    json!({ "key": key, "value": any_value_json(&oxeye_ingest::otlp_traces::any_value_of(value)) })
}
