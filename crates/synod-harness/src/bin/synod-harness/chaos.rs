//! `synod-harness chaos`: the real-process chaos run (see `synod_harness::chaos` and
//! docs/testing.md). Exits non-zero when the history is not linearizable.

use anyhow::{bail, Context};
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;
use synod_check::history;
use synod_harness::chaos::{self, ChaosConfig};
use synod_harness::workload::WorkloadConfig;
use synod_server::cli::NodeCommand;

/// Options of `synod-harness chaos`.
#[derive(Args, Debug)]
pub struct ChaosArgs {
    /// Nodes (3 or 5).
    #[arg(long, default_value_t = 3)]
    pub nodes: u8,
    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// How long the workload and the nemesis run, in seconds.
    #[arg(long, default_value_t = 20)]
    pub duration_secs: u64,
    /// Seed of the workload, the nemesis and the proxies (default: from the clock).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Register keys (get/put/cas/delete).
    #[arg(long, default_value_t = 3)]
    pub register_keys: usize,
    /// Once keys (propose-once/get).
    #[arg(long, default_value_t = 1)]
    pub once_keys: usize,
    /// Where to save the history (JSON lines).
    #[arg(long)]
    pub history: Option<PathBuf>,
    /// Where to keep the nodes' data and logs (default: a temporary directory).
    #[arg(long)]
    pub data_root: Option<PathBuf>,
    /// Start the nodes with an injected bug: `forget-persist` = acceptor state is never written
    /// to disk (the node's `fault-injection` seam, always compiled into this binary).
    #[arg(long)]
    pub inject: Option<String>,
    /// Do not run anything: check an existing JSON-lines history file and exit.
    #[arg(long)]
    pub check_history: Option<PathBuf>,
}

pub async fn run(args: ChaosArgs) -> anyhow::Result<()> {
    if let Some(path) = &args.check_history {
        let records = history::read_jsonl(path)?;
        let verdict = history::check(&records)?;
        for key in &verdict.keys {
            match &key.result {
                Ok(()) => println!(
                    "key {}: {} operations, linearizable",
                    key.key, key.operations
                ),
                Err(violation) => {
                    println!(
                        "key {}: {} operations, {violation}",
                        key.key, key.operations
                    )
                }
            }
        }
        if !verdict.linearizable() {
            bail!("{} is not linearizable", path.display());
        }
        println!(
            "{}: {} operations, linearizable",
            path.display(),
            records.len()
        );
        return Ok(());
    }
    if !(1..=9).contains(&args.nodes) || args.clients == 0 {
        bail!("--nodes must be 1 to 9 and --clients at least 1");
    }
    if let Some(bug) = &args.inject {
        if bug != "forget-persist" {
            bail!("--inject knows one bug: forget-persist");
        }
    }
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    let config = ChaosConfig {
        node: NodeCommand::current_exe(crate::NODE).context("locating the synod-harness binary")?,
        nodes: args.nodes,
        clients: args.clients,
        duration: Duration::from_secs(args.duration_secs),
        seed,
        workload: WorkloadConfig {
            register_keys: args.register_keys,
            once_keys: args.once_keys,
        },
        history: args.history,
        data_root: args.data_root,
        node_env: args
            .inject
            .map(|bug| vec![("SYNOD_FAULT".to_owned(), bug)])
            .unwrap_or_default(),
    };
    eprintln!(
        "chaos: {} nodes, {} clients, {} s, seed {seed}",
        config.nodes, config.clients, args.duration_secs
    );
    let report = chaos::run(&config).await?;
    println!("{report}");
    if !report.passed() {
        bail!(
            "the chaos run found a violation (history: {})",
            report.history.display()
        );
    }
    Ok(())
}
