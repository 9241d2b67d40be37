//! Delegations through HTTP: D1–D9, authentication, authorization and input
//! validation.

use axum::body::Body;
use axum::http::Request;
use chrono::{Duration, Utc};
use deleghe_app::auth::{AuthMethod, Claims, Role};
use serde_json::json;

use crate::support::{cf, t0, Api};

pub async fn d1_d4_d7_online_registration(api: Api) {
    let (g, d) = (cf(1), cf(2));
    let created = api.delegate_online(&g, &d).await;
    assert_eq!(created["status"], "active");
    assert_eq!(created["channel"], "online");
    assert_eq!(created["role"], "ordinary");
    assert_eq!(created["grantor"], g.as_str());
    assert_eq!(created["delegate"], d.as_str());
    assert_eq!(created["ends_on"], json!(null));
    assert_eq!(created["revoked_at"], json!(null));
    assert!(created["registered_at"].is_string());
    assert_eq!(created["revocable_online_from"], "2026-12-30");
    let id = created["id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "ids are UUIDs: {id}");

    // D1: one delegate at a time.
    let again = api
        .post(
            "/v1/delegations",
            &api.citizen(&g),
            json!({"delegate": cf(3), "identity_document": api.id_doc(&g).await}),
        )
        .await
        .refused(422, "grantor_already_has_delegate");
    assert_eq!(again["existing"], id);
    // D4.
    api.post(
        "/v1/delegations",
        &api.citizen(&cf(4)),
        json!({"delegate": cf(4)}),
    )
    .await
    .refused(422, "self_delegation");
    // D7: online, at least 30 days.
    let soon = api
        .post(
            "/v1/delegations",
            &api.citizen(&cf(5)),
            json!({"delegate": cf(6), "ends_on": "2026-12-15", "identity_document": api.id_doc(&cf(5)).await}),
        )
        .await
        .refused(422, "end_date_too_soon");
    assert_eq!(soon["earliest"], "2026-12-30");
    let later = api
        .post(
            "/v1/delegations",
            &api.citizen(&cf(5)),
            json!({"delegate": cf(6), "ends_on": "2027-06-30", "identity_document": api.id_doc(&cf(5)).await}),
        )
        .await
        .ok(201);
    assert_eq!(later["ends_on"], "2027-06-30");
}

pub async fn d2_cap_and_d3_legal_representatives(api: Api) {
    let delegate = cf(20);
    for n in 21..24 {
        api.delegate_online(&cf(n), &delegate).await;
    }
    let capped = api
        .post(
            "/v1/delegations",
            &api.citizen(&cf(24)),
            json!({"delegate": delegate, "identity_document": api.id_doc(&cf(24)).await}),
        )
        .await
        .refused(422, "delegate_cap_reached");
    assert_eq!(capped["cap"], 3);
    // D3: a tutor's delegation does not count.
    let tutor = api
        .post(
            "/v1/counter/delegations",
            &api.operator(),
            json!({"grantor": cf(24), "delegate": delegate, "role": "tutor",
                   "documents": api.counter_docs(&api.operator(), &["aa10", "identity_document"]).await}),
        )
        .await
        .ok(201);
    assert_eq!(tutor["status"], "awaiting_confirmation");
    assert_eq!(tutor["role"], "tutor");
    assert_eq!(tutor["channel"], "counter");
    assert_eq!(tutor["revocable_online_from"], json!(null));
}

pub async fn d6_counter_registration_confirmation_and_rejection(api: Api) {
    let op = api.operator();
    let ordinary = api
        .post(
            "/v1/counter/delegations",
            &op,
            json!({"grantor": cf(30), "delegate": cf(31),
                   "documents": api.counter_docs(&op, &["aa08", "identity_document"]).await}),
        )
        .await
        .ok(201);
    assert_eq!(ordinary["status"], "active");
    assert_eq!(ordinary["channel"], "counter");

    let tutor = api
        .post(
            "/v1/counter/delegations",
            &op,
            json!({"grantor": cf(32), "delegate": cf(31), "role": "tutor",
                   "documents": api.counter_docs(&op, &["aa10", "identity_document"]).await}),
        )
        .await
        .ok(201);
    let confirm = format!(
        "/v1/counter/delegations/{}/confirm",
        tutor["id"].as_str().unwrap()
    );
    assert_eq!(
        api.post_empty(&confirm, &op).await.ok(200)["status"],
        "active"
    );
    api.post_empty(&confirm, &op)
        .await
        .refused(422, "not_awaiting_confirmation");

    let curator = api
        .post(
            "/v1/counter/delegations",
            &op,
            json!({"grantor": cf(33), "delegate": cf(34), "role": "curator", "channel": "pec",
                   "documents": api.counter_docs(&op, &["pec"]).await}),
        )
        .await
        .ok(201);
    assert_eq!(curator["channel"], "pec");
    let reject = format!(
        "/v1/counter/delegations/{}/reject",
        curator["id"].as_str().unwrap()
    );
    assert_eq!(
        api.post_empty(&reject, &op).await.ok(200)["status"],
        "rejected"
    );
    api.post_empty(&reject, &op)
        .await
        .refused(422, "not_awaiting_confirmation");

    // D5: PEC is for legal representatives.
    api.post(
        "/v1/counter/delegations",
        &op,
        json!({"grantor": cf(35), "delegate": cf(36), "channel": "pec", "documents": []}),
    )
    .await
    .refused(422, "pec_needs_legal_representative");
    // Only counter and pec; an unknown role is a malformed request.
    api.post(
        "/v1/counter/delegations",
        &op,
        json!({"grantor": cf(35), "delegate": cf(36), "channel": "online"}),
    )
    .await
    .refused(400, "invalid_request");
    api.post(
        "/v1/counter/delegations",
        &op,
        json!({"grantor": cf(35), "delegate": cf(36), "role": "uncle"}),
    )
    .await
    .refused(400, "invalid_request");
    api.post_empty("/v1/counter/delegations/no-such-id/confirm", &op)
        .await
        .refused(404, "not_found");
    // Operators only.
    let citizen = api.citizen(&cf(30));
    api.post(
        "/v1/counter/delegations",
        &citizen,
        json!({"grantor": cf(37), "delegate": cf(38), "documents": []}),
    )
    .await
    .refused(403, "forbidden");
    api.post_empty(&confirm, &citizen)
        .await
        .refused(403, "forbidden");
}

pub async fn d8_revocation_online_and_at_the_counter(api: Api) {
    let (g, d) = (cf(40), cf(41));
    let created = api.delegate_online(&g, &d).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let revoke = format!("/v1/delegations/{id}/revoke");

    let early = api
        .post_empty(&revoke, &api.citizen(&g))
        .await
        .refused(422, "online_revocation_too_early");
    assert_eq!(early["revocable_online_from"], "2026-12-30");
    // Only the grantor revokes online; others do not even see it.
    api.post_empty(&revoke, &api.citizen(&d))
        .await
        .refused(403, "forbidden");
    api.post_empty(&revoke, &api.citizen(&cf(42)))
        .await
        .refused(404, "not_found");
    api.post_empty(&revoke, &api.operator())
        .await
        .refused(403, "forbidden");

    api.set_now(t0() + Duration::days(30));
    let revoked = api.post_empty(&revoke, &api.citizen(&g)).await.ok(200);
    assert_eq!(revoked["status"], "revoked");
    assert!(revoked["revoked_at"].is_string());
    api.post_empty(&revoke, &api.citizen(&g))
        .await
        .refused(422, "not_active");
    // After revocation the grantor may name a new delegate.
    api.delegate_online(&g, &cf(43)).await;

    // At a counter, at any time.
    let other = api.delegate_online(&cf(44), &cf(45)).await;
    let at_counter = format!(
        "/v1/counter/delegations/{}/revoke",
        other["id"].as_str().unwrap()
    );
    assert_eq!(
        api.post_empty(&at_counter, &api.operator()).await.ok(200)["status"],
        "revoked"
    );
    api.post_empty(&at_counter, &api.operator())
        .await
        .refused(422, "not_active");
    api.post_empty(&at_counter, &api.citizen(&cf(44)))
        .await
        .refused(403, "forbidden");

    // A legal representative's delegation is revoked at a counter.
    let tutor = api
        .post(
            "/v1/counter/delegations",
            &api.operator(),
            json!({"grantor": cf(46), "delegate": cf(47), "role": "parent",
                   "documents": api.counter_docs(&api.operator(), &["aa10", "identity_document"]).await}),
        )
        .await
        .ok(201);
    api.post_empty(
        &format!("/v1/delegations/{}/revoke", tutor["id"].as_str().unwrap()),
        &api.citizen(&cf(46)),
    )
    .await
    .refused(422, "revocation_needs_counter");
}

pub async fn delegations_are_seen_only_by_their_parties(api: Api) {
    let (g, d, stranger) = (cf(50), cf(51), cf(52));
    let created = api.delegate_online(&g, &d).await;
    let path = format!("/v1/delegations/{}", created["id"].as_str().unwrap());
    assert_eq!(api.get(&path, &api.citizen(&g)).await.ok(200), created);
    assert_eq!(api.get(&path, &api.citizen(&d)).await.ok(200), created);
    assert_eq!(api.get(&path, &api.operator()).await.ok(200), created);
    // Another citizen's delegation is never visible.
    api.get(&path, &api.citizen(&stranger))
        .await
        .refused(404, "not_found");
    api.get("/v1/delegations/does-not-exist", &api.citizen(&g))
        .await
        .refused(404, "not_found");
    api.get("/v1/delegations/%20bad%20id", &api.citizen(&g))
        .await
        .refused(404, "not_found");

    let by_grantor = format!("/v1/delegations?grantor={g}");
    let by_delegate = format!("/v1/delegations?delegate={d}");
    for (path, who) in [
        (&by_grantor, api.citizen(&g)),
        (&by_grantor, api.operator()),
        (&by_delegate, api.citizen(&d)),
        (&by_delegate, api.operator()),
    ] {
        let items = api.get(path, &who).await.ok(200)["items"].clone();
        assert_eq!(items, json!([created.clone()]), "{path}");
    }
    api.get(&by_grantor, &api.citizen(&stranger))
        .await
        .refused(403, "forbidden");
    api.get(&by_delegate, &api.citizen(&g))
        .await
        .refused(403, "forbidden");
    // Neither: a citizen's own, given and received; an operator names one.
    for who in [&g, &d] {
        let own = api.get("/v1/delegations", &api.citizen(who)).await.ok(200);
        assert_eq!(own["items"], json!([created.clone()]), "{who}");
    }
    let none = api
        .get("/v1/delegations", &api.citizen(&stranger))
        .await
        .ok(200);
    assert_eq!(none["items"], json!([]));
    api.get("/v1/delegations", &api.operator())
        .await
        .refused(422, "citizen_required");
    // Both: what the one gave the other, for either party or an operator.
    let both = format!("/v1/delegations?grantor={g}&delegate={d}");
    for who in [api.citizen(&g), api.citizen(&d), api.operator()] {
        let items = api.get(&both, &who).await.ok(200)["items"].clone();
        assert_eq!(items, json!([created.clone()]));
    }
    let to_stranger = format!("/v1/delegations?grantor={g}&delegate={stranger}");
    let items = api.get(&to_stranger, &api.citizen(&g)).await.ok(200)["items"].clone();
    assert_eq!(items, json!([]));
    api.get(&both, &api.citizen(&stranger))
        .await
        .refused(403, "forbidden");
    api.get("/v1/delegations?grantor=NOTACODE", &api.citizen(&g))
        .await
        .refused(400, "invalid_fiscal_code");
    // A citizen with no delegations has an empty list.
    let none = api
        .get(
            &format!("/v1/delegations?grantor={stranger}"),
            &api.citizen(&stranger),
        )
        .await
        .ok(200);
    assert_eq!(none, json!({"items": []}));
}

/// Clients at once, more of them than the store's pool has connections,
/// each registering a delegation and listing it back: the app projects the
/// log before every read, and each client reads its own write.
pub async fn clients_at_once_read_their_own_writes(api: Api) {
    let api = std::sync::Arc::new(api);
    let mut clients = tokio::task::JoinSet::new();
    for k in 0..24 {
        let api = std::sync::Arc::clone(&api);
        clients.spawn(async move {
            let (g, d) = (cf(600 + k), cf(700 + k));
            let created = api.delegate_online(&g, &d).await;
            let listed = api
                .get(&format!("/v1/delegations?grantor={g}"), &api.citizen(&g))
                .await
                .ok(200);
            assert_eq!(listed, json!({ "items": [created] }), "{g}");
        });
    }
    while let Some(client) = clients.join_next().await {
        client.unwrap();
    }
}

pub async fn bad_json_and_invalid_fiscal_codes_store_nothing(api: Api) {
    let t = api.citizen(&cf(60));
    let raw = |body: &'static str| body.as_bytes().to_vec();
    api.post_raw(
        "/v1/delegations",
        Some(&t),
        "application/json",
        raw("{not json"),
    )
    .await
    .refused(400, "invalid_request");
    api.post("/v1/delegations", &t, json!({}))
        .await
        .refused(400, "invalid_request");
    api.post("/v1/delegations", &t, json!({"delegate": 42}))
        .await
        .refused(400, "invalid_request");
    api.post(
        "/v1/delegations",
        &t,
        json!({"delegate": cf(61), "ends_on": "tomorrow"}),
    )
    .await
    .refused(400, "invalid_request");
    api.post(
        "/v1/delegations",
        &t,
        json!({"delegate": cf(61), "surprise": true}),
    )
    .await
    .refused(400, "invalid_request");
    api.post_raw(
        "/v1/delegations",
        Some(&t),
        "text/plain",
        raw(r#"{"delegate": "VRDLGU70A01H501O"}"#),
    )
    .await
    .refused(415, "unsupported_media_type");
    // Every body is an object: serde alone would take a struct from an array.
    for not_an_object in [r#"["VRDLGU70A01H501O", null, null]"#, "null", "42"] {
        api.post_raw(
            "/v1/delegations",
            Some(&t),
            "application/json",
            raw(not_an_object),
        )
        .await
        .refused(400, "invalid_request");
    }
    // I1: a wrong check character, a wrong length.
    let bad = api
        .post(
            "/v1/delegations",
            &t,
            json!({"delegate": "RSSMRA85T10A562X"}),
        )
        .await
        .refused(400, "invalid_fiscal_code");
    assert_eq!(bad["field"], "delegate");
    assert!(bad["detail"].as_str().unwrap().contains("check"), "{bad}");
    api.post("/v1/delegations", &t, json!({"delegate": "RSSMRA85"}))
        .await
        .refused(400, "invalid_fiscal_code");
    api.post(
        "/v1/counter/delegations",
        &api.operator(),
        json!({"grantor": "RSSMRA85T10A562X", "delegate": cf(61), "documents": []}),
    )
    .await
    .refused(400, "invalid_fiscal_code");
    api.post(
        "/v1/bookings",
        &t,
        json!({
            "counter": "deleghe-web-meeting", "start": crate::support::TUESDAY_9,
            "mode": "web_meeting", "reason": "Delega", "phone": "3331234567",
            "grantor": {"fiscal_code": "XXXXXX00X00X000X", "first_name": "A", "last_name": "B"}
        }),
    )
    .await
    .refused(400, "invalid_fiscal_code");
    // A JSON body over the limit.
    let huge = json!({"delegate": "x".repeat(deleghe_app::JSON_BODY_LIMIT + 1)});
    api.post("/v1/delegations", &t, huge)
        .await
        .refused(413, "payload_too_large");
    assert_eq!(api.events().await, 0, "nothing was stored");
}

pub async fn tokens_are_checked(api: Api) {
    let path = format!("/v1/delegations?grantor={}", cf(70));
    let claims = Claims {
        sub: cf(70),
        role: Role::Citizen,
        auth: Some(AuthMethod::Cie),
        office: None,
        iat: Some(Utc::now().timestamp()),
        nbf: None,
        exp: (Utc::now() + Duration::hours(1)).timestamp(),
        iss: None,
        aud: None,
        act_for: None,
    };
    let sign = |c: &Claims| api.state.keys().sign(c).unwrap();
    assert_eq!(api.get(&path, &sign(&claims)).await.status, 200);

    let missing = api
        .send(
            axum::http::Request::get(&path)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    missing.refused(401, "unauthorized");
    assert_eq!(missing.headers.get("www-authenticate").unwrap(), "Bearer");
    let basic = api
        .send(
            axum::http::Request::get(&path)
                .header("authorization", "Basic dXNlcjpwdw==")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    basic.refused(401, "unauthorized");
    api.get(&path, "not.a.jwt")
        .await
        .refused(401, "unauthorized");
    let foreign = deleghe_app::auth::JwtKeys::new(&deleghe_app::config::Secret::new(
        "some-other-key-some-other-key-0000",
    ))
    .sign(&claims)
    .unwrap();
    api.get(&path, &foreign).await.refused(401, "unauthorized");
    let expired = Claims {
        iat: Some((Utc::now() - Duration::hours(2)).timestamp()),
        exp: (Utc::now() - Duration::hours(1)).timestamp(),
        ..claims.clone()
    };
    api.get(&path, &sign(&expired))
        .await
        .refused(401, "unauthorized");
    let not_a_code = Claims {
        sub: "mario".into(),
        ..claims.clone()
    };
    api.get(&path, &sign(&not_a_code))
        .await
        .refused(401, "unauthorized");
    let no_auth = Claims {
        auth: None,
        ..claims.clone()
    };
    api.get(&path, &sign(&no_auth))
        .await
        .refused(401, "unauthorized");
    let operator_without_office = Claims {
        role: Role::Operator,
        auth: None,
        ..claims.clone()
    };
    api.get(&path, &sign(&operator_without_office))
        .await
        .refused(401, "unauthorized");
    // Authenticated, not allowed.
    api.post(
        "/v1/delegations",
        &api.operator(),
        json!({"delegate": cf(71)}),
    )
    .await
    .refused(403, "forbidden");
}

pub async fn d9_act_as_only_while_the_delegation_is_active_and_traced(api: Api) {
    let (g, d, x) = (cf(80), cf(81), cf(82));
    let created = api.delegate_online(&g, &d).await;
    let id = created["id"].as_str().unwrap().to_owned();

    api.post(
        "/v1/sessions/act-as",
        &api.citizen(&x),
        json!({"grantor": g}),
    )
    .await
    .refused(403, "no_active_delegation");
    api.post(
        "/v1/sessions/act-as",
        &api.operator(),
        json!({"grantor": g}),
    )
    .await
    .refused(403, "forbidden");
    api.post(
        "/v1/sessions/act-as",
        &api.citizen(&d),
        json!({"grantor": "bad"}),
    )
    .await
    .refused(400, "invalid_fiscal_code");

    let token = api
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
    let claims = api.state.keys().verify(&token).unwrap();
    assert_eq!(claims.sub, d);
    assert_eq!(claims.act_for.as_deref(), Some(g.as_str()));

    // Acting for the grantor: the grantor's records.
    let listed = api
        .get(&format!("/v1/delegations?grantor={g}"), &token)
        .await
        .ok(200);
    assert_eq!(listed["items"][0]["id"], id.as_str());
    let booking = api
        .post(
            "/v1/bookings",
            &token,
            json!({
                "counter": "pensioni-roma", "start": "2026-12-02T08:30:00+01:00",
                "mode": "in_person", "reason": "Pensione", "phone": "3331112222"
            }),
        )
        .await
        .ok(201);
    assert_eq!(booking["booker"], g.as_str());
    // No act-as within act-as, and no PIN for someone else (D12).
    api.post("/v1/sessions/act-as", &token, json!({"grantor": g}))
        .await
        .refused(403, "not_allowed_when_acting");
    api.post("/v1/me/pin", &token, json!({"validity": "1d"}))
        .await
        .refused(403, "not_allowed_when_acting");

    // D9: the audit trail says who acted for whom.
    let log = api.state.repository().read_events(0, 10_000).await.unwrap();
    let traced: Vec<_> = log
        .into_iter()
        .filter(|e| e.metadata.get("on_behalf_of") == Some(&g))
        .collect();
    assert!(!traced.is_empty());
    for e in &traced {
        assert_eq!(
            e.metadata.get("actor"),
            Some(&format!("citizen:{d}")),
            "{e:?}"
        );
    }
    assert!(traced.iter().any(|e| e.aggregate_id == g));
    // ...and the read side's audit trail shows it to the grantor and operators.
    let trail = api
        .get(&format!("/v1/audit?grantor={g}"), &api.citizen(&g))
        .await
        .ok(200)["items"]
        .clone();
    let actions: Vec<&str> = trail
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["actor"], format!("citizen:{d}"));
            assert_eq!(e["grantor"], g.as_str());
            e["action"].as_str().unwrap()
        })
        .collect();
    assert!(actions.contains(&"BookingRequested"), "{actions:?}");
    api.get(&format!("/v1/audit?grantor={g}"), &api.operator())
        .await
        .ok(200);
    api.get(&format!("/v1/audit?grantor={g}"), &api.citizen(&x))
        .await
        .refused(403, "forbidden");

    // Revoked at the counter: the act-as token stops working at once.
    api.post_empty(
        &format!("/v1/counter/delegations/{id}/revoke"),
        &api.operator(),
    )
    .await
    .ok(200);
    let refused = api
        .get(&format!("/v1/delegations?grantor={g}"), &token)
        .await
        .refused(403, "no_active_delegation");
    assert_eq!(refused["grantor"], g.as_str());
    api.post(
        "/v1/sessions/act-as",
        &api.citizen(&d),
        json!({"grantor": g}),
    )
    .await
    .refused(403, "no_active_delegation");
}

/// ADR 0014: a write answers with the log position it reached (header and
/// body alike); a read naming it sees the write, a read naming none answers
/// from the read models as they are, without bringing them up first (no
/// worker runs here, so they stay behind).
pub async fn reads_see_a_write_when_they_name_its_position(api: Api) {
    let (g, d) = (cf(640), cf(641));
    let doc = api.id_doc(&g).await;
    let created = api
        .post(
            "/v1/delegations",
            &api.citizen(&g),
            json!({"delegate": d, "identity_document": doc}),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.json());
    let position = created.position.expect("a write answers with its position");
    let head = api.state.repository().log_head().await.unwrap();
    assert_eq!(
        position, head,
        "the position is the log's head after the write"
    );
    assert!(position > 0);
    let created = created.json();

    let list = format!("/v1/delegations?grantor={g}");
    let read = |header: Option<String>, query: &str| {
        let mut request = Request::get(format!("{list}{query}"))
            .header("authorization", format!("Bearer {}", api.citizen(&g)));
        if let Some(at) = header {
            request = request.header("if-min-position", at);
        }
        api.send_as_is(request.body(Body::empty()).unwrap())
    };
    // Naming no position: the read models as the projector left them.
    let stale = read(None, "").await.ok(200);
    assert_eq!(stale, json!({"items": []}));
    // Naming it, in the header or the query: the write is there.
    let seen = read(Some(position.to_string()), "").await.ok(200);
    assert_eq!(seen, json!({"items": [created]}));
    let by_query = read(None, &format!("&min_position={position}"))
        .await
        .ok(200);
    assert_eq!(by_query, seen);

    // A position no write answered: 422; not a position at all: 400,
    // in the header or the query, even beside a valid one.
    let beyond = read(Some((head + 1000).to_string()), "").await;
    let problem = beyond.refused(422, "position_beyond_log");
    assert!(problem["detail"].as_str().unwrap().contains("beyond"));
    for bad in ["-1", "x", "1.5", ""] {
        read(Some(bad.to_owned()), "")
            .await
            .refused(400, "invalid_request");
    }
    read(None, "&min_position=later")
        .await
        .refused(400, "invalid_request");
    // The name is read as decoded, however it is spelt.
    read(None, "&min%5Fposition=later")
        .await
        .refused(400, "invalid_request");
    read(None, &format!("&min%5fposition={}", head + 1000))
        .await
        .refused(422, "position_beyond_log");
    read(Some("0".into()), "&min_position=9223372036854775808")
        .await
        .refused(400, "invalid_request");
    // Both given: the later is waited for.
    read(Some("0".into()), &format!("&min_position={}", head + 1000))
        .await
        .refused(422, "position_beyond_log");
}
