//! Synod against OmniPaxos on the same job: commit N = 1000 independent client writes in a
//! 3-node cluster, in memory, in one process, no I/O. Both libraries are sans-IO; both harnesses
//! move messages between three in-process instances through FIFO queues until nothing is left
//! in flight, so the last write is known to every node.
//!
//! * **Synod**: write `i` is a `Put(i)` on its own register `i` (a key of the KV store), at
//!   member 1. One write = one full single-decree round: Prepare, Promise, Accept, Accepted,
//!   Commit (10 messages, 6 acceptor-state changes). No leader, no log; the register's nodes are
//!   created as the key is first touched, inside the measurement.
//! * **OmniPaxos** 0.2 (`MemoryStorage`, `batch_size` 1, no ticks during the measurement):
//!   node 1 is made leader before the measurement (`try_become_leader`, prepare phase done), and
//!   write `i` is `append`ed to its replicated log. One write = one log slot in the leader's
//!   accept phase: AcceptDecide, Accepted, Decide (6 messages when one write is in flight).
//!
//! Two ways to issue the writes, for both:
//! * `sequential` — one write at a time; the next starts when the cluster is quiet (closed loop,
//!   one client).
//! * `concurrent` — all N issued, then delivered together. OmniPaxos then merges the entries into
//!   one AcceptDecide per follower (its message batching); Synod's registers are independent and
//!   still exchange one message per register per step (it has no batching of messages in the core).
//!
//! The ratio is computed from criterion's reports (see `docs/benchmarks.md`).

// `criterion_group!` generates undocumented functions.
#![allow(missing_docs)]

use criterion::{
    black_box, criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput,
};
use omnipaxos::messages::Message as OmniMessage;
use omnipaxos::storage::{Entry, NoSnapshot};
use omnipaxos::{ClusterConfig, OmniPaxos, ServerConfig};
use omnipaxos_storage::memory_storage::MemoryStorage;
use synod_benches::MemoryCluster;
use synod_core::{NodeId, Operation, RequestId};

const WRITES: u64 = 1000;

/// One client write in OmniPaxos's log.
#[derive(Clone, Debug)]
struct Write {
    #[allow(dead_code)]
    key: u64,
    #[allow(dead_code)]
    value: u64,
}

impl Entry for Write {
    type Snapshot = NoSnapshot;
}

type Omni = OmniPaxos<Write, MemoryStorage<Write>>;

/// Three OmniPaxos servers and the buffer their messages pass through.
struct OmniCluster {
    nodes: Vec<Omni>,
    buffer: Vec<OmniMessage<Write>>,
    delivered: u64,
}

impl OmniCluster {
    /// Three servers, with server 1 elected leader and in its accept phase.
    fn with_leader() -> Self {
        let cluster = ClusterConfig {
            configuration_id: 1,
            nodes: vec![1, 2, 3],
            flexible_quorum: None,
        };
        let nodes = (1..=3)
            .map(|pid| {
                let server = ServerConfig {
                    pid,
                    ..ServerConfig::default()
                };
                cluster
                    .clone()
                    .build_for_server(server, MemoryStorage::default())
                    .expect("valid OmniPaxos config")
            })
            .collect();
        let mut c = OmniCluster {
            nodes,
            buffer: Vec::new(),
            delivered: 0,
        };
        c.nodes[0].try_become_leader();
        c.run();
        for node in &c.nodes {
            assert_eq!(node.get_current_leader(), Some((1, true)), "leader elected");
        }
        c
    }

    /// Delivers messages until none are left.
    fn run(&mut self) {
        loop {
            for node in &mut self.nodes {
                node.take_outgoing_messages(&mut self.buffer);
            }
            if self.buffer.is_empty() {
                return;
            }
            self.delivered += self.buffer.len() as u64;
            for msg in self.buffer.drain(..) {
                let to = msg.get_receiver() as usize - 1;
                self.nodes[to].handle_incoming(msg);
            }
        }
    }

    fn append(&mut self, i: u64) {
        self.nodes[0]
            .append(Write { key: i, value: i })
            .expect("append accepted");
    }

    fn assert_all_decided(&self, n: u64) {
        for node in &self.nodes {
            assert_eq!(node.get_decided_idx() as u64, n);
        }
    }
}

fn synod_writes(concurrent: bool) -> MemoryCluster<u64> {
    let mut cluster = MemoryCluster::<u64>::new(3).expect("valid cluster");
    for i in 0..WRITES {
        let key = cluster.add_register();
        cluster.request(key, NodeId(1), RequestId(i), Operation::Put(black_box(i)));
        if !concurrent {
            cluster.run();
        }
    }
    cluster.run();
    cluster
}

fn omni_writes(mut cluster: OmniCluster, concurrent: bool) -> OmniCluster {
    for i in 0..WRITES {
        cluster.append(black_box(i));
        if !concurrent {
            cluster.run();
        }
    }
    cluster.run();
    cluster
}

fn commit_writes(c: &mut Criterion) {
    // Check once, outside the measurement, that both harnesses do the whole job.
    for concurrent in [false, true] {
        let synod = synod_writes(concurrent);
        assert_eq!(synod.counters().replies, WRITES);
        assert_eq!(synod.counters().delivered, WRITES * 10);
        let omni = OmniCluster::with_leader();
        let setup = omni.delivered;
        let omni = omni_writes(omni, concurrent);
        omni.assert_all_decided(WRITES);
        eprintln!(
            "{} writes, {}: synod delivered {} messages, omnipaxos {} (after {} for the election)",
            WRITES,
            if concurrent {
                "concurrent"
            } else {
                "sequential"
            },
            synod.counters().delivered,
            omni.delivered - setup,
            setup
        );
    }

    let mut group = c.benchmark_group("commit_1000_writes_3_nodes");
    group.throughput(Throughput::Elements(WRITES));
    for (mode, concurrent) in [("sequential", false), ("concurrent", true)] {
        group.bench_function(BenchmarkId::new("synod", mode), |b| {
            b.iter(|| synod_writes(concurrent))
        });
        group.bench_function(BenchmarkId::new("omnipaxos", mode), |b| {
            b.iter_batched(
                OmniCluster::with_leader,
                |cluster| omni_writes(cluster, concurrent),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, commit_writes);
criterion_main!(benches);
