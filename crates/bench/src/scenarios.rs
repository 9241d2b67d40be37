//! The operations the load tool times, each a closure that one load task
//! calls again and again: a single-aggregate command, the whole online
//! registration, a booking, a revocation (through [`Deleghe`]), and the bare
//! cqrs-es baseline.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::Utc;
use cqrs_es::persist::{PersistedEventRepository, PersistedEventStore};
use cqrs_es::CqrsFramework;
use deleghe_adapters::Deleghe;
use deleghe_domain::booking::BookingStage;
use deleghe_domain::delegation::{DelegationId, RevocationChannel, Stage};
use deleghe_domain::flows::Command;
use deleghe_domain::schedule::{Counter, Slot};
use deleghe_domain::FiscalCode;

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
