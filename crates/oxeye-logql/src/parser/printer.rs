//! The canonical text form of a syntax tree (`Display`).
//!
//! The output parses back to an equal tree (`parse(&expr.to_string()) == expr`, tested over every construct).
//! Strings use Go quoting; nested binary expressions and compound label filters are parenthesized, so precedence
//! never depends on the reader; byte sizes are written in bytes (`10000B`) and durations exactly.

use std::fmt::{self, Display, Formatter, Write};

use crate::parser::ast::*;
use crate::units::{format_exact_duration, format_prometheus_duration, go_quote};

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Log(log) => log.fmt(f),
            Expr::Sample(sample) => sample.fmt(f),
        }
    }
}

impl Display for LabelMatcher {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.name, self.op.as_str(), go_quote(&self.value))
    }
}

impl Display for LogExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_char('{')?;
        for (index, matcher) in self.matchers.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            matcher.fmt(f)?;
        }
        f.write_char('}')?;
        for stage in &self.stages {
            write!(f, " {stage}")?;
        }
        Ok(())
    }
}

impl Display for Stage {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Stage::LineFilter(filter) => filter.fmt(f),
            Stage::Json(extractions) => {
                f.write_str("| json")?;
                write_extractions(f, extractions)
            }
            Stage::Logfmt { strict, keep_empty, extractions } => {
                f.write_str("| logfmt")?;
                if *strict {
                    f.write_str(" --strict")?;
                }
                if *keep_empty {
                    f.write_str(" --keep-empty")?;
                }
                write_extractions(f, extractions)
            }
            Stage::Regexp(regex) => write!(f, "| regexp {}", go_quote(regex)),
            Stage::Pattern(pattern) => write!(f, "| pattern {}", go_quote(pattern)),
            Stage::Unpack => f.write_str("| unpack"),
            Stage::LabelFilter(filter) => write!(f, "| {filter}"),
            Stage::LineFormat(template) => write!(f, "| line_format {}", go_quote(template)),
            Stage::LabelFormat(operations) => {
                f.write_str("| label_format ")?;
                for (index, operation) in operations.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    match operation {
                        LabelFormatOp::Rename { dst, src } => write!(f, "{dst}={src}")?,
                        LabelFormatOp::Template { dst, template } => write!(f, "{dst}={}", go_quote(template))?,
                    }
                }
                Ok(())
            }
            Stage::Drop(matchers) => {
                f.write_str("| drop ")?;
                write_named_matchers(f, matchers)
            }
            Stage::Keep(matchers) => {
                f.write_str("| keep ")?;
                write_named_matchers(f, matchers)
            }
            Stage::Decolorize => f.write_str("| decolorize"),
        }
    }
}

fn write_extractions(f: &mut Formatter<'_>, extractions: &[LabelExtraction]) -> fmt::Result {
    for (index, extraction) in extractions.iter().enumerate() {
        f.write_str(if index == 0 { " " } else { ", " })?;
        write!(f, "{}={}", extraction.label, go_quote(&extraction.expression))?;
    }
    Ok(())
}

fn write_named_matchers(f: &mut Formatter<'_>, matchers: &[NamedMatcher]) -> fmt::Result {
    for (index, matcher) in matchers.iter().enumerate() {
        if index > 0 {
            f.write_str(", ")?;
        }
        match matcher {
            NamedMatcher::Name(name) => f.write_str(name)?,
            NamedMatcher::Matcher(matcher) => matcher.fmt(f)?,
        }
    }
    Ok(())
}

impl Display for LineFilter {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.op.as_str())?;
        for (index, value) in self.values.iter().enumerate() {
            if index > 0 {
                f.write_str(" or")?;
            }
            match value {
                LineFilterValue::Text(text) => write!(f, " {}", go_quote(text))?,
                LineFilterValue::Ip(pattern) => write!(f, " ip({})", go_quote(pattern))?,
            }
        }
        Ok(())
    }
}

impl Display for LabelFilter {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let operand = |f: &mut Formatter<'_>, filter: &LabelFilter| match filter {
            LabelFilter::And(..) | LabelFilter::Or(..) => write!(f, "({filter})"),
            _ => filter.fmt(f),
        };
        match self {
            LabelFilter::Matcher(matcher) => matcher.fmt(f),
            LabelFilter::Number { name, op, value } => write!(f, "{name}{}{}", op.as_str(), format_number(*value)),
            LabelFilter::Duration { name, op, value_ns } => {
                write!(f, "{name}{}{}", op.as_str(), format_exact_duration(*value_ns))
            }
            LabelFilter::Bytes { name, op, value } => write!(f, "{name}{}{value}B", op.as_str()),
            LabelFilter::Ip { name, negated, pattern } => {
                write!(f, "{name}{}ip({})", if *negated { "!=" } else { "=" }, go_quote(pattern))
            }
            LabelFilter::And(left, right) => {
                operand(f, left)?;
                f.write_str(" and ")?;
                operand(f, right)
            }
            LabelFilter::Or(left, right) => {
                operand(f, left)?;
                f.write_str(" or ")?;
                operand(f, right)
            }
        }
    }
}

/// A number the lexer reads back exactly (Rust's shortest round-trip form never uses an exponent or a unit letter).
fn format_number(value: f64) -> String {
    format!("{value}")
}

impl Display for SampleExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            SampleExpr::RangeAggregation(aggregation) => aggregation.fmt(f),
            SampleExpr::VectorAggregation(aggregation) => aggregation.fmt(f),
            SampleExpr::Binary(binary) => binary.fmt(f),
            SampleExpr::Literal(value) => f.write_str(&format_number(*value)),
            SampleExpr::LabelReplace(replace) => write!(
                f,
                "label_replace({}, {}, {}, {}, {})",
                replace.expr,
                go_quote(&replace.dst),
                go_quote(&replace.replacement),
                go_quote(&replace.src),
                go_quote(&replace.regex)
            ),
            SampleExpr::Vector(value) => write!(f, "vector({})", format_number(*value)),
        }
    }
}

impl Display for Grouping {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", if self.without { "without" } else { "by" }, self.labels.join(", "))
    }
}

impl Display for LogRange {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.log.fmt(f)?;
        if let Some(unwrap) = &self.unwrap {
            f.write_str(" | unwrap ")?;
            match unwrap.conversion {
                UnwrapConversion::Float => f.write_str(&unwrap.label)?,
                UnwrapConversion::Duration => write!(f, "duration({})", unwrap.label)?,
                UnwrapConversion::DurationSeconds => write!(f, "duration_seconds({})", unwrap.label)?,
                UnwrapConversion::Bytes => write!(f, "bytes({})", unwrap.label)?,
            }
            for filter in &unwrap.post_filters {
                write!(f, " | {filter}")?;
            }
        }
        write!(f, " [{}]", format_prometheus_duration(self.range_ns))?;
        if self.offset_ns != 0 {
            write!(f, " offset {}", format_exact_duration(self.offset_ns))?;
        }
        Ok(())
    }
}

impl Display for RangeAggregation {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.op.as_str())?;
        if let Some(param) = self.param {
            write!(f, "{}, ", format_number(param))?;
        }
        write!(f, "{})", self.range)?;
        if let Some(grouping) = &self.grouping {
            write!(f, " {grouping}")?;
        }
        Ok(())
    }
}

impl Display for VectorAggregation {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.op.as_str())?;
        if self.grouping.without || !self.grouping.labels.is_empty() {
            write!(f, " {} ", self.grouping)?;
        }
        f.write_str("(")?;
        if let Some(param) = self.param {
            write!(f, "{param}, ")?;
        }
        write!(f, "{})", self.expr)
    }
}

impl Display for BinaryExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let operand = |f: &mut Formatter<'_>, expr: &SampleExpr| match expr {
            SampleExpr::Binary(_) => write!(f, "({expr})"),
            SampleExpr::Literal(value) if *value < 0.0 || value.is_sign_negative() => write!(f, "({expr})"),
            _ => expr.fmt(f),
        };
        operand(f, &self.lhs)?;
        write!(f, " {}", self.op.as_str())?;
        let modifiers = &self.modifiers;
        if modifiers.return_bool {
            f.write_str(" bool")?;
        }
        let grouped = modifiers.cardinality != Cardinality::OneToOne;
        if modifiers.on || !modifiers.matching_labels.is_empty() || grouped {
            let keyword = if modifiers.on { "on" } else { "ignoring" };
            write!(f, " {keyword} ({})", modifiers.matching_labels.join(", "))?;
        }
        match modifiers.cardinality {
            Cardinality::OneToOne => {}
            Cardinality::ManyToOne => write!(f, " group_left ({})", modifiers.include.join(", "))?,
            Cardinality::OneToMany => write!(f, " group_right ({})", modifiers.include.join(", "))?,
        }
        f.write_char(' ')?;
        operand(f, &self.rhs)
    }
}
