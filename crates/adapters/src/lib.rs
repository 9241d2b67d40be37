//! # deleghe-adapters
//!
//! What makes the pure rules of `deleghe-domain` run on real stores:
//! - [`repository`]: the event repository behind every aggregate, chosen from
//!   a URL (in memory; SQLite, the embedded default; PostgreSQL);
//! - [`service`]: [`Deleghe`], which executes commands with optimistic
//!   concurrency and drives the cross-entity flows to their end;
//! - [`runner`]: resumes, from the log, the flows a crash interrupted;
//! - [`metadata`]: who acted, for whom, through which channel (D9).

pub mod clock;
pub mod error;
pub mod events;
pub mod memory;
pub mod metadata;
pub mod repository;
pub mod runner;
pub mod service;

pub use clock::SettableClock;
pub use error::ServiceError;
pub use metadata::{Actor, Metadata};
pub use repository::Repository;
pub use service::Deleghe;
