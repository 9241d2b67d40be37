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

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::{DateTime, Days, LocalResult, Months, NaiveDateTime, TimeDelta, TimeZone, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::fiscal_code::FiscalCode;
use crate::issuer::Issuer;
use crate::policy::Policy;
use crate::time::ROME;

/// P1: characters of a generated PIN. Upper-case letters and digits without the
/// ambiguous `0`/`O` and `1`/`I`: 32 symbols, so each random byte maps to one
/// symbol uniformly (`byte % 32`).
pub const PIN_ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/// P1: characters in a generated PIN (5 bits each: 50 bits in all).
pub const PIN_LENGTH: usize = 10;

/// P3: Argon2id memory cost, in KiB. Deliberately light (4 MiB) so that a check
/// stays in the milliseconds and tests run fast; the online guessing risk is
/// bounded by the lock ([`Policy::max_failed_pin_attempts`]). Verification
/// reads the parameters from the stored PHC string, so raising these later
/// keeps existing hashes verifiable.
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

/// P1: how long a PIN stays valid. Wire names `"1d"`, `"1w"`, `"1m"`, `"3m"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PinValidity {
    /// One day.
    #[serde(rename = "1d")]
    OneDay,
    /// One week (7 days).
    #[serde(rename = "1w")]
    OneWeek,
    /// One calendar month.
    #[serde(rename = "1m")]
    OneMonth,
    /// Three calendar months.
    #[serde(rename = "3m")]
    ThreeMonths,
}

impl PinValidity {
    /// Every validity, shortest first.
    pub const ALL: [PinValidity; 4] = [
        PinValidity::OneDay,
        PinValidity::OneWeek,
        PinValidity::OneMonth,
        PinValidity::ThreeMonths,
    ];

    /// The wire name (`"1d"`, `"1w"`, `"1m"`, `"3m"`).
    pub fn as_str(&self) -> &'static str {
        match self {
            PinValidity::OneDay => "1d",
            PinValidity::OneWeek => "1w",
            PinValidity::OneMonth => "1m",
            PinValidity::ThreeMonths => "3m",
        }
    }

    /// P1: the first instant at which a PIN issued at `issued_at` is no longer
    /// valid (validity is `issued_at <= t < valid_until`).
    ///
    /// Days and calendar months are counted on the Italian (Europe/Rome) local
    /// clock, so a PIN issued at 10:00 ends at 10:00 local time whatever the
    /// daylight-saving changes in between. A month that lacks the day ends on
    /// its last day (chrono [`Months`]): 31 January + 1 month = 28 (or 29)
    /// February. A local time that does not exist (spring-forward gap) moves
    /// to the hour after; one that occurs twice takes the later instant.
    pub fn valid_until(&self, issued_at: DateTime<Utc>) -> DateTime<Utc> {
        let local = issued_at.with_timezone(&ROME).naive_local();
        let end = match self {
            PinValidity::OneDay => local.checked_add_days(Days::new(1)),
            PinValidity::OneWeek => local.checked_add_days(Days::new(7)),
            PinValidity::OneMonth => local.checked_add_months(Months::new(1)),
            PinValidity::ThreeMonths => local.checked_add_months(Months::new(3)),
        };
        end.map_or(DateTime::<Utc>::MAX_UTC, rome_to_utc)
    }
}

/// A Europe/Rome wall-clock time as an instant (see [`PinValidity::valid_until`]).
fn rome_to_utc(local: NaiveDateTime) -> DateTime<Utc> {
    match ROME.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(_, later) => later.with_timezone(&Utc),
        LocalResult::None => local
            .checked_add_signed(TimeDelta::hours(1))
            .and_then(|l| ROME.from_local_datetime(&l).earliest())
            .map_or_else(|| local.and_utc(), |t| t.with_timezone(&Utc)),
    }
}

impl fmt::Display for PinValidity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PinValidity {
    type Err = PinError;

    /// Parses the wire name; anything else is [`PinError::InvalidValidity`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PinValidity::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| PinError::InvalidValidity(s.to_owned()))
    }
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
fn decoy_hash() -> &'static PinHash {
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
    /// P1: a PIN is made of letters and digits.
    #[error("a PIN is made of letters and digits only, and is not empty (P1)")]
    InvalidPin,
    /// P3: the salt has the wrong length.
    #[error("a PIN salt has 16 to 48 bytes, this one has {len} (P3)")]
    InvalidSalt { len: usize },
    /// P3: a stored hash that is not an Argon2id PHC string.
    #[error("not an Argon2id PHC string (P3)")]
    InvalidPinHash,
    /// D12: a delegate acting for a citizen never issues that citizen's PIN.
    #[error("a delegate acting for a citizen cannot issue the citizen's PIN (D12)")]
    NotAllowedWhenActing,
    /// P1: a citizen issues their own PIN, in person.
    #[error("a PIN is issued by its citizen in person (P1)")]
    NotTheCitizen,
    /// The command names a citizen other than the account's owner.
    #[error("this PIN account belongs to {owner}, not to {requested}")]
    CitizenMismatch {
        owner: FiscalCode,
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

/// Commands of a [`PinAccount`]. Time comes in with the command.
#[derive(Clone, PartialEq, Eq)]
pub enum PinCommand {
    /// P1, P2: a new PIN for `citizen`, replacing any previous one. Carries
    /// the hash only (P3). D12: `by` must be the citizen in person.
    IssuePin {
        citizen: FiscalCode,
        pin_hash: PinHash,
        validity: PinValidity,
        at: DateTime<Utc>,
        by: Issuer,
    },
    /// P3: checks a candidate PIN. The candidate is in the command only; it is
    /// redacted from `Debug` and never reaches an event.
    VerifyPin { pin: String, at: DateTime<Utc> },
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
        citizen: FiscalCode,
        hash: PinHash,
        validity: PinValidity,
        issued_at: DateTime<Utc>,
        valid_until: DateTime<Utc>,
    },
    /// P3: a check succeeded; the count of consecutive failures starts again.
    PinVerified { at: DateTime<Utc> },
    /// P3: a check failed; `failures` is the count of consecutive failures
    /// on the current PIN, this one included.
    PinCheckFailed { at: DateTime<Utc>, failures: u32 },
    /// P3: the current PIN is locked (after the failure recorded just before).
    PinLocked { at: DateTime<Utc> },
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
    pub hash: PinHash,
    pub validity: PinValidity,
    pub issued_at: DateTime<Utc>,
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
/// and [`PinAccount::apply`]).
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
/// citizen, aggregate id = fiscal code, type [`PinAccount::TYPE`]).
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
    /// `policy`, or why it is refused. [`Aggregate::handle`] writes them.
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use cqrs_es::test::TestFramework;
    use cqrs_es::Aggregate;

    const PIN: &str = "K7M2Q9RTX4";
    const OTHER_PIN: &str = "ZZ3HC8NWP5";
    const SALT: &[u8; 16] = b"0123456789abcdef";
    const SALT2: &[u8; 16] = b"fedcba9876543210";

    fn citizen() -> FiscalCode {
        FiscalCode::parse("RSSMRA85T10A562S").unwrap()
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
            .and_utc()
    }

    /// A Europe/Rome wall-clock time as an instant.
    fn rome(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        ROME.with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .unwrap()
            .with_timezone(&Utc)
    }

    fn t0() -> DateTime<Utc> {
        utc(2025, 3, 4, 9, 0)
    }

    fn issue(pin: &str, salt: &[u8], validity: PinValidity, at: DateTime<Utc>) -> PinCommand {
        PinCommand::IssuePin {
            citizen: citizen(),
            pin_hash: PinHash::new(pin, salt).unwrap(),
            validity,
            at,
            by: Issuer::citizen(citizen()),
        }
    }

    fn verify(pin: &str, at: DateTime<Utc>) -> PinCommand {
        PinCommand::VerifyPin {
            pin: pin.to_owned(),
            at,
        }
    }

    /// Decides and applies, as the framework does; returns the events.
    fn run(account: &mut PinAccount, command: PinCommand) -> Result<Vec<PinEvent>, PinError> {
        let events = account.decide(command, &Policy::default())?;
        for e in &events {
            account.apply(e.clone());
        }
        Ok(events)
    }

    fn account_with(pin: &str) -> PinAccount {
        let mut a = PinAccount::default();
        run(&mut a, issue(pin, SALT, PinValidity::OneWeek, t0())).unwrap();
        a
    }

    fn valid(events: &[PinEvent]) -> bool {
        PinCheck::from_events(events).unwrap().valid
    }

    // ---- P1: generation and validity ----

    #[test]
    fn p1_validity_wire_names() {
        for (v, name) in [
            (PinValidity::OneDay, "1d"),
            (PinValidity::OneWeek, "1w"),
            (PinValidity::OneMonth, "1m"),
            (PinValidity::ThreeMonths, "3m"),
        ] {
            assert_eq!(serde_json::to_string(&v).unwrap(), format!("\"{name}\""));
            assert_eq!(
                serde_json::from_str::<PinValidity>(&format!("\"{name}\"")).unwrap(),
                v
            );
            assert_eq!(name.parse::<PinValidity>(), Ok(v));
            assert_eq!(v.to_string(), name);
        }
        let err = "2w".parse::<PinValidity>().unwrap_err();
        assert_eq!(err, PinError::InvalidValidity("2w".to_owned()));
        assert_eq!(err.code(), "invalid_validity");
        assert!(serde_json::from_str::<PinValidity>("\"1y\"").is_err());
    }

    #[test]
    fn p1_one_day_and_one_week() {
        let at = rome(2025, 3, 4, 10, 15);
        assert_eq!(
            PinValidity::OneDay.valid_until(at),
            rome(2025, 3, 5, 10, 15)
        );
        assert_eq!(
            PinValidity::OneWeek.valid_until(at),
            rome(2025, 3, 11, 10, 15)
        );
    }

    #[test]
    fn p1_one_month_clamps_at_month_end() {
        assert_eq!(
            PinValidity::OneMonth.valid_until(rome(2025, 1, 31, 10, 0)),
            rome(2025, 2, 28, 10, 0)
        );
        assert_eq!(
            PinValidity::OneMonth.valid_until(rome(2024, 1, 31, 10, 0)),
            rome(2024, 2, 29, 10, 0)
        );
        assert_eq!(
            PinValidity::OneMonth.valid_until(rome(2025, 2, 15, 10, 0)),
            rome(2025, 3, 15, 10, 0)
        );
    }

    #[test]
    fn p1_three_months_clamps_at_month_end() {
        assert_eq!(
            PinValidity::ThreeMonths.valid_until(rome(2024, 11, 30, 18, 0)),
            rome(2025, 2, 28, 18, 0)
        );
        assert_eq!(
            PinValidity::ThreeMonths.valid_until(rome(2025, 5, 31, 8, 0)),
            rome(2025, 8, 31, 8, 0)
        );
    }

    #[test]
    fn p1_periods_follow_the_rome_clock_across_dst() {
        // 31 March 00:30 in Rome is still 30 March in UTC: the month is Rome's.
        assert_eq!(
            PinValidity::OneMonth.valid_until(rome(2025, 3, 31, 0, 30)),
            rome(2025, 4, 30, 0, 30)
        );
        // One day across the spring-forward night is 23 hours.
        let before = rome(2025, 3, 29, 12, 0);
        assert_eq!(
            PinValidity::OneDay.valid_until(before),
            rome(2025, 3, 30, 12, 0)
        );
        assert_eq!(
            PinValidity::OneDay.valid_until(before) - before,
            TimeDelta::hours(23)
        );
        // Ending in the missing hour (02:30 on 30 March 2025) moves to 03:30.
        let in_gap = rome(2025, 3, 29, 2, 30);
        assert_eq!(
            PinValidity::OneDay.valid_until(in_gap),
            rome(2025, 3, 30, 3, 30)
        );
    }

    #[test]
    fn p1_pin_from_random_is_alphanumeric_and_unambiguous() {
        let bytes: Vec<u8> = (0..=255).collect();
        for chunk in bytes.chunks(PIN_LENGTH) {
            let pin = pin_from_random(chunk);
            assert_eq!(pin.len(), chunk.len().min(PIN_LENGTH));
            assert!(pin
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
            assert!(!pin.contains(['0', 'O', '1', 'I']));
        }
        assert_eq!(pin_from_random(&[0u8; 16]).len(), PIN_LENGTH);
        assert_eq!(pin_from_random(&[0u8; 16]), "2222222222");
        // Every symbol is reached, each by exactly 8 byte values.
        let all: String = (0..=255u8).map(|b| pin_from_random(&[b])).collect();
        for &s in PIN_ALPHABET {
            assert_eq!(all.matches(char::from(s)).count(), 8);
        }
    }

    #[test]
    fn p1_issue_records_validity_and_end() {
        let at = rome(2025, 1, 31, 10, 0);
        let events = PinAccount::default()
            .decide(
                issue(PIN, SALT, PinValidity::OneMonth, at),
                &Policy::default(),
            )
            .unwrap();
        let [PinEvent::PinIssued {
            citizen: c,
            validity,
            issued_at,
            valid_until,
            ..
        }] = events.as_slice()
        else {
            panic!("expected one PinIssued, got {events:?}");
        };
        assert_eq!(*c, citizen());
        assert_eq!(*validity, PinValidity::OneMonth);
        assert_eq!(*issued_at, at);
        assert_eq!(*valid_until, rome(2025, 2, 28, 10, 0));
    }

    #[test]
    fn p1_right_pin_verifies() {
        let mut a = account_with(PIN);
        let events = run(&mut a, verify(PIN, t0())).unwrap();
        assert_eq!(events, vec![PinEvent::PinVerified { at: t0() }]);
        assert!(a.last_check().unwrap().valid);
    }

    #[test]
    fn p1_pin_check_ignores_case_and_surrounding_spaces() {
        let a = account_with(PIN);
        let events = a
            .decide(verify(" k7m2q9rtx4 ", t0()), &Policy::default())
            .unwrap();
        assert!(valid(&events));
    }

    #[test]
    fn p1_expired_pin_is_not_valid_and_not_counted() {
        let mut a = account_with(PIN); // one week from t0
        let end = a.current_pin().unwrap().valid_until;
        assert_eq!(end, t0() + TimeDelta::days(7));
        let just_before = end - TimeDelta::seconds(1);
        assert!(valid(&run(&mut a, verify(PIN, just_before)).unwrap()));
        for _ in 0..10 {
            assert_eq!(
                run(&mut a, verify(OTHER_PIN, end)),
                Err(PinError::NoValidPin)
            );
        }
        assert_eq!(run(&mut a, verify(PIN, end)), Err(PinError::NoValidPin));
        assert_eq!(a.failures(), 0);
        assert!(!a.is_locked());
        assert_eq!(PinError::NoValidPin.code(), "no_valid_pin");
    }

    #[test]
    fn p1_no_pin_issued_is_not_valid() {
        let a = PinAccount::default();
        assert_eq!(
            a.decide(verify(PIN, t0()), &Policy::default()),
            Err(PinError::NoValidPin)
        );
    }

    #[test]
    fn p1_pin_must_be_alphanumeric() {
        assert_eq!(PinHash::new("", SALT), Err(PinError::InvalidPin));
        assert_eq!(PinHash::new("AB-CD", SALT), Err(PinError::InvalidPin));
        assert_eq!(PinError::InvalidPin.code(), "invalid_pin");
    }

    #[test]
    fn d12_a_delegate_acting_for_the_citizen_cannot_issue_the_pin() {
        let delegate = FiscalCode::parse("VRDGPP80A01H501U").unwrap();
        let command = |by: Issuer| PinCommand::IssuePin {
            citizen: citizen(),
            pin_hash: PinHash::new(PIN, SALT).unwrap(),
            validity: PinValidity::OneDay,
            at: t0(),
            by,
        };
        let policy = Policy::default();
        let acting = Issuer::delegate_for(delegate.clone(), citizen());
        for account in [PinAccount::default(), account_with(PIN)] {
            assert_eq!(
                account.decide(command(acting.clone()), &policy),
                Err(PinError::NotAllowedWhenActing)
            );
            assert_eq!(
                account.decide(command(Issuer::citizen(delegate.clone())), &policy),
                Err(PinError::NotTheCitizen)
            );
            assert_eq!(
                account.decide(command(Issuer::operator("op-1@DCM NAPOLI")), &policy),
                Err(PinError::NotTheCitizen)
            );
            assert!(account
                .decide(command(Issuer::citizen(citizen())), &policy)
                .is_ok());
        }
        assert_eq!(
            PinError::NotAllowedWhenActing.code(),
            "not_allowed_when_acting"
        );
    }

    #[test]
    fn p1_account_belongs_to_one_citizen() {
        let a = account_with(PIN);
        let other = FiscalCode::parse("VRDGPP80A01H501U").unwrap();
        let err = a
            .decide(
                PinCommand::IssuePin {
                    citizen: other.clone(),
                    pin_hash: PinHash::new(PIN, SALT).unwrap(),
                    validity: PinValidity::OneDay,
                    at: t0(),
                    by: Issuer::citizen(other.clone()),
                },
                &Policy::default(),
            )
            .unwrap_err();
        assert_eq!(
            err,
            PinError::CitizenMismatch {
                owner: citizen(),
                requested: other
            }
        );
        assert_eq!(err.code(), "citizen_mismatch");
    }

    // ---- P2: a new PIN cancels the previous one ----

    #[test]
    fn p2_new_pin_cancels_the_old_one() {
        let mut a = account_with(PIN);
        let later = t0() + TimeDelta::hours(1);
        run(&mut a, issue(OTHER_PIN, SALT2, PinValidity::OneDay, later)).unwrap();
        assert!(!valid(&run(&mut a, verify(PIN, later)).unwrap()));
        assert!(valid(&run(&mut a, verify(OTHER_PIN, later)).unwrap()));
        // The old validity does not survive either: the new one is one day.
        let after_a_day = later + TimeDelta::days(1);
        assert_eq!(
            run(&mut a, verify(OTHER_PIN, after_a_day)),
            Err(PinError::NoValidPin)
        );
    }

    #[test]
    fn p2_new_pin_resets_failures_and_lock() {
        let mut a = account_with(PIN);
        for _ in 0..5 {
            run(&mut a, verify(OTHER_PIN, t0())).unwrap();
        }
        assert!(a.is_locked());
        run(&mut a, issue(OTHER_PIN, SALT2, PinValidity::OneWeek, t0())).unwrap();
        assert!(!a.is_locked());
        assert_eq!(a.failures(), 0);
        assert_eq!(a.last_check(), None);
        assert!(valid(&run(&mut a, verify(OTHER_PIN, t0())).unwrap()));
    }

    // ---- P3: salted hash, no PIN in events, lock ----

    #[test]
    fn p3_hash_is_salted_argon2id_phc() {
        let h1 = PinHash::new(PIN, SALT).unwrap();
        let h2 = PinHash::new(PIN, SALT2).unwrap();
        assert_ne!(h1, h2);
        assert_eq!(
            PinHash::new(PIN, SALT).unwrap(),
            h1,
            "deterministic for a salt"
        );
        assert!(h1.as_str().starts_with("$argon2id$v=19$m=4096,t=2,p=1$"));
        assert!(!h1.as_str().contains(PIN));
        assert!(h1.verify(PIN) && h2.verify(PIN));
        assert!(!h1.verify(OTHER_PIN));
        assert_eq!(PinHash::from_phc(h1.as_str()), Ok(h1.clone()));
    }

    #[test]
    fn p3_salt_length_checked() {
        assert_eq!(
            PinHash::new(PIN, b"short"),
            Err(PinError::InvalidSalt { len: 5 })
        );
        assert_eq!(
            PinHash::new(PIN, &[7u8; 49]),
            Err(PinError::InvalidSalt { len: 49 })
        );
        assert!(PinHash::new(PIN, &[7u8; 48]).is_ok());
    }

    #[test]
    fn p3_stored_hash_must_be_argon2id() {
        assert_eq!(PinHash::from_phc(PIN), Err(PinError::InvalidPinHash));
        let argon2i = "$argon2i$v=19$m=4096,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert_eq!(PinHash::from_phc(argon2i), Err(PinError::InvalidPinHash));
        assert!(serde_json::from_str::<PinHash>("\"1234\"").is_err());
    }

    #[test]
    fn p3_events_and_state_never_contain_the_pin() {
        let mut a = PinAccount::default();
        let mut events = run(&mut a, issue(PIN, SALT, PinValidity::ThreeMonths, t0())).unwrap();
        events.extend(run(&mut a, verify(PIN, t0())).unwrap());
        for _ in 0..5 {
            events.extend(run(&mut a, verify(OTHER_PIN, t0())).unwrap());
        }
        assert!(events
            .iter()
            .any(|e| matches!(e, PinEvent::PinLocked { .. })));
        let json = serde_json::to_string(&events).unwrap();
        let state = serde_json::to_string(&a).unwrap();
        for text in [&json, &state] {
            for pin in [PIN, OTHER_PIN] {
                assert!(!text.contains(pin));
                assert!(!text.to_ascii_uppercase().contains(pin));
            }
        }
        let debug = format!("{:?}", verify(PIN, t0()));
        assert!(!debug.contains(PIN), "{debug}");
        // Events round-trip.
        let back: Vec<PinEvent> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, events);
    }

    #[test]
    fn p3_four_failures_then_right_pin_is_valid() {
        let mut a = account_with(PIN);
        for n in 1..=4 {
            let events = run(&mut a, verify(OTHER_PIN, t0())).unwrap();
            assert_eq!(
                events,
                vec![PinEvent::PinCheckFailed {
                    at: t0(),
                    failures: n
                }]
            );
        }
        assert!(!a.is_locked());
        let events = run(&mut a, verify(PIN, t0())).unwrap();
        assert_eq!(events, vec![PinEvent::PinVerified { at: t0() }]);
        assert_eq!(a.failures(), 0, "failures are consecutive");
    }

    #[test]
    fn p3_fifth_failure_locks_and_then_even_the_right_pin_is_refused() {
        let mut a = account_with(PIN);
        for _ in 0..4 {
            run(&mut a, verify(OTHER_PIN, t0())).unwrap();
        }
        let events = run(&mut a, verify(OTHER_PIN, t0())).unwrap();
        assert_eq!(
            events,
            vec![
                PinEvent::PinCheckFailed {
                    at: t0(),
                    failures: 5
                },
                PinEvent::PinLocked { at: t0() },
            ]
        );
        let check = PinCheck::from_events(&events).unwrap();
        assert!(!check.valid && check.locked);
        assert_eq!(a.last_check(), Some(&check));
        assert!(a.is_locked());
        assert_eq!(run(&mut a, verify(PIN, t0())), Err(PinError::Locked));
        assert_eq!(run(&mut a, verify(OTHER_PIN, t0())), Err(PinError::Locked));
        assert_eq!(PinError::Locked.code(), "pin_locked");
    }

    #[test]
    fn p3_lock_threshold_is_policy() {
        let policy = Policy {
            max_failed_pin_attempts: 2,
            ..Policy::default()
        };
        let a = account_with(PIN);
        let events = a.decide(verify(OTHER_PIN, t0()), &policy).unwrap();
        let mut a2 = a.clone();
        for e in events {
            a2.apply(e);
        }
        let events = a2.decide(verify(OTHER_PIN, t0()), &policy).unwrap();
        assert!(matches!(events.last(), Some(PinEvent::PinLocked { .. })));
    }

    #[test]
    fn p3_event_types() {
        let e = PinEvent::PinCheckFailed {
            at: t0(),
            failures: 1,
        };
        assert_eq!(e.event_type(), "PinCheckFailed");
        assert_eq!(e.event_version(), "1.0");
        assert_eq!(PinEvent::PinLocked { at: t0() }.event_type(), "PinLocked");
        assert_eq!(PinAccount::TYPE, "pin_account");
    }

    // ---- through cqrs-es ----

    fn issued(pin: &str, salt: &[u8], at: DateTime<Utc>) -> PinEvent {
        PinEvent::PinIssued {
            citizen: citizen(),
            hash: PinHash::new(pin, salt).unwrap(),
            validity: PinValidity::OneWeek,
            issued_at: at,
            valid_until: PinValidity::OneWeek.valid_until(at),
        }
    }

    fn failed(n: u32) -> PinEvent {
        PinEvent::PinCheckFailed {
            at: t0(),
            failures: n,
        }
    }

    #[tokio::test]
    async fn p1_issue_through_test_framework() {
        TestFramework::<PinAccount>::with(Policy::default())
            .given_no_previous_events()
            .when_async(issue(PIN, SALT, PinValidity::OneWeek, t0()))
            .await
            .then_expect_events(vec![issued(PIN, SALT, t0())]);
    }

    #[tokio::test]
    async fn p2_old_pin_fails_through_test_framework() {
        let later = t0() + TimeDelta::minutes(5);
        TestFramework::<PinAccount>::with(Policy::default())
            .given(vec![
                issued(PIN, SALT, t0()),
                issued(OTHER_PIN, SALT2, t0()),
            ])
            .when_async(verify(PIN, later))
            .await
            .then_expect_events(vec![PinEvent::PinCheckFailed {
                at: later,
                failures: 1,
            }]);
    }

    #[tokio::test]
    async fn p3_lock_through_test_framework() {
        let given = || {
            let mut events = vec![issued(PIN, SALT, t0())];
            events.extend((1..=4).map(failed));
            events
        };
        TestFramework::<PinAccount>::with(Policy::default())
            .given(given())
            .when_async(verify(PIN, t0()))
            .await
            .then_expect_events(vec![PinEvent::PinVerified { at: t0() }]);
        TestFramework::<PinAccount>::with(Policy::default())
            .given(given())
            .when_async(verify(OTHER_PIN, t0()))
            .await
            .then_expect_events(vec![failed(5), PinEvent::PinLocked { at: t0() }]);
        TestFramework::<PinAccount>::with(Policy::default())
            .given(given())
            .and(vec![failed(5), PinEvent::PinLocked { at: t0() }])
            .when_async(verify(PIN, t0()))
            .await
            .then_expect_error(PinError::Locked);
    }
}
