//! # synod-harness — testing the Synod node (not published)
//!
//! Everything that drives the production node (`synod-server`) to test or measure it, kept out
//! of the node itself:
//!
//! * [`sim`] — the deterministic simulation: N production replicas on in-memory disks, a
//!   simulated network and clock, crashes at any point; one seed replays exactly.
//! * [`chaos`] — the real-process chaos run: `synod-harness node` processes (the node's own
//!   `serve` entry point) behind fault-injecting proxies, SIGKILLs, partitions, lossy links.
//! * [`workload`] — the fault harnesses' random client operations; what the clients saw is
//!   recorded in `synod_check::history`'s format and judged by its linearizability check.
//! * [`trace_replay`] — model-checker trace files replayed against production replicas.
//! * [`bench`](mod@bench) — the closed-loop load generator, against Synod nodes or etcd members.
//!
//! Fault injection inside the node is one cargo feature of `synod-server`, `fault-injection`,
//! which this crate enables (see `--inject` of `synod-harness chaos`). The `synod-harness`
//! binary runs `bench`, `chaos` and `sim`, and the hidden `node` that the chaos run and
//! `bench --cluster` start nodes with.

pub mod bench;
pub mod chaos;
pub mod sim;
pub mod trace_replay;
pub mod workload;
