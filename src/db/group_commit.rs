//! Group commit: write transactions that queue up while one is running (or committing) share
//! the next commit, so a burst of N uploads costs one WAL fsync instead of N.
//!
//! Every writer still runs its own closure, on its own thread, while it holds the in-process
//! write lock — but inside a `SAVEPOINT` of a transaction that may already hold other writers'
//! work (a *batch*). When it is done and nobody is queued behind it, it commits the batch and
//! wakes the writers of that batch; when others are queued, it hands the lock (and the open
//! transaction) to the next one and waits until some writer of its batch commits. So:
//! - a writer whose closure fails rolls back to its savepoint alone and gets its own error at
//!   once; the batch goes on;
//! - a writer is answered only after the commit that contains its work is durable
//!   (`synchronous = FULL`), or with that commit's error;
//! - the transaction is open only while writers are queued: the last one of a burst commits.
//!
//! A waiting writer that sees its batch still open with nobody queued (the one queued before it
//! gave up on the lock) commits it itself, so a batch never waits for a writer that left.
//!
//! A writer says whether its work must be durable when answered ([`Durability`]). A batch
//! begun by a [`Durability::Relaxed`] writer runs with `synchronous = NORMAL` (its commit skips
//! the WAL fsync: atomic, but a power loss may undo it). SQLite fixes the level for a whole
//! transaction, so a durable writer that finds a relaxed batch open commits it first (cheap:
//! no fsync) and begins a `FULL` one, whose fsync makes the relaxed commit durable too (the WAL
//! is written in order); a relaxed writer simply joins a durable batch.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::{Conn, DbError, is_busy};

/// How long a writer waits for its batch's commit before it checks whether it must commit it.
const RECHECK: Duration = Duration::from_millis(5);
/// Batch outcomes remembered for writers that have not read theirs yet.
const OUTCOMES_KEPT: usize = 256;

/// Whether a write must be on disk when its writer is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// Committed with a WAL fsync (`synchronous = FULL`).
    Full,
    /// Committed without one when the whole batch is relaxed: derived state only.
    Relaxed,
}

/// The in-process write lock and what it guards.
#[derive(Default)]
struct Open {
    /// The connection of the open batch (taken from the pool when a batch begins, returned when
    /// it commits, so no connection is held while nothing is written).
    conn: Option<Conn>,
    /// The open batch, if a transaction is open.
    batch: Option<u64>,
    /// The number of the last batch begun.
    last: u64,
    /// Whether the open batch commits with a WAL fsync (`synchronous = FULL`).
    durable: bool,
}

/// Outcomes of committed batches.
#[derive(Default)]
struct Outcomes {
    /// Every batch up to this one has ended (committed or failed).
    through: u64,
    /// Recent failed batches and their error (a batch not listed committed).
    failed: VecDeque<(u64, String)>,
}

/// The group-commit writer of one database.
#[derive(Default)]
pub(crate) struct Writer {
    open: parking_lot::Mutex<Open>,
    /// Writers waiting for `open`.
    queued: AtomicUsize,
    outcomes: Mutex<Outcomes>,
    ended: Condvar,
    /// Writes whose work was kept (their closure succeeded).
    kept: AtomicU64,
    /// Transactions committed (one per batch).
    commits: AtomicU64,
    /// Of those, the ones committed without a WAL fsync (relaxed work only).
    relaxed_commits: AtomicU64,
}

/// Commits (or, on failure, rolls back) the open batch; ends it for its waiting writers.
fn end_batch(w: &Writer, open: &mut Open) -> Result<(), String> {
    let Some(batch) = open.batch.take() else {
        return Ok(());
    };
    let relaxed = !open.durable;
    let result = match open.conn.as_ref() {
        Some(c) => commit(c, relaxed),
        None => Err("no connection for the open batch".into()),
    };
    // Back to the pool: nothing is written until the next batch begins.
    open.conn = None;
    if result.is_ok() {
        w.commits.fetch_add(1, Ordering::Relaxed);
        if relaxed {
            w.relaxed_commits.fetch_add(1, Ordering::Relaxed);
        }
    }
    let mut o = w.outcomes.lock().unwrap_or_else(|p| p.into_inner());
    o.through = o.through.max(batch);
    if let Err(e) = &result {
        o.failed.push_back((batch, e.clone()));
        while o.failed.len() > OUTCOMES_KEPT {
            o.failed.pop_front();
        }
    }
    drop(o);
    w.ended.notify_all();
    result
}

/// Commits the open transaction of `c` (rolls it back when that fails). After a `relaxed`
/// batch the connection goes back to `synchronous = FULL` before it returns to the pool (every
/// batch also sets its level before `BEGIN`, so a failure here is only logged).
fn commit(c: &Connection, relaxed: bool) -> Result<(), String> {
    let result = c.execute_batch("COMMIT").map_err(|e| {
        let _ = c.execute_batch("ROLLBACK");
        e.to_string()
    });
    if relaxed && let Err(e) = c.execute_batch("PRAGMA synchronous = FULL") {
        tracing::warn!(error = %e, "cannot set synchronous = FULL again after a relaxed commit");
    }
    result
}

impl Writer {
    /// Runs `f` in the current batch (beginning one with `begin` when none is open) and returns
    /// once its work is durable. `conn` supplies a pooled connection for a new batch; `busy` is
    /// the whole budget for the lock and SQLite's `BEGIN IMMEDIATE`.
    pub(crate) fn write<R, E>(
        &self,
        conn: impl FnOnce() -> Result<Conn, DbError>,
        busy: Duration,
        durability: Durability,
        f: impl FnOnce(&Connection) -> Result<R, E>,
    ) -> Result<R, E>
    where
        E: From<DbError>,
    {
        let deadline = Instant::now() + busy;
        self.queued.fetch_add(1, Ordering::SeqCst);
        let guard = self.open.try_lock_for(busy);
        self.queued.fetch_sub(1, Ordering::SeqCst);
        let mut open = guard.ok_or(DbError::Busy)?;
        let durable = durability == Durability::Full;
        if durable && open.batch.is_some() && !open.durable {
            // A relaxed batch is open: commit it now (no fsync; its writers are answered) so
            // this write begins a durable one, whose fsync covers it too.
            if let Err(e) = end_batch(self, &mut open) {
                tracing::warn!(error = %e, "cannot commit a relaxed batch");
            }
        }
        if open.batch.is_none() {
            let c = conn()?;
            let level = if durable {
                "PRAGMA synchronous = FULL"
            } else {
                "PRAGMA synchronous = NORMAL"
            };
            c.execute_batch(level).map_err(DbError::from)?;
            let left = deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1));
            c.busy_timeout(left).map_err(DbError::from)?;
            let begun = c.execute_batch("BEGIN IMMEDIATE");
            if let Err(e) = c.busy_timeout(busy) {
                tracing::warn!(error = %e, "cannot reset the busy timeout");
            }
            match begun {
                Ok(()) => {}
                Err(e) if is_busy(&e) => return Err(DbError::Busy.into()),
                Err(e) => return Err(DbError::from(e).into()),
            }
            open.last += 1;
            open.batch = Some(open.last);
            open.durable = durable;
            open.conn = Some(c);
        }
        let Some(batch) = open.batch else {
            return Err(DbError::Busy.into());
        };
        let own = match open.conn.as_mut() {
            Some(c) => Self::in_savepoint(c, f),
            None => Err(DbError::Busy.into()),
        };
        if own.is_ok() {
            self.kept.fetch_add(1, Ordering::Relaxed);
        }
        if self.queued.load(Ordering::SeqCst) == 0 {
            let committed = end_batch(self, &mut open);
            drop(open);
            return match (own, committed) {
                (Ok(v), Ok(())) => Ok(v),
                (Ok(_), Err(e)) => Err(DbError::Commit(e).into()),
                (Err(e), _) => Err(e),
            };
        }
        drop(open);
        let own = own?;
        self.wait_for(batch)
            .map(|()| own)
            .map_err(|e| DbError::Commit(e).into())
    }

    /// Runs `f` inside a savepoint of the open transaction: kept on success, rolled back alone
    /// on failure.
    fn in_savepoint<R, E>(
        c: &mut Connection,
        f: impl FnOnce(&Connection) -> Result<R, E>,
    ) -> Result<R, E>
    where
        E: From<DbError>,
    {
        let sp = c.savepoint().map_err(DbError::from)?;
        let out = f(&sp)?;
        sp.commit().map_err(DbError::from)?;
        Ok(out)
    }

    /// Writes kept and transactions committed since start: their ratio is the mean batch size.
    pub(crate) fn stats(&self) -> (u64, u64) {
        (
            self.kept.load(Ordering::Relaxed),
            self.commits.load(Ordering::Relaxed),
        )
    }

    /// Commits made without a WAL fsync since start.
    pub(crate) fn relaxed_commits(&self) -> u64 {
        self.relaxed_commits.load(Ordering::Relaxed)
    }

    /// Waits until `batch` has ended; its commit error, if it failed. Commits it itself when
    /// it is still open and nobody is queued to do so.
    fn wait_for(&self, batch: u64) -> Result<(), String> {
        loop {
            {
                let o = self.outcomes.lock().unwrap_or_else(|p| p.into_inner());
                let o = if o.through >= batch {
                    o
                } else {
                    self.ended
                        .wait_timeout(o, RECHECK)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                };
                if o.through >= batch {
                    return match o.failed.iter().find(|(b, _)| *b == batch) {
                        Some((_, e)) => Err(e.clone()),
                        None => Ok(()),
                    };
                }
            }
            if self.queued.load(Ordering::SeqCst) == 0
                && let Some(mut open) = self.open.try_lock()
                && open.batch == Some(batch)
                && self.queued.load(Ordering::SeqCst) == 0
            {
                let _ = end_batch(self, &mut open);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier};

    use crate::db::{Db, DbError};

    fn synchronous(c: &rusqlite::Connection) -> i64 {
        c.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap()
    }

    /// A relaxed write commits without the fsync (NORMAL = 1, counted), its data is there, and
    /// the connection is back to FULL (2) for the next, durable, write.
    #[test]
    fn relaxed_writes_commit_without_fsync_and_leave_full_behind() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        db.write(|c| {
            c.execute_batch("CREATE TABLE t (n INTEGER PRIMARY KEY)")?;
            Ok::<_, DbError>(())
        })
        .unwrap();
        let before = db.relaxed_commits();
        db.write_relaxed(|c| {
            assert_eq!(
                synchronous(c),
                1,
                "a relaxed batch runs with synchronous = NORMAL"
            );
            c.execute("INSERT INTO t (n) VALUES (1)", [])?;
            Ok::<_, DbError>(())
        })
        .unwrap();
        assert_eq!(db.relaxed_commits(), before + 1);
        for _ in 0..3 {
            db.write(|c| {
                assert_eq!(
                    synchronous(c),
                    2,
                    "a durable write runs with synchronous = FULL"
                );
                c.execute("INSERT INTO t (n) VALUES (NULL)", [])?;
                Ok::<_, DbError>(())
            })
            .unwrap();
        }
        assert_eq!(
            db.relaxed_commits(),
            before + 1,
            "durable writes are not relaxed"
        );
        let conn = db.conn().unwrap();
        assert_eq!(synchronous(&conn), 2);
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 4);
    }

    /// Relaxed and durable writers in one burst: every batch with a durable write is durable,
    /// so there are no more relaxed commits than batches of relaxed work alone.
    #[test]
    fn one_durable_writer_makes_its_batch_durable() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        db.write(|c| {
            c.execute_batch("CREATE TABLE t (n INTEGER PRIMARY KEY, durable INTEGER)")?;
            Ok::<_, DbError>(())
        })
        .unwrap();
        let (_, commits_before) = db.write_stats();
        let relaxed_before = db.relaxed_commits();
        let start = Arc::new(Barrier::new(8));
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let (db, start) = (db.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    for _ in 0..50 {
                        let f = |c: &rusqlite::Connection| {
                            c.execute("INSERT INTO t (durable) VALUES (?1)", [t % 2])?;
                            Ok::<_, DbError>(())
                        };
                        if t % 2 == 1 {
                            db.write(f)
                        } else {
                            db.write_relaxed(f)
                        }
                        .unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let (_, commits) = db.write_stats();
        let relaxed = db.relaxed_commits() - relaxed_before;
        let commits = commits - commits_before;
        // 200 durable writes need at least one durable commit each batch they are in.
        assert!(relaxed < commits, "{relaxed} relaxed of {commits} commits");
        let n: i64 = db
            .conn()
            .unwrap()
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 400);
    }

    /// 16 threads × 40 writes at once: every kept write is stored, the failing ones (every
    /// fifth) roll back alone and get their own error, and the writes share commits.
    #[test]
    fn concurrent_writes_share_commits_and_fail_alone() {
        let dir = tempfile::tempdir().unwrap();
        let db =
            Db::open_with(&dir.path().join("t.db"), std::time::Duration::from_secs(10)).unwrap();
        db.write(|c| {
            c.execute_batch("CREATE TABLE t (n INTEGER PRIMARY KEY)")?;
            Ok::<_, DbError>(())
        })
        .unwrap();
        let (before_kept, before_commits) = db.write_stats();
        let threads = 16;
        let per = 40;
        let start = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (db, start) = (db.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    let mut failed = 0;
                    for i in 0..per {
                        let n = (t * per + i) as i64;
                        let r = db.write(|c| {
                            c.execute("INSERT INTO t (n) VALUES (?1)", [n])?;
                            if n % 5 == 0 {
                                // Fails after writing: its row must not stay.
                                c.execute("INSERT INTO t (n) VALUES (?1)", [n])?;
                            }
                            Ok::<_, DbError>(())
                        });
                        if r.is_err() {
                            failed += 1;
                        }
                    }
                    failed
                })
            })
            .collect();
        let failed: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        let total = threads * per;
        assert_eq!(failed, total / 5);
        let conn = db.conn().unwrap();
        let stored: i64 = conn
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored as usize, total - total / 5);
        let bad: i64 = conn
            .query_row("SELECT COUNT(*) FROM t WHERE n % 5 = 0", [], |r| r.get(0))
            .unwrap();
        assert_eq!(bad, 0, "a failed write's own rows are rolled back");
        let (kept, commits) = db.write_stats();
        let (kept, commits) = (kept - before_kept, commits - before_commits);
        assert_eq!(kept as usize, total - total / 5);
        assert!(
            commits >= 1 && commits <= kept,
            "{commits} commits for {kept} writes"
        );
        eprintln!("group commit: {kept} writes in {commits} commits");
    }
}
