//! Given/when/then tests of B1–B7, named after the rule ids. The invariants
//! under random sequences are property-tested in `tests/booking_properties.rs`.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc, Weekday};
use cqrs_es::test::TestFramework;

use super::flow::{after_booker_event, after_refusal, after_slot_event, BookingFlowCommand};
use super::*;
use crate::schedule::{Counter, CounterId, Mode, OfficeId, OpeningInterval, WeeklySchedule};
use crate::{FiscalCode, Policy};

const BOOKER: &str = "VRDLGU70A01H501O";
const GRANTOR: &str = "RSSMRA85T10A562S";

fn cf(s: &str) -> FiscalCode {
    FiscalCode::parse(s).unwrap()
}

fn web_counter() -> Counter {
    Counter::web_meeting_delegations(OfficeId::parse("DCM NAPOLI").unwrap())
}

/// A counter of another type, open every weekday 08:30–12:00.
fn other_counter(id: &str, kind: &str) -> Counter {
    let days = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ];
    let hours = [OpeningInterval::new(
        NaiveTime::from_hms_opt(8, 30, 0).unwrap(),
        NaiveTime::from_hms_opt(12, 0, 0).unwrap(),
    )];
    Counter {
        id: CounterId::parse(id).unwrap(),
        name: kind.to_uppercase(),
        office: OfficeId::parse("DCM NAPOLI").unwrap(),
        counter_type: kind.to_owned(),
        modes: vec![Mode::InPerson, Mode::PhoneCallback],
        schedule: WeeklySchedule::uniform(days, &hours, 30, 1).unwrap(),
        ticket_letter: None,
    }
}

/// Tuesday 1 December 2026, 09:00 in Rome.
fn tuesday_9() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap()
}

fn a_week_before() -> DateTime<Utc> {
    tuesday_9() - Duration::days(7)
}

fn grantor() -> GrantorDetails {
    GrantorDetails::new(cf(GRANTOR), "Mario", "Rossi").unwrap()
}

fn web_request(id: &str, start: DateTime<Utc>) -> RequestBooking {
    RequestBooking {
        id: BookingId::parse(id).unwrap(),
        booker: cf(BOOKER),
        counter: web_counter(),
        start,
        mode: Mode::WebMeeting,
        reason: "Delega".into(),
        phone: Phone::parse("3331234567").unwrap(),
        grantor: Some(grantor()),
        access_code: AccessCodeDigest::from_bytes(&[7; 32]),
        at: a_week_before(),
        booked_by: None,
    }
}

fn other_request(id: &str, counter: Counter, start: DateTime<Utc>) -> RequestBooking {
    RequestBooking {
        counter,
        mode: Mode::InPerson,
        grantor: None,
        ..web_request(id, start)
    }
}

/// Applies a request and its confirmation, as the flow would.
fn booked(booker: &mut Booker, request: RequestBooking) {
    let policy = Policy::default();
    let id = request.id.clone();
    for e in booker
        .decide(BookerCommand::Request(Box::new(request)), &policy)
        .unwrap()
    {
        cqrs_es::Aggregate::apply(booker, e);
    }
    for e in booker
        .decide(
            BookerCommand::Confirm {
                place: None,
                id,
                at: a_week_before(),
            },
            &policy,
        )
        .unwrap()
    {
        cqrs_es::Aggregate::apply(booker, e);
    }
}

fn request_err(booker: &Booker, request: RequestBooking) -> BookingError {
    booker
        .decide(
            BookerCommand::Request(Box::new(request)),
            &Policy::default(),
        )
        .unwrap_err()
}

#[test]
fn b1_one_active_booking_per_counter_type() {
    let mut b = Booker::default();
    booked(&mut b, web_request("b-1", tuesday_9()));
    let second = web_request("b-2", tuesday_9() + Duration::days(2));
    assert_eq!(request_err(&b, second).code(), "counter_already_booked");
    // Another counter type is fine.
    let other = other_request("b-3", other_counter("pensioni", "pensioni"), tuesday_9());
    assert!(b
        .decide(BookerCommand::Request(Box::new(other)), &Policy::default())
        .is_ok());
}

#[test]
fn b1_a_cancelled_or_ended_booking_frees_the_counter_type() {
    let mut b = Booker::default();
    booked(&mut b, web_request("b-1", tuesday_9()));
    let cancel = b
        .decide(
            BookerCommand::Cancel {
                id: BookingId::parse("b-1").unwrap(),
                at: a_week_before(),
            },
            &Policy::default(),
        )
        .unwrap();
    let mut after = b.clone();
    for e in cancel {
        cqrs_es::Aggregate::apply(&mut after, e);
    }
    assert!(after
        .decide(
            BookerCommand::Request(Box::new(web_request(
                "b-2",
                tuesday_9() + Duration::days(2)
            ))),
            &Policy::default()
        )
        .is_ok());
    // Once the slot has ended (09:30), the booking is no longer active.
    let mut later = web_request("b-3", tuesday_9() + Duration::days(2));
    later.at = tuesday_9() + Duration::minutes(30);
    assert!(b
        .decide(BookerCommand::Request(Box::new(later)), &Policy::default())
        .is_ok());
}

#[tokio::test]
async fn b2_at_most_three_active_bookings() {
    let mut b = Booker::default();
    for (i, kind) in ["pensioni", "invalidita", "anagrafica"].iter().enumerate() {
        booked(
            &mut b,
            other_request(&format!("b-{i}"), other_counter(kind, kind), tuesday_9()),
        );
    }
    assert_eq!(
        request_err(&b, web_request("b-9", tuesday_9())),
        BookingError::BookingLimitReached { max: 3 }
    );
    let events: Vec<BookerEvent> = b
        .bookings()
        .iter()
        .flat_map(|bk| {
            [
                BookerEvent::BookingRequested(Box::new(Booking {
                    stage: BookingStage::Pending,
                    ..bk.clone()
                })),
                BookerEvent::BookingConfirmed {
                    place: None,
                    id: bk.id.clone(),
                    booker: bk.booker.clone(),
                    at: a_week_before(),
                },
            ]
        })
        .collect();
    TestFramework::<Booker>::with(Policy {
        max_active_bookings: 4,
        ..Policy::default()
    })
    .given(events)
    .when_async(BookerCommand::Request(Box::new(web_request(
        "b-9",
        tuesday_9(),
    ))))
    .await
    .inspect_result()
    .expect("B2: the limit is policy, 4 allows a fourth");
}

#[test]
fn b3_only_offered_slots_can_be_booked() {
    let b = Booker::default();
    // 09:15 is not a slot start, Wednesday is closed, 12:00 is past closing.
    for start in [
        tuesday_9() + Duration::minutes(15),
        tuesday_9() + Duration::days(1),
        tuesday_9() + Duration::hours(3),
    ] {
        assert_eq!(
            request_err(&b, web_request("b-1", start)),
            BookingError::SlotNotOffered
        );
    }
    let mut wrong_mode = web_request("b-1", tuesday_9());
    wrong_mode.mode = Mode::InPerson;
    assert_eq!(request_err(&b, wrong_mode), BookingError::ModeNotOffered);
}

#[tokio::test]
async fn b4_a_full_slot_refuses_a_place() {
    let booker = |i: usize| cf(["RSSMRA85T10A562S", "BNCGNN80A41F205A", "NREFNC62B15L219M"][i]);
    let reserve = |i: usize| SlotCommand::ReservePlace {
        booking: BookingId::parse(&format!("b-{i}")).unwrap(),
        booker: booker(i),
        capacity: 2,
        at: a_week_before(),
    };
    let given = (0..2)
        .map(|i| SlotEvent::PlaceReserved {
            place: 1,
            booking: BookingId::parse(&format!("b-{i}")).unwrap(),
            booker: booker(i),
            at: a_week_before(),
        })
        .collect();
    TestFramework::<SlotLedger>::with(Policy::default())
        .given(given)
        .when_async(reserve(2))
        .await
        .then_expect_error(BookingError::SlotFull { capacity: 2 });
    // Reserving a place already held is idempotent.
    let mut ledger = SlotLedger::default();
    for e in ledger.decide(reserve(0), &Policy::default()).unwrap() {
        cqrs_es::Aggregate::apply(&mut ledger, e);
    }
    assert_eq!(ledger.decide(reserve(0), &Policy::default()), Ok(vec![]));
    assert_eq!(ledger.taken(), 1);
}

#[test]
fn b5_delegations_web_meeting_needs_the_grantor_details() {
    let b = Booker::default();
    let mut r = web_request("b-1", tuesday_9());
    r.grantor = None;
    assert_eq!(request_err(&b, r).code(), "grantor_details_required");
    let mut r = web_request("b-1", tuesday_9());
    r.grantor = Some(GrantorDetails::new(cf(BOOKER), "Luigi", "Verdi").unwrap());
    assert_eq!(request_err(&b, r), BookingError::GrantorIsBooker);
    // Other counters need no grantor, and keep none.
    let events = b
        .decide(
            BookerCommand::Request(Box::new(other_request(
                "b-2",
                other_counter("pensioni", "pensioni"),
                tuesday_9(),
            ))),
            &Policy::default(),
        )
        .unwrap();
    assert!(matches!(&events[0], BookerEvent::BookingRequested(bk) if bk.grantor.is_none()));
    // Nor does a web meeting at another counter.
    let mut pensions_online = other_counter("pensioni", "pensioni");
    pensions_online.modes = vec![Mode::WebMeeting];
    let r = RequestBooking {
        mode: Mode::WebMeeting,
        ..other_request("b-3", pensions_online, tuesday_9())
    };
    let events = b
        .decide(BookerCommand::Request(Box::new(r)), &Policy::default())
        .unwrap();
    assert!(matches!(&events[0], BookerEvent::BookingRequested(bk) if bk.grantor.is_none()));
}

/// B1, B2: a retried request (the same id, booker, counter, start and
/// mode) is recognised and is no second booking; the id of a booking is
/// not taken again by a request that differs in any of them.
#[test]
fn b2_a_retried_request_is_not_a_second_booking_and_its_id_is_its_own() {
    let first = || other_request("b-1", other_counter("pensioni", "pensioni"), tuesday_9());
    let mut b = Booker::default();
    apply_all(&mut b, BookerCommand::Request(Box::new(first())));
    assert_eq!(
        b.decide(
            BookerCommand::Request(Box::new(first())),
            &Policy::default()
        ),
        Ok(vec![])
    );
    for other in [
        RequestBooking {
            booker: cf(GRANTOR),
            ..first()
        },
        RequestBooking {
            counter: other_counter("anagrafe", "anagrafe"),
            ..first()
        },
        RequestBooking {
            start: tuesday_9() + Duration::minutes(30),
            ..first()
        },
        RequestBooking {
            mode: Mode::PhoneCallback,
            ..first()
        },
    ] {
        assert_eq!(request_err(&b, other), BookingError::IdAlreadyUsed(b1()));
    }
}

#[test]
fn b6_no_booking_once_the_slot_has_started() {
    let b = Booker::default();
    let mut r = web_request("b-1", tuesday_9());
    r.at = tuesday_9();
    assert_eq!(request_err(&b, r), BookingError::SlotStarted);
    let mut r = web_request("b-1", tuesday_9());
    r.at = tuesday_9() - Duration::seconds(1);
    assert!(b
        .decide(BookerCommand::Request(Box::new(r)), &Policy::default())
        .is_ok());
}

#[test]
fn b6_cancellation_only_until_the_slot_starts() {
    let mut b = Booker::default();
    booked(&mut b, web_request("b-1", tuesday_9()));
    let id = BookingId::parse("b-1").unwrap();
    let policy = Policy::default();
    assert_eq!(
        b.decide(
            BookerCommand::Cancel {
                id: id.clone(),
                at: tuesday_9()
            },
            &policy
        ),
        Err(BookingError::SlotStarted)
    );
    let events = b
        .decide(
            BookerCommand::Cancel {
                id: id.clone(),
                at: tuesday_9() - Duration::seconds(1),
            },
            &policy,
        )
        .unwrap();
    for e in events {
        cqrs_es::Aggregate::apply(&mut b, e);
    }
    assert_eq!(
        b.decide(
            BookerCommand::Cancel {
                id,
                at: a_week_before()
            },
            &policy
        ),
        Err(BookingError::NotActive)
    );
}

#[test]
fn b7_ticket_and_list_show_office_date_time_counter_and_actions() {
    let mut b = Booker::default();
    booked(&mut b, web_request("b-1", tuesday_9()));
    let booking = &b.bookings()[0];
    let ticket = Ticket::of(booking);
    assert_eq!(ticket.office, "DCM NAPOLI");
    assert_eq!(ticket.date, "01/12/2026");
    assert_eq!(ticket.time, "09:00");
    assert_eq!(ticket.counter, "DELEGHE IDENTITÀ DIGITALI IN WEB MEETING");
    assert_eq!(ticket.mode, "Web Meeting");
    assert!(ticket.lines()[0].contains("01/12/2026 ALLE ORE 09:00"));
    assert_eq!(
        booking.actions(a_week_before()),
        vec!["detail", "ticket", "cancel", "join_meeting"]
    );
    assert_eq!(
        booking.actions(tuesday_9() + Duration::minutes(5)),
        vec!["detail", "ticket", "join_meeting"]
    );
}

/// B6, B7: cancelling is offered until the slot starts, not at its start;
/// joining a web meeting until the slot ends, not at its end.
#[test]
fn b7_actions_at_the_edges_of_the_slot() {
    let mut b = Booker::default();
    booked(&mut b, web_request("b-1", tuesday_9()));
    let booking = &b.bookings()[0];
    let (start, end) = (booking.slot.start, booking.slot.end);
    let second = Duration::seconds(1);
    assert_eq!(
        booking.actions(start - second),
        vec!["detail", "ticket", "cancel", "join_meeting"]
    );
    assert_eq!(
        booking.actions(start),
        vec!["detail", "ticket", "join_meeting"]
    );
    assert_eq!(
        booking.actions(end - second),
        vec!["detail", "ticket", "join_meeting"]
    );
    assert_eq!(booking.actions(end), vec!["detail", "ticket"]);
    // A booking in person has no meeting to join.
    let counter = other_counter("pensioni", "pensioni");
    booked(&mut b, other_request("b-2", counter, tuesday_9()));
    let in_person = b.booking(&BookingId::parse("b-2").unwrap()).unwrap();
    assert_eq!(
        in_person.actions(start - second),
        vec!["detail", "ticket", "cancel"]
    );
}

/// M2: a stored booking is read back with the digest of its access code;
/// a plain code, stored before codes were kept as digests, is dropped
/// (docs/adr/0008-access-codes-derived-never-stored.md).
#[test]
fn m2_a_stored_booking_keeps_its_code_digest_and_drops_a_plain_code() {
    let mut b = Booker::default();
    booked(&mut b, web_request("b-1", tuesday_9()));
    let booking = b.bookings()[0].clone();
    assert_eq!(
        booking.access_code,
        Some(AccessCodeDigest::from_bytes(&[7; 32]))
    );
    let mut stored = serde_json::to_value(&booking).unwrap();
    let read: Booking = serde_json::from_value(stored.clone()).unwrap();
    assert_eq!(read, booking);
    stored["access_code"] = "483920".into();
    let legacy: Booking = serde_json::from_value(stored).unwrap();
    assert_eq!(legacy.access_code, None);
}

#[test]
fn m11_a_booking_is_handled_by_operators_of_its_office() {
    let mut b = Booker::default();
    booked(&mut b, web_request("b-1", tuesday_9()));
    let booking = &b.bookings()[0];
    assert_eq!(booking.check_office("DCM NAPOLI"), Ok(()));
    let other = booking.check_office("MILANO NORD").unwrap_err();
    assert_eq!(
        other,
        BookingError::OtherOffice {
            office: OfficeId::parse("DCM NAPOLI").unwrap()
        }
    );
    assert_eq!(other.code(), "other_office");
}

/// B4: a booking's request names, ahead, the slot's stream its flow's next
/// step takes a place on, and no other.
#[test]
fn b4_a_booking_request_names_the_slots_stream_ahead() {
    use crate::flows::{react, Command, Event};
    let request = BookerCommand::Request(Box::new(web_request("b-1", tuesday_9())));
    let first = Command::Booker {
        id: cf(BOOKER),
        command: request.clone(),
    };
    let events = Booker::default()
        .decide(request, &Policy::default())
        .unwrap();
    let next: Vec<(&str, String)> = react(&Event::Booker(events[0].clone()), a_week_before())
        .iter()
        .map(|c| (c.target().0, c.target().1.to_owned()))
        .collect();
    assert_eq!(next.len(), 1);
    assert_eq!(first.streams_ahead(), next);
    // A step that is not a request names nothing ahead.
    let confirm = Command::Booker {
        id: cf(BOOKER),
        command: BookerCommand::Confirm {
            id: b1(),
            place: None,
            at: tuesday_9(),
        },
    };
    assert!(confirm.streams_ahead().is_empty());
}

/// D12, B5, M7: a web meeting at the delegations counter registers a
/// delegation to its booker, so its booking and every command on a meeting
/// reach a delegation; a booking at another counter, or another mode, and a
/// cancellation do not.
#[test]
fn d12_a_delegations_web_meeting_reaches_a_delegation() {
    use crate::flows::Command;
    let request = |r: RequestBooking| Command::Booker {
        id: cf(BOOKER),
        command: BookerCommand::Request(Box::new(r)),
    };
    let meeting = web_request("b-1", tuesday_9());
    assert!(meeting.registers_a_delegation());
    assert!(request(meeting.clone()).reaches_a_delegation());
    let elsewhere = other_request("b-2", other_counter("pensioni", "pensioni"), tuesday_9());
    assert!(!elsewhere.registers_a_delegation());
    assert!(!request(elsewhere).reaches_a_delegation());
    let in_person = RequestBooking {
        mode: Mode::InPerson,
        ..meeting
    };
    assert!(!in_person.registers_a_delegation());
    let cancel = Command::Booker {
        id: cf(BOOKER),
        command: BookerCommand::Cancel {
            id: b1(),
            at: tuesday_9(),
        },
    };
    assert!(!cancel.reaches_a_delegation());
    let consent = Command::Meeting {
        id: b1(),
        command: crate::meeting::MeetingCommand::Consent {
            recording: true,
            at: tuesday_9(),
        },
    };
    assert!(consent.reaches_a_delegation());
}

#[test]
fn b4_flow_reserves_then_confirms_or_refuses_and_releases_on_cancel() {
    let b = Booker::default();
    let events = b
        .decide(
            BookerCommand::Request(Box::new(web_request("b-1", tuesday_9()))),
            &Policy::default(),
        )
        .unwrap();
    let now = a_week_before();
    let reserve = after_booker_event(&events[0], now).unwrap();
    let BookingFlowCommand::Slot {
        slot_key,
        command: SlotCommand::ReservePlace { capacity, .. },
    } = &reserve
    else {
        panic!("expected a reservation, got {reserve:?}");
    };
    assert_eq!(slot_key, "deleghe-web-meeting@2026-12-01T08:00:00Z");
    assert_eq!(*capacity, 2);
    let refused = after_refusal(&reserve, &BookingError::SlotFull { capacity: 2 }, now);
    assert!(matches!(
        refused,
        Some(BookingFlowCommand::Booker { command: BookerCommand::Refuse { ref refusal, .. }, .. })
            if *refusal == BookingError::SlotFull { capacity: 2 }
    ));
    let placed = SlotEvent::PlaceReserved {
        place: 1,
        booking: BookingId::parse("b-1").unwrap(),
        booker: cf(BOOKER),
        at: now,
    };
    assert!(matches!(
        after_slot_event(&placed, now),
        Some(BookingFlowCommand::Booker {
            command: BookerCommand::Confirm { .. },
            ..
        })
    ));
    let cancelled = BookerEvent::BookingCancelled {
        id: BookingId::parse("b-1").unwrap(),
        booker: cf(BOOKER),
        slot_key: slot_key.clone(),
        at: now,
    };
    assert!(matches!(
        after_booker_event(&cancelled, now),
        Some(BookingFlowCommand::Slot {
            command: SlotCommand::ReleasePlace { .. },
            ..
        })
    ));
}

/// B4: a booking step repeated (a retry, or the runner racing the request)
/// carries the flow on as its event did: the request to the reservation of a
/// place in its slot, the reservation to the confirmation.
#[test]
fn b4_a_repeated_booking_step_continues_the_flow_like_its_event() {
    use crate::flows::{after_repeat, react, Command, Event};
    let now = a_week_before();
    let request = web_request("b-1", tuesday_9());
    let first = Command::Booker {
        id: cf(BOOKER),
        command: BookerCommand::Request(Box::new(request.clone())),
    };
    let requested = Booker::default()
        .decide(
            BookerCommand::Request(Box::new(request)),
            &Policy::default(),
        )
        .unwrap();
    let reserve = after_repeat(&first, now);
    assert_eq!(reserve, react(&Event::Booker(requested[0].clone()), now));
    let [Command::Slot {
        id,
        command: SlotCommand::ReservePlace { capacity, .. },
    }] = &reserve[..]
    else {
        panic!("a reservation of a place: {reserve:?}");
    };
    assert_eq!(id, "deleghe-web-meeting@2026-12-01T08:00:00Z");
    assert_eq!(*capacity, 2);
    assert_eq!(
        after_repeat(&reserve[0], now),
        vec![Command::Booker {
            id: cf(BOOKER),
            command: BookerCommand::Confirm {
                id: BookingId::parse("b-1").unwrap(),
                place: None,
                at: now,
            },
        }]
    );
}

/// B10: the confirmation that follows a reservation carries the place's
/// number to the booking; a reservation stored before B10 (place 0) has
/// none to carry.
#[test]
fn b10_the_flow_carries_the_place_number_to_the_confirmation() {
    let now = a_week_before();
    let reserved = |place| SlotEvent::PlaceReserved {
        place,
        booking: b1(),
        booker: cf(BOOKER),
        at: now,
    };
    for (place, carried) in [(0, None), (1, Some(1)), (7, Some(7))] {
        let next = after_slot_event(&reserved(place), now).unwrap();
        assert_eq!(next.aggregate_id(), BOOKER);
        assert_eq!(
            next,
            BookingFlowCommand::Booker {
                booker: cf(BOOKER),
                command: BookerCommand::Confirm {
                    id: b1(),
                    place: carried,
                    at: now,
                },
            }
        );
    }
}

/// B4: a confirmation refused because the booking was closed meanwhile
/// gives its place back to the slot, on the slot's own stream; any other
/// refused confirmation is left alone.
#[test]
fn b4_the_flow_gives_back_the_place_of_a_booking_closed_meanwhile() {
    let now = a_week_before();
    let key = "pensioni@2026-12-01T08:00:00Z".to_owned();
    let confirm = BookingFlowCommand::Booker {
        booker: cf(BOOKER),
        command: BookerCommand::Confirm {
            id: b1(),
            place: Some(1),
            at: now,
        },
    };
    let closed = BookingError::NoLongerPending {
        id: b1(),
        booker: cf(BOOKER),
        slot_key: key.clone(),
    };
    let release = after_refusal(&confirm, &closed, now).unwrap();
    assert_eq!(release.aggregate_id(), key);
    assert_eq!(
        release,
        BookingFlowCommand::Slot {
            slot_key: key,
            command: SlotCommand::ReleasePlace {
                booking: b1(),
                booker: cf(BOOKER),
                at: now,
            },
        }
    );
    assert_eq!(after_refusal(&confirm, &BookingError::NotActive, now), None);
}

// ---------------------------------------------------------------- the events

/// A booking requested a week before its Tuesday 09:00 slot, and every
/// event that follows on it, the n-th (after the request) `n` hours later.
fn every_booker_event() -> Vec<BookerEvent> {
    let events = Booker::default()
        .decide(
            BookerCommand::Request(Box::new(web_request("b-1", tuesday_9()))),
            &Policy::default(),
        )
        .unwrap();
    let BookerEvent::BookingRequested(booking) = &events[0] else {
        panic!("expected a request, got {events:?}");
    };
    let (id, booker) = (booking.id.clone(), booking.booker.clone());
    let key = slot_key(&booking.counter, &booking.slot);
    let at = |hours| a_week_before() + Duration::hours(hours);
    vec![
        events[0].clone(),
        BookerEvent::BookingConfirmed {
            place: None,
            id: id.clone(),
            booker: booker.clone(),
            at: at(1),
        },
        BookerEvent::BookingRefused {
            id: id.clone(),
            booker: booker.clone(),
            slot_key: key.clone(),
            reason: "slot_full".into(),
            refusal: Some(BookingError::SlotFull { capacity: 2 }),
            at: at(2),
        },
        BookerEvent::BookingCancelled {
            id: id.clone(),
            booker: booker.clone(),
            slot_key: key,
            at: at(3),
        },
        BookerEvent::BookingServed {
            id: id.clone(),
            booker: booker.clone(),
            at: at(4),
        },
        BookerEvent::BookingMissed {
            id,
            booker,
            at: at(5),
        },
    ]
}

#[test]
fn booker_events_name_their_booking_and_carry_their_instant() {
    let events = every_booker_event();
    assert_eq!(events.len(), 6, "one of each");
    for (n, event) in events.iter().enumerate() {
        assert_eq!(event.booking_id().as_str(), "b-1", "{event:?}");
        assert_eq!(
            event.at(),
            a_week_before() + Duration::hours(n as i64),
            "{event:?}"
        );
    }
}

/// The names a citizen's booking events are stored under, fixed: they are
/// the serde tags of the stored JSON and the names the upcasters and the
/// read side look for, at version 1.0 (renaming one is a break of the
/// stored format, not a refactoring).
#[test]
fn booker_events_are_stored_under_their_own_names() {
    let mut names = Vec::new();
    for event in &every_booker_event() {
        let json = serde_json::to_value(event).unwrap();
        let tag = json.as_object().unwrap().keys().next().unwrap().clone();
        assert_eq!(cqrs_es::DomainEvent::event_type(event), tag);
        assert_eq!(cqrs_es::DomainEvent::event_version(event), "1.0");
        names.push(tag);
    }
    assert_eq!(
        names,
        [
            "BookingRequested",
            "BookingConfirmed",
            "BookingRefused",
            "BookingCancelled",
            "BookingServed",
            "BookingMissed"
        ]
    );
}

#[test]
fn booking_stage_names_are_those_the_read_side_stores() {
    let at = tuesday_9();
    for (stage, name) in [
        (BookingStage::Pending, "pending"),
        (BookingStage::Confirmed, "confirmed"),
        (BookingStage::Cancelled { at }, "cancelled"),
        (
            BookingStage::Refused {
                at,
                reason: "slot_full".into(),
                refusal: None,
            },
            "refused",
        ),
        (BookingStage::Served { at }, "served"),
        (BookingStage::Missed { at }, "missed"),
    ] {
        assert_eq!(stage.as_str(), name);
        assert_eq!(serde_json::to_value(&stage).unwrap()["stage"], name);
    }
}

/// B8: the statuses a client sees have the wire names of the HTTP contract,
/// the ones their serialised form carries.
#[test]
fn b8_status_names_are_those_of_the_http_contract() {
    for (status, name) in [
        (BookingStatus::Pending, "pending"),
        (BookingStatus::Confirmed, "confirmed"),
        (BookingStatus::Cancelled, "cancelled"),
        (BookingStatus::Refused, "refused"),
        (BookingStatus::Served, "served"),
        (BookingStatus::Missed, "missed"),
    ] {
        assert_eq!(status.as_str(), name);
        assert_eq!(serde_json::to_value(status).unwrap(), name);
    }
}

/// B9: the channels an operator books from have the wire names of the HTTP
/// contract, the ones their serialised form carries.
#[test]
fn b9_operator_channel_names_are_those_of_the_http_contract() {
    for (channel, name) in [
        (OperatorChannel::FrontOffice, "front_office"),
        (OperatorChannel::ContactCenter, "contact_center"),
    ] {
        assert_eq!(channel.as_str(), name);
        assert_eq!(serde_json::to_value(channel).unwrap(), name);
    }
}

#[test]
fn slot_events_name_their_booking_and_whether_it_holds_its_place() {
    let booking = BookingId::parse("b-1").unwrap();
    let reserved = SlotEvent::PlaceReserved {
        place: 1,
        booking: booking.clone(),
        booker: cf(BOOKER),
        at: a_week_before(),
    };
    let released = SlotEvent::PlaceReleased {
        booking: booking.clone(),
        booker: cf(BOOKER),
        at: tuesday_9(),
    };
    assert_eq!(reserved.booking_id(), &booking);
    assert!(reserved.holds_place());
    assert_eq!(reserved.at(), a_week_before());
    assert_eq!(released.booking_id(), &booking);
    assert!(!released.holds_place());
    assert_eq!(released.at(), tuesday_9());
}

// ---------------------------------------------------------------- one booking

#[test]
fn a_request_starts_a_pending_booking_and_nothing_else_does() {
    let events = every_booker_event();
    let BookerEvent::BookingRequested(requested) = &events[0] else {
        panic!("expected a request first");
    };
    let booking = Booking::from_request(&events[0]).unwrap();
    assert_eq!(&booking, requested.as_ref());
    assert_eq!(booking.stage, BookingStage::Pending);
    for event in &events[1..] {
        assert_eq!(Booking::from_request(event), None, "{event:?}");
    }
}

#[test]
fn a_booking_follows_its_events() {
    let events = every_booker_event();
    let pending = Booking::from_request(&events[0]).unwrap();
    let at = |hours| a_week_before() + Duration::hours(hours);
    for (event, stage) in events[1..].iter().zip([
        BookingStage::Confirmed,
        BookingStage::Refused {
            at: at(2),
            reason: "slot_full".into(),
            refusal: Some(BookingError::SlotFull { capacity: 2 }),
        },
        BookingStage::Cancelled { at: at(3) },
        BookingStage::Served { at: at(4) },
        BookingStage::Missed { at: at(5) },
    ]) {
        let mut booking = pending.clone();
        booking.apply(event);
        assert_eq!(
            booking,
            Booking {
                stage,
                ..pending.clone()
            }
        );
    }
}

#[test]
fn a_booking_ignores_its_request_and_other_bookings() {
    let events = every_booker_event();
    let pending = Booking::from_request(&events[0]).unwrap();
    let mut booking = pending.clone();
    booking.apply(&events[0]);
    assert_eq!(booking, pending);
    let other = BookerEvent::BookingConfirmed {
        place: None,
        id: BookingId::parse("b-9").unwrap(),
        booker: cf(BOOKER),
        at: tuesday_9(),
    };
    booking.apply(&other);
    assert_eq!(booking, pending);
}

#[test]
fn one_row_per_booking_applying_each_event_is_the_bookers_state() {
    // What a read model does with the booker's events: one booking per id,
    // started by its request, changed by every later event about it.
    let policy = Policy::default();
    let pensioni = other_counter("pensioni", "pensioni");
    let id = |s| BookingId::parse(s).unwrap();
    let mut booker = Booker::default();
    let mut log = vec![];
    let commands = [
        BookerCommand::Request(Box::new(web_request("b-1", tuesday_9()))),
        BookerCommand::Request(Box::new(other_request("b-2", pensioni, tuesday_9()))),
        BookerCommand::Confirm {
            place: None,
            id: id("b-1"),
            at: a_week_before(),
        },
        BookerCommand::Refuse {
            id: id("b-2"),
            refusal: BookingError::SlotFull { capacity: 2 },
            at: a_week_before(),
        },
        BookerCommand::Cancel {
            id: id("b-1"),
            at: a_week_before() + Duration::days(1),
        },
    ];
    for command in commands {
        for event in booker.decide(command, &policy).unwrap() {
            cqrs_es::Aggregate::apply(&mut booker, event.clone());
            log.push(event);
        }
    }
    let mut rows: std::collections::BTreeMap<BookingId, Booking> = Default::default();
    for event in &log {
        match Booking::from_request(event) {
            Some(b) => {
                rows.insert(b.id.clone(), b);
            }
            None => rows.get_mut(event.booking_id()).unwrap().apply(event),
        }
    }
    assert_eq!(rows.into_values().collect::<Vec<_>>(), booker.bookings());
}

// ---------------------------------------------------------------- slot keys

#[test]
fn slot_key_splits_back_into_its_counter_and_start() {
    // A year of the web-meeting counter, across both daylight-saving changes.
    let counter = web_counter();
    let from = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let to = chrono::NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
    for slot in counter.slots_between(from, to).unwrap() {
        let key = slot_key(&counter.id, &slot);
        let parsed = SlotKey::parse(&key).unwrap();
        assert_eq!(parsed.counter(), &counter.id);
        assert_eq!(parsed.start(), slot.start);
        assert_eq!(parsed.to_string(), key);
        assert_eq!(key.parse::<SlotKey>(), Ok(parsed));
    }
}

#[test]
fn slot_key_reads_any_rfc3339_start_in_utc_to_the_second() {
    let key = SlotKey::parse("pensioni@2026-12-01T09:00:00+01:00").unwrap();
    assert_eq!(key.start(), tuesday_9());
    assert_eq!(key.to_string(), "pensioni@2026-12-01T08:00:00Z");
    // A key names its start to the second, as it spells it.
    let late = SlotKey::new(
        key.counter().clone(),
        tuesday_9() + Duration::milliseconds(500),
    );
    assert_eq!(late, key);
}

#[test]
fn slot_key_refuses_what_is_not_counter_at_start() {
    for bad in [
        "",
        "deleghe-web-meeting",
        "deleghe-web-meeting@",
        "@2026-12-01T08:00:00Z",
        "Deleghe@2026-12-01T08:00:00Z",
        "deleghe-web-meeting@2026-12-01",
        "deleghe-web-meeting@2026-12-01T08:00:00Z@",
    ] {
        assert_eq!(SlotKey::parse(bad), Err(SlotKeyError(bad.to_owned())));
    }
}

proptest::proptest! {
    #[test]
    fn slot_key_round_trips(
        counter in "[a-z0-9-]{1,64}",
        // From 1970 to 2100, to the second.
        seconds in 0i64..4_102_444_800,
    ) {
        let counter = CounterId::parse(&counter).unwrap();
        let start = DateTime::from_timestamp(seconds, 0).unwrap();
        let key = SlotKey::new(counter.clone(), start);
        let parsed = SlotKey::parse(&key.to_string()).unwrap();
        proptest::prop_assert_eq!(parsed.counter(), &counter);
        proptest::prop_assert_eq!(parsed.start(), start);
        proptest::prop_assert_eq!(parsed, key);
    }
}

#[test]
fn booking_error_codes_are_those_of_the_http_contract() {
    let id = BookingId::parse("x").unwrap();
    for (e, code) in [
        (
            BookingError::CounterAlreadyBooked { existing: id },
            "counter_already_booked",
        ),
        (
            BookingError::BookingLimitReached { max: 3 },
            "booking_limit_reached",
        ),
        (BookingError::SlotNotOffered, "slot_not_offered"),
        (BookingError::SlotFull { capacity: 2 }, "slot_full"),
        (BookingError::SlotStarted, "slot_started"),
        (
            BookingError::GrantorDetailsRequired,
            "grantor_details_required",
        ),
        (BookingError::NotActive, "not_active"),
    ] {
        assert_eq!(e.code(), code);
    }
}

// ---------------------------------------------------------------- B8–B10

fn b1() -> BookingId {
    BookingId::parse("b-1").unwrap()
}

fn pensions() -> Counter {
    other_counter("pensioni", "pensioni")
}

/// A booker holding `b-1`, in person at the pensions counter, confirmed at
/// place 1 of the Tuesday 09:00 slot.
fn holding_b1() -> Booker {
    let mut b = Booker::default();
    booked(&mut b, other_request("b-1", pensions(), tuesday_9()));
    apply_all(
        &mut b,
        BookerCommand::Confirm {
            id: b1(),
            place: Some(1),
            at: a_week_before(),
        },
    );
    b
}

fn apply_all(booker: &mut Booker, command: BookerCommand) -> Vec<BookerEvent> {
    let events = booker.decide(command, &Policy::default()).unwrap();
    for e in events.clone() {
        cqrs_es::Aggregate::apply(booker, e);
    }
    events
}

fn served(by: Settler, at: DateTime<Utc>) -> BookerCommand {
    BookerCommand::MarkServed { id: b1(), by, at }
}

fn missed(by: Settler, at: DateTime<Utc>) -> BookerCommand {
    BookerCommand::MarkMissed { id: b1(), by, at }
}

#[test]
fn b8_an_operator_settles_a_booking_only_once_its_slot_has_started() {
    let b = holding_b1();
    let policy = Policy::default();
    let early = tuesday_9() - Duration::seconds(1);
    for command in [
        served(Settler::Operator, early),
        missed(Settler::Operator, early),
    ] {
        assert_eq!(
            b.decide(command, &policy).unwrap_err(),
            BookingError::SlotNotStarted
        );
    }
    assert_eq!(BookingError::SlotNotStarted.code(), "slot_not_started");
    let events = b
        .decide(served(Settler::Operator, tuesday_9()), &policy)
        .unwrap();
    assert_eq!(
        events,
        vec![BookerEvent::BookingServed {
            id: b1(),
            booker: cf(BOOKER),
            at: tuesday_9()
        }]
    );
    // Missed too, from the slot's start.
    let events = b
        .decide(missed(Settler::Operator, tuesday_9()), &policy)
        .unwrap();
    assert_eq!(
        events,
        vec![BookerEvent::BookingMissed {
            id: b1(),
            booker: cf(BOOKER),
            at: tuesday_9()
        }]
    );
}

/// B4: the flow's refusal (the slot was full) refuses the booking while it
/// is pending, and only then: a booking that holds its place is not
/// refused by a late or repeated refusal.
#[test]
fn b4_a_full_slot_refuses_a_pending_booking_only() {
    let policy = Policy::default();
    let refuse = || BookerCommand::Refuse {
        id: b1(),
        refusal: BookingError::SlotFull { capacity: 1 },
        at: a_week_before(),
    };
    let mut pending = Booker::default();
    apply_all(
        &mut pending,
        BookerCommand::Request(Box::new(other_request("b-1", pensions(), tuesday_9()))),
    );
    let events = pending.decide(refuse(), &policy).unwrap();
    let [BookerEvent::BookingRefused {
        id,
        reason,
        refusal,
        ..
    }] = &events[..]
    else {
        panic!("expected a refusal, got {events:?}");
    };
    assert_eq!(id, &b1());
    assert_eq!(reason, "slot_full");
    assert_eq!(refusal, &Some(BookingError::SlotFull { capacity: 1 }));
    assert_eq!(holding_b1().decide(refuse(), &policy), Ok(vec![]));
}

#[test]
fn b8_a_web_meetings_booking_is_settled_by_its_meeting_not_by_an_operator() {
    let mut b = Booker::default();
    booked(&mut b, web_request("b-1", tuesday_9()));
    let policy = Policy::default();
    for command in [
        served(Settler::Operator, tuesday_9()),
        missed(Settler::Operator, tuesday_9()),
    ] {
        assert_eq!(
            b.decide(command, &policy).unwrap_err(),
            BookingError::SettledByMeeting
        );
    }
    assert!(b
        .decide(served(Settler::Meeting, tuesday_9()), &policy)
        .is_ok());
    assert_eq!(BookingError::SettledByMeeting.code(), "settled_by_meeting");
}

#[test]
fn b8_a_booking_ends_once_served_or_missed_and_not_twice() {
    for (first, second) in [
        (
            served(Settler::Operator, tuesday_9()),
            missed(Settler::Operator, tuesday_9()),
        ),
        (
            missed(Settler::Meeting, tuesday_9()),
            served(Settler::Meeting, tuesday_9()),
        ),
    ] {
        let mut b = holding_b1();
        let was_served = matches!(first, BookerCommand::MarkServed { .. });
        apply_all(&mut b, first.clone());
        let status = b.booking(&b1()).unwrap().status();
        let expected = if was_served {
            BookingStatus::Served
        } else {
            BookingStatus::Missed
        };
        assert_eq!(status, expected);
        assert!(!b.booking(&b1()).unwrap().is_active(a_week_before()));
        // The same outcome again is a repeat; the other one is refused.
        assert_eq!(b.decide(first, &Policy::default()), Ok(vec![]));
        assert_eq!(
            b.decide(second, &Policy::default()).unwrap_err(),
            BookingError::NotActive
        );
        // Nor can it be cancelled any more.
        assert_eq!(
            b.decide(
                BookerCommand::Cancel {
                    id: b1(),
                    at: a_week_before()
                },
                &Policy::default()
            )
            .unwrap_err(),
            BookingError::NotActive
        );
    }
}

#[test]
fn b8_a_cancelled_booking_is_neither_served_nor_missed() {
    let mut b = holding_b1();
    apply_all(
        &mut b,
        BookerCommand::Cancel {
            id: b1(),
            at: a_week_before(),
        },
    );
    for command in [
        served(Settler::Operator, tuesday_9()),
        missed(Settler::Timer, tuesday_9() + Duration::hours(2)),
    ] {
        assert_eq!(
            b.decide(command, &Policy::default()).unwrap_err(),
            BookingError::NotActive
        );
    }
}

#[test]
fn b8_an_ended_booking_no_longer_counts_toward_b1_or_b2() {
    let mut b = holding_b1();
    // Before its slot, the booking blocks its counter type (B1).
    let again = other_request("b-2", pensions(), tuesday_9() + Duration::days(2));
    let mut early = again.clone();
    early.at = tuesday_9();
    assert_eq!(
        request_err(&b, early.clone()).code(),
        "counter_already_booked"
    );
    // Served at 09:00 (the slot runs to 09:30), it no longer does.
    apply_all(&mut b, served(Settler::Meeting, tuesday_9()));
    assert!(b
        .decide(BookerCommand::Request(Box::new(early)), &Policy::default())
        .is_ok());
    assert_eq!(b.active(tuesday_9()).count(), 0);
    // Its actions offer neither joining nor cancelling (B8).
    let actions = b.booking(&b1()).unwrap().actions(a_week_before());
    assert!(
        !actions.contains(&"join_meeting") && !actions.contains(&"cancel"),
        "{actions:?}"
    );
}

#[test]
fn b8_by_itself_a_booking_is_missed_missed_after_minutes_after_its_slot_ended() {
    let b = holding_b1();
    let end = tuesday_9() + Duration::minutes(30);
    for (policy_minutes, ok_at) in [(30u32, end + Duration::minutes(30)), (0, end)] {
        let policy = Policy {
            missed_after_minutes: policy_minutes,
            ..Policy::default()
        };
        let too_soon = ok_at - Duration::seconds(1);
        assert_eq!(
            b.decide(missed(Settler::Timer, too_soon), &policy)
                .unwrap_err(),
            BookingError::NotYetMissed {
                minutes: policy_minutes
            }
        );
        assert_eq!(
            b.decide(missed(Settler::Timer, ok_at), &policy).unwrap(),
            vec![BookerEvent::BookingMissed {
                id: b1(),
                booker: cf(BOOKER),
                at: ok_at
            }]
        );
    }
    assert_eq!(
        BookingError::NotYetMissed { minutes: 30 }.code(),
        "not_yet_missed"
    );
}

#[test]
fn b8_a_meetings_end_settles_its_booking_missed_only_on_a_no_show() {
    use crate::flows::{react, Command, Event};
    use crate::meeting::{EndedBooking, MeetingEvent, Outcome};
    let ended = |outcome: Outcome| {
        react(
            &Event::Meeting(MeetingEvent::MeetingEnded {
                outcome,
                at: tuesday_9(),
                booking: Some(EndedBooking {
                    id: b1(),
                    booker: cf(BOOKER),
                }),
            }),
            tuesday_9(),
        )
    };
    assert_eq!(
        ended(Outcome::NoShow),
        vec![Command::Booker {
            id: cf(BOOKER),
            command: missed(Settler::Meeting, tuesday_9())
        }]
    );
    for outcome in [
        Outcome::DelegationRegistered {
            delegation_id: crate::delegation::DelegationId::parse("d-1").unwrap(),
        },
        Outcome::RegistrationRefused {
            code: "delegate_cap_reached".to_owned(),
        },
        Outcome::ConsentDenied,
        Outcome::GrantorAbsent,
        Outcome::TechnicalFailure,
        Outcome::DocumentsInvalid,
    ] {
        assert_eq!(
            ended(outcome.clone()),
            vec![Command::Booker {
                id: cf(BOOKER),
                command: served(Settler::Meeting, tuesday_9())
            }],
            "{outcome:?}"
        );
    }
}

#[test]
fn b9_an_operators_booking_follows_the_same_rules_and_records_who_made_it() {
    let by = BookedBy {
        operator: "OP-7".to_owned(),
        channel: OperatorChannel::ContactCenter,
    };
    let mut request = web_request("b-1", tuesday_9());
    request.booked_by = Some(by.clone());
    let mut b = Booker::default();
    booked(&mut b, request);
    assert_eq!(b.booking(&b1()).unwrap().booked_by, Some(by.clone()));
    // B1 holds for a booking an operator makes as for the citizen's own.
    let mut second = web_request("b-2", tuesday_9() + Duration::days(2));
    second.booked_by = Some(BookedBy {
        channel: OperatorChannel::FrontOffice,
        ..by
    });
    assert_eq!(request_err(&b, second).code(), "counter_already_booked");
}

#[test]
fn b10_a_slot_numbers_its_places_from_one_and_never_twice() {
    let mut ledger = SlotLedger::default();
    let reserve = |booking: &str| SlotCommand::ReservePlace {
        booking: BookingId::parse(booking).unwrap(),
        booker: cf(BOOKER),
        capacity: 3,
        at: a_week_before(),
    };
    let mut places = Vec::new();
    for (booking, release) in [("b-1", true), ("b-2", false), ("b-3", false)] {
        for e in ledger.decide(reserve(booking), &Policy::default()).unwrap() {
            if let SlotEvent::PlaceReserved { place, .. } = &e {
                places.push(*place);
            }
            cqrs_es::Aggregate::apply(&mut ledger, e);
        }
        if release {
            let events = ledger
                .decide(
                    SlotCommand::ReleasePlace {
                        booking: BookingId::parse(booking).unwrap(),
                        booker: cf(BOOKER),
                        at: a_week_before(),
                    },
                    &Policy::default(),
                )
                .unwrap();
            for e in events {
                cqrs_es::Aggregate::apply(&mut ledger, e);
            }
        }
    }
    // b-1's place 1 was given back: b-3 gets 3, not 1 again.
    assert_eq!(places, vec![1, 2, 3]);
    // A repeat of a reservation takes no new number.
    assert_eq!(
        ledger.decide(reserve("b-2"), &Policy::default()).unwrap(),
        vec![]
    );
}

#[test]
fn b10_the_ticket_code_is_the_counters_letter_the_hour_the_minutes_and_the_place() {
    let b = holding_b1();
    let booking = b.booking(&b1()).unwrap();
    // pensioni: P; 09:00 in Rome: J00; place 1.
    assert_eq!(booking.ticket_code().as_deref(), Some("PJ001"));
    let ticket = Ticket::of(booking);
    assert!(ticket.lines().contains(&"Codice: PJ001".to_owned()));
    // A counter with a letter of its own, at 11:30, place 2.
    let mut counter = web_counter();
    counter.ticket_letter = Some('W');
    let mut request = web_request("b-9", tuesday_9() + Duration::minutes(150));
    request.counter = counter;
    let mut other = Booker::default();
    booked(&mut other, request);
    apply_all(
        &mut other,
        BookerCommand::Confirm {
            id: BookingId::parse("b-9").unwrap(),
            place: Some(2),
            at: a_week_before(),
        },
    );
    let code = other
        .booking(&BookingId::parse("b-9").unwrap())
        .unwrap()
        .ticket_code();
    assert_eq!(code.as_deref(), Some("WL302"));
}

#[test]
fn b10_a_confirmation_that_did_not_know_the_place_learns_it_from_the_reservation() {
    let mut b = Booker::default();
    booked(&mut b, web_request("b-1", tuesday_9()));
    // Confirmed by a repeat (no number): no ticket code yet.
    assert_eq!(b.booking(&b1()).unwrap().ticket_code(), None);
    let learn = BookerCommand::Confirm {
        id: b1(),
        place: Some(2),
        at: a_week_before(),
    };
    assert_eq!(apply_all(&mut b, learn.clone()).len(), 1);
    assert_eq!(
        b.booking(&b1()).unwrap().ticket_code().as_deref(),
        Some("DJ002")
    );
    // Once known, the number does not change.
    assert_eq!(b.decide(learn, &Policy::default()), Ok(vec![]));
}

// ------------------------------------------------------------ the slot's ledger

fn t(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 9, minute, 0).unwrap()
}

/// The names events are stored under are the serde tags the stored JSON
/// carries, and the version is the one the upcasters start from: a store
/// reading back an event by its `event_type` must find it.
#[test]
fn slot_events_are_stored_under_their_own_names() {
    let booking = BookingId::parse("b-names").unwrap();
    let events = [
        SlotEvent::PlaceReserved {
            booking: booking.clone(),
            booker: cf(BOOKER),
            at: t(0),
            place: 1,
        },
        SlotEvent::PlaceReleased {
            booking,
            booker: cf(BOOKER),
            at: t(1),
        },
    ];
    let mut names = Vec::new();
    for event in &events {
        let json = serde_json::to_value(event).unwrap();
        let tag = json.as_object().unwrap().keys().next().unwrap().clone();
        assert_eq!(cqrs_es::DomainEvent::event_type(event), tag);
        assert_eq!(cqrs_es::DomainEvent::event_version(event), "1.0");
        names.push(tag);
    }
    assert_eq!(names, ["PlaceReserved", "PlaceReleased"]);
}

/// B4: the ledger counts the places held and knows who holds one; a
/// released place is neither counted nor held.
#[test]
fn b4_the_ledger_counts_and_knows_the_places_held() {
    use cqrs_es::Aggregate;
    let (first, second) = (
        BookingId::parse("b-first").unwrap(),
        BookingId::parse("b-second").unwrap(),
    );
    let mut ledger = SlotLedger::default();
    assert_eq!(ledger.taken(), 0);
    assert!(!ledger.holds(&first));
    for (n, booking) in [&first, &second].into_iter().enumerate() {
        ledger.apply(SlotEvent::PlaceReserved {
            booking: booking.clone(),
            booker: cf(BOOKER),
            at: t(n as u32),
            place: n as u32 + 1,
        });
    }
    assert_eq!(ledger.taken(), 2);
    assert!(ledger.holds(&first) && ledger.holds(&second));
    ledger.apply(SlotEvent::PlaceReleased {
        booking: first.clone(),
        booker: cf(BOOKER),
        at: t(5),
    });
    assert_eq!(ledger.taken(), 1);
    assert!(!ledger.holds(&first));
    assert!(ledger.holds(&second));
    assert!(!ledger.holds(&BookingId::parse("b-never").unwrap()));
}

/// M1: what a meeting needs of its web-meeting booking; the booking lets
/// its meeting be joined while it is confirmed and its slot not over.
#[test]
fn m1_a_meeting_takes_its_booking_as_active_while_confirmed_and_before_the_slot_ends() {
    use crate::meeting::MeetingBooking;
    let id = BookingId::parse("b-1").unwrap();
    let mut b = Booker::default();
    for e in b
        .decide(
            BookerCommand::Request(Box::new(web_request("b-1", tuesday_9()))),
            &Policy::default(),
        )
        .unwrap()
    {
        cqrs_es::Aggregate::apply(&mut b, e);
    }
    let pending = b.booking(&id).unwrap().clone();
    let end = pending.slot.end;
    let before_end = end - Duration::seconds(1);
    // Still pending: its place not yet held, the meeting is not open to it.
    assert!(!MeetingBooking::of(&pending, before_end).unwrap().active);
    let mut b = Booker::default();
    booked(&mut b, web_request("b-1", tuesday_9()));
    let confirmed = b.booking(&id).unwrap();
    let of = MeetingBooking::of(confirmed, before_end).unwrap();
    assert_eq!(of.booking_id, id);
    assert_eq!(of.booker, cf(BOOKER));
    assert_eq!(of.grantor, grantor());
    assert_eq!(of.slot, confirmed.slot);
    assert_eq!(of.access_code, confirmed.access_code);
    assert!(of.active);
    assert!(MeetingBooking::of(confirmed, tuesday_9()).unwrap().active);
    // From the slot's end on, no longer.
    assert!(!MeetingBooking::of(confirmed, end).unwrap().active);
    assert!(
        !MeetingBooking::of(confirmed, end + Duration::minutes(5))
            .unwrap()
            .active
    );
    // A booking of another counter has no meeting.
    let mut other = Booker::default();
    let counter = other_counter("pensioni", "pensioni");
    booked(&mut other, other_request("b-2", counter, tuesday_9()));
    let in_person = other.booking(&BookingId::parse("b-2").unwrap()).unwrap();
    assert_eq!(MeetingBooking::of(in_person, tuesday_9()), None);
}
