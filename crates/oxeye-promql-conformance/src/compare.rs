//! Judging an engine's answer against an `eval` block, as promqltest judges it.
//!
//! This mirrors `runInstantQuery`, `execRangeEval`, `checkExpectedFailure`, `checkAnnotations` and
//! `compareResult` in Prometheus's `promql/promqltest/test.go`:
//!
//! * an expected failure passes on any error matching the `expect fail` line (and stops there); an unexpected
//!   error, or success where failure was expected, fails;
//! * annotations are checked only when asked: `expect warn|info` need at least one annotation of that kind, each
//!   line must match some annotation and each annotation some line; `expect no_warn|no_info` forbid them;
//! * vectors must hold exactly the expected series (in line order with `expect ordered`), matrices the expected
//!   points at `start + i*step` (`_` meaning no point) and must be sorted by labels; values are compared with
//!   [`almost_equal`];
//! * an instant query is re-run as a range query from `t-1m` to `t+1m` step 1m and the middle step must give
//!   the same answer ([`check_range_mode`]).
//!
//! Error texts follow Prometheus's where practical so that failures read the same in both projects.

use std::sync::LazyLock;

use oxeye_model::{Labels, is_stale_nan};
use oxeye_promql::{Annotations, InstantSample, QueryError, QueryResult, QueryValue, RangeSeries};
use regex::Regex;

use crate::script::{EvalCmd, EvalKind, Expectations, ExpectedSeries, ExpectedValue, MessageMatch};
use crate::series::SequenceValue;

/// promqltest's `defaultEpsilon`: the relative error allowed between sample values.
pub const DEFAULT_EPSILON: f64 = 0.000001;

/// Half-width and step of the range query that re-checks an instant query (promqltest: one minute).
pub const RANGE_MODE_STEP_MS: i64 = 60_000;

/// Queries calling these functions are not re-run in range mode, because they resolve differently there.
static QUERY_CONTEXT_FUNCTIONS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(start|end|range|step)\(\)").unwrap_or_else(|err| unreachable!("BUG: invalid pattern: {err}"))
});

/// Whether `a` and `b` are equal within a relative `epsilon`, as Prometheus's `util/almost.Equal`: NaN equals
/// NaN, but the stale marker only equals the stale marker; values next to zero compare absolutely.
pub fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE; // 2.2250738585072014e-308, Go's math.Float64frombits(0x0010000000000000)
    if a.is_nan() && b.is_nan() {
        if is_stale_nan(a) || is_stale_nan(b) {
            return is_stale_nan(a) && is_stale_nan(b);
        }
        return true;
    }
    if a == b {
        return true;
    }
    let absolute_sum = a.abs() + b.abs();
    let difference = (a - b).abs();
    if a == 0.0 || b == 0.0 || absolute_sum < MIN_NORMAL {
        return difference < epsilon * MIN_NORMAL;
    }
    difference / absolute_sum.min(f64::MAX) < epsilon
}

/// What the first check of an answer established.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerCheck {
    /// The query failed as the eval expected; nothing more is checked.
    FailedAsExpected,
    /// The query succeeded and its annotations and value match.
    Matched,
}

/// Checks the answer to the eval's own query (instant or range): expected failure, annotations, value.
/// Returns why it does not match.
pub fn check_answer(eval: &EvalCmd, answer: &Result<QueryResult, QueryError>) -> Result<AnswerCheck, String> {
    let expectations = &eval.expectations;
    match answer {
        Err(error) if expectations.expects_failure() => {
            check_failure(expectations, &error.to_string())?;
            Ok(AnswerCheck::FailedAsExpected)
        }
        Err(error) => Err(format!("error evaluating query: {error}")),
        Ok(_) if expectations.expects_failure() => Err("expected error evaluating query but got none".to_string()),
        Ok(result) => {
            check_annotations(expectations, &result.annotations)?;
            compare_value(eval, &result.value)?;
            Ok(AnswerCheck::Matched)
        }
    }
}

/// Checks an error message against the `eval_fail`/`expected_fail_*` and `expect fail` lines.
pub fn check_failure(expectations: &Expectations, message: &str) -> Result<(), String> {
    let expected = expectations.legacy_fail.iter().chain(expectations.fail.first());
    for matcher in expected {
        if !matcher.matches(message) {
            return Err(format!("expected error matching {matcher}, but got: {message}"));
        }
    }
    Ok(())
}

/// Checks warnings and infos against the `expect warn|info|no_warn|no_info` lines (and `eval_warn|info`).
pub fn check_annotations(expectations: &Expectations, annotations: &Annotations) -> Result<(), String> {
    if expectations.legacy_warn && annotations.warnings.is_empty() {
        return Err("expected warnings but got none".to_string());
    }
    if expectations.legacy_info && annotations.infos.is_empty() {
        return Err("expected info annotations but got none".to_string());
    }
    check_annotations_of_kind(&expectations.warn, &annotations.warnings, "warn")?;
    check_annotations_of_kind(&expectations.info, &annotations.infos, "info")?;
    if expectations.no_warn && !annotations.warnings.is_empty() {
        return Err(format!("unexpected warning annotations: {:?}", annotations.warnings));
    }
    if expectations.no_info && !annotations.infos.is_empty() {
        return Err(format!("unexpected info annotations: {:?}", annotations.infos));
    }
    Ok(())
}

fn check_annotations_of_kind(expected: &[MessageMatch], actual: &[String], kind: &str) -> Result<(), String> {
    if expected.is_empty() {
        return Ok(());
    }
    if actual.is_empty() {
        return Err(format!("expected {kind} annotations but none were found"));
    }
    for matcher in expected {
        if !actual.iter().any(|message| matcher.matches(message)) {
            return Err(format!("expected {kind} annotation matching {matcher} but found only {actual:?}"));
        }
    }
    for message in actual {
        if !expected.iter().any(|matcher| matcher.matches(message)) {
            return Err(format!("unexpected {kind} annotation {message:?}"));
        }
    }
    Ok(())
}

/// The timestamps at which the expected points of a matrix lie: `start + i*step`, up to `end`.
#[derive(Clone, Copy, Debug)]
struct MatrixFrame {
    start_ms: i64,
    /// `None` for an instant query without `expect range vector`, where promqltest's frame ends before any point.
    end_ms: Option<i64>,
    step_ms: i64,
}

fn matrix_frame(eval: &EvalCmd) -> MatrixFrame {
    match (eval.kind, eval.range_vector) {
        (EvalKind::Range { start_ms, end_ms, step_ms }, _) => MatrixFrame { start_ms, end_ms: Some(end_ms), step_ms },
        (EvalKind::Instant { .. }, Some(frame)) => {
            MatrixFrame { start_ms: frame.start_ms, end_ms: Some(frame.end_ms), step_ms: frame.step_ms }
        }
        (EvalKind::Instant { time_ms }, None) => MatrixFrame { start_ms: time_ms, end_ms: None, step_ms: 0 },
    }
}

/// Compares a query value with the eval's expected value (promqltest `compareResult`).
pub fn compare_value(eval: &EvalCmd, value: &QueryValue) -> Result<(), String> {
    match value {
        QueryValue::Matrix(series) => compare_matrix(eval, series),
        QueryValue::Vector(samples) => compare_vector(eval, samples),
        QueryValue::Scalar { value, .. } => match eval.expected {
            ExpectedValue::Scalar(expected) if almost_equal(expected, *value, DEFAULT_EPSILON) => Ok(()),
            ExpectedValue::Scalar(expected) => Err(format!("expected scalar {expected} but got {value}")),
            ExpectedValue::Series(_) => Err(format!("expected vector or matrix result, but got scalar {value}")),
        },
        QueryValue::String { value, .. } => {
            let expected = eval.expected_string.as_deref().unwrap_or("");
            if expected == value { Ok(()) } else { Err(format!("expected string {expected:?} but got {value:?}")) }
        }
    }
}

fn expected_series<'a>(eval: &'a EvalCmd, got: &str) -> Result<&'a [ExpectedSeries], String> {
    match &eval.expected {
        ExpectedValue::Series(series) => Ok(series),
        ExpectedValue::Scalar(expected) => Err(format!("expected scalar {expected}, but got {got}")),
    }
}

fn find_expected<'a>(expected: &'a [ExpectedSeries], labels: &Labels) -> Option<&'a ExpectedSeries> {
    expected.iter().find(|series| series.labels == *labels)
}

fn check_sorted(series: &[RangeSeries]) -> Result<(), String> {
    match series.windows(2).position(|pair| pair[0].labels > pair[1].labels) {
        Some(index) => Err(format!(
            "matrix results should always be sorted by labels, but {} comes before {}",
            series[index].labels,
            series[index + 1].labels
        )),
        None => Ok(()),
    }
}

fn compare_vector(eval: &EvalCmd, samples: &[InstantSample]) -> Result<(), String> {
    let expected = expected_series(eval, &format!("a vector of {} samples", samples.len()))?;
    let mut seen = vec![false; expected.len()];
    for (index, sample) in samples.iter().enumerate() {
        let Some(expected_index) = expected.iter().position(|series| series.labels == sample.labels) else {
            return Err(format!("unexpected metric {} in result, has value {}", sample.labels, sample.value));
        };
        let series = &expected[expected_index];
        if eval.expectations.ordered && series.position != index + 1 {
            return Err(format!(
                "expected metric {} at position {} but was at {}",
                sample.labels,
                series.position,
                index + 1
            ));
        }
        let expected_value = match series.values.first().cloned() {
            Some(SequenceValue::Float(value)) => value,
            // promqltest reads an omitted value as 0.
            Some(SequenceValue::Omitted) => 0.0,
            Some(SequenceValue::Histogram(histogram)) => {
                return Err(format!(
                    "expected histogram {histogram} for {} but got float {}",
                    sample.labels, sample.value
                ));
            }
            None => return Err(format!("expected series {} has no value (line {})", series.labels, series.line)),
        };
        if !almost_equal(expected_value, sample.value, DEFAULT_EPSILON) {
            return Err(format!("expected {expected_value} for {} but got {}", sample.labels, sample.value));
        }
        seen[expected_index] = true;
    }
    if let Some(missing) = expected.iter().zip(&seen).find_map(|(series, &seen)| (!seen).then_some(series)) {
        return Err(format!("expected metric {} not found (line {})", missing.labels, missing.line));
    }
    Ok(())
}

fn compare_matrix(eval: &EvalCmd, matrix: &[RangeSeries]) -> Result<(), String> {
    if eval.expectations.ordered {
        return Err("expected ordered result, but query returned a matrix".to_string());
    }
    let expected = expected_series(eval, &format!("a matrix of {} series", matrix.len()))?;
    check_sorted(matrix)?;
    let frame = matrix_frame(eval);
    for series in matrix {
        let Some(expectation) = find_expected(expected, &series.labels) else {
            return Err(format!(
                "unexpected metric {} in result, has {}",
                series.labels,
                format_points(&series.points)
            ));
        };
        let mut expected_points: Vec<(i64, f64)> = Vec::new();
        let mut expected_histograms = 0;
        for (index, value) in expectation.values.iter().enumerate() {
            let timestamp_ms = frame.start_ms + index as i64 * frame.step_ms;
            if frame.end_ms.is_none_or(|end_ms| timestamp_ms > end_ms) {
                return Err(format!(
                    "expected {} points for {}, but query time range cannot return this many points",
                    expectation.values.len(),
                    series.labels
                ));
            }
            match value {
                SequenceValue::Float(value) => expected_points.push((timestamp_ms, *value)),
                SequenceValue::Histogram(_) => expected_histograms += 1,
                SequenceValue::Omitted => {}
            }
        }
        if expected_points.len() != series.points.len() || expected_histograms > 0 {
            return Err(format!(
                "expected {} float points and {} histogram points for {}, but got {}",
                expected_points.len(),
                expected_histograms,
                series.labels,
                format_points(&series.points)
            ));
        }
        for (index, (&(want_ms, want), &(got_ms, got))) in expected_points.iter().zip(&series.points).enumerate() {
            if want_ms != got_ms {
                return Err(format!(
                    "expected float value at index {index} for {} to have timestamp {want_ms}, but it had timestamp \
                     {got_ms} (result has {})",
                    series.labels,
                    format_points(&series.points)
                ));
            }
            if !almost_equal(got, want, DEFAULT_EPSILON) {
                return Err(format!(
                    "expected float value at index {index} (t={got_ms}) for {} to be {want}, but got {got} (result \
                     has {})",
                    series.labels,
                    format_points(&series.points)
                ));
            }
        }
    }
    if let Some(missing) = expected.iter().find(|series| !matrix.iter().any(|got| got.labels == series.labels)) {
        return Err(format!("expected metric {} not found (line {})", missing.labels, missing.line));
    }
    Ok(())
}

fn format_points(points: &[(i64, f64)]) -> String {
    let rendered: Vec<String> =
        points.iter().map(|(timestamp_ms, value)| format!("{value} @[{timestamp_ms}]")).collect();
    format!("{} float point(s) [{}]", points.len(), rendered.join(", "))
}

/// Whether promqltest would re-run this eval's instant query in range mode: not for range evals, not when
/// `expect range vector` or `expect string` excluded it, and not for queries calling `start()`, `end()`,
/// `range()` or `step()`.
pub fn wants_range_mode_check(eval: &EvalCmd) -> bool {
    matches!(eval.kind, EvalKind::Instant { .. })
        && !eval.exclude_from_range_query
        && !QUERY_CONTEXT_FUNCTIONS.is_match(&eval.query)
}

/// Checks the instant query re-run as a range query over `[time-1m, time+1m]` step 1m: it must succeed, return a
/// sorted matrix, and its points at `time_ms` must match the eval like the instant answer did. `instant_value` is
/// the value the instant query returned (a scalar answer is compared as a scalar).
pub fn check_range_mode(
    eval: &EvalCmd,
    instant_value: &QueryValue,
    time_ms: i64,
    range_answer: &Result<QueryResult, QueryError>,
) -> Result<(), String> {
    let result = range_answer.as_ref().map_err(|error| format!("error evaluating query in range mode: {error}"))?;
    if eval.expectations.ordered {
        // Range results are always sorted by labels, so an ordering expectation cannot be checked.
        return Ok(());
    }
    let QueryValue::Matrix(matrix) = &result.value else {
        return Err(format!("range mode: expected a matrix, got a {}", result.value.type_name()));
    };
    check_sorted(matrix).map_err(|reason| format!("range mode: {reason}"))?;
    let vector: Vec<InstantSample> = matrix
        .iter()
        .filter_map(|series| {
            let &(timestamp_ms, value) = series.points.iter().find(|&&(timestamp_ms, _)| timestamp_ms == time_ms)?;
            Some(InstantSample { labels: series.labels.clone(), timestamp_ms, value })
        })
        .collect();
    let value = match instant_value {
        QueryValue::Scalar { .. } => {
            let Some(first) = vector.first() else {
                return Err(format!("range mode: scalar query returned no point at {time_ms}"));
            };
            QueryValue::Scalar { timestamp_ms: time_ms, value: first.value }
        }
        _ => QueryValue::Vector(vector),
    };
    compare_value(eval, &value).map_err(|reason| format!("range mode: {reason}"))
}

#[cfg(test)]
mod tests;
