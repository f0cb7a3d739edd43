//! The stream label string of a Loki protobuf push (`{app="api", env="prod"}`), parsed strictly.
//!
//! Loki reads this string with Prometheus's `ParseMetric`; oxeye accepts the subset real clients send: braces
//! around `name="value"` pairs separated by commas (a trailing comma is allowed), optional whitespace, label names
//! `[a-zA-Z_][a-zA-Z0-9_]*`, values quoted as PromQL strings: `"…"` or `'…'` with Go escapes, or `` `…` `` raw.
//! A metric name before the brace, matchers other than `=`, and anything after the closing brace are errors.
//! Duplicate names are not checked here (the caller reports them with Loki's own message).

/// Parses a selector literal into (name, value) pairs in the order written.
///
/// The error names the byte offset and what was expected; the value of a pair is checked to be UTF-8 after
/// escapes are applied (`\xff` alone is an error).
pub(crate) fn parse_selector(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut cursor = Cursor { text: text.as_bytes(), position: 0 };
    let mut pairs = Vec::new();
    cursor.skip_whitespace();
    cursor.expect(b'{')?;
    loop {
        cursor.skip_whitespace();
        if cursor.peek() == Some(b'}') {
            cursor.position += 1;
            break;
        }
        let name = cursor.label_name()?;
        cursor.skip_whitespace();
        cursor.expect(b'=')?;
        cursor.skip_whitespace();
        let value = cursor.quoted_string()?;
        pairs.push((name, value));
        cursor.skip_whitespace();
        match cursor.peek() {
            Some(b',') => cursor.position += 1,
            Some(b'}') => {
                cursor.position += 1;
                break;
            }
            _ => return Err(cursor.unexpected("\",\" or \"}\"")),
        }
    }
    cursor.skip_whitespace();
    if cursor.position != cursor.text.len() {
        return Err(cursor.unexpected("end of input"));
    }
    Ok(pairs)
}

struct Cursor<'a> {
    text: &'a [u8],
    position: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.position).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.position += 1;
        }
    }

    fn unexpected(&self, expected: &str) -> String {
        match self.text.get(self.position..).and_then(|rest| rest.utf8_chunks().next()) {
            None => format!("unexpected end of input at offset {}, expected {expected}", self.position),
            Some(chunk) => {
                let found =
                    chunk.valid().chars().next().map_or_else(|| "invalid UTF-8".to_string(), |c| format!("{c:?}"));
                format!("unexpected {found} at offset {}, expected {expected}", self.position)
            }
        }
    }

    fn expect(&mut self, wanted: u8) -> Result<(), String> {
        if self.peek() == Some(wanted) {
            self.position += 1;
            return Ok(());
        }
        Err(self.unexpected(&format!("{:?}", wanted as char)))
    }

    fn label_name(&mut self) -> Result<String, String> {
        let start = self.position;
        match self.peek() {
            Some(first) if first.is_ascii_alphabetic() || first == b'_' => self.position += 1,
            _ => return Err(self.unexpected("a label name")),
        }
        while matches!(self.peek(), Some(byte) if byte.is_ascii_alphanumeric() || byte == b'_') {
            self.position += 1;
        }
        // Only ASCII bytes were consumed, so the slice is valid UTF-8.
        Ok(String::from_utf8_lossy(&self.text[start..self.position]).into_owned())
    }

    fn quoted_string(&mut self) -> Result<String, String> {
        let start = self.position;
        let quote = match self.peek() {
            Some(quote @ (b'"' | b'\'' | b'`')) => quote,
            _ => return Err(self.unexpected("a quoted label value")),
        };
        self.position += 1;
        let mut value = Vec::new();
        loop {
            let Some(byte) = self.peek() else {
                return Err(format!("unterminated string starting at offset {start}"));
            };
            self.position += 1;
            if byte == quote {
                break;
            }
            if quote == b'`' {
                value.push(byte);
                continue;
            }
            match byte {
                b'\n' => return Err(format!("newline in string starting at offset {start}")),
                b'\\' => self.escape(quote, &mut value)?,
                other => value.push(other),
            }
        }
        String::from_utf8(value).map_err(|_| format!("invalid UTF-8 in string starting at offset {start}"))
    }

    /// One Go escape sequence after the backslash (`strconv.UnquoteChar`), appended to `value`.
    fn escape(&mut self, quote: u8, value: &mut Vec<u8>) -> Result<(), String> {
        let escape_start = self.position - 1;
        let Some(kind) = self.peek() else {
            return Err(format!("unterminated escape at offset {escape_start}"));
        };
        self.position += 1;
        let simple = match kind {
            b'a' => Some(0x07),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'v' => Some(0x0b),
            b'\\' => Some(b'\\'),
            b'"' | b'\'' if kind == quote => Some(kind),
            _ => None,
        };
        if let Some(byte) = simple {
            value.push(byte);
            return Ok(());
        }
        let bad_escape = || format!("invalid escape sequence at offset {escape_start}");
        match kind {
            b'x' => {
                let byte = self.digits(2, 16).ok_or_else(bad_escape)?;
                value.push(byte as u8);
            }
            b'0'..=b'7' => {
                self.position -= 1;
                let byte = self.digits(3, 8).filter(|code| *code <= 0xff).ok_or_else(bad_escape)?;
                value.push(byte as u8);
            }
            b'u' | b'U' => {
                let count = if kind == b'u' { 4 } else { 8 };
                let code = self.digits(count, 16).ok_or_else(bad_escape)?;
                let c = char::from_u32(code).ok_or_else(bad_escape)?;
                let mut buffer = [0u8; 4];
                value.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
            }
            _ => return Err(bad_escape()),
        }
        Ok(())
    }

    /// Exactly `count` digits in `radix`.
    fn digits(&mut self, count: usize, radix: u32) -> Option<u32> {
        let digits = self.text.get(self.position..self.position + count)?;
        let mut number: u32 = 0;
        for digit in digits {
            number = number * radix + (*digit as char).to_digit(radix)?;
        }
        self.position += count;
        Some(number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_selector_literals() {
        let f = |text: &str, want: &[(&str, &str)]| {
            let pairs = parse_selector(text).unwrap_or_else(|error| panic!("{text}: {error}"));
            let want: Vec<(String, String)> = want.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
            assert_eq!(pairs, want, "{text}");
        };
        f("{}", &[]);
        f(" { } ", &[]);
        f(r#"{a="b"}"#, &[("a", "b")]);
        f(r#"{a="b", c="d",}"#, &[("a", "b"), ("c", "d")]);
        f("{ _x = 'y' ,z=`raw\\n\"`}", &[("_x", "y"), ("z", "raw\\n\"")]);
        f(r#"{a="q\"\\\n\t\x41\101\u00e9\U0001F600"}"#, &[("a", "q\"\\\n\tAAé😀")]);
        f(r#"{a="é"}"#, &[("a", "é")]);
        f(r#"{a=""}"#, &[("a", "")]);
    }

    #[test]
    fn refuses_everything_else() {
        let f = |text: &str| {
            assert!(parse_selector(text).is_err(), "{text} should fail");
        };
        f("");
        f("a");
        f("{");
        f(r#"metric{a="b"}"#);
        f(r#"{a!="b"}"#);
        f(r#"{a=~"b"}"#);
        f(r#"{a="b"} x"#);
        f(r#"{a="b" c="d"}"#);
        f(r#"{a.b="c"}"#);
        f(r#"{1a="c"}"#);
        f(r#"{"a"="c"}"#);
        f(r#"{a=b}"#);
        f(r#"{a="b}"#);
        f("{a=\"b\nc\"}");
        f(r#"{a="\xff"}"#);
        f(r#"{a="\q"}"#);
        f(r#"{a="\'"}"#);
        f(r#"{a="\400"}"#);
        f(r#"{a="\uD800"}"#);
        f(r#"{a="\x4"}"#);
        f(r#"{,}"#);
        f(r#"{a="b",,}"#);
        let error = parse_selector(r#"{a="b" c="d"}"#).unwrap_err();
        assert_eq!(error, r#"unexpected 'c' at offset 7, expected "," or "}""#);
    }
}
