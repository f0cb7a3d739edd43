//! `GET|POST /loki/api/v1/patterns?query=<stream selector>&start=…&end=…&step=…` (Grafana Logs Drilldown's
//! patterns tab).
//!
//! Parameters are read as Loki's `ParsePatternsQuery` reads them: `start`/`end`/`since` as for `query_range`,
//! `step` as a duration or float seconds (default `range / 250`, at least 1 s; raised to 10 s, the width of a
//! pattern bucket), at most 11,000 steps. The query must be a stream selector with at least one non-empty matcher.
//! The answer is Loki's: `{"status":"success","data":[{"pattern":"<_> level=info …","level":"info",
//! "samples":[[<unix seconds>,<count>],…]},…]}`, most frequent pattern first, patterns with fewer than 30 lines
//! left out; errors are plain text, 400 for the client's mistakes.
//!
//! Deviation from Loki: Loki's pattern ingesters mine every line as it is pushed; oxeye mines at query time the
//! newest lines the request selects (at most 20,000 lines and 16 MiB of text, see `oxeye_logql::patterns`), so
//! a request costs bounded CPU and memory. When more lines match, the older steps are under-counted.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use oxeye_logql::patterns::{PatternQuery, PatternSeries, query_patterns};
use oxeye_logs_store::TenantLogsReader;

use super::bad_request as bad;
use super::params::{bounds, step};
use crate::params::Params;
use crate::tenant::tenant_from_headers;
use crate::{ApiError, ApiState};

/// Most steps a request may span (Loki's 11,000 points per series).
const MAX_STEPS: i64 = 11_000;

/// Loki's JSON for a patterns answer (`marshal.WriteQueryPatternsResponseJSON`): patterns escaped as Go escapes
/// them (`<_>` as `\u003c_\u003e`), sample times in whole seconds.
fn render(series: &[PatternSeries]) -> String {
    let mut body = String::with_capacity(64 + series.len() * 256);
    body.push_str("{\"status\":\"success\",\"data\":[");
    for (index, pattern) in series.iter().enumerate() {
        if index > 0 {
            body.push(',');
        }
        body.push_str("{\"pattern\":");
        oxeye_model::go_json::write_string(&mut body, &pattern.pattern);
        body.push_str(",\"level\":");
        oxeye_model::go_json::write_string(&mut body, pattern.level);
        body.push_str(",\"samples\":[");
        for (sample_index, sample) in pattern.samples.iter().enumerate() {
            if sample_index > 0 {
                body.push(',');
            }
            body.push_str(&format!("[{},{}]", sample.timestamp_ms / 1000, sample.count));
        }
        body.push_str("]}");
    }
    body.push_str("]}\n");
    body
}

/// `GET|POST /loki/api/v1/patterns`.
pub async fn patterns(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &headers, &body)?;
    let (start_ns, end_ns) = bounds(&params, oxeye_logs_store::now_ns())?;
    let step_ns = step(&params, start_ns, end_ns)?;
    if step_ns <= 0 {
        return Err(bad("zero or negative query resolution step widths are not accepted. Try a positive integer"));
    }
    if (end_ns - start_ns) / step_ns > MAX_STEPS {
        return Err(bad(
            "exceeded maximum resolution of 11,000 points per time series. Try increasing the value of the step parameter",
        ));
    }
    let matchers = super::parse_stream_selector(params.value("query")).map_err(bad)?;
    let tenant = tenant_from_headers(&headers).map_err(|e| bad(e.to_string()))?;
    let Some(logs) = state.logs.existing_tenant(&tenant) else { return Ok(json_response(render(&[]))) };

    let timeout = state.config.logql.timeout;
    let cancel = Arc::new(AtomicBool::new(false));
    let _cancel_on_drop = crate::query::CancelOnDrop(cancel.clone());
    let request = PatternQuery::new(matchers, start_ns, end_ns, step_ns);
    let task = tokio::task::spawn_blocking(move || {
        let reader = TenantLogsReader::new(logs);
        query_patterns(&reader, &request, &cancel)
    });
    let mined = match tokio::time::timeout(timeout, task).await {
        Err(_) => {
            return Err(ApiError::PlainText(
                StatusCode::GATEWAY_TIMEOUT,
                format!("query timed out after {}s (logql timeout)", timeout.as_secs_f64()),
            ));
        }
        Ok(Err(join)) => return Err(ApiError::Internal(format!("patterns task failed: {join}"))),
        Ok(Ok(result)) => result.map_err(|e| ApiError::PlainText(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?,
    };
    tracing::debug!(
        rows_read = mined.rows_read,
        lines_mined = mined.lines_mined,
        patterns = mined.series.len(),
        "patterns query"
    );
    Ok(json_response(render(&mined.series)))
}

fn json_response(body: String) -> Response {
    (StatusCode::OK, [("content-type", "application/json; charset=UTF-8")], body).into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use serde_json::json;

    use crate::tests::{Harness, harness};

    const NS: i64 = 1_000_000_000;

    /// A minute boundary five minutes ago, in seconds, so 20 s steps align on it and every line is in the past.
    fn base_seconds() -> i64 {
        oxeye_logs_store::now_ns() / NS / 60 * 60 - 300
    }

    /// Pushes to `{app="shop"}`: 40 `info` request lines at base+0..39 s, 30 `error` payment lines at base+5..34 s
    /// and 10 `info` cache lines at base+40..49 s; the level of each comes from its `level=` field.
    async fn push_shop(harness: &Harness, base: i64) {
        let mut values = Vec::new();
        for i in 0..40 {
            let line = format!(r#"level=info msg="request done" path=/api/items/{i} duration={}ms"#, 3 * i + 1);
            values.push(json!([((base + i) * NS).to_string(), line]));
        }
        for i in 0..30 {
            let line = format!(r#"level=error msg="payment failed" order={} reason=timeout"#, 9000 + i);
            values.push(json!([((base + 5 + i) * NS + 1).to_string(), line]));
        }
        for i in 0..10 {
            let line = format!(r#"level=info msg="cache warmed" entries={}"#, 100 * i);
            values.push(json!([((base + 40 + i) * NS).to_string(), line]));
        }
        let body = json!({"streams": [{"stream": {"app": "shop"}, "values": values}]});
        let request = Request::post("/loki/api/v1/push")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let (status, text) = harness.send(request).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{text}");
    }

    #[tokio::test]
    async fn patterns_are_mined_per_level_and_counted_per_step() {
        let harness = harness();
        let base = base_seconds();
        push_shop(&harness, base).await;

        let uri = format!(r#"/loki/api/v1/patterns?query={{app="shop"}}&start={base}&end={}&step=20s"#, base + 60);
        let (status, body) = harness.get(&uri, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // Loki's bytes: `<_>` escaped as Go escapes it, the most frequent pattern first, the 10 cache lines (fewer
        // than 30) left out. Info lines: 20 in [base, base+20), 20 in [base+20, base+40); error lines: 15 and 15.
        let (first, second) = (base, base + 20);
        let want = format!(
            concat!(
                r#"{{"status":"success","data":["#,
                r#"{{"pattern":"level=info msg=\"request done\" path=\u003c_\u003e duration=\u003c_\u003e","level":"info","samples":[[{first},20],[{second},20]]}},"#,
                r#"{{"pattern":"level=error msg=\"payment failed\" order=\u003c_\u003e reason=timeout","level":"error","samples":[[{first},15],[{second},15]]}}"#,
                "]}}\n"
            ),
            first = first,
            second = second,
        );
        assert_eq!(body, want);

        // The default step (range / 250 s, here 1 s) is raised to the 10 s bucket width; the same via a POST form.
        let form = format!("query=%7Bapp%3D%22shop%22%7D&start={base}&end={}", base + 60);
        let request = Request::post("/loki/api/v1/patterns")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap();
        let (status, body) = harness.send(request).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            parsed["data"][0],
            json!({
                "pattern": r#"level=info msg="request done" path=<_> duration=<_>"#,
                "level": "info",
                "samples": [[base, 10], [base + 10, 10], [base + 20, 10], [base + 30, 10]],
            })
        );
        assert_eq!(parsed["data"][1]["samples"], json!([[base, 5], [base + 10, 10], [base + 20, 10], [base + 30, 5]]));
        assert_eq!(parsed["data"].as_array().unwrap().len(), 2);

        // A range holding part of the lines, from base+10 s: 30 request lines (reported, in the step starting at
        // base), 25 payment lines (too few).
        let uri =
            format!(r#"/loki/api/v1/patterns?query={{app=~"sh.p"}}&start={}&end={}&step=60"#, base + 10, base + 60);
        let parsed = harness.get_json(&uri, None).await;
        assert_eq!(parsed["data"][0]["level"], "info");
        assert_eq!(parsed["data"][0]["samples"], json!([[base, 30]]));
        assert_eq!(parsed["data"].as_array().unwrap().len(), 1, "{parsed}");
    }

    #[tokio::test]
    async fn other_tenants_and_other_streams_have_no_patterns() {
        let harness = harness();
        let base = base_seconds();
        push_shop(&harness, base).await;
        let uri = format!(r#"/loki/api/v1/patterns?query={{app="shop"}}&start={base}&end={}&step=20s"#, base + 60);
        let (status, body) = harness.get(&uri, Some("other-tenant")).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "{\"status\":\"success\",\"data\":[]}\n"));
        let uri = format!(r#"/loki/api/v1/patterns?query={{app="web"}}&start={base}&end={}&step=20s"#, base + 60);
        let (status, body) = harness.get(&uri, None).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "{\"status\":\"success\",\"data\":[]}\n"));
    }

    #[tokio::test]
    async fn bad_requests_are_plain_text_400s() {
        let harness = harness();
        let base = base_seconds();
        let f = |query: String, want: &'static str| {
            let harness = &harness;
            async move {
                let (status, body) = harness.get(&format!("/loki/api/v1/patterns?{query}"), None).await;
                assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
                assert!(body.contains(want), "{query}: {body}");
            }
        };
        f(format!(r#"query={{app="shop"}} |= "x"&start={base}"#), "only label matchers are supported").await;
        f(format!(r#"query={{app=""}}&start={base}"#), "at least one").await;
        f(format!("start={base}"), "syntax error").await;
        f(format!(r#"query={{app="shop"}}&start={base}&step=0"#), "zero or negative query resolution step").await;
        f(
            format!(r#"query={{app="shop"}}&start={base}&end={}&step=1ms"#, base + 60),
            "exceeded maximum resolution of 11,000 points per time series",
        )
        .await;
        f(r#"query={app="shop"}&start=yesterday"#.to_string(), "could not parse 'start' parameter").await;
    }
}
