//! The service-level error: what went wrong, in the categories (and texts) of the original
//! Python system's API errors. `web::error` maps it to HTTP; the CLI prints it.

use crate::db::DbError;

/// A service failure; each variant maps to one HTTP status and API error code (see `web::error`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400 `VALIDATION_FAILED`: the input is wrong.
    #[error("{0}")]
    Validation(String),
    /// 400 `INVALID_OPERATION`: `Cannot <op> because <cause>`.
    #[error("{0}")]
    InvalidOperation(String),
    /// 401 `AUTHENTICATION_REQUIRED`.
    #[error("{0}")]
    Unauthenticated(String),
    /// 403 `AUTHORIZATION_FAILED`.
    #[error("{0}")]
    Forbidden(String),
    /// 404 `RECORD_NOT_FOUND`: `<Type> <id> was not found`.
    #[error("{0}")]
    NotFound(String),
    /// 409 `RECORD_EXISTS`.
    #[error("{0}")]
    Exists(String),
    /// 413: a body over a configured limit (firmware bundles).
    #[error("{0}")]
    TooLarge(String),
    /// 503 `SERVICE_UNAVAILABLE` with `Retry-After`: a shared resource is busy or used up (the
    /// database lock, firmware upload slots, open files); the client should retry.
    #[error("{0}")]
    Unavailable(String),
    /// A storage-layer failure; answered as a 500 with a generic message.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A file-system failure (dump or firmware storage); answered as a 500 with a generic message.
    #[error("storage: {0}")]
    Io(#[from] std::io::Error),
    /// Any other failure of ours; the API logs the text and answers a generic 500.
    #[error("{0}")]
    Internal(String),
}

/// The service result type; the error defaults to [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A `NotFound` with the standard text `<kind> <id> was not found`.
    pub fn not_found(kind: &str, id: impl std::fmt::Display) -> Error {
        Error::NotFound(format!("{kind} {id} was not found"))
    }
}

impl Error {
    /// Whether this is a shortage that passes (a busy database, a full connection pool, no
    /// descriptors left) rather than a fault: such failures are answered 503 + `Retry-After`,
    /// never 500, so a device keeps its dump for a later try where it can.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Unavailable(_) => true,
            Error::Db(e) => e.is_transient(),
            Error::Io(e) => is_resource_shortage(e),
            _ => false,
        }
    }
}

/// Out of descriptors (`EMFILE`, `ENFILE`) or memory for the kernel (`ENOBUFS`, `ENOMEM`).
pub fn is_resource_shortage(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(23 | 24 | 105 | 12))
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        Error::Db(DbError::Sqlite(e))
    }
}
