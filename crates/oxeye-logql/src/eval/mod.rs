//! The LogQL evaluator over a [`LogsReader`], following Loki 3's engine (`pkg/logql`):
//! - log queries (`log_query.rs`) scan `[start, end)`, run the pipeline, and return the first `limit` entries in the
//!   query's direction (ties broken by the stream's label string), optionally thinned to one entry per `interval`;
//! - range aggregations (`range_agg.rs`) scan `(start - range - offset, end - offset]` once and evaluate every step
//!   over the window `(t - offset - range, t - offset]` (start exclusive, end inclusive, as Loki's range iterators);
//! - vector aggregations (`aggregate.rs`), binary operators (`binary.rs`), `label_replace` and `vector()` work step
//!   by step on the results, with Loki's semantics (division by zero is NaN, comparisons without `bool` keep the
//!   vector side's value, `sum` pushes its grouping into the range aggregation).
//!
//! Instant queries evaluate one step at the given time; log queries are refused as instant queries, as in Loki 3.

pub(crate) mod aggregate;
pub(crate) mod binary;
mod log_query;
mod range_agg;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{Duration, Instant};

use oxeye_model::{Label, Labels};
use oxeye_storage_api::{Direction, LogScanStats, LogsReader};

use crate::error::QueryError;
use crate::parser::ast::{Expr, SampleExpr};

/// Limits of the engine (Loki's per-tenant `max_query_series` and `max_entries_limit_per_query`).
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// Most series a metric query may return; 0 for no limit (Loki's default is 500).
    pub max_series: usize,
    /// Largest `limit` a log query may ask for; 0 for no limit (Loki's default is 5000).
    pub max_entries_limit: u32,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions { max_series: 500, max_entries_limit: 5000 }
    }
}

/// Parameters of a range query (`/loki/api/v1/query_range`), all times in nanoseconds since the epoch.
#[derive(Clone, Copy, Debug)]
pub struct RangeParams {
    /// Inclusive start.
    pub start_ns: i64,
    /// End: exclusive for log queries, the last possible step for metric queries.
    pub end_ns: i64,
    /// Step between evaluations of a metric query (must be positive for metric queries).
    pub step_ns: i64,
    /// Log queries only: at most one entry per interval (0 to return every entry).
    pub interval_ns: i64,
    /// Log queries only: which entries come first (and which are kept when `limit` cuts).
    pub direction: Direction,
    /// Log queries only: most entries returned across all streams.
    pub limit: u32,
}

/// Parameters of an instant query (`/loki/api/v1/query`).
#[derive(Clone, Copy, Debug)]
pub struct InstantParams {
    /// Evaluation time in nanoseconds since the epoch.
    pub time_ns: i64,
    pub direction: Direction,
    pub limit: u32,
}

/// The labels of a log entry by category, for `X-Loki-Response-Encoding-Flags: categorize-labels`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryLabels {
    /// The stream labels left after the pipeline.
    pub stream: Labels,
    pub structured_metadata: Labels,
    /// Labels added by parsers and `label_format`, and `__error__`/`__error_details__`.
    pub parsed: Labels,
}

/// One returned log entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamEntry {
    pub timestamp_ns: i64,
    /// The line after the pipeline (`line_format` may have rewritten it).
    pub line: String,
    pub labels: Arc<EntryLabels>,
    /// Position in the query's direction among all returned entries.
    order: usize,
}

/// Entries sharing one label set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamResult {
    /// Stream labels + structured metadata + parsed labels (Loki's default response), or only the stream labels in
    /// [`QueryValue::categorized_streams`].
    pub labels: Labels,
    /// In the query's direction.
    pub entries: Vec<StreamEntry>,
}

/// One sample of an instant vector.
#[derive(Clone, Debug, PartialEq)]
pub struct VectorSample {
    pub labels: Labels,
    pub timestamp_ms: i64,
    pub value: f64,
}

/// One series of a range result.
#[derive(Clone, Debug, PartialEq)]
pub struct MatrixSeries {
    pub labels: Labels,
    /// (milliseconds, value), ascending.
    pub points: Vec<(i64, f64)>,
}

/// A query's result.
#[derive(Clone, Debug, PartialEq)]
pub enum QueryValue {
    /// Log query: streams sorted by Loki's label string (`{a="1", b="2"}`).
    Streams(Vec<StreamResult>),
    /// Instant metric query: sorted by labels unless the query sorts by value (`sort`, `sort_desc`).
    Vector(Vec<VectorSample>),
    /// Range metric query: series sorted by labels.
    Matrix(Vec<MatrixSeries>),
    /// Instant query of a constant expression.
    Scalar { timestamp_ms: i64, value: f64 },
}

impl QueryValue {
    /// Loki's `categorize-labels` form of a log result: streams keyed by stream labels only, each entry carrying its
    /// structured metadata and parsed labels; `None` for metric results.
    pub fn categorized_streams(&self) -> Option<Vec<StreamResult>> {
        let QueryValue::Streams(streams) = self else {
            return None;
        };
        let mut entries: Vec<&StreamEntry> = streams.iter().flat_map(|stream| stream.entries.iter()).collect();
        entries.sort_by_key(|entry| entry.order);
        let mut grouped: Vec<(String, StreamResult)> = Vec::new();
        for entry in entries {
            let key = label_string(&entry.labels.stream);
            match grouped.iter_mut().find(|(existing, _)| *existing == key) {
                Some((_, stream)) => stream.entries.push(entry.clone()),
                None => grouped
                    .push((key, StreamResult { labels: entry.labels.stream.clone(), entries: vec![entry.clone()] })),
            }
        }
        grouped.sort_by(|a, b| a.0.cmp(&b.0));
        Some(grouped.into_iter().map(|(_, stream)| stream).collect())
    }
}

/// What a query read and returned, for the `stats` block of Loki's responses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueryStats {
    /// Summed over every scan the query made.
    pub store: LogScanStats,
    /// Rows that went through a pipeline.
    pub total_lines_processed: u64,
    /// Bytes of those rows: lines plus structured metadata.
    pub total_bytes_processed: u64,
    /// Structured-metadata bytes of those rows.
    pub total_structured_metadata_bytes_processed: u64,
    /// Rows the pipelines kept.
    pub total_post_filter_lines: u64,
    /// Log entries returned (log queries), or series returned (metric queries).
    pub total_entries_returned: u64,
    /// Time spent evaluating.
    pub exec_time: Duration,
}

/// A query's result with its statistics.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryOutput {
    pub value: QueryValue,
    pub stats: QueryStats,
    /// Warnings for the response's `warnings` field.
    pub warnings: Vec<String>,
}

/// The LogQL engine. Holds only options: the data source is handed to each query.
#[derive(Clone, Debug, Default)]
pub struct Engine {
    options: EngineOptions,
}

/// The steps of an evaluation: `count` times from `start_ns`, `step_ns` apart.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Grid {
    pub start_ns: i64,
    pub step_ns: i64,
    pub count: usize,
}

impl Grid {
    pub(crate) fn time(&self, index: usize) -> i64 {
        self.start_ns + self.step_ns * index as i64
    }

    pub(crate) fn end_ns(&self) -> i64 {
        self.time(self.count.saturating_sub(1))
    }
}

/// A series during evaluation: a value (or none) per step.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Series {
    pub labels: Labels,
    pub values: Vec<Option<f64>>,
}

/// An evaluated (sub)expression.
#[derive(Clone, Debug)]
pub(crate) enum Evaluated {
    Scalar(f64),
    Vector(Vec<Series>),
}

/// Per-query evaluation state.
pub(crate) struct Evaluation<'r> {
    pub reader: &'r dyn LogsReader,
    pub grid: Grid,
    pub stats: QueryStats,
}

impl Engine {
    pub fn new(options: EngineOptions) -> Self {
        Engine { options }
    }

    /// Evaluates a range query. Log queries return [`QueryValue::Streams`], metric queries
    /// [`QueryValue::Matrix`].
    pub fn range(&self, reader: &dyn LogsReader, expr: &Expr, params: RangeParams) -> Result<QueryOutput, QueryError> {
        let started = Instant::now();
        if params.end_ns < params.start_ns {
            return Err(QueryError::BadParameters(format!(
                "invalid query, through < from ({} < {})",
                params.end_ns, params.start_ns
            )));
        }
        let mut output = match expr {
            Expr::Log(log) => {
                self.check_limit(params.limit)?;
                log_query::evaluate(reader, log, &params)?
            }
            Expr::Sample(sample) => {
                if params.step_ns <= 0 {
                    return Err(QueryError::BadParameters(
                        "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
                    ));
                }
                let count = ((params.end_ns - params.start_ns) / params.step_ns) as usize + 1;
                let grid = Grid { start_ns: params.start_ns, step_ns: params.step_ns, count };
                let (evaluated, stats) = self.evaluate_sample(reader, sample, grid)?;
                let matrix = to_matrix(evaluated, grid);
                self.check_series(matrix.len())?;
                let mut stats = stats;
                stats.total_entries_returned = matrix.len() as u64;
                QueryOutput { value: QueryValue::Matrix(matrix), stats, warnings: Vec::new() }
            }
        };
        output.stats.exec_time = started.elapsed();
        Ok(output)
    }

    /// Evaluates an instant query: [`QueryValue::Vector`], or [`QueryValue::Scalar`] for constant expressions. Log
    /// queries are refused (Loki 3 answers 400).
    pub fn instant(
        &self,
        reader: &dyn LogsReader,
        expr: &Expr,
        params: InstantParams,
    ) -> Result<QueryOutput, QueryError> {
        let started = Instant::now();
        let Expr::Sample(sample) = expr else {
            return Err(QueryError::UnsupportedInstantLogQuery);
        };
        let timestamp_ms = params.time_ns.div_euclid(1_000_000);
        let grid = Grid { start_ns: params.time_ns, step_ns: 0, count: 1 };
        let (evaluated, mut stats) = self.evaluate_sample(reader, sample, grid)?;
        let value = match evaluated {
            Evaluated::Scalar(value) => QueryValue::Scalar { timestamp_ms, value },
            Evaluated::Vector(series) => {
                let mut vector: Vec<VectorSample> = series
                    .into_iter()
                    .filter_map(|series| {
                        let value = series.values.first().copied().flatten()?;
                        Some(VectorSample { labels: series.labels, timestamp_ms, value })
                    })
                    .collect();
                self.check_series(vector.len())?;
                match aggregate::outer_sort(sample) {
                    Some(descending) => aggregate::sort_by_value(&mut vector, descending),
                    None => vector.sort_by(|a, b| a.labels.cmp(&b.labels)),
                }
                stats.total_entries_returned = vector.len() as u64;
                QueryValue::Vector(vector)
            }
        };
        stats.exec_time = started.elapsed();
        Ok(QueryOutput { value, stats, warnings: Vec::new() })
    }

    fn check_limit(&self, limit: u32) -> Result<(), QueryError> {
        let maximum = self.options.max_entries_limit;
        if maximum > 0 && limit > maximum {
            return Err(QueryError::TooManyEntries { requested: limit, limit: maximum });
        }
        Ok(())
    }

    fn check_series(&self, count: usize) -> Result<(), QueryError> {
        let maximum = self.options.max_series;
        if maximum > 0 && count > maximum {
            return Err(QueryError::TooManySeries { limit: maximum });
        }
        Ok(())
    }

    fn evaluate_sample(
        &self,
        reader: &dyn LogsReader,
        sample: &SampleExpr,
        grid: Grid,
    ) -> Result<(Evaluated, QueryStats), QueryError> {
        let mut evaluation = Evaluation { reader, grid, stats: QueryStats::default() };
        let evaluated = evaluation.evaluate(sample)?;
        Ok((evaluated, evaluation.stats))
    }
}

impl Evaluation<'_> {
    /// Evaluates a metric expression over the grid.
    pub(crate) fn evaluate(&mut self, expr: &SampleExpr) -> Result<Evaluated, QueryError> {
        match expr {
            SampleExpr::Literal(value) => Ok(Evaluated::Scalar(*value)),
            SampleExpr::Vector(value) => Ok(Evaluated::Vector(vec![Series {
                labels: Labels::empty(),
                values: vec![Some(*value); self.grid.count],
            }])),
            SampleExpr::RangeAggregation(aggregation) => {
                Ok(Evaluated::Vector(self.range_aggregation(aggregation, None)?))
            }
            SampleExpr::VectorAggregation(aggregation) => self.vector_aggregation(aggregation),
            SampleExpr::Binary(binary) => self.binary(binary),
            SampleExpr::LabelReplace(replace) => {
                let inner = self.evaluate(&replace.expr)?;
                Ok(aggregate::label_replace(inner, replace, self.grid.count))
            }
        }
    }
}

/// Range results: a scalar becomes one series without labels (Loki's `PopulateMatrixFromScalar`).
fn to_matrix(evaluated: Evaluated, grid: Grid) -> Vec<MatrixSeries> {
    let series = match evaluated {
        Evaluated::Scalar(value) => vec![Series { labels: Labels::empty(), values: vec![Some(value); grid.count] }],
        Evaluated::Vector(series) => series,
    };
    let mut matrix: Vec<MatrixSeries> = series
        .into_iter()
        .filter_map(|series| {
            let points: Vec<(i64, f64)> = series
                .values
                .iter()
                .enumerate()
                .filter_map(|(index, value)| value.map(|value| (grid.time(index).div_euclid(1_000_000), value)))
                .collect();
            (!points.is_empty()).then_some(MatrixSeries { labels: series.labels, points })
        })
        .collect();
    matrix.sort_by(|a, b| a.labels.cmp(&b.labels));
    matrix
}

/// Prometheus's rendering of a label set (`{a="1", b="2"}`), the key Loki sorts streams by.
pub fn label_string(labels: &Labels) -> String {
    let mut out = String::with_capacity(2 + labels.len() * 16);
    out.push('{');
    for (index, label) in labels.iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        out.push_str(&label.name);
        out.push('=');
        out.push_str(&crate::units::go_quote(&label.value));
    }
    out.push('}');
    out
}

/// Builds [`Labels`] from (name, value) pairs in any order, dropping empty values.
pub(crate) fn labels_from(pairs: &mut [(&str, &str)]) -> Labels {
    crate::pipeline::labels::sorted_labels(pairs)
}

/// Owned labels of a category.
pub(crate) fn owned_labels(pairs: Vec<Label>) -> Labels {
    let mut pairs = pairs;
    pairs.sort();
    pairs.dedup_by(|a, b| a.name == b.name);
    pairs.retain(|label| !label.value.is_empty());
    Labels::from_sorted_unchecked(pairs)
}
