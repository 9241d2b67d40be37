//! The SQL stores: SQLite (the embedded default) and PostgreSQL, on the
//! tables of sqlite-es and postgres-es.
//!
//! This module opens them from a URL, applies the versioned migrations of
//! `crates/adapters/migrations/{sqlite,postgres}` on every start, and reads
//! what cqrs-es has no notion of: the global log in commit order and the
//! checkpoints of its readers. Every statement it runs is in [`queries`];
//! the schema is in the migrations; `docs/STORES.md` explains both.
//!
//! [`sqlx`] is re-exported so that read models, tests and embedders use the
//! very version sqlite-es and postgres-es were built with.

pub mod queries;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use cqrs_es::persist::{PersistenceError, SerializedEvent};
use serde_json::Value;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{
    ColumnIndex, ConnectOptions, Connection, Decode, Executor, Postgres, Row, Sqlite, Type,
};

pub use sqlx;

use crate::error::ServiceError;
use crate::events::StoredText;
use crate::memory::Positioned;

/// The environment variable an application reads the store's URL from.
pub const DATABASE_URL_VAR: &str = "DELEGHE_DATABASE_URL";

/// The store when [`DATABASE_URL_VAR`] is not set: a SQLite file in the
/// working directory, created with its schema on first use.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://deleghe.db";

/// How long a SQLite writer waits for the one before it (SQLite lets one
/// writer at a time in; the wait is the queue).
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a command waits for a pooled connection before the store is
/// reported unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
const SQLITE_MAX_CONNECTIONS: u32 = 8;
/// Prepared statements kept per SQLite connection (sqlx's default is 100).
const SQLITE_STATEMENT_CACHE: usize = 256;
/// A pooled PostgreSQL connection idle this long is pinged before it is lent.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);
const POSTGRES_MAX_CONNECTIONS: u32 = 10;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Why a store could not be opened from its URL. The messages never carry a
/// password: PostgreSQL servers are named by host, port and database only.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "unsupported store URL scheme {scheme:?}: expected `memory:`, `sqlite://FILE` \
         or `postgres://USER@HOST:PORT/DATABASE`"
    )]
    UnsupportedScheme { scheme: String },
    #[error("invalid {backend} store URL: {reason}")]
    InvalidUrl {
        backend: &'static str,
        reason: String,
    },
    #[error("cannot open the SQLite database {path}: {source}")]
    Sqlite {
        path: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot connect to the PostgreSQL server at {server}: {source}")]
    Postgres {
        server: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot apply the {backend} schema migrations: {source}")]
    Migrate {
        backend: &'static str,
        #[source]
        source: MigrateError,
    },
}

/// A store URL, understood.
pub(crate) enum StoreUrl {
    Memory,
    Sqlite(SqliteConnectOptions),
    Postgres {
        options: PgConnectOptions,
        /// From `?schema=NAME`: the schema every connection works in.
        schema: Option<String>,
    },
}

impl StoreUrl {
    pub(crate) fn parse(url: &str) -> Result<Self, ConnectError> {
        let scheme = url.split_once(':').map_or(url, |(scheme, _)| scheme);
        match scheme {
            "memory" => Ok(Self::Memory),
            "sqlite" => {
                let options = SqliteConnectOptions::from_str(url)
                    .map_err(|e| invalid("SQLite", e))?
                    .create_if_missing(true)
                    // WAL: readers never wait for the writer, nor it for them.
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    .foreign_keys(true)
                    // The read side's statements over many rows have a few
                    // texts each (`readside::sqlite::Rows`): room for all.
                    .statement_cache_capacity(SQLITE_STATEMENT_CACHE);
                Ok(Self::Sqlite(options))
            }
            "postgres" | "postgresql" => {
                let (url, schema) = take_schema(url);
                let mut options =
                    PgConnectOptions::from_str(&url).map_err(|e| invalid("PostgreSQL", e))?;
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
                Ok(Self::Postgres { options, schema })
            }
            _ => Err(ConnectError::UnsupportedScheme {
                scheme: scheme.to_owned(),
            }),
        }
    }
}

fn invalid(backend: &'static str, error: sqlx::Error) -> ConnectError {
    ConnectError::InvalidUrl {
        backend,
        reason: error.to_string(),
    }
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
pub(crate) fn valid_schema_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    first_ok
        && name.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn server_name(options: &PgConnectOptions) -> String {
    format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or(options.get_username())
    )
}

/// Opens (creating if missing) a SQLite database and brings its schema up to date.
pub(crate) async fn open_sqlite(options: SqliteConnectOptions) -> Result<SqlitePool, ConnectError> {
    let path = display_path(options.get_filename());
    let pool = SqlitePoolOptions::new()
        .max_connections(SQLITE_MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        // A SQLite connection is a file handle in this process: nothing can
        // close it behind the pool's back, so the ping before each loan
        // (sqlx's default) is a round trip to its worker thread for nothing.
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .map_err(|source| ConnectError::Sqlite { path, source })?;
    migrate_sqlite(&pool).await?;
    Ok(pool)
}

fn display_path(path: &Path) -> String {
    path.display().to_string()
}

/// Connects to a PostgreSQL server, creates the `?schema=` if missing, and
/// brings the schema up to date.
pub(crate) async fn open_postgres(
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
        sqlx::query(&queries::postgres::create_schema(schema))
            .execute(&mut probe)
            .await
            .map_err(failed)?;
    }
    probe.close().await.map_err(failed)?;
    let pool = PgPoolOptions::new()
        .max_connections(POSTGRES_MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        // sqlx pings every connection before lending it: two of a command's
        // six round trips. A connection back in the pool for less than
        // `PING_AFTER_IDLE` was just working; one idle longer (the server
        // may have dropped it since) is still pinged, and replaced if dead.
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
    migrate_postgres(&pool).await?;
    Ok(pool)
}

/// Applies the SQLite migrations not yet applied (recorded in `_sqlx_migrations`).
pub async fn migrate_sqlite(pool: &SqlitePool) -> Result<(), ConnectError> {
    SQLITE_MIGRATIONS
        .run(pool)
        .await
        .map_err(|source| ConnectError::Migrate {
            backend: "SQLite",
            source,
        })
}

/// Applies the PostgreSQL migrations not yet applied, in the connection's
/// first `search_path` schema.
pub async fn migrate_postgres(pool: &PgPool) -> Result<(), ConnectError> {
    POSTGRES_MIGRATIONS
        .run(pool)
        .await
        .map_err(|source| ConnectError::Migrate {
            backend: "PostgreSQL",
            source,
        })
}

// ------------------------------------------------------------------ the log

pub(crate) async fn read_log_sqlite(
    pool: &SqlitePool,
    after: i64,
    limit: usize,
) -> Result<Vec<StoredText>, ServiceError> {
    let rows = sqlx::query(queries::sqlite::READ_LOG)
        .bind(after)
        .bind(as_limit(limit))
        .fetch_all(pool)
        .await
        .map_err(service_error)?;
    rows.iter()
        .map(stored_text)
        .collect::<Result<_, _>>()
        .map_err(service_error)
}

pub(crate) async fn read_log_postgres(
    pool: &PgPool,
    after: i64,
    limit: usize,
) -> Result<Vec<StoredText>, ServiceError> {
    number_events(pool).await.map_err(service_error)?;
    let rows = sqlx::query(queries::postgres::READ_LOG)
        .bind(after)
        .bind(as_limit(limit))
        .fetch_all(pool)
        .await
        .map_err(service_error)?;
    rows.iter()
        .map(stored_text)
        .collect::<Result<_, _>>()
        .map_err(service_error)
}

pub(crate) async fn events_of_type_sqlite(
    pool: &SqlitePool,
    aggregate_type: &str,
) -> Result<Vec<SerializedEvent>, PersistenceError> {
    let rows = sqlx::query(queries::sqlite::EVENTS_OF_TYPE)
        .bind(aggregate_type)
        .fetch_all(pool)
        .await
        .map_err(persistence_error)?;
    rows.iter()
        .map(|row| positioned(row).map(|p| p.event))
        .collect::<Result<_, _>>()
        .map_err(persistence_error)
}

pub(crate) async fn events_of_type_postgres(
    pool: &PgPool,
    aggregate_type: &str,
) -> Result<Vec<SerializedEvent>, PersistenceError> {
    number_events(pool).await.map_err(persistence_error)?;
    let rows = sqlx::query(queries::postgres::EVENTS_OF_TYPE)
        .bind(aggregate_type)
        .fetch_all(pool)
        .await
        .map_err(persistence_error)?;
    rows.iter()
        .map(|row| positioned(row).map(|p| p.event))
        .collect::<Result<_, _>>()
        .map_err(persistence_error)
}

/// One stream of the SQLite log, in sequence order.
pub(crate) async fn stream_sqlite<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
    aggregate_type: &str,
    aggregate_id: &str,
) -> Result<Vec<SerializedEvent>, PersistenceError> {
    let rows = sqlx::query(queries::sqlite::STREAM)
        .bind(aggregate_type)
        .bind(aggregate_id)
        .fetch_all(ex)
        .await
        .map_err(persistence_error)?;
    rows.iter().map(serialized).collect()
}

/// One stream of the PostgreSQL log, in sequence order.
pub(crate) async fn stream_postgres<'e>(
    ex: impl Executor<'e, Database = Postgres>,
    aggregate_type: &str,
    aggregate_id: &str,
) -> Result<Vec<SerializedEvent>, PersistenceError> {
    let rows = sqlx::query(queries::postgres::STREAM)
        .bind(aggregate_type)
        .bind(aggregate_id)
        .fetch_all(ex)
        .await
        .map_err(persistence_error)?;
    rows.iter().map(serialized).collect()
}

/// A row of a `STREAM` query as cqrs-es takes it.
fn serialized<R>(row: &R) -> Result<SerializedEvent, PersistenceError>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
{
    let text = |i: usize| row.try_get::<String, _>(i);
    let json = |i: usize| -> Result<Value, PersistenceError> {
        serde_json::from_str(&text(i).map_err(persistence_error)?)
            .map_err(|e| PersistenceError::DeserializationError(Box::new(e)))
    };
    let sequence: i64 = row.try_get(3).map_err(persistence_error)?;
    Ok(SerializedEvent::new(
        text(2).map_err(persistence_error)?,
        as_sequence(sequence).map_err(persistence_error)?,
        text(1).map_err(persistence_error)?,
        text(4).map_err(persistence_error)?,
        text(5).map_err(persistence_error)?,
        json(6)?,
        json(7)?,
    ))
}

/// Appends one command's events to the SQLite log in one statement; a second
/// writer of a taken sequence gets [`PersistenceError::OptimisticLockError`].
pub(crate) async fn append_sqlite<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
    events: &[SerializedEvent],
) -> Result<(), PersistenceError> {
    // One statement text per batch size, so sqlx prepares each once per
    // connection; a command stores one or two events.
    let sql = queries::sqlite::append(events.len());
    let mut query = sqlx::query(&sql);
    for e in events {
        let sequence =
            i64::try_from(e.sequence).map_err(|e| PersistenceError::UnknownError(Box::new(e)))?;
        query = query
            .bind(e.aggregate_type.as_str())
            .bind(e.aggregate_id.as_str())
            .bind(sequence)
            .bind(e.event_type.as_str())
            .bind(e.event_version.as_str())
            .bind(e.payload.to_string())
            .bind(e.metadata.to_string());
    }
    query.execute(ex).await.map_err(append_error)?;
    Ok(())
}

/// Appends one command's events to the PostgreSQL log in one statement.
/// `durable: false` commits without waiting for the WAL flush (see
/// [`queries::postgres::APPEND_DEFERRED`]).
pub(crate) async fn append_postgres<'e>(
    ex: impl Executor<'e, Database = Postgres>,
    events: &[SerializedEvent],
    durable: bool,
) -> Result<(), PersistenceError> {
    let n = events.len();
    let mut aggregate_types = Vec::with_capacity(n);
    let (mut ids, mut sequences, mut types, mut versions, mut payloads, mut metadata) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for e in events {
        aggregate_types.push(e.aggregate_type.as_str());
        ids.push(e.aggregate_id.as_str());
        sequences.push(
            i64::try_from(e.sequence).map_err(|e| PersistenceError::UnknownError(Box::new(e)))?,
        );
        types.push(e.event_type.as_str());
        versions.push(e.event_version.as_str());
        payloads.push(e.payload.to_string());
        metadata.push(e.metadata.to_string());
    }
    let sql = if durable {
        queries::postgres::APPEND
    } else {
        queries::postgres::APPEND_DEFERRED
    };
    sqlx::query(sql)
        .bind(aggregate_types)
        .bind(ids)
        .bind(sequences)
        .bind(types)
        .bind(versions)
        .bind(payloads)
        .bind(metadata)
        .execute(ex)
        .await
        .map_err(append_error)?;
    Ok(())
}

/// Returns once every commit made before it is durable.
pub(crate) async fn flush_postgres<'e>(
    ex: impl Executor<'e, Database = Postgres>,
) -> Result<(), ServiceError> {
    sqlx::query(queries::postgres::FLUSH)
        .execute(ex)
        .await
        .map_err(service_error)?;
    Ok(())
}

/// A unique violation on the stream key is the optimistic concurrency:
/// another writer stored this sequence first (PostgreSQL 23505, SQLite
/// 2067; the migrations run on connect, so no store is keyed otherwise).
fn append_error(error: sqlx::Error) -> PersistenceError {
    if let sqlx::Error::Database(db) = &error {
        if matches!(db.code().as_deref(), Some("23505" | "2067")) {
            return PersistenceError::OptimisticLockError;
        }
    }
    persistence_error(error)
}

/// Gives the events committed since the last call their positions, so that
/// the read that follows sees them (PostgreSQL writers leave `position` NULL).
async fn number_events(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(queries::postgres::NUMBER_EVENTS)
        .fetch_one(pool)
        .await
}

pub(crate) async fn checkpoint_sqlite(pool: &SqlitePool, name: &str) -> Result<i64, ServiceError> {
    let position: Option<i64> = sqlx::query_scalar(queries::sqlite::CHECKPOINT)
        .bind(name)
        .fetch_optional(pool)
        .await
        .map_err(service_error)?;
    Ok(position.unwrap_or(0))
}

pub(crate) async fn checkpoint_postgres(pool: &PgPool, name: &str) -> Result<i64, ServiceError> {
    let position: Option<i64> = sqlx::query_scalar(queries::postgres::CHECKPOINT)
        .bind(name)
        .fetch_optional(pool)
        .await
        .map_err(service_error)?;
    Ok(position.unwrap_or(0))
}

pub(crate) async fn save_checkpoint_sqlite(
    pool: &SqlitePool,
    name: &str,
    position: i64,
) -> Result<(), ServiceError> {
    sqlx::query(queries::sqlite::SAVE_CHECKPOINT)
        .bind(name)
        .bind(position)
        .execute(pool)
        .await
        .map_err(service_error)?;
    Ok(())
}

pub(crate) async fn save_checkpoint_postgres(
    pool: &PgPool,
    name: &str,
    position: i64,
) -> Result<(), ServiceError> {
    sqlx::query(queries::postgres::SAVE_CHECKPOINT)
        .bind(name)
        .bind(position)
        .execute(pool)
        .await
        .map_err(service_error)?;
    Ok(())
}

fn as_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// One row of [`queries`]' `EVENTS_OF_TYPE`, in either dialect.
fn positioned<R>(row: &R) -> Result<Positioned, sqlx::Error>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Value: Decode<'r, R::Database> + Type<R::Database>,
{
    let sequence: i64 = row.try_get("sequence")?;
    Ok(Positioned {
        position: row.try_get("position")?,
        event: SerializedEvent::new(
            row.try_get("aggregate_id")?,
            as_sequence(sequence)?,
            row.try_get("aggregate_type")?,
            row.try_get("event_type")?,
            row.try_get("event_version")?,
            row.try_get("payload")?,
            row.try_get("metadata")?,
        ),
    })
}

/// One row of [`queries`]' `READ_LOG`, in either dialect: its columns in
/// the query's order, payload and metadata as text.
fn stored_text<R>(row: &R) -> Result<StoredText, sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(StoredText {
        position: row.try_get(0)?,
        aggregate_type: row.try_get(1)?,
        aggregate_id: row.try_get(2)?,
        sequence: as_sequence(row.try_get(3)?)?,
        event_type: row.try_get(4)?,
        event_version: row.try_get(5)?,
        payload: row.try_get(6)?,
        metadata: row.try_get(7)?,
    })
}

fn as_sequence(sequence: i64) -> Result<usize, sqlx::Error> {
    usize::try_from(sequence).map_err(|e| sqlx::Error::ColumnDecode {
        index: "sequence".to_owned(),
        source: Box::new(e),
    })
}

/// Storage errors sorted into the service's kinds, the source kept.
pub(crate) fn service_error(error: sqlx::Error) -> ServiceError {
    match error {
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::TypeNotFound { .. } => ServiceError::Corrupt(Box::new(error)),
        other => ServiceError::Unavailable(Box::new(other)),
    }
}

fn persistence_error(error: sqlx::Error) -> PersistenceError {
    match error {
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::TypeNotFound { .. } => {
            PersistenceError::DeserializationError(Box::new(error))
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed => PersistenceError::ConnectionError(Box::new(error)),
        other => PersistenceError::UnknownError(Box::new(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn urls_choose_the_store() {
        assert!(matches!(StoreUrl::parse("memory:"), Ok(StoreUrl::Memory)));
        assert!(matches!(
            StoreUrl::parse("sqlite://deleghe.db"),
            Ok(StoreUrl::Sqlite(_))
        ));
        assert!(matches!(
            StoreUrl::parse("postgres://postgres@127.0.0.1:5432/test?schema=t_1"),
            Ok(StoreUrl::Postgres { schema: Some(s), .. }) if s == "t_1"
        ));
        let Err(error) = StoreUrl::parse("mysql://root@localhost/db") else {
            panic!("mysql is not a store");
        };
        assert!(matches!(&error, ConnectError::UnsupportedScheme { scheme } if scheme == "mysql"));
        assert!(error.to_string().contains("sqlite://FILE"));
        assert!(matches!(
            StoreUrl::parse("postgres://u@h/db?schema=Bad-Name"),
            Err(ConnectError::InvalidUrl { .. })
        ));
    }

    #[test]
    fn connect_errors_do_not_show_passwords() {
        let Ok(StoreUrl::Postgres { options, .. }) =
            StoreUrl::parse("postgres://deleghe:s3cret@db.example:6543/deleghe")
        else {
            panic!("a valid URL");
        };
        let name = server_name(&options);
        assert_eq!(name, "db.example:6543/deleghe");
        assert!(!name.contains("s3cret"));
    }
}
