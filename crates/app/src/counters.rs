//! The offices and counters the app offers for booking (B3), read once at
//! start: the built-in default (`config/counters.json`: the web-meeting
//! delegations counter `deleghe-web-meeting` of docs/APP.md and four more, of four
//! other counter types, so that every booking rule can be tried), or a JSON
//! file of the same shape given with `--counters` / `DELEGHE_COUNTERS`.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use deleghe_domain::schedule::{Counter, WEB_MEETING_COUNTER_ID};

/// The built-in configuration.
pub const DEFAULT_COUNTERS: &str = include_str!("../config/counters.json");

/// The counters, in configuration order.
#[derive(Debug, Clone)]
pub struct Counters {
    list: Vec<Counter>,
    by_id: HashMap<String, usize>,
    offices: BTreeSet<String>,
}

impl Counters {
    /// Parses and checks a configuration: a JSON list of counters, ids unique.
    pub fn from_json(json: &str) -> Result<Self, String> {
        let list: Vec<Counter> =
            serde_json::from_str(json).map_err(|e| format!("not a valid list of counters: {e}"))?;
        if list.is_empty() {
            return Err("the list of counters is empty".into());
        }
        let mut by_id = HashMap::new();
        let mut letters: HashMap<(String, char), &Counter> = HashMap::new();
        for (i, c) in list.iter().enumerate() {
            if c.modes.is_empty() {
                return Err(format!("counter {} offers no mode", c.id));
            }
            if by_id.insert(c.id.to_string(), i).is_some() {
                return Err(format!("counter id {} is given twice", c.id));
            }
            if let Some(letter) = c.ticket_letter.filter(|l| !l.is_ascii_uppercase()) {
                return Err(format!(
                    "counter {}: ticket_letter {letter:?} is not a letter from A to Z",
                    c.id
                ));
            }
            // B10: ticket codes are unique per office and day.
            let letter = c.ticket_letter();
            if let Some(other) = letters.insert((c.office.to_string(), letter), c) {
                return Err(format!(
                    "counters {} and {} of office {} have the same ticket letter {letter}: \
                     give one a ticket_letter of its own",
                    other.id, c.id, c.office
                ));
            }
        }
        let offices = list.iter().map(|c| c.office.to_string()).collect();
        Ok(Self {
            list,
            by_id,
            offices,
        })
    }

    /// The built-in counters (`crates/app/config/counters.json`).
    pub fn builtin() -> Self {
        Self::from_json(DEFAULT_COUNTERS).expect("the built-in counters are valid")
    }

    /// The counters of a JSON file, or what is wrong with it.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Every counter, in configuration order.
    pub fn all(&self) -> &[Counter] {
        &self.list
    }

    /// The counter `id`, if configured.
    pub fn get(&self, id: &str) -> Option<&Counter> {
        self.by_id.get(id).map(|i| &self.list[*i])
    }

    /// The offices of the counters: an operator's token names one of them.
    pub fn offices(&self) -> &BTreeSet<String> {
        &self.offices
    }

    /// Whether the web-meeting delegations counter of docs/APP.md is configured.
    pub fn has_web_meeting_counter(&self) -> bool {
        self.get(WEB_MEETING_COUNTER_ID).is_some()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::NaiveDate;
    use deleghe_domain::schedule::{Counter, Mode, OfficeId};

    use super::*;

    #[test]
    fn the_builtin_configuration_offers_every_rule_to_try() {
        let c = Counters::builtin();
        // The web-meeting counter is exactly the default of docs/APP.md and B3.
        let web = c.get(WEB_MEETING_COUNTER_ID).unwrap();
        let reference = Counter::web_meeting_delegations(OfficeId::parse("DCM NAPOLI").unwrap());
        let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(
            web.slots_between(day, day).unwrap(),
            reference.slots_between(day, day).unwrap()
        );
        assert_eq!(web.capacity(), 2);
        assert_eq!(web.counter_type, reference.counter_type);
        // B2 needs four counter types to be reached; B1 two counters of one type.
        let types: BTreeSet<_> = c.all().iter().map(|c| c.counter_type.as_str()).collect();
        assert!(types.len() >= 4, "{types:?}");
        assert!(c
            .all()
            .iter()
            .any(|x| x.id != web.id && x.counter_type == web.counter_type));
        // B4 is easy to try on a counter of capacity one; B5 on each mode.
        assert!(c.all().iter().any(|x| x.capacity() == 1));
        for mode in [Mode::InPerson, Mode::PhoneCallback, Mode::WebMeeting] {
            assert!(c.all().iter().any(|x| x.offers_mode(mode)), "{mode}");
        }
    }

    #[test]
    fn the_offices_are_those_of_the_counters() {
        let counters = Counters::builtin();
        let offices: Vec<&str> = counters.offices().iter().map(String::as_str).collect();
        assert_eq!(offices, ["DCM NAPOLI", "MILANO NORD", "ROMA EUR"]);
    }

    #[test]
    fn a_bad_configuration_says_what_is_wrong() {
        assert!(Counters::from_json("[]").unwrap_err().contains("empty"));
        let one = serde_json::to_string(&vec![Counters::builtin().all()[0].clone(); 2]).unwrap();
        assert!(Counters::from_json(&one).unwrap_err().contains("twice"));
        assert!(Counters::from_json("{")
            .unwrap_err()
            .contains("not a valid"));
        // B10: two counters of one office with one ticket letter.
        let mut twin = Counters::builtin().all()[0].clone();
        twin.id = deleghe_domain::schedule::CounterId::parse("deleghe-bis").unwrap();
        let two = serde_json::to_string(&vec![Counters::builtin().all()[0].clone(), twin.clone()])
            .unwrap();
        let clash = Counters::from_json(&two).unwrap_err();
        assert!(clash.contains("same ticket letter D"), "{clash}");
        twin.ticket_letter = Some('W');
        let apart =
            serde_json::to_string(&vec![Counters::builtin().all()[0].clone(), twin.clone()])
                .unwrap();
        assert!(Counters::from_json(&apart).is_ok());
        twin.ticket_letter = Some('w');
        let lower = serde_json::to_string(&vec![twin]).unwrap();
        assert!(Counters::from_json(&lower)
            .unwrap_err()
            .contains("ticket_letter"));
    }
}
