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
    /// Threads one query may use for series-parallel work (range-vector functions).
    pub parallelism: usize,
    /// Set by the caller to stop an evaluation (e.g. when the client has gone); the query then fails with
    /// [`QueryError::Canceled`].
    pub cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
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
            parallelism: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            cancel: None,
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
        let expr = parse_cached(query)?;
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
        let expr = parse_cached(query)?;
        engine::check_range_query_type(&expr)?;
        engine::Evaluator::run(&self.options, reader, &expr, start_ms, end_ms, step_ms)
    }
}

/// Parses a PromQL expression, mapping parser errors to [`QueryError::BadData`].
pub fn parse(query: &str) -> Result<promql_parser::parser::Expr, QueryError> {
    let query = byte_escapes_as_utf8(query);
    promql_parser::parser::parse(&query).map_err(|e| QueryError::BadData(format!("invalid parameter \"query\": {e}")))
}

/// In PromQL (as in Go) `\xHH` and `\OOO` escapes in quoted strings are *bytes*; `promql-parser` turns each into
/// the character U+00HH instead. Rewrites every run of such escapes with values ≥ 0x80 into the characters its bytes
/// spell in UTF-8, or into U+FFFD when they are not valid UTF-8 (which then fails label-name validation as it does
/// in Prometheus).
pub fn byte_escapes_as_utf8(query: &str) -> std::borrow::Cow<'_, str> {
    if !query.contains('\\') {
        return std::borrow::Cow::Borrowed(query);
    }
    let b = query.as_bytes();
    let mut out = String::with_capacity(query.len());
    let mut i = 0;
    let mut quote: Option<u8> = None;
    let mut changed = false;
    while i < b.len() {
        let c = b[i];
        match quote {
            None => {
                if c == b'"' || c == b'\'' {
                    quote = Some(c);
                } else if c == b'#' {
                    // A comment runs to the end of the line.
                    let end = query[i..].find('\n').map(|n| i + n).unwrap_or(b.len());
                    out.push_str(&query[i..end]);
                    i = end;
                    continue;
                }
            }
            Some(q) => {
                if c == q {
                    quote = None;
                } else if c == b'\\' {
                    let (bytes, next) = byte_escape_run(b, i);
                    if bytes.iter().any(|x| *x >= 0x80) {
                        match std::str::from_utf8(&bytes) {
                            Ok(text) => out.push_str(text),
                            Err(_) => out.push_str("\\uFFFD"),
                        }
                        changed = true;
                        i = next;
                        continue;
                    }
                    if next > i {
                        out.push_str(&query[i..next]);
                        i = next;
                        continue;
                    }
                    // Any other escape: copy it with the escaped character.
                    let ch_len = query[i + 1..].chars().next().map(|ch| ch.len_utf8()).unwrap_or(0);
                    out.push_str(&query[i..i + 1 + ch_len]);
                    i += 1 + ch_len;
                    continue;
                }
            }
        }
        let ch = query[i..].chars().next().expect("in bounds");
        out.push(ch);
        i += ch.len_utf8();
    }
    if changed { std::borrow::Cow::Owned(out) } else { std::borrow::Cow::Borrowed(query) }
}

/// Decodes a run of `\xHH` / `\OOO` escapes starting at `i`; returns the bytes and the index after the run.
fn byte_escape_run(b: &[u8], mut i: usize) -> (Vec<u8>, usize) {
    let mut bytes = Vec::new();
    while i + 1 < b.len() && b[i] == b'\\' {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i + 1] == b'x' && i + 3 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 2]), hex(b[i + 3])) {
                bytes.push((h * 16 + l) as u8);
                i += 4;
                continue;
            }
            break;
        }
        if (b'0'..=b'3').contains(&b[i + 1]) && i + 3 < b.len() {
            let oct = |c: u8| (b'0'..=b'7').contains(&c).then(|| (c - b'0') as u32);
            if let (Some(a), Some(m), Some(l)) = (oct(b[i + 1]), oct(b[i + 2]), oct(b[i + 3])) {
                bytes.push((a * 64 + m * 8 + l) as u8);
                i += 4;
                continue;
            }
        }
        break;
    }
    (bytes, i)
}

/// Parsed queries by text. Dashboards send the same few queries over and over, and parsing costs as much as a
/// small evaluation; the cache is bounded and simply emptied when full.
static PARSE_CACHE: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<promql_parser::parser::Expr>>>,
> = std::sync::LazyLock::new(Default::default);
const PARSE_CACHE_ENTRIES: usize = 1024;

/// [`parse`] through [`PARSE_CACHE`] (errors are not cached).
fn parse_cached(query: &str) -> Result<std::sync::Arc<promql_parser::parser::Expr>, QueryError> {
    let lock = || PARSE_CACHE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(expr) = lock().get(query) {
        return Ok(expr.clone());
    }
    let expr = std::sync::Arc::new(parse(query)?);
    let mut cache = lock();
    if cache.len() >= PARSE_CACHE_ENTRIES {
        cache.clear();
    }
    cache.insert(query.to_string(), expr.clone());
    Ok(expr)
}

/// Formats a query the way Prometheus's `/api/v1/format_query` does (pretty-printed).
pub fn format_query(query: &str) -> Result<String, QueryError> {
    use promql_parser::parser::Prettier;
    let expr = parse(query)?;
    Ok(expr.pretty(0, 100))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_escapes_become_utf8_or_replacement() {
        assert_eq!(byte_escapes_as_utf8(r#"f("\xc3\xa9")"#), "f(\"é\")");
        assert_eq!(byte_escapes_as_utf8(r#"f("\xff")"#), r#"f("\uFFFD")"#);
        assert_eq!(byte_escapes_as_utf8(r#"f("\303\251")"#), "f(\"é\")");
        // ASCII escapes and text outside strings are untouched.
        assert_eq!(byte_escapes_as_utf8(r#"f("\x41\n") # "\xff""#), r#"f("\x41\n") # "\xff""#);
    }

    #[test]
    fn invalid_utf8_label_name_is_refused() {
        let reader = ManySeries(0);
        let err = Engine::default()
            .instant_query(&reader, r#"label_replace(vector(1), "\xff", "", "src", "(.*)")"#, 0)
            .unwrap_err();
        assert_eq!(err.error_type(), "execution");
        assert!(err.to_string().contains("invalid destination label name"), "{err}");
    }

    /// `n` series `m{i="0".."n"}`, one sample a minute for an hour (`ManySeries(0)` is an empty store).
    struct ManySeries(usize);

    impl MetricsReader for ManySeries {
        fn select_series(
            &self,
            req: &oxeye_storage_api::SelectRequest,
        ) -> Result<Vec<oxeye_storage_api::SeriesSamples>, oxeye_storage_api::ReadError> {
            Ok((0..self.0)
                .map(|i| oxeye_storage_api::SeriesSamples {
                    labels: oxeye_model::Labels::from_pairs([("__name__", "m".to_string()), ("i", i.to_string())])
                        .unwrap(),
                    samples: (0..60)
                        .map(|k| oxeye_model::Sample::new(k * 60_000, k as f64))
                        .filter(|x| x.timestamp_ms >= req.start_ms && x.timestamp_ms <= req.end_ms)
                        .collect(),
                })
                .collect())
        }
        fn series_labels(
            &self,
            _: &oxeye_storage_api::SelectRequest,
        ) -> Result<Vec<oxeye_model::Labels>, oxeye_storage_api::ReadError> {
            Ok(Vec::new())
        }
        fn label_names(
            &self,
            _: &oxeye_storage_api::SelectRequest,
        ) -> Result<Vec<String>, oxeye_storage_api::ReadError> {
            Ok(Vec::new())
        }
        fn label_values(
            &self,
            _: &str,
            _: &oxeye_storage_api::SelectRequest,
        ) -> Result<Vec<String>, oxeye_storage_api::ReadError> {
            Ok(Vec::new())
        }
        fn select_exemplars(
            &self,
            _: &oxeye_storage_api::SelectRequest,
        ) -> Result<Vec<oxeye_storage_api::SeriesExemplars>, oxeye_storage_api::ReadError> {
            Ok(Vec::new())
        }
        fn metadata(
            &self,
            _: Option<&str>,
            _: usize,
        ) -> Result<Vec<oxeye_model::MetricMetadata>, oxeye_storage_api::ReadError> {
            Ok(Vec::new())
        }
    }

    #[test]
    fn sample_limit_is_an_execution_error() {
        let engine = Engine::new(EngineOptions { max_samples: 1_000, ..EngineOptions::default() });
        let err = engine.range_query(&ManySeries(100), "sum(m)", 0, 3_540_000, 60_000).unwrap_err();
        assert_eq!(err.error_type(), "execution");
        assert!(err.to_string().contains("too many samples"), "{err}");
        // Under the limit the same query answers, with one point per step.
        let ok = Engine::default().range_query(&ManySeries(100), "sum(m)", 0, 3_540_000, 60_000).unwrap();
        let QueryValue::Matrix(m) = ok.value else { panic!("matrix expected") };
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].points.len(), 60);
        assert_eq!(m[0].points[59], (3_540_000, 59.0 * 100.0));
    }

    #[test]
    fn series_limit_is_an_execution_error() {
        let engine = Engine::new(EngineOptions { max_series: 10, ..EngineOptions::default() });
        let err = engine.instant_query(&ManySeries(11), "m", 60_000).unwrap_err();
        assert_eq!(err.error_type(), "execution");
        assert!(err.to_string().contains("too many series"), "{err}");
        assert!(engine.instant_query(&ManySeries(10), "m", 60_000).is_ok());
    }

    #[test]
    fn timeout_is_reported_as_timeout() {
        let engine = Engine::new(EngineOptions { timeout: std::time::Duration::ZERO, ..EngineOptions::default() });
        let err = engine.range_query(&ManySeries(10), "rate(m[5m])", 0, 3_540_000, 60_000).unwrap_err();
        assert_eq!(err, QueryError::Timeout("expression evaluation"));
        assert_eq!(err.error_type(), "timeout");
    }

    #[test]
    fn a_canceled_query_stops_with_canceled() {
        let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let engine = Engine::new(EngineOptions { cancel: Some(flag.clone()), ..EngineOptions::default() });
        let err = engine.range_query(&ManySeries(10), "sum(rate(m[5m]))", 0, 3_540_000, 60_000).unwrap_err();
        assert_eq!(err, QueryError::Canceled("expression evaluation"));
        assert_eq!(err.error_type(), "canceled");
        flag.store(false, std::sync::atomic::Ordering::Relaxed);
        assert!(engine.range_query(&ManySeries(10), "sum(rate(m[5m]))", 0, 3_540_000, 60_000).is_ok());
    }

    #[test]
    fn parallel_range_functions_match_serial() {
        let q = "rate(m[5m]) * 60";
        let serial = Engine::new(EngineOptions { parallelism: 1, ..EngineOptions::default() })
            .range_query(&ManySeries(3_000), q, 0, 3_540_000, 15_000)
            .unwrap();
        let parallel = Engine::new(EngineOptions { parallelism: 2, ..EngineOptions::default() })
            .range_query(&ManySeries(3_000), q, 0, 3_540_000, 15_000)
            .unwrap();
        assert_eq!(serial.value, parallel.value);
        let QueryValue::Matrix(m) = parallel.value else { panic!("matrix expected") };
        assert_eq!(m.len(), 3_000);
        // A counter rising by 1 a minute: rate × 60 = 1 once the window is past the counter's start (before that,
        // extrapolation stops at the zero crossing, as in Prometheus: 0.2 at 1m).
        assert_eq!(m[0].points[0], (60_000, 0.2));
        let full: Vec<_> = m[0].points.iter().filter(|p| p.0 >= 360_000).collect();
        assert!(full.len() > 200 && full.iter().all(|p| (p.1 - 1.0).abs() < 1e-9), "{:?}", &full[..5]);
    }
}
