//! One dump: the crash summary when it is decoded (cause, crashed task, panic reason,
//! exception, top frames with the first in-app frame highlighted and ESP-IDF paths shortened),
//! why it is not decoded when it could not be, its crash group, the full report with a copy
//! button, its metadata, and download, re-parse and delete. A `PENDING` dump reloads itself
//! until it settles.
//!
//! The summary reads the decoder's `analysis` JSON leniently (field by field), so a report
//! from an older or newer decoder still shows what it can; the cause and the highlighted frame
//! come from the crash signature (`crate::groups::signature`) when the analysis can be signed.
//! The group page shows its latest sample with the same [`Summary`].

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
use super::views::{SOFTWARE_REASONS, reason_words, short_path};
use crate::coredump::manage;
use crate::db::coredumps::{ParseErrorKind, ParseStatus};
use crate::db::dashboard::{self, DumpContext};
use crate::decode::Analysis;
use crate::error::Error;
use crate::groups::signature::{self, Signature};
use crate::ids::{CoredumpId, DeviceId};
use crate::web::state::AppState;

/// Frames shown in the summary (more when the first in-app frame is further down); the full
/// report has all of them.
const TOP_FRAMES: usize = 8;

/// One frame of the crashed task in the summary.
pub struct FrameView {
    /// The frame's number in the crashed task's backtrace (0 = where it stopped).
    pub index: usize,
    /// Program counter as `0x%08x`; empty when the analysis has none.
    pub pc: String,
    /// Function name; `??` when it was not symbolized.
    pub function: String,
    /// Short `file:line` (`esp_system/panic.c:472`), `ROM` for a ROM frame, empty when unknown.
    pub location: String,
    /// The full `file:line` when `location` shortened it (shown on hover); else empty.
    pub full_location: String,
    /// The first frame in the firmware's own code (the signature's in-app top frame).
    pub app: bool,
    /// A frame above that one: the panic handler and library code it went through.
    pub plumbing: bool,
    /// How the decoder found the frame (`context`, `cfi`, `windowed`, `scan`, `tailcall`); empty for
    /// analyses stored before it was recorded.
    pub found_by: String,
    /// The function's arguments, then its locals (empty for analyses stored before the
    /// decoder evaluated them), shown in a `<details>` collapsed by default.
    pub vars: Vec<VarView>,
    /// How many of `vars` are arguments.
    pub arg_count: usize,
}

/// One argument or local of a frame.
pub struct VarView {
    /// `argument` or `local`.
    pub kind: &'static str,
    /// The variable's name.
    pub name: String,
    /// The C type, empty when unknown.
    pub type_name: String,
    /// gdb's text for the value (`<optimized out>` when it is gone).
    pub value: String,
    /// The value at function entry, when known and different (gdb's `name@entry`).
    pub entry_value: String,
}

/// The frame's `args` then `locals`, read leniently.
fn var_views(f: &Value) -> (Vec<VarView>, usize) {
    let list = |key: &str, kind: &'static str| -> Vec<VarView> {
        f[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| {
                        Some(VarView {
                            kind,
                            name: text(&v["name"])?,
                            type_name: text(&v["type_name"]).unwrap_or_default(),
                            value: text(&v["value"]).unwrap_or_default(),
                            entry_value: text(&v["entry_value"]).unwrap_or_default(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut vars = list("args", "argument");
    let n = vars.len();
    vars.extend(list("locals", "local"));
    (vars, n)
}

impl FrameView {
    /// Found by scanning the stack (a good guess, not a fact).
    pub fn scanned(&self) -> bool {
        self.found_by == "scan"
    }

    /// A function that tail-called the frame below it, rebuilt from the DWARF call sites.
    pub fn tail_call(&self) -> bool {
        self.found_by == "tailcall"
    }

    /// "2 arguments, 3 locals" for the `<details>` summary.
    pub fn vars_label(&self) -> String {
        let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
        let locals = self.vars.len() - self.arg_count;
        match (self.arg_count, locals) {
            (a, 0) => plural(a, "argument"),
            (0, l) => plural(l, "local"),
            (a, l) => format!("{}, {}", plural(a, "argument"), plural(l, "local")),
        }
    }
}

/// What the summary box shows.
#[derive(Default)]
pub struct Summary {
    /// The crashed task's name, or `TCB 0x…` when it has none; `None` when unknown.
    pub task: Option<String>,
    /// What stopped the program, from the crash signature's reason class in words
    /// (`abort() was called`, `Assertion failed`, `LoadProhibited`); `None` without a signature.
    pub cause: Option<String>,
    /// The panic reason text; `None` when the dump has none.
    pub reason: Option<String>,
    /// The exception cause as "Name (number)", "Name" or "cause N"; `None` when unknown.
    pub exception: Option<String>,
    /// The exception is the fault the panic path raises on purpose (an abort, assert, watchdog
    /// or stack-overflow panic), not the cause of the crash.
    pub exception_deliberate: bool,
    /// The first frames of the crashed task (or of the first task when none is marked crashed).
    pub frames: Vec<FrameView>,
    /// Frames of the crashed task not shown in the summary.
    pub more_frames: usize,
    /// Index of the highlighted first in-app frame, when there is one.
    pub app_frame: Option<usize>,
    /// Whether the decoder flagged the frames as unreliable (`frames_reliable: false`).
    pub unreliable: bool,
    /// The decoder's warnings.
    pub warnings: Vec<String>,
}

impl Summary {
    /// Whether there is nothing to show (no task, reason, exception or frames).
    pub fn is_empty(&self) -> bool {
        self.task.is_none()
            && self.cause.is_none()
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

/// The summary of a stored analysis (JSON) of a dump of model `model`: read leniently field
/// by field, with the crash signature (cause, first in-app frame) when the analysis is
/// complete enough to be signed. Unreadable JSON gives an empty summary.
pub fn summary_of(model: &str, analysis: &str) -> Summary {
    let Ok(value) = serde_json::from_str::<Value>(analysis) else {
        return Summary::default();
    };
    let signature = serde_json::from_str::<Analysis>(analysis)
        .ok()
        .and_then(|a| signature::from_analysis(model, &a));
    summarize(&value, signature.as_ref())
}

/// Builds the summary from the stored analysis JSON and, when the dump could be signed, its
/// signature (the cause and the in-app frame to highlight).
pub fn summarize(analysis: &Value, signature: Option<&Signature>) -> Summary {
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
    let reason = text(&analysis["panic_reason"]);
    // Without a signature: ESP-IDF writes a panic reason only for panics the program raised
    // itself (abort, assert, task watchdog), so the exception next to one is the panic path's.
    let exception_deliberate = exception.is_some()
        && match signature {
            Some(sig) => SOFTWARE_REASONS.contains(&sig.reason.as_str()),
            None => reason.is_some(),
        };
    let tasks = analysis["tasks"].as_array();
    let crashed_task = tasks.and_then(|ts| {
        ts.iter()
            .find(|t| t["status"] == "crashed")
            .or_else(|| ts.iter().find(|t| t["tcb"] == crashed["tcb"]))
            .or_else(|| ts.first())
    });
    let app_frame = signature.filter(|s| s.in_app).and_then(|s| s.top_frame);
    let all = crashed_task
        .and_then(|t| t["frames"].as_array())
        .map(Vec::as_slice)
        .unwrap_or_default();
    let shown = TOP_FRAMES
        .max(app_frame.map_or(0, |i| i + 3))
        .min(all.len());
    let frames = all[..shown]
        .iter()
        .enumerate()
        .map(|(index, f)| frame_view(index, f, app_frame))
        .collect();
    Summary {
        task,
        cause: signature.map(|s| reason_words(&s.reason)),
        reason,
        exception,
        exception_deliberate,
        frames,
        more_frames: all.len() - shown,
        app_frame,
        unreliable: analysis["frames_reliable"] == false,
        warnings: analysis["warnings"]
            .as_array()
            .map(|w| w.iter().filter_map(text).collect())
            .unwrap_or_default(),
    }
}

fn frame_view(index: usize, f: &Value, app_frame: Option<usize>) -> FrameView {
    let (vars, arg_count) = var_views(f);
    let (location, full_location) = match (text(&f["file"]), f["line"].as_u64()) {
        (Some(file), line) => {
            let line = line.map(|l| format!(":{l}")).unwrap_or_default();
            let short = format!("{}{line}", short_path(&file));
            let full = format!("{file}{line}");
            if short == full {
                (short, String::new())
            } else {
                (short, full)
            }
        }
        _ if f["rom"] == true => ("ROM".into(), String::new()),
        _ => (String::new(), String::new()),
    };
    FrameView {
        index,
        pc: f["pc"]
            .as_u64()
            .map(|pc| format!("0x{pc:08x}"))
            .unwrap_or_default(),
        function: text(&f["function"]).unwrap_or_else(|| "??".into()),
        location,
        full_location,
        app: app_frame == Some(index),
        plumbing: app_frame.is_some_and(|top| index < top),
        found_by: text(&f["found_by"]).unwrap_or_default(),
        vars,
        arg_count,
    }
}

/// Why a dump is not decoded, in plain words, with a link to what fixes it.
pub struct Undecoded {
    /// The explanation.
    pub text: String,
    /// A link that helps as (href, text), e.g. to the model's firmware upload.
    pub link: Option<(String, String)>,
}

/// What the dump page says about a dump that could not be decoded (`None` when it was, or is
/// still pending).
pub fn undecoded(ctx: &DumpContext) -> Option<Undecoded> {
    let d = &ctx.dump;
    if d.parse_status != ParseStatus::Error {
        return None;
    }
    let (model, version) = (&ctx.model, &d.firmware_version);
    let upload = Some((
        format!("/models/{model}"),
        format!("Upload firmware for {model}"),
    ));
    let (text, link) = match d.parse_error_kind {
        Some(ParseErrorKind::FirmwareMissing) => match ctx.firmware_has_elf {
            Some(false) => (
                format!(
                    "Firmware {version} of model {model} has no ELF file — upload its bundle with the app's .elf and this dump is decoded automatically."
                ),
                upload,
            ),
            _ => (
                format!(
                    "No firmware {version} for model {model} yet — upload it and this dump is decoded automatically."
                ),
                upload,
            ),
        },
        Some(ParseErrorKind::DumpUnreadable) => (
            "The stored dump file is missing or cannot be read, so it cannot be decoded. Ask the device to send it again, or delete this entry.".into(),
            None,
        ),
        Some(ParseErrorKind::DecodeFailed) => (
            "The decoder could not read this dump: it is damaged, cut short or not an ESP-IDF core dump. The report below says what it found.".into(),
            None,
        ),
        Some(ParseErrorKind::SidecarFailed) => (
            "The external parse sidecar failed on every attempt. Check that it is running, then use Re-parse.".into(),
            None,
        ),
        Some(ParseErrorKind::Interrupted) => (
            "Decoding this dump was interrupted again and again (the worker crashed or was stopped), so it was given up. Use Re-parse to try once more.".into(),
            None,
        ),
        None => (
            "This dump could not be decoded. The report below says why.".into(),
            None,
        ),
    };
    Some(Undecoded { text, link })
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
    undecoded: Option<Undecoded>,
    /// The dump's crash group as (id, title).
    group: Option<(i64, String)>,
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
    let ctx = st
        .blocking(move |st| {
            dashboard::find_dump(&*st.db.conn()?, device_id, id)?
                .ok_or_else(|| Error::not_found("Coredump", id))
        })
        .await?;
    let undecoded = undecoded(&ctx);
    let DumpContext {
        dump,
        device_key,
        model,
        group_title,
        ..
    } = ctx;
    let (status, status_class) = badge(dump.parse_status);
    let pending = dump.parse_status == ParseStatus::Pending;
    let settling = pending && recently(dump.updated_at);
    let summary = dump
        .analysis
        .as_deref()
        .map(|a| summary_of(model.as_str(), a))
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
        undecoded,
        group: dump
            .group_id
            .map(|g| (g.0, group_title.unwrap_or_default())),
    })
}

/// Puts the dump back in the parse queue.
pub async fn reparse(
    State(st): State<AppState>,
    Path((device, id)): Path<(String, String)>,
    _form: AdminForm<Confirm>,
) -> PageResult {
    let (device_id, id) = parse_ids(&device, &id)?;
    st.blocking(move |st| {
        crate::worker::reparse::reparse_one(&st.db, &st.layout, &st.jobs, device_id, id)
    })
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
        fields: Vec::new(),
    })
}

/// `POST /devices/{id}/coredumps/{cid}/delete`: deletes the dump (asks first unless `confirm=yes`).
pub async fn delete(
    State(st): State<AppState>,
    Path((device, id)): Path<(String, String)>,
    AdminForm { form, session }: AdminForm<Confirm>,
) -> PageResult {
    let actor = crate::audit::Actor::User(session.username.clone());
    let (device_id, id) = parse_ids(&device, &id)?;
    if !form.confirmed() {
        return Ok(see_other(&format!(
            "/devices/{device_id}/coredumps/{id}/delete"
        )));
    }
    st.blocking(move |st| manage::delete_one(&st.db, &st.layout, device_id, id, &actor))
        .await?;
    Ok(see_other(&format!(
        "/devices/{device_id}?done=dump-deleted"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanned_and_tail_call_frames_are_told_apart() {
        let a = serde_json::json!({
            "tasks": [{"status": "crashed", "frames": [
                {"pc": 0x42000090u32, "function": "c", "found_by": "context"},
                {"pc": 0x42000060u32, "function": "b", "found_by": "tailcall"},
                {"pc": 0x42000010u32, "function": "a", "found_by": "scan"}]}]
        });
        let s = summarize(&a, None);
        let kinds: Vec<(bool, bool)> = s
            .frames
            .iter()
            .map(|f| (f.tail_call(), f.scanned()))
            .collect();
        assert_eq!(kinds, [(false, false), (true, false), (false, true)]);
    }

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
        let s = summarize(&a, None);
        assert_eq!(s.task.as_deref(), Some("main"));
        assert_eq!(s.exception.as_deref(), Some("StoreProhibited (29)"));
        assert_eq!(s.frames.len(), 2);
        assert_eq!(s.frames[0].location, "main.c:42");
        assert_eq!(s.frames[0].full_location, "");
        assert_eq!(s.frames[0].pc, "0x400d1234");
        assert_eq!(s.frames[1].function, "??");
        assert_eq!(s.frames[1].location, "ROM");
        assert!(!s.unreliable);
        assert_eq!(s.warnings, vec!["checksum mismatch"]);
        assert!(summarize(&serde_json::json!({}), None).is_empty());
    }

    #[test]
    fn the_signature_names_the_cause_and_the_in_app_frame() {
        let frame = |f: &str, file: &str, line: u32| serde_json::json!({"pc": 0x4200_0000u32, "function": f, "file": file, "line": line});
        let a = serde_json::json!({
            "panic_reason": "abort() was called at PC 0x42009351 on core 0",
            "exception": {"cause": 7, "cause_name": "Store access fault"},
            "tasks": [{"status": "crashed", "frames": [
                frame("panic_abort", "/builds/espressif/esp-idf/components/esp_system/panic.c", 472),
                frame("abort", "/builds/espressif/esp-idf/components/newlib/abort.c", 38),
                frame("fail_once", "/home/me/app/main/main.c", 14),
            ]}]
        });
        let sig = Signature {
            hash: "v1:00".into(),
            reason: "abort".into(),
            frames: vec!["fail_once".into()],
            in_app: true,
            title: "abort() in fail_once (main.c:14)".into(),
            top_frame: Some(2),
        };
        let s = summarize(&a, Some(&sig));
        assert_eq!(s.cause.as_deref(), Some("abort() was called"));
        assert!(
            s.exception_deliberate,
            "the fault panic_abort raises is not the cause"
        );
        assert_eq!(s.app_frame, Some(2));
        assert!(s.frames[2].app && !s.frames[2].plumbing);
        assert!(s.frames[0].plumbing && s.frames[1].plumbing);
        assert_eq!(s.frames[0].location, "esp_system/panic.c:472");
        assert_eq!(
            s.frames[0].full_location,
            "/builds/espressif/esp-idf/components/esp_system/panic.c:472"
        );
        assert_eq!(s.frames[2].location, "main/main.c:14");

        // An exception that is the cause stays the cause.
        let fault = Signature {
            reason: "LoadProhibited".into(),
            ..sig.clone()
        };
        let s = summarize(&a, Some(&fault));
        assert!(!s.exception_deliberate);
        // No in-app frame: nothing is highlighted.
        let library = Signature {
            in_app: false,
            ..sig
        };
        let s = summarize(&a, Some(&library));
        assert!(s.app_frame.is_none() && s.frames.iter().all(|f| !f.app && !f.plumbing));
    }
}
