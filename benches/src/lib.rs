//! # synod-benches — harnesses for the Synod benchmarks
//!
//! The criterion benchmarks live in `benches/benches/`; the small measuring commands (loopback
//! round trip, fdatasync latency) in `benches/src/bin/`. This library holds what they share:
//!
//! * [`memory_cluster`] — an in-memory cluster of `synod_core::Node`s with a FIFO message queue,
//!   the harness of every "decisions per second" number.
//! * [`percentiles`] — the percentile summary the measuring commands print.

pub mod memory_cluster;
pub mod percentiles;

pub use memory_cluster::{Counters, Direct, Link, MemoryCluster};
