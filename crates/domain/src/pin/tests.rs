//! P1–P3 and D12 on the PIN account, each rule in a test named after it,
//! by the pure decision and through the cqrs-es test framework.

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use cqrs_es::test::TestFramework;
use cqrs_es::{Aggregate, DomainEvent};

use super::*;
use crate::fiscal_code::FiscalCode;
use crate::issuer::Issuer;
use crate::policy::Policy;
use crate::time::ROME;

const PIN: &str = "K7M2Q9RTX4";
const OTHER_PIN: &str = "ZZ3HC8NWP5";
const SALT: &[u8; 16] = b"0123456789abcdef";
const SALT2: &[u8; 16] = b"fedcba9876543210";

fn citizen() -> FiscalCode {
    FiscalCode::parse("RSSMRA85T10A562S").unwrap()
}

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(y, m, d)
        .unwrap()
        .and_hms_opt(h, min, 0)
        .unwrap()
        .and_utc()
}

/// A Europe/Rome wall-clock time as an instant.
fn rome(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    ROME.with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn t0() -> DateTime<Utc> {
    utc(2025, 3, 4, 9, 0)
}

fn issue(pin: &str, salt: &[u8], validity: PinValidity, at: DateTime<Utc>) -> PinCommand {
    PinCommand::IssuePin {
        citizen: citizen(),
        pin_hash: PinHash::new(pin, salt).unwrap(),
        validity,
        at,
        by: Issuer::citizen(citizen()),
    }
}

fn verify(pin: &str, at: DateTime<Utc>) -> PinCommand {
    PinCommand::VerifyPin {
        pin: pin.to_owned(),
        at,
    }
}

/// Decides and applies, as the framework does; returns the events.
fn run(account: &mut PinAccount, command: PinCommand) -> Result<Vec<PinEvent>, PinError> {
    let events = account.decide(command, &Policy::default())?;
    for e in &events {
        account.apply(e.clone());
    }
    Ok(events)
}

fn account_with(pin: &str) -> PinAccount {
    let mut a = PinAccount::default();
    run(&mut a, issue(pin, SALT, PinValidity::OneWeek, t0())).unwrap();
    a
}

fn valid(events: &[PinEvent]) -> bool {
    PinCheck::from_events(events).unwrap().valid
}

// ---- P1: generation and validity ----

#[test]
fn p1_validity_wire_names() {
    for (v, name) in [
        (PinValidity::OneDay, "1d"),
        (PinValidity::OneWeek, "1w"),
        (PinValidity::OneMonth, "1m"),
        (PinValidity::ThreeMonths, "3m"),
    ] {
        assert_eq!(serde_json::to_string(&v).unwrap(), format!("\"{name}\""));
        assert_eq!(
            serde_json::from_str::<PinValidity>(&format!("\"{name}\"")).unwrap(),
            v
        );
        assert_eq!(name.parse::<PinValidity>(), Ok(v));
        assert_eq!(v.to_string(), name);
    }
    let err = "2w".parse::<PinValidity>().unwrap_err();
    assert_eq!(err, PinError::InvalidValidity("2w".to_owned()));
    assert_eq!(err.code(), "invalid_validity");
    assert!(serde_json::from_str::<PinValidity>("\"1y\"").is_err());
}

#[test]
fn p1_one_day_and_one_week() {
    let at = rome(2025, 3, 4, 10, 15);
    assert_eq!(
        PinValidity::OneDay.valid_until(at),
        rome(2025, 3, 5, 10, 15)
    );
    assert_eq!(
        PinValidity::OneWeek.valid_until(at),
        rome(2025, 3, 11, 10, 15)
    );
}

#[test]
fn p1_one_month_clamps_at_month_end() {
    assert_eq!(
        PinValidity::OneMonth.valid_until(rome(2025, 1, 31, 10, 0)),
        rome(2025, 2, 28, 10, 0)
    );
    assert_eq!(
        PinValidity::OneMonth.valid_until(rome(2024, 1, 31, 10, 0)),
        rome(2024, 2, 29, 10, 0)
    );
    assert_eq!(
        PinValidity::OneMonth.valid_until(rome(2025, 2, 15, 10, 0)),
        rome(2025, 3, 15, 10, 0)
    );
}

#[test]
fn p1_three_months_clamps_at_month_end() {
    assert_eq!(
        PinValidity::ThreeMonths.valid_until(rome(2024, 11, 30, 18, 0)),
        rome(2025, 2, 28, 18, 0)
    );
    assert_eq!(
        PinValidity::ThreeMonths.valid_until(rome(2025, 5, 31, 8, 0)),
        rome(2025, 8, 31, 8, 0)
    );
}

#[test]
fn p1_periods_follow_the_rome_clock_across_dst() {
    // 31 March 00:30 in Rome is still 30 March in UTC: the month is Rome's.
    assert_eq!(
        PinValidity::OneMonth.valid_until(rome(2025, 3, 31, 0, 30)),
        rome(2025, 4, 30, 0, 30)
    );
    // One day across the spring-forward night is 23 hours.
    let before = rome(2025, 3, 29, 12, 0);
    assert_eq!(
        PinValidity::OneDay.valid_until(before),
        rome(2025, 3, 30, 12, 0)
    );
    assert_eq!(
        PinValidity::OneDay.valid_until(before) - before,
        TimeDelta::hours(23)
    );
    // Ending in the missing hour (02:30 on 30 March 2025) moves to 03:30.
    let in_gap = rome(2025, 3, 29, 2, 30);
    assert_eq!(
        PinValidity::OneDay.valid_until(in_gap),
        rome(2025, 3, 30, 3, 30)
    );
}

#[test]
fn p1_pin_from_random_is_alphanumeric_and_unambiguous() {
    let bytes: Vec<u8> = (0..=255).collect();
    for chunk in bytes.chunks(PIN_LENGTH) {
        let pin = pin_from_random(chunk);
        assert_eq!(pin.len(), chunk.len().min(PIN_LENGTH));
        assert!(pin
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
        assert!(!pin.contains(['0', 'O', '1', 'I']));
    }
    assert_eq!(pin_from_random(&[0u8; 16]).len(), PIN_LENGTH);
    assert_eq!(pin_from_random(&[0u8; 16]), "2222222222");
    // Every symbol is reached, each by exactly 8 byte values.
    let all: String = (0..=255u8).map(|b| pin_from_random(&[b])).collect();
    for &s in PIN_ALPHABET {
        assert_eq!(all.matches(char::from(s)).count(), 8);
    }
}

#[test]
fn p1_issue_records_validity_and_end() {
    let at = rome(2025, 1, 31, 10, 0);
    let events = PinAccount::default()
        .decide(
            issue(PIN, SALT, PinValidity::OneMonth, at),
            &Policy::default(),
        )
        .unwrap();
    let [PinEvent::PinIssued {
        citizen: c,
        validity,
        issued_at,
        valid_until,
        ..
    }] = events.as_slice()
    else {
        panic!("expected one PinIssued, got {events:?}");
    };
    assert_eq!(*c, citizen());
    assert_eq!(*validity, PinValidity::OneMonth);
    assert_eq!(*issued_at, at);
    assert_eq!(*valid_until, rome(2025, 2, 28, 10, 0));
}

#[test]
fn p1_right_pin_verifies() {
    let mut a = account_with(PIN);
    let events = run(&mut a, verify(PIN, t0())).unwrap();
    assert_eq!(events, vec![PinEvent::PinVerified { at: t0() }]);
    assert!(a.last_check().unwrap().valid);
}

#[test]
fn p1_pin_check_ignores_case_and_surrounding_spaces() {
    let a = account_with(PIN);
    let events = a
        .decide(verify(" k7m2q9rtx4 ", t0()), &Policy::default())
        .unwrap();
    assert!(valid(&events));
}

#[test]
fn p1_expired_pin_is_not_valid_and_not_counted() {
    let mut a = account_with(PIN); // one week from t0
    let end = a.current_pin().unwrap().valid_until;
    assert_eq!(end, t0() + TimeDelta::days(7));
    let just_before = end - TimeDelta::seconds(1);
    assert!(valid(&run(&mut a, verify(PIN, just_before)).unwrap()));
    for _ in 0..10 {
        assert_eq!(
            run(&mut a, verify(OTHER_PIN, end)),
            Err(PinError::NoValidPin)
        );
    }
    assert_eq!(run(&mut a, verify(PIN, end)), Err(PinError::NoValidPin));
    assert_eq!(a.failures(), 0);
    assert!(!a.is_locked());
    assert_eq!(PinError::NoValidPin.code(), "no_valid_pin");
}

#[test]
fn p1_no_pin_issued_is_not_valid() {
    let a = PinAccount::default();
    assert_eq!(
        a.decide(verify(PIN, t0()), &Policy::default()),
        Err(PinError::NoValidPin)
    );
}

#[test]
fn p1_pin_must_be_alphanumeric() {
    assert_eq!(PinHash::new("", SALT), Err(PinError::InvalidPin));
    assert_eq!(PinHash::new("AB-CD", SALT), Err(PinError::InvalidPin));
    assert_eq!(PinError::InvalidPin.code(), "invalid_pin");
}

#[test]
fn d12_a_delegate_acting_for_the_citizen_cannot_issue_the_pin() {
    let delegate = FiscalCode::parse("VRDGPP80A01H501U").unwrap();
    let command = |by: Issuer| PinCommand::IssuePin {
        citizen: citizen(),
        pin_hash: PinHash::new(PIN, SALT).unwrap(),
        validity: PinValidity::OneDay,
        at: t0(),
        by,
    };
    let policy = Policy::default();
    let acting = Issuer::delegate_for(delegate.clone(), citizen());
    for account in [PinAccount::default(), account_with(PIN)] {
        assert_eq!(
            account.decide(command(acting.clone()), &policy),
            Err(PinError::NotAllowedWhenActing)
        );
        assert_eq!(
            account.decide(command(Issuer::citizen(delegate.clone())), &policy),
            Err(PinError::NotTheCitizen)
        );
        assert_eq!(
            account.decide(command(Issuer::operator("op-1@DCM NAPOLI")), &policy),
            Err(PinError::NotTheCitizen)
        );
        assert!(account
            .decide(command(Issuer::citizen(citizen())), &policy)
            .is_ok());
    }
    assert_eq!(
        PinError::NotAllowedWhenActing.code(),
        "not_allowed_when_acting"
    );
}

#[test]
fn p1_account_belongs_to_one_citizen() {
    assert_eq!(PinAccount::default().citizen(), None);
    let a = account_with(PIN);
    assert_eq!(a.citizen(), Some(&citizen()));
    let other = FiscalCode::parse("VRDGPP80A01H501U").unwrap();
    let err = a
        .decide(
            PinCommand::IssuePin {
                citizen: other.clone(),
                pin_hash: PinHash::new(PIN, SALT).unwrap(),
                validity: PinValidity::OneDay,
                at: t0(),
                by: Issuer::citizen(other.clone()),
            },
            &Policy::default(),
        )
        .unwrap_err();
    assert_eq!(
        err,
        PinError::CitizenMismatch {
            owner: citizen(),
            requested: other
        }
    );
    assert_eq!(err.code(), "citizen_mismatch");
}

// ---- P2: a new PIN cancels the previous one ----

#[test]
fn p2_new_pin_cancels_the_old_one() {
    let mut a = account_with(PIN);
    let later = t0() + TimeDelta::hours(1);
    run(&mut a, issue(OTHER_PIN, SALT2, PinValidity::OneDay, later)).unwrap();
    assert!(!valid(&run(&mut a, verify(PIN, later)).unwrap()));
    assert!(valid(&run(&mut a, verify(OTHER_PIN, later)).unwrap()));
    // The old validity does not survive either: the new one is one day.
    let after_a_day = later + TimeDelta::days(1);
    assert_eq!(
        run(&mut a, verify(OTHER_PIN, after_a_day)),
        Err(PinError::NoValidPin)
    );
}

#[test]
fn p2_new_pin_resets_failures_and_lock() {
    let mut a = account_with(PIN);
    for _ in 0..5 {
        run(&mut a, verify(OTHER_PIN, t0())).unwrap();
    }
    assert!(a.is_locked());
    run(&mut a, issue(OTHER_PIN, SALT2, PinValidity::OneWeek, t0())).unwrap();
    assert!(!a.is_locked());
    assert_eq!(a.failures(), 0);
    assert_eq!(a.last_check(), None);
    assert!(valid(&run(&mut a, verify(OTHER_PIN, t0())).unwrap()));
}

// ---- P3: salted hash, no PIN in events, lock ----

#[test]
fn p3_hash_is_salted_argon2id_phc() {
    let h1 = PinHash::new(PIN, SALT).unwrap();
    let h2 = PinHash::new(PIN, SALT2).unwrap();
    assert_ne!(h1, h2);
    assert_eq!(
        PinHash::new(PIN, SALT).unwrap(),
        h1,
        "deterministic for a salt"
    );
    assert!(h1.as_str().starts_with("$argon2id$v=19$m=4096,t=2,p=1$"));
    assert!(!h1.as_str().contains(PIN));
    // Written out, it is the same PHC string, and reads back as itself.
    assert_eq!(h1.to_string(), h1.as_str());
    assert_eq!(PinHash::try_from(h1.to_string()), Ok(h1.clone()));
    assert!(h1.verify(PIN) && h2.verify(PIN));
    assert!(!h1.verify(OTHER_PIN));
    assert_eq!(PinHash::from_phc(h1.as_str()), Ok(h1.clone()));
}

#[test]
fn p3_salt_length_checked() {
    assert_eq!(
        PinHash::new(PIN, b"short"),
        Err(PinError::InvalidSalt { len: 5 })
    );
    assert_eq!(
        PinHash::new(PIN, &[7u8; 49]),
        Err(PinError::InvalidSalt { len: 49 })
    );
    assert!(PinHash::new(PIN, &[7u8; 48]).is_ok());
}

#[test]
fn p3_stored_hash_must_be_argon2id() {
    assert_eq!(PinHash::from_phc(PIN), Err(PinError::InvalidPinHash));
    let argon2i = "$argon2i$v=19$m=4096,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    assert_eq!(PinHash::from_phc(argon2i), Err(PinError::InvalidPinHash));
    assert!(serde_json::from_str::<PinHash>("\"1234\"").is_err());
    // An Argon2id string is taken with its salt and its hash, not without.
    let whole = PinHash::new(PIN, SALT).unwrap();
    assert_eq!(PinHash::from_phc(whole.as_str()), Ok(whole.clone()));
    let (salted, _hash) = whole.as_str().rsplit_once('$').unwrap();
    assert!(salted.starts_with("$argon2id$"), "{salted}");
    assert_eq!(PinHash::from_phc(salted), Err(PinError::InvalidPinHash));
    let (bare, _salt) = salted.rsplit_once('$').unwrap();
    assert_eq!(PinHash::from_phc(bare), Err(PinError::InvalidPinHash));
}

#[test]
fn p3_events_and_state_never_contain_the_pin() {
    let mut a = PinAccount::default();
    let mut events = run(&mut a, issue(PIN, SALT, PinValidity::ThreeMonths, t0())).unwrap();
    events.extend(run(&mut a, verify(PIN, t0())).unwrap());
    for _ in 0..5 {
        events.extend(run(&mut a, verify(OTHER_PIN, t0())).unwrap());
    }
    assert!(events
        .iter()
        .any(|e| matches!(e, PinEvent::PinLocked { .. })));
    let json = serde_json::to_string(&events).unwrap();
    let state = serde_json::to_string(&a).unwrap();
    for text in [&json, &state] {
        for pin in [PIN, OTHER_PIN] {
            assert!(!text.contains(pin));
            assert!(!text.to_ascii_uppercase().contains(pin));
        }
    }
    let debug = format!("{:?}", verify(PIN, t0()));
    assert!(!debug.contains(PIN), "{debug}");
    // The rest of the command is shown, the PIN's place marked.
    assert!(
        debug.starts_with("VerifyPin") && debug.contains("<redacted>"),
        "{debug}"
    );
    let debug = format!("{:?}", issue(PIN, SALT, PinValidity::OneDay, t0()));
    assert!(
        debug.starts_with("IssuePin") && debug.contains(citizen().as_str()),
        "{debug}"
    );
    assert!(!debug.contains(PIN), "{debug}");
    // Events round-trip.
    let back: Vec<PinEvent> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, events);
}

#[test]
fn p3_four_failures_then_right_pin_is_valid() {
    let mut a = account_with(PIN);
    for n in 1..=4 {
        let events = run(&mut a, verify(OTHER_PIN, t0())).unwrap();
        assert_eq!(
            events,
            vec![PinEvent::PinCheckFailed {
                at: t0(),
                failures: n
            }]
        );
        assert_eq!(a.failures(), n);
    }
    assert!(!a.is_locked());
    let events = run(&mut a, verify(PIN, t0())).unwrap();
    assert_eq!(events, vec![PinEvent::PinVerified { at: t0() }]);
    assert_eq!(a.failures(), 0, "failures are consecutive");
}

#[test]
fn p3_fifth_failure_locks_and_then_even_the_right_pin_is_refused() {
    let mut a = account_with(PIN);
    for _ in 0..4 {
        run(&mut a, verify(OTHER_PIN, t0())).unwrap();
    }
    let events = run(&mut a, verify(OTHER_PIN, t0())).unwrap();
    assert_eq!(
        events,
        vec![
            PinEvent::PinCheckFailed {
                at: t0(),
                failures: 5
            },
            PinEvent::PinLocked { at: t0() },
        ]
    );
    let check = PinCheck::from_events(&events).unwrap();
    assert!(!check.valid && check.locked);
    assert_eq!(a.last_check(), Some(&check));
    assert!(a.is_locked());
    assert_eq!(run(&mut a, verify(PIN, t0())), Err(PinError::Locked));
    assert_eq!(run(&mut a, verify(OTHER_PIN, t0())), Err(PinError::Locked));
    assert_eq!(PinError::Locked.code(), "pin_locked");
}

#[test]
fn p3_lock_threshold_is_policy() {
    let policy = Policy {
        max_failed_pin_attempts: 2,
        ..Policy::default()
    };
    let a = account_with(PIN);
    let events = a.decide(verify(OTHER_PIN, t0()), &policy).unwrap();
    let mut a2 = a.clone();
    for e in events {
        a2.apply(e);
    }
    let events = a2.decide(verify(OTHER_PIN, t0()), &policy).unwrap();
    assert!(matches!(events.last(), Some(PinEvent::PinLocked { .. })));
}

#[test]
fn p3_event_types() {
    let e = PinEvent::PinCheckFailed {
        at: t0(),
        failures: 1,
    };
    assert_eq!(e.event_type(), "PinCheckFailed");
    assert_eq!(e.event_version(), "1.0");
    assert_eq!(PinEvent::PinLocked { at: t0() }.event_type(), "PinLocked");
    assert_eq!(PinAccount::TYPE, "pin_account");
}

#[test]
fn pin_events_carry_their_instant() {
    let later = t0() + TimeDelta::minutes(5);
    let issued = issued(PIN, SALT, t0());
    assert_eq!(issued.at(), t0(), "an issue's instant is issued_at");
    for event in [
        PinEvent::PinVerified { at: later },
        PinEvent::PinCheckFailed {
            at: later,
            failures: 1,
        },
        PinEvent::PinLocked { at: later },
    ] {
        assert_eq!(event.at(), later, "{event:?}");
    }
}

// ---- through cqrs-es ----

fn issued(pin: &str, salt: &[u8], at: DateTime<Utc>) -> PinEvent {
    PinEvent::PinIssued {
        citizen: citizen(),
        hash: PinHash::new(pin, salt).unwrap(),
        validity: PinValidity::OneWeek,
        issued_at: at,
        valid_until: PinValidity::OneWeek.valid_until(at),
    }
}

fn failed(n: u32) -> PinEvent {
    PinEvent::PinCheckFailed {
        at: t0(),
        failures: n,
    }
}

#[tokio::test]
async fn p1_issue_through_test_framework() {
    TestFramework::<PinAccount>::with(Policy::default())
        .given_no_previous_events()
        .when_async(issue(PIN, SALT, PinValidity::OneWeek, t0()))
        .await
        .then_expect_events(vec![issued(PIN, SALT, t0())]);
}

#[tokio::test]
async fn p2_old_pin_fails_through_test_framework() {
    let later = t0() + TimeDelta::minutes(5);
    TestFramework::<PinAccount>::with(Policy::default())
        .given(vec![
            issued(PIN, SALT, t0()),
            issued(OTHER_PIN, SALT2, t0()),
        ])
        .when_async(verify(PIN, later))
        .await
        .then_expect_events(vec![PinEvent::PinCheckFailed {
            at: later,
            failures: 1,
        }]);
}

#[tokio::test]
async fn p3_lock_through_test_framework() {
    let given = || {
        let mut events = vec![issued(PIN, SALT, t0())];
        events.extend((1..=4).map(failed));
        events
    };
    TestFramework::<PinAccount>::with(Policy::default())
        .given(given())
        .when_async(verify(PIN, t0()))
        .await
        .then_expect_events(vec![PinEvent::PinVerified { at: t0() }]);
    TestFramework::<PinAccount>::with(Policy::default())
        .given(given())
        .when_async(verify(OTHER_PIN, t0()))
        .await
        .then_expect_events(vec![failed(5), PinEvent::PinLocked { at: t0() }]);
    TestFramework::<PinAccount>::with(Policy::default())
        .given(given())
        .and(vec![failed(5), PinEvent::PinLocked { at: t0() }])
        .when_async(verify(PIN, t0()))
        .await
        .then_expect_error(PinError::Locked);
}
