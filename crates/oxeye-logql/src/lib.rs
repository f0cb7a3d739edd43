//! LogQL (Loki 3) for oxeye: parse a query, run its log pipeline and evaluate it over a [`LogsReader`].
//!
//! - [`parse`] reads a query into an [`Expr`] (Loki's grammar, error wording and validation); `Display` prints it
//!   back in a canonical form that parses to the same tree. [`parse_selector`] reads the stream selectors of the
//!   series, labels and index APIs.
//! - [`Engine::range`] and [`Engine::instant`] evaluate a parsed query against the store handed to them, with
//!   Loki's semantics for log queries (limit, direction, interval), range aggregations (windows, unwrap, offset),
//!   vector aggregations, binary operators, `label_replace` and `vector()`. Results keep the label categories
//!   (stream, structured metadata, parsed) so the API can serve both of Loki's encodings.
//!
//! The pipeline is compiled once per query; per row it reuses its buffers and caches per-stream work by
//! `StreamRef::id`. Filters the store can use to skip data are passed as `LogFilterHints`.
//!
//! [`LogsReader`]: oxeye_storage_api::LogsReader

mod error;
pub mod eval;
pub mod parser;
pub mod patterns;
pub mod pipeline;
mod units;

pub use error::{ParseError, QueryError};
pub use eval::{
    Engine, EngineOptions, EntryLabels, InstantParams, MatrixSeries, QueryOutput, QueryStats, QueryValue, RangeParams,
    StreamEntry, StreamResult, VectorSample, label_string,
};
pub use parser::ast::Expr;
pub use parser::{parse, parse_selector, parse_selector_unvalidated, parse_unvalidated};
pub use patterns::{MinedPatterns, PatternQuery, PatternSeries, query_patterns};
