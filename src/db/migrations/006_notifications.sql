-- Notifications: channels (where to send), the outbox of events (written in the transaction
-- that creates or regresses a group), one delivery per event and channel (claimed by the sender
-- thread like parse jobs: claim token + lease), and the per channel and group cooldown.
CREATE TABLE notify_channels (
    id               INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('webhook', 'slack', 'ntfy', 'email')),
    name             TEXT NOT NULL,
    -- HTTP channels: the endpoint; e-mail: empty.
    url              TEXT NOT NULL DEFAULT '',
    -- Webhook: `whsec_<base64 key>`; ntfy: bearer token; e-mail: SMTP password. Never shown
    -- again after creation.
    secret           TEXT,
    -- JSON array of event types; JSON array of model codes (empty: all models).
    events           TEXT NOT NULL,
    models           TEXT NOT NULL DEFAULT '[]',
    cooldown_s       INTEGER NOT NULL DEFAULT 3600,
    -- group.spike: a group reaching spike_dumps dumps or spike_devices distinct devices within
    -- spike_window_s (NULL: that threshold is off).
    spike_dumps      INTEGER,
    spike_devices    INTEGER,
    spike_window_s   INTEGER NOT NULL DEFAULT 3600,
    smtp_host        TEXT,
    smtp_port        INTEGER,
    smtp_tls         TEXT CHECK (smtp_tls IS NULL OR smtp_tls IN ('starttls', 'tls', 'plain')),
    smtp_username    TEXT,
    email_from       TEXT,
    email_to         TEXT,
    created_at       TEXT NOT NULL,
    last_status      TEXT,
    last_error       TEXT,
    last_attempt_at  TEXT
);

CREATE TABLE notify_events (
    id          INTEGER PRIMARY KEY,
    event_id    TEXT NOT NULL UNIQUE,
    type        TEXT NOT NULL CHECK (type IN ('group.created', 'group.regressed', 'group.spike', 'test')),
    group_id    INTEGER REFERENCES crash_groups(id) ON DELETE SET NULL,
    payload     TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE notify_deliveries (
    id               INTEGER PRIMARY KEY,
    event_id         INTEGER NOT NULL REFERENCES notify_events(id) ON DELETE CASCADE,
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
CREATE INDEX ix_notify_deliveries_due ON notify_deliveries(status, next_attempt_at);
CREATE INDEX ix_notify_deliveries_channel ON notify_deliveries(channel_id, id DESC);

CREATE TABLE notify_cooldowns (
    channel_id   INTEGER NOT NULL REFERENCES notify_channels(id) ON DELETE CASCADE,
    group_id     INTEGER NOT NULL REFERENCES crash_groups(id) ON DELETE CASCADE,
    last_at      TEXT NOT NULL,
    PRIMARY KEY (channel_id, group_id)
) WITHOUT ROWID;
