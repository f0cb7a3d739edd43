//! OTLP/protobuf and OTLP/JSON bodies into an `ExportLogsServiceRequest`.
//!
//! As for metrics (`otlp_metrics::decode`), the `opentelemetry-proto` serde derives handle hex ids and
//! lowerCamelCase names but silently ignore snake_case keys, which proto3 JSON parsers must accept; so the body is
//! parsed into a `serde_json::Value` first and normalised: every object key becomes lowerCamelCase (attribute keys
//! are values of a `key` field, never object keys, so this is safe), `severityNumber` given by enum name becomes
//! its number, and 32-bit integers written as strings become numbers.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::logs::v1::SeverityNumber;
use prost::Message;
use serde_json::Value;

use crate::DecodeError;
use crate::otlp_json::{has_snake_case_key, normalize_json};

/// Fields of 32-bit integer type in the logs schema, which proto3 JSON allows as strings.
const INT32_FIELDS: &[&str] = &["severityNumber", "flags", "droppedAttributesCount"];

/// Decodes an OTLP/protobuf logs body.
pub fn decode_protobuf_request(body: &[u8]) -> Result<ExportLogsServiceRequest, DecodeError> {
    ExportLogsServiceRequest::decode(body).map_err(|error| DecodeError::Protobuf { message: error.to_string() })
}

/// Decodes an OTLP/JSON logs body, accepting both lowerCamelCase and snake_case field names.
///
/// Fast path: a body without snake_case keys (what SDKs and collectors send) is decoded directly; the
/// normalising detour through a `Value` tree, several times slower, is taken only when the body has snake_case
/// keys or the direct decode refuses it (integers or enum names written as strings).
pub fn decode_json_request(body: &[u8]) -> Result<ExportLogsServiceRequest, DecodeError> {
    if !has_snake_case_key(body)
        && let Ok(request) = serde_json::from_slice::<ExportLogsServiceRequest>(body)
    {
        return Ok(request);
    }
    let json_error = |error: serde_json::Error| DecodeError::Json { message: error.to_string() };
    let mut value: Value = serde_json::from_slice(body).map_err(json_error)?;
    normalize_json(&mut value, INT32_FIELDS, severity_by_name);
    serde_json::from_value(value).map_err(json_error)
}

/// `severityNumber` given by enum name (`SEVERITY_NUMBER_INFO`).
fn severity_by_name(key: &str, name: &str) -> Option<i32> {
    (key == "severityNumber").then(|| SeverityNumber::from_str_name(name)).flatten().map(|severity| severity as i32)
}
