//! Metadata stored with every event: who acted, for whom (D9), through which
//! channel, and the correlation id that ties a flow's events together.

use std::collections::HashMap;

use deleghe_domain::{FiscalCode, Issuer};

/// Who issued a command: the domain's (D12 judges it there too).
pub use deleghe_domain::Actor;

/// The metadata of one command and of the flow it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// Who issued the command (D12); stored as `citizen:CF`, `operator:ID` or
    /// `system`.
    pub actor: Actor,
    /// D9: the grantor a delegate acts for, if any.
    pub on_behalf_of: Option<FiscalCode>,
    /// How the command arrived: `web`, `counter`, `pec`, `web_meeting`, `runner`...
    pub channel: String,
    /// Shared by every event of one flow.
    pub correlation_id: String,
}

impl Metadata {
    /// `actor` acting for themselves through `channel`, in a flow of its own (a
    /// fresh random correlation id).
    pub fn new(actor: Actor, channel: &str) -> Self {
        Self {
            actor,
            on_behalf_of: None,
            channel: channel.to_owned(),
            correlation_id: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// The metadata of a command issued by the library on a flow's behalf.
    pub fn system() -> Self {
        Self::new(Actor::System, "runner")
    }

    /// D9: the same, with the actor acting for `grantor`; the service checks
    /// that a delegation allows it.
    pub fn on_behalf_of(mut self, grantor: FiscalCode) -> Self {
        self.on_behalf_of = Some(grantor);
        self
    }

    /// The same, in the flow whose correlation id is `id`.
    pub fn with_correlation_id(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = id.into();
        self
    }

    /// Who issued the command and for whom, as the rules judge it (D12).
    pub fn issuer(&self) -> Issuer {
        Issuer {
            actor: self.actor.clone(),
            on_behalf_of: self.on_behalf_of.clone(),
        }
    }

    /// What is stored with each event: `actor`, `channel`, `correlation_id`,
    /// and `on_behalf_of` when set, from which the projector writes the audit
    /// trail (D9).
    pub fn to_map(&self) -> HashMap<String, String> {
        let mut map = HashMap::from([
            ("actor".to_owned(), self.actor.to_string()),
            ("channel".to_owned(), self.channel.clone()),
            ("correlation_id".to_owned(), self.correlation_id.clone()),
        ]);
        if let Some(grantor) = &self.on_behalf_of {
            map.insert("on_behalf_of".to_owned(), grantor.to_string());
        }
        map
    }
}
