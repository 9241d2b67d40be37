//! Every statement of the read side on SQLite (`?` placeholders). The same
//! functions, with the same meaning, are in [`super::postgres`].
//!
//! The projector's statements take many rows at once: `VALUES (?, …), …`
//! with one bound parameter per column, in chunks whose sizes are powers of
//! two up to [`CHUNK`] rows, so that each statement has a few texts, each
//! prepared once per connection ([`Rows`]).

use sqlx::query::Query;
use sqlx::sqlite::SqliteArguments;
use sqlx::{Executor, Sqlite, SqliteConnection};

use super::{
    rows, Attempt, AuditEntry, BookingRecord, BookingRow, Checkpoint, DelegationRecord,
    DelegationRow, DocumentRefRow, NoticeRow, OutboxEntry, PlaceRow, RawBooking, RawDelegation,
    RawPlace,
};
use crate::error::ServiceError;
use crate::sql::service_error;

mod q {
    use super::Rows;

    pub const ENSURE_CHECKPOINT: &str =
        "INSERT INTO read_checkpoints (name, position) VALUES (?, 0) ON CONFLICT (name) DO NOTHING";
    pub const CHECKPOINT: &str = "SELECT position, generation FROM read_checkpoints WHERE name = ?";
    pub const SAVE_CHECKPOINT: &str = "UPDATE read_checkpoints SET position = ? WHERE name = ?";
    pub const NEXT_GENERATION: &str =
        "UPDATE read_checkpoints SET generation = generation + 1 WHERE name = ?";

    pub const DELEGATION: &str = "SELECT data, position FROM read_delegations WHERE id = ?";
    /// `VALUES (id), …`.
    pub const DELEGATIONS: Rows = Rows {
        head: "SELECT data, position FROM read_delegations WHERE id IN (",
        width: 1,
        tail: ")",
    };
    /// `VALUES (id, grantor, delegate, stage, requested_at, data, position), …`.
    pub const PUT_DELEGATIONS: Rows = Rows {
        head: "
INSERT INTO read_delegations (id, grantor, delegate, stage, requested_at, data, position) ",
        width: 7,
        tail: "
    ON CONFLICT (id) DO UPDATE SET grantor = excluded.grantor, delegate = excluded.delegate,
       stage = excluded.stage, requested_at = excluded.requested_at, data = excluded.data,
       position = excluded.position
     WHERE read_delegations.position < excluded.position",
    };
    pub const DELEGATIONS_BY_GRANTOR: &str = "
SELECT data, position FROM read_delegations
 WHERE grantor = ? AND stage NOT IN ('pending', 'refused')
 ORDER BY requested_at, id";
    pub const DELEGATIONS_BY_DELEGATE: &str = "
SELECT data, position FROM read_delegations
 WHERE delegate = ? AND stage NOT IN ('pending', 'refused')
 ORDER BY requested_at, id";
    pub const ALL_DELEGATIONS: &str = "SELECT data, position FROM read_delegations ORDER BY id";

    pub const BOOKING: &str = "SELECT data, meeting, position FROM read_bookings WHERE id = ?";
    /// `VALUES (id), …`.
    pub const BOOKINGS: Rows = Rows {
        head: "SELECT data, meeting, position FROM read_bookings WHERE id IN (",
        width: 1,
        tail: ")",
    };
    /// `VALUES (…), …`, the columns in the insert's order.
    pub const PUT_BOOKINGS: Rows = Rows {
        head: "
INSERT INTO read_bookings (id, booker, counter, office, mode, slot_start, slot_date, stage,
                           meeting_state, data, meeting, position) ",
        width: 12,
        tail: "
    ON CONFLICT (id) DO UPDATE SET booker = excluded.booker, counter = excluded.counter,
       office = excluded.office, mode = excluded.mode, slot_start = excluded.slot_start,
       slot_date = excluded.slot_date, stage = excluded.stage,
       meeting_state = excluded.meeting_state, data = excluded.data,
       meeting = excluded.meeting, position = excluded.position
     WHERE read_bookings.position < excluded.position",
    };
    pub const BOOKINGS_OF: &str = "
SELECT data, meeting, position FROM read_bookings
 WHERE booker = ? AND stage <> 'refused'
 ORDER BY slot_start, id";
    pub const BOOKINGS_BY_OFFICE_DAY: &str = "
SELECT data, meeting, position FROM read_bookings
 WHERE office = ? AND slot_date = ? AND stage <> 'refused'
 ORDER BY slot_start, id";
    pub const WAITING_ROOM: &str = "
SELECT data, meeting, position FROM read_bookings
 WHERE office = ? AND slot_date = ? AND mode = 'web_meeting'
   AND stage IN ('confirmed', 'served', 'missed')
 ORDER BY slot_start, id";
    pub const ALL_BOOKINGS: &str = "SELECT data, meeting, position FROM read_bookings ORDER BY id";

    /// `VALUES (slot_key, booking), …`. A join, not `(slot_key, booking) IN
    /// (VALUES …)`, which SQLite answers by scanning the table.
    pub const PLACES: Rows = Rows {
        head: "
SELECT p.slot_key, p.booking, p.counter, p.slot_start, p.held, p.position FROM (",
        width: 2,
        tail: ") AS k
  JOIN read_slot_places p ON p.slot_key = k.column1 AND p.booking = k.column2",
    };
    /// `VALUES (…), …`, the columns in the insert's order.
    pub const PUT_PLACES: Rows = Rows {
        head: "
INSERT INTO read_slot_places (slot_key, booking, counter, slot_start, held, position) ",
        width: 6,
        tail: "
    ON CONFLICT (slot_key, booking) DO UPDATE SET counter = excluded.counter,
       slot_start = excluded.slot_start, held = excluded.held, position = excluded.position
     WHERE read_slot_places.position < excluded.position",
    };
    pub const PLACES_HELD: &str = "
SELECT slot_start, COUNT(*) AS taken FROM read_slot_places
 WHERE counter = ? AND held = 1 AND slot_start >= ? AND slot_start <= ?
 GROUP BY slot_start";
    pub const ALL_PLACES: &str = "
SELECT slot_key, booking, counter, slot_start, held, position FROM read_slot_places
 ORDER BY slot_key, booking";

    /// `VALUES (…), …`, the columns in the insert's order.
    pub const INSERT_AUDIT: Rows = Rows {
        head: "
INSERT INTO read_audit (position, grantor, actor, action, aggregate_type, aggregate_id, at,
                        channel, correlation_id) ",
        width: 9,
        tail: "
    ON CONFLICT (position) DO NOTHING",
    };
    pub const AUDIT_OF: &str = "
SELECT position, grantor, actor, action, aggregate_type, aggregate_id, at, channel, correlation_id
  FROM read_audit WHERE grantor = ? ORDER BY position";
    pub const ALL_AUDIT: &str = "
SELECT position, grantor, actor, action, aggregate_type, aggregate_id, at, channel, correlation_id
  FROM read_audit ORDER BY position";

    /// `VALUES (sha256, position), …`: the first event naming a document keeps it.
    pub const INSERT_DOCUMENT_REFS: Rows = Rows {
        head: "
INSERT INTO read_document_refs (sha256, position) ",
        width: 2,
        tail: "
    ON CONFLICT (sha256) DO NOTHING",
    };
    pub const ALL_DOCUMENT_REFS: &str =
        "SELECT sha256, position FROM read_document_refs ORDER BY sha256";
    pub const DOCUMENT_REFERENCED: &str = "SELECT 1 FROM read_document_refs WHERE sha256 = ?";

    pub const CLEAR_READ_MODELS: [&str; 5] = [
        "DELETE FROM read_delegations",
        "DELETE FROM read_bookings",
        "DELETE FROM read_slot_places",
        "DELETE FROM read_audit",
        "DELETE FROM read_document_refs",
    ];

    /// `VALUES (key, channel, recipient, title, body, due_at, status,
    /// next_attempt_at, position), …`; attempts take their default.
    pub const SCHEDULE: Rows = Rows {
        head: "
INSERT INTO outbox (key, channel, recipient, title, body, due_at, status, next_attempt_at,
                    position) ",
        width: 9,
        tail: "
    ON CONFLICT (key) DO NOTHING",
    };
    /// [`SCHEDULE`], but a row already there is withdrawn if pending.
    pub const SCHEDULE_OR_WITHDRAW: Rows = Rows {
        head: SCHEDULE.head,
        width: SCHEDULE.width,
        tail: "
    ON CONFLICT (key) DO UPDATE SET status = 'withdrawn' WHERE outbox.status = 'pending'",
    };
    // The statements by key test `status` with `IS TRUE`, which no index
    // serves: only the primary key can, whatever the planner guesses (on
    // PostgreSQL a generic plan once read every pending row through
    // `outbox_due`); written alike on both stores.
    /// `VALUES (key), …`.
    pub const WITHDRAW: Rows = Rows {
        head: "
UPDATE outbox SET status = 'withdrawn'
 WHERE key IN (",
        width: 1,
        tail: ") AND (status = 'pending') IS TRUE",
    };
    /// `(?1 claim, ?2 claimed until, ?3 now, ?4 limit)`. SQLite has one
    /// writer at a time, so the select and the update are one atomic step.
    pub const CLAIM_DUE: &str = "
UPDATE outbox SET claim = ?1, claimed_until = ?2
 WHERE key IN (SELECT key FROM outbox
                WHERE status = 'pending' AND next_attempt_at <= ?3
                  AND (claimed_until IS NULL OR claimed_until <= ?3)
                ORDER BY next_attempt_at, key
                LIMIT ?4)
RETURNING key, channel, recipient, title, body, due_at, status, attempts, next_attempt_at,
          last_error, sent_at, position";
    pub const MARK_SENT: &str = "
UPDATE outbox SET status = 'sent', sent_at = ?, claim = NULL, claimed_until = NULL
 WHERE key = ? AND (status <> 'sent') IS TRUE";
    pub const MARK_ATTEMPT: &str = "
UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ?, status = ?,
       claim = NULL, claimed_until = NULL
 WHERE key = ? AND (status = 'pending') IS TRUE";
    pub const OUTBOX: &str = "
SELECT key, channel, recipient, title, body, due_at, status, attempts, next_attempt_at,
       last_error, sent_at, position
  FROM outbox ORDER BY position, key";

    pub const INSERT_NOTICE: &str = "
INSERT INTO notices (id, citizen, title, body, posted_at, is_read, deleted)
VALUES (?, ?, ?, ?, ?, 0, 0)
    ON CONFLICT (id) DO NOTHING";
    pub const NOTICES_OF: &str = "
SELECT id, citizen, title, body, posted_at, is_read, deleted FROM notices
 WHERE citizen = ? AND deleted = 0
 ORDER BY posted_at DESC, id";
    pub const SET_NOTICE_READ: &str =
        "UPDATE notices SET is_read = ? WHERE citizen = ? AND id = ? AND deleted = 0";
    pub const DELETE_NOTICE: &str =
        "UPDATE notices SET deleted = 1 WHERE citizen = ? AND id = ? AND deleted = 0";

    /// `(sha256, content, size, stored_at)`. The same content stored again
    /// keeps its row and moves `stored_at` on: it is about to be referred to.
    pub const PUT_DOCUMENT: &str = "
INSERT INTO documents (sha256, content, size, stored_at) VALUES (?, ?, ?, ?)
    ON CONFLICT (sha256) DO UPDATE SET stored_at = excluded.stored_at
     WHERE documents.stored_at IS NULL OR documents.stored_at < excluded.stored_at";
    /// `(stored before)`: the documents no event refers to, stored before
    /// the instant, in one statement with the look-up of the references.
    pub const SWEEP_DOCUMENTS: &str = "
DELETE FROM documents
 WHERE stored_at < ?
   AND NOT EXISTS (SELECT 1 FROM read_document_refs r WHERE r.sha256 = documents.sha256)
RETURNING size";
    pub const DOCUMENT: &str = "SELECT content FROM documents WHERE sha256 = ?";
    pub const DOCUMENT_USAGE: &str = "SELECT count(*), coalesce(sum(size), 0) FROM documents";
}

// ------------------------------------------------------------ checkpoint

pub(crate) async fn checkpoint<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
    name: &str,
) -> Result<Checkpoint, ServiceError> {
    let found: Option<(i64, i64)> = sqlx::query_as(q::CHECKPOINT)
        .bind(name)
        .fetch_optional(ex)
        .await
        .map_err(service_error)?;
    let (position, generation) = found.unwrap_or((0, 0));
    Ok(Checkpoint {
        position,
        generation,
    })
}

pub(crate) async fn lock_checkpoint(
    conn: &mut SqliteConnection,
    name: &str,
) -> Result<Checkpoint, ServiceError> {
    // The transaction began IMMEDIATE: it already holds the write lock.
    // The row is created the first time only: one statement a batch.
    let found: Option<(i64, i64)> = sqlx::query_as(q::CHECKPOINT)
        .bind(name)
        .fetch_optional(&mut *conn)
        .await
        .map_err(service_error)?;
    if let Some((position, generation)) = found {
        return Ok(Checkpoint {
            position,
            generation,
        });
    }
    sqlx::query(q::ENSURE_CHECKPOINT)
        .bind(name)
        .execute(&mut *conn)
        .await
        .map_err(service_error)?;
    checkpoint(conn, name).await
}

pub(crate) async fn save_checkpoint(
    conn: &mut SqliteConnection,
    name: &str,
    position: i64,
) -> Result<(), ServiceError> {
    sqlx::query(q::SAVE_CHECKPOINT)
        .bind(position)
        .bind(name)
        .execute(conn)
        .await
        .map_err(service_error)?;
    Ok(())
}

pub(crate) async fn next_generation(
    conn: &mut SqliteConnection,
    name: &str,
) -> Result<(), ServiceError> {
    sqlx::query(q::NEXT_GENERATION)
        .bind(name)
        .execute(conn)
        .await
        .map_err(service_error)?;
    Ok(())
}

// ------------------------------------------------------------ delegations

pub(crate) async fn delegation<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
    id: &str,
) -> Result<Option<DelegationRow>, ServiceError> {
    sqlx::query_as::<_, RawDelegation>(q::DELEGATION)
        .bind(id)
        .fetch_optional(ex)
        .await
        .map_err(service_error)?
        .map(RawDelegation::into_row)
        .transpose()
}

pub(crate) async fn delegations(
    conn: &mut SqliteConnection,
    ids: &[String],
) -> Result<Vec<DelegationRow>, ServiceError> {
    let raw: Vec<RawDelegation> = fetch_rows(conn, q::DELEGATIONS, ids, |q, id| q.bind(id)).await?;
    rows(raw, RawDelegation::into_row)
}

pub(crate) async fn put_delegations(
    conn: &mut SqliteConnection,
    batch: &[DelegationRecord],
) -> Result<(), ServiceError> {
    execute_rows(conn, q::PUT_DELEGATIONS, batch, |q, r| {
        q.bind(r.id.as_str())
            .bind(r.grantor.as_str())
            .bind(r.delegate.as_str())
            .bind(r.stage)
            .bind(r.requested_at.as_str())
            .bind(r.data.as_str())
            .bind(r.position)
    })
    .await
}

async fn delegation_list<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
    sql: &'static str,
    arg: Option<&str>,
) -> Result<Vec<DelegationRow>, ServiceError> {
    let mut query = sqlx::query_as::<_, RawDelegation>(sql);
    if let Some(arg) = arg {
        query = query.bind(arg);
    }
    let raw = query.fetch_all(ex).await.map_err(service_error)?;
    rows(raw, RawDelegation::into_row)
}

pub(crate) async fn delegations_by_grantor<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
    grantor: &str,
) -> Result<Vec<DelegationRow>, ServiceError> {
    delegation_list(ex, q::DELEGATIONS_BY_GRANTOR, Some(grantor)).await
}

pub(crate) async fn delegations_by_delegate<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
    delegate: &str,
) -> Result<Vec<DelegationRow>, ServiceError> {
    delegation_list(ex, q::DELEGATIONS_BY_DELEGATE, Some(delegate)).await
}

pub(crate) async fn all_delegations<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
) -> Result<Vec<DelegationRow>, ServiceError> {
    delegation_list(ex, q::ALL_DELEGATIONS, None).await
}

// ------------------------------------------------------------ bookings

pub(crate) async fn booking<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
    id: &str,
) -> Result<Option<BookingRow>, ServiceError> {
    sqlx::query_as::<_, RawBooking>(q::BOOKING)
        .bind(id)
        .fetch_optional(ex)
        .await
        .map_err(service_error)?
        .map(RawBooking::into_row)
        .transpose()
}

pub(crate) async fn bookings(
    conn: &mut SqliteConnection,
    ids: &[String],
) -> Result<Vec<BookingRow>, ServiceError> {
    let raw: Vec<RawBooking> = fetch_rows(conn, q::BOOKINGS, ids, |q, id| q.bind(id)).await?;
    rows(raw, RawBooking::into_row)
}

pub(crate) async fn put_bookings(
    conn: &mut SqliteConnection,
    batch: &[BookingRecord],
) -> Result<(), ServiceError> {
    execute_rows(conn, q::PUT_BOOKINGS, batch, |q, r| {
        q.bind(r.id.as_str())
            .bind(r.booker.as_str())
            .bind(r.counter.as_str())
            .bind(r.office.as_str())
            .bind(r.mode)
            .bind(r.slot_start.as_str())
            .bind(r.slot_date.as_str())
            .bind(r.stage)
            .bind(r.meeting_state)
            .bind(r.data.as_str())
            .bind(r.meeting.as_str())
            .bind(r.position)
    })
    .await
}

async fn booking_list<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
    sql: &'static str,
    args: &[&str],
) -> Result<Vec<BookingRow>, ServiceError> {
    let mut query = sqlx::query_as::<_, RawBooking>(sql);
    for arg in args {
        query = query.bind(*arg);
    }
    let raw = query.fetch_all(ex).await.map_err(service_error)?;
    rows(raw, RawBooking::into_row)
}

pub(crate) async fn bookings_of<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
    booker: &str,
) -> Result<Vec<BookingRow>, ServiceError> {
    booking_list(ex, q::BOOKINGS_OF, &[booker]).await
}

pub(crate) async fn bookings_by_office_day<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
    office: &str,
    date: &str,
) -> Result<Vec<BookingRow>, ServiceError> {
    booking_list(ex, q::BOOKINGS_BY_OFFICE_DAY, &[office, date]).await
}

pub(crate) async fn waiting_room<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
    office: &str,
    date: &str,
) -> Result<Vec<BookingRow>, ServiceError> {
    booking_list(ex, q::WAITING_ROOM, &[office, date]).await
}

pub(crate) async fn all_bookings<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
) -> Result<Vec<BookingRow>, ServiceError> {
    booking_list(ex, q::ALL_BOOKINGS, &[]).await
}

// ------------------------------------------------------------ slot places

pub(crate) async fn places(
    conn: &mut SqliteConnection,
    keys: &[(String, String)],
) -> Result<Vec<PlaceRow>, ServiceError> {
    let raw: Vec<RawPlace> = fetch_rows(conn, q::PLACES, keys, |q, (slot_key, booking)| {
        q.bind(slot_key.as_str()).bind(booking.as_str())
    })
    .await?;
    Ok(raw.into_iter().map(PlaceRow::from).collect())
}

pub(crate) async fn put_places(
    conn: &mut SqliteConnection,
    batch: &[PlaceRow],
) -> Result<(), ServiceError> {
    execute_rows(conn, q::PUT_PLACES, batch, |q, row| {
        q.bind(row.slot_key.as_str())
            .bind(row.booking.as_str())
            .bind(row.counter.as_str())
            .bind(row.slot_start.as_str())
            .bind(row.held)
            .bind(row.position)
    })
    .await
}

pub(crate) async fn places_held<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
    counter: &str,
    first: &str,
    last: &str,
) -> Result<Vec<(String, i64)>, ServiceError> {
    sqlx::query_as(q::PLACES_HELD)
        .bind(counter)
        .bind(first)
        .bind(last)
        .fetch_all(ex)
        .await
        .map_err(service_error)
}

pub(crate) async fn all_places<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
) -> Result<Vec<PlaceRow>, ServiceError> {
    let raw: Vec<RawPlace> = sqlx::query_as(q::ALL_PLACES)
        .fetch_all(ex)
        .await
        .map_err(service_error)?;
    Ok(raw.into_iter().map(PlaceRow::from).collect())
}

// ------------------------------------------------------------ audit

pub(crate) async fn insert_audit(
    conn: &mut SqliteConnection,
    batch: &[AuditEntry],
) -> Result<(), ServiceError> {
    execute_rows(conn, q::INSERT_AUDIT, batch, |q, row| {
        q.bind(row.position)
            .bind(row.grantor.as_str())
            .bind(row.actor.as_str())
            .bind(row.action.as_str())
            .bind(row.aggregate_type.as_str())
            .bind(row.aggregate_id.as_str())
            .bind(row.at.as_deref())
            .bind(row.channel.as_deref())
            .bind(row.correlation_id.as_deref())
    })
    .await
}

pub(crate) async fn audit_of<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
    grantor: &str,
) -> Result<Vec<AuditEntry>, ServiceError> {
    sqlx::query_as(q::AUDIT_OF)
        .bind(grantor)
        .fetch_all(ex)
        .await
        .map_err(service_error)
}

pub(crate) async fn all_audit<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
) -> Result<Vec<AuditEntry>, ServiceError> {
    sqlx::query_as(q::ALL_AUDIT)
        .fetch_all(ex)
        .await
        .map_err(service_error)
}

pub(crate) async fn insert_document_refs(
    conn: &mut SqliteConnection,
    batch: &[DocumentRefRow],
) -> Result<(), ServiceError> {
    execute_rows(conn, q::INSERT_DOCUMENT_REFS, batch, |q, row| {
        q.bind(row.sha256.as_str()).bind(row.position)
    })
    .await
}

pub(crate) async fn all_document_refs<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
) -> Result<Vec<DocumentRefRow>, ServiceError> {
    sqlx::query_as(q::ALL_DOCUMENT_REFS)
        .fetch_all(ex)
        .await
        .map_err(service_error)
}

pub(crate) async fn document_referenced<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
    sha256: &str,
) -> Result<bool, ServiceError> {
    let found: Option<i64> = sqlx::query_scalar(q::DOCUMENT_REFERENCED)
        .bind(sha256)
        .fetch_optional(ex)
        .await
        .map_err(service_error)?;
    Ok(found.is_some())
}

pub(crate) async fn clear_read_models(conn: &mut SqliteConnection) -> Result<(), ServiceError> {
    for sql in q::CLEAR_READ_MODELS {
        sqlx::query(sql)
            .execute(&mut *conn)
            .await
            .map_err(service_error)?;
    }
    Ok(())
}

// ------------------------------------------------------------ outbox

pub(crate) async fn schedule(
    conn: &mut SqliteConnection,
    batch: &[OutboxEntry],
    withdraw_on_conflict: bool,
) -> Result<(), ServiceError> {
    let statement = if withdraw_on_conflict {
        q::SCHEDULE_OR_WITHDRAW
    } else {
        q::SCHEDULE
    };
    execute_rows(conn, statement, batch, |q, row| {
        q.bind(row.key.as_str())
            .bind(row.channel.as_str())
            .bind(row.recipient.as_str())
            .bind(row.title.as_str())
            .bind(row.body.as_str())
            .bind(row.due_at.as_str())
            .bind(row.status.as_str())
            .bind(row.next_attempt_at.as_str())
            .bind(row.position)
    })
    .await
}

pub(crate) async fn withdraw(
    conn: &mut SqliteConnection,
    keys: &[String],
) -> Result<(), ServiceError> {
    execute_rows(conn, q::WITHDRAW, keys, |q, key| q.bind(key.as_str())).await
}

pub(crate) async fn claim_due<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
    claim: &str,
    now: &str,
    until: &str,
    limit: i64,
) -> Result<Vec<OutboxEntry>, ServiceError> {
    sqlx::query_as(q::CLAIM_DUE)
        .bind(claim)
        .bind(until)
        .bind(now)
        .bind(limit)
        .fetch_all(ex)
        .await
        .map_err(service_error)
}

pub(crate) async fn mark_sent<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
    key: &str,
    at: &str,
) -> Result<bool, ServiceError> {
    let done = sqlx::query(q::MARK_SENT)
        .bind(at)
        .bind(key)
        .execute(ex)
        .await
        .map_err(service_error)?;
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn mark_attempt<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
    a: &Attempt<'_>,
) -> Result<bool, ServiceError> {
    let done = sqlx::query(q::MARK_ATTEMPT)
        .bind(a.attempts)
        .bind(a.next_attempt_at)
        .bind(a.error)
        .bind(a.status)
        .bind(a.key)
        .execute(ex)
        .await
        .map_err(service_error)?;
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn outbox<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
) -> Result<Vec<OutboxEntry>, ServiceError> {
    sqlx::query_as(q::OUTBOX)
        .fetch_all(ex)
        .await
        .map_err(service_error)
}

// ------------------------------------------------------------ notices

pub(crate) async fn insert_notice<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
    n: &NoticeRow,
) -> Result<(), ServiceError> {
    sqlx::query(q::INSERT_NOTICE)
        .bind(&n.id)
        .bind(&n.citizen)
        .bind(&n.title)
        .bind(&n.body)
        .bind(&n.posted_at)
        .execute(ex)
        .await
        .map_err(service_error)?;
    Ok(())
}

pub(crate) async fn notices_of<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
    citizen: &str,
) -> Result<Vec<NoticeRow>, ServiceError> {
    sqlx::query_as(q::NOTICES_OF)
        .bind(citizen)
        .fetch_all(ex)
        .await
        .map_err(service_error)
}

pub(crate) async fn set_notice_read<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
    citizen: &str,
    id: &str,
    read: bool,
) -> Result<bool, ServiceError> {
    let done = sqlx::query(q::SET_NOTICE_READ)
        .bind(read)
        .bind(citizen)
        .bind(id)
        .execute(ex)
        .await
        .map_err(service_error)?;
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn delete_notice<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
    citizen: &str,
    id: &str,
) -> Result<bool, ServiceError> {
    let done = sqlx::query(q::DELETE_NOTICE)
        .bind(citizen)
        .bind(id)
        .execute(ex)
        .await
        .map_err(service_error)?;
    Ok(done.rows_affected() > 0)
}

// ------------------------------------------------------------ documents

pub(crate) async fn put_document<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
    sha256: &str,
    content: &[u8],
    stored_at: &str,
) -> Result<(), ServiceError> {
    let size = i64::try_from(content.len()).unwrap_or(i64::MAX);
    sqlx::query(q::PUT_DOCUMENT)
        .bind(sha256)
        .bind(content)
        .bind(size)
        .bind(stored_at)
        .execute(ex)
        .await
        .map_err(service_error)?;
    Ok(())
}

pub(crate) async fn document<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
    sha256: &str,
) -> Result<Option<Vec<u8>>, ServiceError> {
    sqlx::query_scalar(q::DOCUMENT)
        .bind(sha256)
        .fetch_optional(ex)
        .await
        .map_err(service_error)
}

pub(crate) async fn sweep_documents<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
    stored_before: &str,
) -> Result<Vec<i64>, ServiceError> {
    sqlx::query_scalar(q::SWEEP_DOCUMENTS)
        .bind(stored_before)
        .fetch_all(ex)
        .await
        .map_err(service_error)
}

pub(crate) async fn document_usage<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
) -> Result<(i64, i64), ServiceError> {
    sqlx::query_as(q::DOCUMENT_USAGE)
        .fetch_one(ex)
        .await
        .map_err(service_error)
}

// ------------------------------------------------------------ many rows

/// A statement over many rows: `head`, then `VALUES` and one `(?, …)` of
/// `width` parameters per row, then `tail`.
pub(crate) struct Rows {
    head: &'static str,
    width: usize,
    tail: &'static str,
}

/// The most rows one statement takes: at most 12 columns a row, well under
/// SQLite's 32,766 bound parameters.
const CHUNK: usize = 256;

type SqliteQuery<'q> = Query<'q, Sqlite, SqliteArguments<'q>>;

impl Rows {
    fn sql(&self, rows: usize) -> String {
        let tuple = format!("({})", vec!["?"; self.width].join(", "));
        let mut sql =
            String::with_capacity(self.head.len() + self.tail.len() + 8 + rows * (tuple.len() + 2));
        sql.push_str(self.head);
        sql.push_str("VALUES ");
        sql.push_str(&vec![tuple.as_str(); rows].join(", "));
        sql.push_str(self.tail);
        sql
    }
}

/// `rows` cut into chunks of [`CHUNK`] rows, then the powers of two that
/// make up the rest: at most nine statement texts per statement.
fn chunks<T>(mut rows: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        if rows.is_empty() {
            return None;
        }
        let n = if rows.len() >= CHUNK {
            CHUNK
        } else {
            1 << rows.len().ilog2()
        };
        let (chunk, rest) = rows.split_at(n);
        rows = rest;
        Some(chunk)
    })
}

/// Runs `statement` over `rows`, each bound by `bind`.
async fn execute_rows<R>(
    conn: &mut SqliteConnection,
    statement: Rows,
    rows: &[R],
    bind: for<'q> fn(SqliteQuery<'q>, &'q R) -> SqliteQuery<'q>,
) -> Result<(), ServiceError> {
    for chunk in chunks(rows) {
        let sql = statement.sql(chunk.len());
        let query = chunk.iter().fold(sqlx::query(&sql), bind);
        query.execute(&mut *conn).await.map_err(service_error)?;
    }
    Ok(())
}

/// Runs the query `statement` over `keys`, each bound by `bind`: every row
/// it finds.
async fn fetch_rows<K, T>(
    conn: &mut SqliteConnection,
    statement: Rows,
    keys: &[K],
    bind: for<'q> fn(SqliteQuery<'q>, &'q K) -> SqliteQuery<'q>,
) -> Result<Vec<T>, ServiceError>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> + Send + Unpin,
{
    let mut found = Vec::with_capacity(keys.len());
    for chunk in chunks(keys) {
        let sql = statement.sql(chunk.len());
        let query = chunk.iter().fold(sqlx::query(&sql), bind);
        let rows = query.fetch_all(&mut *conn).await.map_err(service_error)?;
        for row in &rows {
            found.push(T::from_row(row).map_err(service_error)?);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_cut_into_few_sizes() {
        let rows: Vec<usize> = (0..700).collect();
        let sizes: Vec<usize> = chunks(&rows).map(<[usize]>::len).collect();
        assert_eq!(sizes, vec![256, 256, 128, 32, 16, 8, 4]);
        let back: Vec<usize> = chunks(&rows).flatten().copied().collect();
        assert_eq!(back, rows);
        assert_eq!(chunks::<usize>(&[]).count(), 0);
    }

    #[test]
    fn a_statement_has_a_tuple_per_row() {
        let sql = q::PLACES.sql(2);
        assert!(sql.contains("FROM (VALUES (?, ?), (?, ?)) AS k"), "{sql}");
    }
}
