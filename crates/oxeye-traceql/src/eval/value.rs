//! Field expressions evaluated on one span, with Tempo's typing rules (`ast_execute.go`):
//!
//! - operands of different types compare false (a string attribute never equals `200`), except numbers, which
//!   compare across int, float and duration; a missing attribute (nil) makes every comparison false;
//! - int with int stays int (`/` truncates); anything else numeric computes in floats;
//! - an array attribute compared with a scalar matches if any element does, or for `!=` and `!~` if every element
//!   does (no element equals);
//! - ids (`span:id`, `trace:id`, `link:traceID`, …) compare as hex strings, ignoring leading zeros and case.
//!
//! Values borrow from the span and the query, so evaluating a span allocates nothing.

use std::cell::{OnceCell, RefCell};
use std::cmp::Ordering;

use oxeye_model::{AttrValue, Span, SpanEvent, SpanKind, SpanLink, StatusCode, Trace, find_attribute};

use crate::eval::structural::StructureIndex;
use crate::parser::ast::{Attribute, AttributeScope, BinaryOp, FieldExpr, Intrinsic, Static, UnaryOp, ValueType};
use crate::parser::format_duration;

/// A value during evaluation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Value<'a> {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
    /// Nanoseconds.
    Duration(i64),
    Status(StatusCode),
    Kind(SpanKind),
    /// A trace or span id; behaves as its hex string.
    Id(&'a [u8]),
    Array(&'a [AttrValue]),
}

impl<'a> Value<'a> {
    pub(crate) fn from_attribute(value: &'a AttrValue) -> Value<'a> {
        match value {
            AttrValue::Str(text) => Value::Str(text),
            AttrValue::Bool(value) => Value::Bool(*value),
            AttrValue::Int(value) => Value::Int(*value),
            AttrValue::Double(value) => Value::Float(*value),
            AttrValue::Array(values) => Value::Array(values),
            // Tempo has no TraceQL type for bytes or key-value lists.
            AttrValue::Bytes(_) | AttrValue::KvList(_) => Value::Nil,
        }
    }

    pub(crate) fn from_static(value: &'a Static) -> Value<'a> {
        match value {
            Static::Nil => Value::Nil,
            Static::Bool(value) => Value::Bool(*value),
            Static::Int(value) => Value::Int(*value),
            Static::Float(value) => Value::Float(*value),
            Static::Str(text) => Value::Str(text),
            Static::Duration(value) => Value::Duration(*value),
            Static::Status(status) => Value::Status(*status),
            Static::Kind(kind) => Value::Kind(*kind),
        }
    }

    fn value_type(&self) -> ValueType {
        match self {
            Value::Nil => ValueType::Nil,
            Value::Bool(_) => ValueType::Bool,
            Value::Int(_) => ValueType::Int,
            Value::Float(_) => ValueType::Float,
            Value::Str(_) | Value::Id(_) => ValueType::Str,
            Value::Duration(_) => ValueType::Duration,
            Value::Status(_) => ValueType::Status,
            Value::Kind(_) => ValueType::Kind,
            Value::Array(_) => ValueType::Attribute,
        }
    }

    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(value) => Some(*value as f64),
            Value::Float(value) => Some(*value),
            Value::Duration(value) => Some(*value as f64),
            _ => None,
        }
    }

    pub(crate) fn is_true(&self) -> bool {
        matches!(self, Value::Bool(true))
    }

    /// The value as Tempo reports it in search results (`Static.AsAnyValue`): durations, statuses, kinds and ids as
    /// strings. `None` for nil.
    pub(crate) fn to_attr_value(self) -> Option<AttrValue> {
        Some(match self {
            Value::Nil => return None,
            Value::Bool(value) => AttrValue::Bool(value),
            Value::Int(value) => AttrValue::Int(value),
            Value::Float(value) => AttrValue::Double(value),
            Value::Str(text) => AttrValue::Str(text.to_string()),
            Value::Duration(nanos) => AttrValue::Str(format_duration(nanos)),
            Value::Status(status) => AttrValue::Str(status.name().to_string()),
            Value::Kind(kind) => AttrValue::Str(kind.name().to_string()),
            Value::Id(bytes) => AttrValue::Str(bytes.iter().map(|byte| format!("{byte:02x}")).collect()),
            Value::Array(values) => AttrValue::Array(values.to_vec()),
        })
    }
}

/// Per-trace facts, computed on first use.
pub(crate) struct TraceContext<'a> {
    pub(crate) trace: &'a Trace,
    root: OnceCell<Option<&'a Span>>,
    duration_ns: OnceCell<i64>,
    structure: OnceCell<StructureIndex>,
    /// Per span, the event (link) through which an event-reading (link-reading) filter matched, so results report
    /// that event's values; `u32::MAX` when none. Allocated on the first such match.
    matched_event: RefCell<Vec<u32>>,
    matched_link: RefCell<Vec<u32>>,
}

const NO_BINDING: u32 = u32::MAX;

impl<'a> TraceContext<'a> {
    pub(crate) fn new(trace: &'a Trace) -> Self {
        Self {
            trace,
            root: OnceCell::new(),
            duration_ns: OnceCell::new(),
            structure: OnceCell::new(),
            matched_event: RefCell::new(Vec::new()),
            matched_link: RefCell::new(Vec::new()),
        }
    }

    /// Remembers the event and link a filter matched the span through (the first match wins).
    pub(crate) fn record_binding(&self, index: usize, event: Option<usize>, link: Option<usize>) {
        let record = |table: &RefCell<Vec<u32>>, position: Option<usize>| {
            let Some(position) = position else { return };
            let mut table = table.borrow_mut();
            if table.is_empty() {
                table.resize(self.trace.spans.len(), NO_BINDING);
            }
            if table[index] == NO_BINDING {
                table[index] = u32::try_from(position).unwrap_or(NO_BINDING);
            }
        };
        record(&self.matched_event, event);
        record(&self.matched_link, link);
    }

    /// The event a filter matched the span through, if any.
    pub(crate) fn matched_event(&self, index: usize) -> Option<&'a SpanEvent> {
        let position = *self.matched_event.borrow().get(index)?;
        self.trace.spans[index].events.get(position as usize)
    }

    /// The link a filter matched the span through, if any.
    pub(crate) fn matched_link(&self, index: usize) -> Option<&'a SpanLink> {
        let position = *self.matched_link.borrow().get(index)?;
        self.trace.spans[index].links.get(position as usize)
    }

    /// The root span: the earliest span without a parent. A fragment without one has no root, so `rootName` and
    /// `rootServiceName` are nil on it.
    fn root(&self) -> Option<&'a Span> {
        *self
            .root
            .get_or_init(|| self.trace.spans.iter().filter(|span| span.is_root()).min_by_key(|span| span.start_ns))
    }

    fn duration_ns(&self) -> i64 {
        *self.duration_ns.get_or_init(|| i64::try_from(self.trace.duration_ns()).unwrap_or(i64::MAX))
    }

    pub(crate) fn structure(&self) -> &StructureIndex {
        self.structure.get_or_init(|| StructureIndex::build(self.trace))
    }
}

/// One span under evaluation, with the event and link an event- or link-scoped expression is bound to.
pub(crate) struct SpanContext<'a, 't> {
    pub(crate) trace: &'t TraceContext<'a>,
    pub(crate) span: &'a Span,
    pub(crate) index: usize,
    pub(crate) event: Option<&'a SpanEvent>,
    pub(crate) link: Option<&'a SpanLink>,
    /// For unscoped attributes present on both the span and its resource: read the resource's value.
    pub(crate) resource_first: bool,
}

impl<'a, 't> SpanContext<'a, 't> {
    /// The span with its first event and first link bound (for aggregates and grouping).
    pub(crate) fn plain(trace: &'t TraceContext<'a>, index: usize) -> Self {
        let span = &trace.trace.spans[index];
        Self { trace, span, index, event: span.events.first(), link: span.links.first(), resource_first: false }
    }
}

/// The value of an attribute or intrinsic for the span.
pub(crate) fn attribute_value<'a>(attribute: &'a Attribute, context: &SpanContext<'a, '_>) -> Value<'a> {
    let span = context.span;
    let lookup = |attributes: &'a [oxeye_model::Attribute], name: &str| {
        find_attribute(attributes, name).map(Value::from_attribute).unwrap_or(Value::Nil)
    };
    match attribute {
        Attribute::Scoped { scope, name } => match scope {
            AttributeScope::Span => lookup(&span.attributes, name),
            AttributeScope::Resource => lookup(&span.resource.attributes, name),
            AttributeScope::Instrumentation => lookup(&span.scope.attributes, name),
            AttributeScope::Event => context.event.map(|event| lookup(&event.attributes, name)).unwrap_or(Value::Nil),
            AttributeScope::Link => context.link.map(|link| lookup(&link.attributes, name)).unwrap_or(Value::Nil),
            AttributeScope::Unscoped => {
                let (first, second) = if context.resource_first {
                    (&span.resource.attributes, &span.attributes)
                } else {
                    (&span.attributes, &span.resource.attributes)
                };
                match lookup(first, name) {
                    Value::Nil => lookup(second, name),
                    found => found,
                }
            }
        },
        Attribute::Intrinsic(intrinsic) => intrinsic_value(*intrinsic, context),
    }
}

fn intrinsic_value<'a>(intrinsic: Intrinsic, context: &SpanContext<'a, '_>) -> Value<'a> {
    let span = context.span;
    let non_empty = |text: &'a str| if text.is_empty() { Value::Nil } else { Value::Str(text) };
    match intrinsic {
        Intrinsic::Duration => Value::Duration(i64::try_from(span.duration_ns()).unwrap_or(i64::MAX)),
        Intrinsic::Name => Value::Str(&span.name),
        Intrinsic::Status => Value::Status(span.status_code),
        Intrinsic::StatusMessage => Value::Str(&span.status_message),
        Intrinsic::Kind => Value::Kind(span.kind),
        Intrinsic::ChildCount => Value::Int(i64::from(context.trace.structure().child_count(context.index))),
        Intrinsic::RootName => context.trace.root().map(|root| Value::Str(&root.name)).unwrap_or(Value::Nil),
        Intrinsic::RootService => {
            context.trace.root().map(|root| Value::Str(root.service_name())).unwrap_or(Value::Nil)
        }
        Intrinsic::TraceDuration => Value::Duration(context.trace.duration_ns()),
        Intrinsic::TraceId => Value::Id(&span.trace_id.0),
        Intrinsic::SpanId => Value::Id(&span.span_id.0),
        Intrinsic::ParentId => {
            if span.parent_span_id.is_zero() {
                Value::Nil
            } else {
                Value::Id(&span.parent_span_id.0)
            }
        }
        Intrinsic::EventName => context.event.map(|event| Value::Str(&event.name)).unwrap_or(Value::Nil),
        Intrinsic::EventTimeSinceStart => context
            .event
            .map(|event| {
                let offset = i128::from(event.time_ns) - i128::from(span.start_ns);
                Value::Duration(i64::try_from(offset).unwrap_or(i64::MAX))
            })
            .unwrap_or(Value::Nil),
        Intrinsic::LinkTraceId => context.link.map(|link| Value::Id(&link.trace_id.0)).unwrap_or(Value::Nil),
        Intrinsic::LinkSpanId => context.link.map(|link| Value::Id(&link.span_id.0)).unwrap_or(Value::Nil),
        Intrinsic::InstrumentationName => non_empty(&span.scope.name),
        Intrinsic::InstrumentationVersion => non_empty(&span.scope.version),
    }
}

/// Evaluates a field expression for the span.
pub(crate) fn evaluate<'a>(expr: &'a FieldExpr, context: &SpanContext<'a, '_>) -> Value<'a> {
    match expr {
        FieldExpr::Static(value) => Value::from_static(value),
        FieldExpr::Attribute(attribute) => attribute_value(attribute, context),
        FieldExpr::Binary { op, lhs, rhs } => {
            let left = evaluate(lhs, context);
            // Short-circuit as Tempo does.
            match (op, left) {
                (BinaryOp::And, Value::Bool(false)) => return Value::Bool(false),
                (BinaryOp::Or, Value::Bool(true)) => return Value::Bool(true),
                _ => {}
            }
            let right = evaluate(rhs, context);
            binary(*op, left, right)
        }
        FieldExpr::Regex { lhs, regex, negated } => {
            let matches_text = |value: &Value<'_>| with_text(value, |text| regex.is_match(text));
            match evaluate(lhs, context) {
                Value::Array(values) => {
                    let mut elements = values.iter().map(Value::from_attribute);
                    if *negated {
                        // `!~` on an array: no element may match (and every element must be a string).
                        Value::Bool(elements.all(|element| matches_text(&element) == Some(false)))
                    } else {
                        Value::Bool(elements.any(|element| matches_text(&element) == Some(true)))
                    }
                }
                value => match matches_text(&value) {
                    Some(matched) => Value::Bool(matched != *negated),
                    None => Value::Bool(false),
                },
            }
        }
        FieldExpr::Unary { op, expr } => {
            let value = evaluate(expr, context);
            match op {
                UnaryOp::Not => match value {
                    Value::Bool(value) => Value::Bool(!value),
                    _ => Value::Nil,
                },
                UnaryOp::Neg => match value {
                    Value::Int(value) => value.checked_neg().map(Value::Int).unwrap_or(Value::Nil),
                    Value::Float(value) => Value::Float(-value),
                    Value::Duration(value) => value.checked_neg().map(Value::Duration).unwrap_or(Value::Nil),
                    _ => Value::Nil,
                },
                UnaryOp::Exists => Value::Bool(value != Value::Nil),
                UnaryOp::NotExists => Value::Bool(value == Value::Nil),
            }
        }
    }
}

/// A binary operation on evaluated operands.
pub(crate) fn binary<'a>(op: BinaryOp, left: Value<'a>, right: Value<'a>) -> Value<'a> {
    match (left, right) {
        (Value::Array(_), Value::Array(_)) => Value::Bool(false),
        (Value::Array(values), scalar) => array_operation(op, values, scalar, true),
        (scalar, Value::Array(values)) => array_operation(op, values, scalar, false),
        _ => scalar_operation(op, left, right),
    }
}

fn array_operation<'a>(op: BinaryOp, values: &'a [AttrValue], scalar: Value<'a>, array_on_left: bool) -> Value<'a> {
    if !op.is_boolean() {
        return Value::Nil;
    }
    let element_result = |element: &'a AttrValue| {
        let element = Value::from_attribute(element);
        let result =
            if array_on_left { scalar_operation(op, element, scalar) } else { scalar_operation(op, scalar, element) };
        result.is_true()
    };
    // `!=` means "no element equals": every element must differ.
    if op == BinaryOp::Neq {
        Value::Bool(values.iter().all(element_result))
    } else {
        Value::Bool(values.iter().any(element_result))
    }
}

fn scalar_operation<'a>(op: BinaryOp, left: Value<'a>, right: Value<'a>) -> Value<'a> {
    let left_type = left.value_type();
    let right_type = right.value_type();
    if !left_type.matches(right_type) || !left_type.supports(op) || !right_type.supports(op) {
        return Value::Bool(false);
    }
    match (left, right) {
        (Value::Str(_) | Value::Id(_), Value::Str(_) | Value::Id(_)) => {
            let ordering = || compare_text(&left, &right);
            return match op {
                BinaryOp::Eq => Value::Bool(equals(left, right)),
                BinaryOp::Neq => Value::Bool(!equals(left, right)),
                BinaryOp::Gt => Value::Bool(ordering() == Ordering::Greater),
                BinaryOp::Gte => Value::Bool(ordering() != Ordering::Less),
                BinaryOp::Lt => Value::Bool(ordering() == Ordering::Less),
                BinaryOp::Lte => Value::Bool(ordering() != Ordering::Greater),
                _ => Value::Nil,
            };
        }
        (Value::Int(a), Value::Int(b)) => {
            let checked = |result: Option<i64>| result.map(Value::Int).unwrap_or(Value::Nil);
            return match op {
                BinaryOp::Add => checked(a.checked_add(b)),
                BinaryOp::Sub => checked(a.checked_sub(b)),
                BinaryOp::Mul => checked(a.checked_mul(b)),
                // Tempo fails the query on division by zero; here the expression is nil (false).
                BinaryOp::Div => checked(a.checked_div(b)),
                BinaryOp::Mod => checked(a.checked_rem(b)),
                BinaryOp::Pow => Value::Int((a as f64).powf(b as f64) as i64),
                BinaryOp::Eq => Value::Bool(a == b),
                BinaryOp::Neq => Value::Bool(a != b),
                BinaryOp::Gt => Value::Bool(a > b),
                BinaryOp::Gte => Value::Bool(a >= b),
                BinaryOp::Lt => Value::Bool(a < b),
                BinaryOp::Lte => Value::Bool(a <= b),
                BinaryOp::And | BinaryOp::Or => Value::Nil,
            };
        }
        (Value::Bool(a), Value::Bool(b)) => match op {
            BinaryOp::And => return Value::Bool(a && b),
            BinaryOp::Or => return Value::Bool(a || b),
            _ => {}
        },
        _ => {}
    }
    // Catch-all: numbers as floats, everything else through equality.
    let float_pair = || Some((left.as_f64()?, right.as_f64()?));
    let arithmetic = |compute: fn(f64, f64) -> f64| match float_pair() {
        Some((a, b)) => Value::Float(compute(a, b)),
        None => Value::Nil,
    };
    let comparison = |compare: fn(f64, f64) -> bool| match float_pair() {
        Some((a, b)) => Value::Bool(compare(a, b)),
        None => Value::Bool(false),
    };
    match op {
        BinaryOp::Add => arithmetic(|a, b| a + b),
        BinaryOp::Sub => arithmetic(|a, b| a - b),
        BinaryOp::Mul => arithmetic(|a, b| a * b),
        BinaryOp::Div => arithmetic(|a, b| a / b),
        BinaryOp::Mod => arithmetic(|a, b| a % b),
        BinaryOp::Pow => arithmetic(f64::powf),
        BinaryOp::Gt => comparison(|a, b| a > b),
        BinaryOp::Gte => comparison(|a, b| a >= b),
        BinaryOp::Lt => comparison(|a, b| a < b),
        BinaryOp::Lte => comparison(|a, b| a <= b),
        BinaryOp::Eq => Value::Bool(equals(left, right)),
        // Tempo's `NotEquals`: false when either side is nil.
        BinaryOp::Neq => Value::Bool(left != Value::Nil && right != Value::Nil && !equals(left, right)),
        BinaryOp::And | BinaryOp::Or => Value::Bool(false),
    }
}

/// Tempo's `Static.Equals`: nil equals nothing; ints and durations compare exactly, other numbers as floats.
pub(crate) fn equals(left: Value<'_>, right: Value<'_>) -> bool {
    match (left, right) {
        (Value::Nil, _) | (_, Value::Nil) => false,
        (Value::Int(a) | Value::Duration(a), Value::Int(b) | Value::Duration(b)) => a == b,
        (
            Value::Int(_) | Value::Duration(_) | Value::Float(_),
            Value::Int(_) | Value::Duration(_) | Value::Float(_),
        ) => left.as_f64() == right.as_f64(),
        (Value::Str(a), Value::Str(b)) => a == b,
        (Value::Id(id), Value::Str(text)) | (Value::Str(text), Value::Id(id)) => id_equals_text(id, text),
        (Value::Id(a), Value::Id(b)) => a == b,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Status(a), Value::Status(b)) => a == b,
        (Value::Kind(a), Value::Kind(b)) => a == b,
        _ => false,
    }
}

/// Hex nibbles of an id, most significant first.
fn nibbles(bytes: &[u8]) -> impl Iterator<Item = u8> + '_ {
    bytes.iter().flat_map(|byte| [byte >> 4, byte & 0x0f])
}

/// An id equals a hex string when they agree after dropping leading zeros, ignoring case (Tempo trims leading
/// zeros of trace ids in queries; the docs show span ids written with fewer digits).
fn id_equals_text(id: &[u8], text: &str) -> bool {
    let mut id_digits = nibbles(id).skip_while(|nibble| *nibble == 0);
    let mut text_digits = text.bytes().skip_while(|digit| *digit == b'0');
    loop {
        match (id_digits.next(), text_digits.next()) {
            (None, None) => return true,
            (Some(nibble), Some(digit)) => {
                let value = match digit.to_ascii_lowercase() {
                    digit @ b'0'..=b'9' => digit - b'0',
                    digit @ b'a'..=b'f' => digit - b'a' + 10,
                    _ => return false,
                };
                if value != nibble {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// Runs `f` on the text of a string or id value (ids as lowercase hex, in a stack buffer).
pub(crate) fn with_text<R>(value: &Value<'_>, f: impl FnOnce(&str) -> R) -> Option<R> {
    match value {
        Value::Str(text) => Some(f(text)),
        Value::Id(bytes) => {
            const DIGITS: &[u8; 16] = b"0123456789abcdef";
            let mut buffer = [0u8; 64];
            let length = (bytes.len() * 2).min(buffer.len());
            for (slot, nibble) in buffer[..length].iter_mut().zip(nibbles(bytes)) {
                *slot = DIGITS[usize::from(nibble)];
            }
            let text = std::str::from_utf8(&buffer[..length]).unwrap_or_default();
            Some(f(text))
        }
        _ => None,
    }
}

fn compare_text(left: &Value<'_>, right: &Value<'_>) -> Ordering {
    with_text(left, |left_text| with_text(right, |right_text| left_text.cmp(right_text)).unwrap_or(Ordering::Equal))
        .unwrap_or(Ordering::Equal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_rules_follow_tempo() {
        let f = |op: BinaryOp, left: Value<'_>, right: Value<'_>, want: Value<'_>| {
            assert_eq!(binary(op, left, right), want, "{left:?} {op:?} {right:?}");
        };
        f(BinaryOp::Eq, Value::Int(200), Value::Float(200.0), Value::Bool(true));
        f(BinaryOp::Gt, Value::Duration(2_000), Value::Int(1_000), Value::Bool(true));
        f(BinaryOp::Eq, Value::Str("200"), Value::Int(200), Value::Bool(false));
        f(BinaryOp::Neq, Value::Str("200"), Value::Int(200), Value::Bool(false));
        f(BinaryOp::Neq, Value::Nil, Value::Int(1), Value::Bool(false));
        f(BinaryOp::Eq, Value::Nil, Value::Nil, Value::Bool(false));
        f(BinaryOp::Gt, Value::Nil, Value::Int(1), Value::Bool(false));
        f(BinaryOp::Div, Value::Int(7), Value::Int(2), Value::Int(3));
        f(BinaryOp::Div, Value::Int(7), Value::Int(0), Value::Nil);
        f(BinaryOp::Div, Value::Float(7.0), Value::Int(2), Value::Float(3.5));
        f(BinaryOp::Pow, Value::Int(2), Value::Int(10), Value::Int(1024));
        f(BinaryOp::Mul, Value::Duration(1_000), Value::Int(2), Value::Float(2_000.0));
        f(BinaryOp::Gte, Value::Str("500"), Value::Str("400"), Value::Bool(true));
        f(BinaryOp::Eq, Value::Status(StatusCode::Error), Value::Status(StatusCode::Error), Value::Bool(true));
        f(BinaryOp::Eq, Value::Kind(SpanKind::Server), Value::Kind(SpanKind::Client), Value::Bool(false));
        f(BinaryOp::Eq, Value::Id(&[0, 0, 0xab, 0x01]), Value::Str("AB01"), Value::Bool(true));
        f(BinaryOp::Eq, Value::Id(&[0, 0, 0xab, 0x01]), Value::Str("0000ab01"), Value::Bool(true));
        f(BinaryOp::Eq, Value::Id(&[0, 0, 0xab, 0x01]), Value::Str("ab02"), Value::Bool(false));
        let array = [AttrValue::Str("a".into()), AttrValue::Str("b".into())];
        f(BinaryOp::Eq, Value::Array(&array), Value::Str("b"), Value::Bool(true));
        f(BinaryOp::Neq, Value::Array(&array), Value::Str("b"), Value::Bool(false));
        f(BinaryOp::Neq, Value::Array(&array), Value::Str("c"), Value::Bool(true));
        let numbers = [AttrValue::Int(1), AttrValue::Int(5)];
        f(BinaryOp::Gt, Value::Array(&numbers), Value::Int(4), Value::Bool(true));
        f(BinaryOp::Lt, Value::Int(4), Value::Array(&numbers), Value::Bool(true));
    }
}
