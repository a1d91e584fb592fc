//! Membership change in the model (docs/model.md, *Membership change*): growing 3 → 4 with a
//! writer and a racing second proposer, and replacing a member that crashes for good with a
//! writer and a reader, PASS exhaustively (pinned counts); the `keep-old-quorums` double FAILs,
//! and the `skip-catch-up` double FAILs both when searched and on a guided path; the checked
//! model's reductions keep every observation of the faithful one. The larger replacements are
//! `synod-model membership` commands (docs/model.md), e.g.
//!
//!     synod-model membership --scenario replace-crashed --strategy dfs --timeout 1800
//!
//! and `synod-model check --preset membership` runs them in turn.

use stateright::Model;
use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use synod_model::check::Verdict;
use synod_model::membership::guided;
use synod_model::membership::model::{describe, Action};
use synod_model::membership::quorum::MembershipQuorumModel;
use synod_model::membership::run::{check, MembershipReport};
use synod_model::membership::state::MembershipState;
use synod_model::membership::{MembershipBug, MembershipConfig, MembershipModel, Scenario};
use synod_model::walk::each_reachable_state;

/// Checks `cfg` (breadth-first, two threads, no time bound), prints the report and asserts its
/// verdict.
fn check_expecting(cfg: &MembershipConfig, verdict: Verdict) -> MembershipReport {
    let r = check(cfg, 2, None);
    println!("{}", r.render());
    assert_eq!(r.verdict(), verdict, "{}", r.render());
    r
}

/// Checks `cfg` (breadth-first, two threads, no time bound) and asserts an exhaustive PASS with
/// `states` unique states: a change to the state space shows up here (update the count
/// deliberately, with the reason, in docs/model.md too).
fn assert_passes_with(cfg: MembershipConfig, states: usize) {
    let r = check_expecting(&cfg, Verdict::Pass);
    assert!(r.exhaustive);
    assert_eq!(
        r.unique_states,
        states,
        "the pinned count moved: {}",
        r.render()
    );
}

#[test]
fn a_writer_while_a_node_joins_passes_exhaustively() {
    let mut cfg = MembershipConfig::new(Scenario::Grow);
    cfg.clients = 1;
    assert_passes_with(cfg, 1_069);
}

/// Issue 18's first configuration: 3 → 4 with a writer and a racing second proposer, timers,
/// nodes lagging behind the admin, the duplicating network.
#[test]
fn a_writer_and_a_racing_proposer_while_a_node_joins_pass_exhaustively() {
    assert_passes_with(MembershipConfig::new(Scenario::Grow), 179_828);
}

/// The replacement of a member that may crash for good at any point after the first write was
/// answered, with a writer and a reader at another node, and the catch-up (no round timers, no
/// lagging nodes: the CI-sized cut of the replacement; docs/model.md gives the larger ones).
fn replacement_after_a_write() -> MembershipConfig {
    MembershipConfig {
        timeouts: false,
        lagging: false,
        change_after_first_write: true,
        ..MembershipConfig::new(Scenario::ReplaceCrashed)
    }
}

#[test]
fn replacing_a_crashed_member_with_a_writer_and_a_reader_passes_exhaustively() {
    assert_passes_with(replacement_after_a_write(), 108_559);
}

/// The same space with the admin skipping the catch-up: the search finds a read that misses the
/// chosen write.
#[test]
fn skipping_the_catch_up_fails_when_searched() {
    let cfg = MembershipConfig {
        bug: Some(MembershipBug::SkipCatchUp),
        ..replacement_after_a_write()
    };
    let r = check_expecting(&cfg, Verdict::Fail);
    let (property, path) = r.counterexample.expect("a counterexample");
    assert_eq!(property, "linearizable");
    // The read goes wrong only once the admin installed the step that needed the catch-up.
    let steps = MembershipModel::new(cfg).steps;
    let needing = 1 + steps.iter().position(|s| s.catch_up_first).unwrap();
    let advances = path.iter().filter(|a| **a == Action::Advance).count();
    assert!(
        advances >= needing,
        "{advances} steps started, the catch-up is before step {needing}"
    );
}

#[test]
fn a_node_that_keeps_the_old_quorum_sizes_fails() {
    let mut cfg = MembershipConfig::new(Scenario::Grow);
    cfg.clients = 1;
    cfg.bug = Some(MembershipBug::KeepOldQuorums);
    let r = check_expecting(&cfg, Verdict::Fail);
    let (property, _) = r.counterexample.expect("a counterexample");
    assert_eq!(property, "learned is chosen");
}

/// The guided replacement (`membership::guided`, also exported as a trace): checks each phase
/// got where it should; returns whether the history stayed linearizable, and the path taken.
fn guided_replacement(bug: Option<MembershipBug>) -> (bool, Vec<Action>) {
    let walk = guided::replacement(bug);
    assert!(
        guided::answered(&walk.written, 0),
        "the write completes through nodes 1 and 3"
    );
    assert!(walk.changed.nodes[2].crashed, "node 3 crashed for good");
    assert_eq!(
        walk.changed.admin.generation,
        walk.model.last_generation(),
        "the change finished"
    );
    assert!(
        guided::answered(&walk.read, 1),
        "the read completes through nodes 2 and 4"
    );
    (walk.read.linearizable, walk.path)
}

#[test]
fn skipping_the_catch_up_loses_a_chosen_write_on_a_guided_path() {
    let (linearizable, path) = guided_replacement(Some(MembershipBug::SkipCatchUp));
    let listing: Vec<String> = path.iter().map(describe).collect();
    assert!(
        !linearizable,
        "the read should miss put:a without a catch-up:\n{}",
        listing.join("\n")
    );
    let (linearizable, path) = guided_replacement(None);
    let listing: Vec<String> = path.iter().map(describe).collect();
    assert!(
        linearizable,
        "with the catch-up the read sees put:a:\n{}",
        listing.join("\n")
    );
    assert!(
        path.contains(&Action::CatchUp),
        "the correct change ran its catch-up"
    );
}

/// What the properties can see of a state: each node's generation, durable acceptor state and
/// learned proposal, who crashed, the admin, the clients, every acceptance and the history.
fn observation(s: &MembershipState) -> u64 {
    let nodes: Vec<_> = s
        .nodes
        .iter()
        .map(|slot| {
            let node = slot.node.as_ref().map(|n| {
                (
                    n.generation(),
                    n.acceptor_state().clone(),
                    n.learned().cloned(),
                )
            });
            (node, slot.crashed)
        })
        .collect();
    let mut hasher = DefaultHasher::new();
    (nodes, &s.admin, &s.clients, &s.accepts, &s.history).hash(&mut hasher);
    hasher.finish()
}

/// The reachable observations of `model`, and how many states it has.
fn observations<M: Model<State = MembershipState>>(model: &M) -> (HashSet<u64>, usize) {
    let mut seen = HashSet::new();
    let states = each_reachable_state(model, |s| {
        seen.insert(observation(s));
    });
    (seen, states)
}

/// The reductions ([`synod_model::membership::reduction`]) and quorum transitions merge states
/// but lose nothing the properties read: the faithful model, the reduced one and the reduced one
/// with quorum transitions reach the same observations. The configurations are ones the faithful
/// model can explore: growing with one writer (accept quorums of three of four members, so
/// `Accepted` tallies need two votes from others), and the replacement with its catch-up read
/// alone (a phase-1 quorum of three of four, lagging nodes adopting generations from `Stale`,
/// the crash at any point).
#[test]
fn the_membership_reductions_keep_every_observation() {
    let mut grow = MembershipConfig::new(Scenario::Grow);
    grow.clients = 1;
    let mut replace = MembershipConfig::new(Scenario::ReplaceCrashed);
    replace.clients = 0;
    for cfg in [grow, replace] {
        let (faithful, all) = observations(&MembershipModel::new(cfg.clone()));
        let (reduced, fewer) = observations(&MembershipModel::reduced(cfg.clone()));
        let quorum = MembershipQuorumModel::new(MembershipModel::reduced(cfg.clone()));
        let (grouped, fewest) = observations(&quorum);
        println!("{}: {all} / {fewer} / {fewest} states", cfg.describe());
        assert_eq!(
            faithful,
            reduced,
            "{}: the reductions lost or added an observation",
            cfg.describe()
        );
        assert_eq!(
            faithful,
            grouped,
            "{}: quorum transitions lost or added an observation",
            cfg.describe()
        );
        assert!(
            fewer < all && fewest < fewer,
            "{}: {all} / {fewer} / {fewest}",
            cfg.describe()
        );
    }
}
