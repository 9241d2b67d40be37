//! Delegations (D1–D9): registration online and at a counter, confirmation
//! of legal representatives' (D6), revocation (D8), reading, and act-as
//! sessions (D9).

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use deleghe_domain::delegation::{
    Channel, Delegation, DelegationId, Evidence, EvidenceDocument, GrantorCommand,
    RequestDelegation, RevocationChannel, Role, Status,
};
use deleghe_domain::document::DocumentDigest;
use deleghe_domain::{FiscalCode, Issuer};

use crate::auth::{Caller, Principal, Role as TokenRole, TokenRequest};
use crate::dto::{
    ActAs, AuditDto, AuditList, AuditQuery, CounterChannelDto, CounterDelegation, DelegationDto,
    DelegationList, DelegationQuery, NewDelegation, Pending, Problem, ReadAtHeader, ReadAtQuery,
    TokenDto,
};
use crate::error::AppError;
use crate::extract::{Json, Path, Query};
use crate::position::MinPosition;
use crate::routes::new_id;
use crate::state::AppState;

fn dto(state: &AppState, d: &Delegation) -> DelegationDto {
    DelegationDto::from(&state.delegation_view(d))
}

fn fresh_id() -> DelegationId {
    DelegationId::parse(&new_id()).expect("a UUID is a valid delegation id")
}

/// D11: the evidence `named` points to, each `(field, digest)` a document
/// `uploader` uploaded and the document store holds. A digest that is not
/// one is 400 `invalid_request`; one naming no such document is 422
/// `unknown_document`, both with the field. Whether the evidence is enough
/// for the channel is the rules' to say (`evidence_missing`).
async fn evidence_of(
    state: &AppState,
    uploader: &Issuer,
    named: Vec<(String, String)>,
) -> Result<Evidence, AppError> {
    if named.is_empty() {
        return Ok(Evidence::default());
    }
    let mut documents = Vec::with_capacity(named.len());
    for (field, text) in named {
        let sha256 = DocumentDigest::parse(&text).map_err(|error| AppError::InvalidDigest {
            field: field.clone(),
            error,
        })?;
        let unknown = || AppError::UnknownDocument {
            field: field.clone(),
            sha256: sha256.to_string(),
        };
        let uploaded = state
            .service()
            .uploaded(uploader, sha256.as_str())
            .await?
            .ok_or_else(unknown)?;
        // Swept since (unused for longer than the grace period): upload it again.
        if !state.documents().contains(sha256.as_str()).await? {
            return Err(unknown());
        }
        documents.push(EvidenceDocument {
            kind: uploaded.kind,
            sha256,
        });
    }
    Ok(Evidence::new(documents))
}

/// The grantor registers a delegation online (D1, D2, D4, D5, D7).
#[utoipa::path(post, path = "/v1/delegations", tag = "delegations",
    request_body = NewDelegation,
    responses(
        (status = 201, description = "registered, active", body = DelegationDto),
        (status = 202, description = "accepted, its flow still under way: `Location` names the resource to poll, `Retry-After` when", body = Pending, headers(("Location" = String, description = "the resource to poll"), ("Retry-After" = u32, description = "seconds"))),
        (status = 400, description = "`invalid_request` (also a malformed `identity_document`, with `field`), `invalid_fiscal_code`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "an operator; `not_allowed_when_acting` for an act-as token (D12); `no_active_delegation`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`self_delegation`, `grantor_already_has_delegate`, `delegate_cap_reached`, `end_date_too_soon`, `evidence_missing` (with `missing`), `unknown_document` (a digest naming no document the caller uploaded, with `field` and `sha256`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewDelegation>,
) -> Result<(StatusCode, Json<DelegationDto>), AppError> {
    let grantor = caller.citizen()?.clone();
    let delegate = FiscalCode::parse(&body.delegate).map_err(AppError::fiscal_code("delegate"))?;
    let meta = caller.metadata("web");
    // D11: the grantor's own upload. A delegate acting for the grantor is
    // refused by the rules (D12), whatever the body names.
    let by = meta.issuer();
    let named = match (&body.identity_document, by.acting_for()) {
        (Some(sha256), None) => vec![("identity_document".to_owned(), sha256.clone())],
        _ => vec![],
    };
    let evidence = evidence_of(&state, &by, named).await?;
    let request = RequestDelegation {
        id: fresh_id(),
        grantor,
        delegate,
        role: Role::Ordinary,
        channel: Channel::Online,
        ends_on: body.ends_on,
        meeting: None,
        evidence,
        at: state.now(),
    };
    let d = state.service().register_delegation(request, &meta).await?;
    Ok((StatusCode::CREATED, Json(dto(&state, &d))))
}

/// An operator registers a delegation at a counter or from a PEC (D5, D6).
#[utoipa::path(post, path = "/v1/counter/delegations", tag = "counter",
    request_body = CounterDelegation,
    responses(
        (status = 201, description = "registered: active, or awaiting confirmation for legal roles", body = DelegationDto),
        (status = 202, description = "accepted, its flow still under way: `Location` names the resource to poll, `Retry-After` when", body = Pending, headers(("Location" = String, description = "the resource to poll"), ("Retry-After" = u32, description = "seconds"))),
        (status = 400, description = "`invalid_request` (also a malformed digest in `documents`, with `field`), `invalid_fiscal_code`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an operator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`self_delegation`, `grantor_already_has_delegate`, `delegate_cap_reached`, `end_date_too_soon`, `pec_needs_legal_representative`, `evidence_missing` (with `missing`), `unknown_document` (a digest naming no document the calling operator uploaded, with `field` and `sha256`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn counter_create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<CounterDelegation>,
) -> Result<(StatusCode, Json<DelegationDto>), AppError> {
    caller.operator()?;
    let grantor = FiscalCode::parse(&body.grantor).map_err(AppError::fiscal_code("grantor"))?;
    let delegate = FiscalCode::parse(&body.delegate).map_err(AppError::fiscal_code("delegate"))?;
    let channel = match body.channel.unwrap_or(CounterChannelDto::Counter) {
        CounterChannelDto::Counter => Channel::Counter,
        CounterChannelDto::Pec => Channel::Pec,
    };
    let meta = caller.metadata(channel.as_str());
    // D11: the documents this operator uploaded.
    let named = body
        .documents
        .into_iter()
        .enumerate()
        .map(|(i, sha256)| (format!("documents[{i}]"), sha256))
        .collect();
    let evidence = evidence_of(&state, &meta.issuer(), named).await?;
    let request = RequestDelegation {
        id: fresh_id(),
        grantor,
        delegate,
        role: body.role.map(Role::from).unwrap_or(Role::Ordinary),
        channel,
        ends_on: body.ends_on,
        meeting: None,
        evidence,
        at: state.now(),
    };
    let d = state.service().register_delegation(request, &meta).await?;
    Ok((StatusCode::CREATED, Json(dto(&state, &d))))
}

async fn operator_command(
    state: &AppState,
    caller: &Caller,
    id: &str,
    command: impl FnOnce(DelegationId, DateTime<Utc>, Issuer) -> GrantorCommand,
) -> Result<Json<DelegationDto>, AppError> {
    caller.operator()?;
    let d = state.delegation(id).await?;
    let meta = caller.metadata("counter");
    let command = command(d.id.clone(), state.now(), meta.issuer());
    let after = state
        .service()
        .delegation_command(&d.grantor, command, &meta)
        .await?;
    Ok(Json(dto(state, &after)))
}

/// D6: an operator confirms a legal representative's delegation.
#[utoipa::path(post, path = "/v1/counter/delegations/{id}/confirm", tag = "counter",
    params(("id" = String, Path, description = "delegation id (404 for one that is not)", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    responses(
        (status = 200, description = "active", body = DelegationDto),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`not_awaiting_confirmation`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn confirm(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<DelegationDto>, AppError> {
    operator_command(&state, &caller, &id, |id, at, _| GrantorCommand::Confirm {
        id,
        at,
    })
    .await
}

/// D6: an operator rejects a legal representative's delegation.
#[utoipa::path(post, path = "/v1/counter/delegations/{id}/reject", tag = "counter",
    params(("id" = String, Path, description = "delegation id (404 for one that is not)", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    responses(
        (status = 200, description = "rejected", body = DelegationDto),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`not_awaiting_confirmation`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn reject(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<DelegationDto>, AppError> {
    operator_command(&state, &caller, &id, |id, at, _| GrantorCommand::Reject {
        id,
        at,
    })
    .await
}

/// D8: an operator revokes a delegation at a counter, at any time.
#[utoipa::path(post, path = "/v1/counter/delegations/{id}/revoke", tag = "counter",
    params(("id" = String, Path, description = "delegation id (404 for one that is not)", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    responses(
        (status = 200, description = "revoked", body = DelegationDto),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`not_active`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn counter_revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<DelegationDto>, AppError> {
    operator_command(&state, &caller, &id, |id, at, by| GrantorCommand::Revoke {
        id,
        channel: RevocationChannel::Counter,
        at,
        by,
    })
    .await
}

/// D8: the grantor revokes online, once 30 days have passed.
#[utoipa::path(post, path = "/v1/delegations/{id}/revoke", tag = "delegations",
    params(("id" = String, Path, description = "delegation id (404 for one that is not)", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    responses(
        (status = 200, description = "revoked", body = DelegationDto),
        (status = 403, description = "the delegate, or an operator (who revokes at the counter)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`online_revocation_too_early` (with `revocable_online_from`), `not_active`, `revocation_needs_counter`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<DelegationDto>, AppError> {
    let me = caller.citizen()?.clone();
    let d = state.delegation(&id).await?;
    if d.grantor != me {
        return Err(if d.delegate == me {
            AppError::Forbidden("only the grantor revokes a delegation online")
        } else {
            AppError::not_found(format!("delegation {id}"))
        });
    }
    let after = state
        .service()
        .revoke_delegation(
            &d.grantor,
            &d.id,
            RevocationChannel::Online,
            state.now(),
            &caller.metadata("web"),
        )
        .await?;
    Ok(Json(dto(&state, &after)))
}

/// One delegation: its grantor, its delegate, or an operator.
#[utoipa::path(get, path = "/v1/delegations/{id}", tag = "delegations",
    params(("id" = String, Path, description = "delegation id (404 for one that is not)", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    responses(
        (status = 200, body = DelegationDto),
        (status = 202, description = "its request is accepted and still being settled: ask again after `Retry-After`", body = Pending, headers(("Location" = String, description = "this resource"), ("Retry-After" = u32, description = "seconds"))),
        (status = 422, description = "its request was refused: the refusing rule's own code", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`, also when it is someone else's", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<DelegationDto>, AppError> {
    let d = state.delegation_outcome(&id).await?;
    if !(caller.may_see(&d.grantor) || caller.may_see(&d.delegate)) {
        return Err(AppError::not_found(format!("delegation {id}")));
    }
    let d = state.settled_delegation(d).await?;
    Ok(Json(DelegationDto::from(&d)))
}

/// The delegations a grantor gave (`grantor`), a delegate received
/// (`delegate`), or one gave the other (both); without either, a citizen's
/// own, given and received.
#[utoipa::path(get, path = "/v1/delegations", tag = "delegations",
    params(DelegationQuery, ReadAtQuery, ReadAtHeader),
    responses(
        (status = 200, body = DelegationList),
        (status = 503, description = "`read_models_behind`: the read models did not reach the position asked for in time; `Retry-After` says when to ask again", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "`invalid_fiscal_code`, naming the parameter", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "another citizen's list", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`citizen_required`: an operator names the grantor or the delegate; `position_beyond_log`: a `min_position` or `If-Min-Position` past the end of the log, which no write answered", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    at: MinPosition,
    Query(q): Query<DelegationQuery>,
) -> Result<Json<DelegationList>, AppError> {
    let parse = |text: &Option<String>, field| {
        text.as_deref()
            .map(|t| FiscalCode::parse(t).map_err(AppError::fiscal_code(field)))
            .transpose()
    };
    let grantor = parse(&q.grantor, "grantor")?;
    let delegate = parse(&q.delegate, "delegate")?;
    let read = state.read(at).await?;
    let found = match (grantor, delegate) {
        (Some(g), d) => {
            // Both named: the one may see it if they are either party.
            if !(caller.may_see(&g) || d.as_ref().is_some_and(|d| caller.may_see(d))) {
                return Err(AppError::Forbidden(
                    "a citizen lists only their own delegations",
                ));
            }
            let given = read.delegations_by_grantor(&g).await?;
            match d {
                Some(d) => given.into_iter().filter(|x| x.delegate == d).collect(),
                None => given,
            }
        }
        (None, Some(d)) => {
            if !caller.may_see(&d) {
                return Err(AppError::Forbidden(
                    "a citizen lists only their own delegations",
                ));
            }
            read.delegations_by_delegate(&d).await?
        }
        (None, None) => {
            let Ok(me) = caller.citizen() else {
                return Err(AppError::CitizenRequired);
            };
            let mut mine = read.delegations_by_grantor(me).await?;
            mine.extend(read.delegations_by_delegate(me).await?);
            mine
        }
    };
    // A request still in its flow, or refused, was never a delegation: the
    // contract lists none (its own `Location` answers for it).
    Ok(Json(DelegationList {
        items: found
            .iter()
            .filter(|d| !matches!(d.status, Status::Pending | Status::Refused))
            .map(DelegationDto::from)
            .collect(),
    }))
}

/// D9: the actions taken on behalf of a grantor (who, for whom, what,
/// when): for the grantor and for operators.
#[utoipa::path(get, path = "/v1/audit", tag = "delegations",
    params(AuditQuery, ReadAtQuery, ReadAtHeader),
    responses(
        (status = 200, body = AuditList),
        (status = 422, description = "`position_beyond_log`: a `min_position` or `If-Min-Position` past the end of the log, which no write answered", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`read_models_behind`: the read models did not reach the position asked for in time; `Retry-After` says when to ask again", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "`invalid_fiscal_code`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "another citizen's trail", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn audit(
    State(state): State<AppState>,
    caller: Caller,
    at: MinPosition,
    Query(q): Query<AuditQuery>,
) -> Result<Json<AuditList>, AppError> {
    let grantor = FiscalCode::parse(&q.grantor).map_err(AppError::fiscal_code("grantor"))?;
    if !caller.may_see(&grantor) {
        return Err(AppError::Forbidden(
            "a citizen reads only their own audit trail",
        ));
    }
    let items = state.read(at).await?.audit_trail(&grantor).await?;
    Ok(Json(AuditList {
        items: items.into_iter().map(AuditDto::from).collect(),
    }))
}

/// D9: a delegate gets a token to act for a grantor whose delegation to
/// them is active. Every request made with it is checked again and traced.
#[utoipa::path(post, path = "/v1/sessions/act-as", tag = "delegations",
    request_body = ActAs,
    responses(
        (status = 200, description = "a token whose claims add `act_for`", body = TokenDto),
        (status = 403, description = "`no_active_delegation`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn act_as(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<ActAs>,
) -> Result<Json<TokenDto>, AppError> {
    let me = caller.own_citizen()?.clone();
    let Principal::Citizen { auth, .. } = &caller.principal else {
        unreachable!("own_citizen checked the role")
    };
    let grantor = FiscalCode::parse(&body.grantor).map_err(AppError::fiscal_code("grantor"))?;
    state.check_acting_for(&me, &grantor).await?;
    // Real time, as the tokens are checked against it (not the dev clock).
    let now = Utc::now();
    // An act-as session never outlives the session it comes from, nor the
    // longest life of a token.
    let parent_expires = DateTime::from_timestamp(caller.expires_at, 0).unwrap_or(now);
    let token = state.keys().issue(&TokenRequest {
        sub: me.clone(),
        role: TokenRole::Citizen,
        auth: Some(*auth),
        office: None,
        act_for: Some(grantor.clone()),
        issued_at: now,
        expires_at: parent_expires.min(now + state.keys().rules().max_lifetime()),
    })?;
    // No fiscal code at info: the audit trail says who acts for whom.
    tracing::info!("act-as session opened (D9)");
    Ok(Json(TokenDto { token }))
}
