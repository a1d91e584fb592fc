//! Machine-readable verdicts: what `synod-model check --json FILE` and `traces check --json
//! FILE` write, so that a CI system (or a script) reads the same verdicts the tables print.
//!
//! One [`CheckRun`] holds every check of a command: one for a single configuration, one per
//! proof for `check --preset`. Each [`CheckRecord`] carries its configuration, its counts
//! (unique and total states, depth, time, the process's peak resident memory where the system
//! tells it) and one [`PropertyRecord`] per property with its verdict, trace file, listing and
//! Explorer link. A [`TraceRun`] holds one [`TraceRecord`] per trace file of `traces check`.
//! Verdicts are the checker's own: INCOMPLETE stays INCOMPLETE, never PASS. [`crate::junit`]
//! renders the same records as JUnit XML; docs/ci.md documents both formats.

use crate::check::{CheckOptions, Verdict};
use crate::config::{fast_name, Mode, ModelConfig};
use crate::presets::combined_exit_code;
use serde::Serialize;
use stateright::Expectation;
use std::path::Path;

/// The `format` of a [`CheckRun`] (bumped when a field changes meaning or goes away).
pub const CHECK_FORMAT: &str = "synod-model-check/1";
/// The `format` of a [`TraceRun`].
pub const TRACES_FORMAT: &str = "synod-model-traces-check/1";

/// Every check of one `synod-model check` command.
#[derive(Clone, Debug, Serialize)]
pub struct CheckRun {
    /// [`CHECK_FORMAT`].
    pub format: &'static str,
    /// PASS only if every check PASSed; else FAIL if any FAILed; else INCOMPLETE.
    pub verdict: &'static str,
    /// The command's exit code (0 PASS, 1 FAIL, 2 INCOMPLETE, 3 a bad preset entry).
    pub exit_code: u8,
    /// In the order they ran.
    pub checks: Vec<CheckRecord>,
}

impl CheckRun {
    /// The run made of `checks`, its verdict combined as `check --preset` combines exit codes.
    pub fn new(checks: Vec<CheckRecord>) -> Self {
        let codes: Vec<u8> = checks.iter().map(|c| c.exit_code).collect();
        let exit_code = combined_exit_code(&codes);
        CheckRun {
            format: CHECK_FORMAT,
            verdict: verdict_of_code(exit_code),
            exit_code,
            checks,
        }
    }
}

/// The verdict an exit code of `check` stands for (3, an error, counts as not decided).
pub fn verdict_of_code(code: u8) -> &'static str {
    match code {
        0 => "PASS",
        1 => "FAIL",
        _ => "INCOMPLETE",
    }
}

/// One model check: one configuration, every property.
#[derive(Clone, Debug, Serialize)]
pub struct CheckRecord {
    /// `check` for a single configuration; the proof's name in a preset.
    pub name: String,
    /// The command that reruns it.
    pub command: String,
    /// What was explored, and how.
    pub configuration: Configuration,
    /// PASS (exhaustive, every property PASS), FAIL or INCOMPLETE.
    pub verdict: &'static str,
    /// 0, 1 or 2, as the command's exit code for this check alone.
    pub exit_code: u8,
    /// Whether every reachable state was explored.
    pub exhaustive: bool,
    /// Distinct states.
    pub unique_states: usize,
    /// States generated, repeats included.
    pub total_states: usize,
    /// Deepest level reached.
    pub depth: usize,
    /// Wall-clock seconds of the check (without a `--symmetry` comparison run).
    pub seconds: f64,
    /// The process's peak resident memory so far, in bytes (`None` where the system does not
    /// tell it); in a preset, the peak of every check run before and including this one.
    pub peak_rss_bytes: Option<u64>,
    /// One per property, in the model's order.
    pub properties: Vec<PropertyRecord>,
}

/// A check's configuration: the model's and the checker's settings.
#[derive(Clone, Debug, Serialize)]
pub struct Configuration {
    /// The configuration as the check's header prints it.
    pub summary: String,
    /// The protocol checked: the shipped core, or a named buggy double.
    pub protocol: String,
    /// Cluster size.
    pub nodes: usize,
    /// `consensus` or `register`.
    pub mode: &'static str,
    /// Consensus mode: how many nodes propose.
    pub proposers: Option<usize>,
    /// Register mode: the clients' operations, one list per client.
    pub clients: Option<Vec<Vec<String>>>,
    /// Rounds per request, per node (the last one repeats).
    pub rounds: Vec<u32>,
    /// `unordered-duplicating`, `unordered-nonduplicating` or `ordered`.
    pub network: String,
    /// Whether the network may lose messages.
    pub lossy: bool,
    /// The crash budget.
    pub crashes: usize,
    /// The node ids that may crash (empty: every node).
    pub crash_nodes: Vec<usize>,
    /// Phase-1 quorum size.
    pub q1: usize,
    /// Phase-2 quorum size.
    pub q2: usize,
    /// The one-round-trip shortcuts: `none`, `writes`, `reads` or `all`.
    pub fast: &'static str,
    /// `bfs` or `dfs`.
    pub strategy: String,
    /// Checker threads.
    pub threads: usize,
    /// Symmetry reduction.
    pub symmetry: bool,
    /// Whether quorum transitions were on.
    pub quorum_transitions: bool,
    /// Whether the model's reductions were off (`--no-reduce`).
    pub no_reduce: bool,
    /// The depth bound, if any.
    pub max_depth: Option<usize>,
    /// The time bound in seconds, if any.
    pub timeout_secs: Option<u64>,
}

impl Configuration {
    /// The record of `cfg` checked with `options`.
    pub fn new(
        cfg: &ModelConfig,
        protocol: &str,
        options: &CheckOptions,
        quorum_transitions: bool,
        no_reduce: bool,
    ) -> Self {
        let (mode, proposers, clients) = match &cfg.mode {
            Mode::Consensus { proposers } => ("consensus", Some(*proposers), None),
            Mode::Register { scripts } => (
                "register",
                None,
                Some(
                    scripts
                        .iter()
                        .map(|s| s.iter().map(crate::script::format_op).collect())
                        .collect(),
                ),
            ),
        };
        Configuration {
            summary: cfg.to_string(),
            protocol: protocol.to_string(),
            nodes: cfg.nodes,
            mode,
            proposers,
            clients,
            rounds: if cfg.rounds_by_node.is_empty() {
                vec![cfg.rounds]
            } else {
                cfg.rounds_by_node.clone()
            },
            network: cfg.network.to_string(),
            lossy: cfg.lossy,
            crashes: cfg.crashes,
            crash_nodes: cfg.crashable.iter().map(|i| i + 1).collect(),
            q1: cfg.q1(),
            q2: cfg.q2(),
            fast: fast_name(cfg.fast),
            strategy: options.strategy.to_string(),
            threads: options.threads,
            symmetry: options.symmetry,
            quorum_transitions,
            no_reduce,
            max_depth: options.max_depth,
            timeout_secs: options.timeout.map(|t| t.as_secs()),
        }
    }
}

/// One property's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct PropertyRecord {
    /// Its name, as the table prints it.
    pub name: String,
    /// `always`, `sometimes` or `eventually`.
    pub kind: &'static str,
    /// PASS, FAIL or INCOMPLETE.
    pub verdict: String,
    /// The counterexample's trace file (a FAIL with a path).
    pub trace_file: Option<String>,
    /// The steps of its counterexample or example, if it has one.
    pub steps: Option<usize>,
    /// A FAIL's counterexample listing (or why there is none); an example's when `--examples`.
    pub listing: Option<String>,
    /// The `synod-model explore` command that opens the path, if there is one.
    pub explore_command: Option<String>,
    /// The Explorer URL of the path under that command.
    pub explore_url: Option<String>,
}

/// How a property kind is spelled in the tables and the records.
pub fn kind_name(kind: &Expectation) -> &'static str {
    match kind {
        Expectation::Always => "always",
        Expectation::Sometimes => "sometimes",
        Expectation::Eventually => "eventually",
    }
}

impl PropertyRecord {
    /// A property with `verdict` and nothing attached yet.
    pub fn new(name: &str, kind: &Expectation, verdict: Verdict) -> Self {
        PropertyRecord {
            name: name.to_string(),
            kind: kind_name(kind),
            verdict: verdict.to_string(),
            trace_file: None,
            steps: None,
            listing: None,
            explore_command: None,
            explore_url: None,
        }
    }
}

/// Every trace file of one `synod-model traces check` command.
#[derive(Clone, Debug, Serialize)]
pub struct TraceRun {
    /// [`TRACES_FORMAT`].
    pub format: &'static str,
    /// PASS if every file replayed, FAIL if one diverged, ERROR if one could not be checked.
    pub verdict: &'static str,
    /// The command's exit code (0, 1, or 3 for a file that could not be checked).
    pub exit_code: u8,
    /// In the order given.
    pub traces: Vec<TraceRecord>,
}

impl TraceRun {
    /// The run made of `traces`: an ERROR outweighs a FAIL, a FAIL a PASS.
    pub fn new(traces: Vec<TraceRecord>) -> Self {
        let (verdict, exit_code) = if traces.iter().any(|t| t.verdict == "ERROR") {
            ("ERROR", 3)
        } else if traces.iter().any(|t| t.verdict == "FAIL") {
            ("FAIL", 1)
        } else {
            ("PASS", 0)
        };
        TraceRun {
            format: TRACES_FORMAT,
            verdict,
            exit_code,
            traces,
        }
    }
}

/// One trace file replayed in the model.
#[derive(Clone, Debug, Serialize)]
pub struct TraceRecord {
    /// The file as given.
    pub file: String,
    /// PASS (every step and expectation matched), FAIL (diverged) or ERROR (unreadable, or not
    /// expressible in the model).
    pub verdict: &'static str,
    /// Steps replayed (PASS).
    pub steps: Option<usize>,
    /// The divergence (FAIL) or the error (ERROR).
    pub message: Option<String>,
}

/// The process's peak resident set size in bytes, from `/proc/self/status` (`VmHWM`); `None`
/// where that file does not exist or does not say.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Writes `value` as pretty JSON to `file` (creating its directory).
pub fn write_json<T: Serialize>(file: &Path, value: &T) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
    write_file(file, &(text + "\n"))
}

/// Writes `text` to `file`, creating its directory first.
pub fn write_file(file: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(file, text)
}
