//! crashbox: one self-contained binary that looks after a fleet of ESP32 devices — it stores the
//! core dumps they post, decodes them into readable crash reports, and keeps and serves their
//! firmware.
//!
//! Data flows one way: HTTP → handler (`web`) → service (`coredump`, `firmware`, `fleet`) →
//! `db` / `store` → `worker` → `decode` → `db`. Decoding runs on worker threads, never on the
//! async runtime. `decode` is a library of its own: bytes in, analysis out.
//!
//! - [`config`]: flags and env vars resolved once into a `Config`.
//! - [`db`]: SQLite (WAL, r2d2 pool, migrations); the only place with SQL.
//! - [`store`]: on-disk layout and atomic writes.
//! - [`auth`]: tokens and passwords; [`web::auth`] decides who may call what.
//! - [`coredump`], [`fleet`]: the services behind the API and the CLI.
//! - [`worker`]: background parse jobs.
//! - [`decode`]: the built-in core dump decoder.
//! - [`groups`]: crash groups: signatures, version order, grouping and the group operations.
//! - [`fleet`] also records device check-ins; [`rollout`] decides what each device is offered
//!   (pin, exclusion, canary, model target) and halts a canary on a new crash.
//! - [`audit`]: who changed what and when.
//! - [`cli`]: the command line.

#![warn(missing_docs)]

pub mod app;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod cli;
pub mod config;
pub mod coredump;
pub mod db;
pub mod decode;
pub mod error;
pub mod firmware;
pub mod fleet;
pub mod groups;
pub mod ids;
pub mod metrics;
pub mod notify;
pub mod releases;
pub mod rollout;
pub mod sidecar;
pub mod store;
pub mod systemd;
pub mod terminal;
pub mod web;
pub mod worker;
