//! Immutable block files: a tenant's spans for a time span, whole traces sorted by trace id, grouped into pages
//! of compressed columns.
//!
//! A page holds whole traces (up to [`PAGE_TARGET_RAW_BYTES`] of spans) as about twenty columns — span ids raw,
//! times and durations in pco, everything else dictionary-encoded into small integers and zstd-compressed — plus
//! one column per span attribute key, and a bloom filter of its span names and string attributes. The index at
//! the end of the file holds the sorted trace ids (the exact trace-id index), each page's time range, flags and
//! column directory, and a summary of the block for tag and service listings; it is loaded into memory on open
//! and columns are read through a memory map. Byte layout: `docs/formats/traces-block.md`.

mod page_reader;
mod page_writer;
pub(crate) mod reader;
mod writer;

pub(crate) use page_reader::PageScratch;
pub(crate) use reader::Block;
pub(crate) use writer::BlockWriter;

/// First bytes of a block file, and last-but-four of its footer.
pub(crate) const BLOCK_MAGIC: [u8; 4] = *b"OXTB";
/// The block format version written by this code.
pub(crate) const BLOCK_FORMAT_VERSION: u8 = 1;
/// Magic (4) + version (1) + reserved (3).
pub(crate) const BLOCK_HEADER_LEN: usize = 8;
/// index offset u64 + index length u32 + index crc32c u32 + magic (4) + version (1) + reserved (3).
pub(crate) const BLOCK_FOOTER_LEN: usize = 24;

/// A page is closed after the trace that brings its spans (as `Span::size_bytes` counts them) to this size…
pub(crate) const PAGE_TARGET_RAW_BYTES: u64 = 1 << 20;
/// …or this many spans.
pub(crate) const PAGE_MAX_SPANS: usize = 16_384;

/// pco level for the number columns: pco's default.
pub(crate) const PCO_LEVEL: usize = 8;

/// zstd level of the compressed columns. Measured on 99k generated spans (`block/tests.rs::zstd_levels`): level 1
/// → 2.30 MB, 3 → 2.30 MB, 6 → 2.26 MB, 9 → 2.25 MB, 19 → 2.22 MB, the rest being span ids and random values;
/// above 6 the gain is under 1 % for 10–100 % more CPU.
pub(crate) const ZSTD_LEVEL: i32 = 6;

/// How a column's bytes are stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Codec {
    /// As is (span ids: random bytes do not compress; and empty columns).
    #[default]
    Raw = 0,
    /// One zstd frame with content checksum.
    Zstd = 1,
    /// One pco standalone stream; `raw_len` is the number of values.
    Pco = 2,
}

impl Codec {
    fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(Codec::Raw),
            1 => Some(Codec::Zstd),
            2 => Some(Codec::Pco),
            _ => None,
        }
    }
}

/// Where a column lives in the file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ColumnRef {
    pub codec: Codec,
    pub offset: u64,
    pub compressed_len: u32,
    /// Uncompressed bytes (raw and zstd columns) or number of values (pco columns).
    pub raw_len: u32,
}

/// The fixed columns of a page, in directory order; attribute columns follow them.
pub(crate) mod col {
    /// The page's string dictionary: `uvarint count, (uvarint len, bytes)*`.
    pub const STRINGS: usize = 0;
    /// Per trace: `uvarint spans, uvarint truncated_spans`.
    pub const TRACES: usize = 1;
    /// Per trace: the start of its earliest span (pco u64; 0 for a trace without spans).
    pub const TRACE_STARTS: usize = 2;
    /// Per span: 8 bytes.
    pub const SPAN_IDS: usize = 3;
    /// Per span: uvarint `0` no parent, `1` + 8 bytes an id outside the trace's page rows, `n ≥ 2` the span at
    /// row `n - 2` of the same trace.
    pub const PARENTS: usize = 4;
    /// Per span: uvarint string index.
    pub const NAMES: usize = 5;
    /// Per span: uvarint index into the resource table.
    pub const RESOURCES: usize = 6;
    /// Per span: uvarint index into the scope table.
    pub const SCOPES: usize = 7;
    /// Per span: one byte `kind | status << 4`.
    pub const KINDS: usize = 8;
    /// Per span: start minus its trace's start (pco u64).
    pub const STARTS: usize = 9;
    /// Per span: end minus start (pco i64).
    pub const DURATIONS: usize = 10;
    /// Per span: uvarint string index.
    pub const STATUS_MESSAGES: usize = 11;
    /// Per span: uvarint trace-state string index, flags, dropped attributes, dropped events, dropped links.
    pub const MISC: usize = 12;
    /// Resource table, scope table, attribute-shape table, attribute column keys.
    pub const TABLES: usize = 13;
    /// Per span: uvarint index into the shape table (which attribute columns, in which order).
    pub const SHAPES: usize = 14;
    /// Per span: events.
    pub const EVENTS: usize = 15;
    /// Per span: links.
    pub const LINKS: usize = 16;
    /// Number of fixed columns.
    pub const FIXED: usize = 17;
}

/// A page: whole traces `first_trace .. first_trace + traces` of the block's trace-id index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PageMeta {
    pub first_trace: u32,
    pub traces: u32,
    pub spans: u32,
    pub min_ns: u64,
    pub max_ns: u64,
    pub max_duration_ns: u64,
    pub has_error: bool,
    /// `Span::size_bytes` of the page's spans.
    pub raw_bytes: u64,
    pub bloom_offset: u64,
    pub bloom_len: u32,
    /// [`col::FIXED`] fixed columns, then one per span attribute key.
    pub columns: Vec<ColumnRef>,
}

#[cfg(test)]
mod tests;
