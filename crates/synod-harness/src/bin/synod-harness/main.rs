//! The `synod-harness` binary: load-test nodes (`bench`) or test them under faults (`chaos`,
//! `sim`). Each command lives in its own module (`bench` in the library).
//!
//! `bench-replace` measures a membership change (a dead member replaced) under load.
//!
//! The hidden `node` command runs one node through the node's own entry point
//! ([`synod_server::cli::serve`], exactly what `synod serve` runs, with the same flags): the
//! chaos run, `bench --cluster` and `bench-replace` start their nodes from this very binary, so
//! they never depend on another package's binary having been built.
//!
//! A failure is printed once, as one line (`error: context: cause`), and exits with 1; a bad flag
//! exits with 2.

mod chaos;
mod sim;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::process::ExitCode;
use synod_server::cli::{self, NodeCommand, ServeArgs};

/// The command that runs one node from this binary.
const NODE: &str = "node";

/// Tests and measures Synod nodes: load generator, chaos run, deterministic simulation.
#[derive(Parser, Debug)]
#[command(name = "synod-harness", version, about, args_override_self = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log lines as `text` or `json` (default text, or SYNOD_LOG_FORMAT); the filter is RUST_LOG
    /// or SYNOD_LOG. Read before the command runs (synod_server::cli::start).
    #[arg(long = "log-format", global = true, value_name = "FORMAT", value_parser = ["text", "json"])]
    _log_format: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Closed-loop load generator against endpoints (or a local `--cluster N`); prints
    /// throughput and latency percentiles.
    #[command(
        after_help = "Exit codes:\n  0  the run completed, with at most --max-error-rate \
        of the operations failed\n  1  more failed than that, none succeeded, or the cluster \
        could not start\n  2  usage error (bad flag)"
    )]
    Bench(synod_harness::bench::BenchArgs),
    /// Replace a dead member of a local 3-node cluster holding --keys keys while writers keep
    /// writing; prints the change's time, its steps and catch-up, writes/s before, during and
    /// after, and verifies every key on every member.
    #[command(
        after_help = "Exit codes:\n  0  the change finished and every key read back right\n  \
        1  the change did not finish, a key read back wrong (FAIL), or the cluster could not \
        start\n  2  usage error (bad flag)"
    )]
    BenchReplace(synod_harness::bench::replace::ReplaceArgs),
    /// Fault testing: a local cluster under SIGKILLs, partitions and lossy links, with a
    /// linearizability check of the clients' history.
    Chaos(chaos::ChaosArgs),
    /// Fault testing: seeds of the deterministic simulation of the replica.
    Sim(sim::SimArgs),
    /// Run one node: `synod serve`, from this binary (for the chaos run and `bench --cluster`).
    #[command(hide = true)]
    Node(ServeArgs),
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", cli::error_line(&e));
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let (args, runtime) = cli::start(NODE)?;
    let cli = Cli::parse_from(args);
    runtime.block_on(async move {
        match cli.command {
            Command::Bench(args) => {
                let node =
                    NodeCommand::current_exe(NODE).context("locating the synod-harness binary")?;
                synod_harness::bench::run(args, &node).await
            }
            Command::BenchReplace(args) => {
                let node =
                    NodeCommand::current_exe(NODE).context("locating the synod-harness binary")?;
                synod_harness::bench::replace::run(args, &node).await
            }
            Command::Chaos(args) => chaos::run(args).await,
            Command::Sim(args) => sim::run(args),
            Command::Node(args) => cli::serve(args).await,
        }
    })
}
