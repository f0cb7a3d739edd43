//! Prints a query in canonical form: `parse(q.to_string()) == q` for every query [`parse`](super::parse) returns.
//!
//! Operands that are not literals or attributes are parenthesized (as Tempo's `ast_stringer.go` does), so the
//! printed text never depends on precedence; negative literals are parenthesized too, since `-5 ^ 2` reads as
//! `-(5 ^ 2)`. Attributes and intrinsics print as Tempo prints them (`span.http.status_code`, `duration`,
//! `span:id`), which is also how `by()` groupings and aggregates are keyed in results.

use std::fmt::{self, Display, Formatter, Write};

use crate::parser::ast::*;
use crate::parser::lexer::{attribute_needs_quotes, format_duration};

impl Display for Query {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.expr {
            RootExpr::Search(pipeline) => write!(f, "{pipeline}")?,
            RootExpr::Metrics(metrics) => write!(f, "{metrics}")?,
        }
        if !self.hints.is_empty() {
            f.write_str(" with(")?;
            for (index, hint) in self.hints.iter().enumerate() {
                if index > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{}=", hint.name)?;
                write_static(f, &hint.value)?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl Display for Pipeline {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (index, stage) in self.stages.iter().enumerate() {
            if index > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{stage}")?;
        }
        Ok(())
    }
}

impl Display for Stage {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Stage::Spanset(expr) => write!(f, "{expr}"),
            Stage::ScalarFilter(filter) => {
                write_aggregate(f, &filter.aggregate)?;
                write!(f, " {} ", filter.op.symbol())?;
                write_static(f, &filter.value)
            }
            Stage::By(expr) => write!(f, "by({expr})"),
            Stage::Select(attributes) => {
                f.write_str("select(")?;
                write_attribute_list(f, attributes)?;
                f.write_str(")")
            }
            Stage::Coalesce => f.write_str("coalesce()"),
        }
    }
}

fn write_attribute_list(f: &mut Formatter<'_>, attributes: &[Attribute]) -> fmt::Result {
    for (index, attribute) in attributes.iter().enumerate() {
        if index > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{attribute}")?;
    }
    Ok(())
}

impl Display for SpansetExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            SpansetExpr::Filter(filter) => write!(f, "{{ {} }}", filter.expr),
            SpansetExpr::Op { op, lhs, rhs } => {
                write_spanset_operand(f, lhs)?;
                write!(f, " {} ", op.symbol())?;
                write_spanset_operand(f, rhs)
            }
            SpansetExpr::Pipeline(pipeline) => write!(f, "({pipeline})"),
        }
    }
}

fn write_spanset_operand(f: &mut Formatter<'_>, operand: &SpansetExpr) -> fmt::Result {
    match operand {
        SpansetExpr::Op { .. } => write!(f, "({operand})"),
        _ => write!(f, "{operand}"),
    }
}

/// `count()`, `avg(duration)`: also the key of the aggregate's value in a spanset's attributes.
pub(crate) fn write_aggregate(f: &mut Formatter<'_>, aggregate: &Aggregate) -> fmt::Result {
    f.write_str(aggregate.function.name())?;
    match &aggregate.expr {
        None => f.write_str("()"),
        Some(expr) => write!(f, "({expr})"),
    }
}

impl Display for Aggregate {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_aggregate(f, self)
    }
}

impl Display for FieldExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            FieldExpr::Static(value) => write_static(f, value),
            FieldExpr::Attribute(attribute) => write!(f, "{attribute}"),
            FieldExpr::Binary { op, lhs, rhs } => {
                write_field_operand(f, lhs)?;
                write!(f, " {} ", op.symbol())?;
                write_field_operand(f, rhs)
            }
            FieldExpr::Regex { lhs, regex, negated } => {
                write_field_operand(f, lhs)?;
                f.write_str(if *negated { " !~ " } else { " =~ " })?;
                write_string(f, &regex.pattern)
            }
            FieldExpr::Unary { op: UnaryOp::Exists, expr } => {
                write_field_operand(f, expr)?;
                f.write_str(" != nil")
            }
            FieldExpr::Unary { op: UnaryOp::NotExists, expr } => {
                write_field_operand(f, expr)?;
                f.write_str(" = nil")
            }
            FieldExpr::Unary { op, expr } => {
                f.write_str(if *op == UnaryOp::Neg { "-" } else { "!" })?;
                write_field_operand(f, expr)
            }
        }
    }
}

fn write_field_operand(f: &mut Formatter<'_>, operand: &FieldExpr) -> fmt::Result {
    let bare = match operand {
        FieldExpr::Static(value) => !is_negative(value),
        FieldExpr::Attribute(_) => true,
        _ => false,
    };
    if bare { write!(f, "{operand}") } else { write!(f, "({operand})") }
}

fn is_negative(value: &Static) -> bool {
    match value {
        Static::Int(value) => *value < 0 && *value != i64::MIN,
        Static::Float(value) => value.is_sign_negative(),
        Static::Duration(value) => *value < 0,
        _ => false,
    }
}

impl Display for Static {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_static(f, self)
    }
}

pub(crate) fn write_static(f: &mut Formatter<'_>, value: &Static) -> fmt::Result {
    match value {
        Static::Nil => f.write_str("nil"),
        Static::Bool(value) => write!(f, "{value}"),
        // `-9223372036854775808` would not lex (the magnitude overflows before the sign applies).
        Static::Int(i64::MIN) => f.write_str("minInt"),
        Static::Int(value) => write!(f, "{value}"),
        Static::Float(value) => write_float(f, *value),
        Static::Str(text) => write_string(f, text),
        Static::Duration(nanos) => f.write_str(&format_duration(*nanos)),
        Static::Status(status) => f.write_str(status.name()),
        Static::Kind(kind) => f.write_str(kind.name()),
    }
}

/// The shortest text that reads back as the same float, with `.0` so it does not read as an integer.
pub(crate) fn write_float(f: &mut dyn Write, value: f64) -> fmt::Result {
    let text = value.to_string();
    f.write_str(&text)?;
    if !text.contains(['.', 'e', 'i', 'N']) {
        f.write_str(".0")?;
    }
    Ok(())
}

/// A double-quoted string literal with Go escapes.
fn write_string(f: &mut Formatter<'_>, text: &str) -> fmt::Result {
    f.write_char('"')?;
    for character in text.chars() {
        match character {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '\r' => f.write_str("\\r")?,
            control if control.is_control() => write!(f, "\\u{:04x}", control as u32)?,
            other => f.write_char(other)?,
        }
    }
    f.write_char('"')
}

impl Display for Attribute {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Attribute::Intrinsic(intrinsic) => f.write_str(intrinsic.name()),
            Attribute::Scoped { scope, name } => {
                f.write_str(scope.prefix())?;
                if !attribute_needs_quotes(name, *scope) {
                    return f.write_str(name);
                }
                f.write_char('"')?;
                for character in name.chars() {
                    if character == '"' || character == '\\' {
                        f.write_char('\\')?;
                    }
                    f.write_char(character)?;
                }
                f.write_char('"')
            }
        }
    }
}

impl Display for MetricsQuery {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} | {}", self.pipeline, self.aggregation)?;
        for stage in &self.second_stage {
            match stage {
                SecondStage::TopK(limit) => write!(f, " | topk({limit})")?,
                SecondStage::BottomK(limit) => write!(f, " | bottomk({limit})")?,
                SecondStage::Filter(op, threshold) => {
                    write!(f, " {} ", op.symbol())?;
                    if *threshold < 0.0 {
                        f.write_str("(")?;
                        write_float(f, *threshold)?;
                        f.write_str(")")?;
                    } else {
                        write_float(f, *threshold)?;
                    }
                }
            }
        }
        Ok(())
    }
}

impl Display for MetricsAggregation {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.function.name())?;
        f.write_str("(")?;
        if let Some(attribute) = self.function.attribute() {
            write!(f, "{attribute}")?;
        }
        if let MetricsFunction::QuantileOverTime(_, quantiles) = &self.function {
            for quantile in quantiles {
                f.write_str(", ")?;
                write_float(f, *quantile)?;
            }
        }
        f.write_str(")")?;
        if !self.by.is_empty() {
            f.write_str(" by (")?;
            write_attribute_list(f, &self.by)?;
            f.write_str(")")?;
        }
        Ok(())
    }
}
