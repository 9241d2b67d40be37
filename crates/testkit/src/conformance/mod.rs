//! The store conformance suite: what every event store under the library
//! must do, written once and run on any store through a factory of
//! [`StoreUnderTest`] (or of a plain [`Repository`]).
//!
//! The cases ([`CASES`]), each on stores of its own:
//!
//! - round trips: each aggregate, and the metadata of every event, read
//!   back as stored, through a second connection, equal to the in-memory
//!   reference;
//! - conflicts: an append at a taken sequence, or across streams with one
//!   taken, stores nothing and is an optimistic-concurrency conflict;
//!   conflicts beyond the retries reach the caller as `conflict`;
//! - races: D2 (32 grantors to one delegate, cap 3), D1 (16 delegates for
//!   one grantor) and B4 (32 bookings for a slot of capacity 2) under
//!   concurrent requests, with stored events that agree;
//! - the log: every event in commit order, gapless positions, the same read
//!   in pages; checkpoints kept across a reconnect; old event versions read
//!   through the upcasters;
//! - crash recovery (D10): a failpoint stops each flow between every pair
//!   of its steps, and a restarted runner finishes or compensates every
//!   flow; the runner racing the requests; a step overtaken by another
//!   writer decided again.
//!
//! Run it whole with [`conformance`], one case with [`run_case`], or one
//! test per case with [`conformance_tests!`](crate::conformance_tests).
//! The cases race requests: they need a multi-threaded tokio runtime.
//!
//! ```no_run
//! use deleghe_testkit::conformance::conformance;
//! use deleghe_testkit::store::StoreUnderTest;
//!
//! #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
//! async fn my_store_conforms() {
//!     // A new, empty store for each case; here, a SQLite file.
//!     conformance(|| async { StoreUnderTest::sqlite() }).await;
//! }
//! # fn main() {}
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use deleghe_adapters::Repository;

use crate::store::StoreUnderTest;

mod contract;
mod recovery;

type Boxed<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type Factory = Box<dyn Fn() -> Boxed<Option<StoreUnderTest>> + Send + Sync>;

/// What a factory of stores may yield: a [`StoreUnderTest`], `None` to skip
/// (a store that is not there, say a server not configured), or a
/// [`Repository`], every connection to which is a clone of it.
pub trait IntoStore {
    /// The store, or `None` to skip the case.
    fn into_store(self) -> Option<StoreUnderTest>;
}

impl IntoStore for StoreUnderTest {
    fn into_store(self) -> Option<StoreUnderTest> {
        Some(self)
    }
}

impl IntoStore for Option<StoreUnderTest> {
    fn into_store(self) -> Option<StoreUnderTest> {
        self
    }
}

impl IntoStore for Repository {
    /// The repository itself: its clones share whatever it holds, so a
    /// reconnect only checks what the store keeps if the repository reads
    /// it back from where it keeps it. Give a [`StoreUnderTest`] that opens
    /// a new repository on the same store to check more.
    fn into_store(self) -> Option<StoreUnderTest> {
        Some(StoreUnderTest::new(move || {
            let repository = self.clone();
            async move { repository }
        }))
    }
}

/// The stores one case runs on: each [`fresh`](Stores::fresh) call makes a
/// new empty one; they are removed once the case has passed.
pub struct Stores {
    factory: Factory,
    spare: Mutex<Option<StoreUnderTest>>,
    made: Mutex<Vec<StoreUnderTest>>,
}

impl Stores {
    fn new<F, Fut, S>(factory: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = S> + Send + 'static,
        S: IntoStore,
    {
        Self {
            factory: Box::new(move || {
                let made = factory();
                Box::pin(async move { made.await.into_store() })
            }),
            spare: Mutex::new(None),
            made: Mutex::new(Vec::new()),
        }
    }

    /// Whether the factory gives a store at all (the one it gave is kept
    /// for the first [`fresh`](Self::fresh)).
    async fn available(&self) -> bool {
        let store = (self.factory)().await;
        let there = store.is_some();
        *self.spare.lock().unwrap() = store;
        there
    }

    /// A new, empty store.
    ///
    /// # Panics
    ///
    /// If the factory gives no store after it gave one.
    pub async fn fresh(&self) -> StoreUnderTest {
        let spare = self.spare.lock().unwrap().take();
        let store = match spare {
            Some(store) => store,
            None => (self.factory)()
                .await
                .expect("the factory gave a store before, and none now"),
        };
        self.made.lock().unwrap().push(store.clone());
        store
    }

    /// A connection to a new, empty store.
    pub async fn repository(&self) -> Repository {
        self.fresh().await.connect().await
    }

    /// Removes every store made, all at once.
    async fn remove(self) {
        let made = std::mem::take(&mut *self.made.lock().unwrap());
        let removals: Vec<_> = made
            .into_iter()
            .map(|store| tokio::spawn(store.remove()))
            .collect();
        for removal in removals {
            removal.await.expect("a store removed");
        }
    }
}

/// One case of the suite.
#[derive(Clone, Copy)]
pub struct Case {
    /// The case's name, also the name of its test in
    /// [`conformance_tests!`](crate::conformance_tests).
    pub name: &'static str,
    run: for<'a> fn(&'a Stores) -> Pin<Box<dyn Future<Output = ()> + 'a>>,
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Case").field("name", &self.name).finish()
    }
}

/// Says which case failed, if it did.
struct Failing(&'static str);

impl Drop for Failing {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("conformance case `{}` failed", self.0);
        }
    }
}

impl Case {
    /// Runs the case on stores from `factory`, then removes them; skipped
    /// (said on stderr) if the factory gives no store.
    ///
    /// # Panics
    ///
    /// When the store breaks the contract, with what breaks it; when not
    /// run on a multi-threaded tokio runtime.
    pub async fn run<F, Fut, S>(&self, factory: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = S> + Send + 'static,
        S: IntoStore,
    {
        let flavor = tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor());
        assert!(
            matches!(flavor, Ok(tokio::runtime::RuntimeFlavor::MultiThread)),
            "the conformance suite races requests: run it on a multi-threaded tokio runtime \
             (#[tokio::test(flavor = \"multi_thread\")])"
        );
        let stores = Stores::new(factory);
        if !stores.available().await {
            eprintln!("conformance case `{}` skipped: no store", self.name);
            return;
        }
        let guard = Failing(self.name);
        (self.run)(&stores).await;
        drop(guard);
        stores.remove().await;
    }
}

macro_rules! cases {
    ($d:tt $($module:ident :: $case:ident),* $(,)?) => {
        /// Every case of the suite, in the order [`conformance`] runs them.
        pub const CASES: &[Case] = &[
            $(Case { name: stringify!($case), run: |stores| Box::pin($module::$case(stores)) }),*
        ];

        /// One `#[test]` per conformance case, each named after its case
        /// and run on a multi-threaded runtime of its own, on stores from
        /// the factory given (an expression: a closure returning a future
        /// of a [`StoreUnderTest`], an `Option` of one to skip, or a
        /// `Repository`).
        ///
        /// Put it in a module of its own per store:
        ///
        /// ```
        /// mod memory {
        ///     use deleghe_testkit::store::StoreUnderTest;
        ///     deleghe_testkit::conformance_tests!(|| async { StoreUnderTest::memory() });
        /// }
        /// # fn main() {}
        /// ```
        ///
        /// [`StoreUnderTest`]: crate::store::StoreUnderTest
        #[macro_export]
        macro_rules! conformance_tests {
            ($d factory:expr) => {
                $(
                    #[test]
                    fn $case() {
                        $d crate::conformance::run_case_blocking(stringify!($case), $d factory);
                    }
                )*
            };
        }
    };
}

cases!(
    $
    contract::grantor_and_delegate_round_trip,
    contract::booker_and_slot_round_trip,
    contract::meeting_round_trip,
    contract::pin_account_round_trip,
    contract::appends_at_a_taken_sequence_are_conflicts,
    contract::an_append_across_streams_is_all_or_nothing,
    contract::streams_read_together_are_each_as_read_alone,
    contract::conflicts_beyond_the_retries_are_reported_as_conflict,
    contract::d2_32_grantors_to_one_delegate_with_cap_3,
    contract::d1_16_delegates_for_one_grantor,
    contract::b4_32_bookings_for_a_slot_of_capacity_2,
    contract::the_log_is_every_event_in_commit_order,
    contract::checkpoints_survive_a_reconnect,
    contract::an_old_event_version_loads_through_the_upcasters,
    recovery::registration_scenario,
    recovery::refusal_and_revocation_scenario,
    recovery::booking_scenario,
    recovery::meeting_scenario,
    recovery::m7_d10_meeting_overtaken_by_the_runner_scenario,
    recovery::racing_the_runner_scenario,
    recovery::overtaken_by_the_runner_scenario,
    recovery::kept_state_overtaken_scenario,
    recovery::whole_flow_decided_again_scenario,
);

/// Runs every case of [`CASES`], one after the other, each on new stores
/// from `factory`.
///
/// # Panics
///
/// At the first case the store fails, naming it on stderr.
pub async fn conformance<F, Fut, S>(factory: F)
where
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = S> + Send + 'static,
    S: IntoStore,
{
    for case in CASES {
        case.run(factory.clone()).await;
    }
}

/// Runs the case of [`CASES`] named `name` on stores from `factory`.
///
/// ```
/// use deleghe_testkit::conformance::run_case;
/// use deleghe_testkit::store::StoreUnderTest;
///
/// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
/// # async fn main() {
/// run_case("checkpoints_survive_a_reconnect", || async { StoreUnderTest::memory() }).await;
/// # }
/// ```
///
/// # Panics
///
/// If no case has that name, or the store fails it.
pub async fn run_case<F, Fut, S>(name: &str, factory: F)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = S> + Send + 'static,
    S: IntoStore,
{
    let case = CASES
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no conformance case is named {name}"));
    case.run(factory).await;
}

/// [`run_case`] on a multi-threaded runtime of its own (two workers), for
/// a plain `#[test]`.
pub fn run_case_blocking<F, Fut, S>(name: &str, factory: F)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = S> + Send + 'static,
    S: IntoStore,
{
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(run_case(name, factory));
}
