//! The store contract: the conformance suite of `deleghe-testkit`, the one
//! every store must pass, run on every store of the library, one test per
//! case:
//!
//! - `memory::*`: a new in-memory log per case;
//! - `sqlite::*`: a new SQLite file per case, in the temporary directory;
//! - `postgres::*`: a new schema per case in the database of
//!   `DELEGHE_TEST_POSTGRES_URL` (`scripts/test` sets it when the local
//!   server is up); without it they say so on stderr and pass, skipped;
//! - `mariadb::*`: a new database per case on the server of
//!   `DELEGHE_TEST_MARIADB_URL` (`mysql://USER@HOST:PORT`), through the
//!   MariaDB store crate; skipped likewise without it.
//!
//! What every store must do is the suite's (`deleghe_testkit::conformance`):
//! give back what it was given; surface optimistic-concurrency conflicts;
//! keep D2, D1 and B4 under concurrent requests; read out the log in commit
//! order; keep checkpoints across a reconnect; load old event versions
//! through the upcasters; let a restarted runner finish every flow a crash
//! stopped (D10). Here besides, what is particular to the library's own
//! stores: the frameworks' repositories read what the SQL stores keep,
//! `postgres_log::*` what only a store with concurrent writers can show,
//! and the errors of `Repository::connect`.

use std::sync::Arc;

use cqrs_es::persist::{PersistedEventRepository, SerializedEvent};
use cqrs_es::Aggregate;
use deleghe::adapters::repository::ConnectError;
use deleghe::adapters::sqlx;
use deleghe::adapters::{Actor, Deleghe, Metadata, Repository};
use deleghe::domain::delegation::Grantor;
use deleghe::domain::pin::PinAccount;
use deleghe::domain::{FiscalCode, Policy};
use deleghe_testkit::fixtures::{person, raw_event, request, t0};
use deleghe_testkit::store::{unique_name, StoreUnderTest};
use serde_json::json;

mod support;

mod memory {
    deleghe_testkit::conformance_tests!(|| async {
        deleghe_testkit::store::StoreUnderTest::memory()
    });
}

mod sqlite {
    deleghe_testkit::conformance_tests!(|| async {
        deleghe_testkit::store::StoreUnderTest::sqlite()
    });

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_frameworks_repositories_read_what_the_library_stores() {
        let store = super::StoreUnderTest::sqlite();
        super::the_frameworks_repositories_read_what_the_library_stores(&store).await;
        store.remove().await;
    }
}

mod postgres {
    deleghe_testkit::conformance_tests!(|| async {
        deleghe_testkit::store::StoreUnderTest::postgres_from_env()
    });

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_frameworks_repositories_read_what_the_library_stores() {
        let Some(store) = super::StoreUnderTest::postgres_from_env() else {
            return;
        };
        super::the_frameworks_repositories_read_what_the_library_stores(&store).await;
        store.remove().await;
    }
}

mod mariadb {
    use super::support::{mariadb_database, mariadb_server, mariadb_under_test};
    use deleghe_store_mariadb::sqlx::{Connection, Executor, MySqlConnection, Row};

    /// Found in review: `number_events()` opened a transaction and had no
    /// handler, so a statement of it that failed without InnoDB rolling
    /// the transaction back (a lock wait timed out, 1205) left that
    /// transaction open on the connection, and the pool lent the connection
    /// again: the appends made on it after would have stayed uncommitted,
    /// answered as stored, until the connection's end rolled them back
    /// (D10: nothing acknowledged is lost). The numbering now rolls back
    /// and reports the error.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn d10_a_numbering_that_fails_leaves_no_transaction_open() {
        let Some(server) = mariadb_server() else {
            return;
        };
        let url = mariadb_database(&server).await;
        let repository = deleghe_store_mariadb::connect(&url).await.unwrap();
        let grantor = super::person(0);
        super::rules(repository)
            .register_delegation(
                super::request("d-1", 0, 1),
                &super::citizen(&grantor, "c-1"),
            )
            .await
            .unwrap();
        // Another numberer holds the log's head.
        let mut holder = MySqlConnection::connect(&url).await.unwrap();
        holder.execute("BEGIN").await.unwrap();
        holder
            .execute("SELECT position FROM log_head WHERE only_row = 1 FOR UPDATE")
            .await
            .unwrap();
        let mut numberer = MySqlConnection::connect(&url).await.unwrap();
        numberer
            .execute("SET SESSION innodb_lock_wait_timeout = 1")
            .await
            .unwrap();
        let failed = numberer.execute("CALL number_events()").await;
        assert!(failed.is_err(), "the lock wait times out: {failed:?}");
        let open: i64 = numberer
            .fetch_one("SELECT CAST(@@in_transaction AS SIGNED)")
            .await
            .unwrap()
            .get(0);
        assert_eq!(open, 0, "a transaction left open by the failed numbering");
        holder.execute("ROLLBACK").await.unwrap();
        // Once the head is free the same connection numbers the events.
        numberer.execute("CALL number_events()").await.unwrap();
        let unnumbered: i64 = numberer
            .fetch_one("SELECT COUNT(*) FROM events WHERE position IS NULL")
            .await
            .unwrap()
            .get(0);
        assert_eq!(unnumbered, 0, "every event numbered");
        let database = url.rsplit('/').next().unwrap().to_owned();
        numberer
            .execute(format!("DROP DATABASE {database}").as_str())
            .await
            .unwrap();
    }

    deleghe_testkit::conformance_tests!(|| async {
        match mariadb_server() {
            Some(server) => Some(mariadb_under_test(&server).await),
            None => None,
        }
    });

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_frameworks_repositories_read_what_the_library_stores() {
        let Some(server) = mariadb_server() else {
            return;
        };
        let store = mariadb_under_test(&server).await;
        super::the_frameworks_repositories_read_what_the_library_stores(&store).await;
        store.remove().await;
    }
}

fn rules(repository: Repository) -> Deleghe {
    Deleghe::new(repository, Policy::default()).with_clock(Arc::new(t0))
}

fn citizen(who: &FiscalCode, correlation: &str) -> Metadata {
    Metadata::new(Actor::Citizen(who.clone()), "web").with_correlation_id(correlation)
}

async fn stored<A: Aggregate>(repository: &Repository, id: &str) -> Vec<SerializedEvent> {
    repository.get_events::<A>(id).await.unwrap()
}

/// The library runs its own statements on the tables of sqlite-es and
/// postgres-es (ADR 0005): their repositories read back what it stored,
/// event for event, and the library reads back what they store.
async fn the_frameworks_repositories_read_what_the_library_stores(store: &StoreUnderTest) {
    let repository = store.connect().await;
    let rules = rules(repository.clone());
    let grantor = person(0);
    rules
        .register_delegation(request("d-1", 0, 1), &citizen(&grantor, "c-framework"))
        .await
        .unwrap();
    let ours = stored::<Grantor>(&repository, grantor.as_str()).await;
    let registered = ours
        .iter()
        .filter(|e| e.event_type == "DelegationRegistered");
    assert_eq!(registered.count(), 1);
    let extra = raw_event(
        PinAccount::TYPE,
        "PINFRAMEWORK",
        1,
        json!({"PinLocked": {"at": "2026-01-10T09:00:00Z"}}),
    );
    /// What the framework's repository reads of the grantor, and of the
    /// event it stores itself.
    async fn through<R: PersistedEventRepository>(
        framework: R,
        grantor: &FiscalCode,
        extra: &SerializedEvent,
    ) -> (Vec<SerializedEvent>, Vec<SerializedEvent>) {
        framework
            .persist::<PinAccount>(std::slice::from_ref(extra), None)
            .await
            .unwrap();
        (
            framework
                .get_events::<Grantor>(grantor.as_str())
                .await
                .unwrap(),
            framework
                .get_events::<PinAccount>("PINFRAMEWORK")
                .await
                .unwrap(),
        )
    }
    if let Some(pool) = repository.pool::<deleghe_store_mariadb::sqlx::MySqlPool>() {
        // mysql-es writes into the MariaDB store's table and the library
        // reads it. The other way does not work on MariaDB: the keys are
        // `utf8mb4_bin` (byte order, as on the other stores) and MariaDB
        // marks such columns binary, which mysql-es's sqlx will not decode
        // as text (the store's own statements cast them).
        let framework = mysql_es::MysqlEventRepository::new(pool.clone());
        framework
            .persist::<PinAccount>(std::slice::from_ref(&extra), None)
            .await
            .unwrap();
        assert_eq!(
            stored::<PinAccount>(&repository, "PINFRAMEWORK").await,
            vec![extra]
        );
        return;
    }
    let (theirs, written) = match (repository.sqlite_pool(), repository.postgres_pool()) {
        (Some(pool), _) => {
            let framework = sqlite_es::SqliteEventRepository::new(pool.clone());
            through(framework, &grantor, &extra).await
        }
        (None, Some(pool)) => {
            let framework = postgres_es::PostgresEventRepository::new(pool.clone());
            through(framework, &grantor, &extra).await
        }
        (None, None) => unreachable!("a SQL store"),
    };
    assert_eq!(theirs, ours);
    assert_eq!(written, vec![extra.clone()]);
    assert_eq!(
        stored::<PinAccount>(&repository, "PINFRAMEWORK").await,
        vec![extra]
    );
}

// ------------------------------------------------------------------ PostgreSQL only

/// What only a store with concurrent writers can show: the log never lets a
/// reader step past a transaction that commits late.
mod postgres_log {
    use super::*;
    use sqlx::{PgPool, Postgres, Transaction};

    async fn insert(tx: &mut Transaction<'_, Postgres>, id: &str, sequence: i64) {
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
             event_version, payload, metadata) VALUES ('raw', $1, $2, 'Raw', '1.0', $3, $4)",
        )
        .bind(id)
        .bind(sequence)
        .bind(json!({"Raw": {}}))
        .bind(json!({"actor": "system", "channel": "test", "correlation_id": "c-raw"}))
        .execute(&mut **tx)
        .await
        .unwrap();
    }

    fn ids(log: &[deleghe::adapters::repository::Positioned]) -> Vec<String> {
        log.iter()
            .map(|p| format!("{}/{}", p.event.aggregate_id, p.event.sequence))
            .collect()
    }

    async fn pool(repository: &Repository) -> PgPool {
        repository
            .postgres_pool()
            .expect("a PostgreSQL store")
            .clone()
    }

    /// A transaction open while others commit: the reader gets what has
    /// committed, advances its checkpoint past it, and still gets the late
    /// transaction's event once it commits.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_late_commit_is_not_skipped_by_a_reader_that_moved_on() {
        let Some(store) = StoreUnderTest::postgres_from_env() else {
            return;
        };
        let repository = store.connect().await;
        let pool = pool(&repository).await;
        let mut late = pool.begin().await.unwrap();
        insert(&mut late, "late", 1).await;

        // Meanwhile, the service commits a whole registration flow.
        let rules = rules(repository.clone());
        let grantor = super::person(0);
        rules
            .register_delegation(request("d-0", 0, 1), &citizen(&grantor, "c"))
            .await
            .unwrap();
        let seen = repository.read_log(0, 100).await.unwrap();
        assert!(!seen.is_empty());
        assert!(
            !ids(&seen).contains(&"late/1".to_owned()),
            "uncommitted events are invisible"
        );
        let checkpoint = seen.last().unwrap().position;
        repository
            .save_checkpoint("reader", checkpoint)
            .await
            .unwrap();

        late.commit().await.unwrap();
        let after = repository.read_log(checkpoint, 100).await.unwrap();
        assert_eq!(ids(&after), ["late/1"]);
        assert_eq!(after[0].position, checkpoint + 1);
        let all = repository.read_log(0, 100).await.unwrap();
        assert_eq!(all.len(), seen.len() + 1);
        drop((rules, repository, pool));
        store.remove().await;
    }

    /// The interleaving that defeats a position drawn at insert time and
    /// guarded by `pg_snapshot_xmin`: A writes, B writes, A writes again and
    /// commits while B is open. A's second event would carry a position after
    /// B's, with a transaction id older than B's, so a reader would take it
    /// and move past B's position for good. Numbered once committed, A's
    /// events come first and B's after, whenever B commits.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn interleaved_transactions_are_read_in_commit_order() {
        let Some(store) = StoreUnderTest::postgres_from_env() else {
            return;
        };
        let repository = store.connect().await;
        let pool = pool(&repository).await;
        let mut a = pool.begin().await.unwrap();
        let mut b = pool.begin().await.unwrap();
        insert(&mut a, "a", 1).await;
        insert(&mut b, "b", 1).await;
        insert(&mut a, "a", 2).await;
        a.commit().await.unwrap();

        let first = repository.read_log(0, 100).await.unwrap();
        assert_eq!(ids(&first), ["a/1", "a/2"]);
        let checkpoint = first.last().unwrap().position;

        b.commit().await.unwrap();
        let next = repository.read_log(checkpoint, 100).await.unwrap();
        assert_eq!(ids(&next), ["b/1"]);
        let positions: Vec<i64> = first.iter().chain(&next).map(|p| p.position).collect();
        assert_eq!(positions, [1, 2, 3]);
        drop((repository, pool));
        store.remove().await;
    }

    /// Writers commit while several readers poll the log, each from its own
    /// checkpoint: every reader numbers what it finds committed, and every
    /// reader still gets each event exactly once, in one gapless order that
    /// keeps each stream's sequence.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn readers_polling_during_writes_get_every_event_once() {
        const WRITERS: usize = 4;
        const EVENTS: usize = 40;
        let Some(store) = StoreUnderTest::postgres_from_env() else {
            return;
        };
        let repository = store.connect().await;
        let pool = pool(&repository).await;
        let mut writers = Vec::new();
        for w in 0..WRITERS {
            let pool = pool.clone();
            writers.push(tokio::spawn(async move {
                for sequence in 1..=EVENTS as i64 {
                    let mut tx = pool.begin().await.unwrap();
                    insert(&mut tx, &format!("w{w}"), sequence).await;
                    tx.commit().await.unwrap();
                }
            }));
        }
        let mut readers = Vec::new();
        for page in [1, 3, 16] {
            let repository = repository.clone();
            readers.push(tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut after = 0;
                while seen.len() < WRITERS * EVENTS {
                    let batch = repository.read_log(after, page).await.unwrap();
                    if let Some(last) = batch.last() {
                        after = last.position;
                    } else {
                        tokio::task::yield_now().await;
                    }
                    seen.extend(batch);
                }
                seen
            }));
        }
        for writer in writers {
            writer.await.unwrap();
        }
        let whole = repository.read_log(0, 10_000).await.unwrap();
        let positions: Vec<i64> = whole.iter().map(|p| p.position).collect();
        assert_eq!(
            positions,
            (1..=(WRITERS * EVENTS) as i64).collect::<Vec<_>>()
        );
        for w in 0..WRITERS {
            let sequences: Vec<usize> = whole
                .iter()
                .filter(|p| p.event.aggregate_id == format!("w{w}"))
                .map(|p| p.event.sequence)
                .collect();
            assert_eq!(sequences, (1..=EVENTS).collect::<Vec<_>>());
        }
        for reader in readers {
            assert_eq!(reader.await.unwrap(), whole);
        }
        drop((repository, pool));
        store.remove().await;
    }

    /// Two stores in one database, each in its own schema, do not see each other.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn schemas_keep_stores_apart() {
        let (Some(one), Some(two)) = (
            StoreUnderTest::postgres_from_env(),
            StoreUnderTest::postgres_from_env(),
        ) else {
            return;
        };
        let (r1, r2) = (one.connect().await, two.connect().await);
        r1.persist::<PinAccount>(&[raw_event(PinAccount::TYPE, "X", 1, json!({}))], None)
            .await
            .unwrap();
        assert_eq!(r1.read_log(0, 10).await.unwrap().len(), 1);
        assert!(r2.read_log(0, 10).await.unwrap().is_empty());
        drop((r1, r2));
        one.remove().await;
        two.remove().await;
    }
}

// ------------------------------------------------------------------ connecting

#[tokio::test]
async fn connect_opens_memory() {
    let repository = Repository::connect("memory:").await.unwrap();
    assert!(repository.sqlite_pool().is_none() && repository.postgres_pool().is_none());
}

#[tokio::test]
async fn connect_names_an_unknown_scheme() {
    let error = Repository::connect("mysql://root@localhost/deleghe")
        .await
        .err()
        .unwrap();
    assert!(matches!(&error, ConnectError::UnsupportedScheme { scheme } if scheme == "mysql"));
    let message = error.to_string();
    assert!(
        message.contains("sqlite://FILE") && message.contains("postgres://"),
        "{message}"
    );
}

#[tokio::test]
async fn connect_says_which_postgres_server_is_unreachable_without_its_password() {
    // Nothing listens on port 1: the connection is refused at once.
    let error = Repository::connect("postgres://deleghe:s3cret@127.0.0.1:1/deleghe")
        .await
        .err()
        .unwrap();
    let message = error.to_string();
    assert!(matches!(error, ConnectError::Postgres { .. }), "{message}");
    assert!(message.contains("127.0.0.1:1/deleghe"), "{message}");
    assert!(!message.contains("s3cret"), "{message}");
}

#[tokio::test]
async fn connect_says_which_sqlite_file_cannot_be_opened() {
    let file = std::env::temp_dir()
        .join(unique_name("missing_dir"))
        .join("deleghe.db");
    let error = Repository::connect(&format!("sqlite://{}", file.display()))
        .await
        .err()
        .unwrap();
    let message = error.to_string();
    assert!(matches!(error, ConnectError::Sqlite { .. }), "{message}");
    assert!(message.contains(&file.display().to_string()), "{message}");
}

#[tokio::test]
async fn sqlite_files_are_created_with_their_schema() {
    let store = StoreUnderTest::sqlite();
    let url = store.url().expect("a SQLite URL");
    let file = std::path::PathBuf::from(url.strip_prefix("sqlite://").unwrap());
    assert!(!file.exists());
    let repository = store.connect().await;
    assert!(file.exists());
    assert!(repository.read_log(0, 10).await.unwrap().is_empty());
    drop(repository);
    store.remove().await;
    assert!(!file.exists());
}
