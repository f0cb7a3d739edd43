//! Per-tenant ingest limits, the reasons spans are refused, and the state behind the limits (a span-rate token
//! bucket and the span counts of recently active traces).
//!
//! Messages follow Tempo's distributor wording (`RATE_LIMITED: …`, `TRACE_TOO_LARGE: …`) so that clients and
//! runbooks matching on them keep working. The API layer renders a refusal as an OTLP partial success (validation
//! and trace limits) or as HTTP 429 / gRPC `RESOURCE_EXHAUSTED` (rate limit, full head): see
//! [`TraceRejectReason::http_status`].

use std::collections::HashMap;
use std::time::Duration;

use oxeye_model::TraceId;

/// Limits of one tenant (each field overridable per tenant through `TracesOptions::tenant_limits`).
#[derive(Clone, Debug, PartialEq)]
pub struct TraceLimits {
    /// Blocks whose newest span ended longer ago than this are deleted.
    pub retention: Duration,
    /// Most spans stored per trace (Tempo: `max_spans_per_trace`… oxeye counts spans, not bytes). Spans beyond it
    /// are refused and counted in the trace's `truncated_spans`.
    pub max_spans_per_trace: u64,
    /// Longest string attribute value kept, in bytes (Tempo: `max_attribute_bytes`, 2048); longer values are cut
    /// at a character boundary and counted. 0 disables the limit.
    pub max_attribute_bytes: usize,
    /// Sustained ingest rate in spans per second.
    pub ingestion_rate_spans: f64,
    /// Burst allowance in spans; a batch larger than this is always refused.
    pub ingestion_burst_spans: f64,
}

impl Default for TraceLimits {
    fn default() -> Self {
        Self {
            retention: Duration::from_secs(7 * 86_400),
            max_spans_per_trace: 10_000,
            max_attribute_bytes: 2048,
            ingestion_rate_spans: 100_000.0,
            ingestion_burst_spans: 200_000.0,
        }
    }
}

/// Why spans were refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TraceRejectReason {
    /// The span's trace id is all zero (invalid in OTLP).
    InvalidTraceId,
    /// The span's id is all zero (invalid in OTLP).
    InvalidSpanId,
    /// The trace already holds `max_spans_per_trace` spans.
    TraceTooLarge,
    /// The tenant's span rate limit is exhausted; the whole batch was refused.
    RateLimited,
    /// The head holds as much as it may while blocks are written (disk too slow or failing): retry later.
    HeadFull,
}

impl TraceRejectReason {
    /// The label value of `oxeye_rejected_spans_total{reason}` (Tempo's discarded-spans reasons where they exist).
    pub fn as_str(self) -> &'static str {
        match self {
            TraceRejectReason::InvalidTraceId => "invalid_trace_id",
            TraceRejectReason::InvalidSpanId => "invalid_span_id",
            TraceRejectReason::TraceTooLarge => "trace_too_large",
            TraceRejectReason::RateLimited => "rate_limited",
            TraceRejectReason::HeadFull => "head_full",
        }
    }

    /// 429 for reasons a client should retry later (the whole request was refused), 400 for spans that will never
    /// be accepted (an OTLP exporter reports them as a partial success and does not retry).
    pub fn http_status(self) -> u16 {
        match self {
            TraceRejectReason::RateLimited | TraceRejectReason::HeadFull => 429,
            _ => 400,
        }
    }

    /// Whether a client should retry the request later.
    pub fn is_retryable(self) -> bool {
        self.http_status() == 429
    }
}

/// Spans refused for one reason, with the first message of that reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceRejection {
    pub reason: TraceRejectReason,
    pub spans: usize,
    pub message: String,
}

pub(crate) fn invalid_trace_id(span: &oxeye_model::SpanId) -> String {
    format!("span {span} has an all-zero trace id; trace ids must be 16 non-zero bytes (refused as invalid)")
}

pub(crate) fn invalid_span_id(trace: &TraceId) -> String {
    format!("a span of trace {trace} has an all-zero span id; span ids must be 8 non-zero bytes (refused as invalid)")
}

pub(crate) fn trace_too_large(tenant: &str, trace: &TraceId, limit: u64) -> String {
    format!(
        "TRACE_TOO_LARGE: max spans per trace ({limit}) exceeded while adding spans to trace {trace} for tenant \
         {tenant}; the spans beyond the limit were dropped"
    )
}

pub(crate) fn rate_limited(tenant: &str, rate: f64, burst: f64, spans: usize) -> String {
    format!(
        "RATE_LIMITED: ingestion rate limit (local: {} spans/s, burst: {} spans) exceeded while adding {spans} spans \
         for user {tenant}",
        rate as u64, burst as u64
    )
}

pub(crate) fn head_full(tenant: &str, bytes: u64) -> String {
    format!(
        "the trace head of tenant {tenant} holds {bytes} bytes not yet written to disk, its hard limit; block \
         writing is behind (check the disk and the logs): retry later"
    )
}

/// The token bucket of the ingestion rate limit.
pub(crate) type RateLimiter = oxeye_model::rate::TokenBucket;

/// Span counts of recently active traces, so the per-trace span limit holds across head cuts.
///
/// Memory is bounded by two generations of at most `capacity / 2` entries each: a lookup promotes an entry of the
/// old generation into the current one, and when the current generation is full it becomes the old one and the
/// previous old one is dropped. A trace untouched for a whole generation is forgotten (its next span starts a new
/// count) — an approximation of LRU without per-entry bookkeeping. Counts are rebuilt from the head on open; a
/// trace whose spans all sit in blocks before a restart starts counting from zero again.
#[derive(Debug)]
pub(crate) struct LiveTraceCounts {
    current: HashMap<TraceId, u64>,
    previous: HashMap<TraceId, u64>,
    generation_capacity: usize,
}

impl LiveTraceCounts {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { current: HashMap::new(), previous: HashMap::new(), generation_capacity: (capacity / 2).max(1) }
    }

    /// The count of `trace`, promoted into the current generation (created at zero if unknown).
    pub(crate) fn entry(&mut self, trace: TraceId) -> &mut u64 {
        if !self.current.contains_key(&trace) {
            let count = self.previous.remove(&trace).unwrap_or(0);
            if self.current.len() >= self.generation_capacity {
                self.previous = std::mem::take(&mut self.current);
            }
            self.current.insert(trace, count);
        }
        self.current.entry(trace).or_default()
    }

    pub(crate) fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_refills_at_the_rate_and_caps_at_the_burst() {
        let mut bucket = RateLimiter::new(100.0);
        assert!(bucket.try_take(60.0, 10.0, 100.0, 0));
        assert!(!bucket.try_take(60.0, 10.0, 100.0, 0));
        assert!(bucket.try_take(60.0, 10.0, 100.0, 2_000_000_000));
        assert!(!bucket.try_take(101.0, 10.0, 100.0, 1_000_000_000_000));
    }

    #[test]
    fn live_counts_are_bounded_and_keep_recently_used_traces() {
        let mut counts = LiveTraceCounts::new(10);
        let hot = TraceId([1; 16]);
        *counts.entry(hot) += 7;
        for index in 0..100u8 {
            let mut id = [2; 16];
            id[0] = index;
            *counts.entry(TraceId(id)) += 1;
            // The hot trace keeps being touched, so it survives every generation change.
            assert!(*counts.entry(hot) >= 7);
            assert!(counts.len() <= 10, "{} entries", counts.len());
        }
        assert_eq!(*counts.entry(hot), 7);
    }
}
