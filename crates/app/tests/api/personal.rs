//! The personal area through HTTP: notices (N3) and the telephone PIN (P1–P3).

use chrono::Duration;
use serde_json::json;

use crate::support::{cf, t0, Api};

pub async fn p1_p3_telephone_pin(api: Api) {
    let me = cf(300);
    let t = api.citizen(&me);
    let op = api.operator();
    api.post("/v1/me/pin", &t, json!({"validity": "2d"}))
        .await
        .refused(400, "invalid_validity");
    api.post("/v1/me/pin", &t, json!({"validity": 7}))
        .await
        .refused(400, "invalid_request");
    api.post("/v1/me/pin", &op, json!({"validity": "1d"}))
        .await
        .refused(403, "forbidden");

    let issued = api
        .post("/v1/me/pin", &t, json!({"validity": "1w"}))
        .await
        .ok(201);
    let pin = issued["pin"].as_str().unwrap().to_owned();
    assert_eq!(pin.len(), 10);
    assert!(pin.chars().all(|c| c.is_ascii_alphanumeric()));
    let until: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(issued["valid_until"].clone()).unwrap();
    assert_eq!(until, t0() + Duration::days(7));

    let verify = |pin: &str| json!({"fiscal_code": me, "pin": pin});
    api.post("/v1/pin/verify", &t, verify(&pin))
        .await
        .refused(403, "forbidden");
    api.post(
        "/v1/pin/verify",
        &op,
        json!({"fiscal_code": "nope", "pin": pin}),
    )
    .await
    .refused(400, "invalid_fiscal_code");
    assert_eq!(
        api.post("/v1/pin/verify", &op, verify(&pin)).await.ok(200),
        json!({"valid": true})
    );
    assert_eq!(
        api.post("/v1/pin/verify", &op, verify(&pin.to_lowercase()))
            .await
            .ok(200),
        json!({"valid": true})
    );
    // P2: a new PIN cancels the previous one.
    let newer = api
        .post("/v1/me/pin", &t, json!({"validity": "1d"}))
        .await
        .ok(201)["pin"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(newer, pin);
    assert_eq!(
        api.post("/v1/pin/verify", &op, verify(&pin)).await.ok(200),
        json!({"valid": false})
    );
    // P3: five failures lock it.
    for _ in 0..4 {
        assert_eq!(
            api.post("/v1/pin/verify", &op, verify("WRONG"))
                .await
                .ok(200),
            json!({"valid": false})
        );
    }
    api.post("/v1/pin/verify", &op, verify(&newer))
        .await
        .refused(423, "pin_locked");
    // Nobody's PIN: not valid (and nothing to lock).
    assert_eq!(
        api.post(
            "/v1/pin/verify",
            &op,
            json!({"fiscal_code": cf(301), "pin": "ABCDEFGHJK"})
        )
        .await
        .ok(200),
        json!({"valid": false})
    );
    // Expired after its validity.
    let other = api.citizen(&cf(302));
    let short = api
        .post("/v1/me/pin", &other, json!({"validity": "1d"}))
        .await
        .ok(201)["pin"]
        .as_str()
        .unwrap()
        .to_owned();
    api.set_now(t0() + Duration::days(2));
    assert_eq!(
        api.post(
            "/v1/pin/verify",
            &op,
            json!({"fiscal_code": cf(302), "pin": short})
        )
        .await
        .ok(200),
        json!({"valid": false})
    );
}

pub async fn n3_notices_in_the_personal_area(api: Api) {
    let me = cf(310);
    let t = api.citizen(&me);
    api.get("/v1/me/notices", &api.operator())
        .await
        .refused(403, "forbidden");
    let empty = api.get("/v1/me/notices", &t).await.ok(200);
    assert_eq!(empty, json!({"items": []}));
    api.post_empty("/v1/me/notices/nope/unread", &t)
        .await
        .refused(404, "not_found");
    api.delete("/v1/me/notices/nope", &t)
        .await
        .refused(404, "not_found");

    // N3: a booking posts a notice once the outbox is delivered.
    api.book_meeting(&me, &cf(311)).await;
    api.state.deliver_due().await.unwrap();
    let notices = api.get("/v1/me/notices", &t).await.ok(200)["items"].clone();
    assert_eq!(notices.as_array().unwrap().len(), 1, "{notices}");
    let notice = &notices[0];
    assert_eq!(notice["title"], "Prenotazione Sportello Telematico");
    assert_eq!(notice["read"], false);
    assert!(
        notice["body"].as_str().unwrap().contains("3 Mb"),
        "{notice}"
    );
    assert!(
        notice["date"].as_str().unwrap().ends_with("+01:00"),
        "{notice}"
    );
    let id = notice["id"].as_str().unwrap();
    let read = api
        .post_empty(&format!("/v1/me/notices/{id}/read"), &t)
        .await
        .ok(200);
    assert_eq!(read["read"], true);
    let unread = api
        .post_empty(&format!("/v1/me/notices/{id}/unread"), &t)
        .await
        .ok(200);
    assert_eq!(unread["read"], false);
    // Someone else's notice is not theirs to touch.
    let other = api.citizen(&cf(312));
    api.post_empty(&format!("/v1/me/notices/{id}/unread"), &other)
        .await
        .refused(404, "not_found");
    api.delete(&format!("/v1/me/notices/{id}"), &other)
        .await
        .refused(404, "not_found");
    assert_eq!(
        api.get("/v1/me/notices", &other).await.ok(200),
        json!({"items": []})
    );
    api.delete(&format!("/v1/me/notices/{id}"), &t)
        .await
        .ok(204);
    assert_eq!(
        api.get("/v1/me/notices", &t).await.ok(200),
        json!({"items": []})
    );
    api.delete(&format!("/v1/me/notices/{id}"), &t)
        .await
        .refused(404, "not_found");
}

/// N7: a citizen keeps a mobile and the IO choice; what a change leaves
/// out stays; a bad mobile is refused and changes nothing.
pub async fn n7_contacts_are_kept_and_changed_by_their_citizen(api: Api) {
    let me = cf(320);
    let t = api.citizen(&me);
    let none = api.get("/v1/me/contacts", &t).await.ok(200);
    assert_eq!(none, json!({"phone": null, "io": false}));
    let set = api
        .put("/v1/me/contacts", &t, json!({"phone": "333 123 4567"}))
        .await
        .ok(200);
    assert_eq!(set, json!({"phone": "+393331234567", "io": false}));
    let io = api
        .put("/v1/me/contacts", &t, json!({"io": true}))
        .await
        .ok(200);
    assert_eq!(io, json!({"phone": "+393331234567", "io": true}));

    let events = api.events().await;
    api.put("/v1/me/contacts", &t, json!({"phone": "0612345678"}))
        .await
        .refused(400, "invalid_phone");
    api.put("/v1/me/contacts", &t, json!({"phone": 333}))
        .await
        .refused(400, "invalid_request");
    api.put("/v1/me/contacts", &t, json!({"email": "a@b.it"}))
        .await
        .refused(400, "invalid_request");
    // Setting what is set is no change.
    api.put("/v1/me/contacts", &t, json!({"io": true}))
        .await
        .ok(200);
    assert_eq!(api.events().await, events, "nothing stored");
    assert_eq!(api.get("/v1/me/contacts", &t).await.ok(200), io);

    let removed = api
        .put("/v1/me/contacts", &t, json!({"phone": null}))
        .await
        .ok(200);
    assert_eq!(removed, json!({"phone": null, "io": true}));
    api.get("/v1/me/contacts", &api.operator())
        .await
        .refused(403, "forbidden");
    api.put("/v1/me/contacts", &api.operator(), json!({"io": true}))
        .await
        .refused(403, "forbidden");
}

/// N7, D12: a delegate acting for the grantor neither reads nor changes the
/// grantor's contacts, and changes nothing trying.
pub async fn d12_an_act_as_token_cannot_touch_the_grantors_contacts(api: Api) {
    let (grantor, delegate) = (cf(330), cf(331));
    let g = api.citizen(&grantor);
    api.put("/v1/me/contacts", &g, json!({"phone": "3331234567"}))
        .await
        .ok(200);
    api.delegate_online(&grantor, &delegate).await;
    let acting = api
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
    let refused = api
        .get("/v1/me/contacts", &acting)
        .await
        .refused(403, "not_allowed_when_acting");
    // The refusal says what it refuses, not something about delegations.
    let detail = refused["detail"].as_str().unwrap();
    assert!(
        detail.contains("in person") && !detail.contains("delegations"),
        "{detail}"
    );
    api.put("/v1/me/contacts", &acting, json!({"phone": "3479999999"}))
        .await
        .refused(403, "not_allowed_when_acting");
    assert_eq!(
        api.get("/v1/me/contacts", &g).await.ok(200)["phone"],
        "+393331234567"
    );
}

/// N4, N7: a registration and a revocation at a counter, in the grantor's
/// name, always reach the grantor: a notice in the personal area, and an
/// SMS to the mobile they keep; the delegate, who keeps none, gets the
/// notice only.
pub async fn n7_a_registration_in_someones_name_reaches_them(api: Api) {
    let (grantor, delegate) = (cf(340), cf(341));
    let g = api.citizen(&grantor);
    api.put("/v1/me/contacts", &g, json!({"phone": "3331112222"}))
        .await
        .ok(200);
    let op = api.operator();
    let d = api
        .post(
            "/v1/counter/delegations",
            &op,
            json!({"grantor": grantor, "delegate": delegate, "documents": api.counter_docs(&op, &["aa08", "identity_document"]).await}),
        )
        .await
        .ok(201);
    let sms = api.sent_sms().await;
    let to_grantor: Vec<_> = sms.iter().filter(|l| l.to == "+393331112222").collect();
    assert_eq!(to_grantor.len(), 1, "{sms:?}");
    assert!(to_grantor[0].text.contains("registrata"), "{sms:?}");
    assert!(to_grantor[0].text.contains(&delegate), "{sms:?}");
    let mine = notices(&api, &grantor).await;
    assert_eq!(mine[0]["title"], "Delega dell'identità digitale registrata");
    let theirs = notices(&api, &delegate).await;
    assert!(theirs[0]["body"].as_str().unwrap().contains(&grantor));

    // Revoked at the counter: told again, at the mobile kept now.
    api.put("/v1/me/contacts", &g, json!({"phone": "3334445555"}))
        .await
        .ok(200);
    let id = d["id"].as_str().unwrap();
    api.post_empty(&format!("/v1/counter/delegations/{id}/revoke"), &op)
        .await
        .ok(200);
    let sms = api.sent_sms().await;
    let revoked: Vec<_> = sms.iter().filter(|l| l.text.contains("revocata")).collect();
    assert_eq!(revoked.len(), 1, "{sms:?}");
    assert_eq!(revoked[0].to, "+393334445555");
    assert_eq!(notices(&api, &grantor).await.as_array().unwrap().len(), 2);
    assert_eq!(notices(&api, &delegate).await.as_array().unwrap().len(), 2);
}

/// N7: a delegation with an end date tells both parties `expiry_notice_days`
/// before it, and at its end, through the contacts kept then; a revoked
/// one never does.
pub async fn n7_the_coming_expiry_is_told_and_contacts_changed_meanwhile_are_used(api: Api) {
    let (grantor, delegate) = (cf(350), cf(351));
    let g = api.citizen(&grantor);
    let op = api.operator();
    // Ends on Thursday 31 December 2026 (t0 is Monday 30 November).
    api.post(
        "/v1/counter/delegations",
        &op,
        json!({"grantor": grantor, "delegate": delegate, "ends_on": "2026-12-31", "documents": api.counter_docs(&op, &["aa08", "identity_document"]).await}),
    )
    .await
    .ok(201);
    let expiring = |sms: &[deleghe_adapters::gateway::sms::SmsLine]| {
        sms.iter()
            .filter(|l| l.text.contains("scade il 31/12/2026"))
            .count()
    };
    assert_eq!(expiring(&api.sent_sms().await), 0, "not due yet");
    // The grantor gives a mobile only now, before the notice is due.
    api.put("/v1/me/contacts", &g, json!({"phone": "3336667777"}))
        .await
        .ok(200);
    api.set_now(t0() + chrono::Duration::days(24));
    let sms = api.sent_sms().await;
    assert_eq!(expiring(&sms), 1, "{sms:?}");
    assert!(sms
        .iter()
        .any(|l| l.to == "+393336667777" && l.text.contains("scade")));
    let notices = api.get("/v1/me/notices", &g).await.ok(200)["items"].clone();
    assert!(
        notices
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["title"] == "Delega dell'identità digitale in scadenza"),
        "{notices}"
    );
    api.set_now(t0() + chrono::Duration::days(32));
    let sms = api.sent_sms().await;
    assert!(
        sms.iter()
            .any(|l| l.to == "+393336667777" && l.text.contains("scaduta")),
        "{sms:?}"
    );

    // Revoked before its end: neither notice ever comes.
    let (g2, d2) = (cf(352), cf(353));
    let t2 = api.citizen(&g2);
    api.put("/v1/me/contacts", &t2, json!({"phone": "3338889999"}))
        .await
        .ok(200);
    let d = api
        .post(
            "/v1/counter/delegations",
            &op,
            json!({"grantor": g2, "delegate": d2, "ends_on": "2027-02-28", "documents": api.counter_docs(&op, &["aa08", "identity_document"]).await}),
        )
        .await
        .ok(201);
    let id = d["id"].as_str().unwrap();
    api.post_empty(&format!("/v1/counter/delegations/{id}/revoke"), &op)
        .await
        .ok(200);
    api.set_now(t0() + chrono::Duration::days(120));
    let sms = api.sent_sms().await;
    assert!(
        !sms.iter()
            .any(|l| l.to == "+393338889999"
                && (l.text.contains("scade") || l.text.contains("scaduta"))),
        "{sms:?}"
    );
}

/// A citizen's notices, newest first.
async fn notices(api: &Api, who: &str) -> serde_json::Value {
    api.get("/v1/me/notices", &api.citizen(who)).await.ok(200)["items"].clone()
}
