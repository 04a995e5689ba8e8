//! Files on disk. [`Layout`] builds every path crashbox stores something at; [`atomic`] writes
//! them so that a reader sees either the old file or the complete new one, never a torn one.
//!
//! This module knows files only; which files should exist is decided by `coredump/` and
//! `firmware/`, which also know the rows.

pub mod atomic;
pub mod private;
pub mod spares;

use std::io;
use std::path::{Path, PathBuf};

use crate::ids::{DeviceKey, FirmwareVersion, ModelCode};

/// Prefix of the temp files of atomic writes (removed at start-up when a write was cut short).
pub const TEMP_PREFIX: &str = ".tmp-";

/// Which file of a firmware version a stored name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirmwareFile {
    /// `firmware-<version>.zip`: the uploaded bundle.
    Bundle,
    /// `firmware-<version>.bin`: the app image.
    Image,
}

/// The on-disk layout, as the original system kept it:
///
/// ```text
/// COREDUMPS_DIR/<device_key>/coredump_<YYYYMMDD>T<HHMMSS>_<micro6>Z.dmp
/// ASSETS_DIR/<model_code>/firmware-<version>.zip | .bin | .idx | .elf
///     (.idx: symbolization index; .elf: the bundle's ELF unpacked beside it)
/// ASSETS_DIR/firmware-<model_code>.bin        (legacy flat file of the current version)
/// ```
///
/// Every stored file name is built and parsed here.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Root of the dump folders.
    pub coredumps_dir: PathBuf,
    /// Root of the firmware folders.
    pub assets_dir: PathBuf,
}

impl Layout {
    /// A layout over the two roots.
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
        self.model_dir(code)
            .join(Layout::firmware_file_name(version, FirmwareFile::Bundle))
    }

    /// `ASSETS_DIR/<model_code>/firmware-<version>.bin`: the app image of a version, kept next
    /// to its bundle so device downloads stream a plain file (and raw `.bin` uploads keep theirs).
    pub fn firmware_bin_path(&self, code: &ModelCode, version: &FirmwareVersion) -> PathBuf {
        self.model_dir(code)
            .join(Layout::firmware_file_name(version, FirmwareFile::Image))
    }

    /// `ASSETS_DIR/<model_code>/firmware-<version>.idx`: the symbolization index of a version's
    /// bundle (see `firmware::index`).
    pub fn index_path(&self, code: &ModelCode, version: &FirmwareVersion) -> PathBuf {
        self.model_dir(code).join(format!("firmware-{version}.idx"))
    }

    /// `ASSETS_DIR/<model_code>/firmware-<version>.elf`: the bundle's ELF, unpacked beside its
    /// index so the parse workers map its DWARF (frame arguments and locals) instead of
    /// unzipping it (see `firmware::index`).
    pub fn index_elf_path(&self, code: &ModelCode, version: &FirmwareVersion) -> PathBuf {
        self.model_dir(code).join(format!("firmware-{version}.elf"))
    }

    /// `coredump_<YYYYMMDD>T<HHMMSS>_<micro6>Z.dmp` for the instant a dump was stored.
    pub fn coredump_file_name(t: chrono::DateTime<chrono::Utc>) -> String {
        format!("coredump_{}Z.dmp", t.format("%Y%m%dT%H%M%S_%6f"))
    }

    /// Whether `name` is a dump file name (as [`Layout::coredump_file_name`] makes them).
    pub fn is_coredump_file_name(name: &str) -> bool {
        name.starts_with("coredump_") && name.ends_with(".dmp") && is_plain_name(name)
    }

    /// `firmware-<version>.zip` or `firmware-<version>.bin`.
    pub fn firmware_file_name(version: &FirmwareVersion, file: FirmwareFile) -> String {
        match file {
            FirmwareFile::Bundle => format!("firmware-{version}.zip"),
            FirmwareFile::Image => format!("firmware-{version}.bin"),
        }
    }

    /// The version and kind of a stored firmware file name; `None` for anything else.
    pub fn parse_firmware_file_name(name: &str) -> Option<(FirmwareVersion, FirmwareFile)> {
        let rest = name.strip_prefix("firmware-")?;
        let (v, file) = match rest.strip_suffix(".zip") {
            Some(v) => (v, FirmwareFile::Bundle),
            None => (rest.strip_suffix(".bin")?, FirmwareFile::Image),
        };
        Some((FirmwareVersion::parse(v)?, file))
    }

    /// Whether `name` is a file derived from a bundle that start-up rebuilds when missing (the
    /// symbolization index and the unpacked ELF beside it): backups leave them out.
    pub fn is_derived_firmware_file_name(name: &str) -> bool {
        name.starts_with("firmware-") && (name.ends_with(".idx") || name.ends_with(".elf"))
    }

    /// Whether `name` is the temp file of an atomic write.
    pub fn is_temp_file_name(name: &str) -> bool {
        name.starts_with(TEMP_PREFIX)
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn coredump_names_match_the_original_layout() {
        let t = chrono::Utc
            .with_ymd_and_hms(2026, 2, 11, 14, 30, 0)
            .unwrap()
            + chrono::Duration::microseconds(123456);
        let name = Layout::coredump_file_name(t);
        assert_eq!(name, "coredump_20260211T143000_123456Z.dmp");
        assert!(Layout::is_coredump_file_name(&name));
        assert!(!Layout::is_coredump_file_name("notes.txt"));
    }

    #[test]
    fn firmware_names_round_trip() {
        let v = FirmwareVersion::parse("1.4.0-rc1").unwrap();
        for file in [FirmwareFile::Bundle, FirmwareFile::Image] {
            let name = Layout::firmware_file_name(&v, file);
            assert_eq!(
                Layout::parse_firmware_file_name(&name),
                Some((v.clone(), file))
            );
        }
        assert_eq!(Layout::parse_firmware_file_name("firmware-.zip"), None);
        assert_eq!(Layout::parse_firmware_file_name("firmware-1.0.elf"), None);
        assert!(Layout::is_temp_file_name(".tmp-abc.tmp"));
    }
}
