//! Values of the web meeting: where it stands, who was attested present, how
//! it ended, and the read view of `GET /v1/bookings/{id}/meeting` (M1–M9).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::booking::{AccessCodeDigest, BookingId, GrantorDetails};
use crate::delegation::DelegationId;
use crate::document::{DocumentKind, DocumentRef};
use crate::schedule::Slot;
use crate::FiscalCode;

/// Where a meeting stands (the `state` of docs/APP.md). M9: the operator's console
/// lists the bookings of the day by this value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeetingState {
    /// Nobody has joined yet.
    #[default]
    Scheduled,
    /// M3: the citizen joined and waits for an operator.
    WaitingRoom,
    /// M3: an operator took the booking in charge; the call is on.
    InCall,
    /// M7: completion requested; the delegation is being registered (D1–D3).
    Registering,
    /// The meeting is over; its [`Outcome`] says how.
    Ended,
}

impl MeetingState {
    /// The wire name, as in serde.
    pub fn as_str(self) -> &'static str {
        match self {
            MeetingState::Scheduled => "scheduled",
            MeetingState::WaitingRoom => "waiting_room",
            MeetingState::InCall => "in_call",
            MeetingState::Registering => "registering",
            MeetingState::Ended => "ended",
        }
    }
}

impl fmt::Display for MeetingState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// M5: what the operator attested. Everything is `false` until attested.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Presence {
    /// The grantor is in the call.
    pub grantor: bool,
    /// The delegate (the booker) is in the call.
    pub delegate: bool,
    /// The grantor can state their will in full awareness.
    pub grantor_able_to_consent: bool,
}

impl Presence {
    /// M5: both parties present and the grantor able to consent.
    pub fn is_complete(&self) -> bool {
        self.grantor && self.delegate && self.grantor_able_to_consent
    }
}

/// How a meeting ended. Serialised with its name in `kind`, e.g.
/// `{"kind": "registration_refused", "code": "delegate_cap_reached"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// M4: recording consent was denied; the service is not provided.
    ConsentDenied,
    /// M7: the delegation was registered (channel `web_meeting`).
    DelegationRegistered {
        /// The delegation registered.
        delegation_id: DelegationId,
    },
    /// M7: a rule (D1–D3) refused the registration.
    RegistrationRefused {
        /// The refusing rule's code (e.g. `delegate_cap_reached`).
        code: String,
    },
    /// M8: the grantor did not attend.
    GrantorAbsent,
    /// M8: nobody showed up.
    NoShow,
    /// M8: the technology failed.
    TechnicalFailure,
    /// M8: documents missing or invalid.
    DocumentsInvalid,
}

impl Outcome {
    /// The wire name, as in serde's `kind`.
    pub fn code(&self) -> &'static str {
        match self {
            Outcome::ConsentDenied => "consent_denied",
            Outcome::DelegationRegistered { .. } => "delegation_registered",
            Outcome::RegistrationRefused { .. } => "registration_refused",
            Outcome::GrantorAbsent => "grantor_absent",
            Outcome::NoShow => "no_show",
            Outcome::TechnicalFailure => "technical_failure",
            Outcome::DocumentsInvalid => "documents_invalid",
        }
    }

    /// Whether the meeting achieved its purpose (M7).
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::DelegationRegistered { .. })
    }
}

/// M8: why an operator ends a meeting without a registration (the body of
/// `POST .../meeting/abandon`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AbandonReason {
    /// The grantor did not attend.
    GrantorAbsent,
    /// Nobody showed up.
    NoShow,
    /// The technology failed.
    TechnicalFailure,
    /// The documents were missing or not valid.
    DocumentsInvalid,
}

impl From<AbandonReason> for Outcome {
    fn from(reason: AbandonReason) -> Self {
        match reason {
            AbandonReason::GrantorAbsent => Outcome::GrantorAbsent,
            AbandonReason::NoShow => Outcome::NoShow,
            AbandonReason::TechnicalFailure => Outcome::TechnicalFailure,
            AbandonReason::DocumentsInvalid => Outcome::DocumentsInvalid,
        }
    }
}

/// M7: how the registration started by a completion ended, as reported back
/// by the flow that ran it under D1–D3.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum RegistrationResult {
    /// The delegation was registered.
    Registered {
        /// The delegation registered.
        delegation_id: DelegationId,
    },
    /// A rule (D1–D3) refused the registration.
    Refused {
        /// The refusing rule's code (e.g. `grantor_already_has_delegate`).
        code: String,
    },
}

impl From<RegistrationResult> for Outcome {
    fn from(result: RegistrationResult) -> Self {
        match result {
            RegistrationResult::Registered { delegation_id } => {
                Outcome::DelegationRegistered { delegation_id }
            }
            RegistrationResult::Refused { code } => Outcome::RegistrationRefused { code },
        }
    }
}

/// What a join needs to know of the booking (M1, M2). The meeting does not
/// read the booking: the caller passes this along with the command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingBooking {
    /// The booking, whose id is also the meeting's stream id.
    pub booking_id: BookingId,
    /// The would-be delegate, who made the booking (B5).
    pub booker: FiscalCode,
    /// B5: the grantor named in the booking.
    pub grantor: GrantorDetails,
    /// M1: the booked slot; joining opens before its start and closes at its end.
    pub slot: Slot,
    /// M2: the digest of the code sent by SMS (N1); `None` if the booking
    /// has none (M10: an operator issues a new one).
    pub access_code: Option<AccessCodeDigest>,
    /// `false` once the booking is cancelled.
    pub active: bool,
}

/// The part of the booking a meeting keeps from its first join, so that later
/// commands need not carry it. Never the access code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingSnapshot {
    /// The meeting's booking.
    pub booking_id: BookingId,
    /// The would-be delegate, who made the booking.
    pub booker: FiscalCode,
    /// B5: the grantor named in the booking.
    pub grantor: GrantorDetails,
    /// M1: the booked slot.
    pub slot: Slot,
}

/// The read view of `GET /v1/bookings/{id}/meeting` (docs/APP.md), also what the
/// operator's console shows (M9):
///
/// ```json
/// {"state": "in_call", "consent": true,
///  "present": {"grantor": true, "delegate": true, "grantor_able_to_consent": true},
///  "documents": [{"kind": "aa08", "sha256": "...", "bytes": 48213}],
///  "outcome": null}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingView {
    /// Where the meeting stands; M9's console lists bookings by it.
    pub state: MeetingState,
    /// M4: `null` until asked.
    pub consent: Option<bool>,
    /// M12: whether the identification part is being recorded now.
    #[serde(default)]
    pub recording: bool,
    /// M5: what the operator has attested.
    pub present: Presence,
    /// M6: the latest document of each kind.
    pub documents: Vec<DocumentRef>,
    /// `null` until the meeting ends.
    pub outcome: Option<Outcome>,
}

/// M6, M7: the document kinds a successful meeting needs.
pub const REQUIRED_DOCUMENTS: [DocumentKind; 2] =
    [DocumentKind::Aa08, DocumentKind::IdentityDocument];

impl MeetingBooking {
    /// What a meeting needs of its booking, at `now`; `None` unless the
    /// booking is a web meeting for the delegations counter (B5).
    pub fn of(
        booking: &crate::booking::Booking,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<Self> {
        Some(Self {
            booking_id: booking.id.clone(),
            booker: booking.booker.clone(),
            grantor: booking.grantor.clone()?,
            slot: booking.slot,
            access_code: booking.access_code.clone(),
            active: booking.stage == crate::booking::BookingStage::Confirmed
                && now < booking.slot.end,
        })
    }
}
