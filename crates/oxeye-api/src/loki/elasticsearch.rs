//! `POST /insert/elasticsearch/_bulk`: the Elasticsearch bulk API as VictoriaLogs accepts it (what Vector, Fluent
//! Bit and Filebeat send), into the logs store. Stream fields, message field and time field come from the query
//! parameters `_stream_fields`, `_msg_field`, `_time_field` (or VictoriaLogs' `VL-*` headers).
//!
//! The answer is Elasticsearch's bulk response (`{"took":…,"errors":…,"items":[…]}`); documents the store refused
//! (line too long, too old, limits) are marked failed like documents the decoder refused.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use oxeye_ingest::DecodedLogs;
use oxeye_ingest::elasticsearch_bulk::{BulkParams, decode, render_response};

use super::push::store_logs;
use crate::params::Params;
use crate::tenant::tenant_from_headers;
use crate::{ApiError, ApiState};

pub async fn bulk(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let started = std::time::Instant::now();
    let bad = |message: String| ApiError::PlainText(StatusCode::BAD_REQUEST, message);
    let tenant = tenant_from_headers(&headers).map_err(|e| bad(e.to_string()))?;
    let _budget = state.reserve_write(body.len()).ok_or_else(|| {
        ApiError::PlainText(
            StatusCode::TOO_MANY_REQUESTS,
            "too many write bytes in flight on this server, retry later".into(),
        )
    })?;
    let params = Params::parse(query, &HeaderMap::new(), &[])?;
    let bulk_params = BulkParams::from_request(
        |name| params.get(name).map(str::to_string),
        |name| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string),
    )
    .map_err(|e| bad(e.to_string()))?;
    let max = state.config.max_decompressed_bytes;
    let now_ns = oxeye_logs_store::now_ns();
    let decoded = tokio::task::spawn_blocking(move || {
        let body = crate::body::decode_content_encoding(&headers, &body, max)?;
        decode(&body, &bulk_params, now_ns).map_err(|e| bad(format!("cannot decode bulk request: {e}")))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("decode task failed: {e}")))??;
    let mut items = decoded.items;
    let (outcome, _) =
        store_logs(&state, tenant, "elasticsearch_bulk", DecodedLogs { batch: decoded.batch, rejections: Vec::new() })
            .await?;
    // The store reports refusals by reason, not by document: mark that many accepted documents, last first, as
    // failed with the reason's message, so the totals in the response are right.
    let mut refused: Vec<(usize, String)> = outcome.rejections.iter().map(|r| (r.entries, r.message.clone())).collect();
    for item in items.iter_mut().rev().filter(|item| item.status < 300) {
        let Some((count, message)) = refused.iter_mut().find(|(count, _)| *count > 0) else { break };
        *count -= 1;
        item.status = 400;
        item.error = Some(message.clone());
    }
    let took_ms = started.elapsed().as_millis() as u64;
    Ok((StatusCode::OK, [("content-type", "application/json")], render_response(&items, took_ms)).into_response())
}
