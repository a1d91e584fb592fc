//! `synod-harness chaos`: the real-process chaos run (see `synod_harness::chaos` and
//! docs/testing.md). Exits non-zero when the history is not linearizable.

use anyhow::{bail, Context};
use clap::{ArgAction, Args, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;
use synod_check::history;
use synod_harness::chaos::clients::ClientOptions;
use synod_harness::chaos::{self, ChaosConfig, Network};
use synod_harness::workload::{Deletes, Mix, WorkloadConfig};
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
    /// Append slots (lists grown by a cas loop, one unique element per attempt).
    #[arg(long, default_value_t = 1)]
    pub append_keys: usize,
    /// How register keys are deleted: `tombstone` (a put of a unique value) or `empty` (a real
    /// delete; every delete leaves the same empty value, so an unknown one can explain a lost
    /// write).
    #[arg(long, value_enum, default_value_t = DeleteMode::Tombstone)]
    pub deletes: DeleteMode,
    /// Whether clients settle an unknown cas or propose-once by reading the key afterwards
    /// (docs/testing.md, "Settling unknown writes").
    #[arg(long, action = ArgAction::Set, default_value_t = true)]
    pub resolve: bool,
    /// A client gives up on a request after this long (the operation is then unknown).
    #[arg(long, default_value_t = 6000)]
    pub client_timeout_ms: u64,
    /// The nodes' --request-timeout-ms (a node answers `timeout`, an unknown, after this long).
    #[arg(long, default_value_t = 4000)]
    pub request_timeout_ms: u64,
    /// Whether the nemesis also pauses nodes (SIGSTOP, then SIGCONT after 0.5–3 s).
    #[arg(long, action = ArgAction::Set, default_value_t = true)]
    pub pauses: bool,
    /// How nodes are connected: `proxies` (loopback, every peer link through a fault-injecting
    /// proxy) or `namespaces` (a network namespace per node, links cut by dropping packets in
    /// the kernel; needs root and iproute2).
    #[arg(long, value_enum, default_value_t = NetworkMode::Proxies)]
    pub network: NetworkMode,
    /// While the workload runs, grow the cluster by two nodes (each started with `serve --join`),
    /// replace one founding node's disk (killed, wiped, removed, started empty and added again),
    /// and shrink back; the run fails unless every change is done (docs/testing.md).
    #[arg(long)]
    pub membership: bool,
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
    /// (Append keys also get the direct check of synod_check::append.)
    #[arg(long)]
    pub check_history: Option<PathBuf>,
}

/// How register keys are deleted (`--deletes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DeleteMode {
    /// A real delete.
    Empty,
    /// A put of a unique tombstone value.
    Tombstone,
}

/// How nodes are connected (`--network`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum NetworkMode {
    /// Loopback and proxies.
    Proxies,
    /// Network namespaces.
    Namespaces,
}

/// The bugs `--inject` knows (the node's `SYNOD_FAULT` values, synod-server's src/fault.rs).
const INJECTABLE: &[&str] = &["forget-persist", "forget-some-persists"];

pub async fn run(args: ChaosArgs) -> anyhow::Result<()> {
    if let Some(path) = &args.check_history {
        let records = history::read_jsonl(path)?;
        let verdict = history::check(&records)?;
        let anomalies = chaos::append_anomalies(&records);
        for line in chaos::anomaly_lines(&anomalies) {
            println!("{}", line.trim_start());
        }
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
        if !verdict.linearizable() || !anomalies.is_empty() {
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
    if args.membership && !(2..=7).contains(&args.nodes) {
        bail!("--membership needs --nodes 2 to 7 (it adds two nodes)");
    }
    if let Some(bug) = &args.inject {
        if !INJECTABLE.contains(&bug.as_str()) {
            bail!("--inject knows these bugs: {}", INJECTABLE.join(", "));
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
        workload: Mix {
            keys: WorkloadConfig {
                register_keys: args.register_keys,
                once_keys: args.once_keys,
            },
            append_keys: args.append_keys,
            deletes: match args.deletes {
                DeleteMode::Empty => Deletes::Empty,
                DeleteMode::Tombstone => Deletes::Tombstone,
            },
        },
        client: ClientOptions {
            timeout: Duration::from_millis(args.client_timeout_ms),
            resolve: args.resolve,
        },
        request_timeout: Duration::from_millis(args.request_timeout_ms),
        pauses: args.pauses,
        network: match args.network {
            NetworkMode::Proxies => Network::Proxies,
            NetworkMode::Namespaces => Network::Namespaces,
        },
        membership: args.membership,
        history: args.history,
        data_root: args.data_root,
        node_env: args
            .inject
            .map(|bug| vec![("SYNOD_FAULT".to_owned(), bug)])
            .unwrap_or_default(),
    };
    eprintln!(
        "chaos: {} nodes, {} clients, {} s, seed {seed}{}",
        config.nodes,
        config.clients,
        args.duration_secs,
        if config.membership {
            ", membership changes"
        } else {
            ""
        }
    );
    let report = chaos::run(&config).await?;
    println!("{report}");
    if report.found_violation() {
        bail!(
            "the chaos run found a violation (history: {})",
            report.history.display()
        );
    }
    if !report.passed() {
        bail!(
            "the membership changes were not all done (history: {})",
            report.history.display()
        );
    }
    Ok(())
}
