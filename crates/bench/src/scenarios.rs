//! The operations the load tool times, each a closure that one load task
//! calls again and again: a single-aggregate command, the whole online
//! registration, the counter registration as `POST /v1/counter/delegations`
//! makes it, a booking, a revocation (through [`Deleghe`]), and the bare
//! cqrs-es baseline.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use cqrs_es::persist::{PersistedEventRepository, PersistedEventStore, SerializedEvent};
use cqrs_es::CqrsFramework;
use deleghe_adapters::documents::DocumentStore;
use deleghe_adapters::projection::DelegationView;
use deleghe_adapters::{Deleghe, Repository};
use deleghe_domain::booking::BookingStage;
use deleghe_domain::delegation::{
    Channel, DelegationId, Evidence, EvidenceDocument, RequestDelegation, RevocationChannel, Role,
    Stage,
};
use deleghe_domain::document::DocumentDigest;
use deleghe_domain::flows::Command;
use deleghe_domain::schedule::{Counter, Slot};
use deleghe_domain::{FiscalCode, Policy};

use crate::bare::{Tally, TallyCommand};
use crate::fixtures;
use crate::stats::OpError;

/// One timed operation.
pub type OpFuture = Pin<Box<dyn Future<Output = Result<(), OpError>> + Send>>;

/// One command on one aggregate, nothing after it: a grantor's request
/// (D1, D4, D5, D7) on a new grantor, through `Deleghe::execute` (load,
/// decide, append with optimistic concurrency). The flow it would start is
/// not driven: this is the library's counterpart of one `CqrsFramework::execute`.
pub fn single_command(
    service: Arc<Deleghe>,
) -> impl Fn() -> OpFuture + Clone + Send + Sync + 'static {
    move || {
        let service = service.clone();
        Box::pin(async move {
            let grantor = fixtures::code(fixtures::next());
            let delegate = fixtures::code(fixtures::next());
            let meta = fixtures::citizen(&grantor);
            let request =
                fixtures::registration(fixtures::next(), grantor.clone(), delegate, Utc::now());
            let command = Command::Grantor {
                id: grantor,
                command: request.issued_by(meta.issuer()),
            };
            let events = service.execute(&command, &meta).await?;
            if events.len() != 1 {
                return Err(OpError::Failed(format!(
                    "{} events, expected 1",
                    events.len()
                )));
            }
            Ok(())
        })
    }
}

/// The events one online registration appends, captured from one made
/// through `service` on `repository`: the template of
/// [`registration_statements`].
pub async fn registration_template(
    service: &Arc<Deleghe>,
    repository: &Repository,
) -> Result<Vec<SerializedEvent>, String> {
    let head = repository.log_head().await.map_err(|e| e.to_string())?;
    registration(service.clone())()
        .await
        .map_err(|e| format!("a registration failed: {e:?}"))?;
    let events: Vec<SerializedEvent> = repository
        .read_log(head, 100)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|p| p.event)
        .collect();
    let streams = streams_of(&events).len();
    if streams != 2 {
        return Err(format!(
            "a registration appended to {streams} streams, expected 2"
        ));
    }
    Ok(events)
}

/// Each stream `events` name, `(aggregate_type, aggregate_id)`, once, in
/// the order of their first event.
fn streams_of(events: &[SerializedEvent]) -> Vec<(String, String)> {
    let mut streams: Vec<(String, String)> = Vec::new();
    for e in events {
        let stream = (e.aggregate_type.clone(), e.aggregate_id.clone());
        if !streams.contains(&stream) {
            streams.push(stream);
        }
    }
    streams
}

/// Floor (c) of the online registration: what the store does for one, with
/// no rules and no service: its two streams read in one round trip (as a
/// flow decided whole reads them, ADR 0019), then the events a registration
/// appends (`template`, from [`registration_template`]) appended again, all
/// or none, under two new streams' ids, through the store port (the
/// repository's `persist`). The registration over this figure is what the
/// rules, the service and the flow cost beyond the store's own statements.
pub fn registration_statements(
    repository: Repository,
    template: Arc<Vec<SerializedEvent>>,
) -> impl Fn() -> OpFuture + Clone + Send + Sync + 'static {
    let streams = Arc::new(streams_of(&template));
    move || {
        let (repository, template, streams) =
            (repository.clone(), template.clone(), streams.clone());
        Box::pin(async move {
            let ids: Vec<String> = streams
                .iter()
                .map(|_| fixtures::code(fixtures::next()).to_string())
                .collect();
            let named: Vec<(&str, &str)> = streams
                .iter()
                .zip(&ids)
                .map(|((t, _), id)| (t.as_str(), id.as_str()))
                .collect();
            let read = repository.read_streams(&named).await?;
            if read.iter().any(|s| !s.is_empty()) {
                return Err(OpError::Failed("a new stream held events".into()));
            }
            let events: Vec<SerializedEvent> = template
                .iter()
                .map(|e| {
                    let at = streams
                        .iter()
                        .position(|(t, id)| *t == e.aggregate_type && *id == e.aggregate_id)
                        .expect("a stream of the template");
                    SerializedEvent {
                        aggregate_id: ids[at].clone(),
                        ..e.clone()
                    }
                })
                .collect();
            repository.persist::<Tally>(&events, None).await?;
            Ok(())
        })
    }
}

/// The whole online registration (ADR 0001): request on the grantor, seat
/// on the delegate, completion on the grantor, and the answer read back:
/// `Deleghe::register_delegation`, as the app calls it.
pub fn registration(
    service: Arc<Deleghe>,
) -> impl Fn() -> OpFuture + Clone + Send + Sync + 'static {
    move || {
        let service = service.clone();
        Box::pin(async move {
            let grantor = fixtures::code(fixtures::next());
            let delegate = fixtures::code(fixtures::next());
            let meta = fixtures::citizen(&grantor);
            let request = fixtures::registration(fixtures::next(), grantor, delegate, Utc::now());
            let delegation = service.register_delegation(request, &meta).await?;
            if delegation.stage != Stage::Active {
                return Err(OpError::Failed(format!("stage {:?}", delegation.stage)));
            }
            Ok(())
        })
    }
}

/// What `POST /v1/counter/delegations` needs besides the service: the
/// document store, the store (for the log's head), the policy (for the
/// answer's view) and the digests of the documents the operator uploaded
/// once, as `bench/http.sh` does.
#[derive(Clone)]
pub struct CounterDesk {
    pub service: Arc<Deleghe>,
    pub documents: Arc<dyn DocumentStore>,
    pub repository: Repository,
    pub policy: Policy,
    pub digests: Arc<Vec<String>>,
    pub phases: Arc<CounterPhases>,
}

/// Where the counter registrations' time went: each phase summed over the
/// operations that completed, in nanoseconds.
#[derive(Default)]
pub struct CounterPhases {
    ops: AtomicU64,
    uploads: AtomicU64,
    documents: AtomicU64,
    register: AtomicU64,
    answer: AtomicU64,
}

impl CounterPhases {
    pub fn reset(&self) {
        for n in [
            &self.ops,
            &self.uploads,
            &self.documents,
            &self.register,
            &self.answer,
        ] {
            n.store(0, Ordering::Relaxed);
        }
    }

    /// Operations, then the mean of each phase: each document looked up as
    /// the operator's upload (ADR 0016), each checked to be stored,
    /// `register_delegation`,
    /// the answer (the view and the log's head).
    pub fn means(&self) -> (u64, [Duration; 4]) {
        let ops = self.ops.load(Ordering::Relaxed);
        let mean = |n: &AtomicU64| Duration::from_nanos(n.load(Ordering::Relaxed) / ops.max(1));
        (
            ops,
            [
                mean(&self.uploads),
                mean(&self.documents),
                mean(&self.register),
                mean(&self.answer),
            ],
        )
    }
}

/// The counter registration of `POST /v1/counter/delegations`, the app's
/// handler (`crates/app/src/routes/delegations.rs`, `counter_create`) call
/// for call, minus HTTP, JSON and the token's check: the operator's uploads
/// loaded (D11), each named document checked to be one of them and read
/// from the document store, the registration (request, seat, completion:
/// `Deleghe::register_delegation`) on the counter channel with that
/// evidence, then what the answer costs: the delegation's view, and the
/// log's head read for its `Position` (ADR 0014, the app's `stamp` layer).
/// Each between two citizens never seen before, as `bench/http/register.lua`.
pub fn counter_registration(
    desk: CounterDesk,
) -> impl Fn() -> OpFuture + Clone + Send + Sync + 'static {
    move || {
        let desk = desk.clone();
        Box::pin(async move {
            let grantor = fixtures::code(fixtures::next());
            let delegate = fixtures::code(fixtures::next());
            let meta = fixtures::operator();
            let by = meta.issuer();
            let began = Instant::now();
            // D11: each document named, as this operator uploaded it (ADR 0016).
            let mut evidence = Vec::with_capacity(desk.digests.len());
            for text in desk.digests.iter() {
                let sha256 = DocumentDigest::parse(text)?;
                let unknown = || OpError::Failed(format!("unknown document {text}"));
                let uploaded = desk
                    .service
                    .uploaded(&by, sha256.as_str())
                    .await?
                    .ok_or_else(unknown)?;
                evidence.push(EvidenceDocument {
                    kind: uploaded.kind,
                    sha256,
                });
            }
            let loaded = Instant::now();
            for document in &evidence {
                if !desk.documents.contains(document.sha256.as_str()).await? {
                    return Err(OpError::Failed(format!(
                        "document {} swept",
                        document.sha256
                    )));
                }
            }
            let checked = Instant::now();
            let request = RequestDelegation {
                id: DelegationId::parse(&uuid::Uuid::new_v4().to_string()).expect("a valid id"),
                grantor,
                delegate,
                role: Role::Ordinary,
                channel: Channel::Counter,
                ends_on: None,
                meeting: None,
                evidence: Evidence::new(evidence),
                at: Utc::now(),
            };
            let delegation = desk.service.register_delegation(request, &meta).await?;
            let registered = Instant::now();
            let view = DelegationView::of(&delegation, Utc::now(), &desk.policy);
            desk.repository.log_head().await?;
            let answered = Instant::now();
            if delegation.stage != Stage::Active {
                return Err(OpError::Failed(format!("stage {:?}", delegation.stage)));
            }
            std::hint::black_box(view);
            let phases = &desk.phases;
            let nanos = |d: Duration| d.as_nanos() as u64;
            phases.ops.fetch_add(1, Ordering::Relaxed);
            phases
                .uploads
                .fetch_add(nanos(loaded - began), Ordering::Relaxed);
            phases
                .documents
                .fetch_add(nanos(checked - loaded), Ordering::Relaxed);
            phases
                .register
                .fetch_add(nanos(registered - checked), Ordering::Relaxed);
            phases
                .answer
                .fetch_add(nanos(answered - registered), Ordering::Relaxed);
            Ok(())
        })
    }
}

/// A booking (B1–B6) of a new citizen in a slot of its own: request on the
/// citizen, place in the slot, confirmation; `Deleghe::book`.
pub fn booking(
    service: Arc<Deleghe>,
    counter: Arc<Counter>,
    slots: Arc<Vec<Slot>>,
    next_slot: Arc<AtomicUsize>,
) -> impl Fn() -> OpFuture + Clone + Send + Sync + 'static {
    move || {
        let service = service.clone();
        let counter = counter.clone();
        let slots = slots.clone();
        let next_slot = next_slot.clone();
        Box::pin(async move {
            let Some(slot) = slots
                .get(next_slot.fetch_add(1, Ordering::Relaxed))
                .copied()
            else {
                return Err(OpError::Exhausted);
            };
            let n = fixtures::next();
            let booker = fixtures::code(n);
            let meta = fixtures::citizen(&booker);
            let request = fixtures::booking(n, booker, &counter, &slot, Utc::now());
            let booking = service.book(request, &meta).await?;
            if booking.stage != BookingStage::Confirmed {
                return Err(OpError::Failed(format!("stage {:?}", booking.stage)));
            }
            Ok(())
        })
    }
}

/// Delegations registered more than 30 days ago, waiting to be revoked.
pub type RevocationPool = Arc<Mutex<Vec<(FiscalCode, DelegationId)>>>;

/// An online revocation by the grantor (D8) of a delegation from `pool`,
/// and the seat's release on the delegate: `Deleghe::revoke_delegation`.
pub fn revocation(
    service: Arc<Deleghe>,
    pool: RevocationPool,
) -> impl Fn() -> OpFuture + Clone + Send + Sync + 'static {
    move || {
        let service = service.clone();
        let pool = pool.clone();
        Box::pin(async move {
            let Some((grantor, id)) = pool.lock().expect("not poisoned").pop() else {
                return Err(OpError::Exhausted);
            };
            let meta = fixtures::citizen(&grantor);
            let delegation = service
                .revoke_delegation(&grantor, &id, RevocationChannel::Online, Utc::now(), &meta)
                .await?;
            if !matches!(delegation.stage, Stage::Revoked { .. }) {
                return Err(OpError::Failed(format!("stage {:?}", delegation.stage)));
            }
            Ok(())
        })
    }
}

/// Baseline (a): `CqrsFramework::execute` of the trivial aggregate on a new
/// stream (one read that finds nothing, one event appended), like the
/// single-command scenario.
pub fn bare<R>(
    cqrs: Arc<CqrsFramework<Tally, PersistedEventStore<R, Tally>>>,
) -> impl Fn() -> OpFuture + Clone + Send + Sync + 'static
where
    R: PersistedEventRepository + Send + Sync + 'static,
{
    move || {
        let cqrs = cqrs.clone();
        Box::pin(async move {
            let id = format!("tally-{}", fixtures::next());
            cqrs.execute(&id, TallyCommand::Add(1)).await?;
            Ok(())
        })
    }
}
