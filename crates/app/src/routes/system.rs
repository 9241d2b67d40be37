//! Health, the OpenAPI document, the development clock, and the answers for
//! unknown paths, wrong methods and panics.
//!
//! The development clock (`/dev/clock`) exists only when it is enabled
//! (otherwise every `/dev/*` path is 404), answers operators only, and
//! [`crate::config`] refuses to enable it on an address that is not
//! loopback: whoever sets the clock moves every rule's deadline.

use std::any::Any;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use deleghe_domain::Policy;
use serde_json::Map;
use utoipa::OpenApi;

use crate::auth::Caller;
use crate::dto::{ClockDto, Health, Problem};
use crate::error::{problem, AppError};
use crate::extract::Json;
use crate::openapi::ApiDoc;
use crate::state::AppState;

/// 200 once the store answers.
#[utoipa::path(get, path = "/health", tag = "system",
    responses(
        (status = 200, body = Health),
        (status = 503, description = "the store is unreachable", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn health(State(state): State<AppState>) -> Result<Json<Health>, AppError> {
    store_answers(&state).await?;
    Ok(ok())
}

/// Whether the store answers: one small read.
async fn store_answers(state: &AppState) -> Result<(), AppError> {
    state
        .repository()
        .checkpoint(deleghe_adapters::runner::CHECKPOINT)
        .await?;
    Ok(())
}

fn ok() -> Json<Health> {
    Json(Health {
        status: "ok".to_owned(),
    })
}

/// Liveness: 200 while the process answers at all (it checks nothing else,
/// so that an orchestrator restarts only a process that is stuck).
#[utoipa::path(get, path = "/health/live", tag = "system",
    responses((status = 200, body = Health)))]
pub async fn live() -> Json<Health> {
    ok()
}

/// Readiness: 200 when the store answers and every background worker this
/// process started is running (flow runner, projector, dispatcher, booking
/// timer, document sweep); 503 otherwise.
#[utoipa::path(get, path = "/health/ready", tag = "system",
    responses(
        (status = 200, body = Health),
        (status = 503, description = "`unavailable`: the store is unreachable; `not_ready`: a worker has stopped, named in `stopped`", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn ready(State(state): State<AppState>) -> Result<Json<Health>, AppError> {
    store_answers(&state).await?;
    let stopped = state.stopped_workers();
    if !stopped.is_empty() {
        return Err(AppError::NotReady(stopped));
    }
    Ok(ok())
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/openapi.json", tag = "system",
    responses((status = 200, description = "the OpenAPI document", content_type = "application/json")))]
pub async fn openapi() -> Response {
    Json(ApiDoc::openapi()).into_response()
}

/// The policy in force: every number and switch the rules use, by the
/// names of docs/RULES.md (`DELEGHE_POLICY`, or the rule book's defaults).
#[utoipa::path(get, path = "/v1/policy", tag = "system",
    responses(
        (status = 200, description = "the policy: `max_ordinary_delegations_per_delegate`, `min_days_before_online_revocation`, `min_online_duration_days`, `max_active_bookings`, `join_minutes_before_start`, `reminder_minutes_before_start`, `max_document_bytes`, `max_failed_pin_attempts`, `meetings_recorded`, `max_access_code_attempts`", content_type = "application/json"),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn policy(State(state): State<AppState>, _caller: Caller) -> Json<Policy> {
    Json(state.policy().clone())
}

/// Development only: the app's clock (operators).
#[utoipa::path(get, path = "/dev/clock", tag = "development",
    responses(
        (status = 200, body = ClockDto),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an operator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "the development clock is off", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_clock(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<ClockDto>, AppError> {
    caller.operator()?;
    Ok(Json(ClockDto { now: state.now() }))
}

/// Development only: from now on the clock reads `now` (it does not
/// advance); operators only.
#[utoipa::path(put, path = "/dev/clock", tag = "development",
    request_body = ClockDto,
    responses(
        (status = 204, description = "set"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an operator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "the development clock is off", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn set_clock(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<ClockDto>,
) -> Result<StatusCode, AppError> {
    caller.operator()?;
    state.clock().set(Some(body.now));
    tracing::info!(now = %body.now, "development clock set");
    Ok(StatusCode::NO_CONTENT)
}

/// Development only: back to real time; operators only.
#[utoipa::path(delete, path = "/dev/clock", tag = "development",
    responses(
        (status = 204, description = "real time again"),
        (status = 401, description = "no valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an operator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "the development clock is off", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn reset_clock(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<StatusCode, AppError> {
    caller.operator()?;
    state.clock().set(None);
    tracing::info!("development clock back to real time");
    Ok(StatusCode::NO_CONTENT)
}

/// Any path the app does not serve (and `/dev/*` when the dev clock is off).
pub async fn not_found() -> AppError {
    AppError::NotFound("no such resource".to_owned())
}

pub async fn method_not_allowed() -> Response {
    problem(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this resource does not answer that method",
        Map::new(),
    )
}

/// A panic in a handler: 500, nothing of it in the body.
pub fn panic_answer(panic: Box<dyn Any + Send + 'static>) -> Response {
    let what = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a panic");
    AppError::Internal(format!("handler panicked: {what}")).into_response()
}
