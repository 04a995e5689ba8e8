-- Device check-ins: what each device runs and when it was last heard from. Written by the OTA
-- poll (`current_version`) and by dump uploads, throttled and batched (fleet::checkins), so the
-- poll is not a write storm.
ALTER TABLE devices ADD COLUMN last_seen_at TEXT;
ALTER TABLE devices ADD COLUMN running_version TEXT;
-- A free label for groups of devices (a canary can select devices by tag).
ALTER TABLE devices ADD COLUMN tag TEXT;
CREATE INDEX ix_devices_running ON devices(device_model_id, running_version);

-- The versions a device was seen running: when it was first and last seen on each, and its
-- newest dump from it (a short history; the oldest rows beyond a few per device are dropped).
-- Crash-free devices over 7 days are counted here: seen on the version since then, and no dump
-- from it since then.
CREATE TABLE device_versions (
    device_id        INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    device_model_id  INTEGER NOT NULL REFERENCES device_models(id) ON DELETE CASCADE,
    version          TEXT NOT NULL,
    first_seen_at    TEXT NOT NULL,
    last_seen_at     TEXT NOT NULL,
    last_dump_at     TEXT,
    PRIMARY KEY (device_id, version)
) WITHOUT ROWID;
-- Covers the 7-day counts of a release (seen since, dumped since) without touching the table.
CREATE INDEX ix_device_versions_seen
    ON device_versions(device_model_id, version, last_seen_at, last_dump_at);

-- Release health per model, version and UTC day: devices seen on the version that day (a
-- check-in or a dump; each device once a day) and dumps sent from it that day. Kept for a few
-- months (the release chart shows 30 days).
CREATE TABLE release_days (
    device_model_id  INTEGER NOT NULL REFERENCES device_models(id) ON DELETE CASCADE,
    version          TEXT NOT NULL,
    day              TEXT NOT NULL,
    devices          INTEGER NOT NULL DEFAULT 0,
    dumps            INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (device_model_id, version, day)
) WITHOUT ROWID;

-- Lifetime dumps per model and version (kept when retention deletes the dumps themselves).
CREATE TABLE release_dumps (
    device_model_id  INTEGER NOT NULL REFERENCES device_models(id) ON DELETE CASCADE,
    version          TEXT NOT NULL,
    dumps            INTEGER NOT NULL DEFAULT 0,
    first_seen_at    TEXT NOT NULL,
    PRIMARY KEY (device_model_id, version)
) WITHOUT ROWID;
