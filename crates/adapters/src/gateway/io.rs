//! N5: the IO app of PagoPA, through its public API: first the citizen's
//! profile (`GET /api/v1/profiles/{fiscal_code}`, which says whether this
//! service may write to them: `{"sender_allowed": true}`), then the message
//! (`POST /api/v1/messages`, the fiscal code in the body). Every call
//! carries the service's key in the `Ocp-Apim-Subscription-Key` header.
//!
//! The IO API takes no idempotency key: a crash between its answer and the
//! outbox recording the message as sent means the message is sent again.
//! Delivery to IO is at least once; the key is logged with every send.

use std::fmt;

use async_trait::async_trait;
use deleghe_domain::notification::IoMessage;
use deleghe_domain::FiscalCode;
use serde::{Deserialize, Serialize};

use super::http::{check, http_client, transport};
use super::{GatewayError, IoGateway};

/// The header the IO API reads the service's subscription key from.
pub const SUBSCRIPTION_KEY_HEADER: &str = "Ocp-Apim-Subscription-Key";

/// The IO app gateway over HTTPS.
pub struct HttpIoGateway {
    client: reqwest::Client,
    base: reqwest::Url,
    subscription_key: String,
}

impl fmt::Debug for HttpIoGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpIoGateway")
            .field("base", &self.base.as_str())
            .field("subscription_key", &"<redacted>")
            .finish()
    }
}

/// `GET /api/v1/profiles/{fiscal_code}`: what the gateway reads of the answer.
#[derive(Debug, Deserialize)]
struct Profile {
    #[serde(default)]
    sender_allowed: bool,
}

/// `POST /api/v1/messages`.
#[derive(Debug, Serialize)]
struct NewMessage<'a> {
    fiscal_code: &'a str,
    content: Content<'a>,
}

#[derive(Debug, Serialize)]
struct Content<'a> {
    subject: &'a str,
    markdown: &'a str,
}

impl HttpIoGateway {
    /// The gateway on the IO API at `base_url`, with the service's key.
    pub fn new(base_url: &str, subscription_key: impl Into<String>) -> Result<Self, GatewayError> {
        let mut base = reqwest::Url::parse(base_url)
            .map_err(|e| GatewayError::Permanent(format!("invalid IO API URL: {e}")))?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        Ok(Self {
            client: http_client()?,
            base,
            subscription_key: subscription_key.into(),
        })
    }

    fn url(&self, path: &str) -> Result<reqwest::Url, GatewayError> {
        self.base
            .join(path)
            // Not the path: it may hold a fiscal code, and errors are logged.
            .map_err(|e| GatewayError::Permanent(format!("invalid IO API path: {e}")))
    }

    /// Whether the citizen is an IO user who accepts this service's messages.
    async fn sender_allowed(&self, fiscal_code: &FiscalCode) -> Result<bool, GatewayError> {
        let url = self.url(&format!("api/v1/profiles/{fiscal_code}"))?;
        let response = self
            .client
            .get(url)
            .header(SUBSCRIPTION_KEY_HEADER, &self.subscription_key)
            .send()
            .await
            .map_err(transport)?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(false);
        }
        let profile: Profile = check(response).await?.json().await.map_err(|e| {
            GatewayError::Temporary(format!("unreadable IO profile: {}", e.without_url()))
        })?;
        Ok(profile.sender_allowed)
    }
}

#[async_trait]
impl IoGateway for HttpIoGateway {
    async fn send(
        &self,
        fiscal_code: &FiscalCode,
        message: &IoMessage,
        key: &str,
    ) -> Result<(), GatewayError> {
        if !self.sender_allowed(fiscal_code).await? {
            return Err(GatewayError::Permanent(
                "the citizen does not receive this service's messages in IO".to_owned(),
            ));
        }
        let body = NewMessage {
            fiscal_code: fiscal_code.as_str(),
            content: Content {
                subject: message.subject(),
                markdown: message.markdown(),
            },
        };
        let response = self
            .client
            .post(self.url("api/v1/messages")?)
            .header(SUBSCRIPTION_KEY_HEADER, &self.subscription_key)
            .json(&body)
            .send()
            .await
            .map_err(transport)?;
        check(response).await?;
        tracing::debug!(key, "IO message submitted");
        Ok(())
    }
}
