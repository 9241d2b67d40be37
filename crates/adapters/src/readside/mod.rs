//! The tables written from the event log and beside it: read models,
//! outbox, calendar notices and documents, in the same database as the
//! events (the SQLite file, or the PostgreSQL schema).
//!
//! [`ReadSide`] is the handle on them. It is opened once from the
//! [`Repository`] and shared by the projector, the read models, the
//! dispatcher, the calendar gateway and the document store:
//! - on SQLite and PostgreSQL it is the event store's own pool, so the
//!   projector saves rows and checkpoint in one transaction of the database
//!   that holds the events;
//! - on the in-memory repository it is an in-memory SQLite database (one
//!   connection, kept open) with the same schema, so every store answers the
//!   same queries with the same code.
//!
//! Layout: this file holds the row types and the dispatch to one queries
//! module per dialect (`sqlite.rs`, `postgres.rs`), which hold every statement;
//! `batch.rs` holds the projector's write-behind cache; the schema is in
//! `crates/adapters/migrations/{sqlite,postgres}`.

mod batch;
pub(crate) mod postgres;
pub(crate) mod sqlite;

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use deleghe_domain::booking::{Booking, BookingStage};
use deleghe_domain::delegation::{Delegation, Stage};
use deleghe_domain::meeting::Meeting;
use deleghe_domain::notification::{Channel, Notification};
use serde::{Deserialize, Serialize};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnection, PgPool};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqlitePool, SqlitePoolOptions};
use sqlx::{Connection, Postgres, Sqlite, Transaction};

use crate::error::ServiceError;
use crate::repository::Repository;
use crate::sql::service_error;

use batch::{BookingRecord, DelegationRecord, Keys, OutboxWrite};
pub(crate) use batch::{Cache, RowKeys, WriteSet};

/// The read side of one store. Cloning shares the pool, and the turns its
/// projectors take to catch up ([`CatchUpTurns`]).
#[derive(Clone)]
pub struct ReadSide(Pool, Arc<CatchUpTurns>);

/// Catch-ups through one read side (and its clones) take turns. A catch-up
/// holds two connections of the pool and reads the log on a third: callers
/// beyond the pool's size, each holding one connection and waiting for the
/// next, would wait on one another until the pool's timeout. One at a time
/// also spares them applying the same events in a race.
#[derive(Default)]
pub(crate) struct CatchUpTurns {
    turn: tokio::sync::Mutex<()>,
    /// Catch-ups started so far: the number of the latest one.
    started: AtomicU64,
    /// The number of the latest catch-up that ended without an error.
    ended: AtomicU64,
}

impl CatchUpTurns {
    /// Runs `catch_up` when its turn comes, unless a catch-up that started
    /// after the call ran to its end meanwhile: that one read the log after
    /// everything stored before the call, so the call returns 0 at once, and
    /// many readers at once cost one catch-up, not one each.
    pub(crate) async fn take<F>(&self, catch_up: F) -> Result<usize, ServiceError>
    where
        F: std::future::Future<Output = Result<usize, ServiceError>>,
    {
        let arrived = self.started.load(Ordering::SeqCst);
        let _turn = self.turn.lock().await;
        if self.ended.load(Ordering::SeqCst) > arrived {
            return Ok(0);
        }
        let number = self.started.fetch_add(1, Ordering::SeqCst) + 1;
        let applied = catch_up.await?;
        self.ended.store(number, Ordering::SeqCst);
        Ok(applied)
    }
}

#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$f` of the dialect's queries module on `$on` (a pool or a
/// transaction's connection), with the same arguments on both.
macro_rules! on_pool {
    ($self:expr, $f:ident ( $($arg:expr),* )) => {
        match &$self.0 {
            Pool::Sqlite(pool) => sqlite::$f(pool, $($arg),*).await,
            Pool::Postgres(pool) => postgres::$f(pool, $($arg),*).await,
        }
    };
}

impl ReadSide {
    /// The read side of `repository`'s store. On SQLite and PostgreSQL the
    /// schema is already there (the repository applied the migrations when it
    /// connected); for the in-memory repository a new in-memory database is
    /// created and migrated: open it once and share the handle.
    pub async fn open(repository: &Repository) -> Result<Self, ServiceError> {
        if let Some(pool) = repository.sqlite_pool() {
            return Ok(Self(Pool::Sqlite(pool.clone()), Arc::default()));
        }
        if let Some(pool) = repository.postgres_pool() {
            return Ok(Self(Pool::Postgres(pool.clone()), Arc::default()));
        }
        Self::in_memory().await
    }

    /// A new, empty, in-memory read side (the in-memory repository's).
    pub async fn in_memory() -> Result<Self, ServiceError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(service_error)?
            .foreign_keys(true);
        // One connection, never closed: an in-memory database lives as long
        // as its connection.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(service_error)?;
        crate::sql::migrate_sqlite(&pool)
            .await
            .map_err(|e| ServiceError::Unavailable(Box::new(e)))?;
        Ok(Self(Pool::Sqlite(pool), Arc::default()))
    }

    /// Whether the pool lends two connections at once, as the pipelined
    /// catch-up needs (one reads the next batch's rows while the other
    /// writes the last one); the in-memory read side has one.
    pub(crate) fn pipelines(&self) -> bool {
        match &self.0 {
            Pool::Sqlite(pool) => pool.options().get_max_connections() > 1,
            Pool::Postgres(pool) => pool.options().get_max_connections() > 1,
        }
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
        Ok(match &self.0 {
            Pool::Sqlite(pool) => HeldSide::Sqlite(pool.acquire().await.map_err(service_error)?),
            Pool::Postgres(pool) => {
                HeldSide::Postgres(pool.acquire().await.map_err(service_error)?)
            }
        })
    }

    // -------------------------------------------------------- read models

    pub(crate) async fn checkpoint(&self, name: &str) -> Result<i64, ServiceError> {
        on_pool!(self, checkpoint(name)).map(|c| c.position)
    }

    pub(crate) async fn delegation(&self, id: &str) -> Result<Option<DelegationRow>, ServiceError> {
        on_pool!(self, delegation(id))
    }

    pub(crate) async fn delegations_by_grantor(
        &self,
        grantor: &str,
    ) -> Result<Vec<DelegationRow>, ServiceError> {
        on_pool!(self, delegations_by_grantor(grantor))
    }

    pub(crate) async fn delegations_by_delegate(
        &self,
        delegate: &str,
    ) -> Result<Vec<DelegationRow>, ServiceError> {
        on_pool!(self, delegations_by_delegate(delegate))
    }

    pub(crate) async fn all_delegations(&self) -> Result<Vec<DelegationRow>, ServiceError> {
        on_pool!(self, all_delegations())
    }

    pub(crate) async fn booking(&self, id: &str) -> Result<Option<BookingRow>, ServiceError> {
        on_pool!(self, booking(id))
    }

    pub(crate) async fn bookings_of(&self, booker: &str) -> Result<Vec<BookingRow>, ServiceError> {
        on_pool!(self, bookings_of(booker))
    }

    pub(crate) async fn bookings_by_office_day(
        &self,
        office: &str,
        date: &str,
    ) -> Result<Vec<BookingRow>, ServiceError> {
        on_pool!(self, bookings_by_office_day(office, date))
    }

    pub(crate) async fn waiting_room(
        &self,
        office: &str,
        date: &str,
    ) -> Result<Vec<BookingRow>, ServiceError> {
        on_pool!(self, waiting_room(office, date))
    }

    pub(crate) async fn all_bookings(&self) -> Result<Vec<BookingRow>, ServiceError> {
        on_pool!(self, all_bookings())
    }

    /// Places held per slot start (as stored text) of `counter`, for slots
    /// starting from `first` to `last` (both stored text, included).
    pub(crate) async fn places_held(
        &self,
        counter: &str,
        first: &str,
        last: &str,
    ) -> Result<Vec<(String, i64)>, ServiceError> {
        on_pool!(self, places_held(counter, first, last))
    }

    pub(crate) async fn all_places(&self) -> Result<Vec<PlaceRow>, ServiceError> {
        on_pool!(self, all_places())
    }

    pub(crate) async fn audit_of(&self, grantor: &str) -> Result<Vec<AuditEntry>, ServiceError> {
        on_pool!(self, audit_of(grantor))
    }

    pub(crate) async fn all_audit(&self) -> Result<Vec<AuditEntry>, ServiceError> {
        on_pool!(self, all_audit())
    }

    // -------------------------------------------------------- notices

    pub(crate) async fn insert_notice(&self, notice: &NoticeRow) -> Result<(), ServiceError> {
        on_pool!(self, insert_notice(notice))
    }

    pub(crate) async fn notices_of(&self, citizen: &str) -> Result<Vec<NoticeRow>, ServiceError> {
        on_pool!(self, notices_of(citizen))
    }

    pub(crate) async fn set_notice_read(
        &self,
        citizen: &str,
        id: &str,
        read: bool,
    ) -> Result<bool, ServiceError> {
        on_pool!(self, set_notice_read(citizen, id, read))
    }

    pub(crate) async fn delete_notice(
        &self,
        citizen: &str,
        id: &str,
    ) -> Result<bool, ServiceError> {
        on_pool!(self, delete_notice(citizen, id))
    }

    // -------------------------------------------------------- outbox

    pub(crate) async fn claim_due(
        &self,
        claim: &str,
        now: &str,
        until: &str,
        limit: i64,
    ) -> Result<Vec<OutboxEntry>, ServiceError> {
        on_pool!(self, claim_due(claim, now, until, limit))
    }

    pub(crate) async fn mark_sent(&self, key: &str, at: &str) -> Result<bool, ServiceError> {
        on_pool!(self, mark_sent(key, at))
    }

    pub(crate) async fn mark_attempt(&self, attempt: &Attempt<'_>) -> Result<bool, ServiceError> {
        on_pool!(self, mark_attempt(attempt))
    }

    pub(crate) async fn outbox(&self) -> Result<Vec<OutboxEntry>, ServiceError> {
        on_pool!(self, outbox())
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
        on_pool!(self, put_document(sha256, content, stored_at))
    }

    /// Deletes the documents stored before `stored_before` (as stored text)
    /// that no event refers to; returns the size of each.
    pub(crate) async fn sweep_documents(
        &self,
        stored_before: &str,
    ) -> Result<Vec<i64>, ServiceError> {
        on_pool!(self, sweep_documents(stored_before))
    }

    /// Whether an event refers to the document `sha256`.
    pub(crate) async fn document_referenced(&self, sha256: &str) -> Result<bool, ServiceError> {
        on_pool!(self, document_referenced(sha256))
    }

    pub(crate) async fn all_document_refs(&self) -> Result<Vec<DocumentRefRow>, ServiceError> {
        on_pool!(self, all_document_refs())
    }

    pub(crate) async fn document(&self, sha256: &str) -> Result<Option<Vec<u8>>, ServiceError> {
        on_pool!(self, document(sha256))
    }

    /// How many documents are stored, and their bytes in all.
    pub(crate) async fn document_usage(&self) -> Result<(i64, i64), ServiceError> {
        on_pool!(self, document_usage())
    }
}

/// A connection of the read side, held across transactions.
pub(crate) enum HeldSide {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

/// How far a projector got, and how many rebuilds its rows have been
/// through: a rebuild rewrites rows without moving the position, so a
/// projector that carries rows from one batch to the next
/// (`Projector::catch_up`) checks both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    pub position: i64,
    pub generation: i64,
}

/// A connection to run a batch's reads on: a held one, or a transaction's.
enum ConnMut<'a> {
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
}

impl ConnMut<'_> {
    fn reborrow(&mut self) -> ConnMut<'_> {
        match self {
            ConnMut::Sqlite(conn) => ConnMut::Sqlite(conn),
            ConnMut::Postgres(conn) => ConnMut::Postgres(conn),
        }
    }
}

/// Runs `$f` of the dialect's queries module on a [`ConnMut`].
macro_rules! on_conn {
    ($conn:expr, $f:ident ( $($arg:expr),* )) => {
        match $conn {
            ConnMut::Sqlite(conn) => sqlite::$f(conn, $($arg),*).await,
            ConnMut::Postgres(conn) => postgres::$f(conn, $($arg),*).await,
        }
    };
}

impl HeldSide {
    /// The checkpoint `name` as committed (zero if missing).
    pub(crate) async fn checkpoint(&mut self, name: &str) -> Result<Checkpoint, ServiceError> {
        match self {
            HeldSide::Sqlite(conn) => sqlite::checkpoint(&mut **conn, name).await,
            HeldSide::Postgres(conn) => postgres::checkpoint(&mut **conn, name).await,
        }
    }

    /// A batch applied outside any transaction: the rows it does not know
    /// are read on this connection, as committed.
    pub(crate) fn batch<'a>(&'a mut self, cache: &'a mut Cache) -> Batch<'a> {
        let conn = match self {
            HeldSide::Sqlite(conn) => ConnMut::Sqlite(conn),
            HeldSide::Postgres(conn) => ConnMut::Postgres(conn),
        };
        Batch { conn, cache }
    }

    /// A transaction that holds the store's write lock from its start (on
    /// SQLite `BEGIN IMMEDIATE`: one writer at a time, so no upgrade can fail
    /// half-way).
    pub(crate) async fn begin(&mut self) -> Result<SideTx<'_>, ServiceError> {
        let conn = match self {
            HeldSide::Sqlite(conn) => Conn::Sqlite(
                conn.begin_with("BEGIN IMMEDIATE")
                    .await
                    .map_err(service_error)?,
            ),
            HeldSide::Postgres(conn) => Conn::Postgres(conn.begin().await.map_err(service_error)?),
        };
        Ok(SideTx {
            conn,
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
    conn: Conn<'c>,
    cache: Cache,
}

enum Conn<'c> {
    Sqlite(Transaction<'c, Sqlite>),
    Postgres(Transaction<'c, Postgres>),
}

impl SideTx<'_> {
    fn conn(&mut self) -> ConnMut<'_> {
        match &mut self.conn {
            Conn::Sqlite(tx) => ConnMut::Sqlite(tx),
            Conn::Postgres(tx) => ConnMut::Postgres(tx),
        }
    }

    /// The checkpoint `name`, locked until the transaction ends (created at
    /// 0 if missing).
    pub(crate) async fn lock_checkpoint(&mut self, name: &str) -> Result<Checkpoint, ServiceError> {
        on_conn!(self.conn(), lock_checkpoint(name))
    }

    pub(crate) async fn save_checkpoint(
        &mut self,
        name: &str,
        position: i64,
    ) -> Result<(), ServiceError> {
        on_conn!(self.conn(), save_checkpoint(name, position))
    }

    /// Counts a rebuild of the rows of checkpoint `name`.
    pub(crate) async fn next_generation(&mut self, name: &str) -> Result<(), ServiceError> {
        on_conn!(self.conn(), next_generation(name))
    }

    /// The batch being applied in this transaction: the rows it does not
    /// know are read in it.
    pub(crate) fn batch(&mut self) -> Batch<'_> {
        let conn = match &mut self.conn {
            Conn::Sqlite(tx) => ConnMut::Sqlite(tx),
            Conn::Postgres(tx) => ConnMut::Postgres(tx),
        };
        Batch {
            conn,
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
        if !set.delegations.is_empty() {
            on_conn!(self.conn(), put_delegations(&set.delegations))?;
        }
        if !set.bookings.is_empty() {
            on_conn!(self.conn(), put_bookings(&set.bookings))?;
        }
        if !set.places.is_empty() {
            on_conn!(self.conn(), put_places(&set.places))?;
        }
        if !set.audit.is_empty() {
            on_conn!(self.conn(), insert_audit(&set.audit))?;
        }
        if !set.document_refs.is_empty() {
            on_conn!(self.conn(), insert_document_refs(&set.document_refs))?;
        }
        let outbox = &set.outbox;
        if !outbox.schedule.is_empty() {
            on_conn!(self.conn(), schedule(&outbox.schedule, false))?;
        }
        if !outbox.schedule_or_withdraw.is_empty() {
            on_conn!(self.conn(), schedule(&outbox.schedule_or_withdraw, true))?;
        }
        if !outbox.withdraw.is_empty() {
            on_conn!(self.conn(), withdraw(&outbox.withdraw))?;
        }
        Ok(())
    }

    /// Empties every read-model table, the references to documents included
    /// (not the outbox, notices or the documents themselves).
    pub(crate) async fn clear_read_models(&mut self) -> Result<(), ServiceError> {
        self.cache.clear_read_models();
        on_conn!(self.conn(), clear_read_models())
    }

    /// Flushes, then commits.
    pub(crate) async fn commit(mut self) -> Result<(), ServiceError> {
        self.flush().await?;
        match self.conn {
            Conn::Sqlite(tx) => tx.commit().await,
            Conn::Postgres(tx) => tx.commit().await,
        }
        .map_err(service_error)
    }
}

/// The rows of a batch being applied, in memory ([`Cache`]), and the
/// connection to read those it does not know yet.
///
/// The rows a batch will touch are read up front ([`Batch::prefetch`], one
/// query per table); a row it did not announce is read when first asked for.
pub(crate) struct Batch<'a> {
    conn: ConnMut<'a>,
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
            let found = on_conn!(self.conn.reborrow(), delegations(&ids))?;
            self.cache
                .delegations
                .read(ids, found, |r| r.delegation.id.as_str().to_owned());
        }
        let (read, started) = keys.bookings.split();
        self.cache.bookings.start(started);
        let ids = self.cache.bookings.unread(read);
        if !ids.is_empty() {
            let found = on_conn!(self.conn.reborrow(), bookings(&ids))?;
            self.cache
                .bookings
                .read(ids, found, |r| r.booking.id.as_str().to_owned());
        }
        let (read, started) = keys.places.split();
        self.cache.places.start(started);
        let places = self.cache.places.unread(read);
        if !places.is_empty() {
            let found = on_conn!(self.conn.reborrow(), places(&places))?;
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
    pub(crate) fn stage_name(&self) -> &'static str {
        match self.delegation.stage {
            Stage::Pending => "pending",
            Stage::AwaitingConfirmation => "awaiting_confirmation",
            Stage::Active => "active",
            Stage::Revoked { .. } => "revoked",
            Stage::Rejected { .. } => "rejected",
            Stage::Refused { .. } => "refused",
        }
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
    pub(crate) fn stage_name(&self) -> &'static str {
        match self.booking.stage {
            BookingStage::Pending => "pending",
            BookingStage::Confirmed => "confirmed",
            BookingStage::Cancelled { .. } => "cancelled",
            BookingStage::Refused { .. } => "refused",
            BookingStage::Served { .. } => "served",
            BookingStage::Missed { .. } => "missed",
        }
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct AuditEntry {
    /// The event's position in the log.
    pub position: i64,
    /// Whom the action was taken for.
    pub grantor: String,
    /// Who took it (`citizen:CF`, `operator:ID`).
    pub actor: String,
    /// What: the event's type, e.g. `BookingRequested`.
    pub action: String,
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// When, as the event says (RFC 3339, UTC).
    pub at: Option<String>,
    /// Through which channel the command came (`web`, `counter`...).
    pub channel: Option<String>,
    pub correlation_id: Option<String>,
}

/// M6, D11: an event refers to a stored document by its SHA-256; the first
/// such event's position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub(crate) struct DocumentRefRow {
    pub sha256: String,
    pub position: i64,
}

/// A calendar notice as stored (N3).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct OutboxEntry {
    /// The idempotency key (N6): one row, one delivery, per key.
    pub key: String,
    /// `sms`, `calendar` or `io`.
    pub channel: String,
    /// A phone number (`sms`) or a fiscal code (`calendar`, `io`).
    pub recipient: String,
    pub title: String,
    pub body: String,
    /// When it is to be sent (RFC 3339, UTC).
    pub due_at: String,
    /// `pending`, `sent`, `withdrawn` or `failed`.
    pub status: String,
    /// Failed sending attempts so far.
    pub attempts: i64,
    /// Not before this instant (the due time, then the retry backoff).
    pub next_attempt_at: String,
    pub last_error: Option<String>,
    pub sent_at: Option<String>,
    /// The log position of the event that scheduled it.
    pub position: i64,
}

impl OutboxEntry {
    /// The row a scheduled notification starts as.
    pub(crate) fn scheduled(n: &Notification, position: i64) -> Self {
        let recipient = match &n.channel {
            Channel::Sms { to } => to.to_string(),
            Channel::CalendarNotice { citizen } => citizen.to_string(),
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
pub(crate) struct Attempt<'a> {
    pub key: &'a str,
    pub attempts: i64,
    pub next_attempt_at: &'a str,
    pub error: &'a str,
    /// `pending` to retry, `failed` to give up.
    pub status: &'a str,
}

// Raw rows, decoded the same way from both dialects.

#[derive(sqlx::FromRow)]
pub(crate) struct RawDelegation {
    data: String,
    position: i64,
}

impl RawDelegation {
    pub(crate) fn into_row(self) -> Result<DelegationRow, ServiceError> {
        Ok(DelegationRow {
            delegation: from_json(&self.data)?,
            position: self.position,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RawBooking {
    data: String,
    meeting: String,
    position: i64,
}

impl RawBooking {
    pub(crate) fn into_row(self) -> Result<BookingRow, ServiceError> {
        Ok(BookingRow {
            booking: from_json(&self.data)?,
            meeting: from_json(&self.meeting)?,
            position: self.position,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RawPlace {
    slot_key: String,
    booking: String,
    counter: String,
    slot_start: String,
    held: bool,
    position: i64,
}

impl From<RawPlace> for PlaceRow {
    fn from(r: RawPlace) -> Self {
        Self {
            slot_key: r.slot_key,
            booking: r.booking,
            counter: r.counter,
            slot_start: r.slot_start,
            held: r.held,
            position: r.position,
        }
    }
}

pub(crate) fn rows<R, T>(
    raw: Vec<R>,
    f: fn(R) -> Result<T, ServiceError>,
) -> Result<Vec<T>, ServiceError> {
    raw.into_iter().map(f).collect()
}
