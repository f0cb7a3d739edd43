//! The crate's errors: [`ParseError`] for queries that cannot be read, [`QueryError`] for everything evaluation can
//! run into. The API maps [`QueryError::is_client_error`] to HTTP 400 and the rest to 500, as Loki does.

use std::fmt;

use oxeye_storage_api::ReadError;

/// A query that cannot be parsed or validated. Rendered exactly like Loki's `logqlmodel.ParseError`:
/// `parse error at line L, col C: message`, or `parse error : message` when no position applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// What is wrong, in Loki's wording (`syntax error: unexpected IDENTIFIER`).
    pub message: String,
    /// 1-based line of the offending token; 0 when there is none (or where Loki reports 0).
    pub line: usize,
    /// 1-based column (in characters) of the offending token; 0 when there is none.
    pub column: usize,
    /// Rendered without the `parse error` prefix (Loki's `only label matchers are supported` is a plain error).
    bare: bool,
}

impl ParseError {
    pub(crate) fn at(message: impl Into<String>, line: usize, column: usize) -> Self {
        Self { message: message.into(), line, column, bare: false }
    }

    /// An error Loki reports as a plain message, without the `parse error` prefix.
    pub(crate) fn bare(message: impl Into<String>) -> Self {
        Self { bare: true, ..Self::at(message, 0, 0) }
    }

    /// An error without a position (validation after parsing).
    pub(crate) fn unpositioned(message: impl Into<String>) -> Self {
        Self::at(message, 0, 0)
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.bare {
            write!(f, "{}", self.message)
        } else if self.line == 0 && self.column == 0 {
            write!(f, "parse error : {}", self.message)
        } else {
            write!(f, "parse error at line {}, col {}: {}", self.line, self.column, self.message)
        }
    }
}

impl std::error::Error for ParseError {}

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The query does not parse, or a pipeline stage cannot be built (`stage '| regexp "("' : …`).
    #[error("{0}")]
    Parse(#[from] ParseError),
    /// A log query sent as an instant query.
    #[error("log queries are not supported as an instant query type, please change your query to a range query type")]
    UnsupportedInstantLogQuery,
    /// The request parameters are unusable (a zero step on a range query, end before start).
    #[error("{0}")]
    BadParameters(String),
    /// A sample carries an `__error__` label that no filter removed (Loki's `logqlmodel.PipelineError`).
    #[error(
        "pipeline error: '{error_type}' for series: '{series}'.\nUse a label filter to intentionally skip this error. (e.g | __error__!=\"{error_type}\").\nTo skip all potential errors you can match empty errors.(e.g __error__=\"\")\nThe label filter can also be specified after unwrap. (e.g | unwrap latency | __error__=\"\" )\n"
    )]
    Pipeline {
        /// The value of `__error__` (`JSONParserErr`, `SampleExtractionErr`, …).
        error_type: String,
        /// The series' labels in Prometheus notation (`{__error__="…", app="api"}`).
        series: String,
    },
    /// Vector matching failed (`multiple matches for labels: …`); Loki answers 500 for these.
    #[error("{0}")]
    Execution(String),
    /// More series than [`crate::EngineOptions::max_series`].
    #[error(
        "maximum number of series ({limit}) reached for a single query; consider reducing query cardinality by adding more specific stream selectors, reducing the time range, or aggregating results with functions like sum(), count() or topk()"
    )]
    TooManySeries { limit: usize },
    /// The requested `limit` is above [`crate::EngineOptions::max_entries_limit`].
    #[error("max entries limit per query exceeded, limit > max_entries_limit_per_query ({requested} > {limit})")]
    TooManyEntries { requested: u32, limit: u32 },
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] ReadError),
}

impl QueryError {
    /// Whether Loki answers 400 (parse, pipeline and limit errors, refused parameters) rather than 500 (storage
    /// failures and vector-matching errors, which Loki does not classify as client errors).
    pub fn is_client_error(&self) -> bool {
        match self {
            QueryError::Parse(_)
            | QueryError::UnsupportedInstantLogQuery
            | QueryError::BadParameters(_)
            | QueryError::Pipeline { .. }
            | QueryError::TooManySeries { .. }
            | QueryError::TooManyEntries { .. } => true,
            QueryError::Storage(ReadError::TooManySamples { .. }) => true,
            QueryError::Execution(_) | QueryError::Storage(ReadError::Storage(_)) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_render_like_loki() {
        assert_eq!(
            ParseError::at("syntax error: unexpected IDENTIFIER", 1, 13).to_string(),
            "parse error at line 1, col 13: syntax error: unexpected IDENTIFIER"
        );
        assert_eq!(
            ParseError::unpositioned("invalid aggregation sum_over_time without unwrap").to_string(),
            "parse error : invalid aggregation sum_over_time without unwrap"
        );
        assert_eq!(
            ParseError::at("missing closing ']' in duration", 0, 21).to_string(),
            "parse error at line 0, col 21: missing closing ']' in duration"
        );
    }

    #[test]
    fn limit_errors_use_loki_wording() {
        assert_eq!(
            QueryError::TooManyEntries { requested: 6000, limit: 5000 }.to_string(),
            "max entries limit per query exceeded, limit > max_entries_limit_per_query (6000 > 5000)"
        );
        assert!(QueryError::TooManySeries { limit: 500 }.to_string().starts_with("maximum number of series (500)"));
        assert!(!QueryError::Storage(ReadError::Storage("disk".into())).is_client_error());
        assert!(!QueryError::Execution("multiple matches for labels".into()).is_client_error());
        assert!(QueryError::TooManySeries { limit: 1 }.is_client_error());
    }
}
