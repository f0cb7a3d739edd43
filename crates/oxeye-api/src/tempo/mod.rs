//! The Tempo HTTP API (trace by id, TraceQL search, TraceQL metrics, tag names and values, echo, build info) and, under
//! `/jaeger`, Jaeger's query API; both read the trace store through [`oxeye_storage_api::TracesReader`].
//!
//! Tempo and Jaeger both serve `/api/traces/<id>`; oxeye serves Tempo's there and Jaeger's under the `/jaeger`
//! prefix (point Grafana's Jaeger data source or the Jaeger UI's query base at `http://<oxeye>/jaeger`). Errors are
//! plain text with Tempo's status codes (400 for a bad parameter or query, 404 for an unknown trace).

mod by_id;
pub(crate) mod jaeger;
mod json;
mod metrics;
mod params;
mod search;
mod tags;
#[cfg(test)]
mod tests;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use oxeye_traces_store::TenantTracesReader;

use crate::{ApiError, ApiState};

/// Every Tempo, Jaeger and span-ingest route.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/traces", post(crate::otlp_traces::http_traces))
        .route("/api/v2/spans", post(crate::otlp_traces::zipkin_spans))
        .route("/api/traces/{id}", get(by_id::trace_v1))
        .route("/api/v2/traces/{id}", get(by_id::trace_v2))
        .route("/api/search", get(search::search))
        .route("/api/search/tags", get(tags::tags_v1))
        .route("/api/v2/search/tags", get(tags::tags_v2))
        .route("/api/search/tag/{name}/values", get(tags::tag_values_v1))
        .route("/api/v2/search/tag/{name}/values", get(tags::tag_values_v2))
        .route("/api/metrics/query_range", get(metrics::query_range))
        .route("/api/metrics/query", get(metrics::query_instant))
        .route("/api/echo", get(echo))
        .route("/api/status/buildinfo", get(build_info))
        .merge(jaeger::routes())
}

/// A 400 with a plain-text body, as Tempo answers a bad request.
pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::PlainText(StatusCode::BAD_REQUEST, message.into())
}

/// A 504 for a search or metrics query that ran past `timeout`.
pub(crate) fn timed_out(timeout: std::time::Duration) -> ApiError {
    ApiError::PlainText(
        StatusCode::GATEWAY_TIMEOUT,
        format!("the query ran longer than the timeout of {timeout:?}; narrow the time range or the spanset filter"),
    )
}

/// The tenant's trace reader; `None` when the tenant has never stored a span.
pub(crate) fn reader(state: &ApiState, headers: &HeaderMap) -> Result<Option<TenantTracesReader>, ApiError> {
    let tenant = crate::tenant::tenant_from_headers(headers).map_err(|error| bad_request(error.to_string()))?;
    Ok(state.traces.reader(&tenant))
}

/// `GET /api/echo`: Tempo answers `echo` so that Grafana's "Test" button sees a live Tempo.
async fn echo() -> Response {
    (StatusCode::OK, [("content-type", "text/plain; charset=utf-8")], "echo").into_response()
}

/// `GET /api/status/buildinfo`: Tempo's shape, oxeye's version.
async fn build_info(State(state): State<ApiState>) -> Response {
    let info = &state.config.build_info;
    axum::Json(serde_json::json!({
        "version": info.version,
        "revision": info.revision,
        "branch": info.branch,
        "buildUser": info.build_user,
        "buildDate": info.build_date,
        "goVersion": info.go_version,
    }))
    .into_response()
}
