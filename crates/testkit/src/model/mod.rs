//! The reference models the property tests compare the system against:
//! what the rule book says, as plainly as possible, with no event, stream
//! or flow in sight.
//!
//! - [`delegation`]: registrations, revocations, confirmations and the
//!   passing of days, over a small population (D1–D8); a
//!   [`ReferenceStateMachine`](proptest_state_machine::ReferenceStateMachine).
//! - [`booking`]: bookings, cancellations, operators' marks, the timer and
//!   the passing of hours, over a few counters (B1, B2, B4, B6, B8).
//!
//! Each model answers, for a step, the outcome the rules give it: `Ok(())`
//! or the refusal's stable code (`"delegate_cap_reached"`), so that a test
//! compares it with what the system answered.

pub mod booking;
pub mod delegation;
