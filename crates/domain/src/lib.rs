//! # deleghe-domain
//!
//! The pure rules of INPS digital-identity delegation ("delega dell'identità
//! digitale"), as event-sourced aggregates on [`cqrs_es`]. Nothing here does
//! I/O: every decision is a function of state, command and [`Policy`], and time
//! and ids come in with the command. Rule ids (D1, B3, ...) refer to
//! `DOMAIN.md`; every error carries the stable code of the HTTP contract.
//!
//! Layout, one module per concept:
//! - [`fiscal_code`]: I1, the validated person id;
//! - [`policy`]: every number the rules use;
//! - [`delegation`]: the grantor and delegate aggregates (D1–D9) and the
//!   registration flow that keeps D10 across them.

mod aggregate;
pub mod booking;
pub mod delegation;
pub mod document;
pub mod fiscal_code;
pub mod meeting;
pub mod notification;
pub mod pin;
pub mod policy;
pub mod process;
pub mod time;

pub use fiscal_code::{FiscalCode, FiscalCodeError};
pub use policy::Policy;
pub mod schedule;
