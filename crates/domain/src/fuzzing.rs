//! The properties the fuzz targets (`fuzz/`, `docs/TESTING.md`) check on
//! outside input, one function per parser. Each takes arbitrary bytes and
//! panics if a property fails; for any input it returns normally otherwise.
//!
//! Public only with the feature `fuzzing`, for the fuzz crate; the crate's
//! own tests run every file of the fuzz corpus through the same functions,
//! so the corpus replays on stable in every test run.

use crate::document::{sha256_hex, DocumentError, PdfDocument};
use crate::fiscal_code::FiscalCodeError;
use crate::{FiscalCode, Policy};

/// I1: `data`, read as UTF-8 text, through [`FiscalCode::parse`].
///
/// An accepted code is its input trimmed and upper-cased, 16 upper-case
/// ASCII letters and digits in the layout `AAAAAA99A99A999A` (omocodia
/// letters in place of digits), with a birth day and month that exist and
/// the check character of its first 15; its text parses to itself, in
/// lower case too, and through serde. A refused input is refused through
/// serde too, with the one error code of I1.
pub fn fiscal_code(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match FiscalCode::parse(text) {
        Ok(code) => {
            let s = code.as_str();
            assert_eq!(s, text.trim().to_ascii_uppercase(), "{text:?}");
            assert_eq!(s.len(), 16, "{s:?}");
            for (i, b) in s.bytes().enumerate() {
                let digit_place = [6, 7, 9, 10, 12, 13, 14].contains(&i);
                let fits = b.is_ascii_uppercase() || (digit_place && b.is_ascii_digit());
                assert!(fits, "character {} of {s:?}", i + 1);
            }
            assert_eq!(FiscalCode::parse(s).as_ref(), Ok(&code));
            assert_eq!(
                FiscalCode::parse(&s.to_ascii_lowercase()).as_ref(),
                Ok(&code)
            );
            assert_eq!(
                FiscalCode::check_character(&s[..15]),
                s.chars().nth(15),
                "{s:?}"
            );
            assert!((1..=31).contains(&code.birth_day()), "{s:?}");
            assert!((1..=12).contains(&code.birth_month()), "{s:?}");
            let json = serde_json::to_string(&code).expect("a code serialises");
            assert_eq!(json, format!("\"{s}\""));
            let back: FiscalCode = serde_json::from_str(&json).expect("its JSON reads back");
            assert_eq!(back, code);
        }
        Err(error) => {
            assert_eq!(error.code(), "invalid_fiscal_code");
            let _ = error.to_string();
            if let FiscalCodeError::Length { found } = error {
                assert_eq!(found, text.trim().chars().count());
            }
            let through_serde = serde_json::from_value::<FiscalCode>(serde_json::Value::from(text));
            assert!(through_serde.is_err(), "{text:?} refused, but not by serde");
        }
    }
}

/// M6: `data` through [`PdfDocument::parse`] with the default policy's size
/// limit ([`Policy::max_document_bytes`]).
///
/// An accepted file starts with `%PDF-` and a digit, is within the limit,
/// and its document has the file's length and SHA-256; judged again, or
/// with a limit of exactly its length, it is accepted alike, and with one
/// byte less it is too large. A refused file within the limit is not a PDF.
pub fn pdf(data: &[u8]) {
    let max = Policy::default().max_document_bytes;
    let len = data.len() as u64;
    match PdfDocument::parse(data, max) {
        Ok(document) => {
            assert!(len <= max);
            assert!(data.starts_with(b"%PDF-") && data.get(5).is_some_and(u8::is_ascii_digit));
            assert_eq!(document.bytes(), len);
            assert_eq!(document.sha256(), sha256_hex(data));
            assert_eq!(PdfDocument::parse(data, max).as_ref(), Ok(&document));
            assert_eq!(PdfDocument::parse(data, len).as_ref(), Ok(&document));
            assert_eq!(
                PdfDocument::parse(data, len - 1),
                Err(DocumentError::TooLarge {
                    bytes: len,
                    max: len - 1
                })
            );
        }
        Err(error) => {
            if len > max {
                assert_eq!(error, DocumentError::TooLarge { bytes: len, max });
            } else {
                assert_eq!(error, DocumentError::NotAPdf);
            }
            let _ = error.to_string();
        }
    }
}

/// The policy file: `data`, read as UTF-8 text, through
/// [`Policy::from_json`].
///
/// An accepted policy passes [`Policy::check`], and its own JSON reads back
/// as itself; a refused one names what is wrong.
pub fn policy(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Policy::from_json(text) {
        Ok(policy) => {
            assert_eq!(policy.check(), Ok(()));
            assert!((1..=3_145_728).contains(&policy.max_document_bytes));
            let json = serde_json::to_string(&policy).expect("a policy serialises");
            assert_eq!(Policy::from_json(&json), Ok(policy));
        }
        Err(error) => assert!(!error.to_string().is_empty()),
    }
}

/// Every file of the fuzz corpus of `target` (`fuzz/corpus/<target>/`).
#[cfg(test)]
pub(crate) fn corpus(target: &str) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the corpus {}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("a corpus entry").path();
            let bytes = std::fs::read(&path).expect("a corpus file");
            (path, bytes)
        })
        .collect();
    assert!(!files.is_empty(), "the corpus {} is empty", dir.display());
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i1_the_fiscal_code_corpus_replays() {
        for (_, bytes) in corpus("fiscal_code") {
            fiscal_code(&bytes);
        }
    }

    #[test]
    fn m6_the_pdf_corpus_replays() {
        for (_, bytes) in corpus("pdf") {
            pdf(&bytes);
        }
    }

    #[test]
    fn the_policy_corpus_replays() {
        for (_, bytes) in corpus("policy") {
            policy(&bytes);
        }
    }

    /// M6: past the size limit a file is refused as too large, and at the
    /// limit exactly, not being a PDF, as not a PDF: the property says which.
    #[test]
    fn m6_the_pdf_property_tells_a_file_too_large_from_one_at_the_limit() {
        let max = usize::try_from(Policy::default().max_document_bytes).unwrap();
        pdf(&vec![b'x'; max + 1]);
        pdf(&vec![b'x'; max]);
    }

    #[test]
    fn valid_inputs_reach_the_accepting_branch() {
        fiscal_code(b" rssmra85t10a562s ");
        assert!(FiscalCode::parse(" rssmra85t10a562s ").is_ok());
        let blank = crate::document::blank_pdf(400).unwrap();
        pdf(&blank);
        assert!(PdfDocument::parse(&blank, 400).is_ok());
        policy(br#"{"max_active_bookings": 2}"#);
        assert!(Policy::from_json(r#"{"max_active_bookings": 2}"#).is_ok());
    }
}
