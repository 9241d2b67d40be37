//! Writers in turn, in the process, on a database that lets one writer in
//! at a time (SQLite; [`Dialect::ONE_WRITER`](super::Dialect::ONE_WRITER)).
//!
//! Left to the database, a writer that finds another writing sleeps in its
//! busy handler, a little longer at each try (SQLite's: 1, 2, 5, 10, 15,
//! 20, 25… ms), and may sleep on well after the lock is free: the database
//! idles while writers sleep, and the slowest of them wait tens of
//! milliseconds for a write of one. The store's writers instead queue for
//! a turn here, first come first served (tokio's mutex is fair), and each
//! starts as soon as the one before it ends. Writers of other processes
//! still meet this one in the busy handler, as before. A turn is held for
//! one append statement, or for a read-side transaction from its `BEGIN`
//! to its end.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, OwnedMutexGuard};

/// How long a writer waits for its turn: as long as SQLite's busy handler
/// waits for the lock (`busy_timeout`), so that a writer fails, and when, as
/// it would without the turns.
pub(crate) const TURN_TIMEOUT: Duration = Duration::from_secs(5);

/// The turns of one store's writers (clones share them).
#[derive(Clone, Default)]
pub(crate) struct WriteGate(Arc<Mutex<()>>);

/// A writer's turn, until dropped.
pub(crate) type Turn = OwnedMutexGuard<()>;

/// A writer waited past [`TURN_TIMEOUT`] for its turn.
#[derive(Debug, thiserror::Error)]
#[error("the database's one writer stayed busy for {0:?}; try again")]
pub(crate) struct WriterBusy(Duration);

impl WriteGate {
    /// Waits for this writer's turn, in the order the writers came.
    pub(crate) async fn turn(&self) -> Result<Turn, WriterBusy> {
        self.turn_within(TURN_TIMEOUT).await
    }

    async fn turn_within(&self, limit: Duration) -> Result<Turn, WriterBusy> {
        tokio::time::timeout(limit, Arc::clone(&self.0).lock_owned())
            .await
            .map_err(|_| WriterBusy(limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writers get their turns in the order they asked, one at a time, and
    /// one that waits past the limit is told the writer is busy.
    #[tokio::test]
    async fn writers_take_turns_in_the_order_they_came() {
        let gate = WriteGate::default();
        let first = gate.turn().await.unwrap();
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut waiting = Vec::new();
        for k in 0..4 {
            let (gate, order) = (gate.clone(), Arc::clone(&order));
            waiting.push(tokio::spawn(async move {
                let _turn = gate.turn().await.unwrap();
                order.lock().unwrap().push(k);
                tokio::task::yield_now().await;
            }));
            // Each one queued before the next asks.
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
        }
        assert!(order.lock().unwrap().is_empty(), "a turn while one is held");
        let busy = gate.turn_within(Duration::from_millis(20)).await;
        assert_eq!(
            busy.err().map(|e| e.to_string()),
            Some("the database's one writer stayed busy for 20ms; try again".to_owned())
        );
        drop(first);
        for task in waiting {
            task.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3]);
    }
}
