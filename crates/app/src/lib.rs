//! # deleghe-app
//!
//! The HTTP app over the deleghe library: what a citizen's browser, an
//! operator's console or another INPS system talks to. It is thin: each
//! handler checks who is calling, turns the request into one command or one
//! query of [`deleghe_adapters::Deleghe`], and turns the answer into JSON.
//! The contract is `docs/APP.md`; the app serves its OpenAPI document at
//! `GET /openapi.json`, generated from the handlers below.
//!
//! What an embedder uses:
//! - [`app`]: the router on an [`AppState`], with its layers (request id,
//!   trace span, body limits, deadlines, panics as 500);
//! - [`AppState::open`] with a [`StateConfig`]: the library's system on a
//!   store, with the app's clock, keys and counters;
//! - [`server::run`]: the router and the workers on a listener, until a
//!   shutdown signal; [`cli::run`]: the `deleghe` command line;
//! - [`auth`]: bearer tokens, who may do what, act-as (D9); [`config`],
//!   [`counters`]: the typed configuration read once at start;
//! - [`openapi::ApiDoc`]: the OpenAPI document `GET /openapi.json` serves;
//!   [`privacy`]: how the logs name people.
//!
//! Inside, private: the handlers (`routes`, one module per group of
//! endpoints of docs/APP.md), the one place where errors become
//! problem+json answers (`error`), the JSON shapes (`dto`), the extractors
//! (`extract`), the connections' head deadline (`connections`), metrics,
//! the ticket PDF.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use axum::body::Body;
//! use axum::http::{Request, StatusCode};
//! use deleghe_app::{app, AppState};
//! use tower::ServiceExt;
//!
//! let state = AppState::for_tests(false).await;
//! let answer = app(state)
//!     .oneshot(Request::get("/health").body(Body::empty()).unwrap())
//!     .await
//!     .unwrap();
//! assert_eq!(answer.status(), StatusCode::OK);
//! # }
//! ```

pub mod auth;
pub mod cli;
pub mod config;
mod connections;
pub mod counters;
mod dto;
mod error;
mod extract;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
mod metrics;
pub mod openapi;
mod pdf;
pub mod position;
pub mod privacy;
mod routes;
pub mod server;
pub mod state;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::Router;
use std::time::Duration;

use axum::http::StatusCode;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

pub use state::{AppState, StateConfig};

/// Largest JSON body accepted.
pub const JSON_BODY_LIMIT: usize = 64 * 1024;

/// The longest request target (path and query, in bytes) the app reads:
/// 414 `uri_too_long` past it. No operation needs more than a few hundred
/// bytes; hyper itself refuses a target of more than 65,534 bytes with a
/// 414 it writes without a body (docs/APP.md).
pub const URI_LIMIT: usize = 8 * 1024;
/// Largest document body accepted: M6's 3 MiB plus headroom, so that a file
/// just over the limit is refused by the rule (413 `document_too_large`).
pub const DOCUMENT_BODY_LIMIT: usize = 3 * 1024 * 1024 + 256 * 1024;
/// The header carrying the request id: the server's, on the way in (set by
/// [`app`]'s first layer, whatever the client sent) and out.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// How long a request may take (docs/APP.md, "Deadlines"): its head and
/// its body must arrive within 30 s (the body waits at most that long for
/// each part), and no request runs longer than 60 s. Past any of them the
/// answer is 408 `request_timeout`. An answer waits at most as long as a
/// body part for the client to take some of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From the connection's start, or the answer before, to the end of a
    /// request's head (hyper's header read timeout, in [`server::run`]).
    pub head: Duration,
    /// The longest wait for the next part of a body: the request's, as it
    /// arrives, and the answer's, as the client takes it (past it, the
    /// connection ends).
    pub body: Duration,
    /// From the head to the end of the answer.
    pub request: Duration,
    /// How long a read naming a log position (`If-Min-Position`) waits for
    /// the read models to reach it before answering 503 (ADR 0014).
    pub read_wait: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            head: Duration::from_secs(30),
            body: Duration::from_secs(30),
            request: Duration::from_secs(60),
            read_wait: Duration::from_secs(5),
        }
    }
}

/// The whole HTTP app on `state`: every route of docs/APP.md, an unknown
/// path answering 404 and an unknown method on a known path 405 (with
/// `Allow`), both problem+json.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use axum::body::Body;
/// use axum::http::{header, Request, StatusCode};
/// use deleghe_app::{app, AppState};
/// use tower::ServiceExt;
///
/// let router = app(AppState::for_tests(false).await);
/// let document = router
///     .clone()
///     .oneshot(Request::get("/openapi.json").body(Body::empty()).unwrap())
///     .await
///     .unwrap();
/// assert_eq!(document.status(), StatusCode::OK);
/// let wrong_method = router
///     .oneshot(Request::delete("/v1/delegations").body(Body::empty()).unwrap())
///     .await
///     .unwrap();
/// assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
/// assert_eq!(wrong_method.headers()[header::ALLOW], "POST,GET,HEAD");
/// assert_eq!(
///     wrong_method.headers()[header::CONTENT_TYPE],
///     "application/problem+json"
/// );
/// # }
/// ```
pub fn app(state: AppState) -> Router {
    use routes::{bookings, delegations, documents, meetings, personal, system};
    let mut router = Router::new()
        .route("/health", get(system::health))
        .route("/health/live", get(system::live))
        .route("/health/ready", get(system::ready))
        .route("/metrics", get(metrics::render))
        .route("/openapi.json", get(system::openapi))
        .route("/v1/policy", get(system::policy))
        // Delegations (D1–D9).
        .route(
            "/v1/delegations",
            post(delegations::create).get(delegations::list),
        )
        .route("/v1/delegations/{id}", get(delegations::get))
        .route("/v1/delegations/{id}/revoke", post(delegations::revoke))
        .route("/v1/counter/delegations", post(delegations::counter_create))
        .route(
            "/v1/counter/delegations/{id}/confirm",
            post(delegations::confirm),
        )
        .route(
            "/v1/counter/delegations/{id}/reject",
            post(delegations::reject),
        )
        .route(
            "/v1/counter/delegations/{id}/revoke",
            post(delegations::counter_revoke),
        )
        .route("/v1/sessions/act-as", post(delegations::act_as))
        .route("/v1/audit", get(delegations::audit))
        // Counters and bookings (B1–B7).
        .route("/v1/counters", get(bookings::counters))
        .route("/v1/counters/{id}/slots", get(bookings::slots))
        .route("/v1/bookings", post(bookings::create).get(bookings::list))
        .route(
            "/v1/bookings/{id}",
            get(bookings::get).delete(bookings::cancel),
        )
        .route("/v1/bookings/{id}/ticket", get(bookings::ticket))
        .route("/v1/counter/bookings", post(bookings::counter_create))
        .route("/v1/counter/bookings/{id}/served", post(bookings::served))
        .route("/v1/counter/bookings/{id}/missed", post(bookings::missed))
        // Web meetings (M1–M9).
        .route("/v1/bookings/{id}/meeting", get(meetings::get))
        .route("/v1/bookings/{id}/meeting/join", post(meetings::join))
        .route(
            "/v1/bookings/{id}/meeting/take-in-charge",
            post(meetings::take_in_charge),
        )
        .route("/v1/bookings/{id}/meeting/consent", post(meetings::consent))
        .route(
            "/v1/bookings/{id}/meeting/attendance",
            post(meetings::attendance),
        )
        .route(
            "/v1/bookings/{id}/meeting/documents",
            post(meetings::upload).layer(DefaultBodyLimit::max(DOCUMENT_BODY_LIMIT)),
        )
        .route(
            "/v1/bookings/{id}/meeting/documents/{document}",
            get(meetings::download),
        )
        .route(
            "/v1/bookings/{id}/meeting/complete",
            post(meetings::complete),
        )
        .route("/v1/bookings/{id}/meeting/abandon", post(meetings::abandon))
        .route(
            "/v1/bookings/{id}/meeting/new-code",
            post(meetings::new_code),
        )
        // Personal area (N3) and telephone PIN (P1–P3).
        .route("/v1/me/notices", get(personal::notices))
        .route("/v1/me/notices/{id}/read", post(personal::mark_read))
        .route("/v1/me/notices/{id}/unread", post(personal::mark_unread))
        .route("/v1/me/notices/{id}", delete(personal::delete_notice))
        .route(
            "/v1/me/contacts",
            get(personal::contacts).put(personal::change_contacts),
        )
        // D11: the documents of a registration's evidence.
        .route(
            "/v1/me/documents",
            post(documents::upload_mine).layer(DefaultBodyLimit::max(DOCUMENT_BODY_LIMIT)),
        )
        .route(
            "/v1/counter/documents",
            post(documents::upload_counter).layer(DefaultBodyLimit::max(DOCUMENT_BODY_LIMIT)),
        )
        .route("/v1/me/pin", post(personal::issue_pin))
        .route("/v1/pin/verify", post(personal::verify_pin));
    if state.dev_clock_enabled() {
        // Off by default: then every /dev/* path falls through to 404.
        router = router.route(
            "/dev/clock",
            get(system::get_clock)
                .put(system::set_clock)
                .delete(system::reset_clock),
        );
    }
    let timeouts = state.timeouts();
    router
        // A route layer sees the route's template. The 405 of a method no
        // route serves is the fallback set after it, which the route layer
        // does not wrap: such requests are not counted (docs/OPERATIONS.md).
        .route_layer(middleware::from_fn_with_state(state.clone(), route_frame))
        .fallback(system::not_found)
        .method_not_allowed_fallback(system::method_not_allowed)
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(CatchPanicLayer::custom(system::panic_answer))
        .layer(RequestBodyTimeoutLayer::new(timeouts.body))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeouts.request,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let id = req
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    let client = req
                        .extensions()
                        .get::<ClientRequestId>()
                        .map(|c| c.0.as_str())
                        .unwrap_or_default();
                    // The route's template, never the path: a path's
                    // segments, as queries and bodies, are the client's
                    // text (a fiscal code, a token), and a path no route
                    // serves is `unmatched`.
                    let route = req
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("unmatched", MatchedPath::as_str);
                    tracing::info_span!(
                        "request",
                        request_id = %id,
                        client_request_id = %client,
                        // A made-up method is the client's text: `other`.
                        method = %crate::metrics::method_label(req.method()),
                        route = %route,
                        caller = tracing::field::Empty,
                    )
                })
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(middleware::from_fn(request_id))
        .with_state(state)
}

/// The request id a client sent, kept beside the server's (logs only).
#[derive(Debug, Clone)]
pub struct ClientRequestId(pub String);

/// Gives every request a new id of the server's, the correlation id of every
/// event the request stores, and sends it back. What the client sent as
/// `x-request-id`, if it is a UUID, is kept beside it in the logs
/// ([`ClientRequestId`]), never in the audit trail: a client must not be
/// able to choose, or collide with, another request's correlation id.
/// The outermost layer, it also gives the whole-request timeout's bare 408
/// its problem body ([`timeout_problem`]), and refuses a request target over
/// [`URI_LIMIT`] before any other layer reads it.
async fn request_id(mut req: Request, next: Next) -> Response {
    let target_bytes = req
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    let given = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        // A UUID only: any other text the client chose (a fiscal code, a
        // phone number) would reach the info logs as it is.
        .filter(|v| uuid::Uuid::try_parse(v).is_ok())
        .map(str::to_owned);
    if let Some(given) = given {
        req.extensions_mut().insert(ClientRequestId(given));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let value = HeaderValue::from_str(&id).expect("a UUID is a valid header value");
    req.headers_mut().insert(REQUEST_ID, value.clone());
    let mut response = if target_bytes > URI_LIMIT {
        // Before any other layer; the log gets its length, never its text.
        tracing::info!(
            request_id = %id,
            method = %crate::metrics::method_label(req.method()),
            bytes = target_bytes,
            "request target over the limit: refused (414)"
        );
        axum::response::IntoResponse::into_response(error::AppError::UriTooLong { max: URI_LIMIT })
    } else {
        timeout_problem(next.run(req).await)
    };
    response.headers_mut().insert(REQUEST_ID, value);
    response
}

/// What every matched route's request goes through, in one layer (each
/// layer of its own costs every request a boxed future and a clone of the
/// route, docs/PERFORMANCE.md): a write's answer names the log position it
/// reached (ADR 0014, [`position::stamp`]); the request is counted and timed
/// by its route's template ([`metrics::record`]).
async fn route_frame(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let started = std::time::Instant::now();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let response = next.run(req).await;
    let response = position::stamp(&state, position::writes(&method), response).await;
    metrics::record(
        route.as_ref(),
        &method,
        response.status(),
        started.elapsed(),
    );
    response
}

/// The whole-request timeout answers a bare 408: give it the problem body
/// every error has (called by [`request_id`], the outermost layer).
fn timeout_problem(response: Response) -> Response {
    let bare = response.status() == StatusCode::REQUEST_TIMEOUT
        && !response
            .headers()
            .contains_key(axum::http::header::CONTENT_TYPE);
    if bare {
        axum::response::IntoResponse::into_response(error::AppError::RequestTimeout)
    } else {
        response
    }
}
