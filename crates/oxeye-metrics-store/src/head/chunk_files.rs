//! Head chunk files: the head's closed chunks live in files, not on the heap (as Prometheus's `chunks_head/`).
//!
//! A closed chunk never changes, and most are read once more only, when their range is cut into a block. Keeping
//! them on the heap made them most of the server's resident memory (about 2.8 bytes a sample: 225 MB of the 420 MB
//! peak on the ingest benchmark). Instead, each is written with one positioned write to the end of the current
//! segment file under `<tenant>/head_chunks/`; the series keeps a reference (segment, offset, length).
//!
//! Reads take two paths, chosen for what they do to the resident set:
//! - queries read a chunk in place through the segment's read-only memory map ([`ChunkBytes::mapped`]): no copy and
//!   no system call per chunk; the pages touched count as the process's (reclaimable) file-backed memory;
//! - a block cut and a WAL checkpoint read every chunk of a range once, by positioned read into a buffer
//!   ([`ChunkBytes::read`]), so they never map the whole file into the resident set.
//!
//! The files are not needed for recovery: the WAL and its checkpoints (which copy the chunks' bytes) are the
//! durable state, so the directory is emptied when the tenant opens and the head is rebuilt by replay. A segment
//! file is deleted when the last chunk referring to it is dropped (the head truncated past it) and the writer has
//! moved on. If a write fails (disk full), the chunk stays on the heap, and a warning is logged once.
//! Layout: `docs/formats/head-chunks.md`.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Size a segment file is created with (sparse: only written bytes use disk) and mapped at.
pub(crate) const SEGMENT_BYTES: u64 = 64 << 20;

/// One segment file, mapped read-only at its full size. Unlinked when dropped.
pub(crate) struct Segment {
    path: PathBuf,
    file: File,
    map: memmap2::Mmap,
}

impl Drop for Segment {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_file(&self.path)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.path.display(), %error, "could not delete a head chunk file");
        }
    }
}

/// The bytes of a closed head chunk.
#[derive(Clone)]
pub(crate) enum ChunkBytes {
    /// On the heap: open chunks copied for a cut, and chunks whose file write failed.
    Heap(Arc<[u8]>),
    /// In a head chunk file.
    File { segment: Arc<Segment>, offset: u32, len: u32 },
}

impl fmt::Debug for ChunkBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Heap(bytes) => write!(f, "Heap({} bytes)", bytes.len()),
            Self::File { segment, offset, len } => {
                write!(f, "File({}@{offset}+{len})", segment.path.display())
            }
        }
    }
}

impl ChunkBytes {
    pub fn len(&self) -> usize {
        match self {
            Self::Heap(bytes) => bytes.len(),
            Self::File { len, .. } => *len as usize,
        }
    }

    /// The bytes in place (through the memory map for a file chunk). For queries.
    pub fn mapped(&self) -> &[u8] {
        match self {
            Self::Heap(bytes) => bytes,
            Self::File { segment, offset, len } => &segment.map[*offset as usize..(*offset + *len) as usize],
        }
    }

    /// The bytes, read from a file chunk's segment into `buf` by a positioned read (no mapped page is touched).
    /// For cuts and checkpoints, which read each chunk once.
    pub fn read<'a>(&'a self, buf: &'a mut Vec<u8>) -> std::io::Result<&'a [u8]> {
        match self {
            Self::Heap(bytes) => Ok(bytes),
            Self::File { segment, offset, len } => {
                buf.resize(*len as usize, 0);
                segment.file.read_exact_at(buf, u64::from(*offset))?;
                Ok(buf)
            }
        }
    }

    /// The file the chunk is in (for error messages), if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::Heap(_) => None,
            Self::File { segment, .. } => Some(&segment.path),
        }
    }
}

/// The segment being appended to.
struct Current {
    segment: Arc<Segment>,
    written: u64,
    /// Newest sample time of any chunk written to it.
    max_t: i64,
}

/// Writes a head's closed chunks to segment files.
pub(crate) struct ChunkFiles {
    dir: PathBuf,
    current: Option<Current>,
    next_number: u64,
    warned: bool,
}

impl fmt::Debug for ChunkFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkFiles").field("dir", &self.dir).field("next_number", &self.next_number).finish()
    }
}

impl ChunkFiles {
    /// Opens `dir` (created if missing), deleting the files a previous run left there.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_file() {
                std::fs::remove_file(&path)?;
            }
        }
        Ok(Self { dir: dir.to_path_buf(), current: None, next_number: 1, warned: false })
    }

    /// Stores a closed chunk whose newest sample is at `max_t`: in the current segment, or on the heap if the
    /// write fails.
    pub fn store(&mut self, bytes: &[u8], max_t: i64) -> ChunkBytes {
        match self.write(bytes, max_t) {
            Ok(chunk) => chunk,
            Err(error) => {
                if !self.warned {
                    self.warned = true;
                    tracing::warn!(dir = %self.dir.display(), %error, "could not write a head chunk file; keeping closed chunks in memory");
                }
                ChunkBytes::Heap(Arc::from(bytes))
            }
        }
    }

    fn write(&mut self, bytes: &[u8], max_t: i64) -> std::io::Result<ChunkBytes> {
        let len = bytes.len() as u64;
        if len > SEGMENT_BYTES {
            return Err(std::io::Error::other("chunk larger than a segment"));
        }
        if self.current.as_ref().is_none_or(|current| current.written + len > SEGMENT_BYTES) {
            self.current = None;
            let path = self.dir.join(format!("{:08}", self.next_number));
            self.next_number += 1;
            let file = OpenOptions::new().read(true).write(true).create_new(true).open(&path)?;
            file.set_len(SEGMENT_BYTES)?;
            // SAFETY: the file is this process's own, never truncated while mapped (it is sized once, above, and
            // unlinked only when the last reference to the mapping is dropped); bytes are only read back from
            // ranges already written by `write_all_at`.
            let map = unsafe { memmap2::Mmap::map(&file) }?;
            let segment = Arc::new(Segment { path, file, map });
            self.current = Some(Current { segment, written: 0, max_t: i64::MIN });
        }
        let Some(current) = self.current.as_mut() else { unreachable!("a segment was just opened") };
        current.segment.file.write_all_at(bytes, current.written)?;
        let chunk =
            ChunkBytes::File { segment: current.segment.clone(), offset: current.written as u32, len: len as u32 };
        current.written += len;
        current.max_t = current.max_t.max(max_t);
        Ok(chunk)
    }

    /// Called after the head dropped every chunk older than `cutoff`: lets go of the current segment if all its
    /// chunks were among them, so its file is deleted now rather than when it fills.
    pub fn release_before(&mut self, cutoff: i64) {
        if self.current.as_ref().is_some_and(|current| current.max_t < cutoff) {
            self.current = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_round_trip_through_both_read_paths_and_files_go_when_unreferenced() {
        let dir = tempfile::tempdir().unwrap();
        let leftover = dir.path().join("00000009");
        std::fs::create_dir_all(dir.path()).unwrap();
        std::fs::write(&leftover, b"stale").unwrap();
        let mut files = ChunkFiles::open(dir.path()).unwrap();
        assert!(!leftover.exists(), "files of a previous run are deleted on open");

        let a = files.store(b"first chunk", 10);
        let b = files.store(b"second", 20);
        assert!(matches!(a, ChunkBytes::File { offset: 0, len: 11, .. }), "{a:?}");
        assert!(matches!(b, ChunkBytes::File { offset: 11, len: 6, .. }), "{b:?}");
        assert_eq!(a.mapped(), b"first chunk");
        assert_eq!(b.mapped(), b"second");
        let mut buf = Vec::new();
        assert_eq!(a.read(&mut buf).unwrap(), b"first chunk");
        assert_eq!(b.read(&mut buf).unwrap(), b"second");
        let path = a.path().unwrap().to_path_buf();
        assert!(path.exists());

        // The writer still appends to the segment: it stays while chunks newer than the cutoff are in it.
        files.release_before(20);
        drop((a, b));
        assert!(path.exists(), "the current segment stays while it may still be written");
        files.release_before(21);
        assert!(!path.exists(), "a segment whose chunks are all dropped is deleted");

        let c = files.store(b"third", 30);
        assert_ne!(c.path().unwrap(), path, "a new segment is started");
        assert_eq!(c.mapped(), b"third");
    }

    #[test]
    fn a_full_segment_rolls_over_and_lives_while_referenced() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = ChunkFiles::open(dir.path()).unwrap();
        let big = vec![7u8; (SEGMENT_BYTES / 2) as usize + 1];
        let first = files.store(&big, 1);
        let second = files.store(&big, 2);
        assert_ne!(first.path(), second.path(), "the second chunk does not fit in the first segment");
        let first_path = first.path().unwrap().to_path_buf();
        assert_eq!(first.mapped().len(), big.len());
        assert!(first.mapped().iter().all(|b| *b == 7));
        drop(first);
        assert!(!first_path.exists(), "a full segment is deleted once its last chunk is dropped");
        assert_eq!(second.read(&mut Vec::new()).unwrap().len(), big.len());
    }

    #[test]
    fn an_unwritable_directory_keeps_chunks_on_the_heap() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = ChunkFiles::open(dir.path()).unwrap();
        std::fs::remove_dir(dir.path()).unwrap();
        let chunk = files.store(b"kept in memory", 5);
        assert!(matches!(chunk, ChunkBytes::Heap(_)), "{chunk:?}");
        assert_eq!(chunk.mapped(), b"kept in memory");
    }
}
