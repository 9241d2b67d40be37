//! Drives the steps of a delegation history through a running service, as
//! its clients would: the grantor online, an operator at a counter, the
//! clock moved for the passing of days.
//!
//! With [`model::delegation`](crate::model::delegation), a property test of
//! an integration: each step's answer compared with the model's, the
//! invariants checked after it (see the crate's example).
//!
//! ```
//! use deleghe_adapters::{Deleghe, SettableClock};
//! use deleghe_domain::delegation::{Channel, Role};
//! use deleghe_domain::Policy;
//! use deleghe_testkit::drive::Driver;
//! use deleghe_testkit::fixtures::t0;
//! use deleghe_testkit::model::delegation::Transition;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let clock = SettableClock::fixed(t0());
//! let service = Deleghe::in_memory(Policy::default()).with_clock(clock.as_clock());
//! let mut driver = Driver::new(clock);
//! let register = Transition::Register {
//!     grantor: 1,
//!     delegate: 1,
//!     role: Role::Ordinary,
//!     channel: Channel::Online,
//!     ends_in_days: None,
//! };
//! // D4: no delegation to oneself.
//! assert_eq!(driver.apply(&service, &register).await, Err("self_delegation".into()));
//! # }
//! ```

use chrono::{DateTime, Duration, Utc};
use deleghe_adapters::{Actor, Deleghe, Metadata, SettableClock};
use deleghe_domain::delegation::{
    Channel, DelegationId, GrantorCommand, RequestDelegation, RevocationChannel,
};
use deleghe_domain::time::local_date;

use crate::fixtures::{evidence_for, person};
use crate::model::delegation::Transition;

/// Runs [`Transition`]s on a service whose clock it moves; person `n` of
/// the model is [`person(n)`](crate::fixtures::person).
pub struct Driver {
    clock: SettableClock,
    /// The delegations registered, with their grantor's number, in the
    /// order the model lists its own.
    registered: Vec<(usize, DelegationId)>,
    requests: usize,
}

impl Driver {
    /// A driver moving `clock`, the service's.
    pub fn new(clock: SettableClock) -> Self {
        Self {
            clock,
            registered: Vec::new(),
            requests: 0,
        }
    }

    /// The service's time.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The delegations registered so far, with their grantor's number, in
    /// the order of the model's
    /// [`delegations`](crate::model::delegation::Model::delegations).
    pub fn registered(&self) -> &[(usize, DelegationId)] {
        &self.registered
    }

    /// Runs `step` on `service`: `Ok(())`, or the refusal's code.
    pub async fn apply(&mut self, service: &Deleghe, step: &Transition) -> Result<(), String> {
        let now = self.now();
        let operator = Metadata::new(Actor::Operator("op-test".into()), "counter");
        let citizen = |n: usize| Metadata::new(Actor::Citizen(person(n)), "web");
        let outcome = match *step {
            Transition::Register {
                grantor, channel, ..
            } => {
                self.requests += 1;
                let id = DelegationId::parse(&format!("d-{}", self.requests)).expect("an id");
                let request = registration(step, id.clone(), now).expect("a registration");
                // D5, D12: online, the grantor asks in person; elsewhere, an
                // operator.
                let meta = match channel {
                    Channel::Online => citizen(grantor),
                    _ => operator.clone(),
                };
                let result = service.register_delegation(request, &meta).await;
                if result.is_ok() {
                    self.registered.push((grantor, id));
                }
                result.map(|_| ())
            }
            Transition::Revoke { grantor, online } => {
                let Some(id) = self.latest(grantor) else {
                    return Err("not_found".into());
                };
                let (channel, meta) = if online {
                    (RevocationChannel::Online, citizen(grantor))
                } else {
                    (RevocationChannel::Counter, operator)
                };
                service
                    .revoke_delegation(&person(grantor), &id, channel, now, &meta)
                    .await
                    .map(|_| ())
            }
            Transition::Confirm { grantor, reject } => {
                let Some(id) = self.latest(grantor) else {
                    return Err("not_found".into());
                };
                let command = if reject {
                    GrantorCommand::Reject { id, at: now }
                } else {
                    GrantorCommand::Confirm { id, at: now }
                };
                service
                    .delegation_command(&person(grantor), command, &operator)
                    .await
                    .map(|_| ())
            }
            Transition::Advance { days } => {
                self.clock.set(Some(now + Duration::days(days as i64)));
                Ok(())
            }
        };
        outcome.map_err(|e| e.code().to_owned())
    }

    fn latest(&self, grantor: usize) -> Option<DelegationId> {
        self.registered
            .iter()
            .rev()
            .find(|(g, _)| *g == grantor)
            .map(|(_, id)| id.clone())
    }
}

/// The request a [`Transition::Register`] stands for, made at `now` under
/// `id`, with the evidence its channel needs (D11); `None` for the other
/// steps.
pub fn registration(
    step: &Transition,
    id: DelegationId,
    now: DateTime<Utc>,
) -> Option<RequestDelegation> {
    let Transition::Register {
        grantor,
        delegate,
        role,
        channel,
        ends_in_days,
    } = *step
    else {
        return None;
    };
    Some(RequestDelegation {
        id,
        grantor: person(grantor),
        delegate: person(delegate),
        role,
        channel,
        ends_on: ends_in_days.map(|d| local_date(now) + chrono::Days::new(d)),
        meeting: None,
        evidence: evidence_for(channel, role),
        at: now,
    })
}
