//! The parse-sidecar protocol, both ends.
//!
//! - [`wire`]: the request and the answers, shared by both ends.
//! - [`client`]: the parse workers' client of an external sidecar (transfer files, retries).
//! - [`server`]: `crashbox sidecar`, which answers the protocol with the built-in decoder, so
//!   crashbox can stand in for the gdb sidecar of the original Python system.

pub mod client;
pub mod server;
pub mod wire;

pub use client::Sidecar;
