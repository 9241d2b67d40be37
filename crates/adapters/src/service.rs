//! [`Deleghe`]: the rules running on a store. It executes one command on one
//! aggregate (loading it from its events, deciding, appending with optimistic
//! concurrency, retrying a bounded number of times on conflict) and drives
//! the flows of [`deleghe_domain::flows`] to their end, inline, for the
//! request that starts them. What a crash interrupts, [`crate::runner`]
//! finishes from the log.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{
    EventStoreAggregateContext, PersistedEventRepository, PersistedEventStore, SerializedEvent,
};
use cqrs_es::{Aggregate, AggregateContext, AggregateError, EventEnvelope, EventStore};
use deleghe_domain::booking::{
    Booker, BookerCommand, Booking, BookingId, RequestBooking, SlotLedger,
};
use deleghe_domain::delegation::{
    Delegate, Delegation, DelegationError, DelegationId, Grantor, GrantorCommand, GrantorEvent,
    RequestDelegation, RevocationChannel, Stage,
};
use deleghe_domain::flows::{self, Command, Event, Refusal};
use deleghe_domain::meeting::{Meeting, MeetingCommand};
use deleghe_domain::pin::{PinAccount, PinCommand, PinEvent};
use deleghe_domain::{Actor, FiscalCode, Policy};
use tracing::Instrument;

use crate::error::ServiceError;
use crate::metadata::Metadata;
use crate::repository::Repository;

/// Where the library reads the time for the steps it issues itself.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// A hook the tests use to stop a flow between two steps, as a crash would.
/// It is asked before every step; `true` stops the flow there.
pub type Failpoint = Arc<dyn Fn(&Command) -> bool + Send + Sync>;

/// The rules, running on one store.
pub struct Deleghe {
    repository: Repository,
    policy: Policy,
    clock: Clock,
    max_attempts: usize,
    failpoint: Option<Failpoint>,
    grantors: PersistedEventStore<Repository, Grantor>,
    delegates: PersistedEventStore<Repository, Delegate>,
    bookers: PersistedEventStore<Repository, Booker>,
    slots: PersistedEventStore<Repository, SlotLedger>,
    meetings: PersistedEventStore<Repository, Meeting>,
    pins: PersistedEventStore<Repository, PinAccount>,
}

/// What running a flow did.
#[derive(Debug, Default)]
pub struct FlowReport {
    /// Every event stored, in order.
    pub events: Vec<Event>,
    /// Every step a rule refused, in order, with the refusal.
    pub refusals: Vec<(Command, Refusal)>,
    /// Grantors and bookers as this flow's own commits left them, by
    /// aggregate type and id: the state a later step on the same aggregate
    /// starts from instead of loading it again (a registration's completion
    /// after its request, a booking's confirmation after its request), and
    /// what `register_delegation` and `book` answer from once the outcome is
    /// settled.
    kept: HashMap<(&'static str, String), Kept>,
}

/// An aggregate's state after a step of a flow, with the sequence of the
/// last event that step stored.
#[derive(Debug)]
enum Kept {
    Grantor(Box<Grantor>, usize),
    Booker(Box<Booker>, usize),
}

impl FlowReport {
    fn keep(&mut self, command: &Command, kept: Option<Kept>) {
        if let Some(kept) = kept {
            let (kind, id) = command.target();
            self.kept.insert((kind, id.to_owned()), kept);
        }
    }

    fn kept(&self, command: &Command) -> Option<&Kept> {
        let (kind, id) = command.target();
        self.kept.get(&(kind, id.to_owned()))
    }
}

impl Deleghe {
    /// The rules on `repository`, with the real clock.
    pub fn new(repository: Repository, policy: Policy) -> Self {
        Self {
            grantors: PersistedEventStore::new_event_store(repository.clone())
                .with_upcasters(crate::upcast::upcasters()),
            delegates: PersistedEventStore::new_event_store(repository.clone())
                .with_upcasters(crate::upcast::upcasters()),
            bookers: PersistedEventStore::new_event_store(repository.clone())
                .with_upcasters(crate::upcast::upcasters()),
            slots: PersistedEventStore::new_event_store(repository.clone())
                .with_upcasters(crate::upcast::upcasters()),
            meetings: PersistedEventStore::new_event_store(repository.clone())
                .with_upcasters(crate::upcast::upcasters()),
            pins: PersistedEventStore::new_event_store(repository.clone())
                .with_upcasters(crate::upcast::upcasters()),
            repository,
            policy,
            clock: Arc::new(Utc::now),
            max_attempts: 10,
            failpoint: None,
        }
    }

    /// An in-memory instance, for embedding and tests.
    pub fn in_memory(policy: Policy) -> Self {
        Self::new(Repository::memory(), policy)
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// How many times a command is tried when concurrent updates win.
    pub fn with_max_attempts(mut self, attempts: usize) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Tests only: stop flows where `failpoint` says, as a crash would.
    pub fn with_failpoint(mut self, failpoint: Failpoint) -> Self {
        self.failpoint = Some(failpoint);
        self
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn repository(&self) -> &Repository {
        &self.repository
    }

    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    // ------------------------------------------------------------ commands

    /// Executes one command on its aggregate: load, decide, append; a lost
    /// optimistic-concurrency race is retried on the reloaded state. The
    /// events are durable when it returns.
    pub async fn execute(
        &self,
        command: &Command,
        meta: &Metadata,
    ) -> Result<Vec<Event>, ServiceError> {
        check_issuer(command, meta)?;
        let step = self.execute_step(command, meta, false, None);
        Ok(self.repository.holding(step).await??.events)
    }

    /// [`Deleghe::execute`] as a step of a flow. With `in_flow`, a step whose
    /// events have steps to follow (`flows::react`) is committed without
    /// waiting for its WAL flush ([`Repository::deferring`]): the flow's
    /// last commit, or [`Repository::flush`] at its end, waits for it. The
    /// second value says whether this step's commit still waits for that.
    /// `kept`, the aggregate as an earlier step of the flow left it, is
    /// decided on without loading it; if another writer got there first,
    /// the append conflicts and the aggregate is loaded and decided again.
    async fn execute_step(
        &self,
        command: &Command,
        meta: &Metadata,
        in_flow: bool,
        kept: Option<&Kept>,
    ) -> Result<Step, ServiceError> {
        let (kind, _) = command.target();
        let span = tracing::debug_span!("command", aggregate = kind, action = command.action());
        let now = self.now();
        let guard = self.guard(command, meta, now)?;
        let guard = guard.as_ref();
        // Whether an event of this command has steps to follow.
        fn followed<E: Clone>(
            in_flow: bool,
            into: fn(E) -> Event,
            now: DateTime<Utc>,
        ) -> impl Fn(&E) -> bool + Sync {
            move |e: &E| in_flow && !flows::react(&into(e.clone()), now).is_empty()
        }
        async {
            let n = self.max_attempts;
            let p = &self.policy;
            match command {
                Command::Grantor { id, command } => {
                    let follows = followed(in_flow, Event::Grantor, now);
                    let start = match kept {
                        Some(Kept::Grantor(state, sequence)) => Some((&**state, *sequence)),
                        _ => None,
                    };
                    let run = Exec::new(id.as_str(), command, p, meta, n, &follows).from(start);
                    let done = run.guarded(guard).on(&self.grantors).await?;
                    Ok(Step::new(done.events, Event::Grantor, done.deferred)
                        .keeping(Kept::Grantor(Box::new(done.state), done.sequence)))
                }
                Command::Delegate { id, command } => {
                    let follows = followed(in_flow, Event::Delegate, now);
                    let run = Exec::new(id.as_str(), command, p, meta, n, &follows);
                    wrap(
                        run.guarded(guard).on(&self.delegates).await,
                        Event::Delegate,
                    )
                }
                Command::Booker { id, command } => {
                    let follows = followed(in_flow, Event::Booker, now);
                    let start = match kept {
                        Some(Kept::Booker(state, sequence)) => Some((&**state, *sequence)),
                        _ => None,
                    };
                    let run = Exec::new(id.as_str(), command, p, meta, n, &follows).from(start);
                    let done = run.guarded(guard).on(&self.bookers).await?;
                    Ok(Step::new(done.events, Event::Booker, done.deferred)
                        .keeping(Kept::Booker(Box::new(done.state), done.sequence)))
                }
                Command::Slot { id, command } => {
                    let follows = followed(in_flow, Event::Slot, now);
                    let run = Exec::new(id, command, p, meta, n, &follows);
                    wrap(run.guarded(guard).on(&self.slots).await, Event::Slot)
                }
                Command::Meeting { id, command } => {
                    let follows = followed(in_flow, Event::Meeting, now);
                    let run = Exec::new(id.as_str(), command, p, meta, n, &follows);
                    wrap(run.guarded(guard).on(&self.meetings).await, Event::Meeting)
                }
            }
        }
        .instrument(span)
        .await
    }

    /// D9, D12: for a command a delegate issues on a grantor's behalf, the
    /// check that the grantor's delegation to them is active, decided again
    /// on every attempt and appended with the command's own events (see
    /// [`Guard`]). Commands on the grantor's own aggregate judge D12
    /// themselves where they carry their issuer; the others (confirmation,
    /// rejection, flow steps) are never a delegate's.
    fn guard<'a>(
        &'a self,
        command: &Command,
        meta: &Metadata,
        now: DateTime<Utc>,
    ) -> Result<Option<Guard<'a>>, ServiceError> {
        let Some(grantor) = &meta.on_behalf_of else {
            return Ok(None);
        };
        let Actor::Citizen(delegate) = &meta.actor else {
            return Err(ServiceError::Misuse(
                "only a citizen acts on behalf of a grantor (D9)",
            ));
        };
        if let Command::Grantor { command: c, .. } = command {
            return match command.issuer() {
                Some(_) => Ok(None),
                None => Err(Refusal::from(match c {
                    GrantorCommand::ActFor { .. } => DelegationError::NoActiveDelegation,
                    _ => DelegationError::NotAllowedWhenActing,
                })
                .into()),
            };
        }
        Ok(Some(Guard {
            grantors: &self.grantors,
            repository: &self.repository,
            policy: &self.policy,
            grantor: grantor.clone(),
            command: GrantorCommand::ActFor {
                delegate: delegate.clone(),
                action: command.action().to_owned(),
                at: now,
            },
        }))
    }

    /// Runs `first` and every step that follows from it, to the flow's end.
    /// A refusal of `first` itself is returned as an error (nothing was
    /// stored); refusals of later steps are in the report, compensated.
    pub async fn run(&self, first: Command, meta: &Metadata) -> Result<FlowReport, ServiceError> {
        match self.run_partial(first, meta).await? {
            (report, None) => Ok(report),
            (_, Some(interrupted)) => Err(interrupted),
        }
    }

    /// Like [`Deleghe::run`], but a failure after `first` was stored (a lost
    /// race, an unreachable store) comes back beside what was done, not
    /// instead of it: the flow's outcome may already be settled, and the
    /// runner finishes the remaining steps from the log.
    pub async fn run_partial(
        &self,
        first: Command,
        meta: &Metadata,
    ) -> Result<(FlowReport, Option<ServiceError>), ServiceError> {
        // One connection for the whole flow (`Repository::holding`).
        self.repository
            .holding(self.run_partial_held(first, meta))
            .await?
    }

    async fn run_partial_held(
        &self,
        first: Command,
        meta: &Metadata,
    ) -> Result<(FlowReport, Option<ServiceError>), ServiceError> {
        check_issuer(&first, meta)?;
        let step = self.execute_step(&first, meta, true, None).await?;
        let (events, mut unflushed) = (step.events, step.deferred);
        let now = self.now();
        let next: Vec<Command> = if events.is_empty() {
            flows::after_repeat(&first, now)
        } else {
            events.iter().flat_map(|e| flows::react(e, now)).collect()
        };
        let mut report = FlowReport {
            events,
            ..FlowReport::default()
        };
        report.keep(&first, step.kept);
        let interrupted = self
            .drive_into(next, &meta.correlation_id, &mut report, &mut unflushed)
            .await
            .err();
        if unflushed {
            self.repository.flush().await?;
        }
        if let Some(error) = &interrupted {
            tracing::debug!(%error, "flow interrupted; the runner will finish it");
        }
        Ok((report, interrupted))
    }

    /// Runs `commands` and every step that follows from them, to the end: a
    /// step a rule refuses is compensated as the flow says. Used inline
    /// by [`Deleghe::run`] and by the runner that resumes flows from the log.
    pub async fn drive(
        &self,
        commands: Vec<Command>,
        correlation_id: &str,
    ) -> Result<FlowReport, ServiceError> {
        let drive = async {
            let mut report = FlowReport::default();
            let mut unflushed = false;
            let driven = self
                .drive_into(commands, correlation_id, &mut report, &mut unflushed)
                .await;
            if unflushed {
                self.repository.flush().await?;
            }
            driven.map(|()| report)
        };
        self.repository.holding(drive).await?
    }

    async fn drive_into(
        &self,
        commands: Vec<Command>,
        correlation_id: &str,
        report: &mut FlowReport,
        unflushed: &mut bool,
    ) -> Result<(), ServiceError> {
        let meta = Metadata::system().with_correlation_id(correlation_id);
        let mut queue = VecDeque::from(commands);
        while let Some(command) = queue.pop_front() {
            if self.failpoint.as_ref().is_some_and(|stop| stop(&command)) {
                return Err(ServiceError::Unavailable("stopped at a failpoint".into()));
            }
            let kept = report.kept(&command);
            match self.execute_step(&command, &meta, true, kept).await {
                Ok(Step {
                    events,
                    deferred,
                    kept,
                }) => {
                    if !events.is_empty() {
                        *unflushed = deferred;
                    }
                    report.keep(&command, kept);
                    let now = self.now();
                    if events.is_empty() {
                        // Another driver took this step first: carry on as
                        // its event would have.
                        queue.extend(flows::after_repeat(&command, now));
                    }
                    for e in &events {
                        queue.extend(flows::react(e, now));
                    }
                    report.events.extend(events);
                }
                Err(ServiceError::Rule(refusal)) => {
                    queue.extend(flows::after_refusal(&command, &refusal, self.now()));
                    report.refusals.push((command, refusal));
                }
                Err(other) => return Err(other),
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------ delegations

    /// Registers a delegation under D1–D7 and returns it, active or awaiting
    /// confirmation; a rule's refusal (including D2 on the delegate) is an error.
    pub async fn register_delegation(
        &self,
        request: RequestDelegation,
        meta: &Metadata,
    ) -> Result<Delegation, ServiceError> {
        let grantor = request.grantor.clone();
        let id = request.id.clone();
        let (report, interrupted) = self
            .run_partial(
                Command::Grantor {
                    id: grantor.clone(),
                    command: request.issued_by(meta.issuer()),
                },
                meta,
            )
            .await?;
        let settled = |state: &Grantor| {
            state
                .delegation(&id)
                .filter(|d| d.stage != Stage::Pending)
                .cloned()
        };
        let kept = match report.kept.get(&(Grantor::TYPE, grantor.to_string())) {
            Some(Kept::Grantor(state, _)) => settled(state),
            _ => None,
        };
        // Unsettled as this flow left it (another driver took a step): load.
        let delegation = match kept {
            Some(delegation) => delegation,
            None => self
                .grantor(&grantor)
                .await?
                .delegation(&id)
                .cloned()
                .ok_or_else(|| Refusal::from(DelegationError::NotFound(id.clone())))?,
        };
        // The answer is the stored outcome: once it is settled, steps left
        // undone by an interruption (a seat's release) are the runner's.
        match &delegation.stage {
            Stage::Pending => Err(interrupted.unwrap_or(ServiceError::Conflict)),
            Stage::Refused { reason, .. } => Err(ServiceError::Rule(
                report
                    .refusals
                    .into_iter()
                    .map(|(_, r)| r)
                    .find(|r| r.code() == reason)
                    .unwrap_or_else(|| self.refusal_from_code(reason)),
            )),
            _ => Ok(delegation),
        }
    }

    fn refusal_from_code(&self, code: &str) -> Refusal {
        match code {
            "delegate_cap_reached" => DelegationError::DelegateCapReached {
                cap: self.policy.max_ordinary_delegations_per_delegate,
            }
            .into(),
            _ => DelegationError::NotActive.into(),
        }
    }

    /// A command on one of a grantor's delegations (confirm, reject, revoke),
    /// with what follows it; returns the delegation after.
    pub async fn delegation_command(
        &self,
        grantor: &FiscalCode,
        command: GrantorCommand,
        meta: &Metadata,
    ) -> Result<Delegation, ServiceError> {
        let id = command
            .delegation_id()
            .cloned()
            .ok_or(ServiceError::Misuse(
                "delegation_command is for a command on one delegation",
            ))?;
        // What follows (a seat's release) may be left to the runner.
        self.run_partial(
            Command::Grantor {
                id: grantor.clone(),
                command,
            },
            meta,
        )
        .await?;
        self.grantor(grantor)
            .await?
            .delegation(&id)
            .cloned()
            .ok_or_else(|| Refusal::from(DelegationError::NotFound(id)).into())
    }

    /// D8: revocation, online by the grantor or at a counter.
    pub async fn revoke_delegation(
        &self,
        grantor: &FiscalCode,
        id: &DelegationId,
        channel: RevocationChannel,
        at: DateTime<Utc>,
        meta: &Metadata,
    ) -> Result<Delegation, ServiceError> {
        let command = GrantorCommand::Revoke {
            id: id.clone(),
            channel,
            at,
            by: meta.issuer(),
        };
        self.delegation_command(grantor, command, meta).await
    }

    pub async fn grantor(&self, code: &FiscalCode) -> Result<Grantor, ServiceError> {
        load(&self.grantors, code.as_str()).await
    }

    pub async fn delegate(&self, code: &FiscalCode) -> Result<Delegate, ServiceError> {
        load(&self.delegates, code.as_str()).await
    }

    // ------------------------------------------------------------ bookings

    /// Books a slot under B1–B6 and returns the confirmed booking.
    pub async fn book(
        &self,
        request: RequestBooking,
        meta: &Metadata,
    ) -> Result<Booking, ServiceError> {
        let booker = request.booker.clone();
        let id = request.id.clone();
        let (report, interrupted) = self
            .run_partial(
                Command::Booker {
                    id: booker.clone(),
                    command: BookerCommand::Request(Box::new(request)),
                },
                meta,
            )
            .await?;
        let kept = match report.kept.get(&(Booker::TYPE, booker.to_string())) {
            Some(Kept::Booker(state, _)) => state
                .booking(&id)
                .filter(|b| b.stage != deleghe_domain::booking::BookingStage::Pending)
                .cloned(),
            _ => None,
        };
        // Unsettled as this flow left it (another driver took a step): load.
        let booking = match kept {
            Some(booking) => booking,
            None => self
                .booker(&booker)
                .await?
                .booking(&id)
                .cloned()
                .ok_or_else(|| {
                    Refusal::from(deleghe_domain::booking::BookingError::NotFound(id))
                })?,
        };
        // As for delegations, the answer is the stored outcome.
        match &booking.stage {
            deleghe_domain::booking::BookingStage::Pending => {
                Err(interrupted.unwrap_or(ServiceError::Conflict))
            }
            deleghe_domain::booking::BookingStage::Refused { reason, .. } => {
                Err(ServiceError::Rule(
                    report
                        .refusals
                        .into_iter()
                        .map(|(_, r)| r)
                        .find(|r| r.code() == reason)
                        .unwrap_or_else(|| {
                            deleghe_domain::booking::BookingError::SlotFull {
                                capacity: booking.capacity,
                            }
                            .into()
                        }),
                ))
            }
            _ => Ok(booking),
        }
    }

    /// A command on one of a citizen's bookings (cancel, served, missed).
    pub async fn booking_command(
        &self,
        booker: &FiscalCode,
        id: &BookingId,
        command: BookerCommand,
        meta: &Metadata,
    ) -> Result<Booking, ServiceError> {
        // What follows (a place's release) may be left to the runner.
        self.run_partial(
            Command::Booker {
                id: booker.clone(),
                command,
            },
            meta,
        )
        .await?;
        self.booker(booker)
            .await?
            .booking(id)
            .cloned()
            .ok_or_else(|| {
                Refusal::from(deleghe_domain::booking::BookingError::NotFound(id.clone())).into()
            })
    }

    pub async fn booker(&self, code: &FiscalCode) -> Result<Booker, ServiceError> {
        load(&self.bookers, code.as_str()).await
    }

    pub async fn slot(&self, key: &str) -> Result<SlotLedger, ServiceError> {
        load(&self.slots, key).await
    }

    // ------------------------------------------------------------ meetings

    /// A command on a web meeting, with what follows it (M7: completion runs
    /// the registration and records its outcome); returns the meeting after.
    ///
    /// A command refused by a rule whose refusal is recorded (M10: a wrong
    /// access code, counted toward the lock) stores its events and then
    /// answers that refusal.
    pub async fn meeting_command(
        &self,
        booking: &BookingId,
        command: MeetingCommand,
        meta: &Metadata,
    ) -> Result<Meeting, ServiceError> {
        let report = self
            .run(
                Command::Meeting {
                    id: booking.clone(),
                    command,
                },
                meta,
            )
            .await?;
        let recorded = report.events.iter().find_map(|e| match e {
            Event::Meeting(e) => e.refusal(),
            _ => None,
        });
        if let Some(refusal) = recorded {
            return Err(Refusal::from(refusal).into());
        }
        self.meeting(booking).await
    }

    pub async fn meeting(&self, booking: &BookingId) -> Result<Meeting, ServiceError> {
        load(&self.meetings, booking.as_str()).await
    }

    // ------------------------------------------------------------ PIN

    /// P1–P3: a command on a citizen's telephone PIN; returns the events.
    pub async fn pin_command(
        &self,
        citizen: &FiscalCode,
        command: PinCommand,
        meta: &Metadata,
    ) -> Result<Vec<PinEvent>, ServiceError> {
        if let PinCommand::IssuePin { by, .. } = &command {
            if *by != meta.issuer() {
                return Err(ServiceError::Misuse(
                    "the command's issuer is not the metadata's actor",
                ));
            }
        }
        let run = Exec::new(
            citizen.as_str(),
            &command,
            &self.policy,
            meta,
            self.max_attempts,
            &|_| false,
        );
        Ok(self.repository.holding(run.on(&self.pins)).await??.events)
    }

    pub async fn pin_account(&self, citizen: &FiscalCode) -> Result<PinAccount, ServiceError> {
        load(&self.pins, citizen.as_str()).await
    }
}

/// What one step of a flow did.
struct Step {
    /// The events it stored, as the process manager's [`Event`].
    events: Vec<Event>,
    /// Whether its commit still waits for a later flush.
    deferred: bool,
    /// The grantor's or booker's state after it.
    kept: Option<Kept>,
}

impl Step {
    fn new<E>(events: Vec<E>, into: fn(E) -> Event, deferred: bool) -> Self {
        Self {
            events: events.into_iter().map(into).collect(),
            deferred,
            kept: None,
        }
    }

    fn keeping(mut self, kept: Kept) -> Self {
        if !self.events.is_empty() {
            self.kept = Some(kept);
        }
        self
    }
}

/// A step whose aggregate's state is not kept.
fn wrap<A: Aggregate>(
    result: Result<Done<A>, ServiceError>,
    into: fn(A::Event) -> Event,
) -> Result<Step, ServiceError> {
    let done = result?;
    Ok(Step::new(done.events, into, done.deferred))
}

/// Loads an aggregate from its events.
async fn load<A>(store: &PersistedEventStore<Repository, A>, id: &str) -> Result<A, ServiceError>
where
    A: Aggregate + Clone,
    A::Error: Into<Refusal>,
{
    let mut context = store
        .load_aggregate(id)
        .await
        .map_err(ServiceError::from_aggregate)?;
    Ok(context.aggregate().clone())
}

/// What [`Exec::on`] did.
struct Done<A: Aggregate> {
    /// The aggregate after the command.
    state: A,
    /// The events stored (none if the command changed nothing).
    events: Vec<A::Event>,
    /// Whether their commit was deferred: an event `follows` (more steps of
    /// its flow come after it; see [`Repository::deferring`]).
    deferred: bool,
    /// The aggregate's last sequence after them.
    sequence: usize,
}

/// One command to run on one aggregate: what `CqrsFramework::execute`
/// does, plus what a flow needs.
struct Exec<'a, A: Aggregate> {
    id: &'a str,
    command: &'a A::Command,
    services: &'a A::Services,
    meta: &'a Metadata,
    max_attempts: usize,
    follows: &'a (dyn Fn(&A::Event) -> bool + Sync),
    /// The aggregate and its last sequence, if a step of the same flow just
    /// stored them: decided on without loading, for the first attempt.
    start: Option<(&'a A, usize)>,
    /// D12: the grantor's say, when a delegate issues the command for them.
    guard: Option<&'a Guard<'a>>,
}

impl<'a, A> Exec<'a, A>
where
    A: Aggregate + Clone,
    A::Command: Clone,
    A::Error: Into<Refusal>,
{
    fn new(
        id: &'a str,
        command: &'a A::Command,
        services: &'a A::Services,
        meta: &'a Metadata,
        max_attempts: usize,
        follows: &'a (dyn Fn(&A::Event) -> bool + Sync),
    ) -> Self {
        Self {
            id,
            command,
            services,
            meta,
            max_attempts,
            follows,
            start: None,
            guard: None,
        }
    }

    fn from(mut self, start: Option<(&'a A, usize)>) -> Self {
        self.start = start;
        self
    }

    fn guarded(mut self, guard: Option<&'a Guard<'a>>) -> Self {
        self.guard = guard;
        self
    }

    /// Loads (or starts from the kept state), decides, appends; retries
    /// bounded times on conflict, each time on the reloaded aggregate.
    async fn on(self, store: &PersistedEventStore<Repository, A>) -> Result<Done<A>, ServiceError> {
        let mut start = self.start;
        for attempt in 0..self.max_attempts {
            let from_kept = start.is_some();
            let mut context = match start.take() {
                Some((aggregate, sequence)) => EventStoreAggregateContext {
                    aggregate_id: self.id.to_owned(),
                    aggregate: aggregate.clone(),
                    current_sequence: sequence,
                    current_snapshot: None,
                },
                None => store
                    .load_aggregate(self.id)
                    .await
                    .map_err(ServiceError::from_aggregate)?,
            };
            // D12: decided again on every attempt, on the grantor as stored.
            let granted = match self.guard {
                Some(guard) => Some(guard.decide().await?),
                None => None,
            };
            let sequence = context.current_sequence;
            let aggregate = context.aggregate();
            let sink = EventSink::default();
            aggregate
                .handle(self.command.clone(), self.services, &sink)
                .await
                .map_err(|e| ServiceError::Rule(e.into()))?;
            let state = aggregate.clone();
            let events = sink.collect().await;
            if events.is_empty() {
                return Ok(Done {
                    state,
                    events,
                    deferred: false,
                    sequence,
                });
            }
            let deferred = events.iter().any(self.follows);
            let after = sequence + events.len();
            let committed = match (self.guard, granted) {
                (Some(guard), Some((grantor_sequence, granted))) => {
                    // One append for both streams: a revocation stored since
                    // the grantor was loaded makes it conflict.
                    let mut rows = serialize::<A>(self.id, sequence, &events, self.meta)?;
                    rows.extend(serialize::<Grantor>(
                        guard.grantor.as_str(),
                        grantor_sequence,
                        &granted,
                        self.meta,
                    )?);
                    let append = guard.repository.persist::<A>(&rows, None);
                    let appended = if deferred {
                        Repository::deferring(append).await
                    } else {
                        append.await
                    };
                    appended.map_err(AggregateError::<A::Error>::from)
                }
                _ => {
                    let commit = store.commit(events.clone(), context, self.meta.to_map());
                    let committed = if deferred {
                        Repository::deferring(commit).await
                    } else {
                        commit.await
                    };
                    committed.map(|_| ())
                }
            };
            match committed {
                Ok(()) => {
                    return Ok(Done {
                        state,
                        events,
                        deferred,
                        sequence: after,
                    })
                }
                Err(AggregateError::AggregateConflict) if from_kept => {
                    // Another writer appended after the flow's own step:
                    // load what it stored and decide again, at once.
                    tracing::debug!("kept state overtaken, reloading");
                }
                Err(AggregateError::AggregateConflict) => {
                    tracing::debug!(attempt, "optimistic-concurrency conflict, retrying");
                    // Exponential backoff with full jitter spreads the racers out.
                    let ceiling_us = 1_000u64 << attempt.min(6);
                    let random = u64::from_le_bytes(
                        uuid::Uuid::new_v4().as_bytes()[..8].try_into().unwrap(),
                    );
                    tokio::time::sleep(Duration::from_micros(random % ceiling_us)).await;
                }
                Err(other) => return Err(ServiceError::from_aggregate(other)),
            }
        }
        Err(ServiceError::Conflict)
    }
}

/// D9, D12: the check, for a command a delegate issues on a grantor's behalf,
/// that the grantor's delegation to them is active. It is decided on the
/// grantor's stream as stored at each attempt ([`GrantorCommand::ActFor`]),
/// and its event is appended with the command's own events, at the next
/// sequence of the grantor's stream: if a revocation (or anything else) was
/// stored on that stream meanwhile, the append conflicts and the command is
/// decided again, on the revoked delegation, and refused. A revocation
/// committed first always stops the command; one committed after it is
/// ordered after it in the grantor's stream.
struct Guard<'a> {
    grantors: &'a PersistedEventStore<Repository, Grantor>,
    repository: &'a Repository,
    policy: &'a Policy,
    grantor: FiscalCode,
    /// [`GrantorCommand::ActFor`].
    command: GrantorCommand,
}

impl Guard<'_> {
    /// The grantor's last sequence and the event granting the action, or
    /// the refusal ([`DelegationError::NoActiveDelegation`]).
    async fn decide(&self) -> Result<(usize, Vec<GrantorEvent>), ServiceError> {
        let context = self
            .grantors
            .load_aggregate(self.grantor.as_str())
            .await
            .map_err(ServiceError::from_aggregate)?;
        let events = context
            .aggregate
            .decide(self.command.clone(), self.policy)
            .map_err(|e| ServiceError::Rule(e.into()))?;
        Ok((context.current_sequence, events))
    }
}

/// `events` of aggregate `id`, numbered after `sequence`, as a repository
/// stores them (what `PersistedEventStore::commit` does, for an append that
/// spans two streams).
fn serialize<A: Aggregate>(
    id: &str,
    sequence: usize,
    events: &[A::Event],
    meta: &Metadata,
) -> Result<Vec<SerializedEvent>, ServiceError> {
    events
        .iter()
        .enumerate()
        .map(|(i, event)| {
            let envelope = EventEnvelope::<A> {
                aggregate_id: id.to_owned(),
                sequence: sequence + i + 1,
                payload: event.clone(),
                metadata: meta.to_map(),
            };
            SerializedEvent::try_from(&envelope).map_err(ServiceError::from)
        })
        .collect()
}

/// A command that says who issues it must say what the metadata says: the
/// rules judge the one, the audit trail records the other (D9, D12).
fn check_issuer(command: &Command, meta: &Metadata) -> Result<(), ServiceError> {
    match command.issuer() {
        Some(by) if *by != meta.issuer() => Err(ServiceError::Misuse(
            "the command's issuer is not the metadata's actor",
        )),
        _ => Ok(()),
    }
}
