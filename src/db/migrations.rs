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
    // 7: counts kept instead of counted per page view: `crash_groups.devices` and the stored
    //    dumps' total / pending / failed (one row, kept by triggers).
    include_str!("migrations/007_maintained_counts.sql"),
    // 8: device check-ins: last seen and running version per device, a device tag, the versions
    //    each device was seen on, and per day / version / device presence and dumps (release
    //    health; crash-free devices).
    include_str!("migrations/008_fleet_checkins.sql"),
    // 9: the audit log: who changed what and when (rollouts and OTA pins first).
    include_str!("migrations/009_audit_log.sql"),
    // 10: rollouts: per-device OTA pin and exclusion, a canary per model (version, devices, tag,
    //     halt), and the `rollout.halted` notification event.
    include_str!("migrations/010_rollouts.sql"),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Migration 9 rebuilds the notification outbox (to allow `rollout.halted`): events and
    /// deliveries of a database at version 6 survive, still linked, with the foreign keys intact.
    #[test]
    fn the_outbox_rebuild_keeps_events_and_deliveries() -> Result<(), DbError> {
        let mut conn = Connection::open_in_memory()?;
        conn.execute_batch("PRAGMA foreign_keys = ON")?;
        for (i, sql) in MIGRATIONS.iter().take(6).enumerate() {
            conn.execute_batch(sql)?;
            conn.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        conn.execute_batch(
            "INSERT INTO notify_channels (kind, name, url, events, created_at)
                VALUES ('webhook', 'w', 'http://x', '[]', 't');
             INSERT INTO notify_events (event_id, type, payload, created_at)
                VALUES ('evt_1', 'group.created', '{}', 't');
             INSERT INTO notify_deliveries (event_id, channel_id, status, next_attempt_at, created_at)
                VALUES (1, 1, 'pending', 't', 't');",
        )?;
        apply(&mut conn)?;
        let n: i64 = conn.query_row(
            "SELECT COUNT(*) FROM notify_deliveries d JOIN notify_events e ON e.id = d.event_id
             WHERE e.event_id = 'evt_1'",
            [],
            |r| r.get(0),
        )?;
        assert_eq!(n, 1);
        conn.execute(
            "INSERT INTO notify_events (event_id, type, payload, created_at)
             VALUES ('evt_2', 'rollout.halted', '{}', 't')",
            [],
        )?;
        let broken: i64 =
            conn.query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })?;
        assert_eq!(broken, 0);
        // Deleting an event still cascades to its deliveries (the reference follows the rename).
        conn.execute("DELETE FROM notify_events WHERE event_id = 'evt_1'", [])?;
        let left: i64 =
            conn.query_row("SELECT COUNT(*) FROM notify_deliveries", [], |r| r.get(0))?;
        assert_eq!(left, 0);
        Ok(())
    }
}
