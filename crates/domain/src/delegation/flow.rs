//! The registration flow across [`Grantor`] and [`Delegate`] as pure
//! reactions: a stored event (or a refused step) in, the next command out.
//! Adapters only run it: they execute the command a reaction names, and feed
//! back what it stored. Every step is idempotent, so a runner that replays
//! events after a crash, or two runners driving the same flow, converge on
//! the same end (D10).
//!
//! ```text
//! DelegationRequested ──► ReserveSeat ──ok──► SeatReserved ──► CompleteRegistration
//!                              │                                   │ closed meanwhile
//!                              └─refused─► RefuseRegistration      └──► ReleaseSeat
//! DelegationRefused | DelegationRejected | DelegationRevoked ──► ReleaseSeat
//! ```
//!
//! [`Grantor`]: super::Grantor
//! [`Delegate`]: super::Delegate

use chrono::{DateTime, Utc};

use super::{DelegateCommand, DelegateEvent, DelegationError, GrantorCommand, GrantorEvent};
use crate::FiscalCode;

/// A command addressed to one aggregate instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowCommand {
    /// A command for a grantor's stream.
    Grantor {
        /// The stream: the grantor's fiscal code.
        grantor: FiscalCode,
        /// What the stream is asked.
        command: GrantorCommand,
    },
    /// A command for a delegate's stream.
    Delegate {
        /// The stream: the delegate's fiscal code.
        delegate: FiscalCode,
        /// What the stream is asked.
        command: DelegateCommand,
    },
}

impl FlowCommand {
    /// The stream the command goes to.
    pub fn aggregate_id(&self) -> &FiscalCode {
        match self {
            Self::Grantor { grantor, .. } => grantor,
            Self::Delegate { delegate, .. } => delegate,
        }
    }
}

/// What follows a stored grantor event; `now` stamps the next command.
pub fn after_grantor_event(event: &GrantorEvent, now: DateTime<Utc>) -> Option<FlowCommand> {
    match event {
        GrantorEvent::DelegationRequested {
            id,
            grantor,
            delegate,
            role,
            ends_on,
            ..
        } => Some(FlowCommand::Delegate {
            delegate: delegate.clone(),
            command: DelegateCommand::ReserveSeat {
                id: id.clone(),
                grantor: grantor.clone(),
                delegate: delegate.clone(),
                role: *role,
                ends_on: *ends_on,
                at: now,
            },
        }),
        GrantorEvent::DelegationRefused {
            id,
            grantor,
            delegate,
            ..
        }
        | GrantorEvent::DelegationRejected {
            id,
            grantor,
            delegate,
            ..
        }
        | GrantorEvent::DelegationRevoked {
            id,
            grantor,
            delegate,
            ..
        } => Some(release(id, grantor, delegate, now)),
        GrantorEvent::DelegationRegistered { .. }
        | GrantorEvent::DelegationConfirmed { .. }
        | GrantorEvent::DelegateActed { .. } => None,
    }
}

/// What follows a stored delegate event.
pub fn after_delegate_event(event: &DelegateEvent, now: DateTime<Utc>) -> Option<FlowCommand> {
    match event {
        DelegateEvent::SeatReserved { id, grantor, .. } => Some(FlowCommand::Grantor {
            grantor: grantor.clone(),
            command: GrantorCommand::CompleteRegistration {
                id: id.clone(),
                at: now,
            },
        }),
        DelegateEvent::SeatReleased { .. } => None,
    }
}

/// What follows a flow command that a rule refused.
pub fn after_refusal(
    command: &FlowCommand,
    error: &DelegationError,
    now: DateTime<Utc>,
) -> Option<FlowCommand> {
    match (command, error) {
        (
            FlowCommand::Delegate {
                command: DelegateCommand::ReserveSeat { id, grantor, .. },
                ..
            },
            error,
        ) => Some(FlowCommand::Grantor {
            grantor: grantor.clone(),
            command: GrantorCommand::RefuseRegistration {
                id: id.clone(),
                refusal: error.clone(),
                at: now,
            },
        }),
        // The seat was reserved for a delegation closed meanwhile (refused by
        // a concurrent runner after its own attempt failed): give it back.
        (
            FlowCommand::Grantor {
                grantor,
                command: GrantorCommand::CompleteRegistration { .. },
            },
            DelegationError::NoLongerPending { id, delegate },
        ) => Some(release(id, grantor, delegate, now)),
        _ => None,
    }
}

fn release(
    id: &super::DelegationId,
    grantor: &FiscalCode,
    delegate: &FiscalCode,
    now: DateTime<Utc>,
) -> FlowCommand {
    FlowCommand::Delegate {
        delegate: delegate.clone(),
        command: DelegateCommand::ReleaseSeat {
            id: id.clone(),
            grantor: grantor.clone(),
            delegate: delegate.clone(),
            at: now,
        },
    }
}
