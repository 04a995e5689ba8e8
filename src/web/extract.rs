//! Request parsing whose failures come back in crashbox's error format: lenient query strings
//! (devices do not URL-encode), JSON bodies, numeric ids in paths, and size-capped bodies.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Parses a raw query string leniently: `%XX` sequences are decoded where valid and kept
/// verbatim where not, `+` stays a `+` (versions such as `1.0+dirty` arrive unencoded), and
/// invalid UTF-8 is replaced. The first occurrence of a key wins.
pub fn parse_query(raw: Option<&str>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.entry(percent_decode(k))
            .or_insert_with(|| percent_decode(v));
    }
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |j: usize| b.get(j).and_then(|c| (*c as char).to_digit(16));
        match (b[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A numeric id from a path segment; anything else is the resource's 404.
pub fn path_id(segment: &str, kind: &str) -> Result<i64, ApiError> {
    segment
        .parse::<i64>()
        .map_err(|_| ApiError::not_found(format!("{kind} {segment} was not found")))
}

/// Why a capped body read stopped.
pub enum BodyError {
    /// The body grew past the limit.
    TooLarge,
    /// The body stalled longer than the body idle timeout.
    TimedOut,
    /// The body could not be read (the connection failed); the reader's error text.
    Read(String),
}

impl BodyError {
    /// The API answer: 413 is the caller's (its limit text), 408 for a stalled body, else 400.
    pub fn into_api(self, too_large: impl FnOnce() -> ApiError) -> ApiError {
        match self {
            BodyError::TooLarge => too_large(),
            BodyError::TimedOut => ApiError::new(
                axum::http::StatusCode::REQUEST_TIMEOUT,
                "REQUEST_TIMEOUT",
                "The request body stalled",
            ),
            BodyError::Read(e) => ApiError::validation(format!("Cannot read request body: {e}")),
        }
    }
}

/// Reads a body, stopping as soon as it grows past `limit` bytes (chunked bodies included).
pub async fn read_capped(body: Body, limit: usize) -> Result<bytes::Bytes, BodyError> {
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge),
        Err(e) if super::limits::is_body_timeout(e.as_ref()) => Err(BodyError::TimedOut),
        Err(e) => Err(BodyError::Read(e.to_string())),
    }
}

/// The request's declared `Content-Length`, if any.
pub fn content_length(headers: &axum::http::HeaderMap) -> Option<u64> {
    headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// `axum::Json` whose rejections are `400 VALIDATION_FAILED` in crashbox's format.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(e) => Err(ApiError::validation(format!(
                "Invalid JSON body: {}",
                e.body_text()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_query;

    #[test]
    fn lenient_query() {
        let q = parse_query(Some(
            "chip=esp32c3&firmware_version=v1.2.3-4-gabc%20dirty&x=%zz+1",
        ));
        assert_eq!(q["chip"], "esp32c3");
        assert_eq!(q["firmware_version"], "v1.2.3-4-gabc dirty");
        assert_eq!(q["x"], "%zz+1");
        assert!(parse_query(None).is_empty());
        assert_eq!(parse_query(Some("a=1&a=2"))["a"], "1");
    }
}
