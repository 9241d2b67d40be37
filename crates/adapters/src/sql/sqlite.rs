//! SQLite: what its dialect writes its own way, and opening it from a
//! `sqlite://FILE` URL.
//!
//! Statements over many rows take `VALUES (?, …), …` with one bound
//! parameter per column, in chunks whose sizes are powers of two up to
//! [`MOST_ROWS`] rows, so that each statement has a few texts, each
//! prepared once per connection ([`Rows`]). The position of an event is the
//! rowid alias, handed out at insert, and commits are durable at once.

use std::borrow::Cow;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::error::BoxDynError;
use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteTransactionManager;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Arguments, Connection, TransactionManager};

use super::dialect::{Dialect, Rows, Value};
use super::ConnectError;

/// How long a writer waits for the one before it (SQLite lets one writer at
/// a time in; the wait is the queue).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_CONNECTIONS: u32 = 8;
/// Prepared statements kept per connection (sqlx's default is 100).
const STATEMENT_CACHE: usize = 256;
/// The most rows one statement takes: at most 12 columns a row, well under
/// SQLite's 32,766 bound parameters.
const MOST_ROWS: usize = 256;

static MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");

/// SQLite's dialect.
pub struct SqliteDialect;

/// [`Dialect::SCHEDULE`]'s rows: `(key, channel, recipient, title, body,
/// due_at, status, next_attempt_at, position)`.
const SCHEDULE_HEAD: &str = "
INSERT INTO outbox (key, channel, recipient, title, body, due_at, status, next_attempt_at,
                    position) ";

impl Dialect for SqliteDialect {
    type DB = sqlx::Sqlite;
    type Many = Rows;

    const MOST_ROWS: Option<usize> = Some(MOST_ROWS);

    fn many(statement: &Rows, rows: usize) -> Cow<'static, str> {
        Cow::Owned(statement.sql(rows))
    }

    fn bind_many<'a>(
        values: Vec<Value<'a>>,
        _rows: usize,
    ) -> Result<SqliteArguments<'a>, BoxDynError> {
        let mut args = SqliteArguments::default();
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

    fn rows_affected(done: &sqlx::sqlite::SqliteQueryResult) -> u64 {
        done.rows_affected()
    }

    /// The position is the rowid alias, handed out by SQLite in row order.
    const APPEND: Rows = Rows::values(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
               event_version, payload, metadata) ",
        7,
        "",
    );

    /// `IMMEDIATE`: one writer at a time, taken at the start.
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    const ONE_WRITER: bool = true;

    const DELEGATIONS: Rows = Rows::values(
        "SELECT data, position FROM read_delegations WHERE id IN (",
        1,
        ")",
    );
    const PUT_DELEGATIONS: Rows = Rows::values(
        "
INSERT INTO read_delegations (id, grantor, delegate, stage, requested_at, data, position) ",
        7,
        "
    ON CONFLICT (id) DO UPDATE SET grantor = excluded.grantor, delegate = excluded.delegate,
       stage = excluded.stage, requested_at = excluded.requested_at, data = excluded.data,
       position = excluded.position
     WHERE read_delegations.position < excluded.position",
    );

    const BOOKINGS: Rows = Rows::values(
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
    ON CONFLICT (id) DO UPDATE SET booker = excluded.booker, counter = excluded.counter,
       office = excluded.office, mode = excluded.mode, slot_start = excluded.slot_start,
       slot_date = excluded.slot_date, stage = excluded.stage,
       meeting_state = excluded.meeting_state, data = excluded.data,
       meeting = excluded.meeting, position = excluded.position
     WHERE read_bookings.position < excluded.position",
    );

    /// A join, not `(slot_key, booking) IN (VALUES …)`, which SQLite answers
    /// by scanning the table.
    const PLACES: Rows = Rows::values(
        "
SELECT p.slot_key, p.booking, p.counter, p.slot_start, p.held, p.position FROM (",
        2,
        ") AS k
  JOIN read_slot_places p ON p.slot_key = k.column1 AND p.booking = k.column2",
    );
    const PUT_PLACES: Rows = Rows::values(
        "
INSERT INTO read_slot_places (slot_key, booking, counter, slot_start, held, position) ",
        6,
        "
    ON CONFLICT (slot_key, booking) DO UPDATE SET counter = excluded.counter,
       slot_start = excluded.slot_start, held = excluded.held, position = excluded.position
     WHERE read_slot_places.position < excluded.position",
    );

    const INSERT_AUDIT: Rows = Rows::values(
        "
INSERT INTO read_audit (position, grantor, actor, action, aggregate_type, aggregate_id, at,
                        channel, correlation_id) ",
        9,
        "
    ON CONFLICT (position) DO NOTHING",
    );

    const INSERT_DOCUMENT_REFS: Rows = Rows::values(
        "
INSERT INTO read_document_refs (sha256, position) ",
        2,
        "
    ON CONFLICT (sha256) DO NOTHING",
    );

    const SCHEDULE: Rows = Rows::values(
        SCHEDULE_HEAD,
        9,
        "
    ON CONFLICT (key) DO NOTHING",
    );
    const SCHEDULE_OR_WITHDRAW: Rows = Rows::values(
        SCHEDULE_HEAD,
        9,
        "
    ON CONFLICT (key) DO UPDATE SET status = 'withdrawn' WHERE outbox.status = 'pending'",
    );
    const WITHDRAW: Rows = Rows::values(
        "
UPDATE outbox SET status = 'withdrawn'
 WHERE key IN (",
        1,
        ") AND (status = 'pending') IS TRUE",
    );
    /// `UPDATE … FROM` a table of the rows (SQLite 3.33 and later), whose
    /// columns SQLite names `column1`, `column2`….
    const MARK_SENT_MANY: Option<Rows> = Some(Rows::values(
        "
UPDATE outbox SET status = 'sent', sent_at = m.column2, claim = NULL, claimed_until = NULL
  FROM (",
        2,
        ") AS m
 WHERE outbox.key = m.column1 AND (outbox.status <> 'sent') IS TRUE",
    ));
    const MARK_ATTEMPT_MANY: Option<Rows> = Some(Rows::values(
        "
UPDATE outbox SET attempts = m.column2, next_attempt_at = m.column3, last_error = m.column4,
       status = m.column5, claim = NULL, claimed_until = NULL
  FROM (",
        5,
        ") AS m
 WHERE outbox.key = m.column1 AND (outbox.status = 'pending') IS TRUE",
    ));
}

/// The options of a `sqlite://FILE` URL: the file created if missing, in
/// WAL mode. With [`pool_options`], what [`Repository::connect`] opens,
/// for a pool of one's own passed to [`Repository::from_sqlite_pool`] (a
/// test's, with a hook of its own).
///
/// [`Repository::connect`]: crate::Repository::connect
/// [`Repository::from_sqlite_pool`]: crate::Repository::from_sqlite_pool
pub fn options(url: &str) -> Result<SqliteConnectOptions, ConnectError> {
    Ok(SqliteConnectOptions::from_str(url)
        .map_err(|e| super::invalid("SQLite", e))?
        .create_if_missing(true)
        // WAL: readers never wait for the writer, nor it for them.
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true)
        // The statements over many rows have a few texts each ([`Rows`]):
        // room for all.
        .statement_cache_capacity(STATEMENT_CACHE))
}

/// Opens (creating if missing) a SQLite database and brings its schema up to date.
pub(crate) async fn open(options: SqliteConnectOptions) -> Result<SqlitePool, ConnectError> {
    let path = display_path(options.get_filename());
    let pool = pool_options()
        .connect_with(options)
        .await
        .map_err(|source| ConnectError::Sqlite { path, source })?;
    migrate(&pool).await?;
    Ok(pool)
}

/// The options of the store's pool (see [`options`]).
pub fn pool_options() -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(super::ACQUIRE_TIMEOUT)
        // A SQLite connection is a file handle in this process: nothing can
        // close it behind the pool's back, so the ping before each loan
        // (sqlx's default) is a round trip to its worker thread for nothing.
        .test_before_acquire(false)
        // SQLite may roll a transaction back by itself when a statement or
        // the commit fails (SQLITE_FULL, SQLITE_IOERR: a full disk). sqlx's
        // own rollback then fails, and the connection goes on counting a
        // transaction that is gone: every `BEGIN IMMEDIATE` on it would be
        // refused, long after the disk has room again. Such a connection is
        // closed instead of going back to the pool. (The store's own
        // connections are checked so in sql/lend.rs; this hook serves the
        // pool's direct users.)
        .after_release(|connection, _| {
            Box::pin(async move {
                if SqliteTransactionManager::get_transaction_depth(connection) == 0 {
                    return Ok(true);
                }
                // A dropped transaction's rollback is queued on the
                // connection's thread: let it run, then count again.
                connection.ping().await?;
                Ok(SqliteTransactionManager::get_transaction_depth(connection) == 0)
            })
        })
}

fn display_path(path: &Path) -> String {
    path.display().to_string()
}

/// Applies the SQLite migrations not yet applied (recorded in `_sqlx_migrations`).
pub async fn migrate(pool: &SqlitePool) -> Result<(), ConnectError> {
    super::migrate(&MIGRATIONS, pool, "SQLite").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_has_a_tuple_per_row() {
        let sql = SqliteDialect::PLACES.sql(2);
        assert!(sql.contains("FROM (VALUES (?, ?), (?, ?)) AS k"), "{sql}");
    }

    /// SQLite may end a transaction by itself when a statement or the
    /// commit fails (SQLITE_FULL, SQLITE_IOERR: a full disk), behind
    /// sqlx's back: sqlx's rollback then fails and the connection keeps
    /// counting a transaction that is gone, refusing every `BEGIN IMMEDIATE`
    /// after. Such a connection must not go back to the pool, or the store
    /// keeps failing writes once the disk has room again.
    #[tokio::test]
    async fn a_transaction_sqlite_ended_by_itself_does_not_spoil_the_pool() {
        let file = std::env::temp_dir().join(format!("deleghe-tx-{}.sqlite", uuid::Uuid::new_v4()));
        let url = format!("sqlite://{}", file.display());
        let pool = pool_options()
            .max_connections(1)
            .connect_with(options(&url).unwrap())
            .await
            .unwrap();
        let mut tx = pool.begin_with(SqliteDialect::BEGIN_WRITE).await.unwrap();
        // What SQLite does on its own after SQLITE_FULL, here on purpose.
        sqlx::raw_sql("ROLLBACK").execute(&mut *tx).await.unwrap();
        drop(tx);
        let tx = pool.begin_with(SqliteDialect::BEGIN_WRITE).await;
        assert!(tx.is_ok(), "{:?}", tx.err());
        tx.unwrap().commit().await.unwrap();
        pool.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
        }
    }

    #[test]
    fn values_are_bound_row_after_row() {
        let values = vec![
            Value::Text("a"),
            Value::Int(1),
            Value::Text("b"),
            Value::NullableText(None),
        ];
        let args = SqliteDialect::bind_many(values, 2).unwrap();
        assert_eq!(args.len(), 4);
    }
}
