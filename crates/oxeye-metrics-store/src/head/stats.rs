//! Cardinality statistics of the head, for Prometheus's `/api/v1/status/tsdb`.
//!
//! Computed from the inverted index the way Prometheus's `MemPostings.Stats` computes them: per label name the
//! number of values, per `name=value` pair and per metric name the number of series, each list cut to its top
//! `limit` entries by count. Prometheus breaks ties in map order (at random); here ties are broken by name, so the
//! answer is deterministic.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::Head;

/// The label whose values are metric names.
const METRIC_NAME: &str = "__name__";

/// Bytes the head spends per series carrying a label, besides the interned strings: two `u32` symbol ids in the
/// series' label list and one `u32` in the label pair's postings list.
const BYTES_PER_LABEL_REFERENCE: u64 = 12;

/// Statistics of one tenant's head. Names and counts in each list are sorted by count, largest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeadStats {
    /// Series in the head.
    pub num_series: u64,
    /// Distinct `name=value` pairs in the index.
    pub num_label_pairs: u64,
    /// Sample chunks in the head, the open one of each series included.
    pub chunk_count: u64,
    /// Oldest sample timestamp in the head, `i64::MAX` when it is empty (as Prometheus reports an empty head).
    pub min_time_ms: i64,
    /// Newest sample timestamp in the head, `i64::MIN` when it is empty.
    pub max_time_ms: i64,
    /// Series per metric name.
    pub series_count_by_metric_name: Vec<(String, u64)>,
    /// Distinct values per label name.
    pub label_value_count_by_label_name: Vec<(String, u64)>,
    /// Memory per label name: its name and value strings, each held once by the head's symbol table, plus
    /// 12 bytes per series carrying the label (two `u32` symbol ids in the series, one in the postings list).
    /// Prometheus reports its own memory model here; this is oxeye's.
    pub memory_in_bytes_by_label_name: Vec<(String, u64)>,
    /// Series per `name=value` pair.
    pub series_count_by_label_value_pair: Vec<(String, u64)>,
}

/// The `limit` entries with the largest counts, ties broken by the smaller key.
struct TopN<K: Ord> {
    limit: usize,
    /// A min-heap of the best entries so far: its top is the entry to evict next.
    heap: BinaryHeap<Reverse<(u64, Reverse<K>)>>,
}

impl<K: Ord> TopN<K> {
    fn new(limit: usize) -> Self {
        Self { limit, heap: BinaryHeap::with_capacity(limit.saturating_add(1).min(1 << 16)) }
    }

    fn push(&mut self, key: K, count: u64) {
        if self.limit == 0 {
            return;
        }
        self.heap.push(Reverse((count, Reverse(key))));
        if self.heap.len() > self.limit {
            self.heap.pop();
        }
    }

    /// Entries by count, largest first, then by key.
    fn into_sorted(self, render: impl Fn(K) -> String) -> Vec<(String, u64)> {
        // `into_sorted_vec` is ascending in `Reverse(rank)`, i.e. descending in rank.
        self.heap.into_sorted_vec().into_iter().map(|Reverse((count, Reverse(key)))| (render(key), count)).collect()
    }
}

impl Head {
    /// Cardinality statistics with every list cut to its top `limit` entries (Prometheus's default is 10).
    pub fn stats(&self, limit: usize) -> HeadStats {
        let mut metrics = TopN::new(limit);
        let mut value_counts = TopN::new(limit);
        let mut memory = TopN::new(limit);
        let mut pairs = TopN::new(limit);
        let mut num_label_pairs = 0u64;
        for (name_id, values) in &self.postings {
            let name = self.symbols.resolve(*name_id);
            let mut live_values = 0u64;
            let mut bytes = name.len() as u64;
            for (value_id, ids) in values {
                if ids.is_empty() {
                    continue;
                }
                let value = self.symbols.resolve(*value_id);
                let series = ids.len() as u64;
                live_values += 1;
                bytes += value.len() as u64 + series * BYTES_PER_LABEL_REFERENCE;
                if name == METRIC_NAME {
                    metrics.push(value, series);
                }
                pairs.push((name, value), series);
            }
            if live_values == 0 {
                continue;
            }
            num_label_pairs += live_values;
            value_counts.push(name, live_values);
            memory.push(name, bytes);
        }
        let chunk_count = self.series.values().map(|s| s.chunks.len() as u64 + u64::from(s.open.is_some())).sum();
        let empty = self.series.is_empty();
        HeadStats {
            num_series: self.series.len() as u64,
            num_label_pairs,
            chunk_count,
            min_time_ms: self.min_time().unwrap_or(i64::MAX),
            max_time_ms: if empty { i64::MIN } else { self.max_t },
            series_count_by_metric_name: metrics.into_sorted(str::to_string),
            label_value_count_by_label_name: value_counts.into_sorted(str::to_string),
            memory_in_bytes_by_label_name: memory.into_sorted(str::to_string),
            series_count_by_label_value_pair: pairs.into_sorted(|(name, value)| format!("{name}={value}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use oxeye_model::Labels;

    use super::*;

    const HOUR: i64 = 3_600_000;

    fn add(head: &mut Head, pairs: &[(&str, &str)], timestamp: i64) {
        let labels = Labels::from_pairs(pairs.iter().copied()).unwrap();
        let id = head.lookup(&labels).unwrap_or_else(|| head.create(&labels, None));
        head.apply_sample(id, timestamp, 1.0);
    }

    #[test]
    fn stats_count_the_index_like_prometheus() {
        let mut head = Head::new(120, 2 * HOUR);
        let empty = head.stats(10);
        assert_eq!((empty.num_series, empty.min_time_ms, empty.max_time_ms), (0, i64::MAX, i64::MIN));
        assert!(empty.series_count_by_label_value_pair.is_empty());

        add(&mut head, &[("__name__", "up"), ("job", "api"), ("instance", "a")], 1000);
        add(&mut head, &[("__name__", "up"), ("job", "api"), ("instance", "b")], 2000);
        add(&mut head, &[("__name__", "up"), ("job", "db"), ("instance", "a")], 3000);
        add(&mut head, &[("__name__", "http_requests_total"), ("job", "api")], 4000);
        let stats = head.stats(10);
        assert_eq!(stats.num_series, 4);
        // __name__: up, http_requests_total; job: api, db; instance: a, b.
        assert_eq!(stats.num_label_pairs, 6);
        assert_eq!(stats.chunk_count, 4);
        assert_eq!((stats.min_time_ms, stats.max_time_ms), (1000, 4000));
        let owned = |list: &[(&str, u64)]| list.iter().map(|(n, c)| (n.to_string(), *c)).collect::<Vec<_>>();
        assert_eq!(stats.series_count_by_metric_name, owned(&[("up", 3), ("http_requests_total", 1)]));
        assert_eq!(stats.label_value_count_by_label_name, owned(&[("__name__", 2), ("instance", 2), ("job", 2)]));
        assert_eq!(
            stats.series_count_by_label_value_pair,
            owned(&[("__name__=up", 3), ("job=api", 3), ("instance=a", 2), ("__name__=http_requests_total", 1)])
                .into_iter()
                .chain(owned(&[("instance=b", 1), ("job=db", 1)]))
                .collect::<Vec<_>>()
        );
        // job: "job" + "api" + "db" + 4 series × 12 bytes.
        let job_bytes = stats.memory_in_bytes_by_label_name.iter().find(|(n, _)| n == "job").map(|(_, b)| *b);
        assert_eq!(job_bytes, Some(3 + 3 + 2 + 4 * BYTES_PER_LABEL_REFERENCE));

        let top = head.stats(2);
        assert_eq!(top.series_count_by_label_value_pair, owned(&[("__name__=up", 3), ("job=api", 3)]));
        assert_eq!(top.num_label_pairs, 6, "the limit cuts the lists, not the totals");
        assert!(head.stats(0).series_count_by_metric_name.is_empty());
    }
}
