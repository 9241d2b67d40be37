//! The gateways side effects leave through, as ports (traits) with their
//! adapters. The outbox dispatcher ([`crate::outbox`]) is their only caller.
//!
//! - [`SmsGateway`] (N1, N2, N4): [`sms::FileSmsGateway`], the development
//!   gateway that appends JSON lines to a file (`DELEGHE_SMS_OUTBOX`), and
//!   `HttpSmsGateway`, a real provider's over HTTPS (feature `http-gateways`);
//! - [`IoGateway`] (N5): `io::HttpIoGateway`, the IO app of PagoPA (profile
//!   check, then message submission; feature `http-gateways`), and
//!   [`DisabledIo`];
//! - [`CalendarGateway`] (N3): [`calendar::NoticeCalendar`], which posts the
//!   notice into the citizen's personal area (the `notices` table).
//!
//! Delivery is at least once: the dispatcher marks a message sent after the
//! gateway accepted it, so a crash in between sends it again. Each call
//! carries the message's idempotency key (N6); a gateway that honours it
//! (the file gateway, the calendar, a provider with idempotency keys) turns
//! at-least-once into exactly-once per key.

pub mod calendar;
#[cfg(feature = "http-gateways")]
mod http;
#[cfg(feature = "http-gateways")]
pub mod io;
pub mod sms;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use deleghe_domain::booking::Phone;
use deleghe_domain::notification::IoMessage;
use deleghe_domain::FiscalCode;

/// The attribute the ports are declared with, for implementing them elsewhere.
pub use async_trait::async_trait;
pub use calendar::NoticeCalendar;
#[cfg(feature = "http-gateways")]
pub use http::HttpSmsGateway;
#[cfg(feature = "http-gateways")]
pub use io::HttpIoGateway;
pub use sms::{DisabledSms, FileSmsGateway};

/// Why a gateway did not deliver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// Worth trying again later: network trouble, a timeout, 429, 5xx.
    #[error("temporarily unavailable: {0}")]
    Temporary(String),
    /// Trying again will not help: refused, invalid, no such recipient.
    #[error("refused: {0}")]
    Permanent(String),
}

impl GatewayError {
    /// Whether a later attempt may succeed: the dispatcher retries a temporary
    /// failure with backoff and gives up on a permanent one at once.
    pub fn is_temporary(&self) -> bool {
        matches!(self, Self::Temporary(_))
    }
}

/// N1, N2, N4: sends one SMS. `key` is the idempotency key (N6): a gateway
/// that has already accepted `key` must not send it again.
#[async_trait]
pub trait SmsGateway: Send + Sync {
    /// Sends `text` to `to`; `Ok` once the gateway has accepted it (or had
    /// accepted `key` before).
    async fn send(&self, to: &Phone, text: &str, key: &str) -> Result<(), GatewayError>;
}

/// N5: sends one message in the IO app to the citizen with `fiscal_code`.
#[async_trait]
pub trait IoGateway: Send + Sync {
    /// Sends `message` to the citizen; `Ok` once it is accepted. `key` names
    /// the message (N6), although the IO API takes none:
    /// `io::HttpIoGateway` logs it.
    async fn send(
        &self,
        fiscal_code: &FiscalCode,
        message: &IoMessage,
        key: &str,
    ) -> Result<(), GatewayError>;
}

/// N3: posts one notice in a citizen's personal area.
#[async_trait]
pub trait CalendarGateway: Send + Sync {
    /// Posts a notice with `title` and `body` to `citizen`'s personal area,
    /// dated `at` (the outbox row's due time); a second post of `key` must
    /// change nothing.
    async fn post(
        &self,
        citizen: &FiscalCode,
        title: &str,
        body: &str,
        at: DateTime<Utc>,
        key: &str,
    ) -> Result<(), GatewayError>;
}

/// The gateway of each channel the outbox sends through.
#[derive(Clone)]
pub struct Gateways {
    /// N1, N2, N4: where the outbox's `sms` rows go.
    pub sms: Arc<dyn SmsGateway>,
    /// N5: where the `io` rows go.
    pub io: Arc<dyn IoGateway>,
    /// N3: where the `calendar` rows go.
    pub calendar: Arc<dyn CalendarGateway>,
}

/// No IO gateway configured: every IO message is refused (and so recorded
/// as failed, with the reason, instead of waiting for ever).
pub struct DisabledIo;

#[async_trait]
impl IoGateway for DisabledIo {
    async fn send(&self, _: &FiscalCode, _: &IoMessage, _: &str) -> Result<(), GatewayError> {
        Err(GatewayError::Permanent(
            "the IO app gateway is not configured".to_owned(),
        ))
    }
}
