//! Loki's pattern syntax (`<ip> - <_> [<ts>] "<method> <path>"`), for the `pattern` parser and the `|>` / `!>`
//! line filters: literals alternate with captures; `<_>` captures without a name.

/// A compiled pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pattern {
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(String),
    /// A capture; `None` for `<_>`.
    Capture(Option<String>),
}

fn parse_parts(input: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut rest = input;
    while let Some(character) = rest.chars().next() {
        if character == '<' {
            let name_length =
                rest[1..]
                    .char_indices()
                    .take_while(|(index, c)| {
                        if *index == 0 { c.is_alphabetic() || *c == '_' } else { c.is_alphanumeric() || *c == '_' }
                    })
                    .count();
            let name = &rest[1..1 + name_length];
            if name_length > 0 && rest[1 + name_length..].starts_with('>') {
                if !literal.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut literal)));
                }
                parts.push(Part::Capture(if name == "_" { None } else { Some(name.to_string()) }));
                rest = &rest[name_length + 2..];
                continue;
            }
        }
        literal.push(character);
        rest = &rest[character.len_utf8()..];
    }
    if !literal.is_empty() {
        parts.push(Part::Literal(literal));
    }
    parts
}

fn check_no_consecutive_captures(parts: &[Part]) -> Result<(), String> {
    for pair in parts.windows(2) {
        if let [Part::Capture(first), Part::Capture(second)] = pair {
            let show = |capture: &Option<String>| format!("<{}>", capture.as_deref().unwrap_or("_"));
            return Err(format!("found consecutive capture '{}{}': invalid expression", show(first), show(second)));
        }
    }
    Ok(())
}

impl Pattern {
    /// A pattern for the `pattern` parser: at least one named capture, unique names, no adjacent captures.
    pub(crate) fn for_parser(input: &str) -> Result<Self, String> {
        let parts = parse_parts(input);
        let names: Vec<&String> = parts
            .iter()
            .filter_map(|part| match part {
                Part::Capture(Some(name)) => Some(name),
                _ => None,
            })
            .collect();
        if names.is_empty() {
            return Err("at least one capture is required".to_string());
        }
        check_no_consecutive_captures(&parts)?;
        for (index, name) in names.iter().enumerate() {
            if names[..index].contains(name) {
                return Err(format!("duplicate capture name ({name}): invalid expression"));
            }
        }
        Ok(Pattern { parts })
    }

    /// A pattern for `|>`: only `<_>` captures.
    pub(crate) fn for_line_filter(input: &str) -> Result<Self, String> {
        let parts = parse_parts(input);
        check_no_consecutive_captures(&parts)?;
        if let Some(Part::Capture(Some(name))) = parts.iter().find(|part| matches!(part, Part::Capture(Some(_)))) {
            return Err(format!("named captures are not allowed: found '<{name}>'"));
        }
        Ok(Pattern { parts })
    }

    /// Loki's `Matcher.Matches`: the named captures found, in order; matching stops at the first literal that is
    /// missing (the current capture then takes the rest of the line), and nothing matches if the pattern starts
    /// with a literal the line does not start with.
    pub(crate) fn captures<'l>(&self, line: &'l str, mut visit: impl FnMut(&str, &'l str)) {
        if line.is_empty() || self.parts.is_empty() {
            return;
        }
        let mut rest = line;
        let mut parts = self.parts.as_slice();
        if let Some(Part::Literal(literal)) = parts.first() {
            if !rest.starts_with(literal.as_str()) {
                return;
            }
            rest = &rest[literal.len()..];
            parts = &parts[1..];
        }
        while let Some(Part::Capture(name)) = parts.first() {
            let Some(Part::Literal(literal)) = parts.get(1) else {
                if let Some(name) = name {
                    visit(name, rest);
                }
                return;
            };
            match rest.find(literal.as_str()) {
                None => {
                    if let Some(name) = name {
                        visit(name, rest);
                    }
                    return;
                }
                Some(position) => {
                    if let Some(name) = name {
                        visit(name, &rest[..position]);
                    }
                    rest = &rest[position + literal.len()..];
                }
            }
            parts = &parts[2..];
        }
    }

    /// Loki's `Matcher.Test` for `|>`: the literals appear in order with something between them (a leading literal
    /// may be preceded by anything, as in Loki), and the line ends where the pattern ends.
    pub(crate) fn test(&self, line: &str) -> bool {
        if line.is_empty() || self.parts.is_empty() {
            return line.is_empty() && self.parts.is_empty();
        }
        let mut offset = 0;
        for (index, part) in self.parts.iter().enumerate() {
            let Part::Literal(literal) = part else {
                continue;
            };
            let Some(found) = line[offset..].find(literal.as_str()) else {
                return false;
            };
            if index != 0 && found == 0 {
                return false;
            }
            offset += found + literal.len();
        }
        let ends_with_capture = matches!(self.parts.last(), Some(Part::Capture(_)));
        let has_remainder = offset != line.len();
        ends_with_capture == has_remainder
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn captures(pattern: &str, line: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        Pattern::for_parser(pattern).unwrap().captures(line, |name, value| out.push((name.into(), value.into())));
        out
    }

    #[test]
    fn captures_like_loki() {
        assert_eq!(
            captures(r#"<ip> - - [<_>] "<method> <path> <_>" <status>"#, r#"10.0.0.1 - - [x] "GET /a HTTP/1.1" 200"#),
            [
                ("ip".into(), "10.0.0.1".into()),
                ("method".into(), "GET".into()),
                ("path".into(), "/a".into()),
                ("status".into(), "200".into())
            ]
        );
        // A missing literal ends matching; the current capture takes the rest.
        assert_eq!(captures("<a> | <b>", "x y"), [("a".into(), "x y".into())]);
        // A leading literal must be at the start.
        assert!(captures("ts=<ts>", "level=1 ts=2").is_empty());
    }

    #[test]
    fn validates() {
        assert_eq!(Pattern::for_parser("foo").unwrap_err(), "at least one capture is required");
        assert_eq!(
            Pattern::for_parser("<a><b>").unwrap_err(),
            "found consecutive capture '<a><b>': invalid expression"
        );
        assert_eq!(Pattern::for_parser("<a> <a>").unwrap_err(), "duplicate capture name (a): invalid expression");
        assert!(Pattern::for_line_filter("<a> x").is_err());
    }

    #[test]
    fn tests_whole_lines() {
        let pattern = Pattern::for_line_filter("<_> GET <_>").unwrap();
        assert!(pattern.test("10.0.0.1 GET /index"));
        assert!(!pattern.test("GET /index"));
        assert!(!pattern.test("10.0.0.1 GET "));
        let pattern = Pattern::for_line_filter("GET <_> 200").unwrap();
        assert!(pattern.test("GET /x 200"));
        assert!(!pattern.test("GET /x 200 extra"));
    }
}
