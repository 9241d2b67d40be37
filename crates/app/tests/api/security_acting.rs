//! Security regressions of D9 and D12 through HTTP: an act-as token acts as
//! the grantor for reading and for bookings, never on the delegation itself,
//! and a revocation committed while a request is under way stops it.

use axum::body::{Body, Bytes};
use axum::http::{header, Method, Request};
use chrono::Duration;
use serde_json::json;

use crate::support::{cf, meeting_booking, pdf, t0, tuesday_9, Api};

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

/// Finding (hostile probe): an act-as token marked and deleted the
/// grantor's notices, the N7 notice of the delegation itself among them,
/// leaving the grantor an empty personal area. A delegate acting for the
/// grantor reads their notices (D12: reading) but neither marks nor deletes
/// them: the grantor is told what is done in their name.
pub async fn d12_n7_an_act_as_token_cannot_mark_or_delete_the_grantors_notices(api: Api) {
    let (g, d) = (cf(1), cf(2));
    let (_, token) = acting(&api, &g, &d).await;
    api.sent_sms().await; // the notices due are delivered
    let own = api.citizen(&g);
    let before = api.get("/v1/me/notices", &own).await.ok(200)["items"].clone();
    let items = before.as_array().unwrap();
    assert!(
        items.iter().any(|n| n["title"]
            .as_str()
            .is_some_and(|t| t.contains("registrata"))),
        "the grantor was told of the registration (N7): {before}"
    );
    let read = api.get("/v1/me/notices", &token).await.ok(200);
    assert_eq!(
        read["items"], before,
        "the delegate reads the grantor's notices"
    );
    for notice in items {
        let id = notice["id"].as_str().unwrap();
        api.post_empty(&format!("/v1/me/notices/{id}/read"), &token)
            .await
            .refused(403, "not_allowed_when_acting");
        api.post_empty(&format!("/v1/me/notices/{id}/unread"), &token)
            .await
            .refused(403, "not_allowed_when_acting");
        api.delete(&format!("/v1/me/notices/{id}"), &token)
            .await
            .refused(403, "not_allowed_when_acting");
    }
    let after = api.get("/v1/me/notices", &own).await.ok(200)["items"].clone();
    assert_eq!(after, before, "the grantor's notices untouched");
}

/// Finding (hostile probe): a delegate acting for G booked a web meeting at
/// the delegations counter naming a third citizen as grantor, joined it,
/// consented to the recording and uploaded the documents in G's name; the
/// operator completed it, and G became that citizen's delegate. A web
/// meeting registers a delegation to its booker, and D12 lets a delegate
/// acting for G register none: the booking, its cancellation, the joining,
/// the consent and the uploads are G's in person (403
/// `not_allowed_when_acting`, nothing stored). Reading the meeting stays
/// open to the delegate.
pub async fn d12_an_act_as_token_cannot_book_or_attend_a_delegation_web_meeting(api: Api) {
    let (g, d, t) = (cf(1), cf(2), cf(3));
    let (_, token) = acting(&api, &g, &d).await;
    let before = api.events().await;
    api.post("/v1/bookings", &token, meeting_booking(&t))
        .await
        .refused(403, "not_allowed_when_acting");
    assert_eq!(api.events().await, before, "nothing stored");

    // G's own meeting, booked in person: G's to attend, not the delegate's.
    let booked = api.book_meeting(&g, &t).await;
    let base = format!("/v1/bookings/{}/meeting", booked["id"].as_str().unwrap());
    let code = api.sms_code(booked["id"].as_str().unwrap()).await;
    // Nor may the delegate cancel it (found by a later probe: 200, and the
    // meeting gone from G's hands), while G still could.
    let before = api.events().await;
    api.delete(
        &format!("/v1/bookings/{}", booked["id"].as_str().unwrap()),
        &token,
    )
    .await
    .refused(403, "not_allowed_when_acting");
    assert_eq!(api.events().await, before, "nothing stored");
    api.set_now(tuesday_9());
    let before = api.events().await;
    api.post(&format!("{base}/join"), &token, json!({"code": code}))
        .await
        .refused(403, "not_allowed_when_acting");
    api.post(
        &format!("{base}/consent"),
        &token,
        json!({"recording": true}),
    )
    .await
    .refused(403, "not_allowed_when_acting");
    api.post_raw(
        &format!("{base}/documents?kind=aa08"),
        Some(&token),
        "application/pdf",
        pdf(2048),
    )
    .await
    .refused(403, "not_allowed_when_acting");
    assert_eq!(api.events().await, before, "nothing stored");
    assert_eq!(api.get(&base, &token).await.ok(200)["state"], "scheduled");
    api.post(
        &format!("{base}/join"),
        &api.citizen(&g),
        json!({"code": code}),
    )
    .await
    .ok(200);
}

/// Finding (hostile probe): a delegate acting for G booked and cancelled in
/// G's name, giving their own phone; the SMS went to that phone and G was
/// told nothing of the cancellation. N7, D9: what is done in G's name is
/// told to G, by a notice in their personal area and at the mobile G keeps
/// in their contacts, naming the delegate.
pub async fn n7_d9_a_booking_made_or_cancelled_for_the_grantor_is_told_to_them(api: Api) {
    let (g, d) = (cf(1), cf(2));
    api.put(
        "/v1/me/contacts",
        &api.citizen(&g),
        json!({"phone": "3471230001"}),
    )
    .await
    .ok(200);
    let (_, token) = acting(&api, &g, &d).await;
    let booked = api
        .post(
            "/v1/bookings",
            &token,
            json!({
                "counter": "pensioni-roma", "start": "2026-12-02T08:30:00+01:00",
                "mode": "in_person", "reason": "Pensione", "phone": "3339990000"
            }),
        )
        .await
        .ok(201);
    let id = booked["id"].as_str().unwrap();
    assert_eq!(booked["booker"], g.as_str());
    api.delete(&format!("/v1/bookings/{id}"), &token)
        .await
        .ok(200);

    let sms = api.sent_sms().await;
    let to_grantor: Vec<_> = sms
        .iter()
        .filter(|l| l.to == "+393471230001" && l.text.contains("a suo nome"))
        .collect();
    assert_eq!(to_grantor.len(), 2, "asked for and cancelled: {sms:?}");
    assert!(to_grantor.iter().all(|l| l.text.contains(&d)), "{sms:?}");
    let notices = api.get("/v1/me/notices", &api.citizen(&g)).await.ok(200)["items"].clone();
    let titles: Vec<&str> = notices
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["title"].as_str())
        .collect();
    for told in [
        "Prenotazione chiesta a suo nome",
        "Prenotazione annullata a suo nome",
    ] {
        assert!(titles.contains(&told), "{told}: {notices}");
    }
    // The grantor's own booking, in person, tells them nothing of the kind.
    let own = api
        .post(
            "/v1/bookings",
            &api.citizen(&g),
            json!({
                "counter": "pensioni-roma", "start": "2026-12-02T08:30:00+01:00",
                "mode": "in_person", "reason": "Pensione", "phone": "3471230001"
            }),
        )
        .await
        .ok(201);
    api.delete(
        &format!("/v1/bookings/{}", own["id"].as_str().unwrap()),
        &api.citizen(&g),
    )
    .await
    .ok(200);
    api.sent_sms().await;
    let after = api.get("/v1/me/notices", &api.citizen(&g)).await.ok(200)["items"].clone();
    let acted = |n: &serde_json::Value| {
        n["title"]
            .as_str()
            .is_some_and(|t| t.ends_with("a suo nome"))
    };
    assert_eq!(
        after
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| acted(n))
            .count(),
        2,
        "{after}"
    );
}
