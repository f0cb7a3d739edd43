//! TraceQL (Tempo 2.x) for oxeye: parse a query, print it back, and evaluate it on traces.
//!
//! - [`parse`] reads a query into a [`Query`] (Tempo's grammar, precedence, validation and error wording);
//!   `Display` prints it in a canonical form that parses to the same tree.
//! - [`Query::evaluate`] runs a search query on one trace (or a fragment of one) and returns the matching
//!   spansets, with the attributes Tempo attaches to spans (those the query reads or selects) and to spansets
//!   (`by()` groups, aggregate values).
//! - [`Query::hints`] derives conservative pruning terms a trace store may use to skip data.
//! - [`Query::evaluate_metrics`] runs a TraceQL metrics query (`| rate()`, `| quantile_over_time(…)`, …) over
//!   traces into time series.

mod error;
pub mod eval;
mod hints;
pub mod parser;

pub use error::{EvalError, ParseError};
pub use eval::metrics::MetricSeries;
pub use eval::{SpanMatch, Spanset};
pub use parser::ast::Query;
pub use parser::{format_duration, parse};
