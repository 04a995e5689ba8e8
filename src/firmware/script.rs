//! The CI upload script served at `GET /api/pipeline/upload.sh`: the original system's script,
//! with a crashbox pipeline token in `CRASHBOX_TOKEN` instead of OIDC client credentials.

/// The script template; `@BACKEND_URL@` is replaced with the server's URL.
const TEMPLATE: &str = include_str!("upload.sh");

/// The script with `backend_url` baked in. The URL must already be safe inside single quotes
/// (see [`safe_backend_url`]).
pub fn upload_script(backend_url: &str) -> String {
    TEMPLATE.replace("@BACKEND_URL@", backend_url)
}

/// `proto://host` from the request's `X-Forwarded-Proto`/`X-Forwarded-Host` (else `Host`),
/// accepted only when it is plainly a scheme and a host[:port]: the value ends up inside a
/// shell script, so anything else falls back to `http://localhost`.
pub fn safe_backend_url(forwarded_proto: Option<&str>, host: Option<&str>) -> String {
    let proto = forwarded_proto
        .and_then(|p| p.split(',').next())
        .map(|p| p.trim().to_ascii_lowercase())
        .filter(|p| p == "http" || p == "https")
        .unwrap_or_else(|| "http".to_string());
    let host = host
        .and_then(|h| h.split(',').next())
        .map(str::trim)
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
        })
        .unwrap_or("localhost");
    format!("{proto}://{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_url() {
        assert_eq!(safe_backend_url(None, Some("box:8080")), "http://box:8080");
        assert_eq!(
            safe_backend_url(Some("https"), Some("crash.example.org")),
            "https://crash.example.org"
        );
        assert_eq!(safe_backend_url(Some("gopher"), Some("h")), "http://h");
        assert_eq!(
            safe_backend_url(None, Some("x'; rm -rf /; '")),
            "http://localhost"
        );
        assert_eq!(safe_backend_url(None, None), "http://localhost");
        assert!(upload_script("http://h:1").contains("BACKEND_URL='http://h:1'"));
    }
}
