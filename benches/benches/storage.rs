//! Storage group commit: one redb transaction (one fsync) for a batch of 1, 16 or 256 keys'
//! acceptor states, as `Replica::handle_batch` writes them.
//!
//! Each key is 16 bytes; each state is a promise and an accepted 100-byte value. Keys are
//! overwritten in place across iterations (steady state). Reported per key written.
//!
//! Two directories: `disk` — a temporary directory under `SYNOD_BENCH_DIR` (default: the
//! system temp dir, on this machine the root disk), where the fsync is real; and `tmpfs` —
//! under `/dev/shm` if it exists, where fsync is free, which isolates redb's CPU cost.

// `criterion_group!` generates undocumented functions.
#![allow(missing_docs)]

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::Duration;
use synod_benches::bench_dirs;
use synod_core::{AcceptorState, Ballot, NodeId, Proposal};
use synod_server::{Membership, Storage, WriteBatch};

fn batch(keys: usize, round: u64) -> WriteBatch {
    let ballot = Ballot::new(round, NodeId(1));
    let acceptors = (0..keys as u64)
        .map(|k| {
            let mut key = [0u8; 16];
            key[8..].copy_from_slice(&k.to_be_bytes());
            let state = AcceptorState {
                promised: ballot,
                accepted: Some(Proposal {
                    ballot,
                    value: Some(Bytes::from(vec![0x61u8; 100])),
                }),
            };
            (Bytes::copy_from_slice(&key), state)
        })
        .collect();
    WriteBatch {
        acceptors,
        committed: Vec::new(),
    }
}

fn group_commit(c: &mut Criterion) {
    let mut group = c.benchmark_group("storage_group_commit");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    for (label, parent) in bench_dirs() {
        let dir = tempfile::tempdir_in(&parent).expect("temporary directory");
        let one = Membership::majority([NodeId(1)].into_iter().collect());
        let mut storage = Storage::open(&dir.path().join("node"), "bench", NodeId(1), one, true)
            .expect("fresh storage");
        for keys in [1usize, 16, 256] {
            let batch = batch(keys, 1);
            group.throughput(Throughput::Elements(keys as u64));
            group.bench_function(BenchmarkId::new(label, format!("{keys}_keys")), |b| {
                b.iter(|| storage.commit(&batch).expect("commit"))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, group_commit);
criterion_main!(benches);
