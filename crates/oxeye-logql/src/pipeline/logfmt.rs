//! The `logfmt` parser, with Loki's decoder semantics: bare keys have an empty value (dropped unless
//! `--keep-empty`), quoted values are unescaped, malformed pairs are skipped (or, with `--strict`, stop parsing and
//! set `__error__="LogfmtParserErr"`); with parameters (`| logfmt a, b="c"`) only the listed keys become labels, and
//! every listed label exists afterwards (empty when absent).

use crate::parser::ast::LabelExtraction;
use crate::pipeline::json::{append_sanitized, unescape};
use crate::pipeline::labels::{Category, RowLabels};

pub(crate) const LOGFMT_ERROR: &str = "LogfmtParserErr";

/// One decoded key/value; `value` is `None` for `key` and `key=`.
struct Pair<'l> {
    key: &'l str,
    value: Option<std::borrow::Cow<'l, str>>,
}

/// A syntax error, rendered like Loki's (`logfmt syntax error at pos 5 : unexpected '='`).
struct SyntaxError {
    position: usize,
    message: String,
}

/// Loki's logfmt decoder over one line.
struct Decoder<'l> {
    line: &'l str,
    position: usize,
    error: Option<SyntaxError>,
}

impl<'l> Decoder<'l> {
    fn at_end(&self) -> bool {
        self.position >= self.line.len()
    }

    fn fail(&mut self, message: impl Into<String>) {
        self.error = Some(SyntaxError { position: self.position + 1, message: message.into() });
    }

    /// Skips to the next whitespace after an error.
    fn skip_value(&mut self) {
        let bytes = self.line.as_bytes();
        while self.position < bytes.len() && bytes[self.position] > b' ' {
            self.position += 1;
        }
    }

    /// The next pair; `None` at the end of the line or after a malformed pair.
    fn next_pair(&mut self) -> Option<Pair<'l>> {
        let bytes = self.line.as_bytes();
        while self.position < bytes.len() && bytes[self.position] <= b' ' {
            self.position += 1;
        }
        if self.position >= bytes.len() {
            return None;
        }
        let start = self.position;
        while self.position < bytes.len() {
            match bytes[self.position] {
                b'=' => break,
                b'"' => {
                    self.fail("unexpected '\"'");
                    self.skip_value();
                    return None;
                }
                byte if byte <= b' ' => return Some(Pair { key: &self.line[start..self.position], value: None }),
                _ => self.position += 1,
            }
        }
        if self.position >= bytes.len() {
            return Some(Pair { key: &self.line[start..], value: None });
        }
        if self.position == start {
            self.fail("unexpected '='");
            self.skip_value();
            return None;
        }
        let key = &self.line[start..self.position];
        self.position += 1;
        if self.position >= bytes.len() || bytes[self.position] <= b' ' {
            return Some(Pair { key, value: None });
        }
        if bytes[self.position] == b'"' {
            let quote_start = self.position;
            let mut index = self.position + 1;
            let mut escaped = false;
            let mut has_escape = false;
            while index < bytes.len() {
                match bytes[index] {
                    _ if escaped => escaped = false,
                    b'\\' => {
                        escaped = true;
                        has_escape = true;
                    }
                    b'"' => {
                        self.position = index + 1;
                        let body = &self.line[quote_start + 1..index];
                        if !has_escape {
                            return Some(Pair { key, value: (!body.is_empty()).then_some(body.into()) });
                        }
                        return match unescape(body) {
                            Some(value) => Some(Pair { key, value: Some(value.into()) }),
                            None => {
                                self.fail("invalid quoted value");
                                None
                            }
                        };
                    }
                    _ => {}
                }
                index += 1;
            }
            self.position = bytes.len();
            self.fail("unterminated quoted value");
            return None;
        }
        let value_start = self.position;
        while self.position < bytes.len() {
            match bytes[self.position] {
                byte @ (b'=' | b'"') => {
                    self.fail(format!("unexpected {:?}", byte as char));
                    self.skip_value();
                    return None;
                }
                byte if byte <= b' ' => break,
                _ => self.position += 1,
            }
        }
        Some(Pair { key, value: Some(self.line[value_start..self.position].into()) })
    }
}

/// Parsed pairs in line order; with `strict`, stops at the first malformed pair and returns the error text.
pub(crate) fn decode<'l>(line: &'l str, strict: bool, mut visit: impl FnMut(&'l str, &str)) -> Option<String> {
    let mut decoder = Decoder { line, position: 0, error: None };
    while !decoder.at_end() {
        match decoder.next_pair() {
            Some(pair) => visit(pair.key, pair.value.as_deref().unwrap_or("")),
            None if strict && decoder.error.is_some() => break,
            None => {}
        }
    }
    let error = decoder.error.filter(|_| strict)?;
    Some(format!("logfmt syntax error at pos {} : {}", error.position, error.message))
}

/// `| logfmt [--strict] [--keep-empty] [params]`.
#[derive(Debug)]
pub(crate) struct LogfmtParser {
    strict: bool,
    keep_empty: bool,
    /// (label, key) of the parameters; empty to extract everything.
    expressions: Vec<(String, String)>,
}

impl LogfmtParser {
    pub(crate) fn new(strict: bool, keep_empty: bool, extractions: &[LabelExtraction]) -> Result<Self, String> {
        let mut expressions = Vec::with_capacity(extractions.len());
        for extraction in extractions {
            let key = extraction.expression.trim();
            if key.is_empty() || key.contains(char::is_whitespace) {
                return Err(format!("cannot parse expression [{}]: syntax error", extraction.expression));
            }
            expressions.push((extraction.label.clone(), key.to_string()));
        }
        Ok(LogfmtParser { strict, keep_empty, expressions })
    }

    pub(crate) fn process(
        &self,
        line: &str,
        labels: &mut RowLabels<'_>,
        key_buffer: &mut String,
        suffixed: &mut String,
    ) {
        if self.expressions.is_empty() {
            let error = decode(line, self.strict, |key, value| {
                key_buffer.clear();
                append_sanitized(key_buffer, key);
                if key_buffer.is_empty() || (!self.keep_empty && value.is_empty()) {
                    return;
                }
                let name = labels.parsed_name(key_buffer, suffixed);
                if !labels.was_extracted(name) {
                    labels.set(Category::Parsed, name, value);
                }
            });
            if let Some(details) = error {
                labels.set_error(LOGFMT_ERROR, Some(&details));
            }
            return;
        }
        for (label, _) in &self.expressions {
            if !labels.base_has(label) && !labels.has_in_category(label, Category::StructuredMetadata) {
                labels.set(Category::Parsed, label, "");
            }
        }
        let error = decode(line, self.strict, |key, value| {
            key_buffer.clear();
            append_sanitized(key_buffer, key);
            let Some((label, _)) = self.expressions.iter().find(|(_, wanted)| wanted == key_buffer) else {
                return;
            };
            let name = labels.parsed_name(label, suffixed);
            labels.set(Category::Parsed, name, value);
        });
        if let Some(details) = error {
            labels.set_error(LOGFMT_ERROR, Some(&details));
        }
    }
}

#[cfg(test)]
mod tests {
    use oxeye_model::Labels;

    use super::*;
    use crate::pipeline::labels::LabelBuffers;

    fn run(parser: &LogfmtParser, line: &str) -> Vec<String> {
        let base = Labels::from_pairs([("app", "api")]).unwrap();
        let mut buffers = LabelBuffers::default();
        let mut row = buffers.row(&base);
        parser.process(line, &mut row, &mut String::new(), &mut String::new());
        let mut out = Vec::new();
        row.for_each(|name, value, category| {
            if category != Category::Stream {
                out.push(format!("{name}={value}"));
            }
        });
        out.sort();
        out
    }

    fn extraction(label: &str, expression: &str) -> LabelExtraction {
        LabelExtraction { label: label.into(), expression: expression.into() }
    }

    #[test]
    fn parses_like_loki() {
        let parser = LogfmtParser::new(false, false, &[]).unwrap();
        assert_eq!(
            run(&parser, r#"level=info msg="hello \"world\"" app=x empty= bare 1st=y a.b=z level=dup"#),
            ["_1st=y", "a_b=z", "app_extracted=x", "level=info", "msg=hello \"world\""]
        );
        // Malformed pairs are skipped without --strict.
        assert_eq!(run(&parser, r#"a=1 =2 b"c c=3"#), ["a=1", "c=3"]);
        let keep_empty = LogfmtParser::new(false, true, &[]).unwrap();
        assert_eq!(run(&keep_empty, "a= b"), ["a=", "b="]);
    }

    #[test]
    fn strict_mode_stops_at_errors() {
        let parser = LogfmtParser::new(true, false, &[]).unwrap();
        assert_eq!(
            run(&parser, r#"a=1 b="unterminated c=3"#),
            [
                "__error__=LogfmtParserErr",
                "__error_details__=logfmt syntax error at pos 24 : unterminated quoted value",
                "a=1"
            ]
        );
        assert_eq!(
            run(&parser, "a=1 =2 c=3"),
            ["__error__=LogfmtParserErr", "__error_details__=logfmt syntax error at pos 5 : unexpected '='", "a=1"]
        );
    }

    #[test]
    fn parameters_select_keys() {
        let parser = LogfmtParser::new(
            false,
            false,
            &[extraction("lvl", "level"), extraction("app", "app"), extraction("gone", "gone")],
        )
        .unwrap();
        assert_eq!(run(&parser, "level=warn app=x other=1"), ["app_extracted=x", "gone=", "lvl=warn"]);
    }
}
