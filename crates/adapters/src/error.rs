//! What can go wrong when running a command: a rule refused it, a concurrent
//! update kept winning, or the store failed. Storage errors keep their source.

use cqrs_es::persist::PersistenceError;
use cqrs_es::AggregateError;
use deleghe_domain::booking::BookingId;
use deleghe_domain::delegation::DelegationId;
use deleghe_domain::flows::Refusal;
use deleghe_domain::FiscalCode;

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
    /// The request is stored and its flow under way, but it had not settled
    /// when the call returned (a step failed for a passing reason, or another
    /// driver holds it): the flow runner finishes it. Ask again for the
    /// outcome (`202` with a `Location` in the app).
    #[error("{0} is accepted and still being settled")]
    Pending(Unsettled),
    /// A read asked for the read models at a log position they had not
    /// reached when its wait ended ([`crate::System::read_models_at`]):
    /// ask again shortly (`503` with `Retry-After` in the app).
    #[error("the read models are at position {reached}, not yet at {wanted}")]
    Behind {
        /// The position the read asked for.
        wanted: i64,
        /// The position the read models had applied when the wait ended.
        reached: i64,
    },
    /// A read asked for the read models at a log position the log has not
    /// reached: no write answered with it (`400` in the app).
    #[error("position {wanted} is beyond the end of the log ({head})")]
    BeyondLog {
        /// The position the read asked for.
        wanted: i64,
        /// The position of the log's last event.
        head: i64,
    },
}

/// What a [`ServiceError::Pending`] left under way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsettled {
    /// A registration (D1–D7): the grantor's stream holds it pending.
    Delegation {
        /// Whose stream.
        grantor: FiscalCode,
        /// The delegation asked for.
        id: DelegationId,
    },
    /// A booking (B1–B6): the booker's stream holds it pending.
    Booking {
        /// Whose stream.
        booker: FiscalCode,
        /// The booking asked for.
        id: BookingId,
    },
}

impl std::fmt::Display for Unsettled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Delegation { id, .. } => write!(f, "delegation {id}"),
            Self::Booking { id, .. } => write!(f, "booking {id}"),
        }
    }
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
            Self::Pending(_) => "pending",
            Self::Behind { .. } => "read_models_behind",
            Self::BeyondLog { .. } => "position_beyond_log",
        }
    }

    /// Whether the store could not be reached at all: no connection within
    /// the pool's wait, the pool closed, or the connection's own I/O failed
    /// (ADR 0020). A statement the database refused (a deadlock, a lock
    /// timeout), or an error of the process's own, is not.
    pub(crate) fn store_unreachable(&self) -> bool {
        #[cfg(feature = "sql")]
        if let Self::Unavailable(source) = self {
            return matches!(
                source.downcast_ref::<sqlx::Error>(),
                Some(
                    sqlx::Error::PoolTimedOut
                        | sqlx::Error::PoolClosed
                        | sqlx::Error::Io(_)
                        | sqlx::Error::Tls(_)
                )
            );
        }
        false
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
