//! Names and headers of the files in a WAL directory.
//!
//! - `NNNNNNNNNNNNNNNN` (16 decimal digits): a segment. Segments are numbered from 1 upwards without gaps.
//! - `checkpoint.NNNNNNNNNNNNNNNN`: a checkpoint that replaces every segment up to and including that number.
//! - `*.tmp`: a checkpoint being written; removed on open.

use std::path::{Path, PathBuf};

/// The first bytes of every segment and checkpoint file.
pub const SEGMENT_MAGIC: [u8; 4] = *b"OXWL";
/// The format version written after the magic.
pub const WAL_FORMAT_VERSION: u8 = 1;
/// Magic (4) + version (1) + reserved (3).
pub const SEGMENT_HEADER_LEN: usize = 8;

pub fn segment_file_name(number: u64) -> String {
    format!("{number:016}")
}

pub fn checkpoint_file_name(through_segment: u64) -> String {
    format!("checkpoint.{through_segment:016}")
}

pub(crate) fn segment_header() -> [u8; SEGMENT_HEADER_LEN] {
    let mut header = [0u8; SEGMENT_HEADER_LEN];
    header[..4].copy_from_slice(&SEGMENT_MAGIC);
    header[4] = WAL_FORMAT_VERSION;
    header
}

/// What a WAL directory holds.
#[derive(Debug, Default)]
pub(crate) struct DirListing {
    /// Segment numbers, ascending.
    pub segments: Vec<u64>,
    /// Checkpoints (the segment number they replace through), ascending.
    pub checkpoints: Vec<u64>,
    /// Leftover temporary files.
    pub temporary: Vec<PathBuf>,
}

pub(crate) fn list_dir(dir: &Path) -> std::io::Result<DirListing> {
    let mut listing = DirListing::default();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(".tmp") {
            listing.temporary.push(entry.path());
        } else if let Some(number) = name.strip_prefix("checkpoint.") {
            if let Ok(number) = number.parse() {
                listing.checkpoints.push(number);
            }
        } else if name.len() == 16
            && name.bytes().all(|b| b.is_ascii_digit())
            && let Ok(number) = name.parse()
        {
            listing.segments.push(number);
        }
    }
    listing.segments.sort_unstable();
    listing.checkpoints.sort_unstable();
    Ok(listing)
}

/// Fsyncs a directory so that file creations, renames and removals in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}
