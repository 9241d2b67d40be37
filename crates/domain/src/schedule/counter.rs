//! A counter and what it offers: its modes, and the slots of its schedule
//! over a range of dates with their free places (B3, B4).

use chrono::{DateTime, NaiveDate, NaiveTime, Utc, Weekday};
use serde::{Deserialize, Serialize};

use super::{CounterId, Mode, OfficeId, OpeningInterval, ScheduleError, Slot, WeeklySchedule};

/// Id of the web-meeting delegations counter (docs/APP.md).
pub const WEB_MEETING_COUNTER_ID: &str = "deleghe-web-meeting";
/// Name of the web-meeting delegations counter, as shown to citizens.
pub const WEB_MEETING_COUNTER_NAME: &str = "DELEGHE IDENTITÀ DIGITALI IN WEB MEETING";
/// Counter type of the digital-identity delegation counters (B1 counts bookings per type).
pub const DELEGATIONS_COUNTER_TYPE: &str = "deleghe-identita-digitali";
/// Longest range of local dates, both ends included, that one listing may cover.
pub const MAX_RANGE_DAYS: i64 = 366;

/// A counter ("sportello"): a service desk of one type at one office, with the
/// modes it offers and its schedule (B3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    /// Names the counter in requests and in its slots' keys.
    pub id: CounterId,
    /// Shown to citizens, e.g. "DELEGHE IDENTITÀ DIGITALI IN WEB MEETING".
    pub name: String,
    /// M11: the office the counter belongs to.
    pub office: OfficeId,
    /// B1: a citizen holds at most one active booking per counter type.
    pub counter_type: String,
    /// B5: the modes a booking at this counter may take.
    pub modes: Vec<Mode>,
    /// B3: when it is open, and so which slots it offers.
    pub schedule: WeeklySchedule,
    /// B10: the letter its ticket codes start with; unique among the
    /// counters of its office. Unset: the first letter of its id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_letter: Option<char>,
}

/// B10: a counter's letter when none is configured: the first ASCII letter
/// of its id, in upper case (`X` if it has none).
pub fn default_ticket_letter(id: &CounterId) -> char {
    id.as_str()
        .chars()
        .find(char::is_ascii_alphabetic)
        .map_or('X', |c| c.to_ascii_uppercase())
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
            id: CounterId::parse(WEB_MEETING_COUNTER_ID).expect("the default counter id is valid"),
            name: WEB_MEETING_COUNTER_NAME.to_owned(),
            office,
            counter_type: DELEGATIONS_COUNTER_TYPE.to_owned(),
            modes: vec![Mode::WebMeeting],
            schedule,
            ticket_letter: None,
        }
    }

    /// B10: the letter its ticket codes start with.
    pub fn ticket_letter(&self) -> char {
        self.ticket_letter
            .filter(char::is_ascii_uppercase)
            .unwrap_or_else(|| default_ticket_letter(&self.id))
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
