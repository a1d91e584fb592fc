//! A node's whole configuration, and its assembly: storage → replica → runtime → transport →
//! forwarding → HTTP API.
//!
//! [`Server::start`] opens the data directory (failing clearly if it is missing, corrupt,
//! someone else's, or created for other members or quorum sizes), binds the peer and HTTP
//! ports, and spawns the tasks. The caller keeps the [`Server`] and awaits [`Server::stopped`]
//! (a storage failure) or its own shutdown signal.

use crate::api::{self, ApiConfig};
use crate::backoff::Timing;
use crate::forward::{ForwardConfig, Forwarder, DEFAULT_FORWARD_TIMEOUT};
use crate::https::TlsListener;
use crate::membership::Membership;
use crate::metrics::Metrics;
use crate::reconfiguration::DEFAULT_INSTALL_TIMEOUT;
use crate::replica::{
    Replica, ReplicaConfig, ReplicaError, DEFAULT_CACHE_LIMIT, DEFAULT_QUEUE_LIMIT,
};
use crate::runtime::{self, RuntimeConfig, RuntimeHandle};
use crate::security::{Security, SecurityConfig, SecurityError};
use crate::storage::DB_FILE;
use crate::transport::{self, TransportConfig};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use synod_core::{ClusterSpec, ConfigError, Configuration, FastPaths};
use synod_core::{NodeId, DEFAULT_MAX_ATTEMPTS};
use thiserror::Error;
use tokio::net::TcpListener;

/// The default cluster id.
pub const DEFAULT_CLUSTER_ID: &str = "synod";

/// Everything a node runs with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// This node.
    pub node_id: NodeId,
    /// The cluster id (handshakes and data directory must match it).
    pub cluster_id: String,
    /// Every member's peer address, this node's included (it listens there).
    pub peers: BTreeMap<NodeId, SocketAddr>,
    /// The HTTP API's address.
    pub http: SocketAddr,
    /// The data directory.
    pub data: PathBuf,
    /// Create a new data directory (it must be missing or empty).
    pub init: bool,
    /// Phase-1 and phase-2 quorum sizes (`None` = majorities).
    pub quorums: Option<(usize, usize)>,
    /// Rounds per request.
    pub max_attempts: u32,
    /// The one-round-trip shortcuts this node's proposers take (both unless turned off).
    pub fast_paths: FastPaths,
    /// Forward client requests to their key's home (`forward`).
    pub forwarding: bool,
    /// How long a forwarded request waits for the home's answer.
    pub forward_timeout: Duration,
    /// How long a membership change waits for a step to be installed.
    pub install_timeout: Duration,
    /// Requests waiting per key.
    pub queue_limit: usize,
    /// Keys whose protocol state is kept in memory (idle ones beyond it are evicted).
    pub cache_limit: usize,
    /// Round timeout and backoff.
    pub timing: Timing,
    /// HTTP limits and request timeout.
    pub api: ApiConfig,
    /// Limit on every peer frame.
    pub max_frame: usize,
    /// Require peers' handshakes to list the same member addresses as `peers`.
    pub check_addresses: bool,
    /// Peer TLS, HTTPS and tokens (all off by default).
    pub security: SecurityConfig,
    /// The membership the cluster was founded with, when `peers` are not its founding members
    /// (a node that joined later, `serve --join`). `None`: `peers` are the founding members
    /// and `quorums` their quorum sizes.
    pub founding: Option<Membership>,
    /// The configuration a joining node starts in when its data directory is new (it must be
    /// one of its members); ignored once the directory exists.
    pub joining: Option<Configuration>,
}

impl ServerConfig {
    /// Defaults for node `node_id` with these peers, HTTP address and data directory.
    pub fn new(
        node_id: NodeId,
        peers: BTreeMap<NodeId, SocketAddr>,
        http: SocketAddr,
        data: PathBuf,
    ) -> Self {
        ServerConfig {
            node_id,
            cluster_id: DEFAULT_CLUSTER_ID.into(),
            peers,
            http,
            data,
            init: false,
            quorums: None,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            fast_paths: FastPaths::ALL,
            forwarding: true,
            forward_timeout: DEFAULT_FORWARD_TIMEOUT,
            install_timeout: DEFAULT_INSTALL_TIMEOUT,
            queue_limit: DEFAULT_QUEUE_LIMIT,
            cache_limit: DEFAULT_CACHE_LIMIT,
            timing: Timing::default(),
            api: ApiConfig::default(),
            max_frame: crate::wire::DEFAULT_MAX_FRAME,
            check_addresses: true,
            security: SecurityConfig::default(),
            founding: None,
            joining: None,
        }
    }

    fn cluster(&self) -> Result<ClusterSpec, ConfigError> {
        let founded = match self.founding {
            Some(founding) => {
                ClusterSpec::new(founding.members.iter())?.with_quorums(founding.q1, founding.q2)?
            }
            None => {
                let (q1, q2) = self.quorums.unzip();
                ClusterSpec::new(self.peers.keys().copied())?.with_quorums_or_majority(q1, q2)?
            }
        };
        Ok(founded
            .with_max_attempts(self.max_attempts)?
            .with_fast_paths(self.fast_paths))
    }

    fn forward(&self) -> ForwardConfig {
        ForwardConfig {
            enabled: self.forwarding,
            timeout: self.forward_timeout,
            request_timeout: self.api.request_timeout,
            max_key: self.api.max_key,
            max_value: self.api.max_value,
        }
    }
}

/// Why a node could not start.
#[derive(Debug, Error)]
pub enum ServerError {
    /// The configuration or the data directory is not usable.
    #[error(transparent)]
    Replica(#[from] ReplicaError),
    /// The runtime could not start (its incarnation could not be counted).
    #[error("cannot start the replica: {0}")]
    Runtime(#[from] runtime::StartError),
    /// This node has no peer address in the member list.
    #[error("node {0} is not in the peer list")]
    NotListed(NodeId),
    /// A certificate, key or token file is not usable.
    #[error(transparent)]
    Security(#[from] SecurityError),
    /// A port could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
}

/// A running node.
#[derive(Debug)]
pub struct Server {
    /// The HTTP API's bound address.
    pub http_addr: SocketAddr,
    /// The peer listener's bound address.
    pub peer_addr: SocketAddr,
    runtime: RuntimeHandle,
    security: Security,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Server {
    /// Opens storage, binds both ports and starts serving.
    pub async fn start(config: ServerConfig) -> Result<Server, ServerError> {
        let listen = *config
            .peers
            .get(&config.node_id)
            .ok_or(ServerError::NotListed(config.node_id))?;
        let metrics = Arc::new(Metrics::default());
        let cluster = config.cluster().map_err(ReplicaError::Config)?;
        let quorums = (cluster.quorums().q1(), cluster.quorums().q2());
        let forward = config.forward();
        let security = Security::load(&config.security)?;
        let replica_config = ReplicaConfig {
            cluster_id: config.cluster_id.clone(),
            node_id: config.node_id,
            cluster,
            queue_limit: config.queue_limit,
            cache_limit: config.cache_limit,
        };
        let replica = match config.joining {
            Some(configuration) if !config.data.join(DB_FILE).exists() => {
                Replica::join(&config.data, replica_config, configuration, metrics.clone())?
            }
            _ => Replica::open(&config.data, replica_config, config.init, metrics.clone())?,
        };
        let bind = |addr: SocketAddr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| ServerError::Bind { addr, source })
        };
        let peer_listener = bind(listen).await?;
        let http_listener = bind(config.http).await?;
        let peer_addr = peer_listener.local_addr().unwrap_or(listen);
        let http_addr = http_listener.local_addr().unwrap_or(config.http);

        let mut transport = TransportConfig::new(&config.cluster_id, config.node_id, config.peers);
        transport.max_frame = config.max_frame;
        transport.quorums = quorums;
        transport.check_addresses = config.check_addresses;
        transport.founding = config.founding;
        transport.tls = security.peer();
        let transport_tls = transport.tls.is_some();
        let outbox = transport::start_outbound(&transport, metrics);
        let runtime = runtime::start(
            replica,
            outbox.clone(),
            RuntimeConfig {
                timing: config.timing,
                ..RuntimeConfig::default()
            },
        )?;
        let forwarder = Forwarder::new(config.node_id, forward, runtime.clone(), outbox.clone())
            .with_install_timeout(config.install_timeout);
        let inbound = tokio::spawn(transport::serve_peers(
            peer_listener,
            outbox,
            forwarder.clone(),
        ));
        let app = api::secured_router(config.api, forwarder, security.tokens());
        let http = match security.http() {
            None => tokio::spawn(async move {
                if let Err(e) = axum::serve(http_listener, app).await {
                    tracing::error!("http server failed: {e}");
                }
            }),
            Some(acceptor) => {
                let listener = TlsListener::new(http_listener, acceptor).map_err(|source| {
                    ServerError::Bind {
                        addr: http_addr,
                        source,
                    }
                })?;
                tokio::spawn(async move {
                    if let Err(e) = axum::serve(listener, app).await {
                        tracing::error!("https server failed: {e}");
                    }
                })
            }
        };
        tracing::info!(node = %config.node_id, %peer_addr, %http_addr, peer_tls = transport_tls, https = security.http().is_some(), tokens = security.tokens().is_some(), data = %config.data.display(), "node started");
        Ok(Server {
            http_addr,
            peer_addr,
            runtime,
            security,
            tasks: vec![inbound, http],
        })
    }

    /// Resolves if the node stops on its own (a storage failure), with the reason.
    pub async fn stopped(&self) -> String {
        self.runtime.stopped_reason().await
    }

    /// Whether clients are served over HTTPS.
    pub fn https(&self) -> bool {
        self.security.http().is_some()
    }

    /// Reads the certificate, key and token files again and uses them for new connections and
    /// requests (all or nothing); says what was reloaded.
    pub fn reload_security(&self) -> Result<String, SecurityError> {
        self.security.reload()
    }

    /// The handle to the replica.
    pub fn runtime(&self) -> &RuntimeHandle {
        &self.runtime
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
