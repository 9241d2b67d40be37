//! The composition root (`System`): one call wires the service, the read
//! side, the outbox with its gateways and keys, and the workers, on every
//! store.
//!
//! - A booking made through the system's service is in its read models at
//!   once, and its workers send the confirmation SMS with the access code
//!   filled in (M10), then stop when told.
//! - A rebuild of the read models reproduces them exactly.
//! - With no SMS gateway given, an SMS is recorded as failed, with the
//!   reason, not left waiting.
//! - A store URL of an unknown kind is refused with a clear error.

mod support;

use std::sync::Arc;
use std::time::Duration;

use deleghe::adapters::gateway::FileSmsGateway;
use deleghe::adapters::repository::ConnectError;
use deleghe::adapters::system::{Intervals, OpenError, WorkerHealth};
use deleghe::adapters::{SettableClock, System};
use deleghe::domain::booking::BookingId;
use deleghe::domain::Policy;
use support::*;

fn stores() -> Vec<Store> {
    let mut stores = vec![Store::Memory, Store::Sqlite];
    stores.extend(postgres_store());
    stores
}

fn sms_file(store: &Store) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "deleghe-system-sms-{}-{}-{}.jsonl",
        std::process::id(),
        match store {
            Store::Memory => "memory",
            Store::Sqlite => "sqlite",
            Store::Postgres(_) => "postgres",
            Store::MariaDb(_) => "mariadb",
        },
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ))
}

#[tokio::test]
async fn a_system_wires_the_read_side_the_outbox_and_the_workers() {
    for store in stores() {
        let clock = SettableClock::fixed(t0());
        let sms = sms_file(&store);
        let system = System::builder(Policy::default())
            .clock(clock.as_clock())
            .sms(Arc::new(FileSmsGateway::open(&sms).unwrap()))
            .access_codes(access_codes())
            .on(fresh(&store).await)
            .await
            .unwrap_or_else(|e| panic!("{store:?}: {e}"));

        let booking = system
            .service()
            .book(web_booking("b-system", 1), &meta(1))
            .await
            .unwrap();
        let id = BookingId::parse("b-system").unwrap();
        let read = system.caught_up().await.unwrap();
        assert!(
            read.booking(&id).await.unwrap().is_some(),
            "{store:?}: a query after the command sees it"
        );

        // The workers project and dispatch on their own.
        let workers = system.workers(Intervals {
            poll: Duration::from_millis(20),
            ..Intervals::default()
        });
        let mut lines = Vec::new();
        for _ in 0..1500 {
            lines = FileSmsGateway::read_lines(&sms).unwrap_or_default();
            if !lines.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        workers.stop().await;
        assert_eq!(lines.len(), 1, "{store:?}: the confirmation was sent once");
        let (code, _) = access_codes().issue(&booking.id, 0);
        assert!(
            lines[0].text.contains(code.as_str()),
            "{store:?}: the SMS carries the access code (M10): {}",
            lines[0].text
        );
        assert!(
            !lines[0].text.contains("{{"),
            "{store:?}: no placeholder left"
        );

        // A rebuild reproduces the read models exactly.
        let before = system.read_models().dump().await.unwrap();
        system.rebuild_read_models().await.unwrap();
        let after = system.read_models().dump().await.unwrap();
        assert_eq!(before, after, "{store:?}");
        let _ = std::fs::remove_file(&sms);
    }
}

#[tokio::test]
async fn without_an_sms_gateway_an_sms_is_recorded_as_failed() {
    let clock = SettableClock::fixed(t0());
    let system = System::builder(Policy::default())
        .clock(clock.as_clock())
        .access_codes(access_codes())
        .open("memory:")
        .await
        .unwrap();
    system
        .service()
        .book(web_booking("b-no-sms", 1), &meta(1))
        .await
        .unwrap();
    system.caught_up().await.unwrap();
    system.dispatcher().drain().await.unwrap();
    let outbox = system.read_models().outbox().await.unwrap();
    let sms: Vec<_> = outbox
        .iter()
        .filter(|e| e.key.ends_with(":sms:confirmation"))
        .collect();
    assert!(!sms.is_empty());
    for entry in sms {
        assert_eq!(entry.status, "failed", "{entry:?}");
        assert!(
            entry
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("no SMS gateway is configured")),
            "{entry:?}"
        );
    }
}

#[tokio::test]
async fn an_unknown_store_is_refused_by_name() {
    let error = System::builder(Policy::default())
        .open("mysql://localhost/deleghe")
        .await
        .err()
        .expect("refused");
    assert!(
        matches!(
            error,
            OpenError::Connect(ConnectError::UnsupportedScheme { .. })
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("mysql"), "{error}");
}

#[tokio::test]
async fn the_workers_health_names_each_worker_that_has_stopped() {
    let system = System::builder(Policy::default())
        .open("memory:")
        .await
        .unwrap();
    let workers = system.workers(Intervals::default());
    let health = workers.health();
    assert_eq!(health.stopped(), Vec::<&str>::new(), "all five run");
    // A worker whose task panics counts as stopped, as one that returns.
    let watched = WorkerHealth::default();
    let crashed = tokio::spawn(watched.watch("crashing", async { panic!("a worker's bug") }));
    let forever = tokio::spawn(watched.watch("waiting", std::future::pending::<()>()));
    assert!(crashed.await.is_err());
    assert_eq!(watched.stopped(), vec!["crashing"]);
    forever.abort();
    let _ = forever.await;
    assert_eq!(watched.stopped(), vec!["crashing", "waiting"]);
    workers.stop().await;
    assert_eq!(health.stopped().len(), 5, "{:?}", health.stopped());
}

/// `System::progress` (what `GET /metrics` reports): the lag of the
/// projector behind the head of the log, in events and in seconds, and the
/// flows the read side sees unsettled.
#[tokio::test]
async fn progress_reports_the_lag_and_what_waits() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let mut all = stores();
    all.extend(mariadb_store());
    for store in all {
        let clock = SettableClock::fixed(t0());
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        // The registration stops after its first command: its flow is left
        // pending, for the runner.
        let system = System::builder(Policy::default())
            .clock(clock.as_clock())
            .failpoint(Arc::new(move |_| {
                counted.fetch_add(1, Ordering::SeqCst) == 1
            }))
            .on(fresh(&store).await)
            .await
            .unwrap_or_else(|e| panic!("{store:?}: {e}"));
        let empty = system.progress().await.unwrap();
        assert_eq!(empty.log_head, 0, "{store:?}");
        assert_eq!(empty.projector_lag_events(), 0, "{store:?}");
        assert_eq!(empty.projector_lag_seconds, 0.0, "{store:?}");

        let _ = system
            .service()
            .register_delegation(request("d-progress", 0, 1), &meta(0))
            .await;
        assert!(
            calls.load(Ordering::SeqCst) >= 2,
            "{store:?}: the failpoint was reached"
        );
        clock.set(Some(t0() + chrono::Duration::seconds(90)));
        let behind = system.progress().await.unwrap();
        assert!(behind.log_head >= 1, "{store:?}: {behind:?}");
        assert_eq!(behind.projector_lag_events(), behind.log_head, "{store:?}");
        assert_eq!(behind.runner_lag_events(), behind.log_head, "{store:?}");
        assert_eq!(behind.projector_lag_seconds, 90.0, "{store:?}: {behind:?}");
        assert_eq!(
            behind.read_side.delegations_pending, 0,
            "{store:?}: nothing projected yet"
        );

        system.caught_up().await.unwrap();
        let projected = system.progress().await.unwrap();
        assert_eq!(projected.projector_lag_events(), 0, "{store:?}");
        assert_eq!(projected.projector_lag_seconds, 0.0, "{store:?}");
        assert_eq!(
            projected.read_side.delegations_pending, 1,
            "{store:?}: the stopped registration is pending: {projected:?}"
        );
        assert_eq!(projected.read_side.bookings_pending, 0, "{store:?}");
    }
}

/// The projector worker is woken by an append made in its process: with a
/// poll of an hour, a booking is projected all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_projector_is_woken_by_an_append_not_only_by_its_poll() {
    for store in stores() {
        let clock = SettableClock::fixed(t0());
        let system = System::builder(Policy::default())
            .clock(clock.as_clock())
            .on(fresh(&store).await)
            .await
            .unwrap_or_else(|e| panic!("{store:?}: {e}"));
        let workers = system.workers(Intervals {
            poll: Duration::from_secs(3600),
            ..Intervals::default()
        });
        // The workers' first turn, on the empty log, is over.
        tokio::time::sleep(Duration::from_millis(200)).await;
        system
            .service()
            .book(web_booking("b-woken", 1), &meta(1))
            .await
            .unwrap();
        let mut progress = system.progress().await.unwrap();
        for _ in 0..200 {
            if progress.log_head > 0 && progress.projector_lag_events() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            progress = system.progress().await.unwrap();
        }
        workers.stop().await;
        assert!(progress.log_head > 0, "{store:?}");
        assert_eq!(
            progress.projector_lag_events(),
            0,
            "{store:?}: the append did not wake the projector: {progress:?}"
        );
    }
}

/// ADR 0014: the read models at a position. Naming none, or one already
/// applied, they answer as they are; naming a later one, the read brings
/// them up to it (no worker runs here); with no time to wait, it answers
/// `Behind`; past the log's end, `BeyondLog`, at once, however far behind
/// the read models are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_wait_for_the_position_they_name_and_no_longer() {
    use deleghe::adapters::ServiceError;
    let wait = Duration::from_secs(5);
    for store in stores() {
        let system = System::builder(Policy::default())
            .clock(SettableClock::fixed(t0()).as_clock())
            .on(fresh(&store).await)
            .await
            .unwrap_or_else(|e| panic!("{store:?}: {e}"));
        let booking = web_booking("b-at", 1);
        let booker = booking.booker.clone();
        system.service().book(booking, &meta(1)).await.unwrap();
        let head = system.repository().log_head().await.unwrap();
        assert!(head > 0, "{store:?}");
        let id = BookingId::parse("b-at").unwrap();

        let now = system.read_models_at(None, wait).await.unwrap();
        assert!(
            now.booking(&id).await.unwrap().is_none(),
            "{store:?}: no catch-up without a position"
        );
        match system.read_models_at(Some(head), Duration::ZERO).await {
            Err(ServiceError::Behind { wanted, reached }) => {
                assert_eq!((wanted, reached), (head, 0), "{store:?}");
            }
            other => panic!("{store:?}: {:?}", other.map(|_| ())),
        }
        // Past the log's end while the read models are behind and no
        // catch-up can end in time (a store under load, found by a hostile
        // probe): refused by the log at once, not `Behind` at the deadline.
        match system.read_models_at(Some(head + 1), Duration::ZERO).await {
            Err(ServiceError::BeyondLog { wanted, head: at }) => {
                assert_eq!((wanted, at), (head + 1, head), "{store:?}");
            }
            other => panic!("{store:?}: {:?}", other.map(|_| ())),
        }
        let at = system.read_models_at(Some(head), wait).await.unwrap();
        let found = at
            .booking(&id)
            .await
            .unwrap()
            .expect("the booking, projected");
        assert_eq!(found.booker, booker, "{store:?}");
        assert_eq!(system.projector().checkpoint().await.unwrap(), head);
        // Applied already: answered from what is there.
        assert!(system
            .read_models_at(Some(head), Duration::ZERO)
            .await
            .is_ok());
        match system.read_models_at(Some(head + 1), wait).await {
            Err(ServiceError::BeyondLog { wanted, head: at }) => {
                assert_eq!((wanted, at), (head + 1, head), "{store:?}");
            }
            other => panic!("{store:?}: {:?}", other.map(|_| ())),
        }
    }
}
