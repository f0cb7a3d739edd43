//! Jaeger's query API under `/jaeger` (what the Jaeger UI and Grafana's Jaeger data source call):
//! `/jaeger/api/services`, `/jaeger/api/services/<service>/operations`, `/jaeger/api/operations?service=&spanKind=`,
//! `/jaeger/api/traces?service=&operation=&tags=&minDuration=&maxDuration=&limit=&start=&end=&lookback=` and
//! `/jaeger/api/traces/<id>`, in Jaeger's envelope `{"data", "total", "limit", "offset", "errors"}` and its trace
//! JSON (microsecond times, typed tags, `processes`), with spans translated the way Jaeger's OTLP receiver does
//! (`span.kind`, `otel.status_code`, `error`, events as logs with an `event` field, links as `FOLLOWS_FROM`).
//! A search is a TraceQL query over the same store (`{ resource.service.name = … && name = … && … }`); the
//! matching traces are then read whole.

use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use oxeye_model::{AttrValue, Attribute, Span, SpanKind, StatusCode as SpanStatus, Trace, TraceId};
use oxeye_storage_api::{TraceScanRequest, TracesReader};
use serde_json::{Value, json};

use super::params::go_duration;
use crate::ApiState;
use crate::prom_read::blocking;

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/jaeger/api/services", get(services))
        .route("/jaeger/api/services/{service}/operations", get(service_operations))
        .route("/jaeger/api/operations", get(operations))
        .route("/jaeger/api/traces", get(find_traces))
        .route("/jaeger/api/traces/{id}", get(trace_by_id))
        .route("/jaeger/api/dependencies", get(dependencies))
}

fn envelope(data: Value, total: usize) -> Response {
    axum::Json(json!({ "data": data, "total": total, "limit": 0, "offset": 0, "errors": null })).into_response()
}

/// An error in Jaeger's envelope (`"errors": [{"code", "msg"}]`).
#[derive(Debug)]
struct JaegerError {
    status: StatusCode,
    message: String,
}

impl IntoResponse for JaegerError {
    fn into_response(self) -> Response {
        let body = json!({
            "data": null, "total": 0, "limit": 0, "offset": 0,
            "errors": [{ "code": self.status.as_u16(), "msg": self.message }],
        });
        (self.status, axum::Json(body)).into_response()
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> JaegerError {
    JaegerError { status, message: message.into() }
}

type JaegerResult = Result<Response, JaegerError>;

fn reader(
    state: &ApiState,
    headers: &HeaderMap,
) -> Result<Option<oxeye_traces_store::TenantTracesReader>, JaegerError> {
    super::reader(state, headers).map_err(|e| error(StatusCode::BAD_REQUEST, e.to_string()))
}

fn internal(error_value: impl std::fmt::Display) -> JaegerError {
    error(StatusCode::INTERNAL_SERVER_ERROR, error_value.to_string())
}

async fn service_list(
    state: &ApiState,
    headers: &HeaderMap,
) -> Result<Vec<oxeye_storage_api::ServiceOperations>, JaegerError> {
    let Some(reader) = reader(state, headers)? else { return Ok(Vec::new()) };
    blocking(move || reader.services(0, u64::MAX).map_err(|e| crate::ApiError::Internal(e.to_string())))
        .await
        .map_err(internal)
}

/// `GET /jaeger/api/services`.
async fn services(State(state): State<ApiState>, headers: HeaderMap) -> JaegerResult {
    let names: Vec<String> = service_list(&state, &headers).await?.into_iter().map(|s| s.service).collect();
    let total = names.len();
    Ok(envelope(json!(names), total))
}

/// `GET /jaeger/api/services/<service>/operations`.
async fn service_operations(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(service): Path<String>,
) -> JaegerResult {
    let mut names: Vec<String> = service_list(&state, &headers)
        .await?
        .into_iter()
        .filter(|s| s.service == service)
        .flat_map(|s| s.operations.into_iter().map(|(name, _)| name))
        .collect();
    names.dedup();
    let total = names.len();
    Ok(envelope(json!(names), total))
}

/// Jaeger's lowercase span kind (empty for unspecified).
fn kind_name(kind: SpanKind) -> &'static str {
    match kind {
        SpanKind::Unspecified => "",
        other => other.name(),
    }
}

/// `GET /jaeger/api/operations?service=&spanKind=`.
async fn operations(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> JaegerResult {
    let Some(service) = params.get("service").filter(|s| !s.is_empty()) else {
        return Err(error(StatusCode::BAD_REQUEST, "parameter 'service' is required"));
    };
    let kind = params.get("spanKind").map(String::as_str).unwrap_or("");
    let operations: Vec<Value> = service_list(&state, &headers)
        .await?
        .into_iter()
        .filter(|s| &s.service == service)
        .flat_map(|s| s.operations)
        .filter(|(_, span_kind)| kind.is_empty() || kind_name(*span_kind) == kind)
        .map(|(name, span_kind)| json!({ "name": name, "spanKind": kind_name(span_kind) }))
        .collect();
    let total = operations.len();
    Ok(envelope(Value::Array(operations), total))
}

/// A TraceQL string literal.
fn quote(text: &str) -> String {
    format!("{text:?}")
}

/// The TraceQL query a Jaeger search stands for.
fn search_query(params: &HashMap<String, String>) -> Result<String, JaegerError> {
    let bad = |message: String| error(StatusCode::BAD_REQUEST, message);
    let Some(service) = params.get("service").filter(|s| !s.is_empty()) else {
        return Err(bad("parameter 'service' is required".into()));
    };
    let mut conditions = vec![format!("resource.service.name = {}", quote(service))];
    if let Some(operation) = params.get("operation").filter(|s| !s.is_empty()) {
        conditions.push(format!("name = {}", quote(operation)));
    }
    if let Some(tags) = params.get("tags").filter(|s| !s.is_empty()) {
        let parsed: BTreeMap<String, Value> =
            serde_json::from_str(tags).map_err(|e| bad(format!("malformed 'tags' parameter: {e}")))?;
        for (key, value) in parsed {
            let value = match value {
                Value::String(text) => text,
                other => other.to_string(),
            };
            let attribute = format!(".{}", quote(&key));
            conditions.push(match (key.as_str(), value.as_str()) {
                ("error", "true") => "status = error".to_string(),
                _ => match value.parse::<i64>() {
                    Ok(number) => format!("({attribute} = {} || {attribute} = {number})", quote(&value)),
                    Err(_) => format!("{attribute} = {}", quote(&value)),
                },
            });
        }
    }
    for (name, op) in [("minDuration", ">="), ("maxDuration", "<=")] {
        if let Some(text) = params.get(name).filter(|s| !s.is_empty()) {
            let nanos = go_duration(name, text).map_err(|e| bad(e.to_string()))?;
            conditions.push(format!("duration {op} {nanos}ns"));
        }
    }
    Ok(format!("{{ {} }}", conditions.join(" && ")))
}

/// `GET /jaeger/api/traces?service=…` (`start`/`end` in microseconds, `lookback` like `1h`, `limit` default 20).
async fn find_traces(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> JaegerResult {
    let text = search_query(&params)?;
    let query =
        oxeye_traceql::parse(&text).map_err(|e| error(StatusCode::BAD_REQUEST, format!("invalid search: {e}")))?;
    let micros = |name: &str| -> Result<Option<u64>, JaegerError> {
        params
            .get(name)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<u64>().map_err(|_| error(StatusCode::BAD_REQUEST, format!("malformed '{name}': {s:?}"))))
            .transpose()
    };
    let end_ns = micros("end")?.map_or(u64::MAX, |us| us.saturating_mul(1_000));
    let start_ns = match (micros("start")?, params.get("lookback").filter(|s| !s.is_empty() && *s != "custom")) {
        (Some(us), _) => us.saturating_mul(1_000),
        (None, Some(lookback)) => {
            let span = go_duration("lookback", lookback).map_err(|e| error(StatusCode::BAD_REQUEST, e.to_string()))?;
            let now = u64::try_from(oxeye_traces_store::now_ns()).unwrap_or(0);
            end_ns.min(now).saturating_sub(span)
        }
        (None, None) => 0,
    };
    let limit = match params.get("limit").filter(|s| !s.is_empty()) {
        None => 20,
        Some(text) => text.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
            error(StatusCode::BAD_REQUEST, format!("malformed 'limit': {text:?} is not a positive integer"))
        })?,
    };
    let Some(reader) = reader(&state, &headers)? else { return Ok(envelope(json!([]), 0)) };
    let traces = blocking(move || {
        let request = TraceScanRequest { start_ns, end_ns, hints: query.hints() };
        let mut ids: Vec<TraceId> = Vec::new();
        reader
            .scan(&request, &mut |fragment: Trace| {
                if !ids.contains(&fragment.trace_id) && !query.evaluate(&fragment).is_empty() {
                    ids.push(fragment.trace_id);
                }
                if ids.len() >= limit { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
            })
            .map_err(|e| crate::ApiError::Internal(e.to_string()))?;
        let mut traces = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(trace) = reader.trace_by_id(id, None).map_err(|e| crate::ApiError::Internal(e.to_string()))? {
                traces.push(trace);
            }
        }
        Ok(traces)
    })
    .await
    .map_err(internal)?;
    let total = traces.len();
    Ok(envelope(Value::Array(traces.iter().map(trace_json).collect()), total))
}

/// `GET /jaeger/api/traces/<id>`.
async fn trace_by_id(State(state): State<ApiState>, headers: HeaderMap, Path(id): Path<String>) -> JaegerResult {
    let trace_id = super::params::trace_id(&id).map_err(|e| error(StatusCode::BAD_REQUEST, e.to_string()))?;
    let Some(reader) = reader(&state, &headers)? else { return Err(error(StatusCode::NOT_FOUND, "trace not found")) };
    let trace =
        blocking(move || reader.trace_by_id(trace_id, None).map_err(|e| crate::ApiError::Internal(e.to_string())))
            .await
            .map_err(internal)?;
    match trace {
        Some(trace) => Ok(envelope(json!([trace_json(&trace)]), 1)),
        None => Err(error(StatusCode::NOT_FOUND, "trace not found")),
    }
}

/// `GET /jaeger/api/dependencies?endTs=<ms>&lookback=<ms>`: service-to-service call counts (the Jaeger UI's
/// system architecture view), read from the service-graph counters the span-metrics generator writes
/// (`traces_service_graph_request_total{client, server}`): the exact increase of each counter over the window from
/// its raw samples (a counter reset counts from zero), summed per client/server pair.
async fn dependencies(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> JaegerResult {
    let millis = |name: &str, default: i64| -> Result<i64, JaegerError> {
        match params.get(name).filter(|s| !s.is_empty()) {
            None => Ok(default),
            Some(text) => text
                .parse::<i64>()
                .ok()
                .filter(|value| *value > 0)
                .ok_or_else(|| error(StatusCode::BAD_REQUEST, format!("malformed '{name}': {text:?}"))),
        }
    };
    let end_ms = millis("endTs", crate::write::now_ms())?;
    let lookback_ms = millis("lookback", 86_400_000)?;
    let tenant =
        crate::tenant::tenant_from_headers(&headers).map_err(|e| error(StatusCode::BAD_REQUEST, e.to_string()))?;
    let Some(db) = state.store.existing_tenant(&tenant) else { return Ok(envelope(json!([]), 0)) };
    let series = blocking(move || {
        let matchers = vec![oxeye_storage_api::Matcher::equal("__name__", "traces_service_graph_request_total")];
        let request = oxeye_storage_api::SelectRequest::new(matchers, end_ms.saturating_sub(lookback_ms), end_ms);
        oxeye_storage_api::MetricsReader::select_series(db.as_ref(), &request)
            .map_err(|e| crate::ApiError::Internal(e.to_string()))
    })
    .await
    .map_err(internal)?;
    let mut calls: BTreeMap<(String, String), f64> = BTreeMap::new();
    for series in series {
        let (Some(client), Some(server)) = (series.labels.get("client"), series.labels.get("server")) else {
            continue;
        };
        let increase: f64 = series
            .samples
            .windows(2)
            .map(|pair| if pair[1].value >= pair[0].value { pair[1].value - pair[0].value } else { pair[1].value })
            .sum();
        *calls.entry((client.to_string(), server.to_string())).or_default() += increase;
    }
    let data: Vec<Value> = calls
        .into_iter()
        .filter(|(_, count)| *count >= 1.0)
        .map(|((parent, child), count)| json!({ "parent": parent, "child": child, "callCount": count.round() as u64 }))
        .collect();
    let total = data.len();
    Ok(envelope(Value::Array(data), total))
}

/// Jaeger's trace id text: 16 hex digits when the high half is zero, else 32.
fn jaeger_trace_id(id: TraceId) -> String {
    let hex = id.to_hex();
    match hex.strip_prefix("0000000000000000") {
        Some(low) => low.to_string(),
        None => hex,
    }
}

fn tag(key: &str, value: &AttrValue) -> Value {
    match value {
        AttrValue::Bool(flag) => json!({ "key": key, "type": "bool", "value": flag }),
        AttrValue::Int(integer) => json!({ "key": key, "type": "int64", "value": integer }),
        AttrValue::Double(double) => json!({ "key": key, "type": "float64", "value": double }),
        AttrValue::Bytes(_) => json!({ "key": key, "type": "binary", "value": value.to_text() }),
        other => json!({ "key": key, "type": "string", "value": other.to_text() }),
    }
}

fn tags(attributes: &[Attribute]) -> Vec<Value> {
    attributes.iter().map(|attribute| tag(&attribute.key, &attribute.value)).collect()
}

fn span_json(span: &Span, process_id: &str, warnings: Option<&[String]>) -> Value {
    let mut references = Vec::new();
    if !span.parent_span_id.is_zero() {
        references.push(json!({
            "refType": "CHILD_OF", "traceID": jaeger_trace_id(span.trace_id), "spanID": span.parent_span_id.to_hex(),
        }));
    }
    for link in &span.links {
        references.push(json!({
            "refType": "FOLLOWS_FROM", "traceID": jaeger_trace_id(link.trace_id), "spanID": link.span_id.to_hex(),
        }));
    }
    let mut span_tags = tags(&span.attributes);
    if !span.scope.name.is_empty() {
        span_tags.push(tag("otel.scope.name", &AttrValue::Str(span.scope.name.clone())));
    }
    if !span.scope.version.is_empty() {
        span_tags.push(tag("otel.scope.version", &AttrValue::Str(span.scope.version.clone())));
    }
    if span.kind != SpanKind::Unspecified {
        span_tags.push(tag("span.kind", &AttrValue::Str(kind_name(span.kind).to_string())));
    }
    match span.status_code {
        SpanStatus::Error => {
            span_tags.push(tag("otel.status_code", &AttrValue::Str("ERROR".into())));
            span_tags.push(tag("error", &AttrValue::Bool(true)));
        }
        SpanStatus::Ok => span_tags.push(tag("otel.status_code", &AttrValue::Str("OK".into()))),
        SpanStatus::Unset => {}
    }
    if !span.status_message.is_empty() {
        span_tags.push(tag("otel.status_description", &AttrValue::Str(span.status_message.clone())));
    }
    let logs: Vec<Value> = span
        .events
        .iter()
        .map(|event| {
            let mut fields = vec![tag("event", &AttrValue::Str(event.name.clone()))];
            fields.extend(tags(&event.attributes));
            json!({ "timestamp": event.time_ns / 1_000, "fields": fields })
        })
        .collect();
    json!({
        "traceID": jaeger_trace_id(span.trace_id),
        "spanID": span.span_id.to_hex(),
        "operationName": span.name,
        "references": references,
        "startTime": span.start_ns / 1_000,
        "duration": span.duration_ns() / 1_000,
        "tags": span_tags,
        "logs": logs,
        "processID": process_id,
        "warnings": warnings,
        "flags": span.flags & 0xff,
    })
}

/// A trace in Jaeger's JSON; one process per distinct resource.
pub(crate) fn trace_json(trace: &Trace) -> Value {
    let mut processes: Vec<(&oxeye_model::Resource, String)> = Vec::new();
    let mut spans = Vec::with_capacity(trace.spans.len());
    let warnings: Option<Vec<String>> = (trace.truncated_spans > 0).then(|| {
        vec![format!(
            "trace truncated: {} span(s) beyond the limit of spans per trace were refused at ingest",
            trace.truncated_spans
        )]
    });
    let root = trace.root().map(|root| root.span_id);
    for span in &trace.spans {
        let process_id = match processes.iter().find(|(resource, _)| **resource == *span.resource) {
            Some((_, id)) => id.clone(),
            None => {
                let id = format!("p{}", processes.len() + 1);
                processes.push((&span.resource, id.clone()));
                id
            }
        };
        let span_warnings = if Some(span.span_id) == root { warnings.as_deref() } else { None };
        spans.push(span_json(span, &process_id, span_warnings));
    }
    let processes: serde_json::Map<String, Value> = processes
        .into_iter()
        .map(|(resource, id)| {
            let others: Vec<Attribute> =
                resource.attributes.iter().filter(|a| a.key != oxeye_model::SERVICE_NAME_ATTRIBUTE).cloned().collect();
            (id, json!({ "serviceName": resource.service_name(), "tags": tags(&others) }))
        })
        .collect();
    json!({
        "traceID": jaeger_trace_id(trace.trace_id),
        "spans": spans,
        "processes": processes,
        "warnings": warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_become_traceql() {
        let params: HashMap<String, String> = [
            ("service", "api"),
            ("operation", "GET /"),
            ("tags", r#"{"http.status_code":"500","error":"true"}"#),
            ("minDuration", "10ms"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let query = search_query(&params).unwrap();
        assert_eq!(
            query,
            r#"{ resource.service.name = "api" && name = "GET /" && status = error && (."http.status_code" = "500" || ."http.status_code" = 500) && duration >= 10000000ns }"#
        );
        oxeye_traceql::parse(&query).unwrap();
        assert!(search_query(&HashMap::new()).is_err());
    }

    #[test]
    fn jaeger_ids() {
        assert_eq!(jaeger_trace_id(TraceId::from_hex("abc").unwrap()), "0000000000000abc");
        assert_eq!(jaeger_trace_id(TraceId([1; 16])).len(), 32);
    }
}
