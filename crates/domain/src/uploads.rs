//! D11: the documents each person uploaded as evidence for a registration:
//! a citizen the copy of their identity document (online), an operator the
//! forms, identity documents and PEC documents of a counter. The bytes are
//! in the document store (after M6's checks); this aggregate keeps who
//! uploaded which document, of which kind, so that a registration names
//! only documents its own requester uploaded.
//!
//! One aggregate per uploader and document (type `uploads`, id
//! [`Uploads::stream_of`]: the uploader as the audit trail writes them, `#`,
//! the document's SHA-256: `citizen:CF#<sha256>`,
//! `operator:CF@OFFICE#<sha256>`; ADR 0016): an upload or a registration's
//! check loads one document's few events, however many the uploader has
//! uploaded. Uploads recorded before were on one stream per uploader
//! ([`Uploads::stream_id`]), which is still read for them.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use deleghe_domain::document::{DocumentKind, DocumentRef};
//! use deleghe_domain::uploads::{Uploads, UploadsCommand, UploadsError};
//! use deleghe_domain::{FiscalCode, Issuer, Policy};
//!
//! let me = FiscalCode::parse("RSSMRA85T10A562S").unwrap();
//! let document = DocumentRef {
//!     kind: DocumentKind::IdentityDocument,
//!     sha256: "a".repeat(64),
//!     bytes: 2048,
//! };
//! let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
//! let upload = UploadsCommand::Record {
//!     document: document.clone(),
//!     by: Issuer::citizen(me.clone()),
//!     at,
//! };
//! assert_eq!(Uploads::default().decide(upload, &Policy::default()).unwrap().len(), 1);
//! // D12: a delegate acting for the grantor gives no evidence in their name.
//! let delegate = FiscalCode::parse("VRDLGU70A01H501O").unwrap();
//! let acting = UploadsCommand::Record {
//!     document,
//!     by: Issuer::delegate_for(delegate, me),
//!     at,
//! };
//! let refused = Uploads::default().decide(acting, &Policy::default());
//! assert_eq!(refused.unwrap_err(), UploadsError::NotAllowedWhenActing);
//! ```

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::document::DocumentRef;
use crate::issuer::Actor;
use crate::{Issuer, Policy};

/// What may be asked of an uploader's documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadsCommand {
    /// D11: a document that passed M6's checks was stored; `by` uploaded it.
    Record {
        /// The stored document, by reference.
        document: DocumentRef,
        /// Who uploaded it; D12: never a delegate acting for someone.
        by: Issuer,
        /// The instant of the upload.
        at: DateTime<Utc>,
    },
}

/// What happened to an uploader's documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UploadsEvent {
    /// D11: `uploader` uploaded `document`.
    DocumentUploaded {
        /// Who uploaded it.
        uploader: Actor,
        /// The document, by reference; its content is in the document store.
        document: DocumentRef,
        /// The instant of the upload.
        at: DateTime<Utc>,
    },
}

impl UploadsEvent {
    /// The instant the event carries.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Self::DocumentUploaded { at, .. } => *at,
        }
    }
}

impl DomainEvent for UploadsEvent {
    fn event_type(&self) -> String {
        match self {
            Self::DocumentUploaded { .. } => "DocumentUploaded".to_owned(),
        }
    }

    fn event_version(&self) -> String {
        "1.0".to_owned()
    }
}

/// Why an upload is refused ([`UploadsError::code`]: the HTTP contract's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum UploadsError {
    /// D12: a delegate acting for a grantor does not give evidence for them.
    #[error("a delegate acting for a grantor cannot upload documents for them (D12)")]
    NotAllowedWhenActing,
    /// Documents are uploaded by a citizen or an operator, each on their own
    /// stream.
    #[error("these uploads belong to someone else")]
    UploaderMismatch,
}

impl UploadsError {
    /// The stable machine-readable code (`code` in the HTTP problem body).
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotAllowedWhenActing => "not_allowed_when_acting",
            Self::UploaderMismatch => "uploader_mismatch",
        }
    }
}

/// D11: the documents one person uploaded, the latest kind of each digest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uploads {
    uploader: Option<Actor>,
    documents: Vec<DocumentRef>,
}

impl Uploads {
    /// The stream of `issuer`'s uploads: the actor as the audit trail writes
    /// it (`citizen:CF`, `operator:CF@OFFICE`); none for the system, which
    /// uploads nothing.
    pub fn stream_id(issuer: &Issuer) -> Option<String> {
        match issuer.actor {
            Actor::System => None,
            _ => Some(issuer.actor.to_string()),
        }
    }

    /// The stream of `issuer`'s uploads of the document `sha256` (ADR 0016):
    /// [`Uploads::stream_id`], `#`, the digest; none for the system, or for
    /// a digest that is not 64 lowercase hex digits (no stream is named by
    /// what an outsider wrote).
    pub fn stream_of(issuer: &Issuer, sha256: &str) -> Option<String> {
        let digest = sha256.len() == 64
            && sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !digest {
            return None;
        }
        Self::stream_id(issuer).map(|uploader| format!("{uploader}#{sha256}"))
    }

    /// Who uploaded them, once any was.
    pub fn uploader(&self) -> Option<&Actor> {
        self.uploader.as_ref()
    }

    /// Every document uploaded, in order of first upload.
    pub fn documents(&self) -> &[DocumentRef] {
        &self.documents
    }

    /// The document uploaded with this digest, if any.
    pub fn document(&self, sha256: &str) -> Option<&DocumentRef> {
        self.documents.iter().find(|d| d.sha256 == sha256)
    }

    /// The pure decision: one `DocumentUploaded`, or none when the same
    /// document was already uploaded as the same kind.
    pub fn decide(
        &self,
        command: UploadsCommand,
        _policy: &Policy,
    ) -> Result<Vec<UploadsEvent>, UploadsError> {
        match command {
            UploadsCommand::Record { document, by, at } => {
                if by.acting_for().is_some() {
                    return Err(UploadsError::NotAllowedWhenActing);
                }
                if self.uploader.as_ref().is_some_and(|u| *u != by.actor) {
                    return Err(UploadsError::UploaderMismatch);
                }
                if self.document(&document.sha256) == Some(&document) {
                    return Ok(vec![]);
                }
                Ok(vec![UploadsEvent::DocumentUploaded {
                    uploader: by.actor,
                    document,
                    at,
                }])
            }
        }
    }

    fn evolve(&mut self, event: UploadsEvent) {
        match event {
            UploadsEvent::DocumentUploaded {
                uploader, document, ..
            } => {
                self.uploader = Some(uploader);
                match self
                    .documents
                    .iter_mut()
                    .find(|d| d.sha256 == document.sha256)
                {
                    Some(earlier) => *earlier = document,
                    None => self.documents.push(document),
                }
            }
        }
    }
}

crate::aggregate::event_sourced!(
    Uploads,
    "uploads",
    UploadsCommand,
    UploadsEvent,
    UploadsError
);

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::document::DocumentKind;
    use crate::FiscalCode;

    fn doc(kind: DocumentKind, c: char) -> DocumentRef {
        DocumentRef {
            kind,
            sha256: c.to_string().repeat(64),
            bytes: 1000,
        }
    }

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap()
    }

    #[test]
    fn d11_uploads_remember_who_uploaded_what() {
        let me = FiscalCode::parse("RSSMRA85T10A562S").unwrap();
        let by = Issuer::citizen(me);
        let mut state = Uploads::default();
        let policy = Policy::default();
        let record = |document| UploadsCommand::Record {
            document,
            by: by.clone(),
            at: at(),
        };
        for e in state
            .decide(record(doc(DocumentKind::IdentityDocument, 'a')), &policy)
            .unwrap()
        {
            state.evolve(e);
        }
        assert_eq!(state.uploader(), Some(&by.actor));
        assert_eq!(
            state.document(&"a".repeat(64)).map(|d| d.kind),
            Some(DocumentKind::IdentityDocument)
        );
        assert_eq!(state.document(&"b".repeat(64)), None);
        // The same again is no event.
        let again = record(doc(DocumentKind::IdentityDocument, 'a'));
        assert!(state.decide(again, &policy).unwrap().is_empty());
        // Someone else's stream is not theirs to write.
        let other = UploadsCommand::Record {
            document: doc(DocumentKind::Aa08, 'b'),
            by: Issuer::operator("BNCGNN80A41F205A@DCM NAPOLI"),
            at: at(),
        };
        assert_eq!(
            state.decide(other, &policy).unwrap_err(),
            UploadsError::UploaderMismatch
        );
        assert_eq!(
            Uploads::stream_id(&by).as_deref(),
            Some("citizen:RSSMRA85T10A562S")
        );
        assert_eq!(Uploads::stream_id(&Issuer::system()), None);
    }

    /// D11, ADR 0016: one stream per uploader and document, named only by
    /// a digest; two uploaders of one document, or one uploader of two,
    /// never share a stream.
    #[test]
    fn d11_each_uploader_keeps_each_document_on_a_stream_of_its_own() {
        let citizen = Issuer::citizen(FiscalCode::parse("RSSMRA85T10A562S").unwrap());
        let operator = Issuer::operator("BNCGNN80A41F205A@DCM NAPOLI");
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        assert_eq!(
            Uploads::stream_of(&citizen, &a),
            Some(format!("citizen:RSSMRA85T10A562S#{a}"))
        );
        assert_eq!(
            Uploads::stream_of(&operator, &a),
            Some(format!("operator:BNCGNN80A41F205A@DCM NAPOLI#{a}"))
        );
        assert_ne!(
            Uploads::stream_of(&citizen, &a),
            Uploads::stream_of(&citizen, &b)
        );
        assert_eq!(Uploads::stream_of(&Issuer::system(), &a), None);
        for not_a_digest in [
            String::new(),
            "a".repeat(63),
            "a".repeat(65),
            "A".repeat(64),
            format!("{}g", "a".repeat(63)),
            format!("{}#", "a".repeat(63)),
            "../".repeat(21) + "a",
        ] {
            assert_eq!(
                Uploads::stream_of(&citizen, &not_a_digest),
                None,
                "{not_a_digest:?}"
            );
        }
    }

    /// D11: the latest kind of each digest, in order of first upload; D12:
    /// a delegate acting for a grantor uploads nothing for them.
    #[test]
    fn d11_uploads_keep_the_latest_kind_of_each_document_in_order() {
        let me = FiscalCode::parse("RSSMRA85T10A562S").unwrap();
        let by = Issuer::citizen(me.clone());
        let policy = Policy::default();
        let mut state = Uploads::default();
        for document in [
            doc(DocumentKind::IdentityDocument, 'a'),
            doc(DocumentKind::Aa08, 'b'),
            doc(DocumentKind::Aa08, 'a'),
        ] {
            let record = UploadsCommand::Record {
                document,
                by: by.clone(),
                at: at(),
            };
            for e in state.decide(record, &policy).unwrap() {
                assert_eq!(e.at(), at());
                state.evolve(e);
            }
        }
        assert_eq!(
            state.documents(),
            [doc(DocumentKind::Aa08, 'a'), doc(DocumentKind::Aa08, 'b')]
        );
        let delegate = FiscalCode::parse("VRDLGU70A01H501O").unwrap();
        let acting = UploadsCommand::Record {
            document: doc(DocumentKind::IdentityDocument, 'c'),
            by: Issuer::delegate_for(delegate, me),
            at: at(),
        };
        assert_eq!(
            Uploads::default().decide(acting, &policy).unwrap_err(),
            UploadsError::NotAllowedWhenActing
        );
    }

    /// D11: the event is stored under its serde tag, at version 1.0 (the
    /// stored format: a store reads the event back by that name); each
    /// refusal has the code of the HTTP contract its serialised form
    /// carries.
    #[test]
    fn d11_uploads_are_stored_under_their_own_names_and_refused_with_their_codes() {
        let event = UploadsEvent::DocumentUploaded {
            uploader: Actor::System,
            document: doc(DocumentKind::Aa08, 'a'),
            at: at(),
        };
        let json = serde_json::to_value(&event).unwrap();
        let tag = json.as_object().unwrap().keys().next().unwrap().clone();
        assert_eq!(tag, "DocumentUploaded");
        assert_eq!(event.event_type(), tag);
        assert_eq!(event.event_version(), "1.0");
        for (error, code) in [
            (
                UploadsError::NotAllowedWhenActing,
                "not_allowed_when_acting",
            ),
            (UploadsError::UploaderMismatch, "uploader_mismatch"),
        ] {
            assert_eq!(error.code(), code);
            assert_eq!(serde_json::to_value(&error).unwrap()["code"], code);
        }
    }
}
