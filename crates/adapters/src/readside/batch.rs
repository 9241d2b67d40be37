//! The write-behind cache of the projector's batches: the rows a batch reads
//! and writes, the audit rows and outbox writes it adds, held in memory
//! until its [`WriteSet`] is written with a handful of multi-row statements
//! per table instead of a few statements per event.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;

use super::{
    to_json, ts, AuditEntry, BookingRow, DelegationRow, DocumentRefRow, OutboxEntry, PlaceRow,
};
use crate::error::ServiceError;

/// The rows a batch's events are about, per table: those to read with one
/// query, and those the batch starts.
#[derive(Debug, Default)]
pub(crate) struct RowKeys {
    pub delegations: Keys<String>,
    pub bookings: Keys<String>,
    /// `(slot_key, booking)`.
    pub places: Keys<(String, String)>,
}

/// One table's keys, each once, with whether the first event naming it
/// in the batch starts its row.
#[derive(Debug)]
pub(crate) struct Keys<K> {
    first: HashMap<K, bool>,
}

impl<K> Default for Keys<K> {
    fn default() -> Self {
        Self {
            first: HashMap::new(),
        }
    }
}

impl<K: Hash + Eq> Keys<K> {
    /// Notes `key`, named by an event that `starts` its row or not; only
    /// the first event naming a key counts.
    pub fn add(&mut self, key: K, starts: bool) {
        self.first.entry(key).or_insert(starts);
    }

    /// One key to read.
    pub fn to_read(key: K) -> Self {
        let mut keys = Self::default();
        keys.add(key, false);
        keys
    }

    /// The keys to read, and those of the rows the batch starts. A row
    /// whose first event in the batch starts it (a request, a reservation)
    /// is built from that event alone; a row stored under its key holds
    /// only events at or below the checkpoint, which the batch follows. So
    /// it is not read: the batch takes it as absent, and the write-back's
    /// position guard keeps a stored row should it be newer.
    pub fn split(self) -> (Vec<K>, Vec<K>) {
        let (started, read): (Vec<_>, Vec<_>) = self.first.into_iter().partition(|(_, s)| *s);
        (
            read.into_iter().map(|(k, _)| k).collect(),
            started.into_iter().map(|(k, _)| k).collect(),
        )
    }
}

/// The rows of the batches being projected, and the audit rows and outbox
/// writes of the one being applied. Each row remembers the last batch that
/// named it: [`Cache::next_batch`] forgets the others, so the rows a batch
/// wrote stay known to the next one (which the pipelined catch-up needs, as
/// they are not committed yet when it reads), and memory holds one batch's
/// rows.
#[derive(Default)]
pub(crate) struct Cache {
    pub delegations: Table<String, DelegationRow>,
    pub bookings: Table<String, BookingRow>,
    pub places: Table<(String, String), PlaceRow>,
    pub audit: Vec<AuditEntry>,
    /// The documents the batch's events refer to.
    pub document_refs: Vec<DocumentRefRow>,
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
        self.document_refs.clear();
    }

    /// What the batch changed, ready to write: the changed rows encoded
    /// (and from now on taken as written), the audit rows, the outbox writes
    /// folded one per key.
    pub fn write_set(&mut self) -> Result<WriteSet, ServiceError> {
        Ok(WriteSet {
            delegations: self
                .delegations
                .take_dirty()
                .map(DelegationRecord::of)
                .collect::<Result<_, _>>()?,
            bookings: self
                .bookings
                .take_dirty()
                .map(BookingRecord::of)
                .collect::<Result<_, _>>()?,
            places: self.places.take_dirty().cloned().collect(),
            audit: std::mem::take(&mut self.audit),
            document_refs: first_refs(std::mem::take(&mut self.document_refs)),
            outbox: plan(std::mem::take(&mut self.outbox)),
        })
    }

    /// Forgets the rows the current batch did not name, and starts the next.
    pub fn next_batch(&mut self) {
        self.delegations.next_batch();
        self.bookings.next_batch();
        self.places.next_batch();
    }
}

/// What one batch writes back, owned, so that it can be written while the
/// next batch is applied.
#[derive(Debug, Clone, Default)]
pub(crate) struct WriteSet {
    pub delegations: Vec<DelegationRecord>,
    pub bookings: Vec<BookingRecord>,
    pub places: Vec<PlaceRow>,
    pub audit: Vec<AuditEntry>,
    /// Each document once, with the first position that referred to it.
    pub document_refs: Vec<DocumentRefRow>,
    pub outbox: OutboxPlan,
}

/// `refs` (in log order) with each document once, at its first position: a
/// multi-row insert names each key once.
fn first_refs(refs: Vec<DocumentRefRow>) -> Vec<DocumentRefRow> {
    let mut seen = std::collections::HashSet::new();
    refs.into_iter()
        .filter(|r| seen.insert(r.sha256.clone()))
        .collect()
}

/// A delegation row as written: its columns.
#[derive(Debug, Clone)]
pub(crate) struct DelegationRecord {
    pub id: String,
    pub grantor: String,
    pub delegate: String,
    pub stage: &'static str,
    pub requested_at: String,
    pub data: String,
    pub position: i64,
}

impl DelegationRecord {
    fn of(row: &DelegationRow) -> Result<Self, ServiceError> {
        let d = &row.delegation;
        Ok(Self {
            id: d.id.as_str().to_owned(),
            grantor: d.grantor.as_str().to_owned(),
            delegate: d.delegate.as_str().to_owned(),
            stage: row.stage_name(),
            requested_at: ts(d.requested_at),
            data: to_json(d)?,
            position: row.position,
        })
    }
}

/// A booking row as written: its columns.
#[derive(Debug, Clone)]
pub(crate) struct BookingRecord {
    pub id: String,
    pub booker: String,
    // Columns of the SQL table only: no statement reads them, and the
    // in-memory read side keeps none.
    #[cfg_attr(not(feature = "sql"), allow(dead_code))]
    pub counter: String,
    pub office: String,
    pub mode: &'static str,
    pub slot_start: String,
    pub slot_date: String,
    pub stage: &'static str,
    #[cfg_attr(not(feature = "sql"), allow(dead_code))]
    pub meeting_state: &'static str,
    pub data: String,
    pub meeting: String,
    pub position: i64,
}

impl BookingRecord {
    fn of(row: &BookingRow) -> Result<Self, ServiceError> {
        let b = &row.booking;
        Ok(Self {
            id: b.id.as_str().to_owned(),
            booker: b.booker.as_str().to_owned(),
            counter: b.counter.as_str().to_owned(),
            office: b.office.as_str().to_owned(),
            mode: b.mode.as_str(),
            slot_start: ts(b.slot.start),
            slot_date: b.slot.local_date().to_string(),
            stage: row.stage_name(),
            meeting_state: row.meeting.state().as_str(),
            data: to_json(b)?,
            meeting: to_json(&row.meeting)?,
            position: row.position,
        })
    }
}

/// One table's rows as the batches know them. `None` is a row known to be
/// absent, so a miss is read once, like a hit.
pub(crate) struct Table<K, R> {
    rows: HashMap<K, Entry<R>>,
    /// The current batch's number.
    batch: u64,
}

struct Entry<R> {
    row: Option<R>,
    dirty: bool,
    /// The last batch that named the row.
    batch: u64,
}

impl<K, R> Default for Table<K, R> {
    fn default() -> Self {
        Self {
            rows: HashMap::new(),
            batch: 0,
        }
    }
}

impl<K: Hash + Eq, R> Table<K, R> {
    /// Whether the batches know the row of `key` (read, or known absent).
    pub fn knows<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.rows.contains_key(key)
    }

    /// The keys among `keys` (each once) not known yet; those known are
    /// now named by the current batch.
    pub fn unread(&mut self, keys: Vec<K>) -> Vec<K> {
        let batch = self.batch;
        keys.into_iter()
            .filter(|k| match self.rows.get_mut(k) {
                Some(entry) => {
                    entry.batch = batch;
                    false
                }
                None => true,
            })
            .collect()
    }

    /// Takes the rows of `keys` not known yet as absent, without reading
    /// them: rows the batch starts ([`Keys::split`]).
    pub fn start(&mut self, keys: Vec<K>) {
        let batch = self.batch;
        for key in keys {
            self.rows
                .entry(key)
                .and_modify(|e| e.batch = batch)
                .or_insert(Entry {
                    row: None,
                    dirty: false,
                    batch,
                });
        }
    }

    /// Records a read of `keys` that found `found`: the others are absent.
    pub fn read(&mut self, keys: Vec<K>, found: Vec<R>, key_of: impl Fn(&R) -> K) {
        let mut found: HashMap<K, R> = found.into_iter().map(|r| (key_of(&r), r)).collect();
        for key in keys {
            let row = found.remove(&key);
            self.rows.insert(
                key,
                Entry {
                    row,
                    dirty: false,
                    batch: self.batch,
                },
            );
        }
    }

    /// The row as the batches left it (`None` if absent or not read yet).
    pub fn get<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<&R>
    where
        K: Borrow<Q>,
    {
        self.rows.get(key).and_then(|e| e.row.as_ref())
    }

    /// The row, to change in place: it is written back with the batch.
    pub fn get_mut<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<&mut R>
    where
        K: Borrow<Q>,
    {
        let batch = self.batch;
        let entry = self.rows.get_mut(key)?;
        let row = entry.row.as_mut()?;
        entry.dirty = true;
        entry.batch = batch;
        Some(row)
    }

    pub fn put(&mut self, key: K, row: R) {
        self.rows.insert(
            key,
            Entry {
                row: Some(row),
                dirty: true,
                batch: self.batch,
            },
        );
    }

    /// The rows changed since the last write set, from now on taken as
    /// written.
    fn take_dirty(&mut self) -> impl Iterator<Item = &R> {
        self.rows.values_mut().filter_map(|e| {
            if !std::mem::take(&mut e.dirty) {
                return None;
            }
            e.row.as_ref()
        })
    }

    /// Forgets the rows the current batch did not name (a changed row is
    /// kept until written), and starts the next batch.
    fn next_batch(&mut self) {
        let batch = self.batch;
        self.rows.retain(|_, e| e.batch == batch || e.dirty);
        self.batch += 1;
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

/// A batch's outbox writes as one statement per kind, each key once, that
/// leave the outbox as the writes run one by one would.
#[derive(Debug, Clone, Default)]
pub(crate) struct OutboxPlan {
    /// Rows to insert if their key is free (as `pending`, or as `withdrawn`
    /// when the batch withdraws them after scheduling them).
    pub schedule: Vec<OutboxEntry>,
    /// The same, but a row already there under the key is withdrawn if
    /// pending: the batch withdraws the key as well.
    pub schedule_or_withdraw: Vec<OutboxEntry>,
    /// Keys whose pending row is withdrawn, the batch scheduling none.
    pub withdraw: Vec<String>,
}

/// What a key's writes come to, in order.
enum KeyWrites {
    /// Withdrawals only.
    Withdraw,
    /// A first schedule (the later ones find its row there): whether a
    /// withdrawal came before it (for a row already stored), and whether one
    /// came after it (for the row it inserts, or the one stored).
    Schedule {
        entry: Box<OutboxEntry>,
        withdrawn_before: bool,
        withdrawn_after: bool,
    },
}

/// Folds `writes` into one write per key. For a key, only its own writes'
/// order matters: a schedule inserts the row if the key is free and does
/// nothing otherwise; a withdrawal turns a pending row withdrawn. So after
/// its first schedule, a key's row is the one stored or the one inserted,
/// and a withdrawal anywhere in its writes withdraws whichever it is if
/// pending — except a withdrawal before the first schedule, which cannot
/// reach the row that schedule inserts.
pub(crate) fn plan(writes: Vec<OutboxWrite>) -> OutboxPlan {
    let mut keys: HashMap<String, KeyWrites> = HashMap::new();
    let mut order = Vec::new();
    for write in writes {
        match write {
            OutboxWrite::Schedule(entry) => match keys.get_mut(&entry.key) {
                None => {
                    order.push(entry.key.clone());
                    keys.insert(
                        entry.key.clone(),
                        KeyWrites::Schedule {
                            entry,
                            withdrawn_before: false,
                            withdrawn_after: false,
                        },
                    );
                }
                Some(slot @ KeyWrites::Withdraw) => {
                    *slot = KeyWrites::Schedule {
                        entry,
                        withdrawn_before: true,
                        withdrawn_after: false,
                    }
                }
                Some(KeyWrites::Schedule { .. }) => {}
            },
            OutboxWrite::Withdraw(key) => match keys.get_mut(&key) {
                None => {
                    order.push(key.clone());
                    keys.insert(key, KeyWrites::Withdraw);
                }
                Some(KeyWrites::Withdraw) => {}
                Some(KeyWrites::Schedule {
                    withdrawn_after, ..
                }) => *withdrawn_after = true,
            },
        }
    }
    let mut plan = OutboxPlan::default();
    for key in order {
        match keys.remove(&key) {
            Some(KeyWrites::Withdraw) => plan.withdraw.push(key),
            Some(KeyWrites::Schedule {
                mut entry,
                withdrawn_before,
                withdrawn_after,
            }) => {
                if withdrawn_after {
                    entry.status = "withdrawn".to_owned();
                }
                if withdrawn_before || withdrawn_after {
                    plan.schedule_or_withdraw.push(*entry);
                } else {
                    plan.schedule.push(*entry);
                }
            }
            None => {}
        }
    }
    plan
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

    /// `(key, position, status)` of each entry.
    fn entries(entries: &[OutboxEntry]) -> Vec<(&str, i64, &str)> {
        entries
            .iter()
            .map(|e| (e.key.as_str(), e.position, e.status.as_str()))
            .collect()
    }

    #[test]
    fn a_withdrawal_after_its_schedule_inserts_the_row_withdrawn() {
        let p = plan(vec![
            schedule("a", 1),
            schedule("b", 1),
            withdraw("c"),
            withdraw("a"),
        ]);
        assert_eq!(entries(&p.schedule), vec![("b", 1, "pending")]);
        assert_eq!(
            entries(&p.schedule_or_withdraw),
            vec![("a", 1, "withdrawn")]
        );
        assert_eq!(p.withdraw, vec!["c".to_owned()]);
    }

    #[test]
    fn a_withdrawal_before_its_schedule_reaches_only_a_stored_row() {
        let p = plan(vec![withdraw("a"), schedule("a", 2), schedule("b", 2)]);
        assert_eq!(entries(&p.schedule), vec![("b", 2, "pending")]);
        assert_eq!(entries(&p.schedule_or_withdraw), vec![("a", 2, "pending")]);
        assert!(p.withdraw.is_empty());
    }

    #[test]
    fn the_first_schedule_of_a_key_is_the_one_kept() {
        let p = plan(vec![
            schedule("a", 1),
            schedule("a", 2),
            withdraw("a"),
            withdraw("a"),
            schedule("a", 3),
        ]);
        assert!(p.schedule.is_empty());
        assert_eq!(
            entries(&p.schedule_or_withdraw),
            vec![("a", 1, "withdrawn")]
        );
        assert!(p.withdraw.is_empty());
    }
}
