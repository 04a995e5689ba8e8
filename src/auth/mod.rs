//! Credentials shared by the CLI and the web layer: random tokens stored as SHA-256 hashes and
//! argon2 password hashes. The web layer's extractors (who may call what) live in `web::auth`.

pub mod lockout;
pub mod passwords;
pub mod sessions;
pub mod token_use;
pub mod tokens;
