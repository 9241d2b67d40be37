//! Regression tests of the findings of a hostile probe of the running app:
//! token lifetimes and claims, operators' offices, the development clock,
//! the `token` subcommand, weak keys, and the development files.
//!
//! Tokens are signed here from raw JSON claims with the test key, so that
//! each test says exactly what goes over the wire.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use chrono::Utc;
use deleghe_app::state::TEST_SECRET;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{json, Value};

use crate::support::{cf, Api, Store};

const HOUR: i64 = 3600;

fn now() -> i64 {
    Utc::now().timestamp()
}

/// Signs `claims` as they are, with the key of the app under test.
fn sign(claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(TEST_SECRET.as_bytes()),
    )
    .unwrap()
}

/// A citizen's well-formed claims, valid for an hour from now.
fn citizen(n: usize) -> Value {
    json!({"sub": cf(n), "role": "citizen", "auth": "spid", "iat": now(), "exp": now() + HOUR})
}

fn with(mut claims: Value, changes: Value) -> Value {
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

/// What the app answers to `claims` on a citizen's own list.
async fn answer_to(api: &Api, claims: &Value) -> crate::support::Answer {
    let sub = claims["sub"].as_str().unwrap();
    api.get(&format!("/v1/delegations?grantor={sub}"), &sign(claims))
        .await
}

#[tokio::test]
async fn tokens_without_iat_are_refused() {
    let api = Api::on(Store::Memory, false).await;
    answer_to(&api, &citizen(1000)).await.ok(200);
    let no_iat = with(citizen(1000), json!({"iat": null}));
    let refused = answer_to(&api, &no_iat).await.refused(401, "unauthorized");
    assert!(
        refused["detail"].as_str().unwrap().contains("iat"),
        "{refused}"
    );
}

#[tokio::test]
async fn tokens_living_longer_than_the_maximum_are_refused() {
    let api = Api::on(Store::Memory, false).await;
    // Year 2286: the probe's token.
    let forever = with(citizen(1001), json!({"exp": 9_999_999_999_i64}));
    answer_to(&api, &forever).await.refused(401, "unauthorized");
    // The default maximum is 720 minutes, from iat to exp.
    let t = now();
    let just_over = with(citizen(1001), json!({"iat": t, "exp": t + 720 * 60 + 1}));
    let refused = answer_to(&api, &just_over)
        .await
        .refused(401, "unauthorized");
    assert!(
        refused["detail"].as_str().unwrap().contains("720"),
        "{refused}"
    );
    let at_most = with(citizen(1001), json!({"iat": t, "exp": t + 720 * 60}));
    answer_to(&api, &at_most).await.ok(200);
    // Backdating iat does not help: the lifetime is measured from it.
    let backdated = with(
        citizen(1001),
        json!({"iat": t - 30 * 24 * HOUR, "exp": t + HOUR}),
    );
    answer_to(&api, &backdated)
        .await
        .refused(401, "unauthorized");
}

#[tokio::test]
async fn tokens_issued_in_the_future_are_refused() {
    let api = Api::on(Store::Memory, false).await;
    // A short lifetime far ahead would otherwise stay valid until then.
    let ahead = with(
        citizen(1002),
        json!({"iat": now() + 2 * HOUR, "exp": now() + 3 * HOUR}),
    );
    answer_to(&api, &ahead).await.refused(401, "unauthorized");
}

#[tokio::test]
async fn tokens_not_yet_valid_are_refused() {
    let api = Api::on(Store::Memory, false).await;
    let later = with(citizen(1003), json!({"nbf": now() + 30 * 60}));
    let refused = answer_to(&api, &later).await.refused(401, "unauthorized");
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("not yet valid"),
        "{refused}"
    );
    let already = with(citizen(1003), json!({"nbf": now() - 60}));
    answer_to(&api, &already).await.ok(200);
}

#[tokio::test]
async fn act_as_tokens_carry_iat_and_never_outlive_their_parent() {
    let api = Api::on(Store::Memory, false).await;
    let (g, d) = (cf(1010), cf(1011));
    api.delegate_online(&g, &d).await;
    let parent_exp = now() + 10 * 60;
    let parent = with(citizen(1011), json!({"exp": parent_exp}));
    let token = api
        .post("/v1/sessions/act-as", &sign(&parent), json!({"grantor": g}))
        .await
        .ok(200)["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let claims = decode(&token, TEST_SECRET.as_bytes());
    assert_eq!(claims["act_for"], g.as_str());
    let iat = claims["iat"]
        .as_i64()
        .unwrap_or_else(|| panic!("an act-as token without iat: {claims}"));
    assert!((iat - now()).abs() < 60, "{claims}");
    assert!(claims["exp"].as_i64().unwrap() <= parent_exp, "{claims}");
    api.get(&format!("/v1/delegations?grantor={g}"), &token)
        .await
        .ok(200);
}

#[tokio::test]
async fn operators_of_an_office_not_configured_are_refused() {
    let api = Api::on(Store::Memory, false).await;
    let operator = |office: &str| {
        json!({"sub": cf(1020), "role": "operator", "office": office,
               "iat": now(), "exp": now() + HOUR})
    };
    let path = format!("/v1/delegations?grantor={}", cf(1021));
    api.get(&path, &sign(&operator("DCM NAPOLI"))).await.ok(200);
    api.get(&path, &sign(&operator("MILANO NORD")))
        .await
        .ok(200);
    for office in ["NOWHERE", "dcm napoli", "DCM NAPOLI "] {
        let refused = api
            .get(&path, &sign(&operator(office)))
            .await
            .refused(401, "unauthorized");
        assert!(
            refused["detail"].as_str().unwrap().contains("office"),
            "{office:?}: {refused}"
        );
    }
}

#[tokio::test]
async fn the_dev_clock_needs_an_operators_token() {
    let api = Api::on(Store::Memory, true).await;
    let put = |token: Option<&str>| {
        let mut b = Request::put("/dev/clock").header("content-type", "application/json");
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        b.body(Body::from(r#"{"now": "2030-01-01T00:00:00Z"}"#))
            .unwrap()
    };
    let before = api.state.now();
    // No token: 401, and the clock is untouched.
    let refused = api.send(put(None)).await;
    refused.refused(401, "unauthorized");
    assert_eq!(refused.headers.get("www-authenticate").unwrap(), "Bearer");
    for method in ["GET", "DELETE"] {
        api.send(
            Request::builder()
                .method(method)
                .uri("/dev/clock")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .refused(401, "unauthorized");
    }
    // A citizen: 403.
    let citizen = api.citizen(&cf(1030));
    api.send(put(Some(&citizen)))
        .await
        .refused(403, "forbidden");
    api.get("/dev/clock", &citizen)
        .await
        .refused(403, "forbidden");
    api.delete("/dev/clock", &citizen)
        .await
        .refused(403, "forbidden");
    assert_eq!(api.state.now(), before, "the clock did not move");
    // An operator: as before.
    let operator = api.operator();
    api.send(put(Some(&operator))).await.ok(204);
    assert_eq!(
        api.get("/dev/clock", &operator).await.ok(200),
        json!({"now": "2030-01-01T00:00:00Z"})
    );
    api.delete("/dev/clock", &operator).await.ok(204);
}

/// The claims of `token`, checking only its signature with `key`.
fn decode(token: &str, key: &[u8]) -> Value {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_aud = false;
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_secret(key), &validation)
        .unwrap_or_else(|e| panic!("not a token signed with the key: {e}"))
        .claims
}

// ------------------------------------------------------------ the binary

/// A fresh folder, removed at the end of the test.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!("deleghe-sec-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir(&path).unwrap();
        Self(path)
    }

    /// The per-user development folder `serve --dev` uses when this folder
    /// is `TMPDIR` and `XDG_RUNTIME_DIR` is unset.
    fn dev_dir(&self) -> PathBuf {
        let uid = std::fs::metadata(&self.0).unwrap().uid();
        self.0.join(format!("deleghe-dev-{uid}"))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A random key of 32 bytes, hex-encoded: what `openssl rand -hex 32` gives.
fn strong_key() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `deleghe ARGS` with nothing of the caller's environment that the app
/// reads, its temporary folder in `tmp`.
fn deleghe(tmp: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_deleghe"));
    c.args(args)
        .env("TMPDIR", tmp)
        .env("RUST_LOG", "warn")
        .env_remove("XDG_RUNTIME_DIR");
    for (name, _) in std::env::vars() {
        if name.starts_with("DELEGHE_") {
            c.env_remove(name);
        }
    }
    c
}

fn run(mut c: Command) -> (bool, String, String) {
    let out = c.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_token_command_caps_its_lifetime_and_sets_iat() {
    let tmp = TempDir::new();
    let key = strong_key();
    let mut long = deleghe(&tmp.0, &["token", &cf(1040), "--minutes", "100000000"]);
    long.env("DELEGHE_JWT_SECRET", &key);
    let (ok, token, err) = run(long);
    assert!(!ok, "a token of 190 years was minted: {token}");
    assert!(err.contains("--minutes") && err.contains("720"), "{err}");
    assert!(!err.contains(&key), "the key is not echoed: {err}");

    let mut capped = deleghe(&tmp.0, &["token", &cf(1040), "--minutes", "721"]);
    capped
        .env("DELEGHE_JWT_SECRET", &key)
        .env("DELEGHE_TOKEN_MAX_MINUTES", "720");
    assert!(!run(capped).0, "721 minutes is over the maximum");

    // Without --minutes: the maximum.
    let mut default = deleghe(&tmp.0, &["token", &cf(1040)]);
    default
        .env("DELEGHE_JWT_SECRET", &key)
        .env("DELEGHE_TOKEN_MAX_MINUTES", "60");
    let (ok, token, err) = run(default);
    assert!(ok, "{err}");
    let claims = decode(&token, key.as_bytes());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );

    let mut short = deleghe(&tmp.0, &["token", &cf(1040), "--minutes", "30"]);
    short.env("DELEGHE_JWT_SECRET", &key);
    let (ok, token, err) = run(short);
    assert!(ok, "{err}");
    let claims = decode(&token, key.as_bytes());
    let iat = claims["iat"]
        .as_i64()
        .unwrap_or_else(|| panic!("a token without iat: {claims}"));
    assert!((iat - now()).abs() < 60, "{claims}");
    assert_eq!(claims["exp"].as_i64().unwrap() - iat, 30 * 60, "{claims}");
}

#[test]
fn the_token_command_carries_the_configured_issuer_and_audience() {
    let tmp = TempDir::new();
    let key = strong_key();
    let mut c = deleghe(&tmp.0, &["token", &cf(1041)]);
    c.env("DELEGHE_JWT_SECRET", &key)
        .env("DELEGHE_TOKEN_ISSUER", "https://idp.example.invalid")
        .env("DELEGHE_TOKEN_AUDIENCE", "deleghe");
    let (ok, token, err) = run(c);
    assert!(ok, "{err}");
    let claims = decode(&token, key.as_bytes());
    assert_eq!(claims["iss"], "https://idp.example.invalid", "{claims}");
    assert_eq!(claims["aud"], "deleghe", "{claims}");
}

#[test]
fn the_token_command_refuses_an_office_not_configured() {
    let tmp = TempDir::new();
    let key = strong_key();
    let operator = |office: &str| {
        let mut c = deleghe(
            &tmp.0,
            &["token", &cf(1043), "--role", "operator", "--office", office],
        );
        c.env("DELEGHE_JWT_SECRET", &key);
        run(c)
    };
    let (ok, _, err) = operator("NOWHERE");
    assert!(
        !ok && err.contains("NOWHERE") && err.contains("DCM NAPOLI"),
        "{err}"
    );
    let (ok, _, err) = operator("ROMA EUR");
    assert!(ok, "{err}");
}

#[test]
fn the_token_command_refuses_weak_keys() {
    let tmp = TempDir::new();
    for weak in [
        "a".repeat(32),
        // 32 hex digits: 16 bytes of key.
        strong_key()[..32].to_owned(),
        TEST_SECRET.to_owned(),
        "0123456789abcdef0123456789abcdef".to_owned(),
    ] {
        let mut c = deleghe(&tmp.0, &["token", &cf(1042)]);
        c.env("DELEGHE_JWT_SECRET", &weak);
        let (ok, token, err) = run(c);
        assert!(!ok, "a token was signed with a weak key: {token}");
        assert!(err.contains("DELEGHE_JWT_SECRET"), "{err}");
        assert!(!err.contains(&weak), "the key is not echoed: {err}");
    }
}

/// The mode bits of `path` (not following a link), in octal.
fn mode(path: &Path) -> String {
    let meta =
        std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    format!("{:o}", meta.permissions().mode() & 0o7777)
}

/// Starts `serve --dev` on a free loopback port and an in-memory store.
fn serve_dev(tmp: &TempDir) -> std::process::Child {
    let log = std::fs::File::create(tmp.0.join("serve.log")).unwrap();
    deleghe(
        &tmp.0,
        &[
            "serve",
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            "memory:",
        ],
    )
    .env("RUST_LOG", "info")
    .stdout(Stdio::null())
    .stderr(log)
    .spawn()
    .unwrap()
}

fn log_of(tmp: &TempDir) -> String {
    std::fs::read_to_string(tmp.0.join("serve.log")).unwrap_or_default()
}

/// Waits until `ready` holds or the server exits (at most 20 s).
fn wait_for(child: &mut std::process::Child, ready: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if ready() {
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return ready();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn stop(mut child: std::process::Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn serve_dev_keeps_private_files_in_a_per_user_folder_and_reuses_its_key() {
    let tmp = TempDir::new();
    let dir = tmp.dev_dir();
    let key_file = dir.join("jwt-secret");
    let sms_file = dir.join("sms.jsonl");
    let mut server = serve_dev(&tmp);
    let started = wait_for(&mut server, || sms_file.exists() && key_file.exists());
    stop(server);
    assert!(
        started,
        "no key and SMS file in {}: {}",
        dir.display(),
        log_of(&tmp)
    );
    assert!(
        !tmp.0.join("deleghe-dev").exists(),
        "the shared folder is not used"
    );
    assert_eq!(mode(&dir), "700", "the folder");
    assert_eq!(mode(&key_file), "600", "the key file");
    assert_eq!(mode(&sms_file), "600", "the SMS file");
    let key = std::fs::read_to_string(&key_file).unwrap();

    // A restart reuses the key: tokens minted before it still work.
    let mut again = serve_dev(&tmp);
    let listening = wait_for(&mut again, || log_of(&tmp).contains("listening on"));
    stop(again);
    assert!(listening, "{}", log_of(&tmp));
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), key);
    // ...and the token subcommand signs with it.
    let (ok, token, err) = run(deleghe(&tmp.0, &["token", &cf(1050)]));
    assert!(ok, "{err}");
    decode(&token, key.trim().as_bytes());
}

#[test]
fn serve_dev_refuses_a_development_folder_others_could_tamper_with() {
    let elsewhere = TempDir::new();
    type Prepare<'a> = &'a dyn Fn(&Path);
    let cases: [(&str, Prepare); 3] = [
        ("symbolic link", &|dir: &Path| {
            std::os::unix::fs::symlink(&elsewhere.0, dir).unwrap()
        }),
        ("group or others", &|dir: &Path| {
            std::fs::create_dir(dir).unwrap();
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        }),
        ("not a directory", &|dir: &Path| {
            std::fs::write(dir, b"").unwrap()
        }),
    ];
    for (what, prepare) in cases {
        let tmp = TempDir::new();
        let dir = tmp.dev_dir();
        prepare(&dir);
        let mut server = serve_dev(&tmp);
        let _ = wait_for(&mut server, || false);
        let status = server.try_wait().unwrap();
        stop(server);
        assert!(
            matches!(status, Some(s) if !s.success()),
            "serve --dev started on a development folder that is a {what}: {}",
            log_of(&tmp)
        );
        let log = log_of(&tmp);
        assert!(
            log.contains(what) && log.contains(&dir.display().to_string()),
            "{what}: {log}"
        );
    }
    assert!(
        std::fs::read_dir(&elsewhere.0).unwrap().next().is_none(),
        "nothing was written through the link"
    );
}

#[test]
fn logs_are_json_lines_when_asked_and_a_bad_format_stops_the_start() {
    let tmp = TempDir::new();
    let url = format!("sqlite://{}", tmp.0.join("log.sqlite").display());
    let mut json = deleghe(&tmp.0, &["migrate", "--database-url", &url]);
    json.env("DELEGHE_LOG_FORMAT", "json")
        .env("RUST_LOG", "info");
    let (ok, _, err) = run(json);
    assert!(ok, "{err}");
    let line = err
        .lines()
        .find(|l| l.contains("schema up to date"))
        .unwrap_or_else(|| panic!("no log line in {err}"));
    let record: serde_json::Value = serde_json::from_str(line).expect("one JSON object a line");
    assert_eq!(record["level"], "INFO");
    assert_eq!(record["fields"]["message"], "schema up to date");
    assert_eq!(record["fields"]["store"], "sqlite");

    let mut xml = deleghe(&tmp.0, &["migrate", "--database-url", &url]);
    xml.env("DELEGHE_LOG_FORMAT", "xml");
    let (ok, _, err) = run(xml);
    assert!(!ok, "started with an unknown log format");
    assert!(
        err.contains("DELEGHE_LOG_FORMAT") && err.contains("json"),
        "{err}"
    );
}
