//! What one event of the log does to the read models and the outbox. No
//! rules here: the rows copy what the events say (as the aggregates' `apply`
//! does), and the notifications are the domain's policy
//! ([`deleghe_domain::notification`]).
//!
//! Every change is guarded by the row's position: an event at or below the
//! position a row has applied is skipped, so applying an event twice is
//! applying it once (docs/CONVENTIONS.md, habit 9). The rows are read and written through the
//! batch's cache ([`Batch`]): an event sees what the events before it did,
//! as if each had been written at once. Nothing here reads the clock: the
//! instant an event is handled at is the instant it carries, so a replay
//! computes the same rows and the same notifications as the live run.

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use deleghe_domain::booking::{BookerEvent, BookingId, BookingStage, SlotEvent};
use deleghe_domain::delegation::{Delegation, GrantorEvent, Stage};
use deleghe_domain::flows::Event;
use deleghe_domain::meeting::{Meeting, MeetingEvent};
use deleghe_domain::notification::{
    on_booking_event, on_delegation_event, on_meeting_event, OutboxOp,
};
use deleghe_domain::pin::PinEvent;
use deleghe_domain::Policy;

use super::Contacts;
use crate::error::ServiceError;
use crate::events::{LoggedEvent, Payload};
use crate::readside::{
    ts, AuditEntry, Batch, BookingRow, DelegationRow, OutboxEntry, PlaceRow, RowKeys,
};

/// What the projector applies events with.
pub(crate) struct Context<'a> {
    pub policy: &'a Policy,
    pub contacts: &'a dyn Contacts,
    /// Whether the events' notifications are written to the outbox: yes when
    /// projecting live, no when a rebuild replays what was already handled.
    pub outbox: bool,
}

/// The rows `events` are about, to read in one query per table before
/// applying them, and those they start (a row started by the batch is built
/// from its first event alone: see [`crate::readside::RowKeys`]).
pub(crate) fn row_keys(events: &[LoggedEvent]) -> RowKeys {
    let mut keys = RowKeys::default();
    for event in events {
        match &event.payload {
            Payload::Process(Event::Grantor(GrantorEvent::DelegateActed { .. })) => {}
            Payload::Process(Event::Grantor(e)) => keys.delegations.add(
                e.delegation_id().as_str().to_owned(),
                matches!(e, GrantorEvent::DelegationRequested { .. }),
            ),
            Payload::Process(Event::Booker(e)) => keys.bookings.add(
                booking_id(e).as_str().to_owned(),
                matches!(e, BookerEvent::BookingRequested(_)),
            ),
            Payload::Process(Event::Meeting(_)) => {
                keys.bookings.add(event.aggregate_id.clone(), false)
            }
            Payload::Process(Event::Slot(e)) => {
                let (booking, held) = place_booking(e);
                keys.places
                    .add((event.aggregate_id.clone(), booking.to_string()), held)
            }
            Payload::Process(Event::Delegate(_)) | Payload::Pin(_) => {}
        }
    }
    keys
}

/// Applies `event` to every read model it concerns, and writes its
/// notifications to the outbox.
pub(crate) async fn apply(
    batch: &mut Batch<'_>,
    event: &LoggedEvent,
    cx: &Context<'_>,
) -> Result<(), ServiceError> {
    // The guard of an action on a grantor's behalf (D12) is not an action of
    // its own: the events it was appended with are in the trail.
    let guard = matches!(
        event.payload,
        Payload::Process(Event::Grantor(GrantorEvent::DelegateActed { .. }))
    );
    if let Some(grantor) = event.metadata.get("on_behalf_of").filter(|_| !guard) {
        batch.insert_audit(audit_row(event, grantor));
    }
    for sha256 in document_references(&event.payload) {
        batch.refer_to_document(sha256, event.position);
    }
    let position = event.position;
    let ops = match &event.payload {
        Payload::Process(Event::Grantor(e)) => delegation(batch, e, position, cx).await?,
        Payload::Process(Event::Booker(e)) => booking(batch, e, position, cx).await?,
        Payload::Process(Event::Slot(e)) => {
            place(batch, &event.aggregate_id, e, position).await?;
            vec![]
        }
        Payload::Process(Event::Meeting(e)) => {
            meeting(batch, &event.aggregate_id, e, position).await?
        }
        Payload::Process(Event::Delegate(_)) | Payload::Pin(_) => vec![],
    };
    if cx.outbox {
        for op in ops {
            match op {
                OutboxOp::Schedule(n) => batch.schedule(OutboxEntry::scheduled(&n, position)),
                OutboxOp::Withdraw { key } => batch.withdraw(key),
            }
        }
    }
    Ok(())
}

/// M6, D11: the stored documents an event refers to, by SHA-256. A document
/// no event refers to is removed by the sweep once its grace period is over
/// (`crate::documents::DocumentSweep`): an event that comes to carry a
/// document's digest (a delegation's evidence, D11) is named here.
fn document_references(payload: &Payload) -> Vec<&str> {
    match payload {
        Payload::Process(Event::Meeting(MeetingEvent::DocumentAttached { document, .. })) => {
            vec![document.sha256.as_str()]
        }
        _ => vec![],
    }
}

/// D9: who acted for whom, what, when.
fn audit_row(event: &LoggedEvent, grantor: &str) -> AuditEntry {
    let meta = |key: &str| event.metadata.get(key).cloned();
    AuditEntry {
        position: event.position,
        grantor: grantor.to_owned(),
        actor: meta("actor").unwrap_or_default(),
        action: event_type(&event.payload).to_owned(),
        aggregate_type: event.aggregate_type.clone(),
        aggregate_id: event.aggregate_id.clone(),
        at: event_at(&event.payload).map(ts),
        channel: meta("channel"),
        correlation_id: meta("correlation_id"),
    }
}

fn event_type(payload: &Payload) -> String {
    use cqrs_es::DomainEvent;
    match payload {
        Payload::Process(Event::Grantor(e)) => e.event_type(),
        Payload::Process(Event::Delegate(e)) => e.event_type(),
        Payload::Process(Event::Booker(e)) => e.event_type(),
        Payload::Process(Event::Slot(e)) => e.event_type(),
        Payload::Process(Event::Meeting(e)) => e.event_type(),
        Payload::Pin(e) => e.event_type(),
    }
}

/// The instant an event carries: when it happened, by the command's clock.
fn event_at(payload: &Payload) -> Option<DateTime<Utc>> {
    use deleghe_domain::delegation::DelegateEvent;
    Some(match payload {
        Payload::Process(Event::Grantor(e)) => grantor_event_at(e),
        Payload::Process(Event::Delegate(e)) => match e {
            DelegateEvent::SeatReserved { at, .. } | DelegateEvent::SeatReleased { at, .. } => *at,
        },
        Payload::Process(Event::Booker(e)) => booker_event_at(e),
        Payload::Process(Event::Slot(e)) => match e {
            SlotEvent::PlaceReserved { at, .. } | SlotEvent::PlaceReleased { at, .. } => *at,
        },
        Payload::Process(Event::Meeting(e)) => match e {
            MeetingEvent::Joined { at, .. }
            | MeetingEvent::TakenInCharge { at, .. }
            | MeetingEvent::RecordingConsented { at }
            | MeetingEvent::RecordingRefused { at }
            | MeetingEvent::AttendanceRecorded { at, .. }
            | MeetingEvent::DocumentAttached { at, .. }
            | MeetingEvent::CompletionRequested { at, .. }
            | MeetingEvent::MeetingEnded { at, .. }
            | MeetingEvent::AccessCodeRejected { at, .. }
            | MeetingEvent::JoiningLocked { at }
            | MeetingEvent::AccessCodeAccepted { at }
            | MeetingEvent::AccessCodeIssued { at, .. } => *at,
        },
        Payload::Pin(e) => match e {
            PinEvent::PinIssued { issued_at, .. } => *issued_at,
            PinEvent::PinVerified { at }
            | PinEvent::PinCheckFailed { at, .. }
            | PinEvent::PinLocked { at } => *at,
        },
    })
}

fn grantor_event_at(e: &GrantorEvent) -> DateTime<Utc> {
    match e {
        GrantorEvent::DelegationRequested { at, .. }
        | GrantorEvent::DelegationRegistered { at, .. }
        | GrantorEvent::DelegationRefused { at, .. }
        | GrantorEvent::DelegationConfirmed { at, .. }
        | GrantorEvent::DelegationRejected { at, .. }
        | GrantorEvent::DelegationRevoked { at, .. }
        | GrantorEvent::DelegateActed { at, .. } => *at,
    }
}

fn booker_event_at(e: &BookerEvent) -> DateTime<Utc> {
    match e {
        BookerEvent::BookingRequested(b) => b.requested_at,
        BookerEvent::BookingConfirmed { at, .. }
        | BookerEvent::BookingRefused { at, .. }
        | BookerEvent::BookingCancelled { at, .. }
        | BookerEvent::BookingServed { at, .. }
        | BookerEvent::BookingMissed { at, .. } => *at,
    }
}

// ------------------------------------------------------------ delegations

async fn delegation(
    batch: &mut Batch<'_>,
    event: &GrantorEvent,
    position: i64,
    cx: &Context<'_>,
) -> Result<Vec<OutboxOp>, ServiceError> {
    if let GrantorEvent::DelegateActed { .. } = event {
        // D12's guard changes no delegation.
        return Ok(vec![]);
    }
    let id = event.delegation_id();
    let stored = batch.delegation(id.as_str()).await?.map(|row| row.position);
    if stored.is_some_and(|applied| applied >= position) {
        return Ok(vec![]);
    }
    match event {
        GrantorEvent::DelegationRequested {
            id,
            grantor,
            delegate,
            role,
            channel,
            ends_on,
            meeting,
            at,
        } => batch.put_delegation(DelegationRow {
            delegation: Delegation {
                id: id.clone(),
                grantor: grantor.clone(),
                delegate: delegate.clone(),
                role: *role,
                channel: *channel,
                ends_on: *ends_on,
                meeting: meeting.clone(),
                requested_at: *at,
                registered_at: None,
                stage: Stage::Pending,
            },
            position,
        }),
        event => {
            let Some(row) = batch.delegation_mut(id.as_str()) else {
                tracing::warn!(%id, position, "delegation event without its request: skipped");
                return Ok(vec![]);
            };
            evolve_delegation(&mut row.delegation, event);
            row.position = position;
        }
    }
    let contacts = |cf: &_| cx.contacts.contact(cf);
    Ok(on_delegation_event(
        event,
        &contacts,
        grantor_event_at(event),
    ))
}

/// The grantor aggregate's transitions, on one delegation.
fn evolve_delegation(d: &mut Delegation, event: &GrantorEvent) {
    match event {
        GrantorEvent::DelegationRequested { .. } => {}
        GrantorEvent::DelegationRegistered {
            awaiting_confirmation,
            at,
            ..
        } => {
            d.registered_at = Some(*at);
            d.stage = if *awaiting_confirmation {
                Stage::AwaitingConfirmation
            } else {
                Stage::Active
            };
        }
        GrantorEvent::DelegationRefused { reason, at, .. } => {
            d.stage = Stage::Refused {
                at: *at,
                reason: reason.clone(),
            }
        }
        GrantorEvent::DelegationConfirmed { .. } => d.stage = Stage::Active,
        GrantorEvent::DelegationRejected { at, .. } => d.stage = Stage::Rejected { at: *at },
        GrantorEvent::DelegationRevoked { channel, at, .. } => {
            d.stage = Stage::Revoked {
                at: *at,
                channel: *channel,
            }
        }
        GrantorEvent::DelegateActed { .. } => {}
    }
}

// ------------------------------------------------------------ bookings

async fn booking(
    batch: &mut Batch<'_>,
    event: &BookerEvent,
    position: i64,
    cx: &Context<'_>,
) -> Result<Vec<OutboxOp>, ServiceError> {
    let id = booking_id(event);
    let stored = batch.booking(id.as_str()).await?.map(|row| row.position);
    if stored.is_some_and(|applied| applied >= position) {
        return Ok(vec![]);
    }
    let at = booker_event_at(event);
    if let BookerEvent::BookingRequested(b) = event {
        // A request starts the row from the event alone (a meeting event
        // cannot precede its booking's request in the log), as `row_keys`
        // expects of every event that starts a row.
        let row = BookingRow {
            booking: (**b).clone(),
            meeting: Meeting::default(),
            position,
        };
        let ops = on_booking_event(event, &row.booking, cx.policy, at);
        batch.put_booking(row);
        return Ok(ops);
    }
    let Some(row) = batch.booking_mut(id.as_str()) else {
        tracing::warn!(%id, position, "booking event without its request: skipped");
        return Ok(vec![]);
    };
    row.booking.stage = match event {
        BookerEvent::BookingConfirmed { .. } => BookingStage::Confirmed,
        BookerEvent::BookingRefused { reason, at, .. } => BookingStage::Refused {
            at: *at,
            reason: reason.clone(),
        },
        BookerEvent::BookingCancelled { at, .. } => BookingStage::Cancelled { at: *at },
        BookerEvent::BookingServed { at, .. } => BookingStage::Served { at: *at },
        BookerEvent::BookingMissed { at, .. } => BookingStage::Missed { at: *at },
        BookerEvent::BookingRequested(_) => row.booking.stage.clone(),
    };
    row.position = position;
    Ok(on_booking_event(event, &row.booking, cx.policy, at))
}

fn booking_id(event: &BookerEvent) -> &BookingId {
    match event {
        BookerEvent::BookingRequested(b) => &b.id,
        BookerEvent::BookingConfirmed { id, .. }
        | BookerEvent::BookingRefused { id, .. }
        | BookerEvent::BookingCancelled { id, .. }
        | BookerEvent::BookingServed { id, .. }
        | BookerEvent::BookingMissed { id, .. } => id,
    }
}

// ------------------------------------------------------------ slot places

async fn place(
    batch: &mut Batch<'_>,
    slot_key: &str,
    event: &SlotEvent,
    position: i64,
) -> Result<(), ServiceError> {
    let (booking, held) = place_booking(event);
    let stored = batch.place_position(slot_key, booking.as_str()).await?;
    if stored.is_some_and(|applied| applied >= position) {
        return Ok(());
    }
    // The slot ledger's stream id is `counter@start` (booking::slot_key);
    // neither a counter id nor an RFC 3339 instant contains '@'.
    let Some((counter, start)) = slot_key.rsplit_once('@') else {
        return Err(ServiceError::Corrupt(
            format!("slot key {slot_key:?} is not counter@start").into(),
        ));
    };
    let start = crate::readside::parse_ts(start)?;
    batch.put_place(PlaceRow {
        slot_key: slot_key.to_owned(),
        booking: booking.to_string(),
        counter: counter.to_owned(),
        slot_start: ts(start),
        held,
        position,
    });
    Ok(())
}

/// The booking whose place a slot event is about, and whether it holds it.
fn place_booking(event: &SlotEvent) -> (&BookingId, bool) {
    match event {
        SlotEvent::PlaceReserved { booking, .. } => (booking, true),
        SlotEvent::PlaceReleased { booking, .. } => (booking, false),
    }
}

// ------------------------------------------------------------ meetings

async fn meeting(
    batch: &mut Batch<'_>,
    booking_id: &str,
    event: &MeetingEvent,
    position: i64,
) -> Result<Vec<OutboxOp>, ServiceError> {
    let stored = batch.booking(booking_id).await?.map(|row| row.position);
    if stored.is_some_and(|applied| applied >= position) {
        return Ok(vec![]);
    }
    let Some(row) = batch.booking_mut(booking_id) else {
        tracing::warn!(
            booking_id,
            position,
            "meeting event without its booking: skipped"
        );
        return Ok(vec![]);
    };
    // The meeting aggregate's own `apply`: no rules, only state.
    row.meeting.apply(event.clone());
    row.position = position;
    // M10: a new access code goes out by SMS.
    Ok(on_meeting_event(event, meeting_event_at(event)))
}

fn meeting_event_at(e: &MeetingEvent) -> DateTime<Utc> {
    event_at(&Payload::Process(Event::Meeting(e.clone()))).unwrap_or_default()
}
