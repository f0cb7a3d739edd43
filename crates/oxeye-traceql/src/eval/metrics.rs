pub struct MetricSeries;
pub struct MetricsRequest;
