//! Replica message handling: three `synod_server::Replica`s with real redb storage,
//! connected in memory (no TCP), running K concurrent decisions on K distinct keys.
//!
//! One iteration: K `Put` requests enter replica 1 as one batch; then, round-robin, each replica
//! takes everything waiting for it as one batch (`handle_batch`: step the keys' nodes, one
//! transaction and one fsync for all their persists, then release the messages), until no
//! message is left. Each decision is 10 peer messages (3 nodes). Keys are the same across
//! iterations, so after the first every round runs on a register already in memory.
//! Reported per decision, for K = 1, 16, 256, on the disk (`SYNOD_BENCH_DIR`, default the
//! system temp dir) and on tmpfs (`/dev/shm`: fsync is free there, which isolates the CPU cost).

// `criterion_group!` generates undocumented functions.
#![allow(missing_docs)]

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use synod_benches::bench_dirs;
use synod_core::{ClusterSpec, NodeId, Operation, RequestId};
use synod_server::{
    Event, Metrics, Replica, ReplicaConfig, DEFAULT_CACHE_LIMIT, DEFAULT_QUEUE_LIMIT,
};

struct ReplicaCluster {
    replicas: Vec<Replica>,
    inboxes: Vec<Vec<Event>>,
    next_request: u64,
}

impl ReplicaCluster {
    fn open(parent: &Path) -> Self {
        let cluster = ClusterSpec::new((1..=3).map(NodeId)).unwrap();
        let replicas = (1..=3)
            .map(|id| {
                let config = ReplicaConfig {
                    cluster_id: "bench".into(),
                    node_id: NodeId(id),
                    cluster,
                    queue_limit: DEFAULT_QUEUE_LIMIT,
                    cache_limit: DEFAULT_CACHE_LIMIT,
                };
                let dir = parent.join(format!("node{id}"));
                Replica::open(&dir, config, true, Arc::new(Metrics::default()))
                    .expect("fresh replica")
            })
            .collect();
        ReplicaCluster {
            replicas,
            inboxes: vec![Vec::new(); 3],
            next_request: 0,
        }
    }

    /// Runs one `Put` per key at replica 1 until the cluster is quiet; returns the replies.
    fn decide(&mut self, keys: &[Bytes], value: &Bytes) -> usize {
        for key in keys {
            self.next_request += 1;
            self.inboxes[0].push(Event::Request {
                request: RequestId(self.next_request),
                key: key.clone(),
                op: Operation::Put(value.clone()),
            });
        }
        let mut replies = 0;
        while self.inboxes.iter().any(|inbox| !inbox.is_empty()) {
            for r in 0..self.replicas.len() {
                let events = std::mem::take(&mut self.inboxes[r]);
                if events.is_empty() {
                    continue;
                }
                let effects = self.replicas[r].handle_batch(events).expect("batch");
                replies += effects.replies.len();
                for send in effects.sends {
                    let to = usize::from(send.to.0) - 1;
                    self.inboxes[to].push(Event::Peer(send.envelope));
                }
            }
        }
        replies
    }

    fn fsyncs(&self) -> u64 {
        self.replicas.iter().map(|r| r.metrics().fsyncs.get()).sum()
    }
}

fn replica_decisions(c: &mut Criterion) {
    let mut group = c.benchmark_group("replica_decisions_3_nodes");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    let value = Bytes::from(vec![0x61u8; 100]);
    for (label, parent) in bench_dirs() {
        for k in [1usize, 16, 256] {
            let dir = tempfile::tempdir_in(&parent).expect("temporary directory");
            let mut cluster = ReplicaCluster::open(dir.path());
            let keys: Vec<Bytes> = (0..k as u64)
                .map(|i| Bytes::copy_from_slice(&i.to_be_bytes()))
                .collect();
            // Once outside the measurement: every decision is answered; fsyncs per iteration.
            assert_eq!(cluster.decide(&keys, &value), k);
            let before = cluster.fsyncs();
            assert_eq!(cluster.decide(&keys, &value), k);
            eprintln!(
                "replica_decisions_3_nodes/{label}/{k}_keys: {} fsyncs (all replicas) per iteration",
                cluster.fsyncs() - before
            );
            group.throughput(Throughput::Elements(k as u64));
            group.bench_function(BenchmarkId::new(label, format!("{k}_keys")), |b| {
                b.iter(|| cluster.decide(&keys, &value))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, replica_decisions);
criterion_main!(benches);
