//! M2, M10: how a message carries an access code that no store may hold.
//!
//! The stores keep only a digest of a web meeting's access code. The code
//! itself is derived, when the message is sent, from the deployment's key,
//! the booking and the code's generation (0: the booking's own; 1, 2...:
//! those an operator issued). So the policy writes a placeholder naming the
//! booking and the generation, `{{codice:BOOKING:GENERATION}}`, and the
//! dispatcher fills it in just before the gateway sends the message
//! ([`fill_access_codes`]).
//!
//! ```
//! use deleghe_domain::booking::BookingId;
//! use deleghe_domain::notification::{access_code_placeholder, fill_access_codes};
//!
//! let booking = BookingId::parse("b-1").unwrap();
//! let text = format!("Codice: {}.", access_code_placeholder(&booking, 0));
//! assert_eq!(text, "Codice: {{codice:b-1:0}}.");
//! let sent = fill_access_codes(&text, |b, generation| {
//!     assert_eq!((b.as_str(), generation), ("b-1", 0));
//!     "K7RT2Q9M".to_owned()
//! });
//! assert_eq!(sent.unwrap(), "Codice: K7RT2Q9M.");
//! ```

use crate::booking::BookingId;

const OPEN: &str = "{{codice:";
const CLOSE: &str = "}}";

/// The placeholder of the access code of `booking`'s generation `generation`.
pub fn access_code_placeholder(booking: &BookingId, generation: u32) -> String {
    format!("{OPEN}{booking}:{generation}{CLOSE}")
}

/// A placeholder that names no booking and generation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a malformed access code placeholder in a message")]
pub struct PlaceholderError;

/// `text` with every access code placeholder replaced by `code(booking,
/// generation)`; text without one comes back as it is.
pub fn fill_access_codes(
    text: &str,
    code: impl Fn(&BookingId, u32) -> String,
) -> Result<String, PlaceholderError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let end = after.find(CLOSE).ok_or(PlaceholderError)?;
        let (booking, generation) = after[..end].rsplit_once(':').ok_or(PlaceholderError)?;
        let booking = BookingId::parse(booking).map_err(|_| PlaceholderError)?;
        let generation = generation.parse().map_err(|_| PlaceholderError)?;
        out.push_str(&code(&booking, generation));
        rest = &after[end + CLOSE.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn m10_placeholders_are_filled_each_with_its_generation() {
        let b = BookingId::parse("b-9").unwrap();
        let text = format!(
            "a {} b {} c",
            access_code_placeholder(&b, 0),
            access_code_placeholder(&b, 2)
        );
        let filled = fill_access_codes(&text, |_, g| format!("G{g}")).unwrap();
        assert_eq!(filled, "a G0 b G2 c");
        assert_eq!(
            fill_access_codes("no code here", |_, _| unreachable!()).unwrap(),
            "no code here"
        );
        for bad in [
            "{{codice:b-1}}",
            "{{codice:b-1:x}}",
            "{{codice:b 1:0}}",
            "{{codice:b-1:0",
        ] {
            assert_eq!(
                fill_access_codes(bad, |_, _| String::new()),
                Err(PlaceholderError),
                "{bad}"
            );
        }
    }
}
