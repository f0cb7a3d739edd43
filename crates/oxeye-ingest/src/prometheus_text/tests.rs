use oxeye_model::{Labels, MetricMetadata, MetricType, Sample, TimeSeries};
use proptest::prelude::*;

use super::*;
use crate::DecodeError;

const DEFAULT_MS: i64 = 1_700_000_000_000;

fn parse(text: &str) -> ParsedText {
    parse_prometheus_text(text.as_bytes(), DEFAULT_MS)
}

/// `(rendered labels, samples)` of every series.
fn rendered(parsed: &ParsedText) -> Vec<(String, Vec<(i64, f64)>)> {
    parsed
        .batch
        .series
        .iter()
        .map(|series| {
            let samples = series.samples.iter().map(|s| (s.timestamp_ms, s.value)).collect();
            (series.labels.to_string(), samples)
        })
        .collect()
}

fn errors(parsed: &ParsedText) -> Vec<String> {
    parsed.errors.iter().map(ToString::to_string).collect()
}

#[test]
fn parses_the_exposition_format() {
    let text = "# HELP http_requests_total The total number of HTTP requests.\n\
        # TYPE http_requests_total counter\n\
        http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n\
        http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\r\n\
        \n\
        # A plain comment\n\
        \t  metric_without_timestamp_and_labels 12.47\n\
        msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n\
        something_weird{problem=\"division by zero\"} +Inf -3982045\n\
        neg{a = \"1\" , b=\"2\",} -Inf\n\
        nan NaN\n\
        # HELP escaped Line one\\nwith \\\\ backslash and \\t kept\n\
        rpc_duration_seconds{quantile=\"0.5\"} 4773\n\
        rpc_duration_seconds{quantile=\"0.5\"} 4774 1395066363001\n\
        empty_value{a=\"\",b=\"x\"} 1\n";
    let parsed = parse(text);
    assert_eq!(errors(&parsed), Vec::<String>::new());
    let series = rendered(&parsed);
    let f = |index: usize, labels: &str, samples: &[(i64, f64)]| {
        assert_eq!(series[index].0, labels);
        assert_eq!(series[index].1.len(), samples.len(), "{labels}");
        for ((got_ts, got_value), (want_ts, want_value)) in series[index].1.iter().zip(samples) {
            assert_eq!(got_ts, want_ts, "{labels}");
            assert!(got_value == want_value || (got_value.is_nan() && want_value.is_nan()), "{labels}");
        }
    };
    f(0, r#"http_requests_total{code="200", method="post"}"#, &[(1395066363000, 1027.0)]);
    f(1, r#"http_requests_total{code="400", method="post"}"#, &[(1395066363000, 3.0)]);
    f(2, "metric_without_timestamp_and_labels{}", &[(DEFAULT_MS, 12.47)]);
    f(
        3,
        r#"msdos_file_access_time_seconds{error="Cannot find file:\n\"FILE.TXT\"", path="C:\\DIR\\FILE.TXT"}"#,
        &[(DEFAULT_MS, 1.458255915e9)],
    );
    f(4, r#"something_weird{problem="division by zero"}"#, &[(-3982045, f64::INFINITY)]);
    f(5, r#"neg{a="1", b="2"}"#, &[(DEFAULT_MS, f64::NEG_INFINITY)]);
    f(6, "nan{}", &[(DEFAULT_MS, f64::NAN)]);
    f(7, r#"rpc_duration_seconds{quantile="0.5"}"#, &[(DEFAULT_MS, 4773.0), (1395066363001, 4774.0)]);
    f(8, r#"empty_value{b="x"}"#, &[(DEFAULT_MS, 1.0)]);
    assert_eq!(series.len(), 9);
    assert_eq!(parsed.batch.series[3].labels.get("path"), Some(r"C:\DIR\FILE.TXT"));

    let metadata = &parsed.batch.metadata;
    assert_eq!(metadata.len(), 2);
    assert_eq!(
        metadata[0],
        MetricMetadata {
            metric_family: "http_requests_total".into(),
            metric_type: MetricType::Counter,
            help: "The total number of HTTP requests.".into(),
            unit: String::new(),
        }
    );
    assert_eq!(metadata[1].metric_family, "escaped");
    assert_eq!(metadata[1].help, "Line one\nwith \\ backslash and \\t kept");
    assert_eq!(metadata[1].metric_type, MetricType::Unknown);
}

#[test]
fn parses_quoted_utf8_names_and_openmetrics_additions() {
    let text = "# HELP \"my.metric\" A dotted name.\n\
        # TYPE \"my.metric\" gauge\n\
        # UNIT \"my.metric\" seconds\n\
        {\"my.metric\", \"label.with.dots\"=\"v\"} 1\n\
        {\"my.metric\"} 2 1520879607789\n\
        plain{\"quoted label\"=\"x\", \"__name__\"} 3\n\
        {a=\"b\", \"name after label\"} 4\n\
        om_seconds 5 1520879607.789\n\
        with_exemplar_total 6 # {trace_id=\"abc\"} 1.0\n\
        with_exemplar_and_ts_total 7 1000 # {trace_id=\"abc\"} 1.0 1.5\n\
        # EOF\n\
        after_eof 8\n";
    let parsed = parse(text);
    assert_eq!(errors(&parsed), [r#"line 6: metric name given twice ("plain" and "__name__")"#]);
    let series = rendered(&parsed);
    let names: Vec<&str> = series.iter().map(|(labels, _)| labels.as_str()).collect();
    assert_eq!(
        names,
        [
            r#"my.metric{label.with.dots="v"}"#,
            "my.metric{}",
            r#"name after label{a="b"}"#,
            "om_seconds{}",
            "with_exemplar_total{}",
            "with_exemplar_and_ts_total{}",
        ]
    );
    assert_eq!(series[1].1, [(DEFAULT_MS, 2.0), (1520879607789, 2.0)][1..]);
    assert_eq!(series[3].1, [(1520879607789, 5.0)], "float timestamps are OpenMetrics seconds");
    assert_eq!(series[5].1, [(1000, 7.0)]);
    let metadata = &parsed.batch.metadata;
    assert_eq!(metadata.len(), 1);
    assert_eq!(metadata[0].metric_family, "my.metric");
    assert_eq!(metadata[0].metric_type, MetricType::Gauge);
    assert_eq!(metadata[0].unit, "seconds");
    assert_eq!(metadata[0].help, "A dotted name.");
}

#[test]
fn bad_lines_are_reported_with_their_number_and_good_lines_kept() {
    let f = |line: &str, want: &str| {
        let text = format!("good_before 1\n{line}\ngood_after 2\n");
        let parsed = parse(&text);
        assert_eq!(errors(&parsed), [format!("line 2: {want}")], "{line:?}");
        let names: Vec<String> = rendered(&parsed).into_iter().map(|(labels, _)| labels).collect();
        assert_eq!(names, ["good_before{}", "good_after{}"], "{line:?}");
    };
    f("no_value", r#"missing value for metric "no_value""#);
    f("no_value{a=\"1\"}", r#"missing value for metric "no_value""#);
    f("bad_value abc", r#"invalid value "abc""#);
    f("bad_ts 1 12abc", r#"invalid timestamp "12abc""#);
    f("extra 1 2 3", r#"unexpected text after the sample: "3""#);
    f(
        "my.metric 1",
        r#"unexpected character '.' after metric name "my" (names with other characters must be quoted: {"name"})"#,
    );
    f("1metric 1", r#"metric name "1metric" starts with a digit"#);
    f("-x 1", "unexpected character '-' where a metric name was expected");
    f("{a=\"b\"} 1", "missing metric name");
    f("m{a=\"1\",a=\"2\"} 1", r#"duplicate label name "a""#);
    f("m{a=\"1\" b=\"2\"} 1", r#"expected ',' or '}' after label "a", got 'b'"#);
    f("m{a 1", r#"expected '=' after label name "a""#);
    f("m{a=1} 1", r#"expected '"' to start the value of label "a""#);
    f("m{a=\"unterminated} 1", r#"label "a": unterminated quoted string (missing closing '"')"#);
    f("m{a=\"1\"", "unterminated label list (missing '}')");
    f("m{a=\"1\",", "unterminated label list (missing '}')");
    f("m{1a=\"x\"} 1", "unexpected character '1' where a label name was expected");
    f("m{\"unterminated} 1", r#"unterminated quoted string (missing closing '"')"#);
    f("# TYPE m flavour", r#"# TYPE for "m": unknown type "flavour""#);
    f("# HELP", "# HELP without a metric name");
    f("# TYPE m.x gauge", r#"# TYPE: unexpected character ".x gauge" after metric name "m""#);
}

#[test]
fn invalid_utf8_lines_are_errors() {
    let parsed = parse_prometheus_text(b"ok 1\nbad{a=\"\xff\"} 1\nalso_ok 2", DEFAULT_MS);
    assert_eq!(parsed.errors, [DecodeError::TextLine { line: 2, message: "line is not valid UTF-8".to_string() }]);
    assert_eq!(parsed.batch.series.len(), 2);
}

fn metric_name() -> impl Strategy<Value = String> {
    prop_oneof!["[a-zA-Z_:][a-zA-Z0-9_:]{0,12}", "\\PC{1,12}", "[a-z. \"\\\\\n{}=,#]{1,8}"]
}

fn label_name() -> impl Strategy<Value = String> {
    prop_oneof!["[a-zA-Z_][a-zA-Z0-9_]{0,8}", "\\PC{1,8}", "[a-z. \"\\\\\n{}=,#]{1,6}"]
        .prop_filter("not the metric name label", |name| name != "__name__")
}

fn arbitrary_series() -> impl Strategy<Value = TimeSeries> {
    (
        metric_name(),
        proptest::collection::btree_map(label_name(), "\\PC{1,8}|[\"\\\\\n\r\t ]{1,4}", 0..4),
        proptest::collection::vec((any::<i64>(), any::<f64>()), 1..4),
    )
        .prop_map(|(name, labels, samples)| {
            let mut pairs = vec![("__name__".to_string(), name)];
            pairs.extend(labels);
            TimeSeries {
                labels: Labels::from_pairs(pairs).unwrap(),
                samples: samples.into_iter().map(|(timestamp, value)| Sample::new(timestamp, value)).collect(),
                exemplars: Vec::new(),
            }
        })
}

fn arbitrary_metadata() -> impl Strategy<Value = MetricMetadata> {
    (
        metric_name(),
        prop_oneof![
            Just(MetricType::Counter),
            Just(MetricType::Gauge),
            Just(MetricType::Histogram),
            Just(MetricType::Summary),
            Just(MetricType::Unknown)
        ],
        // HELP text cannot start with whitespace (it is skipped after the name).
        "([^ \t\r]\\PC{0,10})?|[a-z\\\\\n]{1,6}",
        "[a-z_]{0,8}",
    )
        .prop_map(|(metric_family, metric_type, help, unit)| MetricMetadata {
            metric_family,
            metric_type,
            help,
            unit,
        })
}

proptest! {
    #[test]
    fn render_parse_round_trip(
        series in proptest::collection::vec(arbitrary_series(), 0..6),
        metadata in proptest::collection::vec(arbitrary_metadata(), 0..3),
    ) {
        // Distinct series only: equal label sets would be merged by the parser.
        let mut unique: Vec<TimeSeries> = Vec::new();
        for candidate in series {
            if !unique.iter().any(|existing| existing.labels == candidate.labels) {
                unique.push(candidate);
            }
        }
        let mut unique_metadata: Vec<MetricMetadata> = Vec::new();
        for candidate in metadata {
            if !unique_metadata.iter().any(|existing| existing.metric_family == candidate.metric_family) {
                unique_metadata.push(candidate);
            }
        }
        let mut text = String::new();
        for family in &unique_metadata {
            write_metadata(&mut text, family);
        }
        for one in &unique {
            write_series(&mut text, one);
        }
        let parsed = parse_prometheus_text(text.as_bytes(), 0);
        prop_assert!(parsed.errors.is_empty(), "{:?}\n{}", parsed.errors, text);
        prop_assert_eq!(&parsed.batch.metadata, &unique_metadata, "{}", text);
        prop_assert_eq!(parsed.batch.series.len(), unique.len(), "{}", text);
        for (got, want) in parsed.batch.series.iter().zip(&unique) {
            prop_assert_eq!(&got.labels, &want.labels, "{}", text);
            prop_assert_eq!(got.samples.len(), want.samples.len());
            for (got_sample, want_sample) in got.samples.iter().zip(&want.samples) {
                prop_assert_eq!(got_sample.timestamp_ms, want_sample.timestamp_ms);
                if want_sample.value.is_nan() {
                    prop_assert!(got_sample.value.is_nan());
                } else {
                    prop_assert_eq!(got_sample.value.to_bits(), want_sample.value.to_bits());
                }
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..200)) {
        let parsed = parse_prometheus_text(&input, 0);
        let line_count = input.split(|byte| *byte == b'\n').count();
        prop_assert!(parsed.errors.len() <= line_count);
    }

    #[test]
    fn near_miss_text_never_panics(input in "[a-z_{}\"=,# \t\\\\\n.0-9+eEInfNa-]{0,80}") {
        let parsed = parse_prometheus_text(input.as_bytes(), 0);
        for error in &parsed.errors {
            let is_line_error = matches!(error, DecodeError::TextLine { line, .. } if *line >= 1);
            prop_assert!(is_line_error, "{:?}", error);
        }
    }
}
