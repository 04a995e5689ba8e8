//! ntfy: POST the message to the topic URL with `Title`, `Priority` (high for regressions),
//! `Tags` and `Click` headers, and an optional bearer token (the channel secret).

use std::time::Duration;

use serde_json::Value;

use crate::db::notify::ChannelSettings;
use crate::notify::payload;

/// POSTs the summary to the topic.
pub fn send(
    channel: &ChannelSettings,
    token: Option<&str>,
    payload: &Value,
    timeout: Duration,
) -> Result<(), String> {
    let s = payload::summary(payload);
    let (priority, tags) = match payload["type"].as_str() {
        Some("group.regressed") => ("high", "rotating_light,crashbox"),
        Some("group.spike") => ("high", "chart_with_upwards_trend,crashbox"),
        Some("rollout.halted") => ("high", "octagonal_sign,crashbox"),
        Some("test") => ("low", "white_check_mark,crashbox"),
        _ => ("default", "warning,crashbox"),
    };
    // Header values must be visible ASCII: titles carry function names, which are.
    let title: String = s
        .title
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_control() {
                c
            } else {
                '?'
            }
        })
        .collect();
    let mut req = super::agent(timeout)
        .post(&channel.url)
        .header("Title", title)
        .header("Priority", priority)
        .header("Tags", tags);
    if let Some(link) = &s.link {
        req = req.header("Click", link);
    }
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    super::check(req.send(s.text.as_bytes()))
}
