//! Log queries over the data set of `eval::tests`.

use super::*;

/// (labels as Loki's string, [(seconds, line)]) per stream.
type Expected<'a> = Vec<(&'a str, Vec<(i64, &'a str)>)>;

fn streams(query: &str, params: RangeParams) -> Expected<'static> {
    let reader = reader();
    let expr = crate::parse(query).unwrap();
    let output = engine().range(&reader, &expr, params).unwrap();
    let QueryValue::Streams(streams) = output.value else { panic!("{query}: not streams") };
    streams
        .into_iter()
        .map(|stream| {
            let label_text: &'static str = Box::leak(label_string(&stream.labels).into_boxed_str());
            let entries = stream
                .entries
                .into_iter()
                .map(|entry| {
                    let line: &'static str = Box::leak(entry.line.into_boxed_str());
                    ((entry.timestamp_ns - T0) / 1_000_000_000, line)
                })
                .collect();
            (label_text, entries)
        })
        .collect()
}

/// Every returned entry, by time.
fn lines(query: &str) -> Vec<(i64, String)> {
    let mut all: Vec<(i64, String)> = streams(query, forward_range(100))
        .into_iter()
        .flat_map(|(_, entries)| entries.into_iter().map(|(seconds, line)| (seconds, line.to_string())))
        .collect();
    all.sort();
    all
}

const S1_20: &str = r#"{"level":"error","msg":"db timeout","latency":"1.5s","status":500,"size":"2KB"}"#;
const S2_25: &str = "level=error msg=oops duration=2s bytes=5000";

#[test]
fn line_filter_keeps_structured_metadata_in_the_labels() {
    // `|= "error"` keeps stream 1 at 20 s (with its trace_id) and stream 2 at 25 s; streams sort by label string.
    assert_eq!(
        streams(r#"{app="api"} |= "error""#, forward_range(100)),
        vec![
            (r#"{app="api", env="dev"}"#, vec![(25, S2_25)]),
            (r#"{app="api", env="prod", trace_id="abc"}"#, vec![(20, S1_20)]),
        ]
    );
}

#[test]
fn limit_and_direction() {
    // Backward, limit 3: the newest three api entries (50 s, 45 s, 40 s). `{…, trace_id="def"}` sorts before
    // `{app="api", env="prod"}` because Loki compares label strings and ',' < '}'.
    let backward = RangeParams { direction: Direction::Backward, ..forward_range(3) };
    assert_eq!(
        streams(r#"{app="api"}"#, backward),
        vec![
            (r#"{app="api", env="dev"}"#, vec![(45, "level=info msg=bye duration=5ms bytes=10")]),
            (
                r#"{app="api", env="prod", trace_id="def"}"#,
                vec![(50, r#"{"level":"warn","msg":"slow","latency":"900ms","status":429,"size":"3KB"}"#)]
            ),
            (r#"{app="api", env="prod"}"#, vec![(40, "not json at all")]),
        ]
    );
    // Forward, limit 3: 10 s, 15 s, 20 s.
    let forward = streams(r#"{app="api"}"#, forward_range(3));
    let times: Vec<Vec<i64>> = forward.iter().map(|(_, entries)| entries.iter().map(|(s, _)| *s).collect()).collect();
    assert_eq!(
        forward.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
        [r#"{app="api", env="dev"}"#, r#"{app="api", env="prod", trace_id="abc"}"#, r#"{app="api", env="prod"}"#]
    );
    assert_eq!(times, vec![vec![15], vec![20], vec![10]]);
    // The end is exclusive: [0 s, 20 s) does not include 20 s.
    let until_20 = RangeParams { end_ns: t(20), ..forward_range(100) };
    let count: usize = streams(r#"{app="api"}"#, until_20).iter().map(|(_, e)| e.len()).sum();
    assert_eq!(count, 2);
    // A limit of 0 returns nothing, as in Loki.
    assert!(streams(r#"{app="api"}"#, forward_range(0)).is_empty());
}

#[test]
fn interval_thins_entries() {
    // Forward with a 10 s interval: 10 kept, 15 skipped, 20 kept, 25 skipped, 30, 40 kept, 45 skipped, 50 kept.
    let params = RangeParams { interval_ns: 10_000_000_000, ..forward_range(100) };
    let times: Vec<i64> = {
        let mut all: Vec<i64> =
            streams(r#"{app="api"}"#, params).into_iter().flat_map(|(_, e)| e.into_iter().map(|(s, _)| s)).collect();
        all.sort();
        all
    };
    assert_eq!(times, [10, 20, 30, 40, 50]);
    // Backward: 50 kept, 45 skipped, 40 kept, 30 kept, 25 skipped, 20 kept, 15 skipped, 10 kept; limit 3 stops at 30.
    let params = RangeParams { interval_ns: 10_000_000_000, direction: Direction::Backward, ..forward_range(3) };
    let mut times: Vec<i64> =
        streams(r#"{app="api"}"#, params).into_iter().flat_map(|(_, e)| e.into_iter().map(|(s, _)| s)).collect();
    times.sort();
    assert_eq!(times, [30, 40, 50]);
}

#[test]
fn json_label_filter_and_categories() {
    let reader = reader();
    let expr = crate::parse(r#"{app="api", env="prod"} | json | level="error""#).unwrap();
    let output = engine().range(&reader, &expr, forward_range(100)).unwrap();
    let QueryValue::Streams(streams) = &output.value else { panic!("not streams") };
    assert_eq!(streams.len(), 1);
    assert_eq!(
        label_string(&streams[0].labels),
        r#"{app="api", env="prod", latency="1.5s", level="error", msg="db timeout", size="2KB", status="500", trace_id="abc"}"#
    );
    let categories = &streams[0].entries[0].labels;
    assert_eq!(label_string(&categories.stream), r#"{app="api", env="prod"}"#);
    assert_eq!(label_string(&categories.structured_metadata), r#"{trace_id="abc"}"#);
    assert_eq!(
        label_string(&categories.parsed),
        r#"{latency="1.5s", level="error", msg="db timeout", size="2KB", status="500"}"#
    );
    // The categorized form groups by stream labels only.
    let categorized = output.value.categorized_streams().unwrap();
    assert_eq!(categorized.len(), 1);
    assert_eq!(label_string(&categorized[0].labels), r#"{app="api", env="prod"}"#);
}

#[test]
fn categorized_streams_merge_parsed_variants() {
    let reader = reader();
    let expr = crate::parse(r#"{app="api", env="dev"} | logfmt"#).unwrap();
    let output = engine().range(&reader, &expr, forward_range(100)).unwrap();
    let QueryValue::Streams(by_all_labels) = &output.value else { panic!("not streams") };
    assert_eq!(by_all_labels.len(), 3);
    let categorized = output.value.categorized_streams().unwrap();
    assert_eq!(categorized.len(), 1);
    let times: Vec<i64> = categorized[0].entries.iter().map(|e| (e.timestamp_ns - T0) / 1_000_000_000).collect();
    assert_eq!(times, [15, 25, 45]);
    assert_eq!(
        label_string(&categorized[0].entries[1].labels.parsed),
        r#"{bytes="5000", duration="2s", level="error", msg="oops"}"#
    );
}

#[test]
fn parse_errors_are_labels() {
    assert_eq!(
        streams(r#"{app="api", env="prod"} | json | __error__!="""#, forward_range(100)),
        vec![(
            r#"{__error__="JSONParserErr", __error_details__="Value looks like object, but can't find closing '}' symbol", app="api", env="prod"}"#,
            vec![(40, "not json at all")]
        )]
    );
}

#[test]
fn logfmt_with_duration_and_bytes_filters() {
    // 20ms > 10ms and 100 >= 100; 2s and 5000; 5ms fails.
    assert_eq!(
        lines(r#"{env="dev"} | logfmt | duration > 10ms and bytes >= 100"#),
        [(15, r#"level=info msg="hello world" duration=20ms bytes=100"#.to_string()), (25, S2_25.to_string())]
    );
    // Humanized bytes: 5000 > 1KB (1000) only.
    assert_eq!(lines(r#"{env="dev"} | logfmt | bytes > 1KB"#), [(25, S2_25.to_string())]);
    // A template over parsed labels.
    assert_eq!(
        streams(
            r#"{env="dev"} | logfmt | level="error" | label_format summary="{{.level}}:{{.msg}}" | keep summary"#,
            forward_range(100)
        ),
        vec![(r#"{summary="error:oops"}"#, vec![(25, S2_25)])]
    );
}

#[test]
fn pattern_line_format_and_decolorize() {
    // 401 and 404 pass `status >= 400`; the coloured line has no status and is dropped.
    assert_eq!(
        lines(
            r#"{app="web"} | pattern "<method> <path> <status> <size>" | status >= 400 | line_format "{{.method}} {{.path}} -> {{.status}}""#
        ),
        [(30, "POST /api/login -> 401".to_string()), (40, "GET /missing -> 404".to_string())]
    );
    assert_eq!(lines(r#"{app="web"} |= "alert" | decolorize"#), [(60, "red alert".to_string())]);
    assert_eq!(lines(r#"{app="web"} |= "POST" or "missing""#).len(), 2);
    assert_eq!(lines(r#"{app="api"} |~ "(?i)TIMEOUT|oops""#), [(20, S1_20.to_string()), (25, S2_25.to_string())]);
    assert_eq!(lines(r#"{app="web"} |> "<_> /<_> 4<_>""#).len(), 2);
}

#[test]
fn regexp_rename_and_keep() {
    // Rows with a method get `verb`; the coloured line matches nothing and keeps only `app`.
    assert_eq!(
        streams(
            r#"{app="web"} | regexp "^(?P<method>\\w+) (?P<path>\\S+)" | label_format verb=method | keep verb, app"#,
            forward_range(100)
        ),
        vec![
            (r#"{app="web", verb="GET"}"#, vec![(20, "GET /index.html 200 512"), (40, "GET /missing 404 64")]),
            (r#"{app="web", verb="POST"}"#, vec![(30, "POST /api/login 401 128")]),
            (r#"{app="web"}"#, vec![(60, "\u{1b}[31mred alert\u{1b}[0m")]),
        ]
    );
}

#[test]
fn empty_labels_do_not_split_streams() {
    // `json missing="nope"` gives JSON rows an empty `missing` label and leaves it unset on the non-JSON row (40 s);
    // empty labels are not shown, so after dropping the error and the trace ids all five rows share one stream.
    let query = r#"{app="api", env="prod"} | json missing="nope" | drop __error__, __error_details__, trace_id"#;
    let streams = streams(query, forward_range(100));
    assert_eq!(streams.len(), 1, "{streams:?}");
    assert_eq!(streams[0].0, r#"{app="api", env="prod"}"#);
    assert_eq!(streams[0].1.iter().map(|(seconds, _)| *seconds).collect::<Vec<_>>(), [10, 20, 30, 40, 50]);
}

#[test]
fn unpack_replaces_the_line() {
    assert_eq!(
        streams(r#"{app="packed"} | unpack"#, forward_range(100)),
        vec![(r#"{app="packed", pod="p-1"}"#, vec![(10, "inner message")])]
    );
}

#[test]
fn structured_metadata_filter_and_hints() {
    let reader = reader();
    let expr = crate::parse(r#"{app="api"} |= "slow" | trace_id="def""#).unwrap();
    let output = engine().range(&reader, &expr, forward_range(100)).unwrap();
    let QueryValue::Streams(streams) = &output.value else { panic!("not streams") };
    assert_eq!(streams.len(), 1);
    assert_eq!((streams[0].entries[0].timestamp_ns - T0) / 1_000_000_000, 50);
    let hints =
        LogFilterHints { line_contains: vec!["slow".into()], metadata_equals: vec![("trace_id".into(), "def".into())] };
    // The range is read in time slices (oldest first, forward); every scan carries the hints, and the slices
    // tile the range exactly.
    let scans = hints_of(&reader);
    assert!(!scans.is_empty() && scans.iter().all(|h| *h == hints), "{scans:?}");
    let requests = reader.requests.lock().unwrap();
    let slices: Vec<(i64, i64)> = requests.iter().map(|r| (r.start_ns, r.end_ns)).collect();
    assert_eq!(slices.first().map(|s| s.0), Some(t(0)));
    assert_eq!(slices.last().map(|s| s.1), Some(t(100)));
    assert!(slices.windows(2).all(|w| w[0].1 == w[1].0), "{slices:?}");
    assert!(requests.iter().all(|r| r.direction == Direction::Forward));
}

/// A long range with many rows: a limited query reads only the newest (backward) or oldest (forward) slices, and
/// answers exactly what a full read would.
#[test]
fn limited_queries_read_only_the_slices_they_need() {
    let hour = 3_600i64;
    let rows: Vec<MemoryRow> = (0..10 * hour)
        .step_by(10)
        .map(|second| row(second, if second % 7_000 == 0 { "rare event" } else { "common line" }, &[]))
        .collect();
    let total = rows.len() as u64;
    let reader = MemoryReader {
        streams: vec![MemoryStream { id: 1, labels: labels(&[("app", "busy")]), rows }],
        requests: Mutex::new(Vec::new()),
    };
    let range = |direction, limit| RangeParams {
        start_ns: t(0),
        end_ns: t(10 * hour),
        step_ns: 0,
        interval_ns: 0,
        direction,
        limit,
    };
    let seconds = |output: &QueryOutput| -> Vec<i64> {
        let QueryValue::Streams(streams) = &output.value else { panic!("not streams") };
        streams.iter().flat_map(|s| &s.entries).map(|e| (e.timestamp_ns - T0) / 1_000_000_000).collect()
    };
    let expr = crate::parse(r#"{app="busy"}"#).unwrap();
    let newest = engine().range(&reader, &expr, range(Direction::Backward, 5)).unwrap();
    assert_eq!(seconds(&newest), [35_990, 35_980, 35_970, 35_960, 35_950]);
    assert!(
        newest.stats.store.decompressed_lines < total / 20,
        "read {} of {total}",
        newest.stats.store.decompressed_lines
    );
    let oldest = engine().range(&reader, &expr, range(Direction::Forward, 3)).unwrap();
    assert_eq!(seconds(&oldest), [0, 10, 20]);
    assert!(oldest.stats.store.decompressed_lines < total / 20);

    // Rare matches: the slices grow to the rest of the range quickly, so each row is read at most a few times.
    reader.requests.lock().unwrap().clear();
    let rare = crate::parse(r#"{app="busy"} |= "rare""#).unwrap();
    let output = engine().range(&reader, &rare, range(Direction::Backward, 100)).unwrap();
    assert_eq!(seconds(&output), [35_000, 28_000, 21_000, 14_000, 7_000, 0]);
    assert_eq!(output.stats.store.decompressed_lines, total, "every row read exactly once");
    assert!(reader.requests.lock().unwrap().len() <= 3);
}

#[test]
fn stats_count_processed_and_returned_rows() {
    let reader = reader();
    let expr = crate::parse(r#"{app="web"} |= "GET""#).unwrap();
    let output = engine().range(&reader, &expr, forward_range(100)).unwrap();
    let stats = &output.stats;
    // Four web rows of 23 + 23 + 19 + 18 bytes were processed; two contain GET.
    assert_eq!(stats.total_lines_processed, 4);
    assert_eq!(stats.total_bytes_processed, 83);
    assert_eq!(stats.total_post_filter_lines, 2);
    assert_eq!(stats.total_entries_returned, 2);
    assert_eq!(stats.store.decompressed_lines, 4);
    // Two time slices were read (the first minute of the range, then the rest), each opening the stream once.
    assert_eq!(stats.store.chunks_opened, 2);
    assert_eq!(reader.requests.lock().unwrap().len(), 2);
}

#[test]
fn limits_and_refusals() {
    let reader = reader();
    let expr = crate::parse(r#"{app="api"}"#).unwrap();
    let error = engine().range(&reader, &expr, forward_range(6000)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "max entries limit per query exceeded, limit > max_entries_limit_per_query (6000 > 5000)"
    );
    let instant = InstantParams { time_ns: t(50), direction: Direction::Backward, limit: 100 };
    let error = engine().instant(&reader, &expr, instant).unwrap_err();
    assert_eq!(
        error.to_string(),
        "log queries are not supported as an instant query type, please change your query to a range query type"
    );
    assert!(error.is_client_error());
    let expr = crate::parse(r#"{app="api"} | regexp "(a)""#).unwrap();
    let error = engine().range(&reader, &expr, forward_range(10)).unwrap_err();
    assert_eq!(
        error.to_string(),
        r#"parse error : stage '| regexp "(a)"' : at least one named capture must be supplied"#
    );
}

#[test]
fn ip_line_and_label_filters() {
    let reader = MemoryReader {
        streams: vec![MemoryStream {
            id: 9,
            labels: labels(&[("app", "edge")]),
            rows: vec![
                row(10, "client=10.1.2.3 GET /a 200", &[]),
                row(20, "client=192.168.7.40 GET /b 200", &[]),
                row(30, "client=2001:db8::17 GET /c 500", &[]),
                row(40, "client=unknown version=1.2.3.4.5 GET /d 200", &[]),
            ],
        }],
        requests: Mutex::new(Vec::new()),
    };
    let run = |query: &str| -> Vec<i64> {
        let expr = crate::parse(query).unwrap();
        let output = engine().range(&reader, &expr, forward_range(100)).unwrap();
        let QueryValue::Streams(streams) = output.value else { panic!("{query}: not streams") };
        let mut seconds: Vec<i64> =
            streams.iter().flat_map(|s| s.entries.iter().map(|e| (e.timestamp_ns - T0) / 1_000_000_000)).collect();
        seconds.sort();
        seconds
    };
    assert_eq!(run(r#"{app="edge"} |= ip("10.0.0.0/8")"#), [10]);
    assert_eq!(run(r#"{app="edge"} |= ip("192.168.7.1-192.168.7.50") or ip("2001:db8::/32")"#), [20, 30]);
    assert_eq!(run(r#"{app="edge"} != ip("10.1.2.3")"#), [20, 30, 40]);
    assert_eq!(run(r#"{app="edge"} |= ip("1.2.3.4")"#), Vec::<i64>::new(), "inside a longer dotted run");
    // Label filters: the label must exist; `!=` keeps rows whose value holds no matching address.
    assert_eq!(run(r#"{app="edge"} | logfmt | client = ip("192.168.0.0/16")"#), [20]);
    assert_eq!(run(r#"{app="edge"} | logfmt | client != ip("192.168.0.0/16")"#), [10, 30, 40]);
    assert_eq!(run(r#"{app="edge"} | logfmt | nothing != ip("192.168.0.0/16")"#), Vec::<i64>::new());
    // Bad patterns and operations are errors that name them, as in Loki.
    for (query, want) in [
        (r#"{app="edge"} |= ip("10.0.0")"#, r#"ip: invalid pattern: "10.0.0""#),
        (r#"{app="edge"} |~ ip("10.0.0.1")"#, "ip: invalid operation"),
        (r#"{app="edge"} | logfmt | client = ip("x/8")"#, r#"ip: invalid pattern: "x/8""#),
    ] {
        let expr = crate::parse(query).unwrap();
        let error = engine().range(&reader, &expr, forward_range(100)).unwrap_err().to_string();
        assert!(error.contains(want), "{query}: {error}");
    }
}
