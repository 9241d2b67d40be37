//! The delegate aggregate: the seats a delegate holds, one per delegation
//! received, and the cap on ordinary ones (D2, D3).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::model::is_past_end;
use super::{DelegationError, DelegationId, Role};
use crate::{FiscalCode, Policy};

/// One delegation held by the delegate, from reservation until release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seat {
    /// Who gave the delegation the seat is for.
    pub grantor: FiscalCode,
    /// D3: a legal representative's seat is not an ordinary one.
    pub role: Role,
    /// D7: the delegation's last day in force; past it the seat no longer counts.
    pub ends_on: Option<NaiveDate>,
    /// The instant of the reservation step.
    pub reserved_at: DateTime<Utc>,
}

/// The seats of one delegate. Stream id: the delegate's fiscal code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delegate {
    /// The delegate's own code, known from the first reservation.
    me: Option<FiscalCode>,
    seats: BTreeMap<DelegationId, Seat>,
    /// Delegations whose seat was given back (or never taken and closed):
    /// a replayed reservation for them is refused, so recovery never
    /// re-takes a seat that was freed.
    #[serde(default)]
    released: std::collections::BTreeSet<DelegationId>,
}

/// What the registration flow asks of a delegate's stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DelegateCommand {
    /// Flow step: hold a seat for a requested delegation, under D2/D3.
    ReserveSeat {
        /// The delegation the seat is for.
        id: DelegationId,
        /// Who gives the delegation.
        grantor: FiscalCode,
        /// Whose seat it is: the stream's own fiscal code.
        delegate: FiscalCode,
        /// D3: whether the seat counts under the cap.
        role: Role,
        /// D7: the delegation's last day in force; none: no end.
        ends_on: Option<NaiveDate>,
        /// The instant of the step, by the flow runner's clock; D2 counts the
        /// seats in force then.
        at: DateTime<Utc>,
    },
    /// Flow step: give the seat back once the delegation is no longer live
    /// (or close it, if it was never taken).
    ReleaseSeat {
        /// The delegation whose seat is given back.
        id: DelegationId,
        /// Who gave the delegation.
        grantor: FiscalCode,
        /// Whose seat it is: the stream's own fiscal code.
        delegate: FiscalCode,
        /// The instant of the step, by the flow runner's clock.
        at: DateTime<Utc>,
    },
}

/// What happened to a delegate's seats, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DelegateEvent {
    /// D2, D3: a seat is held for the delegation, which the flow then registers.
    SeatReserved {
        /// The delegation the seat is for.
        id: DelegationId,
        /// Who gives the delegation.
        grantor: FiscalCode,
        /// Whose seat it is.
        delegate: FiscalCode,
        /// D3: whether the seat counts under the cap.
        role: Role,
        /// D7: the delegation's last day in force; none: no end.
        ends_on: Option<NaiveDate>,
        /// The instant of the reservation step.
        at: DateTime<Utc>,
    },
    /// The seat is given back (or closed, if never taken): it never counts again (D10).
    SeatReleased {
        /// The delegation whose seat is given back.
        id: DelegationId,
        /// Who gave the delegation.
        grantor: FiscalCode,
        /// Whose seat it was.
        delegate: FiscalCode,
        /// The instant of the release step.
        at: DateTime<Utc>,
    },
}

impl DelegateEvent {
    /// The delegation whose seat the event is about.
    pub fn delegation_id(&self) -> &DelegationId {
        match self {
            Self::SeatReserved { id, .. } | Self::SeatReleased { id, .. } => id,
        }
    }

    /// The instant the event carries: when it happened, by the clock of the
    /// command that produced it.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Self::SeatReserved { at, .. } | Self::SeatReleased { at, .. } => *at,
        }
    }
}

impl DomainEvent for DelegateEvent {
    fn event_type(&self) -> String {
        match self {
            Self::SeatReserved { .. } => "SeatReserved",
            Self::SeatReleased { .. } => "SeatReleased",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1.0".to_owned()
    }
}

impl Delegate {
    /// The seats held, by delegation: those past their end date (D7) included,
    /// released ones not.
    pub fn seats(&self) -> &BTreeMap<DelegationId, Seat> {
        &self.seats
    }

    /// D2, D3: ordinary seats in force at `now` (legal representatives' and
    /// expired ones (D7) do not count).
    pub fn ordinary_seats(&self, now: DateTime<Utc>) -> usize {
        self.seats
            .values()
            .filter(|s| !s.role.is_legal_representative() && !is_past_end(s.ends_on, now))
            .count()
    }

    /// The pure decision. Both steps are idempotent.
    pub fn decide(
        &self,
        command: DelegateCommand,
        policy: &Policy,
    ) -> Result<Vec<DelegateEvent>, DelegationError> {
        match command {
            DelegateCommand::ReserveSeat {
                id,
                grantor,
                delegate,
                role,
                ends_on,
                at,
            } => {
                if self.seats.contains_key(&id) {
                    return Ok(vec![]);
                }
                if self.released.contains(&id) {
                    return Err(DelegationError::SeatReleased(id));
                }
                let cap = policy.max_ordinary_delegations_per_delegate;
                if !role.is_legal_representative() && self.ordinary_seats(at) >= cap as usize {
                    return Err(DelegationError::DelegateCapReached { cap });
                }
                Ok(vec![DelegateEvent::SeatReserved {
                    id,
                    grantor,
                    delegate,
                    role,
                    ends_on,
                    at,
                }])
            }
            DelegateCommand::ReleaseSeat {
                id,
                grantor,
                delegate,
                at,
            } => {
                if self.released.contains(&id) {
                    return Ok(vec![]);
                }
                Ok(vec![DelegateEvent::SeatReleased {
                    id,
                    grantor,
                    delegate,
                    at,
                }])
            }
        }
    }
}

crate::aggregate::event_sourced!(
    Delegate,
    "delegate",
    DelegateCommand,
    DelegateEvent,
    DelegationError
);

impl Delegate {
    /// Applies a stored event: no rules here, only state.
    fn evolve(&mut self, event: DelegateEvent) {
        match event {
            DelegateEvent::SeatReserved {
                id,
                grantor,
                delegate,
                role,
                ends_on,
                at,
            } => {
                self.me = Some(delegate);
                self.seats.insert(
                    id,
                    Seat {
                        grantor,
                        role,
                        ends_on,
                        reserved_at: at,
                    },
                );
            }
            DelegateEvent::SeatReleased { id, delegate, .. } => {
                self.me.get_or_insert(delegate);
                self.seats.remove(&id);
                self.released.insert(id);
            }
        }
    }
}
