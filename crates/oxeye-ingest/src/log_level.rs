//! `detected_level`: the structured-metadata field Loki 3's distributor adds to every entry (`discover_log_levels`,
//! on by default; `pkg/distributor/field_detection.go`), which Grafana's Logs Drilldown and log-volume panels use.
//!
//! The level comes from, in order: a `detected_level` the client already sent (normalised); the first of Loki's
//! level fields (`level`, `LEVEL`, `Level`, `log.level`, `severity`, …) among the stream labels, then among the
//! structured metadata; an OTLP `severity_number`; the line itself: the first level field of a JSON object (two
//! levels deep), or of a logfmt line, or else the earliest level word (`error`, `warn`, …) standing alone in the
//! text. Known spellings are normalised to `trace`, `debug`, `info`, `warn`, `error`, `critical`, `fatal`; an
//! unrecognised field value is kept as written; a line with no clue gives `unknown`.

use std::fmt;

use oxeye_model::Labels;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::log_streams::MetadataBuilder;

/// The structured-metadata name of the detected level.
pub const DETECTED_LEVEL: &str = "detected_level";

/// Loki's default `log_level_fields`, in priority order.
const LEVEL_FIELDS: &[&str] = &[
    "level",
    "LEVEL",
    "Level",
    "log.level",
    "severity",
    "SEVERITY",
    "Severity",
    "SeverityText",
    "lvl",
    "LVL",
    "Lvl",
    "severity_text",
    "Severity_Text",
    "SEVERITY_TEXT",
];

/// How deep into a JSON line level fields are looked for (Loki's `log_level_from_json_max_depth`).
const JSON_MAX_DEPTH: usize = 2;

/// Adds (or normalises) `detected_level` in `metadata` for an entry of a stream labelled `stream_labels`.
pub(crate) fn add_detected_level(stream_labels: &Labels, metadata: &mut MetadataBuilder, line: &str) {
    if let Some(existing) = metadata.get(DETECTED_LEVEL) {
        let normalized = normalize_level(existing).into_owned();
        metadata.set(DETECTED_LEVEL, normalized);
        return;
    }
    let from_labels = level_field(stream_labels.iter().map(|label| (label.name.as_str(), label.value.as_str())));
    let from_metadata = || level_field(metadata.pairs());
    let level = match from_labels.or_else(from_metadata) {
        Some(value) => normalize_level(value).into_owned(),
        None => match metadata.get("severity_number") {
            Some(number) => level_of_severity_number(number).to_string(),
            None => level_of_line(line),
        },
    };
    if !level.is_empty() {
        metadata.set(DETECTED_LEVEL, level);
    }
}

/// The value of the highest-priority [`LEVEL_FIELDS`] name among `pairs`. One pass with a cheap reject on the
/// first byte, since this runs for every entry.
fn level_field<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for (name, value) in pairs {
        if !matches!(name.as_bytes().first(), Some(b'l' | b'L' | b's' | b'S')) {
            continue;
        }
        if let Some(priority) = LEVEL_FIELDS.iter().position(|field| *field == name)
            && best.is_none_or(|(best_priority, _)| priority < best_priority)
        {
            best = Some((priority, value));
        }
    }
    best.map(|(_, value)| value)
}

/// Known spellings (case-insensitive) to Loki's level names; anything else unchanged.
fn normalize_level(level: &str) -> std::borrow::Cow<'_, str> {
    match known_level(level) {
        Some(known) => known.into(),
        None => level.into(),
    }
}

fn known_level(level: &str) -> Option<&'static str> {
    const SPELLINGS: &[(&str, &str)] = &[
        ("trace", "trace"),
        ("trc", "trace"),
        ("debug", "debug"),
        ("dbg", "debug"),
        ("info", "info"),
        ("inf", "info"),
        ("information", "info"),
        ("warn", "warn"),
        ("wrn", "warn"),
        ("warning", "warn"),
        ("error", "error"),
        ("err", "error"),
        ("critical", "critical"),
        ("fatal", "fatal"),
    ];
    SPELLINGS.iter().find(|(spelling, _)| spelling.eq_ignore_ascii_case(level)).map(|(_, known)| *known)
}

/// OTLP severity numbers (1–4 trace, 5–8 debug, 9–12 info, 13–16 warn, 17–20 error, 21–24 fatal).
fn level_of_severity_number(number: &str) -> &'static str {
    match number.parse::<i64>() {
        Err(_) => "info",
        Ok(0) => "unknown",
        Ok(1..=4) => "trace",
        Ok(5..=8) => "debug",
        Ok(9..=12) => "info",
        Ok(13..=16) => "warn",
        Ok(17..=20) => "error",
        Ok(21..=24) => "fatal",
        Ok(_) => "unknown",
    }
}

fn level_of_line(line: &str) -> String {
    let trimmed = line.trim();
    let field_value = if trimmed.starts_with('{') && trimmed.ends_with('}') {
        json_level_field(trimmed)
    } else if line.contains('=') {
        logfmt_level_field(line)
    } else {
        return level_word(line).to_string();
    };
    match field_value.as_deref().and_then(known_level) {
        Some(level) => level.to_string(),
        None => level_word(line).to_string(),
    }
}

/// The earliest level word in the line standing between word boundaries (Loki's `detectLevelFromLogLine`).
///
/// One pass over the line: a word can only start at the line's start or after a left-boundary byte, so only
/// those positions are compared (ASCII case-insensitively) with the level words; the first that is followed by a
/// right-boundary byte (or the end) wins. This runs on every pushed line, so it allocates nothing.
fn level_word(line: &str) -> &'static str {
    const PATTERNS: &[(&[u8], &str)] = &[
        (b"trace", "trace"),
        (b"debug", "debug"),
        (b"fatal", "fatal"),
        (b"critical", "critical"),
        (b"error", "error"),
        (b"err", "error"),
        (b"warning", "warn"),
        (b"warn", "warn"),
        (b"info", "info"),
    ];
    const LEFT: &[u8] = b" \t\n[({\"'=|";
    const RIGHT: &[u8] = b" \t\n[]({}):,!\"'=|";
    const fn table(bytes: &[u8]) -> [bool; 256] {
        let mut table = [false; 256];
        let mut index = 0;
        while index < bytes.len() {
            table[bytes[index] as usize] = true;
            index += 1;
        }
        table
    }
    const IS_LEFT: [bool; 256] = table(LEFT);
    const IS_RIGHT: [bool; 256] = table(RIGHT);
    let bytes = line.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        if start == 0 || IS_LEFT[bytes[start - 1] as usize] {
            let first = bytes[start].to_ascii_lowercase();
            if matches!(first, b't' | b'd' | b'f' | b'c' | b'e' | b'w' | b'i') {
                for (word, level) in PATTERNS {
                    let end = start + word.len();
                    if word[0] == first
                        && end <= bytes.len()
                        && bytes[start..end].eq_ignore_ascii_case(word)
                        && bytes.get(end).is_none_or(|c| IS_RIGHT[*c as usize])
                    {
                        return level;
                    }
                }
            }
        }
        start += 1;
    }
    "unknown"
}

/// The value of the highest-priority level field of a logfmt line (keys compared case-insensitively).
fn logfmt_level_field(line: &str) -> Option<String> {
    let mut best: Option<(usize, String)> = None;
    for (key, value) in logfmt_pairs(line) {
        let Some(priority) = LEVEL_FIELDS.iter().position(|field| field.eq_ignore_ascii_case(key)) else {
            continue;
        };
        if best.as_ref().is_none_or(|(best_priority, _)| priority < *best_priority) {
            best = Some((priority, value));
            if priority == 0 {
                break;
            }
        }
    }
    best.map(|(_, value)| value)
}

/// `key=value` and `key="quoted value"` pairs of a logfmt line; bare words are skipped.
fn logfmt_pairs(line: &str) -> impl Iterator<Item = (&str, String)> {
    let bytes = line.as_bytes();
    let mut position = 0;
    std::iter::from_fn(move || {
        loop {
            while position < bytes.len() && bytes[position] <= b' ' {
                position += 1;
            }
            if position >= bytes.len() {
                return None;
            }
            let key_start = position;
            while position < bytes.len() && bytes[position] > b' ' && bytes[position] != b'=' {
                position += 1;
            }
            let key = &line[key_start..position];
            if bytes.get(position) != Some(&b'=') {
                continue;
            }
            position += 1;
            let value = if bytes.get(position) == Some(&b'"') {
                position += 1;
                let mut value = String::new();
                while position < bytes.len() && bytes[position] != b'"' {
                    if bytes[position] == b'\\' && position + 1 < bytes.len() {
                        position += 1;
                    }
                    let next = line[position..].chars().next().unwrap_or(' ');
                    value.push(next);
                    position += next.len_utf8();
                }
                position += 1;
                value
            } else {
                let value_start = position;
                while position < bytes.len() && bytes[position] > b' ' {
                    position += 1;
                }
                line[value_start..position].to_string()
            };
            return Some((key, value));
        }
    })
}

/// The first level field (in document order, at most [`JSON_MAX_DEPTH`] objects deep) holding a string.
fn json_level_field(line: &str) -> Option<String> {
    let mut found = None;
    let mut deserializer = serde_json::Deserializer::from_str(line);
    // Stopping early is signalled with an error; a malformed line simply yields nothing.
    let _ = LevelFieldSeed { depth: 0, found: &mut found }.deserialize(&mut deserializer);
    found
}

struct LevelFieldSeed<'a> {
    depth: usize,
    found: &'a mut Option<String>,
}

const FOUND: &str = "level field found";

impl<'de> DeserializeSeed<'de> for LevelFieldSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for LevelFieldSeed<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(LevelKey(is_level)) = map.next_key::<LevelKey>()? {
            map.next_value_seed(FieldValueSeed { is_level, depth: self.depth, found: &mut *self.found })?;
            if self.found.is_some() {
                return Err(de::Error::custom(FOUND));
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

/// An object key, read without allocating: whether it is one of [`LEVEL_FIELDS`].
struct LevelKey(bool);

impl<'de> Deserialize<'de> for LevelKey {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = LevelKey;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("an object key")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<LevelKey, E> {
                Ok(LevelKey(LEVEL_FIELDS.contains(&key)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct FieldValueSeed<'a> {
    is_level: bool,
    depth: usize,
    found: &'a mut Option<String>,
}

impl<'de> DeserializeSeed<'de> for FieldValueSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FieldValueSeed<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<(), E> {
        if self.is_level {
            *self.found = Some(text.to_string());
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        if self.depth + 1 < JSON_MAX_DEPTH {
            return LevelFieldSeed { depth: self.depth + 1, found: self.found }.visit_map(map);
        }
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use oxeye_model::Labels;

    use super::*;

    fn detect(labels: &[(&str, &str)], metadata: &[(&str, &str)], line: &str) -> String {
        let labels = Labels::from_pairs(labels.iter().copied()).unwrap();
        let mut builder = MetadataBuilder::default();
        for (name, value) in metadata {
            builder.set(*name, *value);
        }
        add_detected_level(&labels, &mut builder, line);
        builder.get(DETECTED_LEVEL).unwrap_or("").to_string()
    }

    #[test]
    fn levels_come_from_fields_severity_and_lines() {
        let f = |labels: &[(&str, &str)], metadata: &[(&str, &str)], line: &str, want: &str| {
            assert_eq!(detect(labels, metadata, line), want, "{labels:?} {metadata:?} {line}");
        };
        f(&[], &[("detected_level", "WARNING")], "error", "warn");
        f(&[("level", "ERR")], &[("severity_text", "info")], "", "error");
        f(&[], &[("severity_text", "Information")], "", "info");
        f(&[], &[("severity", "notice")], "", "notice");
        f(&[], &[("severity_number", "17")], "", "error");
        f(&[], &[("severity_number", "0")], "", "unknown");
        f(&[], &[("severity_number", "x")], "", "info");
        f(&[], &[], r#"{"msg":"x","level":"DEBUG"}"#, "debug");
        f(&[], &[], r#"{"log":{"severity":"warn"}}"#, "warn");
        f(&[], &[], r#"{"a":{"b":{"level":"note"}}}"#, "unknown");
        // Too deep for the field search, but the word search still finds it.
        f(&[], &[], r#"{"a":{"b":{"level":"warn"}}}"#, "warn");
        f(&[], &[], r#"{"msg":"an error happened"}"#, "error");
        f(&[], &[], r#"ts=1 lvl=info msg="x""#, "info");
        f(&[], &[], r#"ts=1 msg="x" LEVEL="fatal""#, "fatal");
        f(&[], &[], "something failed: error opening file", "error");
        f(&[], &[], "[WARN] disk almost full", "warn");
        f(&[], &[], "misc:error terror", "unknown");
        f(&[], &[], "info then error", "info");
        f(&[], &[], "", "unknown");
    }
}
