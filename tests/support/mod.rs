//! Shared fixtures of the integration tests: those of `deleghe-testkit`,
//! and fresh stores of every kind.
#![allow(dead_code, unused_imports)]

use deleghe::adapters::Repository;
use deleghe::domain::FiscalCode;
use deleghe_testkit::store::{postgres_server, server_from_env, unique_name, StoreUnderTest};

pub use deleghe_testkit::fixtures::{
    access_codes, in_person_booking, in_person_counter, meeting_ready, meta, operator,
    people as codes, person, request, slot_of, t0, tuesday_9, web_booking, web_booking_for,
    web_counter,
};

/// The eight people of most scenarios.
pub fn people() -> Vec<FiscalCode> {
    codes(8)
}

/// Which kind of store a test runs on; [`fresh`] makes an empty one.
#[derive(Clone, Debug)]
pub enum Store {
    Memory,
    Sqlite,
    Postgres(String),
    /// The server's URL, `mysql://USER@HOST:PORT`.
    MariaDb(String),
}

/// An empty store of the kind: a new in-memory log, a new SQLite file, or
/// a new schema on the PostgreSQL server.
pub async fn fresh(store: &Store) -> Repository {
    match store {
        Store::Memory => Repository::memory(),
        Store::Sqlite => StoreUnderTest::sqlite().connect().await,
        Store::Postgres(url) => StoreUnderTest::postgres(url).connect().await,
        Store::MariaDb(server) => open(&mariadb_database(server).await).await,
    }
}

/// A new, empty database on the MariaDB server at `server`: its URL.
pub async fn mariadb_database(server: &str) -> String {
    use deleghe_store_mariadb::sqlx::{Connection, Executor, MySqlConnection};
    let database = unique_name("t");
    let mut conn = MySqlConnection::connect(server)
        .await
        .expect("the MariaDB server");
    conn.execute(format!("CREATE DATABASE {database}").as_str())
        .await
        .expect("a database of the test's own");
    conn.close().await.unwrap();
    format!("{}/{database}", server.trim_end_matches('/'))
}

/// A new, empty database on the MariaDB server at `server`, as a store
/// under test: opened with the MariaDB store crate, dropped on removal.
pub async fn mariadb_under_test(server: &str) -> StoreUnderTest {
    let url = mariadb_database(server).await;
    let database = url.rsplit('/').next().unwrap_or_default().to_owned();
    let server = server.to_owned();
    StoreUnderTest::new(move || {
        let url = url.clone();
        async move { open(&url).await }
    })
    .on_remove(move || {
        let (server, database) = (server.clone(), database.clone());
        async move {
            use deleghe_store_mariadb::sqlx::{Connection, Executor, MySqlConnection};
            let mut conn = MySqlConnection::connect(&server).await.unwrap();
            conn.execute(format!("DROP DATABASE {database}").as_str())
                .await
                .unwrap();
            conn.close().await.unwrap();
        }
    })
}

/// Opens the store at `url`, of any kind the tests use (MariaDB's is a
/// crate of its own).
pub async fn open(url: &str) -> Repository {
    if url.starts_with("mysql:") {
        deleghe_store_mariadb::connect(url)
            .await
            .expect("MariaDB store")
    } else {
        Repository::connect(url).await.expect("the store opens")
    }
}

/// The MariaDB server of the tests, if `DELEGHE_TEST_MARIADB_URL` is set;
/// otherwise says clearly that the MariaDB variants are skipped.
pub fn mariadb_server() -> Option<String> {
    server_from_env("DELEGHE_TEST_MARIADB_URL")
}

/// The MariaDB store of the tests, if its server is given.
pub fn mariadb_store() -> Option<Store> {
    mariadb_server().map(Store::MariaDb)
}

/// The PostgreSQL store of the tests, if `DELEGHE_TEST_POSTGRES_URL` is set;
/// otherwise says clearly that the PostgreSQL variant is skipped.
pub fn postgres_store() -> Option<Store> {
    postgres_server().map(Store::Postgres)
}
