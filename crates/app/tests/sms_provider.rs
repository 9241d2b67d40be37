//! The SMS provider gateway against a local fake provider: what it sends
//! (the text, the number, the bearer token, the idempotency key), and how
//! it sorts the provider's refusals, overloads, failures and silences
//! (N1, N2, N6).

#[path = "api/support.rs"]
#[allow(dead_code)]
mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use deleghe_adapters::gateway::{GatewayError, HttpSmsGateway, SmsGateway};
use deleghe_domain::booking::Phone;
use serde_json::Value;

/// What the fake provider received: the bearer token, the idempotency key
/// and the body, in order.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(String, String, Value)>>>);

async fn accept(
    State(received): State<Received>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    received
        .0
        .lock()
        .unwrap()
        .push((header("authorization"), header("idempotency-key"), body));
    StatusCode::ACCEPTED
}

/// A provider that echoes the request in its refusal, as some do.
async fn refuse(Json(body): Json<Value>) -> (StatusCode, String) {
    (StatusCode::BAD_REQUEST, format!("invalid request: {body}"))
}

/// The fake provider on a loopback port; its base URL.
async fn provider() -> (String, Received) {
    let received = Received::default();
    let app = Router::new()
        .route("/ok", post(accept))
        .route("/refuse", post(refuse))
        .route("/busy", post(|| async { StatusCode::TOO_MANY_REQUESTS }))
        .route("/down", post(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .route(
            "/slow",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                StatusCode::OK
            }),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}"), received)
}

fn phone() -> Phone {
    Phone::parse("333 123 4567").unwrap()
}

#[tokio::test]
async fn n1_an_sms_reaches_the_provider_with_its_token_and_idempotency_key() {
    let (base, received) = provider().await;
    let gateway = HttpSmsGateway::new(&format!("{base}/ok"), "t-123").unwrap();
    gateway
        .send(
            &phone(),
            "INPS: prenotazione confermata.",
            "booking:b-1:sms:confirmation",
        )
        .await
        .unwrap();
    let got = received.0.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let (auth, key, body) = &got[0];
    assert_eq!(auth, "Bearer t-123");
    assert_eq!(key, "booking:b-1:sms:confirmation");
    assert_eq!(body["to"], "+393331234567");
    assert_eq!(body["text"], "INPS: prenotazione confermata.");
}

#[tokio::test]
async fn n6_refusals_are_permanent_overloads_failures_and_silences_temporary() {
    let (base, _) = provider().await;
    let send = |path: &str| {
        let gateway = HttpSmsGateway::new(&format!("{base}{path}"), "t-123")
            .unwrap()
            .with_timeout(Duration::from_millis(300))
            .unwrap();
        async move {
            gateway
                .send(&phone(), "Codice di accesso: K7RT2Q9M.", "k-1")
                .await
        }
    };
    let refused = send("/refuse").await.unwrap_err();
    assert!(matches!(refused, GatewayError::Permanent(_)), "{refused}");
    // The provider's answer, which repeats the number and the text, never
    // reaches the error (errors are logged).
    let message = refused.to_string();
    assert!(message.contains("400"), "{message}");
    assert!(
        !message.contains("3331234567") && !message.contains("K7RT2Q9M"),
        "{message}"
    );
    for (path, what) in [("/busy", "429"), ("/down", "503")] {
        let error = send(path).await.unwrap_err();
        assert!(error.is_temporary(), "{path}: {error}");
        assert!(error.to_string().contains(what), "{path}: {error}");
    }
    let silent = send("/slow").await.unwrap_err();
    assert!(silent.is_temporary(), "{silent}");
    // Nothing listens there.
    let gone = HttpSmsGateway::new("http://127.0.0.1:9/sms", "t")
        .unwrap()
        .send(&phone(), "x", "k")
        .await
        .unwrap_err();
    assert!(gone.is_temporary(), "{gone}");
    assert!(HttpSmsGateway::new("ftp://sms.example", "t").is_err());
}

/// The app with a provider configured sends the booking's SMS through it,
/// the access code filled in, once.
#[tokio::test]
async fn n1_the_app_sends_its_sms_through_the_configured_provider() {
    let (base, received) = provider().await;
    let api = support::Api::with_sms_provider(&format!("{base}/ok"), "t-123").await;
    let (delegate, grantor) = (support::cf(800), support::cf(801));
    let booked = api.book_meeting(&delegate, &grantor).await;
    let id = booked["id"].as_str().unwrap();
    let code = api.access_code(&delegate, id).await;
    api.state.deliver_due().await.unwrap();
    api.state.deliver_due().await.unwrap();
    let got = received.0.lock().unwrap().clone();
    let confirmations: Vec<_> = got
        .iter()
        .filter(|(_, key, _)| key == &format!("booking:{id}:sms:confirmation"))
        .collect();
    assert_eq!(confirmations.len(), 1, "{got:?}");
    let text = confirmations[0].2["text"].as_str().unwrap();
    assert!(text.contains(&code), "{text}");
    assert!(!text.contains("{{"), "{text}");
}
