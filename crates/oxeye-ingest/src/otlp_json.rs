//! OTLP/JSON helpers shared by the logs and traces decoders.
//!
//! The `opentelemetry-proto` serde derives handle hex ids and lowerCamelCase names but silently ignore snake_case
//! keys, which proto3 JSON parsers must accept. A body with snake_case keys (or with integers and enum values
//! written as strings, which the derives refuse) is parsed into a `serde_json::Value` first and normalised: every
//! object key becomes lowerCamelCase (attribute keys are values of a `key` field, never object keys, so this is
//! safe), and 32-bit integer fields written as strings or enum names become numbers.

use serde_json::Value;

use crate::otlp_metrics::decode::lower_camel_case;

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

pub(crate) fn normalize_json(value: &mut Value, int32_fields: &[&str], enum_number: fn(&str, &str) -> Option<i32>) {
    match value {
        Value::Object(object) => {
            let entries = std::mem::take(object);
            for (key, mut field) in entries {
                let key = lower_camel_case(&key);
                normalize_json(&mut field, int32_fields, enum_number);
                if int32_fields.contains(&key.as_str())
                    && let Value::String(text) = &field
                {
                    if let Ok(number) = text.parse::<i64>() {
                        field = Value::from(number);
                    } else if let Some(number) = enum_number(&key, text) {
                        field = Value::from(number);
                    }
                }
                object.insert(key, field);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| normalize_json(item, int32_fields, enum_number)),
        _ => {}
    }
}
