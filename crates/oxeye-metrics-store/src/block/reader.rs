//! Reading a block: the index is parsed into memory at open, chunks are read from a memory map.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use oxeye_codec::varint::{get_bytes, get_uvarint, get_varint};
use oxeye_codec::xor_chunk::XorIterator;
use oxeye_model::{Label, Labels, Sample};

use super::files::{self, CHUNKS_MAGIC, ENCODING_PCO, ENCODING_PCO_REGULAR, ENCODING_XOR, FORMAT_VERSION, INDEX_MAGIC};
use super::meta::BlockMeta;
use crate::StoreError;
use crate::postings::PostingsIndex;

struct BlockChunkRef {
    min_t: i64,
    max_t: i64,
    offset: u64,
    len: u64,
}

struct BlockSeries {
    /// `[name, value, …]` symbol ids.
    labels: Box<[u32]>,
    chunks: Vec<BlockChunkRef>,
}

/// Column buffers reused across the pco chunks one reader decodes.
#[derive(Default)]
pub(crate) struct BlockDecodeScratch {
    timestamps: Vec<i64>,
    values: Vec<f64>,
}

/// An open, immutable block.
pub(crate) struct Block {
    pub meta: BlockMeta,
    pub dir: PathBuf,
    symbols: Vec<Box<str>>,
    symbol_ids: HashMap<Box<str>, u32>,
    series: Vec<BlockSeries>,
    /// name symbol → value symbol → sorted series indexes.
    postings: HashMap<u32, Vec<(u32, Vec<u32>)>>,
    chunks: memmap2::Mmap,
    /// Bytes of the block's files on disk.
    pub disk_bytes: u64,
}

impl Block {
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let meta = BlockMeta::read(dir)?;
        let index_path = dir.join(files::INDEX);
        let index = std::fs::read(&index_path).map_err(|e| StoreError::io(&index_path, e))?;
        let chunks_path = dir.join(files::CHUNKS);
        let chunks_file = std::fs::File::open(&chunks_path).map_err(|e| StoreError::io(&chunks_path, e))?;
        // SAFETY: block files are immutable once renamed into place; nothing truncates them while mapped (a block
        // is deleted only by renaming its directory and removing it after readers are gone).
        let chunks = unsafe { memmap2::Mmap::map(&chunks_file) }.map_err(|e| StoreError::io(&chunks_path, e))?;
        if chunks.len() < 8 || chunks[..4] != CHUNKS_MAGIC || chunks[4] != FORMAT_VERSION {
            return Err(StoreError::corrupt(&chunks_path, "bad magic or version"));
        }
        let disk_bytes = index.len() as u64 + chunks.len() as u64;
        let mut block = Self {
            meta,
            dir: dir.to_path_buf(),
            symbols: Vec::new(),
            symbol_ids: HashMap::new(),
            series: Vec::new(),
            postings: HashMap::new(),
            chunks,
            disk_bytes,
        };
        block.parse_index(&index).map_err(|reason| StoreError::corrupt(&index_path, reason))?;
        Ok(block)
    }

    fn parse_index(&mut self, index: &[u8]) -> Result<(), String> {
        if index.len() < 12 || index[..4] != INDEX_MAGIC || index[4] != FORMAT_VERSION {
            return Err("bad magic or version".to_string());
        }
        let (body, trailer) = index.split_at(index.len() - 4);
        let stored_crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
        if crc32c::crc32c(body) != stored_crc {
            return Err("checksum mismatch".to_string());
        }
        let err = |e: oxeye_codec::DecodeError| e.to_string();
        let mut pos = 8;
        let symbol_count = get_uvarint(body, &mut pos).map_err(err)? as usize;
        for id in 0..symbol_count {
            let bytes = get_bytes(body, &mut pos).map_err(err)?;
            let text: Box<str> = std::str::from_utf8(bytes).map_err(|_| "symbol is not UTF-8")?.into();
            self.symbol_ids.insert(text.clone(), id as u32);
            self.symbols.push(text);
        }
        let symbol = |raw: u64| -> Result<u32, String> {
            if (raw as usize) < symbol_count { Ok(raw as u32) } else { Err(format!("symbol {raw} out of range")) }
        };
        let series_count = get_uvarint(body, &mut pos).map_err(err)? as usize;
        self.series.reserve(series_count.min(body.len()));
        // Chunks are stored back to back in series order, so each offset follows from the previous chunk.
        let mut next_offset = 8u64;
        let block_min_time = self.meta.min_time;
        let mut previous_labels: Vec<u32> = Vec::new();
        for _ in 0..series_count {
            let shared_pairs = get_uvarint(body, &mut pos).map_err(err)? as usize;
            let new_pairs = get_uvarint(body, &mut pos).map_err(err)? as usize;
            if shared_pairs * 2 > previous_labels.len() {
                return Err(format!("series shares {shared_pairs} labels with a predecessor that has fewer"));
            }
            let mut labels = Vec::with_capacity((shared_pairs + new_pairs.min(64)) * 2);
            labels.extend_from_slice(&previous_labels[..shared_pairs * 2]);
            for _ in 0..new_pairs * 2 {
                labels.push(symbol(get_uvarint(body, &mut pos).map_err(err)?)?);
            }
            let chunk_count = get_uvarint(body, &mut pos).map_err(err)? as usize;
            let mut chunks = Vec::with_capacity(chunk_count.min(1024));
            for _ in 0..chunk_count {
                let min_t = block_min_time.saturating_add(get_varint(body, &mut pos).map_err(err)?);
                let max_t = min_t.saturating_add(get_uvarint(body, &mut pos).map_err(err)? as i64);
                let len = get_uvarint(body, &mut pos).map_err(err)?;
                let offset = next_offset;
                next_offset = offset.saturating_add(len).saturating_add(4);
                if next_offset > self.chunks.len() as u64 {
                    return Err(format!("chunk at {offset}+{len} lies past the end of the chunks file"));
                }
                chunks.push(BlockChunkRef { min_t, max_t, offset, len });
            }
            previous_labels.clone_from(&labels);
            self.series.push(BlockSeries { labels: labels.into_boxed_slice(), chunks });
        }
        let pair_count = get_uvarint(body, &mut pos).map_err(err)? as usize;
        for _ in 0..pair_count {
            let name = symbol(get_uvarint(body, &mut pos).map_err(err)?)?;
            let value = symbol(get_uvarint(body, &mut pos).map_err(err)?)?;
            let count = get_uvarint(body, &mut pos).map_err(err)? as usize;
            let mut ids = Vec::with_capacity(count.min(series_count));
            let mut id = 0u64;
            for _ in 0..count {
                id += get_uvarint(body, &mut pos).map_err(err)?;
                if id as usize >= series_count {
                    return Err(format!("posting {id} out of range"));
                }
                ids.push(id as u32);
            }
            self.postings.entry(name).or_default().push((value, ids));
        }
        Ok(())
    }

    pub fn num_series(&self) -> usize {
        self.series.len()
    }

    /// Whether the block holds data in `[start, end]` (both inclusive).
    pub fn overlaps(&self, start: i64, end: i64) -> bool {
        self.meta.min_time <= end && self.meta.max_time > start
    }

    pub fn labels(&self, id: u32) -> Labels {
        let series = &self.series[id as usize];
        let labels = series
            .labels
            .chunks_exact(2)
            .map(|pair| Label {
                name: self.symbols[pair[0] as usize].to_string(),
                value: self.symbols[pair[1] as usize].to_string(),
            })
            .collect();
        Labels::from_sorted_unchecked(labels)
    }

    /// An upper bound on the samples `samples_in(id, start, end)` appends, from the chunk headers alone.
    pub fn sample_count_hint(&self, id: u32, start: i64, end: i64) -> usize {
        self.series[id as usize]
            .chunks
            .iter()
            .filter(|c| c.max_t >= start && c.min_t <= end)
            .map(|c| {
                let data = &self.chunks[c.offset as usize..(c.offset + c.len) as usize];
                let count = match data.split_first() {
                    Some((&ENCODING_XOR, encoded)) => oxeye_codec::xor_chunk::chunk_len(encoded).unwrap_or(0),
                    Some((&(ENCODING_PCO | ENCODING_PCO_REGULAR), encoded)) => {
                        oxeye_codec::pco_chunk::sample_count(encoded).unwrap_or(0)
                    }
                    _ => 0,
                };
                crate::head::overlap_share(count, c.min_t, c.max_t, start, end)
            })
            .sum()
    }

    /// Appends the samples of series `id` in `[start, end]` to `out`, sorted. Corrupt chunks are an error.
    pub fn samples_in(&self, id: u32, start: i64, end: i64, out: &mut Vec<Sample>) -> Result<(), StoreError> {
        self.samples_in_with_scratch(id, start, end, out, &mut BlockDecodeScratch::default())
    }

    /// [`Block::samples_in`] decoding pco chunks through `scratch`, so that a reader decoding many series reuses
    /// one pair of column buffers instead of allocating two per chunk.
    pub fn samples_in_with_scratch(
        &self,
        id: u32,
        start: i64,
        end: i64,
        out: &mut Vec<Sample>,
        scratch: &mut BlockDecodeScratch,
    ) -> Result<(), StoreError> {
        for chunk in &self.series[id as usize].chunks {
            if chunk.max_t < start || chunk.min_t > end {
                continue;
            }
            let data = &self.chunks[chunk.offset as usize..(chunk.offset + chunk.len) as usize];
            let crc_bytes = &self.chunks[(chunk.offset + chunk.len) as usize..(chunk.offset + chunk.len + 4) as usize];
            if crc32c::crc32c(data) != u32::from_le_bytes([crc_bytes[0], crc_bytes[1], crc_bytes[2], crc_bytes[3]]) {
                return Err(StoreError::corrupt(
                    &self.dir,
                    format!("chunk at offset {} fails its checksum", chunk.offset),
                ));
            }
            let (encoding, encoded) =
                data.split_first().ok_or_else(|| StoreError::corrupt(&self.dir, "empty chunk"))?;
            let corrupt = |e: oxeye_codec::DecodeError| StoreError::corrupt(&self.dir, e.to_string());
            match *encoding {
                ENCODING_XOR => {
                    for item in XorIterator::new(encoded).map_err(corrupt)? {
                        let (timestamp, value) = item.map_err(corrupt)?;
                        if timestamp > end {
                            break;
                        }
                        if timestamp >= start {
                            out.push(Sample::new(timestamp, value));
                        }
                    }
                }
                ENCODING_PCO | ENCODING_PCO_REGULAR => {
                    let BlockDecodeScratch { timestamps, values } = scratch;
                    timestamps.clear();
                    values.clear();
                    if *encoding == ENCODING_PCO {
                        oxeye_codec::pco_chunk::decode(encoded, timestamps, values).map_err(corrupt)?;
                    } else {
                        oxeye_codec::pco_chunk::decode_regular(encoded, timestamps, values).map_err(corrupt)?;
                    }
                    // Timestamps are sorted: the samples in range are one contiguous run.
                    let from = timestamps.partition_point(|t| *t < start);
                    let to = timestamps.partition_point(|t| *t <= end);
                    out.extend(timestamps[from..to].iter().zip(&values[from..to]).map(|(t, v)| Sample::new(*t, *v)));
                }
                other => return Err(StoreError::corrupt(&self.dir, format!("unknown chunk encoding {other}"))),
            }
        }
        Ok(())
    }

    /// Whether series `id` has a chunk overlapping `[start, end]`.
    pub fn series_overlaps(&self, id: u32, start: i64, end: i64) -> bool {
        self.series[id as usize].chunks.iter().any(|c| c.max_t >= start && c.min_t <= end)
    }

    /// Label names in the block, sorted.
    pub fn label_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.postings.keys().map(|id| self.symbols[*id as usize].to_string()).collect();
        names.sort_unstable();
        names
    }
}

impl PostingsIndex for Block {
    fn for_each_value(&self, name: &str, visit: &mut dyn FnMut(&str, &[u32])) {
        let Some(name_id) = self.symbol_ids.get(name) else {
            return;
        };
        if let Some(values) = self.postings.get(name_id) {
            for (value, ids) in values {
                visit(&self.symbols[*value as usize], ids);
            }
        }
    }

    fn postings(&self, name: &str, value: &str) -> Vec<u32> {
        let (Some(name_id), Some(value_id)) = (self.symbol_ids.get(name), self.symbol_ids.get(value)) else {
            return Vec::new();
        };
        self.postings
            .get(name_id)
            .and_then(|values| values.iter().find(|(v, _)| v == value_id))
            .map(|(_, ids)| ids.clone())
            .unwrap_or_default()
    }

    fn all_ids(&self) -> Vec<u32> {
        (0..self.series.len() as u32).collect()
    }
}
