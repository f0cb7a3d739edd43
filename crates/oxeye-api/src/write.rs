//! Write endpoints: Prometheus remote_write 1.0 and the Prometheus text import (VictoriaMetrics' path).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use oxeye_ingest::DecodedWrite;
use oxeye_ingest::remote_write::RawWriteRequest;
use oxeye_metrics_store::{AppendOutcome, SeriesInput};
use oxeye_model::{RejectReason, Rejection, TenantId};

use crate::tenant::tenant_from_headers;
use crate::{ApiError, ApiState};

/// How many rejection messages a response lists before summarising the rest.
const MAX_LISTED_REJECTIONS: usize = 10;

/// The remote write 2.0 message name as it appears (lowercased) in `Content-Type: …;proto=…`.
const RW2_PROTO: &str = "io.prometheus.write.v2.request";

/// Stores a decoded write for `tenant`: counts what was ingested and refused (by protocol and reason) and returns
/// the store's outcome with the decoder's rejections prepended.
pub(crate) async fn store_write(
    state: &ApiState,
    tenant: TenantId,
    protocol: &'static str,
    decoded: DecodedWrite,
) -> Result<AppendOutcome, ApiError> {
    let DecodedWrite { batch, rejections: decode_rejections } = decoded;
    let mut outcome = store_with(state, tenant.clone(), move |db, now_ms| Ok(db.append(&batch, now_ms)?)).await?;
    let mut rejections = decode_rejections;
    rejections.append(&mut outcome.rejections);
    outcome.rejections = rejections;
    state.metrics.count_write(&tenant, protocol, &outcome);
    Ok(outcome)
}

/// Runs `work` against the tenant's database on a blocking thread (decoding and appending are CPU and disk work).
async fn store_with(
    state: &ApiState,
    tenant: TenantId,
    work: impl FnOnce(&oxeye_metrics_store::TenantDb, i64) -> Result<AppendOutcome, ApiError> + Send + 'static,
) -> Result<AppendOutcome, ApiError> {
    let store = state.store.clone();
    let now_ms = now_ms();
    tokio::task::spawn_blocking(move || {
        let db = store.tenant(&tenant)?;
        work(&db, now_ms)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("write task failed: {e}")))?
}

/// Remote write 1.0 through the fast path: read in place, series named by their label bytes (see
/// `oxeye_ingest::remote_write::RawWriteRequest` and `oxeye_metrics_store::SeriesInput`).
async fn store_remote_write_v1(state: &ApiState, tenant: TenantId, body: Bytes) -> Result<AppendOutcome, ApiError> {
    let limit = state.config.max_decompressed_bytes;
    let outcome = store_with(state, tenant.clone(), move |db, now_ms| {
        let cannot_decode =
            |e: oxeye_ingest::DecodeError| ApiError::BadWrite(format!("cannot decode remote write request: {e}"));
        let decompressed = oxeye_ingest::remote_write::decompress(&body, limit).map_err(cannot_decode)?;
        let raw = RawWriteRequest::parse(&decompressed).map_err(cannot_decode)?;
        let inputs: Vec<SeriesInput<'_>> = raw
            .series
            .iter()
            .map(|series| match series.key {
                Some(key) => SeriesInput::Keyed { key, samples: &raw.samples[series.samples.clone()] },
                None => SeriesInput::Deferred { samples: series.samples.len() },
            })
            .collect();
        Ok(db.append_inputs(&inputs, &mut |index| raw.resolve(index), &raw.metadata, now_ms)?)
    })
    .await?;
    state.metrics.count_write(&tenant, "remote_write", &outcome);
    Ok(outcome)
}

/// Turns refusals into the response Prometheus's receiver gives: 429 if a retry may succeed (rate or series
/// limit), else 400, with a plain-text body naming each refused series and why.
pub(crate) fn rejection_error(rejections: &[Rejection]) -> Option<ApiError> {
    if rejections.is_empty() {
        return None;
    }
    let mut message: String =
        rejections.iter().take(MAX_LISTED_REJECTIONS).map(|r| r.message.as_str()).collect::<Vec<_>>().join("\n");
    if rejections.len() > MAX_LISTED_REJECTIONS {
        message.push_str(&format!("\n… and {} more refused series", rejections.len() - MAX_LISTED_REJECTIONS));
    }
    let retryable = rejections.iter().any(|r| matches!(r.reason, RejectReason::RateLimit | RejectReason::SeriesLimit));
    Some(if retryable { ApiError::TooManyRequests(message) } else { ApiError::BadWrite(message) })
}

/// `POST /api/v1/write`: remote write 1.0 (`prometheus.WriteRequest`) or 2.0 (`io.prometheus.write.v2.Request`,
/// chosen by `Content-Type: application/x-protobuf;proto=…`), protobuf in snappy block format. 204 when
/// everything was stored; 2.0 responses carry the `X-Prometheus-Remote-Write-*-Written` headers.
pub async fn remote_write(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let tenant = tenant_from_headers(&headers)?;
    let _budget = reserve(&state, body.len())?;
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let is_v2 = content_type.replace(' ', "").contains(&format!("proto={RW2_PROTO}"));
    if let Some(proto) = content_type.split(';').filter_map(|p| p.trim().strip_prefix("proto=")).next()
        && proto != RW2_PROTO
        && proto != "prometheus.writerequest"
    {
        return Err(ApiError::UnsupportedMediaType(format!(
            "unsupported remote write message {proto:?}; send prometheus.WriteRequest or io.prometheus.write.v2.Request"
        )));
    }
    if let Some(encoding) = headers.get("content-encoding").and_then(|v| v.to_str().ok())
        && !encoding.eq_ignore_ascii_case("snappy")
    {
        return Err(ApiError::UnsupportedMediaType(format!(
            "unsupported Content-Encoding {encoding:?}, remote write uses snappy"
        )));
    }
    let outcome = if is_v2 {
        let decoded = oxeye_ingest::remote_write::decode_write_request_v2(&body, state.config.max_decompressed_bytes)
            .map_err(|e| ApiError::BadWrite(format!("cannot decode remote write request: {e}")))?;
        store_write(&state, tenant, "remote_write_v2", decoded).await?
    } else {
        store_remote_write_v1(&state, tenant, body).await?
    };
    let mut response = match rejection_error(&outcome.rejections) {
        Some(error) => error.into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    };
    if is_v2 {
        // Remote write 2.0 requires these on every response, so the sender can tell what was stored.
        let headers = response.headers_mut();
        for (name, value) in [
            ("x-prometheus-remote-write-samples-written", outcome.samples_accepted),
            ("x-prometheus-remote-write-histograms-written", 0),
            ("x-prometheus-remote-write-exemplars-written", outcome.exemplars_accepted),
        ] {
            headers.insert(name, axum::http::HeaderValue::from(value));
        }
    }
    Ok(response)
}

/// `POST /api/v1/import/prometheus`: Prometheus text exposition, as VictoriaMetrics imports it. Samples without a
/// timestamp get the `timestamp` query parameter (ms) or now. Bad lines are refused with their line numbers; the
/// good lines are stored. 204 when everything was stored.
pub async fn import_prometheus(
    State(state): State<ApiState>,
    axum::extract::Query(query): axum::extract::Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let tenant = tenant_from_headers(&headers)?;
    let _budget = reserve(&state, body.len())?;
    let body = crate::body::decode_content_encoding(&headers, &body, state.config.max_decompressed_bytes)?;
    let default_timestamp = match query.iter().find(|(k, _)| k == "timestamp") {
        Some((_, value)) => {
            value.parse::<i64>().map_err(|_| ApiError::BadData(format!("invalid timestamp parameter {value:?}")))?
        }
        None => now_ms(),
    };
    let parsed = oxeye_ingest::prometheus_text::parse_prometheus_text(&body, default_timestamp);
    let decoded = DecodedWrite { batch: parsed.batch, rejections: Vec::new() };
    let outcome = store_write(&state, tenant, "prometheus_import", decoded).await?;
    let mut messages: Vec<String> =
        parsed.errors.iter().take(MAX_LISTED_REJECTIONS).map(|e| format!("cannot parse {e}")).collect();
    if parsed.errors.len() > MAX_LISTED_REJECTIONS {
        messages
            .push(format!("… and {} more lines that could not be parsed", parsed.errors.len() - MAX_LISTED_REJECTIONS));
    }
    if !parsed.errors.is_empty() {
        state.metrics.count_rejected(&tenant_from_headers(&headers)?, "invalid_text_line", parsed.errors.len() as u64);
    }
    match (rejection_error(&outcome.rejections), messages.is_empty()) {
        (None, true) => Ok(StatusCode::NO_CONTENT.into_response()),
        (Some(error @ ApiError::TooManyRequests(_)), _) => Err(error),
        (store_error, _) => {
            if let Some(error) = store_error {
                messages.push(error.to_string());
            }
            Err(ApiError::BadWrite(messages.join("\n")))
        }
    }
}

/// Reserves the in-flight write budget for a body, or answers 429.
pub(crate) fn reserve(state: &ApiState, body_len: usize) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
    state.reserve_write(body_len).ok_or_else(|| {
        ApiError::TooManyRequests("too many write bytes in flight on this server, retry later".to_string())
    })
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
