//! # synod-server — the durable, networked per-key Paxos key-value node
//!
//! Every key is its own Paxos register, run by `synod_core::Node<Bytes>` unchanged. The pieces,
//! one idea per module (in the style of tokio's mini-redis):
//!
//! * [`wire`] — the peer frame format: handshake and batches of envelopes `{from, key, Message}`.
//! * [`membership`] — the member ids and quorum sizes every node and data directory must agree on.
//! * [`storage`] — acceptor state and committed values in redb; one transaction per batch.
//! * [`replica`] — the synchronous heart: key → core node, request queues, persist-before-send.
//! * [`backoff`] — randomized exponential backoff between attempts (the seed's livelock remedy).
//! * [`runtime`] — the thread that drives the replica: batching, timers, client replies.
//! * [`transport`] — TCP between peers: handshake, reconnects, bounded queues, frame limits.
//! * [`api`] — the HTTP/JSON client API (axum) and `/metrics`.
//! * [`metrics`] — counters and histograms, Prometheus text.
//! * [`server`] — a node's configuration and its assembly out of the pieces above.
//! * [`client`] — a Rust client for the HTTP API.
//! * [`history`], [`workload`], [`sim`] — fault testing: client histories and their
//!   linearizability check, the random workload, the deterministic simulation.
//! * [`chaos`] — the real-process chaos run: fault-injecting proxies, nemesis, history check.
//! * [`trace_replay`] — replays model-checker trace files against real replicas (regression tests).

pub mod api;
pub mod backoff;
pub mod chaos;
pub mod client;
#[cfg(feature = "fault-injection")]
pub mod fault;
pub mod history;
pub mod membership;
pub mod metrics;
pub mod replica;
pub mod runtime;
pub mod server;
pub mod sim;
pub mod storage;
pub mod trace_replay;
pub mod transport;
pub mod wire;
pub mod workload;
