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
mod group_commit;
use group_commit::Durability;
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
    /// The write lock (this process's or another's) could not be had in time.
    #[error("database busy: the write lock could not be had in time")]
    Busy,
    /// The commit that held this write failed (nothing of the write was stored).
    #[error("database commit failed: {0}")]
    Commit(String),
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

impl DbError {
    /// Whether the failure is a busy database or an exhausted pool (retry later), not a fault.
    pub fn is_transient(&self) -> bool {
        match self {
            DbError::Busy | DbError::Pool(_) => true,
            DbError::Sqlite(e) => is_busy(e),
            _ => false,
        }
    }
}

/// Whether SQLite gave up waiting for a lock (`SQLITE_BUSY`, `SQLITE_LOCKED`).
pub fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// A page of rows and the total number of matching rows.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The rows of this page.
    pub rows: Vec<T>,
    /// Matching rows on all pages.
    pub total: i64,
}

/// How long a write may wait for the write lock (this process's, then SQLite's) by default.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<SqliteConnectionManager>,
    /// Serialises write transactions inside this process and commits the ones that queue up
    /// together ([`group_commit`]). SQLite allows one writer at a time; letting many threads
    /// race for its lock makes them sleep in its busy handler (1, 2, 5 … 100 ms back-offs), and
    /// committing each alone costs each its own fsync. Other processes (the CLI) still meet
    /// `busy_timeout`.
    ///
    /// A writer takes this lock *before* it takes a pooled connection, so writers queueing
    /// behind another process's transaction hold no connection and reads (which WAL lets run
    /// beside a writer) always find one.
    writer: std::sync::Arc<group_commit::Writer>,
    /// The whole budget of one write for both locks; past it the write fails with
    /// [`DbError::Busy`] (answered 503 + `Retry-After`).
    busy_timeout: Duration,
}

fn init_connection(c: &mut Connection, busy: Duration) -> rusqlite::Result<()> {
    c.busy_timeout(busy)?;
    c.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -2000;",
    )
}

impl Db {
    /// Opens (creating if needed) the database file and applies pending migrations, with the
    /// default busy timeout.
    pub fn open(path: &Path) -> Result<Db, DbError> {
        Db::open_with(path, DEFAULT_BUSY_TIMEOUT)
    }

    /// [`Db::open`] with a busy timeout: how long a write waits for the write lock, and an
    /// autocommit statement for SQLite's lock, before it fails as [`DbError::Busy`].
    pub fn open_with(path: &Path, busy_timeout: Duration) -> Result<Db, DbError> {
        // Owner-only whatever the umask: it holds password and token hashes.
        if let Err(e) = crate::store::private::restrict_file(path, true) {
            tracing::warn!(file = %path.display(), error = %e, "cannot make the database private (0600)");
        }
        let manager = SqliteConnectionManager::file(path)
            .with_init(move |c| init_connection(c, busy_timeout));
        let pool = r2d2::Pool::builder()
            .max_size(8)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(15))
            .build(manager)?;
        let mut conn = pool.get()?;
        migrations::apply(&mut conn)?;
        for suffix in ["-wal", "-shm"] {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            if let Err(e) = crate::store::private::restrict_file(Path::new(&side), false) {
                tracing::warn!(error = %e, "cannot make the database's {suffix} file private");
            }
        }
        Ok(Db {
            pool,
            writer: Default::default(),
            busy_timeout,
        })
    }

    /// A pooled connection for synchronous callers (CLI, worker threads).
    pub fn conn(&self) -> Result<Conn, DbError> {
        Ok(self.pool.get()?)
    }

    /// Runs `f` in a write transaction and returns once its work is committed and durable.
    /// Blocking.
    ///
    /// `f` runs in its own savepoint, possibly inside a transaction shared with other writers
    /// that queued up meanwhile (group commit, see [`group_commit`]): when `f` fails, only its
    /// own changes are rolled back. Takes this process's write lock first, then (for a new
    /// transaction) a pooled connection and SQLite's lock (`BEGIN IMMEDIATE`), all within the
    /// busy timeout; [`DbError::Busy`] when the locks cannot be had in time (another process
    /// holding a write transaction, say).
    pub fn write<R, E>(&self, f: impl FnOnce(&Connection) -> Result<R, E>) -> Result<R, E>
    where
        E: From<DbError>,
    {
        self.writer
            .write(|| self.conn(), self.busy_timeout, Durability::Full, f)
    }

    /// [`Db::write`] for derived state that crashbox recomputes when it is lost: parse job
    /// claims and decode results (a lost claim or result leaves the dump `PENDING` or
    /// `PROCESSING`, and start-up queues it again). Its commit is atomic and is never torn, but
    /// when only such writes share it, it skips the WAL fsync (`synchronous = NORMAL` for that
    /// commit): a power loss may undo it, until the next durable commit, which makes every
    /// earlier commit durable too (the WAL is written in order). Saves one fsync per decoded
    /// dump on a busy server.
    pub fn write_relaxed<R, E>(&self, f: impl FnOnce(&Connection) -> Result<R, E>) -> Result<R, E>
    where
        E: From<DbError>,
    {
        self.writer
            .write(|| self.conn(), self.busy_timeout, Durability::Relaxed, f)
    }

    /// Writes kept and transactions committed since this handle's database was opened (their
    /// ratio is the mean group-commit batch size).
    pub fn write_stats(&self) -> (u64, u64) {
        self.writer.stats()
    }

    /// Commits made without a WAL fsync since this handle's database was opened (only
    /// [`Db::write_relaxed`] work in them).
    pub fn relaxed_commits(&self) -> u64 {
        self.writer.relaxed_commits()
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
