//! Pipeline stages that work on whole spansets: scalar filters over aggregates, `by()` and `coalesce()`.
//!
//! As in Tempo (`ast_execute.go`), an aggregate's value is attached to the spanset under the aggregate's text
//! (`count()`, `avg(duration)`), a group's value under `by(expr)`; `avg`, `min`, `max` and `sum` ignore spans where
//! the value is nil and drop the spanset when every value is.

use std::collections::HashMap;

use oxeye_model::AttrValue;

use crate::eval::SpansetBuf;
use crate::eval::value::{SpanContext, TraceContext, Value, binary, evaluate};
use crate::parser::ast::{Aggregate, AggregateFunction, FieldExpr, ScalarFilter};

/// Keeps the spansets whose aggregate compares true against the constant.
pub(crate) fn scalar_filter<'a>(
    filter: &'a ScalarFilter,
    input: Vec<SpansetBuf>,
    trace: &TraceContext<'a>,
) -> Vec<SpansetBuf> {
    let threshold = Value::from_static(&filter.value);
    let mut output = Vec::new();
    for mut spanset in input {
        let Some(value) = aggregate_value(&filter.aggregate, &spanset.spans, trace) else { continue };
        if !binary(filter.op.as_binary(), value, threshold).is_true() {
            continue;
        }
        if let Some(attribute) = value.to_attr_value() {
            spanset.attributes.push((filter.aggregate.to_string(), attribute));
        }
        output.push(spanset);
    }
    output
}

/// The aggregate over the spans; `None` when no span has a numeric value.
pub(crate) fn aggregate_value<'a>(
    aggregate: &'a Aggregate,
    spans: &[usize],
    trace: &TraceContext<'a>,
) -> Option<Value<'a>> {
    let Some(expr) = &aggregate.expr else {
        return Some(Value::Int(i64::try_from(spans.len()).unwrap_or(i64::MAX)));
    };
    let values = spans.iter().filter_map(|&index| numeric_value(expr, trace, index));
    match aggregate.function {
        AggregateFunction::Count => unreachable!("BUG: count() has no expression"),
        AggregateFunction::Min => values.min_by(|a, b| compare(a, b)),
        AggregateFunction::Max => values.max_by(|a, b| compare(a, b)),
        AggregateFunction::Sum => Sum::of(values).map(|sum| sum.total()),
        AggregateFunction::Avg => Sum::of(values).map(|sum| sum.mean()),
    }
}

fn numeric_value<'a>(expr: &'a FieldExpr, trace: &TraceContext<'a>, index: usize) -> Option<Value<'a>> {
    let value = evaluate(expr, &SpanContext::plain(trace, index));
    value.as_f64().filter(|number| !number.is_nan()).map(|_| value)
}

fn compare(a: &Value<'_>, b: &Value<'_>) -> std::cmp::Ordering {
    let left = a.as_f64().unwrap_or(f64::NAN);
    let right = b.as_f64().unwrap_or(f64::NAN);
    left.total_cmp(&right)
}

/// A running sum that keeps the values' type while they agree (ints stay ints, durations stay durations).
struct Sum {
    kind: SumKind,
    integer: i128,
    float: f64,
    count: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SumKind {
    Int,
    Duration,
    Float,
}

impl Sum {
    fn of<'a>(values: impl Iterator<Item = Value<'a>>) -> Option<Sum> {
        let mut sum: Option<Sum> = None;
        for value in values {
            let kind = match value {
                Value::Int(_) => SumKind::Int,
                Value::Duration(_) => SumKind::Duration,
                _ => SumKind::Float,
            };
            let running = sum.get_or_insert(Sum { kind, integer: 0, float: 0.0, count: 0 });
            if running.kind != kind {
                running.kind = SumKind::Float;
            }
            if let Value::Int(integer) | Value::Duration(integer) = value {
                running.integer += i128::from(integer);
            }
            running.float += value.as_f64().unwrap_or(0.0);
            running.count += 1;
        }
        sum
    }

    fn total<'a>(&self) -> Value<'a> {
        let integer = i64::try_from(self.integer);
        match (&self.kind, integer) {
            (SumKind::Int, Ok(integer)) => Value::Int(integer),
            (SumKind::Duration, Ok(integer)) => Value::Duration(integer),
            _ => Value::Float(self.float),
        }
    }

    /// Tempo has no integer division in averages (ints average to a float); durations stay durations.
    fn mean<'a>(&self) -> Value<'a> {
        let count = self.count.max(1);
        match self.kind {
            SumKind::Duration => Value::Duration((self.integer / count as i128) as i64),
            SumKind::Int => Value::Float(self.integer as f64 / count as f64),
            SumKind::Float => Value::Float(self.float / count as f64),
        }
    }
}

/// A hashable group key borrowed from the spans.
#[derive(PartialEq, Eq, Hash)]
enum GroupKey<'a> {
    Nil,
    Bool(bool),
    Int(i64),
    Float(u64),
    Str(&'a str),
    Duration(i64),
    Status(u8),
    Kind(u8),
    Id(&'a [u8]),
    Other(String),
}

impl<'a> GroupKey<'a> {
    fn of(value: &Value<'a>) -> Self {
        match value {
            Value::Nil => GroupKey::Nil,
            Value::Bool(value) => GroupKey::Bool(*value),
            Value::Int(value) => GroupKey::Int(*value),
            Value::Float(value) => GroupKey::Float(value.to_bits()),
            Value::Str(text) => GroupKey::Str(text),
            Value::Duration(value) => GroupKey::Duration(*value),
            Value::Status(status) => GroupKey::Status(*status as u8),
            Value::Kind(kind) => GroupKey::Kind(*kind as u8),
            Value::Id(bytes) => GroupKey::Id(bytes),
            Value::Array(values) => GroupKey::Other(AttrValue::Array(values.to_vec()).to_text()),
        }
    }
}

/// Splits each spanset into one per distinct value of `expr` (nil is a group too, labelled `nil` as Tempo labels
/// it). Groups come out ordered by their earliest span (Tempo's order is a map's, i.e. unspecified).
pub(crate) fn group<'a>(expr: &'a FieldExpr, input: Vec<SpansetBuf>, trace: &TraceContext<'a>) -> Vec<SpansetBuf> {
    let label = format!("by({expr})");
    let mut output = Vec::new();
    for spanset in input {
        let mut group_by_key: HashMap<GroupKey<'_>, usize> = HashMap::new();
        let first_group = output.len();
        for &index in &spanset.spans {
            let value = evaluate(expr, &SpanContext::plain(trace, index));
            let key = GroupKey::of(&value);
            let position = *group_by_key.entry(key).or_insert_with(|| {
                let mut attributes = spanset.attributes.clone();
                let shown = value.to_attr_value().unwrap_or_else(|| AttrValue::Str("nil".to_string()));
                attributes.push((label.clone(), shown));
                output.push(SpansetBuf { spans: Vec::new(), attributes });
                output.len() - 1
            });
            debug_assert!(position >= first_group);
            output[position].spans.push(index);
        }
        let start_of =
            |group: &SpansetBuf| group.spans.iter().map(|&index| (trace.trace.spans[index].start_ns, index)).min();
        output[first_group..].sort_by_cached_key(start_of);
    }
    output
}

/// Merges all spansets into one, without attributes (Tempo's `coalesce()`).
pub(crate) fn coalesce(input: Vec<SpansetBuf>) -> Vec<SpansetBuf> {
    let spans = input.into_iter().flat_map(|spanset| spanset.spans).collect();
    vec![SpansetBuf { spans, attributes: Vec::new() }]
}
