//! The Elasticsearch bulk API (`POST /insert/elasticsearch/_bulk`) as VictoriaLogs accepts it, which is what
//! Vector, Fluent Bit, Filebeat, Logstash and the Collector's Elasticsearch exporter send.
//!
//! [`BulkParams::from_request`] reads VictoriaLogs' ingestion parameters (`_stream_fields`, `_msg_field`,
//! `_time_field`, `ignore_fields`, `extra_fields`, from the query string or the `VL-*` headers); [`decode`] turns
//! the NDJSON body into entries: nested objects are flattened into dotted field names, the first present time
//! field is the timestamp (RFC 3339, a date, or Unix s/ms/µs/ns; `"0"` or none means `now_ns`), the first
//! non-empty message field is the line (VictoriaLogs' placeholder text when there is none), the stream fields
//! are the stream labels, and every other non-empty field is structured metadata. Label and metadata names are
//! normalised to `[a-zA-Z0-9_]` like OTLP attribute keys (`host.name` → `host_name`). [`render_response`] writes
//! the bulk response from the per-document outcomes.
//!
//! Differences from VictoriaLogs: a bad document is refused on its own and reported in the response (VictoriaLogs
//! stops at the first bad line and answers with an empty body); invalid UTF-8 is replaced by U+FFFD; a zone-less
//! date-time is UTC; `decolorize_fields` and `debug` are not supported; the stream labels are not repeated as
//! structured metadata (VictoriaLogs keeps them as fields too).

mod decode;
mod document;
mod params;
mod response;
#[cfg(test)]
mod tests;
mod timestamp;

pub use decode::{BulkAction, BulkItem, DecodedBulk, decode};
pub use params::{BulkParams, MISSING_MESSAGE};
pub use response::render_response;
