//! OTLP/protobuf and OTLP/JSON bodies into an `ExportTraceServiceRequest` (see `crate::otlp_json` for the JSON
//! normalisation shared with logs).

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use prost::Message;
use serde_json::Value;

use crate::DecodeError;
use crate::otlp_json::{has_snake_case_key, normalize_json};

/// Fields of 32-bit integer or enum type in the traces schema, which proto3 JSON allows as strings.
const INT32_FIELDS: &[&str] =
    &["kind", "code", "flags", "droppedAttributesCount", "droppedEventsCount", "droppedLinksCount"];

/// Decodes an OTLP/protobuf traces body.
pub fn decode_protobuf_request(body: &[u8]) -> Result<ExportTraceServiceRequest, DecodeError> {
    ExportTraceServiceRequest::decode(body).map_err(|error| DecodeError::Protobuf { message: error.to_string() })
}

/// Decodes an OTLP/JSON traces body, accepting both lowerCamelCase and snake_case field names; a body without
/// snake_case keys is decoded directly (the fast path).
pub fn decode_json_request(body: &[u8]) -> Result<ExportTraceServiceRequest, DecodeError> {
    if !has_snake_case_key(body)
        && let Ok(request) = serde_json::from_slice::<ExportTraceServiceRequest>(body)
    {
        return Ok(request);
    }
    let json_error = |error: serde_json::Error| DecodeError::Json { message: error.to_string() };
    let mut value: Value = serde_json::from_slice(body).map_err(json_error)?;
    normalize_json(&mut value, INT32_FIELDS, enum_by_name);
    serde_json::from_value(value).map_err(json_error)
}

/// `kind` and status `code` given by enum name (`SPAN_KIND_SERVER`, `STATUS_CODE_ERROR`).
fn enum_by_name(key: &str, name: &str) -> Option<i32> {
    match key {
        "kind" => SpanKind::from_str_name(name).map(|kind| kind as i32),
        "code" => StatusCode::from_str_name(name).map(|code| code as i32),
        _ => None,
    }
}
