//! One crash group: its title, status and regression mark, why its dumps are grouped (reason
//! class, hashed frames, signature), first/last seen and version, the latest stored sample's
//! crash summary and backtrace, a server-rendered SVG chart of stored dumps per day (last 30
//! days), versions and devices affected, its stored dumps, and the actions: resolve (in a
//! version; default the model's current firmware), mute, reopen, and merge into another group
//! (after a confirmation). Every action is a CSRF-checked form that works without JavaScript
//! and redirects back with a `?done=` notice; a refused action (no version to resolve in, a
//! group of another model to merge into) shows the group page again with the reason.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::confirm::{ConfirmPage, DoneQuery};
use super::coredump::{Summary, summary_of};
use super::error::{PageError, PageResult};
use super::guard::{AdminForm, AdminPage, Confirm};
use super::layout::{Chrome, Nav, render, see_other, utc};
use super::views::{DumpView, GroupView};
use crate::db::dashboard;
use crate::db::groups::{self, Group, Sort};
use crate::db::models;
use crate::db::sessions::Session;
use crate::error::{Error, Result};
use crate::groups::service::{self, Detail};
use crate::ids::GroupId;
use crate::web::state::AppState;

/// Stored dumps listed on the page (newest first).
pub const DUMPS_SHOWN: i64 = 50;
/// Devices listed on the page (most dumps first).
pub const DEVICES_SHOWN: usize = 100;
/// Days in the chart, today (UTC) included.
pub const CHART_DAYS: i64 = 30;
/// Other groups of the model offered as merge targets.
const MERGE_CHOICES: i64 = 100;

/// One bar of the dumps-per-day chart, in SVG user units.
pub struct Bar {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Height (at least 1, so a day without dumps still shows on the axis).
    pub height: u32,
    /// The day, `YYYY-MM-DD` (UTC).
    pub day: String,
    /// Stored dumps that day.
    pub count: i64,
}

/// The chart of stored dumps per day.
pub struct Chart {
    /// One bar per day, oldest first.
    pub bars: Vec<Bar>,
    /// Stored dumps in the chart's days.
    pub total: i64,
    /// The busiest day and its count; `None` when no day has dumps.
    pub busiest: Option<(String, i64)>,
}

impl Chart {
    /// SVG width: one slot per day.
    pub const WIDTH: u32 = CHART_DAYS as u32 * Self::SLOT;
    /// SVG height.
    pub const HEIGHT: u32 = 60;
    /// Width of a day's slot.
    pub const SLOT: u32 = 10;
    /// Width of a bar inside its slot.
    pub const BAR: u32 = 8;

    /// The chart of the `CHART_DAYS` days ending `today` from sparse per-day counts.
    pub fn new(today: chrono::NaiveDate, counts: &[(String, i64)]) -> Chart {
        let max = counts.iter().map(|c| c.1).max().unwrap_or(0).max(1);
        let top = i64::from(Self::HEIGHT - 4);
        let bars: Vec<Bar> = (0..CHART_DAYS)
            .map(|i| {
                let day = (today - chrono::Duration::days(CHART_DAYS - 1 - i))
                    .format("%Y-%m-%d")
                    .to_string();
                let count = counts.iter().find(|c| c.0 == day).map(|c| c.1).unwrap_or(0);
                // Round up, so one dump on a busy chart is still visible.
                let height = ((count * top + max - 1) / max).max(1) as u32;
                Bar {
                    x: i as u32 * Self::SLOT + (Self::SLOT - Self::BAR) / 2,
                    y: Self::HEIGHT - height,
                    height,
                    day,
                    count,
                }
            })
            .collect();
        let total = bars.iter().map(|b| b.count).sum();
        let busiest = bars
            .iter()
            .filter(|b| b.count > 0)
            .max_by_key(|b| (b.count, b.day.clone()))
            .map(|b| (b.day.clone(), b.count));
        Chart {
            bars,
            total,
            busiest,
        }
    }

    /// The first day shown.
    pub fn first_day(&self) -> &str {
        self.bars
            .first()
            .map(|b| b.day.as_str())
            .unwrap_or_default()
    }

    /// The last day shown (today).
    pub fn last_day(&self) -> &str {
        self.bars.last().map(|b| b.day.as_str()).unwrap_or_default()
    }
}

/// A device in the "devices affected" table.
pub struct DeviceRow {
    /// The device's row id; `None` when it was deleted since (no link).
    pub id: Option<i64>,
    /// Its key.
    pub key: String,
    /// Its dumps in the group (lifetime).
    pub count: i64,
    /// Its newest dump in the group as (stored, display UTC).
    pub last_seen: (String, String),
}

/// A version in the "versions affected" table.
pub struct VersionRow {
    /// The version as devices reported it.
    pub version: String,
    /// Dumps from it (lifetime).
    pub count: i64,
    /// The group was resolved in this version.
    pub resolved_in: bool,
    /// The model's current firmware version.
    pub current: bool,
}

/// The newest stored dump, as the page shows it.
pub struct Sample {
    /// The dump's id.
    pub id: i64,
    /// Its device's id.
    pub device_id: i64,
    /// Its device's key.
    pub device_key: String,
    /// The firmware version it reported.
    pub firmware: String,
    /// Upload time as (stored, display UTC).
    pub uploaded: (String, String),
    /// Its crash summary.
    pub summary: Summary,
}

#[derive(Template)]
#[template(path = "group.html")]
struct GroupPage {
    c: Chrome,
    g: GroupView,
    signature: String,
    frames: Vec<String>,
    /// Signatures merged into the group (besides its own).
    merged_signatures: i64,
    stored: i64,
    chart: Chart,
    versions: Vec<VersionRow>,
    devices: Vec<DeviceRow>,
    more_devices: usize,
    dumps: Vec<DumpView>,
    sample: Option<Sample>,
    /// The model's current firmware version (the default of "resolve"); empty when none.
    current_version: String,
    /// Other groups of the model as (id, title), for the merge field's suggestions.
    merge_choices: Vec<(i64, String)>,
    error: Option<String>,
}

impl GroupPage {
    /// The chart's width, for the template.
    fn chart_width(&self) -> u32 {
        Chart::WIDTH
    }
    /// The chart's height, for the template.
    fn chart_height(&self) -> u32 {
        Chart::HEIGHT
    }
    /// A bar's width, for the template.
    fn bar_width(&self) -> u32 {
        Chart::BAR
    }
}

/// A group id from a path; anything but a number is `Crash group <raw> was not found` (404).
pub fn parse_group_id(raw: &str) -> std::result::Result<GroupId, PageError> {
    raw.parse()
        .map(GroupId)
        .map_err(|_| PageError::not_found(format!("Crash group {raw} was not found")))
}

fn not_found(id: GroupId) -> Error {
    Error::NotFound(format!("Crash group {id} was not found"))
}

/// Everything the page reads, in one blocking call.
struct Loaded {
    detail: Detail,
    per_day: Vec<(String, i64)>,
    dumps: Vec<dashboard::DumpRow>,
    present: Vec<crate::ids::DeviceId>,
    signatures: i64,
    current_version: Option<String>,
    sample: Option<dashboard::DumpContext>,
    siblings: Vec<Group>,
}

fn load(st: &AppState, id: GroupId, since: &str) -> Result<Loaded> {
    let detail = match service::detail(&st.db, id) {
        Err(Error::NotFound(_)) => return Err(not_found(id)),
        other => other?,
    };
    let model = detail.group.model.to_string();
    let siblings = service::list(
        &st.db,
        Some(&model),
        None,
        Sort::LastSeen,
        MERGE_CHOICES + 1,
        0,
    )?
    .rows;
    let conn = st.db.conn()?;
    let sample = match (detail.latest_device_id, detail.latest_coredump_id) {
        (Some(device), Some(dump)) => dashboard::find_dump(&conn, device, dump)?,
        _ => None,
    };
    Ok(Loaded {
        per_day: dashboard::dumps_per_day(&conn, id, since)?,
        dumps: dashboard::group_dumps(&conn, id, DUMPS_SHOWN)?,
        present: dashboard::group_devices_present(&conn, id)?,
        signatures: dashboard::group_signature_count(&conn, id)?,
        current_version: models::find(&conn, detail.group.model_id)?
            .and_then(|m| m.firmware_version)
            .map(|v| v.to_string()),
        sample,
        siblings,
        detail,
    })
}

/// Renders the group page, with a `?done=` notice or an action's error.
async fn page(
    st: &AppState,
    session: &Session,
    id: GroupId,
    done: Option<&str>,
    error: Option<String>,
) -> PageResult {
    let today = chrono::Utc::now().date_naive();
    let since = format!(
        "{}T00:00:00.000000Z",
        (today - chrono::Duration::days(CHART_DAYS - 1)).format("%Y-%m-%d")
    );
    let l = st.blocking(move |st| load(st, id, &since)).await?;
    let group = &l.detail.group;
    let current_version = l.current_version.unwrap_or_default();
    let resolved_in = group.resolved_in_version.clone().unwrap_or_default();
    let versions = l
        .detail
        .versions
        .iter()
        .map(|v| VersionRow {
            resolved_in: v.version == resolved_in,
            current: v.version == current_version,
            version: v.version.clone(),
            count: v.count,
        })
        .collect();
    let devices: Vec<DeviceRow> = l
        .detail
        .device_list
        .iter()
        .take(DEVICES_SHOWN)
        .map(|d| DeviceRow {
            id: l.present.contains(&d.id).then_some(d.id.0),
            key: d.key.clone(),
            count: d.count,
            last_seen: (d.last_seen.to_string(), utc(d.last_seen)),
        })
        .collect();
    let sample = l.sample.map(|s| Sample {
        id: s.dump.id.0,
        device_id: s.dump.device_id.0,
        device_key: s.device_key.to_string(),
        firmware: s.dump.firmware_version.clone(),
        uploaded: (s.dump.uploaded_at.to_string(), utc(s.dump.uploaded_at)),
        summary: s
            .dump
            .analysis
            .as_deref()
            .map(|a| summary_of(s.model.as_str(), a))
            .unwrap_or_default(),
    });
    let merge_choices = l
        .siblings
        .iter()
        .filter(|g| g.id != id)
        .take(MERGE_CHOICES as usize)
        .map(|g| (g.id.0, g.title.clone()))
        .collect();
    let c = Chrome::new(format!("Crash group #{id}"), session, Nav::Home).with_flash(done);
    render(&GroupPage {
        c,
        g: GroupView::from(group),
        signature: group.signature.clone(),
        frames: group.frames.clone(),
        merged_signatures: (l.signatures - 1).max(0),
        stored: l.detail.stored_dumps,
        chart: Chart::new(today, &l.per_day),
        versions,
        more_devices: l.detail.device_list.len().saturating_sub(DEVICES_SHOWN),
        devices,
        dumps: l.dumps.iter().map(DumpView::from).collect(),
        sample,
        current_version,
        merge_choices,
        error,
    })
}

/// `GET /groups/{id}`: the group page.
pub async fn show(
    State(st): State<AppState>,
    AdminPage(s): AdminPage,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> PageResult {
    let id = parse_group_id(&id)?;
    page(&st, &s, id, q.done.as_deref(), None).await
}

/// Runs an action on group `id`; then redirects to `done_url`, or, when the action is refused
/// (a 4xx error), shows the group page again with the reason and that status.
async fn act(
    st: &AppState,
    session: &Session,
    id: GroupId,
    op: impl FnOnce(&AppState) -> Result<String> + Send + 'static,
) -> PageResult {
    match st.blocking(op).await {
        Ok(to) => Ok(see_other(&to)),
        Err(e) => refused(st, session, id, PageError::from(e)).await,
    }
}

/// The group page with `e` as its error notice (a server error stays an error page).
async fn refused(st: &AppState, session: &Session, id: GroupId, e: PageError) -> PageResult {
    if e.status.is_server_error() {
        return Err(e);
    }
    let mut resp = page(st, session, id, None, Some(e.message)).await?;
    *resp.status_mut() = if e.status == StatusCode::NOT_FOUND {
        StatusCode::BAD_REQUEST
    } else {
        e.status
    };
    Ok(resp)
}

/// The resolve form: the version it is fixed in (empty: the model's current version).
#[derive(Deserialize)]
pub struct ResolveForm {
    #[serde(default)]
    version: String,
}

/// `POST /groups/{id}/resolve`: marks the group fixed in the given version (default: the
/// model's current firmware version).
pub async fn resolve(
    State(st): State<AppState>,
    Path(id): Path<String>,
    AdminForm { session, form }: AdminForm<ResolveForm>,
) -> PageResult {
    let actor = crate::audit::Actor::User(session.username.clone());
    let id = parse_group_id(&id)?;
    act(&st, &session, id, move |st| {
        let version = Some(form.version.trim()).filter(|v| !v.is_empty());
        service::resolve(&st.db, id, version, &actor).map_err(|e| renamed(e, id))?;
        Ok(format!("/groups/{id}?done=group-resolved"))
    })
    .await
}

/// `POST /groups/{id}/mute`: mutes the group (still counted, never reopened).
pub async fn mute(
    State(st): State<AppState>,
    Path(id): Path<String>,
    AdminForm { session, .. }: AdminForm<Confirm>,
) -> PageResult {
    let actor = crate::audit::Actor::User(session.username.clone());
    let id = parse_group_id(&id)?;
    act(&st, &session, id, move |st| {
        service::mute(&st.db, id, &actor).map_err(|e| renamed(e, id))?;
        Ok(format!("/groups/{id}?done=group-muted"))
    })
    .await
}

/// `POST /groups/{id}/reopen`: opens the group again (and clears its regression mark).
pub async fn reopen(
    State(st): State<AppState>,
    Path(id): Path<String>,
    AdminForm { session, .. }: AdminForm<Confirm>,
) -> PageResult {
    let actor = crate::audit::Actor::User(session.username.clone());
    let id = parse_group_id(&id)?;
    act(&st, &session, id, move |st| {
        service::reopen(&st.db, id, &actor).map_err(|e| renamed(e, id))?;
        Ok(format!("/groups/{id}?done=group-reopened"))
    })
    .await
}

/// The service's "CrashGroup N was not found" in the page's words.
fn renamed(e: Error, id: GroupId) -> Error {
    match e {
        Error::NotFound(_) => not_found(id),
        other => other,
    }
}

/// The merge form: the group to merge into, and the confirmation.
#[derive(Deserialize)]
pub struct MergeForm {
    #[serde(default)]
    into: String,
    #[serde(default)]
    confirm: String,
}

/// Both groups of a merge of `from` into `into`, after the checks the page can explain:
/// a group number, not the same group, an existing group of the same model.
fn merge_pair(st: &AppState, from: GroupId, into: &str) -> Result<(Group, Group)> {
    let raw = into.trim().trim_start_matches('#');
    let into = raw.parse().map(GroupId).map_err(|_| {
        Error::Validation(if raw.is_empty() {
            "Give the number of the crash group to merge this one into.".into()
        } else {
            format!("{raw:?} is not a crash group number.")
        })
    })?;
    if into == from {
        return Err(Error::InvalidOperation(
            "A crash group cannot be merged into itself: give the number of another group.".into(),
        ));
    }
    let conn = st.db.conn()?;
    let a = groups::find(&conn, from)?.ok_or_else(|| not_found(from))?;
    let b = groups::find(&conn, into)?.ok_or_else(|| not_found(into))?;
    if a.model_id != b.model_id {
        return Err(Error::InvalidOperation(format!(
            "Crash group #{into} belongs to model {}, this one to model {}: only groups of one model can be merged.",
            b.model, a.model
        )));
    }
    Ok((a, b))
}

/// `POST /groups/{id}/merge` (`into`): merges this group into group `into`; asks first
/// (a confirmation page) unless `confirm=yes`.
pub async fn merge(
    State(st): State<AppState>,
    Path(id): Path<String>,
    AdminForm { session, form }: AdminForm<MergeForm>,
) -> PageResult {
    let actor = crate::audit::Actor::User(session.username.clone());
    let id = parse_group_id(&id)?;
    let confirmed = form.confirm == "yes";
    act(&st, &session, id, move |st| {
        let (_, into) = merge_pair(st, id, &form.into)?;
        if !confirmed {
            return Ok(format!("/groups/{id}/merge?into={}", into.id));
        }
        service::merge(&st.db, id, into.id, &actor)?;
        Ok(format!("/groups/{}?done=group-merged", into.id))
    })
    .await
}

/// Query of the merge confirmation page.
#[derive(Deserialize)]
pub struct MergeQuery {
    #[serde(default)]
    into: String,
}

/// `GET /groups/{id}/merge?into=N`: asks before merging.
pub async fn merge_confirm(
    State(st): State<AppState>,
    AdminPage(s): AdminPage,
    Path(id): Path<String>,
    Query(q): Query<MergeQuery>,
) -> PageResult {
    let id = parse_group_id(&id)?;
    let pair = st.blocking(move |st| merge_pair(st, id, &q.into)).await;
    let (a, b) = match pair {
        Ok(pair) => pair,
        Err(e) => return refused(&st, &s, id, PageError::from(e)).await,
    };
    render(&ConfirmPage {
        c: Chrome::new("Merge crash groups", &s, Nav::Home),
        heading: format!("Merge crash group #{} into #{}?", a.id, b.id),
        message: format!(
            "“{}” ({} dumps) joins “{}” ({} dumps): its stored dumps and lifetime counts move there, later dumps with its signature are counted in #{}, and group #{} is deleted. This cannot be undone.",
            a.title, a.count, b.title, b.count, b.id, a.id
        ),
        action: format!("/groups/{}/merge", a.id),
        button: "Merge",
        cancel: format!("/groups/{}", a.id),
        fields: vec![("into", b.id.to_string())],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_has_one_bar_per_day() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let chart = Chart::new(today, &[("2026-11-20".into(), 4), ("2026-11-22".into(), 1)]);
        assert_eq!(chart.bars.len(), 30);
        assert_eq!(chart.first_day(), "2026-10-24");
        assert_eq!(chart.last_day(), "2026-11-22");
        assert_eq!(chart.total, 5);
        assert_eq!(chart.busiest, Some(("2026-11-20".into(), 4)));
        let busy = &chart.bars[27];
        assert_eq!((busy.count, busy.height, busy.y), (4, 56, 4));
        assert_eq!(chart.bars[29].height, 14);
        assert_eq!(chart.bars[0].height, 1, "an empty day keeps a 1-unit bar");
        assert!(chart.bars.iter().all(|b| b.x + Chart::BAR <= Chart::WIDTH));
        assert!(Chart::new(today, &[]).busiest.is_none());
    }
}
