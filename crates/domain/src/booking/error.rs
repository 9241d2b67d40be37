//! Why a booking command is refused, with the stable codes of the HTTP contract.

use super::BookingId;
use crate::FiscalCode;

/// A booking rule refusing a command.
/// Serialisable, so that the events of a flow refused by it keep it
/// whole (its code and its data: the cap, the capacity...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum BookingError {
    /// B1: the citizen already has an active booking for this counter type.
    #[error("you already have an active booking for this type of counter (B1)")]
    CounterAlreadyBooked {
        /// The active booking held for the same counter type.
        existing: BookingId,
    },
    /// B2: the citizen already has as many active bookings as allowed.
    #[error("you already have {max} active bookings, the most allowed (B2)")]
    BookingLimitReached {
        /// The policy's limit.
        max: u32,
    },
    /// B3: the counter's schedule offers no slot starting at that time.
    #[error("the counter offers no slot starting at that time (B3)")]
    SlotNotOffered,
    /// B3/B5: the counter does not serve in that mode.
    #[error("the counter does not offer that mode (B5)")]
    ModeNotOffered,
    /// B4: every place in the slot is taken.
    #[error("the slot is full (B4)")]
    SlotFull {
        /// The slot's capacity.
        capacity: u32,
    },
    /// B6: the slot has started: too late to book it, or to cancel.
    #[error("the slot has already started (B6)")]
    SlotStarted,
    /// B8: a booking is marked served or missed once its slot has started.
    #[error("the slot has not started yet: a booking is served or missed from its start (B8)")]
    SlotNotStarted,
    /// B8: a web meeting's booking is settled by the meeting's end, not by
    /// an operator's mark.
    #[error("a web-meeting booking is served or missed by its meeting's outcome (B8)")]
    SettledByMeeting,
    /// B8: a booking is missed by itself only `missed_after_minutes` after
    /// its slot ended.
    #[error("the booking is not due to be missed yet: that happens {minutes} minutes after its slot ends (B8)")]
    NotYetMissed {
        /// The policy's delay.
        minutes: u32,
    },
    /// B5: a web meeting at the delegations counter, without the grantor's
    /// details.
    #[error("a web-meeting booking for the delegations counter needs the grantor's fiscal code, first and last name (B5)")]
    GrantorDetailsRequired,
    /// B5, D4: the grantor named is the booker; the would-be delegate books
    /// for someone else.
    #[error("the grantor must be someone other than the person booking (B5, D4)")]
    GrantorIsBooker,
    /// B6, B8: the booking is not in a stage that allows this: it was cancelled,
    /// refused, served or missed, or (to mark it served or missed) not confirmed.
    #[error("the booking is not active")]
    NotActive,
    /// M11: an operator handles the meetings and lists the days of their
    /// own office only.
    #[error("this is a booking of office {office}: operators of that office handle it (M11)")]
    OtherOffice {
        /// The booking's own office.
        office: crate::schedule::OfficeId,
    },
    /// The citizen has no booking with this id.
    #[error("no booking {0} for this citizen")]
    NotFound(BookingId),
    /// The same id was used for a different request.
    #[error("the booking id {0} is already used for another request")]
    IdAlreadyUsed(BookingId),
    /// A replayed reservation for a booking whose place was already given back.
    #[error("the place of booking {0} was already given back")]
    PlaceReleased(BookingId),
    /// Flow step: the place was held for a booking closed meanwhile; give it back.
    #[error("the booking {id} is no longer pending")]
    NoLongerPending {
        /// The booking the flow tried to confirm.
        id: BookingId,
        /// Who asked for the booking.
        booker: FiscalCode,
        /// The slot's ledger, where the place must be given back.
        slot_key: String,
    },
}

impl BookingError {
    /// The stable machine-readable code (`code` in the HTTP problem body).
    pub fn code(&self) -> &'static str {
        match self {
            Self::CounterAlreadyBooked { .. } => "counter_already_booked",
            Self::BookingLimitReached { .. } => "booking_limit_reached",
            Self::SlotNotOffered => "slot_not_offered",
            Self::ModeNotOffered => "mode_not_offered",
            Self::SlotFull { .. } => "slot_full",
            Self::SlotStarted => "slot_started",
            Self::SlotNotStarted => "slot_not_started",
            Self::NotYetMissed { .. } => "not_yet_missed",
            Self::SettledByMeeting => "settled_by_meeting",
            Self::GrantorDetailsRequired => "grantor_details_required",
            Self::GrantorIsBooker => "self_delegation",
            Self::NotActive => "not_active",
            Self::OtherOffice { .. } => "other_office",
            Self::NotFound(_) => "not_found",
            Self::IdAlreadyUsed(_) => "conflict",
            Self::NoLongerPending { .. } | Self::PlaceReleased(_) => "no_longer_pending",
        }
    }
}
