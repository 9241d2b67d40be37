//! The outbox (N1–N6): notifications written from the events by the
//! projector, sent when due by the dispatcher through the gateways.
//!
//! - A dispatcher killed in the middle of a batch (between a send and its
//!   record) and restarted sends every due message, and the SMS file holds
//!   each key once (at-least-once delivery, idempotent receiver).
//! - A dispatcher whose step failed mid-batch takes its own claims back at
//!   its next step, without waiting for their lease to lapse.
//! - Reminders (N2) wait durably: a new dispatcher on the reopened store
//!   sends them when due; a cancelled booking's reminder is never sent.
//! - Failures are retried with exponential backoff, then given up.
//! - The IO app gateway (N5) checks the profile, then submits the message,
//!   against a local fake of the IO API.
//!
//! The store scenarios run on SQLite, and on PostgreSQL when
//! `DELEGHE_TEST_POSTGRES_URL` is set.

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::Duration;
use deleghe::adapters::gateway::async_trait;
use deleghe::adapters::gateway::sms::SmsLine;
use deleghe::adapters::gateway::{
    DisabledIo, FileSmsGateway, GatewayError, Gateways, HttpIoGateway, HttpSmsGateway, IoGateway,
    NoticeCalendar, SmsGateway,
};
use deleghe::adapters::outbox::{Dispatcher, OutboxEntry, RetryPolicy};
use deleghe::adapters::projection::ReadSide;
use deleghe::adapters::projection::{Projector, ReadModels};
use deleghe::adapters::{Deleghe, Repository, SettableClock};
use deleghe::domain::booking::{BookerCommand, Booking, BookingId, Phone, RequestBooking};
use deleghe::domain::contacts::ContactsCommand;
use deleghe::domain::notification::IoMessage;
use deleghe::domain::{FiscalCode, Issuer, Policy};
use deleghe_testkit::store::{unique_name, StoreUnderTest};
use serde_json::{json, Value};
use support::*;

// ------------------------------------------------------------ fixtures

/// The URL of a new, empty store of the kind, so that a test can open it
/// again as a restarted process would.
async fn new_store_url(store: &Store) -> String {
    let store = match store {
        Store::Memory => unreachable!("a restart needs a durable store"),
        Store::Sqlite => StoreUnderTest::sqlite(),
        Store::Postgres(url) => StoreUnderTest::postgres(url),
        Store::MariaDb(server) => return support::mariadb_database(server).await,
    };
    store.url().expect("a store at a URL").to_owned()
}

fn sms_file() -> PathBuf {
    std::env::temp_dir().join(format!("{}.jsonl", unique_name("deleghe-sms")))
}

/// One process's view of a store: the service, the projector, the read
/// models, and a dispatcher writing SMS to `sms`.
struct Process {
    repository: Repository,
    side: ReadSide,
    service: Arc<Deleghe>,
    projector: Projector,
    read: ReadModels,
}

impl Process {
    async fn start(url: &str, clock: &SettableClock) -> Self {
        let repository = support::open(url).await;
        let side = ReadSide::open(&repository).await.unwrap();
        Self {
            service: Arc::new(
                Deleghe::new(repository.clone(), Policy::default()).with_clock(clock.as_clock()),
            ),
            projector: Projector::new(repository.clone(), side.clone(), Policy::default()),
            read: ReadModels::new(side.clone(), Policy::default()).with_clock(clock.as_clock()),
            side,
            repository,
        }
    }

    /// Removes the store of a scenario that passed: its PostgreSQL schema,
    /// or its SQLite files.
    async fn dispose(self, url: &str) {
        use deleghe::adapters::sqlx;
        if let Some(pool) = self.repository.postgres_pool() {
            let schema: String = sqlx::query_scalar("SELECT current_schema()")
                .fetch_one(pool)
                .await
                .unwrap();
            if schema.starts_with("t_") {
                // Identifiers cannot be bound; this one is the test's own.
                sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
                    .execute(pool)
                    .await
                    .unwrap();
            }
        } else if let Some(pool) = self
            .repository
            .pool::<deleghe_store_mariadb::sqlx::MySqlPool>()
        {
            use deleghe_store_mariadb::sqlx as mysql;
            let database: String = mysql::query_scalar("SELECT CAST(DATABASE() AS CHAR)")
                .fetch_one(pool)
                .await
                .unwrap();
            if database.starts_with("t_") {
                mysql::query(&format!("DROP DATABASE {database}"))
                    .execute(pool)
                    .await
                    .unwrap();
            }
        } else if let Some(file) = url.strip_prefix("sqlite://") {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{file}{suffix}"));
            }
        }
    }

    fn gateways(&self, sms: &Path) -> Gateways {
        Gateways {
            sms: Arc::new(FileSmsGateway::open(sms).expect("the SMS file opens")),
            io: Arc::new(DisabledIo),
            calendar: Arc::new(NoticeCalendar::new(self.side.clone())),
        }
    }

    fn dispatcher(&self, sms: &Path, clock: &SettableClock) -> Dispatcher {
        Dispatcher::new(self.side.clone(), self.gateways(sms))
            .with_access_codes(access_codes())
            .with_clock(clock.as_clock())
    }

    async fn book(&self, id: &str, booker: usize, k: i64) -> Booking {
        let booking = self
            .service
            .book(booking_at(id, booker, k), &meta(booker))
            .await
            .expect("booked");
        self.projector.catch_up().await.unwrap();
        booking
    }

    async fn outbox(&self) -> HashMap<String, OutboxEntry> {
        self.read
            .outbox()
            .await
            .unwrap()
            .into_iter()
            .map(|row| (row.key.clone(), row))
            .collect()
    }
}

/// Person `booker` books the web meeting `k` half hours after Tuesday 09:00.
fn booking_at(id: &str, booker: usize, k: i64) -> RequestBooking {
    RequestBooking {
        start: tuesday_9() + Duration::minutes(30 * k),
        ..web_booking(id, booker)
    }
}

/// How many lines of the SMS file carry each key.
fn lines_per_key(sms: &Path) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for line in FileSmsGateway::read_lines(sms).unwrap() {
        *counts.entry(line.key).or_insert(0) += 1;
    }
    counts
}

fn status_of<'a>(outbox: &'a HashMap<String, OutboxEntry>, key: &str) -> &'a str {
    &outbox
        .get(key)
        .unwrap_or_else(|| panic!("no outbox row {key}"))
        .status
}

// ------------------------------------------------------------ scenarios

async fn dispatcher_killed_mid_batch_sends_every_message_once_per_key(store: Store) {
    let url = new_store_url(&store).await;
    let clock = SettableClock::fixed(t0());
    let sms = sms_file();
    let first = Process::start(&url, &clock).await;
    for (n, booker) in [1, 2, 3, 4].into_iter().enumerate() {
        first.book(&format!("b-{n}"), booker, n as i64).await;
    }
    let outbox = first.outbox().await;
    // Per booking: N1 SMS, N2 reminder SMS, N3 calendar notice, N5 IO.
    assert_eq!(outbox.len(), 16, "{:?}", outbox.keys());
    let due_sms: Vec<String> = (0..4)
        .map(|n| format!("booking:b-{n}:sms:confirmation"))
        .collect();

    // Killed after its 2nd SMS went out, before recording it.
    let sms_sent = Arc::new(AtomicUsize::new(0));
    let killed_on = Arc::new(Mutex::new(None));
    let (counter, victim) = (sms_sent.clone(), killed_on.clone());
    let killed = first
        .dispatcher(&sms, &clock)
        .with_batch(100)
        .with_failpoint(Arc::new(move |row: &OutboxEntry| {
            let stop = row.channel == "sms" && counter.fetch_add(1, Ordering::SeqCst) == 1;
            if stop {
                *victim.lock().unwrap() = Some(row.key.clone());
            }
            stop
        }));
    assert!(
        killed.drain().await.is_err(),
        "the dispatcher dies mid-batch"
    );
    let victim = killed_on.lock().unwrap().clone().expect("killed on an SMS");
    assert_eq!(
        lines_per_key(&sms).get(&victim),
        Some(&1),
        "sent, not recorded"
    );
    assert_eq!(status_of(&first.outbox().await, &victim), "pending");
    drop(killed);
    drop(first);

    // Restarted, once the dead one's claim has lapsed.
    clock.set(Some(t0() + Duration::seconds(61)));
    let second = Process::start(&url, &clock).await;
    let report = second.dispatcher(&sms, &clock).drain().await.unwrap();
    // What the dead one had not recorded: its last send included.
    assert_eq!(
        report.claimed,
        report.sent + report.failed + report.skipped,
        "{report:?}"
    );
    let outbox = second.outbox().await;
    let lines = lines_per_key(&sms);
    assert!(due_sms.contains(&victim));
    for key in &due_sms {
        assert_eq!(status_of(&outbox, key), "sent");
        assert_eq!(
            lines.get(key),
            Some(&1),
            "{key} is in the SMS file exactly once"
        );
    }
    for n in 0..4 {
        assert_eq!(
            status_of(&outbox, &format!("booking:b-{n}:calendar:confirmation")),
            "sent"
        );
        // N7: nobody here has chosen IO messages: not sent, with the reason.
        let io = &outbox[&format!("booking:b-{n}:io:confirmation")];
        assert_eq!(io.status, "withdrawn");
        assert!(io
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("IO messages not chosen"));
        assert_eq!(
            status_of(&outbox, &format!("booking:b-{n}:sms:reminder")),
            "pending"
        );
    }
    assert_eq!(second.read.notices_of(&person(1)).await.unwrap().len(), 1);

    // The reminders, when due: each once.
    clock.set(Some(tuesday_9() + Duration::minutes(60)));
    second.dispatcher(&sms, &clock).drain().await.unwrap();
    let lines = lines_per_key(&sms);
    assert_eq!(lines.len(), 8, "{lines:?}");
    assert!(lines.values().all(|n| *n == 1), "{lines:?}");
    let line: Vec<SmsLine> = FileSmsGateway::read_lines(&sms)
        .unwrap()
        .into_iter()
        .filter(|l| l.key == "booking:b-0:sms:confirmation")
        .collect();
    assert_eq!(line[0].to, "+393331234567");
    // N1 carries the access code, derived as the meeting expects it (M10),
    // and no placeholder.
    let b0 = BookingId::parse("b-0").unwrap();
    let code = access_codes().issue(&b0, 0).0;
    assert!(
        line[0].text.contains(&format!("web meeting: {code}.")),
        "N1 carries the access code: {}",
        line[0].text
    );
    assert!(!line[0].text.contains("{{"), "{}", line[0].text);
    let _ = std::fs::remove_file(&sms);
    second.dispose(&url).await;
}

/// A new durable store with three bookings made at `t0`, each due a
/// confirmation by SMS and in the calendar.
struct ThreeBooked {
    url: String,
    clock: SettableClock,
    sms: PathBuf,
    p: Process,
}

impl ThreeBooked {
    async fn start(store: &Store) -> Self {
        let url = new_store_url(store).await;
        let clock = SettableClock::fixed(t0());
        let sms = sms_file();
        let p = Process::start(&url, &clock).await;
        for (n, booker) in [1, 2, 3].into_iter().enumerate() {
            p.book(&format!("b-{n}"), booker, n as i64).await;
        }
        Self { url, clock, sms, p }
    }

    /// Every confirmation sent, each SMS key once in the file; then the
    /// store and the file removed.
    async fn confirmed_once(self) {
        let outbox = self.p.outbox().await;
        let lines = lines_per_key(&self.sms);
        for n in 0..3 {
            let key = format!("booking:b-{n}:sms:confirmation");
            assert_eq!(status_of(&outbox, &key), "sent");
            assert_eq!(lines.get(&key), Some(&1), "{key} is in the SMS file once");
            assert_eq!(
                status_of(&outbox, &format!("booking:b-{n}:calendar:confirmation")),
                "sent"
            );
        }
        let _ = std::fs::remove_file(&self.sms);
        self.p.dispose(&self.url).await;
    }
}

/// A dispatcher whose step failed between a send and its record (the
/// store gone mid-batch, here a failpoint) takes the rows it had claimed
/// back at its next step, without waiting for their lease to lapse;
/// another dispatcher still leaves them alone until then.
async fn a_failed_step_leaves_its_claims_to_its_next_step(store: Store) {
    let ThreeBooked { url, clock, sms, p } = ThreeBooked::start(&store).await;
    let sms_sent = Arc::new(AtomicUsize::new(0));
    let counter = sms_sent.clone();
    let dispatcher = p
        .dispatcher(&sms, &clock)
        .with_batch(100)
        .with_failpoint(Arc::new(move |row: &OutboxEntry| {
            row.channel == "sms" && counter.fetch_add(1, Ordering::SeqCst) == 0
        }));
    assert!(dispatcher.drain().await.is_err(), "the step fails");
    // A second later: the claims' lease (60 s) still runs.
    clock.set(Some(t0() + Duration::seconds(1)));
    assert_eq!(
        p.dispatcher(&sms, &clock).drain().await.unwrap().claimed,
        0,
        "another dispatcher leaves the claimed rows alone while their lease runs"
    );

    // The same dispatcher: everything due is sent.
    let report = dispatcher.drain().await.unwrap();
    assert!(report.claimed > 0, "{report:?}");
    assert_eq!(
        report.claimed,
        report.sent + report.failed + report.skipped,
        "{report:?}"
    );
    ThreeBooked { url, clock, sms, p }.confirmed_once().await;
}

/// N6 with a slow gateway: a step starts no send once a quarter of its
/// lease (60 s) has passed, so that the send under way and the step's
/// records end while its claim holds: no other dispatcher takes a row this
/// one sent and has not recorded yet. The rows it did not reach are its
/// next step's, and every message is sent once.
async fn n6_a_slow_step_starts_no_send_past_a_quarter_of_its_lease(store: Store) {
    let ThreeBooked { url, clock, sms, p } = ThreeBooked::start(&store).await;
    // Each send takes 10 s of the clock; the instant each one started is
    // kept.
    let started = Arc::new(Mutex::new(Vec::new()));
    let (ticking, seen) = (clock.clone(), started.clone());
    let slow = p
        .dispatcher(&sms, &clock)
        .with_failpoint(Arc::new(move |_: &OutboxEntry| {
            let now = ticking.now();
            seen.lock().unwrap().push(now);
            ticking.set(Some(now + Duration::seconds(10)));
            false
        }));
    let report = slow.step().await.unwrap();
    let sends = started.lock().unwrap().clone();
    assert!(!sends.is_empty(), "{report:?}");
    for at in &sends {
        assert!(
            *at < t0() + Duration::seconds(15),
            "a send started at {at}, past a quarter of the lease"
        );
    }
    assert!(
        report.sent + report.skipped + report.failed < report.claimed,
        "the step left rows unreached: {report:?}"
    );
    // The claims still hold: another dispatcher takes nothing.
    assert!(clock.now() < t0() + Duration::seconds(60));
    assert_eq!(
        p.dispatcher(&sms, &clock).drain().await.unwrap().claimed,
        0,
        "the claims hold until the step's records are made"
    );
    // The slow dispatcher's next steps send the rest, each once.
    slow.drain().await.unwrap();
    ThreeBooked { url, clock, sms, p }.confirmed_once().await;
}

async fn reminders_survive_a_restart_and_a_cancelled_one_is_never_sent(store: Store) {
    let url = new_store_url(&store).await;
    let clock = SettableClock::fixed(t0());
    let sms = sms_file();
    let first = Process::start(&url, &clock).await;
    let kept = first.book("kept", 1, 0).await;
    let cancelled = first.book("gone", 2, 2).await;
    first.dispatcher(&sms, &clock).drain().await.unwrap();
    first
        .service
        .booking_command(
            &person(2),
            &cancelled.id,
            BookerCommand::Cancel {
                id: cancelled.id.clone(),
                at: t0(),
            },
            &meta(2),
        )
        .await
        .unwrap();
    first.projector.catch_up().await.unwrap();
    let outbox = first.outbox().await;
    assert_eq!(status_of(&outbox, "booking:gone:sms:reminder"), "withdrawn");
    assert_eq!(status_of(&outbox, "booking:kept:sms:reminder"), "pending");
    let due = &outbox["booking:kept:sms:reminder"].due_at;
    assert_eq!(
        due, "2026-12-01T07:30:00.000000Z",
        "30 minutes before 09:00 in Rome"
    );
    drop(first);

    // Another process, later: nothing is due before the reminder's time...
    clock.set(Some(kept.slot.start - Duration::minutes(31)));
    let second = Process::start(&url, &clock).await;
    let dispatcher = second.dispatcher(&sms, &clock);
    let early = dispatcher.drain().await.unwrap();
    assert_eq!(early.sent, 1, "only the cancellation SMS: {early:?}");
    assert!(!lines_per_key(&sms).contains_key("booking:kept:sms:reminder"));
    // ... then the reminder is, once; the cancelled booking's never.
    clock.set(Some(kept.slot.start - Duration::minutes(30)));
    assert_eq!(dispatcher.drain().await.unwrap().sent, 1);
    clock.set(Some(kept.slot.end));
    assert_eq!(dispatcher.drain().await.unwrap().claimed, 0);
    let lines = lines_per_key(&sms);
    assert_eq!(lines.get("booking:kept:sms:reminder"), Some(&1));
    assert_eq!(lines.get("booking:gone:sms:reminder"), None);
    assert_eq!(lines.get("booking:gone:sms:cancellation"), Some(&1));
    let outbox = second.outbox().await;
    assert_eq!(status_of(&outbox, "booking:gone:sms:reminder"), "withdrawn");
    // A rebuild of the read models sends nothing again.
    second.projector.rebuild().await.unwrap();
    assert_eq!(second.outbox().await, outbox);
    assert_eq!(dispatcher.drain().await.unwrap().claimed, 0);
    let _ = std::fs::remove_file(&sms);
    second.dispose(&url).await;
}

/// An SMS gateway that fails as told, then accepts.
struct Flaky {
    failures: Mutex<Vec<GatewayError>>,
    accepted: Mutex<Vec<String>>,
}

#[async_trait]
impl SmsGateway for Flaky {
    async fn send(&self, _: &Phone, _: &str, key: &str) -> Result<(), GatewayError> {
        if let Some(error) = self.failures.lock().unwrap().pop() {
            return Err(error);
        }
        self.accepted.lock().unwrap().push(key.to_owned());
        Ok(())
    }
}

async fn failures_are_retried_with_backoff_then_given_up(store: Store) {
    let url = new_store_url(&store).await;
    let clock = SettableClock::fixed(t0());
    let p = Process::start(&url, &clock).await;
    p.book("b-0", 1, 0).await;
    let key = "booking:b-0:sms:confirmation";
    let temporary = || GatewayError::Temporary("provider down".into());
    let flaky = Arc::new(Flaky {
        failures: Mutex::new(vec![temporary(), temporary()]),
        accepted: Mutex::new(vec![]),
    });
    let dispatcher = Dispatcher::new(
        p.side.clone(),
        Gateways {
            sms: flaky.clone(),
            io: Arc::new(DisabledIo),
            calendar: Arc::new(NoticeCalendar::new(p.side.clone())),
        },
    )
    .with_access_codes(access_codes())
    .with_clock(clock.as_clock())
    .with_retry(RetryPolicy {
        max_attempts: 4,
        ..RetryPolicy::default()
    });
    dispatcher.drain().await.unwrap();
    let row = &p.outbox().await[key];
    assert_eq!((row.status.as_str(), row.attempts), ("pending", 1));
    assert_eq!(
        row.next_attempt_at, "2026-11-30T09:00:30.000000Z",
        "30 s after"
    );
    // Not before its time.
    clock.set(Some(t0() + Duration::seconds(29)));
    assert_eq!(dispatcher.drain().await.unwrap().claimed, 0);
    clock.set(Some(t0() + Duration::seconds(30)));
    dispatcher.drain().await.unwrap();
    let row = &p.outbox().await[key];
    assert_eq!(row.attempts, 2);
    assert_eq!(
        row.next_attempt_at, "2026-11-30T09:01:30.000000Z",
        "then 60 s after"
    );
    clock.set(Some(t0() + Duration::seconds(90)));
    dispatcher.drain().await.unwrap();
    assert_eq!(status_of(&p.outbox().await, key), "sent");
    assert_eq!(*flaky.accepted.lock().unwrap(), [key.to_owned()]);

    // A permanent refusal is given up at once; a temporary one after the
    // last attempt.
    p.book("b-1", 2, 1).await;
    p.book("b-2", 3, 2).await;
    *flaky.failures.lock().unwrap() = vec![
        temporary(),
        temporary(),
        temporary(),
        temporary(),
        GatewayError::Permanent("no such number".into()),
    ];
    let mut now = t0() + Duration::seconds(90);
    for _ in 0..6 {
        dispatcher.drain().await.unwrap();
        now += Duration::hours(1);
        clock.set(Some(now));
    }
    let outbox = p.outbox().await;
    let b1 = &outbox["booking:b-1:sms:confirmation"];
    assert_eq!((b1.status.as_str(), b1.attempts), ("failed", 1));
    assert!(b1.last_error.as_deref().unwrap().contains("no such number"));
    let b2 = &outbox["booking:b-2:sms:confirmation"];
    assert_eq!((b2.status.as_str(), b2.attempts), ("failed", 4));
    p.dispose(&url).await;
}

// ------------------------------------------------------------ a fake IO API

/// One request the fake server received.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Value,
}

/// A local stand-in for the IO API (and an SMS provider), on 127.0.0.1:
/// - `GET /api/v1/profiles/{cf}`: 401 without the right key; 200
///   `{"sender_allowed": true}` for `allowed`, `false` for `blocked`, 503 for
///   `down`, else 404;
/// - `POST /api/v1/messages`: 401 without the key; 400 unless the body has
///   `fiscal_code` and `content` with a subject of 10–120 and a markdown of
///   80–10,000 characters; else 201 `{"id": ...}`;
/// - `POST /sms`: 200 with a bearer token and an `Idempotency-Key`, else 400.
struct FakeApi {
    base: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl FakeApi {
    fn start(
        key: &'static str,
        allowed: FiscalCode,
        blocked: FiscalCode,
        down: FiscalCode,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a local port");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(request) = read_request(&mut stream) else {
                    continue;
                };
                log.lock().unwrap().push(request.clone());
                let (status, body) = answer(&request, key, &allowed, &blocked, &down);
                let body = body.to_string();
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Self { base, received }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<Received> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut first = String::new();
    reader.read_line(&mut first).ok()?;
    let mut parts = first.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Received {
        method,
        path,
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    })
}

fn answer(
    r: &Received,
    key: &str,
    allowed: &FiscalCode,
    blocked: &FiscalCode,
    down: &FiscalCode,
) -> (u16, Value) {
    if r.path == "/sms" {
        let ok = r.headers.get("authorization").map(String::as_str) == Some("Bearer sms-token")
            && r.headers.contains_key("idempotency-key")
            && r.body["to"].is_string()
            && r.body["text"].is_string();
        return if ok {
            (200, json!({"queued": true}))
        } else {
            (400, json!({}))
        };
    }
    if r.headers
        .get("ocp-apim-subscription-key")
        .map(String::as_str)
        != Some(key)
    {
        return (401, json!({"title": "Unauthorized"}));
    }
    match (r.method.as_str(), r.path.as_str()) {
        ("GET", path) if path.starts_with("/api/v1/profiles/") => {
            let cf = &path["/api/v1/profiles/".len()..];
            if cf == allowed.as_str() {
                (
                    200,
                    json!({"sender_allowed": true, "preferred_languages": ["it_IT"]}),
                )
            } else if cf == blocked.as_str() {
                (200, json!({"sender_allowed": false}))
            } else if cf == down.as_str() {
                (503, json!({"title": "Service unavailable"}))
            } else {
                (404, json!({"title": "Not found"}))
            }
        }
        ("POST", "/api/v1/messages") => {
            let chars = |v: &Value| v.as_str().map(|s| s.chars().count());
            let subject = chars(&r.body["content"]["subject"]);
            let markdown = chars(&r.body["content"]["markdown"]);
            let ok = r.body["fiscal_code"].is_string()
                && subject.is_some_and(|n| (10..=120).contains(&n))
                && markdown.is_some_and(|n| (80..=10_000).contains(&n));
            if ok {
                (201, json!({"id": "01EM6X4JB9VSZTQ8H16KMQFCEJ"}))
            } else {
                (400, json!({"title": "Invalid message"}))
            }
        }
        _ => (404, json!({})),
    }
}

#[tokio::test]
async fn n5_io_gateway_checks_the_profile_then_submits_the_message() {
    let (allowed, blocked, down, unknown) = (person(1), person(2), person(3), person(4));
    let api = FakeApi::start("io-key", allowed.clone(), blocked.clone(), down.clone());
    let io = HttpIoGateway::new(&api.base, "io-key").unwrap();
    let message = IoMessage::fitting("Promemoria", "Prenotazione confermata.");

    io.send(&allowed, &message, "k-1").await.expect("delivered");
    let received = api.received();
    assert_eq!(received.len(), 2);
    assert_eq!(
        (received[0].method.as_str(), received[0].path.clone()),
        ("GET", format!("/api/v1/profiles/{allowed}"))
    );
    assert_eq!(
        (received[1].method.as_str(), received[1].path.as_str()),
        ("POST", "/api/v1/messages")
    );
    for r in &received {
        assert_eq!(r.headers["ocp-apim-subscription-key"], "io-key");
    }
    let body = &received[1].body;
    assert_eq!(body["fiscal_code"], allowed.as_str());
    assert_eq!(body["content"]["subject"], message.subject());
    assert_eq!(body["content"]["markdown"], message.markdown());

    // Not allowed, not an IO user, a wrong key: refused, no message sent.
    for (citizen, gateway) in [
        (&blocked, &io),
        (&unknown, &io),
        (
            &allowed,
            &HttpIoGateway::new(&api.base, "wrong-key").unwrap(),
        ),
    ] {
        let before = api.received().len();
        let error = gateway.send(citizen, &message, "k-2").await.unwrap_err();
        assert!(!error.is_temporary(), "{error}");
        assert_eq!(
            api.received().len(),
            before + 1,
            "only the profile was asked"
        );
    }
    // The service down: worth a retry.
    assert!(io
        .send(&down, &message, "k-3")
        .await
        .unwrap_err()
        .is_temporary());
    // Nobody listening: worth a retry too.
    let closed = HttpIoGateway::new("http://127.0.0.1:9", "io-key").unwrap();
    assert!(closed
        .send(&allowed, &message, "k-4")
        .await
        .unwrap_err()
        .is_temporary());

    // The SMS provider skeleton sends the key along.
    let sms = HttpSmsGateway::new(&format!("{}/sms", api.base), "sms-token").unwrap();
    let phone = Phone::parse("3331234567").unwrap();
    sms.send(&phone, "Testo", "k-5").await.unwrap();
    let last = api.received().pop().unwrap();
    assert_eq!(last.headers["idempotency-key"], "k-5");
    assert_eq!(last.body, json!({"to": "+393331234567", "text": "Testo"}));
    assert!(
        !format!("{sms:?}").contains("sms-token"),
        "secrets are not printed"
    );
}

#[tokio::test]
async fn n5_booking_confirmations_reach_the_io_app_through_the_outbox() {
    let allowed = person(1);
    let api = FakeApi::start("io-key", allowed.clone(), person(5), person(6));
    let clock = SettableClock::fixed(t0());
    let url = new_store_url(&Store::Sqlite).await;
    let p = Process::start(&url, &clock).await;
    // N7: person 1 has chosen IO messages, person 2 has not.
    p.service
        .change_contacts(
            &allowed,
            ContactsCommand::Change {
                citizen: allowed.clone(),
                phone: None,
                io: Some(true),
                at: t0(),
                by: Issuer::citizen(allowed.clone()),
            },
            &meta(1),
        )
        .await
        .unwrap();
    p.book("b-0", 1, 0).await;
    p.book("b-1", 2, 1).await;
    let sms = sms_file();
    let gateways = Gateways {
        io: Arc::new(HttpIoGateway::new(&api.base, "io-key").unwrap()),
        ..p.gateways(&sms)
    };
    Dispatcher::new(p.side.clone(), gateways)
        .with_access_codes(access_codes())
        .with_clock(clock.as_clock())
        .with_contacts(p.service.clone())
        .drain()
        .await
        .unwrap();
    let outbox = p.outbox().await;
    assert_eq!(status_of(&outbox, "booking:b-0:io:confirmation"), "sent");
    // Not chosen: not sent, and the row says why.
    let not_chosen = &outbox["booking:b-1:io:confirmation"];
    assert_eq!(not_chosen.status, "withdrawn");
    assert!(not_chosen.last_error.as_deref().unwrap().contains("IO"));
    assert_eq!(api.received().len(), 2, "a profile check and one message");
    let message = api.received().pop().unwrap();
    assert_eq!(message.body["fiscal_code"], allowed.as_str());
    let subject = message.body["content"]["subject"].as_str().unwrap();
    assert!(
        subject.starts_with("Conferma prenotazione del 01/12/2026"),
        "{subject}"
    );
    let _ = std::fs::remove_file(&sms);
    p.dispose(&url).await;
}

macro_rules! on_durable_stores {
    ($($name:ident),*) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name(super::Store::Sqlite).await; })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() {
                if let Some(store) = super::postgres_store() {
                    super::$name(store).await;
                }
            })*
        }
        mod mariadb {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() {
                if let Some(store) = super::mariadb_store() {
                    super::$name(store).await;
                }
            })*
        }
    };
}

on_durable_stores!(
    dispatcher_killed_mid_batch_sends_every_message_once_per_key,
    a_failed_step_leaves_its_claims_to_its_next_step,
    n6_a_slow_step_starts_no_send_past_a_quarter_of_its_lease,
    reminders_survive_a_restart_and_a_cancelled_one_is_never_sent,
    failures_are_retried_with_backoff_then_given_up
);
