//! The path of spans from a receiver to storage, per tenant:
//!
//! ```text
//! decoded spans ─┬─> MetricsGenerator (every span) ──collect()──> metrics store (span metrics, service graph)
//!                └─> TailSampler (when enabled) ──kept traces──> trace store
//!                    or straight to the trace store
//! ```
//!
//! With sampling off, an export is acknowledged once the trace store has it in its WAL and the store's limits
//! are reported back to the client. With sampling on, it is acknowledged once the sampler has it in its WAL; the
//! store's limits (rate, span count per trace) then apply to the traces the sampler keeps, and refusals there are
//! logged and counted, since no client is waiting any more.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use oxeye_metrics_store::MetricsStore;
use oxeye_model::{Span, SpanBatch, TenantId, TenantMap};
use oxeye_traces_store::{AppendOutcome, TenantTraces, TenantTracesReader, TracesError, TracesStore};
use prost::Message;

use crate::{GeneratorConfig, MetricsGenerator, SamplingConfig, SamplingError, SamplingStats, SpanCodec, TailSampler};

/// Settings of the trace pipeline.
#[derive(Clone, Debug, Default)]
pub struct PipelineConfig {
    pub generator: GeneratorConfig,
    /// Tail sampling for every tenant (`None`: off, the default).
    pub sampling: Option<SamplingConfig>,
    /// Per-tenant sampling overrides (`None` turns sampling off for that tenant).
    pub tenant_sampling: HashMap<String, Option<SamplingConfig>>,
}

impl PipelineConfig {
    pub fn sampling_for(&self, tenant: &str) -> Option<&SamplingConfig> {
        match self.tenant_sampling.get(tenant) {
            Some(config) => config.as_ref(),
            None => self.sampling.as_ref(),
        }
    }
}

/// Why an ingest failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Traces(#[from] TracesError),
    #[error(transparent)]
    Sampling(#[from] SamplingError),
}

/// The sampler's WAL records: OTLP `ExportTraceServiceRequest` protobuf.
pub struct OtlpSpanCodec;

impl SpanCodec for OtlpSpanCodec {
    fn encode(&self, spans: &[Span]) -> Vec<u8> {
        oxeye_ingest::otlp_traces::to_request(spans).encode_to_vec()
    }

    fn decode(&self, bytes: &[u8]) -> Result<Vec<Span>, String> {
        oxeye_ingest::otlp_traces::decode_protobuf(bytes).map(|decoded| decoded.batch.spans).map_err(|e| e.to_string())
    }
}

struct TenantPipeline {
    traces: Arc<TenantTraces>,
    generator: Mutex<MetricsGenerator>,
    sampler: Option<TailSampler>,
}

/// Counters of spans the store refused after sampling (no client to tell).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantPipelineStats {
    pub tenant: TenantId,
    pub sampling: Option<SamplingStats>,
    pub generator: crate::GeneratorStats,
    pub generator_active_series: usize,
    pub refused_after_sampling: u64,
}

/// Every tenant's trace pipeline.
pub struct TracePipeline {
    store: Arc<TracesStore>,
    metrics: Arc<MetricsStore>,
    config: PipelineConfig,
    data_dir: PathBuf,
    tenants: TenantMap<TenantPipeline>,
    refused_after_sampling: Mutex<HashMap<TenantId, u64>>,
}

impl TracePipeline {
    /// `data_dir` is oxeye's data directory (the sampler's WAL lives in `tenants/<t>/traces/sampler-wal`). Tenants
    /// with a sampler WAL left from a previous run are opened now, so their pending spans are decided.
    pub fn open(
        store: Arc<TracesStore>,
        metrics: Arc<MetricsStore>,
        config: PipelineConfig,
        data_dir: impl Into<PathBuf>,
        now_ms: i64,
    ) -> Result<Self, PipelineError> {
        let pipeline = Self {
            store,
            metrics,
            config,
            data_dir: data_dir.into(),
            tenants: TenantMap::default(),
            refused_after_sampling: Mutex::new(HashMap::new()),
        };
        for traces in pipeline.store.all_tenants() {
            let tenant = traces.tenant().clone();
            if pipeline.sampler_dir(&tenant).is_dir() {
                pipeline.tenant(&tenant, now_ms)?;
            }
        }
        Ok(pipeline)
    }

    pub fn store(&self) -> &Arc<TracesStore> {
        &self.store
    }

    fn sampler_dir(&self, tenant: &TenantId) -> PathBuf {
        self.data_dir.join("tenants").join(tenant.as_str()).join("traces").join("sampler-wal")
    }

    fn tenant(&self, tenant: &TenantId, now_ms: i64) -> Result<Arc<TenantPipeline>, PipelineError> {
        self.tenants.get_or_open(tenant, || {
            let traces = self.store.tenant(tenant)?;
            let sampler = match self.config.sampling_for(tenant.as_str()) {
                Some(config) => {
                    Some(TailSampler::open(&self.sampler_dir(tenant), config.clone(), Arc::new(OtlpSpanCodec), now_ms)?)
                }
                None => None,
            };
            Ok(TenantPipeline {
                traces,
                generator: Mutex::new(MetricsGenerator::new(self.config.generator.clone())),
                sampler,
            })
        })
    }

    /// Takes a decoded export in. Returns what the client is told: the store's outcome (sampling off), or every
    /// span accepted (sampling on; the sampler holds them durably).
    pub fn ingest(&self, tenant: &TenantId, batch: SpanBatch, now_ms: i64) -> Result<AppendOutcome, PipelineError> {
        let pipeline = self.tenant(tenant, now_ms)?;
        pipeline.generator.lock().unwrap_or_else(|p| p.into_inner()).observe(&batch.spans, now_ms);
        match &pipeline.sampler {
            None => Ok(pipeline.traces.append(batch)?),
            Some(sampler) => {
                let accepted_spans = batch.spans.len();
                let release = sampler.offer(batch.spans, now_ms)?;
                self.store_released(tenant, &pipeline, release)?;
                Ok(AppendOutcome { accepted_spans, ..AppendOutcome::default() })
            }
        }
    }

    fn store_released(
        &self,
        tenant: &TenantId,
        pipeline: &TenantPipeline,
        spans: Vec<Span>,
    ) -> Result<(), PipelineError> {
        if spans.is_empty() {
            return Ok(());
        }
        let outcome = pipeline.traces.append(SpanBatch { spans })?;
        let refused = outcome.rejected_spans() as u64;
        if refused > 0 {
            tracing::warn!(tenant = %tenant, spans = refused, reason = %outcome.error_message(), "sampled spans refused by the trace store");
            *self
                .refused_after_sampling
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(tenant.clone())
                .or_default() += refused;
        }
        Ok(())
    }

    /// Decides traces whose wait is over, stores the kept ones and checkpoints each sampler. Call every second or
    /// so; `flush` decides everything pending (shutdown).
    pub fn tick(&self, now_ms: i64, flush: bool) -> Result<(), PipelineError> {
        for (tenant, pipeline) in self.tenants.entries() {
            let Some(sampler) = &pipeline.sampler else { continue };
            let release = if flush { sampler.flush() } else { sampler.tick(now_ms) };
            let released = !release.is_empty();
            self.store_released(&tenant, &pipeline, release)?;
            if released || flush {
                pipeline.traces.sync_wal()?;
                sampler.checkpoint()?;
            }
        }
        Ok(())
    }

    /// Writes every tenant's span metrics and service-graph series at `now_ms` into the metrics store.
    pub fn collect_metrics(&self, now_ms: i64) {
        for (tenant, pipeline) in self.tenants.entries() {
            let batch = pipeline.generator.lock().unwrap_or_else(|p| p.into_inner()).collect(now_ms);
            if batch.series.is_empty() {
                continue;
            }
            let result = self.metrics.tenant(&tenant).and_then(|db| db.append(&batch, now_ms));
            match result {
                Ok(outcome) if !outcome.rejections.is_empty() => {
                    tracing::warn!(tenant = %tenant, refused = outcome.rejections.len(), "span metrics series refused by the metrics store");
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(tenant = %tenant, %error, "span metrics not written"),
            }
        }
    }

    /// A reader of the tenant's stored traces, if it has any.
    pub fn reader(&self, tenant: &TenantId) -> Option<TenantTracesReader> {
        self.store.existing_tenant(tenant).map(|traces| traces.reader())
    }

    pub fn stats(&self) -> Vec<TenantPipelineStats> {
        let refused = self.refused_after_sampling.lock().unwrap_or_else(|p| p.into_inner()).clone();
        self.tenants
            .entries()
            .into_iter()
            .map(|(tenant, pipeline)| {
                let generator = pipeline.generator.lock().unwrap_or_else(|p| p.into_inner());
                TenantPipelineStats {
                    refused_after_sampling: refused.get(&tenant).copied().unwrap_or(0),
                    tenant,
                    sampling: pipeline.sampler.as_ref().map(TailSampler::stats),
                    generator: generator.stats(),
                    generator_active_series: generator.active_series(),
                }
            })
            .collect()
    }

    /// Syncs every sampler WAL (shutdown).
    pub fn sync(&self) -> Result<(), PipelineError> {
        for pipeline in self.tenants.all() {
            if let Some(sampler) = &pipeline.sampler {
                sampler.sync()?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use oxeye_metrics_store::{MetricsStore, StoreOptions};
    use oxeye_model::{Attribute, Resource, Span, SpanId, SpanKind, StatusCode, TraceId};
    use oxeye_storage_api::{Matcher, MetricsReader, SelectRequest, TracesReader};
    use oxeye_traces_store::{TracesOptions, TracesStore};

    use super::*;

    fn spans(traces: u64) -> Vec<Span> {
        let resource =
            Arc::new(Resource { attributes: vec![Attribute::string("service.name", "shop")], ..Default::default() });
        let mut spans = Vec::new();
        for n in 1..=traces {
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&n.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes());
            id[8..].copy_from_slice(&n.to_be_bytes());
            let root = Span {
                trace_id: TraceId(id),
                span_id: SpanId([1; 8]),
                name: "GET /".into(),
                kind: SpanKind::Server,
                start_ns: 1_700_000_000_000_000_000,
                end_ns: 1_700_000_000_010_000_000,
                status_code: if n % 10 == 0 { StatusCode::Error } else { StatusCode::Unset },
                resource: resource.clone(),
                ..Default::default()
            };
            let child =
                Span { span_id: SpanId([2; 8]), parent_span_id: SpanId([1; 8]), name: "db".into(), ..root.clone() };
            spans.push(root);
            spans.push(child);
        }
        spans
    }

    fn open(dir: &std::path::Path, sampling: Option<SamplingConfig>) -> TracePipeline {
        let store = Arc::new(TracesStore::open(TracesOptions::new(dir)).unwrap());
        let metrics = Arc::new(MetricsStore::open(StoreOptions::new(dir)).unwrap());
        let config = PipelineConfig { sampling, ..PipelineConfig::default() };
        TracePipeline::open(store, metrics, config, dir, 0).unwrap()
    }

    #[test]
    fn sampled_traces_reach_the_store_and_span_metrics_count_every_span() {
        let dir = tempfile::tempdir().unwrap();
        let sampling = SamplingConfig { base_rate: 0.0, ..SamplingConfig::default() };
        let pipeline = open(dir.path(), Some(sampling));
        let tenant = TenantId::new("t1").unwrap();
        let outcome = pipeline.ingest(&tenant, SpanBatch { spans: spans(100) }, 1_000).unwrap();
        assert_eq!(outcome.accepted_spans, 200);
        pipeline.tick(5_000, false).unwrap();
        let reader = pipeline.reader(&tenant).unwrap();
        let mut stored = 0;
        reader
            .scan(
                &oxeye_storage_api::TraceScanRequest { start_ns: 0, end_ns: u64::MAX, ..Default::default() },
                &mut |t: oxeye_model::Trace| {
                    stored += t.spans.len();
                    std::ops::ControlFlow::Continue(())
                },
            )
            .unwrap();
        assert_eq!(stored, 0, "nothing is stored before the decision wait");
        pipeline.tick(11_000, false).unwrap();
        let mut kept = Vec::new();
        reader
            .scan(
                &oxeye_storage_api::TraceScanRequest { start_ns: 0, end_ns: u64::MAX, ..Default::default() },
                &mut |t: oxeye_model::Trace| {
                    kept.push(t);
                    std::ops::ControlFlow::Continue(())
                },
            )
            .unwrap();
        assert_eq!(kept.len(), 10, "only the error traces are kept at a 0 % base rate");
        assert!(kept.iter().all(|trace| trace.spans.len() == 2));

        pipeline.collect_metrics(12_000);
        let db = pipeline.metrics.tenant(&tenant).unwrap();
        let matcher = Matcher::equal("__name__", "traces_spanmetrics_calls_total");
        let series = db.select_series(&SelectRequest::new(vec![matcher], 0, 20_000)).unwrap();
        let total: f64 = series.iter().map(|s| s.samples.last().unwrap().value).sum();
        assert_eq!(total, 200.0, "span metrics count every span, before sampling");
        let stats = pipeline.stats();
        assert_eq!(stats[0].sampling.as_ref().unwrap().spans_dropped, 180);
    }

    #[test]
    fn without_sampling_spans_go_straight_to_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let pipeline = open(dir.path(), None);
        let tenant = TenantId::new("t1").unwrap();
        let batch = spans(3);
        let id = batch[0].trace_id;
        pipeline.ingest(&tenant, SpanBatch { spans: batch }, 1_000).unwrap();
        let trace = pipeline.reader(&tenant).unwrap().trace_by_id(id, None).unwrap().unwrap();
        assert_eq!(trace.spans.len(), 2);
    }

    #[test]
    fn spans_pending_in_the_sampler_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let sampling = SamplingConfig { base_rate: 1.0, ..SamplingConfig::default() };
        let tenant = TenantId::new("t1").unwrap();
        let batch = spans(2);
        let id = batch[0].trace_id;
        {
            let pipeline = open(dir.path(), Some(sampling.clone()));
            pipeline.ingest(&tenant, SpanBatch { spans: batch }, 1_000).unwrap();
            // Dropped without a tick: the process dies with the spans pending.
        }
        let pipeline = open(dir.path(), Some(sampling));
        pipeline.tick(i64::MAX / 2, false).unwrap();
        let trace = pipeline.reader(&tenant).unwrap().trace_by_id(id, None).unwrap();
        assert_eq!(trace.map(|t| t.spans.len()), Some(2));
    }
}
