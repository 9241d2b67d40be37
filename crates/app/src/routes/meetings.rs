//! Web meetings (M1–M9): a booking in mode `web_meeting` at the delegations
//! counter has one meeting, at `/v1/bookings/{id}/meeting`. The booker joins
//! with the SMS code and waits (M1–M3); an operator takes it in charge,
//! records consent, attendance and documents (M4–M6), and completes it, which
//! registers the delegation under D1–D3 (M7), or abandons it (M8).

use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use deleghe_domain::booking::{Booking, BookingStage};
use deleghe_domain::delegation::DelegationId;
use deleghe_domain::document::DocumentKind;
use deleghe_domain::meeting::{
    AbandonReason, EndedBooking, Meeting, MeetingBooking, MeetingCommand, MeetingError, Outcome,
};
use deleghe_domain::schedule::Mode;

use crate::auth::Caller;
use crate::dto::{
    Abandon, AbandonOutcome, Attendance, Completed, Consent, DelegationDto, DocumentDto,
    DocumentQuery, Join, MeetingDto, Problem,
};
use crate::error::AppError;
use crate::extract::{Body, Json, Path, Query};
use crate::routes::new_id;
use crate::state::AppState;

/// Who may issue a meeting command.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Who {
    /// The booker in person (D12: not a delegate acting for them, as the
    /// meeting registers a delegation to the booker).
    Booker,
    Operator,
    /// The booker in person, or an operator.
    BookerOrOperator,
    /// Reading: the booker (or a delegate acting for them), or an operator.
    Anyone,
}

/// The web-meeting booking `id`, if the caller may act on its meeting as
/// `who`. Someone else's booking, or one without a meeting, is 404; for an
/// operator of another office, 403 `other_office` (M11).
async fn booking_for(
    state: &AppState,
    caller: &Caller,
    id: &str,
    who: Who,
) -> Result<Booking, AppError> {
    match who {
        Who::Operator => {
            caller.operator()?;
        }
        Who::Booker => {
            caller.own_citizen()?;
        }
        Who::BookerOrOperator => {
            if caller.operator().is_err() {
                caller.own_citizen()?;
            }
        }
        Who::Anyone => {}
    }
    let missing = || AppError::not_found(format!("meeting of booking {id}"));
    let b = state.booking(id).await?;
    if b.mode != Mode::WebMeeting || b.grantor.is_none() || !caller.may_see(&b.booker) {
        return Err(missing());
    }
    if let Ok((_, office)) = caller.operator() {
        b.check_office(office)?;
    }
    Ok(b)
}

/// M1, M6: a meeting goes no further once its booking is cancelled
/// (`not_active`), as its join and its uploads do not: no step of it, and
/// no delegation of its completion, stands on a cancelled booking. A
/// served booking's meeting has ended, and says so itself
/// (`meeting_closed`).
fn still_booked(booking: &Booking) -> Result<(), AppError> {
    if matches!(booking.stage, BookingStage::Cancelled { .. }) {
        return Err(MeetingError::BookingNotActive.into());
    }
    Ok(())
}

async fn run(
    state: &AppState,
    caller: &Caller,
    booking: &Booking,
    command: MeetingCommand,
) -> Result<Meeting, AppError> {
    Ok(state
        .service()
        .meeting_command(&booking.id, command, &caller.metadata("web_meeting"))
        .await?)
}

/// M1–M3: the booker joins with the code sent by SMS, from 15 minutes before
/// the booked time until the slot ends; they wait in the waiting room.
#[utoipa::path(post, path = "/v1/bookings/{id}/meeting/join", tag = "meetings",
    params(("id" = String, Path, description = "booking id (404 for one that is not)", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    request_body = Join,
    responses(
        (status = 200, description = "state `waiting_room` or `in_call`", body = MeetingDto),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`meeting_not_open_yet` (its `detail` is the M1 sentence, `opens_at`), `meeting_closed`, `wrong_access_code`, `not_active`", body = Problem, content_type = "application/problem+json"),
        (status = 423, description = "`access_code_locked` (M10): an operator issues a new code", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn join(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<Join>,
) -> Result<Json<MeetingDto>, AppError> {
    let b = booking_for(&state, &caller, &id, Who::Booker).await?;
    let at = state.now();
    let booking = MeetingBooking::of(&b, at)
        .ok_or_else(|| AppError::not_found(format!("meeting of booking {id}")))?;
    // M2: the rules see only the digest of what was typed.
    let code = state.keys().access_codes().digest(&b.id, &body.code);
    let m = run(
        &state,
        &caller,
        &b,
        MeetingCommand::Join { booking, code, at },
    )
    .await?;
    Ok(Json(MeetingDto::from(&m)))
}

/// M10: an operator of the office issues a new access code, sent by SMS to
/// the booking's phone; earlier codes stop working and joining is unlocked.
#[utoipa::path(post, path = "/v1/bookings/{id}/meeting/new-code", tag = "meetings",
    params(("id" = String, Path, description = "booking id (404 for one that is not)", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    responses(
        (status = 200, description = "a new code went by SMS", body = MeetingDto),
        (status = 403, description = "not an operator, or `other_office` (M11)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`meeting_closed`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn new_code(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<MeetingDto>, AppError> {
    let b = booking_for(&state, &caller, &id, Who::Operator).await?;
    let generation = state.service().meeting(&b.id).await?.code_generation() + 1;
    let (_, code) = state.keys().access_codes().issue(&b.id, generation);
    let command = MeetingCommand::IssueAccessCode {
        booking_id: b.id.clone(),
        generation,
        code,
        phone: b.phone.clone(),
        operator: caller.operator_id()?,
        at: state.now(),
    };
    Ok(Json(MeetingDto::from(
        &run(&state, &caller, &b, command).await?,
    )))
}

/// The meeting as its booker and the operator's console see it (M9).
#[utoipa::path(get, path = "/v1/bookings/{id}/meeting", tag = "meetings",
    params(("id" = String, Path, description = "booking id (404 for one that is not)", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    responses(
        (status = 200, body = MeetingDto),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<MeetingDto>, AppError> {
    let b = booking_for(&state, &caller, &id, Who::Anyone).await?;
    let m = state.service().meeting(&b.id).await?;
    Ok(Json(MeetingDto::from(&m)))
}

/// M3: an operator takes the waiting citizen in charge; the call starts.
#[utoipa::path(post, path = "/v1/bookings/{id}/meeting/take-in-charge", tag = "meetings",
    params(("id" = String, Path, description = "booking id (404 for one that is not)", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    responses(
        (status = 200, description = "state `in_call`", body = MeetingDto),
        (status = 403, description = "not an operator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`not_waiting`, `not_active` (the booking is cancelled)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn take_in_charge(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<MeetingDto>, AppError> {
    let b = booking_for(&state, &caller, &id, Who::Operator).await?;
    still_booked(&b)?;
    let command = MeetingCommand::TakeInCharge {
        operator: caller.operator_id()?,
        at: state.now(),
    };
    Ok(Json(MeetingDto::from(
        &run(&state, &caller, &b, command).await?,
    )))
}

/// M4: recording consent; `false` ends the meeting (`consent_denied`).
#[utoipa::path(post, path = "/v1/bookings/{id}/meeting/consent", tag = "meetings",
    params(("id" = String, Path, description = "booking id (404 for one that is not)", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    request_body = Consent,
    responses(
        (status = 200, body = MeetingDto),
        (status = 422, description = "`not_joined`, `meeting_closed`, `not_active` (the booking is cancelled)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn consent(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<Consent>,
) -> Result<Json<MeetingDto>, AppError> {
    let b = booking_for(&state, &caller, &id, Who::BookerOrOperator).await?;
    still_booked(&b)?;
    let command = MeetingCommand::Consent {
        recording: body.recording,
        at: state.now(),
    };
    Ok(Json(MeetingDto::from(
        &run(&state, &caller, &b, command).await?,
    )))
}

/// M5: the operator attests who is present.
#[utoipa::path(post, path = "/v1/bookings/{id}/meeting/attendance", tag = "meetings",
    params(("id" = String, Path, description = "booking id (404 for one that is not)", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    request_body = Attendance,
    responses(
        (status = 200, body = MeetingDto),
        (status = 403, description = "not an operator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`not_in_call`, `not_active` (the booking is cancelled)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn attendance(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<Attendance>,
) -> Result<Json<MeetingDto>, AppError> {
    let b = booking_for(&state, &caller, &id, Who::Operator).await?;
    still_booked(&b)?;
    let command = MeetingCommand::RecordAttendance {
        grantor_present: body.grantor_present,
        delegate_present: body.delegate_present,
        grantor_able_to_consent: body.grantor_able_to_consent,
        at: state.now(),
    };
    Ok(Json(MeetingDto::from(
        &run(&state, &caller, &b, command).await?,
    )))
}

/// M6: form AA08 or the grantor's identity document, a PDF of at most 3 MiB,
/// judged by its content. The meeting says whether it takes a document
/// before the body is read: an upload it would refuse (not joined, booking
/// cancelled, meeting closed) stores nothing.
#[utoipa::path(post, path = "/v1/bookings/{id}/meeting/documents", tag = "meetings",
    params(("id" = String, Path, description = "booking id (404 for one that is not)", pattern = "^[A-Za-z0-9_-]{1,64}$"), DocumentQuery),
    request_body(content = crate::openapi::PdfBody, content_type = "application/pdf"),
    responses(
        (status = 201, body = DocumentDto),
        (status = 400, description = "`unknown_document_kind`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`document_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`not_a_pdf`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`not_joined`, `not_active` (the booking is cancelled), `meeting_closed`, `registration_in_progress`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<DocumentQuery>,
    request: Request,
) -> Result<(StatusCode, Json<DocumentDto>), AppError> {
    let b = booking_for(&state, &caller, &id, Who::BookerOrOperator).await?;
    let kind = DocumentKind::for_meeting(&q.kind)?;
    let booking_active = b.stage == BookingStage::Confirmed;
    state
        .service()
        .meeting(&b.id)
        .await?
        .accepts_document(booking_active)?;
    // Only now is the body read, judged, and stored (by content) before the
    // event that refers to it.
    let Body(bytes) = Body::from_request(request, &state).await?;
    let document = state.parse_pdf(bytes.clone()).await?;
    state.documents().put(&bytes).await?;
    let reference = document.to_ref(kind);
    let command = MeetingCommand::AttachDocument {
        document: reference.clone(),
        booking_active,
        at: state.now(),
    };
    run(&state, &caller, &b, command).await?;
    let id = reference.sha256.clone();
    Ok((
        StatusCode::CREATED,
        Json(DocumentDto::of(&reference, Some(id))),
    ))
}

/// M6: a document attached to the meeting, as uploaded; its id is its SHA-256.
/// It is served as a download (`Content-Disposition: attachment`), never
/// sniffed as another type (`X-Content-Type-Options: nosniff`), and, should
/// a browser open it anyway, in a sandbox with no scripts and an origin of
/// its own (`Content-Security-Policy: sandbox`); no cache keeps it.
#[utoipa::path(get, path = "/v1/bookings/{id}/meeting/documents/{document}", tag = "meetings",
    params(
        ("id" = String, Path, description = "booking id (404 for one that is not)", pattern = "^[A-Za-z0-9_-]{1,64}$"),
        ("document" = String, Path, description = "document id: its SHA-256 (404 for one that is not)", pattern = "^[0-9a-f]{64}$"),
    ),
    responses(
        (status = 200, description = "the PDF", content_type = "application/pdf", body = crate::openapi::PdfBody,
            headers(
                ("Content-Disposition" = String, description = "`attachment; filename=\"<sha256>.pdf\"`"),
                ("X-Content-Type-Options" = String, description = "`nosniff`"),
                ("Content-Security-Policy" = String, description = "`sandbox`"),
                ("Cache-Control" = String, description = "`no-store`"),
            )),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn download(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, document)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let b = booking_for(&state, &caller, &id, Who::Anyone).await?;
    let missing = || AppError::not_found(format!("document {document}"));
    let meeting = state.service().meeting(&b.id).await?;
    let Some(attached) = meeting.documents().iter().find(|d| d.sha256 == document) else {
        return Err(missing());
    };
    let bytes = state
        .documents()
        .get(&attached.sha256)
        .await?
        .ok_or_else(missing)?;
    // The name is the digest the meeting holds (64 hex digits), never
    // anything the request said.
    let disposition =
        HeaderValue::from_str(&format!("attachment; filename=\"{}.pdf\"", attached.sha256))
            .map_err(|e| {
                AppError::Internal(format!("a document's digest is not a header value: {e}"))
            })?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/pdf"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("sandbox"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        bytes,
    )
        .into_response())
}

/// M7: the operator completes the meeting, which registers the delegation
/// (channel `web_meeting`) under D1–D3; a refusing rule ends the meeting
/// with that rule's code.
#[utoipa::path(post, path = "/v1/bookings/{id}/meeting/complete", tag = "meetings",
    params(("id" = String, Path, description = "booking id (404 for one that is not)", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    responses(
        (status = 200, description = "outcome `delegation_registered`", body = Completed),
        (status = 403, description = "not an operator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`consent_missing`, `parties_missing`, `documents_missing`, `not_in_call`, `not_active` (the booking is cancelled); or the meeting ended refused by D1–D3 (`grantor_already_has_delegate`, `delegate_cap_reached`, `self_delegation`), with `outcome`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn complete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Completed>, AppError> {
    let b = booking_for(&state, &caller, &id, Who::Operator).await?;
    still_booked(&b)?;
    let command = MeetingCommand::Complete {
        delegation_id: DelegationId::parse(&new_id()).expect("a UUID is a valid id"),
        at: state.now(),
    };
    let m = run(&state, &caller, &b, command).await?;

    match m.outcome() {
        Some(Outcome::DelegationRegistered { delegation_id }) => {
            let d = state.delegation(delegation_id.as_str()).await?;
            Ok(Json(Completed {
                outcome: "delegation_registered".to_owned(),
                delegation: DelegationDto::from(&d),
            }))
        }
        Some(Outcome::RegistrationRefused { code }) => {
            Err(AppError::RegistrationRefused { code: code.clone() })
        }
        Some(_) => Err(MeetingError::MeetingClosed.into()),
        None => Err(MeetingError::Registering.into()),
    }
}

/// M8: the operator ends the meeting without a registration.
#[utoipa::path(post, path = "/v1/bookings/{id}/meeting/abandon", tag = "meetings",
    params(("id" = String, Path, description = "booking id (404 for one that is not)", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    request_body = Abandon,
    responses(
        (status = 200, description = "state `ended`", body = MeetingDto),
        (status = 403, description = "not an operator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`meeting_closed`, `registration_in_progress`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn abandon(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<Abandon>,
) -> Result<Json<MeetingDto>, AppError> {
    let b = booking_for(&state, &caller, &id, Who::Operator).await?;
    let outcome = match body.outcome {
        AbandonOutcome::GrantorAbsent => AbandonReason::GrantorAbsent,
        AbandonOutcome::NoShow => AbandonReason::NoShow,
        AbandonOutcome::TechnicalFailure => AbandonReason::TechnicalFailure,
        AbandonOutcome::DocumentsInvalid => AbandonReason::DocumentsInvalid,
    };
    let command = MeetingCommand::Abandon {
        outcome,
        booking: Some(EndedBooking {
            id: b.id.clone(),
            booker: b.booker.clone(),
        }),
        at: state.now(),
    };
    Ok(Json(MeetingDto::from(
        &run(&state, &caller, &b, command).await?,
    )))
}
