//! The soak's load (issue 21, `bench/soak.sh`): a steady, mixed load on a
//! running `deleghe serve`, at a fixed request rate, for a number of
//! minutes, printing every minute the requests per second, the latency
//! (p50, p99, max), the server's resident memory (`VmRSS` of
//! `/proc/PID/status`), the outbox backlog and the errors; at the end the
//! verdict (memory flat and no error).
//!
//! ```text
//! deleghe-soak --base http://127.0.0.1:PORT --server-pid PID \
//!     --sms-file FILE --store sqlite --database-url URL \
//!     [--minutes 30] [--rate 50]
//! ```
//!
//! The key the server signs tokens with is `DELEGHE_JWT_SECRET`; the soak
//! mints its citizens' and operators' tokens with it, as the app's process
//! tests do. The server runs with the counters of `bench/soak/counters.json`
//! (the web-meeting counter open every day in ten-minute slots, so that a
//! booking's meeting opens at once, M1).
//!
//! The mix, by scenario (each a citizen's or an operator's sequence of
//! requests, every read naming the last write's position, ADR 0014):
//!
//! - counter registration: the operator uploads the form and the identity
//!   document, registers, reads the delegation back (one in ten on a grantor
//!   who has a delegate already: the rule's refusal, D1);
//! - online registration: the grantor keeps a phone (N7), uploads the copy
//!   of their identity document, registers, lists their delegations;
//! - revocation: one in four grantors first tries online (D8: too early),
//!   the operator revokes at the counter, the grantor lists;
//! - booking: a citizen lists the free slots, books a phone call back,
//!   lists their bookings, then cancels one in three and downloads the
//!   ticket of one in five;
//! - web meeting: the would-be delegate books the next slot of the
//!   web-meeting counter, reads the access code from the SMS file, joins,
//!   the operator takes it in charge, consent, attendance, the two PDFs,
//!   completion (M1–M7), and the meeting read back;
//! - reads: act-as and the grantor's list (D9), a delegation by id, the
//!   counters and a day's slots, the notices, the audit trail.
//!
//! An answer counts as an error unless it is 2xx or one of the rules'
//! refusals the mix provokes or races into (`EXPECTED`); a connection error
//! or a timeout is an error too. The first errors are printed with their
//! answer.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use clap::Parser;
use deleghe_app::auth::{AuthMethod, JwtKeys, Role, TokenRequest};
use deleghe_app::config::Secret;
use deleghe_domain::FiscalCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::time::MissedTickBehavior;

#[derive(Parser)]
#[command(about = "A steady mixed load on a running deleghe serve (bench/soak.sh)")]
struct Args {
    /// The server, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    base: String,
    /// The server's process id, for its resident memory.
    #[arg(long)]
    server_pid: u32,
    /// The server's SMS file (`--sms-outbox`), where the access codes arrive.
    #[arg(long)]
    sms_file: PathBuf,
    /// The store's name, at the start of every line.
    #[arg(long)]
    store: String,
    /// The store itself, read for the outbox rows due and not yet sent
    /// (`sqlite://FILE` or `postgres://...`).
    #[arg(long)]
    database_url: Option<String>,
    /// How long the load runs.
    #[arg(long, default_value_t = 30)]
    minutes: u32,
    /// Requests per second, all scenarios together.
    #[arg(long, default_value_t = 50.0)]
    rate: f64,
    /// Scenarios in flight (each waits for the pace before every request).
    #[arg(long, default_value_t = 48)]
    workers: usize,
    /// Operators per office (each with their own uploads stream, D11).
    #[arg(long, default_value_t = 8)]
    operators: u64,
}

/// The rules' refusals the mix provokes (D1, D8) or races into; any other
/// answer that is not 2xx is an error.
const EXPECTED: &[&str] = &[
    "grantor_already_has_delegate",
    "delegate_cap_reached",
    "online_revocation_too_early",
    "not_active",
    "no_active_delegation",
    "meeting_not_open_yet",
    "slot_full",
    "slot_started",
];

/// At most this many errors are printed in full.
const ERRORS_SHOWN: u64 = 20;

/// Requests of one minute.
#[derive(Default)]
struct Minute {
    /// Latencies of the answered requests, microseconds.
    latencies: Vec<u32>,
    refused: u64,
    errors: u64,
    meetings: u64,
    registrations: u64,
}

/// A minute's line, kept for the verdict.
struct Line {
    rss_kib: Option<u64>,
    errors: u64,
}

struct Soak {
    args: Args,
    http: reqwest::Client,
    keys: JwtKeys,
    pace: tokio::sync::Mutex<tokio::time::Interval>,
    minute: Mutex<Minute>,
    errors_shown: AtomicU64,
    stop: AtomicBool,
    /// Fiscal codes handed out so far (each scenario takes new people).
    people: AtomicU64,
    /// The run's own first letters, so that runs on one database differ.
    run: u64,
    rng: Mutex<u64>,
    /// Access codes from the SMS file, by booking id.
    codes: Mutex<HashMap<String, String>>,
    /// Active delegations: (grantor, delegate, id), at most `ACTIVE`.
    active: Mutex<Vec<(String, String, String)>>,
    /// PDFs made so far (each unique).
    pdfs: AtomicU64,
    /// The rules' refusals of the whole run, by code.
    refusals: Mutex<HashMap<String, u64>>,
}

const ACTIVE: usize = 5000;

/// An answer the scenario goes on with.
struct Answer {
    status: StatusCode,
    body: Value,
    bytes: usize,
}

/// Why a scenario stopped early.
#[derive(Debug)]
enum Stop {
    /// A rule refused (expected), or the run ended.
    Refused,
    /// Counted as an error already.
    Failed,
}

type Step<T> = Result<T, Stop>;

/// A person of a scenario: their token and the last position they wrote.
struct Caller {
    token: String,
    position: i64,
}

enum Payload {
    None,
    Json(Value),
    Pdf(Vec<u8>),
}

impl Soak {
    fn random(&self, below: u64) -> u64 {
        let mut state = self.rng.lock().unwrap();
        // SplitMix64.
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % below.max(1)
    }

    /// A new valid fiscal code, never handed out before in this run.
    fn person(&self) -> String {
        let n = self.people.fetch_add(1, Ordering::Relaxed);
        fiscal_code(self.run, n)
    }

    fn citizen(&self, cf: &str) -> Caller {
        self.token(cf, Role::Citizen, None)
    }

    fn operator(&self, office: &str) -> Caller {
        // A few operators per office, as on a working day.
        let n = self.random(self.args.operators);
        let cf = fiscal_code(self.run ^ 0xFFFF, 1_000_000 + n);
        self.token(&cf, Role::Operator, Some(office))
    }

    fn token(&self, cf: &str, role: Role, office: Option<&str>) -> Caller {
        let now = Utc::now();
        let token = self
            .keys
            .issue(&TokenRequest {
                sub: FiscalCode::parse(cf).expect("a valid fiscal code"),
                role,
                auth: (role == Role::Citizen).then_some(AuthMethod::Spid),
                office: office.map(str::to_owned),
                act_for: None,
                issued_at: now,
                expires_at: now + chrono::Duration::minutes(60),
            })
            .expect("a token");
        Caller { token, position: 0 }
    }

    /// A unique blank one-page PDF of about `bytes` bytes.
    fn pdf(&self, bytes: usize) -> Vec<u8> {
        let n = self.pdfs.fetch_add(1, Ordering::Relaxed);
        unique_pdf(&format!("soak {} {n}", self.run), bytes)
    }

    /// One request, at the pace: its answer if 2xx, else counted (refusal
    /// or error) and `Err`.
    async fn call(
        &self,
        who: &mut Caller,
        method: Method,
        path: &str,
        payload: Payload,
    ) -> Step<Answer> {
        if self.stop.load(Ordering::Relaxed) {
            return Err(Stop::Refused);
        }
        self.pace.lock().await.tick().await;
        if self.stop.load(Ordering::Relaxed) {
            return Err(Stop::Refused);
        }
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.args.base))
            .header(AUTHORIZATION, format!("Bearer {}", who.token))
            .header("If-Min-Position", who.position.to_string());
        request = match payload {
            Payload::None => request,
            Payload::Json(value) => request
                .header(CONTENT_TYPE, "application/json")
                .body(value.to_string()),
            Payload::Pdf(bytes) => request.header(CONTENT_TYPE, "application/pdf").body(bytes),
        };
        let started = Instant::now();
        let result = async {
            let response = request.send().await?;
            let status = response.status();
            let position = response
                .headers()
                .get("position")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i64>().ok());
            let bytes = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, position, bytes))
        }
        .await;
        let micros = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
        let (status, position, bytes) = match result {
            Ok(answer) => answer,
            Err(error) => {
                self.error(&format!("{method} {path}: {error}"));
                return Err(Stop::Failed);
            }
        };
        self.minute.lock().unwrap().latencies.push(micros);
        if let Some(p) = position {
            who.position = who.position.max(p);
        }
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(Answer {
                status,
                body,
                bytes: bytes.len(),
            });
        }
        let code = body.get("code").and_then(Value::as_str).unwrap_or("");
        if status.is_client_error() && EXPECTED.contains(&code) {
            self.minute.lock().unwrap().refused += 1;
            *self
                .refusals
                .lock()
                .unwrap()
                .entry(code.to_owned())
                .or_default() += 1;
            return Err(Stop::Refused);
        }
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(400)]).into_owned();
        self.error(&format!("{method} {path}: {status} {text}"));
        Err(Stop::Failed)
    }

    fn error(&self, what: &str) {
        self.minute.lock().unwrap().errors += 1;
        let shown = self.errors_shown.fetch_add(1, Ordering::Relaxed);
        if shown < ERRORS_SHOWN {
            eprintln!("{} error: {what}", self.args.store);
        }
    }

    fn remember(&self, grantor: &str, delegate: &str, id: &str) {
        let mut active = self.active.lock().unwrap();
        if active.len() >= ACTIVE {
            active.remove(0);
        }
        active.push((grantor.to_owned(), delegate.to_owned(), id.to_owned()));
    }

    /// Takes an active delegation off the list (revocation), or looks at
    /// one (reads).
    fn pick(&self, take: bool) -> Option<(String, String, String)> {
        let len = self.active.lock().unwrap().len() as u64;
        if len == 0 {
            return None;
        }
        let i = usize::try_from(self.random(len)).unwrap_or(0);
        let mut active = self.active.lock().unwrap();
        if i >= active.len() {
            return None;
        }
        Some(if take {
            active.swap_remove(i)
        } else {
            active[i].clone()
        })
    }

    // ------------------------------------------------------------ scenarios

    async fn counter_registration(&self) -> Step<()> {
        let mut operator = self.operator("ROMA EUR");
        let mut documents = Vec::new();
        for (kind, size) in [("aa08", 3000), ("identity_document", 6000)] {
            let answer = self
                .call(
                    &mut operator,
                    Method::POST,
                    &format!("/v1/counter/documents?kind={kind}"),
                    Payload::Pdf(self.pdf(size)),
                )
                .await?;
            documents.push(str_of(&answer.body, "sha256"));
        }
        // One in ten on a grantor who has a delegate already (D1).
        let existing = if self.random(10) == 0 {
            self.pick(false)
        } else {
            None
        };
        let grantor = existing.map_or_else(|| self.person(), |(grantor, _, _)| grantor);
        let delegate = self.person();
        let answer = self
            .call(
                &mut operator,
                Method::POST,
                "/v1/counter/delegations",
                Payload::Json(json!({
                    "grantor": grantor, "delegate": delegate, "documents": documents,
                })),
            )
            .await?;
        let id = str_of(&answer.body, "id");
        self.call(
            &mut operator,
            Method::GET,
            &format!("/v1/delegations/{id}"),
            Payload::None,
        )
        .await?;
        if answer.status == StatusCode::CREATED {
            self.remember(&grantor, &delegate, &id);
            self.minute.lock().unwrap().registrations += 1;
        }
        Ok(())
    }

    async fn online_registration(&self) -> Step<()> {
        let grantor_cf = self.person();
        let delegate = self.person();
        let mut grantor = self.citizen(&grantor_cf);
        self.call(
            &mut grantor,
            Method::PUT,
            "/v1/me/contacts",
            Payload::Json(json!({"phone": phone(self.random(10_000_000)), "io": false})),
        )
        .await?;
        let upload = self
            .call(
                &mut grantor,
                Method::POST,
                "/v1/me/documents?kind=identity_document",
                Payload::Pdf(self.pdf(6000)),
            )
            .await?;
        let answer = self
            .call(
                &mut grantor,
                Method::POST,
                "/v1/delegations",
                Payload::Json(json!({
                    "delegate": delegate,
                    "identity_document": str_of(&upload.body, "sha256"),
                })),
            )
            .await?;
        let id = str_of(&answer.body, "id");
        self.call(
            &mut grantor,
            Method::GET,
            &format!("/v1/delegations?grantor={grantor_cf}"),
            Payload::None,
        )
        .await?;
        if answer.status == StatusCode::CREATED {
            self.remember(&grantor_cf, &delegate, &id);
            self.minute.lock().unwrap().registrations += 1;
        }
        Ok(())
    }

    async fn revocation(&self) -> Step<()> {
        let Some((grantor_cf, _, id)) = self.pick(true) else {
            return self.reads().await;
        };
        let mut grantor = self.citizen(&grantor_cf);
        if self.random(4) == 0 {
            // D8: online only after thirty days; the answer is the rule's.
            let _ = self
                .call(
                    &mut grantor,
                    Method::POST,
                    &format!("/v1/delegations/{id}/revoke"),
                    Payload::None,
                )
                .await;
        }
        let mut operator = self.operator("ROMA EUR");
        self.call(
            &mut operator,
            Method::POST,
            &format!("/v1/counter/delegations/{id}/revoke"),
            Payload::None,
        )
        .await?;
        grantor.position = grantor.position.max(operator.position);
        self.call(
            &mut grantor,
            Method::GET,
            &format!("/v1/delegations?grantor={grantor_cf}"),
            Payload::None,
        )
        .await?;
        Ok(())
    }

    async fn booking(&self) -> Step<()> {
        let mut citizen = self.citizen(&self.person());
        let today = Utc::now().date_naive();
        let from = today + chrono::Days::new(1);
        let to = today + chrono::Days::new(7);
        let slots = self
            .call(
                &mut citizen,
                Method::GET,
                &format!("/v1/counters/pensioni-roma/slots?from={from}&to={to}"),
                Payload::None,
            )
            .await?;
        let free: Vec<&Value> = slots.body["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter(|s| s["free"].as_i64().unwrap_or(0) > 0)
                    .collect()
            })
            .unwrap_or_default();
        if free.is_empty() {
            self.error("pensioni-roma: no free slot in the coming week");
            return Err(Stop::Failed);
        }
        let len = free.len() as u64;
        let slot = free[usize::try_from(self.random(len)).unwrap_or(0)]["start"].clone();
        let booking = self
            .call(
                &mut citizen,
                Method::POST,
                "/v1/bookings",
                Payload::Json(json!({
                    "counter": "pensioni-roma", "start": slot, "mode": "phone_callback",
                    "reason": "Informazioni sulla pensione",
                    "phone": phone(self.random(10_000_000)),
                })),
            )
            .await?;
        let id = str_of(&booking.body, "id");
        self.call(&mut citizen, Method::GET, "/v1/bookings", Payload::None)
            .await?;
        if self.random(5) == 0 {
            let ticket = self
                .call(
                    &mut citizen,
                    Method::GET,
                    &format!("/v1/bookings/{id}/ticket"),
                    Payload::None,
                )
                .await?;
            if ticket.bytes == 0 {
                self.error("an empty ticket");
            }
        }
        if self.random(3) == 0 {
            self.call(
                &mut citizen,
                Method::DELETE,
                &format!("/v1/bookings/{id}"),
                Payload::None,
            )
            .await?;
        }
        Ok(())
    }

    async fn meeting(&self) -> Step<()> {
        let delegate_cf = self.person();
        let grantor_cf = self.person();
        let mut delegate = self.citizen(&delegate_cf);
        let today = Utc::now().date_naive();
        let tomorrow = today + chrono::Days::new(1);
        let slots = self
            .call(
                &mut delegate,
                Method::GET,
                &format!("/v1/counters/deleghe-web-meeting/slots?from={today}&to={tomorrow}"),
                Payload::None,
            )
            .await?;
        // The next slot that has not started (its meeting opens fifteen
        // minutes before, M1: at once, with ten-minute slots).
        let soon = Utc::now() + chrono::Duration::seconds(20);
        let start = slots.body["items"].as_array().and_then(|items| {
            items.iter().find_map(|s| {
                let start = s["start"].as_str()?;
                let at = DateTime::parse_from_rfc3339(start).ok()?;
                (at > soon && s["free"].as_i64().unwrap_or(0) > 0).then(|| start.to_owned())
            })
        });
        let Some(start) = start else {
            self.error("deleghe-web-meeting: no free slot today");
            return Err(Stop::Failed);
        };
        let booking = self
            .call(
                &mut delegate,
                Method::POST,
                "/v1/bookings",
                Payload::Json(json!({
                    "counter": "deleghe-web-meeting", "start": start, "mode": "web_meeting",
                    "reason": "Registrazione delega SPID",
                    "phone": phone(self.random(10_000_000)),
                    "grantor": {"fiscal_code": grantor_cf, "first_name": "Maria", "last_name": "Rossi"},
                })),
            )
            .await?;
        let id = str_of(&booking.body, "id");
        let meeting = format!("/v1/bookings/{id}/meeting");
        // N1: the access code arrives by SMS.
        let code = self.access_code(&id).await?;
        loop {
            match self
                .call(
                    &mut delegate,
                    Method::POST,
                    &format!("{meeting}/join"),
                    Payload::Json(json!({ "code": code })),
                )
                .await
            {
                Ok(_) => break,
                // Not open yet (a slot that starts more than fifteen
                // minutes on): wait, as the citizen would.
                Err(Stop::Refused) if !self.stop.load(Ordering::Relaxed) => {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
                Err(stop) => return Err(stop),
            }
        }
        let mut operator = self.operator("DCM NAPOLI");
        operator.position = delegate.position;
        self.call(
            &mut operator,
            Method::POST,
            &format!("{meeting}/take-in-charge"),
            Payload::None,
        )
        .await?;
        delegate.position = delegate.position.max(operator.position);
        self.call(
            &mut delegate,
            Method::POST,
            &format!("{meeting}/consent"),
            Payload::Json(json!({"recording": true})),
        )
        .await?;
        self.call(
            &mut operator,
            Method::POST,
            &format!("{meeting}/attendance"),
            Payload::Json(json!({
                "grantor_present": true, "delegate_present": true, "grantor_able_to_consent": true,
            })),
        )
        .await?;
        for (kind, size) in [("aa08", 12_000), ("identity_document", 24_000)] {
            self.call(
                &mut delegate,
                Method::POST,
                &format!("{meeting}/documents?kind={kind}"),
                Payload::Pdf(self.pdf(size)),
            )
            .await?;
        }
        let completed = self
            .call(
                &mut operator,
                Method::POST,
                &format!("{meeting}/complete"),
                Payload::None,
            )
            .await?;
        delegate.position = delegate.position.max(operator.position);
        self.call(&mut delegate, Method::GET, &meeting, Payload::None)
            .await?;
        let delegation = str_of(&completed.body["delegation"], "id");
        self.remember(&grantor_cf, &delegate_cf, &delegation);
        let mut minute = self.minute.lock().unwrap();
        minute.meetings += 1;
        minute.registrations += 1;
        Ok(())
    }

    /// The access code of booking `id`, from the SMS file (waits up to a
    /// minute: the dispatcher sends what is due every half second).
    async fn access_code(&self, id: &str) -> Step<String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(code) = self.codes.lock().unwrap().remove(id) {
                return Ok(code);
            }
            if self.stop.load(Ordering::Relaxed) {
                return Err(Stop::Refused);
            }
            if Instant::now() > deadline {
                self.error(&format!(
                    "no access code by SMS for booking {id} within 60 s"
                ));
                return Err(Stop::Failed);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn reads(&self) -> Step<()> {
        let picked = self.pick(false);
        match (self.random(5), picked) {
            (0, Some((grantor, delegate_cf, _))) => {
                // D9: the delegate acts for the grantor and reads their list;
                // a revocation may have come first (no_active_delegation).
                let mut delegate = self.citizen(&delegate_cf);
                let session = self
                    .call(
                        &mut delegate,
                        Method::POST,
                        "/v1/sessions/act-as",
                        Payload::Json(json!({ "grantor": grantor })),
                    )
                    .await?;
                let mut acting = Caller {
                    token: str_of(&session.body, "token"),
                    position: delegate.position,
                };
                self.call(
                    &mut acting,
                    Method::GET,
                    &format!("/v1/delegations?grantor={grantor}"),
                    Payload::None,
                )
                .await?;
            }
            (1, Some((_, _, id))) => {
                let mut operator = self.operator("ROMA EUR");
                self.call(
                    &mut operator,
                    Method::GET,
                    &format!("/v1/delegations/{id}"),
                    Payload::None,
                )
                .await?;
            }
            (2, Some((grantor, _, _))) => {
                let mut citizen = self.citizen(&grantor);
                self.call(&mut citizen, Method::GET, "/v1/me/notices", Payload::None)
                    .await?;
            }
            (3, Some((grantor, _, _))) => {
                let mut operator = self.operator("ROMA EUR");
                self.call(
                    &mut operator,
                    Method::GET,
                    &format!("/v1/audit?grantor={grantor}"),
                    Payload::None,
                )
                .await?;
            }
            _ => {
                let mut citizen = self.citizen(&self.person());
                self.call(&mut citizen, Method::GET, "/v1/counters", Payload::None)
                    .await?;
                let day = Utc::now().date_naive() + chrono::Days::new(1 + self.random(6));
                self.call(
                    &mut citizen,
                    Method::GET,
                    &format!("/v1/counters/pensioni-roma/slots?from={day}&to={day}"),
                    Payload::None,
                )
                .await?;
            }
        }
        Ok(())
    }

    /// One scenario, drawn by weight.
    async fn scenario(&self) -> Step<()> {
        match self.random(100) {
            0..=14 => self.counter_registration().await,
            15..=29 => self.online_registration().await,
            30..=41 => self.revocation().await,
            42..=56 => self.booking().await,
            57..=68 => self.meeting().await,
            _ => self.reads().await,
        }
    }

    // ------------------------------------------------------------ the SMS file

    /// Follows the SMS file, keeping the access codes of web meetings'
    /// confirmations (N1) until their scenario takes them.
    async fn follow_sms(self: Arc<Self>) {
        let mut offset = 0u64;
        let mut pending = String::new();
        while !self.stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let Ok(mut file) = tokio::fs::File::open(&self.args.sms_file).await else {
                continue;
            };
            if file.seek(std::io::SeekFrom::Start(offset)).await.is_err() {
                continue;
            }
            let mut chunk = Vec::new();
            let Ok(read) = file.read_to_end(&mut chunk).await else {
                continue;
            };
            offset += read as u64;
            pending.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = pending.find('\n') {
                let line: String = pending.drain(..=end).collect();
                let Ok(sms) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                let key = sms["key"].as_str().unwrap_or("");
                let Some(booking) = key
                    .strip_prefix("booking:")
                    .and_then(|k| k.strip_suffix(":sms:confirmation"))
                else {
                    continue;
                };
                let text = sms["text"].as_str().unwrap_or("");
                if let Some(code) = access_code_in(text) {
                    self.codes.lock().unwrap().insert(booking.to_owned(), code);
                }
            }
        }
    }

    // ------------------------------------------------------------ the minutes

    /// The server's resident memory, KiB.
    fn rss_kib(&self) -> Option<u64> {
        self.status_kib("VmRSS:")
    }

    /// Of it, the anonymous part (`RssAnon`: the heap and the stacks, not
    /// the files and shared memory mapped, such as SQLite's WAL index): what
    /// tells the allocator's growth from the mapped pages'.
    fn anon_kib(&self) -> Option<u64> {
        self.status_kib("RssAnon:")
    }

    /// A `/proc/PID/status` field given in KiB.
    fn status_kib(&self, field: &str) -> Option<u64> {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.args.server_pid)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    }

    /// The server's CPU time so far, user and system, in clock ticks
    /// (`/proc/PID/stat`, fields 14 and 15).
    fn cpu_ticks(&self) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.args.server_pid)).ok()?;
        // The command's name may hold spaces: count from after its `)`.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let user: u64 = fields.get(11)?.parse().ok()?;
        let system: u64 = fields.get(12)?.parse().ok()?;
        Some(user + system)
    }

    /// The outbox's pending rows (`deleghe_outbox_backlog` of `/metrics`,
    /// the same count as `SELECT count(*) FROM outbox WHERE status =
    /// 'pending'`) and failed ones.
    async fn outbox(&self) -> (Option<u64>, Option<u64>) {
        let Ok(response) = self
            .http
            .get(format!("{}/metrics", self.args.base))
            .send()
            .await
        else {
            return (None, None);
        };
        let Ok(text) = response.text().await else {
            return (None, None);
        };
        let gauge = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .map(|v| v as u64)
        };
        (
            gauge("deleghe_outbox_backlog"),
            gauge("deleghe_outbox_failed"),
        )
    }

    async fn report(self: Arc<Self>, due: Option<Due>) -> Vec<Line> {
        let started = Instant::now();
        let mut lines = Vec::new();
        println!(
            "{:<8} {:>3} {:>7} {:>8} {:>8} {:>8} {:>9} {:>9} {:>8} {:>6} {:>7} {:>6} {:>7} {:>6} {:>5} {:>5}",
            "store",
            "min",
            "req/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "RSS MiB",
            "anon MiB",
            "outbox",
            "due",
            "failed",
            "refus",
            "errors",
            "meet",
            "cpu%",
            "load"
        );
        let mut cpu_before = self.cpu_ticks();
        for minute in 1..=self.args.minutes {
            let next = started + Duration::from_secs(60 * u64::from(minute));
            tokio::time::sleep_until(next.into()).await;
            let done = std::mem::take(&mut *self.minute.lock().unwrap());
            let mut latencies = done.latencies;
            latencies.sort_unstable();
            let total = latencies.len() as u64 + done.errors;
            let at = |q: f64| -> f64 {
                if latencies.is_empty() {
                    return 0.0;
                }
                let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len());
                f64::from(latencies[i - 1]) / 1000.0
            };
            let rss = self.rss_kib();
            let cpu_now = self.cpu_ticks();
            // Clock ticks of 1/100 s over sixty seconds: percent of one core.
            let cpu = match (cpu_before, cpu_now) {
                (Some(a), Some(b)) => format!("{:.0}", b.saturating_sub(a) as f64 / 60.0),
                _ => "n/a".to_owned(),
            };
            cpu_before = cpu_now;
            let (backlog, failed) = self.outbox().await;
            let due_now = match &due {
                Some(due) => due.count().await,
                None => None,
            };
            let show = |v: Option<u64>| v.map_or_else(|| "n/a".to_owned(), |v| v.to_string());
            let mib = |kib: Option<u64>| {
                kib.map_or_else(
                    || "n/a".to_owned(),
                    |kib| format!("{:.1}", kib as f64 / 1024.0),
                )
            };
            println!(
                "{:<8} {:>3} {:>7.1} {:>8.1} {:>8.1} {:>8.1} {:>9} {:>9} {:>8} {:>6} {:>7} {:>6} {:>7} {:>6} {:>5} {:>5}",
                self.args.store,
                minute,
                total as f64 / 60.0,
                at(0.50),
                at(0.99),
                at(1.0),
                mib(rss),
                mib(self.anon_kib()),
                show(backlog),
                show(due_now),
                show(failed),
                done.refused,
                done.errors,
                done.meetings,
                cpu,
                load1(),
            );
            lines.push(Line {
                rss_kib: rss,
                errors: done.errors,
            });
        }
        self.stop.store(true, Ordering::Relaxed);
        lines
    }
}

/// The outbox rows due and not yet sent, read from the store itself.
enum Due {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Due {
    async fn open(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            let options = url
                .parse::<sqlx::sqlite::SqliteConnectOptions>()
                .ok()?
                .read_only(true);
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await
                .ok()?;
            Some(Self::Sqlite(pool))
        } else {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(url)
                .await
                .ok()?;
            Some(Self::Postgres(pool))
        }
    }

    async fn count(&self) -> Option<u64> {
        const DUE: &str =
            "SELECT count(*) FROM outbox WHERE status = 'pending' AND next_attempt_at <= ";
        let now = Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true);
        let n: i64 = match self {
            Self::Sqlite(pool) => sqlx::query_scalar(&format!("{DUE}?1"))
                .bind(now)
                .fetch_one(pool)
                .await
                .ok()?,
            Self::Postgres(pool) => sqlx::query_scalar(&format!("{DUE}$1"))
                .bind(now)
                .fetch_one(pool)
                .await
                .ok()?,
        };
        u64::try_from(n).ok()
    }
}

/// The machine's load average over the last minute.
fn load1() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "n/a".to_owned())
}

/// `"key"`'s string in `value`, or empty.
fn str_of(value: &Value, key: &str) -> String {
    value[key].as_str().unwrap_or("").to_owned()
}

/// An Italian mobile number.
fn phone(n: u64) -> String {
    format!("+39 347 {:07}", n % 10_000_000)
}

/// The access code in a confirmation SMS (N1).
fn access_code_in(text: &str) -> Option<String> {
    let (_, rest) = text.split_once("Codice di accesso al web meeting: ")?;
    let code: String = rest
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    (!code.is_empty()).then_some(code)
}

/// The `n`-th valid fiscal code of run `run`: six letters from `n` and the
/// run, a birth date, and the check character (I1).
fn fiscal_code(run: u64, n: u64) -> String {
    let mut letters = String::new();
    let mut v = n;
    for _ in 0..4 {
        letters.push(char::from(b'A' + (v % 26) as u8));
        v /= 26;
    }
    let mut r = run;
    for _ in 0..2 {
        letters.push(char::from(b'A' + (r % 26) as u8));
        r /= 26;
    }
    let months = b"ABCDEHLMPRST";
    let body = format!(
        "{letters}{:02}{}{:02}H{:03}",
        40 + v % 60,
        months[(v / 60 % 12) as usize] as char,
        1 + (v / 720) % 28,
        (v / 20_160) % 1000
    );
    let check = FiscalCode::check_character(&body).expect("a valid body");
    format!("{body}{check}")
}

/// A blank one-page PDF naming `comment`, padded to about `bytes`, with the
/// cross-reference table that makes it parse (M6).
fn unique_pdf(comment: &str, bytes: usize) -> Vec<u8> {
    let mut pdf = format!("%PDF-1.4\n% {comment}\n").into_bytes();
    let mut offsets = Vec::new();
    for object in [
        "1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n",
        "2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n",
        "3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>\nendobj\n",
    ] {
        offsets.push(pdf.len());
        pdf.extend_from_slice(object.as_bytes());
    }
    pdf.push(b'%');
    pdf.resize(pdf.len() + bytes.saturating_sub(pdf.len() + 200), b' ');
    pdf.push(b'\n');
    let xref = pdf.len();
    let mut tail = String::from("xref\n0 4\n0000000000 65535 f \n");
    for offset in offsets {
        tail.push_str(&format!("{offset:010} 00000 n \n"));
    }
    tail.push_str(&format!(
        "trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    ));
    pdf.extend_from_slice(tail.as_bytes());
    pdf
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let secret = std::env::var("DELEGHE_JWT_SECRET")
        .expect("DELEGHE_JWT_SECRET, the key the server signs tokens with, is set");
    let mut pace = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate.max(0.1)));
    // Behind (every scenario waiting on the server): the rate drops, shown.
    pace.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let seed = Utc::now().timestamp_nanos_opt().unwrap_or(0).unsigned_abs();
    let due = match &args.database_url {
        Some(url) => Due::open(url).await,
        None => None,
    };
    let soak = Arc::new(Soak {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(args.workers)
            .build()
            .expect("an HTTP client"),
        keys: JwtKeys::new(&Secret::new(secret)),
        pace: tokio::sync::Mutex::new(pace),
        minute: Mutex::default(),
        errors_shown: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        people: AtomicU64::new(0),
        run: seed % (26 * 26),
        rng: Mutex::new(seed),
        codes: Mutex::default(),
        active: Mutex::default(),
        pdfs: AtomicU64::new(0),
        refusals: Mutex::default(),
        args,
    });
    println!(
        "{}: {} req/s for {} min, {} scenarios in flight; latency from send to the whole answer",
        soak.args.store, soak.args.rate, soak.args.minutes, soak.args.workers
    );
    tokio::spawn(Arc::clone(&soak).follow_sms());
    let mut workers = Vec::new();
    for _ in 0..soak.args.workers {
        let soak = Arc::clone(&soak);
        workers.push(tokio::spawn(async move {
            while !soak.stop.load(Ordering::Relaxed) {
                let _ = soak.scenario().await;
            }
        }));
    }
    let lines = Arc::clone(&soak).report(due).await;
    for worker in workers {
        let _ = tokio::time::timeout(Duration::from_secs(40), worker).await;
    }
    let errors: u64 = lines.iter().map(|l| l.errors).sum();
    let store = &soak.args.store;
    let mut refusals: Vec<(String, u64)> = soak.refusals.lock().unwrap().drain().collect();
    refusals.sort();
    let refusals: Vec<String> = refusals.iter().map(|(c, n)| format!("{c} {n}")).collect();
    println!(
        "{store} the rules' refusals (expected): {}",
        refusals.join(", ")
    );
    println!("{store} errors: {errors}");
    let flat = verdict(&lines);
    match flat {
        Some((tenth, last, ratio)) => println!(
            "{store} memory: minute 10 {:.1} MiB, mean of the last ten minutes {:.1} MiB ({:+.1}%): {}",
            tenth as f64 / 1024.0,
            last / 1024.0,
            (ratio - 1.0) * 100.0,
            if (ratio - 1.0).abs() <= 0.10 { "flat" } else { "NOT flat" }
        ),
        None => println!(
            "{store} memory: n/a (the verdict needs 20 minutes or more: minute 10 against the last ten)"
        ),
    }
    let pass = errors == 0 && flat.is_none_or(|(_, _, r)| (r - 1.0).abs() <= 0.10);
    println!(
        "{store} verdict: {}",
        match (pass, flat.is_some()) {
            (true, true) => "PASS (memory flat, no error)",
            (true, false) => "no error (memory not judged: run too short)",
            (false, _) => "FAIL",
        }
    );
    std::process::exit(i32::from(!pass));
}

/// Minute 10's RSS, the mean of the last ten minutes', and their ratio;
/// `None` under twenty minutes or without the figures.
fn verdict(lines: &[Line]) -> Option<(u64, f64, f64)> {
    if lines.len() < 20 {
        return None;
    }
    let tenth = lines[9].rss_kib?;
    let last: Vec<u64> = lines[lines.len() - 10..]
        .iter()
        .filter_map(|l| l.rss_kib)
        .collect();
    if last.is_empty() || tenth == 0 {
        return None;
    }
    let mean = last.iter().sum::<u64>() as f64 / last.len() as f64;
    Some((tenth, mean, mean / tenth as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fiscal_codes_parse_and_differ() {
        let mut seen = std::collections::HashSet::new();
        for n in (0..200_000).step_by(97) {
            let cf = fiscal_code(123, n);
            FiscalCode::parse(&cf).unwrap();
            assert!(seen.insert(cf));
        }
    }

    #[test]
    fn pdfs_parse() {
        let pdf = unique_pdf("soak 1 2", 6000);
        assert!(pdf.len() >= 5800 && pdf.len() <= 6200, "{}", pdf.len());
        deleghe_domain::document::PdfDocument::parse(&pdf, 3 * 1024 * 1024).unwrap();
    }

    #[test]
    fn access_codes_are_read_from_the_sms() {
        assert_eq!(
            access_code_in("... Codice di accesso al web meeting: AB12CD. Ciao").as_deref(),
            Some("AB12CD")
        );
        assert_eq!(access_code_in("nothing"), None);
    }

    #[test]
    fn memory_is_judged_from_twenty_minutes() {
        let line = |kib| Line {
            rss_kib: Some(kib),
            errors: 0,
        };
        assert!(verdict(&(0..19).map(|_| line(100)).collect::<Vec<_>>()).is_none());
        let lines: Vec<Line> = (0..30)
            .map(|m| line(if m < 20 { 100 } else { 105 }))
            .collect();
        let (tenth, mean, ratio) = verdict(&lines).unwrap();
        assert_eq!(tenth, 100);
        assert!((mean - 105.0).abs() < 1e-9 && (ratio - 1.05).abs() < 1e-9);
    }
}
