//! `rollouts` and `rollout_canary_devices`: a model's canary (version, devices by key, a tag,
//! the halt), and the facts one OTA answer needs in one query. The model target is
//! `device_models.firmware_version` (see `db::models`); the rules are in `crate::rollout`.

use rusqlite::{Connection, OptionalExtension, params};

use super::{DbError, now};
use crate::ids::{DeviceId, GroupId, ModelId};

/// A model's canary as stored (all empty when the model never had one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Canary {
    /// The version canary devices get; `None`: no canary rollout now.
    pub version: Option<String>,
    /// Devices whose tag equals this are canary devices too.
    pub tag: Option<String>,
    /// Keys of the canary devices chosen by key, sorted.
    pub devices: Vec<String>,
    /// Halted: canary devices get the model target until an admin resumes.
    pub halted: bool,
    /// The crash group that halted it.
    pub halted_by_group: Option<GroupId>,
    /// When it was halted.
    pub halted_at: Option<String>,
}

/// A model's canary.
pub fn find(conn: &Connection, model: ModelId) -> Result<Canary, DbError> {
    let row = conn
        .prepare_cached(
            "SELECT canary_version, canary_tag, halted, halted_by_group, halted_at FROM rollouts
             WHERE device_model_id = ?1",
        )?
        .query_row([model], |r| {
            Ok(Canary {
                version: r.get(0)?,
                tag: r.get(1)?,
                halted: r.get(2)?,
                halted_by_group: r.get(3)?,
                halted_at: r.get(4)?,
                devices: Vec::new(),
            })
        })
        .optional()?;
    let mut canary = row.unwrap_or_default();
    let mut stmt = conn.prepare_cached(
        "SELECT d.key FROM rollout_canary_devices c JOIN devices d ON d.id = c.device_id
         WHERE c.device_model_id = ?1 ORDER BY d.key",
    )?;
    canary.devices = stmt
        .query_map([model], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(canary)
}

/// Stores a model's canary version, tag and devices (replacing the device set) and its halt
/// state.
pub fn save(
    tx: &Connection,
    model: ModelId,
    c: &Canary,
    device_ids: &[DeviceId],
) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO rollouts (device_model_id, canary_version, canary_tag, halted,
            halted_by_group, halted_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (device_model_id) DO UPDATE SET canary_version = excluded.canary_version,
            canary_tag = excluded.canary_tag, halted = excluded.halted,
            halted_by_group = excluded.halted_by_group, halted_at = excluded.halted_at,
            updated_at = excluded.updated_at",
        params![
            model,
            c.version,
            c.tag,
            c.halted,
            c.halted_by_group,
            c.halted_at,
            now()
        ],
    )?;
    tx.execute(
        "DELETE FROM rollout_canary_devices WHERE device_model_id = ?1",
        [model],
    )?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO rollout_canary_devices (device_model_id, device_id) VALUES (?1, ?2)
         ON CONFLICT DO NOTHING",
    )?;
    for d in device_ids {
        insert.execute(params![model, d])?;
    }
    Ok(())
}

/// Halts a running (not halted) canary of `model` because of `group`; `false` when there was
/// nothing to halt.
pub fn halt(tx: &Connection, model: ModelId, group: GroupId) -> Result<bool, DbError> {
    let ts = now();
    Ok(tx.execute(
        "UPDATE rollouts SET halted = 1, halted_by_group = ?2, halted_at = ?3, updated_at = ?3
         WHERE device_model_id = ?1 AND canary_version IS NOT NULL AND halted = 0",
        params![model, group, ts],
    )? > 0)
}

/// Whether `device` (of `model`) is a canary device: chosen by key, or its tag is the canary
/// tag.
pub fn is_canary_device(
    conn: &Connection,
    model: ModelId,
    device: DeviceId,
) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM rollout_canary_devices
                    WHERE device_model_id = ?1 AND device_id = ?2)
                OR EXISTS (SELECT 1 FROM rollouts r JOIN devices d ON d.tag = r.canary_tag
                    WHERE r.device_model_id = ?1 AND d.id = ?2)",
        )?
        .query_row(params![model, device], |r| r.get(0))?)
}

/// What one OTA answer depends on, read in one query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OtaFacts {
    /// The model target (`device_models.firmware_version`).
    pub target: Option<String>,
    /// The canary version, when a canary rollout is set.
    pub canary_version: Option<String>,
    /// The canary is halted.
    pub halted: bool,
    /// The device is a canary device (by key or tag).
    pub in_canary: bool,
    /// The device's pin.
    pub pin: Option<String>,
    /// The device is excluded from updates.
    pub exclude: bool,
    /// The version it last said it runs.
    pub running: Option<String>,
}

/// The OTA facts of a device; `None` when it is gone.
pub fn ota_facts(conn: &Connection, device: DeviceId) -> Result<Option<OtaFacts>, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT m.firmware_version, r.canary_version, COALESCE(r.halted, 0),
                EXISTS (SELECT 1 FROM rollout_canary_devices c
                    WHERE c.device_model_id = d.device_model_id AND c.device_id = d.id)
                OR COALESCE(d.tag = r.canary_tag, 0),
                d.ota_pin, d.ota_exclude, d.running_version
             FROM devices d JOIN device_models m ON m.id = d.device_model_id
             LEFT JOIN rollouts r ON r.device_model_id = d.device_model_id
             WHERE d.id = ?1",
        )?
        .query_row([device], |r| {
            Ok(OtaFacts {
                target: r.get(0)?,
                canary_version: r.get(1)?,
                halted: r.get(2)?,
                in_canary: r.get(3)?,
                pin: r.get(4)?,
                exclude: r.get(5)?,
                running: r.get(6)?,
            })
        })
        .optional()?)
}

/// Versions a model's rollout needs kept: the canary version and every device pin.
pub fn versions_in_use(conn: &Connection, model: ModelId) -> Result<Vec<String>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT canary_version FROM rollouts WHERE device_model_id = ?1 AND canary_version IS NOT NULL
         UNION SELECT ota_pin FROM devices WHERE device_model_id = ?1 AND ota_pin IS NOT NULL",
    )?;
    let rows = stmt
        .query_map([model], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}
