//! The line parser of the Prometheus text exposition format.

use std::collections::HashMap;

use oxeye_model::{LabelsBuilder, METRIC_NAME_LABEL, MetricMetadata, MetricType, Sample, TimeSeries, WriteBatch};

use crate::DecodeError;

/// The result of parsing a text exposition: everything that parsed, and one error per line that did not.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParsedText {
    /// Samples grouped by series in order of first appearance, and the metadata of `# HELP` / `# TYPE` /
    /// `# UNIT` lines.
    pub batch: WriteBatch,
    /// One [`DecodeError::TextLine`] per line that could not be parsed; the other lines are in `batch`.
    pub errors: Vec<DecodeError>,
}

/// Parses a Prometheus text exposition (format 0.0.4; OpenMetrics' `# UNIT`, `# EOF`, float-second timestamps and
/// trailing `# {…}` exemplars are tolerated) as sent to `POST /api/v1/import/prometheus`.
///
/// A sample without a timestamp gets `default_timestamp_ms`. An integer timestamp is in milliseconds (the
/// Prometheus text format); one written as a decimal fraction or with an exponent is OpenMetrics' seconds.
/// Metric and label names may be Prometheus 3 quoted UTF-8 names (`{"my.metric", "a.b"="c"}`). Label values with
/// an empty string are dropped (Prometheus treats `a=""` as no label). Parsing stops at `# EOF`. Never fails as a
/// whole: each bad line is reported with its number and the good lines are returned.
pub fn parse_prometheus_text(input: &[u8], default_timestamp_ms: i64) -> ParsedText {
    let mut builder = TextBatchBuilder::default();
    for (index, raw_line) in input.split(|byte| *byte == b'\n').enumerate() {
        let line_number = index + 1;
        let raw_line = raw_line.strip_suffix(b"\r").unwrap_or(raw_line);
        let outcome = match std::str::from_utf8(raw_line) {
            Ok(line) => builder.parse_line(line, default_timestamp_ms),
            Err(_) => Err("line is not valid UTF-8".to_string()),
        };
        match outcome {
            Ok(LineOutcome::Continue) => {}
            Ok(LineOutcome::EndOfInput) => break,
            Err(message) => builder.errors.push(DecodeError::TextLine { line: line_number, message }),
        }
    }
    builder.finish()
}

enum LineOutcome {
    Continue,
    EndOfInput,
}

#[derive(Default)]
struct TextBatchBuilder {
    series: Vec<TimeSeries>,
    series_index: HashMap<oxeye_model::Labels, usize>,
    metadata: Vec<MetricMetadata>,
    metadata_index: HashMap<String, usize>,
    errors: Vec<DecodeError>,
}

impl TextBatchBuilder {
    fn parse_line(&mut self, line: &str, default_timestamp_ms: i64) -> Result<LineOutcome, String> {
        let content = line.trim_start_matches([' ', '\t']);
        if content.is_empty() {
            return Ok(LineOutcome::Continue);
        }
        if let Some(comment) = content.strip_prefix('#') {
            return self.parse_comment(comment);
        }
        self.parse_sample(content, default_timestamp_ms)?;
        Ok(LineOutcome::Continue)
    }

    /// `# HELP name text`, `# TYPE name type`, `# UNIT name unit`, `# EOF`; any other comment is ignored.
    fn parse_comment(&mut self, comment: &str) -> Result<LineOutcome, String> {
        let mut cursor = Cursor::new(comment);
        cursor.skip_whitespace();
        let keyword = cursor.take_while(|c| !is_whitespace(c));
        if !matches!(keyword, "HELP" | "TYPE" | "UNIT" | "EOF") {
            return Ok(LineOutcome::Continue);
        }
        if keyword == "EOF" {
            return Ok(LineOutcome::EndOfInput);
        }
        cursor.skip_whitespace();
        let family = match cursor.peek() {
            Some('"') => cursor.read_quoted().map_err(|error| format!("# {keyword}: {error}"))?,
            _ => cursor.take_while(is_metric_name_char).to_string(),
        };
        if family.is_empty() {
            return Err(format!("# {keyword} without a metric name"));
        }
        if cursor.peek().is_some_and(|c| !is_whitespace(c)) {
            return Err(format!("# {keyword}: unexpected character {:?} after metric name {family:?}", cursor.rest()));
        }
        cursor.skip_whitespace();
        let text = cursor.rest();
        let metadata = self.metadata_entry(family.clone());
        match keyword {
            "HELP" => metadata.help = unescape_help(text),
            "UNIT" => metadata.unit = text.trim_end_matches([' ', '\t']).to_string(),
            _ => {
                let type_name = text.trim_end_matches([' ', '\t']);
                if !KNOWN_TYPES.contains(&type_name) {
                    return Err(format!("# TYPE for {family:?}: unknown type {type_name:?}"));
                }
                metadata.metric_type = MetricType::parse(type_name);
            }
        }
        Ok(LineOutcome::Continue)
    }

    fn metadata_entry(&mut self, family: String) -> &mut MetricMetadata {
        let index = match self.metadata_index.get(&family) {
            Some(&index) => index,
            None => {
                self.metadata_index.insert(family.clone(), self.metadata.len());
                self.metadata.push(MetricMetadata {
                    metric_family: family,
                    metric_type: MetricType::Unknown,
                    help: String::new(),
                    unit: String::new(),
                });
                self.metadata.len() - 1
            }
        };
        &mut self.metadata[index]
    }

    /// `name{label="value",…} value [timestamp]`, or `{"name", label="value",…} value [timestamp]`.
    fn parse_sample(&mut self, content: &str, default_timestamp_ms: i64) -> Result<(), String> {
        let mut cursor = Cursor::new(content);
        let mut metric_name = cursor.take_while(is_metric_name_char).to_string();
        if metric_name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(format!("metric name {metric_name:?} starts with a digit"));
        }
        let mut labels: Vec<(String, String)> = Vec::new();
        let name_end = cursor.position();
        cursor.skip_whitespace();
        if cursor.eat('{') {
            self.parse_labels(&mut cursor, &mut metric_name, &mut labels)?;
        } else if cursor.position() == name_end
            && let Some(unexpected) = cursor.peek()
        {
            return Err(if metric_name.is_empty() {
                format!("unexpected character {unexpected:?} where a metric name was expected")
            } else {
                format!(
                    "unexpected character {unexpected:?} after metric name {metric_name:?} \
                     (names with other characters must be quoted: {{\"name\"}})"
                )
            });
        }
        if metric_name.is_empty() {
            return Err("missing metric name".to_string());
        }
        cursor.skip_whitespace();
        let value_text = cursor.take_while(|c| !is_whitespace(c));
        if value_text.is_empty() {
            return Err(format!("missing value for metric {metric_name:?}"));
        }
        let value = parse_value(value_text).ok_or_else(|| format!("invalid value {value_text:?}"))?;
        cursor.skip_whitespace();
        let mut timestamp_ms = default_timestamp_ms;
        if cursor.peek().is_some_and(|c| c != '#') {
            let timestamp_text = cursor.take_while(|c| !is_whitespace(c));
            timestamp_ms =
                parse_timestamp(timestamp_text).ok_or_else(|| format!("invalid timestamp {timestamp_text:?}"))?;
            cursor.skip_whitespace();
        }
        // Anything left must be an OpenMetrics exemplar (`# {trace_id="…"} 1.0`), which is ignored.
        if cursor.peek().is_some_and(|c| c != '#') {
            return Err(format!("unexpected text after the sample: {:?}", cursor.rest()));
        }

        let mut builder = LabelsBuilder::with_capacity(labels.len() + 1);
        builder.push(METRIC_NAME_LABEL, metric_name);
        for (name, label_value) in labels {
            builder.push(name, label_value);
        }
        let series_labels = builder.build().map_err(|duplicate| format!("duplicate label name {duplicate:?}"))?;
        let sample = Sample::new(timestamp_ms, value);
        match self.series_index.get(&series_labels) {
            Some(&index) => self.series[index].samples.push(sample),
            None => {
                self.series_index.insert(series_labels.clone(), self.series.len());
                self.series.push(TimeSeries { labels: series_labels, samples: vec![sample], exemplars: Vec::new() });
            }
        }
        Ok(())
    }

    /// The label list after `{`, up to and including `}`. A quoted string not followed by `=` is the metric name.
    fn parse_labels(
        &self,
        cursor: &mut Cursor<'_>,
        metric_name: &mut String,
        labels: &mut Vec<(String, String)>,
    ) -> Result<(), String> {
        loop {
            cursor.skip_whitespace();
            if cursor.eat('}') {
                return Ok(());
            }
            let name = match cursor.peek() {
                Some('"') => cursor.read_quoted()?,
                Some(c) if is_label_name_start(c) => cursor.take_while(is_label_name_char).to_string(),
                Some(c) => {
                    return Err(format!("unexpected character {c:?} where a label name was expected"));
                }
                None => return Err("unterminated label list (missing '}')".to_string()),
            };
            cursor.skip_whitespace();
            if cursor.eat('=') {
                cursor.skip_whitespace();
                if !cursor.eat('"') {
                    return Err(format!("expected '\"' to start the value of label {name:?}"));
                }
                let value = cursor.read_until_quote().map_err(|error| format!("label {name:?}: {error}"))?;
                labels.push((name, value));
            } else if metric_name.is_empty() && matches!(cursor.peek(), Some(',' | '}')) {
                *metric_name = name;
            } else if !metric_name.is_empty() && matches!(cursor.peek(), Some(',' | '}')) {
                return Err(format!("metric name given twice ({metric_name:?} and {name:?})"));
            } else {
                return Err(format!("expected '=' after label name {name:?}"));
            }
            cursor.skip_whitespace();
            if cursor.eat('}') {
                return Ok(());
            }
            if !cursor.eat(',') {
                return Err(match cursor.peek() {
                    Some(c) => format!(
                        "expected ',' or '}}' after label {:?}, got {c:?}",
                        labels.last().map_or(metric_name.as_str(), |l| l.0.as_str())
                    ),
                    None => "unterminated label list (missing '}')".to_string(),
                });
            }
        }
    }

    fn finish(self) -> ParsedText {
        ParsedText { batch: WriteBatch { series: self.series, metadata: self.metadata }, errors: self.errors }
    }
}

/// Type names of `# TYPE` (0.0.4's, plus OpenMetrics').
const KNOWN_TYPES: &[&str] =
    &["counter", "gauge", "histogram", "summary", "untyped", "unknown", "gaugehistogram", "stateset", "info"];

fn is_whitespace(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn is_metric_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

fn is_label_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_label_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// A sample value: a float, `NaN`, `+Inf`, `-Inf` (case-insensitive, as Go's `strconv.ParseFloat`).
fn parse_value(text: &str) -> Option<f64> {
    text.parse::<f64>().ok()
}

/// An integer is milliseconds; a decimal fraction or exponent is OpenMetrics' seconds.
fn parse_timestamp(text: &str) -> Option<i64> {
    if let Ok(milliseconds) = text.parse::<i64>() {
        return Some(milliseconds);
    }
    let seconds: f64 = text.parse().ok()?;
    let milliseconds = (seconds * 1000.0).round();
    // `as` saturates; reject what does not fit instead of silently clamping.
    (milliseconds.is_finite() && milliseconds.abs() < 9.2e18).then_some(milliseconds as i64)
}

/// HELP text escapes: `\\` and `\n`; any other backslash is kept as it is.
fn unescape_help(text: &str) -> String {
    let mut unescaped = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            unescaped.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => unescaped.push('\\'),
            Some('n') => unescaped.push('\n'),
            Some(other) => {
                unescaped.push('\\');
                unescaped.push(other);
            }
            None => unescaped.push('\\'),
        }
    }
    unescaped
}

/// A position in one line; every split happens at an ASCII character, so always on a char boundary.
struct Cursor<'a> {
    text: &'a str,
    position: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Self { text, position: 0 }
    }

    fn position(&self) -> usize {
        self.position
    }

    fn rest(&self) -> &'a str {
        &self.text[self.position..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn eat(&mut self, expected: char) -> bool {
        if self.peek() == Some(expected) {
            self.position += expected.len_utf8();
            true
        } else {
            false
        }
    }

    fn skip_whitespace(&mut self) {
        self.take_while(is_whitespace);
    }

    fn take_while(&mut self, predicate: impl Fn(char) -> bool) -> &'a str {
        let rest = self.rest();
        let length = rest.find(|c: char| !predicate(c)).unwrap_or(rest.len());
        self.position += length;
        &rest[..length]
    }

    /// A `"…"` string starting at the cursor (used for quoted names).
    fn read_quoted(&mut self) -> Result<String, String> {
        if !self.eat('"') {
            return Err("expected '\"'".to_string());
        }
        self.read_until_quote()
    }

    /// The rest of a quoted string whose opening quote was consumed, unescaping `\\`, `\"` and `\n` (other
    /// backslashes are kept, as Prometheus and VictoriaMetrics do).
    fn read_until_quote(&mut self) -> Result<String, String> {
        let mut value = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((offset, c)) = chars.next() {
            match c {
                '"' => {
                    self.position += offset + 1;
                    return Ok(value);
                }
                '\\' => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, other)) => {
                        value.push('\\');
                        value.push(other);
                    }
                    None => break,
                },
                c => value.push(c),
            }
        }
        Err("unterminated quoted string (missing closing '\"')".to_string())
    }
}
