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
