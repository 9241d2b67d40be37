//! SIGTERM under load: the real `deleghe serve` binary, on a SQLite file of
//! a temporary folder, is sent SIGTERM while clients register delegations
//! and book places. Every request either gets its whole answer, or its
//! connection is refused or closed before the request was taken; the
//! process exits 0 in bounded time; restarted on the same store, it has
//! every write it acknowledged, and the rules' invariants hold.

#![cfg(unix)]

mod process;

use process::{
    cf, citizen_token, exchange, free_port, identity_document, NoAnswer, Outcome, IDENTITY_UPLOAD,
};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
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
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Clients sending at once.
const CLIENTS: usize = 12;
/// How long the app may take to exit after SIGTERM.
const EXIT_WITHIN: Duration = Duration::from_secs(30);

/// The app's process, its folder and its address.
struct App {
    child: Child,
    port: u16,
}

impl App {
    /// `deleghe serve` on the SQLite file of `dir`, with its development
    /// folder and SMS file there too, on a free port; once it is ready.
    async fn start(dir: &Path, secret: &str, run: usize) -> Self {
        let port = free_port();
        let log = std::fs::File::create(dir.join(format!("serve-{run}.log"))).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_deleghe"))
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--database-url")
            .arg(format!("sqlite://{}", dir.join("deleghe.sqlite").display()))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("XDG_RUNTIME_DIR", dir.join("dev"))
            .env("DELEGHE_JWT_SECRET", secret)
            .env("DELEGHE_SMS_OUTBOX", dir.join("sms.jsonl"))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the deleghe binary starts");
        let app = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Outcome::Answered { status: 200, .. } =
                app.request("GET", "/health/ready", None, None).await
            {
                return app;
            }
            assert!(Instant::now() < deadline, "the app did not get ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn terminate(&self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit, at most `within`; its exit status.
    async fn exited(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!("the app did not exit within {within:?} of SIGTERM");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Outcome {
        request(self.port, method, path, token, body).await
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

/// One HTTP/1.1 request on a connection of its own. An answer cut short
/// (a head without its whole body) fails the test: a request the app has
/// taken is answered in full.
async fn request(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
) -> Outcome {
    match exchange(port, method, path, token, body).await {
        Ok(answer) => answer.into(),
        Err(NoAnswer::Refused(_)) => Outcome::Refused,
        Err(NoAnswer::Closed(_)) => Outcome::Closed,
        Err(cut @ NoAnswer::CutShort(_)) => panic!("{method} {path}: {cut}"),
    }
}

/// A request whose head is sent at once and whose body is held back until
/// `go` resolves: a request in flight whatever the moment of the signal.
async fn held_back(
    port: u16,
    path: &'static str,
    token: String,
    body: Vec<u8>,
    sent_head: tokio::sync::oneshot::Sender<()>,
    go: tokio::sync::oneshot::Receiver<()>,
) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    let (first, rest) = body.split_at(body.len() / 2);
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(first).await.unwrap();
    let _ = sent_head.send(());
    let _ = go.await;
    stream
        .write_all(rest)
        .await
        .expect("the app keeps reading a request it has taken");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer).into_owned();
    assert!(
        text.len() > 12,
        "a request taken before SIGTERM got no answer"
    );
    let end = text.find("\r\n\r\n").expect("a whole head");
    (text[9..12].parse().unwrap(), answer[end + 4..].to_vec())
}

/// A write the app acknowledged (2xx), and whose it is.
#[derive(Debug, Clone)]
struct Acked {
    path: String,
    owner: usize,
    /// 201 (settled in the call) or 202 (its flow finished later).
    status: u16,
}

struct Load {
    port: u16,
    keys: JwtKeys,
    slots: Vec<String>,
    next_place: AtomicUsize,
    acked: Mutex<Vec<Acked>>,
    /// Writes whose connection closed without an answer, by owner: the app
    /// must not have taken them.
    unanswered: Mutex<Vec<(&'static str, usize)>>,
    /// Answers given after SIGTERM was sent.
    answered_after_signal: AtomicUsize,
    signalled: std::sync::atomic::AtomicBool,
}

impl Load {
    fn token(&self, n: usize) -> String {
        citizen_token(&self.keys, n)
    }

    fn note(&self, outcome: &Outcome) {
        if matches!(outcome, Outcome::Answered { .. }) && self.signalled.load(Ordering::SeqCst) {
            self.answered_after_signal.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Whether to go on: false once the app no longer takes requests.
    fn keep(&self, path: &'static str, owner: usize, outcome: &Outcome) -> bool {
        self.note(outcome);
        match outcome {
            Outcome::Answered { status, body } => {
                match status {
                    201 | 202 => {
                        let id = self.json_id(body);
                        self.acked.lock().unwrap().push(Acked {
                            path: format!("{path}/{id}"),
                            owner,
                            status: *status,
                        });
                    }
                    // A rule's refusal (a slot taken meanwhile), or 503
                    // while the store is busy: whole answers, nothing stored
                    // to check.
                    422 | 503 => {}
                    other => panic!("{path} answered {other}: {}", String::from_utf8_lossy(body)),
                }
                true
            }
            Outcome::Closed => {
                self.unanswered.lock().unwrap().push((path, owner));
                false
            }
            Outcome::Refused => false,
        }
    }

    fn json_id(&self, body: &[u8]) -> String {
        let v: Value = serde_json::from_slice(body).unwrap();
        v["id"].as_str().expect("an id").to_owned()
    }

    /// Client `k`: round after round, a citizen of its own uploads an
    /// identity document, names a delegate on it (D11) and books a place.
    async fn client(self: Arc<Self>, k: usize) {
        for round in 0.. {
            let n = k * 200 + round;
            let token = self.token(n);
            let upload = request(
                self.port,
                "POST",
                IDENTITY_UPLOAD,
                Some(&token),
                Some(identity_document(n)),
            )
            .await;
            self.note(&upload);
            let digest = match &upload {
                Outcome::Answered { status: 201, .. } => {
                    upload.json()["sha256"].as_str().unwrap().to_owned()
                }
                Outcome::Answered { status: 503, .. } => continue,
                Outcome::Answered { status, body } => {
                    panic!("upload: {status} {}", String::from_utf8_lossy(body))
                }
                _ => return,
            };
            let body = json!({"delegate": cf(8000 + n), "identity_document": digest});
            let registered = request(
                self.port,
                "POST",
                "/v1/delegations",
                Some(&token),
                Some(("application/json", body.to_string().into_bytes())),
            )
            .await;
            if !self.keep("/v1/delegations", n, &registered) {
                return;
            }
            let place = self.next_place.fetch_add(1, Ordering::SeqCst);
            let Some(start) = self.slots.get(place / 3) else {
                return;
            };
            let body = json!({"counter": "pensioni-roma", "start": start, "mode": "in_person",
                              "reason": "Pensione", "phone": "333 123 4567"});
            let booked = request(
                self.port,
                "POST",
                "/v1/bookings",
                Some(&token),
                Some(("application/json", body.to_string().into_bytes())),
            )
            .await;
            if !self.keep("/v1/bookings", n, &booked) {
                return;
            }
        }
    }
}

fn temporary_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("deleghe-sigterm-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_loses_no_acknowledged_write() {
    let dir = temporary_dir();
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let keys = JwtKeys::new(&Secret::new(&secret));
    let mut app = App::start(&dir, &secret, 1).await;

    let today = Utc::now().date_naive();
    let slots = app
        .request(
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
        .json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["start"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    assert!(slots.len() > 50, "{} slots", slots.len());

    let load = Arc::new(Load {
        port: app.port,
        keys: keys.clone(),
        slots,
        next_place: AtomicUsize::new(0),
        acked: Mutex::new(Vec::new()),
        unanswered: Mutex::new(Vec::new()),
        answered_after_signal: AtomicUsize::new(0),
        signalled: Default::default(),
    });
    // One registration in flight at the signal: its head and half its body
    // sent before, the rest after.
    let slow = CLIENTS * 200;
    let slow_token = citizen_token(&keys, slow);
    let digest = app
        .request(
            "POST",
            "/v1/me/documents?kind=identity_document",
            Some(&slow_token),
            Some((
                "application/pdf",
                deleghe_domain::document::blank_pdf(1090).unwrap(),
            )),
        )
        .await
        .json()["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    let (sent_head, head_sent) = tokio::sync::oneshot::channel();
    let (go, went) = tokio::sync::oneshot::channel();
    let held = tokio::spawn(held_back(
        app.port,
        "/v1/delegations",
        slow_token.clone(),
        json!({"delegate": cf(8000 + slow), "identity_document": digest})
            .to_string()
            .into_bytes(),
        sent_head,
        went,
    ));
    head_sent.await.unwrap();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|k| tokio::spawn(load.clone().client(k)))
        .collect();
    // Under way: some writes acknowledged, more in flight.
    let deadline = Instant::now() + Duration::from_secs(30);
    while load.acked.lock().unwrap().len() < 2 * CLIENTS {
        assert!(Instant::now() < deadline, "the load got too few answers");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    load.signalled.store(true, Ordering::SeqCst);
    let signalled_at = Instant::now();
    app.terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    go.send(()).unwrap();
    let (held_status, held_body) = tokio::time::timeout(Duration::from_secs(20), held)
        .await
        .expect("the request in flight is answered")
        .unwrap();
    assert_eq!(
        held_status,
        201,
        "the request in flight at SIGTERM: {}",
        String::from_utf8_lossy(&held_body)
    );
    let held_id = serde_json::from_slice::<Value>(&held_body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let status = app.exited(EXIT_WITHIN).await;
    let exit_took = signalled_at.elapsed();
    let log = std::fs::read_to_string(dir.join("serve-1.log")).unwrap_or_default();
    assert!(
        status.success(),
        "exit {status:?} after SIGTERM; its log:\n{log}"
    );
    for client in clients {
        tokio::time::timeout(Duration::from_secs(10), client)
            .await
            .expect("every client ends once the app is gone")
            .unwrap();
    }
    load.acked.lock().unwrap().push(Acked {
        path: format!("/v1/delegations/{held_id}"),
        owner: slow,
        status: 201,
    });
    let acked = load.acked.lock().unwrap().clone();
    assert!(acked.len() >= 2 * CLIENTS);

    // The same store, started again: every acknowledged write is there.
    let mut again = App::start(&dir, &secret, 2).await;
    for write in &acked {
        let token = citizen_token(&keys, write.owner);
        let mut answer = again.request("GET", &write.path, Some(&token), None).await;
        for _ in 0..100 {
            if !matches!(answer, Outcome::Answered { status: 202, .. }) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            answer = again.request("GET", &write.path, Some(&token), None).await;
        }
        match &answer {
            Outcome::Answered { status: 200, .. } => {
                let v = answer.json();
                let state = v["status"].as_str().unwrap();
                assert!(
                    state == "active" || state == "confirmed",
                    "{}: {v}",
                    write.path
                );
            }
            // Accepted (202), then refused by a rule its flow met later.
            Outcome::Answered { status: 422, .. } if write.status == 202 => {}
            other => panic!("{}, acknowledged {}: {other:?}", write.path, write.status),
        }
    }
    again.terminate();
    let status = again.exited(EXIT_WITHIN).await;
    assert!(status.success(), "{status:?}");

    // The invariants, on what the store holds once every flow has ended.
    let repository = Repository::connect(&format!(
        "sqlite://{}",
        dir.join("deleghe.sqlite").display()
    ))
    .await
    .unwrap();
    let policy = Policy::default();
    let system = System::builder(policy.clone())
        .on(repository.clone())
        .await
        .unwrap();
    system.runner().catch_up().await.unwrap();
    let people: Vec<FiscalCode> = (0..CLIENTS)
        .flat_map(|k| (0..200).map(move |r| k * 200 + r))
        .filter(|n| acked.iter().any(|a| a.owner == *n) || *n % 200 < 50)
        .chain([slow])
        .flat_map(|n| [cf(n), cf(8000 + n)])
        .map(|c| FiscalCode::parse(&c).unwrap())
        .collect();
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
    // A write closed without an answer was never taken: it stored nothing
    // (each round is a citizen of its own).
    let unanswered = load.unanswered.lock().unwrap().clone();
    for (path, n) in &unanswered {
        let who = FiscalCode::parse(&cf(*n)).unwrap();
        let stored = if *path == "/v1/delegations" {
            !system
                .service()
                .grantor(&who)
                .await
                .unwrap()
                .delegations()
                .is_empty()
        } else {
            !system
                .service()
                .booker(&who)
                .await
                .unwrap()
                .bookings()
                .is_empty()
        };
        assert!(
            !stored,
            "{path} of citizen {n} was stored, its connection closed without an answer"
        );
    }
    // What the test saw, for whoever reads a failure's output.
    println!(
        "acknowledged {} writes; {} closed unanswered; {} answers after SIGTERM; exit took \
         {exit_took:?}",
        acked.len(),
        unanswered.len(),
        load.answered_after_signal.load(Ordering::SeqCst)
    );
    drop(system);
    repository.sqlite_pool().unwrap().close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
