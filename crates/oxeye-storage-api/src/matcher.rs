//! Label matchers with Prometheus semantics.
//!
//! Regular expressions are fully anchored (`^(?:re)$`), and a matcher on a label a series lacks sees the empty
//! string, so `{foo=""}` selects series without `foo` and `{foo!~".+"}` likewise.

use regex::Regex;

/// How a matcher compares a label value.
#[derive(Clone, Debug)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regex(Regex),
    NotRegex(Regex),
}

/// A label matcher: `name op value`.
#[derive(Clone, Debug)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    /// The value or the regular expression source as written.
    pub value: String,
}

/// A matcher that could not be built.
#[derive(Debug, thiserror::Error)]
pub enum MatcherError {
    #[error("invalid regular expression {pattern:?} for label {name:?}: {reason}")]
    BadRegex { name: String, pattern: String, reason: String },
}

impl Matcher {
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self { name: name.into(), op: MatchOp::Equal, value: value.into() }
    }

    pub fn not_equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self { name: name.into(), op: MatchOp::NotEqual, value: value.into() }
    }

    /// A `=~` matcher; the pattern is anchored at both ends.
    pub fn regex(name: impl Into<String>, pattern: impl Into<String>) -> Result<Self, MatcherError> {
        let (name, pattern) = (name.into(), pattern.into());
        let compiled = compile_anchored(&name, &pattern)?;
        Ok(Self { name, op: MatchOp::Regex(compiled), value: pattern })
    }

    /// A `!~` matcher; the pattern is anchored at both ends.
    pub fn not_regex(name: impl Into<String>, pattern: impl Into<String>) -> Result<Self, MatcherError> {
        let (name, pattern) = (name.into(), pattern.into());
        let compiled = compile_anchored(&name, &pattern)?;
        Ok(Self { name, op: MatchOp::NotRegex(compiled), value: pattern })
    }

    /// Whether a label value (the empty string for an absent label) satisfies the matcher.
    pub fn matches(&self, value: &str) -> bool {
        match &self.op {
            MatchOp::Equal => value == self.value,
            MatchOp::NotEqual => value != self.value,
            MatchOp::Regex(regex) => regex.is_match(value),
            MatchOp::NotRegex(regex) => !regex.is_match(value),
        }
    }

    /// Whether the matcher accepts the empty string, i.e. also selects series that lack the label.
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// The operator as written in PromQL.
    pub fn op_str(&self) -> &'static str {
        match self.op {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex(_) => "=~",
            MatchOp::NotRegex(_) => "!~",
        }
    }
}

fn compile_anchored(name: &str, pattern: &str) -> Result<Regex, MatcherError> {
    Regex::new(&format!("^(?s:{pattern})$")).map_err(|err| MatcherError::BadRegex {
        name: name.to_string(),
        pattern: pattern.to_string(),
        reason: err.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matchers_follow_prometheus_semantics() {
        let f = |matcher: Matcher, value: &str, want: bool| {
            assert_eq!(matcher.matches(value), want, "{matcher:?} on {value:?}")
        };
        f(Matcher::equal("a", "x"), "x", true);
        f(Matcher::equal("a", ""), "", true);
        f(Matcher::not_equal("a", "x"), "", true);
        f(Matcher::regex("a", "fo+").unwrap(), "foo", true);
        f(Matcher::regex("a", "fo+").unwrap(), "xfoo", false);
        f(Matcher::regex("a", "a|b").unwrap(), "ab", false);
        f(Matcher::regex("a", ".*").unwrap(), "", true);
        f(Matcher::not_regex("a", ".+").unwrap(), "", true);
        f(Matcher::regex("a", "x.y").unwrap(), "x\ny", true);
        assert!(Matcher::regex("a", "(").is_err());
    }
}
