//! Security regressions of the HTTP layer: a request must arrive in time
//! (head, body, whole: 408 problem+json), and the request id of the audit
//! trail is the server's, not the client's.

use std::time::Duration;

use deleghe_adapters::Repository;
use deleghe_app::auth::{AuthMethod, JwtKeys, Role, TokenRequest};
use deleghe_app::config::Secret;
use deleghe_app::counters::Counters;
use deleghe_app::{AppState, StateConfig, Timeouts};
use deleghe_domain::{FiscalCode, Policy};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{cf, Api, Store};

/// Short deadlines, so that the tests wait for them.
const SHORT: Timeouts = Timeouts {
    head: Duration::from_millis(300),
    body: Duration::from_millis(300),
    request: Duration::from_millis(900),
    read_wait: Duration::from_millis(300),
};

/// The server of `serve` on a loopback port with `SHORT` deadlines.
async fn server() -> (std::net::SocketAddr, String) {
    let state = AppState::open(StateConfig {
        repository: Repository::memory(),
        policy: Policy::default(),
        keys: JwtKeys::new(&Secret::new(deleghe_app::state::TEST_SECRET)),
        counters: Counters::builtin(),
        dev_clock: false,
        sms_outbox: None,
        timeouts: SHORT,
        io: None,
        sms_provider: None,
        failpoint: None,
    })
    .await
    .unwrap();
    let token = state
        .keys()
        .issue(&TokenRequest {
            sub: FiscalCode::parse(&cf(700)).unwrap(),
            role: Role::Citizen,
            auth: Some(AuthMethod::Spid),
            office: None,
            act_for: None,
            issued_at: chrono::Utc::now(),
            expires_at: chrono::Utc::now() + chrono::Duration::minutes(5),
        })
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(deleghe_app::server::run(
        listener,
        state,
        Box::pin(std::future::pending()),
    ));
    (address, token)
}

/// Writes `parts` with `pause` between them, then reads the answer (at most
/// 5 s: a server without deadlines would keep the connection for ever).
async fn slowly(address: std::net::SocketAddr, parts: &[&str], pause: Duration) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    for (n, part) in parts.iter().enumerate() {
        if n > 0 {
            tokio::time::sleep(pause).await;
        }
        if stream.write_all(part.as_bytes()).await.is_err() {
            break;
        }
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server kept a stalled request for 5 s");
    String::from_utf8_lossy(&answer).into_owned()
}

#[track_caller]
fn assert_timeout_problem(answer: &str) {
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("content-type: application/problem+json"),
        "{answer}"
    );
    assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
}

/// Finding: there was no deadline on a request's head: a client sending
/// its headers slowly held a connection and a task for as long as it liked.
#[tokio::test]
async fn a_head_that_stalls_is_answered_408() {
    let (address, _) = server().await;
    let answer = slowly(
        address,
        &["GET /health HTTP/1.1\r\nHost: test\r\n", "\r\n"],
        Duration::from_millis(1500),
    )
    .await;
    assert_timeout_problem(&answer);
}

/// Finding: there was no deadline on a body: the request's check ran when
/// its headers arrived, and the body could be held back for as long as the
/// client liked (see also `security_acting`).
#[tokio::test]
async fn a_body_that_stalls_is_answered_408() {
    let (address, token) = server().await;
    let body = json!({"delegate": cf(701)}).to_string();
    let head = format!(
        "POST /v1/delegations HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    let answer = slowly(
        address,
        &[&head, &body[..5], &body[5..]],
        Duration::from_millis(1500),
    )
    .await;
    assert_timeout_problem(&answer);
}

/// A body that trickles in, never pausing long enough for the body's
/// deadline, still meets the whole request's.
#[tokio::test]
async fn a_request_that_runs_too_long_is_answered_408() {
    let (address, token) = server().await;
    let body = json!({"delegate": cf(702)}).to_string();
    let head = format!(
        "POST /v1/delegations HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    let mut parts = vec![head.as_str()];
    let chunks: Vec<String> = body.chars().map(String::from).collect();
    parts.extend(chunks.iter().map(String::as_str));
    let answer = slowly(address, &parts, Duration::from_millis(150)).await;
    assert_timeout_problem(&answer);
}

/// Finding: the caller's `x-request-id` became the correlation id of the
/// events the request stored, so a client could choose what the audit
/// trail says, or make two requests look like one. The id is the server's;
/// the client's is kept beside it in the logs only.
#[tokio::test]
async fn the_audit_trail_carries_the_servers_request_id() {
    let api = Api::on(Store::Memory, false).await;
    let identity_document = api.id_doc(&cf(710)).await;
    let request = axum::http::Request::post("/v1/delegations")
        .header("authorization", format!("Bearer {}", api.citizen(&cf(710))))
        .header("content-type", "application/json")
        .header("x-request-id", "chosen-by-the-client")
        .body(axum::body::Body::from(
            json!({"delegate": cf(711), "identity_document": identity_document}).to_string(),
        ))
        .unwrap();
    let answer = api.send(request).await;
    assert_eq!(answer.status.as_u16(), 201);
    let id = answer.headers["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(id, "chosen-by-the-client");
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    let log = api.state.repository().read_log(0, 1000).await.unwrap();
    assert!(!log.is_empty());
    for e in &log {
        let correlation = e.event.metadata["correlation_id"].as_str().unwrap();
        assert_ne!(correlation, "chosen-by-the-client");
    }
    assert!(
        log.iter()
            .any(|e| e.event.metadata["correlation_id"] == id.as_str()),
        "the request's events carry the id it was answered with"
    );
}

/// A client cannot grow the request metrics: a made-up method (any token
/// hyper accepts, each new) is answered 405 and becomes no label of
/// `deleghe_http_requests_total`, whose labels stay the app's own (a
/// route's template, a standard method, a status).
#[tokio::test]
async fn made_up_methods_never_become_metric_labels() {
    let api = Api::on(Store::Memory, false).await;
    let probe = format!("PROBE{}", uuid::Uuid::new_v4().simple()).to_uppercase();
    for n in 0..3 {
        let method = axum::http::Method::from_bytes(format!("{probe}X{n}").as_bytes()).unwrap();
        let request = axum::http::Request::builder()
            .method(method)
            .uri("/v1/delegations")
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(api.send_as_is(request).await.status.as_u16(), 405);
    }
    // A served request, so that the labels below are looked at.
    let served = axum::http::Request::get("/health")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(api.send_as_is(served).await.status.as_u16(), 200);
    let metrics = api
        .send_as_is(
            axum::http::Request::get("/metrics")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    let text = String::from_utf8(metrics.body).unwrap();
    assert!(
        !text.contains(&probe),
        "a made-up method became a label: {text}"
    );
    let standard = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"];
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("deleghe_http_request"))
        .collect();
    assert!(!lines.is_empty(), "the requests were counted: {text}");
    for line in lines {
        let method = line
            .split("method=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no method label: {line}"));
        assert!(standard.contains(&method), "{line}");
    }
}

/// Finding: a request target of 100,000 bytes was answered 414 with no
/// body (by hyper, whose limit is 64 KiB), and one of 20,000 bytes went
/// through every layer up to the query's decoding. Now a target over
/// `URI_LIMIT` is refused first, with a problem naming the limit, and
/// stores nothing; one at the limit is read as before.
#[tokio::test]
async fn a_request_target_over_the_limit_is_answered_414_with_a_problem() {
    let limit = deleghe_app::URI_LIMIT;
    let (address, token) = server().await;
    let grantor = cf(700);
    let query = |bytes: usize| {
        let head = format!("/v1/delegations?grantor={grantor}&pad=");
        format!("{head}{}", "x".repeat(bytes - head.len()))
    };
    let ask = |target: String| {
        let token = token.clone();
        async move {
            let request = format!(
                "GET {target} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\n\
                 Connection: close\r\n\r\n"
            );
            slowly(address, &[&request], Duration::ZERO).await
        }
    };
    for bytes in [limit + 1, 20_000] {
        let answer = ask(query(bytes)).await;
        assert!(answer.starts_with("HTTP/1.1 414"), "{bytes}: {answer}");
        assert!(
            answer.contains("content-type: application/problem+json"),
            "{answer}"
        );
        assert!(answer.contains(r#""code":"uri_too_long""#), "{answer}");
        assert!(answer.contains(&format!(r#""max":{limit}"#)), "{answer}");
        assert!(answer.contains("x-request-id"), "{answer}");
    }
    // At the limit the target is read and answered (the list, empty).
    let answer = ask(query(limit)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with(r#"{"items":[]}"#), "{answer}");
}

/// The same limit on a write: refused before its handler, so nothing is
/// stored (the same registration with a short target then succeeds, where
/// D1 would refuse it had the first one been stored).
#[tokio::test]
async fn a_write_with_a_target_over_the_limit_stores_nothing() {
    let api = Api::on(Store::Memory, false).await;
    let grantor = cf(701);
    let token = api.citizen(&grantor);
    let body = json!({"delegate": cf(702), "identity_document": api.id_doc(&grantor).await});
    let short = "/v1/delegations";
    let long = format!(
        "{short}?pad={}",
        "x".repeat(deleghe_app::URI_LIMIT + 1 - short.len() - "?pad=".len())
    );
    let refused = api
        .post(&long, &token, body.clone())
        .await
        .refused(414, "uri_too_long");
    assert_eq!(refused["max"], json!(deleghe_app::URI_LIMIT));
    api.post(short, &token, body).await.ok(201);
}

/// Finding: a connection that sent nothing was kept for ever (the head's
/// deadline started with its first byte: hyper's HTTP/1 and HTTP/2 sniffing
/// waited without one), and one that sent HTTP/2's preface was served as
/// HTTP/2, which has no deadline on an idle connection: a client could hold
/// connections and sockets without limit. Now the server speaks HTTP/1.1
/// only and the head's deadline runs from the connection's start.
#[tokio::test]
async fn a_connection_that_sends_nothing_or_http2_is_closed() {
    let (address, _) = server().await;
    let head = SHORT.head;
    let timed = |parts: &'static [&'static str]| async move {
        let started = std::time::Instant::now();
        let answer = slowly(address, parts, Duration::ZERO).await;
        (answer, started.elapsed())
    };
    // Nothing sent: closed at the head's deadline, with no answer (no
    // request began).
    let (answer, took) = timed(&[]).await;
    assert_eq!(answer, "", "an idle connection is just closed");
    assert!(took >= head, "closed after {took:?}, before the deadline");
    // HTTP/2's preface and an empty SETTINGS frame: closed, never served
    // (an HTTP/2 server would answer with its own SETTINGS).
    let (answer, _) = timed(&["PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0"]).await;
    assert_eq!(answer, "", "HTTP/2 is not served");
    // Kept alive after an answer: closed at the deadline of the next head,
    // with nothing more written.
    let (answer, took) = timed(&["GET /health HTTP/1.1\r\nHost: test\r\n\r\n"]).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(answer.matches("HTTP/1.1").count(), 1, "{answer}");
    assert!(took >= head, "closed after {took:?}, before the deadline");
}

/// Finding: nothing bounded how long an answer may wait for the client to
/// take it: a client that sent requests and never read held the connection
/// and its task for as long as it liked, once the sockets' buffers were
/// full. Now a write that waits longer than the body's deadline ends the
/// connection: here, many pipelined answers never read are cut short,
/// where before every one of them was written as soon as the client read.
#[tokio::test]
async fn a_client_that_never_reads_its_answers_is_cut_off() {
    let (address, _) = server().await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    // Far more than the loopback's buffers hold: each answer is the OpenAPI
    // document.
    let asked = 400;
    let request = "GET /openapi.json HTTP/1.1\r\nHost: test\r\n\r\n".repeat(asked);
    stream.write_all(request.as_bytes()).await.unwrap();
    // Not read for well past the deadline (SHORT: 300 ms).
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the connection was still open after 20 s");
    let answered = String::from_utf8_lossy(&answer)
        .matches("HTTP/1.1 200 OK")
        .count();
    assert!(
        answered < asked,
        "all {asked} answers written to a client that did not read ({} bytes)",
        answer.len()
    );
}

/// Found by a hostile probe: a request declaring a body over the limit
/// (`Content-Length`) and sending none was kept until the body's deadline,
/// then answered 408; the size it declared already said 413. Now it is
/// refused at once, before a byte of the body is read.
#[tokio::test]
async fn a_body_declared_over_the_limit_is_refused_before_it_arrives() {
    let (address, token) = server().await;
    for (path, declared, code) in [
        (
            "/v1/delegations",
            deleghe_app::JSON_BODY_LIMIT + 1,
            "payload_too_large",
        ),
        (
            "/v1/me/documents?kind=identity_document",
            50 * 1024 * 1024,
            "document_too_large",
        ),
    ] {
        let content_type = if code == "payload_too_large" {
            "application/json"
        } else {
            "application/pdf"
        };
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: {content_type}\r\nContent-Length: {declared}\r\n\r\n"
        );
        let answer = slowly(address, &[&head], Duration::ZERO).await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{path}: {answer}");
        assert!(answer.contains(&format!(r#""code":"{code}""#)), "{answer}");
    }
}
