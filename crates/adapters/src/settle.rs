//! B8's timer: a booking whose slot ended `missed_after_minutes` ago with
//! neither outcome recorded is missed, by itself.
//!
//! The timer keeps no state of its own: each step reads, from the read
//! models, the confirmed bookings whose slot has started, and marks missed
//! those whose slot ended long enough ago. So it survives restarts (what it
//! has not done yet is still there to do), and two timers, or a timer and
//! an operator, never settle a booking twice: the booker aggregate decides
//! each command on the stored state, and a booking already served or missed
//! refuses it. The instant each `BookingMissed` carries is the one the rule
//! names (the slot's end plus the delay), not the moment the timer ran, so
//! the log reads the same whenever it runs.
//!
//! A booking whose web meeting is under way (in the call, or registering the
//! delegation) is left to the meeting: its end settles the booking (served,
//! or missed on a no-show).

use std::sync::Arc;
use std::time::Duration;

use deleghe_domain::booking::{BookerCommand, BookingError, BookingStage, Settler};
use deleghe_domain::flows::{Command, Refusal};
use deleghe_domain::meeting::MeetingState;

use crate::clock::Clock;
use crate::error::ServiceError;
use crate::metadata::Metadata;
use crate::projection::{Projector, ReadSide};
use crate::readside::ts;
use crate::service::Deleghe;

/// Bookings read per query.
const PAGE: i64 = 256;

/// B8: marks missed the bookings whose slot ended unserved long enough ago.
pub struct BookingTimer {
    service: Arc<Deleghe>,
    side: ReadSide,
    projector: Projector,
    clock: Clock,
}

impl BookingTimer {
    /// A timer on `service`'s bookings, reading them from `side`, which
    /// `projector` brings up to the end of the log first.
    pub fn new(service: Arc<Deleghe>, side: ReadSide, projector: Projector, clock: Clock) -> Self {
        Self {
            service,
            side,
            projector,
            clock,
        }
    }

    /// One pass: marks missed every booking due; returns how many it marked.
    pub async fn step(&self) -> Result<usize, ServiceError> {
        self.projector.catch_up().await?;
        let now = (self.clock)();
        let delay =
            chrono::Duration::minutes(i64::from(self.service.policy().missed_after_minutes));
        let Some(started_before) = now.checked_sub_signed(delay) else {
            return Ok(0);
        };
        let meta = Metadata::new(deleghe_domain::Actor::System, "timer");
        let mut marked = 0;
        let (mut start, mut id) = (String::new(), String::new());
        loop {
            let rows = self
                .side
                .bookings_to_settle(&ts(started_before), (&start, &id), PAGE)
                .await?;
            let last_page = rows.len() < PAGE as usize;
            for row in rows {
                let b = &row.booking;
                (start, id) = (ts(b.slot.start), b.id.to_string());
                let due = b.slot.end + delay;
                let busy = matches!(
                    row.meeting.state(),
                    MeetingState::InCall | MeetingState::Registering
                );
                if b.stage != BookingStage::Confirmed || due > now || busy {
                    continue;
                }
                let command = Command::Booker {
                    id: b.booker.clone(),
                    command: BookerCommand::MarkMissed {
                        id: b.id.clone(),
                        by: Settler::Timer,
                        at: due,
                    },
                };
                match self.service.execute(&command, &meta).await {
                    Ok(events) => marked += usize::from(!events.is_empty()),
                    // Settled meanwhile, by an operator or a meeting.
                    Err(ServiceError::Rule(Refusal::Booking(BookingError::NotActive))) => {}
                    Err(error) => return Err(error),
                }
            }
            if last_page {
                return Ok(marked);
            }
        }
    }

    /// Runs until `shutdown` turns true, stepping at once and then every
    /// `every`.
    pub async fn run(self, every: Duration, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        loop {
            match self.step().await {
                Ok(n) if n > 0 => tracing::info!(bookings = n, "bookings missed (B8)"),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "booking timer will retry"),
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
