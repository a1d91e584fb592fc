//! The `synod` binary: run a node (`serve`), a local cluster (`cluster`), or talk to a node
//! (`get`, `put`, `del`, `cas`, `propose-once`), load-test nodes (`bench`), or test them under
//! faults (`chaos`, `sim`). Each command lives in its own module.

mod bench;
mod chaos;
mod cluster;
mod config_file;
mod kv;
mod serve;
mod sim;

use clap::{Parser, Subcommand};

/// A replicated key-value store in which every key is its own Paxos register.
#[derive(Parser, Debug)]
#[command(name = "synod", version, about, args_override_self = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one node.
    Serve(serve::ServeArgs),
    /// Start an N-node cluster on loopback as child processes; Ctrl-C stops it.
    Cluster(cluster::ClusterArgs),
    /// Read a key (a Paxos round).
    Get(kv::GetArgs),
    /// Write a key.
    Put(kv::PutArgs),
    /// Empty a key.
    Del(kv::DelArgs),
    /// Compare-and-set a key.
    Cas(kv::CasArgs),
    /// Propose a value unless one is already chosen; prints the chosen value.
    ProposeOnce(kv::ProposeOnceArgs),
    /// Closed-loop load generator against endpoints (or a local `--cluster N`); prints
    /// throughput and latency percentiles.
    Bench(bench::BenchArgs),
    /// Fault testing: a local cluster under SIGKILLs, partitions and lossy links, with a
    /// linearizability check of the clients' history.
    Chaos(chaos::ChaosArgs),
    /// Fault testing: seeds of the deterministic simulation of the replica.
    Sim(sim::SimArgs),
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SYNOD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse_from(config_file::expand(std::env::args_os().collect())?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Cluster(args) => cluster::run(args).await,
            Command::Get(args) => kv::get(args).await,
            Command::Put(args) => kv::put(args).await,
            Command::Del(args) => kv::del(args).await,
            Command::Cas(args) => kv::cas(args).await,
            Command::ProposeOnce(args) => kv::propose_once(args).await,
            Command::Bench(args) => bench::run(args).await,
            Command::Chaos(args) => chaos::run(args).await,
            Command::Sim(args) => sim::run(args),
        }
    })
}
