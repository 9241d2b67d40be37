//! M6: the documents that travel through a web meeting's chat (form AA08 and a
//! copy of the grantor's identity document).
//!
//! Each must be a PDF of at most [`Policy::max_document_bytes`] bytes
//! (3 MiB = 3,145,728: one byte more is refused). A PDF is recognised by its
//! content, never by its file name or declared media type: see
//! [`PdfDocument::parse`]. What events and read models carry is a
//! [`DocumentRef`] (kind, SHA-256 digest, length): never the content.
//!
//! [`Policy::max_document_bytes`]: crate::policy::Policy::max_document_bytes

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How far from the start the `%PDF-` header may begin, and how far from the
/// (whitespace-trimmed) end the `%%EOF` marker may lie (M6). Acrobat accepts a
/// header anywhere in the first 1024 bytes; the same window is used for the end.
pub const PDF_MARKER_WINDOW: usize = 1024;

const PDF_HEADER: &[u8] = b"%PDF-";
const PDF_EOF: &[u8] = b"%%EOF";

/// Why a document is refused (M6). [`DocumentError::code`] gives the stable code
/// of the HTTP contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// M6: the file is larger than the limit (3 MiB by default).
    #[error("the document is {bytes} bytes, the most allowed is {max} (M6)")]
    TooLarge {
        /// The length of the refused file.
        bytes: u64,
        /// The limit in force ([`Policy::max_document_bytes`](crate::policy::Policy::max_document_bytes)).
        max: u64,
    },
    /// M6: the content is not a PDF (whatever the file is called), or the file is empty.
    #[error("the document is not a PDF (M6)")]
    NotAPdf,
    /// M6: a document kind other than `aa08` or `identity_document`.
    #[error("unknown document kind {0:?}: expected \"aa08\" or \"identity_document\" (M6)")]
    UnknownKind(String),
}

impl DocumentError {
    /// The stable error code of the HTTP contract.
    pub fn code(&self) -> &'static str {
        match self {
            DocumentError::TooLarge { .. } => "document_too_large",
            DocumentError::NotAPdf => "not_a_pdf",
            DocumentError::UnknownKind(_) => "unknown_document_kind",
        }
    }
}

/// M6 (and D5): which document a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// Form AA08, the delegation request, signed by hand or digitally.
    Aa08,
    /// A copy of the grantor's identity document.
    IdentityDocument,
}

impl DocumentKind {
    /// The wire name: `"aa08"` or `"identity_document"` (as in serde).
    pub fn as_str(&self) -> &'static str {
        match self {
            DocumentKind::Aa08 => "aa08",
            DocumentKind::IdentityDocument => "identity_document",
        }
    }
}

impl fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DocumentKind {
    type Err = DocumentError;

    /// Parses the wire name, exactly (`"aa08"`, `"identity_document"`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "aa08" => Ok(DocumentKind::Aa08),
            "identity_document" => Ok(DocumentKind::IdentityDocument),
            other => Err(DocumentError::UnknownKind(other.to_owned())),
        }
    }
}

/// A file that passed the M6 checks: a PDF, by content, within the size limit.
///
/// Only the digest and the length are kept; the caller keeps (and stores) the
/// bytes themselves.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PdfDocument {
    sha256: String,
    bytes: u64,
}

impl PdfDocument {
    /// M6: accepts `bytes` only if it is a PDF of at most `max_bytes` bytes.
    ///
    /// - longer than `max_bytes`: [`DocumentError::TooLarge`] (exactly
    ///   `max_bytes` is accepted);
    /// - empty, or without a `%PDF-` header followed by a version digit starting
    ///   in the first [`PDF_MARKER_WINDOW`] bytes, or without an `%%EOF` marker
    ///   in the last [`PDF_MARKER_WINDOW`] bytes (trailing whitespace ignored):
    ///   [`DocumentError::NotAPdf`].
    ///
    /// The judgement is on content only: a PNG or a text file named `.pdf` is
    /// refused, a PDF named anything is accepted.
    pub fn parse(bytes: &[u8], max_bytes: u64) -> Result<PdfDocument, DocumentError> {
        let len = bytes.len() as u64;
        if len > max_bytes {
            return Err(DocumentError::TooLarge {
                bytes: len,
                max: max_bytes,
            });
        }
        if !has_pdf_header(bytes) || !has_pdf_eof(bytes) {
            return Err(DocumentError::NotAPdf);
        }
        Ok(PdfDocument {
            sha256: sha256_hex(bytes),
            bytes: len,
        })
    }

    /// The SHA-256 digest of the content, lowercase hex (64 characters).
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The length of the content in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The reference to this document that events carry, as a document of `kind`.
    pub fn to_ref(&self, kind: DocumentKind) -> DocumentRef {
        DocumentRef {
            kind,
            sha256: self.sha256.clone(),
            bytes: self.bytes,
        }
    }
}

/// M6: what events and read models carry about a document: its kind, its
/// SHA-256 digest (lowercase hex) and its length. Never the content.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DocumentRef {
    /// Which document it is.
    pub kind: DocumentKind,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
    /// Length of the content in bytes.
    pub bytes: u64,
}

/// The SHA-256 digest of `bytes`, lowercase hex (64 characters).
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `%PDF-` then a digit, starting within the first [`PDF_MARKER_WINDOW`] bytes.
fn has_pdf_header(bytes: &[u8]) -> bool {
    let last_start = PDF_MARKER_WINDOW.min(bytes.len());
    (0..last_start).any(|i| {
        bytes[i..].starts_with(PDF_HEADER)
            && bytes
                .get(i + PDF_HEADER.len())
                .is_some_and(u8::is_ascii_digit)
    })
}

/// `%%EOF` within the last [`PDF_MARKER_WINDOW`] bytes, once trailing PDF
/// whitespace (NUL, tab, LF, FF, CR, space) is set aside.
fn has_pdf_eof(bytes: &[u8]) -> bool {
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b'\0' | b'\t' | b'\n' | b'\x0c' | b'\r' | b' '))
        .map_or(0, |i| i + 1);
    let tail = &bytes[end.saturating_sub(PDF_MARKER_WINDOW)..end];
    tail.windows(PDF_EOF.len()).any(|w| w == PDF_EOF)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;

    const MINIMAL: &[u8] =
        b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";

    /// A valid-looking PDF of exactly `len` bytes: header, a padding comment, `%%EOF`.
    fn pdf_of_len(len: usize) -> Vec<u8> {
        let head = b"%PDF-1.7\n%";
        let tail = b"\n%%EOF\n";
        assert!(len >= head.len() + tail.len());
        let mut v = Vec::with_capacity(len);
        v.extend_from_slice(head);
        v.resize(len - tail.len(), b'x');
        v.extend_from_slice(tail);
        assert_eq!(v.len(), len);
        v
    }

    fn max() -> u64 {
        Policy::default().max_document_bytes
    }

    #[test]
    fn m6_limit_is_three_mebibytes() {
        assert_eq!(max(), 3_145_728);
    }

    #[test]
    fn m6_exactly_three_mebibytes_accepted() {
        let doc = PdfDocument::parse(&pdf_of_len(3_145_728), max()).unwrap();
        assert_eq!(doc.bytes(), 3_145_728);
    }

    #[test]
    fn m6_one_byte_over_three_mebibytes_refused() {
        let err = PdfDocument::parse(&pdf_of_len(3_145_729), max()).unwrap_err();
        assert_eq!(
            err,
            DocumentError::TooLarge {
                bytes: 3_145_729,
                max: 3_145_728
            }
        );
        assert_eq!(err.code(), "document_too_large");
    }

    #[test]
    fn m6_png_named_pdf_refused_by_content() {
        // What a user might upload as "documento.pdf": the name plays no part.
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend_from_slice(&[0u8; 64]);
        png.extend_from_slice(b"\0\0\0\0IEND\xaeB`\x82");
        let err = PdfDocument::parse(&png, max()).unwrap_err();
        assert_eq!(err, DocumentError::NotAPdf);
        assert_eq!(err.code(), "not_a_pdf");
    }

    #[test]
    fn m6_plain_text_named_pdf_refused_by_content() {
        let text = b"Modulo AA08 compilato, vedi allegato.\n";
        assert_eq!(PdfDocument::parse(text, max()), Err(DocumentError::NotAPdf));
        // Even a text that mentions the end marker.
        assert_eq!(
            PdfDocument::parse(b"PDF please %%EOF\n", max()),
            Err(DocumentError::NotAPdf)
        );
    }

    #[test]
    fn m6_empty_file_refused() {
        assert_eq!(PdfDocument::parse(b"", max()), Err(DocumentError::NotAPdf));
    }

    #[test]
    fn m6_header_needs_version_digit() {
        assert_eq!(
            PdfDocument::parse(b"%PDF-x.y\n%%EOF\n", max()),
            Err(DocumentError::NotAPdf)
        );
    }

    #[test]
    fn m6_header_allowed_within_first_1024_bytes() {
        let mut ok = vec![b' '; 1023];
        ok.extend_from_slice(MINIMAL);
        assert!(PdfDocument::parse(&ok, max()).is_ok());

        let mut late = vec![b' '; 1024];
        late.extend_from_slice(MINIMAL);
        assert_eq!(
            PdfDocument::parse(&late, max()),
            Err(DocumentError::NotAPdf)
        );
    }

    #[test]
    fn m6_eof_marker_missing_refused() {
        let truncated = &MINIMAL[..MINIMAL.len() - b"%%EOF\n".len()];
        assert_eq!(
            PdfDocument::parse(truncated, max()),
            Err(DocumentError::NotAPdf)
        );
    }

    #[test]
    fn m6_eof_marker_must_be_near_the_end() {
        let mut far = MINIMAL.to_vec();
        far.extend_from_slice(&[b'x'; 1024]);
        assert_eq!(PdfDocument::parse(&far, max()), Err(DocumentError::NotAPdf));
        // Trailing whitespace after the marker is fine, however long.
        let mut spaced = MINIMAL.to_vec();
        spaced.extend_from_slice(&[b'\n'; 2048]);
        assert!(PdfDocument::parse(&spaced, max()).is_ok());
    }

    #[test]
    fn m6_sha256_of_known_input() {
        // FIPS 180-2 test vector.
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // `printf '%%PDF-1.4\n%%%%EOF\n' | sha256sum`
        let doc = PdfDocument::parse(b"%PDF-1.4\n%%EOF\n", max()).unwrap();
        assert_eq!(
            doc.sha256(),
            "14bcd090baf31edba64e9cbd8cdfc15f943344aa72cb3675ad8e91bfcbce03ad"
        );
        assert_eq!(doc.bytes(), 15);
    }

    #[test]
    fn m6_document_ref_carries_no_content() {
        let doc = PdfDocument::parse(MINIMAL, max()).unwrap();
        let r = doc.to_ref(DocumentKind::Aa08);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "kind": "aa08",
                "sha256": doc.sha256(),
                "bytes": MINIMAL.len(),
            })
        );
        assert!(!json.to_string().contains("Catalog"));
    }

    #[test]
    fn m6_document_kind_wire_names() {
        for (kind, name) in [
            (DocumentKind::Aa08, "aa08"),
            (DocumentKind::IdentityDocument, "identity_document"),
        ] {
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{name}\""));
            assert_eq!(name.parse::<DocumentKind>(), Ok(kind));
            assert_eq!(kind.to_string(), name);
        }
        let err = "AA09".parse::<DocumentKind>().unwrap_err();
        assert_eq!(err.code(), "unknown_document_kind");
    }
}
