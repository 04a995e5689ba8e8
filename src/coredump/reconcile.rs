//! Startup reconciliation of dump files and rows: files without a row (a crash between the
//! write and the commit, or between a delete's commit and its unlink) are removed; rows whose
//! file is gone are removed. If *no* row has its file (and there are several), the dump folder
//! is probably the wrong one (a changed `COREDUMPS_DIR`), so neither rows nor dump files are
//! deleted and an error is logged instead. Temp files of interrupted writes always go.

use std::collections::HashSet;
use std::path::Path;

use crate::db::{Db, coredumps, devices};
use crate::error::Result;
use crate::ids::CoredumpId;
use crate::store::{self, Layout};

/// What reconciliation did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Dump files that had no row, deleted.
    pub orphan_files_removed: usize,
    /// Rows whose file was gone, deleted.
    pub rows_without_file_removed: usize,
    /// Temp files of interrupted writes, deleted.
    pub temp_files_removed: usize,
}

/// Reconciles the dump folder of `layout` with the `coredumps` rows.
pub fn run(db: &Db, layout: &Layout) -> Result<Report> {
    let coredumps_dir: &Path = &layout.coredumps_dir;
    let conn = db.conn()?;
    let rows = coredumps::all_files(&conn)?;
    let known: HashSet<(String, String)> = rows
        .iter()
        .map(|(_, k, f)| (k.clone(), f.clone()))
        .collect();
    let device_keys: HashSet<String> = devices::all_keys(&conn)?.into_iter().collect();
    let mut report = Report::default();

    // Files without rows.
    let mut present: HashSet<(String, String)> = HashSet::new();
    let mut orphans = Vec::new();
    if let Ok(entries) = std::fs::read_dir(coredumps_dir) {
        for dir in entries.flatten() {
            let Ok(key) = dir.file_name().into_string() else {
                continue;
            };
            if !dir.path().is_dir() {
                continue;
            }
            let Ok(files) = std::fs::read_dir(dir.path()) else {
                continue;
            };
            for f in files.flatten() {
                let Ok(name) = f.file_name().into_string() else {
                    continue;
                };
                if Layout::is_temp_file_name(&name) {
                    store::remove_quietly(&f.path());
                    report.temp_files_removed += 1;
                } else if known.contains(&(key.clone(), name.clone())) {
                    present.insert((key.clone(), name));
                } else if Layout::is_coredump_file_name(&name) {
                    orphans.push((key.clone(), name, f.path()));
                }
            }
            if !device_keys.contains(&key)
                && std::fs::read_dir(dir.path())
                    .map(|mut d| d.next().is_none())
                    .unwrap_or(false)
            {
                let _ = std::fs::remove_dir(dir.path());
            }
        }
    }

    // Rows without files.
    let missing: Vec<CoredumpId> = rows
        .iter()
        .filter(|(_, k, f)| !present.contains(&(k.clone(), f.clone())))
        .map(|(id, _, _)| *id)
        .collect();
    if !missing.is_empty() && missing.len() == rows.len() && rows.len() > 1 {
        tracing::error!(
            rows = rows.len(),
            dir = %coredumps_dir.display(),
            "none of the stored coredumps has its file: is COREDUMPS_DIR right? keeping the rows and files"
        );
        return Ok(report);
    }
    for (key, name, path) in orphans {
        tracing::warn!(device = %key, file = %name, "removing dump file that has no database row");
        store::remove_quietly(&path);
        report.orphan_files_removed += 1;
    }
    if !missing.is_empty() {
        for (id, key, name) in rows.iter().filter(|(id, _, _)| missing.contains(id)) {
            tracing::warn!(id = %id, device = %key, file = %name, "removing coredump row whose file is missing");
        }
        report.rows_without_file_removed = coredumps::delete_by_ids(&conn, &missing)?;
    }
    if report != Report::default() {
        tracing::info!(?report, "reconciled coredump files and rows");
    }
    Ok(report)
}
