//! Files on disk. [`Layout`] builds every path crashbox stores something at; [`atomic`] writes
//! them so that a reader sees either the old file or the complete new one, never a torn one.
//!
//! This module knows files only; which files should exist is decided by `coredump/` and
//! `firmware/`, which also know the rows.

pub mod atomic;

use std::io;
use std::path::{Path, PathBuf};

use crate::ids::{DeviceKey, FirmwareVersion, ModelCode};

/// The on-disk layout (upstream-spec §3).
#[derive(Debug, Clone)]
pub struct Layout {
    pub coredumps_dir: PathBuf,
    pub assets_dir: PathBuf,
}

impl Layout {
    pub fn new(coredumps_dir: PathBuf, assets_dir: PathBuf) -> Layout {
        Layout {
            coredumps_dir,
            assets_dir,
        }
    }

    /// `COREDUMPS_DIR/<device_key>/`
    pub fn device_dir(&self, key: &DeviceKey) -> PathBuf {
        self.coredumps_dir.join(key.as_str())
    }

    /// `COREDUMPS_DIR/<device_key>/<filename>`; `None` if the stored name is not a plain
    /// dump file name (it never should be, but the name comes from the database).
    pub fn coredump_path(&self, key: &DeviceKey, filename: &str) -> Option<PathBuf> {
        is_plain_name(filename).then(|| self.device_dir(key).join(filename))
    }

    /// `ASSETS_DIR/<model_code>/`
    pub fn model_dir(&self, code: &ModelCode) -> PathBuf {
        self.assets_dir.join(code.as_str())
    }

    /// `ASSETS_DIR/<model_code>/firmware-<version>.zip`
    pub fn bundle_path(&self, code: &ModelCode, version: &FirmwareVersion) -> PathBuf {
        self.model_dir(code).join(format!("firmware-{version}.zip"))
    }

    /// `ASSETS_DIR/<model_code>/firmware-<version>.bin`: the app image of a version, kept next
    /// to its bundle so device downloads stream a plain file (and raw `.bin` uploads keep theirs).
    pub fn firmware_bin_path(&self, code: &ModelCode, version: &FirmwareVersion) -> PathBuf {
        self.model_dir(code).join(format!("firmware-{version}.bin"))
    }

    /// `ASSETS_DIR/firmware-<model_code>.bin` (the legacy flat file).
    pub fn legacy_bin_path(&self, code: &ModelCode) -> PathBuf {
        self.assets_dir.join(format!("firmware-{code}.bin"))
    }

    /// Creates the root folders.
    pub fn create_dirs(&self) -> io::Result<()> {
        std::fs::create_dir_all(&self.coredumps_dir)?;
        std::fs::create_dir_all(&self.assets_dir)
    }
}

/// A single path component with no separators or dot tricks.
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

/// Removes a file, treating "already gone" as success; other errors are logged, not raised.
pub fn remove_quietly(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(path = %path.display(), error = %e, "could not remove file"),
    }
}

/// Removes a folder tree, treating "already gone" as success; other errors are logged.
pub fn remove_dir_quietly(path: &Path) {
    match std::fs::remove_dir_all(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(path = %path.display(), error = %e, "could not remove folder"),
    }
}
