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
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            max_request_body_bytes: 32 << 20,
            max_decompressed_bytes: 128 << 20,
            otlp_metrics: OtlpMetricsConfig::default(),
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
}

impl ApiState {
    pub fn new(store: Arc<MetricsStore>, config: ApiConfig) -> Self {
        Self {
            store,
            metrics: Arc::new(SelfMetrics::default()),
            config: Arc::new(config),
            ready: Arc::new(AtomicBool::new(false)),
            deltas: Arc::default(),
        }
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
