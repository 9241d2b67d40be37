//! M2, M10: the access codes of web meetings, derived from the deployment's
//! secret key so that no store ever holds one.
//!
//! A code is a keyed derivation of the booking and the code's generation (0:
//! the booking's own; 1, 2...: each new one an operator issues): the same
//! inputs give the same code, so the dispatcher can put it into the SMS that
//! delivers it ([`AccessCodes::fill`]) while the events, the read models and
//! the outbox keep only a placeholder and a digest. The digest
//! ([`AccessCodes::digest`]) is an HMAC of the booking and the code as
//! typed, under a second key: what the rules compare ([`AccessCodeDigest`]).
//! Both keys are HMAC-SHA256 derivations of one secret, with distinct labels.
//!
//! ```
//! use deleghe_adapters::codes::AccessCodes;
//! use deleghe_domain::booking::BookingId;
//!
//! let codes = AccessCodes::new(b"a secret of the deployment, 32 bytes or more");
//! let booking = BookingId::parse("b-1").unwrap();
//! let (code, digest) = codes.issue(&booking, 0);
//! assert_eq!(code.as_str().len(), 8);
//! // What the citizen types, in any case, meets the stored digest.
//! let typed = codes.digest(&booking, &code.as_str().to_lowercase());
//! assert!(digest.matches(&typed));
//! // Another booking's code does not.
//! let other = BookingId::parse("b-2").unwrap();
//! assert!(!digest.matches(&codes.digest(&other, code.as_str())));
//! ```

use deleghe_domain::booking::{AccessCode, AccessCodeDigest, BookingId};
use deleghe_domain::notification::{fill_access_codes, PlaceholderError};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The keys of the access codes. Cloning shares nothing secret beyond them.
#[derive(Clone)]
pub struct AccessCodes {
    derive: [u8; 32],
    verify: [u8; 32],
}

impl std::fmt::Debug for AccessCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessCodes([redacted])")
    }
}

fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    for part in parts {
        // Each part length-prefixed: no two different lists hash alike.
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

impl AccessCodes {
    /// The keys derived from the deployment's `secret`.
    pub fn new(secret: &[u8]) -> Self {
        Self {
            derive: mac(secret, &[b"deleghe access code v1"]),
            verify: mac(secret, &[b"deleghe access code digest v1"]),
        }
    }

    /// The code of `booking`'s generation `generation`, and its digest.
    pub fn issue(&self, booking: &BookingId, generation: u32) -> (AccessCode, AccessCodeDigest) {
        let code = self.code(booking, generation);
        let digest = self.digest(booking, code.as_str());
        (code, digest)
    }

    /// The digest of a code typed for `booking` (trimmed, in upper case).
    pub fn digest(&self, booking: &BookingId, typed: &str) -> AccessCodeDigest {
        let typed = AccessCode::normalise(typed);
        AccessCodeDigest::from_bytes(&mac(
            &self.verify,
            &[booking.as_str().as_bytes(), typed.as_bytes()],
        ))
    }

    /// `text` with every access-code placeholder filled in: what the SMS
    /// (or IO message) that delivers a code says. Never log the result.
    pub fn fill(&self, text: &str) -> Result<String, PlaceholderError> {
        fill_access_codes(text, |booking, generation| {
            self.code(booking, generation).as_str().to_owned()
        })
    }

    fn code(&self, booking: &BookingId, generation: u32) -> AccessCode {
        let bytes = mac(
            &self.derive,
            &[booking.as_str().as_bytes(), &generation.to_be_bytes()],
        );
        let mut first = [0u8; 8];
        first.copy_from_slice(&bytes[..8]);
        AccessCode::from_random(&first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn m10_each_generation_has_its_own_code_and_each_secret_its_own_codes() {
        let codes = AccessCodes::new(b"one secret of at least thirty-two bytes");
        let b = BookingId::parse("b-1").unwrap();
        let (first, first_digest) = codes.issue(&b, 0);
        let (second, second_digest) = codes.issue(&b, 1);
        assert_ne!(first, second);
        assert!(!first_digest.matches(&codes.digest(&b, second.as_str())));
        assert!(second_digest.matches(&codes.digest(&b, &format!(" {second} "))));
        // Deterministic: the dispatcher finds the code the digest was made of.
        assert_eq!(codes.issue(&b, 0), (first.clone(), first_digest.clone()));
        let other = AccessCodes::new(b"another secret of at least thirty-two bytes");
        assert_ne!(other.issue(&b, 0).0, first);
        // The digest is not the code, nor a plain hash of it.
        assert!(!String::from(first_digest).contains(first.as_str()));
        let text = "Codice {{codice:b-1:1}}.";
        assert_eq!(codes.fill(text).unwrap(), format!("Codice {second}."));
    }
}
