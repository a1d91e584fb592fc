//! The `synod-model` binary: exit codes, the result table, and counterexample trace files.

use std::process::Command;
use synod_core::trace::Trace;

fn synod_model(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_synod-model"))
        .args(args)
        .output()
        .expect("the binary runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn an_exhaustive_pass_exits_0_with_a_table() {
    let (code, text) = synod_model(&["check", "--progress", "60"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("agreement                | always    | PASS"),
        "{text}"
    );
    assert!(text.contains("explored   exhaustively"), "{text}");
}

#[test]
fn symmetry_reports_both_counts_unless_told_not_to_compare() {
    let args = ["check", "--nodes", "4", "--symmetry", "--progress", "60"];
    let (code, text) = synod_model(&args);
    assert_eq!(code, 0, "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("symmetry "))
        .unwrap_or_else(|| panic!("no symmetry line:\n{text}"));
    let counts: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(counts.len() == 2 && counts[0] < counts[1], "{line}");

    let (code, text) = synod_model(&[&args[..], &["--no-compare"]].concat());
    assert_eq!(code, 0, "{text}");
    assert!(!text.contains("comparing"), "{text}");
    let (code, _) = synod_model(&["check", "--no-compare"]);
    assert_eq!(code, 2, "--no-compare without --symmetry is a usage error");
}

#[test]
fn a_bounded_run_is_incomplete_never_pass() {
    let (code, text) = synod_model(&["check", "--max-depth", "3", "--progress", "60"]);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("agreement                | always    | INCOMPLETE"),
        "{text}"
    );
    assert!(!text.contains("| always    | PASS"), "{text}");
}

#[test]
fn a_failure_exits_1_and_writes_a_trace_file() {
    let dir = std::env::temp_dir().join(format!("synod-model-cli-{}", std::process::id()));
    let (code, text) = synod_model(&[
        "check",
        "--bug",
        "ignore-promised-values",
        "--threads",
        "1",
        "--traces",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("counterexample to 'agreement'"), "{text}");
    let file = dir.join("agreement.trace.json");
    let trace = Trace::<String>::from_json(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(trace.config.nodes.len(), 3);
    assert!(trace.steps.len() >= 4);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let (code, text) = synod_model(&["check", "--nodes", "9"]);
    assert_eq!(code, 3, "{text}");
    assert!(text.contains("nodes must be between 3 and 7"), "{text}");
    let (code, text) = synod_model(&["check", "--mode", "register", "--ops", "write:a"]);
    assert_eq!(code, 3, "{text}");
    assert!(text.contains("bad operation"), "{text}");
}
