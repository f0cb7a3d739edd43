//! Names of everything the trace store keeps on disk, under `<data_dir>/tenants/<tenant>/traces/`:
//!
//! - `wal/`: the write-ahead log (`oxeye-wal` segments; records in `wal_records.rs`).
//! - `blocks/NNNNNNNNNNNNNNNN.otb`: immutable blocks, numbered upwards; `*.tmp` is a block being written and
//!   `*.deleting` one being removed (both cleaned up on open).

use std::path::{Path, PathBuf};

use crate::TracesError;

pub(crate) const TRACES_DIR: &str = "traces";
pub(crate) const WAL_DIR: &str = "wal";
pub(crate) const BLOCKS_DIR: &str = "blocks";
pub(crate) const BLOCK_EXTENSION: &str = "otb";

pub(crate) fn block_file_name(number: u64) -> String {
    format!("{number:016}.{BLOCK_EXTENSION}")
}

/// The number of a block file name, if it is one.
pub(crate) fn block_number(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(&format!(".{BLOCK_EXTENSION}"))?;
    (stem.len() == 16 && stem.bytes().all(|b| b.is_ascii_digit())).then(|| stem.parse().ok()).flatten()
}

/// Fsyncs a directory so that renames and removals in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), TracesError> {
    std::fs::File::open(dir).and_then(|file| file.sync_all()).map_err(|e| TracesError::io(dir, e))
}

/// Block files in `dir` by number, after removing leftovers of interrupted writes and deletions.
pub(crate) fn list_blocks(dir: &Path) -> Result<Vec<(u64, PathBuf)>, TracesError> {
    let mut blocks = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| TracesError::io(dir, e))? {
        let entry = entry.map_err(|e| TracesError::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().to_string();
        if name.ends_with(".tmp") || name.ends_with(".deleting") {
            std::fs::remove_file(entry.path()).map_err(|e| TracesError::io(entry.path(), e))?;
        } else if let Some(number) = block_number(&name) {
            blocks.push((number, entry.path()));
        }
    }
    blocks.sort();
    Ok(blocks)
}

/// Removes the WAL segment files numbered up to and including `through` (their data is in a block).
pub(crate) fn remove_wal_segments_through(wal_dir: &Path, through: u64) -> Result<(), TracesError> {
    if !wal_dir.exists() {
        return Ok(());
    }
    let mut removed = false;
    for entry in std::fs::read_dir(wal_dir).map_err(|e| TracesError::io(wal_dir, e))? {
        let entry = entry.map_err(|e| TracesError::io(wal_dir, e))?;
        let name = entry.file_name().to_string_lossy().to_string();
        let number: Option<u64> =
            if name.len() == 16 && name.bytes().all(|b| b.is_ascii_digit()) { name.parse().ok() } else { None };
        if let Some(number) = number
            && number <= through
        {
            std::fs::remove_file(entry.path()).map_err(|e| TracesError::io(entry.path(), e))?;
            removed = true;
        }
    }
    if removed {
        sync_dir(wal_dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_names_round_trip() {
        assert_eq!(block_file_name(42), "0000000000000042.otb");
        assert_eq!(block_number("0000000000000042.otb"), Some(42));
        assert_eq!(block_number("0000000000000042.olb"), None);
        assert_eq!(block_number("42.otb"), None);
    }
}
