//! Property tests of the delegation rules (D1–D3, D7, D8, D10).
//!
//! 1. A model-based state machine test: random sequences of registrations,
//!    revocations (online and at the counter), confirmations and time jumps
//!    over a small population run against the real aggregates and against a
//!    small reference model; outcomes, statuses and the invariants are
//!    compared after every step, and replaying the stored events (through
//!    JSON, as a store would) rebuilds the same state.
//! 2. Random interleavings of the steps of concurrent registration flows,
//!    with workers that crash between any two steps and a recovery runner
//!    that replays the event log: D1–D3 hold after every step, and once the
//!    runner has caught up every flow has ended and every seat matches a live
//!    delegation.
//!
//! `PROPTEST_CASES` raises the number of cases.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use cqrs_es::Aggregate;
use deleghe::domain::delegation::flow::{
    after_delegate_event, after_grantor_event, after_refusal, FlowCommand,
};
use deleghe::domain::delegation::{
    Channel, Delegate, DelegateEvent, DelegationError, DelegationId, Grantor, GrantorCommand,
    GrantorEvent, RequestDelegation, RevocationChannel, Role, Stage, Status,
};
use deleghe::domain::time::local_date;
use deleghe::domain::{FiscalCode, Issuer, Policy};
use proptest::prelude::*;
use proptest::test_runner::Config;
use proptest_state_machine::{prop_state_machine, ReferenceStateMachine, StateMachineTest};

/// Six valid fiscal codes: the population of every test.
const PEOPLE: [&str; 6] = [
    "RSSMRA85T10A562S",
    "VRDLGU70A01H501O",
    "BNCGNN80A41F205A",
    "NREFNC62B15L219M",
    "GLLPLA90C22G273D",
    "FRRLRA75D55A944I",
];

fn person(i: usize) -> FiscalCode {
    FiscalCode::parse(PEOPLE[i]).unwrap()
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap()
}

// ------------------------------------------------------------------ the world

/// A stored event of either aggregate, in commit order.
#[derive(Debug, Clone)]
enum Stored {
    Grantor(GrantorEvent),
    Delegate(DelegateEvent),
}

/// The aggregates as an event store holds them: each stream's events, and
/// the state the framework keeps by applying them (`Aggregate::handle` with
/// its event sink, exactly as `CqrsFramework` runs it).
struct World {
    policy: Policy,
    runtime: tokio::runtime::Runtime,
    grantors: BTreeMap<FiscalCode, (Grantor, Vec<GrantorEvent>)>,
    delegates: BTreeMap<FiscalCode, (Delegate, Vec<DelegateEvent>)>,
    log: Vec<Stored>,
}

impl World {
    fn new(policy: Policy) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        Self {
            policy,
            runtime,
            grantors: BTreeMap::new(),
            delegates: BTreeMap::new(),
            log: Vec::new(),
        }
    }

    /// Runs one command atomically on its stream (what optimistic
    /// concurrency guarantees of a real store).
    fn execute(&mut self, command: &FlowCommand) -> Result<Vec<Stored>, DelegationError> {
        let sink = cqrs_es::event_sink::EventSink::default();
        let stored: Vec<Stored> = match command {
            FlowCommand::Grantor { grantor, command } => {
                let (state, events) = self.grantors.entry(grantor.clone()).or_default();
                let mut next = state.clone();
                self.runtime
                    .block_on(next.handle(command.clone(), &self.policy, &sink))?;
                let new = self.runtime.block_on(sink.collect());
                *state = next;
                events.extend(new.iter().cloned());
                new.into_iter().map(Stored::Grantor).collect()
            }
            FlowCommand::Delegate { delegate, command } => {
                let sink = cqrs_es::event_sink::EventSink::default();
                let (state, events) = self.delegates.entry(delegate.clone()).or_default();
                let mut next = state.clone();
                self.runtime
                    .block_on(next.handle(command.clone(), &self.policy, &sink))?;
                let new = self.runtime.block_on(sink.collect());
                *state = next;
                events.extend(new.iter().cloned());
                new.into_iter().map(Stored::Delegate).collect()
            }
        };
        self.log.extend(stored.iter().cloned());
        Ok(stored)
    }

    /// Runs a command and every step that follows from it, to the end.
    fn run_to_end(
        &mut self,
        first: FlowCommand,
        now: DateTime<Utc>,
    ) -> Result<(), DelegationError> {
        let mut queue = vec![first];
        let mut first_result = None;
        while let Some(command) = queue.pop() {
            match self.execute(&command) {
                Ok(stored) => {
                    queue.extend(stored.iter().filter_map(|s| react(s, now)));
                    first_result.get_or_insert(Ok(()));
                }
                Err(error) => {
                    queue.extend(after_refusal(&command, &error, now));
                    first_result.get_or_insert(Err(error));
                }
            }
        }
        first_result.unwrap_or(Ok(()))
    }

    fn grantor(&self, who: &FiscalCode) -> Grantor {
        self.grantors
            .get(who)
            .map(|(g, _)| g.clone())
            .unwrap_or_default()
    }

    fn all_delegations(&self) -> impl Iterator<Item = &deleghe::domain::delegation::Delegation> {
        self.grantors.values().flat_map(|(g, _)| g.delegations())
    }

    /// D1, D2, D3 at `now`, on the registered delegations and on the seats.
    fn check_invariants(&self, now: DateTime<Utc>) {
        for (code, (g, _)) in &self.grantors {
            let live = g.delegations().iter().filter(|d| d.is_live(now)).count();
            assert!(live <= 1, "D1: {code} has {live} live delegations");
        }
        let cap = self.policy.max_ordinary_delegations_per_delegate as usize;
        let mut active_ordinary: BTreeMap<&FiscalCode, usize> = BTreeMap::new();
        for d in self.all_delegations() {
            if d.role == Role::Ordinary && d.is_live(now) && d.stage != Stage::Pending {
                *active_ordinary.entry(&d.delegate).or_default() += 1;
            }
        }
        for (delegate, n) in active_ordinary {
            assert!(
                n <= cap,
                "D2: {delegate} holds {n} ordinary delegations, cap {cap}"
            );
        }
        for (code, (d, _)) in &self.delegates {
            let seats = d.ordinary_seats(now);
            assert!(
                seats <= cap,
                "D2: {code} holds {seats} ordinary seats, cap {cap}"
            );
        }
    }

    /// Replaying every stream's stored events, through JSON as a store keeps
    /// them, rebuilds the state the framework holds.
    fn check_replay(&self) {
        for (code, (state, events)) in &self.grantors {
            let mut rebuilt = Grantor::default();
            for e in events {
                let json = serde_json::to_string(e).unwrap();
                rebuilt.apply(serde_json::from_str(&json).unwrap());
            }
            assert_eq!(&rebuilt, state, "replay of grantor {code}");
        }
        for (code, (state, events)) in &self.delegates {
            let mut rebuilt = Delegate::default();
            for e in events {
                let json = serde_json::to_string(e).unwrap();
                rebuilt.apply(serde_json::from_str(&json).unwrap());
            }
            assert_eq!(&rebuilt, state, "replay of delegate {code}");
        }
    }
}

fn react(stored: &Stored, now: DateTime<Utc>) -> Option<FlowCommand> {
    match stored {
        Stored::Grantor(e) => after_grantor_event(e, now),
        Stored::Delegate(e) => after_delegate_event(e, now),
    }
}

// ------------------------------------------------------ 1. the state machine

#[derive(Debug, Clone)]
enum Transition {
    Register {
        grantor: usize,
        delegate: usize,
        role: Role,
        channel: Channel,
        ends_in_days: Option<u64>,
    },
    Revoke {
        grantor: usize,
        online: bool,
    },
    Confirm {
        grantor: usize,
        reject: bool,
    },
    Advance {
        days: u64,
    },
}

/// The reference model: what the rule book says, as plainly as possible.
#[derive(Debug, Clone)]
struct RefDelegation {
    grantor: usize,
    delegate: usize,
    role: Role,
    channel: Channel,
    registered_day: i64,
    /// Last day in force, counted from day 0.
    ends_day: Option<i64>,
    state: RefState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RefState {
    Awaiting,
    Active,
    Revoked,
    Rejected,
}

#[derive(Debug, Clone)]
struct Model {
    today: i64,
    cap: usize,
    delegations: Vec<RefDelegation>,
    /// The outcome the model expects of the last transition.
    expected: Result<(), &'static str>,
}

impl RefDelegation {
    fn expired(&self, today: i64) -> bool {
        self.ends_day.is_some_and(|end| today > end)
    }
    fn status(&self, today: i64) -> Status {
        match self.state {
            RefState::Awaiting if self.expired(today) => Status::Expired,
            RefState::Active if self.expired(today) => Status::Expired,
            RefState::Awaiting => Status::AwaitingConfirmation,
            RefState::Active => Status::Active,
            RefState::Revoked => Status::Revoked,
            RefState::Rejected => Status::Rejected,
        }
    }
    fn live(&self, today: i64) -> bool {
        matches!(
            self.status(today),
            Status::Active | Status::AwaitingConfirmation
        )
    }
}

impl Model {
    fn latest_of(&self, grantor: usize) -> Option<usize> {
        self.delegations.iter().rposition(|d| d.grantor == grantor)
    }
}

struct DelegationMachine;

impl ReferenceStateMachine for DelegationMachine {
    type State = Model;
    type Transition = Transition;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model {
            today: 0,
            cap: Policy::default().max_ordinary_delegations_per_delegate as usize,
            delegations: vec![],
            expected: Ok(()),
        })
        .boxed()
    }

    fn transitions(_: &Model) -> BoxedStrategy<Transition> {
        let role = prop_oneof![
            6 => Just(Role::Ordinary),
            1 => Just(Role::Tutor),
            1 => Just(Role::Parent),
        ];
        let channel = prop_oneof![
            3 => Just(Channel::Online),
            2 => Just(Channel::Counter),
            1 => Just(Channel::WebMeeting),
            1 => Just(Channel::Pec),
        ];
        let ends = prop_oneof![3 => Just(None), 1 => (0u64..60).prop_map(Some)];
        prop_oneof![
            6 => (0..PEOPLE.len(), 0..3usize, role, channel, ends).prop_map(
                |(grantor, delegate, role, channel, ends_in_days)| Transition::Register {
                    grantor,
                    delegate,
                    role,
                    channel,
                    ends_in_days,
                }
            ),
            2 => (0..PEOPLE.len(), any::<bool>())
                .prop_map(|(grantor, online)| Transition::Revoke { grantor, online }),
            1 => (0..PEOPLE.len(), any::<bool>())
                .prop_map(|(grantor, reject)| Transition::Confirm { grantor, reject }),
            // Whole months hit the 30-day edges of D7 and D8 exactly.
            1 => prop_oneof![Just(1u64), Just(29), Just(30), 1u64..20]
                .prop_map(|days| Transition::Advance { days }),
        ]
        .boxed()
    }

    fn apply(mut m: Model, t: &Transition) -> Model {
        let today = m.today;
        m.expected = match *t {
            Transition::Register {
                grantor,
                delegate,
                role,
                channel,
                ends_in_days,
            } => {
                let legal = role != Role::Ordinary;
                let min_days = if channel == Channel::Online { 30 } else { 1 };
                if grantor == delegate {
                    Err("self_delegation")
                } else if channel == Channel::Online && legal {
                    Err("legal_representative_needs_counter")
                } else if channel == Channel::Pec && !legal {
                    Err("pec_needs_legal_representative")
                } else if ends_in_days.is_some_and(|d| (d as i64) < min_days) {
                    Err("end_date_too_soon")
                } else if m
                    .delegations
                    .iter()
                    .any(|d| d.grantor == grantor && d.live(today))
                {
                    Err("grantor_already_has_delegate")
                } else if !legal
                    && m.delegations
                        .iter()
                        .filter(|d| d.delegate == delegate && d.role == Role::Ordinary)
                        .filter(|d| d.live(today))
                        .count()
                        >= m.cap
                {
                    Err("delegate_cap_reached")
                } else {
                    m.delegations.push(RefDelegation {
                        grantor,
                        delegate,
                        role,
                        channel,
                        registered_day: today,
                        ends_day: ends_in_days.map(|d| today + d as i64),
                        state: if legal {
                            RefState::Awaiting
                        } else {
                            RefState::Active
                        },
                    });
                    Ok(())
                }
            }
            Transition::Revoke { grantor, online } => match m.latest_of(grantor) {
                None => Err("not_found"),
                Some(i) => {
                    let d = &mut m.delegations[i];
                    let status = d.status(today);
                    if online {
                        if d.role != Role::Ordinary {
                            Err("revocation_needs_counter")
                        } else if status != Status::Active {
                            Err("not_active")
                        } else if today < d.registered_day + 30 {
                            Err("online_revocation_too_early")
                        } else {
                            d.state = RefState::Revoked;
                            Ok(())
                        }
                    } else if !d.live(today) {
                        Err("not_active")
                    } else {
                        d.state = RefState::Revoked;
                        Ok(())
                    }
                }
            },
            Transition::Confirm { grantor, reject } => match m.latest_of(grantor) {
                None => Err("not_found"),
                Some(i) => {
                    let d = &mut m.delegations[i];
                    if d.status(today) != Status::AwaitingConfirmation {
                        Err("not_awaiting_confirmation")
                    } else {
                        d.state = if reject {
                            RefState::Rejected
                        } else {
                            RefState::Active
                        };
                        Ok(())
                    }
                }
            },
            Transition::Advance { days } => {
                m.today += days as i64;
                Ok(())
            }
        };
        m
    }
}

struct Sut {
    world: World,
    now: DateTime<Utc>,
    /// Delegation ids in the order the model lists its delegations.
    ids: Vec<(usize, DelegationId)>,
    next_id: usize,
}

impl StateMachineTest for Sut {
    type SystemUnderTest = Sut;
    type Reference = DelegationMachine;

    fn init_test(_: &Model) -> Sut {
        Sut {
            world: World::new(Policy::default()),
            now: t0(),
            ids: vec![],
            next_id: 0,
        }
    }

    fn apply(mut sut: Sut, model: &Model, t: Transition) -> Sut {
        let now = sut.now;
        let today: NaiveDate = local_date(now);
        let outcome = match t {
            Transition::Register {
                grantor,
                delegate,
                role,
                channel,
                ends_in_days,
            } => {
                sut.next_id += 1;
                let id = DelegationId::parse(&format!("d-{}", sut.next_id)).unwrap();
                let request = RequestDelegation {
                    id: id.clone(),
                    grantor: person(grantor),
                    delegate: person(delegate),
                    role,
                    channel,
                    ends_on: ends_in_days.map(|d| today + chrono::Days::new(d)),
                    meeting: None,
                    evidence: enough(channel, role),
                    at: now,
                };
                // Online, the grantor asks in person; at a counter or by
                // PEC, an operator (D5, D12).
                let by = match channel {
                    Channel::Online => Issuer::citizen(person(grantor)),
                    _ => Issuer::operator("op-test"),
                };
                let command = FlowCommand::Grantor {
                    grantor: person(grantor),
                    command: request.issued_by(by),
                };
                let result = sut.world.run_to_end(command, now);
                // A request the grantor accepted may still end refused by the
                // delegate (D2): the flow's end decides the outcome.
                let g = sut.world.grantor(&person(grantor));
                match (result, g.delegation(&id)) {
                    (Err(e), _) => Err(e.code()),
                    (Ok(()), Some(d)) => match &d.stage {
                        Stage::Refused { reason, .. } => Err(leak(reason)),
                        Stage::Pending => panic!("flow left {id} pending"),
                        _ => {
                            sut.ids.push((grantor, id));
                            Ok(())
                        }
                    },
                    (Ok(()), None) => panic!("accepted request {id} not stored"),
                }
            }
            Transition::Revoke { grantor, online } => {
                let channel = if online {
                    RevocationChannel::Online
                } else {
                    RevocationChannel::Counter
                };
                let by = if online {
                    Issuer::citizen(person(grantor))
                } else {
                    Issuer::operator("op-test")
                };
                sut.on_latest(grantor, |id| GrantorCommand::Revoke {
                    id,
                    channel,
                    at: now,
                    by,
                })
            }
            Transition::Confirm { grantor, reject } => sut.on_latest(grantor, |id| {
                if reject {
                    GrantorCommand::Reject { id, at: now }
                } else {
                    GrantorCommand::Confirm { id, at: now }
                }
            }),
            Transition::Advance { days } => {
                sut.now += Duration::days(days as i64);
                Ok(())
            }
        };
        assert_eq!(outcome, model.expected, "outcome differs from the model");
        sut
    }

    fn check_invariants(sut: &Sut, model: &Model) {
        sut.world.check_invariants(sut.now);
        sut.world.check_replay();
        // Every registered delegation has the status the model gives it.
        assert_eq!(sut.ids.len(), model.delegations.len());
        let policy = Policy::default();
        for ((grantor, id), expected) in sut.ids.iter().zip(&model.delegations) {
            let g = sut.world.grantor(&person(*grantor));
            let d = g.delegation(id).unwrap();
            assert_eq!(
                d.status(sut.now),
                expected.status(model.today),
                "status of {id}"
            );
            assert_eq!(d.channel, expected.channel);
            // D7: an online delegation's end is at least 30 days out.
            if let (Channel::Online, Some(end)) = (d.channel, d.ends_on) {
                assert!(end >= local_date(d.registered_at.unwrap()) + chrono::Days::new(30));
            }
            // D8: an online revocation never happens before the allowed date.
            if let Stage::Revoked {
                at,
                channel: RevocationChannel::Online,
            } = d.stage
            {
                assert!(local_date(at) >= d.revocable_online_from(&policy).unwrap());
            }
        }
        // Quiescent: every seat belongs to a live delegation and vice versa.
        for (code, (delegate, _)) in &sut.world.delegates {
            for (id, seat) in delegate.seats() {
                let g = sut.world.grantor(&seat.grantor);
                let d = g.delegation(id).unwrap();
                assert!(
                    !matches!(
                        d.stage,
                        Stage::Revoked { .. } | Stage::Rejected { .. } | Stage::Refused { .. }
                    ),
                    "seat {id} of {code} outlived its delegation"
                );
            }
        }
    }
}

impl Sut {
    fn on_latest(
        &mut self,
        grantor: usize,
        command: impl FnOnce(DelegationId) -> GrantorCommand,
    ) -> Result<(), &'static str> {
        let Some((_, id)) = self.ids.iter().rev().find(|(g, _)| *g == grantor) else {
            return Err("not_found");
        };
        let command = FlowCommand::Grantor {
            grantor: person(grantor),
            command: command(id.clone()),
        };
        self.world
            .run_to_end(command, self.now)
            .map_err(|e| e.code())
    }
}

/// Refusal reasons are the codes of `DelegationError`, all `'static`.
fn leak(code: &str) -> &'static str {
    [
        "delegate_cap_reached",
        "grantor_already_has_delegate",
        "self_delegation",
    ]
    .into_iter()
    .find(|c| *c == code)
    .unwrap_or_else(|| panic!("unexpected refusal reason {code}"))
}

prop_state_machine! {
    #![proptest_config(Config {
        // 256 cases by default (PROPTEST_CASES raises it), up to 40 steps each.
        failure_persistence: None,
        .. Config::default()
    })]

    #[test]
    fn d1_d2_d3_d7_d8_hold_over_random_command_sequences(sequential 1..40 => Sut);
}

/// A sanity check that the generator does reach the cap: a fourth ordinary
/// registration to one delegate is attempted and refused in the given case.
#[test]
fn d2_cap_is_reached_by_a_plain_sequence() {
    let mut sut = Sut::init_test(&DelegationMachine::init_state_value());
    let mut model = DelegationMachine::init_state_value();
    for grantor in [0, 2, 3, 4] {
        let t = Transition::Register {
            grantor,
            delegate: 1,
            role: Role::Ordinary,
            channel: Channel::Online,
            ends_in_days: None,
        };
        model = DelegationMachine::apply(model, &t);
        sut = Sut::apply(sut, &model, t);
        Sut::check_invariants(&sut, &model);
    }
    assert_eq!(model.expected, Err("delegate_cap_reached"));
}

trait InitValue {
    fn init_state_value() -> Model;
}

impl InitValue for DelegationMachine {
    fn init_state_value() -> Model {
        Model {
            today: 0,
            cap: Policy::default().max_ordinary_delegations_per_delegate as usize,
            delegations: vec![],
            expected: Ok(()),
        }
    }
}

// ------------------------------------- 2. interleavings of concurrent flows

/// One unit of work that can be scheduled.
#[derive(Debug, Clone)]
enum Action {
    /// A new request, handled by a worker of its own (grantor, delegate, role).
    Start(usize, usize, bool),
    /// Worker `n` (modulo the workers alive) takes its next step.
    Step(usize),
    /// Worker `n` crashes: its next step is lost.
    Crash(usize),
    /// A revocation at the counter of grantor `n`'s current delegation.
    Revoke(usize),
    /// The recovery runner takes one step over the event log.
    Runner,
    /// The runner crashes: it resumes from its checkpoint.
    RunnerCrash,
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => (0..PEOPLE.len(), 0..2usize, prop::bool::weighted(0.15))
            .prop_map(|(g, d, legal)| Action::Start(g, d, legal)),
        6 => (0..8usize).prop_map(Action::Step),
        1 => (0..8usize).prop_map(Action::Crash),
        1 => (0..PEOPLE.len()).prop_map(Action::Revoke),
        2 => Just(Action::Runner),
        1 => Just(Action::RunnerCrash),
    ]
}

/// The recovery runner: reads the log from its checkpoint and drives each
/// event's reaction to its end, at least once.
#[derive(Default)]
struct Runner {
    checkpoint: usize,
    chain: Vec<FlowCommand>,
    started: bool,
}

impl Runner {
    /// One atomic step; false when the log is fully processed.
    fn step(&mut self, world: &mut World, now: DateTime<Utc>) -> bool {
        if let Some(command) = self.chain.pop() {
            match world.execute(&command) {
                Ok(stored) => self
                    .chain
                    .extend(stored.iter().filter_map(|s| react(s, now))),
                Err(e) => self.chain.extend(after_refusal(&command, &e, now)),
            }
            return true;
        }
        if self.started {
            // The event at the checkpoint is fully handled.
            self.checkpoint += 1;
            self.started = false;
        }
        match world.log.get(self.checkpoint) {
            Some(stored) => {
                self.chain.extend(react(stored, now));
                self.started = true;
                true
            }
            None => false,
        }
    }

    fn crash(&mut self) {
        self.chain.clear();
        self.started = false;
    }
}

proptest! {
    #![proptest_config(Config { failure_persistence: None, .. Config::default() })]

    #[test]
    fn d10_invariants_hold_under_any_interleaving_and_crash(
        actions in prop::collection::vec(action(), 1..80),
        cap in 1u32..4,
    ) {
        let policy = Policy { max_ordinary_delegations_per_delegate: cap, ..Policy::default() };
        let mut world = World::new(policy);
        let now = t0();
        let mut workers: Vec<Vec<FlowCommand>> = Vec::new();
        let mut runner = Runner::default();
        let mut n = 0;
        for action in actions {
            match action {
                Action::Start(g, d, legal) => {
                    n += 1;
                    let request = RequestDelegation {
                        id: DelegationId::parse(&format!("d-{n}")).unwrap(),
                        grantor: person(g),
                        delegate: person(d),
                        role: if legal { Role::Tutor } else { Role::Ordinary },
                        channel: Channel::Counter,
                        ends_on: None,
                        meeting: None,
                        evidence: enough(Channel::Counter, if legal { Role::Tutor } else { Role::Ordinary }),
                        at: now,
                    };
                    workers.push(vec![FlowCommand::Grantor {
                        grantor: person(g),
                        command: request.issued_by(Issuer::operator("op-test")),
                    }]);
                }
                Action::Step(i) if !workers.is_empty() => {
                    let i = i % workers.len();
                    if let Some(command) = workers[i].pop() {
                        match world.execute(&command) {
                            Ok(stored) => workers[i].extend(stored.iter().filter_map(|s| react(s, now))),
                            Err(e) => workers[i].extend(after_refusal(&command, &e, now)),
                        }
                    }
                }
                Action::Crash(i) if !workers.is_empty() => {
                    let i = i % workers.len();
                    workers[i].clear();
                }
                Action::Revoke(g) => {
                    if let Some(d) = world.grantor(&person(g)).current(now) {
                        workers.push(vec![FlowCommand::Grantor {
                            grantor: person(g),
                            command: GrantorCommand::Revoke {
                                id: d.id.clone(),
                                channel: RevocationChannel::Counter,
                                at: now,
                                by: Issuer::operator("op-test"),
                            },
                        }]);
                    }
                }
                Action::Runner => { runner.step(&mut world, now); }
                Action::RunnerCrash => runner.crash(),
                _ => {}
            }
            world.check_invariants(now);
        }
        // Restart: the runner catches up with the whole log.
        runner.crash();
        let mut steps = 0;
        while runner.step(&mut world, now) {
            world.check_invariants(now);
            steps += 1;
            prop_assert!(steps < 100_000, "the runner does not converge");
        }
        // Every flow has ended...
        for d in world.all_delegations() {
            prop_assert!(d.stage != Stage::Pending, "{} left pending", d.id);
        }
        // ...and the seats are exactly the live delegations.
        let mut seats = BTreeMap::new();
        for (code, (delegate, _)) in &world.delegates {
            for id in delegate.seats().keys() {
                seats.insert(id.clone(), code.clone());
            }
        }
        let mut live = BTreeMap::new();
        for d in world.all_delegations() {
            if d.is_live(now) {
                live.insert(d.id.clone(), d.delegate.clone());
            }
        }
        prop_assert_eq!(seats, live);
        world.check_replay();
    }
}

/// D11: the documents a registration on `channel` needs for `role`, by
/// digest (the rules do not read the store).
fn enough(channel: Channel, role: Role) -> deleghe::domain::delegation::Evidence {
    use deleghe::domain::delegation::{counter_forms, Evidence, EvidenceDocument};
    use deleghe::domain::document::{DocumentDigest, DocumentKind};
    let doc = |kind, c: char| EvidenceDocument {
        kind,
        sha256: DocumentDigest::parse(&c.to_string().repeat(64)).unwrap(),
    };
    Evidence::new(match channel {
        Channel::Online => vec![doc(DocumentKind::IdentityDocument, 'a')],
        Channel::Counter => vec![
            doc(counter_forms(role)[0], 'b'),
            doc(DocumentKind::IdentityDocument, 'a'),
        ],
        Channel::Pec => vec![doc(DocumentKind::Pec, 'c')],
        Channel::WebMeeting => vec![
            doc(DocumentKind::Aa08, 'd'),
            doc(DocumentKind::IdentityDocument, 'e'),
        ],
    })
}
