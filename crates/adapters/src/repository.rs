//! The event repository behind every aggregate's store, chosen at run time
//! from a URL: `memory:`, `sqlite://FILE` (the embedded default, created with
//! its schema on first use) or `postgres://...`. All three run through
//! cqrs-es's `PersistedEventStore` in plain event-store mode (state rebuilt
//! from events on every load: no snapshot, so no double apply).
//!
//! Beside what cqrs-es asks of a repository, each store keeps a global log in
//! commit order ([`Repository::read_log`]) and the checkpoints of its readers;
//! `docs/STORES.md` describes the schema and why the positions can be trusted.
//!
//! Each store implements one port, `Store`: `memory.rs`, and
//! `sql/store.rs` for every SQL dialect.

use std::any::Any;
use std::sync::Arc;

use async_trait::async_trait;
use cqrs_es::persist::{
    EventUpcaster, PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent,
    SerializedSnapshot,
};
use cqrs_es::Aggregate;
use serde_json::Value;
use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;

use crate::error::ServiceError;
use crate::events::{self, StoredText};
use crate::memory::MemoryRepository;
use crate::readside::SidePool;
use crate::sql::store::SqlStore;
use crate::sql::{self, PostgresDialect, SqliteDialect, StoreUrl};

pub use crate::events::{LoggedEvent, Payload};
pub use crate::memory::Positioned;
pub use crate::sql::{ConnectError, DATABASE_URL_VAR, DEFAULT_DATABASE_URL};

/// What the repository asks of a store: the port each store implements
/// (`memory.rs`; `sql/store.rs` for every SQL dialect).
#[async_trait]
pub(crate) trait Store: Send + Sync {
    /// The store's connection pool, if it has one.
    fn pool(&self) -> Option<&(dyn Any + Send + Sync)>;

    /// The read side's tables, if the store holds them beside the events.
    fn read_side(&self) -> Option<Arc<dyn SidePool>>;

    /// A connection for a scope of [`Repository::holding`] to run on, if
    /// the store has connections.
    async fn hold(&self) -> Result<Option<Held>, ServiceError>;

    /// One stream, in sequence order, on `held` if it is this store's.
    async fn stream(
        &self,
        held: Option<&Held>,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError>;

    /// Appends one command's events (of one stream or several): all, each
    /// at the sequence it was decided at, or none.
    async fn append(
        &self,
        held: Option<&Held>,
        events: &[SerializedEvent],
        durable: bool,
    ) -> Result<(), PersistenceError>;

    /// Returns once every commit made before it is durable.
    async fn flush(&self, held: Option<&Held>) -> Result<(), ServiceError>;

    async fn read_log(&self, after: i64, limit: usize) -> Result<StoredEvents, ServiceError>;

    async fn events_of_type(
        &self,
        aggregate_type: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError>;

    async fn checkpoint(&self, name: &str) -> Result<i64, ServiceError>;

    async fn save_checkpoint(&self, name: &str, position: i64) -> Result<(), ServiceError>;
}

/// A shared handle on the store; every aggregate's store holds one.
#[derive(Clone)]
pub struct Repository {
    store: Arc<dyn Store>,
}

impl Repository {
    /// A new, empty store in memory, for embedding and tests (what `memory:`
    /// opens).
    pub fn memory() -> Self {
        Self {
            store: Arc::new(MemoryRepository::new()),
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
                Ok(Self::from_sqlite_pool(sql::sqlite::open(options).await?))
            }
            StoreUrl::Postgres { options, schema } => Ok(Self::from_postgres_pool(
                sql::postgres::open(options, schema.as_deref()).await?,
            )),
        }
    }

    /// Opens the store named by [`DATABASE_URL_VAR`],
    /// or [`DEFAULT_DATABASE_URL`] if it is unset.
    pub async fn from_env() -> Result<Self, ConnectError> {
        let url = std::env::var(sql::DATABASE_URL_VAR)
            .unwrap_or_else(|_| sql::DEFAULT_DATABASE_URL.to_owned());
        Self::connect(&url).await
    }

    /// The SQLite store on an open pool, whose schema is up to date (see
    /// [`Repository::migrate`]).
    pub fn from_sqlite_pool(pool: SqlitePool) -> Self {
        Self {
            store: Arc::new(SqlStore::<SqliteDialect>::new(pool)),
        }
    }

    /// The PostgreSQL store on an open pool, whose schema is up to date (see
    /// [`Repository::migrate`]).
    pub fn from_postgres_pool(pool: PgPool) -> Self {
        Self {
            store: Arc::new(SqlStore::<PostgresDialect>::new(pool)),
        }
    }

    /// Brings the store's schema up to date: applies the migrations not yet
    /// applied ([`Repository::connect`] does it on opening; a store built on
    /// a pool of the caller's needs it once). Nothing to do in memory.
    pub async fn migrate(&self) -> Result<(), ConnectError> {
        if let Some(pool) = self.sqlite_pool() {
            crate::sql::migrate_sqlite(pool).await
        } else if let Some(pool) = self.postgres_pool() {
            crate::sql::migrate_postgres(pool).await
        } else {
            Ok(())
        }
    }

    /// The SQLite pool, if this is the SQLite store.
    pub fn sqlite_pool(&self) -> Option<&SqlitePool> {
        self.store.pool()?.downcast_ref()
    }

    /// The PostgreSQL pool, if this is the PostgreSQL store.
    pub fn postgres_pool(&self) -> Option<&PgPool> {
        self.store.pool()?.downcast_ref()
    }

    /// The read side's tables in this store's database, if it has them.
    pub(crate) fn read_side(&self) -> Option<Arc<dyn SidePool>> {
        self.store.read_side()
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
    /// the library's upcasters: what the projector and the runner read. The
    /// SQL stores' payloads go from their text straight into the domain's
    /// types.
    pub async fn read_events(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<LoggedEvent>, ServiceError> {
        self.read_events_with(after, limit, &crate::upcast::upcasters())
            .await
    }

    /// [`Repository::read_events`] with upcasters the caller keeps.
    pub(crate) async fn read_events_with(
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
        self.store.read_log(after, limit).await
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
        self.store.flush(Held::current().as_ref()).await
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
        match self.store.hold().await? {
            Some(held) => Ok(HELD.scope(held, work).await),
            None => Ok(work.await),
        }
    }

    /// The position a named reader (runner, projector, dispatcher) has handled.
    pub async fn checkpoint(&self, name: &str) -> Result<i64, ServiceError> {
        self.store.checkpoint(name).await
    }

    /// Records `position` as handled by the reader `name`, replacing what was
    /// recorded: nothing checks that it moves forward.
    pub async fn save_checkpoint(&self, name: &str, position: i64) -> Result<(), ServiceError> {
        self.store.save_checkpoint(name, position).await
    }
}

tokio::task_local! {
    /// Set by [`Repository::deferring`]: appends made in its scope commit
    /// without waiting for the WAL flush.
    static DEFERRED: bool;
    /// Set by [`Repository::holding`]: the connection its scope runs on.
    static HELD: Held;
}

/// The connection a scope of [`Repository::holding`] runs on, as the store
/// that lent it knows it.
#[derive(Clone)]
pub(crate) struct Held(Arc<dyn Any + Send + Sync>);

impl Held {
    pub(crate) fn new<T: Any + Send + Sync>(conn: T) -> Self {
        Self(Arc::new(conn))
    }

    /// The connection, if it is a `T`.
    pub(crate) fn get<T: Any>(&self) -> Option<&T> {
        self.0.downcast_ref()
    }

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
        self.store
            .stream(Held::current().as_ref(), A::TYPE, aggregate_id)
            .await
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
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
        self.store
            .append(Held::current().as_ref(), events, durable)
            .await
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
        let events = self.store.events_of_type(A::TYPE).await?;
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
