//! Schema migrations: an ordered, append-only list. The schema version is `PRAGMA user_version`
//! (the number of applied steps); each step runs in its own transaction.

use rusqlite::Connection;

use super::DbError;

/// Append only; never edit a step that has shipped.
const MIGRATIONS: &[&str] = &[
    // 1: the appliance core — models, devices, coredumps (all upstream columns plus the
    //    structured analysis), users, sessions and API tokens.
    include_str!("migrations/001_core.sql"),
    // 2: firmware version history per model (sha256/size of the app image, has_elf), for
    //    MAX_FIRMWARES retention and device downloads with an ETag.
    include_str!("migrations/002_firmware_versions.sql"),
    // 3: decode pipeline: parse job claims on coredumps (claim token and time, interrupted
    //    runs), so a job never runs twice at once and one whose worker died is picked up again.
    include_str!("migrations/003_parse_jobs.sql"),
    // 4: typed parse outcomes: `parse_error_kind` on ERROR rows (dumps waiting for their
    //    firmware are found by kind, not by the text of their error).
    include_str!("migrations/004_parse_error_kind.sql"),
    // 5: crash groups: one row per distinct bug of a model, the signatures that map to it
    //    (merges), lifetime tallies per device and per firmware version, and the group of
    //    each dump.
    include_str!("migrations/005_crash_groups.sql"),
    // 6: notifications: channels, the event outbox (written in the transaction that creates or
    //    regresses a group), deliveries per event and channel (claimed like parse jobs), and the
    //    per channel and group cooldown.
    include_str!("migrations/006_notifications.sql"),
    // 7: device check-ins: last seen and running version per device, a device tag, the versions
    //    each device was seen on, and per day / version / device presence and dumps (release
    //    health; crash-free devices).
    include_str!("migrations/007_fleet_checkins.sql"),
    // 8: the audit log: who changed what and when (rollouts and OTA pins first).
    include_str!("migrations/008_audit_log.sql"),
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
