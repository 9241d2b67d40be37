//! The read side in memory: the in-memory repository's, with no SQL
//! database under it. Its tables are Rust maps, and it answers every
//! statement of [`SideStatements`] as the SQL text of `crate::sql` does on
//! SQLite and PostgreSQL (the differential test `read_side_differential`
//! holds it to SQLite's answers, and to PostgreSQL's where a server is
//! given).
//!
//! How it keeps the SQL semantics:
//! - **Orders**: each query sorts as its `ORDER BY` does, text compared
//!   byte by byte (`String`'s order), as SQLite's `BINARY` collation and
//!   PostgreSQL's `COLLATE "C"`; `NULL`s compare as SQL's three-valued
//!   logic has them (a document with no `stored_at` is never swept).
//! - **Conflicts**: a stored row keeps a newer position (`ON CONFLICT …
//!   WHERE position < excluded.position`), an audit row, a reference, an
//!   outbox key or a notice already there is left alone (`DO NOTHING`), a
//!   withdrawal reaches only a pending row, and the `CHECK`s of the schema
//!   (a checkpoint's position not negative, an outbox status among the four)
//!   fail a statement before it changes anything.
//! - **Transactions**: one writer at a time, as SQLite's `BEGIN IMMEDIATE`:
//!   a transaction takes the write lock when it begins and keeps it until
//!   it ends, so concurrent projectors queue there, and
//!   `lock_read_checkpoint` then holds the checkpoint as `FOR UPDATE` does.
//!   A transaction's writes are kept beside the committed tables ([`Changes`]):
//!   its own statements read through them, the others read the committed
//!   tables only, and the commit applies them (dropped, they are forgotten:
//!   the rollback). A write outside a transaction takes the lock for its
//!   one statement; a read takes none. Each statement is all or nothing: it
//!   checks before it writes (a write-back is a statement per table, in
//!   turn, as on the SQL stores).
//!
//! Queries scan their table: the in-memory store is for embedding and
//! tests, whose read models stay small.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{Mutex as WriteLock, OwnedMutexGuard};

use super::{
    from_json, Attempt, AuditEntry, Backlog, BookingRecord, BookingRow, BoxFuture, Checkpoint,
    DelegationRecord, DelegationRow, DocumentRefRow, Marked, NoticeRow, OutboxEntry, PlaceRow,
    SidePool, SideStatements, Transactional, WriteSet,
};
use crate::error::ServiceError;

/// How long a writer waits for the one before it, then gives up as
/// `unavailable` (the SQL stores' pools wait as long for a connection).
const WRITE_WAIT: Duration = Duration::from_secs(10);

/// The outbox statuses the schema allows (its `CHECK`).
const OUTBOX_STATUSES: [&str; 4] = ["pending", "sent", "withdrawn", "failed"];

/// The in-memory read side: its tables, shared by every connection it
/// lends. Cloning shares them.
#[derive(Clone, Default)]
pub(crate) struct MemorySide {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    /// Held by the one writer: a transaction from its start to its end, a
    /// statement outside a transaction while it runs.
    writer: Arc<WriteLock<()>>,
    /// The committed tables.
    tables: Mutex<Tables>,
}

impl MemorySide {
    pub(crate) fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl SidePool for MemorySide {
    async fn acquire(&self) -> Result<Box<dyn SideStatements>, ServiceError> {
        Ok(Box::new(Conn {
            shared: Arc::clone(&self.shared),
        }))
    }

    /// Nothing to overlap: no statement waits on a network.
    fn pipelines(&self) -> bool {
        false
    }
}

impl Shared {
    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn write_lock(&self) -> Result<OwnedMutexGuard<()>, ServiceError> {
        tokio::time::timeout(WRITE_WAIT, Arc::clone(&self.writer).lock_owned())
            .await
            .map_err(|_| {
                ServiceError::Unavailable(
                    "the in-memory read side's writer did not finish in time".into(),
                )
            })
    }

    /// Runs a statement that only reads, on the committed tables.
    fn read<T>(&self, statement: impl FnOnce(&mut Db<'_>) -> T) -> T {
        let tables = self.tables();
        let mut none = Changes::default();
        statement(&mut Db {
            base: &tables,
            changes: &mut none,
        })
    }

    /// Runs a statement that may write, as its own transaction: what it
    /// wrote is committed at once. A statement checks before it writes, so
    /// one that failed wrote nothing (a write-back keeps the tables it wrote
    /// before the one that failed, as its SQL statements do).
    async fn write<T>(
        &self,
        statement: impl FnOnce(&mut Db<'_>) -> Result<T, ServiceError>,
    ) -> Result<T, ServiceError> {
        let _writer = self.write_lock().await?;
        let mut tables = self.tables();
        let mut changes = Changes::default();
        let done = statement(&mut Db {
            base: &tables,
            changes: &mut changes,
        });
        changes.apply(&mut tables);
        done
    }
}

// ------------------------------------------------------------------ tables

/// A delegation row: the columns of `read_delegations`.
#[derive(Clone)]
struct DelegationCols {
    grantor: String,
    delegate: String,
    stage: String,
    requested_at: String,
    data: String,
    position: i64,
}

impl DelegationCols {
    fn of(r: &DelegationRecord) -> Self {
        Self {
            grantor: r.grantor.clone(),
            delegate: r.delegate.clone(),
            stage: r.stage.to_owned(),
            requested_at: r.requested_at.clone(),
            data: r.data.clone(),
            position: r.position,
        }
    }

    fn row(&self) -> Result<DelegationRow, ServiceError> {
        Ok(DelegationRow {
            delegation: from_json(&self.data)?,
            position: self.position,
        })
    }

    /// Neither in flight nor refused: what the lists show.
    fn listed(&self) -> bool {
        !matches!(self.stage.as_str(), "pending" | "refused")
    }
}

/// A booking row: the columns of `read_bookings` that statements read
/// (`counter` and `meeting_state` are in the data; no statement reads them).
#[derive(Clone)]
struct BookingCols {
    booker: String,
    office: String,
    mode: String,
    slot_start: String,
    slot_date: String,
    stage: String,
    data: String,
    meeting: String,
    position: i64,
}

impl BookingCols {
    fn of(r: &BookingRecord) -> Self {
        Self {
            booker: r.booker.clone(),
            office: r.office.clone(),
            mode: r.mode.to_owned(),
            slot_start: r.slot_start.clone(),
            slot_date: r.slot_date.clone(),
            stage: r.stage.to_owned(),
            data: r.data.clone(),
            meeting: r.meeting.clone(),
            position: r.position,
        }
    }

    fn row(&self) -> Result<BookingRow, ServiceError> {
        Ok(BookingRow {
            booking: from_json(&self.data)?,
            meeting: from_json(&self.meeting)?,
            position: self.position,
        })
    }
}

/// An outbox row: the entry, and the dispatcher's claim on it.
#[derive(Clone)]
struct OutboxRow {
    entry: OutboxEntry,
    claim: Option<String>,
    claimed_until: Option<String>,
}

/// A stored document.
#[derive(Clone)]
struct Document {
    content: Arc<[u8]>,
    size: i64,
    /// `NULL` only in SQLite files older than the column; kept for the
    /// same comparisons.
    stored_at: Option<String>,
}

/// Declares the tables, once as committed ([`Tables`]) and once as a
/// transaction's changes to them ([`Changes`]).
macro_rules! tables {
    ($($name:ident: $key:ty => $row:ty,)*) => {
        /// The committed tables, each by its primary key.
        #[derive(Default)]
        struct Tables {
            $($name: BTreeMap<$key, $row>,)*
        }

        /// What a transaction wrote, table by table, not committed yet.
        #[derive(Default)]
        struct Changes {
            $($name: Delta<$key, $row>,)*
        }

        impl Changes {
            /// Commits the changes into `tables`.
            fn apply(self, tables: &mut Tables) {
                $(self.$name.apply(&mut tables.$name);)*
            }
        }

        impl<'a> Db<'a> {
            $(
                fn $name(&self) -> View<'_, $key, $row> {
                    View {
                        base: &self.base.$name,
                        delta: &self.changes.$name,
                    }
                }
            )*
        }
    };
}

tables! {
    checkpoints: String => Checkpoint,
    delegations: String => DelegationCols,
    bookings: String => BookingCols,
    places: (String, String) => PlaceRow,
    audit: i64 => AuditEntry,
    document_refs: String => i64,
    outbox: String => OutboxRow,
    notices: String => NoticeRow,
    documents: String => Document,
}

/// One table's changes: emptied first if `cleared`, then each key's last
/// write (`None`: deleted).
struct Delta<K, V> {
    cleared: bool,
    rows: BTreeMap<K, Option<V>>,
}

impl<K, V> Default for Delta<K, V> {
    fn default() -> Self {
        Self {
            cleared: false,
            rows: BTreeMap::new(),
        }
    }
}

impl<K: Ord, V> Delta<K, V> {
    fn put(&mut self, key: K, row: V) {
        self.rows.insert(key, Some(row));
    }

    fn delete(&mut self, key: K) {
        self.rows.insert(key, None);
    }

    fn clear(&mut self) {
        self.cleared = true;
        self.rows.clear();
    }

    fn apply(self, table: &mut BTreeMap<K, V>) {
        if self.cleared {
            table.clear();
        }
        for (key, row) in self.rows {
            match row {
                Some(row) => table.insert(key, row),
                None => table.remove(&key),
            };
        }
    }
}

/// A table as a statement sees it: the committed rows under the changes of
/// its transaction.
struct View<'a, K, V> {
    base: &'a BTreeMap<K, V>,
    delta: &'a Delta<K, V>,
}

impl<'a, K: Ord, V> View<'a, K, V> {
    fn get(&self, key: &K) -> Option<&'a V> {
        match self.delta.rows.get(key) {
            Some(row) => row.as_ref(),
            None if self.delta.cleared => None,
            None => self.base.get(key),
        }
    }

    /// Every row, in no given order.
    fn rows(&self) -> impl Iterator<Item = (&'a K, &'a V)> + 'a {
        let delta = self.delta;
        let base = (!delta.cleared).then_some(self.base);
        base.into_iter()
            .flatten()
            .filter(move |(k, _)| !delta.rows.contains_key(*k))
            .chain(
                delta
                    .rows
                    .iter()
                    .filter_map(|(k, row)| row.as_ref().map(|row| (k, row))),
            )
    }
}

/// What a statement runs on: the committed tables, and the changes of its
/// transaction, which it reads through and adds to.
struct Db<'a> {
    base: &'a Tables,
    changes: &'a mut Changes,
}

/// A `CHECK` of the schema that a statement would break.
fn check(holds: bool, what: &str) -> Result<(), ServiceError> {
    if holds {
        Ok(())
    } else {
        Err(ServiceError::Unavailable(
            format!("CHECK constraint failed: {what}").into(),
        ))
    }
}

/// `LIMIT n` as SQLite reads it: a negative limit is none.
fn limited<T>(rows: Vec<T>, limit: i64) -> Vec<T> {
    match usize::try_from(limit) {
        Ok(limit) => rows.into_iter().take(limit).collect(),
        Err(_) => rows,
    }
}

impl Db<'_> {
    // ------------------------------------------------------------ checkpoint

    fn read_checkpoint(&self, name: &str) -> Checkpoint {
        self.checkpoints()
            .get(&name.to_owned())
            .copied()
            .unwrap_or(Checkpoint {
                position: 0,
                generation: 0,
            })
    }

    fn lock_read_checkpoint(&mut self, name: &str) -> Checkpoint {
        let name = name.to_owned();
        if let Some(found) = self.checkpoints().get(&name) {
            return *found;
        }
        let created = Checkpoint {
            position: 0,
            generation: 0,
        };
        self.changes.checkpoints.put(name, created);
        created
    }

    fn save_read_checkpoint(&mut self, name: &str, position: i64) -> Result<(), ServiceError> {
        let name = name.to_owned();
        if let Some(found) = self.checkpoints().get(&name).copied() {
            check(position >= 0, "read_checkpoints.position >= 0")?;
            self.changes
                .checkpoints
                .put(name, Checkpoint { position, ..found });
        }
        Ok(())
    }

    fn next_generation(&mut self, name: &str) {
        let name = name.to_owned();
        if let Some(found) = self.checkpoints().get(&name).copied() {
            self.changes.checkpoints.put(
                name,
                Checkpoint {
                    generation: found.generation + 1,
                    ..found
                },
            );
        }
    }

    // ------------------------------------------------------------ batches

    /// `id IN (…)`.
    fn delegations_of(&self, ids: &[String]) -> Result<Vec<DelegationRow>, ServiceError> {
        let table = self.delegations();
        let ids: BTreeSet<&String> = ids.iter().collect();
        ids.into_iter()
            .filter_map(|id| table.get(id))
            .map(DelegationCols::row)
            .collect()
    }

    fn bookings_of_ids(&self, ids: &[String]) -> Result<Vec<BookingRow>, ServiceError> {
        let table = self.bookings();
        let ids: BTreeSet<&String> = ids.iter().collect();
        ids.into_iter()
            .filter_map(|id| table.get(id))
            .map(BookingCols::row)
            .collect()
    }

    /// A join on the keys.
    fn places_of(&self, keys: &[(String, String)]) -> Vec<PlaceRow> {
        let table = self.places();
        keys.iter().filter_map(|k| table.get(k).cloned()).collect()
    }

    /// The statements of `SideStatements::write`, in their order, each row
    /// after the one before it.
    fn write(&mut self, set: &WriteSet) -> Result<(), ServiceError> {
        for r in &set.delegations {
            let newer = self
                .delegations()
                .get(&r.id)
                .is_none_or(|stored| stored.position < r.position);
            if newer {
                self.changes
                    .delegations
                    .put(r.id.clone(), DelegationCols::of(r));
            }
        }
        for r in &set.bookings {
            let newer = self
                .bookings()
                .get(&r.id)
                .is_none_or(|stored| stored.position < r.position);
            if newer {
                self.changes.bookings.put(r.id.clone(), BookingCols::of(r));
            }
        }
        for r in &set.places {
            let key = (r.slot_key.clone(), r.booking.clone());
            let newer = self
                .places()
                .get(&key)
                .is_none_or(|stored| stored.position < r.position);
            if newer {
                self.changes.places.put(key, r.clone());
            }
        }
        for r in &set.audit {
            if self.audit().get(&r.position).is_none() {
                self.changes.audit.put(r.position, r.clone());
            }
        }
        for r in &set.document_refs {
            if self.document_refs().get(&r.sha256).is_none() {
                self.changes.document_refs.put(r.sha256.clone(), r.position);
            }
        }
        let outbox = &set.outbox;
        self.schedule(&outbox.schedule, false)?;
        self.schedule(&outbox.schedule_or_withdraw, true)?;
        for key in &outbox.withdraw {
            self.withdraw_if_pending(key);
        }
        Ok(())
    }

    /// Inserts each entry whose key is free (attempts, error, sending time
    /// and claim as the schema's defaults); with `or_withdraw`, withdraws
    /// the row found under a taken key if it is pending.
    fn schedule(&mut self, entries: &[OutboxEntry], or_withdraw: bool) -> Result<(), ServiceError> {
        for e in entries {
            check(
                OUTBOX_STATUSES.contains(&e.status.as_str()),
                "outbox.status",
            )?;
        }
        for e in entries {
            if self.outbox().get(&e.key).is_some() {
                if or_withdraw {
                    self.withdraw_if_pending(&e.key);
                }
                continue;
            }
            let row = OutboxRow {
                entry: OutboxEntry {
                    attempts: 0,
                    last_error: None,
                    sent_at: None,
                    ..e.clone()
                },
                claim: None,
                claimed_until: None,
            };
            self.changes.outbox.put(e.key.clone(), row);
        }
        Ok(())
    }

    fn withdraw_if_pending(&mut self, key: &str) {
        let key = key.to_owned();
        let Some(found) = self.outbox().get(&key) else {
            return;
        };
        if found.entry.status == "pending" {
            let mut row = found.clone();
            row.entry.status = "withdrawn".to_owned();
            self.changes.outbox.put(key, row);
        }
    }

    fn clear_read_models(&mut self) {
        let c = &mut self.changes;
        c.delegations.clear();
        c.bookings.clear();
        c.places.clear();
        c.audit.clear();
        c.document_refs.clear();
    }

    // ------------------------------------------------------------ read models

    /// The delegations `keep` keeps, by request instant, then id.
    fn delegations_where(
        &self,
        keep: impl Fn(&DelegationCols) -> bool,
    ) -> Result<Vec<DelegationRow>, ServiceError> {
        let mut found: Vec<_> = self.delegations().rows().filter(|(_, d)| keep(d)).collect();
        found.sort_by(|(a, x), (b, y)| (&x.requested_at, a).cmp(&(&y.requested_at, b)));
        found.into_iter().map(|(_, d)| d.row()).collect()
    }

    fn all_delegations(&self) -> Result<Vec<DelegationRow>, ServiceError> {
        let mut found: Vec<_> = self.delegations().rows().collect();
        found.sort_by_key(|(a, _)| *a);
        found.into_iter().map(|(_, d)| d.row()).collect()
    }

    /// The bookings `keep` keeps, by slot start, then id.
    fn bookings_where(
        &self,
        keep: impl Fn(&String, &BookingCols) -> bool,
    ) -> Vec<(&String, &BookingCols)> {
        let mut found: Vec<_> = self
            .bookings()
            .rows()
            .filter(|(id, b)| keep(id, b))
            .collect();
        found.sort_by(|(a, x), (b, y)| (&x.slot_start, a).cmp(&(&y.slot_start, b)));
        found
    }

    fn all_bookings(&self) -> Result<Vec<BookingRow>, ServiceError> {
        let mut found: Vec<_> = self.bookings().rows().collect();
        found.sort_by_key(|(a, _)| *a);
        found.into_iter().map(|(_, b)| b.row()).collect()
    }

    fn places_held(&self, counter: &str, first: &str, last: &str) -> Vec<(String, i64)> {
        let mut taken: BTreeMap<&str, i64> = BTreeMap::new();
        for (_, p) in self.places().rows() {
            let start = p.slot_start.as_str();
            if p.counter == counter && p.held && first <= start && start <= last {
                *taken.entry(start).or_default() += 1;
            }
        }
        taken
            .into_iter()
            .map(|(start, n)| (start.to_owned(), n))
            .collect()
    }

    fn all_places(&self) -> Vec<PlaceRow> {
        let mut found: Vec<_> = self.places().rows().collect();
        found.sort_by_key(|(a, _)| *a);
        found.into_iter().map(|(_, p)| p.clone()).collect()
    }

    fn audit_where(&self, keep: impl Fn(&AuditEntry) -> bool) -> Vec<AuditEntry> {
        let mut found: Vec<_> = self.audit().rows().filter(|(_, a)| keep(a)).collect();
        found.sort_by_key(|(position, _)| **position);
        found.into_iter().map(|(_, a)| a.clone()).collect()
    }

    fn all_document_refs(&self) -> Vec<DocumentRefRow> {
        let mut found: Vec<_> = self.document_refs().rows().collect();
        found.sort_by_key(|(a, _)| *a);
        found
            .into_iter()
            .map(|(sha256, position)| DocumentRefRow {
                sha256: sha256.clone(),
                position: *position,
            })
            .collect()
    }

    // ------------------------------------------------------------ notices

    fn insert_notice(&mut self, n: &NoticeRow) {
        if self.notices().get(&n.id).is_none() {
            let row = NoticeRow {
                is_read: false,
                deleted: false,
                ..n.clone()
            };
            self.changes.notices.put(n.id.clone(), row);
        }
    }

    fn notices_of(&self, citizen: &str) -> Vec<NoticeRow> {
        let mut found: Vec<_> = self
            .notices()
            .rows()
            .filter(|(_, n)| n.citizen == citizen && !n.deleted)
            .map(|(_, n)| n)
            .collect();
        // `posted_at DESC, id`.
        found.sort_by(|a, b| b.posted_at.cmp(&a.posted_at).then_with(|| a.id.cmp(&b.id)));
        found.into_iter().cloned().collect()
    }

    /// Changes the citizen's notice `id`, if not deleted; whether it did.
    fn update_notice(
        &mut self,
        citizen: &str,
        id: &str,
        change: impl FnOnce(&mut NoticeRow),
    ) -> bool {
        let id = id.to_owned();
        let Some(found) = self.notices().get(&id) else {
            return false;
        };
        if found.citizen != citizen || found.deleted {
            return false;
        }
        let mut row = found.clone();
        change(&mut row);
        self.changes.notices.put(id, row);
        true
    }

    // ------------------------------------------------------------ outbox

    fn claim_due(&mut self, claim: &str, now: &str, until: &str, limit: i64) -> Vec<OutboxEntry> {
        let mut due: Vec<_> = self
            .outbox()
            .rows()
            .map(|(_, row)| row)
            .filter(|row| {
                row.entry.status == "pending"
                    && row.entry.next_attempt_at.as_str() <= now
                    && (row.claimed_until.as_deref().is_none_or(|c| c <= now)
                        || row.claim.as_deref() == Some(claim))
            })
            .collect();
        due.sort_by(|a, b| {
            (&a.entry.next_attempt_at, &a.entry.key).cmp(&(&b.entry.next_attempt_at, &b.entry.key))
        });
        let claimed: Vec<OutboxRow> = limited(due, limit).into_iter().cloned().collect();
        claimed
            .into_iter()
            .map(|mut row| {
                row.claim = Some(claim.to_owned());
                row.claimed_until = Some(until.to_owned());
                let entry = row.entry.clone();
                self.changes.outbox.put(entry.key.clone(), row);
                entry
            })
            .collect()
    }

    fn mark_sent(&mut self, key: &str, at: &str) -> bool {
        let key = key.to_owned();
        let Some(found) = self.outbox().get(&key) else {
            return false;
        };
        if found.entry.status == "sent" {
            return false;
        }
        let mut row = found.clone();
        row.entry.status = "sent".to_owned();
        row.entry.sent_at = Some(at.to_owned());
        row.claim = None;
        row.claimed_until = None;
        self.changes.outbox.put(key, row);
        true
    }

    fn mark_attempt(&mut self, a: &Attempt<'_>) -> Result<bool, ServiceError> {
        let key = a.key.to_owned();
        let Some(found) = self.outbox().get(&key) else {
            return Ok(false);
        };
        if found.entry.status != "pending" {
            return Ok(false);
        }
        check(OUTBOX_STATUSES.contains(&a.status), "outbox.status")?;
        let mut row = found.clone();
        row.entry.attempts = a.attempts;
        row.entry.next_attempt_at = a.next_attempt_at.to_owned();
        row.entry.last_error = Some(a.error.to_owned());
        row.entry.status = a.status.to_owned();
        row.claim = None;
        row.claimed_until = None;
        self.changes.outbox.put(key, row);
        Ok(true)
    }

    /// Every mark or none: a status the schema refuses, written to a row
    /// (pending, as [`Self::mark_attempt`] asks), fails the whole, as SQL's
    /// one statement a kind does.
    fn mark_all(&mut self, marks: &[Marked]) -> Result<(), ServiceError> {
        for mark in marks {
            if let Marked::Attempt { key, status, .. } = mark {
                let written = self
                    .outbox()
                    .get(key)
                    .is_some_and(|found| found.entry.status == "pending");
                check(
                    !written || OUTBOX_STATUSES.contains(status),
                    "outbox.status",
                )?;
            }
        }
        for mark in marks {
            match (mark, mark.attempt()) {
                (_, Some(attempt)) => {
                    self.mark_attempt(&attempt)?;
                }
                (Marked::Sent { key, at }, None) => {
                    self.mark_sent(key, at);
                }
                (Marked::Attempt { .. }, None) => unreachable!("an attempt has one"),
            }
        }
        Ok(())
    }

    fn outbox_rows(&self) -> Vec<OutboxEntry> {
        let mut found: Vec<_> = self.outbox().rows().map(|(_, row)| &row.entry).collect();
        found.sort_by(|a, b| (a.position, &a.key).cmp(&(b.position, &b.key)));
        found.into_iter().cloned().collect()
    }

    // ------------------------------------------------------------ documents

    fn put_document(&mut self, sha256: &str, content: &[u8], stored_at: &str) {
        let key = sha256.to_owned();
        match self.documents().get(&key) {
            None => {
                let document = Document {
                    content: Arc::from(content),
                    size: i64::try_from(content.len()).unwrap_or(i64::MAX),
                    stored_at: Some(stored_at.to_owned()),
                };
                self.changes.documents.put(key, document);
            }
            // Only `stored_at` moves, and only on.
            Some(found) if found.stored_at.as_deref().is_none_or(|s| s < stored_at) => {
                let document = Document {
                    stored_at: Some(stored_at.to_owned()),
                    ..found.clone()
                };
                self.changes.documents.put(key, document);
            }
            Some(_) => {}
        }
    }

    fn sweep_documents(&mut self, stored_before: &str) -> Vec<i64> {
        let refs = self.document_refs();
        let swept: Vec<(String, i64)> = self
            .documents()
            .rows()
            .filter(|(sha256, d)| {
                d.stored_at.as_deref().is_some_and(|s| s < stored_before)
                    && refs.get(*sha256).is_none()
            })
            .map(|(sha256, d)| (sha256.clone(), d.size))
            .collect();
        swept
            .into_iter()
            .map(|(sha256, size)| {
                self.changes.documents.delete(sha256);
                size
            })
            .collect()
    }

    fn document_usage(&self) -> (i64, i64) {
        self.documents()
            .rows()
            .fold((0, 0), |(n, bytes), (_, d)| (n + 1, bytes + d.size))
    }

    fn backlog(&self) -> Backlog {
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        let outbox = |status: &str| {
            let rows = self.outbox().rows();
            count(rows.filter(|(_, r)| r.entry.status == status).count())
        };
        Backlog {
            delegations_pending: count(
                self.delegations()
                    .rows()
                    .filter(|(_, d)| d.stage == "pending")
                    .count(),
            ),
            bookings_pending: count(
                self.bookings()
                    .rows()
                    .filter(|(_, b)| b.stage == "pending")
                    .count(),
            ),
            outbox_pending: outbox("pending"),
            outbox_failed: outbox("failed"),
        }
    }
}

// ------------------------------------------------------------------ connections

/// A connection of the in-memory read side: its statements run on the
/// committed tables, each write as a transaction of its own.
struct Conn {
    shared: Arc<Shared>,
}

/// A transaction: the write lock, held to its end, and its changes.
struct Tx {
    shared: Arc<Shared>,
    changes: Changes,
    _writer: OwnedMutexGuard<()>,
}

impl Tx {
    /// Runs a statement through the transaction's changes; a failed one
    /// leaves them as they were.
    fn run<T>(
        &mut self,
        statement: impl FnOnce(&mut Db<'_>) -> Result<T, ServiceError>,
    ) -> Result<T, ServiceError> {
        let tables = self.shared.tables();
        statement(&mut Db {
            base: &tables,
            changes: &mut self.changes,
        })
    }
}

/// [`SideStatements`] for `$ty`, whose `begin` is `$begin`, every other
/// statement as [`Db`] runs it: through `$read` if it only reads, `$write`
/// if it may write (so the statements are written once for [`Conn`] and
/// [`Tx`]).
macro_rules! side_statements {
    ($ty:ty, $read:ident, $write:ident, $($begin:tt)*) => {
        #[async_trait]
        impl SideStatements for $ty {
        $($begin)*

        async fn read_checkpoint(&mut self, name: &str) -> Result<Checkpoint, ServiceError> {
            $read!(self, |db| Ok(db.read_checkpoint(name)))
        }

        async fn lock_read_checkpoint(&mut self, name: &str) -> Result<Checkpoint, ServiceError> {
            $write!(self, |db| Ok(db.lock_read_checkpoint(name)))
        }

        async fn save_read_checkpoint(
            &mut self,
            name: &str,
            position: i64,
        ) -> Result<(), ServiceError> {
            $write!(self, |db| db.save_read_checkpoint(name, position))
        }

        async fn next_generation(&mut self, name: &str) -> Result<(), ServiceError> {
            $write!(self, |db| {
                db.next_generation(name);
                Ok(())
            })
        }

        async fn delegations(
            &mut self,
            ids: &[String],
        ) -> Result<Vec<DelegationRow>, ServiceError> {
            $read!(self, |db| db.delegations_of(ids))
        }

        async fn bookings(&mut self, ids: &[String]) -> Result<Vec<BookingRow>, ServiceError> {
            $read!(self, |db| db.bookings_of_ids(ids))
        }

        async fn places(
            &mut self,
            keys: &[(String, String)],
        ) -> Result<Vec<PlaceRow>, ServiceError> {
            $read!(self, |db| Ok(db.places_of(keys)))
        }

        async fn write(&mut self, set: &WriteSet) -> Result<(), ServiceError> {
            $write!(self, |db| db.write(set))
        }

        async fn clear_read_models(&mut self) -> Result<(), ServiceError> {
            $write!(self, |db| {
                db.clear_read_models();
                Ok(())
            })
        }

        async fn delegation(&mut self, id: &str) -> Result<Option<DelegationRow>, ServiceError> {
            $read!(self, |db| db
                .delegations()
                .get(&id.to_owned())
                .map(DelegationCols::row)
                .transpose())
        }

        async fn delegations_by_grantor(
            &mut self,
            grantor: &str,
        ) -> Result<Vec<DelegationRow>, ServiceError> {
            $read!(self, |db| db.delegations_where(|d| d.grantor == grantor && d.listed()))
        }

        async fn delegations_by_delegate(
            &mut self,
            delegate: &str,
        ) -> Result<Vec<DelegationRow>, ServiceError> {
            $read!(self, |db| db.delegations_where(|d| d.delegate == delegate && d.listed()))
        }

        async fn all_delegations(&mut self) -> Result<Vec<DelegationRow>, ServiceError> {
            $read!(self, |db| db.all_delegations())
        }

        async fn booking(&mut self, id: &str) -> Result<Option<BookingRow>, ServiceError> {
            $read!(self, |db| db
                .bookings()
                .get(&id.to_owned())
                .map(BookingCols::row)
                .transpose())
        }

        async fn bookings_of(&mut self, booker: &str) -> Result<Vec<BookingRow>, ServiceError> {
            $read!(self, |db| rows(db.bookings_where(|_, b| {
                b.booker == booker && b.stage != "refused"
            })))
        }

        async fn bookings_by_office_day(
            &mut self,
            office: &str,
            date: &str,
        ) -> Result<Vec<BookingRow>, ServiceError> {
            $read!(self, |db| rows(db.bookings_where(|_, b| {
                b.office == office && b.slot_date == date && b.stage != "refused"
            })))
        }

        async fn bookings_to_settle(
            &mut self,
            started_before: &str,
            after: (&str, &str),
            limit: i64,
        ) -> Result<Vec<BookingRow>, ServiceError> {
            $read!(self, |db| {
                let (start, id) = after;
                let found = db.bookings_where(|i, b| {
                    let s = b.slot_start.as_str();
                    b.stage == "confirmed"
                        && s < started_before
                        && (s > start || (s == start && i.as_str() > id))
                });
                rows(limited(found, limit))
            })
        }

        async fn waiting_room(
            &mut self,
            office: &str,
            date: &str,
        ) -> Result<Vec<BookingRow>, ServiceError> {
            $read!(self, |db| rows(db.bookings_where(|_, b| {
                b.office == office
                    && b.slot_date == date
                    && b.mode == "web_meeting"
                    && matches!(b.stage.as_str(), "confirmed" | "served" | "missed")
            })))
        }

        async fn all_bookings(&mut self) -> Result<Vec<BookingRow>, ServiceError> {
            $read!(self, |db| db.all_bookings())
        }

        async fn places_held(
            &mut self,
            counter: &str,
            first: &str,
            last: &str,
        ) -> Result<Vec<(String, i64)>, ServiceError> {
            $read!(self, |db| Ok(db.places_held(counter, first, last)))
        }

        async fn all_places(&mut self) -> Result<Vec<PlaceRow>, ServiceError> {
            $read!(self, |db| Ok(db.all_places()))
        }

        async fn audit_of(&mut self, grantor: &str) -> Result<Vec<AuditEntry>, ServiceError> {
            $read!(self, |db| Ok(db.audit_where(|a| a.grantor == grantor)))
        }

        async fn all_audit(&mut self) -> Result<Vec<AuditEntry>, ServiceError> {
            $read!(self, |db| Ok(db.audit_where(|_| true)))
        }

        async fn all_document_refs(&mut self) -> Result<Vec<DocumentRefRow>, ServiceError> {
            $read!(self, |db| Ok(db.all_document_refs()))
        }

        async fn document_referenced(&mut self, sha256: &str) -> Result<bool, ServiceError> {
            $read!(self, |db| Ok(db
                .document_refs()
                .get(&sha256.to_owned())
                .is_some()))
        }

        async fn insert_notice(&mut self, notice: &NoticeRow) -> Result<(), ServiceError> {
            $write!(self, |db| {
                db.insert_notice(notice);
                Ok(())
            })
        }

        async fn notices_of(&mut self, citizen: &str) -> Result<Vec<NoticeRow>, ServiceError> {
            $read!(self, |db| Ok(db.notices_of(citizen)))
        }

        async fn set_notice_read(
            &mut self,
            citizen: &str,
            id: &str,
            read: bool,
        ) -> Result<bool, ServiceError> {
            $write!(self, |db| Ok(db.update_notice(citizen, id, |n| n.is_read = read)))
        }

        async fn delete_notice(&mut self, citizen: &str, id: &str) -> Result<bool, ServiceError> {
            $write!(self, |db| Ok(db.update_notice(citizen, id, |n| n.deleted = true)))
        }

        async fn claim_due(
            &mut self,
            claim: &str,
            now: &str,
            until: &str,
            limit: i64,
        ) -> Result<Vec<OutboxEntry>, ServiceError> {
            $write!(self, |db| Ok(db.claim_due(claim, now, until, limit)))
        }

        async fn mark_sent(&mut self, key: &str, at: &str) -> Result<bool, ServiceError> {
            $write!(self, |db| Ok(db.mark_sent(key, at)))
        }

        async fn mark_attempt(&mut self, attempt: &Attempt<'_>) -> Result<bool, ServiceError> {
            $write!(self, |db| db.mark_attempt(attempt))
        }

        async fn mark_all(&mut self, marks: &[Marked]) -> Result<(), ServiceError> {
            $write!(self, |db| db.mark_all(marks))
        }

        async fn outbox(&mut self) -> Result<Vec<OutboxEntry>, ServiceError> {
            $read!(self, |db| Ok(db.outbox_rows()))
        }

        async fn put_document(
            &mut self,
            sha256: &str,
            content: &[u8],
            stored_at: &str,
        ) -> Result<(), ServiceError> {
            $write!(self, |db| {
                db.put_document(sha256, content, stored_at);
                Ok(())
            })
        }

        async fn document(&mut self, sha256: &str) -> Result<Option<Vec<u8>>, ServiceError> {
            $read!(self, |db| Ok(db
                .documents()
                .get(&sha256.to_owned())
                .map(|d| d.content.to_vec())))
        }

        async fn document_stored(&mut self, sha256: &str) -> Result<bool, ServiceError> {
            $read!(self, |db| Ok(db.documents().get(&sha256.to_owned()).is_some()))
        }

        async fn sweep_documents(
            &mut self,
            stored_before: &str,
        ) -> Result<Vec<i64>, ServiceError> {
            $write!(self, |db| Ok(db.sweep_documents(stored_before)))
        }

        async fn document_usage(&mut self) -> Result<(i64, i64), ServiceError> {
            $read!(self, |db| Ok(db.document_usage()))
        }

        async fn backlog(&mut self) -> Result<Backlog, ServiceError> {
            $read!(self, |db| Ok(db.backlog()))
        }
        }
    };
}

/// Outside a transaction: reads on the committed tables, each write a
/// transaction of its own.
macro_rules! conn_read {
    ($self:ident, $statement:expr) => {
        $self.shared.read($statement)
    };
}

macro_rules! conn_write {
    ($self:ident, $statement:expr) => {
        $self.shared.write($statement).await
    };
}

/// In a transaction: every statement through its changes.
macro_rules! tx_run {
    ($self:ident, $statement:expr) => {
        $self.run($statement)
    };
}

side_statements!(
    Conn,
    conn_read,
    conn_write,
    async fn begin(&mut self) -> Result<Box<dyn Transactional + '_>, ServiceError> {
        let writer = self.shared.write_lock().await?;
        Ok(Box::new(Tx {
            shared: Arc::clone(&self.shared),
            changes: Changes::default(),
            _writer: writer,
        }))
    }
);

side_statements!(
    Tx,
    tx_run,
    tx_run,
    /// As on SQL connections, a transaction begins no other inside it.
    async fn begin(&mut self) -> Result<Box<dyn Transactional + '_>, ServiceError> {
        Err(ServiceError::Unavailable(
            "a transaction is already open on this connection".into(),
        ))
    }
);

impl Transactional for Tx {
    fn commit<'a>(self: Box<Self>) -> BoxFuture<'a, Result<(), ServiceError>>
    where
        Self: 'a,
    {
        Box::pin(async move {
            let Tx {
                shared,
                changes,
                _writer,
            } = *self;
            changes.apply(&mut shared.tables());
            // The lock goes with `_writer`, after the changes are in.
            drop(_writer);
            Ok(())
        })
    }
}

fn rows(found: Vec<(&String, &BookingCols)>) -> Result<Vec<BookingRow>, ServiceError> {
    found.into_iter().map(|(_, b)| b.row()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(id: &str) -> NoticeRow {
        NoticeRow {
            id: id.to_owned(),
            citizen: "c".to_owned(),
            title: "t".to_owned(),
            body: "b".to_owned(),
            posted_at: "2026-12-01T09:00:00.000000Z".to_owned(),
            is_read: false,
            deleted: false,
        }
    }

    async fn notices(conn: &mut dyn SideStatements) -> usize {
        conn.notices_of("c").await.unwrap().len()
    }

    #[tokio::test]
    async fn a_transaction_is_seen_by_others_once_committed() {
        let side = MemorySide::new();
        let mut conn = side.acquire().await.unwrap();
        let mut other = side.acquire().await.unwrap();
        let mut tx = conn.begin().await.unwrap();
        tx.insert_notice(&notice("n-1")).await.unwrap();
        assert_eq!(notices(&mut *tx).await, 1, "its own write");
        assert_eq!(notices(&mut *other).await, 0, "not committed yet");
        tx.commit().await.unwrap();
        assert_eq!(notices(&mut *other).await, 1);
    }

    #[tokio::test]
    async fn a_dropped_transaction_leaves_nothing() {
        let side = MemorySide::new();
        let mut conn = side.acquire().await.unwrap();
        let mut tx = conn.begin().await.unwrap();
        tx.insert_notice(&notice("n-1")).await.unwrap();
        tx.lock_read_checkpoint("projector").await.unwrap();
        tx.save_read_checkpoint("projector", 7).await.unwrap();
        drop(tx);
        assert_eq!(notices(&mut *conn).await, 0);
        let checkpoint = conn.read_checkpoint("projector").await.unwrap();
        assert_eq!(checkpoint.position, 0);
        // The lock went with it: the next transaction begins at once.
        let tx = tokio::time::timeout(Duration::from_secs(1), conn.begin()).await;
        assert!(matches!(tx, Ok(Ok(_))));
    }

    /// Two projectors each read the checkpoint, wait, and move it on by
    /// one: one after the other, as `FOR UPDATE` has them, neither update
    /// is lost.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn projectors_take_the_checkpoint_in_turn() {
        let side = MemorySide::new();
        let projector = |side: MemorySide| async move {
            let mut conn = side.acquire().await.unwrap();
            let mut tx = conn.begin().await.unwrap();
            let at = tx.lock_read_checkpoint("projector").await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
            tx.save_read_checkpoint("projector", at.position + 1)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        };
        let first = tokio::spawn(projector(side.clone()));
        let second = tokio::spawn(projector(side.clone()));
        first.await.unwrap();
        second.await.unwrap();
        let mut conn = side.acquire().await.unwrap();
        assert_eq!(conn.read_checkpoint("projector").await.unwrap().position, 2);
    }

    /// A write outside any transaction waits for the one open, as SQLite's
    /// writer waits for the lock; a read does not.
    #[tokio::test]
    async fn a_write_waits_for_the_open_transaction() {
        let side = MemorySide::new();
        let mut conn = side.acquire().await.unwrap();
        let mut tx = conn.begin().await.unwrap();
        tx.insert_notice(&notice("n-1")).await.unwrap();
        let writer = side.clone();
        let write = tokio::spawn(async move {
            let mut other = writer.acquire().await.unwrap();
            other.insert_notice(&notice("n-2")).await.unwrap();
            notices(&mut *other).await
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!write.is_finished(), "written past an open transaction");
        let mut reader = side.acquire().await.unwrap();
        assert_eq!(notices(&mut *reader).await, 0);
        tx.commit().await.unwrap();
        assert_eq!(write.await.unwrap(), 2);
    }

    /// A statement that breaks a `CHECK` changes nothing.
    #[tokio::test]
    async fn a_statement_that_breaks_a_check_changes_nothing() {
        let side = MemorySide::new();
        let mut conn = side.acquire().await.unwrap();
        conn.lock_read_checkpoint("projector").await.unwrap();
        assert!(conn.save_read_checkpoint("projector", -1).await.is_err());
        let checkpoint = conn.read_checkpoint("projector").await.unwrap();
        assert_eq!(checkpoint.position, 0);
    }
}
