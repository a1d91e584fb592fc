//! The client commands: `get`, `put`, `del`, `cas`, `propose-once`. Each is one HTTP request,
//! sent to the first of `--endpoints` and moved on to the next ones only as
//! [`synod_server::Failover`] allows (never a write that may have taken effect). Output is text
//! or, with `--output json`, one JSON object on stdout; exit codes are [`crate::exit`]'s.

use crate::exit::{self, Failure};
use crate::secure::ClientSecurity;
use clap::{Args, ValueEnum};
use serde_json::json;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;
use synod_server::{CasOutcome, Failover, OpKind};

/// The endpoint used when none is given.
const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:8081";

/// Which nodes to ask, and how to answer.
#[derive(Args, Debug, Clone)]
pub struct Connection {
    /// The nodes' HTTP endpoints, tried in order: `http://10.0.0.1:8081,http://10.0.0.2:8081`
    /// (`HOST:PORT` means `http://HOST:PORT`). Default: $SYNOD_ENDPOINTS, else $SYNOD_ENDPOINT,
    /// else http://127.0.0.1:8081. `--endpoint` is the same flag.
    #[arg(
        long,
        visible_alias = "endpoint",
        env = "SYNOD_ENDPOINTS",
        value_delimiter = ','
    )]
    pub endpoints: Vec<String>,
    /// Give up on one endpoint after this many ms.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
    /// `text` for people, `json` for programs (one object on stdout).
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// TLS and token.
    #[command(flatten)]
    pub security: ClientSecurity,
}

/// How results are printed.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// Lines for people.
    Text,
    /// One JSON object on stdout.
    Json,
}

impl Connection {
    fn failover(&self) -> Result<Failover, Failure> {
        let mut endpoints: Vec<String> = self
            .endpoints
            .iter()
            .map(|e| e.trim().to_owned())
            .filter(|e| !e.is_empty())
            .collect();
        if endpoints.is_empty() {
            endpoints.push(
                std::env::var("SYNOD_ENDPOINT").unwrap_or_else(|_| DEFAULT_ENDPOINT.to_owned()),
            );
        }
        let options = self.security.options().map_err(Failure::usage)?;
        Failover::with_options(&endpoints, Duration::from_millis(self.timeout_ms), &options)
            .map_err(Failure::usage)
    }
}

/// Where a value comes from: the argument, stdin (`-`), or `--value-file`.
#[derive(Args, Debug)]
pub struct ValueSource {
    /// The value; `-` reads it from stdin (bytes, exactly).
    #[arg(required_unless_present = "value_file")]
    value: Option<String>,
    /// Read the value from this file (bytes, exactly) instead.
    #[arg(long, conflicts_with = "value")]
    value_file: Option<PathBuf>,
}

impl ValueSource {
    fn bytes(self) -> Result<Vec<u8>, Failure> {
        match (self.value, self.value_file) {
            (_, Some(path)) => std::fs::read(&path).map_err(|e| {
                Failure::usage(anyhow::anyhow!("cannot read {}: {e}", path.display()))
            }),
            (Some(value), None) if value == "-" => {
                let mut bytes = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut bytes)
                    .map_err(|e| Failure::usage(anyhow::anyhow!("cannot read stdin: {e}")))?;
                Ok(bytes)
            }
            (Some(value), None) => Ok(value.into_bytes()),
            (None, None) => Err(Failure::usage(anyhow::anyhow!("no value given"))),
        }
    }
}

/// `synod get KEY`
#[derive(Args, Debug)]
#[command(after_help = exit::GET_HELP)]
pub struct GetArgs {
    #[command(flatten)]
    connection: Connection,
    /// Write the value's bytes exactly, without a newline (for binary values).
    #[arg(long, conflicts_with = "output")]
    raw: bool,
    /// The key.
    key: String,
}

/// `synod put KEY VALUE`
#[derive(Args, Debug)]
#[command(after_help = exit::WRITE_HELP)]
pub struct PutArgs {
    #[command(flatten)]
    connection: Connection,
    /// The key.
    key: String,
    #[command(flatten)]
    value: ValueSource,
}

/// `synod del KEY`
#[derive(Args, Debug)]
#[command(after_help = exit::WRITE_HELP)]
pub struct DelArgs {
    #[command(flatten)]
    connection: Connection,
    /// The key.
    key: String,
}

/// `synod cas KEY [--expected OLD] NEW`
#[derive(Args, Debug)]
#[command(after_help = exit::CAS_HELP)]
pub struct CasArgs {
    #[command(flatten)]
    connection: Connection,
    /// The key.
    key: String,
    /// The value expected now (omit to expect an empty key). UTF-8, like `NEW`: the CAS body is
    /// JSON.
    #[arg(long)]
    expected: Option<String>,
    /// The value to write on a match.
    new: String,
}

/// `synod propose-once KEY VALUE`
#[derive(Args, Debug)]
#[command(after_help = exit::WRITE_HELP)]
pub struct ProposeOnceArgs {
    #[command(flatten)]
    connection: Connection,
    /// The key.
    key: String,
    #[command(flatten)]
    value: ValueSource,
}

/// A value for people: `"hello"` (JSON-quoted, so spaces and escapes show), or `(empty)`.
fn show(value: Option<&str>) -> String {
    value.map_or_else(|| "(empty)".into(), |v| json!(v).to_string())
}

fn print_json(value: serde_json::Value) {
    println!("{value}");
}

pub async fn get(args: GetArgs) -> Result<u8, Failure> {
    let failover = args.connection.failover()?;
    let key = args.key.as_str();
    let value = failover.run(OpKind::Read, |c| c.get(key)).await?;
    let code = if value.is_some() { exit::OK } else { exit::NO };
    match (args.connection.output, value) {
        (Output::Json, value) => print_json(json!({
            "key": key,
            "value": value.map(|v| String::from_utf8_lossy(&v).into_owned()),
        })),
        (Output::Text, Some(value)) => {
            let mut out = std::io::stdout().lock();
            out.write_all(&value)?;
            if !args.raw {
                out.write_all(b"\n")?;
            }
            out.flush()?;
        }
        (Output::Text, None) => eprintln!("{key}: (empty)"),
    }
    Ok(code)
}

/// Prints what a write replaced.
fn previous(output: Output, key: &str, previous: Option<String>) {
    match output {
        Output::Json => print_json(json!({"key": key, "previous": previous})),
        Output::Text => println!("ok (previous: {})", show(previous.as_deref())),
    }
}

pub async fn put(args: PutArgs) -> Result<u8, Failure> {
    let failover = args.connection.failover()?;
    let value = bytes::Bytes::from(args.value.bytes()?);
    let key = args.key.as_str();
    let replaced = failover
        .run(OpKind::Write, |c| c.put(key, value.clone()))
        .await?;
    previous(args.connection.output, key, replaced);
    Ok(exit::OK)
}

pub async fn del(args: DelArgs) -> Result<u8, Failure> {
    let failover = args.connection.failover()?;
    let key = args.key.as_str();
    let replaced = failover.run(OpKind::Write, |c| c.delete(key)).await?;
    previous(args.connection.output, key, replaced);
    Ok(exit::OK)
}

pub async fn cas(args: CasArgs) -> Result<u8, Failure> {
    let failover = args.connection.failover()?;
    let (key, expected, new) = (args.key.as_str(), args.expected.as_deref(), &args.new);
    let outcome = failover
        .run(OpKind::Write, |c| c.cas(key, expected, new))
        .await?;
    let output = args.connection.output;
    match outcome {
        CasOutcome::Written { previous } => {
            match output {
                Output::Json => {
                    print_json(json!({"key": key, "written": true, "previous": previous}))
                }
                Output::Text => println!("ok (previous: {})", show(previous.as_deref())),
            }
            Ok(exit::OK)
        }
        CasOutcome::Mismatch { current } => {
            match output {
                Output::Json => {
                    print_json(json!({"key": key, "written": false, "current": current}))
                }
                Output::Text => eprintln!(
                    "mismatch: the current value is {}",
                    show(current.as_deref())
                ),
            }
            Ok(exit::NO)
        }
    }
}

pub async fn propose_once(args: ProposeOnceArgs) -> Result<u8, Failure> {
    let failover = args.connection.failover()?;
    let value = bytes::Bytes::from(args.value.bytes()?);
    let key = args.key.as_str();
    let chosen = failover
        .run(OpKind::Write, |c| c.propose_once(key, value.clone()))
        .await?;
    match args.connection.output {
        Output::Json => print_json(json!({"key": key, "value": chosen.value, "won": chosen.won})),
        Output::Text if chosen.won => println!("{} (chosen: ours)", chosen.value),
        Output::Text => println!("{} (chosen: another proposer's value)", chosen.value),
    }
    Ok(exit::OK)
}
