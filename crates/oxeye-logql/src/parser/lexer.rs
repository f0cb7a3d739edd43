//! The LogQL lexer.
//!
//! Mirrors Loki's lexer (a Go `text/scanner` plus LogQL rules) closely enough that the same inputs produce the same
//! tokens and errors point at the same places:
//! - `[…]` is one `RANGE` token holding a Prometheus duration;
//! - a number directly followed by duration or byte-size characters (`5m`, `1.5s`, `10KB`) is a `DURATION` or
//!   `BYTES` token; `-5m` is a negative duration, `--strict`/`--keep-empty` are parser flags;
//! - keywords are case-insensitive; function names (`rate`, `sum`, `bytes`, `ip`, …) are only keywords when the next
//!   non-space character is `(` (or `by`/`without` followed by `(`), otherwise they are identifiers;
//! - `#…` and Go comments (`//…`, `/*…*/`) are skipped; any other character is an `IDENTIFIER` of its own.
//!
//! Token positions follow Go's scanner, including one quirk: tokens the lexer completes by reading ahead (two-character
//! operators, durations, ranges, flags) report line 0, because Go's `Scanner.Next` resets the token line.

use crate::error::ParseError;
use crate::units::{parse_humanized_bytes, parse_logql_duration, parse_prometheus_duration};

/// A token of the LogQL grammar.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Token {
    Identifier(String),
    String(String),
    Number(String),
    Duration(i64),
    Bytes(u64),
    Range(i64),
    Flag(String),
    Comma,
    Dot,
    OpenBrace,
    CloseBrace,
    OpenParen,
    CloseParen,
    CloseBracket,
    Eq,
    Neq,
    Re,
    Nre,
    Npa,
    PipeExact,
    PipeMatch,
    PipePattern,
    Pipe,
    CmpEq,
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
    Keyword(Keyword),
    Function(Function),
    Eof,
}

/// Words that are always keywords.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Keyword {
    By,
    Without,
    Bool,
    Offset,
    On,
    Ignoring,
    GroupLeft,
    GroupRight,
    Or,
    And,
    Unless,
    Json,
    Regexp,
    Logfmt,
    Unpack,
    Pattern,
    LabelFormat,
    LineFormat,
    Decolorize,
    Drop,
    Keep,
    Unwrap,
}

const KEYWORDS: [(&str, Keyword); 22] = [
    ("by", Keyword::By),
    ("without", Keyword::Without),
    ("bool", Keyword::Bool),
    ("offset", Keyword::Offset),
    ("on", Keyword::On),
    ("ignoring", Keyword::Ignoring),
    ("group_left", Keyword::GroupLeft),
    ("group_right", Keyword::GroupRight),
    ("or", Keyword::Or),
    ("and", Keyword::And),
    ("unless", Keyword::Unless),
    ("json", Keyword::Json),
    ("regexp", Keyword::Regexp),
    ("logfmt", Keyword::Logfmt),
    ("unpack", Keyword::Unpack),
    ("pattern", Keyword::Pattern),
    ("label_format", Keyword::LabelFormat),
    ("line_format", Keyword::LineFormat),
    ("decolorize", Keyword::Decolorize),
    ("drop", Keyword::Drop),
    ("keep", Keyword::Keep),
    ("unwrap", Keyword::Unwrap),
];

impl Keyword {
    pub(crate) fn as_str(self) -> &'static str {
        KEYWORDS.iter().find(|(_, keyword)| *keyword == self).map_or("", |(text, _)| text)
    }
}

/// Words that are keywords only in function position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Function {
    Range(crate::parser::ast::RangeOp),
    Vector(crate::parser::ast::VectorOp),
    /// `vector(…)`
    VectorLiteral,
    LabelReplace,
    Bytes,
    Duration,
    DurationSeconds,
    Ip,
    /// `approx_topk`: recognised so that it is reported, not evaluated.
    ApproxTopk,
}

fn lookup_function(word: &str) -> Option<Function> {
    use crate::parser::ast::{RangeOp, VectorOp};
    if let Some(op) = RangeOp::ALL.iter().find(|op| op.as_str() == word) {
        return Some(Function::Range(*op));
    }
    if let Some(op) = VectorOp::ALL.iter().find(|op| op.as_str() == word) {
        return Some(Function::Vector(*op));
    }
    Some(match word {
        "vector" => Function::VectorLiteral,
        "label_replace" => Function::LabelReplace,
        "bytes" => Function::Bytes,
        "duration" => Function::Duration,
        "duration_seconds" => Function::DurationSeconds,
        "ip" => Function::Ip,
        "approx_topk" => Function::ApproxTopk,
        _ => return None,
    })
}

impl Token {
    /// The token's name in Loki's syntax errors (`IDENTIFIER`, `STRING`, `{`, `|=`, `by`, `RATE`, `$end`).
    pub(crate) fn describe(&self) -> String {
        let text = match self {
            Token::Identifier(_) => "IDENTIFIER",
            Token::String(_) => "STRING",
            Token::Number(_) => "NUMBER",
            Token::Duration(_) => "DURATION",
            Token::Bytes(_) => "BYTES",
            Token::Range(_) => "RANGE",
            Token::Flag(_) => "FUNCTION_FLAG",
            Token::Comma => ",",
            Token::Dot => ".",
            Token::OpenBrace => "{",
            Token::CloseBrace => "}",
            Token::OpenParen => "(",
            Token::CloseParen => ")",
            Token::CloseBracket => "]",
            Token::Eq => "=",
            Token::Neq => "!=",
            Token::Re => "=~",
            Token::Nre => "!~",
            Token::Npa => "!>",
            Token::PipeExact => "|=",
            Token::PipeMatch => "|~",
            Token::PipePattern => "|>",
            Token::Pipe => "|",
            Token::CmpEq => "==",
            Token::Gt => ">",
            Token::Gte => ">=",
            Token::Lt => "<",
            Token::Lte => "<=",
            Token::Add => "+",
            Token::Sub => "-",
            Token::Mul => "*",
            Token::Div => "/",
            Token::Mod => "%",
            Token::Pow => "^",
            Token::Keyword(keyword) => keyword.as_str(),
            Token::Function(Function::LabelReplace) => "label_replace",
            Token::Function(Function::Ip) => "ip",
            Token::Function(Function::Range(op)) => return op.as_str().to_uppercase(),
            Token::Function(Function::Vector(op)) => return op.as_str().to_uppercase(),
            Token::Function(Function::VectorLiteral) => "VECTOR",
            Token::Function(Function::Bytes) => "BYTES_CONV",
            Token::Function(Function::Duration) => "DURATION_CONV",
            Token::Function(Function::DurationSeconds) => "DURATION_SECONDS_CONV",
            Token::Function(Function::ApproxTopk) => "APPROX_TOPK",
            Token::Eof => "$end",
        };
        text.to_string()
    }
}

/// A token with the position Loki would report for it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Spanned {
    pub token: Token,
    pub line: usize,
    pub column: usize,
}

/// Tokenizes the whole input. A lexical error ends the list with that error, so the parser reports it when (and
/// only if) it gets that far, as Loki's lazily-lexing parser does.
pub(crate) fn tokenize(input: &str) -> (Vec<Spanned>, Option<ParseError>) {
    let mut lexer = Lexer { chars: input.chars().collect(), position: 0, line: 1, column: 1 };
    let mut tokens = Vec::new();
    loop {
        match lexer.next_token() {
            Ok(spanned) => {
                let done = spanned.token == Token::Eof;
                tokens.push(spanned);
                if done {
                    return (tokens, None);
                }
            }
            Err(error) => {
                tokens.push(Spanned { token: Token::Eof, line: error.line, column: error.column });
                return (tokens, Some(error));
            }
        }
    }
}

struct Lexer {
    chars: Vec<char>,
    position: usize,
    line: usize,
    column: usize,
}

impl Lexer {
    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.position + offset).copied()
    }

    fn advance(&mut self) -> Option<char> {
        let character = self.chars.get(self.position).copied()?;
        self.position += 1;
        if character == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(character)
    }

    /// Skips whitespace and comments.
    fn skip_trivia(&mut self) -> Result<(), ParseError> {
        loop {
            match self.peek_at(0) {
                Some(' ' | '\t' | '\n' | '\r') => {
                    self.advance();
                }
                Some('#') => {
                    while !matches!(self.peek_at(0), None | Some('\n')) {
                        self.advance();
                    }
                }
                Some('/') if self.peek_at(1) == Some('/') => {
                    while !matches!(self.peek_at(0), None | Some('\n')) {
                        self.advance();
                    }
                }
                Some('/') if self.peek_at(1) == Some('*') => {
                    let (line, column) = (self.line, self.column);
                    self.advance();
                    self.advance();
                    loop {
                        match self.advance() {
                            None => return Err(ParseError::at("comment not terminated", line, column)),
                            Some('*') if self.peek_at(0) == Some('/') => {
                                self.advance();
                                break;
                            }
                            Some(_) => {}
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn next_token(&mut self) -> Result<Spanned, ParseError> {
        self.skip_trivia()?;
        let (line, column) = (self.line, self.column);
        let spanned = |token: Token| Spanned { token, line, column };
        // Tokens completed by reading ahead report line 0 (see the module documentation).
        let read_ahead = |token: Token| Spanned { token, line: 0, column };
        let Some(first) = self.peek_at(0) else {
            return Ok(spanned(Token::Eof));
        };
        if first == '"' || first == '`' {
            return self.string(line, column).map(|text| spanned(Token::String(text)));
        }
        if first.is_ascii_digit() || (first == '.' && self.peek_at(1).is_some_and(|c| c.is_ascii_digit())) {
            let number = self.number();
            if let Some(duration) = self.try_suffix(&number, is_duration_char, |text| parse_logql_duration(text).ok()) {
                return Ok(read_ahead(Token::Duration(duration)));
            }
            if let Some(bytes) = self.try_suffix(&number, is_bytes_char, |text| parse_humanized_bytes(text).ok()) {
                return Ok(read_ahead(Token::Bytes(bytes)));
            }
            return Ok(spanned(Token::Number(number)));
        }
        if first == '_' || first.is_alphabetic() {
            let mut word = String::new();
            while let Some(character) = self.peek_at(0) {
                if character == '_' || character.is_alphabetic() || character.is_numeric() {
                    word.push(character);
                    self.advance();
                } else {
                    break;
                }
            }
            let lower = word.to_lowercase();
            if let Some(function) = lookup_function(&lower) {
                return Ok(if self.followed_by_call() {
                    spanned(Token::Function(function))
                } else {
                    spanned(Token::Identifier(word))
                });
            }
            if let Some((_, keyword)) = KEYWORDS.iter().find(|(text, _)| *text == lower) {
                return Ok(spanned(Token::Keyword(*keyword)));
            }
            return Ok(spanned(Token::Identifier(word)));
        }
        self.advance();
        let next = self.peek_at(0);
        let two_char = match (first, next) {
            ('|', Some('=')) => Some(Token::PipeExact),
            ('|', Some('~')) => Some(Token::PipeMatch),
            ('|', Some('>')) => Some(Token::PipePattern),
            ('!', Some('=')) => Some(Token::Neq),
            ('!', Some('~')) => Some(Token::Nre),
            ('!', Some('>')) => Some(Token::Npa),
            ('=', Some('~')) => Some(Token::Re),
            ('=', Some('=')) => Some(Token::CmpEq),
            ('>', Some('=')) => Some(Token::Gte),
            ('<', Some('=')) => Some(Token::Lte),
            _ => None,
        };
        if let Some(token) = two_char {
            self.advance();
            return Ok(read_ahead(token));
        }
        let token = match first {
            '[' => return self.range(column),
            '-' => {
                if next == Some('-')
                    && let Some(flag) = self.try_flag()
                {
                    return Ok(read_ahead(Token::Flag(flag)));
                }
                if let Some(duration) = self.try_suffix("-", is_duration_char, |text| parse_logql_duration(text).ok()) {
                    return Ok(read_ahead(Token::Duration(duration)));
                }
                Token::Sub
            }
            ',' => Token::Comma,
            '.' => Token::Dot,
            '{' => Token::OpenBrace,
            '}' => Token::CloseBrace,
            '(' => Token::OpenParen,
            ')' => Token::CloseParen,
            ']' => Token::CloseBracket,
            '=' => Token::Eq,
            '|' => Token::Pipe,
            '>' => Token::Gt,
            '<' => Token::Lt,
            '+' => Token::Add,
            '*' => Token::Mul,
            '/' => Token::Div,
            '%' => Token::Mod,
            '^' => Token::Pow,
            other => Token::Identifier(other.to_string()),
        };
        Ok(spanned(token))
    }

    /// Whether the next non-space characters are `(`, or `by`/`without` followed by `(` (Loki's `isFunction`).
    fn followed_by_call(&self) -> bool {
        let mut offset = 0;
        let skip_space = |offset: &mut usize| {
            while self.peek_at(*offset).is_some_and(char::is_whitespace) {
                *offset += 1;
            }
        };
        skip_space(&mut offset);
        if self.peek_at(offset) == Some('(') {
            return true;
        }
        for word in ["by", "without"] {
            let matches_word = word.chars().enumerate().all(|(index, expected)| {
                self.peek_at(offset + index).map(|c| c.to_ascii_lowercase()) == Some(expected)
            });
            if matches_word {
                let mut after = offset + word.len();
                skip_space(&mut after);
                return self.peek_at(after) == Some('(');
            }
        }
        false
    }

    /// After `-`: `--strict` / `--keep-empty`.
    fn try_flag(&mut self) -> Option<String> {
        let mut flag = String::from("-");
        let mut offset = 0;
        while let Some(character) = self.peek_at(offset) {
            if character.is_alphabetic() || character == '-' {
                flag.push(character);
                offset += 1;
            } else {
                break;
            }
        }
        if flag != "--strict" && flag != "--keep-empty" {
            return None;
        }
        for _ in 0..offset {
            self.advance();
        }
        Some(flag)
    }

    /// Loki's `tryScanDuration`/`tryScanBytes`: the characters up to the next space that belong to the unit class,
    /// consumed only if `prefix + them` parses.
    fn try_suffix<T>(
        &mut self,
        prefix: &str,
        belongs: fn(char) -> bool,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<T> {
        let mut text = prefix.to_string();
        let mut offset = 0;
        while let Some(character) = self.peek_at(offset) {
            if character.is_whitespace() || !(character.is_numeric() || belongs(character) || character == '.') {
                break;
            }
            text.push(character);
            offset += 1;
        }
        if offset == 0 {
            return None;
        }
        let value = parse(&text)?;
        for _ in 0..offset {
            self.advance();
        }
        Some(value)
    }

    /// A Go number literal (decimal, float with exponent, or prefixed integer), as text.
    fn number(&mut self) -> String {
        let mut text = String::new();
        let prefixed = self.peek_at(0) == Some('0')
            && matches!(self.peek_at(1), Some('x' | 'X' | 'o' | 'O' | 'b' | 'B'))
            && self.peek_at(2).is_some_and(|c| c.is_ascii_hexdigit() || c == '_');
        if prefixed {
            for _ in 0..2 {
                text.extend(self.advance());
            }
            while let Some(character) = self.peek_at(0) {
                if character.is_ascii_hexdigit() || character == '_' {
                    text.extend(self.advance());
                } else {
                    break;
                }
            }
            return text;
        }
        let take_digits = |lexer: &mut Lexer, text: &mut String| {
            while let Some(character) = lexer.peek_at(0) {
                if character.is_ascii_digit() || character == '_' {
                    text.extend(lexer.advance());
                } else {
                    break;
                }
            }
        };
        take_digits(self, &mut text);
        if self.peek_at(0) == Some('.') {
            text.extend(self.advance());
            take_digits(self, &mut text);
        }
        if matches!(self.peek_at(0), Some('e' | 'E')) {
            let sign = usize::from(matches!(self.peek_at(1), Some('+' | '-')));
            if self.peek_at(1 + sign).is_some_and(|c| c.is_ascii_digit()) {
                for _ in 0..=sign {
                    text.extend(self.advance());
                }
                take_digits(self, &mut text);
            }
        }
        text
    }

    /// `[duration]`; errors report line 0 like Loki.
    fn range(&mut self, column: usize) -> Result<Spanned, ParseError> {
        let mut text = String::new();
        loop {
            match self.advance() {
                None => return Err(ParseError::at("missing closing ']' in duration", 0, column)),
                Some(']') => break,
                Some(character) => text.push(character),
            }
        }
        match parse_prometheus_duration(&text) {
            Ok(nanos) => Ok(Spanned { token: Token::Range(nanos), line: 0, column }),
            Err(message) => Err(ParseError::at(message, 0, column)),
        }
    }

    /// A double-quoted (Go escapes) or back-quoted (raw) string, unquoted.
    fn string(&mut self, line: usize, column: usize) -> Result<String, ParseError> {
        let quote = self.advance().unwrap_or('"');
        let mut out = String::new();
        if quote == '`' {
            loop {
                match self.advance() {
                    None => return Err(ParseError::at("literal not terminated", line, column)),
                    Some('`') => return Ok(out),
                    Some(character) => out.push(character),
                }
            }
        }
        let mut pending_bytes: Vec<u8> = Vec::new();
        loop {
            let Some(character) = self.advance() else {
                return Err(ParseError::at("literal not terminated", line, column));
            };
            if character != '\\' && !pending_bytes.is_empty() {
                out.push_str(&String::from_utf8_lossy(&pending_bytes));
                pending_bytes.clear();
            }
            match character {
                '\n' => return Err(ParseError::at("literal not terminated", line, column)),
                '"' => return Ok(out),
                '\\' => {
                    let Some(escape) = self.advance() else {
                        return Err(ParseError::at("literal not terminated", line, column));
                    };
                    let simple = match escape {
                        'a' => Some('\u{07}'),
                        'b' => Some('\u{08}'),
                        'f' => Some('\u{0c}'),
                        'n' => Some('\n'),
                        'r' => Some('\r'),
                        't' => Some('\t'),
                        'v' => Some('\u{0b}'),
                        '\\' => Some('\\'),
                        '"' => Some('"'),
                        _ => None,
                    };
                    if let Some(simple) = simple {
                        if !pending_bytes.is_empty() {
                            out.push_str(&String::from_utf8_lossy(&pending_bytes));
                            pending_bytes.clear();
                        }
                        out.push(simple);
                        continue;
                    }
                    let (digits, radix) = match escape {
                        '0'..='7' => (2, 8),
                        'x' => (2, 16),
                        'u' => (4, 16),
                        'U' => (8, 16),
                        _ => return Err(ParseError::at("invalid char escape", line, column)),
                    };
                    let mut code = if radix == 8 { escape.to_digit(8).unwrap_or(0) } else { 0 };
                    for _ in 0..digits {
                        let digit = self.advance().and_then(|c| c.to_digit(radix));
                        let Some(digit) = digit else {
                            return Err(ParseError::at("invalid char escape", line, column));
                        };
                        code = code * radix + digit;
                    }
                    if matches!(escape, 'x' | '0'..='7') {
                        // Byte escapes may build multi-byte UTF-8 sequences together.
                        pending_bytes.push((code & 0xff) as u8);
                    } else {
                        if !pending_bytes.is_empty() {
                            out.push_str(&String::from_utf8_lossy(&pending_bytes));
                            pending_bytes.clear();
                        }
                        match char::from_u32(code) {
                            Some(decoded) => out.push(decoded),
                            None => return Err(ParseError::at("invalid syntax", line, column)),
                        }
                    }
                }
                other => out.push(other),
            }
        }
    }
}

fn is_duration_char(character: char) -> bool {
    matches!(character, 'n' | 'u' | 'µ' | 'm' | 's' | 'h' | 'd' | 'w' | 'y')
}

fn is_bytes_char(character: char) -> bool {
    matches!(character, 'B' | 'i' | 'k' | 'K' | 'M' | 'G' | 'T' | 'P')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(input: &str) -> Vec<Token> {
        let (tokens, error) = tokenize(input);
        assert!(error.is_none(), "{input}: {error:?}");
        tokens.into_iter().map(|spanned| spanned.token).collect()
    }

    #[test]
    fn lexes_durations_bytes_and_numbers() {
        assert_eq!(
            tokens(r#"x > 10s y < 1m30s z >= 10KB w == 1.5 v = -5m"#),
            vec![
                Token::Identifier("x".into()),
                Token::Gt,
                Token::Duration(10_000_000_000),
                Token::Identifier("y".into()),
                Token::Lt,
                Token::Duration(90_000_000_000),
                Token::Identifier("z".into()),
                Token::Gte,
                Token::Bytes(10_000),
                Token::Identifier("w".into()),
                Token::CmpEq,
                Token::Number("1.5".into()),
                Token::Identifier("v".into()),
                Token::Eq,
                Token::Duration(-300_000_000_000),
                Token::Eof,
            ]
        );
        assert_eq!(tokens("1-1"), vec![Token::Number("1".into()), Token::Sub, Token::Number("1".into()), Token::Eof]);
        assert_eq!(tokens("[5m]"), vec![Token::Range(300_000_000_000), Token::Eof]);
        assert_eq!(tokens("1e3"), vec![Token::Number("1e3".into()), Token::Eof]);
    }

    #[test]
    fn functions_need_a_call() {
        use crate::parser::ast::{RangeOp, VectorOp};
        assert_eq!(tokens("rate (")[0], Token::Function(Function::Range(RangeOp::Rate)));
        assert_eq!(tokens("rate")[0], Token::Identifier("rate".into()));
        assert_eq!(tokens("sum by (a)")[0], Token::Function(Function::Vector(VectorOp::Sum)));
        assert_eq!(tokens("sum by a")[0], Token::Identifier("sum".into()));
        assert_eq!(tokens("JSON")[0], Token::Keyword(Keyword::Json));
        assert_eq!(tokens("bytes(")[0], Token::Function(Function::Bytes));
    }

    #[test]
    fn strings_and_comments() {
        assert_eq!(
            tokens("\"a\\n\\\"b\\x41\\u00e9\" `raw\\n` # comment\n--strict --keep-empty"),
            vec![
                Token::String("a\n\"bAé".into()),
                Token::String("raw\\n".into()),
                Token::Flag("--strict".into()),
                Token::Flag("--keep-empty".into()),
                Token::Eof
            ]
        );
        let (_, error) = tokenize("{foo=\"bar}");
        assert_eq!(error, Some(ParseError::at("literal not terminated", 1, 6)));
        let (_, error) = tokenize("rate({foo=\"bar\"}[5minutes])");
        assert_eq!(error, Some(ParseError::at(r#"unknown unit "minutes" in duration "5minutes""#, 0, 17)));
    }

    #[test]
    fn positions_follow_go_scanner() {
        let (spanned, _) = tokenize("{a=\"b\"} |= \"x\"\n  | json");
        let positions: Vec<(usize, usize)> = spanned.iter().map(|s| (s.line, s.column)).collect();
        assert_eq!(positions, vec![(1, 1), (1, 2), (1, 3), (1, 4), (1, 7), (0, 9), (1, 12), (2, 3), (2, 5), (2, 9)]);
    }
}
