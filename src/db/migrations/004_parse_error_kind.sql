-- Typed parse outcomes. An ERROR row says why in parse_error_kind, so the firmware service finds
-- the dumps that wait for their firmware by kind instead of by the wording of parsed_output:
--   firmware_missing  no firmware bundle / app ELF for the dump's model and version (re-queued
--                     when that version is uploaded)
--   dump_unreadable   the stored .dmp file is missing or cannot be read
--   decode_failed     the built-in decoder rejected the dump
--   sidecar_failed    the parse sidecar failed on every attempt
--   interrupted       runs kept dying (worker panic, process killed) and the dump was given up
-- NULL for PENDING and PARSED rows.
ALTER TABLE coredumps ADD COLUMN parse_error_kind TEXT
    CHECK (parse_error_kind IN ('firmware_missing', 'dump_unreadable', 'decode_failed',
                                'sidecar_failed', 'interrupted'));

UPDATE coredumps SET parse_error_kind = CASE
        WHEN parsed_output LIKE 'Unable to parse coredump: firmware ZIP not found%'
            THEN 'firmware_missing'
        WHEN parsed_output LIKE 'Unable to parse coredump: .dmp file not found%'
            OR parsed_output LIKE 'Unable to parse coredump: cannot read %'
            OR parsed_output LIKE 'Unable to parse coredump: invalid stored file name%'
            THEN 'dump_unreadable'
        WHEN parsed_output LIKE 'Unable to parse coredump: parsing was interrupted%'
            THEN 'interrupted'
        WHEN parsed_output LIKE 'Unable to parse coredump: %sidecar%'
            OR parsed_output LIKE 'Unable to parse coredump: cannot write to the transfer dir%'
            THEN 'sidecar_failed'
        ELSE 'decode_failed'
    END
WHERE parse_status = 'ERROR';

CREATE INDEX ix_coredumps_waiting_firmware ON coredumps (firmware_version)
    WHERE parse_error_kind = 'firmware_missing';
