//! Read access to one tenant's spans.
//!
//! Spans are written in batches as they arrive, so one trace can sit in several storage units (the head and one or
//! more blocks) until compaction joins them. A by-id read merges every unit; a scan hands each unit's part of a
//! trace (a *fragment*) to the sink, as Tempo's search evaluates each block's part of a trace on its own.

use std::ops::ControlFlow;

use oxeye_model::{AttrValue, SpanKind, Trace, TraceId};

use crate::ReadError;

/// A condition that every trace the caller wants must meet somewhere. A store may skip any unit it can prove holds
/// no span meeting it (via dictionaries, bloom filters or summaries); it never has to: the caller evaluates the
/// real query on whatever it is handed.
#[derive(Clone, Debug, PartialEq)]
pub enum TraceTerm {
    /// Some span has this name.
    SpanName(String),
    /// Some span has this string-valued span attribute.
    SpanAttr { key: String, value: String },
    /// Some span's resource has this string-valued attribute (`service.name` included).
    ResourceAttr { key: String, value: String },
    /// Some span has this string-valued attribute on the span or its resource.
    AnyAttr { key: String, value: String },
    /// Some span has status `error`.
    StatusError,
    /// Some span lasts at least this long.
    MinSpanDurationNs(u64),
}

/// Conditions a wanted trace meets, all of them (a conjunction). Empty: no pruning.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TraceFilterHints {
    pub all_of: Vec<TraceTerm>,
}

/// What to scan: fragments of traces with at least one span overlapping `[start_ns, end_ns]` (both inclusive).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TraceScanRequest {
    pub start_ns: u64,
    pub end_ns: u64,
    pub hints: TraceFilterHints,
}

/// Receives trace fragments. Units are visited newest first (the head, then blocks by descending end time), so a
/// caller that wants the most recent matches can stop early by returning `Break`.
pub trait TraceSink {
    fn fragment(&mut self, fragment: Trace) -> ControlFlow<()>;
}

impl<F: FnMut(Trace) -> ControlFlow<()>> TraceSink for F {
    fn fragment(&mut self, fragment: Trace) -> ControlFlow<()> {
        self(fragment)
    }
}

/// What a scan read (Tempo's search `metrics` block).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TraceScanStats {
    /// Storage units (head, block pages) whose spans were decoded.
    pub units_opened: u64,
    /// Units skipped by time bounds or hints.
    pub units_skipped: u64,
    /// Compressed bytes read from blocks.
    pub inspected_bytes: u64,
    /// Fragments handed to the sink.
    pub inspected_traces: u64,
    /// Spans handed to the sink.
    pub inspected_spans: u64,
}

impl TraceScanStats {
    pub fn add(&mut self, other: &TraceScanStats) {
        self.units_opened += other.units_opened;
        self.units_skipped += other.units_skipped;
        self.inspected_bytes += other.inspected_bytes;
        self.inspected_traces += other.inspected_traces;
        self.inspected_spans += other.inspected_spans;
    }
}

/// Where an attribute lives, for tag listings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TagScope {
    Span,
    Resource,
}

/// Attribute names seen within a time range, sorted and without duplicates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagNames {
    pub span: Vec<String>,
    pub resource: Vec<String>,
}

/// A service and the span names (with kinds) it has emitted, for Jaeger's services/operations endpoints.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceOperations {
    pub service: String,
    /// Sorted by name, then kind; without duplicates.
    pub operations: Vec<(String, SpanKind)>,
}

/// Read access to one tenant's traces.
pub trait TracesReader: Send + Sync {
    /// Every stored span of the trace (deduplicated by span id), optionally only from units overlapping
    /// `[start_ns, end_ns]`. `None` when no span is stored.
    fn trace_by_id(&self, trace_id: TraceId, range: Option<(u64, u64)>) -> Result<Option<Trace>, ReadError>;

    /// Hands trace fragments overlapping the range to `sink`, newest unit first.
    fn scan(&self, request: &TraceScanRequest, sink: &mut dyn TraceSink) -> Result<TraceScanStats, ReadError>;

    /// Attribute names (span and resource scope) of spans overlapping the range.
    fn tag_names(&self, start_ns: u64, end_ns: u64) -> Result<TagNames, ReadError>;

    /// Distinct values of an attribute in one scope (`None`: either scope) of spans overlapping the range, at most
    /// `limit` (0 = no limit); scalar values only (strings, ints, doubles, bools).
    fn tag_values(
        &self,
        scope: Option<TagScope>,
        key: &str,
        start_ns: u64,
        end_ns: u64,
        limit: usize,
    ) -> Result<Vec<AttrValue>, ReadError>;

    /// Services and their operations seen in the range, sorted by service.
    fn services(&self, start_ns: u64, end_ns: u64) -> Result<Vec<ServiceOperations>, ReadError>;
}
