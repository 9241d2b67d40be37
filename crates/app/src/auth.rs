//! Authentication and who may do what (docs/APP.md, "Authentication and authorization").
//!
//! `Authorization: Bearer <JWT>`, HS256, claims `sub` (fiscal code), `role`
//! (`citizen` | `operator`), `auth` (`spid` | `cie` | `cns`, citizens, I2),
//! `office` (operators), `iat` and `exp`, `nbf` where present, and `iss` and
//! `aud` when [`TokenRules`] name an issuer and an audience; an act-as token
//! (D9) adds `act_for`, the grantor the delegate acts for. A token missing,
//! malformed, expired, not yet valid, issued in the future, living longer
//! than [`TokenRules::max_minutes`] from `iat` to `exp`, or badly signed is
//! 401, and so is an operator's whose `office` is not one of the offices
//! of the configured counters. Times are checked against real time, never
//! the development clock.
//!
//! An act-as token is honoured only while the delegation is active, checked
//! on every request (403 `no_active_delegation` otherwise); every command it
//! issues carries [`Metadata::on_behalf_of`], so the audit trail says who
//! acted for whom.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use chrono::{DateTime, Duration, Utc};
use deleghe_adapters::codes::AccessCodes;
use deleghe_adapters::Metadata;
use deleghe_domain::{FiscalCode, Issuer};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::Secret;
use crate::error::AppError;
use crate::privacy::Pseudonyms;
use crate::state::AppState;

/// Who a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A citizen, acting for themselves (or, with `act_for`, for a grantor).
    Citizen,
    /// An operator of an office (`office`).
    Operator,
}

/// I2: how a citizen signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// SPID, the public digital identity system.
    Spid,
    /// CIE, the electronic identity card.
    Cie,
    /// CNS, the national services card.
    Cns,
}

/// The claims of a bearer token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The caller's fiscal code.
    pub sub: String,
    /// Citizen or operator.
    pub role: Role,
    /// I2: how a citizen signed in (required for citizens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthMethod>,
    /// An operator's office (required for operators).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub office: Option<String>,
    /// Issued at (seconds): required, optional here only so that its
    /// absence is answered by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Not before (seconds), honoured where present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Expiry (seconds).
    pub exp: i64,
    /// The issuer, checked when [`TokenRules::issuer`] is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The audience, checked when [`TokenRules::audience`] is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// D9: the grantor an act-as token acts for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act_for: Option<String>,
}

/// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY_SECONDS: i64 = 5;
/// The default of [`TokenRules::max_minutes`] (`DELEGHE_TOKEN_MAX_MINUTES`).
pub const DEFAULT_TOKEN_MAX_MINUTES: i64 = 720;

/// What a token must satisfy beyond its signature, and what the tokens the
/// app mints carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRules {
    /// The longest life of a token, from `iat` to `exp`, in minutes.
    pub max_minutes: i64,
    /// When set, tokens must carry this `iss`.
    pub issuer: Option<String>,
    /// When set, tokens must carry this `aud`.
    pub audience: Option<String>,
}

impl Default for TokenRules {
    fn default() -> Self {
        Self {
            max_minutes: DEFAULT_TOKEN_MAX_MINUTES,
            issuer: None,
            audience: None,
        }
    }
}

impl TokenRules {
    /// [`TokenRules::max_minutes`] as a duration.
    pub fn max_lifetime(&self) -> Duration {
        Duration::try_minutes(self.max_minutes).unwrap_or(Duration::MAX)
    }

    /// `iat` present, not in the future, and at most the maximum before `exp`.
    fn check_times(&self, claims: &Claims, now: i64) -> Result<(), AppError> {
        let iat = claims
            .iat
            .ok_or(AppError::Unauthorized("the token has no issue time (iat)"))?;
        if iat > now + LEEWAY_SECONDS {
            return Err(AppError::Unauthorized(
                "the token is issued in the future (iat)",
            ));
        }
        if claims.exp.saturating_sub(iat) > self.max_minutes.saturating_mul(60) {
            return Err(AppError::TokenTooLong {
                max_minutes: self.max_minutes,
            });
        }
        Ok(())
    }
}

/// The HS256 key, for signing and checking, the rules of its tokens, and
/// what else is derived from the deployment's one secret: the access codes
/// of web meetings (M10).
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    codes: AccessCodes,
    pseudonyms: Pseudonyms,
    rules: TokenRules,
    verified: Arc<Verified>,
}

/// How many verified tokens [`JwtKeys`] keeps.
const VERIFIED_TOKENS: usize = 4096;

/// The tokens a [`JwtKeys`] has verified, by their exact text, with what
/// was read from them ([`Bearer`]): a client sends the same token with
/// every request, and one seen again is neither decoded nor its signature
/// checked again, nor its fiscal codes parsed or its pseudonyms computed
/// again; its times are checked again at every use ([`JwtKeys::verify`]).
/// Only a token whose signature, claims, fiscal codes and times passed is
/// kept, so no one but a holder of such a token can fill it (what the
/// caller's claims name, an office or an act-as delegation, is checked on
/// every request, after); when full it starts again empty. Keys under
/// other rules keep their own ([`JwtKeys::with_rules`]).
#[derive(Default)]
struct Verified(Mutex<HashMap<Box<str>, Arc<Bearer>>>);

impl Verified {
    fn get(&self, token: &str) -> Option<Arc<Bearer>> {
        self.0.lock().ok()?.get(token).cloned()
    }

    fn keep(&self, token: &str, bearer: &Arc<Bearer>) {
        let Ok(mut kept) = self.0.lock() else { return };
        if kept.len() >= VERIFIED_TOKENS {
            kept.clear();
        }
        kept.insert(token.into(), Arc::clone(bearer));
    }
}

/// A verified token as the extractor needs it, read once: its claims, the
/// fiscal codes they name, parsed, and how the caller appears in the
/// request's span ([`Bearer::label`]).
#[derive(Debug)]
pub(crate) struct Bearer {
    claims: Claims,
    /// `sub`, parsed.
    me: FiscalCode,
    /// `act_for`, parsed.
    act_for: Option<FiscalCode>,
    /// Role and, for an act-as token, for whom; people by their pseudonym
    /// only.
    label: Box<str>,
}

impl Bearer {
    /// Reads `claims`; a fiscal code that does not parse makes the token
    /// malformed.
    fn read(claims: Claims, pseudonyms: &Pseudonyms) -> Result<Self, AppError> {
        let me = FiscalCode::parse(&claims.sub).map_err(|_| malformed())?;
        let act_for = match &claims.act_for {
            None => None,
            Some(grantor) => Some(FiscalCode::parse(grantor).map_err(|_| malformed())?),
        };
        let label = match (claims.role, &act_for) {
            (Role::Citizen, Some(g)) => {
                format!("citizen:{} for {}", pseudonyms.of(&me), pseudonyms.of(g))
            }
            (Role::Citizen, None) => format!("citizen:{}", pseudonyms.of(&me)),
            (Role::Operator, _) => format!(
                "operator:{}@{}",
                pseudonyms.of(&me),
                claims.office.as_deref().unwrap_or_default()
            ),
        };
        Ok(Self {
            claims,
            me,
            act_for,
            label: label.into(),
        })
    }
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys([redacted])")
    }
}

impl JwtKeys {
    /// The key with the default [`TokenRules`].
    pub fn new(secret: &Secret) -> Self {
        let bytes = secret.expose().as_bytes();
        Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            codes: AccessCodes::new(bytes),
            pseudonyms: Pseudonyms::new(bytes),
            rules: TokenRules::default(),
            verified: Arc::default(),
        }
    }

    /// M2, M10: the keys the access codes are derived and digested with.
    pub fn access_codes(&self) -> &AccessCodes {
        &self.codes
    }

    /// How logs name people.
    pub fn pseudonyms(&self) -> &Pseudonyms {
        &self.pseudonyms
    }

    /// The same key, checking and minting under `rules`.
    pub fn with_rules(self, rules: TokenRules) -> Self {
        Self {
            rules,
            verified: Arc::default(),
            ..self
        }
    }

    /// What tokens must satisfy, and what those minted carry.
    pub fn rules(&self) -> &TokenRules {
        &self.rules
    }

    /// Signs `claims` as they are (see [`JwtKeys::issue`] to mint a token).
    pub fn sign(&self, claims: &Claims) -> Result<String, AppError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| AppError::Internal(format!("cannot sign a token: {e}")))
    }

    /// Mints the token of `request`, with the issuer and audience of the
    /// rules; one living longer than the rules allow is a fault of the caller.
    pub fn issue(&self, request: &TokenRequest) -> Result<String, AppError> {
        if request.expires_at - request.issued_at > self.rules.max_lifetime() {
            return Err(AppError::Internal(format!(
                "a token was minted living longer than {} minutes",
                self.rules.max_minutes
            )));
        }
        let claims = Claims {
            iss: self.rules.issuer.clone(),
            aud: self.rules.audience.clone(),
            ..request.claims()
        };
        self.sign(&claims)
    }

    /// Checks signature, algorithm, `exp`, `nbf`, `iat` and the lifetime,
    /// `iss` and `aud` when the rules name them (real time, not the dev
    /// clock), and that `sub` and any `act_for` are fiscal codes.
    ///
    /// A token verified before is taken from the tokens this key keeps (its
    /// claims, by its exact text); its times are checked again, every time.
    pub fn verify(&self, token: &str) -> Result<Claims, AppError> {
        self.verify_at(token, Utc::now().timestamp())
    }

    /// [`JwtKeys::verify`] with the times checked at `now` (seconds).
    fn verify_at(&self, token: &str, now: i64) -> Result<Claims, AppError> {
        self.bearer_at(token, now)
            .map(|bearer| bearer.claims.clone())
    }

    /// [`JwtKeys::verify`], and the token read for the extractor
    /// ([`Bearer`]), kept with it.
    fn bearer(&self, token: &str) -> Result<Arc<Bearer>, AppError> {
        self.bearer_at(token, Utc::now().timestamp())
    }

    /// [`JwtKeys::bearer`] with the times checked at `now` (seconds).
    fn bearer_at(&self, token: &str, now: i64) -> Result<Arc<Bearer>, AppError> {
        if let Some(bearer) = self.verified.get(token) {
            self.check_clock(&bearer.claims, now)?;
            return Ok(bearer);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        // The times are checked once, by `check_clock` below, for a token
        // verified now and one kept alike; `exp` is still required.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let mut required = vec!["exp", "sub"];
        if let Some(issuer) = &self.rules.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        if let Some(audience) = &self.rules.audience {
            validation.set_audience(&[audience]);
            required.push("aud");
        }
        validation.set_required_spec_claims(&required);
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                AppError::Unauthorized(match e.kind() {
                    ErrorKind::InvalidSignature => "the token is not signed by this service",
                    ErrorKind::InvalidIssuer => "the token is not from the expected issuer (iss)",
                    ErrorKind::InvalidAudience => "the token is not meant for this service (aud)",
                    ErrorKind::MissingRequiredClaim(c) if c == "iss" => {
                        "the token has no issuer (iss)"
                    }
                    ErrorKind::MissingRequiredClaim(c) if c == "aud" => {
                        "the token has no audience (aud)"
                    }
                    _ => "the token is malformed",
                })
            })?;
        self.check_clock(&claims, now)?;
        let bearer = Arc::new(Bearer::read(claims, &self.pseudonyms)?);
        self.verified.keep(token, &bearer);
        Ok(bearer)
    }

    /// `exp` and `nbf`, with [`LEEWAY_SECONDS`] either way (jsonwebtoken's
    /// own checks of them are off), then [`TokenRules::check_times`], at
    /// `now`: the only check of a token's times.
    fn check_clock(&self, claims: &Claims, now: i64) -> Result<(), AppError> {
        if claims.exp < now - LEEWAY_SECONDS {
            return Err(AppError::Unauthorized("the token has expired"));
        }
        if claims.nbf.is_some_and(|nbf| nbf > now + LEEWAY_SECONDS) {
            return Err(AppError::Unauthorized("the token is not yet valid (nbf)"));
        }
        self.rules.check_times(claims, now)
    }
}

/// Mints a token (the `token` subcommand, act-as sessions, tests) with
/// [`JwtKeys::issue`].
pub struct TokenRequest {
    /// Whom the token is for (`sub`).
    pub sub: FiscalCode,
    /// Citizen or operator.
    pub role: Role,
    /// I2: how the citizen signed in.
    pub auth: Option<AuthMethod>,
    /// The operator's office.
    pub office: Option<String>,
    /// D9: the grantor an act-as token acts for.
    pub act_for: Option<FiscalCode>,
    /// `iat`.
    pub issued_at: DateTime<Utc>,
    /// `exp`.
    pub expires_at: DateTime<Utc>,
}

impl TokenRequest {
    /// The claims, without issuer and audience (those are the key's rules').
    pub fn claims(&self) -> Claims {
        Claims {
            sub: self.sub.to_string(),
            role: self.role,
            auth: self.auth,
            office: self.office.clone(),
            iat: Some(self.issued_at.timestamp()),
            nbf: None,
            exp: self.expires_at.timestamp(),
            iss: None,
            aud: None,
            act_for: self.act_for.as_ref().map(ToString::to_string),
        }
    }
}

/// Who is calling, once the token is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Principal {
    /// A citizen with their own identity; `acting_for` is the grantor of an
    /// active delegation when the token is an act-as one (D9).
    Citizen {
        me: FiscalCode,
        auth: AuthMethod,
        acting_for: Option<FiscalCode>,
    },
    Operator {
        me: FiscalCode,
        office: String,
    },
}

/// The extractor of every authenticated handler: the principal, the request
/// id (the correlation id of what the request stores) and the claims' expiry.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub principal: Principal,
    pub request_id: String,
    pub expires_at: i64,
}

impl Caller {
    /// The citizen whose records the request reads or changes: the grantor
    /// when acting for one, else the caller. Operators are refused (403).
    pub fn citizen(&self) -> Result<&FiscalCode, AppError> {
        match &self.principal {
            Principal::Citizen {
                acting_for: Some(grantor),
                ..
            } => Ok(grantor),
            Principal::Citizen { me, .. } => Ok(me),
            Principal::Operator { .. } => Err(AppError::Forbidden("this call is for citizens")),
        }
    }

    /// The citizen signed in with their own identity, not acting for anyone.
    pub fn own_citizen(&self) -> Result<&FiscalCode, AppError> {
        match &self.principal {
            Principal::Citizen {
                me,
                acting_for: None,
                ..
            } => Ok(me),
            // D12: what a delegate may not do for the grantor.
            Principal::Citizen { .. } => Err(AppError::OwnCitizenOnly),
            Principal::Operator { .. } => Err(AppError::Forbidden("this call is for citizens")),
        }
    }

    /// The operator's id (`sub`) and office; citizens are refused (403).
    pub fn operator(&self) -> Result<(&FiscalCode, &str), AppError> {
        match &self.principal {
            Principal::Operator { me, office } => Ok((me, office)),
            Principal::Citizen { .. } => Err(AppError::Forbidden("this call is for operators")),
        }
    }

    pub fn is_operator(&self) -> bool {
        matches!(self.principal, Principal::Operator { .. })
    }

    /// Whether the caller may see a citizen's record (the library's rule,
    /// [`Issuer::may_read`]).
    pub fn may_see(&self, owner: &FiscalCode) -> bool {
        self.issuer().may_read(owner)
    }

    /// Who the caller is to the rules: the actor, and the grantor a
    /// delegate acts for (D9).
    pub fn issuer(&self) -> Issuer {
        match &self.principal {
            Principal::Citizen {
                me,
                acting_for: Some(grantor),
                ..
            } => Issuer::delegate_for(me.clone(), grantor.clone()),
            Principal::Citizen { me, .. } => Issuer::citizen(me.clone()),
            Principal::Operator { me, office } => Issuer::operator(format!("{me}@{office}")),
        }
    }

    /// The metadata of the commands this request issues (D9: who, for whom).
    pub fn metadata(&self, channel: &str) -> Metadata {
        let Issuer {
            actor,
            on_behalf_of,
        } = self.issuer();
        let meta = Metadata::new(actor, channel);
        let meta = match on_behalf_of {
            Some(grantor) => meta.on_behalf_of(grantor),
            None => meta,
        };
        meta.with_correlation_id(self.request_id.clone())
    }

    /// The operator's id as the meeting records it (M3).
    pub fn operator_id(&self) -> Result<String, AppError> {
        let (me, office) = self.operator()?;
        Ok(format!("{me}@{office}"))
    }
}

fn bearer(parts: &Parts) -> Result<&str, AppError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or(AppError::Unauthorized("a bearer token is required"))?
        .to_str()
        .map_err(|_| AppError::Unauthorized("the authorization header is malformed"))?;
    let (scheme, token) = value.split_once(' ').ok_or(AppError::Unauthorized(
        "the authorization header is malformed",
    ))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AppError::Unauthorized("a bearer token is required"));
    }
    Ok(token.trim())
}

/// The request id set by the request-id layer.
pub fn request_id(parts: &Parts) -> String {
    parts
        .headers
        .get(crate::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

fn malformed() -> AppError {
    AppError::Unauthorized("the token's claims are malformed")
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let bearer = state.keys().bearer(self::bearer(parts)?)?;
        let claims = &bearer.claims;
        let me = bearer.me.clone();
        let principal = match claims.role {
            Role::Citizen => {
                let auth = claims.auth.ok_or_else(malformed)?;
                if let Some(grantor) = &bearer.act_for {
                    // D9: checked on every request, not only when the token was issued.
                    state.check_acting_for(&me, grantor).await?;
                }
                Principal::Citizen {
                    me,
                    auth,
                    acting_for: bearer.act_for.clone(),
                }
            }
            Role::Operator => {
                if claims.act_for.is_some() {
                    return Err(malformed());
                }
                let office = claims
                    .office
                    .as_deref()
                    .filter(|o| !o.trim().is_empty())
                    .ok_or_else(malformed)?;
                if !state.counters().offices().contains(office) {
                    return Err(AppError::Unauthorized(
                        "the token's office is not one of the configured offices",
                    ));
                }
                Principal::Operator {
                    me,
                    office: office.to_owned(),
                }
            }
        };
        let caller = Caller {
            principal,
            request_id: request_id(parts),
            expires_at: claims.exp,
        };
        tracing::Span::current().record("caller", tracing::field::display(&bearer.label));
        Ok(caller)
    }
}

/// Shared keys, cheap to clone.
pub type Keys = Arc<JwtKeys>;

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> JwtKeys {
        JwtKeys::new(&Secret::new("0123456789abcdef0123456789abcdef"))
    }

    fn claims() -> Claims {
        let now = Utc::now().timestamp();
        Claims {
            sub: "RSSMRA85T10A562S".into(),
            role: Role::Citizen,
            auth: Some(AuthMethod::Spid),
            office: None,
            iat: Some(now),
            nbf: None,
            exp: now + 60,
            iss: None,
            aud: None,
            act_for: None,
        }
    }

    fn refused(k: &JwtKeys, c: &Claims) -> String {
        match k.verify(&k.sign(c).unwrap()) {
            Err(e @ (AppError::Unauthorized(_) | AppError::TokenTooLong { .. })) => e.to_string(),
            other => panic!("accepted or wrongly refused: {other:?}"),
        }
    }

    #[test]
    fn a_signed_token_verifies_and_a_tampered_one_does_not() {
        let k = keys();
        let claims = claims();
        let token = k.sign(&claims).unwrap();
        assert_eq!(k.verify(&token).unwrap(), claims);
        let other = JwtKeys::new(&Secret::new("another key of at least 32 bytes!!"));
        assert!(other.verify(&token).is_err());
        let expired = Claims {
            iat: Some(claims.exp - 7200),
            exp: claims.exp - 3600,
            ..claims
        };
        assert!(refused(&k, &expired).contains("expired"));
    }

    #[test]
    fn i1_a_signed_token_naming_no_fiscal_code_is_malformed_every_time() {
        let k = keys();
        for claims in [
            Claims {
                sub: "not a fiscal code".into(),
                ..claims()
            },
            Claims {
                act_for: Some("RSSMRA85T10A562X".into()),
                ..claims()
            },
        ] {
            let token = k.sign(&claims).unwrap();
            for _ in 0..2 {
                assert!(refused(&k, &claims).contains("malformed"));
                assert!(k.verify(&token).is_err(), "kept though refused");
            }
        }
        // A good one is read once and kept with its caller's label.
        let token = k.sign(&claims()).unwrap();
        let first = k.bearer(&token).unwrap();
        let again = k.bearer(&token).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(first.me.as_str(), "RSSMRA85T10A562S");
        assert!(first.label.starts_with("citizen:p-"));
        assert!(!first.label.contains("RSSMRA"));
    }

    #[test]
    fn a_token_verified_before_has_its_times_checked_again() {
        let k = keys();
        let base = claims();
        let c = Claims {
            nbf: base.iat,
            ..base
        };
        let now = c.iat.unwrap();
        let token = k.sign(&c).unwrap();
        assert_eq!(k.verify_at(&token, now).unwrap(), c);
        // The same text again, past its expiry and before its nbf.
        let late = k.verify_at(&token, c.exp + LEEWAY_SECONDS + 1).unwrap_err();
        assert!(late.to_string().contains("expired"), "{late}");
        let early = k.verify_at(&token, now - LEEWAY_SECONDS - 1).unwrap_err();
        assert!(early.to_string().contains("nbf"), "{early}");
        // Still good now: a refusal does not drop what was verified.
        assert_eq!(k.verify_at(&token, now).unwrap(), c);
        // And the rules' own checks of the times (iat), without an nbf.
        let plain = k.sign(&claims()).unwrap();
        let issued = k.verify_at(&plain, now).unwrap().iat.unwrap();
        let before = k
            .verify_at(&plain, issued - LEEWAY_SECONDS - 1)
            .unwrap_err();
        assert!(before.to_string().contains("iat"), "{before}");
    }

    #[test]
    fn a_token_verified_before_vouches_for_no_other_text() {
        let k = keys();
        let token = k.sign(&claims()).unwrap();
        k.verify(&token).unwrap();
        // The payload of another subject under the first token's signature.
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let other = k
            .sign(&Claims {
                sub: "BNCGNN80A01F205W".into(),
                ..claims()
            })
            .unwrap();
        parts[1] = other.split('.').nth(1).unwrap().to_owned();
        let forged = parts.join(".");
        assert!(k.verify(&forged).is_err());
        // Nor for keys under other rules.
        let strict = k.with_rules(TokenRules {
            issuer: Some("https://idp.example".into()),
            ..TokenRules::default()
        });
        let refused = strict.verify(&token).unwrap_err();
        assert!(refused.to_string().contains("iss"), "{refused}");
    }

    /// jsonwebtoken checks no times (`check_clock` does): `exp` is still
    /// required, and an `exp` or `nbf` that is not a number is refused.
    #[test]
    fn exp_is_required_and_the_times_must_be_numbers() {
        let k = keys();
        let now = Utc::now().timestamp();
        let raw = |claims: serde_json::Value| {
            let token =
                jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &k.encoding).unwrap();
            k.verify(&token).unwrap_err().to_string()
        };
        let base = serde_json::json!({"sub": "RSSMRA85T10A562S", "role": "citizen", "iat": now});
        let mut no_exp = base.clone();
        assert!(raw(no_exp.clone()).contains("malformed"));
        no_exp["exp"] = serde_json::json!("soon");
        assert!(raw(no_exp.clone()).contains("malformed"));
        no_exp["exp"] = serde_json::json!(now + 60);
        no_exp["nbf"] = serde_json::json!("later");
        assert!(raw(no_exp).contains("malformed"));
        let mut expired = base;
        expired["exp"] = serde_json::json!(now - LEEWAY_SECONDS - 1);
        assert!(raw(expired).contains("expired"));
    }

    #[test]
    fn the_tokens_kept_are_bounded() {
        let k = keys();
        let now = Utc::now().timestamp();
        for i in 0..=VERIFIED_TOKENS as i64 {
            let token = k
                .sign(&Claims {
                    exp: now + 60 + i,
                    ..claims()
                })
                .unwrap();
            k.verify(&token).unwrap();
            assert!(k.verified.0.lock().unwrap().len() <= VERIFIED_TOKENS);
        }
        assert_eq!(k.verified.0.lock().unwrap().len(), 1);
    }

    #[test]
    fn iat_is_required_nbf_honoured_and_the_lifetime_bounded() {
        let k = keys();
        let c = claims();
        let now = c.iat.unwrap();
        assert!(refused(
            &k,
            &Claims {
                iat: None,
                ..c.clone()
            }
        )
        .contains("iat"));
        assert!(refused(
            &k,
            &Claims {
                iat: Some(now + 600),
                exp: now + 1200,
                ..c.clone()
            }
        )
        .contains("future"));
        assert!(refused(
            &k,
            &Claims {
                nbf: Some(now + 600),
                ..c.clone()
            }
        )
        .contains("not yet valid"));
        k.verify(
            &k.sign(&Claims {
                nbf: Some(now),
                ..c.clone()
            })
            .unwrap(),
        )
        .unwrap();
        let long = Claims {
            exp: now + 720 * 60 + 1,
            ..c.clone()
        };
        assert!(refused(&k, &long).contains("720"));
        let short_rules = keys().with_rules(TokenRules {
            max_minutes: 1,
            ..TokenRules::default()
        });
        assert!(refused(&short_rules, &Claims { exp: now + 61, ..c }).contains("1 minutes"));
    }

    #[test]
    fn issuer_and_audience_are_checked_when_configured_and_minted() {
        let k = keys().with_rules(TokenRules {
            issuer: Some("https://idp.example.invalid".into()),
            audience: Some("deleghe".into()),
            ..TokenRules::default()
        });
        let c = claims();
        let neither = refused(&k, &c);
        assert!(
            neither.contains("iss") || neither.contains("aud"),
            "{neither}"
        );
        let iss = Some("https://idp.example.invalid".to_owned());
        let aud = Some("deleghe".to_owned());
        let only_iss = Claims {
            iss: iss.clone(),
            ..c.clone()
        };
        assert!(refused(&k, &only_iss).contains("aud"));
        let both = Claims {
            iss: iss.clone(),
            aud: aud.clone(),
            ..c.clone()
        };
        assert_eq!(k.verify(&k.sign(&both).unwrap()).unwrap(), both);
        let other_iss = Claims {
            iss: Some("someone".into()),
            ..both.clone()
        };
        assert!(refused(&k, &other_iss).contains("issuer"));
        let other_aud = Claims {
            aud: Some("another app".into()),
            ..both.clone()
        };
        assert!(refused(&k, &other_aud).contains("meant for"));
        // What the app mints carries them.
        let now = Utc::now();
        let minted = k
            .issue(&TokenRequest {
                sub: FiscalCode::parse("RSSMRA85T10A562S").unwrap(),
                role: Role::Citizen,
                auth: Some(AuthMethod::Cie),
                office: None,
                act_for: None,
                issued_at: now,
                expires_at: now + Duration::minutes(5),
            })
            .unwrap();
        let back = k.verify(&minted).unwrap();
        assert_eq!((back.iss, back.aud), (iss, aud));
        assert_eq!(back.iat, Some(now.timestamp()));
        // Without an audience configured, a token naming one is refused.
        assert!(refused(&keys(), &both).contains("meant for"));
    }

    #[test]
    fn the_app_never_mints_a_token_longer_than_the_maximum() {
        let now = Utc::now();
        let request = TokenRequest {
            sub: FiscalCode::parse("RSSMRA85T10A562S").unwrap(),
            role: Role::Citizen,
            auth: Some(AuthMethod::Spid),
            office: None,
            act_for: None,
            issued_at: now,
            expires_at: now + Duration::minutes(721),
        };
        assert!(matches!(keys().issue(&request), Err(AppError::Internal(_))));
    }
}
