//! OTLP metrics (`ExportMetricsServiceRequest`) from protobuf or JSON, translated into Prometheus series.
//!
//! [`decode_metrics_protobuf`] and [`decode_metrics_json`] read a request body (the JSON decoder also accepts the
//! snake_case field names and string-encoded numbers proto3 JSON allows). [`translate_metrics`] then turns the
//! request into a [`WriteBatch`](oxeye_model::WriteBatch) exactly as Prometheus 3.x's OTLP receiver does with its
//! default settings (`storage/remote/otlptranslator/prometheusremotewrite` and `github.com/prometheus/otlptranslator`):
//!
//! - names: `UnderscoreEscapingWithSuffixes` by default: `http.server.duration` in `s` becomes
//!   `http_server_duration_seconds`, monotonic sums get `_total`, gauges in `1` get `_ratio`; attribute keys
//!   become label names (`http.method` → `http_method`, `1st` → `key_1st`, `_x` → `key_x`);
//! - `job` is `service.namespace/service.name` (or `service.name`), `instance` is `service.instance.id`, and the
//!   other resource attributes go onto a `target_info` gauge; scope labels (`otel_scope_*`) only when
//!   `promote_scope_metadata` is on (off by default, as in Prometheus);
//! - gauges and sums are one series each (non-monotonic sums are gauges), classic histograms become
//!   `_bucket{le}` / `_sum` / `_count`, summaries `{quantile}` / `_sum` / `_count`; exemplars keep `trace_id` and
//!   `span_id` in hex; a point flagged "no recorded value" becomes a stale marker; timestamps go from ns to ms;
//! - metadata (type, help, unit) is recorded per family.
//!
//! Where oxeye differs: what Prometheus would fail the whole request for is refused per metric or data point and
//! reported as OTLP partial success; exponential histograms are refused (`unsupported_metric_type`) until native
//! histograms exist; delta sums and histograms are converted to cumulative with the caller's
//! [`DeltaToCumulative`] state (Prometheus needs a feature flag and the Collector's processor for that), so their
//! metadata type is counter / histogram rather than Prometheus's "unknown" for raw deltas.

pub(crate) mod attribute_value;
mod config;
pub(crate) mod decode;
mod delta;
pub(crate) mod names;
mod points;
#[cfg(test)]
mod tests;
mod translate;

pub use config::{DeltaToCumulativeConfig, OtlpMetricsConfig, TranslationStrategy};
pub use decode::{decode_metrics_json, decode_metrics_protobuf};
pub use delta::DeltaToCumulative;
pub use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest,
};
pub use translate::{TranslatedMetrics, translate_metrics};
