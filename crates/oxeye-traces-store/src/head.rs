//! The in-memory head: recent spans grouped by trace id, until they are cut into a block.
//!
//! A by-id read of a recent trace is one hash lookup. Resources are interned by content, so the spans of one
//! process share one copy however many batches they arrived in. The head keeps a running [`UnitSummary`] so tag
//! and service listings never walk its spans. Its size is counted in WAL-encoded span bytes (what
//! `head_max_bytes` bounds); the spans themselves take roughly two to three times that in memory.

use std::collections::HashMap;
use std::sync::Arc;

use oxeye_model::{Resource, Span, TraceId};

use crate::attr_codec::{InlineStrings, encode_attributes};
use crate::summary::UnitSummary;
use crate::terms::hash_bytes;

/// One trace's spans in the head.
#[derive(Debug, Default)]
pub(crate) struct HeadTrace {
    /// In arrival order; duplicates (same span id) are dropped when read or cut.
    pub spans: Vec<Span>,
    /// Spans refused by the span limit while this head was current.
    pub truncated: u64,
    pub min_ns: u64,
    pub max_ns: u64,
}

impl HeadTrace {
    pub(crate) fn overlaps(&self, start_ns: u64, end_ns: u64) -> bool {
        !self.spans.is_empty() && self.min_ns <= end_ns && self.max_ns >= start_ns
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
    /// Interned resources by content hash.
    resources: HashMap<u64, Vec<Arc<Resource>>>,
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
        // Interning by pointer first: a batch's spans share a handful of resources.
        let mut interned: HashMap<usize, Arc<Resource>> = HashMap::new();
        for mut span in spans {
            let pointer = Arc::as_ptr(&span.resource) as usize;
            let resource = match interned.get(&pointer) {
                Some(resource) => resource.clone(),
                None => {
                    let resource = self.intern(&span.resource);
                    interned.insert(pointer, resource.clone());
                    resource
                }
            };
            span.resource = resource;
            self.spans += 1;
            self.summary.add_span(&span);
            let trace = self
                .traces
                .entry(span.trace_id)
                .or_insert_with(|| HeadTrace { min_ns: u64::MAX, ..HeadTrace::default() });
            trace.min_ns = trace.min_ns.min(span.start_ns);
            trace.max_ns = trace.max_ns.max(span.end_ns.max(span.start_ns));
            trace.spans.push(span);
        }
        for (trace_id, count) in truncations {
            let trace =
                self.traces.entry(*trace_id).or_insert_with(|| HeadTrace { min_ns: u64::MAX, ..HeadTrace::default() });
            trace.truncated += count;
        }
        self.summary.traces = self.traces.len() as u64;
    }

    /// The head's shared copy of `resource` (added to the summary when first seen).
    fn intern(&mut self, resource: &Arc<Resource>) -> Arc<Resource> {
        let mut encoded = Vec::new();
        encode_attributes(&mut encoded, &resource.attributes, &mut InlineStrings);
        let candidates = self.resources.entry(hash_bytes(&encoded)).or_default();
        if let Some(existing) = candidates.iter().find(|existing| ***existing == **resource) {
            return existing.clone();
        }
        candidates.push(resource.clone());
        self.summary.add_resource(resource);
        resource.clone()
    }
}

/// Sorts a fragment's spans by start time (then span id) and drops repeated span ids (an OTLP client retrying a
/// request sends the same spans again).
pub(crate) fn normalize_spans(spans: &mut Vec<Span>) {
    spans.sort_by(|a, b| a.span_id.cmp(&b.span_id).then(a.start_ns.cmp(&b.start_ns)));
    spans.dedup_by(|later, earlier| later.span_id == earlier.span_id);
    spans.sort_by(|a, b| a.start_ns.cmp(&b.start_ns).then(a.span_id.cmp(&b.span_id)));
}
