//! An offered slot, as instants, and when it has started (B6).

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::time::ROME;

/// An offered slot: from `start` to `end` (`start` plus the slot length, as
/// instants).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Slot {
    /// The instant the slot starts; B6 closes booking and cancelling then.
    pub start: DateTime<Utc>,
    /// The instant the slot ends; M1 closes joining then.
    pub end: DateTime<Utc>,
}

impl Slot {
    /// The start in Europe/Rome local time.
    pub fn local_start(&self) -> DateTime<Tz> {
        self.start.with_timezone(&ROME)
    }

    /// The end in Europe/Rome local time.
    pub fn local_end(&self) -> DateTime<Tz> {
        self.end.with_timezone(&ROME)
    }

    /// The local (Europe/Rome) date of the slot.
    pub fn local_date(&self) -> NaiveDate {
        self.local_start().date_naive()
    }

    /// B6: whether the slot has started at `now` (`now >= start`).
    pub fn has_started(&self, now: DateTime<Utc>) -> bool {
        has_started(self, now)
    }
}

/// B6: whether `slot` has started at `now`, i.e. `now >= slot.start`. A started
/// slot can no longer be booked (`slot_started`), nor its bookings cancelled.
pub fn has_started(slot: &Slot, now: DateTime<Utc>) -> bool {
    now >= slot.start
}
