//! The slot ledger aggregate: the places taken in one slot of one counter
//! (B4), and the key that names its stream ([`SlotKey`]).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::{BookingError, BookingId};
use crate::schedule::{CounterId, Slot};
use crate::{FiscalCode, Policy};

/// The stream id of a slot's ledger: `counter@start`, the counter's id and
/// the slot's start in RFC 3339, UTC, to the second, e.g.
/// `deleghe-web-meeting@2026-12-01T08:00:00Z`. Neither a counter id nor an
/// RFC 3339 instant contains `@`, so the key splits back unambiguously.
///
/// ```
/// use deleghe_domain::booking::{slot_key, SlotKey};
/// use deleghe_domain::schedule::{Counter, OfficeId};
///
/// let counter = Counter::web_meeting_delegations(OfficeId::parse("DCM NAPOLI").unwrap());
/// let slot = counter.offers("2026-12-01T08:00:00Z".parse().unwrap()).unwrap();
/// let key = slot_key(&counter.id, &slot);
/// assert_eq!(key, "deleghe-web-meeting@2026-12-01T08:00:00Z");
/// let parsed = SlotKey::parse(&key).unwrap();
/// assert_eq!((parsed.counter(), parsed.start()), (&counter.id, slot.start));
/// assert_eq!(parsed.to_string(), key);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlotKey {
    counter: CounterId,
    start: DateTime<Utc>,
}

/// Why a string is not a [`SlotKey`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a slot key is a counter id, '@' and an RFC 3339 instant: {0:?}")]
pub struct SlotKeyError(pub String);

impl SlotKey {
    /// The key of the slot starting at `start` at `counter`. A key names its
    /// start to the second, as it spells it: a fraction of a second is
    /// dropped (slots start on whole minutes, B3).
    pub fn new(counter: CounterId, start: DateTime<Utc>) -> Self {
        Self {
            counter,
            start: start.trunc_subsecs(0),
        }
    }

    /// Splits `key` into its counter and start: the inverse of `to_string`.
    /// The start may be any RFC 3339 instant (it is read in UTC).
    pub fn parse(key: &str) -> Result<Self, SlotKeyError> {
        let error = || SlotKeyError(key.to_owned());
        let (counter, start) = key.rsplit_once('@').ok_or_else(error)?;
        let counter = CounterId::parse(counter).map_err(|_| error())?;
        let start = DateTime::parse_from_rfc3339(start).map_err(|_| error())?;
        Ok(Self::new(counter, start.with_timezone(&Utc)))
    }

    /// The counter whose slot it is.
    pub fn counter(&self) -> &CounterId {
        &self.counter
    }

    /// The instant the slot starts.
    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }
}

impl fmt::Display for SlotKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let start = self.start.to_rfc3339_opts(SecondsFormat::Secs, true);
        write!(f, "{}@{start}", self.counter)
    }
}

impl FromStr for SlotKey {
    type Err = SlotKeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The stream id of the ledger of `slot` at `counter`: its [`SlotKey`],
/// spelt out.
pub fn slot_key(counter: &CounterId, slot: &Slot) -> String {
    SlotKey::new(counter.clone(), slot.start).to_string()
}

/// Places held in one slot. Stream id: [`slot_key`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotLedger {
    places: BTreeMap<BookingId, FiscalCode>,
    /// Bookings whose place was given back (or closed untaken): a replayed
    /// reservation for them is refused, so recovery never re-takes a place.
    #[serde(default)]
    released: std::collections::BTreeSet<BookingId>,
    /// B10: places ever held in the slot; the next is numbered one more.
    #[serde(default)]
    reserved: u32,
}

/// What the booking flow asks of a slot's ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SlotCommand {
    /// Flow step: hold a place for a requested booking, under B4.
    ReservePlace {
        /// The booking the place is for.
        booking: BookingId,
        /// Who asked for the booking.
        booker: FiscalCode,
        /// The slot's capacity as configured (operators serving it).
        capacity: u32,
        /// The instant of the step, by the flow runner's clock.
        at: DateTime<Utc>,
    },
    /// Flow step: give the place back after a cancellation or refusal.
    ReleasePlace {
        /// The booking whose place is given back.
        booking: BookingId,
        /// Who asked for the booking.
        booker: FiscalCode,
        /// The instant of the step, by the flow runner's clock.
        at: DateTime<Utc>,
    },
}

/// What happened to a slot's places, as stored in the slot's ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SlotEvent {
    /// B4: a place is held for the booking, which the flow then confirms.
    PlaceReserved {
        /// The booking the place is for.
        booking: BookingId,
        /// Who asked for the booking.
        booker: FiscalCode,
        /// The instant of the reservation step.
        at: DateTime<Utc>,
        /// B10: the place's number in the slot, from 1, never given twice
        /// (0 in events stored before B10).
        #[serde(default)]
        place: u32,
    },
    /// The place is given back (or closed, if never taken): it is never taken again.
    PlaceReleased {
        /// The booking whose place is given back.
        booking: BookingId,
        /// Who asked for the booking.
        booker: FiscalCode,
        /// The instant of the release step.
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

    /// Whether `booking` holds a place in the slot.
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
                    place: self.reserved + 1,
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
                self.reserved += 1;
            }
            SlotEvent::PlaceReleased { booking, .. } => {
                self.places.remove(&booking);
                self.released.insert(booking);
            }
        }
    }
}
