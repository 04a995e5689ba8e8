//! Notification channels, the event outbox and the deliveries (one per event and channel).
//!
//! An event and its deliveries are written in the caller's transaction (the parse job's result
//! commit), so an event is never lost and never sent for a group that was not committed. The
//! sender thread *claims* due `pending` deliveries with a token unique to its round
//! (`claim_token`, `claimed_at`), like the parse jobs; a claim older than the lease is stale and
//! the delivery is claimable again. Secrets are read only by the sender ([`secret`]).

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use serde_json::Value;

use super::{DbError, now};

/// The event types a channel can select.
pub const EVENT_TYPES: &[&str] = &[
    "group.created",
    "group.regressed",
    "group.spike",
    "rollout.halted",
    "test",
];

/// A channel as the API and the CLI show it: its settings (flattened into the JSON) and its
/// delivery state, never its secret.
#[derive(Debug, Clone, Serialize)]
pub struct Channel {
    /// Row id.
    pub id: i64,
    /// What create and update wrote.
    #[serde(flatten)]
    pub settings: ChannelSettings,
    /// Whether a secret is stored (webhook key, ntfy token, SMTP password).
    pub has_secret: bool,
    /// When it was created.
    pub created_at: String,
    /// Outcome of its newest delivery attempt (`sent`, `retry`, `failed`).
    pub last_status: Option<String>,
    /// Error of its newest failed attempt.
    pub last_error: Option<String>,
    /// Time of its newest delivery attempt.
    pub last_attempt_at: Option<String>,
}

/// The settings of a channel as written by create and update.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ChannelSettings {
    /// `webhook`, `slack`, `ntfy` or `email`.
    pub kind: String,
    /// A label for people.
    pub name: String,
    /// The endpoint (HTTP channels).
    pub url: String,
    /// Event types.
    pub events: Vec<String>,
    /// Model codes (empty: all).
    pub models: Vec<String>,
    /// Cooldown per group, seconds.
    pub cooldown_s: i64,
    /// Spike threshold: dumps in the window.
    pub spike_dumps: Option<i64>,
    /// Spike threshold: distinct devices in the window.
    pub spike_devices: Option<i64>,
    /// Spike window, seconds.
    pub spike_window_s: i64,
    /// SMTP server.
    pub smtp_host: Option<String>,
    /// SMTP port.
    pub smtp_port: Option<i64>,
    /// `starttls`, `tls` or `plain`.
    pub smtp_tls: Option<String>,
    /// SMTP user name.
    pub smtp_username: Option<String>,
    /// Sender address.
    pub email_from: Option<String>,
    /// Recipients, comma separated.
    pub email_to: Option<String>,
}

const CHANNEL: &str = "SELECT id, kind, name, url, secret IS NOT NULL, events, models, cooldown_s,
        smtp_host, smtp_port, smtp_tls, smtp_username, email_from, email_to, created_at,
        last_status, last_error, last_attempt_at, spike_dumps, spike_devices, spike_window_s
     FROM notify_channels";

fn json_list(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

fn channel_row(r: &Row) -> rusqlite::Result<Channel> {
    Ok(Channel {
        id: r.get(0)?,
        settings: ChannelSettings {
            kind: r.get(1)?,
            name: r.get(2)?,
            url: r.get(3)?,
            events: json_list(&r.get::<_, String>(5)?),
            models: json_list(&r.get::<_, String>(6)?),
            cooldown_s: r.get(7)?,
            spike_dumps: r.get(18)?,
            spike_devices: r.get(19)?,
            spike_window_s: r.get(20)?,
            smtp_host: r.get(8)?,
            smtp_port: r.get(9)?,
            smtp_tls: r.get(10)?,
            smtp_username: r.get(11)?,
            email_from: r.get(12)?,
            email_to: r.get(13)?,
        },
        has_secret: r.get(4)?,
        created_at: r.get(14)?,
        last_status: r.get(15)?,
        last_error: r.get(16)?,
        last_attempt_at: r.get(17)?,
    })
}

fn to_json(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// Every channel, oldest first.
pub fn list_channels(conn: &Connection) -> Result<Vec<Channel>, DbError> {
    let mut stmt = conn.prepare_cached(&format!("{CHANNEL} ORDER BY id"))?;
    let rows = stmt.query_map([], channel_row)?.collect::<Result<_, _>>()?;
    Ok(rows)
}

/// One channel.
pub fn find_channel(conn: &Connection, id: i64) -> Result<Option<Channel>, DbError> {
    Ok(conn
        .query_row(&format!("{CHANNEL} WHERE id = ?1"), [id], channel_row)
        .optional()?)
}

/// Stores a new channel with its secret; its id.
pub fn create_channel(
    conn: &Connection,
    s: &ChannelSettings,
    secret: Option<&str>,
) -> Result<i64, DbError> {
    conn.execute(
        "INSERT INTO notify_channels (kind, name, url, secret, events, models, cooldown_s,
            smtp_host, smtp_port, smtp_tls, smtp_username, email_from, email_to, created_at,
            spike_dumps, spike_devices, spike_window_s)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        params![
            s.kind,
            s.name,
            s.url,
            secret,
            to_json(&s.events),
            to_json(&s.models),
            s.cooldown_s,
            s.smtp_host,
            s.smtp_port,
            s.smtp_tls,
            s.smtp_username,
            s.email_from,
            s.email_to,
            now(),
            s.spike_dumps,
            s.spike_devices,
            s.spike_window_s
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Replaces a channel's settings (not its kind); `secret` replaces the stored one when given.
/// `false` when there is no such channel.
pub fn update_channel(
    conn: &Connection,
    id: i64,
    s: &ChannelSettings,
    secret: Option<&str>,
) -> Result<bool, DbError> {
    let n = conn.execute(
        "UPDATE notify_channels SET name = ?2, url = ?3, events = ?4, models = ?5,
            cooldown_s = ?6, smtp_host = ?7, smtp_port = ?8, smtp_tls = ?9, smtp_username = ?10,
            email_from = ?11, email_to = ?12, secret = COALESCE(?13, secret),
            spike_dumps = ?14, spike_devices = ?15, spike_window_s = ?16
         WHERE id = ?1",
        params![
            id,
            s.name,
            s.url,
            to_json(&s.events),
            to_json(&s.models),
            s.cooldown_s,
            s.smtp_host,
            s.smtp_port,
            s.smtp_tls,
            s.smtp_username,
            s.email_from,
            s.email_to,
            secret,
            s.spike_dumps,
            s.spike_devices,
            s.spike_window_s
        ],
    )?;
    Ok(n > 0)
}

/// Deletes a channel and its deliveries; `false` when there is no such channel.
pub fn delete_channel(conn: &Connection, id: i64) -> Result<bool, DbError> {
    Ok(conn.execute("DELETE FROM notify_channels WHERE id = ?1", [id])? > 0)
}

/// Channels whose `group.spike` threshold the new dump `dump` (of device `device`) of `group`
/// just reached: its group's stored dumps within the channel's window reached `spike_dumps`
/// with this dump, or its distinct devices reached `spike_devices` with this dump's device new
/// in the window. Only channels selecting `group.spike` with a threshold are looked at.
pub fn spiking_channels(tx: &Connection, group: i64, device: i64) -> Result<Vec<i64>, DbError> {
    let mut stmt = tx.prepare_cached(
        "SELECT id, spike_dumps, spike_devices, spike_window_s FROM notify_channels
         WHERE (spike_dumps IS NOT NULL OR spike_devices IS NOT NULL)
           AND EXISTS (SELECT 1 FROM json_each(events) WHERE value = 'group.spike')",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<i64>>(1)?,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::new();
    for (id, dumps, devices, window) in rows {
        let since = super::format_ts(chrono::Utc::now() - chrono::Duration::seconds(window));
        let (n, d, mine): (i64, i64, i64) = tx.query_row(
            "SELECT COUNT(*), COUNT(DISTINCT device_id),
                COALESCE(SUM(device_id = ?3), 0)
             FROM coredumps WHERE group_id = ?1 AND uploaded_at >= ?2",
            params![group, since, device],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        if dumps == Some(n) || (devices == Some(d) && mine == 1) {
            out.push(id);
        }
    }
    Ok(out)
}

/// A channel's stored secret (for the sender only; never answered or logged).
pub fn secret(conn: &Connection, id: i64) -> Result<Option<String>, DbError> {
    Ok(conn
        .query_row(
            "SELECT secret FROM notify_channels WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()?
        .flatten())
}

/// What [`emit`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Emitted {
    /// Row id of the event (`None`: no channel selected it, nothing stored).
    pub event: Option<i64>,
    /// Deliveries queued (`pending`).
    pub queued: usize,
    /// Deliveries recorded `skipped` (cooldown).
    pub skipped: usize,
}

/// Stores an event of `kind` for `group` (of model `model`) with `payload`, and one delivery
/// per channel that selects the event type and the model: `pending`, or `skipped` with the
/// reason while the channel's cooldown for the group runs (group events only). `only` restricts it to one channel
/// (test events, which have no cooldown). One query reads the channels. Nothing is stored when
/// no channel selects the event.
pub fn emit(
    tx: &Connection,
    kind: &str,
    event_id: &str,
    group: Option<i64>,
    model: &str,
    payload: &Value,
    only: Option<i64>,
) -> Result<Emitted, DbError> {
    let at = chrono::Utc::now();
    let now_s = super::format_ts(at);
    let mut stmt = tx.prepare_cached(
        "SELECT c.id, c.events, c.models, c.cooldown_s,
            (SELECT last_at FROM notify_cooldowns k WHERE k.channel_id = c.id AND k.group_id = ?1)
         FROM notify_channels c WHERE ?2 IS NULL OR c.id = ?2 ORDER BY c.id",
    )?;
    let channels = stmt
        .query_map(params![group, only], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                json_list(&r.get::<_, String>(1)?),
                json_list(&r.get::<_, String>(2)?),
                r.get::<_, i64>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Emitted::default();
    let mut targets = Vec::new();
    for (id, events, models, cooldown, last) in channels {
        let test = kind == "test";
        if !test && !events.iter().any(|e| e == kind) {
            continue;
        }
        if !test && !models.is_empty() && !models.iter().any(|m| m == model) {
            continue;
        }
        // The per-group cooldown is for group news; a rollout halt always goes out.
        let cooling = !test
            && kind.starts_with("group.")
            && last.is_some_and(|l| {
                let until = at - chrono::Duration::seconds(cooldown.max(0));
                l > super::format_ts(until)
            });
        targets.push((id, cooling));
    }
    if targets.is_empty() {
        return Ok(out);
    }
    tx.execute(
        "INSERT INTO notify_events (event_id, type, group_id, payload, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![event_id, kind, group, payload.to_string(), now_s],
    )?;
    let event = tx.last_insert_rowid();
    out.event = Some(event);
    for (channel, cooling) in targets {
        if cooling {
            tx.execute(
                "INSERT INTO notify_deliveries (event_id, channel_id, status, next_attempt_at,
                    last_error, created_at)
                 VALUES (?1, ?2, 'skipped', ?3, 'cooldown: this group was notified recently', ?3)",
                params![event, channel, now_s],
            )?;
            out.skipped += 1;
            continue;
        }
        tx.execute(
            "INSERT INTO notify_deliveries (event_id, channel_id, status, next_attempt_at, created_at)
             VALUES (?1, ?2, 'pending', ?3, ?3)",
            params![event, channel, now_s],
        )?;
        if let Some(g) = group.filter(|_| kind.starts_with("group.")) {
            tx.execute(
                "INSERT INTO notify_cooldowns (channel_id, group_id, last_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (channel_id, group_id) DO UPDATE SET last_at = excluded.last_at",
                params![channel, g, now_s],
            )?;
        }
        out.queued += 1;
    }
    Ok(out)
}

/// A delivery claimed by the sender: what it needs to send.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// Delivery row id.
    pub id: i64,
    /// Attempts made before this one.
    pub attempts: i64,
    /// The event's `event_id` (the `webhook-id`).
    pub event_id: String,
    /// The event type.
    pub event_type: String,
    /// The stored payload.
    pub payload: Value,
    /// The channel.
    pub channel: Channel,
}

/// Drops every delivery claim (start-up: the sender that held them belonged to a previous
/// process).
pub fn reset_claims(conn: &Connection) -> Result<usize, DbError> {
    Ok(conn.execute(
        "UPDATE notify_deliveries SET claim_token = NULL, claimed_at = NULL
         WHERE claim_token IS NOT NULL",
        [],
    )?)
}

/// Claims up to `limit` due `pending` deliveries (no claim or a claim older than
/// `stale_before`) for `token`, oldest due first, and returns them.
pub fn claim_due(
    tx: &Connection,
    token: &str,
    stale_before: &str,
    limit: i64,
) -> Result<Vec<Claimed>, DbError> {
    let now_s = now();
    tx.execute(
        "UPDATE notify_deliveries SET claim_token = ?1, claimed_at = ?2
         WHERE id IN (SELECT id FROM notify_deliveries
            WHERE status = 'pending' AND next_attempt_at <= ?2
              AND (claim_token IS NULL OR claimed_at < ?3)
            ORDER BY next_attempt_at, id LIMIT ?4)",
        params![token, now_s, stale_before, limit],
    )?;
    let mut stmt = tx.prepare_cached(
        "SELECT d.id, d.attempts, e.event_id, e.type, e.payload, d.channel_id
         FROM notify_deliveries d JOIN notify_events e ON e.id = d.event_id
         WHERE d.claim_token = ?1 AND d.status = 'pending' ORDER BY d.next_attempt_at, d.id",
    )?;
    let rows = stmt
        .query_map([token], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, attempts, event_id, event_type, payload, channel) in rows {
        let Some(channel) = find_channel(tx, channel)? else {
            continue;
        };
        out.push(Claimed {
            id,
            attempts,
            event_id,
            event_type,
            payload: serde_json::from_str(&payload).unwrap_or(Value::Null),
            channel,
        });
    }
    Ok(out)
}

/// The outcome of one attempt.
#[derive(Debug, Clone)]
pub enum Attempt<'a> {
    /// Delivered.
    Sent,
    /// Failed; try again at the given time.
    Retry(&'a str, String),
    /// Failed for good.
    Failed(&'a str),
}

/// Records an attempt of a delivery claimed by `token` (ignored when the claim is gone) and the
/// channel's last status.
pub fn record_attempt(
    tx: &Connection,
    id: i64,
    channel: i64,
    token: &str,
    attempt: &Attempt,
) -> Result<bool, DbError> {
    let now_s = now();
    let (status, error, next) = match attempt {
        Attempt::Sent => ("sent", None, None),
        Attempt::Retry(e, at) => ("pending", Some(*e), Some(at.as_str())),
        Attempt::Failed(e) => ("failed", Some(*e), None),
    };
    let n = tx.execute(
        "UPDATE notify_deliveries SET status = ?3, attempts = attempts + 1, last_error = ?4,
            next_attempt_at = COALESCE(?5, next_attempt_at),
            sent_at = CASE WHEN ?3 = 'sent' THEN ?6 ELSE sent_at END,
            claim_token = NULL, claimed_at = NULL
         WHERE id = ?1 AND claim_token = ?2",
        params![id, token, status, error, next, now_s],
    )?;
    let last = match attempt {
        Attempt::Sent => "sent",
        Attempt::Retry(..) => "retry",
        Attempt::Failed(_) => "failed",
    };
    tx.execute(
        "UPDATE notify_channels SET last_status = ?2, last_error = ?3, last_attempt_at = ?4
         WHERE id = ?1",
        params![channel, last, error, now_s],
    )?;
    Ok(n > 0)
}

/// Gives a claimed delivery back without an attempt, due again at `at` (its channel just failed
/// in this round, so it is not tried again right away).
pub fn defer(tx: &Connection, id: i64, token: &str, at: &str) -> Result<bool, DbError> {
    Ok(tx.execute(
        "UPDATE notify_deliveries SET next_attempt_at = ?3, claim_token = NULL, claimed_at = NULL
         WHERE id = ?1 AND claim_token = ?2",
        params![id, token, at],
    )? > 0)
}

/// The earliest `next_attempt_at` of a pending delivery.
pub fn next_due(conn: &Connection) -> Result<Option<String>, DbError> {
    Ok(conn.query_row(
        "SELECT MIN(next_attempt_at) FROM notify_deliveries WHERE status = 'pending'",
        [],
        |r| r.get(0),
    )?)
}

/// A delivery as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    /// Row id.
    pub id: i64,
    /// The event's `event_id`.
    pub event_id: String,
    /// The event type.
    pub event_type: String,
    /// The event's group.
    pub group_id: Option<i64>,
    /// The channel.
    pub channel_id: i64,
    /// Its kind.
    pub channel_kind: String,
    /// `pending`, `sent`, `failed` or `skipped`.
    pub status: String,
    /// Attempts made.
    pub attempts: i64,
    /// When the next attempt is due (pending).
    pub next_attempt_at: String,
    /// The last error (or why it was skipped).
    pub last_error: Option<String>,
    /// When it was delivered.
    pub sent_at: Option<String>,
    /// When it was queued.
    pub created_at: String,
}

/// The newest `limit` deliveries, newest first.
pub fn list_deliveries(conn: &Connection, limit: i64) -> Result<Vec<Delivery>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.id, e.event_id, e.type, e.group_id, d.channel_id, c.kind, d.status, d.attempts,
            d.next_attempt_at, d.last_error, d.sent_at, d.created_at
         FROM notify_deliveries d JOIN notify_events e ON e.id = d.event_id
         JOIN notify_channels c ON c.id = d.channel_id
         ORDER BY d.id DESC LIMIT ?1",
    )?;
    let rows = stmt
        .query_map([limit], |r| {
            Ok(Delivery {
                id: r.get(0)?,
                event_id: r.get(1)?,
                event_type: r.get(2)?,
                group_id: r.get(3)?,
                channel_id: r.get(4)?,
                channel_kind: r.get(5)?,
                status: r.get(6)?,
                attempts: r.get(7)?,
                next_attempt_at: r.get(8)?,
                last_error: r.get(9)?,
                sent_at: r.get(10)?,
                created_at: r.get(11)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}
