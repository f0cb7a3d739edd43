//! Reading a Loki JSON push body into raw streams, keeping each stream's first error instead of failing the body.
//!
//! Loki (`pkg/loghttp/query.go`, `LogProtoStream.UnmarshalJSON`) accepts: `streams` absent or `null`; per stream,
//! `stream` an object of string values and `values` an array (or `null`) of entries; an entry is `null` (skipped)
//! or an array whose element 0 is the timestamp as a *string* of Unix nanoseconds (a JSON number is refused),
//! element 1 the line (a string) and the optional element 2 an object of string structured-metadata values;
//! further elements are ignored. Unknown keys are ignored everywhere. A label repeated in `stream` keeps its last
//! value (Loki decodes `stream` into a map).
//!
//! The serde visitors below walk the body once without building a `serde_json::Value` tree (memory stays a small
//! multiple of the body) and record a type error inside a stream as that stream's error, so that one bad stream
//! does not cost the others.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::convert::RawEntry;

/// The body: `{"streams": [...]}`.
#[derive(Deserialize)]
pub(super) struct JsonPushRequest {
    #[serde(default)]
    pub streams: Option<Vec<JsonStream>>,
}

/// One element of `streams`; `error` is the first problem found in it (with its path inside the stream).
#[derive(Default)]
pub(super) struct JsonStream {
    pub labels: Vec<(String, String)>,
    pub entries: Vec<RawEntry>,
    /// How many non-null entries the stream holds, good or bad.
    pub entry_count: usize,
    pub error: Option<String>,
}

impl<'de> Deserialize<'de> for JsonStream {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonStreamVisitor)
    }
}

struct JsonStreamVisitor;

impl<'de> Visitor<'de> for JsonStreamVisitor {
    type Value = JsonStream;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a stream object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonStream, A::Error> {
        let mut stream = JsonStream::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "stream" => {
                    let labels = map.next_value::<StringObject>()?;
                    match labels.0 {
                        Ok(pairs) => {
                            stream.labels.clear();
                            for (name, value) in pairs {
                                // Loki decodes into a map: a repeated name keeps its last value.
                                match stream.labels.iter_mut().find(|(existing, _)| *existing == name) {
                                    Some(existing) => existing.1 = value,
                                    None => stream.labels.push((name, value)),
                                }
                            }
                        }
                        Err(error) => record(&mut stream.error, format!("stream: {error}")),
                    }
                }
                "values" => {
                    let seed = EntriesSeed { error: &mut stream.error, count: &mut stream.entry_count };
                    stream.entries = map.next_value_seed(seed)?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(stream)
    }

    fn visit_unit<E: de::Error>(self) -> Result<JsonStream, E> {
        Ok(JsonStream::default())
    }
}

/// Keeps the first error.
fn record(slot: &mut Option<String>, error: String) {
    if slot.is_none() {
        *slot = Some(error);
    }
}

/// The `values` array; entry errors go into `error` with the entry's index.
struct EntriesSeed<'a> {
    error: &'a mut Option<String>,
    count: &'a mut usize,
}

impl<'de> DeserializeSeed<'de> for EntriesSeed<'_> {
    type Value = Vec<RawEntry>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EntriesSeed<'_> {
    type Value = Vec<RawEntry>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an array of entries")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<RawEntry>, A::Error> {
        let mut entries = Vec::new();
        let mut index = 0usize;
        while let Some(entry) = seq.next_element::<JsonEntry>()? {
            if !matches!(entry, JsonEntry::Null) {
                *self.count += 1;
            }
            match entry {
                JsonEntry::Null => {}
                JsonEntry::Entry(entry) => entries.push(entry),
                JsonEntry::Invalid(error) => record(self.error, format!("values[{index}]: {error}")),
            }
            index += 1;
        }
        Ok(entries)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Vec<RawEntry>, E> {
        Ok(Vec::new())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<RawEntry>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        record(self.error, "values: expected an array, got an object".to_string());
        Ok(Vec::new())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Vec<RawEntry>, E> {
        record(self.error, "values: expected an array, got a string".to_string());
        Ok(Vec::new())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Vec<RawEntry>, E> {
        record(self.error, "values: expected an array, got a boolean".to_string());
        Ok(Vec::new())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Vec<RawEntry>, E> {
        record(self.error, "values: expected an array, got a number".to_string());
        Ok(Vec::new())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Vec<RawEntry>, E> {
        self.visit_i64(0)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Vec<RawEntry>, E> {
        self.visit_i64(0)
    }
}

/// One element of `values`.
enum JsonEntry {
    Null,
    Entry(RawEntry),
    Invalid(String),
}

impl<'de> Deserialize<'de> for JsonEntry {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonEntryVisitor)
    }
}

struct JsonEntryVisitor;

impl<'de> Visitor<'de> for JsonEntryVisitor {
    type Value = JsonEntry;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an entry array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonEntry, A::Error> {
        let mut error: Option<String> = None;
        let mut entry = RawEntry::default();
        let Some(timestamp) = seq.next_element::<Loose>()? else {
            return Ok(JsonEntry::Invalid("an entry needs at least a timestamp and a line".to_string()));
        };
        match timestamp {
            Loose::String(text) => match parse_timestamp(&text) {
                Some(timestamp_ns) => entry.timestamp_ns = timestamp_ns,
                None => record(&mut error, format!("timestamp {text:?} is not an integer number of nanoseconds")),
            },
            Loose::Other(kind) => {
                record(&mut error, format!("timestamp must be a string of Unix nanoseconds, got {kind}"));
            }
        }
        match seq.next_element::<Loose>()? {
            None => {}
            Some(Loose::String(line)) => entry.line = line,
            // jsoniter reads `null` as an empty string.
            Some(Loose::Other("null")) => {}
            Some(Loose::Other(kind)) => record(&mut error, format!("line must be a string, got {kind}")),
        }
        if let Some(metadata) = seq.next_element::<StringObject>()? {
            match metadata.0 {
                Ok(pairs) => entry.metadata = pairs,
                Err(problem) => record(&mut error, format!("structured metadata: {problem}")),
            }
        }
        // Loki ignores elements after the third.
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(match error {
            Some(error) => JsonEntry::Invalid(error),
            None => JsonEntry::Entry(entry),
        })
    }

    fn visit_unit<E: de::Error>(self) -> Result<JsonEntry, E> {
        Ok(JsonEntry::Null)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonEntry, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(JsonEntry::Invalid("expected an array [timestamp, line], got an object".to_string()))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<JsonEntry, E> {
        Ok(JsonEntry::Invalid("expected an array [timestamp, line], got a string".to_string()))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<JsonEntry, E> {
        Ok(JsonEntry::Invalid("expected an array [timestamp, line], got a boolean".to_string()))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<JsonEntry, E> {
        Ok(JsonEntry::Invalid("expected an array [timestamp, line], got a number".to_string()))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<JsonEntry, E> {
        self.visit_i64(0)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<JsonEntry, E> {
        self.visit_i64(0)
    }
}

/// Unix nanoseconds written as a decimal integer, optionally negative (Go's `strconv.ParseInt(s, 10, 64)`).
fn parse_timestamp(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Any JSON value, keeping strings and naming the kind of everything else (which is skipped over).
enum Loose {
    String(String),
    Other(&'static str),
}

impl<'de> Deserialize<'de> for Loose {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LooseVisitor)
    }
}

struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Loose, E> {
        Ok(Loose::String(text.to_string()))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Loose, E> {
        Ok(Loose::String(text))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Loose, E> {
        Ok(Loose::Other("a boolean"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Loose, E> {
        Ok(Loose::Other("a number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Loose, E> {
        Ok(Loose::Other("a number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Loose, E> {
        Ok(Loose::Other("a number"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Loose, E> {
        Ok(Loose::Other("null"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Loose, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Loose::Other("an array"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Loose, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Loose::Other("an object"))
    }
}

/// A JSON object whose values must all be strings (stream labels, structured metadata), in document order.
struct StringObject(Result<Vec<(String, String)>, String>);

impl<'de> Deserialize<'de> for StringObject {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StringObjectVisitor)
    }
}

struct StringObjectVisitor;

impl StringObjectVisitor {
    fn not_an_object(kind: &str) -> StringObject {
        StringObject(Err(format!("expected an object of string values, got {kind}")))
    }
}

impl<'de> Visitor<'de> for StringObjectVisitor {
    type Value = StringObject;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an object of strings")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StringObject, A::Error> {
        let mut pairs = Vec::new();
        let mut error = None;
        while let Some(key) = map.next_key::<String>()? {
            match map.next_value::<Loose>()? {
                Loose::String(value) => pairs.push((key, value)),
                Loose::Other(kind) => record(&mut error, format!("value of {key:?} must be a string, got {kind}")),
            }
        }
        Ok(StringObject(match error {
            Some(error) => Err(error),
            None => Ok(pairs),
        }))
    }

    fn visit_unit<E: de::Error>(self) -> Result<StringObject, E> {
        Ok(Self::not_an_object("null"))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<StringObject, E> {
        Ok(Self::not_an_object("a string"))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<StringObject, E> {
        Ok(Self::not_an_object("a boolean"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<StringObject, E> {
        Ok(Self::not_an_object("a number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<StringObject, E> {
        Ok(Self::not_an_object("a number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<StringObject, E> {
        Ok(Self::not_an_object("a number"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StringObject, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Self::not_an_object("an array"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_decimal_integers() {
        let f = |text: &str, want: Option<i64>| assert_eq!(parse_timestamp(text), want, "{text}");
        f("0", Some(0));
        f("1700000000000000000", Some(1_700_000_000_000_000_000));
        f("-5", Some(-5));
        f("+5", None);
        f("", None);
        f("1.5", None);
        f("1e9", None);
        f(" 1", None);
        f("99999999999999999999", None);
    }
}
