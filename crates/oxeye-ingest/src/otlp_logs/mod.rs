//! OTLP logs (`ExportLogsServiceRequest`, protobuf or OTLP/JSON) mapped into streams the way Loki 3's OTLP
//! endpoint does with its default `otlp_config` (`pkg/loghttp/push/otlp.go`, `otlplabels/`).
//!
//! - Stream labels: the resource attributes in Loki's default index list (`service.name`, `service.namespace`,
//!   `service.instance.id`, `deployment.environment`, `deployment.environment.name`, `cloud.region`,
//!   `cloud.availability_zone`, `k8s.cluster.name`, `k8s.namespace.name`, `k8s.pod.name`, `k8s.container.name`,
//!   `container.name`, `k8s.replicaset.name`, `k8s.deployment.name`, `k8s.statefulset.name`, `k8s.daemonset.name`,
//!   `k8s.cronjob.name`, `k8s.job.name`), names normalised (`k8s.pod.name` → `k8s_pod_name`). Without a
//!   `service.name`, `service_name` is taken from the first of Loki's `discover_service_name` labels present, else
//!   `unknown_service`.
//! - Structured metadata, in this order: the record's attributes; `observed_timestamp` (when both times are set),
//!   `severity_number`, `severity_text`, `dropped_attributes_count`, `flags`, `trace_id` and `span_id` (lowercase
//!   hex), `event_name`; the other resource attributes; the scope attributes, `scope_name`, `scope_version`,
//!   `scope_dropped_attributes_count`; then `detected_level` (from the severity; see [`crate::log_level`]).
//!   Map-valued attributes are flattened (`http` → `{method}` becomes `http_method`), names normalised with
//!   Prometheus's OTLP label namer, values rendered as pdata's `AsString` (JSON for arrays and maps, base64 for
//!   bytes).
//! - The line is the body's `AsString` (a string body as is); the timestamp is `time_unix_nano`, else
//!   `observed_time_unix_nano`, else the caller's `now_ns`.
//! - Records with the same stream labels share one [`LogStream`](oxeye_model::LogStream).
//!
//! Differences from Loki: an attribute key that cannot become a label name (empty, only punctuation) refuses its
//! resource, scope or record instead of the whole request; a metadata name that appears at several levels keeps
//! the innermost value (record over resource over scope) instead of being stored twice; a trace or span id of the
//! wrong length refuses the record (pdata refuses the request). Protobuf strings must be UTF-8 (prost refuses the
//! request otherwise; pdata does not check).

mod decode;
#[cfg(test)]
mod tests;
mod translate;

pub use decode::{decode_json_request, decode_protobuf_request};
pub use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsPartialSuccess, ExportLogsServiceRequest};
pub use translate::{INDEX_LABEL_ATTRIBUTES, partial_success, translate};

use crate::{DecodeError, DecodedLogs};

/// Decodes an OTLP/protobuf logs body and translates it (see [`translate`]).
///
/// Fails with [`DecodeError::Protobuf`] when the body is not an `ExportLogsServiceRequest`.
pub fn decode_protobuf(body: &[u8], now_ns: i64) -> Result<DecodedLogs, DecodeError> {
    Ok(translate(decode_protobuf_request(body)?, now_ns))
}

/// Decodes an OTLP/JSON logs body (lowerCamelCase or snake_case field names, integers as numbers or strings,
/// severity numbers by name) and translates it (see [`translate`]).
///
/// Fails with [`DecodeError::Json`] when the body is not an OTLP/JSON `ExportLogsServiceRequest`.
pub fn decode_json(body: &[u8], now_ns: i64) -> Result<DecodedLogs, DecodeError> {
    Ok(translate(decode_json_request(body)?, now_ns))
}
