//! Tag names and values: `GET /api/search/tags` (`{"tagNames": […]}`), `GET /api/v2/search/tags`
//! (`{"scopes": [{"name": "resource", "tags": […]}, …]}`, `scope=` filters), `GET /api/search/tag/<name>/values`
//! (`{"tagValues": ["…"]}`) and `GET /api/v2/search/tag/<scoped name>/values` (`{"tagValues": [{"type", "value"}]}`,
//! with intrinsics such as `name`, `status` and `kind`), over `start`/`end` (Unix seconds; default: everything).

use std::collections::{BTreeSet, HashMap};

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use oxeye_model::{AttrValue, SpanKind};
use oxeye_storage_api::{TagScope, TracesReader};
use serde_json::{Value, json};

use super::bad_request;
use super::params::{positive, seconds_range};
use crate::prom_read::blocking;
use crate::{ApiError, ApiState};

/// The intrinsics listed under the `intrinsic` scope (those oxeye's TraceQL evaluates).
const INTRINSICS: &[&str] = &[
    "duration",
    "event:name",
    "event:timeSinceStart",
    "instrumentation:name",
    "instrumentation:version",
    "kind",
    "link:spanID",
    "link:traceID",
    "name",
    "rootName",
    "rootServiceName",
    "span:duration",
    "span:id",
    "span:kind",
    "span:name",
    "span:parentID",
    "span:status",
    "span:statusMessage",
    "status",
    "statusMessage",
    "trace:duration",
    "trace:id",
    "trace:rootName",
    "trace:rootService",
    "traceDuration",
];

fn range(params: &HashMap<String, String>) -> Result<(u64, u64), ApiError> {
    Ok(seconds_range(params)?.unwrap_or((0, u64::MAX)))
}

/// `GET /api/search/tags`.
pub(super) async fn tags_v1(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let (start, end) = range(&params)?;
    let scope = params.get("scope").map(String::as_str).unwrap_or("");
    let names = match super::reader(&state, &headers)? {
        None => Default::default(),
        Some(reader) => {
            blocking(move || reader.tag_names(start, end).map_err(|e| ApiError::Internal(e.to_string()))).await?
        }
    };
    let mut all: BTreeSet<String> = BTreeSet::new();
    if matches!(scope, "" | "span" | "none" | "all") {
        all.extend(names.span);
    }
    if matches!(scope, "" | "resource" | "none" | "all") {
        all.extend(names.resource);
    }
    if scope == "intrinsic" {
        all.extend(INTRINSICS.iter().map(|name| name.to_string()));
    }
    Ok(axum::Json(json!({ "tagNames": all.into_iter().collect::<Vec<_>>() })).into_response())
}

/// `GET /api/v2/search/tags`.
pub(super) async fn tags_v2(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let (start, end) = range(&params)?;
    let scope = params.get("scope").map(String::as_str).unwrap_or("").to_string();
    if !matches!(scope.as_str(), "" | "none" | "all" | "span" | "resource" | "intrinsic") {
        return Err(bad_request(format!("invalid scope {scope:?}: use span, resource, intrinsic or none")));
    }
    let names = match super::reader(&state, &headers)? {
        None => Default::default(),
        Some(reader) => {
            blocking(move || reader.tag_names(start, end).map_err(|e| ApiError::Internal(e.to_string()))).await?
        }
    };
    let wanted = |name: &str| matches!(scope.as_str(), "" | "none" | "all") || scope == name;
    let mut scopes = Vec::new();
    if wanted("resource") {
        scopes.push(json!({ "name": "resource", "tags": names.resource }));
    }
    if wanted("span") {
        scopes.push(json!({ "name": "span", "tags": names.span }));
    }
    if wanted("intrinsic") {
        scopes.push(json!({ "name": "intrinsic", "tags": INTRINSICS }));
    }
    Ok(axum::Json(json!({ "scopes": scopes })).into_response())
}

/// What a tag name asks values of.
enum TagTarget {
    Attribute(Option<TagScope>, String),
    Keyword(Vec<&'static str>),
    SpanNames,
    Services,
    Nothing,
}

fn target(name: &str, scoped: bool) -> TagTarget {
    match name {
        "status" | "span:status" => TagTarget::Keyword(vec!["error", "ok", "unset"]),
        "kind" | "span:kind" => TagTarget::Keyword(
            [
                SpanKind::Server,
                SpanKind::Client,
                SpanKind::Producer,
                SpanKind::Consumer,
                SpanKind::Internal,
                SpanKind::Unspecified,
            ]
            .iter()
            .map(|kind| kind.name())
            .collect(),
        ),
        "name" | "span:name" | "rootName" | "trace:rootName" if scoped => TagTarget::SpanNames,
        "rootServiceName" | "trace:rootService" => TagTarget::Services,
        _ if scoped && INTRINSICS.contains(&name) => TagTarget::Nothing,
        _ => {
            if let Some(key) = name.strip_prefix("resource.") {
                TagTarget::Attribute(Some(TagScope::Resource), key.to_string())
            } else if let Some(key) = name.strip_prefix("span.") {
                TagTarget::Attribute(Some(TagScope::Span), key.to_string())
            } else if let Some(key) = name.strip_prefix('.') {
                TagTarget::Attribute(None, key.to_string())
            } else {
                TagTarget::Attribute(None, name.to_string())
            }
        }
    }
}

/// (type, value) pairs in Tempo's `TagValue` terms.
async fn values(
    state: &ApiState,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
    name: &str,
    scoped: bool,
) -> Result<Vec<(&'static str, String)>, ApiError> {
    let (start, end) = range(params)?;
    let limit = positive(params, "limit", 1000)?;
    let target = target(name, scoped);
    if let TagTarget::Keyword(words) = &target {
        return Ok(words.iter().map(|word| ("keyword", word.to_string())).collect());
    }
    let Some(reader) = super::reader(state, headers)? else { return Ok(Vec::new()) };
    blocking(move || {
        let internal = |e: oxeye_storage_api::ReadError| ApiError::Internal(e.to_string());
        Ok(match target {
            TagTarget::Attribute(scope, key) => reader
                .tag_values(scope, &key, start, end, limit)
                .map_err(internal)?
                .into_iter()
                .map(|value| {
                    let kind = match value {
                        AttrValue::Int(_) => "int",
                        AttrValue::Double(_) => "float",
                        AttrValue::Bool(_) => "bool",
                        _ => "string",
                    };
                    (kind, value.to_text())
                })
                .collect(),
            TagTarget::SpanNames => {
                let names: BTreeSet<String> = reader
                    .services(start, end)
                    .map_err(internal)?
                    .into_iter()
                    .flat_map(|service| service.operations.into_iter().map(|(name, _)| name))
                    .collect();
                names.into_iter().take(limit).map(|name| ("string", name)).collect()
            }
            TagTarget::Services => reader
                .services(start, end)
                .map_err(internal)?
                .into_iter()
                .take(limit)
                .map(|service| ("string", service.service))
                .collect(),
            TagTarget::Keyword(_) | TagTarget::Nothing => Vec::new(),
        })
    })
    .await
}

/// `GET /api/search/tag/<name>/values`.
pub(super) async fn tag_values_v1(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let values = values(&state, &headers, &params, &name, false).await?;
    let values: Vec<String> = values.into_iter().map(|(_, value)| value).collect();
    Ok(axum::Json(json!({ "tagValues": values })).into_response())
}

/// `GET /api/v2/search/tag/<scoped name>/values`.
pub(super) async fn tag_values_v2(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let values = values(&state, &headers, &params, &name, true).await?;
    let values: Vec<Value> = values.into_iter().map(|(kind, value)| json!({ "type": kind, "value": value })).collect();
    Ok(axum::Json(json!({ "tagValues": values })).into_response())
}
