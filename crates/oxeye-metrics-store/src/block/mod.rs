//! Immutable blocks: one directory per time range, holding `meta.json`, `index` and `chunks`.
//!
//! A block is written once into a temporary directory, fsynced and renamed into place; it is never modified
//! afterwards, only deleted (by retention or after compaction has replaced it). Formats: `docs/formats/`.

mod meta;
mod reader;
mod writer;

pub(crate) use meta::{CompactionInfo, new_block_id};
pub(crate) use reader::{Block, BlockDecodeScratch};
pub(crate) use writer::BlockWriter;
#[cfg(test)]
pub(crate) use writer::write_block;

/// File names inside a block directory and the tenant's metrics directory, all in one place.
pub(crate) mod files {
    pub const META: &str = "meta.json";
    pub const INDEX: &str = "index";
    pub const CHUNKS: &str = "chunks";
    /// Directory of the tenant's blocks.
    pub const BLOCKS_DIR: &str = "blocks";
    /// Directory of the tenant's WAL.
    pub const WAL_DIR: &str = "wal";
    /// Directory of the head's closed chunks (see `head::chunk_files`).
    pub const HEAD_CHUNKS_DIR: &str = "head_chunks";
    /// Suffix of a block directory being written.
    pub const TMP_SUFFIX: &str = ".tmp";
    /// Suffix of a block directory being deleted.
    pub const DELETING_SUFFIX: &str = ".deleting";

    pub const INDEX_MAGIC: [u8; 4] = *b"OXIX";
    pub const CHUNKS_MAGIC: [u8; 4] = *b"OXCK";
    pub const FORMAT_VERSION: u8 = 1;
    /// Chunk encoding: Gorilla XOR (see `oxeye_codec::xor_chunk`).
    pub const ENCODING_XOR: u8 = 1;
    /// Chunk encoding: pco timestamp and value streams (see `oxeye_codec::pco_chunk`).
    pub const ENCODING_PCO: u8 = 2;
    /// Chunk encoding: regular timestamps as first + step, values as a pco stream (see
    /// `oxeye_codec::pco_chunk::encode_regular`).
    pub const ENCODING_PCO_REGULAR: u8 = 3;
}

#[cfg(test)]
mod tests;
