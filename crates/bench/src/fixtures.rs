//! What the scenarios feed the library: any number of distinct valid fiscal
//! codes, ids, a counter open every day, and the requests built from them.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc, Weekday};
use deleghe_adapters::{Actor, Metadata};
use deleghe_domain::booking::{AccessCodeDigest, BookingId, Phone, RequestBooking};
use deleghe_domain::delegation::{
    Channel, DelegationId, Evidence, EvidenceDocument, RequestDelegation, Role,
};
use deleghe_domain::document::{DocumentDigest, DocumentKind};
use deleghe_domain::schedule::{
    Counter, CounterId, Mode, OfficeId, OpeningInterval, Slot, WeeklySchedule,
};
use deleghe_domain::FiscalCode;

const MONTHS: [char; 12] = ['A', 'B', 'C', 'D', 'E', 'H', 'L', 'M', 'P', 'R', 'S', 'T'];

/// The `i`-th of 26⁶ × 50 distinct valid fiscal codes: the six letters spell
/// `i` in base 26, the year takes what is left, the check character is
/// computed (as `tests/support` does for its few).
pub fn code(i: u64) -> FiscalCode {
    let mut letters = [b'A'; 6];
    let mut n = i;
    for letter in letters.iter_mut().rev() {
        *letter = b'A' + (n % 26) as u8;
        n /= 26;
    }
    let body = format!(
        "{}{:02}{}{:02}H501",
        std::str::from_utf8(&letters).expect("ASCII letters"),
        50 + n % 50,
        MONTHS[(i % 12) as usize],
        1 + i % 28
    );
    let check = FiscalCode::check_character(&body).expect("a valid body");
    FiscalCode::parse(&format!("{body}{check}")).expect("a valid code")
}

/// Numbers never handed out twice in one run: every scenario draws its
/// citizens and ids from here, so no two commands meet on one stream unless
/// a scenario wants them to.
static NEXT: AtomicU64 = AtomicU64::new(1);

pub fn next() -> u64 {
    NEXT.fetch_add(1, Ordering::Relaxed)
}

pub fn citizen(code: &FiscalCode) -> Metadata {
    Metadata::new(Actor::Citizen(code.clone()), "web")
}

/// An ordinary online registration (D5) without end date.
pub fn registration(
    id: u64,
    grantor: FiscalCode,
    delegate: FiscalCode,
    at: DateTime<Utc>,
) -> RequestDelegation {
    RequestDelegation {
        id: DelegationId::parse(&format!("d-{id}")).expect("a valid id"),
        grantor,
        delegate,
        role: Role::Ordinary,
        channel: Channel::Online,
        ends_on: None,
        meeting: None,
        // D11: a copy of the grantor's identity document, by digest.
        evidence: Evidence::new(vec![EvidenceDocument {
            kind: DocumentKind::IdentityDocument,
            sha256: DocumentDigest::parse(&"a".repeat(64)).expect("a digest"),
        }]),
        at,
    }
}

/// An in-person counter open every day 08:00–20:00 Europe/Rome in 5-minute
/// slots of two places: many slots, so that each booking can have its own
/// and no two concurrent bookings race for one slot's stream.
pub fn counter() -> Counter {
    let hm = |h| NaiveTime::from_hms_opt(h, 0, 0).expect("a valid time");
    Counter {
        id: CounterId::parse("bench-counter").expect("a valid id"),
        name: "SPORTELLO DI PROVA".into(),
        office: OfficeId::parse("BENCH").expect("a valid office"),
        counter_type: "bench".into(),
        modes: vec![Mode::InPerson],
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
            5,
            2,
        )
        .expect("a valid schedule"),
        ticket_letter: None,
    }
}

/// The counter's slots for `days` days from 1 January 2031 (144 a day).
pub fn slots(counter: &Counter, days: u64) -> Vec<Slot> {
    let first = NaiveDate::from_ymd_opt(2031, 1, 1).expect("a valid date");
    let mut out = Vec::new();
    let mut from = first;
    let end = first + Days::new(days);
    while from < end {
        let to = (from + Days::new(365)).min(end) - Days::new(1);
        out.extend(counter.slots_between(from, to).expect("a valid range"));
        from = to + Days::new(1);
    }
    out
}

pub fn booking(
    id: u64,
    booker: FiscalCode,
    counter: &Counter,
    slot: &Slot,
    at: DateTime<Utc>,
) -> RequestBooking {
    RequestBooking {
        id: BookingId::parse(&format!("b-{id}")).expect("a valid id"),
        booker,
        counter: counter.clone(),
        start: slot.start,
        mode: Mode::InPerson,
        reason: "Prova di carico".into(),
        phone: Phone::parse("3331234567").expect("a valid phone"),
        grantor: None,
        access_code: AccessCodeDigest::from_bytes(&[7; 32]),
        at,
        booked_by: None,
    }
}

/// The operator of `bench/http.sh`'s token (`deleghe token VRDLGU70A01H501O
/// --role operator`, the default office), as the app's `Caller::metadata`
/// makes its commands' metadata at a counter: a correlation id per request.
pub fn operator() -> Metadata {
    Metadata::new(
        Actor::Operator("VRDLGU70A01H501O@DCM NAPOLI".into()),
        "counter",
    )
    .with_correlation_id(uuid::Uuid::new_v4().to_string())
}

/// A blank one-page PDF, `label` in a comment to tell two apart: what
/// `bench/http.sh` uploads as the evidence of its registrations.
pub fn blank_pdf(label: &str) -> Vec<u8> {
    let mut pdf = format!("%PDF-1.4\n% {label}\n");
    let mut offsets = Vec::new();
    for object in [
        "1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n",
        "2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n",
        "3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>\nendobj\n",
    ] {
        offsets.push(pdf.len());
        pdf.push_str(object);
    }
    let xref = pdf.len();
    pdf.push_str("xref\n0 4\n0000000000 65535 f \n");
    for offset in offsets {
        pdf.push_str(&format!("{offset:010} 00000 n \n"));
    }
    pdf.push_str(&format!(
        "trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    ));
    pdf.into_bytes()
}
