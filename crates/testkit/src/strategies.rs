//! Proptest strategies: valid fiscal codes, policies, the steps of
//! delegation and booking histories, and whole histories, including the
//! interleavings of concurrent registration flows.
//!
//! ```
//! use deleghe_domain::FiscalCode;
//! use deleghe_testkit::strategies::fiscal_code;
//! use proptest::prelude::*;
//!
//! proptest!(|(code in fiscal_code())| {
//!     // I1: every code drawn parses, check character included.
//!     prop_assert_eq!(FiscalCode::parse(code.as_str()), Ok(code.clone()));
//! });
//! ```

use deleghe_domain::delegation::{Channel, Role};
use deleghe_domain::{FiscalCode, Policy};
use proptest::prelude::*;

use crate::model::booking::BookingStep;
use crate::model::delegation::Transition;

/// The month letters of a fiscal code, January to December.
const MONTHS: &[u8; 12] = b"ABCDEHLMPRST";

/// Valid fiscal codes (I1): random letters, year, month, day (women's
/// `+40` included, within the month's length), place, and the check
/// character computed.
pub fn fiscal_code() -> impl Strategy<Value = FiscalCode> {
    (
        "[A-Z]{6}",
        0u8..100,
        0usize..12,
        1u8..=28,
        any::<bool>(),
        "[A-Z][0-9]{3}",
    )
        .prop_map(|(names, year, month, day, female, place)| {
            let day = if female { day + 40 } else { day };
            let body = format!(
                "{names}{year:02}{}{day:02}{place}",
                char::from(MONTHS[month])
            );
            let check = FiscalCode::check_character(&body).expect("a valid body");
            FiscalCode::parse(&format!("{body}{check}")).expect("a valid code")
        })
}

/// The default policy with D2's cap drawn from 1 to 3, so that the cap is
/// reached with few people.
pub fn policy() -> impl Strategy<Value = Policy> {
    (1u32..4).prop_map(|cap| Policy {
        max_ordinary_delegations_per_delegate: cap,
        ..Policy::default()
    })
}

/// Delegates' roles: mostly ordinary, sometimes a legal representative.
pub fn role() -> impl Strategy<Value = Role> {
    prop_oneof![
        6 => Just(Role::Ordinary),
        1 => Just(Role::Tutor),
        1 => Just(Role::Parent),
    ]
}

/// Registration channels: mostly online and at a counter.
pub fn channel() -> impl Strategy<Value = Channel> {
    prop_oneof![
        3 => Just(Channel::Online),
        2 => Just(Channel::Counter),
        1 => Just(Channel::WebMeeting),
        1 => Just(Channel::Pec),
    ]
}

/// One step of a delegation history over `people` grantors, of whom the
/// first `delegates` are drawn as delegates: registrations (some with an
/// end date), revocations online and at a counter, the authority's answers,
/// and days passing (whole months among them, to hit the 30-day edges of
/// D7 and D8 exactly).
pub fn delegation_transition(people: usize, delegates: usize) -> impl Strategy<Value = Transition> {
    let ends = prop_oneof![3 => Just(None), 1 => (0u64..60).prop_map(Some)];
    prop_oneof![
        6 => (0..people, 0..delegates, role(), channel(), ends).prop_map(
            |(grantor, delegate, role, channel, ends_in_days)| Transition::Register {
                grantor,
                delegate,
                role,
                channel,
                ends_in_days,
            }
        ),
        2 => (0..people, any::<bool>())
            .prop_map(|(grantor, online)| Transition::Revoke { grantor, online }),
        1 => (0..people, any::<bool>())
            .prop_map(|(grantor, reject)| Transition::Confirm { grantor, reject }),
        1 => prop_oneof![Just(1u64), Just(29), Just(30), 1u64..20]
            .prop_map(|days| Transition::Advance { days }),
    ]
}

/// A delegation history: 1 to 39 steps of [`delegation_transition`] over
/// six people, the first three delegates (what
/// [`DelegationMachine`](crate::model::delegation::DelegationMachine)
/// draws, for a test that runs the steps itself).
pub fn delegation_history() -> impl Strategy<Value = Vec<Transition>> {
    prop::collection::vec(delegation_transition(6, 3), 1..40)
}

/// One unit of work in an interleaving of concurrent registration flows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A new request at a counter, handled by a worker of its own: grantor,
    /// delegate, and whether the delegate is a legal representative.
    Start(usize, usize, bool),
    /// Worker `n` (modulo the workers alive) takes its next step.
    Step(usize),
    /// Worker `n` (modulo the workers alive) crashes: its next steps are lost.
    Crash(usize),
    /// A revocation at the counter of grantor `n`'s current delegation.
    Revoke(usize),
    /// The recovery runner takes one step over the event log.
    Runner,
    /// The runner crashes: it resumes from its checkpoint.
    RunnerCrash,
}

/// One [`Action`] over `people` grantors, the first two drawn as
/// delegates, a legal representative one time in seven or so.
pub fn action(people: usize) -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => (0..people, 0..2usize, prop::bool::weighted(0.15))
            .prop_map(|(g, d, legal)| Action::Start(g, d, legal)),
        6 => (0..8usize).prop_map(Action::Step),
        1 => (0..8usize).prop_map(Action::Crash),
        1 => (0..people).prop_map(Action::Revoke),
        2 => Just(Action::Runner),
        1 => Just(Action::RunnerCrash),
    ]
}

/// An interleaving: 1 to 79 [`action`]s over six people.
pub fn interleaving() -> impl Strategy<Value = Vec<Action>> {
    prop::collection::vec(action(6), 1..80)
}

/// One step of a booking history by `citizens` over the four
/// [`counters`](crate::model::booking::counters).
pub fn booking_step(citizens: usize) -> impl Strategy<Value = BookingStep> {
    prop_oneof![
        6 => (0..citizens, 0..4usize, 0..2usize)
            .prop_map(|(citizen, counter, slot)| BookingStep::Book { citizen, counter, slot }),
        2 => (0..citizens, 0..4usize).prop_map(|(citizen, nth)| BookingStep::Cancel { citizen, nth }),
        2 => (1i64..30).prop_map(|hours| BookingStep::Advance { hours }),
        2 => (0..citizens, 0..4usize, any::<bool>())
            .prop_map(|(citizen, nth, served)| BookingStep::Mark { citizen, nth, served }),
        1 => Just(BookingStep::Timer),
    ]
}

/// A booking history: 1 to 39 [`booking_step`]s by three citizens.
pub fn booking_history() -> impl Strategy<Value = Vec<BookingStep>> {
    prop::collection::vec(booking_step(3), 1..40)
}
