//! Splits a TraceQL query into tokens, following Tempo's lexer (`pkg/traceql/lexer.go`).
//!
//! Attributes are read whole: after a scope (`span.`, `resource.`, `event.`, `link.`, `instrumentation.`, or a bare
//! `.`) every rune up to whitespace or one of `{}()=~!<>&|^,` belongs to the name, so `span.http.status_code` and
//! `span.a-b` are single attributes; `"…"` segments may quote any rune (escapes `\"` and `\\`). Scoped intrinsics
//! (`span:duration`) are one token too. A number followed by duration units (`1h30m`, `1.5s`, `100ms`) is a duration.

use crate::error::ParseError;
use crate::parser::ast::{AttributeScope, Intrinsic};

/// Keywords that are not literals or intrinsics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Keyword {
    Count,
    Avg,
    Max,
    Min,
    Sum,
    By,
    Coalesce,
    Select,
    Rate,
    CountOverTime,
    MinOverTime,
    MaxOverTime,
    AvgOverTime,
    SumOverTime,
    QuantileOverTime,
    HistogramOverTime,
    Compare,
    TopK,
    BottomK,
    With,
}

impl Keyword {
    fn from_word(word: &str) -> Option<Keyword> {
        Some(match word {
            "count" => Keyword::Count,
            "avg" => Keyword::Avg,
            "max" => Keyword::Max,
            "min" => Keyword::Min,
            "sum" => Keyword::Sum,
            "by" => Keyword::By,
            "coalesce" => Keyword::Coalesce,
            "select" => Keyword::Select,
            "rate" => Keyword::Rate,
            "count_over_time" => Keyword::CountOverTime,
            "min_over_time" => Keyword::MinOverTime,
            "max_over_time" => Keyword::MaxOverTime,
            "avg_over_time" => Keyword::AvgOverTime,
            "sum_over_time" => Keyword::SumOverTime,
            "quantile_over_time" => Keyword::QuantileOverTime,
            "histogram_over_time" => Keyword::HistogramOverTime,
            "compare" => Keyword::Compare,
            "topk" => Keyword::TopK,
            "bottomk" => Keyword::BottomK,
            "with" => Keyword::With,
            _ => return None,
        })
    }

    pub(crate) fn text(self) -> &'static str {
        match self {
            Keyword::Count => "count",
            Keyword::Avg => "avg",
            Keyword::Max => "max",
            Keyword::Min => "min",
            Keyword::Sum => "sum",
            Keyword::By => "by",
            Keyword::Coalesce => "coalesce",
            Keyword::Select => "select",
            Keyword::Rate => "rate",
            Keyword::CountOverTime => "count_over_time",
            Keyword::MinOverTime => "min_over_time",
            Keyword::MaxOverTime => "max_over_time",
            Keyword::AvgOverTime => "avg_over_time",
            Keyword::SumOverTime => "sum_over_time",
            Keyword::QuantileOverTime => "quantile_over_time",
            Keyword::HistogramOverTime => "histogram_over_time",
            Keyword::Compare => "compare",
            Keyword::TopK => "topk",
            Keyword::BottomK => "bottomk",
            Keyword::With => "with",
        }
    }

    pub(crate) fn is_metrics_function(self) -> bool {
        matches!(
            self,
            Keyword::Rate
                | Keyword::CountOverTime
                | Keyword::MinOverTime
                | Keyword::MaxOverTime
                | Keyword::AvgOverTime
                | Keyword::SumOverTime
                | Keyword::QuantileOverTime
                | Keyword::HistogramOverTime
                | Keyword::Compare
        )
    }

    pub(crate) fn is_aggregate(self) -> bool {
        matches!(self, Keyword::Count | Keyword::Avg | Keyword::Max | Keyword::Min | Keyword::Sum)
    }
}

/// Punctuation and operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Punct {
    OpenBrace,
    CloseBrace,
    OpenParen,
    CloseParen,
    Comma,
    Eq,
    Neq,
    Re,
    Nre,
    Gt,
    Gte,
    Lt,
    Lte,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    And,
    Or,
    Not,
    Pipe,
    Desc,
    Ance,
    Sibling,
    NotChild,
    NotParent,
    NotDesc,
    NotAnce,
    UnionChild,
    UnionParent,
    UnionDesc,
    UnionAnce,
    UnionSibling,
}

/// Operator spellings, longest first so the scanner takes the longest match (`!>>` before `!>` before `!`).
const PUNCTUATION: &[(&str, Punct)] = &[
    ("!>>", Punct::NotDesc),
    ("!<<", Punct::NotAnce),
    ("&>>", Punct::UnionDesc),
    ("&<<", Punct::UnionAnce),
    ("!=", Punct::Neq),
    ("=~", Punct::Re),
    ("!~", Punct::Nre),
    (">=", Punct::Gte),
    ("<=", Punct::Lte),
    ("&&", Punct::And),
    ("||", Punct::Or),
    (">>", Punct::Desc),
    ("<<", Punct::Ance),
    ("!>", Punct::NotChild),
    ("!<", Punct::NotParent),
    ("&>", Punct::UnionChild),
    ("&<", Punct::UnionParent),
    ("&~", Punct::UnionSibling),
    ("{", Punct::OpenBrace),
    ("}", Punct::CloseBrace),
    ("(", Punct::OpenParen),
    (")", Punct::CloseParen),
    (",", Punct::Comma),
    ("=", Punct::Eq),
    (">", Punct::Gt),
    ("<", Punct::Lt),
    ("+", Punct::Add),
    ("-", Punct::Sub),
    ("*", Punct::Mul),
    ("/", Punct::Div),
    ("%", Punct::Mod),
    ("^", Punct::Pow),
    ("!", Punct::Not),
    ("|", Punct::Pipe),
    ("~", Punct::Sibling),
];

impl Punct {
    pub(crate) fn text(self) -> &'static str {
        PUNCTUATION.iter().find(|(_, punct)| *punct == self).map(|(text, _)| *text).unwrap_or("?")
    }
}

/// One token.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum TokenKind {
    Eof,
    /// A word that is neither a keyword nor a literal (`minInt`/`maxInt` are read as integers).
    Ident(String),
    Str(String),
    Int(i64),
    Float(f64),
    /// Nanoseconds.
    Duration(i64),
    True,
    False,
    Nil,
    Status(oxeye_model::StatusCode),
    Kind(oxeye_model::SpanKind),
    Attribute {
        scope: AttributeScope,
        name: String,
    },
    Intrinsic(Intrinsic),
    Keyword(Keyword),
    Punct(Punct),
}

impl TokenKind {
    /// How a syntax error names the token, as Tempo's generated parser does (`$end`, `IDENTIFIER`, `{`).
    pub(crate) fn describe(&self) -> String {
        match self {
            TokenKind::Eof => "$end".to_string(),
            TokenKind::Ident(_) => "IDENTIFIER".to_string(),
            TokenKind::Str(_) => "STRING".to_string(),
            TokenKind::Int(_) => "INTEGER".to_string(),
            TokenKind::Float(_) => "FLOAT".to_string(),
            TokenKind::Duration(_) => "DURATION".to_string(),
            TokenKind::True => "true".to_string(),
            TokenKind::False => "false".to_string(),
            TokenKind::Nil => "nil".to_string(),
            TokenKind::Status(status) => status.name().to_string(),
            TokenKind::Kind(kind) => kind.name().to_string(),
            TokenKind::Attribute { scope, .. } => scope.prefix().to_string(),
            TokenKind::Intrinsic(intrinsic) => intrinsic.name().to_string(),
            TokenKind::Keyword(keyword) => keyword.text().to_string(),
            TokenKind::Punct(punct) => punct.text().to_string(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token {
    pub(crate) kind: TokenKind,
    /// Byte offset of the token's first character.
    pub(crate) offset: usize,
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_column(input: &str, offset: usize) -> (usize, usize) {
    let before = &input[..offset.min(input.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|index| index + 1).unwrap_or(0);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Tokenizes the whole query.
pub(crate) fn tokenize(input: &str) -> Result<Vec<Token>, ParseError> {
    let mut lexer = Lexer { input, position: 0 };
    let mut tokens = Vec::new();
    loop {
        let token = lexer.next_token()?;
        let is_end = token.kind == TokenKind::Eof;
        tokens.push(token);
        if is_end {
            return Ok(tokens);
        }
    }
}

struct Lexer<'a> {
    input: &'a str,
    position: usize,
}

/// Runes that end an unquoted attribute name (Tempo's `isAttributeRune` is their complement).
fn ends_attribute(character: char) -> bool {
    character.is_whitespace()
        || matches!(character, '{' | '}' | '(' | ')' | '=' | '~' | '!' | '<' | '>' | '&' | '|' | '^' | ',')
}

/// Whether an attribute name can be printed without quotes after `scope_prefix`.
pub(crate) fn attribute_needs_quotes(name: &str, scope: AttributeScope) -> bool {
    if name.is_empty() || name.contains('"') || name.chars().any(ends_attribute) {
        return true;
    }
    // `.5x` would read as the number `.5`; a bare `.` scope needs a non-digit first rune.
    scope == AttributeScope::Unscoped && name.starts_with(|first: char| first.is_ascii_digit())
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        &self.input[self.position..]
    }

    fn peek_char(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn error(&self, message: impl Into<String>, offset: usize) -> ParseError {
        let (line, column) = line_column(self.input, offset);
        ParseError::at(message, line, column)
    }

    fn next_token(&mut self) -> Result<Token, ParseError> {
        let trimmed = self.rest().trim_start();
        self.position = self.input.len() - trimmed.len();
        let start = self.position;
        let Some(first) = self.peek_char() else {
            return Ok(Token { kind: TokenKind::Eof, offset: start });
        };
        let kind = if first.is_ascii_digit()
            || (first == '.' && self.rest()[1..].starts_with(|next: char| next.is_ascii_digit()))
        {
            self.number()?
        } else if first == '"' || first == '`' {
            TokenKind::Str(self.string()?)
        } else if first == '.' {
            self.position += 1;
            self.attribute(AttributeScope::Unscoped, start)?
        } else if first.is_alphabetic() || first == '_' {
            self.word(start)?
        } else {
            let Some((text, punct)) = PUNCTUATION.iter().find(|(text, _)| self.rest().starts_with(text)) else {
                return Err(self.error(format!("syntax error: unexpected {first}"), start));
            };
            self.position += text.len();
            TokenKind::Punct(*punct)
        };
        Ok(Token { kind, offset: start })
    }

    /// An identifier-like word: a keyword, a literal, an intrinsic, a scope that starts an attribute
    /// (`span.`) or a scoped intrinsic (`span:id`).
    fn word(&mut self, start: usize) -> Result<TokenKind, ParseError> {
        let length = self
            .rest()
            .find(|character: char| !(character.is_alphanumeric() || character == '_'))
            .unwrap_or(self.rest().len());
        let word = &self.input[start..start + length];
        self.position += length;

        let scope = match word {
            "span" => Some(AttributeScope::Span),
            "resource" => Some(AttributeScope::Resource),
            "event" => Some(AttributeScope::Event),
            "link" => Some(AttributeScope::Link),
            "instrumentation" => Some(AttributeScope::Instrumentation),
            _ => None,
        };
        let next = self.peek_char();
        if next == Some('.') {
            if let Some(scope) = scope {
                self.position += 1;
                return self.attribute(scope, start);
            }
            if word == "parent" {
                return Err(self.error("parent not yet supported", start));
            }
        }
        if next == Some(':') && matches!(word, "span" | "trace" | "event" | "link" | "instrumentation") {
            self.position += 1;
            let trimmed = self.rest().trim_start();
            self.position = self.input.len() - trimmed.len();
            let name_length = self
                .rest()
                .find(|character: char| !(character.is_alphanumeric() || character == '_'))
                .unwrap_or(self.rest().len());
            let name = &self.input[self.position..self.position + name_length];
            let Some(intrinsic) = Intrinsic::from_scoped(word, name) else {
                let shown = if name.is_empty() { "$end".to_string() } else { name.to_string() };
                return Err(self.error(format!("syntax error: unexpected {shown} after {word}:"), self.position));
            };
            self.position += name_length;
            return Ok(TokenKind::Intrinsic(intrinsic));
        }

        use oxeye_model::{SpanKind, StatusCode};
        Ok(match word {
            "true" => TokenKind::True,
            "false" => TokenKind::False,
            "nil" => TokenKind::Nil,
            "ok" => TokenKind::Status(StatusCode::Ok),
            "error" => TokenKind::Status(StatusCode::Error),
            "unset" => TokenKind::Status(StatusCode::Unset),
            "unspecified" => TokenKind::Kind(SpanKind::Unspecified),
            "internal" => TokenKind::Kind(SpanKind::Internal),
            "server" => TokenKind::Kind(SpanKind::Server),
            "client" => TokenKind::Kind(SpanKind::Client),
            "producer" => TokenKind::Kind(SpanKind::Producer),
            "consumer" => TokenKind::Kind(SpanKind::Consumer),
            "minInt" => TokenKind::Int(i64::MIN),
            "maxInt" => TokenKind::Int(i64::MAX),
            "parent" => return Err(self.error("intrinsic (parent) not yet supported", start)),
            "nestedSetLeft" | "nestedSetRight" | "nestedSetParent" => {
                return Err(self.error(format!("intrinsic ({word}) not supported"), start));
            }
            _ => {
                if let Some(intrinsic) = Intrinsic::from_unscoped(word) {
                    TokenKind::Intrinsic(intrinsic)
                } else if let Some(keyword) = Keyword::from_word(word) {
                    TokenKind::Keyword(keyword)
                } else {
                    TokenKind::Ident(word.to_string())
                }
            }
        })
    }

    /// The name after a scope prefix: unquoted runes and quoted segments, up to a rune that ends attributes.
    fn attribute(&mut self, scope: AttributeScope, start: usize) -> Result<TokenKind, ParseError> {
        let mut name = String::new();
        let mut quoted_any = false;
        while let Some(character) = self.peek_char() {
            if character == '"' {
                quoted_any = true;
                self.quoted_attribute_segment(&mut name)?;
            } else if ends_attribute(character) {
                break;
            } else {
                name.push(character);
                self.position += character.len_utf8();
            }
        }
        if name.is_empty() && !quoted_any {
            return Err(self.error("syntax error: unexpected END_ATTRIBUTE, expecting IDENTIFIER", start));
        }
        Ok(TokenKind::Attribute { scope, name })
    }

    fn quoted_attribute_segment(&mut self, name: &mut String) -> Result<(), ParseError> {
        let quote_offset = self.position;
        self.position += 1;
        loop {
            let Some(character) = self.peek_char() else {
                return Err(self.error("unexpected EOF, expecting \"", quote_offset));
            };
            self.position += character.len_utf8();
            match character {
                '"' => return Ok(()),
                '\\' => match self.peek_char() {
                    Some(escaped @ ('"' | '\\')) => {
                        name.push(escaped);
                        self.position += 1;
                    }
                    _ => return Err(self.error("invalid escape sequence", self.position - 1)),
                },
                other => name.push(other),
            }
        }
    }

    /// A double-quoted string with Go escapes, or a backquoted raw string.
    fn string(&mut self) -> Result<String, ParseError> {
        let start = self.position;
        let quote = self.peek_char().unwrap_or('"');
        self.position += 1;
        let mut text = String::new();
        loop {
            let Some(character) = self.peek_char() else {
                return Err(self.error("literal not terminated", start));
            };
            self.position += character.len_utf8();
            if character == quote {
                return Ok(text);
            }
            if quote == '"' && character == '\n' {
                return Err(self.error("literal not terminated", start));
            }
            if quote == '`' || character != '\\' {
                text.push(character);
                continue;
            }
            let escape_offset = self.position - 1;
            let Some(escaped) = self.peek_char() else {
                return Err(self.error("literal not terminated", start));
            };
            self.position += escaped.len_utf8();
            let decoded = match escaped {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                'a' => '\x07',
                'b' => '\x08',
                'f' => '\x0c',
                'v' => '\x0b',
                '\\' => '\\',
                '"' => '"',
                '\'' => '\'',
                'x' => self.hex_escape(2, escape_offset)?,
                'u' => self.hex_escape(4, escape_offset)?,
                'U' => self.hex_escape(8, escape_offset)?,
                '0'..='7' => {
                    let digits = &self.input[self.position - 1..];
                    let octal: String = digits.chars().take(3).collect();
                    let value = u32::from_str_radix(&octal, 8)
                        .ok()
                        .filter(|_| octal.len() == 3)
                        .and_then(char::from_u32)
                        .ok_or_else(|| self.error("invalid syntax", escape_offset))?;
                    self.position += 2;
                    value
                }
                _ => return Err(self.error("invalid syntax", escape_offset)),
            };
            text.push(decoded);
        }
    }

    fn hex_escape(&mut self, digits: usize, escape_offset: usize) -> Result<char, ParseError> {
        let hex = self.rest().get(..digits).ok_or_else(|| self.error("invalid syntax", escape_offset))?;
        let value = u32::from_str_radix(hex, 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| self.error("invalid syntax", escape_offset))?;
        self.position += digits;
        Ok(value)
    }

    /// An integer, a float or (when units follow) a duration.
    fn number(&mut self) -> Result<TokenKind, ParseError> {
        let start = self.position;
        let bytes = self.input.as_bytes();
        let mut end = start;
        let mut is_float = false;
        while end < bytes.len() && bytes[end].is_ascii_digit() {
            end += 1;
        }
        if end < bytes.len() && bytes[end] == b'.' {
            is_float = true;
            end += 1;
            while end < bytes.len() && bytes[end].is_ascii_digit() {
                end += 1;
            }
        }
        if end < bytes.len() && (bytes[end] == b'e' || bytes[end] == b'E') {
            let mut exponent_end = end + 1;
            if exponent_end < bytes.len() && (bytes[exponent_end] == b'+' || bytes[exponent_end] == b'-') {
                exponent_end += 1;
            }
            let digits_start = exponent_end;
            while exponent_end < bytes.len() && bytes[exponent_end].is_ascii_digit() {
                exponent_end += 1;
            }
            if exponent_end > digits_start {
                is_float = true;
                end = exponent_end;
            }
        }
        let number_text = &self.input[start..end];

        // Tempo reads the runes that may continue a duration (digits, '.', unit letters) up to whitespace and keeps
        // them only if the whole text parses as a duration.
        let tail_length = self.input[end..]
            .find(|character: char| {
                !(character.is_ascii_digit()
                    || character == '.'
                    || matches!(character, 'n' | 's' | 'u' | 'm' | 'h' | 'µ' | 'μ' | 'd' | 'w' | 'y'))
            })
            .unwrap_or(self.input.len() - end);
        if tail_length > 0 {
            let duration_text = &self.input[start..end + tail_length];
            if let Some(nanos) = parse_duration(duration_text) {
                self.position = end + tail_length;
                return Ok(TokenKind::Duration(nanos));
            }
        }
        self.position = end;
        if is_float {
            let value: f64 = number_text.parse().map_err(|_| self.error("invalid float literal", start))?;
            if !value.is_finite() {
                return Err(self.error(format!("float {number_text} out of range"), start));
            }
            return Ok(TokenKind::Float(value));
        }
        number_text
            .parse::<i64>()
            .map(TokenKind::Int)
            .map_err(|_| self.error(format!("strconv.Atoi: parsing \"{number_text}\": value out of range"), start))
    }
}

/// Parses a duration as Go's `time.ParseDuration` and Prometheus' `model.ParseDuration` accept it together:
/// one or more `<number><unit>` with units `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`, `d`, `w`, `y`; numbers may have a
/// fraction. Returns nanoseconds, or `None` if the text is not a duration or overflows.
pub(crate) fn parse_duration(text: &str) -> Option<i64> {
    const UNITS: &[(&str, u128)] = &[
        ("ns", 1),
        ("us", 1_000),
        ("µs", 1_000),
        ("μs", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
        ("d", 86_400_000_000_000),
        ("w", 604_800_000_000_000),
        ("y", 31_536_000_000_000_000),
    ];
    let mut rest = text;
    let mut total: u128 = 0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let integer_length = rest.find(|character: char| !character.is_ascii_digit()).unwrap_or(rest.len());
        let integer_text = &rest[..integer_length];
        rest = &rest[integer_length..];
        let mut fraction_text = "";
        if let Some(after_dot) = rest.strip_prefix('.') {
            let fraction_length =
                after_dot.find(|character: char| !character.is_ascii_digit()).unwrap_or(after_dot.len());
            fraction_text = &after_dot[..fraction_length];
            rest = &after_dot[fraction_length..];
        }
        if integer_text.is_empty() && fraction_text.is_empty() {
            return None;
        }
        // Longest unit first: "ms" before "m", "ns" before "s".
        let (unit_text, unit_nanos) =
            UNITS.iter().filter(|(unit, _)| rest.starts_with(unit)).max_by_key(|(unit, _)| unit.len())?;
        rest = &rest[unit_text.len()..];
        let integer: u128 = if integer_text.is_empty() { 0 } else { integer_text.parse().ok()? };
        total = total.checked_add(integer.checked_mul(*unit_nanos)?)?;
        if !fraction_text.is_empty() {
            let digits = fraction_text.len().min(30) as u32;
            let fraction: u128 = fraction_text[..digits as usize].parse().ok()?;
            total = total.checked_add(fraction.checked_mul(*unit_nanos)? / 10u128.checked_pow(digits)?)?;
        }
    }
    i64::try_from(total).ok()
}

/// Formats nanoseconds as Go's `time.Duration.String` does (`1h30m0s`, `1.5s`, `100ms`, `1µs`, `0s`), which is how
/// Tempo prints durations in queries and search results.
pub fn format_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_string();
    }
    let mut text = String::new();
    if nanos < 0 {
        text.push('-');
    }
    let magnitude = nanos.unsigned_abs();
    if magnitude < 1_000_000_000 {
        let (divisor, unit) = if magnitude < 1_000 {
            (1, "ns")
        } else if magnitude < 1_000_000 {
            (1_000, "µs")
        } else {
            (1_000_000, "ms")
        };
        push_with_fraction(&mut text, magnitude, divisor);
        text.push_str(unit);
        return text;
    }
    let hours = magnitude / 3_600_000_000_000;
    let minutes = magnitude % 3_600_000_000_000 / 60_000_000_000;
    let second_nanos = magnitude % 60_000_000_000;
    if hours > 0 {
        text.push_str(&hours.to_string());
        text.push('h');
    }
    if hours > 0 || minutes > 0 {
        text.push_str(&minutes.to_string());
        text.push('m');
    }
    push_with_fraction(&mut text, second_nanos, 1_000_000_000);
    text.push('s');
    text
}

fn push_with_fraction(text: &mut String, value: u64, divisor: u64) {
    text.push_str(&(value / divisor).to_string());
    let fraction = value % divisor;
    if fraction == 0 {
        return;
    }
    let width = divisor.ilog10() as usize;
    let digits = format!("{fraction:0width$}");
    text.push('.');
    text.push_str(digits.trim_end_matches('0'));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_go_and_prometheus() {
        let f = |text: &str, want: Option<i64>| assert_eq!(parse_duration(text), want, "{text}");
        f("1s", Some(1_000_000_000));
        f("1.5s", Some(1_500_000_000));
        f("100ms", Some(100_000_000));
        f("3us", Some(3_000));
        f("3µs", Some(3_000));
        f("7ns", Some(7));
        f("1h30m", Some(5_400_000_000_000));
        f("2m", Some(120_000_000_000));
        f("1d", Some(86_400_000_000_000));
        f("1w", Some(604_800_000_000_000));
        f("1", None);
        f("1x", None);
        f("s", None);
        f("1.5", None);
    }

    #[test]
    fn durations_format_like_go() {
        let f = |nanos: i64, want: &str| {
            assert_eq!(format_duration(nanos), want);
            assert_eq!(parse_duration(want.trim_start_matches('-')).map(|v| v * nanos.signum()), Some(nanos));
        };
        f(1_000_000_000, "1s");
        f(1_500_000_000, "1.5s");
        f(100_000_000, "100ms");
        f(1_500, "1.5µs");
        f(12, "12ns");
        f(3_600_000_000_000, "1h0m0s");
        f(5_430_000_000_000, "1h30m30s");
        f(90_000_000_000, "1m30s");
        f(-2_000_000, "-2ms");
        assert_eq!(format_duration(0), "0s");
    }

    #[test]
    fn line_and_column_count_characters() {
        assert_eq!(line_column("{ a }", 2), (1, 3));
        assert_eq!(line_column("{\n  µ }", 4), (2, 3));
    }
}
