//! The projector: the read models and the outbox, written from the event log.
//!
//! cqrs-es runs its queries in-process right after a commit: a crash in
//! between loses the update for good, and there is no order across
//! aggregates. Here, instead, the [`Projector`] reads the log
//! ([`Repository::read_events`]: every event with its global position, in
//! commit order) from its checkpoint, and for each batch, in one transaction
//! of the database that holds the events:
//! 1. reads the rows the batch's events name, one query per table;
//! 2. applies each event to those rows in memory (`apply.rs`); each row
//!    keeps the position of the last event applied to it and ignores events
//!    at or below it, so an event applied twice changes nothing;
//! 3. gathers the events' notifications (N1–N6, the domain's policy) for the
//!    outbox, one row per idempotency key (`ON CONFLICT DO NOTHING`);
//! 4. writes the changed rows, the audit rows and the outbox back, one
//!    multi-row statement per table (the outbox's writes folded into one
//!    per key first), then saves the checkpoint.
//!
//! So a batch costs a handful of statements, not a few per event: see
//! `SideTx` in `crate::readside`. While one batch is written, a task of its
//! own reads and decodes the next ones ([`Projector::catch_up`]).
//!
//! A crash anywhere before the commit loses the whole batch, checkpoint
//! included, and the next run applies it again: the read models are exact,
//! whatever fails between commit and projection. On PostgreSQL only
//! committed events get positions, one numberer at a time, each above every
//! earlier one, so a reader never sees a position before every lower one is
//! visible: no event is skipped, however slow the transaction that wrote it
//! (see `docs/READ-MODELS.md`).
//!
//! [`Projector::rebuild`] empties every read model and replays the log from
//! the start into them; its result equals the live one. The outbox, the
//! calendar notices and the documents are not read models: a rebuild leaves
//! them alone (it must not send anything again).
//!
//! The queries, the same on every store, are in [`ReadModels`].

mod apply;
mod read_models;
mod views;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use cqrs_es::persist::EventUpcaster;
use deleghe_domain::notification::Contact;
use deleghe_domain::{FiscalCode, Policy};
use tokio::sync::mpsc;

pub use read_models::{QueryError, ReadModelDump, ReadModels};
pub use views::{BookingView, DelegationView, NoticeView, SlotAvailability, WaitingRoomEntry};

pub use crate::readside::{AuditEntry, OutboxEntry};

use crate::error::ServiceError;
use crate::events::LoggedEvent;
use crate::readside::{HeldSide, ReadSide};
use crate::repository::Repository;

/// The checkpoint name of the projector (in the read side's own table).
pub const CHECKPOINT: &str = "projector";

/// N4: how citizens can be reached, for the notices of delegations. The
/// policy tells grantor and delegate only where a contact is known.
pub trait Contacts: Send + Sync {
    fn contact(&self, citizen: &FiscalCode) -> Option<Contact>;
}

/// Nobody's contacts are known: delegations notify no one (bookings still
/// notify the phone given with them, N1–N3, and the booker in IO, N5).
pub struct NoContacts;

impl Contacts for NoContacts {
    fn contact(&self, _: &FiscalCode) -> Option<Contact> {
        None
    }
}

impl Contacts for HashMap<FiscalCode, Contact> {
    fn contact(&self, citizen: &FiscalCode) -> Option<Contact> {
        self.get(citizen).cloned()
    }
}

/// A test hook: asked after each event is applied, before the batch commits;
/// `true` abandons the batch there, as a crash would.
pub type ProjectorFailpoint = Arc<dyn Fn(i64) -> bool + Send + Sync>;

/// Reads the log from its checkpoint into the read models and the outbox.
pub struct Projector {
    repository: Repository,
    side: ReadSide,
    upcasters: Arc<Vec<Box<dyn EventUpcaster>>>,
    policy: Policy,
    contacts: Arc<dyn Contacts>,
    batch: usize,
    failpoint: Option<ProjectorFailpoint>,
    times: Mutex<ProjectorTimes>,
}

/// Where a projector's time went, summed over the batches it wrote (live
/// and replayed): what `deleghe-load` prints after a catch-up, and what an
/// embedder can export as metrics ([`Projector::times`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProjectorTimes {
    /// Batches written.
    pub batches: u64,
    /// Events applied.
    pub events: u64,
    /// Waiting for the log to be read and decoded (by the read-ahead).
    pub waiting_for_log: Duration,
    /// Beginning the transaction and taking the checkpoint.
    pub begin: Duration,
    /// Reading the rows the batch names.
    pub prefetch: Duration,
    /// Applying the events to the rows in memory, notifications included.
    pub apply: Duration,
    /// Writing rows, audit and outbox back.
    pub write: Duration,
    /// Saving the checkpoint and committing.
    pub commit: Duration,
}

impl std::ops::AddAssign for ProjectorTimes {
    fn add_assign(&mut self, other: Self) {
        self.batches += other.batches;
        self.events += other.events;
        self.waiting_for_log += other.waiting_for_log;
        self.begin += other.begin;
        self.prefetch += other.prefetch;
        self.apply += other.apply;
        self.write += other.write;
        self.commit += other.commit;
    }
}

impl ProjectorTimes {
    /// The sum of the parts.
    pub fn total(&self) -> Duration {
        self.waiting_for_log + self.begin + self.prefetch + self.apply + self.write + self.commit
    }
}

impl Projector {
    /// A projector of `repository`'s log into `side` (opened from the same
    /// repository), decoding with `upcasters` (`crate::upcast::upcasters()`).
    pub fn new(
        repository: Repository,
        side: ReadSide,
        upcasters: Vec<Box<dyn EventUpcaster>>,
        policy: Policy,
    ) -> Self {
        Self {
            repository,
            side,
            upcasters: Arc::new(upcasters),
            policy,
            contacts: Arc::new(NoContacts),
            batch: 1024,
            failpoint: None,
            times: Mutex::new(ProjectorTimes::default()),
        }
    }

    /// N4: where the notices of delegations go.
    pub fn with_contacts(mut self, contacts: Arc<dyn Contacts>) -> Self {
        self.contacts = contacts;
        self
    }

    /// Events per transaction at most (at least 1; 1,024 by default).
    pub fn with_batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// Tests only: abandon a batch where `failpoint` says, as a crash would.
    pub fn with_failpoint(mut self, failpoint: ProjectorFailpoint) -> Self {
        self.failpoint = Some(failpoint);
        self
    }

    /// Where this projector's time went so far.
    pub fn times(&self) -> ProjectorTimes {
        *self.times.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn add_times(&self, batch: ProjectorTimes) {
        *self.times.lock().unwrap_or_else(PoisonError::into_inner) += batch;
    }

    /// The position the read models have applied.
    pub async fn checkpoint(&self) -> Result<i64, ServiceError> {
        self.side.checkpoint(CHECKPOINT).await
    }

    /// Applies up to one batch of events after the checkpoint, in one
    /// transaction with the new checkpoint; returns how many.
    pub async fn step(&self) -> Result<usize, ServiceError> {
        loop {
            let from = self.side.checkpoint(CHECKPOINT).await?;
            let events = read(&self.repository, &self.upcasters, from, self.batch).await?;
            if events.is_empty() {
                return Ok(0);
            }
            if self
                .write(&mut self.side.hold().await?, from, &events)
                .await?
            {
                return Ok(events.len());
            }
            // Another projector applied this batch meanwhile: read on from
            // where it got.
        }
    }

    /// Applies every event stored so far; returns how many.
    ///
    /// The log is read ahead ([`READ_AHEAD`] batches, read and decoded by a
    /// task of their own) while each batch is applied and written, so the
    /// reading of the log and the writing of the read models overlap.
    pub async fn catch_up(&self) -> Result<usize, ServiceError> {
        let mut total = 0;
        // One connection for every batch (`ReadSide::hold`); the in-memory
        // read side has no other.
        let mut held = self.side.hold().await?;
        'from_checkpoint: loop {
            let mut from = held.checkpoint(CHECKPOINT).await?;
            let mut batches = self.read_ahead(from, None);
            loop {
                let waiting = Instant::now();
                let Some(events) = batches.recv().await else {
                    break;
                };
                self.add_times(ProjectorTimes {
                    waiting_for_log: waiting.elapsed(),
                    ..ProjectorTimes::default()
                });
                let events = events?;
                if !self.write(&mut held, from, &events).await? {
                    // Another projector got further: start again from
                    // where it got (dropping `batches` ends the reader).
                    continue 'from_checkpoint;
                }
                from = events.last().map_or(from, |e| e.position);
                total += events.len();
            }
            return Ok(total);
        }
    }

    /// Applies `events`, the batch after `from`, and the checkpoint after
    /// them, in one transaction; `false` (and nothing written) if the
    /// checkpoint is no longer `from`.
    async fn write(
        &self,
        held: &mut HeldSide,
        from: i64,
        events: &[LoggedEvent],
    ) -> Result<bool, ServiceError> {
        let Some(last) = events.last().map(|e| e.position) else {
            return Ok(true);
        };
        let mut clock = Lap::start();
        let mut times = ProjectorTimes {
            batches: 1,
            events: events.len() as u64,
            ..ProjectorTimes::default()
        };
        let mut tx = held.begin().await?;
        if tx.lock_checkpoint(CHECKPOINT).await? != from {
            // The dropped transaction rolls back.
            return Ok(false);
        }
        times.begin = clock.lap();
        let cx = apply::Context {
            policy: &self.policy,
            contacts: &*self.contacts,
            outbox: true,
        };
        tx.prefetch(apply::row_keys(events)).await?;
        times.prefetch = clock.lap();
        for event in events {
            apply::apply(&mut tx, event, &cx).await?;
            if self
                .failpoint
                .as_ref()
                .is_some_and(|stop| stop(event.position))
            {
                return Err(ServiceError::Unavailable("stopped at a failpoint".into()));
            }
        }
        times.apply = clock.lap();
        tx.flush().await?;
        times.write = clock.lap();
        tx.save_checkpoint(CHECKPOINT, last).await?;
        tx.commit().await?;
        times.commit = clock.lap();
        self.add_times(times);
        Ok(true)
    }

    /// Drops every read model and replays the log into them from the start,
    /// then catches up. Returns how many events were replayed.
    ///
    /// The events up to the checkpoint are replayed in one transaction that
    /// holds the checkpoint (readers see the old rows until it commits), with
    /// the outbox left alone: their notifications were written when they
    /// were first projected, and some were sent. The events after the
    /// checkpoint are then projected as usual, notifications included.
    /// Memory holds a few batches at a time, whatever the log's length.
    pub async fn rebuild(&self) -> Result<usize, ServiceError> {
        let mut held = self.side.hold().await?;
        let mut tx = held.begin().await?;
        let upto = tx.lock_checkpoint(CHECKPOINT).await?;
        tx.clear_read_models().await?;
        let cx = apply::Context {
            policy: &self.policy,
            contacts: &*self.contacts,
            outbox: false,
        };
        let mut replayed = 0;
        let mut batches = self.read_ahead(0, Some(upto));
        // Batch by batch, as live: the rows of one batch in memory at a
        // time, written before the next batch reads them.
        let mut clock = Lap::start();
        while let Some(events) = batches.recv().await {
            let events = events?;
            let mut times = ProjectorTimes {
                batches: 1,
                events: events.len() as u64,
                waiting_for_log: clock.lap(),
                ..ProjectorTimes::default()
            };
            tx.prefetch(apply::row_keys(&events)).await?;
            times.prefetch = clock.lap();
            for event in &events {
                apply::apply(&mut tx, event, &cx).await?;
            }
            times.apply = clock.lap();
            tx.flush().await?;
            times.write = clock.lap();
            self.add_times(times);
            replayed += events.len();
        }
        tx.commit().await?;
        self.add_times(ProjectorTimes {
            commit: clock.lap(),
            ..ProjectorTimes::default()
        });
        drop(held);
        Ok(replayed + self.catch_up().await?)
    }

    /// Runs until `shutdown` turns true, polling the log every `every`.
    pub async fn run(self, every: Duration, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        loop {
            match self.catch_up().await {
                Ok(n) if n > 0 => tracing::debug!(events = n, "projector caught up"),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "projector will retry"),
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => {
                    if *shutdown.borrow() {
                        return;
                    }
                }
            }
        }
    }

    /// Reads the log after `from` (up to `upto`, if given) in batches, by
    /// a task of its own that keeps [`READ_AHEAD`] batches ready. It stops
    /// at the end of the log, at the first error (sent as the last item), or
    /// when the receiver is dropped.
    fn read_ahead(
        &self,
        from: i64,
        upto: Option<i64>,
    ) -> mpsc::Receiver<Result<Vec<LoggedEvent>, ServiceError>> {
        let (sender, receiver) = mpsc::channel(READ_AHEAD);
        let repository = self.repository.clone();
        let upcasters = Arc::clone(&self.upcasters);
        let batch = self.batch;
        tokio::spawn(async move {
            let mut after = from;
            loop {
                let limit = match upto {
                    Some(upto) if after >= upto => return,
                    Some(upto) => usize::try_from(upto - after).map_or(batch, |n| n.min(batch)),
                    None => batch,
                };
                // Decoded on a blocking thread: a batch is milliseconds of
                // CPU with no await, which on an async worker would hold up
                // the tasks queued behind it there (the writer's among them).
                let upcasters = Arc::clone(&upcasters);
                let read = match repository.read_stored(after, limit).await {
                    Ok(stored) => tokio::task::spawn_blocking(move || stored.decode(&upcasters))
                        .await
                        .unwrap_or_else(|e| Err(ServiceError::Unavailable(Box::new(e)))),
                    Err(e) => Err(e),
                };
                let mut events = match read {
                    Ok(events) => events,
                    Err(error) => {
                        let _ = sender.send(Err(error)).await;
                        return;
                    }
                };
                let Some(last) = events.last().map(|e| e.position) else {
                    return;
                };
                if let Some(upto) = upto {
                    events.retain(|e| e.position <= upto);
                }
                if events.is_empty() || sender.send(Ok(events)).await.is_err() {
                    return;
                }
                after = last;
            }
        });
        receiver
    }
}

/// Time since the last lap.
struct Lap(Instant);

impl Lap {
    fn start() -> Self {
        Self(Instant::now())
    }

    fn lap(&mut self) -> Duration {
        let now = Instant::now();
        now - std::mem::replace(&mut self.0, now)
    }
}

/// How many batches the projector reads ahead of the one it writes.
const READ_AHEAD: usize = 2;

async fn read(
    repository: &Repository,
    upcasters: &[Box<dyn EventUpcaster>],
    after: i64,
    limit: usize,
) -> Result<Vec<LoggedEvent>, ServiceError> {
    repository.read_events(after, limit, upcasters).await
}
