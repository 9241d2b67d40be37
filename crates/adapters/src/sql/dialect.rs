//! What a SQL store does its own way: its [`Dialect`].
//!
//! Every statement the library runs is written once, in Rust, generic over
//! the dialect (`statements.rs`); a dialect supplies only its database
//! (sqlx's driver), the text of the statements it writes otherwise than the
//! standard text of [`queries`] (which SQLite and PostgreSQL share), and the
//! shape in which a statement over many rows takes them (a tuple of values
//! per row, or an array per column). A store for another database is one
//! module implementing this trait, with its migrations.
//!
//! Placeholders are `$1`, `$2`…, each used once, in order, so that a dialect
//! whose driver knows only `?` can write `?` for each.

use std::borrow::Cow;

use sqlx::error::BoxDynError;
use sqlx::Database;

use super::queries;

/// One value of a row that a statement over many rows writes or looks up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// Text.
    Text(&'a str),
    /// Text or NULL.
    NullableText(Option<&'a str>),
    /// A 64-bit integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
}

/// A statement over many rows as a dialect whose driver binds one parameter
/// per value writes it (SQLite's, MariaDB's): `head`, then one `(?, …)` of
/// `width` parameters per row, comma-separated, after `VALUES` ([`Rows::values`])
/// or alone ([`Rows::list`]), then `tail`.
#[derive(Debug, Clone, Copy)]
pub struct Rows {
    head: &'static str,
    width: usize,
    tail: &'static str,
    values: bool,
}

impl Rows {
    /// `head VALUES (?, …), … tail`: an insert, or a table of rows.
    pub const fn values(head: &'static str, width: usize, tail: &'static str) -> Self {
        Self {
            head,
            width,
            tail,
            values: true,
        }
    }

    /// `head (?, …), … tail`, a row of one value being a bare `?`: a list,
    /// as in `IN (?, ?, …)` or `IN ((?, ?), …)`.
    pub const fn list(head: &'static str, width: usize, tail: &'static str) -> Self {
        Self {
            head,
            width,
            tail,
            values: false,
        }
    }

    /// Its text over `rows` rows (at least one).
    pub fn sql(&self, rows: usize) -> String {
        let tuple = if self.width == 1 && !self.values {
            "?".to_owned()
        } else {
            format!("({})", vec!["?"; self.width].join(", "))
        };
        let mut sql =
            String::with_capacity(self.head.len() + self.tail.len() + 8 + rows * (tuple.len() + 2));
        sql.push_str(self.head);
        if self.values {
            sql.push_str("VALUES ");
        }
        sql.push_str(&vec![tuple.as_str(); rows.max(1)].join(", "));
        sql.push_str(self.tail);
        sql
    }
}

/// A row a statement over many rows writes or looks up.
pub(crate) trait Record {
    /// Its values, in the order of the statement's columns.
    fn values<'a>(&'a self, out: &mut Vec<Value<'a>>);
}

impl<T: Record + Sync> Record for &T {
    fn values<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        T::values(self, out);
    }
}

impl Record for String {
    fn values<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        out.push(Value::Text(self));
    }
}

impl Record for (String, String) {
    fn values<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        out.extend([Value::Text(&self.0), Value::Text(&self.1)]);
    }
}

/// A SQL database as the library uses it: its statements and how they bind.
///
/// Every statement is an item here, with the meaning of its parameters; most
/// default to the standard text in [`queries`]. A statement over many rows
/// ([`Dialect::Many`]) has no standard text: dialects take many rows in
/// different shapes.
pub trait Dialect: Send + Sync + 'static {
    /// The sqlx driver (which keeps prepared statements with the
    /// connection).
    type DB: Database + sqlx::database::HasStatementCache;

    /// A statement over many rows, as the dialect writes it.
    type Many: Send + Sync + 'static;

    /// The most rows one statement over many rows takes, or `None`: any
    /// number, in one statement. Where there is a most, rows are cut into
    /// chunks of it, then of the powers of two that make up the rest, so
    /// that a statement has few texts, each prepared once per connection.
    const MOST_ROWS: Option<usize>;

    /// The text of `statement` over `rows` rows.
    fn many(statement: &Self::Many, rows: usize) -> Cow<'static, str>;

    /// The arguments of a statement over `rows` rows, whose `values` come
    /// row after row (each row's in the order of `Record::values`).
    fn bind_many<'a>(
        values: Vec<Value<'a>>,
        rows: usize,
    ) -> Result<<Self::DB as Database>::Arguments<'a>, BoxDynError>;

    /// How many rows a statement changed, by the driver's account.
    fn rows_affected(done: &<Self::DB as Database>::QueryResult) -> u64;

    /// The database lets one writer in at a time (SQLite): the store's
    /// writers then take turns in the process, in the order they came,
    /// rather than poll for the lock in the database's busy handler
    /// (`sql/gate.rs`).
    const ONE_WRITER: bool = false;

    // ------------------------------------------------------------ the log

    /// Numbers the events committed since the last call, where positions are
    /// handed out when the log is read (PostgreSQL); run before
    /// [`Self::READ_LOG`] and [`Self::EVENTS_OF_TYPE`]. `None` where events
    /// get their position when inserted.
    const NUMBER_EVENTS: Option<&'static str> = None;
    /// `($1 after, $2 limit)`: see [`queries::READ_LOG`].
    const READ_LOG: &'static str = queries::READ_LOG;
    /// `($1 aggregate_type, $2 aggregate_id)`: see [`queries::STREAM`].
    const STREAM: &'static str = queries::STREAM;
    /// `($1 aggregate_type, $2 aggregate_id, $3 aggregate_type, $4
    /// aggregate_id)`: see [`queries::STREAMS_2`].
    const STREAMS_2: &'static str = queries::STREAMS_2;
    /// `($1 aggregate_type)`: see [`queries::EVENTS_OF_TYPE`].
    const EVENTS_OF_TYPE: &'static str = queries::EVENTS_OF_TYPE;
    /// Appends one command's events, of one stream or several, in one
    /// statement (an implicit transaction: all or none); each row is an
    /// event's aggregate_type, aggregate_id, sequence, event_type,
    /// event_version, payload and metadata, the payload and metadata as
    /// JSON text. A taken sequence is a unique violation on the stream key.
    const APPEND: Self::Many;
    /// [`Self::APPEND`], committed without waiting for the WAL flush where
    /// the store can (for a step of a flow that more steps follow, the last
    /// of which waits for it: a flush covers every WAL record before it).
    const APPEND_DEFERRED: Self::Many = Self::APPEND;
    /// Waits until every commit before it is durable, where commits can be
    /// deferred; `None` where they cannot.
    const FLUSH: Option<&'static str> = None;
    /// The position of the last event, 0 if none (after
    /// [`Self::NUMBER_EVENTS`]).
    const LOG_HEAD: &'static str = queries::LOG_HEAD;
    /// `($1 name)`.
    const CHECKPOINT: &'static str = queries::CHECKPOINT;
    /// `($1 name, $2 position)`.
    const SAVE_CHECKPOINT: &'static str = queries::SAVE_CHECKPOINT;

    // ------------------------------------------------------------ read side

    /// Begins a transaction that holds the store's write lock from its
    /// start, so that no upgrade can fail half-way.
    const BEGIN_WRITE: &'static str = queries::BEGIN;
    /// `($1 name)`.
    const ENSURE_READ_CHECKPOINT: &'static str = queries::ENSURE_READ_CHECKPOINT;
    /// `($1 name)`: position and generation.
    const READ_CHECKPOINT: &'static str = queries::READ_CHECKPOINT;
    /// `($1 name)`: position and generation, the row held until the
    /// transaction ends (in a [`Self::BEGIN_WRITE`] transaction, which may
    /// already hold it).
    const LOCK_READ_CHECKPOINT: &'static str = Self::READ_CHECKPOINT;
    /// `($1 position, $2 name)`.
    const SAVE_READ_CHECKPOINT: &'static str = queries::SAVE_READ_CHECKPOINT;
    /// `($1 name)`.
    const NEXT_GENERATION: &'static str = queries::NEXT_GENERATION;

    /// `($1 id)`: data, position.
    const DELEGATION: &'static str = queries::DELEGATION;
    /// Rows: ids. Data, position of those found.
    const DELEGATIONS: Self::Many;
    /// Rows: delegation rows (id, grantor, delegate, stage, requested_at, data, position). A stored row keeps a
    /// newer position.
    const PUT_DELEGATIONS: Self::Many;
    /// `($1 grantor)`.
    const DELEGATIONS_BY_GRANTOR: &'static str = queries::DELEGATIONS_BY_GRANTOR;
    /// `($1 delegate)`.
    const DELEGATIONS_BY_DELEGATE: &'static str = queries::DELEGATIONS_BY_DELEGATE;
    /// Every delegation row, by id.
    const ALL_DELEGATIONS: &'static str = queries::ALL_DELEGATIONS;

    /// `($1 id)`: data, meeting, position.
    const BOOKING: &'static str = queries::BOOKING;
    /// Rows: ids. Data, meeting, position of those found.
    const BOOKINGS: Self::Many;
    /// Rows: booking rows (id, booker, counter, office, mode, slot_start, slot_date, stage, meeting_state, data, meeting, position). A stored row keeps a newer
    /// position.
    const PUT_BOOKINGS: Self::Many;
    /// `($1 booker)`.
    const BOOKINGS_OF: &'static str = queries::BOOKINGS_OF;
    /// `($1 office, $2 date)`.
    const BOOKINGS_BY_OFFICE_DAY: &'static str = queries::BOOKINGS_BY_OFFICE_DAY;
    /// `($1 started before, $2 after start, $3 after id, $4 limit)`: B8,
    /// the confirmed bookings whose slot started before the instant, by
    /// start and id, after the given ones.
    const BOOKINGS_TO_SETTLE: &'static str = queries::BOOKINGS_TO_SETTLE;
    /// `($1 office, $2 date)`.
    const WAITING_ROOM: &'static str = queries::WAITING_ROOM;
    /// Every booking row, by id.
    const ALL_BOOKINGS: &'static str = queries::ALL_BOOKINGS;

    /// Rows: (slot_key, booking). The places found, whole.
    const PLACES: Self::Many;
    /// Rows: place rows (slot_key, booking, counter, slot_start, held, position). A stored row keeps a newer
    /// position.
    const PUT_PLACES: Self::Many;
    /// `($1 counter, $2 first slot start, $3 last slot start)`.
    const PLACES_HELD: &'static str = queries::PLACES_HELD;
    /// Every place row, by slot and booking.
    const ALL_PLACES: &'static str = queries::ALL_PLACES;

    /// Rows: audit rows (position, grantor, actor, action, aggregate_type, aggregate_id, at, channel, correlation_id); one already there is kept.
    const INSERT_AUDIT: Self::Many;
    /// `($1 grantor)`.
    const AUDIT_OF: &'static str = queries::AUDIT_OF;
    /// Every audit row, by position.
    const ALL_AUDIT: &'static str = queries::ALL_AUDIT;

    /// Rows: (sha256, position); the first event naming a document keeps it.
    const INSERT_DOCUMENT_REFS: Self::Many;
    /// Every document reference, by digest.
    const ALL_DOCUMENT_REFS: &'static str = queries::ALL_DOCUMENT_REFS;
    /// `($1 sha256)`: a row if an event refers to the document.
    const DOCUMENT_REFERENCED: &'static str = queries::DOCUMENT_REFERENCED;

    /// Empties every read model, one statement a table.
    const CLEAR_READ_MODELS: [&'static str; 5] = queries::CLEAR_READ_MODELS;

    /// Rows: outbox rows (key, channel, recipient,
    /// title, body, due_at, status, next_attempt_at, position; attempts take
    /// their default); a key already there is left alone.
    const SCHEDULE: Self::Many;
    /// [`Self::SCHEDULE`], but a row already there is withdrawn if pending.
    const SCHEDULE_OR_WITHDRAW: Self::Many;
    /// Rows: keys, withdrawn if pending.
    const WITHDRAW: Self::Many;
    /// `($1 claim, $2 claimed until, $3 now, $4 now, $5 claim, $6 limit)`:
    /// the rows claimed, whole (those the claimant holds already among them).
    const CLAIM_DUE: &'static str = queries::CLAIM_DUE;
    /// `($1 claim, $2 claimed until)`: where [`Self::CLAIM_DUE`] returns no
    /// rows (a database whose `UPDATE` cannot), the rows it claimed, whole,
    /// read after it in the same order.
    const CLAIMED: Option<&'static str> = None;
    /// `($1 sent at, $2 key)`.
    const MARK_SENT: &'static str = queries::MARK_SENT;
    /// `($1 attempts, $2 next attempt at, $3 error, $4 status, $5 key)`.
    const MARK_ATTEMPT: &'static str = queries::MARK_ATTEMPT;
    /// Rows: (key, sent at). [`Self::MARK_SENT`] over many rows, in one
    /// statement; `None` where the dialect has no such form (each row is
    /// then its own statement, in one transaction).
    const MARK_SENT_MANY: Option<Self::Many> = None;
    /// Rows: (key, attempts, next attempt at, error, status).
    /// [`Self::MARK_ATTEMPT`] over many rows, in one statement; `None` as
    /// for [`Self::MARK_SENT_MANY`].
    const MARK_ATTEMPT_MANY: Option<Self::Many> = None;
    /// Every outbox row, by position and key.
    const OUTBOX: &'static str = queries::OUTBOX;

    /// `($1 id, $2 citizen, $3 title, $4 body, $5 posted_at)`.
    const INSERT_NOTICE: &'static str = queries::INSERT_NOTICE;
    /// `($1 citizen)`.
    const NOTICES_OF: &'static str = queries::NOTICES_OF;
    /// `($1 read, $2 citizen, $3 id)`.
    const SET_NOTICE_READ: &'static str = queries::SET_NOTICE_READ;
    /// `($1 citizen, $2 id)`.
    const DELETE_NOTICE: &'static str = queries::DELETE_NOTICE;

    /// `($1 sha256, $2 content, $3 size, $4 stored_at)`.
    const PUT_DOCUMENT: &'static str = queries::PUT_DOCUMENT;
    /// `($1 stored before)`: the size of each document deleted.
    const SWEEP_DOCUMENTS: &'static str = queries::SWEEP_DOCUMENTS;
    /// `($1 sha256)`.
    const DOCUMENT: &'static str = queries::DOCUMENT;
    /// `($1 sha256)`: 1 if it is stored, 0 if not.
    const DOCUMENT_STORED: &'static str = queries::DOCUMENT_STORED;
    /// Four counts: delegations `pending`, bookings `pending`, outbox rows
    /// `pending`, outbox rows `failed`.
    const BACKLOG: &'static str = queries::BACKLOG;
    /// How many documents, and their bytes in all.
    const DOCUMENT_USAGE: &'static str = queries::DOCUMENT_USAGE;
}

/// `rows` as the statements over many rows of a dialect take them: all at
/// once where it takes any number; else chunks of `most`, then the powers
/// of two that make up the rest (at most nine statement texts for a most of
/// 256).
pub(crate) fn chunks<T>(mut rows: &[T], most: Option<usize>) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        if rows.is_empty() {
            return None;
        }
        let n = match most {
            None => rows.len(),
            Some(most) if rows.len() >= most => most,
            Some(_) => 1 << rows.len().ilog2(),
        };
        let (chunk, rest) = rows.split_at(n);
        rows = rest;
        Some(chunk)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_cut_into_few_sizes() {
        let rows: Vec<usize> = (0..700).collect();
        let sizes: Vec<usize> = chunks(&rows, Some(256)).map(<[usize]>::len).collect();
        assert_eq!(sizes, vec![256, 256, 128, 32, 16, 8, 4]);
        let back: Vec<usize> = chunks(&rows, Some(256)).flatten().copied().collect();
        assert_eq!(back, rows);
        assert_eq!(chunks::<usize>(&[], Some(256)).count(), 0);
    }

    #[test]
    fn without_a_most_the_rows_go_at_once() {
        let rows: Vec<usize> = (0..700).collect();
        let sizes: Vec<usize> = chunks(&rows, None).map(<[usize]>::len).collect();
        assert_eq!(sizes, vec![700]);
    }
}
