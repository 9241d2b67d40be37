//! The store a conformance case runs on: one place where events are kept,
//! any number of connections to it ([`StoreUnderTest::connect`]), and what
//! removes it once the case has passed.
//!
//! Ready-made: [`StoreUnderTest::memory`], `StoreUnderTest::sqlite` (a new
//! file in the temporary directory; feature `sqlite`, the default),
//! `StoreUnderTest::postgres` (a new schema on a server; feature
//! `postgres`). Any other store, a custom one included, is
//! [`StoreUnderTest::new`] with a function that opens a [`Repository`] on it.
//!
//! ```
//! use deleghe_adapters::Repository;
//! use deleghe_testkit::store::StoreUnderTest;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // One in-memory log, reached through every connection.
//! let shared = Repository::memory();
//! let store = StoreUnderTest::new(move || {
//!     let shared = shared.clone();
//!     async move { shared }
//! });
//! store.connect().await.save_checkpoint("reader", 4).await.unwrap();
//! assert_eq!(store.connect().await.checkpoint("reader").await.unwrap(), 4);
//! store.remove().await;
//! # }
//! ```

use std::collections::BTreeSet;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use deleghe_adapters::Repository;

/// The environment variable that names the PostgreSQL server of the tests
/// (`postgres://postgres@127.0.0.1:5432/test`, say).
pub const POSTGRES_URL_VAR: &str = "DELEGHE_TEST_POSTGRES_URL";

type Boxed<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type Connect = Arc<dyn Fn() -> Boxed<Repository> + Send + Sync>;
type Remove = Arc<dyn Fn() -> Boxed<()> + Send + Sync>;

/// A store under test: how to open a connection to it, and how to remove it.
///
/// Clones reach the same store.
#[derive(Clone)]
pub struct StoreUnderTest {
    connect: Connect,
    remove: Option<Remove>,
    url: Option<String>,
}

impl std::fmt::Debug for StoreUnderTest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreUnderTest")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl StoreUnderTest {
    /// A store reached by calling `connect`: each call must open a new
    /// [`Repository`] on the same, already existing, store (the conformance
    /// suite reconnects to check what a store keeps across connections).
    pub fn new<F, Fut>(connect: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Repository> + Send + 'static,
    {
        Self {
            connect: Arc::new(move || Box::pin(connect())),
            remove: None,
            url: None,
        }
    }

    /// Runs `remove` when the store is no longer needed (after a case that
    /// passed; a failed case leaves its store to be looked at).
    pub fn on_remove<F, Fut>(mut self, remove: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.remove = Some(Arc::new(move || Box::pin(remove())));
        self
    }

    /// A new in-memory store; every connection is a handle on the same log.
    pub fn memory() -> Self {
        let shared = Repository::memory();
        Self::new(move || {
            let shared = shared.clone();
            async move { shared }
        })
    }

    /// A store at `url`, opened with [`Repository::connect`] (its schema
    /// created on the first connection).
    ///
    /// # Panics
    ///
    /// [`connect`](Self::connect) panics if the store cannot be opened.
    pub fn at_url(url: &str) -> Self {
        let owned = url.to_owned();
        let mut store = Self::new(move || {
            let url = owned.clone();
            async move {
                Repository::connect(&url)
                    .await
                    .unwrap_or_else(|e| panic!("cannot open the test store: {e}"))
            }
        });
        store.url = Some(url.to_owned());
        store
    }

    /// A new SQLite file in the temporary directory, removed with its
    /// journal files (feature `sqlite`).
    #[cfg(feature = "sqlite")]
    pub fn sqlite() -> Self {
        let file = std::env::temp_dir().join(format!("{}.db", unique_name("deleghe_test")));
        let path = file.clone();
        Self::at_url(&format!("sqlite://{}", file.display())).on_remove(move || {
            let file = path.clone();
            async move {
                for suffix in ["", "-wal", "-shm"] {
                    let mut path = file.clone().into_os_string();
                    path.push(suffix);
                    let _ = std::fs::remove_file(std::path::PathBuf::from(path));
                }
            }
        })
    }

    /// A new schema on the PostgreSQL server at `server`, dropped on removal
    /// (feature `postgres`).
    #[cfg(feature = "postgres")]
    pub fn postgres(server: &str) -> Self {
        let schema = unique_name("t");
        let separator = if server.contains('?') { '&' } else { '?' };
        let (server, dropped) = (server.to_owned(), schema.clone());
        Self::at_url(&format!("{server}{separator}schema={schema}")).on_remove(move || {
            let (server, schema) = (server.clone(), dropped.clone());
            async move {
                use deleghe_adapters::sqlx::{self, Connection};
                let mut conn = sqlx::PgConnection::connect(&server)
                    .await
                    .expect("the PostgreSQL server");
                sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                    .execute(&mut conn)
                    .await
                    .expect("the schema dropped");
                let _ = conn.close().await;
            }
        })
    }

    /// [`postgres`](Self::postgres) on the server of [`postgres_server`];
    /// `None` without one (feature `postgres`).
    #[cfg(feature = "postgres")]
    pub fn postgres_from_env() -> Option<Self> {
        postgres_server().map(|server| Self::postgres(&server))
    }

    /// The URL the store is opened with, for a store made from one.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// A new connection to the store.
    pub async fn connect(&self) -> Repository {
        (self.connect)().await
    }

    /// Removes the store (nothing, for a store made without
    /// [`on_remove`](Self::on_remove)).
    pub async fn remove(self) {
        if let Some(remove) = self.remove {
            remove().await;
        }
    }
}

/// The PostgreSQL server named by [`POSTGRES_URL_VAR`]; `None`, said on
/// stderr, when it is not set.
pub fn postgres_server() -> Option<String> {
    server_from_env(POSTGRES_URL_VAR)
}

/// The server of a store named by the environment variable `var`; `None`
/// when it is not set, said once on stderr (past the test harness's
/// capture) so that a skipped store is seen.
pub fn server_from_env(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(server) if !server.is_empty() => Some(server),
        _ => {
            static SAID: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
            if SAID
                .lock()
                .map(|mut said| said.insert(var.to_owned()))
                .unwrap_or(false)
            {
                let _ = writeln!(
                    std::io::stderr(),
                    "skipping the tests of the store of {var}: it is not set \
                     (scripts/test sets it when the server is up)"
                );
            }
            None
        }
    }
}

/// A name no other store of this run or of another uses: `prefix`, the
/// process id, a counter and the clock's nanoseconds.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
