//! Devices: create (key + token), rotate the token, delete (with the dump files).

use serde::Serialize;

use serde_json::json;

use crate::audit::{self, Actor};
use crate::auth::tokens;
use crate::coredump::manage;
use crate::db::{Db, devices, models};
use crate::error::{Error, Result};
use crate::ids::{DeviceId, DeviceKey, ModelCode};
use crate::store::Layout;

/// A device just created or re-keyed, with its token (shown this once).
#[derive(Debug, Serialize)]
pub struct DeviceWithToken {
    /// The device's row id.
    pub id: DeviceId,
    /// The device's key.
    pub key: DeviceKey,
    /// Code of the device's model.
    pub model: ModelCode,
    /// Free-text name (may be empty).
    pub name: String,
    /// The device's bearer token in clear text (`cbd_…`); only its hash is stored.
    pub token: String,
}

/// Registers a device of model `model_code` with a fresh key and token; `name` is trimmed, at most
/// 255 characters.
pub fn create(
    db: &Db,
    model_code: &str,
    name: Option<&str>,
    actor: &Actor,
) -> Result<DeviceWithToken> {
    let name = name.map(str::trim).unwrap_or("");
    if name.chars().count() > 255 {
        return Err(Error::Validation(
            "Device name must be at most 255 characters".into(),
        ));
    }
    let token = tokens::mint(tokens::DEVICE_PREFIX);
    db.write(|tx| {
        let model = models::find_by_code(tx, model_code)?
            .ok_or_else(|| Error::not_found("DeviceModel", model_code))?;
        for _ in 0..3 {
            let key = DeviceKey::generate();
            if let Some(d) = devices::insert(tx, key.as_str(), model.id, name, &tokens::hash(&token))?
            {
                audit::record(
                    tx,
                    actor,
                    "device.create",
                    &format!("device:{}", d.key),
                    json!({"model": d.model, "name": d.name}),
                )?;
                return Ok(DeviceWithToken {
                    id: d.id,
                    key: d.key,
                    model: d.model,
                    name: d.name,
                    token: token.clone(),
                });
            }
        }
        Err(Error::InvalidOperation(
            "Cannot generate device key because unable to generate unique key after multiple attempts"
                .into(),
        ))
    })
}

/// The device with row id `id`, or `NotFound`.
pub fn find(db: &Db, id: DeviceId) -> Result<devices::Device> {
    devices::find(&*db.conn()?, id)?.ok_or_else(|| Error::not_found("Device", id))
}

/// The device with key `key`, or `NotFound`.
pub fn find_by_key(db: &Db, key: &str) -> Result<devices::Device> {
    devices::find_by_key(&*db.conn()?, key)?.ok_or_else(|| Error::not_found("Device", key))
}

/// Issues a new token; the old one stops working at once.
pub fn rotate_token(db: &Db, id: DeviceId, actor: &Actor) -> Result<DeviceWithToken> {
    let token = tokens::mint(tokens::DEVICE_PREFIX);
    let device = db.write(|tx| {
        let device = devices::find(tx, id)?.ok_or_else(|| Error::not_found("Device", id))?;
        devices::set_token_hash(tx, id, &tokens::hash(&token))?;
        audit::record(
            tx,
            actor,
            "device.token_rotate",
            &format!("device:{}", device.key),
            json!({"model": device.model}),
        )?;
        Ok::<_, Error>(device)
    })?;
    Ok(DeviceWithToken {
        id: device.id,
        key: device.key,
        model: device.model,
        name: device.name,
        token,
    })
}

/// Deletes a device, its dump rows (cascade) and its dump folder.
pub fn delete(db: &Db, layout: &Layout, id: DeviceId, actor: &Actor) -> Result<()> {
    let device = db.write(|tx| {
        let device = devices::find(tx, id)?.ok_or_else(|| Error::not_found("Device", id))?;
        devices::delete(tx, id)?;
        audit::record(
            tx,
            actor,
            "device.delete",
            &format!("device:{}", device.key),
            json!({"model": device.model, "name": device.name}),
        )?;
        Ok::<_, Error>(device)
    })?;
    manage::remove_device_dir(layout, &device.key);
    Ok(())
}
