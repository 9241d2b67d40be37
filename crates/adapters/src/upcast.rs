//! Event schema evolution. Every stored event carries the version of its
//! payload's shape (`event_version`, from `DomainEvent::event_version`); when
//! a shape changes, the version goes up and an upcaster here rewrites the
//! older payloads, as they are loaded, into the current shape. Stored events
//! are never rewritten in place.
//!
//! Every store of [`crate::Deleghe`] loads through [`upcasters`].

use cqrs_es::persist::{EventUpcaster, SemanticVersionEventUpcaster};
use serde_json::Value;

/// Every upcaster, oldest target version first within an event type (the
/// order cqrs-es applies them in).
pub fn upcasters() -> Vec<Box<dyn EventUpcaster>> {
    vec![Box::new(SemanticVersionEventUpcaster::new(
        "DelegationRequested",
        "1.0",
        Box::new(delegation_requested_to_1_0),
    ))]
}

/// `DelegationRequested` before 1.0 had no `channel` (every delegation was
/// registered at a counter then) and called the last day in force `end_date`
/// (now `ends_on`).
fn delegation_requested_to_1_0(mut payload: Value) -> Value {
    if let Some(body) = payload
        .get_mut("DelegationRequested")
        .and_then(Value::as_object_mut)
    {
        if let Some(end) = body.remove("end_date") {
            body.entry("ends_on").or_insert(end);
        }
        body.entry("channel")
            .or_insert_with(|| Value::from("counter"));
    }
    payload
}

#[cfg(test)]
mod tests {
    use cqrs_es::persist::SerializedEvent;
    use deleghe_domain::delegation::{Channel, GrantorEvent};
    use serde_json::json;

    use super::*;

    fn stored(version: &str, payload: Value) -> SerializedEvent {
        SerializedEvent::new(
            "RSSMRA85T10A562S".to_owned(),
            1,
            "grantor".to_owned(),
            "DelegationRequested".to_owned(),
            version.to_owned(),
            payload,
            json!({}),
        )
    }

    fn upcast(event: SerializedEvent) -> SerializedEvent {
        upcasters().iter().fold(event, |event, upcaster| {
            if upcaster.can_upcast(&event.event_type, &event.event_version) {
                upcaster.upcast(event)
            } else {
                event
            }
        })
    }

    #[test]
    fn a_0_9_delegation_requested_reads_as_the_current_event() {
        let old = stored(
            "0.9",
            json!({"DelegationRequested": {
                "id": "d-old",
                "grantor": "RSSMRA85T10A562S",
                "delegate": "VRDLGU70A01H501O",
                "role": "ordinary",
                "end_date": "2027-01-31",
                "at": "2026-01-10T09:00:00Z"
            }}),
        );
        let new = upcast(old);
        assert_eq!(new.event_version, "1.0.0");
        let event: GrantorEvent = serde_json::from_value(new.payload).unwrap();
        let GrantorEvent::DelegationRequested {
            channel, ends_on, ..
        } = event
        else {
            panic!("still a DelegationRequested");
        };
        assert_eq!(channel, Channel::Counter);
        assert_eq!(ends_on.unwrap().to_string(), "2027-01-31");
    }

    #[test]
    fn current_events_are_left_alone() {
        let payload = json!({"DelegationRequested": {"channel": "online", "ends_on": null}});
        let event = stored("1.0", payload.clone());
        assert_eq!(upcast(event).payload, payload);
    }
}
