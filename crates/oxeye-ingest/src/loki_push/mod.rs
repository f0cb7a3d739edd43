//! Loki's push API (`POST /loki/api/v1/push`): JSON bodies and snappy-compressed protobuf `logproto.PushRequest`.
//!
//! [`decode_json`] and [`decode_protobuf_snappy`] turn a body (already stripped of any HTTP `Content-Encoding`)
//! into a [`DecodedLogs`](crate::DecodedLogs) the way Loki 3's distributor reads it:
//!
//! - stream labels: from the JSON `stream` object, or from the protobuf selector string (`{a="b", c="d"}`) read by
//!   a strict parser; names must be `[a-zA-Z_][a-zA-Z0-9_]*`, values UTF-8, names unique; empty values are dropped;
//!   a stream without `service_name` gets one from the first of `service`, `app`, `application`, … present, else
//!   `unknown_service` (Loki's default `discover_service_name`), so an empty label set is accepted as Loki does;
//! - entries: Unix-nanosecond timestamps (a JSON *string*, as Loki requires; a protobuf `Timestamp`), the line,
//!   structured metadata whose names are normalised like OTLP attribute keys (`trace.id` → `trace_id`) and whose
//!   invalid UTF-8 becomes a space; a `detected_level` is added (see [`crate::log_level`]'s rules);
//! - entries of streams with the same labels are merged into one [`LogStream`](oxeye_model::LogStream).
//!
//! A stream that cannot be accepted is refused on its own ([`LogRejection`](crate::LogRejection) naming its index,
//! and the entry index when an entry is at fault) and the others are kept; only a body that is not JSON, not
//! snappy, or not protobuf fails the request. Lines with invalid UTF-8 are kept with U+FFFD in place of the bad
//! bytes (Loki keeps the bytes, and its query API then renders them as U+FFFD).
//!
//! Differences from Loki: Loki fails the whole request when one stream's labels do not parse, and an entry whose
//! timestamp is a number fails the whole JSON body; oxeye refuses only that stream. The selector parser accepts
//! only `name="value"` pairs (Loki's `ParseMetric` also takes a metric name and quoted UTF-8 label names).

mod convert;
mod json;
mod proto;
mod selector;
#[cfg(test)]
mod tests;

pub use proto::{EntryAdapter, LabelPairAdapter, PushRequest, StreamAdapter, Timestamp};

use crate::{DecodeError, DecodedLogs};

/// Decodes a Loki JSON push body (`{"streams":[{"stream":{…},"values":[["<ns>","line",{…}],…]}]}`).
///
/// Fails with [`DecodeError::Json`] only when the body is not a JSON object with an optional `streams` array;
/// problems inside a stream refuse that stream.
pub fn decode_json(body: &[u8]) -> Result<DecodedLogs, DecodeError> {
    convert::convert_json(body)
}

/// Decodes a Loki protobuf push body: a `logproto.PushRequest` in snappy block format.
///
/// The decompressed size announced by the snappy header is checked against `max_decompressed_bytes` before
/// anything is allocated. Fails with [`DecodeError::SnappyCorrupt`], [`DecodeError::DecompressedTooLarge`] or
/// [`DecodeError::Protobuf`] when the body cannot be read; problems inside a stream refuse that stream.
pub fn decode_protobuf_snappy(body: &[u8], max_decompressed_bytes: usize) -> Result<DecodedLogs, DecodeError> {
    let protobuf = crate::remote_write::decompress(body, max_decompressed_bytes)?;
    convert::convert_protobuf(&protobuf)
}

/// Encodes `request` as a Loki protobuf push body (protobuf, then snappy block format). For tests and benchmarks.
///
/// # Panics
/// If the encoded protobuf is larger than snappy's block limit (about 4 GiB).
pub fn encode_protobuf_snappy(request: &PushRequest) -> Vec<u8> {
    use prost::Message;
    snap::raw::Encoder::new()
        .compress_vec(&request.encode_to_vec())
        .expect("a push request larger than snappy's 4 GiB block limit")
}
