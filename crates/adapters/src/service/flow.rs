//! Driving the flows of [`deleghe_domain::flows`]: a step on any aggregate
//! ([`Deleghe::execute_step`]), then every step its events call for, with
//! the compensations of the refusals, to the flow's end. One connection for
//! a whole flow (ADR 0005), one WAL flush at its end (ADR 0004).

use std::any::Any;
use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{PersistedEventRepository, PersistedEventStore, SerializedEvent};
use cqrs_es::{Aggregate, AggregateError, EventStore};
use deleghe_domain::booking::{Booker, SlotLedger};
use deleghe_domain::delegation::{Delegate, DelegationError, Grantor, GrantorCommand};
use deleghe_domain::flows::{self, Command, Event, Refusal};
use deleghe_domain::meeting::Meeting;
use deleghe_domain::{Actor, Policy};
use tracing::Instrument;

use super::exec::{back_off, check_issuer, serialize, Exec, Guard};
use super::Deleghe;
use crate::error::ServiceError;
use crate::metadata::Metadata;
use crate::repository::Repository;

/// What running a flow did.
#[derive(Debug, Default)]
pub struct FlowReport {
    /// Every event stored, in order.
    pub events: Vec<Event>,
    /// Every step a rule refused, in order, with the refusal.
    pub refusals: Vec<(Command, Refusal)>,
    /// Each aggregate as this flow's own commits left it, by aggregate type
    /// and id: the state a later step on the same aggregate starts from
    /// instead of loading it again (a registration's completion after its
    /// request, a booking's confirmation after its request), and what
    /// `register_delegation` and `book` answer from once the outcome is
    /// settled.
    kept: HashMap<(&'static str, String), Kept>,
}

/// An aggregate's state after a step of a flow, with the sequence of the
/// last event that step stored.
pub(super) struct Kept {
    state: Box<dyn Any + Send + Sync>,
    sequence: usize,
}

impl std::fmt::Debug for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kept(at sequence {})", self.sequence)
    }
}

impl Kept {
    fn of<A: Any + Send + Sync>(state: A, sequence: usize) -> Self {
        Self {
            state: Box::new(state),
            sequence,
        }
    }

    /// The state, if it is an `A`'s.
    fn get<A: Any>(&self) -> Option<(&A, usize)> {
        self.state
            .downcast_ref::<A>()
            .map(|state| (state, self.sequence))
    }
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

    /// What follows a step of the flow, into `queue`: the steps its events
    /// call for, or, for a repeat that stored nothing, those its event
    /// would have called for; a rule's refusal is recorded with its
    /// compensation. Any other error ends the flow.
    fn follow(
        &mut self,
        command: Command,
        outcome: Result<Vec<Event>, ServiceError>,
        now: DateTime<Utc>,
        queue: &mut VecDeque<Command>,
    ) -> Result<(), ServiceError> {
        match outcome {
            Ok(events) => {
                if events.is_empty() {
                    queue.extend(flows::after_repeat(&command, now));
                }
                for e in &events {
                    queue.extend(flows::react(e, now));
                }
                self.events.extend(events);
                Ok(())
            }
            Err(ServiceError::Rule(refusal)) => {
                queue.extend(flows::after_refusal(&command, &refusal, now));
                self.refusals.push((command, refusal));
                Ok(())
            }
            Err(other) => Err(other),
        }
    }

    /// Aggregate `A` `id` as this flow left it, if a step of the flow
    /// stored events on it.
    pub(super) fn kept_state<A: Aggregate + Any>(&self, id: &str) -> Option<&A> {
        self.kept
            .get(&(A::TYPE, id.to_owned()))
            .and_then(Kept::get::<A>)
            .map(|(state, _)| state)
    }
}

/// What one step of a flow did.
pub(super) struct Step {
    /// The events it stored, as the flows' [`Event`].
    pub(super) events: Vec<Event>,
    /// Whether its commit still waits for a later flush.
    pub(super) deferred: bool,
    /// The aggregate's state after it, if it stored events.
    kept: Option<Kept>,
}

/// An aggregate the flows run steps on: where it is stored, and how its
/// events are the flows' [`Event`].
pub(super) trait Stepped:
    Aggregate<Services = Policy> + Clone + Any + Send + Sync + Sized
where
    Self::Command: Clone,
    Self::Error: Into<Refusal>,
{
    fn store(rules: &Deleghe) -> &PersistedEventStore<Repository, Self>;
    fn event(event: Self::Event) -> Event;
}

macro_rules! stepped {
    ($aggregate:ty, $store:ident, $variant:ident) => {
        impl Stepped for $aggregate {
            fn store(rules: &Deleghe) -> &PersistedEventStore<Repository, Self> {
                &rules.$store
            }
            fn event(event: Self::Event) -> Event {
                Event::$variant(event)
            }
        }
    };
}

stepped!(Grantor, grantors, Grantor);
stepped!(Delegate, delegates, Delegate);
stepped!(Booker, bookers, Booker);
stepped!(SlotLedger, slots, Slot);
stepped!(Meeting, meetings, Meeting);

impl Deleghe {
    /// [`Deleghe::execute`] as a step of a flow. With `in_flow`, a step whose
    /// events have steps to follow (`flows::react`) is committed without
    /// waiting for its WAL flush ([`Repository::deferring`]): the flow's
    /// last commit, or [`Repository::flush`] at its end, waits for it.
    /// `kept`, the aggregate as an earlier step of the flow left it, is
    /// decided on without loading it; if another writer got there first,
    /// the append conflicts and the aggregate is loaded and decided again.
    pub(super) async fn execute_step(
        &self,
        command: &Command,
        meta: &Metadata,
        in_flow: bool,
        kept: Option<&Kept>,
    ) -> Result<Step, ServiceError> {
        let (kind, _) = command.target();
        let action = command.action();
        let span = tracing::debug_span!("command", aggregate = kind, action);
        let started = std::time::Instant::now();
        let step = async {
            let guard = self.guard(command, meta, self.now())?;
            let step = StepOf {
                meta,
                in_flow,
                kept,
                guard: guard.as_ref(),
            };
            match command {
                Command::Grantor { id, command } => {
                    step.on::<Grantor>(self, id.as_str(), command).await
                }
                Command::Delegate { id, command } => {
                    step.on::<Delegate>(self, id.as_str(), command).await
                }
                Command::Booker { id, command } => {
                    step.on::<Booker>(self, id.as_str(), command).await
                }
                Command::Slot { id, command } => step.on::<SlotLedger>(self, id, command).await,
                Command::Meeting { id, command } => {
                    step.on::<Meeting>(self, id.as_str(), command).await
                }
            }
        }
        .instrument(span)
        .await;
        count(action, step.as_ref().map(|_| ()), started);
        step
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
        // D12: a web meeting registers a delegation to its booker; a delegate
        // acting for the grantor neither books one nor takes part in it.
        if command.reaches_a_delegation() {
            return Err(Refusal::from(DelegationError::NotAllowedWhenActing).into());
        }
        // D9: acting for the grantor is acting on the grantor's own bookings.
        if matches!(command, Command::Booker { id, .. } if id != grantor) {
            return Err(ServiceError::Misuse(
                "a delegate acts on the bookings of the grantor they act for (D9)",
            ));
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

    pub(super) async fn run_partial_held(
        &self,
        first: Command,
        meta: &Metadata,
    ) -> Result<(FlowReport, Option<ServiceError>), ServiceError> {
        check_issuer(&first, meta)?;
        if meta.on_behalf_of.is_none() {
            return self.run_whole(&first, meta).await;
        }
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

    pub(super) async fn drive_into(
        &self,
        commands: Vec<Command>,
        correlation_id: &str,
        report: &mut FlowReport,
        unflushed: &mut bool,
    ) -> Result<(), ServiceError> {
        let meta = Metadata::system_in(correlation_id);
        let mut queue = VecDeque::from(commands);
        while let Some(command) = queue.pop_front() {
            if self.failpoint.as_ref().is_some_and(|stop| stop(&command)) {
                return Err(ServiceError::Unavailable("stopped at a failpoint".into()));
            }
            let kept = report.kept(&command);
            let outcome = match self.execute_step(&command, &meta, true, kept).await {
                Ok(Step {
                    events,
                    deferred,
                    kept,
                }) => {
                    if !events.is_empty() {
                        *unflushed = deferred;
                    }
                    // No events: another driver took this step first.
                    report.keep(&command, kept);
                    Ok(events)
                }
                Err(error) => Err(error),
            };
            // A registration's last step repeated: what its stored outcome
            // still calls for, from the grantor as stored (M7).
            let also = match (&outcome, &command) {
                (
                    Ok(events),
                    Command::Grantor {
                        id,
                        command:
                            GrantorCommand::CompleteRegistration { .. }
                            | GrantorCommand::RefuseRegistration { .. },
                    },
                ) if events.is_empty() => {
                    flows::after_repeat_on(&self.grantor(id).await?, &command, self.now())
                }
                _ => Vec::new(),
            };
            report.follow(command, outcome, self.now(), &mut queue)?;
            queue.extend(also);
        }
        Ok(())
    }
}

/// Operations: every command by its action and outcome, and its time.
fn count(action: &'static str, outcome: Result<(), &ServiceError>, started: std::time::Instant) {
    let outcome = match outcome {
        Ok(()) => "ok",
        Err(ServiceError::Rule(_) | ServiceError::RefusedEarlier(_)) => "refused",
        Err(ServiceError::Conflict) => "conflict",
        Err(_) => "error",
    };
    metrics::counter!("deleghe_commands_total", "command" => action, "outcome" => outcome)
        .increment(1);
    metrics::histogram!("deleghe_command_duration_seconds", "command" => action)
        .record(started.elapsed().as_secs_f64());
}

/// A flow decided whole before any of it is stored (ADR 0015): each
/// aggregate it touches as the flow's own decisions left it, and the rows
/// of those decisions, in the order they were taken.
#[derive(Default)]
struct Decided {
    /// Each aggregate by type and id: its state after the flow's decisions
    /// so far, with the sequence of its last event, stored or decided.
    streams: HashMap<(&'static str, String), Kept>,
    /// The aggregates a decision of the flow added events to.
    touched: Vec<(&'static str, String)>,
    /// Every event decided, serialized at the sequence it takes.
    rows: Vec<SerializedEvent>,
}

impl Deleghe {
    /// A flow started by a caller acting for themselves (D12's guard is for
    /// a delegate's command, which keeps the step-by-step path), decided
    /// whole and stored in one append (ADR 0015): `first`, then every step
    /// its events call for, each decided on the state the earlier decisions
    /// left, with the compensations of refusals, exactly as
    /// [`Deleghe::drive_into`] would take them; then all their events in
    /// one transaction, every stream at the sequence it was loaded at. A
    /// stream another writer moved meanwhile makes the whole append
    /// conflict, and the flow is decided again on what is stored then: the
    /// registration's request, seat and completion (D10), or a booking's
    /// request, place and confirmation (B4), are stored together or not at
    /// all. A failpoint stops the flow as a crash between two steps would:
    /// the steps before it are stored, the runner finishes the rest.
    async fn run_whole(
        &self,
        first: &Command,
        meta: &Metadata,
    ) -> Result<(FlowReport, Option<ServiceError>), ServiceError> {
        // The streams the flow decides on, read in one round trip at the
        // start of each attempt (ADR 0019): the first command's and those
        // it names ahead.
        let ahead = first.streams_ahead();
        let streams: Vec<(&str, &str)> = std::iter::once(first.target())
            .chain(ahead.iter().map(|(t, id)| (*t, id.as_str())))
            .collect();
        for attempt in 0..self.max_attempts {
            let mut decided = Decided::default();
            // Only the first attempt reads ahead. One that follows a
            // conflict is in a race for a stream (a slot's last places, a
            // delegate's last seat): it loads each stream when it gets to
            // it, as late as it can, which narrows its window and lets the
            // racers settle within the attempts.
            let ahead = if attempt == 0 { &streams[..] } else { &[] };
            let (mut report, stopped) = self
                .repository
                .reading_ahead(ahead, self.decide_whole(first, meta, &mut decided))
                .await??;
            if stopped.is_none() {
                // Every step the flow's events call for was decided here and
                // goes in the same append: the runner has nothing to do for
                // them (ADR 0017). A flow stopped part-way is left unmarked,
                // for the runner to finish.
                for row in &mut decided.rows {
                    crate::runner::mark_settled(row);
                }
            }
            if !decided.rows.is_empty() {
                let appended = self
                    .repository
                    .persist::<Grantor>(&decided.rows, None)
                    .await
                    .map_err(AggregateError::<DelegationError>::from);
                match appended {
                    Ok(()) => {}
                    Err(AggregateError::AggregateConflict) => {
                        tracing::debug!(attempt, "a stream of the flow moved, deciding again");
                        back_off(attempt).await;
                        continue;
                    }
                    Err(other) => return Err(ServiceError::from_aggregate(other)),
                }
            }
            for key in decided.touched {
                if let Some(kept) = decided.streams.remove(&key) {
                    report.kept.insert(key, kept);
                }
            }
            return Ok((report, stopped));
        }
        Err(ServiceError::Conflict)
    }

    /// The decisions of [`Deleghe::run_whole`]'s attempt: `first`, then
    /// every step its events call for, each on what the decisions before it
    /// left in `decided`; nothing stored. With the error of the failpoint
    /// that stopped them part-way, if one did.
    async fn decide_whole(
        &self,
        first: &Command,
        meta: &Metadata,
        decided: &mut Decided,
    ) -> Result<(FlowReport, Option<ServiceError>), ServiceError> {
        // Each event's metadata, encoded once: the caller's for the first
        // command, the library's in the same flow for the steps after it.
        let system = Metadata::system_in(meta.correlation_id.as_str()).to_value();
        let mut report = FlowReport {
            events: self.decide(first, &meta.to_value(), decided).await?,
            ..FlowReport::default()
        };
        let now = self.now();
        let mut queue: VecDeque<Command> = if report.events.is_empty() {
            flows::after_repeat(first, now).into()
        } else {
            report
                .events
                .iter()
                .flat_map(|e| flows::react(e, now))
                .collect()
        };
        while let Some(command) = queue.pop_front() {
            if self.failpoint.as_ref().is_some_and(|stop| stop(&command)) {
                let stopped = ServiceError::Unavailable("stopped at a failpoint".into());
                return Ok((report, Some(stopped)));
            }
            // Any error but a refusal fails the request whole: nothing
            // is stored yet.
            let outcome = self.decide(&command, &system, decided).await;
            report.follow(command, outcome, self.now(), &mut queue)?;
        }
        Ok((report, None))
    }

    /// One command of a flow decided on its aggregate as `decided` holds it
    /// (loaded from the store the first time the flow touches it); its
    /// events are added to `decided`, not stored, each with `meta`, the
    /// command's metadata as encoded ([`Metadata::to_value`]).
    async fn decide(
        &self,
        command: &Command,
        meta: &serde_json::Value,
        decided: &mut Decided,
    ) -> Result<Vec<Event>, ServiceError> {
        let started = std::time::Instant::now();
        let events = match command {
            Command::Grantor { id, command } => {
                self.decide_on::<Grantor>(id.as_str(), command, meta, decided)
                    .await
            }
            Command::Delegate { id, command } => {
                self.decide_on::<Delegate>(id.as_str(), command, meta, decided)
                    .await
            }
            Command::Booker { id, command } => {
                self.decide_on::<Booker>(id.as_str(), command, meta, decided)
                    .await
            }
            Command::Slot { id, command } => {
                self.decide_on::<SlotLedger>(id, command, meta, decided)
                    .await
            }
            Command::Meeting { id, command } => {
                self.decide_on::<Meeting>(id.as_str(), command, meta, decided)
                    .await
            }
        };
        count(command.action(), events.as_ref().map(|_| ()), started);
        events
    }

    async fn decide_on<A>(
        &self,
        id: &str,
        command: &A::Command,
        meta: &serde_json::Value,
        decided: &mut Decided,
    ) -> Result<Vec<Event>, ServiceError>
    where
        A: Stepped,
        A::Command: Clone,
        A::Error: Into<Refusal>,
    {
        let key = (A::TYPE, id.to_owned());
        let (mut state, sequence) = match decided.streams.get(&key).and_then(Kept::get::<A>) {
            Some((state, sequence)) => (state.clone(), sequence),
            None => {
                let context = A::store(self)
                    .load_aggregate(id)
                    .await
                    .map_err(ServiceError::from_aggregate)?;
                (context.aggregate, context.current_sequence)
            }
        };
        // Decided on a copy: a refusal leaves the flow's state as it was.
        let sink = EventSink::default();
        state
            .handle(command.clone(), &self.policy, &sink)
            .await
            .map_err(|e| ServiceError::Rule(e.into()))?;
        let events = sink.collect().await;
        if !events.is_empty() {
            decided
                .rows
                .extend(serialize::<A>(id, sequence, &events, meta)?);
            if !decided.touched.contains(&key) {
                decided.touched.push(key.clone());
            }
        }
        decided
            .streams
            .insert(key, Kept::of(state, sequence + events.len()));
        Ok(events.into_iter().map(A::event).collect())
    }
}

/// How one step runs, whatever its aggregate.
struct StepOf<'a> {
    meta: &'a Metadata,
    in_flow: bool,
    kept: Option<&'a Kept>,
    guard: Option<&'a Guard<'a>>,
}

impl StepOf<'_> {
    async fn on<A>(
        &self,
        rules: &Deleghe,
        id: &str,
        command: &A::Command,
    ) -> Result<Step, ServiceError>
    where
        A: Stepped,
        A::Command: Clone,
        A::Error: Into<Refusal>,
    {
        let (in_flow, now) = (self.in_flow, rules.now());
        // Whether an event of this command has steps to follow.
        let follows =
            move |e: &A::Event| in_flow && !flows::react(&A::event(e.clone()), now).is_empty();
        let start = self.kept.and_then(Kept::get::<A>);
        let done = Exec::new(
            id,
            command,
            &rules.policy,
            self.meta,
            rules.max_attempts,
            &follows,
        )
        .from(start)
        .guarded(self.guard)
        .on(A::store(rules))
        .await?;
        let kept = (!done.events.is_empty()).then(|| Kept::of(done.state, done.sequence));
        Ok(Step {
            events: done.events.into_iter().map(A::event).collect(),
            deferred: done.deferred,
            kept,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Kept;

    /// A kept state shows in a report's debug output by the sequence it
    /// was kept at (the state itself is of any aggregate's type).
    #[test]
    fn a_kept_state_debugs_as_its_sequence() {
        let kept = Kept::of(7_u8, 3);
        assert_eq!(format!("{kept:?}"), "Kept(at sequence 3)");
        assert_eq!(kept.get::<u8>(), Some((&7, 3)));
        assert!(kept.get::<u16>().is_none());
    }
}
