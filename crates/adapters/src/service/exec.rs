//! One command on one aggregate: load (or start from the state a flow kept),
//! decide, append with optimistic concurrency, and retry a bounded number of
//! times on conflict, each time on the reloaded aggregate: what
//! `CqrsFramework::execute` does, plus what the flows and D12 need (a
//! deferred flush, a kept state, a guard appended with the command).

use std::time::Duration;

use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{
    EventStoreAggregateContext, PersistedEventRepository, PersistedEventStore, PersistenceError,
    SerializedEvent,
};
use cqrs_es::{Aggregate, AggregateContext, AggregateError, DomainEvent, EventStore};
use deleghe_domain::delegation::{Grantor, GrantorCommand, GrantorEvent};
use deleghe_domain::flows::{Command, Refusal};
use deleghe_domain::{FiscalCode, Policy};

use crate::error::ServiceError;
use crate::metadata::Metadata;
use crate::repository::Repository;

/// Loads an aggregate from its events.
pub(super) async fn load<A>(
    store: &PersistedEventStore<Repository, A>,
    id: &str,
) -> Result<A, ServiceError>
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
pub(super) struct Done<A: Aggregate> {
    /// The aggregate after the command.
    pub(super) state: A,
    /// The events stored (none if the command changed nothing).
    pub(super) events: Vec<A::Event>,
    /// Whether their commit was deferred: an event `follows` (more steps of
    /// its flow come after it; see [`Repository::deferring`]).
    pub(super) deferred: bool,
    /// The aggregate's last sequence after them.
    pub(super) sequence: usize,
}

/// One command to run on one aggregate: what `CqrsFramework::execute`
/// does, plus what a flow needs.
pub(super) struct Exec<'a, A: Aggregate> {
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
    pub(super) fn new(
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

    pub(super) fn from(mut self, start: Option<(&'a A, usize)>) -> Self {
        self.start = start;
        self
    }

    pub(super) fn guarded(mut self, guard: Option<&'a Guard<'a>>) -> Self {
        self.guard = guard;
        self
    }

    /// Loads (or starts from the kept state), decides, appends; retries
    /// bounded times on conflict, each time on the reloaded aggregate.
    pub(super) async fn on(
        self,
        store: &PersistedEventStore<Repository, A>,
    ) -> Result<Done<A>, ServiceError> {
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
                    let metadata = self.meta.to_value();
                    let mut rows = serialize::<A>(self.id, sequence, &events, &metadata)?;
                    rows.extend(serialize::<Grantor>(
                        guard.grantor.as_str(),
                        grantor_sequence,
                        &granted,
                        &metadata,
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
                    back_off(attempt).await;
                }
                Err(other) => return Err(ServiceError::from_aggregate(other)),
            }
        }
        Err(ServiceError::Conflict)
    }
}

/// After the `attempt`th lost optimistic-concurrency race: exponential
/// backoff with full jitter, which spreads the racers out.
pub(super) async fn back_off(attempt: usize) {
    let ceiling_us = 1_000u64 << attempt.min(6);
    let random = u64::from_le_bytes(uuid::Uuid::new_v4().as_bytes()[..8].try_into().unwrap());
    tokio::time::sleep(Duration::from_micros(random % ceiling_us)).await;
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
pub(super) struct Guard<'a> {
    pub(super) grantors: &'a PersistedEventStore<Repository, Grantor>,
    pub(super) repository: &'a Repository,
    pub(super) policy: &'a Policy,
    pub(super) grantor: FiscalCode,
    /// [`GrantorCommand::ActFor`].
    pub(super) command: GrantorCommand,
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
/// spans two streams), each with `metadata`, a command's
/// [`Metadata::to_value`], encoded once for them all.
pub(super) fn serialize<A: Aggregate>(
    id: &str,
    sequence: usize,
    events: &[A::Event],
    metadata: &serde_json::Value,
) -> Result<Vec<SerializedEvent>, ServiceError> {
    events
        .iter()
        .enumerate()
        .map(|(i, event)| {
            // The fields cqrs-es's `SerializedEvent::try_from` fills from an
            // envelope, without the envelope's copies of the event and map.
            Ok(SerializedEvent {
                aggregate_id: id.to_owned(),
                sequence: sequence + i + 1,
                aggregate_type: A::TYPE.to_owned(),
                event_type: event.event_type(),
                event_version: event.event_version(),
                payload: serde_json::to_value(event)
                    .map_err(|e| ServiceError::from(PersistenceError::from(e)))?,
                metadata: metadata.clone(),
            })
        })
        .collect()
}

/// A command that says who issues it must say what the metadata says: the
/// rules judge the one, the audit trail records the other (D9, D12).
pub(super) fn check_issuer(command: &Command, meta: &Metadata) -> Result<(), ServiceError> {
    match command.issuer() {
        Some(by) if *by != meta.issuer() => Err(ServiceError::Misuse(
            "the command's issuer is not the metadata's actor",
        )),
        _ => Ok(()),
    }
}
