//! The tables written from the event log and beside it: read models,
//! outbox, calendar notices and documents, in the same database as the
//! events (the SQLite file, or the PostgreSQL schema), or in memory.
//!
//! [`ReadSide`] is the handle on them. It is opened once from the
//! [`Repository`] and shared by the projector, the read models, the
//! dispatcher, the calendar gateway and the document store:
//! - on SQLite and PostgreSQL it is the event store's own pool, so the
//!   projector saves rows and checkpoint in one transaction of the database
//!   that holds the events;
//! - on the in-memory repository it is the in-memory read side
//!   (`memory.rs`): the same tables as Rust maps, no SQL database, every
//!   statement answered as the SQL stores answer it.
//!
//! Layout: this file holds the row types, and the handles the rest of the
//! library reads and writes through ([`ReadSide`], `HeldSide`, `SideTx`,
//! `Batch`), each on a connection of the store's `SidePool`; `port.rs` the
//! port every read side implements (`SidePool`, `SideStatements`,
//! `Transactional`); `memory.rs` the in-memory one; every SQL statement is
//! written once, for every dialect, in `crate::sql` (`statements.rs`, its
//! text in `queries.rs` or the dialect's module); `batch.rs` holds the
//! projector's write-behind cache; the schema is in
//! `crates/adapters/migrations/{sqlite,postgres}`.

mod batch;
mod memory;
mod port;

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use deleghe_domain::booking::Booking;
use deleghe_domain::delegation::Delegation;
use deleghe_domain::meeting::Meeting;
use deleghe_domain::notification::{Channel, Notification};
use serde::{Deserialize, Serialize};

use crate::error::ServiceError;
use crate::repository::Repository;

pub(crate) use batch::{BookingRecord, Cache, DelegationRecord, RowKeys, WriteSet};
use batch::{Keys, OutboxWrite};
pub(crate) use memory::MemorySide;
pub(crate) use port::{BoxFuture, SidePool, SideStatements, Transactional};

/// The read side of one store. Cloning shares the pool, and the turns its
/// projectors take to catch up (`CatchUpTurns`).
#[derive(Clone)]
pub struct ReadSide(Arc<dyn SidePool>, Arc<CatchUpTurns>);

/// Catch-ups through one read side (and its clones) take turns, and share
/// their outcome (`crate::turns`). A catch-up holds two connections of the
/// pool and reads the log on a third: callers beyond the pool's size, each
/// holding one connection and waiting for the next, would wait on one
/// another until the pool's timeout. One at a time also spares them
/// applying the same events in a race.
pub(crate) type CatchUpTurns = crate::turns::Turns<usize>;

impl ReadSide {
    /// The read side of `repository`'s store. On SQLite and PostgreSQL the
    /// schema is already there (the repository applied the migrations when it
    /// connected); for the in-memory repository a new, empty in-memory read
    /// side is made: open it once and share the handle.
    pub async fn open(repository: &Repository) -> Result<Self, ServiceError> {
        match repository.read_side() {
            Some(side) => Ok(side),
            None => Self::in_memory().await,
        }
    }

    /// The read side on a store's pool.
    #[cfg(feature = "sql")]
    pub(crate) fn on(pool: Arc<dyn SidePool>) -> Self {
        Self(pool, Arc::default())
    }

    /// A new, empty, in-memory read side (the in-memory repository's): the
    /// tables in Rust, answering every statement as the SQL stores do.
    pub async fn in_memory() -> Result<Self, ServiceError> {
        Ok(Self(Arc::new(MemorySide::new()), Arc::default()))
    }

    /// Whether the pool lends two connections at once, as the pipelined
    /// catch-up needs (one reads the next batch's rows while the other
    /// writes the last one); the in-memory read side has nothing to overlap.
    pub(crate) fn pipelines(&self) -> bool {
        self.0.pipelines()
    }

    /// The turns of the catch-ups through this read side and its clones.
    pub(crate) fn catch_up_turns(&self) -> &CatchUpTurns {
        &self.1
    }

    /// A pooled connection of the read side, to run the projector's
    /// transactions on one after the other ([`HeldSide::begin`]): sqlx
    /// pings a connection each time it goes back to its pool (ADR 0005), so
    /// a catch-up takes one for all its batches.
    pub(crate) async fn hold(&self) -> Result<HeldSide, ServiceError> {
        Ok(HeldSide(self.conn().await?))
    }

    /// A pooled connection, for one statement.
    async fn conn(&self) -> Result<Box<dyn SideStatements>, ServiceError> {
        self.0.acquire().await
    }

    // -------------------------------------------------------- read models

    pub(crate) async fn checkpoint(&self, name: &str) -> Result<i64, ServiceError> {
        self.conn()
            .await?
            .read_checkpoint(name)
            .await
            .map(|c| c.position)
    }

    pub(crate) async fn delegation(&self, id: &str) -> Result<Option<DelegationRow>, ServiceError> {
        self.conn().await?.delegation(id).await
    }

    pub(crate) async fn delegations_by_grantor(
        &self,
        grantor: &str,
    ) -> Result<Vec<DelegationRow>, ServiceError> {
        self.conn().await?.delegations_by_grantor(grantor).await
    }

    pub(crate) async fn delegations_by_delegate(
        &self,
        delegate: &str,
    ) -> Result<Vec<DelegationRow>, ServiceError> {
        self.conn().await?.delegations_by_delegate(delegate).await
    }

    pub(crate) async fn all_delegations(&self) -> Result<Vec<DelegationRow>, ServiceError> {
        self.conn().await?.all_delegations().await
    }

    pub(crate) async fn booking(&self, id: &str) -> Result<Option<BookingRow>, ServiceError> {
        self.conn().await?.booking(id).await
    }

    pub(crate) async fn bookings_of(&self, booker: &str) -> Result<Vec<BookingRow>, ServiceError> {
        self.conn().await?.bookings_of(booker).await
    }

    pub(crate) async fn bookings_by_office_day(
        &self,
        office: &str,
        date: &str,
    ) -> Result<Vec<BookingRow>, ServiceError> {
        self.conn()
            .await?
            .bookings_by_office_day(office, date)
            .await
    }

    /// B8: up to `limit` confirmed bookings whose slot started before
    /// `started_before`, by slot start and id, after `after` (a start and
    /// an id; `("", "")` from the first).
    pub(crate) async fn bookings_to_settle(
        &self,
        started_before: &str,
        after: (&str, &str),
        limit: i64,
    ) -> Result<Vec<BookingRow>, ServiceError> {
        self.conn()
            .await?
            .bookings_to_settle(started_before, after, limit)
            .await
    }

    pub(crate) async fn waiting_room(
        &self,
        office: &str,
        date: &str,
    ) -> Result<Vec<BookingRow>, ServiceError> {
        self.conn().await?.waiting_room(office, date).await
    }

    pub(crate) async fn all_bookings(&self) -> Result<Vec<BookingRow>, ServiceError> {
        self.conn().await?.all_bookings().await
    }

    /// Places held per slot start (as stored text) of `counter`, for slots
    /// starting from `first` to `last` (both stored text, included).
    pub(crate) async fn places_held(
        &self,
        counter: &str,
        first: &str,
        last: &str,
    ) -> Result<Vec<(String, i64)>, ServiceError> {
        self.conn().await?.places_held(counter, first, last).await
    }

    pub(crate) async fn all_places(&self) -> Result<Vec<PlaceRow>, ServiceError> {
        self.conn().await?.all_places().await
    }

    pub(crate) async fn audit_of(&self, grantor: &str) -> Result<Vec<AuditEntry>, ServiceError> {
        self.conn().await?.audit_of(grantor).await
    }

    pub(crate) async fn all_audit(&self) -> Result<Vec<AuditEntry>, ServiceError> {
        self.conn().await?.all_audit().await
    }

    // -------------------------------------------------------- notices

    pub(crate) async fn insert_notice(&self, notice: &NoticeRow) -> Result<(), ServiceError> {
        self.conn().await?.insert_notice(notice).await
    }

    pub(crate) async fn notices_of(&self, citizen: &str) -> Result<Vec<NoticeRow>, ServiceError> {
        self.conn().await?.notices_of(citizen).await
    }

    pub(crate) async fn set_notice_read(
        &self,
        citizen: &str,
        id: &str,
        read: bool,
    ) -> Result<bool, ServiceError> {
        self.conn().await?.set_notice_read(citizen, id, read).await
    }

    pub(crate) async fn delete_notice(
        &self,
        citizen: &str,
        id: &str,
    ) -> Result<bool, ServiceError> {
        self.conn().await?.delete_notice(citizen, id).await
    }

    // -------------------------------------------------------- outbox

    pub(crate) async fn claim_due(
        &self,
        claim: &str,
        now: &str,
        until: &str,
        limit: i64,
    ) -> Result<Vec<OutboxEntry>, ServiceError> {
        self.conn().await?.claim_due(claim, now, until, limit).await
    }

    /// Records what became of the rows of one dispatcher's step, in one
    /// transaction: all of them, or none.
    pub(crate) async fn mark_all(&self, marks: &[Marked]) -> Result<(), ServiceError> {
        if marks.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await?;
        tx.mark_all(marks).await?;
        tx.commit().await
    }

    pub(crate) async fn outbox(&self) -> Result<Vec<OutboxEntry>, ServiceError> {
        self.conn().await?.outbox().await
    }

    // -------------------------------------------------------- documents

    /// Stores `content` under `sha256`, stored at `stored_at` (as stored
    /// text); the same content again moves `stored_at` on.
    pub(crate) async fn put_document(
        &self,
        sha256: &str,
        content: &[u8],
        stored_at: &str,
    ) -> Result<(), ServiceError> {
        self.conn()
            .await?
            .put_document(sha256, content, stored_at)
            .await
    }

    /// Deletes the documents stored before `stored_before` (as stored text)
    /// that no event refers to; returns the size of each.
    pub(crate) async fn sweep_documents(
        &self,
        stored_before: &str,
    ) -> Result<Vec<i64>, ServiceError> {
        self.conn().await?.sweep_documents(stored_before).await
    }

    /// Whether an event refers to the document `sha256`.
    pub(crate) async fn document_referenced(&self, sha256: &str) -> Result<bool, ServiceError> {
        self.conn().await?.document_referenced(sha256).await
    }

    pub(crate) async fn all_document_refs(&self) -> Result<Vec<DocumentRefRow>, ServiceError> {
        self.conn().await?.all_document_refs().await
    }

    pub(crate) async fn document(&self, sha256: &str) -> Result<Option<Vec<u8>>, ServiceError> {
        self.conn().await?.document(sha256).await
    }

    pub(crate) async fn document_stored(&self, sha256: &str) -> Result<bool, ServiceError> {
        self.conn().await?.document_stored(sha256).await
    }

    /// How many documents are stored, and their bytes in all.
    /// What waits on the read side: flows not settled, notifications not
    /// sent yet or given up.
    pub async fn backlog(&self) -> Result<Backlog, ServiceError> {
        self.conn().await?.backlog().await
    }

    pub(crate) async fn document_usage(&self) -> Result<(i64, i64), ServiceError> {
        self.conn().await?.document_usage().await
    }
}

/// A connection of the read side, held across transactions.
pub(crate) struct HeldSide(Box<dyn SideStatements>);

/// How far a projector got, and how many rebuilds its rows have been
/// through: a rebuild rewrites rows without moving the position, so a
/// projector that carries rows from one batch to the next
/// (`Projector::catch_up`) checks both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    pub position: i64,
    pub generation: i64,
}

impl HeldSide {
    /// The checkpoint `name` as committed (zero if missing).
    pub(crate) async fn checkpoint(&mut self, name: &str) -> Result<Checkpoint, ServiceError> {
        self.0.read_checkpoint(name).await
    }

    /// A batch applied outside any transaction: the rows it does not know
    /// are read on this connection, as committed.
    pub(crate) fn batch<'a>(&'a mut self, cache: &'a mut Cache) -> Batch<'a> {
        Batch {
            conn: &mut *self.0,
            cache,
        }
    }

    /// A transaction that holds the store's write lock from its start (on
    /// SQLite `BEGIN IMMEDIATE`: one writer at a time, so no upgrade can fail
    /// half-way).
    pub(crate) async fn begin(&mut self) -> Result<SideTx<'_>, ServiceError> {
        Ok(SideTx {
            conn: self.0.begin().await?,
            cache: Cache::default(),
        })
    }
}

/// A transaction on the read side: what the projector writes with, batch by
/// batch, rows and checkpoint together.
///
/// Its [`Batch`] keeps rows, audit and outbox writes in memory ([`batch`]);
/// [`SideTx::flush`] writes them, a few multi-row statements per table, so a
/// batch costs about as many round trips as one event.
pub(crate) struct SideTx<'c> {
    conn: Box<dyn Transactional + 'c>,
    cache: Cache,
}

impl SideTx<'_> {
    /// The checkpoint `name`, locked until the transaction ends (created at
    /// 0 if missing).
    pub(crate) async fn lock_checkpoint(&mut self, name: &str) -> Result<Checkpoint, ServiceError> {
        self.conn.lock_read_checkpoint(name).await
    }

    pub(crate) async fn save_checkpoint(
        &mut self,
        name: &str,
        position: i64,
    ) -> Result<(), ServiceError> {
        self.conn.save_read_checkpoint(name, position).await
    }

    /// Counts a rebuild of the rows of checkpoint `name`.
    pub(crate) async fn next_generation(&mut self, name: &str) -> Result<(), ServiceError> {
        self.conn.next_generation(name).await
    }

    /// The batch being applied in this transaction: the rows it does not
    /// know are read in it.
    pub(crate) fn batch(&mut self) -> Batch<'_> {
        Batch {
            conn: &mut *self.conn,
            cache: &mut self.cache,
        }
    }

    /// Writes what the batch changed, then forgets its rows (a rebuild
    /// flushes every batch, so memory holds one batch's rows at most).
    pub(crate) async fn flush(&mut self) -> Result<(), ServiceError> {
        let set = std::mem::take(&mut self.cache).write_set()?;
        self.write(&set).await
    }

    /// Writes `set`: the rows, the audit rows, the outbox.
    pub(crate) async fn write(&mut self, set: &WriteSet) -> Result<(), ServiceError> {
        self.conn.write(set).await
    }

    /// Empties every read-model table, the references to documents included
    /// (not the outbox, notices or the documents themselves).
    pub(crate) async fn clear_read_models(&mut self) -> Result<(), ServiceError> {
        self.cache.clear_read_models();
        self.conn.clear_read_models().await
    }

    /// Flushes, then commits.
    pub(crate) async fn commit(mut self) -> Result<(), ServiceError> {
        self.flush().await?;
        self.conn.commit().await
    }
}

/// The rows of a batch being applied, in memory ([`Cache`]), and the
/// connection to read those it does not know yet.
///
/// The rows a batch will touch are read up front ([`Batch::prefetch`], one
/// query per table); a row it did not announce is read when first asked for.
pub(crate) struct Batch<'a> {
    conn: &'a mut dyn SideStatements,
    cache: &'a mut Cache,
}

impl Batch<'_> {
    /// Reads the rows of `keys` not known yet, one query per table, and
    /// takes those the batch starts as absent ([`Keys::split`]).
    pub(crate) async fn prefetch(&mut self, keys: RowKeys) -> Result<(), ServiceError> {
        let (read, started) = keys.delegations.split();
        self.cache.delegations.start(started);
        let ids = self.cache.delegations.unread(read);
        if !ids.is_empty() {
            let found = self.conn.delegations(&ids).await?;
            self.cache
                .delegations
                .read(ids, found, |r| r.delegation.id.as_str().to_owned());
        }
        let (read, started) = keys.bookings.split();
        self.cache.bookings.start(started);
        let ids = self.cache.bookings.unread(read);
        if !ids.is_empty() {
            let found = self.conn.bookings(&ids).await?;
            self.cache
                .bookings
                .read(ids, found, |r| r.booking.id.as_str().to_owned());
        }
        let (read, started) = keys.places.split();
        self.cache.places.start(started);
        let places = self.cache.places.unread(read);
        if !places.is_empty() {
            let found = self.conn.places(&places).await?;
            self.cache
                .places
                .read(places, found, |r| (r.slot_key.clone(), r.booking.clone()));
        }
        Ok(())
    }

    /// The delegation as the batch left it.
    pub(crate) async fn delegation(
        &mut self,
        id: &str,
    ) -> Result<Option<&DelegationRow>, ServiceError> {
        if !self.cache.delegations.knows(id) {
            self.prefetch(RowKeys {
                delegations: Keys::to_read(id.to_owned()),
                ..RowKeys::default()
            })
            .await?;
        }
        Ok(self.cache.delegations.get(id))
    }

    /// The delegation, read by [`Self::delegation`], to change in place.
    pub(crate) fn delegation_mut(&mut self, id: &str) -> Option<&mut DelegationRow> {
        self.cache.delegations.get_mut(id)
    }

    pub(crate) fn put_delegation(&mut self, row: DelegationRow) {
        self.cache
            .delegations
            .put(row.delegation.id.as_str().to_owned(), row);
    }

    /// The booking as the batch left it.
    pub(crate) async fn booking(&mut self, id: &str) -> Result<Option<&BookingRow>, ServiceError> {
        if !self.cache.bookings.knows(id) {
            self.prefetch(RowKeys {
                bookings: Keys::to_read(id.to_owned()),
                ..RowKeys::default()
            })
            .await?;
        }
        Ok(self.cache.bookings.get(id))
    }

    /// The booking, read by [`Self::booking`], to change in place.
    pub(crate) fn booking_mut(&mut self, id: &str) -> Option<&mut BookingRow> {
        self.cache.bookings.get_mut(id)
    }

    pub(crate) fn put_booking(&mut self, row: BookingRow) {
        self.cache
            .bookings
            .put(row.booking.id.as_str().to_owned(), row);
    }

    /// The position the place as the batch left it has applied, if any.
    pub(crate) async fn place_position(
        &mut self,
        slot_key: &str,
        booking: &str,
    ) -> Result<Option<i64>, ServiceError> {
        let key = (slot_key.to_owned(), booking.to_owned());
        if !self.cache.places.knows(&key) {
            self.prefetch(RowKeys {
                places: Keys::to_read(key.clone()),
                ..RowKeys::default()
            })
            .await?;
        }
        Ok(self.cache.places.get(&key).map(|p| p.position))
    }

    pub(crate) fn put_place(&mut self, row: PlaceRow) {
        self.cache
            .places
            .put((row.slot_key.clone(), row.booking.clone()), row);
    }

    pub(crate) fn insert_audit(&mut self, row: AuditEntry) {
        self.cache.audit.push(row);
    }

    /// Records that the event at `position` refers to the document `sha256`.
    pub(crate) fn refer_to_document(&mut self, sha256: &str, position: i64) {
        self.cache.document_refs.push(DocumentRefRow {
            sha256: sha256.to_owned(),
            position,
        });
    }

    pub(crate) fn schedule(&mut self, row: OutboxEntry) {
        self.cache.outbox.push(OutboxWrite::Schedule(Box::new(row)));
    }

    pub(crate) fn withdraw(&mut self, key: String) {
        self.cache.outbox.push(OutboxWrite::Withdraw(key));
    }
}

// ------------------------------------------------------------------ rows

/// An instant as stored: RFC 3339, UTC, microseconds, so that stored
/// instants compare as text.
pub(crate) fn ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn parse_ts(text: &str) -> Result<DateTime<Utc>, ServiceError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| ServiceError::Corrupt(Box::new(e)))
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<String, ServiceError> {
    serde_json::to_string(value).map_err(|e| ServiceError::Corrupt(Box::new(e)))
}

pub(crate) fn from_json<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, ServiceError> {
    serde_json::from_str(text).map_err(|e| ServiceError::Corrupt(Box::new(e)))
}

/// One delegation as projected, with the position of the last event applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct DelegationRow {
    pub delegation: Delegation,
    pub position: i64,
}

impl DelegationRow {
    /// The stage's name, as the domain gives it.
    pub(crate) fn stage_name(&self) -> &'static str {
        self.delegation.stage.as_str()
    }
}

/// One booking as projected, with its web meeting (the meeting aggregate's
/// own state, by the same events), and the position of the last event applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct BookingRow {
    pub booking: Booking,
    pub meeting: Meeting,
    pub position: i64,
}

impl BookingRow {
    /// The stage's name, as the domain gives it.
    pub(crate) fn stage_name(&self) -> &'static str {
        self.booking.stage.as_str()
    }
}

/// B4: one booking's place in one slot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct PlaceRow {
    pub slot_key: String,
    pub booking: String,
    pub counter: String,
    pub slot_start: String,
    pub held: bool,
    pub position: i64,
}

/// D9: one event stored on behalf of a grantor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// The event's position in the log.
    pub position: i64,
    /// Whom the action was taken for.
    pub grantor: String,
    /// Who took it (`citizen:CF`, `operator:ID`).
    pub actor: String,
    /// What: the event's type, e.g. `BookingRequested`.
    pub action: String,
    /// The type of the aggregate whose stream holds the event.
    pub aggregate_type: String,
    /// That stream's id.
    pub aggregate_id: String,
    /// When, as the event says (RFC 3339, UTC).
    pub at: Option<String>,
    /// Through which channel the command came (`web`, `counter`...).
    pub channel: Option<String>,
    /// Shared by every event of the same flow.
    pub correlation_id: Option<String>,
}

/// M6, D11: an event refers to a stored document by its SHA-256; the first
/// such event's position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct DocumentRefRow {
    pub sha256: String,
    pub position: i64,
}

/// A calendar notice as stored (N3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NoticeRow {
    pub id: String,
    pub citizen: String,
    pub title: String,
    pub body: String,
    pub posted_at: String,
    pub is_read: bool,
    pub deleted: bool,
}

/// One outbox row (N1–N6), as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// The idempotency key (N6): one row, one delivery, per key.
    pub key: String,
    /// `sms`, `mobile`, `calendar` or `io`.
    pub channel: String,
    /// A phone number (`sms`) or a fiscal code (`mobile`, `calendar`, `io`:
    /// for `mobile` and `io`, the contacts the citizen keeps when it is
    /// sent say where, and whether, it goes; N7).
    pub recipient: String,
    /// The SMS's label (not sent), the notice's title, or the IO subject.
    pub title: String,
    /// The SMS's text, the notice's text, or the IO markdown; an access code in
    /// it is a placeholder the dispatcher fills in as it sends (M10).
    pub body: String,
    /// When it is to be sent (RFC 3339, UTC).
    pub due_at: String,
    /// `pending`, `sent`, `withdrawn` or `failed`.
    pub status: String,
    /// Failed sending attempts so far.
    pub attempts: i64,
    /// Not before this instant (the due time, then the retry backoff).
    pub next_attempt_at: String,
    /// Why the last failed attempt failed, if one did.
    pub last_error: Option<String>,
    /// When a gateway accepted it (RFC 3339, UTC), once sent.
    pub sent_at: Option<String>,
    /// The log position of the event that scheduled it.
    pub position: i64,
}

impl OutboxEntry {
    /// The row a scheduled notification starts as.
    pub(crate) fn scheduled(n: &Notification, position: i64) -> Self {
        let recipient = match &n.channel {
            Channel::Sms { to } => to.to_string(),
            Channel::Mobile { citizen } | Channel::CalendarNotice { citizen } => {
                citizen.to_string()
            }
            Channel::Io { fiscal_code } => fiscal_code.to_string(),
        };
        Self {
            key: n.key.clone(),
            channel: n.channel.as_str().to_owned(),
            recipient,
            title: n.title.clone(),
            body: n.body.clone(),
            due_at: ts(n.due_at),
            status: "pending".to_owned(),
            attempts: 0,
            next_attempt_at: ts(n.due_at),
            last_error: None,
            sent_at: None,
            position,
        }
    }
}

/// What a failed sending attempt records.
/// What became of one outbox row in a dispatcher's step
/// ([`ReadSide::mark_all`]).
pub(crate) enum Marked {
    /// Sent at `at`: the row is `sent`.
    Sent { key: String, at: String },
    /// Not sent: the attempt counted, with the next one, the error, and the
    /// row's new status (`pending` to retry, `failed`, `withdrawn`).
    Attempt {
        key: String,
        attempts: i64,
        next_attempt_at: String,
        error: String,
        status: &'static str,
    },
}

impl Marked {
    /// The outbox row's key.
    pub(crate) fn key(&self) -> &str {
        match self {
            Self::Sent { key, .. } | Self::Attempt { key, .. } => key,
        }
    }

    /// The attempt an [`Marked::Attempt`] records, as `mark_attempt` takes
    /// it; `None` for a row sent.
    pub(crate) fn attempt(&self) -> Option<Attempt<'_>> {
        match self {
            Self::Sent { .. } => None,
            Self::Attempt {
                key,
                attempts,
                next_attempt_at,
                error,
                status,
            } => Some(Attempt {
                key,
                attempts: *attempts,
                next_attempt_at,
                error,
                status,
            }),
        }
    }
}

pub(crate) struct Attempt<'a> {
    pub key: &'a str,
    pub attempts: i64,
    pub next_attempt_at: &'a str,
    pub error: &'a str,
    /// `pending` to retry, `failed` to give up.
    pub status: &'a str,
}

/// What waits, as the read side sees it ([`ReadSide::backlog`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Backlog {
    /// Registrations whose flow has not settled yet (`pending`).
    pub delegations_pending: i64,
    /// Bookings whose flow has not settled yet (`pending`).
    pub bookings_pending: i64,
    /// Notifications waiting to be sent (or retried).
    pub outbox_pending: i64,
    /// Notifications given up on (N6: retries exhausted or refused).
    pub outbox_failed: i64,
}
