use super::*;

fn single_eval(text: &str) -> EvalCmd {
    let script = parse_script(text).unwrap_or_else(|err| panic!("{text}: {err}"));
    let mut evals = script.commands.into_iter().filter_map(|command| match command {
        Command::Eval(eval) => Some(*eval),
        _ => None,
    });
    let eval = evals.next().expect("one eval");
    assert!(evals.next().is_none(), "exactly one eval");
    eval
}

fn series_of(eval: &EvalCmd) -> &[ExpectedSeries] {
    match &eval.expected {
        ExpectedValue::Series(series) => series,
        ExpectedValue::Scalar(value) => panic!("expected series, got scalar {value}"),
    }
}

#[test]
fn commands_are_split_by_blank_and_comment_lines() {
    let script = parse_script(
        "# leading comment\nload 5m\n  a{x=\"1\"} 0+10x2\n\tb 1 2\n\neval instant at 10m a\n  a{x=\"1\"} 20\n\nclear\n\
         \n   load_with_nhcb 10s53ms\n  c_bucket{le=\"1\"} 1\n",
    )
    .unwrap();
    assert_eq!(script.commands.len(), 4);
    let Command::Load(load) = &script.commands[0] else { panic!("load first") };
    assert_eq!((load.line, load.interval_ms, load.with_nhcb), (2, 300_000, false));
    assert_eq!(load.series.len(), 2);
    assert_eq!(load.series[0].labels, Labels::from_pairs([("__name__", "a"), ("x", "1")]).unwrap());
    assert_eq!(load.series[0].values.len(), 3);
    assert_eq!(load.series[1].line, 4);
    let Command::Eval(eval) = &script.commands[1] else { panic!("eval second") };
    assert_eq!(eval.line, 6);
    assert!(matches!(script.commands[2], Command::Clear { line: 9 }));
    let Command::Load(nhcb) = &script.commands[3] else { panic!("load last") };
    assert_eq!((nhcb.interval_ms, nhcb.with_nhcb), (10_053, true));
}

#[test]
fn a_repeated_series_in_one_load_replaces_the_earlier_line() {
    let script = parse_script("load 1m\n  a 1\n  b 2\n  a 3 4\n").unwrap();
    let Command::Load(load) = &script.commands[0] else { panic!("load") };
    assert_eq!(load.series.len(), 2);
    assert_eq!(load.series[0].values, [SequenceValue::Float(3.0), SequenceValue::Float(4.0)]);
}

#[test]
fn eval_headers_give_kind_time_and_query() {
    let f = |header: &str, want_kind: EvalKind, want_query: &str| {
        let eval = single_eval(header);
        assert_eq!(eval.kind, want_kind, "{header}");
        assert_eq!(eval.query, want_query, "{header}");
    };
    f("eval instant at 50m sum(x)", EvalKind::Instant { time_ms: 3_000_000 }, "sum(x)");
    f("eval instant at 0 -{job=\"api\"}", EvalKind::Instant { time_ms: 0 }, "-{job=\"api\"}");
    f("eval instant at 1m30s  a  +  b", EvalKind::Instant { time_ms: 90_000 }, "a  +  b");
    f(
        "eval range from 0 to 10m step 30s rate(x[5m])",
        EvalKind::Range { start_ms: 0, end_ms: 600_000, step_ms: 30_000 },
        "rate(x[5m])",
    );
    f(
        "eval range from 5m30s to 1h step 1m label_replace(x, \"a\", \"b\", \"c\", \"d\")",
        EvalKind::Range { start_ms: 330_000, end_ms: 3_600_000, step_ms: 60_000 },
        "label_replace(x, \"a\", \"b\", \"c\", \"d\")",
    );
    let legacy = single_eval("eval_fail instant at 0 label_join(x, \"a\", \",\", \"b\")");
    assert!(matches!(legacy.expectations.legacy_fail, Some(MessageMatch::Any)));
    assert!(legacy.expectations.expects_failure());
    assert!(single_eval("eval_ordered instant at 1m x").expectations.ordered);
    assert!(single_eval("eval_warn range from 0 to 1m step 1m x").expectations.legacy_warn);
    let with_message = single_eval("eval_fail instant at 0 x\n  expected_fail_message boom here\n");
    assert!(matches!(with_message.expectations.legacy_fail, Some(MessageMatch::Exact(ref m)) if m == "boom here"));

    let err = |text: &str| assert!(parse_script(text).is_err(), "{text:?} should not parse");
    err("eval instant at 100 x");
    err("eval instant x");
    err("eval range from 10m to 5m step 1m x");
    err("eval range from 0 to 5m x");
    err("evaluate x");
    err("frobnicate");
    err("load\n");
    err("load 1q\n a 1");
}

#[test]
fn expect_lines_set_expectations() {
    let eval = single_eval(
        "eval instant at 1m x\n  expect warn msg: PromQL warning: boom\n  expect warn regex: bo+m\n  expect warn\n  \
         expect no_info\n  expect ordered\n  x{a=\"1\"} 1\n",
    );
    let expectations = &eval.expectations;
    assert_eq!(expectations.warn.len(), 3);
    assert!(matches!(&expectations.warn[0], MessageMatch::Exact(m) if m == "PromQL warning: boom"));
    assert!(expectations.warn[1].matches("a boom"), "regex is unanchored");
    assert!(!expectations.warn[1].matches("bm"));
    assert!(expectations.warn[2].matches("anything"));
    assert!(expectations.no_info && expectations.ordered && !expectations.no_warn);
    assert!(!expectations.expects_failure());

    let fail = single_eval("eval instant at 0 x\n  expect fail msg:invalid label name \"a\\xc5z\"\n");
    assert!(matches!(&fail.expectations.fail[..], [MessageMatch::Exact(m)] if m == "invalid label name \"a\\xc5z\""));
    let fail_regex = single_eval("eval instant at 0 x\n  expect fail regex: vector cannot .*|other\n");
    assert!(fail_regex.expectations.fail[0].matches("vector cannot contain metrics"));
    let info = single_eval("eval range from 0 to 1m step 1m x\n  expect info\n  expect no_warn\n");
    assert_eq!(info.expectations.info.len(), 1);
    assert!(info.expectations.no_warn);

    let err = |text: &str| assert!(parse_script(text).is_err(), "{text:?} should not parse");
    err("eval instant at 0 x\n  expect warn\n  expect no_warn\n");
    err("eval instant at 0 x\n  expect info\n  expect no_info\n");
    err("eval instant at 0 x\n  expect fail\n  expect fail msg: a\n");
    err("eval instant at 0 x\n  expect sometimes\n");
    err("eval instant at 0 x\n  expect warn text: a\n");
    err("eval instant at 0 x\n  expect warn regex: (\n");
}

#[test]
fn expected_results_are_series_scalars_strings_and_range_vectors() {
    let eval = single_eval("eval instant at 1m x\n  expect ordered\n  x{a=\"2\"} 2\n  {a=\"1\"} NaN\n");
    let series = series_of(&eval);
    assert_eq!(series.len(), 2);
    assert_eq!((series[0].position, series[0].line), (1, 3));
    assert_eq!(series[1].position, 2, "expect lines do not count as positions");
    assert_eq!(series[1].labels, Labels::from_pairs([("a", "1")]).unwrap());
    assert!(series[1].values[0].as_float().unwrap().is_nan());

    let scalar = single_eval("eval instant at 50m 0 / 0\n\tNaN\n");
    assert!(matches!(scalar.expected, ExpectedValue::Scalar(value) if value.is_nan()));
    let hex_scalar = single_eval("eval instant at 0 0x10\n  0x10\n");
    assert!(matches!(hex_scalar.expected, ExpectedValue::Scalar(value) if value == 16.0));

    let empty = single_eval("eval instant at 1m nothing\n");
    assert!(series_of(&empty).is_empty());

    let string = single_eval("eval instant at 50m \" Foo \"\n    expect string \" Foo \"\n");
    assert_eq!(string.expected_string.as_deref(), Some(" Foo "));
    assert!(string.exclude_from_range_query);
    let backquoted = single_eval("eval instant at 50m (\"Foo\")\n\texpect string `Foo`\n");
    assert_eq!(backquoted.expected_string.as_deref(), Some("Foo"));
    assert_eq!(single_eval("eval instant at 50m \"\"\n   \texpect string \"\"").expected_string.as_deref(), Some(""));

    let range_vector =
        single_eval("eval instant at 3m x[3m]\n    expect range vector from 1m to 3m step 60s\n \tx{} 1 _ 3\n");
    assert_eq!(
        range_vector.range_vector,
        Some(RangeVectorFrame { start_ms: 60_000, end_ms: 180_000, step_ms: 60_000 })
    );
    assert_eq!(range_vector.instant_time_ms(), Some(180_000));
    assert!(range_vector.exclude_from_range_query);
    assert_eq!(series_of(&range_vector)[0].values[1], SequenceValue::Omitted);
    assert_eq!(series_of(&range_vector)[0].position, 2, "range vector lines count as positions");

    let histogram = single_eval("eval instant at 1m h\n  h {{count:1 sum:2}}\n");
    assert!(histogram.expects_histograms());

    let err = |text: &str| assert!(parse_script(text).is_err(), "{text:?} should not parse");
    err("eval instant at 1m x\n  x 1 2\n");
    err("eval instant at 1m x\n  expect string Foo\n");
    err("eval instant at 1m x\n  expect string\n");
    err("eval instant at 1m x\n  expect range vector 1m to 2m\n");
    err("eval instant at 1m x\n  x{a=\"1\" 1\n");
}

#[test]
fn a_scalar_line_ends_the_eval_block() {
    // promqltest stops reading the block at a scalar, so the next line is read as a command.
    assert!(parse_script("eval instant at 0 1\n  1\n  clear\n").is_ok());
    assert!(parse_script("eval instant at 0 1\n  1\n  {} 1\n").is_err());
}

#[test]
fn start_timestamp_lines_attach_offsets() {
    let script = parse_script(
        "load 1m\n  c{t=\"a\"}@st  _ _ -30s-1mx2 *\n  c{t=\"a\"} _ _ 0+60x3\n  c{t=\"b\"} 1 2\n  @st -1m\n  \
         c{t=\"c\"} 1 2\n",
    )
    .unwrap();
    let Command::Load(load) = &script.commands[0] else { panic!("load") };
    assert_eq!(load.series.len(), 3);
    let want = [None, None, Some(-30_000), Some(-90_000), Some(-150_000), Some(-150_000)];
    assert_eq!(load.series[0].start_offsets_ms, want);
    assert!(load.series[1].start_offsets_ms.is_empty());
    assert_eq!(load.series[2].start_offsets_ms, [Some(-60_000), Some(-60_000)]);

    let f =
        |text: &str, want: &[Option<i64>]| assert_eq!(parse_start_timestamp_sequence(text).unwrap(), want, "{text}");
    f("_x2 -1ms", &[None, None, Some(-1)]);
    f("-59999msx2", &[Some(-59_999); 3]);
    f("1ms-1mx1", &[Some(1), Some(-59_999)]);
    f("-1m *x1", &[Some(-60_000); 3]);

    let err = |text: &str| assert!(parse_script(text).is_err(), "{text:?} should not parse");
    err("load 1m\n  c@st -1m\n\n");
    err("load 1m\n  c@st -1m\n  d 1\n");
    err("load 1m\n  c@st -1m -1m\n  c 1\n");
    err("load 1m\n  c@st 5m30s\n  c 1\n");
}
