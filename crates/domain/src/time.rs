//! Local time of the rules. INPS counters, dates and messages are in Italian
//! local time (Europe/Rome), daylight-saving changes included; instants are
//! stored in UTC.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

/// The time zone of every local date and time in the rules.
pub const ROME: Tz = chrono_tz::Europe::Rome;

/// The local (Europe/Rome) calendar date of an instant.
pub fn local_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&ROME).date_naive()
}
