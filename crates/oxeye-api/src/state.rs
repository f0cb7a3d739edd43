//! Shared state of the handlers.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use oxeye_ingest::otlp_metrics::{DeltaToCumulative, OtlpMetricsConfig};
use oxeye_logs_store::LogsStore;
use oxeye_metrics_store::MetricsStore;
use oxeye_model::TenantId;
use oxeye_trace_pipeline::TracePipeline;

use crate::SelfMetrics;
use crate::loki::TailHub;

/// Request limits and receiver settings.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// Largest request body accepted, compressed (HTTP 413 beyond).
    pub max_request_body_bytes: usize,
    /// Largest body after decompression (HTTP 400 beyond, before anything is allocated where the format allows).
    pub max_decompressed_bytes: usize,
    /// OTLP → Prometheus translation settings.
    pub otlp_metrics: OtlpMetricsConfig,
    /// Bytes of write requests (counted at 8× their received size, to cover decoding) being processed at once;
    /// past it writes are answered 429 so that memory stays bounded under any load.
    pub max_inflight_write_bytes: usize,
    /// PromQL limits.
    pub query: QueryConfig,
    /// What `/api/v1/status/buildinfo` reports.
    pub build_info: BuildInfo,
    /// LogQL limits.
    pub logql: LogqlConfig,
    /// TraceQL limits.
    pub traceql: TraceqlConfig,
}

/// Limits of the Tempo search and TraceQL metrics endpoints.
#[derive(Clone, Debug)]
pub struct TraceqlConfig {
    /// Longest a search or metrics query may scan before it is answered 504 (Tempo's frontend default is 30 s).
    pub timeout: std::time::Duration,
}

impl Default for TraceqlConfig {
    fn default() -> Self {
        Self { timeout: std::time::Duration::from_secs(30) }
    }
}

/// Limits of the Loki query endpoints.
#[derive(Clone, Debug)]
pub struct LogqlConfig {
    /// Longest a LogQL query may run (Loki's `query_timeout`, 1 m).
    pub timeout: std::time::Duration,
    /// Most entries a log query may return (Loki's `max_entries_limit_per_query`, 5000).
    pub max_entries_limit: usize,
}

impl Default for LogqlConfig {
    fn default() -> Self {
        Self { timeout: std::time::Duration::from_secs(60), max_entries_limit: 5000 }
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            max_request_body_bytes: 32 << 20,
            max_decompressed_bytes: 128 << 20,
            otlp_metrics: OtlpMetricsConfig::default(),
            max_inflight_write_bytes: 1 << 30,
            query: QueryConfig::default(),
            build_info: BuildInfo::default(),
            logql: LogqlConfig::default(),
            traceql: TraceqlConfig::default(),
        }
    }
}

/// Limits of the PromQL endpoints (Prometheus's `--query.*` flags).
#[derive(Clone, Debug)]
pub struct QueryConfig {
    /// Engine settings. `timeout` is the longest a query may take, waiting for a slot included; a request's
    /// `timeout` parameter can only shorten it. `lookback_delta_ms` is the default for the `lookback_delta`
    /// parameter.
    pub engine: oxeye_promql::EngineOptions,
    /// Queries evaluated at once (Prometheus's `--query.max-concurrency`, 20). Further queries wait for a slot in
    /// arrival order; a query whose timeout passes while it waits is answered 503 `timeout`.
    pub max_concurrency: usize,
}

impl Default for QueryConfig {
    fn default() -> Self {
        Self { engine: oxeye_promql::EngineOptions::default(), max_concurrency: 20 }
    }
}

/// Build information, in the fields of Prometheus's `/api/v1/status/buildinfo`.
#[derive(Clone, Debug, PartialEq)]
pub struct BuildInfo {
    /// oxeye's own version, never a Prometheus version (see `docs/architecture.md`, "Query API").
    pub version: String,
    pub revision: String,
    pub branch: String,
    pub build_user: String,
    pub build_date: String,
    /// Prometheus reports its Go toolchain here; oxeye reports its Rust toolchain when the build recorded it.
    pub go_version: String,
}

impl Default for BuildInfo {
    /// This crate's version; the rest from the `OXEYE_BUILD_{REVISION,BRANCH,USER,DATE}` and
    /// `OXEYE_BUILD_RUSTC` environment variables at compile time, when a release build sets them.
    fn default() -> Self {
        let recorded = |value: Option<&str>| value.unwrap_or("").to_string();
        Self {
            version: env!("CARGO_PKG_VERSION").to_string(),
            revision: recorded(option_env!("OXEYE_BUILD_REVISION")),
            branch: recorded(option_env!("OXEYE_BUILD_BRANCH")),
            build_user: recorded(option_env!("OXEYE_BUILD_USER")),
            build_date: recorded(option_env!("OXEYE_BUILD_DATE")),
            go_version: recorded(option_env!("OXEYE_BUILD_RUSTC")),
        }
    }
}

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<MetricsStore>,
    pub logs: Arc<LogsStore>,
    /// Span metrics, tail sampling and the trace store.
    pub traces: Arc<TracePipeline>,
    /// Fan-out of accepted log entries to live tails (`/loki/api/v1/tail`).
    pub tail: Arc<TailHub>,
    pub metrics: Arc<SelfMetrics>,
    pub config: Arc<ApiConfig>,
    /// False until start-up (WAL replay) is done, and again once shutdown begins.
    pub ready: Arc<AtomicBool>,
    /// Per-tenant delta-to-cumulative state for OTLP.
    pub(crate) deltas: Arc<Mutex<HashMap<TenantId, Arc<Mutex<DeltaToCumulative>>>>>,
    /// Budget of in-flight write bytes, in KiB permits.
    write_budget: Arc<tokio::sync::Semaphore>,
    /// One permit per query that may evaluate at once; tokio's semaphore queues waiters in arrival order.
    pub(crate) query_slots: Arc<tokio::sync::Semaphore>,
    /// When the API was started (`/api/v1/status/runtimeinfo`).
    pub(crate) started_at: SystemTime,
}

impl ApiState {
    /// `tail` must be the hub the logs store reports appends to (see [`TailHub::observer`]).
    pub fn new(
        store: Arc<MetricsStore>,
        logs: Arc<LogsStore>,
        traces: Arc<TracePipeline>,
        tail: Arc<TailHub>,
        config: ApiConfig,
    ) -> Self {
        Self {
            store,
            logs,
            traces,
            tail,
            metrics: Arc::new(SelfMetrics::default()),
            ready: Arc::new(AtomicBool::new(false)),
            write_budget: Arc::new(tokio::sync::Semaphore::new((config.max_inflight_write_bytes >> 10).max(1))),
            query_slots: Arc::new(tokio::sync::Semaphore::new(
                config.query.max_concurrency.clamp(1, tokio::sync::Semaphore::MAX_PERMITS),
            )),
            started_at: SystemTime::now(),
            config: Arc::new(config),
            deltas: Arc::default(),
        }
    }

    /// Reserves memory for a write whose body is `body_len` bytes; `None` when the budget is exhausted (the caller
    /// answers 429 / `RESOURCE_EXHAUSTED`). The reservation is released when the permit is dropped.
    pub(crate) fn reserve_write(&self, body_len: usize) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let total = self.write_budget_total();
        let kib = ((body_len.saturating_mul(8)) >> 10).clamp(1, total) as u32;
        self.write_budget.clone().try_acquire_many_owned(kib).ok()
    }

    fn write_budget_total(&self) -> usize {
        (self.config.max_inflight_write_bytes >> 10).clamp(1, u32::MAX as usize)
    }

    pub(crate) fn delta_state(&self, tenant: &TenantId) -> Arc<Mutex<DeltaToCumulative>> {
        let mut deltas = self.deltas.lock().unwrap_or_else(|p| p.into_inner());
        deltas
            .entry(tenant.clone())
            .or_insert_with(|| {
                Arc::new(Mutex::new(DeltaToCumulative::new(&self.config.otlp_metrics.delta_to_cumulative)))
            })
            .clone()
    }
}
