//! `synod-model`: model-check the Synod core (`check`), browse its state space (`explore`), or
//! random-walk configurations too large to exhaust (`simulate`). See `docs/model.md`.

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use stateright::{Expectation, Model};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use synod_core::FastPaths;
use synod_model::check::{self, CheckOptions, Strategy, Verdict};
use synod_model::chosen_protocol::ChosenProtocol;
use synod_model::counterexample::{listing, slug, to_trace};
use synod_model::explorer;
use synod_model::explorer_path;
use synod_model::junit;
use synod_model::membership::command::MembershipArgs;
use synod_model::presets::{self, Preset};
use synod_model::quorum_transitions::QuorumModel;
use synod_model::report::{
    self, CheckRecord, CheckRun, Configuration, PropertyRecord, TraceRecord, TraceRun,
};
use synod_model::script::parse_scripts;
use synod_model::stop::{megabytes, memory_bound_from_mb, StopReason};
use synod_model::{model, Mode, ModelConfig, NetworkKind, Protocol};

/// The checker clones, hashes and drops states at every successor, and about a fifth of its
/// cycles went to glibc's allocator; mimalloc takes about 15 % of the instructions off every
/// check (docs/model.md, *Performance*). Only the binary: the library and its tests keep the
/// system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "synod-model",
    version,
    about = "Exhaustive stateright model of synod-core"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check every property exhaustively (exit 0 = all PASS, 1 = FAIL, 2 = INCOMPLETE or a flag
    /// that does not parse, 3 = an invalid configuration or another error).
    Check(CheckArgs),
    /// Serve the Explorer on 127.0.0.1: states in the listings' notation, every property judged
    /// at the state shown, paths as the URLs `check` prints (docs/explorer.md).
    Explore {
        #[command(flatten)]
        model: ModelArgs,
        /// Port to listen on (127.0.0.1 only).
        #[arg(long, default_value_t = 3000)]
        port: u16,
    },
    /// Random walks through the state space (not a proof; exit 1 if a property fails).
    Simulate {
        #[command(flatten)]
        model: ModelArgs,
        /// Seed of the first walk.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Number of walks (walk i uses seed + i).
        #[arg(long, default_value_t = 1000)]
        runs: usize,
        /// Maximum steps per walk.
        #[arg(long, default_value_t = 60)]
        depth: usize,
        /// Where counterexample traces are written.
        #[arg(long, default_value = "synod-model-traces")]
        traces: PathBuf,
    },
    /// Check the membership-change model (a node joins, or replaces a crashed one, while clients
    /// write and read): exit 0 = all PASS, 1 = FAIL, 2 = INCOMPLETE (docs/model.md).
    Membership {
        #[command(flatten)]
        args: MembershipArgs,
        #[command(flatten)]
        reports: ReportArgs,
    },
    /// Trace files: export model paths (`traces export`), validate files (`trace check`).
    #[command(alias = "trace")]
    Traces {
        #[command(subcommand)]
        action: TracesCommand,
    },
}

#[derive(Subcommand)]
enum TracesCommand {
    /// Write one trace per reachability target and counterexample of the export configurations
    /// (deterministic: the same bytes every run).
    Export {
        /// The directory to write into.
        #[arg(long, default_value = "models/traces")]
        out: PathBuf,
    },
    /// Replay trace files in the model step by step; names the first step that diverges
    /// (exit 1), 3 if a file cannot be read or expressed in the model.
    Check {
        /// Trace files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        reports: ReportArgs,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum NetworkArg {
    /// Unordered; a message may be delivered many times (default).
    Duplicating,
    /// Unordered; each message delivered at most once.
    Nonduplicating,
    /// FIFO per channel.
    Ordered,
}

#[derive(Clone, Copy, ValueEnum)]
enum ModeArg {
    /// ProposeOnce by the first --proposers nodes.
    Consensus,
    /// Clients running --ops against the register.
    Register,
}

#[derive(Clone, Copy, ValueEnum)]
enum FastArg {
    /// Classic two-phase rounds (default).
    None,
    /// One-round-trip writes only (Accept carries the next ballot).
    Writes,
    /// One-round-trip reads only (Query / Report).
    Reads,
    /// Both shortcuts.
    All,
}

#[derive(Clone, Copy, ValueEnum)]
enum StrategyArg {
    Bfs,
    Dfs,
}

#[derive(Args, Clone)]
struct ModelArgs {
    /// Cluster size (3 to 7).
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Consensus mode: how many nodes propose (their values are 'a', 'b', …).
    #[arg(long, default_value_t = 2)]
    proposers: usize,
    /// Rounds per request (the retry bound); a list gives node 1, node 2, … their own, the last
    /// one repeating: `--rounds 2,1` lets only node 1's client retry.
    #[arg(long, default_value = "1", value_delimiter = ',', num_args = 1..)]
    rounds: Vec<u32>,
    /// Network semantics.
    #[arg(long, value_enum, default_value = "duplicating")]
    network: NetworkArg,
    /// The network may lose messages.
    #[arg(long)]
    lossy: bool,
    /// Crash budget: at most this many node crashes (each may restart) in a run.
    #[arg(long, default_value_t = 0)]
    crashes: usize,
    /// With --crashes: only these nodes may crash (ids, e.g. `--crash-nodes 1` or `1,3`;
    /// default: every node).
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    crash_nodes: Vec<usize>,
    /// Run quorum sizes that do not intersect (q1 + q2 not above the cluster size), which the
    /// core refuses: UNSAFE, to show what the rule prevents (agreement FAILs with two proposers).
    #[arg(long)]
    allow_unsafe_quorums: bool,
    /// Phase-1 quorum size (default: majority).
    #[arg(long)]
    q1: Option<usize>,
    /// Phase-2 quorum size (default: majority).
    #[arg(long)]
    q2: Option<usize>,
    /// The one-round-trip shortcuts proposers take (issue 13).
    #[arg(long, value_enum, default_value = "none")]
    fast: FastArg,
    /// Consensus (ProposeOnce) or register (client operations).
    #[arg(long, value_enum, default_value = "consensus")]
    mode: ModeArg,
    /// Register mode: client scripts, e.g. "put:a,read;cas:-:b" (clients split by ';').
    #[arg(long, default_value = "put:a;cas:-:b")]
    ops: String,
    /// Inject a named protocol bug (a test double around the core).
    #[arg(long, value_enum, default_value = "none")]
    bug: ChosenProtocol,
}

/// Machine-readable copies of the verdicts (docs/ci.md describes both formats).
#[derive(Args, Clone, Default)]
struct ReportArgs {
    /// Also write the verdicts as JSON to FILE: configuration, per property kind and verdict,
    /// state counts, depth, time, peak memory, trace files.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Also write the verdicts as JUnit XML to FILE: one test case per property; a FAIL is a
    /// failure carrying the counterexample listing, an INCOMPLETE an error (never a pass).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
}

impl ReportArgs {
    fn write_checks(&self, run: &CheckRun) -> Result<()> {
        self.write(run, || junit::check_run(run))
    }

    fn write_traces(&self, run: &TraceRun) -> Result<()> {
        self.write(run, || junit::trace_run(run))
    }

    fn write(&self, json: &impl serde::Serialize, xml: impl FnOnce() -> String) -> Result<()> {
        if let Some(file) = &self.json {
            report::write_json(file, json)
                .with_context(|| format!("writing {}", file.display()))?;
        }
        if let Some(file) = &self.junit {
            report::write_file(file, &xml())
                .with_context(|| format!("writing {}", file.display()))?;
        }
        Ok(())
    }
}

#[derive(Args)]
struct CheckArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    reports: ReportArgs,
    /// Search strategy.
    #[arg(long, value_enum, default_value = "bfs")]
    strategy: StrategyArg,
    /// Checker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Symmetry reduction over interchangeable nodes (uses depth-first search); also runs the
    /// check without it and reports both state counts (unless --no-compare).
    #[arg(long)]
    symmetry: bool,
    /// With --symmetry: skip the comparison run without reduction (it can take as long again).
    #[arg(long, requires = "symmetry")]
    no_compare: bool,
    /// Depth bound (a run that reaches it is INCOMPLETE).
    #[arg(long)]
    max_depth: Option<usize>,
    /// Time bound in seconds (a run that reaches it is INCOMPLETE).
    #[arg(long)]
    timeout: Option<u64>,
    /// Memory bound in MB: a run whose resident memory passes it stops and is INCOMPLETE
    /// (default: 80 % of physical memory, so that a search too large for the machine ends with
    /// a verdict instead of being killed; 0 = no bound).
    #[arg(long, value_name = "MB")]
    max_memory: Option<u64>,
    /// Where counterexample traces are written.
    #[arg(long, default_value = "synod-model-traces")]
    traces: PathBuf,
    /// Also print the example found for each sometimes property.
    #[arg(long)]
    examples: bool,
    /// Progress line interval in seconds.
    #[arg(long, default_value_t = 3)]
    progress: u64,
    /// Run a named set of larger proofs one after another instead of one configuration (each
    /// proof has its own configuration and time bound, so the configuration flags are ignored;
    /// --bug applies), then print a summary; exit 0 only if every proof PASSed.
    #[arg(long, value_enum)]
    preset: Option<Preset>,
    /// Check stateright's plain actor model: none of the model's state-space reductions (see
    /// docs/model.md), for a skeptic's rerun. Slower by orders of magnitude.
    #[arg(long, conflicts_with = "symmetry")]
    no_reduce: bool,
    /// Deliver votes one by one, never a quorum's worth as one action (the quorum transitions of
    /// docs/model.md), keeping the other reductions: to compare the two.
    #[arg(long)]
    no_quorum_transitions: bool,
}

impl ModelArgs {
    fn config(&self) -> Result<ModelConfig> {
        let mode = match self.mode {
            ModeArg::Consensus => Mode::Consensus {
                proposers: self.proposers,
            },
            ModeArg::Register => Mode::Register {
                scripts: parse_scripts(&self.ops)?,
            },
        };
        let cfg = ModelConfig {
            nodes: self.nodes,
            mode,
            rounds: *self.rounds.last().unwrap_or(&1),
            rounds_by_node: if self.rounds.len() > 1 {
                self.rounds.clone()
            } else {
                Vec::new()
            },
            network: match self.network {
                NetworkArg::Duplicating => NetworkKind::UnorderedDuplicating,
                NetworkArg::Nonduplicating => NetworkKind::UnorderedNonDuplicating,
                NetworkArg::Ordered => NetworkKind::Ordered,
            },
            lossy: self.lossy,
            crashes: self.crashes,
            crashable: self
                .crash_nodes
                .iter()
                .map(|id| id.wrapping_sub(1))
                .collect(),
            unsafe_quorums: self.allow_unsafe_quorums,
            q1: self.q1,
            q2: self.q2,
            fast: match self.fast {
                FastArg::None => FastPaths::NONE,
                FastArg::Writes => FastPaths {
                    writes: true,
                    reads: false,
                },
                FastArg::Reads => FastPaths {
                    writes: false,
                    reads: true,
                },
                FastArg::All => FastPaths::ALL,
            },
        };
        cfg.validate().context("invalid configuration")?;
        Ok(cfg)
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(3)
        }
    }
}

fn run() -> Result<u8> {
    let cli = Cli::parse();
    // One protocol type for every choice: the checker is compiled once, not once per double.
    let protocol = match &cli.command {
        Command::Check(a) => a.model.bug,
        Command::Explore { model, .. } | Command::Simulate { model, .. } => model.bug,
        Command::Traces { action } => return traces_command(action),
        Command::Membership { args, reports } => return membership_command(args, reports),
    };
    dispatch(cli, protocol)
}

fn dispatch<P: Protocol>(cli: Cli, protocol: P) -> Result<u8> {
    match cli.command {
        Command::Check(args) => check_command(args, protocol),
        Command::Explore { model: m, port } => {
            let cfg = m.config()?;
            println!("{cfg}\nprotocol   {}", protocol.name());
            let model = model::build(&cfg, protocol.clone())?;
            let address = format!("127.0.0.1:{port}");
            let listener = std::net::TcpListener::bind(address.as_str())
                .with_context(|| format!("cannot serve the Explorer on {address} (--port)"))?;
            println!("Explorer on http://{address}/ (Ctrl-C to stop)");
            // Faithful: the Explorer shows nodes exactly as the core holds them.
            explorer::serve(listener, explorer::Explorer::new(&model, protocol.name()))
                .with_context(|| format!("serving the Explorer on {address}"))?;
            Ok(0)
        }
        Command::Simulate {
            model: m,
            seed,
            runs,
            depth,
            traces,
        } => simulate_command(
            m,
            protocol,
            &check::SimulateOptions { seed, runs, depth },
            &traces,
        ),
        Command::Traces { action } => traces_command(&action),
        Command::Membership { args, reports } => membership_command(&args, &reports),
    }
}

fn traces_command(action: &TracesCommand) -> Result<u8> {
    match action {
        TracesCommand::Export { out } => {
            let written = synod_model::trace_export::export_to(out)?;
            for file in &written {
                println!("wrote {}", file.display());
            }
            println!("{} traces exported to {}", written.len(), out.display());
            Ok(0)
        }
        TracesCommand::Check { files, reports } => {
            let mut records = Vec::new();
            let mut error = None;
            for file in files {
                let record = check_trace_file(file);
                match record.verdict {
                    "PASS" => println!(
                        "OK        {} ({} steps)",
                        record.file,
                        record.steps.unwrap_or_default()
                    ),
                    "FAIL" => println!(
                        "DIVERGES  {}: {}",
                        record.file,
                        record.message.as_deref().unwrap_or_default()
                    ),
                    _ => {
                        let message = format!(
                            "{}: {}",
                            record.file,
                            record.message.as_deref().unwrap_or_default()
                        );
                        error.get_or_insert(message);
                    }
                }
                let stop =
                    record.verdict == "ERROR" && reports.json.is_none() && reports.junit.is_none();
                records.push(record);
                if stop {
                    break;
                }
            }
            let run = TraceRun::new(records);
            reports.write_traces(&run)?;
            if let Some(message) = error {
                bail!("{message}");
            }
            Ok(run.exit_code)
        }
    }
}

/// One trace file replayed in the model, as a record (PASS, FAIL with the divergence, or
/// ERROR when it cannot be read or expressed in the model).
fn check_trace_file(file: &std::path::Path) -> TraceRecord {
    let outcome = std::fs::read_to_string(file)
        .map_err(anyhow::Error::from)
        .and_then(|text| Ok(synod_check::trace::Trace::<String>::from_json(&text)?))
        .map(|trace| synod_model::trace_check::check_trace(&trace));
    let (verdict, steps, message) = match outcome {
        Ok(Ok(steps)) => ("PASS", Some(steps), None),
        Ok(Err(synod_model::trace_check::CheckError::Diverged(d))) => {
            ("FAIL", None, Some(d.to_string()))
        }
        Ok(Err(e)) => ("ERROR", None, Some(e.to_string())),
        Err(e) => ("ERROR", None, Some(format!("cannot read it: {e:#}"))),
    };
    TraceRecord {
        file: file.display().to_string(),
        verdict,
        steps,
        message,
    }
}

/// This process's command line, as a record's rerun command.
fn invoked_command() -> String {
    std::iter::once("synod-model".to_string())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `synod-model membership`: one check of the membership model, its report and record.
fn membership_command(args: &MembershipArgs, reports: &ReportArgs) -> Result<u8> {
    let command = invoked_command();
    let report = args.run();
    let run = CheckRun::new(vec![args.record(&report, "membership", &command)]);
    reports.write_checks(&run)?;
    Ok(run.exit_code)
}

/// `check --preset`: every proof of `preset` in turn, with the `--bug` of `outer`, then a
/// summary table. Each proof writes its counterexamples under its own directory of `outer`'s
/// `--traces` (`NN-<name>`), and `outer`'s `--json`/`--junit` get one record per proof. A
/// membership proof checks the shipped core: `--bug` names a fixed-membership double, which
/// does not apply to it.
fn preset_command<P: Protocol>(preset: Preset, protocol: P, outer: &CheckArgs) -> Result<u8> {
    let proofs = presets::proofs(preset);
    let mut rows = Vec::new();
    let mut records = Vec::new();
    for (i, proof) in proofs.iter().enumerate() {
        let command = proof.args;
        println!(
            "== proof {}/{}: {} (synod-model {command})",
            i + 1,
            proofs.len(),
            proof.name
        );
        let argv = std::iter::once("synod-model").chain(proof.args.split_whitespace());
        let started = Instant::now();
        let record = match Cli::try_parse_from(argv)?.command {
            Command::Check(mut args) => {
                args.traces = outer
                    .traces
                    .join(format!("{:02}-{}", i + 1, slug(proof.name)));
                // The buggy double runs already (`protocol`); the flag makes the rerun and
                // explore commands name it too.
                args.model.bug = outer.model.bug;
                let bug = match outer.model.bug.to_possible_value() {
                    Some(v) if outer.model.bug != ChosenProtocol::Correct => {
                        format!(" --bug {}", v.get_name())
                    }
                    _ => String::new(),
                };
                let rerun = format!("synod-model {command}{bug}");
                run_check(&args, protocol.clone(), proof.name, &rerun)?
            }
            Command::Membership { args, .. } => {
                if outer.model.bug != ChosenProtocol::Correct {
                    println!(
                        "(--bug does not apply: the membership model checks the shipped core)"
                    );
                }
                let report = args.run();
                args.record(&report, proof.name, &format!("synod-model {command}"))
            }
            _ => bail!(
                "preset entry '{}' is neither check nor membership",
                proof.name
            ),
        };
        rows.push((proof.name, command, record.exit_code, started.elapsed()));
        records.push(record);
        println!();
    }
    println!("| proof | command (`synod-model …`) | result | time |");
    println!("|---|---|---|---|");
    for (name, command, code, elapsed) in &rows {
        println!(
            "| {name} | `{command}` | {} | {:.0} s |",
            report::verdict_of_code(*code),
            elapsed.as_secs_f64()
        );
    }
    let run = CheckRun::new(records);
    outer.reports.write_checks(&run)?;
    Ok(run.exit_code)
}

fn print_config(cfg: &ModelConfig, protocol_name: &str) {
    println!("{cfg}");
    println!("protocol   {protocol_name}");
}

fn check_command<P: Protocol>(args: CheckArgs, protocol: P) -> Result<u8> {
    if let Some(preset) = args.preset {
        return preset_command(preset, protocol, &args);
    }
    let command = invoked_command();
    let record = run_check(&args, protocol, "check", &command)?;
    let run = CheckRun::new(vec![record]);
    args.reports.write_checks(&run)?;
    Ok(run.exit_code)
}

/// One check of one configuration: prints its header, progress, table and listings, writes its
/// counterexample trace files, and returns its record (named `name`, rerun by `command`).
fn run_check<P: Protocol>(
    args: &CheckArgs,
    protocol: P,
    name: &str,
    command: &str,
) -> Result<CheckRecord> {
    let started = Instant::now();
    let cfg = args.model.config()?;
    let protocol_name = protocol.name();
    print_config(&cfg, protocol.name());
    let mut strategy = match args.strategy {
        StrategyArg::Bfs => Strategy::Bfs,
        StrategyArg::Dfs => Strategy::Dfs,
    };
    if args.symmetry && strategy == Strategy::Bfs {
        println!(
            "note       --symmetry uses depth-first search (stateright 0.31 reduces only in DFS)"
        );
        strategy = Strategy::Dfs;
    }
    let options = CheckOptions {
        strategy,
        threads: args.threads,
        symmetry: args.symmetry,
        max_depth: args.max_depth,
        timeout: args.timeout.map(Duration::from_secs),
        max_memory: memory_bound_from_mb(args.max_memory),
        progress_every: Duration::from_secs(args.progress.max(1)),
        quorum_transitions: !args.no_quorum_transitions && !args.no_reduce,
    };
    let model = model::build(&cfg, protocol)?;
    let quorum_transitions = options.quorum_transitions && QuorumModel::applies(&model);
    println!(
        "checking   strategy={} threads={} symmetry={} quorum-transitions={} max-depth={} timeout={} max-memory={}",
        options.strategy,
        options.threads,
        options.symmetry,
        if quorum_transitions { "on" } else { "off" },
        options.max_depth.map_or("none".into(), |d| d.to_string()),
        options
            .timeout
            .map_or("none".into(), |t| format!("{}s", t.as_secs())),
        megabytes(options.max_memory)
    );
    let model = if args.no_reduce {
        println!("reductions off (--no-reduce): stateright's plain actor model");
        model.unnormalized()
    } else {
        model
    };
    let report = check::run(model.clone(), &options, |p| println!("progress   {p}"));
    let seconds = started.elapsed().as_secs_f64();
    let peak_rss_bytes = report::peak_rss_bytes();
    println!("done       {}", report.progress);
    if options.symmetry && !args.no_compare {
        let plain = CheckOptions {
            symmetry: false,
            ..options.clone()
        };
        println!("comparing  the same check without symmetry reduction …");
        let without = check::run(model.clone(), &plain, |p| println!("progress   {p}"));
        println!(
            "symmetry   {} unique states with reduction, {} without{}",
            report.progress.unique,
            without.progress.unique,
            if without.exhaustive {
                ""
            } else {
                " (that run did not finish)"
            }
        );
    }
    println!(
        "explored   {}",
        match (report.exhaustive, report.stopped) {
            (true, _) => "exhaustively (every reachable state)".to_string(),
            (false, Some(StopReason::Memory)) => format!(
                "NOT exhaustively (stopped by the memory bound, {}; raise it with --max-memory)",
                megabytes(options.max_memory)
            ),
            (false, Some(StopReason::Deadline)) =>
                "NOT exhaustively (stopped by the timeout)".into(),
            (false, None) =>
                "NOT exhaustively (stopped by a counterexample or the depth bound)".into(),
        }
    );
    println!();
    let width = report
        .results
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(8);
    println!("{:width$} | kind      | result     | trace", "property");
    println!("{}-+-----------+------------+------", "-".repeat(width));
    let mut failures = Vec::new();
    let mut examples = Vec::new();
    let mut properties = Vec::new();
    for r in &report.results {
        let kind = report::kind_name(&r.kind);
        let mut record = PropertyRecord::new(r.name, &r.kind, r.verdict);
        record.steps = r.path.as_ref().map(|p| p.clone().into_actions().len());
        let trace = match (&r.verdict, &r.path) {
            (Verdict::Fail, Some(path)) => {
                let file = args.traces.join(format!("{}.trace.json", slug(r.name)));
                std::fs::create_dir_all(&args.traces)
                    .with_context(|| format!("creating {}", args.traces.display()))?;
                let trace = to_trace(
                    &model,
                    &slug(r.name),
                    &format!(
                        "counterexample to '{}' found by synod-model check (protocol {})",
                        r.name, protocol_name
                    ),
                    path,
                );
                std::fs::write(&file, trace.to_json())
                    .with_context(|| format!("writing {}", file.display()))?;
                failures.push((properties.len(), path.clone()));
                record.trace_file = Some(file.display().to_string());
                file.display().to_string()
            }
            (Verdict::Pass, Some(path)) => {
                if args.examples {
                    examples.push((properties.len(), path.clone()));
                }
                format!("example in {} steps", path.clone().into_actions().len())
            }
            (Verdict::Fail, None) => {
                record.listing = Some(
                    "no example exists: the exhaustive run never reached this scenario".into(),
                );
                "no example exists".into()
            }
            _ => "-".into(),
        };
        println!(
            "{:width$} | {kind:9} | {:10} | {trace}",
            r.name,
            r.verdict.to_string()
        );
        properties.push(record);
    }
    for (heading, paths) in [("example of", examples), ("counterexample to", failures)] {
        for (i, path) in paths {
            let record = &mut properties[i];
            let text = listing(&model, &path);
            println!("\n{heading} '{}':", record.name);
            print!("{text}");
            record.listing = Some(text);
            match explore_link(&args.model, &model, &path) {
                Ok((command, url)) => {
                    println!("explore:   {command}");
                    println!("open:      {url}");
                    record.explore_command = Some(command);
                    record.explore_url = Some(url);
                }
                Err(e) => println!("explore:   (no Explorer link: {e})"),
            }
        }
    }
    let code = report.exit_code();
    println!(
        "\nresult     {}",
        match code {
            0 => "PASS (exhaustive)",
            1 => "FAIL",
            _ => "INCOMPLETE (not a proof: raise the bounds or the timeout)",
        }
    );
    Ok(CheckRecord {
        name: name.to_string(),
        command: command.to_string(),
        configuration: Configuration::new(
            &cfg,
            protocol_name,
            &options,
            quorum_transitions,
            args.no_reduce,
        ),
        verdict: report::verdict_of_code(code),
        exit_code: code,
        exhaustive: report.exhaustive,
        unique_states: report.progress.unique,
        total_states: report.progress.total,
        depth: report.progress.depth,
        seconds,
        peak_rss_bytes,
        properties,
    })
}

/// The Explorer's port in the commands `check` prints.
const EXPLORE_PORT: u16 = 3000;

/// For a listing: the `explore` command for its configuration and the URL of its path there,
/// or why the path has none.
fn explore_link<P: Protocol>(
    m: &ModelArgs,
    model: &model::SynodModel<P>,
    path: &stateright::Path<synod_model::properties::SystemState<P>, check::Action>,
) -> Result<(String, String), String> {
    let indices = explorer_path::encode(&model.faithful(), path).map_err(|e| e.to_string())?;
    Ok((
        format!(
            "synod-model explore {}--port {EXPLORE_PORT}",
            model_flags(m)
        ),
        explorer_path::url(EXPLORE_PORT, &indices),
    ))
}

/// The model flags of `m` that differ from their defaults, each followed by a space.
fn model_flags(m: &ModelArgs) -> String {
    let Ok(Command::Explore { model: d, .. }) =
        Cli::try_parse_from(["synod-model", "explore"]).map(|c| c.command)
    else {
        unreachable!("explore parses without flags");
    };
    let name = |v: Option<clap::builder::PossibleValue>| {
        v.map_or(String::new(), |v| v.get_name().to_string())
    };
    let list = |ids: &[usize]| {
        ids.iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut flags = Vec::new();
    let mut flag = |differs: bool, text: String| {
        if differs {
            flags.push(text);
        }
    };
    flag(m.nodes != d.nodes, format!("--nodes {}", m.nodes));
    let mode = name(m.mode.to_possible_value());
    flag(
        mode != name(d.mode.to_possible_value()),
        format!("--mode {mode}"),
    );
    flag(
        m.proposers != d.proposers,
        format!("--proposers {}", m.proposers),
    );
    flag(m.ops != d.ops, format!("--ops \"{}\"", m.ops));
    flag(
        m.rounds != d.rounds,
        format!(
            "--rounds {}",
            list(&m.rounds.iter().map(|r| *r as usize).collect::<Vec<_>>())
        ),
    );
    let network = name(m.network.to_possible_value());
    flag(
        network != name(d.network.to_possible_value()),
        format!("--network {network}"),
    );
    flag(m.lossy, "--lossy".into());
    flag(m.crashes != d.crashes, format!("--crashes {}", m.crashes));
    flag(
        !m.crash_nodes.is_empty(),
        format!("--crash-nodes {}", list(&m.crash_nodes)),
    );
    flag(m.allow_unsafe_quorums, "--allow-unsafe-quorums".into());
    flag(m.q1.is_some(), format!("--q1 {}", m.q1.unwrap_or_default()));
    flag(m.q2.is_some(), format!("--q2 {}", m.q2.unwrap_or_default()));
    let fast = name(m.fast.to_possible_value());
    flag(
        fast != name(d.fast.to_possible_value()),
        format!("--fast {fast}"),
    );
    let bug = name(m.bug.to_possible_value());
    flag(m.bug != ChosenProtocol::Correct, format!("--bug {bug}"));
    flags.iter().map(|f| format!("{f} ")).collect()
}

/// Random walks. Never PASS (walks are no proof): a violated property is FAIL with its listing
/// and trace file, as in `check`; otherwise every property says what the walks did not find.
fn simulate_command<P: Protocol>(
    m: ModelArgs,
    protocol: P,
    options: &check::SimulateOptions,
    traces: &std::path::Path,
) -> Result<u8> {
    if options.runs == 0 || options.depth == 0 {
        bail!("--runs and --depth must be positive");
    }
    let cfg = m.config()?;
    let protocol_name = protocol.name();
    print_config(&cfg, protocol_name);
    println!(
        "simulate   seed={} runs={} depth={}",
        options.seed, options.runs, options.depth
    );
    let model = model::build(&cfg, protocol)?;
    let report = check::simulate(&model, options);
    println!(
        "done       walks={} states={} max-depth={}",
        report.walks, report.states, report.max_depth
    );
    let mut counterexamples = Vec::new();
    for r in &report.results {
        let verdict = match (&r.kind, &r.found) {
            (Expectation::Sometimes, Some(found)) => {
                format!("example found ({} steps)", found.actions.len())
            }
            (Expectation::Sometimes, None) => "no example in these walks".into(),
            (_, None) => "no counterexample in these walks".into(),
            (_, Some(found)) => {
                counterexamples.push((r.name, found));
                match &found.path {
                    Some(path) => {
                        let file = traces.join(format!("{}.trace.json", slug(r.name)));
                        std::fs::create_dir_all(traces)
                            .with_context(|| format!("creating {}", traces.display()))?;
                        let trace = to_trace(
                            &model,
                            &slug(r.name),
                            &format!(
                                "counterexample to '{}' found by synod-model simulate \
                                 (seed {}, protocol {})",
                                r.name, found.seed, protocol_name
                            ),
                            path,
                        );
                        std::fs::write(&file, trace.to_json())
                            .with_context(|| format!("writing {}", file.display()))?;
                        format!("FAIL (trace {})", file.display())
                    }
                    None => "FAIL (its path could not be rebuilt: no listing or trace)".into(),
                }
            }
        };
        println!("{:26} {verdict}", r.name);
    }
    for (name, found) in counterexamples {
        println!(
            "\ncounterexample to '{name}' (walk seed {}, {} steps):",
            found.seed,
            found.actions.len()
        );
        match &found.path {
            Some(path) => print!("{}", listing(&model, path)),
            None => {
                println!("(the walk's steps could not be replayed; as walked:)");
                for (i, action) in found.actions.iter().enumerate() {
                    println!("{:2}. {}", i + 1, model.format_action(action));
                }
            }
        }
    }
    let failed = report.failed();
    println!(
        "\nresult     {}",
        if failed {
            "FAIL".to_string()
        } else {
            format!(
                "no counterexample in {} walks (not a proof: random walks are not exhaustive)",
                report.walks
            )
        }
    );
    Ok(if failed { 1 } else { 0 })
}
