//! oxeye's PromQL engine: Prometheus 3.x semantics over any [`MetricsReader`].
//!
//! Parsing is done by the `promql-parser` crate; evaluation is ours. A query selects each series once for the
//! whole query range (not once per step), then evaluates step by step the way Prometheus's engine does, so that
//! results, annotations (`warnings`/`infos`) and errors match Prometheus.
//!
//! Entry points: [`Engine::instant_query`] and [`Engine::range_query`]. [`parse`] and [`format_query`] serve
//! `/api/v1/format_query` and query validation.

mod aggregate;
mod annotations;
mod binary;
mod engine;
mod functions;
mod value;

use std::time::Duration;

pub use annotations::Annotations;
pub use value::{InstantSample, QueryValue, RangeSeries};

use oxeye_storage_api::MetricsReader;

/// Engine settings (Prometheus's `--query.*` flags).
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// How far back an instant selector looks for the latest sample (Prometheus: `--query.lookback-delta`, 5m).
    pub lookback_delta_ms: i64,
    /// Evaluation timeout (Prometheus: `--query.timeout`, 2m; oxeye: 30s).
    pub timeout: Duration,
    /// Most samples a query may hold in memory at once (Prometheus: `--query.max-samples`, 50,000,000).
    pub max_samples: usize,
    /// Most series one selector may load (0 = unlimited).
    pub max_series: usize,
    /// Whether experimental functions (Prometheus's `--enable-feature=promql-experimental-functions`) are allowed.
    pub experimental_functions: bool,
    /// Step of a subquery written without one (`x[5m:]`); Prometheus uses the global evaluation interval (1m).
    pub no_step_subquery_interval_ms: i64,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            lookback_delta_ms: 5 * 60 * 1000,
            timeout: Duration::from_secs(30),
            max_samples: 50_000_000,
            max_series: 0,
            experimental_functions: true,
            no_step_subquery_interval_ms: 60_000,
        }
    }
}

/// Why a query failed; each kind maps to one Prometheus `errorType`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// The query does not parse or is not valid PromQL (`bad_data`, HTTP 400).
    #[error("{0}")]
    BadData(String),
    /// Evaluation failed (`execution`, HTTP 422), e.g. duplicate series or too many samples.
    #[error("{0}")]
    Execution(String),
    /// The query ran longer than the timeout (`timeout`, HTTP 503).
    #[error("query timed out in {0}")]
    Timeout(&'static str),
    /// The query was canceled (`canceled`, HTTP 499 in Prometheus).
    #[error("query was canceled in {0}")]
    Canceled(&'static str),
    /// Storage failed underneath (`internal`, HTTP 500).
    #[error("{0}")]
    Internal(String),
}

impl QueryError {
    /// The Prometheus API `errorType` for this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            QueryError::BadData(_) => "bad_data",
            QueryError::Execution(_) => "execution",
            QueryError::Timeout(_) => "timeout",
            QueryError::Canceled(_) => "canceled",
            QueryError::Internal(_) => "internal",
        }
    }
}

/// Counters about one evaluation.
#[derive(Clone, Debug, Default)]
pub struct QueryStats {
    /// Samples read from storage.
    pub samples_loaded: u64,
    /// Series selected from storage.
    pub series_loaded: u64,
    /// Peak number of samples held at once.
    pub peak_samples: u64,
}

/// The answer to a query.
#[derive(Clone, Debug)]
pub struct QueryResult {
    pub value: QueryValue,
    pub annotations: Annotations,
    pub stats: QueryStats,
}

/// A PromQL engine. Cheap to clone; holds only settings.
#[derive(Clone, Debug, Default)]
pub struct Engine {
    options: EngineOptions,
}

impl Engine {
    pub fn new(options: EngineOptions) -> Self {
        Self { options }
    }

    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// Evaluates `query` at one instant (`/api/v1/query`). The result is a vector, a scalar, a string or — for a
    /// bare range selector — a matrix.
    pub fn instant_query(
        &self,
        reader: &dyn MetricsReader,
        query: &str,
        time_ms: i64,
    ) -> Result<QueryResult, QueryError> {
        let expr = parse(query)?;
        engine::Evaluator::run(&self.options, reader, &expr, time_ms, time_ms, 0)
    }

    /// Evaluates `query` at every step in `[start_ms, end_ms]` (`/api/v1/query_range`). The result is always a
    /// matrix; range selectors at the top level are refused as Prometheus refuses them.
    pub fn range_query(
        &self,
        reader: &dyn MetricsReader,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryResult, QueryError> {
        if step_ms <= 0 {
            return Err(QueryError::BadData(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        if end_ms < start_ms {
            return Err(QueryError::BadData("end timestamp must not be before start time".into()));
        }
        let expr = parse(query)?;
        engine::check_range_query_type(&expr)?;
        engine::Evaluator::run(&self.options, reader, &expr, start_ms, end_ms, step_ms)
    }
}

/// Parses a PromQL expression, mapping parser errors to [`QueryError::BadData`].
pub fn parse(query: &str) -> Result<promql_parser::parser::Expr, QueryError> {
    promql_parser::parser::parse(query).map_err(|e| QueryError::BadData(format!("invalid parameter \"query\": {e}")))
}

/// Formats a query the way Prometheus's `/api/v1/format_query` does (pretty-printed).
pub fn format_query(query: &str) -> Result<String, QueryError> {
    use promql_parser::parser::Prettier;
    let expr = parse(query)?;
    Ok(expr.pretty(0, 100))
}
