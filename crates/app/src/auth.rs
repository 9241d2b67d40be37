//! Authentication and who may do what (API.md, "Authentication").
//!
//! `Authorization: Bearer <JWT>`, HS256, claims `sub` (fiscal code), `role`
//! (`citizen` | `operator`), `auth` (`spid` | `cie` | `cns`, citizens, I2),
//! `office` (operators), `exp`; an act-as token (D9) adds `act_for`, the
//! grantor the delegate acts for. A token missing, malformed, expired or
//! badly signed is 401. An act-as token is honoured only while the
//! delegation is active, checked on every request (403
//! `no_active_delegation` otherwise); every command it issues carries
//! [`Metadata::on_behalf_of`], so the audit trail says who acted for whom.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use deleghe_adapters::codes::AccessCodes;
use deleghe_adapters::{Actor, Metadata};
use deleghe_domain::delegation::DelegationError;
use deleghe_domain::FiscalCode;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::Secret;
use crate::error::AppError;
use crate::state::AppState;

/// Who a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Citizen,
    Operator,
}

/// I2: how a citizen signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    Spid,
    Cie,
    Cns,
}

/// The claims of a bearer token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthMethod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub office: Option<String>,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act_for: Option<String>,
}

/// The HS256 key, for signing and checking, and what else is derived from
/// the deployment's one secret: the access codes of web meetings (M10).
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    codes: AccessCodes,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys([redacted])")
    }
}

impl JwtKeys {
    pub fn new(secret: &Secret) -> Self {
        let bytes = secret.expose().as_bytes();
        Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            codes: AccessCodes::new(bytes),
        }
    }

    /// M2, M10: the keys the access codes are derived and digested with.
    pub fn access_codes(&self) -> &AccessCodes {
        &self.codes
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, AppError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| AppError::Internal(format!("cannot sign a token: {e}")))
    }

    /// Checks signature, algorithm and expiry (real time, not the dev clock).
    pub fn verify(&self, token: &str) -> Result<Claims, AppError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                match e.kind() {
                    ErrorKind::ExpiredSignature => AppError::Unauthorized("the token has expired"),
                    ErrorKind::InvalidSignature => {
                        AppError::Unauthorized("the token is not signed by this service")
                    }
                    _ => AppError::Unauthorized("the token is malformed"),
                }
            })
    }
}

/// Mints a token (the `token` subcommand, act-as sessions, tests).
pub struct TokenRequest {
    pub sub: FiscalCode,
    pub role: Role,
    pub auth: Option<AuthMethod>,
    pub office: Option<String>,
    pub act_for: Option<FiscalCode>,
    pub expires_at: DateTime<Utc>,
}

impl TokenRequest {
    pub fn claims(&self) -> Claims {
        Claims {
            sub: self.sub.to_string(),
            role: self.role,
            auth: self.auth,
            office: self.office.clone(),
            exp: self.expires_at.timestamp(),
            act_for: self.act_for.as_ref().map(ToString::to_string),
        }
    }
}

/// Who is calling, once the token is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
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
pub struct Caller {
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
            Principal::Citizen { .. } => Err(DelegationError::NotAllowedWhenActing.into()),
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

    /// Whether the caller may see a citizen's record: the citizen (or the
    /// delegate acting for them) or an operator.
    pub fn may_see(&self, owner: &FiscalCode) -> bool {
        match self.citizen() {
            Ok(subject) => subject == owner,
            Err(_) => self.is_operator(),
        }
    }

    /// The metadata of the commands this request issues (D9: who, for whom).
    pub fn metadata(&self, channel: &str) -> Metadata {
        let meta = match &self.principal {
            Principal::Citizen { me, acting_for, .. } => {
                let m = Metadata::new(Actor::Citizen(me.clone()), channel);
                match acting_for {
                    Some(grantor) => m.on_behalf_of(grantor.clone()),
                    None => m,
                }
            }
            Principal::Operator { me, office } => {
                Metadata::new(Actor::Operator(format!("{me}@{office}")), channel)
            }
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
        let claims = state.keys().verify(bearer(parts)?)?;
        let me = FiscalCode::parse(&claims.sub).map_err(|_| malformed())?;
        let principal = match claims.role {
            Role::Citizen => {
                let auth = claims.auth.ok_or_else(malformed)?;
                let acting_for = match &claims.act_for {
                    None => None,
                    Some(grantor) => {
                        let grantor = FiscalCode::parse(grantor).map_err(|_| malformed())?;
                        // D9: checked on every request, not only when the token was issued.
                        state.check_acting_for(&me, &grantor).await?;
                        Some(grantor)
                    }
                };
                Principal::Citizen {
                    me,
                    auth,
                    acting_for,
                }
            }
            Role::Operator => {
                if claims.act_for.is_some() {
                    return Err(malformed());
                }
                let office = claims
                    .office
                    .filter(|o| !o.trim().is_empty())
                    .ok_or_else(malformed)?;
                Principal::Operator { me, office }
            }
        };
        let caller = Caller {
            principal,
            request_id: request_id(parts),
            expires_at: claims.exp,
        };
        tracing::Span::current().record("caller", tracing::field::display(caller.label()));
        Ok(caller)
    }
}

impl Caller {
    /// How the caller appears in the request's span: role and, for an
    /// act-as token, for whom (fiscal codes are the system's ids, not secrets).
    fn label(&self) -> String {
        match &self.principal {
            Principal::Citizen {
                me,
                acting_for: Some(g),
                ..
            } => format!("citizen:{me} for {g}"),
            Principal::Citizen { me, .. } => format!("citizen:{me}"),
            Principal::Operator { me, office } => format!("operator:{me}@{office}"),
        }
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

    #[test]
    fn a_signed_token_verifies_and_a_tampered_one_does_not() {
        let k = keys();
        let claims = Claims {
            sub: "RSSMRA85T10A562S".into(),
            role: Role::Citizen,
            auth: Some(AuthMethod::Spid),
            office: None,
            exp: Utc::now().timestamp() + 60,
            act_for: None,
        };
        let token = k.sign(&claims).unwrap();
        assert_eq!(k.verify(&token).unwrap(), claims);
        let other = JwtKeys::new(&Secret::new("another key of at least 32 bytes!!"));
        assert!(other.verify(&token).is_err());
        let expired = k
            .sign(&Claims {
                exp: Utc::now().timestamp() - 3600,
                ..claims
            })
            .unwrap();
        assert!(matches!(k.verify(&expired), Err(AppError::Unauthorized(_))));
    }
}
