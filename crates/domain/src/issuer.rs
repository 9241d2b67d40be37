//! Who issues a command, as far as the rules need to know (D9, D12).
//!
//! A delegate signs in with their own identity (I2) and may then act for a
//! grantor whose delegation to them is active (D9). What they may do so is
//! bounded by D12: services on the grantor's behalf, never the delegation
//! relationship itself or the grantor's credentials. The commands D12 governs
//! carry an [`Issuer`], so that the aggregates themselves refuse them when
//! they are issued on someone's behalf, whatever app or embedder sends them.
//!
//! ```
//! use deleghe_domain::{FiscalCode, Issuer};
//!
//! let delegate = FiscalCode::parse("VRDLGU70A01H501O").unwrap();
//! let grantor = FiscalCode::parse("RSSMRA85T10A562S").unwrap();
//! let acting = Issuer::delegate_for(delegate.clone(), grantor.clone());
//! assert_eq!(acting.acting_for(), Some(&grantor));
//! assert!(Issuer::citizen(delegate.clone()).is_in_person(&delegate));
//! assert!(!acting.is_in_person(&grantor));
//! // For reading, the delegate acts as the grantor (D9).
//! assert!(acting.may_read(&grantor) && !acting.may_read(&delegate));
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::FiscalCode;

/// Who issued a command.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// A citizen signed in with their own identity (I2).
    Citizen(FiscalCode),
    /// An INPS operator, by staff id.
    Operator(String),
    /// The library itself: a step of a flow.
    System,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Citizen(cf) => write!(f, "citizen:{cf}"),
            Actor::Operator(id) => write!(f, "operator:{id}"),
            Actor::System => f.write_str("system"),
        }
    }
}

/// Who issues a command and for whom (D9): the actor, and the grantor a
/// delegate acts for, if any.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Issuer {
    /// Who signed the command: a citizen, an operator or the library itself.
    pub actor: Actor,
    /// D9: the grantor the actor acts for; `None` when acting in person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<FiscalCode>,
}

impl Issuer {
    /// A citizen acting for themselves.
    pub fn citizen(me: FiscalCode) -> Self {
        Self {
            actor: Actor::Citizen(me),
            on_behalf_of: None,
        }
    }

    /// D9: a delegate acting for a grantor.
    pub fn delegate_for(delegate: FiscalCode, grantor: FiscalCode) -> Self {
        Self {
            actor: Actor::Citizen(delegate),
            on_behalf_of: Some(grantor),
        }
    }

    /// An operator, by staff id.
    pub fn operator(id: impl Into<String>) -> Self {
        Self {
            actor: Actor::Operator(id.into()),
            on_behalf_of: None,
        }
    }

    /// The library, for a step of a flow.
    pub fn system() -> Self {
        Self {
            actor: Actor::System,
            on_behalf_of: None,
        }
    }

    /// D12: the grantor this command is issued for by someone else, if any.
    pub fn acting_for(&self) -> Option<&FiscalCode> {
        self.on_behalf_of.as_ref()
    }

    /// Whether `citizen` issues this command in person: signed in as
    /// themselves, not acting for anyone.
    pub fn is_in_person(&self, citizen: &FiscalCode) -> bool {
        self.on_behalf_of.is_none() && self.actor == Actor::Citizen(citizen.clone())
    }
}

impl Issuer {
    /// Whether this issuer may read the records of `owner` (as grantor,
    /// delegate or booker): `owner` in person, a delegate acting for
    /// `owner` (D9: for reading, the delegate acts as the grantor), an
    /// operator, or the library itself.
    pub fn may_read(&self, owner: &FiscalCode) -> bool {
        match (&self.actor, &self.on_behalf_of) {
            (Actor::Citizen(_), Some(grantor)) => grantor == owner,
            (Actor::Citizen(me), None) => me == owner,
            (Actor::Operator(_) | Actor::System, _) => true,
        }
    }
}

impl fmt::Display for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.on_behalf_of {
            Some(grantor) => write!(f, "{} for {grantor}", self.actor),
            None => write!(f, "{}", self.actor),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cf(s: &str) -> FiscalCode {
        FiscalCode::parse(s).unwrap()
    }

    #[test]
    fn d9_a_citizen_reads_their_own_records_and_acting_for_a_grantor_the_grantors() {
        let me = cf("VRDLGU70A01H501O");
        let other = cf("RSSMRA85T10A562S");
        let in_person = Issuer::citizen(me.clone());
        assert!(in_person.may_read(&me));
        assert!(!in_person.may_read(&other));
        let acting = Issuer::delegate_for(me.clone(), other.clone());
        assert!(acting.may_read(&other));
        assert!(!acting.may_read(&me));
        for staff in [Issuer::operator("op-1"), Issuer::system()] {
            assert!(staff.may_read(&me) && staff.may_read(&other), "{staff}");
        }
    }

    #[test]
    fn d9_an_issuer_is_written_as_who_acts_and_for_whom() {
        let delegate = cf("VRDLGU70A01H501O");
        let grantor = cf("RSSMRA85T10A562S");
        assert_eq!(
            Issuer::delegate_for(delegate.clone(), grantor).to_string(),
            "citizen:VRDLGU70A01H501O for RSSMRA85T10A562S"
        );
        assert_eq!(
            Issuer::citizen(delegate).to_string(),
            "citizen:VRDLGU70A01H501O"
        );
        assert_eq!(Issuer::operator("op-1").to_string(), "operator:op-1");
        assert_eq!(Issuer::system().to_string(), "system");
    }
}
