//! One dump: the crash summary when it is decoded (crashed task, panic reason, exception
//! cause, top frames with function and file:line), the full report with a copy button, its
//! metadata, and download, re-parse and delete. A `PENDING` dump reloads itself until it
//! settles.
//!
//! The summary reads the decoder's `analysis` JSON leniently (field by field), so a report
//! from an older or newer decoder still shows what it can.

use askama::Template;
use axum::extract::{Path, Query, State};
use serde_json::Value;

use super::confirm::ConfirmPage;
use super::confirm::DoneQuery;
use super::device::{REFRESH_SECS, recently};
use super::devices::parse_device_id;
use super::error::{PageError, PageResult};
use super::guard::{AdminForm, AdminPage, Confirm};
use super::layout::{Chrome, Nav, badge, render, see_other, size, utc};
use crate::coredump::manage;
use crate::db::coredumps::ParseStatus;
use crate::db::dashboard;
use crate::error::Error;
use crate::ids::{CoredumpId, DeviceId};
use crate::web::state::AppState;

/// Frames shown in the summary; the full report has all of them.
const TOP_FRAMES: usize = 8;

/// One frame of the crashed task in the summary.
pub struct FrameView {
    /// Program counter as `0x%08x`; empty when the analysis has none.
    pub pc: String,
    /// Function name; `??` when it was not symbolized.
    pub function: String,
    /// `file:line` (or `file`), `ROM` for a ROM frame, empty when unknown.
    pub location: String,
}

/// What the summary box shows.
#[derive(Default)]
pub struct Summary {
    /// The crashed task's name, or `TCB 0x…` when it has none; `None` when unknown.
    pub task: Option<String>,
    /// The panic reason text; `None` when the dump has none.
    pub reason: Option<String>,
    /// The exception cause as "Name (number)", "Name" or "cause N"; `None` when unknown.
    pub exception: Option<String>,
    /// The first frames of the crashed task (or of the first task when none is marked crashed).
    pub frames: Vec<FrameView>,
    /// Whether the decoder flagged the frames as unreliable (`frames_reliable: false`).
    pub unreliable: bool,
    /// The decoder's warnings.
    pub warnings: Vec<String>,
}

impl Summary {
    /// Whether there is nothing to show (no task, reason, exception or frames).
    pub fn is_empty(&self) -> bool {
        self.task.is_none()
            && self.reason.is_none()
            && self.exception.is_none()
            && self.frames.is_empty()
    }
}

fn text(v: &Value) -> Option<String> {
    v.as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Builds the summary from the stored analysis JSON.
pub fn summarize(analysis: &Value) -> Summary {
    let crashed = &analysis["crashed_task"];
    let task = text(&crashed["name"]).or_else(|| {
        crashed["tcb"]
            .as_u64()
            .map(|tcb| format!("TCB 0x{tcb:08x}"))
    });
    let exc = &analysis["exception"];
    let exception = match (text(&exc["cause_name"]), exc["cause"].as_u64()) {
        (Some(name), Some(n)) => Some(format!("{name} ({n})")),
        (Some(name), None) => Some(name),
        (None, Some(n)) => Some(format!("cause {n}")),
        (None, None) => None,
    };
    let tasks = analysis["tasks"].as_array();
    let crashed_task = tasks.and_then(|ts| {
        ts.iter()
            .find(|t| t["status"] == "crashed")
            .or_else(|| ts.first())
    });
    let frames = crashed_task
        .and_then(|t| t["frames"].as_array())
        .map(|fs| {
            fs.iter()
                .take(TOP_FRAMES)
                .map(|f| FrameView {
                    pc: f["pc"]
                        .as_u64()
                        .map(|pc| format!("0x{pc:08x}"))
                        .unwrap_or_default(),
                    function: text(&f["function"]).unwrap_or_else(|| "??".into()),
                    location: match (text(&f["file"]), f["line"].as_u64()) {
                        (Some(file), Some(line)) => format!("{file}:{line}"),
                        (Some(file), None) => file,
                        _ if f["rom"] == true => "ROM".into(),
                        _ => String::new(),
                    },
                })
                .collect()
        })
        .unwrap_or_default();
    Summary {
        task,
        reason: text(&analysis["panic_reason"]),
        exception,
        frames,
        unreliable: analysis["frames_reliable"] == false,
        warnings: analysis["warnings"]
            .as_array()
            .map(|w| w.iter().filter_map(text).collect())
            .unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "coredump.html")]
struct CoredumpPage {
    c: Chrome,
    device_id: i64,
    device_key: String,
    id: i64,
    filename: String,
    chip: String,
    firmware: String,
    size: String,
    size_bytes: i64,
    status: &'static str,
    status_class: &'static str,
    pending: bool,
    stuck: bool,
    uploaded_at: String,
    uploaded_utc: String,
    parsed_at: Option<(String, String)>,
    report: Option<String>,
    summary: Summary,
}

fn parse_ids(device: &str, id: &str) -> Result<(DeviceId, CoredumpId), PageError> {
    let device = parse_device_id(device)?;
    let id = id
        .parse()
        .map(CoredumpId)
        .map_err(|_| PageError::not_found(format!("Coredump {id} was not found")))?;
    Ok((device, id))
}

/// `GET /devices/{id}/coredumps/{cid}`: the dump page; reloads itself while a fresh dump is
/// `PENDING`.
pub async fn show(
    State(st): State<AppState>,
    AdminPage(s): AdminPage,
    Path((device, id)): Path<(String, String)>,
    Query(q): Query<DoneQuery>,
) -> PageResult {
    let (device_id, id) = parse_ids(&device, &id)?;
    let (dump, device_key) = st
        .blocking(move |st| {
            dashboard::find_dump(&*st.db.conn()?, device_id, id)?
                .ok_or_else(|| Error::not_found("Coredump", id))
        })
        .await?;
    let (status, status_class) = badge(dump.parse_status);
    let pending = dump.parse_status == ParseStatus::Pending;
    let settling = pending && recently(dump.updated_at);
    let summary = dump
        .analysis
        .as_deref()
        .and_then(|a| serde_json::from_str::<Value>(a).ok())
        .map(|a| summarize(&a))
        .unwrap_or_default();
    let mut c =
        Chrome::new(format!("Core dump #{id}"), &s, Nav::Devices).with_flash(q.done.as_deref());
    c.refresh = settling.then_some(REFRESH_SECS);
    render(&CoredumpPage {
        c,
        device_id: device_id.0,
        device_key: device_key.to_string(),
        id: id.0,
        chip: dump.chip,
        firmware: dump.firmware_version,
        size: size(dump.size),
        size_bytes: dump.size,
        status,
        status_class,
        pending,
        stuck: pending && !settling,
        uploaded_utc: utc(dump.uploaded_at),
        uploaded_at: dump.uploaded_at.to_string(),
        parsed_at: dump.parsed_at.map(|t| (t.to_string(), utc(t))),
        report: dump.parsed_output.filter(|r| !r.trim().is_empty()),
        filename: dump.filename,
        summary,
    })
}

/// Puts the dump back in the parse queue.
pub async fn reparse(
    State(st): State<AppState>,
    Path((device, id)): Path<(String, String)>,
    _form: AdminForm<Confirm>,
) -> PageResult {
    let (device_id, id) = parse_ids(&device, &id)?;
    st.blocking(move |st| crate::worker::reparse::reparse_one(&st.db, &st.jobs, device_id, id))
        .await?;
    Ok(see_other(&format!(
        "/devices/{device_id}/coredumps/{id}?done=reparse"
    )))
}

/// `GET /devices/{id}/coredumps/{cid}/delete`: asks before deleting a dump.
pub async fn delete_confirm(
    AdminPage(s): AdminPage,
    Path((device, id)): Path<(String, String)>,
) -> PageResult {
    let (device_id, id) = parse_ids(&device, &id)?;
    render(&ConfirmPage {
        c: Chrome::new("Delete core dump", &s, Nav::Devices),
        heading: "Delete Core Dump".into(),
        message: format!("Delete core dump #{id}? This action cannot be undone."),
        action: format!("/devices/{device_id}/coredumps/{id}/delete"),
        button: "Delete",
        cancel: format!("/devices/{device_id}/coredumps/{id}"),
    })
}

/// `POST /devices/{id}/coredumps/{cid}/delete`: deletes the dump (asks first unless `confirm=yes`).
pub async fn delete(
    State(st): State<AppState>,
    Path((device, id)): Path<(String, String)>,
    AdminForm { form, .. }: AdminForm<Confirm>,
) -> PageResult {
    let (device_id, id) = parse_ids(&device, &id)?;
    if !form.confirmed() {
        return Ok(see_other(&format!(
            "/devices/{device_id}/coredumps/{id}/delete"
        )));
    }
    st.blocking(move |st| manage::delete_one(&st.db, &st.layout, device_id, id))
        .await?;
    Ok(see_other(&format!(
        "/devices/{device_id}?done=dump-deleted"
    )))
}

#[cfg(test)]
mod tests {
    use super::summarize;

    #[test]
    fn summary_from_analysis() {
        let a = serde_json::json!({
            "crashed_task": {"tcb": 1070000000u32, "name": "main", "skipped": false},
            "panic_reason": "abort() was called",
            "exception": {"cause": 29, "cause_name": "StoreProhibited", "registers": []},
            "frames_reliable": true,
            "tasks": [{"status": "ok", "frames": []},
                      {"status": "crashed", "frames": [
                          {"pc": 0x400d1234u32, "function": "app_main", "file": "main.c", "line": 42, "rom": false},
                          {"pc": 0x40000400u32, "function": null, "file": null, "line": null, "rom": true}]}],
            "warnings": ["checksum mismatch"]
        });
        let s = summarize(&a);
        assert_eq!(s.task.as_deref(), Some("main"));
        assert_eq!(s.exception.as_deref(), Some("StoreProhibited (29)"));
        assert_eq!(s.frames.len(), 2);
        assert_eq!(s.frames[0].location, "main.c:42");
        assert_eq!(s.frames[0].pc, "0x400d1234");
        assert_eq!(s.frames[1].function, "??");
        assert_eq!(s.frames[1].location, "ROM");
        assert!(!s.unreliable);
        assert_eq!(s.warnings, vec!["checksum mismatch"]);
        assert!(summarize(&serde_json::json!({})).is_empty());
    }
}
