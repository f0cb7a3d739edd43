//! The fleet: which targets exist, when they are scraped, and one step's worth of samples from all of them.
//!
//! Every host runs a node_exporter target and one instance of an application service (round robin over
//! [`SERVICES`]). Hosts are spread over two clusters. Like Prometheus, each target is scraped at a fixed offset
//! inside the interval (derived from a hash of the target), so one step's samples carry many distinct timestamps;
//! a few scrapes are a few milliseconds late, as real scrapes are. Each target draws from its own seeded
//! generator, so host `i` produces the same series and values whatever the number of hosts.

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::app_service::{AppServiceTarget, SERVICES};
use crate::node_exporter::{HostIdentity, NodeExporterTarget};
use crate::scrape_sink::ScrapeSink;
use crate::value_models::{fnv1a, poisson, uniform};

const CLUSTERS: [&str; 2] = ["prod-eu-west-1", "prod-us-east-1"];
/// Share of scrapes whose timestamp is off the target's regular grid by a few milliseconds.
const LATE_SCRAPE_PERCENT: u64 = 3;

/// What to generate: the fleet size, the seed, and the time grid `start_ms + step * interval_ms` for
/// `step in 0..steps`.
#[derive(Clone, Debug)]
pub struct WorkloadSpec {
    pub seed: u64,
    pub hosts: usize,
    pub interval_ms: i64,
    pub start_ms: i64,
    pub steps: u64,
}

enum TargetModel {
    Node(Box<NodeExporterTarget>),
    App(Box<AppServiceTarget>),
}

struct ScrapeTarget {
    model: TargetModel,
    /// Fixed scrape offset inside each interval.
    offset_ms: i64,
    target_hash: u64,
    series_in_last_scrape: usize,
}

/// Counts describing a generated workload, for the manifest.
#[derive(Clone, Debug, Default)]
pub struct WorkloadCounts {
    pub node_series: usize,
    pub app_series: usize,
    pub host_reboots: u64,
    pub app_restarts: u64,
}

/// All scrape targets of the fleet, advanced one step at a time.
pub struct Workload {
    spec: WorkloadSpec,
    targets: Vec<ScrapeTarget>,
}

impl Workload {
    /// Builds the fleet (no scrape happens yet).
    pub fn new(spec: WorkloadSpec) -> Self {
        let interval_seconds = spec.interval_ms as f64 / 1000.0;
        let start_seconds = spec.start_ms as f64 / 1000.0;
        let window_seconds = interval_seconds * spec.steps as f64;
        let deploys: Vec<Vec<f64>> = SERVICES
            .iter()
            .map(|service| deploy_schedule(spec.seed, service.job, start_seconds, window_seconds))
            .collect();
        let mut targets = Vec::with_capacity(spec.hosts * 2);
        for host_index in 0..spec.hosts {
            let cluster_index = host_index % CLUSTERS.len();
            let host = HostIdentity {
                index: host_index,
                hostname: format!("ip-10-{}-{}-{}", 20 + cluster_index, host_index / 200, 10 + host_index % 200),
                cluster: CLUSTERS[cluster_index].to_owned(),
            };
            let node = NodeExporterTarget::new(&host, spec.seed, start_seconds, interval_seconds);
            targets.push(ScrapeTarget::new(TargetModel::Node(Box::new(node)), &spec, &host, "node"));
            let service_index = host_index % SERVICES.len();
            let app = AppServiceTarget::new(
                &host,
                &SERVICES[service_index],
                spec.seed,
                interval_seconds,
                start_seconds,
                &deploys[service_index],
                host_index / SERVICES.len(),
            );
            targets.push(ScrapeTarget::new(TargetModel::App(Box::new(app)), &spec, &host, "app"));
        }
        Self { spec, targets }
    }

    /// Scrapes every target for `step`: appends one value per series to `sink` and that sample's timestamp to
    /// `timestamps` (same order). Series come target by target, each target's in its fixed order.
    pub fn scrape_step(&mut self, step: u64, sink: &mut ScrapeSink, timestamps: &mut Vec<i64>) {
        let step_start_ms = self.spec.start_ms + step as i64 * self.spec.interval_ms;
        for target in &mut self.targets {
            let timestamp_ms =
                step_start_ms + target.offset_ms + scrape_delay_ms(self.spec.seed, target.target_hash, step);
            let first_sample = sink.len();
            match &mut target.model {
                TargetModel::Node(node) => node.scrape(timestamp_ms, sink),
                TargetModel::App(app) => app.scrape(timestamp_ms, sink),
            }
            target.series_in_last_scrape = sink.len() - first_sample;
            timestamps.resize(timestamps.len() + target.series_in_last_scrape, timestamp_ms);
        }
    }

    /// Series per kind of target (as of the last step scraped) and the counter resets simulated so far.
    pub fn counts(&self) -> WorkloadCounts {
        let mut counts = WorkloadCounts::default();
        for target in &self.targets {
            let series = target.series_in_last_scrape;
            match &target.model {
                TargetModel::Node(node) => {
                    counts.node_series += series;
                    counts.host_reboots += node.reboots();
                }
                TargetModel::App(app) => {
                    counts.app_series += series;
                    counts.app_restarts += app.restarts();
                }
            }
        }
        counts
    }
}

impl ScrapeTarget {
    fn new(model: TargetModel, spec: &WorkloadSpec, host: &HostIdentity, kind: &str) -> Self {
        let target_hash = fnv1a(&[host.hostname.as_bytes(), kind.as_bytes()]);
        // Prometheus spreads targets over the interval by a hash of the target; keep the offset away from the
        // interval's end so that a late scrape still lands inside its step.
        let usable_ms = (spec.interval_ms - 100).max(1) as u64;
        let offset_ms = (fnv1a(&[&target_hash.to_le_bytes(), &spec.seed.to_le_bytes()]) % usable_ms) as i64;
        Self { model, offset_ms, target_hash, series_in_last_scrape: 0 }
    }
}

/// A late scrape's delay: 0 for most scrapes, a few milliseconds for [`LATE_SCRAPE_PERCENT`] of them.
fn scrape_delay_ms(seed: u64, target_hash: u64, step: u64) -> i64 {
    let hash = fnv1a(&[&seed.to_le_bytes(), &target_hash.to_le_bytes(), &step.to_le_bytes()]);
    if hash % 100 >= LATE_SCRAPE_PERCENT {
        return 0;
    }
    1 + ((hash >> 16) % 40) as i64
}

/// Start times of a service's rolling deploys: one somewhere in the middle of the window, plus on average one
/// per six further hours.
fn deploy_schedule(seed: u64, job: &str, start_seconds: f64, window_seconds: f64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(fnv1a(&[&seed.to_le_bytes(), b"deploys", job.as_bytes()]));
    let extra = poisson(&mut rng, window_seconds / (6.0 * 3_600.0));
    let mut deploys: Vec<f64> =
        (0..=extra).map(|_| start_seconds + window_seconds * uniform(&mut rng, 0.15, 0.85)).collect();
    deploys.sort_by(f64::total_cmp);
    deploys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(hosts: usize) -> WorkloadSpec {
        WorkloadSpec { seed: 11, hosts, interval_ms: 15_000, start_ms: 1_700_000_000_000, steps: 40 }
    }

    #[test]
    fn timestamps_stay_inside_their_step_and_series_are_stable() {
        let mut workload = Workload::new(spec(6));
        let mut sink = ScrapeSink::recording();
        let mut timestamps = Vec::new();
        workload.scrape_step(0, &mut sink, &mut timestamps);
        let catalog = sink.take_catalog();
        assert_eq!(catalog.len(), timestamps.len());
        for step in 1..40u64 {
            sink.clear_values();
            timestamps.clear();
            workload.scrape_step(step, &mut sink, &mut timestamps);
            assert_eq!(sink.len(), catalog.len());
            let step_start = 1_700_000_000_000 + step as i64 * 15_000;
            assert!(timestamps.iter().all(|&ts| (step_start..step_start + 15_000).contains(&ts)));
        }
        let counts = workload.counts();
        assert_eq!(counts.node_series + counts.app_series, catalog.len());
    }

    #[test]
    fn a_host_is_the_same_whatever_the_fleet_size() {
        let first_values = |hosts| {
            let mut workload = Workload::new(spec(hosts));
            let mut sink = ScrapeSink::default();
            let mut timestamps = Vec::new();
            workload.scrape_step(0, &mut sink, &mut timestamps);
            (sink.values()[..300].to_vec(), timestamps[..300].to_vec())
        };
        assert_eq!(first_values(2), first_values(5));
    }

    #[test]
    fn series_labels_are_unique() {
        let mut workload = Workload::new(spec(9));
        let mut sink = ScrapeSink::recording();
        workload.scrape_step(0, &mut sink, &mut Vec::new());
        let catalog = sink.take_catalog();
        let unique: std::collections::HashSet<_> = catalog
            .iter()
            .map(|labels| labels.iter().map(|l| format!("{}={}", l.name, l.value)).collect::<Vec<_>>())
            .collect();
        assert_eq!(unique.len(), catalog.len());
    }
}
