//! OTLP metrics: `POST /v1/metrics` (and Prometheus's `/api/v1/otlp/v1/metrics`) over HTTP with protobuf or JSON
//! bodies, and `MetricsService/Export` over gRPC.
//!
//! Responses follow the OTLP specification: 200 with an `ExportMetricsServiceResponse` (carrying
//! `partial_success` when some data points were refused), in the request's encoding; 400 with a
//! `google.rpc.Status` for a body that cannot be read; 429/`RESOURCE_EXHAUSTED` when a retry may succeed.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use oxeye_ingest::otlp_metrics::{decode_metrics_json, decode_metrics_protobuf, translate_metrics};
use oxeye_model::{RejectReason, TenantId};
use prost::Message;

use crate::ApiState;
use crate::write::store_write;

/// `google.rpc.Status`, the error body OTLP/HTTP uses.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

/// gRPC status codes used in `google.rpc.Status`.
pub(crate) const CODE_INVALID_ARGUMENT: i32 = 3;
pub(crate) const CODE_RESOURCE_EXHAUSTED: i32 = 8;
pub(crate) const CODE_INTERNAL: i32 = 13;
pub(crate) const CODE_UNAVAILABLE: i32 = 14;

/// What an OTLP export came to: the response, or a failure with its HTTP status and `google.rpc` code. Shared by
/// the metrics, logs and traces receivers.
pub(crate) enum ExportOutcome<R> {
    Ok(R),
    Failed { status: StatusCode, code: i32, message: String },
}

impl<R: prost::Message + serde::Serialize> ExportOutcome<R> {
    /// The OTLP/HTTP answer: the response in the request's encoding, or a `google.rpc.Status` in it.
    pub(crate) fn into_http(self, is_json: bool) -> Response {
        match self {
            ExportOutcome::Ok(response) if is_json => {
                (StatusCode::OK, axum::Json(response_json(&response))).into_response()
            }
            ExportOutcome::Ok(response) => {
                (StatusCode::OK, [("content-type", "application/x-protobuf")], response.encode_to_vec()).into_response()
            }
            ExportOutcome::Failed { status, code, message } => error_response(is_json, status, code, message),
        }
    }

    /// The gRPC answer (`RESOURCE_EXHAUSTED` and `UNAVAILABLE` tell clients to retry).
    pub(crate) fn into_grpc(self) -> Result<tonic::Response<R>, tonic::Status> {
        match self {
            ExportOutcome::Ok(response) => Ok(tonic::Response::new(response)),
            ExportOutcome::Failed { code, message, .. } => Err(match code {
                CODE_RESOURCE_EXHAUSTED => tonic::Status::resource_exhausted(message),
                CODE_UNAVAILABLE => tonic::Status::unavailable(message),
                CODE_INVALID_ARGUMENT => tonic::Status::invalid_argument(message),
                _ => tonic::Status::internal(message),
            }),
        }
    }
}

type Outcome = ExportOutcome<ExportMetricsServiceResponse>;

/// The start of every OTLP gRPC export: the tenant from the metadata and a reservation of the write budget (held
/// until the returned permit is dropped).
pub(crate) fn accept_grpc_export<T: prost::Message>(
    state: &ApiState,
    request: tonic::Request<T>,
) -> Result<(TenantId, tokio::sync::OwnedSemaphorePermit, T), tonic::Status> {
    let tenant = grpc_tenant(&request)?;
    let request = request.into_inner();
    let budget = state.reserve_write(request.encoded_len()).ok_or_else(|| {
        tonic::Status::resource_exhausted("too many write bytes in flight on this server, retry later")
    })?;
    Ok((tenant, budget, request))
}

/// Translates and stores one request; shared by HTTP and gRPC.
async fn export(
    state: &ApiState,
    tenant: TenantId,
    request: ExportMetricsServiceRequest,
    protocol: &'static str,
) -> Outcome {
    let delta_state = state.delta_state(&tenant);
    let translated = {
        let mut delta = delta_state.lock().unwrap_or_else(|p| p.into_inner());
        let config = &state.config.otlp_metrics;
        let delta = if config.delta_to_cumulative.enabled { Some(&mut *delta) } else { None };
        translate_metrics(&request, config, delta)
    };
    let translation_partial = translated.partial_success;
    let outcome = match store_write(state, tenant, protocol, translated.write).await {
        Ok(outcome) => outcome,
        Err(error) => {
            let code = if error.status() == StatusCode::SERVICE_UNAVAILABLE { CODE_UNAVAILABLE } else { CODE_INTERNAL };
            return Outcome::Failed { status: error.status(), code, message: error.to_string() };
        }
    };
    if outcome.rejections.iter().any(|r| r.reason == RejectReason::RateLimit) {
        let message = outcome.rejections.iter().map(|r| r.message.as_str()).collect::<Vec<_>>().join("; ");
        return Outcome::Failed { status: StatusCode::TOO_MANY_REQUESTS, code: CODE_RESOURCE_EXHAUSTED, message };
    }
    // Everything refused, by the translator or the store, is reported as partial success.
    let rejected: i64 = outcome.rejections.iter().map(|r| r.samples as i64).sum();
    let partial_success = if rejected > 0 || translation_partial.is_some() {
        let mut messages: Vec<String> = outcome.rejections.iter().take(10).map(|r| r.message.clone()).collect();
        if outcome.rejections.len() > 10 {
            messages.push(format!("… and {} more", outcome.rejections.len() - 10));
        }
        if messages.is_empty()
            && let Some(partial) = &translation_partial
        {
            messages.push(partial.error_message.clone());
        }
        Some(ExportMetricsPartialSuccess { rejected_data_points: rejected, error_message: messages.join("; ") })
    } else {
        None
    };
    Outcome::Ok(ExportMetricsServiceResponse { partial_success })
}

/// An OTLP/JSON response body: fields left unset (`partialSuccess` when nothing was refused) are omitted, as
/// proto3's JSON mapping writes them, rather than written as `null`.
pub(crate) fn response_json(response: &impl serde::Serialize) -> serde_json::Value {
    let mut value = serde_json::to_value(response).unwrap_or_else(|_| serde_json::json!({}));
    if let Some(object) = value.as_object_mut() {
        object.retain(|_, field| !field.is_null());
    }
    value
}

/// An OTLP/HTTP error: a `google.rpc.Status` in the request's encoding.
pub(crate) fn error_response(is_json: bool, status: StatusCode, code: i32, message: String) -> Response {
    if is_json {
        (status, axum::Json(serde_json::json!({"code": code, "message": message}))).into_response()
    } else {
        (status, [("content-type", "application/x-protobuf")], RpcStatus { code, message }.encode_to_vec())
            .into_response()
    }
}

/// What every OTLP/HTTP export does before decoding: checks the media type, resolves the tenant, reserves the
/// write budget and undoes `Content-Encoding`. Returns the tenant, the budget permit and the plain body, or the
/// error response.
pub(crate) fn accept_http_export(
    state: &ApiState,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(TenantId, tokio::sync::OwnedSemaphorePermit, Bytes), Box<Response>> {
    let content_type = crate::body::content_type(headers);
    let is_json = content_type == "application/json";
    if !matches!(content_type.as_str(), "application/x-protobuf" | "application/protobuf" | "application/json") {
        return Err(Box::new(error_response(
            is_json,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            CODE_INVALID_ARGUMENT,
            format!("unsupported Content-Type {content_type:?}; use application/x-protobuf or application/json"),
        )));
    }
    let tenant = crate::tenant::tenant_from_headers(headers).map_err(|error| {
        Box::new(error_response(is_json, StatusCode::BAD_REQUEST, CODE_INVALID_ARGUMENT, error.to_string()))
    })?;
    let budget = state.reserve_write(body.len()).ok_or_else(|| {
        Box::new(error_response(
            is_json,
            StatusCode::TOO_MANY_REQUESTS,
            CODE_RESOURCE_EXHAUSTED,
            "too many write bytes in flight on this server, retry later".to_string(),
        ))
    })?;
    let body = crate::body::decode_content_encoding(headers, body, state.config.max_decompressed_bytes)
        .map_err(|error| Box::new(error_response(is_json, error.status(), CODE_INVALID_ARGUMENT, error.to_string())))?;
    Ok((tenant, budget, body))
}

/// The tenant of a gRPC request (`x-scope-orgid` metadata), `InvalidArgument` when malformed.
pub(crate) fn grpc_tenant<T>(request: &tonic::Request<T>) -> Result<TenantId, tonic::Status> {
    match request.metadata().get(crate::tenant::TENANT_HEADER) {
        None => Ok(TenantId::default_tenant()),
        Some(value) => {
            let text =
                value.to_str().map_err(|_| tonic::Status::invalid_argument("x-scope-orgid is not valid ASCII"))?;
            TenantId::new(text.trim())
                .map_err(|e| tonic::Status::invalid_argument(format!("invalid x-scope-orgid: {e}")))
        }
    }
}

/// `POST /v1/metrics`.
pub async fn http_metrics(State(state): State<ApiState>, headers: HeaderMap, body: Bytes) -> Response {
    let is_json = crate::body::content_type(&headers) == "application/json";
    let respond_error =
        |status: StatusCode, code: i32, message: String| -> Response { error_response(is_json, status, code, message) };
    let (tenant, _budget, body) = match accept_http_export(&state, &headers, &body) {
        Ok(accepted) => accepted,
        Err(response) => return *response,
    };
    let request = if is_json { decode_metrics_json(&body) } else { decode_metrics_protobuf(&body) };
    let request = match request {
        Ok(request) => request,
        Err(error) => {
            return respond_error(
                StatusCode::BAD_REQUEST,
                CODE_INVALID_ARGUMENT,
                format!("cannot decode OTLP metrics request: {error}"),
            );
        }
    };
    export(&state, tenant, request, "otlp_http").await.into_http(is_json)
}

/// The gRPC `MetricsService`.
struct GrpcMetrics {
    state: ApiState,
}

#[tonic::async_trait]
impl MetricsService for GrpcMetrics {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let started = std::time::Instant::now();
        let (tenant, _budget, request) = accept_grpc_export(&self.state, request)?;
        let outcome = export(&self.state, tenant, request, "otlp_grpc").await;
        self.state
            .metrics
            .observe_request("/opentelemetry.proto.collector.metrics.v1.MetricsService/Export", started.elapsed());
        outcome.into_grpc()
    }
}

/// The OTLP gRPC services, with gzip accepted and offered.
pub fn grpc_routes(state: ApiState) -> tonic::service::Routes {
    let max_message = state.config.max_decompressed_bytes;
    let state_for_logs = state.clone();
    let traces = crate::otlp_traces::grpc_service(state.clone());
    let metrics = MetricsServiceServer::new(GrpcMetrics { state })
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
        .send_compressed(tonic::codec::CompressionEncoding::Gzip)
        .max_decoding_message_size(max_message);
    let logs = crate::otlp_logs::grpc_service(state_for_logs);
    tonic::service::Routes::new(metrics).add_service(logs).add_service(traces)
}
