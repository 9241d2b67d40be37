//! D11 through HTTP: the evidence a registration is made on, uploaded by
//! its requester, kept on the delegation, and never swept.

use chrono::Duration;
use deleghe_domain::Policy;
use serde_json::json;

use crate::support::{cf, t0, Api, Store};

pub async fn d11_online_needs_the_grantors_own_identity_document(api: Api) {
    let (g, d) = (cf(700), cf(701));
    let token = api.citizen(&g);
    // Without the copy of the identity document: refused, nothing kept.
    let refused = api
        .post("/v1/delegations", &token, json!({"delegate": d}))
        .await
        .refused(422, "evidence_missing");
    assert_eq!(refused["missing"], json!(["identity_document"]));
    // A digest that is not one names its field.
    let bad = api
        .post(
            "/v1/delegations",
            &token,
            json!({"delegate": d, "identity_document": "ABC"}),
        )
        .await
        .refused(400, "invalid_request");
    assert_eq!(bad["field"], "identity_document");
    // A document someone else uploaded is not the grantor's evidence.
    let someone_elses = api.id_doc(&cf(702)).await;
    let unknown = api
        .post(
            "/v1/delegations",
            &token,
            json!({"delegate": d, "identity_document": someone_elses}),
        )
        .await
        .refused(422, "unknown_document");
    assert_eq!(unknown["field"], "identity_document");
    assert_eq!(unknown["sha256"], someone_elses.as_str());
    // Nor is one an operator uploaded for a counter.
    let operators = api.counter_docs(&api.operator(), &["aa08"]).await.remove(0);
    api.post(
        "/v1/delegations",
        &token,
        json!({"delegate": d, "identity_document": operators}),
    )
    .await
    .refused(422, "unknown_document");

    // Uploaded by the grantor: registered, and the delegation shows it.
    let mine = api.id_doc(&g).await;
    let created = api
        .post(
            "/v1/delegations",
            &token,
            json!({"delegate": d, "identity_document": mine}),
        )
        .await
        .ok(201);
    let evidence = json!([{"kind": "identity_document", "sha256": mine}]);
    assert_eq!(created["evidence"], evidence);
    let id = created["id"].as_str().unwrap();
    let read = api
        .get(&format!("/v1/delegations/{id}"), &api.citizen(&d))
        .await
        .ok(200);
    assert_eq!(read["evidence"], evidence);
    let listed = api
        .get(&format!("/v1/delegations?grantor={g}"), &token)
        .await
        .ok(200);
    assert_eq!(listed["items"][0]["evidence"], evidence);
}

pub async fn d11_counter_forms_follow_the_role(api: Api) {
    let op = api.operator();
    // AA10 is a legal representative's form: not for an ordinary delegate.
    let aa10 = api.counter_docs(&op, &["aa10", "identity_document"]).await;
    let refused = api
        .post(
            "/v1/counter/delegations",
            &op,
            json!({"grantor": cf(710), "delegate": cf(711), "documents": aa10}),
        )
        .await
        .refused(422, "evidence_missing");
    assert_eq!(refused["missing"], json!(["aa08|aa09"]));
    // The form without the grantor's identity document is not enough.
    let aa09 = api.counter_docs(&op, &["aa09"]).await;
    let refused = api
        .post(
            "/v1/counter/delegations",
            &op,
            json!({"grantor": cf(710), "delegate": cf(711), "documents": aa09}),
        )
        .await
        .refused(422, "evidence_missing");
    assert_eq!(refused["missing"], json!(["identity_document"]));
    // AA09 and the identity document: registered.
    let docs = api.counter_docs(&op, &["aa09", "identity_document"]).await;
    let created = api
        .post(
            "/v1/counter/delegations",
            &op,
            json!({"grantor": cf(710), "delegate": cf(711), "documents": docs}),
        )
        .await
        .ok(201);
    assert_eq!(
        created["evidence"],
        json!([
            {"kind": "aa09", "sha256": docs[0]},
            {"kind": "identity_document", "sha256": docs[1]},
        ])
    );
    // A tutor's needs AA10, not AA08.
    let aa08 = api.counter_docs(&op, &["aa08", "identity_document"]).await;
    let refused = api
        .post(
            "/v1/counter/delegations",
            &op,
            json!({"grantor": cf(712), "delegate": cf(713), "role": "tutor", "documents": aa08}),
        )
        .await
        .refused(422, "evidence_missing");
    assert_eq!(refused["missing"], json!(["aa10"]));
    // Documents another operator uploaded are not this operator's.
    let elsewhere = api.operator_of("MILANO NORD");
    let bad = api
        .post(
            "/v1/counter/delegations",
            &elsewhere,
            json!({"grantor": cf(712), "delegate": cf(713), "role": "tutor", "documents": aa10}),
        )
        .await
        .refused(422, "unknown_document");
    assert_eq!(bad["field"], "documents[0]");
    // Nor is a citizen's upload.
    let citizens = api.id_doc(&cf(712)).await;
    api.post(
        "/v1/counter/delegations",
        &op,
        json!({"grantor": cf(712), "delegate": cf(713), "role": "tutor",
               "documents": [aa10[0].clone(), citizens]}),
    )
    .await
    .refused(422, "unknown_document");
    let malformed = api
        .post(
            "/v1/counter/delegations",
            &op,
            json!({"grantor": cf(712), "delegate": cf(713), "documents": [aa08[0].clone(), "0".repeat(63)]}),
        )
        .await
        .refused(400, "invalid_request");
    assert_eq!(malformed["field"], "documents[1]");
}

pub async fn d11_pec_needs_the_signed_documents(api: Api) {
    let op = api.operator();
    let forms = api.counter_docs(&op, &["aa10", "identity_document"]).await;
    let refused = api
        .post(
            "/v1/counter/delegations",
            &op,
            json!({"grantor": cf(720), "delegate": cf(721), "role": "curator",
                   "channel": "pec", "documents": forms}),
        )
        .await
        .refused(422, "evidence_missing");
    assert_eq!(refused["missing"], json!(["pec"]));
    let pec = api.counter_docs(&op, &["pec"]).await;
    let created = api
        .post(
            "/v1/counter/delegations",
            &op,
            json!({"grantor": cf(720), "delegate": cf(721), "role": "curator",
                   "channel": "pec", "documents": pec}),
        )
        .await
        .ok(201);
    assert_eq!(created["channel"], "pec");
    assert_eq!(
        created["evidence"],
        json!([{"kind": "pec", "sha256": pec[0]}])
    );
}

pub async fn d11_uploads_are_checked_and_refused_when_acting(api: Api) {
    let (g, d) = (cf(730), cf(731));
    let me = api.citizen(&g);
    // M6's checks, as in a meeting.
    api.post_raw(
        "/v1/me/documents?kind=identity_document",
        Some(&me),
        "application/pdf",
        b"not a pdf at all".to_vec(),
    )
    .await
    .refused(415, "not_a_pdf");
    let big = deleghe_domain::document::blank_pdf(3_145_729).unwrap();
    api.post_raw(
        "/v1/me/documents?kind=identity_document",
        Some(&me),
        "application/pdf",
        big,
    )
    .await
    .refused(413, "document_too_large");
    // A citizen uploads their identity document, nothing else.
    api.post_raw(
        "/v1/me/documents?kind=aa08",
        Some(&me),
        "application/pdf",
        Api::pdf_of("aa08"),
    )
    .await
    .refused(400, "unknown_document_kind");
    let pdf = Api::pdf_of("identity_document");
    let uploaded = api
        .post_raw(
            "/v1/me/documents?kind=identity_document",
            Some(&me),
            "application/pdf",
            pdf.clone(),
        )
        .await
        .ok(201);
    assert_eq!(uploaded["kind"], "identity_document");
    assert_eq!(uploaded["bytes"], pdf.len());
    assert_eq!(
        uploaded["sha256"],
        deleghe_domain::document::sha256_hex(&pdf)
    );
    // Operators upload at the counter, citizens in their area.
    api.post_raw(
        "/v1/me/documents?kind=identity_document",
        Some(&api.operator()),
        "application/pdf",
        pdf.clone(),
    )
    .await
    .refused(403, "forbidden");
    api.post_raw(
        "/v1/counter/documents?kind=aa08",
        Some(&me),
        "application/pdf",
        pdf.clone(),
    )
    .await
    .refused(403, "forbidden");
    api.post_raw(
        "/v1/counter/documents?kind=aa11",
        Some(&api.operator()),
        "application/pdf",
        pdf.clone(),
    )
    .await
    .refused(400, "unknown_document_kind");
    // D12: a delegate acting for the grantor uploads nothing in their name.
    api.delegate_online(&g, &d).await;
    let acting = api
        .post(
            "/v1/sessions/act-as",
            &api.citizen(&d),
            json!({"grantor": g}),
        )
        .await
        .ok(200)["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = api.events().await;
    api.post_raw(
        "/v1/me/documents?kind=identity_document",
        Some(&acting),
        "application/pdf",
        pdf,
    )
    .await
    .refused(403, "not_allowed_when_acting");
    assert_eq!(api.events().await, before, "nothing stored");
}

pub async fn d11_evidence_is_never_swept(api: Api) {
    let (g, d) = (cf(740), cf(741));
    let created = api.delegate_online(&g, &d).await;
    let evidence = created["evidence"][0]["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    // An upload never used is swept after its grace; the evidence stays.
    let op = api.operator();
    let unused = api.counter_docs(&op, &["pec"]).await.remove(0);
    api.set_now(t0() + Duration::days(3));
    api.state.sweep_documents().await.unwrap();
    let store = api.state.documents();
    assert!(
        store.get(&evidence).await.unwrap().is_some(),
        "evidence swept"
    );
    assert_eq!(
        store.get(&unused).await.unwrap(),
        None,
        "the unused upload stays"
    );
    // Named after it was swept, it is no document any more.
    api.post(
        "/v1/counter/delegations",
        &op,
        json!({"grantor": cf(742), "delegate": cf(743), "role": "tutor",
               "channel": "pec", "documents": [unused]}),
    )
    .await
    .refused(422, "unknown_document");
}

pub async fn d11_the_policy_may_waive_the_online_identity_document(store: Store) {
    let policy = Policy {
        online_identity_document_required: false,
        ..Policy::default()
    };
    let api = Api::with_policy(store, policy).await;
    let created = api
        .post(
            "/v1/delegations",
            &api.citizen(&cf(750)),
            json!({"delegate": cf(751)}),
        )
        .await
        .ok(201);
    assert_eq!(created["evidence"], json!([]));
    // Still kept when given.
    let mine = api.id_doc(&cf(752)).await;
    let created = api
        .post(
            "/v1/delegations",
            &api.citizen(&cf(752)),
            json!({"delegate": cf(751), "identity_document": mine}),
        )
        .await
        .ok(201);
    assert_eq!(created["evidence"][0]["sha256"], mine.as_str());
    // A counter still needs its documents: the field is required, and an
    // empty list is not enough.
    api.post(
        "/v1/counter/delegations",
        &api.operator(),
        json!({"grantor": cf(753), "delegate": cf(754)}),
    )
    .await
    .refused(400, "invalid_request");
    api.post(
        "/v1/counter/delegations",
        &api.operator(),
        json!({"grantor": cf(753), "delegate": cf(754), "documents": []}),
    )
    .await
    .refused(422, "evidence_missing");
}
