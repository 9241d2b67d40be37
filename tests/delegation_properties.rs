//! Property tests of the delegation rules (D1–D3, D7, D8, D10), with the
//! strategies, the reference model and the invariant checks of
//! `deleghe-testkit`.
//!
//! 1. A model-based state machine test: random sequences of registrations,
//!    revocations (online and at the counter), confirmations and time jumps
//!    over a small population run against the real aggregates and against
//!    the kit's reference model; outcomes, statuses and the invariants are
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

use chrono::{DateTime, Duration, Utc};
use cqrs_es::Aggregate;
use deleghe::domain::delegation::flow::{
    after_delegate_event, after_grantor_event, after_refusal, FlowCommand,
};
use deleghe::domain::delegation::{
    Channel, Delegate, DelegateEvent, DelegationError, DelegationId, Grantor, GrantorCommand,
    GrantorEvent, RevocationChannel, Role, Stage,
};
use deleghe::domain::time::local_date;
use deleghe::domain::{FiscalCode, Issuer, Policy};
use deleghe_testkit::drive::registration;
use deleghe_testkit::fixtures::{person, tuesday_9 as t0};
use deleghe_testkit::invariants::Delegations;
use deleghe_testkit::model::delegation::{DelegationMachine, Model, Transition};
use deleghe_testkit::strategies::{interleaving, policy, Action};
use proptest::prelude::*;
use proptest::test_runner::Config;
use proptest_state_machine::{prop_state_machine, ReferenceStateMachine, StateMachineTest};

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
    state: Delegations,
    grantor_events: BTreeMap<FiscalCode, Vec<GrantorEvent>>,
    delegate_events: BTreeMap<FiscalCode, Vec<DelegateEvent>>,
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
            state: Delegations::default(),
            grantor_events: BTreeMap::new(),
            delegate_events: BTreeMap::new(),
            log: Vec::new(),
        }
    }

    /// Runs one command atomically on its stream (what optimistic
    /// concurrency guarantees of a real store).
    fn execute(&mut self, command: &FlowCommand) -> Result<Vec<Stored>, DelegationError> {
        let sink = cqrs_es::event_sink::EventSink::default();
        let stored: Vec<Stored> = match command {
            FlowCommand::Grantor { grantor, command } => {
                let state = self.state.grantors.entry(grantor.clone()).or_default();
                let mut next = state.clone();
                self.runtime
                    .block_on(next.handle(command.clone(), &self.policy, &sink))?;
                let new = self.runtime.block_on(sink.collect());
                *state = next;
                let events = self.grantor_events.entry(grantor.clone()).or_default();
                events.extend(new.iter().cloned());
                new.into_iter().map(Stored::Grantor).collect()
            }
            FlowCommand::Delegate { delegate, command } => {
                let sink = cqrs_es::event_sink::EventSink::default();
                let state = self.state.delegates.entry(delegate.clone()).or_default();
                let mut next = state.clone();
                self.runtime
                    .block_on(next.handle(command.clone(), &self.policy, &sink))?;
                let new = self.runtime.block_on(sink.collect());
                *state = next;
                let events = self.delegate_events.entry(delegate.clone()).or_default();
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
        self.state.grantors.get(who).cloned().unwrap_or_default()
    }

    /// D1, D2, D3 at `now`, on the registered delegations and on the seats.
    fn check_invariants(&self, now: DateTime<Utc>) {
        if let Err(violation) = self.state.check(&self.policy, now) {
            panic!("{violation}");
        }
    }

    /// Replaying every stream's stored events, through JSON as a store keeps
    /// them, rebuilds the state the framework holds.
    fn check_replay(&self) {
        fn replay<A: Aggregate + Default>(events: &[A::Event]) -> A {
            let mut rebuilt = A::default();
            for e in events {
                let json = serde_json::to_string(e).unwrap();
                rebuilt.apply(serde_json::from_str(&json).unwrap());
            }
            rebuilt
        }
        for (code, state) in &self.state.grantors {
            let events = self.grantor_events.get(code).map_or(&[][..], Vec::as_slice);
            assert_eq!(
                &replay::<Grantor>(events),
                state,
                "replay of grantor {code}"
            );
        }
        for (code, state) in &self.state.delegates {
            let events = self
                .delegate_events
                .get(code)
                .map_or(&[][..], Vec::as_slice);
            assert_eq!(
                &replay::<Delegate>(events),
                state,
                "replay of delegate {code}"
            );
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
        let outcome = match t {
            Transition::Register {
                grantor, channel, ..
            } => {
                sut.next_id += 1;
                let id = DelegationId::parse(&format!("d-{}", sut.next_id)).unwrap();
                let request = registration(&t, id.clone(), now).unwrap();
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
        // Quiescent (D10): every seat belongs to a delegation in force and
        // vice versa, nothing pending.
        if let Err(violation) = sut.world.state.settled() {
            panic!("{violation}");
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
    let mut model = Model::default();
    let mut sut = Sut::init_test(&model);
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

// ------------------------------------- 2. interleavings of concurrent flows

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
        actions in interleaving(),
        policy in policy(),
    ) {
        let mut world = World::new(policy);
        let now = t0();
        let mut workers: Vec<Vec<FlowCommand>> = Vec::new();
        let mut runner = Runner::default();
        let mut n = 0;
        for action in actions {
            match action {
                Action::Start(g, d, legal) => {
                    n += 1;
                    let at_the_counter = Transition::Register {
                        grantor: g,
                        delegate: d,
                        role: if legal { Role::Tutor } else { Role::Ordinary },
                        channel: Channel::Counter,
                        ends_in_days: None,
                    };
                    let id = DelegationId::parse(&format!("d-{n}")).unwrap();
                    let request = registration(&at_the_counter, id, now).unwrap();
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
        // Every flow has ended, and the seats are exactly the live
        // delegations (D10).
        if let Err(violation) = world.state.settled() {
            return Err(TestCaseError::fail(violation.to_string()));
        }
        world.check_replay();
    }
}
