//! Given/when/then tests of N1–N6, named after the rule ids.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use proptest::prelude::*;

use super::*;
use crate::booking::{
    AccessCodeDigest, BookerEvent, Booking, BookingId, BookingStage, GrantorDetails, Phone,
};
use crate::delegation::{Delegation, DelegationId, GrantorEvent, RevocationChannel};
use crate::meeting::MeetingEvent;
use crate::schedule::{Counter, Mode, OfficeId};
use crate::{FiscalCode, Policy};

const BOOKER: &str = "VRDLGU70A01H501O";
const GRANTOR: &str = "RSSMRA85T10A562S";

fn cf(s: &str) -> FiscalCode {
    FiscalCode::parse(s).unwrap()
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

/// Tuesday 31 March 2026, 09:00 in Rome (summer time since the 29th) = 07:00Z.
fn slot_start() -> DateTime<Utc> {
    utc(2026, 3, 31, 7, 0)
}

/// Friday 20 March 2026, 11:00 in Rome (still winter time).
fn booked_at() -> DateTime<Utc> {
    utc(2026, 3, 20, 10, 0)
}

fn booking(id: &str, start: DateTime<Utc>, mode: Mode) -> Booking {
    let counter = Counter::web_meeting_delegations(OfficeId::parse("DCM NAPOLI").unwrap());
    let slot = counter.offers(start).expect("an offered slot");
    Booking {
        id: BookingId::parse(id).unwrap(),
        booker: cf(BOOKER),
        counter: counter.id.clone(),
        counter_name: counter.name.clone(),
        counter_type: counter.counter_type.clone(),
        office: counter.office.clone(),
        slot,
        capacity: counter.capacity(),
        mode,
        reason: "Delega".into(),
        phone: Phone::parse("333 1234567").unwrap(),
        grantor: Some(GrantorDetails::new(cf(GRANTOR), "Mario", "Rossi").unwrap()),
        access_code: Some(AccessCodeDigest::from_bytes(&[7; 32])),
        requested_at: booked_at(),
        stage: BookingStage::Confirmed,
        booked_by: None,
        ticket_letter: Some('D'),
        place: Some(1),
    }
}

fn web_booking(id: &str) -> Booking {
    booking(id, slot_start(), Mode::WebMeeting)
}

fn confirmed(b: &Booking, at: DateTime<Utc>) -> BookerEvent {
    BookerEvent::BookingConfirmed {
        id: b.id.clone(),
        booker: b.booker.clone(),
        place: b.place,
        at,
    }
}

fn cancelled(b: &Booking, at: DateTime<Utc>) -> BookerEvent {
    BookerEvent::BookingCancelled {
        id: b.id.clone(),
        booker: b.booker.clone(),
        slot_key: crate::booking::slot_key(&b.counter, &b.slot),
        at,
    }
}

fn scheduled(ops: &[OutboxOp]) -> Vec<&Notification> {
    ops.iter().filter_map(OutboxOp::notification).collect()
}

fn find<'a>(ops: &'a [OutboxOp], key: &str) -> &'a Notification {
    scheduled(ops)
        .into_iter()
        .find(|n| n.key == key)
        .unwrap_or_else(|| panic!("no notification {key} in {ops:#?}"))
}

fn keys_of(ops: &[OutboxOp]) -> Vec<String> {
    ops.iter().map(|op| op.key().to_owned()).collect()
}

fn on_confirmed(b: &Booking, policy: &Policy, now: DateTime<Utc>) -> Vec<OutboxOp> {
    on_booking_event(&confirmed(b, now), b, policy, now)
}

// --- N1 ---------------------------------------------------------------------

#[test]
fn n1_confirmation_sms_has_counter_date_time_and_access_code_due_at_the_event() {
    let b = web_booking("b-1");
    let ops = on_confirmed(&b, &Policy::default(), booked_at());
    let sms = find(&ops, "booking:b-1:sms:confirmation");
    assert_eq!(
        sms.channel,
        Channel::Sms {
            to: Phone::parse("+393331234567").unwrap()
        }
    );
    assert_eq!(sms.due_at, booked_at());
    for part in [
        "DELEGHE IDENTITÀ DIGITALI IN WEB MEETING",
        "DCM NAPOLI",
        "31/03/2026",
        "09:00",
        "web meeting",
        // M10: the code itself is filled in when the SMS is sent.
        "Codice di accesso al web meeting: {{codice:b-1:0}}.",
    ] {
        assert!(
            sms.body.contains(part),
            "{part:?} missing from {:?}",
            sms.body
        );
    }
}

#[test]
fn m10_a_new_access_code_goes_by_sms_to_the_bookings_phone() {
    let issued = MeetingEvent::AccessCodeIssued {
        booking_id: BookingId::parse("b-1").unwrap(),
        generation: 2,
        code: AccessCodeDigest::from_bytes(&[9; 32]),
        phone: Phone::parse("3331234567").unwrap(),
        operator: "op-1".into(),
        at: booked_at(),
    };
    let ops = on_meeting_event(&issued, booked_at());
    let sms = find(&ops, "booking:b-1:sms:access-code-2");
    assert_eq!(
        sms.channel,
        Channel::Sms {
            to: Phone::parse("+393331234567").unwrap()
        }
    );
    assert_eq!(sms.due_at, booked_at());
    assert!(sms.body.contains("{{codice:b-1:2}}"), "{}", sms.body);
    assert!(
        !sms.body.contains(&"09".repeat(32)),
        "never the digest: {}",
        sms.body
    );
    let joined = MeetingEvent::JoiningLocked { at: booked_at() };
    assert!(on_meeting_event(&joined, booked_at()).is_empty());
}

/// N1, N2: the SMS name the booking's mode as the guide does
/// ("Modalità erogazione del servizio").
#[test]
fn n1_n2_the_sms_name_the_mode_as_the_guide_does() {
    for (n, (mode, name)) in [
        (Mode::WebMeeting, "modalità web meeting."),
        (Mode::InPerson, "modalità in sede."),
        (Mode::PhoneCallback, "modalità ricontatto telefonico."),
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("b-{n}");
        let ops = on_confirmed(
            &booking(&id, slot_start(), mode),
            &Policy::default(),
            booked_at(),
        );
        for purpose in ["confirmation", "reminder"] {
            let sms = find(&ops, &format!("booking:{id}:sms:{purpose}"));
            assert!(sms.body.contains(name), "{}", sms.body);
        }
    }
}

#[test]
fn n1_no_access_code_outside_web_meetings() {
    let b = booking("b-1", slot_start(), Mode::InPerson);
    let ops = on_confirmed(&b, &Policy::default(), booked_at());
    let sms = find(&ops, "booking:b-1:sms:confirmation");
    assert!(!sms.body.contains("{{codice:"));
    assert!(sms.body.contains("in sede"));
    assert!(sms.body.contains("31/03/2026"));
}

#[test]
fn n1_nothing_for_requests_services_or_another_booking() {
    let b = web_booking("b-1");
    let policy = Policy::default();
    let requested = BookerEvent::BookingRequested(Box::new(b.clone()));
    assert!(on_booking_event(&requested, &b, &policy, booked_at()).is_empty());
    let served = BookerEvent::BookingServed {
        id: b.id.clone(),
        booker: b.booker.clone(),
        at: slot_start(),
    };
    assert!(on_booking_event(&served, &b, &policy, slot_start()).is_empty());
    let other = web_booking("b-2");
    assert!(on_booking_event(&confirmed(&other, booked_at()), &b, &policy, booked_at()).is_empty());
}

// --- N2 ---------------------------------------------------------------------

#[test]
fn n2_reminder_due_30_minutes_before_the_start_across_a_dst_change() {
    let b = web_booking("b-1");
    // Booked in winter time, the meeting in summer time: 09:00 local = 07:00Z.
    assert_eq!(b.slot.start, slot_start());
    let ops = on_confirmed(&b, &Policy::default(), booked_at());
    let reminder = find(&ops, "booking:b-1:sms:reminder");
    assert_eq!(reminder.due_at, utc(2026, 3, 31, 6, 30));
    assert_eq!(
        reminder
            .due_at
            .with_timezone(&crate::time::ROME)
            .to_rfc3339(),
        "2026-03-31T08:30:00+02:00"
    );
    assert!(matches!(reminder.channel, Channel::Sms { .. }));
    assert!(reminder
        .body
        .contains("DELEGHE IDENTITÀ DIGITALI IN WEB MEETING"));
    assert!(reminder.body.contains("09:00"));
}

/// N2: the reminder of a web meeting says how to join it [001]; that of a
/// booking in person does not.
#[test]
fn n2_the_reminder_of_a_web_meeting_says_how_to_join_it() {
    const HOW: &str = "Acceda al web meeting da MyINPS con il codice ricevuto via SMS.";
    let web = web_booking("b-1");
    let ops = on_confirmed(&web, &Policy::default(), booked_at());
    assert!(find(&ops, "booking:b-1:sms:reminder").body.ends_with(HOW));
    let in_person = booking("b-2", slot_start(), Mode::InPerson);
    let ops = on_confirmed(&in_person, &Policy::default(), booked_at());
    let reminder = find(&ops, "booking:b-2:sms:reminder");
    assert!(!reminder.body.contains(HOW), "{}", reminder.body);
}

#[test]
fn n2_reminder_minutes_are_policy() {
    let b = web_booking("b-1");
    let policy = Policy {
        reminder_minutes_before_start: 120,
        ..Policy::default()
    };
    let ops = on_confirmed(&b, &policy, booked_at());
    assert_eq!(
        find(&ops, "booking:b-1:sms:reminder").due_at,
        utc(2026, 3, 31, 5, 0)
    );
}

#[test]
fn n2_reminder_due_now_when_booked_within_the_last_30_minutes() {
    let b = web_booking("b-1");
    let now = slot_start() - Duration::minutes(10);
    let ops = on_confirmed(&b, &Policy::default(), now);
    assert_eq!(find(&ops, "booking:b-1:sms:reminder").due_at, now);
}

#[test]
fn n2_no_reminder_once_the_slot_has_started_or_the_booking_is_over() {
    let b = web_booking("b-1");
    let ops = on_confirmed(&b, &Policy::default(), slot_start());
    assert!(!keys_of(&ops).contains(&"booking:b-1:sms:reminder".to_owned()));
    // The confirmation itself is still sent.
    find(&ops, "booking:b-1:sms:confirmation");

    let mut gone = web_booking("b-2");
    gone.stage = BookingStage::Cancelled { at: booked_at() };
    let ops = on_confirmed(&gone, &Policy::default(), booked_at());
    assert!(!keys_of(&ops).contains(&"booking:b-2:sms:reminder".to_owned()));
}

/// N7, D9: a booking asked for, then cancelled, by a delegate acting for the
/// booker is told to the booker on every N7 channel, naming the delegate;
/// what a booking's own events send is unchanged, and a confirmation, or an
/// event of another booking, adds nothing.
#[test]
fn n7_d9_a_booking_a_delegate_asked_for_or_cancelled_is_told_to_the_booker() {
    // The booker acted for, and their delegate (here the booking's grantor).
    let (grantor, delegate) = (cf(BOOKER), cf(GRANTOR));
    let mut b = web_booking("b-7");
    b.stage = BookingStage::Pending;
    let requested = BookerEvent::BookingRequested(Box::new(b.clone()));
    let ops = on_booking_acted_for(&requested, &b, &grantor, &delegate, booked_at());
    assert_eq!(ops.len(), 3, "{ops:#?}");
    let notice = find(&ops, "booking:b-7:acted-for:requested:calendar");
    assert_eq!(
        notice.channel,
        Channel::CalendarNotice {
            citizen: b.booker.clone()
        }
    );
    assert_eq!(notice.title, "Prenotazione chiesta a suo nome");
    assert!(notice.body.contains(GRANTOR), "{}", notice.body);
    assert!(notice.body.contains("31/03/2026"), "{}", notice.body);
    assert_eq!(notice.due_at, booked_at());
    let sms = find(&ops, "booking:b-7:acted-for:requested:mobile");
    assert_eq!(
        sms.channel,
        Channel::Mobile {
            citizen: b.booker.clone()
        }
    );
    assert!(sms.body.contains(GRANTOR));
    let io = find(&ops, "booking:b-7:acted-for:requested:io");
    assert_eq!(
        io.channel,
        Channel::Io {
            fiscal_code: b.booker.clone()
        }
    );

    let at = booked_at() + Duration::days(1);
    b.stage = BookingStage::Cancelled { at };
    let ops = on_booking_acted_for(&cancelled(&b, at), &b, &grantor, &delegate, at);
    let notice = find(&ops, "booking:b-7:acted-for:cancelled:calendar");
    assert_eq!(notice.title, "Prenotazione annullata a suo nome");
    assert!(notice.body.contains(GRANTOR) && notice.body.contains("annullato"));
    assert_eq!(notice.due_at, at);
    assert_eq!(ops.len(), 3, "{ops:#?}");

    assert!(on_booking_acted_for(&confirmed(&b, at), &b, &grantor, &delegate, at).is_empty());
    let other = web_booking("b-8");
    assert!(on_booking_acted_for(&cancelled(&other, at), &b, &grantor, &delegate, at).is_empty());
}

#[test]
fn n2_cancellation_withdraws_the_reminder_with_the_same_key() {
    let mut b = web_booking("b-1");
    let policy = Policy::default();
    let ops = on_confirmed(&b, &policy, booked_at());
    let reminder_key = find(&ops, "booking:b-1:sms:reminder").key.clone();
    assert_eq!(reminder_key, keys::booking_reminder_sms(&b.id));

    let at = booked_at() + Duration::days(2);
    b.stage = BookingStage::Cancelled { at };
    let ops = on_booking_event(&cancelled(&b, at), &b, &policy, at);
    assert!(ops.contains(&OutboxOp::Withdraw {
        key: reminder_key.clone()
    }));
    let sms = find(&ops, "booking:b-1:sms:cancellation");
    assert!(sms.body.contains("annullata"));
    assert!(sms.body.contains("31/03/2026"));
    assert_eq!(sms.due_at, at);

    // A refusal withdraws it too.
    let refused = BookerEvent::BookingRefused {
        id: b.id.clone(),
        booker: b.booker.clone(),
        slot_key: crate::booking::slot_key(&b.counter, &b.slot),
        reason: "slot_full".into(),
        refusal: None,
        at,
    };
    assert_eq!(
        on_booking_event(&refused, &b, &policy, at),
        vec![OutboxOp::Withdraw { key: reminder_key }]
    );
}

// --- N3 ---------------------------------------------------------------------

const GUIDE_SENTENCES: [&str; 7] = [
    "Gentile utente,\n\nla sua prenotazione in modalità telematica per lo sportello 'DELEGHE \
     IDENTITÀ DIGITALI IN WEB MEETING', per il giorno 31/03/2026 ore 09:00:00, è stata \
     regolarmente registrata.\n\n",
    "sia il delegato che il delegante dovranno essere presenti al web meeting",
    "Il delegante dovrà essere altresì munito di documento di riconoscimento dell'identità \
     personale in corso di validità.",
    "Modello AA08 compilato e sottoscritto, con firma autografa o digitale",
    "la copia del documento di riconoscimento dell'identità personale del delegante",
    "Ciascun documento dovrà essere presentato in formato pdf di dimensione massima 3 Mb.",
    "Informativa in materia di protezione e trattamento dei dati personali ai sensi dell'art. 13 \
     del Regolamento UE 2016/679",
];

fn calendar(policy: &Policy) -> Notification {
    let b = web_booking("b-1");
    let ops = on_confirmed(&b, policy, booked_at());
    find(&ops, "booking:b-1:calendar:confirmation").clone()
}

#[test]
fn n3_calendar_notice_has_the_guide_text_and_the_link() {
    let notice = calendar(&Policy::default());
    assert_eq!(notice.title, "Prenotazione Sportello Telematico");
    assert_eq!(
        notice.channel,
        Channel::CalendarNotice {
            citizen: cf(BOOKER)
        }
    );
    assert_eq!(notice.due_at, booked_at());
    for sentence in GUIDE_SENTENCES {
        assert!(
            notice.body.contains(sentence),
            "{sentence:?} missing from {:?}",
            notice.body
        );
    }
    assert!(notice.body.ends_with(
        "Potrà accedere al meeting online tramite questo link: /v1/bookings/b-1/meeting\n\
         L'accesso è possibile da 15 minuti prima dell'orario della prenotazione."
    ));
}

#[test]
fn n3_privacy_notice_variant_follows_meetings_recorded() {
    let recorded = calendar(&Policy::default());
    assert!(recorded.body.contains(
        "il servizio in videochiamata sarà oggetto di registrazione e, nel caso in cui in fase \
         di accesso non acconsentiate alla registrazione, il servizio non potrà essere erogato \
         nella modalità richiesta."
    ));
    assert!(!recorded.body.contains("non sarà oggetto di registrazione"));

    let not_recorded = calendar(&Policy {
        meetings_recorded: false,
        ..Policy::default()
    });
    assert!(not_recorded
        .body
        .contains("Il servizio in videochiamata non sarà oggetto di registrazione."));
    assert!(!not_recorded
        .body
        .contains("sarà oggetto di registrazione e"));
    // Everything else is the same.
    for sentence in GUIDE_SENTENCES {
        assert!(not_recorded.body.contains(sentence));
    }
}

#[test]
fn n3_size_limit_follows_policy() {
    let notice = calendar(&Policy {
        max_document_bytes: 5 * 1024 * 1024,
        ..Policy::default()
    });
    assert!(notice.body.contains("dimensione massima 5 Mb."));
    let notice = calendar(&Policy {
        max_document_bytes: 2_621_440,
        ..Policy::default()
    });
    assert!(notice.body.contains("dimensione massima 2,5 Mb."));
    // Rounded to the nearest tenth: 3,000,000 bytes are 2.86 MiB.
    let notice = calendar(&Policy {
        max_document_bytes: 3_000_000,
        ..Policy::default()
    });
    assert!(
        notice.body.contains("dimensione massima 2,9 Mb."),
        "{}",
        notice.body
    );
}

#[test]
fn n3_shorter_notice_for_other_modes() {
    let b = booking("b-1", slot_start(), Mode::PhoneCallback);
    let ops = on_confirmed(&b, &Policy::default(), booked_at());
    let notice = find(&ops, "booking:b-1:calendar:confirmation");
    assert_eq!(notice.title, "Prenotazione Sportello Telematico");
    assert!(notice.body.contains("31/03/2026 ore 09:00:00"));
    assert!(notice.body.contains("+393331234567"));
    assert!(!notice.body.contains("/meeting"));

    let b = booking("b-2", slot_start(), Mode::InPerson);
    let ops = on_confirmed(&b, &Policy::default(), booked_at());
    let notice = find(&ops, "booking:b-2:calendar:confirmation");
    assert_eq!(notice.title, "Prenotazione accesso in sede");
    assert!(notice.body.contains("presso la sede DCM NAPOLI"));
    assert!(!notice.body.contains("Informativa"));
}

// --- N4, N7 -----------------------------------------------------------------

fn delegation_id() -> DelegationId {
    DelegationId::parse("d-1").unwrap()
}

fn registered(awaiting_confirmation: bool) -> GrantorEvent {
    GrantorEvent::DelegationRegistered {
        id: delegation_id(),
        grantor: cf(GRANTOR),
        delegate: cf(BOOKER),
        awaiting_confirmation,
        meeting: None,
        at: utc(2026, 12, 1, 9, 0),
    }
}

fn revoked() -> GrantorEvent {
    GrantorEvent::DelegationRevoked {
        id: delegation_id(),
        grantor: cf(GRANTOR),
        delegate: cf(BOOKER),
        channel: RevocationChannel::Online,
        // 23:30Z is already 2 January in Rome.
        at: utc(2027, 1, 1, 23, 30),
    }
}

/// The delegation `d-1` as requested, with its end date.
fn delegation(ends_on: Option<NaiveDate>) -> Delegation {
    Delegation::requested(&GrantorEvent::DelegationRequested {
        id: delegation_id(),
        grantor: cf(GRANTOR),
        delegate: cf(BOOKER),
        role: crate::delegation::Role::Ordinary,
        channel: crate::delegation::Channel::Online,
        ends_on,
        meeting: None,
        evidence: Default::default(),
        at: utc(2026, 12, 1, 9, 0),
    })
    .unwrap()
}

/// `event`'s notifications, on the delegation without an end date.
fn told(event: &GrantorEvent, now: DateTime<Utc>) -> Vec<OutboxOp> {
    on_delegation_event(event, &delegation(None), &Policy::default(), now)
}

#[test]
fn n7_registration_is_told_to_both_parties_on_every_channel() {
    let now = utc(2026, 12, 1, 9, 0);
    let ops = told(&registered(false), now);
    assert_eq!(
        keys_of(&ops),
        [
            "delegation:d-1:registered:grantor:calendar",
            "delegation:d-1:registered:grantor:mobile",
            "delegation:d-1:registered:grantor:io",
            "delegation:d-1:registered:delegate:calendar",
            "delegation:d-1:registered:delegate:mobile",
            "delegation:d-1:registered:delegate:io",
        ]
    );
    let to_grantor = find(&ops, "delegation:d-1:registered:grantor:mobile");
    assert_eq!(
        to_grantor.channel,
        Channel::Mobile {
            citizen: cf(GRANTOR)
        }
    );
    assert!(to_grantor.body.contains(BOOKER));
    assert!(to_grantor.body.contains("01/12/2026"));
    assert!(to_grantor.body.contains("attiva"));
    assert_eq!(to_grantor.due_at, now);
    let notice = find(&ops, "delegation:d-1:registered:grantor:calendar");
    assert_eq!(
        notice.channel,
        Channel::CalendarNotice {
            citizen: cf(GRANTOR)
        }
    );
    assert_eq!(notice.body, to_grantor.body);
    let to_delegate = find(&ops, "delegation:d-1:registered:delegate:io");
    assert!(to_delegate.body.contains(GRANTOR));
    assert_eq!(
        to_delegate.channel,
        Channel::Io {
            fiscal_code: cf(BOOKER)
        }
    );
}

#[test]
fn n7_awaiting_confirmation_says_so() {
    for n in scheduled(&told(&registered(true), utc(2026, 12, 1, 9, 0))) {
        assert!(n.body.contains("in attesa") || n.body.contains("sarà attiva dopo"));
        assert!(!n.body.contains("La delega è attiva"));
    }
}

#[test]
fn n7_revocation_is_told_to_both_parties_with_the_local_date() {
    let ops = told(&revoked(), utc(2027, 1, 1, 23, 30));
    assert_eq!(scheduled(&ops).len(), 6);
    let to_grantor = find(&ops, "delegation:d-1:revoked:grantor:mobile");
    assert!(to_grantor.body.contains("revocata"));
    assert!(to_grantor.body.contains(BOOKER));
    assert!(to_grantor.body.contains("02/01/2027"));
    let to_delegate = find(&ops, "delegation:d-1:revoked:delegate:calendar");
    assert!(to_delegate.body.contains(GRANTOR));
    assert!(to_delegate.body.contains("non può più agire"));
}

#[test]
fn n7_a_registration_with_an_end_date_schedules_its_expiry_notices() {
    // Ends on 31 March 2027: told on 24 March (7 days before) and on
    // 1 April, each at local midnight (CET and CEST).
    let policy = Policy::default();
    let ends = NaiveDate::from_ymd_opt(2027, 3, 31).unwrap();
    let now = utc(2026, 12, 1, 9, 0);
    let ops = on_delegation_event(&registered(false), &delegation(Some(ends)), &policy, now);
    assert_eq!(scheduled(&ops).len(), 18, "{:?}", keys_of(&ops));
    let expiring = find(&ops, "delegation:d-1:expiring:grantor:mobile");
    assert_eq!(expiring.due_at, utc(2027, 3, 23, 23, 0));
    assert!(
        expiring.body.contains("scade il 31/03/2027"),
        "{}",
        expiring.body
    );
    assert!(expiring.body.contains(BOOKER));
    let expired = find(&ops, "delegation:d-1:expired:delegate:io");
    assert_eq!(expired.due_at, utc(2027, 3, 31, 22, 0));
    assert!(expired.body.contains("scaduta"), "{}", expired.body);
    find(&ops, "delegation:d-1:expired:grantor:calendar");

    // The policy sets how early the first notice is.
    let early = Policy {
        expiry_notice_days: 30,
        ..Policy::default()
    };
    let ops = on_delegation_event(&registered(false), &delegation(Some(ends)), &early, now);
    let expiring = find(&ops, "delegation:d-1:expiring:delegate:calendar");
    assert_eq!(expiring.due_at, utc(2027, 2, 28, 23, 0));

    // Ending within the notice period: told of the coming expiry at once.
    let soon = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
    let ops = on_delegation_event(&registered(false), &delegation(Some(soon)), &policy, now);
    assert_eq!(find(&ops, "delegation:d-1:expiring:grantor:io").due_at, now);
    assert_eq!(
        find(&ops, "delegation:d-1:expired:grantor:io").due_at,
        utc(2026, 12, 4, 23, 0)
    );
}

/// N7: a registration handled from the instant of its expiry on (told
/// late, after a pause of the outbox) tells the expiry, at once, and no
/// longer the coming expiry; an instant before, both.
#[test]
fn n7_from_the_instant_of_the_expiry_on_only_the_expiry_is_told() {
    let policy = Policy::default();
    let ends = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
    let expiry = utc(2026, 12, 4, 23, 0);
    for now in [expiry, expiry + Duration::hours(1)] {
        let ops = on_delegation_event(&registered(false), &delegation(Some(ends)), &policy, now);
        let keys = keys_of(&ops);
        assert!(!keys.iter().any(|k| k.contains(":expiring:")), "{keys:?}");
        assert_eq!(find(&ops, "delegation:d-1:expired:grantor:io").due_at, now);
    }
    let just_before = expiry - Duration::seconds(1);
    let ops = on_delegation_event(
        &registered(false),
        &delegation(Some(ends)),
        &policy,
        just_before,
    );
    assert_eq!(
        find(&ops, "delegation:d-1:expiring:grantor:io").due_at,
        just_before
    );
    assert_eq!(
        find(&ops, "delegation:d-1:expired:grantor:io").due_at,
        expiry
    );
}

/// A delegation without an end date had no expiry notices scheduled at
/// its registration: its rejection or revocation withdraws nothing, and
/// still tells both parties.
#[test]
fn n7_without_an_end_date_there_are_no_expiry_notices_to_withdraw() {
    for event in [revoked(), rejected()] {
        let open_ended = delegation(None);
        let at = utc(2027, 1, 2, 8, 0);
        let registered =
            on_delegation_event(&registered(false), &open_ended, &Policy::default(), at);
        assert!(
            registered.iter().all(|op| !op.key().contains(":expir")),
            "{registered:?}"
        );
        let ops = on_delegation_event(&event, &open_ended, &Policy::default(), at);
        assert!(
            ops.iter().all(|op| matches!(op, OutboxOp::Schedule(_))),
            "{ops:?}"
        );
        assert_eq!(ops.len(), 6, "{ops:?}");
    }
}

#[test]
fn n7_rejection_and_revocation_withdraw_the_expiry_notices() {
    for event in [revoked(), rejected()] {
        let ops = on_delegation_event(
            &event,
            &delegation(NaiveDate::from_ymd_opt(2027, 3, 31)),
            &Policy::default(),
            utc(2027, 1, 2, 8, 0),
        );
        let withdrawn: Vec<_> = ops
            .iter()
            .filter(|op| matches!(op, OutboxOp::Withdraw { .. }))
            .map(|op| op.key().to_owned())
            .collect();
        assert_eq!(withdrawn.len(), 12, "{withdrawn:?}");
        for party in ["grantor", "delegate"] {
            for channel in ["calendar", "mobile", "io"] {
                for notice in ["expiring", "expired"] {
                    let key = format!("delegation:d-1:{notice}:{party}:{channel}");
                    assert!(withdrawn.contains(&key), "{key} not withdrawn");
                }
            }
        }
    }
}

fn rejected() -> GrantorEvent {
    GrantorEvent::DelegationRejected {
        id: delegation_id(),
        grantor: cf(GRANTOR),
        delegate: cf(BOOKER),
        at: utc(2026, 12, 3, 9, 0),
    }
}

#[test]
fn n7_confirmation_and_rejection_are_told_requests_and_refusals_are_not() {
    let at = utc(2026, 12, 3, 9, 0);
    let confirmed = GrantorEvent::DelegationConfirmed {
        id: delegation_id(),
        grantor: cf(GRANTOR),
        delegate: cf(BOOKER),
        at,
    };
    let ops = told(&confirmed, at);
    assert!(find(&ops, "delegation:d-1:confirmed:delegate:mobile")
        .body
        .contains("confermata"));
    let ops = told(&rejected(), at);
    assert!(find(&ops, "delegation:d-1:rejected:grantor:calendar")
        .body
        .contains("respinta"));

    let refused = GrantorEvent::DelegationRefused {
        id: delegation_id(),
        grantor: cf(GRANTOR),
        delegate: cf(BOOKER),
        reason: "delegate_cap_reached".into(),
        refusal: None,
        meeting: None,
        at,
    };
    assert!(told(&refused, at).is_empty());
    let requested = GrantorEvent::DelegationRequested {
        id: delegation_id(),
        grantor: cf(GRANTOR),
        delegate: cf(BOOKER),
        role: crate::delegation::Role::Ordinary,
        channel: crate::delegation::Channel::Online,
        ends_on: None,
        meeting: None,
        evidence: Default::default(),
        at,
    };
    assert!(told(&requested, at).is_empty());
}

// --- N5 ---------------------------------------------------------------------

#[test]
fn n5_io_subject_bounds() {
    let md = "m".repeat(80);
    assert_eq!(
        IoMessage::new(&"s".repeat(9), &md),
        Err(IoMessageError::SubjectLength {
            len: 9,
            min: 10,
            max: 120
        })
    );
    assert!(IoMessage::new(&"s".repeat(10), &md).is_ok());
    assert!(IoMessage::new(&"s".repeat(120), &md).is_ok());
    let e = IoMessage::new(&"s".repeat(121), &md).unwrap_err();
    assert_eq!(
        e,
        IoMessageError::SubjectLength {
            len: 121,
            min: 10,
            max: 120
        }
    );
    assert_eq!(e.code(), "io_subject_length");
    assert!(e.to_string().contains("121"));
    // Characters, not bytes: ten accented letters are twenty bytes.
    assert!(IoMessage::new(&"à".repeat(10), &md).is_ok());
    assert!(IoMessage::new(&"à".repeat(61), &md).is_ok());
}

#[test]
fn n5_io_markdown_bounds() {
    let subject = "Promemoria INPS";
    assert_eq!(
        IoMessage::new(subject, &"m".repeat(79)),
        Err(IoMessageError::MarkdownLength {
            len: 79,
            min: 80,
            max: 10_000
        })
    );
    assert!(IoMessage::new(subject, &"m".repeat(80)).is_ok());
    assert!(IoMessage::new(subject, &"m".repeat(10_000)).is_ok());
    let e = IoMessage::new(subject, &"m".repeat(10_001)).unwrap_err();
    assert_eq!(
        e,
        IoMessageError::MarkdownLength {
            len: 10_001,
            min: 80,
            max: 10_000
        }
    );
    assert_eq!(e.code(), "io_markdown_length");
    // 79 characters of 2 bytes each are still too few.
    assert!(IoMessage::new(subject, &"è".repeat(79)).is_err());
}

#[test]
fn n5_fitting_pads_and_truncates() {
    assert!(IO_FOOTER.chars().count() >= IO_MARKDOWN_MIN);
    let m = IoMessage::fitting("Avviso", "Breve testo.");
    assert_eq!(m.subject(), "Comunicazione INPS: Avviso");
    assert_eq!(m.markdown(), format!("Breve testo.\n\n{IO_FOOTER}"));
    let m = IoMessage::fitting("  ", "");
    assert_eq!(m.subject(), "Comunicazione INPS");
    assert_eq!(m.markdown(), IO_FOOTER);
    let m = IoMessage::fitting(&"s".repeat(200), &"m".repeat(20_000));
    assert_eq!(m.subject().chars().count(), 120);
    assert!(m.subject().ends_with('…'));
    assert_eq!(m.markdown().chars().count(), 10_000);
    assert!(m.markdown().ends_with('…'));
    // Within the bounds: unchanged.
    let m = IoMessage::fitting("Promemoria", &"m".repeat(80));
    assert_eq!(
        (m.subject(), m.markdown()),
        ("Promemoria", "m".repeat(80).as_str())
    );
}

#[test]
fn n5_booking_summary_goes_to_io_as_a_valid_message() {
    let b = web_booking("b-1");
    let ops = on_confirmed(&b, &Policy::default(), booked_at());
    let io = find(&ops, "booking:b-1:io:confirmation");
    assert_eq!(
        io.channel,
        Channel::Io {
            fiscal_code: cf(BOOKER)
        }
    );
    let sms = find(&ops, "booking:b-1:sms:confirmation");
    assert!(io.body.starts_with(&sms.body));
    assert!(io.body.ends_with(IO_FOOTER));
    let message = IoMessage::new(&io.title, &io.body).expect("valid as built");
    assert_eq!(io.to_io_message(), message);
    // An SMS turned into an IO message gets a subject and the footer.
    let reminder = find(&ops, "booking:b-1:sms:reminder").to_io_message();
    assert!(reminder.markdown().starts_with("INPS promemoria"));
}

#[test]
fn n5_delegation_io_messages_are_valid() {
    for event in [registered(false), registered(true), revoked()] {
        for op in on_delegation_event(
            &event,
            &delegation(NaiveDate::from_ymd_opt(2027, 3, 31)),
            &Policy::default(),
            utc(2027, 1, 2, 8, 0),
        ) {
            let Some(n) = op.notification() else {
                continue;
            };
            if let Channel::Io { .. } = n.channel {
                assert!(IoMessage::new(&n.title, &n.body).is_ok(), "{n:?}");
            }
        }
    }
}

#[test]
fn n5_io_message_serde_validates() {
    let m = IoMessage::fitting("Promemoria", "testo");
    let json = serde_json::to_value(&m).unwrap();
    assert_eq!(json["subject"], "Promemoria");
    assert_eq!(serde_json::from_value::<IoMessage>(json).unwrap(), m);
    let bad = serde_json::json!({"subject": "corto", "markdown": "m".repeat(80)});
    assert!(serde_json::from_value::<IoMessage>(bad).is_err());
}

proptest! {
    #[test]
    fn n5_fitting_is_always_valid_and_idempotent(
        subject in ".{0,200}",
        markdown in prop_oneof![".{0,120}", ".{9990,10010}"],
    ) {
        let m = IoMessage::fitting(&subject, &markdown);
        prop_assert!(IoMessage::new(m.subject(), m.markdown()).is_ok());
        prop_assert_eq!(IoMessage::fitting(m.subject(), m.markdown()), m);
    }
}

// --- N6 ---------------------------------------------------------------------

#[test]
fn n6_the_same_event_twice_gives_identical_keys() {
    let b = web_booking("b-1");
    let policy = Policy::default();
    let event = confirmed(&b, booked_at());
    let first = on_booking_event(&event, &b, &policy, booked_at());
    // Handled again later (a retry, a rebuild): the same keys.
    let again = on_booking_event(&event, &b, &policy, booked_at() + Duration::hours(1));
    assert_eq!(keys_of(&first), keys_of(&again));
    assert_eq!(
        keys_of(&first),
        [
            "booking:b-1:sms:confirmation",
            "booking:b-1:sms:reminder",
            "booking:b-1:calendar:confirmation",
            "booking:b-1:io:confirmation",
        ]
    );
    // With the same `now` the whole output is identical.
    assert_eq!(first, on_booking_event(&event, &b, &policy, booked_at()));

    let ops = told(&revoked(), booked_at());
    let later = told(&revoked(), booked_at() + Duration::days(1));
    assert_eq!(keys_of(&ops), keys_of(&later));
}

#[test]
fn n6_different_bookings_and_events_give_different_keys() {
    let policy = Policy::default();
    let one = on_confirmed(&web_booking("b-1"), &policy, booked_at());
    let two = on_confirmed(&web_booking("b-2"), &policy, booked_at());
    let mut all = keys_of(&one);
    all.extend(keys_of(&two));
    all.extend(keys_of(&on_delegation_event(
        &registered(false),
        &delegation(NaiveDate::from_ymd_opt(2027, 3, 31)),
        &Policy::default(),
        booked_at(),
    )));
    all.extend(
        keys_of(&told(&revoked(), booked_at()))
            .into_iter()
            .filter(|k| !k.contains("expir")),
    );
    let count = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), count, "duplicate keys: {all:?}");
}

#[test]
fn n6_outbox_ops_round_trip_through_json() {
    let b = web_booking("b-1");
    let ops = on_confirmed(&b, &Policy::default(), booked_at());
    let json = serde_json::to_value(&ops).unwrap();
    assert_eq!(json[0]["op"], "schedule");
    assert_eq!(json[0]["key"], "booking:b-1:sms:confirmation");
    assert_eq!(json[0]["channel"]["kind"], "sms");
    assert_eq!(json[0]["channel"]["to"], "+393331234567");
    assert_eq!(json[2]["channel"]["kind"], "calendar_notice");
    assert_eq!(serde_json::from_value::<Vec<OutboxOp>>(json).unwrap(), ops);
    let withdraw = OutboxOp::Withdraw {
        key: "booking:b-1:sms:reminder".into(),
    };
    assert_eq!(
        serde_json::to_value(&withdraw).unwrap(),
        serde_json::json!({"op": "withdraw", "key": "booking:b-1:sms:reminder"})
    );
}
