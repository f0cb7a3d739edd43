//! The crate's errors: [`ParseError`] for queries that cannot be read or fail validation, [`EvalError`] for what
//! evaluation can run into.

use std::fmt;

/// A query that cannot be parsed or validated. Rendered like Tempo's `traceql.ParseError`:
/// `parse error at line L, col C: message`, or `parse error : message` when no position applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// What is wrong, in Tempo's wording where there is one (`syntax error: unexpected IDENTIFIER`).
    pub message: String,
    /// 1-based line of the offending token; 0 when there is none.
    pub line: usize,
    /// 1-based column (in characters) of the offending token; 0 when there is none.
    pub column: usize,
}

impl ParseError {
    pub(crate) fn at(message: impl Into<String>, line: usize, column: usize) -> Self {
        Self { message: message.into(), line, column }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 && self.column == 0 {
            write!(f, "parse error : {}", self.message)
        } else {
            write!(f, "parse error at line {}, col {}: {}", self.line, self.column, self.message)
        }
    }
}

impl std::error::Error for ParseError {}

/// Why evaluating a query failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// A structural operator met more than one spanset on a side (after `by()`), as Tempo refuses.
    #[error("spanset operators are not supported for multiple spansets per trace. consider using coalesce()")]
    MultipleSpansets,
    /// `evaluate_metrics` was called on a search query.
    #[error("query is not a metrics query: {0}")]
    NotMetrics(String),
    /// `evaluate` parameters that cannot describe a time range.
    #[error("invalid metrics range: start {start_ns}, end {end_ns}, step {step_ns}")]
    InvalidRange { start_ns: u64, end_ns: u64, step_ns: u64 },
    /// More steps than a query may produce.
    #[error("metrics query range has {steps} steps, more than the limit of {limit}")]
    TooManySteps { steps: u64, limit: u64 },
}
