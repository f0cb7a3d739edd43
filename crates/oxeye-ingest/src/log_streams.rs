//! What the three log decoders share: the decoded result, per-stream refusals, stream grouping, and the Loki rules
//! for label and structured-metadata names.
//!
//! A log decoder keeps the good part of a request like the metrics decoders do: a stream (or record, or document)
//! that cannot be accepted becomes a [`LogRejection`] and the rest is kept. The refusal type is this crate's own
//! rather than [`oxeye_model::Rejection`] because the model's reasons are about series and samples (`missing metric
//! name`, `out of order`…) and none of them says "the label selector does not parse"; the reason names here are
//! Loki's discard reasons (`invalid_labels`, …), stable and usable as a metric label.

use std::collections::HashMap;
use std::fmt;

use oxeye_model::{Label, LabelsBuilder, LogBatch, LogEntry, LogStream};

use crate::otlp_metrics::names::LabelNamer;

/// A decoded log push: what can be stored, and what was refused.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecodedLogs {
    pub batch: LogBatch,
    /// One entry per refused stream (Loki push), resource, scope or record (OTLP).
    pub rejections: Vec<LogRejection>,
}

impl DecodedLogs {
    /// The number of log entries refused.
    pub fn rejected_entries(&self) -> usize {
        self.rejections.iter().map(|rejection| rejection.entries).sum()
    }
}

/// Why a stream or record was refused. [`as_str`](LogRejectReason::as_str) names are Loki's discard reasons and
/// stable: they are meant as the `reason` label of a self-metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LogRejectReason {
    /// The stream's label selector does not parse, a label name is not `[a-zA-Z_][a-zA-Z0-9_]*`, a label value
    /// is not UTF-8, or an attribute key cannot be turned into a label name.
    InvalidLabels,
    /// Two labels of one stream have the same name.
    DuplicateLabelNames,
    /// An entry is malformed: its timestamp is not an integer string or out of range, its line or structured
    /// metadata has the wrong type, or a metadata name cannot be turned into a label name.
    InvalidEntry,
}

impl LogRejectReason {
    /// Every reason, so that a self-metric can be pre-registered with each label value.
    pub const ALL: [LogRejectReason; 3] =
        [LogRejectReason::InvalidLabels, LogRejectReason::DuplicateLabelNames, LogRejectReason::InvalidEntry];

    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            LogRejectReason::InvalidLabels => "invalid_labels",
            LogRejectReason::DuplicateLabelNames => "duplicate_label_names",
            LogRejectReason::InvalidEntry => "invalid_entry",
        }
    }
}

impl fmt::Display for LogRejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One refused part of a log push.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRejection {
    pub reason: LogRejectReason,
    /// The stream as the client sent it (a selector string such as `{app="api"}`), or, for OTLP, the resource's
    /// position (`resourceLogs[2]`).
    pub stream: String,
    /// How many log entries were refused.
    pub entries: usize,
    /// A human-readable explanation naming the stream (and entry) and the reason, suitable for a response body.
    pub message: String,
}

impl LogRejection {
    pub fn new(reason: LogRejectReason, stream: impl Into<String>, entries: usize, message: impl Into<String>) -> Self {
        Self { reason, stream: stream.into(), entries, message: message.into() }
    }
}

impl fmt::Display for LogRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The stream label Loki adds when a stream has none (`discover_service_name`).
pub const SERVICE_NAME_LABEL: &str = "service_name";
/// The value of `service_name` when no source label is found.
pub const UNKNOWN_SERVICE: &str = "unknown_service";
/// Labels consulted, in order, for `service_name` when a stream has none: Loki's default `discover_service_name`
/// limit (`pkg/validation/limits.go`).
pub const SERVICE_NAME_SOURCES: &[&str] = &[
    "service",
    "app",
    "application",
    "app_name",
    "name",
    "app_kubernetes_io_name",
    "container",
    "container_name",
    "k8s_container_name",
    "component",
    "workload",
    "job",
    "k8s_job_name",
];

/// Adds `service_name` to `labels` (name, value pairs with non-empty values and unique names) the way Loki does
/// by default: the value of the first of [`SERVICE_NAME_SOURCES`] present, else [`UNKNOWN_SERVICE`].
pub(crate) fn discover_service_name(labels: &mut Vec<Label>) {
    if labels.iter().any(|label| label.name == SERVICE_NAME_LABEL) {
        return;
    }
    let discovered = SERVICE_NAME_SOURCES
        .iter()
        .find_map(|source| labels.iter().find(|label| label.name == *source && !label.value.is_empty()))
        .map(|label| label.value.clone());
    labels.push(Label::new(SERVICE_NAME_LABEL, discovered.unwrap_or_else(|| UNKNOWN_SERVICE.to_string())));
}

/// A legacy Prometheus label name, as Loki's label parser requires: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub(crate) fn is_valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    match bytes.next() {
        Some(first) if first.is_ascii_alphabetic() || first == b'_' => {}
        _ => return false,
    }
    bytes.all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
}

/// The label name Loki makes of an OTLP attribute key or a structured-metadata name: the zero-value
/// `otlptranslator.LabelNamer` (characters outside `[a-zA-Z0-9_]` become `_`, runs of `_` collapse, a leading
/// digit gets `key_`). The error says why the name is unusable (empty, or nothing but underscores).
pub(crate) fn normalize_label_name(name: &str) -> Result<String, String> {
    const LOKI_NAMER: LabelNamer =
        LabelNamer { utf8_allowed: false, underscore_sanitization: false, preserve_multiple_underscores: false };
    LOKI_NAMER.build(name)
}

/// Structured metadata of one entry under construction: names are unique (a repeated name replaces the earlier
/// value in place) and empty values are left out, as empty label values are.
#[derive(Debug, Default)]
pub(crate) struct MetadataBuilder {
    pairs: Vec<Label>,
}

impl MetadataBuilder {
    pub fn with_capacity(capacity: usize) -> Self {
        Self { pairs: Vec::with_capacity(capacity) }
    }

    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        if value.is_empty() {
            return;
        }
        match self.pairs.iter_mut().find(|pair| pair.name == name) {
            Some(existing) => existing.value = value,
            None => self.pairs.push(Label { name, value }),
        }
    }

    /// Adds a pair only when the name is not taken yet.
    pub fn set_if_absent(&mut self, name: &str, value: impl Into<String>) {
        if !self.contains(name) {
            self.set(name, value);
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.pairs.iter().any(|pair| pair.name == name)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|pair| pair.name == name).map(|pair| pair.value.as_str())
    }

    /// Every (name, value) set so far, in insertion order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|pair| (pair.name.as_str(), pair.value.as_str()))
    }

    pub fn build(self) -> Vec<Label> {
        self.pairs
    }
}

/// Collects entries into streams keyed by their label set, keeping the order in which streams first appear.
#[derive(Debug, Default)]
pub(crate) struct StreamGrouper {
    positions: HashMap<oxeye_model::Labels, usize>,
    streams: Vec<LogStream>,
    /// The stream of the previous push: consecutive entries of one stream skip the hash lookup.
    last: Option<usize>,
}

impl StreamGrouper {
    pub fn push(&mut self, labels: &oxeye_model::Labels, entry: LogEntry) {
        if let Some(last) = self.last
            && self.streams[last].labels == *labels
        {
            self.streams[last].entries.push(entry);
            return;
        }
        let position = match self.positions.get(labels) {
            Some(&position) => {
                self.streams[position].entries.push(entry);
                position
            }
            None => {
                self.positions.insert(labels.clone(), self.streams.len());
                self.streams.push(LogStream { labels: labels.clone(), entries: vec![entry] });
                self.streams.len() - 1
            }
        };
        self.last = Some(position);
    }

    pub fn into_batch(self) -> LogBatch {
        LogBatch { streams: self.streams }
    }
}

/// Builds the stream label set from pairs whose names are known to be valid; the error is the duplicated name.
pub(crate) fn build_labels(pairs: Vec<Label>) -> Result<oxeye_model::Labels, String> {
    let mut builder = LabelsBuilder::with_capacity(pairs.len());
    for pair in pairs {
        builder.push(pair.name, pair.value);
    }
    builder.build()
}

/// Loki's sanitising of a structured-metadata value: invalid UTF-8 (already decoded as U+FFFD) and U+FFFD itself
/// become a space (`removeInvalidUtf` in the distributor), because Prometheus label values refuse U+FFFD.
pub(crate) fn sanitize_metadata_value(value: String) -> String {
    if value.contains(char::REPLACEMENT_CHARACTER) { value.replace(char::REPLACEMENT_CHARACTER, " ") } else { value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_name_rules() {
        let f = |name: &str, want: bool| assert_eq!(is_valid_label_name(name), want, "{name}");
        f("a", true);
        f("_a9", true);
        f("__name__", true);
        f("", false);
        f("9a", false);
        f("a.b", false);
        f("é", false);
        let g = |name: &str, want: Result<&str, ()>| {
            assert_eq!(normalize_label_name(name).map_err(|_| ()), want.map(str::to_string), "{name}")
        };
        g("service.name", Ok("service_name"));
        g("a..b", Ok("a_b"));
        g("1st", Ok("key_1st"));
        g("_x", Ok("_x"));
        g("plain", Ok("plain"));
        g("", Err(()));
        g("...", Err(()));
    }

    #[test]
    fn service_name_discovery() {
        let f = |pairs: &[(&str, &str)], want: &str| {
            let mut labels: Vec<Label> = pairs.iter().map(|(name, value)| Label::new(*name, *value)).collect();
            discover_service_name(&mut labels);
            assert_eq!(labels.iter().find(|label| label.name == SERVICE_NAME_LABEL).unwrap().value, want);
        };
        f(&[], UNKNOWN_SERVICE);
        f(&[("job", "j"), ("app", "a")], "a");
        f(&[("service_name", "s"), ("app", "a")], "s");
        f(&[("k8s_container_name", "c")], "c");
    }

    #[test]
    fn metadata_builder_keeps_names_unique() {
        let mut builder = MetadataBuilder::default();
        builder.set("a", "1");
        builder.set("b", "");
        builder.set("c", "3");
        builder.set("a", "2");
        builder.set_if_absent("c", "9");
        let pairs = builder.build();
        assert_eq!(pairs, vec![Label::new("a", "2"), Label::new("c", "3")]);
        assert_eq!(sanitize_metadata_value("a\u{fffd}b".into()), "a b");
    }
}
