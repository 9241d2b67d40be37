//! The standard text of the statements the adapters run on their own (the
//! migrations create the schema): what SQLite and PostgreSQL understand
//! alike. Each is the default of its item of `Dialect` (`dialect.rs`),
//! which says what its parameters are; what a dialect writes otherwise (and
//! every statement over many rows) is in its own module, `sqlite.rs` or
//! `postgres.rs`.
//!
//! Placeholders are `$1`, `$2`…, each used once, in order (SQLite reads
//! `$N` as `?N`). JSON columns (`json`, `jsonb` on PostgreSQL; `text` on
//! SQLite) are read through `CAST(… AS TEXT)` and decoded by the reader.

// ------------------------------------------------------------ the log

/// The log after a position, in commit order: `($1 after, $2 limit)`.
/// The columns in this order are what the reader takes them by.
pub const READ_LOG: &str = "
SELECT position, aggregate_type, aggregate_id, sequence, event_type, event_version,
       CAST(payload AS TEXT) AS payload, CAST(metadata AS TEXT) AS metadata
  FROM events
 WHERE position > $1
 ORDER BY position
 LIMIT $2";

/// One stream, as sqlite-es and postgres-es read it (on PostgreSQL events
/// not numbered yet included): `($1 aggregate_type, $2 aggregate_id)`. The
/// columns of [`READ_LOG`] after its position.
pub const STREAM: &str = "
SELECT aggregate_type, aggregate_id, sequence, event_type, event_version,
       CAST(payload AS TEXT) AS payload, CAST(metadata AS TEXT) AS metadata
  FROM events
 WHERE aggregate_type = $1 AND aggregate_id = $2
 ORDER BY sequence";

/// Two streams in one statement, as [`STREAM`] reads each: `($1
/// aggregate_type, $2 aggregate_id, $3 aggregate_type, $4 aggregate_id)`;
/// the columns of [`STREAM`], the first stream's rows first (two
/// different streams: the same one named twice would come twice). Each branch is [`STREAM`]'s own
/// indexed read.
pub const STREAMS_2: &str = "
SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata
  FROM (SELECT 0 AS branch, aggregate_type, aggregate_id, sequence, event_type, event_version,
               CAST(payload AS TEXT) AS payload, CAST(metadata AS TEXT) AS metadata
          FROM events
         WHERE aggregate_type = $1 AND aggregate_id = $2
        UNION ALL
        SELECT 1 AS branch, aggregate_type, aggregate_id, sequence, event_type, event_version,
               CAST(payload AS TEXT) AS payload, CAST(metadata AS TEXT) AS metadata
          FROM events
         WHERE aggregate_type = $3 AND aggregate_id = $4) AS two
 ORDER BY branch, sequence";

/// Every event of one aggregate type, in commit order: `($1
/// aggregate_type)`; the columns of [`STREAM`].
pub const EVENTS_OF_TYPE: &str = "
SELECT aggregate_type, aggregate_id, sequence, event_type, event_version,
       CAST(payload AS TEXT) AS payload, CAST(metadata AS TEXT) AS metadata
  FROM events
 WHERE aggregate_type = $1 AND position IS NOT NULL
 ORDER BY position";

/// The position of the last event of the log, 0 if it is empty.
pub const LOG_HEAD: &str = "SELECT CAST(COALESCE(MAX(position), 0) AS BIGINT) FROM events";

/// The standard text of [`Dialect::CHECKPOINT`](super::Dialect::CHECKPOINT).
pub const CHECKPOINT: &str = "SELECT position FROM checkpoints WHERE name = $1";

/// The standard text of [`Dialect::SAVE_CHECKPOINT`](super::Dialect::SAVE_CHECKPOINT).
pub const SAVE_CHECKPOINT: &str = "
INSERT INTO checkpoints (name, position) VALUES ($1, $2)
    ON CONFLICT (name) DO UPDATE SET position = excluded.position";

// ------------------------------------------------------------ read side

/// The standard text of [`Dialect::BEGIN_WRITE`](super::Dialect::BEGIN_WRITE).
pub const BEGIN: &str = "BEGIN";

/// The standard text of [`Dialect::ENSURE_READ_CHECKPOINT`](super::Dialect::ENSURE_READ_CHECKPOINT).
pub const ENSURE_READ_CHECKPOINT: &str =
    "INSERT INTO read_checkpoints (name, position) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING";
/// The standard text of [`Dialect::READ_CHECKPOINT`](super::Dialect::READ_CHECKPOINT).
pub const READ_CHECKPOINT: &str =
    "SELECT position, generation FROM read_checkpoints WHERE name = $1";
/// The standard text of [`Dialect::SAVE_READ_CHECKPOINT`](super::Dialect::SAVE_READ_CHECKPOINT).
pub const SAVE_READ_CHECKPOINT: &str = "UPDATE read_checkpoints SET position = $1 WHERE name = $2";
/// The standard text of [`Dialect::NEXT_GENERATION`](super::Dialect::NEXT_GENERATION).
pub const NEXT_GENERATION: &str =
    "UPDATE read_checkpoints SET generation = generation + 1 WHERE name = $1";

/// The standard text of [`Dialect::DELEGATION`](super::Dialect::DELEGATION).
pub const DELEGATION: &str =
    "SELECT CAST(data AS TEXT) AS data, position FROM read_delegations WHERE id = $1";
/// The standard text of [`Dialect::DELEGATIONS_BY_GRANTOR`](super::Dialect::DELEGATIONS_BY_GRANTOR).
pub const DELEGATIONS_BY_GRANTOR: &str = "
SELECT CAST(data AS TEXT) AS data, position FROM read_delegations
 WHERE grantor = $1 AND stage NOT IN ('pending', 'refused')
 ORDER BY requested_at, id";
/// The standard text of [`Dialect::DELEGATIONS_BY_DELEGATE`](super::Dialect::DELEGATIONS_BY_DELEGATE).
pub const DELEGATIONS_BY_DELEGATE: &str = "
SELECT CAST(data AS TEXT) AS data, position FROM read_delegations
 WHERE delegate = $1 AND stage NOT IN ('pending', 'refused')
 ORDER BY requested_at, id";
/// The standard text of [`Dialect::ALL_DELEGATIONS`](super::Dialect::ALL_DELEGATIONS).
pub const ALL_DELEGATIONS: &str =
    "SELECT CAST(data AS TEXT) AS data, position FROM read_delegations ORDER BY id";

/// The standard text of [`Dialect::BOOKING`](super::Dialect::BOOKING).
pub const BOOKING: &str = "
SELECT CAST(data AS TEXT) AS data, CAST(meeting AS TEXT) AS meeting, position FROM read_bookings
 WHERE id = $1";
/// The standard text of [`Dialect::BOOKINGS_OF`](super::Dialect::BOOKINGS_OF).
pub const BOOKINGS_OF: &str = "
SELECT CAST(data AS TEXT) AS data, CAST(meeting AS TEXT) AS meeting, position FROM read_bookings
 WHERE booker = $1 AND stage <> 'refused'
 ORDER BY slot_start, id";
/// The standard text of [`Dialect::BOOKINGS_BY_OFFICE_DAY`](super::Dialect::BOOKINGS_BY_OFFICE_DAY).
pub const BOOKINGS_BY_OFFICE_DAY: &str = "
SELECT CAST(data AS TEXT) AS data, CAST(meeting AS TEXT) AS meeting, position FROM read_bookings
 WHERE office = $1 AND slot_date = $2 AND stage <> 'refused'
 ORDER BY slot_start, id";
/// The standard text of [`Dialect::BOOKINGS_TO_SETTLE`](super::Dialect::BOOKINGS_TO_SETTLE).
pub const BOOKINGS_TO_SETTLE: &str = "
SELECT CAST(data AS TEXT) AS data, CAST(meeting AS TEXT) AS meeting, position FROM read_bookings
 WHERE stage = 'confirmed' AND slot_start < $1
   AND (slot_start > $2 OR (slot_start = $2 AND id > $3))
 ORDER BY slot_start, id LIMIT $4";
/// The standard text of [`Dialect::WAITING_ROOM`](super::Dialect::WAITING_ROOM).
pub const WAITING_ROOM: &str = "
SELECT CAST(data AS TEXT) AS data, CAST(meeting AS TEXT) AS meeting, position FROM read_bookings
 WHERE office = $1 AND slot_date = $2 AND mode = 'web_meeting'
   AND stage IN ('confirmed', 'served', 'missed')
 ORDER BY slot_start, id";
/// The standard text of [`Dialect::ALL_BOOKINGS`](super::Dialect::ALL_BOOKINGS).
pub const ALL_BOOKINGS: &str = "
SELECT CAST(data AS TEXT) AS data, CAST(meeting AS TEXT) AS meeting, position FROM read_bookings
 ORDER BY id";

/// `held` is `boolean` on PostgreSQL, `0` or `1` on SQLite: true alike.
pub const PLACES_HELD: &str = "
SELECT slot_start, COUNT(*) AS taken FROM read_slot_places
 WHERE counter = $1 AND held AND slot_start >= $2 AND slot_start <= $3
 GROUP BY slot_start";
/// The standard text of [`Dialect::ALL_PLACES`](super::Dialect::ALL_PLACES).
pub const ALL_PLACES: &str = "
SELECT slot_key, booking, counter, slot_start, held, position FROM read_slot_places
 ORDER BY slot_key, booking";

/// The standard text of [`Dialect::AUDIT_OF`](super::Dialect::AUDIT_OF).
pub const AUDIT_OF: &str = "
SELECT position, grantor, actor, action, aggregate_type, aggregate_id, at, channel, correlation_id
  FROM read_audit WHERE grantor = $1 ORDER BY position";
/// The standard text of [`Dialect::ALL_AUDIT`](super::Dialect::ALL_AUDIT).
pub const ALL_AUDIT: &str = "
SELECT position, grantor, actor, action, aggregate_type, aggregate_id, at, channel, correlation_id
  FROM read_audit ORDER BY position";

/// The standard text of [`Dialect::ALL_DOCUMENT_REFS`](super::Dialect::ALL_DOCUMENT_REFS).
pub const ALL_DOCUMENT_REFS: &str =
    "SELECT sha256, position FROM read_document_refs ORDER BY sha256";
/// The standard text of [`Dialect::DOCUMENT_REFERENCED`](super::Dialect::DOCUMENT_REFERENCED).
pub const DOCUMENT_REFERENCED: &str = "SELECT 1 FROM read_document_refs WHERE sha256 = $1";

/// DELETE, not TRUNCATE: on PostgreSQL readers keep seeing the old rows
/// (MVCC) until the rebuild commits, instead of waiting on TRUNCATE's lock.
pub const CLEAR_READ_MODELS: [&str; 5] = [
    "DELETE FROM read_delegations",
    "DELETE FROM read_bookings",
    "DELETE FROM read_slot_places",
    "DELETE FROM read_audit",
    "DELETE FROM read_document_refs",
];

// The statements that reach an outbox row by key test `status` with `IS
// TRUE`, which no index serves: only the primary key can. With `status =
// 'pending'` PostgreSQL's generic plan (kept after five executions) may pick
// `outbox_due (status, next_attempt_at)` and filter on key, reading every
// pending row each time.

/// SQLite has one writer at a time, so the select and the update are one
/// atomic step; PostgreSQL's skips the rows other dispatchers hold. A row
/// still claimed by the claimant (`$5`, the same as `$1`) is taken again:
/// a dispatcher claims one step at a time, so its own claim outside a step
/// is one a failed step left.
pub const CLAIM_DUE: &str = "
UPDATE outbox SET claim = $1, claimed_until = $2
 WHERE key IN (SELECT key FROM outbox
                WHERE status = 'pending' AND next_attempt_at <= $3
                  AND (claimed_until IS NULL OR claimed_until <= $4 OR claim = $5)
                ORDER BY next_attempt_at, key
                LIMIT $6)
RETURNING key, channel, recipient, title, body, due_at, status, attempts, next_attempt_at,
          last_error, sent_at, position";
/// The standard text of [`Dialect::MARK_SENT`](super::Dialect::MARK_SENT).
pub const MARK_SENT: &str = "
UPDATE outbox SET status = 'sent', sent_at = $1, claim = NULL, claimed_until = NULL
 WHERE key = $2 AND (status <> 'sent') IS TRUE";
/// The standard text of [`Dialect::MARK_ATTEMPT`](super::Dialect::MARK_ATTEMPT).
pub const MARK_ATTEMPT: &str = "
UPDATE outbox SET attempts = $1, next_attempt_at = $2, last_error = $3, status = $4,
       claim = NULL, claimed_until = NULL
 WHERE key = $5 AND (status = 'pending') IS TRUE";
/// The standard text of [`Dialect::OUTBOX`](super::Dialect::OUTBOX).
pub const OUTBOX: &str = "
SELECT key, channel, recipient, title, body, due_at, status, attempts, next_attempt_at,
       last_error, sent_at, position
  FROM outbox ORDER BY position, key";

/// `is_read` and `deleted` are `boolean` on PostgreSQL, `0` or `1` on
/// SQLite (where `FALSE` is 0 and `TRUE` 1).
pub const INSERT_NOTICE: &str = "
INSERT INTO notices (id, citizen, title, body, posted_at, is_read, deleted)
VALUES ($1, $2, $3, $4, $5, FALSE, FALSE)
    ON CONFLICT (id) DO NOTHING";
/// The standard text of [`Dialect::NOTICES_OF`](super::Dialect::NOTICES_OF).
pub const NOTICES_OF: &str = "
SELECT id, citizen, title, body, posted_at, is_read, deleted FROM notices
 WHERE citizen = $1 AND NOT deleted
 ORDER BY posted_at DESC, id";
/// The standard text of [`Dialect::SET_NOTICE_READ`](super::Dialect::SET_NOTICE_READ).
pub const SET_NOTICE_READ: &str =
    "UPDATE notices SET is_read = $1 WHERE citizen = $2 AND id = $3 AND NOT deleted";
/// The standard text of [`Dialect::DELETE_NOTICE`](super::Dialect::DELETE_NOTICE).
pub const DELETE_NOTICE: &str =
    "UPDATE notices SET deleted = TRUE WHERE citizen = $1 AND id = $2 AND NOT deleted";

/// The same content stored again keeps its row and moves `stored_at` on: it
/// is about to be referred to. (`stored_at` is empty only on SQLite files
/// older than it.) On PostgreSQL a sweep deleting the row meanwhile makes
/// this wait and insert it anew.
pub const PUT_DOCUMENT: &str = "
INSERT INTO documents (sha256, content, size, stored_at) VALUES ($1, $2, $3, $4)
    ON CONFLICT (sha256) DO UPDATE SET stored_at = excluded.stored_at
     WHERE documents.stored_at IS NULL OR documents.stored_at < excluded.stored_at";
/// The documents no event refers to, stored before the instant, in one
/// statement with the look-up of the references (on PostgreSQL a row whose
/// `stored_at` a concurrent `put` moved on is checked again, as it is now,
/// and kept).
pub const SWEEP_DOCUMENTS: &str = "
DELETE FROM documents
 WHERE stored_at < $1
   AND NOT EXISTS (SELECT 1 FROM read_document_refs r WHERE r.sha256 = documents.sha256)
RETURNING size";
/// The standard text of [`Dialect::DOCUMENT`](super::Dialect::DOCUMENT).
pub const DOCUMENT: &str = "SELECT content FROM documents WHERE sha256 = $1";
/// The standard text of [`Dialect::DOCUMENT_STORED`](super::Dialect::DOCUMENT_STORED).
pub const DOCUMENT_STORED: &str = "SELECT COUNT(*) FROM documents WHERE sha256 = $1";
/// Flows not settled yet (delegations and bookings `pending`) and the
/// outbox's rows waiting or given up, as the read side sees them.
pub const BACKLOG: &str = "
SELECT (SELECT COUNT(*) FROM read_delegations WHERE stage = 'pending'),
       (SELECT COUNT(*) FROM read_bookings WHERE stage = 'pending'),
       (SELECT COUNT(*) FROM outbox WHERE status = 'pending'),
       (SELECT COUNT(*) FROM outbox WHERE status = 'failed')";

/// The standard text of [`Dialect::DOCUMENT_USAGE`](super::Dialect::DOCUMENT_USAGE).
pub const DOCUMENT_USAGE: &str =
    "SELECT count(*), CAST(coalesce(sum(size), 0) AS BIGINT) FROM documents";
