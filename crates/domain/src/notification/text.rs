//! Shared pieces of the Italian texts: local dates and times, mode names, and
//! the building of an IO notification.

use chrono::{DateTime, Utc};

use super::io::{with_footer, IoMessage};
use super::{Channel, Notification};
use crate::schedule::Mode;
use crate::time::ROME;
use crate::FiscalCode;

/// `DD/MM/YYYY`, in Europe/Rome.
pub(super) fn date(at: DateTime<Utc>) -> String {
    at.with_timezone(&ROME).format("%d/%m/%Y").to_string()
}

/// `HH:MM`, in Europe/Rome.
pub(super) fn time(at: DateTime<Utc>) -> String {
    at.with_timezone(&ROME).format("%H:%M").to_string()
}

/// `HH:MM:SS`, in Europe/Rome (the calendar notice's "ore 12:00:00").
pub(super) fn time_with_seconds(at: DateTime<Utc>) -> String {
    at.with_timezone(&ROME).format("%H:%M:%S").to_string()
}

/// The mode as the guide names it ("Modalità erogazione del servizio").
pub(super) fn mode(mode: Mode) -> &'static str {
    match mode {
        Mode::InPerson => "in sede",
        Mode::PhoneCallback => "ricontatto telefonico",
        Mode::WebMeeting => "web meeting",
    }
}

/// N5: an IO notification whose title and body are a valid [`IoMessage`]:
/// the text with the INPS footer, fitted to the IO bounds.
pub(super) fn io_notification(
    key: String,
    fiscal_code: FiscalCode,
    due_at: DateTime<Utc>,
    subject: &str,
    text: &str,
) -> Notification {
    let message = IoMessage::fitting(subject, &with_footer(text));
    Notification {
        key,
        channel: Channel::Io { fiscal_code },
        due_at,
        title: message.subject().to_owned(),
        body: message.markdown().to_owned(),
    }
}
