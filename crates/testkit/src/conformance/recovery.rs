//! Crash recovery (D10): each flow is stopped between every pair of its
//! steps, as a crash would stop it, and a restarted runner catches up from
//! the log; every flow must end (no delegation or booking left pending),
//! and the seats and places must match exactly what is live. Besides: the
//! runner racing the requests, and a step overtaken by another writer.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use deleghe_adapters::runner::FlowRunner;
use deleghe_adapters::{Deleghe, Metadata, Repository, SettableClock};
use deleghe_domain::booking::{BookerCommand, Booking, BookingStage};
use deleghe_domain::delegation::{
    DelegationError, DelegationId, GrantorCommand, RevocationChannel, Stage,
};
use deleghe_domain::flows::{self, Command};
use deleghe_domain::meeting::{MeetingCommand, MeetingState};
use deleghe_domain::Policy;

use super::Stores;
use crate::fixtures::{
    meeting_ready, meta, operator, people, person, request, slot_of, t0, web_booking,
};
use crate::invariants::Delegations;

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

/// D10 once every flow has ended: seats are exactly the delegations in
/// force, and nothing is pending.
async fn assert_settled(service: &Deleghe) {
    let state = Delegations::load(service, &people(8))
        .await
        .expect("the states load");
    if let Err(violation) = state.settled() {
        panic!("{violation}");
    }
}

pub(super) async fn registration_scenario(stores: &Stores) {
    // Three steps follow a request: reserve the seat, complete, (no more).
    for k in 0..3 {
        let repository = stores.repository().await;
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

pub(super) async fn refusal_and_revocation_scenario(stores: &Stores) {
    let policy = Policy::default();
    // A refused registration: reserve refused, refuse, release (tombstone).
    for k in 0..4 {
        let repository = stores.repository().await;
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

pub(super) async fn booking_scenario(stores: &Stores) {
    // Booking: reserve place, confirm; cancellation: release.
    for k in 0..3 {
        let repository = stores.repository().await;
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

/// A new store holding web meeting `wm-1`, booked by person 1 and brought
/// to the point of completion, with the clock at its start.
async fn meeting_to_complete(stores: &Stores) -> (Repository, SettableClock, Booking) {
    let repository = stores.repository().await;
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
    (repository, clock, booking)
}

pub(super) async fn meeting_scenario(stores: &Stores) {
    // Completion: request, reserve, complete, record outcome on the meeting.
    for k in 0..5 {
        let (repository, clock, booking) = meeting_to_complete(stores).await;
        let start = booking.slot.start;
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

pub(super) async fn m7_d10_meeting_overtaken_by_the_runner_scenario(stores: &Stores) {
    // M7, as the soak once found it broken (docs/PERFORMANCE.md, finding
    // 1): a completion ends the meeting, however far the runner took the
    // same flow meanwhile. Here the runner is let in after the completion
    // is decided, before the registration it asks for, and stops before
    // the meeting's outcome, as a crash would. Driven step by step (as the
    // runner and a delegate's requests drive), the completion is stored by
    // then: the runner registers the delegation, the driver's own steps
    // are repeats that store nothing, and the meeting's outcome must come
    // from the grantor as stored (`flows::after_repeat_on`). Decided whole
    // (the operator's request, ADR 0015), nothing is stored before the one
    // append: the runner finds nothing to take, and the request must
    // answer the meeting ended, never `registering`.
    for whole in [true, false] {
        let (repository, clock, booking) = meeting_to_complete(stores).await;
        let start = booking.slot.start;
        let runner = Arc::new(
            Deleghe::new(repository.clone(), Policy::default())
                .with_clock(clock.as_clock())
                .with_failpoint(Arc::new(|command| {
                    matches!(
                        command,
                        Command::Meeting {
                            command: MeetingCommand::RecordOutcome { .. },
                            ..
                        }
                    )
                })),
        );
        let ran = Arc::new(AtomicUsize::new(0));
        let runs = ran.clone();
        // Whether the runner, let in, had registered the delegation.
        let registered = Arc::new(AtomicUsize::new(0));
        let registers = registered.clone();
        let service = Deleghe::new(repository.clone(), Policy::default())
            .with_clock(clock.as_clock())
            .with_failpoint(Arc::new(move |command| {
                if matches!(
                    command,
                    Command::Grantor {
                        command: GrantorCommand::Request { .. },
                        ..
                    }
                ) && runs.fetch_add(1, Ordering::SeqCst) == 0
                {
                    let handle = tokio::runtime::Handle::current();
                    let service = runner.clone();
                    let runner = FlowRunner::new(runner.clone());
                    tokio::task::block_in_place(|| {
                        handle.block_on(async {
                            // Stopped at its failpoint, if it got that far.
                            let _ = runner.catch_up().await;
                            let grantor = service.grantor(&person(0)).await.unwrap();
                            let id = DelegationId::parse("wm-1-d").unwrap();
                            if grantor.delegation(&id).map(|d| &d.stage) == Some(&Stage::Active) {
                                registers.store(1, Ordering::SeqCst);
                            }
                        })
                    });
                }
                false
            }));
        let complete = MeetingCommand::Complete {
            delegation_id: DelegationId::parse("wm-1-d").unwrap(),
            at: start,
        };
        let meeting = if whole {
            service
                .meeting_command(&booking.id, complete, &operator())
                .await
                .expect("the completion answers")
        } else {
            let first = Command::Meeting {
                id: booking.id.clone(),
                command: complete,
            };
            service.drive(vec![first], "overtaken").await.unwrap();
            service.meeting(&booking.id).await.unwrap()
        };
        assert_eq!(ran.load(Ordering::SeqCst), 1, "the runner was let in");
        assert_eq!(
            registered.load(Ordering::SeqCst) == 1,
            !whole,
            "the runner registered the delegation first (step by step only)"
        );
        assert_eq!(meeting.state(), MeetingState::Ended, "whole: {whole}");
        assert!(meeting.outcome().unwrap().is_success(), "whole: {whole}");
        recover(&repository, &clock).await;
        assert_settled(&restarted(repository, &clock)).await;
    }
}

pub(super) async fn racing_the_runner_scenario(stores: &Stores) {
    // The runner works the log while the requests drive their own flows:
    // whoever takes a step first, each request still answers its outcome.
    let repository = stores.repository().await;
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

pub(super) async fn overtaken_by_the_runner_scenario(stores: &Stores) {
    // Deterministically: the request stores its first step, the runner
    // takes the second (the seat) before the request does, then the request
    // drives on. Its repeat of the seat step stores nothing, and it must
    // still complete the registration rather than stop halfway.
    let repository = stores.repository().await;
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

/// What another writer does in between two steps of a flow.
type Meddling = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// A service on `repository` whose failpoint, the first time a flow comes
/// to a registration's completion, lets `other` run `meddle` (another
/// writer getting in between two steps), and never stops the flow.
fn meddled_before_completion(
    repository: Repository,
    clock: &SettableClock,
    other: Arc<Deleghe>,
    meddle: impl Fn(Arc<Deleghe>) -> Meddling + Send + Sync + 'static,
    ran: Arc<AtomicUsize>,
) -> Deleghe {
    Deleghe::new(repository, Policy::default())
        .with_clock(clock.as_clock())
        .with_failpoint(Arc::new(move |command| {
            if matches!(
                command,
                Command::Grantor {
                    command: GrantorCommand::CompleteRegistration { .. },
                    ..
                }
            ) && ran.fetch_add(1, Ordering::SeqCst) == 0
            {
                let handle = tokio::runtime::Handle::current();
                tokio::task::block_in_place(|| handle.block_on(meddle(other.clone())));
            }
            false
        }))
}

pub(super) async fn kept_state_overtaken_scenario(stores: &Stores) {
    // The runner's path (ADR 0002), step by step: a registration's last
    // step starts from the grantor as the flow's own earlier step left it,
    // without loading it. Here another writer changes the grantor in
    // between (refuses the pending delegation): the append of the stale
    // decision conflicts, and the step is decided again on what is stored,
    // so the registration ends refused, not registered.
    let repository = stores.repository().await;
    let clock = SettableClock::fixed(t0());
    let other = restarted(repository.clone(), &clock);
    let id = DelegationId::parse("overtaken").unwrap();
    let refuse = Command::Grantor {
        id: person(1),
        command: GrantorCommand::RefuseRegistration {
            id: id.clone(),
            // Not the policy's cap: what is stored is the refusal as the
            // other writer decided it, not one rebuilt from its code.
            refusal: DelegationError::DelegateCapReached { cap: 7 },
            at: t0(),
        },
    };
    let ran = Arc::new(AtomicUsize::new(0));
    let service = meddled_before_completion(
        repository.clone(),
        &clock,
        other,
        move |other| {
            let refuse = refuse.clone();
            Box::pin(async move {
                other
                    .execute(&refuse, &Metadata::system())
                    .await
                    .expect("the other writer refuses it");
            })
        },
        ran.clone(),
    );
    // The request stored alone, as a crash right after it leaves it; then
    // the runner's driver takes the steps that follow.
    let first = Command::Grantor {
        id: person(1),
        command: request("overtaken", 1, 0).issued_by(meta(1).issuer()),
    };
    let events = service.execute(&first, &meta(1)).await.unwrap();
    let next: Vec<Command> = events.iter().flat_map(|e| flows::react(e, t0())).collect();
    let report = service.drive(next, "overtaken").await.unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 1, "the other writer ran");
    assert!(
        report.refusals.iter().any(|(command, _)| matches!(
            command,
            Command::Grantor {
                command: GrantorCommand::CompleteRegistration { .. },
                ..
            }
        )),
        "the completion is refused on the stored state: {:?}",
        report.refusals
    );
    // Decided again within the flow, not left to a later run: the seat the
    // flow reserved is already given back.
    let delegate = service.delegate(&person(0)).await.unwrap();
    assert!(delegate.seats().is_empty(), "{:?}", delegate.seats());
    let grantor = service.grantor(&person(1)).await.unwrap();
    assert!(
        matches!(
            &grantor.delegation(&id).unwrap().stage,
            Stage::Refused { reason, .. } if reason == "delegate_cap_reached"
        ),
        "{:?}",
        grantor.delegation(&id)
    );
    recover(&repository, &clock).await;
    assert_settled(&restarted(repository, &clock)).await;
}

pub(super) async fn whole_flow_decided_again_scenario(stores: &Stores) {
    // ADR 0015, D1 and D10: a registration a grantor starts is decided
    // whole (request, seat, completion) and appended once. Here another
    // writer registers a delegation of the same grantor to someone else
    // after the flow decided its request and seat, before it decided the
    // completion: the flow's one append conflicts on the grantor's stream,
    // nothing of it is stored, and it is decided again on what is stored,
    // where D1 refuses the request. The delegate asked for never holds a
    // seat, not even for a moment.
    let repository = stores.repository().await;
    let clock = SettableClock::fixed(t0());
    let other = restarted(repository.clone(), &clock);
    let ran = Arc::new(AtomicUsize::new(0));
    let service = meddled_before_completion(
        repository.clone(),
        &clock,
        other,
        |other| {
            Box::pin(async move {
                let d = other
                    .register_delegation(request("first", 1, 5), &meta(1))
                    .await
                    .expect("the other writer registers first");
                assert_eq!(d.stage, Stage::Active);
            })
        },
        ran.clone(),
    );
    let log_before = repository.log_head().await.unwrap();
    let outcome = service
        .register_delegation(request("second", 1, 0), &meta(1))
        .await;
    assert_eq!(ran.load(Ordering::SeqCst), 1, "the other writer ran once");
    let error = outcome.unwrap_err();
    assert_eq!(error.code(), "grantor_already_has_delegate", "{error:?}");
    let delegate = service.delegate(&person(0)).await.unwrap();
    assert!(delegate.seats().is_empty(), "{:?}", delegate.seats());
    let grantor = service.grantor(&person(1)).await.unwrap();
    assert_eq!(
        grantor.delegations().len(),
        1,
        "{:?}",
        grantor.delegations()
    );
    // What the log holds is the other writer's registration only: the
    // refused flow stored nothing.
    let log = repository.read_log(log_before, 100).await.unwrap();
    assert!(
        log.iter()
            .all(|e| e.event.aggregate_id != person(0).as_str()),
        "nothing of the refused flow is stored"
    );
    assert_settled(&restarted(repository, &clock)).await;
}
