//! # synod-benches — harnesses for the Synod benchmarks
//!
//! The criterion benchmarks live in `benches/benches/`; the small measuring commands (loopback
//! round trip, fdatasync latency) in `benches/src/bin/`. This library holds what they share:
//!
//! * [`memory_cluster`] — an in-memory cluster of `synod_core::Node`s with a FIFO message queue,
//!   the harness of every "decisions per second" number.
//! * [`wire_link`] — the same harness with every message through the server's wire codec.
//! * [`bench_dirs`] — the disk and tmpfs directories the storage benchmarks run in.
//! * [`percentiles`] — the percentile summary the measuring commands print.
//! * [`storage_data`] — the keys and acceptor states the storage benchmarks write.

mod bench_dirs;
pub mod memory_cluster;
pub mod percentiles;
pub mod storage_data;
pub mod wire_link;

pub use bench_dirs::bench_dirs;
pub use memory_cluster::{Counters, Direct, Link, MemoryCluster};
pub use wire_link::WireLink;
