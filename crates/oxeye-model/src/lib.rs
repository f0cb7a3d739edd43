//! The signal types every oxeye layer shares.
//!
//! Receivers (`oxeye-ingest`) decode wire formats into these types, storage engines persist them and query engines
//! read them back. Nothing here knows about a protocol or a file format: this crate is the vocabulary, not the
//! grammar. Metrics follow the Prometheus data model: a series is a sorted set of labels (the metric name is the
//! `__name__` label), a sample is a millisecond timestamp with a float value. Logs follow Loki's (see
//! [`LogStream`]).

pub mod go_json;
mod labels;
mod logs;
mod metrics;
pub mod rate;
mod rejection;
mod tenant;
mod tenant_map;
pub mod time;
mod traces;

pub use labels::{Label, Labels, LabelsBuilder, METRIC_NAME_LABEL};
pub use logs::{LogBatch, LogEntry, LogStream, SPAN_ID_METADATA, TRACE_ID_METADATA};
pub use metrics::{
    Exemplar, MetricMetadata, MetricType, STALE_NAN, STALE_NAN_BITS, Sample, TimeSeries, WriteBatch, is_stale_nan,
};
pub use rejection::{RejectReason, Rejection};
pub use tenant::{DEFAULT_TENANT, MAX_TENANT_ID_LEN, TenantId, TenantIdError};
pub use tenant_map::{TenantMap, tenants_on_disk};
pub use traces::{
    AttrValue, Attribute, IdError, Resource, SERVICE_NAME_ATTRIBUTE, Scope, Span, SpanBatch, SpanEvent, SpanId,
    SpanKind, SpanLink, StatusCode, Trace, TraceId, UNKNOWN_SERVICE, find_attribute,
};
