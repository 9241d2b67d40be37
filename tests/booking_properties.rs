//! Property test of the booking limits: random sequences of bookings,
//! cancellations, operators' marks (served, missed), passes of the timer
//! that marks unserved bookings missed, and time jumps, by a few citizens
//! over a few counters, run through the service (in memory) and against a
//! small reference model. After every step: B1 (one active booking per
//! counter type), B2 (at most `max_active_bookings`), B4 (never more
//! bookings in a slot than its capacity), every booking that was confirmed
//! holds exactly one place, B8 (a booking ends once, and an ended one no
//! longer counts), and B10 (no two places of a slot share a ticket code).
//! `PROPTEST_CASES` raises the number of cases.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc, Weekday};
use deleghe::adapters::{Actor, Deleghe, Metadata, SettableClock};
use deleghe::domain::booking::{
    slot_key, AccessCodeDigest, BookerCommand, BookingId, BookingStage, GrantorDetails, Phone,
    RequestBooking, Settler,
};
use deleghe::domain::schedule::{
    Counter, CounterId, Mode, OfficeId, OpeningInterval, WeeklySchedule,
};
use deleghe::domain::{FiscalCode, Policy};
use proptest::prelude::*;
use proptest::test_runner::Config;

const CITIZENS: [&str; 3] = ["VRDLGU70A01H501O", "BNCGNN80A41F205A", "NREFNC62B15L219M"];
const GRANTOR: &str = "RSSMRA85T10A562S";

fn citizen(i: usize) -> FiscalCode {
    FiscalCode::parse(CITIZENS[i]).unwrap()
}

/// Monday 30 November 2026, 08:00 in Rome.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 7, 0, 0).unwrap()
}

/// The web-meeting delegations counter (capacity 2) and three counters of
/// other types (capacity 1), so that both B1 and B2 can be reached.
fn counters() -> Vec<Counter> {
    let office = OfficeId::parse("DCM NAPOLI").unwrap();
    let mut all = vec![Counter::web_meeting_delegations(office.clone())];
    for kind in ["pensioni", "anagrafica", "invalidita"] {
        all.push(Counter {
            id: CounterId::parse(kind).unwrap(),
            name: kind.to_uppercase(),
            office: office.clone(),
            counter_type: kind.to_owned(),
            modes: vec![Mode::InPerson],
            schedule: WeeklySchedule::uniform(
                [
                    Weekday::Mon,
                    Weekday::Tue,
                    Weekday::Wed,
                    Weekday::Thu,
                    Weekday::Fri,
                ],
                &[OpeningInterval::new(
                    NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
                    NaiveTime::from_hms_opt(10, 0, 0).unwrap(),
                )],
                30,
                1,
            )
            .unwrap(),
            ticket_letter: None,
        });
    }
    all
}

/// Two slots per counter in the first days of December.
fn slot_start(counter: &Counter, ix: usize) -> DateTime<Utc> {
    let from = t0().date_naive();
    let slots = counter
        .slots_between(from, from + Duration::days(6))
        .unwrap();
    slots[ix % 2].start
}

#[derive(Debug, Clone)]
enum Step {
    Book {
        citizen: usize,
        counter: usize,
        slot: usize,
    },
    Cancel {
        citizen: usize,
        nth: usize,
    },
    Advance {
        hours: i64,
    },
    /// B8: an operator marks one of a citizen's bookings served or missed.
    Mark {
        citizen: usize,
        nth: usize,
        served: bool,
    },
    /// B8: the timer's pass over every booking not ended.
    Timer,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0..CITIZENS.len(), 0..4usize, 0..2usize)
            .prop_map(|(citizen, counter, slot)| Step::Book { citizen, counter, slot }),
        2 => (0..CITIZENS.len(), 0..4usize).prop_map(|(citizen, nth)| Step::Cancel { citizen, nth }),
        2 => (1i64..30).prop_map(|hours| Step::Advance { hours }),
        2 => (0..CITIZENS.len(), 0..4usize, any::<bool>())
            .prop_map(|(citizen, nth, served)| Step::Mark { citizen, nth, served }),
        1 => Just(Step::Timer),
    ]
}

/// The reference model's booking.
#[derive(Debug, Clone)]
struct ModelBooking {
    citizen: usize,
    counter: usize,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    cancelled: bool,
    /// B8: `Some(true)` served, `Some(false)` missed.
    ended: Option<bool>,
}

impl ModelBooking {
    fn active(&self, now: DateTime<Utc>) -> bool {
        !self.cancelled && self.ended.is_none() && now < self.end
    }
}

/// B8 as the model reads it: what an operator's mark answers.
fn expected_mark(b: &ModelBooking, served: bool, now: DateTime<Utc>) -> Result<(), &'static str> {
    if b.counter == 0 {
        Err("settled_by_meeting")
    } else if b.cancelled {
        Err("not_active")
    } else if let Some(was_served) = b.ended {
        if was_served == served {
            Ok(())
        } else {
            Err("not_active")
        }
    } else if now < b.start {
        Err("slot_not_started")
    } else {
        Ok(())
    }
}

fn expected(
    model: &[ModelBooking],
    counters: &[Counter],
    policy: &Policy,
    now: DateTime<Utc>,
    citizen: usize,
    counter: usize,
    start: DateTime<Utc>,
) -> Result<(), &'static str> {
    let kind = &counters[counter].counter_type;
    let mine: Vec<_> = model
        .iter()
        .filter(|b| b.citizen == citizen && b.active(now))
        .collect();
    if now >= start {
        Err("slot_started")
    } else if mine
        .iter()
        .any(|b| &counters[b.counter].counter_type == kind)
    {
        Err("counter_already_booked")
    } else if mine.len() >= policy.max_active_bookings as usize {
        Err("booking_limit_reached")
    } else if model
        .iter()
        .filter(|b| b.counter == counter && b.start == start && !b.cancelled)
        .count()
        >= counters[counter].capacity() as usize
    {
        Err("slot_full")
    } else {
        Ok(())
    }
}

proptest! {
    #![proptest_config(Config { failure_persistence: None, .. Config::default() })]

    #[test]
    fn b1_b2_b4_b8_b10_hold_over_random_booking_sequences(steps in prop::collection::vec(step(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        runtime.block_on(async {
            let policy = Policy::default();
            let clock = SettableClock::fixed(t0());
            let service = Deleghe::in_memory(policy.clone()).with_clock(clock.as_clock());
            let counters = counters();
            let mut model: Vec<ModelBooking> = Vec::new();
            let mut ids: Vec<(usize, BookingId)> = Vec::new();
            let mut now = t0();
            for (n, step) in steps.into_iter().enumerate() {
                match step {
                    Step::Book { citizen: c, counter, slot } => {
                        let start = slot_start(&counters[counter], slot);
                        let want = expected(&model, &counters, &policy, now, c, counter, start);
                        let id = BookingId::parse(&format!("b-{n}")).unwrap();
                        let request = RequestBooking {
                            id: id.clone(),
                            booker: citizen(c),
                            counter: counters[counter].clone(),
                            start,
                            mode: counters[counter].modes[0],
                            reason: "Prova".into(),
                            phone: Phone::parse("3331234567").unwrap(),
                            grantor: Some(GrantorDetails::new(FiscalCode::parse(GRANTOR).unwrap(), "Mario", "Rossi").unwrap()),
                            access_code: AccessCodeDigest::from_bytes(&[7; 32]),
                            at: now,
                            booked_by: None,
                        };
                        let meta = Metadata::new(Actor::Citizen(citizen(c)), "web");
                        let got = service.book(request, &meta).await.map(|_| ()).map_err(|e| e.code().to_owned());
                        prop_assert_eq!(&got, &want.map_err(str::to_owned), "booking outcome");
                        if got.is_ok() {
                            let end = counters[counter].offers(start).unwrap().end;
                            model.push(ModelBooking { citizen: c, counter, start, end, cancelled: false, ended: None });
                            ids.push((c, id));
                        }
                    }
                    Step::Cancel { citizen: c, nth } => {
                        let mine: Vec<usize> = (0..ids.len()).filter(|i| ids[*i].0 == c).collect();
                        if mine.is_empty() {
                            continue;
                        }
                        let i = mine[nth % mine.len()];
                        let b = &model[i];
                        let want = if b.cancelled || b.ended.is_some() || now >= b.end {
                            Err(if b.cancelled || b.ended.is_some() { "not_active" } else { "slot_started" })
                        } else if now >= b.start {
                            Err("slot_started")
                        } else {
                            Ok(())
                        };
                        let meta = Metadata::new(Actor::Citizen(citizen(c)), "web");
                        let got = service
                            .booking_command(&citizen(c), &ids[i].1, BookerCommand::Cancel { id: ids[i].1.clone(), at: now }, &meta)
                            .await
                            .map(|_| ())
                            .map_err(|e| e.code().to_owned());
                        prop_assert_eq!(&got, &want.map_err(str::to_owned), "cancellation outcome");
                        if got.is_ok() {
                            model[i].cancelled = true;
                        }
                    }
                    Step::Advance { hours } => {
                        now += Duration::hours(hours);
                        clock.set(Some(now));
                    }
                    Step::Mark { citizen: c, nth, served } => {
                        let mine: Vec<usize> = (0..ids.len()).filter(|i| ids[*i].0 == c).collect();
                        if mine.is_empty() {
                            continue;
                        }
                        let i = mine[nth % mine.len()];
                        let want = expected_mark(&model[i], served, now);
                        let (id, by) = (ids[i].1.clone(), Settler::Operator);
                        let command = if served {
                            BookerCommand::MarkServed { id, by, at: now }
                        } else {
                            BookerCommand::MarkMissed { id, by, at: now }
                        };
                        let meta = Metadata::new(Actor::Operator("OP-1".into()), "counter");
                        let got = service
                            .booking_command(&citizen(c), &ids[i].1, command, &meta)
                            .await
                            .map(|_| ())
                            .map_err(|e| e.code().to_owned());
                        prop_assert_eq!(&got, &want.map_err(str::to_owned), "mark outcome");
                        if got.is_ok() {
                            model[i].ended = Some(served);
                        }
                    }
                    Step::Timer => {
                        let due_after = Duration::minutes(i64::from(policy.missed_after_minutes));
                        for i in 0..model.len() {
                            let b = &model[i];
                            if b.cancelled || b.ended.is_some() {
                                continue;
                            }
                            let want = if now < b.end + due_after { Err("not_yet_missed") } else { Ok(()) };
                            let id = ids[i].1.clone();
                            let command = BookerCommand::MarkMissed { id: id.clone(), by: Settler::Timer, at: now };
                            let meta = Metadata::new(Actor::System, "timer");
                            let got = service
                                .booking_command(&citizen(b.citizen), &id, command, &meta)
                                .await
                                .map(|_| ())
                                .map_err(|e| e.code().to_owned());
                            prop_assert_eq!(&got, &want.map_err(str::to_owned), "timer outcome");
                            if got.is_ok() {
                                model[i].ended = Some(false);
                            }
                        }
                    }
                }
                // The invariants, on the stored state.
                for c in 0..CITIZENS.len() {
                    let booker = service.booker(&citizen(c)).await.unwrap();
                    let active: Vec<_> = booker.active(now).collect();
                    prop_assert!(active.len() <= policy.max_active_bookings as usize, "B2");
                    for (i, a) in active.iter().enumerate() {
                        for b in &active[i + 1..] {
                            prop_assert_ne!(&a.counter_type, &b.counter_type, "B1");
                        }
                    }
                    // B8: the stored state is the model's, booking by booking.
                    for (i, (owner, id)) in ids.iter().enumerate() {
                        if *owner != c {
                            continue;
                        }
                        let stored = booker.booking(id).unwrap();
                        let want = match (model[i].cancelled, model[i].ended) {
                            (true, _) => "cancelled",
                            (false, Some(true)) => "served",
                            (false, Some(false)) => "missed",
                            (false, None) => "confirmed",
                        };
                        prop_assert_eq!(stored.status().as_str(), want, "B8");
                        prop_assert_eq!(stored.is_active(now), model[i].active(now), "B8: ended bookings do not count");
                    }
                }
                for counter in &counters {
                    for ix in 0..2 {
                        let slot = counter.offers(slot_start(counter, ix)).unwrap();
                        let ledger = service.slot(&slot_key(&counter.id, &slot)).await.unwrap();
                        prop_assert!(ledger.taken() <= counter.capacity() as usize, "B4");
                        // Every booking of the slot that was confirmed (then
                        // perhaps served or missed) holds a place, and nothing
                        // else does; no two share a ticket code (B10).
                        let mut confirmed = 0;
                        let mut codes = std::collections::BTreeSet::new();
                        for c in 0..CITIZENS.len() {
                            for b in service.booker(&citizen(c)).await.unwrap().bookings() {
                                let held = matches!(
                                    b.stage,
                                    BookingStage::Confirmed | BookingStage::Served { .. } | BookingStage::Missed { .. }
                                );
                                if b.counter == counter.id && b.slot == slot && held {
                                    prop_assert!(ledger.holds(&b.id));
                                    let code = b.ticket_code().expect("a place's ticket code");
                                    prop_assert!(codes.insert(code), "B10: a ticket code given twice");
                                    confirmed += 1;
                                }
                            }
                        }
                        prop_assert_eq!(ledger.taken(), confirmed);
                    }
                }
            }
            Ok(())
        })?;
    }
}
