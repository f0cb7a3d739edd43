//! Label filters (`| level="error" and latency > 250ms`), with Loki's semantics:
//! - string matchers compare the label's value, empty when absent (`__error__` reads the current error);
//! - numeric, duration and bytes filters drop the row when the label is absent, and keep it with
//!   `__error__="LabelFilterErr"` when the value does not parse;
//! - `ip(…)` filters drop the row when the label is absent and keep it when the row already has an error;
//! - `and` evaluates both sides (both may set an error), `or` stops at the first match.

use oxeye_storage_api::Matcher;

use crate::parser::ast::{CompareOp, LabelFilter};
use crate::parser::parse::to_storage_matcher;
use crate::pipeline::ip::IpPattern;
use crate::pipeline::labels::RowLabels;
use crate::units::{parse_go_duration, parse_go_float, parse_humanized_bytes};

pub(crate) const LABEL_FILTER_ERROR: &str = "LabelFilterErr";

#[derive(Debug)]
pub(crate) enum CompiledLabelFilter {
    Matcher(Matcher),
    Number { name: String, op: CompareOp, value: f64 },
    Duration { name: String, op: CompareOp, value_ns: i64 },
    Bytes { name: String, op: CompareOp, value: u64 },
    Ip { name: String, negated: bool, pattern: IpPattern },
    And(Box<CompiledLabelFilter>, Box<CompiledLabelFilter>),
    Or(Box<CompiledLabelFilter>, Box<CompiledLabelFilter>),
}

impl CompiledLabelFilter {
    pub(crate) fn compile(filter: &LabelFilter) -> Result<Self, String> {
        Ok(match filter {
            LabelFilter::Matcher(matcher) => {
                CompiledLabelFilter::Matcher(to_storage_matcher(matcher).map_err(|error| error.message)?)
            }
            LabelFilter::Number { name, op, value } => {
                CompiledLabelFilter::Number { name: name.clone(), op: *op, value: *value }
            }
            LabelFilter::Duration { name, op, value_ns } => {
                CompiledLabelFilter::Duration { name: name.clone(), op: *op, value_ns: *value_ns }
            }
            LabelFilter::Bytes { name, op, value } => {
                CompiledLabelFilter::Bytes { name: name.clone(), op: *op, value: *value }
            }
            LabelFilter::Ip { name, negated, pattern } => {
                CompiledLabelFilter::Ip { name: name.clone(), negated: *negated, pattern: IpPattern::parse(pattern)? }
            }
            LabelFilter::And(left, right) => {
                CompiledLabelFilter::And(Box::new(Self::compile(left)?), Box::new(Self::compile(right)?))
            }
            LabelFilter::Or(left, right) => {
                CompiledLabelFilter::Or(Box::new(Self::compile(left)?), Box::new(Self::compile(right)?))
            }
        })
    }

    /// Whether the row passes; may set `__error__`.
    pub(crate) fn keeps(&self, labels: &mut RowLabels<'_>) -> bool {
        match self {
            CompiledLabelFilter::Matcher(matcher) => matcher.matches(labels.value_for_filter(&matcher.name)),
            CompiledLabelFilter::Number { name, op, value } => {
                compare_parsed(labels, name, parse_go_float, |parsed| op.compare(parsed, *value))
            }
            CompiledLabelFilter::Duration { name, op, value_ns } => {
                compare_parsed(labels, name, parse_go_duration, |parsed| op.compare(parsed, *value_ns))
            }
            CompiledLabelFilter::Bytes { name, op, value } => {
                compare_parsed(labels, name, parse_humanized_bytes, |parsed| op.compare(parsed, *value))
            }
            CompiledLabelFilter::Ip { name, negated, pattern } => {
                if labels.has_error() {
                    return true; // as in Loki: after an error only string matchers filter
                }
                labels.get(name).is_some_and(|value| pattern.matches_in(value) != *negated)
            }
            CompiledLabelFilter::And(left, right) => {
                let left_keeps = left.keeps(labels);
                let right_keeps = right.keeps(labels);
                left_keeps && right_keeps
            }
            CompiledLabelFilter::Or(left, right) => left.keeps(labels) || right.keeps(labels),
        }
    }

    /// Label names the filter reads.
    pub(crate) fn referenced_names(&self, out: &mut Vec<String>) {
        match self {
            CompiledLabelFilter::Matcher(matcher) => out.push(matcher.name.clone()),
            CompiledLabelFilter::Number { name, .. }
            | CompiledLabelFilter::Duration { name, .. }
            | CompiledLabelFilter::Bytes { name, .. }
            | CompiledLabelFilter::Ip { name, .. } => out.push(name.clone()),
            CompiledLabelFilter::And(left, right) | CompiledLabelFilter::Or(left, right) => {
                left.referenced_names(out);
                right.referenced_names(out);
            }
        }
    }
}

fn compare_parsed<T>(
    labels: &mut RowLabels<'_>,
    name: &str,
    parse: impl Fn(&str) -> Result<T, String>,
    compare: impl Fn(T) -> bool,
) -> bool {
    let parsed = match labels.get(name) {
        None => return false,
        Some(text) => parse(text),
    };
    match parsed {
        Ok(value) => compare(value),
        Err(details) => {
            if !labels.has_error() {
                labels.set_error(LABEL_FILTER_ERROR, Some(&details));
            }
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use oxeye_model::Labels;

    use super::*;
    use crate::parser::ast::{LabelMatcher, MatchType};
    use crate::pipeline::labels::{Category, LabelBuffers};

    fn filter(source: &str) -> CompiledLabelFilter {
        let expr = crate::parse(&format!("{{a=\"b\"}} | {source}")).unwrap();
        let crate::parser::ast::Expr::Log(log) = expr else { panic!("not a log query") };
        let crate::parser::ast::Stage::LabelFilter(filter) = &log.stages[0] else { panic!("not a label filter") };
        CompiledLabelFilter::compile(filter).unwrap()
    }

    #[test]
    fn filters_with_loki_semantics() {
        let base = Labels::from_pairs([("app", "api")]).unwrap();
        let mut buffers = LabelBuffers::default();
        let mut row = buffers.row(&base);
        row.set(Category::Parsed, "latency", "250ms");
        row.set(Category::Parsed, "status", "500");
        row.set(Category::Parsed, "size", "2KB");
        row.set(Category::Parsed, "word", "abc");
        assert!(filter(r#"app="api""#).keeps(&mut row));
        assert!(filter(r#"missing="""#).keeps(&mut row));
        assert!(filter(r#"status=~"5..""#).keeps(&mut row));
        assert!(!filter(r#"status=~"5""#).keeps(&mut row));
        assert!(filter("latency >= 250ms").keeps(&mut row));
        assert!(!filter("latency > 1s").keeps(&mut row));
        assert!(!filter("size > 1KB and size < 1KiB or status == 404").keeps(&mut row));
        assert!(filter("size > 1KB").keeps(&mut row));
        assert!(filter("status >= 500, status < 600").keeps(&mut row));
        // An absent label fails a numeric filter without an error.
        assert!(!filter("nope > 1").keeps(&mut row));
        assert!(!row.has_error());
        // A value that does not parse keeps the row and flags it.
        assert!(filter("word > 1").keeps(&mut row));
        assert_eq!(row.error(), LABEL_FILTER_ERROR);
        assert_eq!(row.error_details(), r#"strconv.ParseFloat: parsing "abc": invalid syntax"#);
        assert!(filter(r#"__error__="LabelFilterErr""#).keeps(&mut row));
        let matcher = LabelMatcher { name: "x".into(), op: MatchType::Regex, value: "(".into() };
        assert!(CompiledLabelFilter::compile(&LabelFilter::Matcher(matcher)).is_err());
    }
}
