//! Bookings ("Prenota accesso in sede", B1–B7).
//!
//! As with delegations, the limits live on two entities: a citizen's
//! bookings ([`Booker`]: B1 one per counter type, B2 at most
//! `max_active_bookings`, B5, B6) and a slot's places ([`SlotLedger`]: B4
//! capacity). A booking is requested on the citizen, then a place is reserved
//! in the slot, then the booking is confirmed ([`flow`]); a cancellation gives
//! the place back. See `docs/adr/0001-cross-entity-invariants.md`.
//!
//! A booking changes in one place: [`Booking::from_request`] starts it and
//! [`Booking::apply`] follows it, for the booker aggregate and the read
//! models alike. A slot ledger's stream is named by its [`SlotKey`].

mod booker;
mod error;
pub mod flow;
mod model;
mod slot_ledger;
mod ticket;

pub use booker::{
    BookedBy, Booker, BookerCommand, BookerEvent, Booking, BookingStage, BookingStatus,
    OperatorChannel, RequestBooking, Settler,
};
pub use error::BookingError;
pub use model::{
    AccessCode, AccessCodeDigest, AccessCodeDigestError, AccessCodeError, BookingId,
    BookingIdError, GrantorDetails, GrantorDetailsError, Phone, PhoneError,
};
pub use slot_ledger::{slot_key, SlotCommand, SlotEvent, SlotKey, SlotKeyError, SlotLedger};
pub use ticket::Ticket;

#[cfg(test)]
mod tests;
