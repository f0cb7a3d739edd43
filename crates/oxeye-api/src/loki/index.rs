//! Loki's metadata endpoints: labels, label values, series, index stats and volume. Answered from the store's
//! stream index (label sets and per-stream sizes), without reading log lines.

use std::collections::{BTreeMap, BTreeSet};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use oxeye_logs_store::TenantLogsReader;
use oxeye_model::Labels;
use oxeye_storage_api::{LogsReader, Matcher, StreamVolume};

use super::bad_request as bad;
use super::json::write_labels;
use super::params::{bounds, step};
use crate::params::Params;
use crate::prom_read::blocking;
use crate::tenant::tenant_from_headers;
use crate::{ApiError, ApiState};

fn json_response(body: String) -> Response {
    (StatusCode::OK, [("content-type", "application/json; charset=UTF-8")], body).into_response()
}

/// A stream selector parameter (`query` or `match[]`): matchers, or a 400 in Loki's words.
pub(crate) fn selector_param(text: &str) -> Result<Vec<Matcher>, ApiError> {
    crate::loki::parse_stream_selector(text).map_err(bad)
}

/// The request's tenant reader, or `None` when the tenant has never written logs.
fn reader(state: &ApiState, headers: &HeaderMap) -> Result<Option<TenantLogsReader>, ApiError> {
    let tenant = tenant_from_headers(headers).map_err(|e| bad(e.to_string()))?;
    Ok(state.logs.existing_tenant(&tenant).map(TenantLogsReader::new))
}

fn read_error(error: oxeye_storage_api::ReadError) -> ApiError {
    ApiError::PlainText(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
}

/// Streams matching the optional `query` selector in the request's range.
async fn matching_streams(state: &ApiState, headers: &HeaderMap, params: &Params) -> Result<Vec<Labels>, ApiError> {
    let (start, end) = bounds(params, oxeye_logs_store::now_ns())?;
    let matchers = match params.value("query") {
        "" => Vec::new(),
        text => selector_param(text)?,
    };
    let Some(reader) = reader(state, headers)? else { return Ok(Vec::new()) };
    blocking(move || reader.streams(&matchers, start, end.saturating_add(1)).map_err(read_error)).await
}

fn string_list_response(values: impl IntoIterator<Item = String>) -> Response {
    let values: Vec<String> = values.into_iter().collect();
    let mut body = String::from("{\"status\":\"success\"");
    // Loki omits `data` when there is nothing (`json:"data,omitempty"`).
    if !values.is_empty() {
        body.push_str(",\"data\":[");
        for (index, value) in values.iter().enumerate() {
            if index > 0 {
                body.push(',');
            }
            oxeye_model::go_json::write_string(&mut body, value);
        }
        body.push(']');
    }
    body.push_str("}\n");
    json_response(body)
}

/// `GET|POST /loki/api/v1/labels`: stream label names, sorted.
pub async fn labels(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &headers, &body)?;
    let streams = matching_streams(&state, &headers, &params).await?;
    let names: BTreeSet<String> = streams.iter().flat_map(|labels| labels.iter().map(|l| l.name.clone())).collect();
    Ok(string_list_response(names))
}

/// `GET|POST /loki/api/v1/label/<name>/values`: values of one stream label, sorted.
pub async fn label_values(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &headers, &body)?;
    let streams = matching_streams(&state, &headers, &params).await?;
    let values: BTreeSet<String> = streams.iter().filter_map(|labels| labels.get(&name).map(str::to_string)).collect();
    Ok(string_list_response(values))
}

/// `GET|POST /loki/api/v1/series`: label sets of streams matching any `match[]` (or `match`) selector.
pub async fn series(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &headers, &body)?;
    let (start, end) = bounds(&params, oxeye_logs_store::now_ns())?;
    let selectors: Vec<Vec<Matcher>> =
        params.all("match[]").chain(params.all("match")).map(selector_param).collect::<Result<_, _>>()?;
    let mut found: BTreeSet<Labels> = BTreeSet::new();
    if let Some(reader) = reader(&state, &headers)? {
        found = blocking(move || {
            let mut found = BTreeSet::new();
            if selectors.is_empty() {
                found.extend(reader.streams(&[], start, end.saturating_add(1)).map_err(read_error)?);
            }
            for matchers in selectors {
                found.extend(reader.streams(&matchers, start, end.saturating_add(1)).map_err(read_error)?);
            }
            Ok(found)
        })
        .await?;
    }
    let mut body = String::from("{\"status\":\"success\",\"data\":[");
    for (index, labels) in found.iter().enumerate() {
        if index > 0 {
            body.push(',');
        }
        write_labels(&mut body, labels.iter());
    }
    body.push_str("]}\n");
    Ok(json_response(body))
}

/// Per-stream volumes for the `query` selector in `[start, end]`.
async fn volumes(
    state: &ApiState,
    headers: &HeaderMap,
    params: &Params,
    start: i64,
    end: i64,
) -> Result<(Vec<Matcher>, Vec<StreamVolume>), ApiError> {
    let text = params.value("query");
    if text.is_empty() {
        return Err(bad("query parameter is required"));
    }
    let matchers = selector_param(text)?;
    let Some(reader) = reader(state, headers)? else { return Ok((matchers, Vec::new())) };
    let for_read = matchers.clone();
    let volumes = blocking(move || reader.volumes(&for_read, start, end.saturating_add(1)).map_err(read_error)).await?;
    Ok((matchers, volumes))
}

/// `GET|POST /loki/api/v1/index/stats`: `{"streams":…,"chunks":…,"bytes":…,"entries":…}`.
pub async fn index_stats(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &headers, &body)?;
    let (start, end) = bounds(&params, oxeye_logs_store::now_ns())?;
    let (_, volumes) = volumes(&state, &headers, &params, start, end).await?;
    let chunks: u64 = volumes.iter().map(|v| v.chunks).sum();
    let bytes: u64 = volumes.iter().map(|v| v.bytes).sum();
    let entries: u64 = volumes.iter().map(|v| v.entries).sum();
    Ok(json_response(format!(
        "{{\"streams\":{},\"chunks\":{chunks},\"bytes\":{bytes},\"entries\":{entries}}}\n",
        volumes.len()
    )))
}

/// A volume group: the label pairs its metric shows.
type Group = Vec<(String, String)>;

/// How volumes are grouped (Loki's `aggregateBy`): by the label sets the grouping names pick out of each stream
/// (`series`, the default), or by label name (`labels`: one group per label name, holding the bytes of every
/// stream that has that label).
struct VolumeGrouping {
    by_label_name: bool,
    /// `targetLabels` if given, else the names the selector matches on; empty means every label.
    names: Vec<String>,
}

impl VolumeGrouping {
    fn new(params: &Params, matchers: &[Matcher]) -> Result<Self, ApiError> {
        let by_label_name = match params.value("aggregateBy") {
            "" | "series" => false,
            "labels" => true,
            other => return Err(bad(format!("invalid aggregateBy value {other:?}: must be series or labels"))),
        };
        let target = params.value("targetLabels");
        let mut names: Vec<String> = if !target.is_empty() {
            target.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
        } else if by_label_name {
            Vec::new()
        } else {
            matchers.iter().map(|m| m.name.clone()).collect()
        };
        names.sort();
        names.dedup();
        Ok(Self { by_label_name, names })
    }

    /// Bytes per group over `volumes`.
    fn sum(&self, volumes: &[StreamVolume]) -> BTreeMap<Group, u64> {
        let mut groups: BTreeMap<Group, u64> = BTreeMap::new();
        for volume in volumes {
            for group in self.groups(&volume.labels) {
                *groups.entry(group).or_default() += volume.bytes;
            }
        }
        groups
    }

    /// The groups one stream adds its bytes to, each as the label pairs its metric shows.
    fn groups(&self, labels: &Labels) -> Vec<Group> {
        let picked = labels.iter().filter(|l| self.names.is_empty() || self.names.contains(&l.name));
        if self.by_label_name {
            picked.map(|l| vec![(l.name.clone(), String::new())]).collect()
        } else {
            vec![picked.map(|l| (l.name.clone(), l.value.clone())).collect()]
        }
    }
}

/// Writes a group's metric object (a label may have the empty value here, as Loki's `aggregateBy=labels` shows).
fn write_group(out: &mut String, group: &[(String, String)]) {
    out.push('{');
    for (index, (name, value)) in group.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        oxeye_model::go_json::write_string(out, name);
        out.push(':');
        oxeye_model::go_json::write_string(out, value);
    }
    out.push('}');
}

/// The group key Loki sorts ties by: the metric in Prometheus notation.
fn group_name(group: &[(String, String)]) -> String {
    let pairs: Vec<String> = group.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{{{}}}", pairs.join(", "))
}

fn volume_limit(params: &Params) -> Result<usize, ApiError> {
    match params.value("limit") {
        "" => Ok(100),
        text => text.parse::<usize>().ok().filter(|l| *l > 0).ok_or_else(|| bad("limit must be a positive value")),
    }
}

/// Groups ranked as Loki ranks them: largest (first) value first, ties by name; at most `limit`.
fn ranked<T>(groups: BTreeMap<Group, T>, first_value: impl Fn(&T) -> u64, limit: usize) -> Vec<(Group, T)> {
    let mut ranked: Vec<(Group, T)> = groups.into_iter().collect();
    ranked.sort_by(|a, b| {
        first_value(&b.1).cmp(&first_value(&a.1)).then_with(|| group_name(&a.0).cmp(&group_name(&b.0)))
    });
    ranked.truncate(limit);
    ranked
}

/// `GET|POST /loki/api/v1/index/volume`: bytes per group of streams, largest first, as a Prometheus vector at
/// `end`.
pub async fn volume(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &headers, &body)?;
    let (start, end) = bounds(&params, oxeye_logs_store::now_ns())?;
    let (matchers, volumes) = volumes(&state, &headers, &params, start, end).await?;
    let grouping = VolumeGrouping::new(&params, &matchers)?;
    let limit = volume_limit(&params)?;
    let groups = grouping.sum(&volumes);
    let mut body = String::from("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[");
    for (index, (group, bytes)) in ranked(groups, |bytes| *bytes, limit).iter().enumerate() {
        if index > 0 {
            body.push(',');
        }
        body.push_str("{\"metric\":");
        write_group(&mut body, group);
        body.push_str(",\"value\":[");
        super::json::write_seconds(&mut body, end);
        body.push(',');
        super::json::write_value(&mut body, *bytes as f64);
        body.push_str("]}");
    }
    body.push_str("]}}\n");
    Ok(json_response(body))
}

/// `GET|POST /loki/api/v1/index/volume_range`: the same per `step` bucket, as a matrix. A bucket counts the
/// streams' storage units that overlap it whole (oxeye keeps sizes per unit, not per second; Loki prorates chunks
/// by their overlap).
pub async fn volume_range(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &headers, &body)?;
    let (start, end) = bounds(&params, oxeye_logs_store::now_ns())?;
    let step_ns = step(&params, start, end)?.max(1_000_000_000);
    if (end - start) / step_ns > 11_000 {
        return Err(bad(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ));
    }
    let limit = volume_limit(&params)?;
    let mut series: BTreeMap<Group, Vec<(i64, u64)>> = BTreeMap::new();
    let mut grouping = None;
    // Loki's buckets: `[start, start + step]`, `[start + step, start + 2 step]`, …, the last one ending at `end`,
    // each reported at its end.
    let mut bucket_start = start;
    loop {
        let bucket_end = bucket_start.saturating_add(step_ns).min(end);
        let last = bucket_end >= end;
        let read_end = if last { end } else { bucket_end - 1 };
        let (matchers, volumes) = volumes(&state, &headers, &params, bucket_start, read_end).await?;
        let grouping = match &grouping {
            Some(grouping) => grouping,
            None => grouping.insert(VolumeGrouping::new(&params, &matchers)?),
        };
        for (group, bytes) in grouping.sum(&volumes) {
            series.entry(group).or_default().push((bucket_end, bytes));
        }
        if last {
            break;
        }
        bucket_start = bucket_end;
    }
    let mut body = String::from("{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[");
    for (index, (group, points)) in ranked(series, |points| points.first().map_or(0, |p| p.1), limit).iter().enumerate()
    {
        if index > 0 {
            body.push(',');
        }
        body.push_str("{\"metric\":");
        write_group(&mut body, group);
        body.push_str(",\"values\":[");
        for (point_index, (timestamp_ns, bytes)) in points.iter().enumerate() {
            if point_index > 0 {
                body.push(',');
            }
            body.push('[');
            super::json::write_seconds(&mut body, *timestamp_ns);
            body.push(',');
            super::json::write_value(&mut body, *bytes as f64);
            body.push(']');
        }
        body.push_str("]}");
    }
    body.push_str("]}}\n");
    Ok(json_response(body))
}
