//! One series in the head: its interned labels, compressed chunks, out-of-order buffer and exemplars.

use std::collections::VecDeque;
use std::sync::Arc;

use oxeye_codec::xor_chunk::{XorAppender, XorIterator};
use oxeye_model::{Exemplar, Sample};

use super::chunk_files::{ChunkBytes, ChunkFiles};

/// A closed, immutable chunk of the head: in a head chunk file (or shared on the heap), so that cutting a block
/// can snapshot the head's chunks without copying them.
#[derive(Debug)]
pub(crate) struct HeadChunk {
    pub min_t: i64,
    pub max_t: i64,
    pub bytes: ChunkBytes,
}

/// A series held in memory.
#[derive(Debug)]
pub(crate) struct MemSeries {
    /// Interned label symbols, `[name0, value0, name1, value1, …]`, sorted by name.
    pub labels: Box<[u32]>,
    pub chunks: Vec<HeadChunk>,
    pub open: Option<OpenChunk>,
    /// Timestamp of the newest in-order sample (`i64::MIN` if none).
    pub max_t: i64,
    /// Value of the newest in-order sample.
    pub last_value_bits: u64,
    /// Samples accepted out of order, sorted by timestamp.
    pub out_of_order: Vec<Sample>,
    pub exemplars: VecDeque<Exemplar>,
}

/// The chunk being appended to, with the end of the block range it must not cross.
#[derive(Debug)]
pub(crate) struct OpenChunk {
    pub appender: XorAppender,
    pub min_t: i64,
    pub range_end: i64,
}

impl MemSeries {
    pub fn new(labels: Box<[u32]>) -> Self {
        Self {
            labels,
            chunks: Vec::new(),
            open: None,
            max_t: i64::MIN,
            last_value_bits: 0,
            out_of_order: Vec::new(),
            exemplars: VecDeque::new(),
        }
    }

    /// Appends an in-order sample (`timestamp > max_t`). A new chunk starts when the open one holds
    /// `samples_per_chunk` samples or the sample falls past the open chunk's block range, so that no chunk
    /// straddles a block boundary.
    pub fn append(
        &mut self,
        timestamp: i64,
        value: f64,
        samples_per_chunk: usize,
        block_range_ms: i64,
        files: Option<&mut ChunkFiles>,
    ) {
        debug_assert!(timestamp > self.max_t);
        let needs_new = match &self.open {
            None => true,
            Some(open) => open.appender.len() >= samples_per_chunk || timestamp >= open.range_end,
        };
        if needs_new {
            self.close_open_chunk(files);
            let range_start = timestamp.div_euclid(block_range_ms) * block_range_ms;
            self.open = Some(OpenChunk {
                appender: XorAppender::new(),
                min_t: timestamp,
                range_end: range_start + block_range_ms,
            });
        }
        if let Some(open) = &mut self.open {
            let appended = open.appender.append(timestamp, value);
            debug_assert!(appended, "BUG: in-order append refused");
        }
        self.max_t = timestamp;
        self.last_value_bits = value.to_bits();
    }

    /// Inserts an out-of-order sample. Returns false if a sample with that timestamp is already buffered.
    pub fn insert_out_of_order(&mut self, sample: Sample) -> bool {
        match self.out_of_order.binary_search_by_key(&sample.timestamp_ms, |s| s.timestamp_ms) {
            Ok(_) => false,
            Err(index) => {
                self.out_of_order.insert(index, sample);
                true
            }
        }
    }

    /// Closes the open chunk: into `files` if given, else onto the heap.
    pub fn close_open_chunk(&mut self, files: Option<&mut ChunkFiles>) {
        if let Some(open) = self.open.take()
            && let Some(max_t) = open.appender.last_timestamp()
        {
            let encoded = open.appender.finish();
            let bytes = match files {
                Some(files) => files.store(&encoded, max_t),
                None => ChunkBytes::Heap(Arc::from(encoded)),
            };
            self.chunks.push(HeadChunk { min_t: open.min_t, max_t, bytes });
        }
    }

    /// An upper bound on the samples `samples_in(start, end)` appends (each chunk's header holds its count).
    pub fn sample_count_hint(&self, start: i64, end: i64) -> usize {
        let mut upper: usize = self
            .chunks
            .iter()
            .filter(|c| c.max_t >= start && c.min_t <= end)
            .map(|c| {
                overlap_share(
                    oxeye_codec::xor_chunk::chunk_len(c.bytes.mapped()).unwrap_or(0),
                    c.min_t,
                    c.max_t,
                    start,
                    end,
                )
            })
            .sum();
        if let Some(open) = &self.open
            && let Some(max_t) = open.appender.last_timestamp()
        {
            upper += overlap_share(open.appender.len(), open.min_t, max_t, start, end);
        }
        upper + self.out_of_order.len()
    }

    /// Appends the samples in `[start, end]` (both inclusive) to `out`, sorted, in-order data winning over an
    /// out-of-order sample with the same timestamp.
    pub fn samples_in(&self, start: i64, end: i64, out: &mut Vec<Sample>) {
        let first = out.len();
        out.reserve(self.sample_count_hint(start, end));
        let mut visit_chunk = |bytes: &[u8], min_t: i64, max_t: i64| {
            if max_t < start || min_t > end {
                return;
            }
            if let Ok(iterator) = XorIterator::new(bytes) {
                for (timestamp, value) in iterator.map_while(Result::ok) {
                    if timestamp > end {
                        break;
                    }
                    if timestamp >= start {
                        out.push(Sample::new(timestamp, value));
                    }
                }
            }
        };
        for chunk in &self.chunks {
            visit_chunk(chunk.bytes.mapped(), chunk.min_t, chunk.max_t);
        }
        if let Some(open) = &self.open
            && let Some(max_t) = open.appender.last_timestamp()
        {
            visit_chunk(open.appender.bytes(), open.min_t, max_t);
        }
        let in_order_end = out.len();
        out.extend(self.out_of_order.iter().filter(|s| s.timestamp_ms >= start && s.timestamp_ms <= end));
        if out.len() > in_order_end {
            let tail = &mut out[first..];
            tail.sort_by_key(|s| s.timestamp_ms);
            dedup_by_timestamp(out, first);
        }
    }

    /// Earliest timestamp held (in chunks or the out-of-order buffer).
    pub fn min_time(&self) -> Option<i64> {
        let chunk_min = self.chunks.first().map(|c| c.min_t).or(self.open.as_ref().map(|o| o.min_t));
        let ooo_min = self.out_of_order.first().map(|s| s.timestamp_ms);
        match (chunk_min, ooo_min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Drops data older than `cutoff`: whole chunks that end before it, out-of-order samples before it, and
    /// exemplars before it. Returns true if the series holds nothing afterwards.
    pub fn truncate_before(&mut self, cutoff: i64, files: Option<&mut ChunkFiles>) -> bool {
        if self.open.as_ref().is_some_and(|open| open.appender.last_timestamp().is_none_or(|t| t < cutoff)) {
            // Wholly before the cutoff: dropped without being closed (closing would copy it first).
            self.open = None;
        } else if self.open.as_ref().is_some_and(|open| open.range_end <= cutoff) {
            self.close_open_chunk(files);
        }
        self.chunks.retain(|chunk| chunk.max_t >= cutoff);
        self.out_of_order.retain(|s| s.timestamp_ms >= cutoff);
        self.out_of_order.shrink_to_fit();
        while self.exemplars.front().is_some_and(|e| e.timestamp_ms < cutoff) {
            self.exemplars.pop_front();
        }
        self.chunks.is_empty() && self.open.is_none() && self.out_of_order.is_empty()
    }

    pub fn add_exemplar(&mut self, exemplar: Exemplar, max_per_series: usize) {
        if max_per_series == 0 {
            return;
        }
        // Exemplars arrive mostly in order; keep the buffer sorted and drop exact duplicates.
        if self.exemplars.iter().any(|e| e.timestamp_ms == exemplar.timestamp_ms && e.labels == exemplar.labels) {
            return;
        }
        let position =
            self.exemplars.iter().rposition(|e| e.timestamp_ms <= exemplar.timestamp_ms).map_or(0, |p| p + 1);
        self.exemplars.insert(position, exemplar);
        while self.exemplars.len() > max_per_series {
            self.exemplars.pop_front();
        }
    }

    /// Approximate heap bytes held by the series' sample data.
    pub fn chunk_bytes(&self) -> usize {
        self.chunks.iter().map(|c| c.bytes.len()).sum::<usize>()
            + self.open.as_ref().map_or(0, |o| o.appender.encoded_len())
            + self.out_of_order.len() * 16
    }
}

/// Removes samples with a repeated timestamp from `out[first..]` (sorted), keeping the first of each.
/// About how many of a chunk's `count` samples, spread over `[min_t, max_t]`, fall in `[start, end]` (a sizing
/// hint: proportional to the overlap, plus slack for uneven spacing, never more than `count`).
pub(crate) fn overlap_share(count: usize, min_t: i64, max_t: i64, start: i64, end: i64) -> usize {
    if start <= min_t && end >= max_t {
        return count;
    }
    let span = (max_t - min_t).max(1) as f64;
    let overlap = (end.min(max_t) - start.max(min_t)).max(0) as f64;
    ((count as f64 * overlap / span) as usize + 2).min(count)
}

pub(crate) fn dedup_by_timestamp(out: &mut Vec<Sample>, first: usize) {
    let mut write = first;
    for read in first..out.len() {
        if write > first && out[write - 1].timestamp_ms == out[read].timestamp_ms {
            continue;
        }
        out[write] = out[read];
        write += 1;
    }
    out.truncate(write);
}
