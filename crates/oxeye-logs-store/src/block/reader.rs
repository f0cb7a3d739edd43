//! Reading a block: the index in memory, columns through a memory map, pages skipped by time and bloom filter.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use oxeye_codec::varint::{get_str, get_uvarint, get_varint};
use oxeye_model::{Label, Labels};
use oxeye_storage_api::{LogRow, LogScanRequest, LogScanStats, LogSink, Matcher, StreamRef};

use super::ids;
use super::metadata_columns::decode_into_rows;
use super::{
    BLOCK_FOOTER_LEN, BLOCK_FORMAT_OLDEST_READ, BLOCK_FORMAT_VERSION, BLOCK_HEADER_LEN, BLOCK_MAGIC, ColumnRef,
    PageMeta, StreamMeta,
};
use crate::LogsError;
use crate::head::decode_metadata;
use crate::tokens::{bloom_keys, hash_bytes, is_indexed_token, needle_tokens, pair_hash};
use oxeye_codec::bloom::Bloom as TokenBloom;

/// An open block file.
#[derive(Debug)]
pub(crate) struct Block {
    pub path: PathBuf,
    map: Mmap,
    /// The block format version (1 to 4).
    pub format_version: u8,
    pub wal_through: u64,
    pub streams: Vec<StreamMeta>,
    pub pages: Vec<PageMeta>,
    pub min_ns: i64,
    pub max_ns: i64,
    pub entries: u64,
    pub raw_bytes: u64,
}

/// Buffers reused across the pages of a scan.
#[derive(Default)]
pub(crate) struct PageScratch {
    timestamps: Vec<i64>,
    line_lengths: Vec<u32>,
    lines: Vec<u8>,
    metadata: Vec<u8>,
    /// Format 4: the page's zstd frame (lines with their ids moved out, metadata section) and its ids column.
    frame: Vec<u8>,
    ids: Vec<u8>,
    decompressor: Option<zstd::bulk::Decompressor<'static>>,
}

impl Block {
    pub(crate) fn open(path: &Path) -> Result<Self, LogsError> {
        let file = std::fs::File::open(path).map_err(|e| LogsError::io(path, e))?;
        // SAFETY: block files are immutable once renamed into place, and only this process writes the data
        // directory; a file is unlinked (never truncated) when it is deleted, so the mapping stays valid.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| LogsError::io(path, e))?;
        let corrupt = |reason: &str| LogsError::Corrupt { path: path.to_path_buf(), reason: reason.to_string() };
        if map.len() < BLOCK_HEADER_LEN + BLOCK_FOOTER_LEN || map[..4] != BLOCK_MAGIC {
            return Err(corrupt("not a block file (bad magic or too short)"));
        }
        let format_version = map[4];
        if !(BLOCK_FORMAT_OLDEST_READ..=BLOCK_FORMAT_VERSION).contains(&format_version) {
            return Err(corrupt(&format!(
                "unsupported block format version {format_version} (this build reads versions \
                 {BLOCK_FORMAT_OLDEST_READ} to {BLOCK_FORMAT_VERSION})"
            )));
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
        let (wal_through, streams, pages) =
            decode_index(index, index_offset as u64, format_version).ok_or_else(|| corrupt("malformed index"))?;
        let min_ns = streams.iter().map(|s| s.min_ns).min().unwrap_or(i64::MAX);
        let max_ns = streams.iter().map(|s| s.max_ns).max().unwrap_or(i64::MIN);
        let entries = streams.iter().map(|s| s.entries).sum();
        let raw_bytes = streams.iter().map(|s| s.raw_bytes).sum();
        Ok(Self {
            path: path.to_path_buf(),
            map,
            format_version,
            wal_through,
            streams,
            pages,
            min_ns,
            max_ns,
            entries,
            raw_bytes,
        })
    }

    /// Size of the file.
    pub(crate) fn file_bytes(&self) -> u64 {
        self.map.len() as u64
    }

    pub(crate) fn overlaps(&self, start_ns: i64, end_ns: i64) -> bool {
        self.min_ns < end_ns && self.max_ns >= start_ns
    }

    /// Streams matching every matcher (all if none) with data overlapping the range.
    pub(crate) fn matching_streams<'a>(
        &'a self,
        matchers: &'a [Matcher],
        start_ns: i64,
        end_ns: i64,
    ) -> impl Iterator<Item = &'a StreamMeta> + 'a {
        self.streams.iter().filter(move |stream| {
            stream.min_ns < end_ns && stream.max_ns >= start_ns && matches_all(matchers, &stream.labels)
        })
    }

    /// Hands the rows of matching streams in the range to `sink`.
    pub(crate) fn scan(
        &self,
        request: &LogScanRequest,
        sink: &mut dyn LogSink,
        stats: &mut LogScanStats,
        scratch: &mut PageScratch,
    ) -> Result<ControlFlow<()>, LogsError> {
        if request.matchers.is_empty() || !self.overlaps(request.start_ns, request.end_ns) {
            return Ok(ControlFlow::Continue(()));
        }
        // (hash, whole, length) of every token of every substring filter.
        let needle_hashes: Vec<(u64, bool, u32)> = request
            .hints
            .line_contains
            .iter()
            .flat_map(|needle| needle_tokens(needle))
            .filter(|t| self.format_version < 4 || is_indexed_token(t.token.as_bytes()))
            .flat_map(|t| {
                let (whole, len) = (t.whole, t.token.len() as u32);
                bloom_keys(hash_bytes(t.token.as_bytes()), t.token.len()).map(move |key| (key, whole, len))
            })
            .collect();
        for stream in self.matching_streams(&request.matchers, request.start_ns, request.end_ns) {
            let pair_hashes: Vec<u64> = request
                .hints
                .metadata_equals
                .iter()
                .filter(|(name, value)| stream.labels.get(name) != Some(value.as_str()))
                .flat_map(|(name, value)| bloom_keys(pair_hash(name, value), value.len()))
                .collect();
            let stream_ref = StreamRef { id: stream.id, labels: &stream.labels };
            let pages = &self.pages[stream.first_page as usize..(stream.first_page + stream.page_count) as usize];
            for page in pages {
                if page.max_ns < request.start_ns || page.min_ns >= request.end_ns {
                    stats.chunks_skipped += 1;
                    continue;
                }
                let token_hashes = needle_hashes
                    .iter()
                    .filter(|(_, whole, len)| *whole || *len >= page.max_token_len)
                    .map(|(hash, _, _)| *hash);
                let mut probes = token_hashes.chain(pair_hashes.iter().copied()).peekable();
                if probes.peek().is_some() {
                    let bloom = self.slice(page.bloom_offset, page.bloom_len as usize).and_then(TokenBloom::new);
                    let Some(bloom) = bloom else { return Err(self.corrupt("bloom filter outside the file")) };
                    if !probes.all(|hash| bloom.may_contain(hash)) {
                        stats.chunks_skipped += 1;
                        continue;
                    }
                }
                stats.chunks_opened += 1;
                self.load_page(page, scratch, stats)?;
                let flow = self.for_each_loaded_row(scratch, |timestamp_ns, line, metadata| {
                    if timestamp_ns < request.start_ns || timestamp_ns >= request.end_ns {
                        return ControlFlow::Continue(());
                    }
                    stats.decompressed_lines += 1;
                    stats.decompressed_bytes += line.len() as u64;
                    stats.structured_metadata_bytes +=
                        metadata.iter().map(|(name, value)| (name.len() + value.len()) as u64).sum::<u64>();
                    sink.row(stream_ref, LogRow { timestamp_ns, line, metadata })
                })?;
                if flow.is_break() {
                    return Ok(ControlFlow::Break(()));
                }
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    fn load_page(&self, page: &PageMeta, scratch: &mut PageScratch, stats: &mut LogScanStats) -> Result<(), LogsError> {
        if scratch.decompressor.is_none() {
            scratch.decompressor = Some(zstd::bulk::Decompressor::new().map_err(|e| LogsError::io(&self.path, e))?);
        }
        let rows = page.rows as usize;
        if page.timestamps.raw_len != page.rows || page.line_lengths.raw_len != page.rows {
            return Err(self.corrupt("number column count differs from the page's rows"));
        }
        self.decompress_numbers(page.timestamps, rows, &mut scratch.timestamps, stats)?;
        if !self.newline_terminated(page) {
            self.decompress_numbers(page.line_lengths, rows, &mut scratch.line_lengths, stats)?;
        }
        let mut lines = std::mem::take(&mut scratch.lines);
        let mut metadata = std::mem::take(&mut scratch.metadata);
        metadata.clear();
        let result = self.load_text(page, &mut lines, &mut metadata, scratch, stats);
        scratch.lines = lines;
        scratch.metadata = metadata;
        result
    }

    /// Whether the page's lines are newline-terminated in its text, with no length column (format 3).
    fn newline_terminated(&self, page: &PageMeta) -> bool {
        self.format_version >= 3 && page.line_lengths.compressed_len == 0
    }

    /// Decompresses a page's lines into `lines` and its metadata, in format 1's row layout, into `metadata`
    /// (left empty when the page has none). `scratch.line_lengths` must hold the page's line lengths, unless the
    /// lines are newline-terminated: then they are found here (and the newlines removed).
    fn load_text(
        &self,
        page: &PageMeta,
        lines: &mut Vec<u8>,
        metadata: &mut Vec<u8>,
        scratch: &mut PageScratch,
        stats: &mut LogScanStats,
    ) -> Result<(), LogsError> {
        if self.format_version == 1 {
            self.decompress(page.lines, lines, scratch, stats)?;
            if page.metadata.raw_len > 0 {
                self.decompress(page.metadata, metadata, scratch, stats)?;
            }
            return Ok(());
        }
        let mut lines_len = page.lines.raw_len as usize;
        let text_len = page.lines.raw_len.checked_add(page.metadata.raw_len);
        let Some(text_len) = text_len else { return Err(self.corrupt("text column too long")) };
        let frame_column = ColumnRef { raw_len: text_len, ..page.lines };
        // Format 4: the frame holds the lines with their ids moved out; they are put back into `lines`, and the
        // metadata section stays in the frame. Before: the frame is decompressed into `lines` itself.
        let mut frame = std::mem::take(&mut scratch.frame);
        let restored = if self.format_version >= 4 {
            self.decompress(frame_column, &mut frame, scratch, stats).and_then(|()| {
                let mut ids = std::mem::take(&mut scratch.ids);
                ids.clear();
                let result = if page.ids.compressed_len > 0 {
                    self.decompress(page.ids, &mut ids, scratch, stats)
                } else {
                    Ok(())
                };
                scratch.ids = ids;
                result?;
                lines.clear();
                ids::restore(&frame[..lines_len], &scratch.ids, lines)
                    .map_err(|reason| self.corrupt(&format!("page at offset {}: {reason}", page.lines.offset)))?;
                lines_len = lines.len();
                Ok(&frame[page.lines.raw_len as usize..])
            })
        } else {
            self.decompress(frame_column, lines, scratch, stats).map(|()| &[][..])
        };
        let result = restored.and_then(|section| {
            let kept = if self.newline_terminated(page) {
                split_terminated_lines(&mut lines[..lines_len], page.rows as usize, &mut scratch.line_lengths)
                    .ok_or_else(|| {
                        self.corrupt(&format!("page at offset {}: lines not newline-terminated", page.lines.offset))
                    })?
            } else {
                lines_len
            };
            if page.metadata.raw_len > 0 {
                let section = if self.format_version >= 4 { section } else { &lines[lines_len..] };
                decode_into_rows(section, &lines[..kept], &scratch.line_lengths, metadata)
                    .map_err(|reason| self.corrupt(&format!("page at offset {}: {reason}", page.lines.offset)))?;
            }
            lines.truncate(kept);
            Ok(())
        });
        scratch.frame = frame;
        result
    }

    /// Decodes a pco column of exactly `count` numbers into `out`.
    fn decompress_numbers<T: pco::data_types::Number>(
        &self,
        column: ColumnRef,
        count: usize,
        out: &mut Vec<T>,
        stats: &mut LogScanStats,
    ) -> Result<(), LogsError> {
        let compressed = self
            .slice(column.offset, column.compressed_len as usize)
            .ok_or_else(|| self.corrupt("column outside the file"))?;
        stats.compressed_bytes += compressed.len() as u64;
        out.clear();
        out.resize(count, T::default());
        let progress = pco::standalone::simple_decompress_into(compressed, out)
            .map_err(|e| self.corrupt(&format!("number column at offset {} does not decode: {e}", column.offset)))?;
        if progress.n_processed != count || !progress.finished {
            return Err(self.corrupt("number column holds a different count than the page"));
        }
        Ok(())
    }

    fn decompress(
        &self,
        column: ColumnRef,
        out: &mut Vec<u8>,
        scratch: &mut PageScratch,
        stats: &mut LogScanStats,
    ) -> Result<(), LogsError> {
        let compressed = self
            .slice(column.offset, column.compressed_len as usize)
            .ok_or_else(|| self.corrupt("column outside the file"))?;
        stats.compressed_bytes += compressed.len() as u64;
        out.clear();
        out.reserve(column.raw_len as usize);
        let Some(decompressor) = scratch.decompressor.as_mut() else { unreachable!("BUG: decompressor not created") };
        let written = decompressor.decompress_to_buffer(compressed, out).map_err(|e| LogsError::Corrupt {
            path: self.path.clone(),
            reason: format!("column at offset {} does not decompress: {e}", column.offset),
        })?;
        if written != column.raw_len as usize {
            return Err(self.corrupt("column decompressed to an unexpected length"));
        }
        Ok(())
    }

    fn slice(&self, offset: u64, len: usize) -> Option<&[u8]> {
        let start = usize::try_from(offset).ok()?;
        self.map.get(start..start.checked_add(len)?)
    }

    fn corrupt(&self, reason: &str) -> LogsError {
        LogsError::Corrupt { path: self.path.clone(), reason: reason.to_string() }
    }

    /// Reads every row of one stream (for compaction), in time order.
    pub(crate) fn for_each_row(
        &self,
        stream: &StreamMeta,
        scratch: &mut PageScratch,
        mut visit: impl FnMut(i64, &str, &[(&str, &str)]) -> Result<(), LogsError>,
    ) -> Result<(), LogsError> {
        let mut stats = LogScanStats::default();
        let pages = &self.pages[stream.first_page as usize..(stream.first_page + stream.page_count) as usize];
        let mut failure = None;
        for page in pages {
            self.load_page(page, scratch, &mut stats)?;
            let flow = self.for_each_loaded_row(scratch, |timestamp_ns, line, metadata| {
                match visit(timestamp_ns, line, metadata) {
                    Ok(()) => ControlFlow::Continue(()),
                    Err(error) => {
                        failure = Some(error);
                        ControlFlow::Break(())
                    }
                }
            })?;
            if flow.is_break() {
                break;
            }
        }
        failure.map_or(Ok(()), Err)
    }

    /// Calls `visit` with each row of the page loaded in `scratch`, until it breaks.
    fn for_each_loaded_row(
        &self,
        scratch: &PageScratch,
        mut visit: impl FnMut(i64, &str, &[(&str, &str)]) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, LogsError> {
        let lines = std::str::from_utf8(&scratch.lines).map_err(|_| self.corrupt("line column is not UTF-8"))?;
        let mut metadata_row: Vec<(&str, &str)> = Vec::new();
        let (mut line_start, mut metadata_pos) = (0, 0);
        for (&timestamp_ns, &line_len) in scratch.timestamps.iter().zip(&scratch.line_lengths) {
            let line_len = line_len as usize;
            let line =
                lines.get(line_start..line_start + line_len).ok_or_else(|| self.corrupt("line outside its column"))?;
            line_start += line_len;
            metadata_row.clear();
            if !scratch.metadata.is_empty() {
                let row_start = metadata_pos;
                skip_metadata(&scratch.metadata, &mut metadata_pos)
                    .ok_or_else(|| self.corrupt("metadata column truncated"))?;
                decode_metadata(&scratch.metadata[row_start..metadata_pos], &mut metadata_row);
            }
            if visit(timestamp_ns, line, &metadata_row).is_break() {
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    }
}

/// Turns `rows` newline-terminated lines at the start of `text` into the lines back to back (moved to the front
/// in place) and their lengths in `lengths`; returns the bytes they take. `None` if `text` is not exactly `rows`
/// newline-terminated lines.
pub(crate) fn split_terminated_lines(text: &mut [u8], rows: usize, lengths: &mut Vec<u32>) -> Option<usize> {
    lengths.clear();
    let (mut start, mut write) = (0, 0);
    while let Some(len) = memchr::memchr(b'\n', &text[start..]) {
        if lengths.len() == rows {
            return None;
        }
        let end = start + len;
        text.copy_within(start..end, write);
        lengths.push(len as u32);
        write += len;
        start = end + 1;
    }
    (lengths.len() == rows && start == text.len()).then_some(write)
}

/// Advances past one row's metadata (`count, (str, str)*`).
fn skip_metadata(bytes: &[u8], pos: &mut usize) -> Option<()> {
    let count = get_uvarint(bytes, pos).ok()?;
    for _ in 0..count * 2 {
        let len = get_uvarint(bytes, pos).ok()? as usize;
        *pos = pos.checked_add(len).filter(|end| *end <= bytes.len())?;
    }
    Some(())
}

pub(crate) fn matches_all(matchers: &[Matcher], labels: &Labels) -> bool {
    matchers.iter().all(|matcher| matcher.matches(labels.get(&matcher.name).unwrap_or("")))
}

fn decode_index(index: &[u8], index_offset: u64, format_version: u8) -> Option<(u64, Vec<StreamMeta>, Vec<PageMeta>)> {
    let mut pos = 0;
    let wal_through = get_uvarint(index, &mut pos).ok()?;
    let stream_count = get_uvarint(index, &mut pos).ok()? as usize;
    let mut streams = Vec::with_capacity(stream_count.min(index.len()));
    for _ in 0..stream_count {
        let label_count = get_uvarint(index, &mut pos).ok()? as usize;
        let mut labels = Vec::with_capacity(label_count.min(index.len()));
        for _ in 0..label_count {
            let name = get_str(index, &mut pos).ok()?;
            let value = get_str(index, &mut pos).ok()?;
            labels.push(Label::new(name, value));
        }
        if !labels.windows(2).all(|pair| pair[0].name < pair[1].name) {
            return None;
        }
        let id = u64::from_le_bytes(index.get(pos..pos + 8)?.try_into().ok()?);
        pos += 8;
        streams.push(StreamMeta {
            labels: Labels::from_sorted_unchecked(labels),
            id,
            min_ns: get_varint(index, &mut pos).ok()?,
            max_ns: get_varint(index, &mut pos).ok()?,
            entries: get_uvarint(index, &mut pos).ok()?,
            raw_bytes: get_uvarint(index, &mut pos).ok()?,
            first_page: u32::try_from(get_uvarint(index, &mut pos).ok()?).ok()?,
            page_count: u32::try_from(get_uvarint(index, &mut pos).ok()?).ok()?,
        });
    }
    let page_count = get_uvarint(index, &mut pos).ok()? as usize;
    let mut pages = Vec::with_capacity(page_count.min(index.len()));
    for _ in 0..page_count {
        let min_ns = get_varint(index, &mut pos).ok()?;
        let max_ns = get_varint(index, &mut pos).ok()?;
        let rows = u32::try_from(get_uvarint(index, &mut pos).ok()?).ok()?;
        // Format 1: four columns (the fourth: metadata); formats 2 and 3: three, then the metadata section's length
        // (in the lines' frame); format 4: four (the fourth: ids), then the metadata section's length.
        let mut columns = [ColumnRef::default(); 4];
        let stored_columns = if format_version == 3 || format_version == 2 { 3 } else { 4 };
        for column in &mut columns[..stored_columns] {
            column.offset = get_uvarint(index, &mut pos).ok()?;
            column.compressed_len = u32::try_from(get_uvarint(index, &mut pos).ok()?).ok()?;
            column.raw_len = u32::try_from(get_uvarint(index, &mut pos).ok()?).ok()?;
            if column.offset.checked_add(column.compressed_len as u64)? > index_offset {
                return None;
            }
        }
        let mut ids = ColumnRef::default();
        if format_version != 1 {
            if format_version >= 4 {
                ids = columns[3];
            }
            let metadata_len = u32::try_from(get_uvarint(index, &mut pos).ok()?).ok()?;
            columns[3] = ColumnRef { offset: columns[2].offset, compressed_len: 0, raw_len: metadata_len };
        }
        let bloom_offset = get_uvarint(index, &mut pos).ok()?;
        let bloom_len = u32::try_from(get_uvarint(index, &mut pos).ok()?).ok()?;
        let max_token_len = u32::try_from(get_uvarint(index, &mut pos).ok()?).ok()?;
        let [timestamps, line_lengths, lines, metadata] = columns;
        pages.push(PageMeta {
            min_ns,
            max_ns,
            rows,
            timestamps,
            line_lengths,
            lines,
            ids,
            metadata,
            bloom_offset,
            bloom_len,
            max_token_len,
        });
    }
    let pages_ok = streams.iter().all(|s| (s.first_page as usize + s.page_count as usize) <= pages.len());
    (pos == index.len() && pages_ok).then_some((wal_through, streams, pages))
}
