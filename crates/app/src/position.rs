//! Read-your-writes without a catch-up per read (ADR 0014).
//!
//! Every write answers with the position of the log it reached: the
//! `Position` header, and `position` in a JSON object body. A read of the
//! read models that names a position (the `If-Min-Position` header, or the
//! `min_position` query parameter) waits until the read models have applied
//! the log up to it, at most [`crate::Timeouts::read_wait`], then answers
//! 503 `read_models_behind` with `Retry-After` (a position past the log's
//! end, which no write answered, is 422 `position_beyond_log`); a read naming none answers
//! from the read models at once. Reads of one record (a delegation, a
//! booking, a meeting) fold its events and are always current.

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::error::AppError;
use crate::state::AppState;

/// The header of a write's answer: the log position the write reached.
pub const POSITION: HeaderName = HeaderName::from_static("position");
/// The header of a read: the log position the read models must have applied.
pub const IF_MIN_POSITION: HeaderName = HeaderName::from_static("if-min-position");
/// The query parameter that does what [`IF_MIN_POSITION`] does.
pub const MIN_POSITION: &str = "min_position";

/// The largest answer body read back to add its `position` (every JSON
/// answer of a write is far smaller).
const MAX_STAMPED_BODY: usize = 1 << 20;

/// The position a read asks for: `If-Min-Position`, else `min_position`;
/// `None` if neither is given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MinPosition(pub Option<i64>);

impl MinPosition {
    fn parse(text: &str, name: &str) -> Result<i64, AppError> {
        text.trim()
            .parse::<i64>()
            .ok()
            .filter(|p| *p >= 0)
            .ok_or_else(|| {
                AppError::invalid(format!(
                    "{name} must be a log position (a whole number from 0), as a write answered"
                ))
            })
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for MinPosition {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        // Both are checked, whichever is given; both given, the later
        // position is the one waited for.
        let header = match parts.headers.get(IF_MIN_POSITION) {
            Some(value) => {
                let text = value
                    .to_str()
                    .map_err(|_| AppError::invalid("If-Min-Position must be ASCII digits"))?;
                Some(Self::parse(text, "If-Min-Position")?)
            }
            None => None,
        };
        // A query with no `%` names `min_position` only as those very
        // characters (decoding turns `+` into a space, nothing into `_`):
        // one without them has none, and is not decoded here.
        let named = parts
            .uri
            .query()
            .is_some_and(|q| q.contains(MIN_POSITION) || q.contains('%'));
        let pairs = match named {
            true => axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
                .map(|q| q.0)
                .unwrap_or_default(),
            false => Vec::new(),
        };
        let mut query = None;
        for (name, value) in pairs {
            if name == MIN_POSITION {
                let position = Self::parse(&value, MIN_POSITION)?;
                query = Some(query.map_or(position, |q: i64| q.max(position)));
            }
        }
        Ok(Self(match (header, query) {
            (Some(h), Some(q)) => Some(h.max(q)),
            (h, q) => h.or(q),
        }))
    }
}

/// Whether a request of `method` may write (its answer is then stamped).
pub fn writes(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Stamps the answer of every write that succeeded with the log position it
/// reached: read after the handler, the log's head is at or past every
/// event the write appended. `writes` is [`writes`] of the request's method.
/// Run by [`crate::app`]'s route layer, for every route.
pub async fn stamp(state: &AppState, writes: bool, response: Response) -> Response {
    if !writes || !response.status().is_success() {
        return response;
    }
    let position = match state.repository().log_head().await {
        Ok(position) => position,
        Err(error) => {
            // The write is done and its answer stands; only a read that
            // needs it will not know what to wait for.
            tracing::warn!(%error, "a write's log position could not be read");
            return response;
        }
    };
    let (mut parts, body) = response.into_parts();
    parts.headers.insert(POSITION, HeaderValue::from(position));
    let json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes() == b"application/json");
    if !json {
        return Response::from_parts(parts, body);
    }
    let bytes = match axum::body::to_bytes(body, MAX_STAMPED_BODY).await {
        Ok(bytes) => bytes,
        Err(error) => {
            return AppError::Internal(format!("a write's answer could not be read: {error}"))
                .into_response()
        }
    };
    let stamped = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(mut object)) => {
            object.insert("position".into(), Value::from(position));
            serde_json::to_vec(&object).ok()
        }
        _ => None,
    };
    let body = stamped.unwrap_or_else(|| bytes.to_vec());
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}
