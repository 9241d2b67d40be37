//! The kit checks what it claims: a store that breaks the contract fails
//! the conformance suite, and each invariant check finds a state that
//! breaks its rule.

use cqrs_es::Aggregate;
use deleghe_adapters::Repository;
use deleghe_domain::delegation::{
    Channel, Delegate, DelegateCommand, DelegationId, Grantor, GrantorEvent, Role, Stage,
};
use deleghe_domain::Policy;
use deleghe_testkit::conformance::{run_case_blocking, CASES};
use deleghe_testkit::fixtures::{evidence_for, person, t0};
use deleghe_testkit::invariants::{d1, d10_settled, d2, d3, Delegations};
use deleghe_testkit::store::StoreUnderTest;

/// A store that forgets everything between connections.
fn forgetful() -> StoreUnderTest {
    StoreUnderTest::new(|| async { Repository::memory() })
}

#[test]
#[should_panic(expected = "left: 0")]
fn a_store_that_forgets_its_checkpoints_fails_the_conformance() {
    run_case_blocking("checkpoints_survive_a_reconnect", || async { forgetful() });
}

#[test]
#[should_panic]
fn a_store_that_forgets_its_events_fails_the_round_trips() {
    run_case_blocking("grantor_and_delegate_round_trip", || async { forgetful() });
}

#[test]
fn a_factory_without_a_store_skips_the_case() {
    run_case_blocking("grantor_and_delegate_round_trip", || async {
        None::<StoreUnderTest>
    });
}

#[test]
fn case_names_are_unique() {
    let mut names: Vec<_> = CASES.iter().map(|c| c.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), CASES.len());
}

fn apply(grantor: &mut Grantor, event: GrantorEvent) {
    Aggregate::apply(grantor, event);
}

fn requested(n: usize, delegate: usize, role: Role) -> GrantorEvent {
    GrantorEvent::DelegationRequested {
        id: DelegationId::parse(&format!("d-{n}")).unwrap(),
        grantor: person(0),
        delegate: person(delegate),
        role,
        channel: Channel::Counter,
        ends_on: None,
        meeting: None,
        evidence: evidence_for(Channel::Counter, role),
        at: t0(),
    }
}

#[test]
fn d1_finds_a_grantor_with_two_live_delegations() {
    let mut grantor = Grantor::default();
    let mut state = Delegations::default();
    apply(&mut grantor, requested(1, 1, Role::Ordinary));
    state.grantors.insert(person(0), grantor.clone());
    assert_eq!(d1(&state, t0()), Ok(()));
    apply(&mut grantor, requested(2, 2, Role::Ordinary));
    state.grantors.insert(person(0), grantor);
    let violation = d1(&state, t0()).unwrap_err();
    assert_eq!(violation.rule, "D1");
    assert!(violation.to_string().starts_with("D1: "), "{violation}");
}

/// Seats for `n` ordinary delegations from different grantors, reserved
/// under a cap that lets them all in.
fn delegate_with(n: usize, role: Role) -> Delegate {
    let roomy = Policy {
        max_ordinary_delegations_per_delegate: 100,
        ..Policy::default()
    };
    let mut delegate = Delegate::default();
    for k in 0..n {
        let command = DelegateCommand::ReserveSeat {
            id: DelegationId::parse(&format!("d-{k}")).unwrap(),
            grantor: person(10 + k),
            delegate: person(1),
            role,
            ends_on: None,
            at: t0(),
        };
        for event in delegate.decide(command, &roomy).unwrap() {
            Aggregate::apply(&mut delegate, event);
        }
    }
    delegate
}

#[test]
fn d2_finds_a_delegate_over_the_cap_and_d3_lets_legal_representatives_pass() {
    let policy = Policy::default();
    let mut state = Delegations::default();
    state
        .delegates
        .insert(person(1), delegate_with(3, Role::Ordinary));
    assert_eq!(d2(&state, &policy, t0()), Ok(()));
    state
        .delegates
        .insert(person(1), delegate_with(4, Role::Ordinary));
    assert_eq!(d2(&state, &policy, t0()).unwrap_err().rule, "D2");
    state
        .delegates
        .insert(person(1), delegate_with(9, Role::Tutor));
    assert_eq!(d2(&state, &policy, t0()), Ok(()));
    assert_eq!(d3(&state, t0()), Ok(()));
}

#[test]
fn d3_finds_a_legal_representative_refused_for_the_cap() {
    let mut grantor = Grantor::default();
    apply(&mut grantor, requested(1, 1, Role::Tutor));
    apply(
        &mut grantor,
        GrantorEvent::DelegationRefused {
            id: DelegationId::parse("d-1").unwrap(),
            grantor: person(0),
            delegate: person(1),
            reason: "delegate_cap_reached".into(),
            refusal: None,
            meeting: None,
            at: t0(),
        },
    );
    let mut state = Delegations::default();
    state.grantors.insert(person(0), grantor);
    assert!(matches!(
        state.grantors[&person(0)].delegations()[0].stage,
        Stage::Refused { .. }
    ));
    assert_eq!(d3(&state, t0()).unwrap_err().rule, "D3");
}

#[test]
fn d10_finds_a_pending_delegation_and_a_seat_without_its_delegation() {
    let mut grantor = Grantor::default();
    apply(&mut grantor, requested(1, 1, Role::Ordinary));
    let mut state = Delegations::default();
    state.grantors.insert(person(0), grantor);
    assert_eq!(d10_settled(&state).unwrap_err().rule, "D10");

    let mut state = Delegations::default();
    state
        .delegates
        .insert(person(1), delegate_with(1, Role::Ordinary));
    assert_eq!(d10_settled(&state).unwrap_err().rule, "D10");
    // Nothing at all is settled.
    assert_eq!(d10_settled(&Delegations::default()), Ok(()));
}
