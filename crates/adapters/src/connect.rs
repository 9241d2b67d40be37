//! Opening a store from its URL: `memory:`, `sqlite://FILE` (feature
//! `sqlite`, the default) or `postgres://...` (feature `postgres`). A URL of
//! a store this build leaves out says which feature brings it.

pub use crate::repository::Repository;

/// The environment variable an application reads the store's URL from.
pub const DATABASE_URL_VAR: &str = "DELEGHE_DATABASE_URL";

/// The store when [`DATABASE_URL_VAR`] is not set: a SQLite file in the
/// working directory, created with its schema on first use.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://deleghe.sqlite";

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
    /// The scheme names a store this build was compiled without.
    #[error(
        "this build has no {backend} store: build deleghe-adapters with the feature `{feature}`"
    )]
    NotBuilt {
        /// `SQLite` or `PostgreSQL`.
        backend: &'static str,
        /// The cargo feature that brings it.
        feature: &'static str,
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
    #[cfg(feature = "sqlite")]
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
    #[cfg(feature = "postgres")]
    #[error("cannot connect to the PostgreSQL server at {server}: {source}")]
    Postgres {
        /// `HOST:PORT/DATABASE` (the user's name if the URL names no
        /// database), never the password.
        server: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A server of another SQL store (a store crate of its own) could not be
    /// reached or refused the connection.
    #[cfg(feature = "sql")]
    #[error("cannot connect to the {backend} server at {server}: {source}")]
    Server {
        /// The database's name, e.g. `MariaDB`.
        backend: &'static str,
        /// `HOST:PORT/DATABASE`, never the password.
        server: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The schema could not be brought up to date: a migration failed, or the
    /// migrations the database records are not this build's.
    #[cfg(feature = "sql")]
    #[error("cannot apply the {backend} schema migrations: {source}")]
    Migrate {
        /// `SQLite`, `PostgreSQL`, ...
        backend: &'static str,
        /// sqlx's migration error.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
}

/// Opens the store `url` names ([`Repository::connect`]).
pub(crate) async fn connect(url: &str) -> Result<Repository, ConnectError> {
    let scheme = url.split_once(':').map_or(url, |(scheme, _)| scheme);
    match scheme {
        "memory" => Ok(Repository::memory()),
        "sqlite" => sqlite(url).await,
        "postgres" | "postgresql" => postgres(url).await,
        _ => Err(ConnectError::UnsupportedScheme {
            scheme: scheme.to_owned(),
        }),
    }
}

#[cfg(feature = "sqlite")]
async fn sqlite(url: &str) -> Result<Repository, ConnectError> {
    let options = crate::sql::sqlite::options(url)?;
    Ok(Repository::from_sqlite_pool(
        crate::sql::sqlite::open(options).await?,
    ))
}

#[cfg(not(feature = "sqlite"))]
async fn sqlite(_: &str) -> Result<Repository, ConnectError> {
    Err(ConnectError::NotBuilt {
        backend: "SQLite",
        feature: "sqlite",
    })
}

#[cfg(feature = "postgres")]
async fn postgres(url: &str) -> Result<Repository, ConnectError> {
    let (options, schema) = crate::sql::postgres::options(url)?;
    Ok(Repository::from_postgres_pool(
        crate::sql::postgres::open(options, schema.as_deref()).await?,
    ))
}

#[cfg(not(feature = "postgres"))]
async fn postgres(_: &str) -> Result<Repository, ConnectError> {
    Err(ConnectError::NotBuilt {
        backend: "PostgreSQL",
        feature: "postgres",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn urls_choose_the_store() {
        assert!(connect("memory:").await.is_ok());
        let Err(error) = connect("mysql://root@localhost/db").await else {
            panic!("mysql is not a store of this crate");
        };
        assert!(matches!(&error, ConnectError::UnsupportedScheme { scheme } if scheme == "mysql"));
        assert!(error.to_string().contains("sqlite://FILE"));
    }

    #[cfg(feature = "postgres")]
    #[tokio::test]
    async fn postgres_schemas_are_checked() {
        assert!(matches!(
            connect("postgres://u@h/db?schema=Bad-Name").await,
            Err(ConnectError::InvalidUrl { .. })
        ));
    }

    #[cfg(not(feature = "postgres"))]
    #[tokio::test]
    async fn a_store_left_out_names_its_feature() {
        let Err(error) = connect("postgres://u@h/db").await else {
            panic!("no PostgreSQL in this build");
        };
        assert!(error.to_string().contains("feature `postgres`"), "{error}");
    }
}
