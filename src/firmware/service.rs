//! Firmware as stored things: an upload (validate → store → row → current version → prune →
//! re-queue dumps that waited for this bundle), the current app image a device downloads, a
//! model's version list, one stored version (admin download), deleting a version, and the ELF
//! of a version for the decoder. Blocking; shared by the API, the dashboard and the CLI.
//!
//! Files are written before the row that names them and removed after the row that named them
//! is gone, so a row never points at a missing file. Uploads write their files inside
//! `Db::write` (the in-process write lock and an `IMMEDIATE` transaction), so two uploads (also
//! from the CLI while `serve` runs) are serialized and the legacy flat `.bin` always matches the
//! current version.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{app_image, bundle, retention};
use crate::audit::{self, Actor};
use crate::config::Config;
use crate::db::{Db, coredumps, firmware, models};
use crate::error::{Error, Result};
use crate::ids::{CoredumpId, FirmwareVersion, ModelCode, ModelId};
use crate::store::{self, Layout, atomic};
use crate::worker::Jobs;

/// The result of an accepted upload.
#[derive(Debug, Serialize)]
pub struct Uploaded {
    /// Row id of the model.
    pub id: ModelId,
    /// The model's code.
    pub code: String,
    /// The uploaded version.
    pub firmware_version: String,
    /// Whether it became the model target (not with `target=false`).
    pub target: bool,
    /// Whether the upload carried the app ELF (needed to decode this version's dumps).
    pub has_elf: bool,
    /// Things the uploader should know but that did not stop the upload.
    pub warnings: Vec<String>,
    /// Versions removed by `MAX_FIRMWARES` retention.
    pub pruned: Vec<String>,
    /// Dumps that waited for this bundle and are parsed again.
    pub requeued: Vec<CoredumpId>,
}

fn find_model(conn: &rusqlite::Connection, code: &str) -> Result<(models::Model, ModelCode)> {
    let model =
        models::find_by_code(conn, code)?.ok_or_else(|| Error::not_found("DeviceModel", code))?;
    let code = model.code.clone();
    Ok((model, code))
}

/// The 400 for a version that cannot become part of a file name.
fn unsafe_version(v: &str) -> Error {
    let shown: String = v.chars().take(40).collect();
    Error::Validation(format!(
        "Invalid firmware: version {shown:?} cannot be stored (allowed: 1 to 31 of A-Z a-z 0-9 . _ + -)"
    ))
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Validates and stores a firmware upload for model `code`: a ZIP bundle (the original system's
/// checks plus hardening, see [`bundle`]) or a legacy raw `.bin`; it becomes the model target.
/// Dumps re-queued by a bundle are handed to `jobs` after the commit.
pub fn upload(
    db: &Db,
    layout: &Layout,
    config: &Config,
    jobs: &Jobs,
    code: &str,
    body: &[u8],
    actor: &Actor,
) -> Result<Uploaded> {
    let how = How {
        make_target: true,
        actor,
    };
    upload_with(db, layout, config, jobs, code, body, &how)
}

/// How an upload is made: whether the version becomes the model target (`false`: a canary
/// build stored for a canary or pins; what devices get does not change), and by whom.
pub struct How<'a> {
    /// Make the version the model target.
    pub make_target: bool,
    /// Who uploads (for the audit log).
    pub actor: &'a Actor,
}

/// [`upload`], choosing whether the version becomes the model target.
pub fn upload_with(
    db: &Db,
    layout: &Layout,
    config: &Config,
    jobs: &Jobs,
    code: &str,
    body: &[u8],
    how: &How<'_>,
) -> Result<Uploaded> {
    let (make_target, actor) = (how.make_target, how.actor);
    let (model, code) = find_model(&*db.conn()?, code)?;
    if body.is_empty() {
        return Err(Error::Validation("No firmware content provided".into()));
    }
    if body.len() as u64 > config.max_bundle_bytes {
        return Err(too_large(config.max_bundle_bytes));
    }

    // Validate everything before touching the disk.
    let is_bundle = bundle::is_zip(body);
    let (bin, info) = if is_bundle {
        let b = bundle::check(&code, body, &bundle::Limits::default())?;
        (std::borrow::Cow::Owned(b.bin), Some(b.info))
    } else {
        (std::borrow::Cow::Borrowed(body), None)
    };
    let raw_version = app_image::version(&bin)?;
    let version =
        FirmwareVersion::parse(&raw_version).ok_or_else(|| unsafe_version(&raw_version))?;
    let mut warnings = Vec::new();
    if let Some(declared) = info.as_ref().and_then(|i| i.get("firmware_version")) {
        let declared = match declared {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if declared != raw_version {
            let w = format!(
                "version.json firmware_version {declared:?} differs from the app image version {raw_version:?}; the app image version is used"
            );
            tracing::warn!(model = %code, version = %version, "{w}");
            warnings.push(w);
        }
    }
    let sha256 = sha256_hex(&bin);

    // Store: files first (under the write lock), then the rows, then remove what was pruned.
    let bundle_path = layout.bundle_path(&code, &version);
    let bin_path = layout.firmware_bin_path(&code, &version);
    let mut existed = true;
    let stored = db.write(|tx| -> Result<(Vec<String>, Vec<CoredumpId>)> {
        existed = firmware::find(tx, model.id, version.as_str())?.is_some();
        if is_bundle {
            // The old bundle's index goes first: it never outlives the bundle it describes.
            super::index::remove(layout, &code, &version);
            atomic::write(&bundle_path, body)?;
        }
        atomic::write(&bin_path, &bin)?;
        if make_target {
            atomic::write(&layout.legacy_bin_path(&code), &bin)?;
        }
        firmware::upsert(
            tx,
            &firmware::NewFirmware {
                model_id: model.id,
                version: version.as_str(),
                sha256: &sha256,
                size: bin.len() as i64,
                bundle_size: is_bundle.then_some(body.len() as i64),
                has_elf: is_bundle,
                uploaded_at: None,
            },
        )?;
        if make_target {
            models::set_firmware_version(tx, model.id, Some(version.as_str()))?;
        }
        let newest_first: Vec<String> = firmware::list_for_model(tx, model.id)?
            .into_iter()
            .map(|r| r.version.to_string())
            .collect();
        // Kept whatever their age: versions PENDING dumps need, the target, the canary version
        // and pinned versions.
        let pending: HashSet<String> = coredumps::pending_firmware_versions(tx, model.id)?
            .into_iter()
            .chain(crate::rollout::service::protected_versions(tx, model.id)?)
            .collect();
        let pruned = retention::to_prune(
            &newest_first,
            config.max_firmwares as usize,
            &pending,
            Some(version.as_str()),
        );
        for v in &pruned {
            firmware::delete(tx, model.id, v)?;
        }
        let requeued = if is_bundle {
            coredumps::requeue_missing_firmware(tx, model.id, &version)?
        } else {
            Vec::new()
        };
        audit::record(
            tx,
            actor,
            "firmware.upload",
            &format!("model:{code}"),
            json!({
                "version": version.as_str(),
                "bundle": is_bundle,
                "target": make_target,
                "replaced": existed,
                "image_sha256": sha256,
                "pruned": pruned,
            }),
        )?;
        Ok((pruned, requeued))
    });
    let (pruned, requeued) = match stored {
        Ok(r) => r,
        Err(e) => {
            // No row names a new version's files: remove them (a replaced version keeps the
            // new files under its old row; the legacy file cannot be rolled back).
            if !existed {
                store::remove_quietly(&bundle_path);
                store::remove_quietly(&bin_path);
            }
            return Err(e);
        }
    };
    if is_bundle {
        // Before the dumps that waited for it are queued, so they decode from the index.
        super::index::index_uploaded(layout, &code, &version, body);
    } else {
        // A raw re-upload of a version replaces its bundle: the old ELF no longer matches.
        super::index::remove(layout, &code, &version);
        store::remove_quietly(&bundle_path);
    }
    for v in &pruned {
        remove_version_files(layout, &code, v);
    }
    if !pruned.is_empty() {
        tracing::info!(model = %code, pruned = ?pruned, "pruned old firmware versions (limit={})", config.max_firmwares);
    }
    for id in &requeued {
        jobs.enqueue(*id);
    }
    if !requeued.is_empty() {
        tracing::info!(model = %code, version = %version, count = requeued.len(), "re-queued dumps that waited for this firmware");
    }
    // The image's size next to the image's hash (what devices download and the ETag is), and
    // the upload's size apart from them.
    tracing::info!(model = %code, version = %version, bundle = is_bundle, upload_size = body.len(), image_size = bin.len(), image_sha256 = %sha256, "stored firmware");
    Ok(Uploaded {
        id: model.id,
        code: code.to_string(),
        firmware_version: version.to_string(),
        target: make_target,
        has_elf: is_bundle,
        warnings,
        pruned,
        requeued,
    })
}

/// The 413 text for a bundle over the limit.
pub fn too_large(limit: u64) -> Error {
    Error::TooLarge(format!(
        "Firmware bundle exceeds maximum size of {limit} bytes"
    ))
}

fn remove_version_files(layout: &Layout, code: &ModelCode, version: &str) {
    if let Some(v) = FirmwareVersion::parse(version) {
        super::index::remove(layout, code, &v);
        store::remove_quietly(&layout.bundle_path(code, &v));
        store::remove_quietly(&layout.firmware_bin_path(code, &v));
    }
}

/// An open file to send, with what the response headers need.
#[derive(Debug)]
pub struct OpenFile {
    /// The opened file.
    pub file: File,
    /// Its length in bytes.
    pub len: u64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    /// The download name.
    pub filename: String,
}

fn open_existing(path: &Path) -> Result<Option<(File, std::fs::Metadata)>> {
    match File::open(path) {
        Ok(f) => {
            let meta = f.metadata()?;
            Ok(meta.is_file().then_some((f, meta)))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// SHA-256 of files without a row that states it (the legacy flat `.bin`, files from an older
/// data dir), computed once per file identity (path, length, mtime). Bounded; cleared when full.
fn cached_sha256(path: &Path, file: &mut File, meta: &std::fs::Metadata) -> Result<String> {
    type Key = (PathBuf, u64, Option<SystemTime>);
    static CACHE: OnceLock<Mutex<std::collections::HashMap<Key, String>>> = OnceLock::new();
    let key: Key = (path.to_path_buf(), meta.len(), meta.modified().ok());
    let cache = CACHE.get_or_init(Default::default);
    if let Some(hit) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(hit);
    }
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(buf.get(..n).unwrap_or_default());
    }
    io::Seek::rewind(file)?;
    let sha = hex::encode(hasher.finalize());
    if let Ok(mut c) = cache.lock() {
        if c.len() >= 256 {
            c.clear();
        }
        c.insert(key, sha.clone());
    }
    Ok(sha)
}

/// The app image a device of model `code` downloads: the current version's `.bin` (kept next
/// to its bundle, or extracted from the bundle once if an older data dir lacks it), else the
/// legacy flat `.bin`. 404 `Firmware <code> was not found` when there is none.
pub fn current_image(db: &Db, layout: &Layout, code: &str) -> Result<OpenFile> {
    let conn = db.conn()?;
    let (model, code) = find_model(&conn, code)?;
    let filename = format!("firmware-{code}.bin");
    if let Some(version) = model.firmware_version.clone() {
        let row = firmware::find(&conn, model.id, version.as_str())?;
        drop(conn);
        let bin_path = layout.firmware_bin_path(&code, &version);
        if open_existing(&bin_path)?.is_none() {
            extract_bin(layout, &code, &version);
        }
        if let Some((mut file, meta)) = open_existing(&bin_path)? {
            let sha256 = match row {
                Some(r) if r.size as u64 == meta.len() => r.sha256,
                _ => cached_sha256(&bin_path, &mut file, &meta)?,
            };
            return Ok(OpenFile {
                file,
                len: meta.len(),
                sha256,
                filename,
            });
        }
    }
    let legacy = layout.legacy_bin_path(&code);
    if let Some((mut file, meta)) = open_existing(&legacy)? {
        let sha256 = cached_sha256(&legacy, &mut file, &meta)?;
        return Ok(OpenFile {
            file,
            len: meta.len(),
            sha256,
            filename,
        });
    }
    Err(Error::NotFound(format!("Firmware {code} was not found")))
}

/// The app image of one stored version of model `code` (a pinned or canary device's download):
/// its `.bin` (extracted from the bundle once if missing). 404 when the version is not stored.
pub fn version_image(db: &Db, layout: &Layout, code: &str, version: &str) -> Result<OpenFile> {
    let conn = db.conn()?;
    let (model, code) = find_model(&conn, code)?;
    let missing = || Error::NotFound(format!("Firmware {code} version {version} was not found"));
    let v = FirmwareVersion::parse(version).ok_or_else(missing)?;
    let row = firmware::find(&conn, model.id, v.as_str())?.ok_or_else(missing)?;
    drop(conn);
    let bin_path = layout.firmware_bin_path(&code, &v);
    if open_existing(&bin_path)?.is_none() {
        extract_bin(layout, &code, &v);
    }
    let (mut file, meta) = open_existing(&bin_path)?.ok_or_else(missing)?;
    let sha256 = if row.size as u64 == meta.len() {
        row.sha256
    } else {
        cached_sha256(&bin_path, &mut file, &meta)?
    };
    Ok(OpenFile {
        file,
        len: meta.len(),
        sha256,
        filename: format!("firmware-{code}.bin"),
    })
}

/// Writes `firmware-<version>.bin` from the version's bundle (data dirs from before the
/// extracted copy existed). Failures are logged: the caller falls back to the legacy file.
fn extract_bin(layout: &Layout, code: &ModelCode, version: &FirmwareVersion) {
    let path = layout.bundle_path(code, version);
    let Ok(file) = File::open(&path) else {
        return;
    };
    let result = (|| -> Result<Option<Vec<u8>>> {
        let mut archive = zip::ZipArchive::new(io::BufReader::new(file))
            .map_err(|e| Error::Validation(e.to_string()))?;
        bundle::read_member(
            &mut archive,
            &format!("{code}.bin"),
            bundle::Limits::default().max_bin,
        )
    })();
    match result {
        Ok(Some(bin)) => {
            if let Err(e) = atomic::write(&layout.firmware_bin_path(code, version), &bin) {
                tracing::warn!(model = %code, version = %version, error = %e, "cannot store extracted app image");
            }
        }
        Ok(None) => {
            tracing::warn!(model = %code, version = %version, "firmware bundle has no app image")
        }
        Err(e) => {
            tracing::warn!(model = %code, version = %version, error = %e, "cannot read firmware bundle")
        }
    }
}

/// A version as the admin list shows it.
#[derive(Debug, Serialize)]
pub struct VersionSummary {
    /// The version string.
    pub version: String,
    /// Bytes of the app image (what devices download).
    pub size: i64,
    /// Hex SHA-256 of the app image (the device download's ETag).
    pub sha256: String,
    /// Bytes of the stored ZIP bundle; `null` for a raw `.bin` upload.
    pub bundle_size: Option<i64>,
    /// Whether the bundle carried the app ELF.
    pub has_elf: bool,
    /// When the version was last uploaded (UTC).
    pub uploaded_at: crate::ids::Timestamp,
    /// Whether this is the model's current version (what devices get).
    pub current: bool,
}

/// A model's stored versions, newest upload first.
pub fn list(db: &Db, code: &str) -> Result<Vec<VersionSummary>> {
    let conn = db.conn()?;
    let (model, _) = find_model(&conn, code)?;
    let current = model.firmware_version.as_ref();
    Ok(firmware::list_for_model(&conn, model.id)?
        .into_iter()
        .map(|r| VersionSummary {
            current: current == Some(&r.version),
            version: r.version.to_string(),
            size: r.size,
            sha256: r.sha256,
            bundle_size: r.bundle_size,
            has_elf: r.has_elf,
            uploaded_at: r.uploaded_at,
        })
        .collect())
}

/// One stored version for download: the bundle ZIP, else its `.bin` (raw uploads), else, for
/// the current version only, the legacy flat `.bin`.
pub fn open_stored(db: &Db, layout: &Layout, code: &str, version: &str) -> Result<OpenFile> {
    let conn = db.conn()?;
    let (model, code) = find_model(&conn, code)?;
    let missing = || Error::not_found("FirmwareVersion", version);
    let v = FirmwareVersion::parse(version).ok_or_else(missing)?;
    let row = firmware::find(&conn, model.id, v.as_str())?.ok_or_else(missing)?;
    drop(conn);
    let bundle_path = layout.bundle_path(&code, &v);
    if let Some((mut file, meta)) = open_existing(&bundle_path)? {
        let sha256 = cached_sha256(&bundle_path, &mut file, &meta)?;
        return Ok(OpenFile {
            file,
            len: meta.len(),
            sha256,
            filename: format!("firmware-{code}-{v}.zip"),
        });
    }
    let mut candidates = vec![layout.firmware_bin_path(&code, &v)];
    if model.firmware_version.as_ref() == Some(&v) {
        candidates.push(layout.legacy_bin_path(&code));
    }
    for path in candidates {
        if let Some((file, meta)) = open_existing(&path)? {
            return Ok(OpenFile {
                file,
                len: meta.len(),
                sha256: row.sha256,
                filename: format!("firmware-{code}-{v}.bin"),
            });
        }
    }
    Err(Error::NotFound(format!(
        "Firmware file for {code} version {v} was not found"
    )))
}

/// Deletes a stored version (row, then files). The current version cannot be deleted while
/// devices use it; without devices, the newest remaining version becomes current.
pub fn delete_version(
    db: &Db,
    layout: &Layout,
    code: &str,
    version: &str,
    actor: &Actor,
) -> Result<()> {
    let (model, code) = find_model(&*db.conn()?, code)?;
    let missing = || Error::not_found("FirmwareVersion", version);
    let v = FirmwareVersion::parse(version).ok_or_else(missing)?;
    let is_current = model.firmware_version.as_ref() == Some(&v);
    {
        let conn = db.conn()?;
        if crate::db::rollouts::find(&conn, model.id)?
            .version
            .as_deref()
            == Some(v.as_str())
        {
            return Err(Error::InvalidOperation(format!(
                "Cannot delete firmware version {v} because it is the canary version of model {code}"
            )));
        }
        let pinned = crate::db::devices::pins_of_model(&conn, model.id)?
            .into_iter()
            .filter(|(_, p)| p == v.as_str())
            .count();
        if pinned > 0 {
            return Err(Error::InvalidOperation(format!(
                "Cannot delete firmware version {v} because {pinned} device(s) of model {code} are pinned to it"
            )));
        }
    }
    if is_current && model.device_count > 0 {
        return Err(Error::InvalidOperation(format!(
            "Cannot delete firmware version {v} because it is the current version of model {code} and {} device(s) use it",
            model.device_count
        )));
    }
    let new_current = db.write(|tx| -> Result<Option<Option<String>>> {
        if !firmware::delete(tx, model.id, v.as_str())? {
            return Err(missing());
        }
        audit::record(
            tx,
            actor,
            "firmware.delete",
            &format!("model:{code}"),
            json!({"version": v.as_str()}),
        )?;
        if !is_current {
            return Ok(None);
        }
        let next = firmware::list_for_model(tx, model.id)?
            .into_iter()
            .next()
            .map(|r| r.version.to_string());
        models::set_firmware_version(tx, model.id, next.as_deref())?;
        Ok(Some(next))
    })?;
    remove_version_files(layout, &code, v.as_str());
    if let Some(next) = new_current {
        // The legacy flat file follows the current version.
        let legacy = layout.legacy_bin_path(&code);
        let source = next
            .as_deref()
            .and_then(FirmwareVersion::parse)
            .map(|n| layout.firmware_bin_path(&code, &n));
        match source.map(|p| File::open(&p)) {
            Some(Ok(mut src)) => {
                if let Err(e) = atomic::write_with(&legacy, |f| io::copy(&mut src, f).map(|_| ())) {
                    tracing::warn!(model = %code, error = %e, "cannot update the legacy firmware file");
                }
            }
            _ => store::remove_quietly(&legacy),
        }
    }
    tracing::info!(model = %code, version = %v, "deleted firmware version");
    Ok(())
}

/// The `.elf` of a model's stored bundle for `version`, for decoding that version's dumps.
/// `None` when there is no such bundle, it is unreadable as a ZIP, it has no ELF, or the version
/// was a raw `.bin` upload. An ELF over [`crate::decode::MAX_ELF_BYTES`] is an error.
pub fn elf_for(
    db: &Db,
    layout: &Layout,
    model_code: &str,
    version: &str,
) -> Result<Option<Vec<u8>>> {
    let (Some(code), Some(v)) = (
        ModelCode::parse(model_code),
        FirmwareVersion::parse(version),
    ) else {
        return Ok(None);
    };
    {
        let conn = db.conn()?;
        if let Some(model) = models::find_by_code(&conn, code.as_str())?
            && firmware::find(&conn, model.id, v.as_str())?.is_some_and(|r| !r.has_elf)
        {
            return Ok(None);
        }
    }
    let path = layout.bundle_path(&code, &v);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut archive = match zip::ZipArchive::new(io::BufReader::new(file)) {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(model = %code, version = %v, error = %e, "firmware bundle is not a readable ZIP");
            return Ok(None);
        }
    };
    bundle::read_member(
        &mut archive,
        &format!("{code}.elf"),
        crate::decode::MAX_ELF_BYTES,
    )
}
