//! B5: the ways a booked appointment can take place.

use std::fmt;

use serde::{Deserialize, Serialize};

/// B5: how a booked appointment takes place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// At the office's counter.
    InPerson,
    /// An operator calls the citizen back.
    PhoneCallback,
    /// A video call (M1–M10).
    WebMeeting,
}

impl Mode {
    /// The wire name: `in_person`, `phone_callback` or `web_meeting`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::InPerson => "in_person",
            Mode::PhoneCallback => "phone_callback",
            Mode::WebMeeting => "web_meeting",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
