//! The SQLite store runs out of space under the running app (its workers
//! started as `serve` starts them), and space comes back.
//!
//! The database is made full by SQLite itself: `PRAGMA max_page_count`,
//! which a connection holds for itself, is set on every connection of the
//! pool each time the pool lends it, from a limit the test sets and raises.
//! That is what a full disk looks like to SQLite (`SQLITE_FULL`, "database
//! or disk is full"), without a file system of a fixed size.
//!
//! A test binary of its own: the capturing subscriber is the process's
//! global one, so that the workers' tasks log into it too.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::header;
use deleghe_adapters::sql;
use deleghe_adapters::Repository;
use deleghe_domain::Policy;
use serde_json::{json, Value};
use sqlx::sqlite::SqlitePool;
use tracing_subscriber::fmt::MakeWriter;

#[path = "api/support.rs"]
#[allow(dead_code)]
mod support;

use support::{cf, Answer, Api, Store};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// No limit: SQLite's own maximum.
const UNLIMITED: u32 = 1_073_741_823;

/// How long the store keeps a connection of [`pool_with_page_limit`].
const LIFETIME: Duration = Duration::from_millis(100);

/// The pool the app opens on a `sqlite://FILE` store, whose connections
/// each take the page limit of `limit` whenever sqlx opens or lends them.
/// The store lends its connections itself, from those it takes from this
/// pool (ADR 0021), and keeps each for the pool's `max_lifetime`: a short
/// one (`renewed`) makes it take them again, with the limit of the moment.
async fn pool_with_page_limit(
    file: &std::path::Path,
    limit: Arc<AtomicU32>,
    renewed: bool,
) -> SqlitePool {
    let options = sql::sqlite_options(&format!("sqlite://{}", file.display())).unwrap();
    let pool = sql::sqlite_pool_options();
    let pool = if renewed {
        pool.max_lifetime(LIFETIME)
    } else {
        pool
    };
    // sqlx runs `before_acquire` on an idle connection it lends, and
    // `after_connect` on one it has just opened: the limit is set on
    // every connection the store takes, either way.
    let fresh = Arc::clone(&limit);
    pool.after_connect(move |connection, _| {
        let limit = fresh.load(Ordering::SeqCst);
        Box::pin(async move { set_page_limit(connection, limit).await })
    })
    .before_acquire(move |connection, _| {
        let limit = limit.load(Ordering::SeqCst);
        Box::pin(async move { set_page_limit(connection, limit).await.map(|()| true) })
    })
    .connect_with(options)
    .await
    .unwrap()
}

async fn set_page_limit(
    connection: &mut sqlx::SqliteConnection,
    limit: u32,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!("PRAGMA max_page_count = {limit}"))
        .execute(connection)
        .await
        .map(drop)
}

/// What a write was answered, and what it stored.
#[derive(Debug)]
enum Acked {
    Delegation { id: String, owner: usize },
    Booking { id: String, owner: usize },
}

struct Load<'a> {
    api: &'a Api,
    /// `pensioni-roma`'s free slots (capacity 3 each), walked in order.
    slots: Vec<String>,
    slot: usize,
    acked: Vec<Acked>,
    refused: Vec<Answer>,
    /// The registrations and bookings answered 503, by citizen: a 503
    /// stores nothing (a request stored whose flow could not go on is 202).
    refused_writes: Vec<(&'static str, usize)>,
    /// How many registrations and bookings of each citizen were answered
    /// other than 503 (2xx, or a rule's 422 such as `slot_full`): each such
    /// answer may have stored one, a 503 none.
    answered: std::collections::HashMap<(&'static str, usize), usize>,
    /// The identity documents uploaded ahead of their rounds, by citizen.
    uploaded: std::collections::HashMap<usize, String>,
}

impl<'a> Load<'a> {
    async fn new(api: &'a Api) -> Self {
        let token = api.citizen(&cf(0));
        let slots = api
            .get(
                "/v1/counters/pensioni-roma/slots?from=2026-12-01&to=2027-01-30",
                &token,
            )
            .await
            .ok(200)["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["start"].as_str().unwrap().to_owned())
            .collect();
        Self {
            api,
            slots,
            slot: 0,
            acked: Vec::new(),
            refused: Vec::new(),
            refused_writes: Vec::new(),
            uploaded: std::collections::HashMap::new(),
            answered: std::collections::HashMap::new(),
        }
    }

    /// Sorts an answer to a write: 2xx kept as acknowledged, 5xx kept as
    /// refused; anything else is a failure of the test's own load.
    fn sort(
        &mut self,
        answer: Answer,
        write: (&'static str, usize),
        acked: impl FnOnce(&Value) -> Acked,
    ) -> bool {
        let status = answer.status.as_u16();
        if !answer.status.is_server_error() {
            *self.answered.entry(write).or_default() += 1;
        }
        if answer.status.is_success() {
            self.acked.push(acked(&answer.json()));
            true
        } else if answer.status.is_server_error() {
            self.refused.push(answer);
            self.refused_writes.push(write);
            false
        } else {
            panic!(
                "a write of the load answered {status}: {}",
                String::from_utf8_lossy(&answer.body)
            );
        }
    }

    /// Citizen `n` uploads a copy of their identity document (D11); its
    /// digest, or false if it was refused.
    async fn upload(&mut self, n: usize) -> bool {
        let upload = self
            .api
            .post_raw(
                "/v1/me/documents?kind=identity_document",
                Some(&self.api.citizen(&cf(n))),
                "application/pdf",
                deleghe_domain::document::blank_pdf(1100 + n).unwrap(),
            )
            .await;
        if !upload.status.is_success() {
            assert!(upload.status.is_server_error(), "upload: {}", upload.status);
            self.refused.push(upload);
            return false;
        }
        let digest = upload.json()["sha256"].as_str().unwrap().to_owned();
        self.uploaded.insert(n, digest);
        true
    }

    /// Citizen `n` names a delegate on their identity document (uploaded
    /// now, unless it was ahead of the round), then books a place at the
    /// pensions counter. Whether every write of the round was acknowledged.
    async fn round(&mut self, n: usize) -> bool {
        let (grantor, delegate) = (cf(n), cf(5000 + n));
        let token = self.api.citizen(&grantor);
        let mut all = true;
        if !self.uploaded.contains_key(&n) {
            all &= self.upload(n).await;
        }
        if let Some(digest) = self.uploaded.get(&n).cloned() {
            all &= self.register(n, &token, &delegate, &digest).await;
        }
        all & self.book(n, &token).await
    }

    async fn register(&mut self, n: usize, token: &str, delegate: &str, digest: &str) -> bool {
        let registered = self
            .api
            .post(
                "/v1/delegations",
                token,
                json!({"delegate": delegate, "identity_document": digest}),
            )
            .await;
        self.sort(registered, ("delegation", n), |v| Acked::Delegation {
            id: v["id"].as_str().unwrap().to_owned(),
            owner: n,
        })
    }

    async fn book(&mut self, n: usize, token: &str) -> bool {
        loop {
            let Some(start) = self.slots.get(self.slot).cloned() else {
                panic!("the load ran out of slots before the database was full");
            };
            let booked = self
                .api
                .post(
                    "/v1/bookings",
                    token,
                    json!({"counter": "pensioni-roma", "start": start, "mode": "in_person",
                           "reason": "Pensione", "phone": "333 123 4567"}),
                )
                .await;
            if booked.status.as_u16() == 422 && booked.code() == "slot_full" {
                *self.answered.entry(("booking", n)).or_default() += 1;
                self.slot += 1;
                continue;
            }
            return self.sort(booked, ("booking", n), |v| Acked::Booking {
                id: v["id"].as_str().unwrap().to_owned(),
                owner: n,
            });
        }
    }
}

async fn page_count(pool: &SqlitePool) -> u32 {
    let (pages,): (i64,) = sqlx::query_as("PRAGMA page_count")
        .fetch_one(pool)
        .await
        .unwrap();
    u32::try_from(pages).unwrap()
}

/// Waits until `ready` holds, at most `within`.
async fn eventually<F, Fut>(within: Duration, what: &str, mut ready: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while !ready().await {
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// The capturing subscriber, the process's global one, set once.
fn captured() -> Captured {
    static CAPTURED: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    CAPTURED
        .get_or_init(|| {
            let captured = Captured::default();
            tracing::subscriber::set_global_default(
                tracing_subscriber::fmt()
                    .with_max_level(tracing::Level::INFO)
                    .with_ansi(false)
                    .with_writer(captured.clone())
                    .finish(),
            )
            .unwrap();
            captured
        })
        .clone()
}

/// One scenario at a time: they share the log.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How the test takes the room away and gives it back.
enum Room {
    /// SQLite's page limit, lent with every connection.
    PageLimit(Arc<AtomicU32>),
    /// A tmpfs of its own, mounted on this folder: a full file system.
    Tmpfs(PathBuf),
}

impl Room {
    /// Leaves room for a few more rounds only.
    async fn narrow(&self, pool: &SqlitePool) {
        match self {
            Self::PageLimit(limit) => {
                let before = page_count(pool).await;
                limit.store(before + 24, Ordering::SeqCst);
            }
            Self::Tmpfs(dir) => {
                let used: u64 = std::fs::read_dir(dir)
                    .unwrap()
                    .map(|f| f.unwrap().metadata().unwrap().len().div_ceil(4096) * 4096)
                    .sum();
                remount(dir, used + 96 * 1024);
            }
        }
    }

    /// Gives the room back.
    async fn widen(&self) {
        match self {
            Self::PageLimit(limit) => {
                limit.store(UNLIMITED, Ordering::SeqCst);
                // Every connection the store keeps is then past its
                // lifetime: it takes new ones, without the limit.
                tokio::time::sleep(LIFETIME * 2).await;
            }
            Self::Tmpfs(dir) => remount(dir, 64 * 1024 * 1024),
        }
    }
}

fn remount(dir: &Path, bytes: u64) {
    let status = std::process::Command::new("mount")
        .args(["-o", &format!("remount,size={bytes}")])
        .arg(dir)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "remounting {} at {bytes} bytes",
        dir.display()
    );
}

/// A SQLite file made full by its page limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_sqlite_database_refuses_writes_with_503_and_recovers() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = std::env::temp_dir().join(format!("deleghe-full-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let limit = Arc::new(AtomicU32::new(UNLIMITED));
    let pool = pool_with_page_limit(&dir.join("deleghe.sqlite"), limit.clone(), true).await;
    fill_and_recover(pool, Room::PageLimit(limit)).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A SQLite file on a file system that is full: a tmpfs of a few hundred
/// KiB. Mounting takes privileges: where the test may not mount, it says
/// so and passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_file_system_refuses_writes_with_503_and_recovers() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = std::env::temp_dir().join(format!("deleghe-tmpfs-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64m", "tmpfs"])
        .arg(&dir)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        let _ = std::fs::remove_dir(&dir);
        let _ = writeln!(
            std::io::stderr(),
            "skipping the tmpfs variant of the disk-full test: this user may not mount a tmpfs \
             (the page-limit variant runs everywhere)"
        );
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            // Lazily: a failed run may leave the pool with the file open.
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.0)
                .status();
            let _ = std::fs::remove_dir(&self.0);
        }
    }
    let _unmount = Unmount(dir.clone());
    // The full file system, with the store's connections kept as the app
    // keeps them.
    let pool = pool_with_page_limit(
        &dir.join("deleghe.sqlite"),
        Arc::new(AtomicU32::new(UNLIMITED)),
        false,
    )
    .await;
    fill_and_recover(pool, Room::Tmpfs(dir.clone())).await;
}

/// Drives the app on `pool` until `room` runs out, then gives it back;
/// checks what the app answered, logged and kept.
async fn fill_and_recover(pool: SqlitePool, room: Room) {
    let captured = captured();
    captured.0.lock().unwrap().clear();
    let repository = Repository::from_sqlite_pool(pool.clone());
    repository.migrate().await.unwrap();
    let api = Api::with_policy(Store::Given(repository), Policy::default()).await;

    // The workers `serve` runs, on the same state the requests reach.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(deleghe_app::server::run(
        listener,
        api.state.clone(),
        Box::pin(async {
            let _ = stopped.await;
        }),
    ));

    let mut load = Load::new(&api).await;
    for n in 0..5 {
        assert!(
            load.round(n).await,
            "before the limit every write is stored"
        );
    }
    // The documents of the next rounds, ahead: when the room runs out,
    // registrations and bookings meet it too, not only uploads.
    for n in 5..45 {
        assert!(load.upload(n).await);
    }
    // A little room left: a few rounds fit, then the database is full.
    room.narrow(&pool).await;
    let mut n = 5;
    let whole = Duration::from_secs(60);
    while load.refused_writes.is_empty() {
        assert!(n < 400, "the database never filled up");
        tokio::time::timeout(whole, load.round(n))
            .await
            .expect("a write answers within the request's deadline");
        n += 1;
    }
    // Full: later writes are refused the same way, none hangs.
    for _ in 0..3 {
        tokio::time::timeout(whole, load.round(n))
            .await
            .expect("a write answers within the request's deadline");
        n += 1;
    }
    assert!(load.refused.len() >= 3, "{} refused", load.refused.len());
    for refused in &load.refused {
        refused.refused(503, "unavailable");
        assert!(
            refused.headers.contains_key(header::RETRY_AFTER),
            "a 503 says when to come back: {:?}",
            refused.headers
        );
    }
    // The workers do not die of it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(api.state.stopped_workers(), Vec::<&str>::new());

    let logs = captured.text();
    assert!(
        logs.lines()
            .any(|l| (l.contains(" WARN ") || l.contains(" ERROR "))
                && l.contains("database or disk is full")),
        "a warn or error line names the cause:\n{logs}"
    );

    // Space comes back: the same app writes again, without a restart.
    room.widen().await;
    let acked_when_full = load.acked.len();
    let refused_when_full = load.refused.len();
    let mut recovered = false;
    for _ in 0..3 {
        recovered |= tokio::time::timeout(whole, load.round(n))
            .await
            .expect("a write answers within the request's deadline");
        n += 1;
    }
    assert!(recovered, "writes are stored again once there is room");
    assert!(load.acked.len() > acked_when_full);
    assert_eq!(
        load.refused.len(),
        refused_when_full,
        "no write refused with room"
    );

    // The workers resume: ready, the projector at the head, and the
    // dispatcher sends the confirmation SMS of a booking made now.
    let ready = api.get("/health/ready", "").await;
    ready.ok(200);
    eventually(
        Duration::from_secs(10),
        "the projector reaches the head",
        || async {
            let text = String::from_utf8(api.get("/metrics", "").await.body).unwrap();
            metric(&text, "deleghe_projector_lag_events") == Some(0.0)
                && metric(&text, "deleghe_runner_lag_events") == Some(0.0)
        },
    )
    .await;
    let last_booking = load
        .acked
        .iter()
        .rev()
        .find_map(|a| match a {
            Acked::Booking { id, .. } => Some(id.clone()),
            _ => None,
        })
        .expect("a booking stored after the recovery");
    eventually(
        Duration::from_secs(10),
        "the dispatcher sends again",
        || async {
            deleghe_adapters::gateway::FileSmsGateway::read_lines(&api.sms)
                .unwrap_or_default()
                .iter()
                .any(|l| l.key.contains(&last_booking))
        },
    )
    .await;

    // Nothing acknowledged is lost: each is there, to its owner, settled
    // (200), or refused by a rule after a 202 (its flow finished by the
    // runner).
    for acked in &load.acked {
        let (path, owner) = match acked {
            Acked::Delegation { id, owner } => (format!("/v1/delegations/{id}"), owner),
            Acked::Booking { id, owner } => (format!("/v1/bookings/{id}"), owner),
        };
        let token = api.citizen(&cf(*owner));
        let mut answer = api.get(&path, &token).await;
        for _ in 0..50 {
            if answer.status.as_u16() != 202 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            answer = api.get(&path, &token).await;
        }
        let status = answer.status.as_u16();
        assert!(
            status == 200 || status == 422,
            "{path}: {status} {}",
            String::from_utf8_lossy(&answer.body)
        );
    }

    // A write answered 503 stored nothing, once every flow has ended: a
    // citizen has as many registrations and bookings as were answered
    // otherwise (the rule's refusals are kept too).
    api.state.system().runner().catch_up().await.unwrap();
    for write in &load.refused_writes {
        let (kind, n) = *write;
        let who = deleghe_domain::FiscalCode::parse(&cf(n)).unwrap();
        let service = api.state.service();
        let stored = if kind == "delegation" {
            service.grantor(&who).await.unwrap().delegations().len()
        } else {
            service.booker(&who).await.unwrap().bookings().len()
        };
        let answered = load.answered.get(write).copied().unwrap_or(0);
        assert_eq!(
            stored, answered,
            "{kind}s of citizen {n}: {stored} stored, {answered} answered other than 503"
        );
    }

    // Every connection of the pool begins a write again (none keeps a
    // transaction SQLite ended by itself on the full disk).
    let mut connections = Vec::new();
    for _ in 0..8 {
        let mut connection = pool.acquire().await.unwrap();
        let begun = sqlx::Connection::begin_with(&mut *connection, "BEGIN IMMEDIATE")
            .await
            .map(drop);
        assert!(begun.is_ok(), "a pooled connection cannot write: {begun:?}");
        connections.push(connection);
    }
    drop(connections);

    // Nothing is corrupted, and the read side agrees with the log.
    let (integrity,): (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(integrity, "ok");
    let read = api.state.system().caught_up().await.unwrap();
    let live = read.dump().await.unwrap();
    let outbox = read.outbox().await.unwrap();
    let mut keys: Vec<&str> = outbox.iter().map(|row| row.key.as_str()).collect();
    keys.sort_unstable();
    let all = keys.len();
    keys.dedup();
    assert_eq!(keys.len(), all, "every outbox row's key once");
    api.state.system().rebuild_read_models().await.unwrap();
    let rebuilt = api
        .state
        .system()
        .caught_up()
        .await
        .unwrap()
        .dump()
        .await
        .unwrap();
    assert_eq!(live, rebuilt, "a rebuild equals the live read models");

    // No personal data in the log.
    let logs = captured.text();
    for m in 0..n {
        assert!(!logs.contains(&cf(m)), "a fiscal code in the log");
    }
    assert!(!logs.contains("3331234567"), "a phone in the log");

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), server)
        .await
        .expect("the server stops")
        .unwrap()
        .unwrap();
    pool.close().await;
}
