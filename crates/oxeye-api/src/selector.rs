//! Series selectors for `match[]`: `name{label="value", other=~"re"}`, as Prometheus's `parser.ParseMetricSelector`
//! accepts them (metric name optional, Prometheus 3 quoted UTF-8 names, the four matcher operators, Go-style
//! string escapes). The full PromQL parser lives with the query engine; this is the subset the metadata endpoints
//! need.

use oxeye_storage_api::Matcher;

/// Parses one selector into matchers. At least one matcher must not match the empty string, as Prometheus
/// requires ("vector selector must contain at least one non-empty matcher").
pub fn parse_selector(text: &str) -> Result<Vec<Matcher>, String> {
    let mut parser = Parser { text, pos: 0 };
    let matchers = parser.selector().map_err(|e| format!("1:{}: parse error: {e}", parser.pos + 1))?;
    if matchers.iter().all(|m| m.matches_empty()) {
        return Err(format!("invalid selector {text:?}: vector selector must contain at least one non-empty matcher"));
    }
    Ok(matchers)
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn skip_space(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.text.len() - trimmed.len();
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_space();
        if self.rest().starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    fn identifier(&mut self) -> Option<String> {
        self.skip_space();
        let rest = self.rest();
        let len = rest
            .char_indices()
            .take_while(|(i, c)| c.is_ascii_alphabetic() || *c == '_' || *c == ':' || (*i > 0 && c.is_ascii_digit()))
            .map(|(i, c)| i + c.len_utf8())
            .last()?;
        let identifier = rest[..len].to_string();
        self.pos += len;
        Some(identifier)
    }

    fn string(&mut self) -> Result<String, String> {
        self.skip_space();
        let mut chars = self.rest().char_indices();
        let quote = match chars.next() {
            Some((_, c @ ('"' | '\'' | '`'))) => c,
            _ => {
                return Err(format!(
                    "unexpected {:?}, expected a string",
                    self.rest().chars().next().map_or(String::from("end of input"), String::from)
                ));
            }
        };
        let mut out = String::new();
        while let Some((index, c)) = chars.next() {
            if c == quote {
                self.pos += index + 1;
                return Ok(out);
            }
            if c == '\\' && quote != '`' {
                let (_, escaped) = chars.next().ok_or("unterminated escape")?;
                out.push(match escaped {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    '\\' => '\\',
                    '"' => '"',
                    '\'' => '\'',
                    'u' => {
                        let hex: String = (0..4).filter_map(|_| chars.next().map(|(_, h)| h)).collect();
                        u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32).ok_or("invalid \\u escape")?
                    }
                    other => return Err(format!("unknown escape sequence \\{other}")),
                });
            } else {
                out.push(c);
            }
        }
        Err("unterminated quoted string".into())
    }

    fn selector(&mut self) -> Result<Vec<Matcher>, String> {
        let mut matchers = Vec::new();
        if let Some(name) = self.identifier() {
            matchers.push(Matcher::equal("__name__", name));
        }
        if self.eat("{") {
            loop {
                if self.eat("}") {
                    break;
                }
                self.skip_space();
                let name = if self.rest().starts_with('"') {
                    self.string()?
                } else {
                    self.identifier().ok_or("expected a label name")?
                };
                // A lone quoted string is a metric name (Prometheus 3: `{"my.metric"}`).
                self.skip_space();
                if self.rest().starts_with(',') || self.rest().starts_with('}') {
                    matchers.push(Matcher::equal("__name__", name));
                } else {
                    let matcher = if self.eat("=~") {
                        Matcher::regex(name, self.string()?).map_err(|e| e.to_string())?
                    } else if self.eat("!~") {
                        Matcher::not_regex(name, self.string()?).map_err(|e| e.to_string())?
                    } else if self.eat("!=") {
                        Matcher::not_equal(name, self.string()?)
                    } else if self.eat("=") {
                        Matcher::equal(name, self.string()?)
                    } else {
                        return Err("expected one of =, !=, =~, !~".into());
                    };
                    matchers.push(matcher);
                }
                if self.eat(",") {
                    continue;
                }
                if self.eat("}") {
                    break;
                }
                return Err("expected \",\" or \"}\"".into());
            }
        }
        self.skip_space();
        if !self.rest().is_empty() {
            return Err(format!("unexpected {:?} after the selector", self.rest()));
        }
        if matchers.is_empty() {
            return Err("empty selector".into());
        }
        Ok(matchers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(matchers: &[Matcher]) -> String {
        matchers.iter().map(|m| format!("{}{}{:?}", m.name, m.op_str(), m.value)).collect::<Vec<_>>().join(",")
    }

    #[test]
    fn selectors_parse() {
        let f = |text: &str, want: &str| assert_eq!(render(&parse_selector(text).unwrap()), want, "{text}");
        f("up", "__name__=\"up\"");
        f("up{job=\"a\"}", "__name__=\"up\",job=\"a\"");
        f(" {__name__=~\"up|down\", env!='prod',x!~`a.*`} ", "__name__=~\"up|down\",env!=\"prod\",x!~\"a.*\"");
        f("{\"my.metric\", \"a.b\"=\"c\"}", "__name__=\"my.metric\",a.b=\"c\"");
        f("m{v=\"a\\\"b\\n\"}", "__name__=\"m\",v=\"a\\\"b\\n\"");
        f("up{job=\"a\",}", "__name__=\"up\",job=\"a\"");
        for bad in ["", "{}", "{job=\"\"}", "up{job=}", "up{job=\"a\"", "up{job~\"a\"}", "up{x=~\"(\"}", "up extra"] {
            assert!(parse_selector(bad).is_err(), "{bad:?} should fail");
        }
    }
}
