//! Spans back into OTLP: the shape the Tempo API returns traces in (protobuf, or JSON rendered by the API layer),
//! and the record format of the tail sampler's WAL.

use std::collections::HashMap;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span as ProtoSpan, Status, span};
use oxeye_model::{AttrValue, Attribute, Span};

/// Groups spans by resource and scope (by identity of their shared `Arc`s, then by value) into an OTLP request,
/// keeping the spans' order within each group.
pub fn to_request(spans: &[Span]) -> ExportTraceServiceRequest {
    let mut resource_spans: Vec<ResourceSpans> = Vec::new();
    let mut resource_index: HashMap<*const oxeye_model::Resource, usize> = HashMap::new();
    let mut scope_index: HashMap<(usize, *const oxeye_model::Scope), usize> = HashMap::new();
    for span in spans {
        let resource_key = Arc::as_ptr(&span.resource);
        let r = *resource_index.entry(resource_key).or_insert_with(|| {
            // Equal resources behind different `Arc`s (e.g. from two requests) share one group.
            let found = resource_spans.iter().position(|group| {
                group.resource.as_ref().is_some_and(|resource| {
                    resource.dropped_attributes_count == span.resource.dropped_attributes_count
                        && attributes_equal(&resource.attributes, &span.resource.attributes)
                })
            });
            found.unwrap_or_else(|| {
                resource_spans.push(ResourceSpans {
                    resource: Some(ProtoResource {
                        attributes: key_values(&span.resource.attributes),
                        dropped_attributes_count: span.resource.dropped_attributes_count,
                        ..Default::default()
                    }),
                    scope_spans: Vec::new(),
                    schema_url: String::new(),
                });
                resource_spans.len() - 1
            })
        });
        let scope_key = (r, Arc::as_ptr(&span.scope));
        let s = *scope_index.entry(scope_key).or_insert_with(|| {
            let group = &mut resource_spans[r];
            let found = group.scope_spans.iter().position(|scope_spans| {
                scope_spans.scope.as_ref().is_some_and(|scope| {
                    scope.name == span.scope.name
                        && scope.version == span.scope.version
                        && attributes_equal(&scope.attributes, &span.scope.attributes)
                })
            });
            found.unwrap_or_else(|| {
                group.scope_spans.push(ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: span.scope.name.clone(),
                        version: span.scope.version.clone(),
                        attributes: key_values(&span.scope.attributes),
                        dropped_attributes_count: 0,
                    }),
                    spans: Vec::new(),
                    schema_url: String::new(),
                });
                group.scope_spans.len() - 1
            })
        });
        resource_spans[r].scope_spans[s].spans.push(proto_span(span));
    }
    ExportTraceServiceRequest { resource_spans }
}

fn attributes_equal(proto: &[KeyValue], model: &[Attribute]) -> bool {
    proto.len() == model.len()
        && proto
            .iter()
            .zip(model)
            .all(|(kv, attribute)| kv.key == attribute.key && kv.value == Some(any_value_of(&attribute.value)))
}

fn proto_span(span: &Span) -> ProtoSpan {
    ProtoSpan {
        trace_id: span.trace_id.0.to_vec(),
        span_id: span.span_id.0.to_vec(),
        trace_state: span.trace_state.clone(),
        parent_span_id: if span.parent_span_id.is_zero() { Vec::new() } else { span.parent_span_id.0.to_vec() },
        flags: span.flags,
        name: span.name.clone(),
        kind: span.kind as i32,
        start_time_unix_nano: span.start_ns,
        end_time_unix_nano: span.end_ns,
        attributes: key_values(&span.attributes),
        dropped_attributes_count: span.dropped_attributes_count,
        events: span
            .events
            .iter()
            .map(|event| span::Event {
                time_unix_nano: event.time_ns,
                name: event.name.clone(),
                attributes: key_values(&event.attributes),
                dropped_attributes_count: event.dropped_attributes_count,
            })
            .collect(),
        dropped_events_count: span.dropped_events_count,
        links: span
            .links
            .iter()
            .map(|link| span::Link {
                trace_id: link.trace_id.0.to_vec(),
                span_id: link.span_id.0.to_vec(),
                trace_state: link.trace_state.clone(),
                attributes: key_values(&link.attributes),
                dropped_attributes_count: link.dropped_attributes_count,
                flags: link.flags,
            })
            .collect(),
        dropped_links_count: span.dropped_links_count,
        status: (span.status_code as i32 != 0 || !span.status_message.is_empty())
            .then(|| Status { message: span.status_message.clone(), code: span.status_code as i32 }),
    }
}

/// Attributes as OTLP key-values.
pub fn key_values(attributes: &[Attribute]) -> Vec<KeyValue> {
    attributes
        .iter()
        .map(|attribute| KeyValue {
            key: attribute.key.clone(),
            value: Some(any_value_of(&attribute.value)),
            ..Default::default()
        })
        .collect()
}

/// A typed value as an OTLP `AnyValue`.
pub fn any_value_of(value: &AttrValue) -> AnyValue {
    let value = match value {
        AttrValue::Str(text) => any_value::Value::StringValue(text.clone()),
        AttrValue::Bool(flag) => any_value::Value::BoolValue(*flag),
        AttrValue::Int(integer) => any_value::Value::IntValue(*integer),
        AttrValue::Double(double) => any_value::Value::DoubleValue(*double),
        AttrValue::Bytes(bytes) => any_value::Value::BytesValue(bytes.clone()),
        AttrValue::Array(values) => {
            any_value::Value::ArrayValue(ArrayValue { values: values.iter().map(any_value_of).collect() })
        }
        AttrValue::KvList(pairs) => any_value::Value::KvlistValue(KeyValueList { values: key_values(pairs) }),
    };
    AnyValue { value: Some(value) }
}
