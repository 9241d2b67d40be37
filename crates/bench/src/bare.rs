//! Baseline (a): what a user writing their own rules on bare cqrs-es would
//! get. A trivial aggregate (one event per command, no rule), run by
//! `CqrsFramework::execute` on postgres-es and sqlite-es exactly as their
//! READMEs set them up (`postgres_cqrs`, `sqlite_cqrs`, their default pools),
//! on the tables of their own `init.sql` (copied in `sql/`, test rows left out).

use std::fmt;
use std::str::FromStr;

use cqrs_es::{Aggregate, DomainEvent};
use postgres_es::{postgres_cqrs, PostgresCqrs};
use serde::{Deserialize, Serialize};
use sqlite_es::{sqlite_cqrs, SqliteCqrs};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Executor;

/// Counts what it is told to add: the least a command can do.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Tally {
    total: u64,
}

#[derive(Debug)]
pub enum TallyCommand {
    Add(u64),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TallyEvent {
    Added(u64),
}

impl DomainEvent for TallyEvent {
    fn event_type(&self) -> String {
        "Added".to_owned()
    }

    fn event_version(&self) -> String {
        "1.0".to_owned()
    }
}

#[derive(Debug)]
pub struct TallyError;

impl fmt::Display for TallyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("never")
    }
}

impl std::error::Error for TallyError {}

impl Aggregate for Tally {
    const TYPE: &'static str = "tally";
    type Command = TallyCommand;
    type Event = TallyEvent;
    type Error = TallyError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _: &Self::Services,
        sink: &cqrs_es::event_sink::EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let TallyCommand::Add(n) = command;
        sink.write(TallyEvent::Added(n), self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        let TallyEvent::Added(n) = event;
        self.total += n;
    }
}

/// postgres-es in schema `schema` (dropped and created afresh), with the
/// pool `default_postgress_pool` would make (10 connections).
pub async fn postgres(url: &str, schema: &str) -> Result<PostgresCqrs<Tally>, sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?.options([("search_path", schema)]);
    let pool = PgPoolOptions::new()
        .max_connections(10)
        .connect_with(options)
        .await?;
    pool.execute(
        format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}").as_str(),
    )
    .await?;
    pool.execute(include_str!("../sql/bare_postgres.sql"))
        .await?;
    Ok(postgres_cqrs(pool, vec![], ()))
}

/// sqlite-es on a new file, with the pool `default_sqlite_pool` makes (WAL,
/// synchronous NORMAL, 10 connections; sqlx's default busy timeout, 5 s).
pub async fn sqlite(file: &std::path::Path) -> Result<SqliteCqrs<Tally>, sqlx::Error> {
    let options = SqliteConnectOptions::new()
        .filename(file)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(10)
        .connect_with(options)
        .await?;
    pool.execute(include_str!("../sql/bare_sqlite.sql")).await?;
    Ok(sqlite_cqrs(pool, vec![], ()))
}
