//! The event repository behind every aggregate's store, chosen at run time
//! from a URL: `memory:`, `sqlite://FILE` (the embedded default) or
//! `postgres://...`. All three run through cqrs-es's `PersistedEventStore`
//! in plain event-store mode (state rebuilt from events on every load: no
//! snapshot, so no double apply).

use std::sync::Arc;

use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use cqrs_es::Aggregate;
use serde_json::Value;

use crate::error::ServiceError;
use crate::memory::{MemoryRepository, Positioned};

/// The stores this library runs on.
pub enum Backend {
    Memory(MemoryRepository),
}

/// A shared handle on the backend; every aggregate's store holds one.
#[derive(Clone)]
pub struct Repository(pub(crate) Arc<Backend>);

impl Repository {
    pub fn memory() -> Self {
        Self(Arc::new(Backend::Memory(MemoryRepository::new())))
    }

    pub fn backend(&self) -> &Backend {
        &self.0
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
        match self.backend() {
            Backend::Memory(m) => Ok(m.read_log(after, limit)),
        }
    }

    /// The position a named reader (runner, projector, dispatcher) has handled.
    pub async fn checkpoint(&self, name: &str) -> Result<i64, ServiceError> {
        match self.backend() {
            Backend::Memory(m) => Ok(m.checkpoint(name)),
        }
    }

    pub async fn save_checkpoint(&self, name: &str, position: i64) -> Result<(), ServiceError> {
        match self.backend() {
            Backend::Memory(m) => {
                m.save_checkpoint(name, position);
                Ok(())
            }
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
        match self.backend() {
            Backend::Memory(m) => Ok(m.stream(A::TYPE, aggregate_id)),
        }
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        match self.backend() {
            Backend::Memory(m) => Ok(m
                .stream(A::TYPE, aggregate_id)
                .into_iter()
                .filter(|e| e.sequence > last_sequence)
                .collect()),
        }
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
        match self.backend() {
            Backend::Memory(m) => m.append(events),
        }
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        let events = self.get_events::<A>(aggregate_id).await?;
        replay(events).await
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        match self.backend() {
            Backend::Memory(m) => replay(m.all_of_type(A::TYPE)).await,
        }
    }
}

async fn replay(events: Vec<SerializedEvent>) -> Result<ReplayStream, PersistenceError> {
    let (mut feed, stream) = ReplayStream::new(events.len().max(1));
    for e in events {
        feed.push(Ok(e)).await?;
    }
    Ok(stream)
}
