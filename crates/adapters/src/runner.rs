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
