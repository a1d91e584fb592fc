//! A client of a whole cluster that sends each request straight to its key's home.
//!
//! Any node answers any request (a node forwards a request to its key's home itself), but a
//! request sent to the home saves the forwarding hop. [`ClusterClient::connect`] asks each
//! endpoint it is given who it is (`GET /cluster`: the node id and the member ids) and from then
//! on computes each key's home with the same function the nodes use ([`home_of`]). A key whose
//! home did not answer at connect time (or is not among the endpoints) goes to the first
//! endpoint that did, which forwards it or proposes itself.

use crate::client::{CasOutcome, Chosen, Client, ClientError};
use crate::client_options::ClientOptions;
use crate::home::home_of;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::time::Duration;
use synod_core::{NodeId, NodeSet};

/// Clients of several nodes of one cluster, one chosen per key.
#[derive(Clone, Debug)]
pub struct ClusterClient {
    clients: Vec<Client>,
    by_node: BTreeMap<NodeId, usize>,
    members: NodeSet,
    fallback: usize,
}

impl ClusterClient {
    /// A client of the nodes at `endpoints`, each HTTP request giving up after `timeout`. At
    /// least one endpoint must answer; all that answer must name the same members.
    pub async fn connect(
        endpoints: &[impl AsRef<str>],
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        Self::connect_with(endpoints, timeout, &ClientOptions::default()).await
    }

    /// The same with TLS and token `options`.
    pub async fn connect_with(
        endpoints: &[impl AsRef<str>],
        timeout: Duration,
        options: &ClientOptions,
    ) -> Result<Self, ClientError> {
        let clients = endpoints
            .iter()
            .map(|e| Client::with_options(e.as_ref(), timeout, options))
            .collect::<Result<Vec<_>, _>>()?;
        let mut by_node = BTreeMap::new();
        let mut members: Option<NodeSet> = None;
        let mut fallback = None;
        let mut last_error = None;
        for (i, client) in clients.iter().enumerate() {
            let info = match client.cluster().await {
                Ok(info) => info,
                Err(e) => {
                    last_error = Some(e);
                    continue;
                }
            };
            let theirs: NodeSet = info.members.iter().map(|&m| NodeId(m)).collect();
            if members.is_some_and(|ours| ours != theirs) {
                let members: Vec<String> = info.members.iter().map(u8::to_string).collect();
                return Err(ClientError::Decode(format!(
                    "{} names other members ({{{}}}) than the endpoints before it",
                    client.endpoint(),
                    members.join(", ")
                )));
            }
            members = Some(theirs);
            by_node.insert(NodeId(info.node), i);
            fallback.get_or_insert(i);
        }
        match (members, fallback) {
            (Some(members), Some(fallback)) => Ok(ClusterClient {
                clients,
                by_node,
                members,
                fallback,
            }),
            _ => {
                Err(last_error
                    .unwrap_or_else(|| ClientError::Endpoint("no endpoints given".into())))
            }
        }
    }

    /// The member ids.
    pub fn members(&self) -> NodeSet {
        self.members
    }

    /// The index (in the endpoints given to [`connect`](Self::connect)) of the endpoint that
    /// requests on `key` go to: its home's, if known.
    pub fn index_for(&self, key: &str) -> usize {
        home_of(key.as_bytes(), self.members)
            .and_then(|home| self.by_node.get(&home).copied())
            .unwrap_or(self.fallback)
    }

    /// The client that requests on `key` go to.
    pub fn for_key(&self, key: &str) -> &Client {
        &self.clients[self.index_for(key)]
    }

    /// [`Client::get`] at `key`'s home.
    pub async fn get(&self, key: &str) -> Result<Option<Bytes>, ClientError> {
        self.for_key(key).get(key).await
    }

    /// [`Client::put`] at `key`'s home.
    pub async fn put(
        &self,
        key: &str,
        value: impl Into<Bytes>,
    ) -> Result<Option<String>, ClientError> {
        self.for_key(key).put(key, value).await
    }

    /// [`Client::delete`] at `key`'s home.
    pub async fn delete(&self, key: &str) -> Result<Option<String>, ClientError> {
        self.for_key(key).delete(key).await
    }

    /// [`Client::cas`] at `key`'s home.
    pub async fn cas(
        &self,
        key: &str,
        expected: Option<&str>,
        new: &str,
    ) -> Result<CasOutcome, ClientError> {
        self.for_key(key).cas(key, expected, new).await
    }

    /// [`Client::propose_once`] at `key`'s home.
    pub async fn propose_once(
        &self,
        key: &str,
        value: impl Into<Bytes>,
    ) -> Result<Chosen, ClientError> {
        self.for_key(key).propose_once(key, value).await
    }
}
