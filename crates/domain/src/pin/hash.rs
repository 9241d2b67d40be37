//! The PIN itself and its stored form (P1, P3): how a PIN is drawn from
//! random bytes, normalised, hashed with Argon2id and checked in constant time.

use std::fmt;
use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};

use super::PinError;

/// P1: characters of a generated PIN. Upper-case letters and digits without the
/// ambiguous `0`/`O` and `1`/`I`: 32 symbols, so each random byte maps to one
/// symbol uniformly (`byte % 32`).
pub const PIN_ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/// P1: characters in a generated PIN (5 bits each: 50 bits in all).
pub const PIN_LENGTH: usize = 10;

/// P3: Argon2id memory cost, in KiB. Deliberately light (4 MiB) so that a check
/// stays in the milliseconds and tests run fast; the online guessing risk is
/// bounded by the lock
/// ([`Policy::max_failed_pin_attempts`](crate::Policy::max_failed_pin_attempts)).
/// Verification reads the parameters from the stored PHC string, so raising
/// these later keeps existing hashes verifiable.
pub const ARGON2_M_COST_KIB: u32 = 4096;
/// P3: Argon2id iterations.
pub const ARGON2_T_COST: u32 = 2;
/// P3: Argon2id parallelism.
pub const ARGON2_P_COST: u32 = 1;

/// P3: fewest salt bytes [`PinHash::new`] accepts (the PHC recommendation).
pub const PIN_SALT_MIN_BYTES: usize = 16;
/// P3: most salt bytes [`PinHash::new`] accepts (64 base64 characters in PHC).
pub const PIN_SALT_MAX_BYTES: usize = 48;

/// P1: turns random bytes into a PIN: one character of [`PIN_ALPHABET`] per
/// byte, for the first [`PIN_LENGTH`] bytes.
///
/// Pure: the caller supplies [`PIN_LENGTH`] bytes from a cryptographically
/// secure generator. Fewer bytes give a shorter PIN (and an empty slice an
/// empty string, which [`PinHash::new`] refuses).
///
/// ```
/// use deleghe_domain::pin::pin_from_random;
/// assert_eq!(pin_from_random(&[0, 1, 2, 31, 32, 255, 8, 9, 10, 11, 99]), "234Z2ZABCD");
/// ```
pub fn pin_from_random(bytes: &[u8]) -> String {
    bytes
        .iter()
        .take(PIN_LENGTH)
        .map(|b| char::from(PIN_ALPHABET[usize::from(b % 32)]))
        .collect()
}

/// The form in which a PIN is hashed and checked: surrounding whitespace
/// dropped, letters in upper case (PINs are read out over the phone).
fn normalize_pin(pin: &str) -> String {
    pin.trim().to_ascii_uppercase()
}

/// P3: a PIN stored as a salted Argon2id hash, in PHC string format
/// (`$argon2id$v=19$m=4096,t=2,p=1$<salt>$<hash>`). Serialised as that string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PinHash(String);

impl PinHash {
    /// P3: hashes `pin` with Argon2id ([`ARGON2_M_COST_KIB`], [`ARGON2_T_COST`],
    /// [`ARGON2_P_COST`]) and `salt`, which the caller draws at random for each
    /// PIN ([`PIN_SALT_MIN_BYTES`] to [`PIN_SALT_MAX_BYTES`] bytes).
    ///
    /// The PIN is normalised first (trimmed, upper case) and must then be
    /// non-empty ASCII letters and digits (P1), else [`PinError::InvalidPin`].
    /// A salt of the wrong length is [`PinError::InvalidSalt`].
    pub fn new(pin: &str, salt: &[u8]) -> Result<PinHash, PinError> {
        let pin = normalize_pin(pin);
        if pin.is_empty() || !pin.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(PinError::InvalidPin);
        }
        let len = salt.len();
        if !(PIN_SALT_MIN_BYTES..=PIN_SALT_MAX_BYTES).contains(&len) {
            return Err(PinError::InvalidSalt { len });
        }
        let salt = SaltString::encode_b64(salt).map_err(|_| PinError::InvalidSalt { len })?;
        let hash = hasher()
            .hash_password(pin.as_bytes(), &salt)
            .map_err(|_| PinError::InvalidSalt { len })?;
        Ok(PinHash(hash.to_string()))
    }

    /// Reads a stored PHC string, accepting only an Argon2id hash with its salt.
    pub fn from_phc(phc: &str) -> Result<PinHash, PinError> {
        let parsed = PasswordHash::new(phc).map_err(|_| PinError::InvalidPinHash)?;
        let argon2id = parsed.algorithm == Algorithm::Argon2id.ident();
        if !argon2id || parsed.salt.is_none() || parsed.hash.is_none() {
            return Err(PinError::InvalidPinHash);
        }
        Ok(PinHash(phc.to_owned()))
    }

    /// The PHC string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// P3: whether `pin` (normalised as in [`PinHash::new`]) is the hashed PIN.
    ///
    /// Constant time with respect to the candidate: argon2's
    /// [`PasswordVerifier::verify_password`] recomputes the hash with the
    /// stored salt and parameters and compares the two outputs with a
    /// constant-time equality (`password_hash::Output`'s `PartialEq`, built on
    /// `subtle`), so the time taken reveals nothing about how close a wrong PIN is.
    pub fn verify(&self, pin: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(&self.0) else {
            return false;
        };
        Argon2::default()
            .verify_password(normalize_pin(pin).as_bytes(), &parsed)
            .is_ok()
    }
}

/// The Argon2id instance of [`PinHash::new`].
fn hasher() -> Argon2<'static> {
    let params = Params::new(ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST, None)
        .expect("the constant Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A hash no PIN matches in practice, checked when there is no valid PIN so
/// that the time taken does not tell whether the citizen has one (P3).
pub(super) fn decoy_hash() -> &'static PinHash {
    static DECOY: OnceLock<PinHash> = OnceLock::new();
    DECOY.get_or_init(|| {
        PinHash::new("DECOY", b"deleghe-pin-decoy-salt").expect("the decoy PIN and salt are valid")
    })
}

impl fmt::Display for PinHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for PinHash {
    type Error = PinError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        PinHash::from_phc(&value)
    }
}

impl From<PinHash> for String {
    fn from(value: PinHash) -> Self {
        value.0
    }
}
