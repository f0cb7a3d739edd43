//! One tenant's TSDB: the WAL, the head and the blocks, with the write path and maintenance (cutting blocks,
//! checkpoints, compaction, retention). Reads are in `tenant_reader.rs`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Instant;

use oxeye_model::{RejectReason, Rejection, TenantId};
use oxeye_wal::{Wal, WalError, WalOptions};

use crate::block::{Block, BlockWriter, CompactionInfo, files, new_block_id};
use crate::head::{CheckpointSnapshot, ChunkFiles, Head, HeadStats, KeyHasher};
use crate::wal_records::{self, Record};
use crate::{Limits, StoreError, StoreOptions};

/// Counters of one tenant's activity, read by the self-metrics endpoint.
#[derive(Debug, Default)]
pub struct TenantStats {
    pub samples_appended: AtomicU64,
    pub exemplars_appended: AtomicU64,
    pub series_created: AtomicU64,
    pub rejected_samples: [AtomicU64; RejectReason::ALL.len()],
    pub blocks_cut: AtomicU64,
    pub compactions: AtomicU64,
    pub blocks_deleted: AtomicU64,
    pub checkpoints: AtomicU64,
    pub wal_replay_records: AtomicU64,
}

impl TenantStats {
    pub fn count_rejection(&self, rejection: &Rejection) {
        let index = RejectReason::ALL.iter().position(|r| *r == rejection.reason).unwrap_or(0);
        self.rejected_samples[index].fetch_add(rejection.samples.max(1) as u64, Ordering::Relaxed);
    }
}

pub(crate) struct RateLimiter {
    pub(crate) tokens: f64,
    pub(crate) last: Instant,
}

/// Series a block cut fetches from the head per lock: enough to make the locking cost nothing, few enough that the
/// batch's shared chunk pointers and label copies are small.
const CUT_BATCH_SERIES: usize = 1024;

/// One tenant's time series database.
pub struct TenantDb {
    pub(crate) tenant: TenantId,
    pub(crate) dir: PathBuf,
    pub(crate) limits: Limits,
    pub(crate) block_range_ms: i64,
    pub(crate) wal: Wal,
    pub(crate) head: Mutex<Head>,
    pub(crate) blocks: RwLock<Vec<Arc<Block>>>,
    maintenance: Mutex<()>,
    pub(crate) rate: Mutex<RateLimiter>,
    pub(crate) stats: TenantStats,
    /// Hashes senders' label encodings for the head's key map (outside the head lock).
    pub(crate) key_hasher: KeyHasher,
}

impl TenantDb {
    /// Opens (or creates) the tenant's database in `dir`: loads blocks, replays the WAL into the head.
    pub fn open(tenant: TenantId, dir: &Path, options: &StoreOptions) -> Result<Self, StoreError> {
        let block_range_ms = options.block_range.as_millis() as i64;
        let blocks_dir = dir.join(files::BLOCKS_DIR);
        std::fs::create_dir_all(&blocks_dir).map_err(|e| StoreError::io(&blocks_dir, e))?;
        let blocks = load_blocks(&blocks_dir)?;
        let newest_block_end = blocks.iter().map(|b| b.meta.max_time).max().unwrap_or(i64::MIN);

        let mut head = Head::new(options.samples_per_head_chunk, block_range_ms);
        let chunks_dir = dir.join(files::HEAD_CHUNKS_DIR);
        head.use_chunk_files(ChunkFiles::open(&chunks_dir).map_err(|e| StoreError::io(&chunks_dir, e))?);
        head.min_valid_time = newest_block_end;
        let wal_dir = dir.join(files::WAL_DIR);
        let stats = TenantStats::default();
        let replay = oxeye_wal::replay(&wal_dir, |payload| match wal_records::decode(payload) {
            Ok(record) => apply_replayed(&mut head, record, newest_block_end),
            Err(error) => tracing::warn!(%tenant, %error, "skipping undecodable wal record"),
        })?;
        stats.wal_replay_records.store(replay.records, Ordering::Relaxed);
        if let Some((file, offset)) = &replay.truncated_at {
            tracing::warn!(%tenant, file, offset, dropped_segments = replay.dropped_segments, "wal had a torn or corrupt record; cut there");
        }
        tracing::info!(%tenant, records = replay.records, series = head.num_series(), blocks = blocks.len(), "metrics store opened");
        let wal = Wal::open(&wal_dir, WalOptions { segment_size: options.wal_segment_size, sync: options.wal_sync })?;
        Ok(Self {
            limits: options.limits_for(tenant.as_str()).clone(),
            tenant,
            dir: dir.to_path_buf(),
            block_range_ms,
            wal,
            head: Mutex::new(head),
            blocks: RwLock::new(blocks),
            maintenance: Mutex::new(()),
            rate: Mutex::new(RateLimiter { tokens: 0.0, last: Instant::now() }),
            stats,
            key_hasher: KeyHasher::default(),
        })
    }

    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    pub fn stats(&self) -> &TenantStats {
        &self.stats
    }

    pub fn wal(&self) -> &Wal {
        &self.wal
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub(crate) fn lock_head(&self) -> MutexGuard<'_, Head> {
        self.head.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn blocks_snapshot(&self) -> Vec<Arc<Block>> {
        self.blocks.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Number of series in the head.
    pub fn head_series(&self) -> usize {
        self.lock_head().num_series()
    }

    /// Cardinality statistics of the head, each list cut to its top `limit` entries (Prometheus's
    /// `/api/v1/status/tsdb`, which also describes only the head). Walks the whole index under the head lock, so
    /// writes wait for it.
    pub fn head_stats(&self, limit: usize) -> HeadStats {
        self.lock_head().stats(limit)
    }

    /// Number of blocks and their bytes on disk.
    pub fn block_summary(&self) -> (usize, u64) {
        let blocks = self.blocks_snapshot();
        (blocks.len(), blocks.iter().map(|b| b.disk_bytes).sum())
    }

    /// Background work, in order: cut blocks from the head while it spans more than a block range plus the
    /// cut margin (see `cut_margin_ms`), checkpoint the WAL, compact, apply retention.
    pub fn maintain(&self, now_ms: i64) -> Result<(), StoreError> {
        let _guard = self.maintenance.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut cut = false;
        while self.cut_oldest_range(false)? {
            cut = true;
        }
        if cut {
            self.checkpoint()?;
        }
        crate::compaction::compact(self)?;
        self.apply_retention(now_ms)
    }

    /// Writes everything in the head into blocks and checkpoints the WAL (the `/api/v1/admin/flush` endpoint and
    /// benchmarks use it). Samples older than the newest flushed one are refused afterwards.
    pub fn flush(&self) -> Result<(), StoreError> {
        let _guard = self.maintenance.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        while self.cut_oldest_range(true)? {}
        self.checkpoint()?;
        crate::compaction::compact(self)
    }

    /// Cuts the oldest block range out of the head. With `force`, also the newest, partial range (ending just
    /// after the newest sample). Returns false if there was nothing to cut.
    fn cut_oldest_range(&self, force: bool) -> Result<bool, StoreError> {
        let range = self.block_range_ms;
        let (start, end, cut_ids) = {
            let mut head = self.lock_head();
            let Some(min_t) = head.min_time() else {
                return Ok(false);
            };
            let max_t = head.max_t;
            if !force && max_t.saturating_sub(min_t) <= range + self.cut_margin_ms() {
                return Ok(false);
            }
            let start = min_t.div_euclid(range) * range;
            let end = (start + range).min(max_t.saturating_add(1)).max(start + 1);
            // Close the range to writers before releasing the lock, so nothing lands in it while it is written.
            head.min_valid_time = head.min_valid_time.max(end);
            (start, end, head.plan_cut(start, end))
        };
        let id = new_block_id();
        let blocks_dir = self.dir.join(files::BLOCKS_DIR);
        let mut writer = BlockWriter::create(&blocks_dir, &id)?;
        let mut samples = Vec::new();
        let mut chunk_buf = Vec::new();
        let mut batch = Vec::with_capacity(CUT_BATCH_SERIES);
        // Series are fetched a batch at a time (the head lock is held only to share their chunks), so the cut never
        // holds more than one batch's bookkeeping; nothing truncates the head until the block is written.
        for batch_ids in cut_ids.chunks(CUT_BATCH_SERIES) {
            batch.clear();
            self.lock_head().snapshot_series(batch_ids, start, end, &mut batch);
            for snapshot in &batch {
                snapshot.samples(start, end, &mut samples, &mut chunk_buf)?;
                writer.add(snapshot.labels.iter().map(|(name, value)| (&**name, &**value)), &samples)?;
            }
        }
        drop(batch);
        drop(cut_ids);
        if writer.finish(start, end, CompactionInfo { level: 1, sources: vec![id.clone()] })?.is_some() {
            let block = Block::open(&blocks_dir.join(&id))?;
            self.add_block(Arc::new(block));
            self.stats.blocks_cut.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(tenant = %self.tenant, start, end, "cut block from head");
        }
        self.lock_head().truncate_before(end);
        release_free_memory();
        Ok(true)
    }

    /// How far past a block range the head must reach before that range is cut. Prometheus waits half a range
    /// (1 h) so that late samples still find their range open; oxeye refuses samples older than the out-of-order
    /// window anyway, so it waits for that window (at least 30 min) and keeps less data in memory.
    fn cut_margin_ms(&self) -> i64 {
        (self.limits.out_of_order_window.as_millis() as i64).max(30 * 60 * 1000).min(self.block_range_ms / 2)
    }

    /// Replaces the WAL up to now with a checkpoint of the head's state.
    fn checkpoint(&self) -> Result<(), StoreError> {
        let (through, snapshot) = {
            let head = self.lock_head();
            let through = self.wal.cut_segment()?;
            (through, head.checkpoint_snapshot())
        };
        self.wal.write_checkpoint(through, checkpoint_records(&snapshot))?;
        self.stats.checkpoints.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    pub(crate) fn add_block(&self, block: Arc<Block>) {
        let mut blocks = self.blocks.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        blocks.push(block);
        blocks.sort_by_key(|b| (b.meta.min_time, b.meta.max_time));
    }

    /// Removes blocks from the list and deletes their directories.
    pub(crate) fn remove_blocks(&self, ids: &[String]) -> Result<(), StoreError> {
        {
            let mut blocks = self.blocks.write().unwrap_or_else(|poisoned| poisoned.into_inner());
            blocks.retain(|b| !ids.contains(&b.meta.id));
        }
        let blocks_dir = self.dir.join(files::BLOCKS_DIR);
        for id in ids {
            let dir = blocks_dir.join(id);
            let deleting = blocks_dir.join(format!("{id}{}", files::DELETING_SUFFIX));
            // Rename first so a crash mid-delete never leaves a half-deleted block that looks whole.
            std::fs::rename(&dir, &deleting).map_err(|e| StoreError::io(&dir, e))?;
            std::fs::remove_dir_all(&deleting).map_err(|e| StoreError::io(&deleting, e))?;
        }
        Ok(())
    }

    /// Deletes whole blocks whose newest data is older than the retention.
    fn apply_retention(&self, now_ms: i64) -> Result<(), StoreError> {
        let cutoff = now_ms.saturating_sub(self.limits.retention.as_millis() as i64);
        let expired: Vec<String> =
            self.blocks_snapshot().iter().filter(|b| b.meta.max_time <= cutoff).map(|b| b.meta.id.clone()).collect();
        if expired.is_empty() {
            return Ok(());
        }
        tracing::info!(tenant = %self.tenant, blocks = expired.len(), "retention: deleting expired blocks");
        self.remove_blocks(&expired)?;
        self.stats.blocks_deleted.fetch_add(expired.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Fsyncs the WAL (for the interval sync policy and shutdown).
    pub fn sync_wal(&self) -> Result<(), StoreError> {
        Ok(self.wal.sync()?)
    }
}

/// Returns memory freed by a head truncation to the operating system. glibc keeps freed heap memory for reuse;
/// after a block cut that memory is large and scattered, so without this the process's resident size would stay
/// at its pre-cut peak until new samples fill it again.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: malloc_trim only releases free heap pages; it takes no pointers and is thread-safe in glibc.
        unsafe {
            malloc_trim(0);
        }
    }
}

fn apply_replayed(head: &mut Head, record: Record, newest_block_end: i64) {
    match record {
        Record::Series(series) => {
            for (id, labels) in series {
                head.create_for_replay(id, &labels);
            }
        }
        Record::Samples(samples) => {
            for (id, timestamp, value) in samples {
                if timestamp >= newest_block_end {
                    head.apply_sample(id, timestamp, value);
                }
            }
        }
        Record::Exemplars(exemplars) => {
            for (id, exemplar) in exemplars {
                head.add_exemplar(id, exemplar, usize::MAX);
            }
        }
        Record::Metadata(metadata) => {
            for entry in &metadata {
                head.set_metadata(entry);
            }
        }
        Record::Chunk { series, min_t, max_t, bytes } => {
            if max_t >= newest_block_end {
                head.apply_chunk(series, min_t, max_t, bytes);
            }
        }
        Record::HeadState { min_valid_time } => head.min_valid_time = head.min_valid_time.max(min_valid_time),
    }
}

/// The records of a checkpoint, produced one at a time: head state, series (in batches), then per series its
/// chunks, out-of-order samples and exemplars, then metadata. See `docs/formats/wal.md`.
/// Chunks in head chunk files are read back here; a failed read fails the checkpoint (before it replaces anything).
fn checkpoint_records(snapshot: &CheckpointSnapshot) -> impl Iterator<Item = Result<Vec<u8>, WalError>> + '_ {
    let head_state = std::iter::once_with(|| {
        let mut buf = Vec::new();
        wal_records::encode_head_state(&mut buf, snapshot.min_valid_time);
        buf
    });
    let series_records = snapshot.series.chunks(1000).map(|batch| {
        let refs: Vec<(u32, _)> = batch.iter().map(|s| (s.id, snapshot.labels(s))).collect();
        let mut buf = Vec::new();
        wal_records::encode_series_pairs(&mut buf, &refs);
        buf
    });
    let mut chunk_buf = Vec::new();
    let data_records = snapshot.series.iter().flat_map(move |series| {
        let mut records = Vec::new();
        for (min_t, max_t, chunk) in &series.chunks {
            let bytes = match chunk.read(&mut chunk_buf) {
                Ok(bytes) => bytes,
                Err(error) => {
                    records.push(Err(WalError::io(chunk.path().unwrap_or(Path::new("?")), error)));
                    return records;
                }
            };
            let mut buf = Vec::new();
            wal_records::encode_chunk(&mut buf, series.id, *min_t, *max_t, bytes);
            records.push(Ok(buf));
        }
        if let Some((min_t, max_t, bytes)) = &series.open {
            let mut buf = Vec::new();
            wal_records::encode_chunk(&mut buf, series.id, *min_t, *max_t, bytes);
            records.push(Ok(buf));
        }
        if !series.out_of_order.is_empty() {
            let samples: Vec<(u32, i64, f64)> =
                series.out_of_order.iter().map(|s| (series.id, s.timestamp_ms, s.value)).collect();
            let mut buf = Vec::new();
            wal_records::encode_samples(&mut buf, &samples);
            records.push(Ok(buf));
        }
        if !series.exemplars.is_empty() {
            let exemplars: Vec<(u32, &oxeye_model::Exemplar)> =
                series.exemplars.iter().map(|e| (series.id, e)).collect();
            let mut buf = Vec::new();
            wal_records::encode_exemplars(&mut buf, &exemplars);
            records.push(Ok(buf));
        }
        records
    });
    let metadata = std::iter::once_with(|| {
        let refs: Vec<&oxeye_model::MetricMetadata> = snapshot.metadata.iter().collect();
        let mut buf = Vec::new();
        if !refs.is_empty() {
            wal_records::encode_metadata(&mut buf, &refs);
        }
        buf
    })
    .filter(|buf| !buf.is_empty());
    head_state.chain(series_records).map(Ok).chain(data_records).chain(metadata.map(Ok))
}

fn load_blocks(blocks_dir: &Path) -> Result<Vec<Arc<Block>>, StoreError> {
    let mut blocks = Vec::new();
    for entry in std::fs::read_dir(blocks_dir).map_err(|e| StoreError::io(blocks_dir, e))? {
        let entry = entry.map_err(|e| StoreError::io(blocks_dir, e))?;
        let name = entry.file_name().to_string_lossy().to_string();
        let path = entry.path();
        if name.ends_with(files::TMP_SUFFIX) || name.ends_with(files::DELETING_SUFFIX) {
            // An interrupted write or delete: the block was never (or is no longer) part of the store.
            std::fs::remove_dir_all(&path).map_err(|e| StoreError::io(&path, e))?;
            continue;
        }
        if path.is_dir() {
            blocks.push(Arc::new(Block::open(&path)?));
        }
    }
    blocks.sort_by_key(|b| (b.meta.min_time, b.meta.max_time));
    Ok(blocks)
}

#[cfg(test)]
mod tests;
