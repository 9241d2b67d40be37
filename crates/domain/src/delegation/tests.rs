//! Given/when/then tests of D1–D9 and D12, one or more per rule, named after its id.
//! D10 (the same rules under interleavings and crashes) is property-tested in
//! the workspace's `tests/delegation_properties.rs`.

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use cqrs_es::test::TestFramework;

use super::flow::{after_delegate_event, after_grantor_event, after_refusal, FlowCommand};
use super::*;
use crate::document::DocumentKind;
use crate::{FiscalCode, Issuer, Policy};

const GRANTOR: &str = "RSSMRA85T10A562S";
const DELEGATE: &str = "VRDLGU70A01H501O";
const OTHERS: [&str; 6] = [
    "BNCGNN80A41F205A",
    "NREFNC62B15L219M",
    "GLLPLA90C22G273D",
    "FRRLRA75D55A944I",
    "MNTGPP50E10F839L",
    "CSTNNA88H60D612P",
];

fn cf(s: &str) -> FiscalCode {
    FiscalCode::parse(s).unwrap()
}

fn id(s: &str) -> DelegationId {
    DelegationId::parse(s).unwrap()
}

/// 1 December 2026, 09:00 in Rome.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap()
}

fn days(n: u64) -> DateTime<Utc> {
    t0() + chrono::Duration::days(n as i64)
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn request(
    delegation: &str,
    grantor: &str,
    delegate: &str,
    role: Role,
    channel: Channel,
) -> RequestDelegation {
    RequestDelegation {
        id: id(delegation),
        grantor: cf(grantor),
        delegate: cf(delegate),
        role,
        channel,
        ends_on: None,
        meeting: None,
        evidence: enough(channel, role),
        at: t0(),
    }
}

/// D11: a stored document's digest, made of one hex digit.
fn digest(c: char) -> crate::document::DocumentDigest {
    crate::document::DocumentDigest::parse(&c.to_string().repeat(64)).unwrap()
}

fn doc(kind: DocumentKind, c: char) -> EvidenceDocument {
    EvidenceDocument {
        kind,
        sha256: digest(c),
    }
}

/// D11: the evidence a registration on `channel` needs, for `role`.
fn enough(channel: Channel, role: Role) -> Evidence {
    use DocumentKind::*;
    Evidence::new(match channel {
        Channel::Online => vec![doc(IdentityDocument, 'a')],
        Channel::Counter if role.is_legal_representative() => {
            vec![doc(Aa10, 'b'), doc(IdentityDocument, 'a')]
        }
        Channel::Counter => vec![doc(Aa08, 'b'), doc(IdentityDocument, 'a')],
        Channel::Pec => vec![doc(Pec, 'c')],
        Channel::WebMeeting => vec![doc(Aa08, 'd'), doc(IdentityDocument, 'e')],
    })
}

/// The command asking for `r`, issued as its channel has it: online by the
/// grantor in person, at a counter or by PEC by an operator, after a web
/// meeting by the flow.
fn asked(r: RequestDelegation) -> GrantorCommand {
    let by = match r.channel {
        Channel::Online => Issuer::citizen(r.grantor.clone()),
        Channel::Counter | Channel::Pec => Issuer::operator("op-1@DCM NAPOLI"),
        Channel::WebMeeting => Issuer::system(),
    };
    r.issued_by(by)
}

fn requested(r: &RequestDelegation) -> GrantorEvent {
    GrantorEvent::DelegationRequested {
        id: r.id.clone(),
        grantor: r.grantor.clone(),
        delegate: r.delegate.clone(),
        role: r.role,
        channel: r.channel,
        ends_on: r.ends_on,
        meeting: None,
        evidence: r.evidence.clone(),
        at: r.at,
    }
}

fn registered(r: &RequestDelegation, at: DateTime<Utc>) -> GrantorEvent {
    GrantorEvent::DelegationRegistered {
        id: r.id.clone(),
        grantor: r.grantor.clone(),
        delegate: r.delegate.clone(),
        awaiting_confirmation: r.role.is_legal_representative(),
        meeting: None,
        at,
    }
}

fn seat(delegation: &str, grantor: &str, role: Role, ends_on: Option<NaiveDate>) -> DelegateEvent {
    DelegateEvent::SeatReserved {
        id: id(delegation),
        grantor: cf(grantor),
        delegate: cf(DELEGATE),
        role,
        ends_on,
        at: t0(),
    }
}

fn reserve(delegation: &str, grantor: &str, role: Role, at: DateTime<Utc>) -> DelegateCommand {
    DelegateCommand::ReserveSeat {
        id: id(delegation),
        grantor: cf(grantor),
        delegate: cf(DELEGATE),
        role,
        ends_on: None,
        at,
    }
}

fn grantor_with(events: Vec<GrantorEvent>) -> Grantor {
    let mut g = Grantor::default();
    for e in events {
        cqrs_es::Aggregate::apply(&mut g, e);
    }
    g
}

fn delegate_with(events: Vec<DelegateEvent>) -> Delegate {
    let mut d = Delegate::default();
    for e in events {
        cqrs_es::Aggregate::apply(&mut d, e);
    }
    d
}

fn active_online() -> (RequestDelegation, Vec<GrantorEvent>) {
    let r = request("d-1", GRANTOR, DELEGATE, Role::Ordinary, Channel::Online);
    let events = vec![requested(&r), registered(&r, t0())];
    (r, events)
}

// ---------------------------------------------------------------- D1

#[tokio::test]
async fn d1_grantor_with_active_delegate_cannot_register_another() {
    let (_, given) = active_online();
    let second = request("d-2", GRANTOR, OTHERS[0], Role::Ordinary, Channel::Online);
    TestFramework::<Grantor>::with(Policy::default())
        .given(given)
        .when_async(asked(second))
        .await
        .then_expect_error(DelegationError::GrantorAlreadyHasDelegate {
            existing: id("d-1"),
        });
}

#[test]
fn d1_a_pending_request_also_occupies_the_grantor() {
    let first = request("d-1", GRANTOR, DELEGATE, Role::Ordinary, Channel::Online);
    let g = grantor_with(vec![requested(&first)]);
    let second = request("d-2", GRANTOR, OTHERS[0], Role::Ordinary, Channel::Counter);
    let err = g.decide(asked(second), &Policy::default()).unwrap_err();
    assert_eq!(err.code(), "grantor_already_has_delegate");
}

#[test]
fn d1_after_revocation_the_grantor_may_register_a_new_delegate() {
    let (r, mut given) = active_online();
    given.push(GrantorEvent::DelegationRevoked {
        id: r.id.clone(),
        grantor: r.grantor.clone(),
        delegate: r.delegate.clone(),
        channel: RevocationChannel::Counter,
        at: days(1),
    });
    let g = grantor_with(given);
    let mut second = request("d-2", GRANTOR, OTHERS[0], Role::Ordinary, Channel::Online);
    second.at = days(2);
    let events = g.decide(asked(second.clone()), &Policy::default()).unwrap();
    assert_eq!(events, vec![requested(&second)]);
}

#[test]
fn d1_a_refused_request_frees_the_grantor() {
    let first = request("d-1", GRANTOR, DELEGATE, Role::Ordinary, Channel::Online);
    let g = grantor_with(vec![
        requested(&first),
        GrantorEvent::DelegationRefused {
            id: first.id.clone(),
            grantor: first.grantor.clone(),
            delegate: first.delegate.clone(),
            reason: "delegate_cap_reached".into(),
            refusal: Some(DelegationError::DelegateCapReached { cap: 3 }),
            meeting: None,
            at: t0(),
        },
    ]);
    let second = request("d-2", GRANTOR, OTHERS[0], Role::Ordinary, Channel::Online);
    assert!(g.decide(asked(second), &Policy::default()).is_ok());
}

#[test]
fn d1_retrying_the_same_request_is_recognised_by_its_id() {
    let first = request("d-1", GRANTOR, DELEGATE, Role::Ordinary, Channel::Online);
    let g = grantor_with(vec![requested(&first)]);
    let policy = Policy::default();
    assert_eq!(g.decide(asked(first.clone()), &policy), Ok(vec![]));
    let mut other = first;
    other.delegate = cf(OTHERS[1]);
    assert_eq!(
        g.decide(asked(other), &policy).unwrap_err().code(),
        "conflict"
    );
}

// ---------------------------------------------------------------- D2

#[tokio::test]
async fn d2_cap_rejects_fourth_ordinary_delegation() {
    let given = (0..3)
        .map(|i| seat(&format!("d-{i}"), OTHERS[i], Role::Ordinary, None))
        .collect();
    TestFramework::<Delegate>::with(Policy::default())
        .given(given)
        .when_async(reserve("d-9", OTHERS[3], Role::Ordinary, t0()))
        .await
        .then_expect_error(DelegationError::DelegateCapReached { cap: 3 });
}

#[test]
fn d2_third_ordinary_delegation_is_accepted() {
    let d = delegate_with(
        (0..2)
            .map(|i| seat(&format!("d-{i}"), OTHERS[i], Role::Ordinary, None))
            .collect(),
    );
    let events = d
        .decide(
            reserve("d-9", OTHERS[3], Role::Ordinary, t0()),
            &Policy::default(),
        )
        .unwrap();
    assert_eq!(events.len(), 1);
}

#[test]
fn d2_cap_is_policy_not_code() {
    let policy = Policy {
        max_ordinary_delegations_per_delegate: 5,
        ..Policy::default()
    };
    let given: Vec<_> = (0..4)
        .map(|i| seat(&format!("d-{i}"), OTHERS[i], Role::Ordinary, None))
        .collect();
    let d = delegate_with(given.clone());
    assert!(d
        .decide(reserve("d-9", OTHERS[4], Role::Ordinary, t0()), &policy)
        .is_ok());
    let mut five = given;
    five.push(seat("d-4", OTHERS[4], Role::Ordinary, None));
    let d = delegate_with(five);
    assert_eq!(
        d.decide(reserve("d-9", OTHERS[5], Role::Ordinary, t0()), &policy),
        Err(DelegationError::DelegateCapReached { cap: 5 })
    );
}

#[test]
fn d2_released_and_expired_seats_do_not_count() {
    let mut given: Vec<_> = (0..3)
        .map(|i| seat(&format!("d-{i}"), OTHERS[i], Role::Ordinary, None))
        .collect();
    given.push(DelegateEvent::SeatReleased {
        id: id("d-0"),
        grantor: cf(OTHERS[0]),
        delegate: cf(DELEGATE),
        at: days(1),
    });
    let d = delegate_with(given);
    assert!(d
        .decide(
            reserve("d-9", OTHERS[3], Role::Ordinary, days(2)),
            &Policy::default()
        )
        .is_ok());

    // D7: one seat ends on 10 December; from the 11th it no longer counts.
    let d = delegate_with(vec![
        seat("d-0", OTHERS[0], Role::Ordinary, Some(date(2026, 12, 10))),
        seat("d-1", OTHERS[1], Role::Ordinary, None),
        seat("d-2", OTHERS[2], Role::Ordinary, None),
    ]);
    let policy = Policy::default();
    assert!(d
        .decide(reserve("d-9", OTHERS[3], Role::Ordinary, days(9)), &policy)
        .is_err());
    assert!(d
        .decide(reserve("d-9", OTHERS[3], Role::Ordinary, days(10)), &policy)
        .is_ok());
}

#[test]
fn d10_a_released_seat_is_never_taken_again_by_a_replayed_reservation() {
    let released = DelegateEvent::SeatReleased {
        id: id("d-0"),
        grantor: cf(OTHERS[0]),
        delegate: cf(DELEGATE),
        at: days(1),
    };
    let d = delegate_with(vec![
        seat("d-0", OTHERS[0], Role::Ordinary, None),
        released.clone(),
    ]);
    assert_eq!(
        d.decide(
            reserve("d-0", OTHERS[0], Role::Ordinary, days(2)),
            &Policy::default()
        ),
        Err(DelegationError::SeatReleased(id("d-0")))
    );
    // Closing a seat never taken (a refused registration) also tombstones it.
    let release = DelegateCommand::ReleaseSeat {
        id: id("d-5"),
        grantor: cf(OTHERS[1]),
        delegate: cf(DELEGATE),
        at: days(1),
    };
    let events = Delegate::default()
        .decide(release.clone(), &Policy::default())
        .unwrap();
    assert_eq!(events.len(), 1);
    let closed = delegate_with(events);
    assert_eq!(closed.decide(release, &Policy::default()), Ok(vec![]));
    assert!(closed
        .decide(
            reserve("d-5", OTHERS[1], Role::Ordinary, days(2)),
            &Policy::default()
        )
        .is_err());
}

#[test]
fn d2_reserving_the_same_seat_twice_is_idempotent() {
    let d = delegate_with(vec![seat("d-0", OTHERS[0], Role::Ordinary, None)]);
    assert_eq!(
        d.decide(
            reserve("d-0", OTHERS[0], Role::Ordinary, t0()),
            &Policy::default()
        ),
        Ok(vec![])
    );
}

// ---------------------------------------------------------------- D3

#[test]
fn d3_cap_does_not_apply_to_legal_representatives() {
    let policy = Policy::default();
    let full = delegate_with(
        (0..3)
            .map(|i| seat(&format!("d-{i}"), OTHERS[i], Role::Ordinary, None))
            .collect(),
    );
    for role in [
        Role::Tutor,
        Role::Curator,
        Role::SupportAdministrator,
        Role::Parent,
    ] {
        assert!(
            full.decide(reserve("d-9", OTHERS[3], role, t0()), &policy)
                .is_ok(),
            "{role:?} refused"
        );
    }
}

#[test]
fn d3_legal_representative_seats_do_not_count_toward_the_cap() {
    let mut given: Vec<_> = (0..5)
        .map(|i| seat(&format!("t-{i}"), OTHERS[i], Role::Tutor, None))
        .collect();
    given.push(seat("d-0", OTHERS[5], Role::Ordinary, None));
    let d = delegate_with(given);
    assert_eq!(d.ordinary_seats(t0()), 1);
    assert!(d
        .decide(
            reserve("d-9", GRANTOR, Role::Ordinary, t0()),
            &Policy::default()
        )
        .is_ok());
}

// ---------------------------------------------------------------- D4

#[tokio::test]
async fn d4_nobody_delegates_to_themselves() {
    let r = request("d-1", GRANTOR, GRANTOR, Role::Ordinary, Channel::Counter);
    TestFramework::<Grantor>::with(Policy::default())
        .given_no_previous_events()
        .when_async(asked(r))
        .await
        .then_expect_error(DelegationError::SelfDelegation);
}

// ---------------------------------------------------------------- D5

#[test]
fn d5_online_registration_is_for_ordinary_delegations_only() {
    let policy = Policy::default();
    let r = request("d-1", GRANTOR, DELEGATE, Role::Tutor, Channel::Online);
    assert_eq!(
        Grantor::default().decide(asked(r), &policy),
        Err(DelegationError::LegalRepresentativeNeedsCounter)
    );
}

#[test]
fn d5_pec_is_for_legal_representatives() {
    let policy = Policy::default();
    let r = request("d-1", GRANTOR, DELEGATE, Role::Ordinary, Channel::Pec);
    assert_eq!(
        Grantor::default().decide(asked(r), &policy),
        Err(DelegationError::PecNeedsLegalRepresentative)
    );
    let r = request("d-1", GRANTOR, DELEGATE, Role::Curator, Channel::Pec);
    assert!(Grantor::default().decide(asked(r), &policy).is_ok());
}

#[test]
fn d5_counter_and_web_meeting_take_every_role() {
    let policy = Policy::default();
    for channel in [Channel::Counter, Channel::WebMeeting] {
        for role in [Role::Ordinary, Role::Tutor, Role::Parent] {
            let r = request("d-1", GRANTOR, DELEGATE, role, channel);
            assert!(Grantor::default().decide(asked(r), &policy).is_ok());
        }
    }
}

// ---------------------------------------------------------------- D6

#[test]
fn d6_ordinary_delegation_is_active_once_registered() {
    let (_, given) = active_online();
    let g = grantor_with(given);
    assert_eq!(
        g.delegation(&id("d-1")).unwrap().status(t0()),
        Status::Active
    );
}

#[tokio::test]
async fn d6_legal_representative_delegation_awaits_confirmation() {
    let r = request("d-1", GRANTOR, DELEGATE, Role::Tutor, Channel::Counter);
    TestFramework::<Grantor>::with(Policy::default())
        .given(vec![requested(&r)])
        .when_async(GrantorCommand::CompleteRegistration {
            id: r.id.clone(),
            at: t0(),
        })
        .await
        .then_expect_events(vec![registered(&r, t0())]);
    let g = grantor_with(vec![requested(&r), registered(&r, t0())]);
    let d = g.delegation(&r.id).unwrap();
    assert_eq!(d.status(t0()), Status::AwaitingConfirmation);
    assert!(!d.is_active(t0()), "D9: not usable before confirmation");
}

#[test]
fn d6_operator_confirms_or_rejects_only_what_awaits_confirmation() {
    let policy = Policy::default();
    let r = request("d-1", GRANTOR, DELEGATE, Role::Tutor, Channel::Counter);
    let given = vec![requested(&r), registered(&r, t0())];
    let g = grantor_with(given.clone());
    let confirmed = g
        .decide(
            GrantorCommand::Confirm {
                id: r.id.clone(),
                at: days(3),
            },
            &policy,
        )
        .unwrap();
    let mut after = given.clone();
    after.extend(confirmed);
    let g2 = grantor_with(after);
    assert_eq!(
        g2.delegation(&r.id).unwrap().status(days(3)),
        Status::Active
    );
    assert_eq!(
        g2.decide(
            GrantorCommand::Confirm {
                id: r.id.clone(),
                at: days(4)
            },
            &policy
        ),
        Err(DelegationError::NotAwaitingConfirmation)
    );
    assert_eq!(
        g2.decide(
            GrantorCommand::Reject {
                id: r.id.clone(),
                at: days(4)
            },
            &policy
        ),
        Err(DelegationError::NotAwaitingConfirmation)
    );

    let rejected = g
        .decide(
            GrantorCommand::Reject {
                id: r.id.clone(),
                at: days(3),
            },
            &policy,
        )
        .unwrap();
    let mut after = given;
    after.extend(rejected);
    let g3 = grantor_with(after);
    assert_eq!(
        g3.delegation(&r.id).unwrap().status(days(3)),
        Status::Rejected
    );
    assert!(
        g3.current(days(3)).is_none(),
        "a rejected delegation frees the grantor"
    );
}

// ---------------------------------------------------------------- D7

#[test]
fn d7_online_delegation_lasts_at_least_thirty_days() {
    let policy = Policy::default();
    let mut r = request("d-1", GRANTOR, DELEGATE, Role::Ordinary, Channel::Online);
    r.ends_on = Some(date(2026, 12, 30));
    assert_eq!(
        Grantor::default().decide(asked(r.clone()), &policy),
        Err(DelegationError::EndDateTooSoon {
            earliest: date(2026, 12, 31)
        })
    );
    r.ends_on = Some(date(2026, 12, 31));
    assert!(Grantor::default().decide(asked(r), &policy).is_ok());
}

#[test]
fn d7_counter_delegation_needs_an_end_date_after_today() {
    let policy = Policy::default();
    let mut r = request("d-1", GRANTOR, DELEGATE, Role::Ordinary, Channel::Counter);
    r.ends_on = Some(date(2026, 12, 1));
    assert_eq!(
        Grantor::default().decide(asked(r.clone()), &policy),
        Err(DelegationError::EndDateTooSoon {
            earliest: date(2026, 12, 2)
        })
    );
    r.ends_on = Some(date(2026, 12, 2));
    assert!(Grantor::default().decide(asked(r), &policy).is_ok());
}

#[test]
fn d7_past_its_end_date_a_delegation_is_expired_and_frees_the_grantor() {
    let mut r = request("d-1", GRANTOR, DELEGATE, Role::Ordinary, Channel::Counter);
    r.ends_on = Some(date(2026, 12, 10));
    let g = grantor_with(vec![requested(&r), registered(&r, t0())]);
    let d = g.delegation(&r.id).unwrap();
    // 10 December, 23:30 in Rome is still in force; the 11th is not.
    let last_evening = Utc.with_ymd_and_hms(2026, 12, 10, 22, 30, 0).unwrap();
    let next_morning = Utc.with_ymd_and_hms(2026, 12, 10, 23, 30, 0).unwrap();
    assert_eq!(d.status(last_evening), Status::Active);
    assert_eq!(d.status(next_morning), Status::Expired);
    assert!(g.current(next_morning).is_none());
    let mut second = request("d-2", GRANTOR, OTHERS[0], Role::Ordinary, Channel::Online);
    second.at = next_morning;
    assert!(g.decide(asked(second.clone()), &Policy::default()).is_ok());
    second.at = last_evening;
    assert!(g.decide(asked(second), &Policy::default()).is_err());
}

/// D6, D7: a legal representative's delegation still awaiting
/// confirmation past its end date is expired too, and no longer occupies
/// the grantor.
#[test]
fn d7_an_awaiting_delegation_past_its_end_date_is_expired() {
    let mut r = request("d-1", GRANTOR, DELEGATE, Role::Tutor, Channel::Counter);
    r.ends_on = Some(date(2026, 12, 10));
    let g = grantor_with(vec![requested(&r), registered(&r, t0())]);
    let d = g.delegation(&r.id).unwrap();
    let last_evening = Utc.with_ymd_and_hms(2026, 12, 10, 22, 30, 0).unwrap();
    let next_morning = Utc.with_ymd_and_hms(2026, 12, 10, 23, 30, 0).unwrap();
    assert_eq!(d.status(last_evening), Status::AwaitingConfirmation);
    assert_eq!(d.status(next_morning), Status::Expired);
    assert!(g.current(next_morning).is_none());
}

// ---------------------------------------------------------------- D8

/// Revocation of `d-1` as its channel has it: online by the grantor in
/// person, at a counter by an operator.
fn revoke(channel: RevocationChannel, at: DateTime<Utc>) -> GrantorCommand {
    let by = match channel {
        RevocationChannel::Online => Issuer::citizen(cf(GRANTOR)),
        RevocationChannel::Counter => Issuer::operator("op-1@DCM NAPOLI"),
    };
    GrantorCommand::Revoke {
        id: id("d-1"),
        channel,
        at,
        by,
    }
}

/// D8: a revoked delegation says when it was revoked; one in force does
/// not.
#[test]
fn d8_a_revoked_delegation_knows_when() {
    let (r, mut given) = active_online();
    assert_eq!(
        grantor_with(given.clone())
            .delegation(&r.id)
            .unwrap()
            .revoked_at(),
        None
    );
    given.extend(
        grantor_with(given.clone())
            .decide(
                revoke(RevocationChannel::Counter, days(3)),
                &Policy::default(),
            )
            .unwrap(),
    );
    let g = grantor_with(given);
    let d = g.delegation(&r.id).unwrap();
    assert_eq!(d.revoked_at(), Some(days(3)));
    assert_eq!(d.status(days(4)), Status::Revoked);
}

#[test]
fn d8_online_revocation_before_thirty_days_is_refused_with_the_first_allowed_date() {
    let (_, given) = active_online();
    let g = grantor_with(given);
    let policy = Policy::default();
    let from = date(2026, 12, 1).checked_add_days(Days::new(30)).unwrap();
    assert_eq!(
        g.decide(revoke(RevocationChannel::Online, days(29)), &policy),
        Err(DelegationError::OnlineRevocationTooEarly {
            revocable_online_from: from
        })
    );
    assert_eq!(
        g.delegation(&id("d-1"))
            .unwrap()
            .revocable_online_from(&policy),
        Some(from)
    );
    let events = g
        .decide(revoke(RevocationChannel::Online, days(30)), &policy)
        .unwrap();
    assert!(matches!(
        events.as_slice(),
        [GrantorEvent::DelegationRevoked {
            channel: RevocationChannel::Online,
            ..
        }]
    ));
}

#[test]
fn d8_counter_revocation_is_allowed_at_any_time() {
    let (_, given) = active_online();
    let g = grantor_with(given);
    assert!(g
        .decide(revoke(RevocationChannel::Counter, t0()), &Policy::default())
        .is_ok());
}

#[test]
fn d8_only_an_active_delegation_is_revoked() {
    let (r, mut given) = active_online();
    given.push(GrantorEvent::DelegationRevoked {
        id: r.id.clone(),
        grantor: r.grantor.clone(),
        delegate: r.delegate.clone(),
        channel: RevocationChannel::Counter,
        at: days(1),
    });
    let g = grantor_with(given);
    let policy = Policy::default();
    assert_eq!(
        g.decide(revoke(RevocationChannel::Counter, days(2)), &policy),
        Err(DelegationError::NotActive)
    );
    assert_eq!(
        g.decide(revoke(RevocationChannel::Online, days(40)), &policy),
        Err(DelegationError::NotActive)
    );
    assert_eq!(
        Grantor::default().decide(revoke(RevocationChannel::Counter, t0()), &policy),
        Err(DelegationError::NotFound(id("d-1")))
    );
}

#[test]
fn d8_legal_representative_delegation_is_revoked_at_a_counter() {
    let r = request(
        "d-1",
        GRANTOR,
        DELEGATE,
        Role::SupportAdministrator,
        Channel::Counter,
    );
    let g = grantor_with(vec![
        requested(&r),
        registered(&r, t0()),
        GrantorEvent::DelegationConfirmed {
            id: r.id.clone(),
            grantor: r.grantor.clone(),
            delegate: r.delegate.clone(),
            at: t0(),
        },
    ]);
    let policy = Policy::default();
    assert_eq!(
        g.decide(revoke(RevocationChannel::Online, days(60)), &policy),
        Err(DelegationError::RevocationNeedsCounter)
    );
    assert!(g
        .decide(revoke(RevocationChannel::Counter, days(1)), &policy)
        .is_ok());
}

// ---------------------------------------------------------------- D9

#[test]
fn d9_delegate_acts_only_while_the_delegation_is_active() {
    let (r, given) = active_online();
    let pending = grantor_with(vec![requested(&r)]);
    assert!(!pending.delegation(&r.id).unwrap().is_active(t0()));
    let active = grantor_with(given.clone());
    assert!(active.delegation(&r.id).unwrap().is_active(t0()));
    let mut revoked = given;
    revoked.push(GrantorEvent::DelegationRevoked {
        id: r.id.clone(),
        grantor: r.grantor.clone(),
        delegate: r.delegate.clone(),
        channel: RevocationChannel::Counter,
        at: days(1),
    });
    let revoked = grantor_with(revoked);
    assert!(!revoked.delegation(&r.id).unwrap().is_active(days(1)));
}

// ---------------------------------------------------------------- D12

fn acting() -> Issuer {
    Issuer::delegate_for(cf(DELEGATE), cf(GRANTOR))
}

fn act_for(delegate: &str, at: DateTime<Utc>) -> GrantorCommand {
    GrantorCommand::ActFor {
        delegate: cf(delegate),
        action: "booking.request".into(),
        at,
    }
}

#[test]
fn d12_a_delegate_acting_for_the_grantor_cannot_register_a_delegation() {
    let policy = Policy::default();
    for channel in [Channel::Online, Channel::Counter, Channel::Pec] {
        let role = if channel == Channel::Pec {
            Role::Tutor
        } else {
            Role::Ordinary
        };
        let r = request("d-1", GRANTOR, OTHERS[0], role, channel);
        assert_eq!(
            Grantor::default().decide(r.issued_by(acting()), &policy),
            Err(DelegationError::NotAllowedWhenActing),
            "{channel:?}"
        );
    }
    // Not even a retry of a request already stored is answered.
    let (r, given) = active_online();
    assert_eq!(
        grantor_with(given).decide(r.issued_by(acting()), &policy),
        Err(DelegationError::NotAllowedWhenActing)
    );
    assert_eq!(
        DelegationError::NotAllowedWhenActing.code(),
        "not_allowed_when_acting"
    );
}

#[test]
fn d12_a_delegate_acting_for_the_grantor_cannot_revoke_on_any_channel() {
    let (_, given) = active_online();
    let g = grantor_with(given);
    for channel in [RevocationChannel::Online, RevocationChannel::Counter] {
        let command = GrantorCommand::Revoke {
            id: id("d-1"),
            channel,
            at: days(40),
            by: acting(),
        };
        assert_eq!(
            g.decide(command, &Policy::default()),
            Err(DelegationError::NotAllowedWhenActing),
            "{channel:?}"
        );
    }
}

#[test]
fn d12_online_only_the_grantor_in_person_registers_or_revokes() {
    let policy = Policy::default();
    let r = request("d-1", GRANTOR, DELEGATE, Role::Ordinary, Channel::Online);
    for by in [
        Issuer::citizen(cf(OTHERS[0])),
        Issuer::operator("op-1@DCM NAPOLI"),
        Issuer::system(),
    ] {
        assert_eq!(
            Grantor::default().decide(r.clone().issued_by(by.clone()), &policy),
            Err(DelegationError::NotTheGrantor),
            "{by}"
        );
    }
    let (_, given) = active_online();
    let g = grantor_with(given);
    let by_other = GrantorCommand::Revoke {
        id: id("d-1"),
        channel: RevocationChannel::Online,
        at: days(40),
        by: Issuer::citizen(cf(DELEGATE)),
    };
    assert_eq!(
        g.decide(by_other, &policy),
        Err(DelegationError::NotTheGrantor)
    );
    assert!(g
        .decide(revoke(RevocationChannel::Online, days(40)), &policy)
        .is_ok());
}

#[test]
fn d12_acting_for_the_grantor_is_decided_on_the_delegation_as_it_stands() {
    let policy = Policy::default();
    let (r, given) = active_online();
    let active = grantor_with(given.clone());
    assert_eq!(
        active.decide(act_for(DELEGATE, days(1)), &policy),
        Ok(vec![GrantorEvent::DelegateActed {
            id: r.id.clone(),
            grantor: r.grantor.clone(),
            delegate: r.delegate.clone(),
            action: "booking.request".into(),
            at: days(1),
        }])
    );
    // Someone else is not the delegate.
    assert_eq!(
        active.decide(act_for(OTHERS[0], days(1)), &policy),
        Err(DelegationError::NoActiveDelegation)
    );
    // Not yet registered, revoked, or past its end date: no longer.
    let pending = grantor_with(vec![requested(&r)]);
    assert_eq!(
        pending.decide(act_for(DELEGATE, t0()), &policy),
        Err(DelegationError::NoActiveDelegation)
    );
    let mut revoked = given.clone();
    revoked.push(GrantorEvent::DelegationRevoked {
        id: r.id.clone(),
        grantor: r.grantor.clone(),
        delegate: r.delegate.clone(),
        channel: RevocationChannel::Counter,
        at: days(1),
    });
    assert_eq!(
        grantor_with(revoked).decide(act_for(DELEGATE, days(2)), &policy),
        Err(DelegationError::NoActiveDelegation)
    );
    let mut ending = r.clone();
    ending.ends_on = Some(date(2027, 1, 31));
    let ends = grantor_with(vec![requested(&ending), registered(&ending, t0())]);
    assert!(ends.decide(act_for(DELEGATE, days(30)), &policy).is_ok());
    assert_eq!(
        ends.decide(act_for(DELEGATE, days(70)), &policy),
        Err(DelegationError::NoActiveDelegation)
    );
    // A legal representative's delegation awaiting confirmation is not active.
    let tutor = request("d-9", GRANTOR, DELEGATE, Role::Tutor, Channel::Counter);
    let awaiting = grantor_with(vec![requested(&tutor), registered(&tutor, t0())]);
    assert_eq!(
        awaiting.decide(act_for(DELEGATE, t0()), &policy),
        Err(DelegationError::NoActiveDelegation)
    );
    assert_eq!(
        DelegationError::NoActiveDelegation.code(),
        "no_active_delegation"
    );
}

#[test]
fn d12_acting_for_the_grantor_changes_no_delegation() {
    let (r, given) = active_online();
    let before = grantor_with(given.clone());
    let mut after = given;
    after.extend(
        before
            .decide(act_for(DELEGATE, days(1)), &Policy::default())
            .unwrap(),
    );
    let after = grantor_with(after);
    assert_eq!(after.delegations(), before.delegations());
    assert_eq!(after.current(days(1)).map(|d| &d.id), Some(&r.id));
}

// ---------------------------------------------------------------- the events

/// Every grantor event on `r`'s delegation, the n-th carrying `days(n)`.
fn every_grantor_event(r: &RequestDelegation) -> Vec<GrantorEvent> {
    let (grantor, delegate) = (r.grantor.clone(), r.delegate.clone());
    vec![
        requested(r),
        registered(r, days(1)),
        GrantorEvent::DelegationRefused {
            id: r.id.clone(),
            grantor: grantor.clone(),
            delegate: delegate.clone(),
            reason: "delegate_cap_reached".into(),
            refusal: Some(DelegationError::DelegateCapReached { cap: 3 }),
            meeting: None,
            at: days(2),
        },
        GrantorEvent::DelegationConfirmed {
            id: r.id.clone(),
            grantor: grantor.clone(),
            delegate: delegate.clone(),
            at: days(3),
        },
        GrantorEvent::DelegationRejected {
            id: r.id.clone(),
            grantor: grantor.clone(),
            delegate: delegate.clone(),
            at: days(4),
        },
        GrantorEvent::DelegationRevoked {
            id: r.id.clone(),
            grantor: grantor.clone(),
            delegate: delegate.clone(),
            channel: RevocationChannel::Counter,
            at: days(5),
        },
        GrantorEvent::DelegateActed {
            id: r.id.clone(),
            grantor,
            delegate,
            action: "booking.request".into(),
            at: days(6),
        },
    ]
}

#[test]
fn grantor_events_name_their_delegation_and_carry_their_instant() {
    let r = request("d-1", GRANTOR, DELEGATE, Role::Tutor, Channel::Counter);
    let events = every_grantor_event(&r);
    assert_eq!(events.len(), 7, "one of each");
    for (n, event) in events.iter().enumerate() {
        assert_eq!(event.delegation_id(), &r.id, "{event:?}");
        assert_eq!(event.at(), days(n as u64), "{event:?}");
    }
}

/// D10: a grantor's pending delegations are those whose registration flow
/// has not ended: requested, neither registered nor refused yet.
#[test]
fn d10_the_pending_delegations_are_those_whose_flow_has_not_ended() {
    let r = request("d-1", GRANTOR, DELEGATE, Role::Tutor, Channel::Counter);
    let pending = |g: &Grantor| g.pending().map(|d| d.id.to_string()).collect::<Vec<_>>();
    assert_eq!(pending(&grantor_with(vec![requested(&r)])), ["d-1"]);
    let registered = grantor_with(vec![requested(&r), registered(&r, days(1))]);
    assert!(pending(&registered).is_empty());
}

/// D10: the flow's completion step repeated (a replay after a crash) on a
/// delegation it already registered is no event, whether it is active or
/// awaiting confirmation (D6).
#[test]
fn d10_a_repeated_completion_of_a_registered_delegation_is_no_event() {
    for role in [Role::Ordinary, Role::Tutor] {
        let r = request("d-1", GRANTOR, DELEGATE, role, Channel::Counter);
        let g = grantor_with(vec![requested(&r), registered(&r, days(1))]);
        let again = GrantorCommand::CompleteRegistration {
            id: id("d-1"),
            at: days(2),
        };
        assert_eq!(g.decide(again, &Policy::default()), Ok(vec![]), "{role:?}");
    }
}

/// D6, D8: each command on one of a grantor's delegations (its request,
/// the flow's steps, a confirmation, a rejection, a revocation) names that
/// delegation, by which the service finds it; acting for the grantor (D9)
/// names none, being about whichever delegation is active.
#[test]
fn d8_a_command_on_a_delegation_names_it_and_acting_for_names_none() {
    let r = request("d-1", GRANTOR, DELEGATE, Role::Tutor, Channel::Counter);
    let by = Issuer::citizen(cf(GRANTOR));
    let at = days(1);
    let d1 = || id("d-1");
    for command in [
        r.issued_by(by.clone()),
        GrantorCommand::CompleteRegistration { id: d1(), at },
        GrantorCommand::RefuseRegistration {
            id: d1(),
            refusal: DelegationError::DelegateCapReached { cap: 3 },
            at,
        },
        GrantorCommand::Confirm { id: d1(), at },
        GrantorCommand::Reject { id: d1(), at },
        GrantorCommand::Revoke {
            id: d1(),
            channel: RevocationChannel::Online,
            at,
            by,
        },
    ] {
        assert_eq!(command.delegation_id(), Some(&d1()), "{command:?}");
    }
    assert_eq!(act_for(DELEGATE, at).delegation_id(), None);
}

/// The names a grantor's events are stored under, fixed: they are the
/// serde tags of the stored JSON and the names the upcasters and the read
/// side look for, at version 1.0 (renaming one is a break of the stored
/// format, not a refactoring).
#[test]
fn grantor_events_are_stored_under_their_own_names() {
    let r = request("d-1", GRANTOR, DELEGATE, Role::Tutor, Channel::Counter);
    let mut names = Vec::new();
    for event in &every_grantor_event(&r) {
        let json = serde_json::to_value(event).unwrap();
        let tag = json.as_object().unwrap().keys().next().unwrap().clone();
        assert_eq!(cqrs_es::DomainEvent::event_type(event), tag);
        assert_eq!(cqrs_es::DomainEvent::event_version(event), "1.0");
        names.push(tag);
    }
    assert_eq!(
        names,
        [
            "DelegationRequested",
            "DelegationRegistered",
            "DelegationRefused",
            "DelegationConfirmed",
            "DelegationRejected",
            "DelegationRevoked",
            "DelegateActed"
        ]
    );
}

/// D3, D5: the roles and the registration channels have the wire names of
/// the HTTP contract and of the stored events, the ones their serialised
/// forms carry; so do the statuses a client sees.
#[test]
fn d3_d5_role_channel_and_status_names_are_those_of_the_http_contract() {
    fn wire<T: serde::Serialize>(value: T) -> serde_json::Value {
        serde_json::to_value(value).unwrap()
    }
    for (role, name) in [
        (Role::Ordinary, "ordinary"),
        (Role::Tutor, "tutor"),
        (Role::Curator, "curator"),
        (Role::SupportAdministrator, "support_administrator"),
        (Role::Parent, "parent"),
    ] {
        assert_eq!(role.as_str(), name);
        assert_eq!(wire(role), name);
    }
    for (channel, name) in [
        (Channel::Online, "online"),
        (Channel::Counter, "counter"),
        (Channel::WebMeeting, "web_meeting"),
        (Channel::Pec, "pec"),
    ] {
        assert_eq!(channel.as_str(), name);
        assert_eq!(wire(channel), name);
    }
    for (status, name) in [
        (Status::Pending, "pending"),
        (Status::AwaitingConfirmation, "awaiting_confirmation"),
        (Status::Active, "active"),
        (Status::Revoked, "revoked"),
        (Status::Expired, "expired"),
        (Status::Rejected, "rejected"),
        (Status::Refused, "refused"),
    ] {
        assert_eq!(status.as_str(), name);
        assert_eq!(wire(status), name);
    }
}

#[test]
fn stage_names_are_those_the_read_side_stores() {
    for (stage, name) in [
        (Stage::Pending, "pending"),
        (Stage::AwaitingConfirmation, "awaiting_confirmation"),
        (Stage::Active, "active"),
        (
            Stage::Revoked {
                at: t0(),
                channel: RevocationChannel::Online,
            },
            "revoked",
        ),
        (Stage::Rejected { at: t0() }, "rejected"),
        (
            Stage::Refused {
                at: t0(),
                reason: "delegate_cap_reached".into(),
                refusal: None,
            },
            "refused",
        ),
    ] {
        assert_eq!(stage.as_str(), name);
        assert_eq!(serde_json::to_value(&stage).unwrap()["stage"], name);
    }
}

#[test]
fn delegate_events_name_their_delegation_and_carry_their_instant() {
    let reserved = seat("d-1", GRANTOR, Role::Ordinary, None);
    let released = DelegateEvent::SeatReleased {
        id: id("d-1"),
        grantor: cf(GRANTOR),
        delegate: cf(DELEGATE),
        at: days(1),
    };
    assert_eq!(reserved.delegation_id(), &id("d-1"));
    assert_eq!(reserved.at(), t0());
    assert_eq!(released.delegation_id(), &id("d-1"));
    assert_eq!(released.at(), days(1));
}

// ---------------------------------------------------------------- one delegation

#[test]
fn a_request_starts_a_pending_delegation_and_nothing_else_does() {
    let r = request("d-1", GRANTOR, DELEGATE, Role::Tutor, Channel::Counter);
    let events = every_grantor_event(&r);
    let d = Delegation::requested(&events[0]).unwrap();
    assert_eq!(
        d,
        Delegation {
            id: r.id.clone(),
            grantor: cf(GRANTOR),
            delegate: cf(DELEGATE),
            role: Role::Tutor,
            channel: Channel::Counter,
            ends_on: None,
            meeting: None,
            evidence: r.evidence.clone(),
            requested_at: t0(),
            registered_at: None,
            stage: Stage::Pending,
        }
    );
    for event in &events[1..] {
        assert_eq!(Delegation::requested(event), None, "{event:?}");
    }
}

#[test]
fn a_delegation_follows_its_events() {
    let r = request("d-1", GRANTOR, DELEGATE, Role::Tutor, Channel::Counter);
    let events = every_grantor_event(&r);
    let pending = Delegation::requested(&events[0]).unwrap();
    let after = |indexes: &[usize]| {
        let mut d = pending.clone();
        for &i in indexes {
            d.apply(&events[i]);
        }
        d
    };
    // D6: registered awaiting confirmation, then confirmed, then revoked.
    let awaiting = after(&[1]);
    assert_eq!(awaiting.stage, Stage::AwaitingConfirmation);
    assert_eq!(awaiting.registered_at, Some(days(1)));
    assert_eq!(after(&[1, 3]).stage, Stage::Active);
    assert_eq!(
        after(&[1, 3, 5]).stage,
        Stage::Revoked {
            at: days(5),
            channel: RevocationChannel::Counter
        }
    );
    assert_eq!(after(&[1, 4]).stage, Stage::Rejected { at: days(4) });
    assert_eq!(
        after(&[2]).stage,
        Stage::Refused {
            at: days(2),
            reason: "delegate_cap_reached".into(),
            refusal: Some(DelegationError::DelegateCapReached { cap: 3 }),
        }
    );
    // An ordinary delegation is active once registered.
    let ordinary = request("d-2", GRANTOR, DELEGATE, Role::Ordinary, Channel::Online);
    let mut d = Delegation::requested(&requested(&ordinary)).unwrap();
    d.apply(&registered(&ordinary, days(1)));
    assert_eq!(d.stage, Stage::Active);
    assert_eq!(d.registered_at, Some(days(1)));
}

#[test]
fn a_delegation_ignores_its_request_the_guard_and_other_delegations() {
    let r = request("d-1", GRANTOR, DELEGATE, Role::Tutor, Channel::Counter);
    let events = every_grantor_event(&r);
    let pending = Delegation::requested(&events[0]).unwrap();
    let mut d = pending.clone();
    d.apply(&events[0]);
    d.apply(&events[6]); // DelegateActed: D12's guard changes no delegation.
    assert_eq!(d, pending);
    let other = request("d-9", GRANTOR, DELEGATE, Role::Tutor, Channel::Counter);
    for event in every_grantor_event(&other) {
        d.apply(&event);
    }
    assert_eq!(d, pending);
}

#[test]
fn one_row_per_delegation_applying_each_event_is_the_grantors_state() {
    // What a read model does with the grantor's events: one delegation per
    // id, started by its request, changed by every later event about it.
    let policy = Policy::default();
    let first = request("d-1", GRANTOR, DELEGATE, Role::Ordinary, Channel::Counter);
    let second = request("d-2", GRANTOR, OTHERS[0], Role::Ordinary, Channel::Counter);
    let mut grantor = Grantor::default();
    let mut log = vec![];
    let commands = [
        asked(first.clone()),
        GrantorCommand::CompleteRegistration {
            id: first.id.clone(),
            at: days(1),
        },
        revoke(RevocationChannel::Counter, days(2)),
        asked(RequestDelegation {
            at: days(3),
            ..second.clone()
        }),
        GrantorCommand::RefuseRegistration {
            id: second.id.clone(),
            refusal: DelegationError::DelegateCapReached { cap: 3 },
            at: days(3),
        },
    ];
    for command in commands {
        for event in grantor.decide(command, &policy).unwrap() {
            cqrs_es::Aggregate::apply(&mut grantor, event.clone());
            log.push(event);
        }
    }
    let mut rows: std::collections::BTreeMap<DelegationId, Delegation> = Default::default();
    for event in &log {
        match Delegation::requested(event) {
            Some(d) => {
                rows.insert(d.id.clone(), d);
            }
            None => rows.get_mut(event.delegation_id()).unwrap().apply(event),
        }
    }
    assert_eq!(
        rows.into_values().collect::<Vec<_>>(),
        grantor.delegations()
    );
}

// ---------------------------------------------------------------- the flow

#[test]
fn d10_flow_reserves_a_seat_after_the_request_then_completes() {
    let r = request("d-1", GRANTOR, DELEGATE, Role::Ordinary, Channel::Online);
    let next = after_grantor_event(&requested(&r), t0()).unwrap();
    assert_eq!(
        next,
        FlowCommand::Delegate {
            delegate: cf(DELEGATE),
            command: DelegateCommand::ReserveSeat {
                id: r.id.clone(),
                grantor: cf(GRANTOR),
                delegate: cf(DELEGATE),
                role: Role::Ordinary,
                ends_on: None,
                at: t0(),
            },
        }
    );
    let seat = seat("d-1", GRANTOR, Role::Ordinary, None);
    assert_eq!(
        after_delegate_event(&seat, t0()),
        Some(FlowCommand::Grantor {
            grantor: cf(GRANTOR),
            command: GrantorCommand::CompleteRegistration {
                id: r.id.clone(),
                at: t0()
            },
        })
    );
    assert_eq!(after_grantor_event(&registered(&r, t0()), t0()), None);
}

#[test]
fn d10_flow_refuses_the_registration_when_the_seat_is_refused() {
    let reserve = FlowCommand::Delegate {
        delegate: cf(DELEGATE),
        command: reserve("d-1", GRANTOR, Role::Ordinary, t0()),
    };
    let next = after_refusal(
        &reserve,
        &DelegationError::DelegateCapReached { cap: 3 },
        t0(),
    );
    assert_eq!(
        next,
        Some(FlowCommand::Grantor {
            grantor: cf(GRANTOR),
            command: GrantorCommand::RefuseRegistration {
                id: id("d-1"),
                refusal: DelegationError::DelegateCapReached { cap: 3 },
                at: t0(),
            },
        })
    );
}

#[test]
fn d10_flow_gives_back_a_seat_reserved_for_a_closed_delegation() {
    let complete = FlowCommand::Grantor {
        grantor: cf(GRANTOR),
        command: GrantorCommand::CompleteRegistration {
            id: id("d-1"),
            at: t0(),
        },
    };
    let error = DelegationError::NoLongerPending {
        id: id("d-1"),
        delegate: cf(DELEGATE),
    };
    assert_eq!(
        after_refusal(&complete, &error, t0()),
        Some(FlowCommand::Delegate {
            delegate: cf(DELEGATE),
            command: DelegateCommand::ReleaseSeat {
                id: id("d-1"),
                grantor: cf(GRANTOR),
                delegate: cf(DELEGATE),
                at: t0()
            },
        })
    );
    for closing in [
        GrantorEvent::DelegationRevoked {
            id: id("d-1"),
            grantor: cf(GRANTOR),
            delegate: cf(DELEGATE),
            channel: RevocationChannel::Online,
            at: t0(),
        },
        GrantorEvent::DelegationRejected {
            id: id("d-1"),
            grantor: cf(GRANTOR),
            delegate: cf(DELEGATE),
            at: t0(),
        },
    ] {
        assert!(matches!(
            after_grantor_event(&closing, t0()),
            Some(FlowCommand::Delegate {
                command: DelegateCommand::ReleaseSeat { .. },
                ..
            })
        ));
    }
}

#[test]
fn error_codes_are_those_of_the_http_contract() {
    let codes = [
        (DelegationError::SelfDelegation, "self_delegation"),
        (
            DelegationError::GrantorAlreadyHasDelegate { existing: id("x") },
            "grantor_already_has_delegate",
        ),
        (
            DelegationError::DelegateCapReached { cap: 3 },
            "delegate_cap_reached",
        ),
        (
            DelegationError::EndDateTooSoon {
                earliest: date(2026, 1, 1),
            },
            "end_date_too_soon",
        ),
        (
            DelegationError::NotAwaitingConfirmation,
            "not_awaiting_confirmation",
        ),
        (
            DelegationError::OnlineRevocationTooEarly {
                revocable_online_from: date(2026, 1, 1),
            },
            "online_revocation_too_early",
        ),
        (DelegationError::NotActive, "not_active"),
        (
            DelegationError::RevocationNeedsCounter,
            "revocation_needs_counter",
        ),
        (DelegationError::NotFound(id("x")), "not_found"),
    ];
    for (error, code) in codes {
        assert_eq!(error.code(), code);
    }
}

#[test]
fn d10_a_refusal_keeps_its_rule_whole_and_older_events_still_load() {
    let r = request("d-1", GRANTOR, DELEGATE, Role::Ordinary, Channel::Online);
    let g = grantor_with(vec![requested(&r)]);
    let refusal = DelegationError::DelegateCapReached { cap: 5 };
    let events = g
        .decide(
            GrantorCommand::RefuseRegistration {
                id: r.id.clone(),
                refusal: refusal.clone(),
                at: t0(),
            },
            &Policy::default(),
        )
        .unwrap();
    let GrantorEvent::DelegationRefused {
        reason,
        refusal: stored,
        ..
    } = &events[0]
    else {
        panic!("{events:?}")
    };
    assert_eq!(reason, "delegate_cap_reached");
    assert_eq!(stored.as_ref(), Some(&refusal));
    let json = serde_json::to_value(&events[0]).unwrap();
    assert_eq!(
        serde_json::from_value::<GrantorEvent>(json).unwrap(),
        events[0]
    );
    // An event stored before refusals kept their type: the code alone.
    let older = serde_json::json!({"DelegationRefused": {
        "id": "d-1", "grantor": GRANTOR, "delegate": DELEGATE,
        "reason": "delegate_cap_reached", "at": "2026-12-01T08:00:00Z"}});
    let older: GrantorEvent = serde_json::from_value(older).unwrap();
    assert!(matches!(
        older,
        GrantorEvent::DelegationRefused { refusal: None, .. }
    ));
}

// ---------------------------------------------------------------- D11

/// The request `r` with `evidence` instead.
fn with_evidence(r: RequestDelegation, evidence: Vec<EvidenceDocument>) -> RequestDelegation {
    RequestDelegation {
        evidence: Evidence::new(evidence),
        ..r
    }
}

fn missing(what: &[&str]) -> Result<Vec<GrantorEvent>, DelegationError> {
    Err(DelegationError::EvidenceMissing {
        missing: what.iter().map(|s| s.to_string()).collect(),
    })
}

#[test]
fn d11_online_needs_the_grantors_identity_document() {
    let policy = Policy::default();
    let r = request("d-1", GRANTOR, DELEGATE, Role::Ordinary, Channel::Online);
    let bare = with_evidence(r.clone(), vec![]);
    assert_eq!(
        Grantor::default().decide(asked(bare), &policy),
        missing(&["identity_document"])
    );
    // A form is not an identity document.
    let form = with_evidence(r.clone(), vec![doc(DocumentKind::Aa08, 'b')]);
    assert_eq!(
        Grantor::default().decide(asked(form), &policy),
        missing(&["identity_document"])
    );
    let events = Grantor::default()
        .decide(asked(r.clone()), &policy)
        .unwrap();
    assert_eq!(events, vec![requested(&r)]);
    // The delegation keeps its evidence.
    let g = grantor_with(events);
    assert_eq!(
        g.delegation(&r.id).unwrap().evidence.documents(),
        &[doc(DocumentKind::IdentityDocument, 'a')]
    );
    assert_eq!(
        DelegationError::EvidenceMissing { missing: vec![] }.code(),
        "evidence_missing"
    );
}

#[test]
fn d11_the_policy_may_waive_the_online_identity_document() {
    let policy = Policy {
        online_identity_document_required: false,
        ..Policy::default()
    };
    let r = request("d-1", GRANTOR, DELEGATE, Role::Ordinary, Channel::Online);
    let bare = with_evidence(r, vec![]);
    let events = Grantor::default()
        .decide(asked(bare.clone()), &policy)
        .unwrap();
    assert_eq!(events, vec![requested(&bare)]);
    // The waiver is for the online copy only: a counter still needs its documents.
    let counter = request("d-2", GRANTOR, DELEGATE, Role::Ordinary, Channel::Counter);
    let counter = with_evidence(counter, vec![]);
    assert_eq!(
        Grantor::default().decide(asked(counter), &policy),
        missing(&["aa08|aa09", "identity_document"])
    );
}

#[test]
fn d11_a_counter_needs_the_form_of_the_role_and_the_identity_document() {
    use DocumentKind::*;
    let policy = Policy::default();
    let id_doc = doc(IdentityDocument, 'a');
    // Ordinary: AA08 or AA09, never AA10.
    for form in [Aa08, Aa09] {
        let r = request("d-1", GRANTOR, DELEGATE, Role::Ordinary, Channel::Counter);
        let r = with_evidence(r, vec![doc(form, 'b'), id_doc.clone()]);
        assert!(
            Grantor::default().decide(asked(r), &policy).is_ok(),
            "{form}"
        );
    }
    let r = request("d-1", GRANTOR, DELEGATE, Role::Ordinary, Channel::Counter);
    let aa10 = with_evidence(r.clone(), vec![doc(Aa10, 'b'), id_doc.clone()]);
    assert_eq!(
        Grantor::default().decide(asked(aa10), &policy),
        missing(&["aa08|aa09"])
    );
    let no_id = with_evidence(r, vec![doc(Aa08, 'b')]);
    assert_eq!(
        Grantor::default().decide(asked(no_id), &policy),
        missing(&["identity_document"])
    );
    // A legal representative: AA10 only.
    for role in [
        Role::Tutor,
        Role::Curator,
        Role::SupportAdministrator,
        Role::Parent,
    ] {
        let r = request("d-1", GRANTOR, DELEGATE, role, Channel::Counter);
        for form in [Aa08, Aa09] {
            let wrong = with_evidence(r.clone(), vec![doc(form, 'b'), id_doc.clone()]);
            assert_eq!(
                Grantor::default().decide(asked(wrong), &policy),
                missing(&["aa10"])
            );
        }
        let right = with_evidence(r, vec![doc(Aa10, 'b'), id_doc.clone()]);
        assert!(Grantor::default().decide(asked(right), &policy).is_ok());
    }
    assert_eq!(counter_forms(Role::Ordinary), &[Aa08, Aa09]);
    assert_eq!(counter_forms(Role::Parent), &[Aa10]);
}

#[test]
fn d11_pec_needs_the_signed_documents_received() {
    let policy = Policy::default();
    let r = request("d-1", GRANTOR, DELEGATE, Role::Tutor, Channel::Pec);
    let bare = with_evidence(r.clone(), vec![]);
    assert_eq!(
        Grantor::default().decide(asked(bare), &policy),
        missing(&["pec"])
    );
    let forms = with_evidence(
        r.clone(),
        vec![
            doc(DocumentKind::Aa10, 'b'),
            doc(DocumentKind::IdentityDocument, 'a'),
        ],
    );
    assert_eq!(
        Grantor::default().decide(asked(forms), &policy),
        missing(&["pec"])
    );
    assert!(Grantor::default().decide(asked(r), &policy).is_ok());
}

#[test]
fn d11_a_web_meeting_registration_rests_on_the_meetings_documents() {
    let policy = Policy::default();
    let r = request(
        "d-1",
        GRANTOR,
        DELEGATE,
        Role::Ordinary,
        Channel::WebMeeting,
    );
    let half = with_evidence(r.clone(), vec![doc(DocumentKind::Aa08, 'd')]);
    assert_eq!(
        Grantor::default().decide(asked(half), &policy),
        missing(&["identity_document"])
    );
    assert!(Grantor::default().decide(asked(r), &policy).is_ok());

    // M7: the flow passes the meeting's documents as the evidence.
    use crate::document::DocumentRef;
    use crate::flows::{react, Command, Event};
    use crate::meeting::MeetingEvent;
    let documents: Vec<DocumentRef> = [
        (DocumentKind::Aa08, 'd'),
        (DocumentKind::IdentityDocument, 'e'),
    ]
    .into_iter()
    .map(|(kind, c)| DocumentRef {
        kind,
        sha256: c.to_string().repeat(64),
        bytes: 1000,
    })
    .collect();
    let completion = Event::Meeting(MeetingEvent::CompletionRequested {
        booking_id: crate::booking::BookingId::parse("b-1").unwrap(),
        delegation_id: id("d-1"),
        grantor: cf(GRANTOR),
        delegate: cf(DELEGATE),
        documents,
        at: t0(),
    });
    let next = react(&completion, t0());
    let [Command::Grantor {
        command: GrantorCommand::Request { request, .. },
        ..
    }] = &next[..]
    else {
        panic!("a registration request: {next:?}");
    };
    assert_eq!(
        request.evidence,
        enough(Channel::WebMeeting, Role::Ordinary)
    );
    assert!(request
        .evidence
        .missing(Channel::WebMeeting, Role::Ordinary, &policy)
        .is_empty());
}

#[test]
fn d11_events_stored_before_d11_still_load_without_evidence() {
    let r = request("d-1", GRANTOR, DELEGATE, Role::Ordinary, Channel::Counter);
    let bare = with_evidence(r.clone(), vec![]);
    let json = serde_json::to_value(requested(&bare)).unwrap();
    assert!(
        json["DelegationRequested"].get("evidence").is_none(),
        "{json}"
    );
    let back: GrantorEvent = serde_json::from_value(json).unwrap();
    assert_eq!(back, requested(&bare));
    // With evidence, it is written as a list of {kind, sha256}.
    let json = serde_json::to_value(requested(&r)).unwrap();
    assert_eq!(
        json["DelegationRequested"]["evidence"],
        serde_json::json!([
            {"kind": "aa08", "sha256": "b".repeat(64)},
            {"kind": "identity_document", "sha256": "a".repeat(64)},
        ])
    );
    let bad = serde_json::json!({"DelegationRequested": {
        "id": "d-1", "grantor": GRANTOR, "delegate": DELEGATE, "role": "ordinary",
        "channel": "counter", "ends_on": null, "at": "2026-12-01T08:00:00Z",
        "evidence": [{"kind": "aa08", "sha256": "XYZ"}],
    }});
    assert!(serde_json::from_value::<GrantorEvent>(bad).is_err());
}

// ------------------------------------------------------------ the delegate's seats

/// The names events are stored under are the serde tags the stored JSON
/// carries, and the version is the one the upcasters start from.
#[test]
fn delegate_events_are_stored_under_their_own_names() {
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
    let events = [
        DelegateEvent::SeatReserved {
            id: id("d-names"),
            grantor: cf(GRANTOR),
            delegate: cf(DELEGATE),
            role: Role::Ordinary,
            ends_on: None,
            at,
        },
        DelegateEvent::SeatReleased {
            id: id("d-names"),
            grantor: cf(GRANTOR),
            delegate: cf(DELEGATE),
            at,
        },
    ];
    let mut names = Vec::new();
    for event in &events {
        let json = serde_json::to_value(event).unwrap();
        let tag = json.as_object().unwrap().keys().next().unwrap().clone();
        assert_eq!(cqrs_es::DomainEvent::event_type(event), tag);
        assert_eq!(cqrs_es::DomainEvent::event_version(event), "1.0");
        names.push(tag);
    }
    assert_eq!(names, ["SeatReserved", "SeatReleased"]);
}

/// D2: the seats held are those reserved and not released.
#[test]
fn d2_the_seats_held_are_the_reserved_not_released() {
    use cqrs_es::Aggregate;
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
    let mut delegate = Delegate::default();
    assert!(delegate.seats().is_empty());
    for (n, grantor) in [GRANTOR, OTHERS[0]].into_iter().enumerate() {
        delegate.apply(DelegateEvent::SeatReserved {
            id: id(&format!("d-seat-{n}")),
            grantor: cf(grantor),
            delegate: cf(DELEGATE),
            role: Role::Ordinary,
            ends_on: None,
            at,
        });
    }
    let held: Vec<String> = delegate.seats().keys().map(|d| d.to_string()).collect();
    assert_eq!(held, ["d-seat-0", "d-seat-1"]);
    delegate.apply(DelegateEvent::SeatReleased {
        id: id("d-seat-0"),
        grantor: cf(GRANTOR),
        delegate: cf(DELEGATE),
        at,
    });
    let held: Vec<String> = delegate.seats().keys().map(|d| d.to_string()).collect();
    assert_eq!(held, ["d-seat-1"]);
    assert_eq!(delegate.ordinary_seats(at), 1);
}
