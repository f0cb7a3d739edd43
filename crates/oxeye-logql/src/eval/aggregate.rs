//! Vector aggregations (Loki's `VectorAggEvaluator`), `label_replace`, and the ordering of sorted instant results.
//!
//! Groups are formed once per series (labels do not change between steps); each step aggregates the members
//! present at that step. `sum`, `avg`, `min`, `max`, `count`, `stddev`, `stdvar` produce one series per group;
//! `topk`, `bottomk`, `sort`, `sort_desc` keep the input series. Loki sums plainly (no Kahan compensation) and
//! takes the population variance.

use std::collections::HashMap;

use oxeye_model::{Label, Labels};
use regex::Regex;

use super::{Evaluated, Evaluation, Series, VectorSample};
use crate::error::QueryError;
use crate::parser::ast::{Grouping, LabelReplace, RangeOp, SampleExpr, VectorAggregation, VectorOp};

/// The labels a series keeps in its group.
fn group_labels(labels: &Labels, grouping: &Grouping) -> Labels {
    let listed = |name: &str| grouping.labels.iter().any(|label| label == name);
    let kept: Vec<Label> =
        labels
            .iter()
            .filter(|label| {
                if grouping.without { !listed(&label.name) && label.name != "__name__" } else { listed(&label.name) }
            })
            .cloned()
            .collect();
    Labels::from_sorted_unchecked(kept)
}

#[derive(Default, Clone, Copy)]
struct Accumulator {
    value: f64,
    mean: f64,
    count: usize,
}

impl Evaluation<'_> {
    pub(crate) fn vector_aggregation(&mut self, aggregation: &VectorAggregation) -> Result<Evaluated, QueryError> {
        let inner = match aggregation.expr.as_ref() {
            // Loki pushes a `sum`'s grouping into these range aggregations so they keep fewer labels.
            SampleExpr::RangeAggregation(range)
                if aggregation.op == VectorOp::Sum
                    && range.grouping.is_none()
                    && matches!(
                        range.op,
                        RangeOp::BytesOverTime
                            | RangeOp::BytesRate
                            | RangeOp::SumOverTime
                            | RangeOp::Rate
                            | RangeOp::CountOverTime
                    ) =>
            {
                self.range_aggregation(range, Some(&aggregation.grouping))?
            }
            other => match self.evaluate(other)? {
                Evaluated::Vector(series) => series,
                // Loki's grammar allows `sum(1)`; a literal has no series to aggregate.
                Evaluated::Scalar(value) => {
                    vec![Series { labels: Labels::empty(), values: vec![Some(value); self.grid.count] }]
                }
            },
        };
        Ok(Evaluated::Vector(aggregate(aggregation, inner, self.grid.count)))
    }
}

fn aggregate(aggregation: &VectorAggregation, input: Vec<Series>, steps: usize) -> Vec<Series> {
    let mut group_of: Vec<usize> = Vec::with_capacity(input.len());
    let mut groups: Vec<Labels> = Vec::new();
    let mut index_of: HashMap<Labels, usize> = HashMap::new();
    for series in &input {
        let labels = group_labels(&series.labels, &aggregation.grouping);
        let index = *index_of.entry(labels.clone()).or_insert_with(|| {
            groups.push(labels);
            groups.len() - 1
        });
        group_of.push(index);
    }
    match aggregation.op {
        VectorOp::Topk | VectorOp::Bottomk | VectorOp::Sort | VectorOp::SortDesc => {
            select(aggregation, input, &group_of, groups.len(), steps)
        }
        _ => reduce(aggregation.op, &input, &group_of, groups, steps),
    }
}

fn reduce(op: VectorOp, input: &[Series], group_of: &[usize], groups: Vec<Labels>, steps: usize) -> Vec<Series> {
    let mut output: Vec<Series> =
        groups.into_iter().map(|labels| Series { labels, values: vec![None; steps] }).collect();
    let mut accumulators = vec![Accumulator::default(); output.len()];
    for step in 0..steps {
        accumulators.iter_mut().for_each(|accumulator| *accumulator = Accumulator::default());
        for (series, group) in input.iter().zip(group_of) {
            let Some(value) = series.values[step] else { continue };
            let accumulator = &mut accumulators[*group];
            if accumulator.count == 0 {
                *accumulator = Accumulator { value, mean: value, count: 1 };
                if matches!(op, VectorOp::Stddev | VectorOp::Stdvar) {
                    accumulator.value = 0.0;
                }
                continue;
            }
            accumulator.count += 1;
            match op {
                VectorOp::Sum => accumulator.value += value,
                VectorOp::Avg => {
                    let mean = accumulator.mean;
                    let unchanged = mean.is_infinite()
                        && ((value.is_infinite() && (mean > 0.0) == (value > 0.0))
                            || (!value.is_infinite() && !value.is_nan()));
                    if !unchanged {
                        accumulator.mean += (value - mean) / accumulator.count as f64;
                    }
                }
                VectorOp::Max => {
                    if accumulator.value < value || accumulator.value.is_nan() {
                        accumulator.value = value;
                    }
                }
                VectorOp::Min => {
                    if accumulator.value > value || accumulator.value.is_nan() {
                        accumulator.value = value;
                    }
                }
                VectorOp::Stddev | VectorOp::Stdvar => {
                    let delta = value - accumulator.mean;
                    accumulator.mean += delta / accumulator.count as f64;
                    accumulator.value += delta * (value - accumulator.mean);
                }
                VectorOp::Count | VectorOp::Topk | VectorOp::Bottomk | VectorOp::Sort | VectorOp::SortDesc => {}
            }
        }
        for (accumulator, series) in accumulators.iter().zip(output.iter_mut()) {
            if accumulator.count == 0 {
                continue;
            }
            let count = accumulator.count as f64;
            series.values[step] = Some(match op {
                VectorOp::Avg => accumulator.mean,
                VectorOp::Count => count,
                VectorOp::Stddev => (accumulator.value / count).sqrt(),
                VectorOp::Stdvar => accumulator.value / count,
                _ => accumulator.value,
            });
        }
    }
    output
}

/// `topk`/`bottomk` (the k largest/smallest per group and step, NaN counting as the smallest for `topk` and the
/// largest for `bottomk`, as Loki's heaps do) and `sort`/`sort_desc` (every series; the order matters only for
/// instant queries, see [`sort_by_value`]).
fn select(
    aggregation: &VectorAggregation,
    input: Vec<Series>,
    group_of: &[usize],
    groups: usize,
    steps: usize,
) -> Vec<Series> {
    let keep_all = matches!(aggregation.op, VectorOp::Sort | VectorOp::SortDesc);
    let k = aggregation.param.unwrap_or(0).max(0) as usize;
    let largest = aggregation.op == VectorOp::Topk;
    let mut output: Vec<Series> =
        input.iter().map(|series| Series { labels: series.labels.clone(), values: vec![None; steps] }).collect();
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); groups];
    for step in 0..steps {
        members.iter_mut().for_each(Vec::clear);
        for (index, series) in input.iter().enumerate() {
            if series.values[step].is_some() {
                members[group_of[index]].push(index);
            }
        }
        for group in &mut members {
            if !keep_all {
                let value = |index: &usize| input[*index].values[step].unwrap_or(f64::NAN);
                group.sort_by(|a, b| {
                    let (a, b) = (value(a), value(b));
                    match (a.is_nan(), b.is_nan()) {
                        (true, true) => std::cmp::Ordering::Equal,
                        (true, false) => std::cmp::Ordering::Greater,
                        (false, true) => std::cmp::Ordering::Less,
                        (false, false) => {
                            if largest {
                                b.partial_cmp(&a).unwrap_or(std::cmp::Ordering::Equal)
                            } else {
                                a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal)
                            }
                        }
                    }
                });
                group.truncate(k);
            }
            for index in group.iter() {
                output[*index].values[step] = input[*index].values[step];
            }
        }
    }
    output.retain(|series| series.values.iter().any(Option::is_some));
    output
}

/// The direction of the outermost `sort`/`sort_desc` of an instant query (`Some(true)` for descending), if any:
/// Loki then keeps the evaluator's order instead of sorting the result by labels.
pub(crate) fn outer_sort(expr: &SampleExpr) -> Option<bool> {
    match expr {
        SampleExpr::VectorAggregation(aggregation) => match aggregation.op {
            VectorOp::Sort => Some(false),
            VectorOp::SortDesc => Some(true),
            _ => outer_sort(&aggregation.expr),
        },
        SampleExpr::Binary(binary) => outer_sort(&binary.lhs).or_else(|| outer_sort(&binary.rhs)),
        SampleExpr::LabelReplace(replace) => outer_sort(&replace.expr),
        _ => None,
    }
}

/// Orders an instant vector by value (NaN last), ties by labels.
pub(crate) fn sort_by_value(vector: &mut [VectorSample], descending: bool) {
    vector.sort_by(|a, b| {
        let by_value = match (a.value.is_nan(), b.value.is_nan()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            (false, false) if descending => b.value.partial_cmp(&a.value).unwrap_or(std::cmp::Ordering::Equal),
            (false, false) => a.value.partial_cmp(&b.value).unwrap_or(std::cmp::Ordering::Equal),
        };
        by_value.then_with(|| a.labels.cmp(&b.labels))
    });
}

/// `label_replace`: per series, if the anchored regex matches the source label's value, `dst` is set to the
/// expanded replacement (removed when empty). Series that end up with the same labels are merged.
pub(crate) fn label_replace(inner: Evaluated, replace: &LabelReplace, steps: usize) -> Evaluated {
    let series = match inner {
        Evaluated::Scalar(value) => return Evaluated::Scalar(value),
        Evaluated::Vector(series) => series,
    };
    let Ok(regex) = Regex::new(&format!("^(?:{})$", replace.regex)) else {
        return Evaluated::Vector(series);
    };
    let mut output: Vec<Series> = Vec::with_capacity(series.len());
    let mut index_of: HashMap<Labels, usize> = HashMap::new();
    for one in series {
        let source = one.labels.get(&replace.src).unwrap_or("");
        let labels = match regex.captures(source) {
            None => one.labels.clone(),
            Some(captures) => {
                let mut expanded = String::new();
                captures.expand(&replace.replacement, &mut expanded);
                let mut pairs: Vec<(&str, &str)> = one
                    .labels
                    .iter()
                    .filter(|label| label.name != replace.dst)
                    .map(|label| (label.name.as_str(), label.value.as_str()))
                    .collect();
                if !expanded.is_empty() {
                    pairs.push((&replace.dst, &expanded));
                }
                super::labels_from(&mut pairs)
            }
        };
        match index_of.get(&labels) {
            Some(&index) => {
                for (step, value) in one.values.into_iter().enumerate().take(steps) {
                    if value.is_some() {
                        output[index].values[step] = value;
                    }
                }
            }
            None => {
                index_of.insert(labels.clone(), output.len());
                output.push(Series { labels, values: one.values });
            }
        }
    }
    Evaluated::Vector(output)
}
