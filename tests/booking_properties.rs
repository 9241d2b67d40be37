//! Property test of the booking limits, with the strategies, the reference
//! model and the invariant checks of `deleghe-testkit`: random sequences of
//! bookings, cancellations, operators' marks (served, missed), passes of
//! the timer that marks unserved bookings missed, and time jumps, by a few
//! citizens over a few counters, run through the service (in memory) and
//! against the kit's model. After every step: B1 (one active booking per
//! counter type), B2 (at most `max_active_bookings`), B4 (never more
//! bookings in a slot than its capacity, and every booking that was
//! confirmed holds exactly one place), B8 (a booking ends once, and an
//! ended one no longer counts), and B10 (no two places of a slot share a
//! ticket code). `PROPTEST_CASES` raises the number of cases.

use chrono::Duration;
use deleghe::adapters::{Actor, Deleghe, Metadata, SettableClock};
use deleghe::domain::booking::{
    AccessCodeDigest, BookerCommand, BookingId, GrantorDetails, Phone, RequestBooking, Settler,
};
use deleghe::domain::{FiscalCode, Policy};
use deleghe_testkit::fixtures::person;
use deleghe_testkit::invariants::Bookings;
use deleghe_testkit::model::booking::{counters, slot_start, t0, BookingModel, BookingStep};
use deleghe_testkit::strategies::booking_history;
use proptest::prelude::*;
use proptest::test_runner::Config;

/// The three bookers.
const CITIZENS: usize = 3;

fn citizen(i: usize) -> FiscalCode {
    person(1 + i)
}

proptest! {
    #![proptest_config(Config { failure_persistence: None, .. Config::default() })]

    #[test]
    fn b1_b2_b4_b8_b10_hold_over_random_booking_sequences(steps in booking_history()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        runtime.block_on(async {
            let policy = Policy::default();
            let clock = SettableClock::fixed(t0());
            let service = Deleghe::in_memory(policy.clone()).with_clock(clock.as_clock());
            let mut model = BookingModel::new(policy.clone(), counters());
            let counters = model.counters.clone();
            let slots: Vec<_> = counters
                .iter()
                .flat_map(|c| (0..2).map(|ix| (c.clone(), c.offers(slot_start(c, ix)).unwrap())))
                .collect();
            let people: Vec<FiscalCode> = (0..CITIZENS).map(citizen).collect();
            let mut ids: Vec<BookingId> = Vec::new();
            let mut now = t0();
            for (n, step) in steps.into_iter().enumerate() {
                match step {
                    BookingStep::Book { citizen: c, counter, slot } => {
                        let start = slot_start(&counters[counter], slot);
                        let want = model.expect_book(c, counter, start, now);
                        let id = BookingId::parse(&format!("b-{n}")).unwrap();
                        let request = RequestBooking {
                            id: id.clone(),
                            booker: citizen(c),
                            counter: counters[counter].clone(),
                            start,
                            mode: counters[counter].modes[0],
                            reason: "Prova".into(),
                            phone: Phone::parse("3331234567").unwrap(),
                            grantor: Some(GrantorDetails::new(person(0), "Mario", "Rossi").unwrap()),
                            access_code: AccessCodeDigest::from_bytes(&[7; 32]),
                            at: now,
                            booked_by: None,
                        };
                        let meta = Metadata::new(Actor::Citizen(citizen(c)), "web");
                        let got = service.book(request, &meta).await.map(|_| ()).map_err(|e| e.code().to_owned());
                        prop_assert_eq!(&got, &want.map_err(str::to_owned), "booking outcome");
                        if got.is_ok() {
                            model.booked(c, counter, start);
                            ids.push(id);
                        }
                    }
                    BookingStep::Cancel { citizen: c, nth } => {
                        let mine = model.of(c);
                        if mine.is_empty() {
                            continue;
                        }
                        let i = mine[nth % mine.len()];
                        let want = model.expect_cancel(i, now);
                        let meta = Metadata::new(Actor::Citizen(citizen(c)), "web");
                        let got = service
                            .booking_command(&citizen(c), &ids[i], BookerCommand::Cancel { id: ids[i].clone(), at: now }, &meta)
                            .await
                            .map(|_| ())
                            .map_err(|e| e.code().to_owned());
                        prop_assert_eq!(&got, &want.map_err(str::to_owned), "cancellation outcome");
                        if got.is_ok() {
                            model.bookings[i].cancelled = true;
                        }
                    }
                    BookingStep::Advance { hours } => {
                        now += Duration::hours(hours);
                        clock.set(Some(now));
                    }
                    BookingStep::Mark { citizen: c, nth, served } => {
                        let mine = model.of(c);
                        if mine.is_empty() {
                            continue;
                        }
                        let i = mine[nth % mine.len()];
                        let want = model.expect_mark(i, served, now);
                        let (id, by) = (ids[i].clone(), Settler::Operator);
                        let command = if served {
                            BookerCommand::MarkServed { id, by, at: now }
                        } else {
                            BookerCommand::MarkMissed { id, by, at: now }
                        };
                        let meta = Metadata::new(Actor::Operator("OP-1".into()), "counter");
                        let got = service
                            .booking_command(&citizen(c), &ids[i], command, &meta)
                            .await
                            .map(|_| ())
                            .map_err(|e| e.code().to_owned());
                        prop_assert_eq!(&got, &want.map_err(str::to_owned), "mark outcome");
                        if got.is_ok() {
                            model.bookings[i].ended = Some(served);
                        }
                    }
                    BookingStep::Timer => {
                        for (i, id) in ids.iter().enumerate() {
                            let b = &model.bookings[i];
                            if b.cancelled || b.ended.is_some() {
                                continue;
                            }
                            let want = model.expect_timer(i, now);
                            let command = BookerCommand::MarkMissed { id: id.clone(), by: Settler::Timer, at: now };
                            let meta = Metadata::new(Actor::System, "timer");
                            let got = service
                                .booking_command(&citizen(b.citizen), id, command, &meta)
                                .await
                                .map(|_| ())
                                .map_err(|e| e.code().to_owned());
                            prop_assert_eq!(&got, &want.map_err(str::to_owned), "timer outcome");
                            if got.is_ok() {
                                model.bookings[i].ended = Some(false);
                            }
                        }
                    }
                }
                // The invariants, on the stored state: B1, B2, B4, B10.
                let state = Bookings::load(&service, &people, &slots).await.unwrap();
                if let Err(violation) = state.check(&policy, now) {
                    return Err(TestCaseError::fail(violation.to_string()));
                }
                // B8: the stored state is the model's, booking by booking.
                for (i, id) in ids.iter().enumerate() {
                    let expected = &model.bookings[i];
                    let stored = state.bookers[&citizen(expected.citizen)].booking(id).unwrap();
                    prop_assert_eq!(stored.status().as_str(), expected.status(), "B8");
                    prop_assert_eq!(stored.is_active(now), expected.active(now), "B8: ended bookings do not count");
                }
            }
            Ok(())
        })?;
    }
}
