//! What can go wrong when running a command: a rule refused it, a concurrent
//! update kept winning, or the store failed. Storage errors keep their source.

use cqrs_es::persist::PersistenceError;
use cqrs_es::AggregateError;
use deleghe_domain::flows::Refusal;

#[derive(Debug, thiserror::Error)]
/// Why a command, a flow or a read failed: a rule refused it, or the store
/// failed in one of a few kinds (docs/CONVENTIONS.md, habit 7), with the error
/// it came from where there is one.
pub enum ServiceError {
    /// A domain rule refused the command (422 with the rule's code).
    #[error(transparent)]
    Rule(#[from] Refusal),
    /// Optimistic-concurrency conflicts outlasted the retries (409).
    #[error("a concurrent update kept winning; try again")]
    Conflict,
    /// The store could not be reached or failed.
    #[error("the store is unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Stored data could not be read back.
    #[error("stored data is unreadable: {0}")]
    Corrupt(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A rule's refusal stored before refusals kept their type: its code
    /// alone (422 with that code).
    #[error("refused by a rule ({0})")]
    RefusedEarlier(String),
    /// The library was called in a way it does not support (a command whose
    /// issuer is not the metadata's, say): a bug of the caller, not a rule.
    #[error("the library was misused: {0}")]
    Misuse(&'static str),
}

impl ServiceError {
    /// The stable code of the HTTP contract.
    pub fn code(&self) -> &str {
        match self {
            Self::Rule(r) => r.code(),
            Self::Conflict => "conflict",
            Self::Unavailable(_) => "unavailable",
            Self::Corrupt(_) => "corrupt",
            Self::Misuse(_) => "misuse",
            Self::RefusedEarlier(code) => code,
        }
    }

    pub(crate) fn from_aggregate<E: std::error::Error + Into<Refusal>>(
        error: AggregateError<E>,
    ) -> Self {
        match error {
            AggregateError::UserError(e) => Self::Rule(e.into()),
            AggregateError::AggregateConflict => Self::Conflict,
            AggregateError::DatabaseConnectionError(e) => Self::Unavailable(e),
            AggregateError::DeserializationError(e) => Self::Corrupt(e),
            AggregateError::UnexpectedError(e) => Self::Unavailable(e),
        }
    }
}

impl From<PersistenceError> for ServiceError {
    fn from(error: PersistenceError) -> Self {
        match error {
            PersistenceError::OptimisticLockError => Self::Conflict,
            PersistenceError::ConnectionError(e) => Self::Unavailable(e),
            PersistenceError::DeserializationError(e) => Self::Corrupt(e),
            PersistenceError::UnknownError(e) => Self::Unavailable(e),
        }
    }
}
