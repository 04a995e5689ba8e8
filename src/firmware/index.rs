//! The symbolization index of each stored firmware bundle (`firmware-<version>.idx` next to
//! `firmware-<version>.zip`; format in `decode/index/`).
//!
//! - Written when a bundle is uploaded (after the upload's commit; a failure is logged and
//!   the upload stands) and, for stored bundles without a usable one, by a background thread
//!   at start-up ([`spawn_builder`]).
//! - Opened by the parse workers ([`symbols_for`]) instead of unzipping the ELF: the first
//!   dump of a version decodes as fast as the hundredth, and no per-version DWARF state stays
//!   in memory between jobs.
//! - Never trusted blindly: the image carries a CRC-32 and format version, and a stamp of the
//!   bundle it was built from (length and modification time). A missing, stale, corrupt or
//!   old-format index is rebuilt from the bundle's ELF and replaced atomically.
//! - Removed with its bundle (deletion, retention, a raw `.bin` re-upload), and before a
//!   re-uploaded bundle replaces the old one.

use std::io;
use std::path::Path;
use std::time::{Instant, UNIX_EPOCH};

use super::bundle;
use crate::db::{Db, firmware, models};
use crate::decode::index::{IndexError, STAMP_LEN};
use crate::decode::{DecodeError, Symbolizer};
use crate::error::Result;
use crate::ids::{FirmwareVersion, ModelCode};
use crate::store::{self, Layout, atomic};

/// Largest index file read.
const MAX_INDEX_BYTES: u64 = 512 << 20;

/// What the decoder gets for one firmware version.
pub enum Symbols {
    /// No bundle with an ELF for this version.
    Missing,
    /// A symbolizer (from the index, or from the ELF when the index had to be rebuilt).
    Ready(Symbolizer),
    /// The bundle's ELF cannot be read as a firmware ELF.
    Invalid(DecodeError),
}

/// The stamp of a bundle file: its length and modification time (ns since the epoch). An
/// atomic rewrite of the bundle changes it.
pub fn stamp(meta: &std::fs::Metadata) -> [u8; STAMP_LEN] {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as u64);
    let mut s = [0u8; STAMP_LEN];
    s[..8].copy_from_slice(&meta.len().to_le_bytes());
    s[8..].copy_from_slice(&mtime.to_le_bytes());
    s
}

fn bundle_stamp(layout: &Layout, code: &ModelCode, v: &FirmwareVersion) -> io::Result<[u8; 16]> {
    std::fs::metadata(layout.bundle_path(code, v)).map(|m| stamp(&m))
}

/// Reads and verifies the index of a version against its bundle's current stamp.
pub fn open(
    layout: &Layout,
    code: &ModelCode,
    v: &FirmwareVersion,
    bundle_stamp: &[u8; STAMP_LEN],
) -> std::result::Result<Symbolizer, OpenError> {
    let path = layout.index_path(code, v);
    let file = std::fs::File::open(&path).map_err(OpenError::Io)?;
    let len = file.metadata().map_err(OpenError::Io)?.len();
    if len > MAX_INDEX_BYTES {
        return Err(OpenError::Index(IndexError::TooLarge));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    io::Read::read_to_end(&mut io::Read::take(file, MAX_INDEX_BYTES), &mut bytes)
        .map_err(OpenError::Io)?;
    Symbolizer::from_index(bytes, Some(bundle_stamp)).map_err(OpenError::Index)
}

/// Why an index could not be used.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Missing or unreadable.
    #[error("{0}")]
    Io(io::Error),
    /// Present but not usable (corrupt, truncated, old format, stale).
    #[error("{0}")]
    Index(IndexError),
}

/// Builds the index of `elf` for the bundle now at `bundle_stamp` and stores it atomically.
fn build_and_store(
    layout: &Layout,
    code: &ModelCode,
    v: &FirmwareVersion,
    symbolizer: &Symbolizer,
    bundle_stamp: [u8; STAMP_LEN],
) -> std::result::Result<usize, String> {
    let image = symbolizer
        .to_index(bundle_stamp)
        .map_err(|e| e.to_string())?;
    atomic::write(&layout.index_path(code, v), &image).map_err(|e| e.to_string())?;
    Ok(image.len())
}

/// Indexes a just-stored bundle (`body` is its ZIP). Failures are logged: the upload stands
/// and the first dump of the version builds the index instead.
pub fn index_uploaded(layout: &Layout, code: &ModelCode, v: &FirmwareVersion, body: &[u8]) {
    let started = Instant::now();
    let result = (|| -> std::result::Result<usize, String> {
        let mut archive = zip::ZipArchive::new(io::Cursor::new(body)).map_err(|e| e.to_string())?;
        let elf = bundle::read_member(
            &mut archive,
            &format!("{code}.elf"),
            crate::decode::MAX_ELF_BYTES,
        )
        .map_err(|e| e.to_string())?
        .ok_or("the bundle has no ELF")?;
        let symbolizer = Symbolizer::new(elf).map_err(|e| e.to_string())?;
        let stamp = bundle_stamp(layout, code, v).map_err(|e| e.to_string())?;
        build_and_store(layout, code, v, &symbolizer, stamp)
    })();
    match result {
        Ok(bytes) => {
            tracing::info!(model = %code, version = %v, bytes, ms = started.elapsed().as_secs_f64() * 1e3, "indexed firmware ELF")
        }
        Err(e) => {
            tracing::warn!(model = %code, version = %v, error = %e, "cannot index firmware ELF; its dumps decode from the ELF")
        }
    }
}

/// The symbolizer for dumps of `model_code` at `version`: from the version's index, or, when
/// that is missing or unusable, from the bundle's ELF (and the index is rebuilt from it).
/// `Missing` when there is no such bundle, it is unreadable as a ZIP, it has no ELF, or the
/// version was a raw `.bin` upload. An ELF over [`crate::decode::MAX_ELF_BYTES`] is an error.
pub fn symbols_for(db: &Db, layout: &Layout, model_code: &str, version: &str) -> Result<Symbols> {
    let (Some(code), Some(v)) = (
        ModelCode::parse(model_code),
        FirmwareVersion::parse(version),
    ) else {
        return Ok(Symbols::Missing);
    };
    let before = match bundle_stamp(layout, &code, &v) {
        Ok(s) => s,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Symbols::Missing),
        Err(e) => return Err(e.into()),
    };
    {
        let conn = db.conn()?;
        if let Some(model) = models::find_by_code(&conn, code.as_str())?
            && firmware::find(&conn, model.id, v.as_str())?.is_some_and(|r| !r.has_elf)
        {
            return Ok(Symbols::Missing);
        }
    }
    match open(layout, &code, &v, &before) {
        Ok(s) => return Ok(Symbols::Ready(s)),
        Err(OpenError::Io(e)) if e.kind() == io::ErrorKind::NotFound => {
            tracing::info!(model = %code, version = %v, "firmware has no index yet; building it from the ELF")
        }
        Err(e) => {
            tracing::warn!(model = %code, version = %v, error = %e, "firmware index unusable; rebuilding it from the ELF")
        }
    }
    let Some(elf) = super::elf_for(db, layout, model_code, version)? else {
        return Ok(Symbols::Missing);
    };
    let symbolizer = match Symbolizer::new(elf) {
        Ok(s) => s,
        Err(e) => return Ok(Symbols::Invalid(e)),
    };
    // Only an index of the bundle that was read is written (a re-upload may have replaced it).
    if bundle_stamp(layout, &code, &v).is_ok_and(|after| after == before)
        && let Err(e) = build_and_store(layout, &code, &v, &symbolizer, before)
    {
        tracing::warn!(model = %code, version = %v, error = %e, "cannot store firmware index");
    }
    Ok(Symbols::Ready(symbolizer))
}

/// Builds the missing or unusable indexes of every stored bundle, one at a time. Returns the
/// number written.
pub fn build_missing(db: &Db, layout: &Layout) -> Result<usize> {
    let mut versions = Vec::new();
    {
        let conn = db.conn()?;
        for model in models::list(&conn)? {
            for row in firmware::list_for_model(&conn, model.id)? {
                if row.has_elf {
                    versions.push((model.code.clone(), row.version));
                }
            }
        }
    }
    let mut written = 0;
    for (code, v) in versions {
        let Ok(stamp) = bundle_stamp(layout, &code, &v) else {
            continue;
        };
        if open(layout, &code, &v, &stamp).is_ok() {
            continue;
        }
        let Ok(Some(elf)) = super::elf_for(db, layout, code.as_str(), v.as_str()) else {
            continue;
        };
        let result = Symbolizer::new(elf)
            .map_err(|e| e.to_string())
            .and_then(|s| build_and_store(layout, &code, &v, &s, stamp));
        match result {
            Ok(_) => written += 1,
            Err(e) => {
                tracing::warn!(model = %code, version = %v, error = %e, "cannot index stored firmware ELF")
            }
        }
    }
    Ok(written)
}

/// Starts [`build_missing`] on a background thread (start-up).
pub fn spawn_builder(db: Db, layout: Layout) {
    let spawned = std::thread::Builder::new()
        .name("firmware-index".into())
        .spawn(move || match build_missing(&db, &layout) {
            Ok(0) => {}
            Ok(n) => tracing::info!(count = n, "built missing firmware indexes"),
            Err(e) => tracing::warn!(error = %e, "cannot build missing firmware indexes"),
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the firmware index builder");
    }
}

/// Removes a version's index (quietly).
pub fn remove(layout: &Layout, code: &ModelCode, v: &FirmwareVersion) {
    store::remove_quietly(&layout.index_path(code, v));
}

/// Whether a version's index file exists (for tests and tools).
pub fn exists(layout: &Layout, code: &ModelCode, v: &FirmwareVersion) -> bool {
    Path::new(&layout.index_path(code, v)).is_file()
}
