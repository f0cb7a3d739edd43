//! Replay: read the checkpoint and the segments after it, repairing a torn tail.

use std::fs::OpenOptions;
use std::io::Read;
use std::path::Path;

use crate::files::{SEGMENT_HEADER_LEN, SEGMENT_MAGIC, checkpoint_file_name, list_dir, segment_file_name, sync_dir};
use crate::{MAX_RECORD_LEN, WalError};

/// What a replay found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplayStats {
    pub records: u64,
    pub bytes: u64,
    pub segments: u64,
    /// The checkpoint replayed first, if any (the segment number it replaces through).
    pub checkpoint: Option<u64>,
    /// Where a torn or corrupt record was found and the log cut: (file name, byte offset).
    pub truncated_at: Option<(String, u64)>,
    /// Segments removed because they followed a corrupt record.
    pub dropped_segments: u64,
}

/// Replays every record of the WAL in `dir`, oldest first, calling `apply` with each record's payload.
///
/// A record whose frame is incomplete or whose checksum does not match ends the replay: the file is truncated
/// there (a torn last write, the normal result of a crash) and any later segments are removed, so that new
/// appends continue a consistent log. The caller learns where from [`ReplayStats::truncated_at`].
pub fn replay(dir: &Path, mut apply: impl FnMut(&[u8])) -> Result<ReplayStats, WalError> {
    let mut stats = ReplayStats::default();
    if !dir.exists() {
        return Ok(stats);
    }
    let listing = list_dir(dir).map_err(|e| WalError::io(dir, e))?;
    let checkpoint = listing.checkpoints.last().copied();
    let mut files: Vec<String> = Vec::new();
    if let Some(through) = checkpoint {
        stats.checkpoint = Some(through);
        files.push(checkpoint_file_name(through));
    }
    let first_segment = checkpoint.map_or(0, |through| through + 1);
    files.extend(listing.segments.iter().filter(|n| **n >= first_segment).map(|n| segment_file_name(*n)));

    let mut buffer = Vec::new();
    for (index, name) in files.iter().enumerate() {
        let path = dir.join(name);
        buffer.clear();
        std::fs::File::open(&path)
            .and_then(|mut file| file.read_to_end(&mut buffer))
            .map_err(|e| WalError::io(&path, e))?;
        if name.starts_with("checkpoint.") {
            // A checkpoint is written whole and renamed into place, so any damage is real corruption.
            check_header(&buffer, &path)?;
        } else {
            stats.segments += 1;
            if buffer.len() < SEGMENT_HEADER_LEN {
                // Crashed right after creating the segment: rewrite its header.
                truncate_file(&path, 0)?;
                let mut file = OpenOptions::new().append(true).open(&path).map_err(|e| WalError::io(&path, e))?;
                std::io::Write::write_all(&mut file, &crate::files::segment_header())
                    .map_err(|e| WalError::io(&path, e))?;
                file.sync_all().map_err(|e| WalError::io(&path, e))?;
                continue;
            }
            check_header(&buffer, &path)?;
        }
        let valid_len = replay_records(&buffer, &mut apply, &mut stats);
        if valid_len < buffer.len() {
            stats.truncated_at = Some((name.clone(), valid_len as u64));
            truncate_file(&path, valid_len as u64)?;
            for later in &files[index + 1..] {
                let later_path = dir.join(later);
                std::fs::remove_file(&later_path).map_err(|e| WalError::io(&later_path, e))?;
                stats.dropped_segments += 1;
            }
            sync_dir(dir).map_err(|e| WalError::io(dir, e))?;
            break;
        }
    }
    Ok(stats)
}

fn check_header(buffer: &[u8], path: &Path) -> Result<(), WalError> {
    if buffer.len() < SEGMENT_HEADER_LEN || buffer[..4] != SEGMENT_MAGIC || buffer[4] != crate::WAL_FORMAT_VERSION {
        return Err(WalError::BadHeader { path: path.to_path_buf() });
    }
    Ok(())
}

/// Applies the valid records of one file; returns the length of the valid prefix.
fn replay_records(buffer: &[u8], apply: &mut impl FnMut(&[u8]), stats: &mut ReplayStats) -> usize {
    let mut offset = SEGMENT_HEADER_LEN;
    while offset < buffer.len() {
        let Some(header) = buffer.get(offset..offset + 8) else { return offset };
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if len > MAX_RECORD_LEN {
            return offset;
        }
        let Some(payload) = buffer.get(offset + 8..offset + 8 + len) else { return offset };
        if crc32c::crc32c(payload) != crc {
            return offset;
        }
        apply(payload);
        stats.records += 1;
        stats.bytes += len as u64;
        offset += 8 + len;
    }
    offset
}

fn truncate_file(path: &Path, len: u64) -> Result<(), WalError> {
    let file = OpenOptions::new().write(true).open(path).map_err(|e| WalError::io(path, e))?;
    file.set_len(len).map_err(|e| WalError::io(path, e))?;
    file.sync_all().map_err(|e| WalError::io(path, e))
}
