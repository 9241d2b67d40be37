//! The read side's port: what a connection of the read side runs
//! ([`SideStatements`]), a transaction of it ([`Transactional`]), and where
//! connections come from ([`SidePool`]).
//!
//! Two implementations: every SQL dialect's connection (`crate::sql`, the
//! statements written once for SQLite and PostgreSQL) and the in-memory
//! read side ([`super::memory`]), which answers every statement as its SQL
//! text does. Nothing above this port knows which one it runs on.

use std::future::Future;
use std::pin::Pin;

use async_trait::async_trait;

use super::{
    Attempt, AuditEntry, Backlog, BookingRow, Checkpoint, DelegationRow, DocumentRefRow, Marked,
    NoticeRow, OutboxEntry, PlaceRow, WriteSet,
};
use crate::error::ServiceError;

/// Where the read side's connections come from: the port each store's pool
/// implements (`sql/store.rs`, for every SQL dialect; the in-memory read
/// side, [`super::memory::MemorySide`]).
#[async_trait]
pub(crate) trait SidePool: Send + Sync {
    async fn acquire(&self) -> Result<Box<dyn SideStatements>, ServiceError>;

    /// Whether the pool lends more than one connection at once.
    fn pipelines(&self) -> bool;
}

/// What one connection of the read side runs: the projector's statements
/// (checkpoint, rows, write-back), the read models' queries, the outbox's,
/// the notices' and the documents'. Instants are stored text ([`super::ts`]),
/// compared and sorted byte by byte, as `COLLATE "C"` and SQLite's `BINARY`
/// do.
#[async_trait]
pub(crate) trait SideStatements: Send {
    // ------------------------------------------------------------ checkpoint

    /// A transaction that holds the store's write lock from its start: one
    /// writer at a time, its writes seen by its own later statements and by
    /// the others once committed; dropped without a commit, it rolls back.
    async fn begin(&mut self) -> Result<Box<dyn Transactional + '_>, ServiceError>;

    /// The projector's checkpoint `name` as committed (zero if missing).
    async fn read_checkpoint(&mut self, name: &str) -> Result<Checkpoint, ServiceError>;

    /// The checkpoint `name`, locked until the transaction ends (created at
    /// 0 if missing).
    async fn lock_read_checkpoint(&mut self, name: &str) -> Result<Checkpoint, ServiceError>;

    /// Moves the checkpoint `name`, if it exists, to `position` (not
    /// negative).
    async fn save_read_checkpoint(&mut self, name: &str, position: i64)
        -> Result<(), ServiceError>;

    /// Counts a rebuild of the rows of checkpoint `name`, if it exists.
    async fn next_generation(&mut self, name: &str) -> Result<(), ServiceError>;

    // ------------------------------------------------------------ batches

    /// The delegations of `ids` (each given once) that exist, in no given
    /// order.
    async fn delegations(&mut self, ids: &[String]) -> Result<Vec<DelegationRow>, ServiceError>;

    /// The bookings of `ids` (each given once) that exist, in no given
    /// order.
    async fn bookings(&mut self, ids: &[String]) -> Result<Vec<BookingRow>, ServiceError>;

    /// The places of `(slot_key, booking)` keys (each given once) that
    /// exist, in no given order.
    async fn places(&mut self, keys: &[(String, String)]) -> Result<Vec<PlaceRow>, ServiceError>;

    /// Writes what a batch changed: the rows (a stored row keeps a newer
    /// position), the audit rows and the references to documents (one
    /// already there is kept), the outbox (a key already there is left
    /// alone, or withdrawn if pending where the plan says so).
    async fn write(&mut self, set: &WriteSet) -> Result<(), ServiceError>;

    /// Empties every read model, the references to documents included.
    async fn clear_read_models(&mut self) -> Result<(), ServiceError>;

    // ------------------------------------------------------------ read models

    async fn delegation(&mut self, id: &str) -> Result<Option<DelegationRow>, ServiceError>;

    /// The grantor's delegations, neither pending nor refused, by request
    /// instant, then id.
    async fn delegations_by_grantor(
        &mut self,
        grantor: &str,
    ) -> Result<Vec<DelegationRow>, ServiceError>;

    /// The delegate's delegations, neither pending nor refused, by request
    /// instant, then id.
    async fn delegations_by_delegate(
        &mut self,
        delegate: &str,
    ) -> Result<Vec<DelegationRow>, ServiceError>;

    /// Every delegation, by id.
    async fn all_delegations(&mut self) -> Result<Vec<DelegationRow>, ServiceError>;

    async fn booking(&mut self, id: &str) -> Result<Option<BookingRow>, ServiceError>;

    /// The booker's bookings but refused ones, by slot start, then id.
    async fn bookings_of(&mut self, booker: &str) -> Result<Vec<BookingRow>, ServiceError>;

    /// The office's bookings of a local date but refused ones, by slot
    /// start, then id.
    async fn bookings_by_office_day(
        &mut self,
        office: &str,
        date: &str,
    ) -> Result<Vec<BookingRow>, ServiceError>;

    /// B8: up to `limit` confirmed bookings whose slot started before
    /// `started_before`, after `after` (a slot start and an id), by slot
    /// start, then id.
    async fn bookings_to_settle(
        &mut self,
        started_before: &str,
        after: (&str, &str),
        limit: i64,
    ) -> Result<Vec<BookingRow>, ServiceError>;

    /// M9: the office's web meetings of a local date, confirmed, served or
    /// missed, by slot start, then id.
    async fn waiting_room(
        &mut self,
        office: &str,
        date: &str,
    ) -> Result<Vec<BookingRow>, ServiceError>;

    /// Every booking, by id.
    async fn all_bookings(&mut self) -> Result<Vec<BookingRow>, ServiceError>;

    /// Places held per slot start of `counter`, from `first` to `last`
    /// (both included), each start once, in no given order.
    async fn places_held(
        &mut self,
        counter: &str,
        first: &str,
        last: &str,
    ) -> Result<Vec<(String, i64)>, ServiceError>;

    /// Every place, by slot key, then booking.
    async fn all_places(&mut self) -> Result<Vec<PlaceRow>, ServiceError>;

    /// D9: the grantor's audit trail, by position.
    async fn audit_of(&mut self, grantor: &str) -> Result<Vec<AuditEntry>, ServiceError>;

    /// Every audit row, by position.
    async fn all_audit(&mut self) -> Result<Vec<AuditEntry>, ServiceError>;

    /// Every reference to a document, by digest.
    async fn all_document_refs(&mut self) -> Result<Vec<DocumentRefRow>, ServiceError>;

    async fn document_referenced(&mut self, sha256: &str) -> Result<bool, ServiceError>;

    // ------------------------------------------------------------ notices

    /// N3: a notice, unread; one already there under its id is left alone.
    async fn insert_notice(&mut self, notice: &NoticeRow) -> Result<(), ServiceError>;

    /// The citizen's notices but deleted ones, newest first, then by id.
    async fn notices_of(&mut self, citizen: &str) -> Result<Vec<NoticeRow>, ServiceError>;

    /// Whether the citizen had such a notice, not deleted, now marked.
    async fn set_notice_read(
        &mut self,
        citizen: &str,
        id: &str,
        read: bool,
    ) -> Result<bool, ServiceError>;

    /// Whether the citizen had such a notice, not deleted, now deleted.
    async fn delete_notice(&mut self, citizen: &str, id: &str) -> Result<bool, ServiceError>;

    // ------------------------------------------------------------ outbox

    /// Claims up to `limit` pending rows due at `now` whose claim (if any)
    /// has lapsed or is `claim` itself, by due time, then key, for `claim`
    /// until `until`; returns them, in no given order.
    async fn claim_due(
        &mut self,
        claim: &str,
        now: &str,
        until: &str,
        limit: i64,
    ) -> Result<Vec<OutboxEntry>, ServiceError>;

    /// Whether the row of `key`, not sent yet, is now sent (its claim
    /// dropped).
    async fn mark_sent(&mut self, key: &str, at: &str) -> Result<bool, ServiceError>;

    /// Whether the row, pending, recorded the failed attempt (its claim
    /// dropped).
    async fn mark_attempt(&mut self, attempt: &Attempt<'_>) -> Result<bool, ServiceError>;

    /// Records what became of each row of one dispatcher's step (a key
    /// once at most), as [`Self::mark_sent`] or [`Self::mark_attempt`]
    /// would, one after the other.
    async fn mark_all(&mut self, marks: &[Marked]) -> Result<(), ServiceError> {
        for mark in marks {
            self.mark(mark).await?;
        }
        Ok(())
    }

    /// One mark of [`Self::mark_all`]; whether the row changed.
    async fn mark(&mut self, mark: &Marked) -> Result<bool, ServiceError> {
        match (mark, mark.attempt()) {
            (_, Some(attempt)) => self.mark_attempt(&attempt).await,
            (Marked::Sent { key, at }, None) => self.mark_sent(key, at).await,
            (Marked::Attempt { .. }, None) => unreachable!("an attempt has one"),
        }
    }

    /// Every outbox row, by position, then key.
    async fn outbox(&mut self) -> Result<Vec<OutboxEntry>, ServiceError>;

    // ------------------------------------------------------------ documents

    /// Stores `content` under `sha256`; the same content again moves
    /// `stored_at` on (never back).
    async fn put_document(
        &mut self,
        sha256: &str,
        content: &[u8],
        stored_at: &str,
    ) -> Result<(), ServiceError>;

    async fn document(&mut self, sha256: &str) -> Result<Option<Vec<u8>>, ServiceError>;

    /// Whether a document is stored, without reading it.
    async fn document_stored(&mut self, sha256: &str) -> Result<bool, ServiceError>;

    /// Deletes the documents stored before `stored_before` that no event
    /// refers to; returns the size of each, in no given order.
    async fn sweep_documents(&mut self, stored_before: &str) -> Result<Vec<i64>, ServiceError>;

    /// How many documents are stored, and their bytes in all.
    async fn document_usage(&mut self) -> Result<(i64, i64), ServiceError>;

    // ------------------------------------------------------------ backlog

    /// What waits: delegations and bookings `pending`, outbox rows
    /// `pending` and `failed`.
    async fn backlog(&mut self) -> Result<Backlog, ServiceError>;
}

/// The statements of a transaction, and its end.
pub(crate) trait Transactional: SideStatements {
    fn commit<'a>(self: Box<Self>) -> BoxFuture<'a, Result<(), ServiceError>>
    where
        Self: 'a;
}

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
