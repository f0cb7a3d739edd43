//! PromQL endpoints: `/api/v1/query`, `/api/v1/query_range` and `/api/v1/format_query`, in Prometheus 3's
//! parameters, validation order, error wording and response shapes (`web/api/v1/api.go`).
//!
//! Evaluation is CPU work and runs on a blocking thread. At most `max_concurrency` queries evaluate at once;
//! others wait for a slot in arrival order, and the wait counts against the query's timeout, as in Prometheus
//! (whose engine starts the timeout before its active-query gate). The timeout is the configured one, shortened by
//! a request's `timeout` parameter.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use oxeye_model::TenantId;
use oxeye_promql::{Engine, QueryError, QueryResult, QueryValue};
use oxeye_storage_api::MetricsReader;

use crate::params::{Params, invalid_param};
use crate::prom_json::{self, format_float_f, write_go_float, write_labels, write_sample_value, write_str};
use crate::self_metrics::QueryGauge;
use crate::tenant::tenant_from_headers;
use crate::{ApiError, ApiState, empty_reader::EmptyReader};

/// Most points per series a range query may return (Prometheus: "for safety").
const MAX_POINTS_PER_SERIES: i128 = 11_000;

/// How long past its deadline an evaluation may run before the API answers `timeout` itself. The engine checks
/// its deadline between steps and normally answers first; this covers a storage read that does not return.
const DEADLINE_GRACE: Duration = Duration::from_secs(1);

/// `GET|POST /api/v1/query`: `query`, `time` (default now), `timeout`, `limit`, `lookback_delta`, `stats`.
pub async fn instant_query(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &headers, &body)?;
    let limit = params.limit()?;
    let time_ms = params.time_or("time", crate::write::now_ms())?;
    let budget = QueryBudget::parse(&params)?;
    let tenant = tenant_from_headers(&headers)?;
    let expression = params.value("query").to_string();
    let evaluation =
        evaluate(&state, &tenant, budget, move |engine, reader| engine.instant_query(reader, &expression, time_ms))
            .await?;
    Ok(respond(evaluation, limit, params.value("stats")))
}

/// `GET|POST /api/v1/query_range`: `query`, `start`, `end`, `step` (float seconds or a duration), `timeout`,
/// `limit`, `lookback_delta`, `stats`.
pub async fn range_query(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &headers, &body)?;
    let limit = params.limit()?;
    let start_ms = params.time_required("start")?;
    let end_ms = params.time_required("end")?;
    if end_ms < start_ms {
        return Err(invalid_param("end", "end timestamp must not be before start time"));
    }
    let step_ns =
        params.duration_ns("step")?.ok_or_else(|| invalid_param("step", "cannot parse \"\" to a valid duration"))?;
    // The engine works in whole milliseconds (Prometheus truncates the step the same way); a step under 1 ms is
    // refused here rather than evaluated with a zero step.
    let step_ms = step_ns / 1_000_000;
    if step_ms <= 0 {
        return Err(invalid_param(
            "step",
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    let range_ns = (i128::from(end_ms) - i128::from(start_ms)) * 1_000_000;
    if range_ns / i128::from(step_ns) > MAX_POINTS_PER_SERIES {
        return Err(ApiError::BadData(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"
                .into(),
        ));
    }
    let budget = QueryBudget::parse(&params)?;
    let tenant = tenant_from_headers(&headers)?;
    let expression = params.value("query").to_string();
    let evaluation = evaluate(&state, &tenant, budget, move |engine, reader| {
        engine.range_query(reader, &expression, start_ms, end_ms, step_ms)
    })
    .await?;
    Ok(respond(evaluation, limit, params.value("stats")))
}

/// `GET|POST /api/v1/format_query`: the query pretty-printed, as a JSON string.
pub async fn format_query(RawQuery(query): RawQuery, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let params = Params::parse(query, &headers, &body)?;
    let formatted = oxeye_promql::format_query(params.value("query"))?;
    let mut data = String::with_capacity(formatted.len() + 2);
    write_str(&mut data, &formatted);
    Ok(prom_json::success(&data, &[], &[]))
}

/// Per-request evaluation settings: the `timeout` and `lookback_delta` parameters.
pub(crate) struct QueryBudget {
    /// The request's `timeout`, if given (it can only shorten the configured timeout).
    timeout_ns: Option<i64>,
    /// The request's `lookback_delta` in milliseconds, if given and positive.
    lookback_delta_ms: Option<i64>,
}

impl QueryBudget {
    fn parse(params: &Params) -> Result<Self, ApiError> {
        let timeout_ns = params.duration_ns("timeout")?;
        let lookback_delta_ms = match params.value("lookback_delta") {
            "" => None,
            text => {
                let nanos = crate::time::parse_duration_ns(text)
                    .map_err(|e| ApiError::BadData(format!("error parsing lookback delta duration: {e}")))?;
                // Prometheus: zero or negative means the engine's default.
                (nanos > 0).then(|| (nanos / 1_000_000).max(1))
            }
        };
        Ok(Self { timeout_ns, lookback_delta_ms })
    }
}

/// A finished evaluation and how long it took.
pub(crate) struct Evaluation {
    result: QueryResult,
    queue_time: Duration,
    eval_time: Duration,
    total_time: Duration,
}

/// Evaluates a query for `tenant` within the query limits: waits for a slot (up to the deadline), then runs
/// `run` on a blocking thread with an engine whose timeout is what is left of the deadline.
/// Sets the flag when dropped, i.e. when the request handling ends for any reason.
pub(crate) struct CancelOnDrop(pub(crate) Arc<std::sync::atomic::AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

async fn evaluate(
    state: &ApiState,
    tenant: &TenantId,
    budget: QueryBudget,
    run: impl FnOnce(&Engine, &dyn MetricsReader) -> Result<QueryResult, QueryError> + Send + 'static,
) -> Result<Evaluation, ApiError> {
    let started = tokio::time::Instant::now();
    let configured = state.config.query.engine.timeout;
    let timeout = match budget.timeout_ns {
        Some(nanos) => configured.min(Duration::from_nanos(u64::try_from(nanos).unwrap_or(0))),
        None => configured,
    };
    // A deadline too far to represent is no deadline: a year stands in for it.
    let deadline = started.checked_add(timeout).unwrap_or_else(|| started + Duration::from_secs(365 * 86_400));

    let permit = {
        let _queued = state.metrics.enter(QueryGauge::Queued);
        match tokio::time::timeout_at(deadline, state.query_slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_closed)) => unreachable!("BUG: the query slots semaphore is never closed"),
            Err(_elapsed) => return Err(QueryError::Timeout("query queue").into()),
        }
    };
    let queue_time = started.elapsed();
    let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
    if remaining.is_zero() {
        return Err(QueryError::Timeout("query queue").into());
    }

    let mut options = state.config.query.engine.clone();
    options.timeout = remaining;
    if let Some(lookback_delta_ms) = budget.lookback_delta_ms {
        options.lookback_delta_ms = lookback_delta_ms;
    }
    // If the client goes away, axum drops this future: the guard then tells the evaluation to stop (Prometheus
    // cancels a query whose request context ends).
    let cancel = Arc::new(std::sync::atomic::AtomicBool::new(false));
    options.cancel = Some(cancel.clone());
    let _cancel_on_drop = CancelOnDrop(cancel);
    let engine = Engine::new(options);
    let reader: Arc<dyn MetricsReader> = match state.store.existing_tenant(tenant) {
        Some(db) => db,
        None => Arc::new(EmptyReader),
    };
    let metrics = state.metrics.clone();
    let task = tokio::task::spawn_blocking(move || {
        // The slot is held until evaluation really ends, even if the client is gone or the API answered first.
        let _permit = permit;
        let _in_flight = metrics.enter(QueryGauge::InFlight);
        let eval_started = std::time::Instant::now();
        let result = run(&engine, reader.as_ref());
        (result, eval_started.elapsed())
    });
    let answer_by = deadline.checked_add(DEADLINE_GRACE).unwrap_or(deadline);
    let (result, eval_time) = match tokio::time::timeout_at(answer_by, task).await {
        Ok(Ok(done)) => done,
        Ok(Err(join_error)) => {
            return Err(ApiError::Execution(format!("unexpected error: {}", panic_message(join_error))));
        }
        Err(_elapsed) => return Err(QueryError::Timeout("expression evaluation").into()),
    };
    let result = result?;
    state.metrics.count_query_samples(tenant, result.stats.samples_loaded);
    Ok(Evaluation { result, queue_time, eval_time, total_time: started.elapsed() })
}

/// The message of a panic in an evaluation task (Prometheus recovers engine panics as "unexpected error: …").
fn panic_message(join_error: tokio::task::JoinError) -> String {
    if !join_error.is_panic() {
        return join_error.to_string();
    }
    let payload = join_error.into_panic();
    if let Some(text) = payload.downcast_ref::<&str>() {
        return (*text).to_string();
    }
    payload.downcast_ref::<String>().cloned().unwrap_or_else(|| "panic".to_string())
}

/// The success response: `limit` truncates vectors and matrices with a warning; a non-empty `stats` adds
/// statistics (values other than `true` and `all` with Prometheus's deprecation warning).
fn respond(evaluation: Evaluation, limit: usize, stats: &str) -> Response {
    let Evaluation { result, queue_time, eval_time, total_time } = evaluation;
    let QueryResult { mut value, annotations, stats: query_stats } = result;
    let mut warnings = annotations.warnings;
    if limit > 0 && truncate(&mut value, limit) {
        warnings.push("results truncated due to limit".to_string());
    }
    if !matches!(stats, "" | "true" | "all") {
        warnings.push(format!(
            "value {stats:?} for parameter \"stats\" is deprecated and will be rejected in the next major release, use \"true\" or \"all\""
        ));
    }
    let mut data = String::with_capacity(256);
    data.push_str("{\"resultType\":");
    write_str(&mut data, value.type_name());
    data.push_str(",\"result\":");
    write_value(&mut data, &value);
    if !stats.is_empty() {
        data.push_str(",\"stats\":");
        let timings = [
            ("evalTotalTime", eval_time),
            ("resultSortTime", Duration::ZERO),
            ("queryPreparationTime", Duration::ZERO),
            ("innerEvalTime", eval_time),
            ("execQueueTime", queue_time),
            ("execTotalTime", total_time),
        ];
        data.push_str("{\"timings\":{");
        for (index, (name, duration)) in timings.into_iter().enumerate() {
            if index > 0 {
                data.push(',');
            }
            let _ = write!(data, "\"{name}\":");
            write_go_float(&mut data, duration.as_secs_f64());
        }
        let _ = write!(
            data,
            "}},\"samples\":{{\"totalQueryableSamples\":{},\"samplesRead\":{},\"peakSamples\":{}}}}}",
            query_stats.samples_loaded, query_stats.samples_loaded, query_stats.peak_samples
        );
    }
    data.push('}');
    prom_json::success(&data, &warnings, &annotations.infos)
}

/// Keeps the first `limit` series of a vector or matrix (Prometheus's `truncateResults`); true if any were cut.
fn truncate(value: &mut QueryValue, limit: usize) -> bool {
    match value {
        QueryValue::Vector(samples) if samples.len() > limit => samples.truncate(limit),
        QueryValue::Matrix(series) if series.len() > limit => series.truncate(limit),
        _ => return false,
    }
    true
}

/// Appends a query value in Prometheus's result shape.
fn write_value(out: &mut String, value: &QueryValue) {
    match value {
        QueryValue::Vector(samples) => {
            out.push('[');
            for (index, sample) in samples.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                write_labels(out, &sample.labels);
                out.push_str(",\"value\":[");
                prom_json::write_timestamp(out, sample.timestamp_ms);
                out.push(',');
                write_sample_value(out, sample.value);
                out.push_str("]}");
            }
            out.push(']');
        }
        QueryValue::Matrix(series) => {
            out.push('[');
            for (index, one) in series.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                write_labels(out, &one.labels);
                // Prometheus leaves `values` out of a series without float points.
                if !one.points.is_empty() {
                    out.push_str(",\"values\":[");
                    for (point_index, (timestamp_ms, point)) in one.points.iter().enumerate() {
                        if point_index > 0 {
                            out.push(',');
                        }
                        out.push('[');
                        prom_json::write_timestamp(out, *timestamp_ms);
                        out.push(',');
                        write_sample_value(out, *point);
                        out.push(']');
                    }
                    out.push(']');
                }
                out.push('}');
            }
            out.push(']');
        }
        // `promql.Scalar` and `promql.String` marshal through encoding/json: the timestamp is the float t/1000.
        QueryValue::Scalar { timestamp_ms, value } => {
            out.push('[');
            write_go_float(out, *timestamp_ms as f64 / 1000.0);
            out.push(',');
            write_str(out, &format_float_f(*value));
            out.push(']');
        }
        QueryValue::String { timestamp_ms, value } => {
            out.push('[');
            write_go_float(out, *timestamp_ms as f64 / 1000.0);
            out.push(',');
            write_str(out, value);
            out.push(']');
        }
    }
}

#[cfg(test)]
mod tests {
    use oxeye_model::Labels;
    use oxeye_promql::{InstantSample, RangeSeries};

    use super::*;

    fn render(value: &QueryValue) -> String {
        let mut out = String::new();
        write_value(&mut out, value);
        out
    }

    #[test]
    fn values_render_in_prometheus_shapes() {
        let labels = Labels::from_pairs([("__name__", "up"), ("job", "a")]).unwrap();
        let vector = QueryValue::Vector(vec![InstantSample {
            labels: labels.clone(),
            timestamp_ms: 1_435_781_451_781,
            value: 1.0,
        }]);
        assert_eq!(render(&vector), r#"[{"metric":{"__name__":"up","job":"a"},"value":[1435781451.781,"1"]}]"#);
        let matrix = QueryValue::Matrix(vec![
            RangeSeries {
                labels: labels.clone(),
                points: vec![(1_435_781_430_000, 0.5), (1_435_781_445_500, f64::NAN)],
            },
            RangeSeries { labels: Labels::empty(), points: vec![] },
        ]);
        assert_eq!(
            render(&matrix),
            r#"[{"metric":{"__name__":"up","job":"a"},"values":[[1435781430,"0.5"],[1435781445.500,"NaN"]]},{"metric":{}}]"#
        );
        let scalar = QueryValue::Scalar { timestamp_ms: 1_435_781_451_500, value: 2.0 };
        assert_eq!(render(&scalar), r#"[1435781451.5,"2"]"#);
        let tiny = QueryValue::Scalar { timestamp_ms: 0, value: 1e-7 };
        assert_eq!(render(&tiny), r#"[0,"0.0000001"]"#, "scalars always use the 'f' format");
        let string = QueryValue::String { timestamp_ms: 1_435_781_451_000, value: "a<b".into() };
        assert_eq!(render(&string), r#"[1435781451,"a\u003cb"]"#);
    }

    /// Evaluates with a closure reporting the engine's settings as a scalar: its timeout (seconds) as the value,
    /// its lookback delta as the timestamp.
    async fn engine_settings(state: &ApiState, budget: QueryBudget) -> Result<Evaluation, ApiError> {
        evaluate(state, &TenantId::default_tenant(), budget, |engine, _reader| {
            let options = engine.options();
            let value =
                QueryValue::Scalar { timestamp_ms: options.lookback_delta_ms, value: options.timeout.as_secs_f64() };
            Ok(QueryResult { value, annotations: Default::default(), stats: Default::default() })
        })
        .await
    }

    fn scalar(evaluation: &Evaluation) -> (i64, f64) {
        match evaluation.result.value {
            QueryValue::Scalar { timestamp_ms, value } => (timestamp_ms, value),
            _ => unreachable!("BUG: engine_settings returns a scalar"),
        }
    }

    #[tokio::test]
    async fn the_wait_for_a_slot_counts_against_the_timeout() {
        let mut config = crate::ApiConfig::default();
        config.query.max_concurrency = 1;
        config.query.engine.timeout = Duration::from_secs(2);
        let h = crate::tests::harness_with_config(|_| {}, config);

        let evaluation = engine_settings(&h.state, QueryBudget { timeout_ns: None, lookback_delta_ms: None }).await;
        let (lookback, timeout) = scalar(&evaluation.unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(lookback, 300_000, "the configured lookback delta by default");
        assert!(timeout > 1.9 && timeout <= 2.0, "{timeout}");

        let shorter = QueryBudget { timeout_ns: Some(500_000_000), lookback_delta_ms: Some(60_000) };
        let (lookback, timeout) = scalar(&engine_settings(&h.state, shorter).await.unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(lookback, 60_000);
        assert!(timeout <= 0.5, "a request's timeout shortens the configured one: {timeout}");
        let longer = QueryBudget { timeout_ns: Some(3_600_000_000_000), lookback_delta_ms: None };
        let (_, timeout) = scalar(&engine_settings(&h.state, longer).await.unwrap_or_else(|e| panic!("{e}")));
        assert!(timeout <= 2.0, "but never lengthens it: {timeout}");

        let held = h.state.query_slots.clone().acquire_owned().await.unwrap();
        let release = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            drop(held);
        });
        let evaluation = engine_settings(&h.state, QueryBudget { timeout_ns: None, lookback_delta_ms: None })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        release.await.unwrap();
        assert!(evaluation.queue_time >= Duration::from_millis(300), "{:?}", evaluation.queue_time);
        let (_, timeout) = scalar(&evaluation);
        assert!(timeout <= 1.7, "what is left after the wait: {timeout}");
    }

    #[tokio::test]
    async fn a_panicking_evaluation_is_an_execution_error() {
        let h = crate::tests::harness();
        let budget = QueryBudget { timeout_ns: None, lookback_delta_ms: None };
        let result = evaluate(&h.state, &TenantId::default_tenant(), budget, |_, _| panic!("boom")).await;
        match result {
            Err(ApiError::Execution(message)) => assert_eq!(message, "unexpected error: boom"),
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("a panic is not a result"),
        }
        assert_eq!(h.state.query_slots.available_permits(), 20, "the slot is released");
    }

    #[tokio::test]
    async fn query_errors_map_to_prometheus_statuses_and_bodies() {
        for (error, status, body) in [
            (QueryError::BadData("b".into()), 400, r#"{"status":"error","errorType":"bad_data","error":"b"}"#),
            (QueryError::Execution("e".into()), 422, r#"{"status":"error","errorType":"execution","error":"e"}"#),
            (
                QueryError::Timeout("query queue"),
                503,
                r#"{"status":"error","errorType":"timeout","error":"query timed out in query queue"}"#,
            ),
            (
                QueryError::Canceled("expression evaluation"),
                499,
                r#"{"status":"error","errorType":"canceled","error":"query was canceled in expression evaluation"}"#,
            ),
            (QueryError::Internal("i".into()), 500, r#"{"status":"error","errorType":"internal","error":"i"}"#),
        ] {
            let response = axum::response::IntoResponse::into_response(ApiError::from(error));
            assert_eq!(response.status().as_u16(), status);
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
            assert_eq!(String::from_utf8_lossy(&bytes), body);
        }
    }

    #[test]
    fn limit_truncates_vectors_and_matrices_only() {
        let sample = |v: f64| InstantSample { labels: Labels::empty(), timestamp_ms: 0, value: v };
        let mut vector = QueryValue::Vector(vec![sample(1.0), sample(2.0), sample(3.0)]);
        assert!(truncate(&mut vector, 2));
        assert!(matches!(&vector, QueryValue::Vector(v) if v.len() == 2));
        assert!(!truncate(&mut vector, 2));
        let mut scalar = QueryValue::Scalar { timestamp_ms: 0, value: 1.0 };
        assert!(!truncate(&mut scalar, 1));
    }
}
