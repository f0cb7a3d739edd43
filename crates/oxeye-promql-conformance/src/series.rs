//! Series descriptions: `metric{label="value"} 1 2+3x4 _ stale {{schema:1 count:2}}`.
//!
//! This is the notation of `load` lines and of expected results, parsed the way Prometheus's
//! `parser.ParseSeriesDesc` does (grammar rules `series_description`, `series_values` and `series_item` in
//! `promql/parser/generated_parser.y`, lexer state `lexValueSequence`):
//!
//! * `a` — one value; numbers may be signed and may be `Inf` or `NaN` (any case); `stale` is the stale marker;
//! * `_` — no sample at this position; `_xN` — N positions without a sample;
//! * `axN` — N+1 copies of `a` (note the asymmetry with `_xN`, which gives N positions);
//! * `a+bxN`, `a-bxN` — N+1 values starting at `a`, adding `b` each time (accumulated, as Prometheus does);
//! * `{{...}}`, `{{...}}xN`, `{{...}}+{{...}}xN` — native histograms, kept as text because oxeye has no
//!   histogram sample type yet.
//!
//! Hexadecimal numbers are not allowed here (Prometheus disallows them because `0x1` would be ambiguous).

use oxeye_model::{Labels, LabelsBuilder, METRIC_NAME_LABEL, STALE_NAN};

use crate::ScriptError;

/// One position of an expanded value sequence.
#[derive(Clone, Debug, PartialEq)]
pub enum SequenceValue {
    /// `_`: no sample at this position.
    Omitted,
    /// A float value; may be NaN or the stale marker ([`STALE_NAN`]).
    Float(f64),
    /// A native histogram, as written in the script (for `{{a}}+{{b}}xN`, the whole item).
    Histogram(String),
}

impl SequenceValue {
    /// The float value, if this position holds one.
    pub fn as_float(&self) -> Option<f64> {
        match self {
            SequenceValue::Float(value) => Some(*value),
            _ => None,
        }
    }
}

/// A parsed series description: its labels and its expanded values.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesDesc {
    pub labels: Labels,
    pub values: Vec<SequenceValue>,
}

impl SeriesDesc {
    /// Whether any position holds a native histogram.
    pub fn has_histogram(&self) -> bool {
        self.values.iter().any(|value| matches!(value, SequenceValue::Histogram(_)))
    }
}

fn series_error(reason: impl Into<String>) -> ScriptError {
    ScriptError::Series { reason: reason.into() }
}

/// Parses one series description line (`metric{a="b"} 1 2 3`, `{} 1+1x3`, `{"utf8.name", a="b"} _ 2`).
///
/// Fails when the label part is malformed (unterminated string, missing `=`, duplicate label) or a value item
/// does not follow the expanding notation.
pub fn parse_series_desc(line: &str) -> Result<SeriesDesc, ScriptError> {
    let (labels, rest) = parse_series_labels(line)?;
    let values = parse_values(rest)?;
    Ok(SeriesDesc { labels, values })
}

/// Parses the label part of a series description and returns the labels and the unparsed rest of the line.
pub fn parse_series_labels(line: &str) -> Result<(Labels, &str), ScriptError> {
    let mut builder = LabelsBuilder::default();
    let mut rest = line.trim_start();
    let name_len = rest
        .char_indices()
        .take_while(|&(index, c)| is_metric_name_char(c) && (index > 0 || !c.is_ascii_digit()))
        .count();
    let has_name = name_len > 0;
    if has_name {
        builder.push(METRIC_NAME_LABEL, &rest[..name_len]);
        rest = &rest[name_len..];
    }
    // As in Prometheus's lexer, the label set must follow the name directly: in `h {{...}}` the braces start a
    // native histogram value.
    if let Some(inside) = rest.strip_prefix('{').filter(|inside| !inside.starts_with('{')) {
        rest = parse_label_list(inside, &mut builder)?;
    } else if !has_name {
        return Err(series_error(format!("expected a metric name or '{{' at {:?}", truncate(line))));
    }
    let labels = builder.build().map_err(|name| series_error(format!("label {name:?} appears twice")))?;
    Ok((labels, rest))
}

fn is_metric_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

fn is_label_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Parses `a="b", "c.d"="e", "utf8.metric"}` (the text after `{`) into `builder`; returns the text after `}`.
fn parse_label_list<'a>(text: &'a str, builder: &mut LabelsBuilder) -> Result<&'a str, ScriptError> {
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix('}') {
            return Ok(after);
        }
        let name: String;
        if rest.starts_with(['"', '\'', '`']) {
            let (quoted, after) = take_quoted(rest)?;
            rest = after.trim_start();
            if !rest.starts_with('=') {
                // A lone quoted string is the metric name (`{"my.metric", a="b"}`).
                builder.push(METRIC_NAME_LABEL, quoted);
                rest = skip_label_separator(rest)?;
                continue;
            }
            name = quoted;
        } else {
            let name_len = rest.chars().take_while(|&c| is_label_name_char(c)).count();
            if name_len == 0 || rest.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(series_error(format!("expected a label name at {:?}", truncate(rest))));
            }
            name = rest[..name_len].to_string();
            rest = rest[name_len..].trim_start();
        }
        let Some(after_equals) = rest.strip_prefix('=') else {
            return Err(series_error(format!("expected '=' after label {name:?}")));
        };
        if after_equals.starts_with('~') {
            return Err(series_error(format!("label {name:?}: only '=' is allowed in a series description")));
        }
        let (value, after_value) = take_quoted(after_equals.trim_start())?;
        // Every name is pushed, even with an empty value, so that duplicates are reported; the builder then drops
        // empty values as Prometheus drops `a=""`.
        builder.push(name, value);
        rest = skip_label_separator(after_value)?;
    }
}

fn skip_label_separator(text: &str) -> Result<&str, ScriptError> {
    let rest = text.trim_start();
    if let Some(after) = rest.strip_prefix(',') {
        return Ok(after);
    }
    if rest.starts_with('}') {
        return Ok(rest);
    }
    Err(series_error(format!("expected ',' or '}}' at {:?}", truncate(rest))))
}

fn truncate(text: &str) -> String {
    text.chars().take(40).collect()
}

/// Reads a quoted string at the start of `text` (`"..."`, `'...'` or `` `...` ``) with Go's escape rules and
/// returns its value and the text after the closing quote.
pub(crate) fn take_quoted(text: &str) -> Result<(String, &str), ScriptError> {
    let mut chars = text.char_indices();
    let Some((_, quote)) = chars.next() else {
        return Err(series_error("expected a quoted string, found the end of the line"));
    };
    if !matches!(quote, '"' | '\'' | '`') {
        return Err(series_error(format!("expected a quoted string at {:?}", truncate(text))));
    }
    let mut bytes: Vec<u8> = Vec::new();
    while let Some((index, c)) = chars.next() {
        if c == quote {
            let value = String::from_utf8(bytes)
                .map_err(|_| series_error(format!("string {:?} is not valid UTF-8", &text[..=index])))?;
            return Ok((value, &text[index + 1..]));
        }
        if c != '\\' || quote == '`' {
            let mut buffer = [0u8; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
            continue;
        }
        let Some((_, escape)) = chars.next() else { break };
        match escape {
            'a' => bytes.push(0x07),
            'b' => bytes.push(0x08),
            'f' => bytes.push(0x0c),
            'n' => bytes.push(b'\n'),
            'r' => bytes.push(b'\r'),
            't' => bytes.push(b'\t'),
            'v' => bytes.push(0x0b),
            '\\' => bytes.push(b'\\'),
            '"' | '\'' if escape == quote => bytes.push(escape as u8),
            'x' => bytes.push(take_escape_digits(&mut chars, 2, 16)? as u8),
            '0'..='7' => {
                let rest_digits = take_escape_digits(&mut chars, 2, 8)?;
                let value = (escape as u32 - '0' as u32) * 64 + rest_digits;
                let byte = u8::try_from(value).map_err(|_| series_error("octal escape value above 255"))?;
                bytes.push(byte);
            }
            'u' | 'U' => {
                let digit_count = if escape == 'u' { 4 } else { 8 };
                let code = take_escape_digits(&mut chars, digit_count, 16)?;
                let decoded = char::from_u32(code).ok_or_else(|| series_error("invalid unicode escape"))?;
                let mut buffer = [0u8; 4];
                bytes.extend_from_slice(decoded.encode_utf8(&mut buffer).as_bytes());
            }
            other => return Err(series_error(format!("unknown escape sequence \\{other}"))),
        }
    }
    Err(series_error(format!("unterminated string {:?}", truncate(text))))
}

fn take_escape_digits(chars: &mut std::str::CharIndices<'_>, count: usize, radix: u32) -> Result<u32, ScriptError> {
    let mut value: u32 = 0;
    for _ in 0..count {
        let digit = chars
            .next()
            .and_then(|(_, c)| c.to_digit(radix))
            .ok_or_else(|| series_error("malformed escape sequence"))?;
        value = value * radix + digit;
    }
    Ok(value)
}

/// A token of a value sequence (Prometheus's lexer in series-description mode).
#[derive(Clone, Debug, PartialEq)]
enum Token {
    Space,
    Add,
    Sub,
    Times,
    Blank,
    Number(String),
    Identifier(String),
    Histogram(String),
}

fn tokenize_values(text: &str) -> Result<Vec<Token>, ScriptError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        let next = bytes.get(index + 1).copied();
        match byte {
            b' ' | b'\t' => {
                while index < bytes.len() && matches!(bytes[index], b' ' | b'\t') {
                    index += 1;
                }
                tokens.push(Token::Space);
            }
            b'{' if next == Some(b'{') => {
                let Some(close) = text[index..].find("}}") else {
                    return Err(series_error("unterminated native histogram '{{'"));
                };
                let end = index + close + 2;
                tokens.push(Token::Histogram(text[index..end].to_string()));
                index = end;
            }
            b'+' => {
                tokens.push(Token::Add);
                index += 1;
            }
            b'-' => {
                tokens.push(Token::Sub);
                index += 1;
            }
            b'x' => {
                tokens.push(Token::Times);
                index += 1;
            }
            b'_' => {
                tokens.push(Token::Blank);
                index += 1;
            }
            b'0'..=b'9' | b'.' if byte != b'.' || next.is_some_and(|c| c.is_ascii_digit()) => {
                let end = scan_number(bytes, index)?;
                tokens.push(Token::Number(text[index..end].to_string()));
                index = end;
            }
            b'a'..=b'z' | b'A'..=b'Z' => {
                let length = bytes[index..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'_').count();
                let word = &text[index..index + length];
                // `inf` and `nan` are number keywords in any case (lexer `key` table).
                if word.eq_ignore_ascii_case("inf") || word.eq_ignore_ascii_case("nan") {
                    tokens.push(Token::Number(word.to_string()));
                } else {
                    tokens.push(Token::Identifier(word.to_string()));
                }
                index += length;
            }
            _ => {
                let unexpected = text[index..].chars().next().unwrap_or('?');
                return Err(series_error(format!("unexpected character in series sequence: {unexpected:?}")));
            }
        }
    }
    Ok(tokens)
}

/// Scans a decimal number (digits, fraction, exponent) starting at `start`; returns its end. Like Prometheus's
/// `scanNumber` in series mode, the number must not run into letters other than the repetition `x`.
fn scan_number(bytes: &[u8], start: usize) -> Result<usize, ScriptError> {
    let mut index = start;
    let digits = |index: &mut usize| {
        while *index < bytes.len() && bytes[*index].is_ascii_digit() {
            *index += 1;
        }
    };
    digits(&mut index);
    if bytes.get(index) == Some(&b'.') {
        index += 1;
        digits(&mut index);
    }
    if matches!(bytes.get(index), Some(b'e' | b'E')) {
        index += 1;
        if matches!(bytes.get(index), Some(b'+' | b'-')) {
            index += 1;
        }
        digits(&mut index);
    }
    match bytes.get(index) {
        Some(b'x') | None => Ok(index),
        Some(next) if !next.is_ascii_alphanumeric() && *next != b'_' => Ok(index),
        Some(_) => Err(series_error(format!("bad number syntax: {:?}", String::from_utf8_lossy(&bytes[start..])))),
    }
}

fn parse_float(text: &str) -> Result<f64, ScriptError> {
    text.parse::<f64>().map_err(|_| ScriptError::Number { text: text.to_string() })
}

fn parse_repetitions(token: Option<&Token>) -> Result<u64, ScriptError> {
    match token {
        Some(Token::Number(text)) => {
            text.parse::<u64>().map_err(|_| series_error(format!("invalid repetition count {text:?}")))
        }
        other => Err(series_error(format!("expected a repetition count after 'x', found {other:?}"))),
    }
}

/// Upper bound on positions one item may expand to, so that a typo cannot exhaust memory.
const MAX_EXPANSION: u64 = 10_000_000;

fn check_expansion(count: u64) -> Result<usize, ScriptError> {
    if count > MAX_EXPANSION {
        return Err(series_error(format!("repetition count {count} is too large")));
    }
    Ok(count as usize)
}

/// Parses and expands the value part of a series description.
pub fn parse_values(text: &str) -> Result<Vec<SequenceValue>, ScriptError> {
    let tokens = tokenize_values(text.trim())?;
    let mut values = Vec::new();
    let mut position = 0;
    while position < tokens.len() {
        if tokens[position] == Token::Space {
            position += 1;
            continue;
        }
        position = parse_item(&tokens, position, &mut values)?;
        if let Some(token) = tokens.get(position)
            && *token != Token::Space
        {
            return Err(series_error(format!("unexpected {token:?} after a series item")));
        }
    }
    Ok(values)
}

/// Parses one `series_item` starting at `position`, appends its expansion and returns the next position.
fn parse_item(tokens: &[Token], start: usize, values: &mut Vec<SequenceValue>) -> Result<usize, ScriptError> {
    let mut position = start;
    let next = |offset: usize| tokens.get(start + offset);
    match &tokens[position] {
        Token::Blank => {
            position += 1;
            if next(1) == Some(&Token::Times) {
                let count = check_expansion(parse_repetitions(next(2))?)?;
                values.extend(std::iter::repeat_n(SequenceValue::Omitted, count));
                position += 2;
            } else {
                values.push(SequenceValue::Omitted);
            }
        }
        Token::Histogram(first) => {
            position += 1;
            match (next(1), next(2), next(3)) {
                (Some(Token::Times), _, _) => {
                    let count = check_expansion(parse_repetitions(next(2))?)?;
                    values.extend(std::iter::repeat_n(SequenceValue::Histogram(first.clone()), count + 1));
                    position += 2;
                }
                (Some(Token::Add | Token::Sub), Some(Token::Histogram(_)), Some(Token::Times)) => {
                    let count = check_expansion(parse_repetitions(next(4))?)?;
                    let item: String = tokens[start..start + 5].iter().map(token_text).collect();
                    values.extend(std::iter::repeat_n(SequenceValue::Histogram(item), count + 1));
                    position += 4;
                }
                _ => values.push(SequenceValue::Histogram(first.clone())),
            }
        }
        _ => {
            let (initial, consumed) = parse_series_value(tokens, position)?;
            position += consumed;
            match (tokens.get(position), tokens.get(position + 1), tokens.get(position + 2)) {
                (Some(Token::Times), _, _) => {
                    let count = check_expansion(parse_repetitions(tokens.get(position + 1))?)?;
                    values.extend(std::iter::repeat_n(SequenceValue::Float(initial), count + 1));
                    position += 2;
                }
                (Some(sign @ (Token::Add | Token::Sub)), Some(Token::Number(step_text)), Some(Token::Times)) => {
                    let magnitude = parse_float(step_text)?;
                    let step = if *sign == Token::Sub { -magnitude } else { magnitude };
                    let count = check_expansion(parse_repetitions(tokens.get(position + 3))?)?;
                    // Accumulate rather than multiply: `a + i*b` can differ in the last bit.
                    let mut current = initial;
                    for _ in 0..=count {
                        values.push(SequenceValue::Float(current));
                        current += step;
                    }
                    position += 4;
                }
                _ => values.push(SequenceValue::Float(initial)),
            }
        }
    }
    Ok(position)
}

/// Parses `series_value` (`stale`, a number or a signed number); returns the value and the tokens consumed.
fn parse_series_value(tokens: &[Token], position: usize) -> Result<(f64, usize), ScriptError> {
    match (&tokens[position], tokens.get(position + 1)) {
        (Token::Identifier(word), _) if word == "stale" => Ok((STALE_NAN, 1)),
        (Token::Number(text), _) => Ok((parse_float(text)?, 1)),
        (Token::Add, Some(Token::Number(text))) => Ok((parse_float(text)?, 2)),
        (Token::Sub, Some(Token::Number(text))) => Ok((-parse_float(text)?, 2)),
        (token, _) => Err(series_error(format!("expected a number, \"stale\", '_' or a histogram, found {token:?}"))),
    }
}

fn token_text(token: &Token) -> &str {
    match token {
        Token::Space => " ",
        Token::Add => "+",
        Token::Sub => "-",
        Token::Times => "x",
        Token::Blank => "_",
        Token::Number(text) | Token::Identifier(text) | Token::Histogram(text) => text,
    }
}

/// Parses a scalar the way promqltest's `parseNumber` does: Go's `strconv.ParseInt(s, 0, 64)` (so `0x10`,
/// `0o17`, `0b11` and a leading-zero octal `017` are integers), then `strconv.ParseFloat`.
pub fn parse_number(text: &str) -> Option<f64> {
    if let Some(integer) = parse_go_integer(text) {
        return Some(integer as f64);
    }
    // Rust's float syntax accepts what Go's does for decimal input (`1e3`, `.5`, `Inf`, `+inf`, `NaN`), but not
    // Go's hexadecimal floats (`0x1p-2`), which the scripts do not use.
    let looks_like_float = text.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'-'));
    if !looks_like_float {
        return None;
    }
    text.parse::<f64>().ok()
}

fn parse_go_integer(text: &str) -> Option<i64> {
    let (negative, unsigned) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = unsigned.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(hex) = lower.strip_prefix("0x") {
        (16, hex.to_string(), true)
    } else if let Some(binary) = lower.strip_prefix("0b") {
        (2, binary.to_string(), true)
    } else if let Some(octal) = lower.strip_prefix("0o") {
        (8, octal.to_string(), true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string(), true)
    } else {
        (10, lower.clone(), false)
    };
    // Go allows `_` between digits only when the base comes from a prefix.
    let digits = if prefixed { digits.trim_start_matches('_').replace('_', "") } else { digits };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(&digits, radix).ok()?;
    let value = if negative { -magnitude } else { magnitude };
    i64::try_from(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxeye_model::is_stale_nan;

    fn floats(text: &str) -> Vec<Option<f64>> {
        parse_values(text).unwrap().iter().map(SequenceValue::as_float).collect()
    }

    #[test]
    fn expanding_notation_matches_promtool() {
        let f = |text: &str, want: &[Option<f64>]| assert_eq!(floats(text), want, "{text}");
        f("1", &[Some(1.0)]);
        f("1 2 3", &[Some(1.0), Some(2.0), Some(3.0)]);
        f("0+10x3", &[Some(0.0), Some(10.0), Some(20.0), Some(30.0)]);
        f("10-2x2", &[Some(10.0), Some(8.0), Some(6.0)]);
        f("-1+2x2", &[Some(-1.0), Some(1.0), Some(3.0)]);
        f("5x2", &[Some(5.0), Some(5.0), Some(5.0)]);
        f("5+0x2", &[Some(5.0), Some(5.0), Some(5.0)]);
        f("_", &[None]);
        // `_xN` gives N positions, while `axN` gives N+1.
        f("_x3", &[None, None, None]);
        f("1 _x2 4", &[Some(1.0), None, None, Some(4.0)]);
        f("1.5 .5 1e3 1E+2 -1E-1", &[Some(1.5), Some(0.5), Some(1000.0), Some(100.0), Some(-0.1)]);
        f(
            "Inf -Inf +Inf inf",
            &[Some(f64::INFINITY), Some(f64::NEG_INFINITY), Some(f64::INFINITY), Some(f64::INFINITY)],
        );
        f("1\t\t2", &[Some(1.0), Some(2.0)]);
        f("", &[]);

        let nan = floats("NaN nan -NaN");
        assert!(nan.iter().all(|value| value.unwrap().is_nan()));
        let stale = floats("1 stale 3");
        assert!(is_stale_nan(stale[1].unwrap()));
        assert_eq!(stale[2], Some(3.0));
    }

    #[test]
    fn increments_accumulate_like_prometheus() {
        let values = floats("0+0.1x3");
        let mut accumulated = 0.0;
        for value in &values {
            assert_eq!(value.unwrap().to_bits(), f64::to_bits(accumulated));
            accumulated += 0.1;
        }
        assert_eq!(values.len(), 4);
    }

    #[test]
    fn histograms_occupy_positions() {
        let values = parse_values("1 {{schema:1 sum:3 count:22 buckets:[5 10 7]}} _ {{count:1}}x2").unwrap();
        assert_eq!(values.len(), 6);
        assert_eq!(values[0], SequenceValue::Float(1.0));
        assert_eq!(values[1], SequenceValue::Histogram("{{schema:1 sum:3 count:22 buckets:[5 10 7]}}".into()));
        assert_eq!(values[2], SequenceValue::Omitted);
        assert!(values[3..].iter().all(|value| *value == SequenceValue::Histogram("{{count:1}}".into())));

        let sums = parse_values("{{count:0}}+{{count:1}}x4").unwrap();
        assert_eq!(sums.len(), 5);
        assert_eq!(sums[0], SequenceValue::Histogram("{{count:0}}+{{count:1}}x4".into()));
    }

    #[test]
    fn malformed_values_are_rejected() {
        let err = |text: &str| assert!(parse_values(text).is_err(), "{text:?} should not parse");
        err("1x");
        err("1+x3");
        err("1+1");
        err("foo");
        err("1a");
        err("Infx3");
        err("1x2.5");
        err("{{count:1");
        err("1 ! 2");
    }

    #[test]
    fn series_labels_parse_every_form() {
        let f = |line: &str, pairs: &[(&str, &str)], values: usize| {
            let desc = parse_series_desc(line).unwrap_or_else(|err| panic!("{line}: {err}"));
            assert_eq!(desc.labels, Labels::from_pairs(pairs.iter().copied()).unwrap(), "{line}");
            assert_eq!(desc.values.len(), values, "{line}");
        };
        f("metric 1", &[("__name__", "metric")], 1);
        f("metric{} 1 2", &[("__name__", "metric")], 2);
        f("{} 1", &[], 1);
        f(
            "http_requests{job=\"api\", instance=\"0\"} 0+10x10",
            &[("__name__", "http_requests"), ("job", "api"), ("instance", "0")],
            11,
        );
        f("a:b:c{x='y',} 1", &[("__name__", "a:b:c"), ("x", "y")], 1);
        f("{__name__=\"up\"} 1", &[("__name__", "up")], 1);
        f("{\"some.metric\", a=\"b\"} 1", &[("__name__", "some.metric"), ("a", "b")], 1);
        f("{\"label.name\"=\"v\"} 1", &[("label.name", "v")], 1);
        f(
            "m{job=\"{count:20, sum:10}\", group=\"canary\"} 2",
            &[("__name__", "m"), ("job", "{count:20, sum:10}"), ("group", "canary")],
            1,
        );
        f("m{a=\"\"} 1", &[("__name__", "m")], 1);
        f("m{a=\"x\\\"y\\n\\u00e9\"} 1", &[("__name__", "m"), ("a", "x\"y\né")], 1);
        f("m{a=`raw\\n`} 1", &[("__name__", "m"), ("a", "raw\\n")], 1);
        f("metric", &[("__name__", "metric")], 0);
        f("h {{count:1}}", &[("__name__", "h")], 1);
    }

    #[test]
    fn malformed_labels_are_rejected() {
        let err = |line: &str| assert!(parse_series_desc(line).is_err(), "{line:?} should not parse");
        err("1 2 3");
        err("m {a=\"b\"} 1");
        err("m{a=\"b\" 1");
        err("m{a=\"b} 1");
        err("m{a} 1");
        err("m{a=b} 1");
        err("m{a=~\"b\"} 1");
        err("m{a=\"1\", a=\"2\"} 1");
        err("m{__name__=\"n\"} 1");
        err("m{a=\"\\q\"} 1");
    }

    #[test]
    fn scalars_parse_like_go_parse_number() {
        let f = |text: &str, want: Option<f64>| assert_eq!(parse_number(text), want, "{text}");
        f("1", Some(1.0));
        f("-3000", Some(-3000.0));
        f("0.001", Some(0.001));
        f("1e3", Some(1000.0));
        f("3.56528E+49", Some(3.56528e49));
        f("0x10", Some(16.0));
        f("010", Some(8.0));
        f("0b11", Some(3.0));
        f("0x_1_0", Some(16.0));
        f("Inf", Some(f64::INFINITY));
        f("-Inf", Some(f64::NEG_INFINITY));
        f("{} 1", None);
        f("metric 1", None);
        f("1_000", None);
        f("", None);
        assert!(parse_number("NaN").unwrap().is_nan());
    }
}
