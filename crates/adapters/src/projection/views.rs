//! What the read models answer, in the JSON shapes of the HTTP contract
//! (`docs/APP.md`). Instants a person reads (slots, bookings, notices) are in
//! Europe/Rome local time with their offset; instants of record
//! (registration, revocation) are in UTC. Both are RFC 3339.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use deleghe_domain::booking::{
    BookedBy, Booking, BookingId, BookingStatus, GrantorDetails, Phone, Ticket,
};
use deleghe_domain::delegation::{Channel, Delegation, DelegationId, Evidence, Role, Status};
use deleghe_domain::meeting::{Meeting, MeetingState, Outcome};
use deleghe_domain::schedule::{CounterId, Mode, OfficeId, Slot};
use deleghe_domain::time::ROME;
use deleghe_domain::{FiscalCode, Policy};
use serde::{Deserialize, Serialize};

use crate::readside::NoticeRow;

/// An instant in Europe/Rome local time, with its offset.
pub(crate) fn local(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    at.with_timezone(&ROME).fixed_offset()
}

/// A delegation as `GET /v1/delegations/{id}` returns it:
///
/// ```json
/// {"id": "d-1", "grantor": "RSSMRA85T10A562S", "delegate": "VRDLGU70A01H501O",
///  "role": "ordinary", "channel": "online", "status": "active",
///  "registered_at": "2026-11-30T09:00:00Z", "ends_on": null, "revoked_at": null,
///  "revocable_online_from": "2026-12-30"}
/// ```
///
/// `status` is computed when read, with the clock: an active delegation past
/// its end date is `expired` (D7). `revocable_online_from` (D8) is the first
/// day the grantor may revoke online, given while that is possible at all
/// (an active ordinary delegation); `null` otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegationView {
    /// Chosen by the requester.
    pub id: DelegationId,
    /// Who gives the delegation.
    pub grantor: FiscalCode,
    /// Who may act for the grantor while it is active (D9).
    pub delegate: FiscalCode,
    /// D3: the capacity the delegate acts in; a legal representative's is not
    /// capped.
    pub role: Role,
    /// D5: how it was registered.
    pub channel: Channel,
    /// Where it stands when read: `pending`, `awaiting_confirmation`, `active`,
    /// `revoked`, `expired`, `rejected` or `refused`.
    pub status: Status,
    /// When it was registered; `null` if it never was (pending, refused).
    pub registered_at: Option<DateTime<Utc>>,
    /// D7: the last day in force (local date); `null`: no end.
    pub ends_on: Option<NaiveDate>,
    /// D8: when it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// D8: the first day the grantor may revoke online, while that can happen
    /// at all (see above).
    pub revocable_online_from: Option<NaiveDate>,
    /// D11: the stored documents it was registered on, `[{kind, sha256}]`.
    pub evidence: Evidence,
}

impl DelegationView {
    /// `d` as seen at `now`: its status with D7's expiry, and D8's first day
    /// under `policy`.
    pub fn of(d: &Delegation, now: DateTime<Utc>, policy: &Policy) -> Self {
        let status = d.status(now);
        let revocable = status == Status::Active && !d.role.is_legal_representative();
        Self {
            id: d.id.clone(),
            grantor: d.grantor.clone(),
            delegate: d.delegate.clone(),
            role: d.role,
            channel: d.channel,
            status,
            registered_at: d.registered_at,
            ends_on: d.ends_on,
            revoked_at: d.revoked_at(),
            revocable_online_from: revocable.then(|| d.revocable_online_from(policy)).flatten(),
            evidence: d.evidence.clone(),
        }
    }
}

/// A booking as "Le mie prenotazioni" lists it (B7), and as the operator's
/// list by office and day shows it: office, date, time, counter, the
/// possible actions now, and for a web meeting the meeting's state (M9).
/// The access code is not shown: it travels by SMS only (M2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingView {
    /// Chosen by the requester; the ticket prints it as its code.
    pub id: BookingId,
    /// The citizen who booked.
    pub booker: FiscalCode,
    /// The counter booked.
    pub counter: CounterId,
    /// B7: the counter's name when booked, as the ticket prints it.
    pub counter_name: String,
    /// M11: the counter's office, whose operators handle the booking.
    pub office: OfficeId,
    /// B5: how the appointment takes place.
    pub mode: Mode,
    /// The slot's start, in local time.
    pub start: DateTime<FixedOffset>,
    /// The slot's end, in local time.
    pub end: DateTime<FixedOffset>,
    /// Local date, `DD/MM/YYYY`, as on the ticket.
    pub date: String,
    /// Local time, `HH:MM`, as on the ticket.
    pub time: String,
    /// B7: the reason the citizen gave ("Motivazione").
    pub reason: String,
    /// N1, N2: the mobile the booking's SMS go to.
    pub phone: Phone,
    /// B5: the grantor, for a web meeting at the delegations counter; `null`
    /// otherwise.
    pub grantor: Option<GrantorDetails>,
    /// Where it stands (B8): `confirmed` until served or missed.
    pub status: BookingStatus,
    /// B10: the ticket code for the office's queue, once its place is held.
    pub ticket_code: Option<String>,
    /// B9: the operator who booked for the citizen, and from where.
    pub booked_by: Option<BookedBy>,
    /// B7: `detail`, `ticket`, `cancel`, `join_meeting`, as they apply now.
    pub actions: Vec<String>,
    /// Web meetings only.
    pub meeting_state: Option<MeetingState>,
}

impl BookingView {
    /// `b` as seen at `now`; for a web meeting, with the state of `meeting`.
    pub fn of(b: &Booking, meeting: &Meeting, now: DateTime<Utc>) -> Self {
        let ticket = Ticket::of(b);
        Self {
            id: b.id.clone(),
            booker: b.booker.clone(),
            counter: b.counter.clone(),
            counter_name: b.counter_name.clone(),
            office: b.office.clone(),
            mode: b.mode,
            start: local(b.slot.start),
            end: local(b.slot.end),
            date: ticket.date,
            time: ticket.time,
            reason: b.reason.clone(),
            phone: b.phone.clone(),
            grantor: b.grantor.clone(),
            status: b.status(),
            ticket_code: b.ticket_code(),
            booked_by: b.booked_by.clone(),
            actions: b.actions(now).into_iter().map(str::to_owned).collect(),
            meeting_state: (b.mode == Mode::WebMeeting).then(|| meeting.state()),
        }
    }
}

/// One slot of a counter with its free places (B3, B4), as
/// `GET /v1/counters/{id}/slots` lists it: `{"start", "end", "free"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotAvailability {
    /// The slot's start, in local time.
    pub start: DateTime<FixedOffset>,
    /// The slot's end, in local time.
    pub end: DateTime<FixedOffset>,
    /// B4: places left, the slot's capacity less those held; 0 when full.
    pub free: u32,
}

impl SlotAvailability {
    pub(crate) fn of(slot: &Slot, free: u32) -> Self {
        Self {
            start: local(slot.start),
            end: local(slot.end),
            free,
        }
    }
}

/// M9: one line of the operator's console, a web-meeting booking of the day
/// in its waiting-room state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingRoomEntry {
    /// The booking, which is also the meeting's id.
    pub booking_id: BookingId,
    /// The would-be delegate, who booked (B5).
    pub booker: FiscalCode,
    /// B5: the grantor the meeting is for, if the booking names one.
    pub grantor: Option<GrantorDetails>,
    /// The slot's start, in local time.
    pub start: DateTime<FixedOffset>,
    /// The slot's end, in local time.
    pub end: DateTime<FixedOffset>,
    /// Local time, `HH:MM`.
    pub time: String,
    /// M3, M9: where the meeting stands.
    pub state: MeetingState,
    /// M3: who took it in charge.
    pub operator: Option<String>,
    /// M7, M8: how the meeting ended; `null` until it does.
    pub outcome: Option<Outcome>,
}

impl WaitingRoomEntry {
    pub(crate) fn of(b: &Booking, meeting: &Meeting) -> Self {
        Self {
            booking_id: b.id.clone(),
            booker: b.booker.clone(),
            grantor: b.grantor.clone(),
            start: local(b.slot.start),
            end: local(b.slot.end),
            time: Ticket::of(b).time,
            state: meeting.state(),
            operator: meeting.operator().map(str::to_owned),
            outcome: meeting.outcome().cloned(),
        }
    }
}

/// N3: a notice of the personal area, as `GET /v1/me/notices` lists it:
/// `{"id", "title", "body", "date", "read"}`. `date` is when it was posted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeView {
    /// The key of the outbox row that posted it (N6).
    pub id: String,
    /// N3: the notice's title.
    pub title: String,
    /// N3: the notice's text.
    pub body: String,
    /// When it was posted, in local time.
    pub date: DateTime<FixedOffset>,
    /// Whether the citizen has marked it read.
    pub read: bool,
}

impl NoticeView {
    pub(crate) fn of(row: NoticeRow) -> Result<Self, crate::error::ServiceError> {
        Ok(Self {
            date: local(crate::readside::parse_ts(&row.posted_at)?),
            id: row.id,
            title: row.title,
            body: row.body,
            read: row.is_read,
        })
    }
}
