//! The harness: the app in-process, driven with `oneshot`, on a fresh store
//! (in memory, or a new schema of the PostgreSQL server named by
//! `DELEGHE_TEST_POSTGRES_URL`), with tokens signed by the test key.

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use chrono::{DateTime, Duration, TimeZone, Utc};
use deleghe_adapters::Repository;
use deleghe_app::auth::{AuthMethod, Role, TokenRequest};
use deleghe_app::counters::Counters;
use deleghe_app::{app, AppState, StateConfig};
use deleghe_domain::booking::BookingId;
use deleghe_domain::{FiscalCode, Policy};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

/// Monday 30 November 2026, 10:00 in Rome.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap()
}

/// Tuesday 1 December 2026, 09:00 in Rome: a web-meeting slot.
pub fn tuesday_9() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap()
}

pub const TUESDAY_9: &str = "2026-12-01T09:00:00+01:00";

/// `n`-th distinct valid fiscal code (check character computed).
pub fn cf(n: usize) -> String {
    let months = b"ABCDEHLMPRST";
    let body = format!(
        "BNCLRA{:02}{}{:02}F205",
        50 + (n / 336) % 50,
        months[(n / 28) % 12] as char,
        1 + n % 28
    );
    let check = FiscalCode::check_character(&body).expect("valid body");
    format!("{body}{check}")
}

/// The kind of store a scenario runs on.
pub enum Store {
    Memory,
    /// A new SQLite file in the temporary folder, removed with the `Api`.
    Sqlite,
    Postgres(String),
    /// A store the test opened itself (a SQLite pool with a page limit, say).
    #[allow(dead_code)]
    Given(Repository),
}

/// The PostgreSQL store, if `DELEGHE_TEST_POSTGRES_URL` is set; otherwise
/// the variant says clearly that it is skipped.
pub fn postgres() -> Option<Store> {
    match std::env::var("DELEGHE_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => Some(Store::Postgres(url)),
        _ => {
            // Straight to stderr, once: the harness would swallow eprintln!.
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "skipping the PostgreSQL variants of the app tests: DELEGHE_TEST_POSTGRES_URL \
                     is not set (e.g. postgres://postgres@127.0.0.1:5432/test)"
                );
            });
            None
        }
    }
}

fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The app under test.
pub struct Api {
    pub state: AppState,
    router: Router,
    /// The development SMS gateway's file.
    pub sms: std::path::PathBuf,
    /// The SQLite file of a `Store::Sqlite` scenario.
    sqlite: Option<std::path::PathBuf>,
    /// The highest log position a write answered with: every read names
    /// it (`If-Min-Position`), as a client that reads what it wrote does.
    position: std::sync::atomic::AtomicI64,
}

impl Drop for Api {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.sms);
        if let Some(file) = &self.sqlite {
            remove_sqlite(file);
        }
    }
}

/// Removes a SQLite database and its write-ahead log and shared memory.
pub fn remove_sqlite(file: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = file.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(name);
    }
}

/// One answer.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body, less the `position` of a write's answer when it equals
    /// the `Position` header (then in [`Answer::position`]): the tests
    /// compare what a write answered with what a read does.
    pub body: Vec<u8>,
    /// The log position a write answered with, in its header and its body.
    pub position: Option<i64>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// The problem's `code`, checking the problem+json shape on the way.
    pub fn code(&self) -> String {
        assert_eq!(
            self.headers
                .get(header::CONTENT_TYPE)
                .map(|v| v.to_str().unwrap()),
            Some("application/problem+json"),
            "{} {:?}",
            self.status,
            String::from_utf8_lossy(&self.body)
        );
        let v = self.json();
        for field in ["type", "title", "status", "detail", "code"] {
            assert!(v.get(field).is_some(), "problem without {field}: {v}");
        }
        assert_eq!(v["status"], self.status.as_u16(), "{v}");
        v["code"].as_str().unwrap().to_owned()
    }

    /// Asserts the status and the problem code.
    #[track_caller]
    pub fn refused(&self, status: u16, code: &str) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "{:?}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.code(), code);
        self.json()
    }

    #[track_caller]
    pub fn ok(&self, status: u16) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "{:?}",
            String::from_utf8_lossy(&self.body)
        );
        if self.body.is_empty() {
            Value::Null
        } else {
            self.json()
        }
    }
}

/// The body of a booking of the web-meeting counter on Tuesday 1 December
/// at 09:00, naming `grantor`.
pub fn meeting_booking(grantor: &str) -> Value {
    json!({
        "counter": "deleghe-web-meeting",
        "start": TUESDAY_9,
        "mode": "web_meeting",
        "reason": "Registrazione delega",
        "phone": "333 123 4567",
        "grantor": {"fiscal_code": grantor, "first_name": "Mario", "last_name": "Rossi"},
    })
}

impl Api {
    pub async fn on(store: Store, dev_clock: bool) -> Self {
        Self::build(store, dev_clock, None, None, Policy::default()).await
    }

    /// The app under `policy` (D11's switch, say).
    #[allow(dead_code)]
    pub async fn with_policy(store: Store, policy: Policy) -> Self {
        Self::build(store, false, None, None, policy).await
    }

    /// The app whose service stops its flows where `failpoint` says, as a
    /// crash would (the flow runner finishes them).
    pub async fn with_failpoint(
        store: Store,
        failpoint: deleghe_adapters::service::Failpoint,
    ) -> Self {
        Self::build(store, false, None, Some(failpoint), Policy::default()).await
    }

    /// The app in memory, sending its SMS to the provider at `url`
    /// (`tests/sms_provider.rs`).
    #[allow(dead_code)]
    pub async fn with_sms_provider(url: &str, token: &str) -> Self {
        let provider = deleghe_app::config::SmsProvider {
            url: url.to_owned(),
            token: deleghe_app::config::Secret::new(token),
        };
        Self::build(
            Store::Memory,
            false,
            Some(provider),
            None,
            Policy::default(),
        )
        .await
    }

    async fn build(
        store: Store,
        dev_clock: bool,
        provider: Option<deleghe_app::config::SmsProvider>,
        failpoint: Option<deleghe_adapters::service::Failpoint>,
        policy: Policy,
    ) -> Self {
        let mut sqlite = None;
        let repository = match store {
            Store::Memory => Repository::memory(),
            Store::Sqlite => {
                let file = std::env::temp_dir().join(format!("deleghe-app-{}.sqlite", unique()));
                sqlite = Some(file.clone());
                Repository::connect(&format!("sqlite://{}", file.display()))
                    .await
                    .expect("a SQLite store")
            }
            Store::Postgres(url) => {
                let separator = if url.contains('?') { '&' } else { '?' };
                // Named with this process's id, as the other tests' stores,
                // so that scripts/test can tell it left behind.
                let schema = deleghe_testkit::store::unique_name("t");
                Repository::connect(&format!("{url}{separator}schema={schema}"))
                    .await
                    .expect("a PostgreSQL store")
            }
            Store::Given(repository) => repository,
        };
        let sms = std::env::temp_dir().join(format!("deleghe-app-sms-{}.jsonl", unique()));
        let state = AppState::open(StateConfig {
            repository,
            policy,
            keys: deleghe_app::auth::JwtKeys::new(&deleghe_app::config::Secret::new(
                deleghe_app::state::TEST_SECRET,
            )),
            counters: Counters::builtin(),
            dev_clock,
            sms_outbox: provider.is_none().then(|| sms.clone()),
            timeouts: deleghe_app::Timeouts::default(),
            io: None,
            sms_provider: provider,
            failpoint,
        })
        .await
        .expect("the app's state");
        state.clock().set(Some(t0()));
        Self {
            router: app(state.clone()),
            state,
            sms,
            sqlite,
            position: Default::default(),
        }
    }

    /// Reads from now on name the log's head: what a client does that
    /// learns of writes made by a worker (B8's timer, say) rather than by
    /// its own requests.
    pub async fn read_from_the_log_head(&self) {
        let head = self.state.repository().log_head().await.unwrap();
        self.position
            .fetch_max(head, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn set_now(&self, at: DateTime<Utc>) {
        self.state.clock().set(Some(at));
    }

    pub fn token(&self, request: TokenRequest) -> String {
        self.state.keys().issue(&request).unwrap()
    }

    pub fn citizen(&self, code: &str) -> String {
        self.token(TokenRequest {
            sub: FiscalCode::parse(code).unwrap(),
            role: Role::Citizen,
            auth: Some(AuthMethod::Spid),
            office: None,
            act_for: None,
            issued_at: Utc::now(),
            expires_at: Utc::now() + Duration::hours(1),
        })
    }

    pub fn operator(&self) -> String {
        self.token(TokenRequest {
            sub: FiscalCode::parse(&cf(900)).unwrap(),
            role: Role::Operator,
            auth: None,
            office: Some("DCM NAPOLI".into()),
            act_for: None,
            issued_at: Utc::now(),
            expires_at: Utc::now() + Duration::hours(1),
        })
    }

    /// An operator of `office` (M11).
    pub fn operator_of(&self, office: &str) -> String {
        self.token(TokenRequest {
            sub: FiscalCode::parse(&cf(901)).unwrap(),
            role: Role::Operator,
            auth: None,
            office: Some(office.into()),
            act_for: None,
            issued_at: Utc::now(),
            expires_at: Utc::now() + Duration::hours(1),
        })
    }

    /// Sends `request`, naming in `If-Min-Position` the highest position
    /// a write answered so far, unless it names one itself.
    pub async fn send(&self, request: Request<Body>) -> Answer {
        self.exchange(request, true).await
    }

    /// Sends `request` as it is: a read naming no position.
    pub async fn send_as_is(&self, request: Request<Body>) -> Answer {
        self.exchange(request, false).await
    }

    async fn exchange(&self, mut request: Request<Body>, name_position: bool) -> Answer {
        use std::sync::atomic::Ordering;
        let seen = self.position.load(Ordering::SeqCst);
        if name_position && seen > 0 && !request.headers().contains_key("if-min-position") {
            request.headers_mut().insert("if-min-position", seen.into());
        }
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let header_position = headers
            .get("position")
            .and_then(|p| p.to_str().ok()?.parse::<i64>().ok());
        if let Some(position) = header_position {
            self.position.fetch_max(position, Ordering::SeqCst);
        }
        let body = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        let mut position = None;
        let mut body = body;
        if let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(&body) {
            if let (Some(stamped), Some(header)) = (object.get("position"), header_position) {
                if stamped.as_i64() == Some(header) {
                    object.remove("position");
                    position = Some(header);
                    body = serde_json::to_vec(&object).unwrap();
                }
            }
        }
        Answer {
            status,
            headers,
            body,
            position,
        }
    }

    fn request(method: Method, path: &str, token: Option<&str>) -> axum::http::request::Builder {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        b
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.send(
            Self::request(Method::GET, path, Some(token))
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Answer {
        self.send(
            Self::request(Method::DELETE, path, Some(token))
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send(
            Self::request(Method::POST, path, Some(token))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send(
            Self::request(Method::PUT, path, Some(token))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
    }

    /// The SMS the development gateway has written, once the due
    /// notifications are sent: (to, text, key) each.
    pub async fn sent_sms(&self) -> Vec<deleghe_adapters::gateway::sms::SmsLine> {
        self.state.deliver_due().await.unwrap();
        deleghe_adapters::gateway::FileSmsGateway::read_lines(&self.sms).unwrap_or_default()
    }

    /// A POST without a body (commands that take none).
    pub async fn post_empty(&self, path: &str, token: &str) -> Answer {
        self.send(
            Self::request(Method::POST, path, Some(token))
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Answer {
        self.send(
            Self::request(Method::POST, path, token)
                .header(header::CONTENT_TYPE, content_type)
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }

    /// How many events the store holds (to check that nothing was stored).
    pub async fn events(&self) -> usize {
        self.state
            .repository()
            .read_log(0, 100_000)
            .await
            .unwrap()
            .len()
    }

    // ------------------------------------------------------------ shortcuts

    /// Registers an online delegation, on a copy of the grantor's identity
    /// document they upload first (D11); returns it.
    pub async fn delegate_online(&self, grantor: &str, delegate: &str) -> Value {
        let identity_document = self.id_doc(grantor).await;
        self.post(
            "/v1/delegations",
            &self.citizen(grantor),
            json!({ "delegate": delegate, "identity_document": identity_document }),
        )
        .await
        .ok(201)
    }

    /// A blank PDF, a different one for each kind of document (D11).
    pub fn pdf_of(kind: &str) -> Vec<u8> {
        let len = match kind {
            "aa08" => 1000,
            "aa09" => 1001,
            "aa10" => 1002,
            "identity_document" => 1003,
            "pec" => 1004,
            _ => 1005,
        };
        deleghe_domain::document::blank_pdf(len).unwrap()
    }

    /// D11: `citizen` uploads a copy of their identity document; returns its
    /// SHA-256.
    pub async fn id_doc(&self, citizen: &str) -> String {
        let answer = self
            .post_raw(
                "/v1/me/documents?kind=identity_document",
                Some(&self.citizen(citizen)),
                "application/pdf",
                // Not the operators' blank identity document: another file.
                deleghe_domain::document::blank_pdf(1010).unwrap(),
            )
            .await
            .ok(201);
        answer["sha256"].as_str().unwrap().to_owned()
    }

    /// D11: the operator `op` uploads one document of each of `kinds`
    /// (`aa08`, `aa10`, `identity_document`, `pec`...); returns their digests.
    pub async fn counter_docs(&self, op: &str, kinds: &[&str]) -> Vec<String> {
        let mut digests = Vec::new();
        for kind in kinds {
            let answer = self
                .post_raw(
                    &format!("/v1/counter/documents?kind={kind}"),
                    Some(op),
                    "application/pdf",
                    Self::pdf_of(kind),
                )
                .await
                .ok(201);
            digests.push(answer["sha256"].as_str().unwrap().to_owned());
        }
        digests
    }

    /// Books the web-meeting counter on Tuesday 1 December at 09:00.
    pub async fn book_meeting(&self, delegate: &str, grantor: &str) -> Value {
        self.post(
            "/v1/bookings",
            &self.citizen(delegate),
            meeting_booking(grantor),
        )
        .await
        .ok(201)
    }

    /// The access code the SMS carries (N1): derived from the deployment's
    /// key, as the dispatcher derives it (the stores keep only a digest).
    /// The booking must be `booker`'s.
    pub async fn access_code(&self, booker: &str, booking: &str) -> String {
        let id = BookingId::parse(booking).unwrap();
        let mine = self
            .state
            .service()
            .booker(&FiscalCode::parse(booker).unwrap())
            .await
            .unwrap();
        assert!(mine.booking(&id).is_some(), "{booking} is {booker}'s");
        self.state.keys().access_codes().issue(&id, 0).0.to_string()
    }
}

impl Api {
    /// N1: the access code in the confirmation SMS of `booking`, as the
    /// development gateway wrote it, once the due notifications are sent.
    pub async fn sms_code(&self, booking: &str) -> String {
        self.state.deliver_due().await.unwrap();
        let lines = deleghe_adapters::gateway::FileSmsGateway::read_lines(&self.sms).unwrap();
        let line = lines
            .iter()
            .find(|l| l.key.contains(booking) && l.key.contains("confirmation"))
            .unwrap_or_else(|| panic!("no confirmation SMS for {booking}: {lines:?}"));
        let marker = "Codice di accesso al web meeting: ";
        let at = line.text.find(marker).expect("the SMS carries the code") + marker.len();
        line.text[at..]
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect()
    }
}

/// A PDF of exactly `size` bytes: a blank page, padded (M6 parses it).
pub fn pdf(size: usize) -> Vec<u8> {
    deleghe_domain::document::blank_pdf(size).expect("a blank PDF of that size")
}
