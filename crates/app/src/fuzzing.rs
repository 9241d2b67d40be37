//! The property the counters fuzz target (`fuzz/`, `docs/TESTING.md`)
//! checks on the counters file. Public only with the feature `fuzzing`, for
//! the fuzz crate; the crate's own tests run every file of the fuzz corpus
//! through the same function, so the corpus replays on stable in every
//! test run.

use std::collections::BTreeSet;

use crate::counters::Counters;

/// The counters file: `data`, read as UTF-8 text, through
/// [`Counters::from_json`].
///
/// An accepted file holds at least one counter, each offering a mode, ids
/// unique and each found by its id, ticket letters upper case and unique per
/// office (B10), the offices those of the counters; written back as JSON it
/// reads as the same counters. A refused file says why.
pub fn counters(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Counters::from_json(text) {
        Ok(counters) => {
            let all = counters.all();
            assert!(!all.is_empty());
            let mut ids = BTreeSet::new();
            let mut letters = BTreeSet::new();
            for c in all {
                assert!(!c.modes.is_empty(), "{}", c.id);
                assert!(ids.insert(c.id.to_string()), "{} twice", c.id);
                assert_eq!(counters.get(c.id.as_str()), Some(c));
                assert!(c.ticket_letter().is_ascii_uppercase(), "{}", c.id);
                let key = (c.office.to_string(), c.ticket_letter());
                assert!(letters.insert(key), "{}: ticket letter", c.id);
            }
            let offices: BTreeSet<String> = all.iter().map(|c| c.office.to_string()).collect();
            assert_eq!(counters.offices(), &offices);
            let json = serde_json::to_string(all).expect("counters serialise");
            let again = Counters::from_json(&json).expect("the counters read back");
            assert_eq!(again.all(), all);
        }
        Err(error) => assert!(!error.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counters_corpus_replays() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/counters");
        let files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("the corpus {}: {e}", dir.display()))
            .map(|entry| std::fs::read(entry.expect("a corpus entry").path()).expect("a file"))
            .collect();
        assert!(!files.is_empty(), "the corpus {} is empty", dir.display());
        for file in &files {
            counters(file);
        }
    }

    #[test]
    fn the_builtin_counters_reach_the_accepting_branch() {
        assert!(Counters::from_json(crate::counters::DEFAULT_COUNTERS).is_ok());
        counters(crate::counters::DEFAULT_COUNTERS.as_bytes());
    }
}
