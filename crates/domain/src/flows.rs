//! Every cross-aggregate flow of the rules, as one pure process manager:
//! a stored event in, the next command out ([`react`]); a command refused by
//! a rule in, the compensating command out ([`after_refusal`]). Adapters run
//! it (inline for the request that starts a flow, and from the event log
//! after a crash); they hold no rules of their own.
//!
//! The flows:
//! - delegation registration and seat release (D10, [`crate::delegation::flow`]);
//! - booking across a citizen's limits and a slot's places (B1, B2, B4,
//!   [`crate::booking::flow`]);
//! - a web meeting's completion registering the delegation under D1–D3 and
//!   recording the outcome on the meeting (M7).

use chrono::{DateTime, Utc};

use crate::booking::flow::{self as booking_flow, BookingFlowCommand};
use crate::booking::{
    BookerCommand, BookerEvent, BookingError, BookingId, Settler, SlotCommand, SlotEvent,
};
use crate::delegation::flow::{self as delegation_flow, FlowCommand};
use crate::delegation::{
    Channel, DelegateCommand, DelegateEvent, DelegationError, Evidence, Grantor, GrantorCommand,
    GrantorEvent, RequestDelegation, Role, Stage,
};
use crate::meeting::{MeetingCommand, MeetingError, MeetingEvent, RegistrationResult};
use crate::{FiscalCode, Issuer};

/// A command addressed to one aggregate instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// For a grantor's delegations.
    Grantor {
        /// The stream: the grantor's fiscal code.
        id: FiscalCode,
        /// What the stream is asked.
        command: GrantorCommand,
    },
    /// For a delegate's seats.
    Delegate {
        /// The stream: the delegate's fiscal code.
        id: FiscalCode,
        /// What the stream is asked.
        command: DelegateCommand,
    },
    /// For a citizen's bookings.
    Booker {
        /// The stream: the citizen's fiscal code.
        id: FiscalCode,
        /// What the stream is asked.
        command: BookerCommand,
    },
    /// For a slot's places.
    Slot {
        /// The stream: the slot's key ([`slot_key`](crate::booking::slot_key)).
        id: String,
        /// What the stream is asked.
        command: SlotCommand,
    },
    /// For a web meeting.
    Meeting {
        /// The stream: the meeting's booking id.
        id: BookingId,
        /// What the stream is asked.
        command: MeetingCommand,
    },
}

/// A stored event of any aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// From a grantor's stream.
    Grantor(GrantorEvent),
    /// From a delegate's stream.
    Delegate(DelegateEvent),
    /// From a citizen's bookings.
    Booker(BookerEvent),
    /// From a slot's ledger.
    Slot(SlotEvent),
    /// From a web meeting.
    Meeting(MeetingEvent),
}

impl Event {
    /// The instant the event carries: when it happened, by the clock of the
    /// command that produced it.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Self::Grantor(e) => e.at(),
            Self::Delegate(e) => e.at(),
            Self::Booker(e) => e.at(),
            Self::Slot(e) => e.at(),
            Self::Meeting(e) => e.at(),
        }
    }
}

/// A rule refusing a command, of any aggregate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A delegation rule (D1–D9, D12).
    #[error(transparent)]
    Delegation(#[from] DelegationError),
    /// A booking rule (B1–B8), or M11's office check.
    #[error(transparent)]
    Booking(#[from] BookingError),
    /// A web-meeting rule (M1–M10).
    #[error(transparent)]
    Meeting(#[from] MeetingError),
    /// A telephone-PIN rule (P1–P3, D12).
    #[error(transparent)]
    Pin(#[from] crate::pin::PinError),
    /// A contacts rule (N7, D12).
    #[error(transparent)]
    Contacts(#[from] crate::contacts::ContactsError),
    /// An uploads rule (D11, D12).
    #[error(transparent)]
    Uploads(#[from] crate::uploads::UploadsError),
}

impl Refusal {
    /// The stable code of the HTTP contract.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Delegation(e) => e.code(),
            Self::Booking(e) => e.code(),
            Self::Meeting(e) => e.code(),
            Self::Pin(e) => e.code(),
            Self::Contacts(e) => e.code(),
            Self::Uploads(e) => e.code(),
        }
    }
}

impl Command {
    /// The aggregate type (`Aggregate::TYPE`) and id the command goes to.
    pub fn target(&self) -> (&'static str, &str) {
        use cqrs_es::Aggregate;
        match self {
            Self::Grantor { id, .. } => (crate::delegation::Grantor::TYPE, id.as_str()),
            Self::Delegate { id, .. } => (crate::delegation::Delegate::TYPE, id.as_str()),
            Self::Booker { id, .. } => (crate::booking::Booker::TYPE, id.as_str()),
            Self::Slot { id, .. } => (crate::booking::SlotLedger::TYPE, id.as_str()),
            Self::Meeting { id, .. } => (crate::meeting::Meeting::TYPE, id.as_str()),
        }
    }

    /// The streams besides its own that the flow this command starts goes
    /// on to, as far as the command itself tells: the delegate's, where a
    /// registration's request takes its seat (D2, D10), and the slot's,
    /// where a booking's request takes its place (B4). A store may read
    /// them with the command's own stream, in one statement (ADR 0019). A
    /// flow that goes elsewhere (a refusal's compensation, M7's outcome)
    /// loads what it needs when it gets there: this is a hint, never a rule.
    pub fn streams_ahead(&self) -> Vec<(&'static str, String)> {
        use cqrs_es::Aggregate;
        match self {
            Self::Grantor {
                command: GrantorCommand::Request { request, .. },
                ..
            } => vec![(
                crate::delegation::Delegate::TYPE,
                request.delegate.as_str().to_owned(),
            )],
            Self::Booker {
                command: BookerCommand::Request(request),
                ..
            } => vec![(
                crate::booking::SlotLedger::TYPE,
                // The slot B3 finds at the requested start, if any: the
                // schedule's slot starts where it is asked to.
                crate::booking::SlotKey::new(request.counter.id.clone(), request.start).to_string(),
            )],
            _ => Vec::new(),
        }
    }
}

impl Command {
    /// D9: what the command does, as the audit trail and a
    /// [`GrantorEvent::DelegateActed`] name it (`booking.request`, ...).
    pub fn action(&self) -> &'static str {
        match self {
            Self::Grantor { command, .. } => match command {
                GrantorCommand::Request { .. } => "delegation.request",
                GrantorCommand::CompleteRegistration { .. } => "delegation.complete_registration",
                GrantorCommand::RefuseRegistration { .. } => "delegation.refuse_registration",
                GrantorCommand::Confirm { .. } => "delegation.confirm",
                GrantorCommand::Reject { .. } => "delegation.reject",
                GrantorCommand::Revoke { .. } => "delegation.revoke",
                GrantorCommand::ActFor { .. } => "delegation.act_for",
            },
            Self::Delegate { .. } => "delegation.seat",
            Self::Booker { command, .. } => match command {
                BookerCommand::Request(_) => "booking.request",
                BookerCommand::Confirm { .. } => "booking.confirm",
                BookerCommand::Refuse { .. } => "booking.refuse",
                BookerCommand::Cancel { .. } => "booking.cancel",
                BookerCommand::MarkServed { .. } => "booking.mark_served",
                BookerCommand::MarkMissed { .. } => "booking.mark_missed",
            },
            Self::Slot { .. } => "booking.place",
            Self::Meeting { command, .. } => match command {
                MeetingCommand::Join { .. } => "meeting.join",
                MeetingCommand::TakeInCharge { .. } => "meeting.take_in_charge",
                MeetingCommand::Consent { .. } => "meeting.consent",
                MeetingCommand::RecordAttendance { .. } => "meeting.attendance",
                MeetingCommand::AttachDocument { .. } => "meeting.document",
                MeetingCommand::Complete { .. } => "meeting.complete",
                MeetingCommand::RecordOutcome { .. } => "meeting.outcome",
                MeetingCommand::Abandon { .. } => "meeting.abandon",
                MeetingCommand::IssueAccessCode { .. } => "meeting.new_code",
            },
        }
    }

    /// D12: whether the command reaches a delegation where its own stream
    /// does not say so: a booking of a web meeting at the delegations
    /// counter ([`RequestBooking::registers_a_delegation`]) and every command
    /// on a meeting, whose completion registers a delegation to the booker
    /// (M7). A delegate acting for a grantor may issue none of them (the
    /// commands on the grantor's own stream judge D12 themselves, by their
    /// [`issuer`](Self::issuer)).
    ///
    /// [`RequestBooking::registers_a_delegation`]: crate::booking::RequestBooking::registers_a_delegation
    pub fn reaches_a_delegation(&self) -> bool {
        match self {
            Self::Booker {
                command: BookerCommand::Request(request),
                ..
            } => request.registers_a_delegation(),
            Self::Meeting { .. } => true,
            _ => false,
        }
    }

    /// D12: who the command says issues it, for the commands that carry it.
    pub fn issuer(&self) -> Option<&Issuer> {
        match self {
            Self::Grantor {
                command: GrantorCommand::Request { by, .. } | GrantorCommand::Revoke { by, .. },
                ..
            } => Some(by),
            _ => None,
        }
    }
}

impl From<FlowCommand> for Command {
    fn from(c: FlowCommand) -> Self {
        match c {
            FlowCommand::Grantor { grantor, command } => Self::Grantor {
                id: grantor,
                command,
            },
            FlowCommand::Delegate { delegate, command } => Self::Delegate {
                id: delegate,
                command,
            },
        }
    }
}

impl From<BookingFlowCommand> for Command {
    fn from(c: BookingFlowCommand) -> Self {
        match c {
            BookingFlowCommand::Booker { booker, command } => Self::Booker {
                id: booker,
                command,
            },
            BookingFlowCommand::Slot { slot_key, command } => Self::Slot {
                id: slot_key,
                command,
            },
        }
    }
}

fn record_outcome(meeting: &BookingId, result: RegistrationResult, now: DateTime<Utc>) -> Command {
    Command::Meeting {
        id: meeting.clone(),
        command: MeetingCommand::RecordOutcome { result, at: now },
    }
}

/// Every command that follows a stored event; `now` stamps them. Most events
/// have none or one; a refused registration asked by a meeting has two (the
/// seat release and the meeting's outcome).
pub fn react(event: &Event, now: DateTime<Utc>) -> Vec<Command> {
    let mut next: Vec<Command> = Vec::new();
    match event {
        Event::Grantor(e) => {
            next.extend(delegation_flow::after_grantor_event(e, now).map(Command::from));
            // M7: the meeting learns how its registration ended.
            match e {
                GrantorEvent::DelegationRegistered {
                    id,
                    meeting: Some(meeting),
                    ..
                } => next.push(record_outcome(
                    meeting,
                    RegistrationResult::Registered {
                        delegation_id: id.clone(),
                    },
                    now,
                )),
                GrantorEvent::DelegationRefused {
                    meeting: Some(meeting),
                    reason,
                    ..
                } => next.push(record_outcome(
                    meeting,
                    RegistrationResult::Refused {
                        code: reason.clone(),
                    },
                    now,
                )),
                _ => {}
            }
        }
        Event::Delegate(e) => {
            next.extend(delegation_flow::after_delegate_event(e, now).map(Command::from))
        }
        Event::Booker(e) => {
            next.extend(booking_flow::after_booker_event(e, now).map(Command::from))
        }
        Event::Slot(e) => next.extend(booking_flow::after_slot_event(e, now).map(Command::from)),
        Event::Meeting(MeetingEvent::MeetingEnded {
            outcome,
            booking: Some(booking),
            ..
        }) => {
            // B8: a meeting's end settles its booking: missed on a no-show,
            // served with any other outcome.
            let id = booking.id.clone();
            let by = Settler::Meeting;
            let command = if *outcome == crate::meeting::Outcome::NoShow {
                BookerCommand::MarkMissed { id, by, at: now }
            } else {
                BookerCommand::MarkServed { id, by, at: now }
            };
            next.push(Command::Booker {
                id: booking.booker.clone(),
                command,
            });
        }
        Event::Meeting(e) => {
            // M7: a completed meeting registers the delegation under D1–D3.
            if let (
                Some((delegation_id, grantor, delegate)),
                MeetingEvent::CompletionRequested {
                    booking_id,
                    documents,
                    ..
                },
            ) = (crate::meeting::registration_request(e), e)
            {
                next.push(Command::Grantor {
                    id: grantor.clone(),
                    command: GrantorCommand::Request {
                        request: RequestDelegation {
                            id: delegation_id,
                            grantor,
                            delegate,
                            role: Role::Ordinary,
                            channel: Channel::WebMeeting,
                            ends_on: None,
                            meeting: Some(booking_id.clone()),
                            // D11: the meeting's documents are its evidence.
                            evidence: Evidence::of_refs(documents),
                            at: now,
                        },
                        by: Issuer::system(),
                    },
                });
            }
        }
    }
    next
}

/// What follows a flow step that had already taken effect, so that repeating
/// it stored nothing: the same commands its event called for. A driver that
/// races another (the request's own against the runner, or a client's retry)
/// then still carries the flow to its end instead of stopping halfway.
pub fn after_repeat(command: &Command, now: DateTime<Utc>) -> Vec<Command> {
    match command {
        Command::Grantor {
            command: GrantorCommand::Request { request: r, .. },
            ..
        } => vec![Command::Delegate {
            id: r.delegate.clone(),
            command: DelegateCommand::ReserveSeat {
                id: r.id.clone(),
                grantor: r.grantor.clone(),
                delegate: r.delegate.clone(),
                role: r.role,
                ends_on: r.ends_on,
                at: now,
            },
        }],
        Command::Delegate {
            command: DelegateCommand::ReserveSeat { id, grantor, .. },
            ..
        } => vec![Command::Grantor {
            id: grantor.clone(),
            command: GrantorCommand::CompleteRegistration {
                id: id.clone(),
                at: now,
            },
        }],
        Command::Booker {
            command: BookerCommand::Request(r),
            ..
        } => r
            .counter
            .offers(r.start)
            .map(|slot| Command::Slot {
                id: crate::booking::slot_key(&r.counter.id, &slot),
                command: SlotCommand::ReservePlace {
                    booking: r.id.clone(),
                    booker: r.booker.clone(),
                    capacity: r.counter.capacity(),
                    at: now,
                },
            })
            .into_iter()
            .collect(),
        Command::Slot {
            command: SlotCommand::ReservePlace {
                booking, booker, ..
            },
            ..
        } => vec![Command::Booker {
            id: booker.clone(),
            command: BookerCommand::Confirm {
                id: booking.clone(),
                place: None,
                at: now,
            },
        }],
        _ => vec![],
    }
}

/// What a repeated last step of a registration calls for besides
/// [`after_repeat`], read from the grantor as stored: the repeat stored no
/// event to react to, and its command does not say which web meeting asked
/// for the delegation or how the registration ended. That meeting learns it
/// (M7) as the stored event told it, so that a driver overtaken at this
/// step (by the runner, or another driver) still ends the meeting rather
/// than leave it registering; recording the same outcome again stores
/// nothing. Nothing for any other command, nor for a delegation no meeting
/// asked for or still pending.
pub fn after_repeat_on(grantor: &Grantor, command: &Command, now: DateTime<Utc>) -> Vec<Command> {
    let Command::Grantor {
        command:
            GrantorCommand::CompleteRegistration { id, .. }
            | GrantorCommand::RefuseRegistration { id, .. },
        ..
    } = command
    else {
        return vec![];
    };
    let Some(delegation) = grantor.delegation(id) else {
        return vec![];
    };
    let Some(meeting) = &delegation.meeting else {
        return vec![];
    };
    let result = match &delegation.stage {
        Stage::Pending => return vec![],
        Stage::Refused { reason, .. } => RegistrationResult::Refused {
            code: reason.clone(),
        },
        // Every other stage comes after the registration's event.
        _ => RegistrationResult::Registered {
            delegation_id: id.clone(),
        },
    };
    vec![record_outcome(meeting, result, now)]
}

/// What follows a command that a rule refused.
pub fn after_refusal(command: &Command, refusal: &Refusal, now: DateTime<Utc>) -> Option<Command> {
    match (command, refusal) {
        // M7: the registration asked by a meeting was refused at once (D1, D4...).
        (
            Command::Grantor {
                command: GrantorCommand::Request { request, .. },
                ..
            },
            Refusal::Delegation(error),
        ) => request.meeting.as_ref().map(|meeting| {
            record_outcome(
                meeting,
                RegistrationResult::Refused {
                    code: error.code().to_owned(),
                },
                now,
            )
        }),
        (Command::Grantor { id, command }, Refusal::Delegation(error)) => {
            delegation_flow::after_refusal(
                &FlowCommand::Grantor {
                    grantor: id.clone(),
                    command: command.clone(),
                },
                error,
                now,
            )
            .map(Into::into)
        }
        (Command::Delegate { id, command }, Refusal::Delegation(error)) => {
            delegation_flow::after_refusal(
                &FlowCommand::Delegate {
                    delegate: id.clone(),
                    command: command.clone(),
                },
                error,
                now,
            )
            .map(Into::into)
        }
        (Command::Booker { id, command }, Refusal::Booking(error)) => booking_flow::after_refusal(
            &BookingFlowCommand::Booker {
                booker: id.clone(),
                command: command.clone(),
            },
            error,
            now,
        )
        .map(Into::into),
        (Command::Slot { id, command }, Refusal::Booking(error)) => booking_flow::after_refusal(
            &BookingFlowCommand::Slot {
                slot_key: id.clone(),
                command: command.clone(),
            },
            error,
            now,
        )
        .map(Into::into),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::delegation::{DelegationId, Role};

    fn cf(s: &str) -> FiscalCode {
        FiscalCode::parse(s).unwrap()
    }

    /// `d-1`: RSSMRA85T10A562S asks online for VRDLGU70A01H501O to act for
    /// them, ordinary, no end, at `at`.
    fn online_request(at: DateTime<Utc>) -> RequestDelegation {
        RequestDelegation {
            id: DelegationId::parse("d-1").unwrap(),
            grantor: cf("RSSMRA85T10A562S"),
            delegate: cf("VRDLGU70A01H501O"),
            role: Role::Ordinary,
            channel: Channel::Online,
            ends_on: None,
            meeting: None,
            evidence: Evidence::default(),
            at,
        }
    }

    #[test]
    fn d10_a_repeated_step_continues_the_flow_like_its_event() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap();
        let request = online_request(now);
        let first = Command::Grantor {
            id: request.grantor.clone(),
            command: GrantorCommand::Request {
                request: request.clone(),
                by: Issuer::citizen(request.grantor.clone()),
            },
        };
        let requested = Event::Grantor(GrantorEvent::DelegationRequested {
            id: request.id.clone(),
            grantor: request.grantor.clone(),
            delegate: request.delegate.clone(),
            role: request.role,
            channel: request.channel,
            ends_on: None,
            meeting: None,
            evidence: Evidence::default(),
            at: now,
        });
        // The repeat of the request calls for what its event called for.
        assert_eq!(after_repeat(&first, now), react(&requested, now));
        let reserve = after_repeat(&first, now).remove(0);
        let reserved = Event::Delegate(DelegateEvent::SeatReserved {
            id: request.id.clone(),
            grantor: request.grantor.clone(),
            delegate: request.delegate.clone(),
            role: Role::Ordinary,
            ends_on: None,
            at: now,
        });
        assert_eq!(after_repeat(&reserve, now), react(&reserved, now));
        // Completing twice calls for nothing more.
        let complete = after_repeat(&reserve, now).remove(0);
        assert!(after_repeat(&complete, now).is_empty());
    }

    /// D10: a registration's request names, ahead, the stream its flow's
    /// next step goes to (the delegate's seat), and no other; the steps
    /// after the first name none.
    #[test]
    fn d10_a_registrations_request_names_the_delegates_stream_ahead() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap();
        let (grantor, delegate) = (cf("RSSMRA85T10A562S"), cf("VRDLGU70A01H501O"));
        let request = online_request(now);
        let first = Command::Grantor {
            id: grantor.clone(),
            command: GrantorCommand::Request {
                request: request.clone(),
                by: Issuer::citizen(grantor.clone()),
            },
        };
        let next: Vec<(&str, String)> = after_repeat(&first, now)
            .iter()
            .map(|c| (c.target().0, c.target().1.to_owned()))
            .collect();
        assert_eq!(first.streams_ahead(), next);
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].1, delegate.as_str());
        let seat = after_repeat(&first, now).remove(0);
        assert!(seat.streams_ahead().is_empty());
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap()
    }

    /// M7 and D10: a driver overtaken at a registration's last step (its
    /// repeat stores nothing) still tells the meeting that asked for the
    /// delegation how it ended, from the grantor as stored.
    #[test]
    fn m7_d10_a_repeated_last_step_tells_the_meeting_what_the_grantor_stored() {
        use cqrs_es::Aggregate;
        let now = t0();
        let (grantor, delegate) = (cf("RSSMRA85T10A562S"), cf("VRDLGU70A01H501O"));
        let id = |id: &str| DelegationId::parse(id).unwrap();
        let requested = |d: &str, meeting: Option<BookingId>| GrantorEvent::DelegationRequested {
            id: id(d),
            grantor: grantor.clone(),
            delegate: delegate.clone(),
            role: Role::Ordinary,
            channel: Channel::WebMeeting,
            ends_on: None,
            meeting,
            evidence: Evidence::default(),
            at: now,
        };
        let registered = |d: &str, meeting: Option<BookingId>| GrantorEvent::DelegationRegistered {
            id: id(d),
            grantor: grantor.clone(),
            delegate: delegate.clone(),
            awaiting_confirmation: false,
            meeting,
            at: now,
        };
        let mut stored = Grantor::default();
        for event in [
            requested("met", Some(booking("b-1"))),
            registered("met", Some(booking("b-1"))),
            requested("refused", Some(booking("b-2"))),
            GrantorEvent::DelegationRefused {
                id: id("refused"),
                grantor: grantor.clone(),
                delegate: delegate.clone(),
                reason: "delegate_cap_reached".into(),
                refusal: None,
                meeting: Some(booking("b-2")),
                at: now,
            },
            requested("pending", Some(booking("b-3"))),
            requested("online", None),
            registered("online", None),
        ] {
            stored.apply(event);
        }
        let on_grantor = |command| Command::Grantor {
            id: grantor.clone(),
            command,
        };
        let complete =
            |d: &str| on_grantor(GrantorCommand::CompleteRegistration { id: id(d), at: now });
        let refuse = |d: &str| {
            on_grantor(GrantorCommand::RefuseRegistration {
                id: id(d),
                refusal: DelegationError::DelegateCapReached { cap: 3 },
                at: now,
            })
        };
        let registered_outcome = record_outcome(
            &booking("b-1"),
            RegistrationResult::Registered {
                delegation_id: id("met"),
            },
            now,
        );
        assert_eq!(
            after_repeat_on(&stored, &complete("met"), now),
            vec![registered_outcome.clone()]
        );
        assert_eq!(
            after_repeat_on(&stored, &refuse("refused"), now),
            vec![record_outcome(
                &booking("b-2"),
                RegistrationResult::Refused {
                    code: "delegate_cap_reached".into()
                },
                now
            )]
        );
        // Not decided yet, asked by no meeting, unknown: nothing.
        for d in ["pending", "online", "unknown"] {
            assert!(
                after_repeat_on(&stored, &complete(d), now).is_empty(),
                "{d}"
            );
        }
        // Any other command: nothing, even on a meeting's delegation.
        assert!(after_repeat_on(&stored, &registered_outcome, now).is_empty());
        let revoke = on_grantor(GrantorCommand::Revoke {
            id: id("met"),
            channel: crate::delegation::RevocationChannel::Online,
            at: now,
            by: Issuer::citizen(grantor.clone()),
        });
        assert!(after_repeat_on(&stored, &revoke, now).is_empty());
    }

    fn booking(id: &str) -> BookingId {
        BookingId::parse(id).unwrap()
    }

    #[test]
    fn d2_b4_m10_p3_n7_d11_a_refusal_of_any_aggregate_has_its_rules_contract_code() {
        use crate::contacts::ContactsError;
        use crate::pin::PinError;
        use crate::uploads::UploadsError;
        let refusals = [
            (
                Refusal::from(DelegationError::DelegateCapReached { cap: 3 }),
                "delegate_cap_reached",
            ),
            (
                Refusal::from(BookingError::SlotFull { capacity: 2 }),
                "slot_full",
            ),
            (
                Refusal::from(MeetingError::AccessCodeLocked),
                "access_code_locked",
            ),
            (Refusal::from(PinError::Locked), "pin_locked"),
            (
                Refusal::from(ContactsError::NotTheCitizen),
                "not_the_citizen",
            ),
            (
                Refusal::from(UploadsError::UploaderMismatch),
                "uploader_mismatch",
            ),
        ];
        for (refusal, code) in refusals {
            assert_eq!(refusal.code(), code, "{refusal:?}");
        }
    }

    #[test]
    fn d9_d10_each_command_goes_to_its_aggregates_stream_and_is_traced_by_its_name() {
        let grantor = cf("RSSMRA85T10A562S");
        let delegate = cf("VRDLGU70A01H501O");
        let id = DelegationId::parse("d-1").unwrap();
        let to_grantor = Command::Grantor {
            id: grantor.clone(),
            command: GrantorCommand::Confirm {
                id: id.clone(),
                at: t0(),
            },
        };
        let to_delegate = Command::Delegate {
            id: delegate.clone(),
            command: DelegateCommand::ReleaseSeat {
                id,
                grantor: grantor.clone(),
                delegate: delegate.clone(),
                at: t0(),
            },
        };
        let to_booker = Command::Booker {
            id: delegate.clone(),
            command: BookerCommand::Cancel {
                id: booking("b-1"),
                at: t0(),
            },
        };
        let to_slot = Command::Slot {
            id: "web:2026-12-01T08:00:00Z".to_owned(),
            command: SlotCommand::ReleasePlace {
                booking: booking("b-1"),
                booker: delegate.clone(),
                at: t0(),
            },
        };
        let to_meeting = Command::Meeting {
            id: booking("b-1"),
            command: MeetingCommand::Abandon {
                outcome: crate::meeting::AbandonReason::NoShow,
                booking: None,
                at: t0(),
            },
        };
        assert_eq!(to_grantor.target(), ("grantor", "RSSMRA85T10A562S"));
        assert_eq!(to_delegate.target(), ("delegate", "VRDLGU70A01H501O"));
        assert_eq!(to_booker.target(), ("booker", "VRDLGU70A01H501O"));
        assert_eq!(to_slot.target(), ("slot", "web:2026-12-01T08:00:00Z"));
        assert_eq!(to_meeting.target(), ("meeting", "b-1"));
        // D9: the trace names what each does.
        assert_eq!(to_grantor.action(), "delegation.confirm");
        assert_eq!(to_delegate.action(), "delegation.seat");
        assert_eq!(to_booker.action(), "booking.cancel");
        assert_eq!(to_slot.action(), "booking.place");
        assert_eq!(to_meeting.action(), "meeting.abandon");
        // D12: only a registration and a revocation carry who issues them.
        for command in [&to_grantor, &to_delegate, &to_booker, &to_slot, &to_meeting] {
            assert_eq!(command.issuer(), None, "{command:?}");
        }
    }

    #[test]
    fn d12_a_registration_and_a_revocation_name_who_issues_them() {
        let grantor = cf("RSSMRA85T10A562S");
        let delegate = cf("VRDLGU70A01H501O");
        let acting = Issuer::delegate_for(delegate.clone(), grantor.clone());
        let request = Command::Grantor {
            id: grantor.clone(),
            command: GrantorCommand::Request {
                request: online_request(t0()),
                by: acting.clone(),
            },
        };
        let revoke = Command::Grantor {
            id: grantor.clone(),
            command: GrantorCommand::Revoke {
                id: DelegationId::parse("d-1").unwrap(),
                channel: crate::delegation::RevocationChannel::Counter,
                at: t0(),
                by: Issuer::operator("op-1"),
            },
        };
        assert_eq!(request.issuer(), Some(&acting));
        assert_eq!(revoke.issuer(), Some(&Issuer::operator("op-1")));
        assert_eq!(request.action(), "delegation.request");
        assert_eq!(revoke.action(), "delegation.revoke");
    }

    #[test]
    fn m7_the_meeting_learns_how_its_registration_ended() {
        let grantor = cf("RSSMRA85T10A562S");
        let delegate = cf("VRDLGU70A01H501O");
        let id = DelegationId::parse("d-1").unwrap();
        let registered = |meeting: Option<BookingId>| {
            Event::Grantor(GrantorEvent::DelegationRegistered {
                id: id.clone(),
                grantor: grantor.clone(),
                delegate: delegate.clone(),
                awaiting_confirmation: false,
                meeting,
                at: t0(),
            })
        };
        let refused = |meeting: Option<BookingId>| {
            Event::Grantor(GrantorEvent::DelegationRefused {
                id: id.clone(),
                grantor: grantor.clone(),
                delegate: delegate.clone(),
                reason: "delegate_cap_reached".to_owned(),
                refusal: None,
                meeting,
                at: t0(),
            })
        };
        let outcome = |result: RegistrationResult| Command::Meeting {
            id: booking("b-1"),
            command: MeetingCommand::RecordOutcome { result, at: t0() },
        };
        // Registered in a meeting: the meeting records the delegation.
        let next = react(&registered(Some(booking("b-1"))), t0());
        assert_eq!(
            next.last(),
            Some(&outcome(RegistrationResult::Registered {
                delegation_id: id.clone()
            })),
            "{next:?}"
        );
        // Refused: the seat goes back, and the meeting records the refusal.
        let next = react(&refused(Some(booking("b-1"))), t0());
        assert_eq!(
            next.last(),
            Some(&outcome(RegistrationResult::Refused {
                code: "delegate_cap_reached".to_owned()
            })),
            "{next:?}"
        );
        // On the other channels there is no meeting to tell.
        for event in [registered(None), refused(None)] {
            assert!(
                !react(&event, t0())
                    .iter()
                    .any(|c| matches!(c, Command::Meeting { .. })),
                "{event:?}"
            );
        }
    }

    #[test]
    fn d10_b4_a_refused_flow_step_is_followed_by_its_compensation() {
        let grantor = cf("RSSMRA85T10A562S");
        let delegate = cf("VRDLGU70A01H501O");
        let id = DelegationId::parse("d-1").unwrap();
        // D10: a seat refused refuses the registration.
        let reserve = Command::Delegate {
            id: delegate.clone(),
            command: DelegateCommand::ReserveSeat {
                id: id.clone(),
                grantor: grantor.clone(),
                delegate: delegate.clone(),
                role: Role::Ordinary,
                ends_on: None,
                at: t0(),
            },
        };
        let cap = DelegationError::DelegateCapReached { cap: 3 };
        assert_eq!(
            after_refusal(&reserve, &cap.clone().into(), t0()),
            Some(Command::Grantor {
                id: grantor.clone(),
                command: GrantorCommand::RefuseRegistration {
                    id: id.clone(),
                    refusal: cap,
                    at: t0(),
                },
            })
        );
        // D10: a completion refused because the delegation was closed
        // meanwhile gives its seat back.
        let complete = Command::Grantor {
            id: grantor.clone(),
            command: GrantorCommand::CompleteRegistration {
                id: id.clone(),
                at: t0(),
            },
        };
        let closed = DelegationError::NoLongerPending {
            id: id.clone(),
            delegate: delegate.clone(),
        };
        assert_eq!(
            after_refusal(&complete, &closed.into(), t0()),
            Some(Command::Delegate {
                id: delegate.clone(),
                command: DelegateCommand::ReleaseSeat {
                    id,
                    grantor,
                    delegate: delegate.clone(),
                    at: t0(),
                },
            })
        );
        // B4: a place refused refuses the booking.
        let slot = "deleghe-web-meeting@2026-12-01T08:00:00Z".to_owned();
        let place = Command::Slot {
            id: slot.clone(),
            command: SlotCommand::ReservePlace {
                booking: booking("b-1"),
                booker: delegate.clone(),
                capacity: 2,
                at: t0(),
            },
        };
        let full = BookingError::SlotFull { capacity: 2 };
        assert_eq!(
            after_refusal(&place, &full.clone().into(), t0()),
            Some(Command::Booker {
                id: delegate.clone(),
                command: BookerCommand::Refuse {
                    id: booking("b-1"),
                    refusal: full,
                    at: t0(),
                },
            })
        );
        // B4: a confirmation refused because the booking was closed
        // meanwhile gives its place back.
        let confirm = Command::Booker {
            id: delegate.clone(),
            command: BookerCommand::Confirm {
                id: booking("b-1"),
                place: Some(1),
                at: t0(),
            },
        };
        let gone = BookingError::NoLongerPending {
            id: booking("b-1"),
            booker: delegate.clone(),
            slot_key: slot.clone(),
        };
        assert_eq!(
            after_refusal(&confirm, &gone.into(), t0()),
            Some(Command::Slot {
                id: slot,
                command: SlotCommand::ReleasePlace {
                    booking: booking("b-1"),
                    booker: delegate,
                    at: t0(),
                },
            })
        );
    }

    #[test]
    fn m7_a_registration_a_meeting_asked_for_refused_at_once_ends_on_the_meeting() {
        let grantor = cf("RSSMRA85T10A562S");
        let asked = |channel: Channel, meeting: Option<BookingId>| Command::Grantor {
            id: grantor.clone(),
            command: GrantorCommand::Request {
                request: RequestDelegation {
                    id: DelegationId::parse("d-2").unwrap(),
                    grantor: grantor.clone(),
                    delegate: cf("VRDLGU70A01H501O"),
                    role: Role::Ordinary,
                    channel,
                    ends_on: None,
                    meeting,
                    evidence: Evidence::default(),
                    at: t0(),
                },
                by: Issuer::system(),
            },
        };
        let d1: Refusal = DelegationError::GrantorAlreadyHasDelegate {
            existing: DelegationId::parse("d-1").unwrap(),
        }
        .into();
        assert_eq!(
            after_refusal(&asked(Channel::WebMeeting, Some(booking("b-1"))), &d1, t0()),
            Some(Command::Meeting {
                id: booking("b-1"),
                command: MeetingCommand::RecordOutcome {
                    result: RegistrationResult::Refused {
                        code: "grantor_already_has_delegate".to_owned()
                    },
                    at: t0(),
                },
            })
        );
        // Refused on another channel, the request has nothing to follow.
        assert_eq!(
            after_refusal(&asked(Channel::Online, None), &d1, t0()),
            None
        );
    }
}
