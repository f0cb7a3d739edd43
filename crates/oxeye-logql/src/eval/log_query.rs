//! Log queries: scan, pipeline, then Loki's `readStreams`.
//!
//! Entries are ordered by timestamp in the query's direction; equal timestamps are ordered by the stream's label
//! string (as Loki's merge iterator does when stream hashes are unavailable) and then by arrival order (reversed
//! for `backward`). Without an `interval` only the best `limit` entries are ever kept in memory, and an entry's line
//! is copied only once it makes the cut. With an `interval`, entries closer than the interval to the previously
//! returned one (in the query's direction) are skipped and do not count against `limit`.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::ops::ControlFlow;
use std::sync::Arc;

use oxeye_model::Label;
use oxeye_storage_api::{Direction, LogRow, LogScanRequest, StreamRef};

use super::{EntryLabels, QueryOutput, QueryStats, QueryValue, RangeParams, StreamEntry, StreamResult, label_string};
use crate::error::QueryError;
use crate::parser::ast::LogExpr;
use crate::parser::parse::to_storage_matcher;
use crate::pipeline::hints::derive_hints;
use crate::pipeline::labels::{Category, LabelBuffers, RowLabels};
use crate::pipeline::{Pipeline, Scratch};

/// An output label set with its sort key, shared by the entries that have it.
#[derive(Debug)]
pub(crate) struct OutputLabels {
    pub all: oxeye_model::Labels,
    pub display: String,
    pub categorized: Arc<EntryLabels>,
}

/// Interns label sets computed from rows by a key built in a reused buffer; rows of an unchanged stream skip the key
/// through a per-stream cache.
#[derive(Default)]
pub(crate) struct LabelInterner {
    by_stream: HashMap<u64, Arc<OutputLabels>>,
    by_key: HashMap<String, Arc<OutputLabels>>,
    key: String,
    pairs: Vec<(String, String, Category)>,
}

impl LabelInterner {
    pub(crate) fn intern(&mut self, stream: StreamRef<'_>, row: &RowLabels<'_>) -> Arc<OutputLabels> {
        let unmodified = !row.is_modified();
        if unmodified && let Some(found) = self.by_stream.get(&stream.id) {
            return found.clone();
        }
        self.key.clear();
        let mut count = 0;
        row.for_each(|name, value, _| {
            if count == self.pairs.len() {
                self.pairs.push((String::new(), String::new(), Category::Stream));
            }
            let slot = &mut self.pairs[count];
            slot.0.clear();
            slot.0.push_str(name);
            slot.1.clear();
            slot.1.push_str(value);
            count += 1;
        });
        let pairs = &mut self.pairs[..count];
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        // Empty values are dropped from output labels, so they must not split label sets either.
        for (name, value, _) in pairs.iter().filter(|(_, value, _)| !value.is_empty()) {
            self.key.push_str(name);
            self.key.push('\u{0}');
            self.key.push_str(value);
            self.key.push('\u{1}');
        }
        let interned = match self.by_key.get(&self.key) {
            Some(found) => found.clone(),
            None => {
                let built = Arc::new(build_output(row));
                self.by_key.insert(self.key.clone(), built.clone());
                built
            }
        };
        if unmodified {
            self.by_stream.insert(stream.id, interned.clone());
        }
        interned
    }
}

fn build_output(row: &RowLabels<'_>) -> OutputLabels {
    let (mut all, mut stream, mut metadata, mut parsed) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    row.for_each(|name, value, category| {
        let label = Label::new(name, value);
        all.push(label.clone());
        match category {
            Category::Stream => stream.push(label),
            Category::StructuredMetadata => metadata.push(label),
            Category::Parsed => parsed.push(label),
        }
    });
    let all = super::owned_labels(all);
    let display = label_string(&all);
    let categorized = Arc::new(EntryLabels {
        stream: super::owned_labels(stream),
        structured_metadata: super::owned_labels(metadata),
        parsed: super::owned_labels(parsed),
    });
    OutputLabels { all, display, categorized }
}

/// A kept entry.
struct Candidate {
    timestamp_ns: i64,
    labels: Arc<OutputLabels>,
    arrival: usize,
    line: String,
    forward: bool,
}

impl Candidate {
    /// Ordering in the query's direction: `Less` comes first.
    fn rank(&self, timestamp_ns: i64, labels: &OutputLabels, arrival: usize) -> Ordering {
        let by_time =
            if self.forward { self.timestamp_ns.cmp(&timestamp_ns) } else { timestamp_ns.cmp(&self.timestamp_ns) };
        let by_arrival = if self.forward { self.arrival.cmp(&arrival) } else { arrival.cmp(&self.arrival) };
        by_time.then_with(|| self.labels.display.cmp(&labels.display)).then(by_arrival)
    }
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Candidate {}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Candidate {
    /// Greater is worse (later in the direction), so a max-heap's top is the entry to evict.
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank(other.timestamp_ns, &other.labels, other.arrival)
    }
}

pub(super) fn evaluate(
    reader: &dyn oxeye_storage_api::LogsReader,
    log: &LogExpr,
    params: &RangeParams,
) -> Result<QueryOutput, QueryError> {
    let pipeline = Pipeline::compile(&log.stages, false, &[])?;
    let matchers = log.matchers.iter().map(to_storage_matcher).collect::<Result<Vec<_>, _>>()?;
    let request = LogScanRequest {
        matchers,
        start_ns: params.start_ns,
        end_ns: params.end_ns,
        direction: params.direction,
        hints: derive_hints(&log.stages),
    };
    let forward = params.direction == Direction::Forward;
    let limit = params.limit as usize;
    let bounded = params.interval_ns <= 0;
    let mut stats = QueryStats::default();
    let mut heap: BinaryHeap<Candidate> = BinaryHeap::new();
    let mut all: Vec<Candidate> = Vec::new();
    let mut interner = LabelInterner::default();
    let mut buffers = LabelBuffers::default();
    let mut scratch = Scratch::default();
    let mut key_scratch = String::new();
    let mut arrival = 0usize;
    // Read between the scans of time slices, while `sink` holds its borrows.
    let kept = std::cell::Cell::new(0usize);
    let matched = std::cell::Cell::new(0u64);
    let mut sink = |stream: StreamRef<'_>, row: LogRow<'_>| {
        let metadata_bytes: usize = row.metadata.iter().map(|(name, value)| name.len() + value.len()).sum();
        stats.total_lines_processed += 1;
        stats.total_bytes_processed += (row.line.len() + metadata_bytes) as u64;
        stats.total_structured_metadata_bytes_processed += metadata_bytes as u64;
        if limit == 0 {
            return ControlFlow::Continue(());
        }
        let mut labels = buffers.row(stream.labels);
        labels.add_structured_metadata(row.metadata, &mut key_scratch);
        let Some(line) = pipeline.process(row.timestamp_ns, row.line, &mut labels, &mut scratch) else {
            return ControlFlow::Continue(());
        };
        stats.total_post_filter_lines += 1;
        matched.set(matched.get() + 1);
        let output = interner.intern(stream, &labels);
        arrival += 1;
        if bounded && heap.len() == limit {
            let worst = heap.peek().map(|worst| worst.rank(row.timestamp_ns, &output, arrival));
            if worst != Some(Ordering::Greater) {
                return ControlFlow::Continue(());
            }
            heap.pop();
        }
        let candidate =
            Candidate { timestamp_ns: row.timestamp_ns, labels: output, arrival, line: line.to_string(), forward };
        if bounded {
            heap.push(candidate);
            kept.set(heap.len());
        } else {
            all.push(candidate)
        }
        ControlFlow::Continue(())
    };
    let mut store_stats = oxeye_storage_api::LogScanStats::default();
    if bounded && limit > 0 {
        // Newest (backward) or oldest (forward) time slices first; once `limit` entries are kept, every entry of a
        // later slice ranks behind all of them, so the rest of the range need not be read.
        let mut slices = TimeSlices::new(params.start_ns, params.end_ns, forward);
        let mut request = request;
        while let Some((slice_start, slice_end)) = slices.next_slice() {
            request.start_ns = slice_start;
            request.end_ns = slice_end;
            let before = matched.get();
            store_stats.add(&reader.scan(&request, &mut sink)?);
            if kept.get() >= limit {
                break;
            }
            slices.observe(matched.get() - before, limit - kept.get());
        }
    } else {
        store_stats.add(&reader.scan(&request, &mut sink)?);
    }
    stats.store.add(&store_stats);
    let mut selected = if bounded { heap.into_vec() } else { all };
    selected.sort();
    if !bounded {
        selected = thin_by_interval(selected, params.interval_ns, forward, limit);
    }
    selected.truncate(limit);
    stats.total_entries_returned = selected.len() as u64;
    Ok(QueryOutput { value: QueryValue::Streams(group_streams(selected)), stats, warnings: Vec::new() })
}

/// The slices of a limited log query's range, read from the end the query starts at (Loki splits queries by time
/// for the same reason). The first slice is 1/64 of the range (at least a minute); each next one is sized from the
/// matches the previous slices yielded per nanosecond to fill what is still missing, with a margin, at least
/// doubling and at most the rest of the range. A query whose matches are rare therefore reads the rest in one or
/// two more scans, so a page is decoded at most a few times.
struct TimeSlices {
    forward: bool,
    /// The part of the range not read yet: `[low, high)`.
    low: i64,
    high: i64,
    next_len: i64,
    read_ns: i64,
    matched: u64,
}

impl TimeSlices {
    const FIRST_FRACTION: i64 = 64;
    const MIN_FIRST_NS: i64 = 60_000_000_000;

    fn new(start_ns: i64, end_ns: i64, forward: bool) -> Self {
        let range = end_ns.saturating_sub(start_ns).max(0);
        let first = (range / Self::FIRST_FRACTION).max(Self::MIN_FIRST_NS);
        Self { forward, low: start_ns, high: end_ns, next_len: first, read_ns: 0, matched: 0 }
    }

    fn next_slice(&mut self) -> Option<(i64, i64)> {
        if self.low >= self.high {
            return None;
        }
        let len = self.next_len.min(self.high - self.low);
        let slice = if self.forward {
            let slice = (self.low, self.low + len);
            self.low += len;
            slice
        } else {
            let slice = (self.high - len, self.high);
            self.high -= len;
            slice
        };
        self.read_ns += len;
        Some(slice)
    }

    /// Records what the last slice yielded and sizes the next one to find `missing` more entries.
    fn observe(&mut self, matched: u64, missing: usize) {
        self.matched += matched;
        let doubled = self.next_len.saturating_mul(2);
        self.next_len = if self.matched == 0 {
            i64::MAX
        } else {
            let per_ns = self.matched as f64 / self.read_ns.max(1) as f64;
            let wanted = (missing as f64 * 2.0 / per_ns).min(i64::MAX as f64) as i64;
            wanted.max(doubled)
        };
    }
}

/// Loki's `interval` rule: an entry is returned when it is at least `interval` after (forward) or before (backward)
/// the previously returned one.
fn thin_by_interval(sorted: Vec<Candidate>, interval_ns: i64, forward: bool, limit: usize) -> Vec<Candidate> {
    let mut out = Vec::new();
    let mut last: Option<i64> = None;
    for candidate in sorted {
        if out.len() >= limit {
            break;
        }
        let keep = match last {
            None => true,
            Some(last) if forward => candidate.timestamp_ns >= last.saturating_add(interval_ns),
            Some(last) => candidate.timestamp_ns <= last.saturating_sub(interval_ns),
        };
        if keep {
            last = Some(candidate.timestamp_ns);
            out.push(candidate);
        }
    }
    out
}

/// Groups entries (already in direction order) by label set; streams sorted by their label string.
fn group_streams(selected: Vec<Candidate>) -> Vec<StreamResult> {
    let mut streams: Vec<(Arc<OutputLabels>, Vec<StreamEntry>)> = Vec::new();
    let mut index_of: HashMap<*const OutputLabels, usize> = HashMap::new();
    for (order, candidate) in selected.into_iter().enumerate() {
        let entry = StreamEntry {
            timestamp_ns: candidate.timestamp_ns,
            line: candidate.line,
            labels: candidate.labels.categorized.clone(),
            order,
        };
        let key = Arc::as_ptr(&candidate.labels);
        match index_of.get(&key) {
            Some(&index) => streams[index].1.push(entry),
            None => {
                index_of.insert(key, streams.len());
                streams.push((candidate.labels, vec![entry]));
            }
        }
    }
    streams.sort_by(|a, b| a.0.display.cmp(&b.0.display));
    streams.into_iter().map(|(labels, entries)| StreamResult { labels: labels.all.clone(), entries }).collect()
}
