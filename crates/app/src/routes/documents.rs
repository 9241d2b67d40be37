//! D11: the documents a registration is made on, uploaded before it: a
//! citizen's copy of their identity document (online), and an operator's
//! forms, identity documents and PEC documents (at a counter, by PEC). Each
//! passes M6's checks (a PDF by content, at most 3 MiB), judged by the same
//! code as a meeting's documents ([`AppState::parse_pdf`]), is stored in the
//! document store, and is recorded as uploaded by its caller
//! ([`deleghe_domain::uploads`]): a registration names only documents its
//! own requester uploaded.

use std::str::FromStr;

use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use deleghe_domain::document::{DocumentError, DocumentKind};

use crate::auth::Caller;
use crate::dto::{CounterDocumentQuery, DocumentDto, MyDocumentQuery, Problem};
use crate::error::AppError;
use crate::extract::{Body, Json, Query};
use crate::state::AppState;

/// Reads the body, judges it (M6), stores it and records who uploaded it.
async fn store(
    state: &AppState,
    caller: &Caller,
    kind: DocumentKind,
    channel: &str,
    request: Request,
) -> Result<(StatusCode, Json<DocumentDto>), AppError> {
    let Body(bytes) = Body::from_request(request, state).await?;
    let document = state.parse_pdf(bytes.clone()).await?;
    state.documents().put(&bytes).await?;
    let reference = document.to_ref(kind);
    state
        .service()
        .record_upload(reference.clone(), &caller.metadata(channel))
        .await?;
    Ok((StatusCode::CREATED, Json(DocumentDto::of(&reference, None))))
}

/// D11: a citizen uploads a copy of their identity document, for an online
/// registration (`identity_document` in `POST /v1/delegations`). Only the
/// citizen in person: a delegate acting for them gives no evidence in their
/// name (D12).
#[utoipa::path(post, path = "/v1/me/documents", tag = "delegations",
    params(MyDocumentQuery),
    request_body(content = crate::openapi::PdfBody, content_type = "application/pdf"),
    responses(
        (status = 201, description = "stored: `{kind, sha256, bytes}`", body = DocumentDto),
        (status = 400, description = "`unknown_document_kind` (anything but `identity_document`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "an operator, or an act-as session (`not_allowed_when_acting`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`document_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`not_a_pdf`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn upload_mine(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<MyDocumentQuery>,
    request: Request,
) -> Result<(StatusCode, Json<DocumentDto>), AppError> {
    caller.own_citizen()?;
    let kind = DocumentKind::from_str(&q.kind)?;
    if kind != DocumentKind::IdentityDocument {
        return Err(DocumentError::UnknownKind(q.kind).into());
    }
    store(&state, &caller, kind, "web", request).await
}

/// D11: an operator uploads a document of a counter or PEC registration
/// (`documents` in `POST /v1/counter/delegations`).
#[utoipa::path(post, path = "/v1/counter/documents", tag = "counter",
    params(CounterDocumentQuery),
    request_body(content = crate::openapi::PdfBody, content_type = "application/pdf"),
    responses(
        (status = 201, description = "stored: `{kind, sha256, bytes}`", body = DocumentDto),
        (status = 400, description = "`unknown_document_kind`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an operator", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`document_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`not_a_pdf`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn upload_counter(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<CounterDocumentQuery>,
    request: Request,
) -> Result<(StatusCode, Json<DocumentDto>), AppError> {
    caller.operator()?;
    let kind = DocumentKind::from_str(&q.kind)?;
    store(&state, &caller, kind, "counter", request).await
}
