//! Prometheus's status endpoints: `/api/v1/status/buildinfo`, `/runtimeinfo` and `/tsdb`, in Prometheus's field
//! names and order. Prometheus's `/status/flags` and `/status/config` are deliberately absent: they describe
//! Prometheus's own flags and scrape configuration, which oxeye does not have, and Grafana does not call them
//! (older Grafana alerting took any answer from `/status/flags` for a Thanos server).

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use oxeye_metrics_store::HeadStats;

use crate::params::Params;
use crate::prom_json::{self, write_str};
use crate::tenant::tenant_from_headers;
use crate::{ApiError, ApiState};

/// Entries per list of `/status/tsdb` when no `limit` is given, and the most allowed (Prometheus's values).
const DEFAULT_TSDB_LIMIT: usize = 10;
const MAX_TSDB_LIMIT: usize = 10_000;

/// `GET /api/v1/status/buildinfo`: `{"version","revision","branch","buildUser","buildDate","goVersion"}`. The
/// version is oxeye's own; without a `features` field Grafana classifies the server as Prometheus.
pub async fn build_info(State(state): State<ApiState>) -> Response {
    let info = &state.config.build_info;
    let mut data = String::from("{");
    let fields = [
        ("version", &info.version),
        ("revision", &info.revision),
        ("branch", &info.branch),
        ("buildUser", &info.build_user),
        ("buildDate", &info.build_date),
        ("goVersion", &info.go_version),
    ];
    for (index, (name, value)) in fields.into_iter().enumerate() {
        if index > 0 {
            data.push(',');
        }
        let _ = write!(data, "\"{name}\":");
        write_str(&mut data, value);
    }
    data.push('}');
    prom_json::success(&data, &[], &[])
}

/// `GET /api/v1/status/runtimeinfo`, with oxeye's equivalents of Prometheus's Go runtime fields: tokio's alive
/// tasks for `goroutineCount`, its worker threads for `GOMAXPROCS`, no memory limit (`GOMEMLIMIT` =
/// `math.MaxInt64`, as Go reports none), empty `GOGC`/`GODEBUG`. The configuration is read once at start-up, so
/// `lastConfigTime` is the start time. `corruptionCount` is 0: WAL corruptions are logged, not counted yet.
/// `storageRetention` is the default retention (tenants may override it).
pub async fn runtime_info(State(state): State<ApiState>) -> Response {
    let runtime = tokio::runtime::Handle::current().metrics();
    let cwd = std::env::current_dir().map(|path| path.display().to_string()).unwrap_or_default();
    let start_time = format_rfc3339_nanos(state.started_at);
    let retention = format_prometheus_duration(state.store.options().default_limits.retention);
    let mut data = String::from("{\"startTime\":");
    write_str(&mut data, &start_time);
    data.push_str(",\"CWD\":");
    write_str(&mut data, &cwd);
    data.push_str(",\"hostname\":");
    write_str(&mut data, &hostname());
    data.push_str(",\"serverTime\":");
    write_str(&mut data, &format_rfc3339_nanos(SystemTime::now()));
    data.push_str(",\"reloadConfigSuccess\":true,\"lastConfigTime\":");
    write_str(&mut data, &start_time);
    let _ = write!(
        data,
        ",\"corruptionCount\":0,\"goroutineCount\":{},\"GOMAXPROCS\":{},\"GOMEMLIMIT\":{},\"GOGC\":\"\",\"GODEBUG\":\"\",\"storageRetention\":",
        runtime.num_alive_tasks(),
        runtime.num_workers(),
        i64::MAX
    );
    write_str(&mut data, &retention);
    data.push('}');
    prom_json::success(&data, &[], &[])
}

/// `GET /api/v1/status/tsdb`: cardinality statistics of the tenant's head (Prometheus also describes only its
/// head): `headStats` and four top-`limit` lists of `{"name","value"}`.
pub async fn tsdb_status(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &headers, &[])?;
    let limit = match params.value("limit") {
        "" => DEFAULT_TSDB_LIMIT,
        text => match text.parse::<i64>() {
            Ok(limit) if limit >= 1 => usize::try_from(limit).unwrap_or(usize::MAX),
            _ => return Err(ApiError::BadData("limit must be a positive number".into())),
        },
    };
    if limit > MAX_TSDB_LIMIT {
        return Err(ApiError::BadData(format!("limit must not exceed {MAX_TSDB_LIMIT}")));
    }
    let tenant = tenant_from_headers(&headers)?;
    let stats = match state.store.existing_tenant(&tenant) {
        Some(db) => tokio::task::spawn_blocking(move || db.head_stats(limit))
            .await
            .map_err(|e| ApiError::Internal(format!("tsdb status task failed: {e}")))?,
        None => HeadStats { min_time_ms: i64::MAX, max_time_ms: i64::MIN, ..HeadStats::default() },
    };
    Ok(prom_json::success(&render_tsdb_status(&stats), &[], &[]))
}

fn render_tsdb_status(stats: &HeadStats) -> String {
    let mut out = String::with_capacity(1024);
    let _ = write!(
        out,
        "{{\"headStats\":{{\"numSeries\":{},\"numLabelPairs\":{},\"chunkCount\":{},\"minTime\":{},\"maxTime\":{}}}",
        stats.num_series, stats.num_label_pairs, stats.chunk_count, stats.min_time_ms, stats.max_time_ms
    );
    let lists = [
        ("seriesCountByMetricName", &stats.series_count_by_metric_name),
        ("labelValueCountByLabelName", &stats.label_value_count_by_label_name),
        ("memoryInBytesByLabelName", &stats.memory_in_bytes_by_label_name),
        ("seriesCountByLabelValuePair", &stats.series_count_by_label_value_pair),
    ];
    for (name, entries) in lists {
        let _ = write!(out, ",\"{name}\":[");
        for (index, (entry, count)) in entries.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            out.push_str("{\"name\":");
            write_str(&mut out, entry);
            let _ = write!(out, ",\"value\":{count}}}");
        }
        out.push(']');
    }
    out.push('}');
    out
}

/// The host name, as Go's `os.Hostname` reads it on Linux.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default()
}

/// A time in UTC as Go's `time.Time` marshals to JSON (RFC 3339 with nanoseconds, trailing zeros dropped).
fn format_rfc3339_nanos(time: SystemTime) -> String {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let seconds = since_epoch.as_secs() as i64;
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = oxeye_model::time::civil_from_days(days);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    );
    let nanos = since_epoch.subsec_nanos();
    if nanos > 0 {
        let fraction = format!("{nanos:09}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// A duration as Prometheus's `model.Duration.String` prints it: `15d`, `1w`, `1h30m`, `0s`. Years and weeks
/// are used only when they divide the duration exactly.
fn format_prometheus_duration(duration: Duration) -> String {
    let mut ms = duration.as_millis();
    if ms == 0 {
        return "0s".to_string();
    }
    const DAY: u128 = 86_400_000;
    let units: [(&str, u128, bool); 7] = [
        ("y", 365 * DAY, true),
        ("w", 7 * DAY, true),
        ("d", DAY, false),
        ("h", 3_600_000, false),
        ("m", 60_000, false),
        ("s", 1000, false),
        ("ms", 1, false),
    ];
    let mut out = String::new();
    for (unit, size, only_exact) in units {
        if only_exact && !ms.is_multiple_of(size) {
            continue;
        }
        let count = ms / size;
        if count > 0 {
            let _ = write!(out, "{count}{unit}");
            ms -= count * size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_format_like_go() {
        let f = |nanos: u64, want: &str| {
            assert_eq!(format_rfc3339_nanos(UNIX_EPOCH + Duration::from_nanos(nanos)), want);
        };
        f(0, "1970-01-01T00:00:00Z");
        f(1_700_000_000_000_000_000, "2023-11-14T22:13:20Z");
        f(1_700_000_000_120_000_000, "2023-11-14T22:13:20.12Z");
        f(951_782_400_000_000_001, "2000-02-29T00:00:00.000000001Z");
    }

    #[test]
    fn durations_format_like_prometheus() {
        let f = |seconds: u64, want: &str| assert_eq!(format_prometheus_duration(Duration::from_secs(seconds)), want);
        f(0, "0s");
        f(15 * 86_400, "15d");
        f(7 * 86_400, "1w");
        f(365 * 86_400, "1y");
        f(90 * 86_400, "90d");
        f(5400, "1h30m");
        assert_eq!(format_prometheus_duration(Duration::from_millis(1500)), "1s500ms");
    }
}
