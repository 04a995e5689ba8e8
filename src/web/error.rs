//! Turning service errors into HTTP: JSON `{"error", "code"}` with the original Python system's
//! status codes and texts. Internal failures answer a generic message; the cause is logged, never
//! shown.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::Error;

/// An API error answer: HTTP status, stable error code, and the message shown to the client.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status answered.
    pub status: StatusCode,
    /// The stable error code, e.g. `RECORD_NOT_FOUND`.
    pub code: &'static str,
    /// The human-readable text in the `error` field.
    pub message: String,
}

impl ApiError {
    /// An error with any status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    /// 400 `VALIDATION_FAILED`.
    pub fn validation(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "VALIDATION_FAILED", message)
    }
    /// 401 `AUTHENTICATION_REQUIRED`.
    pub fn unauthenticated(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "AUTHENTICATION_REQUIRED", message)
    }
    /// 403 `AUTHORIZATION_FAILED`.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "AUTHORIZATION_FAILED", message)
    }
    /// 503 `SERVICE_UNAVAILABLE` (answered with `Retry-After`).
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            message,
        )
    }
    /// 404 `RECORD_NOT_FOUND`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "RECORD_NOT_FOUND", message)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        match e {
            Error::Validation(m) => ApiError::validation(m),
            Error::InvalidOperation(m) => {
                ApiError::new(StatusCode::BAD_REQUEST, "INVALID_OPERATION", m)
            }
            Error::Unauthenticated(m) => ApiError::unauthenticated(m),
            Error::Forbidden(m) => ApiError::forbidden(m),
            Error::NotFound(m) => ApiError::not_found(m),
            Error::Exists(m) => ApiError::new(StatusCode::CONFLICT, "RECORD_EXISTS", m),
            Error::TooLarge(m) => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", m)
            }
            Error::Unavailable(m) => ApiError::unavailable(m),
            other if other.is_transient() => {
                tracing::warn!(error = %other, "busy: answered 503");
                ApiError::unavailable("The server is busy; retry later")
            }
            other => {
                tracing::error!(error = %other, "internal error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "INTERNAL_ERROR",
                    "Internal server error",
                )
            }
        }
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(e: crate::db::DbError) -> ApiError {
        Error::Db(e).into()
    }
}

/// Seconds a client is asked to wait after a `503`.
pub const RETRY_AFTER_SECS: &str = "5";

/// Adds `Retry-After` to a `503`: every "busy" answer tells the client when to come back.
pub fn with_retry_after(mut resp: Response) -> Response {
    if resp.status() == StatusCode::SERVICE_UNAVAILABLE {
        resp.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static(RETRY_AFTER_SECS),
        );
    }
    resp
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        with_retry_after(
            (
                self.status,
                Json(json!({ "error": self.message, "code": self.code })),
            )
                .into_response(),
        )
    }
}

/// The result type of API handlers.
pub type ApiResult<T> = Result<T, ApiError>;

/// The metric outcome of a request that stores something: `stored`, `rejected` (the client's
/// fault) or `error` (ours).
pub fn store_outcome<T>(result: &ApiResult<T>) -> &'static str {
    match result {
        Ok(_) => "stored",
        Err(e) if e.status.is_server_error() => "error",
        Err(_) => "rejected",
    }
}
