//! Secrets never reach the logs: not the bearer tokens, not the PINs, not
//! the access codes, even at the most verbose level. A test binary of its
//! own: the capturing subscriber must be the only one in the process.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;
use tracing_subscriber::fmt::MakeWriter;

#[path = "api/support.rs"]
#[allow(dead_code)]
mod support;

use support::{cf, Api, Store};

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

#[tokio::test]
async fn secrets_and_pins_are_never_logged() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(captured.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let api = Api::on(Store::Memory, false).await;
    let (me, grantor) = (cf(600), cf(601));
    let t = api.citizen(&me);
    let op = api.operator();
    let pin = api
        .post("/v1/me/pin", &t, json!({"validity": "1d"}))
        .await
        .ok(201)["pin"]
        .as_str()
        .unwrap()
        .to_owned();
    api.post(
        "/v1/pin/verify",
        &op,
        json!({"fiscal_code": me, "pin": pin}),
    )
    .await
    .ok(200);
    let booked = api.book_meeting(&me, &grantor).await;
    let code = api.access_code(&me, booked["id"].as_str().unwrap()).await;
    api.post(
        &format!(
            "/v1/bookings/{}/meeting/join",
            booked["id"].as_str().unwrap()
        ),
        &t,
        json!({"code": code}),
    )
    .await
    .refused(422, "meeting_not_open_yet");
    api.get("/v1/me/notices", "not-a-token")
        .await
        .refused(401, "unauthorized");

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("finished processing request"),
        "the requests were logged"
    );
    for secret in [
        pin.as_str(),
        code.as_str(),
        t.as_str(),
        op.as_str(),
        deleghe_app::state::TEST_SECRET,
    ] {
        assert!(!logs.contains(secret), "a secret is in the logs: {secret}");
    }
}

/// Finding: fiscal codes reached the info-level logs on every request (the
/// request span named the caller). At info and above, people appear only as
/// keyed pseudonyms: no fiscal code, name or phone number.
#[tokio::test]
async fn personal_data_never_reaches_the_info_logs() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(captured.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let api = Api::on(Store::Memory, false).await;
    let (grantor, delegate, other) = (cf(610), cf(611), cf(612));
    let registered = api.delegate_online(&grantor, &delegate).await;
    let token = api
        .post(
            "/v1/sessions/act-as",
            &api.citizen(&delegate),
            json!({"grantor": grantor}),
        )
        .await
        .ok(200)["token"]
        .as_str()
        .unwrap()
        .to_owned();
    api.get(&format!("/v1/delegations?grantor={grantor}"), &token)
        .await
        .ok(200);
    api.book_meeting(&other, &grantor).await;
    api.post_empty(
        &format!(
            "/v1/counter/delegations/{}/revoke",
            registered["id"].as_str().unwrap()
        ),
        &api.operator(),
    )
    .await
    .ok(200);
    api.get(&format!("/v1/delegations?grantor={grantor}"), &token)
        .await
        .refused(403, "no_active_delegation");
    api.state.deliver_due().await.unwrap();
    // A target over the limit is logged by its length, not its text.
    let padded = format!(
        "/v1/delegations?grantor={grantor}&pad={}",
        "x".repeat(deleghe_app::URI_LIMIT)
    );
    api.get(&padded, &token).await.refused(414, "uri_too_long");

    // A made-up method is the client's text, a fiscal code as good as any.
    let method = axum::http::Method::from_bytes(cf(613).as_bytes()).unwrap();
    let request = axum::http::Request::builder()
        .method(method)
        .uri("/v1/delegations")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(api.send_as_is(request).await.status.as_u16(), 405);

    // Finding: a path's segments and the client's own request id were
    // logged as sent: a fiscal code in either, or a token in a path, reached
    // the info logs. The route's template and a client id that is a UUID
    // only.
    let token_in_path = format!("/nope/{token}");
    for (path, client_id) in [
        (format!("/v1/delegations/{}", cf(614)), cf(615)),
        (token_in_path.clone(), "3331234567".to_owned()),
    ] {
        let request = axum::http::Request::get(path.as_str())
            .header("x-request-id", client_id.as_str())
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::empty())
            .unwrap();
        let status = api.send_as_is(request).await.status.as_u16();
        assert!(status == 404 || status == 403, "{path}: {status}");
    }
    let client_id = uuid::Uuid::new_v4().to_string();
    let request = axum::http::Request::get("/health")
        .header("x-request-id", client_id.as_str())
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(api.send_as_is(request).await.status.as_u16(), 200);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains(&format!("client_request_id={client_id}")),
        "a client's UUID is kept: {logs}"
    );
    assert!(
        logs.contains("route=/v1/delegations/{id}") && logs.contains("route=unmatched"),
        "routes by their template: {logs}"
    );
    assert!(!logs.contains(&token), "a token in the info logs: {logs}");
    assert!(
        logs.contains("method=other"),
        "a made-up method is logged as other: {logs}"
    );
    assert!(
        logs.contains("refused (414)"),
        "the refused target is logged: {logs}"
    );
    assert!(
        logs.contains("caller=citizen:p-"),
        "callers by pseudonym: {logs}"
    );
    for personal in [
        grantor.as_str(),
        delegate.as_str(),
        other.as_str(),
        &cf(613),
        &cf(614),
        &cf(615),
        &cf(900),
        "3331234567",
        "Mario",
        "Rossi",
    ] {
        assert!(
            !logs.contains(personal),
            "personal data in the info logs: {personal}\n{logs}"
        );
    }
}
