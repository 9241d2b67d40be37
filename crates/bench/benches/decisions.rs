//! Decisions per second of the pure rules, on one core: the figures behind
//! the "pure decisions" line of `docs/PERFORMANCE.md`.
//!
//! ```sh
//! cargo bench -p deleghe-bench --bench decisions
//! ```
//!
//! Each case times one `decide` (or one parse) on a state built beforehand;
//! the command is cloned outside the timed part (`iter_batched`). Criterion
//! prints `thrpt` in decisions per second (`elem/s`). The `encoding` group
//! times instead the encoding of one registration's events, decided
//! beforehand: its `elem/s` are registrations' events encoded a second.
//! Under `cargo test` the cases run once each, as criterion does in test
//! mode: nothing heavy.

use std::hint::black_box;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use cqrs_es::Aggregate;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use deleghe_domain::booking::{
    AccessCodeDigest, Booker, BookerCommand, BookingId, GrantorDetails, Phone, RequestBooking,
};
use deleghe_domain::delegation::{
    Channel, Delegate, DelegateCommand, DelegationId, Evidence, EvidenceDocument, Grantor,
    GrantorCommand, RequestDelegation, RevocationChannel, Role,
};
use deleghe_domain::document::{DocumentDigest, DocumentKind};
use deleghe_domain::meeting::{Meeting, MeetingBooking, MeetingCommand};
use deleghe_domain::schedule::{
    Counter, CounterId, Mode, OfficeId, OpeningInterval, WeeklySchedule,
};
use deleghe_domain::{FiscalCode, Issuer, Policy};

/// The `i`-th of many distinct valid fiscal codes (letters from `i` in base
/// 26, check character computed), as the load tool makes them.
fn code_text(i: u64) -> String {
    let mut letters = [b'A'; 6];
    let mut n = i;
    for letter in letters.iter_mut().rev() {
        *letter = b'A' + (n % 26) as u8;
        n /= 26;
    }
    let body = format!(
        "{}{:02}{}{:02}H501",
        std::str::from_utf8(&letters).expect("ASCII"),
        50 + n % 50,
        ['A', 'B', 'C', 'D', 'E', 'H', 'L', 'M', 'P', 'R', 'S', 'T'][(i % 12) as usize],
        1 + i % 28
    );
    let check = FiscalCode::check_character(&body).expect("a valid body");
    format!("{body}{check}")
}

fn code(i: u64) -> FiscalCode {
    FiscalCode::parse(&code_text(i)).expect("a valid code")
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap()
}

fn request(
    id: &str,
    grantor: FiscalCode,
    delegate: FiscalCode,
    at: DateTime<Utc>,
) -> RequestDelegation {
    RequestDelegation {
        id: DelegationId::parse(id).unwrap(),
        grantor,
        delegate,
        role: Role::Ordinary,
        channel: Channel::Online,
        ends_on: Some(NaiveDate::from_ymd_opt(2027, 12, 31).unwrap()),
        meeting: None,
        // D11: a copy of the grantor's identity document, by digest.
        evidence: Evidence::new(vec![EvidenceDocument {
            kind: DocumentKind::IdentityDocument,
            sha256: DocumentDigest::parse(&"a".repeat(64)).expect("a digest"),
        }]),
        at,
    }
}

/// Decides on `state`, then applies what was decided, as the event store would.
fn step<A: Aggregate, E: std::fmt::Debug>(
    state: &mut A,
    decide: impl FnOnce(&A) -> Result<Vec<A::Event>, E>,
) {
    for e in decide(state).unwrap() {
        state.apply(e);
    }
}

/// The seat the delegate of `r` is asked for, as the flow reserves it.
fn seat_for(r: &RequestDelegation) -> DelegateCommand {
    DelegateCommand::ReserveSeat {
        id: r.id.clone(),
        grantor: r.grantor.clone(),
        delegate: r.delegate.clone(),
        role: Role::Ordinary,
        ends_on: None,
        at: t0(),
    }
}

/// The command asking for `r`, issued online by its grantor in person.
fn asked(r: RequestDelegation) -> GrantorCommand {
    let by = Issuer::citizen(r.grantor.clone());
    r.issued_by(by)
}

/// A grantor whose earlier delegation was registered, then revoked: the
/// request has to look at it (D1) before deciding.
fn grantor_with_history(policy: &Policy) -> Grantor {
    let mut g = Grantor::default();
    let first = request("d-old", code(1), code(2), t0() - Duration::days(90));
    step(&mut g, |s| s.decide(asked(first), policy));
    let id = DelegationId::parse("d-old").unwrap();
    let done = GrantorCommand::CompleteRegistration {
        id: id.clone(),
        at: t0() - Duration::days(90),
    };
    step(&mut g, |s| s.decide(done, policy));
    let revoke = GrantorCommand::Revoke {
        id,
        channel: RevocationChannel::Counter,
        at: t0() - Duration::days(10),
        by: Issuer::operator("op-bench"),
    };
    step(&mut g, |s| s.decide(revoke, policy));
    g
}

/// A delegate holding `seats` ordinary seats.
fn delegate_with_seats(seats: u64, policy: &Policy) -> Delegate {
    let mut d = Delegate::default();
    for i in 0..seats {
        let reserve = DelegateCommand::ReserveSeat {
            id: DelegationId::parse(&format!("d-{i}")).unwrap(),
            grantor: code(100 + i),
            delegate: code(2),
            role: Role::Ordinary,
            ends_on: None,
            at: t0() - Duration::days(5),
        };
        step(&mut d, |s| s.decide(reserve, policy));
    }
    d
}

fn reserve_seat(id: &str) -> DelegateCommand {
    DelegateCommand::ReserveSeat {
        id: DelegationId::parse(id).unwrap(),
        grantor: code(1),
        delegate: code(2),
        role: Role::Ordinary,
        ends_on: None,
        at: t0(),
    }
}

/// A counter open every day 08:00–20:00 in 30-minute slots.
fn counter() -> Counter {
    let hm = |h| NaiveTime::from_hms_opt(h, 0, 0).unwrap();
    Counter {
        id: CounterId::parse("bench-counter").unwrap(),
        name: "BENCH".into(),
        office: OfficeId::parse("BENCH").unwrap(),
        counter_type: "bench".into(),
        modes: vec![Mode::InPerson, Mode::WebMeeting],
        schedule: WeeklySchedule::uniform(
            [
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
                Weekday::Sat,
                Weekday::Sun,
            ],
            &[OpeningInterval::new(hm(8), hm(20))],
            30,
            2,
        )
        .unwrap(),
        ticket_letter: None,
    }
}

/// Tuesday 1 December 2026, 10:00 in Rome.
fn slot_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap()
}

fn booking_request(id: &str, booker: FiscalCode, mode: Mode) -> RequestBooking {
    RequestBooking {
        id: BookingId::parse(id).unwrap(),
        booker,
        counter: counter(),
        start: slot_start(),
        mode,
        reason: "Delega".into(),
        phone: Phone::parse("3331234567").unwrap(),
        grantor: (mode == Mode::WebMeeting)
            .then(|| GrantorDetails::new(code(1), "Mario", "Rossi").unwrap()),
        access_code: AccessCodeDigest::from_bytes(&[7; 32]),
        at: t0(),
        booked_by: None,
    }
}

fn delegations(c: &mut Criterion) {
    let policy = Policy::default();
    let mut group = c.benchmark_group("delegation");
    group.throughput(Throughput::Elements(1));

    // D1, D4, D5, D7 on a grantor with one earlier, revoked delegation.
    let grantor = grantor_with_history(&policy);
    let command = asked(request("d-new", code(1), code(3), t0()));
    group.bench_function("registration_request", |b| {
        b.iter_batched(
            || command.clone(),
            |c| black_box(grantor.decide(c, &policy)).unwrap(),
            BatchSize::SmallInput,
        )
    });

    // D2/D3: the cap check on a delegate holding two of three seats (accepted)...
    let delegate = delegate_with_seats(2, &policy);
    let command = reserve_seat("d-new");
    group.bench_function("cap_check_accepted", |b| {
        b.iter_batched(
            || command.clone(),
            |c| black_box(delegate.decide(c, &policy)).unwrap(),
            BatchSize::SmallInput,
        )
    });
    // ...and on one holding all three (refused with delegate_cap_reached).
    let full = delegate_with_seats(3, &policy);
    group.bench_function("cap_check_refused", |b| {
        b.iter_batched(
            || command.clone(),
            |c| black_box(full.decide(c, &policy)).unwrap_err(),
            BatchSize::SmallInput,
        )
    });

    // The whole registration flow in the pure domain: request, seat, completion,
    // each decided and applied, from empty aggregates.
    let req = request("d-flow", code(1), code(3), t0());
    group.bench_function("registration_whole_flow", |b| {
        b.iter_batched(
            || req.clone(),
            |r| {
                let mut g = Grantor::default();
                let mut d = Delegate::default();
                let id = r.id.clone();
                let seat = seat_for(&r);
                step(&mut g, |s| s.decide(asked(r), &policy));
                step(&mut d, |s| s.decide(seat, &policy));
                let done = GrantorCommand::CompleteRegistration { id, at: t0() };
                step(&mut g, |s| s.decide(done, &policy));
                black_box((g, d))
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// The bytes of `event` encoded as the store writes it: to a JSON value,
/// then that value to text.
fn through_value<T: serde::Serialize>(event: &T) -> usize {
    serde_json::to_string(&serde_json::to_value(event).unwrap())
        .unwrap()
        .len()
}

/// The bytes of `event` encoded straight to text.
fn as_text<T: serde::Serialize>(event: &T) -> usize {
    serde_json::to_string(event).unwrap().len()
}

/// What encoding a registration's three events costs, as the store writes
/// their payloads: each to a JSON value (cqrs-es's `SerializedEvent`),
/// then that value to text (`serde_json::to_string`, as the SQL stores'
/// rows do); and, for comparison, each straight to text. The metadata is
/// left out. One element is the three events of one registration.
fn encoding(c: &mut Criterion) {
    let policy = Policy::default();
    let mut group = c.benchmark_group("encoding");
    group.throughput(Throughput::Elements(1));
    let r = request("d-flow", code(1), code(3), t0());
    let (id, seat) = (r.id.clone(), seat_for(&r));
    let mut g = Grantor::default();
    let mut d = Delegate::default();
    let asked = g.decide(asked(r), &policy).unwrap();
    asked.iter().for_each(|e| g.apply(e.clone()));
    let seated = d.decide(seat, &policy).unwrap();
    seated.iter().for_each(|e| d.apply(e.clone()));
    let done = g
        .decide(
            GrantorCommand::CompleteRegistration { id, at: t0() },
            &policy,
        )
        .unwrap();
    let (grantor_events, delegate_events) = ([asked, done].concat(), seated);
    group.bench_function("registration_events_through_value", |b| {
        b.iter(|| {
            let bytes = grantor_events.iter().map(through_value).sum::<usize>()
                + delegate_events.iter().map(through_value).sum::<usize>();
            black_box(bytes)
        })
    });
    group.bench_function("registration_events_as_text", |b| {
        b.iter(|| {
            let bytes = grantor_events.iter().map(as_text).sum::<usize>()
                + delegate_events.iter().map(as_text).sum::<usize>();
            black_box(bytes)
        })
    });
    group.finish();
}

fn bookings(c: &mut Criterion) {
    let policy = Policy::default();
    let mut group = c.benchmark_group("booking");
    group.throughput(Throughput::Elements(1));

    // B1–B6 with the schedule lookup of B3, on a citizen with one active
    // booking at another counter type.
    let mut booker = Booker::default();
    let mut other = booking_request("b-old", code(3), Mode::InPerson);
    other.counter.counter_type = "other".into();
    other.start = slot_start() + Duration::days(1);
    step(&mut booker, |s| {
        s.decide(BookerCommand::Request(Box::new(other)), &policy)
    });
    let command = BookerCommand::Request(Box::new(booking_request(
        "b-new",
        code(3),
        Mode::WebMeeting,
    )));
    group.bench_function("booking_request", |b| {
        b.iter_batched(
            || command.clone(),
            |c| black_box(booker.decide(c, &policy)).unwrap(),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn meetings(c: &mut Criterion) {
    let policy = Policy::default();
    let mut group = c.benchmark_group("meeting");
    group.throughput(Throughput::Elements(1));

    let start = slot_start();
    let slot = counter().offers(start).expect("an offered slot");
    let booking = MeetingBooking {
        booking_id: BookingId::parse("b-1").unwrap(),
        booker: code(3),
        grantor: GrantorDetails::new(code(1), "Mario", "Rossi").unwrap(),
        slot,
        access_code: Some(AccessCodeDigest::from_bytes(&[7; 32])),
        active: true,
    };
    let meeting = Meeting::default();
    // M1, M2: a join inside the window, with the access code checked...
    let on_time = MeetingCommand::Join {
        booking: booking.clone(),
        code: AccessCodeDigest::from_bytes(&[7; 32]),
        at: start - Duration::minutes(5),
    };
    group.bench_function("join_window_open", |b| {
        b.iter_batched(
            || on_time.clone(),
            |c| black_box(meeting.decide(c, &policy)).unwrap(),
            BatchSize::SmallInput,
        )
    });
    // ...and one too early (refused with meeting_not_open_yet).
    let early = MeetingCommand::Join {
        booking,
        code: AccessCodeDigest::from_bytes(&[7; 32]),
        at: start - Duration::hours(2),
    };
    group.bench_function("join_window_too_early", |b| {
        b.iter_batched(
            || early.clone(),
            |c| black_box(meeting.decide(c, &policy)).unwrap_err(),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn fiscal_codes(c: &mut Criterion) {
    let mut group = c.benchmark_group("fiscal_code");
    group.throughput(Throughput::Elements(1));
    // I1: parse (layout, month, day, check character), over 1,024 distinct codes.
    let texts: Vec<String> = (0..1024).map(|i| code_text(i * 7919)).collect();
    let mut next = 0usize;
    group.bench_function("parse_valid", |b| {
        b.iter(|| {
            next = (next + 1) & 1023;
            black_box(FiscalCode::parse(black_box(&texts[next]))).unwrap()
        })
    });
    let wrong: Vec<String> = texts
        .iter()
        .map(|t| {
            let mut s = t[..15].to_owned();
            let check = t.as_bytes()[15];
            s.push(if check == b'A' { 'B' } else { 'A' });
            s
        })
        .collect();
    group.bench_function("parse_wrong_check_character", |b| {
        b.iter(|| {
            next = (next + 1) & 1023;
            black_box(FiscalCode::parse(black_box(&wrong[next]))).unwrap_err()
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    delegations,
    encoding,
    bookings,
    meetings,
    fiscal_codes
);
criterion_main!(benches);
