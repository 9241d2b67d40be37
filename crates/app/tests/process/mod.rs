//! What the tests that run the real `deleghe serve` binary share
//! (`sigterm.rs`, `postgres_faults.rs`, `three_instances.rs`): the citizens
//! they name, their tokens, and a free port.

use chrono::Utc;
use deleghe_app::auth::{AuthMethod, JwtKeys, Role, TokenRequest};
use deleghe_domain::FiscalCode;

/// `n`-th distinct valid fiscal code (as the API tests make them).
pub fn cf(n: usize) -> String {
    let months = b"ABCDEHLMPRST";
    let body = format!(
        "RSSMRA{:02}{}{:02}H501",
        50 + (n / 336) % 50,
        months[(n / 28) % 12] as char,
        1 + n % 28
    );
    let check = FiscalCode::check_character(&body).expect("valid body");
    format!("{body}{check}")
}

/// A port of 127.0.0.1 free when asked.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A citizen's token for the `n`-th fiscal code, signed with `keys`.
pub fn citizen_token(keys: &JwtKeys, n: usize) -> String {
    keys.issue(&TokenRequest {
        sub: FiscalCode::parse(&cf(n)).unwrap(),
        role: Role::Citizen,
        auth: Some(AuthMethod::Spid),
        office: None,
        act_for: None,
        issued_at: Utc::now(),
        expires_at: Utc::now() + chrono::Duration::minutes(30),
    })
    .unwrap()
}
