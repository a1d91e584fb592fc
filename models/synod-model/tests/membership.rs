//! Membership change in the model (docs/model.md, *Membership change*): grow 3 → 4 with one
//! writer PASSes exhaustively (pinned), the `keep-old-quorums` double FAILs, and the
//! `skip-catch-up` double FAILs on a guided path. The larger scenarios do not finish yet (their
//! report says INCOMPLETE, never PASS); `synod-model membership` measures them, e.g.
//!
//!     synod-model membership --scenario replace-crashed --bug skip-catch-up --strategy dfs \
//!       --timeout 300
//!
//! and `synod-model check --preset membership` runs the larger ones in turn.

use synod_model::membership::guided;
use synod_model::membership::model::{describe, Action};
use synod_model::membership::run::check;
use synod_model::membership::{MembershipBug, MembershipConfig, Scenario};

#[test]
fn a_writer_while_a_node_joins_passes_exhaustively() {
    let mut cfg = MembershipConfig::new(Scenario::Grow);
    cfg.clients = 1;
    let r = check(&cfg, 2, None);
    assert_eq!(
        r.verdict(),
        synod_model::check::Verdict::Pass,
        "{}",
        r.render()
    );
    assert!(r.exhaustive);
    assert_eq!(
        r.unique_states,
        21_680,
        "the pinned count moved: {}",
        r.render()
    );
}

#[test]
fn a_node_that_keeps_the_old_quorum_sizes_fails() {
    let mut cfg = MembershipConfig::new(Scenario::Grow);
    cfg.clients = 1;
    cfg.bug = Some(MembershipBug::KeepOldQuorums);
    let r = check(&cfg, 2, None);
    println!("{}", r.render());
    assert_eq!(
        r.verdict(),
        synod_model::check::Verdict::Fail,
        "{}",
        r.render()
    );
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
