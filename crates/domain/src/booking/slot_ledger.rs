//! The slot ledger aggregate: the places taken in one slot of one counter (B4).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::{BookingError, BookingId};
use crate::{FiscalCode, Policy};

/// Places held in one slot. Stream id: [`slot_key`](super::slot_key).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotLedger {
    places: BTreeMap<BookingId, FiscalCode>,
    /// Bookings whose place was given back (or closed untaken): a replayed
    /// reservation for them is refused, so recovery never re-takes a place.
    #[serde(default)]
    released: std::collections::BTreeSet<BookingId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SlotCommand {
    /// Flow step: hold a place for a requested booking, under B4.
    ReservePlace {
        booking: BookingId,
        booker: FiscalCode,
        /// The slot's capacity as configured (operators serving it).
        capacity: u32,
        at: DateTime<Utc>,
    },
    /// Flow step: give the place back after a cancellation or refusal.
    ReleasePlace {
        booking: BookingId,
        booker: FiscalCode,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SlotEvent {
    PlaceReserved {
        booking: BookingId,
        booker: FiscalCode,
        at: DateTime<Utc>,
    },
    PlaceReleased {
        booking: BookingId,
        booker: FiscalCode,
        at: DateTime<Utc>,
    },
}

impl SlotEvent {
    /// The booking whose place the event is about.
    pub fn booking_id(&self) -> &BookingId {
        match self {
            Self::PlaceReserved { booking, .. } | Self::PlaceReleased { booking, .. } => booking,
        }
    }

    /// B4: whether the booking holds its place after the event.
    pub fn holds_place(&self) -> bool {
        matches!(self, Self::PlaceReserved { .. })
    }

    /// The instant the event carries: when it happened, by the clock of the
    /// command that produced it.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Self::PlaceReserved { at, .. } | Self::PlaceReleased { at, .. } => *at,
        }
    }
}

impl DomainEvent for SlotEvent {
    fn event_type(&self) -> String {
        match self {
            Self::PlaceReserved { .. } => "PlaceReserved",
            Self::PlaceReleased { .. } => "PlaceReleased",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1.0".to_owned()
    }
}

impl SlotLedger {
    /// B4: places held now.
    pub fn taken(&self) -> usize {
        self.places.len()
    }

    pub fn holds(&self, booking: &BookingId) -> bool {
        self.places.contains_key(booking)
    }

    /// The pure decision; both steps are idempotent.
    pub fn decide(
        &self,
        command: SlotCommand,
        _policy: &Policy,
    ) -> Result<Vec<SlotEvent>, BookingError> {
        match command {
            SlotCommand::ReservePlace {
                booking,
                booker,
                capacity,
                at,
            } => {
                if self.places.contains_key(&booking) {
                    return Ok(vec![]);
                }
                if self.released.contains(&booking) {
                    return Err(BookingError::PlaceReleased(booking));
                }
                if self.places.len() >= capacity as usize {
                    return Err(BookingError::SlotFull { capacity });
                }
                Ok(vec![SlotEvent::PlaceReserved {
                    booking,
                    booker,
                    at,
                }])
            }
            SlotCommand::ReleasePlace {
                booking,
                booker,
                at,
            } => {
                if self.released.contains(&booking) {
                    return Ok(vec![]);
                }
                Ok(vec![SlotEvent::PlaceReleased {
                    booking,
                    booker,
                    at,
                }])
            }
        }
    }
}

crate::aggregate::event_sourced!(SlotLedger, "slot", SlotCommand, SlotEvent, BookingError);

impl SlotLedger {
    /// Applies a stored event: no rules here, only state.
    fn evolve(&mut self, event: SlotEvent) {
        match event {
            SlotEvent::PlaceReserved {
                booking, booker, ..
            } => {
                self.places.insert(booking, booker);
            }
            SlotEvent::PlaceReleased { booking, .. } => {
                self.places.remove(&booking);
                self.released.insert(booking);
            }
        }
    }
}
