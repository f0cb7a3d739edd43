//! Zipkin v2 JSON spans (`POST /api/v2/spans`) into [`SpanBatch`](oxeye_model::SpanBatch)es.
//!
//! The mapping follows the OpenTelemetry Collector's Zipkin receiver: `localEndpoint.serviceName` becomes the
//! resource's `service.name`; `kind` maps to the OTLP span kind (absent: unspecified); `timestamp` and `duration`
//! are microseconds; `tags` become string attributes; `annotations` become events named by their value; the
//! `remoteEndpoint` becomes `peer.service`, `net.peer.ip` and `net.peer.port`. Status: an `otel.status_code` tag
//! (`OK`/`ERROR`, with `otel.status_description`) wins and is removed; otherwise an `error` tag marks the span as
//! an error with the tag's value as message. 64-bit trace ids are left-padded to 128 bits.

use std::collections::HashMap;
use std::sync::Arc;

use oxeye_model::{AttrValue, Attribute, Resource, Scope, Span, SpanEvent, SpanId, SpanKind, StatusCode, TraceId};
use serde::Deserialize;

use crate::DecodeError;
use crate::otlp_traces::{DecodedSpans, SpanRejectReason};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ZipkinSpan {
    trace_id: Option<String>,
    id: Option<String>,
    parent_id: Option<String>,
    #[serde(default)]
    name: String,
    kind: Option<String>,
    timestamp: Option<u64>,
    duration: Option<u64>,
    local_endpoint: Option<Endpoint>,
    remote_endpoint: Option<Endpoint>,
    #[serde(default)]
    annotations: Vec<Annotation>,
    #[serde(default)]
    tags: HashMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Endpoint {
    service_name: Option<String>,
    ipv4: Option<String>,
    ipv6: Option<String>,
    port: Option<u16>,
}

#[derive(Deserialize)]
struct Annotation {
    timestamp: u64,
    value: String,
}

/// Decodes a Zipkin v2 JSON array of spans. Spans without an id or trace id, or with malformed ids, are refused one
/// by one; a body that is not a JSON array of span objects fails as a whole.
pub fn decode_zipkin_json(body: &[u8]) -> Result<DecodedSpans, DecodeError> {
    let spans: Vec<ZipkinSpan> =
        serde_json::from_slice(body).map_err(|error| DecodeError::Json { message: error.to_string() })?;
    let mut decoded = DecodedSpans::default();
    let mut resources: HashMap<String, Arc<Resource>> = HashMap::new();
    let scope = Arc::new(Scope::default());
    for (index, zipkin) in spans.into_iter().enumerate() {
        let (Some(trace_hex), Some(id_hex)) = (zipkin.trace_id.as_deref(), zipkin.id.as_deref()) else {
            decoded.reject(SpanRejectReason::MissingField, || format!("span {index} has no \"traceId\" or \"id\""));
            continue;
        };
        let Some(trace_id) = TraceId::from_hex(trace_hex).ok().filter(|id| !id.is_zero()) else {
            decoded.reject(SpanRejectReason::InvalidTraceId, || {
                format!("span {index} has an invalid traceId {trace_hex:?} (16 or 32 hex digits, not all zero)")
            });
            continue;
        };
        let Some(span_id) = SpanId::from_hex(id_hex).ok().filter(|id| !id.is_zero()) else {
            decoded.reject(SpanRejectReason::InvalidSpanId, || {
                format!("span {index} has an invalid id {id_hex:?} (16 hex digits, not all zero)")
            });
            continue;
        };
        let parent_span_id = match zipkin.parent_id.as_deref() {
            None | Some("") => SpanId::default(),
            Some(text) => match SpanId::from_hex(text) {
                Ok(id) => id,
                Err(_) => {
                    decoded.reject(SpanRejectReason::InvalidParentSpanId, || {
                        format!("span {index} has an invalid parentId {text:?}")
                    });
                    continue;
                }
            },
        };
        let service = zipkin
            .local_endpoint
            .as_ref()
            .and_then(|endpoint| endpoint.service_name.clone())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| oxeye_model::UNKNOWN_SERVICE.to_string());
        let resource = resources
            .entry(service.clone())
            .or_insert_with(|| {
                Arc::new(Resource {
                    attributes: vec![Attribute::string("service.name", service)],
                    ..Default::default()
                })
            })
            .clone();
        let kind = match zipkin.kind.as_deref() {
            Some("CLIENT") => SpanKind::Client,
            Some("SERVER") => SpanKind::Server,
            Some("PRODUCER") => SpanKind::Producer,
            Some("CONSUMER") => SpanKind::Consumer,
            _ => SpanKind::Unspecified,
        };
        let mut tags: Vec<(String, String)> = zipkin.tags.into_iter().collect();
        tags.sort();
        let mut status_code = StatusCode::Unset;
        let mut status_message = String::new();
        if let Some(position) = tags.iter().position(|(key, _)| key == "otel.status_code") {
            let (_, code) = tags.remove(position);
            status_code = match code.as_str() {
                "ERROR" => StatusCode::Error,
                "OK" => StatusCode::Ok,
                _ => StatusCode::Unset,
            };
            if let Some(position) = tags.iter().position(|(key, _)| key == "otel.status_description") {
                status_message = tags.remove(position).1;
            }
        } else if let Some((_, message)) = tags.iter().find(|(key, _)| key == "error") {
            status_code = StatusCode::Error;
            status_message = message.clone();
        }
        let mut attributes: Vec<Attribute> =
            tags.into_iter().map(|(key, value)| Attribute::new(key, AttrValue::Str(value))).collect();
        if let Some(remote) = zipkin.remote_endpoint {
            if let Some(name) = remote.service_name.filter(|name| !name.is_empty()) {
                attributes.push(Attribute::string("peer.service", name));
            }
            if let Some(ip) = remote.ipv4.or(remote.ipv6) {
                attributes.push(Attribute::string("net.peer.ip", ip));
            }
            if let Some(port) = remote.port {
                attributes.push(Attribute::new("net.peer.port", AttrValue::Int(i64::from(port))));
            }
        }
        let start_ns = zipkin.timestamp.unwrap_or(0).saturating_mul(1_000);
        let end_ns = start_ns.saturating_add(zipkin.duration.unwrap_or(0).saturating_mul(1_000));
        let events = zipkin
            .annotations
            .into_iter()
            .map(|annotation| SpanEvent {
                time_ns: annotation.timestamp.saturating_mul(1_000),
                name: annotation.value,
                ..Default::default()
            })
            .collect();
        decoded.batch.spans.push(Span {
            trace_id,
            span_id,
            parent_span_id,
            name: zipkin.name,
            kind,
            start_ns,
            end_ns,
            attributes,
            events,
            status_code,
            status_message,
            resource,
            scope: scope.clone(),
            ..Default::default()
        });
    }
    Ok(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipkin_spans_map_like_the_collector_does() {
        let body = br#"[
          {"traceId":"463ac35c9f6413ad","id":"a2fb4a1d1a96d312","parentId":"0020000000000001","name":"get /api",
           "kind":"SERVER","timestamp":1556604172355737,"duration":1431,
           "localEndpoint":{"serviceName":"backend","ipv4":"192.168.99.1","port":3306},
           "remoteEndpoint":{"serviceName":"frontend","ipv4":"172.19.0.2","port":58648},
           "annotations":[{"timestamp":1556604172355800,"value":"wr"}],
           "tags":{"http.method":"GET","error":"connection refused"}},
          {"traceId":"463ac35c9f6413ad48485a3953bb6124","id":"b2fb4a1d1a96d312","name":"q","kind":"CLIENT",
           "timestamp":10,"duration":5,"tags":{"otel.status_code":"OK","error":"ignored"}},
          {"id":"c2fb4a1d1a96d312","name":"no trace"},
          {"traceId":"zz","id":"d2fb4a1d1a96d312"}
        ]"#;
        let decoded = decode_zipkin_json(body).unwrap();
        assert_eq!(decoded.batch.spans.len(), 2);
        assert_eq!(decoded.rejected_spans(), 2);
        let server = &decoded.batch.spans[0];
        assert_eq!(server.trace_id.to_hex(), "0000000000000000463ac35c9f6413ad");
        assert_eq!(server.parent_span_id.to_hex(), "0020000000000001");
        assert_eq!(server.kind, SpanKind::Server);
        assert_eq!(server.start_ns, 1_556_604_172_355_737_000);
        assert_eq!(server.duration_ns(), 1_431_000);
        assert_eq!(server.service_name(), "backend");
        assert_eq!(server.status_code, StatusCode::Error);
        assert_eq!(server.status_message, "connection refused");
        assert_eq!(server.attribute("peer.service"), Some(&AttrValue::Str("frontend".into())));
        assert_eq!(server.attribute("net.peer.port"), Some(&AttrValue::Int(58648)));
        assert_eq!(server.events[0].name, "wr");
        let client = &decoded.batch.spans[1];
        assert_eq!(client.status_code, StatusCode::Ok);
        assert!(client.attribute("otel.status_code").is_none());
        assert_eq!(client.service_name(), oxeye_model::UNKNOWN_SERVICE);
        assert!(decode_zipkin_json(b"{\"not\":\"an array\"}").is_err());
    }
}
