//! One tenant's traces: head, WAL and blocks, and the operations on them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};

use oxeye_model::{AttrValue, Attribute, Resource, Scope, Span, SpanBatch, TenantId, TraceId};
use oxeye_wal::{SyncPolicy, Wal, WalOptions};

use crate::block::{Block, BlockWriter};
use crate::files::{BLOCKS_DIR, TRACES_DIR, WAL_DIR, block_file_name, list_blocks, remove_wal_segments_through};
use crate::head::{Head, normalize_spans};
use crate::limits::{self, LiveTraceCounts, RateLimiter, TraceLimits, TraceRejectReason, TraceRejection};
use crate::wal_records::{decode_append, encode_append};
use crate::{TracesError, TracesOptions};

/// What an append did: the API renders refusals as an OTLP partial success (`rejected_spans` and a message) or,
/// when [`AppendOutcome::retryable_rejection`] is set, as HTTP 429 / gRPC `RESOURCE_EXHAUSTED`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppendOutcome {
    pub accepted_spans: usize,
    /// Spans refused, grouped by reason (each with the first message of that reason and a count).
    pub rejections: Vec<TraceRejection>,
    /// String attribute values cut to `max_attribute_bytes` (a value shared by many spans through their resource
    /// counts once).
    pub truncated_attribute_values: usize,
}

impl AppendOutcome {
    /// Spans refused for any reason.
    pub fn rejected_spans(&self) -> usize {
        self.rejections.iter().map(|rejection| rejection.spans).sum()
    }

    /// The refusal a client should retry later (rate limit, full head), if the batch met one.
    pub fn retryable_rejection(&self) -> Option<&TraceRejection> {
        self.rejections.iter().find(|rejection| rejection.reason.is_retryable())
    }

    /// The rejection messages joined with `; ` (OTLP `partial_success.error_message`); empty when all spans were
    /// accepted.
    pub fn error_message(&self) -> String {
        self.rejections.iter().map(|rejection| rejection.message.as_str()).collect::<Vec<_>>().join("; ")
    }

    fn reject(&mut self, reason: TraceRejectReason, spans: usize, message: impl FnOnce() -> String) {
        if spans == 0 {
            return;
        }
        match self.rejections.iter_mut().find(|rejection| rejection.reason == reason) {
            Some(rejection) => rejection.spans += spans,
            None => self.rejections.push(TraceRejection { reason, spans, message: message() }),
        }
    }
}

/// The head never holds more than this many encoded bytes, whatever `head_max_bytes` says.
const HEAD_HARD_LIMIT_BYTES: u64 = 2 << 30;

/// A head that has been swapped out and is being written as a block; still readable until the block is published.
pub(crate) struct FrozenHead {
    pub head: Head,
}

/// One tenant's trace database.
pub struct TenantTraces {
    tenant: TenantId,
    dir: PathBuf,
    options: Arc<TracesOptions>,
    pub(crate) head: RwLock<Head>,
    pub(crate) frozen: RwLock<Vec<Arc<FrozenHead>>>,
    pub(crate) blocks: RwLock<Vec<Arc<Block>>>,
    wal: Wal,
    rate: Mutex<RateLimiter>,
    /// Span counts of recently active traces (the span limit across head cuts). Locked inside the head's lock.
    live: Mutex<LiveTraceCounts>,
    /// Serialises cuts.
    cutting: Mutex<()>,
    /// Serialises compactions and retention (separate from cuts, so a long merge never delays a cut of a full head).
    maintenance: Mutex<()>,
    /// A cut started by an append that filled the head is running (see [`TenantTraces::append`]).
    cut_running: AtomicBool,
    /// Signalled when such a cut ends; appends wait on it while the head is over its limit.
    cut_finished: (Mutex<()>, Condvar),
    next_block: Mutex<u64>,
}

impl TenantTraces {
    /// Opens (or creates) the tenant's directory: loads blocks, drops WAL segments already in a block, replays the
    /// rest of the WAL into the head (a torn tail is cut by the WAL reader).
    pub(crate) fn open(tenant: TenantId, tenant_dir: &Path, options: Arc<TracesOptions>) -> Result<Self, TracesError> {
        let dir = tenant_dir.join(TRACES_DIR);
        let blocks_dir = dir.join(BLOCKS_DIR);
        let wal_dir = dir.join(WAL_DIR);
        std::fs::create_dir_all(&blocks_dir).map_err(|e| TracesError::io(&blocks_dir, e))?;
        let mut blocks = Vec::new();
        let mut next_block = 1;
        for (number, path) in list_blocks(&blocks_dir)? {
            blocks.push(Arc::new(Block::open(&path)?));
            next_block = number + 1;
        }
        let wal_through = blocks.iter().map(|block| block.wal_through).max().unwrap_or(0);
        remove_wal_segments_through(&wal_dir, wal_through)?;
        let mut head = Head::default();
        let now_ns = crate::now_ns();
        let replay = oxeye_wal::replay(&wal_dir, |record| match decode_append(record) {
            Some(append) => head.append(append.spans, &append.truncations, record.len() as u64, now_ns),
            None => tracing::warn!(tenant = %tenant.as_str(), "skipping an unreadable traces WAL record"),
        })?;
        if let Some((file, offset)) = &replay.truncated_at {
            tracing::warn!(tenant = %tenant.as_str(), file, offset, "traces WAL had a torn tail; cut there");
        }
        let wal = Wal::open(&wal_dir, WalOptions { segment_size: options.wal_segment_size, sync: options.wal_sync })?;
        let limits = options.limits_for(tenant.as_str());
        let rate = RateLimiter::new(limits.ingestion_burst_spans);
        let mut live = LiveTraceCounts::new(options.live_traces_capacity);
        for (trace_id, trace) in &head.traces {
            *live.entry(*trace_id) += trace.span_count;
        }
        tracing::info!(tenant = %tenant.as_str(), blocks = blocks.len(), head_spans = head.spans, "opened traces");
        Ok(Self {
            tenant,
            dir,
            options,
            head: RwLock::new(head),
            frozen: RwLock::new(Vec::new()),
            blocks: RwLock::new(blocks),
            wal,
            rate: Mutex::new(rate),
            live: Mutex::new(live),
            cutting: Mutex::new(()),
            maintenance: Mutex::new(()),
            cut_running: AtomicBool::new(false),
            cut_finished: (Mutex::new(()), Condvar::new()),
            next_block: Mutex::new(next_block),
        })
    }

    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    fn limits(&self) -> &TraceLimits {
        self.options.limits_for(self.tenant.as_str())
    }

    /// A reader of this tenant's traces.
    pub fn reader(self: &Arc<Self>) -> crate::TenantTracesReader {
        crate::TenantTracesReader::new(self.clone())
    }

    /// Validates and stores a batch at the current time; see [`TenantTraces::append_at`].
    pub fn append(self: &Arc<Self>, batch: SpanBatch) -> Result<AppendOutcome, TracesError> {
        self.append_at(batch, crate::now_ns())
    }

    /// Validates and stores a batch; `now_ns` drives the rate limit and the head's age. Spans that break a limit
    /// are refused and reported; the rest are written to the WAL and the head before this returns (and fsynced
    /// first with `SyncPolicy::Always`). A batch over the span rate is refused whole, as Tempo does.
    ///
    /// Memory: when the head reaches `head_max_bytes`, a cut starts on a background thread at once. While that cut
    /// runs and the head has refilled to its limit, appends wait for it (back-pressure); past a hard bound (four
    /// times the limit) spans are refused with [`TraceRejectReason::HeadFull`].
    pub fn append_at(self: &Arc<Self>, batch: SpanBatch, now_ns: i64) -> Result<AppendOutcome, TracesError> {
        self.wait_while_far_behind();
        let outcome = self.append_inner(batch, now_ns)?;
        let full = self.head.read().unwrap_or_else(|p| p.into_inner()).bytes >= self.options.head_max_bytes;
        if full && !self.cut_running.swap(true, Ordering::AcqRel) {
            let tenant = self.clone();
            let spawned = std::thread::Builder::new().name("oxeye-traces-cut".into()).spawn(move || {
                if let Err(error) = tenant.cut_if_due(crate::now_ns(), false) {
                    tracing::error!(tenant = %tenant.tenant.as_str(), %error, "cutting a full traces head failed");
                }
                tenant.end_background_cut();
            });
            if spawned.is_err() {
                self.end_background_cut();
            }
        }
        Ok(outcome)
    }

    fn end_background_cut(&self) {
        let _guard = self.cut_finished.0.lock().unwrap_or_else(|p| p.into_inner());
        self.cut_running.store(false, Ordering::Release);
        self.cut_finished.1.notify_all();
    }

    /// Blocks while a background cut runs and the head is over its limit (at most a minute, so a stuck cut cannot
    /// stop ingest for good).
    fn wait_while_far_behind(&self) {
        let far_behind = || {
            self.cut_running.load(Ordering::Acquire)
                && self.head.read().unwrap_or_else(|p| p.into_inner()).bytes >= self.options.head_max_bytes
        };
        if !far_behind() {
            return;
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut guard = self.cut_finished.0.lock().unwrap_or_else(|p| p.into_inner());
        while far_behind() {
            let now = std::time::Instant::now();
            if now >= deadline {
                tracing::warn!(tenant = %self.tenant.as_str(), "traces head still over its limit after a minute");
                return;
            }
            guard = self.cut_finished.1.wait_timeout(guard, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    pub(crate) fn append_inner(&self, batch: SpanBatch, now_ns: i64) -> Result<AppendOutcome, TracesError> {
        let limits = self.limits().clone();
        let tenant = self.tenant.as_str();
        let mut outcome = AppendOutcome::default();
        if batch.is_empty() {
            return Ok(outcome);
        }
        {
            let mut rate = self.rate.lock().unwrap_or_else(|p| p.into_inner());
            let spans = batch.len();
            if !rate.try_take(spans as f64, limits.ingestion_rate_spans, limits.ingestion_burst_spans, now_ns) {
                outcome.reject(TraceRejectReason::RateLimited, spans, || {
                    limits::rate_limited(tenant, limits.ingestion_rate_spans, limits.ingestion_burst_spans, spans)
                });
                return Ok(outcome);
            }
        }
        let mut spans = batch.spans;
        spans.retain(|span| {
            if span.trace_id.is_zero() {
                outcome.reject(TraceRejectReason::InvalidTraceId, 1, || limits::invalid_trace_id(&span.span_id));
                false
            } else if span.span_id.is_zero() {
                outcome.reject(TraceRejectReason::InvalidSpanId, 1, || limits::invalid_span_id(&span.trace_id));
                false
            } else {
                true
            }
        });
        if limits.max_attribute_bytes > 0 {
            outcome.truncated_attribute_values = truncate_attribute_values(&mut spans, limits.max_attribute_bytes);
        }
        if spans.is_empty() {
            return Ok(outcome);
        }

        let sequence = {
            let mut head = self.head.write().unwrap_or_else(|p| p.into_inner());
            let hard_limit = self.options.head_max_bytes.saturating_mul(4).min(HEAD_HARD_LIMIT_BYTES);
            if head.bytes >= hard_limit {
                let held = head.bytes;
                outcome.reject(TraceRejectReason::HeadFull, spans.len(), || limits::head_full(tenant, held));
                return Ok(outcome);
            }
            let mut truncations: Vec<(TraceId, u64)> = Vec::new();
            {
                let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
                let mut refused: HashMap<TraceId, u64> = HashMap::new();
                spans.retain(|span| {
                    let count = live.entry(span.trace_id);
                    if *count >= limits.max_spans_per_trace {
                        *refused.entry(span.trace_id).or_default() += 1;
                        false
                    } else {
                        *count += 1;
                        true
                    }
                });
                for (trace_id, count) in refused {
                    outcome.reject(TraceRejectReason::TraceTooLarge, count as usize, || {
                        limits::trace_too_large(tenant, &trace_id, limits.max_spans_per_trace)
                    });
                    truncations.push((trace_id, count));
                }
            }
            truncations.sort();
            if spans.is_empty() && truncations.is_empty() {
                return Ok(outcome);
            }
            let mut framed = Vec::with_capacity(spans.iter().map(Span::size_bytes).sum::<usize>() + 64);
            let start = oxeye_wal::begin_record(&mut framed);
            encode_append(&mut framed, &spans, &truncations);
            oxeye_wal::finish_record(&mut framed, start);
            let sequence = self.wal.write(&framed)?;
            outcome.accepted_spans = spans.len();
            head.append(spans, &truncations, (framed.len() - 8) as u64, now_ns);
            sequence
        };
        if self.wal.sync_policy() == SyncPolicy::Always {
            self.wal.sync_through(sequence)?;
        }
        Ok(outcome)
    }

    /// Fsyncs the WAL.
    pub fn sync_wal(&self) -> Result<(), TracesError> {
        Ok(self.wal.sync()?)
    }

    /// Cuts the head into a block if it is large or old enough (or always with `force`), then applies retention
    /// and compaction. Returns whether a block was cut.
    pub fn maintain(&self, now_ns: i64, force: bool) -> Result<bool, TracesError> {
        let cut = self.cut_if_due(now_ns, force)?;
        let _guard = self.maintenance.lock().unwrap_or_else(|p| p.into_inner());
        self.apply_retention(now_ns)?;
        while crate::compaction::compact(self)? {}
        Ok(cut)
    }

    /// Cuts the head into a block if it is large or old enough (or always with `force`); returns whether it did.
    fn cut_if_due(&self, now_ns: i64, force: bool) -> Result<bool, TracesError> {
        let _guard = self.cutting.lock().unwrap_or_else(|p| p.into_inner());
        let due = {
            let head = self.head.read().unwrap_or_else(|p| p.into_inner());
            !head.is_empty()
                && (force
                    || head.bytes >= self.options.head_max_bytes
                    || head.first_append_ns.is_some_and(|first| {
                        now_ns.saturating_sub(first) >= self.options.head_max_age.as_nanos() as i64
                    }))
        };
        Ok(due && self.cut_head()?)
    }

    /// Swaps the head out, writes it as a block, publishes the block and drops the WAL segments it covers.
    fn cut_head(&self) -> Result<bool, TracesError> {
        let (frozen, wal_through) = {
            let mut head = self.head.write().unwrap_or_else(|p| p.into_inner());
            if head.is_empty() {
                return Ok(false);
            }
            let wal_through = self.wal.cut_segment()?;
            let frozen = Arc::new(FrozenHead { head: std::mem::take(&mut *head) });
            self.frozen.write().unwrap_or_else(|p| p.into_inner()).push(frozen.clone());
            (frozen, wal_through)
        };
        let result = self.write_head_block(&frozen.head, wal_through);
        if let Ok(block) = &result {
            self.blocks.write().unwrap_or_else(|p| p.into_inner()).push(block.clone());
        }
        // On failure the frozen head stays readable (its data is still in the WAL and is replayed on restart).
        if result.is_ok() {
            self.frozen.write().unwrap_or_else(|p| p.into_inner()).retain(|f| !Arc::ptr_eq(f, &frozen));
            remove_wal_segments_through(self.wal.dir(), wal_through)?;
        }
        let block = result?;
        tracing::debug!(tenant = %self.tenant.as_str(), path = %block.path.display(), spans = block.summary.spans, "cut traces block");
        Ok(true)
    }

    fn write_head_block(&self, head: &Head, wal_through: u64) -> Result<Arc<Block>, TracesError> {
        let path = self.new_block_path();
        let mut writer = BlockWriter::create(&path)?;
        let mut ids: Vec<&TraceId> = head.traces.keys().collect();
        ids.sort_unstable();
        for trace_id in ids {
            let trace = &head.traces[trace_id];
            let mut spans = head.spans_of(trace);
            normalize_spans(&mut spans);
            writer.push_trace(*trace_id, &spans, trace.truncated)?;
        }
        let path = writer.finish(wal_through)?;
        Ok(Arc::new(Block::open(&path)?))
    }

    pub(crate) fn new_block_path(&self) -> PathBuf {
        let mut next = self.next_block.lock().unwrap_or_else(|p| p.into_inner());
        let number = *next;
        *next += 1;
        self.dir.join(BLOCKS_DIR).join(block_file_name(number))
    }

    /// Replaces `old` blocks with `new` in the published list, then deletes the old files.
    pub(crate) fn replace_blocks(&self, old: &[Arc<Block>], new: Option<Arc<Block>>) -> Result<(), TracesError> {
        {
            let mut blocks = self.blocks.write().unwrap_or_else(|p| p.into_inner());
            blocks.retain(|block| !old.iter().any(|o| Arc::ptr_eq(o, block)));
            if let Some(new) = new {
                blocks.push(new);
            }
        }
        for block in old {
            let deleting = block.path.with_extension("deleting");
            std::fs::rename(&block.path, &deleting).map_err(|e| TracesError::io(&block.path, e))?;
            std::fs::remove_file(&deleting).map_err(|e| TracesError::io(&deleting, e))?;
        }
        crate::files::sync_dir(&self.dir.join(BLOCKS_DIR))
    }

    /// Deletes blocks whose newest span ended longer ago than the retention.
    fn apply_retention(&self, now_ns: i64) -> Result<(), TracesError> {
        let cutoff = now_ns.saturating_sub(self.limits().retention.as_nanos() as i64).max(0) as u64;
        let expired: Vec<Arc<Block>> = self
            .blocks
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|block| block.max_ns() < cutoff)
            .cloned()
            .collect();
        if !expired.is_empty() {
            tracing::info!(tenant = %self.tenant.as_str(), blocks = expired.len(), "deleting traces blocks past retention");
            self.replace_blocks(&expired, None)?;
        }
        Ok(())
    }

    /// Published blocks, newest (by latest span end) first.
    pub(crate) fn blocks_newest_first(&self) -> Vec<Arc<Block>> {
        let mut blocks = self.blocks.read().unwrap_or_else(|p| p.into_inner()).clone();
        blocks.sort_by_key(|block| std::cmp::Reverse((block.max_ns(), block.min_ns())));
        blocks
    }

    /// Sizes for self-metrics.
    pub fn summary(&self) -> crate::TenantTracesSummary {
        let live_traces = self.live.lock().unwrap_or_else(|p| p.into_inner()).len();
        let head = self.head.read().unwrap_or_else(|p| p.into_inner());
        let blocks = self.blocks.read().unwrap_or_else(|p| p.into_inner());
        crate::TenantTracesSummary {
            tenant: self.tenant.clone(),
            head_traces: head.traces.len(),
            head_spans: head.spans,
            head_bytes: head.bytes,
            blocks: blocks.len(),
            block_bytes: blocks.iter().map(|b| b.file_bytes()).sum(),
            block_spans: blocks.iter().map(|b| b.summary.spans).sum(),
            block_traces: blocks.iter().map(|b| b.summary.traces).sum(),
            wal_bytes: self.wal.disk_bytes(),
            live_traces,
        }
    }
}

/// Cuts string values longer than `limit` bytes (at a character boundary) in span, event, link, resource and scope
/// attributes; returns how many values were cut. Shared resources and scopes are copied once per batch.
fn truncate_attribute_values(spans: &mut [Span], limit: usize) -> usize {
    let mut truncated = 0;
    // Old pointer → (old, replacement); holding the old `Arc` keeps its pointer from being reused meanwhile.
    let mut resources: HashMap<usize, (Arc<Resource>, Arc<Resource>)> = HashMap::new();
    let mut scopes: HashMap<usize, (Arc<Scope>, Arc<Scope>)> = HashMap::new();
    for span in spans {
        truncated += truncate_all(&mut span.attributes, limit);
        for event in &mut span.events {
            truncated += truncate_all(&mut event.attributes, limit);
        }
        for link in &mut span.links {
            truncated += truncate_all(&mut link.attributes, limit);
        }
        let pointer = Arc::as_ptr(&span.resource) as usize;
        if let Some((_, replacement)) = resources.get(&pointer) {
            span.resource = replacement.clone();
        } else {
            let mut copy = None;
            if needs_truncation(&span.resource.attributes, limit) {
                let mut resource = (*span.resource).clone();
                truncated += truncate_all(&mut resource.attributes, limit);
                copy = Some(Arc::new(resource));
            }
            let replacement = copy.unwrap_or_else(|| span.resource.clone());
            resources.insert(pointer, (span.resource.clone(), replacement.clone()));
            span.resource = replacement;
        }
        let pointer = Arc::as_ptr(&span.scope) as usize;
        if let Some((_, replacement)) = scopes.get(&pointer) {
            span.scope = replacement.clone();
        } else {
            let mut copy = None;
            if needs_truncation(&span.scope.attributes, limit) {
                let mut scope = (*span.scope).clone();
                truncated += truncate_all(&mut scope.attributes, limit);
                copy = Some(Arc::new(scope));
            }
            let replacement = copy.unwrap_or_else(|| span.scope.clone());
            scopes.insert(pointer, (span.scope.clone(), replacement.clone()));
            span.scope = replacement;
        }
    }
    truncated
}

fn needs_truncation(attributes: &[Attribute], limit: usize) -> bool {
    fn value_needs(value: &AttrValue, limit: usize) -> bool {
        match value {
            AttrValue::Str(text) => text.len() > limit,
            AttrValue::Array(values) => values.iter().any(|value| value_needs(value, limit)),
            AttrValue::KvList(pairs) => pairs.iter().any(|pair| value_needs(&pair.value, limit)),
            _ => false,
        }
    }
    attributes.iter().any(|attribute| value_needs(&attribute.value, limit))
}

fn truncate_all(attributes: &mut [Attribute], limit: usize) -> usize {
    fn truncate_value(value: &mut AttrValue, limit: usize) -> usize {
        match value {
            AttrValue::Str(text) if text.len() > limit => {
                let mut cut = limit;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.truncate(cut);
                1
            }
            AttrValue::Array(values) => values.iter_mut().map(|value| truncate_value(value, limit)).sum(),
            AttrValue::KvList(pairs) => truncate_all(pairs, limit),
            _ => 0,
        }
    }
    attributes.iter_mut().map(|attribute| truncate_value(&mut attribute.value, limit)).sum()
}
