//! The reference model of bookings: citizens and counters are numbers, a
//! step is a [`BookingStep`], and the model answers the outcome the rules
//! give it.
//!
//! [`counters`] are the counters the steps refer to: the web-meeting
//! delegations counter (capacity 2, settled by its meeting) and three
//! counters of other types (capacity 1), so that both B1 and B2 are
//! reached; [`slot_start`] gives each two slots in the first days of
//! December 2026.
//!
//! ```
//! use deleghe_domain::Policy;
//! use deleghe_testkit::model::booking::{counters, slot_start, BookingModel};
//! use deleghe_testkit::model::booking::t0;
//!
//! let mut model = BookingModel::new(Policy::default(), counters());
//! let start = slot_start(&model.counters[1], 0);
//! assert_eq!(model.expect_book(0, 1, start, t0()), Ok(()));
//! model.booked(0, 1, start);
//! // B1: one active booking per counter type.
//! assert_eq!(model.expect_book(0, 1, start, t0()), Err("counter_already_booked"));
//! ```

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc, Weekday};
use deleghe_domain::schedule::{
    Counter, CounterId, Mode, OfficeId, OpeningInterval, WeeklySchedule,
};
use deleghe_domain::Policy;

/// One step of a booking history, on citizens and counters numbered from 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BookingStep {
    /// `citizen` books a slot (`0` or `1`) of `counter`.
    Book {
        /// The booker's number.
        citizen: usize,
        /// The counter's number in [`counters`].
        counter: usize,
        /// Which of the counter's two slots.
        slot: usize,
    },
    /// `citizen` cancels their `nth` booking (modulo how many they have).
    Cancel {
        /// The booker's number.
        citizen: usize,
        /// Which of their bookings.
        nth: usize,
    },
    /// Time passes.
    Advance {
        /// Whole hours.
        hours: i64,
    },
    /// B8: an operator marks one of a citizen's bookings served or missed.
    Mark {
        /// The booker's number.
        citizen: usize,
        /// Which of their bookings (modulo how many they have).
        nth: usize,
        /// Served, or missed.
        served: bool,
    },
    /// B8: the timer's pass over every booking not ended.
    Timer,
}

/// Monday 30 November 2026, 08:00 in Rome: when the booking histories start.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 7, 0, 0).unwrap()
}

/// The web-meeting delegations counter (capacity 2) and three counters of
/// other types, in person, 09:00–10:00 on weekdays, 30-minute slots of
/// capacity 1.
pub fn counters() -> Vec<Counter> {
    let office = OfficeId::parse("DCM NAPOLI").expect("an office");
    let mut all = vec![Counter::web_meeting_delegations(office.clone())];
    for kind in ["pensioni", "anagrafica", "invalidita"] {
        all.push(Counter {
            id: CounterId::parse(kind).expect("a counter id"),
            name: kind.to_uppercase(),
            office: office.clone(),
            counter_type: kind.to_owned(),
            modes: vec![Mode::InPerson],
            schedule: WeeklySchedule::uniform(
                [
                    Weekday::Mon,
                    Weekday::Tue,
                    Weekday::Wed,
                    Weekday::Thu,
                    Weekday::Fri,
                ],
                &[OpeningInterval::new(
                    NaiveTime::from_hms_opt(9, 0, 0).expect("09:00"),
                    NaiveTime::from_hms_opt(10, 0, 0).expect("10:00"),
                )],
                30,
                1,
            )
            .expect("a schedule"),
            ticket_letter: None,
        });
    }
    all
}

/// The start of `counter`'s slot `ix` (modulo 2): the first two it offers
/// in the six days from [`t0`].
pub fn slot_start(counter: &Counter, ix: usize) -> DateTime<Utc> {
    let from = t0().date_naive();
    let slots = counter
        .slots_between(from, from + Duration::days(6))
        .expect("the counter's slots");
    slots[ix % 2].start
}

/// A booking of the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelBooking {
    /// The booker's number.
    pub citizen: usize,
    /// The counter's number.
    pub counter: usize,
    /// The slot's start.
    pub start: DateTime<Utc>,
    /// The slot's end.
    pub end: DateTime<Utc>,
    /// Cancelled by its booker.
    pub cancelled: bool,
    /// B8: `Some(true)` served, `Some(false)` missed.
    pub ended: Option<bool>,
}

impl ModelBooking {
    /// B2, B8: counted as active at `now`.
    pub fn active(&self, now: DateTime<Utc>) -> bool {
        !self.cancelled && self.ended.is_none() && now < self.end
    }

    /// Its status's wire name: `cancelled`, `served`, `missed` or
    /// `confirmed`.
    pub fn status(&self) -> &'static str {
        match (self.cancelled, self.ended) {
            (true, _) => "cancelled",
            (false, Some(true)) => "served",
            (false, Some(false)) => "missed",
            (false, None) => "confirmed",
        }
    }
}

/// The model's state: the policy, the counters, every booking confirmed.
#[derive(Debug, Clone)]
pub struct BookingModel {
    /// The policy (B2's maximum, B8's delay).
    pub policy: Policy,
    /// The counters the steps refer to by number.
    pub counters: Vec<Counter>,
    /// Every booking confirmed, in order.
    pub bookings: Vec<ModelBooking>,
}

impl BookingModel {
    /// No booking yet.
    pub fn new(policy: Policy, counters: Vec<Counter>) -> Self {
        Self {
            policy,
            counters,
            bookings: Vec::new(),
        }
    }

    /// The indices of `citizen`'s bookings, in order.
    pub fn of(&self, citizen: usize) -> Vec<usize> {
        (0..self.bookings.len())
            .filter(|i| self.bookings[*i].citizen == citizen)
            .collect()
    }

    /// B1, B2, B4, B6: what booking the slot of `counter` at `start` by
    /// `citizen` at `now` gives.
    pub fn expect_book(
        &self,
        citizen: usize,
        counter: usize,
        start: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), &'static str> {
        let kind = &self.counters[counter].counter_type;
        let mine: Vec<_> = self
            .bookings
            .iter()
            .filter(|b| b.citizen == citizen && b.active(now))
            .collect();
        if now >= start {
            Err("slot_started")
        } else if mine
            .iter()
            .any(|b| &self.counters[b.counter].counter_type == kind)
        {
            Err("counter_already_booked")
        } else if mine.len() >= self.policy.max_active_bookings as usize {
            Err("booking_limit_reached")
        } else if self
            .bookings
            .iter()
            .filter(|b| b.counter == counter && b.start == start && !b.cancelled)
            .count()
            >= self.counters[counter].capacity() as usize
        {
            Err("slot_full")
        } else {
            Ok(())
        }
    }

    /// Records the booking the system confirmed.
    pub fn booked(&mut self, citizen: usize, counter: usize, start: DateTime<Utc>) {
        let end = self.counters[counter]
            .offers(start)
            .expect("an offered slot")
            .end;
        self.bookings.push(ModelBooking {
            citizen,
            counter,
            start,
            end,
            cancelled: false,
            ended: None,
        });
    }

    /// B6: what cancelling booking `i` at `now` gives.
    pub fn expect_cancel(&self, i: usize, now: DateTime<Utc>) -> Result<(), &'static str> {
        let b = &self.bookings[i];
        if b.cancelled || b.ended.is_some() {
            Err("not_active")
        } else if now >= b.start {
            Err("slot_started")
        } else {
            Ok(())
        }
    }

    /// B8: what an operator's mark of booking `i` (served or missed) at
    /// `now` gives.
    pub fn expect_mark(
        &self,
        i: usize,
        served: bool,
        now: DateTime<Utc>,
    ) -> Result<(), &'static str> {
        let b = &self.bookings[i];
        if b.counter == 0 {
            Err("settled_by_meeting")
        } else if b.cancelled {
            Err("not_active")
        } else if let Some(was_served) = b.ended {
            if was_served == served {
                Ok(())
            } else {
                Err("not_active")
            }
        } else if now < b.start {
            Err("slot_not_started")
        } else {
            Ok(())
        }
    }

    /// B8: what the timer's mark of booking `i` (not ended) as missed at
    /// `now` gives.
    pub fn expect_timer(&self, i: usize, now: DateTime<Utc>) -> Result<(), &'static str> {
        let due_after = Duration::minutes(i64::from(self.policy.missed_after_minutes));
        if now < self.bookings[i].end + due_after {
            Err("not_yet_missed")
        } else {
            Ok(())
        }
    }
}
