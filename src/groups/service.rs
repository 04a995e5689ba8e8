//! The crash-group operations behind the API, the CLI and the dashboard: list, detail,
//! resolve / mute / reopen, merge, and rebuild (re-sign every stored dump).

use serde::Serialize;
use serde_json::json;

use super::assign::{Assigned, assign};
use super::signature::{self, Signature};
use crate::audit::{self, Actor};
use crate::db::groups::{self, DumpFacts, Filter, Group, GroupDevice, GroupStatus, Sort};
use crate::db::{Db, DbError, Page, models};
use crate::decode::Analysis;
use crate::error::{Error, Result};
use crate::ids::{CoredumpId, DeviceId, GroupId};

/// Most groups one list returns.
pub const MAX_LIST: i64 = 1000;

/// The signature of a decoded dump: from the built-in decoder's analysis when it can be
/// symbolized, else from a sidecar's report text (gdb's `CURRENT THREAD STACK`).
pub fn sign(model: &str, analysis: Option<&Analysis>, report: Option<&str>) -> Option<Signature> {
    analysis
        .and_then(|a| signature::from_analysis(model, a))
        .or_else(|| report.and_then(|t| signature::from_report_text(model, t)))
}

/// What grouping one dump did.
#[derive(Debug, Clone, Copy)]
pub struct Grouped {
    /// Its group and whether it was created or regressed.
    pub assigned: Assigned,
    /// A notification was queued in the same transaction (wake the sender after the commit).
    pub notified: bool,
}

/// Groups one decoded dump inside the caller's transaction (the parse job's result commit) and,
/// when it created or reopened a group, queues the notification event and (a canary device on
/// the canary version) halts the canary in the same transaction. `None` when the dump is gone or cannot be signed yet (no symbols).
pub fn group_dump(
    tx: &rusqlite::Connection,
    id: CoredumpId,
    analysis: Option<&Analysis>,
    report: Option<&str>,
) -> Result<Option<Grouped>, DbError> {
    let Some(facts) = groups::dump_facts(tx, id)? else {
        return Ok(None);
    };
    let before = groups::dump_group(tx, id)?;
    let Some(assigned) = regroup(tx, &facts, analysis, report)? else {
        return Ok(None);
    };
    // A re-parse that keeps the dump in its group is not news.
    let mut notified =
        before != Some(assigned.group) && crate::notify::emit_for_group(tx, &facts, &assigned)?;
    // A new (or regressed) group from a canary device on the canary version halts the canary.
    if before != Some(assigned.group)
        && let Some(h) = crate::rollout::halt::on_grouped(tx, &facts, &assigned)?
    {
        notified |= h.notified;
    }
    Ok(Some(Grouped { assigned, notified }))
}

/// Lists groups: optionally one model (by code) and one status.
pub fn list(
    db: &Db,
    model: Option<&str>,
    status: Option<GroupStatus>,
    sort: Sort,
    limit: i64,
    offset: i64,
) -> Result<Page<Group>> {
    let conn = db.conn()?;
    let model = match model {
        Some(code) => Some(
            models::find_by_code(&conn, code)?
                .ok_or_else(|| Error::not_found("DeviceModel", code))?
                .id,
        ),
        None => None,
    };
    let filter = Filter {
        model,
        status,
        sort,
        limit: limit.clamp(1, MAX_LIST),
        offset: offset.max(0),
    };
    Ok(groups::list(&conn, &filter)?)
}

/// A group with its versions, devices and newest stored dump.
#[derive(Debug, Clone)]
pub struct Detail {
    /// The group.
    pub group: Group,
    /// Dumps per firmware version (lifetime), most first.
    pub versions: Vec<VersionCount>,
    /// Devices (lifetime), most dumps first.
    pub device_list: Vec<GroupDevice>,
    /// Distinct devices (lifetime).
    pub device_count: i64,
    /// Dumps of the group stored now (lifetime `count` minus deleted ones).
    pub stored_dumps: i64,
    /// The newest stored dump.
    pub latest_coredump_id: Option<CoredumpId>,
    /// The device of that dump.
    pub latest_device_id: Option<DeviceId>,
}

impl Detail {
    /// The API form: the group's fields, with `devices` the device list (its count is
    /// `device_count`), plus `versions`, `stored_dumps` and `latest_coredump_id`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(&self.group).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("devices".into(), serde_json::json!(self.device_list));
            o.insert("device_count".into(), self.device_count.into());
            o.insert("versions".into(), serde_json::json!(self.versions));
            o.insert("stored_dumps".into(), self.stored_dumps.into());
            o.insert(
                "latest_coredump_id".into(),
                serde_json::json!(self.latest_coredump_id),
            );
            o.insert(
                "latest_device_id".into(),
                serde_json::json!(self.latest_device_id),
            );
        }
        v
    }
}

/// Dumps of one firmware version.
#[derive(Debug, Clone, Serialize)]
pub struct VersionCount {
    /// The version as devices reported it.
    pub version: String,
    /// Dumps from it (lifetime).
    pub count: i64,
}

/// One group in full, or `NotFound`.
pub fn detail(db: &Db, id: GroupId) -> Result<Detail> {
    let conn = db.conn()?;
    let group = groups::find(&conn, id)?.ok_or_else(|| Error::not_found("CrashGroup", id))?;
    let versions = groups::versions(&conn, id)?
        .into_iter()
        .map(|(version, count)| VersionCount { version, count })
        .collect();
    let device_list = groups::devices(&conn, id)?;
    let latest = groups::stored_dumps(&conn, id, 1)?.into_iter().next();
    Ok(Detail {
        device_count: group.devices,
        stored_dumps: groups::stored_count(&conn, id)?,
        latest_coredump_id: latest.map(|l| l.0),
        latest_device_id: latest.map(|l| l.1),
        group,
        versions,
        device_list,
    })
}

/// Marks a group fixed in `version` (default: its model's current firmware version).
pub fn resolve(db: &Db, id: GroupId, version: Option<&str>, actor: &Actor) -> Result<Group> {
    let conn = db.conn()?;
    let group = groups::find(&conn, id)?.ok_or_else(|| Error::not_found("CrashGroup", id))?;
    let version = match version.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => {
            crate::ids::check_device_field("version", v).map_err(Error::Validation)?;
            v.to_string()
        }
        None => models::find(&conn, group.model_id)?
            .and_then(|m| m.firmware_version)
            .map(|v| v.to_string())
            .ok_or_else(|| {
                Error::InvalidOperation(format!(
                    "Cannot resolve crash group {id} because model {} has no firmware version yet; give the version it is fixed in",
                    group.model
                ))
            })?,
    };
    drop(conn);
    set_status(db, id, GroupStatus::Resolved, Some(&version), actor)
}

/// Mutes a group: still counted, never reopened or notified.
pub fn mute(db: &Db, id: GroupId, actor: &Actor) -> Result<Group> {
    set_status(db, id, GroupStatus::Muted, None, actor)
}

/// Opens a group again (clears the regression mark).
pub fn reopen(db: &Db, id: GroupId, actor: &Actor) -> Result<Group> {
    set_status(db, id, GroupStatus::Open, None, actor)
}

fn set_status(
    db: &Db,
    id: GroupId,
    status: GroupStatus,
    resolved_in: Option<&str>,
    actor: &Actor,
) -> Result<Group> {
    db.write(|tx| {
        if !groups::set_status(tx, id, status, resolved_in, false)? {
            return Err(Error::not_found("CrashGroup", id));
        }
        let group = groups::find(tx, id)?.ok_or_else(|| Error::not_found("CrashGroup", id))?;
        let action = match status {
            GroupStatus::Resolved => "group.resolve",
            GroupStatus::Muted => "group.mute",
            GroupStatus::Open => "group.reopen",
        };
        let mut detail = json!({"model": group.model, "title": group.title});
        if let Some(v) = resolved_in {
            detail["version"] = json!(v);
        }
        audit::record(tx, actor, action, &format!("group:{id}"), detail)?;
        Ok(group)
    })
}

/// Merges group `from` into `into` (same model): future dumps of `from`'s signatures join
/// `into`, and its stored dumps and lifetime counts move there.
pub fn merge(db: &Db, from: GroupId, into: GroupId, actor: &Actor) -> Result<Group> {
    if from == into {
        return Err(Error::InvalidOperation(
            "Cannot merge crash group because it would merge into itself".into(),
        ));
    }
    db.write(|tx| {
        let a = groups::find(tx, from)?.ok_or_else(|| Error::not_found("CrashGroup", from))?;
        let b = groups::find(tx, into)?.ok_or_else(|| Error::not_found("CrashGroup", into))?;
        if a.model_id != b.model_id {
            return Err(Error::InvalidOperation(format!(
                "Cannot merge crash group {from} because it belongs to model {} and group {into} to model {}",
                a.model, b.model
            )));
        }
        groups::merge(tx, from, into)?;
        audit::record(
            tx,
            actor,
            "group.merge",
            &format!("group:{into}"),
            json!({"model": b.model, "merged": from.0, "merged_title": a.title}),
        )?;
        groups::find(tx, into)?.ok_or_else(|| Error::not_found("CrashGroup", into))
    })
}

/// What a rebuild did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Rebuilt {
    /// Decoded dumps looked at.
    pub dumps: usize,
    /// Dumps that have a group now.
    pub grouped: usize,
    /// Dumps that changed group.
    pub moved: usize,
    /// Groups created.
    pub created: usize,
}

/// Signs every decoded dump again (after a signature algorithm change) and moves each to the
/// group its signature now leads to; groups keep their lifetime history.
pub fn rebuild(db: &Db) -> Result<Rebuilt> {
    const BATCH: i64 = 500;
    let mut done = Rebuilt::default();
    let mut after = CoredumpId(0);
    loop {
        let batch = groups::decoded_after(&*db.conn()?, after, BATCH)?;
        let Some(last) = batch.last() else { break };
        after = last.0.id;
        db.write(|tx| -> Result<()> {
            for (facts, analysis, report) in &batch {
                done.dumps += 1;
                let analysis: Option<Analysis> = analysis
                    .as_deref()
                    .and_then(|a| serde_json::from_str(a).ok());
                if let Some(a) = regroup(tx, facts, analysis.as_ref(), report.as_deref())? {
                    done.grouped += 1;
                    done.moved += usize::from(a.moved_from.is_some());
                    done.created += usize::from(a.created);
                }
            }
            Ok(())
        })?;
    }
    Ok(done)
}

fn regroup(
    tx: &rusqlite::Connection,
    facts: &DumpFacts,
    analysis: Option<&Analysis>,
    report: Option<&str>,
) -> Result<Option<Assigned>, DbError> {
    match sign(facts.model_code.as_str(), analysis, report) {
        Some(sig) => assign(tx, facts, &sig),
        None => Ok(None),
    }
}
