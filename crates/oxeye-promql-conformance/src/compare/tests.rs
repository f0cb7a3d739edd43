use oxeye_model::{Labels, STALE_NAN};
use oxeye_promql::QueryStats;

use super::*;
use crate::script::{Command, parse_script};

fn eval(text: &str) -> EvalCmd {
    let script = parse_script(text).unwrap_or_else(|err| panic!("{text}: {err}"));
    script
        .commands
        .into_iter()
        .find_map(|command| match command {
            Command::Eval(eval) => Some(*eval),
            _ => None,
        })
        .expect("an eval")
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).unwrap()
}

fn sample(pairs: &[(&str, &str)], value: f64) -> InstantSample {
    InstantSample { labels: labels(pairs), timestamp_ms: 0, value }
}

fn answer(value: QueryValue) -> Result<QueryResult, QueryError> {
    Ok(QueryResult { value, annotations: Annotations::default(), stats: QueryStats::default() })
}

fn annotated(value: QueryValue, warnings: &[&str], infos: &[&str]) -> Result<QueryResult, QueryError> {
    let annotations = Annotations {
        warnings: warnings.iter().map(|w| w.to_string()).collect(),
        infos: infos.iter().map(|i| i.to_string()).collect(),
    };
    Ok(QueryResult { value, annotations, stats: QueryStats::default() })
}

#[test]
fn almost_equal_follows_prometheus() {
    assert!(almost_equal(1.0, 1.0, DEFAULT_EPSILON));
    assert!(almost_equal(1.0, 1.0 + 1e-7, DEFAULT_EPSILON));
    assert!(!almost_equal(1.0, 1.0001, DEFAULT_EPSILON));
    assert!(almost_equal(1e300, 1e300 * (1.0 + 1e-7), DEFAULT_EPSILON));
    assert!(almost_equal(f64::NAN, -f64::NAN, DEFAULT_EPSILON));
    assert!(almost_equal(STALE_NAN, STALE_NAN, DEFAULT_EPSILON));
    assert!(!almost_equal(STALE_NAN, f64::NAN, DEFAULT_EPSILON));
    assert!(!almost_equal(f64::NAN, 1.0, DEFAULT_EPSILON));
    assert!(almost_equal(f64::INFINITY, f64::INFINITY, DEFAULT_EPSILON));
    assert!(!almost_equal(f64::INFINITY, f64::NEG_INFINITY, DEFAULT_EPSILON));
    assert!(!almost_equal(f64::INFINITY, f64::MAX, DEFAULT_EPSILON));
    assert!(almost_equal(0.0, -0.0, DEFAULT_EPSILON));
    assert!(!almost_equal(0.0, 1e-300, DEFAULT_EPSILON), "next to zero the comparison is absolute and tiny");
}

#[test]
fn instant_vectors_match_order_insensitively() {
    let eval = eval("eval instant at 1m x\n  x{a=\"1\"} 1\n  x{a=\"2\"} 2.0000001\n");
    let good = QueryValue::Vector(vec![
        sample(&[("__name__", "x"), ("a", "2")], 2.0),
        sample(&[("__name__", "x"), ("a", "1")], 1.0),
    ]);
    assert_eq!(check_answer(&eval, &answer(good)), Ok(AnswerCheck::Matched));

    let wrong_value = QueryValue::Vector(vec![
        sample(&[("__name__", "x"), ("a", "1")], 1.5),
        sample(&[("__name__", "x"), ("a", "2")], 2.0),
    ]);
    let reason = check_answer(&eval, &answer(wrong_value)).unwrap_err();
    assert!(reason.contains("expected 1 for x{a=\"1\"} but got 1.5"), "{reason}");

    let missing = QueryValue::Vector(vec![sample(&[("__name__", "x"), ("a", "1")], 1.0)]);
    assert!(check_answer(&eval, &answer(missing)).unwrap_err().contains("not found"));

    let extra = QueryValue::Vector(vec![
        sample(&[("__name__", "x"), ("a", "1")], 1.0),
        sample(&[("__name__", "x"), ("a", "2")], 2.0),
        sample(&[("__name__", "x"), ("a", "3")], 3.0),
    ]);
    assert!(check_answer(&eval, &answer(extra)).unwrap_err().contains("unexpected metric x{a=\"3\"}"));

    let dropped_name = QueryValue::Vector(vec![sample(&[("a", "1")], 1.0), sample(&[("a", "2")], 2.0)]);
    assert!(check_answer(&eval, &answer(dropped_name)).is_err(), "the metric name is part of the identity");

    let scalar = QueryValue::Scalar { timestamp_ms: 60_000, value: 1.0 };
    assert!(check_answer(&eval, &answer(scalar)).unwrap_err().contains("expected vector or matrix result"));

    let empty = eval_empty();
    assert_eq!(check_answer(&empty, &answer(QueryValue::Vector(vec![]))), Ok(AnswerCheck::Matched));
}

fn eval_empty() -> EvalCmd {
    eval("eval instant at 1m nothing\n")
}

#[test]
fn ordered_vectors_check_positions() {
    let eval = eval("eval instant at 1m sort_desc(x)\n  expect ordered\n  x{a=\"2\"} 2\n  x{a=\"1\"} 1\n");
    let in_order = QueryValue::Vector(vec![
        sample(&[("__name__", "x"), ("a", "2")], 2.0),
        sample(&[("__name__", "x"), ("a", "1")], 1.0),
    ]);
    assert!(check_answer(&eval, &answer(in_order)).is_ok());
    let reversed = QueryValue::Vector(vec![
        sample(&[("__name__", "x"), ("a", "1")], 1.0),
        sample(&[("__name__", "x"), ("a", "2")], 2.0),
    ]);
    assert!(check_answer(&eval, &answer(reversed)).unwrap_err().contains("at position 2 but was at 1"));
    let matrix = QueryValue::Matrix(vec![]);
    assert!(check_answer(&eval, &answer(matrix)).unwrap_err().contains("ordered"));
}

#[test]
fn scalars_and_strings() {
    let scalar = eval("eval instant at 50m 0 / 0\n  NaN\n");
    assert!(check_answer(&scalar, &answer(QueryValue::Scalar { timestamp_ms: 0, value: f64::NAN })).is_ok());
    assert!(check_answer(&scalar, &answer(QueryValue::Scalar { timestamp_ms: 0, value: 0.0 })).is_err());
    assert!(check_answer(&scalar, &answer(QueryValue::Vector(vec![]))).unwrap_err().contains("expected scalar"));

    let string = eval("eval instant at 50m \"Foo\"\n  expect string \"Foo\"\n");
    let foo = QueryValue::String { timestamp_ms: 0, value: "Foo".to_string() };
    assert!(check_answer(&string, &answer(foo)).is_ok());
    let bar = QueryValue::String { timestamp_ms: 0, value: "Bar".to_string() };
    assert!(check_answer(&string, &answer(bar)).is_err());
}

#[test]
fn range_results_compare_points_at_steps() {
    let eval = eval("eval range from 0 to 2m step 1m foo > 2 or bar\n  foo{job=\"1\"} _ 3 5\n  bar{job=\"2\"} 1 3 5\n");
    let bar = RangeSeries {
        labels: labels(&[("__name__", "bar"), ("job", "2")]),
        points: vec![(0, 1.0), (60_000, 3.0), (120_000, 5.0)],
    };
    let foo = RangeSeries {
        labels: labels(&[("__name__", "foo"), ("job", "1")]),
        points: vec![(60_000, 3.0), (120_000, 5.0)],
    };
    assert!(check_answer(&eval, &answer(QueryValue::Matrix(vec![bar.clone(), foo.clone()]))).is_ok());

    let unsorted = QueryValue::Matrix(vec![foo.clone(), bar.clone()]);
    assert!(check_answer(&eval, &answer(unsorted)).unwrap_err().contains("sorted"));

    let mut shifted = foo.clone();
    shifted.points[0].0 = 30_000;
    let reason = check_answer(&eval, &answer(QueryValue::Matrix(vec![bar.clone(), shifted]))).unwrap_err();
    assert!(reason.contains("to have timestamp 60000, but it had timestamp 30000"), "{reason}");

    let mut extra_point = foo.clone();
    extra_point.points.insert(0, (0, 1.0));
    let reason = check_answer(&eval, &answer(QueryValue::Matrix(vec![bar.clone(), extra_point]))).unwrap_err();
    assert!(reason.contains("expected 2 float points"), "{reason}");

    let mut wrong = bar.clone();
    wrong.points[2].1 = 6.0;
    assert!(check_answer(&eval, &answer(QueryValue::Matrix(vec![wrong, foo]))).unwrap_err().contains("to be 5"));

    let too_many = self::eval("eval range from 0 to 1m step 1m x\n  x 1 2 3\n");
    let x = RangeSeries { labels: labels(&[("__name__", "x")]), points: vec![(0, 1.0), (60_000, 2.0)] };
    assert!(check_answer(&too_many, &answer(QueryValue::Matrix(vec![x]))).unwrap_err().contains("cannot return"));
}

#[test]
fn instant_range_vectors_use_the_expected_frame() {
    let eval = eval(
        "eval instant at 1m some_metric[1m]\n  expect range vector from 10s to 1m step 10s\n  \
         some_metric{env=\"a\"} 2 3 4 5 6\n",
    );
    let points = (1..=5).map(|step| (step * 10_000, step as f64 + 1.0)).collect();
    let series = RangeSeries { labels: labels(&[("__name__", "some_metric"), ("env", "a")]), points };
    assert!(check_answer(&eval, &answer(QueryValue::Matrix(vec![series]))).is_ok());
    assert!(!wants_range_mode_check(&eval));

    // Without `expect range vector` an instant eval cannot expect matrix points (promqltest's frame is empty).
    let plain = self::eval("eval instant at 1m x[1m]\n  x 1\n");
    let x = RangeSeries { labels: labels(&[("__name__", "x")]), points: vec![(60_000, 1.0)] };
    assert!(check_answer(&plain, &answer(QueryValue::Matrix(vec![x]))).unwrap_err().contains("cannot return"));
}

#[test]
fn failures_must_match_the_expect_fail_line() {
    let any = eval("eval instant at 0 x\n  expect fail\n");
    let error: Result<QueryResult, QueryError> = Err(QueryError::Execution("boom".to_string()));
    assert_eq!(check_answer(&any, &error), Ok(AnswerCheck::FailedAsExpected));
    assert!(check_answer(&any, &answer(QueryValue::Vector(vec![]))).unwrap_err().contains("but got none"));

    let exact = eval("eval instant at 0 x\n  expect fail msg: vector cannot contain metrics with the same labelset\n");
    let same = Err(QueryError::Execution("vector cannot contain metrics with the same labelset".to_string()));
    assert!(check_answer(&exact, &same).is_ok());
    assert!(check_answer(&exact, &error).unwrap_err().contains("but got: boom"));

    let pattern = eval("eval instant at 0 x\n  expect fail regex: cannot contain|boo\n");
    assert!(check_answer(&pattern, &error).is_ok());

    let legacy = eval("eval_fail instant at 0 x\n");
    assert!(check_answer(&legacy, &error).is_ok());

    let unexpected = eval_empty();
    assert!(check_answer(&unexpected, &error).unwrap_err().contains("error evaluating query: boom"));
}

#[test]
fn annotations_are_checked_only_when_asked() {
    const WARNING: &str = "PromQL warning: quantile value should be between 0 and 1, got NaN";
    const INFO: &str = "PromQL info: metric might not be a counter, name does not end in _total: \"x\"";
    let value = || QueryValue::Vector(vec![]);

    let unconstrained = eval_empty();
    assert!(check_answer(&unconstrained, &annotated(value(), &[WARNING], &[INFO])).is_ok());

    let exact = eval(&format!("eval instant at 1m nothing\n  expect warn msg: {WARNING}\n  expect no_info\n"));
    assert!(check_answer(&exact, &annotated(value(), &[WARNING], &[])).is_ok());
    assert!(check_answer(&exact, &annotated(value(), &[], &[])).unwrap_err().contains("none were found"));
    let reason = check_answer(&exact, &annotated(value(), &[WARNING, "PromQL warning: other"], &[])).unwrap_err();
    assert!(reason.contains("unexpected warn annotation"), "every warning must be expected: {reason}");
    assert!(check_answer(&exact, &annotated(value(), &[WARNING], &[INFO])).unwrap_err().contains("unexpected info"));
    assert!(check_answer(&exact, &annotated(value(), &["PromQL warning: other"], &[])).is_err());

    let any_info = eval("eval instant at 1m nothing\n  expect info\n  expect no_warn\n");
    assert!(check_answer(&any_info, &annotated(value(), &[], &[INFO])).is_ok());
    assert!(check_answer(&any_info, &annotated(value(), &[], &[])).is_err());
    assert!(
        check_answer(&any_info, &annotated(value(), &[WARNING], &[INFO])).unwrap_err().contains("unexpected warning")
    );

    let regex = eval("eval instant at 1m nothing\n  expect info regex: might not be a (counter|gauge)\n");
    assert!(check_answer(&regex, &annotated(value(), &[], &[INFO])).is_ok());
}

#[test]
fn range_mode_rechecks_the_middle_step() {
    let eval = eval("eval instant at 1m x\n  x{a=\"1\"} 1\n");
    assert!(wants_range_mode_check(&eval));
    let instant = QueryValue::Vector(vec![sample(&[("__name__", "x"), ("a", "1")], 1.0)]);
    let series = |points: Vec<(i64, f64)>| RangeSeries { labels: labels(&[("__name__", "x"), ("a", "1")]), points };

    let consistent = answer(QueryValue::Matrix(vec![series(vec![(0, 0.0), (60_000, 1.0), (120_000, 2.0)])]));
    assert!(check_range_mode(&eval, &instant, 60_000, &consistent).is_ok());

    let inconsistent = answer(QueryValue::Matrix(vec![series(vec![(0, 1.0), (120_000, 1.0)])]));
    let reason = check_range_mode(&eval, &instant, 60_000, &inconsistent).unwrap_err();
    assert!(reason.starts_with("range mode: expected metric"), "{reason}");

    let failed = Err(QueryError::BadData("nope".to_string()));
    assert!(check_range_mode(&eval, &instant, 60_000, &failed).unwrap_err().contains("in range mode: nope"));

    let scalar_eval = self::eval("eval instant at 1m 1 + 1\n  2\n");
    let scalar = QueryValue::Scalar { timestamp_ms: 60_000, value: 2.0 };
    let scalar_matrix = answer(QueryValue::Matrix(vec![RangeSeries {
        labels: Labels::empty(),
        points: vec![(0, 2.0), (60_000, 2.0), (120_000, 2.0)],
    }]));
    assert!(check_range_mode(&scalar_eval, &scalar, 60_000, &scalar_matrix).is_ok());
    assert!(check_range_mode(&scalar_eval, &scalar, 60_000, &answer(QueryValue::Matrix(vec![]))).is_err());

    assert!(!wants_range_mode_check(&self::eval("eval instant at 1m step()\n  1\n")));
    assert!(!wants_range_mode_check(&self::eval("eval range from 0 to 1m step 1m x\n")));
}
