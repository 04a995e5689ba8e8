//! Schema migrations: an ordered, append-only list. The schema version is `PRAGMA user_version`
//! (the number of applied steps); each step runs in its own transaction.

use rusqlite::Connection;

use super::DbError;

/// Append only; never edit a step that has shipped.
const MIGRATIONS: &[&str] = &[
    // 1: the appliance core — models, devices, coredumps (all upstream columns plus the
    //    structured analysis), users, sessions and API tokens.
    include_str!("migrations/001_core.sql"),
    // --- 3: decode pipeline (branch `worker`): parse job claims on coredumps. Must stay the
    //     third step: 2 is the firmware branch's migration.
    include_str!("migrations/003_parse_jobs.sql"),
];

pub fn apply(conn: &mut Connection) -> Result<(), DbError> {
    let current: usize = conn
        .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))?
        .max(0) as usize;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let version = i + 1;
        let tx = conn.transaction()?;
        tx.execute_batch(sql)
            .map_err(|source| DbError::Migration { version, source })?;
        tx.pragma_update(None, "user_version", version as i64)?;
        tx.commit()?;
        tracing::info!(version, "applied database migration");
    }
    Ok(())
}
