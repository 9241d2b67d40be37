//! B3, B4, B6: the schedule's rules, each in a test named after it, and
//! properties over random schedules and ranges across daylight-saving changes.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use proptest::prelude::*;

use super::weekly::WEEK;
use super::*;
use crate::time::ROME;

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
        ticket_letter: None,
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
    assert!(c.schedule.closed_dates().iter().eq([&d(2026, 6, 2)]));
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
    assert!(s.is_open_on(Weekday::Mon) && s.is_open_on(Weekday::Thu));
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
