//! The miner on fixed line sets, with counts per bucket worked out by hand, and a request over an in-memory
//! [`LogsReader`].

use std::sync::atomic::AtomicBool;

use oxeye_model::Labels;
use oxeye_storage_api::{
    LogRow, LogScanRequest, LogScanStats, LogSink, LogsReader, Matcher, ReadError, StreamRef, StreamVolume,
};

use super::*;

/// Seconds since the epoch of the data sets' first line: a multiple of 60 s, so 10 s and 60 s steps align on it.
const T0_S: i64 = 1_700_000_040;
const NS: i64 = 1_000_000_000;

fn ns(seconds: i64) -> i64 {
    (T0_S + seconds) * NS
}

fn ms(seconds: i64) -> i64 {
    (T0_S + seconds) * 1000
}

fn samples(pairs: &[(i64, i64)]) -> Vec<Sample> {
    pairs.iter().map(|&(seconds, count)| Sample { timestamp_ms: ms(seconds), count }).collect()
}

fn series(pattern: &str, level: &'static str, pairs: &[(i64, i64)]) -> PatternSeries {
    PatternSeries { pattern: pattern.to_string(), level, samples: samples(pairs) }
}

/// Trains `count` lines of stream `stream`, one per second from `first_second`, made by `line(i)`.
fn train(
    miner: &mut PatternMiner,
    stream: u64,
    level: &str,
    first_second: i64,
    count: i64,
    line: impl Fn(i64) -> String,
) {
    for index in 0..count {
        let text = EntryText::new(&line(index));
        miner.train(stream, ns(first_second + index), &text, level_index(level));
    }
}

#[test]
fn one_shape_with_varying_ids_is_one_pattern_counted_per_bucket() {
    let mut miner = PatternMiner::new();
    train(&mut miner, 1, "info", 0, 40, |i| format!("user {} logged in from 10.0.{}.{}", 1000 + i * 7, i % 3, i));
    let want = series("user <_> logged in from <_>", "info", &[(0, 10), (10, 10), (20, 10), (30, 10)]);
    assert_eq!(miner.series(ms(0), ms(60), 10_000), [want]);
    // A wider step sums the buckets; a narrower one is raised to 10 s.
    assert_eq!(miner.series(ms(0), ms(60), 60_000), [series("user <_> logged in from <_>", "info", &[(0, 40)])]);
    assert_eq!(miner.series(ms(0), ms(60), 1_000)[0].samples.len(), 4);
    // Buckets starting before the range's start are left out: the range starts at 5 s, the first bucket at 0 s.
    let from_5s = miner.series(ms(5), ms(60), 10_000);
    assert_eq!(from_5s, [series("user <_> logged in from <_>", "info", &[(10, 10), (20, 10), (30, 10)])]);
}

#[test]
fn different_shapes_stay_separate_and_rare_ones_are_dropped() {
    let mut miner = PatternMiner::new();
    train(&mut miner, 1, "info", 0, 30, |i| format!("GET /api/users/{i} 200 {}ms", i + 3));
    train(&mut miner, 1, "info", 30, 35, |i| format!("cache miss for key session-{i} after {}us", i * 13));
    train(&mut miner, 1, "info", 65, 29, |i| format!("disk usage at {}% on volume data", 50 + i));
    let got = miner.series(ms(0), ms(100), 120_000);
    // 29 lines are fewer than Loki's 30-line minimum: that pattern is not reported. The most frequent comes first.
    assert_eq!(
        got,
        [series("cache miss for key <_> after <_>", "info", &[(0, 35)]), series("GET <_> 200 <_>", "info", &[(0, 30)]),]
    );
}

#[test]
fn wide_steps_report_empty_steps_between_lines_as_zero() {
    let mut miner = PatternMiner::new();
    // 20 lines in the first minute, none in the second, 15 in the third.
    train(&mut miner, 1, "warn", 0, 20, |i| format!("retrying request {i} in 5s"));
    train(&mut miner, 1, "warn", 120, 15, |i| format!("retrying request {} in 5s", i + 20));
    assert_eq!(
        miner.series(ms(0), ms(180), 60_000),
        [series("retrying request <_> in 5s", "warn", &[(0, 20), (60, 0), (120, 15)])]
    );
}

#[test]
fn levels_and_streams() {
    let mut miner = PatternMiner::new();
    // Stream 1 and 2 share a pattern at level info: their counts add up. The error lines of stream 1 are their own
    // pattern. An unrecognised level counts as unknown.
    train(&mut miner, 1, "info", 0, 20, |i| format!("job {i} finished in {}ms", i * 3));
    train(&mut miner, 2, "INFO", 5, 20, |i| format!("job {} finished in {}ms", i + 100, i));
    train(&mut miner, 1, "error", 30, 30, |i| format!("job {i} finished in {}ms", i * 3));
    train(&mut miner, 3, "notice", 0, 30, |i| format!("job {i} finished in {}ms", i * 3));
    assert_eq!(
        miner.series(ms(0), ms(60), 10_000),
        [
            series("job <_> finished in <_>", "info", &[(0, 15), (10, 20), (20, 5)]),
            series("job <_> finished in <_>", "error", &[(30, 10), (40, 10), (50, 10)]),
            series("job <_> finished in <_>", "unknown", &[(0, 10), (10, 10), (20, 10)]),
        ]
    );
}

#[test]
fn json_lines_are_mined_on_their_message_field() {
    let mut miner = PatternMiner::new();
    train(&mut miner, 1, "info", 0, 30, |i| {
        format!(
            r#"{{"ts":"2024-05-01T10:00:{:02}Z","level":"info","msg":"order {} placed by user {}","shop":"eu"}}"#,
            i,
            5000 + i,
            i % 4
        )
    });
    assert_eq!(miner.series(ms(0), ms(30), 30_000), [series("<_>order <_> placed by user <_>", "info", &[(0, 30)])]);
}

#[test]
fn logfmt_lines_are_mined_as_key_value_pairs() {
    let mut miner = PatternMiner::new();
    train(&mut miner, 1, "info", 0, 30, |i| {
        format!(r#"ts=2024-05-01T10:00:{i:02}Z level=info msg="request done" duration={}ms path=/api/items/{i}"#, i + 1)
    });
    assert_eq!(
        miner.series(ms(0), ms(30), 30_000),
        [series(r#"ts=<_> level=info msg="request done" duration=<_> path=<_>"#, "info", &[(0, 30)])]
    );
}

#[test]
fn older_entries_of_a_stream_are_ignored() {
    let mut miner = PatternMiner::new();
    train(&mut miner, 1, "info", 10, 30, |i| format!("tick {i} of the clock"));
    // Older than the stream's newest entry: not counted (Loki's pattern ingester drops them the same way).
    miner.train(1, ns(0), &EntryText::new("tick 99 of the clock"), level_index("info"));
    assert_eq!(miner.series(ms(0), ms(60), 60_000), [series("tick <_> of the clock", "info", &[(0, 30)])]);
}

/// A row: timestamp, line, structured metadata.
type MemoryRow = (i64, String, Vec<(&'static str, &'static str)>);

/// Streams in memory; rows are handed out newest first, as a store may.
struct MemoryReader {
    streams: Vec<(u64, Labels, Vec<MemoryRow>)>,
}

impl LogsReader for MemoryReader {
    fn scan(&self, request: &LogScanRequest, sink: &mut dyn LogSink) -> Result<LogScanStats, ReadError> {
        for (id, labels, rows) in &self.streams {
            if !request.matchers.iter().all(|matcher| matcher.matches(labels.get(&matcher.name).unwrap_or(""))) {
                continue;
            }
            for (timestamp_ns, line, metadata) in rows.iter().rev() {
                if *timestamp_ns < request.start_ns || *timestamp_ns >= request.end_ns {
                    continue;
                }
                let row = LogRow { timestamp_ns: *timestamp_ns, line, metadata };
                if sink.row(StreamRef { id: *id, labels }, row).is_break() {
                    return Ok(LogScanStats::default());
                }
            }
        }
        Ok(LogScanStats::default())
    }

    fn streams(&self, _: &[Matcher], _: i64, _: i64) -> Result<Vec<Labels>, ReadError> {
        Ok(Vec::new())
    }

    fn volumes(&self, _: &[Matcher], _: i64, _: i64) -> Result<Vec<StreamVolume>, ReadError> {
        Ok(Vec::new())
    }
}

fn reader() -> MemoryReader {
    let rows = |level: &'static str, first: i64, count: i64, shape: &str| {
        (0..count)
            .map(|i| (ns(first + i), format!("{shape} {} done in {}ms", 100 + i, i), vec![(LEVEL_LABEL, level)]))
            .collect::<Vec<_>>()
    };
    MemoryReader {
        streams: vec![
            (1, Labels::from_pairs([("app", "api")]).unwrap(), rows("info", 0, 60, "request")),
            (2, Labels::from_pairs([("app", "worker")]).unwrap(), rows("error", 0, 40, "task")),
        ],
    }
}

#[test]
fn a_query_mines_the_selected_streams_in_its_range() {
    let reader = reader();
    let query = PatternQuery::new(vec![Matcher::equal("app", "api")], ns(0), ns(60), 10 * NS);
    let mined = query_patterns(&reader, &query, &AtomicBool::new(false)).unwrap();
    let want: Vec<(i64, i64)> = (0..6).map(|bucket| (bucket * 10, 10)).collect();
    assert_eq!(mined.series, [series("request <_> done in <_>", "info", &want)]);
    assert_eq!((mined.rows_read, mined.lines_mined), (60, 60));

    // The end is rounded up to the 10 s bucket holding it: 25.5 s reads the lines of the bucket at 20 s, all of it.
    let query = PatternQuery::new(vec![Matcher::regex("app", ".+").unwrap()], ns(0), ns(25) + NS / 2, 60 * NS);
    let mined = query_patterns(&reader, &query, &AtomicBool::new(false)).unwrap();
    assert_eq!(
        mined.series,
        // Equal totals: by level, then pattern.
        [series("task <_> done in <_>", "error", &[(0, 30)]), series("request <_> done in <_>", "info", &[(0, 30)])]
    );
}

#[test]
fn a_query_mines_only_the_newest_lines_within_its_bounds() {
    let reader = reader();
    let mut query = PatternQuery::new(vec![Matcher::equal("app", "api")], ns(0), ns(60), 10 * NS);
    query.max_lines = 35;
    let mined = query_patterns(&reader, &query, &AtomicBool::new(false)).unwrap();
    // The newest 35 of 60 lines: 25 s..59 s.
    assert_eq!(mined.series, [series("request <_> done in <_>", "info", &[(20, 5), (30, 10), (40, 10), (50, 10)])]);
    assert_eq!((mined.rows_read, mined.lines_mined), (60, 35));

    // A byte budget bounds the kept lines too (at least one line is always kept).
    query.max_lines = DEFAULT_MAX_LINES;
    query.max_bytes = 1;
    let mined = query_patterns(&reader, &query, &AtomicBool::new(false)).unwrap();
    assert_eq!(mined.lines_mined, 1);
    assert!(mined.series.is_empty());

    // A cancelled request stops reading at once.
    let mined =
        query_patterns(&reader, &PatternQuery::new(query.matchers.clone(), ns(0), ns(60), NS), &AtomicBool::new(true))
            .unwrap();
    assert_eq!(mined, MinedPatterns::default());
}

/// Loki's own Drain fixtures (`pkg/pattern/drain/drain_test.go`, `TestDrain_TrainExtractsPatterns`, with its
/// `testdata/*.txt`): each file's lines are trained into one Drain with the punctuation tokenizer at time 0, and
/// the sorted patterns must equal Loki's list. The files are Loki's (AGPL) and not part of this repository: point
/// `OXEYE_LOKI_DRAIN_DIR` at a Loki checkout's `pkg/pattern/drain` and run with `--ignored`. Prints one line per
/// file.
#[test]
#[ignore = "needs OXEYE_LOKI_DRAIN_DIR (a Loki checkout's pkg/pattern/drain)"]
fn drain_matches_loki_fixtures() {
    let Ok(directory) = std::env::var("OXEYE_LOKI_DRAIN_DIR") else {
        panic!("set OXEYE_LOKI_DRAIN_DIR to a Loki checkout's pkg/pattern/drain");
    };
    let directory = std::path::PathBuf::from(directory);
    let go_test = std::fs::read_to_string(directory.join("drain_test.go")).unwrap();
    let (mut passed, mut failed) = (0, 0);
    let mut rest = go_test.as_str();
    while let Some(position) = rest.find("inputFile:") {
        rest = &rest[position + "inputFile:".len()..];
        let file = rest.trim_start().trim_start_matches(['"', '`']);
        let file = &file[..file.find(['"', '`']).unwrap()];
        let case_end = rest.find("inputFile:").unwrap_or(rest.len());
        let case = &rest[..case_end];
        let Some(patterns_start) = case.find("patterns: []string{") else { continue };
        let block = &case[patterns_start..];
        let block = &block[..block.find("\n\t\t\t},").unwrap()];
        let want: Vec<&str> = block.split('`').skip(1).step_by(2).collect();
        let Ok(text) = std::fs::read_to_string(directory.join(file)) else {
            println!("{file}: skipped (missing)");
            continue;
        };
        let mut drain = super::drain::Drain::new(LogFormat::Unknown);
        for line in text.lines() {
            drain.train(&EntryText::new(line), 0);
        }
        let mut got: Vec<String> = drain.patterns().map(|(pattern, _)| pattern).collect();
        got.sort();
        if got == want {
            passed += 1;
            println!("{file}: {} patterns, equal", want.len());
        } else {
            failed += 1;
            println!("{file}: DIFFERENT ({} patterns, Loki {})", got.len(), want.len());
            for pattern in got.iter().filter(|pattern| !want.contains(&pattern.as_str())) {
                println!("  + {pattern}");
            }
            for pattern in want.iter().filter(|pattern| !got.iter().any(|got| got == *pattern)) {
                println!("  - {pattern}");
            }
        }
    }
    println!("Loki drain fixtures: {passed} equal, {failed} different");
    assert_eq!(failed, 0);
}
