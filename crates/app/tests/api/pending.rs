//! Flows that outlive their request (D10): a registration or booking whose
//! later steps did not run before the answer is stored and under way. The
//! answer is `202` with a `Location` to poll, never a status the contract
//! does not list; polling gives `202` until the flow runner has finished,
//! then the resource, or the refusing rule's own code.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::json;

use crate::support::{cf, Answer, Api, Store};

/// Stops every follow-up step while armed, as a crash after the first
/// commit would.
fn armed_api_failpoint() -> (Arc<AtomicBool>, deleghe_adapters::service::Failpoint) {
    let armed = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&armed);
    (armed, Arc::new(move |_| flag.load(Ordering::SeqCst)))
}

fn accepted(answer: &Answer, kind: &str, id: &str) {
    assert_eq!(
        answer.status,
        202,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let location = format!("/v1/{kind}/{id}");
    assert_eq!(answer.headers.get("location").unwrap(), location.as_str());
    assert_eq!(answer.headers.get("retry-after").unwrap(), "1");
    let body = answer.json();
    assert_eq!(body["code"], "pending");
    assert_eq!(body["id"], id);
    assert_eq!(body["location"], location.as_str());
    assert!(body.get("status").is_none(), "no status of the contract's");
}

async fn run_the_runner(api: &Api) {
    api.state
        .system()
        .runner()
        .catch_up()
        .await
        .expect("the runner catches up");
}

pub async fn flows_that_outlive_their_request_answer_202_with_where_to_ask(store: Store) {
    let (armed, failpoint) = armed_api_failpoint();
    let api = Api::with_failpoint(store, failpoint).await;
    let (grantor, delegate) = (cf(300), cf(301));
    let me = api.citizen(&grantor);

    // A registration whose seat step did not run.
    let id_doc = api.id_doc(&grantor).await;
    armed.store(true, Ordering::SeqCst);
    let posted = api
        .post(
            "/v1/delegations",
            &me,
            json!({"delegate": delegate, "identity_document": id_doc}),
        )
        .await;
    let id = posted.json()["id"].as_str().unwrap().to_owned();
    accepted(&posted, "delegations", &id);
    let location = format!("/v1/delegations/{id}");
    accepted(&api.get(&location, &me).await, "delegations", &id);
    // Only its parties (and operators) learn of it.
    api.get(&location, &api.citizen(&cf(302)))
        .await
        .refused(404, "not_found");
    // The lists show no delegation that is not one yet.
    let listed = api
        .get(&format!("/v1/delegations?grantor={grantor}"), &me)
        .await
        .ok(200);
    assert_eq!(listed["items"], json!([]));

    armed.store(false, Ordering::SeqCst);
    run_the_runner(&api).await;
    let done = api.get(&location, &me).await.ok(200);
    assert_eq!(done["status"], "active");
    assert_eq!(done["delegate"], delegate.as_str());

    // Refused in a later step (D2, on the delegate's seats): polling gives
    // the rule's own code.
    let busy = cf(310);
    for n in 0..3 {
        api.delegate_online(&cf(311 + n), &busy).await;
    }
    let late_doc = api.id_doc(&cf(320)).await;
    armed.store(true, Ordering::SeqCst);
    let late = api
        .post(
            "/v1/delegations",
            &api.citizen(&cf(320)),
            json!({"delegate": busy, "identity_document": late_doc}),
        )
        .await;
    let late_id = late.json()["id"].as_str().unwrap().to_owned();
    accepted(&late, "delegations", &late_id);
    armed.store(false, Ordering::SeqCst);
    run_the_runner(&api).await;
    api.get(
        &format!("/v1/delegations/{late_id}"),
        &api.citizen(&cf(320)),
    )
    .await
    .refused(422, "delegate_cap_reached");

    // A booking whose place was not yet reserved.
    armed.store(true, Ordering::SeqCst);
    let booked = api
        .post(
            "/v1/bookings",
            &api.citizen(&delegate),
            json!({
                "counter": "naspi-napoli", "start": "2026-12-01T09:00:00+01:00",
                "mode": "phone_callback", "reason": "Informazioni", "phone": "333 123 4567",
            }),
        )
        .await;
    let booking = booked.json()["id"].as_str().unwrap().to_owned();
    accepted(&booked, "bookings", &booking);
    let at = format!("/v1/bookings/{booking}");
    accepted(
        &api.get(&at, &api.citizen(&delegate)).await,
        "bookings",
        &booking,
    );
    let mine = api
        .get("/v1/bookings", &api.citizen(&delegate))
        .await
        .ok(200);
    assert_eq!(mine["items"], json!([]));
    armed.store(false, Ordering::SeqCst);
    run_the_runner(&api).await;
    let confirmed = api.get(&at, &api.citizen(&delegate)).await.ok(200);
    assert_eq!(confirmed["status"], "confirmed");
    assert_eq!(confirmed["ticket_code"], "NJ001");
}
