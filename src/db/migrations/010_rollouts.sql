-- Rollouts. The model target stays device_models.firmware_version (the newest upload unless an
-- upload says target=false or an admin sets it). A model may have a canary: a version, devices
-- by key (rollout_canary_devices) and/or by tag, halted when a new crash group appears on it.
ALTER TABLE devices ADD COLUMN ota_pin TEXT;
ALTER TABLE devices ADD COLUMN ota_exclude INTEGER NOT NULL DEFAULT 0;

CREATE TABLE rollouts (
    device_model_id  INTEGER PRIMARY KEY REFERENCES device_models(id) ON DELETE CASCADE,
    canary_version   TEXT,
    canary_tag       TEXT,
    halted           INTEGER NOT NULL DEFAULT 0,
    halted_by_group  INTEGER REFERENCES crash_groups(id) ON DELETE SET NULL,
    halted_at        TEXT,
    updated_at       TEXT NOT NULL
);

CREATE TABLE rollout_canary_devices (
    device_model_id  INTEGER NOT NULL REFERENCES device_models(id) ON DELETE CASCADE,
    device_id        INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    PRIMARY KEY (device_model_id, device_id)
) WITHOUT ROWID;
CREATE INDEX ix_rollout_canary_device ON rollout_canary_devices(device_id);

-- The outbox learns `rollout.halted`. SQLite cannot change a CHECK in place: the events table is
-- rebuilt, and its deliveries with it (they reference it; the new deliveries table points at
-- the new events table before the old tables are dropped, so no cascade touches them).
CREATE TABLE notify_events_new (
    id          INTEGER PRIMARY KEY,
    event_id    TEXT NOT NULL UNIQUE,
    type        TEXT NOT NULL CHECK (type IN ('group.created', 'group.regressed', 'group.spike', 'rollout.halted', 'test')),
    group_id    INTEGER REFERENCES crash_groups(id) ON DELETE SET NULL,
    payload     TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
INSERT INTO notify_events_new SELECT id, event_id, type, group_id, payload, created_at FROM notify_events;
CREATE TABLE notify_deliveries_new (
    id               INTEGER PRIMARY KEY,
    event_id         INTEGER NOT NULL REFERENCES notify_events_new(id) ON DELETE CASCADE,
    channel_id       INTEGER NOT NULL REFERENCES notify_channels(id) ON DELETE CASCADE,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    claim_token      TEXT,
    claimed_at       TEXT,
    last_error       TEXT,
    sent_at          TEXT,
    created_at       TEXT NOT NULL
);
INSERT INTO notify_deliveries_new SELECT id, event_id, channel_id, status, attempts, next_attempt_at,
    claim_token, claimed_at, last_error, sent_at, created_at FROM notify_deliveries;
DROP TABLE notify_deliveries;
DROP TABLE notify_events;
ALTER TABLE notify_events_new RENAME TO notify_events;
ALTER TABLE notify_deliveries_new RENAME TO notify_deliveries;
CREATE INDEX ix_notify_deliveries_due ON notify_deliveries(status, next_attempt_at);
CREATE INDEX ix_notify_deliveries_channel ON notify_deliveries(channel_id, id DESC);
