//! B3: a counter's opening hours, week by week, and the slots they cut
//! each local date into.

use std::collections::BTreeSet;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc, Weekday,
};
use serde::{Deserialize, Serialize};

use super::{ScheduleError, Slot};
use crate::time::ROME;

/// Opening hours in local (Europe/Rome) time, from `start` to `end` on the same
/// day. Checked when it becomes part of a [`WeeklySchedule`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OpeningInterval {
    /// When the counter opens.
    pub start: NaiveTime,
    /// When it closes, on the same day; no slot ends after it.
    pub end: NaiveTime,
}

impl OpeningInterval {
    /// Opening hours from `start` to `end`, to be checked by the schedule.
    pub fn new(start: NaiveTime, end: NaiveTime) -> Self {
        Self { start, end }
    }
}

/// The opening hours of one weekday, as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayHours {
    /// The weekday.
    pub day: Weekday,
    /// Its opening hours: one or more, not overlapping, as the schedule requires.
    pub intervals: Vec<OpeningInterval>,
}

/// B3: when a counter is open. Opening days, each with one or more opening
/// intervals in local time (they may differ between weekdays), the slot
/// length, the number of operators per slot (capacity) and closed dates
/// (holidays). Each interval is cut into consecutive slots from its start; a
/// last slot that would end after the interval is dropped.
///
/// Built only through [`WeeklySchedule::new`] (or deserialisation, which runs
/// the same checks), so a value is always valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "WeeklyScheduleConfig", into = "WeeklyScheduleConfig")]
pub struct WeeklySchedule {
    /// Indexed by `Weekday::num_days_from_monday`; sorted, non-overlapping.
    hours: [Vec<OpeningInterval>; 7],
    slot_minutes: u32,
    capacity: u32,
    closed_dates: BTreeSet<NaiveDate>,
}

/// The serialised form of a [`WeeklySchedule`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeeklyScheduleConfig {
    /// The opening days, each with its hours.
    pub days: Vec<DayHours>,
    /// The length of every slot, in minutes.
    pub slot_minutes: u32,
    /// B4: bookings one slot can hold (operators serving it).
    pub capacity: u32,
    /// Local dates on which no slot is offered (holidays).
    #[serde(default)]
    pub closed_dates: Vec<NaiveDate>,
}

impl TryFrom<WeeklyScheduleConfig> for WeeklySchedule {
    type Error = ScheduleError;
    fn try_from(c: WeeklyScheduleConfig) -> Result<Self, Self::Error> {
        Ok(Self::new(
            c.days.into_iter().map(|d| (d.day, d.intervals)),
            c.slot_minutes,
            c.capacity,
        )?
        .with_closed_dates(c.closed_dates))
    }
}

impl From<WeeklySchedule> for WeeklyScheduleConfig {
    fn from(s: WeeklySchedule) -> Self {
        let days = s
            .opening_days()
            .map(|day| DayHours {
                day,
                intervals: s.intervals(day).to_vec(),
            })
            .collect();
        Self {
            days,
            slot_minutes: s.slot_minutes,
            capacity: s.capacity,
            closed_dates: s.closed_dates.into_iter().collect(),
        }
    }
}

/// The days of the week, Monday first.
pub(super) const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

impl WeeklySchedule {
    /// Builds a schedule from the opening intervals of each opening day.
    ///
    /// Refused: no opening day, a day given twice or without intervals, an
    /// interval whose end is not after its start or that is shorter than one
    /// slot, overlapping intervals on a day (touching is fine), a slot length
    /// or a capacity of zero. An interval need not be a multiple of the slot
    /// length.
    pub fn new<D, I>(days: D, slot_minutes: u32, capacity: u32) -> Result<Self, ScheduleError>
    where
        D: IntoIterator<Item = (Weekday, I)>,
        I: IntoIterator<Item = OpeningInterval>,
    {
        if slot_minutes == 0 {
            return Err(ScheduleError::SlotLengthZero);
        }
        if capacity == 0 {
            return Err(ScheduleError::CapacityZero);
        }
        let slot = Duration::minutes(i64::from(slot_minutes));
        let mut hours: [Vec<OpeningInterval>; 7] = Default::default();
        let mut seen = [false; 7];
        for (day, intervals) in days {
            let i = day.num_days_from_monday() as usize;
            if seen[i] {
                return Err(ScheduleError::DuplicateDay(day));
            }
            seen[i] = true;
            let mut list: Vec<OpeningInterval> = intervals.into_iter().collect();
            if list.is_empty() {
                return Err(ScheduleError::NoIntervals(day));
            }
            for iv in &list {
                if iv.end <= iv.start {
                    return Err(ScheduleError::IntervalEndNotAfterStart {
                        day,
                        start: iv.start,
                        end: iv.end,
                    });
                }
                if iv.end - iv.start < slot {
                    return Err(ScheduleError::IntervalShorterThanSlot {
                        day,
                        start: iv.start,
                        end: iv.end,
                        slot_minutes,
                    });
                }
            }
            list.sort_by_key(|iv| iv.start);
            if list.windows(2).any(|w| w[1].start < w[0].end) {
                return Err(ScheduleError::IntervalsOverlap { day });
            }
            hours[i] = list;
        }
        if !seen.iter().any(|s| *s) {
            return Err(ScheduleError::NoOpeningDays);
        }
        Ok(Self {
            hours,
            slot_minutes,
            capacity,
            closed_dates: BTreeSet::new(),
        })
    }

    /// The same opening intervals on every day in `days`.
    pub fn uniform(
        days: impl IntoIterator<Item = Weekday>,
        intervals: &[OpeningInterval],
        slot_minutes: u32,
        capacity: u32,
    ) -> Result<Self, ScheduleError> {
        Self::new(
            days.into_iter().map(|d| (d, intervals.to_vec())),
            slot_minutes,
            capacity,
        )
    }

    /// Adds closed dates (holidays): no slot is offered on them.
    #[must_use]
    pub fn with_closed_dates(mut self, dates: impl IntoIterator<Item = NaiveDate>) -> Self {
        self.closed_dates.extend(dates);
        self
    }

    /// The opening days, Monday first.
    pub fn opening_days(&self) -> impl Iterator<Item = Weekday> + '_ {
        WEEK.into_iter()
            .filter(|d| !self.hours[d.num_days_from_monday() as usize].is_empty())
    }

    /// Whether the counter opens on `day` (closed dates aside).
    pub fn is_open_on(&self, day: Weekday) -> bool {
        !self.intervals(day).is_empty()
    }

    /// The opening intervals of `day`, in order; empty on a closing day.
    pub fn intervals(&self, day: Weekday) -> &[OpeningInterval] {
        &self.hours[day.num_days_from_monday() as usize]
    }

    /// The length of every slot, in minutes.
    pub fn slot_minutes(&self) -> u32 {
        self.slot_minutes
    }

    /// The length of every slot, as a duration between instants.
    pub fn slot_length(&self) -> Duration {
        Duration::minutes(i64::from(self.slot_minutes))
    }

    /// Operators per slot: bookings one slot can hold (B4).
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// The local dates on which no slot is offered (holidays).
    pub fn closed_dates(&self) -> &BTreeSet<NaiveDate> {
        &self.closed_dates
    }

    /// Whether `date` is a closed date (holiday).
    pub fn is_closed(&self, date: NaiveDate) -> bool {
        self.closed_dates.contains(&date)
    }

    /// B3: the slots offered on the local date `date`, in order.
    pub fn slots_on(&self, date: NaiveDate) -> Vec<Slot> {
        let mut out = Vec::new();
        self.push_slots_on(date, &mut out);
        out
    }

    /// B3: the offered slot that starts exactly at `start`, if any. Computed
    /// directly, without listing the day: the same answer as looking `start` up
    /// in [`WeeklySchedule::slots_on`] of its local date.
    pub fn slot_starting_at(&self, start: DateTime<Utc>) -> Option<Slot> {
        let local = start.with_timezone(&ROME).naive_local();
        let date = local.date();
        if self.is_closed(date) {
            return None;
        }
        let length = self.slot_length();
        let length_ns = i64::from(self.slot_minutes) * 60_000_000_000;
        let on_grid = self.intervals(date.weekday()).iter().any(|iv| {
            let offset = local - date.and_time(iv.start);
            offset >= Duration::zero()
                && local + length <= date.and_time(iv.end)
                && offset.num_nanoseconds().is_some_and(|n| n % length_ns == 0)
        });
        // An ambiguous local time offers only its earliest instant (fall back).
        let earliest = ROME.from_local_datetime(&local).earliest()?;
        (on_grid && earliest.with_timezone(&Utc) == start).then(|| Slot {
            start,
            end: start + length,
        })
    }

    /// Appends the slots of the local date `date` to `out`, in order.
    pub(super) fn push_slots_on(&self, date: NaiveDate, out: &mut Vec<Slot>) {
        if self.is_closed(date) {
            return;
        }
        let length = self.slot_length();
        for iv in self.intervals(date.weekday()) {
            let end = date.and_time(iv.end);
            let mut local = date.and_time(iv.start);
            while local + length <= end {
                // Spring forward: a local time in the gap does not exist, no slot.
                // Fall back: an ambiguous local time is taken at its earliest instant.
                let start = match ROME.from_local_datetime(&local) {
                    LocalResult::Single(t) => Some(t),
                    LocalResult::Ambiguous(earliest, _) => Some(earliest),
                    LocalResult::None => None,
                };
                if let Some(start) = start {
                    let start = start.with_timezone(&Utc);
                    out.push(Slot {
                        start,
                        end: start + length,
                    });
                }
                local += length;
            }
        }
    }
}
