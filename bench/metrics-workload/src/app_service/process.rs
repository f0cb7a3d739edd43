//! The simulated state behind an application instance: per-route request and latency state, job queues, database
//! queries, a cache and the Go runtime. [`super::AppServiceTarget`] advances these states and turns them into series;
//! a restart replaces them with fresh ones.

use rand::Rng;
use rand::rngs::StdRng;

use super::MIB;
use super::services::RouteSpec;
use crate::value_models::{MeanRevertingWalk, uniform};

pub(super) struct RouteState {
    pub(super) spec: &'static RouteSpec,
    pub(super) requests_per_second: f64,
    /// Share of each non-success code (index 1.. of `spec.codes`); index 0 is unused.
    pub(super) code_shares: Vec<f64>,
    pub(super) requests_by_code: Vec<u64>,
    pub(super) median_latency: MeanRevertingWalk,
    pub(super) log_sigma: f64,
    pub(super) buckets: [u64; 12],
    pub(super) duration_sum: f64,
}

pub(super) struct QueueState {
    pub(super) name: &'static str,
    pub(super) depth: MeanRevertingWalk,
    pub(super) jobs_per_second: f64,
    pub(super) succeeded: u64,
    pub(super) failed: u64,
}

pub(super) struct QueryState {
    pub(super) queries_per_request: f64,
    pub(super) median_seconds: f64,
    pub(super) buckets: [u64; 9],
    pub(super) sum: f64,
}

pub(super) struct CacheState {
    pub(super) hit_ratio: MeanRevertingWalk,
    pub(super) hits: u64,
    pub(super) misses: u64,
    pub(super) entries: MeanRevertingWalk,
}

pub(super) struct RuntimeState {
    pub(super) cpu_ticks: u64,
    pub(super) heap_bytes: f64,
    pub(super) live_heap_bytes: f64,
    pub(super) allocated_total: f64,
    pub(super) mallocs: u64,
    pub(super) gc_count: u64,
    pub(super) gc_pause_sum: f64,
    pub(super) gc_pause_median: f64,
    pub(super) threads: f64,
    pub(super) resident: MeanRevertingWalk,
    pub(super) open_fds: MeanRevertingWalk,
}

impl RouteState {
    pub(super) fn new(rng: &mut StdRng, spec: &'static RouteSpec, instance_weight: f64) -> Self {
        let code_shares = spec
            .codes
            .iter()
            .enumerate()
            .map(|(index, code)| match (index, code.as_bytes().first()) {
                (0, _) => 0.0,
                // Server errors are rare outside incidents; redirects and client errors vary by route.
                (_, Some(b'5')) => uniform(rng, 0.000_02, 0.000_5),
                (_, Some(b'3')) => uniform(rng, 0.05, 0.25),
                _ => uniform(rng, 0.000_5, 0.01),
            })
            .collect();
        let median = spec.median_latency_seconds * uniform(rng, 0.8, 1.25);
        Self {
            spec,
            requests_per_second: spec.requests_per_second * instance_weight,
            code_shares,
            requests_by_code: vec![0; spec.codes.len()],
            median_latency: MeanRevertingWalk::new(median, 0.1, median * 0.04, median * 0.3, median * 5.0),
            log_sigma: uniform(rng, 0.5, 1.1),
            buckets: [0; 12],
            duration_sum: 0.0,
        }
    }
}

impl RuntimeState {
    pub(super) fn new(rng: &mut StdRng) -> Self {
        let live_heap = uniform(rng, 12.0, 120.0) * MIB;
        Self {
            cpu_ticks: 0,
            heap_bytes: live_heap,
            live_heap_bytes: live_heap,
            allocated_total: 0.0,
            mallocs: 0,
            gc_count: 0,
            gc_pause_sum: 0.0,
            gc_pause_median: uniform(rng, 0.000_03, 0.000_4),
            threads: rng.random_range(10..18) as f64,
            resident: MeanRevertingWalk::new(live_heap * 2.2, 0.05, live_heap * 0.01, live_heap, live_heap * 6.0),
            open_fds: MeanRevertingWalk::new(uniform(rng, 30.0, 300.0), 0.1, 2.0, 10.0, 5_000.0),
        }
    }
}
