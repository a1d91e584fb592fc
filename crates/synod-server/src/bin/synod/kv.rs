//! The client commands: `get`, `put`, `del`, `cas`, `propose-once`, each one HTTP request to
//! one node through [`synod_server::Client`].

use anyhow::Context;
use clap::Args;
use std::io::Write;
use std::time::Duration;
use synod_server::{CasOutcome, Client};

/// Which node to ask.
#[derive(Args, Debug, Clone)]
pub struct Endpoint {
    /// The node's HTTP endpoint.
    #[arg(long, env = "SYNOD_ENDPOINT", default_value = "http://127.0.0.1:8081")]
    pub endpoint: String,
    /// Give up after this many ms.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
}

impl Endpoint {
    fn client(&self) -> anyhow::Result<Client> {
        Client::new(&self.endpoint, Duration::from_millis(self.timeout_ms))
            .with_context(|| format!("endpoint {}", self.endpoint))
    }
}

/// `synod get KEY`
#[derive(Args, Debug)]
pub struct GetArgs {
    #[command(flatten)]
    endpoint: Endpoint,
    /// The key.
    key: String,
}

/// `synod put KEY VALUE`
#[derive(Args, Debug)]
pub struct PutArgs {
    #[command(flatten)]
    endpoint: Endpoint,
    /// The key.
    key: String,
    /// The value.
    value: String,
}

/// `synod del KEY`
#[derive(Args, Debug)]
pub struct DelArgs {
    #[command(flatten)]
    endpoint: Endpoint,
    /// The key.
    key: String,
}

/// `synod cas KEY [--expected OLD] NEW`
#[derive(Args, Debug)]
pub struct CasArgs {
    #[command(flatten)]
    endpoint: Endpoint,
    /// The key.
    key: String,
    /// The value expected now (omit to expect an empty key).
    #[arg(long)]
    expected: Option<String>,
    /// The value to write on a match.
    new: String,
}

/// `synod propose-once KEY VALUE`
#[derive(Args, Debug)]
pub struct ProposeOnceArgs {
    #[command(flatten)]
    endpoint: Endpoint,
    /// The key.
    key: String,
    /// The value proposed.
    value: String,
}

fn show(previous: Option<String>) -> String {
    previous.map_or_else(|| "(empty)".into(), |p| format!("{p:?}"))
}

pub async fn get(args: GetArgs) -> anyhow::Result<()> {
    match args.endpoint.client()?.get(&args.key).await? {
        Some(value) => {
            let mut out = std::io::stdout().lock();
            out.write_all(&value)?;
            out.write_all(b"\n")?;
            Ok(())
        }
        None => {
            eprintln!("{}: (empty)", args.key);
            std::process::exit(2);
        }
    }
}

pub async fn put(args: PutArgs) -> anyhow::Result<()> {
    let client = args.endpoint.client()?;
    let previous = client.put(&args.key, args.value.into_bytes()).await?;
    println!("ok (previous: {})", show(previous));
    Ok(())
}

pub async fn del(args: DelArgs) -> anyhow::Result<()> {
    let previous = args.endpoint.client()?.delete(&args.key).await?;
    println!("ok (previous: {})", show(previous));
    Ok(())
}

pub async fn cas(args: CasArgs) -> anyhow::Result<()> {
    let client = args.endpoint.client()?;
    match client
        .cas(&args.key, args.expected.as_deref(), &args.new)
        .await?
    {
        CasOutcome::Written { previous } => {
            println!("ok (previous: {})", show(previous));
            Ok(())
        }
        CasOutcome::Mismatch { current } => {
            eprintln!("mismatch: current value is {}", show(current));
            std::process::exit(3);
        }
    }
}

pub async fn propose_once(args: ProposeOnceArgs) -> anyhow::Result<()> {
    let client = args.endpoint.client()?;
    let chosen = client
        .propose_once(&args.key, args.value.into_bytes())
        .await?;
    if chosen.won {
        println!("{} (chosen: ours)", chosen.value);
    } else {
        println!("{} (chosen: another proposer's value)", chosen.value);
    }
    Ok(())
}
