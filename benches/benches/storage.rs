//! Storage group commit at scale: the acceptor log (`log`, what `Storage::commit` does now)
//! beside a plain redb transaction per batch (`redb_direct`, what it did before issue 20), for
//! key spaces of 1 000 and 1 000 000 keys (and 10 000 000 with `SYNOD_BENCH_10M=1`).
//!
//! Each iteration commits one batch of 16 acceptor states (16-byte keys drawn at random from the
//! key space, a promise and an accepted 100-byte value) and waits for its fsync: steady state,
//! the tree already holding every key. Besides criterion's time, each benchmark prints the bytes
//! the OS counted as written (`/proc/self/io` `write_bytes`) per commit and per state change,
//! over all its iterations — the log's figure includes its share of the periodic applies to redb.
//!
//! The directory is a temporary one under `SYNOD_BENCH_DIR` (default: the system temp dir, on
//! this machine the root disk), where the fsync is real.

// `criterion_group!` generates undocumented functions.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use redb::{Database, TableDefinition};
use std::cell::Cell;
use std::time::Duration;
use synod_benches::storage_data::{key, state};
use synod_core::NodeId;
use synod_server::{Membership, Storage, WriteBatch};

const BATCH: usize = 16;
const ACCEPTORS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("acceptors");

/// A batch of `BATCH` pseudo-random keys of a space of `space` keys (a cheap LCG: no rand in
/// the measured loop).
fn batch(space: u64, seed: &Cell<u64>, round: u64) -> WriteBatch {
    let acceptors = (0..BATCH)
        .map(|_| {
            let s = seed
                .get()
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            seed.set(s);
            (key((s >> 11) % space), state(round))
        })
        .collect();
    WriteBatch {
        acceptors,
        committed: Vec::new(),
    }
}

fn os_write_bytes() -> u64 {
    synod_server::os_write_bytes().unwrap_or(0)
}

fn direct_commit(db: &Database, batch: &WriteBatch) {
    let txn = db.begin_write().expect("write");
    {
        let mut table = txn.open_table(ACCEPTORS).expect("table");
        for (key, state) in &batch.acceptors {
            let bytes = postcard::to_allocvec(state).expect("serializes");
            table
                .insert(key.as_ref(), bytes.as_slice())
                .expect("insert");
        }
    }
    txn.commit().expect("commit");
}

/// Fills both stores with every key of the space, in large unsynced-then-synced chunks.
fn prefill(space: u64, storage: &mut Storage, db: &Database) {
    let chunk = 200_000u64;
    let mut at = 0;
    while at < space {
        let end = (at + chunk).min(space);
        let acceptors: Vec<_> = (at..end).map(|k| (key(k), state(1))).collect();
        let batch = WriteBatch {
            acceptors,
            committed: Vec::new(),
        };
        storage.commit(&batch).expect("prefill commit");
        storage.apply().expect("prefill apply");
        direct_commit(db, &batch);
        at = end;
    }
}

fn at_scale(c: &mut Criterion) {
    let mut spaces = vec![1_000u64, 1_000_000];
    if std::env::var("SYNOD_BENCH_10M").is_ok() {
        spaces.push(10_000_000);
    }
    let parent = std::env::var_os("SYNOD_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let mut group = c.benchmark_group("storage_at_scale");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.throughput(Throughput::Elements(BATCH as u64));
    for space in spaces {
        let dir = tempfile::tempdir_in(&parent).expect("temporary directory");
        let one = Membership::majority([NodeId(1)].into_iter().collect());
        let mut storage = Storage::open(&dir.path().join("node"), "bench", NodeId(1), one, true)
            .expect("fresh storage");
        let db = Database::create(dir.path().join("direct.redb")).expect("direct db");
        let started = std::time::Instant::now();
        prefill(space, &mut storage, &db);
        eprintln!(
            "storage_at_scale: {space} keys prefilled in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let seed = Cell::new(space);
        let round = Cell::new(2u64);
        let report = |name: &str, bytes: u64, commits: u64| {
            eprintln!(
                "storage_at_scale/{name}/{space}_keys: {:.0} B written per commit, {:.0} B per state change ({commits} commits)",
                bytes as f64 / commits.max(1) as f64,
                bytes as f64 / (commits.max(1) * BATCH as u64) as f64
            );
        };
        for name in ["log", "redb_direct"] {
            let commits = Cell::new(0u64);
            let before = os_write_bytes();
            group.bench_function(BenchmarkId::new(name, format!("{space}_keys")), |b| {
                b.iter(|| {
                    round.set(round.get() + 1);
                    let batch = batch(space, &seed, round.get());
                    commits.set(commits.get() + 1);
                    if name == "log" {
                        storage.commit(&batch).expect("commit");
                    } else {
                        direct_commit(&db, &batch);
                    }
                })
            });
            report(name, os_write_bytes() - before, commits.get());
        }
    }
    group.finish();
}

criterion_group!(benches, at_scale);
criterion_main!(benches);
