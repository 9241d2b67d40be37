//! A downstream property test, written only with the public APIs of
//! `deleghe-testkit`, `deleghe-adapters` and `deleghe-domain`: what an
//! embedder writes to check that their integration keeps the rules.
//!
//! Random delegation histories (the kit's strategy) run through the
//! service as its clients would (the kit's driver: the grantor online, an
//! operator at a counter, the clock moved for the passing of days); each
//! answer is compared with the kit's reference model, and after every step
//! the invariants D1, D2, D3 hold and, every request having been answered,
//! nothing is left halfway (D10).
//!
//! `cargo test --example downstream_property` runs it as a test (so does
//! `scripts/test`); `cargo run --example downstream_property` runs it and
//! says how many histories passed. An embedder puts the same in `tests/`,
//! building the service their way (their store, their policy).

use deleghe_adapters::{Deleghe, SettableClock};
use deleghe_domain::Policy;
use deleghe_testkit::drive::Driver;
use deleghe_testkit::fixtures::{people, t0};
use deleghe_testkit::invariants::Delegations;
use deleghe_testkit::model::delegation::{Model, Transition};
use deleghe_testkit::strategies::{delegation_history, policy};
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// The integration under test: here the service in memory; an embedder
/// builds theirs (`Deleghe::new(their_repository, their_policy)`).
fn integration(policy: &Policy, clock: &SettableClock) -> Deleghe {
    Deleghe::in_memory(policy.clone()).with_clock(clock.as_clock())
}

/// One history: every answer the model's, every invariant kept.
fn check(policy: &Policy, history: &[Transition]) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let clock = SettableClock::fixed(t0());
        let service = integration(policy, &clock);
        let mut model = Model::new(policy);
        let mut driver = Driver::new(clock);
        for step in history {
            model.step(step);
            let answer = driver.apply(&service, step).await;
            if answer != model.expected.map_err(str::to_owned) {
                return Err(TestCaseError::fail(format!(
                    "{step:?}: the service answered {answer:?}, the rules say {:?}",
                    model.expected
                )));
            }
            let state = Delegations::load(&service, &people(model.people))
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            state
                .check(policy, driver.now())
                .and_then(|()| state.settled())
                .map_err(|violation| TestCaseError::fail(violation.to_string()))?;
        }
        Ok(())
    })
}

/// Runs `cases` random histories, each with a random cap (D2).
fn run(cases: u32) -> Result<(), String> {
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&(policy(), delegation_history()), |(policy, history)| {
            check(&policy, &history)
        })
        .map_err(|e| e.to_string())
}

fn main() {
    let cases = 64;
    match run(cases) {
        Ok(()) => println!("{cases} random delegation histories kept D1, D2, D3 and D10"),
        Err(failure) => {
            eprintln!("{failure}");
            std::process::exit(1);
        }
    }
}

#[test]
fn d1_d2_d3_d10_hold_through_the_service_over_random_histories() {
    run(64).unwrap();
}
