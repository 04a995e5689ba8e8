-- Firmware version history per model (the original system's later design): one row per
-- stored version with what devices and admins need without opening any file. The app image
-- (.bin) facts give the device download its Content-Length and ETag; `has_elf` says whether the
-- version can decode dumps (a legacy raw .bin upload cannot). Retention (MAX_FIRMWARES) and the
-- "current version" logic read this table; rows go with their model (ON DELETE CASCADE).
CREATE TABLE firmware_versions (
    id               INTEGER PRIMARY KEY,
    device_model_id  INTEGER NOT NULL REFERENCES device_models(id) ON DELETE CASCADE,
    version          TEXT NOT NULL,
    sha256           TEXT NOT NULL,
    size             INTEGER NOT NULL,
    bundle_size      INTEGER,
    has_elf          INTEGER NOT NULL,
    uploaded_at      TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    UNIQUE (device_model_id, version)
);
CREATE INDEX ix_firmware_versions_model ON firmware_versions(device_model_id, uploaded_at DESC);
