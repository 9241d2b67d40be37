//! # deleghe-store-mariadb
//!
//! A store for deleghe on MariaDB (10.5 or later) or MySQL-compatible
//! servers, written only against the public SQL port of `deleghe-adapters`
//! ([`deleghe_adapters::sql::Dialect`]): this crate gives the statements
//! MariaDB writes its own way and the schema (`migrations/`); the adapters'
//! generic statements do the rest, the read side included. The events table
//! is mysql-es's, plus the log's `position`.
//!
//! ```no_run
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use deleghe_adapters::Deleghe;
//! use deleghe_domain::Policy;
//!
//! let repository = deleghe_store_mariadb::connect("mysql://root@127.0.0.1:3306/test").await?;
//! let rules = Deleghe::new(repository, Policy::default());
//! # let _ = rules;
//! # Ok(())
//! # }
//! ```
//!
//! What differs from the stores in `deleghe-adapters` (docs/STORES.md):
//! - positions are given when the log is read, as on PostgreSQL, by the
//!   procedure `number_events()`, to the rows whose insert has committed;
//!   every connection runs in READ COMMITTED so that the numbering sees
//!   exactly those;
//! - statements over many rows bind one `?` per value, in chunks
//!   ([`Rows`]); conflicts are `ON DUPLICATE KEY UPDATE` with the stored row
//!   kept where it is newer;
//! - the outbox's claim is an `UPDATE`, then a read of what it claimed
//!   ([`Dialect::CLAIMED`]): MariaDB's `UPDATE` returns no rows;
//! - keys are `utf8mb4_bin`, compared and ordered byte by byte as on the
//!   other stores; MariaDB marks such columns binary, which sqlx will not
//!   decode as text, so every statement reads them through `CAST(… AS
//!   CHAR)`, and orders by the table's column (`ORDER BY t.column`: a bare
//!   name would take the cast, in the connection's collation).

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use deleghe_adapters::connect::ConnectError;
use deleghe_adapters::sql::{Dialect, Rows, SqlStore, Value};
use deleghe_adapters::Repository;
use sqlx::error::BoxDynError;
use sqlx::migrate::Migrator;
use sqlx::mysql::{MySqlArguments, MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::{Arguments, Executor};

pub use sqlx;

/// The most rows one statement takes: at most 12 columns a row, far under
/// MariaDB's 65,535 bound parameters.
const MOST_ROWS: usize = 256;
const MAX_CONNECTIONS: u32 = 10;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// MariaDB's dialect of the adapters' statements.
pub struct MariaDbDialect;

/// [`Dialect::SCHEDULE`]'s rows: `(key, channel, recipient, title, body,
/// due_at, status, next_attempt_at, position)`.
const SCHEDULE_HEAD: &str = "
INSERT INTO outbox (`key`, channel, recipient, title, body, due_at, status, next_attempt_at,
                    position) ";

impl Dialect for MariaDbDialect {
    type DB = sqlx::MySql;
    type Many = Rows;

    const MOST_ROWS: Option<usize> = Some(MOST_ROWS);

    fn many(statement: &Rows, rows: usize) -> Cow<'static, str> {
        Cow::Owned(statement.sql(rows))
    }

    fn bind_many<'a>(values: Vec<Value<'a>>, _rows: usize) -> Result<MySqlArguments, BoxDynError> {
        let mut args = MySqlArguments::default();
        for value in values {
            let args = &mut args;
            match value {
                Value::Text(text) => Arguments::add(args, text),
                Value::NullableText(text) => Arguments::add(args, text),
                Value::Int(n) => Arguments::add(args, n),
                Value::Bool(b) => Arguments::add(args, b),
            }?;
        }
        Ok(args)
    }

    fn rows_affected(done: &sqlx::mysql::MySqlQueryResult) -> u64 {
        done.rows_affected()
    }

    // ------------------------------------------------------------ the log

    const NUMBER_EVENTS: Option<&'static str> = Some("CALL number_events()");
    const READ_LOG: &'static str = "
SELECT position, CAST(aggregate_type AS CHAR) AS aggregate_type,
       CAST(aggregate_id AS CHAR) AS aggregate_id, sequence, event_type, event_version,
       CAST(payload AS CHAR) AS payload, CAST(metadata AS CHAR) AS metadata
  FROM events
 WHERE position > ?
 ORDER BY position
 LIMIT ?";
    const STREAM: &'static str = "
SELECT CAST(aggregate_type AS CHAR) AS aggregate_type, CAST(aggregate_id AS CHAR) AS aggregate_id,
       sequence, event_type, event_version, CAST(payload AS CHAR) AS payload,
       CAST(metadata AS CHAR) AS metadata
  FROM events
 WHERE aggregate_type = ? AND aggregate_id = ?
 ORDER BY sequence";
    const STREAMS_2: &'static str = "
SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata
  FROM (SELECT 0 AS branch, CAST(aggregate_type AS CHAR) AS aggregate_type,
               CAST(aggregate_id AS CHAR) AS aggregate_id, sequence, event_type, event_version,
               CAST(payload AS CHAR) AS payload, CAST(metadata AS CHAR) AS metadata
          FROM events
         WHERE aggregate_type = ? AND aggregate_id = ?
        UNION ALL
        SELECT 1 AS branch, CAST(aggregate_type AS CHAR) AS aggregate_type,
               CAST(aggregate_id AS CHAR) AS aggregate_id, sequence, event_type, event_version,
               CAST(payload AS CHAR) AS payload, CAST(metadata AS CHAR) AS metadata
          FROM events
         WHERE aggregate_type = ? AND aggregate_id = ?) AS two
 ORDER BY branch, sequence";
    const EVENTS_OF_TYPE: &'static str = "
SELECT CAST(aggregate_type AS CHAR) AS aggregate_type, CAST(aggregate_id AS CHAR) AS aggregate_id,
       sequence, event_type, event_version, CAST(payload AS CHAR) AS payload,
       CAST(metadata AS CHAR) AS metadata
  FROM events
 WHERE aggregate_type = ? AND position IS NOT NULL
 ORDER BY position";
    /// One statement: all or none.
    const APPEND: Rows = Rows::values(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
         event_version, payload, metadata) ",
        7,
        "",
    );
    const LOG_HEAD: &'static str = "SELECT COALESCE(MAX(position), 0) FROM events";
    const CHECKPOINT: &'static str = "SELECT position FROM checkpoints WHERE name = ?";
    const SAVE_CHECKPOINT: &'static str = "
INSERT INTO checkpoints (name, position) VALUES (?, ?)
    ON DUPLICATE KEY UPDATE position = VALUES(position)";

    // ------------------------------------------------------------ read side

    const BEGIN_WRITE: &'static str = "START TRANSACTION";
    /// `ON DUPLICATE KEY UPDATE`, not `INSERT IGNORE`: a duplicate then
    /// takes the row's exclusive lock at once; with `IGNORE` racing
    /// projectors would each hold a shared lock and deadlock upgrading it.
    const ENSURE_READ_CHECKPOINT: &'static str =
        "INSERT INTO read_checkpoints (name, position) VALUES (?, 0) ON DUPLICATE KEY UPDATE name = name";
    const READ_CHECKPOINT: &'static str =
        "SELECT position, generation FROM read_checkpoints WHERE name = ?";
    /// Held until the transaction ends: a second projector waits here.
    const LOCK_READ_CHECKPOINT: &'static str =
        "SELECT position, generation FROM read_checkpoints WHERE name = ? FOR UPDATE";
    const SAVE_READ_CHECKPOINT: &'static str =
        "UPDATE read_checkpoints SET position = ? WHERE name = ?";
    const NEXT_GENERATION: &'static str =
        "UPDATE read_checkpoints SET generation = generation + 1 WHERE name = ?";

    const DELEGATION: &'static str = "SELECT data, position FROM read_delegations WHERE id = ?";
    const DELEGATIONS: Rows = Rows::list(
        "SELECT data, position FROM read_delegations WHERE id IN (",
        1,
        ")",
    );
    /// The stored row is kept where its position is newer; `position` is
    /// assigned last, since MariaDB's assignments see the ones before them.
    const PUT_DELEGATIONS: Rows = Rows::values(
        "
INSERT INTO read_delegations (id, grantor, delegate, stage, requested_at, data, position) ",
        7,
        "
    ON DUPLICATE KEY UPDATE
       grantor = IF(position < VALUES(position), VALUES(grantor), grantor),
       delegate = IF(position < VALUES(position), VALUES(delegate), delegate),
       stage = IF(position < VALUES(position), VALUES(stage), stage),
       requested_at = IF(position < VALUES(position), VALUES(requested_at), requested_at),
       data = IF(position < VALUES(position), VALUES(data), data),
       position = GREATEST(position, VALUES(position))",
    );
    const DELEGATIONS_BY_GRANTOR: &'static str = "
SELECT data, position FROM read_delegations
 WHERE grantor = ? AND stage NOT IN ('pending', 'refused')
 ORDER BY requested_at, id";
    const DELEGATIONS_BY_DELEGATE: &'static str = "
SELECT data, position FROM read_delegations
 WHERE delegate = ? AND stage NOT IN ('pending', 'refused')
 ORDER BY requested_at, id";
    const ALL_DELEGATIONS: &'static str = "SELECT data, position FROM read_delegations ORDER BY id";

    const BOOKING: &'static str = "SELECT data, meeting, position FROM read_bookings WHERE id = ?";
    const BOOKINGS: Rows = Rows::list(
        "SELECT data, meeting, position FROM read_bookings WHERE id IN (",
        1,
        ")",
    );
    const PUT_BOOKINGS: Rows = Rows::values(
        "
INSERT INTO read_bookings (id, booker, counter, office, mode, slot_start, slot_date, stage,
                           meeting_state, data, meeting, position) ",
        12,
        "
    ON DUPLICATE KEY UPDATE
       booker = IF(position < VALUES(position), VALUES(booker), booker),
       counter = IF(position < VALUES(position), VALUES(counter), counter),
       office = IF(position < VALUES(position), VALUES(office), office),
       mode = IF(position < VALUES(position), VALUES(mode), mode),
       slot_start = IF(position < VALUES(position), VALUES(slot_start), slot_start),
       slot_date = IF(position < VALUES(position), VALUES(slot_date), slot_date),
       stage = IF(position < VALUES(position), VALUES(stage), stage),
       meeting_state = IF(position < VALUES(position), VALUES(meeting_state), meeting_state),
       data = IF(position < VALUES(position), VALUES(data), data),
       meeting = IF(position < VALUES(position), VALUES(meeting), meeting),
       position = GREATEST(position, VALUES(position))",
    );
    const BOOKINGS_OF: &'static str = "
SELECT data, meeting, position FROM read_bookings
 WHERE booker = ? AND stage <> 'refused'
 ORDER BY slot_start, id";
    const BOOKINGS_BY_OFFICE_DAY: &'static str = "
SELECT data, meeting, position FROM read_bookings
 WHERE office = ? AND slot_date = ? AND stage <> 'refused'
 ORDER BY slot_start, id";
    const BOOKINGS_TO_SETTLE: &'static str = "
SELECT data, meeting, position FROM read_bookings
 WHERE stage = 'confirmed' AND slot_start < ?
   AND (slot_start, id) > (?, ?)
 ORDER BY slot_start, id LIMIT ?";
    const WAITING_ROOM: &'static str = "
SELECT data, meeting, position FROM read_bookings
 WHERE office = ? AND slot_date = ? AND mode = 'web_meeting'
   AND stage IN ('confirmed', 'served', 'missed')
 ORDER BY slot_start, id";
    const ALL_BOOKINGS: &'static str = "
SELECT data, meeting, position FROM read_bookings
 ORDER BY id";

    const PLACES: Rows = Rows::list(
        "
SELECT CAST(slot_key AS CHAR) AS slot_key, CAST(booking AS CHAR) AS booking,
       CAST(counter AS CHAR) AS counter, CAST(slot_start AS CHAR) AS slot_start, held, position
  FROM read_slot_places
 WHERE (slot_key, booking) IN (",
        2,
        ")",
    );
    const PUT_PLACES: Rows = Rows::values(
        "
INSERT INTO read_slot_places (slot_key, booking, counter, slot_start, held, position) ",
        6,
        "
    ON DUPLICATE KEY UPDATE
       counter = IF(position < VALUES(position), VALUES(counter), counter),
       slot_start = IF(position < VALUES(position), VALUES(slot_start), slot_start),
       held = IF(position < VALUES(position), VALUES(held), held),
       position = GREATEST(position, VALUES(position))",
    );
    const PLACES_HELD: &'static str = "
SELECT CAST(slot_start AS CHAR) AS slot_start, COUNT(*) AS taken FROM read_slot_places
 WHERE counter = ? AND held AND slot_start >= ? AND slot_start <= ?
 GROUP BY read_slot_places.slot_start";
    const ALL_PLACES: &'static str = "
SELECT CAST(slot_key AS CHAR) AS slot_key, CAST(booking AS CHAR) AS booking,
       CAST(counter AS CHAR) AS counter, CAST(slot_start AS CHAR) AS slot_start, held, position
  FROM read_slot_places
 ORDER BY read_slot_places.slot_key, read_slot_places.booking";

    const INSERT_AUDIT: Rows = Rows::values(
        "
INSERT IGNORE INTO read_audit (position, grantor, actor, action, aggregate_type, aggregate_id,
                               at, channel, correlation_id) ",
        9,
        "",
    );
    const AUDIT_OF: &'static str = "
SELECT position, CAST(grantor AS CHAR) AS grantor, actor, action, aggregate_type, aggregate_id,
       at, channel, correlation_id
  FROM read_audit WHERE grantor = ? ORDER BY position";
    const ALL_AUDIT: &'static str = "
SELECT position, CAST(grantor AS CHAR) AS grantor, actor, action, aggregate_type, aggregate_id,
       at, channel, correlation_id
  FROM read_audit ORDER BY position";

    const INSERT_DOCUMENT_REFS: Rows = Rows::values(
        "
INSERT IGNORE INTO read_document_refs (sha256, position) ",
        2,
        "",
    );
    const ALL_DOCUMENT_REFS: &'static str =
        "SELECT CAST(sha256 AS CHAR) AS sha256, position FROM read_document_refs
 ORDER BY read_document_refs.sha256";
    const DOCUMENT_REFERENCED: &'static str = "SELECT 1 FROM read_document_refs WHERE sha256 = ?";

    const SCHEDULE: Rows = Rows::values(
        SCHEDULE_HEAD,
        9,
        "
    ON DUPLICATE KEY UPDATE `key` = `key`",
    );
    const SCHEDULE_OR_WITHDRAW: Rows = Rows::values(
        SCHEDULE_HEAD,
        9,
        "
    ON DUPLICATE KEY UPDATE status = IF(status = 'pending', 'withdrawn', status)",
    );
    const WITHDRAW: Rows = Rows::list(
        "
UPDATE outbox SET status = 'withdrawn'
 WHERE `key` IN (",
        1,
        ") AND (status = 'pending') IS TRUE",
    );
    /// MariaDB's `UPDATE` returns no rows: the claim, then
    /// [`Dialect::CLAIMED`] reads what it claimed (a claim and its time are
    /// the dispatcher's own).
    const CLAIM_DUE: &'static str = "
UPDATE outbox SET claim = ?, claimed_until = ?
 WHERE status = 'pending' AND next_attempt_at <= ?
   AND (claimed_until IS NULL OR claimed_until <= ? OR claim = ?)
 ORDER BY next_attempt_at, `key`
 LIMIT ?";
    const CLAIMED: Option<&'static str> = Some(
        "
SELECT CAST(`key` AS CHAR) AS `key`, channel, recipient, title, body, due_at,
       CAST(status AS CHAR) AS status, attempts, CAST(next_attempt_at AS CHAR) AS next_attempt_at,
       last_error, sent_at, position
  FROM outbox WHERE claim = ? AND claimed_until = ?
 ORDER BY outbox.next_attempt_at, outbox.`key`",
    );
    const MARK_SENT: &'static str = "
UPDATE outbox SET status = 'sent', sent_at = ?, claim = NULL, claimed_until = NULL
 WHERE `key` = ? AND (status <> 'sent') IS TRUE";
    const MARK_ATTEMPT: &'static str = "
UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ?, status = ?,
       claim = NULL, claimed_until = NULL
 WHERE `key` = ? AND (status = 'pending') IS TRUE";
    const OUTBOX: &'static str = "
SELECT CAST(`key` AS CHAR) AS `key`, channel, recipient, title, body, due_at,
       CAST(status AS CHAR) AS status, attempts, CAST(next_attempt_at AS CHAR) AS next_attempt_at,
       last_error, sent_at, position
  FROM outbox ORDER BY outbox.position, outbox.`key`";

    const INSERT_NOTICE: &'static str = "
INSERT IGNORE INTO notices (id, citizen, title, body, posted_at, is_read, deleted)
VALUES (?, ?, ?, ?, ?, FALSE, FALSE)";
    const NOTICES_OF: &'static str = "
SELECT CAST(id AS CHAR) AS id, CAST(citizen AS CHAR) AS citizen, title, body,
       CAST(posted_at AS CHAR) AS posted_at, is_read, deleted FROM notices
 WHERE citizen = ? AND NOT deleted
 ORDER BY notices.posted_at DESC, notices.id";
    const SET_NOTICE_READ: &'static str =
        "UPDATE notices SET is_read = ? WHERE citizen = ? AND id = ? AND NOT deleted";
    const DELETE_NOTICE: &'static str =
        "UPDATE notices SET deleted = TRUE WHERE citizen = ? AND id = ? AND NOT deleted";

    const PUT_DOCUMENT: &'static str = "
INSERT INTO documents (sha256, content, size, stored_at) VALUES (?, ?, ?, ?)
    ON DUPLICATE KEY UPDATE
       stored_at = IF(stored_at < VALUES(stored_at), VALUES(stored_at), stored_at)";
    const SWEEP_DOCUMENTS: &'static str = "
DELETE FROM documents
 WHERE stored_at < ?
   AND NOT EXISTS (SELECT 1 FROM read_document_refs r WHERE r.sha256 = documents.sha256)
RETURNING size";
    const DOCUMENT: &'static str = "SELECT content FROM documents WHERE sha256 = ?";
    const DOCUMENT_STORED: &'static str = "SELECT COUNT(*) FROM documents WHERE sha256 = ?";
    const DOCUMENT_USAGE: &'static str =
        "SELECT COUNT(*), CAST(COALESCE(SUM(size), 0) AS SIGNED) FROM documents";
}

/// Opens the store at `url` (`mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE`;
/// `mariadb://` is taken as the same), brings its schema up to date and
/// returns the repository on it. The database must exist.
pub async fn connect(url: &str) -> Result<Repository, ConnectError> {
    let pool = open(url).await?;
    Ok(Repository::from_store(SqlStore::<MariaDbDialect>::new(
        pool,
    )))
}

/// The pool of the store at `url`, its schema up to date: for an embedder
/// that also runs statements of its own on it.
pub async fn open(url: &str) -> Result<MySqlPool, ConnectError> {
    let url = match url.strip_prefix("mariadb:") {
        Some(rest) => Cow::Owned(format!("mysql:{rest}")),
        None => Cow::Borrowed(url),
    };
    let options = MySqlConnectOptions::from_str(&url).map_err(|e| ConnectError::InvalidUrl {
        backend: "MariaDB",
        reason: e.to_string(),
    })?;
    let server = server_name(&options);
    let pool = MySqlPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .after_connect(|conn, _| {
            Box::pin(async move {
                // The numbering of the log counts on it (`number_events()`).
                conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                    .await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .map_err(|source| ConnectError::Server {
            backend: "MariaDB",
            server,
            source,
        })?;
    migrate(&pool).await?;
    Ok(pool)
}

/// Applies the migrations not yet applied (recorded in `_sqlx_migrations`).
pub async fn migrate(pool: &MySqlPool) -> Result<(), ConnectError> {
    deleghe_adapters::sql::migrate(&MIGRATIONS, pool, "MariaDB").await
}

/// `HOST:PORT/DATABASE`, never the password.
fn server_name(options: &MySqlConnectOptions) -> String {
    format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_values_have_a_tuple_per_row() {
        assert!(MariaDbDialect::PLACES
            .sql(2)
            .contains("IN ((?, ?), (?, ?))"));
        assert!(MariaDbDialect::DELEGATIONS.sql(3).contains("IN (?, ?, ?)"));
        assert!(MariaDbDialect::APPEND
            .sql(2)
            .contains("VALUES (?, ?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?, ?)"));
    }

    #[test]
    fn server_names_carry_no_password() {
        let options =
            MySqlConnectOptions::from_str("mysql://root:s3cret@db.example:3307/deleghe").unwrap();
        let name = server_name(&options);
        assert_eq!(name, "db.example:3307/deleghe");
        assert!(!name.contains("s3cret"));
    }
}
