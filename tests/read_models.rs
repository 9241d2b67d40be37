//! The read side: the projector reads the event log from its checkpoint into
//! the read models, batch by batch, rows and checkpoint in one transaction.
//!
//! - A crash between commit and projection, or in the middle of a batch,
//!   loses nothing: the projector catches up to exactly what a rebuild from
//!   the whole log gives.
//! - On PostgreSQL, a writing transaction held open while later events
//!   commit is waited for, never skipped.
//! - The read models answer in the JSON shapes of docs/APP.md.
//!
//! Every scenario runs in memory and on SQLite, and on PostgreSQL when
//! `DELEGHE_TEST_POSTGRES_URL` is set.

mod support;

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use deleghe::adapters::gateway::{DisabledIo, FileSmsGateway, Gateways, NoticeCalendar};
use deleghe::adapters::outbox::Dispatcher;
use deleghe::adapters::projection::ReadSide;
use deleghe::adapters::projection::{Projector, ReadModels};
use deleghe::adapters::{Actor, Deleghe, Metadata, Repository, SettableClock};
use deleghe::domain::booking::{BookerCommand, Booking, BookingId, RequestBooking};
use deleghe::domain::delegation::{DelegationId, RevocationChannel};
use deleghe::domain::notification::CALENDAR_TITLE;
use deleghe::domain::schedule::OfficeId;
use deleghe::domain::Policy;
use serde_json::json;
use support::*;

/// A store with the service, the read side and the read models on it, all
/// reading one settable clock.
struct World {
    repository: Repository,
    /// Whether the store is the in-memory one.
    in_memory: bool,
    side: ReadSide,
    clock: SettableClock,
    service: Deleghe,
    read: ReadModels,
}

impl World {
    async fn new(store: &Store) -> Self {
        let repository = fresh(store).await;
        let side = ReadSide::open(&repository)
            .await
            .expect("the read side opens");
        let clock = SettableClock::fixed(t0());
        let service =
            Deleghe::new(repository.clone(), Policy::default()).with_clock(clock.as_clock());
        let read = ReadModels::new(side.clone(), Policy::default()).with_clock(clock.as_clock());
        Self {
            repository,
            in_memory: matches!(store, Store::Memory),
            side,
            clock,
            service,
            read,
        }
    }

    fn projector(&self) -> Projector {
        Projector::new(
            self.repository.clone(),
            self.side.clone(),
            Policy::default(),
        )
    }

    /// A projector as another process would have it: on a read side of its
    /// own over the same store, so that it takes no turns with this one's
    /// (the in-memory store has one read side, its only copy).
    async fn projector_elsewhere(&self) -> Projector {
        let side = if self.in_memory {
            self.side.clone()
        } else {
            ReadSide::open(&self.repository)
                .await
                .expect("the read side opens")
        };
        Projector::new(self.repository.clone(), side, Policy::default())
    }

    /// Drops the test's PostgreSQL schema (a scenario that passed leaves
    /// nothing behind; one that failed leaves its schema to look at).
    async fn dispose(self) {
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
        }
    }

    async fn project(&self) -> usize {
        self.projector()
            .catch_up()
            .await
            .expect("the projector catches up")
    }

    /// The last position in the log.
    async fn head(&self) -> i64 {
        let mut after = 0;
        loop {
            let batch = self.repository.read_log(after, 1000).await.unwrap();
            match batch.last() {
                Some(last) => after = last.position,
                None => return after,
            }
        }
    }
}

/// Person `booker` books the web meeting `k` half hours after Tuesday 09:00,
/// for person 0.
fn booking_at(id: &str, booker: usize, k: i64) -> RequestBooking {
    RequestBooking {
        start: tuesday_9() + Duration::minutes(30 * k),
        ..web_booking(id, booker)
    }
}

fn id(s: &str) -> DelegationId {
    DelegationId::parse(s).unwrap()
}

/// The delegate (person 2) acting for the grantor (person 1) (D9).
fn on_behalf() -> Metadata {
    Metadata::new(Actor::Citizen(person(2)), "web").on_behalf_of(person(1))
}

/// Commands of every kind: registrations, a revocation, bookings (one made
/// on behalf of a grantor, in person: D12 keeps a delegate from the
/// delegations web meeting), a cancellation, a meeting joined.
async fn some_history(w: &World, prefix: &str) -> Booking {
    w.service
        .register_delegation(request(&format!("{prefix}d-1"), 1, 2), &meta(1))
        .await
        .unwrap();
    w.service
        .register_delegation(request(&format!("{prefix}d-2"), 3, 2), &meta(3))
        .await
        .unwrap();
    w.service
        .revoke_delegation(
            &person(3),
            &id(&format!("{prefix}d-2")),
            RevocationChannel::Counter,
            t0(),
            &operator(),
        )
        .await
        .unwrap();
    let booking = w
        .service
        .book(booking_at(&format!("{prefix}b-1"), 2, 0), &meta(2))
        .await
        .unwrap();
    w.service
        .book(
            in_person_booking(&format!("{prefix}b-3"), &person(1)),
            &on_behalf(),
        )
        .await
        .unwrap();
    let cancelled = w
        .service
        .book(booking_at(&format!("{prefix}b-2"), 4, 1), &meta(4))
        .await
        .unwrap();
    w.service
        .booking_command(
            &person(4),
            &cancelled.id,
            BookerCommand::Cancel {
                id: cancelled.id.clone(),
                at: t0(),
            },
            &meta(4),
        )
        .await
        .unwrap();
    booking
}

async fn join(w: &World, booking: &Booking) {
    let start = booking.slot.start;
    w.clock.set(Some(start - Duration::minutes(5)));
    for command in meeting_ready(booking, start).into_iter().take(2) {
        w.service
            .meeting_command(&booking.id, command, &operator())
            .await
            .unwrap();
    }
    w.clock.set(Some(t0()));
}

// ------------------------------------------------------------ scenarios

async fn projector_catches_up_after_a_crash_to_exactly_the_rebuild(store: Store) {
    let w = World::new(&store).await;
    // Projected live, command by command.
    w.service
        .register_delegation(request("live-1", 5, 6), &meta(5))
        .await
        .unwrap();
    w.project().await;
    let before = w.read.dump().await.unwrap();
    let projected = w.head().await;
    assert_eq!(before.checkpoint, projected);

    // Commits the projector does not see: a crash right after them, before
    // any projection (where cqrs-es's in-process queries would lose them).
    let booking = some_history(&w, "").await;
    join(&w, &booking).await;
    let head = w.head().await;
    assert!(head > projected + 8);

    // A projector that dies in the middle of its first batch: nothing of the
    // batch is visible, the checkpoint has not moved.
    let crashing = w
        .projector()
        .with_batch(4)
        .with_failpoint(Arc::new(move |p| p == projected + 3));
    assert!(crashing.catch_up().await.is_err());
    assert_eq!(
        w.read.dump().await.unwrap(),
        before,
        "an abandoned batch leaves no trace"
    );

    // One that dies in its second batch: the first one stays, whole.
    let crashing = w
        .projector()
        .with_batch(4)
        .with_failpoint(Arc::new(move |p| p == projected + 6));
    assert!(crashing.catch_up().await.is_err());
    assert_eq!(w.read.checkpoint().await.unwrap(), projected + 4);

    // The restarted projector catches up, and applying again what is
    // already applied changes nothing.
    assert_eq!(w.project().await as i64, head - projected - 4);
    let live = w.read.dump().await.unwrap();
    assert_eq!(live.checkpoint, head);
    // The dump holds the rows themselves: equal dumps below prove nothing
    // otherwise.
    for (table, rows) in [
        ("delegations", &live.delegations),
        ("bookings", &live.bookings),
        ("slot places", &live.slot_places),
        ("audit", &live.audit),
    ] {
        assert!(!rows.is_empty(), "{table}: no rows");
        assert!(rows.iter().all(|r| r.is_object()), "{table}: {rows:?}");
    }
    assert!(
        live.delegations
            .iter()
            .any(|d| d.to_string().contains("\"live-1\"")),
        "{:?}",
        live.delegations
    );
    // B4: the cancelled booking's place was given back, the other is held
    // (each place row is the last event about it, applied once).
    let held = |booking: &str| {
        live.slot_places
            .iter()
            .find(|p| p["booking"] == booking)
            .map(|p| p["held"].clone())
    };
    assert_eq!(
        held("b-1"),
        Some(serde_json::Value::Bool(true)),
        "{:?}",
        live.slot_places
    );
    assert_eq!(
        held("b-2"),
        Some(serde_json::Value::Bool(false)),
        "{:?}",
        live.slot_places
    );
    assert_eq!(w.project().await, 0);
    let outbox = w.read.outbox().await.unwrap();
    assert!(!outbox.is_empty());

    // The rebuild from the whole log gives exactly the same rows, positions
    // included, and leaves the outbox alone.
    let replayed = w.projector().rebuild().await.unwrap();
    assert_eq!(replayed as i64, head);
    assert_eq!(w.read.dump().await.unwrap(), live);
    assert_eq!(w.read.outbox().await.unwrap(), outbox);

    // What the rows say.
    let grantor_1 = w.read.delegations_by_grantor(&person(1)).await.unwrap();
    assert_eq!(grantor_1.len(), 1);
    assert_eq!(grantor_1[0].status.as_str(), "active");
    let received = w.read.delegations_by_delegate(&person(2)).await.unwrap();
    let statuses: Vec<_> = received.iter().map(|d| d.status.as_str()).collect();
    assert_eq!(statuses, ["active", "revoked"]);
    let b2 = w
        .read
        .booking(&BookingId::parse("b-2").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b2.status.as_str(), "cancelled");
    let room = w
        .read
        .waiting_room(&booking.office, booking.slot.local_date())
        .await
        .unwrap();
    assert_eq!(room.len(), 1, "the cancelled booking is not in the room");
    assert_eq!(room[0].state.as_str(), "in_call");
    assert_eq!(room[0].operator.as_deref(), Some("op-test"));
    w.dispose().await;
}

async fn rebuild_equals_a_projection_made_in_small_batches(store: Store) {
    let w = World::new(&store).await;
    // Projected after every command, in batches of one event.
    let small = w.projector().with_batch(1);
    for n in 0..3 {
        w.service
            .register_delegation(request(&format!("s-{n}"), n + 1, 0), &meta(n + 1))
            .await
            .unwrap();
        small.catch_up().await.unwrap();
    }
    // D2: the fourth is refused; refused registrations are listed nowhere.
    assert!(w
        .service
        .register_delegation(request("s-3", 4, 0), &meta(4))
        .await
        .is_err());
    small.catch_up().await.unwrap();
    let live = w.read.dump().await.unwrap();
    w.projector().rebuild().await.unwrap();
    assert_eq!(w.read.dump().await.unwrap(), live);
    assert_eq!(
        w.read
            .delegations_by_delegate(&person(0))
            .await
            .unwrap()
            .len(),
        3
    );
    let refused = w.read.delegation(&id("s-3")).await.unwrap().unwrap();
    assert_eq!(refused.status.as_str(), "refused");
    assert!(w
        .read
        .delegations_by_grantor(&person(4))
        .await
        .unwrap()
        .is_empty());
    w.dispose().await;
}

/// Projectors reading ahead while others write: every event is applied by
/// exactly one of them, once, and the result is the rebuild's.
async fn racing_projectors_apply_each_event_once(store: Store) {
    let w = World::new(&store).await;
    for n in 0..3 {
        w.service
            .register_delegation(request(&format!("r-{n}"), n + 5, 0), &meta(n + 5))
            .await
            .unwrap();
    }
    let booking = some_history(&w, "").await;
    join(&w, &booking).await;
    let head = w.head().await;
    let (one, two, three) = (
        w.projector_elsewhere().await.with_batch(1),
        w.projector_elsewhere().await.with_batch(2),
        w.projector_elsewhere().await.with_batch(3),
    );
    let (a, b, c) = tokio::join!(one.catch_up(), two.catch_up(), three.catch_up());
    let applied = a.unwrap() + b.unwrap() + c.unwrap();
    assert_eq!(applied as i64, head, "each event applied by one projector");
    // Their timings count the batches they wrote, and only those.
    let times = [one.times(), two.times(), three.times()];
    assert_eq!(times.iter().map(|t| t.events).sum::<u64>() as i64, head);
    for (t, size) in times.iter().zip([1, 2, 3]) {
        assert!(t.events <= t.batches * size, "{t:?}");
        assert!(t.total() >= t.write, "{t:?}");
    }
    let live = w.read.dump().await.unwrap();
    assert_eq!(live.checkpoint, head);
    let outbox = w.read.outbox().await.unwrap();
    w.projector().rebuild().await.unwrap();
    assert_eq!(w.read.dump().await.unwrap(), live);
    assert_eq!(w.read.outbox().await.unwrap(), outbox);
    w.dispose().await;
}

/// Readers asking for the read models at once, more of them than the pool
/// has connections, while registrations are written (the app catches up
/// before every read): no catch-up waits on another for a connection until
/// the pool gives up, and each returns with every event stored before its
/// call applied.
async fn readers_beyond_the_pool_each_see_what_was_stored_before(store: Store) {
    let w = Arc::new(World::new(&store).await);
    let projector = Arc::new(w.projector());
    let people = codes(32);
    let writer = {
        let (w, people) = (Arc::clone(&w), people.clone());
        tokio::spawn(async move {
            for k in 0..16 {
                let mut registration = request(&format!("many-{k}"), 0, 1);
                registration.grantor = people[k].clone();
                registration.delegate = people[16 + k].clone();
                let by = Metadata::new(Actor::Citizen(people[k].clone()), "web");
                w.service
                    .register_delegation(registration, &by)
                    .await
                    .unwrap();
            }
        })
    };
    let mut readers = tokio::task::JoinSet::new();
    for _ in 0..24 {
        let (w, projector) = (Arc::clone(&w), Arc::clone(&projector));
        readers.spawn(async move {
            for _ in 0..4 {
                let before = w.head().await;
                projector
                    .catch_up()
                    .await
                    .expect("a reader's catch-up ends well");
                let at = projector.checkpoint().await.unwrap();
                assert!(
                    at >= before,
                    "checkpoint {at} after a call made at {before}"
                );
            }
        });
    }
    while let Some(reader) = readers.join_next().await {
        reader.unwrap();
    }
    writer.await.unwrap();
    projector.catch_up().await.unwrap();
    assert_eq!(w.read.dump().await.unwrap().checkpoint, w.head().await);
    for grantor in &people[..16] {
        let listed = w.read.delegations_by_grantor(grantor).await.unwrap();
        assert_eq!(listed.len(), 1, "{grantor}");
    }
    drop(projector);
    let Ok(w) = Arc::try_unwrap(w) else {
        panic!("every task has ended")
    };
    w.dispose().await;
}

async fn read_models_answer_in_the_shapes_of_the_api(store: Store) {
    let w = World::new(&store).await;
    let ends_on = NaiveDate::from_ymd_opt(2027, 1, 15).unwrap();
    let mut with_end = request("d-1", 1, 2);
    with_end.ends_on = Some(ends_on);
    w.service
        .register_delegation(with_end, &meta(1))
        .await
        .unwrap();
    let booking = w
        .service
        .book(booking_at("b-1", 2, 0), &meta(2))
        .await
        .unwrap();
    // D9: a booking in person, made by the delegate for the grantor.
    w.service
        .book(in_person_booking("b-3", &person(1)), &on_behalf())
        .await
        .unwrap();
    w.project().await;

    // A delegation: D8's first day of online revocation, 30 days on.
    let d = w.read.delegation(&id("d-1")).await.unwrap().unwrap();
    assert_eq!(
        serde_json::to_value(&d).unwrap(),
        json!({
            "id": "d-1",
            "grantor": person(1).as_str(),
            "delegate": person(2).as_str(),
            "role": "ordinary",
            "channel": "online",
            "status": "active",
            "registered_at": "2026-11-30T09:00:00Z",
            "ends_on": "2027-01-15",
            "revoked_at": null,
            "revocable_online_from": "2026-12-30",
            // D11: the copy of the grantor's identity document.
            "evidence": [{"kind": "identity_document", "sha256": "a".repeat(64)}],
        })
    );
    // D7: past its end date it is expired, and no longer revocable.
    w.clock.set(Some(at("2027-01-16T09:00:00Z")));
    let expired = &w.read.delegations_by_grantor(&person(1)).await.unwrap()[0];
    assert_eq!(expired.status.as_str(), "expired");
    assert_eq!(expired.revocable_online_from, None);
    w.clock.set(Some(t0()));

    // "Le mie prenotazioni" (B7).
    let mine = w.read.bookings_of(&person(2)).await.unwrap();
    assert_eq!(mine.len(), 1);
    let shown = serde_json::to_value(&mine[0]).unwrap();
    assert_eq!(shown["id"], "b-1");
    assert_eq!(shown["status"], "confirmed");
    assert_eq!(shown["office"], "DCM NAPOLI");
    assert_eq!(shown["counter"], "deleghe-web-meeting");
    assert_eq!(shown["start"], "2026-12-01T09:00:00+01:00");
    assert_eq!(shown["end"], "2026-12-01T09:30:00+01:00");
    assert_eq!(shown["date"], "01/12/2026");
    assert_eq!(shown["time"], "09:00");
    assert_eq!(shown["meeting_state"], "scheduled");
    assert_eq!(
        shown["actions"],
        json!(["detail", "ticket", "cancel", "join_meeting"])
    );
    assert_eq!(shown["grantor"]["fiscal_code"], person(0).as_str());
    assert!(
        shown.get("access_code").is_none(),
        "the code travels by SMS only"
    );

    // The operator's list by office and day, and the slots with free places.
    let office = OfficeId::parse("DCM NAPOLI").unwrap();
    let tuesday = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    let day = w
        .read
        .bookings_by_office_day(&office, tuesday)
        .await
        .unwrap();
    assert_eq!(day.len(), 1);
    let other_day = tuesday.succ_opt().unwrap();
    assert!(w
        .read
        .bookings_by_office_day(&office, other_day)
        .await
        .unwrap()
        .is_empty());
    let slots = w
        .read
        .slot_availability(&web_counter(), tuesday, tuesday)
        .await
        .unwrap();
    assert_eq!(slots.len(), 6, "09:00 to 12:00, 30 minutes each");
    assert_eq!(
        serde_json::to_value(&slots[0]).unwrap(),
        json!({"start": "2026-12-01T09:00:00+01:00", "end": "2026-12-01T09:30:00+01:00", "free": 1})
    );
    assert!(slots[1..].iter().all(|s| s.free == 2));
    let reversed = w
        .read
        .slot_availability(&web_counter(), other_day, tuesday)
        .await;
    assert_eq!(reversed.unwrap_err().code(), "invalid_request");

    // M9: the waiting room follows the meeting.
    let room = w.read.waiting_room(&office, tuesday).await.unwrap();
    assert_eq!(room[0].state.as_str(), "scheduled");
    join(&w, &booking).await;
    w.project().await;
    let room = w.read.waiting_room(&office, tuesday).await.unwrap();
    let entry = serde_json::to_value(&room[0]).unwrap();
    assert_eq!(entry["booking_id"], "b-1");
    assert_eq!(entry["state"], "in_call");
    assert_eq!(entry["operator"], "op-test");
    assert_eq!(entry["time"], "09:00");

    // D9: the booking made by the delegate for the grantor is traced.
    let trail = w.read.audit_trail(&person(1)).await.unwrap();
    assert_eq!(trail.len(), 1, "{trail:?}");
    let line = serde_json::to_value(&trail[0]).unwrap();
    assert_eq!(line["grantor"], person(1).as_str());
    assert_eq!(line["actor"], format!("citizen:{}", person(2)));
    assert_eq!(line["action"], "BookingRequested");
    assert_eq!(line["aggregate_id"], person(1).as_str());
    assert_eq!(line["at"], "2026-11-30T09:00:00.000000Z");
    assert_eq!(line["channel"], "web");
    assert!(w.read.audit_trail(&person(2)).await.unwrap().is_empty());

    // N3: the calendar notice, once delivered, can be read, marked unread
    // and deleted, by its citizen only.
    let sms = std::env::temp_dir().join(format!("deleghe-shapes-{}.jsonl", uuid()));
    let gateways = Gateways {
        sms: Arc::new(FileSmsGateway::open(&sms).unwrap()),
        io: Arc::new(DisabledIo),
        calendar: Arc::new(NoticeCalendar::new(w.side.clone())),
    };
    Dispatcher::new(w.side.clone(), gateways)
        .with_access_codes(access_codes())
        .with_clock(w.clock.as_clock())
        .drain()
        .await
        .unwrap();
    // The booking's notice (person 2's delegations post theirs too, N7).
    let booking_notices = || async {
        let all = w.read.notices_of(&person(2)).await.unwrap();
        all.into_iter()
            .filter(|n| n.title == CALENDAR_TITLE)
            .collect::<Vec<_>>()
    };
    let notices = booking_notices().await;
    assert_eq!(notices.len(), 1);
    let notice = serde_json::to_value(&notices[0]).unwrap();
    let keys: Vec<&String> = notice.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["body", "date", "id", "read", "title"]);
    assert_eq!(notice["title"], CALENDAR_TITLE);
    assert_eq!(notice["read"], false);
    assert_eq!(notice["date"], "2026-11-30T10:00:00+01:00");
    assert!(notice["body"].as_str().unwrap().contains("3 Mb"));
    let notice_id = notices[0].id.clone();
    assert!(w
        .read
        .mark_notice_read(&person(2), &notice_id)
        .await
        .unwrap());
    assert!(booking_notices().await[0].read);
    assert!(w
        .read
        .mark_notice_unread(&person(2), &notice_id)
        .await
        .unwrap());
    assert!(!booking_notices().await[0].read);
    assert!(
        !w.read.delete_notice(&person(3), &notice_id).await.unwrap(),
        "not theirs"
    );
    assert!(w.read.delete_notice(&person(2), &notice_id).await.unwrap());
    assert!(booking_notices().await.is_empty());
    assert!(!w
        .read
        .mark_notice_unread(&person(2), &notice_id)
        .await
        .unwrap());
    // A rebuild does not bring a deleted notice back.
    w.projector().rebuild().await.unwrap();
    Dispatcher::new(
        w.side.clone(),
        Gateways {
            sms: Arc::new(FileSmsGateway::open(&sms).unwrap()),
            io: Arc::new(DisabledIo),
            calendar: Arc::new(NoticeCalendar::new(w.side.clone())),
        },
    )
    .with_access_codes(access_codes())
    .with_clock(w.clock.as_clock())
    .drain()
    .await
    .unwrap();
    assert!(booking_notices().await.is_empty());
    let _ = std::fs::remove_file(&sms);
    w.dispose().await;
}

/// The projector keeps a batch's rows in memory and writes them at the
/// batch's end: a batch in which the same rows change several times, and a
/// notification is scheduled then withdrawn, leaves what its events applied
/// one per batch leave.
async fn a_batch_leaves_what_its_events_one_by_one_leave(store: Store) {
    use deleghe::domain::notification::keys;

    let w = World::new(&store).await;
    // A delegation requested and registered.
    w.service
        .register_delegation(request("d-1", 1, 2), &meta(1))
        .await
        .unwrap();
    // A booking requested and confirmed, then its meeting joined; another,
    // in person, on behalf of the grantor while the delegation is active:
    // audited, and told to the grantor (N7).
    let joined = w
        .service
        .book(booking_at("b-1", 2, 0), &meta(2))
        .await
        .unwrap();
    join(&w, &joined).await;
    w.service
        .book(in_person_booking("b-3", &person(1)), &on_behalf())
        .await
        .unwrap();
    // The delegation revoked.
    w.service
        .revoke_delegation(
            &person(1),
            &id("d-1"),
            RevocationChannel::Counter,
            t0(),
            &operator(),
        )
        .await
        .unwrap();
    // A booking confirmed, then cancelled: its reminder is scheduled and
    // withdrawn by the same batch.
    let cancelled = w
        .service
        .book(booking_at("b-2", 4, 1), &meta(4))
        .await
        .unwrap();
    w.service
        .booking_command(
            &person(4),
            &cancelled.id,
            BookerCommand::Cancel {
                id: cancelled.id.clone(),
                at: t0(),
            },
            &meta(4),
        )
        .await
        .unwrap();
    let head = w.head().await;
    let state = || async { (w.read.dump().await.unwrap(), w.read.outbox().await.unwrap()) };

    assert_eq!(
        w.projector().with_batch(1).catch_up().await.unwrap() as i64,
        head
    );
    let one_by_one = state().await;

    // What the comparison is about, so that it cannot pass on empty rows.
    let (dump, outbox) = &one_by_one;
    assert_eq!(dump.audit.len(), 1);
    let status = |key: String| {
        outbox
            .iter()
            .find(|e| e.key == key)
            .unwrap_or_else(|| panic!("{key} is in the outbox"))
            .status
            .clone()
    };
    assert_eq!(
        status(keys::booking_reminder_sms(&cancelled.id)),
        "withdrawn"
    );
    assert_eq!(status(keys::booking_reminder_sms(&joined.id)), "pending");
    assert_eq!(
        status("booking:b-3:acted-for:requested:calendar".to_owned()),
        "pending"
    );
    let d1 = w.read.delegation(&id("d-1")).await.unwrap().unwrap();
    assert_eq!(d1.status.as_str(), "revoked");
    let room = w
        .read
        .waiting_room(&joined.office, joined.slot.local_date())
        .await
        .unwrap();
    assert_eq!(room[0].state.as_str(), "in_call");

    // The whole log in one batch.
    forget_the_projection(&w, true).await;
    assert!(head < 256);
    assert_eq!(w.projector().step().await.unwrap() as i64, head);
    assert_eq!(state().await, one_by_one, "one batch");

    // Batches of three: a batch reads the rows the one before it wrote.
    forget_the_projection(&w, true).await;
    w.projector().with_batch(3).catch_up().await.unwrap();
    assert_eq!(state().await, one_by_one, "batches of three");

    // The whole log again, in one batch, on top of its own effect.
    forget_the_projection(&w, false).await;
    w.projector().catch_up().await.unwrap();
    assert_eq!(state().await, one_by_one, "applied twice");

    // The log's first events again, on top of rows that applied more: a
    // batch that starts a row (here d-1, requested) does not read it, so
    // only the write-back's position guard keeps the revoked row from
    // going back to pending.
    forget_the_projection(&w, false).await;
    assert_eq!(w.projector().with_batch(2).step().await.unwrap(), 2);
    let d1 = w.read.delegation(&id("d-1")).await.unwrap().unwrap();
    assert_eq!(d1.status.as_str(), "revoked", "a newer row is kept");
    w.projector().catch_up().await.unwrap();
    assert_eq!(state().await, one_by_one, "the start applied again");
    w.dispose().await;
}

/// Moves the projector's checkpoint back to the start, and with `rows`
/// empties the read models and the outbox, as if nothing had been projected.
async fn forget_the_projection(w: &World, rows: bool) {
    use deleghe::adapters::sqlx;
    let mut statements = vec!["UPDATE read_checkpoints SET position = 0"];
    if rows {
        statements.extend([
            "DELETE FROM read_delegations",
            "DELETE FROM read_bookings",
            "DELETE FROM read_slot_places",
            "DELETE FROM read_audit",
            "DELETE FROM outbox",
        ]);
    }
    for sql in statements {
        if let Some(pool) = w.repository.sqlite_pool() {
            sqlx::query(sql).execute(pool).await.unwrap();
        } else {
            let pool = w.repository.postgres_pool().expect("an SQL store");
            sqlx::query(sql).execute(pool).await.unwrap();
        }
    }
}

/// PostgreSQL only: a transaction that wrote an event and stays open while
/// later events commit is waited for, never skipped.
async fn projector_waits_for_a_slow_writer(store: Store) {
    use deleghe::adapters::sqlx;
    use deleghe::domain::delegation::{Channel, GrantorEvent, Role};

    let w = World::new(&store).await;
    let pool = w
        .repository
        .postgres_pool()
        .expect("a PostgreSQL store")
        .clone();
    w.service
        .register_delegation(request("early", 1, 2), &meta(1))
        .await
        .unwrap();
    w.project().await;

    // A slow writer: one event written, its transaction left open.
    let slow_event = GrantorEvent::DelegationRequested {
        id: id("slow"),
        grantor: person(5),
        delegate: person(6),
        role: Role::Ordinary,
        channel: Channel::Online,
        ends_on: None,
        meeting: None,
        evidence: Default::default(),
        at: t0(),
    };
    let metadata = Metadata::new(Actor::Citizen(person(5)), "web").to_map();
    let mut slow = pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
         payload, metadata) VALUES ('grantor', $1, 1, 'DelegationRequested', '1.0', $2, $3)",
    )
    .bind(person(5).as_str())
    .bind(serde_json::to_value(&slow_event).unwrap())
    .bind(serde_json::to_value(&metadata).unwrap())
    .execute(&mut *slow)
    .await
    .unwrap();
    let held: Option<i64> =
        sqlx::query_scalar("SELECT position FROM events WHERE aggregate_id = $1")
            .bind(person(5).as_str())
            .fetch_one(&mut *slow)
            .await
            .unwrap();

    // Later events commit meanwhile, and the projector runs.
    w.service
        .register_delegation(request("later", 3, 4), &meta(3))
        .await
        .unwrap();
    w.project().await;
    let checkpoint = w.read.checkpoint().await.unwrap();
    if let Some(held) = held {
        // A position handed out at insert: the projector must stop below it.
        assert!(
            checkpoint < held,
            "the projector went past an open transaction"
        );
    } else {
        // Positions are handed out at commit, in commit order: the later
        // events are before the slow one in the log, which is not there yet.
        assert!(w.read.delegation(&id("later")).await.unwrap().is_some());
    }
    assert!(w.read.delegation(&id("slow")).await.unwrap().is_none());

    // The slow writer commits: its event comes after the checkpoint, and
    // the projector applies it.
    slow.commit().await.unwrap();
    w.project().await;
    let slow_row = w.read.delegation(&id("slow")).await.unwrap();
    assert_eq!(
        slow_row.expect("the slow event is applied").status.as_str(),
        "pending"
    );
    assert!(w.read.delegation(&id("later")).await.unwrap().is_some());
    assert_eq!(w.read.checkpoint().await.unwrap(), w.head().await);
    let live = w.read.dump().await.unwrap();
    w.projector().rebuild().await.unwrap();
    assert_eq!(w.read.dump().await.unwrap(), live, "no event was skipped");
    w.dispose().await;
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A unique suffix for temporary files.
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

// On two worker threads, so that racing projectors run at the same time.
macro_rules! on_every_store {
    ($($name:ident),*) => {
        mod memory {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
              async fn $name() { super::$name(super::Store::Memory).await; })*
        }
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
              async fn $name() { super::$name(super::Store::Sqlite).await; })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
              async fn $name() {
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

on_every_store!(
    projector_catches_up_after_a_crash_to_exactly_the_rebuild,
    racing_projectors_apply_each_event_once,
    readers_beyond_the_pool_each_see_what_was_stored_before,
    rebuild_equals_a_projection_made_in_small_batches,
    read_models_answer_in_the_shapes_of_the_api
);

/// The stores whose read side a test can reach with SQL.
mod sqlite_and_postgres {
    #[tokio::test]
    async fn a_batch_leaves_what_its_events_one_by_one_leave() {
        super::a_batch_leaves_what_its_events_one_by_one_leave(super::Store::Sqlite).await;
    }

    #[tokio::test]
    async fn a_batch_leaves_what_its_events_one_by_one_leave_on_postgres() {
        if let Some(store) = super::postgres_store() {
            super::a_batch_leaves_what_its_events_one_by_one_leave(store).await;
        }
    }
}

mod postgres_only {
    #[tokio::test]
    async fn projector_waits_for_a_slow_writer() {
        if let Some(store) = super::postgres_store() {
            super::projector_waits_for_a_slow_writer(store).await;
        }
    }
}
