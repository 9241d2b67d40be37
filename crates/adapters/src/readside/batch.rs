//! The write-behind cache of one projector batch: the rows the batch reads
//! and writes, the audit rows and outbox writes it adds, held in memory
//! until [`super::SideTx::flush`] writes them with a handful of multi-row
//! statements per table instead of a few statements per event.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use super::{AuditEntry, BookingRow, DelegationRow, OutboxEntry, PlaceRow};

/// The rows a batch's events are about, per table: those to read with one
/// query, and those the batch starts.
#[derive(Debug, Default)]
pub(crate) struct RowKeys {
    pub delegations: Keys<String>,
    pub bookings: Keys<String>,
    /// `(slot_key, booking)`.
    pub places: Keys<(String, String)>,
}

/// One table's keys, each once, in the order the batch first names them.
#[derive(Debug)]
pub(crate) struct Keys<K> {
    /// Rows an earlier event may have written: read before applying.
    pub read: Vec<K>,
    /// Rows whose first event in the batch starts them (a request, a
    /// reservation), built from that event alone. A row stored under such a
    /// key holds only events at or below the checkpoint, which the batch
    /// follows, so it is not read: the batch takes it as absent, and the
    /// write-back's position guard keeps it should it be newer.
    pub started: Vec<K>,
    seen: HashSet<K>,
}

impl<K> Default for Keys<K> {
    fn default() -> Self {
        Self {
            read: Vec::new(),
            started: Vec::new(),
            seen: HashSet::new(),
        }
    }
}

impl<K: Hash + Eq + Clone> Keys<K> {
    /// Notes `key`, named by an event that `starts` its row or not; only
    /// the first event naming a key counts.
    pub fn add(&mut self, key: K, starts: bool) {
        if self.seen.insert(key.clone()) {
            if starts {
                self.started.push(key);
            } else {
                self.read.push(key);
            }
        }
    }

    /// Keys to read.
    pub fn to_read(keys: Vec<K>) -> Self {
        Self {
            read: keys,
            ..Self::default()
        }
    }
}

#[derive(Default)]
pub(crate) struct Cache {
    pub delegations: Table<String, DelegationRow>,
    pub bookings: Table<String, BookingRow>,
    pub places: Table<(String, String), PlaceRow>,
    pub audit: Vec<AuditEntry>,
    pub outbox: Vec<OutboxWrite>,
}

impl Cache {
    /// Forgets the read models' rows, as after they were deleted. Outbox
    /// writes stay: the outbox is not a read model.
    pub fn clear_read_models(&mut self) {
        self.delegations.clear();
        self.bookings.clear();
        self.places.clear();
        self.audit.clear();
    }
}

/// One table's rows as this batch knows them. `None` is a row known to be
/// absent, so a miss is read once, like a hit.
pub(crate) struct Table<K, R> {
    rows: HashMap<K, Entry<R>>,
}

struct Entry<R> {
    row: Option<R>,
    dirty: bool,
}

impl<K, R> Default for Table<K, R> {
    fn default() -> Self {
        Self {
            rows: HashMap::new(),
        }
    }
}

impl<K: Hash + Eq + Clone, R: Clone> Table<K, R> {
    /// The keys among `keys` not read yet, each once.
    pub fn unread(&self, keys: impl IntoIterator<Item = K>) -> Vec<K> {
        let mut seen = HashSet::new();
        keys.into_iter()
            .filter(|k| !self.rows.contains_key(k) && seen.insert(k.clone()))
            .collect()
    }

    /// Takes the rows of `keys` not known yet as absent, without reading
    /// them: rows the batch starts ([`Keys::started`]).
    pub fn start(&mut self, keys: Vec<K>) {
        for key in keys {
            self.rows.entry(key).or_insert(Entry {
                row: None,
                dirty: false,
            });
        }
    }

    /// Records a read of `keys` that found `found`: the others are absent.
    pub fn read(&mut self, keys: Vec<K>, found: Vec<R>, key_of: impl Fn(&R) -> K) {
        let mut found: HashMap<K, R> = found.into_iter().map(|r| (key_of(&r), r)).collect();
        for key in keys {
            let row = found.remove(&key);
            self.rows.insert(key, Entry { row, dirty: false });
        }
    }

    /// The row as the batch left it; `None` if not read yet.
    pub fn get(&self, key: &K) -> Option<Option<R>> {
        self.rows.get(key).map(|e| e.row.clone())
    }

    pub fn put(&mut self, key: K, row: R) {
        self.rows.insert(
            key,
            Entry {
                row: Some(row),
                dirty: true,
            },
        );
    }

    /// The rows changed since the last flush.
    pub fn dirty(&self) -> Vec<&R> {
        self.rows
            .values()
            .filter(|e| e.dirty)
            .filter_map(|e| e.row.as_ref())
            .collect()
    }

    pub fn clear(&mut self) {
        self.rows.clear();
    }
}

/// An outbox write, in the order the batch's events asked for it.
pub(crate) enum OutboxWrite {
    /// `INSERT … ON CONFLICT (key) DO NOTHING`.
    Schedule(Box<OutboxEntry>),
    /// `pending` → `withdrawn`.
    Withdraw(String),
}

impl OutboxWrite {
    fn key(&self) -> &str {
        match self {
            OutboxWrite::Schedule(e) => &e.key,
            OutboxWrite::Withdraw(key) => key,
        }
    }
}

/// Writes on distinct keys, each round one multi-row insert and one
/// multi-row withdrawal.
#[derive(Default)]
pub(crate) struct Round {
    pub schedule: Vec<OutboxEntry>,
    pub withdraw: Vec<String>,
}

/// Groups `writes` into rounds that, run in order, leave the outbox as the
/// writes run one by one would. Writes on different keys commute, so only
/// each key's own order matters: its n-th change of kind goes to round n. A
/// write repeating the key's previous kind is dropped: a second schedule
/// finds the row there, a second withdrawal finds it no longer pending.
pub(crate) fn rounds(writes: Vec<OutboxWrite>) -> Vec<Round> {
    let mut rounds: Vec<Round> = Vec::new();
    // Per key: its last round and whether that write was a schedule.
    let mut last: HashMap<String, (usize, bool)> = HashMap::new();
    for write in writes {
        let schedule = matches!(write, OutboxWrite::Schedule(_));
        let round = match last.get(write.key()) {
            Some(&(_, was)) if was == schedule => continue,
            Some(&(round, _)) => round + 1,
            None => 0,
        };
        last.insert(write.key().to_owned(), (round, schedule));
        if rounds.len() == round {
            rounds.push(Round::default());
        }
        match write {
            OutboxWrite::Schedule(entry) => rounds[round].schedule.push(*entry),
            OutboxWrite::Withdraw(key) => rounds[round].withdraw.push(key),
        }
    }
    rounds
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(key: &str, position: i64) -> OutboxWrite {
        OutboxWrite::Schedule(Box::new(OutboxEntry {
            key: key.to_owned(),
            channel: "sms".to_owned(),
            recipient: "+39000".to_owned(),
            title: "t".to_owned(),
            body: "b".to_owned(),
            due_at: "2026-12-01T08:00:00.000000Z".to_owned(),
            status: "pending".to_owned(),
            attempts: 0,
            next_attempt_at: "2026-12-01T08:00:00.000000Z".to_owned(),
            last_error: None,
            sent_at: None,
            position,
        }))
    }

    fn withdraw(key: &str) -> OutboxWrite {
        OutboxWrite::Withdraw(key.to_owned())
    }

    /// Per round: the keys scheduled, with their positions, and withdrawn.
    type Shape = (Vec<(String, i64)>, Vec<String>);

    fn shape(rounds: &[Round]) -> Vec<Shape> {
        rounds
            .iter()
            .map(|r| {
                (
                    r.schedule
                        .iter()
                        .map(|e| (e.key.clone(), e.position))
                        .collect(),
                    r.withdraw.clone(),
                )
            })
            .collect()
    }

    fn keyed(pairs: &[(&str, i64)]) -> Vec<(String, i64)> {
        pairs.iter().map(|(k, p)| ((*k).to_owned(), *p)).collect()
    }

    fn keys(ks: &[&str]) -> Vec<String> {
        ks.iter().map(|k| (*k).to_owned()).collect()
    }

    #[test]
    fn a_withdrawal_after_its_schedule_runs_after_it() {
        let r = rounds(vec![
            schedule("a", 1),
            schedule("b", 1),
            withdraw("c"),
            withdraw("a"),
        ]);
        assert_eq!(
            shape(&r),
            vec![
                (keyed(&[("a", 1), ("b", 1)]), keys(&["c"])),
                (vec![], keys(&["a"])),
            ]
        );
    }

    #[test]
    fn a_schedule_after_its_withdrawal_runs_after_it() {
        let r = rounds(vec![withdraw("a"), schedule("a", 2), schedule("b", 2)]);
        assert_eq!(
            shape(&r),
            vec![
                (keyed(&[("b", 2)]), keys(&["a"])),
                (keyed(&[("a", 2)]), vec![]),
            ]
        );
    }

    #[test]
    fn repeats_keep_the_first_write() {
        let r = rounds(vec![
            schedule("a", 1),
            schedule("a", 2),
            withdraw("a"),
            withdraw("a"),
            schedule("a", 3),
        ]);
        assert_eq!(
            shape(&r),
            vec![
                (keyed(&[("a", 1)]), vec![]),
                (vec![], keys(&["a"])),
                (keyed(&[("a", 3)]), vec![]),
            ]
        );
    }
}
