//! A web meeting from booking to registered delegation, in memory: the
//! would-be delegate books the delegations counter (B5), receives the SMS and
//! the calendar notice (N1–N3), joins too early (M1) then on time, is taken in
//! charge (M3), consents (M4), both parties are attested (M5), the two PDFs
//! are attached (M6), and the operator completes the meeting, which registers
//! the delegation under D1–D3 (M7).
//!
//! Run with `cargo run --example web_meeting`.

use chrono::{Duration, TimeZone, Utc};
use deleghe::adapters::codes::AccessCodes;
use deleghe::adapters::{Actor, Deleghe, Metadata, SettableClock};
use deleghe::domain::booking::{BookerEvent, BookingId, GrantorDetails, Phone, RequestBooking};
use deleghe::domain::delegation::{DelegationId, GrantorEvent};
use deleghe::domain::document::{blank_pdf, DocumentKind, PdfDocument};
use deleghe::domain::meeting::{MeetingBooking, MeetingCommand};
use deleghe::domain::notification::{on_booking_event, on_delegation_event, OutboxOp};
use deleghe::domain::schedule::{Counter, Mode, OfficeId};
use deleghe::domain::{FiscalCode, Policy};

/// The deployment's access codes (M2, M10): derived from its secret, so
/// that the stores keep only digests and the SMS carries the code.
fn codes() -> AccessCodes {
    AccessCodes::new(b"the example's secret, never a deployment's")
}

/// The messages as sent: the access codes filled in by the dispatcher.
fn print_ops(ops: &[OutboxOp]) {
    for op in ops {
        match op {
            OutboxOp::Schedule(n) => println!(
                "  [{} due {}] {}\n    {}\n",
                n.channel.as_str(),
                n.due_at
                    .with_timezone(&deleghe::domain::time::ROME)
                    .format("%d/%m/%Y %H:%M"),
                n.title,
                codes()
                    .fill(&n.body)
                    .expect("well-formed placeholders")
                    .replace('\n', "\n    ")
            ),
            OutboxOp::Withdraw { key } => println!("  [withdraw] {key}"),
        }
    }
}

/// A blank one-page PDF of exactly `size` bytes.
fn pdf(size: usize) -> Vec<u8> {
    blank_pdf(size).expect("a blank PDF of that size")
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let policy = Policy::default();
    // Monday 30 November 2026, 10:00 in Rome.
    let clock = SettableClock::fixed(Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap());
    let rules = Deleghe::in_memory(policy.clone()).with_clock(clock.as_clock());

    let delegate = FiscalCode::parse("VRDLGU70A01H501O")?;
    let grantor = FiscalCode::parse("RSSMRA85T10A562S")?;
    let counter = Counter::web_meeting_delegations(OfficeId::parse("DCM NAPOLI")?);
    // Tuesday 1 December 2026, 09:00 in Rome.
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap();

    println!("1. {delegate} books the web-meeting delegations counter for {grantor}\n");
    let id = BookingId::parse("wm-0001")?;
    let (code, digest) = codes().issue(&id, 0);
    let booking = rules
        .book(
            RequestBooking {
                id,
                booker: delegate.clone(),
                counter: counter.clone(),
                start,
                mode: Mode::WebMeeting,
                reason: "Registrazione delega".into(),
                phone: Phone::parse("333 123 4567")?,
                grantor: Some(GrantorDetails::new(grantor.clone(), "Mario", "Rossi")?),
                access_code: digest,
                at: clock.now(),
                booked_by: None,
            },
            &Metadata::new(Actor::Citizen(delegate.clone()), "web"),
        )
        .await?;
    let confirmed = BookerEvent::BookingConfirmed {
        id: booking.id.clone(),
        booker: delegate.clone(),
        place: booking.place,
        at: clock.now(),
    };
    print_ops(&on_booking_event(
        &confirmed,
        &booking,
        &policy,
        clock.now(),
    ));

    let citizen = Metadata::new(Actor::Citizen(delegate.clone()), "web");
    let operator = Metadata::new(Actor::Operator("op-dcm-napoli-07".into()), "web_meeting");
    let join = |at| MeetingCommand::Join {
        booking: MeetingBooking::of(&booking, at).expect("a web meeting"),
        code: codes().digest(&booking.id, code.as_str()),
        at,
    };

    println!("2. joining 20 minutes early");
    let early = start - Duration::minutes(20);
    clock.set(Some(early));
    match rules
        .meeting_command(&booking.id, join(early), &citizen)
        .await
    {
        Ok(m) => println!("   state: {}", m.state()),
        Err(e) => println!("   refused, {}: {e}", e.code()),
    }
    println!("3. joining 10 minutes early");
    let on_time = start - Duration::minutes(10);
    clock.set(Some(on_time));
    let meeting = rules
        .meeting_command(&booking.id, join(on_time), &citizen)
        .await?;
    println!("   state: {}", meeting.state());

    clock.set(Some(start));
    let steps = [
        (
            "operator takes the booking in charge",
            MeetingCommand::TakeInCharge {
                operator: "op-dcm-napoli-07".into(),
                at: start,
            },
        ),
        (
            "recording consent given",
            MeetingCommand::Consent {
                recording: true,
                at: start,
            },
        ),
        (
            "both parties attested, the grantor able to consent",
            MeetingCommand::RecordAttendance {
                grantor_present: true,
                delegate_present: true,
                grantor_able_to_consent: true,
                at: start,
            },
        ),
    ];
    for (what, command) in steps {
        let m = rules
            .meeting_command(&booking.id, command, &operator)
            .await?;
        println!("4. {what}: state {}", m.state());
    }
    for (kind, size) in [
        (DocumentKind::Aa08, 180_000),
        (DocumentKind::IdentityDocument, 3_145_728),
    ] {
        let doc = PdfDocument::parse(&pdf(size), policy.max_document_bytes)?;
        let reference = doc.to_ref(kind);
        println!(
            "5. {} attached: {} bytes, sha256 {}",
            kind.as_str(),
            reference.bytes,
            reference.sha256
        );
        rules
            .meeting_command(
                &booking.id,
                MeetingCommand::AttachDocument {
                    document: reference,
                    booking_active: true,
                    at: start,
                },
                &citizen,
            )
            .await?;
    }
    let too_big = PdfDocument::parse(&pdf(3_145_729), policy.max_document_bytes);
    println!(
        "   a PDF of 3,145,729 bytes: {}",
        too_big.unwrap_err().code()
    );

    let delegation_id = DelegationId::parse("wm-0001-delega")?;
    let done = start + Duration::minutes(20);
    clock.set(Some(done));
    let meeting = rules
        .meeting_command(
            &booking.id,
            MeetingCommand::Complete {
                delegation_id: delegation_id.clone(),
                at: done,
            },
            &operator,
        )
        .await?;
    println!(
        "6. operator completes: state {}, outcome {:?}",
        meeting.state(),
        meeting.outcome()
    );

    let delegation = rules
        .grantor(&grantor)
        .await?
        .delegation(&delegation_id)
        .cloned()
        .expect("registered");
    println!(
        "7. delegation {} from {} to {}: {} via {}\n",
        delegation.id,
        delegation.grantor,
        delegation.delegate,
        delegation.status(done).as_str(),
        delegation.channel.as_str()
    );
    let registered = GrantorEvent::DelegationRegistered {
        id: delegation.id.clone(),
        grantor: grantor.clone(),
        delegate: delegate.clone(),
        awaiting_confirmation: false,
        meeting: Some(booking.id.clone()),
        at: done,
    };
    // N7: both parties are told, in the personal area and by SMS and IO as
    // their contacts say when the outbox sends it.
    print_ops(&on_delegation_event(
        &registered,
        &delegation,
        &Policy::default(),
        done,
    ));
    Ok(())
}
