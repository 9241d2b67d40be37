//! Why a schedule cannot be built, or a range of dates cannot be listed.

use chrono::{NaiveDate, NaiveTime, Weekday};

/// A schedule that cannot be built, or a date range that cannot be listed.
/// All are `invalid_request`: configuration or request errors, not rule refusals.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// A slot length of zero minutes.
    #[error("the slot length must be at least one minute")]
    SlotLengthZero,
    /// A capacity of zero.
    #[error("the capacity of a slot must be at least one operator")]
    CapacityZero,
    /// No opening day at all.
    #[error("a schedule needs at least one opening day")]
    NoOpeningDays,
    /// A weekday given twice.
    #[error("{0} is given more than once in the schedule")]
    DuplicateDay(Weekday),
    /// An opening day without opening hours.
    #[error("{0} is an opening day without opening hours")]
    NoIntervals(Weekday),
    /// An opening interval that ends at or before its start.
    #[error("on {day} the opening interval {start}–{end} does not end after it starts")]
    IntervalEndNotAfterStart {
        /// The weekday of the interval.
        day: Weekday,
        /// The interval's start.
        start: NaiveTime,
        /// The interval's end.
        end: NaiveTime,
    },
    #[error(
        "on {day} the opening interval {start}–{end} is shorter than one slot of {slot_minutes} minutes"
    )]
    /// An opening interval too short for a single slot.
    IntervalShorterThanSlot {
        /// The weekday of the interval.
        day: Weekday,
        /// The interval's start.
        start: NaiveTime,
        /// The interval's end.
        end: NaiveTime,
        /// The schedule's slot length, in minutes.
        slot_minutes: u32,
    },
    /// Opening intervals of one day that overlap.
    #[error("on {day} the opening intervals overlap")]
    IntervalsOverlap {
        /// The weekday.
        day: Weekday,
    },
    /// A range of dates that starts after it ends.
    #[error("the range starts on {from}, after its end {to}")]
    RangeReversed {
        /// The range's first date.
        from: NaiveDate,
        /// The range's last date.
        to: NaiveDate,
    },
    /// A range of dates longer than a listing may cover.
    #[error("the range covers {days} days, at most {max} are allowed")]
    RangeTooLong {
        /// The days the range covers, both ends included.
        days: i64,
        /// The most days allowed ([`MAX_RANGE_DAYS`](super::MAX_RANGE_DAYS)).
        max: i64,
    },
}

impl ScheduleError {
    /// The stable error code of the HTTP contract: always `invalid_request`.
    pub fn code(&self) -> &'static str {
        "invalid_request"
    }
}
