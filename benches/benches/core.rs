//! Core decisions per second: full Paxos rounds of `synod_core::Node`s in memory, no I/O.
//!
//! One decision = a client `Put` at one member, then every message delivered (FIFO) until the
//! cluster is quiet: Prepare → Promise → Accept → Accepted → Commit to every other member, the
//! late promise and accept included (10 messages and 6 state changes for 3 nodes, 20 and 10 for
//! 5). The register is the same across iterations, so every decision is a complete two-phase
//! round at a ballot above the last (the core has no one-round-trip fast path). `Persist`
//! outputs are counted but not written (storage is benched separately).
//!
//! Variants: the same member proposes every time, or the proposer rotates over the members
//! (leaderless use: each round must climb above a ballot another member chose).

// `criterion_group!` generates undocumented functions.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use synod_benches::MemoryCluster;
use synod_core::{NodeId, Operation, RequestId};

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
    group.finish();
}

criterion_group!(benches, decisions);
criterion_main!(benches);
