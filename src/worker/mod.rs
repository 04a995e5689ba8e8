//! Background parsing. A `PENDING` coredump row is a job; [`Jobs`] is the hand-off from the
//! request path (after the upload transaction commits) to the parse workers.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc;

use crate::ids::CoredumpId;

/// Sending side of the job queue; cheap to clone.
#[derive(Clone)]
pub struct Jobs {
    tx: Option<mpsc::Sender<CoredumpId>>,
    depth: Arc<AtomicI64>,
}

impl Jobs {
    /// A queue and its receiving end, for the worker pool.
    pub fn channel() -> (Jobs, mpsc::Receiver<CoredumpId>) {
        let (tx, rx) = mpsc::channel();
        (
            Jobs {
                tx: Some(tx),
                depth: Arc::new(AtomicI64::new(0)),
            },
            rx,
        )
    }

    /// A queue with no workers behind it: jobs stay `PENDING` in the database.
    pub fn disabled() -> Jobs {
        Jobs {
            tx: None,
            depth: Arc::new(AtomicI64::new(0)),
        }
    }

    /// Queues a committed `PENDING` dump for parsing.
    pub fn enqueue(&self, id: CoredumpId) {
        if let Some(tx) = &self.tx
            && tx.send(id).is_ok()
        {
            self.depth.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Jobs queued and not yet picked up.
    pub fn depth(&self) -> i64 {
        self.depth.load(Ordering::Relaxed)
    }

    /// Called by a worker when it takes a job off the queue.
    pub fn taken(&self) {
        self.depth.fetch_sub(1, Ordering::Relaxed);
    }
}
