//! Log patterns for Loki's `/loki/api/v1/patterns` (Grafana Logs Drilldown): lines are grouped into templates
//! such as `<_> level=info msg="request done" duration=<_>` with Loki's Drain miner (`pkg/pattern/drain`), and
//! each template is counted per step.
//!
//! - [`PatternMiner`] learns patterns per stream and per level (the entry's `detected_level`, one of Loki's eight
//!   levels, `unknown` otherwise), as Loki's pattern ingester does: each stream's format is guessed from its first
//!   line and chooses its tokenizer (`tokenizer.rs`), each (stream, level) has its own Drain (`drain.rs`), and
//!   each pattern counts its lines in 10 s buckets (`samples.rs`). [`PatternMiner::series`] sums the counts of
//!   equal patterns of a level across streams into the requested step and keeps what Loki's querier keeps:
//!   patterns with at least [`MIN_PATTERN_COUNT`] lines, the [`MAX_PATTERNS`] most frequent.
//! - [`query_patterns`] runs a request against a [`LogsReader`].
//!
//! Deviation from Loki: Loki mines at ingest time, in pattern ingesters that see every line; oxeye mines at query
//! time over the newest lines the request selects (at most [`DEFAULT_MAX_LINES`] lines and
//! [`DEFAULT_MAX_BYTES`] of text), so a request is bounded in CPU and memory. When more lines match, older
//! buckets are missing from the counts, and templates are learnt from the selected lines only.
//!
//! [`LogsReader`]: oxeye_storage_api::LogsReader

mod drain;
mod query;
mod samples;
#[cfg(test)]
mod tests;
mod tokenizer;

use std::collections::{BTreeMap, HashMap};

pub use drain::MAX_CLUSTERS;
pub use query::{DEFAULT_MAX_BYTES, DEFAULT_MAX_LINES, MinedPatterns, PatternQuery, query_patterns};
pub use samples::{SAMPLE_INTERVAL_MS, Sample};
pub use tokenizer::{EntryText, LogFormat, MAX_LINE_LENGTH, PLACEHOLDER, detect_format};

use drain::Drain;

/// The structured-metadata field holding an entry's level.
pub const LEVEL_LABEL: &str = "detected_level";
/// Loki's log levels (`constants.LogLevels`); any other level is mined and reported as `unknown`.
pub const LEVELS: [&str; 8] = ["unknown", "debug", "info", "warn", "error", "fatal", "critical", "trace"];
/// Patterns with fewer lines in the requested range are not reported (Loki querier's `minClusterSize`).
pub const MIN_PATTERN_COUNT: i64 = 30;
/// Most patterns reported, the most frequent first (Loki querier's `maxPatterns`).
pub const MAX_PATTERNS: usize = 300;

/// A pattern of one level with its line counts, one sample per step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatternSeries {
    pub pattern: String,
    pub level: &'static str,
    pub samples: Vec<Sample>,
}

impl PatternSeries {
    /// Lines counted over all samples.
    pub fn total(&self) -> i64 {
        self.samples.iter().map(|sample| sample.count).sum()
    }
}

/// Index in [`LEVELS`] of an entry's level (case-insensitive); 0 (`unknown`) for anything else.
pub fn level_index(level: &str) -> usize {
    LEVELS.iter().position(|known| known.eq_ignore_ascii_case(level)).unwrap_or(0)
}

/// The Drains of one stream.
#[derive(Debug)]
struct StreamDrains {
    format: LogFormat,
    last_timestamp_ns: i64,
    by_level: [Option<Drain>; LEVELS.len()],
}

/// Learns the patterns of lines fed stream by stream in time order.
#[derive(Debug, Default)]
pub struct PatternMiner {
    streams: HashMap<u64, StreamDrains>,
}

impl PatternMiner {
    pub fn new() -> Self {
        PatternMiner::default()
    }

    /// Learns from one entry of the stream `stream_id` at level `LEVELS[level]`. The stream's format is guessed
    /// from its first entry. Entries older than the stream's newest so far are ignored, as Loki's pattern ingester
    /// does, so each stream's entries must come in time order.
    pub fn train(&mut self, stream_id: u64, timestamp_ns: i64, text: &EntryText, level: usize) {
        let stream = self.streams.entry(stream_id).or_insert_with(|| StreamDrains {
            format: text.format(),
            last_timestamp_ns: i64::MIN,
            by_level: Default::default(),
        });
        if timestamp_ns < stream.last_timestamp_ns {
            return;
        }
        stream.last_timestamp_ns = timestamp_ns;
        let format = stream.format;
        let level = if level < LEVELS.len() { level } else { 0 };
        stream.by_level[level].get_or_insert_with(|| Drain::new(format)).train(text, timestamp_ns);
    }

    /// The patterns with their counts in buckets starting in `[start_ms, end_ms)`, summed into `step_ms`-wide
    /// steps aligned on the Unix epoch (at least [`SAMPLE_INTERVAL_MS`]). Equal patterns of one level are summed
    /// across streams. Only patterns with at least [`MIN_PATTERN_COUNT`] lines are kept, the most frequent first
    /// (then by level and pattern), at most [`MAX_PATTERNS`].
    pub fn series(&self, start_ms: i64, end_ms: i64, step_ms: i64) -> Vec<PatternSeries> {
        let step_ms = step_ms.max(SAMPLE_INTERVAL_MS);
        let mut merged: BTreeMap<(usize, String), BTreeMap<i64, i64>> = BTreeMap::new();
        for stream in self.streams.values() {
            for (level, drain) in stream.by_level.iter().enumerate() {
                let Some(drain) = drain else { continue };
                for (pattern, cluster) in drain.patterns() {
                    let counts = merged.entry((level, pattern)).or_default();
                    cluster.samples.for_range(start_ms, end_ms, step_ms, &mut |sample| {
                        *counts.entry(sample.timestamp_ms).or_default() += sample.count;
                    });
                }
            }
        }
        let mut series: Vec<(i64, PatternSeries)> = merged
            .into_iter()
            .map(|((level, pattern), counts)| {
                let samples: Vec<Sample> =
                    counts.into_iter().map(|(timestamp_ms, count)| Sample { timestamp_ms, count }).collect();
                let series = PatternSeries { pattern, level: LEVELS[level], samples };
                (series.total(), series)
            })
            .filter(|(total, _)| *total >= MIN_PATTERN_COUNT)
            .collect();
        series.sort_by(|(total_a, a), (total_b, b)| {
            total_b.cmp(total_a).then_with(|| a.level.cmp(b.level)).then_with(|| a.pattern.cmp(&b.pattern))
        });
        series.truncate(MAX_PATTERNS);
        series.into_iter().map(|(_, series)| series).collect()
    }
}
