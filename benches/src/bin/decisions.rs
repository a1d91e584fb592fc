//! Runs a fixed number of in-memory core decisions and prints the rate: the same rounds as the
//! `core` and `wire` criterion benchmarks, as a plain process that a profiler can run
//! (`valgrind --tool=callgrind`, `perf record`).
//!
//! Usage: `decisions [u64|bytes|wire] [NODES] [COUNT]` (defaults: `u64 3 1000000`).
//! `u64` = 8-byte integer values; `bytes` = `Bytes` values (what the server stores);
//! `wire` = `Bytes` values with every message through the server's wire codec.

use anyhow::{bail, Result};
use bytes::Bytes;
use std::time::Instant;
use synod_benches::{Link, MemoryCluster, WireLink};
use synod_core::{NodeId, Operation, RequestId};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let kind = args.next().unwrap_or_else(|| "u64".into());
    let nodes: u8 = args.next().map_or(Ok(3), |a| a.parse())?;
    let count: u64 = args.next().map_or(Ok(1_000_000), |a| a.parse())?;
    let start = Instant::now();
    let replies = match kind.as_str() {
        "u64" => {
            let mut cluster = MemoryCluster::<u64>::new(nodes)?;
            let key = cluster.add_register();
            for i in 0..count {
                cluster.decide(key, NodeId(1), RequestId(i), Operation::Put(i));
            }
            cluster.counters().replies
        }
        "bytes" => bytes_decisions(MemoryCluster::new(nodes)?, count),
        "wire" => bytes_decisions(MemoryCluster::with_link(nodes, WireLink::new())?, count),
        other => bail!("unknown kind {other:?} (expected u64, bytes or wire)"),
    };
    let elapsed = start.elapsed();
    anyhow::ensure!(replies == count, "{replies} replies for {count} requests");
    println!(
        "{kind}, {nodes} nodes: {count} decisions in {:.3}s = {:.0} decisions/s",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}

fn bytes_decisions<L: Link<Bytes>>(mut cluster: MemoryCluster<Bytes, L>, count: u64) -> u64 {
    let key = cluster.add_register();
    for i in 0..count {
        let value = Bytes::copy_from_slice(&i.to_be_bytes());
        cluster.decide(key, NodeId(1), RequestId(i), Operation::Put(value));
    }
    cluster.counters().replies
}
