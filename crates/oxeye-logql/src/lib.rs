//! LogQL (Loki 3) for oxeye: parser, log pipeline and evaluator.
// The evaluator that uses the pipeline lands in the next commit.
#![allow(dead_code)]
mod error;
pub mod eval;
pub mod parser;
pub mod pipeline;
mod units;

pub use error::{ParseError, QueryError};
pub use parser::{parse, parse_selector, parse_selector_unvalidated, parse_unvalidated};
