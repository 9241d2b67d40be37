//! The messages the policy produces and the operations on the outbox.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::io::IoMessage;
use crate::booking::Phone;
use crate::FiscalCode;

/// Where a notification goes, and to whom.
///
/// Serialised with a `kind` tag: `{"kind": "sms", "to": "+393331234567"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Channel {
    /// N1, N2, N4: an SMS to an Italian mobile number.
    Sms {
        /// The mobile the SMS goes to.
        to: Phone,
    },
    /// N4, N7: an SMS to the mobile the citizen keeps in their contacts
    /// when it is due; none is sent if they keep none then.
    Mobile {
        /// Whose mobile it goes to.
        citizen: FiscalCode,
    },
    /// N3: a notice ("scadenza") in the citizen's MyINPS calendar.
    CalendarNotice {
        /// Whose calendar the notice goes in.
        citizen: FiscalCode,
    },
    /// N5, N7: a message in the IO app of PagoPA, addressed by fiscal code;
    /// sent only if the citizen has chosen IO messages in their contacts
    /// when it is due.
    Io {
        /// The citizen the IO app knows by this code.
        fiscal_code: FiscalCode,
    },
}

impl Channel {
    /// The short name used in idempotency keys: `sms`, `mobile`,
    /// `calendar` or `io`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Channel::Sms { .. } => "sms",
            Channel::Mobile { .. } => "mobile",
            Channel::CalendarNotice { .. } => "calendar",
            Channel::Io { .. } => "io",
        }
    }
}

/// One message to deliver once `due_at` has come.
///
/// `key` is the N6 idempotency key (see [`keys`](super::keys)): the outbox
/// keeps one notification per key. For an SMS the text is `body` (the `title`
/// only labels it); for a calendar notice `title` and `body` are shown as
/// they are; for the IO app `title` is the subject and `body` the markdown,
/// already within the bounds of [`IoMessage`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// N6: the idempotency key; the outbox keeps one notification per key.
    pub key: String,
    /// Where it goes, and to whom.
    pub channel: Channel,
    /// When it may be sent: at once for most, before the slot for N2's reminder.
    pub due_at: DateTime<Utc>,
    /// The SMS's label, the notice's title, or the IO subject.
    pub title: String,
    /// The SMS's text, the notice's text, or the IO markdown.
    pub body: String,
}

impl Notification {
    /// N5: this notification as a valid IO message: the title becomes the
    /// subject, the body the markdown, padded or truncated to fit
    /// ([`IoMessage::fitting`]). A notification already within the bounds is
    /// taken unchanged.
    pub fn to_io_message(&self) -> IoMessage {
        IoMessage::fitting(&self.title, &self.body)
    }
}

/// What the outbox adapter is asked to do.
///
/// Serialised with an `op` tag: `{"op": "withdraw", "key": "..."}`, or
/// `{"op": "schedule", "key": ..., "channel": ..., ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum OutboxOp {
    /// Store the notification unless one with the same key is already stored.
    Schedule(Notification),
    /// N2: drop the notification with this key if it has not been sent yet
    /// (a cancelled booking's reminder).
    Withdraw {
        /// N6: the key of the notification to drop.
        key: String,
    },
}

impl OutboxOp {
    /// The idempotency key the operation is about.
    pub fn key(&self) -> &str {
        match self {
            OutboxOp::Schedule(n) => &n.key,
            OutboxOp::Withdraw { key } => key,
        }
    }

    /// The scheduled notification, if this is a `Schedule`.
    pub fn notification(&self) -> Option<&Notification> {
        match self {
            OutboxOp::Schedule(n) => Some(n),
            OutboxOp::Withdraw { .. } => None,
        }
    }
}

/// N4, N7: how a citizen can be reached, as their contacts say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// A mobile number for SMS, if the citizen gave one.
    pub phone: Option<Phone>,
    /// Whether the citizen receives messages in the IO app.
    pub io: bool,
}
