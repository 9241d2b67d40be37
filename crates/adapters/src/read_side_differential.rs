//! The in-memory read side (`readside/memory.rs`) against SQLite's
//! (`sql/`), in a module of its own since it needs both: the same random
//! sequences of writes, transactions and queries on both, and the same
//! answer to every statement, then the same tables.
//!
//! With `DELEGHE_TEST_POSTGRES_URL` set, the same runs on PostgreSQL too,
//! on steps kept to what the projector and the dispatcher ask (each key
//! once in a write-back, no negative limit, no `CHECK` broken): there a
//! multi-row upsert that meets a key twice, a negative `LIMIT` and any
//! statement after a failed one in a transaction are errors.
//!
//! Values come from small alphabets, so that keys collide, rows conflict
//! and queries find them; the texts include an upper-case letter and a
//! non-ASCII one, so that an order other than byte order shows. While a
//! transaction is open, a read may run on another connection: it must see
//! the committed tables only (SQLite's file in WAL mode does). Answers
//! whose order no `ORDER BY` fixes are sorted before they are compared;
//! errors are compared as errors, whatever their message.

use std::fmt::Debug;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use deleghe_domain::booking::{
    AccessCodeDigest, Booking, BookingId, BookingStage, GrantorDetails, Phone,
};
use deleghe_domain::delegation::{Channel, Delegation, DelegationId, GrantorEvent, Role};
use deleghe_domain::meeting::Meeting;
use deleghe_domain::schedule::{Counter, Mode, OfficeId};
use deleghe_domain::FiscalCode;
use proptest::prelude::*;

use crate::error::ServiceError;
use crate::readside::{
    Attempt, AuditEntry, BookingRecord, DelegationRecord, DocumentRefRow, Marked, MemorySide,
    NoticeRow, OutboxEntry, PlaceRow, SidePool, SideStatements, WriteSet,
};
#[cfg(feature = "postgres")]
use crate::sql::PostgresDialect;
use crate::sql::{SqlStore, SqliteDialect};

// ------------------------------------------------------------------ alphabets

/// Keys, ids and names: byte order puts `B` before `a` and `é` last.
const NAMES: [&str; 4] = ["a", "B", "b", "é"];
/// Instants as stored, and one empty text.
const INSTANTS: [&str; 4] = [
    "",
    "2026-12-01T09:00:00.000000Z",
    "2026-12-01T10:00:00.000000Z",
    "2026-12-02T09:00:00.000000Z",
];
const DATES: [&str; 2] = ["2026-12-01", "2026-12-02"];
const DELEGATION_STAGES: [&str; 4] = ["pending", "refused", "active", "revoked"];
const BOOKING_STAGES: [&str; 6] = [
    "pending",
    "refused",
    "confirmed",
    "served",
    "missed",
    "cancelled",
];
const MODES: [&str; 2] = ["web_meeting", "in_person"];
const CHECKPOINTS: [&str; 2] = ["projector", "other"];
/// The statuses a batch writes, and those the dispatcher records (one the
/// schema refuses among them).
const SCHEDULED: [&str; 2] = ["pending", "withdrawn"];
const ATTEMPTED: [&str; 3] = ["pending", "failed", "lost"];
const CONTENTS: [&[u8]; 3] = [b"", b"%PDF-1.4", &[0; 10]];

fn name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&NAMES[..])
}

fn instant() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&INSTANTS[..])
}

fn date() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&DATES[..])
}

fn checkpoint() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&CHECKPOINTS[..])
}

fn small_position() -> impl Strategy<Value = i64> {
    0i64..6
}

fn limit() -> impl Strategy<Value = i64> {
    -1i64..4
}

// ------------------------------------------------------------------ rows

fn utc(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, day, hour, 0, 0).unwrap()
}

fn cf(n: usize) -> FiscalCode {
    let codes = ["RSSMRA85T10A562S", "VRDLGU70A01H501O"];
    FiscalCode::parse(codes[n % 2]).unwrap()
}

/// A delegation's data, one of a few, told apart by its id.
fn delegation_data(n: usize) -> String {
    let delegation = Delegation::requested(&GrantorEvent::DelegationRequested {
        id: DelegationId::parse(&format!("d-{n}")).unwrap(),
        grantor: cf(n),
        delegate: cf(n + 1),
        role: Role::Ordinary,
        channel: Channel::Online,
        ends_on: None,
        meeting: None,
        evidence: Default::default(),
        at: utc(1, 9),
    })
    .unwrap();
    serde_json::to_string(&delegation).unwrap()
}

/// A booking's data, one of a few, told apart by its id.
fn booking_data(n: usize) -> String {
    let counter = Counter::web_meeting_delegations(OfficeId::parse("DCM NAPOLI").unwrap());
    let slot = counter.offers(utc(1, 9)).expect("an offered slot");
    let booking = Booking {
        id: BookingId::parse(&format!("b-{n}")).unwrap(),
        booker: cf(n),
        counter: counter.id.clone(),
        counter_name: counter.name.clone(),
        counter_type: counter.counter_type.clone(),
        office: counter.office.clone(),
        slot,
        capacity: counter.capacity(),
        mode: Mode::WebMeeting,
        reason: "Delega".into(),
        phone: Phone::parse("333 1234567").unwrap(),
        grantor: Some(GrantorDetails::new(cf(n + 1), "Mario", "Rossi").unwrap()),
        access_code: Some(AccessCodeDigest::from_bytes(&[7; 32])),
        requested_at: utc(1, 8),
        stage: BookingStage::Confirmed,
        booked_by: None,
        ticket_letter: Some('D'),
        place: Some(1),
    };
    serde_json::to_string(&booking).unwrap()
}

fn delegation_record() -> impl Strategy<Value = DelegationRecord> {
    (
        name(),
        name(),
        name(),
        prop::sample::select(&DELEGATION_STAGES[..]),
        instant(),
        0usize..3,
        small_position(),
    )
        .prop_map(
            |(id, grantor, delegate, stage, requested_at, data, position)| DelegationRecord {
                id: id.to_owned(),
                grantor: grantor.to_owned(),
                delegate: delegate.to_owned(),
                stage,
                requested_at: requested_at.to_owned(),
                data: delegation_data(data),
                position,
            },
        )
}

fn booking_record() -> impl Strategy<Value = BookingRecord> {
    (
        (name(), name(), name(), prop::sample::select(&MODES[..])),
        (
            instant(),
            date(),
            prop::sample::select(&BOOKING_STAGES[..]),
            0usize..3,
            small_position(),
        ),
    )
        .prop_map(
            |((id, booker, office, mode), (slot_start, slot_date, stage, data, position))| {
                BookingRecord {
                    id: id.to_owned(),
                    booker: booker.to_owned(),
                    counter: "counter".to_owned(),
                    office: office.to_owned(),
                    mode,
                    slot_start: slot_start.to_owned(),
                    slot_date: slot_date.to_owned(),
                    stage,
                    meeting_state: "waiting",
                    data: booking_data(data),
                    meeting: serde_json::to_string(&Meeting::default()).unwrap(),
                    position,
                }
            },
        )
}

fn place_row() -> impl Strategy<Value = PlaceRow> {
    (
        name(),
        name(),
        name(),
        instant(),
        any::<bool>(),
        small_position(),
    )
        .prop_map(
            |(slot_key, booking, counter, slot_start, held, position)| PlaceRow {
                slot_key: slot_key.to_owned(),
                booking: booking.to_owned(),
                counter: counter.to_owned(),
                slot_start: slot_start.to_owned(),
                held,
                position,
            },
        )
}

fn audit_entry() -> impl Strategy<Value = AuditEntry> {
    (
        small_position(),
        name(),
        name(),
        prop::option::of(instant()),
        prop::option::of(name()),
    )
        .prop_map(|(position, grantor, actor, at, channel)| AuditEntry {
            position,
            grantor: grantor.to_owned(),
            actor: actor.to_owned(),
            action: "DelegationRequested".to_owned(),
            aggregate_type: "grantor".to_owned(),
            aggregate_id: grantor.to_owned(),
            at: at.map(str::to_owned),
            channel: channel.map(str::to_owned),
            correlation_id: None,
        })
}

/// An outbox row as a batch schedules it; the attempts, error and sending
/// time it carries are not the schema's defaults, which the write keeps.
fn outbox_entry() -> impl Strategy<Value = OutboxEntry> {
    (
        name(),
        name(),
        instant(),
        instant(),
        prop::sample::select(&SCHEDULED[..]),
        small_position(),
    )
        .prop_map(
            |(key, recipient, due_at, next_attempt_at, status, position)| OutboxEntry {
                key: key.to_owned(),
                channel: "sms".to_owned(),
                recipient: recipient.to_owned(),
                title: "title".to_owned(),
                body: format!("body of {key}"),
                due_at: due_at.to_owned(),
                status: status.to_owned(),
                attempts: 3,
                next_attempt_at: next_attempt_at.to_owned(),
                last_error: Some("ignored".to_owned()),
                sent_at: Some("ignored".to_owned()),
                position,
            },
        )
}

fn write_set() -> impl Strategy<Value = WriteSet> {
    let rows = 0..3usize;
    (
        prop::collection::vec(delegation_record(), rows.clone()),
        prop::collection::vec(booking_record(), rows.clone()),
        prop::collection::vec(place_row(), rows.clone()),
        prop::collection::vec(audit_entry(), rows.clone()),
        prop::collection::vec((name(), small_position()), rows.clone()),
        prop::collection::vec(outbox_entry(), rows.clone()),
        prop::collection::vec(outbox_entry(), rows.clone()),
        prop::collection::vec(name(), rows),
    )
        .prop_map(
            |(delegations, bookings, places, audit, refs, schedule, or_withdraw, withdraw)| {
                let mut set = WriteSet {
                    delegations,
                    bookings,
                    places,
                    audit,
                    document_refs: refs
                        .into_iter()
                        .map(|(sha256, position)| DocumentRefRow {
                            sha256: sha256.to_owned(),
                            position,
                        })
                        .collect(),
                    ..WriteSet::default()
                };
                set.outbox.schedule = schedule;
                set.outbox.schedule_or_withdraw = or_withdraw;
                set.outbox.withdraw = withdraw.into_iter().map(str::to_owned).collect();
                set
            },
        )
}

// ------------------------------------------------------------------ steps

/// A statement that only reads.
#[derive(Debug, Clone)]
enum Query {
    ReadCheckpoint(&'static str),
    Delegations(Vec<&'static str>),
    Bookings(Vec<&'static str>),
    Places(Vec<(&'static str, &'static str)>),
    Delegation(&'static str),
    DelegationsByGrantor(&'static str),
    DelegationsByDelegate(&'static str),
    AllDelegations,
    Booking(&'static str),
    BookingsOf(&'static str),
    BookingsByOfficeDay(&'static str, &'static str),
    BookingsToSettle(&'static str, &'static str, &'static str, i64),
    WaitingRoom(&'static str, &'static str),
    AllBookings,
    PlacesHeld(&'static str, &'static str, &'static str),
    AllPlaces,
    AuditOf(&'static str),
    AllAudit,
    AllDocumentRefs,
    DocumentReferenced(&'static str),
    NoticesOf(&'static str),
    Outbox,
    Document(&'static str),
    DocumentUsage,
    Backlog,
}

/// A statement that may write.
#[derive(Debug, Clone)]
enum Change {
    Write(Box<WriteSet>),
    ClearReadModels,
    LockReadCheckpoint(&'static str),
    SaveReadCheckpoint(&'static str, i64),
    NextGeneration(&'static str),
    InsertNotice(&'static str, &'static str, &'static str, &'static str),
    SetNoticeRead(&'static str, &'static str, bool),
    DeleteNotice(&'static str, &'static str),
    ClaimDue(&'static str, &'static str, &'static str, i64),
    MarkSent(&'static str, &'static str),
    MarkAttempt(&'static str, i64, &'static str, &'static str),
    /// One dispatcher step's marks, each key once.
    MarkAll(Vec<Mark>),
    PutDocument(&'static str, usize, &'static str),
    SweepDocuments(&'static str),
}

/// A mark of [`Change::MarkAll`]: the key, an instant, and, for an attempt,
/// its count and status (the instant its next one); for none, sent at the
/// instant.
type Mark = (&'static str, &'static str, Option<(i64, &'static str)>);

#[derive(Debug, Clone)]
enum Step {
    Begin,
    Commit,
    Rollback,
    /// A read; `outside` a transaction open, on another connection.
    Read {
        query: Query,
        outside: bool,
    },
    Change(Change),
}

fn query() -> impl Strategy<Value = Query> {
    prop_oneof![
        checkpoint().prop_map(Query::ReadCheckpoint),
        // Keys each once, as the port asks (SQLite's chunks would find a
        // key twice, PostgreSQL's `= ANY` once).
        prop::collection::btree_set(name(), 0..4)
            .prop_map(|ids| Query::Delegations(ids.into_iter().collect())),
        prop::collection::btree_set(name(), 0..4)
            .prop_map(|ids| Query::Bookings(ids.into_iter().collect())),
        prop::collection::btree_set((name(), name()), 0..4)
            .prop_map(|keys| Query::Places(keys.into_iter().collect())),
        name().prop_map(Query::Delegation),
        name().prop_map(Query::DelegationsByGrantor),
        name().prop_map(Query::DelegationsByDelegate),
        Just(Query::AllDelegations),
        name().prop_map(Query::Booking),
        name().prop_map(Query::BookingsOf),
        (name(), date()).prop_map(|(o, d)| Query::BookingsByOfficeDay(o, d)),
        (instant(), instant(), name(), limit())
            .prop_map(|(before, start, id, n)| Query::BookingsToSettle(before, start, id, n)),
        (name(), date()).prop_map(|(o, d)| Query::WaitingRoom(o, d)),
        Just(Query::AllBookings),
        (name(), instant(), instant()).prop_map(|(c, f, l)| Query::PlacesHeld(c, f, l)),
        Just(Query::AllPlaces),
        name().prop_map(Query::AuditOf),
        Just(Query::AllAudit),
        Just(Query::AllDocumentRefs),
        name().prop_map(Query::DocumentReferenced),
        name().prop_map(Query::NoticesOf),
        Just(Query::Outbox),
        name().prop_map(Query::Document),
        Just(Query::DocumentUsage),
        Just(Query::Backlog),
    ]
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        4 => write_set().prop_map(|s| Change::Write(Box::new(s))),
        1 => Just(Change::ClearReadModels),
        1 => checkpoint().prop_map(Change::LockReadCheckpoint),
        1 => (checkpoint(), -1i64..6).prop_map(|(n, p)| Change::SaveReadCheckpoint(n, p)),
        1 => checkpoint().prop_map(Change::NextGeneration),
        2 => (name(), name(), name(), instant())
            .prop_map(|(id, citizen, title, at)| Change::InsertNotice(id, citizen, title, at)),
        1 => (name(), name(), any::<bool>())
            .prop_map(|(citizen, id, read)| Change::SetNoticeRead(citizen, id, read)),
        1 => (name(), name()).prop_map(|(citizen, id)| Change::DeleteNotice(citizen, id)),
        2 => (name(), instant(), instant(), limit())
            .prop_map(|(claim, now, until, n)| Change::ClaimDue(claim, now, until, n)),
        1 => (name(), instant()).prop_map(|(key, at)| Change::MarkSent(key, at)),
        1 => (name(), 0i64..3, instant(), prop::sample::select(&ATTEMPTED[..]))
            .prop_map(|(key, n, next, status)| Change::MarkAttempt(key, n, next, status)),
        2 => prop::collection::btree_map(
            name(),
            (instant(), prop::option::of((0i64..3, prop::sample::select(&ATTEMPTED[..])))),
            0..5,
        )
        .prop_map(|marks| Change::MarkAll(
            marks.into_iter().map(|(key, (at, attempt))| (key, at, attempt)).collect()
        )),
        2 => (name(), 0..CONTENTS.len(), instant())
            .prop_map(|(sha, content, at)| Change::PutDocument(sha, content, at)),
        1 => instant().prop_map(Change::SweepDocuments),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        1 => Just(Step::Begin),
        1 => Just(Step::Commit),
        1 => Just(Step::Rollback),
        4 => (query(), any::<bool>()).prop_map(|(query, outside)| Step::Read { query, outside }),
        5 => change().prop_map(Step::Change),
    ]
}

// ------------------------------------------------------------------ running

/// An answer as compared: its `Debug` text, or that it failed.
type Answer = Result<String, ()>;

/// The answers of one side, each with its step's index (`usize::MAX` for
/// the tables read at the end).
type Answers = Vec<(usize, Answer)>;

fn answer<T: Debug>(result: Result<T, ServiceError>) -> Answer {
    result.map(|value| format!("{value:?}")).map_err(|_| ())
}

fn sorted<T: Ord + Debug>(result: Result<Vec<T>, ServiceError>) -> Answer {
    answer(result.map(|mut rows| {
        rows.sort();
        rows
    }))
}

/// Rows in no given order, compared as their `Debug` texts, sorted.
fn unordered<T: Debug>(result: Result<Vec<T>, ServiceError>) -> Answer {
    sorted(result.map(|rows| rows.iter().map(|r| format!("{r:?}")).collect::<Vec<_>>()))
}

fn owned(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

async fn read(conn: &mut dyn SideStatements, query: &Query) -> Answer {
    match query {
        Query::ReadCheckpoint(n) => answer(conn.read_checkpoint(n).await),
        Query::Delegations(ids) => unordered(conn.delegations(&owned(ids)).await),
        Query::Bookings(ids) => unordered(conn.bookings(&owned(ids)).await),
        Query::Places(keys) => {
            let keys: Vec<_> = keys
                .iter()
                .map(|(s, b)| ((*s).to_owned(), (*b).to_owned()))
                .collect();
            unordered(conn.places(&keys).await)
        }
        Query::Delegation(id) => answer(conn.delegation(id).await),
        Query::DelegationsByGrantor(g) => answer(conn.delegations_by_grantor(g).await),
        Query::DelegationsByDelegate(d) => answer(conn.delegations_by_delegate(d).await),
        Query::AllDelegations => answer(conn.all_delegations().await),
        Query::Booking(id) => answer(conn.booking(id).await),
        Query::BookingsOf(b) => answer(conn.bookings_of(b).await),
        Query::BookingsByOfficeDay(o, d) => answer(conn.bookings_by_office_day(o, d).await),
        Query::BookingsToSettle(before, start, id, n) => {
            answer(conn.bookings_to_settle(before, (start, id), *n).await)
        }
        Query::WaitingRoom(o, d) => answer(conn.waiting_room(o, d).await),
        Query::AllBookings => answer(conn.all_bookings().await),
        Query::PlacesHeld(c, f, l) => sorted(conn.places_held(c, f, l).await),
        Query::AllPlaces => answer(conn.all_places().await),
        Query::AuditOf(g) => answer(conn.audit_of(g).await),
        Query::AllAudit => answer(conn.all_audit().await),
        Query::AllDocumentRefs => answer(conn.all_document_refs().await),
        Query::DocumentReferenced(sha) => answer(conn.document_referenced(sha).await),
        Query::NoticesOf(c) => answer(conn.notices_of(c).await),
        Query::Outbox => answer(conn.outbox().await),
        Query::Document(sha) => answer(conn.document(sha).await),
        Query::DocumentUsage => answer(conn.document_usage().await),
        Query::Backlog => answer(conn.backlog().await),
    }
}

async fn change_on(conn: &mut dyn SideStatements, change: &Change) -> Answer {
    match change {
        Change::Write(set) => answer(conn.write(set).await),
        Change::ClearReadModels => answer(conn.clear_read_models().await),
        Change::LockReadCheckpoint(n) => answer(conn.lock_read_checkpoint(n).await),
        Change::SaveReadCheckpoint(n, p) => answer(conn.save_read_checkpoint(n, *p).await),
        Change::NextGeneration(n) => answer(conn.next_generation(n).await),
        Change::InsertNotice(id, citizen, title, at) => {
            let notice = NoticeRow {
                id: (*id).to_owned(),
                citizen: (*citizen).to_owned(),
                title: (*title).to_owned(),
                body: "body".to_owned(),
                posted_at: (*at).to_owned(),
                // Not what is stored: a notice starts unread, not deleted.
                is_read: true,
                deleted: true,
            };
            answer(conn.insert_notice(&notice).await)
        }
        Change::SetNoticeRead(c, id, r) => answer(conn.set_notice_read(c, id, *r).await),
        Change::DeleteNotice(c, id) => answer(conn.delete_notice(c, id).await),
        Change::ClaimDue(claim, now, until, n) => {
            unordered(conn.claim_due(claim, now, until, *n).await)
        }
        Change::MarkSent(key, at) => answer(conn.mark_sent(key, at).await),
        Change::MarkAttempt(key, attempts, next, status) => {
            let attempt = Attempt {
                key,
                attempts: *attempts,
                next_attempt_at: next,
                error: "timeout",
                status,
            };
            answer(conn.mark_attempt(&attempt).await)
        }
        Change::MarkAll(marks) => {
            let marks: Vec<Marked> = marks
                .iter()
                .map(|(key, at, attempt)| match attempt {
                    None => Marked::Sent {
                        key: (*key).to_owned(),
                        at: (*at).to_owned(),
                    },
                    Some((attempts, status)) => Marked::Attempt {
                        key: (*key).to_owned(),
                        attempts: *attempts,
                        next_attempt_at: (*at).to_owned(),
                        error: "timeout".to_owned(),
                        status,
                    },
                })
                .collect();
            answer(conn.mark_all(&marks).await)
        }
        Change::PutDocument(sha, content, at) => {
            answer(conn.put_document(sha, CONTENTS[*content], at).await)
        }
        Change::SweepDocuments(before) => sorted(conn.sweep_documents(before).await),
    }
}

/// Every table, as the queries give it, at the end.
async fn tables(conn: &mut dyn SideStatements) -> Vec<Answer> {
    let mut all = Vec::new();
    for query in [
        Query::AllDelegations,
        Query::AllBookings,
        Query::AllPlaces,
        Query::AllAudit,
        Query::AllDocumentRefs,
        Query::Outbox,
        Query::DocumentUsage,
        Query::Backlog,
    ] {
        all.push(read(conn, &query).await);
    }
    for name in CHECKPOINTS {
        all.push(read(conn, &Query::ReadCheckpoint(name)).await);
    }
    for name in NAMES {
        all.push(read(conn, &Query::NoticesOf(name)).await);
        all.push(read(conn, &Query::Document(name)).await);
    }
    all
}

/// Runs `steps` on `side`: a step outside any transaction on one
/// connection, a transaction's on it, and a read marked `outside` during a
/// transaction on a second one. The answers, step by step, then the tables.
async fn run(side: &dyn SidePool, steps: &[Step]) -> Answers {
    let mut conn = side.acquire().await.unwrap();
    let mut other = side.acquire().await.unwrap();
    let mut answers = Vec::new();
    let mut i = 0;
    while i < steps.len() {
        match &steps[i] {
            Step::Begin => {
                let mut tx = conn.begin().await.unwrap();
                i += 1;
                while i < steps.len() {
                    let answer = match &steps[i] {
                        Step::Commit => {
                            answers.push((i, answer(tx.commit().await)));
                            break;
                        }
                        Step::Rollback => break,
                        Step::Begin => answer(tx.begin().await.map(|_| ())),
                        Step::Read {
                            query,
                            outside: true,
                        } => read(&mut *other, query).await,
                        Step::Read { query, .. } => read(&mut *tx, query).await,
                        Step::Change(change) => change_on(&mut *tx, change).await,
                    };
                    answers.push((i, answer));
                    i += 1;
                }
            }
            Step::Commit | Step::Rollback => {}
            Step::Read { query, .. } => answers.push((i, read(&mut *conn, query).await)),
            Step::Change(change) => answers.push((i, change_on(&mut *conn, change).await)),
        }
        i += 1;
    }
    let mut fresh = side.acquire().await.unwrap();
    answers.extend(
        tables(&mut *fresh)
            .await
            .into_iter()
            .map(|a| (usize::MAX, a)),
    );
    answers
}

/// A SQLite read side on a file of its own (WAL: a connection reads the
/// committed rows while another holds a transaction), removed when dropped.
struct SqliteSide {
    store: SqlStore<SqliteDialect>,
    pool: sqlx::SqlitePool,
    path: std::path::PathBuf,
}

impl SqliteSide {
    async fn open() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "deleghe-readside-{}-{}.sqlite",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let options = crate::sql::sqlite::options(&format!("sqlite://{}", path.display())).unwrap();
        let pool = crate::sql::sqlite::open(options).await.unwrap();
        Self {
            store: SqlStore::new(pool.clone()),
            pool,
            path,
        }
    }

    async fn remove(self) {
        self.pool.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The answers of both sides to `steps`, memory's first.
fn both(steps: &[Step]) -> (Answers, Answers) {
    runtime().block_on(async {
        let memory: Arc<dyn SidePool> = Arc::new(MemorySide::new());
        let sqlite = SqliteSide::open().await;
        let in_memory = run(&*memory, steps).await;
        let on_sqlite = run(&sqlite.store, steps).await;
        sqlite.remove().await;
        (in_memory, on_sqlite)
    })
}

/// 64 cases unless `PROPTEST_CASES` says otherwise: each opens a SQLite
/// file and migrates it.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn the_memory_side_answers_as_sqlite(steps in prop::collection::vec(step(), 1..40)) {
        let (in_memory, on_sqlite) = both(&steps);
        for (m, s) in in_memory.iter().zip(&on_sqlite) {
            prop_assert_eq!(m, s, "step {} of {:#?}", m.0, steps.get(m.0));
        }
        prop_assert_eq!(in_memory.len(), on_sqlite.len());
    }
}

/// The differential test can fail: a side that ignores the position guard
/// of the write-back answers otherwise than SQLite.
#[test]
fn a_newer_row_is_kept_on_both_sides() {
    let newer = Step::Change(Change::Write(Box::new(WriteSet {
        delegations: vec![DelegationRecord {
            id: "a".to_owned(),
            grantor: "g".to_owned(),
            delegate: "d".to_owned(),
            stage: "active",
            requested_at: INSTANTS[1].to_owned(),
            data: delegation_data(0),
            position: 5,
        }],
        ..WriteSet::default()
    })));
    let older = Step::Change(Change::Write(Box::new(WriteSet {
        delegations: vec![DelegationRecord {
            id: "a".to_owned(),
            grantor: "h".to_owned(),
            delegate: "d".to_owned(),
            stage: "active",
            requested_at: INSTANTS[1].to_owned(),
            data: delegation_data(1),
            position: 4,
        }],
        ..WriteSet::default()
    })));
    let by = |g| Step::Read {
        query: Query::DelegationsByGrantor(g),
        outside: false,
    };
    let steps = [newer, older, by("g"), by("h")];
    let (in_memory, on_sqlite) = both(&steps);
    assert_eq!(in_memory, on_sqlite);
    // The newer row stayed: listed under its grantor, not the older one's.
    assert!(in_memory[2].1.as_ref().unwrap().contains("d-0"));
    assert_eq!(in_memory[3].1, Ok("[]".to_owned()));
}

/// A step's marks are all or none on both sides: three attempts, the
/// last of a status the schema refuses, leave every row as it was (on
/// SQLite a statement cut in two, two rows then one, kept the first two).
#[test]
fn a_refused_mark_marks_none_of_the_step() {
    let pending = |key: &str| OutboxEntry {
        key: key.to_owned(),
        channel: "sms".to_owned(),
        recipient: "r".to_owned(),
        title: "title".to_owned(),
        body: format!("body of {key}"),
        due_at: INSTANTS[1].to_owned(),
        status: "pending".to_owned(),
        attempts: 0,
        next_attempt_at: INSTANTS[1].to_owned(),
        last_error: None,
        sent_at: None,
        position: 1,
    };
    let mut set = WriteSet::default();
    set.outbox.schedule = ["B", "a", "b"].into_iter().map(pending).collect();
    let marks = Step::Change(Change::MarkAll(vec![
        ("B", INSTANTS[2], Some((1, "pending"))),
        ("a", INSTANTS[2], Some((1, "failed"))),
        ("b", INSTANTS[2], Some((1, "lost"))),
    ]));
    let outbox = Step::Read {
        query: Query::Outbox,
        outside: false,
    };
    let steps = [
        Step::Change(Change::Write(Box::new(set))),
        outbox.clone(),
        marks,
        outbox,
    ];
    let (in_memory, on_sqlite) = both(&steps);
    assert_eq!(in_memory, on_sqlite);
    assert!(in_memory[2].1.is_err(), "{:?}", in_memory[2]);
    assert_eq!(in_memory[1].1, in_memory[3].1, "nothing marked");
}

// ------------------------------------------------------------------ PostgreSQL

/// A PostgreSQL read side in a schema of its own, dropped afterwards.
#[cfg(feature = "postgres")]
struct PostgresSide {
    store: SqlStore<PostgresDialect>,
    pool: sqlx::PgPool,
    schema: String,
}

#[cfg(feature = "postgres")]
impl PostgresSide {
    async fn open(url: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let schema = format!(
            "t_side_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let separator = if url.contains('?') { '&' } else { '?' };
        let url = format!("{url}{separator}schema={schema}");
        let (options, named) = crate::sql::postgres::options(&url).unwrap();
        let pool = crate::sql::postgres::open(options, named.as_deref())
            .await
            .unwrap();
        Self {
            store: SqlStore::new(pool.clone()),
            pool,
            schema,
        }
    }

    async fn remove(self) {
        // The name is the test's own: identifiers cannot be bound.
        sqlx::query(&format!("DROP SCHEMA \"{}\" CASCADE", self.schema))
            .execute(&self.pool)
            .await
            .unwrap();
        self.pool.close().await;
    }
}

/// `step` as the projector and the dispatcher would ask it: each key once
/// in a write-back's upserts, no negative limit, no broken `CHECK`.
#[cfg(feature = "postgres")]
fn tamed(step: &Step) -> Step {
    fn once<T, K: Ord>(rows: &mut Vec<T>, key: impl Fn(&T) -> K) {
        let mut seen = std::collections::BTreeSet::new();
        rows.retain(|r| seen.insert(key(r)));
    }
    let mut step = step.clone();
    match &mut step {
        Step::Read {
            query: Query::BookingsToSettle(_, _, _, n),
            ..
        }
        | Step::Change(Change::ClaimDue(_, _, _, n)) => *n = (*n).max(0),
        Step::Change(Change::SaveReadCheckpoint(_, p)) => *p = (*p).max(0),
        // The one status of `ATTEMPTED` the schema refuses.
        Step::Change(Change::MarkAttempt(_, _, _, status)) if *status == "lost" => {
            *status = "failed";
        }
        Step::Change(Change::MarkAll(marks)) => {
            for (_, _, attempt) in marks {
                if let Some((_, status)) = attempt {
                    if *status == "lost" {
                        *status = "failed";
                    }
                }
            }
        }
        Step::Change(Change::Write(set)) => {
            once(&mut set.delegations, |r| r.id.clone());
            once(&mut set.bookings, |r| r.id.clone());
            once(&mut set.places, |r| (r.slot_key.clone(), r.booking.clone()));
            once(&mut set.outbox.schedule_or_withdraw, |r| r.key.clone());
        }
        _ => {}
    }
    step
}

/// On PostgreSQL, when `DELEGHE_TEST_POSTGRES_URL` names a server: the
/// same answers, in the same orders (`COLLATE "C"`).
#[cfg(feature = "postgres")]
#[test]
fn the_memory_side_answers_as_postgresql() {
    let Ok(url) = std::env::var("DELEGHE_TEST_POSTGRES_URL") else {
        eprintln!("skipping the PostgreSQL variant: DELEGHE_TEST_POSTGRES_URL is not set");
        return;
    };
    let config = ProptestConfig::with_cases(cases().div_ceil(2));
    let mut runner = proptest::test_runner::TestRunner::new(config);
    let steps = prop::collection::vec(step(), 1..40)
        .prop_map(|steps| steps.iter().map(tamed).collect::<Vec<_>>());
    runner
        .run(&steps, |steps| {
            let (in_memory, on_postgres) = runtime().block_on(async {
                let memory: Arc<dyn SidePool> = Arc::new(MemorySide::new());
                let postgres = PostgresSide::open(&url).await;
                let in_memory = run(&*memory, &steps).await;
                let on_postgres = run(&postgres.store, &steps).await;
                postgres.remove().await;
                (in_memory, on_postgres)
            });
            for (m, p) in in_memory.iter().zip(&on_postgres) {
                prop_assert_eq!(m, p, "step {} of {:#?}", m.0, steps.get(m.0));
            }
            prop_assert_eq!(in_memory.len(), on_postgres.len());
            Ok(())
        })
        .unwrap();
}
