//! `serve --join URL`: a node that joins a running cluster asks one of its members
//! (`GET URL/v1/members`) for the cluster's founding membership, the member's address book and
//! the configuration it runs (not the membership record, whose read needs a quorum that may
//! include the joining node), asking again until that configuration includes it (an operator
//! runs `synod member add ID=ADDR` before or after starting it). A new data directory is then
//! created in that configuration; an existing one (a restart) is opened as it is.

use crate::membership::Membership;
use crate::server::ServerConfig;
use anyhow::Context;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;
use synod_core::{Configuration, NodeId, NodeSet};

/// How often a joining node asks again while it is not a member yet.
const POLL: Duration = Duration::from_millis(500);

/// What a joining node learns from a member.
#[derive(Debug, PartialEq, Eq)]
struct Joined {
    founding: Membership,
    configuration: Configuration,
    addresses: Vec<(NodeId, SocketAddr)>,
}

fn set(value: &Value) -> anyhow::Result<NodeSet> {
    let mut set = NodeSet::EMPTY;
    for id in value.as_array().context("a member list")? {
        let id = id.as_u64().context("a node id")?;
        set.insert(NodeId(u8::try_from(id).context("a node id")?));
    }
    Ok(set)
}

/// Reads a member's `GET /v1/members` answer.
fn parse(answer: &Value) -> anyhow::Result<Joined> {
    let founding: Membership = serde_json::from_value(answer["founding"].clone())
        .context("the answer has no founding membership")?;
    // The member's own configuration and address book, not the record: the step that adds
    // this node may need this node for a quorum (replacing a dead member of three).
    let c = &answer["configuration"];
    let number = |v: &Value| v.as_u64().context("a number");
    let configuration = Configuration::new(
        number(&c["generation"])?,
        set(&c["prepare"])?,
        number(&c["q1"])? as usize,
        set(&c["accept"])?,
        number(&c["q2"])? as usize,
    )
    .context("the member's configuration is invalid")?;
    let mut addresses = Vec::new();
    for (id, addr) in answer["addresses"].as_object().context("addresses")? {
        let id = NodeId(id.parse().context("a node id")?);
        let addr = addr
            .as_str()
            .context("an address")?
            .parse()
            .with_context(|| format!("node {id}'s address"))?;
        addresses.push((id, addr));
    }
    Ok(Joined {
        founding,
        configuration,
        addresses,
    })
}

/// Asks the member at `url` until the configuration includes `config.node_id`, then fills in
/// the founding membership, the configuration to start in and the other members' addresses.
pub async fn join(url: &str, config: &mut ServerConfig) -> anyhow::Result<()> {
    let client =
        crate::Client::new(url, Duration::from_secs(5)).with_context(|| format!("--join {url}"))?;
    let me = config.node_id;
    let mut said = false;
    let joined = loop {
        let answer = async {
            let (code, text) = client
                .get_raw("/v1/members?local=true")
                .await
                .with_context(|| format!("asking {url}/v1/members"))?;
            let answer: Value = serde_json::from_str(&text)
                .with_context(|| format!("{url}/v1/members answered {code} without JSON"))?;
            parse(&answer).with_context(|| format!("{url}/v1/members"))
        };
        match answer.await {
            Ok(joined) if joined.configuration.members().contains(me) => break joined,
            Ok(_) if !said => {
                tracing::info!(node = %me, "waiting to be added to the cluster: run `synod member add {me}=<this node's peer address>` on a member");
                said = true;
            }
            Ok(_) => {}
            // The member may be busy or restarting; a join keeps asking.
            Err(e) => tracing::warn!(node = %me, "{e:#}; asking again"),
        }
        tokio::time::sleep(POLL).await;
    };
    tracing::info!(node = %me, generation = joined.configuration.generation(), "joining the cluster");
    for (id, addr) in joined.addresses {
        config.peers.entry(id).or_insert(addr);
    }
    config.founding = Some(joined.founding);
    config.joining = Some(joined.configuration);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_members_answer_gives_what_a_joining_node_needs() {
        let answer = json!({
            "founding": {"members": 14, "q1": 2, "q2": 2},
            "configuration": {"generation": 1, "prepare": [1, 2, 3], "q1": 2,
                              "accept": [1, 2, 3, 4], "q2": 3},
            "addresses": {"1": "127.0.0.1:7001", "4": "127.0.0.1:7004"},
            "record": null,
            "record_error": "no quorum answered within 2000 ms",
        });
        let joined = parse(&answer).unwrap();
        assert_eq!(joined.founding.members.len(), 3);
        assert_eq!(joined.configuration.generation(), 1);
        assert!(joined.configuration.accept().contains(NodeId(4)));
        assert_eq!(joined.addresses.len(), 2);
        // Quorums that could miss are refused, not joined.
        let mut bad = answer.clone();
        bad["configuration"]["q2"] = json!(1);
        assert!(parse(&bad).is_err());
        let mut no_founding = answer.clone();
        no_founding["founding"] = json!(null);
        assert!(format!("{:#}", parse(&no_founding).unwrap_err()).contains("founding"));
    }
}
