//! Shared state of the handlers.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use oxeye_ingest::otlp_metrics::{DeltaToCumulative, OtlpMetricsConfig};
use oxeye_metrics_store::MetricsStore;
use oxeye_model::TenantId;

use crate::SelfMetrics;

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
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            max_request_body_bytes: 32 << 20,
            max_decompressed_bytes: 128 << 20,
            otlp_metrics: OtlpMetricsConfig::default(),
            max_inflight_write_bytes: 1 << 30,
        }
    }
}

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<MetricsStore>,
    pub metrics: Arc<SelfMetrics>,
    pub config: Arc<ApiConfig>,
    /// False until start-up (WAL replay) is done, and again once shutdown begins.
    pub ready: Arc<AtomicBool>,
    /// Per-tenant delta-to-cumulative state for OTLP.
    pub(crate) deltas: Arc<Mutex<HashMap<TenantId, Arc<Mutex<DeltaToCumulative>>>>>,
    /// Budget of in-flight write bytes, in KiB permits.
    write_budget: Arc<tokio::sync::Semaphore>,
}

impl ApiState {
    pub fn new(store: Arc<MetricsStore>, config: ApiConfig) -> Self {
        Self {
            store,
            metrics: Arc::new(SelfMetrics::default()),
            ready: Arc::new(AtomicBool::new(false)),
            write_budget: Arc::new(tokio::sync::Semaphore::new((config.max_inflight_write_bytes >> 10).max(1))),
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
