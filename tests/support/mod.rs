//! Shared fixtures of the integration tests: those of `deleghe-testkit`,
//! and fresh stores of every kind.
#![allow(dead_code, unused_imports)]

use deleghe::adapters::Repository;
use deleghe::domain::FiscalCode;
use deleghe_testkit::store::{postgres_server, StoreUnderTest};

pub use deleghe_testkit::fixtures::{
    access_codes, meeting_ready, meta, operator, people as codes, person, request, slot_of, t0,
    tuesday_9, web_booking, web_counter,
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
}

/// An empty store of the kind: a new in-memory log, a new SQLite file, or
/// a new schema on the PostgreSQL server.
pub async fn fresh(store: &Store) -> Repository {
    match store {
        Store::Memory => Repository::memory(),
        Store::Sqlite => StoreUnderTest::sqlite().connect().await,
        Store::Postgres(url) => StoreUnderTest::postgres(url).connect().await,
    }
}

/// The PostgreSQL store of the tests, if `DELEGHE_TEST_POSTGRES_URL` is set;
/// otherwise says clearly that the PostgreSQL variant is skipped.
pub fn postgres_store() -> Option<Store> {
    postgres_server().map(Store::Postgres)
}
