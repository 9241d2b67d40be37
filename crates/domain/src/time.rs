//! Local time of the rules. INPS counters, dates and messages are in Italian
//! local time (Europe/Rome), daylight-saving changes included; instants are
//! stored in UTC.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// The time zone of every local date and time in the rules.
pub const ROME: Tz = chrono_tz::Europe::Rome;

/// The local (Europe/Rome) calendar date of an instant.
pub fn local_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&ROME).date_naive()
}

/// The first instant of a local (Europe/Rome) calendar date, in UTC.
/// Midnight always exists in Rome (the clocks change at 02:00 and 03:00).
pub fn local_day_start(date: NaiveDate) -> DateTime<Utc> {
    let midnight = date.and_time(chrono::NaiveTime::MIN);
    ROME.from_local_datetime(&midnight)
        .earliest()
        .map_or_else(|| midnight.and_utc(), |at| at.with_timezone(&Utc))
}
