//! Putting dumps back in the queue: one dump through the admin API, or many from the command
//! line. The row goes back to `PENDING` (output, analysis and claim cleared) and is committed
//! before the job is queued. From the CLI there is no channel to the running server: its sweeper
//! picks the rows up within `pool::SWEEP_INTERVAL`.
//!
//! A re-parse never loses a decoded report to a button: a `PARSED` dump whose firmware bundle
//! is no longer stored (pruned by retention, deleted) would end as "firmware ZIP not found", so
//! it is refused and the report kept ([`report_would_be_lost`]).

use rusqlite::Connection;

use super::Jobs;
use crate::db::coredumps::{self, ParseStatus};
use crate::db::{Db, devices, parse_jobs};
use crate::error::{Error, Result};
use crate::ids::{CoredumpId, DeviceId, FirmwareVersion};
use crate::store::Layout;

/// `Some(reason)` when re-parsing dump `id` would replace its decoded report with an error:
/// the dump is `PARSED` and its firmware version's bundle is gone.
pub fn report_would_be_lost(
    conn: &Connection,
    layout: &Layout,
    id: CoredumpId,
) -> Result<Option<String>> {
    let Some(dump) = coredumps::find_by_id(conn, id)? else {
        return Ok(None);
    };
    if dump.parse_status != ParseStatus::Parsed {
        return Ok(None);
    }
    let Some(job) = parse_jobs::job(conn, id)? else {
        return Ok(None);
    };
    let stored = FirmwareVersion::parse(&job.firmware_version)
        .is_some_and(|v| layout.bundle_path(&job.model_code, &v).is_file());
    Ok((!stored).then(|| {
        format!(
            "Cannot re-parse coredump {id} because firmware {} of model {} is no longer stored; its decoded report is kept",
            job.firmware_version, job.model_code
        )
    }))
}

/// Re-parses one dump of `device` (404 texts as the other coredump routes); refused
/// (`InvalidOperation`) when that would lose its decoded report.
pub fn reparse_one(
    db: &Db,
    layout: &Layout,
    jobs: &Jobs,
    device: DeviceId,
    id: CoredumpId,
) -> Result<()> {
    devices::find(&*db.conn()?, device)?.ok_or_else(|| Error::not_found("Device", device))?;
    if let Some(why) = report_would_be_lost(&*db.conn()?, layout, id)? {
        return Err(Error::InvalidOperation(why));
    }
    if !db.write(|tx| parse_jobs::requeue(tx, device, id))? {
        return Err(Error::not_found("Coredump", id));
    }
    tracing::info!(id = %id, "coredump queued for re-parse");
    jobs.enqueue(id);
    Ok(())
}

/// What [`reparse_ids`] did; ids that do not exist are in neither list.
#[derive(Debug, Default)]
pub struct Requeued {
    /// Dumps put back in the queue.
    pub queued: Vec<CoredumpId>,
    /// Dumps left alone because a re-parse would lose their report, with the reason.
    pub kept: Vec<(CoredumpId, String)>,
}

/// Re-parses the given dumps, except those whose report a re-parse would lose.
pub fn reparse_ids(db: &Db, layout: &Layout, jobs: &Jobs, ids: &[CoredumpId]) -> Result<Requeued> {
    let mut kept = Vec::new();
    let mut go = Vec::new();
    {
        let conn = db.conn()?;
        for id in ids {
            match report_would_be_lost(&conn, layout, *id)? {
                Some(why) => kept.push((*id, why)),
                None => go.push(*id),
            }
        }
    }
    let queued = db.write(|tx| parse_jobs::requeue_ids(tx, &go))?;
    for id in &queued {
        jobs.enqueue(*id);
    }
    Ok(Requeued { queued, kept })
}

/// Re-parses every dump that ended in `ERROR`.
pub fn reparse_errors(db: &Db, jobs: &Jobs) -> Result<Vec<CoredumpId>> {
    let done = db.write(parse_jobs::requeue_errors)?;
    for id in &done {
        jobs.enqueue(*id);
    }
    Ok(done)
}
