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

/// The format name of a fiscal code in the document: its pattern states the
/// layout, the format the rest of I1 (the day exists in its month, the
/// check character matches).
pub const FISCAL_CODE_FORMAT: &str = "fiscal-code";

/// I1, as a regular expression: the layout `AAAAAA99A99A999A` of
/// `deleghe_domain::FiscalCode::parse`, the digits possibly replaced by
/// omocodia letters (`LMNPQRSTUV`), the month one of `ABCDEHLMPRST`, the day
/// 01–31 or 41–71, in either case. The parser also trims surrounding spaces.
pub const FISCAL_CODE_PATTERN: &str = concat!(
    "^[A-Za-z]{6}",
    "[0-9L-NP-Vl-np-v]{2}",
    "[ABCDEHLMPRSTabcdehlmprst]",
    "(?:[04LQlq][1-9M-NP-Vm-np-v]|[1256MNRSmnrs][0-9L-NP-Vl-np-v]|[37PTpt][01LMlm])",
    "[A-Za-z][0-9L-NP-Vl-np-v]{3}[A-Za-z]$"
);

/// N7, B5: an Italian mobile number as `deleghe_domain::booking::Phone::parse`
/// accepts it: `3` and 8 or 9 more digits, after an optional `+39` or
/// `0039`, with spaces, `-`, `.` or `/` anywhere between.
pub const PHONE_PATTERN: &str = concat!(
    "^[ ./-]*(?:\\+[ ./-]*3[ ./-]*9[ ./-]*|0[ ./-]*0[ ./-]*3[ ./-]*9[ ./-]*)?",
    "3(?:[ ./-]*[0-9]){8,9}[ ./-]*$"
);

/// D11, M6: a document's SHA-256, 64 lowercase hex digits.
pub const SHA256_PATTERN: &str = "^[0-9a-f]{64}$";

/// The ids of delegations and bookings: 1 to 64 letters, digits, `-`, `_`.
pub const ID_PATTERN: &str = "^[A-Za-z0-9_-]{1,64}$";

/// A string schema with a pattern, for the named components below.
fn string_schema(
    pattern: &str,
    format: Option<&str>,
    length: Option<(usize, usize)>,
    description: &str,
    example: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaFormat, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(format.map(|f| SchemaFormat::Custom(f.to_owned())))
        .pattern(Some(pattern))
        .min_length(length.map(|l| l.0))
        .max_length(length.map(|l| l.1))
        .description(Some(description))
        .examples([serde_json::json!(example)])
        .into()
}

/// I1: a fiscal code, as requests give it (component `FiscalCode`).
pub struct FiscalCodeText;

impl utoipa::PartialSchema for FiscalCodeText {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        string_schema(
            FISCAL_CODE_PATTERN,
            Some(FISCAL_CODE_FORMAT),
            Some((16, 16)),
            "A fiscal code (I1): the layout of the pattern, a day that exists in its month, \
             and the check character of the 15 before it; upper or lower case. \
             Anything else is 400 `invalid_fiscal_code`, naming the field.",
            "RSSMRA85T10A562S",
        )
    }
}

impl ToSchema for FiscalCodeText {
    fn name() -> std::borrow::Cow<'static, str> {
        "FiscalCode".into()
    }
}

/// N7, B5: an Italian mobile number (component `Phone`).
pub struct PhoneText;

impl utoipa::PartialSchema for PhoneText {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        string_schema(
            PHONE_PATTERN,
            None,
            None,
            "An Italian mobile number: `3331234567`, `+39 333 123 4567`, `0039-333-1234567`",
            "+39 333 123 4567",
        )
    }
}

impl ToSchema for PhoneText {
    fn name() -> std::borrow::Cow<'static, str> {
        "Phone".into()
    }
}

/// D11: a document's digest (component `Sha256`).
pub struct Sha256Text;

impl utoipa::PartialSchema for Sha256Text {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        string_schema(
            SHA256_PATTERN,
            None,
            Some((64, 64)),
            "The SHA-256 of a stored document, 64 lowercase hex digits",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        )
    }
}

impl ToSchema for Sha256Text {
    fn name() -> std::borrow::Cow<'static, str> {
        "Sha256".into()
    }
}

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
            for (writes, operation) in [
                (false, &mut item.get),
                (true, &mut item.put),
                (true, &mut item.post),
                (true, &mut item.delete),
                (true, &mut item.patch),
            ]
            .into_iter()
            .filter_map(|(writes, operation)| Some((writes, operation.as_mut()?)))
            {
                let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
                let has_body = operation.request_body.is_some();
                let json_body = operation
                    .request_body
                    .as_ref()
                    .is_some_and(|b| b.content.contains_key("application/json"));
                // The commands of the library: every write of `/v1` but
                // act-as, which mints a token and stores nothing, and the
                // notices', which change a read model only.
                let commands = writes
                    && path.starts_with("/v1/")
                    && path != "/v1/sessions/act-as"
                    && !path.starts_with("/v1/me/notices/");
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
                add(
                    "414",
                    "`uri_too_long`: a path and query over the limit (`max`, in bytes)",
                );
                if json_body {
                    add(
                        "415",
                        "`unsupported_media_type`: a body not sent as `application/json`",
                    );
                }
                if commands {
                    add(
                        "409",
                        "`conflict`: a concurrent update won, and the retries did too",
                    );
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

/// ADR 0014: every write that succeeds answers with the log position it
/// reached, in the `Position` header and, in a JSON object body, as
/// `position` (`crate::position::stamp`).
struct Positions;

impl Modify for Positions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::header::HeaderBuilder;
        use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaFormat, Type};
        use utoipa::openapi::{KnownFormat, RefOr};
        let position = || {
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .minimum(Some(0))
        };
        let mut stamped = std::collections::BTreeSet::new();
        for item in openapi.paths.paths.values_mut() {
            let writes = [
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in writes.into_iter().filter_map(Option::as_mut) {
                for (status, response) in operation.responses.responses.iter_mut() {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    if !status.starts_with('2') {
                        continue;
                    }
                    response.headers.insert(
                        "Position".into(),
                        HeaderBuilder::new()
                            .schema(position())
                            .description(Some(
                                "The log position this write reached: name it in \
                                 `If-Min-Position` (or `min_position`) to read the read \
                                 models with it applied.",
                            ))
                            .build(),
                    );
                    for content in response.content.values() {
                        if let Some(RefOr::Ref(schema)) = &content.schema {
                            if let Some(name) = schema.ref_location.rsplit('/').next() {
                                stamped.insert(name.to_owned());
                            }
                        }
                    }
                }
            }
        }
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        for name in stamped {
            if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(&name) {
                object.properties.insert(
                    "position".into(),
                    position()
                        .description(Some(
                            "On the answer of a write only: the log position it reached \
                             (as the `Position` header).",
                        ))
                        .into(),
                );
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
                       Every error is application/problem+json with a stable `code`; \
                       a method a path does not answer is 405 `method_not_allowed`, with `Allow`."
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
        dto::PinValidityDto,
        dto::MeetingDocumentKind,
        dto::OwnDocumentKind,
        dto::EvidenceKind,
        dto::DelegationChannelDto,
        dto::DelegationStatusDto,
        dto::BookingStatusDto,
        dto::BookingActionDto,
        dto::MeetingStateDto,
        dto::OutcomeKindDto,
        FiscalCodeText,
        PhoneText,
        Sha256Text,
        PdfBody,
    )),
    modifiers(&BearerAuth, &CommonAnswers, &Positions),
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
/// The OpenAPI document: `ApiDoc::openapi()` (from [`utoipa::OpenApi`]).
///
/// ```
/// use deleghe_app::openapi::ApiDoc;
/// use utoipa::OpenApi;
///
/// let document = ApiDoc::openapi();
/// let create = document.paths.paths["/v1/delegations"].post.as_ref().unwrap();
/// // Every status the operation can give, errors as problem+json.
/// for status in ["201", "202", "400", "401", "403", "409", "415", "422", "503"] {
///     assert!(create.responses.responses.contains_key(status), "{status}");
/// }
/// ```
pub struct ApiDoc;
