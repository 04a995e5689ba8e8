//! Parse jobs on the `coredumps` table: a `PENDING` row is a job. A worker *claims* a job by
//! writing a token unique to its run (`claim_token`, `claimed_at`); the result is written only
//! while that claim still holds, so a run superseded by a re-queue, or a dump deleted meanwhile,
//! changes nothing. A claim older than the lease is stale: its worker died, and the job is
//! claimable again.

use rusqlite::{Connection, OptionalExtension, params};

use super::coredumps::Verdict;
use super::{DbError, now};
use crate::ids::{CoredumpId, DeviceId, DeviceKey, ModelCode};

/// What a worker needs to run one job (joined from the dump, its device and its model).
#[derive(Debug, Clone)]
pub struct Job {
    /// The dump's row id.
    pub id: CoredumpId,
    /// Key of the device that uploaded it (its folder under `COREDUMPS_DIR`).
    pub device_key: DeviceKey,
    /// Code of the device's model (whose firmware holds the ELF).
    pub model_code: ModelCode,
    /// The dump's file name in the device's folder.
    pub filename: String,
    /// As the device reported it.
    pub chip: String,
    /// As the device reported it (not necessarily a valid stored version).
    pub firmware_version: String,
}

/// Drops every claim. Called once at start-up, before the sweep: the workers that held them
/// belonged to a previous process (one `serve` per data dir).
pub fn reset_claims(conn: &Connection) -> Result<usize, DbError> {
    Ok(conn.execute(
        "UPDATE coredumps SET claim_token = NULL, claimed_at = NULL WHERE claim_token IS NOT NULL",
        [],
    )?)
}

/// Ids of `PENDING` dumps that nobody holds (no claim, or a claim from before `stale_before`),
/// oldest first.
pub fn claimable_ids(conn: &Connection, stale_before: &str) -> Result<Vec<CoredumpId>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM coredumps
         WHERE parse_status = 'PENDING' AND (claim_token IS NULL OR claimed_at < ?1)
         ORDER BY id",
    )?;
    let rows = stmt
        .query_map([stale_before], |r| Ok(CoredumpId(r.get(0)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Claims a job for the run `token`. Returns how many runs (this one included) have claimed it
/// since it was queued, or `None` when it is not claimable (finished, deleted, or held by a live
/// run).
pub fn claim(
    conn: &Connection,
    id: CoredumpId,
    token: &str,
    stale_before: &str,
) -> Result<Option<u32>, DbError> {
    Ok(conn
        .query_row(
            "UPDATE coredumps SET claim_token = ?2, claimed_at = ?3, parse_runs = parse_runs + 1
             WHERE id = ?1 AND parse_status = 'PENDING'
               AND (claim_token IS NULL OR claimed_at < ?4)
             RETURNING parse_runs",
            params![id.0, token, now(), stale_before],
            |r| r.get(0),
        )
        .optional()?)
}

/// Whether the run `token` still holds the job (the dump exists, is `PENDING`, not re-queued).
pub fn holds(conn: &Connection, id: CoredumpId, token: &str) -> Result<bool, DbError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM coredumps WHERE id = ?1 AND claim_token = ?2 AND parse_status = 'PENDING'",
            params![id.0, token],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// The inputs of a job.
pub fn job(conn: &Connection, id: CoredumpId) -> Result<Option<Job>, DbError> {
    Ok(conn
        .query_row(
            "SELECT c.id, d.key, m.code, c.filename, c.chip, c.firmware_version
             FROM coredumps c
             JOIN devices d ON d.id = c.device_id
             JOIN device_models m ON m.id = d.device_model_id
             WHERE c.id = ?1",
            [id.0],
            |r| {
                Ok(Job {
                    id: r.get(0)?,
                    device_key: r.get(1)?,
                    model_code: r.get(2)?,
                    filename: r.get(3)?,
                    chip: r.get(4)?,
                    firmware_version: r.get(5)?,
                })
            },
        )
        .optional()?)
}

/// Records a job's outcome, only while the run `token` holds it. `false` when the claim is gone
/// (dump deleted or re-queued meanwhile): the result is then dropped. The run count restarts,
/// so whoever puts the dump back to `PENDING` later need not know about it.
pub fn finish(
    conn: &Connection,
    id: CoredumpId,
    token: &str,
    verdict: Verdict,
    parsed_output: Option<&str>,
    analysis: Option<&str>,
) -> Result<bool, DbError> {
    let ts = now();
    Ok(conn.execute(
        "UPDATE coredumps SET parse_status = ?3, parse_error_kind = ?4, parsed_output = ?5,
                analysis = ?6, parsed_at = ?7, updated_at = ?7, claim_token = NULL,
                claimed_at = NULL, parse_runs = 0
         WHERE id = ?1 AND claim_token = ?2 AND parse_status = 'PENDING'",
        params![
            id,
            token,
            verdict.status(),
            verdict.error_kind(),
            parsed_output,
            analysis,
            ts
        ],
    )? > 0)
}

/// Gives a job back unfinished; it stays `PENDING`. `crashed` says whether this run counts
/// towards the limit of interrupted runs (a panic does; a stop request does not).
pub fn release(
    conn: &Connection,
    id: CoredumpId,
    token: &str,
    crashed: bool,
) -> Result<bool, DbError> {
    let undo = if crashed { 0 } else { 1 };
    Ok(conn.execute(
        "UPDATE coredumps SET claim_token = NULL, claimed_at = NULL,
                parse_runs = MAX(parse_runs - ?3, 0)
         WHERE id = ?1 AND claim_token = ?2",
        params![id.0, token, undo],
    )? > 0)
}

const REQUEUE: &str = "UPDATE coredumps SET parse_status = 'PENDING', parse_error_kind = NULL,
        parsed_output = NULL,
        analysis = NULL, parsed_at = NULL, updated_at = ?1, claim_token = NULL,
        claimed_at = NULL, parse_runs = 0";

/// Puts one dump of `device` back in the queue (re-parse). `false` when it does not exist.
pub fn requeue(conn: &Connection, device: DeviceId, id: CoredumpId) -> Result<bool, DbError> {
    Ok(conn.execute(
        &format!("{REQUEUE} WHERE id = ?2 AND device_id = ?3"),
        params![now(), id.0, device.0],
    )? > 0)
}

/// Puts the given dumps back in the queue; returns those that exist.
pub fn requeue_ids(conn: &Connection, ids: &[CoredumpId]) -> Result<Vec<CoredumpId>, DbError> {
    let mut stmt = conn.prepare_cached(&format!("{REQUEUE} WHERE id = ?2"))?;
    let ts = now();
    let mut done = Vec::new();
    for id in ids {
        if stmt.execute(params![ts, id.0])? > 0 {
            done.push(*id);
        }
    }
    Ok(done)
}

/// Puts every dump that ended in `ERROR` back in the queue; returns their ids.
pub fn requeue_errors(conn: &Connection) -> Result<Vec<CoredumpId>, DbError> {
    let mut stmt = conn.prepare(&format!(
        "{REQUEUE} WHERE parse_status = 'ERROR' RETURNING id"
    ))?;
    let mut ids: Vec<CoredumpId> = stmt
        .query_map([now()], |r| Ok(CoredumpId(r.get(0)?)))?
        .collect::<Result<_, _>>()?;
    ids.sort();
    Ok(ids)
}

/// Number of `PENDING` dumps (queued or running).
pub fn count_pending(conn: &Connection) -> Result<i64, DbError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM coredumps WHERE parse_status = 'PENDING'",
        [],
        |r| r.get(0),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::coredumps::{ParseErrorKind, ParseStatus};
    use crate::db::{Db, coredumps, devices, models};

    fn setup() -> (tempfile::TempDir, Db, CoredumpId) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        let conn = db.conn().unwrap();
        let m = models::insert(&conn, "m", "m").unwrap().unwrap();
        let d = devices::insert(&conn, "abcdefgh", m.id, "", b"hash")
            .unwrap()
            .unwrap();
        let ts = crate::ids::Timestamp::now();
        let id = coredumps::insert(
            &conn,
            &coredumps::NewCoredump {
                device_id: d.id,
                filename: "coredump_x.dmp",
                chip: "esp32c3",
                firmware_version: "1.0.0",
                size: 1,
                uploaded_at: ts,
            },
        )
        .unwrap();
        drop(conn);
        (dir, db, id)
    }

    const LONG_AGO: &str = "2000-01-01T00:00:00.000000Z";
    const FUTURE: &str = "2999-01-01T00:00:00.000000Z";

    #[test]
    fn a_live_claim_excludes_others_and_a_stale_one_does_not() {
        let (_dir, db, id) = setup();
        let conn = db.conn().unwrap();
        assert_eq!(claimable_ids(&conn, LONG_AGO).unwrap(), vec![id]);
        assert_eq!(claim(&conn, id, "a", LONG_AGO).unwrap(), Some(1));
        // Held and fresh: nobody else gets it, and the sweep does not offer it.
        assert_eq!(claim(&conn, id, "b", LONG_AGO).unwrap(), None);
        assert!(claimable_ids(&conn, LONG_AGO).unwrap().is_empty());
        assert!(holds(&conn, id, "a").unwrap());
        // Older than the lease (cut-off in the future): its worker died; "b" takes over.
        assert_eq!(claimable_ids(&conn, FUTURE).unwrap(), vec![id]);
        assert_eq!(claim(&conn, id, "b", FUTURE).unwrap(), Some(2));
        // The dead run's result is dropped; the live one's is recorded.
        assert!(!finish(&conn, id, "a", Verdict::Parsed, Some("old"), None).unwrap());
        assert!(finish(&conn, id, "b", Verdict::Parsed, Some("new"), None).unwrap());
        let c = coredumps::find_by_id(&conn, id).unwrap().unwrap();
        assert_eq!(
            (c.parse_status, c.parsed_output.as_deref()),
            (ParseStatus::Parsed, Some("new"))
        );
        assert_eq!(claim(&conn, id, "c", FUTURE).unwrap(), None, "finished");
    }

    #[test]
    fn release_and_requeue() {
        let (_dir, db, id) = setup();
        let conn = db.conn().unwrap();
        assert_eq!(claim(&conn, id, "a", LONG_AGO).unwrap(), Some(1));
        // A stop does not count; a crash does.
        assert!(release(&conn, id, "a", false).unwrap());
        assert_eq!(claim(&conn, id, "b", LONG_AGO).unwrap(), Some(1));
        assert!(release(&conn, id, "b", true).unwrap());
        assert_eq!(claim(&conn, id, "c", LONG_AGO).unwrap(), Some(2));
        // A re-queue while "c" runs supersedes it.
        let device = coredumps::find_by_id(&conn, id).unwrap().unwrap().device_id;
        assert!(requeue(&conn, device, id).unwrap());
        assert!(!holds(&conn, id, "c").unwrap());
        assert!(
            !finish(
                &conn,
                id,
                "c",
                Verdict::Failed(ParseErrorKind::DecodeFailed),
                Some("x"),
                None
            )
            .unwrap()
        );
        assert_eq!(claim(&conn, id, "d", LONG_AGO).unwrap(), Some(1));
        assert!(
            finish(
                &conn,
                id,
                "d",
                Verdict::Failed(ParseErrorKind::DecodeFailed),
                Some("e"),
                None
            )
            .unwrap()
        );
        assert_eq!(requeue_errors(&conn).unwrap(), vec![id]);
        let c = coredumps::find_by_id(&conn, id).unwrap().unwrap();
        assert_eq!(c.parse_status, ParseStatus::Pending);
        assert_eq!(c.parsed_output, None);
        assert_eq!(
            requeue_ids(&conn, &[id, CoredumpId(999)]).unwrap(),
            vec![id]
        );
        assert!(!requeue(&conn, crate::ids::DeviceId(999), id).unwrap());
        assert_eq!(reset_claims(&conn).unwrap(), 0);
        assert_eq!(count_pending(&conn).unwrap(), 1);
    }
}
