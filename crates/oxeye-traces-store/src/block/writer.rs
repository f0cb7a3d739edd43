//! Writing a block: traces in ascending trace-id order, whole traces per page, the index and footer at the end.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use oxeye_codec::varint::put_uvarint;
use oxeye_model::{Span, TraceId};

use super::page_writer::{PageBuilder, RawColumn};
use super::{
    BLOCK_FOOTER_LEN, BLOCK_FORMAT_VERSION, BLOCK_HEADER_LEN, BLOCK_MAGIC, Codec, ColumnRef, PAGE_MAX_SPANS,
    PAGE_TARGET_RAW_BYTES, PCO_LEVEL, PageMeta, ZSTD_LEVEL,
};
use crate::TracesError;
use crate::summary::UnitSummary;
use oxeye_codec::bloom::BloomBuilder as TermBloomBuilder;

/// Byte columns shorter than this are stored raw: a zstd frame's header and checksum would outweigh any gain.
const MIN_COMPRESSED_COLUMN: usize = 64;

/// Writes one block file. Push traces in strictly ascending trace-id order, then [`BlockWriter::finish`]; the file
/// appears under its final name only then (written as `*.tmp`, fsynced, renamed).
pub(crate) struct BlockWriter {
    temporary_path: PathBuf,
    final_path: PathBuf,
    out: BufWriter<File>,
    offset: u64,
    trace_ids: Vec<TraceId>,
    pages: Vec<PageMeta>,
    page: PageBuilder,
    summary: UnitSummary,
    compressor: zstd::bulk::Compressor<'static>,
}

impl BlockWriter {
    pub(crate) fn create(final_path: &Path) -> Result<Self, TracesError> {
        Self::create_with_level(final_path, ZSTD_LEVEL)
    }

    /// A writer compressing at another zstd level (measurements).
    pub(crate) fn create_with_level(final_path: &Path, zstd_level: i32) -> Result<Self, TracesError> {
        let temporary_path = final_path.with_extension("tmp");
        let file = File::create(&temporary_path).map_err(|e| TracesError::io(&temporary_path, e))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut header = [0u8; BLOCK_HEADER_LEN];
        header[..4].copy_from_slice(&BLOCK_MAGIC);
        header[4] = BLOCK_FORMAT_VERSION;
        out.write_all(&header).map_err(|e| TracesError::io(&temporary_path, e))?;
        let mut compressor =
            zstd::bulk::Compressor::new(zstd_level).map_err(|e| TracesError::io(&temporary_path, e))?;
        compressor.include_checksum(true).map_err(|e| TracesError::io(&temporary_path, e))?;
        Ok(Self {
            temporary_path,
            final_path: final_path.to_path_buf(),
            out,
            offset: BLOCK_HEADER_LEN as u64,
            trace_ids: Vec::new(),
            pages: Vec::new(),
            page: PageBuilder::default(),
            summary: UnitSummary::default(),
            compressor,
        })
    }

    /// Adds a trace fragment: spans sorted by start time (may be empty when only `truncated` is known).
    pub(crate) fn push_trace(&mut self, trace_id: TraceId, spans: &[Span], truncated: u64) -> Result<(), TracesError> {
        debug_assert!(self.trace_ids.last().is_none_or(|last| *last < trace_id), "BUG: traces out of order");
        debug_assert!(spans.windows(2).all(|w| w[0].start_ns <= w[1].start_ns), "BUG: spans out of order");
        self.trace_ids.push(trace_id);
        self.summary.traces += 1;
        self.page.push_trace(spans, truncated, &mut self.summary);
        if self.page.raw_bytes >= PAGE_TARGET_RAW_BYTES || self.page.spans as usize >= PAGE_MAX_SPANS {
            self.flush_page()?;
        }
        Ok(())
    }

    fn flush_page(&mut self) -> Result<(), TracesError> {
        if self.page.is_empty() {
            return Ok(());
        }
        let parts = self.page.finish();
        let first_trace = (self.trace_ids.len() - parts.traces as usize) as u32;
        let mut columns = Vec::with_capacity(parts.columns.len());
        for column in &parts.columns {
            columns.push(self.write_column(column)?);
        }
        let mut bloom = TermBloomBuilder::with_keys(parts.bloom_keys.len());
        for key in &parts.bloom_keys {
            bloom.insert(*key);
        }
        let mut encoded = Vec::new();
        bloom.encode(&mut encoded);
        let bloom_offset = self.offset;
        self.write_raw(&encoded)?;
        self.pages.push(PageMeta {
            first_trace,
            traces: parts.traces,
            spans: parts.spans,
            min_ns: parts.min_ns,
            max_ns: parts.max_ns,
            max_duration_ns: parts.max_duration_ns,
            has_error: parts.has_error,
            raw_bytes: parts.raw_bytes,
            bloom_offset,
            bloom_len: encoded.len() as u32,
            columns,
        });
        Ok(())
    }

    fn write_column(&mut self, column: &RawColumn) -> Result<ColumnRef, TracesError> {
        let offset = self.offset;
        let (codec, stored, raw_len) = match column {
            RawColumn::Bytes(Codec::Zstd, bytes) if bytes.len() >= MIN_COMPRESSED_COLUMN => {
                let compressed =
                    self.compressor.compress(bytes).map_err(|e| TracesError::io(&self.temporary_path, e))?;
                if compressed.len() < bytes.len() {
                    (Codec::Zstd, compressed, bytes.len())
                } else {
                    (Codec::Raw, bytes.clone(), bytes.len())
                }
            }
            RawColumn::Bytes(_, bytes) => (Codec::Raw, bytes.clone(), bytes.len()),
            RawColumn::U64(numbers) => (Codec::Pco, self.compress_numbers(numbers)?, numbers.len()),
            RawColumn::I64(numbers) => (Codec::Pco, self.compress_numbers(numbers)?, numbers.len()),
        };
        self.write_raw(&stored)?;
        Ok(ColumnRef { codec, offset, compressed_len: stored.len() as u32, raw_len: raw_len as u32 })
    }

    fn compress_numbers<T: pco::data_types::Number>(&self, numbers: &[T]) -> Result<Vec<u8>, TracesError> {
        let config = pco::ChunkConfig::default().with_compression_level(PCO_LEVEL);
        pco::standalone::simple_compress(numbers, &config).map_err(|e| TracesError::Corrupt {
            path: self.temporary_path.clone(),
            reason: format!("pco could not compress a column: {e}"),
        })
    }

    fn write_raw(&mut self, bytes: &[u8]) -> Result<(), TracesError> {
        self.out.write_all(bytes).map_err(|e| TracesError::io(&self.temporary_path, e))?;
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// Writes the index and footer, fsyncs and renames the file into place; returns its final path.
    pub(crate) fn finish(mut self, wal_through: u64) -> Result<PathBuf, TracesError> {
        self.flush_page()?;
        let mut index = Vec::new();
        encode_index(&mut index, wal_through, &self.summary, &self.trace_ids, &self.pages);
        let index_offset = self.offset;
        self.write_raw(&index)?;
        let mut footer = Vec::with_capacity(BLOCK_FOOTER_LEN);
        footer.extend_from_slice(&index_offset.to_le_bytes());
        footer.extend_from_slice(&(index.len() as u32).to_le_bytes());
        footer.extend_from_slice(&crc32c::crc32c(&index).to_le_bytes());
        footer.extend_from_slice(&BLOCK_MAGIC);
        footer.extend_from_slice(&[BLOCK_FORMAT_VERSION, 0, 0, 0]);
        self.write_raw(&footer)?;
        let file = self.out.into_inner().map_err(|e| TracesError::io(&self.temporary_path, e.into_error()))?;
        file.sync_all().map_err(|e| TracesError::io(&self.temporary_path, e))?;
        drop(file);
        std::fs::rename(&self.temporary_path, &self.final_path).map_err(|e| TracesError::io(&self.final_path, e))?;
        if let Some(dir) = self.final_path.parent() {
            crate::files::sync_dir(dir)?;
        }
        Ok(self.final_path)
    }
}

/// The index: `wal_through | summary | trace ids | pages` (see the format doc).
fn encode_index(dst: &mut Vec<u8>, wal_through: u64, summary: &UnitSummary, trace_ids: &[TraceId], pages: &[PageMeta]) {
    put_uvarint(dst, wal_through);
    summary.encode(dst);
    put_uvarint(dst, trace_ids.len() as u64);
    for trace_id in trace_ids {
        dst.extend_from_slice(&trace_id.0);
    }
    put_uvarint(dst, pages.len() as u64);
    for page in pages {
        put_uvarint(dst, page.first_trace as u64);
        put_uvarint(dst, page.traces as u64);
        put_uvarint(dst, page.spans as u64);
        put_uvarint(dst, page.min_ns);
        put_uvarint(dst, page.max_ns);
        put_uvarint(dst, page.max_duration_ns);
        dst.push(page.has_error as u8);
        put_uvarint(dst, page.raw_bytes);
        put_uvarint(dst, page.bloom_offset);
        put_uvarint(dst, page.bloom_len as u64);
        put_uvarint(dst, page.columns.len() as u64);
        for column in &page.columns {
            dst.push(column.codec as u8);
            put_uvarint(dst, column.offset);
            put_uvarint(dst, column.compressed_len as u64);
            put_uvarint(dst, column.raw_len as u64);
        }
    }
}
