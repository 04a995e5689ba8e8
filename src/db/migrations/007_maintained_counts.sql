-- Counts the Problems page shows, kept up to date instead of counted per request (a COUNT(*)
-- over 100,000 dumps walks a whole index: ~4-6 ms a page view).
--
-- crash_groups.devices: distinct devices in crash_group_devices, kept by db::groups
-- (count_dump, uncount_dump, merge) in the same statements that change the tallies.
ALTER TABLE crash_groups ADD COLUMN devices INTEGER NOT NULL DEFAULT 0;
UPDATE crash_groups SET devices =
    (SELECT COUNT(*) FROM crash_group_devices d WHERE d.group_id = crash_groups.id);
-- The group list's three orders (db::groups::Sort), open groups and regressions first: a page
-- (even a deep one) reads its rows in index order instead of sorting every group.
CREATE INDEX ix_crash_groups_by_last_seen ON crash_groups(
    (status = 'open') DESC, regressed DESC, last_seen DESC, id DESC);
CREATE INDEX ix_crash_groups_by_count ON crash_groups(
    (status = 'open') DESC, regressed DESC, count DESC, last_seen DESC, id DESC);
CREATE INDEX ix_crash_groups_by_devices ON crash_groups(
    (status = 'open') DESC, regressed DESC, devices DESC, last_seen DESC, id DESC);

-- Stored dumps in all, pending and failed: one row, kept by triggers, so every writer (the
-- server, the CLI, a cascade from a deleted device or model) keeps it right.
CREATE TABLE coredump_totals (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    total    INTEGER NOT NULL,
    pending  INTEGER NOT NULL,
    errors   INTEGER NOT NULL
);
INSERT INTO coredump_totals (id, total, pending, errors)
    SELECT 1, COUNT(*), TOTAL(parse_status = 'PENDING'), TOTAL(parse_status = 'ERROR')
    FROM coredumps;

CREATE TRIGGER coredump_totals_insert AFTER INSERT ON coredumps
BEGIN
    UPDATE coredump_totals SET total = total + 1,
        pending = pending + (NEW.parse_status = 'PENDING'),
        errors = errors + (NEW.parse_status = 'ERROR')
    WHERE id = 1;
END;

CREATE TRIGGER coredump_totals_delete AFTER DELETE ON coredumps
BEGIN
    UPDATE coredump_totals SET total = total - 1,
        pending = pending - (OLD.parse_status = 'PENDING'),
        errors = errors - (OLD.parse_status = 'ERROR')
    WHERE id = 1;
END;

CREATE TRIGGER coredump_totals_status AFTER UPDATE OF parse_status ON coredumps
WHEN OLD.parse_status IS NOT NEW.parse_status
BEGIN
    UPDATE coredump_totals SET
        pending = pending - (OLD.parse_status = 'PENDING') + (NEW.parse_status = 'PENDING'),
        errors = errors - (OLD.parse_status = 'ERROR') + (NEW.parse_status = 'ERROR')
    WHERE id = 1;
END;
