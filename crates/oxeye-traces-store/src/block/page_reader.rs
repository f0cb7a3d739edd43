//! Decoding one page: columns decompressed into reusable buffers, then traces read back row by row; traces the
//! caller does not want are skipped without building their spans.

use std::ops::ControlFlow;
use std::sync::Arc;

use oxeye_codec::varint::{get_uvarint, get_varint};
use oxeye_model::{Resource, Scope, Span, SpanEvent, SpanId, SpanKind, SpanLink, StatusCode, TraceId};

use super::col;
use crate::attr_codec::{StringIn, decode_attributes, decode_value, skip_attributes, skip_value};

/// Buffers reused across the pages of a read.
#[derive(Default)]
pub(crate) struct PageScratch {
    pub(crate) decompressor: Option<zstd::bulk::Decompressor<'static>>,
    pub(crate) page: PageData,
}

/// A page's decompressed columns and decoded tables.
#[derive(Default)]
pub(crate) struct PageData {
    /// Byte columns by index (fixed, then attribute columns); empty for pco columns.
    pub(crate) columns: Vec<Vec<u8>>,
    pub(crate) trace_starts: Vec<u64>,
    pub(crate) starts: Vec<u64>,
    pub(crate) durations: Vec<i64>,
    /// `(offset, len)` of each dictionary string in the strings column.
    string_spans: Vec<(u32, u32)>,
    resources: Vec<Arc<Resource>>,
    scopes: Vec<Arc<Scope>>,
    shapes: Vec<Vec<u32>>,
    /// Attribute column index → key string index.
    attr_keys: Vec<u32>,
}

/// Dictionary references resolved against a decoded page.
struct DictIn<'a> {
    bytes: &'a [u8],
    spans: &'a [(u32, u32)],
}

impl DictIn<'_> {
    fn text(&self, index: usize) -> Option<&str> {
        let (offset, len) = *self.spans.get(index)?;
        // Validated as UTF-8 when the page was loaded.
        std::str::from_utf8(&self.bytes[offset as usize..(offset + len) as usize]).ok()
    }
}

impl StringIn for DictIn<'_> {
    fn get(&self, src: &[u8], pos: &mut usize) -> Option<String> {
        let index = get_uvarint(src, pos).ok()? as usize;
        self.text(index).map(str::to_string)
    }

    fn skip(&self, src: &[u8], pos: &mut usize) -> Option<()> {
        let index = get_uvarint(src, pos).ok()? as usize;
        (index < self.spans.len()).then_some(())
    }
}

fn get_u32(src: &[u8], pos: &mut usize) -> Option<u32> {
    u32::try_from(get_uvarint(src, pos).ok()?).ok()
}

fn get_array<const N: usize>(src: &[u8], pos: &mut usize) -> Option<[u8; N]> {
    let bytes: [u8; N] = src.get(*pos..*pos + N)?.try_into().ok()?;
    *pos += N;
    Some(bytes)
}

impl PageData {
    /// Decodes the dictionary and the tables once the columns are in place; `None` if malformed.
    pub(crate) fn prepare(&mut self) -> Option<()> {
        self.string_spans.clear();
        let strings = self.columns.get(col::STRINGS)?;
        let mut pos = 0;
        let count = get_uvarint(strings, &mut pos).ok()? as usize;
        for _ in 0..count {
            let len = get_uvarint(strings, &mut pos).ok()? as usize;
            let end = pos.checked_add(len).filter(|end| *end <= strings.len())?;
            std::str::from_utf8(&strings[pos..end]).ok()?;
            self.string_spans.push((pos as u32, len as u32));
            pos = end;
        }
        let dict = DictIn { bytes: strings, spans: &self.string_spans };
        let tables = self.columns.get(col::TABLES)?;
        let pos = &mut 0;
        self.resources.clear();
        for _ in 0..get_uvarint(tables, pos).ok()? {
            let attributes = decode_attributes(tables, pos, &dict)?;
            let dropped_attributes_count = get_u32(tables, pos)?;
            self.resources.push(Arc::new(Resource { attributes, dropped_attributes_count }));
        }
        self.scopes.clear();
        for _ in 0..get_uvarint(tables, pos).ok()? {
            let name = dict.get(tables, pos)?;
            let version = dict.get(tables, pos)?;
            let attributes = decode_attributes(tables, pos, &dict)?;
            self.scopes.push(Arc::new(Scope { name, version, attributes }));
        }
        let attr_columns = self.columns.len().checked_sub(col::FIXED)?;
        self.shapes.clear();
        for _ in 0..get_uvarint(tables, pos).ok()? {
            let len = get_uvarint(tables, pos).ok()? as usize;
            let mut shape = Vec::with_capacity(len.min(tables.len()));
            for _ in 0..len {
                let column = get_u32(tables, pos)?;
                if column as usize >= attr_columns {
                    return None;
                }
                shape.push(column);
            }
            self.shapes.push(shape);
        }
        self.attr_keys.clear();
        for _ in 0..get_uvarint(tables, pos).ok()? {
            let key = get_u32(tables, pos)?;
            if key as usize >= self.string_spans.len() {
                return None;
            }
            self.attr_keys.push(key);
        }
        (*pos == tables.len() && self.attr_keys.len() == attr_columns).then_some(())
    }

    /// Reads the page's traces in order. For each trace `index` (0-based within the page) for which `wanted` is
    /// true, `visit` gets its spans (in stored order: by start time) and truncated count; the others are skipped.
    /// `None` if the page is malformed.
    pub(crate) fn read_traces(
        &self,
        trace_ids: &[TraceId],
        mut wanted: impl FnMut(usize) -> bool,
        mut visit: impl FnMut(usize, Vec<Span>, u64) -> ControlFlow<()>,
    ) -> Option<ControlFlow<()>> {
        let strings = self.columns.get(col::STRINGS)?;
        let dict = DictIn { bytes: strings, spans: &self.string_spans };
        let mut cursor = Cursor { positions: vec![0; self.columns.len()], row: 0 };
        let counts = self.columns.get(col::TRACES)?;
        let mut counts_pos = 0;
        let total_rows = self.starts.len();
        if self.durations.len() != total_rows
            || self.columns[col::SPAN_IDS].len() != total_rows * 8
            || self.columns[col::KINDS].len() != total_rows
            || self.trace_starts.len() != trace_ids.len()
        {
            return None;
        }
        for (index, trace_id) in trace_ids.iter().enumerate() {
            let span_count = get_uvarint(counts, &mut counts_pos).ok()? as usize;
            let truncated = get_uvarint(counts, &mut counts_pos).ok()?;
            let first_row = cursor.row;
            if first_row.checked_add(span_count)? > total_rows {
                return None;
            }
            if wanted(index) {
                let mut spans = Vec::with_capacity(span_count);
                for _ in 0..span_count {
                    spans.push(self.read_span(&mut cursor, &dict, *trace_id, first_row, self.trace_starts[index])?);
                }
                if visit(index, spans, truncated).is_break() {
                    return Some(ControlFlow::Break(()));
                }
            } else {
                for _ in 0..span_count {
                    self.skip_span(&mut cursor, &dict)?;
                }
            }
        }
        Some(ControlFlow::Continue(()))
    }

    fn read_span(
        &self,
        cursor: &mut Cursor,
        dict: &DictIn<'_>,
        trace_id: TraceId,
        first_row: usize,
        trace_start: u64,
    ) -> Option<Span> {
        let row = cursor.row;
        cursor.row += 1;
        let c = &self.columns;
        let p = &mut cursor.positions;
        let span_id = SpanId(c[col::SPAN_IDS][row * 8..row * 8 + 8].try_into().ok()?);
        let parent_span_id = match get_uvarint(&c[col::PARENTS], &mut p[col::PARENTS]).ok()? {
            0 => SpanId::default(),
            1 => SpanId(get_array(&c[col::PARENTS], &mut p[col::PARENTS])?),
            n => {
                let parent_start = usize::try_from(n - 2).ok()?.checked_add(first_row)?.checked_mul(8)?;
                SpanId(c[col::SPAN_IDS].get(parent_start..parent_start.checked_add(8)?)?.try_into().ok()?)
            }
        };
        let name = dict.get(&c[col::NAMES], &mut p[col::NAMES])?;
        let resource = self.resources.get(get_uvarint(&c[col::RESOURCES], &mut p[col::RESOURCES]).ok()? as usize)?;
        let scope = self.scopes.get(get_uvarint(&c[col::SCOPES], &mut p[col::SCOPES]).ok()? as usize)?;
        let kind_status = c[col::KINDS][row];
        let start_ns = trace_start.checked_add(self.starts[row])?;
        let end_ns = (start_ns as i64).wrapping_add(self.durations[row]) as u64;
        let status_message = dict.get(&c[col::STATUS_MESSAGES], &mut p[col::STATUS_MESSAGES])?;
        let misc = &c[col::MISC];
        let trace_state = dict.get(misc, &mut p[col::MISC])?;
        let flags = get_u32(misc, &mut p[col::MISC])?;
        let dropped_attributes_count = get_u32(misc, &mut p[col::MISC])?;
        let dropped_events_count = get_u32(misc, &mut p[col::MISC])?;
        let dropped_links_count = get_u32(misc, &mut p[col::MISC])?;
        let shape = self.shapes.get(get_uvarint(&c[col::SHAPES], &mut p[col::SHAPES]).ok()? as usize)?;
        let mut attributes = Vec::with_capacity(shape.len());
        for column in shape {
            let index = col::FIXED + *column as usize;
            let value = decode_value(&c[index], &mut p[index], dict, 0)?;
            let key = dict.text(self.attr_keys[*column as usize] as usize)?.to_string();
            attributes.push(oxeye_model::Attribute { key, value });
        }
        let events_column = &c[col::EVENTS];
        let event_count = get_uvarint(events_column, &mut p[col::EVENTS]).ok()? as usize;
        let mut events = Vec::with_capacity(event_count.min(events_column.len()));
        for _ in 0..event_count {
            let pos = &mut p[col::EVENTS];
            let time_ns = (start_ns as i64).wrapping_add(get_varint(events_column, pos).ok()?) as u64;
            let name = dict.get(events_column, pos)?;
            let attributes = decode_attributes(events_column, pos, dict)?;
            let dropped_attributes_count = get_u32(events_column, pos)?;
            events.push(SpanEvent { time_ns, name, attributes, dropped_attributes_count });
        }
        let links_column = &c[col::LINKS];
        let link_count = get_uvarint(links_column, &mut p[col::LINKS]).ok()? as usize;
        let mut links = Vec::with_capacity(link_count.min(links_column.len()));
        for _ in 0..link_count {
            let pos = &mut p[col::LINKS];
            let same_trace = *links_column.get(*pos)?;
            *pos += 1;
            let link_trace = match same_trace {
                0 => trace_id,
                1 => TraceId(get_array(links_column, pos)?),
                _ => return None,
            };
            let span_id = SpanId(get_array(links_column, pos)?);
            let trace_state = dict.get(links_column, pos)?;
            let flags = get_u32(links_column, pos)?;
            let attributes = decode_attributes(links_column, pos, dict)?;
            let dropped_attributes_count = get_u32(links_column, pos)?;
            links.push(SpanLink {
                trace_id: link_trace,
                span_id,
                trace_state,
                attributes,
                dropped_attributes_count,
                flags,
            });
        }
        Some(Span {
            trace_id,
            span_id,
            parent_span_id,
            trace_state,
            flags,
            name,
            kind: SpanKind::from_i32((kind_status & 15) as i32),
            start_ns,
            end_ns,
            attributes,
            dropped_attributes_count,
            events,
            dropped_events_count,
            links,
            dropped_links_count,
            status_code: StatusCode::from_i32((kind_status >> 4) as i32),
            status_message,
            resource: resource.clone(),
            scope: scope.clone(),
        })
    }

    fn skip_span(&self, cursor: &mut Cursor, dict: &DictIn<'_>) -> Option<()> {
        cursor.row += 1;
        let c = &self.columns;
        let p = &mut cursor.positions;
        if get_uvarint(&c[col::PARENTS], &mut p[col::PARENTS]).ok()? == 1 {
            get_array::<8>(&c[col::PARENTS], &mut p[col::PARENTS])?;
        }
        for column in [col::NAMES, col::RESOURCES, col::SCOPES, col::STATUS_MESSAGES] {
            get_uvarint(&c[column], &mut p[column]).ok()?;
        }
        for _ in 0..5 {
            get_uvarint(&c[col::MISC], &mut p[col::MISC]).ok()?;
        }
        let shape = self.shapes.get(get_uvarint(&c[col::SHAPES], &mut p[col::SHAPES]).ok()? as usize)?;
        for column in shape {
            let index = col::FIXED + *column as usize;
            skip_value(&c[index], &mut p[index], dict, 0)?;
        }
        let events_column = &c[col::EVENTS];
        let pos = &mut p[col::EVENTS];
        for _ in 0..get_uvarint(events_column, pos).ok()? {
            get_varint(events_column, pos).ok()?;
            dict.skip(events_column, pos)?;
            skip_attributes(events_column, pos, dict)?;
            get_uvarint(events_column, pos).ok()?;
        }
        let links_column = &c[col::LINKS];
        let pos = &mut p[col::LINKS];
        for _ in 0..get_uvarint(links_column, pos).ok()? {
            let same_trace = *links_column.get(*pos)?;
            *pos += 1 + if same_trace == 1 { 16 } else { 0 } + 8;
            dict.skip(links_column, pos)?;
            get_uvarint(links_column, pos).ok()?;
            skip_attributes(links_column, pos, dict)?;
            get_uvarint(links_column, pos).ok()?;
        }
        Some(())
    }
}

/// Positions in the row-ordered columns.
struct Cursor {
    positions: Vec<usize>,
    row: usize,
}
