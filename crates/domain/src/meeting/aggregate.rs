//! The meeting aggregate: one web meeting, from the first join to its outcome
//! (M1–M10).

use chrono::{DateTime, Duration, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::model::REQUIRED_DOCUMENTS;
use super::{
    AbandonReason, BookingSnapshot, MeetingBooking, MeetingError, MeetingState, MeetingView,
    Outcome, Presence, RegistrationResult,
};
use crate::booking::{AccessCodeDigest, BookingId, GrantorDetails, Phone};
use crate::delegation::DelegationId;
use crate::document::{DocumentKind, DocumentRef};
use crate::schedule::Slot;
use crate::{FiscalCode, Policy};

/// One web meeting. Stream id: the booking id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meeting {
    state: MeetingState,
    /// Kept from the first join.
    booking: Option<BookingSnapshot>,
    /// M3: who took the booking in charge.
    operator: Option<String>,
    consent: Option<bool>,
    present: Presence,
    /// M6: the latest document of each kind, in order of first upload.
    documents: Vec<DocumentRef>,
    /// M7: the delegation whose registration the completion started.
    delegation_id: Option<DelegationId>,
    outcome: Option<Outcome>,
    /// M10: the last code an operator issued, by generation (the booking's
    /// own is generation 0), as its digest.
    #[serde(default)]
    reissued: Option<(u32, AccessCodeDigest)>,
    /// M10: wrong access codes in a row.
    #[serde(default)]
    wrong_codes: u32,
    /// M10: joining is locked until a new code is issued.
    #[serde(default)]
    locked: bool,
    /// M12: the identification part is being recorded.
    #[serde(default)]
    recording: bool,
}

/// What may be asked of a web meeting: the booker's joins, the operator's
/// steps, and the end of the registration a completion started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MeetingCommand {
    /// M1, M2: the booker enters with the code sent by SMS, given as the
    /// digest of what they typed (the stores never see the code). Joining
    /// again while the meeting is on produces no event. M10: a wrong code
    /// is recorded ([`MeetingEvent::AccessCodeRejected`]) and answered
    /// `wrong_access_code`; after `max_access_code_attempts` in a row,
    /// joining is locked.
    Join {
        /// M1: what the join needs of the booking, passed by the caller.
        booking: MeetingBooking,
        /// M2: the digest of the code typed, never the code.
        code: AccessCodeDigest,
        /// The instant of the join; M1's window is judged at it.
        at: DateTime<Utc>,
    },
    /// M10: an operator of the office issues a new code (generation 1, 2...
    /// after the booking's own), sent by SMS to `phone`; it replaces the
    /// earlier codes and unlocks joining.
    IssueAccessCode {
        /// The meeting's booking.
        booking_id: BookingId,
        /// M10: which code this is (the booking's own is 0); one already issued is a retry.
        generation: u32,
        /// The new code's digest, never the code.
        code: AccessCodeDigest,
        /// The mobile the SMS with the new code goes to.
        phone: Phone,
        /// The staff id of the operator who issues it.
        operator: String,
        /// The instant of the command.
        at: DateTime<Utc>,
    },
    /// M3: an operator takes the waiting citizen in charge.
    TakeInCharge {
        /// The staff id of the operator taking the call.
        operator: String,
        /// The instant of the command.
        at: DateTime<Utc>,
    },
    /// M4: recording consent given or denied; denied ends the meeting.
    Consent {
        /// Whether the citizen consents to the recording; `false` ends the meeting.
        recording: bool,
        /// The instant of the command.
        at: DateTime<Utc>,
    },
    /// M5: the operator attests who is present.
    RecordAttendance {
        /// Whether the grantor is in the call.
        grantor_present: bool,
        /// Whether the delegate (the booker) is in the call.
        delegate_present: bool,
        /// Whether the grantor can state their will in full awareness.
        grantor_able_to_consent: bool,
        /// The instant of the command.
        at: DateTime<Utc>,
    },
    /// M6: a document came through the chat (already checked by
    /// [`PdfDocument::parse`](crate::document::PdfDocument::parse)), while
    /// the meeting's booking is active or not (`false` once it is
    /// cancelled): see [`Meeting::accepts_document`].
    AttachDocument {
        /// The checked document, by reference: kind, digest and length.
        document: DocumentRef,
        /// Whether the meeting's booking is active now.
        booking_active: bool,
        /// The instant of the upload.
        at: DateTime<Utc>,
    },
    /// M7: the operator closes a successful meeting; the delegation is then
    /// registered under D1–D3 with id `delegation_id`.
    Complete {
        /// The id to register the delegation under, chosen by the caller.
        delegation_id: DelegationId,
        /// The instant of the command.
        at: DateTime<Utc>,
    },
    /// M7: how that registration ended.
    RecordOutcome {
        /// Registered, or refused with the rule's code.
        result: RegistrationResult,
        /// The instant of the step, by the flow runner's clock.
        at: DateTime<Utc>,
    },
    /// M8: the operator ends the meeting without a registration.
    Abandon {
        /// M8: why the meeting ends.
        outcome: AbandonReason,
        /// B8: the booking the meeting is for, which its end settles. A
        /// meeting someone joined knows it already; one nobody joined
        /// learns it here (the caller reads it from the booking).
        #[serde(default)]
        booking: Option<EndedBooking>,
        /// The instant of the command.
        at: DateTime<Utc>,
    },
}

/// B8: the booking a meeting was for, as its end names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndedBooking {
    /// The booking (the meeting's stream id).
    pub id: BookingId,
    /// Who booked it: the stream of the booking.
    pub booker: FiscalCode,
}

/// What happened in a web meeting, as stored in the meeting's stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MeetingEvent {
    /// M1, M2: the first join; the booker is in the waiting room.
    Joined {
        /// The meeting's booking.
        booking_id: BookingId,
        /// The would-be delegate, who made the booking.
        booker: FiscalCode,
        /// B5: the grantor named in the booking.
        grantor: GrantorDetails,
        /// M1: the booked slot, which bounds the joins.
        slot: Slot,
        /// The instant of the join.
        at: DateTime<Utc>,
    },
    /// M3: an operator took the waiting citizen in charge: the call is on.
    TakenInCharge {
        /// The staff id of the operator who took the call.
        operator: String,
        /// The instant of the command.
        at: DateTime<Utc>,
    },
    /// M4: the citizen consented to the recording.
    RecordingConsented {
        /// The instant of the command.
        at: DateTime<Utc>,
    },
    /// M4: the citizen refused the recording; always followed by
    /// [`MeetingEvent::MeetingEnded`] with [`Outcome::ConsentDenied`].
    RecordingRefused {
        /// The instant of the command.
        at: DateTime<Utc>,
    },
    /// M5: the operator attested who is present.
    AttendanceRecorded {
        /// Whether the grantor is in the call.
        grantor_present: bool,
        /// Whether the delegate (the booker) is in the call.
        delegate_present: bool,
        /// Whether the grantor can state their will in full awareness.
        grantor_able_to_consent: bool,
        /// The instant of the command.
        at: DateTime<Utc>,
    },
    /// M6: a document came through the chat; it replaces any earlier one of
    /// the same kind.
    DocumentAttached {
        /// The document, by reference; its content is stored elsewhere.
        document: DocumentRef,
        /// The instant of the upload.
        at: DateTime<Utc>,
    },
    /// M7: the registration to run, channel `web_meeting` (see
    /// [`registration_request`]).
    CompletionRequested {
        /// The meeting's booking.
        booking_id: BookingId,
        /// The id the delegation is to be registered under.
        delegation_id: DelegationId,
        /// Who gives the delegation: the booking's grantor.
        grantor: FiscalCode,
        /// Who receives it: the booker.
        delegate: FiscalCode,
        /// M6, D11: the meeting's documents, the evidence the registration
        /// is made on; none in the events stored before D11.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        documents: Vec<DocumentRef>,
        /// The instant of the command.
        at: DateTime<Utc>,
    },
    /// M4, M7, M8: the meeting is over.
    MeetingEnded {
        /// How it ended.
        outcome: Outcome,
        /// The instant of the command that ended it.
        at: DateTime<Utc>,
        /// B8: the booking and its booker, once someone joined (none for a
        /// meeting ended before anyone did, and in events stored before
        /// B8): the flow marks the booking served, or missed on a no-show.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        booking: Option<EndedBooking>,
    },
    /// M12: recording of the identification part started, on consent.
    RecordingStarted {
        /// The instant of the consent.
        at: DateTime<Utc>,
    },
    /// M12: recording stopped: the attendance was recorded, or the meeting
    /// ended.
    RecordingStopped {
        /// The instant of the command that stopped it.
        at: DateTime<Utc>,
    },
    /// M10: a wrong access code; `wrong_codes` in a row, this one included.
    AccessCodeRejected {
        /// Wrong codes in a row, this one included.
        wrong_codes: u32,
        /// The instant of the join.
        at: DateTime<Utc>,
    },
    /// M10: after too many wrong codes in a row, joining is locked.
    JoiningLocked {
        /// The instant of the join that locked it.
        at: DateTime<Utc>,
    },
    /// M10: the right code after wrong ones, by a booker already in the
    /// meeting: the count starts again.
    AccessCodeAccepted {
        /// The instant of the join.
        at: DateTime<Utc>,
    },
    /// M10: an operator issued a new code (its digest; the SMS that carries
    /// it goes to `phone`); earlier codes no longer open the meeting.
    AccessCodeIssued {
        /// The meeting's booking.
        booking_id: BookingId,
        /// Which code this is (the booking's own is 0).
        generation: u32,
        /// The new code's digest, never the code.
        code: AccessCodeDigest,
        /// The mobile the SMS with the new code goes to.
        phone: Phone,
        /// The staff id of the operator who issued it.
        operator: String,
        /// The instant of the command.
        at: DateTime<Utc>,
    },
}

impl MeetingEvent {
    /// M10: the refusal an event records while being stored (a wrong code
    /// is refused, and counted): what the command that stored it answers.
    pub fn refusal(&self) -> Option<MeetingError> {
        match self {
            Self::AccessCodeRejected { .. } => Some(MeetingError::WrongAccessCode),
            _ => None,
        }
    }

    /// The instant the event carries: when it happened, by the clock of the
    /// command that produced it.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Self::Joined { at, .. }
            | Self::TakenInCharge { at, .. }
            | Self::RecordingConsented { at }
            | Self::RecordingRefused { at }
            | Self::AttendanceRecorded { at, .. }
            | Self::DocumentAttached { at, .. }
            | Self::CompletionRequested { at, .. }
            | Self::MeetingEnded { at, .. }
            | Self::RecordingStarted { at }
            | Self::RecordingStopped { at }
            | Self::AccessCodeRejected { at, .. }
            | Self::JoiningLocked { at }
            | Self::AccessCodeAccepted { at }
            | Self::AccessCodeIssued { at, .. } => *at,
        }
    }
}

impl DomainEvent for MeetingEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Joined { .. } => "Joined",
            Self::TakenInCharge { .. } => "TakenInCharge",
            Self::RecordingConsented { .. } => "RecordingConsented",
            Self::RecordingRefused { .. } => "RecordingRefused",
            Self::AttendanceRecorded { .. } => "AttendanceRecorded",
            Self::DocumentAttached { .. } => "DocumentAttached",
            Self::CompletionRequested { .. } => "CompletionRequested",
            Self::MeetingEnded { .. } => "MeetingEnded",
            Self::RecordingStarted { .. } => "RecordingStarted",
            Self::RecordingStopped { .. } => "RecordingStopped",
            Self::AccessCodeRejected { .. } => "AccessCodeRejected",
            Self::JoiningLocked { .. } => "JoiningLocked",
            Self::AccessCodeAccepted { .. } => "AccessCodeAccepted",
            Self::AccessCodeIssued { .. } => "AccessCodeIssued",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1.0".to_owned()
    }
}

/// M7, for the flow that follows a meeting: the delegation to register after
/// a [`MeetingEvent::CompletionRequested`], as (id, grantor, delegate). The
/// flow issues a `RequestDelegation` with channel `web_meeting` and role
/// `ordinary`, and reports the end with [`MeetingCommand::RecordOutcome`].
pub fn registration_request(
    event: &MeetingEvent,
) -> Option<(DelegationId, FiscalCode, FiscalCode)> {
    match event {
        MeetingEvent::CompletionRequested {
            delegation_id,
            grantor,
            delegate,
            ..
        } => Some((delegation_id.clone(), grantor.clone(), delegate.clone())),
        _ => None,
    }
}

impl Meeting {
    /// Where the meeting stands.
    pub fn state(&self) -> MeetingState {
        self.state
    }

    /// M9: the state the operator's console lists the booking in.
    pub fn console_state(&self) -> MeetingState {
        self.state
    }

    /// The booking as known from the first join; `None` before it.
    pub fn booking(&self) -> Option<&BookingSnapshot> {
        self.booking.as_ref()
    }

    /// M3: the operator who took the booking in charge.
    pub fn operator(&self) -> Option<&str> {
        self.operator.as_deref()
    }

    /// M12: whether the identification part is being recorded now.
    pub fn is_recording(&self) -> bool {
        self.recording
    }

    /// M4: `None` until asked.
    pub fn consent(&self) -> Option<bool> {
        self.consent
    }

    /// M5: what the operator has attested.
    pub fn present(&self) -> Presence {
        self.present
    }

    /// M6: the latest document of each kind.
    pub fn documents(&self) -> &[DocumentRef] {
        &self.documents
    }

    /// M6: the latest document of `kind`, if any.
    pub fn document(&self, kind: DocumentKind) -> Option<&DocumentRef> {
        self.documents.iter().find(|d| d.kind == kind)
    }

    /// M6: whether the meeting takes a document now, its booking being
    /// active or not (`false` once cancelled): only while it is on (someone
    /// joined, and it is neither registering nor ended) and its booking
    /// active. [`MeetingCommand::AttachDocument`] decides by this very rule;
    /// a caller asks it before it reads or stores a byte of the file, so
    /// that an upload the meeting would refuse stores nothing.
    pub fn accepts_document(&self, booking_active: bool) -> Result<(), MeetingError> {
        match self.state {
            MeetingState::Ended => Err(MeetingError::MeetingClosed),
            MeetingState::Registering => Err(MeetingError::Registering),
            _ if !booking_active => Err(MeetingError::BookingNotActive),
            MeetingState::Scheduled => Err(MeetingError::NotJoined),
            MeetingState::WaitingRoom | MeetingState::InCall => Ok(()),
        }
    }

    /// M7: the delegation whose registration the completion started.
    pub fn delegation_id(&self) -> Option<&DelegationId> {
        self.delegation_id.as_ref()
    }

    /// How the meeting ended; `None` until it does.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// M10: the generation of the code in force (0: the booking's own).
    pub fn code_generation(&self) -> u32 {
        self.reissued
            .as_ref()
            .map_or(0, |(generation, _)| *generation)
    }

    /// M10: whether joining is locked after too many wrong codes.
    pub fn is_locked(&self) -> bool {
        self.locked
    }

    /// M9: the read view of `GET /v1/bookings/{id}/meeting`.
    pub fn view(&self) -> MeetingView {
        MeetingView {
            state: self.state,
            consent: self.consent,
            recording: self.recording,
            present: self.present,
            documents: self.documents.clone(),
            outcome: self.outcome.clone(),
        }
    }

    /// The pure decision: which events `command` produces on this state, or
    /// which rule refuses it. Retried commands that already took effect
    /// produce no event.
    pub fn decide(
        &self,
        command: MeetingCommand,
        policy: &Policy,
    ) -> Result<Vec<MeetingEvent>, MeetingError> {
        match command {
            MeetingCommand::Join { booking, code, at } => {
                self.decide_join(booking, &code, at, policy)
            }
            MeetingCommand::IssueAccessCode {
                booking_id,
                generation,
                code,
                phone,
                operator,
                at,
            } => {
                if self.state == MeetingState::Ended {
                    return Err(MeetingError::MeetingClosed);
                }
                if let Some(known) = &self.booking {
                    if known.booking_id != booking_id {
                        return Err(MeetingError::BookingMismatch {
                            expected: known.booking_id.clone(),
                        });
                    }
                }
                if generation <= self.code_generation() {
                    // A retry of a code already issued.
                    return Ok(vec![]);
                }
                Ok(vec![MeetingEvent::AccessCodeIssued {
                    booking_id,
                    generation,
                    code,
                    phone,
                    operator,
                    at,
                }])
            }
            MeetingCommand::TakeInCharge { operator, at } => {
                if self.state != MeetingState::WaitingRoom {
                    return Err(MeetingError::NotWaiting { state: self.state });
                }
                Ok(vec![MeetingEvent::TakenInCharge { operator, at }])
            }
            MeetingCommand::Consent { recording, at } => {
                self.require_on()?;
                if self.consent == Some(recording) {
                    return Ok(vec![]);
                }
                if recording {
                    let mut events = vec![MeetingEvent::RecordingConsented { at }];
                    // M12: where meetings are recorded, from the consent on.
                    if policy.meetings_recorded && !self.recording {
                        events.push(MeetingEvent::RecordingStarted { at });
                    }
                    Ok(events)
                } else {
                    let mut events = vec![MeetingEvent::RecordingRefused { at }];
                    events.extend(self.end(Outcome::ConsentDenied, at));
                    Ok(events)
                }
            }
            MeetingCommand::RecordAttendance {
                grantor_present,
                delegate_present,
                grantor_able_to_consent,
                at,
            } => {
                self.require_in_call()?;
                let present = Presence {
                    grantor: grantor_present,
                    delegate: delegate_present,
                    grantor_able_to_consent,
                };
                if present == self.present {
                    return Ok(vec![]);
                }
                let mut events = vec![MeetingEvent::AttendanceRecorded {
                    grantor_present,
                    delegate_present,
                    grantor_able_to_consent,
                    at,
                }];
                // M12: the identification part ends with the attendance.
                if self.recording {
                    events.push(MeetingEvent::RecordingStopped { at });
                }
                Ok(events)
            }
            MeetingCommand::AttachDocument {
                document,
                booking_active,
                at,
            } => {
                self.accepts_document(booking_active)?;
                if self.document(document.kind) == Some(&document) {
                    return Ok(vec![]);
                }
                Ok(vec![MeetingEvent::DocumentAttached { document, at }])
            }
            MeetingCommand::Complete { delegation_id, at } => {
                self.decide_complete(delegation_id, at, policy)
            }
            MeetingCommand::RecordOutcome { result, at } => self.decide_outcome(result, at),
            MeetingCommand::Abandon {
                outcome,
                booking,
                at,
            } => {
                let outcome = Outcome::from(outcome);
                match self.state {
                    MeetingState::Ended if self.outcome.as_ref() == Some(&outcome) => Ok(vec![]),
                    MeetingState::Ended => Err(MeetingError::MeetingClosed),
                    MeetingState::Registering => Err(MeetingError::Registering),
                    _ => {
                        let mut events = self.end(outcome, at);
                        // B8: even a meeting nobody joined settles its booking.
                        if let Some(MeetingEvent::MeetingEnded { booking: named, .. }) =
                            events.last_mut()
                        {
                            if named.is_none() {
                                *named = booking;
                            }
                        }
                        Ok(events)
                    }
                }
            }
        }
    }

    /// M1, M2. An ended meeting answers `meeting_closed` before anything
    /// else: a booking served by its meeting may no longer be active, and
    /// "closed" is what the citizen needs to hear.
    fn decide_join(
        &self,
        booking: MeetingBooking,
        code: &AccessCodeDigest,
        at: DateTime<Utc>,
        policy: &Policy,
    ) -> Result<Vec<MeetingEvent>, MeetingError> {
        if self.state == MeetingState::Ended {
            return Err(MeetingError::MeetingClosed);
        }
        if !booking.active {
            return Err(MeetingError::BookingNotActive);
        }
        if let Some(known) = &self.booking {
            if known.booking_id != booking.booking_id {
                return Err(MeetingError::BookingMismatch {
                    expected: known.booking_id.clone(),
                });
            }
        }
        let opens_at =
            booking.slot.start - Duration::minutes(i64::from(policy.join_minutes_before_start));
        if at < opens_at {
            return Err(MeetingError::MeetingNotOpenYet { opens_at });
        }
        if at >= booking.slot.end {
            return Err(MeetingError::MeetingClosed);
        }
        // M10: locked, the right code included, until a new one is issued.
        if self.locked {
            return Err(MeetingError::AccessCodeLocked);
        }
        let in_force = match &self.reissued {
            Some((_, reissued)) => Some(reissued),
            None => booking.access_code.as_ref(),
        };
        if !in_force.is_some_and(|expected| expected.matches(code)) {
            let wrong_codes = self.wrong_codes.saturating_add(1);
            let mut events = vec![MeetingEvent::AccessCodeRejected { wrong_codes, at }];
            if wrong_codes >= policy.max_access_code_attempts {
                events.push(MeetingEvent::JoiningLocked { at });
            }
            return Ok(events);
        }
        if self.state != MeetingState::Scheduled {
            return Ok(if self.wrong_codes > 0 {
                vec![MeetingEvent::AccessCodeAccepted { at }]
            } else {
                vec![]
            });
        }
        Ok(vec![MeetingEvent::Joined {
            booking_id: booking.booking_id,
            booker: booking.booker,
            grantor: booking.grantor,
            slot: booking.slot,
            at,
        }])
    }

    /// M7 (with M4, M5, M6). Repeating a completion already requested for
    /// the same delegation produces no event.
    fn decide_complete(
        &self,
        delegation_id: DelegationId,
        at: DateTime<Utc>,
        policy: &Policy,
    ) -> Result<Vec<MeetingEvent>, MeetingError> {
        let same_request = self.delegation_id.as_ref() == Some(&delegation_id);
        match self.state {
            MeetingState::Registering | MeetingState::Ended if same_request => return Ok(vec![]),
            _ => self.require_in_call()?,
        }
        let Some(booking) = &self.booking else {
            return Err(MeetingError::NotJoined);
        };
        if policy.meetings_recorded && self.consent != Some(true) {
            return Err(MeetingError::ConsentMissing);
        }
        if !self.present.is_complete() {
            return Err(MeetingError::PartiesMissing {
                present: self.present,
            });
        }
        let missing: Vec<DocumentKind> = REQUIRED_DOCUMENTS
            .into_iter()
            .filter(|kind| self.document(*kind).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(MeetingError::DocumentsMissing { missing });
        }
        Ok(vec![MeetingEvent::CompletionRequested {
            booking_id: booking.booking_id.clone(),
            delegation_id,
            grantor: booking.grantor.fiscal_code.clone(),
            delegate: booking.booker.clone(),
            documents: self.documents.clone(),
            at,
        }])
    }

    /// M7: the registration's end closes the meeting. The same outcome again
    /// produces no event.
    fn decide_outcome(
        &self,
        result: RegistrationResult,
        at: DateTime<Utc>,
    ) -> Result<Vec<MeetingEvent>, MeetingError> {
        let outcome = Outcome::from(result);
        match self.state {
            MeetingState::Ended if self.outcome.as_ref() == Some(&outcome) => Ok(vec![]),
            MeetingState::Ended => Err(MeetingError::MeetingClosed),
            MeetingState::Registering => {
                if let (Outcome::DelegationRegistered { delegation_id }, Some(expected)) =
                    (&outcome, &self.delegation_id)
                {
                    if delegation_id != expected {
                        return Err(MeetingError::DelegationMismatch {
                            expected: expected.clone(),
                        });
                    }
                }
                Ok(self.end(outcome, at))
            }
            state => Err(MeetingError::NotRegistering { state }),
        }
    }

    /// The events that end the meeting with `outcome`: the recording stops
    /// first if it is on (M12), and the end names the booking (B8).
    fn end(&self, outcome: Outcome, at: DateTime<Utc>) -> Vec<MeetingEvent> {
        let mut events = Vec::new();
        if self.recording {
            events.push(MeetingEvent::RecordingStopped { at });
        }
        events.push(MeetingEvent::MeetingEnded {
            outcome,
            at,
            booking: self.booking.as_ref().map(|b| EndedBooking {
                id: b.booking_id.clone(),
                booker: b.booker.clone(),
            }),
        });
        events
    }

    /// The meeting is on: someone joined, and it is neither registering nor
    /// ended (M4).
    fn require_on(&self) -> Result<(), MeetingError> {
        match self.state {
            MeetingState::WaitingRoom | MeetingState::InCall => Ok(()),
            MeetingState::Scheduled => Err(MeetingError::NotJoined),
            MeetingState::Registering => Err(MeetingError::Registering),
            MeetingState::Ended => Err(MeetingError::MeetingClosed),
        }
    }

    /// The call is on (M5, M7).
    fn require_in_call(&self) -> Result<(), MeetingError> {
        match self.state {
            MeetingState::InCall => Ok(()),
            MeetingState::Registering => Err(MeetingError::Registering),
            MeetingState::Ended => Err(MeetingError::MeetingClosed),
            state => Err(MeetingError::NotInCall { state }),
        }
    }
}

crate::aggregate::event_sourced!(
    Meeting,
    "meeting",
    MeetingCommand,
    MeetingEvent,
    MeetingError
);

impl Meeting {
    /// Applies a stored event: no rules here, only state.
    fn evolve(&mut self, event: MeetingEvent) {
        match event {
            MeetingEvent::Joined {
                booking_id,
                booker,
                grantor,
                slot,
                ..
            } => {
                self.booking = Some(BookingSnapshot {
                    booking_id,
                    booker,
                    grantor,
                    slot,
                });
                self.state = MeetingState::WaitingRoom;
                self.wrong_codes = 0;
            }
            MeetingEvent::TakenInCharge { operator, .. } => {
                self.operator = Some(operator);
                self.state = MeetingState::InCall;
            }
            MeetingEvent::RecordingConsented { .. } => self.consent = Some(true),
            MeetingEvent::RecordingRefused { .. } => self.consent = Some(false),
            MeetingEvent::AttendanceRecorded {
                grantor_present,
                delegate_present,
                grantor_able_to_consent,
                ..
            } => {
                self.present = Presence {
                    grantor: grantor_present,
                    delegate: delegate_present,
                    grantor_able_to_consent,
                };
            }
            MeetingEvent::DocumentAttached { document, .. } => {
                match self.documents.iter_mut().find(|d| d.kind == document.kind) {
                    Some(earlier) => *earlier = document,
                    None => self.documents.push(document),
                }
            }
            MeetingEvent::CompletionRequested { delegation_id, .. } => {
                self.delegation_id = Some(delegation_id);
                self.state = MeetingState::Registering;
            }
            MeetingEvent::MeetingEnded { outcome, .. } => {
                self.outcome = Some(outcome);
                self.state = MeetingState::Ended;
                self.recording = false;
            }
            MeetingEvent::RecordingStarted { .. } => self.recording = true,
            MeetingEvent::RecordingStopped { .. } => self.recording = false,
            MeetingEvent::AccessCodeRejected { wrong_codes, .. } => self.wrong_codes = wrong_codes,
            MeetingEvent::JoiningLocked { .. } => self.locked = true,
            MeetingEvent::AccessCodeAccepted { .. } => self.wrong_codes = 0,
            MeetingEvent::AccessCodeIssued {
                generation, code, ..
            } => {
                self.reissued = Some((generation, code));
                self.wrong_codes = 0;
                self.locked = false;
            }
        }
    }
}
