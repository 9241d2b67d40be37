//! The personal area: calendar notices (N3, N7), contacts (N7) and the
//! telephone PIN (P1–P3).

use std::str::FromStr;

use axum::extract::State;
use axum::http::StatusCode;
use deleghe_adapters::ServiceError;
use deleghe_domain::booking::Phone;
use deleghe_domain::contacts::{CitizenContacts, ContactsCommand};
use deleghe_domain::flows::Refusal;
use deleghe_domain::pin::{
    pin_from_random, PinCheck, PinCommand, PinError, PinEvent, PinHash, PinValidity, PIN_LENGTH,
};
use deleghe_domain::FiscalCode;

use crate::auth::Caller;
use crate::dto::{
    ContactsChange, ContactsDto, NewPin, NoticeDto, NoticeList, PinCheckRequest, PinIssued,
    PinValid, Problem, ReadAtHeader, ReadAtQuery,
};
use crate::error::AppError;
use crate::extract::{Json, Path};
use crate::position::MinPosition;
use crate::routes::random_bytes;
use crate::state::AppState;

/// N3: the citizen's calendar notices, newest first.
#[utoipa::path(get, path = "/v1/me/notices", tag = "personal area",
    params(ReadAtQuery, ReadAtHeader),
    responses(
        (status = 200, body = NoticeList),
        (status = 422, description = "`position_beyond_log`: a `min_position` or `If-Min-Position` past the end of the log, which no write answered", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`read_models_behind`: the read models did not reach the position asked for in time; `Retry-After` says when to ask again", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not a citizen", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn notices(
    State(state): State<AppState>,
    caller: Caller,
    at: MinPosition,
) -> Result<Json<NoticeList>, AppError> {
    let me = caller.citizen()?;
    let notices = state.read(at).await?.notices_of(me).await?;
    Ok(Json(NoticeList {
        items: notices.iter().map(NoticeDto::from).collect(),
    }))
}

async fn mark(
    state: &AppState,
    caller: &Caller,
    at: MinPosition,
    id: &str,
    read: bool,
) -> Result<Json<NoticeDto>, AppError> {
    // D12, N7: a delegate acting for the citizen reads their notices but
    // does not mark or delete them; what is done in the citizen's name
    // stays before them as it was told.
    let me = caller.own_citizen()?;
    let models = state.read(at).await?;
    let found = if read {
        models.mark_notice_read(me, id).await?
    } else {
        models.mark_notice_unread(me, id).await?
    };
    let missing = || AppError::not_found(format!("notice {id}"));
    if !found {
        return Err(missing());
    }
    let notices = models.notices_of(me).await?;
    let notice = notices.iter().find(|n| n.id == id).ok_or_else(missing)?;
    Ok(Json(NoticeDto::from(notice)))
}

/// N3: marks a notice as read.
#[utoipa::path(post, path = "/v1/me/notices/{id}/read", tag = "personal area",
    params(("id" = String, Path, description = "notice id"), ReadAtQuery, ReadAtHeader),
    responses(
        (status = 200, body = NoticeDto),
        (status = 422, description = "`position_beyond_log`: a `min_position` or `If-Min-Position` past the end of the log, which no write answered", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`read_models_behind`: the read models did not reach the position asked for in time; `Retry-After` says when to ask again", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "an operator, or an act-as session (`not_allowed_when_acting`, D12)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn mark_read(
    State(state): State<AppState>,
    caller: Caller,
    at: MinPosition,
    Path(id): Path<String>,
) -> Result<Json<NoticeDto>, AppError> {
    mark(&state, &caller, at, &id, true).await
}

/// N3: marks a notice as unread.
#[utoipa::path(post, path = "/v1/me/notices/{id}/unread", tag = "personal area",
    params(("id" = String, Path, description = "notice id"), ReadAtQuery, ReadAtHeader),
    responses(
        (status = 200, body = NoticeDto),
        (status = 422, description = "`position_beyond_log`: a `min_position` or `If-Min-Position` past the end of the log, which no write answered", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`read_models_behind`: the read models did not reach the position asked for in time; `Retry-After` says when to ask again", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "an operator, or an act-as session (`not_allowed_when_acting`, D12)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn mark_unread(
    State(state): State<AppState>,
    caller: Caller,
    at: MinPosition,
    Path(id): Path<String>,
) -> Result<Json<NoticeDto>, AppError> {
    mark(&state, &caller, at, &id, false).await
}

/// N3: deletes a notice.
#[utoipa::path(delete, path = "/v1/me/notices/{id}", tag = "personal area",
    params(("id" = String, Path, description = "notice id"), ReadAtQuery, ReadAtHeader),
    responses(
        (status = 204, description = "deleted"),
        (status = 422, description = "`position_beyond_log`: a `min_position` or `If-Min-Position` past the end of the log, which no write answered", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`read_models_behind`: the read models did not reach the position asked for in time; `Retry-After` says when to ask again", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "an operator, or an act-as session (`not_allowed_when_acting`, D12)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn delete_notice(
    State(state): State<AppState>,
    caller: Caller,
    at: MinPosition,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    // D12, N7: not by a delegate acting for the citizen (see `mark`).
    let me = caller.own_citizen()?;
    if state.read(at).await?.delete_notice(me, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::not_found(format!("notice {id}")))
    }
}

fn contacts_dto(contacts: &CitizenContacts) -> ContactsDto {
    let contact = contacts.contact();
    ContactsDto {
        phone: contact.phone.as_ref().map(|p| p.as_str().to_owned()),
        io: contact.io,
    }
}

/// N7: the citizen's contacts. Only the citizen in person: a delegate
/// acting for them neither reads nor changes them (D12).
#[utoipa::path(get, path = "/v1/me/contacts", tag = "personal area",
    responses(
        (status = 200, body = ContactsDto),
        (status = 403, description = "an operator, or an act-as session (`not_allowed_when_acting`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn contacts(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<ContactsDto>, AppError> {
    let me = caller.own_citizen()?;
    Ok(Json(contacts_dto(&state.service().contacts(me).await?)))
}

/// N7: changes the citizen's mobile, IO choice, or both; what the body
/// leaves out stays as it is. The notices of delegations go to the contacts
/// kept when each is sent.
#[utoipa::path(put, path = "/v1/me/contacts", tag = "personal area",
    request_body = ContactsChange,
    responses(
        (status = 200, body = ContactsDto),
        (status = 400, description = "`invalid_phone`, `invalid_request`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "an operator, or an act-as session (`not_allowed_when_acting`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn change_contacts(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<ContactsChange>,
) -> Result<Json<ContactsDto>, AppError> {
    // D12: a delegate acting for the citizen is refused by the rules.
    let citizen = caller.citizen()?.clone();
    let phone = match body.phone {
        Some(Some(text)) => Some(Some(Phone::parse(&text).map_err(AppError::phone("phone"))?)),
        Some(None) => Some(None),
        None => None,
    };
    let meta = caller.metadata("web");
    let command = ContactsCommand::Change {
        citizen: citizen.clone(),
        phone,
        io: body.io,
        at: state.now(),
        by: meta.issuer(),
    };
    let contacts = state
        .service()
        .change_contacts(&citizen, command, &meta)
        .await?;
    Ok(Json(contacts_dto(&contacts)))
}

/// P1, P2: a new telephone PIN, shown once; the previous one is cancelled.
/// Only the citizen themselves, not a delegate acting for them: the PIN
/// identifies them to the contact center.
#[utoipa::path(post, path = "/v1/me/pin", tag = "telephone PIN",
    request_body = NewPin,
    responses(
        (status = 201, body = PinIssued),
        (status = 400, description = "`invalid_validity`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "an operator, or an act-as session", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn issue_pin(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewPin>,
) -> Result<(StatusCode, Json<PinIssued>), AppError> {
    // D12: a delegate acting for the citizen is refused by the rules (the
    // PIN account judges who issues it).
    let me = caller.citizen()?.clone();
    let meta = caller.metadata("web");
    let validity = PinValidity::from_str(&body.validity).map_err(Refusal::from)?;
    let pin = pin_from_random(&random_bytes::<PIN_LENGTH>()?);
    let salt = random_bytes::<16>()?;
    // Argon2 is CPU work: off the async workers.
    let hashed = pin.clone();
    let pin_hash = tokio::task::spawn_blocking(move || PinHash::new(&hashed, &salt))
        .await
        .map_err(|e| AppError::Internal(format!("hashing task failed: {e}")))?
        .map_err(Refusal::from)?;
    let events = state
        .service()
        .pin_command(
            &me,
            PinCommand::IssuePin {
                citizen: me.clone(),
                pin_hash,
                validity,
                at: state.now(),
                by: meta.issuer(),
            },
            &meta,
        )
        .await?;
    let valid_until = events
        .iter()
        .find_map(|e| match e {
            PinEvent::PinIssued { valid_until, .. } => Some(*valid_until),
            _ => None,
        })
        .ok_or_else(|| AppError::Internal("no PinIssued event".into()))?;
    Ok((StatusCode::CREATED, Json(PinIssued { pin, valid_until })))
}

/// P3: the contact center checks a PIN a citizen reads out. A wrong PIN is
/// `{"valid": false}`; after 5 failures the PIN is locked (423).
#[utoipa::path(post, path = "/v1/pin/verify", tag = "telephone PIN",
    request_body = PinCheckRequest,
    responses(
        (status = 200, body = PinValid),
        (status = 400, description = "`invalid_fiscal_code`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an operator", body = Problem, content_type = "application/problem+json"),
        (status = 423, description = "`pin_locked`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn verify_pin(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<PinCheckRequest>,
) -> Result<Json<PinValid>, AppError> {
    caller.operator()?;
    let citizen =
        FiscalCode::parse(&body.fiscal_code).map_err(AppError::fiscal_code("fiscal_code"))?;
    let command = PinCommand::VerifyPin {
        pin: body.pin,
        at: state.now(),
    };
    match state
        .service()
        .pin_command(&citizen, command, &caller.metadata("contact_center"))
        .await
    {
        Ok(events) => Ok(Json(PinValid {
            valid: PinCheck::from_events(&events).is_some_and(|c| c.valid),
        })),
        // P1: no PIN, or an expired one, is simply not valid (and not counted).
        Err(ServiceError::Rule(Refusal::Pin(PinError::NoValidPin))) => {
            Ok(Json(PinValid { valid: false }))
        }
        Err(e) => Err(e.into()),
    }
}
