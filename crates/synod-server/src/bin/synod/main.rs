//! The `synod` binary: run a node (`serve`), a local cluster (`cluster`), or talk to a node
//! (`get`, `put`, `del`, `cas`, `propose-once`). `serve` and `cluster` are the library's
//! [`synod_server::cli`]; the client commands live in [`kv`]. (Load generation and fault testing
//! are the `synod-harness` binary's: `cargo run -p synod-harness -- bench|chaos|sim`.)

mod kv;

use anyhow::Context;
use clap::{Parser, Subcommand};
use synod_server::cli::{self, ClusterArgs, NodeCommand, ServeArgs};

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
    Serve(ServeArgs),
    /// Start an N-node cluster on loopback as child processes; Ctrl-C stops it.
    Cluster(ClusterArgs),
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
}

fn main() -> anyhow::Result<()> {
    let (args, runtime) = cli::start("serve")?;
    let cli = Cli::parse_from(args);
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => cli::serve(args).await,
            Command::Cluster(args) => {
                let node =
                    NodeCommand::current_exe("serve").context("locating the synod binary")?;
                cli::run_cluster(args, &node).await
            }
            Command::Get(args) => kv::get(args).await,
            Command::Put(args) => kv::put(args).await,
            Command::Del(args) => kv::del(args).await,
            Command::Cas(args) => kv::cas(args).await,
            Command::ProposeOnce(args) => kv::propose_once(args).await,
        }
    })
}
