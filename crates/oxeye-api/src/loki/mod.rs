//! The Loki HTTP API: push, LogQL queries, metadata, index statistics, live tail, build info.
//!
//! Errors are plain text with Loki's status codes (`ApiError::Loki`); successful responses follow Loki's JSON
//! shapes exactly (`json.rs`). Elasticsearch bulk ingest (VictoriaLogs' path) and OTLP logs live beside the push
//! handler because they feed the same store.

mod elasticsearch;
mod index;
#[allow(dead_code)] // Query rendering: used by the LogQL query handlers.
mod json;
#[allow(dead_code)] // Query parameters: used by the LogQL query handlers.
mod params;
mod push;
#[allow(dead_code)] // Subscriptions: used by the tail handler.
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

/// Parses a LogQL stream selector (`{app="api", env=~"prod|staging"}`) into matchers.
pub(crate) fn parse_stream_selector(text: &str) -> Result<Vec<Matcher>, String> {
    crate::selector::parse_selector(text)
}

/// Every Loki route.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/loki/api/v1/push", post(push::push))
        .route("/loki/api/v1/labels", get(index::labels).post(index::labels))
        .route("/loki/api/v1/label/{name}/values", get(index::label_values).post(index::label_values))
        .route("/loki/api/v1/series", get(index::series).post(index::series))
        .route("/loki/api/v1/index/stats", get(index::index_stats).post(index::index_stats))
        .route("/loki/api/v1/index/volume", get(index::volume).post(index::volume))
        .route("/loki/api/v1/index/volume_range", get(index::volume_range).post(index::volume_range))
        .route("/loki/api/v1/status/buildinfo", get(build_info))
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
