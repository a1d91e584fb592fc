//! Core decisions per second: full Paxos rounds of `synod_core::Node`s in memory, no I/O.
//!
//! One decision = a client `Put` at one member, then every message delivered (FIFO) until the
//! cluster is quiet: Prepare → Promise → Accept → Accepted → Commit to every other member, the
//! late promise and accept included (10 messages and 6 state changes for 3 nodes, 20 and 10 for
//! 5). The register is the same across iterations, so every classic decision is a complete
//! two-phase round at a ballot above the last. `Persist` outputs are counted but not written
//! (storage is benched separately).
//!
//! Variants: the same member proposes every time, or the proposer rotates over the members
//! (leaderless use: each round must climb above a ballot another member chose); and, with the
//! one-round-trip shortcuts on (`FastPaths::ALL`), the same member writing again (Accept →
//! Accepted → Commit: 6 messages for 3 nodes, 12 for 5) and a read answered by a read quorum's
//! equal reports (Query → Report, nothing persisted).

// `criterion_group!` generates undocumented functions.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use synod_benches::MemoryCluster;
use synod_core::{FastPaths, NodeId, Operation, RequestId};

fn decisions(c: &mut Criterion) {
    let mut group = c.benchmark_group("core_decision");
    group.throughput(Throughput::Elements(1));
    for (nodes, rotate) in [(3u8, false), (3, true), (5, false), (5, true)] {
        let name = if rotate {
            "rotating_proposer"
        } else {
            "same_proposer"
        };
        group.bench_function(BenchmarkId::new(name, format!("{nodes}_nodes")), |b| {
            let mut cluster = MemoryCluster::<u64>::new(nodes).expect("valid cluster");
            let key = cluster.add_register();
            let mut i = 0u64;
            b.iter(|| {
                let at = if rotate {
                    NodeId((i % u64::from(nodes)) as u8 + 1)
                } else {
                    NodeId(1)
                };
                cluster.decide(key, at, RequestId(i), Operation::Put(black_box(i)));
                i += 1;
            });
            // Every request was answered (the harness would be measuring nothing otherwise).
            assert_eq!(cluster.counters().replies, i);
        });
    }
    for nodes in [3u8, 5] {
        group.bench_function(
            BenchmarkId::new("fast_path_same_proposer", format!("{nodes}_nodes")),
            |b| {
                let mut cluster = MemoryCluster::<u64>::new(nodes)
                    .expect("valid cluster")
                    .with_fast_paths(FastPaths::ALL);
                let key = cluster.add_register();
                cluster.decide(key, NodeId(1), RequestId(0), Operation::Put(0));
                let mut i = 1u64;
                b.iter(|| {
                    let delivered =
                        cluster.decide(key, NodeId(1), RequestId(i), Operation::Put(black_box(i)));
                    debug_assert_eq!(delivered, 3 * (u64::from(nodes) - 1));
                    i += 1;
                });
                assert_eq!(cluster.counters().replies, i);
            },
        );
        group.bench_function(
            BenchmarkId::new("fast_read", format!("{nodes}_nodes")),
            |b| {
                let mut cluster = MemoryCluster::<u64>::new(nodes)
                    .expect("valid cluster")
                    .with_fast_paths(FastPaths::ALL);
                let key = cluster.add_register();
                cluster.decide(key, NodeId(1), RequestId(0), Operation::Put(7));
                let mut i = 1u64;
                b.iter(|| {
                    cluster.decide(key, NodeId(2), RequestId(i), Operation::Read);
                    i += 1;
                });
                assert_eq!(cluster.counters().replies, i);
            },
        );
    }
    group.finish();
}

criterion_group!(benches, decisions);
criterion_main!(benches);
