//! The tenant of a request: `X-Scope-OrgID` (HTTP) or `x-scope-orgid` (gRPC metadata), else `default`.

use axum::http::HeaderMap;
use oxeye_model::TenantId;

use crate::ApiError;

pub const TENANT_HEADER: &str = "x-scope-orgid";

/// The tenant named by the request's headers; a malformed name is a 400 naming the problem.
pub fn tenant_from_headers(headers: &HeaderMap) -> Result<TenantId, ApiError> {
    match headers.get(TENANT_HEADER) {
        None => Ok(TenantId::default_tenant()),
        Some(value) => {
            let text = value.to_str().map_err(|_| ApiError::BadData("X-Scope-OrgID is not valid ASCII".into()))?;
            TenantId::new(text.trim()).map_err(|e| ApiError::BadData(format!("invalid X-Scope-OrgID: {e}")))
        }
    }
}
