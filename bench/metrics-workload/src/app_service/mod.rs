//! An application scrape target: one instance of an HTTP service written in Go (`instance="<host>:8080"`).
//!
//! Each instance exposes what a typical service instrumented with the Prometheus Go client exposes: request
//! counters by handler, method and status code; a request-duration histogram per handler with the client's default
//! eleven buckets plus `+Inf`, `_sum` and `_count`; job-queue, connection-pool and cache metrics; and the Go
//! runtime and process collectors. Traffic follows a daily curve with noise; an incident now and then raises the
//! share of 5xx answers. Instances restart during their service's rolling deploy and, rarely, on a crash, which
//! resets every counter and the runtime gauges.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

mod process;
mod services;

pub use self::services::{SERVICES, ServiceSpec};

use self::process::{CacheState, QueryState, QueueState, RouteState, RuntimeState};
use crate::node_exporter::HostIdentity;
use crate::scrape_sink::{ScrapeSink, TargetLabels, push_scrape_series};
use crate::value_models::{
    MeanRevertingWalk, fnv1a, lognormal_bucket_increments, lognormal_mean, poisson, quantize, round_decimals,
    standard_normal, uniform,
};

/// Bucket bounds of the Go client's `prometheus.DefBuckets`, then `+Inf`.
const REQUEST_BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, f64::INFINITY];
const REQUEST_BUCKET_LABELS: [&str; 12] =
    ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"];
const QUERY_BUCKETS: [f64; 9] = [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, f64::INFINITY];
const QUERY_BUCKET_LABELS: [&str; 9] = ["0.0005", "0.001", "0.005", "0.01", "0.05", "0.1", "0.5", "1", "+Inf"];
const QUERY_OPERATIONS: [&str; 3] = ["insert", "select", "update"];
const GC_QUANTILES: [&str; 5] = ["0", "0.25", "0.5", "0.75", "1"];
/// Mean time between crashes of one instance.
const MEAN_SECONDS_BETWEEN_CRASHES: f64 = 12.0 * 3_600.0;
const CONNECTION_POOL_SIZE: f64 = 20.0;
const MIB: f64 = 1024.0 * 1024.0;

/// One service instance and the simulated process behind it.
pub struct AppServiceTarget {
    labels: TargetLabels,
    rng: StdRng,
    interval_seconds: f64,
    first_scrape: bool,
    /// Times (Unix seconds) at which this instance restarts for a deploy, ascending; consumed as they pass.
    pending_restarts: Vec<f64>,
    restarts: u64,
    start_time_seconds: f64,
    diurnal_phase_seconds: f64,
    traffic_noise: MeanRevertingWalk,
    /// Scrapes left in the current incident (raised 5xx share and latency); 0 when healthy.
    incident_scrapes_left: u32,
    routes: Vec<RouteState>,
    queues: Vec<QueueState>,
    queries: [QueryState; 3],
    cache: CacheState,
    runtime: RuntimeState,
    build_revision: String,
}

impl AppServiceTarget {
    /// The instance of `service` on `host`; `deploys_seconds` are the service's deploy start times, and
    /// `rollout_position` is this instance's place in the rolling restart (20 s apart).
    pub fn new(
        host: &HostIdentity,
        service: &'static ServiceSpec,
        seed: u64,
        interval_seconds: f64,
        start_seconds: f64,
        deploys_seconds: &[f64],
        rollout_position: usize,
    ) -> Self {
        let instance_seed = fnv1a(&[&seed.to_le_bytes(), b"app", &host.index.to_le_bytes()]);
        let mut rng = StdRng::seed_from_u64(instance_seed);
        let instance_weight = uniform(&mut rng, 0.6, 1.4);
        let routes = service.routes.iter().map(|spec| RouteState::new(&mut rng, spec, instance_weight)).collect();
        let queues = service
            .queues
            .iter()
            .map(|&name| {
                let depth_level = uniform(&mut rng, 0.0, 40.0);
                QueueState {
                    name,
                    depth: MeanRevertingWalk::new(depth_level, 0.15, 3.0 + depth_level * 0.2, 0.0, 50_000.0),
                    jobs_per_second: uniform(&mut rng, 0.2, 15.0),
                    succeeded: 0,
                    failed: 0,
                }
            })
            .collect();
        let queries = [0.3, 2.5, 0.4].map(|per_request| QueryState {
            queries_per_request: per_request * uniform(&mut rng, 0.5, 1.5),
            median_seconds: uniform(&mut rng, 0.0008, 0.006),
            buckets: [0; 9],
            sum: 0.0,
        });
        let rollout_offset_seconds = 20.0 * rollout_position as f64;
        let pending_restarts = deploys_seconds.iter().map(|deploy| deploy + rollout_offset_seconds).collect();
        let uptime_seconds = uniform(&mut rng, 600.0, 5.0 * 86_400.0);
        let entries_level = uniform(&mut rng, 2_000.0, 200_000.0);
        let mut target = Self {
            labels: TargetLabels {
                job: service.job.to_owned(),
                instance: format!("{}:8080", host.hostname),
                cluster: host.cluster.clone(),
            },
            interval_seconds,
            first_scrape: true,
            pending_restarts,
            restarts: 0,
            start_time_seconds: round_decimals(start_seconds - uptime_seconds, 2),
            diurnal_phase_seconds: uniform(&mut rng, 0.0, 3_600.0),
            traffic_noise: MeanRevertingWalk::new(1.0, 0.1, 0.03, 0.5, 2.0),
            incident_scrapes_left: 0,
            routes,
            queues,
            queries,
            cache: CacheState {
                hit_ratio: MeanRevertingWalk::new(uniform(&mut rng, 0.7, 0.97), 0.05, 0.01, 0.2, 0.999),
                hits: 0,
                misses: 0,
                entries: MeanRevertingWalk::new(entries_level, 0.02, entries_level * 0.005, 0.0, entries_level * 3.0),
            },
            runtime: RuntimeState::new(&mut rng),
            build_revision: format!("{:07x}", fnv1a(&[service.job.as_bytes(), &seed.to_le_bytes()]) >> 36),
            rng,
        };
        target.fast_forward(uptime_seconds);
        target
    }

    /// Number of restarts (counter resets) simulated so far.
    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    /// Scrapes the instance at `timestamp_ms`, pushing every series in a fixed order.
    pub fn scrape(&mut self, timestamp_ms: i64, sink: &mut ScrapeSink) {
        let now_seconds = timestamp_ms as f64 / 1000.0;
        let crash_probability = self.interval_seconds / MEAN_SECONDS_BETWEEN_CRASHES;
        let deploy_due = self.pending_restarts.first().is_some_and(|&due| due <= now_seconds);
        if deploy_due {
            self.pending_restarts.remove(0);
        }
        if !self.first_scrape && (deploy_due || self.rng.random_bool(crash_probability)) {
            self.restart(now_seconds);
        }
        if self.incident_scrapes_left > 0 {
            self.incident_scrapes_left -= 1;
        } else if self.rng.random_bool(0.0015) {
            self.incident_scrapes_left = self.rng.random_range(4..40);
        }
        let traffic = self.traffic_factor(now_seconds);
        let first_sample = sink.len();
        let requests = self.scrape_http(traffic, sink);
        self.scrape_queues(sink);
        self.scrape_database(requests, sink);
        self.scrape_cache(requests, sink);
        self.scrape_runtime(requests, sink);
        let own_samples = sink.len() - first_sample;
        let scrape_duration = 0.003 + 0.002 * self.rng.random::<f64>() + 0.000_01 * own_samples as f64;
        push_scrape_series(sink, &self.labels, own_samples, scrape_duration, self.first_scrape);
        self.first_scrape = false;
    }

    /// Share of the average request rate at `now_seconds`: a daily curve (quiet at night) times slow noise.
    fn traffic_factor(&mut self, now_seconds: f64) -> f64 {
        let day_angle = std::f64::consts::TAU * (now_seconds + self.diurnal_phase_seconds) / 86_400.0;
        (1.0 + 0.4 * day_angle.sin()) * self.traffic_noise.step(&mut self.rng)
    }

    /// Gives the counters the values of an instance that has run `seconds` at average traffic.
    fn fast_forward(&mut self, seconds: f64) {
        let mut total_requests = 0.0;
        for route in &mut self.routes {
            let requests = route.requests_per_second * seconds;
            total_requests += requests;
            let mut remaining = requests as u64;
            for code_index in 1..route.requests_by_code.len() {
                let count = (requests * route.code_shares[code_index]) as u64;
                route.requests_by_code[code_index] = count;
                remaining = remaining.saturating_sub(count);
            }
            route.requests_by_code[0] = remaining;
            let median = route.median_latency.value();
            lognormal_bucket_increments(
                &mut self.rng,
                requests as u64,
                &REQUEST_BUCKETS,
                median,
                route.log_sigma,
                &mut route.buckets,
            );
            route.duration_sum = requests * lognormal_mean(median, route.log_sigma);
        }
        for queue in &mut self.queues {
            let jobs = queue.jobs_per_second * seconds;
            queue.failed = (jobs * 0.004) as u64;
            queue.succeeded = jobs as u64 - queue.failed;
        }
        for query in &mut self.queries {
            let queries = (total_requests * query.queries_per_request) as u64;
            lognormal_bucket_increments(
                &mut self.rng,
                queries,
                &QUERY_BUCKETS,
                query.median_seconds,
                1.1,
                &mut query.buckets,
            );
            query.sum = queries as f64 * lognormal_mean(query.median_seconds, 1.1);
        }
        let hit_ratio = self.cache.hit_ratio.value();
        self.cache.hits = (total_requests * 1.5 * hit_ratio) as u64;
        self.cache.misses = (total_requests * 1.5 * (1.0 - hit_ratio)) as u64;
        let runtime = &mut self.runtime;
        runtime.allocated_total = total_requests * 24_000.0;
        runtime.mallocs = (runtime.allocated_total / 96.0) as u64;
        runtime.gc_count = (runtime.allocated_total / (runtime.live_heap_bytes * 1.0)) as u64;
        runtime.gc_pause_sum = runtime.gc_count as f64 * runtime.gc_pause_median * 1.3;
        runtime.cpu_ticks = (total_requests * 0.002 * 100.0 + seconds * 0.5) as u64;
    }

    /// A new process: counters from zero, a young heap, a new start time.
    fn restart(&mut self, now_seconds: f64) {
        self.restarts += 1;
        let seconds_up = uniform(&mut self.rng, 1.0, self.interval_seconds * 0.8);
        self.start_time_seconds = round_decimals(now_seconds - seconds_up, 2);
        for route in &mut self.routes {
            route.requests_by_code.iter_mut().for_each(|count| *count = 0);
            route.buckets = [0; 12];
            route.duration_sum = 0.0;
        }
        for queue in &mut self.queues {
            queue.succeeded = 0;
            queue.failed = 0;
        }
        for query in &mut self.queries {
            query.buckets = [0; 9];
            query.sum = 0.0;
        }
        self.cache.hits = 0;
        self.cache.misses = 0;
        self.cache.entries.jump_to(0.0);
        self.runtime = RuntimeState::new(&mut self.rng);
    }

    /// Request counters and duration histograms; returns the number of requests served in this interval.
    fn scrape_http(&mut self, traffic: f64, sink: &mut ScrapeSink) -> u64 {
        let incident = self.incident_scrapes_left > 0;
        let mut total_requests = 0;
        for route in &mut self.routes {
            let rng = &mut self.rng;
            let requests = poisson(rng, route.requests_per_second * traffic * self.interval_seconds);
            total_requests += requests;
            let mut remaining = requests;
            for (code_index, code) in route.spec.codes.iter().enumerate().skip(1) {
                let share = if incident && code.starts_with('5') {
                    route.code_shares[code_index] * 300.0
                } else {
                    route.code_shares[code_index]
                };
                let count = poisson(rng, requests as f64 * share).min(remaining);
                route.requests_by_code[code_index] += count;
                remaining -= count;
            }
            route.requests_by_code[0] += remaining;
            let slowdown = if incident { 3.0 } else { 1.0 } * (0.85 + 0.15 * traffic);
            let median = route.median_latency.step(rng) * slowdown;
            let mut increments = [0u64; 12];
            lognormal_bucket_increments(rng, requests, &REQUEST_BUCKETS, median, route.log_sigma, &mut increments);
            for (bucket, increment) in route.buckets.iter_mut().zip(increments) {
                *bucket += increment;
            }
            route.duration_sum +=
                requests as f64 * lognormal_mean(median, route.log_sigma) * (1.0 + 0.05 * standard_normal(rng));
            let spec = route.spec;
            for (code, count) in spec.codes.iter().zip(&route.requests_by_code) {
                sink.push(*count as f64, || {
                    self.labels.series(
                        "http_requests_total",
                        &[("code", code), ("handler", spec.handler), ("method", spec.method)],
                    )
                });
            }
            for (le, bucket) in REQUEST_BUCKET_LABELS.iter().zip(route.buckets) {
                sink.push(bucket as f64, || {
                    self.labels.series(
                        "http_request_duration_seconds_bucket",
                        &[("handler", spec.handler), ("le", le), ("method", spec.method)],
                    )
                });
            }
            let route_labels = [("handler", spec.handler), ("method", spec.method)];
            sink.push(route.duration_sum, || self.labels.series("http_request_duration_seconds_sum", &route_labels));
            sink.push(route.buckets[11] as f64, || {
                self.labels.series("http_request_duration_seconds_count", &route_labels)
            });
        }
        let concurrency: f64 = self
            .routes
            .iter()
            .map(|route| {
                route.requests_per_second * traffic * lognormal_mean(route.median_latency.value(), route.log_sigma)
            })
            .sum();
        let in_flight = poisson(&mut self.rng, concurrency) as f64;
        sink.push(in_flight, || self.labels.series("http_requests_in_flight", &[]));
        total_requests
    }

    fn scrape_queues(&mut self, sink: &mut ScrapeSink) {
        for queue in &mut self.queues {
            let rng = &mut self.rng;
            // A producer burst now and then; the walk drains it back towards the usual depth.
            if rng.random_bool(0.003) {
                queue.depth.jump_to(queue.depth.value() + uniform(rng, 200.0, 5_000.0));
            }
            let depth = queue.depth.step(rng).round();
            let jobs = poisson(rng, queue.jobs_per_second * self.interval_seconds);
            let failures = poisson(rng, jobs as f64 * 0.004).min(jobs);
            queue.succeeded += jobs - failures;
            queue.failed += failures;
            let queue_name = queue.name;
            sink.push(depth, || self.labels.series("app_queue_depth", &[("queue", queue_name)]));
            sink.push(queue.failed as f64, || {
                self.labels.series("app_jobs_processed_total", &[("queue", queue_name), ("status", "failure")])
            });
            sink.push(queue.succeeded as f64, || {
                self.labels.series("app_jobs_processed_total", &[("queue", queue_name), ("status", "success")])
            });
        }
    }

    fn scrape_database(&mut self, requests: u64, sink: &mut ScrapeSink) {
        let mut busy_connections = 0.0;
        for (operation, query) in QUERY_OPERATIONS.iter().zip(&mut self.queries) {
            let rng = &mut self.rng;
            let queries = poisson(rng, requests as f64 * query.queries_per_request);
            let median = query.median_seconds * uniform(rng, 0.8, 1.25);
            let mut increments = [0u64; 9];
            lognormal_bucket_increments(rng, queries, &QUERY_BUCKETS, median, 1.1, &mut increments);
            for (bucket, increment) in query.buckets.iter_mut().zip(increments) {
                *bucket += increment;
            }
            let busy_seconds = queries as f64 * lognormal_mean(median, 1.1);
            query.sum += busy_seconds;
            busy_connections += busy_seconds / self.interval_seconds;
            for (le, bucket) in QUERY_BUCKET_LABELS.iter().zip(query.buckets) {
                sink.push(bucket as f64, || {
                    self.labels.series("db_query_duration_seconds_bucket", &[("le", le), ("operation", operation)])
                });
            }
            sink.push(query.sum, || self.labels.series("db_query_duration_seconds_sum", &[("operation", operation)]));
            sink.push(query.buckets[8] as f64, || {
                self.labels.series("db_query_duration_seconds_count", &[("operation", operation)])
            });
        }
        let in_use = (poisson(&mut self.rng, busy_connections) as f64).min(CONNECTION_POOL_SIZE);
        sink.push(CONNECTION_POOL_SIZE - in_use, || self.labels.series("db_pool_connections", &[("state", "idle")]));
        sink.push(in_use, || self.labels.series("db_pool_connections", &[("state", "in_use")]));
    }

    fn scrape_cache(&mut self, requests: u64, sink: &mut ScrapeSink) {
        let rng = &mut self.rng;
        let cache = &mut self.cache;
        let lookups = poisson(rng, requests as f64 * 1.5);
        let hit_ratio = cache.hit_ratio.step(rng);
        let hits = poisson(rng, lookups as f64 * hit_ratio).min(lookups);
        cache.hits += hits;
        cache.misses += lookups - hits;
        let entries = cache.entries.step(rng).round();
        sink.push(entries, || self.labels.series("app_cache_entries", &[]));
        sink.push(cache.hits as f64, || self.labels.series("app_cache_hits_total", &[]));
        sink.push(cache.misses as f64, || self.labels.series("app_cache_misses_total", &[]));
    }

    fn scrape_runtime(&mut self, requests: u64, sink: &mut ScrapeSink) {
        let rng = &mut self.rng;
        let runtime = &mut self.runtime;
        let allocated = requests as f64 * 24_000.0 * uniform(rng, 0.8, 1.2) + 200_000.0;
        runtime.allocated_total += allocated;
        runtime.mallocs += (allocated / 96.0) as u64;
        runtime.heap_bytes += allocated;
        // GOGC=100: a cycle starts when the heap doubles the live heap; several cycles may fit in one interval.
        let next_gc = runtime.live_heap_bytes * 2.0;
        if runtime.heap_bytes > next_gc {
            let cycles = (runtime.heap_bytes / next_gc).floor().max(1.0) as u64;
            runtime.gc_count += cycles;
            runtime.gc_pause_sum += cycles as f64 * runtime.gc_pause_median * uniform(rng, 1.0, 1.6);
            runtime.live_heap_bytes =
                (runtime.live_heap_bytes * uniform(rng, 0.97, 1.035)).clamp(4.0 * MIB, 400.0 * MIB);
            runtime.heap_bytes = runtime.live_heap_bytes * uniform(rng, 1.0, 1.3);
        }
        runtime.cpu_ticks += poisson(rng, requests as f64 * 0.2 + 0.5 * self.interval_seconds);
        runtime.threads = (runtime.threads + if rng.random_bool(0.01) { 1.0 } else { 0.0 }).min(40.0);
        let heap = runtime.heap_bytes.round();
        let objects = (heap / 96.0).round();
        let goroutines = 35.0 + poisson(rng, 0.1 * requests as f64 / self.interval_seconds) as f64;
        let values: [(&str, f64); 11] = [
            ("go_goroutines", goroutines),
            ("go_memstats_alloc_bytes", heap),
            ("go_memstats_alloc_bytes_total", runtime.allocated_total.round()),
            ("go_memstats_frees_total", (runtime.mallocs as f64 - objects).max(0.0)),
            ("go_memstats_heap_inuse_bytes", quantize(heap * 1.08, 8_192.0) + 8_192.0),
            ("go_memstats_heap_objects", objects),
            ("go_memstats_mallocs_total", runtime.mallocs as f64),
            ("go_memstats_next_gc_bytes", (runtime.live_heap_bytes * 2.0).round()),
            ("go_memstats_sys_bytes", quantize(runtime.live_heap_bytes * 2.6 + 12.0 * MIB, 1_048_576.0)),
            ("go_threads", runtime.threads),
            ("process_cpu_seconds_total", runtime.cpu_ticks as f64 / 100.0),
        ];
        for (name, value) in values {
            sink.push(value, || self.labels.series(name, &[]));
        }
        for (quantile_index, quantile) in GC_QUANTILES.iter().enumerate() {
            let pause = runtime.gc_pause_median * (0.35 + 0.45 * quantile_index as f64) * uniform(rng, 0.7, 1.4);
            sink.push(round_decimals(pause, 9), || {
                self.labels.series("go_gc_duration_seconds", &[("quantile", quantile)])
            });
        }
        sink.push(runtime.gc_pause_sum, || self.labels.series("go_gc_duration_seconds_sum", &[]));
        sink.push(runtime.gc_count as f64, || self.labels.series("go_gc_duration_seconds_count", &[]));
        let process_values: [(&str, f64); 5] = [
            ("process_max_fds", 1_048_576.0),
            ("process_open_fds", runtime.open_fds.step(rng).round()),
            ("process_resident_memory_bytes", quantize(runtime.resident.step(rng).max(heap * 1.4), 4_096.0)),
            ("process_start_time_seconds", self.start_time_seconds),
            ("process_virtual_memory_bytes", quantize(1_900.0 * MIB + runtime.threads * 8.0 * MIB, 4_096.0)),
        ];
        for (name, value) in process_values {
            sink.push(value, || self.labels.series(name, &[]));
        }
        sink.push(1.0, || self.labels.series("go_info", &[("version", "go1.21.9")]));
        sink.push(1.0, || {
            self.labels.series(
                "app_build_info",
                &[("goversion", "go1.21.9"), ("revision", &self.build_revision), ("version", "2.14.3")],
            )
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_stay_cumulative_and_count_matches_requests() {
        let host = HostIdentity { index: 1, hostname: "ip-10-20-0-1".into(), cluster: "c".into() };
        let start = 1_700_000_000.0;
        let mut target = AppServiceTarget::new(&host, &SERVICES[0], 5, 15.0, start, &[start + 600.0], 0);
        let mut sink = ScrapeSink::recording();
        target.scrape(1_700_000_000_000, &mut sink);
        let catalog = sink.take_catalog();
        for step in 1..200 {
            sink.clear_values();
            target.scrape(1_700_000_000_000 + step * 15_000, &mut sink);
            assert_eq!(sink.len(), catalog.len());
            let values = sink.values();
            let buckets: Vec<f64> = catalog
                .iter()
                .zip(values)
                .filter(|(labels, _)| {
                    labels[0].value == "http_request_duration_seconds_bucket"
                        && labels.iter().any(|label| label.value == "/api/v1/cart")
                })
                .map(|(_, value)| *value)
                .collect();
            assert_eq!(buckets.len(), 12);
            assert!(buckets.windows(2).all(|pair| pair[0] <= pair[1]), "{buckets:?}");
        }
        assert_eq!(target.restarts(), 1, "the deploy restarts the instance once");
    }
}
