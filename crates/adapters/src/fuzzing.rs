//! The property the stored-event fuzz target (`fuzz/`, `docs/TESTING.md`)
//! checks: the path a stored row takes into the domain's types, its
//! upcasters included. Public only with the feature `fuzzing`, for the fuzz
//! crate; the crate's own tests run every file of the fuzz corpus through
//! the same function, so the corpus replays on stable in every test run.

use cqrs_es::DomainEvent;
use serde_json::Value;

use crate::error::ServiceError;
use crate::events::{decode, decode_text, LoggedEvent, Payload, StoredText};
use crate::upcast::upcasters;

/// Whether a stored row, as a SQL store reads it (payload and metadata JSON
/// text), decodes as the stores decode it: upcast to the current version
/// and read into the domain's types; [`ServiceError::Corrupt`] if not.
pub fn decode_row(
    aggregate_type: &str,
    event_type: &str,
    event_version: &str,
    payload: &str,
    metadata: &str,
) -> Result<(), ServiceError> {
    decoded(aggregate_type, event_type, event_version, payload, metadata).map(drop)
}

fn decoded(
    aggregate_type: &str,
    event_type: &str,
    event_version: &str,
    payload: &str,
    metadata: &str,
) -> Result<LoggedEvent, ServiceError> {
    decode_text(
        row(aggregate_type, event_type, event_version, payload, metadata),
        &upcasters(),
    )
}

fn row(
    aggregate_type: &str,
    event_type: &str,
    event_version: &str,
    payload: &str,
    metadata: &str,
) -> StoredText {
    StoredText {
        position: 1,
        aggregate_type: aggregate_type.to_owned(),
        aggregate_id: "RSSMRA85T10A562S".to_owned(),
        sequence: 1,
        event_type: event_type.to_owned(),
        event_version: event_version.to_owned(),
        payload: payload.to_owned(),
        metadata: metadata.to_owned(),
    }
}

/// `data`, read as UTF-8 text, as a stored row: its first four lines are the
/// aggregate type, the event type, the event version and the metadata (JSON
/// text), the rest is the payload (JSON text).
///
/// Decoding never panics. A row read straight from its text decodes as it
/// does through a parsed `serde_json::Value` (the path of a store that holds
/// JSON values), to the same event. A decoded event, stored again as its
/// current type and version, decodes to itself.
pub fn stored_event(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.splitn(5, '\n');
    let mut next = || lines.next().unwrap_or("");
    let (aggregate_type, event_type, event_version, metadata, payload) =
        (next(), next(), next(), next(), next());
    let Ok(event) = decoded(aggregate_type, event_type, event_version, payload, metadata) else {
        return;
    };
    let as_value = row(aggregate_type, event_type, event_version, payload, metadata)
        .parsed()
        .and_then(|positioned| decode(positioned, &upcasters()));
    match as_value {
        // Metadata that is not JSON is no metadata when read from text; a
        // store of JSON values cannot hold it.
        Err(_) if serde_json::from_str::<Value>(metadata).is_err() => {}
        other => assert_eq!(other.as_ref().ok(), Some(&event), "{text:?}"),
    }
    let (current_type, current_version, json) = current(&event.payload);
    let again = decoded(
        aggregate_type,
        &current_type,
        &current_version,
        &json.to_string(),
        "{}",
    )
    .unwrap_or_else(|e| panic!("{json} does not read back: {e}"));
    assert_eq!(again.payload, event.payload, "{json}");
}

/// The type, version and JSON the domain gives an event today.
fn current(payload: &Payload) -> (String, String, Value) {
    fn of<E: DomainEvent>(e: &E) -> (String, String, Value) {
        let json = serde_json::to_value(e).expect("an event serialises");
        (e.event_type(), e.event_version(), json)
    }
    use deleghe_domain::flows::Event;
    match payload {
        Payload::Process(Event::Grantor(e)) => of(e),
        Payload::Process(Event::Delegate(e)) => of(e),
        Payload::Process(Event::Booker(e)) => of(e),
        Payload::Process(Event::Slot(e)) => of(e),
        Payload::Process(Event::Meeting(e)) => of(e),
        Payload::Pin(e) => of(e),
        Payload::Contacts(e) => of(e),
        Payload::Uploads(e) => of(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file of `fuzz/corpus/stored_event/`.
    fn corpus() -> Vec<Vec<u8>> {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/stored_event");
        let files: Vec<Vec<u8>> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("the corpus {}: {e}", dir.display()))
            .map(|entry| std::fs::read(entry.expect("a corpus entry").path()).expect("a file"))
            .collect();
        assert!(!files.is_empty(), "the corpus {} is empty", dir.display());
        files
    }

    #[test]
    fn the_stored_event_corpus_replays() {
        let files = corpus();
        let decoded = files.iter().filter(|f| {
            let text = String::from_utf8_lossy(f);
            let mut l = text.splitn(5, '\n');
            let mut n = || l.next().unwrap_or("").to_owned();
            let (a, t, v, m, p) = (n(), n(), n(), n(), n());
            decode_row(&a, &t, &v, &p, &m).is_ok()
        });
        // The corpus reaches the decoded branch, not only the refusals.
        assert!(decoded.count() > 0);
        for file in &files {
            stored_event(file);
        }
    }

    #[test]
    fn an_old_delegation_requested_passes_through_its_upcaster() {
        let row = "grantor\nDelegationRequested\n0.9\n{}\n{\"DelegationRequested\": {\
            \"id\": \"d-0\", \"grantor\": \"RSSMRA85T10A562S\", \"delegate\": \"VRDLGU70A01H501O\", \
            \"role\": \"ordinary\", \"end_date\": \"2027-01-31\", \"at\": \"2026-01-10T09:00:00Z\"}}";
        assert!(decode_row(
            "grantor",
            "DelegationRequested",
            "0.9",
            row.splitn(5, '\n').nth(4).unwrap(),
            "{}"
        )
        .is_ok());
        stored_event(row.as_bytes());
    }
}
