//! Compaction: small blocks of the same day are merged into one, so a quiet tenant (whose head is cut by age every
//! 30 minutes) does not end up with thousands of tiny files and tiny pages.
//!
//! Policy: among published blocks smaller than [`SMALL_BLOCK_BYTES`], those whose oldest entry falls on the same
//! UTC day are merged once there are at least [`MIN_BLOCKS_TO_MERGE`] of them, oldest first, up to
//! [`COMPACTED_BLOCK_BYTES`] in total. Blocks cut because the head was full (128 MiB of lines, about 20 MiB on
//! disk) are not merged: merging them costs about as much CPU as writing them did, for a few per cent of size
//! (measured on bench/logs). Keeping a merge within one day keeps retention (which deletes whole blocks) within a
//! day of exact.

use std::collections::BTreeMap;
use std::sync::Arc;

use oxeye_model::Labels;

use crate::LogsError;
use crate::block::reader::PageScratch;
use crate::block::{Block, BlockWriter};
use crate::tenant::TenantLogs;

/// Blocks at or above this size are left alone.
pub(crate) const SMALL_BLOCK_BYTES: u64 = 8 << 20;
/// A merge stops before its inputs exceed this size.
pub(crate) const COMPACTED_BLOCK_BYTES: u64 = 64 << 20;
/// A day's small blocks are merged once there are this many.
pub(crate) const MIN_BLOCKS_TO_MERGE: usize = 4;

const DAY_NS: i64 = 86_400 * 1_000_000_000;

/// A row copied out of a block during a merge: timestamp, line, structured metadata.
type OwnedRow = (i64, String, Vec<(String, String)>);

/// Runs at most one merge; returns whether it merged.
pub(crate) fn compact(tenant: &TenantLogs) -> Result<bool, LogsError> {
    let mut by_day: BTreeMap<i64, Vec<Arc<Block>>> = BTreeMap::new();
    for block in tenant.blocks_snapshot() {
        if block.file_bytes() < SMALL_BLOCK_BYTES {
            by_day.entry(block.min_ns.div_euclid(DAY_NS)).or_default().push(block);
        }
    }
    let Some(group) = by_day.into_values().find(|blocks| blocks.len() >= MIN_BLOCKS_TO_MERGE) else {
        return Ok(false);
    };
    let mut inputs = Vec::new();
    let mut total = 0;
    for block in group {
        if total + block.file_bytes() > COMPACTED_BLOCK_BYTES && inputs.len() >= 2 {
            break;
        }
        total += block.file_bytes();
        inputs.push(block);
    }
    if inputs.len() < 2 {
        return Ok(false);
    }
    let merged = merge(tenant, &inputs)?;
    tracing::debug!(tenant = %tenant.tenant().as_str(), inputs = inputs.len(), path = %merged.path.display(), "compacted logs blocks");
    tenant.replace_blocks(&inputs, Some(merged))?;
    Ok(true)
}

/// Writes one block holding every row of `inputs`, rows of a stream in time order, exact repeats dropped.
pub(crate) fn merge(tenant: &TenantLogs, inputs: &[Arc<Block>]) -> Result<Arc<Block>, LogsError> {
    let mut streams: BTreeMap<&Labels, Vec<(usize, usize)>> = BTreeMap::new();
    for (block_index, block) in inputs.iter().enumerate() {
        for (stream_index, stream) in block.streams.iter().enumerate() {
            streams.entry(&stream.labels).or_default().push((block_index, stream_index));
        }
    }
    let path = tenant.new_block_path();
    let mut writer = BlockWriter::create(&path)?;
    let mut scratch = PageScratch::default();
    let mut rows: Vec<OwnedRow> = Vec::new();
    for (labels, parts) in streams {
        rows.clear();
        for (block_index, stream_index) in parts {
            let block = &inputs[block_index];
            block.for_each_row(&block.streams[stream_index], &mut scratch, |timestamp_ns, line, metadata| {
                let metadata = metadata.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
                rows.push((timestamp_ns, line.to_string(), metadata));
                Ok(())
            })?;
        }
        rows.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        rows.dedup();
        writer.begin_stream(labels)?;
        let mut metadata_refs: Vec<(&str, &str)> = Vec::new();
        for (timestamp_ns, line, metadata) in &rows {
            metadata_refs.clear();
            metadata_refs.extend(metadata.iter().map(|(n, v)| (n.as_str(), v.as_str())));
            writer.push_row(*timestamp_ns, line, &metadata_refs)?;
        }
    }
    let wal_through = inputs.iter().map(|block| block.wal_through).max().unwrap_or(0);
    let path = writer.finish(wal_through)?;
    Ok(Arc::new(Block::open(&path)?))
}
