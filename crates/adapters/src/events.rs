//! Reading the log back: a stored event, upcast to the current version and
//! decoded into the domain's types, with its position and metadata.

use std::collections::HashMap;

use cqrs_es::persist::{EventUpcaster, SerializedEvent};
use cqrs_es::Aggregate;
use deleghe_domain::booking::{Booker, SlotLedger};
use deleghe_domain::delegation::{Delegate, Grantor};
use deleghe_domain::meeting::Meeting;
use deleghe_domain::pin::{PinAccount, PinEvent};
use deleghe_domain::process::Event;

use crate::error::ServiceError;
use crate::memory::Positioned;

/// What a stored event is, in the domain's terms.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// An event of one of the flows' aggregates.
    Process(Event),
    /// A telephone PIN event (P1–P3): part of no flow.
    Pin(PinEvent),
}

/// One event of the log, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedEvent {
    pub position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: usize,
    pub payload: Payload,
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
    let corrupt = |e: serde_json::Error| ServiceError::Corrupt(Box::new(e));
    let value = event.payload;
    let payload = match event.aggregate_type.as_str() {
        t if t == Grantor::TYPE => Payload::Process(Event::Grantor(
            serde_json::from_value(value).map_err(corrupt)?,
        )),
        t if t == Delegate::TYPE => Payload::Process(Event::Delegate(
            serde_json::from_value(value).map_err(corrupt)?,
        )),
        t if t == Booker::TYPE => Payload::Process(Event::Booker(
            serde_json::from_value(value).map_err(corrupt)?,
        )),
        t if t == SlotLedger::TYPE => {
            Payload::Process(Event::Slot(serde_json::from_value(value).map_err(corrupt)?))
        }
        t if t == Meeting::TYPE => Payload::Process(Event::Meeting(
            serde_json::from_value(value).map_err(corrupt)?,
        )),
        t if t == PinAccount::TYPE => Payload::Pin(serde_json::from_value(value).map_err(corrupt)?),
        other => {
            return Err(ServiceError::Corrupt(
                format!(
                    "unknown aggregate type {other:?} at position {}",
                    stored.position
                )
                .into(),
            ))
        }
    };
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
