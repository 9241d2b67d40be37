//! The one place where errors become HTTP answers (docs/CONVENTIONS.md, habit 8): every 4xx/5xx
//! body is `application/problem+json` with a stable `code` (docs/APP.md,
//! "Requests and errors"), plus the fields the refusing rule carries (`cap`,
//! `revocable_online_from`, `opens_at`...). Nothing else in the app knows a
//! status code of an error.
//!
//! Faults of the store or of the app answer 5xx with a generic `detail`: the
//! cause is logged, never sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use deleghe_adapters::{ServiceError, Unsettled};
use deleghe_domain::booking::{BookingError, PhoneError};
use deleghe_domain::delegation::DelegationError;
use deleghe_domain::document::DocumentError;
use deleghe_domain::flows::Refusal;
use deleghe_domain::meeting::MeetingError;
use deleghe_domain::time::ROME;
use deleghe_domain::FiscalCodeError;
use serde_json::{json, Map, Value};

/// The `Retry-After` of a 503 answer, in seconds.
const RETRY_AFTER_SECONDS: &str = "1";

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Malformed JSON, a missing or mistyped field, a bad query (400 `invalid_request`).
    #[error("{0}")]
    InvalidRequest(String),
    /// I1 (400 `invalid_fiscal_code`).
    #[error("invalid fiscal code {field}: {error}")]
    InvalidFiscalCode {
        field: &'static str,
        error: FiscalCodeError,
    },
    /// N7, B5: not an Italian mobile number (400 `invalid_phone`).
    #[error("{field}: {error}")]
    InvalidPhone {
        field: &'static str,
        error: PhoneError,
    },
    /// D11: a document's digest that is not 64 lowercase hex digits (400
    /// `invalid_request`, with `field`).
    #[error("{field}: {error}")]
    InvalidDigest {
        field: String,
        error: deleghe_domain::document::DocumentDigestError,
    },
    /// D11: a well-formed digest naming no stored document the caller
    /// uploaded (422 `unknown_document`, with `field` and `sha256`).
    #[error("{field}: no document {sha256} uploaded by you is stored (D11)")]
    UnknownDocument { field: String, sha256: String },
    /// No valid bearer token (401).
    #[error("{0}")]
    Unauthorized(&'static str),
    /// A token living longer than the maximum from `iat` to `exp` (401
    /// `unauthorized`, with `max_minutes`).
    #[error("the token lives longer than the {max_minutes} minutes allowed from iat to exp")]
    TokenTooLong { max_minutes: i64 },
    /// Signed in, not allowed (403 `forbidden`).
    #[error("{0}")]
    Forbidden(&'static str),
    /// D9: an act-as token whose delegation is not active (403).
    #[error("you may act for {0} only while their delegation to you is active (D9)")]
    NoActiveDelegation(String),
    /// D12: a call for the citizen in person, made with an act-as token
    /// (403 `not_allowed_when_acting`).
    #[error("this is for the citizen in person: a delegate acting for them cannot do it (D12)")]
    OwnCitizenOnly,
    /// An unknown id, or one the caller may not see (404 `not_found`).
    #[error("{0}")]
    NotFound(String),
    /// A JSON body sent without `Content-Type: application/json` (415
    /// `unsupported_media_type`).
    #[error("{0}")]
    UnsupportedMediaType(&'static str),
    /// B3: a range of dates a listing does not cover: reversed, or longer
    /// than allowed (422 `invalid_range`, with `max`, the most days).
    #[error("{detail}")]
    InvalidRange { detail: String, max: i64 },
    /// `GET /v1/delegations` by an operator who names neither the grantor
    /// nor the delegate (422 `citizen_required`).
    #[error("an operator lists the delegations of a citizen: give grantor, delegate or both")]
    CitizenRequired,
    /// A body over the size limit (413; `document_too_large` for an upload).
    #[error("the request body is larger than the {limit} bytes allowed here")]
    PayloadTooLarge { limit: usize, document: bool },
    /// A request target (path and query) longer than the app reads (414
    /// `uri_too_long`, with `max`, the most bytes).
    #[error("the request's path and query are longer than the {max} bytes allowed")]
    UriTooLong { max: usize },
    /// M6: a document refused by size or content (413 / 415).
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// M7: the meeting ended, but a rule (D1–D3) refused its registration;
    /// `code` is that rule's.
    #[error("the meeting ended without registering the delegation: {}", registration_refusal(.code))]
    RegistrationRefused { code: String },
    /// A flow step a rule refused, known by its code only (the flow was
    /// finished by the runner, not by this request).
    #[error("refused by a rule: {}", registration_refusal(.code))]
    Refused { code: String },
    /// A rule refused the command, or the store failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The request's head, body or whole took longer than allowed (408).
    #[error("the request took too long to arrive or to answer; send it again")]
    RequestTimeout,
    /// `GET /health/ready`: a background worker has stopped (503
    /// `not_ready`, with `stopped`: their names).
    #[error("not ready: stopped workers: {}", .0.join(", "))]
    NotReady(Vec<&'static str>),
    /// A fault of the app itself (500; the message is logged, not sent).
    #[error("{0}")]
    Internal(String),
}

impl From<Refusal> for AppError {
    fn from(refusal: Refusal) -> Self {
        Self::Service(ServiceError::Rule(refusal))
    }
}

impl From<DelegationError> for AppError {
    fn from(e: DelegationError) -> Self {
        Refusal::from(e).into()
    }
}

impl From<BookingError> for AppError {
    fn from(e: BookingError) -> Self {
        Refusal::from(e).into()
    }
}

impl From<MeetingError> for AppError {
    fn from(e: MeetingError) -> Self {
        Refusal::from(e).into()
    }
}

impl AppError {
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::InvalidRequest(detail.into())
    }

    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::NotFound(format!("{what} not found"))
    }

    pub fn fiscal_code(field: &'static str) -> impl FnOnce(FiscalCodeError) -> Self {
        move |error| Self::InvalidFiscalCode { field, error }
    }

    /// A `map_err` for a mobile number read from `field`.
    pub fn phone(field: &'static str) -> impl FnOnce(PhoneError) -> Self {
        move |error| Self::InvalidPhone { field, error }
    }

    /// The stable machine-readable code of the answer.
    pub fn code(&self) -> &str {
        match self {
            Self::RegistrationRefused { code } | Self::Refused { code } => code,
            Self::InvalidRequest(_) | Self::InvalidDigest { .. } => "invalid_request",
            Self::UnknownDocument { .. } => "unknown_document",
            Self::InvalidFiscalCode { .. } => "invalid_fiscal_code",
            Self::InvalidPhone { .. } => "invalid_phone",
            Self::Unauthorized(_) | Self::TokenTooLong { .. } => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NoActiveDelegation(_) => "no_active_delegation",
            Self::NotFound(_) => "not_found",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::InvalidRange { .. } => "invalid_range",
            Self::CitizenRequired => "citizen_required",
            Self::OwnCitizenOnly => "not_allowed_when_acting",
            Self::PayloadTooLarge {
                document: false, ..
            } => "payload_too_large",
            Self::PayloadTooLarge { document: true, .. } => "document_too_large",
            Self::UriTooLong { .. } => "uri_too_long",
            Self::Document(e) => e.code(),
            Self::Service(e) => e.code(),
            Self::RequestTimeout => "request_timeout",
            Self::NotReady(_) => "not_ready",
            Self::Internal(_) => "internal_error",
        }
    }

    /// The status of the answer, from the code: the only table of statuses.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Service(ServiceError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Service(ServiceError::Corrupt(_) | ServiceError::Misuse(_))
            | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => status_of(self.code()),
        }
    }
}

/// The status of a stable code; a rule's refusal is 422 unless listed.
pub fn status_of(code: &str) -> StatusCode {
    match code {
        "invalid_request"
        | "invalid_fiscal_code"
        | "invalid_phone"
        | "invalid_validity"
        | "invalid_pin"
        | "unknown_document_kind" => StatusCode::BAD_REQUEST,
        "unauthorized" => StatusCode::UNAUTHORIZED,
        "forbidden"
        | "no_active_delegation"
        | "not_allowed_when_acting"
        | "not_the_grantor"
        | "not_the_citizen"
        | "other_office" => StatusCode::FORBIDDEN,
        "not_found" => StatusCode::NOT_FOUND,
        "method_not_allowed" => StatusCode::METHOD_NOT_ALLOWED,
        "conflict" => StatusCode::CONFLICT,
        "pending" => StatusCode::ACCEPTED,
        "payload_too_large" | "document_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
        "uri_too_long" => StatusCode::URI_TOO_LONG,
        "not_a_pdf" | "unsupported_media_type" => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "pin_locked" | "access_code_locked" => StatusCode::LOCKED,
        "request_timeout" => StatusCode::REQUEST_TIMEOUT,
        "unavailable" | "not_ready" | "read_models_behind" => StatusCode::SERVICE_UNAVAILABLE,
        "internal_error" | "corrupt" | "misuse" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

fn problem_value(status: StatusCode, code: &str, detail: &str) -> Value {
    json!({
        "type": format!("https://deleghe.example.invalid/problems/{code}"),
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
        "code": code,
    })
}

/// The body of a problem answer, for an answer written without the router
/// (a request whose head never arrived: [`crate::connections`]).
pub fn problem_body(status: StatusCode, code: &str, detail: &str) -> String {
    problem_value(status, code, detail).to_string()
}

/// A problem+json answer with `code`, `detail` and extra fields.
pub fn problem(
    status: StatusCode,
    code: &str,
    detail: &str,
    extra: Map<String, Value>,
) -> Response {
    let mut body = problem_value(status, code, detail);
    if let Value::Object(map) = &mut body {
        for (k, v) in extra {
            map.entry(k).or_insert(v);
        }
    }
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// `202 Accepted` for a request stored whose flow outlives the request:
/// `Location` names the resource to poll, `Retry-After` when. The body says
/// the same, as JSON; no status of a delegation or booking is invented.
pub fn accepted(what: &Unsettled) -> Response {
    let (kind, location) = match what {
        Unsettled::Delegation { id, .. } => ("delegation", format!("/v1/delegations/{id}")),
        Unsettled::Booking { id, .. } => ("booking", format!("/v1/bookings/{id}")),
    };
    let id = match what {
        Unsettled::Delegation { id, .. } => id.to_string(),
        Unsettled::Booking { id, .. } => id.to_string(),
    };
    let body = crate::dto::Pending {
        code: "pending".to_owned(),
        detail: format!(
            "the {kind} is accepted and still being settled: ask {location} for the outcome"
        ),
        id,
        location: location.clone(),
    };
    let mut response = (StatusCode::ACCEPTED, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, value);
    }
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let Self::Service(ServiceError::Pending(what)) = &self {
            tracing::debug!(%what, "accepted; its flow is still under way");
            return accepted(what);
        }
        let status = self.status();
        let code = self.code();
        if status.is_server_error() {
            // The cause stays in the log; the body says nothing of internals.
            tracing::error!(code, error = %self, "request failed");
            let detail = if status == StatusCode::SERVICE_UNAVAILABLE {
                "the service is temporarily unavailable, please try again"
            } else {
                "an unexpected error occurred"
            };
            // The names of stopped workers say nothing of the data.
            let mut extra = Map::new();
            if let Self::NotReady(stopped) = &self {
                extra.insert("stopped".into(), json!(stopped));
            }
            let mut response = problem(status, code, detail, extra);
            if status == StatusCode::SERVICE_UNAVAILABLE {
                // A passing fault (the store out of reach or out of space,
                // a worker restarting): say when to ask again, as a 202 does.
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from_static(RETRY_AFTER_SECONDS),
                );
            }
            return response;
        }
        tracing::debug!(code, status = status.as_u16(), "request refused");
        problem(status, code, &self.to_string(), self.extra())
    }
}

impl AppError {
    /// The fields a rule's refusal adds to the problem body.
    fn extra(&self) -> Map<String, Value> {
        let mut m = Map::new();
        match self {
            Self::InvalidFiscalCode { field, .. } => {
                m.insert("field".into(), json!(field));
            }
            Self::InvalidDigest { field, .. } => {
                m.insert("field".into(), json!(field));
            }
            Self::UnknownDocument { field, sha256 } => {
                m.insert("field".into(), json!(field));
                m.insert("sha256".into(), json!(sha256));
            }
            Self::NoActiveDelegation(grantor) => {
                m.insert("grantor".into(), json!(grantor));
            }
            Self::InvalidRange { max, .. } => {
                m.insert("max".into(), json!(max));
            }
            Self::TokenTooLong { max_minutes } => {
                m.insert("max_minutes".into(), json!(max_minutes));
            }
            Self::PayloadTooLarge { limit, .. } => {
                m.insert("max".into(), json!(limit));
            }
            Self::UriTooLong { max } => {
                m.insert("max".into(), json!(max));
            }
            Self::Document(DocumentError::TooLarge { bytes, max }) => {
                m.insert("bytes".into(), json!(bytes));
                m.insert("max".into(), json!(max));
            }
            Self::Service(ServiceError::Rule(refusal)) => refusal_fields(refusal, &mut m),
            Self::RegistrationRefused { code } => {
                m.insert(
                    "outcome".into(),
                    json!({"kind": "registration_refused", "code": code}),
                );
            }
            _ => {}
        }
        m
    }
}

/// What a refused registration's code means, for people.
fn registration_refusal(code: &str) -> String {
    match code {
        "grantor_already_has_delegate" => {
            "the grantor already has a delegate and must revoke it first (D1)".into()
        }
        "delegate_cap_reached" => {
            "the delegate already holds the most ordinary delegations allowed (D2)".into()
        }
        "self_delegation" => "nobody may delegate to themselves (D4)".into(),
        "slot_full" => "the slot is full (B4)".into(),
        other => format!("a rule refused it ({other})"),
    }
}

fn refusal_fields(refusal: &Refusal, m: &mut Map<String, Value>) {
    match refusal {
        Refusal::Delegation(e) => match e {
            DelegationError::GrantorAlreadyHasDelegate { existing } => {
                m.insert("existing".into(), json!(existing.as_str()));
            }
            DelegationError::DelegateCapReached { cap } => {
                m.insert("cap".into(), json!(cap));
            }
            DelegationError::EndDateTooSoon { earliest } => {
                m.insert("earliest".into(), json!(earliest));
            }
            DelegationError::OnlineRevocationTooEarly {
                revocable_online_from,
            } => {
                m.insert("revocable_online_from".into(), json!(revocable_online_from));
            }
            DelegationError::EvidenceMissing { missing } => {
                m.insert("missing".into(), json!(missing));
            }
            _ => {}
        },
        Refusal::Booking(e) => match e {
            BookingError::CounterAlreadyBooked { existing } => {
                m.insert("existing".into(), json!(existing.as_str()));
            }
            BookingError::BookingLimitReached { max } => {
                m.insert("max".into(), json!(max));
            }
            BookingError::SlotFull { capacity } => {
                m.insert("capacity".into(), json!(capacity));
            }
            _ => {}
        },
        Refusal::Meeting(e) => match e {
            MeetingError::MeetingNotOpenYet { opens_at } => {
                m.insert(
                    "opens_at".into(),
                    json!(opens_at.with_timezone(&ROME).to_rfc3339()),
                );
            }
            MeetingError::NotWaiting { state } | MeetingError::NotInCall { state } => {
                m.insert("state".into(), json!(state.as_str()));
            }
            MeetingError::DocumentsMissing { missing } => {
                m.insert(
                    "missing".into(),
                    json!(missing.iter().map(|k| k.as_str()).collect::<Vec<_>>()),
                );
            }
            MeetingError::PartiesMissing { present } => {
                m.insert("present".into(), json!(present));
            }
            _ => {}
        },
        Refusal::Pin(_) | Refusal::Contacts(_) | Refusal::Uploads(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_codes_are_422_unless_the_contract_says_otherwise() {
        assert_eq!(
            status_of("delegate_cap_reached"),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(status_of("not_found"), StatusCode::NOT_FOUND);
        assert_eq!(status_of("pin_locked"), StatusCode::LOCKED);
        assert_eq!(
            status_of("document_too_large"),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(status_of("not_a_pdf"), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(status_of("invalid_validity"), StatusCode::BAD_REQUEST);
        assert_eq!(status_of("conflict"), StatusCode::CONFLICT);
        // D11: a registration without its evidence is a rule's refusal, and
        // so is a well-formed digest naming no document of the caller's.
        assert_eq!(
            status_of("evidence_missing"),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            status_of("unknown_document"),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        // Well-formed, and refused for what it says, not for its shape.
        assert_eq!(status_of("invalid_range"), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            status_of("unsupported_media_type"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        // D12: what a delegate acting for a grantor may not do is forbidden.
        assert_eq!(status_of("not_allowed_when_acting"), StatusCode::FORBIDDEN);
        assert_eq!(status_of("no_active_delegation"), StatusCode::FORBIDDEN);
    }

    /// ADR 0014: read models short of the position a read named are a
    /// passing state (503, ask again); a position past the log's end is
    /// refused by the state of the log (422).
    #[test]
    fn a_read_ahead_of_the_read_models_is_asked_again_later() {
        let behind = AppError::Service(ServiceError::Behind {
            wanted: 9,
            reached: 4,
        })
        .into_response();
        assert_eq!(behind.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(behind.headers()[header::RETRY_AFTER], RETRY_AFTER_SECONDS);
        let beyond = AppError::Service(ServiceError::BeyondLog { wanted: 9, head: 4 });
        assert_eq!(beyond.code(), "position_beyond_log");
        // A request that fits the OpenAPI document is never 400: the
        // state (the log's end) refuses it.
        assert_eq!(
            beyond.into_response().status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }

    #[test]
    fn a_store_fault_says_nothing_of_its_cause() {
        let e = AppError::Service(ServiceError::Unavailable("password=hunter2".into()));
        let r = e.into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
