-- Who changed what and when: one row per admin action (rollout and OTA pin changes first; meant
-- for every admin action). `actor` is a user name, `token:<name>` for an API token, `cli` or
-- `crashbox` (automatic actions); `detail` is a JSON object.
CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL,
    detail  TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX ix_audit_log_target ON audit_log(target, id DESC);
