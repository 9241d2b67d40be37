//! What the tests that run the real `deleghe serve` binary share
//! (`sigterm.rs`, `postgres_faults.rs`, `three_instances.rs`): the citizens
//! they name, their tokens, a free port, and a raw HTTP/1.1 client that
//! tells a whole answer from one cut short (which a client library would
//! smooth over).

// Each test binary uses a part of this module.
#![allow(dead_code)]

use chrono::Utc;
use deleghe_app::auth::{AuthMethod, JwtKeys, Role, TokenRequest};
use deleghe_domain::FiscalCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `n`-th distinct valid fiscal code (as the API tests make them).
pub fn cf(n: usize) -> String {
    let months = b"ABCDEHLMPRST";
    let body = format!(
        "RSSMRA{:02}{}{:02}H501",
        50 + (n / 336) % 50,
        months[(n / 28) % 12] as char,
        1 + n % 28
    );
    let check = FiscalCode::check_character(&body).expect("valid body");
    format!("{body}{check}")
}

/// Where a citizen uploads a copy of their identity document (D11).
pub const IDENTITY_UPLOAD: &str = "/v1/me/documents?kind=identity_document";

/// Citizen `n`'s copy of their identity document, as [`IDENTITY_UPLOAD`]
/// takes it: a one-page PDF of its own (content type and bytes).
pub fn identity_document(n: usize) -> (&'static str, Vec<u8>) {
    (
        "application/pdf",
        deleghe_domain::document::blank_pdf(1100 + n).unwrap(),
    )
}

/// A port of 127.0.0.1 free when asked.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A citizen's token for the `n`-th fiscal code, signed with `keys`.
pub fn citizen_token(keys: &JwtKeys, n: usize) -> String {
    keys.issue(&TokenRequest {
        sub: FiscalCode::parse(&cf(n)).unwrap(),
        role: Role::Citizen,
        auth: Some(AuthMethod::Spid),
        office: None,
        act_for: None,
        issued_at: Utc::now(),
        expires_at: Utc::now() + chrono::Duration::minutes(30),
    })
    .unwrap()
}

/// A whole answer: its status, its head (status line and headers) and its
/// body, as long as its `Content-Length` says.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then_some(v.trim())
        })
    }
}

/// Why an exchange brought no whole answer. Each test says what each case
/// means for it: a killed instance may cut an answer short, a running one
/// may not.
#[derive(Debug)]
pub enum NoAnswer {
    /// The connection was refused: nothing was sent.
    Refused(String),
    /// The request could not be sent, or the connection closed without a
    /// byte of answer.
    Closed(String),
    /// Part of an answer came: a head without its end or its status line,
    /// no `Content-Length`, or a body of another length than it says.
    CutShort(String),
}

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refused(why) => write!(f, "connection refused: {why}"),
            Self::Closed(why) => write!(f, "closed without an answer: {why}"),
            Self::CutShort(why) => write!(f, "an answer cut short: {why}"),
        }
    }
}

/// What became of one request, for the tests that stop the app under load.
#[derive(Debug)]
pub enum Outcome {
    /// The connection was refused: nothing was sent.
    Refused,
    /// No whole answer: the request was not taken, or its answer is unknown
    /// to the client, which may ask again.
    Closed,
    /// A whole answer.
    Answered { status: u16, body: Vec<u8> },
}

impl Outcome {
    pub fn json(&self) -> Value {
        match self {
            Self::Answered { body, .. } => serde_json::from_slice(body)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body))),
            other => panic!("no answer: {other:?}"),
        }
    }
}

impl From<Answer> for Outcome {
    fn from(answer: Answer) -> Self {
        Self::Answered {
            status: answer.status,
            body: answer.body,
        }
    }
}

/// One HTTP/1.1 request on a connection of its own (`Connection: close`),
/// read to the end. A read that fails after a whole answer came is that
/// answer: the app sent all of it.
pub async fn exchange(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
) -> Result<Answer, NoAnswer> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| NoAnswer::Refused(e.to_string()))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    let body = match body {
        Some((content_type, bytes)) => {
            head.push_str(&format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                bytes.len()
            ));
            bytes
        }
        None => Vec::new(),
    };
    head.push_str("\r\n");
    let mut message = head.into_bytes();
    message.extend_from_slice(&body);
    stream
        .write_all(&message)
        .await
        .map_err(|e| NoAnswer::Closed(format!("the request could not be sent: {e}")))?;
    let mut answer = Vec::new();
    let read = stream.read_to_end(&mut answer).await;
    if answer.is_empty() {
        return Err(NoAnswer::Closed(match read {
            Err(e) => format!("the answer could not be read: {e}"),
            Ok(_) => "no byte of answer".to_owned(),
        }));
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    let end = text
        .find("\r\n\r\n")
        .ok_or_else(|| NoAnswer::CutShort(format!("in its head: {text:?}")))?;
    let status: u16 = text
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| NoAnswer::CutShort(format!("no status line: {text:?}")))?;
    let head = text[..end].to_owned();
    let length = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .ok_or_else(|| NoAnswer::CutShort(format!("no Content-Length: {text:?}")))?;
    let body = answer[end + 4..].to_vec();
    if body.len() != length {
        return Err(NoAnswer::CutShort(format!(
            "{} bytes of a {length}-byte body: {text:?}",
            body.len()
        )));
    }
    Ok(Answer { status, head, body })
}
