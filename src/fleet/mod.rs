//! Managing the fleet: device models, devices and their tokens, API tokens and dashboard users.
//! Shared by the CLI and the admin API; blocking (run off the async runtime).

pub mod devices;
pub mod models;
pub mod tokens;
pub mod users;
