//! JSON text exactly as Go's `encoding/json` writes it, for APIs whose responses must match Go servers byte for
//! byte (Prometheus, and OTLP attribute values rendered the way the Go collector renders them).

use std::fmt::Write as _;

/// Appends `text` as a JSON string literal with Go's escaping: `"`, `\`, `\n`, `\r`, `\t`, other control
/// characters as `\u00XX`, and the HTML-sensitive `<`, `>`, `&`, U+2028 and U+2029 as `\uXXXX`.
pub fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_go() {
        let mut out = String::new();
        write_string(&mut out, "a\"b\\c\n<&>\u{1}\u{2028}é");
        assert_eq!(out, r#""a\"b\\c\n\u003c\u0026\u003e\u0001\u2028é""#);
    }
}
