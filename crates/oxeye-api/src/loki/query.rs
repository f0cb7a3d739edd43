//! LogQL queries: `/loki/api/v1/query_range` and `/loki/api/v1/query` (GET and POST form).
//!
//! The query is parsed with `oxeye-logql` and evaluated on a blocking thread against the tenant's logs, bounded
//! by `ApiConfig::logql.timeout`. Results are rendered in Loki's shapes (`json.rs`): streams for log queries
//! (with the `categorize-labels` encoding when the client sends `X-Loki-Response-Encoding-Flags:
//! categorize-labels`), a matrix for range metric queries, a vector or scalar for instant ones; every answer has
//! the `stats` block. Errors are plain text: 400 for the client's mistakes, 500 for the server's.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use oxeye_logql::{Engine, EngineOptions, Expr, InstantParams, QueryOutput, QueryValue, RangeParams, StreamResult};
use oxeye_logs_store::TenantLogsReader;
use oxeye_storage_api::LogsReader;

use super::bad_request as bad;
use super::json::{EntryJson, QueryStats, write_entry, write_labels, write_sample, write_seconds, write_series};
use super::json::{write_stats, write_value};
use super::params::{bounds, direction, interval, limit, step, time};
use crate::params::Params;
use crate::tenant::tenant_from_headers;
use crate::{ApiError, ApiState};

/// Most points a range query may return per series (Loki and Prometheus: 11,000).
const MAX_POINTS: i64 = 11_000;
const CATEGORIZE_LABELS: &str = "categorize-labels";

fn query_error(error: oxeye_logql::QueryError) -> ApiError {
    let status = if error.is_client_error() { StatusCode::BAD_REQUEST } else { StatusCode::INTERNAL_SERVER_ERROR };
    ApiError::PlainText(status, error.to_string())
}

fn parse_query(params: &Params) -> Result<Expr, ApiError> {
    oxeye_logql::parse(params.value("query")).map_err(|e| bad(e.to_string()))
}

fn categorize_labels(headers: &HeaderMap) -> bool {
    headers
        .get_all("x-loki-response-encoding-flags")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|flag| flag.trim() == CATEGORIZE_LABELS))
}

/// A reader whose scans stop once `cancel` is set (the query timed out or its client went away): the engine's
/// sink is wrapped so the store ends the scan at the next row.
struct CancellableReader<'a> {
    inner: &'a dyn LogsReader,
    cancel: &'a std::sync::atomic::AtomicBool,
}

impl LogsReader for CancellableReader<'_> {
    fn scan(
        &self,
        request: &oxeye_storage_api::LogScanRequest,
        sink: &mut dyn oxeye_storage_api::LogSink,
    ) -> Result<oxeye_storage_api::LogScanStats, oxeye_storage_api::ReadError> {
        let cancel = self.cancel;
        let mut checked = |stream: oxeye_storage_api::StreamRef<'_>, row: oxeye_storage_api::LogRow<'_>| {
            if cancel.load(std::sync::atomic::Ordering::Relaxed) {
                return std::ops::ControlFlow::Break(());
            }
            sink.row(stream, row)
        };
        self.inner.scan(request, &mut checked)
    }

    fn streams(
        &self,
        matchers: &[oxeye_storage_api::Matcher],
        start_ns: i64,
        end_ns: i64,
    ) -> Result<Vec<oxeye_model::Labels>, oxeye_storage_api::ReadError> {
        self.inner.streams(matchers, start_ns, end_ns)
    }

    fn volumes(
        &self,
        matchers: &[oxeye_storage_api::Matcher],
        start_ns: i64,
        end_ns: i64,
    ) -> Result<Vec<oxeye_storage_api::StreamVolume>, oxeye_storage_api::ReadError> {
        self.inner.volumes(matchers, start_ns, end_ns)
    }
}

/// Runs `work` with the tenant's reader on a blocking thread, within the configured timeout. When the timeout
/// passes or the request is dropped (the client went away), the evaluation's scans are stopped.
async fn evaluate(
    state: &ApiState,
    headers: &HeaderMap,
    work: impl FnOnce(&Engine, &dyn LogsReader) -> Result<QueryOutput, oxeye_logql::QueryError> + Send + 'static,
) -> Result<QueryOutput, ApiError> {
    let tenant = tenant_from_headers(headers).map_err(|e| bad(e.to_string()))?;
    let reader = state.logs.existing_tenant(&tenant).map(TenantLogsReader::new);
    let options =
        EngineOptions { max_entries_limit: state.config.logql.max_entries_limit as u32, ..Default::default() };
    let timeout = state.config.logql.timeout;
    let cancel = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let _cancel_on_drop = crate::query::CancelOnDrop(cancel.clone());
    let task = tokio::task::spawn_blocking(move || {
        let engine = Engine::new(options);
        let empty = super::tail::BatchReader { streams: &[] };
        // A tenant that never wrote logs reads as an empty store (the query must still parse and answer).
        let inner: &dyn LogsReader = match &reader {
            Some(reader) => reader,
            None => &empty,
        };
        work(&engine, &CancellableReader { inner, cancel: &cancel })
    });
    match tokio::time::timeout(timeout, task).await {
        Err(_) => Err(ApiError::PlainText(
            StatusCode::GATEWAY_TIMEOUT,
            format!("query timed out after {}s (logql timeout)", timeout.as_secs_f64()),
        )),
        Ok(Err(join)) => Err(ApiError::Internal(format!("query task failed: {join}"))),
        Ok(Ok(result)) => result.map_err(query_error),
    }
}

/// `GET|POST /loki/api/v1/query_range`.
pub async fn query_range(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let received = Instant::now();
    let params = Params::parse(query, &headers, &body)?;
    let expr = parse_query(&params)?;
    let (start_ns, end_ns) = bounds(&params, oxeye_logs_store::now_ns())?;
    if end_ns < start_ns {
        return Err(bad("end timestamp must not be before or equal to start time"));
    }
    let step_ns = step(&params, start_ns, end_ns)?;
    if step_ns <= 0 {
        return Err(bad("zero or negative query resolution step widths are not accepted. Try a positive integer"));
    }
    if !expr.is_log_query() && (end_ns - start_ns) / step_ns > MAX_POINTS {
        return Err(bad(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ));
    }
    let range = RangeParams {
        start_ns,
        end_ns,
        step_ns,
        interval_ns: interval(&params)?,
        direction: direction(&params)?,
        limit: limit(&params)? as u32,
    };
    let output = evaluate(&state, &headers, move |engine, reader| engine.range(reader, &expr, range)).await?;
    Ok(render(&output, categorize_labels(&headers), received))
}

/// `GET|POST /loki/api/v1/query`: an instant query at `time` (default now).
pub async fn query(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let received = Instant::now();
    let params = Params::parse(query, &headers, &body)?;
    let expr = parse_query(&params)?;
    let instant = InstantParams {
        time_ns: time(&params, oxeye_logs_store::now_ns())?,
        direction: direction(&params)?,
        limit: limit(&params)? as u32,
    };
    let output = evaluate(&state, &headers, move |engine, reader| engine.instant(reader, &expr, instant)).await?;
    Ok(render(&output, categorize_labels(&headers), received))
}

/// Loki's success envelope around a result.
pub(crate) fn render(output: &QueryOutput, categorize: bool, received: Instant) -> Response {
    let mut body = String::with_capacity(4096);
    body.push_str("{\"status\":\"success\"");
    if !output.warnings.is_empty() {
        body.push_str(",\"warnings\":[");
        for (index, warning) in output.warnings.iter().enumerate() {
            if index > 0 {
                body.push(',');
            }
            oxeye_model::go_json::write_string(&mut body, warning);
        }
        body.push(']');
    }
    body.push_str(",\"data\":{\"resultType\":");
    match &output.value {
        QueryValue::Streams(streams) => {
            body.push_str("\"streams\"");
            let categorized = if categorize { output.value.categorized_streams() } else { None };
            if categorized.is_some() {
                body.push_str(",\"encodingFlags\":[\"categorize-labels\"]");
            }
            body.push_str(",\"result\":");
            write_streams(&mut body, categorized.as_deref().unwrap_or(streams), categorized.is_some());
        }
        QueryValue::Vector(samples) => {
            body.push_str("\"vector\",\"result\":[");
            for (index, sample) in samples.iter().enumerate() {
                if index > 0 {
                    body.push(',');
                }
                write_sample(&mut body, &sample.labels, sample.timestamp_ms * 1_000_000, sample.value);
            }
            body.push(']');
        }
        QueryValue::Matrix(series) => {
            body.push_str("\"matrix\",\"result\":[");
            for (index, one) in series.iter().enumerate() {
                if index > 0 {
                    body.push(',');
                }
                write_series(&mut body, &one.labels, one.points.iter().map(|(ms, value)| (ms * 1_000_000, *value)));
            }
            body.push(']');
        }
        QueryValue::Scalar { timestamp_ms, value } => {
            body.push_str("\"scalar\",\"result\":[");
            write_seconds(&mut body, timestamp_ms * 1_000_000);
            body.push(',');
            write_value(&mut body, *value);
            body.push(']');
        }
    }
    body.push_str(",\"stats\":");
    let stats = &output.stats;
    write_stats(
        &mut body,
        &QueryStats {
            exec_time_seconds: stats.exec_time.as_secs_f64(),
            queue_time_seconds: (received.elapsed().saturating_sub(stats.exec_time)).as_secs_f64(),
            total_bytes_processed: stats.total_bytes_processed,
            total_lines_processed: stats.total_lines_processed,
            total_entries_returned: stats.total_entries_returned,
            total_post_filter_lines: stats.total_post_filter_lines,
            structured_metadata_bytes: stats.total_structured_metadata_bytes_processed,
            store: stats.store,
        },
    );
    body.push_str("}}\n");
    (StatusCode::OK, [("content-type", "application/json; charset=UTF-8")], body).into_response()
}

fn write_streams(out: &mut String, streams: &[StreamResult], categorized: bool) {
    out.push('[');
    for (index, stream) in streams.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str("{\"stream\":");
        write_labels(out, stream.labels.iter());
        out.push_str(",\"values\":[");
        for (entry_index, entry) in stream.entries.iter().enumerate() {
            if entry_index > 0 {
                out.push(',');
            }
            let json = EntryJson {
                timestamp_ns: entry.timestamp_ns,
                line: &entry.line,
                structured_metadata: entry.labels.structured_metadata.as_slice(),
                parsed: entry.labels.parsed.as_slice(),
            };
            write_entry(out, &json, categorized);
        }
        out.push_str("]}");
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use std::ops::ControlFlow;
    use std::sync::atomic::{AtomicBool, Ordering};

    use oxeye_model::{LogEntry, LogStream};
    use oxeye_storage_api::{Direction, LogFilterHints, LogRow, LogScanRequest, LogsReader, Matcher, StreamRef};

    use super::CancellableReader;
    use crate::loki::tail::BatchReader;

    #[test]
    fn a_cancelled_scan_stops_at_the_next_row() {
        let streams = vec![LogStream {
            labels: oxeye_model::Labels::from_pairs([("app", "a")]).unwrap(),
            entries: (0..10).map(|i| LogEntry::new(i, format!("line {i}"))).collect(),
        }];
        let inner = BatchReader { streams: &streams };
        let cancel = AtomicBool::new(false);
        let reader = CancellableReader { inner: &inner, cancel: &cancel };
        let request = LogScanRequest {
            matchers: vec![Matcher::equal("app", "a")],
            start_ns: 0,
            end_ns: 100,
            direction: Direction::Forward,
            hints: LogFilterHints::default(),
        };
        let mut seen = 0;
        reader
            .scan(&request, &mut |_: StreamRef<'_>, _: LogRow<'_>| {
                seen += 1;
                if seen == 3 {
                    cancel.store(true, Ordering::Relaxed);
                }
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(seen, 3, "rows after the cancellation were not handed to the engine");
    }
}
