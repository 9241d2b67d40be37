//! Web meetings (M1–M10): the video call in which an operator registers a
//! delegation for a grantor and a delegate who booked the web-meeting
//! delegations counter.
//!
//! [`Meeting`] is an aggregate whose stream id is the booking id. It does not
//! read the booking: a join carries what it needs of it ([`MeetingBooking`]),
//! and the first join keeps a snapshot so that later commands need not.
//! Every command carries its instant (`at`); nothing reads the clock.
//!
//! ```text
//! scheduled ─Join─► waiting_room ─TakeInCharge─► in_call ─Complete─► registering
//!     │                  │                          │                     │
//!     │ Abandon          │ Abandon, Consent(false)  │ Abandon,            │ RecordOutcome
//!     ▼                  ▼                          ▼ Consent(false)      ▼
//!   ended              ended                      ended                 ended
//! ```
//!
//! A completion does not register the delegation itself: the delegation rules
//! D1–D3 live in the [`delegation`](crate::delegation) aggregates. The
//! `CompletionRequested` event names the registration to run
//! ([`registration_request`]); a flow outside this module runs it (channel
//! `web_meeting`) and reports its end with [`MeetingCommand::RecordOutcome`],
//! which ends the meeting registered or refused with the rule's code (M7).
//!
//! Layout: `model` holds the values and the read view, `error` the
//! refusals with their codes, `aggregate` the decisions. Every decision is a
//! pure function ([`Meeting::decide`]) of state, command and
//! [`Policy`](crate::Policy); `apply` holds no rules.

mod aggregate;
mod error;
mod model;

pub use aggregate::{registration_request, EndedBooking, Meeting, MeetingCommand, MeetingEvent};
pub use error::MeetingError;
pub use model::{
    AbandonReason, BookingSnapshot, MeetingBooking, MeetingState, MeetingView, Outcome, Presence,
    RegistrationResult, REQUIRED_DOCUMENTS,
};

#[cfg(test)]
mod tests;
