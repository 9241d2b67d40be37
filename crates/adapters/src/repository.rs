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
//! Each store implements one public port, [`crate::store::EventStore`]:
//! `memory.rs`, `sql/store.rs` for every SQL dialect, and any embedder's
//! store ([`Repository::from_store`]).

use std::collections::HashMap;
use std::sync::Arc;

use cqrs_es::persist::{
    EventUpcaster, PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent,
    SerializedSnapshot,
};
use cqrs_es::Aggregate;
use serde_json::Value;

use crate::error::ServiceError;
use crate::events::{self, StoredText};
use crate::projection::ReadSide;
use crate::store::{EventStore, Held, MemoryStore, Stored, StoredEvents};

pub use crate::connect::{ConnectError, DATABASE_URL_VAR, DEFAULT_DATABASE_URL};
pub use crate::events::{LoggedEvent, Payload};
pub use crate::store::Positioned;

/// A shared handle on the store; every aggregate's store holds one.
#[derive(Clone)]
pub struct Repository {
    store: Arc<dyn EventStore>,
    /// Told of every append through this repository or a clone, and, on
    /// PostgreSQL, of every append another process announces: the
    /// projector waits on it rather than only polling.
    appended: Arc<tokio::sync::Notify>,
    /// Told of the appends made through this repository only: what the
    /// PostgreSQL announcer passes on to other processes.
    appended_here: Arc<tokio::sync::Notify>,
    /// This repository's name in the announcements, so that it does not
    /// wake itself on its own.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    announcer: Arc<str>,
    /// The reads of the log's head through this repository or a clone take
    /// turns and share one another's answers (`HeadTurns`).
    heads: Arc<HeadTurns>,
}

/// Reads of the log's head take turns and share their answers
/// (`crate::turns`). On PostgreSQL a read of the head first numbers the
/// committed events under one row lock (`number_events()`): many writers
/// stamping their answers at once (ADR 0014) cost one or two numberings a
/// turn, not one each waiting on that lock.
type HeadTurns = crate::turns::Turns<i64>;

impl Repository {
    /// A new, empty store in memory, for embedding and tests (what `memory:`
    /// opens).
    pub fn memory() -> Self {
        Self::from_store(MemoryStore::new())
    }

    /// The repository on a store of any kind: the library's own, or an
    /// embedder's implementing the port ([`crate::store`]).
    pub fn from_store(store: impl EventStore) -> Self {
        Self {
            store: Arc::new(store),
            appended: Arc::default(),
            appended_here: Arc::default(),
            announcer: uuid::Uuid::new_v4().to_string().into(),
            heads: Arc::default(),
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
    /// let error = Repository::connect("redis://localhost/0").await.err().unwrap();
    /// assert!(matches!(error, ConnectError::UnsupportedScheme { .. }));
    /// # store.sqlite_pool().unwrap().close().await;
    /// # for suffix in ["", "-wal", "-shm"] {
    /// #     let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    /// # }
    /// # }
    /// ```
    pub async fn connect(url: &str) -> Result<Self, ConnectError> {
        crate::connect::connect(url).await
    }

    /// Opens the store named by [`DATABASE_URL_VAR`],
    /// or [`DEFAULT_DATABASE_URL`] if it is unset.
    pub async fn from_env() -> Result<Self, ConnectError> {
        let url =
            std::env::var(DATABASE_URL_VAR).unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned());
        Self::connect(&url).await
    }

    /// The SQLite store on an open pool, whose schema is up to date (see
    /// [`Repository::migrate`]).
    #[cfg(feature = "sqlite")]
    pub fn from_sqlite_pool(pool: sqlx::SqlitePool) -> Self {
        Self::from_store(crate::sql::SqlStore::<crate::sql::SqliteDialect>::new(pool))
    }

    /// The PostgreSQL store on an open pool, whose schema is up to date (see
    /// [`Repository::migrate`]).
    #[cfg(feature = "postgres")]
    pub fn from_postgres_pool(pool: sqlx::PgPool) -> Self {
        Self::from_store(crate::sql::SqlStore::<crate::sql::PostgresDialect>::new(
            pool,
        ))
    }

    /// Brings the store's schema up to date: applies the migrations not yet
    /// applied ([`Repository::connect`] does it on opening; a store built on
    /// a pool of the caller's needs it once). Nothing to do in memory, nor
    /// for a store of an embedder's.
    pub async fn migrate(&self) -> Result<(), ConnectError> {
        #[cfg(feature = "sqlite")]
        if let Some(pool) = self.sqlite_pool() {
            return crate::sql::migrate_sqlite(pool).await;
        }
        #[cfg(feature = "postgres")]
        if let Some(pool) = self.postgres_pool() {
            return crate::sql::migrate_postgres(pool).await;
        }
        Ok(())
    }

    /// The store's connection pool, if it has one and it is a `P`: how an
    /// embedder reaches its own store's pool through the repository.
    pub fn pool<P: std::any::Any>(&self) -> Option<&P> {
        self.store.pool()?.downcast_ref()
    }

    /// The SQLite pool, if this is the SQLite store.
    #[cfg(feature = "sqlite")]
    pub fn sqlite_pool(&self) -> Option<&sqlx::SqlitePool> {
        self.pool()
    }

    /// The PostgreSQL pool, if this is the PostgreSQL store.
    #[cfg(feature = "postgres")]
    pub fn postgres_pool(&self) -> Option<&sqlx::PgPool> {
        self.pool()
    }

    /// The read side's tables in this store's database, if it has them.
    pub(crate) fn read_side(&self) -> Option<ReadSide> {
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
        match self.read_stored(after, limit).await?.0 {
            Stored::Parsed(events) => Ok(events),
            Stored::Text(events) => events.into_iter().map(StoredText::parsed).collect(),
        }
    }

    /// Several streams, each `(aggregate_type, aggregate_id)` of `streams`
    /// in sequence order, as a load of it reads it, in the order asked: in
    /// one round trip where the store can ([`EventStore::streams`]; the SQL
    /// stores for two different streams). On the connection the command or
    /// flow in progress holds, if any.
    pub async fn read_streams(
        &self,
        streams: &[(&str, &str)],
    ) -> Result<Vec<Vec<SerializedEvent>>, ServiceError> {
        Ok(self.store.streams(current().as_ref(), streams).await?)
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
        self.store.flush(current().as_ref()).await
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
        if current().is_some() {
            return Ok(work.await);
        }
        match self.store.hold().await? {
            Some(held) => Ok(HELD.scope(held, work).await),
            None => Ok(work.await),
        }
    }

    /// Runs `work` with `streams` read ahead, in one round trip where the
    /// store can ([`EventStore::streams`]), on the connection a scope of
    /// [`Repository::holding`] around it holds: each one's first load in
    /// `work` takes what was read, any later load of it reads the store
    /// again (ADR 0019). For a flow decided whole, whose decisions load the
    /// streams one after the other. Fewer than two streams: nothing to gain,
    /// nothing read ahead.
    pub(crate) async fn reading_ahead<F: std::future::Future>(
        &self,
        streams: &[(&str, &str)],
        work: F,
    ) -> Result<F::Output, ServiceError> {
        if streams.len() < 2 {
            return Ok(work.await);
        }
        let read = self.read_streams(streams).await?;
        let ahead = streams
            .iter()
            .map(|(t, i)| ((*t).to_owned(), (*i).to_owned()))
            .zip(read)
            .collect();
        Ok(READ_AHEAD.scope(std::sync::Mutex::new(ahead), work).await)
    }

    /// What is told of every append made through this repository (or a
    /// clone of it), in this process: a worker that reads the log waits on
    /// it between its polls. An append by another process is seen at the
    /// next poll.
    pub(crate) fn appended(&self) -> &Arc<tokio::sync::Notify> {
        &self.appended
    }

    /// On PostgreSQL, the two tasks that wake the workers of every process
    /// on one log when any of them appends (ADR 0014), until `shutdown`
    /// turns true: the *announcer* sends `NOTIFY deleghe_log` after the
    /// appends made here, one at a time, however many appends happened
    /// meanwhile, in a transaction of its own (a `NOTIFY` inside the
    /// append's transaction would take PostgreSQL's global notification
    /// lock in every appending commit: `bench/notify.sh`); the *relay*
    /// `LISTEN`s and passes the other processes' announcements on to
    /// [`Repository::appended`]. A connection lost is opened again. `None`
    /// on any other store, whose workers poll.
    #[cfg(feature = "postgres")]
    pub(crate) fn announce_appends(
        &self,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Option<impl std::future::Future<Output = ()> + Send + 'static> {
        let pool = self.postgres_pool()?.clone();
        let (here, me) = (Arc::clone(&self.appended_here), Arc::clone(&self.announcer));
        let mut stop = shutdown;
        Some(async move {
            let mut next = Box::pin(Arc::clone(&here).notified_owned());
            next.as_mut().enable();
            loop {
                tokio::select! {
                    _ = &mut next => {}
                    _ = stop.changed() => {
                        if *stop.borrow() {
                            return;
                        }
                        continue;
                    }
                }
                // Listening again before announcing: an append during the
                // announcement is announced next.
                next = Box::pin(here.clone().notified_owned());
                next.as_mut().enable();
                // The payload: the log's schema (other logs of the same
                // database ignore it) and who announces.
                let announced = sqlx::query("SELECT pg_notify($1, current_schema() || ' ' || $2)")
                    .bind(LOG_CHANNEL)
                    .bind(&*me)
                    .execute(&pool)
                    .await;
                if let Err(error) = announced {
                    tracing::warn!(%error, "an append could not be announced; other processes poll");
                }
            }
        })
    }

    /// The relay of [`Repository::announce_appends`].
    #[cfg(feature = "postgres")]
    pub(crate) fn relay_appends(
        &self,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Option<impl std::future::Future<Output = ()> + Send + 'static> {
        let pool = self.postgres_pool()?.clone();
        let appended = Arc::clone(&self.appended);
        let me = Arc::clone(&self.announcer);
        Some(async move {
            loop {
                let listening = async {
                    let schema: String = sqlx::query_scalar("SELECT current_schema()")
                        .fetch_one(&pool)
                        .await?;
                    let (ours, mine) = (format!("{schema} "), format!("{schema} {me}"));
                    let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await?;
                    listener.listen(LOG_CHANNEL).await?;
                    loop {
                        let heard = listener.recv().await?;
                        if heard.payload().starts_with(&ours) && heard.payload() != mine {
                            appended.notify_waiters();
                        }
                    }
                    #[allow(unreachable_code)]
                    Ok::<std::convert::Infallible, sqlx::Error>(unreachable!())
                };
                tokio::select! {
                    ended = listening => {
                        let Err(error) = ended;
                        tracing::warn!(%error, "the log's announcements stopped; listening again");
                    }
                    _ = shutdown.changed() => {}
                }
                if *shutdown.borrow() {
                    return;
                }
                // A pause before listening again, cut short by shutdown.
                tokio::select! {
                    _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                    _ = shutdown.changed() => {}
                }
                if *shutdown.borrow() {
                    return;
                }
            }
        })
    }

    /// The position of the last event of the log, 0 if it is empty: at or
    /// past every event committed before the call. Concurrent callers share
    /// reads (`HeadTurns`).
    pub async fn log_head(&self) -> Result<i64, ServiceError> {
        Ok(self.heads.take(self.store.log_head()).await?.value())
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

/// The PostgreSQL channel on which processes announce their appends
/// ([`Repository::announce_appends`]).
#[cfg(feature = "postgres")]
const LOG_CHANNEL: &str = "deleghe_log";

tokio::task_local! {
    /// Set by [`Repository::deferring`]: appends made in its scope commit
    /// without waiting for the WAL flush.
    static DEFERRED: bool;
    /// Set by [`Repository::holding`]: the connection its scope runs on.
    static HELD: Held;
    /// Set by [`Repository::reading_ahead`]: the streams read ahead and not
    /// loaded yet, by aggregate type and id.
    static READ_AHEAD: std::sync::Mutex<HashMap<(String, String), Vec<SerializedEvent>>>;
}

/// The events of one stream, if read ahead in the caller's scope and not
/// loaded yet: taken, so that a second load reads the store again.
fn read_ahead(aggregate_type: &str, aggregate_id: &str) -> Option<Vec<SerializedEvent>> {
    READ_AHEAD
        .try_with(|ahead| {
            ahead
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(&(aggregate_type.to_owned(), aggregate_id.to_owned()))
        })
        .ok()
        .flatten()
}

/// The connection the scope of [`Repository::holding`] around the caller
/// runs on, if any.
fn current() -> Option<Held> {
    HELD.try_with(Held::clone).ok()
}

impl StoredEvents {
    /// Decodes them through `upcasters` (CPU work: no I/O, no await).
    pub(crate) fn decode(
        self,
        upcasters: &[Box<dyn EventUpcaster>],
    ) -> Result<Vec<LoggedEvent>, ServiceError> {
        match self.0 {
            Stored::Parsed(events) => events
                .into_iter()
                .map(|e| events::decode(e, upcasters))
                .collect(),
            Stored::Text(events) => events
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
        if let Some(events) = read_ahead(A::TYPE, aggregate_id) {
            return Ok(events);
        }
        // Read by our own statement, the same as sqlite-es's and
        // postgres-es's, so that it can run on a held connection.
        self.store
            .stream(current().as_ref(), A::TYPE, aggregate_id)
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
        let appended = self.store.append(current().as_ref(), events, durable).await;
        if appended.is_ok() {
            self.appended.notify_waiters();
            self.appended_here.notify_waiters();
        }
        appended
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

/// ADR 0014: on PostgreSQL, an append announced by one process wakes the
/// workers of another on the same log, and a process is not woken by its
/// own announcements.
#[cfg(all(test, feature = "postgres"))]
mod announcements {
    use std::time::Duration;

    use super::Repository;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_append_here_wakes_the_other_processes_and_not_this_one() {
        let Ok(server) = std::env::var("DELEGHE_TEST_POSTGRES_URL") else {
            eprintln!("skipping: DELEGHE_TEST_POSTGRES_URL is not set");
            return;
        };
        let schema = format!("t_announce_{}", uuid::Uuid::new_v4().simple());
        let separator = if server.contains('?') { '&' } else { '?' };
        let url = format!("{server}{separator}schema={schema}");
        let (here, there) = (
            Repository::connect(&url).await.unwrap(),
            Repository::connect(&url).await.unwrap(),
        );
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let tasks = [
            tokio::spawn(here.announce_appends(stopped.clone()).unwrap()),
            tokio::spawn(here.relay_appends(stopped.clone()).unwrap()),
            tokio::spawn(there.relay_appends(stopped).unwrap()),
        ];
        // The relays are listening.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let woken_there = there.appended().clone().notified_owned();
        let woken_here = here.appended().clone().notified_owned();
        tokio::pin!(woken_there, woken_here);
        woken_there.as_mut().enable();
        woken_here.as_mut().enable();
        // What an append through `here` signals besides its own workers.
        here.appended_here.notify_waiters();
        let heard = tokio::time::timeout(Duration::from_secs(5), &mut woken_there).await;
        let echoed = tokio::time::timeout(Duration::from_millis(500), &mut woken_here).await;
        stop.send(true).unwrap();
        for task in tasks {
            task.await.unwrap();
        }
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&server).await.unwrap();
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&mut conn)
            .await
            .unwrap();
        assert!(heard.is_ok(), "the other process was not woken");
        assert!(
            echoed.is_err(),
            "a process was woken by its own announcement"
        );
    }
}

/// ADR 0019: a stream read ahead is what its first load in the scope
/// gets; a later load reads the store again.
#[cfg(test)]
mod reading_ahead {
    use cqrs_es::persist::PersistedEventRepository;
    use cqrs_es::Aggregate;
    use deleghe_domain::delegation::{Delegate, Grantor};
    use serde_json::json;

    use super::Repository;
    use crate::store::SerializedEvent;

    fn event(aggregate_type: &str, id: &str, sequence: usize) -> SerializedEvent {
        SerializedEvent {
            aggregate_id: id.to_owned(),
            sequence,
            aggregate_type: aggregate_type.to_owned(),
            event_type: "Test".to_owned(),
            event_version: "1".to_owned(),
            payload: json!({ "n": sequence }),
            metadata: json!({}),
        }
    }

    #[tokio::test]
    async fn a_stream_read_ahead_is_its_first_load_and_only_that() {
        let repository = Repository::memory();
        let (g, d) = ("RSSMRA85T10A562S", "VRDLGU70A01H501O");
        repository
            .persist::<Grantor>(
                &[event(Grantor::TYPE, g, 1), event(Delegate::TYPE, d, 1)],
                None,
            )
            .await
            .unwrap();
        let streams = [(Grantor::TYPE, g), (Delegate::TYPE, d)];
        let loads = repository
            .reading_ahead(&streams, async {
                // Appended after the read ahead: the first load does not see it.
                repository
                    .persist::<Grantor>(&[event(Grantor::TYPE, g, 2)], None)
                    .await
                    .unwrap();
                let first = repository.get_events::<Grantor>(g).await.unwrap();
                let again = repository.get_events::<Grantor>(g).await.unwrap();
                let delegate = repository.get_events::<Delegate>(d).await.unwrap();
                (first.len(), again.len(), delegate.len())
            })
            .await
            .unwrap();
        assert_eq!(loads, (1, 2, 1));
        // Outside the scope, nothing is read ahead.
        assert_eq!(repository.get_events::<Grantor>(g).await.unwrap().len(), 2);
    }
}
