//! OTLP traces (`ExportTraceServiceRequest`, protobuf or OTLP/JSON) into [`SpanBatch`](oxeye_model::SpanBatch)es.
//!
//! The mapping is direct: OTLP's span model is oxeye's. Each resource and scope becomes one shared `Arc` for all of
//! its spans; attribute values keep their types; ids are checked (a trace id must be 16 bytes and not all zero, a
//! span id 8 bytes and not all zero, a parent id empty or 8 bytes; an all-zero parent means a root span, as the
//! OpenTelemetry SDKs send). A span with a bad id is refused on its own and reported, the rest of the request is
//! kept — the API answers with OTLP partial success, as the Collector's receivers do for data they cannot accept.

mod decode;
mod encode;
#[cfg(test)]
mod tests;
mod translate;

pub use decode::{decode_json_request, decode_protobuf_request};
pub use encode::{any_value_of, key_values, to_request};
pub use opentelemetry_proto::tonic::collector::trace::v1::{ExportTracePartialSuccess, ExportTraceServiceRequest};
pub use translate::{any_value, translate};

use oxeye_model::SpanBatch;

use crate::DecodeError;

/// Why spans were refused by a decoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SpanRejectReason {
    InvalidTraceId,
    InvalidSpanId,
    InvalidParentSpanId,
    InvalidLink,
    /// A Zipkin span without the fields a span needs (id, trace id).
    MissingField,
}

/// Spans refused for one reason, with the first offending detail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpanRejection {
    pub reason: SpanRejectReason,
    pub message: String,
    pub spans: usize,
}

/// A decoded export: what can be stored, and what was refused.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DecodedSpans {
    pub batch: SpanBatch,
    pub rejections: Vec<SpanRejection>,
}

impl DecodedSpans {
    pub fn rejected_spans(&self) -> usize {
        self.rejections.iter().map(|rejection| rejection.spans).sum()
    }

    /// Records one refused span; rejections are grouped by reason, keeping the first message.
    pub(crate) fn reject(&mut self, reason: SpanRejectReason, message: impl FnOnce() -> String) {
        match self.rejections.iter_mut().find(|rejection| rejection.reason == reason) {
            Some(rejection) => rejection.spans += 1,
            None => self.rejections.push(SpanRejection { reason, message: message(), spans: 1 }),
        }
    }

    /// One line naming every refusal, for OTLP's `partial_success.error_message`.
    pub fn error_message(&self) -> String {
        let parts: Vec<String> = self
            .rejections
            .iter()
            .map(|rejection| format!("{} span(s) refused: {}", rejection.spans, rejection.message))
            .collect();
        parts.join("; ")
    }
}

/// Decodes an OTLP/protobuf traces body and translates it.
pub fn decode_protobuf(body: &[u8]) -> Result<DecodedSpans, DecodeError> {
    Ok(translate(decode_protobuf_request(body)?))
}

/// Decodes an OTLP/JSON traces body (lowerCamelCase or snake_case names, integers as numbers or strings, kinds and
/// status codes by number or enum name) and translates it.
pub fn decode_json(body: &[u8]) -> Result<DecodedSpans, DecodeError> {
    Ok(translate(decode_json_request(body)?))
}
