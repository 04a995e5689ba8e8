-- Crash groups: one row per distinct bug of a model. A decoded dump's signature (algorithm
-- version + SHA-256 of reason class and top frames) selects its group through
-- crash_group_signatures, so a merge (B into A) only re-points B's signatures.
--
-- Counts are lifetime: `count`, the per-device and per-version tallies keep dumps that
-- retention or an admin deleted later. The stored dumps of a group are `coredumps.group_id`.
CREATE TABLE crash_groups (
    id                   INTEGER PRIMARY KEY,
    device_model_id      INTEGER NOT NULL REFERENCES device_models(id) ON DELETE CASCADE,
    signature            TEXT NOT NULL,
    title                TEXT NOT NULL,
    reason               TEXT NOT NULL,
    -- JSON array of the function names that were hashed ("why grouped").
    frames               TEXT NOT NULL,
    status               TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'muted')),
    regressed            INTEGER NOT NULL DEFAULT 0,
    resolved_in_version  TEXT,
    resolved_at          TEXT,
    count                INTEGER NOT NULL DEFAULT 0,
    first_seen           TEXT NOT NULL,
    last_seen            TEXT NOT NULL,
    first_version        TEXT NOT NULL,
    last_version         TEXT NOT NULL,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);
CREATE INDEX ix_crash_groups_model ON crash_groups(device_model_id, last_seen DESC);
CREATE INDEX ix_crash_groups_last_seen ON crash_groups(last_seen DESC);

CREATE TABLE crash_group_signatures (
    device_model_id  INTEGER NOT NULL REFERENCES device_models(id) ON DELETE CASCADE,
    signature        TEXT NOT NULL,
    group_id         INTEGER NOT NULL REFERENCES crash_groups(id) ON DELETE CASCADE,
    PRIMARY KEY (device_model_id, signature)
) WITHOUT ROWID;
CREATE INDEX ix_crash_group_signatures_group ON crash_group_signatures(group_id);

-- Lifetime tallies. device_id has no foreign key: a deleted device still counted.
CREATE TABLE crash_group_devices (
    group_id    INTEGER NOT NULL REFERENCES crash_groups(id) ON DELETE CASCADE,
    device_id   INTEGER NOT NULL,
    device_key  TEXT NOT NULL,
    count       INTEGER NOT NULL,
    last_seen   TEXT NOT NULL,
    PRIMARY KEY (group_id, device_id)
) WITHOUT ROWID;

CREATE TABLE crash_group_versions (
    group_id    INTEGER NOT NULL REFERENCES crash_groups(id) ON DELETE CASCADE,
    version     TEXT NOT NULL,
    count       INTEGER NOT NULL,
    PRIMARY KEY (group_id, version)
) WITHOUT ROWID;

ALTER TABLE coredumps ADD COLUMN group_id INTEGER REFERENCES crash_groups(id) ON DELETE SET NULL;
ALTER TABLE coredumps ADD COLUMN signature TEXT;
CREATE INDEX ix_coredumps_group ON coredumps(group_id, uploaded_at DESC);
