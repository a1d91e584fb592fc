//! Randomised safety simulation (proptest): 3 and 5 nodes (and a flexible-quorum cluster), 2–3
//! competing proposers, random schedules of delivery, duplication, loss, reordering, timeouts and
//! crash-restart (acceptor state survives, proposer state does not). After **every** step:
//! agreement (at most one value chosen, chosen = a phase-2 quorum at one ballot), validity, and
//! learned = chosen; every reply names the chosen value. A failure shrinks to a minimal schedule,
//! which proptest prints.

mod common;

use common::schedule::{fault, Fault};
use common::{id, Cluster};
use proptest::prelude::*;
use synod_core::{Operation, Outcome};

/// One step of a schedule: a network or nemesis fault, or a proposer asking again.
#[derive(Clone, Debug)]
enum Action {
    Fault(Fault),
    Repropose(usize),
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        22 => fault().prop_map(Action::Fault),
        1 => (0usize..64).prop_map(Action::Repropose),
    ]
}

fn value_of(proposer: usize) -> u32 {
    100 + proposer as u32
}

/// Runs one schedule and checks the invariants after every step.
fn run(
    n: usize,
    q1: usize,
    q2: usize,
    proposers: usize,
    schedule: &[Action],
) -> Result<(), String> {
    let mut c = Cluster::<u32>::new(n, q1, q2, 3);
    let proposed: Vec<u32> = (0..proposers).map(value_of).collect();
    for p in 0..proposers {
        c.request(id(p), p as u64, Operation::ProposeOnce(value_of(p)));
    }
    for (step, a) in schedule.iter().enumerate() {
        match a {
            Action::Fault(f) => c.apply_fault(f),
            Action::Repropose(i) => {
                let p = i % proposers;
                c.request(
                    id(p),
                    1000 + step as u64,
                    Operation::ProposeOnce(value_of(p)),
                );
            }
        }
        c.check_single_decree(&proposed)
            .map_err(|e| format!("after step {step} ({a:?}): {e}"))?;
        check_replies(&c).map_err(|e| format!("after step {step} ({a:?}): {e}"))?;
    }
    Ok(())
}

/// Every successful reply names the chosen value, and says "won" exactly when it is the
/// caller's own.
fn check_replies(c: &Cluster<u32>) -> Result<(), String> {
    for (node, request, result) in &c.replies {
        if let Ok(outcome) = result {
            let Outcome::Chosen { value, won } = outcome else {
                return Err(format!("ProposeOnce answered with {outcome:?}"));
            };
            if !c.oracle.chosen().any(|p| p.value == Some(*value)) {
                return Err(format!(
                    "{node} told request {request:?} that {value} was chosen; it was not"
                ));
            }
            let own = value_of(node.0 as usize - 1);
            if *won != (*value == own) {
                return Err(format!("{node}: won={won} but chosen {value}, own {own}"));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5000, ..ProptestConfig::default() })]

    #[test]
    fn three_nodes_stay_safe(proposers in 2usize..=3, schedule in prop::collection::vec(action(), 1..80)) {
        run(3, 2, 2, proposers, &schedule).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn five_nodes_stay_safe(proposers in 2usize..=3, schedule in prop::collection::vec(action(), 1..120)) {
        run(5, 3, 3, proposers, &schedule).map_err(TestCaseError::fail)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// Flexible Paxos: 5 nodes, prepare quorums of 4, accept quorums of 2.
    #[test]
    fn flexible_quorums_stay_safe(proposers in 2usize..=3, schedule in prop::collection::vec(action(), 1..120)) {
        run(5, 4, 2, proposers, &schedule).map_err(TestCaseError::fail)?;
    }
}

/// The simulation is not vacuous: with a fair schedule a value does get chosen and learned.
#[test]
fn a_fair_schedule_chooses_a_value() {
    let mut c = Cluster::<u32>::majority(3);
    c.request(id(0), 0, Operation::ProposeOnce(value_of(0)));
    c.request(id(1), 1, Operation::ProposeOnce(value_of(1)));
    let mut guard = 0;
    while !c.in_flight.is_empty() && guard < 1000 {
        c.deliver(0, false);
        guard += 1;
    }
    assert!(c.oracle.chosen().count() > 0, "something was chosen");
    c.check_single_decree(&[value_of(0), value_of(1)]).unwrap();
    assert!(!c.learned.is_empty());
}
