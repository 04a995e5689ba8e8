//! Restoring a backup into an empty data folder: the backup is verified first; then the
//! database copy and every archived file are put in place. Restoring never overwrites: an
//! existing database or a non-empty dump or firmware folder is refused.

use std::path::Path;

use super::{BackupError, DB_FILE, TAR_FILE, archive, io};
use crate::config::Config;

/// What was restored.
#[derive(Debug)]
pub struct Restored {
    /// Files put into the dump and firmware folders.
    pub files: usize,
}

fn has_entries(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some())
}

/// Restores the backup in the folder `src` into `config`'s data folder.
pub fn restore(config: &Config, src: &Path) -> Result<Restored, BackupError> {
    if config.db_path.exists() {
        return Err(BackupError::Refused(format!(
            "{} exists: restore only into an empty data folder",
            config.db_path.display()
        )));
    }
    for dir in [&config.coredumps_dir, &config.assets_dir] {
        if has_entries(dir) {
            return Err(BackupError::Refused(format!(
                "{} is not empty: restore only into an empty data folder",
                dir.display()
            )));
        }
    }
    super::verify::verify(src)?;

    crate::store::private::create_dir(&config.data_dir)
        .map_err(io(format!("cannot create {}", config.data_dir.display())))?;
    let tar_path = src.join(TAR_FILE);
    let file = std::fs::File::open(&tar_path)
        .map_err(io(format!("cannot open {}", tar_path.display())))?;
    let mut tar = tar::Archive::new(file);
    let mut files = 0;
    let entries = tar
        .entries()
        .map_err(io(format!("cannot read {}", tar_path.display())))?;
    for entry in entries {
        let mut entry = entry.map_err(io(format!("{} is damaged", tar_path.display())))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let archived = entry
            .path()
            .map_err(io(format!("{} is damaged", tar_path.display())))?
            .into_owned();
        let Some(target) = archive::target(&archived, &config.coredumps_dir, &config.assets_dir)
        else {
            return Err(BackupError::Invalid(format!(
                "{} holds an unexpected path: {}",
                tar_path.display(),
                archived.display()
            )));
        };
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(io(format!("cannot create {}", parent.display())))?;
        }
        entry
            .unpack(&target)
            .map_err(io(format!("cannot write {}", target.display())))?;
        files += 1;
    }

    // The database last: a restore cut short leaves no database, so it can be run again.
    let tmp = config
        .data_dir
        .join(format!("{}{DB_FILE}", crate::store::TEMP_PREFIX));
    crate::store::private::restrict_file(&tmp, true)
        .map_err(io(format!("cannot create {}", tmp.display())))?;
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&tmp)
        .map_err(io(format!("cannot write {}", tmp.display())))?;
    let mut inp =
        std::fs::File::open(src.join(DB_FILE)).map_err(io("cannot read the database copy"))?;
    std::io::copy(&mut inp, &mut out).map_err(io(format!("cannot write {}", tmp.display())))?;
    out.sync_all()
        .map_err(io(format!("cannot sync {}", tmp.display())))?;
    std::fs::rename(&tmp, &config.db_path).map_err(io(format!(
        "cannot move the database to {}",
        config.db_path.display()
    )))?;
    Ok(Restored { files })
}
