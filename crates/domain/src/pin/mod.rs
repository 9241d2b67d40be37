//! P1–P3: the temporary telephone PIN ("PIN telefonico temporaneo") a citizen
//! generates for the contact center.
//!
//! One [`PinAccount`] aggregate per citizen (aggregate id = fiscal code).
//! The PIN itself never enters an event or the aggregate state (P3):
//!
//! 1. the caller draws random bytes from a CSPRNG and turns them into a PIN
//!    with [`pin_from_random`], draws a salt, and hashes the PIN with
//!    [`PinHash::new`] (Argon2id);
//! 2. it sends [`PinCommand::IssuePin`] with the hash only, and shows the PIN
//!    to the citizen once;
//! 3. the contact center checks a PIN with [`PinCommand::VerifyPin`]: the
//!    candidate travels in the command, the resulting events
//!    ([`PinEvent::PinVerified`], [`PinEvent::PinCheckFailed`],
//!    [`PinEvent::PinLocked`]) carry only times and counts.
//!
//! Outcomes of a verification, as the HTTP contract maps them
//! (`POST /v1/pin/verify`):
//! - [`PinEvent::PinVerified`]: `200 {"valid": true}`;
//! - [`PinEvent::PinCheckFailed`] (possibly followed by [`PinEvent::PinLocked`]
//!   on the last allowed attempt): `200 {"valid": false}`;
//! - [`PinError::NoValidPin`] (never issued, or expired): `200 {"valid": false}`,
//!   not counted toward the lock and not recorded;
//! - [`PinError::Locked`]: `423 pin_locked`.
//!
//! [`PinAccount::decide`] is the pure decision; [`PinCheck::from_events`] reads
//! the outcome from its events, and [`PinAccount::last_check`] from the state.
//!
//! Layout: the PIN and its Argon2id hash ([`PinHash`], `hash`), how long it
//! stays valid ([`PinValidity`], `validity`), the [`PinAccount`] aggregate
//! with its commands and events (`account`), and the [`PinError`]s (`error`).

mod account;
mod error;
mod hash;
mod validity;

pub use account::{IssuedPin, PinAccount, PinCheck, PinCommand, PinEvent};
pub use error::PinError;
pub use hash::{
    pin_from_random, PinHash, ARGON2_M_COST_KIB, ARGON2_P_COST, ARGON2_T_COST, PIN_ALPHABET,
    PIN_LENGTH, PIN_SALT_MAX_BYTES, PIN_SALT_MIN_BYTES,
};
pub use validity::PinValidity;

#[cfg(test)]
mod tests;
