//! TraceQL metrics (being built).
pub struct MetricSeries;
pub struct MetricsRequest;
