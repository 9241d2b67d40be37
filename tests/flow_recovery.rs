//! Crash recovery (D10): a flow is stopped between every pair of its steps,
//! as a crash would stop it, then the runner restarts from the log. Every
//! flow must end (no delegation or booking left pending), and the seats and
//! places must match exactly what is live.
//!
//! The same scenarios run on every store the library has: in memory always,
//! SQLite always, PostgreSQL when `DELEGHE_TEST_POSTGRES_URL` is set.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use deleghe::adapters::runner::FlowRunner;
use deleghe::adapters::{Deleghe, Metadata, Repository, ServiceError, SettableClock};
use deleghe::domain::booking::{BookerCommand, BookingStage};
use deleghe::domain::delegation::{
    DelegationError, DelegationId, GrantorCommand, RevocationChannel, Stage,
};
use deleghe::domain::flows::{self, Command, Refusal};
use deleghe::domain::meeting::{MeetingCommand, MeetingState};
use deleghe::domain::Policy;
use support::*;

/// A service on `repository` that stops before its `k`-th follow-up step.
fn crashing_at(repository: Repository, clock: &SettableClock, k: usize) -> Deleghe {
    let count = Arc::new(AtomicUsize::new(0));
    Deleghe::new(repository, Policy::default())
        .with_clock(clock.as_clock())
        .with_failpoint(Arc::new(move |_| count.fetch_add(1, Ordering::SeqCst) == k))
}

fn restarted(repository: Repository, clock: &SettableClock) -> Arc<Deleghe> {
    Arc::new(Deleghe::new(repository, Policy::default()).with_clock(clock.as_clock()))
}

async fn recover(repository: &Repository, clock: &SettableClock) {
    let service = restarted(repository.clone(), clock);
    FlowRunner::new(service)
        .catch_up()
        .await
        .expect("the runner catches up");
}

/// Seats are exactly the live delegations, and nothing is pending.
async fn assert_settled(service: &Deleghe) {
    let now = service.now();
    let mut live = Vec::new();
    for p in people() {
        for d in service.grantor(&p).await.unwrap().delegations() {
            assert_ne!(d.stage, Stage::Pending, "{} left pending", d.id);
            if d.is_live(now) {
                live.push((d.delegate.clone(), d.id.clone()));
            }
        }
    }
    let mut seats = Vec::new();
    for p in people() {
        for id in service.delegate(&p).await.unwrap().seats().keys() {
            seats.push((p.clone(), id.clone()));
        }
    }
    live.sort();
    seats.sort();
    assert_eq!(seats, live, "seats must match the live delegations");
}

async fn registration_scenario(store: Store) {
    // Three steps follow a request: reserve the seat, complete, (no more).
    for k in 0..3 {
        let repository = fresh(&store).await;
        let clock = SettableClock::fixed(t0());
        let setup = restarted(repository.clone(), &clock);
        // Two grantors and a third, whose registration crashes, fill the
        // delegate to the cap of 3.
        for (n, g) in [1, 2].into_iter().enumerate() {
            setup
                .register_delegation(request(&format!("ok-{k}-{n}"), g, 0), &meta(g))
                .await
                .unwrap();
        }
        let service = crashing_at(repository.clone(), &clock, k);
        let crashed = service
            .register_delegation(request(&format!("crash-{k}"), 3, 0), &meta(3))
            .await;
        if k < 2 {
            assert!(crashed.is_err(), "step {k}: the flow must stop");
        }
        recover(&repository, &clock).await;
        let after = restarted(repository.clone(), &clock);
        assert_settled(&after).await;
        let g = after.grantor(&person(3)).await.unwrap();
        let d = g.delegations().last().expect("the request is stored");
        assert_eq!(
            d.stage,
            Stage::Active,
            "step {k}: the interrupted registration completes"
        );
        // The cap still holds: a fourth is refused.
        let fourth = after
            .register_delegation(request(&format!("fourth-{k}"), 4, 0), &meta(4))
            .await;
        assert_eq!(fourth.unwrap_err().code(), "delegate_cap_reached");
        assert_settled(&after).await;
    }
}

async fn refusal_and_revocation_scenario(store: Store) {
    let policy = Policy::default();
    // A refused registration: reserve refused, refuse, release (tombstone).
    for k in 0..4 {
        let repository = fresh(&store).await;
        let clock = SettableClock::fixed(t0());
        let setup = restarted(repository.clone(), &clock);
        for g in 1..=policy.max_ordinary_delegations_per_delegate as usize {
            setup
                .register_delegation(request(&format!("full-{g}"), g, 0), &meta(g))
                .await
                .unwrap();
        }
        let service = crashing_at(repository.clone(), &clock, k);
        let refused = service
            .register_delegation(request("over", 4, 0), &meta(4))
            .await;
        assert!(refused.is_err());
        // Revoke one at the counter, crashing at step k of its release too.
        let service = crashing_at(repository.clone(), &clock, k);
        let _ = service
            .revoke_delegation(
                &person(1),
                &DelegationId::parse("full-1").unwrap(),
                RevocationChannel::Counter,
                t0(),
                &operator(),
            )
            .await;
        recover(&repository, &clock).await;
        let after = restarted(repository.clone(), &clock);
        assert_settled(&after).await;
        // The interrupted request ends either way, depending on whether the
        // revocation's seat was freed before the runner resumed it.
        let over = after.grantor(&person(4)).await.unwrap();
        let took_the_seat = match &over.delegations()[0].stage {
            Stage::Refused { reason, .. } => {
                assert_eq!(reason, "delegate_cap_reached");
                false
            }
            Stage::Active => true,
            other => panic!("step {k}: the interrupted request ended as {other:?}"),
        };
        let delegate = after.delegate(&person(0)).await.unwrap();
        let expected_seats = if took_the_seat { 3 } else { 2 };
        assert_eq!(delegate.ordinary_seats(t0()), expected_seats, "step {k}");
        // Whatever seat is left is free for a new registration.
        let again = after
            .register_delegation(request("again", 5, 0), &meta(5))
            .await;
        assert_eq!(again.is_ok(), !took_the_seat, "step {k}");
        assert_settled(&after).await;
    }
}

async fn booking_scenario(store: Store) {
    // Booking: reserve place, confirm; cancellation: release.
    for k in 0..3 {
        let repository = fresh(&store).await;
        let clock = SettableClock::fixed(t0());
        let service = crashing_at(repository.clone(), &clock, k);
        let _ = service.book(web_booking("b-1", 1), &meta(1)).await;
        recover(&repository, &clock).await;
        let after = restarted(repository.clone(), &clock);
        let booker = after.booker(&person(1)).await.unwrap();
        assert_eq!(
            booker.bookings()[0].stage,
            BookingStage::Confirmed,
            "step {k}"
        );
        let key = slot_of(&booker.bookings()[0]);
        assert_eq!(after.slot(&key).await.unwrap().taken(), 1);

        let service = crashing_at(repository.clone(), &clock, k);
        let id = booker.bookings()[0].id.clone();
        let _ = service
            .booking_command(
                &person(1),
                &id,
                BookerCommand::Cancel {
                    id: id.clone(),
                    at: t0(),
                },
                &meta(1),
            )
            .await;
        recover(&repository, &clock).await;
        let after = restarted(repository.clone(), &clock);
        assert!(matches!(
            after.booker(&person(1)).await.unwrap().bookings()[0].stage,
            BookingStage::Cancelled { .. }
        ));
        assert_eq!(
            after.slot(&key).await.unwrap().taken(),
            0,
            "step {k}: the place is given back"
        );
    }
}

async fn meeting_scenario(store: Store) {
    // Completion: request, reserve, complete, record outcome on the meeting.
    for k in 0..5 {
        let repository = fresh(&store).await;
        let clock = SettableClock::fixed(t0());
        let setup = restarted(repository.clone(), &clock);
        let booking = setup.book(web_booking("wm-1", 1), &meta(1)).await.unwrap();
        let start = booking.slot.start;
        clock.set(Some(start));
        for command in meeting_ready(&booking, start) {
            setup
                .meeting_command(&booking.id, command, &operator())
                .await
                .unwrap();
        }
        let service = crashing_at(repository.clone(), &clock, k);
        let _ = service
            .meeting_command(
                &booking.id,
                MeetingCommand::Complete {
                    delegation_id: DelegationId::parse("wm-1-d").unwrap(),
                    at: start,
                },
                &operator(),
            )
            .await;
        recover(&repository, &clock).await;
        let after = restarted(repository.clone(), &clock);
        let meeting = after.meeting(&booking.id).await.unwrap();
        assert_eq!(
            meeting.state(),
            MeetingState::Ended,
            "step {k}: the meeting ends"
        );
        assert!(meeting.outcome().unwrap().is_success(), "step {k}");
        assert_settled(&after).await;
    }
}

async fn racing_the_runner_scenario(store: Store) {
    // The runner works the log while the requests drive their own flows:
    // whoever takes a step first, each request still answers its outcome.
    let repository = fresh(&store).await;
    let clock = SettableClock::fixed(t0());
    let service = restarted(repository.clone(), &clock);
    let runner = FlowRunner::new(service.clone());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let background = tokio::spawn(runner.run(std::time::Duration::from_millis(1), stopped));
    for n in 1..8 {
        let d = service
            .register_delegation(request(&format!("race-{n}"), n, 0), &meta(n))
            .await;
        if n <= 3 {
            assert_eq!(d.expect("registered").stage, Stage::Active, "request {n}");
        } else {
            assert_eq!(d.unwrap_err().code(), "delegate_cap_reached", "request {n}");
        }
    }
    stop.send(true).unwrap();
    background.await.unwrap();
    recover(&repository, &clock).await;
    assert_settled(&restarted(repository, &clock)).await;
}

async fn overtaken_by_the_runner_scenario(store: Store) {
    // Deterministically: the request stores its first step, the runner
    // takes the second (the seat) before the request does, then the request
    // drives on. Its repeat of the seat step stores nothing, and it must
    // still complete the registration rather than stop halfway.
    let repository = fresh(&store).await;
    let clock = SettableClock::fixed(t0());
    let service = restarted(repository.clone(), &clock);
    let first = Command::Grantor {
        id: person(1),
        command: request("overtaken", 1, 0).issued_by(meta(1).issuer()),
    };
    let events = service.execute(&first, &meta(1)).await.unwrap();
    let next: Vec<Command> = events.iter().flat_map(|e| flows::react(e, t0())).collect();
    for step in &next {
        service.execute(step, &Metadata::system()).await.unwrap();
    }
    service.drive(next, "overtaken").await.unwrap();
    let g = service.grantor(&person(1)).await.unwrap();
    assert_eq!(g.delegations()[0].stage, Stage::Active);
}

async fn kept_state_overtaken_scenario(store: Store) {
    // A registration's last step starts from the grantor as its own first
    // step left it, without loading it. Here another writer changes the
    // grantor in between (refuses the pending delegation): the append of
    // the stale decision conflicts, and the step is decided again on what
    // is stored, so the registration ends refused, not registered.
    let repository = fresh(&store).await;
    let clock = SettableClock::fixed(t0());
    let other = restarted(repository.clone(), &clock);
    let id = DelegationId::parse("overtaken").unwrap();
    let refused = Arc::new(AtomicUsize::new(0));
    let seen = refused.clone();
    let refuse = Command::Grantor {
        id: person(1),
        command: GrantorCommand::RefuseRegistration {
            id: id.clone(),
            // Not the policy's cap: what the client hears is the refusal
            // as stored, not one rebuilt from its code.
            refusal: DelegationError::DelegateCapReached { cap: 7 },
            at: t0(),
        },
    };
    let service = Deleghe::new(repository.clone(), Policy::default())
        .with_clock(clock.as_clock())
        .with_failpoint(Arc::new(move |command| {
            if matches!(
                command,
                Command::Grantor {
                    command: GrantorCommand::CompleteRegistration { .. },
                    ..
                }
            ) && seen.fetch_add(1, Ordering::SeqCst) == 0
            {
                let handle = tokio::runtime::Handle::current();
                tokio::task::block_in_place(|| {
                    handle
                        .block_on(other.execute(&refuse, &Metadata::system()))
                        .expect("the other writer refuses it")
                });
            }
            false
        }));
    let outcome = service
        .register_delegation(request("overtaken", 1, 0), &meta(1))
        .await;
    assert_eq!(refused.load(Ordering::SeqCst), 1, "the other writer ran");
    let error = outcome.unwrap_err();
    assert_eq!(error.code(), "delegate_cap_reached");
    assert!(
        matches!(
            error,
            ServiceError::Rule(Refusal::Delegation(DelegationError::DelegateCapReached {
                cap: 7
            }))
        ),
        "the rule's own refusal, whoever decided it: {error:?}"
    );
    // Decided again within the flow, not left to the runner: the seat the
    // flow reserved is already given back.
    let delegate = service.delegate(&person(0)).await.unwrap();
    assert!(delegate.seats().is_empty(), "{:?}", delegate.seats());
    let grantor = service.grantor(&person(1)).await.unwrap();
    assert!(
        matches!(
            grantor.delegation(&id).unwrap().stage,
            Stage::Refused { .. }
        ),
        "{:?}",
        grantor.delegation(&id)
    );
    recover(&repository, &clock).await;
    assert_settled(&restarted(repository, &clock)).await;
}

macro_rules! on_every_store {
    ($($name:ident),*) => {
        mod memory {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Store::Memory).await; })*
        }
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Store::Sqlite).await; })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() {
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
    registration_scenario,
    refusal_and_revocation_scenario,
    booking_scenario,
    meeting_scenario,
    racing_the_runner_scenario,
    overtaken_by_the_runner_scenario,
    kept_state_overtaken_scenario
);
