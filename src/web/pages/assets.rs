//! The dashboard's static files (`static/`), compiled into the binary with rust-embed. Pages
//! link them as `/static/<name>?v=<content hash>`, so they can be cached for a year; the
//! response also carries the hash as a strong `ETag` for revalidation.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "static/"]
struct Static;

fn etag(hash: &[u8; 32]) -> String {
    format!("\"{}\"", hex::encode(&hash[..12]))
}

/// The URL of an asset, versioned by its content hash.
pub fn url(name: &str) -> String {
    match Static::get(name) {
        Some(f) => format!(
            "/static/{name}?v={}",
            hex::encode(&f.metadata.sha256_hash()[..6])
        ),
        None => format!("/static/{name}"),
    }
}

/// `GET /static/{*path}`: an embedded asset with a year-long immutable cache and its `ETag` (304 on
/// a match).
pub async fn serve(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let Some(file) = Static::get(&path) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let tag = etag(&file.metadata.sha256_hash());
    let cache = HeaderValue::from_static("public, max-age=31536000, immutable");
    let tag_value = HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"\""));
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    if fresh {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, tag_value), (header::CACHE_CONTROL, cache)],
        )
            .into_response();
    }
    let mime = HeaderValue::from_str(file.metadata.mimetype())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    (
        [
            (header::CONTENT_TYPE, mime),
            (header::ETAG, tag_value),
            (header::CACHE_CONTROL, cache),
        ],
        file.data.into_owned(),
    )
        .into_response()
}
