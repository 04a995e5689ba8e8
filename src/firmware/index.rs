//! The symbolization index of each stored firmware bundle (`firmware-<version>.idx` next to
//! `firmware-<version>.zip`; format in `decode/index/`), and the bundle's ELF unpacked beside
//! it (`firmware-<version>.elf`, written first), whose DWARF the workers map for the frames'
//! arguments and locals.
//!
//! - Written when a bundle is uploaded (after the upload's commit; a failure is logged and
//!   the upload stands) and, for stored bundles without a usable one, by a background thread
//!   at start-up ([`spawn_builder`]).
//! - Opened by the parse workers ([`symbols_for`]) instead of unzipping the ELF: the first
//!   dump of a version decodes as fast as the hundredth, and no per-version DWARF state stays
//!   in memory between jobs.
//! - Never trusted blindly: the image carries a CRC-32 and format version, a stamp of the
//!   bundle it was built from and of the unpacked ELF (lengths and modification times), and
//!   the ELF's length. A missing, stale, corrupt or old-format index, or a missing or replaced
//!   unpacked ELF, is rebuilt from the bundle's ELF and replaced atomically (one rebuild per
//!   version however many dumps meet it; not retried for a bundle that could not be indexed
//!   until the bundle changes).
//! - Removed with its bundle (deletion, retention, a raw `.bin` re-upload), and before a
//!   re-uploaded bundle replaces the old one.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Instant, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use super::bundle;
use crate::db::{Db, firmware, models};
use crate::decode::index::{IndexError, STAMP_LEN};
use crate::decode::{DecodeError, ElfData, Symbolizer};
use crate::error::Result;
use crate::ids::{FirmwareVersion, ModelCode};
use crate::store::{self, Layout, atomic};

/// Checks of one version's index by one queued rebuild (dumps meeting it meanwhile ask again).
const MAX_REBUILD_ROUNDS: usize = 4;
/// Largest index file read.
const MAX_INDEX_BYTES: u64 = 512 << 20;

type Task = Box<dyn FnOnce() + Send>;

/// Every index is built on one long-lived thread (uploads, start-up, rebuilds): building one
/// takes tens of MB for a few milliseconds, and on one thread that memory is reused instead of
/// being kept by the allocator of every request and worker thread that once built an index.
fn on_builder(task: Task) {
    static QUEUE: OnceLock<Option<Mutex<mpsc::Sender<Task>>>> = OnceLock::new();
    let queue = QUEUE.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Task>();
        std::thread::Builder::new()
            .name("firmware-index".into())
            .spawn(move || {
                for task in rx {
                    task();
                }
            })
            .map_err(|e| tracing::warn!(error = %e, "cannot start the firmware index builder"))
            .ok()
            .map(|_| Mutex::new(tx))
    });
    let rejected = match queue {
        Some(tx) => tx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(task)
            .err()
            .map(|e| e.0),
        None => Some(task),
    };
    // No builder thread: build here.
    if let Some(task) = rejected {
        task();
    }
}

/// Runs `f` on the builder thread and waits for its result.
fn on_builder_wait<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = mpsc::sync_channel(1);
    on_builder(Box::new(move || {
        let _ = tx.send(f());
    }));
    rx.recv().ok()
}

/// What the decoder gets for one firmware version.
pub enum Symbols {
    /// No bundle with an ELF for this version.
    Missing,
    /// A symbolizer (from the index, or from the ELF when the index had to be rebuilt).
    Ready(Arc<Symbolizer>),
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
    let elf_file = std::fs::File::open(layout.index_elf_path(code, v)).map_err(OpenError::Elf)?;
    let elf_meta = elf_file.metadata().map_err(OpenError::Elf)?;
    let indexed = Symbolizer::from_index(bytes, Some(&index_stamp(bundle_stamp, &elf_meta)))
        .map_err(OpenError::Index)?;
    let elf = ElfData::map(&elf_file).map_err(OpenError::Elf)?;
    indexed.with_elf_dwarf(elf).map_err(OpenError::Index)
}

/// The stamp an index carries: of its bundle and of the unpacked ELF beside it (length and
/// modification time of each, hashed into the 16 bytes). Replacing either file, even by one
/// of the same length, makes the index stale.
fn index_stamp(bundle_stamp: &[u8; STAMP_LEN], elf: &std::fs::Metadata) -> [u8; STAMP_LEN] {
    let mut h = Sha256::new();
    h.update(bundle_stamp);
    h.update(stamp(elf));
    let mut out = [0u8; STAMP_LEN];
    out.copy_from_slice(&h.finalize()[..STAMP_LEN]);
    out
}

/// Why an index could not be used.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Missing or unreadable.
    #[error("{0}")]
    Io(io::Error),
    /// Present but not usable (corrupt, truncated, old format, stale, or the ELF beside it
    /// is not the one it was built from).
    #[error("{0}")]
    Index(IndexError),
    /// The unpacked ELF beside the index is missing or unreadable.
    #[error("the unpacked ELF beside the index: {0}")]
    Elf(io::Error),
}

/// Builds the index of `elf` for the bundle at `bundle_stamp_now` and stores it (and the
/// unpacked ELF) atomically, unless the bundle changed meanwhile.
fn build_and_store(
    layout: &Layout,
    code: &ModelCode,
    v: &FirmwareVersion,
    symbolizer: &Symbolizer,
    bundle_stamp_now: [u8; STAMP_LEN],
) -> std::result::Result<usize, String> {
    // A version deleted or replaced while it was being indexed gets no files.
    if bundle_stamp(layout, code, v).ok() != Some(bundle_stamp_now) {
        return Err("the bundle was deleted or replaced while it was indexed".into());
    }
    // The ELF first: an index is only written once the ELF it names is in place, and it
    // carries that file's stamp.
    let elf_path = layout.index_elf_path(code, v);
    atomic::write(&elf_path, symbolizer.elf_bytes()).map_err(|e| e.to_string())?;
    let elf_meta = std::fs::metadata(&elf_path).map_err(|e| e.to_string())?;
    let image = symbolizer
        .to_index(index_stamp(&bundle_stamp_now, &elf_meta))
        .map_err(|e| e.to_string())?;
    atomic::write(&layout.index_path(code, v), &image).map_err(|e| e.to_string())?;
    Ok(image.len())
}

/// Indexes a just-stored bundle (`body` is its ZIP). Failures are logged: the upload stands
/// and the first dump of the version builds the index instead.
pub fn index_uploaded(layout: &Layout, code: &ModelCode, v: &FirmwareVersion, body: &[u8]) {
    let started = Instant::now();
    let task = {
        let (layout, code, v, body) = (layout.clone(), code.clone(), v.clone(), body.to_vec());
        move || -> std::result::Result<usize, String> {
            let mut archive =
                zip::ZipArchive::new(io::Cursor::new(&body)).map_err(|e| e.to_string())?;
            let elf = bundle::read_member(
                &mut archive,
                &format!("{code}.elf"),
                crate::decode::MAX_ELF_BYTES,
            )
            .map_err(|e| e.to_string())?
            .ok_or("the bundle has no ELF")?;
            let symbolizer = Symbolizer::new(elf).map_err(|e| e.to_string())?;
            let stamp = bundle_stamp(&layout, &code, &v).map_err(|e| e.to_string())?;
            build_and_store(&layout, &code, &v, &symbolizer, stamp)
        }
    };
    let result = on_builder_wait(task).unwrap_or_else(|| Err("the index builder stopped".into()));
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
        Ok(s) => return Ok(Symbols::Ready(Arc::new(s))),
        Err(OpenError::Io(e)) if e.kind() == io::ErrorKind::NotFound => {
            tracing::info!(model = %code, version = %v, "firmware has no index yet; building it from the ELF")
        }
        Err(OpenError::Elf(e)) => {
            tracing::warn!(model = %code, version = %v, error = %e, "the unpacked firmware ELF beside the index is unusable; rebuilding both from the bundle")
        }
        Err(e) => {
            tracing::warn!(model = %code, version = %v, error = %e, "firmware index unusable; rebuilding it from the ELF")
        }
    }
    let Some(elf) = super::elf_for(db, layout, model_code, version)? else {
        return Ok(Symbols::Missing);
    };
    let symbolizer = match Symbolizer::new(elf) {
        Ok(s) => Arc::new(s),
        Err(e) => return Ok(Symbols::Invalid(e)),
    };
    // The index is rebuilt beside this decode, not before it, on the builder thread, once per
    // version however many dumps meet the missing index (only the first one's symbolizer is
    // kept for it), and not again for a bundle that could not be indexed.
    queue_rebuild(db, layout, &code, &v, before, &symbolizer);
    Ok(Symbols::Ready(symbolizer))
}

/// Versions whose rebuild is queued, and versions whose bundle (at that stamp) could not be
/// indexed: a dump of them decodes from the ELF without queueing another attempt.
#[derive(Default)]
struct Rebuilds {
    /// Queued or running; `true`: asked again meanwhile (checked again when it ends).
    queued: HashMap<(ModelCode, FirmwareVersion), bool>,
    failed: HashMap<(ModelCode, FirmwareVersion), [u8; STAMP_LEN]>,
}

fn rebuilds() -> std::sync::MutexGuard<'static, Rebuilds> {
    static R: OnceLock<Mutex<Rebuilds>> = OnceLock::new();
    R.get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// Queues the rebuild of a version's index (and unpacked ELF) from `symbolizer` (of the bundle
/// at `stamp`), unless one is queued or the bundle at `stamp` already failed to index.
fn queue_rebuild(
    db: &Db,
    layout: &Layout,
    code: &ModelCode,
    v: &FirmwareVersion,
    stamp: [u8; STAMP_LEN],
    symbolizer: &Arc<Symbolizer>,
) {
    let key = (code.clone(), v.clone());
    {
        let mut r = rebuilds();
        if r.failed.get(&key) == Some(&stamp) {
            return;
        }
        if let Some(again) = r.queued.get_mut(&key) {
            // A rebuild is queued or running: it checks once more when it ends (this dump
            // may have met what it is replacing).
            *again = true;
            return;
        }
        r.queued.insert(key.clone(), false);
    }
    let (db, layout) = (db.clone(), layout.clone());
    let mut have = Some((symbolizer.clone(), stamp));
    on_builder(Box::new(move || {
        // `ensure` is a cheap check when the index is usable.
        for _ in 0..MAX_REBUILD_ROUNDS {
            ensure_with(&db, &layout, &key.0, &key.1, have.take());
            let mut r = rebuilds();
            match r.queued.get_mut(&key) {
                Some(again) if *again => *again = false,
                _ => break,
            }
        }
        rebuilds().queued.remove(&key);
    }));
}

/// The stored versions whose bundle has an ELF.
fn versions_with_elf(db: &Db) -> Result<Vec<(ModelCode, FirmwareVersion)>> {
    let conn = db.conn()?;
    let mut versions = Vec::new();
    for model in models::list(&conn)? {
        for row in firmware::list_for_model(&conn, model.id)? {
            if row.has_elf {
                versions.push((model.code.clone(), row.version));
            }
        }
    }
    Ok(versions)
}

/// Builds the index of one stored version unless a usable one is there; whether it built one.
fn ensure(db: &Db, layout: &Layout, code: &ModelCode, v: &FirmwareVersion) -> bool {
    ensure_with(db, layout, code, v, None)
}

/// [`ensure`], with a symbolizer of the bundle at a known stamp already at hand (a worker's,
/// from the dump that found the index unusable): used if the bundle has not changed since.
fn ensure_with(
    db: &Db,
    layout: &Layout,
    code: &ModelCode,
    v: &FirmwareVersion,
    have: Option<(Arc<Symbolizer>, [u8; STAMP_LEN])>,
) -> bool {
    let Ok(stamp) = bundle_stamp(layout, code, v) else {
        return false;
    };
    if open(layout, code, v, &stamp).is_ok() {
        return false;
    }
    let symbolizer = match have {
        Some((s, at)) if at == stamp => Ok(s),
        _ => {
            let Ok(Some(elf)) = super::elf_for(db, layout, code.as_str(), v.as_str()) else {
                return false;
            };
            Symbolizer::new(elf)
                .map(Arc::new)
                .map_err(|e| e.to_string())
        }
    };
    let result = symbolizer.and_then(|s| build_and_store(layout, code, v, &s, stamp));
    match result {
        Ok(_) => {
            tracing::info!(model = %code, version = %v, "built missing firmware index");
            rebuilds().failed.remove(&(code.clone(), v.clone()));
            true
        }
        Err(e) => {
            tracing::warn!(model = %code, version = %v, error = %e, "cannot index stored firmware ELF; its dumps decode from the ELF");
            rebuilds().failed.insert((code.clone(), v.clone()), stamp);
            false
        }
    }
}

/// Builds the missing or unusable indexes of every stored bundle, one at a time, here.
/// Returns the number written.
pub fn build_missing(db: &Db, layout: &Layout) -> Result<usize> {
    Ok(versions_with_elf(db)?
        .iter()
        .filter(|(code, v)| ensure(db, layout, code, v))
        .count())
}

/// Queues the check (and, where needed, the build) of every stored bundle's index on the
/// index builder thread, one task per version (start-up); returns at once. An upload in the
/// first moments waits for the tasks queued before it (a few ms per stored version, more for
/// those whose index is built).
pub fn spawn_builder(db: Db, layout: Layout) {
    let versions = match versions_with_elf(&db) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list firmware versions to index");
            return;
        }
    };
    for (code, v) in versions {
        let (db, layout) = (db.clone(), layout.clone());
        on_builder(Box::new(move || {
            ensure(&db, &layout, &code, &v);
        }));
    }
}

/// Removes a version's index and its unpacked ELF (quietly).
pub fn remove(layout: &Layout, code: &ModelCode, v: &FirmwareVersion) {
    store::remove_quietly(&layout.index_path(code, v));
    store::remove_quietly(&layout.index_elf_path(code, v));
}
