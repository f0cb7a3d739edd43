//! `/api/v1/rules` and `/api/v1/alerts`, answered empty: oxeye evaluates no recording or alerting rules yet.
//! Grafana lists the rules of every Prometheus data source that may manage alerts and reports an error for a data
//! source whose `/api/v1/rules` is missing; an empty list is the true answer.

use axum::extract::RawQuery;
use axum::http::HeaderMap;
use axum::response::Response;

use crate::params::{Params, invalid_param};
use crate::{ApiError, prom_json};

/// `GET /api/v1/rules`: `{"groups":[]}`. A `type` other than `alert` or `record` is refused as Prometheus
/// refuses it.
pub async fn rules(RawQuery(query): RawQuery, headers: HeaderMap) -> Result<Response, ApiError> {
    let params = Params::parse(query, &headers, &[])?;
    let kind = params.value("type").to_lowercase();
    if !matches!(kind.as_str(), "" | "alert" | "record") {
        return Err(invalid_param("type", &format!("not supported value {kind:?}")));
    }
    Ok(prom_json::success("{\"groups\":[]}", &[], &[]))
}

/// `GET /api/v1/alerts`: `{"alerts":[]}`.
pub async fn alerts() -> Response {
    prom_json::success("{\"alerts\":[]}", &[], &[])
}
