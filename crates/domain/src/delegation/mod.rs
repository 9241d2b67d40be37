//! Delegations (D1–D10): who may act online for whom.
//!
//! Two aggregates share the rules, because D1 and D2 live on different entities:
//!
//! - [`Grantor`] (stream id: the grantor's fiscal code) owns the lifecycle of
//!   every delegation the grantor gives: request, registration, confirmation
//!   (D6), revocation (D8). It enforces D1 (one delegate at a time), D4, D5,
//!   D7 and D11 (the evidence, [`Evidence`]).
//! - [`Delegate`] (stream id: the delegate's fiscal code) holds one *seat* per
//!   delegation received and enforces D2 (the cap) and D3 (legal
//!   representatives take no ordinary seat).
//!
//! A registration is a small flow across the two ([`flow`]): the grantor's
//! request reserves the grantor (D1), a seat is then reserved on the delegate
//! (D2), and only then is the delegation registered. Revocations and
//! rejections release the seat afterwards. Because a delegation becomes active
//! only once its seat is held, and a seat is freed only after the delegation
//! stopped being live, D1–D3 hold at every moment whatever the interleaving or
//! crash (D10). The reasoning is in `docs/adr/0001-cross-entity-invariants.md`.
//!
//! Every decision is a pure function (`decide`) of state, command and
//! [`Policy`](crate::Policy); `apply` holds no rules. A delegation changes in
//! one place: [`Delegation::requested`] starts it and [`Delegation::apply`]
//! follows it, for the grantor aggregate and the read models alike.

mod delegate;
mod error;
mod evidence;
pub mod flow;
mod grantor;
mod model;

pub use delegate::{Delegate, DelegateCommand, DelegateEvent, Seat};
pub use error::DelegationError;
pub use evidence::{counter_forms, Evidence, EvidenceDocument};
pub use grantor::{Grantor, GrantorCommand, GrantorEvent, RequestDelegation};
pub use model::{
    expires_at, is_past_end, Channel, Delegation, DelegationId, DelegationIdError,
    RevocationChannel, Role, Stage, Status,
};

#[cfg(test)]
mod tests;
