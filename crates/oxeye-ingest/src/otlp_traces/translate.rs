//! `ExportTraceServiceRequest` → [`DecodedSpans`].

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use oxeye_model::{
    AttrValue, Attribute, Resource, Scope, Span, SpanEvent, SpanId, SpanKind, SpanLink, StatusCode, TraceId,
};

use super::{DecodedSpans, SpanRejectReason};

/// Translates a request into spans, refusing spans with malformed ids one by one.
pub fn translate(request: ExportTraceServiceRequest) -> DecodedSpans {
    let mut decoded = DecodedSpans::default();
    for resource_spans in request.resource_spans {
        let resource = Arc::new(match resource_spans.resource {
            Some(resource) => Resource {
                attributes: attributes(resource.attributes),
                dropped_attributes_count: resource.dropped_attributes_count,
            },
            None => Resource::default(),
        });
        for scope_spans in resource_spans.scope_spans {
            let scope = Arc::new(match scope_spans.scope {
                Some(scope) => {
                    Scope { name: scope.name, version: scope.version, attributes: attributes(scope.attributes) }
                }
                None => Scope::default(),
            });
            decoded.batch.spans.reserve(scope_spans.spans.len());
            for span in scope_spans.spans {
                let Some(trace_id) = TraceId::from_slice(&span.trace_id).filter(|id| !id.is_zero()) else {
                    decoded.reject(SpanRejectReason::InvalidTraceId, || match span.trace_id.len() {
                        16 => format!(
                            "span {:?} has an all-zero trace id (a trace id is 16 bytes, not all zero)",
                            span.name
                        ),
                        len => format!(
                            "span {:?} has an invalid trace id of {len} bytes (a trace id is 16 bytes, not all zero)",
                            span.name
                        ),
                    });
                    continue;
                };
                let Some(span_id) = SpanId::from_slice(&span.span_id).filter(|id| !id.is_zero()) else {
                    decoded.reject(SpanRejectReason::InvalidSpanId, || match span.span_id.len() {
                        8 => format!("span {:?} of trace {trace_id} has an all-zero span id", span.name),
                        len => format!(
                            "span {:?} of trace {trace_id} has an invalid span id of {len} bytes (a span id is 8 bytes, \
                             not all zero)",
                            span.name
                        ),
                    });
                    continue;
                };
                let Some(parent_span_id) = SpanId::from_slice(&span.parent_span_id) else {
                    decoded.reject(SpanRejectReason::InvalidParentSpanId, || {
                        format!(
                            "span {span_id} of trace {trace_id} has a parent span id of {} bytes (8 expected, or none)",
                            span.parent_span_id.len()
                        )
                    });
                    continue;
                };
                let links: Option<Vec<SpanLink>> = span.links.into_iter().map(link).collect();
                let Some(links) = links else {
                    decoded.reject(SpanRejectReason::InvalidLink, || {
                        format!("span {span_id} of trace {trace_id} has a link with a malformed trace or span id")
                    });
                    continue;
                };
                let (status_code, status_message) = match span.status {
                    Some(status) => (StatusCode::from_i32(status.code), status.message),
                    None => (StatusCode::Unset, String::new()),
                };
                decoded.batch.spans.push(Span {
                    trace_id,
                    span_id,
                    parent_span_id,
                    trace_state: span.trace_state,
                    flags: span.flags,
                    name: span.name,
                    kind: SpanKind::from_i32(span.kind),
                    start_ns: span.start_time_unix_nano,
                    end_ns: span.end_time_unix_nano,
                    attributes: attributes(span.attributes),
                    dropped_attributes_count: span.dropped_attributes_count,
                    events: span.events.into_iter().map(event).collect(),
                    dropped_events_count: span.dropped_events_count,
                    links,
                    dropped_links_count: span.dropped_links_count,
                    status_code,
                    status_message,
                    resource: resource.clone(),
                    scope: scope.clone(),
                });
            }
        }
    }
    decoded
}

fn event(event: Event) -> SpanEvent {
    SpanEvent {
        time_ns: event.time_unix_nano,
        name: event.name,
        attributes: attributes(event.attributes),
        dropped_attributes_count: event.dropped_attributes_count,
    }
}

fn link(link: Link) -> Option<SpanLink> {
    Some(SpanLink {
        trace_id: TraceId::from_slice(&link.trace_id)?,
        span_id: SpanId::from_slice(&link.span_id).filter(|id| !id.is_zero())?,
        trace_state: link.trace_state,
        attributes: attributes(link.attributes),
        dropped_attributes_count: link.dropped_attributes_count,
        flags: link.flags,
    })
}

fn attributes(attributes: Vec<KeyValue>) -> Vec<Attribute> {
    attributes.into_iter().map(|kv| Attribute { key: kv.key, value: any_value(kv.value) }).collect()
}

/// An OTLP `AnyValue` as a typed attribute value; an empty value becomes the empty string (pdata's `AsString`).
pub fn any_value(value: Option<AnyValue>) -> AttrValue {
    match value.and_then(|value| value.value) {
        None => AttrValue::Str(String::new()),
        Some(Value::StringValue(text)) => AttrValue::Str(text),
        Some(Value::BoolValue(flag)) => AttrValue::Bool(flag),
        Some(Value::IntValue(integer)) => AttrValue::Int(integer),
        Some(Value::DoubleValue(double)) => AttrValue::Double(double),
        Some(Value::BytesValue(bytes)) => AttrValue::Bytes(bytes),
        Some(Value::StringValueStrindex(index)) => AttrValue::Int(i64::from(index)),
        Some(Value::ArrayValue(array)) => {
            AttrValue::Array(array.values.into_iter().map(|value| any_value(Some(value))).collect())
        }
        Some(Value::KvlistValue(list)) => AttrValue::KvList(attributes(list.values)),
    }
}
