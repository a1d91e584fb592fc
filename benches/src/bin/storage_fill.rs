//! Fills a node's data directory with many keys, for measuring a restart's recovery time at
//! scale (docs/benchmarks.md, "Storage at scale").
//!
//! Usage: `storage_fill DIR KEYS [TAIL_MIB]` — creates DIR (`--init` rules) for node 1 of the
//! default cluster id with members {1, 2, 3}, writes KEYS keys (16 bytes, an accepted 100-byte
//! value each) applied to the database in chunks, then leaves TAIL_MIB MiB (default 31) of
//! unapplied log records — the most a restart can find to replay — and exits without applying
//! them. Start a node on DIR (`synod serve --id 1 --data DIR --peers 1=…,2=…,3=…`) and time
//! its `/health`: storage is opened and recovered before the node binds its ports.

use anyhow::{Context, Result};
use std::path::PathBuf;
use std::time::Instant;
use synod_benches::storage_data::{key, state};
use synod_core::NodeId;
use synod_server::{Membership, Storage, WriteBatch};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .context("usage: storage_fill DIR KEYS [TAIL_MIB]")?,
    );
    let keys: u64 = args.next().context("KEYS")?.parse()?;
    let tail_mib: u64 = args.next().map_or(Ok(31), |a| a.parse())?;
    let members = Membership::majority((1..=3).map(NodeId).collect());
    let mut storage = Storage::open(&dir, "synod", NodeId(1), members, true)?;
    let started = Instant::now();
    let chunk = 200_000u64;
    let mut at = 0;
    while at < keys {
        let end = (at + chunk).min(keys);
        storage.commit(&WriteBatch {
            acceptors: (at..end).map(|k| (key(k), state(1))).collect(),
            committed: Vec::new(),
        })?;
        storage.apply()?;
        at = end;
    }
    println!(
        "{keys} keys applied in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // The tail: batches of 512 random keys until the log holds TAIL_MIB (below the apply size).
    let mut logged = 0u64;
    let mut seed = 1u64;
    let mut round = 2;
    while logged < tail_mib << 20 {
        let acceptors = (0..512)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (key((seed >> 11) % keys.max(1)), state(round))
            })
            .collect();
        round += 1;
        let done = storage.commit(&WriteBatch {
            acceptors,
            committed: Vec::new(),
        })?;
        anyhow::ensure!(done.applied == 0, "the tail reached the apply size");
        logged += done.log_bytes;
    }
    println!(
        "left {logged} bytes of log ({} states pending) in {}",
        storage.pending_states(),
        dir.display()
    );
    Ok(())
}
