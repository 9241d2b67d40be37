//! The booking flow across [`Booker`](super::Booker) (B1, B2) and
//! [`SlotLedger`](super::SlotLedger) (B4), as pure reactions; the same shape
//! as the delegation flow (ADR 0001).
//!
//! ```text
//! BookingRequested ──► ReservePlace ──ok──► PlaceReserved ──► Confirm
//!                           │                                  │ closed meanwhile
//!                           └─refused─► Refuse                 └──► ReleasePlace
//! BookingCancelled | BookingRefused ──► ReleasePlace
//! ```

use chrono::{DateTime, Utc};

use super::{slot_key, BookerCommand, BookerEvent, BookingError, SlotCommand, SlotEvent};
use crate::FiscalCode;

/// A command addressed to one booking aggregate instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BookingFlowCommand {
    /// A command for a citizen's bookings.
    Booker {
        /// The stream: the citizen's fiscal code.
        booker: FiscalCode,
        /// What the stream is asked.
        command: BookerCommand,
    },
    /// A command for a slot's ledger.
    Slot {
        /// The stream: the slot's key ([`slot_key`]).
        slot_key: String,
        /// What the stream is asked.
        command: SlotCommand,
    },
}

impl BookingFlowCommand {
    /// The stream the command goes to.
    pub fn aggregate_id(&self) -> &str {
        match self {
            Self::Booker { booker, .. } => booker.as_str(),
            Self::Slot { slot_key, .. } => slot_key,
        }
    }
}

/// What follows a stored booker event.
pub fn after_booker_event(event: &BookerEvent, now: DateTime<Utc>) -> Option<BookingFlowCommand> {
    match event {
        BookerEvent::BookingRequested(b) => Some(BookingFlowCommand::Slot {
            slot_key: slot_key(&b.counter, &b.slot),
            command: SlotCommand::ReservePlace {
                booking: b.id.clone(),
                booker: b.booker.clone(),
                capacity: b.capacity,
                at: now,
            },
        }),
        BookerEvent::BookingCancelled {
            id,
            booker,
            slot_key,
            ..
        }
        | BookerEvent::BookingRefused {
            id,
            booker,
            slot_key,
            ..
        } => Some(release(id, booker, slot_key, now)),
        BookerEvent::BookingConfirmed { .. }
        | BookerEvent::BookingServed { .. }
        | BookerEvent::BookingMissed { .. } => None,
    }
}

/// What follows a stored slot event.
pub fn after_slot_event(event: &SlotEvent, now: DateTime<Utc>) -> Option<BookingFlowCommand> {
    match event {
        SlotEvent::PlaceReserved {
            booking,
            booker,
            place,
            ..
        } => Some(BookingFlowCommand::Booker {
            booker: booker.clone(),
            command: BookerCommand::Confirm {
                id: booking.clone(),
                place: (*place > 0).then_some(*place),
                at: now,
            },
        }),
        SlotEvent::PlaceReleased { .. } => None,
    }
}

/// What follows a flow command that a rule refused.
pub fn after_refusal(
    command: &BookingFlowCommand,
    error: &BookingError,
    now: DateTime<Utc>,
) -> Option<BookingFlowCommand> {
    match (command, error) {
        (
            BookingFlowCommand::Slot {
                command:
                    SlotCommand::ReservePlace {
                        booking, booker, ..
                    },
                ..
            },
            error,
        ) => Some(BookingFlowCommand::Booker {
            booker: booker.clone(),
            command: BookerCommand::Refuse {
                id: booking.clone(),
                refusal: error.clone(),
                at: now,
            },
        }),
        (
            BookingFlowCommand::Booker {
                command: BookerCommand::Confirm { .. },
                ..
            },
            BookingError::NoLongerPending {
                id,
                booker,
                slot_key,
            },
        ) => Some(release(id, booker, slot_key, now)),
        _ => None,
    }
}

fn release(
    id: &super::BookingId,
    booker: &FiscalCode,
    slot_key: &str,
    now: DateTime<Utc>,
) -> BookingFlowCommand {
    BookingFlowCommand::Slot {
        slot_key: slot_key.to_owned(),
        command: SlotCommand::ReleasePlace {
            booking: id.clone(),
            booker: booker.clone(),
            at: now,
        },
    }
}
