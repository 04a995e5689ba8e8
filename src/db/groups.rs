//! `crash_groups` and its side tables: one row per distinct bug of a model, the signatures
//! that lead to it, and lifetime tallies per device and per firmware version. The rules
//! (which group a dump joins, when a group reopens) are in `crate::groups`; this file only
//! reads and writes rows.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use super::{DbError, now};
use crate::ids::{CoredumpId, DeviceId, GroupId, ModelCode, ModelId, Timestamp};

/// Where a group stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupStatus {
    /// Needs attention.
    Open,
    /// Fixed in `resolved_in_version`; a dump from a newer version reopens it.
    Resolved,
    /// Ignored: counted, never reopened, never notified.
    Muted,
}

impl GroupStatus {
    /// The stored (and API) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupStatus::Open => "open",
            GroupStatus::Resolved => "resolved",
            GroupStatus::Muted => "muted",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<GroupStatus> {
        match s {
            "open" => Some(GroupStatus::Open),
            "resolved" => Some(GroupStatus::Resolved),
            "muted" => Some(GroupStatus::Muted),
            _ => None,
        }
    }
}

super::sql_enum!(GroupStatus);

/// A crash group with its model code and lifetime tallies.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    /// The group's row id.
    pub id: GroupId,
    /// Row id of its model.
    #[serde(skip)]
    pub model_id: ModelId,
    /// Code of its model.
    pub model: ModelCode,
    /// Reason class and top in-app frame, e.g. `abort() in fail_once (main.c:14)`.
    pub title: String,
    /// The signature the group was created with (`v1:<sha256 hex>`).
    pub signature: String,
    /// The reason class hashed into the signature.
    pub reason: String,
    /// The function names hashed into the signature ("why grouped").
    pub frames: Vec<String>,
    /// Open, resolved or muted.
    pub status: GroupStatus,
    /// Reopened by a dump from a version newer than the one it was resolved in.
    pub regressed: bool,
    /// Dumps ever grouped here (deleted ones included).
    pub count: i64,
    /// Distinct devices that ever sent a dump of this group.
    pub devices: i64,
    /// Upload time of the first dump.
    pub first_seen: Timestamp,
    /// Upload time of the newest dump.
    pub last_seen: Timestamp,
    /// Firmware version of the first dump.
    pub first_version: String,
    /// Firmware version of the newest dump.
    pub last_version: String,
    /// The version it was resolved in (set while resolved, kept after a regression).
    pub resolved_in_version: Option<String>,
}

const SELECT: &str = "SELECT g.id, g.device_model_id, m.code, g.title, g.signature, g.reason,
        g.frames, g.status, g.regressed, g.count, g.devices,
        g.first_seen, g.last_seen, g.first_version, g.last_version, g.resolved_in_version
     FROM crash_groups g JOIN device_models m ON m.id = g.device_model_id";

fn from_row(r: &Row) -> rusqlite::Result<Group> {
    let frames: String = r.get(6)?;
    Ok(Group {
        id: r.get(0)?,
        model_id: r.get(1)?,
        model: r.get(2)?,
        title: r.get(3)?,
        signature: r.get(4)?,
        reason: r.get(5)?,
        frames: serde_json::from_str(&frames).unwrap_or_default(),
        status: r.get(7)?,
        regressed: r.get(8)?,
        count: r.get(9)?,
        devices: r.get(10)?,
        first_seen: r.get(11)?,
        last_seen: r.get(12)?,
        first_version: r.get(13)?,
        last_version: r.get(14)?,
        resolved_in_version: r.get(15)?,
    })
}

/// One group.
pub fn find(conn: &Connection, id: GroupId) -> Result<Option<Group>, DbError> {
    Ok(conn
        .query_row(&format!("{SELECT} WHERE g.id = ?1"), [id], from_row)
        .optional()?)
}

/// How a group list is ordered (newest, biggest or widest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Newest dump first.
    #[default]
    LastSeen,
    /// Most dumps first.
    Count,
    /// Most devices first.
    Devices,
}

impl Sort {
    /// Parses `last_seen`, `count` or `devices`.
    pub fn parse(s: &str) -> Option<Sort> {
        match s {
            "last_seen" => Some(Sort::LastSeen),
            "count" => Some(Sort::Count),
            "devices" => Some(Sort::Devices),
            _ => None,
        }
    }

    /// The spelling `parse` reads.
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::LastSeen => "last_seen",
            Sort::Count => "count",
            Sort::Devices => "devices",
        }
    }

    fn order_by(self) -> &'static str {
        match self {
            Sort::LastSeen => "g.last_seen DESC, g.id DESC",
            Sort::Count => "g.count DESC, g.last_seen DESC, g.id DESC",
            Sort::Devices => "g.devices DESC, g.last_seen DESC, g.id DESC",
        }
    }
}

/// Which groups a list shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this model.
    pub model: Option<ModelId>,
    /// Only this status.
    pub status: Option<GroupStatus>,
    /// Order.
    pub sort: Sort,
    /// Rows at most.
    pub limit: i64,
    /// Rows skipped.
    pub offset: i64,
}

/// A page of groups and how many match. Open groups come first, regressions first among them,
/// then the chosen order.
pub fn list(conn: &Connection, f: &Filter) -> Result<super::Page<Group>, DbError> {
    let filter = "(?1 IS NULL OR g.device_model_id = ?1) AND (?2 IS NULL OR g.status = ?2)";
    let sql = format!(
        "{SELECT} WHERE {filter}
         ORDER BY g.status = 'open' DESC, g.regressed DESC, {} LIMIT ?3 OFFSET ?4",
        f.sort.order_by()
    );
    let rows = conn
        .prepare_cached(&sql)?
        .query_map(params![f.model, f.status, f.limit, f.offset], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    let total = conn.query_row(
        &format!("SELECT COUNT(*) FROM crash_groups g WHERE {filter}"),
        params![f.model, f.status],
        |r| r.get(0),
    )?;
    Ok(super::Page { rows, total })
}

/// The group a signature of a model leads to (after merges).
pub fn for_signature(
    conn: &Connection,
    model: ModelId,
    signature: &str,
) -> Result<Option<GroupId>, DbError> {
    Ok(conn
        .query_row(
            "SELECT group_id FROM crash_group_signatures
             WHERE device_model_id = ?1 AND signature = ?2",
            params![model, signature],
            |r| r.get(0),
        )
        .optional()?)
}

/// What a new group is made of.
pub struct NewGroup<'a> {
    /// Its model.
    pub model: ModelId,
    /// The signature that created it.
    pub signature: &'a str,
    /// Its title.
    pub title: &'a str,
    /// Its reason class.
    pub reason: &'a str,
    /// The hashed function names.
    pub frames: &'a [String],
    /// Upload time of its first dump.
    pub seen: Timestamp,
    /// Firmware version of its first dump.
    pub version: &'a str,
}

/// Creates an open group with no dumps counted yet, and maps its signature to it.
pub fn create(conn: &Connection, g: &NewGroup) -> Result<GroupId, DbError> {
    let frames = serde_json::to_string(g.frames).unwrap_or_else(|_| "[]".into());
    let ts = now();
    conn.execute(
        "INSERT INTO crash_groups (device_model_id, signature, title, reason, frames,
             first_seen, last_seen, first_version, last_version, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?7, ?8, ?8)",
        params![
            g.model,
            g.signature,
            g.title,
            g.reason,
            frames,
            g.seen,
            g.version,
            ts
        ],
    )?;
    let id = GroupId(conn.last_insert_rowid());
    conn.execute(
        "INSERT OR REPLACE INTO crash_group_signatures (device_model_id, signature, group_id)
         VALUES (?1, ?2, ?3)",
        params![g.model, g.signature, id],
    )?;
    Ok(id)
}

/// One dump as the tallies see it.
pub struct Counted<'a> {
    /// The device that sent it.
    pub device: DeviceId,
    /// That device's key (kept for the device list after the device is deleted).
    pub device_key: &'a str,
    /// The firmware version it was reported with.
    pub version: &'a str,
    /// When it was uploaded.
    pub seen: Timestamp,
}

/// Counts one more dump in the group: count, first/last seen and version, device and
/// version tallies.
pub fn count_dump(conn: &Connection, group: GroupId, d: &Counted) -> Result<(), DbError> {
    let device_dumps: i64 = conn.query_row(
        "INSERT INTO crash_group_devices (group_id, device_id, device_key, count, last_seen)
         VALUES (?1, ?2, ?3, 1, ?4)
         ON CONFLICT (group_id, device_id) DO UPDATE SET count = count + 1,
             last_seen = MAX(last_seen, excluded.last_seen)
         RETURNING count",
        params![group, d.device, d.device_key, d.seen],
        |r| r.get(0),
    )?;
    conn.execute(
        "UPDATE crash_groups SET count = count + 1, devices = devices + ?5,
             first_version = CASE WHEN ?2 < first_seen THEN ?3 ELSE first_version END,
             first_seen = MIN(first_seen, ?2),
             last_version = CASE WHEN ?2 >= last_seen THEN ?3 ELSE last_version END,
             last_seen = MAX(last_seen, ?2),
             updated_at = ?4
         WHERE id = ?1",
        params![
            group,
            d.seen,
            d.version,
            now(),
            i64::from(device_dumps == 1)
        ],
    )?;
    conn.execute(
        "INSERT INTO crash_group_versions (group_id, version, count) VALUES (?1, ?2, 1)
         ON CONFLICT (group_id, version) DO UPDATE SET count = count + 1",
        params![group, d.version],
    )?;
    Ok(())
}

/// Takes one dump back out of the group's tallies (the dump moved to another group).
pub fn uncount_dump(conn: &Connection, group: GroupId, d: &Counted) -> Result<(), DbError> {
    conn.execute(
        "UPDATE crash_group_devices SET count = count - 1 WHERE group_id = ?1 AND device_id = ?2",
        params![group, d.device],
    )?;
    conn.execute(
        "UPDATE crash_group_versions SET count = count - 1 WHERE group_id = ?1 AND version = ?2",
        params![group, d.version],
    )?;
    let gone = conn.execute(
        "DELETE FROM crash_group_devices WHERE group_id = ?1 AND count <= 0",
        [group],
    )?;
    conn.execute(
        "DELETE FROM crash_group_versions WHERE group_id = ?1 AND count <= 0",
        [group],
    )?;
    conn.execute(
        "UPDATE crash_groups SET count = MAX(count - 1, 0), devices = MAX(devices - ?3, 0),
             updated_at = ?2
         WHERE id = ?1",
        params![group, now(), gone as i64],
    )?;
    Ok(())
}

/// The group a dump is counted in (`None` when ungrouped or gone).
pub fn dump_group(conn: &Connection, dump: CoredumpId) -> Result<Option<GroupId>, DbError> {
    Ok(conn
        .query_row(
            "SELECT group_id FROM coredumps WHERE id = ?1",
            [dump],
            |r| r.get(0),
        )
        .optional()?
        .flatten())
}

/// Records the group and signature of a dump.
pub fn set_dump_group(
    conn: &Connection,
    dump: CoredumpId,
    group: Option<GroupId>,
    signature: Option<&str>,
) -> Result<(), DbError> {
    conn.execute(
        "UPDATE coredumps SET group_id = ?2, signature = ?3 WHERE id = ?1",
        params![dump, group, signature],
    )?;
    Ok(())
}

/// Sets a group's status. `resolved_in` is kept when `None` is given for a reopen (so a
/// regression still says which fix it broke); `regressed` is set as given.
pub fn set_status(
    conn: &Connection,
    id: GroupId,
    status: GroupStatus,
    resolved_in: Option<&str>,
    regressed: bool,
) -> Result<bool, DbError> {
    let ts = now();
    Ok(conn.execute(
        "UPDATE crash_groups SET status = ?2,
             resolved_in_version = COALESCE(?3, resolved_in_version),
             resolved_at = CASE WHEN ?2 = 'resolved' THEN ?5 ELSE resolved_at END,
             regressed = ?4, updated_at = ?5
         WHERE id = ?1",
        params![id, status, resolved_in, regressed, ts],
    )? > 0)
}

/// Moves everything of group `from` into `into` (same model): its signatures (so future
/// dumps follow), its stored dumps and its lifetime tallies; then deletes `from`.
pub fn merge(conn: &Connection, from: GroupId, into: GroupId) -> Result<(), DbError> {
    conn.execute(
        "UPDATE crash_group_signatures SET group_id = ?2 WHERE group_id = ?1",
        params![from, into],
    )?;
    conn.execute(
        "UPDATE coredumps SET group_id = ?2 WHERE group_id = ?1",
        params![from, into],
    )?;
    conn.execute(
        "INSERT INTO crash_group_devices (group_id, device_id, device_key, count, last_seen)
         SELECT ?2, device_id, device_key, count, last_seen FROM crash_group_devices
         WHERE group_id = ?1 AND true
         ON CONFLICT (group_id, device_id) DO UPDATE SET count = count + excluded.count,
             last_seen = MAX(last_seen, excluded.last_seen)",
        params![from, into],
    )?;
    conn.execute(
        "INSERT INTO crash_group_versions (group_id, version, count)
         SELECT ?2, version, count FROM crash_group_versions WHERE group_id = ?1 AND true
         ON CONFLICT (group_id, version) DO UPDATE SET count = count + excluded.count",
        params![from, into],
    )?;
    conn.execute(
        "UPDATE crash_groups SET
             count = crash_groups.count + f.count,
             first_version = CASE WHEN f.first_seen < crash_groups.first_seen
                 THEN f.first_version ELSE crash_groups.first_version END,
             first_seen = MIN(crash_groups.first_seen, f.first_seen),
             last_version = CASE WHEN f.last_seen > crash_groups.last_seen
                 THEN f.last_version ELSE crash_groups.last_version END,
             last_seen = MAX(crash_groups.last_seen, f.last_seen),
             devices = (SELECT COUNT(*) FROM crash_group_devices d WHERE d.group_id = ?2),
             updated_at = ?3
         FROM (SELECT count, first_seen, first_version, last_seen, last_version
               FROM crash_groups WHERE id = ?1) AS f
         WHERE crash_groups.id = ?2",
        params![from, into, now()],
    )?;
    conn.execute("DELETE FROM crash_groups WHERE id = ?1", [from])?;
    Ok(())
}

/// Dumps per firmware version (lifetime), most first.
pub fn versions(conn: &Connection, id: GroupId) -> Result<Vec<(String, i64)>, DbError> {
    let rows = conn
        .prepare_cached(
            "SELECT version, count FROM crash_group_versions WHERE group_id = ?1
             ORDER BY count DESC, version DESC",
        )?
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// A device's share of a group (lifetime).
#[derive(Debug, Clone, Serialize)]
pub struct GroupDevice {
    /// The device's row id (it may have been deleted since).
    pub id: DeviceId,
    /// Its key.
    pub key: String,
    /// Its dumps in this group.
    pub count: i64,
    /// Upload time of its newest dump in this group.
    pub last_seen: Timestamp,
}

/// The devices of a group, most dumps first.
pub fn devices(conn: &Connection, id: GroupId) -> Result<Vec<GroupDevice>, DbError> {
    let rows = conn
        .prepare_cached(
            "SELECT device_id, device_key, count, last_seen FROM crash_group_devices
             WHERE group_id = ?1 ORDER BY count DESC, last_seen DESC",
        )?
        .query_map([id], |r| {
            Ok(GroupDevice {
                id: r.get(0)?,
                key: r.get(1)?,
                count: r.get(2)?,
                last_seen: r.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// The stored dumps of a group, newest first: (dump id, device id).
pub fn stored_dumps(
    conn: &Connection,
    id: GroupId,
    limit: i64,
) -> Result<Vec<(CoredumpId, DeviceId)>, DbError> {
    let rows = conn
        .prepare_cached(
            "SELECT id, device_id FROM coredumps WHERE group_id = ?1
             ORDER BY uploaded_at DESC, id DESC LIMIT ?2",
        )?
        .query_map(params![id, limit], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// How many dumps of the group are stored now.
pub fn stored_count(conn: &Connection, id: GroupId) -> Result<i64, DbError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM coredumps WHERE group_id = ?1",
        [id],
        |r| r.get(0),
    )?)
}

/// A dump as grouping sees it.
#[derive(Debug, Clone)]
pub struct DumpFacts {
    /// The dump.
    pub id: CoredumpId,
    /// Its device.
    pub device: DeviceId,
    /// Its device's key.
    pub device_key: String,
    /// Its device's model.
    pub model: ModelId,
    /// That model's code.
    pub model_code: ModelCode,
    /// The firmware version it was reported with.
    pub version: String,
    /// When it was uploaded.
    pub uploaded_at: Timestamp,
}

const FACTS: &str = "SELECT c.id, c.device_id, d.key, d.device_model_id, m.code,
        c.firmware_version, c.uploaded_at, c.analysis, c.parse_status, c.parsed_output
     FROM coredumps c JOIN devices d ON d.id = c.device_id
     JOIN device_models m ON m.id = d.device_model_id";

fn facts_row(r: &Row) -> rusqlite::Result<DumpFacts> {
    Ok(DumpFacts {
        id: r.get(0)?,
        device: r.get(1)?,
        device_key: r.get(2)?,
        model: r.get(3)?,
        model_code: r.get(4)?,
        version: r.get(5)?,
        uploaded_at: r.get(6)?,
    })
}

/// The facts of one dump.
pub fn dump_facts(conn: &Connection, id: CoredumpId) -> Result<Option<DumpFacts>, DbError> {
    Ok(conn
        .query_row(&format!("{FACTS} WHERE c.id = ?1"), [id], facts_row)
        .optional()?)
}

/// A decoded dump with its analysis (JSON) and, when `PARSED`, its report text.
pub type Decoded = (DumpFacts, Option<String>, Option<String>);

/// Decoded dumps in id order after `after`, a batch at a time (for `crashbox group rebuild`).
pub fn decoded_after(
    conn: &Connection,
    after: CoredumpId,
    limit: i64,
) -> Result<Vec<Decoded>, DbError> {
    let rows = conn
        .prepare_cached(&format!(
            "{FACTS} WHERE c.id > ?1 AND c.parse_status <> 'PENDING' ORDER BY c.id LIMIT ?2"
        ))?
        .query_map(params![after, limit], |r| {
            let parsed = r.get::<_, super::coredumps::ParseStatus>(8)?
                == super::coredumps::ParseStatus::Parsed;
            let output: Option<String> = r.get(9)?;
            Ok((facts_row(r)?, r.get(7)?, output.filter(|_| parsed)))
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Upload time of a stored firmware version of a model (the fallback version order).
pub fn version_uploaded_at(
    conn: &Connection,
    model: ModelId,
    version: &str,
) -> Result<Option<Timestamp>, DbError> {
    Ok(conn
        .query_row(
            "SELECT uploaded_at FROM firmware_versions WHERE device_model_id = ?1 AND version = ?2",
            params![model, version],
            |r| r.get(0),
        )
        .optional()?)
}
