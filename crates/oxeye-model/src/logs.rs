//! Log records: streams of timestamped lines.
//!
//! The model follows Loki's: a stream is identified by a label set (the same [`Labels`] type as a metric series,
//! without `__name__`), and carries entries, each a nanosecond timestamp, a line and optional structured metadata
//! (name/value pairs that are stored and filterable but do not identify the stream). OTLP log records are mapped
//! into this shape by `oxeye-ingest` the way Loki 3 maps them (identifying resource attributes become stream
//! labels, everything else structured metadata).

use crate::{Label, Labels};

/// Structured-metadata key under which a record's trace id is kept (lowercase hex), as Loki's OTLP receiver does.
pub const TRACE_ID_METADATA: &str = "trace_id";
/// Structured-metadata key under which a record's span id is kept (lowercase hex).
pub const SPAN_ID_METADATA: &str = "span_id";

/// One log entry of a stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogEntry {
    /// Nanoseconds since the Unix epoch.
    pub timestamp_ns: i64,
    pub line: String,
    /// Structured metadata in the order it was received; names are unique within an entry.
    pub metadata: Vec<Label>,
}

impl LogEntry {
    pub fn new(timestamp_ns: i64, line: impl Into<String>) -> Self {
        Self { timestamp_ns, line: line.into(), metadata: Vec::new() }
    }

    /// The value of a structured-metadata field.
    pub fn metadata_value(&self, name: &str) -> Option<&str> {
        self.metadata.iter().find(|label| label.name == name).map(|label| label.value.as_str())
    }

    /// Bytes this entry counts for in limits and statistics: the line plus metadata names and values (Loki counts
    /// structured metadata bytes separately; the sum is what a rate limit charges).
    pub fn size_bytes(&self) -> usize {
        self.line.len() + self.metadata.iter().map(|label| label.name.len() + label.value.len()).sum::<usize>()
    }
}

/// Entries of one stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogStream {
    pub labels: Labels,
    pub entries: Vec<LogEntry>,
}

/// What one push request carries, ready for a logs store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogBatch {
    pub streams: Vec<LogStream>,
}

impl LogBatch {
    pub fn entry_count(&self) -> usize {
        self.streams.iter().map(|stream| stream.entries.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.streams.iter().all(|stream| stream.entries.is_empty())
    }
}
