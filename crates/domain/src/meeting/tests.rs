//! Given/when/then tests of M1–M9, one or more per rule, named after its id.
//! The join window (M1) is checked at its exact edges on both sides of the
//! spring daylight-saving change of 29 March 2026.

use chrono::{DateTime, Duration, TimeZone, Utc};
use cqrs_es::test::TestFramework;
use cqrs_es::{Aggregate, DomainEvent};
use serde_json::json;

use super::*;
use crate::booking::{AccessCode, AccessCodeDigest, BookingId, GrantorDetails, Phone};
use crate::delegation::DelegationId;
use crate::document::{DocumentKind, DocumentRef};
use crate::meeting::EndedBooking;
use crate::schedule::Slot;
use crate::{FiscalCode, Policy};

const GRANTOR: &str = "RSSMRA85T10A562S";
const DELEGATE: &str = "VRDLGU70A01H501O";
const CODE: &str = "K7P2QX9M";
const OPERATOR: &str = "op-napoli-01";

fn cf(s: &str) -> FiscalCode {
    FiscalCode::parse(s).unwrap()
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

fn booking_id() -> BookingId {
    BookingId::parse("b-42").unwrap()
}

/// What a deployment stores of a typed code: a digest. Here a plain SHA-256
/// of the code as compared (the key is the deployment's, not the rules').
/// B8: the booking every meeting end of these tests names.
fn ended_booking() -> EndedBooking {
    EndedBooking {
        id: booking_id(),
        booker: cf(DELEGATE),
    }
}

fn digest(typed: &str) -> AccessCodeDigest {
    use sha2::{Digest, Sha256};
    let hash: [u8; 32] = Sha256::digest(AccessCode::normalise(typed).as_bytes()).into();
    AccessCodeDigest::from_bytes(&hash)
}

fn delegation_id() -> DelegationId {
    DelegationId::parse("d-7").unwrap()
}

/// Tuesday 31 March 2026, 09:00–09:30 in Rome (CEST, UTC+2): the first
/// Tuesday after the change to summer time.
fn summer_slot() -> Slot {
    Slot {
        start: utc(2026, 3, 31, 7, 0, 0),
        end: utc(2026, 3, 31, 7, 30, 0),
    }
}

/// Tuesday 24 March 2026, 09:00–09:30 in Rome (CET, UTC+1).
fn winter_slot() -> Slot {
    Slot {
        start: utc(2026, 3, 24, 8, 0, 0),
        end: utc(2026, 3, 24, 8, 30, 0),
    }
}

fn grantor_details() -> GrantorDetails {
    GrantorDetails::new(cf(GRANTOR), "Mario", "Rossi").unwrap()
}

fn booking(slot: Slot) -> MeetingBooking {
    MeetingBooking {
        booking_id: booking_id(),
        booker: cf(DELEGATE),
        grantor: grantor_details(),
        slot,
        access_code: Some(digest(CODE)),
        active: true,
    }
}

fn join_at(slot: Slot, at: DateTime<Utc>) -> MeetingCommand {
    MeetingCommand::Join {
        booking: booking(slot),
        code: digest(CODE),
        at,
    }
}

fn joined_at(slot: Slot, at: DateTime<Utc>) -> MeetingEvent {
    MeetingEvent::Joined {
        booking_id: booking_id(),
        booker: cf(DELEGATE),
        grantor: grantor_details(),
        slot,
        at,
    }
}

/// Minutes after the summer slot's start.
fn t(minutes: i64) -> DateTime<Utc> {
    summer_slot().start + Duration::minutes(minutes)
}

fn document(kind: DocumentKind, digit: char) -> DocumentRef {
    DocumentRef {
        kind,
        sha256: digit.to_string().repeat(64),
        bytes: 48_213,
    }
}

fn waiting() -> Vec<MeetingEvent> {
    vec![joined_at(summer_slot(), t(-10))]
}

fn in_call() -> Vec<MeetingEvent> {
    let mut events = waiting();
    events.push(MeetingEvent::TakenInCharge {
        operator: OPERATOR.to_owned(),
        at: t(0),
    });
    events
}

fn attendance(grantor: bool, delegate: bool, able: bool) -> MeetingEvent {
    MeetingEvent::AttendanceRecorded {
        grantor_present: grantor,
        delegate_present: delegate,
        grantor_able_to_consent: able,
        at: t(2),
    }
}

/// In call with everything M7 needs.
fn ready() -> Vec<MeetingEvent> {
    let mut events = in_call();
    events.extend([
        MeetingEvent::RecordingConsented { at: t(1) },
        attendance(true, true, true),
        MeetingEvent::DocumentAttached {
            document: document(DocumentKind::Aa08, 'a'),
            at: t(3),
        },
        MeetingEvent::DocumentAttached {
            document: document(DocumentKind::IdentityDocument, 'b'),
            at: t(4),
        },
    ]);
    events
}

fn completion_requested() -> MeetingEvent {
    MeetingEvent::CompletionRequested {
        booking_id: booking_id(),
        delegation_id: delegation_id(),
        grantor: cf(GRANTOR),
        delegate: cf(DELEGATE),
        documents: vec![
            document(DocumentKind::Aa08, 'a'),
            document(DocumentKind::IdentityDocument, 'b'),
        ],
        at: t(5),
    }
}

fn registering() -> Vec<MeetingEvent> {
    let mut events = ready();
    events.push(completion_requested());
    events
}

fn meeting_with(events: Vec<MeetingEvent>) -> Meeting {
    let mut m = Meeting::default();
    for e in events {
        m.apply(e);
    }
    m
}

fn decide(
    given: Vec<MeetingEvent>,
    command: MeetingCommand,
) -> Result<Vec<MeetingEvent>, MeetingError> {
    meeting_with(given).decide(command, &Policy::default())
}

fn complete() -> MeetingCommand {
    MeetingCommand::Complete {
        delegation_id: delegation_id(),
        at: t(5),
    }
}

fn framework() -> TestFramework<Meeting> {
    TestFramework::with(Policy::default())
}

// ---------------------------------------------------------------- M1

#[tokio::test]
async fn m1_join_opens_exactly_fifteen_minutes_before_start_in_summer_time() {
    // 08:45 in Rome on 31 March 2026 is 06:45Z.
    let opens = utc(2026, 3, 31, 6, 45, 0);
    framework()
        .given_no_previous_events()
        .when_async(join_at(summer_slot(), opens))
        .await
        .then_expect_events(vec![joined_at(summer_slot(), opens)]);
}

#[test]
fn m1_join_one_second_before_the_window_is_refused_with_the_local_time_sentence() {
    let early = utc(2026, 3, 31, 6, 44, 59);
    let err = decide(vec![], join_at(summer_slot(), early)).unwrap_err();
    assert_eq!(
        err,
        MeetingError::MeetingNotOpenYet {
            opens_at: utc(2026, 3, 31, 6, 45, 0)
        }
    );
    assert_eq!(err.code(), "meeting_not_open_yet");
    assert_eq!(
        err.to_string(),
        "Gentile utente, la sua sessione di Spid in Delega sarà disponibile dalle 08:45 del 31/03/2026"
    );
}

#[test]
fn m1_join_window_in_winter_time() {
    // 08:45 in Rome on 24 March 2026 is 07:45Z: an hour later in UTC than in summer.
    let slot = winter_slot();
    let opens = utc(2026, 3, 24, 7, 45, 0);
    assert_eq!(
        decide(vec![], join_at(slot, opens)),
        Ok(vec![joined_at(slot, opens)])
    );
    let err = decide(vec![], join_at(slot, opens - Duration::seconds(1))).unwrap_err();
    assert_eq!(err, MeetingError::MeetingNotOpenYet { opens_at: opens });
    assert_eq!(
        err.to_string(),
        "Gentile utente, la sua sessione di Spid in Delega sarà disponibile dalle 08:45 del 24/03/2026"
    );
}

#[test]
fn m1_join_allowed_until_the_last_instant_before_slot_end() {
    for slot in [summer_slot(), winter_slot()] {
        let last = slot.end - Duration::nanoseconds(1);
        assert_eq!(
            decide(vec![], join_at(slot, last)),
            Ok(vec![joined_at(slot, last)])
        );
    }
}

#[test]
fn m1_join_at_slot_end_is_refused() {
    for slot in [summer_slot(), winter_slot()] {
        let err = decide(vec![], join_at(slot, slot.end)).unwrap_err();
        assert_eq!(err, MeetingError::MeetingClosed);
        assert_eq!(err.code(), "meeting_closed");
    }
}

#[test]
fn m1_join_window_follows_policy() {
    let policy = Policy {
        join_minutes_before_start: 5,
        ..Policy::default()
    };
    let err = Meeting::default()
        .decide(join_at(summer_slot(), t(-6)), &policy)
        .unwrap_err();
    assert_eq!(err, MeetingError::MeetingNotOpenYet { opens_at: t(-5) });
    assert!(Meeting::default()
        .decide(join_at(summer_slot(), t(-5)), &policy)
        .is_ok());
}

#[test]
fn m1_cancelled_booking_cannot_be_joined() {
    let mut cancelled = booking(summer_slot());
    cancelled.active = false;
    let err = decide(
        vec![],
        MeetingCommand::Join {
            booking: cancelled,
            code: digest(CODE),
            at: t(0),
        },
    )
    .unwrap_err();
    assert_eq!(err, MeetingError::BookingNotActive);
    assert_eq!(err.code(), "not_active");
}

#[test]
fn m1_ended_meeting_cannot_be_joined_again() {
    let mut given = waiting();
    given.push(MeetingEvent::MeetingEnded {
        booking: Some(ended_booking()),
        outcome: Outcome::TechnicalFailure,
        at: t(1),
    });
    assert_eq!(
        decide(given, join_at(summer_slot(), t(2))),
        Err(MeetingError::MeetingClosed)
    );
}

#[tokio::test]
async fn m1_joining_again_while_waiting_or_in_call_is_idempotent() {
    for given in [waiting(), in_call(), registering()] {
        framework()
            .given(given)
            .when_async(join_at(summer_slot(), t(6)))
            .await
            .then_expect_events(vec![]);
    }
}

#[test]
fn m1_first_join_keeps_the_booking_so_later_commands_need_not_carry_it() {
    let m = meeting_with(waiting());
    let snapshot = m.booking().unwrap();
    assert_eq!(snapshot.booking_id, booking_id());
    assert_eq!(snapshot.booker, cf(DELEGATE));
    assert_eq!(snapshot.grantor, grantor_details());
    assert_eq!(snapshot.slot, summer_slot());
    // The access code is never stored.
    assert!(!serde_json::to_string(&m).unwrap().contains(CODE));
}

#[test]
fn m1_join_with_another_booking_is_refused() {
    let mut other = booking(summer_slot());
    other.booking_id = BookingId::parse("b-43").unwrap();
    let err = decide(
        waiting(),
        MeetingCommand::Join {
            booking: other,
            code: digest(CODE),
            at: t(0),
        },
    )
    .unwrap_err();
    assert_eq!(
        err,
        MeetingError::BookingMismatch {
            expected: booking_id()
        }
    );
}

// ---------------------------------------------------------------- M2

fn join_with(typed: &str, at: DateTime<Utc>) -> MeetingCommand {
    MeetingCommand::Join {
        booking: booking(summer_slot()),
        code: digest(typed),
        at,
    }
}

#[tokio::test]
async fn m2_wrong_access_code_is_refused_and_counted() {
    let rejected = MeetingEvent::AccessCodeRejected {
        wrong_codes: 1,
        at: t(0),
    };
    framework()
        .given_no_previous_events()
        .when_async(join_with("WRONG999", t(0)))
        .await
        .then_expect_events(vec![rejected.clone()]);
    // What the command answers: the refusal its event records.
    assert_eq!(rejected.refusal(), Some(MeetingError::WrongAccessCode));
    assert_eq!(MeetingError::WrongAccessCode.code(), "wrong_access_code");
    assert_eq!(joined_at(summer_slot(), t(0)).refusal(), None);
}

#[test]
fn m2_access_code_is_checked_on_every_join() {
    assert_eq!(
        decide(in_call(), join_with("", t(1))),
        Ok(vec![MeetingEvent::AccessCodeRejected {
            wrong_codes: 1,
            at: t(1)
        }])
    );
    assert!(decide(vec![], join_with(&CODE.to_lowercase(), t(1))).is_ok());
    // A booking without a code (stored before codes were digests) opens
    // with none: a new one is issued (M10).
    let mut without = booking(summer_slot());
    without.access_code = None;
    let join = MeetingCommand::Join {
        booking: without,
        code: digest(CODE),
        at: t(1),
    };
    assert!(matches!(
        decide(vec![], join).unwrap()[0],
        MeetingEvent::AccessCodeRejected { .. }
    ));
}

// ---------------------------------------------------------------- M10

fn wrong(n: u32) -> Vec<MeetingEvent> {
    (1..=n)
        .map(|wrong_codes| MeetingEvent::AccessCodeRejected {
            wrong_codes,
            at: t(0),
        })
        .collect()
}

fn new_code(generation: u32, typed: &str) -> MeetingCommand {
    MeetingCommand::IssueAccessCode {
        booking_id: booking_id(),
        generation,
        code: digest(typed),
        phone: Phone::parse("3331234567").unwrap(),
        operator: OPERATOR.to_owned(),
        at: t(2),
    }
}

#[test]
fn m10_the_tenth_wrong_code_in_a_row_locks_joining_the_right_code_included() {
    let policy = Policy::default();
    assert_eq!(policy.max_access_code_attempts, 10);
    let nine = meeting_with(wrong(9));
    assert_eq!(
        nine.decide(join_with("WRONG999", t(1)), &policy),
        Ok(vec![
            MeetingEvent::AccessCodeRejected {
                wrong_codes: 10,
                at: t(1)
            },
            MeetingEvent::JoiningLocked { at: t(1) },
        ])
    );
    let mut events = wrong(10);
    events.push(MeetingEvent::JoiningLocked { at: t(1) });
    let locked = meeting_with(events);
    assert!(locked.is_locked());
    for typed in [CODE, "WRONG999"] {
        assert_eq!(
            locked.decide(join_with(typed, t(2)), &policy),
            Err(MeetingError::AccessCodeLocked)
        );
    }
    assert_eq!(MeetingError::AccessCodeLocked.code(), "access_code_locked");
    // Nine wrong, then the right one: not locked.
    assert!(matches!(
        nine.decide(join_with(CODE, t(1)), &policy).unwrap()[0],
        MeetingEvent::Joined { .. }
    ));
}

#[test]
fn m10_a_right_code_starts_the_count_again() {
    let policy = Policy {
        max_access_code_attempts: 3,
        ..Policy::default()
    };
    // Not joined yet: the join itself resets the count.
    let mut events = wrong(2);
    events.push(joined_at(summer_slot(), t(0)));
    let m = meeting_with(events.clone());
    assert_eq!(
        m.decide(join_with("WRONG999", t(1)), &policy).unwrap()[0],
        MeetingEvent::AccessCodeRejected {
            wrong_codes: 1,
            at: t(1)
        }
    );
    // Already joined: the right code is recorded when wrong ones came before.
    events.extend(wrong(2));
    let m = meeting_with(events.clone());
    assert_eq!(
        m.decide(join_with(CODE, t(1)), &policy),
        Ok(vec![MeetingEvent::AccessCodeAccepted { at: t(1) }])
    );
    events.push(MeetingEvent::AccessCodeAccepted { at: t(1) });
    let m = meeting_with(events);
    assert_eq!(m.decide(join_with(CODE, t(1)), &policy), Ok(vec![]));
    assert_eq!(
        m.decide(join_with("WRONG999", t(1)), &policy).unwrap()[0],
        MeetingEvent::AccessCodeRejected {
            wrong_codes: 1,
            at: t(1)
        }
    );
}

#[test]
fn m10_a_new_code_unlocks_and_replaces_the_old_one() {
    let policy = Policy::default();
    let mut events = wrong(10);
    events.push(MeetingEvent::JoiningLocked { at: t(1) });
    let locked = meeting_with(events.clone());
    let issued = locked.decide(new_code(1, "NEWCODE1"), &policy).unwrap();
    assert_eq!(
        issued,
        vec![MeetingEvent::AccessCodeIssued {
            booking_id: booking_id(),
            generation: 1,
            code: digest("NEWCODE1"),
            phone: Phone::parse("3331234567").unwrap(),
            operator: OPERATOR.to_owned(),
            at: t(2),
        }]
    );
    events.extend(issued);
    let unlocked = meeting_with(events);
    assert!(!unlocked.is_locked());
    assert_eq!(unlocked.code_generation(), 1);
    // The old code no longer opens the meeting; the new one does.
    assert_eq!(
        unlocked.decide(join_with(CODE, t(3)), &policy).unwrap()[0],
        MeetingEvent::AccessCodeRejected {
            wrong_codes: 1,
            at: t(3)
        }
    );
    assert!(matches!(
        unlocked
            .decide(join_with("NEWCODE1", t(3)), &policy)
            .unwrap()[0],
        MeetingEvent::Joined { .. }
    ));
    // The same generation again is a retry; an ended meeting takes none.
    assert_eq!(
        unlocked.decide(new_code(1, "NEWCODE1"), &policy),
        Ok(vec![])
    );
    let mut ended = in_call();
    ended.push(MeetingEvent::MeetingEnded {
        booking: Some(ended_booking()),
        outcome: Outcome::NoShow,
        at: t(5),
    });
    assert_eq!(
        meeting_with(ended).decide(new_code(1, "NEWCODE1"), &policy),
        Err(MeetingError::MeetingClosed)
    );
}

/// M10: an operator issues a new code for the meeting's own booking, also
/// once someone has joined it; for another booking, none.
#[test]
fn m10_a_new_code_is_issued_for_the_meetings_own_booking_only() {
    let policy = Policy::default();
    let joined = meeting_with(waiting());
    assert!(matches!(
        joined.decide(new_code(1, "NEWCODE1"), &policy).as_deref(),
        Ok([MeetingEvent::AccessCodeIssued { generation: 1, .. }])
    ));
    let for_another = MeetingCommand::IssueAccessCode {
        booking_id: BookingId::parse("b-43").unwrap(),
        generation: 1,
        code: digest("NEWCODE1"),
        phone: Phone::parse("3331234567").unwrap(),
        operator: OPERATOR.to_owned(),
        at: t(2),
    };
    assert_eq!(
        joined.decide(for_another, &policy),
        Err(MeetingError::BookingMismatch {
            expected: booking_id()
        })
    );
}

// ---------------------------------------------------------------- M3

#[tokio::test]
async fn m3_operator_takes_the_waiting_citizen_in_charge() {
    framework()
        .given(waiting())
        .when_async(MeetingCommand::TakeInCharge {
            operator: OPERATOR.to_owned(),
            at: t(0),
        })
        .await
        .then_expect_events(vec![MeetingEvent::TakenInCharge {
            operator: OPERATOR.to_owned(),
            at: t(0),
        }]);
    let m = meeting_with(in_call());
    assert_eq!(m.state(), MeetingState::InCall);
    assert_eq!(m.operator(), Some(OPERATOR));
}

#[test]
fn m3_take_in_charge_only_from_the_waiting_room() {
    let mut ended = waiting();
    ended.push(MeetingEvent::MeetingEnded {
        booking: Some(ended_booking()),
        outcome: Outcome::NoShow,
        at: t(1),
    });
    for (given, state) in [
        (vec![], MeetingState::Scheduled),
        (in_call(), MeetingState::InCall),
        (registering(), MeetingState::Registering),
        (ended, MeetingState::Ended),
    ] {
        let err = decide(
            given,
            MeetingCommand::TakeInCharge {
                operator: OPERATOR.to_owned(),
                at: t(6),
            },
        )
        .unwrap_err();
        // The refusal says, by its wire name, what the meeting is in.
        assert_eq!(
            err.to_string(),
            format!(
                "nobody is in the waiting room: the meeting is {} (M3)",
                state.as_str()
            )
        );
        assert_eq!(err, MeetingError::NotWaiting { state });
        assert_eq!(err.code(), "not_waiting");
    }
}

// ---------------------------------------------------------------- M4

#[test]
fn m4_consent_given_in_waiting_room_or_in_call() {
    for given in [waiting(), in_call()] {
        let events = decide(
            given.clone(),
            MeetingCommand::Consent {
                recording: true,
                at: t(1),
            },
        )
        .unwrap();
        // M12: where meetings are recorded, the recording starts with it.
        assert_eq!(
            events,
            vec![
                MeetingEvent::RecordingConsented { at: t(1) },
                MeetingEvent::RecordingStarted { at: t(1) }
            ]
        );
        let mut after = given;
        after.extend(events);
        assert_eq!(meeting_with(after.clone()).consent(), Some(true));
        assert!(meeting_with(after).is_recording());
    }
}

#[tokio::test]
async fn m4_consent_denied_ends_the_meeting_with_outcome_consent_denied() {
    framework()
        .given(in_call())
        .when_async(MeetingCommand::Consent {
            recording: false,
            at: t(1),
        })
        .await
        .then_expect_events(vec![
            MeetingEvent::RecordingRefused { at: t(1) },
            MeetingEvent::MeetingEnded {
                booking: Some(ended_booking()),
                outcome: Outcome::ConsentDenied,
                at: t(1),
            },
        ]);
    let mut given = in_call();
    given.extend(
        decide(
            in_call(),
            MeetingCommand::Consent {
                recording: false,
                at: t(1),
            },
        )
        .unwrap(),
    );
    let m = meeting_with(given);
    assert_eq!(m.state(), MeetingState::Ended);
    assert_eq!(m.consent(), Some(false));
    assert_eq!(m.outcome(), Some(&Outcome::ConsentDenied));
}

#[test]
fn m4_consent_on_an_ended_meeting_is_refused() {
    let mut ended = in_call();
    ended.push(MeetingEvent::MeetingEnded {
        booking: Some(ended_booking()),
        outcome: Outcome::GrantorAbsent,
        at: t(1),
    });
    let err = decide(
        ended,
        MeetingCommand::Consent {
            recording: true,
            at: t(2),
        },
    )
    .unwrap_err();
    assert_eq!(err, MeetingError::MeetingClosed);
    assert_eq!(
        decide(
            vec![],
            MeetingCommand::Consent {
                recording: true,
                at: t(2)
            }
        ),
        Err(MeetingError::NotJoined)
    );
}

#[test]
fn m4_repeated_consent_is_idempotent() {
    assert_eq!(
        decide(
            ready(),
            MeetingCommand::Consent {
                recording: true,
                at: t(5)
            }
        ),
        Ok(vec![])
    );
}

#[test]
fn m4_consent_not_needed_when_meetings_are_not_recorded() {
    let policy = Policy {
        meetings_recorded: false,
        ..Policy::default()
    };
    let without_consent: Vec<MeetingEvent> = ready()
        .into_iter()
        .filter(|e| !matches!(e, MeetingEvent::RecordingConsented { .. }))
        .collect();
    let m = meeting_with(without_consent);
    assert_eq!(m.consent(), None);
    assert_eq!(
        m.decide(complete(), &policy),
        Ok(vec![completion_requested()])
    );
    assert_eq!(
        m.decide(complete(), &Policy::default()),
        Err(MeetingError::ConsentMissing)
    );
}

// ---------------------------------------------------------------- M5

#[tokio::test]
async fn m5_operator_attests_attendance_in_call() {
    framework()
        .given(in_call())
        .when_async(MeetingCommand::RecordAttendance {
            grantor_present: true,
            delegate_present: true,
            grantor_able_to_consent: false,
            at: t(2),
        })
        .await
        .then_expect_events(vec![attendance(true, true, false)]);
}

/// M5: the meeting keeps what the operator attested, party by party.
#[test]
fn m5_the_meeting_keeps_what_was_attested() {
    let mut given = in_call();
    assert_eq!(meeting_with(given.clone()).present(), Presence::default());
    given.push(attendance(true, false, true));
    assert_eq!(
        meeting_with(given).present(),
        Presence {
            grantor: true,
            delegate: false,
            grantor_able_to_consent: true,
        }
    );
}

#[test]
fn m5_attendance_only_in_call() {
    let cmd = MeetingCommand::RecordAttendance {
        grantor_present: true,
        delegate_present: true,
        grantor_able_to_consent: true,
        at: t(2),
    };
    let err = decide(waiting(), cmd.clone()).unwrap_err();
    assert_eq!(
        err,
        MeetingError::NotInCall {
            state: MeetingState::WaitingRoom
        }
    );
    assert_eq!(err.code(), "not_in_call");
    assert_eq!(
        decide(vec![], cmd.clone()),
        Err(MeetingError::NotInCall {
            state: MeetingState::Scheduled
        })
    );
    assert_eq!(decide(registering(), cmd), Err(MeetingError::Registering));
}

#[test]
fn m5_complete_refused_unless_every_party_is_attested() {
    for (g, d, a) in [
        (false, true, true),
        (true, false, true),
        (true, true, false),
        (false, false, false),
    ] {
        let mut given = ready();
        given.push(attendance(g, d, a));
        let err = decide(given, complete()).unwrap_err();
        assert_eq!(
            err,
            MeetingError::PartiesMissing {
                present: Presence {
                    grantor: g,
                    delegate: d,
                    grantor_able_to_consent: a
                }
            }
        );
        assert_eq!(err.code(), "parties_missing");
    }
}

// ---------------------------------------------------------------- M6

#[test]
fn m6_documents_attach_in_waiting_room_or_in_call_and_the_latest_counts() {
    let first = document(DocumentKind::Aa08, '1');
    let second = document(DocumentKind::Aa08, '2');
    let id = document(DocumentKind::IdentityDocument, '3');
    let mut given = waiting();
    for (doc, at) in [
        (first.clone(), t(1)),
        (id.clone(), t(2)),
        (second.clone(), t(3)),
    ] {
        let events = decide(
            given.clone(),
            MeetingCommand::AttachDocument {
                document: doc,
                booking_active: true,
                at,
            },
        )
        .unwrap();
        assert_eq!(events.len(), 1);
        given.extend(events);
    }
    let m = meeting_with(given.clone());
    assert_eq!(m.documents(), &[second.clone(), id]);
    assert_eq!(m.document(DocumentKind::Aa08), Some(&second));
    // The same document again changes nothing.
    assert_eq!(
        decide(
            given,
            MeetingCommand::AttachDocument {
                document: second,
                booking_active: true,
                at: t(4)
            }
        ),
        Ok(vec![])
    );
}

#[test]
fn m6_documents_refused_before_join_and_after_end() {
    let cmd = MeetingCommand::AttachDocument {
        document: document(DocumentKind::Aa08, 'a'),
        booking_active: true,
        at: t(1),
    };
    assert_eq!(decide(vec![], cmd.clone()), Err(MeetingError::NotJoined));
    let mut ended = waiting();
    ended.push(MeetingEvent::MeetingEnded {
        booking: Some(ended_booking()),
        outcome: Outcome::NoShow,
        at: t(1),
    });
    assert_eq!(decide(ended, cmd), Err(MeetingError::MeetingClosed));
}

/// M6, and the security finding it answers: uploads to a cancelled
/// booking's meeting were stored before the meeting refused them. The
/// meeting says whether it takes a document now, by the rule its command
/// decides by, so that the caller asks before it stores a byte.
#[test]
fn m6_a_document_is_taken_only_while_the_meeting_is_on_and_its_booking_active() {
    let mut ended = waiting();
    ended.push(MeetingEvent::MeetingEnded {
        booking: Some(ended_booking()),
        outcome: Outcome::NoShow,
        at: t(1),
    });
    let cases = [
        (vec![], true, Err(MeetingError::NotJoined)),
        (vec![], false, Err(MeetingError::BookingNotActive)),
        (waiting(), true, Ok(())),
        (in_call(), true, Ok(())),
        (waiting(), false, Err(MeetingError::BookingNotActive)),
        (in_call(), false, Err(MeetingError::BookingNotActive)),
        (registering(), true, Err(MeetingError::Registering)),
        (ended.clone(), true, Err(MeetingError::MeetingClosed)),
        (ended, false, Err(MeetingError::MeetingClosed)),
    ];
    for (given, booking_active, expected) in cases {
        let meeting = meeting_with(given.clone());
        assert_eq!(
            meeting.accepts_document(booking_active),
            expected,
            "{:?}, booking active: {booking_active}",
            meeting.state()
        );
        // The command decides by the same rule.
        let attach = MeetingCommand::AttachDocument {
            document: document(DocumentKind::Aa08, 'c'),
            booking_active,
            at: t(6),
        };
        assert_eq!(decide(given, attach).map(|_| ()), expected);
    }
    assert_eq!(MeetingError::BookingNotActive.code(), "not_active");
}

// ---------------------------------------------------------------- M7

#[tokio::test]
async fn m7_complete_refused_without_consent() {
    let given: Vec<MeetingEvent> = ready()
        .into_iter()
        .filter(|e| !matches!(e, MeetingEvent::RecordingConsented { .. }))
        .collect();
    framework()
        .given(given)
        .when_async(complete())
        .await
        .then_expect_error(MeetingError::ConsentMissing);
    assert_eq!(MeetingError::ConsentMissing.code(), "consent_missing");
}

#[test]
fn m7_complete_refused_without_both_documents() {
    let without = |kind: DocumentKind| -> Vec<MeetingEvent> {
        ready()
            .into_iter()
            .filter(|e| !matches!(e, MeetingEvent::DocumentAttached { document, .. } if document.kind == kind))
            .collect()
    };
    for (given, missing) in [
        (without(DocumentKind::Aa08), vec![DocumentKind::Aa08]),
        (
            without(DocumentKind::IdentityDocument),
            vec![DocumentKind::IdentityDocument],
        ),
        (
            in_call()
                .into_iter()
                .chain([
                    MeetingEvent::RecordingConsented { at: t(1) },
                    attendance(true, true, true),
                ])
                .collect(),
            vec![DocumentKind::Aa08, DocumentKind::IdentityDocument],
        ),
    ] {
        let err = decide(given, complete()).unwrap_err();
        assert_eq!(err.code(), "documents_missing");
        // The refusal says which, by their wire names.
        let message = err.to_string();
        for kind in &missing {
            assert!(message.contains(kind.as_str()), "{message}");
        }
        assert_eq!(err, MeetingError::DocumentsMissing { missing });
    }
}

#[test]
fn m7_complete_only_in_call() {
    let err = decide(waiting(), complete()).unwrap_err();
    assert_eq!(
        err,
        MeetingError::NotInCall {
            state: MeetingState::WaitingRoom
        }
    );
}

#[tokio::test]
async fn m7_complete_requests_the_registration_and_waits_for_it() {
    framework()
        .given(ready())
        .when_async(complete())
        .await
        .then_expect_events(vec![completion_requested()]);
    let m = meeting_with(registering());
    assert_eq!(m.state(), MeetingState::Registering);
    assert_eq!(m.delegation_id(), Some(&delegation_id()));
    assert_eq!(m.outcome(), None);
}

#[test]
fn m7_registration_request_names_grantor_and_delegate() {
    assert_eq!(
        registration_request(&completion_requested()),
        Some((delegation_id(), cf(GRANTOR), cf(DELEGATE)))
    );
    for other in ready() {
        assert_eq!(registration_request(&other), None);
    }
}

#[test]
fn m7_repeated_completion_is_idempotent_another_is_refused() {
    assert_eq!(decide(registering(), complete()), Ok(vec![]));
    let other = MeetingCommand::Complete {
        delegation_id: DelegationId::parse("d-8").unwrap(),
        at: t(6),
    };
    let err = decide(registering(), other).unwrap_err();
    assert_eq!(err, MeetingError::Registering);
    assert_eq!(err.code(), "registration_in_progress");
}

#[tokio::test]
async fn m7_registered_delegation_ends_the_meeting() {
    let result = RegistrationResult::Registered {
        delegation_id: delegation_id(),
    };
    framework()
        .given(registering())
        .when_async(MeetingCommand::RecordOutcome { result, at: t(6) })
        .await
        .then_expect_events(vec![MeetingEvent::MeetingEnded {
            booking: Some(ended_booking()),
            outcome: Outcome::DelegationRegistered {
                delegation_id: delegation_id(),
            },
            at: t(6),
        }]);
}

#[tokio::test]
async fn m7_refused_registration_ends_the_meeting_with_the_rule_code() {
    let result = RegistrationResult::Refused {
        code: "grantor_already_has_delegate".to_owned(),
    };
    framework()
        .given(registering())
        .when_async(MeetingCommand::RecordOutcome { result, at: t(6) })
        .await
        .then_expect_events(vec![MeetingEvent::MeetingEnded {
            booking: Some(ended_booking()),
            outcome: Outcome::RegistrationRefused {
                code: "grantor_already_has_delegate".to_owned(),
            },
            at: t(6),
        }]);
}

#[test]
fn m7_the_same_outcome_again_is_idempotent_another_is_refused() {
    let registered = RegistrationResult::Registered {
        delegation_id: delegation_id(),
    };
    let mut given = registering();
    given.extend(
        decide(
            registering(),
            MeetingCommand::RecordOutcome {
                result: registered.clone(),
                at: t(6),
            },
        )
        .unwrap(),
    );
    assert_eq!(meeting_with(given.clone()).state(), MeetingState::Ended);
    assert_eq!(
        decide(
            given.clone(),
            MeetingCommand::RecordOutcome {
                result: registered,
                at: t(7)
            }
        ),
        Ok(vec![])
    );
    assert_eq!(
        decide(
            given.clone(),
            MeetingCommand::RecordOutcome {
                result: RegistrationResult::Refused {
                    code: "delegate_cap_reached".to_owned()
                },
                at: t(7)
            }
        ),
        Err(MeetingError::MeetingClosed)
    );
    // A retried completion after the end answers with no event: read the outcome.
    assert_eq!(decide(given, complete()), Ok(vec![]));
}

#[test]
fn m7_outcome_only_while_registering_and_for_the_requested_delegation() {
    let err = decide(
        ready(),
        MeetingCommand::RecordOutcome {
            result: RegistrationResult::Refused {
                code: "delegate_cap_reached".to_owned(),
            },
            at: t(6),
        },
    )
    .unwrap_err();
    assert_eq!(
        err,
        MeetingError::NotRegistering {
            state: MeetingState::InCall
        }
    );
    assert_eq!(err.code(), "not_registering");
    let other = DelegationId::parse("d-8").unwrap();
    assert_eq!(
        decide(
            registering(),
            MeetingCommand::RecordOutcome {
                result: RegistrationResult::Registered {
                    delegation_id: other
                },
                at: t(6)
            }
        ),
        Err(MeetingError::DelegationMismatch {
            expected: delegation_id()
        })
    );
}

// ---------------------------------------------------------------- M8

#[tokio::test]
async fn m8_abandon_ends_the_meeting_with_each_reason() {
    for (reason, outcome) in [
        (AbandonReason::GrantorAbsent, Outcome::GrantorAbsent),
        (AbandonReason::NoShow, Outcome::NoShow),
        (AbandonReason::TechnicalFailure, Outcome::TechnicalFailure),
        (AbandonReason::DocumentsInvalid, Outcome::DocumentsInvalid),
    ] {
        for given in [vec![], waiting(), in_call()] {
            // B8: the end names the booking, which it settles, whether
            // the meeting knew it (someone joined) or the command told it.
            framework()
                .given(given)
                .when_async(MeetingCommand::Abandon {
                    outcome: reason,
                    booking: Some(ended_booking()),
                    at: t(20),
                })
                .await
                .then_expect_events(vec![MeetingEvent::MeetingEnded {
                    booking: Some(ended_booking()),
                    outcome: outcome.clone(),
                    at: t(20),
                }]);
        }
    }
}

#[test]
fn m8_abandon_refused_while_registering_and_after_the_end() {
    let abandon = |outcome| MeetingCommand::Abandon {
        outcome,
        booking: None,
        at: t(20),
    };
    let err = decide(registering(), abandon(AbandonReason::TechnicalFailure)).unwrap_err();
    assert_eq!(err, MeetingError::Registering);
    assert_eq!(err.code(), "registration_in_progress");

    let mut ended = waiting();
    ended.push(MeetingEvent::MeetingEnded {
        booking: Some(ended_booking()),
        outcome: Outcome::NoShow,
        at: t(15),
    });
    assert_eq!(
        decide(ended.clone(), abandon(AbandonReason::NoShow)),
        Ok(vec![])
    );
    assert_eq!(
        decide(ended, abandon(AbandonReason::GrantorAbsent)),
        Err(MeetingError::MeetingClosed)
    );
}

#[test]
fn m8_reasons_have_the_api_names() {
    for (reason, name) in [
        (AbandonReason::GrantorAbsent, "grantor_absent"),
        (AbandonReason::NoShow, "no_show"),
        (AbandonReason::TechnicalFailure, "technical_failure"),
        (AbandonReason::DocumentsInvalid, "documents_invalid"),
    ] {
        let body: serde_json::Value = json!({ "outcome": name });
        assert_eq!(
            serde_json::from_value::<AbandonReason>(body["outcome"].clone()).unwrap(),
            reason
        );
        assert_eq!(Outcome::from(reason).code(), name);
    }
}

// ---------------------------------------------------------------- M9

#[test]
fn m9_console_state_follows_the_meeting() {
    let mut ended = registering();
    ended.push(MeetingEvent::MeetingEnded {
        booking: Some(ended_booking()),
        outcome: Outcome::DelegationRegistered {
            delegation_id: delegation_id(),
        },
        at: t(6),
    });
    for (given, state, name) in [
        (vec![], MeetingState::Scheduled, "scheduled"),
        (waiting(), MeetingState::WaitingRoom, "waiting_room"),
        (in_call(), MeetingState::InCall, "in_call"),
        (registering(), MeetingState::Registering, "registering"),
        (ended, MeetingState::Ended, "ended"),
    ] {
        let m = meeting_with(given);
        assert_eq!(m.console_state(), state);
        assert_eq!(serde_json::to_value(state).unwrap(), json!(name));
        assert_eq!(state.as_str(), name);
    }
}

#[test]
fn m9_view_serialises_to_the_api_shape() {
    let view = meeting_with(ready()).view();
    assert_eq!(
        serde_json::to_value(&view).unwrap(),
        json!({
            "state": "in_call",
            "consent": true,
            "present": {"grantor": true, "delegate": true, "grantor_able_to_consent": true},
            "documents": [
                {"kind": "aa08", "sha256": "a".repeat(64), "bytes": 48213},
                {"kind": "identity_document", "sha256": "b".repeat(64), "bytes": 48213},
            ],
            "outcome": null,
            "recording": false,
        })
    );
    assert_eq!(
        serde_json::to_value(Meeting::default().view()).unwrap(),
        json!({
            "state": "scheduled",
            "consent": null,
            "present": {"grantor": false, "delegate": false, "grantor_able_to_consent": false},
            "documents": [],
            "outcome": null,
            "recording": false,
        })
    );
    let mut refused = registering();
    refused.push(MeetingEvent::MeetingEnded {
        booking: Some(ended_booking()),
        outcome: Outcome::RegistrationRefused {
            code: "delegate_cap_reached".to_owned(),
        },
        at: t(6),
    });
    let view = meeting_with(refused).view();
    let json = serde_json::to_value(&view).unwrap();
    assert_eq!(json["state"], "ended");
    assert_eq!(
        json["outcome"],
        json!({"kind": "registration_refused", "code": "delegate_cap_reached"})
    );
    assert_eq!(serde_json::from_value::<MeetingView>(json).unwrap(), view);
}

#[test]
fn m7_m8_only_a_registered_delegation_is_a_successful_outcome() {
    assert!(Outcome::DelegationRegistered {
        delegation_id: delegation_id()
    }
    .is_success());
    for outcome in [
        Outcome::RegistrationRefused {
            code: "delegate_cap_reached".to_owned(),
        },
        Outcome::ConsentDenied,
        Outcome::GrantorAbsent,
        Outcome::NoShow,
        Outcome::TechnicalFailure,
        Outcome::DocumentsInvalid,
    ] {
        assert!(!outcome.is_success(), "{outcome:?}");
    }
}

#[test]
fn m9_outcomes_serialise_with_their_names() {
    for (outcome, expected) in [
        (Outcome::ConsentDenied, json!({"kind": "consent_denied"})),
        (
            Outcome::DelegationRegistered {
                delegation_id: delegation_id(),
            },
            json!({"kind": "delegation_registered", "delegation_id": "d-7"}),
        ),
        (Outcome::NoShow, json!({"kind": "no_show"})),
        (
            Outcome::DocumentsInvalid,
            json!({"kind": "documents_invalid"}),
        ),
    ] {
        assert_eq!(serde_json::to_value(&outcome).unwrap(), expected);
        assert_eq!(expected["kind"], outcome.code());
    }
}

#[test]
fn m9_events_replayed_from_json_rebuild_the_same_meeting() {
    let mut events = registering();
    events.push(MeetingEvent::MeetingEnded {
        booking: Some(ended_booking()),
        outcome: Outcome::DelegationRegistered {
            delegation_id: delegation_id(),
        },
        at: t(6),
    });
    let direct = meeting_with(events.clone());
    let stored: Vec<(String, String, serde_json::Value)> = events
        .iter()
        .map(|e| {
            (
                e.event_type(),
                e.event_version(),
                serde_json::to_value(e).unwrap(),
            )
        })
        .collect();
    let replayed = meeting_with(
        stored
            .into_iter()
            .map(|(kind, version, payload)| {
                assert_eq!(version, "1.0");
                let event: MeetingEvent = serde_json::from_value(payload).unwrap();
                assert_eq!(event.event_type(), kind);
                event
            })
            .collect(),
    );
    assert_eq!(replayed, direct);
    assert_eq!(replayed.view(), direct.view());
    // A snapshot of the state round-trips too.
    let snapshot = serde_json::to_string(&direct).unwrap();
    assert_eq!(serde_json::from_str::<Meeting>(&snapshot).unwrap(), direct);
}

#[test]
fn m9_event_types_are_variant_names() {
    let names: Vec<String> = registering()
        .iter()
        .chain([&MeetingEvent::RecordingRefused { at: t(1) }])
        .chain([&MeetingEvent::MeetingEnded {
            booking: Some(ended_booking()),
            outcome: Outcome::NoShow,
            at: t(1),
        }])
        .map(DomainEvent::event_type)
        .collect();
    assert_eq!(
        names,
        [
            "Joined",
            "TakenInCharge",
            "RecordingConsented",
            "AttendanceRecorded",
            "DocumentAttached",
            "DocumentAttached",
            "CompletionRequested",
            "RecordingRefused",
            "MeetingEnded",
        ]
    );
    assert_eq!(Meeting::TYPE, "meeting");
}

#[test]
fn meeting_events_carry_their_instant() {
    let events = [
        joined_at(summer_slot(), t(0)),
        MeetingEvent::TakenInCharge {
            operator: OPERATOR.to_owned(),
            at: t(1),
        },
        MeetingEvent::RecordingConsented { at: t(2) },
        MeetingEvent::RecordingRefused { at: t(3) },
        MeetingEvent::AttendanceRecorded {
            grantor_present: true,
            delegate_present: true,
            grantor_able_to_consent: true,
            at: t(4),
        },
        MeetingEvent::DocumentAttached {
            document: document(DocumentKind::Aa08, 'a'),
            at: t(5),
        },
        MeetingEvent::CompletionRequested {
            booking_id: booking_id(),
            delegation_id: delegation_id(),
            grantor: cf(GRANTOR),
            delegate: cf(DELEGATE),
            documents: vec![document(DocumentKind::Aa08, 'a')],
            at: t(6),
        },
        MeetingEvent::MeetingEnded {
            booking: Some(ended_booking()),
            outcome: Outcome::NoShow,
            at: t(7),
        },
        MeetingEvent::AccessCodeRejected {
            wrong_codes: 1,
            at: t(8),
        },
        MeetingEvent::JoiningLocked { at: t(9) },
        MeetingEvent::AccessCodeAccepted { at: t(10) },
        MeetingEvent::AccessCodeIssued {
            booking_id: booking_id(),
            generation: 1,
            code: digest("N3WC0DE9"),
            phone: Phone::parse("3331234567").unwrap(),
            operator: OPERATOR.to_owned(),
            at: t(11),
        },
    ];
    for (n, event) in events.iter().enumerate() {
        assert_eq!(event.at(), t(n as i64), "{event:?}");
    }
}

// ---------------------------------------------------------------- M12

/// In call, consent given where meetings are recorded: the recording is on.
fn recording() -> Vec<MeetingEvent> {
    let mut events = in_call();
    events.extend(
        decide(
            in_call(),
            MeetingCommand::Consent {
                recording: true,
                at: t(1),
            },
        )
        .unwrap(),
    );
    events
}

#[test]
fn m12_the_recording_stops_when_the_attendance_is_recorded() {
    assert!(meeting_with(recording()).is_recording());
    let events = decide(
        recording(),
        MeetingCommand::RecordAttendance {
            grantor_present: true,
            delegate_present: true,
            grantor_able_to_consent: true,
            at: t(2),
        },
    )
    .unwrap();
    assert_eq!(
        events,
        vec![
            attendance(true, true, true),
            MeetingEvent::RecordingStopped { at: t(2) }
        ]
    );
    let mut after = recording();
    after.extend(events);
    let m = meeting_with(after.clone());
    assert!(!m.is_recording());
    assert!(!m.view().recording);
    // A correction of the attendance does not stop it twice.
    let again = decide(
        after,
        MeetingCommand::RecordAttendance {
            grantor_present: true,
            delegate_present: false,
            grantor_able_to_consent: true,
            at: t(3),
        },
    )
    .unwrap();
    assert!(!again
        .iter()
        .any(|e| matches!(e, MeetingEvent::RecordingStopped { .. })));
}

#[test]
fn m12_the_recording_stops_when_the_meeting_ends_before_the_attendance() {
    let events = decide(
        recording(),
        MeetingCommand::Abandon {
            outcome: AbandonReason::TechnicalFailure,
            booking: None,
            at: t(4),
        },
    )
    .unwrap();
    assert_eq!(
        events,
        vec![
            MeetingEvent::RecordingStopped { at: t(4) },
            MeetingEvent::MeetingEnded {
                booking: Some(ended_booking()),
                outcome: Outcome::TechnicalFailure,
                at: t(4),
            }
        ]
    );
    let mut after = recording();
    after.extend(events);
    assert!(!meeting_with(after).is_recording());
}

#[test]
fn m12_nothing_is_recorded_where_meetings_are_not_recorded() {
    let policy = Policy {
        meetings_recorded: false,
        ..Policy::default()
    };
    let events = meeting_with(in_call())
        .decide(
            MeetingCommand::Consent {
                recording: true,
                at: t(1),
            },
            &policy,
        )
        .unwrap();
    assert_eq!(events, vec![MeetingEvent::RecordingConsented { at: t(1) }]);
    let mut after = in_call();
    after.extend(events);
    assert!(!meeting_with(after).view().recording);
}
