//! Protocol decoders: bytes in, [`oxeye_model::WriteBatch`], [`oxeye_model::LogBatch`] or
//! [`oxeye_model::SpanBatch`] out.
//!
//! Each receiver lives in its own module with the same shape (a `mod.rs` that documents it, the decoder, tests).
//! Nothing here touches storage: the API layer decodes a request with these functions and hands the batch to a
//! store. Decoders never panic on input and bound the memory they allocate by the size of what they are given.
//!
//! Every decoder keeps the good part of a request: a series (or OTLP data point, or text line) that cannot be
//! accepted is reported as an [`oxeye_model::Rejection`] (or, for text, a line error) next to the batch, and only a
//! request that cannot be read at all fails with a [`DecodeError`]. Log decoders (`loki_push`, `otlp_logs`,
//! `elasticsearch_bulk`) do the same with a [`DecodedLogs`] and [`LogRejection`]s.

pub mod elasticsearch_bulk;
mod error;
pub mod log_level;
mod log_streams;
pub mod loki_push;
mod otlp_json;
pub mod otlp_logs;
pub mod otlp_metrics;
pub mod otlp_traces;
pub mod prometheus_text;
pub mod remote_write;
pub mod zipkin;

pub use error::DecodeError;
pub use log_streams::{
    DecodedLogs, LogRejectReason, LogRejection, SERVICE_NAME_LABEL, SERVICE_NAME_SOURCES, UNKNOWN_SERVICE,
};

use oxeye_model::{Rejection, WriteBatch};

/// A decoded write: what can be stored, and what was refused.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DecodedWrite {
    pub batch: WriteBatch,
    /// One entry per refused series (remote write) or per refused metric and reason (OTLP).
    pub rejections: Vec<Rejection>,
}

impl DecodedWrite {
    /// The number of samples (for OTLP: data points) refused.
    pub fn rejected_samples(&self) -> usize {
        self.rejections.iter().map(|rejection| rejection.samples).sum()
    }
}
