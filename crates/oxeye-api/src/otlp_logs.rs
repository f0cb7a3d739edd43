//! OTLP logs: `POST /v1/logs` (protobuf or JSON, gzip) and `LogsService/Export` over gRPC, into the logs store.
//!
//! Mapped the way Loki 3 maps OTLP (`oxeye_ingest::otlp_logs`). Responses follow the OTLP specification: 200 with
//! an `ExportLogsServiceResponse` carrying `partial_success` for refused records (by the decoder or the store's
//! limits); 429/`RESOURCE_EXHAUSTED` when the store's rate or stream limit refused everything retryable.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{LogsService, LogsServiceServer};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use oxeye_ingest::DecodedLogs;
use oxeye_model::TenantId;

use crate::ApiState;
use crate::loki::store_logs;
use crate::otlp::{CODE_INTERNAL, CODE_INVALID_ARGUMENT, CODE_RESOURCE_EXHAUSTED, accept_http_export, error_response};

type Outcome = crate::otlp::ExportOutcome<ExportLogsServiceResponse>;

async fn export(state: &ApiState, tenant: TenantId, decoded: DecodedLogs, protocol: &'static str) -> Outcome {
    let decoder_partial = oxeye_ingest::otlp_logs::partial_success(&decoded);
    let (outcome, _) = match store_logs(state, tenant, protocol, decoded).await {
        Ok(stored) => stored,
        Err(error) => {
            return Outcome::Failed { status: error.status(), code: CODE_INTERNAL, message: error.to_string() };
        }
    };
    if outcome.accepted_entries == 0 && outcome.rejections.iter().any(|r| r.reason.http_status() == 429) {
        let message = outcome.rejections.iter().map(|r| r.message.as_str()).collect::<Vec<_>>().join("; ");
        return Outcome::Failed { status: StatusCode::TOO_MANY_REQUESTS, code: CODE_RESOURCE_EXHAUSTED, message };
    }
    let store_refused: i64 = outcome.rejections.iter().map(|r| r.entries as i64).sum();
    let mut partial = decoder_partial.unwrap_or_default();
    if store_refused > 0 {
        partial.rejected_log_records += store_refused;
        let messages: Vec<&str> = outcome.rejections.iter().map(|r| r.message.as_str()).collect();
        if !partial.error_message.is_empty() {
            partial.error_message.push_str("; ");
        }
        partial.error_message.push_str(&messages.join("; "));
    }
    let partial_success = (partial != ExportLogsPartialSuccess::default()).then_some(partial);
    Outcome::Ok(ExportLogsServiceResponse { partial_success })
}

/// `POST /v1/logs`.
pub async fn http_logs(State(state): State<ApiState>, headers: HeaderMap, body: Bytes) -> Response {
    let is_json = crate::body::content_type(&headers) == "application/json";
    let (tenant, _budget, body) = match accept_http_export(&state, &headers, &body) {
        Ok(accepted) => accepted,
        Err(response) => return *response,
    };
    let now_ns = oxeye_logs_store::now_ns();
    let decoded = tokio::task::spawn_blocking(move || {
        if is_json {
            oxeye_ingest::otlp_logs::decode_json(&body, now_ns)
        } else {
            oxeye_ingest::otlp_logs::decode_protobuf(&body, now_ns)
        }
    })
    .await;
    let decoded = match decoded {
        Ok(Ok(decoded)) => decoded,
        Ok(Err(error)) => {
            let message = format!("cannot decode OTLP logs request: {error}");
            return error_response(is_json, StatusCode::BAD_REQUEST, CODE_INVALID_ARGUMENT, message);
        }
        Err(error) => {
            let message = format!("decode task failed: {error}");
            return error_response(is_json, StatusCode::INTERNAL_SERVER_ERROR, CODE_INTERNAL, message);
        }
    };
    export(&state, tenant, decoded, "otlp_http").await.into_http(is_json)
}

pub(crate) struct GrpcLogs {
    state: ApiState,
}

#[tonic::async_trait]
impl LogsService for GrpcLogs {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        let started = std::time::Instant::now();
        let (tenant, _budget, request) = crate::otlp::accept_grpc_export(&self.state, request)?;
        let now_ns = oxeye_logs_store::now_ns();
        let decoded = tokio::task::spawn_blocking(move || oxeye_ingest::otlp_logs::translate(request, now_ns))
            .await
            .map_err(|e| tonic::Status::internal(format!("decode task failed: {e}")))?;
        let outcome = export(&self.state, tenant, decoded, "otlp_grpc").await;
        self.state
            .metrics
            .observe_request("/opentelemetry.proto.collector.logs.v1.LogsService/Export", started.elapsed());
        outcome.into_grpc()
    }
}

/// The gRPC `LogsService`, gzip accepted and offered.
pub(crate) fn grpc_service(state: ApiState) -> LogsServiceServer<GrpcLogs> {
    let max_message = state.config.max_decompressed_bytes;
    LogsServiceServer::new(GrpcLogs { state })
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
        .send_compressed(tonic::codec::CompressionEncoding::Gzip)
        .max_decoding_message_size(max_message)
}
