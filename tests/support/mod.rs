//! Shared fixtures of the integration tests: valid fiscal codes, requests,
//! and fresh stores of every kind.
#![allow(dead_code)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use deleghe::adapters::codes::AccessCodes;
use deleghe::adapters::{Actor, Metadata, Repository};
use deleghe::domain::booking::{
    slot_key, Booking, BookingId, GrantorDetails, Phone, RequestBooking,
};
use deleghe::domain::delegation::{
    Channel, DelegationId, Evidence, EvidenceDocument, RequestDelegation, Role,
};
use deleghe::domain::document::{DocumentKind, DocumentRef};
use deleghe::domain::meeting::{MeetingBooking, MeetingCommand};
use deleghe::domain::schedule::{Counter, Mode, OfficeId};
use deleghe::domain::FiscalCode;

/// Monday 30 November 2026, 10:00 in Rome.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap()
}

/// `n` distinct valid fiscal codes (check characters computed).
pub fn codes(n: usize) -> Vec<FiscalCode> {
    let months = "ABCDEHLMPRST".as_bytes();
    (0..n)
        .map(|i| {
            let body = format!(
                "RSSMRA{:02}{}{:02}H501",
                50 + (i / 336) % 50,
                months[(i / 28) % 12] as char,
                1 + i % 28
            );
            let check = FiscalCode::check_character(&body).expect("valid body");
            FiscalCode::parse(&format!("{body}{check}")).unwrap()
        })
        .collect()
}

pub fn people() -> Vec<FiscalCode> {
    codes(8)
}

pub fn person(i: usize) -> FiscalCode {
    people()[i].clone()
}

pub fn meta(i: usize) -> Metadata {
    Metadata::new(Actor::Citizen(person(i)), "web")
}

pub fn operator() -> Metadata {
    Metadata::new(Actor::Operator("op-test".into()), "counter")
}

/// D11: the evidence of an online registration: a copy of the grantor's
/// identity document (by digest; the rules do not read the store).
pub fn online_evidence() -> Evidence {
    Evidence::new(vec![EvidenceDocument {
        kind: DocumentKind::IdentityDocument,
        sha256: deleghe::domain::document::DocumentDigest::parse(&"a".repeat(64)).unwrap(),
    }])
}

/// An ordinary online registration from person `grantor` to person `delegate`.
pub fn request(id: &str, grantor: usize, delegate: usize) -> RequestDelegation {
    RequestDelegation {
        id: DelegationId::parse(id).unwrap(),
        grantor: person(grantor),
        delegate: person(delegate),
        role: Role::Ordinary,
        channel: Channel::Online,
        ends_on: None,
        meeting: None,
        evidence: online_evidence(),
        at: t0(),
    }
}

/// The web-meeting delegations counter of the tests.
pub fn web_counter() -> Counter {
    Counter::web_meeting_delegations(OfficeId::parse("DCM NAPOLI").unwrap())
}

/// Tuesday 1 December 2026, 09:00 in Rome.
pub fn tuesday_9() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap()
}

/// The access codes of the tests' deployment (M2, M10).
pub fn access_codes() -> AccessCodes {
    AccessCodes::new(b"the tests' secret, not a deployment's")
}

/// Person `booker` books the web meeting of Tuesday 09:00 for person 0.
pub fn web_booking(id: &str, booker: usize) -> RequestBooking {
    let id = BookingId::parse(id).unwrap();
    let (_, access_code) = access_codes().issue(&id, 0);
    RequestBooking {
        id,
        booker: person(booker),
        counter: web_counter(),
        start: tuesday_9(),
        mode: Mode::WebMeeting,
        reason: "Delega".into(),
        phone: Phone::parse("3331234567").unwrap(),
        grantor: Some(GrantorDetails::new(person(0), "Mario", "Rossi").unwrap()),
        access_code,
        at: t0(),
        booked_by: None,
    }
}

pub fn slot_of(booking: &Booking) -> String {
    slot_key(&booking.counter, &booking.slot)
}

/// The commands that bring a booked meeting to the point of completion.
pub fn meeting_ready(booking: &Booking, at: DateTime<Utc>) -> Vec<MeetingCommand> {
    let doc = |kind, n: u8| DocumentRef {
        kind,
        sha256: format!("{n:064x}"),
        bytes: 1000,
    };
    vec![
        MeetingCommand::Join {
            booking: MeetingBooking::of(booking, at - Duration::minutes(5)).unwrap(),
            code: access_codes()
                .digest(&booking.id, access_codes().issue(&booking.id, 0).0.as_str()),
            at: at - Duration::minutes(5),
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

/// Which kind of store a test runs on; [`fresh`] makes an empty one.
#[derive(Clone, Debug)]
pub enum Store {
    Memory,
    Sqlite,
    Postgres(String),
    /// The server's URL, `mysql://USER@HOST:PORT`.
    MariaDb(String),
}

/// An empty store of the kind: a new in-memory log, a new SQLite file, or
/// a new schema on the PostgreSQL server.
pub async fn fresh(store: &Store) -> Repository {
    match store {
        Store::Memory => Repository::memory(),
        Store::Sqlite => {
            let file = std::env::temp_dir().join(format!("deleghe-test-{}.sqlite", uuid()));
            Repository::connect(&format!("sqlite://{}", file.display()))
                .await
                .expect("SQLite store")
        }
        Store::Postgres(url) => {
            let schema = format!("t_{}", uuid().replace('-', ""));
            let separator = if url.contains('?') { '&' } else { '?' };
            Repository::connect(&format!("{url}{separator}schema={schema}"))
                .await
                .expect("PostgreSQL store")
        }
        Store::MariaDb(server) => open(&mariadb_database(server).await).await,
    }
}

/// A new, empty database on the MariaDB server at `server`: its URL.
pub async fn mariadb_database(server: &str) -> String {
    use deleghe_store_mariadb::sqlx::{Connection, Executor, MySqlConnection};
    let database = format!("t_{}", uuid().replace('-', ""));
    let mut conn = MySqlConnection::connect(server)
        .await
        .expect("the MariaDB server");
    conn.execute(format!("CREATE DATABASE {database}").as_str())
        .await
        .expect("a database of the test's own");
    conn.close().await.unwrap();
    format!("{}/{database}", server.trim_end_matches('/'))
}

/// Opens the store at `url`, of any kind the tests use (MariaDB's is a
/// crate of its own).
pub async fn open(url: &str) -> Repository {
    if url.starts_with("mysql:") {
        deleghe_store_mariadb::connect(url)
            .await
            .expect("MariaDB store")
    } else {
        Repository::connect(url).await.expect("the store opens")
    }
}

/// The MariaDB store of the tests, if `DELEGHE_TEST_MARIADB_URL` is set;
/// otherwise says clearly that the MariaDB variant is skipped.
pub fn mariadb_store() -> Option<Store> {
    match std::env::var("DELEGHE_TEST_MARIADB_URL") {
        Ok(url) if !url.is_empty() => Some(Store::MariaDb(url)),
        _ => {
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "skipping the MariaDB variants: DELEGHE_TEST_MARIADB_URL is not set \
                     (scripts/test sets it when the server is up)"
                );
            });
            None
        }
    }
}

fn uuid() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    )
}

/// The PostgreSQL store of the tests, if `DELEGHE_TEST_POSTGRES_URL` is set;
/// otherwise says clearly that the PostgreSQL variant is skipped.
pub fn postgres_store() -> Option<Store> {
    match std::env::var("DELEGHE_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(Store::Postgres(url)),
        _ => {
            // Straight to stderr, once, so that the test harness does not
            // swallow it: a skipped store must be visible.
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "skipping the PostgreSQL variants: DELEGHE_TEST_POSTGRES_URL is not set \
                     (scripts/test sets it when the server is up)"
                );
            });
            None
        }
    }
}
