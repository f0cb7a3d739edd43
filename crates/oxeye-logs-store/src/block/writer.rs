//! Writing a block: streams in label order, rows in time order, pages of compressed columns.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use oxeye_codec::varint::{put_bytes, put_uvarint, put_varint};

use super::PCO_LEVEL;
use oxeye_model::Labels;

use super::ids;
use super::metadata_columns::MetadataColumnsBuilder;
use super::{
    BLOCK_FORMAT_VERSION, BLOCK_HEADER_LEN, BLOCK_MAGIC, ColumnRef, IDS_ZSTD_LEVEL, PAGE_MAX_LINE_BYTES, PAGE_MAX_ROWS,
    PageMeta, StreamMeta, ZSTD_LEVEL, ZSTD_MIN_MATCH,
};
use crate::LogsError;
use crate::head::stream_id;
use crate::tokens::{bloom_keys, hash_bytes, is_indexed_token, pair_hash};
use oxeye_codec::bloom::BloomBuilder as TokenBloomBuilder;

/// Columns of the page being filled.
#[derive(Default)]
struct PageBuffer {
    rows: u32,
    min_ns: i64,
    max_ns: i64,
    previous_ns: i64,
    timestamps: Vec<i64>,
    line_lengths: Vec<u32>,
    /// The lines with their hex ids moved to `ids`, each followed by `\n`, then (when the page is closed) the
    /// metadata section: one zstd frame. If a line contains `\n` itself, the separators are removed when the page
    /// is closed and the line lengths are stored instead.
    lines: Vec<u8>,
    /// Bytes each line takes in `lines` (its length with its ids moved out), without the `\n`.
    text_lengths: Vec<u32>,
    /// The bytes of the hex ids moved out of `lines` (see [`ids`]).
    ids: Vec<u8>,
    line_has_newline: bool,
    metadata: MetadataColumnsBuilder,
    bloom_keys: Vec<u64>,
    /// The page's bloom keys seen lately, by their low bits (see [`RecentKeys`]).
    recent: RecentKeys,
    max_token_len: u32,
}

/// A direct-mapped memory of recent bloom keys. Most tokens repeat within a page (a stream's lines share their
/// words), so skipping a key found here keeps `bloom_keys`, which is sorted and deduplicated when the page is
/// closed, several times shorter. Only an exact match is skipped, so no key is ever lost; a slot holding
/// [`RecentKeys::EMPTY`] matches nothing (a key equal to it is always kept).
struct RecentKeys {
    slots: Box<[u64]>,
}

impl RecentKeys {
    const SLOTS: usize = 4096;
    const EMPTY: u64 = 0;

    /// Whether `key` was the last key stored in its slot; stores it otherwise.
    #[inline]
    fn seen(&mut self, key: u64) -> bool {
        let slot = &mut self.slots[(key as usize) & (Self::SLOTS - 1)];
        if *slot == key && key != Self::EMPTY {
            return true;
        }
        *slot = key;
        false
    }

    fn clear(&mut self) {
        self.slots.fill(Self::EMPTY);
    }
}

impl Default for RecentKeys {
    fn default() -> Self {
        Self { slots: vec![Self::EMPTY; Self::SLOTS].into_boxed_slice() }
    }
}

/// Writes one block file. Call [`BlockWriter::begin_stream`] for each stream in ascending label order, push its
/// rows in non-decreasing time order, and [`BlockWriter::finish`] at the end; the file appears under its final
/// name only then (written as `*.tmp`, fsynced, renamed).
pub(crate) struct BlockWriter {
    temporary_path: PathBuf,
    final_path: PathBuf,
    out: BufWriter<File>,
    offset: u64,
    streams: Vec<StreamMeta>,
    pages: Vec<PageMeta>,
    page: PageBuffer,
    compressor: zstd::bulk::Compressor<'static>,
    ids_compressor: zstd::bulk::Compressor<'static>,
    scratch: Vec<u8>,
}

impl BlockWriter {
    pub(crate) fn create(final_path: &Path) -> Result<Self, LogsError> {
        let temporary_path = final_path.with_extension("tmp");
        let file = File::create(&temporary_path).map_err(|e| LogsError::io(&temporary_path, e))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut header = [0u8; BLOCK_HEADER_LEN];
        header[..4].copy_from_slice(&BLOCK_MAGIC);
        header[4] = BLOCK_FORMAT_VERSION;
        out.write_all(&header).map_err(|e| LogsError::io(&temporary_path, e))?;
        let mut compressor = zstd::bulk::Compressor::new(ZSTD_LEVEL).map_err(|e| LogsError::io(&temporary_path, e))?;
        compressor.include_checksum(true).map_err(|e| LogsError::io(&temporary_path, e))?;
        compressor
            .set_parameter(zstd::zstd_safe::CParameter::MinMatch(ZSTD_MIN_MATCH))
            .map_err(|e| LogsError::io(&temporary_path, e))?;
        let mut ids_compressor =
            zstd::bulk::Compressor::new(IDS_ZSTD_LEVEL).map_err(|e| LogsError::io(&temporary_path, e))?;
        ids_compressor.include_checksum(true).map_err(|e| LogsError::io(&temporary_path, e))?;
        Ok(Self {
            temporary_path,
            final_path: final_path.to_path_buf(),
            out,
            offset: BLOCK_HEADER_LEN as u64,
            streams: Vec::new(),
            pages: Vec::new(),
            page: PageBuffer::default(),
            compressor,
            ids_compressor,
            scratch: Vec::new(),
        })
    }

    /// Starts a stream; the previous one is closed.
    pub(crate) fn begin_stream(&mut self, labels: &Labels) -> Result<(), LogsError> {
        self.flush_page()?;
        debug_assert!(self.streams.last().is_none_or(|last| last.labels < *labels), "BUG: streams out of order");
        self.streams.push(StreamMeta {
            labels: labels.clone(),
            id: stream_id(labels),
            min_ns: i64::MAX,
            max_ns: i64::MIN,
            entries: 0,
            raw_bytes: 0,
            first_page: self.pages.len() as u32,
            page_count: 0,
        });
        Ok(())
    }

    /// Adds a row to the current stream. Timestamps must not decrease within a stream.
    pub(crate) fn push_row(
        &mut self,
        timestamp_ns: i64,
        line: &str,
        metadata: &[(&str, &str)],
    ) -> Result<(), LogsError> {
        let Some(stream) = self.streams.last_mut() else { unreachable!("BUG: push_row before begin_stream") };
        stream.min_ns = stream.min_ns.min(timestamp_ns);
        stream.max_ns = stream.max_ns.max(timestamp_ns);
        stream.entries += 1;
        stream.raw_bytes +=
            (line.len() + metadata.iter().map(|(name, value)| name.len() + value.len()).sum::<usize>()) as u64;

        let page = &mut self.page;
        if page.rows == 0 {
            page.min_ns = timestamp_ns;
        }
        debug_assert!(page.rows == 0 || timestamp_ns >= page.previous_ns, "BUG: rows out of order");
        page.timestamps.push(timestamp_ns);
        page.previous_ns = timestamp_ns;
        page.max_ns = timestamp_ns;
        page.rows += 1;
        page.line_lengths.push(line.len() as u32);
        page.line_has_newline |= memchr::memchr(b'\n', line.as_bytes()).is_some();
        let text_start = page.lines.len();
        let (bloom_keys_out, recent, max_token_len) = (&mut page.bloom_keys, &mut page.recent, &mut page.max_token_len);
        ids::append_line(line.as_bytes(), &mut page.lines, &mut page.ids, |token| {
            *max_token_len = (*max_token_len).max(token.len() as u32);
            if !is_indexed_token(token) {
                return;
            }
            let hash = hash_bytes(token);
            if !recent.seen(hash) {
                bloom_keys_out.extend(bloom_keys(hash, token.len()));
            }
        });
        page.text_lengths.push((page.lines.len() - text_start) as u32);
        page.lines.push(b'\n');
        page.metadata.push_row(line, metadata);
        for (name, value) in metadata {
            let hash = pair_hash(name, value);
            if !page.recent.seen(hash) {
                page.bloom_keys.extend(bloom_keys(hash, value.len()));
            }
        }
        if page.rows as usize >= PAGE_MAX_ROWS || page.lines.len() >= PAGE_MAX_LINE_BYTES {
            self.flush_page()?;
        }
        Ok(())
    }

    fn flush_page(&mut self) -> Result<(), LogsError> {
        if self.page.rows == 0 {
            return Ok(());
        }
        let mut page = std::mem::take(&mut self.page);
        let timestamps = self.write_numbers(&page.timestamps)?;
        // Format 3: newline-terminated lines need no length column (its pco stream cost ~0.9 bytes a line, the
        // separators ~0.01 in the zstd frame). A page with a multi-line entry keeps the lengths instead.
        let line_lengths = if page.line_has_newline {
            remove_separators(&mut page.lines, &page.text_lengths);
            self.write_numbers(&page.line_lengths)?
        } else {
            ColumnRef { offset: 0, compressed_len: 0, raw_len: page.rows }
        };
        // The metadata section goes after the lines in the same frame (format 2).
        let lines_len = page.lines.len();
        if page.metadata.has_pairs() {
            page.metadata.encode(&mut page.lines);
        }
        let text = self.write_column(&page.lines, false)?;
        let lines = ColumnRef { raw_len: lines_len as u32, ..text };
        let metadata = ColumnRef { offset: text.offset, compressed_len: 0, raw_len: text.raw_len - lines_len as u32 };
        let ids = if page.ids.is_empty() { ColumnRef::default() } else { self.write_column(&page.ids, true)? };
        page.bloom_keys.sort_unstable();
        page.bloom_keys.dedup();
        let mut bloom = TokenBloomBuilder::with_keys(page.bloom_keys.len());
        for hash in &page.bloom_keys {
            bloom.insert(*hash);
        }
        self.scratch.clear();
        bloom.encode(&mut self.scratch);
        let bloom_offset = self.offset;
        let bloom_len = self.scratch.len() as u32;
        let scratch = std::mem::take(&mut self.scratch);
        self.write_raw(&scratch)?;
        self.scratch = scratch;
        self.pages.push(PageMeta {
            min_ns: page.min_ns,
            max_ns: page.max_ns,
            rows: page.rows,
            timestamps,
            line_lengths,
            lines,
            ids,
            metadata,
            bloom_offset,
            bloom_len,
            max_token_len: page.max_token_len,
        });
        if let Some(stream) = self.streams.last_mut() {
            stream.page_count += 1;
        }
        // Keep the buffers' capacity for the next page.
        page.timestamps.clear();
        page.line_lengths.clear();
        page.lines.clear();
        page.text_lengths.clear();
        page.ids.clear();
        page.metadata.clear();
        page.bloom_keys.clear();
        page.recent.clear();
        self.page = PageBuffer {
            timestamps: page.timestamps,
            line_lengths: page.line_lengths,
            lines: page.lines,
            text_lengths: page.text_lengths,
            ids: page.ids,
            metadata: page.metadata,
            bloom_keys: page.bloom_keys,
            recent: page.recent,
            ..PageBuffer::default()
        };
        Ok(())
    }

    /// Compresses `raw` into one zstd frame: the ids column's level if `ids`, else the text's.
    fn write_column(&mut self, raw: &[u8], ids: bool) -> Result<ColumnRef, LogsError> {
        let compressor = if ids { &mut self.ids_compressor } else { &mut self.compressor };
        let compressed = compressor.compress(raw).map_err(|e| LogsError::io(&self.temporary_path, e))?;
        let column =
            ColumnRef { offset: self.offset, compressed_len: compressed.len() as u32, raw_len: raw.len() as u32 };
        self.write_raw(&compressed)?;
        Ok(column)
    }

    /// A column of numbers as one pco stream; `raw_len` holds the count.
    fn write_numbers<T: pco::data_types::Number>(&mut self, numbers: &[T]) -> Result<ColumnRef, LogsError> {
        let config = pco::ChunkConfig::default().with_compression_level(PCO_LEVEL);
        let compressed = pco::standalone::simple_compress(numbers, &config).map_err(|e| LogsError::Corrupt {
            path: self.temporary_path.clone(),
            reason: format!("pco could not compress a column: {e}"),
        })?;
        let column =
            ColumnRef { offset: self.offset, compressed_len: compressed.len() as u32, raw_len: numbers.len() as u32 };
        self.write_raw(&compressed)?;
        Ok(column)
    }

    fn write_raw(&mut self, bytes: &[u8]) -> Result<(), LogsError> {
        self.out.write_all(bytes).map_err(|e| LogsError::io(&self.temporary_path, e))?;
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// Writes the index and footer, fsyncs and renames the file into place; returns its final path.
    pub(crate) fn finish(mut self, wal_through: u64) -> Result<PathBuf, LogsError> {
        self.flush_page()?;
        let mut index = Vec::new();
        encode_index(&mut index, wal_through, &self.streams, &self.pages);
        let index_offset = self.offset;
        self.write_raw(&index)?;
        let mut footer = Vec::with_capacity(super::BLOCK_FOOTER_LEN);
        footer.extend_from_slice(&index_offset.to_le_bytes());
        footer.extend_from_slice(&(index.len() as u32).to_le_bytes());
        footer.extend_from_slice(&crc32c::crc32c(&index).to_le_bytes());
        footer.extend_from_slice(&BLOCK_MAGIC);
        footer.extend_from_slice(&[BLOCK_FORMAT_VERSION, 0, 0, 0]);
        self.write_raw(&footer)?;
        let file = self.out.into_inner().map_err(|e| LogsError::io(&self.temporary_path, e.into_error()))?;
        file.sync_all().map_err(|e| LogsError::io(&self.temporary_path, e))?;
        drop(file);
        std::fs::rename(&self.temporary_path, &self.final_path).map_err(|e| LogsError::io(&self.final_path, e))?;
        if let Some(dir) = self.final_path.parent() {
            crate::files::sync_dir(dir)?;
        }
        Ok(self.final_path)
    }
}

/// The index (format 4): `uvarint wal_through | uvarint streams | stream* | uvarint pages | page*` (see the
/// format doc).
fn encode_index(dst: &mut Vec<u8>, wal_through: u64, streams: &[StreamMeta], pages: &[PageMeta]) {
    put_uvarint(dst, wal_through);
    put_uvarint(dst, streams.len() as u64);
    for stream in streams {
        put_uvarint(dst, stream.labels.len() as u64);
        for label in stream.labels.iter() {
            put_bytes(dst, label.name.as_bytes());
            put_bytes(dst, label.value.as_bytes());
        }
        dst.extend_from_slice(&stream.id.to_le_bytes());
        put_varint(dst, stream.min_ns);
        put_varint(dst, stream.max_ns);
        put_uvarint(dst, stream.entries);
        put_uvarint(dst, stream.raw_bytes);
        put_uvarint(dst, stream.first_page as u64);
        put_uvarint(dst, stream.page_count as u64);
    }
    put_uvarint(dst, pages.len() as u64);
    for page in pages {
        put_varint(dst, page.min_ns);
        put_varint(dst, page.max_ns);
        put_uvarint(dst, page.rows as u64);
        for column in [&page.timestamps, &page.line_lengths, &page.lines, &page.ids] {
            put_uvarint(dst, column.offset);
            put_uvarint(dst, column.compressed_len as u64);
            put_uvarint(dst, column.raw_len as u64);
        }
        put_uvarint(dst, page.metadata.raw_len as u64);
        put_uvarint(dst, page.bloom_offset);
        put_uvarint(dst, page.bloom_len as u64);
        put_uvarint(dst, page.max_token_len as u64);
    }
}

/// Removes the `\n` written after each line of `lines` (whose lengths there, without it, are `lengths`), in place.
fn remove_separators(lines: &mut Vec<u8>, lengths: &[u32]) {
    let (mut read, mut write) = (0, 0);
    for &len in lengths {
        let len = len as usize;
        lines.copy_within(read..read + len, write);
        read += len + 1;
        write += len;
    }
    lines.truncate(write);
}

#[cfg(test)]
mod recent_keys_tests {
    use super::RecentKeys;

    #[test]
    fn only_an_exact_repeat_is_skipped() {
        let mut recent = RecentKeys::default();
        assert!(!recent.seen(42));
        assert!(recent.seen(42));
        // Same slot (same low bits), different key: not skipped, and it replaces the slot.
        let other = 42 + RecentKeys::SLOTS as u64;
        assert!(!recent.seen(other));
        assert!(!recent.seen(42));
        assert!(
            !recent.seen(RecentKeys::EMPTY) && !recent.seen(RecentKeys::EMPTY),
            "the empty marker is never skipped"
        );
        recent.clear();
        assert!(!recent.seen(42), "cleared for the next page");
    }
}
