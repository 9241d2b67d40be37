//! The store port: what the service ([`crate::Deleghe`]), the flow runner
//! ([`crate::runner`]) and the projector ([`crate::projection`]) ask of an
//! event store, as one public trait, [`EventStore`]. A store is plugged in
//! with [`crate::Repository::from_store`].
//!
//! The library's own stores implement it: in memory ([`MemoryStore`]),
//! SQLite and PostgreSQL (features `sqlite` and `postgres`, on
//! [`crate::sql::SqlStore`]); a SQL database of another kind implements
//! [`crate::sql::Dialect`] and gets the whole store, read side included, from
//! `SqlStore` (crates/store-mariadb does so for MariaDB and MySQL). A store
//! of any other kind implements [`EventStore`] directly; its read models
//! then live in memory and are rebuilt from its log on start.
//!
//! What every store must guarantee (the conformance suite of
//! `deleghe-testkit` checks each point):
//! - **optimistic concurrency**: [`EventStore::append`] stores a command's
//!   events all or none, each at the sequence it was decided at; if any
//!   `(aggregate_type, aggregate_id, sequence)` is taken, none is stored and
//!   the answer is [`PersistenceError::OptimisticLockError`];
//! - **a global log in commit order**: every stored event gets a position,
//!   positions grow with commit order, and [`EventStore::read_log`] never
//!   returns an event at a position below one it returned before; so a
//!   reader that saves its checkpoint after what it read never skips one;
//! - **checkpoints**: a reader's saved position survives a reconnect.
//!
//! ```
//! use deleghe_adapters::store::{EventStore, MemoryStore};
//! use deleghe_adapters::Repository;
//!
//! // The in-memory store, plugged in through the port like any other.
//! let repository = Repository::from_store(MemoryStore::new());
//! # let _ = repository;
//! ```

use std::any::Any;
use std::sync::Arc;

use async_trait::async_trait;
pub use cqrs_es::persist::{PersistenceError, SerializedEvent};

use crate::error::ServiceError;
use crate::events::StoredText;
pub use crate::memory::MemoryStore;
use crate::projection::ReadSide;

/// One stored event and its position in the log (1-based, commit order).
#[derive(Debug, Clone, PartialEq)]
pub struct Positioned {
    /// Its place in the global log: in commit order.
    pub position: i64,
    /// The event as cqrs-es stores it, payload and metadata as JSON, not yet
    /// upcast.
    pub event: SerializedEvent,
}

/// What the library asks of an event store. See the [module](self) for the
/// guarantees each method must give.
///
/// `held` is the connection a scope of work took with [`EventStore::hold`]
/// (a command, or a whole flow, runs its statements on one connection); a
/// store without connections ignores it.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// One stream, in sequence order.
    async fn stream(
        &self,
        held: Option<&Held>,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError>;

    /// Several streams, each `(aggregate_type, aggregate_id)` of `streams`
    /// as [`EventStore::stream`] reads it, in the same order: what a flow
    /// decided whole reads before its first decision (ADR 0019). The default
    /// reads them one by one; a store that can read them in one round trip
    /// should.
    async fn streams(
        &self,
        held: Option<&Held>,
        streams: &[(&str, &str)],
    ) -> Result<Vec<Vec<SerializedEvent>>, PersistenceError> {
        let mut read = Vec::with_capacity(streams.len());
        for (aggregate_type, aggregate_id) in streams {
            read.push(self.stream(held, aggregate_type, aggregate_id).await?);
        }
        Ok(read)
    }

    /// Appends one command's events (of one stream or several): all, each
    /// at the sequence it was decided at, or none, with
    /// [`PersistenceError::OptimisticLockError`] if a sequence is taken.
    /// `durable` is false for a step of a flow that more steps follow: the
    /// store may then commit without waiting for its disk, provided that a
    /// later durable commit or [`EventStore::flush`] makes this one durable
    /// too.
    async fn append(
        &self,
        held: Option<&Held>,
        events: &[SerializedEvent],
        durable: bool,
    ) -> Result<(), PersistenceError>;

    /// The events after position `after`, in position order, at most
    /// `limit`: only events no still-running append can precede.
    async fn read_log(&self, after: i64, limit: usize) -> Result<StoredEvents, ServiceError>;

    /// Every event of one aggregate type, in log order.
    async fn events_of_type(
        &self,
        aggregate_type: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError>;

    /// The position of the last event of the log (0 if empty): how far the
    /// log's readers have to go, for their lag. The default reads the log
    /// through; a store that can say it at once should.
    async fn log_head(&self) -> Result<i64, ServiceError> {
        let mut head = 0;
        loop {
            let page = self.read_log(head, 4096).await?;
            match page.last_position() {
                Some(last) => head = last,
                None => return Ok(head),
            }
        }
    }

    /// The position the reader `name` saved, 0 if none.
    async fn checkpoint(&self, name: &str) -> Result<i64, ServiceError>;

    /// Saves `position` for the reader `name`, replacing what was saved.
    async fn save_checkpoint(&self, name: &str, position: i64) -> Result<(), ServiceError>;

    /// A connection for a scope of work to run its statements on, if the
    /// store has connections (none by default).
    async fn hold(&self) -> Result<Option<Held>, ServiceError> {
        Ok(None)
    }

    /// Returns once every commit made before it is durable (at once by
    /// default: a store whose appends are always durable).
    async fn flush(&self, _held: Option<&Held>) -> Result<(), ServiceError> {
        Ok(())
    }

    /// The read side in the store's own database, if it keeps one; `None`
    /// (the default) puts the read models in memory, rebuilt from the log.
    fn read_side(&self) -> Option<ReadSide> {
        None
    }

    /// The store's connection pool, if it has one, for
    /// [`crate::Repository::pool`].
    fn pool(&self) -> Option<&(dyn Any + Send + Sync)> {
        None
    }
}

/// The connection a scope of work holds, as the store that lent it knows it
/// ([`EventStore::hold`]).
#[derive(Clone)]
pub struct Held(Arc<dyn Any + Send + Sync>);

impl Held {
    /// Wraps a store's connection.
    pub fn new<T: Any + Send + Sync>(conn: T) -> Self {
        Self(Arc::new(conn))
    }

    /// The connection, if it is a `T`.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.0.downcast_ref()
    }
}

/// Events of the log as a store gives them to [`EventStore::read_log`].
pub struct StoredEvents(pub(crate) Stored);

pub(crate) enum Stored {
    /// Parsed already (the memory store; any store of an embedder's).
    Parsed(Vec<Positioned>),
    /// From a SQL store, payload and metadata as text, parsed straight into
    /// the domain's types.
    Text(Vec<StoredText>),
}

impl From<Vec<Positioned>> for StoredEvents {
    fn from(events: Vec<Positioned>) -> Self {
        Self(Stored::Parsed(events))
    }
}

impl StoredEvents {
    /// The position of the last of them, if any.
    pub fn last_position(&self) -> Option<i64> {
        match &self.0 {
            Stored::Parsed(events) => events.last().map(|e| e.position),
            Stored::Text(events) => events.last().map(|e| e.position),
        }
    }

    /// Events as text, from a SQL store.
    #[cfg_attr(not(feature = "sql"), allow(dead_code))]
    pub(crate) fn text(events: Vec<StoredText>) -> Self {
        Self(Stored::Text(events))
    }
}
