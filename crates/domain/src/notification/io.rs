//! N5: the content of a message in the IO app of PagoPA.
//!
//! The IO API accepts a subject of 10 to 120 characters and a markdown body
//! of 80 to 10,000 characters; anything else is refused there, so it is
//! refused here first. Lengths are counted in characters (Unicode scalar
//! values), not bytes.

use serde::{Deserialize, Serialize};

/// Fewest characters in an IO subject.
pub const IO_SUBJECT_MIN: usize = 10;
/// Most characters in an IO subject.
pub const IO_SUBJECT_MAX: usize = 120;
/// Fewest characters in an IO markdown body.
pub const IO_MARKDOWN_MIN: usize = 80;
/// Most characters in an IO markdown body.
pub const IO_MARKDOWN_MAX: usize = 10_000;

/// The fixed INPS footer of IO messages. Longer than [`IO_MARKDOWN_MIN`] on
/// its own, so a short text with the footer is always long enough.
pub const IO_FOOTER: &str = "---\n\nMessaggio inviato dall'INPS, Istituto Nazionale della \
Previdenza Sociale. Per informazioni acceda a MyINPS su www.inps.it con SPID, CIE o CNS.";

/// The subject given when the notification has none.
const DEFAULT_SUBJECT: &str = "Comunicazione INPS";

/// Why a subject or a markdown body is not accepted by the IO app.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IoMessageError {
    /// The subject is too short or too long.
    #[error("an IO message subject has {min} to {max} characters, this one has {len}")]
    SubjectLength {
        /// The subject's length, in characters.
        len: usize,
        /// The fewest characters allowed.
        min: usize,
        /// The most characters allowed.
        max: usize,
    },
    /// The markdown body is too short or too long.
    #[error("an IO message markdown body has {min} to {max} characters, this one has {len}")]
    MarkdownLength {
        /// The body's length, in characters.
        len: usize,
        /// The fewest characters allowed.
        min: usize,
        /// The most characters allowed.
        max: usize,
    },
}

impl IoMessageError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            IoMessageError::SubjectLength { .. } => "io_subject_length",
            IoMessageError::MarkdownLength { .. } => "io_markdown_length",
        }
    }
}

/// N5: a subject and a markdown body within the IO app's bounds. Built only
/// through [`IoMessage::new`], [`IoMessage::fitting`] or deserialisation
/// (which validates), so a value is always accepted by the IO API.
///
/// ```
/// use deleghe_domain::notification::{IoMessage, IoMessageError};
///
/// assert!(IoMessage::new("Promemoria", &"x".repeat(80)).is_ok());
/// assert_eq!(
///     IoMessage::new("Avviso", &"x".repeat(80)),
///     Err(IoMessageError::SubjectLength { len: 6, min: 10, max: 120 })
/// );
/// // `fitting` never fails: a short text gets the INPS footer.
/// let m = IoMessage::fitting("Avviso", "Prenotazione confermata.");
/// assert!(m.markdown().starts_with("Prenotazione confermata."));
/// assert!(m.markdown().chars().count() >= 80);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawIoMessage", into = "RawIoMessage")]
pub struct IoMessage {
    subject: String,
    markdown: String,
}

#[derive(Serialize, Deserialize)]
struct RawIoMessage {
    subject: String,
    markdown: String,
}

impl TryFrom<RawIoMessage> for IoMessage {
    type Error = IoMessageError;
    fn try_from(raw: RawIoMessage) -> Result<Self, Self::Error> {
        IoMessage::new(&raw.subject, &raw.markdown)
    }
}

impl From<IoMessage> for RawIoMessage {
    fn from(m: IoMessage) -> Self {
        RawIoMessage {
            subject: m.subject,
            markdown: m.markdown,
        }
    }
}

fn check_subject(subject: &str) -> Result<(), IoMessageError> {
    let len = subject.chars().count();
    if (IO_SUBJECT_MIN..=IO_SUBJECT_MAX).contains(&len) {
        Ok(())
    } else {
        Err(IoMessageError::SubjectLength {
            len,
            min: IO_SUBJECT_MIN,
            max: IO_SUBJECT_MAX,
        })
    }
}

fn check_markdown(markdown: &str) -> Result<(), IoMessageError> {
    let len = markdown.chars().count();
    if (IO_MARKDOWN_MIN..=IO_MARKDOWN_MAX).contains(&len) {
        Ok(())
    } else {
        Err(IoMessageError::MarkdownLength {
            len,
            min: IO_MARKDOWN_MIN,
            max: IO_MARKDOWN_MAX,
        })
    }
}

/// The first `max - 1` characters and an ellipsis, so exactly `max`.
fn truncate(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

impl IoMessage {
    /// Validates `subject` (10–120 characters) and `markdown` (80–10,000
    /// characters), taken as given: nothing is trimmed.
    pub fn new(subject: &str, markdown: &str) -> Result<Self, IoMessageError> {
        check_subject(subject)?;
        check_markdown(markdown)?;
        Ok(Self {
            subject: subject.to_owned(),
            markdown: markdown.to_owned(),
        })
    }

    /// A valid message made from any subject and text, each part kept
    /// unchanged when already within its bounds, otherwise:
    /// - a subject that is empty becomes `Comunicazione INPS`; one shorter
    ///   than 10 characters is prefixed with it (`Comunicazione INPS: Avviso`);
    ///   one longer than 120 is cut to 119 characters and `…`;
    /// - a markdown body shorter than 80 characters gets a blank line and the
    ///   fixed [`IO_FOOTER`]; one longer than 10,000 is cut to 9,999
    ///   characters and `…`.
    ///
    /// Fitting a fitted message changes nothing.
    pub fn fitting(subject: &str, markdown: &str) -> Self {
        let subject = match subject.chars().count() {
            n if (IO_SUBJECT_MIN..=IO_SUBJECT_MAX).contains(&n) => subject.to_owned(),
            n if n > IO_SUBJECT_MAX => truncate(subject, IO_SUBJECT_MAX),
            _ => {
                let short = subject.trim();
                if short.is_empty() {
                    DEFAULT_SUBJECT.to_owned()
                } else {
                    format!("{DEFAULT_SUBJECT}: {short}")
                }
            }
        };
        let markdown = match markdown.chars().count() {
            n if (IO_MARKDOWN_MIN..=IO_MARKDOWN_MAX).contains(&n) => markdown.to_owned(),
            n if n > IO_MARKDOWN_MAX => truncate(markdown, IO_MARKDOWN_MAX),
            _ => with_footer(markdown),
        };
        debug_assert!(check_subject(&subject).is_ok() && check_markdown(&markdown).is_ok());
        Self { subject, markdown }
    }

    /// The subject, within the IO app's bounds.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The markdown body, within the IO app's bounds.
    pub fn markdown(&self) -> &str {
        &self.markdown
    }
}

/// `text`, a blank line and the INPS footer (the footer alone if `text` is
/// blank). At least [`IO_MARKDOWN_MIN`] characters.
pub(super) fn with_footer(text: &str) -> String {
    let text = text.trim_end();
    if text.trim().is_empty() {
        IO_FOOTER.to_owned()
    } else {
        format!("{text}\n\n{IO_FOOTER}")
    }
}
