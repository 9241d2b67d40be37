//! The OpenAPI document of `GET /openapi.json`, generated from the handlers'
//! `#[utoipa::path]` attributes and the DTOs' schemas: it cannot drift from
//! the code.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::dto;
use crate::routes::{bookings, delegations, documents, meetings, personal, system};

/// A PDF file, as a request or response body.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct PdfBody(pub Vec<u8>);

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "HS256; claims `sub` (fiscal code), `role` (`citizen` | `operator`), \
                         `auth` (`spid` | `cie` | `cns`, citizens), `office` (operators), `exp`, \
                         and `act_for` on act-as tokens (D9)",
                    ))
                    .build(),
            ),
        );
    }
}

/// The answers any operation may give that its handler does not list: the
/// error funnel's (`crate::error`), so that the document states every
/// status a client can get. Added where the operation does not already
/// declare the status.
struct CommonAnswers;

impl CommonAnswers {
    fn problem(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build()
            .into()
    }
}

impl Modify for CommonAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let always_up = path == "/health/live" || path == "/openapi.json";
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
                let has_body = operation.request_body.is_some();
                let has_input =
                    has_body || operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
                let mut add = |status: &str, description: &str| {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| Self::problem(description));
                };
                if has_input {
                    add("400", "`invalid_request`: malformed JSON, a missing, unknown or mistyped field, a bad query or path");
                }
                if secured {
                    add("401", "`unauthorized`: no valid bearer token");
                    add("403", "`forbidden`: signed in, not allowed");
                }
                if path.contains('{') {
                    add(
                        "404",
                        "`not_found`: no such resource, or one the caller may not see",
                    );
                }
                if has_body {
                    add("413", "`payload_too_large`: a body over the limit");
                }
                if !always_up {
                    add(
                        "408",
                        "`request_timeout`: the request's head, body or whole took too long",
                    );
                    add(
                        "500",
                        "`internal_error`: a fault of the app (the cause is logged, not sent)",
                    );
                    add("503", "`unavailable`: the store is unreachable");
                }
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "deleghe",
        description = "INPS digital-identity delegations: registration and revocation (D1–D9), \
                       the evidence of a registration (D11), \
                       bookings (B1–B7), web meetings (M1–M9), notices (N3), telephone PIN (P1–P3). \
                       Every error is application/problem+json with a stable `code`."
    ),
    paths(
        system::health,
        system::live,
        system::ready,
        crate::metrics::render,
        system::policy,
        system::openapi,
        system::get_clock,
        system::set_clock,
        system::reset_clock,
        delegations::create,
        delegations::list,
        delegations::get,
        delegations::revoke,
        delegations::counter_create,
        delegations::confirm,
        delegations::reject,
        delegations::counter_revoke,
        delegations::act_as,
        delegations::audit,
        documents::upload_mine,
        documents::upload_counter,
        bookings::counters,
        bookings::slots,
        bookings::create,
        bookings::list,
        bookings::get,
        bookings::cancel,
        bookings::ticket,
        bookings::counter_create,
        bookings::served,
        bookings::missed,
        meetings::get,
        meetings::join,
        meetings::take_in_charge,
        meetings::consent,
        meetings::attendance,
        meetings::upload,
        meetings::download,
        meetings::complete,
        meetings::abandon,
        meetings::new_code,
        personal::notices,
        personal::mark_read,
        personal::mark_unread,
        personal::delete_notice,
        personal::contacts,
        personal::change_contacts,
        personal::issue_pin,
        personal::verify_pin,
    ),
    components(schemas(
        dto::Problem,
        dto::Pending,
        dto::DelegationDto,
        dto::DelegationList,
        dto::EvidenceDto,
        dto::BookingDto,
        dto::BookingList,
        dto::MeetingDto,
        dto::OutcomeDto,
        PdfBody,
    )),
    modifiers(&BearerAuth, &CommonAnswers),
    tags(
        (name = "delegations", description = "D1–D9, citizens"),
        (name = "counter", description = "D5, D6, D8 at a counter, B8, B9: operators"),
        (name = "bookings", description = "B1–B10"),
        (name = "meetings", description = "M1–M12"),
        (name = "personal area", description = "N3, N7"),
        (name = "telephone PIN", description = "P1–P3"),
        (name = "system", description = "health and this document"),
        (name = "development", description = "only with --dev or DELEGHE_DEV_CLOCK=1; otherwise 404"),
    )
)]
pub struct ApiDoc;
