//! Crash groups: which stored dumps are the same crash, and which firmware version is newer.
//!
//! - [`signature`]: the crash signature (algorithm v1) of a decoded dump or of a text report.
//! - [`versions`]: firmware version order (semver and `git describe`).

pub mod signature;
pub mod versions;
