//! TraceQL metrics queries (`{…} | rate() by (…)`) over many traces, with Tempo's semantics
//! (`engine_metrics.go`, `ast_metrics.go`):
//!
//! - the range is aligned to the step (start rounded down, end up); intervals are right-closed,
//!   `(start + i·step, start + (i+1)·step]`, and each is reported at its end; a span counts in the interval of its
//!   start time;
//! - `rate()` is spans per second of step, `count_over_time()` spans per interval; `min/max/sum/avg_over_time(x)`
//!   aggregate a numeric attribute (durations in seconds), NaN where an interval has no value;
//! - `quantile_over_time(x, q…)` puts values in power-of-two buckets and interpolates as Tempo's `Log2Quantile`
//!   (one series per quantile, label `p`); `histogram_over_time(x)` returns the bucket counts (label `__bucket`,
//!   the bucket's upper bound, seconds for durations);
//! - an ungrouped series is labelled `__name__=<function>`; a grouped one by each non-nil `by` value (all nil:
//!   the first label with the string `nil`);
//! - `topk(k)`/`bottomk(k)` keep, at each step, the k highest/lowest values (others become NaN; series never
//!   selected are dropped); a comparison (`> 10`) turns failing samples into NaN and drops empty series.

use std::collections::HashMap;
use std::fmt::Write;

use oxeye_model::{AttrValue, Trace};

use crate::error::EvalError;
use crate::eval::evaluate_pipeline_on_trace;
use crate::eval::value::{SpanContext, TraceContext, Value, attribute_value};
use crate::parser::ast::{MetricsFunction, MetricsQuery, Query, RootExpr, SecondStage};

/// At most this many steps per query (Prometheus' limit).
pub const MAX_STEPS: u64 = 11_000;

/// One time series of a metrics query.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricSeries {
    /// `__name__` for ungrouped queries, else the `by` attributes (as written, e.g. `resource.service.name`), plus
    /// `p` for quantiles and `__bucket` for histograms.
    pub labels: Vec<(String, AttrValue)>,
    /// The end of each interval, in nanoseconds.
    pub timestamps_ns: Vec<u64>,
    /// One value per interval; NaN where there is none.
    pub values: Vec<f64>,
}

/// The intervals of a range query, as Tempo's `IntervalMapperQueryRange` maps them.
struct Intervals {
    start_ns: u64,
    step_ns: u64,
    count: usize,
}

impl Intervals {
    fn new(start_ns: u64, end_ns: u64, step_ns: u64) -> Result<Self, EvalError> {
        let invalid = EvalError::InvalidRange { start_ns, end_ns, step_ns };
        if step_ns == 0 || end_ns <= start_ns {
            return Err(invalid);
        }
        let aligned_start = start_ns - start_ns % step_ns;
        let remainder = end_ns % step_ns;
        let aligned_end =
            if remainder == 0 { end_ns } else { end_ns.checked_add(step_ns - remainder).ok_or(invalid)? };
        let steps = (aligned_end - aligned_start) / step_ns;
        if steps > MAX_STEPS {
            return Err(EvalError::TooManySteps { steps, limit: MAX_STEPS });
        }
        Ok(Self { start_ns: aligned_start, step_ns, count: steps as usize })
    }

    /// One interval covering exactly `(start_ns, end_ns]`, as Tempo maps an instant query.
    fn instant(start_ns: u64, end_ns: u64) -> Result<Self, EvalError> {
        if end_ns <= start_ns {
            return Err(EvalError::InvalidRange { start_ns, end_ns, step_ns: end_ns.saturating_sub(start_ns) });
        }
        Ok(Self { start_ns, step_ns: end_ns - start_ns, count: 1 })
    }

    fn of(&self, timestamp_ns: u64) -> Option<usize> {
        let end = self.start_ns + self.step_ns * self.count as u64;
        if timestamp_ns <= self.start_ns || timestamp_ns > end {
            return None;
        }
        let offset = timestamp_ns - self.start_ns;
        // A timestamp on a boundary closes the interval before it.
        Some(((offset - 1) / self.step_ns) as usize)
    }

    fn timestamps(&self) -> Vec<u64> {
        (0..self.count as u64).map(|interval| self.start_ns + (interval + 1) * self.step_ns).collect()
    }
}

/// What one group accumulated in one interval.
#[derive(Clone, Default)]
struct Cell {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    /// Power-of-two bucket upper bound -> count (quantiles and histograms).
    buckets: Vec<(f64, u64)>,
}

impl Cell {
    fn observe(&mut self, value: f64) {
        if self.count == 0 {
            self.min = value;
            self.max = value;
        } else {
            self.min = self.min.min(value);
            self.max = self.max.max(value);
        }
        self.count += 1;
        self.sum += value;
    }

    fn observe_bucket(&mut self, bucket: f64) {
        match self.buckets.iter_mut().find(|(bound, _)| *bound == bucket) {
            Some((_, count)) => *count += 1,
            None => self.buckets.push((bucket, 1)),
        }
    }
}

struct Group {
    labels: Vec<(String, AttrValue)>,
    cells: Vec<Cell>,
}

impl Query {
    /// Evaluates a TraceQL metrics query over the traces for `[start_ns, end_ns]` in steps of `step_ns`. Series
    /// come out sorted by labels.
    pub fn evaluate_metrics<'t>(
        &self,
        traces: impl IntoIterator<Item = &'t Trace>,
        start_ns: u64,
        end_ns: u64,
        step_ns: u64,
    ) -> Result<Vec<MetricSeries>, EvalError> {
        self.evaluate_metrics_over(traces, Intervals::new(start_ns, end_ns, step_ns)?)
    }

    /// Evaluates a TraceQL metrics query as one value per series over exactly `(start_ns, end_ns]` (Tempo's
    /// instant queries, `/api/metrics/query`); each series has one timestamp, `end_ns`.
    pub fn evaluate_metrics_instant<'t>(
        &self,
        traces: impl IntoIterator<Item = &'t Trace>,
        start_ns: u64,
        end_ns: u64,
    ) -> Result<Vec<MetricSeries>, EvalError> {
        self.evaluate_metrics_over(traces, Intervals::instant(start_ns, end_ns)?)
    }

    fn evaluate_metrics_over<'t>(
        &self,
        traces: impl IntoIterator<Item = &'t Trace>,
        intervals: Intervals,
    ) -> Result<Vec<MetricSeries>, EvalError> {
        let RootExpr::Metrics(metrics) = &self.expr else {
            return Err(EvalError::NotMetrics(self.to_string()));
        };
        let mut groups: Vec<Group> = Vec::new();
        let mut group_by_key: HashMap<String, usize> = HashMap::new();
        let mut key = String::new();
        for trace in traces {
            let context = TraceContext::new(trace);
            let spansets = evaluate_pipeline_on_trace(&metrics.pipeline, &context)?;
            if spansets.is_empty() {
                continue;
            }
            let mut seen = vec![false; trace.spans.len()];
            for &index in spansets.iter().flat_map(|spanset| &spanset.spans) {
                if std::mem::replace(&mut seen[index], true) {
                    continue;
                }
                let Some(interval) = intervals.of(trace.spans[index].start_ns) else { continue };
                let span_context = SpanContext::plain(&context, index);
                let Some(observation) = observe_value(&metrics.aggregation.function, &span_context) else { continue };
                let position =
                    group_position(metrics, &span_context, &mut key, &mut group_by_key, &mut groups, intervals.count);
                let cell = &mut groups[position].cells[interval];
                match observation {
                    Observation::Value(value) => cell.observe(value),
                    Observation::Bucket(bucket) => cell.observe_bucket(bucket),
                }
            }
        }
        if groups.is_empty() {
            return Ok(Vec::new());
        }
        let timestamps = intervals.timestamps();
        let step_seconds = intervals.step_ns as f64 / 1e9;
        let mut series = finish(&metrics.aggregation.function, groups, &timestamps, step_seconds);
        for stage in &metrics.second_stage {
            series = apply_second_stage(stage, series);
        }
        series.sort_by_cached_key(|series| label_text(&series.labels));
        Ok(series)
    }
}

enum Observation {
    Value(f64),
    Bucket(f64),
}

/// What a span contributes: 1 for counts, the attribute's value (durations in seconds), or its bucket.
fn observe_value<'a>(function: &'a MetricsFunction, context: &SpanContext<'a, '_>) -> Option<Observation> {
    let attribute = match function {
        MetricsFunction::Rate | MetricsFunction::CountOverTime => return Some(Observation::Value(1.0)),
        other => other.attribute()?,
    };
    let value = attribute_value(attribute, context);
    match function {
        MetricsFunction::QuantileOverTime(..) | MetricsFunction::HistogramOverTime(_) => {
            bucket_of(value).map(Observation::Bucket)
        }
        _ => match value {
            Value::Duration(nanos) => Some(Observation::Value(nanos as f64 / 1e9)),
            Value::Int(_) | Value::Float(_) => value.as_f64().map(Observation::Value),
            _ => None,
        },
    }
}

/// Tempo's bucketing: integers and durations round up to a power of two (durations then in seconds); values
/// below 2 and non-integers are not bucketed.
fn bucket_of(value: Value<'_>) -> Option<f64> {
    let (magnitude, is_duration) = match value {
        Value::Duration(nanos) => (u64::try_from(nanos).ok()?, true),
        Value::Int(integer) => (u64::try_from(integer).ok()?, false),
        _ => return None,
    };
    if magnitude < 2 {
        return None;
    }
    let bound = (1u128 << (128 - u128::from(magnitude - 1).leading_zeros())) as f64;
    Some(if is_duration { bound / 1e9 } else { bound })
}

/// The group of the span's `by` values, created on first sight. The key is built in a reused buffer.
fn group_position<'a>(
    metrics: &'a MetricsQuery,
    context: &SpanContext<'a, '_>,
    key: &mut String,
    group_by_key: &mut HashMap<String, usize>,
    groups: &mut Vec<Group>,
    interval_count: usize,
) -> usize {
    let by = &metrics.aggregation.by;
    key.clear();
    for attribute in by {
        write_key_part(key, attribute_value(attribute, context));
    }
    if let Some(&position) = group_by_key.get(key.as_str()) {
        return position;
    }
    let labels = if by.is_empty() {
        vec![("__name__".to_string(), AttrValue::Str(metrics.aggregation.function.name().to_string()))]
    } else {
        let mut labels: Vec<(String, AttrValue)> = by
            .iter()
            .filter_map(|attribute| {
                let value = attribute_value(attribute, context).to_attr_value()?;
                Some((attribute.to_string(), value))
            })
            .collect();
        if labels.is_empty() {
            labels.push((by[0].to_string(), AttrValue::Str("nil".to_string())));
        }
        labels
    };
    groups.push(Group { labels, cells: vec![Cell::default(); interval_count] });
    group_by_key.insert(key.clone(), groups.len() - 1);
    groups.len() - 1
}

/// A type-tagged rendering of a value, so `1` and `"1"` are different groups.
fn write_key_part(key: &mut String, value: Value<'_>) {
    let _ = match value {
        Value::Nil => write!(key, "n|"),
        Value::Bool(value) => write!(key, "b{value}|"),
        Value::Int(value) => write!(key, "i{value}|"),
        Value::Float(value) => write!(key, "f{}|", value.to_bits()),
        Value::Str(text) => write!(key, "s{}:{text}|", text.len()),
        Value::Duration(value) => write!(key, "d{value}|"),
        Value::Status(status) => write!(key, "t{}|", status.name()),
        Value::Kind(kind) => write!(key, "k{}|", kind.name()),
        Value::Id(bytes) => write!(key, "x{bytes:?}|"),
        Value::Array(values) => {
            let text = AttrValue::Array(values.to_vec()).to_text();
            write!(key, "a{}:{text}|", text.len())
        }
    };
}

fn finish(function: &MetricsFunction, groups: Vec<Group>, timestamps: &[u64], step_seconds: f64) -> Vec<MetricSeries> {
    let series = |labels: Vec<(String, AttrValue)>, values: Vec<f64>| MetricSeries {
        labels,
        timestamps_ns: timestamps.to_vec(),
        values,
    };
    let mut output = Vec::new();
    for group in groups {
        let cells = &group.cells;
        let per_cell = |value: fn(&Cell) -> f64| cells.iter().map(value).collect::<Vec<f64>>();
        match function {
            MetricsFunction::Rate => {
                output.push(series(group.labels, cells.iter().map(|cell| cell.count as f64 / step_seconds).collect()))
            }
            MetricsFunction::CountOverTime => output.push(series(group.labels, per_cell(|cell| cell.count as f64))),
            MetricsFunction::MinOverTime(_) => {
                output.push(series(group.labels, per_cell(|cell| nan_if_empty(cell, cell.min))))
            }
            MetricsFunction::MaxOverTime(_) => {
                output.push(series(group.labels, per_cell(|cell| nan_if_empty(cell, cell.max))))
            }
            MetricsFunction::SumOverTime(_) => {
                output.push(series(group.labels, per_cell(|cell| nan_if_empty(cell, cell.sum))))
            }
            MetricsFunction::AvgOverTime(_) => {
                output.push(series(group.labels, per_cell(|cell| nan_if_empty(cell, cell.sum / cell.count as f64))))
            }
            MetricsFunction::QuantileOverTime(_, quantiles) => {
                let sorted: Vec<Vec<(f64, u64)>> = cells
                    .iter()
                    .map(|cell| {
                        let mut buckets = cell.buckets.clone();
                        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
                        buckets
                    })
                    .collect();
                for &quantile in quantiles {
                    let mut labels = group.labels.clone();
                    labels.push(("p".to_string(), AttrValue::Double(quantile)));
                    let values = sorted.iter().map(|buckets| log2_quantile(quantile, buckets)).collect();
                    output.push(series(labels, values));
                }
            }
            MetricsFunction::HistogramOverTime(_) => {
                let mut bounds: Vec<f64> =
                    cells.iter().flat_map(|cell| cell.buckets.iter().map(|(bound, _)| *bound)).collect();
                bounds.sort_by(f64::total_cmp);
                bounds.dedup();
                for bound in bounds {
                    let mut labels = group.labels.clone();
                    labels.push(("__bucket".to_string(), AttrValue::Double(bound)));
                    let values = cells
                        .iter()
                        .map(|cell| {
                            cell.buckets
                                .iter()
                                .find(|(b, _)| *b == bound)
                                .map(|(_, count)| *count as f64)
                                .unwrap_or(0.0)
                        })
                        .collect();
                    output.push(series(labels, values));
                }
            }
        }
    }
    output
}

fn nan_if_empty(cell: &Cell, value: f64) -> f64 {
    if cell.count == 0 { f64::NAN } else { value }
}

/// Tempo's `Log2Quantile`: find the bucket holding the p-th sample (rounding the sample count up) and interpolate
/// exponentially between the previous bucket's bound and this one's. 0 when there are no samples.
pub(crate) fn log2_quantile(quantile: f64, buckets: &[(f64, u64)]) -> f64 {
    if quantile.is_nan() || !(0.0..=1.0).contains(&quantile) || buckets.is_empty() {
        return 0.0;
    }
    let total: u64 = buckets.iter().map(|(_, count)| count).sum();
    if total == 0 {
        return 0.0;
    }
    let wanted = ((quantile * total as f64).ceil() as u64).max(1);
    let mut consumed = 0;
    let mut bucket = 0;
    for (position, (bound, count)) in buckets.iter().enumerate() {
        bucket = position;
        if consumed + count > wanted {
            break;
        }
        consumed += count;
        if consumed == wanted {
            return *bound;
        }
    }
    let fraction = (wanted - consumed) as f64 / buckets[bucket].1 as f64;
    let upper = buckets[bucket].0.log2();
    let lower = if bucket > 0 { buckets[bucket - 1].0.log2() } else { upper - 1.0 };
    2f64.powf(lower + (upper - lower) * fraction)
}

fn apply_second_stage(stage: &SecondStage, series: Vec<MetricSeries>) -> Vec<MetricSeries> {
    match stage {
        SecondStage::Filter(op, threshold) => series
            .into_iter()
            .filter_map(|mut series| {
                for value in &mut series.values {
                    if value.is_nan() || !op.compare_f64(*value, *threshold) {
                        *value = f64::NAN;
                    }
                }
                series.values.iter().any(|value| !value.is_nan()).then_some(series)
            })
            .collect(),
        SecondStage::TopK(limit) => top_k(series, *limit as usize, true),
        SecondStage::BottomK(limit) => top_k(series, *limit as usize, false),
    }
}

/// At each step keeps the `limit` highest (or lowest) values; ties go to the series with the smaller labels.
fn top_k(series: Vec<MetricSeries>, limit: usize, highest: bool) -> Vec<MetricSeries> {
    let steps = series.first().map(|series| series.values.len()).unwrap_or(0);
    let label_texts: Vec<String> = series.iter().map(|series| label_text(&series.labels)).collect();
    let mut kept: Vec<Option<Vec<f64>>> = vec![None; series.len()];
    for step in 0..steps {
        let mut candidates: Vec<usize> =
            (0..series.len()).filter(|&position| !series[position].values[step].is_nan()).collect();
        candidates.sort_by(|&a, &b| {
            let (left, right) = (series[a].values[step], series[b].values[step]);
            let by_value = if highest { right.total_cmp(&left) } else { left.total_cmp(&right) };
            by_value.then_with(|| label_texts[a].cmp(&label_texts[b]))
        });
        for &position in candidates.iter().take(limit) {
            let values = kept[position].get_or_insert_with(|| vec![f64::NAN; steps]);
            values[step] = series[position].values[step];
        }
    }
    series
        .into_iter()
        .zip(kept)
        .filter_map(|(mut series, values)| {
            series.values = values?;
            Some(series)
        })
        .collect()
}

fn label_text(labels: &[(String, AttrValue)]) -> String {
    labels.iter().map(|(name, value)| format!("{name}={}", value.to_text())).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_between_power_of_two_buckets() {
        let f = |quantile: f64, buckets: &[(f64, u64)], want: f64| {
            let got = log2_quantile(quantile, buckets);
            assert!((got - want).abs() < 1e-9, "p{quantile} of {buckets:?}: {got} != {want}");
        };
        // the p-th sample falls inside the first bucket: halfway (in log2) between 0.5 and 1
        f(0.25, &[(1.0, 2), (2.0, 2)], 2f64.powf(-0.5));
        f(0.5, &[(1.0, 2), (2.0, 2)], 1.0);
        f(0.75, &[(1.0, 2), (2.0, 2)], 2f64.powf(0.5));
        f(1.0, &[(1.0, 2), (2.0, 2)], 2.0);
        f(0.0, &[(4.0, 1)], 4.0);
        f(0.5, &[], 0.0);
        f(1.5, &[(4.0, 1)], 0.0);
    }

    #[test]
    fn intervals_are_right_closed_and_aligned() {
        let intervals = Intervals::new(15, 40, 10).unwrap();
        assert_eq!((intervals.start_ns, intervals.count), (10, 3));
        assert_eq!(intervals.timestamps(), vec![20, 30, 40]);
        assert_eq!(intervals.of(10), None);
        assert_eq!(intervals.of(11), Some(0));
        assert_eq!(intervals.of(20), Some(0));
        assert_eq!(intervals.of(21), Some(1));
        assert_eq!(intervals.of(40), Some(2));
        assert_eq!(intervals.of(41), None);
    }

    #[test]
    fn buckets_round_up_to_powers_of_two() {
        assert_eq!(bucket_of(Value::Int(5)), Some(8.0));
        assert_eq!(bucket_of(Value::Int(8)), Some(8.0));
        assert_eq!(bucket_of(Value::Int(1)), None);
        assert_eq!(bucket_of(Value::Duration(1_000_000_000)), Some(1.073741824));
        assert_eq!(bucket_of(Value::Float(3.0)), None);
    }
}
