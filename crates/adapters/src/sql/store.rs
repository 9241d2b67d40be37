//! A SQL store on its pool, for any [`Dialect`]: the event repository's
//! store ([`Store`]) and the read side's pool ([`SidePool`]) at once, since
//! both live in the same database.

use std::any::Any;
use std::sync::Arc;

use async_trait::async_trait;
use cqrs_es::persist::{PersistenceError, SerializedEvent};
use sqlx::pool::Pool;
use tokio::sync::Mutex;

use super::dialect::Dialect;
use super::gate::WriteGate;
use super::lend::{lend, lending, Lending, Lent};
use super::statements::{Conn, Statements};
use super::{persistence_error, service_error};
use crate::error::ServiceError;
use crate::projection::ReadSide;
use crate::readside::{SidePool, SideStatements};
use crate::store::{EventStore, Held, StoredEvents};

/// A lent connection of a store of dialect `D`.
type Pooled<D> = Conn<D, Lent<<D as Dialect>::DB>>;

/// A SQL store of dialect `D`, on its pool: the event store and the read
/// side at once, in one database. Cloning shares the pool.
///
/// A store crate for another SQL database implements [`Dialect`] and
/// plugs its store in with
/// `Repository::from_store(SqlStore::<ItsDialect>::new(pool))`.
pub struct SqlStore<D: Dialect> {
    pool: Pool<D::DB>,
    /// The connections the store lends itself, opened through `pool`
    /// (`sql/lend.rs`, ADR 0021).
    lending: Lending<D::DB>,
    /// The writers' turns, where the database lets one in at a time.
    gate: Option<WriteGate>,
}

impl<D: Dialect> Clone for SqlStore<D> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            lending: self.lending.clone(),
            gate: self.gate.clone(),
        }
    }
}

impl<D: Dialect> SqlStore<D> {
    /// The store on `pool`, whose schema is up to date (the dialect's
    /// migrations applied). The store opens its connections through `pool`
    /// and lends them itself, `pool`'s size at most: a connection going back
    /// is not pinged (ADR 0021).
    pub fn new(pool: Pool<D::DB>) -> Self {
        Self {
            lending: lending(&pool),
            pool,
            gate: D::ONE_WRITER.then(WriteGate::default),
        }
    }

    async fn conn(&self) -> Result<Pooled<D>, sqlx::Error> {
        Ok(Conn::new(lend(&self.lending).await?).with_gate(self.gate.clone()))
    }
}

/// The connection a scope of `Repository::holding` holds, if it is one of
/// this store's dialect.
fn held<D: Dialect>(held: Option<&Held>) -> Option<&Mutex<Pooled<D>>> {
    held.and_then(Held::get)
}

#[async_trait]
impl<D: Dialect> EventStore for SqlStore<D>
where
    Pooled<D>: Statements + SideStatements,
{
    fn pool(&self) -> Option<&(dyn Any + Send + Sync)> {
        Some(&self.pool)
    }

    fn read_side(&self) -> Option<ReadSide> {
        Some(ReadSide::on(Arc::new(self.clone())))
    }

    async fn hold(&self) -> Result<Option<Held>, ServiceError> {
        let conn = self.conn().await.map_err(service_error)?;
        Ok(Some(Held::new(Mutex::new(conn))))
    }

    async fn stream(
        &self,
        holding: Option<&Held>,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let mut conn = match held::<D>(holding) {
            Some(conn) => return conn.lock().await.stream(aggregate_type, aggregate_id).await,
            None => self.conn().await.map_err(persistence_error)?,
        };
        conn.stream(aggregate_type, aggregate_id).await
    }

    async fn streams(
        &self,
        holding: Option<&Held>,
        streams: &[(&str, &str)],
    ) -> Result<Vec<Vec<SerializedEvent>>, PersistenceError> {
        // Two different streams (a flow's two: ADR 0019) in one round trip;
        // anything else one by one.
        if let [first, second] = streams {
            if first != second {
                let read = match held::<D>(holding) {
                    Some(conn) => conn.lock().await.streams_2(*first, *second).await?,
                    None => {
                        let mut conn = self.conn().await.map_err(persistence_error)?;
                        conn.streams_2(*first, *second).await?
                    }
                };
                return Ok(read.into());
            }
        }
        let mut read = Vec::with_capacity(streams.len());
        for (aggregate_type, aggregate_id) in streams {
            read.push(self.stream(holding, aggregate_type, aggregate_id).await?);
        }
        Ok(read)
    }

    async fn append(
        &self,
        holding: Option<&Held>,
        events: &[SerializedEvent],
        durable: bool,
    ) -> Result<(), PersistenceError> {
        let mut conn = match held::<D>(holding) {
            Some(conn) => return conn.lock().await.append(events, durable).await,
            None => self.conn().await.map_err(persistence_error)?,
        };
        conn.append(events, durable).await
    }

    async fn flush(&self, holding: Option<&Held>) -> Result<(), ServiceError> {
        let mut conn = match held::<D>(holding) {
            Some(conn) => return conn.lock().await.flush().await,
            None => self.conn().await.map_err(service_error)?,
        };
        conn.flush().await
    }

    async fn read_log(&self, after: i64, limit: usize) -> Result<StoredEvents, ServiceError> {
        let mut conn = self.conn().await.map_err(service_error)?;
        Ok(StoredEvents::text(conn.read_log(after, limit).await?))
    }

    async fn events_of_type(
        &self,
        aggregate_type: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let mut conn = self.conn().await.map_err(persistence_error)?;
        conn.events_of_type(aggregate_type).await
    }

    async fn log_head(&self) -> Result<i64, ServiceError> {
        let mut conn = self.conn().await.map_err(service_error)?;
        conn.log_head().await
    }

    async fn checkpoint(&self, name: &str) -> Result<i64, ServiceError> {
        let mut conn = self.conn().await.map_err(service_error)?;
        conn.checkpoint(name).await
    }

    async fn save_checkpoint(&self, name: &str, position: i64) -> Result<(), ServiceError> {
        let mut conn = self.conn().await.map_err(service_error)?;
        conn.save_checkpoint(name, position).await
    }
}

#[async_trait]
impl<D: Dialect> SidePool for SqlStore<D>
where
    Pooled<D>: SideStatements,
{
    async fn acquire(&self) -> Result<Box<dyn SideStatements>, ServiceError> {
        Ok(Box::new(self.conn().await.map_err(service_error)?))
    }

    fn pipelines(&self) -> bool {
        self.pool.options().get_max_connections() > 1
    }
}
