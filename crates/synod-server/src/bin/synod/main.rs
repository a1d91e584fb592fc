//! The `synod` binary: run a node (`serve`), a local cluster (`cluster`), or talk to a node
//! (`get`, `put`, `del`, `cas`, `propose-once`, `status`, `member`), or make TLS material (`certs`, `token`). `serve` and `cluster` are the
//! library's [`synod_server::cli`]; the client commands live in [`kv`], `status` in [`status`]. (Load generation and fault testing
//! are the `synod-harness` binary's: `cargo run -p synod-harness -- bench|chaos|sim`.) Errors
//! are printed once, as one line (`error: context: cause`), and end the process with one of
//! [`exit`]'s codes.

mod certs;
mod exit;
mod kv;
mod member;
mod secure;
mod status;

use anyhow::Context;
use clap::{Parser, Subcommand};
use exit::Failure;
use std::process::ExitCode;
use synod_server::cli::{self, ClusterArgs, NodeCommand, ServeArgs};

/// A replicated key-value store in which every key is its own Paxos register.
#[derive(Parser, Debug)]
#[command(name = "synod", version, about, args_override_self = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log lines as `text` or `json` (default text, or SYNOD_LOG_FORMAT); the filter is RUST_LOG
    /// or SYNOD_LOG. Read before the command runs (synod_server::cli::start).
    #[arg(long = "log-format", global = true, value_name = "FORMAT", value_parser = ["text", "json"])]
    _log_format: Option<String>,
}

// Parsed once per process: the size of the `serve` variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
enum Command {
    /// Run one node.
    #[command(after_help = exit::NODE_HELP)]
    Serve(ServeArgs),
    /// Start an N-node cluster on loopback as child processes; Ctrl-C stops it.
    #[command(after_help = exit::NODE_HELP)]
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
    /// Show a node's view of the cluster: ready or not and why, the membership, every member's
    /// link.
    #[command(after_help = status::HELP)]
    Status(status::StatusArgs),
    /// The cluster's members: list them, add one, remove one (docs/operations.md).
    Member(member::MemberArgs),
    /// Make a CA and node and client certificates for TLS (docs/security.md).
    Certs(certs::CertsArgs),
    /// Make a bearer token: prints it, and its hashed entry for `serve --token-file`.
    Token(certs::TokenArgs),
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("error: {}", cli::error_line(&failure.error));
            ExitCode::from(failure.code)
        }
    }
}

fn run() -> Result<u8, Failure> {
    let (args, runtime) = cli::start("serve").map_err(Failure::usage)?;
    let cli = Cli::parse_from(args);
    let node = |result: anyhow::Result<()>| result.map(|()| exit::OK).map_err(Failure::failed);
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => node(cli::serve(args).await),
            Command::Cluster(args) => {
                let command =
                    NodeCommand::current_exe("serve").context("locating the synod binary");
                match command {
                    Ok(command) => node(cli::run_cluster(args, &command).await),
                    Err(e) => Err(Failure::failed(e)),
                }
            }
            Command::Get(args) => kv::get(args).await,
            Command::Put(args) => kv::put(args).await,
            Command::Del(args) => kv::del(args).await,
            Command::Cas(args) => kv::cas(args).await,
            Command::ProposeOnce(args) => kv::propose_once(args).await,
            Command::Member(args) => match member::member(args).await {
                Ok(true) => Ok(exit::OK),
                Ok(false) => Ok(exit::FAILED),
                Err(error) => Err(Failure::failed(error)),
            },
            Command::Certs(args) => node(certs::certs(args)),
            Command::Token(args) => node(certs::token(args)),
            Command::Status(args) => match status::status(args).await {
                Ok(ready) => Ok(if ready { exit::OK } else { exit::FAILED }),
                Err(error) => Err(Failure {
                    code: exit::UNREACHABLE,
                    error,
                }),
            },
        }
    })
}
