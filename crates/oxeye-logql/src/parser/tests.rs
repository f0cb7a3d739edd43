//! Parser tests: the tree of every construct, the canonical text, round trips (`parse(print(ast)) == ast`, also as a
//! property over generated trees) and Loki's error messages.

use super::ast::*;
use super::*;

fn matcher(name: &str, op: MatchType, value: &str) -> LabelMatcher {
    LabelMatcher { name: name.into(), op, value: value.into() }
}

fn eq(name: &str, value: &str) -> LabelMatcher {
    matcher(name, MatchType::Equal, value)
}

/// Parses, checks that printing and parsing again gives the same tree, and returns the canonical text.
fn round_trip(input: &str) -> String {
    let expr = parse(input).unwrap_or_else(|error| panic!("{input}: {error}"));
    let printed = expr.to_string();
    let again = parse(&printed).unwrap_or_else(|error| panic!("{input} printed as {printed}: {error}"));
    assert_eq!(again, expr, "{input} printed as {printed}");
    printed
}

#[test]
fn log_queries_parse_into_the_expected_tree() {
    let expr = parse(r#"{app="api", env=~"prod|dev"} |= "error" or "warn" != "debug" | json | level="error""#).unwrap();
    assert_eq!(
        expr,
        Expr::Log(LogExpr {
            matchers: vec![eq("app", "api"), matcher("env", MatchType::Regex, "prod|dev")],
            stages: vec![
                Stage::LineFilter(LineFilter {
                    op: LineFilterOp::Contains,
                    values: vec!["error".into(), "warn".into()]
                }),
                Stage::LineFilter(LineFilter { op: LineFilterOp::NotContains, values: vec!["debug".into()] }),
                Stage::Json(vec![]),
                Stage::LabelFilter(LabelFilter::Matcher(eq("level", "error"))),
            ],
        })
    );
    assert!(expr.is_log_query());
}

#[test]
fn label_filters_follow_loki_precedence() {
    let filter = |input: &str| match parse(&format!("{{a=\"b\"}} | {input}")).unwrap() {
        Expr::Log(LogExpr { mut stages, .. }) => match stages.remove(0) {
            Stage::LabelFilter(filter) => filter,
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    };
    let x = || Box::new(LabelFilter::Matcher(eq("x", "1")));
    let y = || Box::new(LabelFilter::Number { name: "y".into(), op: CompareOp::Greater, value: 2.0 });
    let z = || Box::new(LabelFilter::Duration { name: "z".into(), op: CompareOp::Less, value_ns: 1_500_000_000 });
    // `and` binds tighter than `or`.
    assert_eq!(filter(r#"x="1" or y>2 and z<1.5s"#), LabelFilter::Or(x(), Box::new(LabelFilter::And(y(), z()))));
    assert_eq!(filter(r#"x="1" and y>2 or z<1.5s"#), LabelFilter::Or(Box::new(LabelFilter::And(x(), y())), z()));
    // A comma (or juxtaposition) takes the whole rest as its right operand.
    assert_eq!(filter(r#"x="1", y>2 or z<1.5s"#), LabelFilter::And(x(), Box::new(LabelFilter::Or(y(), z()))));
    assert_eq!(filter(r#"x="1" y>2 or z<1.5s"#), LabelFilter::And(x(), Box::new(LabelFilter::Or(y(), z()))));
    assert_eq!(filter(r#"(x="1" or y>2), z<1.5s"#), LabelFilter::And(Box::new(LabelFilter::Or(x(), y())), z()));
    assert_eq!(
        filter("size >= 10KB"),
        LabelFilter::Bytes { name: "size".into(), op: CompareOp::GreaterOrEqual, value: 10_000 }
    );
    assert_eq!(filter("n == -3"), LabelFilter::Number { name: "n".into(), op: CompareOp::Equal, value: -3.0 });
}

#[test]
fn metric_queries_parse_into_the_expected_tree() {
    let expr = parse(r#"sum by (app) (rate({app="api"} |= "x" [5m] offset 1h)) / 2"#).unwrap();
    let Expr::Sample(SampleExpr::Binary(binary)) = expr else { panic!("not a binary expression") };
    assert_eq!(binary.op, BinaryOp::Div);
    assert_eq!(*binary.rhs, SampleExpr::Literal(2.0));
    let SampleExpr::VectorAggregation(aggregation) = *binary.lhs else { panic!("not an aggregation") };
    assert_eq!(aggregation.grouping, Grouping { without: false, labels: vec!["app".into()] });
    let SampleExpr::RangeAggregation(range) = *aggregation.expr else { panic!("not a range aggregation") };
    assert_eq!(range.op, RangeOp::Rate);
    assert_eq!(range.range.range_ns, 300_000_000_000);
    assert_eq!(range.range.offset_ns, 3_600_000_000_000);

    let expr =
        parse(r#"quantile_over_time(0.99, {a="b"} | json | unwrap duration(latency) | __error__="" [1m]) by (x)"#)
            .unwrap();
    let Expr::Sample(SampleExpr::RangeAggregation(aggregation)) = expr else { panic!("not a range aggregation") };
    assert_eq!(aggregation.param, Some(0.99));
    let unwrap = aggregation.range.unwrap.unwrap();
    assert_eq!(unwrap.label, "latency");
    assert_eq!(unwrap.conversion, UnwrapConversion::Duration);
    assert_eq!(unwrap.post_filters, vec![LabelFilter::Matcher(eq("__error__", ""))]);

    // Precedence: `*` over `+`, `^` right-associative, comparisons below arithmetic, `or` lowest.
    let printed = round_trip("vector(1) + 2 * 3 ^ 2 ^ 2 > bool 4 or vector(1)");
    assert_eq!(printed, "((vector(1) + (2 * (3 ^ (2 ^ 2)))) > bool 4) or vector(1)");
}

#[test]
fn range_forms_are_equivalent() {
    let canonical = r#"count_over_time({app="api"} |= "x" [5m] offset 1m)"#;
    for input in [
        r#"count_over_time({app="api"} |= "x" [5m] offset 1m)"#,
        r#"count_over_time({app="api"}[5m] offset 1m |= "x")"#,
        r#"count_over_time(({app="api"} |= "x")[5m] offset 1m)"#,
        r#"count_over_time(({app="api"} |= "x" [5m] offset 1m))"#,
    ] {
        assert_eq!(round_trip(input), canonical, "{input}");
    }
    assert_eq!(
        round_trip(r#"sum_over_time({app="api"}[5m] | unwrap bytes(size))"#),
        r#"sum_over_time({app="api"} | unwrap bytes(size) [5m])"#
    );
}

#[test]
fn every_construct_round_trips() {
    let cases = [
        r#"{app="api"}"#,
        r#"{app="api", env!="dev", pod=~"a.+", ns!~"kube-.*"}"#,
        r#"{app="api"} |= "a" != "b" |~ "c+" !~ "d" |> "<_> GET <_>" !> "x <_>""#,
        r#"{app="api"} |= "a" or "b" or "c" != "x" or "y""#,
        r#"{app="api"} | json | logfmt | unpack | decolorize"#,
        r#"{app="api"} | json first="a.b", second="c[0]", third="[\"d e\"]""#,
        r#"{app="api"} | logfmt --strict --keep-empty host, port="p""#,
        r#"{app="api"} | logfmt --keep-empty"#,
        r#"{app="api"} | regexp "(?P<method>\\w+) (?P<path>\\S+)" | pattern "<ip> - <_> <status>""#,
        r#"{app="api"} | level="error" | status >= 500 | latency > 250ms | size < 1MiB | code != 3"#,
        r#"{app="api"} | a="1" or b=~"x|y" and (c!="2" or d!~"z"), e="4""#,
        r#"{app="api"} | line_format "{{.level | ToUpper}} {{ __line__ }}" | label_format new=old, t="{{.a}}-x""#,
        r#"{app="api"} | drop a, b="x", c=~"y.*" | keep d, e!="z""#,
        "{app=\"api\"} |= `raw \\string`",
        r#"{app="api"} |= "quote\" backslash\\ newline\n tab\t""#,
        r#"rate({app="api"}[5m])"#,
        r#"count_over_time({app="api"} | json [1h30m] offset 5m)"#,
        r#"bytes_rate({app="api"}[30s])"#,
        r#"bytes_over_time({app="api"}[1d])"#,
        r#"absent_over_time({app="api"}[1w])"#,
        r#"rate_counter({app="api"} | logfmt | unwrap requests [1m])"#,
        r#"sum_over_time({app="api"} | unwrap bytes(size) [1m])"#,
        r#"avg_over_time({app="api"} | unwrap duration_seconds(d) | __error__="" [1m]) by (host)"#,
        r#"max_over_time({app="api"} | unwrap latency [1m]) without (pod)"#,
        r#"min_over_time({app="api"} | unwrap latency [1m]) by ()"#,
        r#"stddev_over_time({app="api"} | unwrap latency [1m])"#,
        r#"stdvar_over_time({app="api"} | unwrap latency [1m])"#,
        r#"quantile_over_time(0.5, {app="api"} | unwrap latency [1m])"#,
        r#"first_over_time({app="api"} | unwrap latency [1m])"#,
        r#"last_over_time({app="api"} | unwrap latency [1m]) by (a, b)"#,
        r#"sum(rate({app="api"}[5m]))"#,
        r#"sum by (a, b) (rate({app="api"}[5m]))"#,
        r#"avg without (a) (rate({app="api"}[5m]))"#,
        r#"count(rate({app="api"}[5m]))"#,
        r#"min(rate({app="api"}[5m])) + max(rate({app="api"}[5m]))"#,
        r#"stddev(rate({app="api"}[5m])) - stdvar(rate({app="api"}[5m]))"#,
        r#"topk(3, rate({app="api"}[5m]))"#,
        r#"bottomk by (a) (2, rate({app="api"}[5m]))"#,
        r#"sort(rate({app="api"}[5m]))"#,
        r#"sort_desc(rate({app="api"}[5m]))"#,
        r#"rate({app="api"}[5m]) > 1"#,
        r#"rate({app="api"}[5m]) >= bool 1"#,
        r#"rate({app="api"}[5m]) * on (a, b) group_left (c) rate({app="x"}[5m])"#,
        r#"rate({app="api"}[5m]) / ignoring (a) group_right rate({app="x"}[5m])"#,
        r#"rate({app="api"}[5m]) and on () rate({app="x"}[5m])"#,
        r#"rate({app="api"}[5m]) unless ignoring (x) rate({app="x"}[5m])"#,
        r#"rate({app="api"}[5m]) or rate({app="x"}[5m])"#,
        r#"rate({app="api"}[5m]) % 3 == 1"#,
        r#"rate({app="api"}[5m]) != 1 < 2 <= 3"#,
        r#"2 ^ -1"#,
        r#"-1.5"#,
        r#"vector(0)"#,
        r#"label_replace(rate({app="api"}[5m]), "dst", "$1", "src", "(.*)-x")"#,
        r#"(rate({app="api"}[5m]))"#,
        r#"sum(count_over_time({app="api"} | pattern "<_> <status>" | status=~"5.." [1m])) by (status)"#,
        r#"{app="api"} |= ip("10.0.0.0/8")"#,
        r#"{app="api"} != ip("::1") or "x" or ip("1.2.3.4-1.2.3.9")"#,
        r#"{app="api"} | logfmt | addr = ip("1.2.3.4") and addr != ip("1.2.3.0/24")"#,
    ];
    for input in cases {
        round_trip(input);
    }
}

#[test]
fn canonical_text_is_stable() {
    let f = |input: &str, want: &str| assert_eq!(round_trip(input), want, "{input}");
    f(r#"{ app = "api" }|json"#, r#"{app="api"} | json"#);
    f(r#"sum(rate({app="api"}[5m])) by (a)"#, r#"sum by (a) (rate({app="api"} [5m]))"#);
    f(r#"{app="api"} | x > 10KB"#, r#"{app="api"} | x>10000B"#);
    f(r#"{app="api"} | x = 1m30s"#, r#"{app="api"} | x==1m30s"#);
    f(r#"{app="api"} | a="1" b="2""#, r#"{app="api"} | a="1" and b="2""#);
    f(r#"{APP="api"} | JSON"#, r#"{APP="api"} | json"#);
}

#[test]
fn comments_are_ignored() {
    assert_eq!(round_trip("{app=\"api\"} # the api\n |= \"x\""), r#"{app="api"} |= "x""#);
}

#[test]
fn errors_match_loki() {
    let f = |input: &str, want: &str| match parse(input) {
        Ok(expr) => panic!("{input} parsed as {expr}"),
        Err(error) => assert_eq!(error.to_string(), want, "{input}"),
    };
    f(r#"{foo="bar"} "foo""#, "parse error at line 1, col 13: syntax error: unexpected STRING");
    f(r#"{foo="bar"} foo"#, "parse error at line 1, col 13: syntax error: unexpected IDENTIFIER");
    f(r#"{foo="bar""#, "parse error at line 1, col 11: syntax error: unexpected $end, expecting } or ,");
    f(r#"{foo="bar"} |~"#, "parse error at line 1, col 15: syntax error: unexpected $end, expecting STRING or ip");
    f(r#"{foo="bar"} | a > ip("1.2.3.4")"#, "parse error at line 1, col 19: syntax error: unexpected ip");
    f(
        r#"{foo="bar"} |= ip"#,
        "parse error at line 1, col 16: syntax error: unexpected IDENTIFIER, expecting STRING or ip",
    );
    f(r#"{foo="bar}"#, "parse error at line 1, col 6: literal not terminated");
    f(r#"stddev({ foo = "bar" })"#, "parse error at line 1, col 23: syntax error: unexpected )");
    f(r#"min({ foo = "bar" }[5m])"#, "parse error at line 0, col 20: syntax error: unexpected RANGE");
    f(
        r#"rate({ foo = "bar" }[5minutes])"#,
        r#"parse error at line 0, col 21: unknown unit "minutes" in duration "5minutes""#,
    );
    f(r#"rate({ foo = "bar" }[5)"#, "parse error at line 0, col 21: missing closing ']' in duration");
    f(
        r#"bottomk(he,count_over_time({ foo = "bar" }[5h]))"#,
        "parse error at line 1, col 9: syntax error: unexpected IDENTIFIER",
    );
    f(
        r#"quantile_over_time(foo,{namespace="tns"} |= "level=error" | json |foo>=5,bar<25ms| unwrap latency [5m])"#,
        "parse error at line 1, col 20: syntax error: unexpected IDENTIFIER, expecting NUMBER or { or (",
    );
    f("vector(abc)", "parse error at line 1, col 8: syntax error: unexpected IDENTIFIER, expecting NUMBER");
    f(r#"#{app="foo"} | json"#, "parse error at line 1, col 20: syntax error: unexpected $end");
    f(
        r#"count without (rate({namespace="apps"}[15s]))"#,
        "parse error at line 1, col 16: syntax error: unexpected RATE, expecting IDENTIFIER or )",
    );
    f("bool 1 > 1 > bool 1", "parse error at line 1, col 1: syntax error: unexpected bool");
    f(r#"sum_over_time({foo="bar"}[5m])"#, "parse error : invalid aggregation sum_over_time without unwrap");
    f(
        r#"count_over_time({foo="bar"} | unwrap x [5m])"#,
        "parse error : invalid aggregation count_over_time with unwrap",
    );
    f(
        r#"sum_over_time({foo="bar"} | unwrap x [5m]) by (a)"#,
        "parse error : grouping not allowed for sum_over_time aggregation",
    );
    f(
        r#"sum_over_time(50, {foo="bar"} | unwrap x [5m])"#,
        "parse error : parameter 50 not supported for operation sum_over_time",
    );
    f(
        r#"quantile_over_time({foo="bar"} | unwrap x [5m])"#,
        "parse error : parameter required for operation quantile_over_time",
    );
    f(r#"sum(3, rate({foo="bar"}[5m]))"#, "parse error : unsupported parameter for operation sum(3,");
    f(r#"topk(rate({foo="bar"}[5m]))"#, "parse error : parameter required for operation topk");
    f(r#"bottomk(1.2, rate({foo="bar"}[5m]))"#, "parse error : invalid parameter bottomk(1.2,");
    f(
        r#"rate({foo="bar"}[5m]) or 1"#,
        "parse error : unexpected literal for right leg of logical/set binary operation (or): 1.000000",
    );
    f(
        r#"1 unless rate({foo="bar"}[5m])"#,
        "parse error : unexpected literal for left leg of logical/set binary operation (unless): 1.000000",
    );
    f(r#"{foo="bar"} + 1"#, "parse error : unexpected type for left leg of binary operation (+): *syntax.MatchersExpr");
    f(
        r#"1 - {foo="bar"} |= "x""#,
        "parse error : unexpected type for right leg of binary operation (-): *syntax.PipelineExpr",
    );
    f(r#"sort by (a) (rate({foo="bar"}[5m]))"#, "parse error : sort and sort_desc doesn't allow grouping by ");
    f(
        r#"{foo!="bar"}"#,
        "parse error : queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but app=~\".+\" will",
    );
    f(
        r#"{app=~".*"}"#,
        "parse error : queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but app=~\".+\" will",
    );
    f(
        r#"rate({}[5m])"#,
        "parse error : queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but app=~\".+\" will",
    );
    f(
        r#"vector(0x10)"#,
        "parse error : unable to parse literal as a float: strconv.ParseFloat: parsing \"0x10\": invalid syntax",
    );
    f(r#"{app="a"} | x > 5 | unwrap y"#, "parse error at line 1, col 29: syntax error: unexpected $end");
}

#[test]
fn drop_followed_by_not_equal_reads_as_a_matcher() {
    // Loki's grammar shifts `!=` into the drop list; a line filter needs another stage in between.
    let expr = parse(r#"{app="api"} | drop a != "x""#).unwrap();
    let Expr::Log(log) = expr else { panic!("not a log query") };
    assert_eq!(log.stages, vec![Stage::Drop(vec![NamedMatcher::Matcher(matcher("a", MatchType::NotEqual, "x"))])]);
}

#[test]
fn selectors_for_the_series_api() {
    let matchers = parse_selector(r#"{app="api", env=~"prod|dev"}"#).unwrap();
    assert_eq!(matchers.len(), 2);
    assert!(matchers[1].matches("dev") && !matchers[1].matches("prod2"));
    assert_eq!(parse_selector(r#"{app="api"} |= "x""#).unwrap_err().to_string(), "only label matchers are supported");
    assert!(parse_selector("{}").is_err());
    assert!(parse_selector_unvalidated("{}").unwrap().is_empty());
}

mod generated {
    //! Round trip over generated trees.
    use proptest::prelude::*;

    use super::super::ast::*;
    use super::super::parse;

    fn name() -> impl Strategy<Value = String> {
        prop::sample::select(vec!["app", "level", "status", "a_b", "x1", "__error__"]).prop_map(str::to_string)
    }

    fn text() -> impl Strategy<Value = String> {
        "[a-z0-9 \"\\\\.\n\t{}|=-]{0,8}"
    }

    fn matcher() -> impl Strategy<Value = LabelMatcher> {
        (name(), prop::sample::select(vec![MatchType::Equal, MatchType::NotEqual]), text())
            .prop_map(|(name, op, value)| LabelMatcher { name, op, value })
    }

    fn label_filter() -> impl Strategy<Value = LabelFilter> {
        let compare = prop::sample::select(vec![
            CompareOp::Equal,
            CompareOp::NotEqual,
            CompareOp::Greater,
            CompareOp::GreaterOrEqual,
            CompareOp::Less,
            CompareOp::LessOrEqual,
        ]);
        let leaf = prop_oneof![
            matcher().prop_map(LabelFilter::Matcher),
            (name(), compare.clone(), -1000i32..1000, 0u32..4).prop_map(|(name, op, value, scale)| {
                LabelFilter::Number { name, op, value: f64::from(value) / 10f64.powi(scale as i32) }
            }),
            (name(), compare.clone(), -10_000_000_000i64..10_000_000_000)
                .prop_map(|(name, op, value_ns)| LabelFilter::Duration { name, op, value_ns }),
            (name(), compare, 0u64..100_000_000).prop_map(|(name, op, value)| LabelFilter::Bytes { name, op, value }),
            (name(), any::<bool>(), "[0-9a-f.:/-]{1,12}").prop_map(|(name, negated, pattern)| LabelFilter::Ip {
                name,
                negated,
                pattern
            }),
        ];
        leaf.prop_recursive(3, 12, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| LabelFilter::And(Box::new(a), Box::new(b))),
                (inner.clone(), inner).prop_map(|(a, b)| LabelFilter::Or(Box::new(a), Box::new(b))),
            ]
        })
    }

    fn stage() -> impl Strategy<Value = Stage> {
        let line_op = prop::sample::select(vec![
            LineFilterOp::Contains,
            LineFilterOp::NotContains,
            LineFilterOp::Regex,
            LineFilterOp::NotRegex,
        ]);
        prop_oneof![
            (
                line_op,
                prop::collection::vec(
                    prop_oneof![
                        "[a-z]{1,4}".prop_map(LineFilterValue::Text),
                        "[0-9a-f.:/-]{1,12}".prop_map(LineFilterValue::Ip)
                    ],
                    1..3
                )
            )
                .prop_map(|(op, values)| Stage::LineFilter(LineFilter { op, values })),
            Just(Stage::Json(vec![])),
            (any::<bool>(), any::<bool>()).prop_map(|(strict, keep_empty)| Stage::Logfmt {
                strict,
                keep_empty,
                extractions: vec![]
            }),
            label_filter().prop_map(Stage::LabelFilter),
            text().prop_map(Stage::LineFormat),
            (name(), name()).prop_map(|(dst, src)| Stage::LabelFormat(vec![LabelFormatOp::Rename { dst, src }])),
            // A bare name last in `drop` followed by a `!=` line filter reads as a matcher, in Loki too, so the
            // generated drops end with a matcher.
            (name(), matcher()).prop_map(|(name, matcher)| Stage::Drop(vec![
                NamedMatcher::Name(name),
                NamedMatcher::Matcher(matcher)
            ])),
            Just(Stage::Decolorize),
        ]
    }

    fn log_expr() -> impl Strategy<Value = LogExpr> {
        prop::collection::vec(stage(), 0..4).prop_map(|stages| LogExpr {
            matchers: vec![LabelMatcher { name: "app".into(), op: MatchType::Equal, value: "api".into() }],
            stages,
        })
    }

    fn sample_expr() -> impl Strategy<Value = SampleExpr> {
        let range = (log_expr(), 1i64..100, 0i64..10).prop_map(|(log, minutes, offset)| {
            SampleExpr::RangeAggregation(RangeAggregation {
                op: RangeOp::CountOverTime,
                param: None,
                range: LogRange {
                    log,
                    range_ns: minutes * 60_000_000_000,
                    offset_ns: offset * 1_000_000,
                    unwrap: None,
                },
                grouping: None,
            })
        });
        let leaf = prop_oneof![range, (-100i32..100).prop_map(|v| SampleExpr::Literal(f64::from(v) / 4.0))];
        leaf.prop_recursive(3, 10, 2, |inner| {
            let op = prop::sample::select(vec![
                BinaryOp::Add,
                BinaryOp::Sub,
                BinaryOp::Mul,
                BinaryOp::Div,
                BinaryOp::Pow,
                BinaryOp::Gt,
                BinaryOp::Lte,
            ]);
            prop_oneof![
                (op, any::<bool>(), inner.clone(), inner.clone()).prop_map(|(op, return_bool, lhs, rhs)| {
                    SampleExpr::Binary(BinaryExpr {
                        op,
                        modifiers: BinaryModifiers { return_bool, ..Default::default() },
                        lhs: Box::new(lhs),
                        rhs: Box::new(rhs),
                    })
                }),
                (inner, prop::collection::vec(name(), 0..3), any::<bool>()).prop_map(|(expr, labels, without)| {
                    SampleExpr::VectorAggregation(VectorAggregation {
                        op: VectorOp::Sum,
                        param: None,
                        grouping: Grouping { without, labels },
                        expr: Box::new(expr),
                    })
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn printed_log_queries_parse_back(log in log_expr()) {
            let expr = Expr::Log(log);
            let printed = expr.to_string();
            prop_assert_eq!(parse(&printed).map_err(|e| e.to_string()), Ok(expr), "{}", printed);
        }

        #[test]
        fn printed_metric_queries_parse_back(sample in sample_expr()) {
            let expr = Expr::Sample(sample);
            let printed = expr.to_string();
            prop_assert_eq!(parse(&printed).map_err(|e| e.to_string()), Ok(expr), "{}", printed);
        }
    }
}

mod fuzz {
    //! Arbitrary token soup: parsing never panics, and whatever parses prints back to the same tree.
    use proptest::prelude::*;

    use super::super::parse;

    fn fragment() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "{",
            "}",
            "(",
            ")",
            "[5m]",
            "[1h",
            ",",
            "=",
            "!=",
            "=~",
            "!~",
            "|=",
            "|~",
            "|>",
            "!>",
            "|",
            "app",
            "x",
            "\"a\"",
            "\"(\"",
            "`r`",
            "\"<_> <x>\"",
            "1",
            "-2",
            "0.5",
            "10s",
            "1KB",
            "--strict",
            "json",
            "logfmt",
            "unwrap",
            "bytes(",
            "duration(",
            "line_format",
            "\"{{.a}}\"",
            "label_format",
            "drop",
            "keep",
            "regexp",
            "pattern",
            "unpack",
            "decolorize",
            "or",
            "and",
            "unless",
            "by",
            "without",
            "bool",
            "on",
            "ignoring",
            "group_left",
            "offset",
            "rate(",
            "count_over_time(",
            "sum(",
            "topk(",
            "sort(",
            "label_replace(",
            "vector(",
            "quantile_over_time(",
            "+",
            "-",
            "*",
            "/",
            "%",
            "^",
            "==",
            ">",
            ">=",
            "<",
            "<=",
            "#c\n",
            " ",
            "\u{e9}",
            "\\",
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn parse_never_panics_and_round_trips(parts in prop::collection::vec(fragment(), 0..24)) {
            let input = parts.join(" ");
            if let Ok(expr) = parse(&input) {
                let printed = expr.to_string();
                prop_assert_eq!(parse(&printed).map_err(|e| e.to_string()), Ok(expr), "{} printed as {}", input, printed);
            }
        }

        #[test]
        fn parse_never_panics_on_any_text(input in "\\PC{0,64}") {
            let _ = parse(&input);
        }
    }
}
