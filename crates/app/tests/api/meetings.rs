//! Web meetings through HTTP: M1–M8.

use chrono::Duration;
use serde_json::json;

use crate::support::{cf, pdf, tuesday_9, Api};

pub async fn m1_to_m7_a_web_meeting_registers_the_delegation(api: Api) {
    let (delegate, grantor) = (cf(200), cf(201));
    let booked = api.book_meeting(&delegate, &grantor).await;
    let id = booked["id"].as_str().unwrap().to_owned();
    let base = format!("/v1/bookings/{id}/meeting");
    let me = api.citizen(&delegate);
    let op = api.operator();
    // N1: the code arrives by SMS.
    let code = api.sms_code(&id).await;
    assert_eq!(code, api.access_code(&delegate, &id).await);

    let scheduled = api.get(&base, &me).await.ok(200);
    assert_eq!(
        scheduled,
        json!({
            "state": "scheduled", "consent": null,
            "present": {"grantor": false, "delegate": false, "grantor_able_to_consent": false},
            "documents": [], "outcome": null, "recording": false
        })
    );

    // M1: too early, in the rule's own words.
    api.set_now(tuesday_9() - Duration::minutes(20));
    let early = api
        .post(&format!("{base}/join"), &me, json!({"code": code}))
        .await
        .refused(422, "meeting_not_open_yet");
    assert_eq!(
        early["detail"],
        "Gentile utente, la sua sessione di Spid in Delega sarà disponibile dalle 08:45 del 01/12/2026"
    );
    assert_eq!(early["opens_at"], "2026-12-01T08:45:00+01:00");

    api.set_now(tuesday_9() - Duration::minutes(10));
    // M2: the code sent by SMS.
    api.post(&format!("{base}/join"), &me, json!({"code": "WRONG999"}))
        .await
        .refused(422, "wrong_access_code");
    // Only the booker joins; others do not see the meeting.
    api.post(
        &format!("{base}/join"),
        &api.citizen(&grantor),
        json!({"code": code}),
    )
    .await
    .refused(404, "not_found");
    api.post(&format!("{base}/join"), &op, json!({"code": code}))
        .await
        .refused(403, "forbidden");
    api.get(&base, &api.citizen(&cf(202)))
        .await
        .refused(404, "not_found");
    // M3: the waiting room, until an operator takes the booking in charge.
    let waiting = api
        .post(
            &format!("{base}/join"),
            &me,
            json!({"code": code.to_lowercase()}),
        )
        .await
        .ok(200);
    assert_eq!(waiting["state"], "waiting_room");
    api.post_empty(&format!("{base}/take-in-charge"), &me)
        .await
        .refused(403, "forbidden");
    api.set_now(tuesday_9());
    let in_call = api
        .post_empty(&format!("{base}/take-in-charge"), &op)
        .await
        .ok(200);
    assert_eq!(in_call["state"], "in_call");
    api.post_empty(&format!("{base}/take-in-charge"), &op)
        .await
        .refused(422, "not_waiting");
    assert_eq!(
        api.post(&format!("{base}/join"), &me, json!({"code": code}))
            .await
            .ok(200)["state"],
        "in_call"
    );

    // M4–M6: nothing completes until consent, attendance and documents.
    api.post_empty(&format!("{base}/complete"), &op)
        .await
        .refused(422, "consent_missing");
    let consented = api
        .post(&format!("{base}/consent"), &me, json!({"recording": true}))
        .await
        .ok(200);
    assert_eq!(consented["consent"], true);
    api.post_empty(&format!("{base}/complete"), &op)
        .await
        .refused(422, "parties_missing");
    let present =
        json!({"grantor_present": true, "delegate_present": true, "grantor_able_to_consent": true});
    api.post(&format!("{base}/attendance"), &me, present.clone())
        .await
        .refused(403, "forbidden");
    api.post(&format!("{base}/attendance"), &op, present)
        .await
        .ok(200);
    let missing = api
        .post_empty(&format!("{base}/complete"), &op)
        .await
        .refused(422, "documents_missing");
    assert_eq!(missing["missing"], json!(["aa08", "identity_document"]));

    let upload = |kind: &str| format!("{base}/documents?kind={kind}");
    let aa08 = api
        .post_raw(&upload("aa08"), Some(&me), "application/pdf", pdf(180_000))
        .await
        .ok(201);
    assert_eq!(aa08["kind"], "aa08");
    assert_eq!(aa08["bytes"], 180_000);
    assert_eq!(aa08["sha256"].as_str().unwrap().len(), 64);
    assert!(aa08["id"].is_string());
    // Exactly 3 MiB is accepted, by the operator too.
    let identity = api
        .post_raw(
            &upload("identity_document"),
            Some(&op),
            "application/pdf",
            pdf(3_145_728),
        )
        .await
        .ok(201);
    assert_eq!(identity["bytes"], 3_145_728);
    // The documents are kept, and served to the parties only.
    let doc = format!("{base}/documents/{}", aa08["id"].as_str().unwrap());
    let got = api.get(&doc, &op).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, pdf(180_000));
    assert_eq!(got.headers.get("content-type").unwrap(), "application/pdf");
    api.get(&doc, &api.citizen(&grantor))
        .await
        .refused(404, "not_found");
    api.get(&format!("{base}/documents/{}", "0".repeat(64)), &me)
        .await
        .refused(404, "not_found");

    api.post_empty(&format!("{base}/complete"), &me)
        .await
        .refused(403, "forbidden");
    api.set_now(tuesday_9() + Duration::minutes(20));
    let done = api
        .post_empty(&format!("{base}/complete"), &op)
        .await
        .ok(200);
    assert_eq!(done["outcome"], "delegation_registered");
    let delegation = &done["delegation"];
    assert_eq!(delegation["channel"], "web_meeting");
    assert_eq!(delegation["status"], "active");
    assert_eq!(delegation["grantor"], grantor.as_str());
    assert_eq!(delegation["delegate"], delegate.as_str());
    let path = format!("/v1/delegations/{}", delegation["id"].as_str().unwrap());
    assert_eq!(
        api.get(&path, &api.citizen(&grantor)).await.ok(200),
        *delegation
    );

    let ended = api.get(&base, &op).await.ok(200);
    assert_eq!(ended["state"], "ended");
    assert_eq!(ended["outcome"]["kind"], "delegation_registered");
    assert_eq!(ended["outcome"]["delegation_id"], delegation["id"]);
    assert_eq!(ended["documents"].as_array().unwrap().len(), 2);
    api.post(&format!("{base}/join"), &me, json!({"code": code}))
        .await
        .refused(422, "meeting_closed");

    // B8: the meeting's end served the booking; it offers neither joining
    // nor cancelling, and no longer holds the counter type (B1).
    let mine = api.get("/v1/bookings", &me).await.ok(200)["items"].clone();
    let served = mine
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == id.as_str())
        .expect("the booking is listed");
    assert_eq!(served["status"], "served");
    assert_eq!(served["actions"], json!(["detail"]));
    let mut next = json!({
        "counter": "deleghe-web-meeting", "start": "2026-12-03T09:00:00+01:00",
        "mode": "web_meeting", "reason": "Registrazione delega", "phone": "333 123 4567",
        "grantor": {"fiscal_code": cf(202), "first_name": "Anna", "last_name": "Bianchi"},
    });
    api.post("/v1/bookings", &me, next.clone()).await.ok(201);
    next["start"] = json!("2026-12-10T09:00:00+01:00");
    api.post("/v1/bookings", &me, next)
        .await
        .refused(422, "counter_already_booked");
}

pub async fn m6_documents_are_pdfs_of_at_most_3_mib(api: Api) {
    let (delegate, grantor) = (cf(210), cf(211));
    let booked = api.book_meeting(&delegate, &grantor).await;
    let id = booked["id"].as_str().unwrap().to_owned();
    let base = format!("/v1/bookings/{id}/meeting");
    let me = api.citizen(&delegate);
    let upload = |kind: &str| format!("{base}/documents?kind={kind}");

    // Not joined yet.
    api.post_raw(&upload("aa08"), Some(&me), "application/pdf", pdf(1000))
        .await
        .refused(422, "not_joined");
    api.set_now(tuesday_9() - Duration::minutes(5));
    let code = api.access_code(&delegate, &id).await;
    api.post(&format!("{base}/join"), &me, json!({"code": code}))
        .await
        .ok(200);

    let png = b"\x89PNG\r\n\x1a\n not a pdf at all".to_vec();
    api.post_raw(&upload("aa08"), Some(&me), "application/pdf", png)
        .await
        .refused(415, "not_a_pdf");
    let over = api
        .post_raw(
            &upload("aa08"),
            Some(&me),
            "application/pdf",
            pdf(3_145_729),
        )
        .await
        .refused(413, "document_too_large");
    assert_eq!(over["bytes"], 3_145_729);
    assert_eq!(over["max"], 3_145_728);
    // Far over: refused before it is read in full.
    api.post_raw(
        &upload("aa08"),
        Some(&me),
        "application/pdf",
        pdf(5 * 1024 * 1024),
    )
    .await
    .refused(413, "document_too_large");
    api.post_raw(&upload("passport"), Some(&me), "application/pdf", pdf(1000))
        .await
        .refused(400, "unknown_document_kind");
    api.post_raw(
        &base.replace("meeting", "meeting/documents"),
        Some(&me),
        "application/pdf",
        pdf(1000),
    )
    .await
    .refused(400, "invalid_request");
    api.post_raw(
        &upload("aa08"),
        Some(&api.citizen(&grantor)),
        "application/pdf",
        pdf(1000),
    )
    .await
    .refused(404, "not_found");
    api.post_raw(&upload("aa08"), None, "application/pdf", pdf(1000))
        .await
        .refused(401, "unauthorized");
    let meeting = api.get(&base, &me).await.ok(200);
    assert_eq!(
        meeting["documents"],
        json!([]),
        "nothing refused was attached"
    );
}

pub async fn m4_m8_meetings_that_end_without_a_delegation(api: Api) {
    let op = api.operator();
    // M4: consent denied ends the meeting.
    let (d1, g1) = (cf(220), cf(221));
    let first = api.book_meeting(&d1, &g1).await;
    let base1 = format!("/v1/bookings/{}/meeting", first["id"].as_str().unwrap());
    api.set_now(tuesday_9() - Duration::minutes(5));
    let code = api.access_code(&d1, first["id"].as_str().unwrap()).await;
    api.post(
        &format!("{base1}/join"),
        &api.citizen(&d1),
        json!({"code": code}),
    )
    .await
    .ok(200);
    let denied = api
        .post(
            &format!("{base1}/consent"),
            &api.citizen(&d1),
            json!({"recording": false}),
        )
        .await
        .ok(200);
    assert_eq!(denied["state"], "ended");
    assert_eq!(denied["outcome"], json!({"kind": "consent_denied"}));
    api.post(
        &format!("{base1}/consent"),
        &op,
        json!({"recording": "yes"}),
    )
    .await
    .refused(400, "invalid_request");

    // M8: the operator abandons a meeting.
    api.set_now(crate::support::t0());
    let (d2, g2) = (cf(222), cf(223));
    let second = api.book_meeting(&d2, &g2).await;
    let base2 = format!("/v1/bookings/{}/meeting", second["id"].as_str().unwrap());
    api.post(
        &format!("{base2}/abandon"),
        &api.citizen(&d2),
        json!({"outcome": "no_show"}),
    )
    .await
    .refused(403, "forbidden");
    api.post(
        &format!("{base2}/abandon"),
        &op,
        json!({"outcome": "lunch"}),
    )
    .await
    .refused(400, "invalid_request");
    let abandoned = api
        .post(
            &format!("{base2}/abandon"),
            &op,
            json!({"outcome": "no_show"}),
        )
        .await
        .ok(200);
    assert_eq!(abandoned["state"], "ended");
    assert_eq!(abandoned["outcome"], json!({"kind": "no_show"}));
    api.post(
        &format!("{base2}/abandon"),
        &op,
        json!({"outcome": "technical_failure"}),
    )
    .await
    .refused(422, "meeting_closed");
    api.post_empty(&format!("{base2}/take-in-charge"), &op)
        .await
        .refused(422, "not_waiting");

    // A booking that is not a web meeting has no meeting.
    let in_person = api
        .post(
            "/v1/bookings",
            &api.citizen(&d2),
            json!({"counter": "pensioni-roma", "start": "2026-12-02T08:30:00+01:00",
                   "mode": "in_person", "reason": "Pensione", "phone": "3331234567"}),
        )
        .await
        .ok(201);
    api.get(
        &format!("/v1/bookings/{}/meeting", in_person["id"].as_str().unwrap()),
        &api.citizen(&d2),
    )
    .await
    .refused(404, "not_found");
    api.get("/v1/bookings/nope/meeting", &op)
        .await
        .refused(404, "not_found");
}

pub async fn m7_a_rule_refusing_the_registration_ends_the_meeting(api: Api) {
    let (delegate, grantor) = (cf(230), cf(231));
    // D1: the grantor already has a delegate.
    api.delegate_online(&grantor, &cf(232)).await;
    let booked = api.book_meeting(&delegate, &grantor).await;
    let id = booked["id"].as_str().unwrap().to_owned();
    let base = format!("/v1/bookings/{id}/meeting");
    let (me, op) = (api.citizen(&delegate), api.operator());
    api.set_now(tuesday_9() - Duration::minutes(1));
    let code = api.access_code(&delegate, &id).await;
    api.post(&format!("{base}/join"), &me, json!({"code": code}))
        .await
        .ok(200);
    api.post_empty(&format!("{base}/take-in-charge"), &op)
        .await
        .ok(200);
    api.post(&format!("{base}/consent"), &op, json!({"recording": true}))
        .await
        .ok(200);
    api.post(
        &format!("{base}/attendance"),
        &op,
        json!({"grantor_present": true, "delegate_present": true, "grantor_able_to_consent": true}),
    )
    .await
    .ok(200);
    for kind in ["aa08", "identity_document"] {
        api.post_raw(
            &format!("{base}/documents?kind={kind}"),
            Some(&op),
            "application/pdf",
            pdf(2048),
        )
        .await
        .ok(201);
    }
    let refused = api
        .post_empty(&format!("{base}/complete"), &op)
        .await
        .refused(422, "grantor_already_has_delegate");
    assert_eq!(
        refused["outcome"],
        json!({"kind": "registration_refused", "code": "grantor_already_has_delegate"})
    );
    let ended = api.get(&base, &me).await.ok(200);
    assert_eq!(ended["state"], "ended");
    assert_eq!(ended["outcome"]["code"], "grantor_already_has_delegate");
    // The delegate was given no delegation.
    let theirs = api
        .get(&format!("/v1/delegations?delegate={delegate}"), &me)
        .await
        .ok(200);
    assert_eq!(theirs, json!({"items": []}));
}

pub async fn b8_a_meeting_abandoned_before_anyone_joined_settles_its_booking(api: Api) {
    let op = api.operator();
    for (n, outcome, status) in [(0, "no_show", "missed"), (2, "technical_failure", "served")] {
        let (delegate, grantor) = (cf(230 + n), cf(231 + n));
        let booked = api.book_meeting(&delegate, &grantor).await;
        let id = booked["id"].as_str().unwrap().to_owned();
        // Nobody has joined: the meeting is still scheduled.
        let ended = api
            .post(
                &format!("/v1/bookings/{id}/meeting/abandon"),
                &op,
                json!({"outcome": outcome}),
            )
            .await
            .ok(200);
        assert_eq!(ended["state"], "ended");
        let me = api.citizen(&delegate);
        let after = api.get(&format!("/v1/bookings/{id}"), &me).await.ok(200);
        assert_eq!(after["status"], status, "{outcome}");
        assert_eq!(after["actions"], json!(["detail"]));
        // Ended, it no longer holds the counter type (B1).
        let mut next = json!({
            "counter": "deleghe-web-meeting", "start": "2026-12-03T09:00:00+01:00",
            "mode": "web_meeting", "reason": "Registrazione delega", "phone": "333 123 4567",
            "grantor": {"fiscal_code": grantor, "first_name": "Anna", "last_name": "Bianchi"},
        });
        next["start"] = json!(format!("2026-12-03T{:02}:00:00+01:00", 9 + n));
        api.post("/v1/bookings", &me, next).await.ok(201);
    }
}

/// Found by a hostile probe: a web meeting whose booking the booker
/// cancelled from the waiting room could still be taken in charge,
/// attended and completed, registering a delegation on a cancelled
/// booking. Every step of a meeting now needs its booking active, as the
/// join (M1) and the uploads (M6) did: `not_active`.
pub async fn m1_m7_a_cancelled_bookings_meeting_goes_no_further(api: Api) {
    let (delegate, grantor) = (cf(240), cf(241));
    let booked = api.book_meeting(&delegate, &grantor).await;
    let id = booked["id"].as_str().unwrap().to_owned();
    let base = format!("/v1/bookings/{id}/meeting");
    let me = api.citizen(&delegate);
    let op = api.operator();
    api.set_now(tuesday_9() - Duration::minutes(10));
    let code = api.access_code(&delegate, &id).await;
    api.post(&format!("{base}/join"), &me, json!({"code": code}))
        .await
        .ok(200);
    let cancelled = api.delete(&format!("/v1/bookings/{id}"), &me).await.ok(200);
    assert_eq!(cancelled["status"], "cancelled");
    api.post_empty(&format!("{base}/take-in-charge"), &op)
        .await
        .refused(422, "not_active");
    api.post(&format!("{base}/consent"), &me, json!({"recording": true}))
        .await
        .refused(422, "not_active");
    api.post(
        &format!("{base}/attendance"),
        &op,
        json!({"grantor_present": true, "delegate_present": true, "grantor_able_to_consent": true}),
    )
    .await
    .refused(422, "not_active");
    api.post_empty(&format!("{base}/complete"), &op)
        .await
        .refused(422, "not_active");
    // No delegation came of it.
    let list = api
        .get(&format!("/v1/delegations?delegate={delegate}"), &me)
        .await
        .ok(200);
    assert_eq!(list["items"], json!([]));
}
