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

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use cqrs_es::persist::EventUpcaster;
use deleghe_domain::Policy;
use tokio::sync::mpsc;

pub use read_models::{QueryError, ReadModelDump, ReadModels};
pub use views::{BookingView, DelegationView, NoticeView, SlotAvailability, WaitingRoomEntry};

pub use crate::readside::{AuditEntry, Backlog, OutboxEntry, ReadSide};
pub(crate) use apply::event_at;

use crate::error::ServiceError;
use crate::events::LoggedEvent;
use crate::readside::{Batch, Cache, Checkpoint, HeldSide, WriteSet};
use crate::repository::Repository;
use crate::turns::Taken;

/// The checkpoint name of the projector (in the read side's own table).
pub const CHECKPOINT: &str = "projector";

/// A test hook: asked after each event is applied, before the batch commits;
/// `true` abandons the batch there, as a crash would.
pub type ProjectorFailpoint = Arc<dyn Fn(i64) -> bool + Send + Sync>;

/// Reads the log from its checkpoint into the read models and the outbox.
pub struct Projector {
    repository: Repository,
    side: ReadSide,
    upcasters: Arc<Vec<Box<dyn EventUpcaster>>>,
    policy: Policy,
    batch: usize,
    failpoint: Option<ProjectorFailpoint>,
    times: Mutex<ProjectorTimes>,
}

/// Where a projector's time went, summed over the batches it wrote (live
/// and replayed): what `deleghe-load` prints after a catch-up, and what an
/// embedder can export as metrics ([`Projector::times`]).
///
/// A pipelined catch-up ([`Projector::catch_up`]) reads and applies a batch
/// while the one before it is written: the phases of consecutive batches
/// overlap, and their sum exceeds the time the catch-up took.
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
    /// Applying the events to the rows in memory, notifications included,
    /// and encoding what changed.
    pub apply: Duration,
    /// Waiting for the batch before to be written (pipelined only).
    pub waiting_for_write: Duration,
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
        self.waiting_for_write += other.waiting_for_write;
        self.write += other.write;
        self.commit += other.commit;
    }
}

impl ProjectorTimes {
    /// The sum of the parts.
    pub fn total(&self) -> Duration {
        self.waiting_for_log
            + self.begin
            + self.prefetch
            + self.apply
            + self.waiting_for_write
            + self.write
            + self.commit
    }
}

impl Projector {
    /// A projector of `repository`'s log into `side` (opened from the same
    /// repository), decoding old events through the library's upcasters.
    pub fn new(repository: Repository, side: ReadSide, policy: Policy) -> Self {
        Self {
            repository,
            side,
            upcasters: Arc::new(crate::upcast::upcasters()),
            policy,
            batch: 1024,
            failpoint: None,
            times: Mutex::new(ProjectorTimes::default()),
        }
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
                .write_in_turn(&mut self.side.hold().await?, from, &events)
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
    /// Three things overlap: the log is read ahead (`READ_AHEAD` batches,
    /// read and decoded by a task of their own); each batch is applied in
    /// memory, its missing rows read on a connection of its own as
    /// committed, while the batch before it is written, by another task on
    /// another connection, in one transaction with its checkpoint. The rows
    /// a batch wrote are carried to the next one, which cannot read them
    /// before they commit. Each transaction first checks that the
    /// checkpoint, and the generation of the rows (bumped by
    /// [`Projector::rebuild`]), are still those the batch was applied on;
    /// if another projector moved either, everything applied ahead is
    /// dropped and the catch-up starts again from the stored rows. On the
    /// in-memory read side, which waits on no network (nothing to overlap),
    /// batches are applied and written in turn, in their transaction.
    ///
    /// Catch-ups through one [`ReadSide`] (and its clones) take turns, so
    /// that callers beyond the pool's size never wait on one another for
    /// connections. A caller that waited while a catch-up that started
    /// after its call ran to its end returns 0 at once: that one applied
    /// every event stored before the call. One that could not reach the
    /// store gives the callers that waited for it the same error at once,
    /// instead of each waiting out the pool's timeout in turn (ADR 0020).
    pub async fn catch_up(&self) -> Result<usize, ServiceError> {
        // A catch-up that started after this call and ended applied what
        // this call would have: nothing is left for this one.
        let turns = self.side.catch_up_turns();
        let taken = if self.side.pipelines() {
            turns.take(self.catch_up_pipelined()).await?
        } else {
            turns.take(self.catch_up_in_turn()).await?
        };
        Ok(match taken {
            Taken::Own(applied) => applied,
            Taken::Shared(_) => 0,
        })
    }

    /// [`Projector::catch_up`] with the applying of each batch overlapping
    /// the writing of the one before it.
    async fn catch_up_pipelined(&self) -> Result<usize, ServiceError> {
        let mut total = 0;
        // Held for every batch: sqlx pings a connection each time it goes
        // back to its pool (ADR 0005).
        let mut reader = self.side.hold().await?;
        let mut writer = Some(self.side.hold().await?);
        'from_checkpoint: loop {
            let start = reader.checkpoint(CHECKPOINT).await?;
            let mut from = start.position;
            let mut batches = self.read_ahead(from, None);
            let mut cache = Cache::default();
            // The batch being written: its events and its task.
            let mut writing: Option<(usize, Writing)> = None;
            loop {
                let waiting = Instant::now();
                let received = batches.recv().await;
                self.add_times(ProjectorTimes {
                    waiting_for_log: waiting.elapsed(),
                    ..ProjectorTimes::default()
                });
                let prepared = match received {
                    Some(Ok(events)) => self
                        .prepare(&mut reader, &mut cache, &events)
                        .await
                        .map(|set| Some((set, events.len(), events.last().map(|e| e.position)))),
                    Some(Err(error)) => Err(error),
                    None => Ok(None),
                };
                // The batch before must be written before this one is.
                if let Some((events, task)) = writing.take() {
                    let waiting = Instant::now();
                    let (conn, written) = task.finish().await?;
                    writer = Some(conn);
                    self.add_times(ProjectorTimes {
                        waiting_for_write: waiting.elapsed(),
                        ..ProjectorTimes::default()
                    });
                    match written? {
                        Some(times) => {
                            self.add_times(times);
                            total += events;
                        }
                        // Another projector got further, or rebuilt the
                        // rows: start again from where it left them
                        // (dropping `batches` ends the reader).
                        None => continue 'from_checkpoint,
                    }
                }
                let Some((set, events, Some(last))) = prepared? else {
                    return Ok(total);
                };
                let conn = writer.take().ok_or_else(|| {
                    ServiceError::Unavailable("the projector's writer was lost".into())
                })?;
                writing = Some((events, Writing::start(conn, start, from, last, set, events)));
                from = last;
            }
        }
    }

    /// [`Projector::catch_up`] one batch at a time, each read, applied and
    /// written in its transaction.
    async fn catch_up_in_turn(&self) -> Result<usize, ServiceError> {
        let mut total = 0;
        // One connection for every batch.
        let mut held = self.side.hold().await?;
        'from_checkpoint: loop {
            let mut from = held.checkpoint(CHECKPOINT).await?.position;
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
                if !self.write_in_turn(&mut held, from, &events).await? {
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

    /// Applies `events` in memory on the rows `cache` carries from the batch
    /// before, reading those it lacks on `reader` as committed, and returns
    /// what to write. The rows it named stay in `cache` for the next batch.
    async fn prepare(
        &self,
        reader: &mut HeldSide,
        cache: &mut Cache,
        events: &[LoggedEvent],
    ) -> Result<WriteSet, ServiceError> {
        let mut times = ProjectorTimes::default();
        let mut batch = reader.batch(cache);
        self.apply_batch(&mut batch, events, Live::Yes, &mut times)
            .await?;
        let (set, took) = timed(async { cache.write_set() }).await;
        cache.next_batch();
        times.apply += took;
        self.add_times(times);
        set
    }

    /// The core every path shares, live or replayed: reads the rows
    /// `events` touch (those the batch lacks) in one go, then applies each
    /// event to them in order, stopping at the failpoint, if any. Its two
    /// phases' times go to `times`.
    async fn apply_batch(
        &self,
        batch: &mut Batch<'_>,
        events: &[LoggedEvent],
        live: Live,
        times: &mut ProjectorTimes,
    ) -> Result<(), ServiceError> {
        let cx = apply::Context {
            policy: &self.policy,
            outbox: live == Live::Yes,
        };
        let (prefetched, took) = timed(batch.prefetch(apply::row_keys(events))).await;
        times.prefetch += took;
        prefetched?;
        let (applied, took) = timed(async {
            for event in events {
                apply::apply(batch, event, &cx).await?;
                self.stop_at_failpoint(event)?;
            }
            Ok(())
        })
        .await;
        times.apply += took;
        applied
    }

    fn stop_at_failpoint(&self, event: &LoggedEvent) -> Result<(), ServiceError> {
        if self
            .failpoint
            .as_ref()
            .is_some_and(|stop| stop(event.position))
        {
            return Err(ServiceError::Unavailable("stopped at a failpoint".into()));
        }
        Ok(())
    }

    /// Applies `events`, the batch after `from`, and the checkpoint after
    /// them, in one transaction; `false` (and nothing written) if the
    /// checkpoint is no longer `from`.
    async fn write_in_turn(
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
        if tx.lock_checkpoint(CHECKPOINT).await?.position != from {
            // The dropped transaction rolls back.
            return Ok(false);
        }
        times.begin = clock.lap();
        self.apply_batch(&mut tx.batch(), events, Live::Yes, &mut times)
            .await?;
        clock.lap();
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
    /// Memory holds a few batches at a time, whatever the log's length. The
    /// rebuild counts itself in the checkpoint's generation, so that a
    /// projector catching up meanwhile drops the rows it carries.
    pub async fn rebuild(&self) -> Result<usize, ServiceError> {
        let mut held = self.side.hold().await?;
        let mut tx = held.begin().await?;
        let upto = tx.lock_checkpoint(CHECKPOINT).await?.position;
        tx.next_generation(CHECKPOINT).await?;
        tx.clear_read_models().await?;
        let mut replayed = 0;
        let mut batches = self.read_ahead(0, Some(upto));
        // Batch by batch, as live: the rows of one batch in memory at a
        // time, written before the next batch reads them; the outbox is
        // left alone.
        let mut clock = Lap::start();
        while let Some(events) = batches.recv().await {
            let events = events?;
            let mut times = ProjectorTimes {
                batches: 1,
                events: events.len() as u64,
                waiting_for_log: clock.lap(),
                ..ProjectorTimes::default()
            };
            self.apply_batch(&mut tx.batch(), &events, Live::No, &mut times)
                .await?;
            clock.lap();
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

    /// Runs until `shutdown` turns true: catches up as soon as an append is
    /// made through its repository (or a clone) in this process, and every
    /// `every` for the appends of other processes.
    pub async fn run(self, every: Duration, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let appended = Arc::clone(self.repository.appended());
        loop {
            // Listening before the catch-up: an append during it wakes the
            // next turn at once instead of waiting for the poll.
            let notified = appended.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.catch_up().await {
                Ok(n) if n > 0 => tracing::debug!(events = n, "projector caught up"),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "projector will retry"),
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = &mut notified => {}
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

/// Whether a batch is projected live (its notifications go to the outbox)
/// or replayed by a rebuild (they were written when it was live).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Live {
    Yes,
    No,
}

/// `work`'s output, and how long it took.
async fn timed<T>(work: impl std::future::Future<Output = T>) -> (T, Duration) {
    let started = Instant::now();
    let output = work.await;
    (output, started.elapsed())
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

/// A batch being written by a task of its own, on the connection it took.
struct Writing(tokio::task::JoinHandle<(HeldSide, WriteResult)>);

/// A batch's timing once written; `None` if the checkpoint had moved.
type WriteResult = Result<Option<ProjectorTimes>, ServiceError>;

impl Writing {
    /// Writes `set`, the batch after `from` up to `last` (`events` events),
    /// in one transaction with the checkpoint, if the checkpoint is still
    /// `from` and the rows' generation `start`'s.
    fn start(
        mut conn: HeldSide,
        start: Checkpoint,
        from: i64,
        last: i64,
        set: WriteSet,
        events: usize,
    ) -> Self {
        Self(tokio::spawn(async move {
            let written = write_set(&mut conn, start.generation, from, last, &set).await;
            let written = written.map(|times| {
                times.map(|times| ProjectorTimes {
                    batches: 1,
                    events: events as u64,
                    ..times
                })
            });
            (conn, written)
        }))
    }

    /// The connection back, and how the write went.
    async fn finish(self) -> Result<(HeldSide, WriteResult), ServiceError> {
        self.0
            .await
            .map_err(|e| ServiceError::Unavailable(Box::new(e)))
    }
}

async fn write_set(
    conn: &mut HeldSide,
    generation: i64,
    from: i64,
    last: i64,
    set: &WriteSet,
) -> Result<Option<ProjectorTimes>, ServiceError> {
    let mut clock = Lap::start();
    let mut times = ProjectorTimes::default();
    let mut tx = conn.begin().await?;
    let now = tx.lock_checkpoint(CHECKPOINT).await?;
    if now.position != from || now.generation != generation {
        // The dropped transaction rolls back.
        return Ok(None);
    }
    times.begin = clock.lap();
    tx.write(set).await?;
    times.write = clock.lap();
    tx.save_checkpoint(CHECKPOINT, last).await?;
    tx.commit().await?;
    times.commit = clock.lap();
    Ok(Some(times))
}

/// How many batches the projector reads ahead of the one it writes.
const READ_AHEAD: usize = 2;

async fn read(
    repository: &Repository,
    upcasters: &[Box<dyn EventUpcaster>],
    after: i64,
    limit: usize,
) -> Result<Vec<LoggedEvent>, ServiceError> {
    repository.read_events_with(after, limit, upcasters).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The catch-up's times, which an embedder exports as metrics: adding a
    /// batch's times adds each part, and the total is the sum of the parts
    /// (the counts are not durations and are not in it).
    #[test]
    fn projector_times_add_up_part_by_part() {
        let ms = Duration::from_millis;
        let batch = |k: u64| ProjectorTimes {
            batches: k,
            events: 10 * k,
            waiting_for_log: ms(k),
            begin: ms(2 * k),
            prefetch: ms(3 * k),
            apply: ms(4 * k),
            waiting_for_write: ms(5 * k),
            write: ms(6 * k),
            commit: ms(7 * k),
        };
        let mut times = batch(1);
        times += batch(2);
        assert_eq!(times, batch(3));
        assert_eq!(times.total(), ms(3 * (1 + 2 + 3 + 4 + 5 + 6 + 7)));
        assert_eq!(ProjectorTimes::default().total(), Duration::ZERO);
    }

    /// A batch applied on rows of one generation is not written over rows
    /// of another: a rebuild between its reads and its write makes it start
    /// again, even though the position has not moved.
    #[tokio::test]
    async fn a_batch_is_written_only_over_the_generation_it_read() {
        let side = ReadSide::in_memory().await.unwrap();
        let mut conn = side.hold().await.unwrap();
        let mut tx = conn.begin().await.unwrap();
        let before = tx.lock_checkpoint(CHECKPOINT).await.unwrap();
        tx.next_generation(CHECKPOINT).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(before.position, 0);

        let empty = WriteSet::default();
        let stale = write_set(&mut conn, before.generation, 0, 7, &empty).await;
        assert!(matches!(stale, Ok(None)), "written over a rebuild");
        assert_eq!(conn.checkpoint(CHECKPOINT).await.unwrap().position, 0);

        let now = conn.checkpoint(CHECKPOINT).await.unwrap();
        assert_eq!(now.generation, before.generation + 1);
        let fresh = write_set(&mut conn, now.generation, 0, 7, &empty).await;
        assert!(matches!(fresh, Ok(Some(_))));
        assert_eq!(conn.checkpoint(CHECKPOINT).await.unwrap().position, 7);

        // A position moved by another projector is refused as well.
        let behind = write_set(&mut conn, now.generation, 0, 9, &empty).await;
        assert!(matches!(behind, Ok(None)));
    }

    /// Registers `n` delegations (three events each: request, seat,
    /// completion) through `repository`.
    async fn register(repository: &Repository, n: usize) {
        use crate::metadata::Metadata;
        use crate::test_fixtures::{code, request};
        use deleghe_domain::Actor;
        let service = crate::service::Deleghe::new(repository.clone(), Policy::default());
        let before = repository.read_log(0, 10_000).await.unwrap().len();
        for k in 0..n {
            let grantor = code(&format!("RSSMRA85T10A{:03}", 100 + before + k));
            let delegate = code(&format!("BNCGNN80A01F{:03}", 100 + before + k));
            let meta = Metadata::new(Actor::Citizen(grantor.clone()), "web");
            let id = format!("d-{}", before + k);
            service
                .register_delegation(request(&id, &grantor, &delegate), &meta)
                .await
                .unwrap();
        }
    }

    /// What a projector reports of its work ([`Projector::times`], which
    /// `deleghe-load` prints and an embedder exports): every batch it
    /// writes and every event it applies are counted once, on each path
    /// (a catch-up pipelined or in turn, a step, a rebuild), and the
    /// phases each path goes through take time.
    async fn times_count_the_batches_and_events_of(repository: Repository, pipelined: bool) {
        register(&repository, 3).await;
        let side = ReadSide::open(&repository).await.unwrap();
        assert_eq!(side.pipelines(), pipelined);
        let projector = Projector::new(repository.clone(), side, Policy::default()).with_batch(4);
        let zero = Duration::ZERO;

        // Nine events in batches of four: three batches.
        assert_eq!(projector.catch_up().await.unwrap(), 9);
        let caught_up = projector.times();
        assert_eq!((caught_up.batches, caught_up.events), (3, 9));
        for (phase, took) in [
            ("waiting for the log", caught_up.waiting_for_log),
            ("begin", caught_up.begin),
            ("prefetch", caught_up.prefetch),
            ("apply", caught_up.apply),
            ("write", caught_up.write),
            ("commit", caught_up.commit),
        ] {
            assert!(took > zero, "{phase} took no time in a catch-up");
        }
        assert_eq!(caught_up.waiting_for_write > zero, pipelined);

        // A step writes one batch of what is new.
        register(&repository, 1).await;
        assert_eq!(projector.step().await.unwrap(), 3);
        let stepped = projector.times();
        assert_eq!(
            (stepped.batches, stepped.events),
            (caught_up.batches + 1, caught_up.events + 3)
        );
        assert!(stepped.commit > caught_up.commit);

        // A rebuild replays the twelve events in three batches, and commits.
        assert_eq!(projector.rebuild().await.unwrap(), 12);
        let rebuilt = projector.times();
        assert_eq!(
            (rebuilt.batches, rebuilt.events),
            (stepped.batches + 3, stepped.events + 12)
        );
        assert!(rebuilt.waiting_for_log > stepped.waiting_for_log);
        assert!(rebuilt.write > stepped.write);
        assert!(rebuilt.commit > stepped.commit);

        // Events stored past the checkpoint: a rebuild replays up to it,
        // then catches up the rest (one batch), and counts both.
        register(&repository, 1).await;
        assert_eq!(projector.rebuild().await.unwrap(), 15);
        let again = projector.times();
        assert_eq!(
            (again.batches, again.events),
            (rebuilt.batches + 4, rebuilt.events + 15)
        );
    }

    /// A running projector catches up when an append is made through its
    /// repository, without waiting for its poll, and stops when told.
    #[tokio::test]
    async fn a_running_projector_catches_up_on_each_append_and_stops_when_told() {
        let repository = Repository::memory();
        let side = ReadSide::open(&repository).await.unwrap();
        let projector = Projector::new(repository.clone(), side.clone(), Policy::default());
        let (stop, stopped) = tokio::sync::watch::channel(false);
        // A poll far beyond the test: only an append can wake it.
        let running = tokio::spawn(projector.run(Duration::from_secs(3600), stopped));
        for n in 1..=2 {
            register(&repository, 1).await;
            let head = repository.log_head().await.unwrap();
            assert_eq!(head, 3 * n);
            let caught_up = async {
                while side.checkpoint(CHECKPOINT).await.unwrap() < head {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            };
            tokio::time::timeout(Duration::from_secs(10), caught_up)
                .await
                .expect("caught up after the append");
        }
        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(10), running)
            .await
            .expect("stopped when told")
            .unwrap();
    }

    #[tokio::test]
    async fn times_count_a_catch_up_in_turn() {
        times_count_the_batches_and_events_of(Repository::memory(), false).await;
    }

    #[cfg(feature = "sqlite")]
    #[tokio::test]
    async fn times_count_a_pipelined_catch_up() {
        let file =
            std::env::temp_dir().join(format!("deleghe-times-{}.sqlite", uuid::Uuid::new_v4()));
        let repository = Repository::connect(&format!("sqlite://{}", file.display()))
            .await
            .unwrap();
        times_count_the_batches_and_events_of(repository, true).await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
        }
    }

    /// Each rebuild moves the generation on.
    #[tokio::test]
    async fn a_rebuild_counts_itself() {
        let repository = Repository::memory();
        let side = ReadSide::open(&repository).await.unwrap();
        let projector = Projector::new(repository, side.clone(), Policy::default());
        let generation = || async {
            let mut conn = side.hold().await.unwrap();
            conn.checkpoint(CHECKPOINT).await.unwrap().generation
        };
        projector.catch_up().await.unwrap();
        let before = generation().await;
        projector.rebuild().await.unwrap();
        projector.rebuild().await.unwrap();
        assert_eq!(generation().await, before + 2);
    }
}
