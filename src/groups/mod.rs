//! Crash groups: which stored dumps are the same crash, which firmware version is newer, and
//! what admins do with a group.
//!
//! - [`signature`]: the crash signature (algorithm v1) of a decoded dump or of a text report.
//! - [`versions`]: firmware version order (semver and `git describe`).
//! - [`assign`]: which group a decoded dump joins, and the regression rule.
//! - [`service`]: list, detail, resolve / mute / reopen, merge, rebuild.
//!
//! Data flow: the parse job's result commit → [`service::group_dump`] → [`assign::assign`] →
//! `db::groups`.

pub mod assign;
pub mod service;
pub mod signature;
pub mod versions;
