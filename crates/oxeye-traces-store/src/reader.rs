//! [`TracesReader`] over one tenant: the head, heads being cut, and blocks.
//!
//! Tag names, tag values and services are answered from unit summaries (the head's running one, each block's in
//! its index): a unit counts if its time range overlaps the request, so the answer is exact to the unit, not to
//! the span — as Tempo answers tag searches from block-level data.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::sync::Arc;

use oxeye_model::{AttrValue, Trace, TraceId};
use oxeye_storage_api::{
    ReadError, ServiceOperations, TagNames, TagScope, TraceScanRequest, TraceScanStats, TraceSink, TracesReader,
};

use crate::block::PageScratch;
use crate::head::{Head, normalize_spans};
use crate::summary::{UnitSummary, ValueKey, services_answer, tag_names_answer};
use crate::tenant::TenantTraces;
use crate::terms::fragment_matches;

/// Reads one tenant's traces. Cheap to create per request.
pub struct TenantTracesReader {
    tenant: Arc<TenantTraces>,
}

impl TenantTracesReader {
    pub fn new(tenant: Arc<TenantTraces>) -> Self {
        Self { tenant }
    }

    /// Runs `visit` on the summary of every unit (head, heads being cut, blocks) overlapping the range.
    fn for_each_summary(&self, start_ns: u64, end_ns: u64, mut visit: impl FnMut(&UnitSummary)) {
        {
            let head = self.tenant.head.read().unwrap_or_else(|p| p.into_inner());
            if head.summary.overlaps(start_ns, end_ns) {
                visit(&head.summary);
            }
        }
        for frozen in self.tenant.frozen.read().unwrap_or_else(|p| p.into_inner()).iter() {
            if frozen.head.summary.overlaps(start_ns, end_ns) {
                visit(&frozen.head.summary);
            }
        }
        for block in self.tenant.blocks_newest_first() {
            if block.overlaps(start_ns, end_ns) {
                visit(&block.summary);
            }
        }
    }
}

fn storage_error(error: crate::TracesError) -> ReadError {
    ReadError::Storage(error.to_string())
}

/// Copies the fragments of a head that overlap the request and meet its hints (the head is unindexed, so hints
/// are checked exactly on its spans; the caller would drop the others anyway).
fn head_fragments(head: &Head, request: &TraceScanRequest) -> Vec<Trace> {
    let mut fragments = Vec::new();
    for (trace_id, trace) in &head.traces {
        if !trace.overlaps(request.start_ns, request.end_ns) {
            continue;
        }
        let mut spans = head.spans_of(trace);
        if !fragment_matches(&request.hints, &spans) {
            continue;
        }
        normalize_spans(&mut spans);
        fragments.push(Trace { trace_id: *trace_id, spans, truncated_spans: trace.truncated });
    }
    // Newest first within the head too.
    fragments.sort_by_key(|fragment| std::cmp::Reverse(fragment.end_ns()));
    fragments
}

fn hand_over(fragments: Vec<Trace>, sink: &mut dyn TraceSink, stats: &mut TraceScanStats) -> ControlFlow<()> {
    for fragment in fragments {
        stats.inspected_traces += 1;
        stats.inspected_spans += fragment.spans.len() as u64;
        sink.fragment(fragment)?;
    }
    ControlFlow::Continue(())
}

impl TracesReader for TenantTracesReader {
    fn trace_by_id(&self, trace_id: TraceId, range: Option<(u64, u64)>) -> Result<Option<Trace>, ReadError> {
        let (start_ns, end_ns) = range.unwrap_or((0, u64::MAX));
        let mut spans = Vec::new();
        let mut truncated = 0;
        let mut take_head = |head: &Head| {
            if let Some(trace) = head.traces.get(&trace_id) {
                truncated += trace.truncated;
                if range.is_none() || trace.overlaps(start_ns, end_ns) {
                    spans.extend(head.spans_of(trace));
                }
            }
        };
        take_head(&self.tenant.head.read().unwrap_or_else(|p| p.into_inner()));
        let frozen = self.tenant.frozen.read().unwrap_or_else(|p| p.into_inner()).clone();
        for frozen_head in &frozen {
            take_head(&frozen_head.head);
        }
        let mut scratch = PageScratch::default();
        for block in self.tenant.blocks_newest_first() {
            if range.is_some() && !block.overlaps(start_ns, end_ns) {
                continue;
            }
            if let Some((fragment, fragment_truncated)) =
                block.trace_fragment(trace_id, range, &mut scratch).map_err(storage_error)?
            {
                spans.extend(fragment);
                truncated += fragment_truncated;
            }
        }
        if spans.is_empty() {
            return Ok(None);
        }
        normalize_spans(&mut spans);
        Ok(Some(Trace { trace_id, spans, truncated_spans: truncated }))
    }

    fn scan(&self, request: &TraceScanRequest, sink: &mut dyn TraceSink) -> Result<TraceScanStats, ReadError> {
        let mut stats = TraceScanStats::default();
        if request.start_ns > request.end_ns {
            return Ok(stats);
        }
        // The lock is held only to copy the matching fragments; the engine's work happens after.
        let fragments = {
            let head = self.tenant.head.read().unwrap_or_else(|p| p.into_inner());
            if !head.is_empty() {
                stats.units_opened += 1;
            }
            head_fragments(&head, request)
        };
        if hand_over(fragments, sink, &mut stats).is_break() {
            return Ok(stats);
        }
        let frozen = self.tenant.frozen.read().unwrap_or_else(|p| p.into_inner()).clone();
        for frozen_head in frozen.iter().rev() {
            stats.units_opened += 1;
            if hand_over(head_fragments(&frozen_head.head, request), sink, &mut stats).is_break() {
                return Ok(stats);
            }
        }
        let mut scratch = PageScratch::default();
        for block in self.tenant.blocks_newest_first() {
            if !block.overlaps(request.start_ns, request.end_ns) {
                stats.units_skipped += block.pages.len() as u64;
                continue;
            }
            for page in &block.pages {
                let in_range = page.spans > 0 && page.min_ns <= request.end_ns && page.max_ns >= request.start_ns;
                if !in_range || !block.page_may_match(page, &request.hints).map_err(storage_error)? {
                    stats.units_skipped += 1;
                    continue;
                }
                stats.units_opened += 1;
                stats.inspected_bytes += block.load_page(page, &mut scratch).map_err(storage_error)?;
                let trace_ids = block.page_trace_ids(page);
                let flow = block
                    .read_page_traces(
                        page,
                        &scratch,
                        |_| true,
                        |index, spans, truncated| {
                            let fragment = Trace { trace_id: trace_ids[index], spans, truncated_spans: truncated };
                            let wanted = !fragment.spans.is_empty()
                                && fragment.start_ns() <= request.end_ns
                                && fragment.end_ns() >= request.start_ns
                                && fragment_matches(&request.hints, &fragment.spans);
                            if !wanted {
                                return ControlFlow::Continue(());
                            }
                            stats.inspected_traces += 1;
                            stats.inspected_spans += fragment.spans.len() as u64;
                            sink.fragment(fragment)
                        },
                    )
                    .map_err(storage_error)?;
                if flow.is_break() {
                    return Ok(stats);
                }
            }
        }
        Ok(stats)
    }

    fn tag_names(&self, start_ns: u64, end_ns: u64) -> Result<TagNames, ReadError> {
        let mut names = (BTreeSet::new(), BTreeSet::new());
        self.for_each_summary(start_ns, end_ns, |summary| summary.add_tag_names(&mut names));
        Ok(tag_names_answer(names))
    }

    fn tag_values(
        &self,
        scope: Option<TagScope>,
        key: &str,
        start_ns: u64,
        end_ns: u64,
        limit: usize,
    ) -> Result<Vec<AttrValue>, ReadError> {
        let mut values: BTreeSet<ValueKey> = BTreeSet::new();
        self.for_each_summary(start_ns, end_ns, |summary| summary.add_tag_values(scope, key, &mut values));
        let limit = if limit == 0 { usize::MAX } else { limit };
        Ok(values.into_iter().take(limit).map(ValueKey::into_value).collect())
    }

    fn services(&self, start_ns: u64, end_ns: u64) -> Result<Vec<ServiceOperations>, ReadError> {
        let mut services = BTreeMap::new();
        self.for_each_summary(start_ns, end_ns, |summary| summary.add_services(&mut services));
        Ok(services_answer(services))
    }
}
