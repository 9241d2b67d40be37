//! Values shared by the delegation aggregates.

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::time::local_date;
use crate::{FiscalCode, Policy};

/// The id of one delegation, chosen by the caller (a UUID, say) so that a
/// retried request is recognised as the same one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DelegationId(String);

/// Why a string is not a delegation id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a delegation id is 1 to 64 characters among letters, digits, '-' and '_': {0:?}")]
pub struct DelegationIdError(pub String);

impl DelegationId {
    /// Checks `input` against the id alphabet: 1 to 64 ASCII letters, digits, `-` or `_`.
    pub fn parse(input: &str) -> Result<Self, DelegationIdError> {
        crate::ids::check_id(input)
            .map(Self)
            .ok_or_else(|| DelegationIdError(input.to_owned()))
    }
}

crate::ids::string_value!(DelegationId, DelegationIdError);

/// In which capacity the delegate acts (D3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// An ordinary delegate, counted under D2's cap.
    Ordinary,
    /// A tutor ("tutore"): a legal representative (D3).
    Tutor,
    /// A curator ("curatore"): a legal representative (D3).
    Curator,
    /// A support administrator ("amministratore di sostegno"): a legal representative (D3).
    SupportAdministrator,
    /// A parent ("esercente la potestà genitoriale"): a legal representative (D3).
    Parent,
}

impl Role {
    /// D3: legal representatives are not subject to the cap of D2.
    pub fn is_legal_representative(self) -> bool {
        !matches!(self, Role::Ordinary)
    }

    /// The role's wire name, as serialised (`support_administrator`...).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Ordinary => "ordinary",
            Role::Tutor => "tutor",
            Role::Curator => "curator",
            Role::SupportAdministrator => "support_administrator",
            Role::Parent => "parent",
        }
    }
}

/// How a delegation is registered (D5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// In MyINPS, by the grantor in person; ordinary delegations only (D5, D12).
    Online,
    /// By an operator at an office, on form AA08, AA09 or AA10 (D5).
    Counter,
    /// By an operator, at the close of a successful web meeting (M7).
    WebMeeting,
    /// By an operator, from a legal representative's signed documents sent by PEC (D5).
    Pec,
}

impl Channel {
    /// The channel's wire name, as serialised (`web_meeting`...).
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Online => "online",
            Channel::Counter => "counter",
            Channel::WebMeeting => "web_meeting",
            Channel::Pec => "pec",
        }
    }
}

/// How a delegation is revoked (D8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationChannel {
    /// By the grantor in the personal area, once the minimum period has passed.
    Online,
    /// By an operator at a counter, at any time.
    Counter,
}

/// Where a delegation stands in its lifecycle, as stored. Expiry is not a
/// stage: it follows from the end date and the clock (see [`Status`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum Stage {
    /// Requested, its seat on the delegate not yet settled (flow in progress).
    Pending,
    /// D6: a legal representative's, waiting for the authority's confirmation.
    AwaitingConfirmation,
    /// Registered and in force (D6), unless past its end date (D7).
    Active,
    /// D8: revoked, online or at a counter.
    Revoked {
        /// The instant of the revocation.
        at: DateTime<Utc>,
        /// D8: who revoked it, and where.
        channel: RevocationChannel,
    },
    /// D6: an operator rejected it after the authority's answer.
    Rejected {
        /// The instant of the rejection.
        at: DateTime<Utc>,
    },
    /// The registration flow ended refused: the delegate had no seat for it
    /// (D2).
    Refused {
        /// The instant the flow recorded the refusal.
        at: DateTime<Utc>,
        /// The refusing rule's code (e.g. `delegate_cap_reached`).
        reason: String,
        /// The refusing rule's error whole; none when only the code is stored.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refusal: Option<super::DelegationError>,
    },
}

impl Stage {
    /// The stage's name, as stored by the read side and as its serialised
    /// `stage` tag: `pending`, `awaiting_confirmation`, `active`, `revoked`,
    /// `rejected` or `refused`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Stage::Pending => "pending",
            Stage::AwaitingConfirmation => "awaiting_confirmation",
            Stage::Active => "active",
            Stage::Revoked { .. } => "revoked",
            Stage::Rejected { .. } => "rejected",
            Stage::Refused { .. } => "refused",
        }
    }
}

/// The status a client sees at a given moment (the HTTP contract's values,
/// plus the two internal ones of a registration in flight or refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Requested; the registration flow has not ended.
    Pending,
    /// D6: registered, waiting for the authority's confirmation.
    AwaitingConfirmation,
    /// In force: the delegate may act for the grantor (D9).
    Active,
    /// D8: revoked.
    Revoked,
    /// D7: past its end date; no event marks it, the clock does.
    Expired,
    /// D6: rejected by an operator after the authority's answer.
    Rejected,
    /// The registration flow refused it (the delegate's seat, D2).
    Refused,
}

impl Status {
    /// The status's wire name, as serialised (`awaiting_confirmation`...).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::AwaitingConfirmation => "awaiting_confirmation",
            Status::Active => "active",
            Status::Revoked => "revoked",
            Status::Expired => "expired",
            Status::Rejected => "rejected",
            Status::Refused => "refused",
        }
    }
}

/// One delegation from a grantor to a delegate. Started by
/// [`Delegation::requested`], changed by [`Delegation::apply`] (next to the
/// grantor's events).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delegation {
    /// Chosen by the requester, so that a retried request is the same one.
    pub id: DelegationId,
    /// Who gives the delegation; their stream holds it.
    pub grantor: FiscalCode,
    /// Who may act for the grantor while it is active (D9).
    pub delegate: FiscalCode,
    /// D3: the delegate's capacity; a legal representative's is not capped.
    pub role: Role,
    /// D5: how it was registered; D7's shortest duration depends on it.
    pub channel: Channel,
    /// D7: last day on which the delegation is in force (local date); none: no end.
    pub ends_on: Option<NaiveDate>,
    /// M7: the web meeting that asked for it, if any.
    #[serde(default)]
    pub meeting: Option<crate::booking::BookingId>,
    /// D11: the stored documents it was registered on (none in delegations
    /// requested before D11).
    #[serde(default)]
    pub evidence: super::Evidence,
    /// The instant of the request.
    pub requested_at: DateTime<Utc>,
    /// The instant of the registration, none before it; D8 counts from its local date.
    pub registered_at: Option<DateTime<Utc>>,
    /// Where the lifecycle stands, as stored; [`Delegation::status`] adds expiry.
    pub stage: Stage,
}

/// D7: a delegation whose end date has passed is no longer in force. The end
/// date is the last day in force, in local time.
pub fn is_past_end(ends_on: Option<NaiveDate>, now: DateTime<Utc>) -> bool {
    ends_on.is_some_and(|end| local_date(now) > end)
}

/// D7: the first instant a delegation ending on `ends_on` is no longer in
/// force: the local midnight after its last day (what [`is_past_end`]
/// judges). `None` without an end date, or for a date at the end of time.
pub fn expires_at(ends_on: Option<NaiveDate>) -> Option<DateTime<Utc>> {
    Some(crate::time::local_day_start(ends_on?.succ_opt()?))
}

impl Delegation {
    /// The status at `now`: D7 turns an active (or awaiting) delegation past
    /// its end date into `expired`.
    pub fn status(&self, now: DateTime<Utc>) -> Status {
        match &self.stage {
            Stage::Pending => Status::Pending,
            Stage::AwaitingConfirmation if is_past_end(self.ends_on, now) => Status::Expired,
            Stage::AwaitingConfirmation => Status::AwaitingConfirmation,
            Stage::Active if is_past_end(self.ends_on, now) => Status::Expired,
            Stage::Active => Status::Active,
            Stage::Revoked { .. } => Status::Revoked,
            Stage::Rejected { .. } => Status::Rejected,
            Stage::Refused { .. } => Status::Refused,
        }
    }

    /// D1: whether this delegation occupies its grantor at `now` (pending,
    /// awaiting confirmation or active, and not past its end).
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        matches!(
            self.status(now),
            Status::Pending | Status::AwaitingConfirmation | Status::Active
        )
    }

    /// D9: whether the delegate may act for the grantor at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.status(now) == Status::Active
    }

    /// D8: the first local date on which the grantor may revoke online.
    pub fn revocable_online_from(&self, policy: &Policy) -> Option<NaiveDate> {
        let registered = local_date(self.registered_at?);
        registered.checked_add_days(Days::new(u64::from(
            policy.min_days_before_online_revocation,
        )))
    }

    /// D8: when it was revoked, if it was.
    pub fn revoked_at(&self) -> Option<DateTime<Utc>> {
        match &self.stage {
            Stage::Revoked { at, .. } => Some(*at),
            _ => None,
        }
    }
}
