//! Health, the OpenAPI document, the development clock, unknown paths.

use axum::body::Body;
use axum::http::Request;
use chrono::{TimeZone, Utc};
use serde_json::json;

use crate::support::{cf, Api, Store};

/// The policy in force, by the names of the rule book, for anyone signed in.
pub async fn the_policy_in_force(api: Api) {
    api.get("/v1/policy", "not-a-token")
        .await
        .refused(401, "unauthorized");
    let policy = api.get("/v1/policy", &api.citizen(&cf(40))).await.ok(200);
    assert_eq!(policy["max_ordinary_delegations_per_delegate"], 3);
    assert_eq!(policy["min_days_before_online_revocation"], 30);
    assert_eq!(policy["max_active_bookings"], 3);
    assert_eq!(policy["meetings_recorded"], true);
    assert_eq!(policy["max_access_code_attempts"], 10);
    let as_operator = api.get("/v1/policy", &api.operator()).await.ok(200);
    assert_eq!(as_operator, policy);
    assert_eq!(
        serde_json::from_value::<deleghe_domain::Policy>(policy).unwrap(),
        *api.state.policy()
    );
}

pub async fn health_and_openapi(api: Api) {
    let health = api
        .send(Request::get("/health").body(Body::empty()).unwrap())
        .await;
    assert_eq!(health.ok(200), json!({"status": "ok"}));
    for path in ["/health/live", "/health/ready"] {
        let answer = api
            .send(Request::get(path).body(Body::empty()).unwrap())
            .await;
        assert_eq!(answer.ok(200), json!({"status": "ok"}), "{path}");
    }
    // Readiness follows the workers: one that has ended is named.
    let workers = deleghe_adapters::system::WorkerHealth::default();
    workers.watch("booking timer", async {}).await;
    api.state.watch_workers(workers);
    let not_ready = api
        .send(Request::get("/health/ready").body(Body::empty()).unwrap())
        .await
        .refused(503, "not_ready");
    assert_eq!(not_ready["stopped"], json!(["booking timer"]));
    let live = api
        .send(Request::get("/health/live").body(Body::empty()).unwrap())
        .await;
    assert_eq!(live.status, 200, "alive all the same");
    let doc = api
        .send(Request::get("/openapi.json").body(Body::empty()).unwrap())
        .await
        .ok(200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/health", "get"),
        ("/health/live", "get"),
        ("/health/ready", "get"),
        ("/metrics", "get"),
        ("/v1/policy", "get"),
        ("/v1/delegations", "post"),
        ("/v1/delegations", "get"),
        ("/v1/delegations/{id}", "get"),
        ("/v1/delegations/{id}/revoke", "post"),
        ("/v1/counter/delegations", "post"),
        ("/v1/counter/delegations/{id}/confirm", "post"),
        ("/v1/counter/delegations/{id}/reject", "post"),
        ("/v1/counter/delegations/{id}/revoke", "post"),
        ("/v1/sessions/act-as", "post"),
        ("/v1/audit", "get"),
        ("/v1/counters", "get"),
        ("/v1/counters/{id}/slots", "get"),
        ("/v1/bookings", "post"),
        ("/v1/bookings", "get"),
        ("/v1/bookings/{id}", "delete"),
        ("/v1/bookings/{id}/ticket", "get"),
        ("/v1/bookings/{id}/meeting", "get"),
        ("/v1/bookings/{id}/meeting/join", "post"),
        ("/v1/bookings/{id}/meeting/take-in-charge", "post"),
        ("/v1/bookings/{id}/meeting/consent", "post"),
        ("/v1/bookings/{id}/meeting/attendance", "post"),
        ("/v1/bookings/{id}/meeting/documents", "post"),
        ("/v1/bookings/{id}/meeting/complete", "post"),
        ("/v1/bookings/{id}/meeting/abandon", "post"),
        ("/v1/me/notices", "get"),
        ("/v1/me/notices/{id}/unread", "post"),
        ("/v1/me/notices/{id}", "delete"),
        ("/v1/me/pin", "post"),
        ("/v1/pin/verify", "post"),
        ("/dev/clock", "put"),
        ("/dev/clock", "delete"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not in the OpenAPI document"
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert!(doc["components"]["schemas"]["DelegationDto"].is_object());
}

pub async fn unknown_paths_and_methods_answer_problems(api: Api) {
    let t = api.citizen(&cf(400));
    api.get("/v2/nothing", &t).await.refused(404, "not_found");
    let answer = api
        .send(
            Request::put("/v1/delegations")
                .header("authorization", format!("Bearer {t}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    answer.refused(405, "method_not_allowed");
    // RFC 9110: a 405 names the methods the resource answers, and does so
    // before anything looks at the caller (no token here).
    let allowed = |answer: &crate::support::Answer| {
        let mut methods: Vec<String> = answer
            .headers
            .get("allow")
            .expect("a 405 has Allow")
            .to_str()
            .unwrap()
            .split(',')
            .map(|m| m.trim().to_owned())
            .collect();
        methods.sort();
        methods
    };
    assert_eq!(allowed(&answer), ["GET", "HEAD", "POST"]);
    for (method, path, allow) in [
        ("DELETE", "/v1/delegations/d-1", &["GET", "HEAD"][..]),
        ("PATCH", "/v1/bookings/b-1", &["DELETE", "GET", "HEAD"][..]),
        ("GET", "/v1/me/pin", &["POST"][..]),
        ("PUT", "/health", &["GET", "HEAD"][..]),
    ] {
        let answer = api
            .send(
                Request::builder()
                    .method(method)
                    .uri(path)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        answer.refused(405, "method_not_allowed");
        assert_eq!(allowed(&answer), allow, "{method} {path}");
    }
    // Every answer carries a request id: the server's, even when the
    // client sent one (kept beside it in the logs only).
    let given = api
        .send(
            Request::get("/health")
                .header("x-request-id", "req-123")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let id = given.headers.get("x-request-id").unwrap().to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    let weird = api
        .send(
            Request::get("/health")
                .header("x-request-id", "a b\tc")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let id = weird.headers.get("x-request-id").unwrap().to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
}

/// The development clock is off by default: every /dev/* path is 404.
pub async fn dev_clock_is_off_by_default(api: Api) {
    assert!(!api.state.dev_clock_enabled());
    let put = api
        .send(
            Request::put("/dev/clock")
                .header("content-type", "application/json")
                .body(Body::from(r#"{"now": "2026-12-01T08:00:00Z"}"#))
                .unwrap(),
        )
        .await;
    put.refused(404, "not_found");
    for path in ["/dev/clock", "/dev/anything"] {
        api.send(Request::get(path).body(Body::empty()).unwrap())
            .await
            .refused(404, "not_found");
        api.send(Request::delete(path).body(Body::empty()).unwrap())
            .await
            .refused(404, "not_found");
    }
}

/// Enabled, the development clock answers operators (security_tokens.rs
/// checks that it answers nobody else).
pub async fn dev_clock_when_enabled(store: Store) {
    let api = Api::on(store, true).await;
    let op = api.operator();
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap();
    let put = |body: &'static str| {
        Request::put("/dev/clock")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {op}"))
            .body(Body::from(body))
            .unwrap()
    };
    api.send(put(r#"{"now": "2026-12-01T08:00:00Z"}"#))
        .await
        .ok(204);
    assert_eq!(api.state.now(), at);
    let read = api.get("/dev/clock", &op).await.ok(200);
    assert_eq!(read, json!({"now": "2026-12-01T08:00:00Z"}));
    api.send(put(r#"{"now": "soon"}"#))
        .await
        .refused(400, "invalid_request");
    // The clock does not advance by itself, and commands read it.
    let d = api.delegate_online(&cf(410), &cf(411)).await;
    assert_eq!(d["registered_at"], "2026-12-01T08:00:00Z");
    api.delete("/dev/clock", &op).await.ok(204);
    assert!((api.state.now() - Utc::now()).num_seconds().abs() < 5);
}

pub async fn metrics_count_requests_and_commands(api: Api) {
    let (grantor, delegate) = (crate::support::cf(990), crate::support::cf(991));
    api.delegate_online(&grantor, &delegate).await;
    api.get("/v1/delegations/no-such", &api.citizen(&grantor))
        .await
        .refused(404, "not_found");
    let answer = api
        .send(Request::get("/metrics").body(Body::empty()).unwrap())
        .await;
    assert_eq!(answer.status, 200);
    assert!(answer
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = String::from_utf8(answer.body).unwrap();
    let has = |prefix: &str, labels: &[&str]| {
        text.lines().any(|line| {
            line.starts_with(prefix) && labels.iter().all(|l| line.contains(l)) && {
                let value: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
                value > 0.0
            }
        })
    };
    // Requests by the route's template, never the id in the path.
    assert!(
        has(
            "deleghe_http_requests_total{",
            &[
                r#"route="/v1/delegations/{id}""#,
                r#"status="404""#,
                r#"method="GET""#
            ]
        ),
        "{text}"
    );
    assert!(!text.contains("no-such"), "an id in a label");
    assert!(
        has(
            "deleghe_commands_total{",
            &[r#"command="delegation.request""#, r#"outcome="ok""#]
        ),
        "{text}"
    );
    assert!(
        has(
            "deleghe_command_duration_seconds_count{",
            &[r#"command="delegation.request""#]
        ) || has(
            "deleghe_command_duration_seconds{",
            &[r#"command="delegation.request""#]
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"deleghe_checkpoint_position{worker="projector"}"#),
        "{text}"
    );
    // No fiscal code reaches a label.
    assert!(!text.contains(&grantor) && !text.contains(&delegate));
}

/// Every metric docs/OPERATIONS.md lists is answered, with a number.
pub async fn metrics_answer_what_operations_lists(api: Api) {
    let (grantor, delegate) = (crate::support::cf(980), crate::support::cf(981));
    api.delegate_online(&grantor, &delegate).await;
    // A booking's confirmation SMS (N1) goes out: the attempt is counted.
    api.book_meeting(&delegate, &grantor).await;
    assert!(!api.sent_sms().await.is_empty());
    let answer = api
        .send(Request::get("/metrics").body(Body::empty()).unwrap())
        .await;
    assert_eq!(answer.status, 200);
    let text = String::from_utf8(answer.body).unwrap();
    let docs = include_str!("../../../../docs/OPERATIONS.md");
    let listed: Vec<&str> = docs
        .lines()
        .filter_map(|line| line.strip_prefix("| `deleghe_"))
        .filter_map(|rest| rest.split('`').next())
        .collect();
    assert!(listed.len() >= 13, "{listed:?}");
    for name in listed {
        let name = format!("deleghe_{name}");
        let line = text
            .lines()
            .find(|line| {
                line.strip_prefix(name.as_str())
                    .is_some_and(|rest| rest.starts_with(['{', ' ', '_']))
            })
            .unwrap_or_else(|| panic!("{name} is not answered:\n{text}"));
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "{line}");
    }
    assert!(
        text.contains(r#"deleghe_outbox_attempts_total{channel="sms",outcome="sent"}"#),
        "{text}"
    );
    assert!(
        text.contains(r#"deleghe_flows_pending{flow="delegation"}"#),
        "{text}"
    );
}

pub async fn openapi_declares_every_status_the_error_funnel_gives(api: Api) {
    let doc = api
        .send(Request::get("/openapi.json").body(Body::empty()).unwrap())
        .await
        .ok(200);
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            let declares = |status: &str| responses.contains_key(status);
            let what = format!("{method} {path}");
            let secured = operation["security"]
                .as_array()
                .is_some_and(|s| !s.is_empty());
            if secured {
                assert!(declares("401") && declares("403"), "{what}: 401/403");
            }
            if path.contains('{') {
                assert!(declares("404"), "{what}: 404");
            }
            if let Some(body) = operation.get("requestBody") {
                assert!(declares("400") && declares("413"), "{what}: 400/413");
                // A JSON body sent as anything else is 415 (extract.rs).
                if body["content"].get("application/json").is_some() {
                    assert!(declares("415"), "{what}: 415");
                }
            }
            // A command may lose to a concurrent one every time (409).
            // Act-as mints a token; the notices' writes change a read model.
            let command = method != "get"
                && path.starts_with("/v1/")
                && path != "/v1/sessions/act-as"
                && !path.starts_with("/v1/me/notices/");
            assert_eq!(declares("409"), command, "{what}: 409");
            // Any request target over the limit (lib.rs, URI_LIMIT).
            assert!(declares("414"), "{what}: 414");
            if path != "/health/live" && path != "/openapi.json" {
                assert!(declares("503") && declares("408"), "{what}: 503/408");
            }
            // Every error answer is a problem.
            for (status, answer) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    assert!(
                        answer["content"].get("application/problem+json").is_some(),
                        "{what}: {status} is not a problem"
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 40, "{checked} operations");
}

/// One request of the test below: what it is, its token, its body's
/// content type and text.
type Try<'a> = (
    &'static str,
    Option<&'a str>,
    Option<(&'static str, &'static str)>,
);

/// What the document declares is what the app answers, found by asking:
/// every operation, sent without a token, with a body of the wrong type,
/// with a body that is not an object and with an unknown method, answers a
/// status the operation (or, for the method, the document's description)
/// declares, and every error is a problem.
pub async fn every_operation_declares_what_it_answers_to_bad_requests(api: Api) {
    let doc = api
        .send(Request::get("/openapi.json").body(Body::empty()).unwrap())
        .await
        .ok(200);
    let citizen = api.citizen(&cf(450));
    let operator = api.operator();
    let mut asked = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        // Any id: a path of the right shape, whether or not it exists.
        let path = template
            .split('/')
            .map(|part| if part.starts_with('{') { "x-1" } else { part })
            .collect::<Vec<_>>()
            .join("/");
        for (method, operation) in item.as_object().unwrap() {
            let declared = |status: u16| operation["responses"].get(status.to_string()).is_some();
            let what = format!("{method} {template}");
            let json_body = operation["requestBody"]["content"]
                .get("application/json")
                .is_some();
            let mut tries: Vec<Try<'_>> = vec![("no token", None, None)];
            for token in [&citizen, &operator] {
                tries.push(("signed in", Some(token.as_str()), None));
                if json_body {
                    tries.push((
                        "text body",
                        Some(token.as_str()),
                        Some(("text/plain", "{}")),
                    ));
                    tries.push((
                        "array body",
                        Some(token.as_str()),
                        Some(("application/json", "[]")),
                    ));
                }
            }
            for (how, token, body) in tries {
                let mut request = Request::builder()
                    .method(method.to_uppercase().as_str())
                    .uri(&path);
                if let Some(token) = token {
                    request = request.header("authorization", format!("Bearer {token}"));
                }
                let request = match body {
                    Some((kind, text)) => request
                        .header("content-type", kind)
                        .body(Body::from(text))
                        .unwrap(),
                    None => request.body(Body::empty()).unwrap(),
                };
                let answer = api.send(request).await;
                let status = answer.status.as_u16();
                assert!(declared(status), "{what}, {how}: {status} is not declared");
                if status >= 400 {
                    answer.code();
                }
                asked += 1;
            }
        }
    }
    assert!(asked > 150, "{asked} requests");
    // A method no operation of a known path has: 405, with Allow.
    for (template, item) in doc["paths"].as_object().unwrap() {
        // Off, the development clock's paths are not known: 404.
        let unknown = template.starts_with("/dev/") && !api.state.dev_clock_enabled();
        if template.contains('{') || item.get("patch").is_some() || unknown {
            continue;
        }
        let answer = api
            .send(
                Request::builder()
                    .method("PATCH")
                    .uri(template)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        answer.refused(405, "method_not_allowed");
        assert!(answer.headers.contains_key("allow"), "PATCH {template}");
    }
    let description = doc["info"]["description"].as_str().unwrap();
    assert!(description.contains("405"), "{description}");
}

/// The document states the constraints the app enforces on requests: the
/// fiscal code's grammar (I1), enums, formats, sizes, required fields, and
/// no unknown fields in a JSON body.
pub async fn openapi_states_the_constraints_of_requests(api: Api) {
    let doc = api
        .send(Request::get("/openapi.json").body(Body::empty()).unwrap())
        .await
        .ok(200);
    let schemas = &doc["components"]["schemas"];
    let fiscal_code = &schemas["FiscalCode"];
    assert_eq!(fiscal_code["format"], "fiscal-code");
    assert_eq!(fiscal_code["minLength"], 16);
    assert_eq!(fiscal_code["maxLength"], 16);
    let pattern = fiscal_code["pattern"].as_str().unwrap();
    assert_eq!(pattern, deleghe_app::openapi::FISCAL_CODE_PATTERN);
    // Every request schema naming a fiscal code points at it.
    for (schema, field) in [
        ("NewDelegation", "delegate"),
        ("CounterDelegation", "grantor"),
        ("CounterDelegation", "delegate"),
        ("ActAs", "grantor"),
        ("GrantorDto", "fiscal_code"),
        ("CounterBooking", "citizen"),
        ("PinCheckRequest", "fiscal_code"),
    ] {
        assert_eq!(
            schemas[schema]["properties"][field]["$ref"], "#/components/schemas/FiscalCode",
            "{schema}.{field}"
        );
    }
    // Each JSON request body refuses unknown fields, as the app does.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(schema) =
                operation["requestBody"]["content"]["application/json"]["schema"].get("$ref")
            else {
                continue;
            };
            let name = schema.as_str().unwrap().rsplit('/').next().unwrap();
            assert_eq!(
                schemas[name]["additionalProperties"], false,
                "{method} {path}: {name}"
            );
        }
    }
    assert_eq!(
        schemas["NewBooking"]["properties"]["start"]["format"],
        "date-time"
    );
    assert_eq!(
        schemas["NewBooking"]["properties"]["reason"]["maxLength"],
        500
    );
    assert_eq!(
        schemas["NewBooking"]["properties"]["phone"]["$ref"],
        "#/components/schemas/Phone"
    );
    let required = schemas["NewBooking"]["required"].as_array().unwrap();
    for field in ["counter", "start", "mode", "reason", "phone"] {
        assert!(required.contains(&json!(field)), "{field}");
    }
    assert_eq!(schemas["Sha256"]["pattern"], "^[0-9a-f]{64}$");
    // Path ids: the alphabet of DelegationId and BookingId.
    for path in ["/v1/delegations/{id}", "/v1/bookings/{id}"] {
        let id = &doc["paths"][path]["get"]["parameters"][0];
        assert_eq!(id["name"], "id");
        assert_eq!(
            id["schema"]["pattern"],
            deleghe_app::openapi::ID_PATTERN,
            "{path}"
        );
    }
    assert_eq!(
        schemas["PinValidityDto"]["enum"],
        json!(["1d", "1w", "1m", "3m"])
    );
    assert_eq!(
        schemas["EvidenceKind"]["enum"],
        json!(["aa08", "identity_document", "aa09", "aa10", "pec"])
    );
    assert_eq!(
        schemas["ModeDto"]["enum"],
        json!(["in_person", "phone_callback", "web_meeting"])
    );
    // And the answers' closed sets, as docs/APP.md lists them.
    assert_eq!(
        schemas["DelegationDto"]["properties"]["status"]["$ref"],
        "#/components/schemas/DelegationStatusDto"
    );
    assert_eq!(
        schemas["DelegationStatusDto"]["enum"],
        json!([
            "awaiting_confirmation",
            "active",
            "revoked",
            "expired",
            "rejected"
        ])
    );
    assert_eq!(
        schemas["BookingStatusDto"]["enum"],
        json!(["confirmed", "cancelled", "served", "missed"])
    );
    assert_eq!(
        schemas["MeetingStateDto"]["enum"],
        json!([
            "scheduled",
            "waiting_room",
            "in_call",
            "registering",
            "ended"
        ])
    );
}

/// The fiscal code's pattern and the parser agree (I1): valid codes, in
/// either case and with omocodia letters, match; codes the parser refuses
/// for their layout, month or day do not.
pub fn the_fiscal_code_pattern_is_the_parsers_grammar() {
    let regex = regex::Regex::new(deleghe_app::openapi::FISCAL_CODE_PATTERN).unwrap();
    let matches = |code: &str| regex.is_match(code);
    for ok in [
        "RSSMRA85T10A562S",
        "rssmra85t10a562s",
        "VRDLGU70A01H501O",
        "BNCGNN80A41F205A",
        // Every digit an omocodia letter.
        "RSSMRAURTMLARNNS",
    ] {
        let body = &ok.to_ascii_uppercase()[..15];
        let check = deleghe_domain::FiscalCode::check_character(body).unwrap();
        let code = format!("{}{check}", &ok[..15]);
        assert!(deleghe_domain::FiscalCode::parse(&code).is_ok(), "{code}");
        assert!(matches(&code), "{code}");
    }
    for bad in [
        "RSSMRA85T10A562",       // 15 characters
        "RSSMRA85T10A562SX",     // 17
        "RSSMRA8AT10A562S",      // a letter where a digit belongs, not omocodia
        "RSSMRA85F10A562S",      // F is no month
        "RSSMRA85T32A562S",      // day 32
        "RSSMRA85T00A562S",      // day 0
        "RSSMRA85T72A562S",      // day 72
        "RSSMRA85T10A56 S",      // a space
        "RSSMRA85T10A562\u{e9}", // not ASCII
    ] {
        assert!(deleghe_domain::FiscalCode::parse(bad).is_err(), "{bad}");
        assert!(!matches(bad), "{bad}");
    }
}
