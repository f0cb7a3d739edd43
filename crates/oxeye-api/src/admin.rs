//! Health, readiness, the index page and the flush endpoint.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use crate::tenant::tenant_from_headers;
use crate::{ApiError, ApiState};

/// `GET /health`: the process is up.
pub async fn health() -> &'static str {
    "OK\n"
}

/// `GET /ready`: 200 once the WAL has been replayed and until shutdown begins, else 503.
pub async fn ready(State(state): State<ApiState>) -> Response {
    if state.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}

/// `POST /api/v1/admin/flush`: writes the tenant's traces, logs and metrics heads into blocks and compacts, then
/// writes pending span metrics into the metrics store (oxeye's own endpoint, for backups and benchmarks;
/// VictoriaMetrics' equivalent is `/internal/force_flush`). Traces held by the tail sampler stay there until
/// decided. 204 when done.
pub async fn flush(State(state): State<ApiState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let tenant = tenant_from_headers(&headers)?;
    let traces = state.traces.clone();
    let traces_tenant = tenant.clone();
    tokio::task::spawn_blocking(move || -> Result<(), ApiError> {
        if let Some(tenant_traces) = traces.store().existing_tenant(&traces_tenant) {
            tenant_traces
                .maintain(oxeye_traces_store::now_ns(), true)
                .map_err(|e| ApiError::Internal(e.to_string()))?;
        }
        Ok(())
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    if let Some(logs) = state.logs.existing_tenant(&tenant) {
        tokio::task::spawn_blocking(move || logs.maintain(oxeye_logs_store::now_ns(), true))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))??;
    }
    if let Some(db) = state.store.existing_tenant(&tenant) {
        tokio::task::spawn_blocking(move || db.flush()).await.map_err(|e| ApiError::Internal(e.to_string()))??;
    }
    // Span metrics last: their samples (and exemplars, which live in the metrics head) are then readable at once.
    let traces = state.traces.clone();
    tokio::task::spawn_blocking(move || traces.collect_metrics(crate::write::now_ms()))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /`: a page linking the endpoints.
pub async fn index() -> Html<&'static str> {
    Html(INDEX_PAGE)
}

const INDEX_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>oxeye</title>
<style>body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
code{background:#f2f2f2;padding:0 .25rem}</style></head>
<body><h1>oxeye</h1>
<p>Observability backend. Tenant by <code>X-Scope-OrgID</code> (default <code>default</code>).</p>
<h2>Write</h2><ul>
<li><code>POST /api/v1/write</code> Prometheus remote_write 1.0</li>
<li><code>POST /v1/metrics</code>, <code>/api/v1/otlp/v1/metrics</code> OTLP/HTTP metrics (also OTLP/gRPC on its own port)</li>
<li><code>POST /api/v1/import/prometheus</code> Prometheus text exposition</li>
<li><code>POST /loki/api/v1/push</code> Loki push; <code>POST /v1/logs</code> OTLP/HTTP logs;
<code>POST /insert/elasticsearch/_bulk</code> Elasticsearch bulk</li>
<li><code>POST /v1/traces</code> OTLP/HTTP traces; <code>POST /api/v2/spans</code> Zipkin v2 JSON</li></ul>
<h2>Read</h2><ul>
<li><a href="/api/v1/labels">/api/v1/labels</a></li>
<li><a href="/api/v1/label/__name__/values">/api/v1/label/__name__/values</a></li>
<li><a href="/api/v1/series?match[]=%7B__name__%3D~%22.%2B%22%7D">/api/v1/series?match[]=…</a></li>
<li><a href="/api/v1/metadata">/api/v1/metadata</a></li>
<li><code>/api/v1/export?match[]=…</code> raw samples as JSON lines</li></ul>
<h2>Query (PromQL)</h2><ul>
<li><code>/api/v1/query</code>, <code>/api/v1/query_range</code>, <code>/api/v1/query_exemplars</code>,
<code>/api/v1/format_query</code></li>
<li><a href="/api/v1/status/buildinfo">/api/v1/status/buildinfo</a>,
<a href="/api/v1/status/runtimeinfo">/api/v1/status/runtimeinfo</a>,
<a href="/api/v1/status/tsdb">/api/v1/status/tsdb</a></li></ul>
<h2>Traces</h2><ul>
<li><code>/api/traces/&lt;id&gt;</code>, <code>/api/v2/traces/&lt;id&gt;</code> (Tempo), <a href="/api/search">/api/search</a>
(TraceQL <code>q=</code>), <a href="/api/v2/search/tags">/api/v2/search/tags</a></li>
<li><a href="/jaeger/api/services">/jaeger/api/services</a>, <code>/jaeger/api/traces?service=…</code> (Jaeger)</li></ul>
<h2>Operate</h2><ul>
<li><a href="/metrics">/metrics</a> self-metrics</li>
<li><a href="/health">/health</a>, <a href="/ready">/ready</a></li>
<li><code>POST /api/v1/admin/flush</code> write the head into blocks</li></ul>
</body></html>
"#;
