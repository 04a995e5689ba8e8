//! A release page: one firmware version of a model — devices on it now, devices seen and
//! crash-free devices over 7 days, its dumps, the crash groups it introduced (links), and two
//! server-rendered SVG charts of its last 30 days (devices seen on it per day, dumps from it per
//! day; the bar charts of the group page, no JavaScript).

use askama::Template;
use axum::extract::{Path, State};

use super::error::{PageError, PageResult};
use super::group::Chart;
use super::guard::AdminPage;
use super::layout::{Chrome, Nav, render, utc};
use crate::db::releases::NewGroup;
use crate::ids::ModelCode;
use crate::releases::{self, Release};
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "release.html")]
struct ReleasePage {
    c: Chrome,
    model: String,
    r: Release,
    uploaded: Option<(String, String)>,
    /// "98.5 %" or "—".
    crash_free: String,
    is_target: bool,
    devices_chart: Chart,
    dumps_chart: Chart,
    groups: Vec<NewGroup>,
}

impl ReleasePage {
    fn chart_width(&self) -> u32 {
        Chart::WIDTH
    }
    fn chart_height(&self) -> u32 {
        Chart::HEIGHT
    }
    fn bar_width(&self) -> u32 {
        Chart::BAR
    }
}

/// A share as a percentage with one decimal (`—` when unknown).
pub fn percent(share: Option<f64>) -> String {
    share
        .map(|s| format!("{:.1} %", s * 100.0))
        .unwrap_or_else(|| "—".into())
}

/// `GET /models/{code}/releases/{version}`.
pub async fn show(
    State(st): State<AppState>,
    AdminPage(s): AdminPage,
    Path((code, version)): Path<(String, String)>,
) -> PageResult {
    let code = ModelCode::parse(&code)
        .ok_or_else(|| PageError::not_found(format!("DeviceModel {code} was not found")))?;
    if version.chars().count() > 64 {
        return Err(PageError::not_found("Release was not found"));
    }
    let d = st
        .blocking(move |st| releases::detail(&st.db, code.as_str(), &version))
        .await?;
    let today = chrono::Utc::now().date_naive();
    let devices: Vec<(String, i64)> = d.days.iter().map(|x| (x.day.clone(), x.devices)).collect();
    let dumps: Vec<(String, i64)> = d.days.iter().map(|x| (x.day.clone(), x.dumps)).collect();
    render(&ReleasePage {
        c: Chrome::new(
            format!("{} {}", d.model, d.release.version),
            &s,
            Nav::Models,
        ),
        uploaded: d
            .release
            .uploaded_at
            .as_deref()
            .map(|t| (t.to_string(), utc(t))),
        crash_free: percent(d.release.crash_free_7d),
        is_target: d.is_target,
        devices_chart: Chart::new(today, &devices),
        dumps_chart: Chart::new(today, &dumps),
        groups: d.groups,
        model: d.model,
        r: d.release,
    })
}
