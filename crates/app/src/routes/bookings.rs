//! Counters and bookings (B1–B7): the counters offered, their free slots,
//! booking (by the citizen, or by an operator for them, B9), the citizen's
//! and the office's bookings, cancelling, the ticket (B10), and how a
//! booking ended (B8).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use deleghe_adapters::projection::QueryError;
use deleghe_domain::booking::{
    BookedBy, BookerCommand, BookingError, BookingId, BookingStage, BookingStatus, GrantorDetails,
    OperatorChannel, Phone, RequestBooking, Settler, Ticket,
};
use deleghe_domain::schedule::{Mode, OfficeId};
use deleghe_domain::time::ROME;
use deleghe_domain::FiscalCode;

use crate::auth::Caller;
use crate::dto::{
    BookingDto, BookingList, BookingQuery, CounterBooking, CounterDto, CounterList, NewBooking,
    OperatorChannelDto, Pending, Problem, ReadAtHeader, ReadAtQuery, SlotDto, SlotList, SlotQuery,
};
use crate::error::AppError;
use crate::extract::{Json, Path, Query};
use crate::position::MinPosition;
use crate::routes::new_id;
use crate::state::AppState;

/// Longest range of days one slot listing may cover.
pub const MAX_SLOT_RANGE_DAYS: i64 = 62;
/// Longest booking reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// The counters offered, in configuration order.
#[utoipa::path(get, path = "/v1/counters", tag = "bookings",
    responses((status = 200, body = CounterList)),
    security(("bearer" = [])))]
pub async fn counters(State(state): State<AppState>, _caller: Caller) -> Json<CounterList> {
    Json(CounterList {
        items: state
            .counters()
            .all()
            .iter()
            .map(CounterDto::from)
            .collect(),
    })
}

/// B3, B4: the slots a counter offers on the local dates `from` to `to`
/// (at most 62 days), with their free places.
#[utoipa::path(get, path = "/v1/counters/{id}/slots", tag = "bookings",
    params(("id" = String, Path, description = "counter id"), SlotQuery, ReadAtQuery, ReadAtHeader),
    responses(
        (status = 200, body = SlotList),
        (status = 503, description = "`read_models_behind`: the read models did not reach the position asked for in time; `Retry-After` says when to ask again", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "`invalid_request`: a date missing or not `YYYY-MM-DD`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "unknown counter", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_range` (with `max`): `to` before `from`, or a range over 62 days; `position_beyond_log`: a `min_position` or `If-Min-Position` past the end of the log, which no write answered", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn slots(
    State(state): State<AppState>,
    _caller: Caller,
    at: MinPosition,
    Path(id): Path<String>,
    Query(q): Query<SlotQuery>,
) -> Result<Json<SlotList>, AppError> {
    let counter = state
        .counters()
        .get(&id)
        .ok_or_else(|| AppError::not_found(format!("counter {id}")))?;
    let range = |detail: String| AppError::InvalidRange {
        detail,
        max: MAX_SLOT_RANGE_DAYS,
    };
    if q.to < q.from {
        return Err(range(format!(
            "the range starts on {}, after its end {}",
            q.from, q.to
        )));
    }
    if (q.to - q.from).num_days() >= MAX_SLOT_RANGE_DAYS {
        return Err(range(format!(
            "a listing covers at most {MAX_SLOT_RANGE_DAYS} days"
        )));
    }
    let slots = state
        .read(at)
        .await?
        .slot_availability(counter, q.from, q.to)
        .await
        .map_err(|e| match e {
            QueryError::Range(e) => range(e.to_string()),
            QueryError::Store(e) => AppError::Service(e),
        })?;
    Ok(Json(SlotList {
        items: slots.iter().map(SlotDto::from).collect(),
    }))
}

/// B1–B6: a citizen books a slot; for a web meeting at the delegations
/// counter, the would-be delegate books and names the grantor (B5). The
/// access code goes out by SMS (N1), never in this answer.
#[utoipa::path(post, path = "/v1/bookings", tag = "bookings",
    request_body = NewBooking,
    responses(
        (status = 201, description = "confirmed", body = BookingDto),
        (status = 202, description = "accepted, its flow still under way: `Location` names the resource to poll, `Retry-After` when", body = Pending, headers(("Location" = String, description = "the resource to poll"), ("Retry-After" = u32, description = "seconds"))),
        (status = 400, description = "`invalid_request` (e.g. a bad phone), `invalid_fiscal_code`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "unknown counter", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`counter_already_booked`, `booking_limit_reached`, `slot_not_offered`, `mode_not_offered`, `slot_full`, `slot_started`, `grantor_details_required`, `self_delegation`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "an operator; `not_allowed_when_acting` (D12): a web meeting at the delegations counter asked for with an act-as token", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewBooking>,
) -> Result<(StatusCode, Json<BookingDto>), AppError> {
    let booker = caller.citizen()?.clone();
    book(&state, &caller, booker, body, None, "web").await
}

/// B9: an operator books for a citizen, at the front desk or from the
/// contact center, under the same rules B1–B6; the booking records who made
/// it, and the log who acted.
#[utoipa::path(post, path = "/v1/counter/bookings", tag = "counter",
    request_body = CounterBooking,
    responses(
        (status = 201, description = "confirmed, made for the citizen", body = BookingDto),
        (status = 202, description = "accepted, its flow still under way: `Location` names the resource to poll, `Retry-After` when", body = Pending, headers(("Location" = String, description = "the resource to poll"), ("Retry-After" = u32, description = "seconds"))),
        (status = 400, description = "`invalid_request`, `invalid_fiscal_code`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an operator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "unknown counter", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "the codes of `POST /v1/bookings`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn counter_create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<CounterBooking>,
) -> Result<(StatusCode, Json<BookingDto>), AppError> {
    let operator = caller.operator_id()?;
    let citizen = FiscalCode::parse(&body.citizen).map_err(AppError::fiscal_code("citizen"))?;
    let channel = match body.channel {
        OperatorChannelDto::FrontOffice => OperatorChannel::FrontOffice,
        OperatorChannelDto::ContactCenter => OperatorChannel::ContactCenter,
    };
    let booked_by = BookedBy { operator, channel };
    let (booking, _) = body.into_parts();
    book(
        &state,
        &caller,
        citizen,
        booking,
        Some(booked_by),
        channel.as_str(),
    )
    .await
}

/// B1–B6 (and B9): books for `booker` what `body` asks.
async fn book(
    state: &AppState,
    caller: &Caller,
    booker: FiscalCode,
    body: NewBooking,
    booked_by: Option<BookedBy>,
    channel: &str,
) -> Result<(StatusCode, Json<BookingDto>), AppError> {
    let counter = state
        .counters()
        .get(&body.counter)
        .ok_or_else(|| AppError::not_found(format!("counter {}", body.counter)))?
        .clone();
    let phone = Phone::parse(&body.phone).map_err(|e| AppError::invalid(e.to_string()))?;
    let reason = body.reason.trim().to_owned();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err(AppError::invalid(format!(
            "the reason is required, at most {MAX_REASON_CHARS} characters"
        )));
    }
    let grantor = match body.grantor {
        None => None,
        Some(g) => {
            let code = FiscalCode::parse(&g.fiscal_code)
                .map_err(AppError::fiscal_code("grantor.fiscal_code"))?;
            Some(
                GrantorDetails::new(code, &g.first_name, &g.last_name)
                    .map_err(|e| AppError::invalid(e.to_string()))?,
            )
        }
    };
    let id = BookingId::parse(&new_id()).expect("a UUID is a valid booking id");
    // M2, M10: the code is derived from the deployment's key; only its
    // digest is stored, and the SMS carries the code (N1).
    let (_, access_code) = state.keys().access_codes().issue(&id, 0);
    let request = RequestBooking {
        id,
        booker,
        counter,
        start: body.start.with_timezone(&Utc),
        mode: Mode::from(body.mode),
        reason,
        phone,
        grantor,
        access_code,
        at: state.now(),
        booked_by,
    };
    // D12: a web meeting that would register a delegation is asked for by
    // the would-be delegate in person, never by a delegate acting for them.
    if request.registers_a_delegation() && request.booked_by.is_none() {
        caller.own_citizen()?;
    }
    let booking = state
        .service()
        .book(request, &caller.metadata(channel))
        .await?;
    let view = state.booking_view(&booking).await?;
    Ok((StatusCode::CREATED, Json(BookingDto::from(&view))))
}

/// A citizen's own bookings ("Le mie prenotazioni", B7); an operator's
/// console: the bookings of an office on a day, with their meeting state
/// (M9), by default the operator's own office, today (Europe/Rome).
#[utoipa::path(get, path = "/v1/bookings", tag = "bookings",
    params(BookingQuery, ReadAtQuery, ReadAtHeader),
    responses(
        (status = 200, body = BookingList),
        (status = 422, description = "`position_beyond_log`: a `min_position` or `If-Min-Position` past the end of the log, which no write answered", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`read_models_behind`: the read models did not reach the position asked for in time; `Retry-After` says when to ask again", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "`invalid_request`: a date that is not `YYYY-MM-DD`, a blank office", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`other_office` (M11): another office's day", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    at: MinPosition,
    Query(q): Query<BookingQuery>,
) -> Result<Json<BookingList>, AppError> {
    // Checked whoever asks, though a citizen's list does not use them.
    let office = q
        .office
        .as_deref()
        .map(OfficeId::parse)
        .transpose()
        .map_err(|e| AppError::invalid(e.to_string()))?;
    let read = state.read(at).await?;
    let found = if caller.is_operator() {
        let (_, mine) = caller.operator()?;
        let office = match office {
            Some(office) => office,
            None => OfficeId::parse(mine).map_err(|e| AppError::invalid(e.to_string()))?,
        };
        let date = q
            .date
            .unwrap_or_else(|| state.now().with_timezone(&ROME).date_naive());
        // M11: the days of the operator's own office only.
        if office.as_str() != mine {
            return Err(BookingError::OtherOffice { office }.into());
        }
        read.bookings_by_office_day(&office, date).await?
    } else {
        read.bookings_of(caller.citizen()?).await?
    };
    // A request still in its flow, or refused, was never a booking.
    Ok(Json(BookingList {
        items: found
            .iter()
            .filter(|b| !matches!(b.status, BookingStatus::Pending | BookingStatus::Refused))
            .map(BookingDto::from)
            .collect(),
    }))
}

/// One booking: its booker, or an operator.
#[utoipa::path(get, path = "/v1/bookings/{id}", tag = "bookings",
    params(("id" = String, Path, description = "booking id (404 for one that is not)", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    responses(
        (status = 200, body = BookingDto),
        (status = 202, description = "its request is accepted and still being settled: ask again after `Retry-After`", body = Pending, headers(("Location" = String, description = "this resource"), ("Retry-After" = u32, description = "seconds"))),
        (status = 422, description = "its request was refused: the refusing rule's own code", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`, also when it is someone else's", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<BookingDto>, AppError> {
    let b = state.booking_outcome(&id).await?;
    if !caller.may_see(&b.booker) {
        return Err(AppError::not_found(format!("booking {id}")));
    }
    let b = deleghe_adapters::service::settled_booking(b)?;
    Ok(Json(BookingDto::from(&state.booking_view(&b).await?)))
}

/// B6: the booker cancels until the slot starts; the place is given back and
/// the reminder withdrawn (N2).
#[utoipa::path(delete, path = "/v1/bookings/{id}", tag = "bookings",
    params(("id" = String, Path, description = "booking id (404 for one that is not)", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    responses(
        (status = 200, description = "status `cancelled`", body = BookingDto),
        (status = 403, description = "`not_allowed_when_acting` (D12): a web meeting that registers a delegation, cancelled by a delegate acting for the booker", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`slot_started`, `not_active`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<BookingDto>, AppError> {
    let me = caller.citizen()?.clone();
    let b = state.booking(&id).await?;
    if b.booker != me {
        return Err(AppError::not_found(format!("booking {id}")));
    }
    // D12: a meeting that would register a delegation to the booker is
    // theirs to cancel in person, as it was theirs to ask for.
    if b.registers_a_delegation() {
        caller.own_citizen()?;
    }
    let command = BookerCommand::Cancel {
        id: b.id.clone(),
        at: state.now(),
    };
    let after = state
        .service()
        .booking_command(&me, &b.id, command, &caller.metadata("web"))
        .await?;
    Ok(Json(BookingDto::from(&state.booking_view(&after).await?)))
}

/// B7: the ticket of a confirmed booking, as a PDF.
#[utoipa::path(get, path = "/v1/bookings/{id}/ticket", tag = "bookings",
    params(("id" = String, Path, description = "booking id (404 for one that is not)", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    responses(
        (status = 200, description = "the ticket", content_type = "application/pdf", body = crate::openapi::PdfBody),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`not_active`: only a confirmed booking has a ticket", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn ticket(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let me = caller.citizen()?;
    let b = state.booking(&id).await?;
    if &b.booker != me {
        return Err(AppError::not_found(format!("booking {id}")));
    }
    if b.stage != BookingStage::Confirmed {
        return Err(BookingError::NotActive.into());
    }
    let pdf = crate::pdf::one_page("INPS - Prenota accesso in sede", &Ticket::of(&b).lines());
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"ticket-{}.pdf\"", b.id),
            ),
        ],
        pdf,
    )
        .into_response())
}

/// B8: an operator of the booking's office records how it ended, once its
/// slot has started (a web meeting's end records it by itself).
async fn settle(
    state: &AppState,
    caller: &Caller,
    id: &str,
    served: bool,
) -> Result<Json<BookingDto>, AppError> {
    let (_, office) = caller.operator()?;
    let b = state.booking(id).await?;
    // M11: the bookings of the operator's own office only.
    b.check_office(office)?;
    let (id, by, at) = (b.id.clone(), Settler::Operator, state.now());
    let command = if served {
        BookerCommand::MarkServed { id, by, at }
    } else {
        BookerCommand::MarkMissed { id, by, at }
    };
    let after = state
        .service()
        .booking_command(&b.booker, &b.id, command, &caller.metadata("counter"))
        .await?;
    Ok(Json(BookingDto::from(&state.booking_view(&after).await?)))
}

/// B8: the citizen was served at the counter or on the phone.
#[utoipa::path(post, path = "/v1/counter/bookings/{id}/served", tag = "counter",
    params(("id" = String, Path, description = "booking id (404 for one that is not)", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    responses(
        (status = 200, description = "status `served`", body = BookingDto),
        (status = 403, description = "not an operator, or of another office (`other_office`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`not_active`, `slot_not_started`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn served(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<BookingDto>, AppError> {
    settle(&state, &caller, &id, true).await
}

/// B8: the citizen did not come.
#[utoipa::path(post, path = "/v1/counter/bookings/{id}/missed", tag = "counter",
    params(("id" = String, Path, description = "booking id (404 for one that is not)", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    responses(
        (status = 200, description = "status `missed`", body = BookingDto),
        (status = 403, description = "not an operator, or of another office (`other_office`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`not_active`, `slot_not_started`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn missed(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<BookingDto>, AppError> {
    settle(&state, &caller, &id, false).await
}
