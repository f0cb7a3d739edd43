//! The traces WAL's record: one per accepted batch, carrying the accepted spans (with their resources and scopes
//! written once per record) and the per-trace counts of spans refused by the span limit.
//!
//! Layout (`docs/formats/traces-wal.md`):
//! `type u8 = 1 | resources | scopes | spans | truncations`, strings inline (uvarint length + UTF-8), attributes
//! as in `attr_codec.rs`.

use std::collections::HashMap;
use std::sync::Arc;

use oxeye_codec::varint::{get_uvarint, put_uvarint};
use oxeye_model::{Resource, Scope, Span, SpanEvent, SpanId, SpanKind, SpanLink, StatusCode, TraceId};

use crate::attr_codec::{InlineStrings, StringIn, StringOut, decode_attributes, encode_attributes};

/// The record type byte of an append.
pub(crate) const RECORD_APPEND: u8 = 1;

/// What one append record holds.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct WalAppend {
    pub spans: Vec<Span>,
    /// Spans refused by the span limit, per trace.
    pub truncations: Vec<(TraceId, u64)>,
}

/// Encodes accepted spans and truncation counts as one append record.
pub(crate) fn encode_append(dst: &mut Vec<u8>, spans: &[Span], truncations: &[(TraceId, u64)]) {
    dst.push(RECORD_APPEND);
    let mut strings = InlineStrings;
    // Resources and scopes are shared by `Arc` within a batch: write each distinct one once.
    let mut resource_index: HashMap<*const Resource, usize> = HashMap::new();
    let mut resources: Vec<&Resource> = Vec::new();
    let mut scope_index: HashMap<*const Scope, usize> = HashMap::new();
    let mut scopes: Vec<&Scope> = Vec::new();
    for span in spans {
        resource_index.entry(Arc::as_ptr(&span.resource)).or_insert_with(|| {
            resources.push(&span.resource);
            resources.len() - 1
        });
        scope_index.entry(Arc::as_ptr(&span.scope)).or_insert_with(|| {
            scopes.push(&span.scope);
            scopes.len() - 1
        });
    }
    put_uvarint(dst, resources.len() as u64);
    for resource in &resources {
        encode_attributes(dst, &resource.attributes, &mut strings);
        put_uvarint(dst, resource.dropped_attributes_count as u64);
    }
    put_uvarint(dst, scopes.len() as u64);
    for scope in &scopes {
        strings.put(dst, &scope.name);
        strings.put(dst, &scope.version);
        encode_attributes(dst, &scope.attributes, &mut strings);
    }
    put_uvarint(dst, spans.len() as u64);
    for span in spans {
        let resource = resource_index[&Arc::as_ptr(&span.resource)];
        let scope = scope_index[&Arc::as_ptr(&span.scope)];
        encode_span(dst, span, resource, scope);
    }
    put_uvarint(dst, truncations.len() as u64);
    for (trace_id, count) in truncations {
        dst.extend_from_slice(&trace_id.0);
        put_uvarint(dst, *count);
    }
}

/// Encodes one span, its resource and scope given as indexes into tables the caller keeps (a WAL record's, or the
/// head's).
pub(crate) fn encode_span(dst: &mut Vec<u8>, span: &Span, resource: usize, scope: usize) {
    let mut strings = InlineStrings;
    dst.extend_from_slice(&span.trace_id.0);
    dst.extend_from_slice(&span.span_id.0);
    dst.extend_from_slice(&span.parent_span_id.0);
    put_uvarint(dst, resource as u64);
    put_uvarint(dst, scope as u64);
    strings.put(dst, &span.trace_state);
    put_uvarint(dst, span.flags as u64);
    strings.put(dst, &span.name);
    dst.push(span.kind as u8);
    dst.push(span.status_code as u8);
    strings.put(dst, &span.status_message);
    put_uvarint(dst, span.start_ns);
    put_uvarint(dst, span.end_ns);
    encode_attributes(dst, &span.attributes, &mut strings);
    put_uvarint(dst, span.dropped_attributes_count as u64);
    put_uvarint(dst, span.events.len() as u64);
    for event in &span.events {
        put_uvarint(dst, event.time_ns);
        strings.put(dst, &event.name);
        encode_attributes(dst, &event.attributes, &mut strings);
        put_uvarint(dst, event.dropped_attributes_count as u64);
    }
    put_uvarint(dst, span.dropped_events_count as u64);
    put_uvarint(dst, span.links.len() as u64);
    for link in &span.links {
        dst.extend_from_slice(&link.trace_id.0);
        dst.extend_from_slice(&link.span_id.0);
        strings.put(dst, &link.trace_state);
        put_uvarint(dst, link.flags as u64);
        encode_attributes(dst, &link.attributes, &mut strings);
        put_uvarint(dst, link.dropped_attributes_count as u64);
    }
    put_uvarint(dst, span.dropped_links_count as u64);
}

fn get_u32(src: &[u8], pos: &mut usize) -> Option<u32> {
    u32::try_from(get_uvarint(src, pos).ok()?).ok()
}

fn get_array<const N: usize>(src: &[u8], pos: &mut usize) -> Option<[u8; N]> {
    let bytes: [u8; N] = src.get(*pos..*pos + N)?.try_into().ok()?;
    *pos += N;
    Some(bytes)
}

/// Decodes one span written by [`encode_span`]; `None` if malformed or its indexes are out of the tables.
pub(crate) fn decode_span(
    src: &[u8],
    pos: &mut usize,
    resources: &[Arc<Resource>],
    scopes: &[Arc<Scope>],
) -> Option<Span> {
    let strings = InlineStrings;
    let trace_id = TraceId(get_array(src, pos)?);
    let span_id = SpanId(get_array(src, pos)?);
    let parent_span_id = SpanId(get_array(src, pos)?);
    let resource = resources.get(get_uvarint(src, pos).ok()? as usize)?.clone();
    let scope = scopes.get(get_uvarint(src, pos).ok()? as usize)?.clone();
    let trace_state = strings.get(src, pos)?;
    let flags = get_u32(src, pos)?;
    let name = strings.get(src, pos)?;
    let kind = SpanKind::from_i32(*src.get(*pos)? as i32);
    let status_code = StatusCode::from_i32(*src.get(*pos + 1)? as i32);
    *pos += 2;
    let status_message = strings.get(src, pos)?;
    let start_ns = get_uvarint(src, pos).ok()?;
    let end_ns = get_uvarint(src, pos).ok()?;
    let attributes = decode_attributes(src, pos, &strings)?;
    let dropped_attributes_count = get_u32(src, pos)?;
    let event_count = get_uvarint(src, pos).ok()? as usize;
    let mut events = Vec::with_capacity(event_count.min(src.len()));
    for _ in 0..event_count {
        let time_ns = get_uvarint(src, pos).ok()?;
        let name = strings.get(src, pos)?;
        let attributes = decode_attributes(src, pos, &strings)?;
        let dropped_attributes_count = get_u32(src, pos)?;
        events.push(SpanEvent { time_ns, name, attributes, dropped_attributes_count });
    }
    let dropped_events_count = get_u32(src, pos)?;
    let link_count = get_uvarint(src, pos).ok()? as usize;
    let mut links = Vec::with_capacity(link_count.min(src.len()));
    for _ in 0..link_count {
        let trace_id = TraceId(get_array(src, pos)?);
        let span_id = SpanId(get_array(src, pos)?);
        let trace_state = strings.get(src, pos)?;
        let flags = get_u32(src, pos)?;
        let attributes = decode_attributes(src, pos, &strings)?;
        let dropped_attributes_count = get_u32(src, pos)?;
        links.push(SpanLink { trace_id, span_id, trace_state, attributes, dropped_attributes_count, flags });
    }
    let dropped_links_count = get_u32(src, pos)?;
    Some(Span {
        trace_id,
        span_id,
        parent_span_id,
        trace_state,
        flags,
        name,
        kind,
        start_ns,
        end_ns,
        attributes,
        dropped_attributes_count,
        events,
        dropped_events_count,
        links,
        dropped_links_count,
        status_code,
        status_message,
        resource,
        scope,
    })
}

/// Decodes an append record; `None` for a record that is not one or is malformed (replay skips it with a warning:
/// a record that passed its checksum but does not parse is a bug, not a torn write).
pub(crate) fn decode_append(record: &[u8]) -> Option<WalAppend> {
    let (&kind, src) = record.split_first()?;
    if kind != RECORD_APPEND {
        return None;
    }
    let strings = InlineStrings;
    let pos = &mut 0;
    let resource_count = get_uvarint(src, pos).ok()? as usize;
    let mut resources = Vec::with_capacity(resource_count.min(src.len()));
    for _ in 0..resource_count {
        let attributes = decode_attributes(src, pos, &strings)?;
        let dropped_attributes_count = get_u32(src, pos)?;
        resources.push(Arc::new(Resource { attributes, dropped_attributes_count }));
    }
    let scope_count = get_uvarint(src, pos).ok()? as usize;
    let mut scopes = Vec::with_capacity(scope_count.min(src.len()));
    for _ in 0..scope_count {
        let name = strings.get(src, pos)?;
        let version = strings.get(src, pos)?;
        let attributes = decode_attributes(src, pos, &strings)?;
        scopes.push(Arc::new(Scope { name, version, attributes }));
    }
    let span_count = get_uvarint(src, pos).ok()? as usize;
    let mut spans = Vec::with_capacity(span_count.min(src.len() / 32));
    for _ in 0..span_count {
        spans.push(decode_span(src, pos, &resources, &scopes)?);
    }
    let truncation_count = get_uvarint(src, pos).ok()? as usize;
    let mut truncations = Vec::with_capacity(truncation_count.min(src.len() / 17));
    for _ in 0..truncation_count {
        let trace_id = TraceId(get_array(src, pos)?);
        truncations.push((trace_id, get_uvarint(src, pos).ok()?));
    }
    (*pos == src.len()).then_some(WalAppend { spans, truncations })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_data::full_span;
    use proptest::prelude::*;

    #[test]
    fn append_records_round_trip() {
        let first = full_span(1, 1);
        let mut second = full_span(1, 2);
        second.resource = first.resource.clone();
        let spans = vec![first, second, full_span(2, 3)];
        let truncations = vec![(TraceId([7; 16]), 3)];
        let mut record = Vec::new();
        encode_append(&mut record, &spans, &truncations);
        let decoded = decode_append(&record).unwrap();
        assert_eq!(decoded, WalAppend { spans, truncations });
        // The shared resource is decoded once and shared again.
        assert!(Arc::ptr_eq(&decoded.spans[0].resource, &decoded.spans[1].resource));
        assert_eq!(decode_append(&record[..record.len() - 1]), None);
        assert_eq!(decode_append(&[9]), None);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_append(&bytes);
            let mut with_type = vec![RECORD_APPEND];
            with_type.extend_from_slice(&bytes);
            let _ = decode_append(&with_type);
        }
    }
}
