//! # deleghe-adapters
//!
//! What makes the pure rules of `deleghe-domain` run on real stores:
//! - [`repository`]: the event repository behind every aggregate, chosen from
//!   a URL (in memory; SQLite, the embedded default; PostgreSQL);
//! - [`service`]: [`Deleghe`], which executes commands with optimistic
//!   concurrency and drives the cross-entity flows to their end;
//! - [`runner`]: resumes, from the log, the flows a crash interrupted;
//! - [`metadata`]: who acted, for whom, through which channel (D9);
//! - [`projection`]: the projector, which reads the log from a checkpoint
//!   into the read models and the outbox, exactly once per event, and the
//!   [`projection::ReadModels`] the app queries (tables in [`readside`]);
//! - [`outbox`]: the dispatcher that sends due notifications (N1–N6) through
//!   the [`gateway`]s (SMS, the IO app, calendar notices), with retries;
//! - [`documents`]: the documents of web meetings, stored by SHA-256 (M6);
//! - [`codes`]: the web meetings' access codes, derived from the
//!   deployment's key so that no store holds one (M2, M10).
//! - [`private_files`]: files and folders only their owner may touch.

pub mod clock;
pub mod codes;
pub mod documents;
pub mod error;
pub mod events;
pub mod gateway;
pub mod memory;
pub mod metadata;
pub mod outbox;
pub mod private_files;
pub mod projection;
pub mod readside;
pub mod repository;
pub mod runner;
pub mod service;
pub mod sql;
pub mod upcast;

pub use clock::SettableClock;
pub use error::ServiceError;
pub use metadata::{Actor, Metadata};
pub use repository::Repository;
pub use service::Deleghe;
