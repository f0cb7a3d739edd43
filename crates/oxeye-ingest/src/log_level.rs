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
    let from_labels = LEVEL_FIELDS.iter().find_map(|field| stream_labels.get(field));
    let from_metadata = || LEVEL_FIELDS.iter().find_map(|field| metadata.get(field));
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
fn level_word(line: &str) -> &'static str {
    const PATTERNS: &[(&str, &str)] = &[
        ("trace", "trace"),
        ("debug", "debug"),
        ("fatal", "fatal"),
        ("critical", "critical"),
        ("error", "error"),
        ("err", "error"),
        ("warning", "warn"),
        ("warn", "warn"),
        ("info", "info"),
    ];
    let lower = line.to_ascii_lowercase();
    let mut best: Option<(usize, &'static str)> = None;
    for (word, level) in PATTERNS {
        let Some(position) = bounded_position(&lower, word) else {
            continue;
        };
        if best.is_none_or(|(best_position, _)| position < best_position) {
            best = Some((position, level));
            if position == 0 {
                break;
            }
        }
    }
    best.map_or("unknown", |(_, level)| level)
}

fn bounded_position(text: &str, word: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let left_boundary =
        |position: Option<usize>| position.and_then(|p| bytes.get(p)).is_none_or(|c| b" \t\n[({\"'=|".contains(c));
    let right_boundary = |position: usize| bytes.get(position).is_none_or(|c| b" \t\n[]({}):,!\"'=|".contains(c));
    let mut offset = 0;
    while let Some(found) = text.get(offset..).and_then(|rest| rest.find(word)) {
        let start = offset + found;
        if left_boundary(start.checked_sub(1)) && right_boundary(start + word.len()) {
            return Some(start);
        }
        offset = start + 1;
    }
    None
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
        while let Some(key) = map.next_key::<String>()? {
            map.next_value_seed(FieldValueSeed { key: &key, depth: self.depth, found: &mut *self.found })?;
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

struct FieldValueSeed<'a, 'k> {
    key: &'k str,
    depth: usize,
    found: &'a mut Option<String>,
}

impl<'de> DeserializeSeed<'de> for FieldValueSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FieldValueSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<(), E> {
        if LEVEL_FIELDS.contains(&self.key) {
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
