//! `GET /api/search`: TraceQL (`q`) or tag (`tags`, logfmt) search with `minDuration`, `maxDuration`, `limit`
//! (default 20), `spss` (spans per spanset, default 3), `start` and `end`, answered in Tempo's `SearchResponse`
//! shape. Trace fragments are read newest unit first and evaluated one by one (as Tempo evaluates each block's part
//! of a trace); the scan stops once `limit` traces matched, so the most recent matches are returned, newest first.

use std::collections::HashMap;
use std::ops::ControlFlow;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use oxeye_model::{StatusCode, Trace, TraceId};
use oxeye_storage_api::{TraceScanRequest, TraceScanStats, TracesReader};
use serde_json::{Map, Value, json};

use super::bad_request;
use super::json::attribute_json;
use super::params::{go_duration, positive, seconds_range};
use crate::prom_read::blocking;
use crate::{ApiError, ApiState};

/// What Tempo reports as the root of a trace whose root span it has not seen.
const NO_ROOT: &str = "<root span not yet received>";

/// Tempo's trace ids in search results: hex without leading zeros.
pub(crate) fn tempo_trace_id(id: TraceId) -> String {
    let hex = id.to_hex();
    let trimmed = hex.trim_start_matches('0');
    if trimmed.is_empty() { "0".to_string() } else { trimmed.to_string() }
}

/// Legacy tag search (`tags=service.name=api http.status_code=500`) as the TraceQL query Tempo runs for it.
pub(crate) fn tags_to_traceql(tags: &str) -> Result<String, ApiError> {
    let mut conditions = Vec::new();
    for (key, value) in logfmt(tags)? {
        let quoted = format!("{value:?}");
        let condition = match key.as_str() {
            "name" => format!("name = {quoted}"),
            "status" | "status.code" if matches!(value.as_str(), "error" | "ok" | "unset") => {
                format!("status = {value}")
            }
            "error" if value == "true" => "status = error".to_string(),
            _ => {
                let attribute = if key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/'))
                {
                    format!(".{key}")
                } else {
                    format!(".{key:?}")
                };
                match value.parse::<i64>() {
                    Ok(number) => format!("({attribute} = {quoted} || {attribute} = {number})"),
                    Err(_) => format!("{attribute} = {quoted}"),
                }
            }
        };
        conditions.push(condition);
    }
    if conditions.is_empty() {
        return Ok("{}".to_string());
    }
    Ok(format!("{{ {} }}", conditions.join(" && ")))
}

/// `key=value` pairs separated by spaces; values may be double-quoted.
fn logfmt(text: &str) -> Result<Vec<(String, String)>, ApiError> {
    let mut pairs = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let equals =
            rest.find('=').ok_or_else(|| bad_request(format!("invalid tags: expected key=value in {rest:?}")))?;
        let key = rest[..equals].trim().to_string();
        if key.is_empty() || key.contains(' ') {
            return Err(bad_request(format!("invalid tags: bad key in {rest:?}")));
        }
        rest = &rest[equals + 1..];
        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').ok_or_else(|| bad_request("invalid tags: unterminated quoted value"))?;
            value = quoted[..end].to_string();
            rest = quoted[end + 1..].trim_start();
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            value = rest[..end].to_string();
            rest = rest[end..].trim_start();
        }
        pairs.push((key, value));
    }
    Ok(pairs)
}

struct Found {
    start_ns: u64,
    end_ns: u64,
    root_service: Option<String>,
    root_name: Option<String>,
    spansets: Vec<Value>,
    service_stats: HashMap<String, (u64, u64)>,
}

fn span_json(trace: &Trace, index: usize, attributes: &[(String, oxeye_model::AttrValue)]) -> Value {
    let span = &trace.spans[index];
    let mut object = Map::new();
    object.insert("spanID".into(), json!(span.span_id.to_hex()));
    object.insert("name".into(), json!(span.name));
    object.insert("startTimeUnixNano".into(), json!(span.start_ns.to_string()));
    object.insert("durationNanos".into(), json!(span.duration_ns().to_string()));
    if !attributes.is_empty() {
        object.insert(
            "attributes".into(),
            Value::Array(attributes.iter().map(|(key, value)| attribute_json(key, value)).collect()),
        );
    }
    Value::Object(object)
}

/// `GET /api/search`.
pub(super) async fn search(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let text = match (params.get("q").map(|q| q.trim()).filter(|q| !q.is_empty()), params.get("tags")) {
        (Some(q), _) => q.to_string(),
        (None, Some(tags)) => tags_to_traceql(tags)?,
        (None, None) => "{}".to_string(),
    };
    let query = oxeye_traceql::parse(&text).map_err(|error| bad_request(format!("invalid TraceQL query: {error}")))?;
    if query.is_metrics() {
        return Err(bad_request("invalid TraceQL query: metrics queries are served by /api/metrics/query_range"));
    }
    let limit = positive(&params, "limit", 20)?;
    let spans_per_spanset = positive(&params, "spss", 3)?;
    let min_duration =
        params.get("minDuration").filter(|v| !v.is_empty()).map(|v| go_duration("minDuration", v)).transpose()?;
    let max_duration =
        params.get("maxDuration").filter(|v| !v.is_empty()).map(|v| go_duration("maxDuration", v)).transpose()?;
    let (start_ns, end_ns) = seconds_range(&params)?.unwrap_or((0, u64::MAX));
    let Some(reader) = super::reader(&state, &headers)? else {
        return Ok(
            axum::Json(json!({ "traces": [], "metrics": metrics_json(&TraceScanStats::default()) })).into_response()
        );
    };
    let timeout = state.config.traceql.timeout;
    let deadline = std::time::Instant::now() + timeout;
    let (found, stats) = blocking(move || {
        let request = TraceScanRequest { start_ns, end_ns, hints: query.hints() };
        let mut found: HashMap<TraceId, Found> = HashMap::new();
        let mut expired = false;
        let mut sink = |fragment: Trace| {
            if std::time::Instant::now() > deadline {
                expired = true;
                return ControlFlow::Break(());
            }
            let duration = fragment.duration_ns();
            if min_duration.is_some_and(|min| duration < min) || max_duration.is_some_and(|max| duration > max) {
                return ControlFlow::Continue(());
            }
            let spansets = query.evaluate(&fragment);
            if spansets.is_empty() {
                return ControlFlow::Continue(());
            }
            let entry = found.entry(fragment.trace_id).or_insert_with(|| Found {
                start_ns: u64::MAX,
                end_ns: 0,
                root_service: None,
                root_name: None,
                spansets: Vec::new(),
                service_stats: HashMap::new(),
            });
            entry.start_ns = entry.start_ns.min(fragment.start_ns());
            entry.end_ns = entry.end_ns.max(fragment.end_ns());
            if entry.root_name.is_none()
                && let Some(root) = fragment.spans.iter().find(|span| span.is_root())
            {
                entry.root_name = Some(root.name.clone());
                entry.root_service = Some(root.service_name().to_string());
            }
            for span in &fragment.spans {
                let stats = entry.service_stats.entry(span.service_name().to_string()).or_default();
                stats.0 += 1;
                stats.1 += u64::from(span.status_code == StatusCode::Error);
            }
            for spanset in spansets {
                let spans: Vec<Value> = spanset
                    .spans
                    .iter()
                    .take(spans_per_spanset)
                    .map(|matched| span_json(&fragment, matched.index, &matched.attributes))
                    .collect();
                let mut object = Map::new();
                object.insert("spans".into(), Value::Array(spans));
                object.insert("matched".into(), json!(spanset.spans.len()));
                if !spanset.attributes.is_empty() {
                    object.insert(
                        "attributes".into(),
                        Value::Array(
                            spanset.attributes.iter().map(|(key, value)| attribute_json(key, value)).collect(),
                        ),
                    );
                }
                entry.spansets.push(Value::Object(object));
            }
            if found.len() >= limit { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        };
        let stats = reader.scan(&request, &mut sink).map_err(|e| ApiError::Internal(e.to_string()))?;
        if expired {
            return Err(super::timed_out(timeout));
        }
        Ok((found, stats))
    })
    .await?;
    let mut traces: Vec<(TraceId, Found)> = found.into_iter().collect();
    traces.sort_by(|a, b| b.1.start_ns.cmp(&a.1.start_ns).then(a.0.cmp(&b.0)));
    let traces: Vec<Value> = traces
        .into_iter()
        .map(|(trace_id, found)| {
            let mut object = Map::new();
            object.insert("traceID".into(), json!(tempo_trace_id(trace_id)));
            object.insert("rootServiceName".into(), json!(found.root_service.as_deref().unwrap_or(NO_ROOT)));
            if let Some(name) = &found.root_name {
                object.insert("rootTraceName".into(), json!(name));
            }
            object.insert("startTimeUnixNano".into(), json!(found.start_ns.to_string()));
            let duration_ms = found.end_ns.saturating_sub(found.start_ns) / 1_000_000;
            if duration_ms > 0 {
                object.insert("durationMs".into(), json!(duration_ms.min(u64::from(u32::MAX))));
            }
            if let Some(first) = found.spansets.first() {
                object.insert("spanSet".into(), first.clone());
            }
            object.insert("spanSets".into(), Value::Array(found.spansets));
            let mut services: Vec<(String, (u64, u64))> = found.service_stats.into_iter().collect();
            services.sort();
            let stats: Map<String, Value> = services
                .into_iter()
                .map(|(service, (spans, errors))| {
                    let mut stat = json!({ "spanCount": spans });
                    if errors > 0 {
                        stat["errorCount"] = json!(errors);
                    }
                    (service, stat)
                })
                .collect();
            object.insert("serviceStats".into(), Value::Object(stats));
            Value::Object(object)
        })
        .collect();
    Ok(axum::Json(json!({ "traces": traces, "metrics": metrics_json(&stats) })).into_response())
}

/// Tempo's `SearchMetrics` (64-bit counters as strings, as jsonpb writes them).
fn metrics_json(stats: &TraceScanStats) -> Value {
    let units = stats.units_opened + stats.units_skipped;
    json!({
        "inspectedTraces": stats.inspected_traces,
        "inspectedBytes": stats.inspected_bytes.to_string(),
        "inspectedSpans": stats.inspected_spans.to_string(),
        "totalBlocks": units,
        "completedJobs": units,
        "totalJobs": units,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_become_traceql() {
        assert_eq!(tags_to_traceql("").unwrap(), "{}");
        assert_eq!(
            tags_to_traceql(r#"service.name=api name="GET /" http.status_code=500 error=true"#).unwrap(),
            r#"{ .service.name = "api" && name = "GET /" && (.http.status_code = "500" || .http.status_code = 500) && status = error }"#
        );
        assert!(tags_to_traceql("novalue").is_err());
        for tags in ["service.name=api", "name=\"a b\" status=error"] {
            let query = tags_to_traceql(tags).unwrap();
            oxeye_traceql::parse(&query).unwrap_or_else(|e| panic!("{query}: {e}"));
        }
    }

    #[test]
    fn trace_ids_lose_leading_zeros_as_tempo_writes_them() {
        assert_eq!(tempo_trace_id(TraceId::from_hex("00000000000000000000000000000abc").unwrap()), "abc");
    }
}
