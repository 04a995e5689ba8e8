//! Deleting dumps: the rows go first (in one statement), then the files, best effort, so a
//! failed delete never leaves a row pointing at a removed file.

use serde_json::json;

use crate::audit::{self, Actor};
use crate::db::{Db, coredumps, devices};
use crate::error::{Error, Result};
use crate::ids::{CoredumpId, DeviceId, DeviceKey};
use crate::store::spares::Spares;
use crate::store::{self, Layout};

/// Deletes one dump of a device and its file; an unknown device or dump is `NotFound`
/// (`Device <id> was not found`, `Coredump <id> was not found`).
pub fn delete_one(
    db: &Db,
    layout: &Layout,
    device_id: DeviceId,
    id: CoredumpId,
    actor: &Actor,
) -> Result<()> {
    let (device, dump) = db.write(|tx| {
        let device =
            devices::find(tx, device_id)?.ok_or_else(|| Error::not_found("Device", device_id))?;
        let dump =
            coredumps::find(tx, device_id, id)?.ok_or_else(|| Error::not_found("Coredump", id))?;
        coredumps::delete(tx, device_id, id)?;
        audit::record(
            tx,
            actor,
            "coredump.delete",
            &format!("device:{}", device.key),
            json!({"model": device.model, "coredump": id.0}),
        )?;
        Ok::<_, Error>((device, dump))
    })?;
    remove_files(layout, &device.key, &[dump.filename]);
    Ok(())
}

/// Deletes every dump of a device, and the spares retention kept in its folder; idempotent.
pub fn delete_all(
    db: &Db,
    layout: &Layout,
    spares: &Spares,
    device_id: DeviceId,
    actor: &Actor,
) -> Result<usize> {
    let (device, names) = db.write(|tx| {
        let device =
            devices::find(tx, device_id)?.ok_or_else(|| Error::not_found("Device", device_id))?;
        let names = coredumps::delete_all(tx, device_id)?;
        audit::record(
            tx,
            actor,
            "coredump.delete_all",
            &format!("device:{}", device.key),
            json!({"model": device.model, "deleted": names.len()}),
        )?;
        Ok::<_, Error>((device, names))
    })?;
    remove_files(layout, &device.key, &names);
    spares.forget(&layout.device_dir(&device.key));
    Ok(names.len())
}

/// Removes the named dump files of a device, best effort.
pub fn remove_files(layout: &Layout, key: &DeviceKey, names: &[String]) {
    for name in names {
        if let Some(path) = layout.coredump_path(key, name) {
            store::remove_quietly(&path);
        }
    }
}

/// Removes a device's whole dump folder (after its row is deleted).
pub fn remove_device_dir(layout: &Layout, key: &DeviceKey) {
    store::remove_dir_quietly(&layout.device_dir(key));
}
