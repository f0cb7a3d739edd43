//! A patterns request against a [`LogsReader`]: the newest matching lines are kept in a bounded heap during the
//! scan, then replayed stream by stream in time order into a [`PatternMiner`].

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};

use oxeye_storage_api::{Direction, LogFilterHints, LogRow, LogScanRequest, LogsReader, Matcher, ReadError, StreamRef};

use super::samples::SAMPLE_INTERVAL_MS;
use super::{EntryText, LEVEL_LABEL, PatternMiner, PatternSeries, level_index};

/// Most lines mined per request (the newest ones).
pub const DEFAULT_MAX_LINES: usize = 20_000;
/// Most text kept for mining per request, in bytes (lines are at most [`super::MAX_LINE_LENGTH`] bytes once
/// reduced, so at least ~5,600 lines fit).
pub const DEFAULT_MAX_BYTES: usize = 16 << 20;
/// Bookkeeping bytes counted per kept line besides its text.
const LINE_OVERHEAD_BYTES: usize = std::mem::size_of::<KeptLine>();

/// What to mine: streams matching `matchers`, entries in `[start_ns, end_ns]`, counted per `step_ns`.
#[derive(Clone, Debug)]
pub struct PatternQuery {
    pub matchers: Vec<Matcher>,
    pub start_ns: i64,
    pub end_ns: i64,
    pub step_ns: i64,
    /// Most lines mined (the newest); [`DEFAULT_MAX_LINES`] unless testing.
    pub max_lines: usize,
    /// Most bytes of text kept for mining; [`DEFAULT_MAX_BYTES`] unless testing.
    pub max_bytes: usize,
}

impl PatternQuery {
    /// A query with the default bounds.
    pub fn new(matchers: Vec<Matcher>, start_ns: i64, end_ns: i64, step_ns: i64) -> Self {
        PatternQuery { matchers, start_ns, end_ns, step_ns, max_lines: DEFAULT_MAX_LINES, max_bytes: DEFAULT_MAX_BYTES }
    }
}

/// The patterns found and how many lines they come from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MinedPatterns {
    pub series: Vec<PatternSeries>,
    /// Rows the scan handed over.
    pub rows_read: u64,
    /// Lines mined (the newest `rows_read` within the bounds).
    pub lines_mined: usize,
}

/// A line kept for mining, ordered by time then by arrival.
#[derive(Debug)]
struct KeptLine {
    timestamp_ns: i64,
    sequence: u64,
    stream_id: u64,
    level: usize,
    text: EntryText,
}

impl KeptLine {
    fn key(&self) -> (i64, u64) {
        (self.timestamp_ns, self.sequence)
    }
}

impl PartialEq for KeptLine {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for KeptLine {}

impl PartialOrd for KeptLine {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for KeptLine {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// The newest lines seen, within a line count and a byte budget.
struct NewestLines {
    heap: BinaryHeap<Reverse<KeptLine>>,
    bytes: usize,
    max_lines: usize,
    max_bytes: usize,
    rows_read: u64,
}

impl NewestLines {
    fn offer(&mut self, stream: StreamRef<'_>, row: LogRow<'_>) {
        self.rows_read += 1;
        if self.max_lines == 0 {
            return;
        }
        // Copy nothing for a line older than everything a full heap keeps.
        if self.heap.len() >= self.max_lines
            && let Some(Reverse(oldest)) = self.heap.peek()
            && row.timestamp_ns < oldest.timestamp_ns
        {
            return;
        }
        let level =
            row.metadata.iter().find(|(name, _)| *name == LEVEL_LABEL).map_or(0, |(_, value)| level_index(value));
        let text = EntryText::new(row.line);
        self.bytes += text.retained_bytes() + LINE_OVERHEAD_BYTES;
        self.heap.push(Reverse(KeptLine {
            timestamp_ns: row.timestamp_ns,
            sequence: self.rows_read,
            stream_id: stream.id,
            level,
            text,
        }));
        while self.heap.len() > self.max_lines || (self.bytes > self.max_bytes && self.heap.len() > 1) {
            let Some(Reverse(evicted)) = self.heap.pop() else { break };
            self.bytes -= evicted.text.retained_bytes() + LINE_OVERHEAD_BYTES;
        }
    }
}

/// `value` rounded up to a multiple of `multiple` (positive).
fn round_up(value: i64, multiple: i64) -> i64 {
    match value.rem_euclid(multiple) {
        0 => value,
        remainder => value.saturating_add(multiple - remainder),
    }
}

/// Mines the newest lines of the query's streams and returns their patterns, counted per step as Loki's querier
/// answers (see [`PatternMiner::series`]).
///
/// The range is taken as Loki's pattern querier takes it: `start` rounded down and `end` rounded up to the
/// millisecond, a step of at least 10 s, and counts from the 10 s buckets starting in `[start, end)`; so the lines
/// read are those of the buckets starting in that range. The scan stops early once `cancel` is set (the request
/// timed out or went away); what was read so far is mined.
pub fn query_patterns(
    reader: &dyn LogsReader,
    query: &PatternQuery,
    cancel: &AtomicBool,
) -> Result<MinedPatterns, ReadError> {
    const NS_PER_MS: i64 = 1_000_000;
    let start_ms = query.start_ns / NS_PER_MS;
    let end_ms = query.end_ns / NS_PER_MS + i64::from(query.end_ns % NS_PER_MS != 0);
    let step_ms = query.step_ns / NS_PER_MS;
    let scan_start_ns = round_up(start_ms, SAMPLE_INTERVAL_MS).saturating_mul(NS_PER_MS);
    let scan_end_ns = round_up(end_ms, SAMPLE_INTERVAL_MS).saturating_mul(NS_PER_MS);
    if scan_start_ns >= scan_end_ns || query.matchers.is_empty() {
        return Ok(MinedPatterns::default());
    }

    let mut newest = NewestLines {
        heap: BinaryHeap::new(),
        bytes: 0,
        max_lines: query.max_lines,
        max_bytes: query.max_bytes,
        rows_read: 0,
    };
    let request = LogScanRequest {
        matchers: query.matchers.clone(),
        start_ns: scan_start_ns,
        end_ns: scan_end_ns,
        direction: Direction::Backward,
        hints: LogFilterHints::default(),
    };
    reader.scan(&request, &mut |stream: StreamRef<'_>, row: LogRow<'_>| {
        if cancel.load(AtomicOrdering::Relaxed) {
            return ControlFlow::Break(());
        }
        newest.offer(stream, row);
        ControlFlow::Continue(())
    })?;

    let mut lines: Vec<KeptLine> = newest.heap.into_iter().map(|Reverse(line)| line).collect();
    lines.sort_unstable_by_key(|line| (line.stream_id, line.timestamp_ns, line.sequence));
    let mut miner = PatternMiner::new();
    for line in &lines {
        miner.train(line.stream_id, line.timestamp_ns, &line.text, line.level);
    }
    Ok(MinedPatterns {
        series: miner.series(start_ms, end_ms, step_ms),
        rows_read: newest.rows_read,
        lines_mined: lines.len(),
    })
}
