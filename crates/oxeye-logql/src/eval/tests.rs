//! Golden tests of the evaluator on a small fixed data set, with expected values worked out by hand from Loki's
//! documented semantics (see each case's comment), over an in-memory [`LogsReader`].

use std::sync::Mutex;

use oxeye_model::Labels;
use oxeye_storage_api::{
    Direction, LogFilterHints, LogRow, LogScanRequest, LogScanStats, LogSink, LogsReader, Matcher, ReadError,
    StreamRef, StreamVolume,
};

use super::*;

mod log_queries;
mod metric_queries;

/// Seconds after the data set's origin, in nanoseconds.
pub(crate) fn t(seconds: i64) -> i64 {
    T0 + seconds * 1_000_000_000
}

pub(crate) const T0: i64 = 1_700_000_000_000_000_000;

pub(crate) fn ms(seconds: i64) -> i64 {
    t(seconds) / 1_000_000
}

pub(crate) struct MemoryRow {
    pub timestamp_ns: i64,
    pub line: &'static str,
    pub metadata: Vec<(&'static str, &'static str)>,
}

pub(crate) struct MemoryStream {
    pub id: u64,
    pub labels: Labels,
    pub rows: Vec<MemoryRow>,
}

/// Streams in memory. Selection honours matchers and `[start, end)` exactly; hints are recorded (to check them) and
/// ignored. Rows are handed out newest stream first and in reverse time order, so the engine must sort.
pub(crate) struct MemoryReader {
    pub streams: Vec<MemoryStream>,
    pub requests: Mutex<Vec<LogScanRequest>>,
}

fn selects(matchers: &[Matcher], labels: &Labels) -> bool {
    !matchers.is_empty() && matchers.iter().all(|matcher| matcher.matches(labels.get(&matcher.name).unwrap_or("")))
}

impl LogsReader for MemoryReader {
    fn scan(&self, request: &LogScanRequest, sink: &mut dyn LogSink) -> Result<LogScanStats, ReadError> {
        self.requests.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(request.clone());
        let mut stats = LogScanStats::default();
        for stream in self.streams.iter().rev() {
            if !selects(&request.matchers, &stream.labels) {
                continue;
            }
            stats.chunks_opened += 1;
            for row in stream.rows.iter().rev() {
                if row.timestamp_ns < request.start_ns || row.timestamp_ns >= request.end_ns {
                    continue;
                }
                stats.decompressed_lines += 1;
                stats.decompressed_bytes += row.line.len() as u64;
                stats.structured_metadata_bytes +=
                    row.metadata.iter().map(|(name, value)| (name.len() + value.len()) as u64).sum::<u64>();
                let stream_ref = StreamRef { id: stream.id, labels: &stream.labels };
                let row_ref = LogRow { timestamp_ns: row.timestamp_ns, line: row.line, metadata: &row.metadata };
                if sink.row(stream_ref, row_ref).is_break() {
                    return Ok(stats);
                }
            }
        }
        Ok(stats)
    }

    fn streams(&self, matchers: &[Matcher], _start_ns: i64, _end_ns: i64) -> Result<Vec<Labels>, ReadError> {
        Ok(self.streams.iter().filter(|stream| selects(matchers, &stream.labels)).map(|s| s.labels.clone()).collect())
    }

    fn volumes(&self, _matchers: &[Matcher], _start_ns: i64, _end_ns: i64) -> Result<Vec<StreamVolume>, ReadError> {
        Ok(Vec::new())
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).unwrap()
}

fn row(seconds: i64, line: &'static str, metadata: &[(&'static str, &'static str)]) -> MemoryRow {
    MemoryRow { timestamp_ns: t(seconds), line, metadata: metadata.to_vec() }
}

/// The data set:
/// - stream 1 `{app="api", env="prod"}`: JSON lines at 10..50 s (the one at 40 s is not JSON), `trace_id` metadata
///   at 20 s (`abc`) and 50 s (`def`);
/// - stream 2 `{app="api", env="dev"}`: logfmt lines at 15, 25, 45 s;
/// - stream 3 `{app="web", env="prod"}`: access-log lines at 20, 30, 40 s and a coloured line at 60 s;
/// - stream 4 `{app="packed"}`: one Promtail-packed line at 10 s;
/// - stream 5 `{app="counter"}`: a counter `count=5, 10, 2 (reset), 6` at 10..40 s.
pub(crate) fn reader() -> MemoryReader {
    let streams = vec![
        MemoryStream {
            id: 1,
            labels: labels(&[("app", "api"), ("env", "prod")]),
            rows: vec![
                row(10, r#"{"level":"info","msg":"started","latency":"100ms","status":200,"size":"1KB"}"#, &[]),
                row(
                    20,
                    r#"{"level":"error","msg":"db timeout","latency":"1.5s","status":500,"size":"2KB"}"#,
                    &[("trace_id", "abc")],
                ),
                row(30, r#"{"level":"info","msg":"ok","latency":"250ms","status":200,"size":"512B"}"#, &[]),
                row(40, "not json at all", &[]),
                row(
                    50,
                    r#"{"level":"warn","msg":"slow","latency":"900ms","status":429,"size":"3KB"}"#,
                    &[("trace_id", "def")],
                ),
            ],
        },
        MemoryStream {
            id: 2,
            labels: labels(&[("app", "api"), ("env", "dev")]),
            rows: vec![
                row(15, r#"level=info msg="hello world" duration=20ms bytes=100"#, &[]),
                row(25, "level=error msg=oops duration=2s bytes=5000", &[]),
                row(45, "level=info msg=bye duration=5ms bytes=10", &[]),
            ],
        },
        MemoryStream {
            id: 3,
            labels: labels(&[("app", "web"), ("env", "prod")]),
            rows: vec![
                row(20, "GET /index.html 200 512", &[]),
                row(30, "POST /api/login 401 128", &[]),
                row(40, "GET /missing 404 64", &[]),
                row(60, "\u{1b}[31mred alert\u{1b}[0m", &[]),
            ],
        },
        MemoryStream {
            id: 4,
            labels: labels(&[("app", "packed")]),
            rows: vec![row(10, r#"{"_entry":"inner message","pod":"p-1"}"#, &[])],
        },
        MemoryStream {
            id: 5,
            labels: labels(&[("app", "counter")]),
            rows: vec![
                row(10, "count=5", &[]),
                row(20, "count=10", &[]),
                row(30, "count=2", &[]),
                row(40, "count=6", &[]),
            ],
        },
    ];
    MemoryReader { streams, requests: Mutex::new(Vec::new()) }
}

pub(crate) fn engine() -> Engine {
    Engine::new(EngineOptions::default())
}

pub(crate) fn hints_of(reader: &MemoryReader) -> Vec<LogFilterHints> {
    reader.requests.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).iter().map(|r| r.hints.clone()).collect()
}

pub(crate) fn forward_range(limit: u32) -> RangeParams {
    RangeParams { start_ns: t(0), end_ns: t(100), step_ns: 0, interval_ns: 0, direction: Direction::Forward, limit }
}
