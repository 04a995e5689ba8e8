//! TEMPORARY seam with the firmware branch. At merge, `elf_for` is replaced by
//! `crate::firmware::elf_for` (same signature) and `requeue_missing_firmware` by
//! `db::coredumps::requeue_missing_firmware` + `Jobs::enqueue`, called by the bundle upload.
//!
//! Until then the `.elf` of a version is read the way upstream does it (upstream-spec §7, "ELF
//! lookup for parsing"): member `<code>.elf` of `ASSETS_DIR/<code>/firmware-<version>.zip`.
//! An absent or corrupt bundle, or one without the member, is "not found".

use std::io::Read;

use crate::db::Db;
use crate::error::Result;
use crate::ids::{CoredumpId, FirmwareVersion, ModelCode};
use crate::store::Layout;

/// Largest `.elf` accepted from a bundle (uncompressed), against zip bombs.
pub const MAX_ELF_BYTES: u64 = 256 << 20;

/// The `.elf` of `model_code` at `version`, or `None` when there is no such bundle or member.
pub fn elf_for(
    _db: &Db,
    layout: &Layout,
    model_code: &str,
    version: &str,
) -> Result<Option<Vec<u8>>> {
    let (Some(code), Some(version)) = (
        ModelCode::parse(model_code),
        FirmwareVersion::parse(version),
    ) else {
        return Ok(None);
    };
    let path = layout.bundle_path(&code, &version);
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut zip = match zip::ZipArchive::new(file) {
        Ok(z) => z,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "firmware bundle is not a readable ZIP");
            return Ok(None);
        }
    };
    let mut member = match zip.by_name(&format!("{code}.elf")) {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "firmware bundle has no {code}.elf");
            return Ok(None);
        }
    };
    if member.size() > MAX_ELF_BYTES {
        tracing::warn!(path = %path.display(), size = member.size(), "firmware ELF is too large");
        return Ok(None);
    }
    let mut elf = Vec::with_capacity(member.size() as usize);
    if let Err(e) = (&mut member).take(MAX_ELF_BYTES + 1).read_to_end(&mut elf) {
        tracing::warn!(path = %path.display(), error = %e, "cannot read firmware ELF");
        return Ok(None);
    }
    if elf.len() as u64 > MAX_ELF_BYTES {
        return Ok(None);
    }
    Ok(Some(elf))
}

/// Puts the dumps of `model_code` at `version` that ended in "firmware ZIP not found" back in
/// the queue and returns them; the caller enqueues them after this commits. The firmware
/// branch's bundle upload does this with its own function at merge.
pub fn requeue_missing_firmware(
    db: &Db,
    model_code: &str,
    version: &str,
) -> Result<Vec<CoredumpId>> {
    let conn = db.conn()?;
    let ids: Vec<CoredumpId> = {
        let mut stmt = conn.prepare(
            "SELECT c.id FROM coredumps c
             JOIN devices d ON d.id = c.device_id
             JOIN device_models m ON m.id = d.device_model_id
             WHERE m.code = ?1 AND c.firmware_version = ?2 AND c.parse_status = 'ERROR'
               AND c.parsed_output = ?3",
        )?;
        stmt.query_map(
            rusqlite::params![
                model_code,
                version,
                super::job::firmware_missing_message(model_code, version)
            ],
            |r| Ok(CoredumpId(r.get(0)?)),
        )?
        .collect::<Result<_, _>>()?
    };
    Ok(crate::db::parse_jobs::requeue_ids(&conn, &ids)?)
}
