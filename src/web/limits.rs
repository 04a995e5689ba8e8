//! Request-level limits, a layer of the router (the connection-level ones are in
//! `web::server`): the request deadline (`408` when a request takes longer from its head to its
//! answer, reading its body included) and the body idle timeout (a body that stalls longer
//! between two pieces fails to read, which handlers answer with `408`). Values come from
//! `Config.http` (docs/deploy.md).

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::timeout::TimeoutBody;

use super::error::ApiError;

/// The two request timeouts.
#[derive(Clone, Copy, Debug)]
pub struct RequestTimeouts {
    /// Longest stall between two pieces of the body.
    pub body_idle: Duration,
    /// Longest time from the head to the answer.
    pub deadline: Duration,
}

/// Middleware: wraps the body in the idle timeout and runs the rest of the stack under the
/// request deadline. A request cut by the deadline is answered `408` and its connection closed
/// (its body may be half read).
pub async fn enforce(State(t): State<RequestTimeouts>, req: Request, next: Next) -> Response {
    let req = req.map(|b| Body::new(TimeoutBody::new(t.body_idle, b)));
    match tokio::time::timeout(t.deadline, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => {
            tracing::warn!(deadline = ?t.deadline, "request deadline passed: answered 408");
            timed_out("The request took too long")
        }
    }
}

/// A `408` in crashbox's error format that closes the connection.
pub fn timed_out(message: &str) -> Response {
    let mut resp =
        ApiError::new(StatusCode::REQUEST_TIMEOUT, "REQUEST_TIMEOUT", message).into_response();
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// Whether a body read failed because the body idle timeout fired (anywhere in the chain).
pub fn is_body_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut depth = 0;
    while let Some(err) = cur {
        if err.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        depth += 1;
        if depth > 16 {
            break;
        }
        cur = err.source();
    }
    false
}
