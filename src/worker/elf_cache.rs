//! The app ELFs the workers took out of firmware bundles recently for the sidecar (the built-in
//! decoder reads the version's symbolization index instead, see `firmware::index`), so the dumps
//! of one firmware version do not unzip the same multi-megabyte ELF again for every job (about 10 ms for a 3.7 MB
//! ELF on the development VM, far more on a Raspberry Pi).
//!
//! An entry is keyed by model and version and is valid only while the bundle file is the same
//! one (inode, length and modification time): a re-uploaded bundle is written atomically to a
//! new file, so it is read afresh. Bounded by entry count and total bytes.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::db::Db;
use crate::error::Result;
use crate::ids::{FirmwareVersion, ModelCode};
use crate::store::Layout;

/// ELFs kept at most.
const MAX_ENTRIES: usize = 8;
/// Bytes of ELF kept at most.
const MAX_BYTES: usize = 128 << 20;

#[derive(Clone, PartialEq, Eq)]
struct Key {
    model: String,
    version: String,
    len: u64,
    modified: Option<SystemTime>,
    /// The file's inode: bundles are replaced by rename, so a new bundle is a new inode even
    /// where modification times are coarse.
    ino: u64,
}

#[cfg(unix)]
fn inode(m: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(m)
}

#[cfg(not(unix))]
fn inode(_: &std::fs::Metadata) -> u64 {
    0
}

/// An app ELF with its SHA-256 (computed once, so the symbolizer cache is looked up without
/// hashing megabytes for every dump).
#[derive(Clone)]
pub struct Elf {
    /// The ELF file's contents, shared between the cache and running jobs.
    pub bytes: Arc<Vec<u8>>,
    /// SHA-256 of `bytes`.
    pub sha256: [u8; 32],
}

/// Recently used ELFs, most recent last.
#[derive(Default)]
pub struct ElfCache {
    entries: Mutex<Vec<(Key, Elf)>>,
}

impl ElfCache {
    /// The `.elf` of `model_code` at `version` (see `firmware::elf_for`), from the cache when
    /// the bundle file has not changed since it was read.
    pub fn get(
        &self,
        db: &Db,
        layout: &Layout,
        model_code: &str,
        version: &str,
    ) -> Result<Option<Elf>> {
        let key = match (
            ModelCode::parse(model_code),
            FirmwareVersion::parse(version),
        ) {
            (Some(code), Some(v)) => {
                std::fs::metadata(layout.bundle_path(&code, &v))
                    .ok()
                    .map(|m| Key {
                        model: model_code.to_string(),
                        version: version.to_string(),
                        len: m.len(),
                        modified: m.modified().ok(),
                        ino: inode(&m),
                    })
            }
            _ => None,
        };
        if let Some(key) = &key {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(pos) = entries.iter().position(|(k, _)| k == key) {
                let entry = entries.remove(pos);
                let elf = entry.1.clone();
                entries.push(entry);
                return Ok(Some(elf));
            }
        }
        let Some(elf) = crate::firmware::elf_for(db, layout, model_code, version)? else {
            return Ok(None);
        };
        let elf = Elf {
            sha256: Sha256::digest(&elf).into(),
            bytes: Arc::new(elf),
        };
        if let Some(key) = key.filter(|_| elf.bytes.len() <= MAX_BYTES) {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            entries.retain(|(k, _)| !(k.model == key.model && k.version == key.version));
            entries.push((key, elf.clone()));
            let mut total: usize = entries.iter().map(|(_, e)| e.bytes.len()).sum();
            while entries.len() > MAX_ENTRIES || total > MAX_BYTES {
                total -= entries[0].1.bytes.len();
                entries.remove(0);
            }
        }
        Ok(Some(elf))
    }
}
