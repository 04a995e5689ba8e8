//! Crash groups (STUB — replaced by the signature branch).
pub mod assign;
pub mod service;
pub mod signature;
pub mod versions;
