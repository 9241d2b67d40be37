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
use deleghe_domain::booking::{BookerEvent, Booking, SlotEvent, SlotKey};
use deleghe_domain::delegation::{Delegation, GrantorEvent};
use deleghe_domain::flows::Event;
use deleghe_domain::meeting::{Meeting, MeetingEvent};
use deleghe_domain::notification::{
    on_booking_acted_for, on_booking_event, on_delegation_event, on_meeting_event, OutboxOp,
};
use deleghe_domain::{FiscalCode, Policy};

use crate::error::ServiceError;
use crate::events::{LoggedEvent, Payload};
use crate::readside::{
    ts, AuditEntry, Batch, BookingRow, DelegationRow, OutboxEntry, PlaceRow, RowKeys,
};

/// What the projector applies events with.
pub(crate) struct Context<'a> {
    pub policy: &'a Policy,
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
                e.booking_id().as_str().to_owned(),
                matches!(e, BookerEvent::BookingRequested(_)),
            ),
            Payload::Process(Event::Meeting(_)) => {
                keys.bookings.add(event.aggregate_id.clone(), false)
            }
            Payload::Process(Event::Slot(e)) => keys.places.add(
                (event.aggregate_id.clone(), e.booking_id().to_string()),
                e.holds_place(),
            ),
            Payload::Process(Event::Delegate(_))
            | Payload::Pin(_)
            | Payload::Contacts(_)
            | Payload::Uploads(_) => {}
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
    let on_behalf_of = event.metadata.get("on_behalf_of").filter(|_| !guard);
    if let Some(grantor) = on_behalf_of {
        batch.insert_audit(audit_row(event, grantor));
    }
    // N7, D9: the grantor acted for and the delegate who acted, so that the
    // grantor is told what was done in their name.
    let acted_for = on_behalf_of
        .and_then(|grantor| FiscalCode::parse(grantor).ok())
        .zip(
            event
                .metadata
                .get("actor")
                .and_then(|actor| actor.strip_prefix("citizen:"))
                .and_then(|code| FiscalCode::parse(code).ok()),
        );
    for sha256 in document_references(&event.payload) {
        batch.refer_to_document(sha256, event.position);
    }
    let position = event.position;
    let ops = match &event.payload {
        Payload::Process(Event::Grantor(e)) => delegation(batch, e, position, cx).await?,
        Payload::Process(Event::Booker(e)) => {
            booking(batch, e, position, cx, acted_for.as_ref()).await?
        }
        Payload::Process(Event::Slot(e)) => {
            place(batch, &event.aggregate_id, e, position).await?;
            vec![]
        }
        Payload::Process(Event::Meeting(e)) => {
            meeting(batch, &event.aggregate_id, e, position).await?
        }
        Payload::Process(Event::Delegate(_))
        | Payload::Pin(_)
        | Payload::Contacts(_)
        | Payload::Uploads(_) => vec![],
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
        Payload::Process(Event::Grantor(GrantorEvent::DelegationRequested {
            evidence, ..
        })) => evidence
            .documents()
            .iter()
            .map(|d| d.sha256.as_str())
            .collect(),
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
        at: Some(ts(event_at(&event.payload))),
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
        Payload::Contacts(e) => e.event_type(),
        Payload::Uploads(e) => e.event_type(),
    }
}

/// The instant an event carries: when it happened, by the command's clock.
pub(crate) fn event_at(payload: &Payload) -> DateTime<Utc> {
    match payload {
        Payload::Process(e) => e.at(),
        Payload::Pin(e) => e.at(),
        Payload::Contacts(e) => e.at(),
        Payload::Uploads(e) => e.at(),
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
    // The grantor aggregate's own transitions (Delegation::apply): no rules here.
    match Delegation::requested(event) {
        Some(delegation) => batch.put_delegation(DelegationRow {
            delegation,
            position,
        }),
        None => {
            let Some(row) = batch.delegation_mut(id.as_str()) else {
                tracing::warn!(%id, position, "delegation event without its request: skipped");
                return Ok(vec![]);
            };
            row.delegation.apply(event);
            row.position = position;
        }
    }
    let Some(row) = batch.delegation_mut(id.as_str()) else {
        return Ok(vec![]);
    };
    Ok(on_delegation_event(
        event,
        &row.delegation,
        cx.policy,
        event.at(),
    ))
}

// ------------------------------------------------------------ bookings

async fn booking(
    batch: &mut Batch<'_>,
    event: &BookerEvent,
    position: i64,
    cx: &Context<'_>,
    acted_for: Option<&(FiscalCode, FiscalCode)>,
) -> Result<Vec<OutboxOp>, ServiceError> {
    let id = event.booking_id();
    let stored = batch.booking(id.as_str()).await?.map(|row| row.position);
    if stored.is_some_and(|applied| applied >= position) {
        return Ok(vec![]);
    }
    let at = event.at();
    if let Some(booking) = Booking::from_request(event) {
        // A request starts the row from the event alone (a meeting event
        // cannot precede its booking's request in the log), as `row_keys`
        // expects of every event that starts a row.
        let row = BookingRow {
            booking,
            meeting: Meeting::default(),
            position,
        };
        let ops = booking_ops(event, &row.booking, cx, acted_for, at);
        batch.put_booking(row);
        return Ok(ops);
    }
    let Some(row) = batch.booking_mut(id.as_str()) else {
        tracing::warn!(%id, position, "booking event without its request: skipped");
        return Ok(vec![]);
    };
    // The booker aggregate's own transitions (Booking::apply).
    row.booking.apply(event);
    row.position = position;
    Ok(booking_ops(event, &row.booking, cx, acted_for, at))
}

/// The notifications of a booking event (N1–N5), and, for one a delegate
/// issued on a grantor's behalf, the grantor's (N7, D9).
fn booking_ops(
    event: &BookerEvent,
    booking: &Booking,
    cx: &Context<'_>,
    acted_for: Option<&(FiscalCode, FiscalCode)>,
    at: DateTime<Utc>,
) -> Vec<OutboxOp> {
    let mut ops = on_booking_event(event, booking, cx.policy, at);
    if let Some((grantor, delegate)) = acted_for {
        ops.extend(on_booking_acted_for(event, booking, grantor, delegate, at));
    }
    ops
}

// ------------------------------------------------------------ slot places

async fn place(
    batch: &mut Batch<'_>,
    slot_key: &str,
    event: &SlotEvent,
    position: i64,
) -> Result<(), ServiceError> {
    let (booking, held) = (event.booking_id(), event.holds_place());
    let stored = batch.place_position(slot_key, booking.as_str()).await?;
    if stored.is_some_and(|applied| applied >= position) {
        return Ok(());
    }
    // The slot ledger's stream id names its counter and start (SlotKey).
    let key = SlotKey::parse(slot_key).map_err(|e| ServiceError::Corrupt(Box::new(e)))?;
    batch.put_place(PlaceRow {
        slot_key: slot_key.to_owned(),
        booking: booking.to_string(),
        counter: key.counter().to_string(),
        slot_start: ts(key.start()),
        held,
        position,
    });
    Ok(())
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
    Ok(on_meeting_event(event, event.at()))
}
