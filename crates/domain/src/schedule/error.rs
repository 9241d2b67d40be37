//! Why a schedule cannot be built, or a range of dates cannot be listed.

use chrono::{NaiveDate, NaiveTime, Weekday};

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
