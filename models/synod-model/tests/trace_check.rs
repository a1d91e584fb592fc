//! `trace check`: every committed trace replays in the model, and a tampered trace is reported
//! at the step that was tampered with (an altered expectation, and a message that was never sent).

use std::path::PathBuf;
use synod_check::trace::Trace;
use synod_core::{Ballot, Message, NodeId};
use synod_model::trace_check::{check_trace, CheckError};

fn traces_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../traces")
}

fn load(name: &str) -> Trace<String> {
    let text = std::fs::read_to_string(traces_dir().join(name)).unwrap();
    Trace::from_json(&text).unwrap()
}

const SAMPLE: &str = "consensus-3n-2p--minority-value-recovered.json";

#[test]
fn every_exported_trace_validates_in_the_model() {
    let mut checked = 0;
    for entry in std::fs::read_dir(traces_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.contains("--") {
            continue; // hand-written traces are checked by their own test
        }
        let trace = load(&name);
        match check_trace(&trace) {
            Ok(steps) => assert_eq!(steps, trace.steps.len()),
            Err(e) => panic!("{name}: {e}"),
        }
        checked += 1;
    }
    assert!(checked >= 12, "only {checked} exported traces");
}

#[test]
fn an_altered_node_expectation_is_reported_at_its_step() {
    let mut trace = load(SAMPLE);
    let step = 4;
    let expect = trace.steps[step].expect.as_mut().unwrap();
    let (id, state) = expect.nodes.iter_mut().next().unwrap();
    let id = *id;
    state.promised = Ballot::new(7, NodeId(3));
    match check_trace(&trace) {
        Err(CheckError::Diverged(d)) => {
            assert_eq!(d.step, step, "{d}");
            assert_eq!(d.what, format!("state of node {id}"), "{d}");
            // In the notation of the listings, not Rust's Debug output.
            assert!(d.expected.starts_with("promised [7,3], "), "{d}");
            assert!(d.actual.starts_with("promised ["), "{d}");
            assert!(!d.actual.contains("Ballot"), "{d}");
        }
        other => panic!("expected a divergence at step {step}, got {other:?}"),
    }
}

#[test]
fn an_altered_output_is_reported_at_its_step() {
    let mut trace = load(SAMPLE);
    let step = 3;
    trace.steps[step].expect.as_mut().unwrap().outputs = Some(Vec::new());
    match check_trace(&trace) {
        Err(CheckError::Diverged(d)) => {
            assert_eq!(d.step, step, "{d}");
            assert_eq!(d.what, "outputs", "{d}");
            assert_eq!(d.expected, "no outputs", "{d}");
            assert!(!d.actual.contains("Broadcast {"), "{d}");
        }
        other => panic!("expected a divergence at step {step}, got {other:?}"),
    }
}

#[test]
fn a_message_never_sent_is_not_an_enabled_step() {
    let mut trace = load(SAMPLE);
    let step = trace
        .steps
        .iter()
        .position(|s| matches!(s.step, synod_check::trace::Step::Deliver { .. }))
        .unwrap();
    if let synod_check::trace::Step::Deliver { msg, .. } = &mut trace.steps[step].step {
        *msg = Message::Prepare {
            ballot: Ballot::new(9, NodeId(1)),
        };
    }
    match check_trace(&trace) {
        Err(CheckError::Diverged(d)) => {
            assert_eq!(d.step, step, "{d}");
            assert!(d.actual.contains("not enabled"), "{d}");
        }
        other => panic!("expected a divergence at step {step}, got {other:?}"),
    }
}

#[test]
fn the_seeds_hand_written_trace_validates_in_the_model() {
    // docs/pattern.md's T1-T8: requests at nodes 1, 5 and 3 (Cyrene's "carol" only at T8, as [3,c]),
    // string values, drops, two crash-restarts, and the node-state table after each of T1-T8.
    let trace = load("seed-athens-elanor.json");
    assert_eq!(check_trace(&trace).unwrap(), trace.steps.len());
}

#[test]
fn an_altered_seed_table_is_reported_at_its_step() {
    let mut trace = load("seed-athens-elanor.json");
    let t4 = trace.step_labelled("T4").expect("T4 is annotated");
    let expect = trace.steps[t4].expect.as_mut().unwrap();
    expect.nodes.get_mut(&NodeId(3)).unwrap().promised = Ballot::new(1, NodeId(1));
    match check_trace(&trace) {
        Err(CheckError::Diverged(d)) => {
            assert_eq!(d.step, t4, "{d}");
            assert_eq!(d.what, "state of node 3", "{d}");
        }
        other => panic!("expected a divergence at step {t4}, got {other:?}"),
    }
}

#[test]
fn the_cli_names_the_divergent_step_and_exits_1() {
    let mut trace = load(SAMPLE);
    let expect = trace.steps[4].expect.as_mut().unwrap();
    expect.nodes.values_mut().next().unwrap().promised = Ballot::new(7, NodeId(3));
    let file = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tampered-trace.json");
    std::fs::write(&file, trace.to_json()).unwrap();
    let bin = env!("CARGO_BIN_EXE_synod-model");
    let good = std::process::Command::new(bin)
        .args(["trace", "check"])
        .arg(traces_dir().join(SAMPLE))
        .output()
        .unwrap();
    assert_eq!(good.status.code(), Some(0));
    let bad = std::process::Command::new(bin)
        .args(["trace", "check"])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("diverges at step 4"), "{stdout}");
}
