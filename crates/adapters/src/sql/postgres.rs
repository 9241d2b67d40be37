//! PostgreSQL: what its dialect writes its own way, and opening it from a
//! `postgres://` URL.
//!
//! Statements over many rows take one array per column (`= ANY($1)`,
//! `unnest(...)`): one prepared statement whatever the number of rows.
//! Events are numbered when the log is read (`number_events()`, see
//! docs/STORES.md), and the commits that may wait for a later one's WAL
//! flush say so (`synchronous_commit` off for their transaction alone).

use std::borrow::Cow;
use std::str::FromStr;

use sqlx::error::BoxDynError;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Arguments, ConnectOptions, Connection};

use super::dialect::{Dialect, Value};
use super::lend::PING_AFTER_IDLE;
use super::ConnectError;

const MAX_CONNECTIONS: u32 = 10;

static MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// PostgreSQL's dialect.
pub struct PostgresDialect;

/// The append, with `$extra` joined to its rows (see
/// [`Dialect::APPEND_DEFERRED`]): `unnest` of one array per column, in
/// the order given (`WITH ORDINALITY`).
macro_rules! append {
    ($extra:literal) => {
        concat!(
            "
INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
SELECT e.aggregate_type, e.id, e.sequence, e.event_type, e.event_version, e.payload::json, e.metadata::json
  FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[])
       WITH ORDINALITY AS e (aggregate_type, id, sequence, event_type, event_version, payload, metadata, n)",
            $extra,
            "
 ORDER BY e.n"
        )
    };
}

/// One array per column of [`Dialect::SCHEDULE`]'s rows, `$1` to `$9`.
macro_rules! schedule {
    ($on_conflict:literal) => {
        concat!(
            "
INSERT INTO outbox (key, channel, recipient, title, body, due_at, status, attempts,
                    next_attempt_at, position)
SELECT key, channel, recipient, title, body, due_at, status, 0, next_attempt_at, position
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
              $7::text[], $8::text[], $9::bigint[])
       AS t (key, channel, recipient, title, body, due_at, status, next_attempt_at, position)
    ON CONFLICT (key) ",
            $on_conflict
        )
    };
}

impl Dialect for PostgresDialect {
    type DB = sqlx::Postgres;
    /// The statement, whatever the number of rows.
    type Many = &'static str;

    const MOST_ROWS: Option<usize> = None;

    fn many(statement: &&'static str, _rows: usize) -> Cow<'static, str> {
        Cow::Borrowed(statement)
    }

    fn bind_many<'a>(values: Vec<Value<'a>>, rows: usize) -> Result<PgArguments, BoxDynError> {
        let width = values
            .len()
            .checked_div(rows)
            .filter(|w| w * rows == values.len())
            .ok_or("rows of unequal widths")?;
        let mut args = PgArguments::default();
        for first in 0..width {
            let column = || values[first..].iter().step_by(width).copied();
            let args = &mut args;
            match values[first] {
                Value::Text(_) => {
                    Arguments::add(args, column().map(text).collect::<Result<Vec<_>, _>>()?)
                }
                Value::NullableText(_) => {
                    Arguments::add(args, column().map(nullable).collect::<Result<Vec<_>, _>>()?)
                }
                Value::Int(_) => {
                    Arguments::add(args, column().map(int).collect::<Result<Vec<_>, _>>()?)
                }
                Value::Bool(_) => {
                    Arguments::add(args, column().map(boolean).collect::<Result<Vec<_>, _>>()?)
                }
            }?;
        }
        Ok(args)
    }

    fn rows_affected(done: &sqlx::postgres::PgQueryResult) -> u64 {
        done.rows_affected()
    }

    /// Positions go only to committed rows, one numberer at a time, above
    /// every position handed out before: no gap can fill in behind a reader
    /// (the migration `number_on_read`).
    const NUMBER_EVENTS: Option<&'static str> = Some("SELECT number_events()");

    /// One round trip where postgres-es makes three (`BEGIN`, an `INSERT` per
    /// event, `COMMIT`); the events may belong to several streams, each in
    /// sequence order: a unique violation on any one of them stores none.
    const APPEND: &'static str = append!("");
    const APPEND_DEFERRED: &'static str = append!(
        ",
       (SELECT set_config('synchronous_commit', 'off', true)) AS deferred"
    );
    /// A transactional WAL record of no meaning, whose commit is flushed (and
    /// with it everything written before): for a flow whose last commit was
    /// deferred.
    const FLUSH: Option<&'static str> = Some("SELECT pg_logical_emit_message(true, 'deleghe', '')");

    /// Held until the transaction ends: a second projector waits here, then
    /// reads the position the first one saved.
    ///
    /// Also turns `synchronous_commit` off for this transaction alone: a
    /// crash loses only whole last batches, which are projected again from
    /// the log (docs/READ-MODELS.md, step 5).
    const LOCK_READ_CHECKPOINT: &'static str = "
SELECT position, generation, set_config('synchronous_commit', 'off', true) AS deferred
  FROM read_checkpoints WHERE name = $1 FOR UPDATE";

    const DELEGATIONS: &'static str =
        "SELECT data::text AS data, position FROM read_delegations WHERE id = ANY($1)";
    const PUT_DELEGATIONS: &'static str = "
INSERT INTO read_delegations (id, grantor, delegate, stage, requested_at, data, position)
SELECT id, grantor, delegate, stage, requested_at, data::jsonb, position
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
              $7::bigint[]) AS t (id, grantor, delegate, stage, requested_at, data, position)
    ON CONFLICT (id) DO UPDATE SET grantor = excluded.grantor, delegate = excluded.delegate,
       stage = excluded.stage, requested_at = excluded.requested_at, data = excluded.data,
       position = excluded.position
     WHERE read_delegations.position < excluded.position";

    const BOOKINGS: &'static str = "
SELECT data::text AS data, meeting::text AS meeting, position FROM read_bookings
 WHERE id = ANY($1)";
    const PUT_BOOKINGS: &'static str = "
INSERT INTO read_bookings (id, booker, counter, office, mode, slot_start, slot_date, stage,
                           meeting_state, data, meeting, position)
SELECT id, booker, counter, office, mode, slot_start, slot_date, stage, meeting_state,
       data::jsonb, meeting::jsonb, position
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
              $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::bigint[])
       AS t (id, booker, counter, office, mode, slot_start, slot_date, stage, meeting_state,
             data, meeting, position)
    ON CONFLICT (id) DO UPDATE SET booker = excluded.booker, counter = excluded.counter,
       office = excluded.office, mode = excluded.mode, slot_start = excluded.slot_start,
       slot_date = excluded.slot_date, stage = excluded.stage,
       meeting_state = excluded.meeting_state, data = excluded.data,
       meeting = excluded.meeting, position = excluded.position
     WHERE read_bookings.position < excluded.position";

    /// One index probe per key, whatever the planner knows of the table: as
    /// `(slot_key, booking) IN (SELECT * FROM unnest(...))` the plan made
    /// while the table was small (a hash join over a sequential scan) stayed
    /// with the prepared statement as the table grew, and each batch read
    /// the whole table.
    const PLACES: &'static str = "
SELECT p.slot_key, p.booking, p.counter, p.slot_start, p.held, p.position
  FROM unnest($1::text[], $2::text[]) AS k (slot_key, booking)
 CROSS JOIN LATERAL (SELECT * FROM read_slot_places p
                      WHERE p.slot_key = k.slot_key AND p.booking = k.booking
                      LIMIT 1) p";
    const PUT_PLACES: &'static str = "
INSERT INTO read_slot_places (slot_key, booking, counter, slot_start, held, position)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::boolean[],
                     $6::bigint[])
    ON CONFLICT (slot_key, booking) DO UPDATE SET counter = excluded.counter,
       slot_start = excluded.slot_start, held = excluded.held, position = excluded.position
     WHERE read_slot_places.position < excluded.position";

    const INSERT_AUDIT: &'static str = "
INSERT INTO read_audit (position, grantor, actor, action, aggregate_type, aggregate_id, at,
                        channel, correlation_id)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],
                     $6::text[], $7::text[], $8::text[], $9::text[])
    ON CONFLICT (position) DO NOTHING";

    const INSERT_DOCUMENT_REFS: &'static str = "
INSERT INTO read_document_refs (sha256, position)
SELECT * FROM unnest($1::text[], $2::bigint[])
    ON CONFLICT (sha256) DO NOTHING";

    const SCHEDULE: &'static str = schedule!("DO NOTHING");
    const SCHEDULE_OR_WITHDRAW: &'static str =
        schedule!("DO UPDATE SET status = 'withdrawn' WHERE outbox.status = 'pending'");
    const WITHDRAW: &'static str = "
UPDATE outbox SET status = 'withdrawn' WHERE key = ANY($1) AND (status = 'pending') IS TRUE";
    const MARK_SENT_MANY: Option<&'static str> = Some(
        "
UPDATE outbox SET status = 'sent', sent_at = m.at, claim = NULL, claimed_until = NULL
  FROM unnest($1::text[], $2::text[]) AS m (key, at)
 WHERE outbox.key = m.key AND (outbox.status <> 'sent') IS TRUE",
    );
    const MARK_ATTEMPT_MANY: Option<&'static str> = Some(
        "
UPDATE outbox SET attempts = m.attempts, next_attempt_at = m.next_attempt_at,
       last_error = m.error, status = m.status, claim = NULL, claimed_until = NULL
  FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[])
       AS m (key, attempts, next_attempt_at, error, status)
 WHERE outbox.key = m.key AND (outbox.status = 'pending') IS TRUE",
    );
    /// Committed without waiting for the WAL flush (the whole transaction,
    /// if it runs in one): the dispatcher posts notices (the calendar
    /// gateway, N3), and it then marks the outbox row sent in a commit that
    /// waits for the flush, which covers every WAL record before it. A
    /// crash before that mark loses at most the notice of a row still
    /// pending, which is posted again (the same id: once). A notice posted
    /// otherwise: see `NoticeCalendar`.
    const INSERT_NOTICE: &'static str = "
INSERT INTO notices (id, citizen, title, body, posted_at, is_read, deleted)
SELECT $1, $2, $3, $4, $5, FALSE, FALSE
  FROM (SELECT set_config('synchronous_commit', 'off', true)) AS deferred
    ON CONFLICT (id) DO NOTHING";
    /// SKIP LOCKED: a concurrent dispatcher takes other rows instead of
    /// waiting for these.
    const CLAIM_DUE: &'static str = "
UPDATE outbox SET claim = $1, claimed_until = $2
 WHERE key IN (SELECT key FROM outbox
                WHERE status = 'pending' AND next_attempt_at <= $3
                  AND (claimed_until IS NULL OR claimed_until <= $4 OR claim = $5)
                ORDER BY next_attempt_at, key
                LIMIT $6
                FOR UPDATE SKIP LOCKED)
RETURNING key, channel, recipient, title, body, due_at, status, attempts, next_attempt_at,
          last_error, sent_at, position";
}

fn text(value: Value<'_>) -> Result<&str, BoxDynError> {
    match value {
        Value::Text(text) => Ok(text),
        other => Err(mixed(other)),
    }
}

fn nullable(value: Value<'_>) -> Result<Option<&str>, BoxDynError> {
    match value {
        Value::NullableText(text) => Ok(text),
        Value::Text(text) => Ok(Some(text)),
        other => Err(mixed(other)),
    }
}

fn int(value: Value<'_>) -> Result<i64, BoxDynError> {
    match value {
        Value::Int(n) => Ok(n),
        other => Err(mixed(other)),
    }
}

fn boolean(value: Value<'_>) -> Result<bool, BoxDynError> {
    match value {
        Value::Bool(b) => Ok(b),
        other => Err(mixed(other)),
    }
}

fn mixed(value: Value<'_>) -> BoxDynError {
    format!("a column of rows holds values of different types: {value:?}").into()
}

/// The options of a `postgres://` URL, and the schema of its `?schema=`
/// (every pooled connection works in it).
pub(crate) fn options(url: &str) -> Result<(PgConnectOptions, Option<String>), ConnectError> {
    let (url, schema) = take_schema(url);
    let mut options =
        PgConnectOptions::from_str(&url).map_err(|e| super::invalid("PostgreSQL", e))?;
    if let Some(schema) = &schema {
        if !valid_schema_name(schema) {
            return Err(ConnectError::InvalidUrl {
                backend: "PostgreSQL",
                reason: format!(
                    "schema {schema:?} is not 1 to 63 of a-z, 0-9 and _, \
                     not starting with a digit"
                ),
            });
        }
        // Sent at the start of every pooled connection.
        options = options.options([("search_path", schema.as_str())]);
    }
    Ok((options, schema))
}

/// Connects to a PostgreSQL server, creates the `?schema=` if missing, and
/// brings the schema up to date.
pub(crate) async fn open(
    options: PgConnectOptions,
    schema: Option<&str>,
) -> Result<PgPool, ConnectError> {
    let server = server_name(&options);
    let failed = |source| ConnectError::Postgres {
        server: server.clone(),
        source,
    };
    // One direct connection first: a pool retries a refused connection
    // until its timeout and then reports only the timeout.
    let mut probe = options.connect().await.map_err(failed)?;
    if let Some(schema) = schema {
        sqlx::query(&create_schema(schema))
            .execute(&mut probe)
            .await
            .map_err(failed)?;
    }
    probe.close().await.map_err(failed)?;
    let pool = PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(super::ACQUIRE_TIMEOUT)
        // The store lends its connections itself (sql/lend.rs); this pool
        // opens them, and lends to the log's announcer and relay. sqlx pings
        // every connection before lending it: a round trip for nothing on a
        // connection back in the pool for less than `PING_AFTER_IDLE`; one
        // idle longer (the server may have dropped it since) is still
        // pinged, and replaced if dead.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_AFTER_IDLE {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_lazy_with(options);
    migrate(&pool).await?;
    Ok(pool)
}

/// Applies the PostgreSQL migrations not yet applied, in the connection's
/// first `search_path` schema.
pub async fn migrate(pool: &PgPool) -> Result<(), ConnectError> {
    super::migrate(&MIGRATIONS, pool, "PostgreSQL").await
}

/// Creates the schema named in a `?schema=` URL. `schema` must have passed
/// [`valid_schema_name`]: identifiers cannot be bound.
fn create_schema(schema: &str) -> String {
    format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")
}

/// Splits `?schema=NAME` (ours, not libpq's) off a PostgreSQL URL.
fn take_schema(url: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), None);
    };
    let mut schema = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.split_once('=') {
            Some(("schema", name)) => {
                schema = Some(name.to_owned());
                false
            }
            _ => true,
        })
        .collect();
    let url = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    (url, schema)
}

/// A PostgreSQL identifier that needs no quoting beyond the one we add.
fn valid_schema_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    first_ok
        && name.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

pub(crate) fn server_name(options: &PgConnectOptions) -> String {
    format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or(options.get_username())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_errors_do_not_show_passwords() {
        let (options, _) = options("postgres://deleghe:s3cret@db.example:6543/deleghe").unwrap();
        let name = server_name(&options);
        assert_eq!(name, "db.example:6543/deleghe");
        assert!(!name.contains("s3cret"));
    }

    #[test]
    fn a_schema_is_taken_from_the_url() {
        let (_, schema) = options("postgres://postgres@127.0.0.1:5432/test?schema=t_1").unwrap();
        assert_eq!(schema.as_deref(), Some("t_1"));
    }

    #[test]
    fn arrays_are_bound_one_per_column() {
        let values = vec![
            Value::Text("a"),
            Value::Int(1),
            Value::NullableText(None),
            Value::Text("b"),
            Value::Int(2),
            Value::NullableText(Some("x")),
        ];
        let args = PostgresDialect::bind_many(values, 2).unwrap();
        assert_eq!(args.len(), 3);
        let mixed = vec![Value::Text("a"), Value::Int(1)];
        assert!(PostgresDialect::bind_many(mixed, 2).is_err());
        assert!(PostgresDialect::bind_many(vec![Value::Text("a")], 2).is_err());
    }

    #[test]
    fn the_schema_parameter_is_taken_off_the_url() {
        assert_eq!(
            take_schema("postgres://u@h/db?schema=t_1&sslmode=disable"),
            (
                "postgres://u@h/db?sslmode=disable".to_owned(),
                Some("t_1".to_owned())
            )
        );
        assert_eq!(
            take_schema("postgres://u@h/db?schema=t_1"),
            ("postgres://u@h/db".to_owned(), Some("t_1".to_owned()))
        );
        assert_eq!(
            take_schema("postgres://u@h/db"),
            ("postgres://u@h/db".to_owned(), None)
        );
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(valid_schema_name("t_0af3"));
        assert!(valid_schema_name("_x"));
        assert!(!valid_schema_name(""));
        assert!(!valid_schema_name("1abc"));
        assert!(!valid_schema_name("a\"; DROP TABLE events; --"));
        assert!(!valid_schema_name("Upper"));
        assert!(!valid_schema_name(&"a".repeat(64)));
    }
}
