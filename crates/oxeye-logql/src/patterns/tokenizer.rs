//! Line tokenizers of Loki's Drain (`pkg/pattern/drain/line_tokenizer.go`) and the guess of a stream's format.
//!
//! A stream's format is guessed from its first line ([`detect_format`]) and picks the tokenizer of all its lines:
//!
//! - **punctuation** (unknown format): splits at spaces, `=` and Unicode punctuation except `_ - . : /`; each
//!   punctuation character is a token of its own, spaces are remembered (as "after token i") so the pattern can
//!   be printed back with the line's spacing;
//! - **logfmt**: the line's key/value pairs as alternating tokens, values of time and trace-id keys replaced by
//!   `<_>`; printed back with go-logfmt's encoder (values quoted when they need it);
//! - **JSON**: the first of `log`, `message`, `msg`, `msg_`, `_msg`, `content` that is a string, still escaped as
//!   in the line, tokenized by punctuation and printed between `<_>` and `<_>`.
//!
//! Lines longer than [`MAX_LINE_LENGTH`] bytes (for JSON, messages longer than that) are not tokenized. Every
//! printed pattern has runs of `<_>` collapsed into one.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::LazyLock;

use regex::Regex;

use crate::pipeline::json::{Kind, object_each};

/// The placeholder of a variable token (Loki's `ParamString`).
pub const PLACEHOLDER: &str = "<_>";
/// Longest line (or JSON message) tokenized, in bytes (Loki's `MaxAllowedLineLength`).
pub const MAX_LINE_LENGTH: usize = 3000;
/// The punctuation tokenizer stops splitting after this many tokens; the rest of the line is one last token.
const MAX_PUNCTUATION_TOKENS: usize = 127;
/// JSON fields holding the message, by priority (Loki's `pattern_ingester_tokenizable_json_fields_default`).
const JSON_MESSAGE_FIELDS: [&str; 6] = ["log", "message", "msg", "msg_", "_msg", "content"];

/// How a stream's lines are encoded, guessed from its first line (Loki's `DetectLogFormat`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Logfmt,
    Unknown,
}

/// Loki's `logfmtRegex`, with Go's ASCII-only `\w` and `\S` spelled out.
static LOGFMT_LINE: LazyLock<Regex> = LazyLock::new(|| {
    let word = "[0-9A-Za-z_]";
    let non_space = r"[^\t\n\x0C\r ]";
    let pair = format!(r#"{word}+?=([^"]{non_space}*?|".+?")"#);
    Regex::new(&format!("^({pair} )*?({pair})+$")).unwrap_or_else(|error| unreachable!("BUG: logfmt regex: {error}"))
});

/// Guesses a line's format: JSON if it is `{…}`, logfmt if it is a sequence of `key=value` pairs separated by
/// single spaces, else unknown.
pub fn detect_format(line: &str) -> LogFormat {
    let bytes = line.as_bytes();
    if bytes.len() < 2 {
        LogFormat::Unknown
    } else if bytes[0] == b'{' && bytes[bytes.len() - 1] == b'}' {
        LogFormat::Json
    } else if LOGFMT_LINE.is_match(line) {
        LogFormat::Logfmt
    } else {
        LogFormat::Unknown
    }
}

/// The text of an entry kept for mining. Lines over [`MAX_LINE_LENGTH`] bytes cannot be tokenized, so only what
/// mining still needs of them is kept: their format (in case they are their stream's first line) and, for JSON
/// streams, their message field if it is short enough.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryText {
    Line(String),
    Oversize { format: LogFormat, json_message: Option<String> },
}

impl EntryText {
    /// What mining keeps of `line`.
    pub fn new(line: &str) -> Self {
        if line.len() <= MAX_LINE_LENGTH {
            return EntryText::Line(line.to_string());
        }
        let json_message = json_message(line).filter(|message| message.len() <= MAX_LINE_LENGTH).map(str::to_string);
        EntryText::Oversize { format: detect_format(line), json_message }
    }

    /// The format of this text as a stream's first line.
    pub(crate) fn format(&self) -> LogFormat {
        match self {
            EntryText::Line(line) => detect_format(line),
            EntryText::Oversize { format, .. } => *format,
        }
    }

    /// Bytes of text held.
    pub fn retained_bytes(&self) -> usize {
        match self {
            EntryText::Line(line) => line.len(),
            EntryText::Oversize { json_message, .. } => json_message.as_ref().map_or(0, String::len),
        }
    }
}

/// The message of a JSON line: the first of [`JSON_MESSAGE_FIELDS`] present at the top level as a string, as raw
/// (still escaped) text, as Loki's `jsonparser.Get` returns it. A malformed line yields the fields read before the
/// malformation.
fn json_message(line: &str) -> Option<&str> {
    let mut found: [Option<(Kind, &str)>; JSON_MESSAGE_FIELDS.len()] = [None; JSON_MESSAGE_FIELDS.len()];
    let _ = object_each(line, 0, &mut |key, value| {
        if let Some(index) = JSON_MESSAGE_FIELDS.iter().position(|field| *field == key)
            && found[index].is_none()
        {
            found[index] = Some((value.kind, value.raw));
        }
        // The top-priority field decides at once; otherwise a higher-priority one may come later.
        Ok(!matches!(found[0], Some((Kind::String, _))))
    });
    found.iter().flatten().find(|(kind, _)| *kind == Kind::String).map(|(_, raw)| *raw)
}

/// Whether Go's `unicode.IsLetter(c) || unicode.IsNumber(c)` holds (general categories L and N).
fn is_letter_or_number(character: char) -> bool {
    static LETTER_OR_NUMBER: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^[\p{L}\p{N}]$").unwrap_or_else(|error| unreachable!("BUG: {error}")));
    if character.is_ascii() {
        return character.is_ascii_alphanumeric();
    }
    LETTER_OR_NUMBER.is_match(character.encode_utf8(&mut [0; 4]))
}

/// Whether Go's `unicode.IsPunct(c)` holds (general category P).
fn is_punctuation(character: char) -> bool {
    static PUNCTUATION: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^\p{P}$").unwrap_or_else(|error| unreachable!("BUG: {error}")));
    if character.is_ascii() {
        // ASCII punctuation less the symbols `$ + < = > ^ ` | ~` (category S in Unicode).
        return character.is_ascii_punctuation()
            && !matches!(character, '$' | '+' | '<' | '=' | '>' | '^' | '`' | '|' | '~');
    }
    PUNCTUATION.is_match(character.encode_utf8(&mut [0; 4]))
}

/// Whether a token holds a digit (Go's `unicode.IsNumber`, category N).
pub(crate) fn has_numbers(token: &str) -> bool {
    token.chars().any(char::is_numeric)
}

/// Splits `line` at spaces, `=` and punctuation other than `_ - . : /` into `tokens`; `spaces_after` gets, for
/// every space, the index of the token before it (-1 for spaces before the first token).
///
/// Deviation: Loki cuts a multi-byte punctuation character's first byte off as a token (Go slices bytes); here the
/// whole character is the token. Printed patterns are the same unless such a character sits next to a variable.
fn tokenize_punctuation<'a>(line: &'a str, tokens: &mut Vec<Cow<'a, str>>, spaces_after: &mut Vec<i32>) {
    let mut start = 0;
    for (index, character) in line.char_indices() {
        if tokens.len() >= MAX_PUNCTUATION_TOKENS {
            break;
        }
        if is_letter_or_number(character) || matches!(character, '_' | '-' | '.' | ':' | '/') {
            continue;
        }
        if character == ' ' || character == '=' || is_punctuation(character) {
            if index > start {
                tokens.push(Cow::Borrowed(&line[start..index]));
            }
            let end = index + character.len_utf8();
            if character == ' ' {
                spaces_after.push(tokens.len() as i32 - 1);
            } else {
                tokens.push(Cow::Borrowed(&line[index..end]));
            }
            start = end;
        }
    }
    if start < line.len() {
        tokens.push(Cow::Borrowed(&line[start..]));
    }
}

/// Prints punctuation tokens back with their spaces. As in Loki, a space recorded before the first token (-1)
/// is never reached, so it and every later space are left out.
fn join_punctuation(out: &mut String, tokens: &[String], spaces_after: &[i32]) {
    let mut space = 0;
    for (index, token) in tokens.iter().enumerate() {
        out.push_str(token);
        while space < spaces_after.len() && spaces_after[space] == index as i32 {
            out.push(' ');
            space += 1;
        }
    }
}

/// Logfmt keys whose values always vary (Loki's `isVariableField`).
fn is_variable_field(key: &str) -> bool {
    key.eq_ignore_ascii_case("ts")
        || key == "t"
        || key.eq_ignore_ascii_case("traceID")
        || key.eq_ignore_ascii_case("time")
        || key.eq_ignore_ascii_case("timestamp")
}

/// The line's logfmt pairs as [key, value, key, value, …]; `false` if the line is malformed (Loki drops it).
fn tokenize_logfmt<'a>(line: &'a str, tokens: &mut Vec<Cow<'a, str>>) -> bool {
    let error = crate::pipeline::logfmt::decode(line, true, |key, value| {
        tokens.push(Cow::Borrowed(key));
        if is_variable_field(key) {
            tokens.push(Cow::Borrowed(PLACEHOLDER));
        } else {
            tokens.push(Cow::Owned(value.to_string()));
        }
    });
    error.is_none()
}

/// go-logfmt's key filter: characters up to space, `=`, `"`, DEL and U+FFFD are dropped.
fn logfmt_key_char(character: char) -> bool {
    !(character <= ' ' || character == '=' || character == '"' || character == '\u{7f}' || character == '\u{fffd}')
}

/// go-logfmt's value encoding: bare unless it holds a character up to space, `=`, `"`, DEL or U+FFFD.
fn write_logfmt_value(out: &mut String, value: &str) {
    if value.chars().all(logfmt_key_char) {
        out.push_str(value);
        return;
    }
    out.push('"');
    for character in value.chars() {
        match character {
            '\\' | '"' => {
                out.push('\\');
                out.push(character);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{fffd}' => out.push_str("\\ufffd"),
            character if (character as u32) < 0x20 || character == '\u{7f}' => {
                let _ = write!(out, "\\u00{:02x}", character as u32);
            }
            character => out.push(character),
        }
    }
    out.push('"');
}

/// Prints logfmt tokens back with go-logfmt's encoder; an empty string if a key has no valid character (Loki's
/// encoder fails and the pattern is not reported).
fn join_logfmt(out: &mut String, tokens: &[String]) {
    for (index, pair) in tokens.chunks(2).enumerate() {
        if index > 0 {
            out.push(' ');
        }
        let key: String = pair[0].chars().filter(|c| logfmt_key_char(*c)).collect();
        if key.is_empty() {
            out.clear();
            return;
        }
        out.push_str(&key);
        out.push('=');
        write_logfmt_value(out, pair.get(1).map_or("", String::as_str));
    }
}

/// Collapses every run of consecutive placeholders into one (Loki's `deduplicatePlaceholders`).
fn collapse_placeholders(pattern: String) -> String {
    const RUN: &str = "<_><_>";
    if !pattern.contains(RUN) {
        return pattern;
    }
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern.as_str();
    while let Some(position) = rest.find(RUN) {
        out.push_str(&rest[..position + PLACEHOLDER.len()]);
        rest = &rest[position + PLACEHOLDER.len()..];
        while let Some(after) = rest.strip_prefix(PLACEHOLDER) {
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// The tokenizer of one stream, chosen by its format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tokenizer {
    Punctuation,
    Logfmt,
    Json,
}

impl Tokenizer {
    pub(crate) fn for_format(format: LogFormat) -> Self {
        match format {
            LogFormat::Json => Tokenizer::Json,
            LogFormat::Logfmt => Tokenizer::Logfmt,
            LogFormat::Unknown => Tokenizer::Punctuation,
        }
    }

    /// Tokenizes `text` into the (cleared) `tokens` and `spaces_after`; `false` if the line is skipped (too long,
    /// malformed logfmt, JSON without a message field).
    pub(crate) fn tokenize<'a>(
        self,
        text: &'a EntryText,
        tokens: &mut Vec<Cow<'a, str>>,
        spaces_after: &mut Vec<i32>,
    ) -> bool {
        tokens.clear();
        spaces_after.clear();
        match (self, text) {
            (Tokenizer::Json, EntryText::Line(line)) => match json_message(line) {
                Some(message) if message.len() <= MAX_LINE_LENGTH => {
                    tokenize_punctuation(message, tokens, spaces_after);
                    true
                }
                _ => false,
            },
            (Tokenizer::Json, EntryText::Oversize { json_message: Some(message), .. }) => {
                tokenize_punctuation(message, tokens, spaces_after);
                true
            }
            (_, EntryText::Oversize { .. }) => false,
            (Tokenizer::Logfmt, EntryText::Line(line)) => tokenize_logfmt(line, tokens),
            (Tokenizer::Punctuation, EntryText::Line(line)) => {
                tokenize_punctuation(line, tokens, spaces_after);
                true
            }
        }
    }

    /// Prints a cluster's tokens back as its pattern.
    pub(crate) fn join(self, tokens: &[String], spaces_after: &[i32]) -> String {
        let mut out = String::with_capacity(tokens.iter().map(|token| token.len() + 1).sum::<usize>() + 6);
        match self {
            Tokenizer::Punctuation => join_punctuation(&mut out, tokens, spaces_after),
            Tokenizer::Logfmt => join_logfmt(&mut out, tokens),
            Tokenizer::Json => {
                out.push_str(PLACEHOLDER);
                join_punctuation(&mut out, tokens, spaces_after);
                out.push_str(PLACEHOLDER);
            }
        }
        collapse_placeholders(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn punctuation(line: &str) -> (Vec<String>, Vec<i32>) {
        let text = EntryText::Line(line.to_string());
        let (mut tokens, mut spaces) = (Vec::new(), Vec::new());
        assert!(Tokenizer::Punctuation.tokenize(&text, &mut tokens, &mut spaces));
        (tokens.into_iter().map(Cow::into_owned).collect(), spaces)
    }

    #[test]
    fn punctuation_splits_like_loki() {
        let f = |line: &str, want: &[&str], want_spaces: &[i32]| {
            let (tokens, spaces) = punctuation(line);
            assert_eq!(tokens, want, "{line}");
            assert_eq!(spaces, want_spaces, "{line}");
            // Printing the tokens back gives the line (no leading space here).
            assert_eq!(Tokenizer::Punctuation.join(&tokens, &spaces), line);
        };
        f("GET /api/v1/users 200", &["GET", "/api/v1/users", "200"], &[0, 1]);
        f("level=info msg=\"done\"", &["level", "=", "info", "msg", "=", "\"", "done", "\""], &[2]);
        f("a,b;c  (d)", &["a", ",", "b", ";", "c", "(", "d", ")"], &[4, 4]);
        // `_ - . : /` stay inside tokens; `$ + < > |` (symbols) too.
        f("x_y-z.w:1/2 $a+b<c>|d", &["x_y-z.w:1/2", "$a+b<c>|d"], &[0]);
        // Unicode letters and punctuation.
        f("héllo «wörld»", &["héllo", "«", "wörld", "»"], &[0]);
    }

    #[test]
    fn leading_space_loses_every_space_as_in_loki() {
        let (tokens, spaces) = punctuation(" a b c d");
        assert_eq!(tokens, ["a", "b", "c", "d"]);
        assert_eq!(spaces, [-1, 0, 1, 2]);
        assert_eq!(Tokenizer::Punctuation.join(&tokens, &spaces), "abcd");
    }

    #[test]
    fn formats_are_detected_like_loki() {
        let f = |line: &str, want: LogFormat| assert_eq!(detect_format(line), want, "{line}");
        f(r#"{"msg":"hi"}"#, LogFormat::Json);
        f("level=info msg=hi", LogFormat::Logfmt);
        f(r#"ts=2024-01-01T00:00:00Z level=info msg="hello world""#, LogFormat::Logfmt);
        f("level=info  msg=hi", LogFormat::Unknown);
        f("GET /a 200", LogFormat::Unknown);
        f("{", LogFormat::Unknown);
    }

    #[test]
    fn logfmt_tokens_mask_time_fields_and_print_with_quotes() {
        let text = EntryText::Line(r#"ts=2024-01-01 level=info msg="user logged in" empty= bare"#.to_string());
        let (mut tokens, mut spaces) = (Vec::new(), Vec::new());
        assert!(Tokenizer::Logfmt.tokenize(&text, &mut tokens, &mut spaces));
        let tokens: Vec<String> = tokens.into_iter().map(Cow::into_owned).collect();
        assert_eq!(tokens, ["ts", "<_>", "level", "info", "msg", "user logged in", "empty", "", "bare", ""]);
        assert_eq!(Tokenizer::Logfmt.join(&tokens, &[]), r#"ts=<_> level=info msg="user logged in" empty= bare="#);
        // Bare words are keys with empty values; `t` and `traceID` are variable too.
        let text = EntryText::Line("<hidden> t=12:00 traceID=abc error=null".to_string());
        let mut tokens = Vec::new();
        assert!(Tokenizer::Logfmt.tokenize(&text, &mut tokens, &mut Vec::new()));
        assert_eq!(tokens, ["<hidden>", "", "t", "<_>", "traceID", "<_>", "error", "null"]);
        // An odd token count prints the last key with an empty value; a key left empty by go-logfmt's filter fails
        // the whole pattern.
        let owned = |tokens: &[&str]| tokens.iter().map(|t| t.to_string()).collect::<Vec<String>>();
        assert_eq!(Tokenizer::Logfmt.join(&owned(&["a", "1", "b"]), &[]), "a=1 b=");
        assert_eq!(Tokenizer::Logfmt.join(&owned(&["a", "x=\"y\"\n"]), &[]), r#"a="x=\"y\"\n""#);
        assert_eq!(Tokenizer::Logfmt.join(&owned(&["a", "1", "\"=", "2"]), &[]), "");
        // A malformed line is skipped.
        let bad = EntryText::Line(r#"a=b c="unterminated"#.to_string());
        assert!(!Tokenizer::Logfmt.tokenize(&bad, &mut Vec::new(), &mut Vec::new()));
    }

    #[test]
    fn json_tokens_come_from_the_message_field_by_priority() {
        let f = |line: &str, want: Option<&str>| assert_eq!(json_message(line), want, "{line}");
        f(r#"{"msg":"a","message":"b"}"#, Some("b"));
        f(r#"{"message":1,"msg":"c"}"#, Some("c"));
        f(r#"{"log":"x \"q\"","msg":"y"}"#, Some(r#"x \"q\""#));
        f(r#"{"nested":{"msg":"no"}}"#, None);
        f(r#"{"level":"info"}"#, None);
        // A message that is an object is not one; a malformation after the message does not matter.
        f(r#"{"msg":{"text":"x"},"type":"y"}"#, None);
        f(r#"{"msg":"kept","broken":nope"}"#, Some("kept"));
        let text = EntryText::Line(r#"{"level":"info","msg":"user 42 logged in"}"#.to_string());
        let (mut tokens, mut spaces) = (Vec::new(), Vec::new());
        assert!(Tokenizer::Json.tokenize(&text, &mut tokens, &mut spaces));
        let tokens: Vec<String> = tokens.into_iter().map(Cow::into_owned).collect();
        assert_eq!(tokens, ["user", "42", "logged", "in"]);
        assert_eq!(Tokenizer::Json.join(&tokens, &spaces), "<_>user 42 logged in<_>");
    }

    #[test]
    fn runs_of_placeholders_collapse() {
        let f = |pattern: &str, want: &str| assert_eq!(collapse_placeholders(pattern.to_string()), want);
        f("a <_><_><_> b", "a <_> b");
        f("<_><_>x<_> <_><_>", "<_>x<_> <_>");
        f("<_> <_>", "<_> <_>");
        f("no placeholders", "no placeholders");
    }

    #[test]
    fn oversize_lines_keep_only_what_mining_needs() {
        let long = "word ".repeat(700);
        assert_eq!(EntryText::new(&long), EntryText::Oversize { format: LogFormat::Unknown, json_message: None });
        let json = format!(r#"{{"msg":"short one","blob":"{}"}}"#, "x".repeat(4000));
        let kept = EntryText::new(&json);
        assert_eq!(kept, EntryText::Oversize { format: LogFormat::Json, json_message: Some("short one".into()) });
        assert_eq!(kept.retained_bytes(), 9);
        let (mut tokens, mut spaces) = (Vec::new(), Vec::new());
        assert!(Tokenizer::Json.tokenize(&kept, &mut tokens, &mut spaces));
        assert!(!Tokenizer::Punctuation.tokenize(&kept, &mut tokens, &mut spaces));
    }
}
