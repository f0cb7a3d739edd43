//! Delta-to-cumulative conversion state for OTLP sums and histograms.
//!
//! Prometheus stores cumulative counters only; with `--enable-feature=otlp-deltatocumulative` it runs the
//! OpenTelemetry Collector's `deltatocumulative` processor in front of its translator. [`DeltaToCumulative`] plays
//! that role here: the caller owns one per tenant, passes it to every translation, and each delta point is added to
//! the running total of its stream.
//!
//! Choices (following the OTel data model's "Sums: Delta-to-Cumulative" section and the Collector processor):
//! - A stream is identified by its translated Prometheus series labels (for a histogram, its labels without `le`
//!   and with the family name), so two OTLP streams that translate to the same series share one total, just as
//!   they would share one series in storage.
//! - A point whose timestamp is not after the stream's last one is refused as out of order (it cannot be placed
//!   in a running total); the caller counts it with reason `out_of_order`.
//! - A point whose window starts before the stream's last timestamp overlaps data already counted: it means the
//!   producer restarted or two writers share the stream, so the total restarts from this point (a counter reset,
//!   which `rate()` handles). A point starting exactly at the last timestamp continues the stream; one starting
//!   later leaves a gap whose increments were never received, and is added anyway so the counter stays monotonic.
//!   An unknown start time (0) continues the stream.
//! - A histogram whose bucket boundaries change restarts its total.
//! - The state is bounded: at most `max_streams` streams (the least recently updated is forgotten first), and a
//!   stream not updated for `max_idle_seconds` is forgotten. A forgotten stream that comes back starts from its
//!   next delta, which downstream sees as a counter reset.
//! - A point flagged "no recorded value" ends the stream: its state is forgotten and a stale marker written.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use oxeye_model::Labels;

use super::config::DeltaToCumulativeConfig;

/// Running totals of delta streams, owned by the caller (one per tenant) and passed to
/// [`translate_metrics`](super::translate_metrics). See the module documentation for the rules.
#[derive(Debug)]
pub struct DeltaToCumulative {
    max_streams: usize,
    max_idle: Duration,
    streams: HashMap<Labels, Stream>,
    /// Streams ordered from least to most recently updated, by update sequence number.
    by_recency: BTreeMap<u64, Labels>,
    next_sequence: u64,
}

#[derive(Debug)]
struct Stream {
    sequence: u64,
    last_update: Instant,
    last_time_ns: u64,
    totals: Totals,
}

/// The running total of one stream.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Totals {
    Number(f64),
    Histogram(HistogramTotals),
}

/// A histogram's running totals (per-bucket counts, not cumulative across buckets).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct HistogramTotals {
    pub explicit_bounds: Vec<f64>,
    pub bucket_counts: Vec<u64>,
    pub count: u64,
    pub sum: Option<f64>,
}

/// A delta point that is not after the last one of its stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OutOfOrder {
    pub last_time_ns: u64,
}

impl DeltaToCumulative {
    pub fn new(config: &DeltaToCumulativeConfig) -> Self {
        Self {
            max_streams: config.max_streams.max(1),
            max_idle: Duration::from_secs(config.max_idle_seconds),
            streams: HashMap::new(),
            by_recency: BTreeMap::new(),
            next_sequence: 0,
        }
    }

    /// The number of streams tracked.
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    /// Forgets streams not updated within the idle limit before `now`.
    pub(crate) fn expire_idle(&mut self, now: Instant) {
        while let Some((&sequence, key)) = self.by_recency.first_key_value() {
            let Some(stream) = self.streams.get(key) else {
                debug_assert!(false, "BUG: recency index names an unknown stream");
                self.by_recency.remove(&sequence);
                continue;
            };
            if now.saturating_duration_since(stream.last_update) <= self.max_idle {
                break;
            }
            if let Some(key) = self.by_recency.remove(&sequence) {
                self.streams.remove(&key);
            }
        }
    }

    /// Forgets one stream (it ended with a "no recorded value" point).
    pub(crate) fn forget(&mut self, key: &Labels) {
        if let Some(stream) = self.streams.remove(key) {
            self.by_recency.remove(&stream.sequence);
        }
    }

    /// Adds a delta value to its stream and returns the cumulative total.
    pub(crate) fn add_number(
        &mut self,
        key: &Labels,
        start_time_ns: u64,
        time_ns: u64,
        delta: f64,
        now: Instant,
    ) -> Result<f64, OutOfOrder> {
        match self.accumulate(key, start_time_ns, time_ns, Totals::Number(delta), now)? {
            Totals::Number(total) => Ok(*total),
            Totals::Histogram(_) => {
                unreachable!("BUG: a number delta accumulated into a histogram")
            }
        }
    }

    /// Adds a delta histogram to its stream and returns the cumulative histogram.
    pub(crate) fn add_histogram(
        &mut self,
        key: &Labels,
        start_time_ns: u64,
        time_ns: u64,
        delta: HistogramTotals,
        now: Instant,
    ) -> Result<HistogramTotals, OutOfOrder> {
        match self.accumulate(key, start_time_ns, time_ns, Totals::Histogram(delta), now)? {
            Totals::Histogram(total) => Ok(total.clone()),
            Totals::Number(_) => unreachable!("BUG: a histogram delta accumulated into a number"),
        }
    }

    fn accumulate(
        &mut self,
        key: &Labels,
        start_time_ns: u64,
        time_ns: u64,
        delta: Totals,
        now: Instant,
    ) -> Result<&Totals, OutOfOrder> {
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        if let Some(stream) = self.streams.get_mut(key) {
            if time_ns <= stream.last_time_ns {
                return Err(OutOfOrder { last_time_ns: stream.last_time_ns });
            }
            let overlaps_counted_data = start_time_ns != 0 && start_time_ns < stream.last_time_ns;
            if overlaps_counted_data || !add_totals(&mut stream.totals, &delta) {
                stream.totals = delta;
            }
            stream.last_time_ns = time_ns;
            stream.last_update = now;
            self.by_recency.remove(&stream.sequence);
            stream.sequence = sequence;
            self.by_recency.insert(sequence, key.clone());
        } else {
            if self.streams.len() >= self.max_streams
                && let Some((_, evicted)) = self.by_recency.pop_first()
            {
                self.streams.remove(&evicted);
            }
            let stream = Stream { sequence, last_update: now, last_time_ns: time_ns, totals: delta };
            self.streams.insert(key.clone(), stream);
            self.by_recency.insert(sequence, key.clone());
        }
        match self.streams.get(key) {
            Some(stream) => Ok(&stream.totals),
            None => unreachable!("BUG: stream vanished right after being updated"),
        }
    }
}

/// Adds `delta` into `total`; false if they cannot be added (different kinds or bucket layouts).
fn add_totals(total: &mut Totals, delta: &Totals) -> bool {
    match (total, delta) {
        (Totals::Number(total), Totals::Number(delta)) => {
            *total += delta;
            true
        }
        (Totals::Histogram(total), Totals::Histogram(delta)) => {
            if total.explicit_bounds != delta.explicit_bounds || total.bucket_counts.len() != delta.bucket_counts.len()
            {
                return false;
            }
            for (total_count, delta_count) in total.bucket_counts.iter_mut().zip(&delta.bucket_counts) {
                *total_count = total_count.saturating_add(*delta_count);
            }
            total.count = total.count.saturating_add(delta.count);
            total.sum = match (total.sum, delta.sum) {
                (Some(total_sum), Some(delta_sum)) => Some(total_sum + delta_sum),
                _ => None,
            };
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Labels {
        Labels::from_pairs([("__name__", name)]).unwrap()
    }

    fn state(max_streams: usize, max_idle_seconds: u64) -> DeltaToCumulative {
        DeltaToCumulative::new(&DeltaToCumulativeConfig { enabled: true, max_streams, max_idle_seconds })
    }

    #[test]
    fn sums_accumulate_and_restart_on_overlap() {
        let mut deltas = state(10, 300);
        let now = Instant::now();
        let a = key("a");
        // (start, time, delta) → expected total
        let mut f = |start: u64, time: u64, delta: f64, want: Result<f64, OutOfOrder>| {
            assert_eq!(deltas.add_number(&a, start, time, delta, now), want, "start={start} time={time}");
        };
        f(0, 10, 1.0, Ok(1.0)); // first point
        f(10, 20, 2.0, Ok(3.0)); // contiguous
        f(30, 40, 4.0, Ok(7.0)); // gap: added anyway
        f(0, 50, 1.0, Ok(8.0)); // unknown start continues
        f(45, 60, 5.0, Ok(5.0)); // overlaps counted data: restart
        f(60, 60, 1.0, Err(OutOfOrder { last_time_ns: 60 })); // not after the last point
        f(60, 55, 1.0, Err(OutOfOrder { last_time_ns: 60 }));
        f(60, 70, 1.0, Ok(6.0));
        assert_eq!(deltas.len(), 1);
    }

    #[test]
    fn histograms_accumulate_per_bucket_and_restart_on_new_bounds() {
        let mut deltas = state(10, 300);
        let now = Instant::now();
        let h = key("h");
        let histogram = |bounds: &[f64], counts: &[u64], sum: Option<f64>| HistogramTotals {
            explicit_bounds: bounds.to_vec(),
            bucket_counts: counts.to_vec(),
            count: counts.iter().sum(),
            sum,
        };
        let first = deltas.add_histogram(&h, 0, 10, histogram(&[1.0], &[1, 2], Some(3.0)), now).unwrap();
        assert_eq!(first, histogram(&[1.0], &[1, 2], Some(3.0)));
        let second = deltas.add_histogram(&h, 10, 20, histogram(&[1.0], &[0, 5], Some(7.0)), now).unwrap();
        assert_eq!(second, histogram(&[1.0], &[1, 7], Some(10.0)));
        let without_sum = deltas.add_histogram(&h, 20, 30, histogram(&[1.0], &[1, 0], None), now).unwrap();
        assert_eq!(without_sum, histogram(&[1.0], &[2, 7], None));
        let new_layout = deltas.add_histogram(&h, 30, 40, histogram(&[1.0, 2.0], &[1, 1, 1], Some(2.0)), now).unwrap();
        assert_eq!(new_layout, histogram(&[1.0, 2.0], &[1, 1, 1], Some(2.0)));
    }

    #[test]
    fn least_recently_updated_stream_is_evicted() {
        let mut deltas = state(2, 300);
        let now = Instant::now();
        deltas.add_number(&key("a"), 0, 1, 1.0, now).unwrap();
        deltas.add_number(&key("b"), 0, 1, 1.0, now).unwrap();
        deltas.add_number(&key("a"), 1, 2, 1.0, now).unwrap(); // `a` is now the most recent
        deltas.add_number(&key("c"), 0, 1, 1.0, now).unwrap(); // evicts `b`
        assert_eq!(deltas.len(), 2);
        assert_eq!(deltas.add_number(&key("a"), 2, 3, 1.0, now), Ok(3.0));
        assert_eq!(deltas.add_number(&key("b"), 1, 2, 10.0, now), Ok(10.0), "b restarts after eviction");
    }

    #[test]
    fn idle_streams_expire_and_forget_removes() {
        let mut deltas = state(10, 60);
        let start = Instant::now();
        deltas.add_number(&key("old"), 0, 1, 1.0, start).unwrap();
        deltas.add_number(&key("fresh"), 0, 1, 1.0, start + Duration::from_secs(50)).unwrap();
        deltas.expire_idle(start + Duration::from_secs(60));
        assert_eq!(deltas.len(), 2, "exactly at the limit is still kept");
        deltas.expire_idle(start + Duration::from_secs(61));
        assert_eq!(deltas.len(), 1);
        assert_eq!(deltas.add_number(&key("fresh"), 1, 2, 1.0, start + Duration::from_secs(62)), Ok(2.0));
        deltas.forget(&key("fresh"));
        assert!(deltas.is_empty());
    }
}
