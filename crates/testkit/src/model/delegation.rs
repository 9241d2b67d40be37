//! The reference model of delegations: people are numbers (`0..people`),
//! days are counted from day 0, and a step is a [`Transition`].
//!
//! ```
//! use deleghe_domain::delegation::{Channel, Role};
//! use deleghe_testkit::model::delegation::{DelegationMachine, Model, Transition};
//! use proptest_state_machine::ReferenceStateMachine;
//!
//! let mut model = Model::default();
//! for grantor in [1, 2, 3, 4] {
//!     let register = Transition::Register {
//!         grantor,
//!         delegate: 0,
//!         role: Role::Ordinary,
//!         channel: Channel::Online,
//!         ends_in_days: None,
//!     };
//!     model = DelegationMachine::apply(model, &register);
//! }
//! // D2: the fourth ordinary delegation to person 0 is refused.
//! assert_eq!(model.expected, Err("delegate_cap_reached"));
//! assert_eq!(model.delegations.len(), 3);
//! ```

use deleghe_domain::delegation::{Channel, Role, Status};
use deleghe_domain::Policy;
use proptest::prelude::*;
use proptest_state_machine::ReferenceStateMachine;

use crate::strategies;

/// One step of a delegation history, on people numbered from 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// `grantor` asks to register `delegate` (the grantor online, an
    /// operator on the other channels).
    Register {
        /// The grantor's number.
        grantor: usize,
        /// The delegate's number.
        delegate: usize,
        /// The delegate's role (D3).
        role: Role,
        /// Where the registration is made (D5).
        channel: Channel,
        /// The last day in force, counted from the day of the request (D7).
        ends_in_days: Option<u64>,
    },
    /// The grantor's latest delegation is revoked, online by the grantor or
    /// at a counter (D8).
    Revoke {
        /// The grantor's number.
        grantor: usize,
        /// Online, or at a counter.
        online: bool,
    },
    /// The authority's answer on the grantor's latest delegation, awaiting
    /// confirmation (D6).
    Confirm {
        /// The grantor's number.
        grantor: usize,
        /// Rejected, or confirmed.
        reject: bool,
    },
    /// Time passes.
    Advance {
        /// Whole days.
        days: u64,
    },
}

/// Where a delegation of the model stands, before its end date is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefState {
    /// A legal representative's, waiting for the authority (D6).
    Awaiting,
    /// Registered and in force.
    Active,
    /// Revoked (D8).
    Revoked,
    /// Rejected by the authority (D6).
    Rejected,
}

/// A registered delegation of the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefDelegation {
    /// The grantor's number.
    pub grantor: usize,
    /// The delegate's number.
    pub delegate: usize,
    /// The delegate's role.
    pub role: Role,
    /// Where it was registered.
    pub channel: Channel,
    /// The day of the registration.
    pub registered_day: i64,
    /// Last day in force, counted from day 0.
    pub ends_day: Option<i64>,
    /// Where it stands.
    pub state: RefState,
}

impl RefDelegation {
    /// Past its last day on `today` (D7).
    pub fn expired(&self, today: i64) -> bool {
        self.ends_day.is_some_and(|end| today > end)
    }

    /// The status the rules give it on `today`.
    pub fn status(&self, today: i64) -> Status {
        match self.state {
            RefState::Awaiting | RefState::Active if self.expired(today) => Status::Expired,
            RefState::Awaiting => Status::AwaitingConfirmation,
            RefState::Active => Status::Active,
            RefState::Revoked => Status::Revoked,
            RefState::Rejected => Status::Rejected,
        }
    }

    /// Whether it occupies its grantor on `today` (D1).
    pub fn live(&self, today: i64) -> bool {
        matches!(
            self.status(today),
            Status::Active | Status::AwaitingConfirmation
        )
    }
}

/// The model's state: the day, the registered delegations, and the outcome
/// it expects of the last transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    /// Days since day 0.
    pub today: i64,
    /// How many people take part (grantors are drawn from all of them).
    pub people: usize,
    /// How many of them are drawn as delegates (the first ones), so that
    /// the cap is reached.
    pub delegates: usize,
    /// D2's cap.
    pub cap: usize,
    /// Every delegation registered, in order.
    pub delegations: Vec<RefDelegation>,
    /// The outcome the model expects of the last transition: `Ok(())` or
    /// the refusal's code.
    pub expected: Result<(), &'static str>,
}

impl Model {
    /// Day 0, nothing registered, six people of whom the first three are
    /// delegates, the cap of `policy`.
    pub fn new(policy: &Policy) -> Self {
        Self {
            today: 0,
            people: 6,
            delegates: 3,
            cap: policy.max_ordinary_delegations_per_delegate as usize,
            delegations: vec![],
            expected: Ok(()),
        }
    }

    /// The index of `grantor`'s latest delegation.
    pub fn latest_of(&self, grantor: usize) -> Option<usize> {
        self.delegations.iter().rposition(|d| d.grantor == grantor)
    }

    /// Applies `t`, recording its outcome in [`expected`](Self::expected).
    pub fn step(&mut self, t: &Transition) {
        self.expected = self.decide(t);
    }

    fn decide(&mut self, t: &Transition) -> Result<(), &'static str> {
        let today = self.today;
        match *t {
            Transition::Register {
                grantor,
                delegate,
                role,
                channel,
                ends_in_days,
            } => {
                let legal = role.is_legal_representative();
                let min_days = if channel == Channel::Online { 30 } else { 1 };
                let ordinary_to_delegate = self
                    .delegations
                    .iter()
                    .filter(|d| d.delegate == delegate && d.role == Role::Ordinary)
                    .filter(|d| d.live(today))
                    .count();
                if grantor == delegate {
                    Err("self_delegation")
                } else if channel == Channel::Online && legal {
                    Err("legal_representative_needs_counter")
                } else if channel == Channel::Pec && !legal {
                    Err("pec_needs_legal_representative")
                } else if ends_in_days.is_some_and(|d| (d as i64) < min_days) {
                    Err("end_date_too_soon")
                } else if self
                    .delegations
                    .iter()
                    .any(|d| d.grantor == grantor && d.live(today))
                {
                    Err("grantor_already_has_delegate")
                } else if !legal && ordinary_to_delegate >= self.cap {
                    Err("delegate_cap_reached")
                } else {
                    self.delegations.push(RefDelegation {
                        grantor,
                        delegate,
                        role,
                        channel,
                        registered_day: today,
                        ends_day: ends_in_days.map(|d| today + d as i64),
                        state: if legal {
                            RefState::Awaiting
                        } else {
                            RefState::Active
                        },
                    });
                    Ok(())
                }
            }
            Transition::Revoke { grantor, online } => {
                let Some(i) = self.latest_of(grantor) else {
                    return Err("not_found");
                };
                let d = &mut self.delegations[i];
                let status = d.status(today);
                if online {
                    if d.role != Role::Ordinary {
                        Err("revocation_needs_counter")
                    } else if status != Status::Active {
                        Err("not_active")
                    } else if today < d.registered_day + 30 {
                        Err("online_revocation_too_early")
                    } else {
                        d.state = RefState::Revoked;
                        Ok(())
                    }
                } else if !d.live(today) {
                    Err("not_active")
                } else {
                    d.state = RefState::Revoked;
                    Ok(())
                }
            }
            Transition::Confirm { grantor, reject } => {
                let Some(i) = self.latest_of(grantor) else {
                    return Err("not_found");
                };
                let d = &mut self.delegations[i];
                if d.status(today) != Status::AwaitingConfirmation {
                    Err("not_awaiting_confirmation")
                } else {
                    d.state = if reject {
                        RefState::Rejected
                    } else {
                        RefState::Active
                    };
                    Ok(())
                }
            }
            Transition::Advance { days } => {
                self.today += days as i64;
                Ok(())
            }
        }
    }
}

impl Default for Model {
    /// [`Model::new`] with the default policy.
    fn default() -> Self {
        Self::new(&Policy::default())
    }
}

/// The model as a [`ReferenceStateMachine`]: starts from
/// [`Model::default`], draws its steps from
/// [`strategies::delegation_transition`].
#[derive(Debug, Clone, Copy)]
pub struct DelegationMachine;

impl ReferenceStateMachine for DelegationMachine {
    type State = Model;
    type Transition = Transition;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model::default()).boxed()
    }

    fn transitions(m: &Model) -> BoxedStrategy<Transition> {
        strategies::delegation_transition(m.people, m.delegates).boxed()
    }

    fn apply(mut m: Model, t: &Transition) -> Model {
        m.step(t);
        m
    }
}
