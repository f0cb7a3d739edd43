//! What happens to spans between ingest and the trace store.
//!
//! - [`MetricsGenerator`]: span metrics and service graphs from every span, before sampling (Tempo's
//!   metrics-generator names and labels), collected periodically into the tenant's metrics.
//! - [`TailSampler`]: holds each trace's spans until a decision wait has passed since its last span, then keeps or
//!   drops the whole trace by policy (errors, latency, per-service/operation rates), durably (its own WAL).

mod generator;
mod pipeline;
mod registry;
mod sampling;

pub use generator::{GeneratorConfig, GeneratorStats, MetricsGenerator, exponential_buckets};
pub use pipeline::{OtlpSpanCodec, PipelineConfig, PipelineError, TenantPipelineStats, TracePipeline};
pub use registry::{Registry, TRACE_ID_EXEMPLAR_LABEL};
pub use sampling::{
    Decision, LatencyRule, Policy, RateRule, SamplingConfig, SamplingError, SamplingStats, SpanCodec, SpanMatcher,
    TailSampler, decide, trace_draw,
};
