//! Filter hints for the store ([`LogFilterHints`]), derived from a pipeline so that they never exclude a row the
//! pipeline would keep:
//! - `line_contains`: the values of `|= "…"` filters without `or` that run before any stage that rewrites the line
//!   (`line_format`, `unpack`, `decolorize`); label filters and parsers in between do not change the line. Empty
//!   strings are left out (they match every line).
//! - `metadata_equals`: `name="value"` (non-empty value) label filters, alone or joined by `and`, that run before
//!   any stage that adds, renames or removes labels (parsers, `label_format`, `drop`, `keep`). The store keeps a row
//!   when the pair is one of its stream labels or structured-metadata fields, which every row passing the filter
//!   satisfies. Error labels and `…_extracted` names (a metadata field renamed after a stream label) are left out.

use oxeye_storage_api::LogFilterHints;

use crate::parser::ast::{LabelFilter, LineFilterOp, LineFilterValue, MatchType, Stage};
use crate::pipeline::labels::{DUPLICATE_SUFFIX, ERROR_DETAILS_LABEL, ERROR_LABEL};

/// The hints for a log selector's stages.
pub(crate) fn derive_hints(stages: &[Stage]) -> LogFilterHints {
    let mut hints = LogFilterHints::default();
    let mut line_unchanged = true;
    let mut labels_unchanged = true;
    for stage in stages {
        match stage {
            Stage::LineFilter(filter) => {
                if line_unchanged
                    && filter.op == LineFilterOp::Contains
                    && let [LineFilterValue::Text(value)] = filter.values.as_slice()
                    && !value.is_empty()
                    && !hints.line_contains.contains(value)
                {
                    hints.line_contains.push(value.clone());
                }
            }
            Stage::LabelFilter(filter) => {
                if labels_unchanged {
                    collect_equalities(filter, &mut hints.metadata_equals);
                }
            }
            Stage::LineFormat(_) | Stage::Decolorize => line_unchanged = false,
            Stage::Unpack => {
                line_unchanged = false;
                labels_unchanged = false;
            }
            Stage::Json(_)
            | Stage::Logfmt { .. }
            | Stage::Regexp(_)
            | Stage::Pattern(_)
            | Stage::LabelFormat(_)
            | Stage::Drop(_)
            | Stage::Keep(_) => labels_unchanged = false,
        }
    }
    hints
}

fn collect_equalities(filter: &LabelFilter, out: &mut Vec<(String, String)>) {
    match filter {
        LabelFilter::Matcher(matcher) => {
            let usable = matcher.op == MatchType::Equal
                && !matcher.value.is_empty()
                && matcher.name != ERROR_LABEL
                && matcher.name != ERROR_DETAILS_LABEL
                && !matcher.name.ends_with(DUPLICATE_SUFFIX);
            let pair = (matcher.name.clone(), matcher.value.clone());
            if usable && !out.contains(&pair) {
                out.push(pair);
            }
        }
        LabelFilter::And(left, right) => {
            collect_equalities(left, out);
            collect_equalities(right, out);
        }
        LabelFilter::Or(..)
        | LabelFilter::Number { .. }
        | LabelFilter::Duration { .. }
        | LabelFilter::Bytes { .. }
        | LabelFilter::Ip { .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hints(query: &str) -> LogFilterHints {
        match crate::parse(query).unwrap() {
            crate::parser::ast::Expr::Log(log) => derive_hints(&log.stages),
            other => panic!("{other:?}"),
        }
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    #[test]
    fn line_hints_stop_at_line_rewrites() {
        let f = |query: &str, want: &[&str]| assert_eq!(hints(query).line_contains, want, "{query}");
        f(r#"{a="b"} |= "x" |= "y""#, &["x", "y"]);
        f(r#"{a="b"} |= "x" or "y" |= "z""#, &["z"]);
        f(r#"{a="b"} != "x" |~ "y" |= """#, &[]);
        f(r#"{a="b"} | json | level="error" |= "x""#, &["x"]);
        f(r#"{a="b"} |= "x" | line_format "{{.a}}" |= "y""#, &["x"]);
        f(r#"{a="b"} | unpack |= "y""#, &[]);
        f(r#"{a="b"} | decolorize |= "y""#, &[]);
    }

    #[test]
    fn metadata_hints_stop_at_label_changes() {
        let f = |query: &str, want: &[(&str, &str)]| assert_eq!(hints(query).metadata_equals, pairs(want), "{query}");
        f(r#"{a="b"} | trace_id="abc""#, &[("trace_id", "abc")]);
        f(r#"{a="b"} |= "x" | trace_id="abc", span_id="def" and n > 1"#, &[("trace_id", "abc"), ("span_id", "def")]);
        f(r#"{a="b"} | trace_id="abc" or span_id="def""#, &[]);
        f(r#"{a="b"} | trace_id="" | x!="y" | z=~"w""#, &[]);
        f(r#"{a="b"} | json | trace_id="abc""#, &[]);
        f(r#"{a="b"} | drop x | trace_id="abc""#, &[]);
        f(r#"{a="b"} | __error__="JSONParserErr" | app_extracted="x""#, &[]);
        f(r#"{a="b"} | line_format "x" | trace_id="abc""#, &[("trace_id", "abc")]);
    }
}
