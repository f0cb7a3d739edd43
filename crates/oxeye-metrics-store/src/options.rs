//! Store configuration and per-tenant limits.

use std::collections::HashMap;
use std::time::Duration;

use oxeye_wal::SyncPolicy;

/// Limits applied to one tenant's writes. Defaults follow Mimir's where Mimir has one.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Blocks whose newest sample is older than this are deleted.
    pub retention: Duration,
    /// Most series in the head at once; a write that would create more is refused (HTTP 429).
    pub max_active_series: usize,
    /// Most labels per series, `__name__` included (Mimir: 30).
    pub max_labels_per_series: usize,
    /// Longest label name in bytes (Mimir: 1024).
    pub max_label_name_length: usize,
    /// Longest label value in bytes (Mimir: 2048).
    pub max_label_value_length: usize,
    /// Samples older than now minus this are refused (`None`: the retention).
    pub max_sample_age: Option<Duration>,
    /// Samples newer than now plus this are refused (Mimir's creation grace period: 10 m).
    pub max_future: Duration,
    /// Samples up to this much older than the newest sample of the tenant are accepted out of order.
    pub out_of_order_window: Duration,
    /// Exemplars kept per series (the oldest are dropped).
    pub max_exemplars_per_series: usize,
    /// Samples per second per tenant, 0 for no limit (refused with HTTP 429).
    pub ingestion_rate_samples_per_second: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            retention: Duration::from_secs(7 * 24 * 3600),
            max_active_series: 2_000_000,
            max_labels_per_series: 30,
            max_label_name_length: 1024,
            max_label_value_length: 2048,
            max_sample_age: None,
            max_future: Duration::from_secs(600),
            out_of_order_window: Duration::from_secs(600),
            max_exemplars_per_series: 10,
            ingestion_rate_samples_per_second: 0,
        }
    }
}

impl Limits {
    /// The oldest acceptable sample age.
    pub fn effective_max_sample_age(&self) -> Duration {
        self.max_sample_age.unwrap_or(self.retention)
    }
}

/// Configuration of a [`crate::MetricsStore`].
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Root data directory; tenants live under `<data_dir>/tenants/<tenant>/metrics`.
    pub data_dir: std::path::PathBuf,
    pub wal_sync: SyncPolicy,
    pub wal_segment_size: u64,
    /// Time range of a freshly cut block (Prometheus: 2 h).
    pub block_range: Duration,
    /// Samples per head chunk before a new chunk is started (Prometheus: 120; 240 halves the per-chunk
    /// bookkeeping and compresses slightly better).
    pub samples_per_head_chunk: usize,
    /// Limits for tenants without an override.
    pub default_limits: Limits,
    /// Per-tenant overrides, by tenant id.
    pub tenant_limits: HashMap<String, Limits>,
}

impl StoreOptions {
    pub fn new(data_dir: impl Into<std::path::PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            wal_sync: SyncPolicy::Interval(Duration::from_secs(1)),
            wal_segment_size: 128 << 20,
            block_range: Duration::from_secs(2 * 3600),
            samples_per_head_chunk: 240,
            default_limits: Limits::default(),
            tenant_limits: HashMap::new(),
        }
    }

    /// The limits of `tenant`: its override, or the defaults.
    pub fn limits_for(&self, tenant: &str) -> &Limits {
        self.tenant_limits.get(tenant).unwrap_or(&self.default_limits)
    }
}

/// Parses a Prometheus-style duration: a sequence of `<number><unit>` with units `ms`, `s`, `m`, `h`, `d`, `w`,
/// `y` (365 d), e.g. `7d`, `1h30m`, `500ms`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".to_string());
    }
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total_ms: u128 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("invalid duration {text:?}: expected a number at {rest:?}"));
        }
        let number: u128 = rest[..digits].parse().map_err(|_| format!("invalid duration {text:?}"))?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let unit_ms: u128 = match unit {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "y" => 365 * 86_400_000,
            _ => {
                return Err(format!("invalid duration {text:?}: unknown unit {unit:?} (use ms, s, m, h, d, w, y)"));
            }
        };
        total_ms = total_ms.saturating_add(number.saturating_mul(unit_ms));
    }
    u64::try_from(total_ms).map(Duration::from_millis).map_err(|_| format!("duration {text:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_prometheus() {
        let f = |text: &str, want_ms: u64| {
            assert_eq!(parse_duration(text).unwrap(), Duration::from_millis(want_ms), "{text}")
        };
        f("7d", 7 * 86_400_000);
        f("1h30m", 5_400_000);
        f("500ms", 500);
        f("2w", 14 * 86_400_000);
        f("0", 0);
        for bad in ["", "7", "d", "1x", "1h-", "-1h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should fail");
        }
    }
}
