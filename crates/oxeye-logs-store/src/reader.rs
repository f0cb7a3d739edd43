//! [`LogsReader`] over one tenant: blocks, heads being cut, and the head.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::Arc;

use oxeye_model::Labels;
use oxeye_storage_api::{
    Direction, LogRow, LogScanRequest, LogScanStats, LogSink, LogsReader, Matcher, ReadError, StreamRef, StreamVolume,
};

use crate::block::reader::PageScratch;
use crate::block::reader::matches_all;
use crate::head::{Head, HeadRun};
use crate::tenant::TenantLogs;

/// Reads one tenant's logs. Cheap to create per request.
pub struct TenantLogsReader {
    tenant: Arc<TenantLogs>,
}

impl TenantLogsReader {
    pub fn new(tenant: Arc<TenantLogs>) -> Self {
        Self { tenant }
    }
}

fn storage_error(error: crate::LogsError) -> ReadError {
    ReadError::Storage(error.to_string())
}

/// The runs of one matching head stream, taken while the head's lock is held and read after it is released.
struct StreamSnapshot {
    labels: Arc<Labels>,
    id: u64,
    runs: Vec<Arc<HeadRun>>,
}

/// Takes the matching streams of a head (sealed runs shared, active runs copied: see `head.rs`).
fn snapshot_head(head: &Head, request: &LogScanRequest) -> Vec<StreamSnapshot> {
    head.streams
        .iter()
        .filter(|stream| {
            stream.entries > 0
                && stream.min_ns < request.end_ns
                && stream.max_ns >= request.start_ns
                && matches_all(&request.matchers, &stream.labels)
        })
        .map(|stream| StreamSnapshot { labels: stream.labels.clone(), id: stream.id, runs: stream.snapshot_runs() })
        .collect()
}

/// Scans snapshots of head streams (no filter hints: the head is small and unindexed).
fn scan_snapshots(
    snapshots: &[StreamSnapshot],
    request: &LogScanRequest,
    sink: &mut dyn LogSink,
    stats: &mut LogScanStats,
) -> ControlFlow<()> {
    let mut metadata = Vec::new();
    for stream in snapshots {
        stats.chunks_opened += 1;
        let stream_ref = StreamRef { id: stream.id, labels: &stream.labels };
        for run in &stream.runs {
            for row in &run.rows {
                if row.timestamp_ns < request.start_ns || row.timestamp_ns >= request.end_ns {
                    continue;
                }
                run.metadata(row, &mut metadata);
                let line = run.line(row);
                stats.decompressed_lines += 1;
                stats.decompressed_bytes += line.len() as u64;
                stats.structured_metadata_bytes += row.metadata_len as u64;
                let log_row = LogRow { timestamp_ns: row.timestamp_ns, line, metadata: &metadata };
                sink.row(stream_ref, log_row)?;
            }
        }
    }
    ControlFlow::Continue(())
}

impl LogsReader for TenantLogsReader {
    fn scan(&self, request: &LogScanRequest, sink: &mut dyn LogSink) -> Result<LogScanStats, ReadError> {
        let mut stats = LogScanStats::default();
        if request.matchers.is_empty() || request.start_ns >= request.end_ns {
            return Ok(stats);
        }
        let mut blocks = self.tenant.blocks_snapshot();
        if request.direction == Direction::Backward {
            blocks.reverse();
        }
        let scan_memory = |stats: &mut LogScanStats, sink: &mut dyn LogSink| -> ControlFlow<()> {
            // The lock is held only to take the snapshot; the engine's work on the rows happens after.
            let snapshots = snapshot_head(&self.tenant.head.read().unwrap_or_else(|p| p.into_inner()), request);
            scan_snapshots(&snapshots, request, sink, stats)?;
            let frozen = self.tenant.frozen.read().unwrap_or_else(|p| p.into_inner()).clone();
            for frozen_head in frozen.iter().rev() {
                scan_snapshots(&snapshot_head(&frozen_head.head, request), request, sink, stats)?;
            }
            ControlFlow::Continue(())
        };
        if request.direction == Direction::Backward && scan_memory(&mut stats, sink).is_break() {
            return Ok(stats);
        }
        let mut scratch = PageScratch::default();
        for block in &blocks {
            if block.scan(request, sink, &mut stats, &mut scratch).map_err(storage_error)?.is_break() {
                return Ok(stats);
            }
        }
        if request.direction == Direction::Forward {
            let _ = scan_memory(&mut stats, sink);
        }
        Ok(stats)
    }

    fn streams(&self, matchers: &[Matcher], start_ns: i64, end_ns: i64) -> Result<Vec<Labels>, ReadError> {
        Ok(self.volumes(matchers, start_ns, end_ns)?.into_iter().map(|volume| volume.labels).collect())
    }

    fn volumes(&self, matchers: &[Matcher], start_ns: i64, end_ns: i64) -> Result<Vec<StreamVolume>, ReadError> {
        let mut volumes: BTreeMap<Labels, StreamVolume> = BTreeMap::new();
        let mut add = |labels: &Labels, entries: u64, bytes: u64, chunks: u64| {
            let volume = volumes
                .entry(labels.clone())
                .or_insert_with(|| StreamVolume { labels: labels.clone(), ..StreamVolume::default() });
            volume.entries += entries;
            volume.bytes += bytes;
            volume.chunks += chunks;
        };
        for block in self.tenant.blocks_snapshot() {
            if !block.overlaps(start_ns, end_ns) {
                continue;
            }
            for stream in block.matching_streams(matchers, start_ns, end_ns) {
                add(&stream.labels, stream.entries, stream.raw_bytes, stream.page_count as u64);
            }
        }
        let mut add_head = |head: &Head| {
            for stream in &head.streams {
                if stream.entries > 0
                    && stream.min_ns < end_ns
                    && stream.max_ns >= start_ns
                    && matches_all(matchers, &stream.labels)
                {
                    add(&stream.labels, stream.entries, stream.raw_bytes, 1);
                }
            }
        };
        add_head(&self.tenant.head.read().unwrap_or_else(|p| p.into_inner()));
        for frozen in self.tenant.frozen.read().unwrap_or_else(|p| p.into_inner()).iter() {
            add_head(&frozen.head);
        }
        Ok(volumes.into_values().collect())
    }
}
