//! Logs name people only by a keyed pseudonym (docs/APP.md, "Requests and errors"):
//! at level info and above, never a fiscal code, name, phone, access code,
//! PIN or token. The pseudonym of a fiscal code is an HMAC-SHA256 of it
//! under a key derived from the deployment's secret: stable across
//! requests and restarts, so that one person's requests can be followed
//! through the logs, and useless without the key.

use deleghe_domain::FiscalCode;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The key of the logs' pseudonyms, held as an HMAC already keyed with it:
/// HMAC hashes its key's two padded blocks before the message, and a clone
/// of the keyed state skips that work on each of the many pseudonyms
/// (half the hashing of one; docs/PERFORMANCE.md).
#[derive(Clone)]
pub struct Pseudonyms {
    keyed: HmacSha256,
}

impl std::fmt::Debug for Pseudonyms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonyms([redacted])")
    }
}

fn keyed(key: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length")
}

fn mac(mut keyed: HmacSha256, message: &[u8]) -> [u8; 32] {
    keyed.update(message);
    keyed.finalize().into_bytes().into()
}

impl Pseudonyms {
    /// The pseudonyms under the deployment's `secret`.
    pub fn new(secret: &[u8]) -> Self {
        Self {
            keyed: keyed(&mac(keyed(secret), b"deleghe log pseudonyms v1")),
        }
    }

    /// `p-` and 12 hexadecimal digits.
    ///
    /// ```
    /// use deleghe_app::privacy::Pseudonyms;
    /// use deleghe_domain::FiscalCode;
    ///
    /// let cf = FiscalCode::parse("RSSMRA85T10A562S").unwrap();
    /// let p = Pseudonyms::new(b"a deployment's secret of 32 bytes!").of(&cf);
    /// assert_eq!(p.len(), 14);
    /// assert!(p.starts_with("p-") && !p.contains("RSSMRA"));
    /// ```
    pub fn of(&self, person: &FiscalCode) -> String {
        use std::fmt::Write;
        let digest = mac(self.keyed.clone(), person.as_str().as_bytes());
        // Written in place, in one allocation (the caller's label of each
        // new token, the log's other mentions of people).
        let mut pseudonym = String::with_capacity(14);
        pseudonym.push_str("p-");
        for byte in &digest[..6] {
            let _ = write!(pseudonym, "{byte:02x}");
        }
        pseudonym
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_stable_per_person_and_key() {
        let a = FiscalCode::parse("RSSMRA85T10A562S").unwrap();
        let b = FiscalCode::parse("VRDLGU70A01H501O").unwrap();
        let one = Pseudonyms::new(b"one secret of at least thirty-two bytes");
        let two = Pseudonyms::new(b"two secret of at least thirty-two bytes");
        assert_eq!(one.of(&a), one.of(&a));
        assert_ne!(one.of(&a), one.of(&b));
        assert_ne!(one.of(&a), two.of(&a));
    }

    /// The pseudonym is HMAC-SHA256(HMAC-SHA256(secret, "deleghe log
    /// pseudonyms v1"), code), its first six bytes in lowercase hex: the
    /// same text as before it was written in place, so that one person's
    /// lines are followed across versions (the value from Python's hmac).
    #[test]
    fn a_pseudonym_is_the_hex_of_the_keyed_digest() {
        let a = FiscalCode::parse("RSSMRA85T10A562S").unwrap();
        let one = Pseudonyms::new(b"one secret of at least thirty-two bytes");
        assert_eq!(one.of(&a), "p-52d6e15792f7");
    }
}
