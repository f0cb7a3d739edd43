//! Tests of the head: identity, ordering verdicts, chunk cutting, truncation.

use super::*;
use crate::postings::select_postings;
use oxeye_storage_api::Matcher;

const HOUR: i64 = 3_600_000;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).unwrap()
}

#[test]
fn series_identity_and_index() {
    let mut head = Head::new(120, 2 * HOUR);
    let up_api = labels(&[("__name__", "up"), ("job", "api")]);
    let up_db = labels(&[("__name__", "up"), ("job", "db")]);
    let a = head.create(&up_api, None);
    let b = head.create(&up_db, None);
    assert_ne!(a, b);
    assert_eq!(head.lookup(&up_api), Some(a));
    assert_eq!(head.lookup(&labels(&[("__name__", "up")])), None);
    assert_eq!(head.labels_of(b), Some(up_db));
    assert_eq!(select_postings(&head, &[Matcher::equal("job", "db")]), [b]);
    assert_eq!(select_postings(&head, &[Matcher::equal("__name__", "up")]), [a, b]);
    assert_eq!(head.label_names(), ["__name__", "job"]);
}

#[test]
fn sample_verdicts_follow_the_window() {
    let mut head = Head::new(120, 2 * HOUR);
    let id = head.create(&labels(&[("__name__", "x")]), None);
    head.apply_sample(id, 10 * HOUR, 1.0);
    let window = 600_000;
    let f = |head: &Head, timestamp: i64, value: f64, want: SampleVerdict| {
        assert_eq!(head.check_sample(id, timestamp, value, window), want, "t={timestamp} v={value}")
    };
    f(&head, 10 * HOUR + 1, 2.0, SampleVerdict::InOrder);
    f(&head, 10 * HOUR, 1.0, SampleVerdict::Duplicate);
    f(&head, 10 * HOUR, 3.0, SampleVerdict::Conflict);
    f(&head, 10 * HOUR - 1000, 3.0, SampleVerdict::OutOfOrder);
    f(&head, 10 * HOUR - window - 1, 3.0, SampleVerdict::TooOld);
    head.apply_sample(id, 10 * HOUR - 1000, 5.0);
    f(&head, 10 * HOUR - 1000, 5.0, SampleVerdict::Duplicate);
    let mut samples = Vec::new();
    head.series(id).unwrap().samples_in(0, i64::MAX, &mut samples);
    assert_eq!(samples, [Sample::new(10 * HOUR - 1000, 5.0), Sample::new(10 * HOUR, 1.0)]);
}

#[test]
fn chunks_are_cut_by_count_and_at_block_boundaries() {
    for with_files in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut head = Head::new(4, 2 * HOUR);
        if with_files {
            head.use_chunk_files(ChunkFiles::open(dir.path()).unwrap());
        }
        let id = head.create(&labels(&[("__name__", "x")]), None);
        // 10 samples every 15 minutes from 1h: crosses the 2h boundary after 4 samples.
        for i in 0..10 {
            head.apply_sample(id, HOUR + i * 15 * 60_000, i as f64);
        }
        let series = head.series(id).unwrap();
        assert!(series.chunks.iter().all(|c| c.max_t < 2 * HOUR || c.min_t >= 2 * HOUR), "no chunk straddles 2h");
        assert!(
            series.chunks.iter().all(|c| matches!(c.bytes, ChunkBytes::File { .. }) == with_files),
            "closed chunks are in files exactly when the head has them: {:?}",
            series.chunks
        );
        let ids = head.plan_cut(0, 2 * HOUR);
        assert_eq!(ids, [id]);
        let mut block = Vec::new();
        head.snapshot_series(&ids, 0, 2 * HOUR, &mut block);
        let mut samples = Vec::new();
        block[0].samples(0, 2 * HOUR, &mut samples, &mut Vec::new()).unwrap();
        assert_eq!(samples, (0..4).map(|i| Sample::new(HOUR + i * 15 * 60_000, i as f64)).collect::<Vec<_>>());
        assert_eq!(block[0].labels, [(Arc::from("__name__"), Arc::from("x"))]);
        drop(block);
        head.truncate_before(2 * HOUR);
        let mut samples = Vec::new();
        head.series(id).unwrap().samples_in(0, i64::MAX, &mut samples);
        assert_eq!(samples, (4..10).map(|i| Sample::new(HOUR + i * 15 * 60_000, i as f64)).collect::<Vec<_>>());
        assert_eq!(head.check_sample(id, HOUR, 1.0, 10 * HOUR), SampleVerdict::TooOld, "cut ranges are closed");
        if with_files {
            // The second chunk (from 2h) is still referenced, so the one segment stays.
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
            head.apply_sample(id, 5 * HOUR, 1.0);
            head.truncate_before(5 * HOUR);
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "a segment with no live chunk is deleted");
        }
    }
}

#[test]
fn truncation_removes_empty_series_and_keeps_the_index_consistent() {
    let mut head = Head::new(120, 2 * HOUR);
    let old = head.create(&labels(&[("__name__", "old"), ("job", "a")]), None);
    let live = head.create(&labels(&[("__name__", "live"), ("job", "a")]), None);
    head.apply_sample(old, HOUR, 1.0);
    head.apply_sample(live, HOUR, 1.0);
    head.apply_sample(live, 3 * HOUR, 2.0);
    assert_eq!(head.truncate_before(2 * HOUR), 1);
    assert_eq!(head.num_series(), 1);
    assert_eq!(head.lookup(&labels(&[("__name__", "old"), ("job", "a")])), None);
    assert_eq!(select_postings(&head, &[Matcher::equal("job", "a")]), [live]);
    assert_eq!(head.labels_of(live).unwrap().metric_name(), Some("live"));
}
