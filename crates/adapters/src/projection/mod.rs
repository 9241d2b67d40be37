//! The projector: the read models and the outbox, written from the event log.
//!
//! cqrs-es runs its queries in-process right after a commit: a crash in
//! between loses the update for good, and there is no order across
//! aggregates. Here, instead, the [`Projector`] reads the log
//! ([`Repository::read_log`]: every event with its global position, in commit
//! order) from its checkpoint, and for each batch, in one transaction of the
//! database that holds the events:
//! 1. reads the rows the batch's events name, one query per table;
//! 2. applies each event to those rows in memory (`apply.rs`); each row
//!    keeps the position of the last event applied to it and ignores events
//!    at or below it, so an event applied twice changes nothing;
//! 3. gathers the events' notifications (N1–N6, the domain's policy) for the
//!    outbox, one row per idempotency key (`ON CONFLICT DO NOTHING`);
//! 4. writes the changed rows, the audit rows and the outbox back, one
//!    multi-row statement per table (the outbox's schedules and withdrawals
//!    in rounds that keep each key's order), then saves the checkpoint.
//!
//! So a batch costs a handful of statements, not a few per event: see
//! `SideTx` in `crate::readside`.
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
use std::sync::Arc;
use std::time::Duration;

use cqrs_es::persist::EventUpcaster;
use deleghe_domain::notification::Contact;
use deleghe_domain::{FiscalCode, Policy};

pub use read_models::{QueryError, ReadModelDump, ReadModels};
pub use views::{BookingView, DelegationView, NoticeView, SlotAvailability, WaitingRoomEntry};

pub use crate::readside::{AuditEntry, OutboxEntry};

use crate::error::ServiceError;
use crate::events::{decode, LoggedEvent};
use crate::readside::ReadSide;
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
    upcasters: Vec<Box<dyn EventUpcaster>>,
    policy: Policy,
    contacts: Arc<dyn Contacts>,
    batch: usize,
    failpoint: Option<ProjectorFailpoint>,
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
            upcasters,
            policy,
            contacts: Arc::new(NoContacts),
            batch: 256,
            failpoint: None,
        }
    }

    /// N4: where the notices of delegations go.
    pub fn with_contacts(mut self, contacts: Arc<dyn Contacts>) -> Self {
        self.contacts = contacts;
        self
    }

    /// Events per transaction (at least 1).
    pub fn with_batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// Tests only: abandon a batch where `failpoint` says, as a crash would.
    pub fn with_failpoint(mut self, failpoint: ProjectorFailpoint) -> Self {
        self.failpoint = Some(failpoint);
        self
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
            let events = self.read(from, self.batch).await?;
            let Some(last) = events.last().map(|e| e.position) else {
                return Ok(0);
            };
            let mut tx = self.side.begin().await?;
            if tx.lock_checkpoint(CHECKPOINT).await? != from {
                // Another projector applied this batch meanwhile: read on
                // from where it got (the dropped transaction rolls back).
                continue;
            }
            let cx = apply::Context {
                policy: &self.policy,
                contacts: &*self.contacts,
                outbox: true,
            };
            tx.prefetch(apply::row_keys(&events)).await?;
            for event in &events {
                apply::apply(&mut tx, event, &cx).await?;
                if self
                    .failpoint
                    .as_ref()
                    .is_some_and(|stop| stop(event.position))
                {
                    return Err(ServiceError::Unavailable("stopped at a failpoint".into()));
                }
            }
            tx.flush().await?;
            tx.save_checkpoint(CHECKPOINT, last).await?;
            tx.commit().await?;
            return Ok(events.len());
        }
    }

    /// Applies every event stored so far; returns how many.
    pub async fn catch_up(&self) -> Result<usize, ServiceError> {
        let mut total = 0;
        loop {
            let n = self.step().await?;
            total += n;
            if n == 0 {
                return Ok(total);
            }
        }
    }

    /// Drops every read model and replays the log into them from the start,
    /// then catches up. Returns how many events were replayed.
    ///
    /// The events up to the checkpoint are replayed in one transaction that
    /// holds the checkpoint (readers see the old rows until it commits), with
    /// the outbox left alone: their notifications were written when they
    /// were first projected, and some were sent. The events after the
    /// checkpoint are then projected as usual, notifications included.
    pub async fn rebuild(&self) -> Result<usize, ServiceError> {
        let replayed = loop {
            let upto = self.side.checkpoint(CHECKPOINT).await?;
            let mut events = Vec::new();
            let mut after = 0;
            while after < upto {
                let limit = usize::try_from(upto - after).map_or(self.batch, |n| n.min(self.batch));
                let batch = self.read(after, limit).await?;
                let Some(last) = batch.last().map(|e| e.position) else {
                    break;
                };
                after = last;
                events.extend(batch.into_iter().filter(|e| e.position <= upto));
            }
            let mut tx = self.side.begin().await?;
            if tx.lock_checkpoint(CHECKPOINT).await? != upto {
                continue;
            }
            tx.clear_read_models().await?;
            let cx = apply::Context {
                policy: &self.policy,
                contacts: &*self.contacts,
                outbox: false,
            };
            // Batch by batch, as live: the rows of one batch in memory at a
            // time, written before the next batch reads them.
            for batch in events.chunks(self.batch) {
                tx.prefetch(apply::row_keys(batch)).await?;
                for event in batch {
                    apply::apply(&mut tx, event, &cx).await?;
                }
                tx.flush().await?;
            }
            tx.commit().await?;
            break events.len();
        };
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

    async fn read(&self, after: i64, limit: usize) -> Result<Vec<LoggedEvent>, ServiceError> {
        self.repository
            .read_log(after, limit)
            .await?
            .into_iter()
            .map(|stored| decode(stored, &self.upcasters))
            .collect()
    }
}
