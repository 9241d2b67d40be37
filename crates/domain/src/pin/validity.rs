//! P1: how long a PIN stays valid, and the instant its validity ends on the
//! Italian clock.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Days, LocalResult, Months, NaiveDateTime, TimeDelta, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::PinError;
use crate::time::ROME;

/// P1: how long a PIN stays valid. Wire names `"1d"`, `"1w"`, `"1m"`, `"3m"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PinValidity {
    /// One day.
    #[serde(rename = "1d")]
    OneDay,
    /// One week (7 days).
    #[serde(rename = "1w")]
    OneWeek,
    /// One calendar month.
    #[serde(rename = "1m")]
    OneMonth,
    /// Three calendar months.
    #[serde(rename = "3m")]
    ThreeMonths,
}

impl PinValidity {
    /// Every validity, shortest first.
    pub const ALL: [PinValidity; 4] = [
        PinValidity::OneDay,
        PinValidity::OneWeek,
        PinValidity::OneMonth,
        PinValidity::ThreeMonths,
    ];

    /// The wire name (`"1d"`, `"1w"`, `"1m"`, `"3m"`).
    pub fn as_str(&self) -> &'static str {
        match self {
            PinValidity::OneDay => "1d",
            PinValidity::OneWeek => "1w",
            PinValidity::OneMonth => "1m",
            PinValidity::ThreeMonths => "3m",
        }
    }

    /// P1: the first instant at which a PIN issued at `issued_at` is no longer
    /// valid (validity is `issued_at <= t < valid_until`).
    ///
    /// Days and calendar months are counted on the Italian (Europe/Rome) local
    /// clock, so a PIN issued at 10:00 ends at 10:00 local time whatever the
    /// daylight-saving changes in between. A month that lacks the day ends on
    /// its last day (chrono [`Months`]): 31 January + 1 month = 28 (or 29)
    /// February. A local time that does not exist (spring-forward gap) moves
    /// to the hour after; one that occurs twice takes the later instant.
    pub fn valid_until(&self, issued_at: DateTime<Utc>) -> DateTime<Utc> {
        let local = issued_at.with_timezone(&ROME).naive_local();
        let end = match self {
            PinValidity::OneDay => local.checked_add_days(Days::new(1)),
            PinValidity::OneWeek => local.checked_add_days(Days::new(7)),
            PinValidity::OneMonth => local.checked_add_months(Months::new(1)),
            PinValidity::ThreeMonths => local.checked_add_months(Months::new(3)),
        };
        end.map_or(DateTime::<Utc>::MAX_UTC, rome_to_utc)
    }
}

/// A Europe/Rome wall-clock time as an instant (see [`PinValidity::valid_until`]).
fn rome_to_utc(local: NaiveDateTime) -> DateTime<Utc> {
    match ROME.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(_, later) => later.with_timezone(&Utc),
        LocalResult::None => local
            .checked_add_signed(TimeDelta::hours(1))
            .and_then(|l| ROME.from_local_datetime(&l).earliest())
            .map_or_else(|| local.and_utc(), |t| t.with_timezone(&Utc)),
    }
}

impl fmt::Display for PinValidity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PinValidity {
    type Err = PinError;

    /// Parses the wire name; anything else is [`PinError::InvalidValidity`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PinValidity::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| PinError::InvalidValidity(s.to_owned()))
    }
}
