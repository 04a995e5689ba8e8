//! How a dashboard page fails: an HTML error page with the status, a short human message and a
//! way back. Internal causes are logged, never shown (the same rule as the JSON API).

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::error::Error;

/// A failed page: rendered as the HTML error page with this status and message.
#[derive(Debug)]
pub struct PageError {
    /// The HTTP status answered.
    pub status: StatusCode,
    /// The message shown to the user (never an internal cause).
    pub message: String,
}

/// The result type of page handlers.
pub type PageResult<T = Response> = Result<T, PageError>;

impl PageError {
    /// An error page with any status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> PageError {
        PageError {
            status,
            message: message.into(),
        }
    }
    /// A 404 page.
    pub fn not_found(message: impl Into<String>) -> PageError {
        PageError::new(StatusCode::NOT_FOUND, message)
    }
    /// A 400 page.
    pub fn bad_request(message: impl Into<String>) -> PageError {
        PageError::new(StatusCode::BAD_REQUEST, message)
    }
    /// A 500 page with a generic message; `cause` is logged, never shown.
    pub fn internal(cause: impl std::fmt::Display) -> PageError {
        tracing::error!(error = %cause, "dashboard: internal error");
        PageError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong on the server. The details are in its log.",
        )
    }
}

impl From<Error> for PageError {
    fn from(e: Error) -> PageError {
        match e {
            Error::Validation(m) | Error::InvalidOperation(m) => PageError::bad_request(m),
            Error::Unauthenticated(m) => PageError::new(StatusCode::UNAUTHORIZED, m),
            Error::Forbidden(m) => PageError::new(StatusCode::FORBIDDEN, m),
            Error::NotFound(m) => PageError::not_found(m),
            Error::Exists(m) => PageError::new(StatusCode::CONFLICT, m),
            Error::TooLarge(m) => PageError::new(StatusCode::PAYLOAD_TOO_LARGE, m),
            Error::Unavailable(m) => PageError::new(StatusCode::SERVICE_UNAVAILABLE, m),
            other if other.is_transient() => {
                tracing::warn!(error = %other, "dashboard: busy, answered 503");
                PageError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The server is busy. Try again in a few seconds.",
                )
            }
            other => PageError::internal(other),
        }
    }
}

impl From<crate::db::DbError> for PageError {
    fn from(e: crate::db::DbError) -> PageError {
        Error::Db(e).into()
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    c: super::layout::Chrome,
    status: u16,
    reason: &'a str,
    message: &'a str,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            c: super::layout::Chrome::anonymous("Error"),
            status: self.status.as_u16(),
            reason: self.status.canonical_reason().unwrap_or("Error"),
            message: &self.message,
        };
        let resp = match page.render() {
            Ok(html) => (self.status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "dashboard: cannot render the error page");
                (self.status, self.message).into_response()
            }
        };
        crate::web::error::with_retry_after(resp)
    }
}
