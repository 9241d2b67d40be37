//! The JSON shapes of docs/APP.md, as the app sends and accepts them, with their
//! OpenAPI schemas. Domain values are validated by the handlers (fiscal
//! codes, phones, ids), not by serde, so that each failure gets its own code.

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate, SecondsFormat, Utc};
use deleghe_adapters::projection::AuditEntry;
use deleghe_adapters::projection::{BookingView, DelegationView, NoticeView, SlotAvailability};
use deleghe_domain::delegation::Role;
use deleghe_domain::document::DocumentRef;
use deleghe_domain::meeting::{Meeting, Outcome};
use deleghe_domain::schedule::{Counter, Mode};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::openapi::{FiscalCodeText, PhoneText, Sha256Text};

// ------------------------------------------------------------------ delegations

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RoleDto {
    Ordinary,
    Tutor,
    Curator,
    SupportAdministrator,
    Parent,
}

impl From<RoleDto> for Role {
    fn from(r: RoleDto) -> Self {
        match r {
            RoleDto::Ordinary => Role::Ordinary,
            RoleDto::Tutor => Role::Tutor,
            RoleDto::Curator => Role::Curator,
            RoleDto::SupportAdministrator => Role::SupportAdministrator,
            RoleDto::Parent => Role::Parent,
        }
    }
}

/// The registration channels an operator may use (D5).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CounterChannelDto {
    Counter,
    Pec,
}

/// `POST /v1/delegations`: the grantor (the caller) names a delegate.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDelegation {
    /// The delegate's fiscal code.
    #[schema(value_type = FiscalCodeText, example = "VRDLGU70A01H501O")]
    pub delegate: String,
    /// D7: last day in force; none: no end. Online, at least 30 days ahead.
    pub ends_on: Option<NaiveDate>,
    /// D11: the SHA-256 of the copy of the caller's identity document,
    /// uploaded by the caller with `POST /v1/me/documents`. Required unless
    /// the policy waives it (`online_identity_document_required`).
    #[schema(value_type = Option<Sha256Text>)]
    pub identity_document: Option<String>,
}

/// `POST /v1/counter/delegations`: an operator registers a delegation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CounterDelegation {
    #[schema(value_type = FiscalCodeText, example = "RSSMRA85T10A562S")]
    pub grantor: String,
    #[schema(value_type = FiscalCodeText, example = "VRDLGU70A01H501O")]
    pub delegate: String,
    /// Default `ordinary`; legal roles wait for confirmation (D6).
    pub role: Option<RoleDto>,
    /// Default `counter`.
    pub channel: Option<CounterChannelDto>,
    pub ends_on: Option<NaiveDate>,
    /// D11: the SHA-256 of each document the registration is made on,
    /// uploaded by the calling operator with `POST /v1/counter/documents`:
    /// at a counter the form (AA08 or AA09; AA10 for a legal
    /// representative) and the grantor's identity document, by PEC the
    /// signed documents received. Required (the contract's field has no
    /// `?`): an empty list is refused by D11 with `evidence_missing`.
    #[schema(value_type = Vec<Sha256Text>)]
    pub documents: Vec<String>,
}

/// A delegation as returned.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct DelegationDto {
    pub id: String,
    pub grantor: String,
    pub delegate: String,
    /// `ordinary | tutor | curator | support_administrator | parent`.
    #[schema(value_type = RoleDto)]
    pub role: String,
    /// `online | counter | web_meeting | pec`.
    #[schema(value_type = DelegationChannelDto)]
    pub channel: String,
    /// `awaiting_confirmation | active | revoked | expired | rejected`.
    #[schema(value_type = DelegationStatusDto)]
    pub status: String,
    pub registered_at: Option<DateTime<Utc>>,
    pub ends_on: Option<NaiveDate>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// D8: first day the grantor may revoke online, while that is possible
    /// at all (an active ordinary delegation); null otherwise.
    pub revocable_online_from: Option<NaiveDate>,
    /// D11: the stored documents it was registered on.
    pub evidence: Vec<EvidenceDto>,
}

/// D11: one document a delegation was registered on.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct EvidenceDto {
    /// `identity_document | aa08 | aa09 | aa10 | pec`.
    #[schema(value_type = EvidenceKind)]
    pub kind: String,
    /// SHA-256 of the document, lowercase hex.
    pub sha256: String,
}

impl From<&DelegationView> for DelegationDto {
    fn from(d: &DelegationView) -> Self {
        Self {
            id: d.id.to_string(),
            grantor: d.grantor.to_string(),
            delegate: d.delegate.to_string(),
            role: d.role.as_str().to_owned(),
            channel: d.channel.as_str().to_owned(),
            status: d.status.as_str().to_owned(),
            registered_at: d.registered_at,
            ends_on: d.ends_on,
            revoked_at: d.revoked_at,
            revocable_online_from: d.revocable_online_from,
            evidence: d
                .evidence
                .documents()
                .iter()
                .map(|e| EvidenceDto {
                    kind: e.kind.as_str().to_owned(),
                    sha256: e.sha256.to_string(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DelegationList {
    pub items: Vec<DelegationDto>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DelegationQuery {
    /// The grantor's fiscal code.
    #[param(value_type = Option<FiscalCodeText>)]
    pub grantor: Option<String>,
    /// The delegate's fiscal code.
    #[param(value_type = Option<FiscalCodeText>)]
    pub delegate: Option<String>,
}

/// `POST /v1/sessions/act-as` (D9).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActAs {
    /// The grantor the caller is a delegate of.
    #[schema(value_type = FiscalCodeText, example = "RSSMRA85T10A562S")]
    pub grantor: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenDto {
    /// A bearer token whose claims add `act_for`.
    pub token: String,
}

// ------------------------------------------------------------------ counters

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ModeDto {
    InPerson,
    PhoneCallback,
    WebMeeting,
}

impl From<ModeDto> for Mode {
    fn from(m: ModeDto) -> Self {
        match m {
            ModeDto::InPerson => Mode::InPerson,
            ModeDto::PhoneCallback => Mode::PhoneCallback,
            ModeDto::WebMeeting => Mode::WebMeeting,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CounterDto {
    #[schema(example = "deleghe-web-meeting")]
    pub id: String,
    pub name: String,
    pub office: String,
    /// `in_person | phone_callback | web_meeting`.
    pub modes: Vec<String>,
}

impl From<&Counter> for CounterDto {
    fn from(c: &Counter) -> Self {
        Self {
            id: c.id.to_string(),
            name: c.name.clone(),
            office: c.office.to_string(),
            modes: c.modes.iter().map(|m| m.as_str().to_owned()).collect(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CounterList {
    pub items: Vec<CounterDto>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SlotQuery {
    /// First local date, `YYYY-MM-DD`.
    pub from: NaiveDate,
    /// Last local date, included.
    pub to: NaiveDate,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SlotDto {
    /// RFC 3339 with the Europe/Rome offset.
    #[schema(example = "2026-12-01T09:00:00+01:00")]
    pub start: String,
    pub end: String,
    /// Places still free (B4).
    pub free: u32,
}

impl From<&SlotAvailability> for SlotDto {
    fn from(s: &SlotAvailability) -> Self {
        Self {
            start: s.start.to_rfc3339_opts(SecondsFormat::Secs, false),
            end: s.end.to_rfc3339_opts(SecondsFormat::Secs, false),
            free: s.free,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SlotList {
    pub items: Vec<SlotDto>,
}

// ------------------------------------------------------------------ bookings

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct GrantorDto {
    /// The grantor's fiscal code (I1).
    #[schema(value_type = FiscalCodeText)]
    pub fiscal_code: String,
    /// At most 100 characters, not blank (surrounding spaces are trimmed).
    #[schema(pattern = "\\S", max_length = 100, example = "Laura")]
    pub first_name: String,
    /// At most 100 characters, not blank (surrounding spaces are trimmed).
    #[schema(pattern = "\\S", max_length = 100, example = "Bianchi")]
    pub last_name: String,
}

/// `POST /v1/bookings`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBooking {
    #[schema(example = "deleghe-web-meeting")]
    pub counter: String,
    /// The slot's start, RFC 3339 with an offset.
    #[schema(value_type = String, format = DateTime, example = "2026-12-01T09:00:00+01:00")]
    pub start: DateTime<FixedOffset>,
    pub mode: ModeDto,
    /// Why the citizen books: not blank, at most 500 characters (surrounding
    /// spaces are trimmed).
    #[schema(pattern = "\\S", max_length = 500, example = "Delega")]
    pub reason: String,
    /// An Italian mobile number for the SMS (N1).
    #[schema(value_type = PhoneText)]
    pub phone: String,
    /// B5: required for a web meeting at the delegations counter.
    pub grantor: Option<GrantorDto>,
}

/// B9: where an operator books from.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OperatorChannelDto {
    /// At the office's front desk ("prima accoglienza").
    FrontOffice,
    /// From the contact center.
    ContactCenter,
}

/// `POST /v1/counter/bookings` (B9): the citizen, the channel, and the
/// fields of `POST /v1/bookings`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CounterBooking {
    /// The citizen the booking is for.
    #[schema(value_type = FiscalCodeText)]
    pub citizen: String,
    pub channel: OperatorChannelDto,
    #[schema(example = "deleghe-web-meeting")]
    pub counter: String,
    /// The slot's start, RFC 3339 with an offset.
    #[schema(value_type = String, format = DateTime, example = "2026-12-01T09:00:00+01:00")]
    pub start: DateTime<FixedOffset>,
    pub mode: ModeDto,
    /// Why the citizen books: not blank, at most 500 characters (surrounding
    /// spaces are trimmed).
    #[schema(pattern = "\\S", max_length = 500, example = "Delega")]
    pub reason: String,
    /// An Italian mobile number for the SMS (N1).
    #[schema(value_type = PhoneText)]
    pub phone: String,
    /// B5: required for a web meeting at the delegations counter.
    pub grantor: Option<GrantorDto>,
}

impl CounterBooking {
    /// The booking asked, and the citizen it is for.
    pub fn into_parts(self) -> (NewBooking, String) {
        (
            NewBooking {
                counter: self.counter,
                start: self.start,
                mode: self.mode,
                reason: self.reason,
                phone: self.phone,
                grantor: self.grantor,
            },
            self.citizen,
        )
    }
}

/// B9: who booked for the citizen, as a booking shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BookedByDto {
    /// `front_office | contact_center`.
    #[schema(value_type = OperatorChannelDto)]
    pub channel: String,
}

/// A booking as "Le mie prenotazioni" and the operator's day list show it
/// (B7, M9). The access code is never shown: it travels by SMS (M2).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BookingDto {
    pub id: String,
    /// `confirmed | cancelled | served | missed` (B8).
    #[schema(value_type = BookingStatusDto)]
    pub status: String,
    /// B10: the code for the office's queue, e.g. `DJ301`; `null` until
    /// the booking holds its place.
    pub ticket_code: Option<String>,
    /// B9: set when an operator booked for the citizen.
    pub booked_by: Option<BookedByDto>,
    pub booker: String,
    pub counter: String,
    pub counter_name: String,
    pub office: String,
    /// `in_person | phone_callback | web_meeting`.
    #[schema(value_type = ModeDto)]
    pub mode: String,
    /// RFC 3339 with the Europe/Rome offset.
    #[schema(format = DateTime)]
    pub start: String,
    pub end: String,
    /// Local date, `DD/MM/YYYY`, as on the ticket.
    pub date: String,
    /// Local time, `HH:MM`.
    pub time: String,
    pub reason: String,
    pub phone: String,
    pub grantor: Option<GrantorDto>,
    /// B7: `detail`, `ticket`, `cancel`, `join_meeting`, as they apply now.
    #[schema(value_type = Vec<BookingActionDto>)]
    pub actions: Vec<String>,
    /// M9, web meetings only: `scheduled | waiting_room | in_call | registering | ended`.
    #[schema(value_type = Option<MeetingStateDto>)]
    pub meeting_state: Option<String>,
}

impl From<&BookingView> for BookingDto {
    fn from(b: &BookingView) -> Self {
        Self {
            id: b.id.to_string(),
            status: b.status.as_str().to_owned(),
            ticket_code: b.ticket_code.clone(),
            booked_by: b.booked_by.as_ref().map(|by| BookedByDto {
                channel: by.channel.as_str().to_owned(),
            }),
            booker: b.booker.to_string(),
            counter: b.counter.to_string(),
            counter_name: b.counter_name.clone(),
            office: b.office.to_string(),
            mode: b.mode.as_str().to_owned(),
            start: b.start.to_rfc3339_opts(SecondsFormat::Secs, false),
            end: b.end.to_rfc3339_opts(SecondsFormat::Secs, false),
            date: b.date.clone(),
            time: b.time.clone(),
            reason: b.reason.clone(),
            phone: b.phone.to_string(),
            grantor: b.grantor.as_ref().map(|g| GrantorDto {
                fiscal_code: g.fiscal_code.to_string(),
                first_name: g.first_name.clone(),
                last_name: g.last_name.clone(),
            }),
            actions: b.actions.clone(),
            meeting_state: b.meeting_state.map(|s| s.as_str().to_owned()),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BookingList {
    pub items: Vec<BookingDto>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BookingQuery {
    /// Operators: the office, their own by default (M11: another is 403
    /// `other_office`); not blank, at most 100 characters.
    #[param(pattern = "\\S", max_length = 100, example = "DCM NAPOLI")]
    pub office: Option<String>,
    /// Operators: the local date, today (Europe/Rome) by default.
    pub date: Option<NaiveDate>,
}

// ------------------------------------------------------------------ meetings

/// `POST .../meeting/join` (M2).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Join {
    /// The access code sent by SMS.
    pub code: String,
}

impl fmt::Debug for Join {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Join { code: [redacted] }")
    }
}

/// `POST .../meeting/consent` (M4).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Consent {
    pub recording: bool,
}

/// `POST .../meeting/attendance` (M5).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Attendance {
    pub grantor_present: bool,
    pub delegate_present: bool,
    pub grantor_able_to_consent: bool,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AbandonOutcome {
    GrantorAbsent,
    NoShow,
    TechnicalFailure,
    DocumentsInvalid,
}

/// `POST .../meeting/abandon` (M8).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Abandon {
    pub outcome: AbandonOutcome,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PresenceDto {
    pub grantor: bool,
    pub delegate: bool,
    pub grantor_able_to_consent: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DocumentDto {
    /// Present on upload answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `aa08 | identity_document`; for evidence (D11) also `aa09 | aa10 | pec`.
    pub kind: String,
    pub bytes: u64,
    pub sha256: String,
}

impl DocumentDto {
    pub fn of(d: &DocumentRef, id: Option<String>) -> Self {
        Self {
            id,
            kind: d.kind.as_str().to_owned(),
            bytes: d.bytes,
            sha256: d.sha256.clone(),
        }
    }
}

/// How a meeting ended: `kind` names it; `code` for a refused
/// registration, `delegation_id` for a registered one.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OutcomeDto {
    /// `delegation_registered | registration_refused | consent_denied |
    /// grantor_absent | no_show | technical_failure | documents_invalid`.
    #[schema(value_type = OutcomeKindDto)]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delegation_id: Option<String>,
}

impl From<&Outcome> for OutcomeDto {
    fn from(o: &Outcome) -> Self {
        Self {
            kind: o.code().to_owned(),
            code: match o {
                Outcome::RegistrationRefused { code } => Some(code.clone()),
                _ => None,
            },
            delegation_id: match o {
                Outcome::DelegationRegistered { delegation_id } => Some(delegation_id.to_string()),
                _ => None,
            },
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MeetingDto {
    /// `scheduled | waiting_room | in_call | registering | ended`.
    #[schema(value_type = MeetingStateDto)]
    pub state: String,
    /// M4: null until asked.
    pub consent: Option<bool>,
    /// M12: the identification part is being recorded now.
    pub recording: bool,
    pub present: PresenceDto,
    pub documents: Vec<DocumentDto>,
    pub outcome: Option<OutcomeDto>,
}

impl From<&Meeting> for MeetingDto {
    fn from(m: &Meeting) -> Self {
        let v = m.view();
        Self {
            state: v.state.as_str().to_owned(),
            consent: v.consent,
            recording: v.recording,
            present: PresenceDto {
                grantor: v.present.grantor,
                delegate: v.present.delegate,
                grantor_able_to_consent: v.present.grantor_able_to_consent,
            },
            documents: v
                .documents
                .iter()
                .map(|d| DocumentDto::of(d, None))
                .collect(),
            outcome: v.outcome.as_ref().map(OutcomeDto::from),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DocumentQuery {
    /// `aa08 | identity_document`.
    #[param(value_type = MeetingDocumentKind)]
    pub kind: String,
}

/// D11: `POST /v1/me/documents?kind=identity_document`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MyDocumentQuery {
    /// `identity_document`.
    #[param(value_type = OwnDocumentKind)]
    pub kind: String,
}

/// D11: `POST /v1/counter/documents?kind=...`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CounterDocumentQuery {
    /// `aa08 | aa09 | aa10 | identity_document | pec`.
    #[param(value_type = EvidenceKind)]
    pub kind: String,
}

/// `POST .../meeting/complete`, success.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Completed {
    /// `delegation_registered`.
    pub outcome: String,
    pub delegation: DelegationDto,
}

// ------------------------------------------------------------------ personal area

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NoticeDto {
    pub id: String,
    pub title: String,
    pub body: String,
    /// When the notice was posted (RFC 3339, Europe/Rome offset).
    pub date: String,
    pub read: bool,
}

impl From<&NoticeView> for NoticeDto {
    fn from(n: &NoticeView) -> Self {
        Self {
            id: n.id.clone(),
            title: n.title.clone(),
            body: n.body.clone(),
            date: n.date.to_rfc3339_opts(SecondsFormat::Secs, false),
            read: n.read,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NoticeList {
    pub items: Vec<NoticeDto>,
}

// ------------------------------------------------------------------ audit

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// The grantor whose trail is wanted.
    #[param(value_type = FiscalCodeText)]
    pub grantor: String,
}

/// D9: one action taken on behalf of a grantor.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditDto {
    /// The event's position in the log.
    pub position: i64,
    /// For whom.
    pub grantor: String,
    /// Who: `citizen:CF`.
    pub actor: String,
    /// What: the event, e.g. `BookingRequested`.
    pub action: String,
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// When (RFC 3339, UTC).
    pub at: Option<String>,
    pub channel: Option<String>,
    /// The request that did it (its `x-request-id`).
    pub correlation_id: Option<String>,
}

impl From<AuditEntry> for AuditDto {
    fn from(a: AuditEntry) -> Self {
        Self {
            position: a.position,
            grantor: a.grantor,
            actor: a.actor,
            action: a.action,
            aggregate_type: a.aggregate_type,
            aggregate_id: a.aggregate_id,
            at: a.at,
            channel: a.channel,
            correlation_id: a.correlation_id,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditList {
    pub items: Vec<AuditDto>,
}

// ------------------------------------------------------------------ contacts

/// N7: a citizen's contacts (`GET`/`PUT /v1/me/contacts`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ContactsDto {
    /// The mobile for SMS, `+39…`, or none.
    #[schema(example = "+393331234567")]
    pub phone: Option<String>,
    /// Whether messages also go to the IO app.
    pub io: bool,
}

/// `PUT /v1/me/contacts`: what is absent stays as it is; `"phone": null`
/// removes the mobile.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactsChange {
    /// An Italian mobile (`3331234567`, `+39 333 123 4567`), or `null`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<PhoneText>)]
    pub phone: Option<Option<String>>,
    /// Whether messages also go to the IO app.
    #[serde(default)]
    pub io: Option<bool>,
}

/// A field that is present, `null` or not: `Some(None)` for `null`, and
/// (with `#[serde(default)]`) `None` when absent.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

// ------------------------------------------------------------------ PIN

/// `POST /v1/me/pin` (P1).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPin {
    /// `1d | 1w | 1m | 3m`.
    #[schema(value_type = PinValidityDto, example = "1w")]
    pub validity: String,
}

/// Shown once (P3).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct PinIssued {
    pub pin: String,
    pub valid_until: DateTime<Utc>,
}

impl fmt::Debug for PinIssued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinIssued")
            .field("pin", &"[redacted]")
            .field("valid_until", &self.valid_until)
            .finish()
    }
}

/// `POST /v1/pin/verify` (P3).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PinCheckRequest {
    /// The citizen whose PIN is read out.
    #[schema(value_type = FiscalCodeText)]
    pub fiscal_code: String,
    /// The PIN as the citizen reads it out.
    pub pin: String,
}

impl fmt::Debug for PinCheckRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinCheckRequest")
            .field("fiscal_code", &self.fiscal_code)
            .field("pin", &"[redacted]")
            .finish()
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PinValid {
    pub valid: bool,
}

// ------------------------------------------------------------------ the rest

/// `PUT /dev/clock`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockDto {
    #[schema(example = "2026-12-01T08:00:00Z")]
    pub now: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
}

/// Every 4xx/5xx body (`application/problem+json`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable, machine-readable, snake_case.
    pub code: String,
}

/// `202 Accepted`: a registration or booking stored whose flow outlived the
/// request; ask `location` (also the `Location` header) for the outcome.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Pending {
    /// Always `pending`.
    #[schema(example = "pending")]
    pub code: String,
    pub detail: String,
    /// The id of the delegation or booking asked.
    pub id: String,
    #[schema(example = "/v1/delegations/d-4b1c")]
    pub location: String,
}

// ------------------------------------------------------------------ enums of the document

/// P1: how long a PIN lasts. For the document only: the handler reads the
/// text, so that anything else is `invalid_validity`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub enum PinValidityDto {
    /// A day.
    #[schema(rename = "1d")]
    Day,
    /// A week.
    #[schema(rename = "1w")]
    Week,
    /// A month.
    #[schema(rename = "1m")]
    Month,
    /// Three months.
    #[schema(rename = "3m")]
    ThreeMonths,
}

/// M6: the documents of a web meeting. For the document only: the handler
/// reads the text, so that anything else is `unknown_document_kind`.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum MeetingDocumentKind {
    /// Form AA08, the delegation request.
    Aa08,
    /// A copy of the grantor's identity document.
    IdentityDocument,
}

/// D11: a citizen's own evidence. For the document only, as above.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum OwnDocumentKind {
    /// A copy of the citizen's identity document.
    IdentityDocument,
}

/// D5, D11: the documents an operator uploads. For the document only, as
/// above.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum EvidenceKind {
    /// Form AA08, the delegation request.
    Aa08,
    /// A copy of the grantor's identity document.
    IdentityDocument,
    /// Form AA09: the request handed in by the delegate for a grantor kept
    /// away by ill health.
    Aa09,
    /// Form AA10: the request of a legal representative.
    Aa10,
    /// A digitally signed document received by PEC.
    Pec,
}

/// D5: the channels a delegation is registered by. For the document only.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum DelegationChannelDto {
    /// Online, by the grantor.
    Online,
    /// At a counter.
    Counter,
    /// In a web meeting (M7).
    WebMeeting,
    /// By PEC.
    Pec,
}

/// What a delegation is, as answered (D6, D7, D8). For the document only.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum DelegationStatusDto {
    /// A legal representative's, waiting for an operator (D6).
    AwaitingConfirmation,
    /// In force.
    Active,
    /// Revoked (D8).
    Revoked,
    /// Past its last day (D7).
    Expired,
    /// Rejected by an operator (D6).
    Rejected,
}

/// B8: what a booking is, as answered. For the document only.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum BookingStatusDto {
    /// Holding its place.
    Confirmed,
    /// Cancelled by its booker (B6).
    Cancelled,
    /// The citizen was served.
    Served,
    /// Nobody came.
    Missed,
}

/// B7: what a citizen may do with a booking now. For the document only.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum BookingActionDto {
    /// See it.
    Detail,
    /// Print its ticket.
    Ticket,
    /// Cancel it.
    Cancel,
    /// Join its web meeting.
    JoinMeeting,
}

/// M9: where a web meeting stands. For the document only.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum MeetingStateDto {
    /// Not joined yet.
    Scheduled,
    /// The booker waits for an operator (M3).
    WaitingRoom,
    /// An operator took it in charge.
    InCall,
    /// Completed, its registration under way (M7).
    Registering,
    /// Over, with an outcome.
    Ended,
}

/// M7, M8: how a web meeting ended. For the document only.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum OutcomeKindDto {
    /// The delegation was registered.
    DelegationRegistered,
    /// A rule refused the registration (`code`).
    RegistrationRefused,
    /// Consent was denied (M4).
    ConsentDenied,
    /// The grantor was absent.
    GrantorAbsent,
    /// Nobody came.
    NoShow,
    /// The call failed.
    TechnicalFailure,
    /// The documents were not valid.
    DocumentsInvalid,
}

/// ADR 0014: the log position a read of the read models must see, as the
/// `min_position` query parameter (the `If-Min-Position` header wins).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // the OpenAPI document only: `position::MinPosition` reads it
pub struct ReadAtQuery {
    /// Answer only once the read models have applied the log up to this
    /// position (what a write answered in `Position`), waiting a few
    /// seconds at most (then 503 `read_models_behind`).
    #[param(minimum = 0)]
    pub min_position: Option<i64>,
}

/// ADR 0014: the log position a read of the read models must see, as a
/// header.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // the OpenAPI document only: `position::MinPosition` reads it
pub struct ReadAtHeader {
    /// Answer only once the read models have applied the log up to this
    /// position (what a write answered in `Position`), waiting a few
    /// seconds at most (then 503 `read_models_behind`).
    #[param(rename = "If-Min-Position", minimum = 0, nullable = false)]
    pub if_min_position: Option<i64>,
}
