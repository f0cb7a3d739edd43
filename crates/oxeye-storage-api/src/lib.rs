//! The narrow interface between storage engines and their readers.
//!
//! A query engine or an API handler is handed a [`MetricsReader`] for one tenant per request and never sees a
//! concrete store, so an engine can be tested on an in-memory store and a store without a query language (the
//! shape of Prometheus's `storage.Querier`). Filters travel as a [`SelectRequest`]; a store must honour the
//! matchers and the time range exactly, and may use the `limit` hint to stop early.

mod logs;
mod matcher;
mod traces;

pub use logs::{
    Direction, LogFilterHints, LogRow, LogScanRequest, LogScanStats, LogSink, LogsReader, StreamRef, StreamVolume,
};
pub use matcher::{MatchOp, Matcher, MatcherError};
pub use traces::{
    ServiceOperations, TagNames, TagScope, TraceFilterHints, TraceScanRequest, TraceScanStats, TraceSink, TraceTerm,
    TracesReader,
};

use oxeye_model::{Exemplar, Labels, MetricMetadata, Sample};

/// What to select: series matching every matcher, with samples in `[start_ms, end_ms]` (both inclusive, as in
/// Prometheus's `Select` hints).
#[derive(Clone, Debug)]
pub struct SelectRequest {
    pub matchers: Vec<Matcher>,
    pub start_ms: i64,
    pub end_ms: i64,
    /// Stop after this many series (0 = no limit). A hint: a store may return more; callers truncate.
    pub limit: usize,
}

impl SelectRequest {
    pub fn new(matchers: Vec<Matcher>, start_ms: i64, end_ms: i64) -> Self {
        Self { matchers, start_ms, end_ms, limit: 0 }
    }
}

/// One series and its samples within the requested range, sorted by timestamp without duplicates.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesSamples {
    pub labels: Labels,
    pub samples: Vec<Sample>,
}

/// One series and its exemplars within the requested range, sorted by timestamp.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesExemplars {
    pub labels: Labels,
    pub exemplars: Vec<Exemplar>,
}

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("storage read failed: {0}")]
    Storage(String),
    #[error("query would load more than {limit} samples")]
    TooManySamples { limit: usize },
}

/// Read access to one tenant's metrics.
///
/// Series are returned sorted by labels. A series is returned by `select_series` only if it has at least one
/// sample in the range; `series_labels`, `label_names` and `label_values` consider a series present in the range
/// if it has data overlapping it (like Prometheus, they may be answered from index time bounds).
pub trait MetricsReader: Send + Sync {
    /// Series matching all matchers with their samples in the range.
    fn select_series(&self, request: &SelectRequest) -> Result<Vec<SeriesSamples>, ReadError>;

    /// Label sets of series matching all matchers (an empty matcher list selects nothing).
    fn series_labels(&self, request: &SelectRequest) -> Result<Vec<Labels>, ReadError>;

    /// Sorted label names of series matching the matchers (all series if `matchers` is empty).
    fn label_names(&self, request: &SelectRequest) -> Result<Vec<String>, ReadError>;

    /// Sorted values of `name` over series matching the matchers (all series if `matchers` is empty).
    fn label_values(&self, name: &str, request: &SelectRequest) -> Result<Vec<String>, ReadError>;

    /// Exemplars of matching series within the range.
    fn select_exemplars(&self, request: &SelectRequest) -> Result<Vec<SeriesExemplars>, ReadError>;

    /// Metric metadata, optionally for one metric family, at most `limit` families (0 = all).
    fn metadata(&self, metric: Option<&str>, limit: usize) -> Result<Vec<MetricMetadata>, ReadError>;
}
