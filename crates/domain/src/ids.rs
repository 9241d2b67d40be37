//! What the string-valued ids and validated values share: the id alphabet
//! and the conversions every such newtype has.

/// An id is 1 to 64 characters among ASCII letters, digits, `-` and `_`
/// (UUIDs fit); returns it owned when it is one.
pub(crate) fn check_id(input: &str) -> Option<String> {
    let ok = !input.is_empty()
        && input.len() <= 64
        && input
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then(|| input.to_owned())
}

/// `Display`, `TryFrom<String>`, `Into<String>`, `FromStr` and `as_str` for a
/// newtype over `String` with an inherent `parse(&str) -> Result<Self, E>`.
macro_rules! string_value {
    ($name:ident, $error:ident) => {
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl TryFrom<String> for $name {
            type Error = $error;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }
        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }
        impl std::str::FromStr for $name {
            type Err = $error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
        impl $name {
            /// The value as it is written and serialised.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

pub(crate) use string_value;
