//! The gateways over HTTPS (feature `http-gateways`): a real SMS
//! provider's (N1, N2, N4) and, in `io.rs`, the IO app's (N5), with the
//! HTTP client and the sorting of answers they share.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use deleghe_domain::booking::Phone;
use serde::Serialize;

use super::{GatewayError, SmsGateway};

/// A real SMS provider's gateway (N1, N2, N4): `POST {endpoint}` with a
/// bearer token, the JSON body `{"to": "+39...", "text": "..."}` and the
/// message's idempotency key (N6) in the `Idempotency-Key` header, so that a
/// provider that honours it never delivers a key twice. 2xx is delivered;
/// no answer in time, 408, 429 and 5xx are temporary (the dispatcher tries
/// again later); any other answer is permanent. Errors carry the status
/// only, never the provider's body, which may repeat the number or the text.
pub struct HttpSmsGateway {
    client: reqwest::Client,
    endpoint: reqwest::Url,
    token: String,
}

impl fmt::Debug for HttpSmsGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSmsGateway")
            .field("endpoint", &self.endpoint.as_str())
            .field("token", &"<redacted>")
            .finish()
    }
}

impl HttpSmsGateway {
    /// The gateway on the provider's `endpoint` (http or https), with its
    /// bearer `token`; a request that gets no answer within 15 s is
    /// temporary.
    pub fn new(endpoint: &str, token: impl Into<String>) -> Result<Self, GatewayError> {
        let endpoint = reqwest::Url::parse(endpoint)
            .map_err(|e| GatewayError::Permanent(format!("invalid SMS endpoint: {e}")))?;
        if !matches!(endpoint.scheme(), "http" | "https") {
            return Err(GatewayError::Permanent(
                "invalid SMS endpoint: not an http or https URL".to_owned(),
            ));
        }
        Ok(Self {
            client: http_client()?,
            endpoint,
            token: token.into(),
        })
    }

    /// The same, waiting at most `timeout` for an answer.
    pub fn with_timeout(mut self, timeout: Duration) -> Result<Self, GatewayError> {
        self.client = reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            .build()
            .map_err(|e| GatewayError::Permanent(format!("cannot build the HTTP client: {e}")))?;
        Ok(self)
    }
}

#[derive(Serialize)]
struct SmsRequest<'a> {
    to: &'a str,
    text: &'a str,
}

#[async_trait]
impl SmsGateway for HttpSmsGateway {
    async fn send(&self, to: &Phone, text: &str, key: &str) -> Result<(), GatewayError> {
        let response = self
            .client
            .post(self.endpoint.clone())
            .bearer_auth(&self.token)
            .header("Idempotency-Key", key)
            .json(&SmsRequest {
                to: to.as_str(),
                text,
            })
            .send()
            .await
            .map_err(transport)?;
        check(response).await.map(|_| ())
    }
}

/// The HTTP client of the gateways: bounded connect and request times.
pub(crate) fn http_client() -> Result<reqwest::Client, GatewayError> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(15))
        .build()
        .map_err(|e| GatewayError::Permanent(format!("cannot build the HTTP client: {e}")))
}

/// A request that got no answer: worth a retry. Without its URL, which
/// may name a person (the IO app's profiles are addressed by fiscal code)
/// and ends up in the logs.
pub(crate) fn transport(error: reqwest::Error) -> GatewayError {
    GatewayError::Temporary(format!("no answer: {}", error.without_url()))
}

/// Sorts an answer: 2xx passes; 408, 429 and 5xx are temporary; the rest
/// permanent. The error keeps the status only: the body may repeat what was
/// sent (a phone number, a message), and errors are logged.
pub(crate) async fn check(response: reqwest::Response) -> Result<reqwest::Response, GatewayError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let message = format!("the provider answered {status}");
    if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
        Err(GatewayError::Temporary(message))
    } else {
        Err(GatewayError::Permanent(message))
    }
}
