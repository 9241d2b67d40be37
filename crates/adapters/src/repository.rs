//! The event repository behind every aggregate's store, chosen at run time
//! from a URL: `memory:`, `sqlite://FILE` (the embedded default, created with
//! its schema on first use) or `postgres://...`. All three run through
//! cqrs-es's `PersistedEventStore` in plain event-store mode (state rebuilt
//! from events on every load: no snapshot, so no double apply).
//!
//! Beside what cqrs-es asks of a repository, each store keeps a global log in
//! commit order ([`Repository::read_log`]) and the checkpoints of its readers;
//! `docs/STORES.md` describes the schema and why the positions can be trusted.

use std::sync::Arc;

use cqrs_es::persist::{
    EventUpcaster, PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent,
    SerializedSnapshot,
};
use cqrs_es::Aggregate;
use serde_json::Value;
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;
use sqlx::{Postgres, Sqlite};
use tokio::sync::Mutex;

use crate::error::ServiceError;
use crate::events::{self, LoggedEvent, StoredText};
use crate::memory::{MemoryRepository, Positioned};
use crate::sql::{self, StoreUrl};

pub use crate::sql::ConnectError;

/// The store: the log of every aggregate and the checkpoints of its readers.
#[derive(Clone)]
enum Log {
    Memory(MemoryRepository),
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A shared handle on the store; every aggregate's store holds one.
#[derive(Clone)]
pub struct Repository {
    log: Log,
}

impl Repository {
    pub fn memory() -> Self {
        Self {
            log: Log::Memory(MemoryRepository::new()),
        }
    }

    /// Opens the store a URL names, applying its migrations:
    /// - `memory:`: in memory, for embedding and tests;
    /// - `sqlite://FILE`: a SQLite file, created if missing;
    /// - `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?schema=NAME]`: a
    ///   PostgreSQL database; with `schema`, every connection works in that
    ///   schema (created if missing), so that several instances (or test
    ///   runs) can share one database.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use deleghe_adapters::repository::{ConnectError, Repository};
    ///
    /// let file = std::env::temp_dir().join(format!("deleghe-doc-{}.db", std::process::id()));
    /// let store = Repository::connect(&format!("sqlite://{}", file.display())).await.unwrap();
    /// assert!(store.sqlite_pool().is_some());
    ///
    /// let error = Repository::connect("mysql://localhost/deleghe").await.err().unwrap();
    /// assert!(matches!(error, ConnectError::UnsupportedScheme { .. }));
    /// # store.sqlite_pool().unwrap().close().await;
    /// # for suffix in ["", "-wal", "-shm"] {
    /// #     let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    /// # }
    /// # }
    /// ```
    pub async fn connect(url: &str) -> Result<Self, ConnectError> {
        match StoreUrl::parse(url)? {
            StoreUrl::Memory => Ok(Self::memory()),
            StoreUrl::Sqlite(options) => {
                Ok(Self::from_sqlite_pool(sql::open_sqlite(options).await?))
            }
            StoreUrl::Postgres { options, schema } => Ok(Self::from_postgres_pool(
                sql::open_postgres(options, schema.as_deref()).await?,
            )),
        }
    }

    /// Opens the store named by [`DATABASE_URL_VAR`](sql::DATABASE_URL_VAR),
    /// or [`DEFAULT_DATABASE_URL`](sql::DEFAULT_DATABASE_URL) if it is unset.
    pub async fn from_env() -> Result<Self, ConnectError> {
        let url = std::env::var(sql::DATABASE_URL_VAR)
            .unwrap_or_else(|_| sql::DEFAULT_DATABASE_URL.to_owned());
        Self::connect(&url).await
    }

    /// The SQLite store on an open pool, whose schema is up to date
    /// ([`sql::migrate_sqlite`]).
    pub fn from_sqlite_pool(pool: SqlitePool) -> Self {
        Self {
            log: Log::Sqlite(pool),
        }
    }

    /// The PostgreSQL store on an open pool, whose schema is up to date
    /// ([`sql::migrate_postgres`]).
    pub fn from_postgres_pool(pool: PgPool) -> Self {
        Self {
            log: Log::Postgres(pool),
        }
    }

    /// The SQLite pool, if this is the SQLite store.
    pub fn sqlite_pool(&self) -> Option<&SqlitePool> {
        match &self.log {
            Log::Sqlite(pool) => Some(pool),
            _ => None,
        }
    }

    /// The PostgreSQL pool, if this is the PostgreSQL store.
    pub fn postgres_pool(&self) -> Option<&PgPool> {
        match &self.log {
            Log::Postgres(pool) => Some(pool),
            _ => None,
        }
    }

    /// The events stored after position `after`, in commit order, at most
    /// `limit`. Only events that no earlier, still-running transaction can
    /// precede are returned, so a reader that advances its checkpoint past
    /// them never skips one.
    pub async fn read_log(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Positioned>, ServiceError> {
        match self.read_stored(after, limit).await? {
            StoredEvents::Parsed(events) => Ok(events),
            StoredEvents::Text(events) => events.into_iter().map(StoredText::parsed).collect(),
        }
    }

    /// [`Repository::read_log`], decoded into the domain's types through
    /// `upcasters`: what the projector and the runner read. The SQL stores'
    /// payloads go from their text straight into the domain's types.
    pub async fn read_events(
        &self,
        after: i64,
        limit: usize,
        upcasters: &[Box<dyn EventUpcaster>],
    ) -> Result<Vec<LoggedEvent>, ServiceError> {
        self.read_stored(after, limit).await?.decode(upcasters)
    }

    /// [`Repository::read_log`] as stored, not decoded yet.
    pub(crate) async fn read_stored(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<StoredEvents, ServiceError> {
        Ok(match &self.log {
            Log::Memory(m) => StoredEvents::Parsed(m.read_log(after, limit)),
            Log::Sqlite(pool) => {
                StoredEvents::Text(sql::read_log_sqlite(pool, after, limit).await?)
            }
            Log::Postgres(pool) => {
                StoredEvents::Text(sql::read_log_postgres(pool, after, limit).await?)
            }
        })
    }

    /// Runs `work` with its appends committed without waiting for their WAL
    /// flush (PostgreSQL; other stores are unaffected): for the steps of a
    /// flow that more steps follow. Such a commit is visible at once but may
    /// be lost in a crash until a later commit's flush, which carries every
    /// WAL record before it, or [`Repository::flush`]. A flow's caller hears
    /// back only after one of them: nothing it was told is lost.
    pub(crate) async fn deferring<F: std::future::Future>(work: F) -> F::Output {
        DEFERRED.scope(true, work).await
    }

    /// Returns once every commit made before it is durable.
    pub(crate) async fn flush(&self) -> Result<(), ServiceError> {
        match (&self.log, Held::current()) {
            (Log::Postgres(_), Some(Held::Postgres(conn))) => {
                sql::flush_postgres(&mut **conn.lock().await).await
            }
            (Log::Postgres(pool), _) => sql::flush_postgres(pool).await,
            (Log::Memory(_) | Log::Sqlite(_), _) => Ok(()),
        }
    }

    /// Runs `work` with every load, append and flush it makes through this
    /// repository on one pooled connection, taken once (or the one a scope
    /// around it already holds): for a command or a flow, whose statements
    /// run one after another. sqlx tests a connection with a round trip each
    /// time one goes back to its pool; a flow's five statements then cost
    /// one such test instead of five. Nothing else may take a connection of
    /// the same pool inside `work`, which could wait for one forever.
    pub(crate) async fn holding<F: std::future::Future>(
        &self,
        work: F,
    ) -> Result<F::Output, ServiceError> {
        if Held::current().is_some() {
            return Ok(work.await);
        }
        let held = match &self.log {
            Log::Memory(_) => return Ok(work.await),
            Log::Sqlite(pool) => Held::Sqlite(Arc::new(Mutex::new(
                pool.acquire().await.map_err(sql::service_error)?,
            ))),
            Log::Postgres(pool) => Held::Postgres(Arc::new(Mutex::new(
                pool.acquire().await.map_err(sql::service_error)?,
            ))),
        };
        Ok(HELD.scope(held, work).await)
    }

    /// The position a named reader (runner, projector, dispatcher) has handled.
    pub async fn checkpoint(&self, name: &str) -> Result<i64, ServiceError> {
        match &self.log {
            Log::Memory(m) => Ok(m.checkpoint(name)),
            Log::Sqlite(pool) => sql::checkpoint_sqlite(pool, name).await,
            Log::Postgres(pool) => sql::checkpoint_postgres(pool, name).await,
        }
    }

    pub async fn save_checkpoint(&self, name: &str, position: i64) -> Result<(), ServiceError> {
        match &self.log {
            Log::Memory(m) => {
                m.save_checkpoint(name, position);
                Ok(())
            }
            Log::Sqlite(pool) => sql::save_checkpoint_sqlite(pool, name, position).await,
            Log::Postgres(pool) => sql::save_checkpoint_postgres(pool, name, position).await,
        }
    }
}

tokio::task_local! {
    /// Set by [`Repository::deferring`]: appends made in its scope commit
    /// without waiting for the WAL flush.
    static DEFERRED: bool;
    /// Set by [`Repository::holding`]: the connection its scope runs on.
    static HELD: Held;
}

/// A pooled connection a scope of [`Repository::holding`] runs on.
#[derive(Clone)]
enum Held {
    Sqlite(Arc<Mutex<PoolConnection<Sqlite>>>),
    Postgres(Arc<Mutex<PoolConnection<Postgres>>>),
}

impl Held {
    fn current() -> Option<Held> {
        HELD.try_with(Held::clone).ok()
    }
}

/// Events of the log as a store gave them.
pub(crate) enum StoredEvents {
    /// From the memory store, already parsed.
    Parsed(Vec<Positioned>),
    /// From a SQL store, payload and metadata as text.
    Text(Vec<StoredText>),
}

impl StoredEvents {
    /// Decodes them through `upcasters` (CPU work: no I/O, no await).
    pub(crate) fn decode(
        self,
        upcasters: &[Box<dyn EventUpcaster>],
    ) -> Result<Vec<LoggedEvent>, ServiceError> {
        match self {
            StoredEvents::Parsed(events) => events
                .into_iter()
                .map(|e| events::decode(e, upcasters))
                .collect(),
            StoredEvents::Text(events) => events
                .into_iter()
                .map(|e| events::decode_text(e, upcasters))
                .collect(),
        }
    }
}

fn not_supported() -> PersistenceError {
    PersistenceError::UnknownError("snapshots are not used by this library".into())
}

impl PersistedEventRepository for Repository {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        // Read by our own statement, the same as sqlite-es's and
        // postgres-es's, so that it can run on a held connection.
        match (&self.log, Held::current()) {
            (Log::Memory(m), _) => Ok(m.stream(A::TYPE, aggregate_id)),
            (Log::Sqlite(_), Some(Held::Sqlite(conn))) => {
                sql::stream_sqlite(&mut **conn.lock().await, A::TYPE, aggregate_id).await
            }
            (Log::Sqlite(pool), _) => sql::stream_sqlite(pool, A::TYPE, aggregate_id).await,
            (Log::Postgres(_), Some(Held::Postgres(conn))) => {
                sql::stream_postgres(&mut **conn.lock().await, A::TYPE, aggregate_id).await
            }
            (Log::Postgres(pool), _) => sql::stream_postgres(pool, A::TYPE, aggregate_id).await,
        }
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        // Only cqrs-es's snapshot modes ask for this, and none is used.
        let mut events = self.get_events::<A>(aggregate_id).await?;
        events.retain(|e| e.sequence > last_sequence);
        Ok(events)
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        _aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        Err(not_supported())
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        if snapshot_update.is_some() {
            return Err(not_supported());
        }
        // Appended by our own statement rather than sqlite-es's and
        // postgres-es's `persist`: one round trip instead of three, and on
        // PostgreSQL a commit that may skip its flush (see `Repository::deferring`).
        // The events may belong to several streams (each row names its own):
        // they are stored all or none, each at the sequence it was decided
        // at, so a stream another writer moved makes the whole append conflict.
        let durable = !DEFERRED.try_with(|deferred| *deferred).unwrap_or(false);
        match (&self.log, Held::current()) {
            (Log::Memory(m), _) => m.append(events),
            (Log::Sqlite(_), Some(Held::Sqlite(conn))) => {
                sql::append_sqlite(&mut **conn.lock().await, events).await
            }
            (Log::Sqlite(pool), _) => sql::append_sqlite(pool, events).await,
            (Log::Postgres(_), Some(Held::Postgres(conn))) => {
                sql::append_postgres(&mut **conn.lock().await, events, durable).await
            }
            (Log::Postgres(pool), _) => sql::append_postgres(pool, events, durable).await,
        }
    }

    // The streams are read whole, then replayed: sqlite-es's and postgres-es's
    // own streaming tasks panic on a read error, which would end the stream
    // early with no error.
    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        let events = self.get_events::<A>(aggregate_id).await?;
        replay(events).await
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        let events = match &self.log {
            Log::Memory(m) => m.all_of_type(A::TYPE),
            Log::Sqlite(pool) => sql::events_of_type_sqlite(pool, A::TYPE).await?,
            Log::Postgres(pool) => sql::events_of_type_postgres(pool, A::TYPE).await?,
        };
        replay(events).await
    }
}

async fn replay(events: Vec<SerializedEvent>) -> Result<ReplayStream, PersistenceError> {
    let (mut feed, stream) = ReplayStream::new(events.len().max(1));
    for e in events {
        feed.push(Ok(e)).await?;
    }
    Ok(stream)
}
