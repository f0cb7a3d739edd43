//! Spans of one trace under construction: ids, parentage, depth, timing, status and exception events.
//!
//! [`crate::shop`] drives it: it opens a span, lets the span's children run, then closes it at the time the last
//! child returned plus the span's own work. Errors are planned per trace ([`ErrorPlan`]): the n-th failure point
//! the trace reaches fails, and the failure travels up through every caller to the root.

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::{Span, Status, status::StatusCode};
use rand::Rng;
use rand::rngs::StdRng;

use crate::topology::{ScopeKind, boolean, string};

/// Deepest span a trace may have (the root is at depth 1).
pub const MAX_DEPTH: u8 = 6;

/// A finished span and where it is exported from.
pub struct SpanRecord {
    pub pod: usize,
    pub scope: ScopeKind,
    pub depth: u8,
    pub span: Span,
}

/// Which failure point of an error trace fails: the `countdown`-th one reached (0: the first).
pub struct ErrorPlan {
    pub countdown: u32,
    pub fired: bool,
}

pub struct TraceBuilder {
    pub trace_id: [u8; 16],
    pub spans: Vec<SpanRecord>,
    pub error_plan: Option<ErrorPlan>,
}

impl TraceBuilder {
    pub fn new(trace_id: [u8; 16], error_plan: Option<ErrorPlan>) -> TraceBuilder {
        TraceBuilder { trace_id, spans: Vec::with_capacity(64), error_plan }
    }

    /// Opens a span at `start_ns` under `parent` (None: the root); its end is set by [`TraceBuilder::close`].
    #[allow(clippy::too_many_arguments)]
    pub fn open(
        &mut self,
        rng: &mut StdRng,
        parent: Option<usize>,
        pod: usize,
        scope: ScopeKind,
        kind: SpanKind,
        name: String,
        start_ns: u64,
    ) -> usize {
        let (parent_span_id, depth) = match parent {
            Some(index) => (self.spans[index].span.span_id.clone(), self.spans[index].depth + 1),
            None => (Vec::new(), 1),
        };
        assert!(depth <= MAX_DEPTH, "BUG: span {name:?} at depth {depth}");
        let span = Span {
            trace_id: self.trace_id.to_vec(),
            span_id: rng.random::<u64>().max(1).to_be_bytes().to_vec(),
            parent_span_id,
            name,
            kind: kind as i32,
            start_time_unix_nano: start_ns,
            end_time_unix_nano: start_ns,
            flags: 0x100 | 1, // sampled; the parent's remote-ness is known
            ..Default::default()
        };
        self.spans.push(SpanRecord { pod, scope, depth, span });
        self.spans.len() - 1
    }

    pub fn depth(&self, index: usize) -> u8 {
        self.spans[index].depth
    }

    pub fn close(&mut self, index: usize, end_ns: u64) {
        let span = &mut self.spans[index].span;
        span.end_time_unix_nano = end_ns.max(span.start_time_unix_nano + 1_000);
    }

    pub fn attr(&mut self, index: usize, attribute: KeyValue) {
        self.spans[index].span.attributes.push(attribute);
    }

    /// Whether the failure point just reached fails (only in an error trace, only once).
    pub fn failure_point(&mut self) -> bool {
        match &mut self.error_plan {
            Some(plan) if !plan.fired => {
                if plan.countdown == 0 {
                    plan.fired = true;
                    true
                } else {
                    plan.countdown -= 1;
                    false
                }
            }
            _ => false,
        }
    }

    /// Marks a span failed: status ERROR with `message`.
    pub fn set_error(&mut self, index: usize, message: &str) {
        self.spans[index].span.status = Some(Status { message: message.to_string(), code: StatusCode::Error as i32 });
    }

    /// Records an exception event (OpenTelemetry semantic conventions) at `time_ns`.
    pub fn exception(&mut self, index: usize, time_ns: u64, exception_type: &str, message: &str, stacktrace: String) {
        self.spans[index].span.events.push(Event {
            time_unix_nano: time_ns,
            name: "exception".to_string(),
            attributes: vec![
                string("exception.type", exception_type),
                string("exception.message", message),
                string("exception.stacktrace", &stacktrace),
                boolean("exception.escaped", false),
            ],
            ..Default::default()
        });
    }

    pub fn event(&mut self, index: usize, time_ns: u64, name: &str, attributes: Vec<KeyValue>) {
        self.spans[index].span.events.push(Event {
            time_unix_nano: time_ns,
            name: name.to_string(),
            attributes,
            ..Default::default()
        });
    }
}
