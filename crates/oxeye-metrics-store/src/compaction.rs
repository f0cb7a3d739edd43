//! Compaction: merging blocks into larger ones.
//!
//! Two kinds of work, planned afresh after each merge: blocks whose time ranges overlap (left by a flush or by
//! out-of-order data) are merged first; then, level by level, the blocks inside one aligned window of
//! `block_range × 3ᵏ` (2 h → 6 h → 18 h …, as Prometheus's default ranges) are merged once the window is complete,
//! i.e. once some block starts after it. Windows never exceed a tenth of the retention (Prometheus's rule),
//! so retention can still delete data in steps of at most 10 %.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use oxeye_model::{Labels, Sample};

use crate::block::{Block, BlockWriter, CompactionInfo, files, new_block_id};
use crate::head::dedup_by_timestamp;
use crate::{StoreError, TenantDb};

const MAX_WINDOW_MS: i64 = 31 * 24 * 3_600_000;

/// Runs compaction until nothing is left to merge.
pub(crate) fn compact(db: &TenantDb) -> Result<(), StoreError> {
    let retention_ms = db.limits.retention.as_millis() as i64;
    let max_window = (retention_ms / 10).clamp(db.block_range_ms, MAX_WINDOW_MS);
    while let Some(group) = plan(&db.blocks_snapshot(), db.block_range_ms, max_window) {
        merge(db, &group)?;
        db.stats.compactions.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// Chooses the next group of blocks to merge (sorted by min time), if any.
pub(crate) fn plan(blocks: &[Arc<Block>], block_range_ms: i64, max_window_ms: i64) -> Option<Vec<Arc<Block>>> {
    // Overlapping blocks: a run of blocks each starting before the run's end so far.
    let mut run: Vec<Arc<Block>> = Vec::new();
    let mut run_end = i64::MIN;
    for block in blocks {
        if !run.is_empty() && block.meta.min_time < run_end {
            run_end = run_end.max(block.meta.max_time);
            run.push(block.clone());
            continue;
        }
        if run.len() >= 2 {
            return Some(run);
        }
        run = vec![block.clone()];
        run_end = block.meta.max_time;
    }
    if run.len() >= 2 {
        return Some(run);
    }
    let newest_start = blocks.iter().map(|b| b.meta.min_time).max()?;
    let mut window = block_range_ms * 3;
    while window <= max_window_ms {
        let mut current: Vec<Arc<Block>> = Vec::new();
        let mut current_window = i64::MIN;
        for block in blocks {
            let start = block.meta.min_time.div_euclid(window) * window;
            let fits = block.meta.max_time <= start + window;
            if start != current_window {
                if current.len() >= 2 && current_window + window <= newest_start {
                    return Some(current);
                }
                current.clear();
                current_window = start;
            }
            if fits {
                current.push(block.clone());
            }
        }
        if current.len() >= 2 && current_window + window <= newest_start {
            return Some(current);
        }
        window *= 3;
    }
    None
}

/// Merges `group` into one block covering their combined range and removes the originals. Series are merged in
/// label order with a k-way merge, so only one series' samples are in memory at a time.
fn merge(db: &TenantDb, group: &[Arc<Block>]) -> Result<(), StoreError> {
    let min_time = group.iter().map(|b| b.meta.min_time).min().unwrap_or(0);
    let max_time = group.iter().map(|b| b.meta.max_time).max().unwrap_or(0);
    let id = new_block_id();
    let blocks_dir = db.dir.join(files::BLOCKS_DIR);
    let mut writer = BlockWriter::create(&blocks_dir, &id)?;
    let mut cursors: Vec<(usize, u32, Option<Labels>)> =
        group.iter().enumerate().map(|(i, b)| (i, 0, (b.num_series() > 0).then(|| b.labels(0)))).collect();
    let mut samples: Vec<Sample> = Vec::new();
    while let Some(smallest) = cursors.iter().filter_map(|c| c.2.as_ref()).min().cloned() {
        samples.clear();
        for (block_index, series_id, labels) in &mut cursors {
            if labels.as_ref() != Some(&smallest) {
                continue;
            }
            let block = &group[*block_index];
            block.samples_in(*series_id, i64::MIN, i64::MAX, &mut samples)?;
            *series_id += 1;
            *labels = ((*series_id as usize) < block.num_series()).then(|| block.labels(*series_id));
        }
        // Stable sort: for equal timestamps the sample from the older block (earlier in the group) wins.
        samples.sort_by_key(|s| s.timestamp_ms);
        dedup_by_timestamp(&mut samples, 0);
        writer.add(smallest.iter().map(|l| (l.name.as_str(), l.value.as_str())), &samples)?;
    }
    let level = group.iter().map(|b| b.meta.compaction.level).max().unwrap_or(1) + 1;
    let mut sources: Vec<String> = group.iter().flat_map(|b| b.meta.compaction.sources.clone()).collect();
    sources.sort();
    let written = writer.finish(min_time, max_time, CompactionInfo { level, sources })?;
    if written.is_some() {
        db.add_block(Arc::new(Block::open(&blocks_dir.join(&id))?));
    }
    let old_ids: Vec<String> = group.iter().map(|b| b.meta.id.clone()).collect();
    db.remove_blocks(&old_ids)?;
    tracing::debug!(tenant = %db.tenant, blocks = group.len(), min_time, max_time, "compacted blocks");
    Ok(())
}
