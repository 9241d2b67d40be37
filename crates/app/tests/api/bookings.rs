//! Counters and bookings through HTTP: B1–B7.

use chrono::{TimeZone, Utc};
use deleghe_domain::document::PdfDocument;
use serde_json::{json, Value};

use crate::support::{cf, tuesday_9, Api, TUESDAY_9};

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

    // Well-formed dates of a range a listing does not cover: refused for
    // what they say, naming the most days.
    for bad in [
        "from=2026-12-02&to=2026-12-01",
        "from=2026-01-01&to=2026-12-31",
        "from=2026-12-01&to=2027-02-01",
    ] {
        let refused = api
            .get(&format!("/v1/counters/deleghe-web-meeting/slots?{bad}"), &t)
            .await
            .refused(422, "invalid_range");
        assert_eq!(refused["max"], 62, "{bad}");
    }
    // 62 days, both ends included, are listed.
    api.get(
        "/v1/counters/deleghe-web-meeting/slots?from=2026-12-01&to=2027-01-31",
        &t,
    )
    .await
    .ok(200);
    // A date missing, or not a date: the request's shape.
    for bad in ["from=2026-12-01", "from=yesterday&to=2026-12-01"] {
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
    // Without office and date: the operator's own office, today (the
    // test clock stands on Monday 30 November), and only that.
    let today = api.get("/v1/bookings", &op).await.ok(200);
    assert_eq!(today, json!({"items": []}));
    let tuesday = api.get("/v1/bookings?date=2026-12-01", &op).await.ok(200);
    assert_eq!(tuesday, day);
    api.get("/v1/bookings?office=%20", &op)
        .await
        .refused(400, "invalid_request");
    api.get("/v1/bookings?office=ROMA%20EUR", &op)
        .await
        .refused(403, "other_office");
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

/// A phone callback at naspi-napoli (DCM NAPOLI), Tuesday 09:00, booked by
/// the operator for `citizen` from `channel`.
fn counter_booking(citizen: &str, channel: &str) -> Value {
    let mut body = booking("naspi-napoli", TUESDAY_9, "phone_callback");
    body["citizen"] = json!(citizen);
    body["channel"] = json!(channel);
    body
}

fn listed(list: &Value, id: &Value) -> Value {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == *id)
        .cloned()
        .unwrap_or_else(|| panic!("{id} is not in {list}"))
}

pub async fn b9_an_operator_books_for_a_citizen_under_the_same_rules(api: Api) {
    let citizen = cf(140);
    let op = api.operator();
    let body = counter_booking(&citizen, "contact_center");
    // Operators only.
    api.post("/v1/counter/bookings", &api.citizen(&citizen), body.clone())
        .await
        .refused(403, "forbidden");
    let mut bad = body.clone();
    bad["citizen"] = json!("RSSMRA85T10A562X");
    api.post("/v1/counter/bookings", &op, bad)
        .await
        .refused(400, "invalid_fiscal_code");
    let mut pigeon = body.clone();
    pigeon["channel"] = json!("pigeon");
    api.post("/v1/counter/bookings", &op, pigeon)
        .await
        .refused(400, "invalid_request");

    let made = api
        .post("/v1/counter/bookings", &op, body.clone())
        .await
        .ok(201);
    assert_eq!(made["status"], "confirmed");
    assert_eq!(made["booker"], citizen.as_str());
    assert_eq!(made["booked_by"], json!({"channel": "contact_center"}));
    // The citizen finds it in "Le mie prenotazioni", with who made it.
    let mine = api
        .get("/v1/bookings", &api.citizen(&citizen))
        .await
        .ok(200);
    assert_eq!(listed(&mine, &made["id"]), made);
    // B1 holds for an operator's booking as for the citizen's own.
    let mut again = counter_booking(&citizen, "front_office");
    again["start"] = json!("2026-12-02T09:00:00+01:00");
    api.post("/v1/counter/bookings", &op, again)
        .await
        .refused(422, "counter_already_booked");
    // A booking the citizen makes is marked as theirs.
    let own = api
        .post(
            "/v1/bookings",
            &api.citizen(&citizen),
            booking("pensioni-roma", "2026-12-02T08:30:00+01:00", "in_person"),
        )
        .await
        .ok(201);
    assert_eq!(own["booked_by"], Value::Null);
}

pub async fn b10_ticket_codes_are_unique_per_office_and_day(api: Api) {
    let op = api.operator();
    // Two places of one web-meeting slot (capacity 2), and a phone callback
    // of another counter of the same office at the same hour.
    let first = api.book_meeting(&cf(150), &cf(151)).await;
    let second = api.book_meeting(&cf(152), &cf(153)).await;
    let phone = api
        .post(
            "/v1/counter/bookings",
            &op,
            counter_booking(&cf(154), "front_office"),
        )
        .await
        .ok(201);
    // The web-meeting counter: D; naspi-napoli: N; 09:00: J00; then the place.
    let codes: Vec<&str> = [&first, &second, &phone]
        .iter()
        .map(|b| b["ticket_code"].as_str().expect("a ticket code"))
        .collect();
    assert_eq!(codes, ["DJ001", "DJ002", "NJ001"]);
    // On the operator's day list, in the citizen's list and on the ticket.
    let day = api
        .get("/v1/bookings?office=DCM%20NAPOLI&date=2026-12-01", &op)
        .await
        .ok(200);
    assert_eq!(listed(&day, &first["id"])["ticket_code"], "DJ001");
    assert_eq!(listed(&day, &phone["id"])["ticket_code"], "NJ001");
    let mine = api
        .get("/v1/bookings", &api.citizen(&cf(152)))
        .await
        .ok(200);
    assert_eq!(listed(&mine, &second["id"])["ticket_code"], "DJ002");
    let ticket = api
        .get(
            &format!("/v1/bookings/{}/ticket", second["id"].as_str().unwrap()),
            &api.citizen(&cf(152)),
        )
        .await;
    assert!(String::from_utf8_lossy(&ticket.body).contains("Codice: DJ002"));
    // A cancelled booking's place is never numbered again.
    let t = api.citizen(&cf(150));
    api.delete(
        &format!("/v1/bookings/{}", first["id"].as_str().unwrap()),
        &t,
    )
    .await
    .ok(200);
    let third = api.book_meeting(&cf(155), &cf(156)).await;
    assert_eq!(third["ticket_code"], "DJ003");
}

pub async fn b8_an_operator_marks_a_booking_served_or_missed(api: Api) {
    let (a, b) = (cf(160), cf(161));
    let op = api.operator();
    let first = api
        .post(
            "/v1/counter/bookings",
            &op,
            counter_booking(&a, "front_office"),
        )
        .await
        .ok(201);
    let mut later = counter_booking(&b, "front_office");
    later["start"] = json!("2026-12-01T09:30:00+01:00");
    let second = api.post("/v1/counter/bookings", &op, later).await.ok(201);
    let meeting = api.book_meeting(&cf(162), &cf(163)).await;
    let served = format!(
        "/v1/counter/bookings/{}/served",
        first["id"].as_str().unwrap()
    );
    let missed = format!(
        "/v1/counter/bookings/{}/missed",
        second["id"].as_str().unwrap()
    );
    // Not before the slot starts.
    api.set_now(tuesday_9() - chrono::Duration::minutes(1));
    api.post_empty(&served, &op)
        .await
        .refused(422, "slot_not_started");
    api.set_now(tuesday_9() + chrono::Duration::minutes(5));
    // Citizens and other offices' operators cannot (M11).
    api.post_empty(&served, &api.citizen(&a))
        .await
        .refused(403, "forbidden");
    api.post_empty(&served, &api.operator_of("ROMA EUR"))
        .await
        .refused(403, "other_office");
    api.post_empty("/v1/counter/bookings/no-such/served", &op)
        .await
        .refused(404, "not_found");

    let done = api.post_empty(&served, &op).await.ok(200);
    assert_eq!(done["status"], "served");
    assert_eq!(done["actions"], json!(["detail"]));
    assert_eq!(api.post_empty(&served, &op).await.ok(200), done);
    api.set_now(tuesday_9() + chrono::Duration::minutes(35));
    let gone = api.post_empty(&missed, &op).await.ok(200);
    assert_eq!(gone["status"], "missed");
    api.post_empty(
        &missed.replace(
            second["id"].as_str().unwrap(),
            first["id"].as_str().unwrap(),
        ),
        &op,
    )
    .await
    .refused(422, "not_active");
    // B8: ended, it no longer counts: the citizen books the counter type again.
    let mut next = booking(
        "naspi-napoli",
        "2026-12-02T09:00:00+01:00",
        "phone_callback",
    );
    next["phone"] = json!("+39 333 765 4321");
    api.post("/v1/bookings", &api.citizen(&a), next)
        .await
        .ok(201);
    // A web meeting's booking is its meeting's to settle.
    api.post_empty(
        &format!(
            "/v1/counter/bookings/{}/served",
            meeting["id"].as_str().unwrap()
        ),
        &op,
    )
    .await
    .refused(422, "settled_by_meeting");
}

pub async fn b8_an_unserved_booking_is_missed_by_itself(api: Api) {
    let citizen = cf(170);
    let op = api.operator();
    let made = api
        .post(
            "/v1/counter/bookings",
            &op,
            counter_booking(&citizen, "front_office"),
        )
        .await
        .ok(201);
    let meeting = api.book_meeting(&cf(171), &cf(172)).await;
    let t = api.citizen(&citizen);
    // The slot (09:00–09:30) ended 29 minutes ago: not yet.
    api.set_now(tuesday_9() + chrono::Duration::minutes(59));
    assert_eq!(api.state.settle_bookings().await.unwrap(), 0);
    assert_eq!(
        listed(&api.get("/v1/bookings", &t).await.ok(200), &made["id"])["status"],
        "confirmed"
    );
    // missed_after_minutes (30) after the slot's end, both are missed.
    api.set_now(tuesday_9() + chrono::Duration::minutes(60));
    assert_eq!(api.state.settle_bookings().await.unwrap(), 2);
    api.read_from_the_log_head().await;
    let after = listed(&api.get("/v1/bookings", &t).await.ok(200), &made["id"]);
    assert_eq!(after["status"], "missed");
    assert_eq!(after["actions"], json!(["detail"]));
    let theirs = api
        .get("/v1/bookings", &api.citizen(&cf(171)))
        .await
        .ok(200);
    assert_eq!(listed(&theirs, &meeting["id"])["status"], "missed");
    // Done once: a second pass finds nothing.
    assert_eq!(api.state.settle_bookings().await.unwrap(), 0);
}
