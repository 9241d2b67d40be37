//! # deleghe-adapters
//!
//! What makes the pure rules of `deleghe-domain` run on real stores:
//! - [`repository`]: the event repository behind every aggregate, chosen from
//!   a URL (in memory; SQLite, the embedded default; PostgreSQL);
//! - [`service`]: [`Deleghe`], which executes commands with optimistic
//!   concurrency and drives the cross-entity flows to their end;
//! - [`runner`]: resumes, from the log, the flows a crash interrupted;
//! - [`settle`]: B8's timer, which marks missed the bookings left unserved;
//! - [`metadata`]: who acted, for whom, through which channel (D9);
//! - [`projection`]: the projector, which reads the log from a checkpoint
//!   into the read models and the outbox, exactly once per event, and the
//!   [`projection::ReadModels`] the app queries (on a [`projection::ReadSide`]);
//! - [`outbox`]: the dispatcher that sends due notifications (N1–N6) through
//!   the [`gateway`]s (SMS, the IO app, calendar notices), with retries;
//! - [`documents`]: the documents of web meetings, stored by SHA-256 (M6);
//! - [`codes`]: the web meetings' access codes, derived from the
//!   deployment's key so that no store holds one (M2, M10).
//! - [`private_files`]: files and folders only their owner may touch;
//! - [`system`]: the composition root, [`System`], which puts all of the
//!   above together on one store in one call, with its background workers.

pub mod clock;
pub mod codes;
pub mod connect;
pub mod documents;
pub mod error;
mod events;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod gateway;
mod memory;
pub mod metadata;
pub mod outbox;
pub mod private_files;
pub mod projection;
#[cfg(all(test, feature = "sqlite"))]
mod read_side_differential;
mod readside;
pub mod repository;
pub mod runner;
pub mod service;
pub mod settle;
#[cfg(feature = "sql")]
pub mod sql;
pub mod store;
pub mod system;
#[cfg(test)]
mod test_fixtures;
mod turns;
mod upcast;

pub use clock::SettableClock;
pub use error::{ServiceError, Unsettled};
pub use metadata::{Actor, Metadata};
pub use repository::Repository;
pub use service::Deleghe;
/// The sqlx the SQL stores are built on (the same version as sqlite-es's and
/// postgres-es's), for statements of an embedder's own on their pools.
#[cfg(feature = "sql")]
pub use sql::sqlx;
pub use system::System;
