//! Counters and bookings through HTTP: B1–B7.

use chrono::{TimeZone, Utc};
use deleghe_domain::document::PdfDocument;
use serde_json::{json, Value};

use crate::support::{cf, Api, TUESDAY_9};

fn booking(counter: &str, start: &str, mode: &str) -> Value {
    json!({
        "counter": counter, "start": start, "mode": mode,
        "reason": "Informazioni", "phone": "+39 333 765 4321"
    })
}

pub async fn b3_counters_and_their_free_slots(api: Api) {
    let t = api.citizen(&cf(100));
    let counters = api.get("/v1/counters", &t).await.ok(200)["items"].clone();
    let items = counters.as_array().unwrap();
    assert!(items.len() >= 4);
    let web = items
        .iter()
        .find(|c| c["id"] == "deleghe-web-meeting")
        .expect("the web-meeting delegations counter");
    assert_eq!(
        web,
        &json!({
            "id": "deleghe-web-meeting",
            "name": "DELEGHE IDENTITÀ DIGITALI IN WEB MEETING",
            "office": "DCM NAPOLI",
            "modes": ["web_meeting"],
        })
    );
    // Operators see the counters too.
    api.get("/v1/counters", &api.operator()).await.ok(200);

    let day = api
        .get(
            "/v1/counters/deleghe-web-meeting/slots?from=2026-12-01&to=2026-12-01",
            &t,
        )
        .await
        .ok(200)["items"]
        .clone();
    assert_eq!(day.as_array().unwrap().len(), 6);
    assert_eq!(
        day[0],
        json!({"start": TUESDAY_9, "end": "2026-12-01T09:30:00+01:00", "free": 2})
    );
    let week = api
        .get(
            "/v1/counters/deleghe-web-meeting/slots?from=2026-11-30&to=2026-12-06",
            &t,
        )
        .await
        .ok(200);
    assert_eq!(
        week["items"].as_array().unwrap().len(),
        12,
        "Tuesday and Thursday"
    );
    // 8 December is a holiday.
    let holiday = api
        .get(
            "/v1/counters/deleghe-web-meeting/slots?from=2026-12-08&to=2026-12-08",
            &t,
        )
        .await
        .ok(200);
    assert_eq!(holiday, json!({"items": []}));

    api.book_meeting(&cf(101), &cf(102)).await;
    let after = api
        .get(
            "/v1/counters/deleghe-web-meeting/slots?from=2026-12-01&to=2026-12-01",
            &t,
        )
        .await
        .ok(200);
    assert_eq!(after["items"][0]["free"], 1);
    assert_eq!(after["items"][1]["free"], 2);

    for bad in [
        "from=2026-12-02&to=2026-12-01",
        "from=2026-01-01&to=2026-12-31",
        "from=2026-12-01",
        "from=yesterday&to=2026-12-01",
    ] {
        api.get(&format!("/v1/counters/deleghe-web-meeting/slots?{bad}"), &t)
            .await
            .refused(400, "invalid_request");
    }
    api.get(
        "/v1/counters/no-such-counter/slots?from=2026-12-01&to=2026-12-01",
        &t,
    )
    .await
    .refused(404, "not_found");
}

pub async fn b1_b2_b3_b5_booking_rules(api: Api) {
    let (me, grantor) = (cf(110), cf(111));
    let t = api.citizen(&me);
    // B5: a web meeting at the delegations counter names the grantor.
    api.post(
        "/v1/bookings",
        &t,
        booking("deleghe-web-meeting", TUESDAY_9, "web_meeting"),
    )
    .await
    .refused(422, "grantor_details_required");
    let mut for_myself = booking("deleghe-web-meeting", TUESDAY_9, "web_meeting");
    for_myself["grantor"] = json!({"fiscal_code": me, "first_name": "A", "last_name": "B"});
    api.post("/v1/bookings", &t, for_myself)
        .await
        .refused(422, "self_delegation");
    let mut no_name = booking("deleghe-web-meeting", TUESDAY_9, "web_meeting");
    no_name["grantor"] = json!({"fiscal_code": grantor, "first_name": " ", "last_name": "B"});
    api.post("/v1/bookings", &t, no_name)
        .await
        .refused(400, "invalid_request");

    let booked = api.book_meeting(&me, &grantor).await;
    assert_eq!(booked["status"], "confirmed");
    assert_eq!(booked["mode"], "web_meeting");
    assert_eq!(booked["start"], TUESDAY_9);
    assert_eq!(booked["phone"], "+393331234567");
    assert_eq!(booked["grantor"]["fiscal_code"], grantor.as_str());
    assert_eq!(
        booked["actions"],
        json!(["detail", "ticket", "cancel", "join_meeting"])
    );
    assert!(
        booked.get("access_code").is_none(),
        "the code goes by SMS only"
    );

    // B1: one active booking per counter type (here, another counter of it).
    let b1 = api
        .post(
            "/v1/bookings",
            &t,
            booking(
                "deleghe-sportello-roma",
                "2026-12-07T08:30:00+01:00",
                "in_person",
            ),
        )
        .await
        .refused(422, "counter_already_booked");
    assert_eq!(b1["existing"], booked["id"]);
    // B3: only offered slots and modes.
    api.post(
        "/v1/bookings",
        &t,
        booking("pensioni-roma", "2026-12-02T08:35:00+01:00", "in_person"),
    )
    .await
    .refused(422, "slot_not_offered");
    api.post(
        "/v1/bookings",
        &t,
        booking("pensioni-roma", "2026-12-05T08:30:00+01:00", "in_person"),
    )
    .await
    .refused(422, "slot_not_offered");
    api.post(
        "/v1/bookings",
        &t,
        booking("naspi-napoli", "2026-12-02T09:00:00+01:00", "in_person"),
    )
    .await
    .refused(422, "mode_not_offered");
    api.post(
        "/v1/bookings",
        &t,
        booking("no-such-counter", "2026-12-02T09:00:00+01:00", "in_person"),
    )
    .await
    .refused(404, "not_found");
    let mut bad_phone = booking("pensioni-roma", "2026-12-02T08:30:00+01:00", "in_person");
    bad_phone["phone"] = json!("06 1234 5678");
    api.post("/v1/bookings", &t, bad_phone)
        .await
        .refused(400, "invalid_request");
    let mut no_reason = booking("pensioni-roma", "2026-12-02T08:30:00+01:00", "in_person");
    no_reason["reason"] = json!("  ");
    api.post("/v1/bookings", &t, no_reason)
        .await
        .refused(400, "invalid_request");
    api.post(
        "/v1/bookings",
        &t,
        booking("pensioni-roma", "2026-12-02T08:30:00+01:00", "by_pigeon"),
    )
    .await
    .refused(400, "invalid_request");

    // B2: at most three active bookings in all.
    api.post(
        "/v1/bookings",
        &t,
        booking("pensioni-roma", "2026-12-02T08:30:00+01:00", "in_person"),
    )
    .await
    .ok(201);
    // The same instant in UTC is the same slot.
    api.post(
        "/v1/bookings",
        &t,
        booking("naspi-napoli", "2026-12-02T08:00:00Z", "phone_callback"),
    )
    .await
    .ok(201);
    let b2 = api
        .post(
            "/v1/bookings",
            &t,
            booking(
                "estratto-conto-milano",
                "2026-12-03T08:30:00+01:00",
                "in_person",
            ),
        )
        .await
        .refused(422, "booking_limit_reached");
    assert_eq!(b2["max"], 3);

    let mine = api.get("/v1/bookings", &t).await.ok(200)["items"].clone();
    assert_eq!(mine.as_array().unwrap().len(), 3);
    assert_eq!(mine[0]["id"], booked["id"]);
}

pub async fn b4_b6_full_slots_started_slots_and_cancelling(api: Api) {
    let (a, b, c) = (cf(120), cf(121), cf(122));
    let slot = "2026-12-02T09:00:00+01:00";
    let first = api
        .post(
            "/v1/bookings",
            &api.citizen(&a),
            booking("naspi-napoli", slot, "phone_callback"),
        )
        .await
        .ok(201);
    // B4: capacity one.
    let full = api
        .post(
            "/v1/bookings",
            &api.citizen(&b),
            booking("naspi-napoli", slot, "phone_callback"),
        )
        .await
        .refused(422, "slot_full");
    assert_eq!(full["capacity"], 1);

    let path = format!("/v1/bookings/{}", first["id"].as_str().unwrap());
    // Someone else's booking cannot be seen or cancelled.
    api.get(&path, &api.citizen(&c))
        .await
        .refused(404, "not_found");
    api.delete(&path, &api.citizen(&c))
        .await
        .refused(404, "not_found");
    api.delete(&path, &api.operator())
        .await
        .refused(403, "forbidden");
    assert_eq!(
        api.get(&path, &api.operator()).await.ok(200)["id"],
        first["id"]
    );
    // B6: cancel until the slot starts; the place is free again.
    let cancelled = api.delete(&path, &api.citizen(&a)).await.ok(200);
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["actions"], json!(["detail"]));
    api.delete(&path, &api.citizen(&a))
        .await
        .refused(422, "not_active");
    let second = api
        .post(
            "/v1/bookings",
            &api.citizen(&b),
            booking("naspi-napoli", slot, "phone_callback"),
        )
        .await
        .ok(201);

    api.set_now(Utc.with_ymd_and_hms(2026, 12, 2, 8, 0, 0).unwrap());
    api.delete(
        &format!("/v1/bookings/{}", second["id"].as_str().unwrap()),
        &api.citizen(&b),
    )
    .await
    .refused(422, "slot_started");
    api.post(
        "/v1/bookings",
        &api.citizen(&c),
        booking("naspi-napoli", slot, "phone_callback"),
    )
    .await
    .refused(422, "slot_started");
}

pub async fn b7_tickets_and_the_operators_day(api: Api) {
    let (me, grantor) = (cf(130), cf(131));
    let booked = api.book_meeting(&me, &grantor).await;
    let id = booked["id"].as_str().unwrap();
    let ticket = api
        .get(&format!("/v1/bookings/{id}/ticket"), &api.citizen(&me))
        .await;
    assert_eq!(ticket.status, 200);
    assert_eq!(
        ticket.headers.get("content-type").unwrap(),
        "application/pdf"
    );
    PdfDocument::parse(&ticket.body, 3_145_728).expect("a PDF");
    let text = String::from_utf8_lossy(&ticket.body);
    // B10: the ticket carries the queue code that the list shows.
    let code = booked["ticket_code"].as_str().expect("a ticket code");
    assert!(text.contains(&format!("Codice: {code}")), "{text}");
    assert!(text.contains("Data Prenotazione: 01/12/2026"));
    assert!(text.contains("Ora Prenotazione: 09:00"));
    api.get(&format!("/v1/bookings/{id}/ticket"), &api.citizen(&grantor))
        .await
        .refused(404, "not_found");

    // M9: the console lists the office's bookings of the day with their meeting state.
    let op = api.operator();
    let day = api
        .get("/v1/bookings?office=DCM%20NAPOLI&date=2026-12-01", &op)
        .await
        .ok(200);
    assert_eq!(day["items"].as_array().unwrap().len(), 1);
    assert_eq!(day["items"][0]["id"], id);
    assert_eq!(day["items"][0]["meeting_state"], "scheduled");
    let other_day = api
        .get("/v1/bookings?office=DCM%20NAPOLI&date=2026-12-03", &op)
        .await
        .ok(200);
    assert_eq!(other_day, json!({"items": []}));
    api.get("/v1/bookings", &op)
        .await
        .refused(400, "invalid_request");
    // A citizen sees only their own.
    assert_eq!(
        api.get("/v1/bookings", &api.citizen(&grantor))
            .await
            .ok(200),
        json!({"items": []})
    );

    // A cancelled booking has no ticket.
    api.delete(&format!("/v1/bookings/{id}"), &api.citizen(&me))
        .await
        .ok(200);
    api.get(&format!("/v1/bookings/{id}/ticket"), &api.citizen(&me))
        .await
        .refused(422, "not_active");
}
