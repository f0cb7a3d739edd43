//! A segmented, checksummed write-ahead log with group-commit fsync and checkpoints.
//!
//! The log is a directory of numbered segment files plus at most one checkpoint file. A record is an opaque byte
//! string owned by the caller (the metrics store puts a type byte first); the log frames it with a length and a
//! CRC-32C so that a torn or corrupted write is detected on replay. Layout: `docs/formats/wal.md`.
//!
//! Durability contract: [`Wal::append`] has written the records to the operating system when it returns, so an
//! acknowledged write survives the death of the process (`kill -9`). Whether it also survives a power loss
//! depends on the [`SyncPolicy`]: `Always` fsyncs before [`Wal::append`] returns, sharing one fsync among
//! concurrent writers (group commit); `Interval` fsyncs in the background at most that long after a write.
//!
//! A checkpoint replaces every segment up to some number with a file the caller writes from its own state (for
//! the metrics store: the series and compressed chunks of the head). Replay reads the checkpoint, then the
//! segments after it.

mod files;
mod reader;
mod writer;

pub use files::{SEGMENT_HEADER_LEN, SEGMENT_MAGIC, WAL_FORMAT_VERSION, checkpoint_file_name, segment_file_name};
pub use reader::{ReplayStats, replay};
pub use writer::{SyncPolicy, Wal, WalOptions, WalStats, begin_record, finish_record, frame_record};

use std::path::PathBuf;

/// Why a WAL operation failed.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error("wal i/o on {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("wal file {path} is not a wal segment (bad magic or version)")]
    BadHeader { path: PathBuf },
    #[error("record of {len} bytes is larger than the limit of {limit} bytes")]
    RecordTooLarge { len: usize, limit: usize },
}

impl WalError {
    /// An I/O error on `path` (also for callers producing checkpoint records from files of their own).
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        WalError::Io { path: path.into(), source }
    }
}

/// The largest record accepted (a framed length is a `u32`, and replay must be able to hold one in memory).
pub const MAX_RECORD_LEN: usize = 256 << 20;
