//! The read interface of a logs store.
//!
//! A LogQL engine or a Loki API handler gets a [`LogsReader`] for one tenant per request. Selection is by stream
//! matchers and a time range, both honoured exactly; everything else a query filters on travels as
//! [`LogFilterHints`], which a store may use to skip blocks that cannot match (token bloom filters, the trace-id
//! index) but never to drop a row that could match — the engine applies every filter itself.

use std::ops::ControlFlow;

use oxeye_model::Labels;

use crate::{Matcher, ReadError};

/// The order a query wants rows in. A store may use it to visit newer data first for `Backward`; it does not
/// promise any order (the engine sorts).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Direction {
    Forward,
    #[default]
    Backward,
}

/// Conditions every returned row will be tested against by the engine, offered so the store can skip data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogFilterHints {
    /// Case-sensitive substrings every matching line contains (from `|= "…"` filters without `or`).
    pub line_contains: Vec<String>,
    /// Name/value pairs every matching row has, either as a stream label or as a structured-metadata field (from
    /// `| name="value"` filters with a non-empty value that come before any stage changing labels, such as
    /// `| trace_id="…"`).
    pub metadata_equals: Vec<(String, String)>,
}

/// What to scan: rows of streams matching every matcher with `start_ns <= timestamp < end_ns` (Loki's query
/// range: start inclusive, end exclusive).
#[derive(Clone, Debug)]
pub struct LogScanRequest {
    pub matchers: Vec<Matcher>,
    pub start_ns: i64,
    pub end_ns: i64,
    pub direction: Direction,
    pub hints: LogFilterHints,
}

/// A stream as seen during a scan: `id` is stable for the whole scan (and across scans of the same store), so an
/// engine can cache per-stream work by it.
#[derive(Clone, Copy, Debug)]
pub struct StreamRef<'a> {
    pub id: u64,
    pub labels: &'a Labels,
}

/// One stored row, borrowed from the store's buffers for the duration of a [`LogSink::row`] call.
#[derive(Clone, Copy, Debug)]
pub struct LogRow<'a> {
    pub timestamp_ns: i64,
    pub line: &'a str,
    /// Structured metadata as (name, value), in the order it was received.
    pub metadata: &'a [(&'a str, &'a str)],
}

/// Receives the rows of a scan. Rows of one stream may arrive in several runs (one per block and one for the
/// head), in no guaranteed order. Returning `Break` stops the scan early (for example when a limit is reached and
/// the engine knows no later row can matter).
pub trait LogSink {
    fn row(&mut self, stream: StreamRef<'_>, row: LogRow<'_>) -> ControlFlow<()>;
}

impl<F: FnMut(StreamRef<'_>, LogRow<'_>) -> ControlFlow<()>> LogSink for F {
    fn row(&mut self, stream: StreamRef<'_>, row: LogRow<'_>) -> ControlFlow<()> {
        self(stream, row)
    }
}

/// What a scan read, for the `stats` block of Loki responses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogScanStats {
    /// Storage units opened (head stream runs and block stream runs).
    pub chunks_opened: u64,
    /// Storage units skipped thanks to time bounds or filter hints.
    pub chunks_skipped: u64,
    /// Compressed bytes read.
    pub compressed_bytes: u64,
    /// Uncompressed line bytes handed to the sink (before the engine's filters).
    pub decompressed_bytes: u64,
    /// Rows handed to the sink.
    pub decompressed_lines: u64,
    /// Uncompressed structured-metadata bytes handed to the sink.
    pub structured_metadata_bytes: u64,
}

impl LogScanStats {
    pub fn add(&mut self, other: &LogScanStats) {
        self.chunks_opened += other.chunks_opened;
        self.chunks_skipped += other.chunks_skipped;
        self.compressed_bytes += other.compressed_bytes;
        self.decompressed_bytes += other.decompressed_bytes;
        self.decompressed_lines += other.decompressed_lines;
        self.structured_metadata_bytes += other.structured_metadata_bytes;
    }
}

/// Size of the data of one stream within a time range, as kept in the store's index (no rows are read).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamVolume {
    pub labels: Labels,
    pub entries: u64,
    /// Uncompressed bytes of lines and structured metadata.
    pub bytes: u64,
    /// Storage units (head runs, block stream runs) holding them.
    pub chunks: u64,
}

/// Read access to one tenant's logs.
pub trait LogsReader: Send + Sync {
    /// Hands every row of matching streams within the range to `sink`. An empty matcher list selects nothing.
    fn scan(&self, request: &LogScanRequest, sink: &mut dyn LogSink) -> Result<LogScanStats, ReadError>;

    /// Label sets of streams matching all matchers with data overlapping `[start_ns, end_ns)`, sorted. An empty
    /// matcher list selects every stream.
    fn streams(&self, matchers: &[Matcher], start_ns: i64, end_ns: i64) -> Result<Vec<Labels>, ReadError>;

    /// Per-stream volume for streams matching all matchers (every stream if empty) within the range; data units
    /// that only partly overlap the range are counted whole (Loki's index stats are approximate the same way).
    fn volumes(&self, matchers: &[Matcher], start_ns: i64, end_ns: i64) -> Result<Vec<StreamVolume>, ReadError>;
}
