//! `meta.json`: what a block covers and where it came from.

use std::path::Path;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::StoreError;

/// The content of `meta.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BlockMeta {
    pub version: u32,
    pub id: String,
    /// First timestamp covered (inclusive), in milliseconds.
    pub min_time: i64,
    /// End of the covered range (exclusive), in milliseconds.
    pub max_time: i64,
    pub stats: BlockStats,
    pub compaction: CompactionInfo,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BlockStats {
    pub num_series: u64,
    pub num_samples: u64,
    pub num_chunks: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CompactionInfo {
    /// 1 for a block cut from the head, +1 for each compaction.
    pub level: u32,
    /// Ids of the level-1 blocks this one was built from.
    pub sources: Vec<String>,
}

impl BlockMeta {
    pub fn read(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join(super::files::META);
        let bytes = std::fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
        let meta: BlockMeta = serde_json::from_slice(&bytes).map_err(|e| StoreError::corrupt(&path, e.to_string()))?;
        if meta.version != 1 {
            return Err(StoreError::corrupt(&path, format!("unsupported meta version {}", meta.version)));
        }
        Ok(meta)
    }
}

/// A new block id: a ULID (48-bit millisecond time, 80 random bits, Crockford base32), so ids sort by creation.
pub(crate) fn new_block_id() -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let random: u128 = rand::rng().random::<u128>() & ((1u128 << 80) - 1);
    let value = ((millis & ((1u128 << 48) - 1)) << 80) | random;
    (0..26).rev().map(|i| ALPHABET[((value >> (i * 5)) & 31) as usize] as char).collect()
}
