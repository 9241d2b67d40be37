//! The app over a real socket: the server of `serve` (with its workers) on
//! an SQLite file, spoken to in plain HTTP/1.1, then shut down gracefully.

use std::time::Duration;

use deleghe_adapters::Repository;
use deleghe_app::auth::JwtKeys;
use deleghe_app::config::Secret;
use deleghe_app::counters::Counters;
use deleghe_app::{AppState, StateConfig};
use deleghe_domain::Policy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::cf;

async fn exchange(address: std::net::SocketAddr, request: String) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    String::from_utf8(answer).unwrap()
}

#[tokio::test]
async fn over_a_real_socket_with_graceful_shutdown() {
    let file = std::env::temp_dir().join(format!("deleghe-app-{}.sqlite", uuid::Uuid::new_v4()));
    let repository = Repository::connect(&format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    let secret = Secret::new(deleghe_app::state::TEST_SECRET);
    let state = AppState::open(StateConfig {
        repository,
        policy: Policy::default(),
        keys: JwtKeys::new(&secret),
        counters: Counters::builtin(),
        dev_clock: false,
        sms_outbox: None,
        timeouts: deleghe_app::Timeouts::default(),
        io: None,
        sms_provider: None,
        failpoint: None,
    })
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(deleghe_app::server::run(
        listener,
        state.clone(),
        Box::pin(async {
            let _ = stopped.await;
        }),
    ));

    let health = exchange(
        address,
        "GET /health HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".into(),
    )
    .await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains("x-request-id:"), "{health}");
    assert!(health.ends_with(r#"{"status":"ok"}"#), "{health}");
    // The workers `serve` started are running.
    let ready = exchange(
        address,
        "GET /health/ready HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".into(),
    )
    .await;
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");

    let token = state
        .keys()
        .issue(&deleghe_app::auth::TokenRequest {
            sub: deleghe_domain::FiscalCode::parse(&cf(500)).unwrap(),
            role: deleghe_app::auth::Role::Citizen,
            auth: Some(deleghe_app::auth::AuthMethod::Cns),
            office: None,
            act_for: None,
            issued_at: chrono::Utc::now(),
            expires_at: chrono::Utc::now() + chrono::Duration::minutes(5),
        })
        .unwrap();
    // D11: the copy of the grantor's identity document, uploaded (here
    // through the library, the socket carries the registration).
    let pdf = deleghe_domain::document::blank_pdf(2048).unwrap();
    let checked = state.parse_pdf(pdf.clone().into()).await.unwrap();
    state.documents().put(&pdf).await.unwrap();
    let grantor = deleghe_domain::FiscalCode::parse(&cf(500)).unwrap();
    state
        .service()
        .record_upload(
            checked.to_ref(deleghe_domain::document::DocumentKind::IdentityDocument),
            &deleghe_adapters::Metadata::new(deleghe_adapters::Actor::Citizen(grantor), "web"),
        )
        .await
        .unwrap();
    let body = format!(
        r#"{{"delegate": "{}", "identity_document": "{}"}}"#,
        cf(501),
        checked.sha256()
    );
    let created = exchange(
        address,
        format!(
            "POST /v1/delegations HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\
             Authorization: Bearer {token}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
    .await;
    assert!(created.starts_with("HTTP/1.1 201"), "{created}");
    assert!(created.contains(r#""status":"active""#), "{created}");

    let bad = exchange(
        address,
        "POST /v1/delegations HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
            .into(),
    )
    .await;
    assert!(bad.starts_with("HTTP/1.1 401"), "{bad}");
    assert!(
        bad.contains("content-type: application/problem+json"),
        "{bad}"
    );

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(15), server)
        .await
        .expect("the server stops")
        .unwrap()
        .unwrap();
    assert!(
        TcpStream::connect(address).await.is_err(),
        "nothing listens after shutdown"
    );
    crate::support::remove_sqlite(&file);
}
