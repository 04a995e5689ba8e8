//! Backups that can be restored: [`write`] makes one, [`verify`] checks one, [`restore`] puts
//! one into an empty data folder. The command line (`crashbox backup`, `crashbox restore`) is
//! in `cli/`.
//!
//! A backup is a folder with three files:
//!
//! ```text
//! crashbox.db     an online copy of the database through SQLite's backup API
//! blobs.tar       the dump and firmware folders, as coredumps/… and assets/… (whatever the
//!                 configured paths, relative or not)
//! manifest.json   {"version":1,"files":[{"path":"coredumps/k3xq7mza/coredump_….dmp","size":3000},…]}
//! ```
//!
//! The copy is made while `serve` runs: a dump evicted by retention between the database copy
//! and the tar leaves a row without its file, which [`verify`] reports (and the next start-up's
//! reconciliation drops), but does not count as damage.

mod archive;
pub mod restore;
pub mod verify;
pub mod write;

/// The database copy's file name inside a backup.
pub const DB_FILE: &str = "crashbox.db";
/// The archive of the dump and firmware folders.
pub const TAR_FILE: &str = "blobs.tar";
/// The list of archived files with their sizes.
pub const MANIFEST_FILE: &str = "manifest.json";
/// Top folder in the archive for the dumps.
pub const COREDUMPS: &str = "coredumps";
/// Top folder in the archive for the firmware.
pub const ASSETS: &str = "assets";

/// One archived file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ManifestFile {
    /// Path inside the archive (`coredumps/…` or `assets/…`, `/`-separated).
    pub path: String,
    /// Size in bytes.
    pub size: u64,
}

/// What `manifest.json` holds.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// Format version (1).
    pub version: u32,
    /// Every archived file.
    pub files: Vec<ManifestFile>,
}

/// A backup that cannot be made, read or restored.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// A file could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, with the path.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The database copy failed or is damaged.
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    /// The database could not be opened.
    #[error(transparent)]
    Open(#[from] crate::db::DbError),
    /// The backup is not complete or not consistent; the text says what is wrong.
    #[error("{0}")]
    Invalid(String),
    /// Restoring would overwrite something.
    #[error("{0}")]
    Refused(String),
}

/// Wraps an I/O error with what was being done.
pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BackupError {
    let what = what.into();
    move |source| BackupError::Io { what, source }
}
