//! Live tailing: `/loki/api/v1/tail` over WebSocket, fed by a hub that fans accepted entries out.
//!
//! The logs store calls the hub's observer after every durable append; the hub forwards the batch on a bounded
//! broadcast channel only when someone is tailing (so ingest pays nothing otherwise). A tail first sends the last
//! `limit` entries since `start` (default one hour ago), as Loki does, then every new entry its query matches:
//! each accepted batch is run through the query's pipeline by evaluating the query over that batch alone. A
//! client that falls more than the channel's capacity behind misses those batches; oxeye logs how many (Loki
//! reports `dropped_entries` with their labels, which oxeye no longer has at that point).

use std::ops::ControlFlow;
use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use oxeye_logql::{Engine, EngineOptions, Expr, QueryValue, RangeParams};
use oxeye_logs_store::{AppendObserver, TenantLogsReader};
use oxeye_model::{Labels, LogStream, TenantId};
use oxeye_storage_api::{
    Direction, LogRow, LogScanRequest, LogScanStats, LogSink, LogsReader, Matcher, ReadError, StreamRef, StreamVolume,
};
use tokio::sync::broadcast;

use super::params::{bounds, limit};
use crate::params::Params;
use crate::tenant::tenant_from_headers;
use crate::{ApiError, ApiState};

/// Batches buffered per tail client before it counts as lagging.
const TAIL_CHANNEL_CAPACITY: usize = 1024;

/// One accepted batch of one tenant.
#[derive(Debug)]
pub struct TailBatch {
    pub tenant: TenantId,
    pub streams: Vec<LogStream>,
}

/// See the module documentation.
#[derive(Debug)]
pub struct TailHub {
    sender: broadcast::Sender<Arc<TailBatch>>,
}

impl TailHub {
    pub fn new() -> Arc<Self> {
        let (sender, _) = broadcast::channel(TAIL_CHANNEL_CAPACITY);
        Arc::new(Self { sender })
    }

    /// The observer to install in the logs store's options.
    pub fn observer(self: &Arc<Self>) -> AppendObserver {
        let hub = self.clone();
        Arc::new(move |tenant: &TenantId, streams: &[LogStream]| {
            if hub.sender.receiver_count() > 0 {
                let batch = TailBatch { tenant: tenant.clone(), streams: streams.to_vec() };
                let _ = hub.sender.send(Arc::new(batch));
            }
        })
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<TailBatch>> {
        self.sender.subscribe()
    }
}

/// One accepted batch seen as a store, so the query engine can run a tail's query over it.
pub(crate) struct BatchReader<'a> {
    pub(crate) streams: &'a [LogStream],
}

impl LogsReader for BatchReader<'_> {
    fn scan(&self, request: &LogScanRequest, sink: &mut dyn LogSink) -> Result<LogScanStats, ReadError> {
        let mut stats = LogScanStats::default();
        let mut metadata: Vec<(&str, &str)> = Vec::new();
        for stream in self.streams {
            let matches = !request.matchers.is_empty()
                && request.matchers.iter().all(|m| m.matches(stream.labels.get(&m.name).unwrap_or("")));
            if !matches {
                continue;
            }
            let id = crate::loki::tail::stream_id(&stream.labels);
            for entry in &stream.entries {
                if entry.timestamp_ns < request.start_ns || entry.timestamp_ns >= request.end_ns {
                    continue;
                }
                metadata.clear();
                metadata.extend(entry.metadata.iter().map(|l| (l.name.as_str(), l.value.as_str())));
                stats.decompressed_lines += 1;
                stats.decompressed_bytes += entry.line.len() as u64;
                let row = LogRow { timestamp_ns: entry.timestamp_ns, line: &entry.line, metadata: &metadata };
                if sink.row(StreamRef { id, labels: &stream.labels }, row) == ControlFlow::Break(()) {
                    return Ok(stats);
                }
            }
        }
        Ok(stats)
    }

    fn streams(&self, _: &[Matcher], _: i64, _: i64) -> Result<Vec<Labels>, ReadError> {
        Ok(Vec::new())
    }

    fn volumes(&self, _: &[Matcher], _: i64, _: i64) -> Result<Vec<StreamVolume>, ReadError> {
        Ok(Vec::new())
    }
}

/// A per-batch stream identity (only needs to be stable within one evaluation).
fn stream_id(labels: &Labels) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    labels.hash(&mut hasher);
    hasher.finish()
}

/// Loki's tail message: `{"streams":[{"stream":{…},"values":[["<ns>","line"],…]},…]}`.
fn tail_message(value: &QueryValue) -> Option<String> {
    let QueryValue::Streams(streams) = value else { return None };
    if streams.is_empty() {
        return None;
    }
    let mut out = String::from("{\"streams\":[");
    for (index, stream) in streams.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str("{\"stream\":");
        super::json::write_labels(&mut out, stream.labels.iter());
        out.push_str(",\"values\":[");
        for (entry_index, entry) in stream.entries.iter().enumerate() {
            if entry_index > 0 {
                out.push(',');
            }
            let json = super::json::EntryJson {
                timestamp_ns: entry.timestamp_ns,
                line: &entry.line,
                structured_metadata: &[],
                parsed: &[],
            };
            super::json::write_entry(&mut out, &json, false);
        }
        out.push_str("]}");
    }
    out.push_str("]}");
    Some(out)
}

/// `GET /loki/api/v1/tail` (WebSocket): `query` (a log query), `limit` (history entries, 100), `start`.
pub async fn tail(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let bad = |message: String| ApiError::PlainText(StatusCode::BAD_REQUEST, message);
    let tenant = tenant_from_headers(&headers).map_err(|e| bad(e.to_string()))?;
    let params = Params::parse(query, &headers, &[])?;
    let expr = oxeye_logql::parse(params.value("query")).map_err(|e| bad(e.to_string()))?;
    if !expr.is_log_query() {
        return Err(bad("tail requires a log query (a stream selector and an optional pipeline)".into()));
    }
    let (start_ns, _) = bounds(&params, oxeye_logs_store::now_ns())?;
    let history_limit = limit(&params)? as u32;
    Ok(upgrade.on_upgrade(move |socket| run_tail(state, tenant, expr, start_ns, history_limit, socket)))
}

async fn run_tail(
    state: ApiState,
    tenant: TenantId,
    expr: Expr,
    start_ns: i64,
    history_limit: u32,
    mut socket: WebSocket,
) {
    // Subscribe before reading history, so nothing accepted in between is missed.
    let mut receiver = state.tail.subscribe();
    let expr = Arc::new(expr);
    let history = {
        let logs = state.logs.existing_tenant(&tenant);
        let expr = expr.clone();
        tokio::task::spawn_blocking(move || {
            let reader = logs.map(TenantLogsReader::new)?;
            let params = RangeParams {
                start_ns,
                end_ns: oxeye_logs_store::now_ns() + 1,
                step_ns: 1,
                interval_ns: 0,
                direction: Direction::Backward,
                limit: history_limit,
            };
            let mut output = Engine::new(EngineOptions::default()).range(&reader, &expr, params).ok()?;
            if let QueryValue::Streams(streams) = &mut output.value {
                for stream in streams.iter_mut() {
                    stream.entries.reverse();
                }
            }
            tail_message(&output.value)
        })
        .await
        .ok()
        .flatten()
    };
    if let Some(message) = history
        && socket.send(Message::Text(message.into())).await.is_err()
    {
        return;
    }
    loop {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            batch = receiver.recv() => match batch {
                Ok(batch) if batch.tenant == tenant => {
                    let expr = expr.clone();
                    let message = tokio::task::spawn_blocking(move || {
                        let (min, max) = batch.streams.iter().flat_map(|s| &s.entries).fold((i64::MAX, i64::MIN), |(lo, hi), e| (lo.min(e.timestamp_ns), hi.max(e.timestamp_ns)));
                        if min > max {
                            return None;
                        }
                        let params = RangeParams { start_ns: min, end_ns: max + 1, step_ns: 1, interval_ns: 0, direction: Direction::Forward, limit: u32::MAX };
                        let engine = Engine::new(EngineOptions { max_entries_limit: 0, ..EngineOptions::default() });
                        let output = engine.range(&BatchReader { streams: &batch.streams }, &expr, params).ok()?;
                        tail_message(&output.value)
                    })
                    .await
                    .ok()
                    .flatten();
                    if let Some(message) = message
                        && socket.send(Message::Text(message.into())).await.is_err()
                    {
                        return;
                    }
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(tenant = %tenant.as_str(), missed, "a tail client fell behind and missed batches");
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}
