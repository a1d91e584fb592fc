//! # synod-server — the durable, networked per-key Paxos key-value node
//!
//! Every key is its own Paxos register, run by `synod_core::Node<Bytes>` unchanged. The pieces,
//! one idea per module (in the style of tokio's mini-redis), all private; what other crates use
//! is re-exported below:
//!
//! * `wire` — the peer frame format: handshake and batches of items — protocol envelopes
//!   `{from, key, Message}`, forwarded requests and their answers (public as [`wire`]: its
//!   encoders and decoders are one namespace).
//! * `membership` — the founding member ids and quorum sizes every node and data directory must
//!   agree on.
//! * `members_api` — `GET`/`POST /v1/members`: the membership, a change and its progress.
//! * `members_record` — the cluster's membership as a register of its own (a reserved key):
//!   the configuration, the history since the last catch-up, addresses, a change's progress.
//! * `reconfiguration` — running a membership change: catch-up, compare-and-set of the
//!   record, install on every node; the peers' side of a change.
//! * `home` — each key's home proposer: rendezvous hashing over the member ids, a fixed hash.
//! * `storage` — acceptor state and committed values: an acceptor log (one append and one
//!   fdatasync per batch) in front of redb, applied in large batches.
//! * `replica` — the synchronous heart: key → core node, request queues, persist-before-send.
//! * `shortcuts` — which requests took the one-round-trip paths, told from the core's outputs.
//! * `backoff` — randomized exponential backoff between attempts (the seed's livelock remedy).
//! * `request_ids` — request ids that never repeat for a node, across restarts too.
//! * `runtime` — the thread that drives the replica: batching, timers, client replies.
//! * `timer_table` — which core timers are armed, by generation (shared with the simulation).
//! * `transport` — TCP between peers: handshake, reconnects, bounded queues, frame limits.
//! * `tls` — rustls configurations from PEM files: mutual TLS 1.3 between peers (each node named
//!   `synod-node-<id>` in its certificate), HTTPS for clients, the client's side of both.
//! * `reloadable` — a value (TLS configuration, token list) swapped on SIGHUP under its readers.
//! * `peer_status` — what a node knows about its links to each member: readiness, the member
//!   view, per-peer metrics, the log lines of a peer that becomes unreachable and recovers.
//! * `forward` — client requests run at their key's home: forwarded there, the answer relayed.
//! * `api` — the HTTP/JSON client API (axum), `/health`, `/ready`, `/v1/cluster` and `/metrics`.
//! * `auth` — bearer tokens (hashed in a token file): read or read-write per key prefix, 401/403.
//! * `certs` — a CA, node and client certificates made with rcgen (`cluster --tls`, `certs`).
//! * `https` — the TLS listener that serves the client API over HTTPS.
//! * `security` — a node's TLS and token files, loaded at start and reloaded on SIGHUP.
//! * `api_error` — one error format, `{"error","detail"}` JSON, for every non-2xx answer.
//! * `metrics` — counters and histograms, Prometheus text.
//! * `server` — a node's configuration and its assembly out of the pieces above.
//! * `client` — a Rust client for one node's HTTP API.
//! * `client_options` — a client's CA, certificate and bearer token for secured nodes.
//! * `cluster_client` — a client of several nodes that sends each request to its key's home.
//! * `failover` — one request tried at several nodes in turn, never a write twice.
//! * [`cli`] — the `serve` and `cluster` commands, shared by the `synod` binary and by the test
//!   harness (`synod-harness`), whose binary runs nodes through the very same entry point.
//! * `fault` — with the `fault-injection` feature only (which only `synod-harness` enables): the
//!   one test seam, a storage that acknowledges commits without writing.
//!
//! Testing the node — deterministic simulation, chaos run, workloads, trace replay, load
//! generator — is the `synod-harness` crate's job; nothing here exists only for it.

mod api;
mod api_error;
mod auth;
mod backoff;
mod certs;
pub mod cli;
mod client;
mod client_options;
mod cluster_client;
mod failover;
#[cfg(feature = "fault-injection")]
mod fault;
mod forward;
mod home;
mod https;
mod members_api;
mod members_record;
mod membership;
mod metrics;
mod peer_status;
mod reconfiguration;
mod reloadable;
mod replica;
mod request_ids;
mod runtime;
mod security;
mod server;
mod shortcuts;
mod storage;
mod timer_table;
mod tls;
mod transport;
pub mod wire;

pub use api::{router as http_router, secured_router as secured_http_router, ApiConfig};
pub use auth::{hash_token, new_token, Access, Tokens};
pub use backoff::Timing;
pub use certs::{ensure_ca, issue, make_cluster, Issued, Subject, DEFAULT_DAYS};
pub use client::{CasOutcome, Chosen, Client, ClientError, ClusterInfo, Health, OpKind, EMPTY_KEY};
pub use client_options::ClientOptions;
pub use cluster_client::ClusterClient;
pub use failover::{Failover, FailoverError};
pub use forward::{ForwardConfig, Forwarder, RunResult, DEFAULT_FORWARD_TIMEOUT};
pub use home::home_of;
pub use membership::{Addresses, Membership};
pub use metrics::{os_write_bytes, Counter, Distribution, Metrics};
pub use peer_status::{PeerStatus, Readiness};
pub use reloadable::Reloadable;
pub use replica::{
    Effects, Event, Outgoing, Replica, ReplicaConfig, ReplicaError, Reply, ReplyError,
    TimerCommand, DEFAULT_CACHE_LIMIT, DEFAULT_QUEUE_LIMIT,
};
pub use request_ids::{NoIds, RequestIds};
pub use runtime::{
    start as start_runtime, RuntimeConfig, RuntimeHandle, StartError, Stopped, SubmitResult,
    Submitted,
};
pub use security::{SecurityConfig, SecurityError};
pub use server::{Server, ServerConfig, ServerError, DEFAULT_CLUSTER_ID};
/// In-memory file helpers shared with the simulation's disk.
pub use storage::log_file as storage_files;
pub use storage::{
    Backends, Committed, LogFile, MemoryLog, Meta, Storage, StorageError, StorageOptions,
    WriteBatch, STORAGE_FORMAT_VERSION,
};
pub use timer_table::TimerTable;
pub use tls::{
    http_server_config, node_name, CertFiles, HttpTlsFiles, PeerTls, PeerTlsFiles, TlsError,
};
pub use transport::{start_outbound, Link, Outbox, TransportConfig};
