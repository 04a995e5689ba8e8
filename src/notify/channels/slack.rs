//! Slack-compatible incoming webhook (Slack, Mattermost, Discord `/slack`, Rocket.Chat):
//! `{"text": …}` with the whole summary in the text.

use std::time::Duration;

use serde_json::{Value, json};

use crate::db::notify::ChannelSettings;
use crate::notify::payload;

/// POSTs `{"text": summary}`.
pub fn send(channel: &ChannelSettings, payload: &Value, timeout: Duration) -> Result<(), String> {
    let s = payload::summary(payload);
    let body = json!({ "text": s.text }).to_string();
    super::check(
        super::agent(timeout)
            .post(&channel.url)
            .header("content-type", "application/json")
            .send(body.as_bytes()),
    )
}
