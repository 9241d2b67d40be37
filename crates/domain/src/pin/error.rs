//! Why a PIN command, or a PIN value, is refused (P1–P3, D12).

use crate::fiscal_code::FiscalCode;

/// Why a PIN command is refused (P1–P3), each with the stable code of the HTTP
/// contract ([`PinError::code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    /// P3: too many failed checks; a new PIN must be generated.
    #[error("the PIN is locked after too many failed checks: generate a new one (P3)")]
    Locked,
    /// P1: no PIN was ever issued, or it has expired. Not counted toward the lock.
    #[error("there is no valid PIN: generate a new one (P1)")]
    NoValidPin,
    /// P1: a validity other than 1d, 1w, 1m, 3m.
    #[error("PIN validity {0:?} is not one of \"1d\", \"1w\", \"1m\", \"3m\" (P1)")]
    InvalidValidity(String),
    /// P1: the PIN is empty, or holds something other than letters and digits.
    #[error("a PIN is made of letters and digits only, and is not empty (P1)")]
    InvalidPin,
    /// P3: the salt has the wrong length.
    #[error("a PIN salt has 16 to 48 bytes, this one has {len} (P3)")]
    InvalidSalt {
        /// The salt's length in bytes.
        len: usize,
    },
    /// P3: a stored hash that is not an Argon2id PHC string.
    #[error("not an Argon2id PHC string (P3)")]
    InvalidPinHash,
    /// D12: a delegate acting for a citizen never issues that citizen's PIN.
    #[error("a delegate acting for a citizen cannot issue the citizen's PIN (D12)")]
    NotAllowedWhenActing,
    /// P1, D12: issued by someone other than its citizen in person.
    #[error("a PIN is issued by its citizen in person (P1)")]
    NotTheCitizen,
    /// The command names a citizen other than the account's owner.
    #[error("this PIN account belongs to {owner}, not to {requested}")]
    CitizenMismatch {
        /// The account's owner.
        owner: FiscalCode,
        /// The citizen the command names.
        requested: FiscalCode,
    },
}

impl PinError {
    /// The stable machine-readable code (`code` in the HTTP problem body).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Locked => "pin_locked",
            Self::NoValidPin => "no_valid_pin",
            Self::InvalidValidity(_) => "invalid_validity",
            Self::InvalidPin => "invalid_pin",
            Self::InvalidSalt { .. } => "invalid_salt",
            Self::InvalidPinHash => "invalid_pin_hash",
            Self::CitizenMismatch { .. } => "citizen_mismatch",
            Self::NotAllowedWhenActing => "not_allowed_when_acting",
            Self::NotTheCitizen => "not_the_citizen",
        }
    }
}
