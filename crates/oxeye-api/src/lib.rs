//! oxeye's HTTP and gRPC front.
//!
//! Thin handlers: parse the request, resolve the tenant, call an `oxeye-ingest` decoder, a store reader or the
//! PromQL engine (`oxeye-promql`), render the response in exactly the shape of the system being imitated
//! (Prometheus, VictoriaMetrics, OTLP; Prometheus's JSON byte for byte, see `prom_json`). Errors are mapped to
//! status codes in one place (`error.rs`). The same [`router`] is served on the main port and on the OTLP/HTTP
//! port; [`grpc_routes`] serves OTLP/gRPC.

mod admin;
mod body;
mod empty_reader;
mod error;
mod exemplars;
pub mod loki;
mod otlp;
mod otlp_logs;
mod otlp_traces;
mod params;
mod prom_json;
mod prom_read;
mod query;
mod rules;
mod selector;
mod self_metrics;
mod state;
mod status;
pub mod tempo;
mod tenant;
mod time;
mod write;

pub use error::ApiError;
pub use otlp::grpc_routes;
pub use self_metrics::SelfMetrics;
pub use state::{ApiConfig, ApiState, BuildInfo, QueryConfig, TraceqlConfig};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

/// Every HTTP route, with request-duration instrumentation and the body size limit.
pub fn router(state: ApiState) -> Router {
    let body_limit = state.config.max_request_body_bytes;
    Router::new()
        .route("/", get(admin::index))
        .route("/health", get(admin::health))
        .route("/ready", get(admin::ready))
        .route("/-/healthy", get(admin::health))
        .route("/-/ready", get(admin::ready))
        .route("/metrics", get(self_metrics::render))
        .route("/api/v1/write", post(write::remote_write))
        .route("/api/v1/import/prometheus", post(write::import_prometheus))
        .route("/v1/metrics", post(otlp::http_metrics))
        .route("/api/v1/otlp/v1/metrics", post(otlp::http_metrics))
        .route("/api/v1/series", get(prom_read::series).post(prom_read::series))
        .route("/api/v1/labels", get(prom_read::labels).post(prom_read::labels))
        .route("/api/v1/label/{name}/values", get(prom_read::label_values))
        .route("/api/v1/metadata", get(prom_read::metadata))
        .route("/api/v1/export", get(prom_read::export).post(prom_read::export))
        .route("/api/v1/query", get(query::instant_query).post(query::instant_query))
        .route("/api/v1/query_range", get(query::range_query).post(query::range_query))
        .route("/api/v1/query_exemplars", get(exemplars::query_exemplars).post(exemplars::query_exemplars))
        .route("/api/v1/format_query", get(query::format_query).post(query::format_query))
        .route("/api/v1/status/buildinfo", get(status::build_info))
        .route("/api/v1/status/runtimeinfo", get(status::runtime_info))
        .route("/api/v1/status/tsdb", get(status::tsdb_status))
        .route("/api/v1/rules", get(rules::rules))
        .route("/api/v1/alerts", get(rules::alerts))
        .route("/api/v1/admin/flush", post(admin::flush))
        .merge(loki::routes())
        .merge(tempo::routes())
        .layer(axum::middleware::from_fn_with_state(state.clone(), self_metrics::track_request))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

#[cfg(test)]
mod golden_tests;
#[cfg(test)]
mod tests;
