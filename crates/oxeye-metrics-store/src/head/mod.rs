//! The head: the in-memory, writable part of a tenant's TSDB.
//!
//! Series are identified by a `u32` id that is also their reference in the WAL, so replay recreates the same ids.
//! Label strings are interned once per head ([`Symbols`]); the inverted index maps each interned name and value to
//! the sorted ids of the series carrying them. The head does no I/O: [`crate::TenantDb`] writes the WAL and then
//! applies the same changes here.

mod chunk_files;
mod key_hash;
mod series;
mod stats;

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

use oxeye_model::{Exemplar, Label, Labels, MetricMetadata, Sample};
use std::path::Path;

use crate::StoreError;

use crate::hash::FastHashBuilder;
use crate::postings::PostingsIndex;
pub(crate) use chunk_files::{ChunkBytes, ChunkFiles};
pub(crate) use key_hash::KeyHasher;
pub(crate) use series::{MemSeries, dedup_by_timestamp, overlap_share};
pub use stats::HeadStats;

/// Interned strings: each distinct label name or value is stored once.
#[derive(Default, Debug, Clone)]
pub(crate) struct Symbols {
    ids: HashMap<Arc<str>, u32>,
    strings: Vec<Arc<str>>,
}

impl Symbols {
    pub fn intern(&mut self, text: &str) -> u32 {
        if let Some(id) = self.ids.get(text) {
            return *id;
        }
        let id = self.strings.len() as u32;
        let shared: Arc<str> = Arc::from(text);
        self.strings.push(shared.clone());
        self.ids.insert(shared, id);
        id
    }

    pub fn get(&self, text: &str) -> Option<u32> {
        self.ids.get(text).copied()
    }

    pub fn resolve(&self, id: u32) -> &str {
        &self.strings[id as usize]
    }
}

/// The head's whole state for a WAL checkpoint, taken under the lock without copying closed chunks or label
/// strings ([`Head::checkpoint_snapshot`]).
pub(crate) struct CheckpointSnapshot {
    pub min_valid_time: i64,
    /// The symbol table the series' label ids refer to (shared strings, not copies).
    pub symbols: Vec<Arc<str>>,
    /// (id, labels, closed chunks as (min_t, max_t, bytes), open chunk, out-of-order samples, exemplars), by id.
    pub series: Vec<CheckpointSeries>,
    pub metadata: Vec<MetricMetadata>,
}

impl CheckpointSnapshot {
    /// The labels of `series` as string pairs.
    pub fn labels<'a>(
        &'a self,
        series: &'a CheckpointSeries,
    ) -> impl Clone + ExactSizeIterator<Item = (&'a str, &'a str)> + 'a {
        series.labels.chunks_exact(2).map(|pair| (&*self.symbols[pair[0] as usize], &*self.symbols[pair[1] as usize]))
    }
}

pub(crate) struct CheckpointSeries {
    pub id: u32,
    /// `[name, value, …]` ids into [`CheckpointSnapshot::symbols`]: a series' labels cost 4 bytes a string here
    /// instead of two shared pointers (32 bytes a label), which kept a checkpoint of a 100k-series head from
    /// adding ~40 MB to the peak.
    pub labels: Box<[u32]>,
    pub chunks: Vec<(i64, i64, ChunkBytes)>,
    pub open: Option<(i64, i64, Vec<u8>)>,
    pub out_of_order: Vec<Sample>,
    pub exemplars: Vec<Exemplar>,
}

/// One series' share of a block ([`Head::snapshot_series`]): its labels, its closed chunks overlapping the block's
/// range (shared, not copied) and its out-of-order samples in the range.
#[derive(Default)]
pub(crate) struct SeriesSnapshot {
    pub labels: Vec<(Arc<str>, Arc<str>)>,
    pub chunks: Vec<ChunkBytes>,
    pub out_of_order: Vec<Sample>,
}

impl SeriesSnapshot {
    /// Decodes the series' samples in `[start, end)`, sorted, in-order data winning over an out-of-order sample
    /// with the same timestamp. File chunks are read into `buf` (see [`ChunkBytes::read`]).
    pub fn samples(&self, start: i64, end: i64, out: &mut Vec<Sample>, buf: &mut Vec<u8>) -> Result<(), StoreError> {
        out.clear();
        for chunk in &self.chunks {
            let bytes = chunk.read(buf).map_err(|e| StoreError::io(chunk.path().unwrap_or(Path::new("?")), e))?;
            if let Ok(iterator) = oxeye_codec::xor_chunk::XorIterator::new(bytes) {
                for (timestamp, value) in iterator.map_while(Result::ok) {
                    if timestamp >= end {
                        break;
                    }
                    if timestamp >= start {
                        out.push(Sample::new(timestamp, value));
                    }
                }
            }
        }
        if !self.out_of_order.is_empty() {
            out.extend_from_slice(&self.out_of_order);
            out.sort_by_key(|s| s.timestamp_ms);
            dedup_by_timestamp(out, 0);
        }
        Ok(())
    }
}

/// Verdict on a sample offered to the head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SampleVerdict {
    /// Newer than the series' newest sample.
    InOrder,
    /// Older, but within the out-of-order window.
    OutOfOrder,
    /// Same timestamp and value as a stored sample: silently ignored, as Prometheus does.
    Duplicate,
    /// Same timestamp as the newest sample, different value.
    Conflict,
    /// Older than the out-of-order window allows.
    TooOld,
}

/// The in-memory head of one tenant.
pub(crate) struct Head {
    symbols: Symbols,
    series: HashMap<u32, MemSeries, FastHashBuilder>,
    /// Series by a hash of their labels: the first series with a hash here, any further ones (a 64-bit collision,
    /// rare) in `by_hash_collisions`, so the common case costs no allocation per series.
    by_hash: HashMap<u64, u32, FastHashBuilder>,
    by_hash_collisions: HashMap<u64, Vec<u32>, FastHashBuilder>,
    postings: HashMap<u32, HashMap<u32, Vec<u32>>>,
    /// Series named by a sender's label encoding (see `appender.rs`), by a 128-bit seeded hash of the key;
    /// cleared whenever series are removed.
    series_by_key: HashMap<u128, u32, FastHashBuilder>,
    hasher: FastHashBuilder,
    next_id: u32,
    /// Newest timestamp appended (`i64::MIN` when empty).
    pub max_t: i64,
    /// Samples older than this are already in blocks and are refused.
    pub min_valid_time: i64,
    pub metadata: HashMap<String, MetricMetadata>,
    samples_per_chunk: usize,
    block_range_ms: i64,
    /// Where closed chunks go; `None`: on the heap.
    chunk_files: Option<ChunkFiles>,
}

impl Head {
    pub fn new(samples_per_chunk: usize, block_range_ms: i64) -> Self {
        Self {
            symbols: Symbols::default(),
            series: HashMap::default(),
            by_hash: HashMap::default(),
            by_hash_collisions: HashMap::default(),
            postings: HashMap::new(),
            series_by_key: HashMap::default(),
            hasher: FastHashBuilder::default(),
            next_id: 1,
            max_t: i64::MIN,
            min_valid_time: i64::MIN,
            metadata: HashMap::new(),
            samples_per_chunk,
            block_range_ms,
            chunk_files: None,
        }
    }

    /// Keeps closed chunks in files from now on (see [`ChunkFiles`]).
    pub fn use_chunk_files(&mut self, files: ChunkFiles) {
        self.chunk_files = Some(files);
    }

    pub fn num_series(&self) -> usize {
        self.series.len()
    }

    fn hash_labels(&self, labels: &Labels) -> u64 {
        let mut hasher = self.hasher.build_hasher();
        for label in labels {
            label.name.hash(&mut hasher);
            label.value.hash(&mut hasher);
        }
        hasher.finish()
    }

    /// The series a sender's label encoding named before, if it is still in the head (`hash`: the encoding's
    /// [`KeyHasher`] hash).
    pub fn series_for_key(&self, hash: u128) -> Option<u32> {
        self.series_by_key.get(&hash).copied()
    }

    /// Remembers that the encoding with `hash` names series `id`.
    pub fn remember_key(&mut self, hash: u128, id: u32) {
        self.series_by_key.insert(hash, id);
    }

    /// Reads the memory an append to series `id` touches first (its entry and the end of its open chunk), so that
    /// a caller can load the entries of many series before appending to any: the loads are independent, so the
    /// processor overlaps their cache misses, which are most of an append's time on a large head.
    #[inline]
    pub fn touch(&self, id: u32) -> u64 {
        self.series.get(&id).map_or(0, |series| {
            let tail = series.open.as_ref().map_or(0, |open| open.appender.bytes().last().copied().unwrap_or(0));
            series.max_t as u64 ^ u64::from(tail)
        })
    }

    /// The id of the series with exactly these labels, if it is in the head.
    pub fn lookup(&self, labels: &Labels) -> Option<u32> {
        let hash = self.hash_labels(labels);
        let first = *self.by_hash.get(&hash)?;
        let matches = |id: &u32| self.series.get(id).is_some_and(|s| self.labels_equal(s, labels));
        if matches(&first) {
            return Some(first);
        }
        self.by_hash_collisions.get(&hash)?.iter().copied().find(matches)
    }

    fn labels_equal(&self, series: &MemSeries, labels: &Labels) -> bool {
        series.labels.len() == labels.len() * 2
            && series.labels.chunks_exact(2).zip(labels).all(|(pair, label)| {
                self.symbols.resolve(pair[0]) == label.name && self.symbols.resolve(pair[1]) == label.value
            })
    }

    /// Creates a series and returns its id. `id` is given on replay (the WAL's reference); otherwise the next free
    /// id is used.
    pub fn create(&mut self, labels: &Labels, id: Option<u32>) -> u32 {
        let id = id.unwrap_or(self.next_id);
        self.next_id = self.next_id.max(id + 1);
        let mut symbols = Vec::with_capacity(labels.len() * 2);
        for label in labels {
            let name = self.symbols.intern(&label.name);
            let value = self.symbols.intern(&label.value);
            symbols.push(name);
            symbols.push(value);
            let list = self.postings.entry(name).or_default().entry(value).or_default();
            insert_sorted(list, id);
        }
        let hash = self.hash_labels(labels);
        self.index_hash(hash, id);
        self.series.insert(id, MemSeries::new(symbols.into_boxed_slice()));
        id
    }

    fn index_hash(&mut self, hash: u64, id: u32) {
        match self.by_hash.entry(hash) {
            Entry::Vacant(slot) => {
                slot.insert(id);
            }
            Entry::Occupied(_) => self.by_hash_collisions.entry(hash).or_default().push(id),
        }
    }

    /// Creates the series on replay unless it exists already (a series record may repeat after a checkpoint).
    pub fn create_for_replay(&mut self, id: u32, labels: &Labels) {
        if !self.series.contains_key(&id) {
            self.create(labels, Some(id));
        }
    }

    pub fn labels_of(&self, id: u32) -> Option<Labels> {
        let series = self.series.get(&id)?;
        Some(self.resolve_labels(&series.labels))
    }

    fn resolve_labels(&self, symbols: &[u32]) -> Labels {
        let labels = symbols
            .chunks_exact(2)
            .map(|pair| Label {
                name: self.symbols.resolve(pair[0]).to_string(),
                value: self.symbols.resolve(pair[1]).to_string(),
            })
            .collect();
        Labels::from_sorted_unchecked(labels)
    }

    /// Judges a sample for series `id` given the tenant's out-of-order window (writes use
    /// [`Head::offer_sample`]).
    #[cfg(test)]
    pub fn check_sample(&self, id: u32, timestamp: i64, value: f64, out_of_order_window_ms: i64) -> SampleVerdict {
        match self.series.get(&id) {
            Some(series) => judge(series, self.max_t, self.min_valid_time, timestamp, value, out_of_order_window_ms),
            None => SampleVerdict::InOrder,
        }
    }

    /// [`Head::check_sample`], then [`Head::apply_sample`] if the verdict accepts it, finding the series once.
    pub fn offer_sample(&mut self, id: u32, timestamp: i64, value: f64, out_of_order_window_ms: i64) -> SampleVerdict {
        let Some(series) = self.series.get_mut(&id) else {
            return SampleVerdict::InOrder;
        };
        let verdict = judge(series, self.max_t, self.min_valid_time, timestamp, value, out_of_order_window_ms);
        match verdict {
            SampleVerdict::InOrder => {
                let files = self.chunk_files.as_mut();
                series.append(timestamp, value, self.samples_per_chunk, self.block_range_ms, files);
            }
            SampleVerdict::OutOfOrder => {
                series.insert_out_of_order(Sample::new(timestamp, value));
            }
            _ => return verdict,
        }
        self.max_t = self.max_t.max(timestamp);
        verdict
    }

    /// Applies a sample already judged acceptable (or replayed from the WAL).
    pub fn apply_sample(&mut self, id: u32, timestamp: i64, value: f64) {
        let (samples_per_chunk, block_range_ms) = (self.samples_per_chunk, self.block_range_ms);
        let Some(series) = self.series.get_mut(&id) else {
            return;
        };
        if timestamp > series.max_t {
            series.append(timestamp, value, samples_per_chunk, block_range_ms, self.chunk_files.as_mut());
        } else if timestamp < series.max_t {
            series.insert_out_of_order(Sample::new(timestamp, value));
        }
        self.max_t = self.max_t.max(timestamp);
    }

    /// Restores a compressed chunk from a checkpoint.
    pub fn apply_chunk(&mut self, id: u32, min_t: i64, max_t: i64, bytes: Vec<u8>) {
        let Some(series) = self.series.get_mut(&id) else {
            return;
        };
        series.close_open_chunk(self.chunk_files.as_mut());
        let last_value_bits = oxeye_codec::xor_chunk::XorIterator::new(&bytes)
            .ok()
            .and_then(|iterator| iterator.map_while(Result::ok).last())
            .map(|(_, value)| value.to_bits());
        let bytes = match self.chunk_files.as_mut() {
            Some(files) => files.store(&bytes, max_t),
            None => ChunkBytes::Heap(Arc::from(bytes)),
        };
        series.chunks.push(series::HeadChunk { min_t, max_t, bytes });
        if max_t > series.max_t {
            series.max_t = max_t;
            series.last_value_bits = last_value_bits.unwrap_or(0);
        }
        self.max_t = self.max_t.max(max_t);
    }

    pub fn add_exemplar(&mut self, id: u32, exemplar: Exemplar, max_per_series: usize) {
        if let Some(series) = self.series.get_mut(&id) {
            series.add_exemplar(exemplar, max_per_series);
        }
    }

    pub fn series(&self, id: u32) -> Option<&MemSeries> {
        self.series.get(&id)
    }

    /// Earliest timestamp held by any series (`None` if the head is empty).
    pub fn min_time(&self) -> Option<i64> {
        self.series.values().filter_map(MemSeries::min_time).min()
    }

    /// Starts cutting a block covering `[start, end)`: returns the ids of the series with data in the range, sorted
    /// by labels. The caller then fetches them a batch at a time with [`Head::snapshot_series`], so a cut holds
    /// one batch of series rather than a copy of the whole head's bookkeeping. The caller must have closed the
    /// range to writers (`min_valid_time >= end`) and must not truncate the head until the block is written:
    /// then the series and their data in the range stay exactly as they are now.
    pub fn plan_cut(&self, start: i64, end: i64) -> Vec<u32> {
        let mut ids = Vec::new();
        for (id, series) in &self.series {
            let has_chunk = series.chunks.iter().any(|c| c.min_t < end && c.max_t >= start)
                || series.open.as_ref().is_some_and(|open| open.min_t < end && !open.appender.is_empty());
            if has_chunk || series.out_of_order.iter().any(|s| s.timestamp_ms >= start && s.timestamp_ms < end) {
                ids.push(*id);
            }
        }
        // Comparing the flattened [name, value, …] strings orders exactly as `Labels` does.
        let symbols = &self.symbols;
        let series = &self.series;
        let label_strings = |id: &u32| series[id].labels.iter().map(|symbol| symbols.resolve(*symbol));
        ids.sort_unstable_by(|a, b| label_strings(a).cmp(label_strings(b)));
        ids
    }

    /// Appends to `out` the share of `[start, end)` of each series in `ids` (from [`Head::plan_cut`]), without
    /// decoding or copying closed chunks; an open chunk starting in the range is copied (one batch's open chunks are
    /// small, whereas closing every open chunk at once, as cuts used to, reallocated them all while the whole head
    /// was in memory). Series no longer in the head are skipped.
    pub fn snapshot_series(&self, ids: &[u32], start: i64, end: i64, out: &mut Vec<SeriesSnapshot>) {
        for id in ids {
            let Some(series) = self.series.get(id) else {
                continue;
            };
            let labels = series
                .labels
                .chunks_exact(2)
                .map(|pair| {
                    (self.symbols.strings[pair[0] as usize].clone(), self.symbols.strings[pair[1] as usize].clone())
                })
                .collect();
            let mut chunks: Vec<ChunkBytes> =
                series.chunks.iter().filter(|c| c.min_t < end && c.max_t >= start).map(|c| c.bytes.clone()).collect();
            if let Some(open) = series.open.as_ref().filter(|open| open.min_t < end && !open.appender.is_empty()) {
                chunks.push(ChunkBytes::Heap(Arc::from(open.appender.bytes())));
            }
            let out_of_order = series
                .out_of_order
                .iter()
                .filter(|s| s.timestamp_ms >= start && s.timestamp_ms < end)
                .copied()
                .collect();
            out.push(SeriesSnapshot { labels, chunks, out_of_order });
        }
    }

    /// Drops everything older than `cutoff` (now in blocks), removes series left empty and rebuilds the index and
    /// symbol table so their memory is returned. Returns the number of series removed.
    pub fn truncate_before(&mut self, cutoff: i64) -> usize {
        self.min_valid_time = self.min_valid_time.max(cutoff);
        let mut removed = Vec::new();
        for (id, series) in &mut self.series {
            if series.truncate_before(cutoff, self.chunk_files.as_mut()) && series.max_t < cutoff {
                removed.push(*id);
            }
        }
        if let Some(files) = self.chunk_files.as_mut() {
            files.release_before(cutoff);
        }
        for id in &removed {
            self.series.remove(id);
        }
        if !removed.is_empty() {
            self.rebuild_index();
        }
        removed.len()
    }

    fn rebuild_index(&mut self) {
        self.series_by_key = HashMap::default();
        let old_symbols = std::mem::take(&mut self.symbols);
        self.postings.clear();
        self.by_hash.clear();
        self.by_hash_collisions.clear();
        let mut ids: Vec<u32> = self.series.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let Some(series) = self.series.get_mut(&id) else {
                continue;
            };
            let mut hasher = self.hasher.build_hasher();
            let mut remapped = Vec::with_capacity(series.labels.len());
            for pair in series.labels.chunks_exact(2) {
                let (name, value) = (old_symbols.resolve(pair[0]), old_symbols.resolve(pair[1]));
                name.hash(&mut hasher);
                value.hash(&mut hasher);
                let name_id = self.symbols.intern(name);
                let value_id = self.symbols.intern(value);
                remapped.push(name_id);
                remapped.push(value_id);
                self.postings.entry(name_id).or_default().entry(value_id).or_default().push(id);
            }
            series.labels = remapped.into_boxed_slice();
            self.index_hash(hasher.finish(), id);
        }
    }

    /// Records metadata; returns true if it changed what was stored.
    pub fn set_metadata(&mut self, metadata: &MetricMetadata) -> bool {
        match self.metadata.entry(metadata.metric_family.clone()) {
            Entry::Occupied(mut existing) if existing.get() != metadata => {
                existing.insert(metadata.clone());
                true
            }
            Entry::Occupied(_) => false,
            Entry::Vacant(slot) => {
                slot.insert(metadata.clone());
                true
            }
        }
    }

    /// Everything a checkpoint needs, sorted by series id; closed chunks are shared, not copied.
    pub fn checkpoint_snapshot(&self) -> CheckpointSnapshot {
        let mut series: Vec<CheckpointSeries> = self
            .series
            .iter()
            .map(|(id, series)| CheckpointSeries {
                id: *id,
                labels: series.labels.clone(),
                chunks: series.chunks.iter().map(|c| (c.min_t, c.max_t, c.bytes.clone())).collect(),
                open: series.open.as_ref().and_then(|open| {
                    let max_t = open.appender.last_timestamp()?;
                    Some((open.min_t, max_t, open.appender.bytes().to_vec()))
                }),
                out_of_order: series.out_of_order.clone(),
                exemplars: series.exemplars.iter().cloned().collect(),
            })
            .collect();
        series.sort_unstable_by_key(|s| s.id);
        CheckpointSnapshot {
            min_valid_time: self.min_valid_time,
            symbols: self.symbols.strings.clone(),
            series,
            metadata: self.metadata.values().cloned().collect(),
        }
    }

    /// Approximate bytes of compressed sample data held.
    pub fn chunk_bytes(&self) -> usize {
        self.series.values().map(MemSeries::chunk_bytes).sum()
    }

    /// Label names present in the head, sorted.
    pub fn label_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.postings.keys().map(|id| self.symbols.resolve(*id).to_string()).collect();
        names.sort_unstable();
        names
    }
}

/// The verdict on a sample for `series` in a head whose newest sample is at `head_max_t`.
#[inline]
fn judge(
    series: &MemSeries,
    head_max_t: i64,
    min_valid_time: i64,
    timestamp: i64,
    value: f64,
    out_of_order_window_ms: i64,
) -> SampleVerdict {
    if timestamp > series.max_t {
        return if timestamp < min_valid_time { SampleVerdict::TooOld } else { SampleVerdict::InOrder };
    }
    if timestamp == series.max_t {
        return if value.to_bits() == series.last_value_bits {
            SampleVerdict::Duplicate
        } else {
            SampleVerdict::Conflict
        };
    }
    let window_start = head_max_t.saturating_sub(out_of_order_window_ms).max(min_valid_time);
    if out_of_order_window_ms > 0 && timestamp >= window_start {
        if series.out_of_order.iter().any(|s| s.timestamp_ms == timestamp) {
            return SampleVerdict::Duplicate;
        }
        SampleVerdict::OutOfOrder
    } else {
        SampleVerdict::TooOld
    }
}

fn insert_sorted(list: &mut Vec<u32>, id: u32) {
    match list.last() {
        Some(last) if *last >= id => {
            if let Err(position) = list.binary_search(&id) {
                list.insert(position, id);
            }
        }
        _ => list.push(id),
    }
}

impl PostingsIndex for Head {
    fn for_each_value(&self, name: &str, visit: &mut dyn FnMut(&str, &[u32])) {
        let Some(name_id) = self.symbols.get(name) else {
            return;
        };
        if let Some(values) = self.postings.get(&name_id) {
            for (value_id, ids) in values {
                visit(self.symbols.resolve(*value_id), ids);
            }
        }
    }

    fn postings(&self, name: &str, value: &str) -> Vec<u32> {
        let (Some(name_id), Some(value_id)) = (self.symbols.get(name), self.symbols.get(value)) else {
            return Vec::new();
        };
        self.postings.get(&name_id).and_then(|values| values.get(&value_id)).cloned().unwrap_or_default()
    }

    fn all_ids(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = self.series.keys().copied().collect();
        ids.sort_unstable();
        ids
    }
}

#[cfg(test)]
mod tests;
