//! The HTTP side: the route table, shared state, error mapping, auth extractors and handlers.
//! Handlers stay thin: extract, call one service function off the runtime, respond.

pub mod api;
pub mod auth;
pub mod client;
pub mod error;
pub mod extract;
pub mod limits;
pub mod ops;
pub mod pages;
pub mod router;
pub mod server;
pub mod state;

pub use router::router;
pub use state::AppState;
