//! Security regressions of D9 and D12 through HTTP: an act-as token acts as
//! the grantor for reading and for bookings, never on the delegation itself,
//! and a revocation committed while a request is under way stops it.

use axum::body::{Body, Bytes};
use axum::http::{header, Method, Request};
use chrono::Duration;
use serde_json::json;

use crate::support::{cf, t0, Api};

/// Grantor `g` delegates online to `d`; `d` opens an act-as session.
async fn acting(api: &Api, g: &str, d: &str) -> (String, String) {
    let id = api.delegate_online(g, d).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = api
        .post(
            "/v1/sessions/act-as",
            &api.citizen(d),
            json!({"grantor": g}),
        )
        .await
        .ok(200)["token"]
        .as_str()
        .unwrap()
        .to_owned();
    (id, token)
}

/// Finding: a delegate holding an act-as token asked to register a new
/// delegation in the grantor's name. D12: 403 `not_allowed_when_acting`
/// (not a D1 refusal: the rule is that they may not ask at all).
pub async fn d12_an_act_as_token_cannot_register_a_delegation(api: Api) {
    let (g, d) = (cf(1), cf(2));
    let (_, token) = acting(&api, &g, &d).await;
    let before = api.events().await;
    api.post("/v1/delegations", &token, json!({"delegate": cf(4)}))
        .await
        .refused(403, "not_allowed_when_acting");
    assert_eq!(api.events().await, before, "nothing stored");
}

/// Finding: with its body held back until an operator had revoked the
/// grantor's delegation at the counter (which left the grantor free under
/// D1), a registration by the act-as token went through: 201, a delegation
/// in the grantor's name. Now refused, and nothing of it stored.
pub async fn d12_a_registration_held_past_a_counter_revocation_is_refused(api: Api) {
    let (g, d) = (cf(1), cf(2));
    let (id, token) = acting(&api, &g, &d).await;
    let body = json!({"delegate": cf(4)});
    let answer = held_past_revocation(&api, &token, "/v1/delegations", body, &id).await;
    assert_eq!(answer.status.as_u16(), 403, "{:?}", answer.json());
    let listed = api
        .get(&format!("/v1/delegations?grantor={g}"), &api.citizen(&g))
        .await
        .ok(200);
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "only the revoked one: {items:?}");
    assert_eq!(items[0]["status"], "revoked");
}

/// POSTs `body` to `path` with `token`, holding the body back until an
/// operator has revoked delegation `id` at the counter.
async fn held_past_revocation(
    api: &Api,
    token: &str,
    path: &str,
    body: serde_json::Value,
    id: &str,
) -> crate::support::Answer {
    let (release, held) = tokio::sync::oneshot::channel::<()>();
    let body = body.to_string();
    let stream = futures_util::stream::once(async move {
        let _ = held.await;
        Ok::<_, std::convert::Infallible>(Bytes::from(body))
    });
    let request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream))
        .unwrap();
    let (answer, ()) = tokio::join!(api.send(request), async {
        // The headers are in and checked; the body waits. Meanwhile an
        // operator revokes the delegation at the counter.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        api.post_empty(
            &format!("/v1/counter/delegations/{id}/revoke"),
            &api.operator(),
        )
        .await
        .ok(200);
        let _ = release.send(());
    });
    answer
}

/// Finding: a delegate holding an act-as token revoked the grantor's
/// delegation online. D12: 403 `not_allowed_when_acting`, still active.
pub async fn d12_an_act_as_token_cannot_revoke_the_grantors_delegation(api: Api) {
    let (g, d) = (cf(1), cf(2));
    let (id, token) = acting(&api, &g, &d).await;
    // Past D8's 30 days, when the grantor in person could revoke online.
    api.set_now(t0() + Duration::days(40));
    api.post_empty(&format!("/v1/delegations/{id}/revoke"), &token)
        .await
        .refused(403, "not_allowed_when_acting");
    let d1 = api
        .get(&format!("/v1/delegations/{id}"), &api.citizen(&g))
        .await
        .ok(200);
    assert_eq!(d1["status"], "active");
    api.post_empty(&format!("/v1/delegations/{id}/revoke"), &api.citizen(&g))
        .await
        .ok(200);
}

/// Finding: the check that the delegation is active ran once, when the
/// request's headers arrived: a request whose body was held back until an
/// operator had revoked the delegation at the counter still went through.
/// D12: the delegation is judged with the command: 403, nothing stored.
pub async fn d12_a_booking_held_past_a_counter_revocation_is_refused(api: Api) {
    let (g, d) = (cf(1), cf(2));
    let (id, token) = acting(&api, &g, &d).await;
    let body = json!({
        "counter": "pensioni-roma", "start": "2026-12-02T08:30:00+01:00",
        "mode": "in_person", "reason": "Pensione", "phone": "3331112222"
    });
    let before = api.events().await;
    held_past_revocation(&api, &token, "/v1/bookings", body, &id)
        .await
        .refused(403, "no_active_delegation");
    let log = api.state.repository().read_log(0, 100_000).await.unwrap();
    assert!(
        log[before..]
            .iter()
            .all(|e| e.event.aggregate_type != "booker"),
        "no booking was stored"
    );
}

/// Finding: the PIN was refused to an act-as token only by the app; the
/// rule is the PIN account's (D12), answered as the contract says.
pub async fn d12_an_act_as_token_cannot_issue_the_grantors_pin(api: Api) {
    let (g, d) = (cf(1), cf(2));
    let (_, token) = acting(&api, &g, &d).await;
    api.post("/v1/me/pin", &token, json!({"validity": "1d"}))
        .await
        .refused(403, "not_allowed_when_acting");
    api.post("/v1/me/pin", &api.citizen(&g), json!({"validity": "1d"}))
        .await
        .ok(201);
}
