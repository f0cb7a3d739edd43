//! `oxeye serve` configuration: flags, `OXEYE_*` environment variables and a YAML file (`--config`), in that
//! order of precedence, validated into a [`ServeConfig`] at start-up.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use oxeye_ingest::otlp_metrics::OtlpMetricsConfig;
use oxeye_metrics_store::{Limits, parse_duration};
use serde::Deserialize;

/// Flags of `oxeye serve`. Each may also be given as an environment variable or in the YAML file.
#[derive(clap::Args, Debug, Default)]
pub struct ServeArgs {
    /// YAML configuration file.
    #[arg(long, env = "OXEYE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory for all data [default: ./oxeye-data].
    #[arg(long, env = "OXEYE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Main HTTP address: every API and the UI [default: 127.0.0.1:9800].
    #[arg(long, env = "OXEYE_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// OTLP/gRPC address [default: 127.0.0.1:4317].
    #[arg(long, env = "OXEYE_OTLP_GRPC_LISTEN")]
    pub otlp_grpc_listen: Option<SocketAddr>,
    /// OTLP/HTTP address, serving the same routes as the main port [default: 127.0.0.1:4318].
    #[arg(long, env = "OXEYE_OTLP_HTTP_LISTEN")]
    pub otlp_http_listen: Option<SocketAddr>,
    /// How long data is kept, e.g. 7d, 12h, 4w [default: 7d].
    #[arg(long, env = "OXEYE_RETENTION")]
    pub retention: Option<String>,
    /// Log format: text or json [default: text].
    #[arg(long, env = "OXEYE_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Log level or filter directives, e.g. info or oxeye=debug [default: info].
    #[arg(long, env = "OXEYE_LOG_LEVEL")]
    pub log_level: Option<String>,
    /// WAL fsync policy: `always` (group commit before each acknowledgement), `never`, or an interval such as
    /// `1s` [default: 1s].
    #[arg(long, env = "OXEYE_WAL_FSYNC")]
    pub wal_fsync: Option<String>,
    /// How often blocks are cut from the head, compacted and expired [default: 30s].
    #[arg(long, env = "OXEYE_MAINTENANCE_INTERVAL")]
    pub maintenance_interval: Option<String>,
    /// Longest a PromQL query may take, its wait for an evaluation slot included; a request's `timeout`
    /// parameter can only shorten it [default: 30s].
    #[arg(long, env = "OXEYE_QUERY_TIMEOUT")]
    pub query_timeout: Option<String>,
    /// Most samples a PromQL query may hold in memory at once [default: 50000000].
    #[arg(long, env = "OXEYE_QUERY_MAX_SAMPLES")]
    pub query_max_samples: Option<usize>,
    /// Most series one selector of a PromQL query may load, 0 for no limit [default: 0].
    #[arg(long, env = "OXEYE_QUERY_MAX_SERIES")]
    pub query_max_series: Option<usize>,
    /// PromQL queries evaluated at once; further queries wait for a slot, in arrival order [default: 20].
    #[arg(long, env = "OXEYE_QUERY_MAX_CONCURRENCY")]
    pub query_max_concurrency: Option<usize>,
    /// How far back an instant selector looks for a sample; a request's `lookback_delta` overrides it
    /// [default: 5m].
    #[arg(long, env = "OXEYE_QUERY_LOOKBACK_DELTA")]
    pub query_lookback_delta: Option<String>,
}

/// The YAML file. Every key is optional; flags and environment variables win over it.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Directory for all data.
    pub data_dir: Option<PathBuf>,
    /// Main HTTP address.
    pub listen: Option<SocketAddr>,
    /// OTLP/gRPC address.
    pub otlp_grpc_listen: Option<SocketAddr>,
    /// OTLP/HTTP address.
    pub otlp_http_listen: Option<SocketAddr>,
    /// Default retention (`7d`).
    pub retention: Option<String>,
    /// `text` or `json`.
    pub log_format: Option<String>,
    /// Log level or filter directives.
    pub log_level: Option<String>,
    /// `always`, `never` or an interval.
    pub wal_fsync: Option<String>,
    /// How often blocks are cut, compacted and expired (`30s`).
    pub maintenance_interval: Option<String>,
    /// Limits for every tenant without an override.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Per-tenant overrides of the limits (and retention), by tenant id.
    #[serde(default)]
    pub tenants: HashMap<String, LimitsConfig>,
    /// OTLP → Prometheus translation.
    #[serde(default)]
    pub otlp_metrics: Option<OtlpMetricsConfig>,
    /// Largest accepted request body in bytes, compressed.
    pub max_request_body_bytes: Option<usize>,
    /// Largest request body in bytes after decompression.
    pub max_decompressed_bytes: Option<usize>,
    /// PromQL limits.
    #[serde(default)]
    pub query: QueryFileConfig,
    /// Log store limits (every tenant; retention follows `retention` and `tenants.<id>.retention`).
    #[serde(default)]
    pub logs: LogsFileConfig,
    /// Trace store limits, span metrics and tail sampling.
    #[serde(default)]
    pub traces: TracesFileConfig,
}

/// The `traces:` section.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct TracesFileConfig {
    /// Most spans stored per trace; more are refused and the trace marked truncated [default: 10000].
    pub max_spans_per_trace: Option<u64>,
    /// Longest string attribute value kept, in bytes; longer values are cut [default: 2048].
    pub max_attribute_bytes: Option<usize>,
    /// Sustained ingestion rate per tenant in spans per second [default: 100000].
    pub ingestion_rate_spans: Option<f64>,
    /// Ingestion burst per tenant in spans [default: 200000].
    pub ingestion_burst_spans: Option<f64>,
    /// Encoded span bytes held in memory per tenant before a block is cut [default: 67108864].
    pub head_max_bytes: Option<u64>,
    /// Longest a span waits in memory before a block is cut [default: 30m].
    pub head_max_age: Option<String>,
    /// Longest a Tempo search or TraceQL metrics query may run before it is answered 504 [default: 30s].
    pub query_timeout: Option<String>,
    /// Span metrics and service graphs (Tempo's metrics-generator).
    #[serde(default)]
    pub span_metrics: SpanMetricsFileConfig,
    /// Tail sampling for every tenant (off unless `enabled: true`).
    pub sampling: Option<SamplingFileConfig>,
    /// Per-tenant sampling settings, replacing `sampling` for that tenant.
    #[serde(default)]
    pub tenant_sampling: HashMap<String, SamplingFileConfig>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct SpanMetricsFileConfig {
    /// Span metrics (`traces_spanmetrics_*`) [default: true].
    pub enabled: Option<bool>,
    /// Service graphs (`traces_service_graph_*`) [default: true].
    pub service_graphs: Option<bool>,
    /// Extra span-metric labels from span or resource attributes, e.g. `[http.method]`.
    #[serde(default)]
    pub dimensions: Vec<String>,
    /// Latency buckets in seconds [default: 0.002 × 2ⁿ, 14 buckets].
    pub histogram_buckets: Option<Vec<f64>>,
}

#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct SamplingFileConfig {
    /// Sampling on [default: false].
    #[serde(default)]
    pub enabled: bool,
    /// Wait after a trace's last span before deciding [default: 10s].
    pub decision_wait: Option<String>,
    /// Keep every trace with an error span [default: true].
    pub keep_errors: Option<bool>,
    /// Keep every trace at least this long, e.g. `2s` [default: none].
    pub latency_threshold: Option<String>,
    /// Keep traces where a matching span lasts at least `threshold`.
    #[serde(default)]
    pub latency_rules: Vec<LatencyRuleFile>,
    /// Fraction of the other traces kept [default: 0.1].
    pub base_rate: Option<f64>,
    /// Fractions by service and/or span name (the largest matching rule wins over the base rate).
    #[serde(default)]
    pub rate_rules: Vec<RateRuleFile>,
    /// Spans held per tenant before the oldest traces are decided early [default: 1000000].
    pub max_pending_spans: Option<usize>,
}

#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct LatencyRuleFile {
    pub service: Option<String>,
    pub span_name: Option<String>,
    pub threshold: String,
}

#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RateRuleFile {
    pub service: Option<String>,
    pub span_name: Option<String>,
    pub rate: f64,
}

impl SamplingFileConfig {
    fn resolve(
        &self,
        wal_sync: oxeye_metrics_store::WalSyncPolicy,
    ) -> anyhow::Result<Option<oxeye_trace_pipeline::SamplingConfig>> {
        use oxeye_trace_pipeline::{LatencyRule, RateRule, SamplingConfig, SpanMatcher};
        if !self.enabled {
            return Ok(None);
        }
        let rate = |value: f64, what: &str| -> anyhow::Result<f64> {
            if (0.0..=1.0).contains(&value) { Ok(value) } else { bail!("{what} must be between 0 and 1, not {value}") }
        };
        let duration =
            |text: &str, what: &str| parse_duration(text).map_err(anyhow::Error::msg).context(what.to_string());
        let mut config = SamplingConfig { wal_sync, ..SamplingConfig::default() };
        if let Some(text) = &self.decision_wait {
            config.decision_wait = duration(text, "decision_wait")?;
        }
        if let Some(keep) = self.keep_errors {
            config.keep_errors = keep;
        }
        if let Some(text) = &self.latency_threshold {
            config.latency_threshold = Some(duration(text, "latency_threshold")?);
        }
        for rule in &self.latency_rules {
            config.latency_rules.push(LatencyRule {
                matcher: SpanMatcher { service: rule.service.clone(), span_name: rule.span_name.clone() },
                threshold: duration(&rule.threshold, "latency_rules.threshold")?,
            });
        }
        if let Some(value) = self.base_rate {
            config.base_rate = rate(value, "base_rate")?;
        }
        for rule in &self.rate_rules {
            config.rate_rules.push(RateRule {
                matcher: SpanMatcher { service: rule.service.clone(), span_name: rule.span_name.clone() },
                rate: rate(rule.rate, "rate_rules.rate")?,
            });
        }
        if let Some(value) = self.max_pending_spans {
            config.max_pending_spans = value.max(1);
        }
        Ok(Some(config))
    }
}

/// The `logs:` section: limits of the log store, in Loki's terms.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct LogsFileConfig {
    /// Longest accepted log line in bytes [default: 262144].
    pub max_line_size: Option<usize>,
    /// Most streams a tenant may have in the head [default: 20000].
    pub max_streams: Option<usize>,
    /// Most labels per stream [default: 15].
    pub max_label_names_per_stream: Option<usize>,
    /// Sustained ingestion rate per tenant in MiB/s [default: 64].
    pub ingestion_rate_mb: Option<f64>,
    /// Ingestion burst per tenant in MiB [default: 128].
    pub ingestion_burst_mb: Option<f64>,
    /// Bytes of lines held in memory per tenant before a block is cut [default: 134217728].
    pub head_max_bytes: Option<u64>,
    /// Longest a line waits in memory before a block is cut, e.g. `30m` [default: 30m].
    pub head_max_age: Option<String>,
}

impl LogsFileConfig {
    fn apply(&self, limits: &mut oxeye_logs_store::LogLimits) {
        if let Some(value) = self.max_line_size {
            limits.max_line_size = value;
        }
        if let Some(value) = self.max_streams {
            limits.max_streams = value;
        }
        if let Some(value) = self.max_label_names_per_stream {
            limits.max_label_names_per_stream = value;
        }
        if let Some(value) = self.ingestion_rate_mb {
            limits.ingestion_rate_bytes = value * (1 << 20) as f64;
        }
        if let Some(value) = self.ingestion_burst_mb {
            limits.ingestion_burst_bytes = value * (1 << 20) as f64;
        }
    }
}

/// The `query:` section: PromQL limits (Prometheus's `--query.*` flags). Flags and environment variables win.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct QueryFileConfig {
    /// Longest a query may take, its wait for an evaluation slot included (`30s`).
    pub timeout: Option<String>,
    /// Most samples a query may hold in memory at once (50,000,000).
    pub max_samples: Option<usize>,
    /// Most series one selector may load, 0 for no limit (0).
    pub max_series: Option<usize>,
    /// Queries evaluated at once; further queries wait for a slot (20).
    pub max_concurrency: Option<usize>,
    /// How far back an instant selector looks for a sample (`5m`).
    pub lookback_delta: Option<String>,
}

impl QueryFileConfig {
    /// Resolves `flags` (the `--query-*` flags, in the same shape) over this section over the defaults into
    /// `query`.
    fn apply(self, flags: QueryFileConfig, query: &mut oxeye_api::QueryConfig) -> anyhow::Result<()> {
        let positive_duration = |value: Option<String>, flag: &str| -> anyhow::Result<Option<Duration>> {
            let Some(text) = value else { return Ok(None) };
            let duration = parse_duration(&text).map_err(anyhow::Error::msg).with_context(|| flag.to_string())?;
            if duration.is_zero() {
                bail!("{flag} must be positive");
            }
            Ok(Some(duration))
        };
        if let Some(timeout) = positive_duration(flags.timeout.or(self.timeout), "--query-timeout")? {
            query.engine.timeout = timeout;
        }
        let lookback = flags.lookback_delta.or(self.lookback_delta);
        if let Some(lookback) = positive_duration(lookback, "--query-lookback-delta")? {
            query.engine.lookback_delta_ms = i64::try_from(lookback.as_millis()).unwrap_or(i64::MAX).max(1);
        }
        if let Some(samples) = flags.max_samples.or(self.max_samples) {
            if samples == 0 {
                bail!("--query-max-samples must be positive");
            }
            query.engine.max_samples = samples;
        }
        if let Some(series) = flags.max_series.or(self.max_series) {
            query.engine.max_series = series;
        }
        if let Some(concurrency) = flags.max_concurrency.or(self.max_concurrency) {
            if concurrency == 0 {
                bail!("--query-max-concurrency must be at least 1");
            }
            query.max_concurrency = concurrency;
        }
        Ok(())
    }
}

/// Per-tenant limits; absent keys keep the defaults (or, for a tenant override, the global values).
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Retention, e.g. `30d`.
    pub retention: Option<String>,
    /// Most series in memory (default 2,000,000).
    pub max_active_series: Option<usize>,
    /// Most labels per series (default 30).
    pub max_labels_per_series: Option<usize>,
    /// Longest label name in bytes (default 1024).
    pub max_label_name_length: Option<usize>,
    /// Longest label value in bytes (default 2048).
    pub max_label_value_length: Option<usize>,
    /// Oldest accepted sample age, e.g. `1d` (default: the retention).
    pub max_sample_age: Option<String>,
    /// How far in the future a sample may be (default `10m`).
    pub max_future: Option<String>,
    /// Out-of-order acceptance window (default `10m`).
    pub out_of_order_window: Option<String>,
    /// Exemplars kept per series (default 10).
    pub max_exemplars_per_series: Option<usize>,
    /// Samples per second per tenant, 0 = unlimited (default 0).
    pub ingestion_rate_samples_per_second: Option<u64>,
}

impl LimitsConfig {
    fn apply(&self, base: &Limits) -> anyhow::Result<Limits> {
        let duration = |value: &Option<String>, key: &str| -> anyhow::Result<Option<Duration>> {
            value
                .as_deref()
                .map(|v| parse_duration(v).map_err(anyhow::Error::msg).with_context(|| format!("limit {key}")))
                .transpose()
        };
        let mut limits = base.clone();
        if let Some(retention) = duration(&self.retention, "retention")? {
            limits.retention = retention;
        }
        if let Some(value) = self.max_active_series {
            limits.max_active_series = value;
        }
        if let Some(value) = self.max_labels_per_series {
            limits.max_labels_per_series = value;
        }
        if let Some(value) = self.max_label_name_length {
            limits.max_label_name_length = value;
        }
        if let Some(value) = self.max_label_value_length {
            limits.max_label_value_length = value;
        }
        if let Some(value) = duration(&self.max_sample_age, "max_sample_age")? {
            limits.max_sample_age = Some(value);
        }
        if let Some(value) = duration(&self.max_future, "max_future")? {
            limits.max_future = value;
        }
        if let Some(value) = duration(&self.out_of_order_window, "out_of_order_window")? {
            limits.out_of_order_window = value;
        }
        if let Some(value) = self.max_exemplars_per_series {
            limits.max_exemplars_per_series = value;
        }
        if let Some(value) = self.ingestion_rate_samples_per_second {
            limits.ingestion_rate_samples_per_second = value;
        }
        Ok(limits)
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The resolved configuration.
#[derive(Debug)]
pub struct ServeConfig {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub otlp_grpc_listen: SocketAddr,
    pub otlp_http_listen: SocketAddr,
    pub log_format: LogFormat,
    pub log_level: String,
    pub wal_sync: oxeye_metrics_store::WalSyncPolicy,
    pub maintenance_interval: Duration,
    pub default_limits: Limits,
    pub tenant_limits: HashMap<String, Limits>,
    pub api: oxeye_api::ApiConfig,
    pub log_limits: oxeye_logs_store::LogLimits,
    pub log_tenant_limits: HashMap<String, oxeye_logs_store::LogLimits>,
    pub log_head_max_bytes: u64,
    pub log_head_max_age: Duration,
    pub trace_limits: oxeye_traces_store::TraceLimits,
    pub trace_tenant_limits: HashMap<String, oxeye_traces_store::TraceLimits>,
    pub trace_head_max_bytes: u64,
    pub trace_head_max_age: Duration,
    pub trace_pipeline: oxeye_trace_pipeline::PipelineConfig,
}

impl ServeConfig {
    pub fn resolve(args: ServeArgs) -> anyhow::Result<Self> {
        let file: FileConfig = match &args.config {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).with_context(|| format!("reading config file {}", path.display()))?;
                serde_saphyr::from_str(&text).map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let default_addr =
            |text: &str| -> SocketAddr { text.parse().unwrap_or_else(|_| unreachable!("BUG: bad default address")) };
        let retention_text = args.retention.or(file.retention.clone()).unwrap_or_else(|| "7d".to_string());
        let retention = parse_duration(&retention_text).map_err(anyhow::Error::msg).context("--retention")?;
        let mut base = Limits { retention, ..Limits::default() };
        base = file.limits.apply(&base)?;
        if file.limits.retention.is_none() {
            base.retention = retention;
        }
        let mut tenant_limits = HashMap::new();
        for (tenant, overrides) in &file.tenants {
            oxeye_model::TenantId::new(tenant).with_context(|| format!("tenants.{tenant}"))?;
            tenant_limits.insert(tenant.clone(), overrides.apply(&base).with_context(|| format!("tenants.{tenant}"))?);
        }
        let log_format = match args.log_format.or(file.log_format).as_deref().unwrap_or("text") {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => bail!("--log-format must be text or json, not {other:?}"),
        };
        let wal_sync = match args.wal_fsync.or(file.wal_fsync).as_deref().unwrap_or("1s") {
            "always" => oxeye_metrics_store::WalSyncPolicy::Always,
            "never" => oxeye_metrics_store::WalSyncPolicy::Never,
            interval => oxeye_metrics_store::WalSyncPolicy::Interval(
                parse_duration(interval)
                    .map_err(anyhow::Error::msg)
                    .context("--wal-fsync must be always, never or an interval")?,
            ),
        };
        let maintenance_text =
            args.maintenance_interval.or(file.maintenance_interval).unwrap_or_else(|| "30s".to_string());
        let maintenance_interval =
            parse_duration(&maintenance_text).map_err(anyhow::Error::msg).context("--maintenance-interval")?;
        if maintenance_interval.is_zero() {
            bail!("--maintenance-interval must be positive");
        }
        let mut api = oxeye_api::ApiConfig::default();
        if let Some(otlp) = file.otlp_metrics {
            api.otlp_metrics = otlp;
        }
        if let Some(bytes) = file.max_request_body_bytes {
            api.max_request_body_bytes = bytes;
        }
        if let Some(bytes) = file.max_decompressed_bytes {
            api.max_decompressed_bytes = bytes;
        }
        let query_flags = QueryFileConfig {
            timeout: args.query_timeout,
            max_samples: args.query_max_samples,
            max_series: args.query_max_series,
            max_concurrency: args.query_max_concurrency,
            lookback_delta: args.query_lookback_delta,
        };
        file.query.apply(query_flags, &mut api.query)?;
        let mut log_limits = oxeye_logs_store::LogLimits { retention: base.retention, ..Default::default() };
        file.logs.apply(&mut log_limits);
        let log_tenant_limits = tenant_limits
            .iter()
            .map(|(tenant, limits)| {
                (tenant.clone(), oxeye_logs_store::LogLimits { retention: limits.retention, ..log_limits.clone() })
            })
            .collect();
        let log_head_max_age = match &file.logs.head_max_age {
            Some(text) => parse_duration(text).map_err(anyhow::Error::msg).context("logs.head_max_age")?,
            None => Duration::from_secs(30 * 60),
        };
        let traces = &file.traces;
        let mut trace_limits = oxeye_traces_store::TraceLimits { retention: base.retention, ..Default::default() };
        if let Some(value) = traces.max_spans_per_trace {
            trace_limits.max_spans_per_trace = value.max(1);
        }
        if let Some(value) = traces.max_attribute_bytes {
            trace_limits.max_attribute_bytes = value;
        }
        if let Some(value) = traces.ingestion_rate_spans {
            trace_limits.ingestion_rate_spans = value;
        }
        if let Some(value) = traces.ingestion_burst_spans {
            trace_limits.ingestion_burst_spans = value;
        }
        let trace_tenant_limits = tenant_limits
            .iter()
            .map(|(tenant, limits)| {
                (
                    tenant.clone(),
                    oxeye_traces_store::TraceLimits { retention: limits.retention, ..trace_limits.clone() },
                )
            })
            .collect();
        let trace_head_max_age = match &traces.head_max_age {
            Some(text) => parse_duration(text).map_err(anyhow::Error::msg).context("traces.head_max_age")?,
            None => Duration::from_secs(30 * 60),
        };
        let mut generator = oxeye_trace_pipeline::GeneratorConfig::default();
        if let Some(enabled) = traces.span_metrics.enabled {
            generator.span_metrics = enabled;
        }
        if let Some(enabled) = traces.span_metrics.service_graphs {
            generator.service_graphs = enabled;
        }
        generator.dimensions = traces.span_metrics.dimensions.clone();
        if let Some(buckets) = &traces.span_metrics.histogram_buckets {
            generator.latency_buckets = buckets.clone();
        }
        let sampler_sync = wal_sync;
        let sampling = match &traces.sampling {
            Some(sampling) => sampling.resolve(sampler_sync).context("traces.sampling")?,
            None => None,
        };
        let mut tenant_sampling = HashMap::new();
        for (tenant, sampling) in &traces.tenant_sampling {
            oxeye_model::TenantId::new(tenant).with_context(|| format!("traces.tenant_sampling.{tenant}"))?;
            let resolved =
                sampling.resolve(sampler_sync).with_context(|| format!("traces.tenant_sampling.{tenant}"))?;
            tenant_sampling.insert(tenant.clone(), resolved);
        }
        let trace_pipeline = oxeye_trace_pipeline::PipelineConfig { generator, sampling, tenant_sampling };
        if let Some(text) = &traces.query_timeout {
            api.traceql.timeout = parse_duration(text).map_err(anyhow::Error::msg).context("traces.query_timeout")?;
        }
        Ok(Self {
            trace_limits,
            trace_tenant_limits,
            trace_head_max_bytes: traces.head_max_bytes.unwrap_or(64 << 20),
            trace_head_max_age,
            trace_pipeline,
            log_limits,
            log_tenant_limits,
            log_head_max_bytes: file.logs.head_max_bytes.unwrap_or(128 << 20),
            log_head_max_age,
            data_dir: args.data_dir.or(file.data_dir).unwrap_or_else(|| PathBuf::from("./oxeye-data")),
            listen: args.listen.or(file.listen).unwrap_or_else(|| default_addr("127.0.0.1:9800")),
            otlp_grpc_listen: args
                .otlp_grpc_listen
                .or(file.otlp_grpc_listen)
                .unwrap_or_else(|| default_addr("127.0.0.1:4317")),
            otlp_http_listen: args
                .otlp_http_listen
                .or(file.otlp_http_listen)
                .unwrap_or_else(|| default_addr("127.0.0.1:4318")),
            log_format,
            log_level: args.log_level.or(file.log_level).unwrap_or_else(|| "info".to_string()),
            wal_sync,
            maintenance_interval,
            default_limits: base,
            tenant_limits,
            api,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_and_tenant_overrides_apply() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("oxeye.yaml");
        std::fs::write(
            &path,
            "data_dir: /from/file\nlisten: 127.0.0.1:1111\nretention: 3d\nlimits:\n  max_labels_per_series: 40\ntenants:\n  team-a:\n    retention: 30d\n",
        )
        .unwrap();
        let args =
            ServeArgs { config: Some(path), listen: Some("127.0.0.1:2222".parse().unwrap()), ..ServeArgs::default() };
        let config = ServeConfig::resolve(args).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/from/file"));
        assert_eq!(config.listen.port(), 2222, "a flag wins over the file");
        assert_eq!(config.default_limits.retention, Duration::from_secs(3 * 86_400));
        assert_eq!(config.default_limits.max_labels_per_series, 40);
        let team = &config.tenant_limits["team-a"];
        assert_eq!(team.retention, Duration::from_secs(30 * 86_400));
        assert_eq!(team.max_labels_per_series, 40, "overrides start from the global limits");
        assert_eq!(config.otlp_grpc_listen.port(), 4317);
    }

    #[test]
    fn query_limits_come_from_flags_then_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("oxeye.yaml");
        std::fs::write(
            &path,
            "query:\n  timeout: 2m\n  max_concurrency: 4\n  lookback_delta: 1m\n  max_series: 1000\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(path),
            query_timeout: Some("10s".into()),
            query_max_samples: Some(1000),
            ..ServeArgs::default()
        };
        let query = ServeConfig::resolve(args).unwrap().api.query;
        assert_eq!(query.engine.timeout, Duration::from_secs(10), "a flag wins over the file");
        assert_eq!(query.max_concurrency, 4);
        assert_eq!(query.engine.lookback_delta_ms, 60_000);
        assert_eq!(query.engine.max_samples, 1000);
        assert_eq!(query.engine.max_series, 1000);

        let defaults = ServeConfig::resolve(ServeArgs::default()).unwrap().api.query;
        assert_eq!(defaults.engine.timeout, Duration::from_secs(30));
        assert_eq!(defaults.max_concurrency, 20);
        assert_eq!(defaults.engine.lookback_delta_ms, 300_000);

        for (args, flag) in [
            (ServeArgs { query_max_concurrency: Some(0), ..ServeArgs::default() }, "--query-max-concurrency"),
            (ServeArgs { query_timeout: Some("0s".into()), ..ServeArgs::default() }, "--query-timeout"),
            (ServeArgs { query_lookback_delta: Some("5x".into()), ..ServeArgs::default() }, "--query-lookback-delta"),
        ] {
            let error = ServeConfig::resolve(args).unwrap_err();
            assert!(format!("{error:#}").contains(flag), "{error:#}");
        }
    }

    #[test]
    fn bad_values_are_refused_with_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.yaml");
        std::fs::write(&path, "retension: 3d\n").unwrap();
        let error = ServeConfig::resolve(ServeArgs { config: Some(path), ..ServeArgs::default() }).unwrap_err();
        assert!(format!("{error:#}").contains("retension"), "{error:#}");
        let error =
            ServeConfig::resolve(ServeArgs { retention: Some("7x".into()), ..ServeArgs::default() }).unwrap_err();
        assert!(format!("{error:#}").contains("--retention"), "{error:#}");
    }
}
