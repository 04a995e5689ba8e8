//! The channel kinds: one function per kind sends one event, within the attempt timeout.

pub mod email;
pub mod ntfy;
pub mod slack;
pub mod webhook;

use std::time::Duration;

use serde_json::Value;

use crate::db::notify::ChannelSettings;

/// The channel kinds.
pub const KINDS: &[&str] = &["webhook", "slack", "ntfy", "email"];

/// Longest error text kept from a receiver's answer.
const MAX_ERROR_BODY: usize = 200;

/// Sends `payload` (links included) of event `event_id` to `channel`; the error text names what
/// failed and never contains the secret.
pub fn send(
    channel: &ChannelSettings,
    secret: Option<&str>,
    event_id: &str,
    payload: &Value,
    timeout: Duration,
) -> Result<(), String> {
    match channel.kind.as_str() {
        "webhook" => webhook::send(channel, secret, event_id, payload, timeout),
        "slack" => slack::send(channel, payload, timeout),
        "ntfy" => ntfy::send(channel, secret, payload, timeout),
        "email" => email::send(channel, secret, payload, timeout),
        other => Err(format!("unknown channel kind {other:?}")),
    }
}

/// An HTTP client for one attempt: `timeout` for the whole request, no redirects, statuses as
/// values.
pub(crate) fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .user_agent(concat!("crashbox/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// `Ok` for a 2xx answer, else an error with the status and the start of the body.
pub(crate) fn check(
    result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<(), String> {
    let mut resp = result.map_err(|e| match e {
        ureq::Error::Timeout(_) => "timed out".to_string(),
        e => format!("request failed: {e}"),
    })?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let body = resp
        .body_mut()
        .with_config()
        .limit(4096)
        .read_to_string()
        .unwrap_or_default();
    let body: String = body.chars().take(MAX_ERROR_BODY).collect();
    Err(format!("HTTP {}: {}", status.as_u16(), body.trim()))
}
