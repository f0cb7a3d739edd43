//! Immutable block files: a tenant's log entries for a time span, stream by stream, in compressed columns.
//!
//! A block holds whole streams sorted by labels; each stream's rows, sorted by time, are split into pages of at
//! most [`PAGE_MAX_ROWS`] rows or [`PAGE_MAX_LINE_BYTES`] of line text. A page stores timestamps and line lengths
//! (pco), one zstd frame of line text (its hex ids moved to a column of their own, format 4) followed by the
//! structured metadata's columns (format 2; format 1, still read, compressed the metadata row by row in a frame of
//! its own), and a token bloom filter, so a query reads only the columns it needs of the pages whose time bounds
//! and filter can match. The index (at the end of the file) lists streams and pages and is loaded into memory on
//! open; columns are read through a memory map. Byte layout: `docs/formats/logs-block.md`.

mod ids;
mod metadata_columns;
pub(crate) mod reader;
mod writer;

pub(crate) use reader::Block;
pub(crate) use writer::BlockWriter;

/// First bytes of a block file, and last-but-four of its footer.
pub(crate) const BLOCK_MAGIC: [u8; 4] = *b"OXLB";
/// The block format version written by this code.
pub(crate) const BLOCK_FORMAT_VERSION: u8 = 4;
/// The oldest block format version this code reads.
pub(crate) const BLOCK_FORMAT_OLDEST_READ: u8 = 1;
/// Magic (4) + version (1) + reserved (3).
pub(crate) const BLOCK_HEADER_LEN: usize = 8;
/// index offset u64 + index length u32 + index crc32c u32 + magic (4) + version (1) + reserved (3).
pub(crate) const BLOCK_FOOTER_LEN: usize = 24;

/// A page is closed after this many rows…
pub(crate) const PAGE_MAX_ROWS: usize = 65_536;
/// …or once its line text reaches this many bytes.
pub(crate) const PAGE_MAX_LINE_BYTES: usize = 2 << 20;

/// pco level for the number columns (timestamps, line lengths): pco's default.
pub(crate) const PCO_LEVEL: usize = 8;

/// zstd level of the text columns, with [`ZSTD_MIN_MATCH`]. Page text of 3 blocks of the 10 M-line bench corpus
/// (format 4, ids moved out), one core: level 5 → 33.09 MB in 1.13 s, level 6 → 31.23 MB in 1.49 s, level 7 →
/// 30.52 MB in 1.79 s, level 8 → 29.47 MB in 2.23 s; level 6 with matches of at least 6 bytes → 30.88 MB in
/// 1.45 s, level 7 with them → 30.06 MB in 1.65 s. Log text repeats in long runs (keys, words, paths), so shorter
/// matches mostly cost search time; level 6 with them is within 1.2 % of level 7's size at 80 % of its time.
pub(crate) const ZSTD_LEVEL: i32 = 6;
/// zstd's minimum match length for the text columns (its default at these levels is 4 or 5).
pub(crate) const ZSTD_MIN_MATCH: u32 = 6;

/// zstd level of the ids column (format 4): random bytes with some repeats (a trace id on several lines); level 1
/// compresses them as small as level 7 does, in a quarter of the time.
pub(crate) const IDS_ZSTD_LEVEL: i32 = 1;

/// Where a compressed column lives in the file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ColumnRef {
    pub offset: u64,
    pub compressed_len: u32,
    /// Uncompressed bytes (zstd columns) or number of values (pco columns).
    pub raw_len: u32,
}

/// A page of one stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PageMeta {
    pub min_ns: i64,
    pub max_ns: i64,
    pub rows: u32,
    pub timestamps: ColumnRef,
    pub line_lengths: ColumnRef,
    /// The zstd frame; `raw_len` counts only the line text (format 2: the metadata section follows it; format 4:
    /// the text with its hex ids moved out, see [`ids`]).
    pub lines: ColumnRef,
    /// Format 4: the bytes of the hex ids moved out of the lines, one zstd frame (`compressed_len` 0: none).
    pub ids: ColumnRef,
    /// `raw_len == 0` when no row of the page has structured metadata. Format 2: the section's bytes after the
    /// lines in the lines' frame (`offset` is the frame's, `compressed_len` 0); format 1: a frame of its own.
    pub metadata: ColumnRef,
    /// Uncompressed bloom filter (offset, length).
    pub bloom_offset: u64,
    pub bloom_len: u32,
    /// Bytes of the longest line token in the page: a substring filter's edge token at least this long must be
    /// a whole token of any matching line, so the bloom filter can answer for it too.
    pub max_token_len: u32,
}

/// A stream of the block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StreamMeta {
    pub labels: oxeye_model::Labels,
    pub id: u64,
    pub min_ns: i64,
    pub max_ns: i64,
    pub entries: u64,
    /// Uncompressed line and metadata bytes.
    pub raw_bytes: u64,
    pub first_page: u32,
    pub page_count: u32,
}

#[cfg(test)]
mod tests;
