//! API errors and their mapping to HTTP status codes and bodies, in one place.
//!
//! Prometheus's read API answers `{"status":"error","errorType":…,"error":…}`; its remote-write receiver answers
//! plain text (as Prometheus's own handler does, via `http.Error`). [`ApiError`] carries which shape to use.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An error answered to a client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed request (400, Prometheus `bad_data`).
    #[error("{0}")]
    BadData(String),
    /// Bad write: invalid series or samples (400, plain text like Prometheus's write handler).
    #[error("{0}")]
    BadWrite(String),
    /// A limit that a retry later may pass (429, plain text).
    #[error("{0}")]
    TooManyRequests(String),
    /// The request body is larger than allowed (413).
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The content type or encoding is not supported (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Not ready yet or shutting down (503).
    #[error("{0}")]
    Unavailable(String),
    /// A query failed while evaluating (422, Prometheus `execution`), e.g. too many samples.
    #[error("{0}")]
    Execution(String),
    /// A query ran out of time, waiting for a slot or evaluating (503, Prometheus `timeout`).
    #[error("{0}")]
    Timeout(String),
    /// A query was canceled (499, Prometheus `canceled`: nginx's "client closed request").
    #[error("{0}")]
    Canceled(String),
    /// A storage failure (500, Prometheus `internal`).
    #[error("{0}")]
    Internal(String),
    /// A plain-text error, as Loki, Tempo and Zipkin answer them: the status alone says what kind.
    #[error("{1}")]
    PlainText(StatusCode, String),
}

/// The status Prometheus answers a canceled query with (`statusClientClosedConnection`).
const CLIENT_CLOSED_REQUEST: u16 = 499;

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadData(_) | ApiError::BadWrite(_) => StatusCode::BAD_REQUEST,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable(_) | ApiError::Timeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Execution(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Canceled(_) => {
                StatusCode::from_u16(CLIENT_CLOSED_REQUEST).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::PlainText(status, _) => *status,
        }
    }

    fn error_type(&self) -> &'static str {
        match self {
            ApiError::BadData(_)
            | ApiError::BadWrite(_)
            | ApiError::PayloadTooLarge(_)
            | ApiError::UnsupportedMediaType(_) => "bad_data",
            ApiError::TooManyRequests(_) | ApiError::Unavailable(_) => "unavailable",
            ApiError::Execution(_) => "execution",
            ApiError::Timeout(_) => "timeout",
            ApiError::Canceled(_) => "canceled",
            ApiError::Internal(_) => "internal",
            ApiError::PlainText(..) => "plain",
        }
    }

    /// Whether the body is plain text (write endpoints) rather than Prometheus's JSON error envelope.
    fn is_plain_text(&self) -> bool {
        matches!(
            self,
            ApiError::BadWrite(_)
                | ApiError::TooManyRequests(_)
                | ApiError::PayloadTooLarge(_)
                | ApiError::UnsupportedMediaType(_)
                | ApiError::PlainText(..)
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if self.is_plain_text() {
            return (status, [("content-type", "text/plain; charset=utf-8")], format!("{self}\n")).into_response();
        }
        crate::prom_json::error(status, self.error_type(), &self.to_string())
    }
}

impl From<oxeye_metrics_store::StoreError> for ApiError {
    fn from(error: oxeye_metrics_store::StoreError) -> Self {
        tracing::error!(%error, "storage error");
        ApiError::Internal(error.to_string())
    }
}

impl From<oxeye_promql::QueryError> for ApiError {
    /// Prometheus's mapping (`returnAPIError` and `getDefaultErrorCode` in `web/api/v1/api.go`).
    fn from(error: oxeye_promql::QueryError) -> Self {
        use oxeye_promql::QueryError;
        let message = error.to_string();
        match error {
            QueryError::BadData(_) => ApiError::BadData(message),
            QueryError::Execution(_) => ApiError::Execution(message),
            QueryError::Timeout(_) => ApiError::Timeout(message),
            QueryError::Canceled(_) => ApiError::Canceled(message),
            QueryError::Internal(_) => {
                tracing::error!(error = %message, "query failed");
                ApiError::Internal(message)
            }
        }
    }
}

impl From<oxeye_storage_api::ReadError> for ApiError {
    fn from(error: oxeye_storage_api::ReadError) -> Self {
        ApiError::Internal(error.to_string())
    }
}

impl From<oxeye_logs_store::LogsError> for ApiError {
    fn from(error: oxeye_logs_store::LogsError) -> Self {
        tracing::error!(%error, "logs storage error");
        ApiError::PlainText(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
    }
}
