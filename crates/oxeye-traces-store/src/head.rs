//! The in-memory head: recent spans grouped by trace id, until they are cut into a block.
//!
//! Each trace's spans are kept encoded (the WAL's span encoding, `wal_records::encode_span`), with their resources
//! and scopes interned in head-wide tables and referenced by index: a decoded span takes several times its
//! encoded size (every attribute key and value its own allocation), and two heads live at once while one is cut,
//! so keeping them decoded made the head the largest part of the server's memory. Reads decode the traces they
//! touch. A by-id read of a recent trace is one hash lookup and one decode. The head keeps a running
//! [`UnitSummary`] so tag and service listings never walk its spans. Its size is counted in WAL-encoded span bytes
//! (what `head_max_bytes` bounds).

use std::collections::HashMap;
use std::sync::Arc;

use oxeye_model::{Resource, Scope, Span, TraceId};

use crate::attr_codec::{InlineStrings, encode_attributes};
use crate::summary::UnitSummary;
use crate::terms::hash_bytes;
use crate::wal_records::{decode_span, encode_span};

/// One trace's spans in the head.
#[derive(Debug, Default)]
pub(crate) struct HeadTrace {
    /// The spans in arrival order, encoded back to back; duplicates (same span id) are dropped when read or cut.
    encoded: Vec<u8>,
    pub span_count: u64,
    /// Spans refused by the span limit while this head was current.
    pub truncated: u64,
    pub min_ns: u64,
    pub max_ns: u64,
}

impl HeadTrace {
    pub(crate) fn overlaps(&self, start_ns: u64, end_ns: u64) -> bool {
        self.span_count > 0 && self.min_ns <= end_ns && self.max_ns >= start_ns
    }
}

/// The head.
#[derive(Debug, Default)]
pub(crate) struct Head {
    pub traces: HashMap<TraceId, HeadTrace>,
    pub spans: u64,
    /// WAL-encoded bytes of the spans appended.
    pub bytes: u64,
    /// When the first span of this head arrived (for the age cut).
    pub first_append_ns: Option<i64>,
    pub summary: UnitSummary,
    /// Interned resources, referenced by index from the encoded spans.
    resources: Vec<Arc<Resource>>,
    /// Resource indexes by content hash.
    resource_index: HashMap<u64, Vec<usize>>,
    /// Interned scopes, referenced by index from the encoded spans.
    scopes: Vec<Arc<Scope>>,
}

impl Head {
    pub(crate) fn is_empty(&self) -> bool {
        self.traces.is_empty()
    }

    /// Adds accepted spans (`bytes` is their encoded size) and counts of spans refused by the span limit.
    pub(crate) fn append(&mut self, spans: Vec<Span>, truncations: &[(TraceId, u64)], bytes: u64, now_ns: i64) {
        if spans.is_empty() && truncations.is_empty() {
            return;
        }
        self.first_append_ns.get_or_insert(now_ns);
        self.bytes += bytes;
        // Interning by pointer first: a batch's spans share a handful of resources and scopes.
        let mut interned: HashMap<usize, usize> = HashMap::new();
        let mut interned_scopes: HashMap<usize, usize> = HashMap::new();
        for span in spans {
            let pointer = Arc::as_ptr(&span.resource) as usize;
            let resource = match interned.get(&pointer) {
                Some(index) => *index,
                None => {
                    let index = self.intern(&span.resource);
                    interned.insert(pointer, index);
                    index
                }
            };
            let scope_pointer = Arc::as_ptr(&span.scope) as usize;
            let scope = match interned_scopes.get(&scope_pointer) {
                Some(index) => *index,
                None => {
                    let index = self.intern_scope(&span.scope);
                    interned_scopes.insert(scope_pointer, index);
                    index
                }
            };
            self.spans += 1;
            self.summary.add_span(&span);
            let trace = self
                .traces
                .entry(span.trace_id)
                .or_insert_with(|| HeadTrace { min_ns: u64::MAX, ..HeadTrace::default() });
            trace.min_ns = trace.min_ns.min(span.start_ns);
            trace.max_ns = trace.max_ns.max(span.end_ns.max(span.start_ns));
            trace.span_count += 1;
            encode_span(&mut trace.encoded, &span, resource, scope);
        }
        for (trace_id, count) in truncations {
            let trace =
                self.traces.entry(*trace_id).or_insert_with(|| HeadTrace { min_ns: u64::MAX, ..HeadTrace::default() });
            trace.truncated += count;
        }
        self.summary.traces = self.traces.len() as u64;
    }

    /// The spans of one of this head's traces, decoded, in arrival order.
    pub(crate) fn spans_of(&self, trace: &HeadTrace) -> Vec<Span> {
        let mut spans = Vec::with_capacity(trace.span_count as usize);
        let mut pos = 0;
        while pos < trace.encoded.len() {
            match decode_span(&trace.encoded, &mut pos, &self.resources, &self.scopes) {
                Some(span) => spans.push(span),
                None => unreachable!("BUG: the head decodes only what it encoded"),
            }
        }
        spans
    }

    /// The index of the head's copy of `resource` (added to the summary when first seen).
    fn intern(&mut self, resource: &Arc<Resource>) -> usize {
        let mut encoded = Vec::new();
        encode_attributes(&mut encoded, &resource.attributes, &mut InlineStrings);
        let candidates = self.resource_index.entry(hash_bytes(&encoded)).or_default();
        if let Some(existing) = candidates.iter().find(|index| *self.resources[**index] == **resource) {
            return *existing;
        }
        self.resources.push(resource.clone());
        candidates.push(self.resources.len() - 1);
        self.summary.add_resource(resource);
        self.resources.len() - 1
    }

    /// The index of the head's copy of `scope` (few distinct scopes: a linear search).
    fn intern_scope(&mut self, scope: &Arc<Scope>) -> usize {
        if let Some(index) = self.scopes.iter().position(|existing| **existing == **scope) {
            return index;
        }
        self.scopes.push(scope.clone());
        self.scopes.len() - 1
    }
}

/// Sorts a fragment's spans by start time (then span id) and drops repeated span ids (an OTLP client retrying a
/// request sends the same spans again).
pub(crate) fn normalize_spans(spans: &mut Vec<Span>) {
    spans.sort_by(|a, b| a.span_id.cmp(&b.span_id).then(a.start_ns.cmp(&b.start_ns)));
    spans.dedup_by(|later, earlier| later.span_id == earlier.span_id);
    spans.sort_by(|a, b| a.start_ns.cmp(&b.start_ns).then(a.span_id.cmp(&b.span_id)));
}
