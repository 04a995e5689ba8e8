//! Rollout operations behind the API, the CLI and the dashboard: read and change a model's
//! rollout (target, canary), promote, resume, and a device's OTA pin / exclusion and tag. Each
//! change and its audit entry are one transaction. Blocking.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{self, Actor};
use crate::db::rollouts::{self, Canary};
use crate::db::{Db, devices, firmware, models};
use crate::error::{Error, Result};
use crate::ids::{DeviceId, GroupId, ModelId};

/// Most devices a canary may name by key.
pub const MAX_CANARY_DEVICES: usize = 1000;

/// A model's rollout as the API answers it.
#[derive(Debug, Clone, Serialize)]
pub struct Rollout {
    /// The model's code.
    pub model: String,
    /// The version every other device is offered (`null`: no firmware yet).
    pub target: Option<String>,
    /// The canary.
    pub canary: CanaryView,
}

/// A canary as the API answers it.
#[derive(Debug, Clone, Serialize)]
pub struct CanaryView {
    /// The version canary devices get (`null`: no canary rollout).
    pub version: Option<String>,
    /// Keys of the canary devices chosen by key.
    pub devices: Vec<String>,
    /// Devices with this tag are canary devices too.
    pub tag: Option<String>,
    /// Halted by a new crash group: canary devices get the target until resumed.
    pub halted: bool,
    /// The group that halted it.
    pub halted_by_group: Option<GroupId>,
    /// When it was halted.
    pub halted_at: Option<String>,
}

/// The body of `PUT /api/models/{code}/rollout`: the fields given are replaced.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutInput {
    /// A stored version to become the model target.
    pub target: Option<String>,
    /// The canary, replaced as a whole (`{}` ends the canary).
    pub canary: Option<CanaryInput>,
}

/// The canary part of [`RolloutInput`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanaryInput {
    /// A stored version for the canary devices (`null`: no canary rollout).
    pub version: Option<String>,
    /// Device keys of this model.
    #[serde(default)]
    pub devices: Vec<String>,
    /// A device tag selecting canary devices.
    pub tag: Option<String>,
}

/// The body of `PUT /api/devices/{id}/ota`: `{"pin": "<version>"}`, `{"exclude": true}` or `{}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtaInput {
    /// Pin the device to this stored version.
    pub pin: Option<String>,
    /// Exclude the device from updates.
    #[serde(default)]
    pub exclude: bool,
}

fn model_of(conn: &rusqlite::Connection, code: &str) -> Result<models::Model> {
    models::find_by_code(conn, code)?.ok_or_else(|| Error::not_found("DeviceModel", code))
}

/// A version that must be stored for the model (what a device is offered must be downloadable).
fn stored(
    conn: &rusqlite::Connection,
    model: &models::Model,
    v: &str,
    what: &str,
) -> Result<String> {
    let v = v.trim();
    if firmware::find(conn, model.id, v)?.is_none() {
        return Err(Error::Validation(format!(
            "{what} {v:?} is not a stored firmware version of model {}",
            model.code
        )));
    }
    Ok(v.to_string())
}

/// A tag: 1 to 32 of `A-Z a-z 0-9 . _ -`.
pub fn check_tag(tag: &str) -> Result<String> {
    let t = tag.trim();
    let ok = !t.is_empty()
        && t.len() <= 32
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !ok {
        return Err(Error::Validation(format!(
            "Invalid tag {:?}: use 1 to 32 of A-Z a-z 0-9 . _ -",
            t.chars().take(40).collect::<String>()
        )));
    }
    Ok(t.to_string())
}

fn view(model: &models::Model, c: Canary) -> Rollout {
    Rollout {
        model: model.code.to_string(),
        target: model.firmware_version.as_ref().map(|v| v.to_string()),
        canary: CanaryView {
            version: c.version,
            devices: c.devices,
            tag: c.tag,
            halted: c.halted,
            halted_by_group: c.halted_by_group,
            halted_at: c.halted_at,
        },
    }
}

fn read(conn: &rusqlite::Connection, code: &str) -> Result<Rollout> {
    let model = model_of(conn, code)?;
    let canary = rollouts::find(conn, model.id)?;
    Ok(view(&model, canary))
}

/// A model's rollout.
pub fn get(db: &Db, code: &str) -> Result<Rollout> {
    read(&*db.conn()?, code)
}

fn device_ids(
    conn: &rusqlite::Connection,
    model: &models::Model,
    keys: &[String],
) -> Result<Vec<DeviceId>> {
    if keys.len() > MAX_CANARY_DEVICES {
        return Err(Error::Validation(format!(
            "A canary names at most {MAX_CANARY_DEVICES} devices"
        )));
    }
    let mut ids = Vec::with_capacity(keys.len());
    for key in keys {
        let d = devices::find_by_key(conn, key.trim())?
            .filter(|d| d.model_id == model.id)
            .ok_or_else(|| {
                Error::Validation(format!(
                    "Device {key:?} is not a device of model {}",
                    model.code
                ))
            })?;
        ids.push(d.id);
    }
    Ok(ids)
}

/// Changes a model's target and/or canary (see [`RolloutInput`]).
pub fn set(db: &Db, code: &str, input: &RolloutInput, actor: &Actor) -> Result<Rollout> {
    db.write(|tx| {
        let model = model_of(tx, code)?;
        let target = "model:".to_string() + model.code.as_str();
        if let Some(t) = &input.target {
            let t = stored(tx, &model, t, "target")?;
            let from = model.firmware_version.as_ref().map(|v| v.to_string());
            if from.as_deref() != Some(t.as_str()) {
                models::set_firmware_version(tx, model.id, Some(&t))?;
                audit::record(
                    tx,
                    actor,
                    "rollout.target",
                    &target,
                    json!({"model": model.code.as_str(), "from": from, "to": t}),
                )?;
            }
        }
        if let Some(c) = &input.canary {
            let version = match c.version.as_deref().filter(|v| !v.trim().is_empty()) {
                Some(v) => Some(stored(tx, &model, v, "canary version")?),
                None => None,
            };
            let tag = match c.tag.as_deref().filter(|t| !t.trim().is_empty()) {
                Some(t) => Some(check_tag(t)?),
                None => None,
            };
            let ids = device_ids(tx, &model, &c.devices)?;
            let old = rollouts::find(tx, model.id)?;
            // A new canary version is a new rollout: a halt of the old one does not carry over.
            let same = old.version == version;
            let next = Canary {
                version: version.clone(),
                tag: tag.clone(),
                devices: Vec::new(),
                halted: same && old.halted,
                halted_by_group: old.halted_by_group.filter(|_| same && old.halted),
                halted_at: old.halted_at.filter(|_| same && old.halted),
            };
            rollouts::save(tx, model.id, &next, &ids)?;
            let keys = rollouts::find(tx, model.id)?.devices;
            audit::record(
                tx,
                actor,
                "rollout.canary",
                &target,
                json!({"model": model.code.as_str(), "version": version, "devices": keys, "tag": tag}),
            )?;
        }
        read(tx, code)
    })
}

fn running_canary(
    tx: &rusqlite::Connection,
    code: &str,
    op: &str,
) -> Result<(models::Model, Canary)> {
    let model = model_of(tx, code)?;
    let c = rollouts::find(tx, model.id)?;
    if c.version.is_none() {
        return Err(Error::InvalidOperation(format!(
            "Cannot {op} the rollout of model {code} because it has no canary version"
        )));
    }
    Ok((model, c))
}

/// Promote: the canary version becomes the model target and the canary ends (its devices and
/// tag stay chosen for the next canary). A halted canary cannot be promoted (resume it first).
pub fn promote(db: &Db, code: &str, actor: &Actor) -> Result<Rollout> {
    db.write(|tx| {
        let (model, c) = running_canary(tx, code, "promote")?;
        if c.halted {
            return Err(Error::InvalidOperation(format!(
                "Cannot promote the rollout of model {code} because the canary is halted (by crash group {}); resume it first",
                c.halted_by_group.map(|g| g.to_string()).unwrap_or_else(|| "?".into())
            )));
        }
        let version = c.version.clone().unwrap_or_default();
        let from = model.firmware_version.as_ref().map(|v| v.to_string());
        models::set_firmware_version(tx, model.id, Some(&version))?;
        let ids = device_ids(tx, &model, &c.devices)?;
        let next = Canary {
            version: None,
            tag: c.tag.clone(),
            ..Canary::default()
        };
        rollouts::save(tx, model.id, &next, &ids)?;
        audit::record(
            tx,
            actor,
            "rollout.promote",
            &format!("model:{code}"),
            json!({"model": code, "version": version, "from": from}),
        )?;
        read(tx, code)
    })
}

/// Resume a halted canary (a no-op on a running one).
pub fn resume(db: &Db, code: &str, actor: &Actor) -> Result<Rollout> {
    db.write(|tx| {
        let (model, c) = running_canary(tx, code, "resume")?;
        if c.halted {
            let ids = device_ids(tx, &model, &c.devices)?;
            let next = Canary {
                halted: false,
                halted_by_group: None,
                halted_at: None,
                ..c.clone()
            };
            rollouts::save(tx, model.id, &next, &ids)?;
            audit::record(
                tx,
                actor,
                "rollout.resume",
                &format!("model:{code}"),
                json!({"model": code, "version": c.version, "halted_by_group": c.halted_by_group}),
            )?;
        }
        read(tx, code)
    })
}

/// A device's OTA settings as the API answers them.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceOta {
    /// The device's row id.
    pub id: DeviceId,
    /// Its key.
    pub key: String,
    /// Its pin.
    pub pin: Option<String>,
    /// Excluded from updates.
    pub exclude: bool,
}

/// Pins a device, excludes it, or (neither) lets it follow the rollout again.
pub fn set_ota(db: &Db, id: DeviceId, input: &OtaInput, actor: &Actor) -> Result<DeviceOta> {
    if input.pin.is_some() && input.exclude {
        return Err(Error::Validation(
            "Give either pin or exclude, not both".into(),
        ));
    }
    db.write(|tx| {
        let d = devices::find(tx, id)?.ok_or_else(|| Error::not_found("Device", id))?;
        let model = models::find(tx, d.model_id)?
            .ok_or_else(|| Error::not_found("DeviceModel", &d.model))?;
        let pin = match input.pin.as_deref() {
            Some(p) => Some(stored(tx, &model, p, "pin")?),
            None => None,
        };
        devices::set_ota(tx, id, pin.as_deref(), input.exclude)?;
        audit::record(
            tx,
            actor,
            "device.ota",
            &format!("device:{}", d.key),
            json!({"model": model.code.as_str(), "pin": pin, "exclude": input.exclude}),
        )?;
        Ok(DeviceOta {
            id,
            key: d.key.to_string(),
            pin,
            exclude: input.exclude,
        })
    })
}

/// Sets or clears (`None` or blank) a device's tag.
pub fn set_tag(db: &Db, id: DeviceId, tag: Option<&str>, actor: &Actor) -> Result<Option<String>> {
    let tag = match tag.filter(|t| !t.trim().is_empty()) {
        Some(t) => Some(check_tag(t)?),
        None => None,
    };
    db.write(|tx| {
        let d = devices::find(tx, id)?.ok_or_else(|| Error::not_found("Device", id))?;
        devices::set_tag(tx, id, tag.as_deref())?;
        audit::record(
            tx,
            actor,
            "device.tag",
            &format!("device:{}", d.key),
            json!({"model": d.model.as_str(), "tag": tag}),
        )?;
        Ok(tag.clone())
    })
}

/// Versions of `model` that retention and deletes must keep: the target, the canary version
/// and every pin.
pub fn protected_versions(
    conn: &rusqlite::Connection,
    model: ModelId,
) -> Result<Vec<String>, crate::db::DbError> {
    let mut v = rollouts::versions_in_use(conn, model)?;
    if let Some(m) = models::find(conn, model)?
        && let Some(t) = m.firmware_version
    {
        v.push(t.to_string());
    }
    Ok(v)
}

/// What `device` is offered now (see [`crate::rollout::decide`]); `reported` is the version it
/// just said it runs (it wins over the stored running version for an excluded device).
pub fn offer(
    db: &Db,
    device: DeviceId,
    reported: Option<&str>,
) -> Result<crate::rollout::decide::Offer> {
    let mut facts = rollouts::ota_facts(&*db.conn()?, device)?
        .ok_or_else(|| Error::not_found("Device", device))?;
    if let Some(r) = reported {
        facts.running = Some(r.to_string());
    }
    Ok(crate::rollout::decide::decide(&facts))
}
