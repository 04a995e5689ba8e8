//! Startup reconciliation of firmware files and `firmware_versions` rows, logged:
//!
//! - temp files of interrupted atomic writes (`.tmp-*`) are removed;
//! - a row whose version has neither its bundle nor its `.bin` (nor, for the current version,
//!   the legacy flat file) is removed: nothing could be served or decoded from it;
//! - a stored version without a row is *adopted*, not deleted: a `firmware-<v>.zip` that passes
//!   the bundle checks (and whose app image says `<v>`) or a `firmware-<v>.bin` whose app image
//!   says `<v>`. This takes over an `ASSETS_DIR` of the original system (which has no rows) and
//!   an upload that crashed between its file writes and its commit. Files that fail the checks
//!   are left alone with a warning. A model without a current version gets the newest adopted one.

use std::collections::HashSet;
use std::path::Path;

use super::{app_image, bundle, service};
use crate::db::{Db, firmware, models};
use crate::error::Result;
use crate::ids::{FirmwareVersion, ModelCode};
use crate::store::{self, FirmwareFile, Layout};

/// Largest stored file read for adoption.
const MAX_ADOPT_BYTES: u64 = 256 << 20;

/// What reconciliation did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Temp files of interrupted writes (`.tmp-*`), deleted.
    pub temp_files_removed: usize,
    /// Rows whose version had no file left, deleted.
    pub rows_without_files_removed: usize,
    /// Stored versions without a row that passed the checks and got one.
    pub versions_adopted: usize,
}

/// Reconciles the firmware folder of `layout` with the `firmware_versions` rows.
pub fn run(db: &Db, layout: &Layout) -> Result<Report> {
    let conn = db.conn()?;
    let mut report = Report::default();
    remove_temp_files(&layout.assets_dir, &mut report);
    for model in models::list(&conn)? {
        let code = model.code.clone();
        let dir = layout.model_dir(&code);
        remove_temp_files(&dir, &mut report);
        let mut known = HashSet::new();
        for row in firmware::list_for_model(&conn, model.id)? {
            let v = &row.version;
            let present = layout.bundle_path(&code, v).is_file()
                || layout.firmware_bin_path(&code, v).is_file()
                || (model.firmware_version.as_ref() == Some(v)
                    && layout.legacy_bin_path(&code).is_file());
            if present {
                known.insert(row.version.to_string());
            } else {
                tracing::warn!(model = %code, version = %row.version, "removing firmware row whose files are missing");
                firmware::delete(&conn, model.id, row.version.as_str())?;
                // With its derived files (index, unpacked ELF), if any were left.
                super::index::remove(layout, &code, v);
                report.rows_without_files_removed += 1;
            }
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        // Bundles first, so a bundle's extracted .bin is not adopted as a raw version.
        names.sort_by_key(|n| (!n.ends_with(".zip"), n.clone()));
        let mut adopted: Vec<(String, String)> = Vec::new();
        for name in names {
            let Some((version, file)) = Layout::parse_firmware_file_name(&name) else {
                continue;
            };
            let is_zip = file == FirmwareFile::Bundle;
            if known.contains(version.as_str()) {
                continue;
            }
            let path = dir.join(&name);
            match adopt(&path, &code, &version, is_zip) {
                Ok((facts, uploaded_at)) => {
                    firmware::upsert(
                        &conn,
                        &firmware::NewFirmware {
                            model_id: model.id,
                            version: version.as_str(),
                            sha256: &facts.sha256,
                            size: facts.size,
                            bundle_size: facts.bundle_size,
                            has_elf: is_zip,
                            uploaded_at: Some(&uploaded_at),
                        },
                    )?;
                    tracing::info!(model = %code, version = %version, file = %name, "adopted stored firmware that had no database row");
                    known.insert(version.to_string());
                    adopted.push((uploaded_at, version.to_string()));
                    report.versions_adopted += 1;
                }
                Err(e) => {
                    tracing::warn!(model = %code, file = %name, error = %e, "leaving stored firmware that cannot be adopted")
                }
            }
        }
        if model.firmware_version.is_none()
            && let Some((_, newest)) = adopted.iter().max()
        {
            models::set_firmware_version(&conn, model.id, Some(newest))?;
        }
    }
    if report != Report::default() {
        tracing::info!(?report, "reconciled firmware files and rows");
    }
    Ok(report)
}

struct Facts {
    sha256: String,
    size: i64,
    bundle_size: Option<i64>,
}

/// Checks a stored file as an upload would be checked; returns its row facts and its mtime.
fn adopt(
    path: &Path,
    code: &ModelCode,
    version: &FirmwareVersion,
    is_zip: bool,
) -> Result<(Facts, String)> {
    let meta = std::fs::metadata(path)?;
    if meta.len() > MAX_ADOPT_BYTES {
        return Err(crate::error::Error::Validation(format!(
            "larger than {MAX_ADOPT_BYTES} bytes"
        )));
    }
    let bytes = std::fs::read(path)?;
    let bin = if is_zip {
        bundle::check(code, &bytes, &bundle::Limits::default())?.bin
    } else {
        bytes.clone()
    };
    let found = app_image::version(&bin)?;
    if found != version.as_str() {
        return Err(crate::error::Error::Validation(format!(
            "the app image says version {found:?}"
        )));
    }
    let uploaded_at = meta
        .modified()
        .map(|t| crate::db::format_ts(chrono::DateTime::<chrono::Utc>::from(t)))
        .unwrap_or_else(|_| crate::db::now());
    Ok((
        Facts {
            sha256: service::sha256_hex(&bin),
            size: bin.len() as i64,
            bundle_size: is_zip.then_some(bytes.len() as i64),
        },
        uploaded_at,
    ))
}

fn remove_temp_files(dir: &Path, report: &mut Report) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        if Layout::is_temp_file_name(&name.to_string_lossy()) && e.path().is_file() {
            store::remove_quietly(&e.path());
            report.temp_files_removed += 1;
        }
    }
}
