//! Every statement the library runs on a SQL store, written once: the Rust
//! around each (binding, running, decoding, batching, sorting errors) for
//! every [`Dialect`], which supplies only its text and the shape in which a
//! statement over many rows binds them.
//!
//! [`Statements`] is what a connection of a SQL store runs on the log (the
//! event repository's port); [`SideStatements`], the read side's port, what
//! it runs on the read side. [`Conn`] implements both for every dialect
//! whose driver meets the bounds stated on those implementations (sqlx's
//! SQLite and PostgreSQL drivers do).

use std::marker::PhantomData;
use std::ops::DerefMut;

use async_trait::async_trait;
use cqrs_es::persist::{PersistenceError, SerializedEvent};
use sqlx::query::QueryAs;
use sqlx::Connection as _;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, FromRow, IntoArguments, Row, Type};

use super::dialect::{chunks, Dialect, Record, Value};
use super::gate::{Turn, WriteGate, WriterBusy};
use super::{persistence_error, service_error};
use crate::error::ServiceError;
use crate::events::StoredText;
use crate::readside::{
    from_json, Attempt, AuditEntry, Backlog, BookingRecord, BookingRow, BoxFuture, Checkpoint,
    DelegationRecord, DelegationRow, DocumentRefRow, Marked, NoticeRow, OutboxEntry, PlaceRow,
    SideStatements, Transactional, WriteSet,
};

/// What one connection of a SQL store runs on the log: the event
/// repository's statements (the read side's are [`SideStatements`]).
#[async_trait]
pub(crate) trait Statements: Send {
    /// One stream, in sequence order.
    async fn stream(
        &mut self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError>;

    /// Two different streams, `(aggregate_type, aggregate_id)` each, in one
    /// statement: each as [`Statements::stream`] reads it.
    async fn streams_2(
        &mut self,
        first: (&str, &str),
        second: (&str, &str),
    ) -> Result<[Vec<SerializedEvent>; 2], PersistenceError>;

    /// Appends one command's events, all or none; a taken sequence, or an
    /// append rolled back to break a deadlock, is
    /// [`PersistenceError::OptimisticLockError`]. `durable: false` commits
    /// without waiting for the WAL flush, where the store can.
    async fn append(
        &mut self,
        events: &[SerializedEvent],
        durable: bool,
    ) -> Result<(), PersistenceError>;

    /// Returns once every commit made before it is durable.
    async fn flush(&mut self) -> Result<(), ServiceError>;

    /// The log after position `after`, at most `limit` events, in commit
    /// order, payload and metadata as text.
    async fn read_log(&mut self, after: i64, limit: usize)
        -> Result<Vec<StoredText>, ServiceError>;

    /// Every event of one aggregate type, in commit order.
    async fn events_of_type(
        &mut self,
        aggregate_type: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError>;

    /// The position a named reader of the log has handled (0 if none).
    async fn log_head(&mut self) -> Result<i64, ServiceError>;

    async fn checkpoint(&mut self, name: &str) -> Result<i64, ServiceError>;

    async fn save_checkpoint(&mut self, name: &str, position: i64) -> Result<(), ServiceError>;
}

/// A connection of a store of dialect `D`: pooled (`PoolConnection`), or a
/// transaction's (`Transaction`).
pub(crate) struct Conn<D, C> {
    conn: C,
    /// The store's writers' turns, if they take turns (`sql/gate.rs`).
    gate: Option<WriteGate>,
    /// A transaction's turn, held until it ends.
    turn: Option<Turn>,
    dialect: PhantomData<fn() -> D>,
}

impl<D, C> Conn<D, C> {
    pub(crate) fn new(conn: C) -> Self {
        Self {
            conn,
            gate: None,
            turn: None,
            dialect: PhantomData,
        }
    }

    /// Its writes take their turns at `gate`, if any.
    pub(crate) fn with_gate(mut self, gate: Option<WriteGate>) -> Self {
        self.gate = gate;
        self
    }
}

/// A writer's turn at `gate`, if its store's writers take turns (the gate
/// is passed by value: a connection is not shared between threads).
async fn turn(gate: Option<WriteGate>) -> Result<Option<Turn>, WriterBusy> {
    match gate {
        Some(gate) => gate.turn().await.map(Some),
        None => Ok(None),
    }
}

type DbConn<D> = <<D as Dialect>::DB as Database>::Connection;

fn unavailable(busy: WriterBusy) -> ServiceError {
    ServiceError::Unavailable(Box::new(busy))
}

impl<'c, D: Dialect> Transactional for Conn<D, sqlx::Transaction<'c, D::DB>>
where
    Self: SideStatements,
{
    fn commit<'a>(self: Box<Self>) -> BoxFuture<'a, Result<(), ServiceError>>
    where
        Self: 'a,
    {
        // The turn, if any, is given up once the commit has ended.
        Box::pin(async move { self.conn.commit().await.map_err(service_error) })
    }
}

// What the statements need of a driver: to run on a connection, to bind
// text, bytes, integers and booleans, to read them back, by column index or
// name. Stated once, here.
#[async_trait]
impl<D, C> Statements for Conn<D, C>
where
    D: Dialect,
    C: DerefMut<Target = DbConn<D>> + Send,
    for<'c> &'c mut DbConn<D>: Executor<'c, Database = D::DB>,
    for<'q> <D::DB as Database>::Arguments<'q>: IntoArguments<'q, D::DB>,
    for<'q> &'q str: Encode<'q, D::DB> + Type<D::DB>,
    for<'q> &'q [u8]: Encode<'q, D::DB> + Type<D::DB>,
    for<'q> i64: Encode<'q, D::DB> + Decode<'q, D::DB> + Type<D::DB>,
    for<'q> bool: Encode<'q, D::DB> + Decode<'q, D::DB> + Type<D::DB>,
    for<'r> String: Decode<'r, D::DB> + Type<D::DB>,
    for<'r> Vec<u8>: Decode<'r, D::DB> + Type<D::DB>,
    usize: ColumnIndex<<D::DB as Database>::Row>,
    for<'n> &'n str: ColumnIndex<<D::DB as Database>::Row>,
{
    // ------------------------------------------------------------ the log

    async fn stream(
        &mut self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let rows = sqlx::query::<D::DB>(D::STREAM)
            .bind(aggregate_type)
            .bind(aggregate_id)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(persistence_error)?;
        rows.iter().map(event).collect()
    }

    async fn streams_2(
        &mut self,
        first: (&str, &str),
        second: (&str, &str),
    ) -> Result<[Vec<SerializedEvent>; 2], PersistenceError> {
        let rows = sqlx::query::<D::DB>(D::STREAMS_2)
            .bind(first.0)
            .bind(first.1)
            .bind(second.0)
            .bind(second.1)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(persistence_error)?;
        let mut read = [Vec::new(), Vec::new()];
        for row in &rows {
            let e = event(row)?;
            let which = usize::from((e.aggregate_type.as_str(), e.aggregate_id.as_str()) != first);
            read[which].push(e);
        }
        Ok(read)
    }

    async fn append(
        &mut self,
        events: &[SerializedEvent],
        durable: bool,
    ) -> Result<(), PersistenceError> {
        // Nothing to store, no statement (a multi-row `VALUES` has a row).
        if events.is_empty() {
            return Ok(());
        }
        let rows = events
            .iter()
            .map(EventRecord::of)
            .collect::<Result<Vec<_>, _>>()?;
        let statement = if durable {
            &D::APPEND
        } else {
            &D::APPEND_DEFERRED
        };
        // One statement, whatever the number of rows: all or none.
        let sql = D::many(statement, rows.len());
        let args = arguments::<D, _>(&rows).map_err(persistence_error)?;
        let _turn = turn(self.gate.clone())
            .await
            .map_err(|busy| PersistenceError::ConnectionError(Box::new(busy)))?;
        sqlx::query_with::<D::DB, _>(&sql, args)
            .execute(&mut *self.conn)
            .await
            .map_err(append_error)?;
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), ServiceError> {
        if let Some(flush) = D::FLUSH {
            sqlx::query::<D::DB>(flush)
                .execute(&mut *self.conn)
                .await
                .map_err(service_error)?;
        }
        Ok(())
    }

    async fn read_log(
        &mut self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<StoredText>, ServiceError> {
        if let Some(number) = D::NUMBER_EVENTS {
            sqlx::query::<D::DB>(number)
                .execute(&mut *self.conn)
                .await
                .map_err(service_error)?;
        }
        let rows = sqlx::query::<D::DB>(D::READ_LOG)
            .bind(after)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&mut *self.conn)
            .await
            .map_err(service_error)?;
        rows.iter()
            .map(|row| stored_text(row, row.try_get(0)?, 1))
            .collect::<Result<_, _>>()
            .map_err(service_error)
    }

    async fn events_of_type(
        &mut self,
        aggregate_type: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        if let Some(number) = D::NUMBER_EVENTS {
            sqlx::query::<D::DB>(number)
                .execute(&mut *self.conn)
                .await
                .map_err(persistence_error)?;
        }
        let rows = sqlx::query::<D::DB>(D::EVENTS_OF_TYPE)
            .bind(aggregate_type)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(persistence_error)?;
        rows.iter().map(event).collect()
    }

    async fn log_head(&mut self) -> Result<i64, ServiceError> {
        if let Some(number) = D::NUMBER_EVENTS {
            sqlx::query::<D::DB>(number)
                .execute(&mut *self.conn)
                .await
                .map_err(service_error)?;
        }
        sqlx::query_scalar::<D::DB, i64>(D::LOG_HEAD)
            .fetch_one(&mut *self.conn)
            .await
            .map_err(service_error)
    }

    async fn checkpoint(&mut self, name: &str) -> Result<i64, ServiceError> {
        let position: Option<i64> = sqlx::query_scalar::<D::DB, _>(D::CHECKPOINT)
            .bind(name)
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(service_error)?;
        Ok(position.unwrap_or(0))
    }

    async fn save_checkpoint(&mut self, name: &str, position: i64) -> Result<(), ServiceError> {
        let _turn = turn(self.gate.clone()).await.map_err(unavailable)?;
        sqlx::query::<D::DB>(D::SAVE_CHECKPOINT)
            .bind(name)
            .bind(position)
            .execute(&mut *self.conn)
            .await
            .map_err(service_error)?;
        Ok(())
    }
}

// The same bounds as above.
#[async_trait]
impl<D, C> SideStatements for Conn<D, C>
where
    D: Dialect,
    C: DerefMut<Target = DbConn<D>> + Send,
    for<'c> &'c mut DbConn<D>: Executor<'c, Database = D::DB>,
    for<'q> <D::DB as Database>::Arguments<'q>: IntoArguments<'q, D::DB>,
    for<'q> &'q str: Encode<'q, D::DB> + Type<D::DB>,
    for<'q> &'q [u8]: Encode<'q, D::DB> + Type<D::DB>,
    for<'q> i64: Encode<'q, D::DB> + Decode<'q, D::DB> + Type<D::DB>,
    for<'q> bool: Encode<'q, D::DB> + Decode<'q, D::DB> + Type<D::DB>,
    for<'r> String: Decode<'r, D::DB> + Type<D::DB>,
    for<'r> Vec<u8>: Decode<'r, D::DB> + Type<D::DB>,
    usize: ColumnIndex<<D::DB as Database>::Row>,
    for<'n> &'n str: ColumnIndex<<D::DB as Database>::Row>,
{
    // ------------------------------------------------------------ checkpoint

    async fn begin(&mut self) -> Result<Box<dyn Transactional + '_>, ServiceError> {
        // The turn before the database's lock, held until the end.
        let turn = turn(self.gate.clone()).await.map_err(unavailable)?;
        let tx = self
            .conn
            .begin_with(D::BEGIN_WRITE)
            .await
            .map_err(service_error)?;
        let mut tx = Conn::<D, _>::new(tx);
        tx.turn = turn;
        Ok(Box::new(tx))
    }

    async fn read_checkpoint(&mut self, name: &str) -> Result<Checkpoint, ServiceError> {
        let found: Option<(i64, i64)> = sqlx::query_as::<D::DB, _>(D::READ_CHECKPOINT)
            .bind(name)
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(service_error)?;
        let (position, generation) = found.unwrap_or((0, 0));
        Ok(Checkpoint {
            position,
            generation,
        })
    }

    async fn lock_read_checkpoint(&mut self, name: &str) -> Result<Checkpoint, ServiceError> {
        // The row is created the first time only: one statement a batch.
        for _ in 0..2 {
            // Position and generation come first; a dialect's lock may add
            // columns after them.
            let found: Option<(i64, i64)> = sqlx::query_as::<D::DB, _>(D::LOCK_READ_CHECKPOINT)
                .bind(name)
                .fetch_optional(&mut *self.conn)
                .await
                .map_err(service_error)?;
            if let Some((position, generation)) = found {
                return Ok(Checkpoint {
                    position,
                    generation,
                });
            }
            sqlx::query::<D::DB>(D::ENSURE_READ_CHECKPOINT)
                .bind(name)
                .execute(&mut *self.conn)
                .await
                .map_err(service_error)?;
        }
        Err(ServiceError::Corrupt(
            format!("checkpoint {name:?} is missing after it was created").into(),
        ))
    }

    async fn save_read_checkpoint(
        &mut self,
        name: &str,
        position: i64,
    ) -> Result<(), ServiceError> {
        sqlx::query::<D::DB>(D::SAVE_READ_CHECKPOINT)
            .bind(position)
            .bind(name)
            .execute(&mut *self.conn)
            .await
            .map_err(service_error)?;
        Ok(())
    }

    async fn next_generation(&mut self, name: &str) -> Result<(), ServiceError> {
        sqlx::query::<D::DB>(D::NEXT_GENERATION)
            .bind(name)
            .execute(&mut *self.conn)
            .await
            .map_err(service_error)?;
        Ok(())
    }

    // ------------------------------------------------------------ batches

    async fn delegations(&mut self, ids: &[String]) -> Result<Vec<DelegationRow>, ServiceError> {
        let raw = fetch_many::<D, _, RawDelegation>(&mut *self.conn, &D::DELEGATIONS, ids).await?;
        rows(raw, RawDelegation::into_row)
    }

    async fn bookings(&mut self, ids: &[String]) -> Result<Vec<BookingRow>, ServiceError> {
        let raw = fetch_many::<D, _, RawBooking>(&mut *self.conn, &D::BOOKINGS, ids).await?;
        rows(raw, RawBooking::into_row)
    }

    async fn places(&mut self, keys: &[(String, String)]) -> Result<Vec<PlaceRow>, ServiceError> {
        let raw = fetch_many::<D, _, RawPlace>(&mut *self.conn, &D::PLACES, keys).await?;
        Ok(raw.into_iter().map(PlaceRow::from).collect())
    }

    async fn write(&mut self, set: &WriteSet) -> Result<(), ServiceError> {
        let conn = &mut *self.conn;
        execute_many::<D, _>(conn, &D::PUT_DELEGATIONS, &set.delegations).await?;
        execute_many::<D, _>(conn, &D::PUT_BOOKINGS, &set.bookings).await?;
        execute_many::<D, _>(conn, &D::PUT_PLACES, &set.places).await?;
        execute_many::<D, _>(conn, &D::INSERT_AUDIT, &set.audit).await?;
        execute_many::<D, _>(conn, &D::INSERT_DOCUMENT_REFS, &set.document_refs).await?;
        let outbox = &set.outbox;
        execute_many::<D, _>(conn, &D::SCHEDULE, &outbox.schedule).await?;
        execute_many::<D, _>(conn, &D::SCHEDULE_OR_WITHDRAW, &outbox.schedule_or_withdraw).await?;
        execute_many::<D, _>(conn, &D::WITHDRAW, &outbox.withdraw).await
    }

    async fn clear_read_models(&mut self) -> Result<(), ServiceError> {
        for sql in D::CLEAR_READ_MODELS {
            sqlx::query::<D::DB>(sql)
                .execute(&mut *self.conn)
                .await
                .map_err(service_error)?;
        }
        Ok(())
    }

    // ------------------------------------------------------------ read models

    async fn delegation(&mut self, id: &str) -> Result<Option<DelegationRow>, ServiceError> {
        let query = sqlx::query_as::<D::DB, _>(D::DELEGATION).bind(id);
        optional(query, &mut *self.conn, RawDelegation::into_row).await
    }

    async fn delegations_by_grantor(
        &mut self,
        grantor: &str,
    ) -> Result<Vec<DelegationRow>, ServiceError> {
        let query = sqlx::query_as::<D::DB, _>(D::DELEGATIONS_BY_GRANTOR).bind(grantor);
        all(query, &mut *self.conn, RawDelegation::into_row).await
    }

    async fn delegations_by_delegate(
        &mut self,
        delegate: &str,
    ) -> Result<Vec<DelegationRow>, ServiceError> {
        let query = sqlx::query_as::<D::DB, _>(D::DELEGATIONS_BY_DELEGATE).bind(delegate);
        all(query, &mut *self.conn, RawDelegation::into_row).await
    }

    async fn all_delegations(&mut self) -> Result<Vec<DelegationRow>, ServiceError> {
        let query = sqlx::query_as::<D::DB, _>(D::ALL_DELEGATIONS);
        all(query, &mut *self.conn, RawDelegation::into_row).await
    }

    async fn booking(&mut self, id: &str) -> Result<Option<BookingRow>, ServiceError> {
        let query = sqlx::query_as::<D::DB, _>(D::BOOKING).bind(id);
        optional(query, &mut *self.conn, RawBooking::into_row).await
    }

    async fn bookings_of(&mut self, booker: &str) -> Result<Vec<BookingRow>, ServiceError> {
        let query = sqlx::query_as::<D::DB, _>(D::BOOKINGS_OF).bind(booker);
        all(query, &mut *self.conn, RawBooking::into_row).await
    }

    async fn bookings_by_office_day(
        &mut self,
        office: &str,
        date: &str,
    ) -> Result<Vec<BookingRow>, ServiceError> {
        let query = sqlx::query_as::<D::DB, _>(D::BOOKINGS_BY_OFFICE_DAY)
            .bind(office)
            .bind(date);
        all(query, &mut *self.conn, RawBooking::into_row).await
    }

    async fn bookings_to_settle(
        &mut self,
        started_before: &str,
        after: (&str, &str),
        limit: i64,
    ) -> Result<Vec<BookingRow>, ServiceError> {
        let query = sqlx::query_as::<D::DB, _>(D::BOOKINGS_TO_SETTLE)
            .bind(started_before)
            .bind(after.0)
            .bind(after.1)
            .bind(limit);
        all(query, &mut *self.conn, RawBooking::into_row).await
    }

    async fn waiting_room(
        &mut self,
        office: &str,
        date: &str,
    ) -> Result<Vec<BookingRow>, ServiceError> {
        let query = sqlx::query_as::<D::DB, _>(D::WAITING_ROOM)
            .bind(office)
            .bind(date);
        all(query, &mut *self.conn, RawBooking::into_row).await
    }

    async fn all_bookings(&mut self) -> Result<Vec<BookingRow>, ServiceError> {
        let query = sqlx::query_as::<D::DB, _>(D::ALL_BOOKINGS);
        all(query, &mut *self.conn, RawBooking::into_row).await
    }

    async fn places_held(
        &mut self,
        counter: &str,
        first: &str,
        last: &str,
    ) -> Result<Vec<(String, i64)>, ServiceError> {
        let query = sqlx::query_as::<D::DB, _>(D::PLACES_HELD)
            .bind(counter)
            .bind(first)
            .bind(last);
        all(query, &mut *self.conn, Ok).await
    }

    async fn all_places(&mut self) -> Result<Vec<PlaceRow>, ServiceError> {
        let query = sqlx::query_as::<D::DB, _>(D::ALL_PLACES);
        all(query, &mut *self.conn, |raw: RawPlace| Ok(raw.into())).await
    }

    async fn audit_of(&mut self, grantor: &str) -> Result<Vec<AuditEntry>, ServiceError> {
        let query = sqlx::query_as::<D::DB, _>(D::AUDIT_OF).bind(grantor);
        all(query, &mut *self.conn, audit_entry).await
    }

    async fn all_audit(&mut self) -> Result<Vec<AuditEntry>, ServiceError> {
        all(
            sqlx::query_as::<D::DB, _>(D::ALL_AUDIT),
            &mut *self.conn,
            audit_entry,
        )
        .await
    }

    async fn all_document_refs(&mut self) -> Result<Vec<DocumentRefRow>, ServiceError> {
        all(
            sqlx::query_as::<D::DB, _>(D::ALL_DOCUMENT_REFS),
            &mut *self.conn,
            |(sha256, position)| Ok(DocumentRefRow { sha256, position }),
        )
        .await
    }

    async fn document_referenced(&mut self, sha256: &str) -> Result<bool, ServiceError> {
        let found = sqlx::query::<D::DB>(D::DOCUMENT_REFERENCED)
            .bind(sha256)
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(service_error)?;
        Ok(found.is_some())
    }

    // ------------------------------------------------------------ notices

    async fn insert_notice(&mut self, n: &NoticeRow) -> Result<(), ServiceError> {
        let _turn = turn(self.gate.clone()).await.map_err(unavailable)?;
        sqlx::query::<D::DB>(D::INSERT_NOTICE)
            .bind(n.id.as_str())
            .bind(n.citizen.as_str())
            .bind(n.title.as_str())
            .bind(n.body.as_str())
            .bind(n.posted_at.as_str())
            .execute(&mut *self.conn)
            .await
            .map_err(service_error)?;
        Ok(())
    }

    async fn notices_of(&mut self, citizen: &str) -> Result<Vec<NoticeRow>, ServiceError> {
        let query = sqlx::query_as::<D::DB, _>(D::NOTICES_OF).bind(citizen);
        all(query, &mut *self.conn, notice).await
    }

    async fn set_notice_read(
        &mut self,
        citizen: &str,
        id: &str,
        read: bool,
    ) -> Result<bool, ServiceError> {
        let _turn = turn(self.gate.clone()).await.map_err(unavailable)?;
        let query = sqlx::query::<D::DB>(D::SET_NOTICE_READ)
            .bind(read)
            .bind(citizen)
            .bind(id);
        changed::<D>(query.execute(&mut *self.conn).await)
    }

    async fn delete_notice(&mut self, citizen: &str, id: &str) -> Result<bool, ServiceError> {
        let _turn = turn(self.gate.clone()).await.map_err(unavailable)?;
        let query = sqlx::query::<D::DB>(D::DELETE_NOTICE)
            .bind(citizen)
            .bind(id);
        changed::<D>(query.execute(&mut *self.conn).await)
    }

    // ------------------------------------------------------------ outbox

    async fn claim_due(
        &mut self,
        claim: &str,
        now: &str,
        until: &str,
        limit: i64,
    ) -> Result<Vec<OutboxEntry>, ServiceError> {
        let _turn = turn(self.gate.clone()).await.map_err(unavailable)?;
        let Some(claimed) = D::CLAIMED else {
            let query = sqlx::query_as::<D::DB, _>(D::CLAIM_DUE)
                .bind(claim)
                .bind(until)
                .bind(now)
                .bind(now)
                .bind(claim)
                .bind(limit);
            return all(query, &mut *self.conn, outbox_entry).await;
        };
        sqlx::query::<D::DB>(D::CLAIM_DUE)
            .bind(claim)
            .bind(until)
            .bind(now)
            .bind(now)
            .bind(claim)
            .bind(limit)
            .execute(&mut *self.conn)
            .await
            .map_err(service_error)?;
        let query = sqlx::query_as::<D::DB, _>(claimed).bind(claim).bind(until);
        all(query, &mut *self.conn, outbox_entry).await
    }

    async fn mark_sent(&mut self, key: &str, at: &str) -> Result<bool, ServiceError> {
        let query = sqlx::query::<D::DB>(D::MARK_SENT).bind(at).bind(key);
        changed::<D>(query.execute(&mut *self.conn).await)
    }

    /// Two statements, each over the rows of its kind, where the dialect
    /// has them; else a statement a row. The attempts first: their status
    /// is the one value the schema may refuse, and then nothing is marked
    /// (where the rows of a kind fit one statement: 256 on SQLite, any
    /// number on PostgreSQL).
    async fn mark_all(&mut self, marks: &[Marked]) -> Result<(), ServiceError> {
        debug_assert!(
            {
                let mut keys: Vec<&str> = marks.iter().map(Marked::key).collect();
                keys.sort_unstable();
                keys.windows(2).all(|pair| pair[0] != pair[1])
            },
            "a key marked twice in one step"
        );
        let (Some(sent), Some(attempted)) = (&D::MARK_SENT_MANY, &D::MARK_ATTEMPT_MANY) else {
            for mark in marks {
                self.mark(mark).await?;
            }
            return Ok(());
        };
        let (sent_rows, attempt_rows): (Vec<&Marked>, Vec<&Marked>) = marks
            .iter()
            .partition(|mark| matches!(mark, Marked::Sent { .. }));
        execute_many_planned::<D, _>(&mut *self.conn, attempted, &attempt_rows, Plan::Fresh)
            .await?;
        execute_many_planned::<D, _>(&mut *self.conn, sent, &sent_rows, Plan::Fresh).await
    }

    async fn mark_attempt(&mut self, a: &Attempt<'_>) -> Result<bool, ServiceError> {
        let query = sqlx::query::<D::DB>(D::MARK_ATTEMPT)
            .bind(a.attempts)
            .bind(a.next_attempt_at)
            .bind(a.error)
            .bind(a.status)
            .bind(a.key);
        changed::<D>(query.execute(&mut *self.conn).await)
    }

    async fn outbox(&mut self) -> Result<Vec<OutboxEntry>, ServiceError> {
        let query = sqlx::query_as::<D::DB, _>(D::OUTBOX);
        all(query, &mut *self.conn, outbox_entry).await
    }

    // ------------------------------------------------------------ documents

    async fn put_document(
        &mut self,
        sha256: &str,
        content: &[u8],
        stored_at: &str,
    ) -> Result<(), ServiceError> {
        let _turn = turn(self.gate.clone()).await.map_err(unavailable)?;
        let size = i64::try_from(content.len()).unwrap_or(i64::MAX);
        sqlx::query::<D::DB>(D::PUT_DOCUMENT)
            .bind(sha256)
            .bind(content)
            .bind(size)
            .bind(stored_at)
            .execute(&mut *self.conn)
            .await
            .map_err(service_error)?;
        Ok(())
    }

    async fn document(&mut self, sha256: &str) -> Result<Option<Vec<u8>>, ServiceError> {
        sqlx::query_scalar::<D::DB, _>(D::DOCUMENT)
            .bind(sha256)
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(service_error)
    }

    async fn document_stored(&mut self, sha256: &str) -> Result<bool, ServiceError> {
        let stored: i64 = sqlx::query_scalar::<D::DB, _>(D::DOCUMENT_STORED)
            .bind(sha256)
            .fetch_one(&mut *self.conn)
            .await
            .map_err(service_error)?;
        Ok(stored > 0)
    }

    async fn sweep_documents(&mut self, stored_before: &str) -> Result<Vec<i64>, ServiceError> {
        let _turn = turn(self.gate.clone()).await.map_err(unavailable)?;
        sqlx::query_scalar::<D::DB, _>(D::SWEEP_DOCUMENTS)
            .bind(stored_before)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(service_error)
    }

    async fn document_usage(&mut self) -> Result<(i64, i64), ServiceError> {
        sqlx::query_as::<D::DB, _>(D::DOCUMENT_USAGE)
            .fetch_one(&mut *self.conn)
            .await
            .map_err(service_error)
    }

    async fn backlog(&mut self) -> Result<Backlog, ServiceError> {
        let (delegations_pending, bookings_pending, outbox_pending, outbox_failed) =
            sqlx::query_as::<D::DB, (i64, i64, i64, i64)>(D::BACKLOG)
                .fetch_one(&mut *self.conn)
                .await
                .map_err(service_error)?;
        Ok(Backlog {
            delegations_pending,
            bookings_pending,
            outbox_pending,
            outbox_failed,
        })
    }
}

// ------------------------------------------------------------ many rows

/// The arguments of a statement over `rows`, in the dialect's shape.
fn arguments<D: Dialect, R: Record>(
    rows: &[R],
) -> Result<<D::DB as Database>::Arguments<'_>, sqlx::Error> {
    let mut values = Vec::new();
    for row in rows {
        row.values(&mut values);
    }
    D::bind_many(values, rows.len()).map_err(sqlx::Error::Encode)
}

/// Runs `statement` over `rows`: nothing if there are none, else one
/// statement per chunk of the dialect's.
async fn execute_many<D: Dialect, R: Record + Sync>(
    conn: &mut DbConn<D>,
    statement: &D::Many,
    rows: &[R],
) -> Result<(), ServiceError>
where
    for<'c> &'c mut DbConn<D>: Executor<'c, Database = D::DB>,
    for<'q> <D::DB as Database>::Arguments<'q>: IntoArguments<'q, D::DB>,
{
    execute_many_planned::<D, R>(conn, statement, rows, Plan::Kept).await
}

/// Whether a statement's plan is kept with the connection (prepared once)
/// or made anew each time, from what the database knows of its tables then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    Kept,
    Fresh,
}

/// [`execute_many`], with its plan kept or made fresh. Fresh for an
/// `UPDATE … FROM` a table of rows, joined to a table on its key:
/// PostgreSQL's generic plan, kept after five runs, is made from what the
/// planner knows of the table then, and a plan made while the table was
/// small (a hash join over a sequential scan) stays as the table grows,
/// each run then reading the whole table. A statement run once a
/// dispatcher's step can afford its planning.
async fn execute_many_planned<D: Dialect, R: Record + Sync>(
    conn: &mut DbConn<D>,
    statement: &D::Many,
    rows: &[R],
    plan: Plan,
) -> Result<(), ServiceError>
where
    for<'c> &'c mut DbConn<D>: Executor<'c, Database = D::DB>,
    for<'q> <D::DB as Database>::Arguments<'q>: IntoArguments<'q, D::DB>,
{
    // A plan made fresh gains nothing from few statement texts: rows go in
    // as few statements as the dialect allows, all at once if they fit.
    let parts: Vec<&[R]> = match (plan, D::MOST_ROWS) {
        (Plan::Kept, most) => chunks(rows, most).collect(),
        (Plan::Fresh, Some(most)) => rows.chunks(most).collect(),
        (Plan::Fresh, None) => (!rows.is_empty()).then_some(rows).into_iter().collect(),
    };
    for chunk in parts {
        let sql = D::many(statement, chunk.len());
        let args = arguments::<D, R>(chunk).map_err(service_error)?;
        let query = sqlx::query_with::<D::DB, _>(&sql, args).persistent(plan == Plan::Kept);
        query.execute(&mut *conn).await.map_err(service_error)?;
    }
    Ok(())
}

/// The rows the query `statement` finds over `keys`, chunk by chunk.
async fn fetch_many<D: Dialect, K: Record + Sync, O>(
    conn: &mut DbConn<D>,
    statement: &D::Many,
    keys: &[K],
) -> Result<Vec<O>, ServiceError>
where
    for<'c> &'c mut DbConn<D>: Executor<'c, Database = D::DB>,
    for<'q> <D::DB as Database>::Arguments<'q>: IntoArguments<'q, D::DB>,
    O: for<'r> FromRow<'r, <D::DB as Database>::Row> + Send + Unpin,
{
    let mut found = Vec::with_capacity(keys.len());
    for chunk in chunks(keys, D::MOST_ROWS) {
        let sql = D::many(statement, chunk.len());
        let args = arguments::<D, K>(chunk).map_err(service_error)?;
        let query = sqlx::query_as_with::<D::DB, O, _>(&sql, args);
        found.extend(query.fetch_all(&mut *conn).await.map_err(service_error)?);
    }
    Ok(found)
}

// ------------------------------------------------------------ one query

/// Every row `query` finds, each turned into what it stands for by `into`.
async fn all<'q, DB, A, O, T>(
    query: QueryAs<'q, DB, O, A>,
    conn: &mut DB::Connection,
    into: fn(O) -> Result<T, ServiceError>,
) -> Result<Vec<T>, ServiceError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    A: IntoArguments<'q, DB> + 'q,
    O: for<'r> FromRow<'r, DB::Row> + Send + Unpin,
{
    let raw = query.fetch_all(conn).await.map_err(service_error)?;
    raw.into_iter().map(into).collect()
}

/// The row `query` finds, if any, turned into what it stands for by `into`.
async fn optional<'q, DB, A, O, T>(
    query: QueryAs<'q, DB, O, A>,
    conn: &mut DB::Connection,
    into: fn(O) -> Result<T, ServiceError>,
) -> Result<Option<T>, ServiceError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    A: IntoArguments<'q, DB> + 'q,
    O: for<'r> FromRow<'r, DB::Row> + Send + Unpin,
{
    let raw = query.fetch_optional(conn).await.map_err(service_error)?;
    raw.map(into).transpose()
}

/// Whether a statement changed a row.
fn changed<D: Dialect>(
    done: Result<<D::DB as Database>::QueryResult, sqlx::Error>,
) -> Result<bool, ServiceError> {
    Ok(D::rows_affected(&done.map_err(service_error)?) > 0)
}

// ------------------------------------------------------------ events

/// One event as [`Dialect::APPEND`] binds it.
struct EventRecord<'a> {
    event: &'a SerializedEvent,
    sequence: i64,
    payload: String,
    metadata: String,
}

impl<'a> EventRecord<'a> {
    fn of(event: &'a SerializedEvent) -> Result<Self, PersistenceError> {
        Ok(Self {
            event,
            sequence: i64::try_from(event.sequence)
                .map_err(|e| PersistenceError::UnknownError(Box::new(e)))?,
            // `serde_json::to_string` writes the text `Display` writes,
            // into one buffer rather than through a formatter.
            payload: serde_json::to_string(&event.payload).map_err(PersistenceError::from)?,
            metadata: serde_json::to_string(&event.metadata).map_err(PersistenceError::from)?,
        })
    }
}

impl Record for EventRecord<'_> {
    fn values<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        let e = self.event;
        out.extend([
            Value::Text(&e.aggregate_type),
            Value::Text(&e.aggregate_id),
            Value::Int(self.sequence),
            Value::Text(&e.event_type),
            Value::Text(&e.event_version),
            Value::Text(&self.payload),
            Value::Text(&self.metadata),
        ]);
    }
}

/// A unique violation on the stream key is the optimistic concurrency:
/// another writer stored this sequence first (PostgreSQL 23505, SQLite
/// 2067, as the driver sorts them; the migrations run on connect, so no
/// store is keyed otherwise, and no other key of `events` takes a value
/// from the append). So is an append the database rolled back to break a
/// deadlock or a serialisation failure with another writer (SQLSTATE
/// 40001: MariaDB's and MySQL's deadlock, 1213, as InnoDB's locks of
/// concurrent inserts on one key give it; 40P01: PostgreSQL's deadlock):
/// the statement stored nothing, and the command, read again, decides
/// again, as after any conflict.
fn append_error(error: sqlx::Error) -> PersistenceError {
    if let sqlx::Error::Database(db) = &error {
        let rolled_back = db
            .code()
            .is_some_and(|code| code == "40001" || code == "40P01");
        if db.is_unique_violation() || rolled_back {
            return PersistenceError::OptimisticLockError;
        }
    }
    persistence_error(error)
}

/// The event in columns `first..first + 7` of a row (the columns of
/// `queries::STREAM`), as stored at `position`.
fn stored_text<R>(row: &R, position: i64, first: usize) -> Result<StoredText, sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
{
    let sequence: i64 = row.try_get(first + 2)?;
    Ok(StoredText {
        position,
        aggregate_type: row.try_get(first)?,
        aggregate_id: row.try_get(first + 1)?,
        sequence: usize::try_from(sequence).map_err(|e| sqlx::Error::ColumnDecode {
            index: "sequence".to_owned(),
            source: Box::new(e),
        })?,
        event_type: row.try_get(first + 3)?,
        event_version: row.try_get(first + 4)?,
        payload: row.try_get(first + 5)?,
        metadata: row.try_get(first + 6)?,
    })
}

/// A row of `queries::STREAM` as cqrs-es takes it.
fn event<R>(row: &R) -> Result<SerializedEvent, PersistenceError>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
{
    // Not a position of the log: streams are read whole, in sequence order.
    let text = stored_text(row, 0, 0).map_err(persistence_error)?;
    text.into_event()
        .map_err(|e| PersistenceError::DeserializationError(Box::new(e)))
}

// ------------------------------------------------------------ rows

impl Record for DelegationRecord {
    fn values<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        out.extend([
            Value::Text(&self.id),
            Value::Text(&self.grantor),
            Value::Text(&self.delegate),
            Value::Text(self.stage),
            Value::Text(&self.requested_at),
            Value::Text(&self.data),
            Value::Int(self.position),
        ]);
    }
}

impl Record for BookingRecord {
    fn values<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        out.extend([
            Value::Text(&self.id),
            Value::Text(&self.booker),
            Value::Text(&self.counter),
            Value::Text(&self.office),
            Value::Text(self.mode),
            Value::Text(&self.slot_start),
            Value::Text(&self.slot_date),
            Value::Text(self.stage),
            Value::Text(self.meeting_state),
            Value::Text(&self.data),
            Value::Text(&self.meeting),
            Value::Int(self.position),
        ]);
    }
}

impl Record for PlaceRow {
    fn values<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        out.extend([
            Value::Text(&self.slot_key),
            Value::Text(&self.booking),
            Value::Text(&self.counter),
            Value::Text(&self.slot_start),
            Value::Bool(self.held),
            Value::Int(self.position),
        ]);
    }
}

impl Record for AuditEntry {
    fn values<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        out.extend([
            Value::Int(self.position),
            Value::Text(&self.grantor),
            Value::Text(&self.actor),
            Value::Text(&self.action),
            Value::Text(&self.aggregate_type),
            Value::Text(&self.aggregate_id),
            Value::NullableText(self.at.as_deref()),
            Value::NullableText(self.channel.as_deref()),
            Value::NullableText(self.correlation_id.as_deref()),
        ]);
    }
}

impl Record for DocumentRefRow {
    fn values<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        out.extend([Value::Text(&self.sha256), Value::Int(self.position)]);
    }
}

/// The columns of [`Dialect::MARK_SENT_MANY`] or
/// [`Dialect::MARK_ATTEMPT_MANY`], by kind.
impl Record for Marked {
    fn values<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        match (self, self.attempt()) {
            (_, Some(a)) => out.extend([
                Value::Text(a.key),
                Value::Int(a.attempts),
                Value::Text(a.next_attempt_at),
                Value::Text(a.error),
                Value::Text(a.status),
            ]),
            (Marked::Sent { key, at }, None) => out.extend([Value::Text(key), Value::Text(at)]),
            (Marked::Attempt { .. }, None) => unreachable!("an attempt has one"),
        }
    }
}

/// The columns of [`Dialect::SCHEDULE`].
impl Record for OutboxEntry {
    fn values<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        out.extend([
            Value::Text(&self.key),
            Value::Text(&self.channel),
            Value::Text(&self.recipient),
            Value::Text(&self.title),
            Value::Text(&self.body),
            Value::Text(&self.due_at),
            Value::Text(&self.status),
            Value::Text(&self.next_attempt_at),
            Value::Int(self.position),
        ]);
    }
}

// ------------------------------------------------------------ decoded rows

// The read side's rows, decoded the same way from every dialect, by the
// order of the columns their statements select.

#[derive(sqlx::FromRow)]
struct RawDelegation {
    data: String,
    position: i64,
}

impl RawDelegation {
    fn into_row(self) -> Result<DelegationRow, ServiceError> {
        Ok(DelegationRow {
            delegation: from_json(&self.data)?,
            position: self.position,
        })
    }
}

#[derive(sqlx::FromRow)]
struct RawBooking {
    data: String,
    meeting: String,
    position: i64,
}

impl RawBooking {
    fn into_row(self) -> Result<BookingRow, ServiceError> {
        Ok(BookingRow {
            booking: from_json(&self.data)?,
            meeting: from_json(&self.meeting)?,
            position: self.position,
        })
    }
}

#[derive(sqlx::FromRow)]
struct RawPlace {
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

fn rows<R, T>(raw: Vec<R>, f: fn(R) -> Result<T, ServiceError>) -> Result<Vec<T>, ServiceError> {
    raw.into_iter().map(f).collect()
}

/// The columns of [`Dialect::AUDIT_OF`].
type RawAudit = (
    i64,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn audit_entry(raw: RawAudit) -> Result<AuditEntry, ServiceError> {
    let (
        position,
        grantor,
        actor,
        action,
        aggregate_type,
        aggregate_id,
        at,
        channel,
        correlation_id,
    ) = raw;
    Ok(AuditEntry {
        position,
        grantor,
        actor,
        action,
        aggregate_type,
        aggregate_id,
        at,
        channel,
        correlation_id,
    })
}

/// The columns of [`Dialect::NOTICES_OF`].
type RawNotice = (String, String, String, String, String, bool, bool);

fn notice(raw: RawNotice) -> Result<NoticeRow, ServiceError> {
    let (id, citizen, title, body, posted_at, is_read, deleted) = raw;
    Ok(NoticeRow {
        id,
        citizen,
        title,
        body,
        posted_at,
        is_read,
        deleted,
    })
}

/// The columns of [`Dialect::OUTBOX`] and [`Dialect::CLAIM_DUE`].
type RawOutbox = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
    i64,
);

fn outbox_entry(raw: RawOutbox) -> Result<OutboxEntry, ServiceError> {
    let (
        key,
        channel,
        recipient,
        title,
        body,
        due_at,
        status,
        attempts,
        next_attempt_at,
        last_error,
        sent_at,
        position,
    ) = raw;
    Ok(OutboxEntry {
        key,
        channel,
        recipient,
        title,
        body,
        due_at,
        status,
        attempts,
        next_attempt_at,
        last_error,
        sent_at,
        position,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::error::ErrorKind;

    /// A database's error as a driver reports one: its SQLSTATE, if any, and
    /// how the driver sorts it.
    #[derive(Debug)]
    struct Refused(Option<&'static str>, ErrorKind);

    impl std::fmt::Display for Refused {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "refused: {:?} {:?}", self.0, self.1)
        }
    }

    impl std::error::Error for Refused {}

    impl sqlx::error::DatabaseError for Refused {
        fn message(&self) -> &str {
            "refused"
        }
        fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
            self.0.map(Into::into)
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> ErrorKind {
            match &self.1 {
                ErrorKind::UniqueViolation => ErrorKind::UniqueViolation,
                _ => ErrorKind::Other,
            }
        }
    }

    fn appended(code: Option<&'static str>, kind: ErrorKind) -> PersistenceError {
        append_error(sqlx::Error::Database(Box::new(Refused(code, kind))))
    }

    /// Found racing D12's actions against a revocation on MariaDB: InnoDB
    /// broke a deadlock of two appends by rolling one back, and the command
    /// failed as the store being unavailable instead of being read again.
    #[test]
    fn d10_an_append_rolled_back_for_a_deadlock_is_a_conflict_to_retry() {
        for code in ["40001", "40P01"] {
            assert!(
                matches!(
                    appended(Some(code), ErrorKind::Other),
                    PersistenceError::OptimisticLockError
                ),
                "{code}"
            );
        }
        // A taken sequence still is one, whatever its code.
        assert!(matches!(
            appended(None, ErrorKind::UniqueViolation),
            PersistenceError::OptimisticLockError
        ));
        // Anything else is not a conflict: a connection lost, a full disk.
        for code in ["08006", "53100", "HY000"] {
            assert!(
                matches!(
                    appended(Some(code), ErrorKind::Other),
                    PersistenceError::UnknownError(_)
                ),
                "{code}"
            );
        }
    }
}
