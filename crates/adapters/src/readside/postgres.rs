//! Every statement of the read side on PostgreSQL (`$n` placeholders). The
//! same functions, with the same meaning, are in [`super::sqlite`].
//!
//! The projector's statements take many rows at once as one array per
//! column (`= ANY($1)`, `unnest(...)`): one prepared statement whatever the
//! number of rows.

use sqlx::{Executor, PgConnection, Postgres};

use super::{
    rows, Attempt, AuditEntry, BookingRecord, BookingRow, Checkpoint, DelegationRecord,
    DelegationRow, DocumentRefRow, NoticeRow, OutboxEntry, PlaceRow, RawBooking, RawDelegation,
    RawPlace,
};
use crate::error::ServiceError;
use crate::sql::service_error;

mod q {
    pub const ENSURE_CHECKPOINT: &str = "
INSERT INTO read_checkpoints (name, position) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING";
    pub const CHECKPOINT: &str =
        "SELECT position, generation FROM read_checkpoints WHERE name = $1";
    /// Held until the transaction ends: a second projector waits here, then
    /// reads the position the first one saved.
    ///
    /// Also turns `synchronous_commit` off for this transaction alone: a
    /// crash loses only whole last batches, which are projected again from
    /// the log (docs/READ-MODELS.md, step 5).
    pub const LOCK_CHECKPOINT: &str = "
SELECT position, generation, set_config('synchronous_commit', 'off', true) AS deferred
  FROM read_checkpoints WHERE name = $1 FOR UPDATE";
    pub const SAVE_CHECKPOINT: &str = "UPDATE read_checkpoints SET position = $1 WHERE name = $2";
    pub const NEXT_GENERATION: &str =
        "UPDATE read_checkpoints SET generation = generation + 1 WHERE name = $1";

    pub const DELEGATION: &str =
        "SELECT data::text AS data, position FROM read_delegations WHERE id = $1";
    pub const DELEGATIONS: &str =
        "SELECT data::text AS data, position FROM read_delegations WHERE id = ANY($1)";
    pub const PUT_DELEGATIONS: &str = "
INSERT INTO read_delegations (id, grantor, delegate, stage, requested_at, data, position)
SELECT id, grantor, delegate, stage, requested_at, data::jsonb, position
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
              $7::bigint[]) AS t (id, grantor, delegate, stage, requested_at, data, position)
    ON CONFLICT (id) DO UPDATE SET grantor = excluded.grantor, delegate = excluded.delegate,
       stage = excluded.stage, requested_at = excluded.requested_at, data = excluded.data,
       position = excluded.position
     WHERE read_delegations.position < excluded.position";
    pub const DELEGATIONS_BY_GRANTOR: &str = "
SELECT data::text AS data, position FROM read_delegations
 WHERE grantor = $1 AND stage NOT IN ('pending', 'refused')
 ORDER BY requested_at, id";
    pub const DELEGATIONS_BY_DELEGATE: &str = "
SELECT data::text AS data, position FROM read_delegations
 WHERE delegate = $1 AND stage NOT IN ('pending', 'refused')
 ORDER BY requested_at, id";
    pub const ALL_DELEGATIONS: &str =
        "SELECT data::text AS data, position FROM read_delegations ORDER BY id";

    pub const BOOKING: &str = "
SELECT data::text AS data, meeting::text AS meeting, position FROM read_bookings WHERE id = $1";
    pub const BOOKINGS: &str = "
SELECT data::text AS data, meeting::text AS meeting, position FROM read_bookings
 WHERE id = ANY($1)";
    pub const PUT_BOOKINGS: &str = "
INSERT INTO read_bookings (id, booker, counter, office, mode, slot_start, slot_date, stage,
                           meeting_state, data, meeting, position)
SELECT id, booker, counter, office, mode, slot_start, slot_date, stage, meeting_state,
       data::jsonb, meeting::jsonb, position
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
              $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::bigint[])
       AS t (id, booker, counter, office, mode, slot_start, slot_date, stage, meeting_state,
             data, meeting, position)
    ON CONFLICT (id) DO UPDATE SET booker = excluded.booker, counter = excluded.counter,
       office = excluded.office, mode = excluded.mode, slot_start = excluded.slot_start,
       slot_date = excluded.slot_date, stage = excluded.stage,
       meeting_state = excluded.meeting_state, data = excluded.data,
       meeting = excluded.meeting, position = excluded.position
     WHERE read_bookings.position < excluded.position";
    pub const BOOKINGS_OF: &str = "
SELECT data::text AS data, meeting::text AS meeting, position FROM read_bookings
 WHERE booker = $1 AND stage <> 'refused'
 ORDER BY slot_start, id";
    pub const BOOKINGS_BY_OFFICE_DAY: &str = "
SELECT data::text AS data, meeting::text AS meeting, position FROM read_bookings
 WHERE office = $1 AND slot_date = $2 AND stage <> 'refused'
 ORDER BY slot_start, id";
    pub const WAITING_ROOM: &str = "
SELECT data::text AS data, meeting::text AS meeting, position FROM read_bookings
 WHERE office = $1 AND slot_date = $2 AND mode = 'web_meeting'
   AND stage IN ('confirmed', 'served', 'missed')
 ORDER BY slot_start, id";
    pub const ALL_BOOKINGS: &str = "
SELECT data::text AS data, meeting::text AS meeting, position FROM read_bookings ORDER BY id";

    /// One index probe per key, whatever the planner knows of the table: as
    /// `(slot_key, booking) IN (SELECT * FROM unnest(...))` the plan made
    /// while the table was small (a hash join over a sequential scan) stayed
    /// with the prepared statement as the table grew, and each batch read
    /// the whole table.
    pub const PLACES: &str = "
SELECT p.slot_key, p.booking, p.counter, p.slot_start, p.held, p.position
  FROM unnest($1::text[], $2::text[]) AS k (slot_key, booking)
 CROSS JOIN LATERAL (SELECT * FROM read_slot_places p
                      WHERE p.slot_key = k.slot_key AND p.booking = k.booking
                      LIMIT 1) p";
    pub const PUT_PLACES: &str = "
INSERT INTO read_slot_places (slot_key, booking, counter, slot_start, held, position)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::boolean[],
                     $6::bigint[])
    ON CONFLICT (slot_key, booking) DO UPDATE SET counter = excluded.counter,
       slot_start = excluded.slot_start, held = excluded.held, position = excluded.position
     WHERE read_slot_places.position < excluded.position";
    pub const PLACES_HELD: &str = "
SELECT slot_start, COUNT(*) AS taken FROM read_slot_places
 WHERE counter = $1 AND held AND slot_start >= $2 AND slot_start <= $3
 GROUP BY slot_start";
    pub const ALL_PLACES: &str = "
SELECT slot_key, booking, counter, slot_start, held, position FROM read_slot_places
 ORDER BY slot_key, booking";

    pub const INSERT_AUDIT: &str = "
INSERT INTO read_audit (position, grantor, actor, action, aggregate_type, aggregate_id, at,
                        channel, correlation_id)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],
                     $6::text[], $7::text[], $8::text[], $9::text[])
    ON CONFLICT (position) DO NOTHING";
    pub const AUDIT_OF: &str = "
SELECT position, grantor, actor, action, aggregate_type, aggregate_id, at, channel, correlation_id
  FROM read_audit WHERE grantor = $1 ORDER BY position";
    pub const ALL_AUDIT: &str = "
SELECT position, grantor, actor, action, aggregate_type, aggregate_id, at, channel, correlation_id
  FROM read_audit ORDER BY position";

    /// `($1 sha256s, $2 positions)`: the first event naming a document keeps it.
    pub const INSERT_DOCUMENT_REFS: &str = "
INSERT INTO read_document_refs (sha256, position)
SELECT * FROM unnest($1::text[], $2::bigint[])
    ON CONFLICT (sha256) DO NOTHING";
    pub const ALL_DOCUMENT_REFS: &str =
        "SELECT sha256, position FROM read_document_refs ORDER BY sha256";
    pub const DOCUMENT_REFERENCED: &str = "SELECT 1 FROM read_document_refs WHERE sha256 = $1";

    /// DELETE, not TRUNCATE: readers keep seeing the old rows (MVCC) until
    /// the rebuild commits, instead of waiting on TRUNCATE's lock.
    pub const CLEAR_READ_MODELS: [&str; 5] = [
        "DELETE FROM read_delegations",
        "DELETE FROM read_bookings",
        "DELETE FROM read_slot_places",
        "DELETE FROM read_audit",
        "DELETE FROM read_document_refs",
    ];

    pub const SCHEDULE: &str = "
INSERT INTO outbox (key, channel, recipient, title, body, due_at, status, attempts,
                    next_attempt_at, position)
SELECT key, channel, recipient, title, body, due_at, status, 0, next_attempt_at, position
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
              $7::text[], $8::text[], $9::bigint[])
       AS t (key, channel, recipient, title, body, due_at, status, next_attempt_at, position)
    ON CONFLICT (key) DO NOTHING";
    /// [`SCHEDULE`], but a row already there is withdrawn if pending.
    pub const SCHEDULE_OR_WITHDRAW: &str = "
INSERT INTO outbox (key, channel, recipient, title, body, due_at, status, attempts,
                    next_attempt_at, position)
SELECT key, channel, recipient, title, body, due_at, status, 0, next_attempt_at, position
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
              $7::text[], $8::text[], $9::bigint[])
       AS t (key, channel, recipient, title, body, due_at, status, next_attempt_at, position)
    ON CONFLICT (key) DO UPDATE SET status = 'withdrawn' WHERE outbox.status = 'pending'";
    // The statements by key test `status` with `IS TRUE`, which no index
    // serves: only the primary key can. With `status = 'pending'` a generic
    // plan (kept after five executions) may pick `outbox_due (status,
    // next_attempt_at)` and filter on key, reading every pending row each
    // time.
    pub const WITHDRAW: &str = "
UPDATE outbox SET status = 'withdrawn' WHERE key = ANY($1) AND (status = 'pending') IS TRUE";
    /// `($1 claim, $2 claimed until, $3 now, $4 limit)`. SKIP LOCKED: a
    /// concurrent dispatcher takes other rows instead of waiting for these.
    pub const CLAIM_DUE: &str = "
UPDATE outbox SET claim = $1, claimed_until = $2
 WHERE key IN (SELECT key FROM outbox
                WHERE status = 'pending' AND next_attempt_at <= $3
                  AND (claimed_until IS NULL OR claimed_until <= $3)
                ORDER BY next_attempt_at, key
                LIMIT $4
                FOR UPDATE SKIP LOCKED)
RETURNING key, channel, recipient, title, body, due_at, status, attempts, next_attempt_at,
          last_error, sent_at, position";
    pub const MARK_SENT: &str = "
UPDATE outbox SET status = 'sent', sent_at = $1, claim = NULL, claimed_until = NULL
 WHERE key = $2 AND (status <> 'sent') IS TRUE";
    pub const MARK_ATTEMPT: &str = "
UPDATE outbox SET attempts = $1, next_attempt_at = $2, last_error = $3, status = $4,
       claim = NULL, claimed_until = NULL
 WHERE key = $5 AND (status = 'pending') IS TRUE";
    pub const OUTBOX: &str = "
SELECT key, channel, recipient, title, body, due_at, status, attempts, next_attempt_at,
       last_error, sent_at, position
  FROM outbox ORDER BY position, key";

    pub const INSERT_NOTICE: &str = "
INSERT INTO notices (id, citizen, title, body, posted_at, is_read, deleted)
VALUES ($1, $2, $3, $4, $5, false, false)
    ON CONFLICT (id) DO NOTHING";
    pub const NOTICES_OF: &str = "
SELECT id, citizen, title, body, posted_at, is_read, deleted FROM notices
 WHERE citizen = $1 AND NOT deleted
 ORDER BY posted_at DESC, id";
    pub const SET_NOTICE_READ: &str =
        "UPDATE notices SET is_read = $1 WHERE citizen = $2 AND id = $3 AND NOT deleted";
    pub const DELETE_NOTICE: &str =
        "UPDATE notices SET deleted = true WHERE citizen = $1 AND id = $2 AND NOT deleted";

    /// `($1 sha256, $2 content, $3 size, $4 stored_at)`. The same content
    /// stored again keeps its row and moves `stored_at` on: it is about to be
    /// referred to. A sweep deleting the row meanwhile makes this wait and
    /// insert it anew.
    pub const PUT_DOCUMENT: &str = "
INSERT INTO documents (sha256, content, size, stored_at) VALUES ($1, $2, $3, $4)
    ON CONFLICT (sha256) DO UPDATE SET stored_at = excluded.stored_at
     WHERE documents.stored_at < excluded.stored_at";
    /// `($1 stored before)`: the documents no event refers to, stored before
    /// the instant, in one statement with the look-up of the references (a
    /// row whose `stored_at` a concurrent `put` moved on is checked again,
    /// as it is now, and kept).
    pub const SWEEP_DOCUMENTS: &str = "
DELETE FROM documents
 WHERE stored_at < $1
   AND NOT EXISTS (SELECT 1 FROM read_document_refs r WHERE r.sha256 = documents.sha256)
RETURNING size";
    pub const DOCUMENT: &str = "SELECT content FROM documents WHERE sha256 = $1";
    pub const DOCUMENT_USAGE: &str =
        "SELECT count(*), coalesce(sum(size), 0)::bigint FROM documents";
}

// ------------------------------------------------------------ checkpoint

pub(crate) async fn checkpoint<'e>(
    ex: impl Executor<'e, Database = Postgres>,
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
    conn: &mut PgConnection,
    name: &str,
) -> Result<Checkpoint, ServiceError> {
    // The row is created the first time only: one statement a batch.
    for _ in 0..2 {
        let found: Option<(i64, i64, String)> = sqlx::query_as(q::LOCK_CHECKPOINT)
            .bind(name)
            .fetch_optional(&mut *conn)
            .await
            .map_err(service_error)?;
        if let Some((position, generation, _)) = found {
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
    }
    Err(ServiceError::Corrupt(
        format!("checkpoint {name:?} is missing after it was created").into(),
    ))
}

pub(crate) async fn next_generation(
    conn: &mut PgConnection,
    name: &str,
) -> Result<(), ServiceError> {
    sqlx::query(q::NEXT_GENERATION)
        .bind(name)
        .execute(conn)
        .await
        .map_err(service_error)?;
    Ok(())
}

pub(crate) async fn save_checkpoint(
    conn: &mut PgConnection,
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

// ------------------------------------------------------------ delegations

pub(crate) async fn delegation<'e>(
    ex: impl Executor<'e, Database = Postgres>,
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
    conn: &mut PgConnection,
    ids: &[String],
) -> Result<Vec<DelegationRow>, ServiceError> {
    let raw = sqlx::query_as::<_, RawDelegation>(q::DELEGATIONS)
        .bind(ids)
        .fetch_all(conn)
        .await
        .map_err(service_error)?;
    rows(raw, RawDelegation::into_row)
}

pub(crate) async fn put_delegations(
    conn: &mut PgConnection,
    batch: &[DelegationRecord],
) -> Result<(), ServiceError> {
    let text = |f: fn(&DelegationRecord) -> &str| batch.iter().map(f).collect::<Vec<_>>();
    sqlx::query(q::PUT_DELEGATIONS)
        .bind(text(|r| &r.id))
        .bind(text(|r| &r.grantor))
        .bind(text(|r| &r.delegate))
        .bind(text(|r| r.stage))
        .bind(text(|r| &r.requested_at))
        .bind(text(|r| &r.data))
        .bind(batch.iter().map(|r| r.position).collect::<Vec<_>>())
        .execute(conn)
        .await
        .map_err(service_error)?;
    Ok(())
}

async fn delegation_list<'e>(
    ex: impl Executor<'e, Database = Postgres>,
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
    ex: impl Executor<'e, Database = Postgres>,
    grantor: &str,
) -> Result<Vec<DelegationRow>, ServiceError> {
    delegation_list(ex, q::DELEGATIONS_BY_GRANTOR, Some(grantor)).await
}

pub(crate) async fn delegations_by_delegate<'e>(
    ex: impl Executor<'e, Database = Postgres>,
    delegate: &str,
) -> Result<Vec<DelegationRow>, ServiceError> {
    delegation_list(ex, q::DELEGATIONS_BY_DELEGATE, Some(delegate)).await
}

pub(crate) async fn all_delegations<'e>(
    ex: impl Executor<'e, Database = Postgres>,
) -> Result<Vec<DelegationRow>, ServiceError> {
    delegation_list(ex, q::ALL_DELEGATIONS, None).await
}

// ------------------------------------------------------------ bookings

pub(crate) async fn booking<'e>(
    ex: impl Executor<'e, Database = Postgres>,
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
    conn: &mut PgConnection,
    ids: &[String],
) -> Result<Vec<BookingRow>, ServiceError> {
    let raw = sqlx::query_as::<_, RawBooking>(q::BOOKINGS)
        .bind(ids)
        .fetch_all(conn)
        .await
        .map_err(service_error)?;
    rows(raw, RawBooking::into_row)
}

pub(crate) async fn put_bookings(
    conn: &mut PgConnection,
    batch: &[BookingRecord],
) -> Result<(), ServiceError> {
    let text = |f: fn(&BookingRecord) -> &str| batch.iter().map(f).collect::<Vec<_>>();
    sqlx::query(q::PUT_BOOKINGS)
        .bind(text(|r| &r.id))
        .bind(text(|r| &r.booker))
        .bind(text(|r| &r.counter))
        .bind(text(|r| &r.office))
        .bind(text(|r| r.mode))
        .bind(text(|r| &r.slot_start))
        .bind(text(|r| &r.slot_date))
        .bind(text(|r| r.stage))
        .bind(text(|r| r.meeting_state))
        .bind(text(|r| &r.data))
        .bind(text(|r| &r.meeting))
        .bind(batch.iter().map(|r| r.position).collect::<Vec<_>>())
        .execute(conn)
        .await
        .map_err(service_error)?;
    Ok(())
}

async fn booking_list<'e>(
    ex: impl Executor<'e, Database = Postgres>,
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
    ex: impl Executor<'e, Database = Postgres>,
    booker: &str,
) -> Result<Vec<BookingRow>, ServiceError> {
    booking_list(ex, q::BOOKINGS_OF, &[booker]).await
}

pub(crate) async fn bookings_by_office_day<'e>(
    ex: impl Executor<'e, Database = Postgres>,
    office: &str,
    date: &str,
) -> Result<Vec<BookingRow>, ServiceError> {
    booking_list(ex, q::BOOKINGS_BY_OFFICE_DAY, &[office, date]).await
}

pub(crate) async fn waiting_room<'e>(
    ex: impl Executor<'e, Database = Postgres>,
    office: &str,
    date: &str,
) -> Result<Vec<BookingRow>, ServiceError> {
    booking_list(ex, q::WAITING_ROOM, &[office, date]).await
}

pub(crate) async fn all_bookings<'e>(
    ex: impl Executor<'e, Database = Postgres>,
) -> Result<Vec<BookingRow>, ServiceError> {
    booking_list(ex, q::ALL_BOOKINGS, &[]).await
}

// ------------------------------------------------------------ slot places

pub(crate) async fn places(
    conn: &mut PgConnection,
    keys: &[(String, String)],
) -> Result<Vec<PlaceRow>, ServiceError> {
    let (slot_keys, bookings): (Vec<&str>, Vec<&str>) = keys
        .iter()
        .map(|(slot_key, booking)| (slot_key.as_str(), booking.as_str()))
        .unzip();
    let raw: Vec<RawPlace> = sqlx::query_as(q::PLACES)
        .bind(slot_keys)
        .bind(bookings)
        .fetch_all(conn)
        .await
        .map_err(service_error)?;
    Ok(raw.into_iter().map(PlaceRow::from).collect())
}

pub(crate) async fn put_places(
    conn: &mut PgConnection,
    batch: &[PlaceRow],
) -> Result<(), ServiceError> {
    let column = |f: fn(&PlaceRow) -> &str| batch.iter().map(f).collect::<Vec<_>>();
    sqlx::query(q::PUT_PLACES)
        .bind(column(|r| &r.slot_key))
        .bind(column(|r| &r.booking))
        .bind(column(|r| &r.counter))
        .bind(column(|r| &r.slot_start))
        .bind(batch.iter().map(|r| r.held).collect::<Vec<_>>())
        .bind(batch.iter().map(|r| r.position).collect::<Vec<_>>())
        .execute(conn)
        .await
        .map_err(service_error)?;
    Ok(())
}

pub(crate) async fn places_held<'e>(
    ex: impl Executor<'e, Database = Postgres>,
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
    ex: impl Executor<'e, Database = Postgres>,
) -> Result<Vec<PlaceRow>, ServiceError> {
    let raw: Vec<RawPlace> = sqlx::query_as(q::ALL_PLACES)
        .fetch_all(ex)
        .await
        .map_err(service_error)?;
    Ok(raw.into_iter().map(PlaceRow::from).collect())
}

// ------------------------------------------------------------ audit

pub(crate) async fn insert_audit(
    conn: &mut PgConnection,
    batch: &[AuditEntry],
) -> Result<(), ServiceError> {
    let text = |f: fn(&AuditEntry) -> &str| batch.iter().map(f).collect::<Vec<_>>();
    let optional = |f: fn(&AuditEntry) -> Option<&str>| batch.iter().map(f).collect::<Vec<_>>();
    sqlx::query(q::INSERT_AUDIT)
        .bind(batch.iter().map(|r| r.position).collect::<Vec<_>>())
        .bind(text(|r| &r.grantor))
        .bind(text(|r| &r.actor))
        .bind(text(|r| &r.action))
        .bind(text(|r| &r.aggregate_type))
        .bind(text(|r| &r.aggregate_id))
        .bind(optional(|r| r.at.as_deref()))
        .bind(optional(|r| r.channel.as_deref()))
        .bind(optional(|r| r.correlation_id.as_deref()))
        .execute(conn)
        .await
        .map_err(service_error)?;
    Ok(())
}

pub(crate) async fn audit_of<'e>(
    ex: impl Executor<'e, Database = Postgres>,
    grantor: &str,
) -> Result<Vec<AuditEntry>, ServiceError> {
    sqlx::query_as(q::AUDIT_OF)
        .bind(grantor)
        .fetch_all(ex)
        .await
        .map_err(service_error)
}

pub(crate) async fn all_audit<'e>(
    ex: impl Executor<'e, Database = Postgres>,
) -> Result<Vec<AuditEntry>, ServiceError> {
    sqlx::query_as(q::ALL_AUDIT)
        .fetch_all(ex)
        .await
        .map_err(service_error)
}

pub(crate) async fn insert_document_refs(
    conn: &mut PgConnection,
    batch: &[DocumentRefRow],
) -> Result<(), ServiceError> {
    sqlx::query(q::INSERT_DOCUMENT_REFS)
        .bind(batch.iter().map(|r| r.sha256.as_str()).collect::<Vec<_>>())
        .bind(batch.iter().map(|r| r.position).collect::<Vec<_>>())
        .execute(conn)
        .await
        .map_err(service_error)?;
    Ok(())
}

pub(crate) async fn all_document_refs<'e>(
    ex: impl Executor<'e, Database = Postgres>,
) -> Result<Vec<DocumentRefRow>, ServiceError> {
    sqlx::query_as(q::ALL_DOCUMENT_REFS)
        .fetch_all(ex)
        .await
        .map_err(service_error)
}

pub(crate) async fn document_referenced<'e>(
    ex: impl Executor<'e, Database = Postgres>,
    sha256: &str,
) -> Result<bool, ServiceError> {
    let found: Option<i32> = sqlx::query_scalar(q::DOCUMENT_REFERENCED)
        .bind(sha256)
        .fetch_optional(ex)
        .await
        .map_err(service_error)?;
    Ok(found.is_some())
}

pub(crate) async fn clear_read_models(conn: &mut PgConnection) -> Result<(), ServiceError> {
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
    conn: &mut PgConnection,
    batch: &[OutboxEntry],
    withdraw_on_conflict: bool,
) -> Result<(), ServiceError> {
    let statement = if withdraw_on_conflict {
        q::SCHEDULE_OR_WITHDRAW
    } else {
        q::SCHEDULE
    };
    let text = |f: fn(&OutboxEntry) -> &str| batch.iter().map(f).collect::<Vec<_>>();
    sqlx::query(statement)
        .bind(text(|r| &r.key))
        .bind(text(|r| &r.channel))
        .bind(text(|r| &r.recipient))
        .bind(text(|r| &r.title))
        .bind(text(|r| &r.body))
        .bind(text(|r| &r.due_at))
        .bind(text(|r| &r.status))
        .bind(text(|r| &r.next_attempt_at))
        .bind(batch.iter().map(|r| r.position).collect::<Vec<_>>())
        .execute(conn)
        .await
        .map_err(service_error)?;
    Ok(())
}

pub(crate) async fn withdraw(conn: &mut PgConnection, keys: &[String]) -> Result<(), ServiceError> {
    sqlx::query(q::WITHDRAW)
        .bind(keys)
        .execute(conn)
        .await
        .map_err(service_error)?;
    Ok(())
}

pub(crate) async fn claim_due<'e>(
    ex: impl Executor<'e, Database = Postgres>,
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
    ex: impl Executor<'e, Database = Postgres>,
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
    ex: impl Executor<'e, Database = Postgres>,
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
    ex: impl Executor<'e, Database = Postgres>,
) -> Result<Vec<OutboxEntry>, ServiceError> {
    sqlx::query_as(q::OUTBOX)
        .fetch_all(ex)
        .await
        .map_err(service_error)
}

// ------------------------------------------------------------ notices

pub(crate) async fn insert_notice<'e>(
    ex: impl Executor<'e, Database = Postgres>,
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
    ex: impl Executor<'e, Database = Postgres>,
    citizen: &str,
) -> Result<Vec<NoticeRow>, ServiceError> {
    sqlx::query_as(q::NOTICES_OF)
        .bind(citizen)
        .fetch_all(ex)
        .await
        .map_err(service_error)
}

pub(crate) async fn set_notice_read<'e>(
    ex: impl Executor<'e, Database = Postgres>,
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
    ex: impl Executor<'e, Database = Postgres>,
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
    ex: impl Executor<'e, Database = Postgres>,
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
    ex: impl Executor<'e, Database = Postgres>,
    sha256: &str,
) -> Result<Option<Vec<u8>>, ServiceError> {
    sqlx::query_scalar(q::DOCUMENT)
        .bind(sha256)
        .fetch_optional(ex)
        .await
        .map_err(service_error)
}

pub(crate) async fn sweep_documents<'e>(
    ex: impl Executor<'e, Database = Postgres>,
    stored_before: &str,
) -> Result<Vec<i64>, ServiceError> {
    sqlx::query_scalar(q::SWEEP_DOCUMENTS)
        .bind(stored_before)
        .fetch_all(ex)
        .await
        .map_err(service_error)
}

pub(crate) async fn document_usage<'e>(
    ex: impl Executor<'e, Database = Postgres>,
) -> Result<(i64, i64), ServiceError> {
    sqlx::query_as(q::DOCUMENT_USAGE)
        .fetch_one(ex)
        .await
        .map_err(service_error)
}
