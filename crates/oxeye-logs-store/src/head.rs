//! The in-memory head: every stream's recent entries, until they are cut into a block.
//!
//! Each stream keeps its entries in arrival order in byte arenas (line, then structured metadata encoded as
//! varint-prefixed strings) with a small fixed-size row per entry, so an entry costs one arena append and no
//! allocation of its own. The arena being filled (the active run) is sealed into an immutable, shared run once it
//! holds [`SEAL_BYTES`]: a scan then takes the sealed runs by reference and copies only the small active runs
//! while it holds the head's lock, and reads everything after releasing it, so queries never hold up appends for
//! longer than those copies. Entries may arrive out of order; rows are sorted when the head is cut. An entry equal
//! to the stream's previous one (timestamp and line) is dropped, as Loki does.

use std::collections::HashMap;
use std::sync::Arc;

use oxeye_codec::varint::{get_uvarint, put_uvarint};
use oxeye_model::{Labels, LogEntry};

use crate::tokens::hash_bytes;

/// One entry's place in its stream's arena.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HeadRow {
    pub timestamp_ns: i64,
    pub offset: u32,
    pub line_len: u32,
    pub metadata_len: u32,
}

/// An active run is sealed once its arena holds this many bytes.
pub(crate) const SEAL_BYTES: usize = 64 << 10;
/// Room beyond [`SEAL_BYTES`] in a preallocated run, for the entry that fills it.
const SEAL_SLACK_BYTES: usize = 4 << 10;

/// A run of a stream's entries: rows addressing one arena.
#[derive(Debug, Default, Clone)]
pub(crate) struct HeadRun {
    pub rows: Vec<HeadRow>,
    pub arena: Vec<u8>,
}

/// A stream's entries in the head: sealed runs (immutable, shared with scans) and the active run.
#[derive(Debug)]
pub(crate) struct HeadStream {
    pub labels: Arc<Labels>,
    pub id: u64,
    pub sealed: Vec<Arc<HeadRun>>,
    pub active: HeadRun,
    pub min_ns: i64,
    pub max_ns: i64,
    /// Line and metadata bytes as received.
    pub raw_bytes: u64,
    /// Entries in all runs.
    pub entries: u64,
}

impl HeadStream {
    fn new(labels: Arc<Labels>) -> Self {
        let id = stream_id(&labels);
        Self {
            labels,
            id,
            sealed: Vec::new(),
            active: HeadRun::default(),
            min_ns: i64::MAX,
            max_ns: i64::MIN,
            raw_bytes: 0,
            entries: 0,
        }
    }

    /// The stream's last entry, if any.
    fn last(&self) -> Option<(&HeadRun, &HeadRow)> {
        match self.active.rows.last() {
            Some(row) => Some((&self.active, row)),
            None => self.sealed.last().and_then(|run| run.rows.last().map(|row| (run.as_ref(), row))),
        }
    }

    /// Appends an entry unless it repeats the previous one; returns whether it was added.
    fn push(&mut self, entry: &LogEntry) -> bool {
        if let Some((run, last)) = self.last()
            && last.timestamp_ns == entry.timestamp_ns
            && run.line_bytes(last) == entry.line.as_bytes()
        {
            return false;
        }
        self.active.push(entry);
        if self.active.arena.len() >= SEAL_BYTES {
            // The next run of a stream this busy will fill too: allocate it whole now rather than let it double its
            // way up (a dozen reallocations and copies of the stream's bytes per run).
            let rows = self.active.rows.len();
            let next = HeadRun {
                rows: Vec::with_capacity(rows + rows / 4),
                arena: Vec::with_capacity(SEAL_BYTES + SEAL_SLACK_BYTES),
            };
            self.sealed.push(Arc::new(std::mem::replace(&mut self.active, next)));
        }
        self.min_ns = self.min_ns.min(entry.timestamp_ns);
        self.max_ns = self.max_ns.max(entry.timestamp_ns);
        self.raw_bytes += entry.size_bytes() as u64;
        self.entries += 1;
        true
    }

    /// Every run: sealed ones shared, the active one copied (what a scan takes while holding the head's lock).
    pub(crate) fn snapshot_runs(&self) -> Vec<Arc<HeadRun>> {
        let mut runs = self.sealed.clone();
        if !self.active.rows.is_empty() {
            runs.push(Arc::new(self.active.clone()));
        }
        runs
    }

    /// Every (run, row) of the stream, in arrival order.
    pub(crate) fn rows(&self) -> impl Iterator<Item = (&HeadRun, &HeadRow)> {
        self.sealed
            .iter()
            .map(|run| run.as_ref())
            .chain(std::iter::once(&self.active))
            .flat_map(|run| run.rows.iter().map(move |row| (run, row)))
    }
}

impl HeadRun {
    fn push(&mut self, entry: &LogEntry) {
        let offset = self.arena.len() as u32;
        self.arena.extend_from_slice(entry.line.as_bytes());
        let metadata_start = self.arena.len();
        if !entry.metadata.is_empty() {
            put_uvarint(&mut self.arena, entry.metadata.len() as u64);
            for pair in &entry.metadata {
                put_uvarint(&mut self.arena, pair.name.len() as u64);
                self.arena.extend_from_slice(pair.name.as_bytes());
                put_uvarint(&mut self.arena, pair.value.len() as u64);
                self.arena.extend_from_slice(pair.value.as_bytes());
            }
        }
        self.rows.push(HeadRow {
            timestamp_ns: entry.timestamp_ns,
            offset,
            line_len: entry.line.len() as u32,
            metadata_len: (self.arena.len() - metadata_start) as u32,
        });
    }

    pub(crate) fn line(&self, row: &HeadRow) -> &str {
        // The arena only ever receives `&str` bytes at these offsets.
        std::str::from_utf8(self.line_bytes(row)).unwrap_or("")
    }

    /// A row's line as bytes, without the UTF-8 check (for comparisons).
    fn line_bytes(&self, row: &HeadRow) -> &[u8] {
        let start = row.offset as usize;
        &self.arena[start..start + row.line_len as usize]
    }

    /// Decodes a row's structured metadata into `out` (cleared first).
    pub(crate) fn metadata<'a>(&'a self, row: &HeadRow, out: &mut Vec<(&'a str, &'a str)>) {
        out.clear();
        let start = row.offset as usize + row.line_len as usize;
        decode_metadata(&self.arena[start..start + row.metadata_len as usize], out);
    }
}

/// Decodes metadata encoded as `count, (len name, len value)*` into `out`; stops quietly at malformed bytes
/// (head arenas are written by this module only).
pub(crate) fn decode_metadata<'a>(bytes: &'a [u8], out: &mut Vec<(&'a str, &'a str)>) {
    if bytes.is_empty() {
        return;
    }
    let mut pos = 0;
    let Ok(count) = get_uvarint(bytes, &mut pos) else { return };
    for _ in 0..count {
        let (Ok(name), Ok(value)) =
            (oxeye_codec::varint::get_str(bytes, &mut pos), oxeye_codec::varint::get_str(bytes, &mut pos))
        else {
            return;
        };
        out.push((name, value));
    }
}

/// A stream's stable identity within the store: a fixed hash of its labels.
pub(crate) fn stream_id(labels: &Labels) -> u64 {
    let mut key = Vec::with_capacity(64);
    for label in labels.iter() {
        key.extend_from_slice(label.name.as_bytes());
        key.push(0xff);
        key.extend_from_slice(label.value.as_bytes());
        key.push(0xfe);
    }
    hash_bytes(&key)
}

/// The head of one tenant.
#[derive(Debug, Default)]
pub(crate) struct Head {
    pub streams: Vec<HeadStream>,
    index: HashMap<Arc<Labels>, usize>,
    pub raw_bytes: u64,
    pub entries: u64,
    /// When the first entry arrived (wall clock, ns), for the age-based cut.
    pub first_append_ns: Option<i64>,
}

impl Head {
    pub(crate) fn stream_index(&self, labels: &Labels) -> Option<usize> {
        self.index.get(labels).copied()
    }

    /// Appends entries to a stream (created if new); returns how many were added (duplicates are not).
    pub(crate) fn append(&mut self, labels: &Labels, entries: &[LogEntry], now_ns: i64) -> usize {
        let index = match self.index.get(labels) {
            Some(index) => *index,
            None => {
                let shared = Arc::new(labels.clone());
                self.streams.push(HeadStream::new(shared.clone()));
                self.index.insert(shared, self.streams.len() - 1);
                self.streams.len() - 1
            }
        };
        let stream = &mut self.streams[index];
        let before = stream.raw_bytes;
        let added = entries.iter().filter(|entry| stream.push(entry)).count();
        self.raw_bytes += stream.raw_bytes - before;
        self.entries += added as u64;
        if added > 0 && self.first_append_ns.is_none() {
            self.first_append_ns = Some(now_ns);
        }
        added
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxeye_model::Label;

    #[test]
    fn entries_round_trip_through_the_arena_and_repeats_are_dropped() {
        let labels = Labels::from_pairs([("app", "api")]).unwrap();
        let mut head = Head::default();
        let mut with_metadata = LogEntry::new(20, "second");
        with_metadata.metadata = vec![Label::new("trace_id", "abc"), Label::new("user", "ü")];
        let entries = [LogEntry::new(10, "first"), LogEntry::new(10, "first"), with_metadata, LogEntry::new(5, "")];
        assert_eq!(head.append(&labels, &entries, 0), 3);
        let stream = &head.streams[0];
        let lines: Vec<&str> = stream.rows().map(|(run, row)| run.line(row)).collect();
        assert_eq!(lines, ["first", "second", ""]);
        let rows: Vec<_> = stream.rows().collect();
        let mut metadata = Vec::new();
        rows[1].0.metadata(rows[1].1, &mut metadata);
        assert_eq!(metadata, [("trace_id", "abc"), ("user", "ü")]);
        rows[0].0.metadata(rows[0].1, &mut metadata);
        assert!(metadata.is_empty());
        assert_eq!((stream.min_ns, stream.max_ns), (5, 20));
        assert_eq!(head.entries, 3);
        assert_eq!(head.raw_bytes, 5 + 6 + 8 + 3 + 4 + 2);
    }

    #[test]
    fn full_runs_are_sealed_and_snapshots_see_every_entry() {
        let labels = Labels::from_pairs([("app", "api")]).unwrap();
        let mut head = Head::default();
        let line = "x".repeat(1000);
        let entries: Vec<LogEntry> = (0..200).map(|i| LogEntry::new(i, line.clone())).collect();
        assert_eq!(head.append(&labels, &entries, 0), 200);
        let stream = &head.streams[0];
        assert_eq!(stream.sealed.len(), 200_000 / SEAL_BYTES);
        assert_eq!(stream.entries, 200);
        let runs = stream.snapshot_runs();
        let timestamps: Vec<i64> = runs.iter().flat_map(|run| run.rows.iter().map(|row| row.timestamp_ns)).collect();
        assert_eq!(timestamps, (0..200).collect::<Vec<i64>>());
        // A repeat of the last entry is dropped even right after a seal.
        assert_eq!(head.append(&labels, &[LogEntry::new(199, line.clone())], 0), 0);
    }
}
