//! Reading the log back: a stored event, upcast to the current version and
//! decoded into the domain's types, with its position and metadata.

use std::collections::HashMap;

use cqrs_es::persist::{EventUpcaster, SerializedEvent};
use cqrs_es::Aggregate;
use deleghe_domain::booking::{Booker, SlotLedger};
use deleghe_domain::contacts::{CitizenContacts, ContactsEvent};
use deleghe_domain::delegation::{Delegate, Grantor};
use deleghe_domain::flows::Event;
use deleghe_domain::meeting::Meeting;
use deleghe_domain::pin::{PinAccount, PinEvent};
use deleghe_domain::uploads::{Uploads, UploadsEvent};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ServiceError;
use crate::store::Positioned;

/// What a stored event is, in the domain's terms.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// An event of one of the flows' aggregates.
    Process(Event),
    /// A telephone PIN event (P1–P3): part of no flow.
    Pin(PinEvent),
    /// A change of a citizen's contacts (N7): part of no flow.
    Contacts(ContactsEvent),
    /// A document uploaded as evidence (D11): part of no flow.
    Uploads(UploadsEvent),
}

/// One event of the log, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedEvent {
    /// Its place in the global log, in commit order.
    pub position: i64,
    /// The type of the aggregate whose stream holds it (`grantor`, `booker`,
    /// `meeting`, `pin_account`...).
    pub aggregate_type: String,
    /// That stream's id: a fiscal code, a booking id or a slot key, by type.
    pub aggregate_id: String,
    /// Its place in that stream, from 1.
    pub sequence: usize,
    /// The event itself, upcast to the current version.
    pub payload: Payload,
    /// What [`Metadata::to_map`](crate::metadata::Metadata::to_map) stored with
    /// it; empty if it cannot be read as such a map.
    pub metadata: HashMap<String, String>,
}

/// Upcasts and decodes one stored event.
pub fn decode(
    stored: Positioned,
    upcasters: &[Box<dyn EventUpcaster>],
) -> Result<LoggedEvent, ServiceError> {
    let event: SerializedEvent = upcasters.iter().fold(stored.event, |e, u| {
        if u.can_upcast(&e.event_type, &e.event_version) {
            u.upcast(e)
        } else {
            e
        }
    });
    let payload = payload(&event.aggregate_type, stored.position, event.payload)?;
    let metadata = serde_json::from_value(event.metadata).unwrap_or_default();
    Ok(LoggedEvent {
        position: stored.position,
        aggregate_type: event.aggregate_type,
        aggregate_id: event.aggregate_id,
        sequence: event.sequence,
        payload,
        metadata,
    })
}

/// One event of the log as a SQL store holds it: payload and metadata still
/// JSON text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoredText {
    pub position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: usize,
    pub event_type: String,
    pub event_version: String,
    pub payload: String,
    pub metadata: String,
}

impl StoredText {
    /// The event with its payload and metadata parsed, as cqrs-es holds it.
    pub(crate) fn parsed(self) -> Result<Positioned, ServiceError> {
        let position = self.position;
        let event = self
            .into_event()
            .map_err(|e| ServiceError::Corrupt(Box::new(e)))?;
        Ok(Positioned { position, event })
    }

    /// The event with its payload and metadata parsed, without its position.
    pub(crate) fn into_event(self) -> Result<SerializedEvent, serde_json::Error> {
        Ok(SerializedEvent::new(
            self.aggregate_id,
            self.sequence,
            self.aggregate_type,
            self.event_type,
            self.event_version,
            serde_json::from_str(&self.payload)?,
            serde_json::from_str(&self.metadata)?,
        ))
    }
}

/// [`decode`] of an event read as text: straight from the text into the
/// domain's types when no upcaster applies to it (the common case), through
/// a [`serde_json::Value`] and the upcasters otherwise. Same result as
/// [`decode`], without building a `Value` tree of every payload first.
pub(crate) fn decode_text(
    stored: StoredText,
    upcasters: &[Box<dyn EventUpcaster>],
) -> Result<LoggedEvent, ServiceError> {
    if upcasters
        .iter()
        .any(|u| u.can_upcast(&stored.event_type, &stored.event_version))
    {
        return decode(stored.parsed()?, upcasters);
    }
    let payload = payload(
        &stored.aggregate_type,
        stored.position,
        stored.payload.as_str(),
    )?;
    let metadata = serde_json::from_str(&stored.metadata).unwrap_or_default();
    Ok(LoggedEvent {
        position: stored.position,
        aggregate_type: stored.aggregate_type,
        aggregate_id: stored.aggregate_id,
        sequence: stored.sequence,
        payload,
        metadata,
    })
}

/// What a payload is read from: a parsed [`Value`] or JSON text.
trait Source {
    fn parse<T: DeserializeOwned>(self) -> serde_json::Result<T>;
}

impl Source for Value {
    fn parse<T: DeserializeOwned>(self) -> serde_json::Result<T> {
        serde_json::from_value(self)
    }
}

impl Source for &str {
    fn parse<T: DeserializeOwned>(self) -> serde_json::Result<T> {
        serde_json::from_str(self)
    }
}

/// The payload of an event of `aggregate_type`, in the domain's types.
fn payload(
    aggregate_type: &str,
    position: i64,
    source: impl Source,
) -> Result<Payload, ServiceError> {
    let corrupt = |e: serde_json::Error| ServiceError::Corrupt(Box::new(e));
    Ok(match aggregate_type {
        t if t == Grantor::TYPE => {
            Payload::Process(Event::Grantor(source.parse().map_err(corrupt)?))
        }
        t if t == Delegate::TYPE => {
            Payload::Process(Event::Delegate(source.parse().map_err(corrupt)?))
        }
        t if t == Booker::TYPE => Payload::Process(Event::Booker(source.parse().map_err(corrupt)?)),
        t if t == SlotLedger::TYPE => {
            Payload::Process(Event::Slot(source.parse().map_err(corrupt)?))
        }
        t if t == Meeting::TYPE => {
            Payload::Process(Event::Meeting(source.parse().map_err(corrupt)?))
        }
        t if t == PinAccount::TYPE => Payload::Pin(source.parse().map_err(corrupt)?),
        t if t == CitizenContacts::TYPE => Payload::Contacts(source.parse().map_err(corrupt)?),
        t if t == Uploads::TYPE => Payload::Uploads(source.parse().map_err(corrupt)?),
        other => {
            return Err(ServiceError::Corrupt(
                format!("unknown aggregate type {other:?} at position {position}").into(),
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::upcast::upcasters;

    fn stored(aggregate_type: &str, version: &str, payload: Value, metadata: Value) -> StoredText {
        let event_type = payload
            .as_object()
            .and_then(|o| o.keys().next().cloned())
            .unwrap_or_default();
        StoredText {
            position: 7,
            aggregate_type: aggregate_type.to_owned(),
            aggregate_id: "RSSMRA85T10A562S".to_owned(),
            sequence: 3,
            event_type,
            event_version: version.to_owned(),
            payload: payload.to_string(),
            metadata: metadata.to_string(),
        }
    }

    /// `decode` of the same event, as cqrs-es holds it.
    fn through_value(s: &StoredText) -> Result<LoggedEvent, ServiceError> {
        let event = SerializedEvent::new(
            s.aggregate_id.clone(),
            s.sequence,
            s.aggregate_type.clone(),
            s.event_type.clone(),
            s.event_version.clone(),
            serde_json::from_str(&s.payload).unwrap(),
            serde_json::from_str(&s.metadata).unwrap(),
        );
        decode(
            Positioned {
                position: s.position,
                event,
            },
            &upcasters(),
        )
    }

    fn meta() -> Value {
        json!({"actor": "citizen:RSSMRA85T10A562S", "channel": "web", "correlation_id": "c-1"})
    }

    #[test]
    fn text_and_value_decode_alike() {
        let cases = [
            stored(
                "grantor",
                "1.0",
                json!({"DelegationRequested": {
                    "id": "d-1", "grantor": "RSSMRA85T10A562S", "delegate": "VRDLGU70A01H501O",
                    "role": "ordinary", "channel": "online", "ends_on": null,
                    "at": "2026-01-10T09:00:00Z"}}),
                meta(),
            ),
            // Needs its upcaster (no channel, `end_date`): read through a Value.
            stored(
                "grantor",
                "0.9",
                json!({"DelegationRequested": {
                    "id": "d-0", "grantor": "RSSMRA85T10A562S", "delegate": "VRDLGU70A01H501O",
                    "role": "ordinary", "end_date": "2027-01-31", "at": "2026-01-10T09:00:00Z"}}),
                meta(),
            ),
            stored(
                "delegate",
                "1.0",
                json!({"SeatReleased": {
                    "id": "d-1", "grantor": "RSSMRA85T10A562S", "delegate": "VRDLGU70A01H501O",
                    "at": "2026-03-10T09:00:00Z"}}),
                // Metadata that is not all strings reads as none, both ways.
                json!({"actor": 1}),
            ),
        ];
        for case in &cases {
            let text = decode_text(case.clone(), &upcasters()).unwrap();
            assert_eq!(text, through_value(case).unwrap(), "{case:?}");
        }
        let upcast = decode_text(cases[1].clone(), &upcasters()).unwrap();
        let Payload::Process(Event::Grantor(
            deleghe_domain::delegation::GrantorEvent::DelegationRequested { channel, .. },
        )) = upcast.payload
        else {
            panic!("a DelegationRequested");
        };
        assert_eq!(channel, deleghe_domain::delegation::Channel::Counter);
        assert_eq!(text_metadata(&cases[0]), meta_map());
        assert!(text_metadata(&cases[2]).is_empty());
    }

    fn text_metadata(s: &StoredText) -> HashMap<String, String> {
        decode_text(s.clone(), &upcasters()).unwrap().metadata
    }

    fn meta_map() -> HashMap<String, String> {
        serde_json::from_value(meta()).unwrap()
    }

    #[test]
    fn corrupt_text_is_a_corrupt_error() {
        let mut bad = stored("grantor", "1.0", json!({"Nonsense": {}}), meta());
        assert!(matches!(
            decode_text(bad.clone(), &upcasters()),
            Err(ServiceError::Corrupt(_))
        ));
        bad.aggregate_type = "martian".to_owned();
        let Err(ServiceError::Corrupt(error)) = decode_text(bad, &upcasters()) else {
            panic!("an unknown aggregate type is corrupt data");
        };
        assert!(error.to_string().contains("martian"));
    }
}
