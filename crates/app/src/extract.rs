//! Extractors whose rejections are [`AppError`]s, so that a malformed body,
//! query or path answers problem+json like every other error (400
//! `invalid_request`, 413 over the size limit).

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::AppError;
use crate::{DOCUMENT_BODY_LIMIT, JSON_BODY_LIMIT};

/// A JSON body.
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        if declared_over(&req, JSON_BODY_LIMIT) {
            return Err(AppError::PayloadTooLarge {
                limit: JSON_BODY_LIMIT,
                document: false,
            });
        }
        // Read as a value first: serde would take a struct from a JSON array
        // too (`[null, null]`), and every body of the contract is an object.
        let value = match axum::Json::<serde_json::Value>::from_request(req, state).await {
            Ok(axum::Json(value)) => value,
            Err(rejection) => return Err(json_rejection(rejection)),
        };
        if !value.is_object() {
            return Err(AppError::invalid("the body must be a JSON object"));
        }
        // Through axum again, whose rejection names the field at fault.
        let bytes = serde_json::to_vec(&value)
            .map_err(|e| AppError::Internal(format!("a JSON value did not serialise: {e}")))?;
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// Whether the request declares a body longer than `limit`
/// (`Content-Length`): refused before a byte of it is read, where a client
/// announcing more than it sends would hold the connection until the
/// body's deadline (408) before learning it is too large.
fn declared_over(req: &Request, limit: usize) -> bool {
    req.headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|declared| declared > limit as u64)
}

/// Whether a body failed to arrive because it took too long (the
/// [`tower_http::timeout::RequestBodyTimeoutLayer`] of [`crate::app`]).
pub(crate) fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

fn json_rejection(rejection: JsonRejection) -> AppError {
    if timed_out(&rejection) {
        return AppError::RequestTimeout;
    }
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return AppError::PayloadTooLarge {
            limit: JSON_BODY_LIMIT,
            document: false,
        };
    }
    match rejection {
        JsonRejection::MissingJsonContentType(_) => AppError::UnsupportedMediaType(
            "the body must be JSON, sent with Content-Type: application/json",
        ),
        other => AppError::invalid(other.body_text()),
    }
}

/// A raw body: a document (M6), so one over the limit is `document_too_large`.
pub struct Body(pub Bytes);

impl<S> FromRequest<S> for Body
where
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        if declared_over(&req, DOCUMENT_BODY_LIMIT) {
            return Err(AppError::PayloadTooLarge {
                limit: DOCUMENT_BODY_LIMIT,
                document: true,
            });
        }
        Bytes::from_request(req, state)
            .await
            .map(Self)
            .map_err(|rejection: BytesRejection| {
                if timed_out(&rejection) {
                    AppError::RequestTimeout
                } else if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::PayloadTooLarge {
                        limit: DOCUMENT_BODY_LIMIT,
                        document: true,
                    }
                } else {
                    AppError::invalid(rejection.body_text())
                }
            })
    }
}

/// Query parameters.
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Self(q.0))
            .map_err(|r: QueryRejection| AppError::invalid(r.body_text()))
    }
}

/// Path parameters.
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Self(p.0))
            .map_err(|r: PathRejection| AppError::invalid(r.body_text()))
    }
}

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}
