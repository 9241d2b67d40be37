//! The composition root: one call puts together everything the rules need to
//! run on a store, wired the one way they are meant to be: the service
//! ([`Deleghe`]), the read side with its read models, the projector, the
//! documents (M6), the outbox dispatcher with its gateways (N1–N7), the flow
//! runner (D10), B8's booking timer, and the background workers that keep
//! them moving.
//!
//! ```
//! use deleghe_adapters::System;
//! use deleghe_domain::Policy;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let system = System::builder(Policy::default()).open("memory:").await?;
//! // Commands go to the service; queries to the read models, which the
//! // projector brings up to the end of the log first.
//! let _service = system.service();
//! let read = system.caught_up().await?;
//! assert!(read.outbox().await?.is_empty());
//! // In a long-running process, the workers keep the read side, the
//! // outbox and the flows moving until they are told to stop.
//! let workers = system.workers(deleghe_adapters::system::Intervals::default());
//! workers.stop().await;
//! # Ok(())
//! # }
//! ```
//!
//! Each part can still be built by hand (their `new` functions stay public)
//! for a test that needs one piece with a failpoint or a batch size of its
//! own; the builder is what a service embedding the rules calls.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use deleghe_domain::Policy;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::codes::AccessCodes;
use crate::documents::{DatabaseDocuments, DocumentStore, DocumentSweep, DEFAULT_GRACE};
use crate::error::ServiceError;
use crate::gateway::{DisabledIo, DisabledSms, Gateways, IoGateway, NoticeCalendar, SmsGateway};
use crate::outbox::Dispatcher;
use crate::projection::{Backlog, Projector, ReadModels, ReadSide};
use crate::repository::{ConnectError, Repository};
use crate::runner::FlowRunner;
use crate::service::{ContactBook, Deleghe, Failpoint};
use crate::settle::BookingTimer;

/// Why a [`System`] could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The store's URL is wrong, or the store cannot be reached or migrated.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The store answered, but its read side could not be opened.
    #[error("the read side cannot be opened: {0}")]
    ReadSide(#[source] ServiceError),
}

/// How to put a [`System`] together; see [`System::builder`].
pub struct SystemBuilder {
    policy: Policy,
    clock: Option<Clock>,
    sms: Option<Arc<dyn SmsGateway>>,
    io: Option<Arc<dyn IoGateway>>,
    access_codes: Option<AccessCodes>,
    grace: Duration,
    failpoint: Option<Failpoint>,
}

impl SystemBuilder {
    /// Tests only: the service stops its flows where `failpoint` says, as a
    /// crash would (what a flow left undone is the runner's; D10).
    pub fn failpoint(mut self, failpoint: Failpoint) -> Self {
        self.failpoint = Some(failpoint);
        self
    }

    /// Reads the time from `clock` everywhere (service, read models,
    /// documents, dispatcher, sweep); by default, real time.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Sends SMS (N1, N2, N4) through `sms`; by default none is sent: each
    /// is recorded in the outbox as failed, with the reason.
    pub fn sms(mut self, sms: Arc<dyn SmsGateway>) -> Self {
        self.sms = Some(sms);
        self
    }

    /// Sends IO messages (N5) through `io`; by default none is sent: each is
    /// recorded in the outbox as failed, with the reason.
    pub fn io(mut self, io: Arc<dyn IoGateway>) -> Self {
        self.io = Some(io);
        self
    }

    /// M10: the deployment's keys, with which the dispatcher fills in the
    /// access codes of the messages; without them a message carrying an
    /// access code is not sent (it is recorded as failed).
    pub fn access_codes(mut self, codes: AccessCodes) -> Self {
        self.access_codes = Some(codes);
        self
    }

    /// M6: keeps a document nothing refers to for `grace` after it was
    /// stored; by default [`DEFAULT_GRACE`] (a day).
    pub fn document_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Opens the store at `url` (see [`Repository::connect`]: `memory:`,
    /// `sqlite://…`, `postgres://…`), applying its migrations, and puts the
    /// system together on it.
    pub async fn open(self, url: &str) -> Result<System, OpenError> {
        let repository = Repository::connect(url).await?;
        self.on(repository).await
    }

    /// Puts the system together on a repository already open.
    pub async fn on(self, repository: Repository) -> Result<System, OpenError> {
        let clock = self
            .clock
            .unwrap_or_else(|| Arc::new(chrono::Utc::now) as Clock);
        let policy = self.policy;
        let mut service =
            Deleghe::new(repository.clone(), policy.clone()).with_clock(Arc::clone(&clock));
        if let Some(failpoint) = self.failpoint {
            service = service.with_failpoint(failpoint);
        }
        let service = Arc::new(service);
        // Opened once and shared (in memory, it is the only copy).
        let side = ReadSide::open(&repository)
            .await
            .map_err(OpenError::ReadSide)?;
        let read = ReadModels::new(side.clone(), policy.clone()).with_clock(Arc::clone(&clock));
        let documents: Arc<dyn DocumentStore> =
            Arc::new(DatabaseDocuments::new(side.clone()).with_clock(Arc::clone(&clock)));
        let gateways = Gateways {
            sms: self.sms.unwrap_or_else(|| Arc::new(DisabledSms)),
            io: self.io.unwrap_or_else(|| Arc::new(DisabledIo)),
            calendar: Arc::new(NoticeCalendar::new(side.clone())),
        };
        let projector = Projector::new(repository.clone(), side.clone(), policy.clone());
        Ok(System(Arc::new(Inner {
            repository,
            policy,
            clock,
            service,
            side,
            read,
            projector,
            documents,
            gateways,
            access_codes: self.access_codes,
            grace: self.grace,
        })))
    }
}

/// The rules running on one store, with their read side, gateways and
/// workers; cloning shares it. Built by [`System::builder`].
#[derive(Clone)]
pub struct System(Arc<Inner>);

struct Inner {
    repository: Repository,
    policy: Policy,
    clock: Clock,
    service: Arc<Deleghe>,
    side: ReadSide,
    read: ReadModels,
    /// The projector the queries catch up with.
    projector: Projector,
    documents: Arc<dyn DocumentStore>,
    gateways: Gateways,
    access_codes: Option<AccessCodes>,
    grace: Duration,
}

impl System {
    /// A system under `policy`, with real time, no SMS or IO gateway, and no
    /// access-code keys until the builder is told otherwise.
    pub fn builder(policy: Policy) -> SystemBuilder {
        SystemBuilder {
            policy,
            clock: None,
            sms: None,
            io: None,
            access_codes: None,
            grace: DEFAULT_GRACE,
            failpoint: None,
        }
    }

    /// The service every command goes to.
    pub fn service(&self) -> &Arc<Deleghe> {
        &self.0.service
    }

    /// The event repository under everything.
    pub fn repository(&self) -> &Repository {
        &self.0.repository
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.0.policy
    }

    /// The time, as every part of the system reads it.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        (self.0.clock)()
    }

    /// The clock every part of the system reads.
    pub fn clock(&self) -> &Clock {
        &self.0.clock
    }

    /// The read side's tables (read models, outbox, documents).
    pub fn side(&self) -> &ReadSide {
        &self.0.side
    }

    /// The read models as the projector last left them (possibly behind
    /// the log); [`System::caught_up`] brings them to its end first.
    pub fn read_models(&self) -> &ReadModels {
        &self.0.read
    }

    /// The read models, brought up to the end of the log first, so that a
    /// query sees every command answered before it.
    pub async fn caught_up(&self) -> Result<&ReadModels, ServiceError> {
        self.0.projector.catch_up().await?;
        Ok(&self.0.read)
    }

    /// The read models once they have applied the log at least up to
    /// `position` (what a write answered with), so that a read sees that
    /// write and every one before it; at once, with no read of the log, if
    /// `position` is `None` or already applied. Waits at most `wait`:
    /// past it, [`ServiceError::Behind`]. A position beyond the end of
    /// the log, which no write answered, is [`ServiceError::BeyondLog`].
    ///
    /// While waiting, the read brings the read models up itself (a
    /// catch-up, in turns with the projector worker's, in a task of its
    /// own that a wait ending mid-way leaves to finish), so it is served
    /// whether or not a worker runs in this process.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use deleghe_adapters::{ServiceError, System};
    /// use deleghe_domain::Policy;
    ///
    /// let system = System::builder(Policy::default()).open("memory:").await.unwrap();
    /// let wait = Duration::from_millis(100);
    /// assert!(system.read_models_at(None, wait).await.is_ok());
    /// assert!(matches!(
    ///     system.read_models_at(Some(7), wait).await,
    ///     Err(ServiceError::BeyondLog { wanted: 7, head: 0 })
    /// ));
    /// # }
    /// ```
    pub async fn read_models_at(
        &self,
        position: Option<i64>,
        wait: Duration,
    ) -> Result<&ReadModels, ServiceError> {
        let Some(wanted) = position.filter(|p| *p > 0) else {
            return Ok(&self.0.read);
        };
        let deadline = tokio::time::Instant::now() + wait;
        let mut reached = self.0.projector.checkpoint().await?;
        if reached < wanted {
            // A position no write answered is refused by the log itself, at
            // once: not `Behind` at the deadline when the read models lag
            // (a store under load), nor a catch-up started for it.
            let head = self.0.repository.log_head().await?;
            if head < wanted {
                return Err(ServiceError::BeyondLog { wanted, head });
            }
        }
        while reached < wanted {
            if tokio::time::Instant::now() >= deadline {
                return Err(ServiceError::Behind { wanted, reached });
            }
            let system = self.clone();
            let catching = tokio::spawn(async move { system.0.projector.catch_up().await });
            match tokio::time::timeout_at(deadline, catching).await {
                Ok(Ok(caught)) => {
                    caught?;
                }
                Ok(Err(failed)) => return Err(ServiceError::Unavailable(Box::new(failed))),
                Err(_) => return Err(ServiceError::Behind { wanted, reached }),
            }
            // A catch-up applies every event stored before it began, and the
            // log held `wanted` before the first: the next one reaches it.
            reached = self.0.projector.checkpoint().await?;
        }
        Ok(&self.0.read)
    }

    /// How far the workers are behind the log, and what waits on the read
    /// side: what `GET /metrics` reports (docs/OPERATIONS.md). A few reads,
    /// no catch-up.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use deleghe_adapters::System;
    /// use deleghe_domain::Policy;
    ///
    /// let system = System::builder(Policy::default()).open("memory:").await.unwrap();
    /// let progress = system.progress().await.unwrap();
    /// assert_eq!(progress.log_head, 0);
    /// assert_eq!(progress.projector_lag_events(), 0);
    /// # }
    /// ```
    pub async fn progress(&self) -> Result<Progress, ServiceError> {
        let repository = &self.0.repository;
        let log_head = repository.log_head().await?;
        // The projector's checkpoint is the read side's own (it moves with
        // the read models, in their transaction); the runner's is the log's.
        let projector = self.0.projector.checkpoint().await?;
        let runner = repository.checkpoint(crate::runner::CHECKPOINT).await?;
        let oldest = if projector < log_head {
            repository
                .read_events(projector, 1)
                .await?
                .into_iter()
                .next()
        } else {
            None
        };
        let projector_lag_seconds = oldest.map_or(0.0, |e| {
            let age = self.now() - crate::projection::event_at(&e.payload);
            (age.num_milliseconds().max(0) as f64) / 1000.0
        });
        Ok(Progress {
            log_head,
            projector_position: projector,
            runner_position: runner,
            projector_lag_seconds,
            read_side: self.0.side.backlog().await?,
        })
    }

    /// The projector the queries catch up with (its timings are the
    /// foreground's; the projector worker has its own).
    pub fn projector(&self) -> &Projector {
        &self.0.projector
    }

    /// The documents of web meetings (M6), on the read side.
    pub fn documents(&self) -> &Arc<dyn DocumentStore> {
        &self.0.documents
    }

    /// The gateways the outbox sends through.
    pub fn gateways(&self) -> &Gateways {
        &self.0.gateways
    }

    /// The deployment's access-code keys, if given (M10).
    pub fn access_codes(&self) -> Option<&AccessCodes> {
        self.0.access_codes.as_ref()
    }

    /// An outbox dispatcher on this system's gateways, clock and keys, which
    /// sends each `mobile` and `io` row to the contacts the citizen keeps
    /// when it is sent (N7).
    pub fn dispatcher(&self) -> Dispatcher {
        let dispatcher = Dispatcher::new(self.0.side.clone(), self.0.gateways.clone())
            .with_clock(Arc::clone(&self.0.clock))
            .with_contacts(Arc::clone(&self.0.service) as Arc<dyn ContactBook>);
        match &self.0.access_codes {
            Some(codes) => dispatcher.with_access_codes(codes.clone()),
            None => dispatcher,
        }
    }

    /// A flow runner on this system's service (D10).
    pub fn runner(&self) -> FlowRunner {
        FlowRunner::new(Arc::clone(&self.0.service))
    }

    /// A projector of its own on this system's store and read side (the
    /// workers each run one; they take turns on the read side's checkpoint).
    pub fn new_projector(&self) -> Projector {
        Projector::new(
            self.0.repository.clone(),
            self.0.side.clone(),
            self.0.policy.clone(),
        )
    }

    /// M6: the sweep of the documents no event refers to, keeping each for
    /// the builder's grace after it was stored.
    pub fn sweep(&self) -> DocumentSweep {
        DocumentSweep::new(Arc::clone(&self.0.documents), self.new_projector())
            .with_grace(self.0.grace)
            .with_clock(Arc::clone(&self.0.clock))
    }

    /// B8: the timer that marks missed the bookings left unserved
    /// `missed_after_minutes` after their slot.
    pub fn booking_timer(&self) -> BookingTimer {
        BookingTimer::new(
            Arc::clone(&self.0.service),
            self.0.side.clone(),
            self.new_projector(),
            Arc::clone(&self.0.clock),
        )
    }

    /// Drops the read models and folds them again from the whole log;
    /// returns how many events were replayed.
    pub async fn rebuild_read_models(&self) -> Result<usize, ServiceError> {
        self.0.projector.rebuild().await
    }

    /// Starts every background worker: the flow runner (D10), the projector
    /// (read models and outbox), the outbox dispatcher, which sends each
    /// notification when it falls due and so is also the reminder scheduler
    /// (N2 reminders wait in the outbox, durably, until due), B8's timer
    /// for bookings left unserved, and the sweep of the documents no event
    /// refers to (M6). Must be called within a
    /// Tokio runtime.
    pub fn workers(&self, every: Intervals) -> Workers {
        let (stop, stopped) = watch::channel(false);
        let alive = WorkerHealth::default();
        #[allow(unused_mut)] // without PostgreSQL, nothing is pushed
        let mut handles = vec![
            alive.spawn(
                "flow runner",
                self.runner().run(every.poll, stopped.clone()),
            ),
            alive.spawn(
                "projector",
                self.new_projector().run(every.poll, stopped.clone()),
            ),
            alive.spawn(
                "outbox dispatcher and reminder scheduler",
                self.dispatcher().run(every.poll, stopped.clone()),
            ),
            alive.spawn(
                "booking timer",
                self.booking_timer().run(every.settle, stopped.clone()),
            ),
            alive.spawn(
                "document sweep",
                self.sweep().run(every.sweep, stopped.clone()),
            ),
        ];
        #[cfg(feature = "postgres")]
        if let (Some(announce), Some(relay)) = (
            self.0.repository.announce_appends(stopped.clone()),
            self.0.repository.relay_appends(stopped),
        ) {
            handles.push(alive.spawn("log announcer", announce));
            handles.push(alive.spawn("log listener", relay));
        }
        for (name, _) in &handles {
            tracing::info!(worker = name, "started");
        }
        Workers {
            stop,
            handles,
            grace: every.grace,
            alive,
        }
    }
}

/// How often the workers look for work, and how long they get to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intervals {
    /// How often the flow runner, the projector and the dispatcher look at
    /// the log and the outbox.
    pub poll: Duration,
    /// How often the documents no event refers to are swept (M6).
    pub sweep: Duration,
    /// How often B8's timer looks for bookings left unserved.
    pub settle: Duration,
    /// How long [`Workers::stop`] waits for each worker to finish its step.
    pub grace: Duration,
}

impl Default for Intervals {
    /// Half a second, an hour, a minute, ten seconds.
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(500),
            sweep: Duration::from_secs(60 * 60),
            settle: Duration::from_secs(60),
            grace: Duration::from_secs(10),
        }
    }
}

/// The background workers of a [`System`], stopped together.
pub struct Workers {
    stop: watch::Sender<bool>,
    handles: Vec<(&'static str, JoinHandle<()>)>,
    grace: Duration,
    alive: WorkerHealth,
}

/// Which workers are running: a cheap handle a readiness check keeps
/// (`GET /health/ready` in the app). A worker counts as stopped once its
/// task has ended, whether it returned or panicked.
#[derive(Debug, Clone, Default)]
pub struct WorkerHealth(Arc<std::sync::Mutex<Vec<Watched>>>);

/// A worker's name, and whether its task is still running.
type Watched = (&'static str, Arc<AtomicBool>);

impl WorkerHealth {
    /// The names of the workers whose task has ended.
    pub fn stopped(&self) -> Vec<&'static str> {
        self.0
            .lock()
            .map(|workers| {
                workers
                    .iter()
                    .filter(|(_, running)| !running.load(Ordering::SeqCst))
                    .map(|(name, _)| *name)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Spawns `task` as the worker `name`, marked as running until it ends.
    fn spawn<F>(&self, name: &'static str, task: F) -> (&'static str, JoinHandle<()>)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        (name, tokio::spawn(self.watch(name, task)))
    }

    /// `task`, marked as running until it ends (returning, or unwinding
    /// from a panic).
    pub fn watch<F>(&self, name: &'static str, task: F) -> impl Future<Output = F::Output>
    where
        F: Future,
    {
        let running = Arc::new(AtomicBool::new(true));
        if let Ok(mut workers) = self.0.lock() {
            workers.push((name, Arc::clone(&running)));
        }
        async move {
            /// Sets the flag off when dropped: at the end, or on a panic.
            struct Ended(Arc<AtomicBool>);
            impl Drop for Ended {
                fn drop(&mut self) {
                    self.0.store(false, Ordering::SeqCst);
                }
            }
            let _ended = Ended(running);
            task.await
        }
    }
}

impl Workers {
    /// A handle that says which of these workers are running.
    pub fn health(&self) -> WorkerHealth {
        self.alive.clone()
    }

    /// Tells every worker to stop and waits for each (at most the grace of
    /// its [`Intervals`]); a worker that has not stopped by then is left to
    /// the runtime's shutdown, which is safe: each step is idempotent.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for (name, handle) in self.handles {
            match tokio::time::timeout(self.grace, handle).await {
                Ok(Ok(())) => tracing::info!(worker = name, "stopped"),
                Ok(Err(e)) => tracing::error!(worker = name, error = %e, "worker failed"),
                Err(_) => tracing::warn!(worker = name, "did not stop in time"),
            }
        }
    }
}

/// How far the workers are behind the log, and what waits on the read side
/// ([`System::progress`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// The position of the last event of the log.
    pub log_head: i64,
    /// The last position the projector applied.
    pub projector_position: i64,
    /// The last position the flow runner examined.
    pub runner_position: i64,
    /// How long ago (by the system's clock) the oldest event the projector
    /// has not applied was decided; 0 when it is at the head.
    pub projector_lag_seconds: f64,
    /// Flows not settled and notifications waiting or given up.
    pub read_side: Backlog,
}

impl Progress {
    /// Events the projector has still to apply.
    pub fn projector_lag_events(&self) -> i64 {
        (self.log_head - self.projector_position).max(0)
    }

    /// Events the flow runner has still to examine.
    pub fn runner_lag_events(&self) -> i64 {
        (self.log_head - self.runner_position).max(0)
    }
}
