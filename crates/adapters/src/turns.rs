//! Calls to the store that take turns and share one another's outcome: the
//! reads of the log's head (`Repository::log_head`) and the read models'
//! catch-ups (`Projector::catch_up`).
//!
//! A caller that finds, when its turn comes, that a call which *started
//! after it arrived* has ended, takes that call's outcome instead of asking
//! the store again: that call began after everything the caller had
//! committed before calling, so what it read or applied covers the caller's
//! own commits. Many callers at once cost one call, not one each.
//!
//! The same holds for a call that found the store unreachable (no
//! connection within the pool's wait, the connection's I/O failed:
//! [`ServiceError::store_unreachable`]): the callers that waited behind it
//! hear the same at once. Otherwise, with the store gone, each of them would
//! wait in its turn for the pool's timeout (10 s) and fail the same way, one
//! after another: the last of eight waited 80 s, past any request's
//! deadline. A caller still waits out the call under way when it arrived
//! (which cannot answer for it) and may then make its own: at most two of
//! the pool's waits. Every other error is the caller's own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::error::ServiceError;

/// What [`Turns::take`] answers: the caller's own call's outcome, or that of
/// a call that started after the caller arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Taken<T> {
    /// The caller's own call ran.
    Own(T),
    /// A call that started after the caller arrived ran to its end.
    Shared(T),
}

impl<T> Taken<T> {
    /// The value, own or shared.
    pub(crate) fn value(self) -> T {
        match self {
            Self::Own(value) | Self::Shared(value) => value,
        }
    }
}

/// One store call at a time; see the module's text.
#[derive(Default)]
pub(crate) struct Turns<T> {
    turn: tokio::sync::Mutex<()>,
    /// Calls started so far: the number of the latest one.
    started: AtomicU64,
    /// The latest call that ended without an error: its number and answer.
    succeeded: Mutex<Option<(u64, T)>>,
    /// The latest call that found the store unreachable: its number and
    /// the store's error, as text.
    unreachable: Mutex<Option<(u64, String)>>,
}

impl<T: Clone> Turns<T> {
    /// Runs `call` when its turn comes, unless a call that started after
    /// this one arrived has ended meanwhile: then its answer, or, if it
    /// found the store unreachable, [`ServiceError::Unavailable`] with the
    /// store's error (as text). Any other error is the caller's own and not
    /// shared.
    pub(crate) async fn take<F>(&self, call: F) -> Result<Taken<T>, ServiceError>
    where
        F: std::future::Future<Output = Result<T, ServiceError>>,
    {
        let arrived = self.started.load(Ordering::SeqCst);
        let _turn = self.turn.lock().await;
        if let Some((number, answer)) = &*self.succeeded.lock().expect("not poisoned") {
            if *number > arrived {
                return Ok(Taken::Shared(answer.clone()));
            }
        }
        if let Some((number, error)) = &*self.unreachable.lock().expect("not poisoned") {
            if *number > arrived {
                return Err(ServiceError::Unavailable(error.clone().into()));
            }
        }
        let number = self.started.fetch_add(1, Ordering::SeqCst) + 1;
        match call.await {
            Ok(answer) => {
                *self.succeeded.lock().expect("not poisoned") = Some((number, answer.clone()));
                Ok(Taken::Own(answer))
            }
            Err(error) => {
                // Only an `Unavailable` is ever unreachable.
                if let (true, ServiceError::Unavailable(source)) =
                    (error.store_unreachable(), &error)
                {
                    *self.unreachable.lock().expect("not poisoned") =
                        Some((number, source.to_string()));
                }
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    use std::time::Duration;

    use super::Turns;

    /// Each caller "commits" (moves the log on) then asks for the head: the
    /// answer it gets, its own read's or a shared one, was read after its
    /// commit, and callers at once share reads.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_shared_answer_was_read_after_the_callers_commit() {
        let turns = Arc::new(Turns::<i64>::default());
        let log = Arc::new(AtomicI64::new(0));
        let reads = Arc::new(AtomicUsize::new(0));
        let callers = 64;
        let mut tasks = Vec::new();
        for _ in 0..callers {
            let (turns, log, reads) = (turns.clone(), log.clone(), reads.clone());
            tasks.push(tokio::spawn(async move {
                let mine = log.fetch_add(1, SeqCst) + 1;
                let head = turns
                    .take(async {
                        reads.fetch_add(1, SeqCst);
                        let head = log.load(SeqCst);
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        Ok(head)
                    })
                    .await
                    .unwrap()
                    .value();
                assert!(head >= mine, "head {head} read before the commit of {mine}");
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let reads = reads.load(SeqCst);
        assert!(reads < callers, "{reads} reads for {callers} callers");
    }
}

/// What a call that found the store unreachable shares (ADR 0020).
#[cfg(all(test, feature = "sql"))]
mod unreachable {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    use std::time::Duration;

    use super::{Taken, Turns};
    use crate::error::ServiceError;

    /// A call to the store, counted, that takes `wait` of the paused clock
    /// and fails as the store gone away does, or answers `answer`.
    async fn call(
        calls: &AtomicUsize,
        wait: Duration,
        answer: Option<i64>,
    ) -> Result<i64, ServiceError> {
        calls.fetch_add(1, SeqCst);
        tokio::time::sleep(wait).await;
        answer.ok_or_else(|| ServiceError::Unavailable(Box::new(sqlx::Error::PoolTimedOut)))
    }

    /// With the store gone, the callers queued behind a call that found it
    /// so hear it at once, instead of each waiting out the pool's timeout
    /// in turn; a caller that arrives afterwards asks the store itself.
    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn callers_queued_behind_an_unavailable_store_hear_it_at_once() {
        let turns = Arc::new(Turns::<i64>::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let timeout = Duration::from_secs(10);
        // The first caller holds the turn, its call under way.
        let first = {
            let (turns, calls) = (turns.clone(), calls.clone());
            tokio::spawn(async move { turns.take(call(&calls, timeout, None)).await })
        };
        tokio::task::yield_now().await;
        // Seven more queue behind it.
        let started = tokio::time::Instant::now();
        let queued: Vec<_> = (0..7)
            .map(|_| {
                let (turns, calls) = (turns.clone(), calls.clone());
                tokio::spawn(async move {
                    let answer = turns.take(call(&calls, timeout, None)).await;
                    (answer, started.elapsed())
                })
            })
            .collect();
        assert!(matches!(
            first.await.unwrap(),
            Err(ServiceError::Unavailable(_))
        ));
        for task in queued {
            let (answer, waited) = task.await.unwrap();
            match answer {
                Err(ServiceError::Unavailable(error)) => {
                    assert_eq!(error.to_string(), sqlx::Error::PoolTimedOut.to_string());
                }
                other => panic!("{other:?}"),
            }
            // The first call's wait, and the one call started after them.
            assert!(waited <= 2 * timeout, "answered after {waited:?}");
        }
        // The first caller's call, and one started after the others came.
        assert_eq!(calls.load(SeqCst), 2);
        // The store is back: a caller arriving now asks it.
        let back = turns.take(call(&calls, Duration::ZERO, Some(7))).await;
        assert!(matches!(back, Ok(Taken::Own(7))));
        assert_eq!(calls.load(SeqCst), 3);
    }

    /// Only the store's unreachability is shared: another error (a corrupt
    /// row, a statement the database refused) is the caller's own, and a
    /// caller queued behind it makes its own call.
    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn other_errors_are_not_shared() {
        let refused = || {
            ServiceError::Unavailable(Box::new(sqlx::Error::Protocol("deadlock detected".into())))
        };
        let corrupt = || ServiceError::Corrupt("a row".into());
        for error in [refused as fn() -> ServiceError, corrupt] {
            let turns = Arc::new(Turns::<i64>::default());
            let calls = Arc::new(AtomicUsize::new(0));
            let failing = move |calls: Arc<AtomicUsize>| async move {
                calls.fetch_add(1, SeqCst);
                tokio::time::sleep(Duration::from_secs(1)).await;
                Err::<i64, _>(error())
            };
            let first = {
                let (turns, calls) = (turns.clone(), calls.clone());
                tokio::spawn(async move { turns.take(failing(calls)).await })
            };
            tokio::task::yield_now().await;
            // The second's call starts after the third arrives, and fails.
            let second = {
                let (turns, calls) = (turns.clone(), calls.clone());
                tokio::spawn(async move { turns.take(failing(calls)).await })
            };
            let third = {
                let (turns, calls) = (turns.clone(), calls.clone());
                tokio::spawn(async move { turns.take(call(&calls, Duration::ZERO, Some(3))).await })
            };
            for task in [first, second] {
                let failed = task.await.unwrap();
                assert_eq!(failed.unwrap_err().code(), error().code());
            }
            assert!(matches!(third.await.unwrap(), Ok(Taken::Own(3))));
            // Each of the three made its own call.
            assert_eq!(calls.load(SeqCst), 3);
        }
    }
}
