//! `synod status`: one node's view of its cluster (`GET /v1/cluster`), readable — whether it is
//! ready, its membership, and every member's link (connected or not, last contact, frames,
//! refused handshakes and why) — or as the node's JSON with `--output json`.

use crate::secure::ClientSecurity;
use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use serde_json::Value;
use std::fmt::Write;
use std::time::Duration;

/// `synod status` options.
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// The node to ask (`localhost:8081` means `http://localhost:8081`).
    #[arg(long, env = "SYNOD_ENDPOINT", default_value = "http://127.0.0.1:8081",
          value_parser = endpoint)]
    pub endpoint: String,
    /// `text` for people, `json` for programs (the node's `/v1/cluster` answer).
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// How long to wait for the node's answer, in ms.
    #[arg(long, default_value_t = 5000)]
    pub timeout_ms: u64,
    /// TLS and token.
    #[command(flatten)]
    pub security: ClientSecurity,
}

/// How `status` prints.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// Readable text.
    Text,
    /// The node's JSON.
    Json,
}

/// Exit codes of `synod status`, for its `--help`.
pub const HELP: &str = "Exit codes:\n  0  the node is ready\n  1  the node answered and is not \
     ready (the output says why)\n  2  usage error (bad flag)\n  3  the node could not be asked \
     (no answer, or not a synod node)";

/// An endpoint as the client reads it, without a trailing `/`.
fn endpoint(text: &str) -> Result<String, String> {
    let client =
        synod_server::Client::new(text, Duration::from_secs(1)).map_err(|e| e.to_string())?;
    Ok(client.endpoint().as_str().trim_end_matches('/').to_owned())
}

/// Asks the node and prints its view; `Ok(true)` when it is ready, `Err` when it could not be
/// asked.
pub async fn status(args: StatusArgs) -> anyhow::Result<bool> {
    let base = args.endpoint.as_str();
    let url = format!("{base}/v1/cluster");
    let options = args.security.options()?;
    let client =
        synod_server::Client::with_options(base, Duration::from_millis(args.timeout_ms), &options)?;
    let (code, text) = client
        .get_raw("/v1/cluster")
        .await
        .map_err(reqwest::Error::without_url)
        .with_context(|| format!("asking {url}"))?;
    let view: Value = serde_json::from_str(&text)
        .ok()
        .filter(|v: &Value| v.get("peers").is_some() && v.get("membership").is_some())
        .with_context(|| {
            format!("{url} answered {code} without a synod cluster view (is it a synod node?)")
        })?;
    let ready = view["ready"].as_bool().unwrap_or(false);
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&view)?),
        Output::Text => print!("{}", render(base, &view)?),
    }
    Ok(ready)
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// The readable form of a `/v1/cluster` answer.
fn render(endpoint: &str, view: &Value) -> anyhow::Result<String> {
    let mut out = String::new();
    let node = text(&view["node"]);
    match view["not_ready"].as_str() {
        None => writeln!(out, "node {node} at {endpoint}: ready")?,
        Some(why) => writeln!(out, "node {node} at {endpoint}: NOT READY: {why}")?,
    }
    let membership = &view["membership"];
    let Some(members) = membership["members"].as_array() else {
        bail!("the answer lists no members");
    };
    let ids: Vec<String> = members.iter().map(|m| text(&m["id"])).collect();
    writeln!(
        out,
        "membership: members {{{}}}, q1={}, q2={} (a request needs {} members); peer addresses {}",
        ids.join(", "),
        text(&membership["q1"]),
        text(&membership["q2"]),
        text(&membership["quorum"]),
        if membership["check_addresses"].as_bool() == Some(false) {
            "not compared"
        } else {
            "compared at the handshake"
        }
    )?;
    writeln!(
        out,
        "\n{:>4}  {:<22} {:<34} {:>14}  {:>15}",
        "ID", "ADDRESS", "LINK", "LAST CONTACT", "FRAMES OUT/IN"
    )?;
    let mut refusals = Vec::new();
    for peer in view["peers"].as_array().into_iter().flatten() {
        let link = if peer["self"].as_bool() == Some(true) {
            "this node"
        } else {
            match (peer["outbound"].as_bool(), peer["inbound"].as_bool()) {
                (Some(true), Some(true)) => "connected",
                (Some(true), _) => "only this node -> it",
                (_, Some(true)) => "only it -> this node",
                _ => "not connected",
            }
        };
        let contact = match peer["last_contact_ms"].as_u64() {
            Some(ms) => format!("{:.1} s ago", ms as f64 / 1000.0),
            None if peer["self"].as_bool() == Some(true) => "-".into(),
            None => "never".into(),
        };
        let frames = if peer["self"].as_bool() == Some(true) {
            "-".into()
        } else {
            format!(
                "{}/{}",
                text(&peer["frames_sent"]),
                text(&peer["frames_received"])
            )
        };
        writeln!(
            out,
            "{:>4}  {:<22} {:<34} {:>14}  {:>15}",
            text(&peer["id"]),
            text(&peer["address"]),
            link,
            contact,
            frames
        )?;
        if let Some(why) = peer["refused"].as_str() {
            refusals.push(format!("  node {}: {why}", text(&peer["id"])));
        }
    }
    if !refusals.is_empty() {
        writeln!(out, "\nrefused handshakes (members):")?;
        for line in refusals {
            writeln!(out, "{line}")?;
        }
    }
    let strangers = view["refused_handshakes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !strangers.is_empty() {
        writeln!(out, "\nrefused handshakes (not members):")?;
        for s in strangers {
            let who = match s["node"].as_u64() {
                Some(id) => format!("node {id}"),
                None => "a connection".into(),
            };
            writeln!(
                out,
                "  {who} from {} ({:.1} s ago): {}",
                text(&s["remote"]),
                s["age_ms"].as_u64().unwrap_or(0) as f64 / 1000.0,
                text(&s["reason"])
            )?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_view_reads_like_a_table() {
        let view = json!({
            "node": 1, "ready": false,
            "not_ready": "this node (node 1) is connected to 1 of 3 members ({1}) and a quorum needs 2",
            "membership": {"members": [{"id": 1, "address": "127.0.0.1:7001"},
                                       {"id": 2, "address": "127.0.0.1:7002"}],
                           "q1": 2, "q2": 2, "quorum": 2, "check_addresses": true},
            "peers": [
                {"id": 1, "address": "127.0.0.1:7001", "self": true, "connected": true,
                 "outbound": true, "inbound": true, "last_contact_ms": null, "refused": null,
                 "frames_sent": 0, "frames_received": 0},
                {"id": 2, "address": "127.0.0.1:7002", "self": false, "connected": false,
                 "outbound": false, "inbound": false, "last_contact_ms": 1500,
                 "refused": "node 2 refuses this node: node 2 runs with …",
                 "frames_sent": 7, "frames_received": 5}],
            "refused_handshakes": [{"node": 4, "remote": "127.0.0.1:5555",
                                    "reason": "node 1 runs with …", "age_ms": 2000}],
        });
        let text = render("http://127.0.0.1:8081", &view).unwrap();
        assert!(text.starts_with("node 1 at http://127.0.0.1:8081: NOT READY: this node (node 1) is connected to 1 of 3"), "{text}");
        assert!(
            text.contains("membership: members {1, 2}, q1=2, q2=2 (a request needs 2 members)"),
            "{text}"
        );
        assert!(
            text.contains("   2  127.0.0.1:7002         not connected"),
            "{text}"
        );
        assert!(text.contains("1.5 s ago"), "{text}");
        assert!(text.contains("7/5"), "{text}");
        assert!(
            text.contains("  node 2: node 2 refuses this node: node 2 runs with …"),
            "{text}"
        );
        assert!(
            text.contains("  node 4 from 127.0.0.1:5555 (2.0 s ago): node 1 runs with …"),
            "{text}"
        );
    }
}
