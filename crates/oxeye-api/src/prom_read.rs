//! Prometheus metadata endpoints (`/api/v1/series`, `/labels`, `/label/<name>/values`, `/metadata`) in exactly
//! Prometheus's response shapes, and VictoriaMetrics' `/api/v1/export` (JSON lines of raw samples).
//!
//! Parameters come from the query string and, for POST, from a form body, as in Prometheus (`r.FormValue`); see
//! [`crate::params`].

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use oxeye_storage_api::{Matcher, MetricsReader, SelectRequest};
use serde_json::{Value, json};

use crate::params::Params;
use crate::prom_json::write_str;
use crate::tenant::tenant_from_headers;
use crate::time::{MAX_TIME_MS, MIN_TIME_MS};
use crate::{ApiError, ApiState};

fn success(data: Value, warnings: Vec<String>) -> Response {
    crate::prom_json::success_value(&data, &warnings)
}

fn reader(
    state: &ApiState,
    headers: &HeaderMap,
) -> Result<Option<std::sync::Arc<oxeye_metrics_store::TenantDb>>, ApiError> {
    let tenant = tenant_from_headers(headers)?;
    Ok(state.store.existing_tenant(&tenant))
}

/// Runs blocking store reads off the async runtime.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| ApiError::Internal(format!("read task failed: {e}")))?
}

fn labels_json(labels: &oxeye_model::Labels) -> Value {
    Value::Object(labels.iter().map(|l| (l.name.clone(), Value::String(l.value.clone()))).collect())
}

/// Truncates to `limit` (0 = none) and returns Prometheus's warning if anything was cut.
fn apply_limit<T>(items: &mut Vec<T>, limit: usize) -> Vec<String> {
    if limit > 0 && items.len() > limit {
        items.truncate(limit);
        return vec!["results truncated due to limit".to_string()];
    }
    Vec::new()
}

/// What every read endpoint parses first: the selectors, the time range, the limit and the tenant's database
/// (`None` for a tenant that has never written, whose reads are empty).
struct ReadScope {
    selectors: Vec<Vec<Matcher>>,
    start: i64,
    end: i64,
    limit: usize,
    db: Option<std::sync::Arc<oxeye_metrics_store::TenantDb>>,
}

impl ReadScope {
    /// `missing_match`: the error message when `match[]` is required and absent.
    fn parse(
        state: &ApiState,
        params: &Params,
        headers: &HeaderMap,
        missing_match: Option<&str>,
    ) -> Result<Self, ApiError> {
        // Prometheus's order: a missing `match[]`, then `limit`, `start`, `end`, then the selectors.
        if let (Some(message), None) = (missing_match, params.all("match[]").next()) {
            return Err(ApiError::BadData(message.to_string()));
        }
        let limit = params.limit()?;
        let start = params.time_or("start", MIN_TIME_MS)?;
        let end = params.time_or("end", MAX_TIME_MS)?;
        let selectors = params.selectors()?;
        Ok(Self { selectors, start, end, limit, db: reader(state, headers)? })
    }
}

/// `GET|POST /api/v1/series`.
pub async fn series(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &headers, &body)?;
    let ReadScope { selectors, start, end, limit, db } =
        ReadScope::parse(&state, &params, &headers, Some("no match[] parameter provided"))?;
    let Some(db) = db else { return Ok(success(json!([]), vec![])) };
    let mut all = blocking(move || {
        let mut merged = std::collections::BTreeSet::new();
        for matchers in selectors {
            merged.extend(db.series_labels(&SelectRequest::new(matchers, start, end))?);
        }
        Ok(merged.into_iter().collect::<Vec<_>>())
    })
    .await?;
    let warnings = apply_limit(&mut all, limit);
    Ok(success(Value::Array(all.iter().map(labels_json).collect()), warnings))
}

/// `GET|POST /api/v1/labels`.
pub async fn labels(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &headers, &body)?;
    let ReadScope { selectors, start, end, limit, db } = ReadScope::parse(&state, &params, &headers, None)?;
    let Some(db) = db else { return Ok(success(json!([]), vec![])) };
    let mut names = blocking(move || {
        let mut names = std::collections::BTreeSet::new();
        if selectors.is_empty() {
            names.extend(db.label_names(&SelectRequest::new(vec![], start, end))?);
        }
        for matchers in selectors {
            names.extend(db.label_names(&SelectRequest::new(matchers, start, end))?);
        }
        Ok(names.into_iter().collect::<Vec<_>>())
    })
    .await?;
    let warnings = apply_limit(&mut names, limit);
    Ok(success(json!(names), warnings))
}

/// `GET /api/v1/label/<name>/values`.
pub async fn label_values(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &headers, &[])?;
    // Prometheus 3 accepts UTF-8 label names escaped as `U__` + `_<hex>_` sequences.
    let name = unescape_label_name(&name).ok_or_else(|| ApiError::BadData(format!("invalid label name: {name:?}")))?;
    let ReadScope { selectors, start, end, limit, db } = ReadScope::parse(&state, &params, &headers, None)?;
    let Some(db) = db else { return Ok(success(json!([]), vec![])) };
    let mut values = blocking(move || {
        let mut values = std::collections::BTreeSet::new();
        if selectors.is_empty() {
            values.extend(db.label_values(&name, &SelectRequest::new(vec![], start, end))?);
        }
        for matchers in selectors {
            values.extend(db.label_values(&name, &SelectRequest::new(matchers, start, end))?);
        }
        Ok(values.into_iter().collect::<Vec<_>>())
    })
    .await?;
    let warnings = apply_limit(&mut values, limit);
    Ok(success(json!(values), warnings))
}

fn unescape_label_name(name: &str) -> Option<String> {
    let Some(escaped) = name.strip_prefix("U__") else {
        return (!name.is_empty()).then(|| name.to_string());
    };
    let mut out = String::new();
    let mut rest = escaped;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("__") {
            out.push('_');
            rest = after;
        } else if let Some(after) = rest.strip_prefix('_') {
            let end = after.find('_')?;
            out.push(char::from_u32(u32::from_str_radix(&after[..end], 16).ok()?)?);
            rest = &after[end + 1..];
        } else {
            let c = rest.chars().next()?;
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    Some(out)
}

/// `GET /api/v1/metadata`: `{"<metric>":[{"type":…,"help":…,"unit":…}]}` with `limit` (metric families; negative
/// for all, as Prometheus), `limit_per_metric` (accepted; oxeye keeps one entry per family) and `metric`.
pub async fn metadata(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &headers, &[])?;
    let number = |name: &str| -> Result<Option<i64>, ApiError> {
        match params.value(name) {
            "" => Ok(None),
            text => text.parse::<i64>().map(Some).map_err(|_| ApiError::BadData(format!("{name} must be a number"))),
        }
    };
    let limit = number("limit")?;
    number("limit_per_metric")?;
    let metric = params.get("metric").filter(|m| !m.is_empty()).map(str::to_string);
    let db = reader(&state, &headers)?;
    let (Some(db), false) = (db, limit == Some(0)) else { return Ok(crate::prom_json::success("{}", &[], &[])) };
    let families = limit.and_then(|n| usize::try_from(n).ok()).unwrap_or(0);
    let entries = blocking(move || Ok(db.metadata(metric.as_deref(), families)?)).await?;
    let mut by_metric: BTreeMap<&str, Vec<&oxeye_model::MetricMetadata>> = BTreeMap::new();
    for entry in &entries {
        by_metric.entry(entry.metric_family.as_str()).or_default().push(entry);
    }
    let mut data = String::from("{");
    for (index, (family, entries)) in by_metric.iter().enumerate() {
        if index > 0 {
            data.push(',');
        }
        write_str(&mut data, family);
        data.push_str(":[");
        for (entry_index, entry) in entries.iter().enumerate() {
            if entry_index > 0 {
                data.push(',');
            }
            data.push_str("{\"type\":");
            write_str(&mut data, entry.metric_type.as_str());
            data.push_str(",\"help\":");
            write_str(&mut data, &entry.help);
            data.push_str(",\"unit\":");
            write_str(&mut data, &entry.unit);
            data.push('}');
        }
        data.push(']');
    }
    data.push('}');
    Ok(crate::prom_json::success(&data, &[], &[]))
}

/// `GET|POST /api/v1/export`: one JSON object per line and series, `{"metric":{…},"values":[…],"timestamps":[…]}`
/// (VictoriaMetrics' shape). Values that JSON cannot hold are written as the strings `"NaN"`, `"+Inf"`, `"-Inf"`.
pub async fn export(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &headers, &body)?;
    let ReadScope { selectors, start, end, limit, db } =
        ReadScope::parse(&state, &params, &headers, Some("missing `match[]` query arg"))?;
    let Some(db) = db else {
        return Ok(([("content-type", "application/stream+json")], String::new()).into_response());
    };
    let mut series = blocking(move || {
        let mut merged: BTreeMap<oxeye_model::Labels, Vec<oxeye_model::Sample>> = BTreeMap::new();
        for matchers in selectors {
            for found in db.select_series(&SelectRequest::new(matchers, start, end))? {
                merged.insert(found.labels, found.samples);
            }
        }
        Ok(merged.into_iter().collect::<Vec<_>>())
    })
    .await?;
    if limit > 0 {
        series.truncate(limit);
    }
    let mut out = String::new();
    for (labels, samples) in &series {
        let values: Vec<Value> = samples
            .iter()
            .map(|s| match s.value {
                // Integral values print without a fraction, as VictoriaMetrics prints them.
                v if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 => json!(v as i64),
                v if v.is_finite() => json!(v),
                v if v.is_nan() => json!("NaN"),
                v if v > 0.0 => json!("+Inf"),
                _ => json!("-Inf"),
            })
            .collect();
        let timestamps: Vec<i64> = samples.iter().map(|s| s.timestamp_ms).collect();
        out.push_str(&json!({"metric": labels_json(labels), "values": values, "timestamps": timestamps}).to_string());
        out.push('\n');
    }
    Ok(([("content-type", "application/stream+json")], out).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_label_names_unescape() {
        assert_eq!(unescape_label_name("job").as_deref(), Some("job"));
        assert_eq!(unescape_label_name("U__a_2e_b").as_deref(), Some("a.b"));
        assert_eq!(unescape_label_name("U__a__b").as_deref(), Some("a_b"));
        assert_eq!(unescape_label_name("U__a_zz_b"), None);
    }
}
