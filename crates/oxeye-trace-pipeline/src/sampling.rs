//! Tail sampling: whole traces kept or dropped by policy once they are complete.
//!
//! Spans of a trace are held until `decision_wait` has passed since its last span arrived; then the trace is
//! decided, in this order:
//!
//! 1. **error**: some span has status `error` → kept;
//! 2. **latency**: the trace lasts at least the global threshold, or a span matching a latency rule (by service
//!    and/or span name) lasts at least that rule's threshold → kept;
//! 3. **rate**: kept with probability *r*, where *r* is the largest rate among the rate rules that match some span
//!    of the trace (by service and/or span name; e.g. 100 % for a critical operation, 0 % for a health check), or
//!    the base rate if no rule matches. The draw is a hash of the trace id, so the decision is deterministic per
//!    trace id and the same on every node and after a restart.
//!
//! Spans arriving after their trace was decided follow the decision (a bounded cache remembers recent ones).
//! Memory is bounded by `max_pending_spans`: when it is reached, the oldest pending traces are decided early, by
//! the same policies, instead of spans being dropped blindly.
//!
//! Durability: the sampler acknowledges spans it only holds in memory, so it writes them to its own WAL first.
//! After kept spans have been handed to the store, [`TailSampler::checkpoint`] replaces the WAL with the spans
//! still pending; a restart replays them. The WAL's records are whatever the [`SpanCodec`] writes (oxeye passes
//! OTLP protobuf).

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use oxeye_model::{Span, StatusCode, TraceId};
use oxeye_wal::{SyncPolicy, Wal, WalError, WalOptions};

/// A rule choosing spans by service and/or span name (`None` matches any).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpanMatcher {
    pub service: Option<String>,
    pub span_name: Option<String>,
}

impl SpanMatcher {
    fn matches(&self, span: &Span) -> bool {
        self.service.as_deref().is_none_or(|service| span.service_name() == service)
            && self.span_name.as_deref().is_none_or(|name| span.name == name)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct LatencyRule {
    pub matcher: SpanMatcher,
    pub threshold: Duration,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RateRule {
    pub matcher: SpanMatcher,
    /// Fraction kept, 0 to 1.
    pub rate: f64,
}

/// Sampling policies of one tenant.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplingConfig {
    pub decision_wait: Duration,
    pub keep_errors: bool,
    /// Keep every trace lasting at least this long.
    pub latency_threshold: Option<Duration>,
    pub latency_rules: Vec<LatencyRule>,
    pub base_rate: f64,
    pub rate_rules: Vec<RateRule>,
    pub max_pending_spans: usize,
    /// Decided trace ids remembered for late spans.
    pub decision_cache: usize,
    pub wal_sync: SyncPolicy,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        Self {
            decision_wait: Duration::from_secs(10),
            keep_errors: true,
            latency_threshold: None,
            latency_rules: Vec::new(),
            base_rate: 0.1,
            rate_rules: Vec::new(),
            max_pending_spans: 1_000_000,
            decision_cache: 200_000,
            wal_sync: SyncPolicy::Interval(Duration::from_secs(1)),
        }
    }
}

/// Why a trace was kept or dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Policy {
    Error,
    Latency,
    Rate,
}

impl Policy {
    pub fn name(self) -> &'static str {
        match self {
            Policy::Error => "error",
            Policy::Latency => "latency",
            Policy::Rate => "rate",
        }
    }
}

/// A decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub keep: bool,
    pub policy: Policy,
}

/// Decides a trace from the spans at hand.
pub fn decide(config: &SamplingConfig, trace_id: TraceId, spans: &[Span]) -> Decision {
    if config.keep_errors && spans.iter().any(|span| span.status_code == StatusCode::Error) {
        return Decision { keep: true, policy: Policy::Error };
    }
    if let Some(threshold) = config.latency_threshold {
        let start = spans.iter().map(|span| span.start_ns).min().unwrap_or(0);
        let end = spans.iter().map(|span| span.end_ns).max().unwrap_or(0);
        if end.saturating_sub(start) >= threshold.as_nanos() as u64 {
            return Decision { keep: true, policy: Policy::Latency };
        }
    }
    let slow = config.latency_rules.iter().any(|rule| {
        spans.iter().any(|span| rule.matcher.matches(span) && span.duration_ns() >= rule.threshold.as_nanos() as u64)
    });
    if slow {
        return Decision { keep: true, policy: Policy::Latency };
    }
    let rate = config
        .rate_rules
        .iter()
        .filter(|rule| spans.iter().any(|span| rule.matcher.matches(span)))
        .map(|rule| rule.rate)
        .reduce(f64::max)
        .unwrap_or(config.base_rate);
    Decision { keep: trace_draw(trace_id) < rate, policy: Policy::Rate }
}

/// A uniform draw in [0, 1) from the trace id (splitmix64 over both halves, so ids with structure still spread).
pub fn trace_draw(trace_id: TraceId) -> f64 {
    let high = u64::from_be_bytes(trace_id.0[..8].try_into().expect("8 bytes"));
    let mut x = trace_id.low_u64() ^ high.rotate_left(32);
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// Turns spans into WAL records and back.
pub trait SpanCodec: Send + Sync {
    fn encode(&self, spans: &[Span]) -> Vec<u8>;
    fn decode(&self, bytes: &[u8]) -> Result<Vec<Span>, String>;
}

/// Counters of one tenant's sampler, for self-metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SamplingStats {
    /// Traces decided, by (kept, policy).
    pub traces: HashMap<(bool, Policy), u64>,
    /// Traces decided before their wait was over because the pending bound was reached.
    pub decided_early: u64,
    pub spans_kept: u64,
    pub spans_dropped: u64,
    pub pending_traces: usize,
    pub pending_spans: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SamplingError {
    #[error(transparent)]
    Wal(#[from] WalError),
}

struct PendingTrace {
    spans: Vec<Span>,
    last_span_ms: i64,
}

struct State {
    pending: HashMap<TraceId, PendingTrace>,
    /// (deadline, trace) in arrival order of the entry; re-checked against `last_span_ms` when it comes due.
    deadlines: VecDeque<(i64, TraceId)>,
    pending_spans: usize,
    decided: HashMap<TraceId, bool>,
    decided_order: VecDeque<TraceId>,
    stats: SamplingStats,
}

/// One tenant's tail sampler.
pub struct TailSampler {
    config: SamplingConfig,
    codec: Arc<dyn SpanCodec>,
    wal: Wal,
    state: Mutex<State>,
}

impl TailSampler {
    /// Opens the sampler's WAL in `dir`, replaying spans that were pending at the last stop or crash.
    pub fn open(
        dir: &Path,
        config: SamplingConfig,
        codec: Arc<dyn SpanCodec>,
        now_ms: i64,
    ) -> Result<Self, SamplingError> {
        let mut replayed: Vec<Span> = Vec::new();
        let mut undecodable = 0usize;
        oxeye_wal::replay(dir, |record| match codec.decode(record) {
            Ok(mut spans) => replayed.append(&mut spans),
            Err(_) => undecodable += 1,
        })?;
        if undecodable > 0 {
            tracing::warn!(dir = %dir.display(), records = undecodable, "sampler WAL records that could not be decoded were skipped");
        }
        let wal = Wal::open(dir, WalOptions { sync: config.wal_sync, ..WalOptions::default() })?;
        let sampler = Self {
            config,
            codec,
            wal,
            state: Mutex::new(State {
                pending: HashMap::new(),
                deadlines: VecDeque::new(),
                pending_spans: 0,
                decided: HashMap::new(),
                decided_order: VecDeque::new(),
                stats: SamplingStats::default(),
            }),
        };
        {
            let mut state = sampler.lock();
            // Duplicates (a span replayed from both a checkpoint and a later segment) are removed per trace.
            for span in replayed {
                sampler.hold(&mut state, span, now_ms);
            }
            for pending in state.pending.values_mut() {
                let mut seen = HashSet::new();
                pending.spans.retain(|span| seen.insert(span.span_id));
            }
            state.pending_spans = state.pending.values().map(|pending| pending.spans.len()).sum();
        }
        Ok(sampler)
    }

    pub fn config(&self) -> &SamplingConfig {
        &self.config
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn hold(&self, state: &mut State, span: Span, now_ms: i64) {
        let trace_id = span.trace_id;
        let deadline = now_ms + self.config.decision_wait.as_millis() as i64;
        match state.pending.get_mut(&trace_id) {
            Some(pending) => {
                pending.spans.push(span);
                pending.last_span_ms = now_ms;
            }
            None => {
                state.pending.insert(trace_id, PendingTrace { spans: vec![span], last_span_ms: now_ms });
                state.deadlines.push_back((deadline, trace_id));
            }
        }
        state.pending_spans += 1;
    }

    /// Takes spans in: writes them to the sampler's WAL (the write is acknowledged once this returns), then holds
    /// them. Returns spans to store right away: late spans of traces already kept, and traces decided early
    /// because the pending bound was reached.
    pub fn offer(&self, spans: Vec<Span>, now_ms: i64) -> Result<Vec<Span>, SamplingError> {
        if spans.is_empty() {
            return Ok(Vec::new());
        }
        let record = self.codec.encode(&spans);
        let mut framed = Vec::with_capacity(record.len() + 8);
        oxeye_wal::frame_record(&mut framed, &record);
        let mut release = Vec::new();
        let sequence;
        {
            let mut state = self.lock();
            sequence = self.wal.write(&framed)?;
            for span in spans {
                match state.decided.get(&span.trace_id) {
                    Some(true) => {
                        state.stats.spans_kept += 1;
                        release.push(span);
                    }
                    Some(false) => state.stats.spans_dropped += 1,
                    None => self.hold(&mut state, span, now_ms),
                }
            }
            if state.pending_spans > self.config.max_pending_spans {
                let target = self.config.max_pending_spans - self.config.max_pending_spans / 10;
                while state.pending_spans > target {
                    let Some((_, trace_id)) = state.deadlines.pop_front() else { break };
                    if self.decide_now(&mut state, trace_id, &mut release) {
                        state.stats.decided_early += 1;
                    }
                }
            }
        }
        self.wal.sync_through(sequence)?;
        Ok(release)
    }

    /// Decides every trace whose wait is over. Returns the spans of kept traces; once the caller has stored them,
    /// it calls [`TailSampler::checkpoint`].
    pub fn tick(&self, now_ms: i64) -> Vec<Span> {
        let mut release = Vec::new();
        let mut state = self.lock();
        let wait_ms = self.config.decision_wait.as_millis() as i64;
        let mut requeued = false;
        while let Some(&(deadline, trace_id)) = state.deadlines.front() {
            if deadline > now_ms {
                break;
            }
            state.deadlines.pop_front();
            let Some(pending) = state.pending.get(&trace_id) else { continue };
            let due = pending.last_span_ms + wait_ms;
            if due > now_ms {
                // Spans arrived since: wait again from the last one.
                state.deadlines.push_back((due, trace_id));
                requeued = true;
                continue;
            }
            self.decide_now(&mut state, trace_id, &mut release);
        }
        // Entries re-queued out of order: keep the queue sorted by deadline (a stable sort of an almost sorted
        // queue, only when something was re-queued).
        if requeued {
            state.deadlines.make_contiguous().sort_by_key(|(deadline, _)| *deadline);
        }
        release
    }

    /// Decides one pending trace; returns whether it was pending.
    fn decide_now(&self, state: &mut State, trace_id: TraceId, release: &mut Vec<Span>) -> bool {
        let Some(pending) = state.pending.remove(&trace_id) else { return false };
        let decision = decide(&self.config, trace_id, &pending.spans);
        state.pending_spans -= pending.spans.len();
        *state.stats.traces.entry((decision.keep, decision.policy)).or_default() += 1;
        if decision.keep {
            state.stats.spans_kept += pending.spans.len() as u64;
            release.extend(pending.spans);
        } else {
            state.stats.spans_dropped += pending.spans.len() as u64;
        }
        state.decided.insert(trace_id, decision.keep);
        state.decided_order.push_back(trace_id);
        while state.decided_order.len() > self.config.decision_cache {
            if let Some(old) = state.decided_order.pop_front() {
                state.decided.remove(&old);
            }
        }
        true
    }

    /// Replaces the WAL with the spans still pending. Call after the spans returned by `tick`/`offer` are stored.
    pub fn checkpoint(&self) -> Result<(), SamplingError> {
        let state = self.lock();
        let through = self.wal.cut_segment()?;
        let codec = &self.codec;
        let records = state.pending.values().map(|pending| Ok(codec.encode(&pending.spans)));
        self.wal.write_checkpoint(through, records)?;
        Ok(())
    }

    /// Decides every pending trace now (shutdown, or a test).
    pub fn flush(&self) -> Vec<Span> {
        let mut release = Vec::new();
        let mut state = self.lock();
        let ids: Vec<TraceId> = state.deadlines.drain(..).map(|(_, id)| id).collect();
        for trace_id in ids {
            self.decide_now(&mut state, trace_id, &mut release);
        }
        release
    }

    pub fn stats(&self) -> SamplingStats {
        let state = self.lock();
        let mut stats = state.stats.clone();
        stats.pending_traces = state.pending.len();
        stats.pending_spans = state.pending_spans;
        stats
    }

    pub fn sync(&self) -> Result<(), SamplingError> {
        Ok(self.wal.sync()?)
    }
}

#[cfg(test)]
mod tests;
