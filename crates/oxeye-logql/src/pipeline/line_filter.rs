//! Line filters: `|=`, `!=`, `|~`, `!~`, `|>`, `!>` with `or` alternatives.
//!
//! Substrings are searched with precompiled `memmem` finders; regular expressions are unanchored (RE2 syntax, as
//! in Loki); patterns use the `pattern` parser's syntax where `<_>` matches anything and the whole line must match.

use memchr::memmem::Finder;
use regex::Regex;

use crate::parser::ast::{LineFilter, LineFilterOp, LineFilterValue};
use crate::pipeline::ip::IpPattern;
use crate::pipeline::pattern::Pattern;

/// One compiled line filter with its alternatives.
#[derive(Debug)]
pub(crate) struct LineFilterStage {
    positive: bool,
    matchers: Vec<LineMatcher>,
}

#[derive(Debug)]
enum LineMatcher {
    Contains(Box<Finder<'static>>),
    Regex(Regex),
    Pattern(Pattern),
    Ip(IpPattern),
}

impl LineMatcher {
    fn matches(&self, line: &str) -> bool {
        match self {
            LineMatcher::Contains(finder) => finder.find(line.as_bytes()).is_some(),
            LineMatcher::Regex(regex) => regex.is_match(line),
            LineMatcher::Pattern(pattern) => pattern.test(line),
            LineMatcher::Ip(pattern) => pattern.matches_in(line),
        }
    }
}

impl LineFilterStage {
    pub(crate) fn compile(filter: &LineFilter) -> Result<Self, String> {
        let mut matchers = Vec::with_capacity(filter.values.len());
        for value in &filter.values {
            let value = match value {
                LineFilterValue::Text(text) => text,
                LineFilterValue::Ip(pattern) => {
                    if !matches!(filter.op, LineFilterOp::Contains | LineFilterOp::NotContains) {
                        return Err("ip: invalid operation".to_string());
                    }
                    matchers.push(LineMatcher::Ip(IpPattern::parse(pattern)?));
                    continue;
                }
            };
            matchers.push(match filter.op {
                LineFilterOp::Contains | LineFilterOp::NotContains => {
                    LineMatcher::Contains(Box::new(Finder::new(value.as_bytes()).into_owned()))
                }
                LineFilterOp::Regex | LineFilterOp::NotRegex => {
                    LineMatcher::Regex(Regex::new(value).map_err(|error| {
                        format!("error parsing regexp: {}", error.to_string().lines().last().unwrap_or(""))
                    })?)
                }
                LineFilterOp::Pattern | LineFilterOp::NotPattern => {
                    LineMatcher::Pattern(Pattern::for_line_filter(value)?)
                }
            });
        }
        Ok(LineFilterStage { positive: filter.op.is_positive(), matchers })
    }

    /// `|= a or b` keeps lines matching any alternative; `!= a or b` keeps lines matching none.
    pub(crate) fn keeps(&self, line: &str) -> bool {
        let any = self.matchers.iter().any(|matcher| matcher.matches(line));
        any == self.positive
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(op: LineFilterOp, values: &[&str]) -> LineFilterStage {
        LineFilterStage::compile(&LineFilter { op, values: values.iter().map(|v| (*v).into()).collect() }).unwrap()
    }

    #[test]
    fn filters_lines() {
        let line = "level=error msg=\"timeout talking to db\"";
        assert!(stage(LineFilterOp::Contains, &["timeout"]).keeps(line));
        assert!(stage(LineFilterOp::Contains, &["nope", "db"]).keeps(line));
        assert!(stage(LineFilterOp::Contains, &[""]).keeps(line));
        assert!(!stage(LineFilterOp::NotContains, &["nope", "db"]).keeps(line));
        assert!(stage(LineFilterOp::NotContains, &["nope", "nada"]).keeps(line));
        assert!(stage(LineFilterOp::Regex, &["time(out)?"]).keeps(line));
        assert!(!stage(LineFilterOp::Regex, &["^timeout"]).keeps(line));
        assert!(stage(LineFilterOp::NotRegex, &["(?i)WARN"]).keeps(line));
        assert!(stage(LineFilterOp::Pattern, &["level=<_> msg=<_>"]).keeps(line));
        // As in Loki, a leading literal may be preceded by anything.
        assert!(stage(LineFilterOp::Pattern, &["msg=<_>"]).keeps(line));
        assert!(!stage(LineFilterOp::Pattern, &["msg=<_> level=<_>"]).keeps(line));
        assert!(stage(LineFilterOp::NotPattern, &["msg=<_> level=<_>"]).keeps(line));
        assert!(LineFilterStage::compile(&LineFilter { op: LineFilterOp::Regex, values: vec!["(".into()] }).is_err());
    }

    #[test]
    fn ip_filters_find_addresses_and_only_go_with_contains() {
        let ip = |op, patterns: &[&str]| {
            let values = patterns.iter().map(|p| LineFilterValue::Ip(p.to_string())).collect();
            LineFilterStage::compile(&LineFilter { op, values })
        };
        let line = "accepted connection from 10.1.2.3:5123";
        assert!(ip(LineFilterOp::Contains, &["10.0.0.0/8"]).unwrap().keeps(line));
        assert!(ip(LineFilterOp::Contains, &["192.168.0.1", "10.1.2.0-10.1.2.9"]).unwrap().keeps(line));
        assert!(!ip(LineFilterOp::NotContains, &["10.1.2.3"]).unwrap().keeps(line));
        assert!(ip(LineFilterOp::NotContains, &["10.1.2.4"]).unwrap().keeps(line));
        // Mixed with text alternatives.
        let mixed = LineFilter {
            op: LineFilterOp::Contains,
            values: vec!["refused".into(), LineFilterValue::Ip("10.1.2.3".into())],
        };
        assert!(LineFilterStage::compile(&mixed).unwrap().keeps(line));
        assert_eq!(ip(LineFilterOp::Regex, &["10.1.2.3"]).unwrap_err(), "ip: invalid operation");
        assert_eq!(ip(LineFilterOp::Contains, &["10.1.2"]).unwrap_err(), r#"ip: invalid pattern: "10.1.2""#);
    }
}
