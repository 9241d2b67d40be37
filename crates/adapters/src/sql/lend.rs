//! How a [`SqlStore`](super::SqlStore) lends its connections (ADR 0021):
//! from a pool of its own (deadpool's) of connections opened through the
//! store's sqlx pool, so that a connection going back costs nothing.
//!
//! sqlx's pool pings every connection as it comes back, in a task it spawns
//! for each, and no option turns that off: a round trip to the database and
//! a wake-up of the server's process for every loan, which bench/http.sh
//! measured at a third of a minimal read's throughput. What that ping did
//! is done here only where there is something to find. A connection going
//! back with something queued for the server (a dropped transaction's
//! `ROLLBACK`) has it sent then, in a task of its own ([`Lent`]); the
//! rest is checked when the connection is lent again, with no round trip
//! when there is nothing to find:
//!
//! - a transaction still open on it (SQLite rolls one back by itself after
//!   `SQLITE_FULL`, and the connection goes on counting it): the connection
//!   is closed, not lent;
//! - what a dropped future left on it (the rest of an answer nobody read,
//!   a `ROLLBACK` not sent for want of a runtime): read and sent first, and
//!   a connection that fails there (its last use broke on the wire) is
//!   replaced;
//! - one whose last loan began [`PING_AFTER_IDLE`] or more ago (the server
//!   may have dropped it meanwhile) is pinged, and replaced if dead;
//! - one older than the sqlx pool's `max_lifetime` is closed.
//!
//! The sqlx pool stays the store's public face ([`Repository::pool`]):
//! its options (size, acquire timeout, lifetime) are this pool's; its hooks
//! run when a connection is taken from it, not at each of the store's
//! loans (`after_connect` on one sqlx opens, `before_acquire` on an idle
//! one it lends); closing it closes this one (idle connections at once, lent
//! ones as they come back), though `Pool::close` does not wait for them.
//!
//! [`Repository::pool`]: crate::repository::Repository::pool

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use deadpool::managed::{self, Metrics, PoolError, QueueMode, RecycleError, RecycleResult};
use deadpool::Runtime;
use sqlx::{Connection, Database, Pool, TransactionManager};

/// How long a connection may go unused before its next loan pings it.
pub(crate) const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// The store's lending pool.
pub(crate) type Lending<DB> = managed::Pool<Lender<DB>>;

/// A connection lent by a [`Lending`] pool: back in it when dropped.
///
/// One with something queued for the server (a dropped transaction's
/// `ROLLBACK`, on PostgreSQL and MariaDB) has it sent first, in a task of
/// its own, as sqlx's pool did: until it reaches the server, the
/// transaction's locks are held, and whoever waits on them may be what
/// keeps the connection from being lent again.
pub(crate) struct Lent<DB: Database>(Option<managed::Object<Lender<DB>>>);

impl<DB: Database> Deref for Lent<DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &DB::Connection {
        self.0.as_ref().expect("a lent connection until dropped")
    }
}

impl<DB: Database> DerefMut for Lent<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        self.0.as_mut().expect("a lent connection until dropped")
    }
}

impl<DB: Database> Drop for Lent<DB> {
    fn drop(&mut self) {
        let Some(mut lent) = self.0.take() else {
            return;
        };
        if !lent.should_flush() {
            return;
        }
        // Without a runtime to send it in, it is sent before the next loan
        // (`Lender::recycle`).
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let sent = tokio::time::timeout(CHECK_TIMEOUT, lent.flush()).await;
                if !matches!(sent, Ok(Ok(()))) {
                    // Broken or cut off: closed, not lent again.
                    drop(managed::Object::take(lent));
                }
            });
        }
    }
}

/// Opens connections through a sqlx pool and checks them before each loan.
pub(crate) struct Lender<DB: Database> {
    pool: Pool<DB>,
    max_lifetime: Option<Duration>,
    /// The whole wait of a loan (sqlx's acquire timeout).
    wait: Duration,
    /// Whether a task closes this pool when the sqlx pool closes.
    watching: AtomicBool,
}

/// How long a connection's checks before a loan, or the sending of what it
/// left queued as it went back, may take before it is closed instead: a
/// ping or a `ROLLBACK` on a healthy connection takes a millisecond; one
/// that waits is on a connection cut off, or behind a statement its
/// dropped caller left running.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// A lending pool over `pool`'s connections, of `pool`'s size, acquire
/// timeout and connections' lifetime; the most recently used connection is
/// lent first, so that a light load keeps using connections just used (and
/// not pinged).
pub(crate) fn lending<DB: Database>(pool: &Pool<DB>) -> Lending<DB> {
    let options = pool.options();
    let lender = Lender {
        pool: pool.clone(),
        max_lifetime: options.get_max_lifetime(),
        wait: options.get_acquire_timeout(),
        watching: AtomicBool::new(false),
    };
    managed::Pool::builder(lender)
        .max_size(options.get_max_connections() as usize)
        // The wait for a slot is bounded with the whole loan (`lend`).
        .recycle_timeout(Some(CHECK_TIMEOUT))
        .queue_mode(QueueMode::Lifo)
        .runtime(Runtime::Tokio1)
        .build()
        .expect("a pool with its runtime set and no hooks builds")
}

/// A connection of `lending`, or sqlx's error for why there is none:
/// `PoolTimedOut` past the sqlx pool's acquire timeout, the whole loan
/// counted (the wait for a slot, the checks of connections found dead and
/// the opening of a new one: the store then answers "unavailable", as it
/// did on sqlx's pool), `PoolClosed` once the sqlx pool is closed.
pub(crate) async fn lend<DB: Database>(lending: &Lending<DB>) -> Result<Lent<DB>, sqlx::Error> {
    let lender = lending.manager();
    if lender.pool.is_closed() {
        lending.close();
    } else if !lender.watching.swap(true, Ordering::Relaxed) {
        watch_close(lending);
    }
    match tokio::time::timeout(lender.wait, lending.get()).await {
        Ok(Ok(lent)) => Ok(Lent(Some(lent))),
        Ok(Err(PoolError::Backend(error))) => Err(error),
        Err(_) | Ok(Err(PoolError::Timeout(_))) => Err(sqlx::Error::PoolTimedOut),
        Ok(Err(PoolError::Closed)) => Err(sqlx::Error::PoolClosed),
        Ok(Err(other)) => Err(sqlx::Error::Protocol(other.to_string())),
    }
}

/// Closes `lending` when its sqlx pool closes: its idle connections at
/// once, the lent ones as they come back. `Pool::close` does not wait for
/// them (they are out of the sqlx pool).
fn watch_close<DB: Database>(lending: &Lending<DB>) {
    let closed = lending.manager().pool.close_event();
    let lending = lending.weak();
    tokio::spawn(async move {
        closed.await;
        if let Some(lending) = lending.upgrade() {
            lending.close();
        }
    });
}

fn open_transactions<DB: Database>(conn: &DB::Connection) -> usize {
    <DB::TransactionManager as TransactionManager>::get_transaction_depth(conn)
}

impl<DB: Database> managed::Manager for Lender<DB> {
    type Type = DB::Connection;
    type Error = sqlx::Error;

    async fn create(&self) -> Result<DB::Connection, sqlx::Error> {
        // Out of sqlx's pool for good: this pool lends it from now on.
        Ok(self.pool.acquire().await?.detach())
    }

    async fn recycle(
        &self,
        conn: &mut DB::Connection,
        metrics: &Metrics,
    ) -> RecycleResult<sqlx::Error> {
        if self
            .max_lifetime
            .is_some_and(|lifetime| metrics.age() >= lifetime)
        {
            return Err(RecycleError::message("past the pool's max_lifetime"));
        }
        if open_transactions::<DB>(conn) > 0 {
            // A dropped transaction's rollback may still be queued on
            // SQLite's connection thread: let it run, then count again.
            conn.ping().await?;
            if open_transactions::<DB>(conn) > 0 {
                return Err(RecycleError::message("a transaction still open"));
            }
        }
        // Sends what is queued and reads what is owed; no round trip when
        // there is neither.
        conn.flush().await?;
        if metrics.last_used() >= PING_AFTER_IDLE {
            conn.ping().await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sqlx::Connection;

    use super::*;

    #[cfg(feature = "sqlite")]
    #[tokio::test]
    async fn a_transaction_sqlite_rolled_back_by_itself_is_not_lent_again() {
        use crate::sql::sqlite::{options, pool_options};
        let file =
            std::env::temp_dir().join(format!("deleghe-lend-{}.sqlite", uuid::Uuid::new_v4()));
        let pool = pool_options()
            .max_connections(1)
            .connect_with(options(&format!("sqlite://{}", file.display())).unwrap())
            .await
            .unwrap();
        let lending = lending(&pool);
        {
            let mut conn = lend(&lending).await.unwrap();
            let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.unwrap();
            // What SQLite does on its own after SQLITE_FULL, here on purpose:
            // sqlx's rollback then fails, and the connection goes on
            // counting a transaction.
            sqlx::raw_sql("ROLLBACK").execute(&mut *tx).await.unwrap();
        }
        let mut conn = lend(&lending).await.unwrap();
        let tx = conn.begin_with("BEGIN IMMEDIATE").await;
        assert!(tx.is_ok(), "{:?}", tx.err());
        tx.unwrap().commit().await.unwrap();
        drop(conn);
        pool.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
        }
    }

    /// A lending pool of one connection on the tests' PostgreSQL server, and
    /// a connection of the test's own beside it; `None` without a server.
    #[cfg(feature = "postgres")]
    async fn postgres() -> Option<(sqlx::PgPool, Lending<sqlx::Postgres>, sqlx::PgConnection)> {
        postgres_with(sqlx::postgres::PgPoolOptions::new()).await
    }

    #[cfg(feature = "postgres")]
    async fn postgres_with(
        options: sqlx::postgres::PgPoolOptions,
    ) -> Option<(sqlx::PgPool, Lending<sqlx::Postgres>, sqlx::PgConnection)> {
        let Ok(server) = std::env::var("DELEGHE_TEST_POSTGRES_URL") else {
            eprintln!("skipping: DELEGHE_TEST_POSTGRES_URL is not set");
            return None;
        };
        let pool = options.max_connections(1).connect(&server).await.unwrap();
        let beside = sqlx::PgConnection::connect(&server).await.unwrap();
        Some((pool.clone(), lending(&pool), beside))
    }

    #[cfg(feature = "postgres")]
    async fn backend(conn: &mut sqlx::PgConnection) -> Result<i32, sqlx::Error> {
        sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(conn)
            .await
    }

    #[cfg(feature = "postgres")]
    #[tokio::test]
    async fn a_dropped_transactions_rollback_reaches_the_server_without_another_loan() {
        let Some((_pool, lending, mut beside)) = postgres().await else {
            return;
        };
        let key = i64::from_be_bytes(uuid::Uuid::new_v4().as_bytes()[..8].try_into().unwrap());
        {
            let mut conn = lend(&lending).await.unwrap();
            let mut tx = conn.begin().await.unwrap();
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(key)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        // Nothing borrows the connection again: whoever waits on the lock
        // must not wait for that.
        let free: bool = tokio::time::timeout(Duration::from_secs(5), async {
            sqlx::query_scalar("SELECT pg_advisory_lock($1) IS NOT NULL")
                .bind(key)
                .fetch_one(&mut beside)
                .await
        })
        .await
        .expect("the lock is given up without another loan")
        .unwrap();
        assert!(free);
        assert_eq!(lending.status().size, 1, "the connection is kept");
    }

    #[cfg(feature = "postgres")]
    #[tokio::test]
    async fn a_connection_broken_in_its_last_use_is_replaced() {
        let Some((_pool, lending, mut beside)) = postgres().await else {
            return;
        };
        let mut conn = lend(&lending).await.unwrap();
        let pid = backend(&mut conn).await.unwrap();
        sqlx::query("SELECT pg_terminate_backend($1)")
            .bind(pid)
            .execute(&mut beside)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(backend(&mut conn).await.is_err(), "the backend was ended");
        drop(conn);
        let mut again = lend(&lending).await.unwrap();
        let other = backend(&mut again).await;
        assert!(other.is_ok(), "{:?}", other.err());
        assert_ne!(other.unwrap(), pid);
    }

    #[cfg(feature = "postgres")]
    #[tokio::test]
    async fn a_connection_dropped_by_the_server_while_idle_is_replaced() {
        let Some((_pool, lending, mut beside)) = postgres().await else {
            return;
        };
        let pid = backend(&mut lend(&lending).await.unwrap()).await.unwrap();
        sqlx::query("SELECT pg_terminate_backend($1)")
            .bind(pid)
            .execute(&mut beside)
            .await
            .unwrap();
        tokio::time::sleep(PING_AFTER_IDLE + Duration::from_millis(100)).await;
        let other = backend(&mut lend(&lending).await.unwrap()).await;
        assert!(other.is_ok(), "{:?}", other.err());
        assert_ne!(other.unwrap(), pid);
    }

    #[cfg(feature = "postgres")]
    #[tokio::test]
    async fn a_connection_past_the_pools_lifetime_is_closed() {
        let lifetime =
            sqlx::postgres::PgPoolOptions::new().max_lifetime(Duration::from_millis(200));
        let Some((_pool, lending, _beside)) = postgres_with(lifetime).await else {
            return;
        };
        let pid = backend(&mut lend(&lending).await.unwrap()).await.unwrap();
        let again = backend(&mut lend(&lending).await.unwrap()).await.unwrap();
        assert_eq!(again, pid, "young, it is lent again");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let other = backend(&mut lend(&lending).await.unwrap()).await.unwrap();
        assert_ne!(other, pid, "past its lifetime, another");
    }

    #[cfg(feature = "postgres")]
    #[tokio::test]
    async fn closing_the_sqlx_pool_ends_the_loans() {
        let Some((pool, lending, _beside)) = postgres().await else {
            return;
        };
        let lent = lend(&lending).await.unwrap();
        // A lent connection is out of sqlx's pool: its close does not wait.
        tokio::time::timeout(Duration::from_secs(5), pool.close())
            .await
            .expect("the sqlx pool closes with a connection lent");
        // With no further loan, the connection is closed as it comes back.
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(lent);
        assert_eq!(lending.status().size, 0, "closed as it came back");
        let after = lend(&lending).await;
        assert!(
            matches!(after, Err(sqlx::Error::PoolClosed)),
            "{:?}",
            after.err()
        );
    }
}
