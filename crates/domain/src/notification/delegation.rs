//! N4 (and N5): grantor and delegate are told what happened to a delegation.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::text::{self, io_notification};
use super::{keys, Channel, Contact, Notification, OutboxOp};
use crate::delegation::{DelegationId, GrantorEvent};
use crate::FiscalCode;

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
}

impl DelegationNotice {
    /// The notice's name, as it appears in keys and serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            DelegationNotice::Registered => "registered",
            DelegationNotice::Confirmed => "confirmed",
            DelegationNotice::Rejected => "rejected",
            DelegationNotice::Revoked => "revoked",
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

/// N4: the notifications caused by one event of the grantor aggregate.
///
/// A registration (whether active at once or awaiting confirmation),
/// confirmation, rejection or revocation is told to the grantor and to the
/// delegate, each where `contacts` knows how to reach them: an SMS if a phone
/// is known, an IO message (N5) if the citizen uses the IO app; nothing for a
/// citizen without contact. The texts name the other party by fiscal code and
/// give the event's date (Europe/Rome). All are due at `now`. Requests and
/// refused registrations send nothing: the requester learns the outcome from
/// the answer to the request.
///
/// Keys are `delegation:{id}:{notice}:{party}:{channel}` (N6), e.g.
/// `delegation:d-1:registered:grantor:sms`.
pub fn on_delegation_event(
    event: &GrantorEvent,
    contacts: &dyn Fn(&FiscalCode) -> Option<Contact>,
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
    let date = text::date(*at);
    let mut ops = Vec::new();
    for (party, citizen, other) in [
        (Party::Grantor, grantor, delegate),
        (Party::Delegate, delegate, grantor),
    ] {
        let Some(contact) = contacts(citizen) else {
            continue;
        };
        let message = Message::new(notice, party, other, &date, awaiting);
        if let Some(phone) = contact.phone {
            let channel = Channel::Sms { to: phone };
            ops.push(OutboxOp::Schedule(Notification {
                key: keys::delegation(id, notice, party, &channel),
                channel,
                due_at: now,
                title: message.subject.to_owned(),
                body: message.text.clone(),
            }));
        }
        if contact.io {
            ops.push(OutboxOp::Schedule(io_notification(
                io_key(id, notice, party, citizen),
                citizen.clone(),
                now,
                message.subject,
                &message.text,
            )));
        }
    }
    ops
}

fn io_key(id: &DelegationId, notice: DelegationNotice, party: Party, cf: &FiscalCode) -> String {
    keys::delegation(
        id,
        notice,
        party,
        &Channel::Io {
            fiscal_code: cf.clone(),
        },
    )
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
