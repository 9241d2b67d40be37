//! Every number the rules use, in one value a deployment can change without
//! touching code. Defaults follow `docs/RULES.md`.

use serde::{Deserialize, Serialize};

/// The configurable numbers of the rules. `Policy::default()` is the rule book.
///
/// ```
/// use deleghe_domain::Policy;
/// // A deployment that keeps the earlier cap of circular 127/2021 (five).
/// let policy = Policy { max_ordinary_delegations_per_delegate: 5, ..Policy::default() };
/// assert_eq!(policy.min_days_before_online_revocation, 30);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// D2: ordinary delegations one delegate may hold (INPS message 3305/2021: 3).
    pub max_ordinary_delegations_per_delegate: u32,
    /// D8: days after registration before the grantor may revoke online.
    pub min_days_before_online_revocation: u32,
    /// D7: shortest duration, in days, of a delegation registered online.
    pub min_online_duration_days: u32,
    /// B2: active bookings one citizen may hold in all.
    pub max_active_bookings: u32,
    /// M1: minutes before the booked time from which a meeting can be joined.
    pub join_minutes_before_start: u32,
    /// N2: minutes before the meeting at which the reminder SMS is due.
    pub reminder_minutes_before_start: u32,
    /// M6: largest accepted document, in bytes (3 MiB).
    pub max_document_bytes: u64,
    /// P3: failed PIN checks after which the PIN is locked.
    pub max_failed_pin_attempts: u32,
    /// M4: whether web meetings are recorded (and so whether consent is asked).
    pub meetings_recorded: bool,
    /// M10: wrong access codes in a row after which joining is locked.
    pub max_access_code_attempts: u32,
    /// D11: whether an online registration needs a copy of the grantor's
    /// identity document.
    pub online_identity_document_required: bool,
    /// B8: minutes after an unserved slot's end at which its booking is
    /// missed by itself.
    pub missed_after_minutes: u32,
    /// N7: days before a delegation's end date at which both parties are
    /// told it is coming.
    pub expiry_notice_days: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            max_ordinary_delegations_per_delegate: 3,
            min_days_before_online_revocation: 30,
            min_online_duration_days: 30,
            max_active_bookings: 3,
            join_minutes_before_start: 15,
            reminder_minutes_before_start: 30,
            max_document_bytes: 3_145_728,
            max_failed_pin_attempts: 5,
            meetings_recorded: true,
            max_access_code_attempts: 10,
            online_identity_document_required: true,
            missed_after_minutes: 30,
            expiry_notice_days: 7,
        }
    }
}

/// A policy a deployment gave that the rules cannot run with: an unknown
/// name, a value of the wrong type, or a value out of its range. The
/// message names the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Not a JSON object of known names and values of their types.
    #[error("the policy is not valid: {0}")]
    Invalid(String),
    /// A value out of its range.
    #[error("the policy's {name} is {value}: {expected}")]
    OutOfRange {
        /// The setting, by its name in the policy.
        name: &'static str,
        /// The value given.
        value: u64,
        /// The range allowed, in words.
        expected: &'static str,
    },
}

impl Policy {
    /// A policy from a JSON object setting any of its values by name (the
    /// others keep their defaults), checked ([`Policy::check`]).
    ///
    /// ```
    /// use deleghe_domain::Policy;
    ///
    /// let five = Policy::from_json(r#"{"max_ordinary_delegations_per_delegate": 5}"#).unwrap();
    /// assert_eq!(five.max_ordinary_delegations_per_delegate, 5);
    /// assert_eq!(five.max_active_bookings, 3);
    /// let unknown = Policy::from_json(r#"{"max_delegates": 5}"#).unwrap_err();
    /// assert!(unknown.to_string().contains("max_delegates"));
    /// ```
    pub fn from_json(text: &str) -> Result<Self, PolicyError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| PolicyError::Invalid(e.to_string()))?;
        if !value.is_object() {
            return Err(PolicyError::Invalid(
                "expected a JSON object of settings by name".to_owned(),
            ));
        }
        let policy: Policy =
            serde_json::from_value(value).map_err(|e| PolicyError::Invalid(e.to_string()))?;
        policy.check()?;
        Ok(policy)
    }

    /// Every value within the range the rules can work with: at least one
    /// delegation per delegate, booking, access-code and PIN attempt, and a
    /// document size between 1 byte and 3 MiB (M6's limit is a ceiling a
    /// deployment may lower, not raise).
    pub fn check(&self) -> Result<(), PolicyError> {
        let at_least_one = [
            (
                "max_ordinary_delegations_per_delegate",
                self.max_ordinary_delegations_per_delegate,
            ),
            ("max_active_bookings", self.max_active_bookings),
            ("max_failed_pin_attempts", self.max_failed_pin_attempts),
            ("max_access_code_attempts", self.max_access_code_attempts),
        ];
        for (name, value) in at_least_one {
            if value == 0 {
                return Err(PolicyError::OutOfRange {
                    name,
                    value: 0,
                    expected: "at least 1",
                });
            }
        }
        let bounded = [
            (
                "missed_after_minutes",
                self.missed_after_minutes,
                1_440,
                "at most 1440 (a day)",
            ),
            (
                "expiry_notice_days",
                self.expiry_notice_days,
                366,
                "at most 366 (a year)",
            ),
        ];
        for (name, value, max, expected) in bounded {
            if value > max {
                return Err(PolicyError::OutOfRange {
                    name,
                    value: u64::from(value),
                    expected,
                });
            }
        }
        if !(1..=3_145_728).contains(&self.max_document_bytes) {
            return Err(PolicyError::OutOfRange {
                name: "max_document_bytes",
                value: self.max_document_bytes,
                expected: "from 1 to 3145728 bytes (3 MiB)",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_is_the_rule_book_and_checks() {
        let p = Policy::default();
        assert_eq!(p.max_ordinary_delegations_per_delegate, 3); // D2
        assert_eq!(p.min_days_before_online_revocation, 30); // D8
        assert_eq!(p.max_active_bookings, 3); // B2
        assert_eq!(p.max_access_code_attempts, 10); // M10
        assert_eq!(p.max_document_bytes, 3_145_728); // M6
        assert!(p.online_identity_document_required); // D11
        assert_eq!(p.missed_after_minutes, 30); // B8
        assert_eq!(p.expiry_notice_days, 7); // N7
        assert_eq!(p.check(), Ok(()));
        // Written out, it reads back the same.
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(Policy::from_json(&json), Ok(p));
    }

    #[test]
    fn a_policy_file_names_what_is_wrong() {
        let unknown = Policy::from_json(r#"{"max_delegations": 5}"#).unwrap_err();
        assert!(unknown.to_string().contains("max_delegations"), "{unknown}");
        let wrong_type = Policy::from_json(r#"{"meetings_recorded": "yes"}"#).unwrap_err();
        assert!(
            matches!(wrong_type, PolicyError::Invalid(_)),
            "{wrong_type}"
        );
        let negative = Policy::from_json(r#"{"max_active_bookings": -1}"#).unwrap_err();
        assert!(matches!(negative, PolicyError::Invalid(_)), "{negative}");
        let zero = Policy::from_json(r#"{"max_access_code_attempts": 0}"#).unwrap_err();
        assert!(
            zero.to_string().contains("max_access_code_attempts"),
            "{zero}"
        );
        let too_big = Policy::from_json(r#"{"max_document_bytes": 3145729}"#).unwrap_err();
        assert!(
            too_big.to_string().contains("max_document_bytes"),
            "{too_big}"
        );
        let too_long = Policy::from_json(r#"{"expiry_notice_days": 400}"#).unwrap_err();
        assert!(
            too_long.to_string().contains("expiry_notice_days"),
            "{too_long}"
        );
        assert!(Policy::from_json("[]").is_err());
        let not_recorded = Policy::from_json(r#"{"meetings_recorded": false}"#).unwrap();
        assert!(!not_recorded.meetings_recorded);
    }

    #[test]
    fn b8_n7_missed_after_a_day_at_most_and_the_expiry_told_a_year_ahead_at_most() {
        let read = |json: &str| Policy::from_json(json);
        let day = read(r#"{"missed_after_minutes": 1440}"#).unwrap();
        assert_eq!(day.missed_after_minutes, 1_440);
        let past = read(r#"{"missed_after_minutes": 1441}"#).unwrap_err();
        assert!(past.to_string().contains("missed_after_minutes"), "{past}");
        let year = read(r#"{"expiry_notice_days": 366}"#).unwrap();
        assert_eq!(year.expiry_notice_days, 366);
        let past = read(r#"{"expiry_notice_days": 367}"#).unwrap_err();
        assert!(past.to_string().contains("expiry_notice_days"), "{past}");
    }
}
