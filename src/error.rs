//! The service-level error: what went wrong, in the categories (and texts) of upstream-spec §1.5.
//! `web::error` maps it to HTTP; the CLI prints it.

use crate::db::DbError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400 `VALIDATION_FAILED`: the input is wrong.
    #[error("{0}")]
    Validation(String),
    /// 400 `INVALID_OPERATION`: "Cannot <op> because <cause>".
    #[error("{0}")]
    InvalidOperation(String),
    /// 401 `AUTHENTICATION_REQUIRED`.
    #[error("{0}")]
    Unauthenticated(String),
    /// 403 `AUTHORIZATION_FAILED`.
    #[error("{0}")]
    Forbidden(String),
    /// 404 `RECORD_NOT_FOUND`: "<Type> <id> was not found".
    #[error("{0}")]
    NotFound(String),
    /// 409 `RECORD_EXISTS`.
    #[error("{0}")]
    Exists(String),
    /// 413: a body over a configured limit (firmware bundles).
    #[error("{0}")]
    TooLarge(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("storage: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn not_found(kind: &str, id: impl std::fmt::Display) -> Error {
        Error::NotFound(format!("{kind} {id} was not found"))
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        Error::Db(DbError::Sqlite(e))
    }
}
