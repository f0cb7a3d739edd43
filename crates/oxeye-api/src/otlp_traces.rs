//! Span ingest: OTLP `POST /v1/traces` (protobuf or JSON, gzip) and `TraceService/Export` over gRPC, and Zipkin v2
//! JSON at `POST /api/v2/spans`, into the trace pipeline (span metrics, sampling, trace store).
//!
//! OTLP responses follow the specification: 200 with an `ExportTraceServiceResponse` carrying `partial_success`
//! for spans refused by the decoder or the store's limits; 429/`RESOURCE_EXHAUSTED` when the rate limit or a full
//! head refused the export (retryable); 400/`INVALID_ARGUMENT` for a body that cannot be read. Zipkin answers 202
//! as Zipkin does, 400 with a plain-text reason otherwise.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use oxeye_ingest::otlp_traces::DecodedSpans;
use oxeye_model::TenantId;

use crate::ApiState;
use crate::otlp::{CODE_INTERNAL, CODE_INVALID_ARGUMENT, CODE_RESOURCE_EXHAUSTED, accept_http_export, error_response};

type Outcome = crate::otlp::ExportOutcome<ExportTraceServiceResponse>;

/// Hands decoded spans to the pipeline; shared by every receiver.
async fn export(state: &ApiState, tenant: TenantId, decoded: DecodedSpans, protocol: &'static str) -> Outcome {
    let decoder_refused = decoded.rejected_spans() as i64;
    let decoder_message = decoded.error_message();
    let pipeline = state.traces.clone();
    let spans = decoded.batch.spans.len();
    let now_ms = crate::write::now_ms();
    let stored_tenant = tenant.clone();
    let result = tokio::task::spawn_blocking(move || pipeline.ingest(&stored_tenant, decoded.batch, now_ms)).await;
    let outcome = match result {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(error)) => {
            return Outcome::Failed {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: CODE_INTERNAL,
                message: error.to_string(),
            };
        }
        Err(error) => {
            let message = format!("ingest task failed: {error}");
            return Outcome::Failed { status: StatusCode::INTERNAL_SERVER_ERROR, code: CODE_INTERNAL, message };
        }
    };
    state.metrics.record_spans(
        &tenant,
        protocol,
        outcome.accepted_spans as u64,
        decoder_refused as u64,
        &outcome.rejections,
    );
    if let Some(retry) = outcome.retryable_rejection()
        && outcome.accepted_spans == 0
        && spans > 0
    {
        return Outcome::Failed {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: CODE_RESOURCE_EXHAUSTED,
            message: retry.message.clone(),
        };
    }
    let store_refused = outcome.rejected_spans() as i64;
    let mut messages = Vec::new();
    if !decoder_message.is_empty() {
        messages.push(decoder_message);
    }
    if store_refused > 0 {
        messages.push(outcome.error_message());
    }
    let partial_success = (decoder_refused + store_refused > 0).then(|| ExportTracePartialSuccess {
        rejected_spans: decoder_refused + store_refused,
        error_message: messages.join("; "),
    });
    Outcome::Ok(ExportTraceServiceResponse { partial_success })
}

/// `POST /v1/traces`.
pub async fn http_traces(State(state): State<ApiState>, headers: HeaderMap, body: Bytes) -> Response {
    let is_json = crate::body::content_type(&headers) == "application/json";
    let (tenant, _budget, body) = match accept_http_export(&state, &headers, &body) {
        Ok(accepted) => accepted,
        Err(response) => return *response,
    };
    let decoded = tokio::task::spawn_blocking(move || {
        if is_json {
            oxeye_ingest::otlp_traces::decode_json(&body)
        } else {
            oxeye_ingest::otlp_traces::decode_protobuf(&body)
        }
    })
    .await;
    let decoded = match decoded {
        Ok(Ok(decoded)) => decoded,
        Ok(Err(error)) => {
            let message = format!("cannot decode OTLP traces request: {error}");
            return error_response(is_json, StatusCode::BAD_REQUEST, CODE_INVALID_ARGUMENT, message);
        }
        Err(error) => {
            let message = format!("decode task failed: {error}");
            return error_response(is_json, StatusCode::INTERNAL_SERVER_ERROR, CODE_INTERNAL, message);
        }
    };
    export(&state, tenant, decoded, "otlp_http").await.into_http(is_json)
}

/// `POST /api/v2/spans` (Zipkin v2 JSON).
pub async fn zipkin_spans(State(state): State<ApiState>, headers: HeaderMap, body: Bytes) -> Response {
    let plain = |status: StatusCode, message: String| {
        (status, [("content-type", "text/plain; charset=utf-8")], message).into_response()
    };
    let content_type = crate::body::content_type(&headers);
    if !content_type.is_empty() && content_type != "application/json" {
        return plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported Content-Type {content_type:?}; only Zipkin v2 JSON (application/json) is accepted"),
        );
    }
    let tenant = match crate::tenant::tenant_from_headers(&headers) {
        Ok(tenant) => tenant,
        Err(error) => return plain(StatusCode::BAD_REQUEST, error.to_string()),
    };
    let Some(_budget) = state.reserve_write(body.len()) else {
        return plain(
            StatusCode::TOO_MANY_REQUESTS,
            "too many write bytes in flight on this server, retry later".into(),
        );
    };
    let body = match crate::body::decode_content_encoding(&headers, &body, state.config.max_decompressed_bytes) {
        Ok(body) => body,
        Err(error) => return plain(error.status(), error.to_string()),
    };
    let decoded = match tokio::task::spawn_blocking(move || oxeye_ingest::zipkin::decode_zipkin_json(&body)).await {
        Ok(Ok(decoded)) => decoded,
        Ok(Err(error)) => return plain(StatusCode::BAD_REQUEST, format!("cannot decode Zipkin v2 spans: {error}")),
        Err(error) => return plain(StatusCode::INTERNAL_SERVER_ERROR, format!("decode task failed: {error}")),
    };
    match export(&state, tenant, decoded, "zipkin").await {
        Outcome::Ok(response) => match response.partial_success {
            // Zipkin has no partial success: refused spans are reported with a 400 naming them (the rest are kept).
            Some(partial) => plain(StatusCode::BAD_REQUEST, partial.error_message),
            None => StatusCode::ACCEPTED.into_response(),
        },
        Outcome::Failed { status, message, .. } => plain(status, message),
    }
}

pub(crate) struct GrpcTraces {
    state: ApiState,
}

#[tonic::async_trait]
impl TraceService for GrpcTraces {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let started = std::time::Instant::now();
        let (tenant, _budget, request) = crate::otlp::accept_grpc_export(&self.state, request)?;
        let decoded = tokio::task::spawn_blocking(move || oxeye_ingest::otlp_traces::translate(request))
            .await
            .map_err(|e| tonic::Status::internal(format!("decode task failed: {e}")))?;
        let outcome = export(&self.state, tenant, decoded, "otlp_grpc").await;
        self.state
            .metrics
            .observe_request("/opentelemetry.proto.collector.trace.v1.TraceService/Export", started.elapsed());
        outcome.into_grpc()
    }
}

/// The gRPC `TraceService`, gzip accepted and offered.
pub(crate) fn grpc_service(state: ApiState) -> TraceServiceServer<GrpcTraces> {
    let max_message = state.config.max_decompressed_bytes;
    TraceServiceServer::new(GrpcTraces { state })
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
        .send_compressed(tonic::codec::CompressionEncoding::Gzip)
        .max_decoding_message_size(max_message)
}
