//! Managing the fleet: device models, devices and their tokens, API tokens and dashboard users.
//! Shared by the CLI and the admin API; blocking (run off the async runtime). [`checkins`]
//! records when devices were last seen and what they run (throttled, batched writes).

pub mod checkins;
pub mod devices;
pub mod models;
pub mod tokens;
pub mod users;
