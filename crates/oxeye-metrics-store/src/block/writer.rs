//! Writing a block from sorted series.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use oxeye_codec::pco_chunk;
use oxeye_codec::varint::{put_bytes, put_uvarint, put_varint};
use oxeye_codec::xor_chunk::{MAX_SAMPLES_PER_CHUNK, encode_chunk};
#[cfg(test)]
use oxeye_model::Labels;
use oxeye_model::Sample;

use super::files::{self, CHUNKS_MAGIC, ENCODING_PCO, ENCODING_PCO_REGULAR, ENCODING_XOR, FORMAT_VERSION, INDEX_MAGIC};
use super::meta::{BlockMeta, BlockStats, CompactionInfo};
use crate::StoreError;

/// From this many samples on a chunk is written with pco without comparing with Gorilla.
const PCO_ALWAYS_SMALLER_FROM: usize = 64;

/// Streams series into a new block directory. Series must be added in label order, each with samples sorted by
/// timestamp; [`BlockWriter::finish`] writes the index and meta and renames the directory into place, so a block
/// appears atomically (written as `<id>.tmp`, fsynced, renamed). Only labels and chunk positions are kept in
/// memory, so merging large blocks does not hold their samples.
pub(crate) struct BlockWriter {
    blocks_dir: PathBuf,
    id: String,
    tmp_dir: PathBuf,
    chunks_out: Output,
    /// Label strings in first-seen order, and their ids; renumbered in sorted order by `finish`.
    symbols: HashMap<Box<str>, u32>,
    /// Each series' labels as `[name, value, …]` ids into `symbols`.
    series: Vec<Box<[u32]>>,
    chunk_metas: Vec<Vec<ChunkMeta>>,
    stats: BlockStats,
    timestamps: Vec<i64>,
    values: Vec<f64>,
    buffer: Vec<u8>,
    xor_buffer: Vec<u8>,
}

impl BlockWriter {
    pub fn create(blocks_dir: &Path, id: &str) -> Result<Self, StoreError> {
        let tmp_dir = blocks_dir.join(format!("{id}{}", files::TMP_SUFFIX));
        std::fs::create_dir_all(&tmp_dir).map_err(|e| StoreError::io(&tmp_dir, e))?;
        let mut chunks_out = Output::create(&tmp_dir.join(files::CHUNKS))?;
        let mut header = CHUNKS_MAGIC.to_vec();
        header.extend_from_slice(&[FORMAT_VERSION, 0, 0, 0]);
        chunks_out.write(&header)?;
        Ok(Self {
            blocks_dir: blocks_dir.to_path_buf(),
            id: id.to_string(),
            tmp_dir,
            chunks_out,
            symbols: HashMap::new(),
            series: Vec::new(),
            chunk_metas: Vec::new(),
            stats: BlockStats::default(),
            timestamps: Vec::new(),
            values: Vec::new(),
            buffer: Vec::new(),
            xor_buffer: Vec::new(),
        })
    }

    /// Adds one series: its labels (sorted by name; the series must sort after the previous one) and its samples
    /// (sorted, unique timestamps). Each chunk is encoded with pco ([`ENCODING_PCO`], or [`ENCODING_PCO_REGULAR`] when
    /// its timestamps are at a constant step) unless Gorilla
    /// ([`ENCODING_XOR`]) is smaller, which happens for very short chunks.
    pub fn add<'a>(
        &mut self,
        labels: impl IntoIterator<Item = (&'a str, &'a str)>,
        samples: &[Sample],
    ) -> Result<(), StoreError> {
        if samples.is_empty() {
            return Ok(());
        }
        let mut label_ids = Vec::new();
        for (name, value) in labels {
            for text in [name, value] {
                let next_id = self.symbols.len() as u32;
                let id = *self.symbols.entry(Box::from(text)).or_insert(next_id);
                label_ids.push(id);
            }
        }
        let mut metas = Vec::new();
        for part in samples.chunks(MAX_SAMPLES_PER_CHUNK) {
            self.timestamps.clear();
            self.values.clear();
            self.timestamps.extend(part.iter().map(|s| s.timestamp_ms));
            self.values.extend(part.iter().map(|s| s.value));
            self.buffer.clear();
            let pco_ok = if pco_chunk::regular_interval(&self.timestamps).is_some() {
                self.buffer.push(ENCODING_PCO_REGULAR);
                pco_chunk::encode_regular(&mut self.buffer, &self.timestamps, &self.values).is_ok()
            } else {
                self.buffer.push(ENCODING_PCO);
                pco_chunk::encode(&mut self.buffer, &self.timestamps, &self.values).is_ok()
            };
            // pco's fixed overhead (its headers) only loses to Gorilla on short chunks; only then try both.
            if !pco_ok || part.len() < PCO_ALWAYS_SMALLER_FROM {
                self.xor_buffer.clear();
                self.xor_buffer.push(ENCODING_XOR);
                let encoded = encode_chunk(&mut self.xor_buffer, &self.timestamps, &self.values);
                debug_assert_eq!(encoded, part.len(), "BUG: block samples not strictly increasing");
                if !pco_ok || self.xor_buffer.len() <= self.buffer.len() {
                    std::mem::swap(&mut self.buffer, &mut self.xor_buffer);
                }
            }
            let offset = self.chunks_out.position;
            self.chunks_out.write(&self.buffer)?;
            let crc = crc32c::crc32c(&self.buffer).to_le_bytes();
            self.chunks_out.write(&crc)?;
            metas.push(ChunkMeta {
                min_t: part[0].timestamp_ms,
                max_t: part[part.len() - 1].timestamp_ms,
                offset,
                len: self.buffer.len() as u64,
            });
            self.stats.num_chunks += 1;
            self.stats.num_samples += part.len() as u64;
        }
        self.series.push(label_ids.into_boxed_slice());
        self.chunk_metas.push(metas);
        Ok(())
    }

    /// Finishes the block covering `[min_time, max_time)`. Returns `None` (and removes the temporary directory) if
    /// no series was added.
    pub fn finish(
        self,
        min_time: i64,
        max_time: i64,
        compaction: CompactionInfo,
    ) -> Result<Option<BlockMeta>, StoreError> {
        if self.series.is_empty() {
            drop(self.chunks_out);
            std::fs::remove_dir_all(&self.tmp_dir).map_err(|e| StoreError::io(&self.tmp_dir, e))?;
            return Ok(None);
        }
        self.chunks_out.finish()?;
        let mut stats = self.stats;
        stats.num_series = self.series.len() as u64;
        write_index(&self.tmp_dir.join(files::INDEX), min_time, &self.symbols, &self.series, &self.chunk_metas)?;
        let meta = BlockMeta { version: 1, id: self.id.clone(), min_time, max_time, stats, compaction };
        let meta_path = self.tmp_dir.join(files::META);
        let meta_json = serde_json::to_vec_pretty(&meta).map_err(|e| StoreError::corrupt(&meta_path, e.to_string()))?;
        let mut meta_out = Output::create(&meta_path)?;
        meta_out.write(&meta_json)?;
        meta_out.finish()?;
        sync_dir(&self.tmp_dir)?;
        let final_dir = self.blocks_dir.join(&self.id);
        std::fs::rename(&self.tmp_dir, &final_dir).map_err(|e| StoreError::io(&final_dir, e))?;
        sync_dir(&self.blocks_dir)?;
        Ok(Some(meta))
    }
}

/// Writes a whole block from series sorted by labels (see [`BlockWriter`]).
#[cfg(test)]
pub(crate) fn write_block(
    blocks_dir: &Path,
    id: &str,
    min_time: i64,
    max_time: i64,
    series: &[(Labels, Vec<Sample>)],
    compaction: CompactionInfo,
) -> Result<Option<BlockMeta>, StoreError> {
    let mut writer = BlockWriter::create(blocks_dir, id)?;
    for (labels, samples) in series {
        writer.add(labels.iter().map(|l| (l.name.as_str(), l.value.as_str())), samples)?;
    }
    writer.finish(min_time, max_time, compaction)
}

pub(crate) struct ChunkMeta {
    pub min_t: i64,
    pub max_t: i64,
    pub offset: u64,
    pub len: u64,
}

fn write_index(
    path: &Path,
    block_min_time: i64,
    symbols: &HashMap<Box<str>, u32>,
    series: &[Box<[u32]>],
    chunk_metas: &[Vec<ChunkMeta>],
) -> Result<(), StoreError> {
    // Symbols are written sorted; `renumber` maps first-seen ids to sorted positions.
    let mut sorted: Vec<(&str, u32)> = symbols.iter().map(|(text, id)| (&**text, *id)).collect();
    sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut renumber = vec![0u64; sorted.len()];
    for (position, (_, id)) in sorted.iter().enumerate() {
        renumber[*id as usize] = position as u64;
    }
    let mut out = Vec::with_capacity(series.len() * 64);
    out.extend_from_slice(&INDEX_MAGIC);
    out.extend_from_slice(&[FORMAT_VERSION, 0, 0, 0]);
    put_uvarint(&mut out, sorted.len() as u64);
    for (symbol, _) in &sorted {
        put_bytes(&mut out, symbol.as_bytes());
    }
    let mut postings: BTreeMap<(u64, u64), Vec<u32>> = BTreeMap::new();
    put_uvarint(&mut out, series.len() as u64);
    let mut previous: &[u32] = &[];
    // Chunks were written back to back after the 8-byte header, so offsets are implied (checked in debug builds).
    let mut expected_offset = 8u64;
    for (index, (label_ids, metas)) in series.iter().zip(chunk_metas).enumerate() {
        // Sorted neighbours share most labels: store how many leading pairs equal the previous series', then
        // the rest.
        let shared_pairs = label_ids.chunks_exact(2).zip(previous.chunks_exact(2)).take_while(|(a, b)| a == b).count();
        put_uvarint(&mut out, shared_pairs as u64);
        put_uvarint(&mut out, (label_ids.len() / 2 - shared_pairs) as u64);
        for (position, pair) in label_ids.chunks_exact(2).enumerate() {
            let pair = (renumber[pair[0] as usize], renumber[pair[1] as usize]);
            if position >= shared_pairs {
                put_uvarint(&mut out, pair.0);
                put_uvarint(&mut out, pair.1);
            }
            postings.entry(pair).or_default().push(index as u32);
        }
        previous = label_ids;
        put_uvarint(&mut out, metas.len() as u64);
        for meta in metas {
            debug_assert_eq!(meta.offset, expected_offset, "BUG: chunks not written back to back");
            expected_offset = meta.offset + meta.len + 4;
            put_varint(&mut out, meta.min_t - block_min_time);
            put_uvarint(&mut out, (meta.max_t - meta.min_t) as u64);
            put_uvarint(&mut out, meta.len);
        }
    }
    put_uvarint(&mut out, postings.len() as u64);
    for ((name, value), ids) in &postings {
        put_uvarint(&mut out, *name);
        put_uvarint(&mut out, *value);
        put_uvarint(&mut out, ids.len() as u64);
        let mut previous = 0u32;
        for id in ids {
            put_uvarint(&mut out, u64::from(id - previous));
            previous = *id;
        }
    }
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    let mut file = Output::create(path)?;
    file.write(&out)?;
    file.finish()
}

/// A buffered file that tracks its position and is fsynced on finish.
struct Output {
    writer: BufWriter<File>,
    path: PathBuf,
    position: u64,
}

impl Output {
    fn create(path: &Path) -> Result<Self, StoreError> {
        let file = File::create(path).map_err(|e| StoreError::io(path, e))?;
        Ok(Self { writer: BufWriter::with_capacity(1 << 20, file), path: path.to_path_buf(), position: 0 })
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        self.writer.write_all(bytes).map_err(|e| StoreError::io(&self.path, e))?;
        self.position += bytes.len() as u64;
        Ok(())
    }

    fn finish(self) -> Result<(), StoreError> {
        let path = self.path;
        let file = self.writer.into_inner().map_err(|e| StoreError::io(&path, e.into_error()))?;
        file.sync_all().map_err(|e| StoreError::io(&path, e))
    }
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|f| f.sync_all()).map_err(|e| StoreError::io(dir, e))
}
