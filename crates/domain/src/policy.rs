//! Every number the rules use, in one value a deployment can change without
//! touching code. Defaults follow `DOMAIN.md`.

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
#[serde(default)]
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
        }
    }
}
