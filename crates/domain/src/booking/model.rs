//! Validated values of bookings (B5, B7, M2).

use serde::{Deserialize, Serialize};

use crate::FiscalCode;

/// The id of one booking, chosen by the caller so that a retry is recognised.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BookingId(String);

/// Why a string is not a booking id; it holds the string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a booking id is 1 to 64 characters among letters, digits, '-' and '_': {0:?}")]
pub struct BookingIdError(pub String);

impl BookingId {
    /// Checks `input` against the id alphabet: 1 to 64 ASCII letters, digits, `-` or `_`.
    pub fn parse(input: &str) -> Result<Self, BookingIdError> {
        crate::ids::check_id(input)
            .map(Self)
            .ok_or_else(|| BookingIdError(input.to_owned()))
    }
}
crate::ids::string_value!(BookingId, BookingIdError);

/// An Italian mobile number for SMS (B5, N1), normalised to `+39` and digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

/// Why a string is not an Italian mobile number; it holds the string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a mobile number is an Italian mobile (3xx, 9 or 10 digits, optional +39 or 0039): {0:?}")]
pub struct PhoneError(pub String);

impl Phone {
    /// Accepts `3331234567`, `+39 333 123 4567`, `0039-333-1234567`.
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        let compact: String = input
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '/'))
            .collect();
        let national = compact
            .strip_prefix("+39")
            .or_else(|| compact.strip_prefix("0039"))
            .unwrap_or(&compact);
        let ok = national.starts_with('3')
            && (9..=10).contains(&national.len())
            && national.chars().all(|c| c.is_ascii_digit());
        if ok {
            Ok(Self(format!("+39{national}")))
        } else {
            Err(PhoneError(input.to_owned()))
        }
    }
}
crate::ids::string_value!(Phone, PhoneError);

/// The web-meeting access code sent by SMS (M2): 6 to 12 letters or digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccessCode(String);

/// Why a string is not an access code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an access code is 6 to 12 letters or digits")]
pub struct AccessCodeError;

impl AccessCode {
    /// M2: what the citizen typed, trimmed and upper-cased, if it is 6 to 12 ASCII
    /// letters or digits.
    pub fn parse(input: &str) -> Result<Self, AccessCodeError> {
        let s = input.trim().to_ascii_uppercase();
        if (6..=12).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric()) {
            Ok(Self(s))
        } else {
            Err(AccessCodeError)
        }
    }

    /// A code of 8 characters from caller-provided bytes: random ones, or a
    /// keyed derivation (the domain draws no randomness and holds no key).
    pub fn from_random(bytes: &[u8; 8]) -> Self {
        const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        Self(
            bytes
                .iter()
                .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
                .collect(),
        )
    }

    /// M2: what the citizen typed, as codes are compared: trimmed and in
    /// upper case (whatever it is: a wrong code is simply wrong).
    pub fn normalise(typed: &str) -> String {
        typed.trim().to_ascii_uppercase()
    }

    /// M2: constant-time comparison with what the citizen typed.
    pub fn matches(&self, typed: &str) -> bool {
        use subtle::ConstantTimeEq;
        let typed = Self::normalise(typed);
        self.0.len() == typed.len() && bool::from(self.0.as_bytes().ct_eq(typed.as_bytes()))
    }
}
crate::ids::string_value!(AccessCode, AccessCodeError);

/// M2, M10: what the stores keep of a web meeting's access code: a keyed
/// digest (an HMAC-SHA256 that the deployment computes with its own secret
/// key over the booking and the code, 64 lowercase hex digits), never the
/// code. Events and read models carry this; the code itself exists only in
/// the SMS that delivers it. The rules only compare digests.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccessCodeDigest(String);

/// Why a string is not an access code digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an access code digest is 64 lowercase hexadecimal digits")]
pub struct AccessCodeDigestError;

impl AccessCodeDigest {
    /// Accepts exactly 64 lowercase hex digits, as [`AccessCodeDigest::from_bytes`]
    /// writes them.
    pub fn parse(input: &str) -> Result<Self, AccessCodeDigestError> {
        let ok = input.len() == 64
            && input
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| Self(input.to_owned()))
            .ok_or(AccessCodeDigestError)
    }

    /// The digest of 32 bytes (an HMAC-SHA256's output).
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        Self(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// M2: constant-time comparison with the digest of what was typed.
    pub fn matches(&self, typed: &AccessCodeDigest) -> bool {
        use subtle::ConstantTimeEq;
        bool::from(self.0.as_bytes().ct_eq(typed.0.as_bytes()))
    }
}

impl std::fmt::Debug for AccessCodeDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A digest is not a secret, but it is no one's business either.
        write!(f, "AccessCodeDigest({}…)", &self.0[..8])
    }
}

impl TryFrom<String> for AccessCodeDigest {
    type Error = AccessCodeDigestError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<AccessCodeDigest> for String {
    fn from(value: AccessCodeDigest) -> Self {
        value.0
    }
}

/// B5: who the web-meeting booking for the delegations counter is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantorDetails {
    /// The grantor; never the booker (D4).
    pub fiscal_code: FiscalCode,
    /// The grantor's first name, trimmed: 1 to 100 characters.
    pub first_name: String,
    /// The grantor's last name, trimmed: 1 to 100 characters.
    pub last_name: String,
}

/// Why a grantor's details are refused (B5).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantorDetailsError {
    /// A name is blank; the payload says which.
    #[error("the grantor's {0} is missing")]
    Missing(&'static str),
    /// A name is longer than 100 characters; the payload says which.
    #[error("the grantor's {0} is longer than 100 characters")]
    TooLong(&'static str),
}

impl GrantorDetails {
    /// B5: the grantor's details, both names trimmed and checked.
    pub fn new(
        fiscal_code: FiscalCode,
        first_name: &str,
        last_name: &str,
    ) -> Result<Self, GrantorDetailsError> {
        let check = |value: &str, what: &'static str| {
            let v = value.trim();
            if v.is_empty() {
                Err(GrantorDetailsError::Missing(what))
            } else if v.chars().count() > 100 {
                Err(GrantorDetailsError::TooLong(what))
            } else {
                Ok(v.to_owned())
            }
        };
        Ok(Self {
            fiscal_code,
            first_name: check(first_name, "first name")?,
            last_name: check(last_name, "last name")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b5_phone_numbers_are_normalised_italian_mobiles() {
        for ok in [
            "3331234567",
            "+39 333 123 4567",
            "0039-333-1234567",
            "333123456",
        ] {
            assert!(Phone::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            Phone::parse("333 1234567").unwrap().as_str(),
            "+393331234567"
        );
        for bad in [
            "",
            "0612345678",
            "33312345678901",
            "+44 7700 900123",
            "333-ABC-4567",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn m2_access_code_compares_case_insensitively() {
        let code = AccessCode::from_random(&[0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(code.as_str().len(), 8);
        assert!(code.matches(&code.as_str().to_lowercase()));
        assert!(!code.matches("WRONG123"));
        assert!(!code.matches(""));
    }

    /// M2: an access code is 6 to 12 ASCII letters or digits, read trimmed
    /// and in upper case.
    #[test]
    fn m2_an_access_code_is_6_to_12_letters_or_digits() {
        assert_eq!(AccessCode::parse(" abc234 ").unwrap().as_str(), "ABC234");
        assert!(AccessCode::parse("ABCDEFGHJK23").is_ok());
        for bad in ["ABC23", "ABCDEFGHJK234", "ABC-234", "ABC 234", "ABCÈ234"] {
            assert_eq!(AccessCode::parse(bad), Err(AccessCodeError), "{bad}");
        }
    }

    /// M2: a drawn code takes each byte modulo the alphabet, which leaves
    /// out the letters and digits a caller mistakes for one another
    /// (I, O, 0, 1).
    #[test]
    fn m2_a_drawn_code_maps_each_byte_into_its_alphabet() {
        let code = AccessCode::from_random(&[0, 1, 2, 31, 32, 33, 255, 100]);
        assert_eq!(code.as_str(), "ABC9AB9E");
        let every = AccessCode::from_random(&[8, 14, 24, 25, 26, 27, 28, 29]);
        assert_eq!(every.as_str(), "JQ234567");
    }

    #[test]
    fn m10_access_code_digests_are_64_hex_digits_compared_whole() {
        let a = AccessCodeDigest::from_bytes(&[0xab; 32]);
        assert_eq!(String::from(a.clone()), "ab".repeat(32));
        assert_eq!(AccessCodeDigest::parse(&"ab".repeat(32)), Ok(a.clone()));
        assert!(a.matches(&a));
        assert!(!a.matches(&AccessCodeDigest::from_bytes(&[0xac; 32])));
        for bad in ["", "ABC234", &"AB".repeat(32), &"ab".repeat(31)] {
            assert!(AccessCodeDigest::parse(bad).is_err(), "{bad}");
        }
        // Debug output shows enough of a digest to tell two apart, not all of it.
        assert_eq!(format!("{a:?}"), "AccessCodeDigest(abababab…)");
        assert!(!format!("{a:?}").contains(&"ab".repeat(8)));
    }

    #[test]
    fn b5_grantor_details_need_both_names() {
        let cf = FiscalCode::parse("RSSMRA85T10A562S").unwrap();
        assert!(GrantorDetails::new(cf.clone(), "Mario", "Rossi").is_ok());
        assert_eq!(
            GrantorDetails::new(cf, " ", "Rossi"),
            Err(GrantorDetailsError::Missing("first name"))
        );
    }
}
