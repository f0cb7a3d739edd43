//! Grafana Logs Drilldown's endpoints: `detected_labels`, `detected_fields` and `detected_field/<name>/values`.
//!
//! - `detected_labels`: stream labels of the selected streams with their number of values, leaving out labels
//!   whose values all look like ids (numbers or UUIDs) unless they are Loki's "static" labels (`cluster`,
//!   `namespace`, `instance`, `pod`), as Loki 3 does.
//! - `detected_fields`: the query (a log query) is run for the newest `line_limit` (1,000) entries; each entry's
//!   structured metadata and the fields its line parses into — JSON if it parses as a JSON object (nested keys
//!   joined with `_`, with the original `jsonPath`), else logfmt — are collected with a type (from the value, by
//!   Loki's rules: int, float, boolean, duration, bytes, else string) and their number of distinct values. Loki
//!   estimates that number with a HyperLogLog sketch; oxeye counts exactly.

use std::collections::{BTreeMap, BTreeSet};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use oxeye_logql::{Engine, EngineOptions, QueryValue, RangeParams};
use oxeye_logs_store::TenantLogsReader;
use oxeye_storage_api::{Direction, LogsReader};
use serde_json::{Value, json};

use super::bad_request as bad;
use super::params::bounds;
use crate::params::Params;
use crate::tenant::tenant_from_headers;
use crate::{ApiError, ApiState};

/// Labels Loki keeps even when their values look like ids.
const STATIC_LABELS: &[&str] = &["cluster", "namespace", "instance", "pod"];
const DEFAULT_LINE_LIMIT: u32 = 1000;
const DEFAULT_FIELD_LIMIT: usize = 1000;

fn number_param(params: &Params, names: &[&str], default: u64) -> Result<u64, ApiError> {
    match names.iter().map(|name| params.value(name)).find(|value| !value.is_empty()) {
        None => Ok(default),
        Some(text) => text.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| bad("limit must be a positive value")),
    }
}

/// Whether every value is a number or a UUID (Loki's `containsAllIDTypes`).
fn all_ids(values: &BTreeSet<String>) -> bool {
    values.iter().all(|value| value.parse::<f64>().is_ok() || is_uuid(value))
}

fn is_uuid(value: &str) -> bool {
    let hex = value.trim_start_matches("urn:uuid:").trim_matches(|c| c == '{' || c == '}');
    let bytes = hex.as_bytes();
    match bytes.len() {
        32 => bytes.iter().all(u8::is_ascii_hexdigit),
        36 => bytes
            .iter()
            .enumerate()
            .all(|(i, b)| if [8, 13, 18, 23].contains(&i) { *b == b'-' } else { b.is_ascii_hexdigit() }),
        _ => false,
    }
}

/// Loki's `shouldRejectLabel`.
fn reject_label(values: &BTreeSet<String>) -> bool {
    if values.is_empty() {
        return true;
    }
    if values.len() <= 2 && values.iter().all(|v| v == "0" || v == "1") {
        return false;
    }
    all_ids(values)
}

/// `GET|POST /loki/api/v1/detected_labels?query=…&start=…&end=…`.
pub async fn detected_labels(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &headers, &body)?;
    let (start, end) = bounds(&params, oxeye_logs_store::now_ns())?;
    let matchers = match params.value("query") {
        "" => Vec::new(),
        text => oxeye_logql::parse_selector_unvalidated(text).map_err(|e| bad(e.to_string()))?,
    };
    let tenant = tenant_from_headers(&headers).map_err(|e| bad(e.to_string()))?;
    let streams = match state.logs.existing_tenant(&tenant) {
        None => Vec::new(),
        Some(logs) => tokio::task::spawn_blocking(move || {
            TenantLogsReader::new(logs).streams(&matchers, start, end.saturating_add(1))
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::PlainText(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?,
    };
    let mut values: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for labels in &streams {
        for label in labels.iter() {
            values.entry(label.name.clone()).or_default().insert(label.value.clone());
        }
    }
    let detected: Vec<Value> = values
        .iter()
        .filter(|(name, values)| {
            (STATIC_LABELS.contains(&name.as_str()) && !values.is_empty()) || !reject_label(values)
        })
        .map(|(name, values)| json!({"label": name, "cardinality": values.len()}))
        .collect();
    Ok(axum::Json(json!({ "detectedLabels": detected })).into_response())
}

/// A field seen in the sampled entries.
#[derive(Default)]
struct Field {
    kind: &'static str,
    values: BTreeSet<String>,
    parsers: Vec<&'static str>,
    json_path: Option<Vec<String>>,
}

/// Loki's `determineType`.
fn field_type(value: &str) -> &'static str {
    if value.parse::<i64>().is_ok() {
        "int"
    } else if value.parse::<f64>().is_ok() {
        "float"
    } else if matches!(
        value,
        "1" | "t" | "T" | "TRUE" | "true" | "True" | "0" | "f" | "F" | "FALSE" | "false" | "False"
    ) {
        "boolean"
    } else if crate::time::parse_duration_ns(value).is_ok() && value.chars().any(|c| c.is_ascii_alphabetic()) {
        "duration"
    } else if is_bytes(value) {
        "bytes"
    } else {
        "string"
    }
}

/// A humanized byte size (`10KB`, `1.5 MiB`, `512B`).
fn is_bytes(value: &str) -> bool {
    let trimmed = value.trim();
    let split = trimmed.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    !number.is_empty()
        && number.parse::<f64>().is_ok()
        && [
            "b", "kb", "kib", "mb", "mib", "gb", "gib", "tb", "tib", "pb", "pib", "eb", "eib", "k", "m", "g", "t",
            "ki", "mi", "gi", "ti",
        ]
        .contains(&unit.as_str())
}

/// A JSON or logfmt key made into a label name (Loki's sanitisation: anything but `[a-zA-Z0-9_]` becomes `_`).
fn sanitize(key: &str) -> String {
    key.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect()
}

/// Flattens a JSON object's scalar leaves into (label, value, path).
fn flatten_json(
    prefix: &str,
    path: &mut Vec<String>,
    object: &serde_json::Map<String, Value>,
    out: &mut Vec<(String, String, Vec<String>)>,
) {
    for (key, value) in object {
        let name = if prefix.is_empty() { sanitize(key) } else { format!("{prefix}_{}", sanitize(key)) };
        path.push(key.clone());
        match value {
            Value::Object(inner) => flatten_json(&name, path, inner, out),
            Value::String(text) => out.push((name, text.clone(), path.clone())),
            Value::Number(number) => out.push((name, number.to_string(), path.clone())),
            Value::Bool(flag) => out.push((name, flag.to_string(), path.clone())),
            Value::Null | Value::Array(_) => {}
        }
        path.pop();
    }
}

/// `key=value` pairs of a logfmt line (values unquoted); `None` if the line has none.
fn logfmt_pairs(line: &str) -> Option<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        let key_end = rest.find(|c: char| c == '=' || c.is_whitespace()).unwrap_or(rest.len());
        let key = &rest[..key_end];
        rest = &rest[key_end..];
        let value = if let Some(after) = rest.strip_prefix('=') {
            if let Some(quoted) = after.strip_prefix('"') {
                let mut value = String::new();
                let mut chars = quoted.char_indices();
                let mut end = quoted.len();
                while let Some((index, c)) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some((_, escaped)) = chars.next() {
                                value.push(escaped);
                            }
                        }
                        '"' => {
                            end = index + 1;
                            break;
                        }
                        c => value.push(c),
                    }
                }
                rest = &quoted[end.min(quoted.len())..];
                value
            } else {
                let value_end = after.find(char::is_whitespace).unwrap_or(after.len());
                rest = &after[value_end..];
                after[..value_end].to_string()
            }
        } else {
            String::new()
        };
        if !key.is_empty() && rest.len() < line.len() && !value.is_empty() {
            pairs.push((sanitize(key), value));
        }
        rest = rest.trim_start();
    }
    (!pairs.is_empty()).then_some(pairs)
}

/// Runs the request's log query for the newest `line_limit` entries and collects their fields.
async fn sample_fields(
    state: &ApiState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<BTreeMap<String, Field>, ApiError> {
    let (start, end) = bounds(params, oxeye_logs_store::now_ns())?;
    let line_limit = number_param(params, &["line_limit"], DEFAULT_LINE_LIMIT as u64)? as u32;
    let expr = oxeye_logql::parse(params.value("query")).map_err(|e| bad(e.to_string()))?;
    if !expr.is_log_query() {
        return Err(bad("detected fields need a log query"));
    }
    let tenant = tenant_from_headers(headers).map_err(|e| bad(e.to_string()))?;
    let Some(logs) = state.logs.existing_tenant(&tenant) else { return Ok(BTreeMap::new()) };
    let max_entries = state.config.logql.max_entries_limit as u32;
    let output = tokio::task::spawn_blocking(move || {
        let engine = Engine::new(EngineOptions { max_entries_limit: max_entries, ..EngineOptions::default() });
        let range = RangeParams {
            start_ns: start,
            end_ns: end,
            step_ns: 1,
            interval_ns: 0,
            direction: Direction::Backward,
            limit: line_limit,
        };
        engine.range(&TenantLogsReader::new(logs), &expr, range)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(|e| {
        let status = if e.is_client_error() { StatusCode::BAD_REQUEST } else { StatusCode::INTERNAL_SERVER_ERROR };
        ApiError::PlainText(status, e.to_string())
    })?;
    let mut fields: BTreeMap<String, Field> = BTreeMap::new();
    let QueryValue::Streams(streams) = &output.value else { return Ok(fields) };
    for entry in streams.iter().flat_map(|stream| &stream.entries) {
        for label in entry.labels.structured_metadata.iter() {
            let field = fields.entry(label.name.clone()).or_default();
            field.kind = field_type(&label.value);
            field.values.insert(label.value.clone());
        }
        let trimmed = entry.line.trim();
        let json_object = if trimmed.starts_with('{') { serde_json::from_str::<Value>(trimmed).ok() } else { None };
        let parsed: Vec<(String, String, Option<Vec<String>>, &'static str)> = match json_object {
            Some(Value::Object(object)) => {
                let mut leaves = Vec::new();
                flatten_json("", &mut Vec::new(), &object, &mut leaves);
                leaves.into_iter().map(|(name, value, path)| (name, value, Some(path), "json")).collect()
            }
            _ => logfmt_pairs(&entry.line)
                .unwrap_or_default()
                .into_iter()
                .map(|(name, value)| (name, value, None, "logfmt"))
                .collect(),
        };
        for (name, value, path, parser) in parsed {
            if name.is_empty() || entry.labels.stream.get(&name).is_some() {
                continue;
            }
            let field = fields.entry(name).or_default();
            field.kind = field_type(&value);
            field.values.insert(value);
            if !field.parsers.contains(&parser) {
                field.parsers.push(parser);
            }
            if path.is_some() {
                field.json_path = path;
            }
        }
    }
    Ok(fields)
}

/// `GET|POST /loki/api/v1/detected_fields?query=…&start=…&end=…&line_limit=…&limit=…`.
pub async fn detected_fields(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &headers, &body)?;
    let limit = number_param(&params, &["limit", "field_limit"], DEFAULT_FIELD_LIMIT as u64)? as usize;
    let fields = sample_fields(&state, &headers, &params).await?;
    let detected: Vec<Value> = fields
        .into_iter()
        .take(limit)
        .map(|(name, field)| {
            let parsers = if field.parsers.is_empty() { Value::Null } else { json!(field.parsers) };
            let mut object =
                json!({"label": name, "type": field.kind, "cardinality": field.values.len(), "parsers": parsers});
            if let Some(path) = field.json_path {
                object["jsonPath"] = json!(path);
            }
            object
        })
        .collect();
    let mut response = json!({ "limit": limit });
    if !detected.is_empty() {
        response["fields"] = json!(detected);
    }
    Ok(axum::Json(response).into_response())
}

/// `GET|POST /loki/api/v1/detected_field/<name>/values`: distinct values of one detected field.
pub async fn detected_field_values(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &headers, &body)?;
    let limit = number_param(&params, &["limit", "field_limit"], DEFAULT_FIELD_LIMIT as u64)? as usize;
    let fields = sample_fields(&state, &headers, &params).await?;
    let values: Vec<String> =
        fields.get(&name).map(|field| field.values.iter().take(limit).cloned().collect()).unwrap_or_default();
    let mut response = json!({ "limit": limit });
    if !values.is_empty() {
        response["values"] = json!(values);
    }
    Ok(axum::Json(response).into_response())
}
