use std::ops::ControlFlow;

use oxeye_model::Labels;
use oxeye_storage_api::{Direction, LogFilterHints, LogRow, LogScanRequest, LogScanStats, Matcher, StreamRef};

use super::reader::PageScratch;
use super::{Block, BlockWriter, PAGE_MAX_ROWS};

type Row = (String, i64, String, Vec<(String, String)>);

fn scan(block: &Block, request: &LogScanRequest) -> (Vec<Row>, LogScanStats) {
    let mut rows = Vec::new();
    let mut stats = LogScanStats::default();
    let mut sink = |stream: StreamRef<'_>, row: LogRow<'_>| {
        let metadata = row.metadata.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        rows.push((stream.labels.to_string(), row.timestamp_ns, row.line.to_string(), metadata));
        ControlFlow::Continue(())
    };
    let flow = block.scan(request, &mut sink, &mut stats, &mut PageScratch::default()).expect("scan");
    assert!(flow.is_continue());
    (rows, stats)
}

fn request(matchers: Vec<Matcher>, start_ns: i64, end_ns: i64, hints: LogFilterHints) -> LogScanRequest {
    LogScanRequest { matchers, start_ns, end_ns, direction: Direction::Forward, hints }
}

fn write_sample_block(dir: &std::path::Path) -> Block {
    let path = dir.join("0000000000000001.olb");
    let mut writer = BlockWriter::create(&path).unwrap();
    writer.begin_stream(&Labels::from_pairs([("app", "api")]).unwrap()).unwrap();
    // Enough rows for two pages, so page skipping is observable.
    for i in 0..(PAGE_MAX_ROWS as i64 + 10) {
        let line = if i == 5 { "GET /users/needle-token 200".to_string() } else { format!("GET /items/{i} 200") };
        let metadata: &[(&str, &str)] = if i == 7 { &[("trace_id", "abc123")] } else { &[] };
        writer.push_row(1_000 + i, &line, metadata).unwrap();
    }
    writer.begin_stream(&Labels::from_pairs([("app", "db")]).unwrap()).unwrap();
    writer.push_row(500, "slow query ü", &[("user", "x"), ("trace_id", "def")]).unwrap();
    let path = writer.finish(42).unwrap();
    Block::open(&path).unwrap()
}

#[test]
fn rows_come_back_exactly_with_matchers_and_time_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let block = write_sample_block(dir.path());
    assert_eq!(block.wal_through, 42);
    assert_eq!((block.min_ns, block.max_ns), (500, 1_000 + PAGE_MAX_ROWS as i64 + 9));
    assert_eq!(block.streams.len(), 2);
    assert_eq!(block.streams[0].page_count, 2);

    let (rows, _) = scan(&block, &request(vec![Matcher::equal("app", "db")], 0, i64::MAX, LogFilterHints::default()));
    assert_eq!(
        rows,
        vec![(
            r#"{app="db"}"#.to_string(),
            500,
            "slow query ü".to_string(),
            vec![("user".into(), "x".into()), ("trace_id".into(), "def".into())]
        )]
    );

    // Start inclusive, end exclusive.
    let (rows, _) = scan(&block, &request(vec![Matcher::equal("app", "api")], 1_005, 1_008, LogFilterHints::default()));
    let got: Vec<(i64, &str)> = rows.iter().map(|r| (r.1, r.2.as_str())).collect();
    assert_eq!(got, [(1_005, "GET /users/needle-token 200"), (1_006, "GET /items/6 200"), (1_007, "GET /items/7 200")]);
    assert_eq!(rows[2].3, vec![("trace_id".to_string(), "abc123".to_string())]);

    let regex = Matcher::regex("app", "a.*|d.*").unwrap();
    let (rows, _) = scan(&block, &request(vec![regex], 0, 1_001, LogFilterHints::default()));
    assert_eq!(rows.len(), 2);
}

#[test]
fn bloom_filters_skip_pages_that_cannot_match() {
    let dir = tempfile::tempdir().unwrap();
    let block = write_sample_block(dir.path());
    let api = || vec![Matcher::equal("app", "api")];
    // "users" is a whole token of the needle; only the first page has it.
    let hints = LogFilterHints { line_contains: vec!["/users/".into()], ..LogFilterHints::default() };
    let (rows, stats) = scan(&block, &request(api(), 0, i64::MAX, hints));
    assert_eq!(stats.chunks_opened, 1);
    assert_eq!(stats.chunks_skipped, 1);
    assert!(rows.iter().any(|r| r.2 == "GET /users/needle-token 200"));

    let hints = LogFilterHints { line_contains: vec![" nowhere ".into()], ..LogFilterHints::default() };
    let (rows, stats) = scan(&block, &request(api(), 0, i64::MAX, hints));
    assert!(rows.is_empty());
    assert_eq!(stats.chunks_opened, 0);

    // A needle token at least as long as the page's longest token can only match that very token, so the bloom
    // answers for it: the first page's longest token is "needle" (6 bytes), the second's "65545" (5 bytes).
    let hints = LogFilterHints { line_contains: vec!["needle".into()], ..LogFilterHints::default() };
    let (rows, stats) = scan(&block, &request(api(), 0, i64::MAX, hints));
    assert_eq!((stats.chunks_opened, stats.chunks_skipped), (1, 1));
    assert!(rows.iter().any(|r| r.2 == "GET /users/needle-token 200"));
    let hints = LogFilterHints { line_contains: vec!["absent".into()], ..LogFilterHints::default() };
    let (_, stats) = scan(&block, &request(api(), 0, i64::MAX, hints));
    assert_eq!(stats.chunks_opened, 0, "a 6-byte token absent from both pages");
    // Shorter than the longest token: it may be inside one, so nothing is skipped.
    let hints = LogFilterHints { line_contains: vec!["eedl".into()], ..LogFilterHints::default() };
    let (rows, stats) = scan(&block, &request(api(), 0, i64::MAX, hints));
    assert_eq!(stats.chunks_opened, 2);
    assert!(rows.iter().any(|r| r.2 == "GET /users/needle-token 200"));

    // Short numbers are not in the filters (format 4): a whole one in a needle rules out no page, and is found.
    let hints = LogFilterHints { line_contains: vec!["/65545 ".into()], ..LogFilterHints::default() };
    let (rows, stats) = scan(&block, &request(api(), 0, i64::MAX, hints));
    assert_eq!(stats.chunks_opened, 2);
    assert!(rows.iter().any(|r| r.2 == "GET /items/65545 200"));
    let hints = LogFilterHints { line_contains: vec!["/99999999 xyz ".into()], ..LogFilterHints::default() };
    let (_, stats) = scan(&block, &request(api(), 0, i64::MAX, hints));
    assert_eq!(stats.chunks_opened, 0, "the needle's other whole token (`xyz`) still rules both pages out");

    let hints = LogFilterHints { metadata_equals: vec![("trace_id".into(), "abc123".into())], ..Default::default() };
    let (rows, stats) = scan(&block, &request(api(), 0, i64::MAX, hints));
    assert_eq!(stats.chunks_opened, 1);
    assert!(rows.iter().any(|r| r.1 == 1_007));

    // A hint satisfied by the stream's own labels never skips.
    let hints = LogFilterHints { metadata_equals: vec![("app".into(), "api".into())], ..Default::default() };
    let (_, stats) = scan(&block, &request(api(), 0, i64::MAX, hints));
    assert_eq!(stats.chunks_opened, 2);
}

#[test]
fn damaged_files_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let block = write_sample_block(dir.path());
    let path = block.path.clone();
    drop(block);
    let mut bytes = std::fs::read(&path).unwrap();
    let len = bytes.len();
    bytes[len - 30] ^= 0xff; // inside the index
    std::fs::write(&path, &bytes).unwrap();
    let error = Block::open(&path).unwrap_err().to_string();
    assert!(error.contains("index checksum mismatch"), "{error}");
    std::fs::write(&path, &bytes[..len - 3]).unwrap();
    let error = Block::open(&path).unwrap_err().to_string();
    assert!(error.contains("footer"), "{error}");
}

#[test]
fn format_1_2_and_3_blocks_are_still_read() {
    // Written by the format 1 writer (commit 3dc0688; metadata in its own frame), the format 2 writer (commit
    // 874e27a; metadata after the lines, line lengths in a pco column) and the format 3 writer (commit da64936;
    // newline-terminated lines, ids in the text), with the same two streams.
    for (file, version) in [("v1.olb", 1), ("v2.olb", 2), ("v3.olb", 3)] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0000000000000001.olb");
        std::fs::copy(format!("{}/src/block/testdata/{file}", env!("CARGO_MANIFEST_DIR")), &path).unwrap();
        let block = Block::open(&path).unwrap();
        assert_eq!((block.format_version, block.wal_through), (version, 3));
        assert_old_format_block_rows(&block);
    }
}

fn assert_old_format_block_rows(block: &Block) {
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let (rows, _) = scan(block, &request(vec![Matcher::regex("app", ".+").unwrap()], 0, i64::MAX, Default::default()));
    let pairs = |pairs: &[(&str, &str)]| pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect::<Vec<_>>();
    let want = vec![
        (
            r#"{app="api"}"#.to_string(),
            1_000,
            format!("GET /users/42 200 trace={trace}"),
            pairs(&[("trace_id", trace), ("detected_level", "info")]),
        ),
        (r#"{app="api"}"#.to_string(), 2_000, "GET /items/7 500".to_string(), pairs(&[("detected_level", "error")])),
        (r#"{app="db"}"#.to_string(), 500, "slow query ü".to_string(), vec![]),
    ];
    assert_eq!(rows, want);
    let hints = LogFilterHints { metadata_equals: vec![("trace_id".into(), trace.into())], ..Default::default() };
    let (rows, _) = scan(block, &request(vec![Matcher::equal("app", "api")], 0, i64::MAX, hints));
    assert_eq!(rows.len(), 2, "one page: both rows come back, the engine filters");
}

#[test]
fn lines_are_newline_terminated_unless_an_entry_spans_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("0000000000000001.olb");
    let mut writer = BlockWriter::create(&path).unwrap();
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let single = Labels::from_pairs([("app", "a-single")]).unwrap();
    let multi = Labels::from_pairs([("app", "b-multi")]).unwrap();
    let single_rows: Vec<(i64, String)> =
        vec![(1, format!("GET / trace={trace}")), (2, String::new()), (3, "ü".into()), (4, String::new())];
    let multi_rows: Vec<(i64, String)> = vec![
        (1, "panic: boom\n\tat main.go:12\n".into()),
        (2, String::new()),
        (3, format!("\n{trace}\n")),
        (4, "last \u{1} 550e8400-e29b-41d4-a716-446655440000\n".into()),
    ];
    for (labels, rows) in [(&single, &single_rows), (&multi, &multi_rows)] {
        writer.begin_stream(labels).unwrap();
        for (t, line) in rows {
            let metadata: &[(&str, &str)] = if line.contains(trace) { &[("trace_id", trace)] } else { &[] };
            writer.push_row(*t, line, metadata).unwrap();
        }
    }
    let block = Block::open(&writer.finish(0).unwrap()).unwrap();
    assert_eq!(block.format_version, super::BLOCK_FORMAT_VERSION);
    assert_eq!(block.pages.len(), 2);
    // Format 4: the trace id (and the UUID) are in the pages' ids columns, not in their text.
    assert_eq!((block.pages[0].ids.raw_len, block.pages[1].ids.raw_len), (16, 32));
    assert_eq!(block.pages[0].lines.raw_len as usize, single_rows.iter().map(|(_, l)| l.len() + 1).sum::<usize>() - 30);
    assert_eq!(block.pages[0].line_lengths.compressed_len, 0, "no length column when no line holds a newline");
    assert!(block.pages[1].line_lengths.compressed_len > 0, "a multi-line entry keeps the length column");
    for (labels, rows) in [(&single, &single_rows), (&multi, &multi_rows)] {
        let matcher = Matcher::equal("app", labels.get("app").unwrap());
        let (got, _) = scan(&block, &request(vec![matcher], 0, i64::MAX, Default::default()));
        let got: Vec<(i64, String, usize)> = got.into_iter().map(|r| (r.1, r.2, r.3.len())).collect();
        let want: Vec<(i64, String, usize)> =
            rows.iter().map(|(t, line)| (*t, line.clone(), usize::from(line.contains(trace)))).collect();
        assert_eq!(got, want);
    }
}

#[test]
fn newline_terminated_text_is_checked_against_the_row_count() {
    use super::reader::split_terminated_lines;
    let mut lengths = Vec::new();
    let mut text = b"ab\n\nc\n".to_vec();
    assert_eq!(split_terminated_lines(&mut text, 3, &mut lengths), Some(3));
    assert_eq!((&text[..3], &lengths[..]), (&b"abc"[..], &[2, 0, 1][..]));
    assert_eq!(split_terminated_lines(&mut b"ab\nc\n".to_vec(), 3, &mut lengths), None, "too few lines");
    assert_eq!(split_terminated_lines(&mut b"a\nb\nc\n".to_vec(), 2, &mut lengths), None, "too many lines");
    assert_eq!(split_terminated_lines(&mut b"a\nb".to_vec(), 2, &mut lengths), None, "unterminated last line");
}

#[test]
fn unknown_format_versions_are_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let block = write_sample_block(dir.path());
    assert_eq!(block.format_version, super::BLOCK_FORMAT_VERSION);
    let path = block.path.clone();
    drop(block);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[4] = 9;
    std::fs::write(&path, &bytes).unwrap();
    let error = Block::open(&path).unwrap_err().to_string();
    assert!(error.contains("unsupported block format version 9 (this build reads versions 1 to 4)"), "{error}");
}

#[test]
fn metadata_in_the_lines_frame_round_trips_across_pages() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("0000000000000001.olb");
    let mut writer = BlockWriter::create(&path).unwrap();
    writer.begin_stream(&Labels::from_pairs([("app", "api")]).unwrap()).unwrap();
    let rows = PAGE_MAX_ROWS as i64 + 3;
    let trace = |i: i64| format!("{:032x}", i * 7_919);
    for i in 0..rows {
        let line = format!(r#"{{"level":"info","trace_id":"{}","n":{i}}}"#, trace(i));
        let span = format!("{:016x}", i);
        let trace_id = trace(i);
        let metadata: Vec<(&str, &str)> = match i % 3 {
            0 => vec![("detected_level", "info"), ("trace_id", &trace_id), ("span_id", &span)],
            1 => vec![("detected_level", "debug")],
            _ => vec![],
        };
        writer.push_row(i, &line, &metadata).unwrap();
    }
    let block = Block::open(&writer.finish(0).unwrap()).unwrap();
    let page_count = block.pages.len() as u64;
    assert!(page_count >= 2);
    let (got, _) = scan(&block, &request(vec![Matcher::equal("app", "api")], 0, i64::MAX, Default::default()));
    assert_eq!(got.len(), rows as usize);
    for (i, row) in got.iter().enumerate() {
        let i = i as i64;
        let want: Vec<(String, String)> = match i % 3 {
            0 => vec![
                ("detected_level".into(), "info".into()),
                ("trace_id".into(), trace(i)),
                ("span_id".into(), format!("{:016x}", i)),
            ],
            1 => vec![("detected_level".into(), "debug".into())],
            _ => vec![],
        };
        assert_eq!((row.1, &row.3), (i, &want));
        assert!(row.2.ends_with(&format!(r#""n":{i}}}"#)));
    }
    let probe = rows - 4; // a row with a trace id (i % 3 == 0)
    let hints = LogFilterHints { metadata_equals: vec![("trace_id".into(), trace(probe))], ..Default::default() };
    let (got, stats) = scan(&block, &request(vec![Matcher::equal("app", "api")], 0, i64::MAX, hints));
    assert_eq!((stats.chunks_opened, stats.chunks_skipped), (1, page_count - 1));
    assert!(got.iter().any(|row| row.1 == probe));
}

mod round_trip {
    use proptest::prelude::*;

    use super::*;

    /// Line pieces that exercise the ids transform, escapes, multi-line entries and metadata references.
    const PIECES: &[&str] = &[
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "00F067AA0BA902B7",
        "550e8400-e29b-41d4-a716-446655440000",
        "\u{1}",
        "\n",
        " ",
        "-",
        "=",
        "ü",
        "GET",
        "1234567890123456",
        "deadbeefdeadbee",
        "\"trace_id\":\"",
    ];

    fn line() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(PIECES), 0..12).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn any_lines_and_metadata_come_back_exactly(
            rows in prop::collection::vec((line(), prop::option::of(prop::sample::select(PIECES))), 1..200)
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("0000000000000001.olb");
            let mut writer = BlockWriter::create(&path).unwrap();
            writer.begin_stream(&Labels::from_pairs([("app", "p")]).unwrap()).unwrap();
            for (index, (line, value)) in rows.iter().enumerate() {
                let metadata: Vec<(&str, &str)> = value.iter().map(|v| ("trace_id", *v)).collect();
                writer.push_row(index as i64, line, &metadata).unwrap();
            }
            let block = Block::open(&writer.finish(0).unwrap()).unwrap();
            let (got, _) = scan(&block, &request(vec![Matcher::equal("app", "p")], 0, i64::MAX, Default::default()));
            let want: Vec<Row> = rows
                .iter()
                .enumerate()
                .map(|(index, (line, value))| {
                    let metadata = value.iter().map(|v| ("trace_id".to_string(), v.to_string())).collect();
                    (r#"{app="p"}"#.to_string(), index as i64, line.clone(), metadata)
                })
                .collect();
            prop_assert_eq!(got, want);
        }
    }
}
