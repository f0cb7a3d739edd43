//! `/api/v1/query_exemplars`: the exemplars of every series selected by the query's vector selectors, in
//! Prometheus's shape `[{"seriesLabels":{…},"exemplars":[{"labels":{…},"value":"…","timestamp":…}]}]`.
//!
//! As Prometheus (`parser.ExtractSelectors`), only the selectors are used, the query is not evaluated: the
//! exemplars of `rate(x[5m]) / y` are those of `x` and `y`. A query without selectors (`1+1`) is answered 204 with
//! no body.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use oxeye_model::{Exemplar, Labels};
use oxeye_storage_api::{MatchOp, Matcher, MetricsReader, SelectRequest};
use promql_parser::parser::{Expr, VectorSelector};

use crate::params::Params;
use crate::prom_json::{self, write_labels, write_sample_value, write_timestamp};
use crate::tenant::tenant_from_headers;
use crate::time::{MAX_TIME_MS, MIN_TIME_MS};
use crate::{ApiError, ApiState};

/// `GET|POST /api/v1/query_exemplars`: `query`, `start`, `end` (both optional).
pub async fn query_exemplars(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &headers, &body)?;
    let start = params.time_or("start", MIN_TIME_MS)?;
    let end = params.time_or("end", MAX_TIME_MS)?;
    if end < start {
        return Err(ApiError::BadData("end timestamp must not be before start timestamp".into()));
    }
    // Prometheus answers parse errors here without the `invalid parameter "query"` prefix.
    let expr = promql_parser::parser::parse(params.value("query")).map_err(ApiError::BadData)?;
    let mut selectors = Vec::new();
    collect_selectors(&expr, &mut selectors);
    if selectors.is_empty() {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let tenant = tenant_from_headers(&headers)?;
    let Some(db) = state.store.existing_tenant(&tenant) else { return Ok(prom_json::success("[]", &[], &[])) };
    let found = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        // A series matched by several selectors is listed once, as Prometheus's exemplar storage does.
        let mut by_series: BTreeMap<Labels, Vec<Exemplar>> = BTreeMap::new();
        for matchers in selectors {
            for series in db.select_exemplars(&SelectRequest::new(matchers, start, end))? {
                by_series.entry(series.labels).or_insert(series.exemplars);
            }
        }
        Ok(by_series)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("exemplar query task failed: {e}")))??;
    Ok(prom_json::success(&render(&found), &[], &[]))
}

fn render(by_series: &BTreeMap<Labels, Vec<Exemplar>>) -> String {
    let mut out = String::from("[");
    for (index, (labels, exemplars)) in by_series.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str("{\"seriesLabels\":");
        write_labels(&mut out, labels);
        out.push_str(",\"exemplars\":[");
        for (exemplar_index, exemplar) in exemplars.iter().enumerate() {
            if exemplar_index > 0 {
                out.push(',');
            }
            out.push_str("{\"labels\":");
            write_labels(&mut out, &exemplar.labels);
            out.push_str(",\"value\":");
            write_sample_value(&mut out, exemplar.value);
            out.push_str(",\"timestamp\":");
            write_timestamp(&mut out, exemplar.timestamp_ms);
            out.push('}');
        }
        out.push_str("]}");
    }
    out.push(']');
    out
}

/// Appends the matchers of every vector selector in `expr` (those inside range selectors and subqueries too), one
/// list per selector and alternative.
fn collect_selectors(expr: &Expr, out: &mut Vec<Vec<Matcher>>) {
    match expr {
        Expr::VectorSelector(selector) => selector_matchers(selector, out),
        Expr::MatrixSelector(matrix) => selector_matchers(&matrix.vs, out),
        Expr::Aggregate(aggregate) => {
            collect_selectors(&aggregate.expr, out);
            if let Some(param) = &aggregate.param {
                collect_selectors(param, out);
            }
        }
        Expr::Unary(unary) => collect_selectors(&unary.expr, out),
        Expr::Binary(binary) => {
            collect_selectors(&binary.lhs, out);
            collect_selectors(&binary.rhs, out);
        }
        Expr::Paren(paren) => collect_selectors(&paren.expr, out),
        Expr::Subquery(subquery) => collect_selectors(&subquery.expr, out),
        Expr::Call(call) => call.args.args.iter().for_each(|arg| collect_selectors(arg, out)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

fn selector_matchers(selector: &VectorSelector, out: &mut Vec<Vec<Matcher>>) {
    let name = selector.name.as_ref().map(|name| Matcher::equal("__name__", name.clone()));
    let alternatives: Vec<&Vec<promql_parser::label::Matcher>> = if selector.matchers.or_matchers.is_empty() {
        vec![&selector.matchers.matchers]
    } else {
        selector.matchers.or_matchers.iter().collect()
    };
    for alternative in alternatives {
        let mut matchers: Vec<Matcher> = name.iter().cloned().collect();
        matchers.extend(alternative.iter().map(storage_matcher));
        out.push(matchers);
    }
}

/// A parser matcher as a storage matcher. Regular expressions are compiled the way Prometheus 3 compiles them
/// (`^(?s:re)$`, so `.` matches a newline); a pattern that only the parser's Go-compatibility rewriting accepts
/// (`a{b}`) keeps the parser's compiled form.
fn storage_matcher(matcher: &promql_parser::label::Matcher) -> Matcher {
    use promql_parser::label::MatchOp as ParserOp;
    let (name, value) = (matcher.name.clone(), matcher.value.clone());
    match &matcher.op {
        ParserOp::Equal => Matcher::equal(name, value),
        ParserOp::NotEqual => Matcher::not_equal(name, value),
        ParserOp::Re(parsed) => Matcher::regex(name.clone(), value.clone()).unwrap_or(Matcher {
            name,
            op: MatchOp::Regex(parsed.clone()),
            value,
        }),
        ParserOp::NotRe(parsed) => Matcher::not_regex(name.clone(), value.clone()).unwrap_or(Matcher {
            name,
            op: MatchOp::NotRegex(parsed.clone()),
            value,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selectors(query: &str) -> Vec<String> {
        let expr = promql_parser::parser::parse(query).unwrap();
        let mut out = Vec::new();
        collect_selectors(&expr, &mut out);
        out.iter()
            .map(|matchers| {
                matchers.iter().map(|m| format!("{}{}{:?}", m.name, m.op_str(), m.value)).collect::<Vec<_>>().join(",")
            })
            .collect()
    }

    #[test]
    fn selectors_are_found_everywhere_in_the_query() {
        assert_eq!(selectors("1 + 1"), Vec::<String>::new());
        assert_eq!(selectors("up"), ["__name__=\"up\""]);
        assert_eq!(
            selectors("sum by (job) (rate(http_requests_total{code=~\"5..\"}[5m])) / on() group_left vector(1)"),
            ["__name__=\"http_requests_total\",code=~\"5..\""]
        );
        assert_eq!(
            selectors("max_over_time(a[1h:5m]) and -b offset 1m or topk(scalar(c), d)"),
            // An aggregation's expression before its parameter, as Prometheus's `Inspect` walks it.
            ["__name__=\"a\"", "__name__=\"b\"", "__name__=\"d\"", "__name__=\"c\""]
        );
        assert_eq!(selectors("{job!=\"x\", __name__=\"m\"}"), ["job!=\"x\",__name__=\"m\""]);
    }

    #[test]
    fn regex_matchers_follow_prometheus() {
        let expr = promql_parser::parser::parse("{job=~\"a.b\"}").unwrap();
        let mut out = Vec::new();
        collect_selectors(&expr, &mut out);
        assert!(out[0][0].matches("a\nb"), "Prometheus 3 regexes let . match a newline");
        assert!(!out[0][0].matches("xa.b"), "anchored");
    }
}
