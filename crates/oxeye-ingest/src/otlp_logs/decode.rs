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
use crate::otlp_metrics::decode::lower_camel_case;

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
    normalize_json(&mut value);
    serde_json::from_value(value).map_err(json_error)
}

/// Whether any object key of the JSON text contains `_` (a string followed by `:` after optional whitespace).
/// Errs on the side of `true`: malformed text or an underscore key anywhere sends the body down the slow path.
pub(crate) fn has_snake_case_key(body: &[u8]) -> bool {
    let mut position = 0;
    while let Some(offset) = memchr::memchr(b'"', &body[position..]) {
        let start = position + offset + 1;
        let mut end = start;
        let mut underscore = false;
        loop {
            match body.get(end) {
                None => return true,
                Some(b'\\') => end += 2,
                Some(b'"') => break,
                Some(byte) => {
                    underscore |= *byte == b'_';
                    end += 1;
                }
            }
        }
        let mut after = end + 1;
        while body.get(after).is_some_and(u8::is_ascii_whitespace) {
            after += 1;
        }
        if underscore && body.get(after) == Some(&b':') {
            return true;
        }
        position = end + 1;
    }
    false
}

fn normalize_json(value: &mut Value) {
    match value {
        Value::Object(object) => {
            let entries = std::mem::take(object);
            for (key, mut field) in entries {
                let key = lower_camel_case(&key);
                normalize_json(&mut field);
                if INT32_FIELDS.contains(&key.as_str())
                    && let Value::String(text) = &field
                {
                    if let Ok(number) = text.parse::<i64>() {
                        field = Value::from(number);
                    } else if key == "severityNumber"
                        && let Some(severity) = SeverityNumber::from_str_name(text)
                    {
                        field = Value::from(severity as i32);
                    }
                }
                object.insert(key, field);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalize_json),
        _ => {}
    }
}
