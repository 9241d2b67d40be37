//! The invariants of the rule book as checks over what anyone can observe
//! through the public API: the states the service gives back
//! ([`Deleghe::grantor`], [`Deleghe::delegate`], [`Deleghe::booker`],
//! [`Deleghe::slot`]).
//!
//! Each check returns `Ok(())` or the first [`Violation`] found, naming the
//! rule (`"D1"`, `"B4"`...) and what breaks it. Checks are pure functions of
//! a snapshot ([`Delegations`], [`Bookings`]); [`Delegations::load`] and
//! [`Bookings::load`] take one from a running service.
//!
//! ```
//! use deleghe_adapters::{Deleghe, Metadata, Actor};
//! use deleghe_domain::Policy;
//! use deleghe_testkit::fixtures::{people, person, request, t0};
//! use deleghe_testkit::invariants::Delegations;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let policy = Policy::default();
//! let service = Deleghe::in_memory(policy.clone());
//! for (n, grantor) in [1, 2, 3, 4].into_iter().enumerate() {
//!     let meta = Metadata::new(Actor::Citizen(person(grantor)), "web");
//!     let _ = service.register_delegation(request(&format!("d-{n}"), grantor, 0), &meta).await;
//! }
//! let state = Delegations::load(&service, &people(5)).await.unwrap();
//! state.check(&policy, t0()).unwrap();
//! // Nothing is left halfway: D10 once every flow has ended.
//! state.settled().unwrap();
//! # }
//! ```
//!
//! [`Deleghe::grantor`]: deleghe_adapters::Deleghe::grantor
//! [`Deleghe::delegate`]: deleghe_adapters::Deleghe::delegate
//! [`Deleghe::booker`]: deleghe_adapters::Deleghe::booker
//! [`Deleghe::slot`]: deleghe_adapters::Deleghe::slot

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Utc};
use deleghe_adapters::{Deleghe, ServiceError};
use deleghe_domain::booking::{slot_key, Booker, Booking, BookingStage, SlotLedger};
use deleghe_domain::delegation::{is_past_end, Delegate, Delegation, Grantor, Role, Stage};
use deleghe_domain::schedule::{Counter, Slot};
use deleghe_domain::{FiscalCode, Policy};

/// A broken invariant: the rule's id and what breaks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The id of the rule, as `docs/RULES.md` names it (`"D1"`, `"B4"`...).
    pub rule: &'static str,
    /// What was found, naming the people, delegations or slots involved.
    pub message: String,
}

impl Violation {
    /// A violation of `rule`.
    pub fn new(rule: &'static str, message: impl Into<String>) -> Self {
        Self {
            rule,
            message: message.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.rule, self.message)
    }
}

impl std::error::Error for Violation {}

fn ensure(ok: bool, rule: &'static str, message: impl FnOnce() -> String) -> Result<(), Violation> {
    if ok {
        Ok(())
    } else {
        Err(Violation::new(rule, message()))
    }
}

// ------------------------------------------------------------------ delegations

/// The delegation rules' states at one moment: every grantor's and every
/// delegate's aggregate, by fiscal code.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Delegations {
    /// Each grantor's delegations.
    pub grantors: BTreeMap<FiscalCode, Grantor>,
    /// Each delegate's seats.
    pub delegates: BTreeMap<FiscalCode, Delegate>,
}

impl Delegations {
    /// The states of `people`, each as grantor and as delegate, as `service`
    /// loads them.
    pub async fn load(service: &Deleghe, people: &[FiscalCode]) -> Result<Self, ServiceError> {
        let mut state = Self::default();
        for who in people {
            state
                .grantors
                .insert(who.clone(), service.grantor(who).await?);
            state
                .delegates
                .insert(who.clone(), service.delegate(who).await?);
        }
        Ok(state)
    }

    /// Every grantor's delegations.
    pub fn delegations(&self) -> impl Iterator<Item = &Delegation> {
        self.grantors.values().flat_map(Grantor::delegations)
    }

    /// D1, D2 and D3 at `now`: what must hold at every moment (D10), even
    /// between two steps of a flow.
    pub fn check(&self, policy: &Policy, now: DateTime<Utc>) -> Result<(), Violation> {
        d1(self, now)?;
        d2(self, policy, now)?;
        d3(self, now)
    }

    /// D10 once every flow has ended (the requests answered, the runner
    /// caught up): nothing is pending, and the seats are exactly the
    /// delegations in force.
    pub fn settled(&self) -> Result<(), Violation> {
        d10_settled(self)
    }
}

/// D1: no grantor has more than one live delegation (pending, awaiting
/// confirmation or active) at `now`.
pub fn d1(state: &Delegations, now: DateTime<Utc>) -> Result<(), Violation> {
    for (code, grantor) in &state.grantors {
        let live: Vec<_> = grantor
            .delegations()
            .iter()
            .filter(|d| d.is_live(now))
            .map(|d| d.id.to_string())
            .collect();
        ensure(live.len() <= 1, "D1", || {
            format!("{code} has {} live delegations: {live:?}", live.len())
        })?;
    }
    Ok(())
}

/// D2: no delegate holds more ordinary delegations in force than the
/// policy's cap, counted on the grantors' side (registered or awaiting
/// confirmation) and on the delegate's own seats.
pub fn d2(state: &Delegations, policy: &Policy, now: DateTime<Utc>) -> Result<(), Violation> {
    let cap = policy.max_ordinary_delegations_per_delegate as usize;
    let mut ordinary: BTreeMap<&FiscalCode, usize> = BTreeMap::new();
    for d in state.delegations() {
        if d.role == Role::Ordinary && d.is_live(now) && d.stage != Stage::Pending {
            *ordinary.entry(&d.delegate).or_default() += 1;
        }
    }
    for (delegate, n) in ordinary {
        ensure(n <= cap, "D2", || {
            format!("{delegate} holds {n} ordinary delegations, cap {cap}")
        })?;
    }
    for (code, delegate) in &state.delegates {
        let seats = delegate.ordinary_seats(now);
        ensure(seats <= cap, "D2", || {
            format!("{code} holds {seats} ordinary seats, cap {cap}")
        })?;
    }
    Ok(())
}

/// D3: a legal representative takes no place under the cap: no seat of
/// theirs counts as ordinary, and no registration of theirs is refused for
/// the cap.
pub fn d3(state: &Delegations, now: DateTime<Utc>) -> Result<(), Violation> {
    for (code, delegate) in &state.delegates {
        let ordinary = delegate
            .seats()
            .values()
            .filter(|s| s.role == Role::Ordinary && !is_past_end(s.ends_on, now))
            .count();
        let counted = delegate.ordinary_seats(now);
        ensure(counted == ordinary, "D3", || {
            format!("{code} has {counted} seats counted under the cap, {ordinary} ordinary")
        })?;
    }
    for d in state.delegations() {
        let capped =
            matches!(&d.stage, Stage::Refused { reason, .. } if reason == "delegate_cap_reached");
        ensure(!(capped && d.role.is_legal_representative()), "D3", || {
            format!("{} ({}) was refused for the cap", d.id, d.role.as_str())
        })?;
    }
    Ok(())
}

/// D10, once every flow has ended: no delegation is left pending, and every
/// delegate's seats are exactly the delegations to them that were
/// registered or await confirmation and were not revoked or rejected since
/// (those past their end date keep their seat, D7, and do not count).
pub fn d10_settled(state: &Delegations) -> Result<(), Violation> {
    let mut held = BTreeMap::new();
    for d in state.delegations() {
        ensure(d.stage != Stage::Pending, "D10", || {
            format!("{} of {} left pending", d.id, d.grantor)
        })?;
        if matches!(d.stage, Stage::Active | Stage::AwaitingConfirmation) {
            held.insert(d.id.clone(), d.delegate.clone());
        }
    }
    let mut seats = BTreeMap::new();
    for (code, delegate) in &state.delegates {
        for id in delegate.seats().keys() {
            seats.insert(id.clone(), code.clone());
        }
    }
    ensure(seats == held, "D10", || {
        format!("the seats {seats:?} are not the delegations in force {held:?}")
    })
}

// ------------------------------------------------------------------ bookings

/// One slot as its ledger holds it, with the capacity its counter gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotState {
    /// How many places the slot has (B4).
    pub capacity: usize,
    /// The places taken.
    pub ledger: SlotLedger,
}

/// The booking rules' states at one moment: every booker's bookings, and
/// the ledgers of the slots they book, by slot key.
///
/// ```
/// use deleghe_adapters::{Deleghe, Metadata, Actor};
/// use deleghe_domain::Policy;
/// use deleghe_testkit::fixtures::{people, person, t0, tuesday_9, web_booking, web_counter};
/// use deleghe_testkit::invariants::Bookings;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let policy = Policy::default();
/// let service = Deleghe::in_memory(policy.clone());
/// for booker in 1..4 {
///     let meta = Metadata::new(Actor::Citizen(person(booker)), "web");
///     let _ = service.book(web_booking(&format!("b-{booker}"), booker), &meta).await;
/// }
/// let slot = web_counter().offers(tuesday_9()).unwrap();
/// let state = Bookings::load(&service, &people(4), &[(web_counter(), slot)]).await.unwrap();
/// // B4: two places, the third booking refused.
/// assert_eq!(state.bookings().count(), 3);
/// state.check(&policy, t0()).unwrap();
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bookings {
    /// Each booker's bookings.
    pub bookers: BTreeMap<FiscalCode, Booker>,
    /// Each slot's ledger, by [`slot_key`].
    pub slots: BTreeMap<String, SlotState>,
}

impl Bookings {
    /// The bookings of `people`, and the ledgers of `slots`, as `service`
    /// loads them.
    pub async fn load(
        service: &Deleghe,
        people: &[FiscalCode],
        slots: &[(Counter, Slot)],
    ) -> Result<Self, ServiceError> {
        let mut state = Self::default();
        for who in people {
            state
                .bookers
                .insert(who.clone(), service.booker(who).await?);
        }
        for (counter, slot) in slots {
            let key = slot_key(&counter.id, slot);
            let ledger = service.slot(&key).await?;
            let capacity = counter.capacity() as usize;
            state.slots.insert(key, SlotState { capacity, ledger });
        }
        Ok(state)
    }

    /// Every booker's bookings.
    pub fn bookings(&self) -> impl Iterator<Item = &Booking> {
        self.bookers.values().flat_map(Booker::bookings)
    }

    /// B1, B2, B4 and B10 at `now`.
    pub fn check(&self, policy: &Policy, now: DateTime<Utc>) -> Result<(), Violation> {
        b1(self, now)?;
        b2(self, policy, now)?;
        b4(self)?;
        b10(self)
    }
}

/// B1: no booker has two active bookings for the same type of counter.
pub fn b1(state: &Bookings, now: DateTime<Utc>) -> Result<(), Violation> {
    for (code, booker) in &state.bookers {
        let mut types = BTreeSet::new();
        for b in booker.active(now) {
            ensure(types.insert(&b.counter_type), "B1", || {
                format!("{code} has two active bookings for {}", b.counter_type)
            })?;
        }
    }
    Ok(())
}

/// B2: no booker has more active bookings than the policy allows.
pub fn b2(state: &Bookings, policy: &Policy, now: DateTime<Utc>) -> Result<(), Violation> {
    let max = policy.max_active_bookings as usize;
    for (code, booker) in &state.bookers {
        let active = booker.active(now).count();
        ensure(active <= max, "B2", || {
            format!("{code} has {active} active bookings, at most {max}")
        })?;
    }
    Ok(())
}

/// Whether a booking holds a place in its slot: confirmed, then perhaps
/// served or missed.
fn holds_place(b: &Booking) -> bool {
    matches!(
        b.stage,
        BookingStage::Confirmed | BookingStage::Served { .. } | BookingStage::Missed { .. }
    )
}

/// B4: no slot has more places taken than its capacity, and the places
/// taken are exactly the slot's bookings that were confirmed (then perhaps
/// served or missed).
pub fn b4(state: &Bookings) -> Result<(), Violation> {
    for (key, slot) in &state.slots {
        let taken = slot.ledger.taken();
        ensure(taken <= slot.capacity, "B4", || {
            format!("{key} has {taken} places taken, capacity {}", slot.capacity)
        })?;
        let mut held = 0;
        for b in state.bookings() {
            if slot_key(&b.counter, &b.slot) == *key && holds_place(b) {
                ensure(slot.ledger.holds(&b.id), "B4", || {
                    format!("{} is confirmed without a place in {key}", b.id)
                })?;
                held += 1;
            }
        }
        ensure(taken == held, "B4", || {
            format!("{key} has {taken} places taken for {held} confirmed bookings")
        })?;
    }
    Ok(())
}

/// B10: no two places of a slot share a ticket code.
pub fn b10(state: &Bookings) -> Result<(), Violation> {
    let mut codes = BTreeSet::new();
    for b in state.bookings().filter(|b| holds_place(b)) {
        let key = slot_key(&b.counter, &b.slot);
        let code = b.ticket_code();
        ensure(code.is_some(), "B10", || {
            format!("{} holds a place without a ticket code", b.id)
        })?;
        ensure(codes.insert((key.clone(), code.clone())), "B10", || {
            format!("{key}: the ticket code {code:?} given twice")
        })?;
    }
    Ok(())
}
