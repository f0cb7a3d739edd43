//! `GET /api/traces/<id>` (v1: a `Trace`, JSON `{"batches": …}`) and `GET /api/v2/traces/<id>` (a
//! `TraceByIDResponse`: `{"trace": {"resourceSpans": …}, "metrics": …, "status", "message"}`), protobuf when the
//! client accepts `application/protobuf` (what Grafana asks for), JSON otherwise. An unknown trace is a 404 with
//! an empty body. A trace whose span limit refused spans at ingest is reported by v2 as `PARTIAL` with a message
//! saying how many spans are missing.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use oxeye_model::Trace;
use oxeye_storage_api::TracesReader;
use prost::Message;
use serde_json::json;

use super::json::trace_json;
use super::params::{seconds_range, trace_id};
use crate::prom_read::blocking;
use crate::{ApiError, ApiState};

/// Tempo's `Trace` message (`resourceSpans = 1`).
#[derive(Clone, PartialEq, prost::Message)]
struct TempoTrace {
    #[prost(message, repeated, tag = "1")]
    resource_spans: Vec<ResourceSpans>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct TraceByIdMetrics {
    #[prost(uint64, tag = "1")]
    inspected_bytes: u64,
}

/// Tempo's `TraceByIDResponse`; `status` is `PartialStatus` (0 complete, 1 partial).
#[derive(Clone, PartialEq, prost::Message)]
struct TraceByIdResponse {
    #[prost(message, optional, tag = "1")]
    trace: Option<TempoTrace>,
    #[prost(message, optional, tag = "2")]
    metrics: Option<TraceByIdMetrics>,
    #[prost(int32, tag = "3")]
    status: i32,
    #[prost(string, tag = "4")]
    message: String,
}

fn wants_protobuf(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("application/protobuf") || accept.contains("application/x-protobuf"))
}

async fn find(
    state: &ApiState,
    headers: &HeaderMap,
    id: &str,
    params: &HashMap<String, String>,
) -> Result<Option<Trace>, ApiError> {
    let trace_id = trace_id(id)?;
    let range = seconds_range(params)?;
    let Some(reader) = super::reader(state, headers)? else { return Ok(None) };
    blocking(move || reader.trace_by_id(trace_id, range).map_err(|e| ApiError::Internal(e.to_string()))).await
}

fn not_found() -> Response {
    StatusCode::NOT_FOUND.into_response()
}

fn protobuf(bytes: Vec<u8>) -> Response {
    (StatusCode::OK, [("content-type", "application/protobuf")], bytes).into_response()
}

/// `GET /api/traces/<id>`.
pub(super) async fn trace_v1(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let Some(trace) = find(&state, &headers, &id, &params).await? else { return Ok(not_found()) };
    let request = oxeye_ingest::otlp_traces::to_request(&trace.spans);
    if wants_protobuf(&headers) {
        return Ok(protobuf(TempoTrace { resource_spans: request.resource_spans }.encode_to_vec()));
    }
    Ok(axum::Json(trace_json(&request, "batches")).into_response())
}

/// The v2 status and message of a trace whose span limit refused spans.
fn partial_message(trace: &Trace) -> Option<String> {
    (trace.truncated_spans > 0).then(|| {
        format!(
            "Trace exceeded the limit of spans per trace: {} span(s) were refused at ingest, a partial trace is returned",
            trace.truncated_spans
        )
    })
}

/// `GET /api/v2/traces/<id>`.
pub(super) async fn trace_v2(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let Some(trace) = find(&state, &headers, &id, &params).await? else { return Ok(not_found()) };
    let request = oxeye_ingest::otlp_traces::to_request(&trace.spans);
    let message = partial_message(&trace);
    if wants_protobuf(&headers) {
        let response = TraceByIdResponse {
            trace: Some(TempoTrace { resource_spans: request.resource_spans }),
            metrics: Some(TraceByIdMetrics { inspected_bytes: 0 }),
            status: i32::from(message.is_some()),
            message: message.unwrap_or_default(),
        };
        return Ok(protobuf(response.encode_to_vec()));
    }
    let mut body = json!({ "trace": trace_json(&request, "resourceSpans"), "metrics": {} });
    if let Some(message) = message {
        body["status"] = json!("PARTIAL");
        body["message"] = json!(message);
    }
    Ok(axum::Json(body).into_response())
}
