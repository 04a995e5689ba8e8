//! Making a backup: the database through SQLite's online backup API, then the blob folders
//! into `blobs.tar` (archive paths fixed as `coredumps/…` and `assets/…`, so a relative or
//! unusual data folder makes no difference), then the manifest; each file written under a temp
//! name and renamed, so a failed backup never leaves a truncated file under a final name.

use std::path::Path;

use super::{BackupError, DB_FILE, MANIFEST_FILE, Manifest, TAR_FILE, archive, io};
use crate::config::Config;
use crate::db::Db;

/// What a backup holds.
#[derive(Debug)]
pub struct Written {
    /// Files in `blobs.tar`.
    pub files: usize,
    /// Their total size in bytes.
    pub bytes: u64,
}

/// Writes a backup of `db` and the blob folders of `config` into the folder `dest`.
pub fn write(config: &Config, db: &Db, dest: &Path) -> Result<Written, BackupError> {
    crate::store::private::create_dir(dest)
        .map_err(io(format!("cannot create {}", dest.display())))?;
    let tmp = |name: &str| dest.join(format!("{}{name}", crate::store::TEMP_PREFIX));

    let db_tmp = tmp(DB_FILE);
    crate::store::remove_quietly(&db_tmp);
    crate::store::private::restrict_file(&db_tmp, true)
        .map_err(io(format!("cannot create {}", db_tmp.display())))?;
    {
        let conn = db.conn()?;
        let mut out = rusqlite::Connection::open(&db_tmp)?;
        let backup = rusqlite::backup::Backup::new(&conn, &mut out)?;
        backup.run_to_completion(256, std::time::Duration::from_millis(5), None)?;
    }

    let tar_tmp = tmp(TAR_FILE);
    let file = std::fs::File::create(&tar_tmp)
        .map_err(io(format!("cannot create {}", tar_tmp.display())))?;
    let mut tar = tar::Builder::new(file);
    tar.mode(tar::HeaderMode::Deterministic);
    let mut files = archive::append_tree(&mut tar, super::COREDUMPS, &config.coredumps_dir)?;
    files.extend(archive::append_tree(
        &mut tar,
        super::ASSETS,
        &config.assets_dir,
    )?);
    let file = tar
        .into_inner()
        .map_err(io(format!("cannot finish {}", tar_tmp.display())))?;
    file.sync_all()
        .map_err(io(format!("cannot sync {}", tar_tmp.display())))?;

    let manifest = Manifest { version: 1, files };
    let man_tmp = tmp(MANIFEST_FILE);
    let text = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| BackupError::Invalid(format!("cannot write the manifest: {e}")))?;
    std::fs::write(&man_tmp, text).map_err(io(format!("cannot write {}", man_tmp.display())))?;

    for name in [DB_FILE, TAR_FILE, MANIFEST_FILE] {
        std::fs::rename(tmp(name), dest.join(name)).map_err(io(format!(
            "cannot move {name} into place in {}",
            dest.display()
        )))?;
    }
    Ok(Written {
        files: manifest.files.len(),
        bytes: manifest.files.iter().map(|f| f.size).sum(),
    })
}
