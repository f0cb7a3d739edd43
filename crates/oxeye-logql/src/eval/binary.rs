//! Binary operators with Loki's semantics (`MergeBinOp`, `vectorBinop`, `vectorAnd/Or/Unless`):
//! - arithmetic keeps the left side's labels (no metric name to drop in LogQL); `/` and `%` by zero give NaN;
//! - comparisons without `bool` filter, keeping the vector side's value; with `bool` they give 0 or 1;
//! - vector matching uses all labels, `on (…)` or `ignoring (…)`; one-to-one results keep only the `on` labels (or
//!   drop the ignored ones); `group_left`/`group_right` copy the listed labels from the "one" side;
//! - duplicate or ambiguous matches fail with Loki's messages.

use std::collections::{HashMap, HashSet};

use oxeye_model::{Label, Labels};

use super::{Evaluated, Evaluation, Series};
use crate::error::QueryError;
use crate::parser::ast::{BinaryExpr, BinaryModifiers, BinaryOp, Cardinality};

/// Loki's `MergeBinOp` on two scalars without filtering: comparisons give 0 or 1, division and modulo by zero give
/// NaN (not ±Inf as in Prometheus).
pub(crate) fn scalar_binary(op: BinaryOp, lhs: f64, rhs: f64) -> f64 {
    let truth = |condition: bool| if condition { 1.0 } else { 0.0 };
    match op {
        BinaryOp::Add => lhs + rhs,
        BinaryOp::Sub => lhs - rhs,
        BinaryOp::Mul => lhs * rhs,
        BinaryOp::Div if rhs == 0.0 => f64::NAN,
        BinaryOp::Div => lhs / rhs,
        BinaryOp::Mod if rhs == 0.0 => f64::NAN,
        BinaryOp::Mod => lhs % rhs,
        BinaryOp::Pow => lhs.powf(rhs),
        BinaryOp::CmpEq => truth(lhs == rhs),
        BinaryOp::Neq => truth(lhs != rhs),
        BinaryOp::Gt => truth(lhs > rhs),
        BinaryOp::Gte => truth(lhs >= rhs),
        BinaryOp::Lt => truth(lhs < rhs),
        BinaryOp::Lte => truth(lhs <= rhs),
        BinaryOp::Or | BinaryOp::And | BinaryOp::Unless => f64::NAN,
    }
}

/// A vector element combined with a matching element (or a scalar): the result value, `None` when a comparison
/// without `bool` filters it out. `vector_value` is the value a filtering comparison keeps.
fn merge(op: BinaryOp, lhs: f64, rhs: f64, return_bool: bool, vector_value: f64) -> Option<f64> {
    let value = scalar_binary(op, lhs, rhs);
    if op.is_comparison() && !return_bool {
        return (value == 1.0).then_some(vector_value);
    }
    Some(value)
}

/// The labels two samples are matched on.
fn signature(labels: &Labels, modifiers: &BinaryModifiers) -> Labels {
    let listed = |name: &str| modifiers.matching_labels.iter().any(|label| label == name);
    let kept: Vec<Label> = labels
        .iter()
        .filter(|label| if modifiers.on { listed(&label.name) } else { !listed(&label.name) })
        .cloned()
        .collect();
    Labels::from_sorted_unchecked(kept)
}

/// Loki's `resultMetric`.
fn result_labels(lhs: &Labels, rhs: &Labels, modifiers: &BinaryModifiers) -> Labels {
    let listed = |name: &str| modifiers.matching_labels.iter().any(|label| label == name);
    let mut pairs: Vec<(&str, &str)> = lhs
        .iter()
        .filter(|label| {
            modifiers.cardinality != Cardinality::OneToOne
                || if modifiers.on { listed(&label.name) } else { !listed(&label.name) }
        })
        .map(|label| (label.name.as_str(), label.value.as_str()))
        .collect();
    for name in &modifiers.include {
        pairs.retain(|(existing, _)| existing != name);
        if let Some(value) = rhs.get(name) {
            pairs.push((name, value));
        }
    }
    super::labels_from(&mut pairs)
}

/// Collects results step by step into series keyed by labels.
struct Collector {
    series: Vec<Series>,
    index_of: HashMap<Labels, usize>,
    steps: usize,
}

impl Collector {
    fn new(steps: usize) -> Self {
        Collector { series: Vec::new(), index_of: HashMap::new(), steps }
    }

    fn put(&mut self, labels: &Labels, step: usize, value: f64) {
        let index = match self.index_of.get(labels) {
            Some(&index) => index,
            None => {
                self.index_of.insert(labels.clone(), self.series.len());
                self.series.push(Series { labels: labels.clone(), values: vec![None; self.steps] });
                self.series.len() - 1
            }
        };
        self.series[index].values[step] = Some(value);
    }
}

impl Evaluation<'_> {
    pub(crate) fn binary(&mut self, binary: &BinaryExpr) -> Result<Evaluated, QueryError> {
        let lhs = self.evaluate(&binary.lhs)?;
        let rhs = self.evaluate(&binary.rhs)?;
        let steps = self.grid.count;
        let modifiers = &binary.modifiers;
        Ok(match (lhs, rhs) {
            (Evaluated::Scalar(lhs), Evaluated::Scalar(rhs)) => Evaluated::Scalar(scalar_binary(binary.op, lhs, rhs)),
            (Evaluated::Vector(vector), Evaluated::Scalar(scalar)) => {
                Evaluated::Vector(with_scalar(binary.op, vector, scalar, false, modifiers.return_bool))
            }
            (Evaluated::Scalar(scalar), Evaluated::Vector(vector)) => {
                Evaluated::Vector(with_scalar(binary.op, vector, scalar, true, modifiers.return_bool))
            }
            (Evaluated::Vector(lhs), Evaluated::Vector(rhs)) => {
                Evaluated::Vector(vectors(binary.op, modifiers, &lhs, &rhs, steps)?)
            }
        })
    }
}

fn with_scalar(op: BinaryOp, vector: Vec<Series>, scalar: f64, scalar_left: bool, return_bool: bool) -> Vec<Series> {
    let mut output = Vec::with_capacity(vector.len());
    for series in vector {
        let values = series
            .values
            .iter()
            .map(|value| {
                let value = (*value)?;
                let (lhs, rhs) = if scalar_left { (scalar, value) } else { (value, scalar) };
                merge(op, lhs, rhs, return_bool, value)
            })
            .collect::<Vec<_>>();
        if values.iter().any(Option::is_some) {
            output.push(Series { labels: series.labels, values });
        }
    }
    output
}

fn vectors(
    op: BinaryOp,
    modifiers: &BinaryModifiers,
    lhs: &[Series],
    rhs: &[Series],
    steps: usize,
) -> Result<Vec<Series>, QueryError> {
    let lhs_signatures: Vec<Labels> = lhs.iter().map(|series| signature(&series.labels, modifiers)).collect();
    let rhs_signatures: Vec<Labels> = rhs.iter().map(|series| signature(&series.labels, modifiers)).collect();
    let mut collector = Collector::new(steps);
    let present = |series: &[Series], step: usize| -> Vec<usize> {
        (0..series.len()).filter(|index| series[*index].values[step].is_some()).collect()
    };
    for step in 0..steps {
        let left = present(lhs, step);
        let right = present(rhs, step);
        match op {
            BinaryOp::And => {
                if left.is_empty() || right.is_empty() {
                    continue;
                }
                let right_set: HashSet<&Labels> = right.iter().map(|index| &rhs_signatures[*index]).collect();
                for index in left.iter().filter(|index| right_set.contains(&lhs_signatures[**index])) {
                    collector.put(&lhs[*index].labels, step, lhs[*index].values[step].unwrap_or(f64::NAN));
                }
            }
            BinaryOp::Or => {
                let left_set: HashSet<&Labels> = left.iter().map(|index| &lhs_signatures[*index]).collect();
                for index in &left {
                    collector.put(&lhs[*index].labels, step, lhs[*index].values[step].unwrap_or(f64::NAN));
                }
                for index in
                    right.iter().filter(|index| left.is_empty() || !left_set.contains(&rhs_signatures[**index]))
                {
                    collector.put(&rhs[*index].labels, step, rhs[*index].values[step].unwrap_or(f64::NAN));
                }
            }
            BinaryOp::Unless => {
                let right_set: HashSet<&Labels> = right.iter().map(|index| &rhs_signatures[*index]).collect();
                for index in
                    left.iter().filter(|index| right.is_empty() || !right_set.contains(&lhs_signatures[**index]))
                {
                    collector.put(&lhs[*index].labels, step, lhs[*index].values[step].unwrap_or(f64::NAN));
                }
            }
            _ => match_step(
                op,
                modifiers,
                (lhs, &lhs_signatures, &left),
                (rhs, &rhs_signatures, &right),
                step,
                &mut collector,
            )?,
        }
    }
    Ok(collector.series)
}

type Side<'a> = (&'a [Series], &'a [Labels], &'a [usize]);

/// Loki's `vectorBinop` for one step.
fn match_step(
    op: BinaryOp,
    modifiers: &BinaryModifiers,
    lhs: Side<'_>,
    rhs: Side<'_>,
    step: usize,
    collector: &mut Collector,
) -> Result<(), QueryError> {
    let one_to_many = modifiers.cardinality == Cardinality::OneToMany;
    // For group_right the "one" side is the left one: swap so that `one` is always indexed by signature.
    let (many, one) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };
    let mut one_by_signature: HashMap<&Labels, usize> = HashMap::new();
    for index in one.2 {
        if one_by_signature.insert(&one.1[*index], *index).is_some() {
            let side = if one_to_many { "left" } else { "right" };
            return Err(QueryError::Execution(format!(
                "found duplicate series on the {side} hand-side;many-to-many matching not allowed: matching labels must be unique on one side"
            )));
        }
    }
    let mut matched: HashMap<&Labels, HashSet<Labels>> = HashMap::new();
    for index in many.2 {
        let signature = &many.1[*index];
        let Some(&one_index) = one_by_signature.get(signature) else { continue };
        let many_series = &many.0[*index];
        let one_series = &one.0[one_index];
        let labels = result_labels(&many_series.labels, &one_series.labels, modifiers);
        if modifiers.cardinality == Cardinality::OneToOne {
            if matched.insert(signature, HashSet::new()).is_some() {
                return Err(QueryError::Execution(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
                        .into(),
                ));
            }
        } else if !matched.entry(signature).or_default().insert(labels.clone()) {
            return Err(QueryError::Execution(
                "multiple matches for labels: grouping labels must ensure unique matches".into(),
            ));
        }
        let many_value = many_series.values[step].unwrap_or(f64::NAN);
        let one_value = one_series.values[step].unwrap_or(f64::NAN);
        let (left_value, right_value) = if one_to_many { (one_value, many_value) } else { (many_value, one_value) };
        if let Some(value) = merge(op, left_value, right_value, modifiers.return_bool, left_value) {
            collector.put(&labels, step, value);
        }
    }
    Ok(())
}
