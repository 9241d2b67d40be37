//! A synthetic event log, made by the domain itself, and its fast path into
//! a store.
//!
//! Every event is what the aggregates decide for a plausible story
//! (registrations, some revoked; bookings, some cancelled), applied as the
//! event store would, and serialized with serde_json exactly as cqrs-es
//! serializes them (externally tagged payload, metadata as a JSON object).
//! Positions are handed out in order, after the store's last one.
//!
//! The fast path writes the rows straight into the `events` table the
//! migrations created, instead of through the service (which would take
//! hours for a million events):
//! - PostgreSQL: one `COPY ... FROM STDIN`, the rows carrying their
//!   positions (so `number_events()` finds nothing to number), then
//!   `log_head` is moved to the last position and the table vacuumed and
//!   analysed, as autovacuum would after a bulk insert;
//! - SQLite: multi-row `INSERT`s, 500 rows each, one transaction per chunk,
//!   the rows carrying their positions (the rowid alias).

use std::fmt::Write as _;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use cqrs_es::{Aggregate, DomainEvent};
use deleghe_domain::booking::{slot_key, Booker, BookerCommand, SlotCommand, SlotLedger};
use deleghe_domain::delegation::{
    Delegate, DelegateCommand, DelegationId, Grantor, GrantorCommand, RevocationChannel,
};
use deleghe_domain::schedule::{Counter, Slot};
use deleghe_domain::{FiscalCode, Issuer, Policy};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::sqlite::SqlitePool;
use sqlx::{ConnectOptions, Connection, QueryBuilder, Sqlite};

use crate::fixtures;

/// One row of the `events` table.
pub struct Row {
    pub aggregate_type: &'static str,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: String,
    pub metadata: String,
    pub position: i64,
}

/// Where the fast path writes.
pub enum Target<'a> {
    Postgres { url: &'a str, schema: &'a str },
    Sqlite(&'a SqlitePool),
}

/// Makes stories of events, in log order.
pub struct Generator {
    policy: Policy,
    position: i64,
    stories: u64,
    start: DateTime<Utc>,
    counter: Counter,
    slots: Vec<Slot>,
    bookings: usize,
    slot: Option<(String, SlotLedger, i64)>,
    /// Every grantor whose stream the generator wrote, for loading them back.
    pub grantors: Vec<FiscalCode>,
}

impl Generator {
    /// Stories start at `start`, one second apart; the first position is
    /// `after + 1`.
    pub fn new(after: i64, start: DateTime<Utc>) -> Self {
        let counter = fixtures::counter();
        Self {
            policy: Policy::default(),
            position: after,
            stories: 0,
            start,
            slots: fixtures::slots(&counter, 1200),
            counter,
            bookings: 0,
            slot: None,
            grantors: Vec::new(),
        }
    }

    pub fn last_position(&self) -> i64 {
        self.position
    }

    /// The next story of the mix: out of ten, four registrations, one
    /// registration later revoked online, four bookings, one booking later
    /// cancelled (34 events); one booking in ten made by a delegate on a
    /// grantor's behalf (D9, so with an audit row).
    pub fn next_story(&mut self, out: &mut Vec<Row>) {
        let at = self.start + Duration::seconds(self.stories as i64);
        let kind = self.stories % 10;
        self.stories += 1;
        match kind {
            0 | 2 | 6 | 8 => {
                self.registration(at, false, out);
            }
            4 => {
                self.registration(at, true, out);
            }
            1 | 3 | 9 => self.booking(at, false, false, out),
            5 => self.booking(at, false, true, out),
            _ => self.booking(at, true, false, out),
        }
    }

    /// A registration (request, seat, completion), and with `revoke` its
    /// online revocation 31 days later and the seat's release. Returns the
    /// grantor and the delegation.
    pub fn registration(
        &mut self,
        at: DateTime<Utc>,
        revoke: bool,
        out: &mut Vec<Row>,
    ) -> (FiscalCode, DelegationId) {
        let n = fixtures::next();
        let grantor_code = fixtures::code(n);
        let delegate_code = fixtures::code(fixtures::next());
        let citizen = metadata(&format!("citizen:{grantor_code}"), "web", n, None);
        let system = metadata("system", "runner", n, None);
        let request = fixtures::registration(n, grantor_code.clone(), delegate_code.clone(), at);
        let id = request.id.clone();

        let (mut grantor, mut g_seq) = (Grantor::default(), 0);
        let (mut delegate, mut d_seq) = (Delegate::default(), 0);
        let events = grantor
            .decide(
                request.issued_by(Issuer::citizen(grantor_code.clone())),
                &self.policy,
            )
            .expect("a valid request");
        self.emit(
            &mut grantor,
            &mut g_seq,
            grantor_code.as_str(),
            events,
            &citizen,
            out,
        );
        let reserve = DelegateCommand::ReserveSeat {
            id: id.clone(),
            grantor: grantor_code.clone(),
            delegate: delegate_code.clone(),
            role: deleghe_domain::delegation::Role::Ordinary,
            ends_on: None,
            at,
        };
        let events = delegate.decide(reserve, &self.policy).expect("a free seat");
        self.emit(
            &mut delegate,
            &mut d_seq,
            delegate_code.as_str(),
            events,
            &system,
            out,
        );
        let complete = GrantorCommand::CompleteRegistration { id: id.clone(), at };
        let events = grantor.decide(complete, &self.policy).expect("pending");
        self.emit(
            &mut grantor,
            &mut g_seq,
            grantor_code.as_str(),
            events,
            &system,
            out,
        );
        if revoke {
            let later = at + Duration::days(31);
            let revoke = GrantorCommand::Revoke {
                id: id.clone(),
                channel: RevocationChannel::Online,
                at: later,
                by: Issuer::citizen(grantor_code.clone()),
            };
            let events = grantor.decide(revoke, &self.policy).expect("revocable");
            self.emit(
                &mut grantor,
                &mut g_seq,
                grantor_code.as_str(),
                events,
                &citizen,
                out,
            );
            let release = DelegateCommand::ReleaseSeat {
                id: id.clone(),
                grantor: grantor_code.clone(),
                delegate: delegate_code.clone(),
                at: later,
            };
            let events = delegate.decide(release, &self.policy).expect("held");
            self.emit(
                &mut delegate,
                &mut d_seq,
                delegate_code.as_str(),
                events,
                &system,
                out,
            );
        }
        self.grantors.push(grantor_code.clone());
        (grantor_code, id)
    }

    /// A booking (request, place, confirmation) in the next slot (two per
    /// slot, its capacity), and with `cancel` its cancellation.
    fn booking(&mut self, at: DateTime<Utc>, on_behalf: bool, cancel: bool, out: &mut Vec<Row>) {
        let n = fixtures::next();
        let booker_code = fixtures::code(n);
        let slot = self.slots[(self.bookings / 2) % self.slots.len()];
        if self.bookings.is_multiple_of(2) {
            self.slot = Some((slot_key(&self.counter.id, &slot), SlotLedger::default(), 0));
        }
        self.bookings += 1;
        let grantor = on_behalf.then(|| fixtures::code(fixtures::next()).to_string());
        let citizen = metadata(
            &format!("citizen:{booker_code}"),
            "web",
            n,
            grantor.as_deref(),
        );
        let system = metadata("system", "runner", n, None);
        let request = fixtures::booking(n, booker_code.clone(), &self.counter, &slot, at);
        let id = request.id.clone();

        let (mut booker, mut b_seq) = (Booker::default(), 0);
        let events = booker
            .decide(BookerCommand::Request(Box::new(request)), &self.policy)
            .expect("a valid booking");
        self.emit(
            &mut booker,
            &mut b_seq,
            booker_code.as_str(),
            events,
            &citizen,
            out,
        );
        let (key, mut ledger, mut l_seq) = self.slot.take().expect("a slot");
        let reserve = SlotCommand::ReservePlace {
            booking: id.clone(),
            booker: booker_code.clone(),
            capacity: self.counter.capacity(),
            at,
        };
        let events = ledger.decide(reserve, &self.policy).expect("a free place");
        self.emit(&mut ledger, &mut l_seq, &key, events, &system, out);
        let confirm = BookerCommand::Confirm {
            id: id.clone(),
            place: Some(1),
            at,
        };
        let events = booker.decide(confirm, &self.policy).expect("pending");
        self.emit(
            &mut booker,
            &mut b_seq,
            booker_code.as_str(),
            events,
            &system,
            out,
        );
        if cancel {
            let cancel = BookerCommand::Cancel { id: id.clone(), at };
            let events = booker.decide(cancel, &self.policy).expect("cancellable");
            self.emit(
                &mut booker,
                &mut b_seq,
                booker_code.as_str(),
                events,
                &citizen,
                out,
            );
            let release = SlotCommand::ReleasePlace {
                booking: id,
                booker: booker_code.clone(),
                at,
            };
            let events = ledger.decide(release, &self.policy).expect("held");
            self.emit(&mut ledger, &mut l_seq, &key, events, &system, out);
        }
        self.slot = Some((key, ledger, l_seq));
    }

    /// Appends `events` to a stream, as the store would, applying each.
    fn emit<A: Aggregate>(
        &mut self,
        state: &mut A,
        sequence: &mut i64,
        id: &str,
        events: Vec<A::Event>,
        metadata: &str,
        out: &mut Vec<Row>,
    ) {
        for event in events {
            *sequence += 1;
            self.position += 1;
            out.push(Row {
                aggregate_type: A::TYPE,
                aggregate_id: id.to_owned(),
                sequence: *sequence,
                event_type: event.event_type(),
                event_version: event.event_version(),
                payload: serde_json::to_string(&event).expect("serializable"),
                metadata: metadata.to_owned(),
                position: self.position,
            });
            state.apply(event);
        }
    }
}

/// The metadata the service stores (`Metadata::to_map`), as JSON.
fn metadata(actor: &str, channel: &str, flow: u64, on_behalf_of: Option<&str>) -> String {
    let mut map = serde_json::json!({
        "actor": actor,
        "channel": channel,
        "correlation_id": format!("bench-{flow}"),
    });
    if let Some(grantor) = on_behalf_of {
        map["on_behalf_of"] = serde_json::Value::from(grantor);
    }
    map.to_string()
}

/// The last position in the store's log (0 if empty).
pub async fn last_position(target: &Target<'_>) -> Result<i64, sqlx::Error> {
    match target {
        Target::Postgres { url, schema } => {
            let mut conn = connect(url, schema).await?;
            let last: i64 =
                sqlx::query_scalar("SELECT coalesce(max(position), 0)::bigint FROM events")
                    .fetch_one(&mut conn)
                    .await?;
            conn.close().await?;
            Ok(last)
        }
        Target::Sqlite(pool) => {
            sqlx::query_scalar("SELECT coalesce(max(position), 0) FROM events")
                .fetch_one(*pool)
                .await
        }
    }
}

async fn connect(url: &str, schema: &str) -> Result<PgConnection, sqlx::Error> {
    PgConnectOptions::from_str(url)?
        .options([("search_path", schema)])
        .connect()
        .await
}

const CHUNK: usize = 20_000;

/// Writes `stories` (a function that appends the next story to a buffer) into
/// the store until at least `events` events are written. Returns how many.
pub async fn bulk_load(
    target: &Target<'_>,
    events: u64,
    mut story: impl FnMut(&mut Vec<Row>),
) -> Result<u64, sqlx::Error> {
    let mut written = 0u64;
    let mut buffer: Vec<Row> = Vec::with_capacity(CHUNK + 16);
    match target {
        Target::Postgres { url, schema } => {
            let mut conn = connect(url, schema).await?;
            let mut copy = conn
                .copy_in_raw(
                    "COPY events (aggregate_type, aggregate_id, sequence, event_type, \
                     event_version, payload, metadata, position) FROM STDIN",
                )
                .await?;
            while written < events {
                while buffer.len() < CHUNK && written + (buffer.len() as u64) < events {
                    story(&mut buffer);
                }
                written += buffer.len() as u64;
                let mut text = String::with_capacity(buffer.len() * 600);
                for r in buffer.drain(..) {
                    writeln!(
                        text,
                        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                        r.aggregate_type,
                        r.aggregate_id,
                        r.sequence,
                        r.event_type,
                        r.event_version,
                        copy_text(&r.payload),
                        copy_text(&r.metadata),
                        r.position
                    )
                    .expect("writing to a String");
                }
                copy.send(text.into_bytes()).await?;
            }
            copy.finish().await?;
            sqlx::query("UPDATE log_head SET position = (SELECT max(position) FROM events)")
                .execute(&mut conn)
                .await?;
            // What autovacuum does after a bulk insert (PostgreSQL 13's
            // `autovacuum_vacuum_insert_threshold`; this test server runs
            // with autovacuum off): hint bits and the visibility map set,
            // statistics gathered.
            sqlx::query("VACUUM (ANALYZE) events")
                .execute(&mut conn)
                .await?;
            conn.close().await?;
        }
        Target::Sqlite(pool) => {
            while written < events {
                while buffer.len() < CHUNK && written + (buffer.len() as u64) < events {
                    story(&mut buffer);
                }
                written += buffer.len() as u64;
                let mut tx = pool.begin().await?;
                for rows in buffer.chunks(500) {
                    let mut insert = QueryBuilder::<Sqlite>::new(
                        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
                         event_version, payload, metadata, position) ",
                    );
                    insert.push_values(rows, |mut b, r| {
                        b.push_bind(r.aggregate_type)
                            .push_bind(&r.aggregate_id)
                            .push_bind(r.sequence)
                            .push_bind(&r.event_type)
                            .push_bind(&r.event_version)
                            .push_bind(&r.payload)
                            .push_bind(&r.metadata)
                            .push_bind(r.position);
                    });
                    insert.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                buffer.clear();
            }
            sqlx::query("ANALYZE").execute(*pool).await?;
        }
    }
    Ok(written)
}

/// A value in `COPY`'s text format: backslashes doubled. (serde_json never
/// writes a raw tab, newline or carriage return: it escapes them.)
fn copy_text(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('\\') {
        s.replace('\\', "\\\\").into()
    } else {
        s.into()
    }
}
