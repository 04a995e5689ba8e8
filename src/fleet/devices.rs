//! Devices: create (key + token), rotate the token, delete (with the dump files).

use serde::Serialize;

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
pub fn create(db: &Db, model_code: &str, name: Option<&str>) -> Result<DeviceWithToken> {
    let name = name.map(str::trim).unwrap_or("");
    if name.chars().count() > 255 {
        return Err(Error::Validation(
            "Device name must be at most 255 characters".into(),
        ));
    }
    let conn = db.conn()?;
    let model = models::find_by_code(&conn, model_code)?
        .ok_or_else(|| Error::not_found("DeviceModel", model_code))?;
    let token = tokens::mint(tokens::DEVICE_PREFIX);
    for _ in 0..3 {
        let key = DeviceKey::generate();
        if let Some(d) =
            devices::insert(&conn, key.as_str(), model.id, name, &tokens::hash(&token))?
        {
            return Ok(DeviceWithToken {
                id: d.id,
                key: d.key,
                model: d.model,
                name: d.name,
                token,
            });
        }
    }
    Err(Error::InvalidOperation(
        "Cannot generate device key because unable to generate unique key after multiple attempts"
            .into(),
    ))
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
pub fn rotate_token(db: &Db, id: DeviceId) -> Result<DeviceWithToken> {
    let device = find(db, id)?;
    let token = tokens::mint(tokens::DEVICE_PREFIX);
    devices::set_token_hash(&*db.conn()?, id, &tokens::hash(&token))?;
    Ok(DeviceWithToken {
        id: device.id,
        key: device.key,
        model: device.model,
        name: device.name,
        token,
    })
}

/// Deletes a device, its dump rows (cascade) and its dump folder.
pub fn delete(db: &Db, layout: &Layout, id: DeviceId) -> Result<()> {
    let device = find(db, id)?;
    devices::delete(&*db.conn()?, id)?;
    manage::remove_device_dir(layout, &device.key);
    Ok(())
}
