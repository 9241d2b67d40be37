//! Counters and their weekly schedules: which slots a counter offers (B3), how
//! many places each still has (B4), and whether a slot has started (B6).
//!
//! Everything here is pure: dates, instants and booking counts come in as
//! arguments, nothing reads the clock. Opening hours are local times in
//! Europe/Rome ([`ROME`]); slots are instants in UTC. Across the
//! daylight-saving changes a local time that does not exist (the spring-forward
//! gap) offers no slot, and an ambiguous one (the fall-back hour) is taken at
//! its earliest instant.
//!
//! ```
//! use chrono::NaiveDate;
//! use deleghe_domain::schedule::{Counter, OfficeId};
//!
//! let counter = Counter::web_meeting_delegations(OfficeId::parse("DCM NAPOLI").unwrap());
//! // Tuesday 24 March 2026: 09:00, 09:30, ..., 11:30 Europe/Rome.
//! let day = NaiveDate::from_ymd_opt(2026, 3, 24).unwrap();
//! let slots = counter.slots_between(day, day).unwrap();
//! assert_eq!(slots.len(), 6);
//! assert_eq!(slots[0].start.to_rfc3339(), "2026-03-24T08:00:00+00:00");
//! assert_eq!(counter.offers(slots[0].start), Some(slots[0]));
//! ```

use std::collections::BTreeSet;
use std::fmt;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::time::ROME;

/// Id of the web-meeting delegations counter (API.md).
pub const WEB_MEETING_COUNTER_ID: &str = "deleghe-web-meeting";
/// Name of the web-meeting delegations counter, as shown to citizens.
pub const WEB_MEETING_COUNTER_NAME: &str = "DELEGHE IDENTITÀ DIGITALI IN WEB MEETING";
/// Counter type of the digital-identity delegation counters (B1 counts bookings per type).
pub const DELEGATIONS_COUNTER_TYPE: &str = "deleghe-identita-digitali";
/// Longest range of local dates, both ends included, that one listing may cover.
pub const MAX_RANGE_DAYS: i64 = 366;
/// Longest counter id, in characters.
pub const MAX_COUNTER_ID_LEN: usize = 64;
/// Longest office name, in characters.
pub const MAX_OFFICE_ID_LEN: usize = 100;

// ---------------------------------------------------------------------------
// Ids
// ---------------------------------------------------------------------------

/// The id of a counter, e.g. `deleghe-web-meeting`: 1 to 64 characters, each a
/// lowercase ASCII letter, an ASCII digit or `-`. Serialised as a plain string;
/// deserialising validates.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CounterId(String);

/// Why a string is not a valid [`CounterId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CounterIdError {
    #[error("a counter id cannot be empty")]
    Empty,
    #[error("a counter id has at most {max} characters, this one has {len}")]
    TooLong { len: usize, max: usize },
    #[error("a counter id uses only lowercase letters, digits and '-', not {0:?}")]
    InvalidCharacter(char),
}

impl CounterIdError {
    /// The stable error code of the HTTP contract.
    pub fn code(&self) -> &'static str {
        "invalid_request"
    }
}

impl CounterId {
    /// Validates `input` as a counter id. Nothing is trimmed or normalised.
    pub fn parse(input: &str) -> Result<Self, CounterIdError> {
        if input.is_empty() {
            return Err(CounterIdError::Empty);
        }
        let len = input.chars().count();
        if len > MAX_COUNTER_ID_LEN {
            return Err(CounterIdError::TooLong {
                len,
                max: MAX_COUNTER_ID_LEN,
            });
        }
        if let Some(c) = input
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(CounterIdError::InvalidCharacter(c));
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CounterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for CounterId {
    type Error = CounterIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<CounterId> for String {
    fn from(value: CounterId) -> Self {
        value.0
    }
}

impl std::str::FromStr for CounterId {
    type Err = CounterIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The office ("sede", "struttura") where a counter is held, by its name, e.g.
/// `DCM NAPOLI`: free text, trimmed, 1 to 100 characters. Serialised as a plain
/// string; deserialising validates (and trims).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OfficeId(String);

/// Why a string is not a valid [`OfficeId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfficeIdError {
    #[error("an office name cannot be empty")]
    Empty,
    #[error("an office name has at most {max} characters, this one has {len}")]
    TooLong { len: usize, max: usize },
}

impl OfficeIdError {
    /// The stable error code of the HTTP contract.
    pub fn code(&self) -> &'static str {
        "invalid_request"
    }
}

impl OfficeId {
    /// Trims `input` and validates it as an office name.
    pub fn parse(input: &str) -> Result<Self, OfficeIdError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(OfficeIdError::Empty);
        }
        let len = s.chars().count();
        if len > MAX_OFFICE_ID_LEN {
            return Err(OfficeIdError::TooLong {
                len,
                max: MAX_OFFICE_ID_LEN,
            });
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OfficeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for OfficeId {
    type Error = OfficeIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<OfficeId> for String {
    fn from(value: OfficeId) -> Self {
        value.0
    }
}

impl std::str::FromStr for OfficeId {
    type Err = OfficeIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

// ---------------------------------------------------------------------------
// Modes
// ---------------------------------------------------------------------------

/// B5: how a booked appointment takes place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    InPerson,
    PhoneCallback,
    WebMeeting,
}

impl Mode {
    /// The wire name: `in_person`, `phone_callback` or `web_meeting`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::InPerson => "in_person",
            Mode::PhoneCallback => "phone_callback",
            Mode::WebMeeting => "web_meeting",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// A schedule that cannot be built, or a date range that cannot be listed.
/// All are `invalid_request`: configuration or request errors, not rule refusals.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("the slot length must be at least one minute")]
    SlotLengthZero,
    #[error("the capacity of a slot must be at least one operator")]
    CapacityZero,
    #[error("a schedule needs at least one opening day")]
    NoOpeningDays,
    #[error("{0} is given more than once in the schedule")]
    DuplicateDay(Weekday),
    #[error("{0} is an opening day without opening hours")]
    NoIntervals(Weekday),
    #[error("on {day} the opening interval {start}–{end} does not end after it starts")]
    IntervalEndNotAfterStart {
        day: Weekday,
        start: NaiveTime,
        end: NaiveTime,
    },
    #[error(
        "on {day} the opening interval {start}–{end} is shorter than one slot of {slot_minutes} minutes"
    )]
    IntervalShorterThanSlot {
        day: Weekday,
        start: NaiveTime,
        end: NaiveTime,
        slot_minutes: u32,
    },
    #[error("on {day} the opening intervals overlap")]
    IntervalsOverlap { day: Weekday },
    #[error("the range starts on {from}, after its end {to}")]
    RangeReversed { from: NaiveDate, to: NaiveDate },
    #[error("the range covers {days} days, at most {max} are allowed")]
    RangeTooLong { days: i64, max: i64 },
}

impl ScheduleError {
    /// The stable error code of the HTTP contract: always `invalid_request`.
    pub fn code(&self) -> &'static str {
        "invalid_request"
    }
}

// ---------------------------------------------------------------------------
// Weekly schedule
// ---------------------------------------------------------------------------

/// Opening hours in local (Europe/Rome) time, from `start` to `end` on the same
/// day. Checked when it becomes part of a [`WeeklySchedule`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OpeningInterval {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl OpeningInterval {
    pub fn new(start: NaiveTime, end: NaiveTime) -> Self {
        Self { start, end }
    }
}

/// The opening hours of one weekday, as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayHours {
    pub day: Weekday,
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
    pub days: Vec<DayHours>,
    pub slot_minutes: u32,
    pub capacity: u32,
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

const WEEK: [Weekday; 7] = [
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

    fn push_slots_on(&self, date: NaiveDate, out: &mut Vec<Slot>) {
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

// ---------------------------------------------------------------------------
// Slots
// ---------------------------------------------------------------------------

/// An offered slot: from `start` to `end` (`start` plus the slot length, as
/// instants).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Slot {
    pub start: DateTime<Utc>,
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

// ---------------------------------------------------------------------------
// Counters
// ---------------------------------------------------------------------------

/// A counter ("sportello"): a service desk of one type at one office, with the
/// modes it offers and its schedule (B3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    pub id: CounterId,
    /// Shown to citizens, e.g. "DELEGHE IDENTITÀ DIGITALI IN WEB MEETING".
    pub name: String,
    pub office: OfficeId,
    /// B1: a citizen holds at most one active booking per counter type.
    pub counter_type: String,
    /// B5: the modes a booking at this counter may take.
    pub modes: Vec<Mode>,
    pub schedule: WeeklySchedule,
}

impl Counter {
    /// B3: the web-meeting delegations counter with its default schedule:
    /// id `deleghe-web-meeting`, Tuesdays and Thursdays 09:00–12:00
    /// Europe/Rome, 30-minute slots, capacity 2, mode web meeting, type
    /// `deleghe-identita-digitali`.
    pub fn web_meeting_delegations(office: OfficeId) -> Self {
        let hm = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("valid time");
        let schedule = WeeklySchedule::uniform(
            [Weekday::Tue, Weekday::Thu],
            &[OpeningInterval::new(hm(9, 0), hm(12, 0))],
            30,
            2,
        )
        .expect("the default schedule is valid");
        Self {
            id: CounterId(WEB_MEETING_COUNTER_ID.to_owned()),
            name: WEB_MEETING_COUNTER_NAME.to_owned(),
            office,
            counter_type: DELEGATIONS_COUNTER_TYPE.to_owned(),
            modes: vec![Mode::WebMeeting],
            schedule,
        }
    }

    /// Whether bookings at this counter may take `mode` (B5).
    pub fn offers_mode(&self, mode: Mode) -> bool {
        self.modes.contains(&mode)
    }

    /// Bookings one slot can hold (B4).
    pub fn capacity(&self) -> u32 {
        self.schedule.capacity()
    }

    /// B3: the slots offered on the local dates `from` to `to`, both included,
    /// in order. Refused if `from > to` or the range covers more than
    /// [`MAX_RANGE_DAYS`] days.
    pub fn slots_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Slot>, ScheduleError> {
        check_range(from, to)?;
        let mut out = Vec::new();
        for date in from.iter_days().take_while(|d| *d <= to) {
            self.schedule.push_slots_on(date, &mut out);
        }
        Ok(out)
    }

    /// B3: the offered slot that starts exactly at `start`, if any. `None` means
    /// a booking there is refused with `slot_not_offered`.
    pub fn offers(&self, start: DateTime<Utc>) -> Option<Slot> {
        self.schedule.slot_starting_at(start)
    }
}

fn check_range(from: NaiveDate, to: NaiveDate) -> Result<(), ScheduleError> {
    if from > to {
        return Err(ScheduleError::RangeReversed { from, to });
    }
    let days = (to - from).num_days() + 1;
    if days > MAX_RANGE_DAYS {
        return Err(ScheduleError::RangeTooLong {
            days,
            max: MAX_RANGE_DAYS,
        });
    }
    Ok(())
}

/// B3, B4: the slots of `counter` on the local dates `from` to `to` (both
/// included), each with its free places: capacity minus `booked(slot)`, never
/// below zero. Full slots are listed too, with 0. Range errors as
/// [`Counter::slots_between`].
pub fn free_slots(
    counter: &Counter,
    from: NaiveDate,
    to: NaiveDate,
    booked: impl Fn(&Slot) -> u32,
) -> Result<Vec<(Slot, u32)>, ScheduleError> {
    let capacity = counter.capacity();
    Ok(counter
        .slots_between(from, to)?
        .into_iter()
        .map(|slot| {
            let free = capacity.saturating_sub(booked(&slot));
            (slot, free)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn iv(sh: u32, sm: u32, eh: u32, em: u32) -> OpeningInterval {
        OpeningInterval::new(t(sh, sm), t(eh, em))
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn rome(y: i32, m: u32, day: u32, h: u32, min: u32) -> DateTime<Utc> {
        ROME.with_ymd_and_hms(y, m, day, h, min, 0)
            .earliest()
            .unwrap()
            .with_timezone(&Utc)
    }

    fn web() -> Counter {
        Counter::web_meeting_delegations(OfficeId::parse("DCM NAPOLI").unwrap())
    }

    fn local_hm(slots: &[Slot]) -> Vec<String> {
        slots
            .iter()
            .map(|s| s.local_start().format("%a %H:%M").to_string())
            .collect()
    }

    fn counter_with(schedule: WeeklySchedule) -> Counter {
        Counter {
            id: CounterId::parse("test-counter").unwrap(),
            name: "TEST".into(),
            office: OfficeId::parse("SEDE DI PROVA").unwrap(),
            counter_type: "test".into(),
            modes: vec![Mode::InPerson, Mode::PhoneCallback],
            schedule,
        }
    }

    // --- the default counter ------------------------------------------------

    #[test]
    fn b3_default_counter_is_the_web_meeting_delegations_counter() {
        let c = web();
        assert_eq!(c.id.as_str(), "deleghe-web-meeting");
        assert_eq!(c.name, "DELEGHE IDENTITÀ DIGITALI IN WEB MEETING");
        assert_eq!(c.office.as_str(), "DCM NAPOLI");
        assert_eq!(c.counter_type, "deleghe-identita-digitali");
        assert_eq!(c.modes, vec![Mode::WebMeeting]);
        assert!(c.offers_mode(Mode::WebMeeting));
        assert!(!c.offers_mode(Mode::InPerson));
        assert_eq!(c.capacity(), 2);
        assert_eq!(c.schedule.slot_minutes(), 30);
        assert_eq!(
            c.schedule.opening_days().collect::<Vec<_>>(),
            vec![Weekday::Tue, Weekday::Thu]
        );
    }

    #[test]
    fn b3_default_counter_offers_six_slots_on_tuesdays_and_thursdays_only() {
        // Monday 1 June to Sunday 7 June 2026.
        let slots = web().slots_between(d(2026, 6, 1), d(2026, 6, 7)).unwrap();
        let expected: Vec<String> = ["Tue", "Thu"]
            .iter()
            .flat_map(|day| {
                ["09:00", "09:30", "10:00", "10:30", "11:00", "11:30"]
                    .iter()
                    .map(move |hm| format!("{day} {hm}"))
            })
            .collect();
        assert_eq!(local_hm(&slots), expected);
        assert_eq!(slots[0].local_date(), d(2026, 6, 2));
        assert_eq!(slots[6].local_date(), d(2026, 6, 4));
        for s in &slots {
            assert_eq!(s.end - s.start, Duration::minutes(30));
        }
        // Ordered, no duplicates.
        assert!(slots.windows(2).all(|w| w[0].end <= w[1].start));
    }

    #[test]
    fn b3_default_counter_offers_nothing_on_other_days() {
        let c = web();
        for date in [
            d(2026, 6, 1),
            d(2026, 6, 3),
            d(2026, 6, 5),
            d(2026, 6, 6),
            d(2026, 6, 7),
        ] {
            assert!(c.slots_between(date, date).unwrap().is_empty(), "{date}");
        }
        assert_eq!(
            c.slots_between(d(2026, 6, 2), d(2026, 6, 2)).unwrap().len(),
            6
        );
        assert_eq!(
            c.slots_between(d(2026, 6, 4), d(2026, 6, 4)).unwrap().len(),
            6
        );
    }

    // --- daylight saving ----------------------------------------------------

    #[test]
    fn b3_slot_instants_follow_the_march_dst_change() {
        let c = web();
        // Tuesday 24 March 2026, CET (UTC+1): 09:00 Rome is 08:00Z.
        let before = c.slots_between(d(2026, 3, 24), d(2026, 3, 24)).unwrap();
        assert_eq!(before[0].start, utc("2026-03-24T08:00:00Z"));
        assert_eq!(before[0].end, utc("2026-03-24T08:30:00Z"));
        assert_eq!(before[5].start, utc("2026-03-24T10:30:00Z"));
        // Tuesday 31 March 2026, CEST (UTC+2): 09:00 Rome is 07:00Z.
        let after = c.slots_between(d(2026, 3, 31), d(2026, 3, 31)).unwrap();
        assert_eq!(after[0].start, utc("2026-03-31T07:00:00Z"));
        assert_eq!(after[5].end, utc("2026-03-31T10:00:00Z"));
        assert_eq!(local_hm(&before), local_hm(&after));
        assert!(c.offers(utc("2026-03-24T08:00:00Z")).is_some());
        assert!(c.offers(utc("2026-03-24T07:00:00Z")).is_none());
        assert!(c.offers(utc("2026-03-31T07:00:00Z")).is_some());
        assert!(c.offers(utc("2026-03-31T08:00:00Z")).is_some()); // 10:00 local
        assert!(c.offers(utc("2026-03-31T06:30:00Z")).is_none()); // 08:30 local
    }

    #[test]
    fn b3_slot_instants_follow_the_october_dst_change() {
        let c = web();
        // Tuesday 20 October 2026, CEST: 09:00 Rome is 07:00Z.
        let before = c.slots_between(d(2026, 10, 20), d(2026, 10, 20)).unwrap();
        assert_eq!(before[0].start, utc("2026-10-20T07:00:00Z"));
        // Clocks go back on Sunday 25 October 2026.
        // Tuesday 27 October 2026, CET: 09:00 Rome is 08:00Z.
        let after = c.slots_between(d(2026, 10, 27), d(2026, 10, 27)).unwrap();
        assert_eq!(after[0].start, utc("2026-10-27T08:00:00Z"));
        assert_eq!(after[5].start, utc("2026-10-27T10:30:00Z"));
        assert_eq!(after.len(), 6);
        // One listing across the change: 4 opening days, 24 slots.
        let all = c.slots_between(d(2026, 10, 19), d(2026, 10, 30)).unwrap();
        assert_eq!(all.len(), 24);
        assert!(all
            .iter()
            .all(|s| s.local_start().time() >= t(9, 0) && s.local_start().time() < t(12, 0)));
    }

    #[test]
    fn b3_local_time_in_the_spring_forward_gap_is_skipped() {
        // Sunday 29 March 2026: 02:00 CET jumps to 03:00 CEST.
        let s = WeeklySchedule::uniform([Weekday::Sun], &[iv(1, 0, 4, 0)], 30, 1).unwrap();
        let c = counter_with(s);
        let slots = c.slots_between(d(2026, 3, 29), d(2026, 3, 29)).unwrap();
        let starts: Vec<_> = slots.iter().map(|s| s.start).collect();
        assert_eq!(
            starts,
            vec![
                utc("2026-03-29T00:00:00Z"), // 01:00 CET
                utc("2026-03-29T00:30:00Z"), // 01:30 CET
                utc("2026-03-29T01:00:00Z"), // 03:00 CEST
                utc("2026-03-29T01:30:00Z"), // 03:30 CEST
            ]
        );
        assert_eq!(
            local_hm(&slots),
            ["Sun 01:00", "Sun 01:30", "Sun 03:00", "Sun 03:30"]
        );
        // A slot's end is its start plus the length, as instants.
        assert_eq!(slots[1].end, slots[2].start);
    }

    #[test]
    fn b3_ambiguous_local_time_in_the_fall_back_hour_uses_the_earliest_instant() {
        // Sunday 25 October 2026: 03:00 CEST goes back to 02:00 CET.
        let s = WeeklySchedule::uniform([Weekday::Sun], &[iv(1, 0, 4, 0)], 30, 1).unwrap();
        let c = counter_with(s);
        let slots = c.slots_between(d(2026, 10, 25), d(2026, 10, 25)).unwrap();
        let starts: Vec<_> = slots.iter().map(|s| s.start).collect();
        assert_eq!(
            starts,
            vec![
                utc("2026-10-24T23:00:00Z"), // 01:00 CEST
                utc("2026-10-24T23:30:00Z"), // 01:30 CEST
                utc("2026-10-25T00:00:00Z"), // 02:00 CEST, the earliest 02:00
                utc("2026-10-25T00:30:00Z"), // 02:30 CEST, the earliest 02:30
                utc("2026-10-25T02:00:00Z"), // 03:00 CET
                utc("2026-10-25T02:30:00Z"), // 03:30 CET
            ]
        );
        assert!(c.offers(utc("2026-10-25T00:00:00Z")).is_some());
        // The second 02:00 (CET) is not a slot start.
        assert!(c.offers(utc("2026-10-25T01:00:00Z")).is_none());
        // Slots of the day before the change: the local date decides, not the UTC one.
        assert!(c.offers(utc("2026-10-24T23:00:00Z")).is_some());
        assert!(c
            .slots_between(d(2026, 10, 24), d(2026, 10, 24))
            .unwrap()
            .is_empty());
    }

    // --- offers -------------------------------------------------------------

    #[test]
    fn b3_offers_the_0900_local_slot() {
        let c = web();
        let slot = c.offers(rome(2026, 6, 2, 9, 0)).unwrap();
        assert_eq!(slot.start, utc("2026-06-02T07:00:00Z"));
        assert_eq!(slot.end, utc("2026-06-02T07:30:00Z"));
        assert_eq!(slot.local_start().format("%H:%M").to_string(), "09:00");
        assert!(c.offers(rome(2026, 6, 2, 11, 30)).is_some());
        assert!(c.offers(rome(2026, 6, 4, 10, 0)).is_some());
    }

    #[test]
    fn b3_offers_refuses_0915_local() {
        assert_eq!(web().offers(rome(2026, 6, 2, 9, 15)), None);
        // Not even a second off.
        assert_eq!(
            web().offers(rome(2026, 6, 2, 9, 0) + Duration::seconds(1)),
            None
        );
    }

    #[test]
    fn b3_offers_refuses_1200_local_the_closing_time() {
        assert_eq!(web().offers(rome(2026, 6, 2, 12, 0)), None);
        assert_eq!(web().offers(rome(2026, 6, 2, 8, 30)), None);
    }

    #[test]
    fn b3_offers_refuses_wednesdays_and_other_days() {
        let c = web();
        for day in [1, 3, 5, 6, 7] {
            assert_eq!(c.offers(rome(2026, 6, day, 9, 0)), None, "June {day}");
        }
    }

    #[test]
    fn b3_closed_dates_offer_nothing() {
        let s = WeeklySchedule::uniform([Weekday::Tue, Weekday::Thu], &[iv(9, 0, 12, 0)], 30, 2)
            .unwrap()
            .with_closed_dates([d(2026, 6, 2)]); // Festa della Repubblica, a Tuesday
        let c = counter_with(s);
        assert!(c.schedule.is_closed(d(2026, 6, 2)));
        assert_eq!(c.offers(rome(2026, 6, 2, 9, 0)), None);
        let slots = c.slots_between(d(2026, 6, 1), d(2026, 6, 7)).unwrap();
        assert_eq!(slots.len(), 6);
        assert!(slots.iter().all(|s| s.local_date() == d(2026, 6, 4)));
    }

    // --- other office schedules -------------------------------------------

    #[test]
    fn b3_office_schedule_starting_at_0830_with_a_1200_slot() {
        let s = WeeklySchedule::uniform(
            [Weekday::Mon, Weekday::Wed, Weekday::Fri],
            &[iv(8, 30, 12, 30)],
            30,
            3,
        )
        .unwrap();
        let c = counter_with(s);
        let slots = c.slots_between(d(2026, 6, 3), d(2026, 6, 3)).unwrap();
        assert_eq!(slots.len(), 8);
        assert_eq!(slots[0].local_start().format("%H:%M").to_string(), "08:30");
        assert_eq!(slots[7].local_start().format("%H:%M").to_string(), "12:00");
        assert!(c.offers(rome(2026, 6, 3, 8, 30)).is_some());
        assert!(c.offers(rome(2026, 6, 3, 12, 0)).is_some());
        assert!(c.offers(rome(2026, 6, 3, 8, 0)).is_none());
        assert!(c.offers(rome(2026, 6, 3, 12, 30)).is_none());
        assert!(c.offers(rome(2026, 6, 2, 8, 30)).is_none()); // Tuesday
    }

    #[test]
    fn b3_per_weekday_intervals() {
        let s = WeeklySchedule::new(
            [
                // Given out of order: sorted on construction.
                (Weekday::Mon, vec![iv(14, 0, 15, 0), iv(8, 30, 10, 0)]),
                (Weekday::Thu, vec![iv(10, 0, 11, 0)]),
            ],
            60,
            1,
        )
        .unwrap();
        assert_eq!(
            s.intervals(Weekday::Mon),
            &[iv(8, 30, 10, 0), iv(14, 0, 15, 0)]
        );
        assert!(!s.is_open_on(Weekday::Tue));
        let c = counter_with(s);
        let slots = c.slots_between(d(2026, 6, 1), d(2026, 6, 7)).unwrap();
        // 08:30–10:00 holds one hour slot (the partial 09:30 one is dropped).
        assert_eq!(local_hm(&slots), ["Mon 08:30", "Mon 14:00", "Thu 10:00"]);
    }

    #[test]
    fn b3_last_partial_slot_is_dropped() {
        let s = WeeklySchedule::uniform([Weekday::Tue], &[iv(9, 0, 10, 45)], 30, 1).unwrap();
        let slots = s.slots_on(d(2026, 6, 2));
        assert_eq!(local_hm(&slots), ["Tue 09:00", "Tue 09:30", "Tue 10:00"]);
        assert!(counter_with(s).offers(rome(2026, 6, 2, 10, 30)).is_none());
    }

    #[test]
    fn b3_interval_ending_at_2359_does_not_wrap_past_midnight() {
        let s = WeeklySchedule::uniform([Weekday::Tue], &[iv(22, 0, 23, 59)], 60, 1).unwrap();
        let slots = s.slots_on(d(2026, 6, 2));
        assert_eq!(local_hm(&slots), ["Tue 22:00"]);
    }

    // --- configuration and range errors -------------------------------------

    #[test]
    fn b3_schedule_configuration_errors() {
        let ok = [iv(9, 0, 12, 0)];
        let tue = [Weekday::Tue];
        assert_eq!(
            WeeklySchedule::uniform(tue, &ok, 0, 1),
            Err(ScheduleError::SlotLengthZero)
        );
        assert_eq!(
            WeeklySchedule::uniform(tue, &ok, 30, 0),
            Err(ScheduleError::CapacityZero)
        );
        assert_eq!(
            WeeklySchedule::uniform([], &ok, 30, 1),
            Err(ScheduleError::NoOpeningDays)
        );
        assert_eq!(
            WeeklySchedule::uniform(tue, &[], 30, 1),
            Err(ScheduleError::NoIntervals(Weekday::Tue))
        );
        assert_eq!(
            WeeklySchedule::uniform([Weekday::Tue, Weekday::Tue], &ok, 30, 1),
            Err(ScheduleError::DuplicateDay(Weekday::Tue))
        );
        assert_eq!(
            WeeklySchedule::uniform(tue, &[iv(12, 0, 9, 0)], 30, 1),
            Err(ScheduleError::IntervalEndNotAfterStart {
                day: Weekday::Tue,
                start: t(12, 0),
                end: t(9, 0)
            })
        );
        assert!(matches!(
            WeeklySchedule::uniform(tue, &[iv(9, 0, 9, 0)], 30, 1),
            Err(ScheduleError::IntervalEndNotAfterStart { .. })
        ));
        assert!(matches!(
            WeeklySchedule::uniform(tue, &[iv(9, 0, 9, 20)], 30, 1),
            Err(ScheduleError::IntervalShorterThanSlot {
                slot_minutes: 30,
                ..
            })
        ));
        assert!(matches!(
            WeeklySchedule::uniform(tue, &[iv(9, 0, 11, 0), iv(10, 30, 12, 0)], 30, 1),
            Err(ScheduleError::IntervalsOverlap { day: Weekday::Tue })
        ));
        // Touching intervals are fine; so is a length not a multiple of the slot.
        assert!(WeeklySchedule::uniform(tue, &[iv(9, 0, 11, 0), iv(11, 0, 12, 10)], 30, 1).is_ok());
        let e = WeeklySchedule::uniform(tue, &ok, 0, 1).unwrap_err();
        assert_eq!(e.code(), "invalid_request");
        assert!(!e.to_string().is_empty());
    }

    #[test]
    fn b3_range_errors() {
        let c = web();
        let e = c.slots_between(d(2026, 6, 2), d(2026, 6, 1)).unwrap_err();
        assert_eq!(
            e,
            ScheduleError::RangeReversed {
                from: d(2026, 6, 2),
                to: d(2026, 6, 1)
            }
        );
        assert_eq!(e.code(), "invalid_request");
        // 2026-01-01..=2027-01-01 is 366 days: allowed; one more is not.
        assert!(c.slots_between(d(2026, 1, 1), d(2027, 1, 1)).is_ok());
        assert_eq!(
            c.slots_between(d(2026, 1, 1), d(2027, 1, 2)),
            Err(ScheduleError::RangeTooLong {
                days: 367,
                max: 366
            })
        );
        assert_eq!(
            free_slots(&c, d(2026, 6, 2), d(2026, 6, 1), |_| 0),
            Err(ScheduleError::RangeReversed {
                from: d(2026, 6, 2),
                to: d(2026, 6, 1)
            })
        );
        // A single day is a range.
        assert_eq!(
            c.slots_between(d(2026, 6, 2), d(2026, 6, 2)).unwrap().len(),
            6
        );
    }

    #[test]
    fn b3_a_year_of_the_default_counter() {
        // 2026 has 52 Tuesdays and 53 Thursdays (1 January is a Thursday).
        let slots = web().slots_between(d(2026, 1, 1), d(2026, 12, 31)).unwrap();
        assert_eq!(slots.len(), (52 + 53) * 6);
        assert!(slots.windows(2).all(|w| w[0].start < w[1].start));
    }

    // --- capacity and free places -------------------------------------------

    #[test]
    fn b4_free_is_capacity_minus_booked_never_below_zero() {
        let c = web();
        let nine = rome(2026, 6, 2, 9, 0);
        let half_past = rome(2026, 6, 2, 9, 30);
        let ten = rome(2026, 6, 2, 10, 0);
        let listed = free_slots(&c, d(2026, 6, 2), d(2026, 6, 2), |slot| {
            if slot.start == nine {
                1
            } else if slot.start == half_past {
                2
            } else if slot.start == ten {
                7 // more than capacity: saturates at 0
            } else {
                0
            }
        })
        .unwrap();
        let frees: Vec<u32> = listed.iter().map(|(_, free)| *free).collect();
        assert_eq!(frees, [1, 0, 0, 2, 2, 2]);
        assert_eq!(listed[0].0.start, nine);
    }

    #[test]
    fn b4_capacity_is_configuration() {
        let s = WeeklySchedule::uniform([Weekday::Tue], &[iv(9, 0, 10, 0)], 30, 5).unwrap();
        let c = counter_with(s);
        assert_eq!(c.capacity(), 5);
        let listed = free_slots(&c, d(2026, 6, 2), d(2026, 6, 2), |_| 3).unwrap();
        assert_eq!(listed.iter().map(|(_, f)| *f).collect::<Vec<_>>(), [2, 2]);
    }

    // --- started ------------------------------------------------------------

    #[test]
    fn b6_slot_has_started_from_its_start_instant() {
        let slot = web().offers(rome(2026, 6, 2, 9, 0)).unwrap();
        assert!(!has_started(&slot, slot.start - Duration::seconds(1)));
        assert!(!has_started(&slot, slot.start - Duration::days(1)));
        assert!(has_started(&slot, slot.start));
        assert!(has_started(&slot, slot.start + Duration::minutes(10)));
        assert!(has_started(&slot, slot.end + Duration::hours(1)));
        assert!(slot.has_started(slot.start));
        assert!(!slot.has_started(slot.start - Duration::nanoseconds(1)));
    }

    // --- ids and serde ------------------------------------------------------

    #[test]
    fn b3_counter_id_validation() {
        assert_eq!(
            CounterId::parse("deleghe-web-meeting").unwrap().as_str(),
            "deleghe-web-meeting"
        );
        assert!(CounterId::parse("a1-2").is_ok());
        assert_eq!(CounterId::parse(""), Err(CounterIdError::Empty));
        assert_eq!(
            CounterId::parse("Deleghe"),
            Err(CounterIdError::InvalidCharacter('D'))
        );
        assert_eq!(
            CounterId::parse("a b"),
            Err(CounterIdError::InvalidCharacter(' '))
        );
        assert_eq!(
            CounterId::parse("identità"),
            Err(CounterIdError::InvalidCharacter('à'))
        );
        assert!(CounterId::parse(&"a".repeat(64)).is_ok());
        assert_eq!(
            CounterId::parse(&"a".repeat(65)),
            Err(CounterIdError::TooLong { len: 65, max: 64 })
        );
        assert_eq!(CounterIdError::Empty.code(), "invalid_request");
        let id: CounterId = serde_json::from_str("\"deleghe-web-meeting\"").unwrap();
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            "\"deleghe-web-meeting\""
        );
        assert!(serde_json::from_str::<CounterId>("\"BAD ID\"").is_err());
    }

    #[test]
    fn b3_office_id_validation() {
        assert_eq!(
            OfficeId::parse("  DCM NAPOLI ").unwrap().as_str(),
            "DCM NAPOLI"
        );
        assert_eq!(OfficeId::parse("   "), Err(OfficeIdError::Empty));
        assert!(OfficeId::parse(&"à".repeat(100)).is_ok());
        assert_eq!(
            OfficeId::parse(&"à".repeat(101)),
            Err(OfficeIdError::TooLong { len: 101, max: 100 })
        );
        assert_eq!(OfficeIdError::Empty.code(), "invalid_request");
        let o: OfficeId = serde_json::from_str("\" DCM NAPOLI\"").unwrap();
        assert_eq!(serde_json::to_string(&o).unwrap(), "\"DCM NAPOLI\"");
        assert!(serde_json::from_str::<OfficeId>("\"\"").is_err());
    }

    #[test]
    fn b3_mode_wire_names() {
        for (mode, name) in [
            (Mode::InPerson, "in_person"),
            (Mode::PhoneCallback, "phone_callback"),
            (Mode::WebMeeting, "web_meeting"),
        ] {
            assert_eq!(serde_json::to_string(&mode).unwrap(), format!("\"{name}\""));
            assert_eq!(
                serde_json::from_str::<Mode>(&format!("\"{name}\"")).unwrap(),
                mode
            );
            assert_eq!(mode.to_string(), name);
        }
    }

    #[test]
    fn b3_slot_and_counter_serde_round_trip() {
        let slot = web().offers(rome(2026, 6, 2, 9, 0)).unwrap();
        let json = serde_json::to_value(slot).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"start": "2026-06-02T07:00:00Z", "end": "2026-06-02T07:30:00Z"})
        );
        assert_eq!(serde_json::from_value::<Slot>(json).unwrap(), slot);

        let c = web();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Counter>(&json).unwrap(), c);
    }

    #[test]
    fn b3_deserialising_a_schedule_validates_it() {
        let good = serde_json::json!({
            "days": [{"day": "Tue", "intervals": [{"start": "08:30:00", "end": "12:30:00"}]}],
            "slot_minutes": 30,
            "capacity": 1,
            "closed_dates": ["2026-06-02"]
        });
        let s: WeeklySchedule = serde_json::from_value(good).unwrap();
        assert!(s.is_closed(d(2026, 6, 2)));
        assert_eq!(s.slots_on(d(2026, 6, 9)).len(), 8);
        let bad = serde_json::json!({
            "days": [{"day": "Tue", "intervals": [{"start": "08:30:00", "end": "12:30:00"}]}],
            "slot_minutes": 0,
            "capacity": 1
        });
        assert!(serde_json::from_value::<WeeklySchedule>(bad).is_err());
    }

    // --- properties ---------------------------------------------------------

    fn arb_interval() -> impl Strategy<Value = (u32, u32)> {
        // Start and end in minutes since midnight, at least an hour long.
        (0u32..(23 * 60))
            .prop_flat_map(|start| ((start + 60)..(24 * 60)).prop_map(move |end| (start, end)))
    }

    fn minutes(m: u32) -> NaiveTime {
        NaiveTime::from_num_seconds_from_midnight_opt(m * 60, 0).unwrap()
    }

    prop_compose! {
        fn arb_schedule()(
            days in proptest::collection::btree_set(0u8..7, 1..=7),
            ivs in proptest::collection::vec(arb_interval(), 1..=7),
            slot_minutes in prop::sample::select(vec![1u32, 7, 10, 15, 20, 30, 45, 60]),
            capacity in 1u32..5,
        ) -> WeeklySchedule {
            // Day i gets one interval, the i-th generated (cycled).
            let days: Vec<(Weekday, Vec<OpeningInterval>)> = days
                .into_iter()
                .enumerate()
                .map(|(i, n)| {
                    let (s, e) = ivs[i % ivs.len()];
                    (WEEK[n as usize], vec![OpeningInterval::new(minutes(s), minutes(e))])
                })
                .collect();
            WeeklySchedule::new(days, slot_minutes, capacity).unwrap()
        }
    }

    fn arb_range() -> impl Strategy<Value = (NaiveDate, NaiveDate)> {
        // From 2024 to 2028, spanning several daylight-saving changes.
        (0i64..(5 * 365), 0i64..40).prop_map(|(offset, len)| {
            let from = d(2024, 1, 1) + Duration::days(offset);
            (from, from + Duration::days(len))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn b3_every_listed_slot_is_offered_on_an_opening_day_within_hours(
            schedule in arb_schedule(),
            (from, to) in arb_range(),
        ) {
            let length = schedule.slot_length();
            let c = counter_with(schedule);
            let slots = c.slots_between(from, to).unwrap();
            for w in slots.windows(2) {
                prop_assert!(w[0].start < w[1].start, "ordered: {:?}", w);
            }
            for slot in &slots {
                prop_assert_eq!(c.offers(slot.start), Some(*slot));
                prop_assert_eq!(c.offers(slot.start + Duration::seconds(1)), None);
                prop_assert_eq!(slot.end - slot.start, length);
                let local = slot.local_start();
                let date = local.date_naive();
                prop_assert!(from <= date && date <= to);
                let intervals = c.schedule.intervals(date.weekday());
                prop_assert!(!intervals.is_empty(), "{} is not an opening day", date);
                let time = local.time();
                prop_assert!(
                    intervals.iter().any(|iv| iv.start <= time
                        && date.and_time(time) + length <= date.and_time(iv.end)),
                    "{} outside opening hours", local
                );
            }
        }

        #[test]
        fn b3_offers_agrees_with_the_listing_of_the_local_date(
            schedule in arb_schedule(),
            change in prop::sample::select(vec![
                "2024-03-31T01:00:00Z", "2024-10-27T01:00:00Z",
                "2026-03-29T01:00:00Z", "2026-10-25T01:00:00Z",
            ]),
            // Minutes around a daylight-saving change, within three days.
            offset in -(3 * 24 * 60i64)..(3 * 24 * 60i64),
        ) {
            let c = counter_with(schedule);
            let at = utc(change) + Duration::minutes(offset);
            let date = crate::time::local_date(at);
            let listed = c.schedule.slots_on(date).into_iter().find(|s| s.start == at);
            prop_assert_eq!(c.offers(at), listed);
        }

        #[test]
        fn b3_default_counter_lists_six_slots_per_tuesday_and_thursday(
            (from, to) in arb_range(),
        ) {
            let slots = web().slots_between(from, to).unwrap();
            let open_days = from
                .iter_days()
                .take_while(|x| *x <= to)
                .filter(|x| matches!(x.weekday(), Weekday::Tue | Weekday::Thu))
                .count();
            prop_assert_eq!(slots.len(), open_days * 6);
        }
    }
}
