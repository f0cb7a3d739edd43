//! Appending to the log: segments, group-commit fsync, checkpoints.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::files::{checkpoint_file_name, list_dir, segment_file_name, segment_header, sync_dir};
use crate::{MAX_RECORD_LEN, WalError};

/// When the log fsyncs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncPolicy {
    /// Before every append returns; concurrent appends share one fsync (group commit).
    Always,
    /// In the background, at this interval, if anything was written ([`Wal::sync`] is called by the owner's timer).
    Interval(Duration),
    /// Only when a segment is closed and on shutdown.
    Never,
}

/// How a log is written.
#[derive(Clone, Debug)]
pub struct WalOptions {
    /// A segment is closed and a new one started once it exceeds this many bytes.
    pub segment_size: u64,
    pub sync: SyncPolicy,
}

impl Default for WalOptions {
    fn default() -> Self {
        Self { segment_size: 128 << 20, sync: SyncPolicy::Interval(Duration::from_secs(1)) }
    }
}

/// Counters of the log's activity, read by the self-metrics endpoint.
#[derive(Debug, Default)]
pub struct WalStats {
    pub bytes_written: AtomicU64,
    pub records_written: AtomicU64,
    pub fsyncs: AtomicU64,
    pub fsync_nanos_total: AtomicU64,
    pub fsync_nanos_max: AtomicU64,
    pub segments_created: AtomicU64,
    pub checkpoints_written: AtomicU64,
}

struct WriterState {
    file: Arc<File>,
    path: PathBuf,
    segment: u64,
    segment_len: u64,
    /// Appends written so far, counting from the open.
    written_sequence: u64,
}

/// An open write-ahead log. All methods take `&self`; appends are serialised internally.
pub struct Wal {
    dir: PathBuf,
    options: WalOptions,
    state: Mutex<WriterState>,
    sync_lock: Mutex<()>,
    synced_sequence: AtomicU64,
    stats: WalStats,
}

/// Appends `payload` to `dst` framed as a record: `len u32 LE | crc32c u32 LE | payload`.
pub fn frame_record(dst: &mut Vec<u8>, payload: &[u8]) {
    let start = begin_record(dst);
    dst.extend_from_slice(payload);
    finish_record(dst, start);
}

/// Starts a record at the end of `dst` whose payload the caller then appends in place (no copy of a separately
/// built payload); returns the position to pass to [`finish_record`].
pub fn begin_record(dst: &mut Vec<u8>) -> usize {
    let start = dst.len();
    dst.extend_from_slice(&[0u8; 8]);
    start
}

/// Completes the frame of the record begun at `start`: its payload is everything appended since.
pub fn finish_record(dst: &mut [u8], start: usize) {
    let payload_len = (dst.len() - start - 8) as u32;
    let crc = crc32c::crc32c(&dst[start + 8..]);
    dst[start..start + 4].copy_from_slice(&payload_len.to_le_bytes());
    dst[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

impl Wal {
    /// Opens the log in `dir` for appending, creating the directory if needed. Call [`crate::replay`] first: a new
    /// segment is always started after the existing ones.
    pub fn open(dir: &Path, options: WalOptions) -> Result<Self, WalError> {
        std::fs::create_dir_all(dir).map_err(|e| WalError::io(dir, e))?;
        let listing = list_dir(dir).map_err(|e| WalError::io(dir, e))?;
        for temporary in &listing.temporary {
            std::fs::remove_file(temporary).map_err(|e| WalError::io(temporary, e))?;
        }
        let last_segment = listing.segments.last().copied().unwrap_or(0);
        let last_checkpoint = listing.checkpoints.last().copied().unwrap_or(0);
        let segment = last_segment.max(last_checkpoint) + 1;
        let (file, path) = create_segment(dir, segment)?;
        let stats = WalStats::default();
        stats.segments_created.fetch_add(1, Ordering::Relaxed);
        Ok(Self {
            dir: dir.to_path_buf(),
            options,
            state: Mutex::new(WriterState {
                file: Arc::new(file),
                path,
                segment,
                segment_len: crate::SEGMENT_HEADER_LEN as u64,
                written_sequence: 0,
            }),
            sync_lock: Mutex::new(()),
            synced_sequence: AtomicU64::new(0),
            stats,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn stats(&self) -> &WalStats {
        &self.stats
    }

    pub fn sync_policy(&self) -> SyncPolicy {
        self.options.sync
    }

    /// Writes already framed records (see [`frame_record`]) with one `write(2)`. When this returns `Ok`, the records
    /// survive the death of the process; with [`SyncPolicy::Always`] they have also been fsynced.
    pub fn append(&self, framed: &[u8]) -> Result<(), WalError> {
        let sequence = self.write(framed)?;
        if self.options.sync == SyncPolicy::Always {
            self.sync_through(sequence)?;
        }
        Ok(())
    }

    /// Writes framed records like [`Wal::append`] but never fsyncs; returns the write's sequence number for
    /// [`Wal::sync_through`]. Lets a caller release its own locks before waiting for a group-commit fsync.
    pub fn write(&self, framed: &[u8]) -> Result<u64, WalError> {
        if framed.len() > MAX_RECORD_LEN + 8 {
            return Err(WalError::RecordTooLarge { len: framed.len(), limit: MAX_RECORD_LEN });
        }
        let sequence = {
            let mut state = self.lock_state();
            if state.segment_len > crate::SEGMENT_HEADER_LEN as u64
                && state.segment_len + framed.len() as u64 > self.options.segment_size
            {
                self.cut_segment_locked(&mut state)?;
            }
            let path = state.path.clone();
            (&*state.file).write_all(framed).map_err(|e| WalError::io(path, e))?;
            state.segment_len += framed.len() as u64;
            state.written_sequence += 1;
            state.written_sequence
        };
        self.stats.bytes_written.fetch_add(framed.len() as u64, Ordering::Relaxed);
        self.stats.records_written.fetch_add(1, Ordering::Relaxed);
        Ok(sequence)
    }

    /// Fsyncs everything written so far (a no-op if nothing was written since the last fsync).
    pub fn sync(&self) -> Result<(), WalError> {
        let sequence = self.lock_state().written_sequence;
        self.sync_through(sequence)
    }

    /// Makes the write with `sequence` durable. Group commit: the first caller to get the sync lock fsyncs everything written so far; callers whose
    /// append is covered by that fsync return without another.
    pub fn sync_through(&self, sequence: u64) -> Result<(), WalError> {
        if self.synced_sequence.load(Ordering::Acquire) >= sequence {
            return Ok(());
        }
        let _sync_guard = self.sync_lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.synced_sequence.load(Ordering::Acquire) >= sequence {
            return Ok(());
        }
        let (file, path, target) = {
            let state = self.lock_state();
            (state.file.clone(), state.path.clone(), state.written_sequence)
        };
        let started = Instant::now();
        file.sync_data().map_err(|e| WalError::io(path, e))?;
        self.record_fsync(started.elapsed());
        self.synced_sequence.fetch_max(target, Ordering::AcqRel);
        Ok(())
    }

    fn record_fsync(&self, elapsed: Duration) {
        let nanos = elapsed.as_nanos() as u64;
        self.stats.fsyncs.fetch_add(1, Ordering::Relaxed);
        self.stats.fsync_nanos_total.fetch_add(nanos, Ordering::Relaxed);
        self.stats.fsync_nanos_max.fetch_max(nanos, Ordering::Relaxed);
    }

    /// Closes the current segment (fsynced) and starts a new one. Returns the number of the closed segment, which
    /// holds every record appended before this call.
    pub fn cut_segment(&self) -> Result<u64, WalError> {
        let mut state = self.lock_state();
        let closed = state.segment;
        self.cut_segment_locked(&mut state)?;
        Ok(closed)
    }

    fn cut_segment_locked(&self, state: &mut MutexGuard<'_, WriterState>) -> Result<(), WalError> {
        let started = Instant::now();
        state.file.sync_data().map_err(|e| WalError::io(&state.path, e))?;
        self.record_fsync(started.elapsed());
        // Everything written so far is now durable.
        self.synced_sequence.fetch_max(state.written_sequence, Ordering::AcqRel);
        let next = state.segment + 1;
        let (file, path) = create_segment(&self.dir, next)?;
        state.file = Arc::new(file);
        state.path = path;
        state.segment = next;
        state.segment_len = crate::SEGMENT_HEADER_LEN as u64;
        self.stats.segments_created.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Writes a checkpoint that replaces every segment up to and including `through_segment` (a number returned
    /// by [`Wal::cut_segment`]), then removes those segments and older checkpoints. `records` are unframed
    /// payloads, consumed one at a time (a caller can produce them lazily to bound memory); the first `Err` among them
    /// abandons the checkpoint (the temporary file is removed, nothing is replaced) and is returned. The checkpoint is written to a temporary file, fsynced and renamed, so a crash leaves either the
    /// old state or the new one.
    pub fn write_checkpoint(
        &self,
        through_segment: u64,
        records: impl IntoIterator<Item = Result<impl AsRef<[u8]>, WalError>>,
    ) -> Result<(), WalError> {
        let final_path = self.dir.join(checkpoint_file_name(through_segment));
        let temporary_path = self.dir.join(format!("{}.tmp", checkpoint_file_name(through_segment)));
        let file = File::create(&temporary_path).map_err(|e| WalError::io(&temporary_path, e))?;
        let mut writer = BufWriter::with_capacity(1 << 20, file);
        let io = |e| WalError::io(&temporary_path, e);
        writer.write_all(&segment_header()).map_err(io)?;
        let mut frame = Vec::new();
        for payload in records {
            let payload = match payload {
                Ok(payload) => payload,
                Err(error) => {
                    drop(writer);
                    let _ = std::fs::remove_file(&temporary_path);
                    return Err(error);
                }
            };
            frame.clear();
            frame_record(&mut frame, payload.as_ref());
            writer.write_all(&frame).map_err(io)?;
        }
        let file = writer.into_inner().map_err(|e| WalError::io(&temporary_path, e.into_error()))?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&temporary_path, &final_path).map_err(|e| WalError::io(&final_path, e))?;
        sync_dir(&self.dir).map_err(|e| WalError::io(&self.dir, e))?;
        self.stats.checkpoints_written.fetch_add(1, Ordering::Relaxed);

        let listing = list_dir(&self.dir).map_err(|e| WalError::io(&self.dir, e))?;
        for segment in listing.segments.iter().filter(|n| **n <= through_segment) {
            let path = self.dir.join(segment_file_name(*segment));
            std::fs::remove_file(&path).map_err(|e| WalError::io(&path, e))?;
        }
        for checkpoint in listing.checkpoints.iter().filter(|n| **n < through_segment) {
            let path = self.dir.join(checkpoint_file_name(*checkpoint));
            std::fs::remove_file(&path).map_err(|e| WalError::io(&path, e))?;
        }
        sync_dir(&self.dir).map_err(|e| WalError::io(&self.dir, e))
    }

    /// Total bytes of the files in the log directory.
    pub fn disk_bytes(&self) -> u64 {
        std::fs::read_dir(&self.dir)
            .map(|entries| entries.filter_map(Result::ok).filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
            .unwrap_or(0)
    }

    fn lock_state(&self) -> MutexGuard<'_, WriterState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn create_segment(dir: &Path, number: u64) -> Result<(File, PathBuf), WalError> {
    let path = dir.join(segment_file_name(number));
    let mut file =
        OpenOptions::new().create(true).truncate(true).write(true).open(&path).map_err(|e| WalError::io(&path, e))?;
    file.write_all(&segment_header()).map_err(|e| WalError::io(&path, e))?;
    sync_dir(dir).map_err(|e| WalError::io(dir, e))?;
    Ok((file, path))
}

#[cfg(test)]
mod tests;
