//! The [`PinAccount`] aggregate: its commands and events, the pure decision
//! of issuing and checking a PIN (P1–P3), and the outcome of a check.

use std::fmt;

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::hash::decoy_hash;
use super::{PinError, PinHash, PinValidity};
use crate::fiscal_code::FiscalCode;
use crate::issuer::Issuer;
use crate::policy::Policy;

/// Commands of a [`PinAccount`]. Time comes in with the command.
#[derive(Clone, PartialEq, Eq)]
pub enum PinCommand {
    /// P1, P2: a new PIN for `citizen`, replacing any previous one. Carries
    /// the hash only (P3). D12: `by` must be the citizen in person.
    IssuePin {
        /// Whose PIN it is: the account's owner.
        citizen: FiscalCode,
        /// P3: the salted hash of the new PIN, never the PIN.
        pin_hash: PinHash,
        /// P1: how long the PIN stays valid, as the citizen chose.
        validity: PinValidity,
        /// The instant of the command; the validity runs from it.
        at: DateTime<Utc>,
        /// D12: who issues the PIN, and for whom.
        by: Issuer,
    },
    /// P3: checks a candidate PIN. The candidate is in the command only; it is
    /// redacted from `Debug` and never reaches an event.
    VerifyPin {
        /// The candidate the contact center was given.
        pin: String,
        /// The instant of the check; an expired PIN is judged at it.
        at: DateTime<Utc>,
    },
}

impl fmt::Debug for PinCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PinCommand::IssuePin {
                citizen,
                pin_hash,
                validity,
                at,
                by,
            } => f
                .debug_struct("IssuePin")
                .field("citizen", citizen)
                .field("pin_hash", pin_hash)
                .field("validity", validity)
                .field("at", at)
                .field("by", by)
                .finish(),
            PinCommand::VerifyPin { pin: _, at } => f
                .debug_struct("VerifyPin")
                .field("pin", &"<redacted>")
                .field("at", at)
                .finish(),
        }
    }
}

/// Events of a [`PinAccount`]. None carries a PIN (P3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PinEvent {
    /// P1, P2: a PIN was issued; it replaces any previous one, and resets the
    /// failure count and the lock.
    PinIssued {
        /// Whose PIN it is.
        citizen: FiscalCode,
        /// P3: the salted hash of the PIN, never the PIN.
        hash: PinHash,
        /// P1: how long it stays valid.
        validity: PinValidity,
        /// The instant of the command.
        issued_at: DateTime<Utc>,
        /// P1: the first instant at which it is no longer valid.
        valid_until: DateTime<Utc>,
    },
    /// P3: a check succeeded; the count of consecutive failures starts again.
    PinVerified {
        /// The instant of the check.
        at: DateTime<Utc>,
    },
    /// P3: a check failed.
    PinCheckFailed {
        /// The instant of the check.
        at: DateTime<Utc>,
        /// Consecutive failures on the current PIN, this one included.
        failures: u32,
    },
    /// P3: the current PIN is locked (after the failure recorded just before).
    PinLocked {
        /// The instant of the check that locked it.
        at: DateTime<Utc>,
    },
}

impl PinEvent {
    /// The instant the event carries: when it happened, by the clock of the
    /// command that produced it (an issue's is `issued_at`).
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Self::PinIssued { issued_at, .. } => *issued_at,
            Self::PinVerified { at } | Self::PinCheckFailed { at, .. } | Self::PinLocked { at } => {
                *at
            }
        }
    }
}

impl DomainEvent for PinEvent {
    fn event_type(&self) -> String {
        match self {
            Self::PinIssued { .. } => "PinIssued",
            Self::PinVerified { .. } => "PinVerified",
            Self::PinCheckFailed { .. } => "PinCheckFailed",
            Self::PinLocked { .. } => "PinLocked",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1.0".to_owned()
    }
}

/// The PIN currently on an account (P1, P2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedPin {
    /// P3: the salted hash of the PIN, never the PIN.
    pub hash: PinHash,
    /// P1: how long it stays valid, as the citizen chose.
    pub validity: PinValidity,
    /// The instant it was issued.
    pub issued_at: DateTime<Utc>,
    /// P1: the first instant at which it is no longer valid.
    pub valid_until: DateTime<Utc>,
}

impl IssuedPin {
    /// P1: whether the PIN has not yet expired at `at`.
    pub fn is_unexpired_at(&self, at: DateTime<Utc>) -> bool {
        at < self.valid_until
    }
}

/// The outcome of a verification (P3), as recorded by its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinCheck {
    /// When the check was made.
    pub at: DateTime<Utc>,
    /// Whether the candidate was the PIN (`{"valid": ...}` in the API).
    pub valid: bool,
    /// Consecutive failures on the current PIN after this check.
    pub failures: u32,
    /// Whether this check locked the PIN.
    pub locked: bool,
}

impl PinCheck {
    /// The outcome of a [`PinCommand::VerifyPin`] from the events
    /// [`PinAccount::decide`] returned; `None` if they record no check.
    pub fn from_events(events: &[PinEvent]) -> Option<PinCheck> {
        let mut check = None;
        for event in events {
            check_after(&mut check, event);
        }
        check
    }
}

/// Folds one event into the last check (shared by [`PinCheck::from_events`]
/// and the account's `evolve`).
fn check_after(check: &mut Option<PinCheck>, event: &PinEvent) {
    match *event {
        PinEvent::PinIssued { .. } => *check = None,
        PinEvent::PinVerified { at } => {
            *check = Some(PinCheck {
                at,
                valid: true,
                failures: 0,
                locked: false,
            })
        }
        PinEvent::PinCheckFailed { at, failures } => {
            *check = Some(PinCheck {
                at,
                valid: false,
                failures,
                locked: false,
            })
        }
        PinEvent::PinLocked { .. } => {
            if let Some(c) = check.as_mut() {
                c.locked = true;
            }
        }
    }
}

/// P1–P3: a citizen's telephone PIN, as an event-sourced aggregate (one per
/// citizen, aggregate id = fiscal code, type `pin_account`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinAccount {
    citizen: Option<FiscalCode>,
    pin: Option<IssuedPin>,
    failures: u32,
    locked: bool,
    last_check: Option<PinCheck>,
}

impl PinAccount {
    /// The account's owner, once a PIN was issued.
    pub fn citizen(&self) -> Option<&FiscalCode> {
        self.citizen.as_ref()
    }

    /// The current PIN (P2: only the latest), expired or not.
    pub fn current_pin(&self) -> Option<&IssuedPin> {
        self.pin.as_ref()
    }

    /// P3: consecutive failed checks on the current PIN.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// P3: whether the current PIN is locked.
    pub fn is_locked(&self) -> bool {
        self.locked
    }

    /// The outcome of the latest recorded check on the current PIN.
    pub fn last_check(&self) -> Option<&PinCheck> {
        self.last_check.as_ref()
    }

    /// The pure decision: the events `command` produces on this state under
    /// `policy`, or why it is refused.
    /// [`Aggregate::handle`](cqrs_es::Aggregate::handle) writes them.
    ///
    /// - `IssuePin` (P1, P2): refused with [`PinError::NotAllowedWhenActing`]
    ///   when issued by a delegate acting for the citizen (D12), and with
    ///   [`PinError::NotTheCitizen`] by anyone but the citizen; otherwise
    ///   always a `PinIssued` with `valid_until` from
    ///   [`PinValidity::valid_until`]; it replaces the previous PIN, its
    ///   failures and its lock. Refused with [`PinError::CitizenMismatch`] if
    ///   the account belongs to someone else.
    /// - `VerifyPin` (P3): with no PIN, or an expired one,
    ///   [`PinError::NoValidPin`] (not counted, and as slow as a real check);
    ///   on a locked PIN [`PinError::Locked`], whatever the candidate; a right
    ///   PIN gives `PinVerified`; a wrong one `PinCheckFailed` with the new
    ///   count, followed by `PinLocked` when the count reaches
    ///   [`Policy::max_failed_pin_attempts`].
    pub fn decide(&self, command: PinCommand, policy: &Policy) -> Result<Vec<PinEvent>, PinError> {
        match command {
            PinCommand::IssuePin {
                citizen,
                pin_hash,
                validity,
                at,
                by,
            } => {
                if by.acting_for().is_some() {
                    return Err(PinError::NotAllowedWhenActing);
                }
                if !by.is_in_person(&citizen) {
                    return Err(PinError::NotTheCitizen);
                }
                if let Some(owner) = &self.citizen {
                    if *owner != citizen {
                        return Err(PinError::CitizenMismatch {
                            owner: owner.clone(),
                            requested: citizen,
                        });
                    }
                }
                Ok(vec![PinEvent::PinIssued {
                    citizen,
                    hash: pin_hash,
                    validity,
                    issued_at: at,
                    valid_until: validity.valid_until(at),
                }])
            }
            PinCommand::VerifyPin { pin, at } => {
                let current = match &self.pin {
                    Some(current) if current.is_unexpired_at(at) => current,
                    _ => {
                        let _ = decoy_hash().verify(&pin);
                        return Err(PinError::NoValidPin);
                    }
                };
                if self.locked {
                    return Err(PinError::Locked);
                }
                if current.hash.verify(&pin) {
                    return Ok(vec![PinEvent::PinVerified { at }]);
                }
                let failures = self.failures.saturating_add(1);
                let mut events = vec![PinEvent::PinCheckFailed { at, failures }];
                if failures >= policy.max_failed_pin_attempts {
                    events.push(PinEvent::PinLocked { at });
                }
                Ok(events)
            }
        }
    }
}

crate::aggregate::event_sourced!(PinAccount, "pin_account", PinCommand, PinEvent, PinError);

impl PinAccount {
    /// Applies a stored event: no rules here, only state.
    fn evolve(&mut self, event: PinEvent) {
        check_after(&mut self.last_check, &event);
        match event {
            PinEvent::PinIssued {
                citizen,
                hash,
                validity,
                issued_at,
                valid_until,
            } => {
                self.citizen = Some(citizen);
                self.pin = Some(IssuedPin {
                    hash,
                    validity,
                    issued_at,
                    valid_until,
                });
                self.failures = 0;
                self.locked = false;
            }
            PinEvent::PinVerified { .. } => self.failures = 0,
            PinEvent::PinCheckFailed { failures, .. } => self.failures = failures,
            PinEvent::PinLocked { .. } => self.locked = true,
        }
    }
}
