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
//!   repository's and the read side's ports.
//!
//! The schema is in the migrations; `docs/STORES.md` explains both.
//!
//! [`sqlx`] is re-exported so that read models, tests and embedders use the
//! very version sqlite-es and postgres-es were built with.

mod dialect;
pub(crate) mod postgres;
pub mod queries;
pub(crate) mod sqlite;
pub(crate) mod statements;
pub(crate) mod store;

use std::time::Duration;

use cqrs_es::persist::PersistenceError;
use sqlx::migrate::{Migrate, MigrateError, Migrator};
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Database, Pool};

pub use sqlx;

pub use postgres::migrate as migrate_postgres;
pub(crate) use postgres::PostgresDialect;
pub use sqlite::migrate as migrate_sqlite;
pub(crate) use sqlite::SqliteDialect;

use crate::error::ServiceError;

/// The environment variable an application reads the store's URL from.
pub const DATABASE_URL_VAR: &str = "DELEGHE_DATABASE_URL";

/// The store when [`DATABASE_URL_VAR`] is not set: a SQLite file in the
/// working directory, created with its schema on first use.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://deleghe.sqlite";

/// How long a command waits for a pooled connection before the store is
/// reported unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a store could not be opened from its URL. The messages never carry a
/// password: PostgreSQL servers are named by host, port and database only.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL's scheme is none of `memory`, `sqlite`, `postgres` and
    /// `postgresql`.
    #[error(
        "unsupported store URL scheme {scheme:?}: expected `memory:`, `sqlite://FILE` \
         or `postgres://USER@HOST:PORT/DATABASE`"
    )]
    UnsupportedScheme {
        /// What the URL has before its first `:`.
        scheme: String,
    },
    /// The scheme is known, but the rest of the URL is not a valid address of
    /// that store, or its `?schema=` is not a valid schema name.
    #[error("invalid {backend} store URL: {reason}")]
    InvalidUrl {
        /// `SQLite` or `PostgreSQL`.
        backend: &'static str,
        /// What is wrong with the URL.
        reason: String,
    },
    /// The SQLite database could not be opened, nor created if missing.
    #[error("cannot open the SQLite database {path}: {source}")]
    Sqlite {
        /// The database's file (`:memory:` for one in memory).
        path: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The PostgreSQL server could not be reached, or refused the connection
    /// or the creation of the `?schema=`.
    #[error("cannot connect to the PostgreSQL server at {server}: {source}")]
    Postgres {
        /// `HOST:PORT/DATABASE` (the user's name if the URL names no
        /// database), never the password.
        server: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The schema could not be brought up to date: a migration failed, or the
    /// migrations the database records are not this build's.
    #[error("cannot apply the {backend} schema migrations: {source}")]
    Migrate {
        /// `SQLite` or `PostgreSQL`.
        backend: &'static str,
        /// sqlx's migration error.
        #[source]
        source: MigrateError,
    },
}

/// A store URL, understood.
pub(crate) enum StoreUrl {
    Memory,
    Sqlite(SqliteConnectOptions),
    Postgres {
        options: PgConnectOptions,
        /// From `?schema=NAME`: the schema every connection works in.
        schema: Option<String>,
    },
}

impl StoreUrl {
    pub(crate) fn parse(url: &str) -> Result<Self, ConnectError> {
        let scheme = url.split_once(':').map_or(url, |(scheme, _)| scheme);
        match scheme {
            "memory" => Ok(Self::Memory),
            "sqlite" => Ok(Self::Sqlite(sqlite::options(url)?)),
            "postgres" | "postgresql" => {
                let (options, schema) = postgres::options(url)?;
                Ok(Self::Postgres { options, schema })
            }
            _ => Err(ConnectError::UnsupportedScheme {
                scheme: scheme.to_owned(),
            }),
        }
    }
}

fn invalid(backend: &'static str, error: sqlx::Error) -> ConnectError {
    ConnectError::InvalidUrl {
        backend,
        reason: error.to_string(),
    }
}

/// Applies the migrations of `migrator` not yet applied (recorded in
/// `_sqlx_migrations`).
async fn migrate<DB>(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_the_store() {
        assert!(matches!(StoreUrl::parse("memory:"), Ok(StoreUrl::Memory)));
        assert!(matches!(
            StoreUrl::parse("sqlite://deleghe.db"),
            Ok(StoreUrl::Sqlite(_))
        ));
        assert!(matches!(
            StoreUrl::parse("postgres://postgres@127.0.0.1:5432/test?schema=t_1"),
            Ok(StoreUrl::Postgres { schema: Some(s), .. }) if s == "t_1"
        ));
        let Err(error) = StoreUrl::parse("mysql://root@localhost/db") else {
            panic!("mysql is not a store");
        };
        assert!(matches!(&error, ConnectError::UnsupportedScheme { scheme } if scheme == "mysql"));
        assert!(error.to_string().contains("sqlite://FILE"));
        assert!(matches!(
            StoreUrl::parse("postgres://u@h/db?schema=Bad-Name"),
            Err(ConnectError::InvalidUrl { .. })
        ));
    }

    #[test]
    fn connect_errors_do_not_show_passwords() {
        let Ok(StoreUrl::Postgres { options, .. }) =
            StoreUrl::parse("postgres://deleghe:s3cret@db.example:6543/deleghe")
        else {
            panic!("a valid URL");
        };
        let name = postgres::server_name(&options);
        assert_eq!(name, "db.example:6543/deleghe");
        assert!(!name.contains("s3cret"));
    }
}
