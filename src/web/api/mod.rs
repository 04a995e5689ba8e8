//! JSON API handlers, one file per resource.

pub mod audit;
pub mod coredumps;
pub mod devices;
pub mod firmware;
pub mod groups;
pub mod iot;
pub mod models;
pub mod notify;
pub mod pipeline;
pub mod releases;
pub mod reparse;
pub mod rollouts;
pub mod tokens;
