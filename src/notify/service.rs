//! Channel management behind the API and the CLI: validate, create (the webhook secret is
//! answered once), update, delete, queue a test event, list deliveries.

use serde::Deserialize;
use serde_json::json;

use super::channels::{KINDS, webhook};
use super::{Wake, new_event_id, payload};
use crate::audit::{self, Actor};
use crate::db::notify::{self as store, Channel, ChannelSettings, Delivery, EVENT_TYPES};
use crate::db::{Db, models};
use crate::error::{Error, Result};

/// Longest cooldown: 7 days.
pub const MAX_COOLDOWN_S: i64 = 7 * 24 * 3600;
/// Most deliveries one list returns.
pub const MAX_DELIVERIES: i64 = 1000;

/// A channel as given to create or update (API body, CLI flags).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelInput {
    /// `webhook`, `slack`, `ntfy` or `email` (update: optional, must not change).
    pub kind: Option<String>,
    /// A label (default: the kind).
    pub name: Option<String>,
    /// The endpoint of an HTTP channel (http or https).
    pub url: Option<String>,
    /// Event types (default: `group.created`, `group.regressed` and `rollout.halted`).
    pub events: Option<Vec<String>>,
    /// Model codes (default: all models).
    pub models: Option<Vec<String>>,
    /// Cooldown per group in seconds (default 3600, 0 to 7 days).
    pub cooldown_s: Option<i64>,
    /// `group.spike`: dumps of one group within the window.
    pub spike_dumps: Option<i64>,
    /// `group.spike`: distinct devices of one group within the window.
    pub spike_devices: Option<i64>,
    /// `group.spike`: the window in seconds (default 3600, 60 to 7 days).
    pub spike_window_s: Option<i64>,
    /// ntfy access token (write-only).
    pub token: Option<String>,
    /// SMTP server (e-mail).
    pub smtp_host: Option<String>,
    /// SMTP port (e-mail; default 587 for starttls, 465 for tls, 25 for plain).
    pub smtp_port: Option<i64>,
    /// `starttls` (default), `tls` or `plain`.
    pub smtp_tls: Option<String>,
    /// SMTP user name.
    pub smtp_username: Option<String>,
    /// SMTP password (write-only).
    pub smtp_password: Option<String>,
    /// Sender address.
    pub email_from: Option<String>,
    /// Recipient addresses, comma separated.
    pub email_to: Option<String>,
}

fn bad(m: impl Into<String>) -> Error {
    Error::Validation(m.into())
}

fn some(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Validates `input` for a channel of `kind`; the settings and the write-only secret given.
fn validate(
    db: &Db,
    kind: &str,
    input: &ChannelInput,
) -> Result<(ChannelSettings, Option<String>)> {
    if !KINDS.contains(&kind) {
        return Err(bad(format!(
            "Unknown channel kind {kind:?}: use webhook, slack, ntfy or email"
        )));
    }
    let url = some(&input.url).unwrap_or_default();
    if kind != "email" {
        if url.is_empty() {
            return Err(bad(format!("A {kind} channel needs a url")));
        }
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() > 2048 {
            return Err(bad(format!(
                "url must be an http:// or https:// URL, not {url:?}"
            )));
        }
    }
    let events = input.events.clone().unwrap_or_else(|| {
        vec![
            "group.created".into(),
            "group.regressed".into(),
            "rollout.halted".into(),
        ]
    });
    if events.is_empty() {
        return Err(bad("events must name at least one event type"));
    }
    for e in &events {
        if !EVENT_TYPES.contains(&e.as_str()) || e == "test" {
            return Err(bad(format!(
                "Unknown event {e:?}: use group.created, group.regressed, group.spike or rollout.halted"
            )));
        }
    }
    let models = input.models.clone().unwrap_or_default();
    {
        let conn = db.conn()?;
        for m in &models {
            if models::find_by_code(&conn, m)?.is_none() {
                return Err(bad(format!("Model {m:?} was not found")));
            }
        }
    }
    let cooldown_s = input.cooldown_s.unwrap_or(3600);
    if !(0..=MAX_COOLDOWN_S).contains(&cooldown_s) {
        return Err(bad(format!(
            "cooldown_s must be between 0 and {MAX_COOLDOWN_S} seconds"
        )));
    }
    for (name, v) in [
        ("spike_dumps", input.spike_dumps),
        ("spike_devices", input.spike_devices),
    ] {
        if v.is_some_and(|v| !(1..=1_000_000).contains(&v)) {
            return Err(bad(format!("{name} must be between 1 and 1000000")));
        }
    }
    let spike_window_s = input.spike_window_s.unwrap_or(3600);
    if !(60..=MAX_COOLDOWN_S).contains(&spike_window_s) {
        return Err(bad(format!(
            "spike_window_s must be between 60 and {MAX_COOLDOWN_S} seconds"
        )));
    }
    if events.iter().any(|e| e == "group.spike")
        && input.spike_dumps.is_none()
        && input.spike_devices.is_none()
    {
        return Err(bad(
            "The group.spike event needs spike_dumps or spike_devices (a threshold)",
        ));
    }
    let mut s = ChannelSettings {
        kind: kind.to_string(),
        spike_dumps: input.spike_dumps,
        spike_devices: input.spike_devices,
        spike_window_s,
        name: some(&input.name).unwrap_or_else(|| kind.to_string()),
        url,
        events,
        models,
        cooldown_s,
        ..ChannelSettings::default()
    };
    let mut secret = None;
    match kind {
        "ntfy" => secret = some(&input.token),
        "email" => {
            let tls = some(&input.smtp_tls).unwrap_or_else(|| "starttls".into());
            let default_port = match tls.as_str() {
                "starttls" => 587,
                "tls" => 465,
                "plain" => 25,
                _ => return Err(bad("smtp_tls must be starttls, tls or plain")),
            };
            let port = input.smtp_port.unwrap_or(default_port);
            if !(1..=65535).contains(&port) {
                return Err(bad("smtp_port must be between 1 and 65535"));
            }
            s.smtp_host = Some(
                some(&input.smtp_host).ok_or_else(|| bad("An email channel needs smtp_host"))?,
            );
            s.smtp_port = Some(port);
            s.smtp_tls = Some(tls);
            s.smtp_username = some(&input.smtp_username);
            let from =
                some(&input.email_from).ok_or_else(|| bad("An email channel needs email_from"))?;
            from.parse::<lettre::message::Mailbox>()
                .map_err(|e| bad(format!("email_from is not an address: {e}")))?;
            let to = some(&input.email_to).ok_or_else(|| bad("An email channel needs email_to"))?;
            for t in to.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                t.parse::<lettre::message::Mailbox>()
                    .map_err(|e| bad(format!("email_to {t:?} is not an address: {e}")))?;
            }
            s.email_from = Some(from);
            s.email_to = Some(to);
            secret = some(&input.smtp_password);
        }
        _ => {}
    }
    Ok((s, secret))
}

/// A created channel and, for a webhook, its secret (shown only here).
#[derive(Debug, Clone)]
pub struct Created {
    /// The channel.
    pub channel: Channel,
    /// `whsec_…` for a webhook.
    pub secret: Option<String>,
}

/// Creates a channel.
pub fn create(db: &Db, input: &ChannelInput, actor: &Actor) -> Result<Created> {
    let kind =
        some(&input.kind).ok_or_else(|| bad("kind is required: webhook, slack, ntfy or email"))?;
    let (settings, mut secret) = validate(db, &kind, input)?;
    let shown = (kind == "webhook").then(webhook::new_secret);
    if shown.is_some() {
        secret = shown.clone();
    }
    let id = db.write(|tx| {
        let id = store::create_channel(tx, &settings, secret.as_deref())?;
        record(tx, actor, "channel.create", id, &settings)?;
        Ok::<_, Error>(id)
    })?;
    let channel = get(db, id)?;
    tracing::info!(channel = id, kind = %kind, "notification channel created");
    Ok(Created {
        channel,
        secret: shown,
    })
}

/// One channel.
pub fn get(db: &Db, id: i64) -> Result<Channel> {
    store::find_channel(&*db.conn()?, id)?
        .ok_or_else(|| Error::NotFound(format!("NotificationChannel {id} was not found")))
}

/// Every channel.
pub fn list(db: &Db) -> Result<Vec<Channel>> {
    Ok(store::list_channels(&*db.conn()?)?)
}

/// Replaces a channel's settings; a given token / password replaces the stored one (the
/// webhook secret stays).
pub fn update(db: &Db, id: i64, input: &ChannelInput, actor: &Actor) -> Result<Channel> {
    let current = get(db, id)?;
    if let Some(k) = some(&input.kind)
        && k != current.settings.kind
    {
        return Err(bad(format!(
            "The kind of a channel cannot change ({} to {k})",
            current.settings.kind
        )));
    }
    let (settings, secret) = validate(db, &current.settings.kind, input)?;
    db.write(|tx| {
        store::update_channel(tx, id, &settings, secret.as_deref())?;
        record(tx, actor, "channel.update", id, &settings)
    })?;
    get(db, id)
}

/// Deletes a channel and its deliveries.
pub fn delete(db: &Db, id: i64, actor: &Actor) -> Result<()> {
    let channel = get(db, id)?;
    db.write(|tx| {
        if !store::delete_channel(tx, id)? {
            return Err(Error::NotFound(format!(
                "NotificationChannel {id} was not found"
            )));
        }
        record(tx, actor, "channel.delete", id, &channel.settings)
    })
}

/// The audit entry of a channel change: its kind, name and events, never a secret or URL (a
/// webhook URL can carry a token).
fn record(
    tx: &rusqlite::Connection,
    actor: &Actor,
    action: &str,
    id: i64,
    s: &ChannelSettings,
) -> Result<()> {
    audit::record(
        tx,
        actor,
        action,
        &format!("channel:{id}"),
        json!({"kind": s.kind, "name": s.name, "events": s.events}),
    )?;
    Ok(())
}

/// Queues a `test` event for this channel only and wakes the sender; the event id.
pub fn test(db: &Db, wake: &Wake, id: i64, actor: &Actor) -> Result<String> {
    let channel = get(db, id)?;
    let event_id = new_event_id();
    let p = payload::test(&event_id, &channel.settings.name);
    db.write(|tx| {
        store::emit(tx, "test", &event_id, None, "", &p, Some(id))?;
        audit::record(
            tx,
            actor,
            "channel.test",
            &format!("channel:{id}"),
            json!({"kind": channel.settings.kind, "name": channel.settings.name, "event": event_id}),
        )?;
        Ok::<_, Error>(())
    })?;
    wake.wake();
    Ok(event_id)
}

/// The newest deliveries (default 100, at most [`MAX_DELIVERIES`]).
pub fn deliveries(db: &Db, limit: Option<i64>) -> Result<Vec<Delivery>> {
    let limit = limit.unwrap_or(100);
    if !(1..=MAX_DELIVERIES).contains(&limit) {
        return Err(bad(format!("limit must be between 1 and {MAX_DELIVERIES}")));
    }
    Ok(store::list_deliveries(&*db.conn()?, limit)?)
}
