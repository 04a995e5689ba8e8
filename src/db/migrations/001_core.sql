-- The appliance core. Timestamps are RFC 3339 UTC text with microseconds and 'Z'.
CREATE TABLE device_models (
    id               INTEGER PRIMARY KEY,
    code             TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    firmware_version TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);

CREATE TABLE devices (
    id               INTEGER PRIMARY KEY,
    key              TEXT NOT NULL UNIQUE,
    device_model_id  INTEGER NOT NULL REFERENCES device_models(id) ON DELETE CASCADE,
    name             TEXT NOT NULL DEFAULT '',
    token_hash       BLOB NOT NULL UNIQUE,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX ix_devices_model ON devices(device_model_id);

CREATE TABLE coredumps (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id        INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    filename         TEXT NOT NULL,
    chip             TEXT NOT NULL,
    firmware_version TEXT NOT NULL,
    size             INTEGER NOT NULL,
    parse_status     TEXT NOT NULL DEFAULT 'PENDING' CHECK (parse_status IN ('PENDING', 'PARSED', 'ERROR')),
    parsed_output    TEXT,
    analysis         TEXT,
    uploaded_at      TEXT NOT NULL,
    parsed_at        TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX ix_coredumps_device_id ON coredumps(device_id, uploaded_at DESC, id DESC);
CREATE INDEX ix_coredumps_status ON coredumps(parse_status);
CREATE INDEX ix_coredumps_uploaded ON coredumps(uploaded_at DESC);

CREATE TABLE users (
    id                    INTEGER PRIMARY KEY,
    username              TEXT NOT NULL UNIQUE,
    password_hash         TEXT NOT NULL,
    must_change_password  INTEGER NOT NULL DEFAULT 0,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL
);

CREATE TABLE sessions (
    id          INTEGER PRIMARY KEY,
    token_hash  BLOB NOT NULL UNIQUE,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX ix_sessions_user ON sessions(user_id);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('admin', 'pipeline')),
    token_hash   BLOB NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);
