//! OTLP attribute values as label values: pdata's `Value.AsString`, which Prometheus uses for every attribute.
//!
//! Strings are kept, booleans and integers are formatted plainly, doubles like JavaScript numbers, bytes in
//! standard base64, and arrays and key-value lists as the JSON Go's `encoding/json` would write (keys sorted,
//! `<`, `>` and `&` escaped).

use std::fmt::Write;

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};

/// The label value of an attribute (`pcommon.Value.AsString`); an absent value is the empty string.
pub(crate) fn attribute_value_string(value: Option<&AnyValue>) -> String {
    match value.and_then(|value| value.value.as_ref()) {
        None => String::new(),
        Some(Value::StringValue(text)) => text.clone(),
        Some(Value::BoolValue(flag)) => flag.to_string(),
        Some(Value::IntValue(integer)) => integer.to_string(),
        Some(Value::DoubleValue(double)) => double_as_string(*double),
        Some(Value::BytesValue(bytes)) => base64_standard(bytes),
        Some(Value::StringValueStrindex(index)) => index.to_string(),
        Some(other) => {
            let mut json = String::new();
            write_json(&mut json, Some(other));
            json
        }
    }
}

/// The first attribute named `key`, as pdata's `Map.Get` finds it.
pub(crate) fn find_attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a KeyValue> {
    attributes.iter().find(|attribute| attribute.key == key)
}

/// pdata's `float64AsString`: ES6 number formatting (exponent form below 1e-6 and from 1e21 on).
fn double_as_string(value: f64) -> String {
    if value.is_nan() {
        return "json: unsupported value: NaN".to_string();
    }
    if value.is_infinite() {
        let sign = if value > 0.0 { "+" } else { "-" };
        return format!("json: unsupported value: {sign}Inf");
    }
    let magnitude = value.abs();
    if magnitude != 0.0 && !(1e-6..1e21).contains(&magnitude) {
        // Rust writes `1.5e21` / `1e-7`; Go writes `1.5e+21` / `1e-07` and pdata then trims `e-07` to `e-7`.
        let formatted = format!("{value:e}");
        return match formatted.split_once('e') {
            Some((mantissa, exponent)) if !exponent.starts_with('-') => {
                format!("{mantissa}e+{exponent}")
            }
            _ => formatted,
        };
    }
    value.to_string()
}

fn write_json(out: &mut String, value: Option<&Value>) {
    match value {
        None => out.push_str("null"),
        Some(Value::StringValue(text)) => write_json_string(out, text),
        Some(Value::BoolValue(flag)) => out.push_str(if *flag { "true" } else { "false" }),
        Some(Value::IntValue(integer)) => {
            let _ = write!(out, "{integer}");
        }
        Some(Value::DoubleValue(double)) => out.push_str(&double_as_string(*double)),
        Some(Value::BytesValue(bytes)) => write_json_string(out, &base64_standard(bytes)),
        Some(Value::StringValueStrindex(index)) => {
            let _ = write!(out, "{index}");
        }
        Some(Value::ArrayValue(array)) => {
            out.push('[');
            for (position, item) in array.values.iter().enumerate() {
                if position > 0 {
                    out.push(',');
                }
                write_json(out, item.value.as_ref());
            }
            out.push(']');
        }
        Some(Value::KvlistValue(list)) => {
            // `AsRaw` builds a Go map, so a repeated key keeps its last value, and `json.Marshal` sorts keys.
            let mut entries: Vec<(&str, Option<&Value>)> = Vec::with_capacity(list.values.len());
            for entry in &list.values {
                let value = entry.value.as_ref().and_then(|value| value.value.as_ref());
                match entries.iter_mut().find(|(key, _)| *key == entry.key) {
                    Some(existing) => existing.1 = value,
                    None => entries.push((&entry.key, value)),
                }
            }
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (position, (key, value)) in entries.into_iter().enumerate() {
                if position > 0 {
                    out.push(',');
                }
                write_json_string(out, key);
                out.push(':');
                write_json(out, value);
            }
            out.push('}');
        }
    }
}

/// A JSON string as Go's `encoding/json` writes it.
fn write_json_string(out: &mut String, text: &str) {
    oxeye_model::go_json::write_string(out, text);
}

fn base64_standard(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut encoded = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let triple = (u32::from(chunk[0]) << 16)
            | (u32::from(chunk.get(1).copied().unwrap_or(0)) << 8)
            | u32::from(chunk.get(2).copied().unwrap_or(0));
        for position in 0..4 {
            if position <= chunk.len() {
                encoded.push(ALPHABET[((triple >> (18 - 6 * position)) & 0x3f) as usize] as char);
            } else {
                encoded.push('=');
            }
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};

    use super::*;

    fn any(value: Value) -> AnyValue {
        AnyValue { value: Some(value) }
    }

    #[test]
    fn values_render_like_pdata_as_string() {
        let f = |value: Option<Value>, want: &str| {
            let any_value = value.map(any);
            assert_eq!(attribute_value_string(any_value.as_ref()), want);
        };
        f(None, "");
        f(Some(Value::StringValue("a b".into())), "a b");
        f(Some(Value::BoolValue(true)), "true");
        f(Some(Value::IntValue(-42)), "-42");
        f(Some(Value::DoubleValue(1.5)), "1.5");
        f(Some(Value::DoubleValue(3.0)), "3");
        f(Some(Value::DoubleValue(1e21)), "1e+21");
        f(Some(Value::DoubleValue(1.5e-7)), "1.5e-7");
        f(Some(Value::DoubleValue(1e-6)), "0.000001");
        f(Some(Value::DoubleValue(f64::NAN)), "json: unsupported value: NaN");
        f(Some(Value::BytesValue(b"hello".to_vec())), "aGVsbG8=");
        f(Some(Value::BytesValue(b"hi".to_vec())), "aGk=");
        f(Some(Value::BytesValue(b"abc".to_vec())), "YWJj");
        f(
            Some(Value::ArrayValue(ArrayValue {
                values: vec![any(Value::StringValue("x<y".into())), any(Value::IntValue(1)), AnyValue { value: None }],
            })),
            r#"["x\u003cy",1,null]"#,
        );
        let entry = |key: &str, value: Value| KeyValue { key: key.into(), value: Some(any(value)), key_strindex: 0 };
        f(
            Some(Value::KvlistValue(KeyValueList {
                values: vec![
                    entry("b", Value::BoolValue(false)),
                    entry("a", Value::DoubleValue(0.25)),
                    entry("b", Value::StringValue("last".into())),
                ],
            })),
            r#"{"a":0.25,"b":"last"}"#,
        );
    }
}
