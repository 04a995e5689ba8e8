//! The devices page: a searchable, paginated table (key, name, model, dump count, last dump,
//! firmware last reported), adding a device (its token is shown once), deleting a device.

use askama::Template;
use axum::extract::{Path, Query, State};
use serde::Deserialize;

use super::confirm::ConfirmPage;
use super::error::{PageError, PageResult};
use super::guard::{AdminForm, AdminPage, Confirm};
use super::layout::{
    Chrome, Nav, Pager, badge, page_number, render, render_secret, see_other, utc,
};
use crate::db::devices;
use crate::db::models::{self, Model};
use crate::db::sessions::Session;
use crate::fleet;
use crate::fleet::devices::DeviceWithToken;
use crate::ids::DeviceId;
use crate::web::state::AppState;

/// Devices per page.
pub const PER_PAGE: i64 = 50;

/// One row of the devices table.
pub struct DeviceView {
    /// The device's row id (for its links).
    pub id: i64,
    /// The device's key.
    pub key: String,
    /// Free-text name (may be empty).
    pub name: String,
    /// Code of the device's model.
    pub model: String,
    /// Number of stored dumps.
    pub dump_count: i64,
    /// The newest dump's time as (stored RFC 3339, display UTC); `None` when there is none.
    pub last_dump_at: Option<(String, String)>,
    /// Firmware version reported with the newest dump; empty when there is none.
    pub last_firmware: String,
    /// The newest dump's status badge as (text, CSS modifier); `None` when there is none.
    pub last_status: Option<(&'static str, &'static str)>,
    /// "never seen", "seen today", "not seen for N days", and the stored time (if any).
    pub seen: (String, Option<(String, String)>),
    /// The version it last said it runs; empty when unknown.
    pub running: String,
}

#[derive(Template)]
#[template(path = "devices.html")]
struct DevicesPage {
    c: Chrome,
    q: String,
    /// `q=<search>&` for the pager's links.
    query_prefix: String,
    devices: Vec<DeviceView>,
    pager: Pager,
    models: Vec<Model>,
}

/// Query of the devices page.
#[derive(Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    page: Option<String>,
    done: Option<String>,
}

/// `GET /devices`: one page of the device table, filtered by `q`, with the add-device form.
pub async fn list(
    State(st): State<AppState>,
    AdminPage(s): AdminPage,
    Query(query): Query<ListQuery>,
) -> PageResult {
    let q = query.q.unwrap_or_default().trim().to_string();
    let page = page_number(query.page.as_deref());
    let search = q.clone();
    let (rows, models) = st
        .blocking(move |st| {
            let conn = st.db.conn()?;
            Ok((
                devices::search(&conn, &search, PER_PAGE, (page - 1) * PER_PAGE)?,
                models::list(&conn)?,
            ))
        })
        .await?;
    let devices: Vec<DeviceView> = rows
        .rows
        .into_iter()
        .map(|d| DeviceView {
            id: d.id.0,
            key: d.key.to_string(),
            name: d.name,
            model: d.model.to_string(),
            dump_count: d.coredump_count,
            last_dump_at: d.last_coredump_at.map(|t| (t.to_string(), utc(t))),
            last_firmware: d.last_firmware_version.unwrap_or_default(),
            last_status: d.last_status.map(badge),
            seen: (
                super::views::seen_text(d.last_seen_at, chrono::Utc::now()),
                d.last_seen_at.map(|t| (t.to_string(), utc(t))),
            ),
            running: d.running_version.unwrap_or_default(),
        })
        .collect();
    render(&DevicesPage {
        c: Chrome::new("Devices", &s, Nav::Devices).with_flash(query.done.as_deref()),
        pager: Pager::new(page, PER_PAGE, rows.total, devices.len()),
        query_prefix: if q.is_empty() {
            String::new()
        } else {
            serde_urlencoded::to_string([("q", &q)]).unwrap_or_default() + "&"
        },
        q,
        devices,
        models,
    })
}

/// A page that shows a device token once (after adding a device or rotating its token).
#[derive(Template)]
#[template(path = "device_token.html")]
pub struct DeviceTokenPage {
    /// The page frame.
    pub c: Chrome,
    /// The device, with its new token in clear text.
    pub device: DeviceWithToken,
    /// Whether the token replaced an old one (rather than a new device's first).
    pub rotated: bool,
}

/// The add-device form.
#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    model: String,
    #[serde(default)]
    name: String,
}

/// `POST /devices`: adds a device and shows its token once.
pub async fn create(
    State(st): State<AppState>,
    AdminForm { session, form }: AdminForm<CreateForm>,
) -> PageResult {
    let actor = crate::audit::Actor::User(session.username.clone());
    let device = st
        .blocking(move |st| {
            fleet::devices::create(&st.db, form.model.trim(), Some(&form.name), &actor)
        })
        .await?;
    render_secret(&DeviceTokenPage {
        c: Chrome::new("Device added", &session, Nav::Devices),
        device,
        rotated: false,
    })
}

/// A device id from a path; an id that is not a number is `Device <raw> was not found` (404).
pub fn parse_device_id(raw: &str) -> Result<DeviceId, PageError> {
    raw.parse()
        .map(DeviceId)
        .map_err(|_| PageError::not_found(format!("Device {raw} was not found")))
}

/// A destructive action on one device, as its confirmation page names it.
pub struct DeviceAction {
    /// Page title and button text, e.g. `Delete device`.
    pub title: &'static str,
    /// The question, before the device key: `Delete device` → "Delete device k3xq7mza?".
    pub question: &'static str,
    /// What happens, in a sentence or two.
    pub message: &'static str,
    /// The action's path under `/devices/{id}/`.
    pub path: &'static str,
}

/// Runs `op` on the device `raw_id` when the form confirms `action`, then redirects to
/// `done(id)`; an unconfirmed post redirects to the action's confirmation page instead.
pub async fn run_device_action<T: Send + 'static>(
    st: &AppState,
    raw_id: &str,
    form: &Confirm,
    action: &DeviceAction,
    op: impl FnOnce(&AppState, DeviceId) -> crate::error::Result<T> + Send + 'static,
    done: impl FnOnce(DeviceId) -> String,
) -> PageResult {
    let id = parse_device_id(raw_id)?;
    if !form.confirmed() {
        return Ok(see_other(&format!("/devices/{id}/{}", action.path)));
    }
    st.blocking(move |st| op(st, id)).await?;
    Ok(see_other(&done(id)))
}

/// The confirmation page of `action` on the device `raw_id`.
pub async fn confirm_device_action(
    st: &AppState,
    session: &Session,
    raw_id: &str,
    action: &DeviceAction,
) -> PageResult {
    let id = parse_device_id(raw_id)?;
    let device = st
        .blocking(move |st| fleet::devices::find(&st.db, id))
        .await?;
    render(&ConfirmPage {
        c: Chrome::new(action.title, session, Nav::Devices),
        heading: format!("{} {}?", action.question, device.key),
        message: action.message.into(),
        action: format!("/devices/{id}/{}", action.path),
        button: action.title,
        cancel: format!("/devices/{id}"),
        fields: Vec::new(),
    })
}

const DELETE_DEVICE: DeviceAction = DeviceAction {
    title: "Delete device",
    question: "Delete device",
    message: "The device, its token and all of its core dumps are deleted. This action cannot be undone.",
    path: "delete",
};

/// `GET /devices/{id}/delete`: asks before deleting a device.
pub async fn delete_confirm(
    State(st): State<AppState>,
    AdminPage(s): AdminPage,
    Path(id): Path<String>,
) -> PageResult {
    confirm_device_action(&st, &s, &id, &DELETE_DEVICE).await
}

/// `POST /devices/{id}/delete`: deletes the device, its token and its dumps (asks first unless
/// `confirm=yes`).
pub async fn delete(
    State(st): State<AppState>,
    Path(id): Path<String>,
    AdminForm { form, session }: AdminForm<Confirm>,
) -> PageResult {
    let actor = crate::audit::Actor::User(session.username.clone());
    let op = move |st: &AppState, id| fleet::devices::delete(&st.db, &st.layout, id, &actor);
    let done = |_| "/devices?done=device-deleted".to_string();
    run_device_action(&st, &id, &form, &DELETE_DEVICE, op, done).await
}
