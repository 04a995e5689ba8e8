//! The database: an r2d2 pool of SQLite connections in WAL mode, migrations at open, and
//! [`Db::call`] which runs blocking SQL on tokio's blocking pool, never on the async workers.
//!
//! The submodules, one per table, are the only place in crashbox that contains SQL.

/// `FromSql`/`ToSql` for an enum with `as_str` and `parse`: an unknown stored value is a column
/// error (the row is refused), never guessed.
macro_rules! sql_enum {
    ($name:ident) => {
        impl rusqlite::types::FromSql for $name {
            fn column_result(
                v: rusqlite::types::ValueRef<'_>,
            ) -> rusqlite::types::FromSqlResult<Self> {
                let s = v.as_str()?;
                $name::parse(s).ok_or_else(|| {
                    rusqlite::types::FromSqlError::Other(
                        format!("unknown {} {s:?}", stringify!($name)).into(),
                    )
                })
            }
        }
        impl rusqlite::types::ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(rusqlite::types::ToSqlOutput::from(self.as_str()))
            }
        }
    };
}
pub(crate) use sql_enum;

pub mod audit;
pub mod checkins;
pub mod coredumps;
pub mod dashboard;
pub mod devices;
pub mod firmware;
pub mod groups;
mod migrations;
pub mod models;
pub mod notify;
pub mod parse_jobs;
pub mod releases;
pub mod rollouts;
pub mod sessions;
pub mod tokens;
pub mod users;

use std::path::Path;
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;

/// A connection checked out of the pool; returned to it on drop.
pub type Conn = r2d2::PooledConnection<SqliteConnectionManager>;

/// Failures of the storage layer. "Not found" is not an error here: finders return `Option`.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A SQLite statement or connection failed.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// No pooled connection could be had (the pool timed out or could not open one).
    #[error("database pool: {0}")]
    Pool(#[from] r2d2::Error),
    /// The blocking task running the SQL panicked or was cancelled.
    #[error("database task failed: {0}")]
    Join(String),
    /// A schema migration step failed at open; nothing of that step was applied.
    #[error("database migration {version} failed: {source}")]
    Migration {
        /// The 1-based number of the failing step.
        version: usize,
        /// SQLite's error.
        source: rusqlite::Error,
    },
}

/// A page of rows and the total number of matching rows.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The rows of this page.
    pub rows: Vec<T>,
    /// Matching rows on all pages.
    pub total: i64,
}

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<SqliteConnectionManager>,
    /// Serialises write transactions inside this process. SQLite allows one writer at a time;
    /// letting many threads race for its lock makes them sleep in its busy handler (1, 2, 5 …
    /// 100 ms back-offs), which is where upload tail latency came from. Waiting here instead
    /// hands the lock over at once. Other processes (the CLI) still meet `busy_timeout`.
    write_lock: std::sync::Arc<std::sync::Mutex<()>>,
}

fn init_connection(c: &mut Connection) -> rusqlite::Result<()> {
    c.busy_timeout(Duration::from_secs(10))?;
    c.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -2000;",
    )
}

impl Db {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub fn open(path: &Path) -> Result<Db, DbError> {
        let manager = SqliteConnectionManager::file(path).with_init(init_connection);
        let pool = r2d2::Pool::builder()
            .max_size(8)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(15))
            .build(manager)?;
        let mut conn = pool.get()?;
        migrations::apply(&mut conn)?;
        Ok(Db {
            pool,
            write_lock: Default::default(),
        })
    }

    /// A pooled connection for synchronous callers (CLI, worker threads).
    pub fn conn(&self) -> Result<Conn, DbError> {
        Ok(self.pool.get()?)
    }

    /// Runs `f` in an immediate (write) transaction, committed when `f` succeeds. Blocking.
    pub fn write<R, E>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction) -> Result<R, E>,
    ) -> Result<R, E>
    where
        E: From<DbError>,
    {
        let mut conn = self.conn()?;
        let _guard = self
            .write_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(DbError::from)?;
        let out = f(&tx)?;
        tx.commit().map_err(DbError::from)?;
        Ok(out)
    }

    /// Runs `f` with a connection on tokio's blocking pool.
    pub async fn call<F, R>(&self, f: F) -> Result<R, DbError>
    where
        F: FnOnce(&mut Connection) -> Result<R, DbError> + Send + 'static,
        R: Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await
        .map_err(|e| DbError::Join(e.to_string()))?
    }
}

/// Current UTC time as stored in the database: RFC 3339 with microseconds and `Z`, which
/// also sorts correctly as text.
pub fn now() -> String {
    format_ts(chrono::Utc::now())
}

/// Formats `t` the way the database stores times (see [`now`]).
pub fn format_ts(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}
