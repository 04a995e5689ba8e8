//! Checking a backup: the database copy passes SQLite's `integrity_check`, every file of the
//! manifest is in the archive with its size (a truncated or swapped archive fails), and every
//! dump and firmware row of the database has its file (rows without one are counted: retention
//! can remove a file while a backup runs).

use std::collections::HashMap;
use std::path::Path;

use rusqlite::OpenFlags;

use super::{BackupError, DB_FILE, MANIFEST_FILE, Manifest, TAR_FILE, io};
use crate::store::Layout;

/// Most archive entries read (far above any fleet's dumps and firmware).
const MAX_ENTRIES: usize = 10_000_000;

/// What a good backup holds.
#[derive(Debug)]
pub struct Verified {
    /// Files in the archive, all matching the manifest.
    pub files: usize,
    /// Database rows (dumps, firmware versions) whose file is not in the archive.
    pub rows_without_file: usize,
}

/// Checks the backup in the folder `src`; an error says what is wrong.
pub fn verify(src: &Path) -> Result<Verified, BackupError> {
    let db_path = src.join(DB_FILE);
    if !db_path.is_file() {
        return Err(BackupError::Invalid(format!(
            "{} is missing",
            db_path.display()
        )));
    }
    let conn = rusqlite::Connection::open_with_flags(&db_path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Err(BackupError::Invalid(format!(
            "the database copy is damaged: {check}"
        )));
    }

    let man_path = src.join(MANIFEST_FILE);
    let text =
        std::fs::read(&man_path).map_err(io(format!("cannot read {}", man_path.display())))?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|e| BackupError::Invalid(format!("{} does not parse: {e}", man_path.display())))?;

    let archived = archive_sizes(&src.join(TAR_FILE))?;
    for f in &manifest.files {
        match archived.get(&f.path) {
            None => {
                return Err(BackupError::Invalid(format!(
                    "{} is not in {TAR_FILE}",
                    f.path
                )));
            }
            Some(size) if *size != f.size => {
                return Err(BackupError::Invalid(format!(
                    "{} has {size} bytes in {TAR_FILE}, {} in the manifest",
                    f.path, f.size
                )));
            }
            Some(_) => {}
        }
    }

    let rows_without_file = rows_without_file(&conn, &archived)?;
    Ok(Verified {
        files: manifest.files.len(),
        rows_without_file,
    })
}

/// Every regular file in the archive with its size. Reading it to the end also proves it is
/// not truncated.
fn archive_sizes(path: &Path) -> Result<HashMap<String, u64>, BackupError> {
    let file = std::fs::File::open(path).map_err(io(format!("cannot open {}", path.display())))?;
    let mut tar = tar::Archive::new(file);
    let mut out = HashMap::new();
    let entries = tar
        .entries()
        .map_err(io(format!("cannot read {}", path.display())))?;
    for entry in entries.take(MAX_ENTRIES) {
        let mut entry = entry.map_err(io(format!("{} is damaged", path.display())))?;
        let name = entry
            .path()
            .map_err(io(format!("{} is damaged", path.display())))?
            .to_string_lossy()
            .into_owned();
        let size = entry
            .header()
            .size()
            .map_err(io(format!("{} is damaged", path.display())))?;
        // Read the data: a truncated archive fails here.
        let read = std::io::copy(&mut entry, &mut std::io::sink())
            .map_err(io(format!("{} is truncated at {name}", path.display())))?;
        if read != size {
            return Err(BackupError::Invalid(format!(
                "{} is truncated at {name}",
                path.display()
            )));
        }
        if entry.header().entry_type().is_file() {
            out.insert(name, size);
        }
    }
    Ok(out)
}

/// Dump and firmware rows whose file is not in the archive (or has another size).
fn rows_without_file(
    conn: &rusqlite::Connection,
    archived: &HashMap<String, u64>,
) -> Result<usize, BackupError> {
    let layout = Layout::new(super::COREDUMPS.into(), super::ASSETS.into());
    let has = |path: Option<std::path::PathBuf>, size: Option<u64>| {
        path.and_then(|p| {
            archived
                .get(&p.to_string_lossy().replace('\\', "/"))
                .copied()
        })
        .is_some_and(|s| size.is_none_or(|want| want == s))
    };
    let mut missing = 0;
    let mut dumps = conn.prepare(
        "SELECT d.key, c.filename, c.size FROM coredumps c JOIN devices d ON d.id = c.device_id",
    )?;
    let rows = dumps.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    for row in rows {
        let (key, filename, size) = row?;
        let path =
            crate::ids::DeviceKey::parse(&key).and_then(|k| layout.coredump_path(&k, &filename));
        if !has(path, u64::try_from(size).ok()) {
            missing += 1;
        }
    }
    let mut fw = conn.prepare(
        "SELECT m.code, f.version, f.size FROM firmware_versions f
         JOIN device_models m ON m.id = f.device_model_id",
    )?;
    let rows = fw.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    for row in rows {
        let (code, version, size) = row?;
        let path = crate::ids::ModelCode::parse(&code)
            .zip(crate::ids::FirmwareVersion::parse(&version))
            .map(|(c, v)| layout.firmware_bin_path(&c, &v));
        if !has(path, u64::try_from(size).ok()) {
            missing += 1;
        }
    }
    Ok(missing)
}
