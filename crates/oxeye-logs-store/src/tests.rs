//! Store-level tests: append, cut, reopen, limits, retention, compaction.

use std::ops::ControlFlow;
use std::time::Duration;

use oxeye_model::{Label, Labels, LogBatch, LogEntry, LogStream, TenantId};
use oxeye_storage_api::{Direction, LogFilterHints, LogRow, LogScanRequest, LogsReader, Matcher, StreamRef};

use crate::{LogRejectReason, LogsOptions, LogsStore, TenantLogsReader};

const NOW: i64 = 1_800_000_000_000_000_000;

fn stream(labels: &[(&str, &str)], entries: &[(i64, &str)]) -> LogStream {
    LogStream {
        labels: Labels::from_pairs(labels.iter().copied()).unwrap(),
        entries: entries.iter().map(|(ts, line)| LogEntry::new(*ts, *line)).collect(),
    }
}

fn all_rows(store: &LogsStore, tenant: &TenantId, matchers: Vec<Matcher>) -> Vec<(String, i64, String)> {
    let reader = TenantLogsReader::new(store.tenant(tenant).unwrap());
    let request = LogScanRequest {
        matchers,
        start_ns: 0,
        end_ns: i64::MAX,
        direction: Direction::Forward,
        hints: LogFilterHints::default(),
    };
    let mut rows = Vec::new();
    reader
        .scan(&request, &mut |s: StreamRef<'_>, r: LogRow<'_>| {
            rows.push((s.labels.to_string(), r.timestamp_ns, r.line.to_string()));
            ControlFlow::Continue(())
        })
        .unwrap();
    rows.sort();
    rows
}

fn any_app() -> Vec<Matcher> {
    vec![Matcher::regex("app", ".+").unwrap()]
}

#[test]
fn appended_entries_survive_a_cut_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = TenantId::new("team-a").unwrap();
    let expected = {
        let store = LogsStore::open(LogsOptions::new(dir.path())).unwrap();
        let logs = store.tenant(&tenant).unwrap();
        let mut with_trace = LogEntry::new(NOW - 3, "traced");
        with_trace.metadata = vec![Label::new("trace_id", "0af7")];
        let mut api = stream(&[("app", "api")], &[(NOW - 10, "one"), (NOW - 20, "older, out of order")]);
        api.entries.push(with_trace);
        let outcome = logs.append(LogBatch { streams: vec![api] }, NOW).unwrap();
        assert_eq!(outcome.accepted_entries, 3);
        assert!(outcome.rejections.is_empty());
        assert!(logs.maintain(NOW, true).unwrap(), "forced cut");
        let db = stream(&[("app", "db")], &[(NOW - 5, "in the head")]);
        logs.append(LogBatch { streams: vec![db] }, NOW).unwrap();
        let rows = all_rows(&store, &tenant, any_app());
        assert_eq!(rows.len(), 4);
        rows
        // Dropped without any shutdown: the head's entry lives only in the WAL.
    };
    let store = LogsStore::open(LogsOptions::new(dir.path())).unwrap();
    assert_eq!(all_rows(&store, &tenant, any_app()), expected);
    assert_eq!(
        expected.iter().map(|r| r.2.as_str()).collect::<Vec<_>>(),
        ["older, out of order", "one", "traced", "in the head"]
    );
    // The cut block's WAL segments are gone; only the head's data is replayed (no duplicates above).
    let summary = store.tenant(&tenant).unwrap().summary();
    assert_eq!((summary.blocks, summary.head_entries), (1, 1));
}

#[test]
fn limits_refuse_with_lokis_messages_and_keep_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = LogsOptions::new(dir.path());
    options.default_limits.max_line_size = 10;
    options.default_limits.max_streams = 1;
    let store = LogsStore::open(options).unwrap();
    let logs = store.tenant(&TenantId::default_tenant()).unwrap();
    let week = 7 * 86_400 * 1_000_000_000i64;
    let batch = LogBatch {
        streams: vec![
            stream(&[("app", "a")], &[(NOW, "short"), (NOW, "this line is too long"), (NOW - week - 1, "old")]),
            stream(&[("app", "b")], &[(NOW + 3_600_000_000_000, "future")]),
            stream(&[("app", "c")], &[(NOW, "third")]),
        ],
    };
    let outcome = logs.append(batch, NOW).unwrap();
    assert_eq!(outcome.accepted_entries, 1);
    let reasons: Vec<(LogRejectReason, usize)> = outcome.rejections.iter().map(|r| (r.reason, r.entries)).collect();
    assert_eq!(
        reasons,
        [
            (LogRejectReason::LineTooLong, 1),
            (LogRejectReason::TooOld, 1),
            (LogRejectReason::TooNew, 1),
            (LogRejectReason::StreamLimit, 1)
        ]
    );
    assert_eq!(
        outcome.rejections[0].message,
        r#"Max entry size '10' bytes exceeded for stream '{app="a"}' while adding an entry with length '21' bytes"#
    );
    assert!(outcome.rejections[1].message.starts_with(r#"entry for stream '{app="a"}' has timestamp too old: "#));
    assert!(outcome.rejections[3].message.starts_with("Maximum active stream limit exceeded"));
    assert_eq!(all_rows(&store, &TenantId::default_tenant(), any_app()).len(), 1);
}

#[test]
fn the_ingestion_rate_refuses_whole_batches() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = LogsOptions::new(dir.path());
    options.default_limits.ingestion_rate_bytes = 10.0;
    options.default_limits.ingestion_burst_bytes = 20.0;
    let store = LogsStore::open(options).unwrap();
    let logs = store.tenant(&TenantId::default_tenant()).unwrap();
    let batch = |line: &str| LogBatch { streams: vec![stream(&[("app", "a")], &[(NOW, line)])] };
    assert_eq!(logs.append(batch("0123456789abcdef"), NOW).unwrap().accepted_entries, 1);
    let outcome = logs.append(batch("0123456789abcdeg"), NOW).unwrap();
    assert_eq!(outcome.accepted_entries, 0);
    assert_eq!(outcome.rejections[0].reason, LogRejectReason::RateLimited);
    assert_eq!(outcome.rejections[0].reason.http_status(), 429);
    assert!(outcome.rejections[0].message.contains("(limit: 10 bytes/sec) while attempting to ingest '1' lines"));
    // Two seconds later the bucket has refilled enough.
    assert_eq!(logs.append(batch("0123456789abcdeh"), NOW + 2_000_000_000).unwrap().accepted_entries, 1);
}

#[test]
fn retention_deletes_blocks_whose_newest_entry_expired() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = LogsOptions::new(dir.path());
    options.default_limits.retention = Duration::from_secs(3600);
    let store = LogsStore::open(options).unwrap();
    let tenant = TenantId::default_tenant();
    let logs = store.tenant(&tenant).unwrap();
    let minute = 60_000_000_000i64;
    logs.append(LogBatch { streams: vec![stream(&[("app", "old")], &[(NOW - 30 * minute, "old")])] }, NOW).unwrap();
    logs.maintain(NOW, true).unwrap();
    logs.append(LogBatch { streams: vec![stream(&[("app", "new")], &[(NOW, "new")])] }, NOW).unwrap();
    logs.maintain(NOW, true).unwrap();
    assert_eq!(logs.summary().blocks, 2);
    // 31 minutes later the first block's newest entry is 61 minutes old: past the one-hour retention.
    logs.maintain(NOW + 31 * minute, false).unwrap();
    let rows: Vec<String> = all_rows(&store, &tenant, any_app()).into_iter().map(|r| r.2).collect();
    assert_eq!(rows, ["new"]);
    let block_files = std::fs::read_dir(dir.path().join("tenants/default/logs/blocks")).unwrap().count();
    assert_eq!((logs.summary().blocks, block_files), (1, 1));
}

#[test]
fn compaction_merges_a_days_small_blocks_without_changing_what_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogsStore::open(LogsOptions::new(dir.path())).unwrap();
    let tenant = TenantId::default_tenant();
    let logs = store.tenant(&tenant).unwrap();
    for i in 0..3 {
        let batch = LogBatch {
            streams: vec![
                stream(&[("app", "x")], &[(NOW + 10 - i, "x line")]),
                stream(&[("app", "y")], &[(NOW - i, "y line")]),
            ],
        };
        logs.append(batch, NOW).unwrap();
        logs.maintain(NOW, true).unwrap();
    }
    assert_eq!(logs.summary().blocks, 3, "below the merge threshold");
    // The same entry again in a fourth block: the merge drops the exact repeat.
    logs.append(LogBatch { streams: vec![stream(&[("app", "x")], &[(NOW + 10, "x line")])] }, NOW).unwrap();
    logs.maintain(NOW, true).unwrap();
    assert_eq!(logs.summary().blocks, 1);
    let rows = all_rows(&store, &tenant, any_app());
    let expected: Vec<(String, i64, String)> = [
        (r#"{app="x"}"#, NOW + 8, "x line"),
        (r#"{app="x"}"#, NOW + 9, "x line"),
        (r#"{app="x"}"#, NOW + 10, "x line"),
        (r#"{app="y"}"#, NOW - 2, "y line"),
        (r#"{app="y"}"#, NOW - 1, "y line"),
        (r#"{app="y"}"#, NOW, "y line"),
    ]
    .iter()
    .map(|(l, t, s)| (l.to_string(), *t, s.to_string()))
    .collect();
    assert_eq!(rows, expected);
    // Still readable after a restart.
    drop(logs);
    drop(store);
    let store = LogsStore::open(LogsOptions::new(dir.path())).unwrap();
    assert_eq!(all_rows(&store, &tenant, any_app()), expected);
}

#[test]
fn a_full_head_is_cut_without_waiting_for_maintenance() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = LogsOptions::new(dir.path());
    options.head_max_bytes = 1000;
    let store = LogsStore::open(options).unwrap();
    let tenant = TenantId::default_tenant();
    let logs = store.tenant(&tenant).unwrap();
    let line = "x".repeat(600);
    logs.append(LogBatch { streams: vec![stream(&[("app", "a")], &[(NOW, &line)])] }, NOW).unwrap();
    assert_eq!(logs.summary().blocks, 0, "below the limit: no cut");
    logs.append(LogBatch { streams: vec![stream(&[("app", "a")], &[(NOW + 1, &line)])] }, NOW).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while logs.summary().blocks == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let summary = logs.summary();
    assert_eq!((summary.blocks, summary.head_entries), (1, 0));
    assert_eq!(all_rows(&store, &tenant, any_app()).len(), 2);
}

#[test]
fn a_head_at_its_hard_limit_refuses_with_429() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = LogsOptions::new(dir.path());
    // A limit no background cut can keep up with: the first append reaches 4× it.
    options.head_max_bytes = 10;
    let store = LogsStore::open(options).unwrap();
    let tenant = TenantId::default_tenant();
    let logs = store.tenant(&tenant).unwrap();
    let batch = |line: &str| LogBatch { streams: vec![stream(&[("app", "a")], &[(NOW, line)])] };
    // Take the cut lock so no cut can run while we fill the head.
    let outcome = {
        let _blocked = logs.hold_cuts_for_test();
        assert_eq!(logs.append_for_test(batch("0123456789012345678901234567890123456789"), NOW).accepted_entries, 1);
        logs.append_for_test(batch("next"), NOW)
    };
    assert_eq!(outcome.accepted_entries, 0);
    assert_eq!(outcome.rejections[0].reason, LogRejectReason::HeadFull);
    assert_eq!(outcome.rejections[0].reason.http_status(), 429);
    assert!(outcome.rejections[0].message.contains("retry later"), "{}", outcome.rejections[0].message);
}
