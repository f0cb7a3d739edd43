//! Reading a block: the index (trace ids, pages, summary) in memory, columns through a memory map.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use oxeye_codec::varint::get_uvarint;
use oxeye_model::{Span, TraceId};
use oxeye_storage_api::TraceFilterHints;

use super::page_reader::PageScratch;
use super::{BLOCK_FOOTER_LEN, BLOCK_FORMAT_VERSION, BLOCK_HEADER_LEN, BLOCK_MAGIC, Codec, ColumnRef, PageMeta, col};
use crate::TracesError;
use crate::summary::UnitSummary;
use crate::terms::{UnitFacts, unit_may_match};
use oxeye_codec::bloom::Bloom as TermBloom;

/// An open block file.
#[derive(Debug)]
pub(crate) struct Block {
    pub path: PathBuf,
    map: Mmap,
    pub wal_through: u64,
    pub summary: UnitSummary,
    /// Every trace of the block, ascending (the trace-id index); page `p` holds
    /// `trace_ids[pages[p].first_trace ..][.. pages[p].traces]`.
    pub trace_ids: Vec<TraceId>,
    pub pages: Vec<PageMeta>,
}

impl Block {
    pub(crate) fn open(path: &Path) -> Result<Self, TracesError> {
        let file = std::fs::File::open(path).map_err(|e| TracesError::io(path, e))?;
        // SAFETY: block files are immutable once renamed into place, and only this process writes the data
        // directory; a file is unlinked (never truncated) when it is deleted, so the mapping stays valid.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| TracesError::io(path, e))?;
        let corrupt = |reason: &str| TracesError::Corrupt { path: path.to_path_buf(), reason: reason.to_string() };
        if map.len() < BLOCK_HEADER_LEN + BLOCK_FOOTER_LEN || map[..4] != BLOCK_MAGIC {
            return Err(corrupt("not a block file (bad magic or too short)"));
        }
        if map[4] != BLOCK_FORMAT_VERSION {
            return Err(corrupt(&format!("unsupported block format version {}", map[4])));
        }
        let footer = &map[map.len() - BLOCK_FOOTER_LEN..];
        if footer[16..20] != BLOCK_MAGIC {
            return Err(corrupt("bad footer magic (incomplete file?)"));
        }
        let index_offset = u64::from_le_bytes(footer[0..8].try_into().unwrap_or([0; 8])) as usize;
        let index_len = u32::from_le_bytes(footer[8..12].try_into().unwrap_or([0; 4])) as usize;
        let index_crc = u32::from_le_bytes(footer[12..16].try_into().unwrap_or([0; 4]));
        let index_end = index_offset.checked_add(index_len).filter(|end| *end <= map.len() - BLOCK_FOOTER_LEN);
        let Some(index_end) = index_end else { return Err(corrupt("index outside the file")) };
        let index = &map[index_offset..index_end];
        if crc32c::crc32c(index) != index_crc {
            return Err(corrupt("index checksum mismatch"));
        }
        let (wal_through, summary, trace_ids, pages) =
            decode_index(index, index_offset as u64).ok_or_else(|| corrupt("malformed index"))?;
        Ok(Self { path: path.to_path_buf(), map, wal_through, summary, trace_ids, pages })
    }

    pub(crate) fn file_bytes(&self) -> u64 {
        self.map.len() as u64
    }

    pub(crate) fn min_ns(&self) -> u64 {
        self.summary.min_ns
    }

    pub(crate) fn max_ns(&self) -> u64 {
        self.summary.max_ns
    }

    /// Whether some span of the block may overlap `[start_ns, end_ns]`.
    pub(crate) fn overlaps(&self, start_ns: u64, end_ns: u64) -> bool {
        self.summary.overlaps(start_ns, end_ns)
    }

    /// The page holding `trace_id` and the trace's position within it, if the block has it (exact).
    pub(crate) fn locate(&self, trace_id: TraceId) -> Option<(usize, usize)> {
        let global = self.trace_ids.binary_search(&trace_id).ok()?;
        let page = self.pages.partition_point(|page| page.first_trace as usize <= global).checked_sub(1)?;
        Some((page, global - self.pages[page].first_trace as usize))
    }

    /// The trace ids of page `page`.
    pub(crate) fn page_trace_ids(&self, page: &PageMeta) -> &[TraceId] {
        &self.trace_ids[page.first_trace as usize..(page.first_trace + page.traces) as usize]
    }

    /// Whether a page may hold a span meeting every hint (bloom filter, error flag, longest span).
    pub(crate) fn page_may_match(&self, page: &PageMeta, hints: &TraceFilterHints) -> Result<bool, TracesError> {
        if hints.all_of.is_empty() {
            return Ok(true);
        }
        let bloom = self.slice(page.bloom_offset, page.bloom_len as usize).and_then(TermBloom::new);
        let Some(bloom) = bloom else { return Err(self.corrupt("bloom filter outside the file")) };
        let may_contain = |key: u64| bloom.may_contain(key);
        let facts =
            UnitFacts { has_error: page.has_error, max_duration_ns: page.max_duration_ns, may_contain: &may_contain };
        Ok(unit_may_match(hints, &facts))
    }

    /// Decompresses a page's columns into `scratch.page`; returns the compressed bytes read.
    pub(crate) fn load_page(&self, page: &PageMeta, scratch: &mut PageScratch) -> Result<u64, TracesError> {
        if scratch.decompressor.is_none() {
            scratch.decompressor = Some(zstd::bulk::Decompressor::new().map_err(|e| TracesError::io(&self.path, e))?);
        }
        let data = &mut scratch.page;
        data.columns.resize_with(page.columns.len(), Vec::new);
        let mut read = 0;
        for (index, column) in page.columns.iter().enumerate() {
            let compressed = self
                .slice(column.offset, column.compressed_len as usize)
                .ok_or_else(|| self.corrupt("column outside the file"))?;
            read += compressed.len() as u64;
            let expected_count = match index {
                col::TRACE_STARTS => Some(page.traces as usize),
                col::STARTS | col::DURATIONS => Some(page.spans as usize),
                _ => None,
            };
            match (column.codec, expected_count) {
                (Codec::Pco, Some(count)) => {
                    if column.raw_len as usize != count {
                        return Err(self.corrupt("number column count differs from the page's"));
                    }
                    data.columns[index].clear();
                    match index {
                        col::TRACE_STARTS => self.decode_numbers(column, compressed, &mut data.trace_starts)?,
                        col::STARTS => self.decode_numbers(column, compressed, &mut data.starts)?,
                        _ => self.decode_numbers(column, compressed, &mut data.durations)?,
                    }
                }
                (Codec::Pco, None) | (_, Some(_)) => return Err(self.corrupt("column stored with the wrong codec")),
                (Codec::Raw, None) => {
                    data.columns[index].clear();
                    data.columns[index].extend_from_slice(compressed);
                }
                (Codec::Zstd, None) => {
                    let out = &mut data.columns[index];
                    out.clear();
                    out.reserve(column.raw_len as usize);
                    let Some(decompressor) = scratch.decompressor.as_mut() else {
                        unreachable!("BUG: decompressor not created")
                    };
                    let written = decompressor.decompress_to_buffer(compressed, out).map_err(|e| {
                        self.corrupt(&format!("column at offset {} does not decompress: {e}", column.offset))
                    })?;
                    if written != column.raw_len as usize {
                        return Err(self.corrupt("column decompressed to an unexpected length"));
                    }
                }
            }
        }
        data.prepare().ok_or_else(|| self.corrupt("malformed page dictionary or tables"))?;
        Ok(read)
    }

    fn decode_numbers<T: pco::data_types::Number>(
        &self,
        column: &ColumnRef,
        compressed: &[u8],
        out: &mut Vec<T>,
    ) -> Result<(), TracesError> {
        let count = column.raw_len as usize;
        out.clear();
        out.resize(count, T::default());
        if count == 0 {
            return Ok(());
        }
        let progress = pco::standalone::simple_decompress_into(compressed, out)
            .map_err(|e| self.corrupt(&format!("number column at offset {} does not decode: {e}", column.offset)))?;
        if progress.n_processed != count || !progress.finished {
            return Err(self.corrupt("number column holds a different count than the page"));
        }
        Ok(())
    }

    /// Reads the traces of a loaded page for which `wanted` (index within the page) is true.
    pub(crate) fn read_page_traces(
        &self,
        page: &PageMeta,
        scratch: &PageScratch,
        wanted: impl FnMut(usize) -> bool,
        visit: impl FnMut(usize, Vec<Span>, u64) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, TracesError> {
        scratch
            .page
            .read_traces(self.page_trace_ids(page), wanted, visit)
            .ok_or_else(|| self.corrupt("malformed page columns"))
    }

    /// The fragment of `trace_id` stored in this block: spans and truncated count.
    pub(crate) fn trace_fragment(
        &self,
        trace_id: TraceId,
        range: Option<(u64, u64)>,
        scratch: &mut PageScratch,
    ) -> Result<Option<(Vec<Span>, u64)>, TracesError> {
        let Some((page_index, in_page)) = self.locate(trace_id) else { return Ok(None) };
        let page = &self.pages[page_index];
        if let Some((start_ns, end_ns)) = range
            && (page.spans == 0 || page.min_ns > end_ns || page.max_ns < start_ns)
        {
            return Ok(None);
        }
        self.load_page(page, scratch)?;
        let mut found = None;
        let _ = self.read_page_traces(
            page,
            scratch,
            |index| index == in_page,
            |_, spans, truncated| {
                found = Some((spans, truncated));
                ControlFlow::Break(())
            },
        )?;
        Ok(found)
    }

    fn slice(&self, offset: u64, len: usize) -> Option<&[u8]> {
        let start = usize::try_from(offset).ok()?;
        self.map.get(start..start.checked_add(len)?)
    }

    pub(crate) fn corrupt(&self, reason: &str) -> TracesError {
        TracesError::Corrupt { path: self.path.clone(), reason: reason.to_string() }
    }
}

type DecodedIndex = (u64, UnitSummary, Vec<TraceId>, Vec<PageMeta>);

fn decode_index(index: &[u8], index_offset: u64) -> Option<DecodedIndex> {
    let pos = &mut 0;
    let wal_through = get_uvarint(index, pos).ok()?;
    let summary = UnitSummary::decode(index, pos)?;
    let trace_count = get_uvarint(index, pos).ok()? as usize;
    let ids_end = pos.checked_add(trace_count.checked_mul(16)?).filter(|end| *end <= index.len())?;
    let trace_ids: Vec<TraceId> =
        index[*pos..ids_end].chunks_exact(16).map(|chunk| TraceId(chunk.try_into().unwrap_or([0; 16]))).collect();
    *pos = ids_end;
    if !trace_ids.windows(2).all(|pair| pair[0] < pair[1]) {
        return None;
    }
    let page_count = get_uvarint(index, pos).ok()? as usize;
    let mut pages = Vec::with_capacity(page_count.min(index.len()));
    let mut next_trace = 0u64;
    let get_u32 = |pos: &mut usize| u32::try_from(get_uvarint(index, pos).ok()?).ok();
    for _ in 0..page_count {
        let first_trace = get_u32(pos)?;
        let traces = get_u32(pos)?;
        if first_trace as u64 != next_trace {
            return None;
        }
        next_trace += traces as u64;
        let spans = get_u32(pos)?;
        let min_ns = get_uvarint(index, pos).ok()?;
        let max_ns = get_uvarint(index, pos).ok()?;
        let max_duration_ns = get_uvarint(index, pos).ok()?;
        let has_error = *index.get(*pos)? != 0;
        *pos += 1;
        let raw_bytes = get_uvarint(index, pos).ok()?;
        let bloom_offset = get_uvarint(index, pos).ok()?;
        let bloom_len = get_u32(pos)?;
        if bloom_offset.checked_add(bloom_len as u64)? > index_offset {
            return None;
        }
        let column_count = get_uvarint(index, pos).ok()? as usize;
        if column_count < col::FIXED {
            return None;
        }
        let mut columns = Vec::with_capacity(column_count.min(index.len()));
        for _ in 0..column_count {
            let codec = Codec::from_u8(*index.get(*pos)?)?;
            *pos += 1;
            let column = ColumnRef {
                codec,
                offset: get_uvarint(index, pos).ok()?,
                compressed_len: get_u32(pos)?,
                raw_len: get_u32(pos)?,
            };
            if column.offset.checked_add(column.compressed_len as u64)? > index_offset {
                return None;
            }
            columns.push(column);
        }
        pages.push(PageMeta {
            first_trace,
            traces,
            spans,
            min_ns,
            max_ns,
            max_duration_ns,
            has_error,
            raw_bytes,
            bloom_offset,
            bloom_len,
            columns,
        });
    }
    (*pos == index.len() && next_trace == trace_ids.len() as u64).then_some((wal_through, summary, trace_ids, pages))
}
