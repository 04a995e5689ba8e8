//! Background parsing. A `PENDING` coredump row is a job; [`Jobs`] is the hand-off from the
//! request path (after the upload transaction commits) to the parse workers.
//!
//! - [`pool`]: the `std::thread` workers, the start-up and periodic sweeps of `PENDING` rows, and
//!   the graceful stop. Never on the async runtime.
//! - [`job`]: one parse, one outcome: load the row, read the dump, open the version's
//!   symbolization index ([`crate::firmware::index`]), decode with the pool's
//!   [`crate::decode::Engine`], call the sidecar ([`crate::sidecar::client`]), record
//!   the result under the job's claim.
//! - [`elf_cache`]: app ELFs recently taken out of firmware bundles (for the sidecar).
//! - [`reparse`]: putting dumps back in the queue (API and CLI).
//!
//! Data flow: handler → `Jobs::enqueue` → channel → worker → `db::parse_jobs`. Jobs are durable
//! because the database is the queue; the channel only says "look at this row now".

pub mod elf_cache;
pub mod job;
pub mod pool;
pub mod reparse;

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use crate::ids::CoredumpId;

pub use pool::Pool;

/// What travels on the queue.
#[derive(Debug)]
pub(crate) enum Msg {
    /// Look at this dump.
    Job(CoredumpId),
    /// Wake up and check whether to stop.
    Wake,
}

/// Sending side of the job queue; cheap to clone. A dump is queued at most once at a time.
#[derive(Clone)]
pub struct Jobs {
    tx: Option<mpsc::Sender<Msg>>,
    queued: Arc<Mutex<HashSet<CoredumpId>>>,
    depth: Arc<AtomicI64>,
}

impl Jobs {
    /// A queue and its receiving end, for the worker pool.
    pub(crate) fn channel() -> (Jobs, mpsc::Receiver<Msg>) {
        let (tx, rx) = mpsc::channel();
        (
            Jobs {
                tx: Some(tx),
                queued: Arc::default(),
                depth: Arc::new(AtomicI64::new(0)),
            },
            rx,
        )
    }

    /// A queue with no workers behind it: jobs stay `PENDING` in the database.
    pub fn disabled() -> Jobs {
        Jobs {
            tx: None,
            queued: Arc::default(),
            depth: Arc::new(AtomicI64::new(0)),
        }
    }

    /// Queues a committed `PENDING` dump for parsing (a no-op if it is already queued; the
    /// worker's claim decides whether it really runs).
    pub fn enqueue(&self, id: CoredumpId) {
        let Some(tx) = &self.tx else { return };
        let mut queued = self.queued.lock().unwrap_or_else(|e| e.into_inner());
        if !queued.insert(id) {
            return;
        }
        if tx.send(Msg::Job(id)).is_ok() {
            self.depth.fetch_add(1, Ordering::Relaxed);
        } else {
            queued.remove(&id);
        }
    }

    /// Jobs queued and not yet picked up.
    pub fn depth(&self) -> i64 {
        self.depth.load(Ordering::Relaxed)
    }

    /// Whether `id` is waiting in the queue.
    pub(crate) fn is_queued(&self, id: CoredumpId) -> bool {
        self.queued
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&id)
    }

    /// Called by a worker when it takes a job off the queue.
    pub(crate) fn taken(&self, id: CoredumpId) {
        if self
            .queued
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id)
        {
            self.depth.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Wakes `n` idle workers (used when stopping).
    pub(crate) fn wake(&self, n: usize) {
        if let Some(tx) = &self.tx {
            for _ in 0..n {
                let _ = tx.send(Msg::Wake);
            }
        }
    }
}
