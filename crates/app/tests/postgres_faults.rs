//! PostgreSQL goes away under the running app: the real `deleghe serve`
//! binary, on a PostgreSQL server of the test's own (initdb in a temporary
//! folder, on a free port, never the shared server), while clients upload
//! identity documents, register delegations on them and book places.
//! Three faults, one test each, each on a server of its own:
//!
//! - the server restarted under load (`pg_ctl restart -m fast`);
//! - the server stopped for 30 s, then started again;
//! - the app's connections killed (`pg_terminate_backend`), several times.
//!
//! Meanwhile every request is answered within 25 s (`SLOWEST_ANSWER`, well
//! inside the app's own request timeout): 2xx, a rule's 422, or 503
//! `unavailable` (problem+json) with `Retry-After`; never a 500, never a
//! closed connection. Afterwards the same process, not restarted, serves
//! again within a bounded time; `/health/ready` is 200; the projector and
//! the flow runner reach the head of the log; every write answered 2xx is
//! read back by its owner; the dispatcher has sent the confirmation SMS of
//! every booking confirmed, and no SMS key is in the SMS file twice; the
//! rules' invariants hold on the stored events; and the app's log (at info
//! level) names the cause of its 503s, and holds no fiscal code and no
//! phone number.
//!
//! The server is the machine's PostgreSQL (`/usr/lib/postgresql/*/bin`),
//! run as the user `postgres` through `runuser`, which takes root: where
//! any of that is missing the tests say why on standard error and pass.

#![cfg(unix)]

mod process;

use process::{cf, citizen_token, exchange, free_port, identity_document, Answer, IDENTITY_UPLOAD};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use deleghe_adapters::{Repository, System};
use deleghe_app::auth::JwtKeys;
use deleghe_app::config::Secret;
use deleghe_app::counters::Counters;
use deleghe_domain::{FiscalCode, Policy};
use deleghe_testkit::invariants::{Bookings, Delegations};
use serde_json::{json, Value};

/// Clients sending at once.
const CLIENTS: usize = 8;
/// Citizens per client: client `k` is citizens `k * PER_CLIENT ..`.
const PER_CLIENT: usize = 1000;
/// Each citizen `n` names citizen `n + DELEGATES` as delegate.
const DELEGATES: usize = 8000;
/// The phone every booking gives.
const PHONE: &str = "333 123 4567";
/// The client's deadline for one request: a little over the app's own
/// request timeout (past which it answers 408 by itself).
fn deadline() -> Duration {
    deleghe_app::Timeouts::default().request + Duration::from_secs(5)
}
/// The longest a request may take, fault or not: a request that meets the
/// store gone waits at most the pool's wait for a connection (10 s) for its
/// own call to the store, which fails it; a call that takes turns (a read
/// of the log's head, a catch-up) may first wait out the one under way when
/// it came, which cannot answer for it: two waits. A write stored just
/// before the fault meets them in its position's read (ADR 0014). Never a
/// queue of waits behind other callers (the adapters' `turns`, ADR 0020),
/// which took 20–40 s here before they shared the store's unreachability,
/// and once passed the request timeout (408).
const SLOWEST_ANSWER: Duration = Duration::from_secs(25);
/// How long the app may take to serve again once the server is back: the
/// pool's wait for a connection (10 s) and its backoff, with room.
const SERVES_AGAIN_WITHIN: Duration = Duration::from_secs(20);

/// Says on standard error why a test does not run here.
fn skip(why: &str) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "skipping the PostgreSQL fault test: {why}"
    );
}

/// A PostgreSQL server of the test's own, in a temporary folder owned by
/// the user `postgres`; stopped and removed when dropped (kept, with its
/// log and the app's, when the test failed).
struct Postgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl Postgres {
    /// The folder of the machine's PostgreSQL programs, or why the test
    /// cannot run here.
    fn binaries() -> Result<PathBuf, String> {
        let uid = Command::new("id")
            .arg("-u")
            .output()
            .map_err(|e| format!("cannot run `id -u`: {e}"))?;
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            return Err("not root: initdb and pg_ctl run as user postgres through runuser".into());
        }
        let runs = |program: &str, args: &[&str]| {
            Command::new(program)
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !runs("runuser", &["--help"]) {
            return Err("no runuser".into());
        }
        if !runs("id", &["-u", "postgres"]) {
            return Err("no user postgres".into());
        }
        let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .map_err(|e| format!("no /usr/lib/postgresql: {e}"))?
            .filter_map(|entry| {
                let entry = entry.ok()?;
                let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
                let bin = entry.path().join("bin");
                ["initdb", "pg_ctl", "psql"]
                    .iter()
                    .all(|p| bin.join(p).is_file())
                    .then_some((version, bin))
            })
            .collect();
        found.sort();
        found
            .pop()
            .map(|(_, bin)| bin)
            .ok_or_else(|| "no initdb, pg_ctl and psql in /usr/lib/postgresql/*/bin".into())
    }

    /// A new cluster on a free port, started, with an empty database
    /// `deleghe`.
    fn start(bin: PathBuf) -> Self {
        let dir = std::env::temp_dir().join(format!("deleghe-pg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let chown = Command::new("chown")
            .arg("postgres:")
            .arg(&dir)
            .status()
            .unwrap();
        assert!(chown.success(), "chown postgres {}", dir.display());
        let server = Self {
            bin,
            dir,
            port: free_port(),
        };
        server.as_postgres(
            "initdb",
            &[
                "-D",
                &server.data(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
        );
        // In the cluster's own configuration, so that a restart keeps it:
        // loopback only, the sockets in the test's folder, and no fsync
        // (the faults here are the server's, not the machine's).
        let conf = format!(
            "\nport = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             fsync = off\nmax_connections = 50\n",
            server.port,
            server.dir.display()
        );
        use std::io::Write;
        std::fs::OpenOptions::new()
            .append(true)
            .open(server.dir.join("data/postgresql.conf"))
            .unwrap()
            .write_all(conf.as_bytes())
            .unwrap();
        server.pg_ctl(&["start"]);
        server.psql("CREATE DATABASE deleghe");
        server
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    /// The app's store.
    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/deleghe", self.port)
    }

    /// Runs one of the server's programs as the user `postgres`; panics
    /// with its output unless it succeeds.
    fn as_postgres(&self, program: &str, args: &[&str]) {
        let output = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join(program))
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{program} {args:?}: {}\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// `pg_ctl ACTION`, waiting for it to be done (`-m fast` for a stop).
    fn pg_ctl(&self, action: &[&str]) {
        let (data, log) = (self.data(), self.dir.join("postgres.log"));
        let mut args = vec!["-D", &data, "-l", log.to_str().unwrap(), "-w", "-t", "60"];
        args.extend_from_slice(action);
        self.as_postgres("pg_ctl", &args);
    }

    /// One statement through psql, on the database `postgres`; its output.
    fn psql(&self, sql: &str) -> String {
        let output = Command::new(self.bin.join("psql"))
            .args(["-X", "-A", "-t", "-h", "127.0.0.1", "-U", "postgres"])
            .args(["-p", &self.port.to_string(), "-d", "postgres", "-c", sql])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Kills every connection to the database `deleghe`: how many.
    fn terminate_connections(&self) -> usize {
        self.psql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE pid <> pg_backend_pid() AND datname = 'deleghe'",
        )
        .lines()
        .filter(|l| l.trim() == "t")
        .count()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", &self.data(), "-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if std::thread::panicking() {
            eprintln!(
                "the server's folder, with its log and the app's, is kept: {}",
                self.dir.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The app's process.
struct App {
    child: Child,
    port: u16,
    /// Its standard error.
    log: PathBuf,
    /// The SMS file it writes.
    sms: PathBuf,
}

impl App {
    /// `deleghe serve` on `database_url`, its SMS file and development
    /// folder in `dir`, logging at info level; once it is ready.
    async fn start(dir: &Path, database_url: &str, secret: &str) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let port = free_port();
        let log = dir.join("serve.log");
        let sms = dir.join("sms.jsonl");
        let child = Command::new(env!("CARGO_BIN_EXE_deleghe"))
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--database-url")
            .arg(database_url)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("XDG_RUNTIME_DIR", dir.join("dev"))
            .env("DELEGHE_JWT_SECRET", secret)
            .env("DELEGHE_SMS_OUTBOX", &sms)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("the deleghe binary starts");
        let mut app = Self {
            child,
            port,
            log,
            sms,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(answer) = request(port, "GET", "/health/ready", None, None).await {
                if answer.status == 200 {
                    return app;
                }
            }
            if let Some(status) = app.child.try_wait().unwrap() {
                panic!(
                    "the app exited ({status}) before it was ready:\n{}",
                    app.log()
                );
            }
            assert!(Instant::now() < deadline, "the app did not get ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The keys of the SMS file, in order.
    fn sms_keys(&self) -> Vec<String> {
        deleghe_adapters::gateway::FileSmsGateway::read_lines(&self.sms)
            .unwrap_or_default()
            .into_iter()
            .map(|l| l.key)
            .collect()
    }

    /// Still running (it must never exit on its own here).
    fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("the app exited ({status}):\n{}", self.log());
        }
    }

    /// SIGTERM, and its exit within 30 s.
    async fn stop(mut self) -> std::process::ExitStatus {
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the app did not exit after SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Answer {
    /// Whether this is the answer of a store gone away: 503 problem+json,
    /// code `unavailable`, with `Retry-After`; else what is wrong with it.
    fn unavailable(&self) -> Result<(), String> {
        let shape = || format!("{}\n{}", self.head, String::from_utf8_lossy(&self.body));
        if self.status != 503 {
            return Err(format!("not 503: {}", shape()));
        }
        if self.header("content-type") != Some("application/problem+json") {
            return Err(format!("a 503 not problem+json: {}", shape()));
        }
        let body: Value = serde_json::from_slice(&self.body).map_err(|_| shape())?;
        if body["code"] != "unavailable" || body["status"] != 503 {
            return Err(format!("a 503 whose code is not unavailable: {}", shape()));
        }
        if self.header("retry-after").is_none() {
            return Err(format!("a 503 without Retry-After: {}", shape()));
        }
        Ok(())
    }
}

/// One HTTP/1.1 request on a connection of its own, within the client's
/// deadline. The app runs throughout: a refused or closed connection, an
/// answer cut short or a deadline passed is an error.
async fn request(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
) -> Result<Answer, String> {
    let what = format!("{method} {path}");
    match tokio::time::timeout(deadline(), exchange(port, method, path, token, body)).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!(
            "{what}: no answer within {:?} (the app's request timeout is {:?})",
            deadline(),
            deleghe_app::Timeouts::default().request
        )),
    }
}

/// A write the app acknowledged (2xx), and whose it is.
#[derive(Debug, Clone)]
struct Acked {
    path: String,
    owner: usize,
    /// 201 (settled in the call) or 202 (its flow finished later).
    status: u16,
    /// A booking's id, for its confirmation SMS.
    booking: Option<String>,
}

/// The clients, and what they were answered.
struct Load {
    port: u16,
    keys: JwtKeys,
    slots: Vec<String>,
    next_place: AtomicUsize,
    acked: Mutex<Vec<Acked>>,
    /// Answers 503 `unavailable`.
    unavailable: AtomicUsize,
    /// Everything that breaks the contract: a 500, another status, a 503
    /// of another shape, no answer in time.
    failures: Mutex<Vec<String>>,
    /// The slowest answer (or no answer) so far, and to what.
    slowest: Mutex<(Duration, String)>,
    /// The last round each client began.
    rounds: Vec<AtomicUsize>,
    stop: AtomicBool,
}

impl Load {
    fn new(port: u16, keys: JwtKeys, slots: Vec<String>) -> Arc<Self> {
        Arc::new(Self {
            port,
            keys,
            slots,
            next_place: AtomicUsize::new(0),
            acked: Mutex::new(Vec::new()),
            unavailable: AtomicUsize::new(0),
            failures: Mutex::new(Vec::new()),
            slowest: Mutex::new((Duration::ZERO, String::new())),
            rounds: (0..CLIENTS).map(|_| AtomicUsize::new(0)).collect(),
            stop: AtomicBool::new(false),
        })
    }

    fn acked(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    fn fail(&self, what: String) {
        self.failures.lock().unwrap().push(what);
    }

    /// [`request`] to the app, timed: one slower than [`SLOWEST_ANSWER`]
    /// breaks the contract.
    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<Answer, String> {
        let started = Instant::now();
        let answer = request(self.port, method, path, token, body).await;
        let took = started.elapsed();
        let what = format!("{method} {path}");
        if took > SLOWEST_ANSWER {
            self.fail(format!("{what} answered after {took:?}"));
        }
        let mut slowest = self.slowest.lock().unwrap();
        if took > slowest.0 {
            *slowest = (took, what);
        }
        answer
    }

    /// A JSON `body` posted to `path` by the holder of `token`, timed as
    /// [`Load::send`] times it.
    async fn post_json(&self, path: &str, token: &str, body: &Value) -> Result<Answer, String> {
        let json = ("application/json", body.to_string().into_bytes());
        self.send("POST", path, Some(token), Some(json)).await
    }

    /// Sorts one answer: its JSON if 2xx; `None` for a rule's
    /// refusal (422) or a 503 `unavailable` (after waiting its
    /// `Retry-After`, as a client would); anything else is a failure.
    async fn judge(&self, what: &str, answer: Result<Answer, String>) -> Option<(u16, Value)> {
        let answer = match answer {
            Ok(answer) => answer,
            Err(e) => {
                self.fail(e);
                return None;
            }
        };
        match answer.status {
            200..=299 => Some((answer.status, answer.json())),
            422 => None,
            503 => {
                match answer.unavailable() {
                    Ok(()) => {
                        self.unavailable.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(e) => self.fail(format!("{what}: {e}")),
                }
                let wait = answer
                    .header("retry-after")
                    .and_then(|s| s.parse::<u64>().ok())
                    .unwrap_or(1)
                    .min(5);
                tokio::time::sleep(Duration::from_secs(wait)).await;
                None
            }
            other => {
                self.fail(format!(
                    "{what} answered {other}: {}",
                    String::from_utf8_lossy(&answer.body)
                ));
                None
            }
        }
    }

    /// Client `k`: round after round, a citizen of its own uploads an
    /// identity document, names a delegate on it (D11) and books a place;
    /// until told to stop.
    async fn client(self: Arc<Self>, k: usize) {
        for round in 0..PER_CLIENT {
            if self.stop.load(Ordering::SeqCst) {
                return;
            }
            self.rounds[k].store(round, Ordering::SeqCst);
            let n = k * PER_CLIENT + round;
            let token = citizen_token(&self.keys, n);
            let upload = self
                .send(
                    "POST",
                    IDENTITY_UPLOAD,
                    Some(&token),
                    Some(identity_document(n)),
                )
                .await;
            let Some((_, uploaded)) = self.judge("upload", upload).await else {
                continue;
            };
            let digest = uploaded["sha256"].as_str().unwrap().to_owned();
            let body = json!({"delegate": cf(DELEGATES + n), "identity_document": digest});
            let registered = self.post_json("/v1/delegations", &token, &body).await;
            if let Some((status, v)) = self.judge("registration", registered).await {
                self.acked.lock().unwrap().push(Acked {
                    path: format!("/v1/delegations/{}", v["id"].as_str().unwrap()),
                    owner: n,
                    status,
                    booking: None,
                });
            }
            let place = self.next_place.fetch_add(1, Ordering::SeqCst);
            let Some(start) = self.slots.get(place / 3) else {
                self.fail("the load ran out of slots".into());
                return;
            };
            let body = json!({"counter": "pensioni-roma", "start": start, "mode": "in_person",
                              "reason": "Pensione", "phone": PHONE});
            let booked = self.post_json("/v1/bookings", &token, &body).await;
            if let Some((status, v)) = self.judge("booking", booked).await {
                let id = v["id"].as_str().unwrap().to_owned();
                self.acked.lock().unwrap().push(Acked {
                    path: format!("/v1/bookings/{id}"),
                    owner: n,
                    status,
                    booking: Some(id.clone()),
                });
                // Reads too: the booking, from its stream, and the
                // citizen's delegations, from the read models.
                let path = format!("/v1/bookings/{id}");
                let read = self.send("GET", &path, Some(&token), None).await;
                self.judge("reading a booking", read).await;
            }
            let list = self
                .send("GET", "/v1/delegations", Some(&token), None)
                .await;
            self.judge("listing delegations", list).await;
        }
    }

    /// Every citizen the clients have used, as grantors and as delegates.
    fn people(&self) -> Vec<FiscalCode> {
        (0..CLIENTS)
            .flat_map(|k| {
                (0..=self.rounds[k].load(Ordering::SeqCst)).map(move |r| k * PER_CLIENT + r)
            })
            .flat_map(|n| [cf(n), cf(DELEGATES + n)])
            .map(|c| FiscalCode::parse(&c).unwrap())
            .collect()
    }
}

/// Waits until `ready` holds, at most `within`; how long it took.
async fn eventually<F, Fut>(within: Duration, what: &str, mut ready: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !ready().await {
        assert!(started.elapsed() < within, "{what} within {within:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    started.elapsed()
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// One fault at a time: each runs a server, the app and the clients, on two
/// cores.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The fault a test puts the server through, while the clients run.
enum Fault {
    Restart,
    Stop(Duration),
    KillConnections { times: usize, every: Duration },
}

/// Runs the load on the app on a server of its own, puts the server
/// through `fault`, and checks everything the module says.
async fn survives(fault: Fault) {
    let bin = match Postgres::binaries() {
        Ok(bin) => bin,
        Err(why) => return skip(&why),
    };
    let _one = ONE_AT_A_TIME.lock().await;
    let started = Instant::now();
    let server = Postgres::start(bin);
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let keys = JwtKeys::new(&Secret::new(&secret));
    let mut app = App::start(&server.dir.join("app"), &server.url(), &secret).await;

    let today = Utc::now().date_naive();
    let slots = request(
        app.port,
        "GET",
        &format!(
            "/v1/counters/pensioni-roma/slots?from={}&to={}",
            today + chrono::Days::new(1),
            today + chrono::Days::new(60)
        ),
        Some(&citizen_token(&keys, 0)),
        None,
    )
    .await
    .unwrap()
    .json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["start"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    assert!(slots.len() > 100, "{} slots", slots.len());

    let load = Load::new(app.port, keys.clone(), slots);
    let clients: Vec<_> = (0..CLIENTS)
        .map(|k| tokio::spawn(load.clone().client(k)))
        .collect();
    // Under way: writes acknowledged, more in flight.
    eventually(Duration::from_secs(60), "the load gets going", || async {
        load.acked() >= 2 * CLIENTS
    })
    .await;

    // The fault.
    let acked_before = load.acked();
    let unavailable_before = load.unavailable.load(Ordering::SeqCst);
    match &fault {
        Fault::Restart => {
            let server = &server;
            tokio::task::block_in_place(|| server.pg_ctl(&["-m", "fast", "restart"]));
        }
        Fault::Stop(down) => {
            tokio::task::block_in_place(|| server.pg_ctl(&["-m", "fast", "stop"]));
            let stopped = Instant::now();
            // Meanwhile: not ready, for the store, said the same way.
            let ready = load.send("GET", "/health/ready", None, None).await.unwrap();
            if let Err(e) = ready.unavailable() {
                panic!("/health/ready with the server stopped: {e}");
            }
            let metrics = load.send("GET", "/metrics", None, None).await.unwrap();
            if let Err(e) = metrics.unavailable() {
                panic!("/metrics with the server stopped: {e}");
            }
            tokio::time::sleep(down.saturating_sub(stopped.elapsed())).await;
            app.assert_running();
            tokio::task::block_in_place(|| server.pg_ctl(&["start"]));
        }
        Fault::KillConnections { times, every } => {
            for _ in 0..*times {
                let killed = tokio::task::block_in_place(|| server.terminate_connections());
                println!("killed {killed} connections");
                tokio::time::sleep(*every).await;
            }
        }
    }
    let unavailable_during = load.unavailable.load(Ordering::SeqCst) - unavailable_before;
    app.assert_running();

    // The same process serves again, within a bounded time: ready, and a
    // write of the load acknowledged after the server came back.
    let acked_at_back = load.acked();
    let ready_after = eventually(SERVES_AGAIN_WITHIN, "ready again", || async {
        matches!(
            request(app.port, "GET", "/health/ready", None, None).await,
            Ok(Answer { status: 200, .. })
        )
    })
    .await;
    let writes_after = eventually(
        SERVES_AGAIN_WITHIN,
        "a write acknowledged again",
        || async { load.acked() > acked_at_back },
    )
    .await;
    // A few more seconds of load on the recovered app, then the clients stop.
    tokio::time::sleep(Duration::from_secs(3)).await;
    load.stop.store(true, Ordering::SeqCst);
    for client in clients {
        tokio::time::timeout(deadline() + Duration::from_secs(5), client)
            .await
            .expect("every client ends")
            .unwrap();
    }
    let failures = load.failures.lock().unwrap().clone();
    let slowest = load.slowest.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "{} requests broke the contract, the first ones:\n{}",
        failures.len(),
        failures
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    let acked = load.acked.lock().unwrap().clone();
    assert!(
        acked.len() > acked_before,
        "writes were acknowledged after the fault"
    );
    if let Fault::Stop(_) = fault {
        assert!(
            unavailable_during > 0,
            "no write was answered 503 while the server was stopped"
        );
    }

    // The workers resumed: the projector and the flow runner at the head of
    // the log.
    let caught_up = eventually(
        Duration::from_secs(30),
        "the projector and the flow runner reach the head",
        || async {
            let Ok(answer) = request(app.port, "GET", "/metrics", None, None).await else {
                return false;
            };
            let text = String::from_utf8_lossy(&answer.body).into_owned();
            answer.status == 200
                && metric(&text, "deleghe_projector_lag_events") == Some(0.0)
                && metric(&text, "deleghe_runner_lag_events") == Some(0.0)
        },
    )
    .await;
    // Every acknowledged write is there, to its owner.
    let mut confirmed = Vec::new();
    for write in &acked {
        let token = citizen_token(&keys, write.owner);
        let mut answer = request(app.port, "GET", &write.path, Some(&token), None)
            .await
            .unwrap();
        for _ in 0..100 {
            if answer.status != 202 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            answer = request(app.port, "GET", &write.path, Some(&token), None)
                .await
                .unwrap();
        }
        match answer.status {
            200 => {
                let v = answer.json();
                let state = v["status"].as_str().unwrap();
                assert!(
                    state == "active" || state == "confirmed",
                    "{}: {v}",
                    write.path
                );
                confirmed.extend(write.booking.clone());
            }
            // Accepted (202), then refused by a rule its flow met later.
            422 if write.status == 202 => {}
            other => panic!(
                "{}, acknowledged {}: {other} {}",
                write.path,
                write.status,
                String::from_utf8_lossy(&answer.body)
            ),
        }
    }

    // The dispatcher sent the confirmation of every booking confirmed,
    // those made around the fault and after it too; no SMS key twice.
    assert!(!confirmed.is_empty(), "no booking confirmed");
    let missing = || {
        let sent = app.sms_keys();
        confirmed
            .iter()
            .map(|id| format!("booking:{id}:sms:confirmation"))
            .filter(|key| !sent.contains(key))
            .collect::<Vec<_>>()
    };
    let all_sent = Duration::from_secs(30);
    if tokio::time::timeout(all_sent, async {
        while !missing().is_empty() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .is_err()
    {
        panic!("not sent within {all_sent:?}: {:?}", missing());
    }
    let mut keys_sent = app.sms_keys();
    let sent = keys_sent.len();
    keys_sent.sort_unstable();
    keys_sent.dedup();
    assert_eq!(keys_sent.len(), sent, "an SMS key is in the SMS file twice");

    app.assert_running();
    let log = app.log();
    let exit = app.stop().await;
    assert!(exit.success(), "exit {exit:?} after SIGTERM:\n{log}");

    // The invariants, on what the store holds once every flow has ended.
    let repository = Repository::connect(&server.url()).await.unwrap();
    let policy = Policy::default();
    let system = System::builder(policy.clone())
        .on(repository.clone())
        .await
        .unwrap();
    system.runner().catch_up().await.unwrap();
    let people = load.people();
    let now: DateTime<Utc> = Utc::now();
    let delegations = Delegations::load(system.service(), &people).await.unwrap();
    delegations.check(&policy, now).unwrap();
    delegations.settled().unwrap();
    let counter = Counters::builtin().get("pensioni-roma").unwrap().clone();
    let slots: Vec<_> = load
        .slots
        .iter()
        .take(load.next_place.load(Ordering::SeqCst) / 3 + 1)
        .filter_map(|s| counter.offers(DateTime::parse_from_rfc3339(s).unwrap().into()))
        .map(|slot| (counter.clone(), slot))
        .collect();
    let bookings = Bookings::load(system.service(), &people, &slots)
        .await
        .unwrap();
    bookings.check(&policy, now).unwrap();
    let outbox = system.caught_up().await.unwrap().outbox().await.unwrap();
    let mut outbox_keys: Vec<&str> = outbox.iter().map(|row| row.key.as_str()).collect();
    outbox_keys.sort_unstable();
    let rows = outbox_keys.len();
    outbox_keys.dedup();
    assert_eq!(outbox_keys.len(), rows, "every outbox row's key once");
    drop(system);
    if let Some(pool) = repository.postgres_pool() {
        pool.close().await;
    }

    // Personal data is never in the log at info level; the cause is.
    for person in &people {
        assert!(!log.contains(person.as_str()), "a fiscal code in the log");
    }
    for phone in [PHONE, "3331234567"] {
        assert!(!log.contains(phone), "a phone number in the log");
    }
    assert!(!log.contains("panicked"), "a panic in the log:\n{log}");
    // A 503 leaves an error line naming the cause; the workers that met
    // the store gone warn that they will retry.
    if load.unavailable.load(Ordering::SeqCst) > 0 {
        assert!(
            log.lines()
                .any(|l| l.contains(" ERROR ") && l.contains("the store is unavailable")),
            "no error line names the cause of the 503s"
        );
    }
    if let Fault::Stop(_) = fault {
        assert!(
            log.lines()
                .any(|l| l.contains(" WARN ") && l.contains("will retry")),
            "no worker said it will retry while the server was stopped"
        );
    }

    println!(
        "acknowledged {} writes ({acked_before} before the fault), {} answered 503 \
         ({unavailable_during} during the fault), the slowest answer {slowest:?}; ready again {ready_after:?} and a write \
         acknowledged {writes_after:?} after the server was back, the workers at the head \
         {caught_up:?} later; {sent} SMS; the whole test took {:?}",
        acked.len(),
        load.unavailable.load(Ordering::SeqCst),
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_under_load() {
    survives(Fault::Restart).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_for_30_seconds_under_load() {
    survives(Fault::Stop(Duration::from_secs(30))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_killed_under_load() {
    survives(Fault::KillConnections {
        times: 5,
        every: Duration::from_millis(1500),
    })
    .await;
}
