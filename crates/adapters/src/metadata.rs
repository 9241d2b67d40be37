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

    /// [`Metadata::system`] in the flow whose correlation id is `id`, with
    /// no fresh correlation id drawn to be replaced.
    pub fn system_in(id: impl Into<String>) -> Self {
        Self {
            actor: Actor::System,
            on_behalf_of: None,
            channel: "runner".to_owned(),
            correlation_id: id.into(),
        }
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
        self.pairs()
            .map(|(key, value)| (key.to_owned(), value))
            .collect()
    }

    /// [`Metadata::to_map`] as each event's row holds it (what cqrs-es's
    /// `SerializedEvent` makes of the map): encoded once for all the events
    /// of a command a flow decides whole, or of the steps after it (the
    /// library's metadata in that flow).
    pub(crate) fn to_value(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.pairs()
                .map(|(key, value)| (key.to_owned(), value.into()))
                .collect(),
        )
    }

    /// The stored keys and their values, for [`Metadata::to_map`] and
    /// [`Metadata::to_value`] alike.
    fn pairs(&self) -> impl Iterator<Item = (&'static str, String)> + '_ {
        [
            ("actor", Some(self.actor.to_string())),
            ("channel", Some(self.channel.clone())),
            ("correlation_id", Some(self.correlation_id.clone())),
            (
                "on_behalf_of",
                self.on_behalf_of.as_ref().map(ToString::to_string),
            ),
        ]
        .into_iter()
        .filter_map(|(key, value)| Some((key, value?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The metadata encoded once is what cqrs-es encodes from the map for
    /// each event, with a grantor acted for and without.
    #[test]
    fn the_encoded_metadata_is_the_maps_encoding() {
        let delegate = crate::test_fixtures::code("RSSMRA80A01H501");
        let grantor = crate::test_fixtures::code("VRDLGU75B02F205");
        for meta in [
            Metadata::new(Actor::Citizen(delegate.clone()), "web"),
            Metadata::new(Actor::Citizen(delegate), "web").on_behalf_of(grantor),
            Metadata::system_in("flow-1"),
        ] {
            assert_eq!(
                meta.to_value(),
                serde_json::to_value(meta.to_map()).unwrap()
            );
        }
    }

    /// A system command in a flow carries the flow's correlation id.
    #[test]
    fn a_system_command_in_a_flow_is_the_flows() {
        let meta = Metadata::system_in("flow-1");
        assert_eq!(meta, Metadata::system().with_correlation_id("flow-1"));
    }
}
