//! `POST /loki/api/v1/push`: Loki's push API, JSON or snappy-compressed protobuf.
//!
//! Answers as Loki's distributor does: 204 when everything was stored; otherwise the valid streams are still
//! stored and the response is 400 (or 429 for the stream and rate limits) with the refusals as plain text, one
//! per line.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use oxeye_ingest::{DecodedLogs, LogRejection};
use oxeye_logs_store::AppendOutcome;
use oxeye_model::TenantId;

use crate::tenant::tenant_from_headers;
use crate::{ApiError, ApiState};

/// How many refusal messages a response lists before summarising the rest.
const MAX_LISTED: usize = 10;

/// Stores decoded logs for `tenant` on a blocking thread and counts the outcome.
pub(crate) async fn store_logs(
    state: &ApiState,
    tenant: TenantId,
    protocol: &'static str,
    decoded: DecodedLogs,
) -> Result<(AppendOutcome, Vec<LogRejection>), ApiError> {
    let logs = state.logs.clone();
    let DecodedLogs { batch, rejections } = decoded;
    let tenant_for_store = tenant.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let tenant_logs = logs.tenant(&tenant_for_store)?;
        Ok::<_, ApiError>(tenant_logs.append(batch, oxeye_logs_store::now_ns())?)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("log write task failed: {e}")))??;
    state.metrics.count_log_write(&tenant, protocol, &outcome, &rejections);
    Ok((outcome, rejections))
}

/// Loki's answer to a push with refusals: `None` when nothing was refused.
pub(crate) fn refusal_response(
    outcome: &AppendOutcome,
    decode_rejections: &[LogRejection],
) -> Option<(StatusCode, String)> {
    let messages: Vec<&str> = decode_rejections
        .iter()
        .map(|r| r.message.as_str())
        .chain(outcome.rejections.iter().map(|r| r.message.as_str()))
        .collect();
    if messages.is_empty() {
        return None;
    }
    let retryable = outcome.rejections.iter().any(|r| r.reason.http_status() == 429);
    let status = if retryable
        && decode_rejections.is_empty()
        && outcome.rejections.iter().all(|r| r.reason.http_status() == 429)
    {
        StatusCode::TOO_MANY_REQUESTS
    } else {
        StatusCode::BAD_REQUEST
    };
    let mut body = messages.iter().take(MAX_LISTED).copied().collect::<Vec<_>>().join("\n");
    if messages.len() > MAX_LISTED {
        body.push_str(&format!("\n… and {} more refusals", messages.len() - MAX_LISTED));
    }
    Some((status, body))
}

/// `POST /loki/api/v1/push`. `Content-Type: application/json` selects JSON (gzip `Content-Encoding` accepted);
/// anything else is read as snappy-compressed protobuf `logproto.PushRequest`, as Loki does.
pub async fn push(State(state): State<ApiState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let tenant =
        tenant_from_headers(&headers).map_err(|e| ApiError::PlainText(StatusCode::BAD_REQUEST, e.to_string()))?;
    let _budget = state.reserve_write(body.len()).ok_or_else(|| {
        ApiError::PlainText(
            StatusCode::TOO_MANY_REQUESTS,
            "too many write bytes in flight on this server, retry later".into(),
        )
    })?;
    let is_json = crate::body::content_type(&headers) == "application/json";
    let max = state.config.max_decompressed_bytes;
    let decoded = tokio::task::spawn_blocking(move || {
        if is_json {
            let body = crate::body::decode_content_encoding(&headers, &body, max)
                .map_err(|e| ApiError::PlainText(e.status(), e.to_string()))?;
            oxeye_ingest::loki_push::decode_json(&body)
        } else {
            oxeye_ingest::loki_push::decode_protobuf_snappy(&body, max)
        }
        .map_err(|e| ApiError::PlainText(StatusCode::BAD_REQUEST, format!("cannot decode push request: {e}")))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("decode task failed: {e}")))??;
    let (outcome, rejections) = store_logs(&state, tenant, "loki_push", decoded).await?;
    Ok(match refusal_response(&outcome, &rejections) {
        None => StatusCode::NO_CONTENT.into_response(),
        Some((status, message)) => ApiError::PlainText(status, message).into_response(),
    })
}
