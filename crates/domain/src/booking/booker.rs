//! The booker aggregate: one citizen's bookings, and the limits B1, B2, B5, B6.

use chrono::{DateTime, Timelike, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::{slot_key, AccessCodeDigest, BookingError, BookingId, GrantorDetails, Phone};
use crate::schedule::{Counter, CounterId, Mode, OfficeId, Slot, DELEGATIONS_COUNTER_TYPE};
use crate::{FiscalCode, Policy};

/// Where a booking stands, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum BookingStage {
    /// Requested; its place in the slot not yet settled (flow in progress).
    Pending,
    /// B4: its place in the slot is held; the booking stands.
    Confirmed,
    /// B6: the citizen cancelled it before its slot started.
    Cancelled {
        /// The instant of the cancellation.
        at: DateTime<Utc>,
    },
    /// The booking flow ended refused: the slot had no place for it (B4).
    Refused {
        /// The instant the flow recorded the refusal.
        at: DateTime<Utc>,
        /// The refusing rule's code (e.g. `slot_full`).
        reason: String,
        /// The refusing rule's error whole; none when only the code is stored.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refusal: Option<BookingError>,
    },
    /// B8: the citizen was served.
    Served {
        /// The instant it was recorded.
        at: DateTime<Utc>,
    },
    /// B8: the citizen did not come.
    Missed {
        /// The instant it was recorded.
        at: DateTime<Utc>,
    },
}

impl BookingStage {
    /// The stage's name, as stored by the read side and as its serialised
    /// `stage` tag: `pending`, `confirmed`, `cancelled`, `refused`, `served`
    /// or `missed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Confirmed => "confirmed",
            Self::Cancelled { .. } => "cancelled",
            Self::Refused { .. } => "refused",
            Self::Served { .. } => "served",
            Self::Missed { .. } => "missed",
        }
    }
}

/// The status a client sees (B8). A confirmed booking stays confirmed until
/// it is served or missed, which B8 records by itself `missed_after_minutes`
/// after its slot ends; it is no longer active once its slot has ended (B2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    /// Requested; the booking flow has not ended.
    Pending,
    /// Its place is held and its slot is not over.
    Confirmed,
    /// B6: cancelled by the citizen.
    Cancelled,
    /// The booking flow refused it (B4: the slot was full).
    Refused,
    /// B8: the citizen was served.
    Served,
    /// B8: the citizen did not come.
    Missed,
}

impl BookingStatus {
    /// The status's wire name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Confirmed => "confirmed",
            Self::Cancelled => "cancelled",
            Self::Refused => "refused",
            Self::Served => "served",
            Self::Missed => "missed",
        }
    }
}

/// One booking (B7: what "Le mie prenotazioni" and the ticket show).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booking {
    /// Chosen by the requester, so that a retried request is recognised.
    pub id: BookingId,
    /// The citizen who booked; their stream holds the booking.
    pub booker: FiscalCode,
    /// The counter booked.
    pub counter: CounterId,
    /// B7: the counter's name when booked, as the ticket prints it.
    pub counter_name: String,
    /// B1: the counter's type when booked; one active booking per type.
    pub counter_type: String,
    /// M11: the counter's office, whose operators handle the booking.
    pub office: OfficeId,
    /// B3: the slot booked.
    pub slot: Slot,
    /// B4: the slot's capacity when booked, against which the flow reserves a place.
    pub capacity: u32,
    /// B5: how the appointment takes place.
    pub mode: Mode,
    /// B7: the reason the citizen gave ("Motivazione").
    pub reason: String,
    /// N1, N2: the mobile the booking's SMS go to.
    pub phone: Phone,
    /// B5: the grantor, for a web meeting at the delegations counter; none otherwise.
    pub grantor: Option<GrantorDetails>,
    /// M2, M10: the digest of the access code sent by SMS (N1), never the
    /// code; `None` for a stored booking that holds a plain code instead (it
    /// is dropped as it is read), whose meeting needs a new code (M10).
    #[serde(default, deserialize_with = "digest_or_legacy")]
    pub access_code: Option<AccessCodeDigest>,
    /// The instant of the request.
    pub requested_at: DateTime<Utc>,
    /// Where the booking stands, as stored.
    pub stage: BookingStage,
    /// B9: the operator who booked for the citizen, and from where; none
    /// when the citizen booked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booked_by: Option<BookedBy>,
    /// B10: the counter's letter in ticket codes when booked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_letter: Option<char>,
    /// B10: the number of its place in the slot, once held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<u32>,
}

/// B8: who records that a booking ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Settler {
    /// An operator of the office, once the slot has started.
    Operator,
    /// The end of the booking's web meeting (which may come before the
    /// slot's start: joining opens 15 minutes earlier, M1).
    Meeting,
    /// B8's own timer, `missed_after_minutes` after an unserved slot ended.
    Timer,
}

/// B9: where an operator books for a citizen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatorChannel {
    /// At the office's front desk ("prima accoglienza").
    FrontOffice,
    /// From the contact center, on the phone.
    ContactCenter,
}

impl OperatorChannel {
    /// The channel's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FrontOffice => "front_office",
            Self::ContactCenter => "contact_center",
        }
    }
}

/// B9: who made a booking for a citizen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookedBy {
    /// The operator, by staff id.
    pub operator: String,
    /// Where they booked from.
    pub channel: OperatorChannel,
}

impl Booking {
    /// B5, M1: a web meeting at the delegations counter, whose completion
    /// registers a delegation to the booker (as
    /// [`RequestBooking::registers_a_delegation`] judged its request). D12:
    /// a delegate acting for the booker neither asks for one nor cancels it.
    pub fn registers_a_delegation(&self) -> bool {
        registers_a_delegation(self.mode, &self.counter_type)
    }

    /// The status, as its stage records it (B8).
    pub fn status(&self) -> BookingStatus {
        match self.stage {
            BookingStage::Pending => BookingStatus::Pending,
            BookingStage::Confirmed => BookingStatus::Confirmed,
            BookingStage::Cancelled { .. } => BookingStatus::Cancelled,
            BookingStage::Refused { .. } => BookingStatus::Refused,
            BookingStage::Served { .. } => BookingStatus::Served,
            BookingStage::Missed { .. } => BookingStatus::Missed,
        }
    }

    /// B2: active until cancelled, served, missed, or its slot has ended
    /// (a pending one counts, so that concurrent requests cannot overshoot).
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        matches!(
            self.status(),
            BookingStatus::Pending | BookingStatus::Confirmed
        ) && now < self.slot.end
    }

    /// B10: the ticket code for the office's queue ("eliminacode"), once
    /// the booking holds its place: the counter's letter, the local hour as
    /// a letter (`A` for 00, `J` for 09...), the minutes, and the place's
    /// number in the slot, e.g. `DJ301` for the first place of 09:30 at
    /// counter `D`. Unique per office and day: the counters of an office
    /// have different letters, a slot has one start, and its ledger never
    /// numbers two places alike.
    pub fn ticket_code(&self) -> Option<String> {
        let place = self.place?;
        let start = self.slot.local_start();
        let hour = char::from(b'A' + u8::try_from(start.hour()).unwrap_or(0));
        Some(format!(
            "{}{hour}{:02}{place}",
            self.ticket_letter(),
            start.minute()
        ))
    }

    /// B10: the counter's letter in ticket codes, as it was when booked
    /// (for bookings made before B10, the first letter of the counter's id).
    pub fn ticket_letter(&self) -> char {
        self.ticket_letter
            .unwrap_or_else(|| crate::schedule::default_ticket_letter(&self.counter))
    }

    /// M11: whether an operator of `office` handles this booking (its
    /// meeting, its place in the day's list).
    pub fn check_office(&self, office: &str) -> Result<(), BookingError> {
        if self.office.as_str() == office {
            Ok(())
        } else {
            Err(BookingError::OtherOffice {
                office: self.office.clone(),
            })
        }
    }

    /// The booking a `BookingRequested` starts, pending; `None` for every
    /// other event, which changes a booking already started
    /// ([`Booking::apply`]).
    pub fn from_request(event: &BookerEvent) -> Option<Booking> {
        match event {
            BookerEvent::BookingRequested(booking) => Some((**booking).clone()),
            _ => None,
        }
    }

    /// Applies a stored event to this booking: no rules here, only state.
    /// The one place a booking's stage changes, for the booker aggregate and
    /// the read models alike. An event about another booking changes
    /// nothing, nor does the request that started this one.
    pub fn apply(&mut self, event: &BookerEvent) {
        if event.booking_id() != &self.id {
            return;
        }
        self.stage = match event {
            BookerEvent::BookingRequested(_) => return,
            BookerEvent::BookingConfirmed { place, .. } => {
                self.place = place.or(self.place);
                BookingStage::Confirmed
            }
            BookerEvent::BookingRefused {
                reason,
                refusal,
                at,
                ..
            } => BookingStage::Refused {
                at: *at,
                reason: reason.clone(),
                refusal: refusal.clone(),
            },
            BookerEvent::BookingCancelled { at, .. } => BookingStage::Cancelled { at: *at },
            BookerEvent::BookingServed { at, .. } => BookingStage::Served { at: *at },
            BookerEvent::BookingMissed { at, .. } => BookingStage::Missed { at: *at },
        };
    }

    /// B7: the actions the citizen may take now ("Azioni possibili").
    pub fn actions(&self, now: DateTime<Utc>) -> Vec<&'static str> {
        let mut actions = vec!["detail"];
        if self.stage == BookingStage::Confirmed {
            actions.push("ticket");
            if now < self.slot.start {
                actions.push("cancel");
            }
            if self.mode == Mode::WebMeeting && now < self.slot.end {
                actions.push("join_meeting");
            }
        }
        actions
    }
}

/// A request to book a slot (first step of the booking flow).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestBooking {
    /// Chosen by the caller, so that a retried request is recognised as the same one.
    pub id: BookingId,
    /// The citizen booking; the command goes to their stream.
    pub booker: FiscalCode,
    /// The counter as configured now (schedule and capacity).
    pub counter: Counter,
    /// B3: the start of the slot asked for; the counter must offer a slot starting then.
    pub start: DateTime<Utc>,
    /// B5: how the appointment is to take place; the counter must offer it.
    pub mode: Mode,
    /// B7: the reason for the booking ("Motivazione").
    pub reason: String,
    /// B5, N1: the mobile the booking's SMS go to.
    pub phone: Phone,
    /// B5: the grantor, required for a web meeting at the delegations counter and
    /// dropped for any other booking.
    pub grantor: Option<GrantorDetails>,
    /// M2: the digest of the code drawn by the caller and sent by SMS (N1).
    pub access_code: AccessCodeDigest,
    /// The instant of the request; B1, B2 and B6 are judged at it.
    pub at: DateTime<Utc>,
    /// B9: the operator booking for the citizen; none when the citizen books.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booked_by: Option<BookedBy>,
}

impl RequestBooking {
    /// B5, M1: a web meeting at the delegations counter, whose completion
    /// registers a delegation to the booker (the grantor named in the
    /// request is the one who delegates). D12: a delegate acting for a
    /// grantor may not ask for one in the grantor's name.
    pub fn registers_a_delegation(&self) -> bool {
        registers_a_delegation(self.mode, &self.counter.counter_type)
    }
}

/// B5, M1: whether a booking in `mode` at a counter of `counter_type` is a
/// web meeting at the delegations counter (one rule for a request and a
/// stored booking alike).
fn registers_a_delegation(mode: Mode, counter_type: &str) -> bool {
    mode == Mode::WebMeeting && counter_type == DELEGATIONS_COUNTER_TYPE
}

/// What may be asked of a citizen's bookings: the citizen's orders, and the
/// steps of the booking flow ([`flow`](super::flow)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BookerCommand {
    /// B1–B6: book a slot; the flow then reserves a place in it (B4).
    Request(Box<RequestBooking>),
    /// Flow step: the place is held.
    Confirm {
        /// The booking whose place is held.
        id: BookingId,
        /// B10: the place's number in the slot; none when the step repeats
        /// a reservation another driver made (that one brings the number).
        place: Option<u32>,
        /// The instant of the step, by the flow runner's clock.
        at: DateTime<Utc>,
    },
    /// Flow step: the slot refused the place, by the rule of `refusal`.
    Refuse {
        /// The booking whose place was refused.
        id: BookingId,
        /// The slot's rule that refused the place (B4).
        refusal: BookingError,
        /// The instant of the step, by the flow runner's clock.
        at: DateTime<Utc>,
    },
    /// B6: the citizen cancels, until the slot starts; the flow then gives the
    /// place back.
    Cancel {
        /// The booking to cancel.
        id: BookingId,
        /// The instant of the command; the slot must not have started then.
        at: DateTime<Utc>,
    },
    /// B8: the citizen was served (at the counter or in a meeting).
    MarkServed {
        /// The booking served.
        id: BookingId,
        /// Who settles it: an operator may only once the slot has started.
        by: Settler,
        /// The instant of the command.
        at: DateTime<Utc>,
    },
    /// B8: the citizen did not come.
    MarkMissed {
        /// The booking missed.
        id: BookingId,
        /// Who settles it: an operator may only once the slot has started.
        by: Settler,
        /// The instant of the command.
        at: DateTime<Utc>,
    },
}

/// What happened to a citizen's bookings, as stored in the booker's stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BookerEvent {
    /// B1–B6: a booking was requested, whole; it counts as active while pending
    /// (B2), and the flow reserves its place next.
    BookingRequested(Box<Booking>),
    /// B4: its place is held, so the booking is confirmed.
    BookingConfirmed {
        /// The booking.
        id: BookingId,
        /// Who booked it.
        booker: FiscalCode,
        /// B10: the place's number in the slot, when known (a confirmation
        /// without it is followed by one with it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        place: Option<u32>,
        /// The instant of the confirmation step.
        at: DateTime<Utc>,
    },
    /// The booking flow refused it: the slot had no place for it (B4).
    BookingRefused {
        /// The booking.
        id: BookingId,
        /// Who asked for it.
        booker: FiscalCode,
        /// The slot's ledger, where the flow closes the booking's place.
        slot_key: String,
        /// The refusing rule's code (e.g. `slot_full`).
        reason: String,
        /// The refusing rule's error whole; none when only the code is stored.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refusal: Option<BookingError>,
        /// The instant of the refusal step.
        at: DateTime<Utc>,
    },
    /// B6: the citizen cancelled it; the flow gives the place back, and N2's
    /// reminder is withdrawn.
    BookingCancelled {
        /// The booking.
        id: BookingId,
        /// Who booked it.
        booker: FiscalCode,
        /// The slot's ledger, where the flow gives the place back.
        slot_key: String,
        /// The instant of the cancellation.
        at: DateTime<Utc>,
    },
    /// B8: the citizen was served.
    BookingServed {
        /// The booking.
        id: BookingId,
        /// Who booked it.
        booker: FiscalCode,
        /// The instant of the command.
        at: DateTime<Utc>,
    },
    /// B8: the citizen did not come.
    BookingMissed {
        /// The booking.
        id: BookingId,
        /// Who booked it.
        booker: FiscalCode,
        /// The instant of the command.
        at: DateTime<Utc>,
    },
}

impl BookerEvent {
    /// The booking the event is about.
    pub fn booking_id(&self) -> &BookingId {
        match self {
            Self::BookingRequested(b) => &b.id,
            Self::BookingConfirmed { id, .. }
            | Self::BookingRefused { id, .. }
            | Self::BookingCancelled { id, .. }
            | Self::BookingServed { id, .. }
            | Self::BookingMissed { id, .. } => id,
        }
    }

    /// The instant the event carries: when it happened, by the clock of the
    /// command that produced it (a request's is the booking's `requested_at`).
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Self::BookingRequested(b) => b.requested_at,
            Self::BookingConfirmed { at, .. }
            | Self::BookingRefused { at, .. }
            | Self::BookingCancelled { at, .. }
            | Self::BookingServed { at, .. }
            | Self::BookingMissed { at, .. } => *at,
        }
    }
}

impl DomainEvent for BookerEvent {
    fn event_type(&self) -> String {
        match self {
            Self::BookingRequested(_) => "BookingRequested",
            Self::BookingConfirmed { .. } => "BookingConfirmed",
            Self::BookingRefused { .. } => "BookingRefused",
            Self::BookingCancelled { .. } => "BookingCancelled",
            Self::BookingServed { .. } => "BookingServed",
            Self::BookingMissed { .. } => "BookingMissed",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1.0".to_owned()
    }
}

/// Reads a booking's access code: a digest, or a plain code of a booking
/// stored before codes were kept as digests, which is dropped (`None`).
fn digest_or_legacy<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<AccessCodeDigest>, D::Error> {
    let stored: Option<String> = Option::deserialize(deserializer)?;
    Ok(stored.and_then(|s| AccessCodeDigest::parse(&s).ok()))
}

/// One citizen's bookings, oldest first. Stream id: the citizen's fiscal code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booker {
    bookings: Vec<Booking>,
}

impl Booker {
    /// Every booking, oldest first.
    pub fn bookings(&self) -> &[Booking] {
        &self.bookings
    }

    /// The booking with this id, if this citizen made it.
    pub fn booking(&self, id: &BookingId) -> Option<&Booking> {
        self.bookings.iter().find(|b| &b.id == id)
    }

    /// B2: the bookings active at `now`.
    pub fn active(&self, now: DateTime<Utc>) -> impl Iterator<Item = &Booking> {
        self.bookings.iter().filter(move |b| b.is_active(now))
    }

    fn find(&self, id: &BookingId) -> Result<&Booking, BookingError> {
        self.booking(id)
            .ok_or_else(|| BookingError::NotFound(id.clone()))
    }

    /// The pure decision. Flow steps are idempotent.
    pub fn decide(
        &self,
        command: BookerCommand,
        policy: &Policy,
    ) -> Result<Vec<BookerEvent>, BookingError> {
        match command {
            BookerCommand::Request(request) => self.decide_request(*request, policy),
            BookerCommand::Confirm { id, place, at } => {
                let b = self.find(&id)?;
                match b.stage {
                    BookingStage::Pending => Ok(vec![BookerEvent::BookingConfirmed {
                        id,
                        booker: b.booker.clone(),
                        place,
                        at,
                    }]),
                    // B10: confirmed by a repeat that did not know the
                    // place's number; the reservation's own step brings it.
                    BookingStage::Confirmed if b.place.is_none() && place.is_some() => {
                        Ok(vec![BookerEvent::BookingConfirmed {
                            id,
                            booker: b.booker.clone(),
                            place,
                            at,
                        }])
                    }
                    BookingStage::Confirmed
                    | BookingStage::Served { .. }
                    | BookingStage::Missed { .. } => Ok(vec![]),
                    _ => Err(BookingError::NoLongerPending {
                        id,
                        booker: b.booker.clone(),
                        slot_key: slot_key(&b.counter, &b.slot),
                    }),
                }
            }
            BookerCommand::Refuse { id, refusal, at } => {
                let b = self.find(&id)?;
                if b.stage != BookingStage::Pending {
                    return Ok(vec![]);
                }
                Ok(vec![BookerEvent::BookingRefused {
                    id,
                    booker: b.booker.clone(),
                    slot_key: slot_key(&b.counter, &b.slot),
                    reason: refusal.code().to_owned(),
                    refusal: Some(refusal),
                    at,
                }])
            }
            BookerCommand::Cancel { id, at } => {
                let b = self.find(&id)?;
                if b.stage != BookingStage::Confirmed && b.stage != BookingStage::Pending {
                    return Err(BookingError::NotActive);
                }
                if at >= b.slot.start {
                    return Err(BookingError::SlotStarted);
                }
                Ok(vec![BookerEvent::BookingCancelled {
                    id,
                    booker: b.booker.clone(),
                    slot_key: slot_key(&b.counter, &b.slot),
                    at,
                }])
            }
            BookerCommand::MarkServed { id, by, at } => {
                let b = self.find(&id)?;
                if by == Settler::Operator && b.mode == Mode::WebMeeting {
                    return Err(BookingError::SettledByMeeting);
                }
                let early = at < b.slot.start && by == Settler::Operator;
                if early && b.stage == BookingStage::Confirmed {
                    return Err(BookingError::SlotNotStarted);
                }
                match b.stage {
                    BookingStage::Confirmed => Ok(vec![BookerEvent::BookingServed {
                        id,
                        booker: b.booker.clone(),
                        at,
                    }]),
                    BookingStage::Served { .. } => Ok(vec![]),
                    _ => Err(BookingError::NotActive),
                }
            }
            BookerCommand::MarkMissed { id, by, at } => {
                let b = self.find(&id)?;
                if by == Settler::Operator && b.mode == Mode::WebMeeting {
                    return Err(BookingError::SettledByMeeting);
                }
                let early = at < b.slot.start && by == Settler::Operator;
                if early && b.stage == BookingStage::Confirmed {
                    return Err(BookingError::SlotNotStarted);
                }
                // B8: by itself, only once the slot ended long enough ago.
                let minutes = policy.missed_after_minutes;
                let due = b.slot.end + chrono::Duration::minutes(i64::from(minutes));
                if by == Settler::Timer && at < due && b.stage == BookingStage::Confirmed {
                    return Err(BookingError::NotYetMissed { minutes });
                }
                match b.stage {
                    BookingStage::Confirmed => Ok(vec![BookerEvent::BookingMissed {
                        id,
                        booker: b.booker.clone(),
                        at,
                    }]),
                    BookingStage::Missed { .. } => Ok(vec![]),
                    _ => Err(BookingError::NotActive),
                }
            }
        }
    }

    fn decide_request(
        &self,
        r: RequestBooking,
        policy: &Policy,
    ) -> Result<Vec<BookerEvent>, BookingError> {
        if let Some(existing) = self.booking(&r.id) {
            let same = existing.booker == r.booker
                && existing.counter == r.counter.id
                && existing.slot.start == r.start
                && existing.mode == r.mode;
            return if same {
                Ok(vec![])
            } else {
                Err(BookingError::IdAlreadyUsed(r.id))
            };
        }
        // B3: only what the counter's schedule offers.
        let slot = r
            .counter
            .offers(r.start)
            .ok_or(BookingError::SlotNotOffered)?;
        if !r.counter.offers_mode(r.mode) {
            return Err(BookingError::ModeNotOffered);
        }
        // B6.
        if r.at >= slot.start {
            return Err(BookingError::SlotStarted);
        }
        // B5.
        let needs_grantor = r.registers_a_delegation();
        if needs_grantor {
            match &r.grantor {
                None => return Err(BookingError::GrantorDetailsRequired),
                Some(g) if g.fiscal_code == r.booker => return Err(BookingError::GrantorIsBooker),
                Some(_) => {}
            }
        }
        // B1.
        if let Some(existing) = self
            .active(r.at)
            .find(|b| b.counter_type == r.counter.counter_type)
        {
            return Err(BookingError::CounterAlreadyBooked {
                existing: existing.id.clone(),
            });
        }
        // B2.
        let max = policy.max_active_bookings;
        if self.active(r.at).count() >= max as usize {
            return Err(BookingError::BookingLimitReached { max });
        }
        Ok(vec![BookerEvent::BookingRequested(Box::new(Booking {
            id: r.id,
            booker: r.booker,
            counter: r.counter.id.clone(),
            counter_name: r.counter.name.clone(),
            counter_type: r.counter.counter_type.clone(),
            office: r.counter.office.clone(),
            slot,
            capacity: r.counter.capacity(),
            mode: r.mode,
            reason: r.reason,
            phone: r.phone,
            grantor: if needs_grantor { r.grantor } else { None },
            access_code: Some(r.access_code),
            requested_at: r.at,
            stage: BookingStage::Pending,
            booked_by: r.booked_by,
            ticket_letter: Some(r.counter.ticket_letter()),
            place: None,
        }))])
    }

    fn get_mut(&mut self, id: &BookingId) -> Option<&mut Booking> {
        self.bookings.iter_mut().find(|b| &b.id == id)
    }
}

crate::aggregate::event_sourced!(Booker, "booker", BookerCommand, BookerEvent, BookingError);

impl Booker {
    /// Applies a stored event: a request starts a booking, every other event
    /// changes the one it names ([`Booking::apply`]).
    fn evolve(&mut self, event: BookerEvent) {
        if let Some(booking) = Booking::from_request(&event) {
            self.bookings.push(booking);
        } else if let Some(booking) = self.get_mut(event.booking_id()) {
            booking.apply(&event);
        }
    }
}
