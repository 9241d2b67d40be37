//! Security regressions of web meetings through HTTP: the access code is
//! never stored (M2), guessing it locks joining (M10), and operators handle
//! the meetings and days of their own office only (M11).

use chrono::Duration;
use serde_json::json;

use crate::support::{cf, tuesday_9, Api};

/// Finding: the access code was stored in clear, in the booking's events
/// and read models, where anyone reading the database could join with it.
/// Now only a keyed digest is stored; the SMS alone carries the code.
pub async fn m10_the_access_code_is_stored_nowhere(api: Api) {
    let (delegate, grantor) = (cf(300), cf(301));
    let booked = api.book_meeting(&delegate, &grantor).await;
    let id = booked["id"].as_str().unwrap().to_owned();
    let code = api.sms_code(&id).await;
    assert_eq!(code.len(), 8, "{code}");
    let log = api.state.repository().read_log(0, 100_000).await.unwrap();
    for e in &log {
        let stored = format!("{} {}", e.event.payload, e.event.metadata);
        assert!(
            !stored.contains(&code),
            "the code is in a stored event: {stored}"
        );
    }
    let read = api.state.system().caught_up().await.unwrap();
    let dump = format!("{:?}", read.dump().await.unwrap());
    assert!(!dump.contains(&code), "the code is in a read model");
    let outbox = format!("{:?}", read.outbox().await.unwrap());
    assert!(!outbox.contains(&code), "the code is in the outbox");
    // And it still opens the meeting.
    api.set_now(tuesday_9() - Duration::minutes(10));
    api.post(
        &format!("/v1/bookings/{id}/meeting/join"),
        &api.citizen(&delegate),
        json!({"code": code}),
    )
    .await
    .ok(200);
}

/// Finding: 100 wrong access codes in a row were answered 100 times, then
/// the right one worked. M10: after 10 wrong codes in a row joining is
/// locked (423), the right code included, until an operator of the office
/// issues a new code by SMS.
pub async fn m10_ten_wrong_codes_lock_joining_until_a_new_code(api: Api) {
    let (delegate, grantor) = (cf(310), cf(311));
    let booked = api.book_meeting(&delegate, &grantor).await;
    let id = booked["id"].as_str().unwrap().to_owned();
    let base = format!("/v1/bookings/{id}/meeting");
    let me = api.citizen(&delegate);
    let code = api.sms_code(&id).await;
    api.set_now(tuesday_9() - Duration::minutes(10));
    for n in 0..10 {
        let guess = format!("GUESS{n:03}");
        api.post(&format!("{base}/join"), &me, json!({"code": guess}))
            .await
            .refused(422, "wrong_access_code");
    }
    api.post(&format!("{base}/join"), &me, json!({"code": code}))
        .await
        .refused(423, "access_code_locked");
    // Another office's operator may not unlock it (M11); this one's may.
    api.post_empty(&format!("{base}/new-code"), &api.operator_of("MILANO NORD"))
        .await
        .refused(403, "other_office");
    api.post_empty(&format!("{base}/new-code"), &me)
        .await
        .refused(403, "forbidden");
    api.post_empty(&format!("{base}/new-code"), &api.operator())
        .await
        .ok(200);
    // The new code comes by SMS; the old one no longer works.
    api.state.deliver_due().await.unwrap();
    let lines = deleghe_adapters::gateway::FileSmsGateway::read_lines(&api.sms).unwrap();
    let sms = lines
        .iter()
        .find(|l| l.key == format!("booking:{id}:sms:access-code-1"))
        .unwrap_or_else(|| panic!("no new-code SMS: {lines:?}"));
    assert_eq!(sms.to, "+393331234567");
    let new_code: String = sms
        .text
        .split("è ")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    assert_eq!(new_code.len(), 8, "{}", sms.text);
    assert_ne!(new_code, code);
    api.post(&format!("{base}/join"), &me, json!({"code": code}))
        .await
        .refused(422, "wrong_access_code");
    let joined = api
        .post(&format!("{base}/join"), &me, json!({"code": new_code}))
        .await
        .ok(200);
    assert_eq!(joined["state"], "waiting_room");
}

/// Finding: an operator of MILANO NORD took a DCM NAPOLI meeting in charge
/// and listed that office's day. M11: 403 `other_office`.
pub async fn m11_operators_handle_their_own_office_only(api: Api) {
    let (delegate, grantor) = (cf(320), cf(321));
    let booked = api.book_meeting(&delegate, &grantor).await;
    let id = booked["id"].as_str().unwrap().to_owned();
    let base = format!("/v1/bookings/{id}/meeting");
    let code = api.sms_code(&id).await;
    api.set_now(tuesday_9() - Duration::minutes(10));
    api.post(
        &format!("{base}/join"),
        &api.citizen(&delegate),
        json!({"code": code}),
    )
    .await
    .ok(200);
    let milano = api.operator_of("MILANO NORD");
    api.post_empty(&format!("{base}/take-in-charge"), &milano)
        .await
        .refused(403, "other_office");
    api.get(&base, &milano).await.refused(403, "other_office");
    api.get("/v1/bookings?office=DCM%20NAPOLI&date=2026-12-01", &milano)
        .await
        .refused(403, "other_office");
    // Their own office's list and meetings are theirs.
    api.get("/v1/bookings?office=MILANO%20NORD&date=2026-12-01", &milano)
        .await
        .ok(200);
    let napoli = api.operator();
    let listed = api
        .get("/v1/bookings?office=DCM%20NAPOLI&date=2026-12-01", &napoli)
        .await
        .ok(200);
    assert_eq!(listed["items"][0]["id"], id.as_str());
    api.post_empty(&format!("{base}/take-in-charge"), &napoli)
        .await
        .ok(200);
}
