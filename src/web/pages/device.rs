//! One device: its metadata (last seen, running version), token rotation, its firmware updates
//! (what it is offered now and why, pin / exclude / follow the rollout, its tag; the forms are
//! in [`super::device_ota`]), the versions it was seen on, and its dumps newest first
//! (uploaded, firmware, chip, size, status badge, download, delete), with delete-all. While a
//! recent dump is still `PENDING` the page reloads itself every few seconds.

use askama::Template;
use axum::extract::{Path, Query, State};
use serde::Deserialize;

use super::devices::{
    DeviceAction, DeviceTokenPage, confirm_device_action, parse_device_id, run_device_action,
};
use super::error::PageResult;
use super::guard::{AdminForm, AdminPage, Confirm};
use super::layout::{Chrome, Nav, Pager, page_number, render, render_secret, utc};
use super::views::DumpView;
use crate::coredump::manage;
use crate::db::dashboard;
use crate::db::devices::Device;
use crate::error::Error;
use crate::fleet;
use crate::web::state::AppState;

/// Dumps per page (retention keeps 20 per device by default, so usually one page).
pub const PER_PAGE: i64 = 50;
/// Seconds between reloads while a dump is being parsed.
pub const REFRESH_SECS: u32 = 3;
/// A dump still pending after this long is stuck (no worker?): stop reloading.
pub const REFRESH_WINDOW: chrono::Duration = chrono::Duration::minutes(10);

/// A version the device was seen on: the version, first and last sighting as (stored, UTC).
pub type SeenRow = (String, (String, String), (String, String));

#[derive(Template)]
#[template(path = "device.html")]
struct DevicePage {
    c: Chrome,
    device: Device,
    created_utc: String,
    /// "never seen" / "seen today" / "not seen for N days" and the time, if any.
    seen: (String, Option<(String, String)>),
    /// What it is offered now: (version or "nothing", rule).
    offer: (String, &'static str),
    /// Stored versions of its model (pin choices), newest first.
    versions: Vec<String>,
    /// Versions it was seen on.
    history: Vec<SeenRow>,
    dumps: Vec<DumpView>,
    pager: Pager,
}

/// Query of the device page: the dump page number and a `?done=` notice.
#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<String>,
    done: Option<String>,
}

/// Whether a dump last changed at `t` may still settle soon.
pub fn recently(t: crate::ids::Timestamp) -> bool {
    chrono::Utc::now().signed_duration_since(t.as_datetime()) < REFRESH_WINDOW
}

/// `GET /devices/{id}`: the device with one page of its dumps; reloads itself while a recent dump
/// is `PENDING`.
pub async fn show(
    State(st): State<AppState>,
    AdminPage(s): AdminPage,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> PageResult {
    let id = parse_device_id(&id)?;
    let page = page_number(q.page.as_deref());
    let (device, dumps, versions, history, offer) = st
        .blocking(move |st| {
            let conn = st.db.conn()?;
            let device = crate::db::devices::find(&conn, id)?
                .ok_or_else(|| Error::not_found("Device", id))?;
            let dumps = dashboard::dump_page(&conn, id, PER_PAGE, (page - 1) * PER_PAGE)?;
            let versions = crate::db::firmware::list_for_model(&conn, device.model_id)?;
            let history = crate::db::checkins::history(&conn, id)?;
            drop(conn);
            let offer = crate::rollout::service::offer(&st.db, id, None)?;
            Ok((device, dumps, versions, history, offer))
        })
        .await?;
    let stamp = |t: &str| (t.to_string(), utc(t));
    let history = history
        .iter()
        .map(|h| {
            (
                h.version.clone(),
                stamp(&h.first_seen_at),
                stamp(&h.last_seen_at),
            )
        })
        .collect();
    let settling = dumps
        .rows
        .iter()
        .any(|d| d.status == crate::db::coredumps::ParseStatus::Pending && recently(d.uploaded_at));
    let mut c = Chrome::new(format!("Device {}", device.key), &s, Nav::Devices)
        .with_flash(q.done.as_deref());
    c.refresh = settling.then_some(REFRESH_SECS);
    let views: Vec<DumpView> = dumps.rows.iter().map(DumpView::from).collect();
    render(&DevicePage {
        c,
        created_utc: utc(device.created_at),
        seen: (
            super::views::seen_text(device.last_seen_at, chrono::Utc::now()),
            device.last_seen_at.map(|t| (t.to_string(), utc(t))),
        ),
        offer: (
            offer.version.unwrap_or_else(|| "nothing".into()),
            offer.source.as_str(),
        ),
        versions: versions
            .into_iter()
            .map(|v| v.version.to_string())
            .collect(),
        history,
        pager: Pager::new(page, PER_PAGE, dumps.total, views.len()),
        dumps: views,
        device,
    })
}

/// `POST /devices/{id}/token`: issues the device a new token and shows it once.
pub async fn rotate_token(
    State(st): State<AppState>,
    Path(id): Path<String>,
    AdminForm { session, .. }: AdminForm<Confirm>,
) -> PageResult {
    let actor = crate::audit::Actor::User(session.username.clone());
    let id = parse_device_id(&id)?;
    let device = st
        .blocking(move |st| fleet::devices::rotate_token(&st.db, id, &actor))
        .await?;
    render_secret(&DeviceTokenPage {
        c: Chrome::new("New device token", &session, Nav::Devices),
        device,
        rotated: true,
    })
}

const DELETE_ALL_DUMPS: DeviceAction = DeviceAction {
    title: "Delete all core dumps",
    question: "Delete all core dumps of",
    message: "Every stored core dump of this device and its decoded report are deleted. This action cannot be undone.",
    path: "coredumps/delete",
};

/// `GET /devices/{id}/coredumps/delete`: asks before deleting all of a device's dumps.
pub async fn delete_all_confirm(
    State(st): State<AppState>,
    AdminPage(s): AdminPage,
    Path(id): Path<String>,
) -> PageResult {
    confirm_device_action(&st, &s, &id, &DELETE_ALL_DUMPS).await
}

/// `POST /devices/{id}/coredumps/delete`: deletes every dump of the device (asks first unless
/// `confirm=yes`).
pub async fn delete_all(
    State(st): State<AppState>,
    Path(id): Path<String>,
    AdminForm { form, session }: AdminForm<Confirm>,
) -> PageResult {
    let actor = crate::audit::Actor::User(session.username.clone());
    let op =
        move |st: &AppState, id| manage::delete_all(&st.db, &st.layout, &st.spares, id, &actor);
    let done = |id| format!("/devices/{id}?done=dumps-deleted");
    run_device_action(&st, &id, &form, &DELETE_ALL_DUMPS, op, done).await
}
