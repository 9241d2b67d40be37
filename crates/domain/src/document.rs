//! M6: the documents that travel through a web meeting's chat (form AA08 and a
//! copy of the grantor's identity document).
//!
//! Each must be a PDF of at most [`Policy::max_document_bytes`] bytes
//! (3 MiB = 3,145,728: one byte more is refused). A PDF is recognised by its
//! content, never by its file name or declared media type: it starts with
//! `%PDF-` at its first byte and parses as a PDF (see [`PdfDocument::parse`]).
//! What events and read models carry is a [`DocumentRef`] (kind, SHA-256
//! digest, length): never the content.
//!
//! [`Policy::max_document_bytes`]: crate::policy::Policy::max_document_bytes

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::str::FromStr;

use lopdf::xref::XrefRecovery;
use lopdf::LoadOptions;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a PDF starts with, at its first byte, before its version's digits.
const PDF_HEADER: &[u8] = b"%PDF-";

/// The most one stream of an uploaded file may decompress to while it is
/// checked (M6). Only cross-reference and object streams are decompressed to
/// parse a PDF: a 3 MiB file needs less than this for them (2 MiB of
/// cross-reference stream is some 300,000 objects), and a decompression bomb
/// is stopped here instead of taking the memory it asks for. The time a
/// hostile file can take grows with this bound.
pub const MAX_STREAM_BYTES_WHEN_PARSING: usize = 2 * 1024 * 1024;

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
    /// M6, D11: a document kind this place does not take (a meeting takes
    /// `aa08` and `identity_document`; a counter every [`DocumentKind`]).
    #[error("unknown document kind {0:?} (M6, D11)")]
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

/// M6, D5, D11: which document a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// Form AA08, the delegation request, signed by hand or digitally.
    Aa08,
    /// A copy of the grantor's identity document.
    IdentityDocument,
    /// Form AA09 (D5): the request handed in by the delegate for a grantor
    /// kept away by ill health.
    Aa09,
    /// Form AA10 (D5): the request of a legal representative.
    Aa10,
    /// D11: a digitally signed document received by PEC.
    Pec,
}

impl DocumentKind {
    /// Every kind, in wire order.
    pub const ALL: [DocumentKind; 5] = [
        DocumentKind::Aa08,
        DocumentKind::IdentityDocument,
        DocumentKind::Aa09,
        DocumentKind::Aa10,
        DocumentKind::Pec,
    ];

    /// The wire name: `"aa08"`, `"identity_document"`, `"aa09"`, `"aa10"`
    /// or `"pec"` (as in serde).
    pub fn as_str(&self) -> &'static str {
        match self {
            DocumentKind::Aa08 => "aa08",
            DocumentKind::IdentityDocument => "identity_document",
            DocumentKind::Aa09 => "aa09",
            DocumentKind::Aa10 => "aa10",
            DocumentKind::Pec => "pec",
        }
    }

    /// M6: the kinds a web meeting takes (form AA08 and the grantor's
    /// identity document).
    pub fn in_meeting(self) -> bool {
        matches!(self, DocumentKind::Aa08 | DocumentKind::IdentityDocument)
    }

    /// M6: parses the wire name of a kind a web meeting takes; any other is
    /// [`DocumentError::UnknownKind`].
    pub fn for_meeting(s: &str) -> Result<Self, DocumentError> {
        s.parse::<Self>()
            .ok()
            .filter(|kind| kind.in_meeting())
            .ok_or_else(|| DocumentError::UnknownKind(s.to_owned()))
    }
}

impl fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DocumentKind {
    type Err = DocumentError;

    /// Parses the wire name, exactly (`"aa08"`, `"identity_document"`...).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| DocumentError::UnknownKind(s.to_owned()))
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
    ///   `max_bytes` is accepted), judged before anything is parsed;
    /// - not starting with `%PDF-` and a digit at its first byte, or not a PDF by
    ///   [lopdf](https://docs.rs/lopdf)'s reading: a cross-reference table
    ///   (or stream) and trailer that read as written or with offsets
    ///   corrected (not rebuilt by scanning a damaged or truncated file), and
    ///   a catalog with a page tree: [`DocumentError::NotAPdf`].
    ///
    /// The judgement is on content only: a PNG or a text file named `.pdf` is
    /// refused, a PDF named anything is accepted; an HTML page that mentions
    /// `%PDF-` is not a PDF. A parser that panics on a hostile file has not
    /// read a PDF: that is `NotAPdf` too. No stream decompresses to more than
    /// [`MAX_STREAM_BYTES_WHEN_PARSING`] while the file is read.
    ///
    /// A well-formed file of 3 MiB takes milliseconds of CPU; a hostile one
    /// made of thousands of small streams that each decompress to the bound
    /// can take seconds. An async caller runs it where blocking is allowed,
    /// a few at a time.
    pub fn parse(bytes: &[u8], max_bytes: u64) -> Result<PdfDocument, DocumentError> {
        Self::parse_with(bytes, max_bytes, load)
    }

    /// [`PdfDocument::parse`], the file read by `reader` (a test swaps it).
    fn parse_with(
        bytes: &[u8],
        max_bytes: u64,
        reader: fn(&[u8]) -> Option<lopdf::Document>,
    ) -> Result<PdfDocument, DocumentError> {
        let len = bytes.len() as u64;
        if len > max_bytes {
            return Err(DocumentError::TooLarge {
                bytes: len,
                max: max_bytes,
            });
        }
        let versioned = bytes.starts_with(PDF_HEADER)
            && bytes.get(PDF_HEADER.len()).is_some_and(u8::is_ascii_digit);
        if !versioned || !is_whole_pdf(bytes, reader) {
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

/// D11: the SHA-256 digest of a stored document, as events name it: 64
/// lowercase hex digits, checked.
///
/// ```
/// use deleghe_domain::document::DocumentDigest;
///
/// assert!(DocumentDigest::parse(&"a".repeat(64)).is_ok());
/// assert!(DocumentDigest::parse(&"A".repeat(64)).is_err());
/// assert!(DocumentDigest::parse("abc").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DocumentDigest(String);

/// Why a string is not a document's digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a document's SHA-256 is 64 lowercase hex digits: {0:?}")]
pub struct DocumentDigestError(pub String);

impl DocumentDigest {
    /// Checks `input`: exactly 64 characters among `0-9` and `a-f`.
    pub fn parse(input: &str) -> Result<Self, DocumentDigestError> {
        let ok = input.len() == 64
            && input
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if ok {
            Ok(Self(input.to_owned()))
        } else {
            Err(DocumentDigestError(input.chars().take(80).collect()))
        }
    }
}

crate::ids::string_value!(DocumentDigest, DocumentDigestError);

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

/// lopdf's reading of `bytes`, or `None` if it found no PDF there. Object
/// and cross-reference streams decompress to at most
/// [`MAX_STREAM_BYTES_WHEN_PARSING`] each.
fn load(bytes: &[u8]) -> Option<lopdf::Document> {
    let options = LoadOptions {
        max_decompressed_size: Some(MAX_STREAM_BYTES_WHEN_PARSING),
        ..LoadOptions::default()
    };
    lopdf::Document::load_mem_with_options(bytes, options).ok()
}

/// Whether `reader` reads a whole PDF in `bytes`: its cross-reference data
/// read as written (or with an offset corrected), not rebuilt from the
/// objects a scan of the file finds (what a truncated or damaged file
/// needs), and a catalog that names its page tree. A panic in the reader is
/// a file it could not read.
fn is_whole_pdf(bytes: &[u8], reader: fn(&[u8]) -> Option<lopdf::Document>) -> bool {
    let Ok(Some(document)) = catch_unwind(AssertUnwindSafe(|| reader(bytes))) else {
        return false;
    };
    document.xref_recovery != Some(XrefRecovery::Reconstructed)
        && document
            .catalog()
            .is_ok_and(|catalog| catalog.has(b"Pages"))
}

/// A blank one-page PDF of exactly `len` bytes, which [`PdfDocument::parse`]
/// accepts (within the size limit): a catalog, a page tree, one empty A4
/// page, a comment of spaces to make up the length, and the cross-reference
/// table. For tests, examples and load tools that need a document of a given
/// size. `None` below [`BLANK_PDF_MIN_LEN`] bytes.
///
/// ```
/// use deleghe_domain::document::{blank_pdf, PdfDocument};
///
/// let pdf = blank_pdf(2048).unwrap();
/// assert_eq!(pdf.len(), 2048);
/// assert_eq!(PdfDocument::parse(&pdf, 3_145_728).unwrap().bytes(), 2048);
/// ```
pub fn blank_pdf(len: usize) -> Option<Vec<u8>> {
    const OBJECTS: [&[u8]; 3] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ];
    // The binary comment marks the file as binary for transfer tools.
    let mut out = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::with_capacity(OBJECTS.len());
    for (i, body) in OBJECTS.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let tail = |xref: usize, extra: usize| -> Vec<u8> {
        let mut t = format!("xref\n0 {}\n0000000000 65535 f \n", OBJECTS.len() + 1).into_bytes();
        for offset in &offsets {
            t.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
        }
        t.extend_from_slice(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
                OBJECTS.len() + 1
            )
            .as_bytes(),
        );
        // Whitespace after the end marker: for the lengths no padding before
        // the table can reach, its offset gaining a digit as it grows.
        t.resize(t.len() + extra, b'\n');
        t
    };
    // The table's offset is the length less its own text, which holds the
    // offset: try each number of digits (and one byte of slack).
    for digits in 1..=20 {
        for extra in 0..=1 {
            let probe = tail(0, extra).len() - 1 + digits;
            let Some(xref) = len.checked_sub(probe) else {
                continue;
            };
            if xref.to_string().len() != digits || xref < out.len() {
                continue;
            }
            let padding = xref - out.len();
            match padding {
                0 => {}
                1 => out.push(b'\n'),
                n => {
                    out.push(b'%');
                    out.resize(out.len() + n - 2, b' ');
                    out.push(b'\n');
                }
            }
            out.extend_from_slice(&tail(xref, extra));
            debug_assert_eq!(out.len(), len);
            return Some(out);
        }
    }
    None
}

/// The shortest file [`blank_pdf`] writes.
pub const BLANK_PDF_MIN_LEN: usize = 335;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;

    fn max() -> u64 {
        Policy::default().max_document_bytes
    }

    /// A blank one-page PDF written by hand, every offset of its
    /// cross-reference table counted.
    const REAL: &[u8] = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n\
2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n\
3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>\nendobj\n\
xref\n0 4\n0000000000 65535 f \n0000000009 00000 n \n0000000058 00000 n \n0000000115 00000 n \n\
trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n186\n%%EOF\n";

    /// The probe's file: an HTML page with a script, `%PDF-` in a comment
    /// within its first KiB, `%%EOF` at its end.
    const HTML_WITH_MARKER: &[u8] = b"<!DOCTYPE html>\n<html><head>\
<script>fetch('/v1/me/pin',{method:'POST'})</script>\n\
<!-- %PDF-1.7 --></head><body>Modulo AA08</body></html>\n%%EOF\n";

    #[test]
    fn m6_a_real_pdf_is_accepted() {
        let doc = PdfDocument::parse(REAL, max()).unwrap();
        assert_eq!(doc.bytes(), REAL.len() as u64);
    }

    #[test]
    fn m6_a_pdf_starts_with_its_header_at_byte_zero() {
        assert_eq!(
            PdfDocument::parse(HTML_WITH_MARKER, max()),
            Err(DocumentError::NotAPdf)
        );
        // A real PDF behind anything at all is not one.
        for prefix in [&b" "[..], b"\n", b"<html>", b"\xEF\xBB\xBF"] {
            let mut late = prefix.to_vec();
            late.extend_from_slice(REAL);
            assert_eq!(
                PdfDocument::parse(&late, max()),
                Err(DocumentError::NotAPdf),
                "{prefix:?}"
            );
        }
    }

    #[test]
    fn m6_the_markers_alone_do_not_make_a_pdf() {
        let mut garbage = b"%PDF-1.7\n".to_vec();
        garbage.extend_from_slice(&[b' '; 4096]);
        garbage.extend_from_slice(b"<script>alert(1)</script>\n%%EOF\n");
        for file in [&garbage[..], b"%PDF-1.4\n%%EOF\n"] {
            assert_eq!(PdfDocument::parse(file, max()), Err(DocumentError::NotAPdf));
        }
    }

    #[test]
    fn m6_a_truncated_pdf_is_refused() {
        let before_xref = REAL.windows(4).position(|w| w == b"xref").unwrap();
        for cut in [
            REAL.len() / 2,
            before_xref,
            REAL.len() - b"186\n%%EOF\n".len(),
        ] {
            assert_eq!(
                PdfDocument::parse(&REAL[..cut], max()),
                Err(DocumentError::NotAPdf),
                "cut at {cut}"
            );
        }
    }

    /// A reader that panics, as a parser may on a hostile file.
    fn panicking(_: &[u8]) -> Option<lopdf::Document> {
        panic!("a parser bug");
    }

    #[test]
    fn m6_a_parser_panic_is_not_a_pdf() {
        // The default hook would print the panic: this one is expected.
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let judged = PdfDocument::parse_with(REAL, max(), panicking);
        std::panic::set_hook(hook);
        assert_eq!(judged, Err(DocumentError::NotAPdf));
    }

    #[test]
    fn m6_whitespace_after_the_end_marker_is_fine() {
        let mut spaced = REAL.to_vec();
        spaced.extend_from_slice(&[b'\n'; 512]);
        assert!(PdfDocument::parse(&spaced, max()).is_ok());
    }

    #[test]
    fn m6_blank_pdfs_of_every_length_parse() {
        assert_eq!(blank_pdf(BLANK_PDF_MIN_LEN - 1), None);
        // Every length around the points where the table's offset gains a
        // digit, and a run of small ones.
        let lengths = (BLANK_PDF_MIN_LEN..BLANK_PDF_MIN_LEN + 800)
            .chain(990..1_030)
            .chain(9_990..10_030)
            .chain(99_990..100_030);
        for len in lengths {
            let pdf = blank_pdf(len).unwrap_or_else(|| panic!("no blank PDF of {len} bytes"));
            assert_eq!(pdf.len(), len);
            assert!(
                PdfDocument::parse(&pdf, max()).is_ok(),
                "the blank PDF of {len} bytes is refused"
            );
        }
    }

    /// A blank one-page PDF with one more object: an object stream, not
    /// compressed, of `len` bytes of content.
    fn pdf_with_object_stream(len: usize) -> Vec<u8> {
        let mut out = b"%PDF-1.7\n".to_vec();
        let mut offsets = Vec::new();
        let stream = format!("<< /Type /ObjStm /N 0 /First 0 /Length {len} >>\nstream\n");
        let mut stream = stream.into_bytes();
        stream.resize(stream.len() + len, b' ');
        stream.extend_from_slice(b"\nendstream");
        for (i, body) in [
            &b"<< /Type /Catalog /Pages 2 0 R >>"[..],
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
            &stream,
        ]
        .into_iter()
        .enumerate()
        {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
            out.extend_from_slice(body);
            out.extend_from_slice(b"\nendobj\n");
        }
        let xref = out.len();
        out.extend_from_slice(b"xref\n0 5\n0000000000 65535 f \n");
        for offset in offsets {
            out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!("trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n").as_bytes(),
        );
        out
    }

    /// M6: a stream read while the file is checked may hold up to 2 MiB
    /// (docs/SECURITY.md), a real file's cross-reference and object
    /// streams fit; one byte more and the file is refused, whatever its
    /// own size.
    #[test]
    fn m6_a_stream_of_up_to_two_mebibytes_is_read_and_no_more() {
        assert_eq!(MAX_STREAM_BYTES_WHEN_PARSING, 2_097_152);
        let within = pdf_with_object_stream(2_097_152);
        assert!(within.len() < 3_145_728);
        assert!(PdfDocument::parse(&within, max()).is_ok());
        let over = pdf_with_object_stream(2_097_153);
        assert_eq!(
            PdfDocument::parse(&over, max()).unwrap_err(),
            DocumentError::NotAPdf
        );
    }

    #[test]
    fn m6_limit_is_three_mebibytes() {
        assert_eq!(max(), 3_145_728);
    }

    #[test]
    fn m6_exactly_three_mebibytes_accepted() {
        let doc = PdfDocument::parse(&blank_pdf(3_145_728).unwrap(), max()).unwrap();
        assert_eq!(doc.bytes(), 3_145_728);
    }

    #[test]
    fn m6_one_byte_over_three_mebibytes_refused() {
        let err = PdfDocument::parse(&blank_pdf(3_145_729).unwrap(), max()).unwrap_err();
        assert_eq!(
            err,
            DocumentError::TooLarge {
                bytes: 3_145_729,
                max: 3_145_728
            }
        );
        assert_eq!(err.code(), "document_too_large");
        // Too large is judged first: even a file that is no PDF at all.
        assert!(matches!(
            PdfDocument::parse(&vec![0u8; 3_145_729], max()),
            Err(DocumentError::TooLarge { .. })
        ));
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
        let bad = String::from_utf8_lossy(REAL).replacen("%PDF-1.7", "%PDF-x.y", 1);
        assert_eq!(
            PdfDocument::parse(bad.as_bytes(), max()),
            Err(DocumentError::NotAPdf)
        );
    }

    #[test]
    fn m6_sha256_of_known_input() {
        // FIPS 180-2 test vector.
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let doc = PdfDocument::parse(REAL, max()).unwrap();
        assert_eq!(doc.sha256(), sha256_hex(REAL));
        assert_eq!(doc.bytes(), REAL.len() as u64);
    }

    #[test]
    fn m6_document_ref_carries_no_content() {
        let doc = PdfDocument::parse(REAL, max()).unwrap();
        let r = doc.to_ref(DocumentKind::Aa08);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "kind": "aa08",
                "sha256": doc.sha256(),
                "bytes": REAL.len(),
            })
        );
        assert!(!json.to_string().contains("Catalog"));
    }

    #[test]
    fn m6_document_kind_wire_names() {
        for (kind, name) in [
            (DocumentKind::Aa08, "aa08"),
            (DocumentKind::IdentityDocument, "identity_document"),
            (DocumentKind::Aa09, "aa09"),
            (DocumentKind::Aa10, "aa10"),
            (DocumentKind::Pec, "pec"),
        ] {
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{name}\""));
            assert_eq!(name.parse::<DocumentKind>(), Ok(kind));
            assert_eq!(kind.to_string(), name);
        }
        let err = "AA09".parse::<DocumentKind>().unwrap_err();
        assert_eq!(err.code(), "unknown_document_kind");
        // A meeting takes the AA08 and the identity document only (M6).
        assert_eq!(DocumentKind::for_meeting("aa08"), Ok(DocumentKind::Aa08));
        assert_eq!(
            DocumentKind::for_meeting("aa10"),
            Err(DocumentError::UnknownKind("aa10".into()))
        );
    }

    #[test]
    fn d11_a_digest_is_64_lowercase_hex_digits() {
        let good = sha256_hex(b"abc");
        assert_eq!(DocumentDigest::parse(&good).unwrap().as_str(), good);
        for bad in [
            "",
            "abc",
            &good[..63],
            &good.to_uppercase(),
            &format!("{good}0"),
            &"g".repeat(64),
        ] {
            assert!(DocumentDigest::parse(bad).is_err(), "{bad:?}");
        }
        let json = serde_json::to_string(&DocumentDigest::parse(&good).unwrap()).unwrap();
        assert_eq!(json, format!("\"{good}\""));
        assert!(serde_json::from_str::<DocumentDigest>("\"xyz\"").is_err());
    }
}
