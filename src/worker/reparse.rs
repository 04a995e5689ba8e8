//! Putting dumps back in the queue: one dump through the admin API, or many from the command
//! line. The row goes back to `PENDING` (output, analysis and claim cleared) and is committed
//! before the job is queued. From the CLI there is no channel to the running server: its sweeper
//! picks the rows up within `pool::SWEEP_INTERVAL`.

use super::Jobs;
use crate::db::{Db, devices, parse_jobs};
use crate::error::{Error, Result};
use crate::ids::{CoredumpId, DeviceId};

/// Re-parses one dump of `device` (404 texts as the other coredump routes).
pub fn reparse_one(db: &Db, jobs: &Jobs, device: DeviceId, id: CoredumpId) -> Result<()> {
    devices::find(&*db.conn()?, device)?.ok_or_else(|| Error::not_found("Device", device))?;
    if !db.write(|tx| parse_jobs::requeue(tx, device, id))? {
        return Err(Error::not_found("Coredump", id));
    }
    tracing::info!(id = %id, "coredump queued for re-parse");
    jobs.enqueue(id);
    Ok(())
}

/// Re-parses the given dumps; returns those that exist.
pub fn reparse_ids(db: &Db, jobs: &Jobs, ids: &[CoredumpId]) -> Result<Vec<CoredumpId>> {
    let done = db.write(|tx| parse_jobs::requeue_ids(tx, ids))?;
    for id in &done {
        jobs.enqueue(*id);
    }
    Ok(done)
}

/// Re-parses every dump that ended in `ERROR`.
pub fn reparse_errors(db: &Db, jobs: &Jobs) -> Result<Vec<CoredumpId>> {
    let done = db.write(|tx| parse_jobs::requeue_errors(tx))?;
    for id in &done {
        jobs.enqueue(*id);
    }
    Ok(done)
}
