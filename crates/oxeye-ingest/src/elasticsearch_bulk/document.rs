//! One bulk document flattened into (name, value) fields as VictoriaLogs' JSON parser does
//! (`lib/logstorage/json_parser.go`): nested objects become dotted names (`{"host":{"name":"a"}}` →
//! `host.name`), `null` is skipped, numbers, booleans and arrays become their JSON text, strings are unescaped,
//! and an empty top-level key names the message (`_msg`). Fields keep document order.
//!
//! Difference from VictoriaLogs: numbers are re-rendered from their parsed value (`1.50` becomes `1.5`,
//! `1e3` becomes `1000.0`) rather than copied verbatim, and arrays are re-serialised compactly.

use std::fmt;

use serde::Deserialize as _;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

/// Flattens a JSON object; the error is serde's message for text that is not a JSON object.
pub(super) fn flatten_document(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut fields = Vec::new();
    let mut deserializer = serde_json::Deserializer::from_str(text);
    ObjectSeed { prefix: String::new(), fields: &mut fields }
        .deserialize(&mut deserializer)
        .and_then(|()| deserializer.end())
        .map_err(|error| error.to_string())?;
    Ok(fields)
}

struct ObjectSeed<'a> {
    prefix: String,
    fields: &'a mut Vec<(String, String)>,
}

impl<'de> DeserializeSeed<'de> for ObjectSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            let mut name = format!("{}{key}", self.prefix);
            if name.is_empty() {
                name = "_msg".to_string();
            }
            map.next_value_seed(FieldSeed { name, fields: &mut *self.fields })?;
        }
        Ok(())
    }
}

struct FieldSeed<'a> {
    name: String,
    fields: &'a mut Vec<(String, String)>,
}

impl<'de> DeserializeSeed<'de> for FieldSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FieldSeed<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        ObjectSeed { prefix: format!("{}.", self.name), fields: self.fields }.visit_map(map)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        let array = serde_json::Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        self.fields.push((self.name, array.to_string()));
        Ok(())
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<(), E> {
        self.fields.push((self.name, text.to_string()));
        Ok(())
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<(), E> {
        self.fields.push((self.name, text));
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, flag: bool) -> Result<(), E> {
        self.fields.push((self.name, flag.to_string()));
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<(), E> {
        self.fields.push((self.name, number.to_string()));
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<(), E> {
        self.fields.push((self.name, number.to_string()));
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, number: f64) -> Result<(), E> {
        let rendered = serde_json::Number::from_f64(number).map_or_else(|| number.to_string(), |n| n.to_string());
        self.fields.push((self.name, rendered));
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_documents_flatten_like_victorialogs() {
        let fields = flatten_document(
            r#"{"_msg":"m","host":{"name":"h","os":{"version":"1.2"}},"n":5,"f":1.5,"b":true,"z":null,
                "arr":[1, "a", {"k": null}],"":"empty key","esc":"a\"b\u00e9"}"#,
        )
        .unwrap();
        let want: Vec<(String, String)> = [
            ("_msg", "m"),
            ("host.name", "h"),
            ("host.os.version", "1.2"),
            ("n", "5"),
            ("f", "1.5"),
            ("b", "true"),
            ("arr", r#"[1,"a",{"k":null}]"#),
            ("_msg", "empty key"),
            ("esc", "a\"bé"),
        ]
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
        assert_eq!(fields, want);
        assert!(flatten_document("[1]").is_err());
        assert!(flatten_document("{} x").is_err());
        assert!(flatten_document("{").is_err());
    }
}
