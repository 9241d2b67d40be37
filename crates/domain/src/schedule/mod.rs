//! Counters and their weekly schedules: which slots a counter offers (B3), how
//! many places each still has (B4), and whether a slot has started (B6).
//!
//! Everything here is pure: dates, instants and booking counts come in as
//! arguments, nothing reads the clock. Opening hours are local times in
//! Europe/Rome ([`ROME`](crate::time::ROME)); slots are instants in UTC.
//! Across the daylight-saving changes a local time that does not exist (the
//! spring-forward gap) offers no slot, and an ambiguous one (the fall-back
//! hour) is taken at its earliest instant.
//!
//! Layout, one file per concept: [`CounterId`] and [`OfficeId`] (`ids`), the
//! [`Mode`]s of an appointment (`mode`), a [`WeeklySchedule`] of
//! [`OpeningInterval`]s (`weekly`), the [`Slot`]s it offers (`slot`), a
//! [`Counter`] and its listings with [`free_slots`] (`counter`), and the
//! [`ScheduleError`]s of configuration and ranges (`error`).
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

mod counter;
mod error;
mod ids;
mod mode;
mod slot;
mod weekly;

pub use counter::{
    default_ticket_letter, free_slots, Counter, DELEGATIONS_COUNTER_TYPE, MAX_RANGE_DAYS,
    WEB_MEETING_COUNTER_ID, WEB_MEETING_COUNTER_NAME,
};
pub use error::ScheduleError;
pub use ids::{
    CounterId, CounterIdError, OfficeId, OfficeIdError, MAX_COUNTER_ID_LEN, MAX_OFFICE_ID_LEN,
};
pub use mode::Mode;
pub use slot::{has_started, Slot};
pub use weekly::{DayHours, OpeningInterval, WeeklySchedule, WeeklyScheduleConfig};

#[cfg(test)]
mod tests;
