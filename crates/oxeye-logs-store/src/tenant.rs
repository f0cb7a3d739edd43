//! One tenant's logs: head, WAL and blocks, and the operations on them.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use oxeye_model::{LogBatch, LogStream, TenantId};
use oxeye_wal::{SyncPolicy, Wal, WalOptions};

use crate::block::Block;
use crate::files::{BLOCKS_DIR, LOGS_DIR, WAL_DIR, block_file_name, list_blocks, remove_wal_segments_through};
use crate::head::Head;
use crate::limits::{self, LogLimits, LogRejectReason, LogRejection, RateLimiter};
use crate::wal_records::{decode_append, encode_append};
use crate::{LogsError, LogsOptions};

/// What an append did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppendOutcome {
    pub accepted_entries: usize,
    pub accepted_bytes: usize,
    /// Entries refused, grouped by reason (each with the first message of that reason and a count).
    pub rejections: Vec<LogRejection>,
}

impl AppendOutcome {
    fn reject(&mut self, reason: LogRejectReason, entries: usize, bytes: usize, message: impl FnOnce() -> String) {
        match self.rejections.iter_mut().find(|rejection| rejection.reason == reason) {
            Some(rejection) => {
                rejection.entries += entries;
                rejection.bytes += bytes;
            }
            None => self.rejections.push(LogRejection { reason, entries, bytes, message: message() }),
        }
    }
}

/// The head never holds more than this, whatever `head_max_bytes` says: rows address their stream's arena with
/// 32-bit offsets.
const HEAD_HARD_LIMIT_BYTES: u64 = 3 << 30;

/// Called with every accepted batch after it is durable (live tailing).
pub type AppendObserver = Arc<dyn Fn(&TenantId, &[LogStream]) + Send + Sync>;

/// A head that has been swapped out and is being written as a block; still readable until the block is published.
pub(crate) struct FrozenHead {
    pub head: Head,
}

/// One tenant's log database.
pub struct TenantLogs {
    tenant: TenantId,
    dir: PathBuf,
    options: Arc<LogsOptions>,
    pub(crate) head: RwLock<Head>,
    pub(crate) frozen: RwLock<Vec<Arc<FrozenHead>>>,
    pub(crate) blocks: RwLock<Vec<Arc<Block>>>,
    wal: Wal,
    rate: Mutex<RateLimiter>,
    /// Serialises cuts.
    cutting: Mutex<()>,
    /// Serialises compactions and retention (separate from cuts, so a long merge never delays a cut of a full head).
    maintenance: Mutex<()>,
    /// A cut started by an append that filled the head is running (see [`TenantLogs::append`]).
    cut_running: std::sync::atomic::AtomicBool,
    /// Signalled when such a cut ends; appends wait on it while the head is over its limit.
    cut_finished: (Mutex<()>, std::sync::Condvar),
    next_block: Mutex<u64>,
}

impl TenantLogs {
    /// Opens (or creates) the tenant's directory: loads blocks, drops WAL segments already in a block, replays
    /// the rest of the WAL into the head.
    pub(crate) fn open(tenant: TenantId, tenant_dir: &Path, options: Arc<LogsOptions>) -> Result<Self, LogsError> {
        let dir = tenant_dir.join(LOGS_DIR);
        let blocks_dir = dir.join(BLOCKS_DIR);
        let wal_dir = dir.join(WAL_DIR);
        std::fs::create_dir_all(&blocks_dir).map_err(|e| LogsError::io(&blocks_dir, e))?;
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
            Some(streams) => {
                for stream in &streams {
                    head.append(&stream.labels, &stream.entries, now_ns);
                }
            }
            None => tracing::warn!(tenant = %tenant.as_str(), "skipping an unreadable logs WAL record"),
        })?;
        if let Some((file, offset)) = &replay.truncated_at {
            tracing::warn!(tenant = %tenant.as_str(), file, offset, "logs WAL had a torn tail; cut there");
        }
        let wal = Wal::open(&wal_dir, WalOptions { segment_size: options.wal_segment_size, sync: options.wal_sync })?;
        let limits = options.limits_for(tenant.as_str());
        let rate = RateLimiter::new(limits.ingestion_burst_bytes);
        tracing::info!(tenant = %tenant.as_str(), blocks = blocks.len(), head_entries = head.entries, "opened logs");
        Ok(Self {
            tenant,
            dir,
            options,
            head: RwLock::new(head),
            frozen: RwLock::new(Vec::new()),
            blocks: RwLock::new(blocks),
            wal,
            rate: Mutex::new(rate),
            cutting: Mutex::new(()),
            maintenance: Mutex::new(()),
            cut_running: std::sync::atomic::AtomicBool::new(false),
            cut_finished: (Mutex::new(()), std::sync::Condvar::new()),
            next_block: Mutex::new(next_block),
        })
    }

    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    fn limits(&self) -> &LogLimits {
        self.options.limits_for(self.tenant.as_str())
    }

    /// Validates and stores a batch. Entries that break a limit are refused and reported; the rest are written to
    /// the WAL and the head before this returns (and fsynced first with `SyncPolicy::Always`). A batch over the
    /// ingestion rate is refused whole, as Loki does.
    ///
    /// Memory: when the head reaches its size limit, a cut starts on a background thread at once rather than at
    /// the next maintenance pass. Writing a block runs at the speed of one core's compression, which a fast client
    /// can outpace; so while a cut runs and the head has refilled to its limit, appends wait for the cut to end
    /// (back-pressure: slower answers, never unbounded memory). The head and the one being cut then hold about
    /// twice the limit.
    pub fn append(self: &Arc<Self>, batch: LogBatch, now_ns: i64) -> Result<AppendOutcome, LogsError> {
        self.wait_while_far_behind();
        let outcome = self.append_inner(batch, now_ns)?;
        let full = self.head.read().unwrap_or_else(|p| p.into_inner()).raw_bytes >= self.options.head_max_bytes;
        if full && !self.cut_running.swap(true, std::sync::atomic::Ordering::AcqRel) {
            let tenant = self.clone();
            let spawned = std::thread::Builder::new().name("oxeye-logs-cut".into()).spawn(move || {
                if let Err(error) = tenant.cut_if_due(crate::now_ns(), false) {
                    tracing::error!(tenant = %tenant.tenant.as_str(), %error, "cutting a full logs head failed");
                }
                tenant.end_background_cut();
            });
            if spawned.is_err() {
                self.end_background_cut();
            }
        }
        Ok(outcome)
    }

    /// Appends without starting a background cut or waiting for one (tests of the hard limit).
    #[cfg(test)]
    pub(crate) fn append_for_test(&self, batch: LogBatch, now_ns: i64) -> AppendOutcome {
        self.append_inner(batch, now_ns).expect("append")
    }

    /// Holds the cut lock, so no cut runs while the guard lives (tests).
    #[cfg(test)]
    pub(crate) fn hold_cuts_for_test(&self) -> std::sync::MutexGuard<'_, ()> {
        self.cutting.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn end_background_cut(&self) {
        let _guard = self.cut_finished.0.lock().unwrap_or_else(|p| p.into_inner());
        self.cut_running.store(false, std::sync::atomic::Ordering::Release);
        self.cut_finished.1.notify_all();
    }

    /// Blocks while a background cut runs and the head is over its limit (at most a minute, so a stuck cut cannot
    /// stop ingest for good).
    fn wait_while_far_behind(&self) {
        let far_behind = || {
            self.cut_running.load(std::sync::atomic::Ordering::Acquire)
                && self.head.read().unwrap_or_else(|p| p.into_inner()).raw_bytes >= self.options.head_max_bytes
        };
        if !far_behind() {
            return;
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut guard = self.cut_finished.0.lock().unwrap_or_else(|p| p.into_inner());
        while far_behind() {
            let now = std::time::Instant::now();
            if now >= deadline {
                tracing::warn!(tenant = %self.tenant.as_str(), "logs head still over its limit after a minute");
                return;
            }
            guard = self.cut_finished.1.wait_timeout(guard, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    fn append_inner(&self, batch: LogBatch, now_ns: i64) -> Result<AppendOutcome, LogsError> {
        let limits = self.limits().clone();
        let mut outcome = AppendOutcome::default();
        let total_lines = batch.entry_count();
        let total_bytes: usize = batch.streams.iter().flat_map(|s| &s.entries).map(|e| e.size_bytes()).sum();
        if total_lines == 0 {
            return Ok(outcome);
        }
        {
            let mut rate = self.rate.lock().unwrap_or_else(|p| p.into_inner());
            if !rate.try_take(total_bytes as f64, limits.ingestion_rate_bytes, limits.ingestion_burst_bytes, now_ns) {
                let tenant = self.tenant.as_str();
                outcome.reject(LogRejectReason::RateLimited, total_lines, total_bytes, || {
                    limits::rate_limited(tenant, limits.ingestion_rate_bytes, total_lines, total_bytes)
                });
                return Ok(outcome);
            }
        }
        let oldest_ns = now_ns.saturating_sub(limits.retention.as_nanos() as i64);
        let newest_ns = now_ns.saturating_add(limits.creation_grace_period.as_nanos() as i64);
        let mut accepted: Vec<LogStream> = Vec::with_capacity(batch.streams.len());
        for mut stream in batch.streams {
            if let Some((reason, message)) = validate_labels(&stream, &limits) {
                let bytes = stream.entries.iter().map(|e| e.size_bytes()).sum();
                outcome.reject(reason, stream.entries.len(), bytes, || message);
                continue;
            }
            let labels = &stream.labels;
            stream.entries.retain(|entry| {
                let (reason, message): (LogRejectReason, Box<dyn FnOnce() -> String>) =
                    if entry.line.len() > limits.max_line_size {
                        let length = entry.line.len();
                        (
                            LogRejectReason::LineTooLong,
                            Box::new(move || limits::line_too_long(limits.max_line_size, labels, length)),
                        )
                    } else if entry.timestamp_ns < oldest_ns {
                        let ts = entry.timestamp_ns;
                        (LogRejectReason::TooOld, Box::new(move || limits::too_old(labels, ts, oldest_ns)))
                    } else if entry.timestamp_ns > newest_ns {
                        let ts = entry.timestamp_ns;
                        (LogRejectReason::TooNew, Box::new(move || limits::too_new(labels, ts)))
                    } else {
                        return true;
                    };
                outcome.reject(reason, 1, entry.size_bytes(), message);
                false
            });
            if !stream.entries.is_empty() {
                accepted.push(stream);
            }
        }
        if accepted.is_empty() {
            return Ok(outcome);
        }

        let sequence = {
            let mut head = self.head.write().unwrap_or_else(|p| p.into_inner());
            // A hard bound whatever happens to cuts (back-pressure waits at most a minute); it also keeps every
            // stream's arena within the 32-bit offsets of its rows.
            let hard_limit = self.options.head_max_bytes.saturating_mul(4).min(HEAD_HARD_LIMIT_BYTES);
            if head.raw_bytes >= hard_limit {
                let (entries, bytes) =
                    accepted.iter().flat_map(|s| &s.entries).fold((0, 0), |(n, b), e| (n + 1, b + e.size_bytes()));
                let held = head.raw_bytes;
                let tenant = self.tenant.as_str();
                outcome.reject(LogRejectReason::HeadFull, entries, bytes, || limits::head_full(tenant, held));
                return Ok(outcome);
            }
            let mut new_streams = 0usize;
            let mut seen_new = HashSet::new();
            let existing = head.streams.len();
            accepted.retain(|stream| {
                if head.stream_index(&stream.labels).is_some() || seen_new.contains(&stream.labels) {
                    return true;
                }
                if existing + new_streams >= limits.max_streams {
                    let bytes = stream.entries.iter().map(|e| e.size_bytes()).sum();
                    let tenant = self.tenant.as_str();
                    outcome.reject(LogRejectReason::StreamLimit, stream.entries.len(), bytes, || {
                        limits::stream_limit(tenant)
                    });
                    return false;
                }
                new_streams += 1;
                seen_new.insert(stream.labels.clone());
                true
            });
            if accepted.is_empty() {
                return Ok(outcome);
            }
            // The record is encoded straight into its frame: one copy of the lines, not two.
            let mut framed = Vec::with_capacity(total_bytes + 64 * accepted.len() + 8);
            let refs: Vec<&LogStream> = accepted.iter().collect();
            let start = oxeye_wal::begin_record(&mut framed);
            encode_append(&mut framed, &refs);
            oxeye_wal::finish_record(&mut framed, start);
            let sequence = self.wal.write(&framed)?;
            for stream in &accepted {
                outcome.accepted_entries += head.append(&stream.labels, &stream.entries, now_ns);
                outcome.accepted_bytes += stream.entries.iter().map(|e| e.size_bytes()).sum::<usize>();
            }
            sequence
        };
        if self.wal.sync_policy() == SyncPolicy::Always {
            self.wal.sync_through(sequence)?;
        }
        if let Some(observer) = &self.options.append_observer {
            observer(&self.tenant, &accepted);
        }
        Ok(outcome)
    }

    /// Fsyncs the WAL.
    pub fn sync_wal(&self) -> Result<(), LogsError> {
        Ok(self.wal.sync()?)
    }

    /// Cuts the head into a block if it is large or old enough (or always with `force`), then applies retention
    /// and compaction. Returns whether a block was cut.
    pub fn maintain(&self, now_ns: i64, force: bool) -> Result<bool, LogsError> {
        let cut = self.cut_if_due(now_ns, force)?;
        let _guard = self.maintenance.lock().unwrap_or_else(|p| p.into_inner());
        self.apply_retention(now_ns)?;
        crate::compaction::compact(self)?;
        Ok(cut)
    }

    /// Cuts the head into a block if it is large or old enough (or always with `force`); returns whether it did.
    fn cut_if_due(&self, now_ns: i64, force: bool) -> Result<bool, LogsError> {
        let _guard = self.cutting.lock().unwrap_or_else(|p| p.into_inner());
        let due = {
            let head = self.head.read().unwrap_or_else(|p| p.into_inner());
            !head.is_empty()
                && (force
                    || head.raw_bytes >= self.options.head_max_bytes
                    || head.first_append_ns.is_some_and(|first| {
                        now_ns.saturating_sub(first) >= self.options.head_max_age.as_nanos() as i64
                    }))
        };
        Ok(due && self.cut_head()?)
    }

    /// Swaps the head out, writes it as a block, publishes the block and drops the WAL segments it covers.
    fn cut_head(&self) -> Result<bool, LogsError> {
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
        tracing::debug!(tenant = %self.tenant.as_str(), path = %block.path.display(), entries = block.entries, "cut logs block");
        Ok(true)
    }

    fn write_head_block(&self, head: &Head, wal_through: u64) -> Result<Arc<Block>, LogsError> {
        let path = self.new_block_path();
        let mut writer = crate::block::BlockWriter::create(&path)?;
        let mut order: Vec<usize> = (0..head.streams.len()).collect();
        order.sort_by(|a, b| head.streams[*a].labels.cmp(&head.streams[*b].labels));
        let mut metadata = Vec::new();
        for index in order {
            let stream = &head.streams[index];
            if stream.entries == 0 {
                continue;
            }
            let mut rows: Vec<(&crate::head::HeadRun, &crate::head::HeadRow)> = stream.rows().collect();
            rows.sort_by_key(|(_, row)| row.timestamp_ns);
            writer.begin_stream(&stream.labels)?;
            for (run, row) in rows {
                run.metadata(row, &mut metadata);
                writer.push_row(row.timestamp_ns, run.line(row), &metadata)?;
            }
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
    pub(crate) fn replace_blocks(&self, old: &[Arc<Block>], new: Option<Arc<Block>>) -> Result<(), LogsError> {
        {
            let mut blocks = self.blocks.write().unwrap_or_else(|p| p.into_inner());
            blocks.retain(|block| !old.iter().any(|o| Arc::ptr_eq(o, block)));
            if let Some(new) = new {
                blocks.push(new);
            }
        }
        for block in old {
            let deleting = block.path.with_extension("deleting");
            std::fs::rename(&block.path, &deleting).map_err(|e| LogsError::io(&block.path, e))?;
            std::fs::remove_file(&deleting).map_err(|e| LogsError::io(&deleting, e))?;
        }
        crate::files::sync_dir(&self.dir.join(BLOCKS_DIR))
    }

    /// Deletes blocks whose newest entry is older than the retention.
    fn apply_retention(&self, now_ns: i64) -> Result<(), LogsError> {
        let cutoff = now_ns.saturating_sub(self.limits().retention.as_nanos() as i64);
        let expired: Vec<Arc<Block>> = self
            .blocks
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|block| block.max_ns < cutoff)
            .cloned()
            .collect();
        if !expired.is_empty() {
            tracing::info!(tenant = %self.tenant.as_str(), blocks = expired.len(), "deleting logs blocks past retention");
            self.replace_blocks(&expired, None)?;
        }
        Ok(())
    }

    /// Published blocks, oldest first.
    pub(crate) fn blocks_snapshot(&self) -> Vec<Arc<Block>> {
        let mut blocks = self.blocks.read().unwrap_or_else(|p| p.into_inner()).clone();
        blocks.sort_by_key(|block| (block.min_ns, block.max_ns));
        blocks
    }

    /// Sizes for self-metrics.
    pub fn summary(&self) -> crate::TenantLogsSummary {
        let head = self.head.read().unwrap_or_else(|p| p.into_inner());
        let blocks = self.blocks.read().unwrap_or_else(|p| p.into_inner());
        crate::TenantLogsSummary {
            tenant: self.tenant.clone(),
            head_streams: head.streams.len(),
            head_entries: head.entries,
            head_bytes: head.raw_bytes,
            blocks: blocks.len(),
            block_bytes: blocks.iter().map(|b| b.file_bytes()).sum(),
            block_raw_bytes: blocks.iter().map(|b| b.raw_bytes).sum(),
            wal_bytes: self.wal.disk_bytes(),
        }
    }
}

fn validate_labels(stream: &LogStream, limits: &LogLimits) -> Option<(LogRejectReason, String)> {
    let labels = &stream.labels;
    if labels.len() > limits.max_label_names_per_stream {
        return Some((
            LogRejectReason::TooManyLabels,
            limits::too_many_labels(labels, labels.len(), limits.max_label_names_per_stream),
        ));
    }
    for label in labels.iter() {
        if label.name.len() > limits.max_label_name_length {
            return Some((LogRejectReason::LabelNameTooLong, limits::label_name_too_long(labels, &label.name)));
        }
        if label.value.len() > limits.max_label_value_length {
            return Some((LogRejectReason::LabelValueTooLong, limits::label_value_too_long(labels, &label.value)));
        }
    }
    None
}
