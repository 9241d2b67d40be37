//! The grantor aggregate: the lifecycle of the delegations one grantor gives
//! (D1, D4–D8).

use chrono::{DateTime, Days, NaiveDate, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::model::is_past_end;
use super::{
    Channel, Delegation, DelegationError, DelegationId, Evidence, RevocationChannel, Role, Stage,
};
use crate::booking::BookingId;
use crate::time::local_date;
use crate::{FiscalCode, Issuer, Policy};

/// All the delegations one grantor has given, in order. Stream id: the
/// grantor's fiscal code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grantor {
    delegations: Vec<Delegation>,
}

/// A request to register a delegation (the first step of the registration flow).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestDelegation {
    /// Chosen by the caller, so that a retried request is recognised as the same one (D1).
    pub id: DelegationId,
    /// Who gives the delegation; the command goes to their stream.
    pub grantor: FiscalCode,
    /// Who is to act for the grantor; never the grantor (D4).
    pub delegate: FiscalCode,
    /// D3, D5: the delegate's capacity; a legal representative's is not registered online.
    pub role: Role,
    /// D5: how the delegation is registered.
    pub channel: Channel,
    /// D7: the last day in force (local date); none: no end.
    pub ends_on: Option<NaiveDate>,
    /// M7: the web meeting whose completion asks for this registration.
    pub meeting: Option<BookingId>,
    /// D11: the stored documents the registration is made on.
    #[serde(default)]
    pub evidence: Evidence,
    /// The instant of the request; D1 and D7 are judged at it.
    pub at: DateTime<Utc>,
}

impl GrantorCommand {
    /// The delegation the command is about; `None` for [`GrantorCommand::ActFor`],
    /// which is about whichever delegation is active.
    pub fn delegation_id(&self) -> Option<&DelegationId> {
        match self {
            Self::Request { request, .. } => Some(&request.id),
            Self::CompleteRegistration { id, .. }
            | Self::RefuseRegistration { id, .. }
            | Self::Confirm { id, .. }
            | Self::Reject { id, .. }
            | Self::Revoke { id, .. } => Some(id),
            Self::ActFor { .. } => None,
        }
    }
}

impl RequestDelegation {
    /// The command that asks for this delegation, issued by `by` (D12).
    pub fn issued_by(self, by: Issuer) -> GrantorCommand {
        GrantorCommand::Request { request: self, by }
    }
}

/// What may be asked of a grantor's delegations: the orders of citizens and
/// operators, and the steps of the registration flow ([`flow`](super::flow)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum GrantorCommand {
    /// D1, D4, D5, D7: request a delegation; the flow then reserves a seat.
    /// D12: refused when `by` acts for someone; online, `by` must be the
    /// grantor in person.
    Request {
        /// The delegation asked for.
        request: RequestDelegation,
        /// D12: who issues the request, and for whom.
        by: Issuer,
    },
    /// Flow step: the seat is held, so the delegation is registered (D6).
    CompleteRegistration {
        /// The delegation whose seat is held.
        id: DelegationId,
        /// The instant of the step, by the flow runner's clock.
        at: DateTime<Utc>,
    },
    /// Flow step: the delegate refused the seat, by the rule of `refusal`.
    RefuseRegistration {
        /// The delegation whose seat was refused.
        id: DelegationId,
        /// The delegate's rule that refused the seat (D2).
        refusal: DelegationError,
        /// The instant of the step, by the flow runner's clock.
        at: DateTime<Utc>,
    },
    /// D6: an operator confirms a legal representative's delegation.
    Confirm {
        /// The delegation awaiting confirmation.
        id: DelegationId,
        /// The instant of the command.
        at: DateTime<Utc>,
    },
    /// D6: an operator rejects it.
    Reject {
        /// The delegation awaiting confirmation.
        id: DelegationId,
        /// The instant of the command.
        at: DateTime<Utc>,
    },
    /// D8: revocation, online by the grantor or at a counter by an operator.
    /// D12: refused when `by` acts for someone; online, `by` must be the
    /// grantor in person.
    Revoke {
        /// The delegation to revoke.
        id: DelegationId,
        /// D8: online by the grantor in person, or at a counter by an operator.
        channel: RevocationChannel,
        /// The instant of the command; D8's minimum period is counted to its local date.
        at: DateTime<Utc>,
        /// D12: who issues the revocation, and for whom.
        by: Issuer,
    },
    /// D9, D12: `delegate` is about to do `action` for this grantor. Allowed
    /// only while the grantor's delegation to them is active at `at`; the
    /// event it stores goes into the same append as the action's own events,
    /// so a revocation committed first makes the append conflict, and the
    /// action is decided again, and refused.
    ActFor {
        /// Who is about to act for the grantor.
        delegate: FiscalCode,
        /// What they are about to do, by name (e.g. `booking.request`).
        action: String,
        /// The instant of the action; the delegation must be active then (D9).
        at: DateTime<Utc>,
    },
}

/// What happened to a grantor's delegations, as stored in the grantor's stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum GrantorEvent {
    /// D1: a delegation was requested, and occupies the grantor while
    /// pending; the flow reserves its seat next.
    DelegationRequested {
        /// The delegation.
        id: DelegationId,
        /// Who gives it.
        grantor: FiscalCode,
        /// Who is to act for the grantor.
        delegate: FiscalCode,
        /// D3: the delegate's capacity.
        role: Role,
        /// D5: how it is being registered.
        channel: Channel,
        /// D7: the last day in force (local date); none: no end.
        ends_on: Option<NaiveDate>,
        /// M7: the web meeting whose completion asked for it; none on other channels.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        meeting: Option<BookingId>,
        /// D11: the stored documents it is made on; none in the events
        /// stored before D11.
        #[serde(default, skip_serializing_if = "Evidence::is_empty")]
        evidence: Evidence,
        /// The instant of the request.
        at: DateTime<Utc>,
    },
    /// D6: the seat is held and the delegation registered: active at once, or,
    /// a legal representative's, awaiting confirmation.
    DelegationRegistered {
        /// The delegation.
        id: DelegationId,
        /// Who gives it.
        grantor: FiscalCode,
        /// Who may now act for the grantor, once it is active.
        delegate: FiscalCode,
        /// D6: a legal representative's, which waits for the authority's confirmation.
        awaiting_confirmation: bool,
        /// M7: the web meeting whose completion asked for it; none on other channels.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        meeting: Option<BookingId>,
        /// The instant of the registration step; D8 counts from its local date.
        at: DateTime<Utc>,
    },
    /// The registration flow refused the delegation: the delegate had no seat
    /// for it (D2).
    DelegationRefused {
        /// The delegation.
        id: DelegationId,
        /// Who asked to give it.
        grantor: FiscalCode,
        /// Who was to act for the grantor.
        delegate: FiscalCode,
        /// The refusing rule's code (e.g. `delegate_cap_reached`).
        reason: String,
        /// The refusing rule's error whole; none when only the code is stored.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refusal: Option<DelegationError>,
        /// M7: the web meeting whose completion asked for it; none on other channels.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        meeting: Option<BookingId>,
        /// The instant of the refusal step.
        at: DateTime<Utc>,
    },
    /// D6: an operator recorded the authority's confirmation: the delegation is active.
    DelegationConfirmed {
        /// The delegation.
        id: DelegationId,
        /// Who gives it.
        grantor: FiscalCode,
        /// Who may now act for the grantor.
        delegate: FiscalCode,
        /// The instant of the command.
        at: DateTime<Utc>,
    },
    /// D6: an operator recorded the authority's rejection; the flow gives the seat back.
    DelegationRejected {
        /// The delegation.
        id: DelegationId,
        /// Who gave it.
        grantor: FiscalCode,
        /// Who will not act for the grantor.
        delegate: FiscalCode,
        /// The instant of the command.
        at: DateTime<Utc>,
    },
    /// D8: the delegation was revoked; the flow gives the seat back.
    DelegationRevoked {
        /// The delegation.
        id: DelegationId,
        /// Who gave it.
        grantor: FiscalCode,
        /// Who may no longer act for the grantor.
        delegate: FiscalCode,
        /// D8: online by the grantor, or at a counter.
        channel: RevocationChannel,
        /// The instant of the command.
        at: DateTime<Utc>,
    },
    /// D9, D12: the delegate of delegation `id` acted for the grantor
    /// (`action`, e.g. `booking.request`), the delegation being active. It
    /// changes no state: it orders the action before any later revocation.
    DelegateActed {
        /// The active delegation the delegate acted through.
        id: DelegationId,
        /// Who the delegate acted for.
        grantor: FiscalCode,
        /// Who acted.
        delegate: FiscalCode,
        /// What they did, by name (e.g. `booking.request`).
        action: String,
        /// The instant of the action.
        at: DateTime<Utc>,
    },
}

impl GrantorEvent {
    /// The delegation the event is about.
    pub fn delegation_id(&self) -> &DelegationId {
        match self {
            Self::DelegationRequested { id, .. }
            | Self::DelegationRegistered { id, .. }
            | Self::DelegationRefused { id, .. }
            | Self::DelegationConfirmed { id, .. }
            | Self::DelegationRejected { id, .. }
            | Self::DelegationRevoked { id, .. }
            | Self::DelegateActed { id, .. } => id,
        }
    }

    /// The instant the event carries: when it happened, by the clock of the
    /// command that produced it.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Self::DelegationRequested { at, .. }
            | Self::DelegationRegistered { at, .. }
            | Self::DelegationRefused { at, .. }
            | Self::DelegationConfirmed { at, .. }
            | Self::DelegationRejected { at, .. }
            | Self::DelegationRevoked { at, .. }
            | Self::DelegateActed { at, .. } => *at,
        }
    }
}

impl Delegation {
    /// The delegation a `DelegationRequested` starts, pending; `None` for
    /// every other event, which changes a delegation already started
    /// ([`Delegation::apply`]).
    pub fn requested(event: &GrantorEvent) -> Option<Delegation> {
        match event {
            GrantorEvent::DelegationRequested {
                id,
                grantor,
                delegate,
                role,
                channel,
                ends_on,
                meeting,
                evidence,
                at,
            } => Some(Delegation {
                id: id.clone(),
                grantor: grantor.clone(),
                delegate: delegate.clone(),
                role: *role,
                channel: *channel,
                ends_on: *ends_on,
                meeting: meeting.clone(),
                evidence: evidence.clone(),
                requested_at: *at,
                registered_at: None,
                stage: Stage::Pending,
            }),
            _ => None,
        }
    }

    /// Applies a stored event to this delegation: no rules here, only state.
    /// The one place a delegation changes, for the grantor aggregate and the
    /// read models alike. An event about another delegation changes nothing,
    /// nor do the request that started this one and `DelegateActed` (D12's
    /// guard).
    pub fn apply(&mut self, event: &GrantorEvent) {
        if event.delegation_id() != &self.id {
            return;
        }
        match event {
            GrantorEvent::DelegationRequested { .. } | GrantorEvent::DelegateActed { .. } => {}
            GrantorEvent::DelegationRegistered {
                awaiting_confirmation,
                at,
                ..
            } => {
                self.registered_at = Some(*at);
                self.stage = if *awaiting_confirmation {
                    Stage::AwaitingConfirmation
                } else {
                    Stage::Active
                };
            }
            GrantorEvent::DelegationRefused {
                reason,
                refusal,
                at,
                ..
            } => {
                self.stage = Stage::Refused {
                    at: *at,
                    reason: reason.clone(),
                    refusal: refusal.clone(),
                }
            }
            GrantorEvent::DelegationConfirmed { .. } => self.stage = Stage::Active,
            GrantorEvent::DelegationRejected { at, .. } => self.stage = Stage::Rejected { at: *at },
            GrantorEvent::DelegationRevoked { channel, at, .. } => {
                self.stage = Stage::Revoked {
                    at: *at,
                    channel: *channel,
                }
            }
        }
    }
}

impl DomainEvent for GrantorEvent {
    fn event_type(&self) -> String {
        match self {
            Self::DelegationRequested { .. } => "DelegationRequested",
            Self::DelegationRegistered { .. } => "DelegationRegistered",
            Self::DelegationRefused { .. } => "DelegationRefused",
            Self::DelegationConfirmed { .. } => "DelegationConfirmed",
            Self::DelegationRejected { .. } => "DelegationRejected",
            Self::DelegationRevoked { .. } => "DelegationRevoked",
            Self::DelegateActed { .. } => "DelegateActed",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1.0".to_owned()
    }
}

impl Grantor {
    /// Every delegation given, oldest first.
    pub fn delegations(&self) -> &[Delegation] {
        &self.delegations
    }

    /// The delegation with this id, if this grantor gave it.
    pub fn delegation(&self, id: &DelegationId) -> Option<&Delegation> {
        self.delegations.iter().find(|d| &d.id == id)
    }

    /// D1: the delegation that occupies the grantor at `now`, if any.
    pub fn current(&self, now: DateTime<Utc>) -> Option<&Delegation> {
        self.delegations.iter().rev().find(|d| d.is_live(now))
    }

    /// D9: the delegation through which `delegate` may act for this grantor
    /// at `at`: the grantor's current one, to them, active.
    pub fn acting_delegation(
        &self,
        delegate: &FiscalCode,
        at: DateTime<Utc>,
    ) -> Result<&Delegation, DelegationError> {
        self.current(at)
            .filter(|d| &d.delegate == delegate && d.is_active(at))
            .ok_or(DelegationError::NoActiveDelegation)
    }

    /// The delegations whose registration flow has not ended.
    pub fn pending(&self) -> impl Iterator<Item = &Delegation> {
        self.delegations
            .iter()
            .filter(|d| d.stage == Stage::Pending)
    }

    fn find(&self, id: &DelegationId) -> Result<&Delegation, DelegationError> {
        self.delegation(id)
            .ok_or_else(|| DelegationError::NotFound(id.clone()))
    }

    /// The pure decision: which events `command` produces on this state, or
    /// which rule refuses it. Flow steps are idempotent: repeating one that
    /// already took effect produces no event.
    pub fn decide(
        &self,
        command: GrantorCommand,
        policy: &Policy,
    ) -> Result<Vec<GrantorEvent>, DelegationError> {
        let confirms = matches!(command, GrantorCommand::Confirm { .. });
        match command {
            GrantorCommand::Request { request, by } => self.decide_request(request, &by, policy),
            GrantorCommand::ActFor {
                delegate,
                action,
                at,
            } => self.decide_act_for(delegate, action, at),
            GrantorCommand::CompleteRegistration { id, at } => {
                let d = self.find(&id)?;
                match d.stage {
                    Stage::Pending => Ok(vec![GrantorEvent::DelegationRegistered {
                        id,
                        grantor: d.grantor.clone(),
                        delegate: d.delegate.clone(),
                        awaiting_confirmation: d.role.is_legal_representative(),
                        meeting: d.meeting.clone(),
                        at,
                    }]),
                    Stage::AwaitingConfirmation | Stage::Active => Ok(vec![]),
                    _ => Err(DelegationError::NoLongerPending {
                        id,
                        delegate: d.delegate.clone(),
                    }),
                }
            }
            GrantorCommand::RefuseRegistration { id, refusal, at } => {
                let d = self.find(&id)?;
                if d.stage != Stage::Pending {
                    return Ok(vec![]);
                }
                Ok(vec![GrantorEvent::DelegationRefused {
                    id,
                    grantor: d.grantor.clone(),
                    delegate: d.delegate.clone(),
                    reason: refusal.code().to_owned(),
                    refusal: Some(refusal),
                    meeting: d.meeting.clone(),
                    at,
                }])
            }
            GrantorCommand::Confirm { id, at } | GrantorCommand::Reject { id, at } => {
                // D6: the authority's answer, recorded by an operator.
                let d = self.find(&id)?;
                if d.stage != Stage::AwaitingConfirmation || is_past_end(d.ends_on, at) {
                    return Err(DelegationError::NotAwaitingConfirmation);
                }
                let (grantor, delegate) = (d.grantor.clone(), d.delegate.clone());
                Ok(vec![if confirms {
                    GrantorEvent::DelegationConfirmed {
                        id,
                        grantor,
                        delegate,
                        at,
                    }
                } else {
                    GrantorEvent::DelegationRejected {
                        id,
                        grantor,
                        delegate,
                        at,
                    }
                }])
            }
            GrantorCommand::Revoke {
                id,
                channel,
                at,
                by,
            } => {
                if by.acting_for().is_some() {
                    return Err(DelegationError::NotAllowedWhenActing);
                }
                let d = self.find(&id)?;
                match channel {
                    RevocationChannel::Online => {
                        if !by.is_in_person(&d.grantor) {
                            return Err(DelegationError::NotTheGrantor);
                        }
                        if d.role.is_legal_representative() {
                            return Err(DelegationError::RevocationNeedsCounter);
                        }
                        if !d.is_active(at) {
                            return Err(DelegationError::NotActive);
                        }
                        let from = d
                            .revocable_online_from(policy)
                            .expect("an active delegation is registered");
                        if local_date(at) < from {
                            return Err(DelegationError::OnlineRevocationTooEarly {
                                revocable_online_from: from,
                            });
                        }
                    }
                    RevocationChannel::Counter => {
                        let registered =
                            d.stage == Stage::Active || d.stage == Stage::AwaitingConfirmation;
                        if !registered || is_past_end(d.ends_on, at) {
                            return Err(DelegationError::NotActive);
                        }
                    }
                }
                Ok(vec![GrantorEvent::DelegationRevoked {
                    id,
                    grantor: d.grantor.clone(),
                    delegate: d.delegate.clone(),
                    channel,
                    at,
                }])
            }
        }
    }

    /// D9, D12: whether `delegate` may act for this grantor at `at`.
    fn decide_act_for(
        &self,
        delegate: FiscalCode,
        action: String,
        at: DateTime<Utc>,
    ) -> Result<Vec<GrantorEvent>, DelegationError> {
        let d = self.acting_delegation(&delegate, at)?;
        Ok(vec![GrantorEvent::DelegateActed {
            id: d.id.clone(),
            grantor: d.grantor.clone(),
            delegate,
            action,
            at,
        }])
    }

    fn decide_request(
        &self,
        r: RequestDelegation,
        by: &Issuer,
        policy: &Policy,
    ) -> Result<Vec<GrantorEvent>, DelegationError> {
        // D12, before anything else: not even a retry is answered.
        if by.acting_for().is_some() {
            return Err(DelegationError::NotAllowedWhenActing);
        }
        if r.channel == Channel::Online && !by.is_in_person(&r.grantor) {
            return Err(DelegationError::NotTheGrantor);
        }
        if let Some(existing) = self.delegation(&r.id) {
            // A retried request is recognised by its id.
            let same = existing.grantor == r.grantor
                && existing.delegate == r.delegate
                && existing.role == r.role
                && existing.channel == r.channel
                && existing.ends_on == r.ends_on;
            return if same {
                Ok(vec![])
            } else {
                Err(DelegationError::IdAlreadyUsed(r.id))
            };
        }
        if r.grantor == r.delegate {
            return Err(DelegationError::SelfDelegation);
        }
        match (r.channel, r.role.is_legal_representative()) {
            (Channel::Online, true) => {
                return Err(DelegationError::LegalRepresentativeNeedsCounter)
            }
            (Channel::Pec, false) => return Err(DelegationError::PecNeedsLegalRepresentative),
            _ => {}
        }
        // D11: the documents the channel needs, the form matching the role.
        let missing = r.evidence.missing(r.channel, r.role, policy);
        if !missing.is_empty() {
            return Err(DelegationError::EvidenceMissing { missing });
        }
        if let Some(ends_on) = r.ends_on {
            let today = local_date(r.at);
            let min_days = if r.channel == Channel::Online {
                u64::from(policy.min_online_duration_days)
            } else {
                1
            };
            let earliest = today
                .checked_add_days(Days::new(min_days))
                .unwrap_or(NaiveDate::MAX);
            if ends_on < earliest {
                return Err(DelegationError::EndDateTooSoon { earliest });
            }
        }
        if let Some(current) = self.current(r.at) {
            return Err(DelegationError::GrantorAlreadyHasDelegate {
                existing: current.id.clone(),
            });
        }
        Ok(vec![GrantorEvent::DelegationRequested {
            id: r.id,
            grantor: r.grantor,
            delegate: r.delegate,
            role: r.role,
            channel: r.channel,
            ends_on: r.ends_on,
            meeting: r.meeting,
            evidence: r.evidence,
            at: r.at,
        }])
    }

    fn get_mut(&mut self, id: &DelegationId) -> Option<&mut Delegation> {
        self.delegations.iter_mut().find(|d| &d.id == id)
    }
}

crate::aggregate::event_sourced!(
    Grantor,
    "grantor",
    GrantorCommand,
    GrantorEvent,
    DelegationError
);

impl Grantor {
    /// Applies a stored event: a request starts a delegation, every other
    /// event changes the one it names ([`Delegation::apply`]).
    fn evolve(&mut self, event: GrantorEvent) {
        if let Some(delegation) = Delegation::requested(&event) {
            self.delegations.push(delegation);
        } else if let Some(delegation) = self.get_mut(event.delegation_id()) {
            delegation.apply(&event);
        }
    }
}
