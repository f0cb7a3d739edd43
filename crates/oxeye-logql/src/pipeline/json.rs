//! The `json` parser (all fields, or selected paths) and `unpack`, over a small lazy JSON scanner.
//!
//! The scanner behaves like the `jsonparser` library Loki uses: it walks an object key by key, calls back for each
//! value before looking further, and reports the first malformation with jsonparser's messages (labels extracted
//! before the malformation are kept, as in Loki).
//!
//! - `| json`: string, number and boolean leaves become labels; nested keys are joined with `_`
//!   (`{"a":{"b":1}}` gives `a_b="1"`); keys are sanitized to `[a-zA-Z0-9_]` with a `_` before a leading digit;
//!   arrays and nulls are skipped; numbers keep their text.
//! - `| json a="b.c[0]"`: the value at each path (strings unescaped, objects and arrays as raw JSON, missing or
//!   `null` as an empty label).
//! - `| unpack`: the top-level string fields of a Promtail "packed" object become labels and `_entry` the line.

use std::borrow::Cow;

use crate::pipeline::labels::{Category, RowLabels};

pub(crate) const JSON_ERROR: &str = "JSONParserErr";

const MALFORMED_JSON: &str = "Malformed JSON error";
const MALFORMED_STRING: &str = "Value is string, but can't find closing '\"' symbol";
const MALFORMED_ARRAY: &str = "Value is array, but can't find closing ']' symbol";
const MALFORMED_OBJECT: &str = "Value looks like object, but can't find closing '}' symbol";
const MALFORMED_VALUE: &str = "Value looks like Number/Boolean/None, but can't find its end: ',' or '}' symbol";
const UNKNOWN_VALUE: &str = "Unknown value type";
const MALFORMED_ESCAPE: &str = "Encountered an invalid escape sequence in a string";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    String,
    Number,
    Bool,
    Null,
    Object,
    Array,
}

/// A value found by the scanner: its kind and raw text (for strings, the text between the quotes, still escaped).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawValue<'a> {
    pub kind: Kind,
    pub raw: &'a str,
    escaped: bool,
}

impl<'a> RawValue<'a> {
    /// The value as a label: unescaped strings (invalid code points become spaces), raw text otherwise.
    pub(crate) fn text(&self) -> Cow<'a, str> {
        if self.kind == Kind::String && self.escaped {
            Cow::Owned(unescape(self.raw).unwrap_or_default())
        } else {
            Cow::Borrowed(self.raw)
        }
    }
}

fn skip_whitespace(bytes: &[u8], mut position: usize) -> usize {
    while position < bytes.len() && matches!(bytes[position], b' ' | b'\t' | b'\n' | b'\r') {
        position += 1;
    }
    position
}

/// The end of a string whose opening quote is at `position - 1`: returns (index after the closing quote, escaped).
fn string_end(bytes: &[u8], position: usize) -> Option<(usize, bool)> {
    let mut escaped = false;
    let mut index = position;
    while index < bytes.len() {
        match bytes[index] {
            b'"' => {
                // Count the backslashes before the quote.
                let backslashes = bytes[position..index].iter().rev().take_while(|b| **b == b'\\').count();
                if backslashes % 2 == 0 {
                    return Some((index + 1, escaped));
                }
            }
            b'\\' => escaped = true,
            _ => {}
        }
        index += 1;
    }
    None
}

/// The end of an object or array starting at `position`, skipping strings.
fn block_end(bytes: &[u8], position: usize, open: u8, close: u8) -> Option<usize> {
    let mut depth = 0usize;
    let mut index = position;
    while index < bytes.len() {
        match bytes[index] {
            b'"' => {
                let (end, _) = string_end(bytes, index + 1)?;
                index = end;
                continue;
            }
            byte if byte == open => depth += 1,
            byte if byte == close => {
                depth -= 1;
                if depth == 0 {
                    return Some(index + 1);
                }
            }
            _ => {}
        }
        index += 1;
    }
    None
}

/// Reads the value starting at `position` (after whitespace): returns it and the index after it.
fn read_value(text: &str, position: usize) -> Result<(RawValue<'_>, usize), &'static str> {
    let bytes = text.as_bytes();
    let start = skip_whitespace(bytes, position);
    let Some(&first) = bytes.get(start) else {
        return Err(MALFORMED_JSON);
    };
    let value = |kind, from: usize, to: usize, escaped| RawValue { kind, raw: &text[from..to], escaped };
    match first {
        b'"' => {
            let (end, escaped) = string_end(bytes, start + 1).ok_or(MALFORMED_STRING)?;
            Ok((value(Kind::String, start + 1, end - 1, escaped), end))
        }
        b'{' => {
            let end = block_end(bytes, start, b'{', b'}').ok_or(MALFORMED_OBJECT)?;
            Ok((value(Kind::Object, start, end, false), end))
        }
        b'[' => {
            let end = block_end(bytes, start, b'[', b']').ok_or(MALFORMED_ARRAY)?;
            Ok((value(Kind::Array, start, end, false), end))
        }
        _ => {
            let end = bytes[start..]
                .iter()
                .position(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b',' | b'}' | b']'))
                .map_or(bytes.len(), |offset| start + offset);
            if end == bytes.len() && end == start {
                return Err(MALFORMED_VALUE);
            }
            let raw = &text[start..end];
            let kind = match first {
                b'-' | b'0'..=b'9' => Kind::Number,
                b't' if raw == "true" => Kind::Bool,
                b'f' if raw == "false" => Kind::Bool,
                b'n' if raw == "null" => Kind::Null,
                _ => return Err(UNKNOWN_VALUE),
            };
            Ok((value(kind, start, end, false), end))
        }
    }
}

/// Walks the object at `text[position..]`, calling `visit(key, value)` for each entry before reading further.
/// `visit` may stop the walk by returning false.
pub(crate) fn object_each<'t>(
    text: &'t str,
    position: usize,
    visit: &mut dyn FnMut(Cow<'t, str>, RawValue<'t>) -> Result<bool, &'static str>,
) -> Result<(), &'static str> {
    let bytes = text.as_bytes();
    let mut index = skip_whitespace(bytes, position);
    if bytes.get(index) != Some(&b'{') {
        return Err(MALFORMED_OBJECT);
    }
    index = skip_whitespace(bytes, index + 1);
    match bytes.get(index) {
        None => return Err(MALFORMED_JSON),
        Some(b'}') => return Ok(()),
        Some(_) => {}
    }
    loop {
        match bytes.get(index) {
            Some(b'"') => {}
            Some(b'}') => return Ok(()),
            _ => return Err(MALFORMED_OBJECT),
        }
        let (key_end, escaped) = string_end(bytes, index + 1).ok_or(MALFORMED_JSON)?;
        let raw_key = &text[index + 1..key_end - 1];
        let key = if escaped { Cow::Owned(unescape(raw_key).ok_or(MALFORMED_ESCAPE)?) } else { Cow::Borrowed(raw_key) };
        index = skip_whitespace(bytes, key_end);
        if bytes.get(index) != Some(&b':') {
            return Err(MALFORMED_JSON);
        }
        let (value, end) = read_value(text, index + 1)?;
        if !visit(key, value)? {
            return Ok(());
        }
        index = skip_whitespace(bytes, end);
        match bytes.get(index) {
            None => return Err(MALFORMED_ARRAY),
            Some(b'}') => return Ok(()),
            Some(b',') => index = skip_whitespace(bytes, index + 1),
            Some(_) => return Err(MALFORMED_OBJECT),
        }
        if index >= bytes.len() {
            return Err(MALFORMED_ARRAY);
        }
    }
}

/// Unescapes a JSON string body; `None` for an invalid escape. Lone surrogates become spaces (Loki replaces the
/// resulting invalid code points by spaces).
pub(crate) fn unescape(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    let mut characters = raw.chars();
    while let Some(character) = characters.next() {
        if character != '\\' {
            out.push(character);
            continue;
        }
        match characters.next()? {
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            '/' => out.push('/'),
            'b' => out.push('\u{08}'),
            'f' => out.push('\u{0c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'u' => {
                let read_hex = |characters: &mut std::str::Chars<'_>| -> Option<u32> {
                    let hex: String = characters.by_ref().take(4).collect();
                    if hex.len() != 4 {
                        return None;
                    }
                    u32::from_str_radix(&hex, 16).ok()
                };
                let code = read_hex(&mut characters)?;
                if (0xd800..0xdc00).contains(&code) {
                    let mut lookahead = characters.clone();
                    if lookahead.next() == Some('\\')
                        && lookahead.next() == Some('u')
                        && let Some(low) = read_hex(&mut lookahead).filter(|low| (0xdc00..0xe000).contains(low))
                    {
                        characters = lookahead;
                        let combined = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
                        out.push(char::from_u32(combined).unwrap_or(' '));
                        continue;
                    }
                    out.push(' ');
                } else {
                    out.push(char::from_u32(code).unwrap_or(' '));
                }
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Loki's `sanitizeLabelKey(key, true)`, appended to `out`: trimmed, `_` before a leading digit, every character
/// outside `[a-zA-Z0-9_]` replaced by `_`.
pub(crate) fn append_sanitized(out: &mut String, key: &str) {
    let key = key.trim();
    if key.is_empty() {
        return;
    }
    if out.is_empty() && key.as_bytes()[0].is_ascii_digit() {
        out.push('_');
    }
    for character in key.chars() {
        out.push(if character.is_ascii_alphanumeric() || character == '_' { character } else { '_' });
    }
}

/// `| json` without parameters.
#[derive(Debug, Default)]
pub(crate) struct JsonParser;

impl JsonParser {
    pub(crate) fn process(&self, line: &str, labels: &mut RowLabels<'_>, scratch: &mut JsonScratch) {
        scratch.prefix.clear();
        if let Err(details) = walk(line, 0, labels, scratch) {
            labels.set_error(JSON_ERROR, Some(details));
        }
    }
}

/// Reusable buffers of the JSON stages.
#[derive(Debug, Default)]
pub(crate) struct JsonScratch {
    prefix: String,
    key: String,
    suffixed: String,
}

fn walk(
    text: &str,
    position: usize,
    labels: &mut RowLabels<'_>,
    scratch: &mut JsonScratch,
) -> Result<(), &'static str> {
    object_each(text, position, &mut |key, value| {
        match value.kind {
            Kind::String | Kind::Number | Kind::Bool => {
                scratch.key.clear();
                scratch.key.push_str(&scratch.prefix);
                if !scratch.prefix.is_empty() && !key.trim().is_empty() {
                    scratch.key.push('_');
                }
                append_sanitized(&mut scratch.key, &key);
                if scratch.key.is_empty() {
                    return Ok(true);
                }
                let name = labels.parsed_name(&scratch.key, &mut scratch.suffixed);
                if !labels.was_extracted(name) {
                    labels.set(Category::Parsed, name, &value.text());
                }
            }
            Kind::Object => {
                let saved = scratch.prefix.len();
                if !scratch.prefix.is_empty() && !key.trim().is_empty() {
                    scratch.prefix.push('_');
                }
                append_sanitized(&mut scratch.prefix, &key);
                let result = walk(value.raw, 0, labels, scratch);
                scratch.prefix.truncate(saved);
                result?;
            }
            Kind::Array | Kind::Null => {}
        }
        Ok(true)
    })
}

/// One step of a `json` parameter path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PathStep {
    Key(String),
    Index(usize),
}

/// Parses `a.b[0]["c d"]` (Loki's jsonexpr grammar).
pub(crate) fn parse_path(expression: &str) -> Result<Vec<PathStep>, String> {
    let error = |message: &str| format!("cannot parse expression [{expression}]: {message}");
    let characters: Vec<char> = expression.chars().collect();
    let mut steps = Vec::new();
    let mut index = 0;
    let mut expect_field = true;
    while index < characters.len() {
        let character = characters[index];
        if character.is_whitespace() {
            index += 1;
            continue;
        }
        if character == '.' {
            if expect_field {
                return Err(error("syntax error: unexpected DOT"));
            }
            expect_field = true;
            index += 1;
            continue;
        }
        if character == '[' {
            index += 1;
            while characters.get(index).is_some_and(|c| c.is_whitespace()) {
                index += 1;
            }
            if characters.get(index) == Some(&'"') {
                index += 1;
                let start = index;
                while index < characters.len() && characters[index] != '"' && characters[index] != ']' {
                    index += 1;
                }
                steps.push(PathStep::Key(characters[start..index].iter().collect()));
                if characters.get(index) == Some(&'"') {
                    index += 1;
                }
            } else {
                let start = index;
                while characters.get(index).is_some_and(|c| c.is_ascii_digit()) {
                    index += 1;
                }
                if characters.get(index) == Some(&'.') {
                    return Err(error("cannot use float as array index"));
                }
                let digits: String = characters[start..index].iter().collect();
                steps.push(PathStep::Index(digits.parse().map_err(|_| error("syntax error: unexpected RSB"))?));
            }
            if characters.get(index) != Some(&']') {
                return Err(error("syntax error: missing RSB"));
            }
            index += 1;
            expect_field = false;
            continue;
        }
        if character.is_ascii_alphabetic() || character == '_' {
            if !expect_field {
                return Err(error("syntax error: unexpected FIELD"));
            }
            let start = index;
            while characters.get(index).is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_') {
                index += 1;
            }
            steps.push(PathStep::Key(characters[start..index].iter().collect()));
            expect_field = false;
            continue;
        }
        return Err(error(&format!("unexpected char {character}")));
    }
    if steps.is_empty() || expect_field && index > 0 && !steps.is_empty() && characters.last() == Some(&'.') {
        return Err(error("syntax error: unexpected $end"));
    }
    Ok(steps)
}

/// The value at a path, `None` if absent.
fn find_path<'t>(text: &'t str, path: &[PathStep]) -> Result<Option<RawValue<'t>>, &'static str> {
    let Some((step, rest)) = path.split_first() else {
        return Ok(None);
    };
    let mut found: Option<RawValue<'t>> = None;
    match step {
        PathStep::Key(wanted) => {
            let bytes = text.as_bytes();
            if bytes.get(skip_whitespace(bytes, 0)) != Some(&b'{') {
                return Ok(None);
            }
            object_each(text, 0, &mut |key, value| {
                if key == wanted.as_str() {
                    found = Some(value);
                    return Ok(false);
                }
                Ok(true)
            })?;
        }
        PathStep::Index(wanted) => {
            let bytes = text.as_bytes();
            let mut index = skip_whitespace(bytes, 0);
            if bytes.get(index) != Some(&b'[') {
                return Ok(None);
            }
            index = skip_whitespace(bytes, index + 1);
            let mut position = 0;
            while bytes.get(index).is_some_and(|b| *b != b']') {
                let (value, end) = read_value(text, index)?;
                if position == *wanted {
                    found = Some(value);
                    break;
                }
                position += 1;
                index = skip_whitespace(bytes, end);
                if bytes.get(index) == Some(&b',') {
                    index = skip_whitespace(bytes, index + 1);
                }
            }
        }
    }
    match found {
        Some(value) if !rest.is_empty() => match value.kind {
            Kind::Object | Kind::Array => find_path(value.raw, rest),
            _ => Ok(None),
        },
        other => Ok(other),
    }
}

/// `| json a="b.c", d="e[0]"`.
#[derive(Debug)]
pub(crate) struct JsonExpressionParser {
    expressions: Vec<(String, Vec<PathStep>)>,
}

impl JsonExpressionParser {
    pub(crate) fn new(expressions: Vec<(String, Vec<PathStep>)>) -> Self {
        JsonExpressionParser { expressions }
    }

    pub(crate) fn process(&self, line: &str, labels: &mut RowLabels<'_>, scratch: &mut JsonScratch) {
        if line.is_empty() {
            return;
        }
        if !matches!(line.as_bytes()[0], b'"' | b'{' | b'[') {
            labels.set_error(JSON_ERROR, None);
            return;
        }
        for (identifier, path) in &self.expressions {
            let name = labels.parsed_name(identifier, &mut scratch.suffixed);
            match find_path(line, path) {
                Err(details) => labels.set_error(JSON_ERROR, Some(details)),
                Ok(Some(value)) => match value.kind {
                    Kind::Null => labels.set(Category::Parsed, name, ""),
                    Kind::String => labels.set(Category::Parsed, name, &value.text()),
                    _ => labels.set(Category::Parsed, name, value.raw),
                },
                Ok(None) => {
                    if labels.get(identifier).is_none() {
                        labels.set(Category::Parsed, identifier, "");
                    }
                }
            }
        }
    }
}

/// `| unpack`: returns the unpacked `_entry` when there is one.
pub(crate) fn unpack(line: &str, labels: &mut RowLabels<'_>, scratch: &mut JsonScratch) -> Option<String> {
    if line.is_empty() {
        return None;
    }
    if line.as_bytes()[0] != b'{' {
        labels.set_error(JSON_ERROR, Some("expecting json object(6), but it is not"));
        return None;
    }
    let mut entry: Option<String> = None;
    let mut found: Vec<(String, String)> = Vec::new();
    let result = object_each(line, 0, &mut |key, value| {
        if value.kind != Kind::String {
            return Ok(true);
        }
        if key == "_entry" {
            entry = Some(unescape(value.raw).ok_or(MALFORMED_ESCAPE)?);
            return Ok(true);
        }
        let name = labels.parsed_name(&key, &mut scratch.suffixed).to_string();
        if labels.was_extracted(&name) {
            return Ok(true);
        }
        scratch.key.clear();
        append_sanitized(&mut scratch.key, &name);
        found.push((scratch.key.clone(), value.text().into_owned()));
        Ok(true)
    });
    if let Err(details) = result {
        labels.set_error(JSON_ERROR, Some(details));
        return None;
    }
    let entry = entry?;
    for (name, value) in &found {
        labels.set(Category::Parsed, name, value);
    }
    Some(entry)
}

#[cfg(test)]
mod tests;
