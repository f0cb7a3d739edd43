//! The Loki HTTP API: push, LogQL queries, metadata, index statistics, live tail, build info.
//!
//! Errors are plain text with Loki's status codes (`ApiError::PlainText`); successful responses follow Loki's JSON
//! shapes exactly (`json.rs`). Elasticsearch bulk ingest (VictoriaLogs' path) and OTLP logs live beside the push
//! handler because they feed the same store.

mod detected;
mod elasticsearch;
mod index;
mod json;
mod params;
mod patterns;
mod push;
mod query;
mod tail;
#[cfg(test)]
mod tests;

pub(crate) use push::store_logs;
pub use tail::{TailBatch, TailHub};

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use oxeye_storage_api::Matcher;

use crate::ApiState;

/// A 400 with Loki's plain-text body.
pub(crate) fn bad_request(message: impl Into<String>) -> crate::ApiError {
    crate::ApiError::PlainText(axum::http::StatusCode::BAD_REQUEST, message.into())
}

/// Parses a LogQL stream selector (`{app="api", env=~"prod|staging"}`) into matchers.
pub(crate) fn parse_stream_selector(text: &str) -> Result<Vec<Matcher>, String> {
    oxeye_logql::parse_selector(text).map_err(|e| e.to_string())
}

/// Every Loki route.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/loki/api/v1/push", post(push::push))
        .route("/loki/api/v1/query_range", get(query::query_range).post(query::query_range))
        .route("/loki/api/v1/query", get(query::query).post(query::query))
        .route("/loki/api/v1/labels", get(index::labels).post(index::labels))
        .route("/loki/api/v1/label/{name}/values", get(index::label_values).post(index::label_values))
        .route("/loki/api/v1/series", get(index::series).post(index::series))
        .route("/loki/api/v1/index/stats", get(index::index_stats).post(index::index_stats))
        .route("/loki/api/v1/index/volume", get(index::volume).post(index::volume))
        .route("/loki/api/v1/index/volume_range", get(index::volume_range).post(index::volume_range))
        .route("/loki/api/v1/detected_labels", get(detected::detected_labels).post(detected::detected_labels))
        .route("/loki/api/v1/detected_fields", get(detected::detected_fields).post(detected::detected_fields))
        .route(
            "/loki/api/v1/detected_field/{name}/values",
            get(detected::detected_field_values).post(detected::detected_field_values),
        )
        .route("/loki/api/v1/patterns", get(patterns::patterns).post(patterns::patterns))
        .route("/loki/api/v1/status/buildinfo", get(build_info))
        .route("/loki/api/v1/tail", get(tail::tail))
        .route("/insert/elasticsearch/_bulk", post(elasticsearch::bulk))
        .route("/v1/logs", post(crate::otlp_logs::http_logs))
}

/// `GET /loki/api/v1/status/buildinfo`: Loki's shape, oxeye's version.
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
