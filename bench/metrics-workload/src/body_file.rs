//! The on-disk form of a generated workload: remote_write request bodies, ready to send, in time order.
//!
//! A workload is one or more body files (`bodies-0000.bin`, `bodies-0001.bin`, …) listed in the manifest. A new
//! file starts only at a step boundary, once the current one has grown past the size limit, so that a step never
//! spans two files. Layout of one file (integers little-endian):
//!
//! ```text
//! +----------------+---------------------------------------------+-----+
//! | magic (8 B)    | frame 0                                     | ... |
//! | "OXRWBDY1"     |                                             |     |
//! +----------------+---------------------------------------------+-----+
//!
//! frame: +-----------+--------------+---------------+------------------------------+
//!        | step u32  | samples u32  | body_len u32  | body (body_len bytes)        |
//!        +-----------+--------------+---------------+------------------------------+
//! ```
//!
//! `body` is exactly what goes on the wire: a snappy (block format) compressed `prometheus.WriteRequest`.
//! `samples` is the number of samples in it (0 for a metadata-only request). Frames are ordered by `step`, and all
//! samples of a frame belong to the same scrape interval.

use std::fs::File;
use std::io::{BufReader, BufWriter, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// First bytes of every body file; the trailing digit is the format version.
pub const MAGIC: &[u8; 8] = b"OXRWBDY1";
const FRAME_HEADER_LEN: usize = 12;
const WRITE_BUFFER_BYTES: usize = 4 << 20;

/// One body file of a workload, as listed in the manifest.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BodyFileEntry {
    pub name: String,
    pub bytes: u64,
    pub frames: u64,
    pub first_step: u32,
    pub last_step: u32,
}

/// One request body and where it belongs.
#[derive(Clone, Debug)]
pub struct BodyFrame {
    pub step: u32,
    pub samples: u32,
    pub body: Vec<u8>,
}

/// Appends frames to a directory's body files, rotating at step boundaries.
pub struct BodyFileWriter {
    directory: PathBuf,
    max_file_bytes: u64,
    current: Option<(BufWriter<File>, BodyFileEntry)>,
    finished: Vec<BodyFileEntry>,
}

impl BodyFileWriter {
    /// Writes into `directory` (which must exist), starting a new file at the first step boundary after a file
    /// reaches `max_file_bytes`.
    pub fn new(directory: &Path, max_file_bytes: u64) -> Self {
        Self { directory: directory.to_owned(), max_file_bytes, current: None, finished: Vec::new() }
    }

    /// Appends one frame. Steps must not decrease.
    pub fn write_frame(&mut self, step: u32, samples: u32, body: &[u8]) -> Result<()> {
        let rotate = match &self.current {
            None => true,
            Some((_, entry)) => {
                if step < entry.last_step {
                    bail!("frames out of order: step {step} after step {}", entry.last_step);
                }
                entry.bytes >= self.max_file_bytes && step != entry.last_step
            }
        };
        if rotate {
            self.close_current()?;
            self.open_next(step)?;
        }
        let Some((writer, entry)) = &mut self.current else {
            unreachable!("BUG: a body file is open after rotation");
        };
        let body_len = u32::try_from(body.len()).context("request body larger than 4 GiB")?;
        let mut header = [0u8; FRAME_HEADER_LEN];
        header[0..4].copy_from_slice(&step.to_le_bytes());
        header[4..8].copy_from_slice(&samples.to_le_bytes());
        header[8..12].copy_from_slice(&body_len.to_le_bytes());
        writer.write_all(&header)?;
        writer.write_all(body)?;
        entry.bytes += (FRAME_HEADER_LEN + body.len()) as u64;
        entry.frames += 1;
        entry.last_step = step;
        Ok(())
    }

    /// Flushes and closes the last file; returns every file written, in order.
    pub fn finish(mut self) -> Result<Vec<BodyFileEntry>> {
        self.close_current()?;
        Ok(self.finished)
    }

    fn open_next(&mut self, step: u32) -> Result<()> {
        let name = format!("bodies-{:04}.bin", self.finished.len());
        let path = self.directory.join(&name);
        let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let mut writer = BufWriter::with_capacity(WRITE_BUFFER_BYTES, file);
        writer.write_all(MAGIC)?;
        let entry = BodyFileEntry { name, bytes: MAGIC.len() as u64, frames: 0, first_step: step, last_step: step };
        self.current = Some((writer, entry));
        Ok(())
    }

    fn close_current(&mut self) -> Result<()> {
        if let Some((writer, entry)) = self.current.take() {
            let file = writer.into_inner().map_err(|error| error.into_error())?;
            file.sync_all().with_context(|| format!("syncing {}", entry.name))?;
            self.finished.push(entry);
        }
        Ok(())
    }
}

/// Reads the frames of a workload's body files in order.
pub struct BodyFileReader {
    paths: Vec<PathBuf>,
    next_path: usize,
    current: Option<(BufReader<File>, PathBuf)>,
}

impl BodyFileReader {
    /// Reads `files` (names relative to `directory`) one after the other.
    pub fn new(directory: &Path, files: &[BodyFileEntry]) -> Self {
        let paths = files.iter().map(|entry| directory.join(&entry.name)).collect();
        Self { paths, next_path: 0, current: None }
    }

    /// The next frame, `None` after the last one.
    pub fn next_frame(&mut self) -> Result<Option<BodyFrame>> {
        loop {
            if self.current.is_none() {
                let Some(path) = self.paths.get(self.next_path) else {
                    return Ok(None);
                };
                self.next_path += 1;
                let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
                let mut reader = BufReader::with_capacity(1 << 20, file);
                let mut magic = [0u8; 8];
                reader.read_exact(&mut magic).with_context(|| format!("reading the header of {}", path.display()))?;
                if &magic != MAGIC {
                    bail!("{} is not a body file (magic {magic:?})", path.display());
                }
                self.current = Some((reader, path.clone()));
            }
            let Some((reader, path)) = &mut self.current else {
                unreachable!("BUG: a body file is open");
            };
            let mut header = [0u8; FRAME_HEADER_LEN];
            match read_exact_or_eof(reader, &mut header) {
                Ok(false) => {
                    self.current = None;
                    continue;
                }
                Ok(true) => {}
                Err(error) => {
                    return Err(error).with_context(|| format!("reading a frame header in {}", path.display()));
                }
            }
            let field = |range: std::ops::Range<usize>| {
                u32::from_le_bytes(header[range].try_into().unwrap_or_else(|_| unreachable!("BUG: 4-byte slice")))
            };
            let (step, samples, body_len) = (field(0..4), field(4..8), field(8..12));
            let mut body = vec![0u8; body_len as usize];
            reader
                .read_exact(&mut body)
                .with_context(|| format!("reading a {body_len}-byte body of step {step} in {}", path.display()))?;
            return Ok(Some(BodyFrame { step, samples, body }));
        }
    }
}

/// Fills `buffer` completely (`Ok(true)`), or reports a clean end of file before its first byte (`Ok(false)`).
fn read_exact_or_eof(reader: &mut impl Read, buffer: &mut [u8]) -> std::io::Result<bool> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
            Ok(read) => filled += read,
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_across_rotated_files() {
        let directory = std::env::temp_dir().join(format!("oxeye-body-file-test-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let mut writer = BodyFileWriter::new(&directory, 64);
        let frames: Vec<(u32, u32, Vec<u8>)> =
            (0..10u32).flat_map(|step| [(step, 5, vec![step as u8; 40]), (step, 0, Vec::new())]).collect();
        for (step, samples, body) in &frames {
            writer.write_frame(*step, *samples, body).unwrap();
        }
        let entries = writer.finish().unwrap();
        assert!(entries.len() > 1, "small size limit rotates files");
        assert!(entries.windows(2).all(|pair| pair[0].last_step < pair[1].first_step));
        let mut reader = BodyFileReader::new(&directory, &entries);
        for (step, samples, body) in &frames {
            let frame = reader.next_frame().unwrap().unwrap();
            assert_eq!((frame.step, frame.samples, &frame.body), (*step, *samples, body));
        }
        assert!(reader.next_frame().unwrap().is_none());
        std::fs::remove_dir_all(&directory).unwrap();
    }
}
