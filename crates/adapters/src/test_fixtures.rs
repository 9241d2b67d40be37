//! What the adapters' unit tests build their events from (the adapters
//! cannot use the `deleghe-testkit` crate, which depends on them).

use chrono::Utc;
use deleghe_domain::delegation::{
    Channel, DelegationId, Evidence, EvidenceDocument, RequestDelegation, Role,
};
use deleghe_domain::document::{DocumentDigest, DocumentKind};
use deleghe_domain::FiscalCode;

/// The fiscal code of `body`'s fifteen characters with its check character.
pub(crate) fn code(body: &str) -> FiscalCode {
    let check = FiscalCode::check_character(body).unwrap();
    FiscalCode::parse(&format!("{body}{check}")).unwrap()
}

/// An online request by `grantor` for `delegate`, with an identity document.
pub(crate) fn request(id: &str, grantor: &FiscalCode, delegate: &FiscalCode) -> RequestDelegation {
    RequestDelegation {
        id: DelegationId::parse(id).unwrap(),
        grantor: grantor.clone(),
        delegate: delegate.clone(),
        role: Role::Ordinary,
        channel: Channel::Online,
        ends_on: None,
        meeting: None,
        evidence: Evidence::new(vec![EvidenceDocument {
            kind: DocumentKind::IdentityDocument,
            sha256: DocumentDigest::parse(&"a".repeat(64)).unwrap(),
        }]),
        at: Utc::now(),
    }
}
