//! End-to-end tests of one tenant's database on real files: append, read, restart, blocks, compaction,
//! retention, limits.

use super::*;
use crate::SeriesInput;
use oxeye_model::{Exemplar, Labels, MetricMetadata, MetricType, Sample, TimeSeries, WriteBatch};
use oxeye_storage_api::{Matcher, MetricsReader, SelectRequest};
use std::time::Duration;

const HOUR: i64 = 3_600_000;
/// A fixed "now" for tests: 2026-01-01T00:00:00Z.
const NOW: i64 = 1_767_225_600_000;

fn options(dir: &Path) -> StoreOptions {
    let mut options = StoreOptions::new(dir);
    options.wal_sync = oxeye_wal::SyncPolicy::Never;
    options.default_limits.retention = Duration::from_secs(365 * 24 * 3600);
    options
}

fn open(dir: &Path, options: &StoreOptions) -> TenantDb {
    TenantDb::open(TenantId::new("t1").unwrap(), dir, options).unwrap()
}

fn series(pairs: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels: Labels::from_pairs(pairs.iter().copied()).unwrap(),
        samples: samples.iter().map(|(t, v)| Sample::new(*t, *v)).collect(),
        exemplars: Vec::new(),
    }
}

fn select_all(db: &TenantDb, name: &str) -> Vec<(String, Vec<(i64, f64)>)> {
    let request = SelectRequest::new(vec![Matcher::equal("__name__", name)], i64::MIN, i64::MAX);
    db.select_series(&request)
        .unwrap()
        .into_iter()
        .map(|s| (s.labels.to_string(), s.samples.iter().map(|x| (x.timestamp_ms, x.value)).collect()))
        .collect()
}

/// A batch of `count` series `m{i}` with one sample each at `t`.
fn wide_batch(count: usize, t: i64, value: f64) -> WriteBatch {
    WriteBatch {
        series: (0..count).map(|i| series(&[("__name__", "m"), ("i", &i.to_string())], &[(t, value)])).collect(),
        metadata: Vec::new(),
    }
}

#[test]
fn appended_data_is_read_back_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let options = options(dir.path());
    let db = open(dir.path(), &options);
    let mut batch = WriteBatch {
        series: vec![series(&[("__name__", "up"), ("job", "a")], &[(NOW - 30_000, 1.0), (NOW - 15_000, 0.0)])],
        metadata: vec![MetricMetadata {
            metric_family: "up".into(),
            metric_type: MetricType::Gauge,
            help: "h".into(),
            unit: "".into(),
        }],
    };
    batch.series[0].exemplars.push(Exemplar {
        labels: Labels::from_pairs([("trace_id", "abc")]).unwrap(),
        value: 1.0,
        timestamp_ms: NOW - 15_000,
    });
    let outcome = db.append(&batch, NOW).unwrap();
    assert_eq!((outcome.samples_accepted, outcome.series_created, outcome.exemplars_accepted), (2, 1, 1));
    let want = vec![("up{job=\"a\"}".to_string(), vec![(NOW - 30_000, 1.0), (NOW - 15_000, 0.0)])];
    assert_eq!(select_all(&db, "up"), want);
    // Simulate a crash: no flush, no sync beyond write(2); reopen replays the WAL.
    drop(db);
    let db = open(dir.path(), &options);
    assert_eq!(select_all(&db, "up"), want);
    assert_eq!(db.metadata(Some("up"), 0).unwrap()[0].help, "h");
    let exemplars = db.select_exemplars(&SelectRequest::new(vec![Matcher::equal("job", "a")], 0, i64::MAX)).unwrap();
    assert_eq!(exemplars[0].exemplars[0].labels.get("trace_id"), Some("abc"));
    // Appends after the restart continue the same series.
    db.append(
        &WriteBatch { series: vec![series(&[("__name__", "up"), ("job", "a")], &[(NOW, 1.0)])], metadata: vec![] },
        NOW,
    )
    .unwrap();
    assert_eq!(select_all(&db, "up")[0].1.len(), 3);
    assert_eq!(db.head_series(), 1);
}

#[test]
fn ordering_and_limits_are_enforced_per_sample_and_per_series() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = options(dir.path());
    options.default_limits.max_active_series = 2;
    options.default_limits.max_labels_per_series = 3;
    options.default_limits.out_of_order_window = Duration::from_secs(60);
    options.default_limits.max_sample_age = Some(Duration::from_secs(3600));
    let db = open(dir.path(), &options);
    let batch = WriteBatch {
        series: vec![
            series(&[("__name__", "a")], &[(NOW, 1.0)]),
            series(&[("__name__", "b"), ("x", "1"), ("y", "2"), ("z", "3")], &[(NOW, 1.0)]),
            series(&[("__name__", "c")], &[(NOW - 2 * HOUR, 1.0), (NOW + HOUR, 1.0), (NOW, 2.0)]),
            series(&[("__name__", "d")], &[(NOW, 1.0)]),
        ],
        metadata: vec![],
    };
    let outcome = db.append(&batch, NOW).unwrap();
    let reasons: Vec<(RejectReason, usize)> = outcome.rejections.iter().map(|r| (r.reason, r.samples)).collect();
    assert_eq!(
        reasons,
        [
            (RejectReason::TooManyLabels, 1),
            (RejectReason::SampleTooOld, 1),
            (RejectReason::SampleTooNew, 1),
            (RejectReason::SeriesLimit, 1)
        ]
    );
    assert!(
        outcome.rejections[0].message.contains("b{x=\"1\", y=\"2\", z=\"3\"}"),
        "{}",
        outcome.rejections[0].message
    );
    assert_eq!(outcome.samples_accepted, 2, "a and the valid sample of c are stored");
    let later = WriteBatch {
        series: vec![series(
            &[("__name__", "a")],
            &[(NOW, 1.0), (NOW, 5.0), (NOW - 30_000, 3.0), (NOW - 120_000, 4.0)],
        )],
        metadata: vec![],
    };
    let outcome = db.append(&later, NOW).unwrap();
    let reasons: Vec<RejectReason> = outcome.rejections.iter().map(|r| r.reason).collect();
    // (NOW, 1.0) is an exact duplicate and silently ignored; (NOW, 5.0) conflicts; -30 s is within the 60 s
    // out-of-order window; -120 s is not.
    assert_eq!(reasons, [RejectReason::OutOfOrder, RejectReason::DuplicateTimestamp]);
    assert_eq!(select_all(&db, "a")[0].1, vec![(NOW - 30_000, 3.0), (NOW, 1.0)]);
    let counted: u64 = db.stats().rejected_samples.iter().map(|c| c.load(Ordering::Relaxed)).sum();
    assert_eq!(counted, 6);
}

#[test]
fn head_is_cut_into_blocks_then_compacted_and_expired_by_retention() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = options(dir.path());
    options.default_limits.retention = Duration::from_secs(3 * 24 * 3600);
    let db = open(dir.path(), &options);
    // 30 hours of data every 10 minutes for 50 series, starting at an aligned hour.
    let start = (NOW - 30 * HOUR).div_euclid(2 * HOUR) * 2 * HOUR;
    let mut t = start;
    while t < start + 30 * HOUR {
        db.append(&wide_batch(50, t, (t / 1000) as f64), t + 1).unwrap();
        t += 600_000;
    }
    db.maintain(start + 30 * HOUR).unwrap();
    let (blocks, bytes) = db.block_summary();
    assert!(blocks >= 2 && bytes > 0, "blocks={blocks}");
    assert!(db.stats().compactions.load(Ordering::Relaxed) > 0, "2h blocks inside complete 6h windows are merged");
    for block in db.blocks_snapshot() {
        assert!(block.meta.max_time - block.meta.min_time <= 6 * HOUR, "windows are capped at retention/10 → 6h");
    }
    // Every sample is still readable exactly once, across blocks and head.
    let all = select_all(&db, "m");
    assert_eq!(all.len(), 50);
    assert!(all.iter().all(|(_, samples)| samples.len() == 180), "{}", all[0].1.len());
    // Survives a restart with blocks + checkpoint + WAL.
    drop(db);
    let db = open(dir.path(), &options);
    assert!(select_all(&db, "m").iter().all(|(_, samples)| samples.len() == 180));
    // Far in the future, every block is past retention and is deleted from disk and from results.
    db.maintain(start + 30 * HOUR + 4 * 24 * HOUR).unwrap();
    let remaining_dirs = std::fs::read_dir(dir.path().join(files::BLOCKS_DIR)).unwrap().count();
    assert_eq!(db.block_summary().0, remaining_dirs);
    assert_eq!(remaining_dirs, 0);
    let left: usize = select_all(&db, "m").iter().map(|(_, s)| s.len()).sum();
    assert!(left < 50 * 180, "expired data must disappear from results, {left} samples left");
}

#[test]
fn flush_writes_the_whole_head_and_keeps_accepting_newer_samples() {
    // Mid-range, so that both flushes fall into the same 2 h block range.
    const NOW: i64 = super::tests::NOW + HOUR;
    let dir = tempfile::tempdir().unwrap();
    let options = options(dir.path());
    let db = open(dir.path(), &options);
    db.append(&wide_batch(10, NOW - 60_000, 1.0), NOW).unwrap();
    db.flush().unwrap();
    assert_eq!(db.block_summary().0, 1);
    assert_eq!(db.head_series(), 0);
    let outcome = db.append(&wide_batch(10, NOW, 2.0), NOW).unwrap();
    assert_eq!(outcome.samples_accepted, 10);
    let outcome = db.append(&wide_batch(10, NOW - 120_000, 2.0), NOW).unwrap();
    assert_eq!(outcome.rejections[0].reason, RejectReason::OutOfOrder, "flushed time is closed to writes");
    db.flush().unwrap();
    assert_eq!(db.block_summary().0, 1, "the two adjacent partial blocks of one range are merged");
    drop(db);
    let db = open(dir.path(), &options);
    assert!(select_all(&db, "m").iter().all(|(_, s)| s == &[(NOW - 60_000, 1.0), (NOW, 2.0)]));
}

#[test]
fn labels_and_values_are_listed_with_and_without_matchers() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), &options(dir.path()));
    let batch = WriteBatch {
        series: vec![
            series(&[("__name__", "up"), ("job", "a"), ("zone", "z1")], &[(NOW, 1.0)]),
            series(&[("__name__", "up"), ("job", "b")], &[(NOW, 1.0)]),
            series(&[("__name__", "cpu"), ("job", "a"), ("core", "0")], &[(NOW - HOUR, 1.0)]),
        ],
        metadata: vec![],
    };
    db.append(&batch, NOW).unwrap();
    let all = SelectRequest::new(vec![], NOW - 2 * HOUR, NOW);
    assert_eq!(db.label_names(&all).unwrap(), ["__name__", "core", "job", "zone"]);
    assert_eq!(db.label_values("job", &all).unwrap(), ["a", "b"]);
    let only_up = SelectRequest::new(vec![Matcher::equal("__name__", "up")], NOW - 2 * HOUR, NOW);
    assert_eq!(db.label_names(&only_up).unwrap(), ["__name__", "job", "zone"]);
    let recent = SelectRequest::new(vec![Matcher::regex("job", ".+").unwrap()], NOW - 60_000, NOW);
    assert_eq!(db.label_values("__name__", &recent).unwrap(), ["up"], "cpu has no data in the last minute");
    assert_eq!(db.series_labels(&only_up).unwrap().len(), 2);
}

#[test]
fn keyed_series_are_resolved_once_and_again_after_they_leave_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), &options(dir.path()));
    let owned = series(&[("__name__", "k"), ("job", "a")], &[]);
    let resolved = std::cell::Cell::new(0);
    let append = |t: i64, key: &[u8]| {
        let samples = [Sample::new(t, 1.0)];
        let inputs = [SeriesInput::Keyed { key, samples: &samples }];
        let mut resolve = |_| {
            resolved.set(resolved.get() + 1);
            Ok(Some(TimeSeries { samples: samples.to_vec(), ..owned.clone() }))
        };
        db.append_inputs(&inputs, &mut resolve, &[], NOW).unwrap()
    };
    assert_eq!(append(NOW - 3000, b"key-1").samples_accepted, 1);
    assert_eq!(append(NOW - 2000, b"key-1").samples_accepted, 1);
    assert_eq!(append(NOW - 1000, b"key-1").samples_accepted, 1);
    assert_eq!(resolved.get(), 1, "a known key skips decoding");
    // Another encoding of the same labels resolves to the same series.
    assert_eq!(append(NOW, b"key-2").series_created, 0);
    assert_eq!(resolved.get(), 2);
    assert_eq!(select_all(&db, "k")[0].1.len(), 4);
    // Once the series is flushed out of the head, its key must not point at a removed id.
    db.flush().unwrap();
    assert_eq!(db.head_series(), 0);
    let outcome = append(NOW + 1000, b"key-1");
    assert_eq!((outcome.samples_accepted, outcome.series_created), (1, 1));
    assert_eq!(resolved.get(), 3);
    assert_eq!(select_all(&db, "k")[0].1.len(), 5);
}

#[test]
fn a_cut_fetching_many_batches_writes_every_sample_in_label_order_and_checkpoints_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = options(dir.path());
    options.default_limits.out_of_order_window = Duration::from_secs(3600);
    let db = open(dir.path(), &options);
    // More series than three fetch batches, created in an order unrelated to their label order.
    let count = CUT_BATCH_SERIES * 2 + 500;
    let batch = |t: i64| WriteBatch {
        series: (0..count)
            .rev()
            .map(|i| series(&[("__name__", "m"), ("i", &(i * 7919 % count).to_string())], &[(t, i as f64)]))
            .collect(),
        metadata: Vec::new(),
    };
    for t in [NOW - 90 * 60_000, NOW - 60 * 60_000, NOW - 30 * 60_000] {
        assert!(db.append(&batch(t), NOW).unwrap().rejections.is_empty());
    }
    let late = series(&[("__name__", "m"), ("i", "17")], &[(NOW - 75 * 60_000, -1.0)]);
    let outcome = db.append(&WriteBatch { series: vec![late], metadata: Vec::new() }, NOW).unwrap();
    assert_eq!(outcome.samples_accepted, 1, "out-of-order sample accepted");
    let before = select_all(&db, "m");
    assert_eq!(before.len(), count);
    assert_eq!(before.iter().map(|(_, samples)| samples.len()).sum::<usize>(), count * 3 + 1);

    db.flush().unwrap();
    assert_eq!(db.head_series(), 0);
    let blocks = db.blocks_snapshot();
    let labels: Vec<Labels> = blocks.iter().flat_map(|b| (0..b.num_series() as u32).map(|id| b.labels(id))).collect();
    assert!(labels.windows(2).all(|pair| pair[0] < pair[1]), "one block, series in label order");
    assert_eq!(select_all(&db, "m"), before);

    // Newer samples stay in the head and come back from the checkpoint written by the flush plus the WAL.
    assert!(db.append(&batch(NOW), NOW).unwrap().rejections.is_empty());
    let with_head = select_all(&db, "m");
    db.checkpoint().unwrap();
    drop(db);
    let reopened = open(dir.path(), &options);
    assert_eq!(select_all(&reopened, "m"), with_head);
}

#[test]
fn closed_chunks_live_in_head_chunk_files_which_restarts_do_not_need() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = options(dir.path());
    options.samples_per_head_chunk = 2;
    let chunks_dir = dir.path().join(files::HEAD_CHUNKS_DIR);
    let file_count = || std::fs::read_dir(&chunks_dir).unwrap().count();
    let db = open(dir.path(), &options);
    for step in 0..7 {
        let t = NOW - 60 * 60_000 + step * 60_000;
        assert!(db.append(&wide_batch(10, t, step as f64), NOW).unwrap().rejections.is_empty());
    }
    let head = db.lock_head();
    let series = head.series(head.lookup(&Labels::from_pairs([("__name__", "m"), ("i", "3")]).unwrap()).unwrap());
    let chunks = &series.unwrap().chunks;
    assert_eq!(chunks.len(), 3, "7 samples at 2 a chunk: 3 closed chunks and an open one");
    assert!(chunks.iter().all(|c| matches!(c.bytes, crate::head::ChunkBytes::File { .. })), "{chunks:?}");
    drop(head);
    assert_eq!(file_count(), 1);
    let before = select_all(&db, "m");
    assert_eq!(before.len(), 10);
    assert!(before.iter().all(|(_, samples)| samples.len() == 7), "{before:?}");

    // The checkpoint copies the chunks out of the files; a restart deletes the files and does not miss them.
    db.checkpoint().unwrap();
    drop(db);
    std::fs::write(chunks_dir.join("00000001"), b"garbage a restart must not read").unwrap();
    let db = open(dir.path(), &options);
    assert_eq!(select_all(&db, "m"), before);
    db.flush().unwrap();
    assert_eq!(select_all(&db, "m"), before);
    assert_eq!(file_count(), 0, "nothing is left in the head, so no chunk file either");
}
