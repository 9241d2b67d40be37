//! Why a meeting command is refused: one variant per broken rule, each with
//! the stable code of the HTTP contract.

use chrono::{DateTime, Utc};

use super::{MeetingState, Presence};
use crate::booking::BookingId;
use crate::delegation::DelegationId;
use crate::document::DocumentKind;
use crate::time::ROME;

/// A web-meeting rule refusing a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MeetingError {
    /// M1, M6: the meeting's booking is not active: not confirmed (cancelled,
    /// say), or its slot is over.
    #[error("the booking is not active (M1)")]
    BookingNotActive,
    /// M1: too early. The message is the citizen-facing sentence of the rule,
    /// word for word, with the opening time in Europe/Rome local time.
    #[error(
        "Gentile utente, la sua sessione di Spid in Delega sarà disponibile dalle {} del {}",
        .opens_at.with_timezone(&ROME).format("%H:%M"),
        .opens_at.with_timezone(&ROME).format("%d/%m/%Y")
    )]
    MeetingNotOpenYet {
        /// M1: the first instant at which joining is accepted.
        opens_at: DateTime<Utc>,
    },
    /// M1: the slot is over, or the meeting has ended.
    #[error("the meeting is closed (M1)")]
    MeetingClosed,
    /// M2: the code typed is not the one in force.
    #[error("the access code is wrong (M2)")]
    WrongAccessCode,
    /// M10: too many wrong codes in a row; an operator issues a new one.
    #[error("joining is locked after too many wrong access codes: an operator of the office issues a new code (M10)")]
    AccessCodeLocked,
    /// M3: only a citizen in the waiting room can be taken in charge.
    #[error("nobody is in the waiting room: the meeting is {state} (M3)")]
    NotWaiting {
        /// Where the meeting stands instead.
        state: MeetingState,
    },
    /// M3: nobody has joined yet, so there is nothing to act on.
    #[error("nobody has joined the meeting yet (M3)")]
    NotJoined,
    /// M5, M7: the call has not started (or has moved on).
    #[error("the meeting is not in call: it is {state} (M3)")]
    NotInCall {
        /// Where the meeting stands instead.
        state: MeetingState,
    },
    /// M7: the registration is running; wait for its outcome.
    #[error("the delegation is being registered (M7)")]
    Registering,
    /// M7: an outcome came back for a meeting that registers nothing.
    #[error("the meeting is not registering a delegation: it is {state} (M7)")]
    NotRegistering {
        /// Where the meeting stands instead.
        state: MeetingState,
    },
    /// M7: the outcome names a delegation other than the one requested.
    #[error("the meeting is registering delegation {expected}, not another (M7)")]
    DelegationMismatch {
        /// The delegation the completion asked to register.
        expected: DelegationId,
    },
    /// M4, M7: meetings are recorded and consent was not given.
    #[error("recording consent has not been given (M4)")]
    ConsentMissing,
    /// M5, M7: not all of presence and capacity were attested.
    #[error("both parties must be attested present and the grantor able to consent (M5)")]
    PartiesMissing {
        /// What the operator has attested so far.
        present: Presence,
    },
    /// M6, M7: a completion before both documents were attached.
    #[error("documents missing: {} (M6)", kinds(.missing))]
    DocumentsMissing {
        /// The required kinds not attached yet.
        missing: Vec<DocumentKind>,
    },
    /// The command's booking is not the one this meeting belongs to.
    #[error("this meeting belongs to booking {expected}")]
    BookingMismatch {
        /// The booking this meeting belongs to.
        expected: BookingId,
    },
}

fn kinds(missing: &[DocumentKind]) -> String {
    missing
        .iter()
        .map(DocumentKind::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

impl MeetingError {
    /// The stable machine-readable code (`code` in the HTTP problem body).
    pub fn code(&self) -> &'static str {
        match self {
            Self::BookingNotActive => "not_active",
            Self::MeetingNotOpenYet { .. } => "meeting_not_open_yet",
            Self::MeetingClosed => "meeting_closed",
            Self::WrongAccessCode => "wrong_access_code",
            Self::AccessCodeLocked => "access_code_locked",
            Self::NotWaiting { .. } => "not_waiting",
            Self::NotJoined => "not_joined",
            Self::NotInCall { .. } => "not_in_call",
            Self::Registering => "registration_in_progress",
            Self::NotRegistering { .. } => "not_registering",
            Self::DelegationMismatch { .. } => "delegation_mismatch",
            Self::ConsentMissing => "consent_missing",
            Self::PartiesMissing { .. } => "parties_missing",
            Self::DocumentsMissing { .. } => "documents_missing",
            Self::BookingMismatch { .. } => "booking_mismatch",
        }
    }
}
