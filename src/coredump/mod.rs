//! Core dumps as stored things: taking an upload in (validate, write, insert, retention),
//! deleting them (rows and files together), and reconciling files and rows at startup.

pub mod ingest;
pub mod manage;
pub mod reconcile;

/// Largest accepted dump in bytes: exactly 1 MiB is still accepted, as in the original system.
pub const MAX_COREDUMP_SIZE: usize = 1_048_576;
