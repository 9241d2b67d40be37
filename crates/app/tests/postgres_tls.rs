//! TLS to PostgreSQL: a URL's `sslmode` is honoured by the app as built on
//! its own (docs/STORES.md). These tests build the app's crate without the
//! rest of the workspace, so its features are the shipped binary's: before
//! its store had TLS, `sslmode=require` could not connect at all, and
//! `sslmode=prefer`, the default, talked plain text to a server that
//! offers TLS. On the server of `DELEGHE_TEST_POSTGRES_URL`, in a schema of
//! the test's own; skipped, saying so, without it.

use deleghe_adapters::Repository;
use deleghe_testkit::store::postgres_server;

/// Whether the connection the query runs on is encrypted.
async fn encrypted(repository: &Repository) -> bool {
    sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(repository.postgres_pool().expect("a PostgreSQL store"))
        .await
        .expect("pg_stat_ssl answers")
}

#[tokio::test]
async fn a_url_asking_for_tls_gets_it_and_one_refusing_it_does_not() {
    let Some(server) = postgres_server() else {
        return;
    };
    let schema = format!("tls_{}", std::process::id());
    let url = |mode: &str| format!("{server}?schema={schema}&sslmode={mode}");
    let plain = deleghe_app::server::connect(&url("disable"))
        .await
        .expect("the store opens in plain text");
    let pool = plain.postgres_pool().expect("a PostgreSQL store");
    assert!(!encrypted(&plain).await, "sslmode=disable encrypted");
    let offered: String = sqlx::query_scalar("SHOW ssl")
        .fetch_one(pool)
        .await
        .expect("SHOW ssl");

    // Every answer taken before any is checked, so that the schema is
    // dropped whatever they are.
    let required = match deleghe_app::server::connect(&url("require")).await {
        Ok(repository) => Ok(encrypted(&repository).await),
        Err(error) => Err(error.to_string()),
    };
    let preferred = match deleghe_app::server::connect(&url("prefer")).await {
        Ok(repository) => Ok(encrypted(&repository).await),
        Err(error) => Err(error.to_string()),
    };
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(pool)
        .await
        .expect("the test's schema dropped");

    if offered == "on" {
        assert_eq!(
            required,
            Ok(true),
            "the server offers TLS: sslmode=require connects, encrypted"
        );
        assert_eq!(
            preferred,
            Ok(true),
            "the server offers TLS: sslmode=prefer connects, encrypted"
        );
    } else {
        let message = required.expect_err("no TLS offered: sslmode=require fails");
        assert!(
            message.contains("TLS") || message.contains("SSL"),
            "the error does not say TLS: {message}"
        );
        assert_eq!(
            preferred,
            Ok(false),
            "sslmode=prefer falls back to plain text"
        );
    }
}
