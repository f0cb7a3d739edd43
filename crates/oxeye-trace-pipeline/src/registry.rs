//! Cumulative counters and classic histograms keyed by label values, collected into a [`WriteBatch`] the way
//! Tempo's metrics-generator registry appends them: every active series at every collection; a new series first
//! gets a 0 sample 1 ms before its first value (so `increase()` sees its first events); histogram buckets carry at
//! most one exemplar each per collection, labelled `traceID`; series not updated for the stale period are dropped.

use std::collections::HashMap;

use oxeye_model::{Exemplar, Label, Labels, MetricMetadata, MetricType, Sample, TimeSeries, TraceId, WriteBatch};

/// Exemplar label naming the trace (Tempo's default `traceID`).
pub const TRACE_ID_EXEMPLAR_LABEL: &str = "traceID";

struct CounterSeries {
    value: f64,
    updated_ms: i64,
    is_new: bool,
}

struct HistogramSeries {
    /// Cumulative counts per bound, `+Inf` last.
    buckets: Vec<u64>,
    sum: f64,
    count: u64,
    /// The last observation per bucket since the previous collection.
    exemplars: Vec<Option<(TraceId, f64)>>,
    updated_ms: i64,
    is_new: bool,
}

/// One metric family's series.
struct Family {
    name: &'static str,
    help: &'static str,
    kind: FamilyKind,
}

enum FamilyKind {
    Counter(HashMap<Vec<Label>, CounterSeries>),
    Histogram { bounds: Vec<f64>, series: HashMap<Vec<Label>, HistogramSeries> },
}

/// A family handle returned by [`Registry::counter`] / [`Registry::histogram`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FamilyId(usize);

/// Counters and histograms of one tenant.
#[derive(Default)]
pub struct Registry {
    families: Vec<Family>,
}

impl Registry {
    pub fn counter(&mut self, name: &'static str, help: &'static str) -> FamilyId {
        self.families.push(Family { name, help, kind: FamilyKind::Counter(HashMap::new()) });
        FamilyId(self.families.len() - 1)
    }

    /// A histogram family with these upper bounds (`+Inf` is added).
    pub fn histogram(&mut self, name: &'static str, help: &'static str, bounds: &[f64]) -> FamilyId {
        let mut bounds: Vec<f64> = bounds.iter().copied().filter(|bound| bound.is_finite()).collect();
        bounds.sort_by(f64::total_cmp);
        bounds.dedup();
        self.families.push(Family { name, help, kind: FamilyKind::Histogram { bounds, series: HashMap::new() } });
        FamilyId(self.families.len() - 1)
    }

    /// Adds `delta` to a counter series (created at 0 on first use). `labels` need not be sorted.
    pub fn add(&mut self, family: FamilyId, labels: &[Label], delta: f64, now_ms: i64) {
        let FamilyKind::Counter(series) = &mut self.families[family.0].kind else {
            panic!("BUG: add() on a histogram family");
        };
        let entry = match series.get_mut(labels) {
            Some(entry) => entry,
            None => {
                series.entry(labels.to_vec()).or_insert(CounterSeries { value: 0.0, updated_ms: now_ms, is_new: true })
            }
        };
        entry.value += delta;
        entry.updated_ms = now_ms;
    }

    /// Records one observation in a histogram series, remembering `trace_id` as the bucket's exemplar.
    pub fn observe(&mut self, family: FamilyId, labels: &[Label], value: f64, trace_id: TraceId, now_ms: i64) {
        let FamilyKind::Histogram { bounds, series } = &mut self.families[family.0].kind else {
            panic!("BUG: observe() on a counter family");
        };
        let entry = match series.get_mut(labels) {
            Some(entry) => entry,
            None => series.entry(labels.to_vec()).or_insert_with(|| HistogramSeries {
                buckets: vec![0; bounds.len() + 1],
                sum: 0.0,
                count: 0,
                exemplars: vec![None; bounds.len() + 1],
                updated_ms: now_ms,
                is_new: true,
            }),
        };
        let first = bounds.partition_point(|bound| *bound < value);
        for bucket in &mut entry.buckets[first..] {
            *bucket += 1;
        }
        entry.exemplars[first] = Some((trace_id, value));
        entry.sum += value;
        entry.count += 1;
        entry.updated_ms = now_ms;
    }

    /// Every active series' current value at `now_ms`, with metadata; series idle since before `stale_before_ms`
    /// are dropped first.
    pub fn collect(&mut self, now_ms: i64, stale_before_ms: i64) -> WriteBatch {
        let mut batch = WriteBatch::default();
        for family in &mut self.families {
            let metric_type = match family.kind {
                FamilyKind::Counter(_) => MetricType::Counter,
                FamilyKind::Histogram { .. } => MetricType::Histogram,
            };
            let family_name = family.name.strip_suffix("_total").unwrap_or(family.name);
            batch.metadata.push(MetricMetadata {
                metric_family: family_name.to_string(),
                metric_type,
                help: family.help.to_string(),
                unit: String::new(),
            });
            match &mut family.kind {
                FamilyKind::Counter(series) => {
                    series.retain(|_, entry| entry.updated_ms >= stale_before_ms);
                    for (labels, entry) in series.iter_mut() {
                        push_series(
                            &mut batch,
                            family.name,
                            labels,
                            None,
                            entry.value,
                            now_ms,
                            entry.is_new,
                            Vec::new(),
                        );
                        entry.is_new = false;
                    }
                }
                FamilyKind::Histogram { bounds, series } => {
                    series.retain(|_, entry| entry.updated_ms >= stale_before_ms);
                    let bucket_name = format!("{}_bucket", family.name);
                    let sum_name = format!("{}_sum", family.name);
                    let count_name = format!("{}_count", family.name);
                    for (labels, entry) in series.iter_mut() {
                        for (index, count) in entry.buckets.iter().enumerate() {
                            let le = bounds.get(index).map_or_else(|| "+Inf".to_string(), |bound| format_bound(*bound));
                            let exemplars = entry.exemplars[index]
                                .take()
                                .map(|(trace_id, value)| Exemplar {
                                    labels: Labels::from_sorted_unchecked(vec![Label::new(
                                        TRACE_ID_EXEMPLAR_LABEL,
                                        trace_id.to_hex(),
                                    )]),
                                    value,
                                    timestamp_ms: now_ms,
                                })
                                .into_iter()
                                .collect();
                            let le_label = Label::new("le", le);
                            push_series(
                                &mut batch,
                                &bucket_name,
                                labels,
                                Some(le_label),
                                *count as f64,
                                now_ms,
                                entry.is_new,
                                exemplars,
                            );
                        }
                        push_series(&mut batch, &sum_name, labels, None, entry.sum, now_ms, entry.is_new, Vec::new());
                        push_series(
                            &mut batch,
                            &count_name,
                            labels,
                            None,
                            entry.count as f64,
                            now_ms,
                            entry.is_new,
                            Vec::new(),
                        );
                        entry.is_new = false;
                    }
                }
            }
        }
        batch
    }

    /// Active series (histograms count each bucket, sum and count).
    pub fn active_series(&self) -> usize {
        self.families
            .iter()
            .map(|family| match &family.kind {
                FamilyKind::Counter(series) => series.len(),
                FamilyKind::Histogram { bounds, series } => series.len() * (bounds.len() + 3),
            })
            .sum()
    }
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`, which Tempo uses for `le`: shortest round-trip decimal, no exponent.
/// (Rust's `Display` for floats is the same: never an exponent.)
fn format_bound(bound: f64) -> String {
    bound.to_string()
}

#[allow(clippy::too_many_arguments)]
fn push_series(
    batch: &mut WriteBatch,
    name: &str,
    labels: &[Label],
    extra: Option<Label>,
    value: f64,
    now_ms: i64,
    is_new: bool,
    exemplars: Vec<Exemplar>,
) {
    let mut all: Vec<Label> = Vec::with_capacity(labels.len() + 2);
    all.push(Label::new(oxeye_model::METRIC_NAME_LABEL, name));
    all.extend(labels.iter().filter(|label| !label.value.is_empty()).cloned());
    all.extend(extra);
    all.sort_by(|a, b| a.name.cmp(&b.name));
    let mut samples = Vec::with_capacity(2);
    if is_new {
        samples.push(Sample::new(now_ms - 1, 0.0));
    }
    samples.push(Sample::new(now_ms, value));
    batch.series.push(TimeSeries { labels: Labels::from_sorted_unchecked(all), samples, exemplars });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_with_one_exemplar_per_bucket_and_new_series_start_at_zero() {
        let mut registry = Registry::default();
        let latency = registry.histogram("lat", "latency", &[0.1, 1.0]);
        let calls = registry.counter("calls_total", "calls");
        let labels = vec![Label::new("service", "api")];
        registry.observe(latency, &labels, 0.05, TraceId([1; 16]), 1_000);
        registry.observe(latency, &labels, 0.5, TraceId([2; 16]), 1_000);
        registry.observe(latency, &labels, 5.0, TraceId([3; 16]), 1_000);
        registry.add(calls, &labels, 3.0, 1_000);
        let batch = registry.collect(2_000, 0);
        let find = |name: &str, le: Option<&str>| {
            batch
                .series
                .iter()
                .find(|series| series.labels.metric_name() == Some(name) && series.labels.get("le") == le)
                .unwrap_or_else(|| panic!("{name} {le:?}"))
        };
        assert_eq!(find("lat_bucket", Some("0.1")).samples, vec![Sample::new(1_999, 0.0), Sample::new(2_000, 1.0)]);
        assert_eq!(find("lat_bucket", Some("1")).samples[1].value, 2.0);
        assert_eq!(find("lat_bucket", Some("+Inf")).samples[1].value, 3.0);
        assert_eq!(find("lat_count", None).samples[1].value, 3.0);
        assert_eq!(find("lat_sum", None).samples[1].value, 5.55);
        assert_eq!(find("calls_total", None).samples[1].value, 3.0);
        let exemplar = &find("lat_bucket", Some("1")).exemplars[0];
        assert_eq!(exemplar.labels.get("traceID"), Some(TraceId([2; 16]).to_hex().as_str()));
        assert_eq!(exemplar.value, 0.5);
        assert!(batch.metadata.iter().any(|m| m.metric_family == "calls" && m.metric_type == MetricType::Counter));

        // The next collection: no zero sample, exemplars not repeated; idle series go stale.
        registry.add(calls, &labels, 1.0, 3_000);
        let batch = registry.collect(4_000, 2_500);
        assert!(batch.series.iter().all(|series| series.labels.metric_name() == Some("calls_total")));
        assert_eq!(batch.series[0].samples, vec![Sample::new(4_000, 4.0)]);
        assert_eq!(registry.active_series(), 1);
    }
}
