//! The ids of the schedule: a counter's ([`CounterId`]) and an office's
//! ([`OfficeId`]), validated when parsed and when deserialised. Their
//! conversions are those of every string-valued id (`crate::ids`).

use serde::{Deserialize, Serialize};

/// Longest counter id, in characters.
pub const MAX_COUNTER_ID_LEN: usize = 64;
/// Longest office name, in characters.
pub const MAX_OFFICE_ID_LEN: usize = 100;

/// The id of a counter, e.g. `deleghe-web-meeting`: 1 to 64 characters, each a
/// lowercase ASCII letter, an ASCII digit or `-`. Serialised as a plain string;
/// deserialising validates.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CounterId(String);

/// Why a string is not a valid [`CounterId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CounterIdError {
    /// The id is empty.
    #[error("a counter id cannot be empty")]
    Empty,
    /// The id is longer than [`MAX_COUNTER_ID_LEN`].
    #[error("a counter id has at most {max} characters, this one has {len}")]
    TooLong {
        /// Its length, in characters.
        len: usize,
        /// The most characters allowed.
        max: usize,
    },
    /// The id holds a character other than a lowercase letter, a digit or `-`;
    /// the payload is the first such character.
    #[error("a counter id uses only lowercase letters, digits and '-', not {0:?}")]
    InvalidCharacter(char),
}

impl CounterIdError {
    /// The stable error code of the HTTP contract.
    pub fn code(&self) -> &'static str {
        "invalid_request"
    }
}

impl CounterId {
    /// Validates `input` as a counter id. Nothing is trimmed or normalised.
    pub fn parse(input: &str) -> Result<Self, CounterIdError> {
        if input.is_empty() {
            return Err(CounterIdError::Empty);
        }
        let len = input.chars().count();
        if len > MAX_COUNTER_ID_LEN {
            return Err(CounterIdError::TooLong {
                len,
                max: MAX_COUNTER_ID_LEN,
            });
        }
        if let Some(c) = input
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(CounterIdError::InvalidCharacter(c));
        }
        Ok(Self(input.to_owned()))
    }
}

crate::ids::string_value!(CounterId, CounterIdError);

/// The office ("sede", "struttura") where a counter is held, by its name, e.g.
/// `DCM NAPOLI`: free text, trimmed, 1 to 100 characters. Serialised as a plain
/// string; deserialising validates (and trims).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OfficeId(String);

/// Why a string is not a valid [`OfficeId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfficeIdError {
    /// The name is blank.
    #[error("an office name cannot be empty")]
    Empty,
    /// The name, trimmed, is longer than [`MAX_OFFICE_ID_LEN`].
    #[error("an office name has at most {max} characters, this one has {len}")]
    TooLong {
        /// Its length, in characters.
        len: usize,
        /// The most characters allowed.
        max: usize,
    },
}

impl OfficeIdError {
    /// The stable error code of the HTTP contract.
    pub fn code(&self) -> &'static str {
        "invalid_request"
    }
}

impl OfficeId {
    /// Trims `input` and validates it as an office name.
    pub fn parse(input: &str) -> Result<Self, OfficeIdError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(OfficeIdError::Empty);
        }
        let len = s.chars().count();
        if len > MAX_OFFICE_ID_LEN {
            return Err(OfficeIdError::TooLong {
                len,
                max: MAX_OFFICE_ID_LEN,
            });
        }
        Ok(Self(s.to_owned()))
    }
}

crate::ids::string_value!(OfficeId, OfficeIdError);
