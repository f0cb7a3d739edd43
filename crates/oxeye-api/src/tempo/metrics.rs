//! TraceQL metrics: `GET /api/metrics/query_range` and `GET /api/metrics/query` (instant), as Tempo answers them
//! (`{"series": [{"labels": [KeyValue…], "samples": [{"timestampMs", "value"}]}], "metrics": …}`; instant:
//! `{"series": [{"labels", "value"}]}`). `q` (or `query`) is a TraceQL metrics query (`{…} | rate() by (…)`);
//! `start`/`end` are Unix seconds, nanoseconds, fractional seconds or RFC 3339 (default: the hour before `end`,
//! `since` to change it); `step` is seconds or a duration (default: Tempo's, about 240 points). The spans are read
//! from the trace store with the query's pruning hints and evaluated over the whole range.

use std::collections::HashMap;
use std::ops::ControlFlow;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use oxeye_model::Trace;
use oxeye_storage_api::{TraceScanRequest, TracesReader};
use serde_json::{Value, json};

use super::bad_request;
use super::json::attribute_json;
use super::params::go_duration;
use crate::prom_read::blocking;
use crate::{ApiError, ApiState};

/// The most trace fragments a metrics query reads (memory bound: fragments are held until evaluated).
const MAX_FRAGMENTS: usize = 2_000_000;

/// Tempo's `parseTimestamp`: fractional seconds, ≤10 digits as seconds, more as nanoseconds, or RFC 3339.
fn timestamp(name: &str, text: &str) -> Result<u64, ApiError> {
    let invalid = || bad_request(format!("could not parse '{name}' parameter: {text:?}"));
    if text.contains('.') {
        let seconds: f64 = text.parse().map_err(|_| invalid())?;
        return Ok((seconds * 1e9).round() as u64);
    }
    if let Ok(number) = text.parse::<u64>() {
        return Ok(if text.len() <= 10 { number * 1_000_000_000 } else { number });
    }
    rfc3339_ns(text).ok_or_else(invalid)
}

/// `2026-11-23T10:00:00Z` / `…+01:00` / fractional seconds, to Unix nanoseconds.
fn rfc3339_ns(text: &str) -> Option<u64> {
    let (date, time) = text.split_once(['T', 't'])?;
    let mut date_parts = date.split('-');
    let year: i64 = date_parts.next()?.parse().ok()?;
    let month: i64 = date_parts.next()?.parse().ok()?;
    let day: i64 = date_parts.next()?.parse().ok()?;
    let (clock, offset_seconds) = if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        (clock, 0i64)
    } else {
        let split = time.rfind(['+', '-'])?;
        let (clock, offset) = time.split_at(split);
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let (hours, minutes) = offset[1..].split_once(':')?;
        (clock, sign * (hours.parse::<i64>().ok()? * 3600 + minutes.parse::<i64>().ok()? * 60))
    };
    let mut clock_parts = clock.split(':');
    let hour: i64 = clock_parts.next()?.parse().ok()?;
    let minute: i64 = clock_parts.next()?.parse().ok()?;
    let seconds: f64 = clock_parts.next()?.parse().ok()?;
    let days = oxeye_model::time::days_from_civil(year, month, day);
    let whole = days * 86_400 + hour * 3600 + minute * 60 - offset_seconds;
    let nanos = whole as f64 * 1e9 + seconds * 1e9;
    (nanos >= 0.0).then_some(nanos as u64)
}

/// Tempo's `DefaultQueryRangeStep`: about 240 points, rounded down to a whole granularity.
fn default_step(start_ns: u64, end_ns: u64) -> u64 {
    let delta = end_ns.saturating_sub(start_ns);
    let baseline = delta / 240;
    if delta < 60_000_000_000 {
        let granularity = 50_000_000;
        return if baseline > granularity { baseline / granularity * granularity } else { granularity };
    }
    for granularity in
        [3_600_000_000_000u64, 300_000_000_000, 60_000_000_000, 15_000_000_000, 5_000_000_000, 1_000_000_000]
    {
        if baseline > granularity {
            return baseline / granularity * granularity;
        }
    }
    1_000_000_000
}

struct RangeRequest {
    query: oxeye_traceql::Query,
    start_ns: u64,
    end_ns: u64,
    step_ns: u64,
    instant: bool,
}

fn parse_request(params: &HashMap<String, String>) -> Result<RangeRequest, ApiError> {
    let text = params
        .get("q")
        .or_else(|| params.get("query"))
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| bad_request("missing TraceQL metrics query: set q"))?;
    let query = oxeye_traceql::parse(text).map_err(|e| bad_request(format!("invalid TraceQL query: {e}")))?;
    if !query.is_metrics() {
        return Err(bad_request(
            "invalid TraceQL query: not a metrics query (end it with a metrics function such as | rate())",
        ));
    }
    let now = u64::try_from(oxeye_traces_store::now_ns()).unwrap_or(0);
    let end_ns = match params.get("end").filter(|v| !v.is_empty()) {
        Some(text) => timestamp("end", text)?,
        None => now,
    };
    let since = match params.get("since").filter(|v| !v.is_empty()) {
        Some(text) => go_duration("since", text)?,
        None => 3_600_000_000_000,
    };
    let start_ns = match params.get("start").filter(|v| !v.is_empty()) {
        Some(text) => timestamp("start", text)?,
        None => end_ns.min(now).saturating_sub(since),
    };
    if start_ns >= end_ns {
        return Err(bad_request("invalid start: start must be before end"));
    }
    let step_ns = match params.get("step").filter(|v| !v.is_empty()) {
        None => default_step(start_ns, end_ns),
        Some(text) => match text.parse::<f64>() {
            Ok(seconds) if seconds > 0.0 => (seconds * 1e9) as u64,
            Ok(_) => return Err(bad_request(format!("cannot parse {text:?}: step must be positive"))),
            Err(_) => go_duration("step", text)?,
        },
    };
    if step_ns == 0 {
        return Err(bad_request("step must be positive"));
    }
    if (end_ns - start_ns) / step_ns > 11_000 {
        return Err(bad_request("step too small: more than 11000 points per series"));
    }
    Ok(RangeRequest { query, start_ns, end_ns, step_ns, instant: false })
}

async fn evaluate(
    state: &ApiState,
    headers: &HeaderMap,
    request: RangeRequest,
) -> Result<Vec<oxeye_traceql::MetricSeries>, ApiError> {
    let Some(reader) = super::reader(state, headers)? else { return Ok(Vec::new()) };
    let timeout = state.config.traceql.timeout;
    let deadline = std::time::Instant::now() + timeout;
    blocking(move || {
        let scan =
            TraceScanRequest { start_ns: request.start_ns, end_ns: request.end_ns, hints: request.query.hints() };
        let mut fragments: Vec<Trace> = Vec::new();
        let mut truncated = false;
        let mut expired = false;
        reader
            .scan(&scan, &mut |fragment: Trace| {
                if std::time::Instant::now() > deadline {
                    expired = true;
                    return ControlFlow::Break(());
                }
                fragments.push(fragment);
                if fragments.len() >= MAX_FRAGMENTS {
                    truncated = true;
                    return ControlFlow::Break(());
                }
                ControlFlow::Continue(())
            })
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        if expired {
            return Err(super::timed_out(timeout));
        }
        if truncated {
            return Err(bad_request(format!(
                "query reads more than {MAX_FRAGMENTS} traces; narrow the time range or the spanset filter"
            )));
        }
        let series = if request.instant {
            request.query.evaluate_metrics_instant(&fragments, request.start_ns, request.end_ns)
        } else {
            request.query.evaluate_metrics(&fragments, request.start_ns, request.end_ns, request.step_ns)
        };
        series.map_err(|e| bad_request(format!("invalid TraceQL metrics query: {e}")))
    })
    .await
}

fn labels_json(series: &oxeye_traceql::MetricSeries) -> Value {
    Value::Array(series.labels.iter().map(|(key, value)| attribute_json(key, value)).collect())
}

/// `GET /api/metrics/query_range`.
pub(super) async fn query_range(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let request = parse_request(&params)?;
    let series = evaluate(&state, &headers, request).await?;
    let series: Vec<Value> = series
        .iter()
        .map(|series| {
            let samples: Vec<Value> = series
                .timestamps_ns
                .iter()
                .zip(&series.values)
                .filter(|(_, value)| !value.is_nan())
                .map(|(ns, value)| json!({ "timestampMs": (ns / 1_000_000).to_string(), "value": value }))
                .collect();
            json!({ "labels": labels_json(series), "samples": samples })
        })
        .collect();
    Ok(axum::Json(json!({ "series": series, "metrics": {} })).into_response())
}

/// `GET /api/metrics/query`: one value per series over the whole range.
pub(super) async fn query_instant(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let mut request = parse_request(&params)?;
    request.instant = true;
    let series = evaluate(&state, &headers, request).await?;
    let series: Vec<Value> = series
        .iter()
        .filter_map(|series| {
            let value = series.values.iter().copied().find(|value| !value.is_nan())?;
            Some(json!({ "labels": labels_json(series), "value": value }))
        })
        .collect();
    Ok(axum::Json(json!({ "series": series, "metrics": {} })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_as_tempo_parses_them() {
        assert_eq!(timestamp("start", "1700000000").unwrap(), 1_700_000_000_000_000_000);
        assert_eq!(timestamp("start", "1700000000000000000").unwrap(), 1_700_000_000_000_000_000);
        assert_eq!(timestamp("start", "1700000000.5").unwrap(), 1_700_000_000_500_000_000);
        assert_eq!(timestamp("start", "2023-11-14T22:13:20Z").unwrap(), 1_700_000_000_000_000_000);
        assert_eq!(timestamp("start", "2023-11-14T23:13:20+01:00").unwrap(), 1_700_000_000_000_000_000);
        assert!(timestamp("start", "yesterday").unwrap_err().to_string().contains("'start'"));
    }

    #[test]
    fn default_steps_aim_for_240_points() {
        let hour = 3_600_000_000_000;
        assert_eq!(default_step(0, hour), 15_000_000_000);
        // 24 h / 240 = 6 min, rounded down to a multiple of 5 min.
        assert_eq!(default_step(0, 24 * hour), 300_000_000_000);
        assert_eq!(default_step(0, 30_000_000_000), 100_000_000);
    }
}
