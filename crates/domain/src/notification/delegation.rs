//! N4, N5, N7: grantor and delegate are told what happened to a delegation.

use chrono::{DateTime, Days, Utc};
use serde::{Deserialize, Serialize};

use super::text::{self, io_notification};
use super::{keys, Channel, Notification, OutboxOp};
use crate::delegation::{expires_at, Delegation, DelegationId, GrantorEvent};
use crate::time::local_day_start;
use crate::{FiscalCode, Policy};

/// What a delegation notice is about (a part of its key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DelegationNotice {
    /// Registered: active at once, or awaiting confirmation (D6).
    Registered,
    /// D6: an operator confirmed a legal representative's delegation.
    Confirmed,
    /// D6: an operator rejected it.
    Rejected,
    /// D8: revoked, online or at a counter.
    Revoked,
    /// N7: its end date is `expiry_notice_days` away.
    Expiring,
    /// N7, D7: its end date has passed.
    Expired,
}

impl DelegationNotice {
    /// The notice's name, as it appears in keys and serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            DelegationNotice::Registered => "registered",
            DelegationNotice::Confirmed => "confirmed",
            DelegationNotice::Rejected => "rejected",
            DelegationNotice::Revoked => "revoked",
            DelegationNotice::Expiring => "expiring",
            DelegationNotice::Expired => "expired",
        }
    }
}

/// Which side of a delegation a notice is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// Who gave the delegation.
    Grantor,
    /// Who received it.
    Delegate,
}

impl Party {
    /// The party's name, as it appears in keys and serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Party::Grantor => "grantor",
            Party::Delegate => "delegate",
        }
    }
}

/// N4, N7: the notifications caused by one event of the grantor aggregate.
///
/// `delegation` is the delegation as the event leaves it. A registration
/// (active at once or awaiting confirmation), a confirmation, a rejection
/// or a revocation, whoever made it and by whichever channel, is told to
/// the grantor and to the delegate, each on three channels: a notice in the
/// personal area (always), an SMS to the mobile in their contacts
/// ([`Channel::Mobile`]) and an IO message ([`Channel::Io`]); the last two
/// are resolved against the contacts when they are sent, and not sent to a
/// citizen who keeps no mobile, or has not chosen IO, then. So nobody can
/// register or revoke a delegation in someone's name without that person
/// being told. The texts name the other party by fiscal code and give the
/// event's date (Europe/Rome); they are due at `now`.
///
/// A registration with an end date also schedules, on the same channels,
/// the notice of the coming expiry, due at the local midnight starting the
/// day `expiry_notice_days` before the end date (at `now` if that is
/// past), and the notice of the expiry, due at the local midnight after the
/// end date ([`expires_at`]). They wait in the outbox like reminders, and a
/// rejection or revocation withdraws them (a delegation without an end date
/// has none, and its rejection or revocation withdraws nothing). Requests and refused
/// registrations send nothing: the requester learns the outcome from the
/// answer to the request.
///
/// Keys are `delegation:{id}:{notice}:{party}:{channel}` (N6), e.g.
/// `delegation:d-1:registered:grantor:mobile`.
pub fn on_delegation_event(
    event: &GrantorEvent,
    delegation: &Delegation,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Vec<OutboxOp> {
    let (notice, id, grantor, delegate, at, awaiting) = match event {
        GrantorEvent::DelegationRegistered {
            id,
            grantor,
            delegate,
            awaiting_confirmation,
            at,
            ..
        } => (
            DelegationNotice::Registered,
            id,
            grantor,
            delegate,
            at,
            *awaiting_confirmation,
        ),
        GrantorEvent::DelegationConfirmed {
            id,
            grantor,
            delegate,
            at,
        } => (
            DelegationNotice::Confirmed,
            id,
            grantor,
            delegate,
            at,
            false,
        ),
        GrantorEvent::DelegationRejected {
            id,
            grantor,
            delegate,
            at,
            ..
        } => (DelegationNotice::Rejected, id, grantor, delegate, at, false),
        GrantorEvent::DelegationRevoked {
            id,
            grantor,
            delegate,
            at,
            ..
        } => (DelegationNotice::Revoked, id, grantor, delegate, at, false),
        GrantorEvent::DelegationRequested { .. }
        | GrantorEvent::DelegationRefused { .. }
        | GrantorEvent::DelegateActed { .. } => return vec![],
    };
    let parties = [
        (Party::Grantor, grantor, delegate),
        (Party::Delegate, delegate, grantor),
    ];
    let date = text::date(*at);
    let mut ops = Vec::new();
    for (party, citizen, other) in parties {
        let message = Message::new(notice, party, other, &date, awaiting);
        ops.extend(schedule(id, notice, party, citizen, now, &message));
    }
    match notice {
        DelegationNotice::Registered => {
            if let (Some(ends_on), Some(expiry)) =
                (delegation.ends_on, expires_at(delegation.ends_on))
            {
                let warn_from = ends_on
                    .checked_sub_days(Days::new(u64::from(policy.expiry_notice_days)))
                    .map(local_day_start);
                let end = ends_on.format("%d/%m/%Y").to_string();
                for (party, citizen, other) in parties {
                    if expiry > now {
                        let due = warn_from.map_or(now, |from| from.max(now));
                        let message =
                            Message::new(DelegationNotice::Expiring, party, other, &end, false);
                        ops.extend(schedule(
                            id,
                            DelegationNotice::Expiring,
                            party,
                            citizen,
                            due,
                            &message,
                        ));
                    }
                    let message =
                        Message::new(DelegationNotice::Expired, party, other, &end, false);
                    ops.extend(schedule(
                        id,
                        DelegationNotice::Expired,
                        party,
                        citizen,
                        expiry.max(now),
                        &message,
                    ));
                }
            }
        }
        // Only a delegation with an end date had its expiry notices
        // scheduled at its registration (the end date is set by the request
        // and never changes): one without has none to withdraw, and twelve
        // withdrawals of keys never used would cost the projector twelve
        // lookups a revocation.
        DelegationNotice::Rejected | DelegationNotice::Revoked
            if expires_at(delegation.ends_on).is_some() =>
        {
            for (party, citizen, _) in parties {
                for notice in [DelegationNotice::Expiring, DelegationNotice::Expired] {
                    for channel in channels(citizen) {
                        ops.push(OutboxOp::Withdraw {
                            key: keys::delegation(id, notice, party, &channel),
                        });
                    }
                }
            }
        }
        _ => {}
    }
    ops
}

/// Where each notice to `citizen` goes: the personal area, the mobile in
/// the contacts, the IO app.
pub(super) fn channels(citizen: &FiscalCode) -> [Channel; 3] {
    [
        Channel::CalendarNotice {
            citizen: citizen.clone(),
        },
        Channel::Mobile {
            citizen: citizen.clone(),
        },
        Channel::Io {
            fiscal_code: citizen.clone(),
        },
    ]
}

/// One notice to one party, on each of its channels, due at `due_at`.
fn schedule(
    id: &DelegationId,
    notice: DelegationNotice,
    party: Party,
    citizen: &FiscalCode,
    due_at: DateTime<Utc>,
    message: &Message,
) -> Vec<OutboxOp> {
    channels(citizen)
        .into_iter()
        .map(|channel| {
            let key = keys::delegation(id, notice, party, &channel);
            OutboxOp::Schedule(match channel {
                Channel::Io { fiscal_code } => {
                    io_notification(key, fiscal_code, due_at, message.subject, &message.text)
                }
                channel => Notification {
                    key,
                    channel,
                    due_at,
                    title: message.subject.to_owned(),
                    body: message.text.clone(),
                },
            })
        })
        .collect()
}

/// One notice's subject and Italian text.
struct Message {
    subject: &'static str,
    text: String,
}

impl Message {
    fn new(
        notice: DelegationNotice,
        party: Party,
        other: &FiscalCode,
        date: &str,
        awaiting: bool,
    ) -> Self {
        // How the delegation is named to each party.
        let delegation = match party {
            Party::Grantor => format!("la delega della sua identità digitale a favore di {other}"),
            Party::Delegate => {
                format!("la delega dell'identità digitale di {other} a suo favore")
            }
        };
        let acting = match party {
            Party::Grantor => "La delega è attiva.",
            Party::Delegate => {
                "La delega è attiva: può agire per suo conto accedendo con le sue credenziali \
                 SPID, CIE o CNS."
            }
        };
        let (subject, text) = match notice {
            DelegationNotice::Registered if awaiting => (
                "Delega dell'identità digitale in attesa di conferma",
                format!(
                    "INPS: il {date} è stata registrata {delegation}. La delega sarà attiva dopo \
                     la conferma dell'autocertificazione da parte dell'autorità competente."
                ),
            ),
            DelegationNotice::Registered => (
                "Delega dell'identità digitale registrata",
                format!("INPS: il {date} è stata registrata {delegation}. {acting}"),
            ),
            DelegationNotice::Confirmed => (
                "Delega dell'identità digitale confermata",
                format!("INPS: il {date} è stata confermata {delegation}. {acting}"),
            ),
            DelegationNotice::Rejected => (
                "Delega dell'identità digitale respinta",
                format!(
                    "INPS: il {date} è stata respinta {delegation}: l'autocertificazione non è \
                     stata confermata."
                ),
            ),
            DelegationNotice::Expiring => (
                "Delega dell'identità digitale in scadenza",
                match party {
                    Party::Grantor => format!(
                        "INPS: {delegation} scade il {date}. Dal giorno successivo il delegato \
                         non potrà più agire per suo conto; può registrare una nuova delega."
                    ),
                    Party::Delegate => format!(
                        "INPS: {delegation} scade il {date}. Dal giorno successivo non potrà \
                         più agire per suo conto."
                    ),
                },
            ),
            DelegationNotice::Expired => (
                "Delega dell'identità digitale scaduta",
                match party {
                    Party::Grantor => format!(
                        "INPS: {delegation} è scaduta il {date}. Può designare un nuovo delegato."
                    ),
                    Party::Delegate => format!(
                        "INPS: {delegation} è scaduta il {date}: non può più agire per suo conto."
                    ),
                },
            ),
            DelegationNotice::Revoked => (
                "Delega dell'identità digitale revocata",
                match party {
                    Party::Grantor => format!(
                        "INPS: il {date} è stata revocata {delegation}. Può designare un nuovo \
                         delegato."
                    ),
                    Party::Delegate => format!(
                        "INPS: il {date} è stata revocata {delegation}: non può più agire per \
                         suo conto."
                    ),
                },
            ),
        };
        Self { subject, text }
    }
}
