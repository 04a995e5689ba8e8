//! Notifications: the channels (add, edit, delete, send a test; each with its last delivery's
//! outcome and error) and the recent deliveries. A webhook's signing secret is shown once, on
//! the page that answers its creation. A form that does not validate is shown again with its
//! values and the reason, never lost. Every action is a CSRF-checked form that works without
//! JavaScript.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::confirm::{ConfirmPage, DoneQuery};
use super::error::{PageError, PageResult};
use super::guard::{AdminForm, AdminPage, Confirm};
use super::layout::{Chrome, Nav, render, render_secret, see_other, utc};
use crate::db::notify::{Channel, Delivery};
use crate::db::sessions::Session;
use crate::error::Error;
use crate::notify::service::{self, ChannelInput};
use crate::web::state::AppState;

/// How many deliveries the page lists.
const RECENT_DELIVERIES: i64 = 50;

/// The channel form as posted (every field text, so a bad number is our message, not serde's).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ChannelForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    url: String,
    ev_created: Option<String>,
    ev_regressed: Option<String>,
    ev_spike: Option<String>,
    ev_halted: Option<String>,
    #[serde(default)]
    models: String,
    #[serde(default)]
    cooldown_min: String,
    #[serde(default)]
    spike_dumps: String,
    #[serde(default)]
    spike_devices: String,
    #[serde(default)]
    spike_window_min: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    smtp_host: String,
    #[serde(default)]
    smtp_port: String,
    #[serde(default)]
    smtp_tls: String,
    #[serde(default)]
    smtp_username: String,
    #[serde(default)]
    smtp_password: String,
    #[serde(default)]
    email_from: String,
    #[serde(default)]
    email_to: String,
}

/// The form's values as the template shows them (a new channel, a stored one, or a post that
/// did not validate). Secrets are never put back into the form.
pub struct FormView {
    /// `None` for the add form; the channel id when editing.
    pub id: Option<i64>,
    /// Channel kind.
    pub kind: String,
    /// Label.
    pub name: String,
    /// HTTP endpoint.
    pub url: String,
    /// `group.created` selected.
    pub ev_created: bool,
    /// `group.regressed` selected.
    pub ev_regressed: bool,
    /// `group.spike` selected.
    pub ev_spike: bool,
    /// `rollout.halted` selected.
    pub ev_halted: bool,
    /// Model codes, comma separated.
    pub models: String,
    /// Cooldown, minutes.
    pub cooldown_min: String,
    /// Spike threshold, dumps.
    pub spike_dumps: String,
    /// Spike threshold, devices.
    pub spike_devices: String,
    /// Spike window, minutes.
    pub spike_window_min: String,
    /// SMTP server.
    pub smtp_host: String,
    /// SMTP port.
    pub smtp_port: String,
    /// `starttls`, `tls` or `plain`.
    pub smtp_tls: String,
    /// SMTP user.
    pub smtp_username: String,
    /// Sender.
    pub email_from: String,
    /// Recipients.
    pub email_to: String,
    /// Whether a secret is stored (edit: "leave empty to keep").
    pub has_secret: bool,
}

impl FormView {
    /// The empty add form: a webhook for new and regressed groups and halted rollouts (the
    /// API's default events), 60 minutes of cooldown.
    fn blank() -> FormView {
        FormView {
            id: None,
            kind: "webhook".into(),
            name: String::new(),
            url: String::new(),
            ev_created: true,
            ev_regressed: true,
            ev_spike: false,
            ev_halted: true,
            models: String::new(),
            cooldown_min: "60".into(),
            spike_dumps: String::new(),
            spike_devices: String::new(),
            spike_window_min: "60".into(),
            smtp_host: String::new(),
            smtp_port: String::new(),
            smtp_tls: "starttls".into(),
            smtp_username: String::new(),
            email_from: String::new(),
            email_to: String::new(),
            has_secret: false,
        }
    }

    fn of_channel(c: &Channel) -> FormView {
        let s = &c.settings;
        let has = |e: &str| s.events.iter().any(|x| x == e);
        let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        FormView {
            id: Some(c.id),
            kind: s.kind.clone(),
            name: s.name.clone(),
            url: s.url.clone(),
            ev_created: has("group.created"),
            ev_regressed: has("group.regressed"),
            ev_spike: has("group.spike"),
            ev_halted: has("rollout.halted"),
            models: s.models.join(", "),
            cooldown_min: minutes(s.cooldown_s),
            spike_dumps: opt(s.spike_dumps),
            spike_devices: opt(s.spike_devices),
            spike_window_min: minutes(s.spike_window_s),
            smtp_host: s.smtp_host.clone().unwrap_or_default(),
            smtp_port: opt(s.smtp_port),
            smtp_tls: s.smtp_tls.clone().unwrap_or_else(|| "starttls".into()),
            smtp_username: s.smtp_username.clone().unwrap_or_default(),
            email_from: s.email_from.clone().unwrap_or_default(),
            email_to: s.email_to.clone().unwrap_or_default(),
            has_secret: c.has_secret,
        }
    }

    fn of_form(id: Option<i64>, kind: String, f: &ChannelForm, has_secret: bool) -> FormView {
        FormView {
            id,
            kind,
            name: f.name.clone(),
            url: f.url.clone(),
            ev_created: f.ev_created.is_some(),
            ev_regressed: f.ev_regressed.is_some(),
            ev_spike: f.ev_spike.is_some(),
            ev_halted: f.ev_halted.is_some(),
            models: f.models.clone(),
            cooldown_min: f.cooldown_min.clone(),
            spike_dumps: f.spike_dumps.clone(),
            spike_devices: f.spike_devices.clone(),
            spike_window_min: f.spike_window_min.clone(),
            smtp_host: f.smtp_host.clone(),
            smtp_port: f.smtp_port.clone(),
            smtp_tls: f.smtp_tls.clone(),
            smtp_username: f.smtp_username.clone(),
            email_from: f.email_from.clone(),
            email_to: f.email_to.clone(),
            has_secret,
        }
    }

    /// Whether the channel is e-mail (the edit form shows only its kind's fields).
    pub fn is_email(&self) -> bool {
        self.kind == "email"
    }
}

/// Whole minutes of `secs` (the forms ask in minutes; the API in seconds).
fn minutes(secs: i64) -> String {
    if secs % 60 == 0 {
        (secs / 60).to_string()
    } else {
        format!("{:.2}", secs as f64 / 60.0)
    }
}

/// A number field: empty is `None`, anything else must be a whole number.
fn number(label: &str, raw: &str) -> Result<Option<i64>, Error> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse::<i64>()
        .map(Some)
        .map_err(|_| Error::Validation(format!("{label} must be a whole number, not {raw:?}")))
}

/// Minutes given in a form as seconds (bounded so the multiplication cannot overflow).
fn seconds(label: &str, raw: &str) -> Result<Option<i64>, Error> {
    Ok(match number(label, raw)? {
        Some(m) if !(0..=1_000_000).contains(&m) => {
            return Err(Error::Validation(format!(
                "{label} must be between 0 and 1000000 minutes"
            )));
        }
        m => m.map(|m| m * 60),
    })
}

fn text(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// The form as the service's input: the same validation as the API and the CLI.
pub fn to_input(f: &ChannelForm) -> Result<ChannelInput, Error> {
    let events: Vec<String> = [
        (f.ev_created.is_some(), "group.created"),
        (f.ev_regressed.is_some(), "group.regressed"),
        (f.ev_spike.is_some(), "group.spike"),
        (f.ev_halted.is_some(), "rollout.halted"),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, e)| e.to_string())
    .collect();
    let models = f
        .models
        .split([',', ' '])
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::to_string)
        .collect();
    Ok(ChannelInput {
        kind: text(&f.kind),
        name: text(&f.name),
        url: text(&f.url),
        events: Some(events),
        models: Some(models),
        cooldown_s: seconds("Cooldown", &f.cooldown_min)?,
        spike_dumps: number("Spike dumps", &f.spike_dumps)?,
        spike_devices: number("Spike devices", &f.spike_devices)?,
        spike_window_s: seconds("Spike window", &f.spike_window_min)?,
        token: text(&f.token),
        smtp_host: text(&f.smtp_host),
        smtp_port: number("SMTP port", &f.smtp_port)?,
        smtp_tls: text(&f.smtp_tls),
        smtp_username: text(&f.smtp_username),
        smtp_password: text(&f.smtp_password),
        email_from: text(&f.email_from),
        email_to: text(&f.email_to),
    })
}

/// One channel row.
pub struct ChannelView {
    /// Row id.
    pub id: i64,
    /// Label.
    pub name: String,
    /// Kind.
    pub kind: String,
    /// Where it goes: the URL's host (never its path, which can hold a secret) or recipients.
    pub target: String,
    /// Selected events.
    pub events: String,
    /// Models, or "all".
    pub models: String,
    /// Cooldown in minutes.
    pub cooldown_min: String,
    /// Last attempt's outcome and its badge modifier.
    pub last: Option<(String, &'static str)>,
    /// Last attempt's time.
    pub last_at: Option<(String, String)>,
    /// Last error.
    pub last_error: Option<String>,
}

/// Where an HTTP channel posts, shown without path or query (a Slack URL is its own secret).
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    // Credentials in the authority are not shown either.
    host.rsplit('@').next().unwrap_or(host).to_string()
}

fn outcome_badge(status: &str) -> &'static str {
    match status {
        "sent" => "parsed",
        "pending" | "retry" => "pending",
        "failed" => "error",
        _ => "role",
    }
}

fn stamp(t: String) -> (String, String) {
    let u = utc(&t);
    (t, u)
}

impl ChannelView {
    fn of(c: Channel) -> ChannelView {
        let s = c.settings;
        ChannelView {
            id: c.id,
            target: if s.kind == "email" {
                s.email_to.unwrap_or_default()
            } else {
                host_of(&s.url)
            },
            name: s.name,
            kind: s.kind,
            events: s.events.join(", "),
            models: if s.models.is_empty() {
                "all".into()
            } else {
                s.models.join(", ")
            },
            cooldown_min: minutes(s.cooldown_s),
            last: c.last_status.map(|st| {
                let b = outcome_badge(&st);
                (st, b)
            }),
            last_at: c.last_attempt_at.map(stamp),
            last_error: c.last_error,
        }
    }
}

/// One delivery row.
pub struct DeliveryView {
    /// Event type.
    pub event: String,
    /// The event's group, if any.
    pub group_id: Option<i64>,
    /// Channel label (or `#id (kind)` when deleted meanwhile).
    pub channel: String,
    /// Status and badge modifier.
    pub status: (String, &'static str),
    /// Attempts made.
    pub attempts: i64,
    /// Queued at.
    pub created: (String, String),
    /// Sent at.
    pub sent: Option<(String, String)>,
    /// Next attempt (pending only).
    pub next: Option<(String, String)>,
    /// Last error or skip reason.
    pub error: Option<String>,
}

impl DeliveryView {
    fn of(d: Delivery, names: &HashMap<i64, String>) -> DeliveryView {
        let pending = d.status == "pending";
        DeliveryView {
            event: d.event_type,
            group_id: d.group_id,
            channel: names
                .get(&d.channel_id)
                .cloned()
                .unwrap_or_else(|| format!("#{} ({})", d.channel_id, d.channel_kind)),
            status: {
                let b = outcome_badge(&d.status);
                (d.status, b)
            },
            attempts: d.attempts,
            created: stamp(d.created_at),
            sent: d.sent_at.map(stamp),
            next: pending.then(|| stamp(d.next_attempt_at)),
            error: d.last_error,
        }
    }
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    c: Chrome,
    public_url_set: bool,
    channels: Vec<ChannelView>,
    deliveries: Vec<DeliveryView>,
    f: FormView,
    error: Option<String>,
}

/// Renders the page with the add form `f` and, after a failed add, its `error`.
async fn page(
    st: &AppState,
    session: &Session,
    done: Option<&str>,
    f: FormView,
    error: Option<String>,
) -> PageResult {
    let (channels, deliveries) = st
        .blocking(|st| {
            Ok((
                service::list(&st.db)?,
                service::deliveries(&st.db, Some(RECENT_DELIVERIES))?,
            ))
        })
        .await?;
    let names: HashMap<i64, String> = channels
        .iter()
        .map(|c| (c.id, c.settings.name.clone()))
        .collect();
    let mut resp = render(&NotificationsPage {
        c: Chrome::new("Notifications", session, Nav::Notifications).with_flash(done),
        public_url_set: st.config.public_url.is_some(),
        channels: channels.into_iter().map(ChannelView::of).collect(),
        deliveries: deliveries
            .into_iter()
            .map(|d| DeliveryView::of(d, &names))
            .collect(),
        f,
        error: error.clone(),
    })?;
    if error.is_some() {
        *resp.status_mut() = axum::http::StatusCode::BAD_REQUEST;
    }
    Ok(resp)
}

/// `GET /notifications`: channels, the add form and the recent deliveries.
pub async fn show(
    State(st): State<AppState>,
    AdminPage(s): AdminPage,
    Query(q): Query<DoneQuery>,
) -> PageResult {
    page(&st, &s, q.done.as_deref(), FormView::blank(), None).await
}

#[derive(Template)]
#[template(path = "notification_created.html")]
struct CreatedPage {
    c: Chrome,
    name: String,
    secret: String,
}

/// `POST /notifications/channels`: adds a channel; a webhook's secret is shown once.
pub async fn create(
    State(st): State<AppState>,
    AdminForm { session, form }: AdminForm<ChannelForm>,
) -> PageResult {
    let actor = crate::audit::Actor::User(session.username.clone());
    let created = match to_input(&form) {
        Ok(input) => {
            st.blocking(move |st| service::create(&st.db, &input, &actor))
                .await
        }
        Err(e) => Err(e),
    };
    match created {
        Ok(c) => match c.secret {
            Some(secret) => render_secret(&CreatedPage {
                c: Chrome::new("Channel added", &session, Nav::Notifications),
                name: c.channel.settings.name,
                secret,
            }),
            None => Ok(see_other("/notifications?done=channel-added")),
        },
        Err(Error::Validation(m)) => {
            let kind = form.kind.clone();
            let f = FormView::of_form(None, kind, &form, false);
            page(&st, &session, None, f, Some(m)).await
        }
        Err(e) => Err(e.into()),
    }
}

fn parse_id(raw: &str) -> Result<i64, PageError> {
    raw.parse()
        .map_err(|_| PageError::not_found(format!("Notification channel {raw} was not found")))
}

#[derive(Template)]
#[template(path = "notification_channel.html")]
struct EditPage {
    c: Chrome,
    f: FormView,
    error: Option<String>,
}

fn edit_page(session: &Session, f: FormView, error: Option<String>) -> PageResult {
    let failed = error.is_some();
    let mut resp = render(&EditPage {
        c: Chrome::new(format!("Edit {}", f.name), session, Nav::Notifications),
        f,
        error,
    })?;
    if failed {
        *resp.status_mut() = axum::http::StatusCode::BAD_REQUEST;
    }
    Ok(resp)
}

/// `GET /notifications/channels/{id}`: the edit form.
pub async fn edit(
    State(st): State<AppState>,
    AdminPage(s): AdminPage,
    Path(id): Path<String>,
) -> PageResult {
    let id = parse_id(&id)?;
    let channel = st.blocking(move |st| service::get(&st.db, id)).await?;
    edit_page(&s, FormView::of_channel(&channel), None)
}

/// `POST /notifications/channels/{id}`: saves the edit form (empty secret fields keep the
/// stored secret).
pub async fn update(
    State(st): State<AppState>,
    Path(id): Path<String>,
    AdminForm { session, form }: AdminForm<ChannelForm>,
) -> PageResult {
    let actor = crate::audit::Actor::User(session.username.clone());
    let id = parse_id(&id)?;
    let current = st.blocking(move |st| service::get(&st.db, id)).await?;
    let updated = match to_input(&form) {
        Ok(input) => {
            st.blocking(move |st| service::update(&st.db, id, &input, &actor))
                .await
        }
        Err(e) => Err(e),
    };
    match updated {
        Ok(_) => Ok(see_other("/notifications?done=channel-saved")),
        Err(Error::Validation(m)) => {
            let kind = current.settings.kind.clone();
            let f = FormView::of_form(Some(id), kind, &form, current.has_secret);
            edit_page(&session, f, Some(m))
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /notifications/channels/{id}/test`: queues a `test` event for this channel.
pub async fn test(
    State(st): State<AppState>,
    Path(id): Path<String>,
    AdminForm { session, .. }: AdminForm<Confirm>,
) -> PageResult {
    let actor = crate::audit::Actor::User(session.username.clone());
    let id = parse_id(&id)?;
    st.blocking(move |st| service::test(&st.db, &st.notify, id, &actor))
        .await?;
    Ok(see_other("/notifications?done=test-queued"))
}

/// `GET /notifications/channels/{id}/delete`: asks before deleting a channel.
pub async fn delete_confirm(
    State(st): State<AppState>,
    AdminPage(s): AdminPage,
    Path(id): Path<String>,
) -> PageResult {
    let id = parse_id(&id)?;
    let channel = st.blocking(move |st| service::get(&st.db, id)).await?;
    render(&ConfirmPage {
        c: Chrome::new("Delete channel", &s, Nav::Notifications),
        heading: format!("Delete channel {}?", channel.settings.name),
        message: "It gets no more notifications, and its delivery history is deleted with it."
            .into(),
        action: format!("/notifications/channels/{id}/delete"),
        button: "Delete channel",
        cancel: "/notifications".into(),
        fields: Vec::new(),
    })
}

/// `POST /notifications/channels/{id}/delete`: deletes the channel (asks first unless
/// `confirm=yes`).
pub async fn delete(
    State(st): State<AppState>,
    Path(id): Path<String>,
    AdminForm { form, session }: AdminForm<Confirm>,
) -> Result<Response, PageError> {
    let actor = crate::audit::Actor::User(session.username.clone());
    let id = parse_id(&id)?;
    if !form.confirmed() {
        return Ok(see_other(&format!("/notifications/channels/{id}/delete")));
    }
    st.blocking(move |st| service::delete(&st.db, id, &actor))
        .await?;
    Ok(see_other("/notifications?done=channel-deleted"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_shown_by_its_host_only() {
        assert_eq!(
            host_of("https://hooks.slack.com/services/T0/B0/secret"),
            "hooks.slack.com"
        );
        assert_eq!(
            host_of("http://u:pw@ntfy.lab:8080/topic?x=1"),
            "ntfy.lab:8080"
        );
    }

    #[test]
    fn minutes_become_seconds_and_bad_numbers_are_named() {
        let f = ChannelForm {
            kind: "webhook".into(),
            cooldown_min: "15".into(),
            ev_created: Some("on".into()),
            ..ChannelForm::default()
        };
        let input = to_input(&f).unwrap();
        assert_eq!(input.cooldown_s, Some(900));
        assert_eq!(input.events, Some(vec!["group.created".to_string()]));
        let bad = ChannelForm {
            smtp_port: "25a".into(),
            ..f
        };
        let e = to_input(&bad).unwrap_err().to_string();
        assert!(e.contains("SMTP port"), "{e}");
    }
}
