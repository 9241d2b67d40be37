//! D11: the evidence a registration is made on: stored documents, named by
//! kind and SHA-256, that the registration's events reference.
//!
//! What each channel needs ([`Evidence::missing`]):
//! - `online`: a copy of the grantor's identity document, when the policy
//!   says so (`online_identity_document_required`, default: required);
//! - `counter`: the request form D5 names for the role (AA08 or AA09 for an
//!   ordinary delegate, AA10 for a legal representative) and the grantor's
//!   identity document;
//! - `pec`: at least one digitally signed document received by PEC;
//! - `web_meeting`: the documents of the meeting (M6): AA08 and the
//!   identity document.
//!
//! Whether a document was really uploaded, and passed M6's checks, is for
//! whoever builds the evidence (the adapters store documents only after the
//! checks); the rule here is which documents a registration needs.

use serde::{Deserialize, Serialize};

use super::{Channel, Role};
use crate::document::{DocumentDigest, DocumentKind, DocumentRef, PdfDocument};
use crate::Policy;

/// One document of a registration's evidence: its kind and its digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EvidenceDocument {
    /// Which document it is.
    pub kind: DocumentKind,
    /// The SHA-256 of its content, by which the document store keeps it.
    pub sha256: DocumentDigest,
}

impl EvidenceDocument {
    /// A document that passed M6's checks ([`PdfDocument::parse`]), as
    /// evidence of `kind`. The bytes are the embedder's to store.
    pub fn of(kind: DocumentKind, document: &PdfDocument) -> Self {
        Self {
            kind,
            sha256: DocumentDigest::parse(document.sha256())
                .expect("a checked document's digest is 64 lowercase hex digits"),
        }
    }
}

/// D11: the documents a registration is made on, in the order given.
/// Serialised as a list of `{"kind", "sha256"}`.
///
/// ```
/// use deleghe_domain::delegation::{Channel, Evidence, EvidenceDocument, Role};
/// use deleghe_domain::document::{DocumentDigest, DocumentKind};
/// use deleghe_domain::Policy;
///
/// let id = EvidenceDocument {
///     kind: DocumentKind::IdentityDocument,
///     sha256: DocumentDigest::parse(&"a".repeat(64)).unwrap(),
/// };
/// let policy = Policy::default();
/// assert!(Evidence::default().missing(Channel::Online, Role::Ordinary, &policy).len() == 1);
/// let evidence = Evidence::new(vec![id]);
/// assert!(evidence.missing(Channel::Online, Role::Ordinary, &policy).is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Evidence(Vec<EvidenceDocument>);

/// D5, D11: the request form a counter registration needs for `role`: AA10
/// for a legal representative, AA08 (or AA09, handed in by the delegate for
/// a grantor kept away by ill health) for an ordinary delegate.
pub fn counter_forms(role: Role) -> &'static [DocumentKind] {
    if role.is_legal_representative() {
        &[DocumentKind::Aa10]
    } else {
        &[DocumentKind::Aa08, DocumentKind::Aa09]
    }
}

impl Evidence {
    /// The evidence of these documents (a digest named twice counts once).
    pub fn new(documents: Vec<EvidenceDocument>) -> Self {
        let mut kept: Vec<EvidenceDocument> = Vec::with_capacity(documents.len());
        for d in documents {
            if !kept.contains(&d) {
                kept.push(d);
            }
        }
        Self(kept)
    }

    /// M7: the evidence of a web meeting's documents (M6). A reference whose
    /// digest is not one is left out (it cannot name a stored document).
    pub fn of_refs(refs: &[DocumentRef]) -> Self {
        Self::new(
            refs.iter()
                .filter_map(|r| {
                    Some(EvidenceDocument {
                        kind: r.kind,
                        sha256: DocumentDigest::parse(&r.sha256).ok()?,
                    })
                })
                .collect(),
        )
    }

    /// The documents, in order.
    pub fn documents(&self) -> &[EvidenceDocument] {
        &self.0
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a document of `kind` is among them.
    pub fn has(&self, kind: DocumentKind) -> bool {
        self.0.iter().any(|d| d.kind == kind)
    }

    /// D11: what a registration on `channel`, for `role`, still needs under
    /// `policy`: one entry per requirement not met, each the kinds any of
    /// which would meet it, by wire name joined with `|` (`"aa08|aa09"`,
    /// `"identity_document"`). Empty: the evidence is enough.
    pub fn missing(&self, channel: Channel, role: Role, policy: &Policy) -> Vec<String> {
        let identity: &[DocumentKind] = &[DocumentKind::IdentityDocument];
        let needs: Vec<&[DocumentKind]> = match channel {
            Channel::Online if policy.online_identity_document_required => vec![identity],
            Channel::Online => vec![],
            Channel::Counter => vec![counter_forms(role), identity],
            Channel::Pec => vec![&[DocumentKind::Pec]],
            Channel::WebMeeting => crate::meeting::REQUIRED_DOCUMENTS
                .iter()
                .map(std::slice::from_ref)
                .collect(),
        };
        needs
            .into_iter()
            .filter(|any_of| !any_of.iter().any(|kind| self.has(*kind)))
            .map(|any_of| {
                any_of
                    .iter()
                    .map(|kind| kind.as_str())
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect()
    }
}
