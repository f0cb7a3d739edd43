//! Compaction: small blocks of the same day are merged into one, joining the fragments of each trace (a trace
//! whose spans arrived across head cuts becomes one fragment again) and dropping repeated spans.
//!
//! Policy: among published blocks smaller than [`SMALL_BLOCK_BYTES`], those whose earliest span falls on the same
//! UTC day are merged once there are at least [`MIN_BLOCKS_TO_MERGE`] of them, oldest first, while their total
//! stays within [`COMPACTED_BLOCK_BYTES`] (which bounds the output). Inputs are sorted by trace id, so the merge
//! streams them: one decoded page per input at a time.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use oxeye_model::{Span, TraceId};

use crate::TracesError;
use crate::block::{Block, BlockWriter, PageScratch};
use crate::head::normalize_spans;
use crate::tenant::TenantTraces;

/// Blocks at or above this size are left alone.
pub(crate) const SMALL_BLOCK_BYTES: u64 = 32 << 20;
/// A merge stops before its inputs exceed this size.
pub(crate) const COMPACTED_BLOCK_BYTES: u64 = 256 << 20;
/// A day's small blocks are merged once there are this many.
pub(crate) const MIN_BLOCKS_TO_MERGE: usize = 4;

const DAY_NS: u64 = 86_400 * 1_000_000_000;

/// Runs at most one merge; returns whether it merged.
pub(crate) fn compact(tenant: &TenantTraces) -> Result<bool, TracesError> {
    let mut by_day: BTreeMap<u64, Vec<Arc<Block>>> = BTreeMap::new();
    for block in tenant.blocks_newest_first().into_iter().rev() {
        if block.file_bytes() < SMALL_BLOCK_BYTES {
            by_day.entry(block.min_ns() / DAY_NS).or_default().push(block);
        }
    }
    let Some(mut group) = by_day.into_values().find(|blocks| blocks.len() >= MIN_BLOCKS_TO_MERGE) else {
        return Ok(false);
    };
    group.sort_by_key(|block| (block.min_ns(), block.max_ns()));
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
    tracing::debug!(tenant = %tenant.tenant().as_str(), inputs = inputs.len(), path = %merged.path.display(), "compacted traces blocks");
    tenant.replace_blocks(&inputs, Some(merged))?;
    Ok(true)
}

/// Reads one input block page by page, in trace-id order.
struct InputCursor<'a> {
    block: &'a Block,
    next_page: usize,
    scratch: PageScratch,
    fragments: VecDeque<(TraceId, Vec<Span>, u64)>,
}

impl<'a> InputCursor<'a> {
    fn new(block: &'a Block) -> Self {
        Self { block, next_page: 0, scratch: PageScratch::default(), fragments: VecDeque::new() }
    }

    /// The next trace id, loading the next page when the current one is used up.
    fn peek(&mut self) -> Result<Option<TraceId>, TracesError> {
        while self.fragments.is_empty() && self.next_page < self.block.pages.len() {
            let page = &self.block.pages[self.next_page];
            self.next_page += 1;
            self.block.load_page(page, &mut self.scratch)?;
            let trace_ids = self.block.page_trace_ids(page);
            let fragments = &mut self.fragments;
            let _ = self.block.read_page_traces(
                page,
                &self.scratch,
                |_| true,
                |index, spans, truncated| {
                    fragments.push_back((trace_ids[index], spans, truncated));
                    std::ops::ControlFlow::Continue(())
                },
            )?;
        }
        Ok(self.fragments.front().map(|(trace_id, _, _)| *trace_id))
    }
}

/// Writes one block holding every trace of `inputs`, each trace's fragments joined and repeated spans dropped.
pub(crate) fn merge(tenant: &TenantTraces, inputs: &[Arc<Block>]) -> Result<Arc<Block>, TracesError> {
    let path = tenant.new_block_path();
    let mut writer = BlockWriter::create(&path)?;
    let mut cursors: Vec<InputCursor<'_>> = inputs.iter().map(|block| InputCursor::new(block)).collect();
    loop {
        let mut smallest: Option<TraceId> = None;
        for cursor in &mut cursors {
            if let Some(trace_id) = cursor.peek()? {
                smallest = Some(smallest.map_or(trace_id, |current| current.min(trace_id)));
            }
        }
        let Some(trace_id) = smallest else { break };
        let mut spans = Vec::new();
        let mut truncated = 0;
        for cursor in &mut cursors {
            if cursor.fragments.front().is_some_and(|(id, _, _)| *id == trace_id)
                && let Some((_, fragment, fragment_truncated)) = cursor.fragments.pop_front()
            {
                spans.extend(fragment);
                truncated += fragment_truncated;
            }
        }
        normalize_spans(&mut spans);
        writer.push_trace(trace_id, &spans, truncated)?;
    }
    let wal_through = inputs.iter().map(|block| block.wal_through).max().unwrap_or(0);
    let path = writer.finish(wal_through)?;
    Ok(Arc::new(Block::open(&path)?))
}
