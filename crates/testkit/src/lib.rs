//! The test kit of deleghe: what the project's own property and contract
//! tests are made of, for embedders to run the same checks against their
//! integration, their policy or their event store.
//!
//! | module | what it holds |
//! |---|---|
//! | [`fixtures`] | a population of valid fiscal codes, fixed instants, ready-made requests |
//! | [`strategies`] | proptest strategies: fiscal codes, policies, steps and whole histories, interleavings of flows |
//! | [`model`] | the reference models the histories are compared against |
//! | [`invariants`] | D1, D2, D3, D10, B1, B2, B4, B10 as checks over the service's states, returning a [`Violation`](invariants::Violation) |
//! | [`store`] | the store a conformance case runs on |
//! | [`conformance`] | the store conformance suite |
//!
//! A downstream property test: random delegation histories through the
//! service, each outcome compared with the model's, the invariants checked
//! after every step (`examples/downstream_property.rs` is the same as a
//! test and a program). The store conformance suite on an embedder's store
//! is one call, [`conformance::conformance`].
//!
//! ```
//! use deleghe_adapters::{Deleghe, SettableClock};
//! use deleghe_domain::Policy;
//! use deleghe_testkit::fixtures::{people, t0};
//! use deleghe_testkit::invariants::Delegations;
//! use deleghe_testkit::model::delegation::Model;
//! use deleghe_testkit::strategies::delegation_history;
//! use deleghe_testkit::drive::Driver;
//! use proptest::prelude::*;
//!
//! proptest!(ProptestConfig::with_cases(8), |(history in delegation_history())| {
//!     let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
//!     runtime.block_on(async {
//!         let policy = Policy::default();
//!         let clock = SettableClock::fixed(t0());
//!         let service = Deleghe::in_memory(policy.clone()).with_clock(clock.as_clock());
//!         let mut model = Model::new(&policy);
//!         let mut driver = Driver::new(clock);
//!         for step in &history {
//!             model.step(step);
//!             let got = driver.apply(&service, step).await;
//!             prop_assert_eq!(got, model.expected.map_err(str::to_owned));
//!             let state = Delegations::load(&service, &people(model.people)).await.unwrap();
//!             prop_assert_eq!(state.check(&policy, driver.now()), Ok(()));
//!             prop_assert_eq!(state.settled(), Ok(()));
//!         }
//!         Ok(())
//!     })?;
//! });
//! ```

pub mod conformance;
pub mod drive;
pub mod fixtures;
pub mod invariants;
pub mod model;
pub mod store;
pub mod strategies;
