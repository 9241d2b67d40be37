//! D9 and D12 through the library, on every store: what a delegate acting for
//! a grantor may do, and that the delegation's being active is decided with
//! each command, not when the delegate's session began.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use cqrs_es::Aggregate;
use cqrs_es::DomainEvent;
use deleghe::adapters::runner::FlowRunner;
use deleghe::adapters::{Actor, Deleghe, Metadata, ServiceError};
use deleghe::domain::booking::{Booker, BookerCommand, BookingStage, RequestBooking};
use deleghe::domain::delegation::{
    DelegationError, Grantor, GrantorCommand, GrantorEvent, RevocationChannel,
};
use deleghe::domain::flows::{Command, Event, Refusal};
use deleghe::domain::pin::{PinCommand, PinError, PinHash, PinValidity};
use deleghe::domain::{FiscalCode, Issuer, Policy};
use support::*;

/// Person 2 acting for person 1 (D9).
fn delegate_for_grantor() -> Metadata {
    Metadata::new(Actor::Citizen(person(2)), "web").on_behalf_of(person(1))
}

async fn rules(store: &Store) -> Deleghe {
    Deleghe::new(fresh(store).await, Policy::default()).with_clock(Arc::new(t0))
}

/// Person 1 has delegated to person 2 online (`d-1`, active).
async fn delegated(rules: &Deleghe) {
    rules
        .register_delegation(request("d-1", 1, 2), &meta(1))
        .await
        .unwrap();
}

async fn revoke_at_counter(rules: &Deleghe) {
    rules
        .revoke_delegation(
            &person(1),
            &"d-1".parse().unwrap(),
            RevocationChannel::Counter,
            t0(),
            &operator(),
        )
        .await
        .unwrap();
}

fn refusal(result: Result<impl std::fmt::Debug, ServiceError>) -> Refusal {
    match result {
        Err(ServiceError::Rule(r)) => r,
        other => panic!("expected a rule's refusal, got {other:?}"),
    }
}

/// A booking in person by `booker`, which a delegate may make for them (its
/// request step alone is run by some of these tests).
fn booking(id: &str, booker: FiscalCode) -> RequestBooking {
    in_person_booking(id, &booker)
}

fn book_step(request: RequestBooking) -> Command {
    Command::Booker {
        id: request.booker.clone(),
        command: BookerCommand::Request(Box::new(request)),
    }
}

async fn grantor_events(rules: &Deleghe) -> Vec<GrantorEvent> {
    let log = rules.repository().read_log(0, 10_000).await.unwrap();
    log.into_iter()
        .filter(|p| {
            p.event.aggregate_type == Grantor::TYPE && p.event.aggregate_id == person(1).as_str()
        })
        .map(|p| serde_json::from_value(p.event.payload).unwrap())
        .collect()
}

async fn d12_a_delegate_acting_for_the_grantor_cannot_register_or_revoke(store: Store) {
    // Nor book or attend a delegations web meeting in the grantor's name.
    let rules = rules(&store).await;
    delegated(&rules).await;
    let before = rules.repository().read_log(0, 10_000).await.unwrap().len();
    // Register a new delegation in the grantor's name, online or as if at a
    // counter: refused by the grantor's aggregate.
    let mut other = request("d-2", 1, 3);
    for channel in [
        deleghe::domain::delegation::Channel::Online,
        deleghe::domain::delegation::Channel::Counter,
    ] {
        other.channel = channel;
        let refused = refusal(
            rules
                .register_delegation(other.clone(), &delegate_for_grantor())
                .await,
        );
        assert_eq!(refused, DelegationError::NotAllowedWhenActing.into());
    }
    // Revoke the grantor's delegation, on either channel.
    for channel in [RevocationChannel::Online, RevocationChannel::Counter] {
        let refused = refusal(
            rules
                .revoke_delegation(
                    &person(1),
                    &"d-1".parse().unwrap(),
                    channel,
                    t0() + chrono::Duration::days(40),
                    &delegate_for_grantor(),
                )
                .await,
        );
        assert_eq!(refused.code(), "not_allowed_when_acting");
    }
    // Confirm or reject on the grantor's behalf: refused too.
    let confirm = GrantorCommand::Confirm {
        id: "d-1".parse().unwrap(),
        at: t0(),
    };
    let refused = refusal(
        rules
            .delegation_command(&person(1), confirm, &delegate_for_grantor())
            .await,
    );
    assert_eq!(refused.code(), "not_allowed_when_acting");
    // Issue the grantor's telephone PIN: refused by the PIN account.
    let meta = delegate_for_grantor();
    let pin = PinCommand::IssuePin {
        citizen: person(1),
        pin_hash: PinHash::new("7KQ2MX9P4T", &[7; 16]).unwrap(),
        validity: PinValidity::OneDay,
        at: t0(),
        by: meta.issuer(),
    };
    let refused = refusal(rules.pin_command(&person(1), pin, &meta).await);
    assert_eq!(refused, PinError::NotAllowedWhenActing.into());
    // Book a web meeting at the delegations counter, whose completion would
    // register a delegation to the grantor, or act on a meeting: refused
    // by the service, before any stream is touched.
    let meeting = web_booking_for("b-9", &person(1), &person(5));
    let refused = refusal(rules.book(meeting, &delegate_for_grantor()).await);
    assert_eq!(refused, DelegationError::NotAllowedWhenActing.into());
    let consent = deleghe::domain::meeting::MeetingCommand::Consent {
        recording: true,
        at: t0(),
    };
    let refused = refusal(
        rules
            .meeting_command(&"b-9".parse().unwrap(), consent, &delegate_for_grantor())
            .await,
    );
    assert_eq!(refused, DelegationError::NotAllowedWhenActing.into());
    // Another citizen's bookings are not the grantor's (D9): a misuse, which
    // would tell the grantor nothing of what was done in their name (N7).
    let elsewhere = rules
        .book(
            in_person_booking("b-8", &person(3)),
            &delegate_for_grantor(),
        )
        .await;
    assert!(
        matches!(elsewhere, Err(ServiceError::Misuse(_))),
        "{elsewhere:?}"
    );
    // Nothing was stored, and the delegation is as it was.
    let after = rules.repository().read_log(0, 10_000).await.unwrap().len();
    assert_eq!(after, before);
    let d = rules.grantor(&person(1)).await.unwrap();
    assert!(d.delegations()[0].is_active(t0()));
}

async fn d12_a_revocation_committed_first_stops_an_action_on_the_grantors_behalf(store: Store) {
    let rules = rules(&store).await;
    delegated(&rules).await;
    // While the delegation is active, the delegate books for the grantor;
    // the grantor's stream records that they acted.
    let first = rules
        .book(booking("b-1", person(1)), &delegate_for_grantor())
        .await
        .unwrap();
    assert_eq!(first.booker, person(1));
    let acted: Vec<_> = grantor_events(&rules)
        .await
        .into_iter()
        .filter(|e| matches!(e, GrantorEvent::DelegateActed { .. }))
        .collect();
    assert_eq!(
        acted,
        [GrantorEvent::DelegateActed {
            id: "d-1".parse().unwrap(),
            grantor: person(1),
            delegate: person(2),
            action: "booking.request".into(),
            at: t0(),
        }]
    );
    // An operator revokes at the counter; the delegate's next command, even
    // one their session had been allowed to start, is refused.
    revoke_at_counter(&rules).await;
    let before = rules.repository().read_log(0, 10_000).await.unwrap().len();
    let refused = refusal(
        rules
            .booking_command(
                &person(1),
                &first.id,
                BookerCommand::Cancel {
                    id: first.id.clone(),
                    at: t0(),
                },
                &delegate_for_grantor(),
            )
            .await,
    );
    assert_eq!(refused, DelegationError::NoActiveDelegation.into());
    let refused = refusal(
        rules
            .book(booking("b-2", person(1)), &delegate_for_grantor())
            .await,
    );
    assert_eq!(refused.code(), "no_active_delegation");
    let after = rules.repository().read_log(0, 10_000).await.unwrap().len();
    assert_eq!(after, before, "nothing stored for the refused commands");
    // The grantor in person still may.
    rules
        .booking_command(
            &person(1),
            &first.id,
            BookerCommand::Cancel {
                id: first.id.clone(),
                at: t0(),
            },
            &meta(1),
        )
        .await
        .unwrap();
}

/// Actions on the grantor's behalf race a counter revocation: each one is
/// either stored with its guard before the revocation in the grantor's
/// stream, or refused; none is stored after it, whatever the interleaving.
/// The actions are sixteen bookings of the grantor's (D9: a delegate acts on
/// the grantor's own bookings), each at a counter of its own type, under a
/// policy that lets a citizen hold them all (B1, B2 refuse none).
async fn d12_actions_racing_a_revocation_are_each_before_it_or_refused(store: Store) {
    let policy = Policy {
        max_active_bookings: 64,
        ..Policy::default()
    };
    for round in 0..3 {
        let rules =
            Arc::new(Deleghe::new(fresh(&store).await, policy.clone()).with_clock(Arc::new(t0)));
        delegated(&rules).await;
        let start = Arc::new(tokio::sync::Barrier::new(17));
        let actions: Vec<_> = (0..16)
            .map(|n| {
                let (rules, start) = (rules.clone(), start.clone());
                let mut request = booking(&format!("b-{round}-{n}"), person(1));
                request.counter.id =
                    deleghe::domain::schedule::CounterId::parse(&format!("counter-{n}")).unwrap();
                request.counter.counter_type = format!("type-{n}");
                tokio::spawn(async move {
                    start.wait().await;
                    rules
                        .execute(&book_step(request), &delegate_for_grantor())
                        .await
                })
            })
            .collect();
        let revocation = {
            let (rules, start) = (rules.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                tokio::task::yield_now().await;
                revoke_at_counter(&rules).await;
            })
        };
        let mut acknowledged = 0;
        for action in actions {
            match action.await.unwrap() {
                Ok(events) => {
                    assert_eq!(events.len(), 1);
                    acknowledged += 1;
                }
                Err(ServiceError::Rule(r)) => assert_eq!(r.code(), "no_active_delegation"),
                Err(other) => panic!("{other:?}"),
            }
        }
        revocation.await.unwrap();
        let events = grantor_events(&rules).await;
        let revoked = events
            .iter()
            .position(|e| matches!(e, GrantorEvent::DelegationRevoked { .. }))
            .expect("revoked");
        let acted: Vec<usize> = events
            .iter()
            .enumerate()
            .filter(|(_, e)| matches!(e, GrantorEvent::DelegateActed { .. }))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(acted.len(), acknowledged, "one guard per action stored");
        assert!(
            acted.iter().all(|i| *i < revoked),
            "an action stored after the revocation: {events:?}"
        );
        let log = rules.repository().read_log(0, 10_000).await.unwrap();
        let booked = log
            .iter()
            .filter(|p| p.event.aggregate_type == Booker::TYPE)
            .count();
        assert_eq!(booked, acknowledged, "every stored action was acknowledged");
    }
}

async fn d12_a_command_whose_issuer_is_not_the_metadatas_is_refused(store: Store) {
    let rules = rules(&store).await;
    // A request saying the grantor issues it, with metadata saying an
    // operator does: the audit trail would lie.
    let command = Command::Grantor {
        id: person(1),
        command: request("d-1", 1, 2).issued_by(Issuer::citizen(person(1))),
    };
    let result = rules.execute(&command, &operator()).await;
    assert!(matches!(result, Err(ServiceError::Misuse(_))), "{result:?}");
    assert!(rules.repository().read_log(0, 10).await.unwrap().is_empty());
}

async fn d10_a_delegates_booking_overtaken_by_the_runner_answers_as_stored(store: Store) {
    // A delegate's booking for the grantor is driven step by step (only a
    // caller's own flow is decided whole, ADR 0015). Here a failpoint lets
    // the runner take the flow after the request is stored, and confirm
    // the booking, then stops the request, as a crash would. The answer is
    // the booking as stored, confirmed, not the pending one the request's
    // own steps left it.
    let setup = rules(&store).await;
    delegated(&setup).await;
    let repository = setup.repository().clone();
    let runner =
        Arc::new(Deleghe::new(repository.clone(), Policy::default()).with_clock(Arc::new(t0)));
    let ran = Arc::new(AtomicUsize::new(0));
    let runs = ran.clone();
    let service = Deleghe::new(repository, Policy::default())
        .with_clock(Arc::new(t0))
        .with_failpoint(Arc::new(move |command| {
            if !matches!(command, Command::Slot { .. }) || runs.fetch_add(1, Ordering::SeqCst) > 0 {
                return false;
            }
            let handle = tokio::runtime::Handle::current();
            let runner = FlowRunner::new(runner.clone());
            tokio::task::block_in_place(|| handle.block_on(runner.catch_up()))
                .expect("the runner takes the flow");
            true
        }));
    let booked = service
        .book(booking("b-1", person(1)), &delegate_for_grantor())
        .await
        .expect("answered as stored");
    assert_eq!(ran.load(Ordering::SeqCst), 1, "the runner was let in");
    assert_eq!(booked.stage, BookingStage::Confirmed);
}

async fn d9_d12_a_delegate_cannot_issue_the_acting_check_itself(store: Store) {
    // The check that the delegation is active (D9) is the service's, made
    // with each command a delegate issues (D12): a delegate sending it as
    // a command of their own is told there is no delegation to act
    // through, and nothing is stored.
    let rules = rules(&store).await;
    delegated(&rules).await;
    let before = rules.repository().read_log(0, 10_000).await.unwrap().len();
    let command = Command::Grantor {
        id: person(1),
        command: GrantorCommand::ActFor {
            delegate: person(2),
            action: "booking.request".to_owned(),
            at: t0(),
        },
    };
    let refused = refusal(rules.run(command, &delegate_for_grantor()).await);
    assert_eq!(refused.code(), "no_active_delegation");
    let after = rules.repository().read_log(0, 10_000).await.unwrap().len();
    assert_eq!(after, before);
}

async fn d12_a_delegates_flow_reports_every_event_it_stored(store: Store) {
    // A delegate's booking for the grantor runs step by step (ADR 0015):
    // its report holds the request's own event, then the confirmation.
    let rules = rules(&store).await;
    delegated(&rules).await;
    let command = Command::Booker {
        id: person(1),
        command: BookerCommand::Request(Box::new(booking("b-1", person(1)))),
    };
    let report = rules.run(command, &delegate_for_grantor()).await.unwrap();
    let booker_events: Vec<_> = report
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Booker(e) => Some(e.event_type()),
            _ => None,
        })
        .collect();
    assert_eq!(booker_events, ["BookingRequested", "BookingConfirmed"]);
}

macro_rules! on_every_store {
    ($($test:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Store::Memory).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Store::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let Some(store) = super::postgres_store() else { return };
                    super::$test(store).await;
                }
            )*
        }
        mod mariadb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let Some(store) = super::mariadb_store() else { return };
                    super::$test(store).await;
                }
            )*
        }
    };
}

on_every_store!(
    d12_a_delegate_acting_for_the_grantor_cannot_register_or_revoke,
    d12_a_revocation_committed_first_stops_an_action_on_the_grantors_behalf,
    d12_actions_racing_a_revocation_are_each_before_it_or_refused,
    d12_a_command_whose_issuer_is_not_the_metadatas_is_refused,
    d10_a_delegates_booking_overtaken_by_the_runner_answers_as_stored,
    d9_d12_a_delegate_cannot_issue_the_acting_check_itself,
    d12_a_delegates_flow_reports_every_event_it_stored,
);
