//! # deleghe-domain
//!
//! The pure rules of INPS digital-identity delegation ("delega dell'identità
//! digitale"), as event-sourced aggregates on [`cqrs_es`]. Nothing here does
//! I/O: every decision is a function of state, command and [`Policy`], and time
//! and ids come in with the command. Rule ids (D1, B3, ...) refer to
//! `docs/RULES.md`; every error carries the stable code of the HTTP contract.
//!
//! Layout, one module per concept:
//! - [`fiscal_code`]: I1, the validated person id;
//! - [`policy`]: every number the rules use;
//! - [`issuer`]: who issues a command, and for whom (D9, D12);
//! - [`delegation`]: the grantor and delegate aggregates (D1–D9, D11, D12) and the
//!   registration flow that keeps D10 across them;
//! - [`schedule`]: counters, weekly schedules and slots in Europe/Rome (B3);
//! - [`booking`]: a citizen's bookings and a slot's places (B1–B7);
//! - [`meeting`]: the web meeting (M1–M10);
//! - [`document`]: the PDFs of a meeting and of a registration's evidence
//!   (M6, D11);
//! - [`uploads`]: who uploaded which document of evidence (D11);
//! - [`contacts`]: a citizen's mobile and IO choice (N7);
//! - [`notification`]: the messages the events call for (N1–N7);
//! - [`pin`]: the telephone PIN (P1–P3);
//! - [`flows`]: every flow between aggregates, as pure reactions.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use deleghe_domain::delegation::{Channel, DelegationId, Grantor, RequestDelegation, Role};
//! use deleghe_domain::{FiscalCode, Issuer, Policy};
//!
//! // A pure decision: state, command and policy in, events (or the broken rule) out.
//! let grantor = FiscalCode::parse("RSSMRA85T10A562S").unwrap();
//! let request = RequestDelegation {
//!     id: DelegationId::parse("d-1").unwrap(),
//!     grantor: grantor.clone(),
//!     delegate: grantor.clone(),
//!     role: Role::Ordinary,
//!     channel: Channel::Online,
//!     ends_on: None,
//!     meeting: None,
//!     evidence: Default::default(),
//!     at: Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap(),
//! };
//! // Online, the grantor asks in person (D5, D12).
//! let command = request.issued_by(Issuer::citizen(grantor));
//! let refused = Grantor::default().decide(command, &Policy::default());
//! assert_eq!(refused.unwrap_err().code(), "self_delegation"); // D4
//! ```

mod aggregate;
pub mod booking;
pub mod contacts;
pub mod delegation;
pub mod document;
pub mod fiscal_code;
pub mod flows;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
mod ids;
pub mod issuer;
pub mod meeting;
pub mod notification;
pub mod pin;
pub mod policy;
pub mod time;
pub mod uploads;

pub use fiscal_code::{FiscalCode, FiscalCodeError};
pub use issuer::{Actor, Issuer};
pub use policy::{Policy, PolicyError};
pub mod schedule;
