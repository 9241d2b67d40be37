//! A store of an embedder's own, plugged into the rules through the public
//! port (`deleghe::adapters::store::EventStore`), and checked by the
//! conformance suite of `deleghe-testkit`.
//!
//! The store is a journal: one JSON line per event in a file, fsynced
//! before an append is acknowledged, with the checkpoints in a file beside
//! it; the index of streams is rebuilt in memory when the journal is
//! opened. It keeps no read side, so the read models live in memory and
//! are rebuilt from the journal on start.
//!
//! `cargo run --example custom_store` runs the conformance suite and says
//! so; `cargo test --examples` (the README's test command) runs it too.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use deleghe::adapters::store::{
    EventStore, Held, PersistenceError, Positioned, SerializedEvent, StoredEvents,
};
use deleghe::adapters::{Repository, ServiceError};
use deleghe_testkit::store::StoreUnderTest;
use serde_json::{json, Value};
use tokio::sync::Mutex;

/// The journal in a folder: `events.jsonl` and `checkpoints.json`.
#[derive(Clone)]
struct JournalStore {
    folder: PathBuf,
    state: Arc<Mutex<Journal>>,
}

#[derive(Default)]
struct Journal {
    events: Vec<SerializedEvent>,
    /// The next sequence of each stream.
    next: HashMap<(String, String), usize>,
    checkpoints: HashMap<String, i64>,
}

fn io(error: std::io::Error) -> ServiceError {
    ServiceError::Unavailable(Box::new(error))
}

fn persistence(error: impl std::error::Error + Send + Sync + 'static) -> PersistenceError {
    PersistenceError::UnknownError(Box::new(error))
}

impl JournalStore {
    /// Opens the journal in `folder`, creating it if missing.
    fn open(folder: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(folder)?;
        let mut journal = Journal::default();
        if let Ok(file) = File::open(folder.join("events.jsonl")) {
            for line in BufReader::new(file).lines() {
                let line: Value = serde_json::from_str(&line?)?;
                let event = SerializedEvent {
                    aggregate_type: line["aggregate_type"].as_str().unwrap_or("").to_owned(),
                    aggregate_id: line["aggregate_id"].as_str().unwrap_or("").to_owned(),
                    sequence: line["sequence"].as_u64().unwrap_or(0) as usize,
                    event_type: line["event_type"].as_str().unwrap_or("").to_owned(),
                    event_version: line["event_version"].as_str().unwrap_or("").to_owned(),
                    payload: line["payload"].clone(),
                    metadata: line["metadata"].clone(),
                };
                journal.next.insert(
                    (event.aggregate_type.clone(), event.aggregate_id.clone()),
                    event.sequence + 1,
                );
                journal.events.push(event);
            }
        }
        if let Ok(text) = std::fs::read_to_string(folder.join("checkpoints.json")) {
            journal.checkpoints = serde_json::from_str(&text)?;
        }
        Ok(Self {
            folder: folder.to_owned(),
            state: Arc::new(Mutex::new(journal)),
        })
    }
}

#[deleghe::adapters::gateway::async_trait]
impl EventStore for JournalStore {
    async fn stream(
        &self,
        _: Option<&Held>,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let journal = self.state.lock().await;
        Ok(journal
            .events
            .iter()
            .filter(|e| e.aggregate_type == aggregate_type && e.aggregate_id == aggregate_id)
            .cloned()
            .collect())
    }

    async fn append(
        &self,
        _: Option<&Held>,
        events: &[SerializedEvent],
        _durable: bool,
    ) -> Result<(), PersistenceError> {
        let mut journal = self.state.lock().await;
        // Optimistic concurrency: every event at its stream's next sequence,
        // or none stored.
        let mut next = HashMap::new();
        for e in events {
            let key = (e.aggregate_type.clone(), e.aggregate_id.clone());
            let expected = *next
                .entry(key.clone())
                .or_insert_with(|| journal.next.get(&key).copied().unwrap_or(1));
            if e.sequence != expected {
                return Err(PersistenceError::OptimisticLockError);
            }
            next.insert(key, expected + 1);
        }
        let mut lines = String::new();
        for e in events {
            let line = json!({
                "aggregate_type": e.aggregate_type, "aggregate_id": e.aggregate_id,
                "sequence": e.sequence, "event_type": e.event_type,
                "event_version": e.event_version, "payload": e.payload, "metadata": e.metadata,
            });
            lines.push_str(&line.to_string());
            lines.push('\n');
        }
        // Durable before acknowledged: every append is flushed.
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.folder.join("events.jsonl"))
            .map_err(persistence)?;
        file.write_all(lines.as_bytes()).map_err(persistence)?;
        file.sync_data().map_err(persistence)?;
        journal.events.extend_from_slice(events);
        journal.next.extend(next);
        Ok(())
    }

    async fn read_log(&self, after: i64, limit: usize) -> Result<StoredEvents, ServiceError> {
        let journal = self.state.lock().await;
        let start = usize::try_from(after.max(0)).unwrap_or(usize::MAX);
        let events: Vec<Positioned> = journal
            .events
            .iter()
            .enumerate()
            .skip(start)
            .take(limit)
            .map(|(i, event)| Positioned {
                position: i as i64 + 1,
                event: event.clone(),
            })
            .collect();
        Ok(events.into())
    }

    async fn events_of_type(
        &self,
        aggregate_type: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let journal = self.state.lock().await;
        Ok(journal
            .events
            .iter()
            .filter(|e| e.aggregate_type == aggregate_type)
            .cloned()
            .collect())
    }

    async fn log_head(&self) -> Result<i64, ServiceError> {
        Ok(self.state.lock().await.events.len() as i64)
    }

    async fn checkpoint(&self, name: &str) -> Result<i64, ServiceError> {
        Ok(self
            .state
            .lock()
            .await
            .checkpoints
            .get(name)
            .copied()
            .unwrap_or(0))
    }

    async fn save_checkpoint(&self, name: &str, position: i64) -> Result<(), ServiceError> {
        let mut journal = self.state.lock().await;
        journal.checkpoints.insert(name.to_owned(), position);
        let text = serde_json::to_string(&journal.checkpoints)
            .map_err(|e| ServiceError::Corrupt(Box::new(e)))?;
        // Written aside, then renamed over: a crash leaves the old file or
        // the new one.
        let partial = self.folder.join("checkpoints.json.partial");
        std::fs::write(&partial, text).map_err(io)?;
        std::fs::rename(&partial, self.folder.join("checkpoints.json")).map_err(io)?;
        Ok(())
    }
}

/// A journal in a new temporary folder; `reopen` opens the same folder
/// again, as a restarted process would.
fn new_folder() -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    std::env::temp_dir().join(format!(
        "deleghe-journal-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ))
}

fn reopen(folder: &Path) -> Repository {
    Repository::from_store(JournalStore::open(folder).expect("the journal opens"))
}

/// The conformance suite, each case on new journals.
async fn run() {
    deleghe_testkit::conformance::conformance(|| async {
        let folder = new_folder();
        let removed = folder.clone();
        StoreUnderTest::new(move || {
            let folder = folder.clone();
            async move { reopen(&folder) }
        })
        .on_remove(move || {
            let folder = removed.clone();
            async move {
                let _ = std::fs::remove_dir_all(folder);
            }
        })
    })
    .await;
}

#[tokio::main]
async fn main() {
    run().await;
    println!("the journal store passed the conformance suite");
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_journal_store_passes_the_conformance_suite() {
        super::run().await;
    }
}
