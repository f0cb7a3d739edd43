//! The vector selectors a query may read, found by a deliberately generous scan of the query text.
//!
//! The runner uses this to skip cases that read series oxeye cannot represent (see [`crate::runner`]). Without a
//! PromQL parser it over-approximates: every identifier not followed by `(` counts as a metric name selector
//! (so label names in `by (job)` or keywords like `offset` become selectors too, which only matters if a series
//! with that name holds unsupported data), each `name{...}` or `{...}` yields its matchers, and a matcher list
//! that cannot be read becomes a selector matching everything. Missing a selector would let a case pass
//! without data it depends on; an extra one at worst skips a case.

use oxeye_model::METRIC_NAME_LABEL;
use oxeye_storage_api::Matcher;

use crate::series::take_quoted;

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// The selectors of `query`, each as the list of matchers a series must satisfy (an empty list matches all).
pub fn query_selectors(query: &str) -> Vec<Vec<Matcher>> {
    let mut selectors = Vec::new();
    let mut rest = query;
    while let Some(c) = rest.chars().next() {
        if matches!(c, '"' | '\'' | '`') {
            rest = take_quoted(rest).map_or(&rest[1..], |(_, after)| after);
        } else if c == '#' {
            rest = rest.find('\n').map_or("", |end| &rest[end..]);
        } else if c.is_ascii_digit() || (c == '.' && rest[1..].starts_with(|d: char| d.is_ascii_digit())) {
            // Numbers and durations (`5m`, `1e3`, `0x1f`, `.5`).
            let length =
                rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_')).unwrap_or(rest.len());
            rest = &rest[length..];
        } else if is_name_start(c) {
            let length = rest.find(|c: char| !is_name_char(c)).unwrap_or(rest.len());
            let name = &rest[..length];
            let after_name = rest[length..].trim_start();
            if after_name.starts_with('(') {
                // A function, an aggregation or a keyword with arguments (`by (...)`), not a selector.
                rest = after_name;
                continue;
            }
            let mut matchers = vec![Matcher::equal(METRIC_NAME_LABEL, name)];
            rest = &rest[length..];
            if let Some(inside) = after_name.strip_prefix('{') {
                let (label_matchers, after) = read_matchers(inside);
                matchers.extend(label_matchers);
                rest = after;
            }
            selectors.push(matchers);
        } else if let Some(inside) = rest.strip_prefix('{') {
            let (matchers, after) = read_matchers(inside);
            selectors.push(matchers);
            rest = after;
        } else {
            rest = &rest[c.len_utf8()..];
        }
    }
    selectors
}

/// Reads the matchers after a `{` up to the closing `}`. Anything unreadable (including an invalid regular
/// expression) gives up on the list and returns no matchers, i.e. a selector matching every series.
fn read_matchers(text: &str) -> (Vec<Matcher>, &str) {
    let give_up = || (Vec::new(), text.find('}').map_or("", |end| &text[end + 1..]));
    let mut matchers = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix('}') {
            return (matchers, after);
        }
        if let Some(after) = rest.strip_prefix(',') {
            rest = after;
            continue;
        }
        let name: String;
        if rest.starts_with(['"', '\'', '`']) {
            let Ok((quoted, after)) = take_quoted(rest) else { return give_up() };
            let after = after.trim_start();
            if after.starts_with([',', '}']) {
                // `{"utf8.metric.name", ...}`.
                matchers.push(Matcher::equal(METRIC_NAME_LABEL, quoted));
                rest = after;
                continue;
            }
            name = quoted;
            rest = after;
        } else {
            let length = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
            if length == 0 {
                return give_up();
            }
            name = rest[..length].to_string();
            rest = rest[length..].trim_start();
        }
        let (operator, after_operator) = match rest.get(..2) {
            Some(two @ ("=~" | "!~" | "!=")) => (two, &rest[2..]),
            _ if rest.starts_with('=') => ("=", &rest[1..]),
            _ => return give_up(),
        };
        let Ok((value, after_value)) = take_quoted(after_operator.trim_start()) else { return give_up() };
        let matcher = match operator {
            "=" => Ok(Matcher::equal(name, value)),
            "!=" => Ok(Matcher::not_equal(name, value)),
            "=~" => Matcher::regex(name, value),
            _ => Matcher::not_regex(name, value),
        };
        let Ok(matcher) = matcher else { return give_up() };
        matchers.push(matcher);
        rest = after_value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxeye_model::Labels;

    fn render(selectors: &[Vec<Matcher>]) -> Vec<String> {
        selectors
            .iter()
            .map(|matchers| {
                let parts: Vec<String> =
                    matchers.iter().map(|m| format!("{}{}{:?}", m.name, m.op_str(), m.value)).collect();
                parts.join(",")
            })
            .collect()
    }

    #[test]
    fn selectors_are_found_generously() {
        let f = |query: &str, want: &[&str]| assert_eq!(render(&query_selectors(query)), want, "{query}");
        f("up", &["__name__=\"up\""]);
        // `sum` and `job` are not selectors, but counting them is harmless.
        f(
            "sum by (job) (rate(http_requests{job=~\"a|b\", instance!=\"0\"}[5m]))",
            &["__name__=\"sum\"", "__name__=\"job\"", "__name__=\"http_requests\",job=~\"a|b\",instance!=\"0\""],
        );
        f("{__name__=~\"h.*\"} offset 5m", &["__name__=~\"h.*\"", "__name__=\"offset\""]);
        f("{\"my.metric\", \"a.b\"=\"c\"}", &["__name__=\"my.metric\",a.b=\"c\""]);
        f("foo {a!~'x'} @ start()", &["__name__=\"foo\",a!~\"x\""]);
        f("label_replace(x, \"dst\", \"$1\", \"src\", \"(.*)\") > bool 1e3", &["__name__=\"x\"", "__name__=\"bool\""]);
        f("x[5m:1m]", &["__name__=\"x\"", "__name__=\":1m\""]);
        f("{a=\"unterminated}", &[""]);
        f("{a=~\"(\"} + 1", &[""]);
        f("1 + 2", &[]);
    }

    #[test]
    fn a_selector_that_cannot_be_read_matches_everything() {
        let selectors = query_selectors("{a=~\"(\"}");
        let any_series = Labels::from_pairs([("__name__", "anything")]).unwrap();
        assert!(selectors[0].iter().all(|m| m.matches(any_series.get(&m.name).unwrap_or(""))));
    }
}
