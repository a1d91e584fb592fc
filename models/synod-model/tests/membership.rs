//! Membership change in the model (docs/model.md): the scenarios run with a time bound. On this
//! branch they do not yet finish exhaustively (the report says INCOMPLETE, never PASS), so the
//! probe is ignored by default: `PROBE=grow,2,t,l cargo test -p synod-model --test membership
//! -- --ignored --nocapture` (scenario, clients, `t` = timeouts fire, `l` = nodes may lag, and
//! optionally a double and the time bound in seconds: `PROBE=replace,2,-,-,skip-catch-up,300,dfs`;
//! `dfs` searches depth-first).

use synod_model::membership::run::{check, check_by, Search};
use synod_model::membership::{MembershipBug, MembershipConfig, Scenario};

#[test]
#[ignore = "does not finish exhaustively yet: a measurement, not a proof"]
fn probe() {
    let spec = std::env::var("PROBE").unwrap_or_else(|_| "grow,1,t,l".into());
    let args: Vec<&str> = spec.split(',').collect();
    let scenario = if args[0] == "grow" {
        Scenario::Grow
    } else {
        Scenario::ReplaceCrashed
    };
    let mut cfg = MembershipConfig::new(scenario);
    cfg.clients = args[1].parse().unwrap();
    cfg.timeouts = args[2] == "t";
    cfg.lagging = args[3] == "l";
    cfg.bug = match args.get(4).copied() {
        Some("skip-catch-up") => Some(MembershipBug::SkipCatchUp),
        Some("keep-old-quorums") => Some(MembershipBug::KeepOldQuorums),
        _ => None,
    };
    let secs = args.get(5).map_or(100, |s| s.parse().unwrap());
    let search = match args.get(6).copied() {
        Some("dfs") => Search::DepthFirst,
        _ => Search::BreadthFirst,
    };
    let r = check_by(&cfg, 2, Some(std::time::Duration::from_secs(secs)), search);
    println!("{}", r.render());
}

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
