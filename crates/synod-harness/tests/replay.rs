//! Every trace in `models/traces/` replayed against production replicas (real redb storage in
//! a temporary directory, every message through the wire codec, crashes reopening storage), and
//! proof that a divergence is caught and reported at its step.

use std::path::PathBuf;
use synod_check::trace::{Step, Trace};
use synod_core::{Ballot, NodeId};
use synod_harness::trace_replay::{replay, replay_file, ReplayError};

fn traces_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/traces")
}

fn trace_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(traces_dir())
        .expect("models/traces exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_committed_trace_replays_on_the_production_replica() {
    let files = trace_files();
    assert!(
        files.iter().any(|f| f.ends_with("seed-athens-elanor.json")),
        "the seed's trace is committed"
    );
    let mut failures = Vec::new();
    for file in &files {
        let dir = tempfile::tempdir().unwrap();
        if let Err(e) = replay_file(file, dir.path()) {
            failures.push(format!("{}: {e}", file.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} traces diverge:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

fn seed() -> Trace<String> {
    let text = std::fs::read_to_string(traces_dir().join("seed-athens-elanor.json")).unwrap();
    Trace::from_json(&text).unwrap()
}

#[test]
fn an_altered_expectation_is_reported_at_its_step() {
    let mut trace = seed();
    // Claim that at T4 Cyrene (node 3) still holds Athens's promise [1,a] rather than [1,e].
    let t4 = trace.step_labelled("T4").expect("T4 is annotated");
    let expect = trace.steps[t4].expect.as_mut().unwrap();
    expect.nodes.get_mut(&NodeId(3)).unwrap().promised = Ballot::new(1, NodeId(1));
    let dir = tempfile::tempdir().unwrap();
    match replay(&trace, dir.path()) {
        Err(ReplayError::Diverged(d)) => {
            assert_eq!(d.step, t4, "{d}");
            assert_eq!(d.trace, "seed-athens-elanor");
            // In the counterexample notation of docs/model.md, not Rust's Debug.
            assert_eq!(d.what, "state of n3", "{d}");
            assert!(d.expected.starts_with("promised [1,1], accepted "), "{d}");
            assert!(d.actual.starts_with("promised [1,5], accepted "), "{d}");
            assert!(!d.to_string().contains("NodeId"), "{d}");
        }
        other => panic!("expected a divergence at step {t4}, got {other:?}"),
    }
}

#[test]
fn an_altered_output_is_reported_at_its_step() {
    let mut trace = seed();
    let last = trace.steps.len() - 1;
    // Drop the expected outputs of the last commit delivery (a Learned): the replica still emits it.
    trace.steps[last].expect.as_mut().unwrap().outputs = Some(Vec::new());
    let dir = tempfile::tempdir().unwrap();
    match replay(&trace, dir.path()) {
        Err(ReplayError::Diverged(d)) => {
            assert_eq!((d.step, d.what.as_str()), (last, "outputs"), "{d}");
            assert_eq!(d.expected, "no outputs", "{d}");
            assert!(d.actual.contains("learned '"), "{d}");
        }
        other => panic!("expected a divergence, got {other:?}"),
    }
}

#[test]
fn a_message_that_was_never_sent_cannot_be_delivered() {
    let mut trace = seed();
    let Step::Deliver { msg, .. } = &mut trace.steps[1].step else {
        panic!("step 1 of the seed delivers Athens's prepare");
    };
    *msg = synod_core::Message::Prepare {
        ballot: Ballot::new(9, NodeId(1)),
    };
    let dir = tempfile::tempdir().unwrap();
    match replay(&trace, dir.path()) {
        Err(ReplayError::Diverged(d)) => {
            assert_eq!(d.step, 1, "{d}");
            assert_eq!(d.expected, "Prepare [9,1] was sent", "{d}");
        }
        other => panic!("expected a divergence, got {other:?}"),
    }
}

#[test]
fn a_corrupt_trace_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.json");
    std::fs::write(&file, "{\"version\": 1, \"name\": ").unwrap();
    let err = replay_file(&file, dir.path()).unwrap_err();
    assert!(matches!(err, ReplayError::Trace { .. }), "{err}");
    assert!(err.to_string().contains("broken.json"), "{err}");
}
