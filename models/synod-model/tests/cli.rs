//! The `synod-model` binary: exit codes, the result table, and counterexample trace files.
//! (`check`, and `simulate`, which is never a PASS.)

use std::process::Command;
use synod_check::trace::Trace;

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

/// Runs a `check` that a bound must stop: asserts it is INCOMPLETE (exit 2, no always-property
/// PASS) and returns its output.
fn stopped_check(args: &[&str]) -> String {
    let (code, text) = synod_model(args);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("agreement                | always    | INCOMPLETE"),
        "{text}"
    );
    assert!(!text.contains("| always    | PASS"), "{text}");
    text
}

#[test]
fn a_bounded_run_is_incomplete_never_pass() {
    stopped_check(&["check", "--max-depth", "3", "--progress", "60"]);
}

/// A single depth-first worker never runs out of work, where stateright 0.31 reads its own
/// timeout: the check must stop at `--timeout` all the same, and say INCOMPLETE (a 5-node crash
/// check is minutes of work).
#[test]
fn a_timed_out_single_threaded_dfs_run_stops_and_is_incomplete() {
    let text = stopped_check(&[
        "check",
        "--nodes",
        "5",
        "--crashes",
        "1",
        "--strategy",
        "dfs",
        "--threads",
        "1",
        "--timeout",
        "1",
        "--progress",
        "60",
    ]);
    assert!(text.contains("stopped by the timeout"), "{text}");
}

/// A search that would outgrow the machine stops at the memory bound with a verdict, instead
/// of being killed by the kernel with none. A bound of 1 MB is below any process's resident
/// size, so the check stops at once (unbounded, the 2-round check takes seconds).
#[test]
fn a_run_past_its_memory_bound_stops_and_is_incomplete() {
    let text = stopped_check(&["check", "--rounds", "2", "--max-memory", "1"]);
    assert!(text.contains("max-memory=1MB"), "{text}");
    assert!(text.contains("stopped by the memory bound"), "{text}");
    let (code, text) = synod_model(&[
        "membership",
        "--scenario",
        "replace-crashed",
        "--max-memory",
        "1",
    ]);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("(not exhaustive: the memory bound)"),
        "{text}"
    );
    // Without a bound the same small check runs to the end.
    let (code, text) = synod_model(&["check", "--max-memory", "0", "--progress", "60"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("max-memory=none"), "{text}");
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

/// A fresh directory for trace files.
fn temp_dir(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("synod-model-cli-{name}-{}", std::process::id()))
}

#[test]
fn simulate_does_not_panic_where_stateright_could_not_rebuild_a_path() {
    // Issue 11: stateright's simulation checker panicked here ("Unable to reconstruct a
    // `Path`") while rebuilding the examples it had found.
    let dir = temp_dir("simulate-register");
    let (code, text) = synod_model(&[
        "simulate",
        "--mode",
        "register",
        "--ops",
        "once:a,read;delete",
        "--rounds",
        "2",
        "--runs",
        "500",
        "--seed",
        "2",
        "--traces",
        dir.to_str().unwrap(),
    ]);
    assert!(!text.contains("panicked"), "{text}");
    assert!(!text.contains("PASS"), "walks are no proof:\n{text}");
    assert!(
        text.contains("value chosen               example found ("),
        "{text}"
    );
    match code {
        0 => assert!(
            text.contains("result     no counterexample in 500 walks (not a proof"),
            "{text}"
        ),
        1 => {
            // A violation is reported as check reports it: a listing and a trace file.
            assert!(text.contains("\ncounterexample to '"), "{text}");
            assert!(text.contains("result     FAIL"), "{text}");
            assert!(std::fs::read_dir(&dir).unwrap().next().is_some(), "{text}");
        }
        _ => panic!("exit code {code}:\n{text}"),
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn simulate_reports_a_violation_with_a_listing_and_a_trace_file() {
    let dir = temp_dir("simulate-bug");
    let args = |seed: &str, runs: &str| {
        let traces = dir.to_str().unwrap().to_string();
        [
            "simulate",
            "--bug",
            "accept-below-promise",
            "--runs",
            runs,
            "--seed",
            seed,
            "--traces",
            &traces,
        ]
        .map(String::from)
    };
    let run = |seed: &str, runs: &str| {
        let args = args(seed, runs);
        synod_model(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let (code, text) = run("1", "2000");
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("agreement                  FAIL (trace "),
        "{text}"
    );
    assert!(text.contains("result     FAIL"), "{text}");
    let header = text
        .lines()
        .find(|l| l.starts_with("counterexample to 'agreement' (walk seed "))
        .unwrap_or_else(|| panic!("no listing:\n{text}"));
    assert!(
        text.contains("chosen (a phase-2 quorum accepted it"),
        "{text}"
    );
    let trace = Trace::<String>::from_json(
        &std::fs::read_to_string(dir.join("agreement.trace.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(trace.config.nodes.len(), 3);
    assert!(trace.steps.len() >= 4);

    // The walk that found it, walked alone, finds it again.
    let seed = header
        .trim_start_matches("counterexample to 'agreement' (walk seed ")
        .split(',')
        .next()
        .unwrap();
    let (again, text_again) = run(seed, "1");
    assert_eq!(again, 1, "{text_again}");
    assert!(text_again.contains(header), "{text}\n{text_again}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn quorums_that_do_not_intersect_are_refused_once_unless_explicitly_allowed() {
    let args = [
        "check",
        "--nodes",
        "4",
        "--q1",
        "2",
        "--q2",
        "2",
        "--progress",
        "60",
    ];
    let (code, text) = synod_model(&args);
    assert_eq!(code, 3, "{text}");
    assert_eq!(
        text.matches("must exceed the cluster size").count(),
        1,
        "the reason, said once:\n{text}"
    );
    // Allowed, the checker shows what the rule prevents: two values chosen.
    let traces = temp_dir("unsafe-quorums");
    let allowed = [
        "--allow-unsafe-quorums",
        "--traces",
        traces.to_str().unwrap(),
    ];
    let (code, text) = synod_model(&[&args[..], &allowed[..]].concat());
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("UNSAFE"), "{text}");
    assert!(
        text.contains("agreement                | always    | FAIL"),
        "{text}"
    );
    assert!(text.contains("counterexample to 'agreement'"), "{text}");
    assert!(traces.join("agreement.trace.json").exists(), "{text}");
    let _ = std::fs::remove_dir_all(traces);
}

#[test]
fn no_reduce_checks_the_plain_actor_model() {
    let unique = |text: &str| -> u64 {
        let line = text.lines().find(|l| l.starts_with("done")).unwrap();
        let field = line
            .split_whitespace()
            .find(|w| w.starts_with("unique="))
            .unwrap();
        field["unique=".len()..].parse().unwrap()
    };
    let args = ["check", "--proposers", "1", "--progress", "60"];
    let (code, reduced) = synod_model(&args);
    assert_eq!(code, 0, "{reduced}");
    let (code, plain) = synod_model(&[&args[..], &["--no-reduce"]].concat());
    assert_eq!(code, 0, "{plain}");
    assert!(plain.contains("reductions off"), "{plain}");
    assert!(plain.contains("explored   exhaustively"), "{plain}");
    assert!(unique(&plain) > unique(&reduced), "{plain}\n{reduced}");
}
