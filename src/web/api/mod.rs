//! JSON API handlers, one file per resource.

pub mod coredumps;
pub mod devices;
pub mod iot;
pub mod models;
pub mod tokens;
