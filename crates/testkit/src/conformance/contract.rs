//! The store-agnostic contract: what every store keeps and gives back,
//! optimistic-concurrency conflicts, D1, D2 and B4 under concurrent
//! requests, the log in commit order, checkpoints across a reconnect, and
//! old event versions read through the upcasters.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use cqrs_es::persist::{PersistedEventRepository, PersistenceError, SerializedEvent};
use cqrs_es::Aggregate;
use deleghe_adapters::runner::FlowRunner;
use deleghe_adapters::{Actor, Deleghe, Metadata, Repository, ServiceError};
use deleghe_domain::booking::{
    slot_key, AccessCodeDigest, Booker, BookingId, BookingStage, GrantorDetails, RequestBooking,
    SlotLedger,
};
use deleghe_domain::delegation::{
    Channel, Delegate, DelegationId, Grantor, RequestDelegation, RevocationChannel, Stage,
};
use deleghe_domain::meeting::{Meeting, MeetingBooking, MeetingCommand};
use deleghe_domain::pin::{PinAccount, PinCommand, PinHash, PinValidity};
use deleghe_domain::schedule::Slot;
use deleghe_domain::{FiscalCode, Policy};
use serde_json::json;

use super::Stores;
use crate::fixtures::{
    delegation_request, person, raw_event, t0, tuesday_9 as slot_start, web_booking_for,
    web_counter,
};
use crate::store::StoreUnderTest;

/// The service every case runs, its clock stopped at [`t0`].
fn rules(repository: Repository) -> Deleghe {
    Deleghe::new(repository, Policy::default()).with_clock(Arc::new(t0))
}

fn citizen(who: &FiscalCode, correlation: &str) -> Metadata {
    Metadata::new(Actor::Citizen(who.clone()), "web").with_correlation_id(correlation)
}

fn operator(correlation: &str) -> Metadata {
    Metadata::new(Actor::Operator("op-napoli-01".into()), "counter")
        .with_correlation_id(correlation)
}

fn delegation(n: usize, grantor: &FiscalCode, delegate: &FiscalCode) -> RequestDelegation {
    delegation_request(&format!("d-{n}"), grantor, delegate, t0())
}

/// The grantor named in every web-meeting booking (never one of the bookers).
fn meeting_grantor() -> GrantorDetails {
    GrantorDetails::new(person(279), "Mario", "Rossi").unwrap()
}

fn booking(n: usize, booker: &FiscalCode) -> RequestBooking {
    web_booking_for(&format!("b-{n}"), booker, &person(279))
}

fn the_slot() -> Slot {
    web_counter()
        .offers(slot_start())
        .expect("the counter offers it")
}

fn the_slot_key() -> String {
    slot_key(&web_counter().id, &the_slot())
}

async fn stored<A: Aggregate>(repository: &Repository, id: &str) -> Vec<SerializedEvent> {
    repository.get_events::<A>(id).await.unwrap()
}

fn count(events: &[SerializedEvent], event_type: &str) -> usize {
    events.iter().filter(|e| e.event_type == event_type).count()
}

/// D9 and the audit trail: who, through which channel, in which flow.
fn assert_metadata(events: &[SerializedEvent], correlation: &str) {
    assert!(!events.is_empty());
    for e in events {
        let m = &e.metadata;
        assert!(m["actor"].as_str().is_some_and(|a| !a.is_empty()), "{e:?}");
        assert!(
            m["channel"].as_str().is_some_and(|c| !c.is_empty()),
            "{e:?}"
        );
        assert_eq!(m["correlation_id"], json!(correlation), "{e:?}");
    }
}

// ------------------------------------------------------------------ round trips

/// Runs `scenario` on the store and on the in-memory reference; the state
/// reloaded through a second connection must equal the reference's.
async fn against_reference<F, Fut>(
    store: &StoreUnderTest,
    scenario: F,
) -> (Deleghe, Deleghe, Deleghe)
where
    F: Fn(Arc<Deleghe>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let on_store = Arc::new(rules(store.connect().await));
    let reference = Arc::new(rules(Repository::memory()));
    scenario(on_store.clone()).await;
    scenario(reference.clone()).await;
    let reloaded = rules(store.connect().await);
    (
        Arc::into_inner(on_store).unwrap(),
        Arc::into_inner(reference).unwrap(),
        reloaded,
    )
}

pub(super) async fn grantor_and_delegate_round_trip(stores: &Stores) {
    let store = &stores.fresh().await;
    let (grantor, delegate) = (person(0), person(1));
    let scenario = |rules: Arc<Deleghe>| {
        let (grantor, delegate) = (grantor.clone(), delegate.clone());
        async move {
            let request = delegation(1, &grantor, &delegate);
            let d = rules
                .register_delegation(request, &citizen(&grantor, "c-register"))
                .await
                .unwrap();
            assert_eq!(d.stage, Stage::Active);
            let id = DelegationId::parse("d-1").unwrap();
            let at = t0() + Duration::hours(1);
            let revoked = rules
                .revoke_delegation(
                    &grantor,
                    &id,
                    RevocationChannel::Counter,
                    at,
                    &operator("c-revoke"),
                )
                .await
                .unwrap();
            assert!(matches!(revoked.stage, Stage::Revoked { .. }));
        }
    };
    let (on_store, reference, reloaded) = against_reference(store, scenario).await;
    assert_eq!(
        reloaded.grantor(&grantor).await.unwrap(),
        reference.grantor(&grantor).await.unwrap()
    );
    assert_eq!(
        reloaded.delegate(&delegate).await.unwrap(),
        reference.delegate(&delegate).await.unwrap()
    );
    assert_eq!(
        on_store.grantor(&grantor).await.unwrap(),
        reference.grantor(&grantor).await.unwrap()
    );

    let repository = reloaded.repository();
    let grantor_events = stored::<Grantor>(repository, grantor.as_str()).await;
    let types: Vec<&str> = grantor_events
        .iter()
        .map(|e| e.event_type.as_str())
        .collect();
    assert_eq!(
        types,
        [
            "DelegationRequested",
            "DelegationRegistered",
            "DelegationRevoked"
        ]
    );
    assert_metadata(&grantor_events[..2], "c-register");
    assert_metadata(&grantor_events[2..], "c-revoke");
    assert_eq!(
        grantor_events[0].metadata["actor"],
        json!(format!("citizen:{grantor}"))
    );
    assert_eq!(grantor_events[0].metadata["channel"], json!("web"));
    assert_eq!(
        grantor_events[2].metadata["actor"],
        json!("operator:op-napoli-01")
    );
    let delegate_events = stored::<Delegate>(repository, delegate.as_str()).await;
    let types: Vec<&str> = delegate_events
        .iter()
        .map(|e| e.event_type.as_str())
        .collect();
    assert_eq!(types, ["SeatReserved", "SeatReleased"]);
    assert_metadata(&delegate_events[..1], "c-register");
    assert_metadata(&delegate_events[1..], "c-revoke");
}

pub(super) async fn booker_and_slot_round_trip(stores: &Stores) {
    let store = &stores.fresh().await;
    let booker = person(2);
    let scenario = |rules: Arc<Deleghe>| {
        let booker = booker.clone();
        async move {
            let b = rules
                .book(booking(1, &booker), &citizen(&booker, "c-book"))
                .await
                .unwrap();
            assert_eq!(b.stage, BookingStage::Confirmed);
        }
    };
    let (_, reference, reloaded) = against_reference(store, scenario).await;
    let key = the_slot_key();
    assert_eq!(
        reloaded.booker(&booker).await.unwrap(),
        reference.booker(&booker).await.unwrap()
    );
    assert_eq!(
        reloaded.slot(&key).await.unwrap(),
        reference.slot(&key).await.unwrap()
    );
    assert_eq!(reloaded.slot(&key).await.unwrap().taken(), 1);

    let repository = reloaded.repository();
    let booker_events = stored::<Booker>(repository, booker.as_str()).await;
    assert_eq!(count(&booker_events, "BookingRequested"), 1);
    assert_eq!(count(&booker_events, "BookingConfirmed"), 1);
    assert_metadata(&booker_events, "c-book");
    let slot_events = stored::<SlotLedger>(repository, &key).await;
    assert_eq!(count(&slot_events, "PlaceReserved"), 1);
    assert_metadata(&slot_events, "c-book");
}

pub(super) async fn meeting_round_trip(stores: &Stores) {
    let store = &stores.fresh().await;
    let booker = person(3);
    let id = BookingId::parse("b-meeting").unwrap();
    let scenario = |rules: Arc<Deleghe>| {
        let (booker, id) = (booker.clone(), id.clone());
        async move {
            let join = MeetingCommand::Join {
                booking: MeetingBooking {
                    booking_id: id.clone(),
                    booker: booker.clone(),
                    grantor: meeting_grantor(),
                    slot: the_slot(),
                    access_code: Some(AccessCodeDigest::from_bytes(&[7; 32])),
                    active: true,
                },
                code: AccessCodeDigest::from_bytes(&[7; 32]),
                at: slot_start(),
            };
            rules
                .meeting_command(&id, join, &citizen(&booker, "c-meeting"))
                .await
                .unwrap();
            let take = MeetingCommand::TakeInCharge {
                operator: "op-napoli-01".into(),
                at: slot_start() + Duration::minutes(2),
            };
            rules
                .meeting_command(&id, take, &operator("c-meeting"))
                .await
                .unwrap();
        }
    };
    let (_, reference, reloaded) = against_reference(store, scenario).await;
    let meeting = reloaded.meeting(&id).await.unwrap();
    assert_eq!(meeting, reference.meeting(&id).await.unwrap());
    assert_eq!(meeting.operator(), Some("op-napoli-01"));
    let events = stored::<Meeting>(reloaded.repository(), id.as_str()).await;
    assert_eq!(events.len(), 2);
    assert_metadata(&events, "c-meeting");
}

pub(super) async fn pin_account_round_trip(stores: &Stores) {
    let store = &stores.fresh().await;
    let who = person(4);
    let hash = PinHash::new("7KQ2MX9P4T", &[7; 16]).unwrap();
    let scenario = |rules: Arc<Deleghe>| {
        let (who, hash) = (who.clone(), hash.clone());
        async move {
            let meta = citizen(&who, "c-pin");
            let issue = PinCommand::IssuePin {
                citizen: who.clone(),
                pin_hash: hash,
                validity: PinValidity::OneWeek,
                at: t0(),
                by: meta.issuer(),
            };
            rules.pin_command(&who, issue, &meta).await.unwrap();
            let wrong = PinCommand::VerifyPin {
                pin: "WRONG2WRNG".into(),
                at: t0() + Duration::minutes(5),
            };
            rules
                .pin_command(&who, wrong, &operator("c-pin"))
                .await
                .unwrap();
        }
    };
    let (_, reference, reloaded) = against_reference(store, scenario).await;
    let account = reloaded.pin_account(&who).await.unwrap();
    assert_eq!(account, reference.pin_account(&who).await.unwrap());
    assert_eq!(account.failures(), 1);
    let events = stored::<PinAccount>(reloaded.repository(), who.as_str()).await;
    assert_eq!(events.len(), 2);
    assert_metadata(&events, "c-pin");
}

pub(super) async fn appends_at_a_taken_sequence_are_conflicts(stores: &Stores) {
    let store = &stores.fresh().await;
    let repository = store.connect().await;
    let first = [raw_event(PinAccount::TYPE, "X", 1, json!({"n": 1}))];
    repository
        .persist::<PinAccount>(&first, None)
        .await
        .unwrap();
    let second = [raw_event(PinAccount::TYPE, "X", 1, json!({"n": 2}))];
    let error = repository
        .persist::<PinAccount>(&second, None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, PersistenceError::OptimisticLockError),
        "{error:?}"
    );
    // All or nothing: a batch with one taken sequence stores none of it.
    let batch = [
        raw_event(PinAccount::TYPE, "X", 2, json!({"n": 3})),
        raw_event(PinAccount::TYPE, "X", 1, json!({"n": 4})),
    ];
    let error = repository
        .persist::<PinAccount>(&batch, None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, PersistenceError::OptimisticLockError),
        "{error:?}"
    );
    let events = stored::<PinAccount>(&repository, "X").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].payload, json!({"n": 1}));
}

/// An append may span streams (D12: an action on a grantor's behalf and its
/// guard on the grantor's stream): one taken sequence in any of them stores
/// none of it, and both stay as they were.
pub(super) async fn an_append_across_streams_is_all_or_nothing(stores: &Stores) {
    let store = &stores.fresh().await;
    let repository = store.connect().await;
    repository
        .persist::<PinAccount>(&[raw_event(Grantor::TYPE, "G", 1, json!({"n": 1}))], None)
        .await
        .unwrap();
    let taken = [
        raw_event(Booker::TYPE, "B", 1, json!({"n": 2})),
        raw_event(Grantor::TYPE, "G", 1, json!({"n": 3})),
    ];
    let error = repository
        .persist::<Booker>(&taken, None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, PersistenceError::OptimisticLockError),
        "{error:?}"
    );
    assert!(stored::<Booker>(&repository, "B").await.is_empty());
    assert_eq!(stored::<Grantor>(&repository, "G").await.len(), 1);
    let free = [
        raw_event(Booker::TYPE, "B", 1, json!({"n": 2})),
        raw_event(Grantor::TYPE, "G", 2, json!({"n": 3})),
    ];
    repository.persist::<Booker>(&free, None).await.unwrap();
    assert_eq!(stored::<Booker>(&repository, "B").await.len(), 1);
    assert_eq!(stored::<Grantor>(&repository, "G").await.len(), 2);
    // One position each, in the order given.
    let log = repository.read_log(0, 10).await.unwrap();
    let order: Vec<_> = log
        .iter()
        .map(|p| (p.event.aggregate_type.as_str(), p.event.sequence))
        .collect();
    assert_eq!(
        order,
        [(Grantor::TYPE, 1), (Booker::TYPE, 1), (Grantor::TYPE, 2)]
    );
}

/// ADR 0019: streams read together (one round trip on the SQL stores) are
/// each what a load of it alone reads, in the order asked, whatever their
/// types, ids and lengths.
pub(super) async fn streams_read_together_are_each_as_read_alone(stores: &Stores) {
    let store = &stores.fresh().await;
    let repository = store.connect().await;
    let rows = [
        raw_event(Grantor::TYPE, "G", 1, json!({"n": 1})),
        raw_event(Grantor::TYPE, "G", 2, json!({"n": 2})),
        raw_event(Delegate::TYPE, "D", 1, json!({"n": 3})),
        // The same id under another type is another stream.
        raw_event(Booker::TYPE, "G", 1, json!({"n": 4})),
        raw_event(Booker::TYPE, "G", 2, json!({"n": 5})),
        raw_event(Booker::TYPE, "G", 3, json!({"n": 6})),
    ];
    repository.persist::<Grantor>(&rows, None).await.unwrap();
    let (g, d, b) = (
        stored::<Grantor>(&repository, "G").await,
        stored::<Delegate>(&repository, "D").await,
        stored::<Booker>(&repository, "G").await,
    );
    assert_eq!((g.len(), d.len(), b.len()), (2, 1, 3));
    let read = |streams: Vec<(&'static str, &'static str)>| {
        let repository = repository.clone();
        async move { repository.read_streams(&streams).await.unwrap() }
    };
    assert_eq!(
        read(vec![(Grantor::TYPE, "G"), (Delegate::TYPE, "D")]).await,
        [g.clone(), d.clone()]
    );
    assert_eq!(
        read(vec![(Delegate::TYPE, "D"), (Grantor::TYPE, "G")]).await,
        [d.clone(), g.clone()]
    );
    assert_eq!(
        read(vec![(Booker::TYPE, "G"), (Grantor::TYPE, "G")]).await,
        [b.clone(), g.clone()]
    );
    assert_eq!(
        read(vec![(Grantor::TYPE, "none"), (Delegate::TYPE, "D")]).await,
        [vec![], d.clone()]
    );
    assert_eq!(
        read(vec![(Grantor::TYPE, "G"), (Grantor::TYPE, "G")]).await,
        [g.clone(), g.clone()]
    );
    assert_eq!(
        read(vec![
            (Booker::TYPE, "G"),
            (Delegate::TYPE, "D"),
            (Grantor::TYPE, "G")
        ])
        .await,
        [b, d, g.clone()]
    );
    assert_eq!(read(vec![(Grantor::TYPE, "G")]).await, [g]);
    assert!(read(vec![]).await.is_empty());
}

pub(super) async fn conflicts_beyond_the_retries_are_reported_as_conflict(stores: &Stores) {
    let store = &stores.fresh().await;
    let rules = Arc::new(rules(store.connect().await).with_max_attempts(1));
    let hash = PinHash::new("7KQ2MX9P4T", &[9; 16]).unwrap();
    // Racers that all load the same version: the store lets one append at a
    // time and the rest find their sequence taken. A round in which the
    // scheduler happens to run them one after another shows nothing, so
    // rounds are allowed until one conflicts: on the in-memory store a
    // command takes microseconds and two workers overlap in few rounds
    // (five rounds once saw none); on the SQL stores the first round does.
    for round in 0..50 {
        let who = person(10 + round);
        let tasks: Vec<_> = (0..16i64)
            .map(|n| {
                let (rules, who, hash) = (rules.clone(), who.clone(), hash.clone());
                tokio::spawn(async move {
                    let meta = citizen(&who, "c-race");
                    let issue = PinCommand::IssuePin {
                        citizen: who.clone(),
                        pin_hash: hash,
                        validity: PinValidity::OneWeek,
                        at: t0() + Duration::seconds(n),
                        by: meta.issuer(),
                    };
                    rules.pin_command(&who, issue, &meta).await
                })
            })
            .collect();
        let mut stored_ok = 0;
        let mut conflicts = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => stored_ok += 1,
                Err(e) => {
                    assert!(matches!(e, ServiceError::Conflict), "{e:?}");
                    assert_eq!(e.code(), "conflict");
                    conflicts += 1;
                }
            }
        }
        assert!(stored_ok >= 1);
        let events = stored::<PinAccount>(rules.repository(), who.as_str()).await;
        assert_eq!(
            events.len(),
            stored_ok,
            "every success stored, every conflict not"
        );
        if conflicts > 0 {
            return;
        }
    }
    panic!("16 racers on one stream with a single attempt each never conflicted in 50 rounds");
}

// ------------------------------------------------------------------ concurrency

pub(super) async fn d2_32_grantors_to_one_delegate_with_cap_3(stores: &Stores) {
    let store = &stores.fresh().await;
    let rules = Arc::new(rules(store.connect().await));
    let delegate = person(200);
    let tasks: Vec<_> = (0..32)
        .map(|n| {
            let (rules, delegate) = (rules.clone(), delegate.clone());
            tokio::spawn(async move {
                let grantor = person(n);
                let request = delegation(n, &grantor, &delegate);
                let result = rules
                    .register_delegation(request, &citizen(&grantor, &format!("c-{n}")))
                    .await;
                (grantor, result)
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut losers = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (grantor, Ok(d)) => {
                assert_eq!(d.stage, Stage::Active);
                winners.push(grantor);
            }
            (grantor, Err(e)) => {
                assert_eq!(e.code(), "delegate_cap_reached", "{e:?}");
                losers.push(grantor);
            }
        }
    }
    assert_eq!(winners.len(), 3);
    assert_eq!(losers.len(), 29);

    // The stored events agree: a seat for each winner, none left for the
    // others (each refused flow closes its seat, so that a replayed
    // reservation cannot take it later).
    // Steps an answered request left undone (a lost race on the clean-up
    // write) are the runner's: let it catch up, then the log must agree.
    catch_up(&rules).await;
    let repository = rules.repository();
    let seats = stored::<Delegate>(repository, delegate.as_str()).await;
    assert_eq!(count(&seats, "SeatReserved"), 3);
    assert_eq!(
        rules
            .delegate(&delegate)
            .await
            .unwrap()
            .ordinary_seats(t0()),
        3
    );
    let grantors_of = |event_type: &str| -> Vec<String> {
        let mut grantors: Vec<String> = seats
            .iter()
            .filter(|e| e.event_type == event_type)
            .map(|e| {
                e.payload[event_type]["grantor"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        grantors.sort();
        grantors
    };
    let sorted = |people: &[FiscalCode]| -> Vec<String> {
        let mut people: Vec<String> = people.iter().map(ToString::to_string).collect();
        people.sort();
        people
    };
    assert_eq!(grantors_of("SeatReserved"), sorted(&winners));
    assert_eq!(grantors_of("SeatReleased"), sorted(&losers));
    for grantor in &winners {
        let events = stored::<Grantor>(repository, grantor.as_str()).await;
        assert_eq!(count(&events, "DelegationRegistered"), 1);
    }
    for grantor in &losers {
        let state = rules.grantor(grantor).await.unwrap();
        let [d] = state.delegations() else {
            panic!("one delegation per grantor");
        };
        assert!(
            matches!(&d.stage, Stage::Refused { reason, .. } if reason == "delegate_cap_reached"),
            "{d:?}"
        );
        let events = stored::<Grantor>(repository, grantor.as_str()).await;
        assert_eq!(count(&events, "DelegationRefused"), 1);
        assert_eq!(count(&events, "DelegationRegistered"), 0);
    }
}

pub(super) async fn d1_16_delegates_for_one_grantor(stores: &Stores) {
    let store = &stores.fresh().await;
    let rules = Arc::new(rules(store.connect().await));
    let grantor = person(100);
    let tasks: Vec<_> = (0..16)
        .map(|n| {
            let (rules, grantor) = (rules.clone(), grantor.clone());
            tokio::spawn(async move {
                let request = delegation(n, &grantor, &person(n));
                rules
                    .register_delegation(request, &citizen(&grantor, &format!("c-{n}")))
                    .await
            })
        })
        .collect();
    let mut successes = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(d) => {
                assert_eq!(d.stage, Stage::Active);
                successes += 1;
            }
            Err(e) => assert_eq!(e.code(), "grantor_already_has_delegate", "{e:?}"),
        }
    }
    assert_eq!(successes, 1);

    let repository = rules.repository();
    let events = stored::<Grantor>(repository, grantor.as_str()).await;
    assert_eq!(count(&events, "DelegationRequested"), 1);
    assert_eq!(count(&events, "DelegationRegistered"), 1);
    let state = rules.grantor(&grantor).await.unwrap();
    assert_eq!(state.delegations().len(), 1);
    let mut seats = 0;
    for n in 0..16 {
        seats += stored::<Delegate>(repository, person(n).as_str())
            .await
            .len();
    }
    assert_eq!(seats, 1, "only the winner's delegate holds a seat");
}

pub(super) async fn b4_32_bookings_for_a_slot_of_capacity_2(stores: &Stores) {
    let store = &stores.fresh().await;
    assert_eq!(web_counter().capacity(), 2);
    let rules = Arc::new(rules(store.connect().await));
    let tasks: Vec<_> = (0..32)
        .map(|n| {
            let rules = rules.clone();
            tokio::spawn(async move {
                let booker = person(n);
                let result = rules
                    .book(booking(n, &booker), &citizen(&booker, &format!("c-{n}")))
                    .await;
                (booker, result)
            })
        })
        .collect();
    let mut confirmed = Vec::new();
    let mut refused = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (booker, Ok(b)) => {
                assert_eq!(b.stage, BookingStage::Confirmed);
                confirmed.push(booker);
            }
            (booker, Err(e)) => {
                assert_eq!(e.code(), "slot_full", "{e:?}");
                refused.push(booker);
            }
        }
    }
    assert_eq!(confirmed.len(), 2);
    assert_eq!(refused.len(), 30);

    catch_up(&rules).await;
    let repository = rules.repository();
    let key = the_slot_key();
    let places = stored::<SlotLedger>(repository, &key).await;
    let bookers_of = |event_type: &str| -> Vec<String> {
        let mut bookers: Vec<String> = places
            .iter()
            .filter(|e| e.event_type == event_type)
            .map(|e| e.payload[event_type]["booker"].as_str().unwrap().to_owned())
            .collect();
        bookers.sort();
        bookers
    };
    let sorted = |people: &[FiscalCode]| -> Vec<String> {
        let mut people: Vec<String> = people.iter().map(ToString::to_string).collect();
        people.sort();
        people
    };
    // A place for each confirmed booking; each refused one closed.
    assert_eq!(bookers_of("PlaceReserved"), sorted(&confirmed));
    assert_eq!(bookers_of("PlaceReleased"), sorted(&refused));
    assert_eq!(rules.slot(&key).await.unwrap().taken(), 2);
    for booker in &refused {
        let state = rules.booker(booker).await.unwrap();
        let [b] = state.bookings() else {
            panic!("one booking per booker");
        };
        assert!(
            matches!(&b.stage, BookingStage::Refused { reason, .. } if reason == "slot_full"),
            "{b:?}"
        );
    }
}

// ------------------------------------------------------------------ the log

pub(super) async fn the_log_is_every_event_in_commit_order(stores: &Stores) {
    let store = &stores.fresh().await;
    let rules = Arc::new(rules(store.connect().await));
    let delegates = [person(200), person(201)];
    let mut tasks = Vec::new();
    for n in 0..8 {
        let (rules, delegate) = (rules.clone(), delegates[n % 2].clone());
        tasks.push(tokio::spawn(async move {
            let grantor = person(n);
            let request = delegation(n, &grantor, &delegate);
            let _ = rules
                .register_delegation(request, &citizen(&grantor, "c-log"))
                .await;
        }));
    }
    for n in 8..12 {
        let rules = rules.clone();
        tasks.push(tokio::spawn(async move {
            let booker = person(n);
            let _ = rules
                .book(booking(n, &booker), &citizen(&booker, "c-log"))
                .await;
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }

    let repository = rules.repository();
    let log = repository.read_log(0, 10_000).await.unwrap();
    let positions: Vec<i64> = log.iter().map(|p| p.position).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    // Positions are handed out at commit with no gaps on every store.
    assert_eq!(positions, (1..=log.len() as i64).collect::<Vec<_>>());

    // Exactly the events of every stream, each stream in its own order.
    let mut streams: BTreeMap<(String, String), Vec<SerializedEvent>> = BTreeMap::new();
    for p in &log {
        let key = (p.event.aggregate_type.clone(), p.event.aggregate_id.clone());
        streams.entry(key).or_default().push(p.event.clone());
    }
    let mut expected = 0;
    for n in 0..12 {
        let who = person(n);
        let (kind, events) = if n < 8 {
            ("grantor", stored::<Grantor>(repository, who.as_str()).await)
        } else {
            ("booker", stored::<Booker>(repository, who.as_str()).await)
        };
        expected += events.len();
        assert_eq!(streams[&(kind.to_owned(), who.to_string())], events);
    }
    for delegate in &delegates {
        let events = stored::<Delegate>(repository, delegate.as_str()).await;
        expected += events.len();
        assert_eq!(
            streams[&("delegate".to_owned(), delegate.to_string())],
            events
        );
    }
    let key = the_slot_key();
    let events = stored::<SlotLedger>(repository, &key).await;
    expected += events.len();
    assert_eq!(streams[&("slot".to_owned(), key)], events);
    assert_eq!(log.len(), expected);

    // Read in pages from a checkpoint, it is the same log.
    let mut paged = Vec::new();
    let mut after = 0;
    loop {
        let page = repository.read_log(after, 7).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.position;
        paged.extend(page);
    }
    assert_eq!(paged, log);
}

pub(super) async fn checkpoints_survive_a_reconnect(stores: &Stores) {
    let store = &stores.fresh().await;
    let repository = store.connect().await;
    assert_eq!(repository.checkpoint("runner").await.unwrap(), 0);
    repository.save_checkpoint("runner", 5).await.unwrap();
    repository.save_checkpoint("projector", 9).await.unwrap();
    drop(repository);

    let again = store.connect().await;
    assert_eq!(again.checkpoint("runner").await.unwrap(), 5);
    assert_eq!(again.checkpoint("projector").await.unwrap(), 9);
    again.save_checkpoint("runner", 12).await.unwrap();
    assert_eq!(again.checkpoint("runner").await.unwrap(), 12);
    assert_eq!(again.checkpoint("nobody").await.unwrap(), 0);
}

// ------------------------------------------------------------------ schema evolution

pub(super) async fn an_old_event_version_loads_through_the_upcasters(stores: &Stores) {
    let store = &stores.fresh().await;
    let repository = store.connect().await;
    let (grantor, delegate) = (person(5), person(6));
    // As version 0.9 stored it: no channel (always the counter then), and
    // the last day in force called `end_date`.
    let old = SerializedEvent::new(
        grantor.to_string(),
        1,
        "grantor".to_owned(),
        "DelegationRequested".to_owned(),
        "0.9".to_owned(),
        json!({"DelegationRequested": {
            "id": "d-old",
            "grantor": grantor.as_str(),
            "delegate": delegate.as_str(),
            "role": "ordinary",
            "end_date": "2027-01-31",
            "at": "2026-01-10T09:00:00Z"
        }}),
        json!({"actor": "operator:op-1", "channel": "counter", "correlation_id": "c-old"}),
    );
    repository.persist::<Grantor>(&[old], None).await.unwrap();

    let state = rules(repository.clone()).grantor(&grantor).await.unwrap();
    let d = state
        .delegation(&DelegationId::parse("d-old").unwrap())
        .unwrap();
    assert_eq!(d.channel, Channel::Counter);
    assert_eq!(d.ends_on, NaiveDate::from_ymd_opt(2027, 1, 31));
    assert_eq!(d.delegate, delegate);
    assert_eq!(d.stage, Stage::Pending);
    // The stored event is not rewritten: it is upcast each time it is read.
    let events = stored::<Grantor>(&repository, grantor.as_str()).await;
    assert_eq!(events[0].event_version, "0.9");
}

/// Runs the flow runner until it has handled the whole log.
async fn catch_up(rules: &Arc<Deleghe>) {
    FlowRunner::new(rules.clone())
        .catch_up()
        .await
        .expect("the runner catches up");
}
