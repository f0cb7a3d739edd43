//! oxeye's HTTP and gRPC front.
//!
//! Thin handlers: parse the request, resolve the tenant, call an `oxeye-ingest` decoder or a store reader, render
//! the response in exactly the shape of the system being imitated (Prometheus, VictoriaMetrics, OTLP). Errors are
//! mapped to status codes in one place ([`error`]). The same [`router`] is served on the main port and on the
//! OTLP/HTTP port; [`grpc_routes`] serves OTLP/gRPC.

mod admin;
mod body;
mod error;
mod otlp;
mod prom_read;
mod selector;
mod self_metrics;
mod state;
mod tenant;
mod time;
mod write;

pub use error::ApiError;
pub use otlp::grpc_routes;
pub use self_metrics::SelfMetrics;
pub use state::{ApiConfig, ApiState};

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
        .route("/api/v1/admin/flush", post(admin::flush))
        .layer(axum::middleware::from_fn_with_state(state.clone(), self_metrics::track_request))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

#[cfg(test)]
mod tests;
