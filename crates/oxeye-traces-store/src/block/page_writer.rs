//! Building one page: whole traces turned into column buffers (before compression).
//!
//! Strings go through the page's dictionary and are referenced by index everywhere, so repeated names, services,
//! keys and values cost a small integer each, which zstd then squeezes further. Resources and scopes are stored
//! once per page in a table. Span attributes are stored key by key: each span names its *shape* (which keys, in
//! which order; a handful per service) and each key's column holds the values of the spans that have it, so
//! similar values sit together.

use std::collections::HashMap;
use std::sync::Arc;

use oxeye_codec::varint::{put_uvarint, put_varint};
use oxeye_model::{AttrValue, Resource, Scope, Span, SpanId, StatusCode};

use super::{Codec, col};
use crate::attr_codec::{StringOut, encode_attributes, encode_value};
use crate::summary::UnitSummary;
use crate::terms::{resource_attr_key, span_attr_key, span_name_key};

/// A page's string dictionary being built: each distinct string once, referenced by its index.
#[derive(Default)]
pub(crate) struct Dictionary {
    index: HashMap<String, u32>,
    /// `(uvarint len, bytes)*` in index order.
    bytes: Vec<u8>,
}

impl Dictionary {
    pub(crate) fn intern(&mut self, text: &str) -> u32 {
        if let Some(index) = self.index.get(text) {
            return *index;
        }
        let index = self.index.len() as u32;
        self.index.insert(text.to_string(), index);
        put_uvarint(&mut self.bytes, text.len() as u64);
        self.bytes.extend_from_slice(text.as_bytes());
        index
    }
}

impl StringOut for Dictionary {
    fn put(&mut self, dst: &mut Vec<u8>, text: &str) {
        put_uvarint(dst, self.intern(text) as u64);
    }
}

/// A column's content before compression.
pub(crate) enum RawColumn {
    /// Bytes, compressed with zstd unless tiny or incompressible (`Codec::Zstd`), or stored as is (`Codec::Raw`).
    Bytes(Codec, Vec<u8>),
    U64(Vec<u64>),
    I64(Vec<i64>),
}

/// What a finished page hands to the block writer.
pub(crate) struct PageParts {
    pub traces: u32,
    pub spans: u32,
    pub min_ns: u64,
    pub max_ns: u64,
    pub max_duration_ns: u64,
    pub has_error: bool,
    pub raw_bytes: u64,
    /// Sorted, distinct bloom keys.
    pub bloom_keys: Vec<u64>,
    pub columns: Vec<RawColumn>,
}

/// The traces of the page being filled.
#[derive(Default)]
pub(crate) struct PageBuilder {
    pub traces: u32,
    pub spans: u32,
    pub raw_bytes: u64,
    min_ns: u64,
    max_ns: u64,
    max_duration_ns: u64,
    has_error: bool,
    dict: Dictionary,
    trace_counts: Vec<u8>,
    trace_starts: Vec<u64>,
    span_ids: Vec<u8>,
    parents: Vec<u8>,
    names: Vec<u8>,
    resources: Vec<u8>,
    scopes: Vec<u8>,
    kinds: Vec<u8>,
    starts: Vec<u64>,
    durations: Vec<i64>,
    status_messages: Vec<u8>,
    misc: Vec<u8>,
    span_shapes: Vec<u8>,
    events: Vec<u8>,
    links: Vec<u8>,
    /// Resources seen by pointer (the `Arc` is held, so a pointer cannot be reused while it is a key)…
    resource_by_pointer: HashMap<usize, (Arc<Resource>, u32)>,
    /// …and by encoded content, so equal resources from different batches share one entry.
    resource_by_content: HashMap<Vec<u8>, u32>,
    resource_table: Vec<u8>,
    scope_by_pointer: HashMap<usize, (Arc<Scope>, u32)>,
    scope_by_content: HashMap<Vec<u8>, u32>,
    scope_table: Vec<u8>,
    shape_index: HashMap<Vec<u32>, u32>,
    shapes: Vec<Vec<u32>>,
    attr_column_index: HashMap<String, u32>,
    /// Key (string index) of each attribute column.
    attr_keys: Vec<u32>,
    attr_columns: Vec<Vec<u8>>,
    bloom_keys: Vec<u64>,
    /// Row of each span id within the trace being added (reused).
    rows_by_id: HashMap<SpanId, u32>,
    shape_scratch: Vec<u32>,
    encode_scratch: Vec<u8>,
}

impl PageBuilder {
    pub(crate) fn is_empty(&self) -> bool {
        self.traces == 0
    }

    /// Adds a whole trace fragment: its spans sorted by start time, and its count of spans refused by the limit.
    /// Every span and new resource is added to `summary` too.
    pub(crate) fn push_trace(&mut self, spans: &[Span], truncated: u64, summary: &mut UnitSummary) {
        if self.traces == 0 {
            self.min_ns = u64::MAX;
        }
        self.traces += 1;
        put_uvarint(&mut self.trace_counts, spans.len() as u64);
        put_uvarint(&mut self.trace_counts, truncated);
        let trace_start = spans.iter().map(|span| span.start_ns).min().unwrap_or(0);
        self.trace_starts.push(trace_start);
        self.rows_by_id.clear();
        for (row, span) in spans.iter().enumerate() {
            self.rows_by_id.entry(span.span_id).or_insert(row as u32);
        }
        for span in spans {
            self.push_span(span, trace_start, summary);
        }
    }

    fn push_span(&mut self, span: &Span, trace_start: u64, summary: &mut UnitSummary) {
        self.spans += 1;
        self.raw_bytes += span.size_bytes() as u64;
        self.min_ns = self.min_ns.min(span.start_ns);
        self.max_ns = self.max_ns.max(span.end_ns.max(span.start_ns));
        self.max_duration_ns = self.max_duration_ns.max(span.duration_ns());
        self.has_error |= span.status_code == StatusCode::Error;
        summary.add_span(span);

        self.span_ids.extend_from_slice(&span.span_id.0);
        if span.parent_span_id.is_zero() {
            put_uvarint(&mut self.parents, 0);
        } else if let Some(row) = self.rows_by_id.get(&span.parent_span_id) {
            put_uvarint(&mut self.parents, *row as u64 + 2);
        } else {
            put_uvarint(&mut self.parents, 1);
            self.parents.extend_from_slice(&span.parent_span_id.0);
        }
        let name = self.dict.intern(&span.name);
        put_uvarint(&mut self.names, name as u64);
        self.bloom_keys.push(span_name_key(&span.name));
        let resource = self.resource_index(&span.resource, summary);
        put_uvarint(&mut self.resources, resource as u64);
        let scope = self.scope_index(&span.scope);
        put_uvarint(&mut self.scopes, scope as u64);
        self.kinds.push(span.kind as u8 | (span.status_code as u8) << 4);
        self.starts.push(span.start_ns - trace_start);
        self.durations.push((span.end_ns as i64).wrapping_sub(span.start_ns as i64));
        let status_message = self.dict.intern(&span.status_message);
        put_uvarint(&mut self.status_messages, status_message as u64);
        let trace_state = self.dict.intern(&span.trace_state);
        put_uvarint(&mut self.misc, trace_state as u64);
        put_uvarint(&mut self.misc, span.flags as u64);
        put_uvarint(&mut self.misc, span.dropped_attributes_count as u64);
        put_uvarint(&mut self.misc, span.dropped_events_count as u64);
        put_uvarint(&mut self.misc, span.dropped_links_count as u64);

        self.shape_scratch.clear();
        for attribute in &span.attributes {
            let column = match self.attr_column_index.get(attribute.key.as_str()) {
                Some(column) => *column,
                None => {
                    let column = self.attr_columns.len() as u32;
                    self.attr_column_index.insert(attribute.key.clone(), column);
                    let key = self.dict.intern(&attribute.key);
                    self.attr_keys.push(key);
                    self.attr_columns.push(Vec::new());
                    column
                }
            };
            self.shape_scratch.push(column);
            encode_value(&mut self.attr_columns[column as usize], &attribute.value, &mut self.dict);
            if let AttrValue::Str(value) = &attribute.value {
                self.bloom_keys.push(span_attr_key(&attribute.key, value));
            }
        }
        let shape = match self.shape_index.get(self.shape_scratch.as_slice()) {
            Some(shape) => *shape,
            None => {
                let shape = self.shapes.len() as u32;
                self.shape_index.insert(self.shape_scratch.clone(), shape);
                self.shapes.push(self.shape_scratch.clone());
                shape
            }
        };
        put_uvarint(&mut self.span_shapes, shape as u64);

        put_uvarint(&mut self.events, span.events.len() as u64);
        for event in &span.events {
            put_varint(&mut self.events, (event.time_ns as i64).wrapping_sub(span.start_ns as i64));
            self.dict.put(&mut self.events, &event.name);
            encode_attributes(&mut self.events, &event.attributes, &mut self.dict);
            put_uvarint(&mut self.events, event.dropped_attributes_count as u64);
        }
        put_uvarint(&mut self.links, span.links.len() as u64);
        for link in &span.links {
            if link.trace_id == span.trace_id {
                self.links.push(0);
            } else {
                self.links.push(1);
                self.links.extend_from_slice(&link.trace_id.0);
            }
            self.links.extend_from_slice(&link.span_id.0);
            self.dict.put(&mut self.links, &link.trace_state);
            put_uvarint(&mut self.links, link.flags as u64);
            encode_attributes(&mut self.links, &link.attributes, &mut self.dict);
            put_uvarint(&mut self.links, link.dropped_attributes_count as u64);
        }
    }

    fn resource_index(&mut self, resource: &Arc<Resource>, summary: &mut UnitSummary) -> u32 {
        if let Some((_, index)) = self.resource_by_pointer.get(&(Arc::as_ptr(resource) as usize)) {
            return *index;
        }
        self.encode_scratch.clear();
        encode_attributes(&mut self.encode_scratch, &resource.attributes, &mut self.dict);
        put_uvarint(&mut self.encode_scratch, resource.dropped_attributes_count as u64);
        let index = match self.resource_by_content.get(&self.encode_scratch) {
            Some(index) => *index,
            None => {
                let index = self.resource_by_content.len() as u32;
                self.resource_by_content.insert(self.encode_scratch.clone(), index);
                self.resource_table.extend_from_slice(&self.encode_scratch);
                summary.add_resource(resource);
                for attribute in &resource.attributes {
                    if let AttrValue::Str(value) = &attribute.value {
                        self.bloom_keys.push(resource_attr_key(&attribute.key, value));
                    }
                }
                if oxeye_model::find_attribute(&resource.attributes, oxeye_model::SERVICE_NAME_ATTRIBUTE).is_none() {
                    self.bloom_keys
                        .push(resource_attr_key(oxeye_model::SERVICE_NAME_ATTRIBUTE, oxeye_model::UNKNOWN_SERVICE));
                }
                index
            }
        };
        self.resource_by_pointer.insert(Arc::as_ptr(resource) as usize, (resource.clone(), index));
        index
    }

    fn scope_index(&mut self, scope: &Arc<Scope>) -> u32 {
        if let Some((_, index)) = self.scope_by_pointer.get(&(Arc::as_ptr(scope) as usize)) {
            return *index;
        }
        self.encode_scratch.clear();
        self.dict.put(&mut self.encode_scratch, &scope.name);
        self.dict.put(&mut self.encode_scratch, &scope.version);
        encode_attributes(&mut self.encode_scratch, &scope.attributes, &mut self.dict);
        let index = match self.scope_by_content.get(&self.encode_scratch) {
            Some(index) => *index,
            None => {
                let index = self.scope_by_content.len() as u32;
                self.scope_by_content.insert(self.encode_scratch.clone(), index);
                self.scope_table.extend_from_slice(&self.encode_scratch);
                index
            }
        };
        self.scope_by_pointer.insert(Arc::as_ptr(scope) as usize, (scope.clone(), index));
        index
    }

    /// Hands out the page's columns and resets the builder for the next page.
    pub(crate) fn finish(&mut self) -> PageParts {
        let mut page = std::mem::take(self);
        let mut tables = Vec::new();
        put_uvarint(&mut tables, page.resource_by_content.len() as u64);
        tables.extend_from_slice(&page.resource_table);
        put_uvarint(&mut tables, page.scope_by_content.len() as u64);
        tables.extend_from_slice(&page.scope_table);
        put_uvarint(&mut tables, page.shapes.len() as u64);
        for shape in &page.shapes {
            put_uvarint(&mut tables, shape.len() as u64);
            for column in shape {
                put_uvarint(&mut tables, *column as u64);
            }
        }
        put_uvarint(&mut tables, page.attr_keys.len() as u64);
        for key in &page.attr_keys {
            put_uvarint(&mut tables, *key as u64);
        }
        let mut strings = Vec::with_capacity(page.dict.bytes.len() + 5);
        put_uvarint(&mut strings, page.dict.index.len() as u64);
        strings.extend_from_slice(&page.dict.bytes);

        let mut columns = Vec::with_capacity(col::FIXED + page.attr_columns.len());
        let zstd = |bytes: Vec<u8>| RawColumn::Bytes(Codec::Zstd, bytes);
        columns.push(zstd(strings));
        columns.push(zstd(page.trace_counts));
        columns.push(RawColumn::U64(page.trace_starts));
        columns.push(RawColumn::Bytes(Codec::Raw, page.span_ids));
        columns.push(zstd(page.parents));
        columns.push(zstd(page.names));
        columns.push(zstd(page.resources));
        columns.push(zstd(page.scopes));
        columns.push(zstd(page.kinds));
        columns.push(RawColumn::U64(page.starts));
        columns.push(RawColumn::I64(page.durations));
        columns.push(zstd(page.status_messages));
        columns.push(zstd(page.misc));
        columns.push(zstd(tables));
        columns.push(zstd(page.span_shapes));
        columns.push(zstd(page.events));
        columns.push(zstd(page.links));
        debug_assert_eq!(columns.len(), col::FIXED);
        columns.extend(page.attr_columns.into_iter().map(zstd));
        page.bloom_keys.sort_unstable();
        page.bloom_keys.dedup();
        PageParts {
            traces: page.traces,
            spans: page.spans,
            min_ns: if page.spans == 0 { 0 } else { page.min_ns },
            max_ns: page.max_ns,
            max_duration_ns: page.max_duration_ns,
            has_error: page.has_error,
            raw_bytes: page.raw_bytes,
            bloom_keys: page.bloom_keys,
            columns,
        }
    }
}
