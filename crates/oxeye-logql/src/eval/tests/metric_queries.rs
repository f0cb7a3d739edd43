//! Metric queries over the data set of `eval::tests`.

use super::*;

fn instant_at(query: &str, seconds: i64) -> Result<QueryValue, QueryError> {
    let reader = reader();
    let expr = crate::parse(query).unwrap_or_else(|error| panic!("{query}: {error}"));
    let params = InstantParams { time_ns: t(seconds), direction: Direction::Backward, limit: 100 };
    engine().instant(&reader, &expr, params).map(|output| output.value)
}

/// An instant vector as (labels string, value).
fn vector(query: &str, seconds: i64) -> Vec<(String, f64)> {
    match instant_at(query, seconds).unwrap_or_else(|error| panic!("{query}: {error}")) {
        QueryValue::Vector(samples) => {
            for sample in &samples {
                assert_eq!(sample.timestamp_ms, ms(seconds));
            }
            samples.into_iter().map(|sample| (label_string(&sample.labels), sample.value)).collect()
        }
        other => panic!("{query}: not a vector: {other:?}"),
    }
}

fn assert_vector(query: &str, seconds: i64, want: &[(&str, f64)]) {
    let got = vector(query, seconds);
    assert_eq!(got.len(), want.len(), "{query}: {got:?}");
    for ((labels, value), (want_labels, want_value)) in got.iter().zip(want) {
        assert_eq!(labels, want_labels, "{query}");
        let close =
            (value - want_value).abs() <= 1e-9 * want_value.abs().max(1.0) || (value.is_nan() && want_value.is_nan());
        assert!(close, "{query}: {labels} = {value}, want {want_value}");
    }
}

const API_DEV: &str = r#"{app="api", env="dev"}"#;
const API_PROD: &str = r#"{app="api", env="prod"}"#;
const WEB_PROD: &str = r#"{app="web", env="prod"}"#;

#[test]
fn count_over_time_windows_exclude_their_start() {
    // Window (20 s, 50 s]: prod rows at 30, 40 (same labels) and 50 (trace_id=def); dev rows at 25, 45.
    assert_vector(
        r#"count_over_time({app="api"}[30s])"#,
        50,
        &[(API_DEV, 2.0), (API_PROD, 2.0), (r#"{app="api", env="prod", trace_id="def"}"#, 1.0)],
    );
    let reader = reader();
    let expr = crate::parse(r#"count_over_time({app="api"}[30s])"#).unwrap();
    engine()
        .instant(&reader, &expr, InstantParams { time_ns: t(50), direction: Direction::Backward, limit: 0 })
        .unwrap();
    let request = &reader.requests.lock().unwrap()[0];
    // The scan covers (start - range, end]: [20 s, 50 s + 1 ns).
    assert_eq!((request.start_ns, request.end_ns), (t(20), t(50) + 1));
}

#[test]
fn rates_and_bytes() {
    // Two dev rows in (20 s, 50 s] over 30 s.
    assert_vector(r#"rate({app="api", env="dev"}[30s])"#, 50, &[(API_DEV, 2.0 / 30.0)]);
    // Web lines of 23 + 23 + 19 + 18 bytes in (0 s, 60 s].
    assert_vector(r#"bytes_over_time({app="web"}[1m])"#, 60, &[(WEB_PROD, 83.0)]);
    assert_vector(r#"bytes_rate({app="web"}[1m])"#, 60, &[(WEB_PROD, 83.0 / 60.0)]);
    // `sum by` is pushed down: the prod series with and without trace ids add up to 3 at 50 s.
    assert_vector(
        r#"sum by (env) (count_over_time({app="api"}[30s]))"#,
        50,
        &[(r#"{env="dev"}"#, 2.0), (r#"{env="prod"}"#, 3.0)],
    );
}

#[test]
fn unwrapped_aggregations() {
    let json_status =
        |op: &str| format!(r#"{op}({{app="api", env="prod"}} | json | unwrap status | __error__="" [1m]) by (app)"#);
    // Statuses at 10, 20, 30, 50 s: 200, 500, 200, 429 (the non-JSON row has no status and is skipped).
    assert_vector(&json_status("max_over_time"), 60, &[(r#"{app="api"}"#, 500.0)]);
    assert_vector(&json_status("min_over_time"), 60, &[(r#"{app="api"}"#, 200.0)]);
    assert_vector(&json_status("first_over_time"), 60, &[(r#"{app="api"}"#, 200.0)]);
    assert_vector(&json_status("last_over_time"), 60, &[(r#"{app="api"}"#, 429.0)]);
    assert_vector(&json_status("avg_over_time"), 60, &[(r#"{app="api"}"#, 1329.0 / 4.0)]);
    // Mean 332.25; squared deviations 17490.0625 + 28140.0625 + 17490.0625 + 9360.5625 = 72480.75; / 4.
    assert_vector(&json_status("stdvar_over_time"), 60, &[(r#"{app="api"}"#, 18120.1875)]);
    assert_vector(&json_status("stddev_over_time"), 60, &[(r#"{app="api"}"#, 18120.1875f64.sqrt())]);
    // Sorted 200, 200, 429, 500: rank 1.5 interpolates 200 and 429.
    assert_vector(
        r#"quantile_over_time(0.5, {app="api", env="prod"} | json | unwrap status | __error__="" [1m]) by (app)"#,
        60,
        &[(r#"{app="api"}"#, 314.5)],
    );
    // duration(): 0.1 + 1.5 + 0.25 + 0.9 seconds, averaged.
    assert_vector(
        r#"avg_over_time({app="api", env="prod"} | json | unwrap duration(latency) | __error__="" [1m]) by (env)"#,
        60,
        &[(r#"{env="prod"}"#, 0.6875)],
    );
    // bytes(): 100 + 5000 + 10; duration_seconds(): 0.02 + 2 + 0.005; both summed over the dev rows.
    assert_vector(
        r#"sum by (env) (sum_over_time({env="dev"} | logfmt | unwrap bytes(bytes) [1m]))"#,
        60,
        &[(r#"{env="dev"}"#, 5110.0)],
    );
    assert_vector(
        r#"sum by (env) (sum_over_time({env="dev"} | logfmt | unwrap duration_seconds(duration) [1m]))"#,
        60,
        &[(r#"{env="dev"}"#, 2.025)],
    );
    // rate with unwrap: the sum over the range, per second.
    assert_vector(r#"sum(rate({env="dev"} | logfmt | unwrap bytes [1m]))"#, 60, &[("{}", 5110.0 / 60.0)]);
    // Without grouping the unwrapped label leaves the series labels.
    assert_vector(
        r#"max_over_time({app="counter"} | logfmt | unwrap count [1m])"#,
        60,
        &[(r#"{app="counter"}"#, 10.0)],
    );
}

#[test]
fn rate_counter_extrapolates_and_handles_resets() {
    // 5, 10, 2, 6 at 10..40 s in (0 s, 40 s]: increase 6 - 5 + 10 (reset) = 11 over 30 s sampled, extrapolated by
    // 10 s to the window start (under 1.1 × the 10 s average spacing, not past zero) and 0 s to its end:
    // 11 × 40 / 30 over 40 s = 11 / 30.
    assert_vector(
        r#"rate_counter({app="counter"} | logfmt | unwrap count [40s])"#,
        40,
        &[(r#"{app="counter"}"#, 11.0 / 30.0)],
    );
}

#[test]
fn absent_over_time() {
    assert_vector(
        r#"absent_over_time({app="nothing", env="x", pod=~"p.*"}[1m])"#,
        60,
        &[(r#"{app="nothing", env="x"}"#, 1.0)],
    );
    assert_vector(r#"absent_over_time({app="api"}[1m])"#, 60, &[]);
}

#[test]
fn vector_aggregations() {
    // Counts in (0 s, 60 s]: api/dev 3, api/prod 3, trace abc 1, trace def 1, web 4.
    let counts = r#"count_over_time({app=~"api|web"}[1m])"#;
    assert_vector(&format!("topk(1, {counts})"), 60, &[(WEB_PROD, 4.0)]);
    assert_vector(
        &format!("bottomk(2, {counts})"),
        60,
        &[(r#"{app="api", env="prod", trace_id="abc"}"#, 1.0), (r#"{app="api", env="prod", trace_id="def"}"#, 1.0)],
    );
    assert_vector(&format!("topk by (env) (1, {counts})"), 60, &[(API_DEV, 3.0), (WEB_PROD, 4.0)]);
    assert_vector(&format!("sum({counts})"), 60, &[("{}", 12.0)]);
    assert_vector(&format!("avg({counts})"), 60, &[("{}", 2.4)]);
    assert_vector(&format!("min({counts})"), 60, &[("{}", 1.0)]);
    assert_vector(&format!("max({counts})"), 60, &[("{}", 4.0)]);
    assert_vector(&format!("count({counts})"), 60, &[("{}", 5.0)]);
    // Mean 2.4; squared deviations 0.36 + 0.36 + 1.96 + 1.96 + 2.56 = 7.2; / 5.
    assert_vector(&format!("stdvar({counts})"), 60, &[("{}", 1.44)]);
    assert_vector(&format!("stddev({counts})"), 60, &[("{}", 1.2)]);
    assert_vector(
        &format!("sum without (env, trace_id) ({counts})"),
        60,
        &[(r#"{app="api"}"#, 8.0), (r#"{app="web"}"#, 4.0)],
    );
    // sort/sort_desc keep their order in instant results.
    assert_vector(
        &format!("sort_desc(sum by (app) ({counts}))"),
        60,
        &[(r#"{app="api"}"#, 8.0), (r#"{app="web"}"#, 4.0)],
    );
    assert_vector(&format!("sort(sum by (app) ({counts}))"), 60, &[(r#"{app="web"}"#, 4.0), (r#"{app="api"}"#, 8.0)]);
}

#[test]
fn binary_operators() {
    let counts = r#"count_over_time({app=~"api|web"}[1m])"#;
    assert_vector(
        r#"sum(count_over_time({app="api"}[1m])) / sum(count_over_time({app="web"}[1m]))"#,
        60,
        &[("{}", 2.0)],
    );
    // Comparisons filter and keep the vector's value, or give 0/1 with bool.
    assert_vector(r#"count_over_time({app="web"}[1m]) > 3"#, 60, &[(WEB_PROD, 4.0)]);
    assert_vector(r#"count_over_time({app="web"}[1m]) > 5"#, 60, &[]);
    assert_vector(r#"count_over_time({app="web"}[1m]) > bool 5"#, 60, &[(WEB_PROD, 0.0)]);
    assert_vector(r#"3 < count_over_time({app="web"}[1m])"#, 60, &[(WEB_PROD, 4.0)]);
    assert_vector(r#"2 - count_over_time({app="web"}[1m]) * 2"#, 60, &[(WEB_PROD, -6.0)]);
    assert_vector(r#"count_over_time({app="web"}[1m]) / 0"#, 60, &[(WEB_PROD, f64::NAN)]);
    // Many-to-one: api/dev 3, api/prod 5, web/prod 4 over dev 3, prod 9.
    let by_env_app = format!("sum by (env, app) ({counts})");
    let by_env = format!("sum by (env) ({counts})");
    assert_vector(
        &format!("{by_env_app} / on (env) group_left {by_env}"),
        60,
        &[(API_DEV, 1.0), (API_PROD, 5.0 / 9.0), (WEB_PROD, 4.0 / 9.0)],
    );
    assert_vector(
        &format!("{by_env} / on (env) group_right {by_env_app}"),
        60,
        &[(API_DEV, 1.0), (API_PROD, 9.0 / 5.0), (WEB_PROD, 9.0 / 4.0)],
    );
    let error = instant_at(&format!("{by_env_app} / ignoring (app) {by_env}"), 60).unwrap_err();
    assert_eq!(
        error.to_string(),
        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
    );
    // One-to-one on(): only the matching labels remain.
    assert_vector(&format!("{by_env} + on (env) {by_env}"), 60, &[(r#"{env="dev"}"#, 6.0), (r#"{env="prod"}"#, 18.0)]);
    // Set operators.
    let api = r#"sum by (env) (count_over_time({app="api"}[1m]))"#;
    let web = r#"sum by (env) (count_over_time({app="web"}[1m]))"#;
    assert_vector(&format!("{api} and {web}"), 60, &[(r#"{env="prod"}"#, 5.0)]);
    assert_vector(&format!("{api} or {web}"), 60, &[(r#"{env="dev"}"#, 3.0), (r#"{env="prod"}"#, 5.0)]);
    assert_vector(&format!("{api} unless {web}"), 60, &[(r#"{env="dev"}"#, 3.0)]);
}

#[test]
fn literals_vector_and_label_replace() {
    assert_eq!(instant_at("2 * 3 + 1", 60).unwrap(), QueryValue::Scalar { timestamp_ms: ms(60), value: 7.0 });
    let QueryValue::Scalar { value, .. } = instant_at("1 / 0", 60).unwrap() else { panic!("not a scalar") };
    assert!(value.is_nan(), "Loki divides by zero into NaN");
    assert_vector("vector(5)", 60, &[("{}", 5.0)]);
    assert_vector(
        r#"label_replace(sum by (env) (count_over_time({app="api"}[1m])), "stage", "env-$1", "env", "(d.*)")"#,
        60,
        &[(r#"{env="dev", stage="env-dev"}"#, 3.0), (r#"{env="prod"}"#, 5.0)],
    );
}

#[test]
fn offset_shifts_the_window() {
    // At 60 s with offset 30 s the window is (0 s, 30 s]: web rows at 20 and 30 s.
    assert_vector(r#"count_over_time({app="web"}[30s] offset 30s)"#, 60, &[(WEB_PROD, 2.0)]);
    let reader = reader();
    let expr = crate::parse(r#"count_over_time({app="web"}[30s] offset 30s)"#).unwrap();
    engine()
        .instant(&reader, &expr, InstantParams { time_ns: t(60), direction: Direction::Backward, limit: 0 })
        .unwrap();
    let request = &reader.requests.lock().unwrap()[0];
    assert_eq!((request.start_ns, request.end_ns), (t(0), t(30) + 1));
}

/// (labels string, [(seconds, value)]) per series.
type Matrix = Vec<(String, Vec<(i64, f64)>)>;

fn matrix(query: &str, start: i64, end: i64, step: i64) -> Result<Matrix, QueryError> {
    let reader = reader();
    let expr = crate::parse(query).unwrap();
    let params = RangeParams {
        start_ns: t(start),
        end_ns: t(end),
        step_ns: step * 1_000_000_000,
        interval_ns: 0,
        direction: Direction::Backward,
        limit: 100,
    };
    let output = engine().range(&reader, &expr, params)?;
    let QueryValue::Matrix(series) = output.value else { panic!("{query}: not a matrix") };
    Ok(series
        .into_iter()
        .map(|series| {
            let points =
                series.points.into_iter().map(|(timestamp, value)| ((timestamp - ms(0)) / 1000, value)).collect();
            (label_string(&series.labels), points)
        })
        .collect())
}

#[test]
fn range_queries_step_through_windows() {
    // Steps 20, 40, 60 s over 20 s windows: (0, 20] has 20 s, (20, 40] has 30 and 40 s, (40, 60] has 60 s.
    assert_eq!(
        matrix(r#"count_over_time({app="web"}[20s])"#, 20, 60, 20).unwrap(),
        vec![(WEB_PROD.to_string(), vec![(20, 1.0), (40, 2.0), (60, 1.0)])]
    );
    // A constant fills every step of one series without labels.
    assert_eq!(matrix("2 * 3", 20, 60, 20).unwrap(), vec![("{}".to_string(), vec![(20, 6.0), (40, 6.0), (60, 6.0)])]);
    // Steps without data are left out of a series.
    assert_eq!(
        matrix(r#"sum(count_over_time({app="packed"}[5s]))"#, 10, 30, 10).unwrap(),
        vec![("{}".to_string(), vec![(10, 1.0)])]
    );
}

#[test]
fn pipeline_errors_fail_metric_queries() {
    let error = instant_at(r#"count_over_time({app="api", env="prod"} | json [1m])"#, 60).unwrap_err();
    assert_eq!(
        error.to_string(),
        "pipeline error: 'JSONParserErr' for series: '{__error__=\"JSONParserErr\", __error_details__=\"Value looks like object, but can't find closing '}' symbol\", app=\"api\", env=\"prod\"}'.\nUse a label filter to intentionally skip this error. (e.g | __error__!=\"JSONParserErr\").\nTo skip all potential errors you can match empty errors.(e.g __error__=\"\")\nThe label filter can also be specified after unwrap. (e.g | unwrap latency | __error__=\"\" )\n"
    );
    assert!(error.is_client_error());
    // Filtering the error out works.
    assert_vector(r#"sum(count_over_time({app="api", env="prod"} | json | __error__="" [1m]))"#, 60, &[("{}", 4.0)]);
    // Loki skips parsers when a `sum` keeps no labels, so the bad line counts without an error.
    assert_vector(r#"sum(count_over_time({app="api", env="prod"} | json [1m]))"#, 60, &[("{}", 5.0)]);
    // ... but not when a label is kept: the errored row keeps all its labels and fails the query.
    assert!(matches!(
        instant_at(r#"sum by (env) (count_over_time({app="api", env="prod"} | json [1m]))"#, 60),
        Err(QueryError::Pipeline { .. })
    ));
    // Conversion failures of unwrap.
    let error = instant_at(r#"sum_over_time({env="dev"} | logfmt | unwrap msg [1m])"#, 60).unwrap_err();
    assert!(
        matches!(&error, QueryError::Pipeline { error_type, .. } if error_type == "SampleExtractionErr"),
        "{error}"
    );
    assert_vector(
        r#"sum_over_time({env="dev"} | logfmt | unwrap msg | __error__!="SampleExtractionErr" [1m])"#,
        60,
        &[],
    );
    // An errored row outside every window (step 20 s > range 5 s) is never evaluated, as in Loki.
    let query = r#"sum by (level) (count_over_time({app="api", env="prod"} | json [5s]))"#;
    assert_eq!(matrix(query, 10, 30, 20).unwrap(), vec![(r#"{level="info"}"#.to_string(), vec![(10, 1.0), (30, 1.0)])]);
    assert!(matches!(matrix(query, 10, 40, 10), Err(QueryError::Pipeline { .. })));
}

#[test]
fn series_limit() {
    let reader = reader();
    let expr = crate::parse(r#"count_over_time({app="api"}[30s])"#).unwrap();
    let engine = Engine::new(EngineOptions { max_series: 2, max_entries_limit: 0 });
    let error = engine
        .instant(&reader, &expr, InstantParams { time_ns: t(50), direction: Direction::Backward, limit: 0 })
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "maximum number of series (2) reached for a single query; consider reducing query cardinality by adding more specific stream selectors, reducing the time range, or aggregating results with functions like sum(), count() or topk()"
    );
    let step_error = engine
        .range(
            &reader,
            &expr,
            RangeParams {
                start_ns: t(0),
                end_ns: t(10),
                step_ns: 0,
                interval_ns: 0,
                direction: Direction::Forward,
                limit: 0,
            },
        )
        .unwrap_err();
    assert!(matches!(step_error, QueryError::BadParameters(_)));
}

#[test]
fn metric_hints() {
    let reader = reader();
    let expr = crate::parse(r#"sum(count_over_time({app="api"} |= "timeout" | trace_id="abc" [1m]))"#).unwrap();
    let output = engine()
        .instant(&reader, &expr, InstantParams { time_ns: t(60), direction: Direction::Backward, limit: 0 })
        .unwrap();
    assert_eq!(
        output.value,
        QueryValue::Vector(vec![VectorSample { labels: Labels::empty(), timestamp_ms: ms(60), value: 1.0 }])
    );
    assert_eq!(
        hints_of(&reader),
        [LogFilterHints {
            line_contains: vec!["timeout".into()],
            metadata_equals: vec![("trace_id".into(), "abc".into())]
        }]
    );
    assert_eq!(output.stats.total_post_filter_lines, 1);
    assert_eq!(output.stats.total_lines_processed, 8);
}
