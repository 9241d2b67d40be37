//! Fixed test data: a population of valid fiscal codes, the instants the
//! scenarios run at, and ready-made requests (a delegation, a web-meeting
//! booking, the steps that bring a meeting to its completion).
//!
//! Everything here is deterministic: the same call gives the same value, so
//! that a failing scenario can be read again.
//!
//! ```
//! use deleghe_testkit::fixtures::{person, request, t0};
//!
//! let r = request("d-1", 0, 1);
//! assert_eq!(r.grantor, person(0));
//! assert_eq!(r.delegate, person(1));
//! assert_eq!(r.at, t0());
//! ```

use chrono::{DateTime, Duration, TimeZone, Utc};
use deleghe_adapters::codes::AccessCodes;
use deleghe_adapters::{Actor, Metadata};
use deleghe_domain::booking::{
    slot_key, Booking, BookingId, GrantorDetails, Phone, RequestBooking,
};
use deleghe_domain::delegation::{
    counter_forms, Channel, DelegationId, Evidence, EvidenceDocument, RequestDelegation, Role,
};
use deleghe_domain::document::{DocumentDigest, DocumentKind, DocumentRef};
use deleghe_domain::meeting::{MeetingBooking, MeetingCommand};
use deleghe_domain::schedule::{Counter, CounterId, Mode, OfficeId};
use deleghe_domain::FiscalCode;

/// How many distinct codes [`person`] gives.
pub const POPULATION: usize = 336 * 50;

/// Monday 30 November 2026, 10:00 in Rome: when the scenarios start.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap()
}

/// Tuesday 1 December 2026, 09:00 in Rome: a slot of [`web_counter`].
pub fn tuesday_9() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap()
}

/// The `n`th of [`POPULATION`] distinct valid fiscal codes (I1, the check
/// character computed).
///
/// # Panics
///
/// If `n` is not below [`POPULATION`].
pub fn person(n: usize) -> FiscalCode {
    assert!(
        n < POPULATION,
        "person {n}: the population has {POPULATION}"
    );
    let months = "ABCDEHLMPRST".as_bytes();
    let body = format!(
        "RSSMRA{:02}{}{:02}H501",
        50 + (n / 336) % 50,
        months[(n / 28) % 12] as char,
        1 + n % 28
    );
    let check = FiscalCode::check_character(&body).expect("a valid body");
    FiscalCode::parse(&format!("{body}{check}")).expect("a valid code")
}

/// The first `n` people of [`person`].
pub fn people(n: usize) -> Vec<FiscalCode> {
    (0..n).map(person).collect()
}

/// Person `n`, a citizen acting for themself on the web.
pub fn meta(n: usize) -> Metadata {
    Metadata::new(Actor::Citizen(person(n)), "web")
}

/// An operator at a counter.
pub fn operator() -> Metadata {
    Metadata::new(Actor::Operator("op-test".into()), "counter")
}

/// D11: the documents a registration on `channel` needs for `role`, by
/// digest (the rules do not read the document store).
pub fn evidence_for(channel: Channel, role: Role) -> Evidence {
    let doc = |kind, c: char| EvidenceDocument {
        kind,
        sha256: DocumentDigest::parse(&c.to_string().repeat(64)).expect("a digest"),
    };
    Evidence::new(match channel {
        Channel::Online => vec![doc(DocumentKind::IdentityDocument, 'a')],
        Channel::Counter => vec![
            doc(counter_forms(role)[0], 'b'),
            doc(DocumentKind::IdentityDocument, 'a'),
        ],
        Channel::Pec => vec![doc(DocumentKind::Pec, 'c')],
        Channel::WebMeeting => vec![
            doc(DocumentKind::Aa08, 'd'),
            doc(DocumentKind::IdentityDocument, 'e'),
        ],
    })
}

/// An ordinary online registration from `grantor` to `delegate` at `at`,
/// with its evidence (D11).
pub fn delegation_request(
    id: &str,
    grantor: &FiscalCode,
    delegate: &FiscalCode,
    at: DateTime<Utc>,
) -> RequestDelegation {
    RequestDelegation {
        id: DelegationId::parse(id).expect("a delegation id"),
        grantor: grantor.clone(),
        delegate: delegate.clone(),
        role: Role::Ordinary,
        channel: Channel::Online,
        ends_on: None,
        meeting: None,
        evidence: evidence_for(Channel::Online, Role::Ordinary),
        at,
    }
}

/// An ordinary online registration from person `grantor` to person
/// `delegate`, at [`t0`].
pub fn request(id: &str, grantor: usize, delegate: usize) -> RequestDelegation {
    delegation_request(id, &person(grantor), &person(delegate), t0())
}

/// The web-meeting delegations counter of DCM NAPOLI (capacity 2).
pub fn web_counter() -> Counter {
    Counter::web_meeting_delegations(OfficeId::parse("DCM NAPOLI").expect("an office"))
}

/// The access codes of the tests' deployment (M2, M10).
pub fn access_codes() -> AccessCodes {
    AccessCodes::new(b"the tests' secret, not a deployment's")
}

/// Person `booker` books the web meeting of [`tuesday_9`] for `grantor`, at
/// [`t0`], with the access code [`access_codes`] issues for the booking.
pub fn web_booking_for(id: &str, booker: &FiscalCode, grantor: &FiscalCode) -> RequestBooking {
    let id = BookingId::parse(id).expect("a booking id");
    let (_, access_code) = access_codes().issue(&id, 0);
    RequestBooking {
        id,
        booker: booker.clone(),
        counter: web_counter(),
        start: tuesday_9(),
        mode: Mode::WebMeeting,
        reason: "Delega".into(),
        phone: Phone::parse("3331234567").expect("a phone"),
        grantor: Some(GrantorDetails::new(grantor.clone(), "Mario", "Rossi").expect("a grantor")),
        access_code,
        at: t0(),
        booked_by: None,
    }
}

/// Person `booker` books the web meeting of [`tuesday_9`] for person 0.
pub fn web_booking(id: &str, booker: usize) -> RequestBooking {
    web_booking_for(id, &person(booker), &person(0))
}

/// A counter of ROMA EUR of another type than the delegations one
/// (`pensioni`, in person), open when [`web_counter`] is.
pub fn in_person_counter() -> Counter {
    Counter {
        id: CounterId::parse("pensioni").expect("a counter id"),
        name: "PENSIONI".into(),
        office: OfficeId::parse("ROMA EUR").expect("an office"),
        counter_type: "pensioni".into(),
        modes: vec![Mode::InPerson],
        ticket_letter: None,
        ..web_counter()
    }
}

/// Person `booker` books [`in_person_counter`] at [`tuesday_9`], at [`t0`]:
/// a booking that registers no delegation, which a delegate may make for a
/// grantor (D9, D12).
pub fn in_person_booking(id: &str, booker: &FiscalCode) -> RequestBooking {
    RequestBooking {
        counter: in_person_counter(),
        mode: Mode::InPerson,
        reason: "Pensione".into(),
        grantor: None,
        ..web_booking_for(id, booker, &person(0))
    }
}

/// The key of the slot ledger that holds `booking`'s place.
pub fn slot_of(booking: &Booking) -> String {
    slot_key(&booking.counter, &booking.slot)
}

/// The commands that bring a booked meeting to the point of completion at
/// `at`: join (five minutes before), taken in charge, consent, attendance,
/// and the two documents.
pub fn meeting_ready(booking: &Booking, at: DateTime<Utc>) -> Vec<MeetingCommand> {
    let doc = |kind, n: u8| DocumentRef {
        kind,
        sha256: format!("{n:064x}"),
        bytes: 1000,
    };
    let joined = at - Duration::minutes(5);
    vec![
        MeetingCommand::Join {
            booking: MeetingBooking::of(booking, joined).expect("a meeting booking"),
            code: access_codes()
                .digest(&booking.id, access_codes().issue(&booking.id, 0).0.as_str()),
            at: joined,
        },
        MeetingCommand::TakeInCharge {
            operator: "op-test".into(),
            at,
        },
        MeetingCommand::Consent {
            recording: true,
            at,
        },
        MeetingCommand::RecordAttendance {
            grantor_present: true,
            delegate_present: true,
            grantor_able_to_consent: true,
            at,
        },
        MeetingCommand::AttachDocument {
            document: doc(DocumentKind::Aa08, 1),
            booking_active: true,
            at,
        },
        MeetingCommand::AttachDocument {
            document: doc(DocumentKind::IdentityDocument, 2),
            booking_active: true,
            at,
        },
    ]
}

/// An event written as a store keeps it, bypassing the rules: for the
/// tests of what a store does with events (sequences, conflicts, the log),
/// whatever their payload.
pub fn raw_event(
    aggregate_type: &str,
    id: &str,
    sequence: usize,
    payload: serde_json::Value,
) -> cqrs_es::persist::SerializedEvent {
    cqrs_es::persist::SerializedEvent::new(
        id.to_owned(),
        sequence,
        aggregate_type.to_owned(),
        "Raw".to_owned(),
        "1.0".to_owned(),
        payload,
        serde_json::json!({"actor": "system", "channel": "test", "correlation_id": "c-raw"}),
    )
}
