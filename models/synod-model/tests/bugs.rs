//! The checker catches protocol bugs: each buggy test double (see `synod_model::bugs`) must give
//! FAIL on agreement, with a short counterexample that the trace export can write.

use synod_check::trace::{Step, Trace};
use synod_core::FastPaths;
use synod_model::check::{self, CheckOptions, Strategy, Verdict};
use synod_model::chosen_protocol::ChosenProtocol;
use synod_model::counterexample::{listing, to_trace};
use synod_model::model;
use synod_model::script::parse_scripts;
use synod_model::ModelConfig;

/// Checks `cfg` with `protocol` (one thread: a deterministic path); returns `property`'s
/// verdict, counterexample length, listing and trace.
fn property_of(
    cfg: &ModelConfig,
    protocol: ChosenProtocol,
    property: &str,
) -> (Verdict, usize, String, Option<Trace<String>>) {
    let model = model::build(cfg, protocol).unwrap();
    let options = CheckOptions {
        threads: 1,
        ..CheckOptions::default()
    };
    let report = check::run(model.clone(), &options, |_| {});
    let result = report.results.iter().find(|r| r.name == property).unwrap();
    match &result.path {
        Some(path) => (
            result.verdict,
            path.clone().into_actions().len(),
            listing(&model, path),
            Some(to_trace(&model, property, "test", path)),
        ),
        None => (result.verdict, 0, String::new(), None),
    }
}

/// [`property_of`] for `agreement`.
fn agreement_of(
    cfg: &ModelConfig,
    protocol: ChosenProtocol,
) -> (Verdict, usize, String, Option<Trace<String>>) {
    property_of(cfg, protocol, "agreement")
}

#[test]
fn acceptor_accepting_below_its_promise_breaks_agreement() {
    let (verdict, steps, text, trace) = agreement_of(
        &ModelConfig::consensus(3, 2, 1),
        ChosenProtocol::AcceptBelowPromise,
    );
    assert_eq!(verdict, Verdict::Fail, "{text}");
    // (stateright reports its last discovery, cut at the first violation: short, not shortest.)
    assert!(steps <= 10, "short counterexample expected:\n{text}");
    assert!(text.contains("'a' at [1,1], 'b' at [1,2]"), "{text}");
    let trace = trace.unwrap();
    assert!(trace
        .steps
        .iter()
        .any(|s| matches!(s.step, Step::Deliver { .. })));
    // The trace file text is valid in the core's format.
    assert_eq!(Trace::<String>::from_json(&trace.to_json()).unwrap(), trace);
}

#[test]
fn proposer_ignoring_promised_values_breaks_agreement() {
    let (verdict, steps, text, _) = agreement_of(
        &ModelConfig::consensus(3, 2, 1),
        ChosenProtocol::IgnorePromisedValues,
    );
    assert_eq!(verdict, Verdict::Fail, "{text}");
    assert!(steps <= 8, "short counterexample expected:\n{text}");
}

#[test]
fn replying_before_persisting_breaks_agreement_after_a_crash() {
    let cfg = ModelConfig {
        crashes: 1,
        ..ModelConfig::consensus(3, 2, 1)
    };
    let (verdict, steps, text, trace) = agreement_of(&cfg, ChosenProtocol::ReplyBeforePersist);
    assert_eq!(verdict, Verdict::Fail, "{text}");
    assert!(steps <= 10, "short counterexample expected:\n{text}");
    let trace = trace.unwrap();
    assert!(
        trace
            .steps
            .iter()
            .any(|s| matches!(s.step, Step::Crash { .. })),
        "the counterexample needs a crash:\n{text}"
    );
    // Without crashes the same bug is invisible: persistence only matters across a crash.
    let (verdict, ..) = agreement_of(
        &ModelConfig::consensus(3, 2, 1),
        ChosenProtocol::ReplyBeforePersist,
    );
    assert_eq!(verdict, Verdict::Pass);
}

#[test]
fn a_proposer_claiming_its_own_value_breaks_learned_is_chosen() {
    // The model forgets a retired node's reply once it can no longer break a property; a wrong
    // one must survive that normalization and be reported.
    let model = model::build(
        &ModelConfig::consensus(3, 2, 1),
        ChosenProtocol::ClaimOwnValue,
    )
    .unwrap();
    let report = check::run(model, &CheckOptions::default(), |_| {});
    let verdict = |name| {
        report
            .results
            .iter()
            .find(|r| r.name == name)
            .unwrap()
            .verdict
    };
    assert_eq!(verdict("learned is chosen"), Verdict::Fail);
    // The run stops at the first failure, so agreement is unproven but not broken.
    assert_ne!(verdict("agreement"), Verdict::Fail);
}

#[test]
fn a_retried_propose_once_that_reapplies_freely_breaks_linearizability() {
    // The rule before the fix: a retried ProposeOnce applied "set if empty" afresh. Its value is
    // chosen, overwritten by the other client, and the retry reports losing to the overwrite (or,
    // after a delete, sets it again). The CI configuration `once:a;put:b` with only the first
    // client retrying is the smallest that holds the bug (tests/ci_configs.rs proves the fixed
    // core on it).
    let cfg = ModelConfig {
        rounds_by_node: vec![2, 1],
        ..ModelConfig::register(3, parse_scripts("once:a;put:b").unwrap(), 1)
    };
    let model = model::build(&cfg, ChosenProtocol::RetryReappliesOnce).unwrap();
    let options = CheckOptions {
        strategy: Strategy::Dfs,
        threads: 1,
        ..CheckOptions::default()
    };
    let report = check::run(model.clone(), &options, |_| {});
    let result = report
        .results
        .iter()
        .find(|r| r.name == "linearizable")
        .unwrap();
    assert_eq!(result.verdict, Verdict::Fail);
    let text = listing(&model, result.path.as_ref().unwrap());
    assert!(text.contains("request once:a"), "{text}");
    assert!(text.contains("written (previous 'a')"), "{text}");
    // The same configuration with the shipped core passes (pinned in tests/ci_configs.rs).
}

/// Checks register `scripts` with the shortcuts `fast` and `protocol`; returns the
/// `linearizable` verdict and the counterexample's listing.
fn linearizable_of(scripts: &str, fast: FastPaths, protocol: ChosenProtocol) -> (Verdict, String) {
    let cfg = ModelConfig::register(3, parse_scripts(scripts).unwrap(), 1).with_fast(fast);
    let (verdict, _, text, _) = property_of(&cfg, protocol, "linearizable");
    (verdict, text)
}

#[test]
fn a_read_answering_on_differing_reports_breaks_linearizability() {
    // The read quorum must report one proposal: a read that answers once enough acceptors
    // *answered* returns its own node's stale value after another node's CAS has completed.
    // The shipped core passes this configuration (pinned in tests/ci_configs.rs).
    let reads = FastPaths {
        writes: false,
        reads: true,
    };
    let (verdict, text) = linearizable_of(
        "put:a,read;cas:a:b",
        reads,
        ChosenProtocol::ReadAcceptsMismatchedReports,
    );
    assert_eq!(verdict, Verdict::Fail, "{text}");
    // The stale answer comes from the reports alone: no round of the reader after its query.
    let answer = text.find("reply: read 'a'").expect("the stale answer");
    let query = text[..answer]
        .rfind("Query (read")
        .expect("a one-round-trip read");
    assert!(!text[query..answer].contains("Prepare"), "{text}");
    assert!(text[query..answer].contains("Report (read"), "{text}");
}

#[test]
fn an_acceptor_ignoring_the_next_ballot_breaks_linearizability() {
    // The reservation is only as good as the acceptors' promises of the next ballot: one that
    // accepts without promising lets another proposer write in between, and the first
    // proposer's one-round-trip CAS then applies to a value that is no longer the latest.
    let (verdict, text) = linearizable_of(
        "put:a,cas:a:b;cas:a:c",
        FastPaths::ALL,
        ChosenProtocol::AcceptIgnoresNext,
    );
    assert_eq!(verdict, Verdict::Fail, "{text}");
    assert!(
        text.contains("(and promise [2,1])"),
        "a reservation:\n{text}"
    );
    assert!(
        text.contains("request cas:a:b\n   ⇒ n1: promised [2,1]→[3,1], accepted"),
        "the CAS skipped phase 1 on the reservation:\n{text}"
    );
    // With fast writes off the same double is harmless: nothing carries a next ballot.
    let (verdict, _) = linearizable_of(
        "put:a,cas:a:b;cas:a:c",
        FastPaths::NONE,
        ChosenProtocol::AcceptIgnoresNext,
    );
    assert_eq!(verdict, Verdict::Pass);
}

#[test]
fn the_correct_core_passes_where_the_doubles_fail() {
    let (verdict, ..) = agreement_of(&ModelConfig::consensus(3, 2, 1), ChosenProtocol::Correct);
    assert_eq!(verdict, Verdict::Pass);
}
