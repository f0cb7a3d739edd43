//! Configuration of the OTLP metrics translation (the `otlp:` section of Prometheus's configuration, plus the
//! delta-to-cumulative conversion that Prometheus runs through the OpenTelemetry Collector's processor).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How OTLP metric and label names become Prometheus names (Prometheus's `otlp.translation_strategy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TranslationStrategy {
    /// Characters outside the classic Prometheus name set become `_`; unit and type suffixes are added
    /// (`http.server.duration` in `s` → `http_server_duration_seconds`). Prometheus's default.
    #[default]
    UnderscoreEscapingWithSuffixes,
    /// Escaping as above, without suffixes.
    UnderscoreEscapingWithoutSuffixes,
    /// Names kept in UTF-8, with unit and type suffixes.
    #[serde(rename = "NoUTF8EscapingWithSuffixes")]
    NoUtf8EscapingWithSuffixes,
    /// Names kept exactly as sent.
    NoTranslation,
}

impl TranslationStrategy {
    /// Whether names are escaped to the classic `[a-zA-Z_:][a-zA-Z0-9_:]*` set.
    pub fn escapes(self) -> bool {
        matches!(self, Self::UnderscoreEscapingWithSuffixes | Self::UnderscoreEscapingWithoutSuffixes)
    }

    /// Whether unit, `_total` and `_ratio` suffixes are added.
    pub fn adds_suffixes(self) -> bool {
        matches!(self, Self::UnderscoreEscapingWithSuffixes | Self::NoUtf8EscapingWithSuffixes)
    }
}

/// The OTLP metrics receiver's translation settings. Every default is Prometheus 3.x's default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpMetricsConfig {
    /// How metric and label names are translated. Default `UnderscoreEscapingWithSuffixes`.
    pub translation_strategy: TranslationStrategy,
    /// Resource attributes copied as labels onto every series of the resource (besides `job` and `instance`,
    /// which are always derived from `service.*`). A data point attribute of the same name wins.
    pub promote_resource_attributes: Vec<String>,
    /// Promote every resource attribute except those in `ignore_resource_attributes`; takes precedence over
    /// `promote_resource_attributes`.
    pub promote_all_resource_attributes: bool,
    /// Resource attributes not promoted when `promote_all_resource_attributes` is set.
    pub ignore_resource_attributes: Vec<String>,
    /// Keep `service.name`, `service.namespace` and `service.instance.id` as labels of `target_info` too.
    pub keep_identifying_resource_attributes: bool,
    /// Add the instrumentation scope as labels (`otel_scope_name`, `otel_scope_version`,
    /// `otel_scope_schema_url` and `otel_scope_<attribute>`) to every series. Off by default, as in Prometheus.
    pub promote_scope_metadata: bool,
    /// Prefix `key` to label names that start with a single underscore (`_foo` → `key_foo`). On by default, as in
    /// Prometheus (which keeps it for backwards compatibility).
    pub label_name_underscore_sanitization: bool,
    /// Keep runs of underscores in translated label names (`a..b` → `a__b`) instead of collapsing them. On by
    /// default, as in Prometheus.
    pub label_name_preserve_multiple_underscores: bool,
    /// The query lookback delta, in seconds: `target_info` gets a sample every half of it between a resource's
    /// earliest and latest data point, so that it is always found next to the resource's series. Default 300.
    pub lookback_delta_seconds: u64,
    /// Converting delta temporality sums and histograms to cumulative.
    pub delta_to_cumulative: DeltaToCumulativeConfig,
}

impl Default for OtlpMetricsConfig {
    fn default() -> Self {
        Self {
            translation_strategy: TranslationStrategy::default(),
            promote_resource_attributes: Vec::new(),
            promote_all_resource_attributes: false,
            ignore_resource_attributes: Vec::new(),
            keep_identifying_resource_attributes: false,
            promote_scope_metadata: false,
            label_name_underscore_sanitization: true,
            label_name_preserve_multiple_underscores: true,
            lookback_delta_seconds: 300,
            delta_to_cumulative: DeltaToCumulativeConfig::default(),
        }
    }
}

impl OtlpMetricsConfig {
    /// The interval between `target_info` samples: half the lookback delta (at least one second).
    pub fn target_info_interval(&self) -> Duration {
        Duration::from_secs(self.lookback_delta_seconds.max(2) / 2)
    }
}

/// Limits of the per-tenant delta-to-cumulative state (see [`DeltaToCumulative`](super::DeltaToCumulative)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeltaToCumulativeConfig {
    /// Convert delta temporality to cumulative. When off, delta sums and histograms are rejected with reason
    /// `delta_temporality`, as Prometheus does without its delta feature flags. Default on.
    pub enabled: bool,
    /// The most streams (series) tracked per tenant; past it the least recently updated stream is forgotten, and
    /// restarts from zero if it comes back. Default 100000.
    pub max_streams: usize,
    /// Streams not updated for this many seconds are forgotten. Default 300 (the Collector's `max_stale`).
    pub max_idle_seconds: u64,
}

impl Default for DeltaToCumulativeConfig {
    fn default() -> Self {
        Self { enabled: true, max_streams: 100_000, max_idle_seconds: 300 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_prometheus_and_unknown_fields_are_refused() {
        let config: OtlpMetricsConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(config, OtlpMetricsConfig::default());
        assert!(config.label_name_underscore_sanitization);
        assert!(config.label_name_preserve_multiple_underscores);
        assert!(!config.promote_scope_metadata);
        assert_eq!(config.target_info_interval(), Duration::from_secs(150));

        let config: OtlpMetricsConfig =
            serde_json::from_str(r#"{"translation_strategy": "NoUTF8EscapingWithSuffixes"}"#).unwrap();
        assert_eq!(config.translation_strategy, TranslationStrategy::NoUtf8EscapingWithSuffixes);
        assert!(!config.translation_strategy.escapes());
        assert!(config.translation_strategy.adds_suffixes());

        let error = serde_json::from_str::<OtlpMetricsConfig>(r#"{"promote_scope": true}"#).unwrap_err();
        assert!(error.to_string().contains("unknown field `promote_scope`"), "{error}");
    }
}
