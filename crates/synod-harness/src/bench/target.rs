//! What `synod-harness bench` drives: a Synod node's HTTP API, or an etcd member's v3 JSON gateway,
//! behind one interface of three operations (read, write, compare-and-set), so both systems
//! run the very same workload loop.

use super::etcd::{CasDone, EtcdClient};
use std::time::Duration;
use synod_server::{CasOutcome, Client, ClientError, ClientOptions};

/// Which system the endpoints belong to.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// Synod nodes (`synod serve` / `synod cluster`).
    Synod,
    /// etcd members (the v3 HTTP/JSON gateway on the client port).
    Etcd,
}

/// One operation of the workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpKind {
    /// A linearizable read.
    Read,
    /// An unconditional write.
    Write,
    /// A compare-and-set against the value this client last saw.
    Cas,
}

impl OpKind {
    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Read => "read",
            OpKind::Write => "write",
            OpKind::Cas => "cas",
        }
    }
}

/// What a successful operation returned that the workload cares about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Done {
    /// A read, with the value found.
    Read(Option<String>),
    /// A write or a matching CAS took effect.
    Written,
    /// A CAS found another value (a success of the protocol, not an error), now known.
    Mismatch(Option<String>),
}

/// A client of one endpoint of either system.
#[derive(Clone, Debug)]
pub enum Target {
    /// A Synod node.
    Synod(Client),
    /// An etcd member.
    Etcd(EtcdClient),
}

impl Target {
    /// A client of `endpoint`, giving up on one request after `timeout`.
    pub fn new(
        kind: TargetKind,
        endpoint: &str,
        timeout: Duration,
        options: &ClientOptions,
    ) -> anyhow::Result<Self> {
        Ok(match kind {
            TargetKind::Synod => Target::Synod(Client::with_options(endpoint, timeout, options)?),
            TargetKind::Etcd => Target::Etcd(EtcdClient::new(endpoint, timeout)?),
        })
    }

    /// Reads `key`.
    pub async fn read(&self, key: &str) -> Result<Done, String> {
        match self {
            Target::Synod(c) => c
                .get(key)
                .await
                .map(|v| Done::Read(v.map(|b| String::from_utf8_lossy(&b).into_owned())))
                .map_err(|e| synod_error_kind(&e)),
            Target::Etcd(c) => c.get(key).await.map(Done::Read),
        }
    }

    /// Writes `value` to `key`.
    pub async fn write(&self, key: &str, value: &str) -> Result<Done, String> {
        match self {
            Target::Synod(c) => c
                .put(key, value.to_owned())
                .await
                .map(|_| Done::Written)
                .map_err(|e| synod_error_kind(&e)),
            Target::Etcd(c) => c.put(key, value).await.map(|()| Done::Written),
        }
    }

    /// Writes `new` to `key` if its value is `expected` (`None` = empty).
    pub async fn cas(&self, key: &str, expected: Option<&str>, new: &str) -> Result<Done, String> {
        match self {
            Target::Synod(c) => match c.cas(key, expected, new).await {
                Ok(CasOutcome::Written { .. }) => Ok(Done::Written),
                Ok(CasOutcome::Mismatch { current }) => Ok(Done::Mismatch(current)),
                Err(e) => Err(synod_error_kind(&e)),
            },
            Target::Etcd(c) => match c.cas(key, expected, new).await? {
                CasDone::Written => Ok(Done::Written),
                CasDone::Mismatch(current) => Ok(Done::Mismatch(current)),
            },
        }
    }
}

/// The error kind a report counts: the server's error code, or how the request failed.
pub(super) fn synod_error_kind(error: &ClientError) -> String {
    match error {
        ClientError::Server { code, .. } => code.clone(),
        ClientError::Transport(e) if e.is_timeout() => "client_timeout".into(),
        ClientError::Transport(e) if e.is_connect() => "connect".into(),
        ClientError::Transport(_) => "transport".into(),
        ClientError::Decode(_) => "decode".into(),
        ClientError::Endpoint(_) => "endpoint".into(),
        ClientError::Key(_) => "key".into(),
    }
}
