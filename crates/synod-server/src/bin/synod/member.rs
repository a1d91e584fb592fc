//! `synod member list | add ID=ADDR | remove ID`: the cluster's membership and its changes,
//! through one node's `/v1/members` (docs/operations.md). `add` and `remove` run the change on
//! the node asked and wait for it to finish; a change that stalls says how far it got, and the
//! same command run again resumes it.

use crate::secure::ClientSecurity;
use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::fmt::Write;
use std::net::SocketAddr;
use std::time::Duration;

/// `synod member` options.
#[derive(Args, Debug)]
pub struct MemberArgs {
    #[command(subcommand)]
    pub command: MemberCommand,
    /// The node to ask (`localhost:8081` means `http://localhost:8081`).
    #[arg(
        long,
        env = "SYNOD_ENDPOINT",
        default_value = "http://127.0.0.1:8081",
        global = true
    )]
    pub endpoint: String,
    /// How long to wait for the node's answer, in ms (a change may catch up many keys).
    #[arg(long, default_value_t = 600_000, global = true)]
    pub timeout_ms: u64,
    /// Print the node's JSON answer instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// TLS and token.
    #[command(flatten)]
    pub security: ClientSecurity,
}

/// What to do.
#[derive(Subcommand, Debug)]
pub enum MemberCommand {
    /// The members, their addresses and generation, and any change in progress.
    List,
    /// Add a member: `ID=HOST:PORT` (its peer address). Start it with `serve --join`.
    Add {
        /// `ID=HOST:PORT`.
        #[arg(value_parser = id_and_address)]
        member: (u8, SocketAddr),
    },
    /// Remove a member (it then refuses client requests).
    Remove {
        /// The member's id.
        id: u8,
    },
}

fn id_and_address(text: &str) -> Result<(u8, SocketAddr), String> {
    let (id, addr) = text
        .split_once('=')
        .ok_or_else(|| format!("expected ID=HOST:PORT, got {text:?}"))?;
    let id = id.parse().map_err(|e| format!("node id {id:?}: {e}"))?;
    let addr = addr
        .parse()
        .map_err(|e| format!("peer address {addr:?}: {e}"))?;
    Ok((id, addr))
}

/// Runs the command; `Ok(true)` when the node answered success.
pub async fn member(args: MemberArgs) -> anyhow::Result<bool> {
    let base = args.endpoint.trim_end_matches('/').to_owned();
    let options = args.security.options()?;
    let client = synod_server::Client::with_options(
        &base,
        Duration::from_millis(args.timeout_ms),
        &options,
    )?;
    let endpoint = client.endpoint().as_str().trim_end_matches('/').to_owned();
    let (code, text) = match &args.command {
        MemberCommand::List => client.get_raw("/v1/members").await,
        MemberCommand::Add { member: (id, addr) } => {
            client
                .post_raw("/v1/members", &json!({"add": {"id": id, "addr": addr}}))
                .await
        }
        MemberCommand::Remove { id } => {
            client
                .post_raw("/v1/members", &json!({ "remove": id }))
                .await
        }
    }
    .map_err(reqwest::Error::without_url)
    .with_context(|| format!("asking {endpoint}/v1/members"))?;
    let answer: Value = serde_json::from_str(&text).with_context(|| {
        format!("{endpoint}/v1/members answered {code} without JSON (is it a synod node?)")
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok((200..300).contains(&code));
    }
    if !(200..300).contains(&code) {
        bail!(
            "{} ({})",
            answer["detail"].as_str().unwrap_or(&text),
            answer["error"].as_str().unwrap_or("error")
        );
    }
    print!("{}", render(&answer["record"], &answer));
    Ok(true)
}

/// The membership record as text.
fn render(record: &Value, answer: &Value) -> String {
    let mut out = String::new();
    let c = &record["configuration"];
    let _ = writeln!(
        out,
        "generation {}: prepare {} (q1 {}), accept {} (q2 {})",
        c["generation"], c["prepare"], c["q1"], c["accept"], c["q2"]
    );
    if let Some(members) = record["members"].as_array() {
        for m in members {
            let _ = writeln!(
                out,
                "  node {}  {}",
                m["id"],
                m["addr"].as_str().unwrap_or("?")
            );
        }
    }
    if let Some(change) = record["change"].as_object() {
        let _ = writeln!(
            out,
            "change in progress toward members {}",
            change["target"]
        );
        if let Some(c) = change.get("catch_up").and_then(Value::as_object) {
            let _ = writeln!(
                out,
                "  catch-up in generation {}: {} of {} keys",
                c["generation"], c["done"], c["total"]
            );
        }
    }
    if let Some(progress) = answer["change"].as_object() {
        if progress["running"].as_bool() == Some(true) {
            let _ = writeln!(
                out,
                "running on node {}: {} ({} of {} keys caught up)",
                answer["node"], progress["status"], progress["caught_up"], progress["total"]
            );
        }
    }
    if let Some(error) = answer["record_error"].as_str() {
        let _ = writeln!(out, "the membership record could not be read: {error}");
    }
    out
}
