//! The flow runner: reads the log from its checkpoint and drives every
//! event's follow-up steps to their end, so that after a crash at any step a
//! restart completes or compensates every flow that was in progress (D10).
//!
//! Delivery is at least once: the checkpoint moves past an event only after
//! all its follow-ups are done, and every step is idempotent, so steps the
//! crashed request (or an earlier run) already took are no-ops.

use std::sync::Arc;
use std::time::Duration;

use cqrs_es::persist::EventUpcaster;
use deleghe_domain::flows;

use crate::error::ServiceError;
use crate::events::{decode, Payload};
use crate::service::Deleghe;

/// The checkpoint name of the flow runner.
pub const CHECKPOINT: &str = "flow-runner";

/// The metadata key, and its value, that an event of a flow decided whole
/// and to its end carries (ADR 0015, ADR 0017): every step its events call
/// for was decided and appended with it, so the runner passes it by.
pub const FLOW: &str = "flow";
/// See [`FLOW`].
pub const SETTLED: &str = "settled";

/// Marks `row` as an event of a flow settled in the append that stores it.
pub(crate) fn mark_settled(row: &mut cqrs_es::persist::SerializedEvent) {
    if let serde_json::Value::Object(map) = &mut row.metadata {
        map.insert(FLOW.to_owned(), serde_json::Value::from(SETTLED));
    }
}

/// Drives every logged event's follow-up steps to their end (D10), from its
/// checkpoint ([`CHECKPOINT`]), one batch of events at a time.
pub struct FlowRunner {
    service: Arc<Deleghe>,
    upcasters: Vec<Box<dyn EventUpcaster>>,
    batch: usize,
}

impl FlowRunner {
    /// A runner for `service` and its store, with the library's upcasters and
    /// batches of 256 events.
    pub fn new(service: Arc<Deleghe>) -> Self {
        Self {
            service,
            upcasters: crate::upcast::upcasters(),
            batch: 256,
        }
    }

    /// Handles up to one batch of events after the checkpoint; returns how
    /// many were handled. The checkpoint is saved once, at the end of the
    /// batch; an error saves it on the last event fully handled, then
    /// returns. (Once a batch, not once an event: most events have no
    /// follow-up, and a durable commit each was most of what the runner
    /// cost the store. A crash mid-batch hands the batch's handled events
    /// to the next run again: their steps are no-ops by then.)
    pub async fn step(&self) -> Result<usize, ServiceError> {
        let repository = self.service.repository();
        let from = repository.checkpoint(CHECKPOINT).await?;
        let batch = repository.read_log(from, self.batch).await?;
        let mut handled = 0;
        let mut done = None;
        let mut outcome = Ok(());
        for stored in batch {
            let position = stored.position;
            if let Err(error) = self.handle(stored).await {
                outcome = Err(error);
                break;
            }
            done = Some(position);
            handled += 1;
        }
        if let Some(position) = done {
            repository.save_checkpoint(CHECKPOINT, position).await?;
        }
        outcome.map(|()| handled)
    }

    /// Drives the follow-up steps of one stored event to their end.
    async fn handle(&self, stored: crate::store::Positioned) -> Result<(), ServiceError> {
        let logged = decode(stored, &self.upcasters)?;
        if logged.metadata.get(FLOW).is_some_and(|v| v == SETTLED) {
            return Ok(());
        }
        if let Payload::Process(event) = &logged.payload {
            let now = self.service.now();
            let next = flows::react(event, now);
            if !next.is_empty() {
                let correlation = logged
                    .metadata
                    .get("correlation_id")
                    .cloned()
                    .unwrap_or_default();
                self.service.drive(next, &correlation).await?;
            }
        }
        Ok(())
    }

    /// Handles every event stored so far.
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

    /// Runs until `shutdown` turns true, polling the log every `every`.
    pub async fn run(self, every: Duration, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        loop {
            match self.catch_up().await {
                Ok(n) if n > 0 => tracing::debug!(events = n, "flow runner caught up"),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "flow runner will retry"),
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
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use deleghe_domain::delegation::{DelegationId, Stage};
    use deleghe_domain::flows::Command;
    use deleghe_domain::{Actor, Policy};

    use super::{FlowRunner, FLOW, SETTLED};
    use crate::metadata::Metadata;
    use crate::service::Deleghe;
    use crate::test_fixtures::{code, request};

    /// ADR 0017: the events of a registration a caller decided whole, to
    /// its end, carry the settled mark; those of one stopped after its
    /// first step (the failpoint, as a crash) carry none, and the runner
    /// finishes that one (D10).
    #[tokio::test]
    async fn d10_only_a_flow_decided_to_its_end_is_marked_settled_and_the_runner_finishes_the_rest()
    {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let service = Arc::new(
            Deleghe::in_memory(Policy::default()).with_failpoint(Arc::new(move |c: &Command| {
                stopping.load(Ordering::SeqCst) && matches!(c, Command::Delegate { .. })
            })),
        );
        let settled = |metadata: &serde_json::Value| metadata[FLOW] == SETTLED;

        let (grantor, delegate) = (code("RSSMRA85T10A562"), code("BNCGNN80A01F205"));
        let meta = Metadata::new(Actor::Citizen(grantor.clone()), "web");
        let d = service
            .register_delegation(request("d-1", &grantor, &delegate), &meta)
            .await
            .unwrap();
        assert_eq!(d.stage, Stage::Active);
        let whole = service.repository().read_log(0, 100).await.unwrap();
        assert_eq!(whole.len(), 3, "request, seat, completion");
        assert!(whole.iter().all(|e| settled(&e.event.metadata)));

        stop.store(true, Ordering::SeqCst);
        let other = code("VRDLGU70A01H501");
        let meta = Metadata::new(Actor::Citizen(other.clone()), "web");
        assert!(service
            .register_delegation(request("d-2", &other, &delegate), &meta)
            .await
            .is_err());
        stop.store(false, Ordering::SeqCst);
        let stopped = service.repository().read_log(3, 100).await.unwrap();
        assert_eq!(stopped.len(), 1, "the request only");
        assert!(!settled(&stopped[0].event.metadata));

        FlowRunner::new(Arc::clone(&service))
            .catch_up()
            .await
            .unwrap();
        let registered = service.grantor(&other).await.unwrap();
        assert_eq!(
            registered
                .delegation(&DelegationId::parse("d-2").unwrap())
                .unwrap()
                .stage,
            Stage::Active
        );
    }
}
