//! Why a delegation command is refused: one variant per broken rule, each
//! with the stable code of the HTTP contract.

use chrono::NaiveDate;

use super::DelegationId;

/// A delegation rule refusing a command.
/// Serialisable, so that the events of a flow refused by it keep it
/// whole (its code and its data: the cap, the capacity...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum DelegationError {
    /// D4: grantor and delegate are the same person.
    #[error("nobody may delegate to themselves (D4)")]
    SelfDelegation,
    /// D1: the grantor already has a delegation pending, awaiting confirmation
    /// or active.
    #[error("the grantor already has a delegate ({existing}): revoke it first (D1)")]
    GrantorAlreadyHasDelegate {
        /// The live delegation that occupies the grantor.
        existing: DelegationId,
    },
    /// D2: the delegate's ordinary delegations in force already reach the cap.
    #[error("the delegate already holds {cap} ordinary delegations, the most allowed (D2)")]
    DelegateCapReached {
        /// The policy's cap.
        cap: u32,
    },
    /// D7: the end date comes before the earliest the channel allows.
    #[error("the end date is too soon: the earliest allowed is {earliest} (D7)")]
    EndDateTooSoon {
        /// The first end date allowed (local date).
        earliest: NaiveDate,
    },
    /// D5: online registration is for ordinary delegations only.
    #[error(
        "a legal representative's delegation is registered at a counter or by PEC, not online (D5)"
    )]
    LegalRepresentativeNeedsCounter,
    /// D5: PEC is the legal representatives' channel.
    #[error("only legal representatives register a delegation by PEC (D5)")]
    PecNeedsLegalRepresentative,
    /// D11: the registration lacks the documents its channel needs.
    #[error("the registration lacks the evidence it needs: {} (D11)", missing.join(", "))]
    EvidenceMissing {
        /// Each requirement not met: the document kinds any of which would
        /// meet it, joined with `|` (`"aa08|aa09"`, `"identity_document"`).
        missing: Vec<String>,
    },
    /// D6: a confirmation or rejection of a delegation that is not awaiting
    /// confirmation, or is past its end date.
    #[error("the delegation is not awaiting confirmation (D6)")]
    NotAwaitingConfirmation,
    /// D8: an online revocation before the minimum period from registration.
    #[error("the delegation can be revoked online from {revocable_online_from}, or at a counter at any time (D8)")]
    OnlineRevocationTooEarly {
        /// The first local date on which an online revocation is accepted.
        revocable_online_from: NaiveDate,
    },
    /// D8: a revocation of a delegation not in force: never registered,
    /// closed, or past its end date.
    #[error("the delegation is not active (D8)")]
    NotActive,
    /// D8: a legal representative's delegation is revoked at a counter.
    #[error("this delegation is revoked by the legal representative at a counter (D8)")]
    RevocationNeedsCounter,
    /// D12: a delegate acting for a grantor never registers or revokes the
    /// grantor's delegations.
    #[error("a delegate acting for a grantor cannot register or revoke delegations (D12)")]
    NotAllowedWhenActing,
    /// D9, D12: the delegate acts for the grantor only while the grantor's
    /// delegation to them is active, judged when the command is decided.
    #[error("the grantor has no active delegation to this delegate (D9)")]
    NoActiveDelegation,
    /// D5, D8: online, only the grantor in person registers or revokes.
    #[error("online, only the grantor in person registers or revokes a delegation (D5, D8)")]
    NotTheGrantor,
    /// The grantor has given no delegation with this id.
    #[error("no delegation {0} for this grantor")]
    NotFound(DelegationId),
    /// The same id was used for a different request.
    #[error("the delegation id {0} is already used for another request")]
    IdAlreadyUsed(DelegationId),
    /// A replayed reservation for a delegation whose seat was already given back.
    #[error("the seat of delegation {0} was already given back")]
    SeatReleased(DelegationId),
    /// The registration flow tried to complete a delegation that was closed
    /// meanwhile; its seat must be given back (D10).
    #[error("the delegation {id} is no longer pending")]
    NoLongerPending {
        /// The delegation the flow tried to complete.
        id: DelegationId,
        /// Whose seat must be given back.
        delegate: crate::FiscalCode,
    },
}

impl DelegationError {
    /// The stable machine-readable code (`code` in the HTTP problem body).
    pub fn code(&self) -> &'static str {
        match self {
            Self::SelfDelegation => "self_delegation",
            Self::GrantorAlreadyHasDelegate { .. } => "grantor_already_has_delegate",
            Self::DelegateCapReached { .. } => "delegate_cap_reached",
            Self::EndDateTooSoon { .. } => "end_date_too_soon",
            Self::LegalRepresentativeNeedsCounter => "legal_representative_needs_counter",
            Self::PecNeedsLegalRepresentative => "pec_needs_legal_representative",
            Self::EvidenceMissing { .. } => "evidence_missing",
            Self::NotAwaitingConfirmation => "not_awaiting_confirmation",
            Self::OnlineRevocationTooEarly { .. } => "online_revocation_too_early",
            Self::NotActive => "not_active",
            Self::RevocationNeedsCounter => "revocation_needs_counter",
            Self::NotAllowedWhenActing => "not_allowed_when_acting",
            Self::NoActiveDelegation => "no_active_delegation",
            Self::NotTheGrantor => "not_the_grantor",
            Self::NotFound(_) => "not_found",
            Self::IdAlreadyUsed(_) => "conflict",
            Self::NoLongerPending { .. } | Self::SeatReleased(_) => "no_longer_pending",
        }
    }
}
