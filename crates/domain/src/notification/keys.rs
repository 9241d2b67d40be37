//! N6: idempotency keys.
//!
//! Each key is built only from the ids carried by the event that caused the
//! notification, the channel and the purpose, as `kind:id:channel:purpose`
//! (bookings) or `delegation:id:notice:party:channel`. Nothing else enters a
//! key (no clock, no counter, no randomness), so the same event always yields
//! the same keys and the outbox can deduplicate on them. Ids contain only
//! letters, digits, `-` and `_`, never `:`, so two different notifications
//! cannot share a key.

use super::{Channel, DelegationNotice, Party};
use crate::booking::BookingId;
use crate::delegation::DelegationId;

/// N1: `booking:{id}:sms:confirmation`.
pub fn booking_confirmation_sms(id: &BookingId) -> String {
    format!("booking:{id}:sms:confirmation")
}

/// N2: `booking:{id}:sms:reminder`, the key a cancellation withdraws.
pub fn booking_reminder_sms(id: &BookingId) -> String {
    format!("booking:{id}:sms:reminder")
}

/// N3: `booking:{id}:calendar:confirmation`.
pub fn booking_calendar_notice(id: &BookingId) -> String {
    format!("booking:{id}:calendar:confirmation")
}

/// N5: `booking:{id}:io:confirmation`.
pub fn booking_confirmation_io(id: &BookingId) -> String {
    format!("booking:{id}:io:confirmation")
}

/// M10: `booking:{id}:sms:access-code-{generation}`, the SMS with the new
/// code of that generation.
pub fn meeting_access_code_sms(id: &BookingId, generation: u32) -> String {
    format!("booking:{id}:sms:access-code-{generation}")
}

/// `booking:{id}:sms:cancellation`.
pub fn booking_cancellation_sms(id: &BookingId) -> String {
    format!("booking:{id}:sms:cancellation")
}

/// N7, D9: `booking:{id}:acted-for:{purpose}:{channel}`, what a delegate
/// acting for the booker did to the booking (`requested`, `cancelled`).
pub fn booking_acted_for(id: &BookingId, purpose: &str, channel: &Channel) -> String {
    format!("booking:{id}:acted-for:{purpose}:{}", channel.as_str())
}

/// N4: `delegation:{id}:{notice}:{party}:{channel}`, e.g.
/// `delegation:d-1:registered:grantor:sms`.
pub fn delegation(
    id: &DelegationId,
    notice: DelegationNotice,
    party: Party,
    channel: &Channel,
) -> String {
    format!(
        "delegation:{id}:{}:{}:{}",
        notice.as_str(),
        party.as_str(),
        channel.as_str()
    )
}
