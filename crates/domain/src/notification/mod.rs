//! Notifications (N1–N7): what the citizen is told, by which channel, and when.
//!
//! This module is a pure policy. It turns domain events into [`OutboxOp`]s,
//! either scheduling a [`Notification`] or withdrawing one not yet sent, and
//! does no I/O: the current instant comes in as `now`, and the contacts a
//! message goes to (N7) are those the citizen keeps when it is sent, which
//! the outbox adapter looks up then ([`Channel::Mobile`], [`Channel::Io`]).
//! An outbox adapter (outside this
//! crate) stores the operations in the same transaction as, or from, the event
//! log and a worker dispatches each notification once it is due (docs/CONVENTIONS.md, habit 10).
//!
//! Layout:
//! - `model`: [`Channel`] (SMS, MyINPS calendar notice, IO
//!   app), [`Notification`], [`OutboxOp`], [`Contact`];
//! - [`keys`]: the idempotency keys (N6);
//! - [`IoMessage`]: the validated content of an IO message (N5);
//! - [`on_booking_event`]: N1 confirmation SMS, N2 reminder SMS and its
//!   withdrawal, N3 calendar notice, N5 IO copy of the summary;
//! - [`on_booking_acted_for`]: N7, D9 a booking asked for or cancelled by a
//!   delegate acting for the booker, told to the booker on every channel;
//! - [`on_meeting_event`]: M10 the SMS with a new access code;
//! - [`on_delegation_event`]: N4, N7 registration, confirmation, rejection,
//!   revocation and expiry, told to grantor and delegate on every channel;
//! - [`access_code_placeholder`]: how a message carries an access code that
//!   no store holds (M2, M10).
//!
//! # Idempotency (N6)
//!
//! Delivery is at least once: a worker that crashes after sending and before
//! recording it sends again, and an event may be handled more than once (a
//! retried projection, a rebuilt outbox). So every notification carries a
//! `key` that is a deterministic function of the ids in the event that caused
//! it, the channel and the purpose, never of `now` or of anything random:
//! handling the same event twice yields the same keys, and the adapter keeps
//! one notification per key (and passes the key to the gateway, where it
//! supports one). Ids are made of letters, digits, `-` and `_`, so the `:`
//! separated keys cannot collide across kinds. A [`OutboxOp::Withdraw`] names
//! the key of the notification it cancels; the adapter drops it if not yet
//! sent (and does not schedule it again when the same `Schedule` is replayed).
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use deleghe_domain::delegation::{
//!     Channel, Delegation, DelegationId, GrantorEvent, RevocationChannel, Role,
//! };
//! use deleghe_domain::notification::{on_delegation_event, OutboxOp};
//! use deleghe_domain::{FiscalCode, Policy};
//!
//! let grantor = FiscalCode::parse("RSSMRA85T10A562S").unwrap();
//! let delegate = FiscalCode::parse("VRDLGU70A01H501O").unwrap();
//! let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
//! let id = DelegationId::parse("d-1").unwrap();
//! let delegation = Delegation::requested(&GrantorEvent::DelegationRequested {
//!     id: id.clone(),
//!     grantor: grantor.clone(),
//!     delegate: delegate.clone(),
//!     role: Role::Ordinary,
//!     channel: Channel::Counter,
//!     ends_on: None,
//!     meeting: None,
//!     evidence: Default::default(),
//!     at,
//! })
//! .unwrap();
//! let event = GrantorEvent::DelegationRevoked {
//!     id,
//!     grantor,
//!     delegate,
//!     channel: RevocationChannel::Counter,
//!     at,
//! };
//! // N7: each party is told in the personal area, by SMS to the mobile in
//! // their contacts and in the IO app (the last two as the contacts say
//! // when they are sent).
//! let ops = on_delegation_event(&event, &delegation, &Policy::default(), at);
//! let scheduled: Vec<_> = ops.iter().filter_map(OutboxOp::notification).collect();
//! assert_eq!(scheduled.len(), 6);
//! assert_eq!(scheduled[1].key, "delegation:d-1:revoked:grantor:mobile");
//! assert!(scheduled[1].body.contains("VRDLGU70A01H501O"));
//! ```

mod booking;
mod codes;
mod delegation;
mod io;
pub mod keys;
mod model;
mod text;

pub use booking::{
    meeting_link, on_booking_acted_for, on_booking_event, on_meeting_event, CALENDAR_TITLE,
};
pub use codes::{access_code_placeholder, fill_access_codes, PlaceholderError};
pub use delegation::{on_delegation_event, DelegationNotice, Party};
pub use io::{
    IoMessage, IoMessageError, IO_FOOTER, IO_MARKDOWN_MAX, IO_MARKDOWN_MIN, IO_SUBJECT_MAX,
    IO_SUBJECT_MIN,
};
pub use model::{Channel, Contact, Notification, OutboxOp};

#[cfg(test)]
mod tests;
