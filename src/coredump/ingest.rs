//! Taking a device's upload in: validate, write the file atomically, insert the `PENDING` row and
//! apply retention in one transaction, then retire evicted files (they become spares that later
//! uploads are written into). Blocking; run it off the async
//! runtime. The caller enqueues the parse job after this returns (the row is committed by then).

use std::io;
use std::path::PathBuf;

use super::MAX_COREDUMP_SIZE;
use crate::db::devices::Device;
use crate::db::{Db, coredumps};
use crate::error::{Error, Result};
use crate::ids::CoredumpId;
use crate::store::spares::Spares;
use crate::store::{self, Layout, atomic};

/// A dump that is now durable on disk and in the database.
#[derive(Debug)]
pub struct Stored {
    /// The new dump's row id (to enqueue its parse job).
    pub id: CoredumpId,
    /// The dump's file name in the device's folder.
    pub filename: String,
    /// How many older dumps of the device retention deleted to make room.
    pub evicted: usize,
}

/// The body checks made after auth and the query, in the original system's order and texts:
/// an empty body, then one over [`MAX_COREDUMP_SIZE`], is a validation error.
pub fn check_body_len(len: usize) -> Result<()> {
    if len == 0 {
        return Err(Error::Validation("No coredump content provided".into()));
    }
    if len > MAX_COREDUMP_SIZE {
        return Err(Error::Validation(
            "Coredump exceeds maximum size of 1MB".into(),
        ));
    }
    Ok(())
}

/// Writes the dump under a name no other dump has, stepping the timestamp by a microsecond on
/// a clash; into a spare of the folder (a file retention evicted) when there is one. Returns
/// the name and the instant it encodes.
fn write_unique(
    dir: &std::path::Path,
    body: &[u8],
    spares: &Spares,
) -> io::Result<(String, chrono::DateTime<chrono::Utc>)> {
    let mut t = chrono::Utc::now();
    for _ in 0..1000 {
        let name = Layout::coredump_file_name(t);
        let target = dir.join(&name);
        match atomic::write_new_into(&target, body, spares.take(dir)) {
            Ok(()) => return Ok((name, t)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                t += chrono::Duration::microseconds(1)
            }
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("no free dump file name"))
}

/// What a device sent; its auth and query were checked by the caller.
#[derive(Debug, Clone, Copy)]
pub struct Upload<'a> {
    /// The device the token belongs to.
    pub device: &'a Device,
    /// The `chip` query parameter.
    pub chip: &'a str,
    /// The `firmware_version` query parameter.
    pub firmware_version: &'a str,
    /// The dump as sent.
    pub body: &'a [u8],
}

/// Stores an upload. Files that retention evicts become spares for the device's next uploads.
pub fn ingest(
    db: &Db,
    layout: &Layout,
    spares: &Spares,
    max_coredumps: u32,
    upload: Upload<'_>,
) -> Result<Stored> {
    let Upload {
        device,
        chip,
        firmware_version,
        body,
    } = upload;
    check_body_len(body.len())?;
    let dir = layout.device_dir(&device.key);
    let (filename, t) = write_unique(&dir, body, spares)?;
    let path = dir.join(&filename);
    let inserted = insert_with_retention(
        db,
        device,
        &filename,
        chip,
        firmware_version,
        body.len(),
        t,
        max_coredumps,
    );
    let (id, evicted) = match inserted {
        Ok(row) => row,
        Err(e) => {
            // No row, so no file either: the device gets an error, not a half-stored dump.
            store::remove_quietly(&path);
            return Err(e);
        }
    };
    retire_evicted(spares, &dir, &evicted);
    tracing::info!(device = %device.key, id = %id, model = %device.model, chip, firmware_version, filename, "saved coredump");
    if !evicted.is_empty() {
        tracing::info!(device = %device.key, "deleted {} oldest coredumps (limit={max_coredumps})", evicted.len());
    }
    Ok(Stored {
        id,
        filename,
        evicted: evicted.len(),
    })
}

#[allow(clippy::too_many_arguments)]
fn insert_with_retention(
    db: &Db,
    device: &Device,
    filename: &str,
    chip: &str,
    firmware_version: &str,
    size: usize,
    t: chrono::DateTime<chrono::Utc>,
    max_coredumps: u32,
) -> Result<(CoredumpId, Vec<String>)> {
    db.write(|tx| {
        let id = coredumps::insert(
            tx,
            &coredumps::NewCoredump {
                device_id: device.id,
                filename,
                chip,
                firmware_version,
                size: size as i64,
                uploaded_at: t.into(),
            },
        )?;
        let evicted = coredumps::delete_beyond(tx, device.id, max_coredumps)?;
        // Release health: the dump counts for its version (lifetime and per day).
        crate::db::checkins::count_dump(tx, device.id, device.model_id, firmware_version, t)?;
        Ok((id, evicted))
    })
}

/// Files of the dumps retention deleted (their rows are gone): each becomes a spare or is
/// removed.
fn retire_evicted(spares: &Spares, dir: &std::path::Path, names: &[String]) {
    for name in names {
        if store::is_plain_name(name) {
            spares.retire(&PathBuf::from(dir).join(name));
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn body_limits() {
        assert!(super::check_body_len(0).is_err());
        assert!(super::check_body_len(super::MAX_COREDUMP_SIZE).is_ok());
        assert!(super::check_body_len(super::MAX_COREDUMP_SIZE + 1).is_err());
    }
}
