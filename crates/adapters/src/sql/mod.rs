//! The SQL stores: SQLite (the embedded default) and PostgreSQL, on the
//! tables of sqlite-es and postgres-es.
//!
//! This module opens them from a URL, applies the versioned migrations of
//! `crates/adapters/migrations/{sqlite,postgres}` on every start, and runs
//! every statement the library needs: the event repository's (streams,
//! appends, the global log in commit order, the checkpoints of its readers)
//! and the read side's. Layout:
//! - `statements.rs`: every statement's Rust, written once for every
//!   dialect (binding, decoding, batching, errors);
//! - `dialect.rs`: the `Dialect` trait, what a database
//!   does its own way: its driver, the statements it writes otherwise than
//!   the standard text of [`queries`], how it binds many rows;
//! - `sqlite.rs`, `postgres.rs`: the two dialects, and opening each from
//!   its URL;
//! - `store.rs`: a store on its pool, generic over the dialect, behind the
//!   repository's and the read side's ports;
//! - `gate.rs`: the turns its writers take in the process, where the
//!   database lets one writer in at a time (SQLite).
//!
//! The schema is in the migrations; `docs/STORES.md` explains both.
//!
//! [`sqlx`] is re-exported so that read models, tests and embedders use the
//! very version sqlite-es and postgres-es were built with.

mod dialect;
mod gate;
mod lend;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
pub mod queries;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite;
pub(crate) mod statements;
mod store;

use std::time::Duration;

use cqrs_es::persist::PersistenceError;
use sqlx::migrate::{Migrate, Migrator};
use sqlx::{Database, Pool};

pub use sqlx;

pub use dialect::{Dialect, Rows, Value};
#[cfg(feature = "postgres")]
pub use postgres::migrate as migrate_postgres;
#[cfg(feature = "postgres")]
pub(crate) use postgres::PostgresDialect;
#[cfg(feature = "sqlite")]
pub use sqlite::migrate as migrate_sqlite;
#[cfg(feature = "sqlite")]
pub(crate) use sqlite::SqliteDialect;
#[cfg(feature = "sqlite")]
pub use sqlite::{options as sqlite_options, pool_options as sqlite_pool_options};
pub use store::SqlStore;

pub use crate::connect::ConnectError;
use crate::error::ServiceError;

/// How long a command waits for a pooled connection before the store is
/// reported unavailable.
pub(crate) const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) fn invalid(backend: &'static str, error: sqlx::Error) -> ConnectError {
    ConnectError::InvalidUrl {
        backend,
        reason: error.to_string(),
    }
}

/// Applies the migrations of `migrator` not yet applied (recorded in
/// `_sqlx_migrations`), for the database `backend` names in its errors: how
/// a store crate brings its schema up to date.
pub async fn migrate<DB>(
    migrator: &Migrator,
    pool: &Pool<DB>,
    backend: &'static str,
) -> Result<(), ConnectError>
where
    DB: Database,
    DB::Connection: Migrate,
{
    migrator
        .run(pool)
        .await
        .map_err(|source| ConnectError::Migrate { backend, source })
}

/// Storage errors sorted into the service's kinds, the source kept.
pub(crate) fn service_error(error: sqlx::Error) -> ServiceError {
    match error {
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::TypeNotFound { .. } => ServiceError::Corrupt(Box::new(error)),
        other => ServiceError::Unavailable(Box::new(other)),
    }
}

fn persistence_error(error: sqlx::Error) -> PersistenceError {
    match error {
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::TypeNotFound { .. } => {
            PersistenceError::DeserializationError(Box::new(error))
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed => PersistenceError::ConnectionError(Box::new(error)),
        other => PersistenceError::UnknownError(Box::new(other)),
    }
}
