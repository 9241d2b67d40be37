//! The outbox (docs/CONVENTIONS.md, habit 10; N1–N6): notifications written durably from the
//! events, sent when due by a [`Dispatcher`] that retries with backoff.
//!
//! The projector writes the rows, in the same transaction as the read models
//! and the checkpoint, so each event's notifications are written exactly
//! once, one row per idempotency key (`ON CONFLICT (key) DO NOTHING`); a
//! withdrawal (N2, a cancelled booking's reminder) turns a pending row
//! `withdrawn`, and a withdrawn row is never sent. A row waits, durably,
//! until it is due: reminders survive restarts.
//!
//! The dispatcher, each step:
//! 1. claims up to a batch of due rows for a lease, in one statement (on
//!    PostgreSQL `FOR UPDATE SKIP LOCKED`, so concurrent dispatchers take
//!    different rows; SQLite has one writer at a time);
//! 2. sends each through the gateway of its channel, with its key;
//! 3. records what became of each row, all the step's rows in one
//!    transaction at its end: `sent`, or, if the gateway failed, the attempt
//!    counted and the next one set after an exponential backoff; after
//!    [`RetryPolicy::max_attempts`], or at once on a permanent refusal,
//!    `failed`. (One commit a step rather than one a row: a row's record is
//!    a third of what a notification costs the database, and the window in
//!    which a crash leaves a sent row unrecorded is the step's, which
//!    delivery at least once with the key already allows for.) Where the
//!    store can, the records are two statements whatever the rows: one for
//!    the rows sent, one for the attempts (`Dialect::MARK_SENT_MANY`,
//!    `MARK_ATTEMPT_MANY`).
//!
//! N7: a row for a citizen's mobile (`mobile`) or IO app (`io`) is resolved
//! against the contacts the citizen keeps when it is sent ([`ContactBook`]):
//! to the mobile they keep then, in IO if they have chosen it then. A row
//! for a citizen who keeps no mobile, or has not chosen IO, is not sent: it
//! is recorded `withdrawn`, with the reason, like a cancelled reminder.
//!
//! A dispatcher that dies between 2 and 3 leaves its claim to lapse; the
//! next run sends the step's rows again. A dispatcher whose step failed (the store
//! gone between a send and its record, say) is not dead: its next step
//! takes back the rows it still holds, at once, rather than leave them to
//! the lease (a dispatcher runs one step at a time, so a claim of its own
//! outside a step is one a failed step left). A dispatcher starts no send
//! once a quarter of its lease has passed, so that the send under way (at
//! most 30 s: the IO app's two requests of 15 s) and the step's records
//! end while its claim holds (a slow batch leaves its tail to its next
//! step). Delivery is at least once, and the gateways
//! receive the key (N6): the development SMS gateway and the calendar never
//! deliver a key twice, so for them it is exactly once per key.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deleghe_domain::booking::Phone;
use deleghe_domain::notification::{Contact, IoMessage};
use deleghe_domain::FiscalCode;

use crate::clock::Clock;
use crate::codes::AccessCodes;
use crate::error::ServiceError;
use crate::gateway::{GatewayError, Gateways};
use crate::readside::{parse_ts, ts, Marked, ReadSide};
use crate::service::ContactBook;

pub use crate::readside::OutboxEntry;

/// When to try again, and when to give up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failure; it doubles after each one.
    pub first_delay: Duration,
    /// The longest wait between two attempts.
    pub max_delay: Duration,
    /// Attempts after which a message is given up (`failed`).
    pub max_attempts: u32,
    /// How long a claim lasts: a dispatcher that died holding rows leaves
    /// them to others after this.
    pub lease: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            first_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(3600),
            max_attempts: 8,
            lease: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait after `failures` failed attempts (1 or more): the first
    /// delay doubled `failures - 1` times, at most the maximum.
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        self.first_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay)
    }
}

/// What one dispatching step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DispatchReport {
    /// Rows claimed.
    pub claimed: usize,
    /// Accepted by their gateway and recorded `sent`.
    pub sent: usize,
    /// Failed, to be tried again.
    pub retried: usize,
    /// Given up.
    pub failed: usize,
    /// N7: not sent, the citizen keeping no such contact (`withdrawn`).
    pub skipped: usize,
}

impl DispatchReport {
    fn add(&mut self, other: DispatchReport) {
        self.claimed += other.claimed;
        self.sent += other.sent;
        self.retried += other.retried;
        self.failed += other.failed;
        self.skipped += other.skipped;
    }
}

/// A test hook: asked after a gateway accepted a message and before it is
/// recorded sent; `true` stops the dispatcher there, as a crash would.
pub type DispatchFailpoint = Arc<dyn Fn(&OutboxEntry) -> bool + Send + Sync>;

/// Sends the due rows of the outbox.
pub struct Dispatcher {
    side: ReadSide,
    gateways: Gateways,
    clock: Clock,
    retry: RetryPolicy,
    batch: i64,
    /// Names this dispatcher's claims.
    id: String,
    failpoint: Option<DispatchFailpoint>,
    /// M10: fills in the access codes a message carries as placeholders.
    codes: Option<AccessCodes>,
    /// N7: the contacts the `mobile` and `io` rows go to.
    contacts: Arc<dyn ContactBook>,
    /// Held through each step: one step at a time, so that a step takes
    /// back only the claims a failed step left, never another's rows.
    stepping: tokio::sync::Mutex<()>,
}

/// N7: nobody's contacts are known: no `mobile` or `io` row is sent.
struct NoContacts;

#[async_trait::async_trait]
impl ContactBook for NoContacts {
    async fn contact(&self, _: &FiscalCode) -> Result<Contact, ServiceError> {
        Ok(Contact::default())
    }
}

/// What became of a row handed to its gateway.
enum Delivery {
    Sent,
    /// N7: not to be sent, for this reason.
    Skipped(&'static str),
}

impl Dispatcher {
    /// A dispatcher of `side`'s outbox through `gateways`: the real clock, the
    /// default [`RetryPolicy`], 128 rows a step (a claim and its marks are
    /// a few statements whatever the rows: fewer steps, fewer of them; a
    /// step starts no send once a quarter of its lease has passed, and leaves the
    /// rows it did not reach to its next), claims under an id of its own,
    /// no access-code keys ([`Dispatcher::with_access_codes`]) and no
    /// contacts ([`Dispatcher::with_contacts`]).
    pub fn new(side: ReadSide, gateways: Gateways) -> Self {
        Self {
            side,
            gateways,
            clock: Arc::new(Utc::now),
            retry: RetryPolicy::default(),
            batch: 128,
            id: uuid::Uuid::new_v4().to_string(),
            failpoint: None,
            codes: None,
            contacts: Arc::new(NoContacts),
            stepping: tokio::sync::Mutex::new(()),
        }
    }

    /// N7: where the contacts of the citizens are kept (by default nobody's
    /// are known, and no `mobile` or `io` row is sent).
    pub fn with_contacts(mut self, contacts: Arc<dyn ContactBook>) -> Self {
        self.contacts = contacts;
        self
    }

    /// Reads the time from `clock`: which rows are due, when a claim lapses,
    /// when to try again.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Retries, gives up and leases rows as `retry` says.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Rows claimed per step (at least 1).
    pub fn with_batch(mut self, batch: usize) -> Self {
        self.batch = i64::try_from(batch.max(1)).unwrap_or(i64::MAX);
        self
    }

    /// M2, M10: the keys the access codes in messages are derived with. A
    /// message carrying a code is refused (failed) by a dispatcher without.
    pub fn with_access_codes(mut self, codes: AccessCodes) -> Self {
        self.codes = Some(codes);
        self
    }

    /// Tests only: stop between a send and its record, as a crash would.
    pub fn with_failpoint(mut self, failpoint: DispatchFailpoint) -> Self {
        self.failpoint = Some(failpoint);
        self
    }

    /// Claims up to one batch of due rows, those a failed step of this
    /// dispatcher left claimed among them, and sends them. Steps of one
    /// dispatcher run one at a time.
    pub async fn step(&self) -> Result<DispatchReport, ServiceError> {
        let _one_at_a_time = self.stepping.lock().await;
        let now = (self.clock)();
        let until = now + chrono::Duration::from_std(self.retry.lease).unwrap_or_default();
        let mut rows = self
            .side
            .claim_due(&self.id, &ts(now), &ts(until), self.batch)
            .await?;
        rows.sort_by(|a, b| (&a.next_attempt_at, &a.key).cmp(&(&b.next_attempt_at, &b.key)));
        let mut report = DispatchReport {
            claimed: rows.len(),
            ..DispatchReport::default()
        };
        // What became of each row, recorded together at the end of the step;
        // the contacts read once per citizen a step (N7: as they are now).
        let mut marks = Vec::with_capacity(rows.len());
        let mut contacts = HashMap::new();
        // No send starts once a quarter of the lease has passed: the send
        // under way (at most 30 s with the library's gateways: the IO app's
        // profile and message requests, 15 s each) and the step's records
        // then end while the claim holds (45 s of the default 60), so no
        // other dispatcher takes a row this one sent and has not recorded
        // yet. The rows not reached stay claimed by this dispatcher, whose
        // next step takes them back at once.
        let last_send = now + chrono::Duration::from_std(self.retry.lease / 4).unwrap_or_default();
        for row in rows {
            if (self.clock)() >= last_send {
                break;
            }
            match self.deliver(&row, &mut contacts).await {
                Ok(Delivery::Skipped(reason)) => {
                    marks.push(Marked::Attempt {
                        key: row.key.clone(),
                        attempts: row.attempts,
                        next_attempt_at: row.next_attempt_at.clone(),
                        error: reason.to_owned(),
                        status: "withdrawn",
                    });
                    tracing::debug!(key = %row.key, reason, "notification not sent");
                    attempted(&row, "withdrawn");
                    report.skipped += 1;
                }
                Ok(Delivery::Sent) => {
                    if self.failpoint.as_ref().is_some_and(|stop| stop(&row)) {
                        return Err(ServiceError::Unavailable("stopped at a failpoint".into()));
                    }
                    marks.push(Marked::Sent {
                        key: row.key.clone(),
                        at: ts((self.clock)()),
                    });
                    tracing::debug!(key = %row.key, channel = %row.channel, "notification sent");
                    attempted(&row, "sent");
                    report.sent += 1;
                }
                Err(error) => {
                    let failures = u32::try_from(row.attempts + 1).unwrap_or(u32::MAX);
                    let give_up = !error.is_temporary() || failures >= self.retry.max_attempts;
                    let next = now
                        + chrono::Duration::from_std(self.retry.delay(failures))
                            .unwrap_or_default();
                    marks.push(Marked::Attempt {
                        key: row.key.clone(),
                        attempts: i64::from(failures),
                        next_attempt_at: ts(next),
                        error: error.to_string(),
                        status: if give_up { "failed" } else { "pending" },
                    });
                    attempted(&row, if give_up { "failed" } else { "retry" });
                    if give_up {
                        tracing::warn!(key = %row.key, %error, "notification given up");
                        report.failed += 1;
                    } else {
                        tracing::info!(key = %row.key, %error, failures, "notification will be retried");
                        report.retried += 1;
                    }
                }
            }
        }
        self.side.mark_all(&marks).await?;
        Ok(report)
    }

    /// Steps until nothing due is left to claim.
    pub async fn drain(&self) -> Result<DispatchReport, ServiceError> {
        let mut total = DispatchReport::default();
        loop {
            let report = self.step().await?;
            total.add(report);
            if report.claimed == 0 {
                return Ok(total);
            }
        }
    }

    /// Runs until `shutdown` turns true, looking for due rows every `every`.
    pub async fn run(self, every: Duration, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        loop {
            match self.drain().await {
                Ok(report) if report.claimed > 0 => tracing::debug!(?report, "outbox drained"),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "dispatcher will retry"),
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => {
                    if *shutdown.borrow() {
                        return;
                    }
                }
            }
        }
    }

    /// `text` as sent: with the access codes it names filled in (M10).
    fn sendable(&self, text: &str) -> Result<String, GatewayError> {
        if !text.contains("{{codice:") {
            return Ok(text.to_owned());
        }
        let codes = self.codes.as_ref().ok_or_else(|| {
            GatewayError::Permanent("no access-code key is configured".to_owned())
        })?;
        codes
            .fill(text)
            .map_err(|e| GatewayError::Permanent(e.to_string()))
    }

    async fn deliver(
        &self,
        row: &OutboxEntry,
        contacts: &mut HashMap<FiscalCode, Contact>,
    ) -> Result<Delivery, GatewayError> {
        let refused = |what: &str| GatewayError::Permanent(format!("invalid {what} in the outbox"));
        let citizen = || FiscalCode::parse(&row.recipient).map_err(|_| refused("fiscal code"));
        match row.channel.as_str() {
            "sms" => {
                let to = Phone::parse(&row.recipient).map_err(|_| refused("phone number"))?;
                let text = self.sendable(&row.body)?;
                self.gateways.sms.send(&to, &text, &row.key).await?;
            }
            "mobile" => {
                let Some(to) = self.contact(&citizen()?, contacts).await?.phone else {
                    return Ok(Delivery::Skipped("no mobile number in the contacts"));
                };
                let text = self.sendable(&row.body)?;
                self.gateways.sms.send(&to, &text, &row.key).await?;
            }
            "io" => {
                let citizen = citizen()?;
                if !self.contact(&citizen, contacts).await?.io {
                    return Ok(Delivery::Skipped("IO messages not chosen in the contacts"));
                }
                let message = IoMessage::fitting(&row.title, &self.sendable(&row.body)?);
                self.gateways.io.send(&citizen, &message, &row.key).await?;
            }
            "calendar" => {
                let citizen =
                    FiscalCode::parse(&row.recipient).map_err(|_| refused("fiscal code"))?;
                let at: DateTime<Utc> = parse_ts(&row.due_at).map_err(|_| refused("due time"))?;
                self.gateways
                    .calendar
                    .post(&citizen, &row.title, &row.body, at, &row.key)
                    .await?;
            }
            other => {
                return Err(GatewayError::Permanent(format!(
                    "unknown channel {other:?}"
                )))
            }
        }
        Ok(Delivery::Sent)
    }

    /// N7: the citizen's contacts now (read once a step: `known`); a store
    /// that cannot answer is a temporary failure, tried again later.
    async fn contact(
        &self,
        citizen: &FiscalCode,
        known: &mut HashMap<FiscalCode, Contact>,
    ) -> Result<Contact, GatewayError> {
        if let Some(contact) = known.get(citizen) {
            return Ok(contact.clone());
        }
        let contact =
            self.contacts.contact(citizen).await.map_err(|e| {
                GatewayError::Temporary(format!("the contacts cannot be read: {e}"))
            })?;
        known.insert(citizen.clone(), contact.clone());
        Ok(contact)
    }
}

/// Counts one delivery attempt by channel and outcome (`sent`, `retry`,
/// `failed`, `withdrawn`), for `GET /metrics`.
fn attempted(row: &OutboxEntry, outcome: &'static str) {
    let channel = match row.channel.as_str() {
        "sms" => "sms",
        "io" => "io",
        "calendar" => "calendar",
        _ => "other",
    };
    metrics::counter!("deleghe_outbox_attempts_total", "channel" => channel, "outcome" => outcome)
        .increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn n6_retries_back_off_exponentially_up_to_the_maximum() {
        let retry = RetryPolicy::default();
        let secs: Vec<u64> = (1..=9).map(|n| retry.delay(n).as_secs()).collect();
        assert_eq!(secs, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(retry.delay(u32::MAX), retry.max_delay);
    }
}
