//! An in-memory event repository for embedding and tests: quiet (unlike
//! cqrs-es's `MemStore`), with the same optimistic concurrency as the SQL
//! stores and a global position in commit order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use cqrs_es::persist::{PersistenceError, SerializedEvent};

use crate::error::ServiceError;
use crate::store::{EventStore, Held, Positioned, StoredEvents};

#[derive(Default)]
struct Log {
    events: Vec<SerializedEvent>,
    checkpoints: HashMap<String, i64>,
    /// (aggregate type, id) → indexes into `events`.
    streams: HashMap<(String, String), Vec<usize>>,
}

/// The in-memory event store (`memory:`), for embedding and tests: its
/// positions have no gaps. Cloning shares it.
#[derive(Clone, Default)]
pub struct MemoryStore {
    log: Arc<Mutex<Log>>,
}

impl MemoryStore {
    /// A new, empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn stream(&self, aggregate_type: &str, aggregate_id: &str) -> Vec<SerializedEvent> {
        let log = self.log.lock().expect("memory log poisoned");
        log.streams
            .get(&(aggregate_type.to_owned(), aggregate_id.to_owned()))
            .map(|ix| ix.iter().map(|i| log.events[*i].clone()).collect())
            .unwrap_or_default()
    }

    fn append(&self, events: &[SerializedEvent]) -> Result<(), PersistenceError> {
        let mut log = self.log.lock().expect("memory log poisoned");
        // All or nothing: every event must take the next free sequence.
        let mut next: HashMap<(String, String), usize> = HashMap::new();
        for e in events {
            let key = (e.aggregate_type.clone(), e.aggregate_id.clone());
            let expected = *next
                .entry(key.clone())
                .or_insert_with(|| log.streams.get(&key).map_or(0, Vec::len) + 1);
            if e.sequence != expected {
                return Err(PersistenceError::OptimisticLockError);
            }
            next.insert(key, expected + 1);
        }
        for e in events {
            let ix = log.events.len();
            log.events.push(e.clone());
            log.streams
                .entry((e.aggregate_type.clone(), e.aggregate_id.clone()))
                .or_default()
                .push(ix);
        }
        Ok(())
    }

    /// Events after `after` (a position), at most `limit`, in commit order.
    fn read_log(&self, after: i64, limit: usize) -> Vec<Positioned> {
        let log = self.log.lock().expect("memory log poisoned");
        let start = usize::try_from(after.max(0)).unwrap_or(usize::MAX);
        log.events
            .iter()
            .enumerate()
            .skip(start)
            .take(limit)
            .map(|(i, e)| Positioned {
                position: i as i64 + 1,
                event: e.clone(),
            })
            .collect()
    }

    fn all_of_type(&self, aggregate_type: &str) -> Vec<SerializedEvent> {
        let log = self.log.lock().expect("memory log poisoned");
        log.events
            .iter()
            .filter(|e| e.aggregate_type == aggregate_type)
            .cloned()
            .collect()
    }

    fn checkpoint(&self, name: &str) -> i64 {
        let log = self.log.lock().expect("memory log poisoned");
        log.checkpoints.get(name).copied().unwrap_or(0)
    }

    fn save_checkpoint(&self, name: &str, position: i64) {
        let mut log = self.log.lock().expect("memory log poisoned");
        log.checkpoints.insert(name.to_owned(), position);
    }
}

/// In memory there is no connection to hold, no pool and no read side of
/// its own (`ReadSide::open` makes one), and every commit is as durable as
/// it gets: the port's defaults.
#[async_trait]
impl EventStore for MemoryStore {
    async fn stream(
        &self,
        _: Option<&Held>,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        Ok(MemoryStore::stream(self, aggregate_type, aggregate_id))
    }

    async fn append(
        &self,
        _: Option<&Held>,
        events: &[SerializedEvent],
        _durable: bool,
    ) -> Result<(), PersistenceError> {
        MemoryStore::append(self, events)
    }

    async fn read_log(&self, after: i64, limit: usize) -> Result<StoredEvents, ServiceError> {
        Ok(MemoryStore::read_log(self, after, limit).into())
    }

    async fn events_of_type(
        &self,
        aggregate_type: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        Ok(self.all_of_type(aggregate_type))
    }

    async fn log_head(&self) -> Result<i64, ServiceError> {
        let log = self.log.lock().expect("memory log poisoned");
        Ok(i64::try_from(log.events.len()).unwrap_or(i64::MAX))
    }

    async fn checkpoint(&self, name: &str) -> Result<i64, ServiceError> {
        Ok(MemoryStore::checkpoint(self, name))
    }

    async fn save_checkpoint(&self, name: &str, position: i64) -> Result<(), ServiceError> {
        MemoryStore::save_checkpoint(self, name, position);
        Ok(())
    }
}
