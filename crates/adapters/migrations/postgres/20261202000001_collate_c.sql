-- Every text column the stores compare, sort or index holds a machine
-- value: an id, a fiscal code, a state name, or an instant as fixed-width
-- RFC 3339 text. They compare byte by byte, as SQLite compares them (its
-- BINARY collation). Under the database's default collation PostgreSQL
-- compared them through the locale's strcoll instead (even C.UTF-8 is not
-- its byte-wise fast path): slower on every index probe and insert, and on
-- a database made with another locale, lists sorted otherwise than on
-- SQLite. The indexes on these columns are rebuilt; the rows are not.

ALTER TABLE events
    ALTER COLUMN aggregate_type TYPE text COLLATE "C",
    ALTER COLUMN aggregate_id TYPE text COLLATE "C";

ALTER TABLE checkpoints
    ALTER COLUMN name TYPE text COLLATE "C";

ALTER TABLE read_checkpoints
    ALTER COLUMN name TYPE text COLLATE "C";

ALTER TABLE read_delegations
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN grantor TYPE text COLLATE "C",
    ALTER COLUMN delegate TYPE text COLLATE "C",
    ALTER COLUMN stage TYPE text COLLATE "C",
    ALTER COLUMN requested_at TYPE text COLLATE "C";

ALTER TABLE read_bookings
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN booker TYPE text COLLATE "C",
    ALTER COLUMN counter TYPE text COLLATE "C",
    ALTER COLUMN office TYPE text COLLATE "C",
    ALTER COLUMN mode TYPE text COLLATE "C",
    ALTER COLUMN slot_start TYPE text COLLATE "C",
    ALTER COLUMN slot_date TYPE text COLLATE "C",
    ALTER COLUMN stage TYPE text COLLATE "C",
    ALTER COLUMN meeting_state TYPE text COLLATE "C";

ALTER TABLE read_slot_places
    ALTER COLUMN slot_key TYPE text COLLATE "C",
    ALTER COLUMN booking TYPE text COLLATE "C",
    ALTER COLUMN counter TYPE text COLLATE "C",
    ALTER COLUMN slot_start TYPE text COLLATE "C";

ALTER TABLE read_audit
    ALTER COLUMN grantor TYPE text COLLATE "C";

ALTER TABLE outbox
    ALTER COLUMN key TYPE text COLLATE "C",
    ALTER COLUMN status TYPE text COLLATE "C",
    ALTER COLUMN next_attempt_at TYPE text COLLATE "C",
    ALTER COLUMN claimed_until TYPE text COLLATE "C";

ALTER TABLE notices
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN citizen TYPE text COLLATE "C",
    ALTER COLUMN posted_at TYPE text COLLATE "C";

ALTER TABLE documents
    ALTER COLUMN sha256 TYPE text COLLATE "C";
