//! Self-observability: `GET /metrics` in the Prometheus text format.
//!
//! Write counters are kept here by the handlers (so decoder and store refusals are counted alike); storage gauges
//! and counters are read from the store at scrape time; request durations are recorded by [`track_request`] (the
//! PromQL endpoints' counts and durations among them, by route). Query concurrency and samples loaded are kept
//! by the query handlers.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use oxeye_metrics_store::AppendOutcome;
use oxeye_model::TenantId;

use crate::ApiState;

/// A per-tenant gauge: name, type, help, how to read it from a summary.
type SummaryGauge = (&'static str, &'static str, &'static str, fn(&oxeye_metrics_store::TenantSummary) -> f64);
/// A per-tenant counter: name, help, how to read it from the tenant's database.
type TenantCounter = (&'static str, &'static str, fn(&oxeye_metrics_store::TenantDb) -> u64);

/// Upper bounds of the request duration histogram, in seconds.
const DURATION_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
struct Histogram {
    buckets: [u64; DURATION_BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Counters kept by the API layer.
#[derive(Default)]
pub struct SelfMetrics {
    /// (tenant, protocol) → (samples, series created, exemplars).
    ingested: Mutex<BTreeMap<(String, &'static str), [u64; 3]>>,
    /// (tenant, reason) → refused samples.
    rejected: Mutex<BTreeMap<(String, String), u64>>,
    /// handler → request durations.
    requests: Mutex<BTreeMap<String, Histogram>>,
    /// tenant → samples loaded from storage by PromQL queries.
    query_samples: Mutex<BTreeMap<String, u64>>,
    /// (tenant, protocol) → (log entries, log bytes) stored.
    log_ingested: Mutex<BTreeMap<(String, &'static str), [u64; 2]>>,
    /// (tenant, reason) → refused log entries.
    log_rejected: Mutex<BTreeMap<(String, &'static str), u64>>,
    /// (tenant, protocol) → spans accepted.
    span_ingested: Mutex<BTreeMap<(String, &'static str), u64>>,
    /// (tenant, reason) → refused spans.
    span_rejected: Mutex<BTreeMap<(String, &'static str), u64>>,
    /// Queries waiting for an evaluation slot.
    queries_queued: AtomicI64,
    /// Queries evaluating.
    queries_in_flight: AtomicI64,
}

/// A gauge of queries kept by [`QueryGaugeGuard`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum QueryGauge {
    Queued,
    InFlight,
}

/// Counts one query in a gauge for as long as it lives.
pub(crate) struct QueryGaugeGuard {
    metrics: Arc<SelfMetrics>,
    gauge: QueryGauge,
}

impl Drop for QueryGaugeGuard {
    fn drop(&mut self) {
        self.metrics.gauge(self.gauge).fetch_sub(1, Ordering::Relaxed);
    }
}

impl SelfMetrics {
    pub(crate) fn count_write(&self, tenant: &TenantId, protocol: &'static str, outcome: &AppendOutcome) {
        {
            let mut ingested = self.ingested.lock().unwrap_or_else(|p| p.into_inner());
            let entry = ingested.entry((tenant.to_string(), protocol)).or_default();
            entry[0] += outcome.samples_accepted as u64;
            entry[1] += outcome.series_created as u64;
            entry[2] += outcome.exemplars_accepted as u64;
        }
        for rejection in &outcome.rejections {
            self.count_rejected(tenant, rejection.reason.as_str(), rejection.samples.max(1) as u64);
        }
    }

    /// Counts a log push: what the store took and what the decoder or the store refused.
    pub(crate) fn count_log_write(
        &self,
        tenant: &TenantId,
        protocol: &'static str,
        outcome: &oxeye_logs_store::AppendOutcome,
        decode_rejections: &[oxeye_ingest::LogRejection],
    ) {
        {
            let mut ingested = self.log_ingested.lock().unwrap_or_else(|p| p.into_inner());
            let entry = ingested.entry((tenant.to_string(), protocol)).or_default();
            entry[0] += outcome.accepted_entries as u64;
            entry[1] += outcome.accepted_bytes as u64;
        }
        let mut rejected = self.log_rejected.lock().unwrap_or_else(|p| p.into_inner());
        for rejection in &outcome.rejections {
            *rejected.entry((tenant.to_string(), rejection.reason.as_str())).or_default() += rejection.entries as u64;
        }
        for rejection in decode_rejections {
            *rejected.entry((tenant.to_string(), rejection.reason.as_str())).or_default() += rejection.entries as u64;
        }
    }

    /// Counts a span export: spans accepted, spans the decoder refused (`invalid`), spans the store refused.
    pub(crate) fn record_spans(
        &self,
        tenant: &TenantId,
        protocol: &'static str,
        accepted: u64,
        decoder_refused: u64,
        store_rejections: &[oxeye_traces_store::TraceRejection],
    ) {
        *self
            .span_ingested
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((tenant.to_string(), protocol))
            .or_default() += accepted;
        let mut rejected = self.span_rejected.lock().unwrap_or_else(|p| p.into_inner());
        if decoder_refused > 0 {
            *rejected.entry((tenant.to_string(), "invalid")).or_default() += decoder_refused;
        }
        for rejection in store_rejections {
            *rejected.entry((tenant.to_string(), rejection.reason.as_str())).or_default() += rejection.spans as u64;
        }
    }

    pub(crate) fn count_rejected(&self, tenant: &TenantId, reason: &str, samples: u64) {
        let mut rejected = self.rejected.lock().unwrap_or_else(|p| p.into_inner());
        *rejected.entry((tenant.to_string(), reason.to_string())).or_default() += samples;
    }

    fn gauge(&self, gauge: QueryGauge) -> &AtomicI64 {
        match gauge {
            QueryGauge::Queued => &self.queries_queued,
            QueryGauge::InFlight => &self.queries_in_flight,
        }
    }

    /// Counts a query in `gauge` until the returned guard is dropped.
    pub(crate) fn enter(self: &Arc<Self>, gauge: QueryGauge) -> QueryGaugeGuard {
        self.gauge(gauge).fetch_add(1, Ordering::Relaxed);
        QueryGaugeGuard { metrics: self.clone(), gauge }
    }

    pub(crate) fn count_query_samples(&self, tenant: &TenantId, samples: u64) {
        let mut query_samples = self.query_samples.lock().unwrap_or_else(|p| p.into_inner());
        *query_samples.entry(tenant.to_string()).or_default() += samples;
    }

    pub(crate) fn observe_request(&self, handler: &str, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let mut requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        let histogram = requests.entry(handler.to_string()).or_default();
        for (bucket, bound) in histogram.buckets.iter_mut().zip(DURATION_BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        histogram.count += 1;
        histogram.sum += seconds;
    }
}

/// Middleware recording every request's duration under its route pattern.
pub async fn track_request(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let handler =
        request.extensions().get::<MatchedPath>().map_or_else(|| "other".to_string(), |p| p.as_str().to_string());
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics.observe_request(&handler, started.elapsed());
    response
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// The log store's counters and gauges.
fn render_logs(out: &mut String, metrics: &SelfMetrics, summaries: &[oxeye_logs_store::TenantLogsSummary]) {
    {
        let ingested = metrics.log_ingested.lock().unwrap_or_else(|p| p.into_inner());
        for (index, (name, help)) in [
            ("oxeye_log_entries_ingested_total", "Log entries stored, by tenant and protocol."),
            ("oxeye_log_bytes_ingested_total", "Bytes of log lines and structured metadata stored."),
        ]
        .into_iter()
        .enumerate()
        {
            header(out, name, "counter", help);
            for ((tenant, protocol), values) in ingested.iter() {
                let _ =
                    writeln!(out, "{name}{{tenant=\"{}\",protocol=\"{protocol}\"}} {}", escape(tenant), values[index]);
            }
        }
    }
    {
        let rejected = metrics.log_rejected.lock().unwrap_or_else(|p| p.into_inner());
        header(out, "oxeye_rejected_log_entries_total", "counter", "Log entries refused, by tenant and reason.");
        for ((tenant, reason), count) in rejected.iter() {
            let _ = writeln!(
                out,
                "oxeye_rejected_log_entries_total{{tenant=\"{}\",reason=\"{reason}\"}} {count}",
                escape(tenant)
            );
        }
    }
    type LogGauge = (&'static str, &'static str, fn(&oxeye_logs_store::TenantLogsSummary) -> f64);
    let gauges: [LogGauge; 6] = [
        ("oxeye_log_head_streams", "Log streams in the in-memory head.", |s| s.head_streams as f64),
        ("oxeye_log_head_bytes", "Bytes of lines and metadata in the log head.", |s| s.head_bytes as f64),
        ("oxeye_log_blocks", "Log blocks on disk.", |s| s.blocks as f64),
        ("oxeye_log_block_bytes", "Bytes of log blocks on disk.", |s| s.block_bytes as f64),
        ("oxeye_log_block_raw_bytes", "Uncompressed bytes of the entries in log blocks.", |s| s.block_raw_bytes as f64),
        ("oxeye_log_wal_disk_bytes", "Bytes of log WAL files on disk.", |s| s.wal_bytes as f64),
    ];
    for (name, help, value) in gauges {
        header(out, name, "gauge", help);
        for summary in summaries {
            let _ = writeln!(out, "{name}{{tenant=\"{}\"}} {}", escape(summary.tenant.as_str()), value(summary));
        }
    }
}

/// The trace store's and trace pipeline's counters and gauges.
fn render_traces(
    out: &mut String,
    metrics: &SelfMetrics,
    summaries: &[oxeye_traces_store::TenantTracesSummary],
    pipeline: &[oxeye_trace_pipeline::TenantPipelineStats],
) {
    {
        let ingested = metrics.span_ingested.lock().unwrap_or_else(|p| p.into_inner());
        header(
            out,
            "oxeye_spans_ingested_total",
            "counter",
            "Spans accepted, by tenant and protocol (before sampling).",
        );
        for ((tenant, protocol), count) in ingested.iter() {
            let _ = writeln!(
                out,
                "oxeye_spans_ingested_total{{tenant=\"{}\",protocol=\"{protocol}\"}} {count}",
                escape(tenant)
            );
        }
        let rejected = metrics.span_rejected.lock().unwrap_or_else(|p| p.into_inner());
        header(out, "oxeye_rejected_spans_total", "counter", "Spans refused at ingest, by tenant and reason.");
        for ((tenant, reason), count) in rejected.iter() {
            let _ = writeln!(
                out,
                "oxeye_rejected_spans_total{{tenant=\"{}\",reason=\"{reason}\"}} {count}",
                escape(tenant)
            );
        }
    }
    header(
        out,
        "oxeye_sampling_traces_total",
        "counter",
        "Traces decided by the tail sampler, by decision and policy.",
    );
    for stats in pipeline {
        let Some(sampling) = &stats.sampling else { continue };
        let mut decided: Vec<_> = sampling.traces.iter().collect();
        decided.sort();
        for ((kept, policy), count) in decided {
            let decision = if *kept { "kept" } else { "dropped" };
            let _ = writeln!(
                out,
                "oxeye_sampling_traces_total{{tenant=\"{}\",decision=\"{decision}\",policy=\"{}\"}} {count}",
                escape(stats.tenant.as_str()),
                policy.name()
            );
        }
    }
    type PipelineValue =
        (&'static str, &'static str, &'static str, fn(&oxeye_trace_pipeline::TenantPipelineStats) -> Option<f64>);
    let pipeline_values: [PipelineValue; 8] = [
        ("oxeye_sampling_spans_kept_total", "counter", "Spans kept by the tail sampler.", |s| {
            s.sampling.as_ref().map(|x| x.spans_kept as f64)
        }),
        ("oxeye_sampling_spans_dropped_total", "counter", "Spans dropped by the tail sampler.", |s| {
            s.sampling.as_ref().map(|x| x.spans_dropped as f64)
        }),
        (
            "oxeye_sampling_decided_early_total",
            "counter",
            "Traces decided before their wait because the pending bound was reached.",
            |s| s.sampling.as_ref().map(|x| x.decided_early as f64),
        ),
        ("oxeye_sampling_pending_traces", "gauge", "Traces waiting for a sampling decision.", |s| {
            s.sampling.as_ref().map(|x| x.pending_traces as f64)
        }),
        ("oxeye_sampling_pending_spans", "gauge", "Spans waiting for a sampling decision.", |s| {
            s.sampling.as_ref().map(|x| x.pending_spans as f64)
        }),
        (
            "oxeye_spans_refused_after_sampling_total",
            "counter",
            "Kept spans the trace store refused (limits) after sampling.",
            |s| Some(s.refused_after_sampling as f64),
        ),
        (
            "oxeye_span_metrics_active_series",
            "gauge",
            "Series of span metrics and service graphs being generated.",
            |s| Some(s.generator_active_series as f64),
        ),
        (
            "oxeye_service_graph_unpaired_edges_total",
            "counter",
            "Service-graph edge halves that expired without a pair or a virtual node.",
            |s| Some(s.generator.edges_expired_unpaired as f64),
        ),
    ];
    for (name, kind, help, value) in pipeline_values {
        header(out, name, kind, help);
        for stats in pipeline {
            if let Some(value) = value(stats) {
                let _ = writeln!(out, "{name}{{tenant=\"{}\"}} {value}", escape(stats.tenant.as_str()));
            }
        }
    }
    type TraceGauge = (&'static str, &'static str, fn(&oxeye_traces_store::TenantTracesSummary) -> f64);
    let gauges: [TraceGauge; 6] = [
        ("oxeye_trace_head_traces", "Traces in the in-memory trace head.", |s| s.head_traces as f64),
        ("oxeye_trace_head_spans", "Spans in the in-memory trace head.", |s| s.head_spans as f64),
        ("oxeye_trace_blocks", "Trace blocks on disk.", |s| s.blocks as f64),
        ("oxeye_trace_block_bytes", "Bytes of trace blocks on disk.", |s| s.block_bytes as f64),
        ("oxeye_trace_block_spans", "Spans in trace blocks.", |s| s.block_spans as f64),
        ("oxeye_trace_wal_disk_bytes", "Bytes of trace WAL files on disk.", |s| s.wal_bytes as f64),
    ];
    for (name, help, value) in gauges {
        header(out, name, "gauge", help);
        for summary in summaries {
            let _ = writeln!(out, "{name}{{tenant=\"{}\"}} {}", escape(summary.tenant.as_str()), value(summary));
        }
    }
}

/// `GET /metrics`.
pub async fn render(State(state): State<ApiState>) -> Response {
    let store = state.store.clone();
    let logs = state.logs.clone();
    let traces = state.traces.clone();
    let summaries = tokio::task::spawn_blocking(move || {
        (store.summaries(), store.all_tenants(), logs.summaries(), traces.store().summaries(), traces.stats())
    })
    .await;
    let Ok((summaries, tenants, log_summaries, trace_summaries, pipeline_stats)) = summaries else {
        return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "metrics collection failed").into_response();
    };
    let mut out = String::with_capacity(8192);
    let metrics = &state.metrics;

    {
        let ingested = metrics.ingested.lock().unwrap_or_else(|p| p.into_inner());
        for (index, (name, help)) in [
            ("oxeye_samples_ingested_total", "Samples stored, by tenant and protocol."),
            ("oxeye_series_created_total", "Series created, by tenant and protocol."),
            ("oxeye_exemplars_ingested_total", "Exemplars stored, by tenant and protocol."),
        ]
        .into_iter()
        .enumerate()
        {
            header(&mut out, name, "counter", help);
            for ((tenant, protocol), values) in ingested.iter() {
                let _ =
                    writeln!(out, "{name}{{tenant=\"{}\",protocol=\"{protocol}\"}} {}", escape(tenant), values[index]);
            }
        }
    }
    {
        let rejected = metrics.rejected.lock().unwrap_or_else(|p| p.into_inner());
        header(
            &mut out,
            "oxeye_rejected_samples_total",
            "counter",
            "Samples (or OTLP data points, or text lines) refused, by tenant and reason.",
        );
        for ((tenant, reason), count) in rejected.iter() {
            let _ = writeln!(
                out,
                "oxeye_rejected_samples_total{{tenant=\"{}\",reason=\"{reason}\"}} {count}",
                escape(tenant)
            );
        }
    }
    let gauges: [SummaryGauge; 5] = [
        ("oxeye_head_series", "gauge", "Series in the in-memory head.", |s| s.head_series as f64),
        ("oxeye_head_chunk_bytes", "gauge", "Bytes of compressed samples in the head.", |s| s.head_chunk_bytes as f64),
        ("oxeye_blocks", "gauge", "Blocks on disk.", |s| s.blocks as f64),
        ("oxeye_block_bytes", "gauge", "Bytes of blocks on disk.", |s| s.block_bytes as f64),
        ("oxeye_wal_disk_bytes", "gauge", "Bytes of WAL files on disk.", |s| s.wal_bytes as f64),
    ];
    for (name, kind, help, value) in gauges {
        header(&mut out, name, kind, help);
        for summary in &summaries {
            let _ = writeln!(out, "{name}{{tenant=\"{}\"}} {}", escape(summary.tenant.as_str()), value(summary));
        }
    }
    let counters: [TenantCounter; 9] = [
        ("oxeye_wal_bytes_written_total", "Bytes written to the WAL.", |db| {
            db.wal().stats().bytes_written.load(Ordering::Relaxed)
        }),
        ("oxeye_wal_fsyncs_total", "WAL fsyncs.", |db| db.wal().stats().fsyncs.load(Ordering::Relaxed)),
        ("oxeye_wal_segments_created_total", "WAL segments created.", |db| {
            db.wal().stats().segments_created.load(Ordering::Relaxed)
        }),
        ("oxeye_wal_checkpoints_total", "WAL checkpoints written.", |db| {
            db.stats().checkpoints.load(Ordering::Relaxed)
        }),
        ("oxeye_blocks_cut_total", "Blocks cut from the head.", |db| db.stats().blocks_cut.load(Ordering::Relaxed)),
        ("oxeye_compactions_total", "Compactions run.", |db| db.stats().compactions.load(Ordering::Relaxed)),
        ("oxeye_blocks_deleted_total", "Blocks deleted by retention.", |db| {
            db.stats().blocks_deleted.load(Ordering::Relaxed)
        }),
        ("oxeye_wal_replayed_records_total", "WAL records replayed at start-up.", |db| {
            db.stats().wal_replay_records.load(Ordering::Relaxed)
        }),
        ("oxeye_store_samples_appended_total", "Samples appended to the head.", |db| {
            db.stats().samples_appended.load(Ordering::Relaxed)
        }),
    ];
    for (name, help, value) in counters {
        header(&mut out, name, "counter", help);
        for db in &tenants {
            let _ = writeln!(out, "{name}{{tenant=\"{}\"}} {}", escape(db.tenant().as_str()), value(db));
        }
    }
    header(&mut out, "oxeye_wal_fsync_duration_seconds", "summary", "Time spent in WAL fsyncs.");
    for db in &tenants {
        let stats = db.wal().stats();
        let tenant = escape(db.tenant().as_str());
        let _ = writeln!(
            out,
            "oxeye_wal_fsync_duration_seconds_sum{{tenant=\"{tenant}\"}} {}",
            stats.fsync_nanos_total.load(Ordering::Relaxed) as f64 / 1e9
        );
        let _ = writeln!(
            out,
            "oxeye_wal_fsync_duration_seconds_count{{tenant=\"{tenant}\"}} {}",
            stats.fsyncs.load(Ordering::Relaxed)
        );
    }
    header(&mut out, "oxeye_wal_fsync_duration_seconds_max", "gauge", "Longest WAL fsync since start.");
    for db in &tenants {
        let _ = writeln!(
            out,
            "oxeye_wal_fsync_duration_seconds_max{{tenant=\"{}\"}} {}",
            escape(db.tenant().as_str()),
            db.wal().stats().fsync_nanos_max.load(Ordering::Relaxed) as f64 / 1e9
        );
    }
    render_logs(&mut out, metrics, &log_summaries);
    render_traces(&mut out, metrics, &trace_summaries, &pipeline_stats);
    {
        let requests = metrics.requests.lock().unwrap_or_else(|p| p.into_inner());
        header(
            &mut out,
            "oxeye_http_request_duration_seconds",
            "histogram",
            "Request durations by handler (route pattern or gRPC method).",
        );
        for (handler, histogram) in requests.iter() {
            let handler = escape(handler);
            for (bound, count) in DURATION_BUCKETS.iter().zip(histogram.buckets) {
                let _ = writeln!(
                    out,
                    "oxeye_http_request_duration_seconds_bucket{{handler=\"{handler}\",le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "oxeye_http_request_duration_seconds_bucket{{handler=\"{handler}\",le=\"+Inf\"}} {}",
                histogram.count
            );
            let _ = writeln!(out, "oxeye_http_request_duration_seconds_sum{{handler=\"{handler}\"}} {}", histogram.sum);
            let _ =
                writeln!(out, "oxeye_http_request_duration_seconds_count{{handler=\"{handler}\"}} {}", histogram.count);
        }
    }
    {
        let query_samples = metrics.query_samples.lock().unwrap_or_else(|p| p.into_inner());
        header(
            &mut out,
            "oxeye_query_samples_loaded_total",
            "counter",
            "Samples loaded from storage by PromQL queries.",
        );
        for (tenant, samples) in query_samples.iter() {
            let _ = writeln!(out, "oxeye_query_samples_loaded_total{{tenant=\"{}\"}} {samples}", escape(tenant));
        }
    }
    for (name, help, value) in [
        ("oxeye_queries_in_flight", "PromQL queries evaluating.", metrics.queries_in_flight.load(Ordering::Relaxed)),
        (
            "oxeye_queries_queued",
            "PromQL queries waiting for an evaluation slot.",
            metrics.queries_queued.load(Ordering::Relaxed),
        ),
        (
            "oxeye_query_max_concurrency",
            "PromQL queries evaluated at once at most.",
            state.config.query.max_concurrency as i64,
        ),
    ] {
        header(&mut out, name, "gauge", help);
        let _ = writeln!(out, "{name} {value}");
    }
    write_process_metrics(&mut out);
    ([("content-type", "text/plain; version=0.0.4; charset=utf-8")], out).into_response()
}

/// `process_*` metrics from `/proc/self` (Linux), named as Prometheus client libraries name them.
fn write_process_metrics(out: &mut String) {
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // Fields after the parenthesised command name; utime and stime are the 12th and 13th of them.
        if let Some(after) = stat.rsplit_once(')').map(|(_, rest)| rest) {
            let fields: Vec<&str> = after.split_whitespace().collect();
            let ticks: f64 = [11, 12].iter().filter_map(|i| fields.get(*i)?.parse::<f64>().ok()).sum();
            header(out, "process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.");
            let _ = writeln!(out, "process_cpu_seconds_total {}", ticks / 100.0);
        }
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        let kib = |key: &str| {
            status.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        };
        if let Some(rss) = kib("VmRSS:") {
            header(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
            let _ = writeln!(out, "process_resident_memory_bytes {}", rss * 1024);
        }
    }
}
