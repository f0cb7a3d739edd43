//! Prometheus remote_write 1.0 (`prometheus.WriteRequest`, protobuf inside snappy block framing) and 2.0
//! (`io.prometheus.write.v2.Request`, see `v2.rs`).
//!
//! [`decode_write_request`] turns an HTTP body into a [`DecodedWrite`](crate::DecodedWrite): it checks the size
//! the snappy header announces against the caller's limit before allocating, decodes the protobuf, and converts
//! each series into the model. A series whose labels are unusable (an empty or duplicated label name, no
//! `__name__`) is refused on its own, as Prometheus's write handler does, and the rest of the request is kept.
//! [`encode_write_request`] is the inverse, for tests and benchmarks.
//!
//! The message types are written here with prost derives rather than generated from `.proto` files: the schema is
//! small and stable, and no maintained crate ships it for prost 0.14. Field numbers follow
//! `prompb/types.proto` and `prompb/remote.proto`.

mod decode;
mod proto;
mod raw;
#[cfg(test)]
mod tests;
mod v2;

pub use decode::{decode_write_request, decompress, encode_write_request};
pub use proto::{Exemplar, Label, MetricMetadata, MetricType as ProtoMetricType, Sample, TimeSeries, WriteRequest};
pub use raw::{RawSeries, RawWriteRequest};
pub use v2::{
    ExemplarV2, MetadataV2, RequestV2, TimeSeriesV2, WrittenCounts, decode_write_request_v2, encode_write_request_v2,
};
