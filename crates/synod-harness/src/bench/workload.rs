//! The closed-loop workload: each client sends one operation, waits for its answer, and sends
//! the next, until the deadline. Keys are drawn uniformly from `k0 … k{keys-1}`; an operation is
//! a read with probability `read_ratio`, a CAS with probability `cas_ratio`, else a write.
//! A CAS expects the value this client last saw for the key (or "empty" if it has seen none), so
//! under contention some CAS find another value: that is a mismatch, not an error.
//! Operations that start during the warm-up are not recorded.
//!
//! [`Route`] says which endpoint an operation goes to: the client's own (client `i` uses
//! endpoint `i mod n`; a node forwards requests for keys homed elsewhere, unless the nodes run
//! with `--forward off`, when every node proposes for every key), key affinity by number (key
//! `k` goes to endpoint `k mod n`, so one node proposes for each key and proposers on different
//! nodes do not duel over a key even without forwarding), or the key's home as the nodes compute
//! it (`synod_server::ClusterClient`: no forwarding hop at all).

use super::report::{Progress, Recorder};
use super::target::{Done, OpKind, Target};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use synod_server::ClusterClient;
use tokio::time::Instant;

/// How operations are spread over the endpoints.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Route {
    /// Client `i` sends everything to endpoint `i mod n`.
    Client,
    /// Key `k` always goes to endpoint `k mod n`.
    Key,
    /// A key goes to its home node (Synod endpoints only).
    Home,
}

/// The workload's shape.
#[derive(Clone, Copy, Debug)]
pub struct Mix {
    /// Distinct keys.
    pub keys: u64,
    /// Fraction of reads.
    pub read_ratio: f64,
    /// Fraction of compare-and-sets.
    pub cas_ratio: f64,
    /// Bytes per written value.
    pub value_size: usize,
    /// Which endpoint an operation goes to.
    pub route: Route,
}

impl Mix {
    fn pick(&self, rng: &mut StdRng) -> OpKind {
        let x: f64 = rng.gen();
        if x < self.read_ratio {
            OpKind::Read
        } else if x < self.read_ratio + self.cas_ratio {
            OpKind::Cas
        } else {
            OpKind::Write
        }
    }
}

/// A value of exactly `size` bytes (at least the unique prefix), unique per client and sequence.
fn value(client: usize, seq: u64, size: usize) -> String {
    let mut v = format!("c{client}-{seq}-");
    if v.len() < size {
        v.extend(std::iter::repeat_n('x', size - v.len()));
    }
    v
}

/// Runs client number `client` against `targets` (one per endpoint) until `end`, recording
/// what starts after `measure_from`. `homes` (for [`Route::Home`]) knows each key's home among
/// the same endpoints.
pub async fn client(
    client: usize,
    targets: Arc<Vec<Target>>,
    homes: Option<Arc<ClusterClient>>,
    mix: Mix,
    measure_from: Instant,
    end: Instant,
    progress: Arc<Progress>,
) -> Recorder {
    let mut rng = StdRng::seed_from_u64(0x5eed ^ client as u64);
    let mut seen: HashMap<u64, Option<String>> = HashMap::new();
    let mut recorder = Recorder::default();
    let mut seq = 0u64;
    loop {
        let started = Instant::now();
        if started >= end {
            return recorder;
        }
        let k = rng.gen_range(0..mix.keys.max(1));
        let key = format!("k{k}");
        let op = mix.pick(&mut rng);
        let target = match (mix.route, &homes) {
            (Route::Home, Some(homes)) => &targets[homes.index_for(&key)],
            (Route::Key, _) => &targets[(k % targets.len() as u64) as usize],
            (Route::Client | Route::Home, _) => &targets[client % targets.len()],
        };
        seq += 1;
        let result = match op {
            OpKind::Read => target.read(&key).await,
            OpKind::Write => {
                let v = value(client, seq, mix.value_size);
                let done = target.write(&key, &v).await;
                if done.is_ok() {
                    seen.insert(k, Some(v));
                }
                done
            }
            OpKind::Cas => {
                let v = value(client, seq, mix.value_size);
                let expected = seen.get(&k).cloned().flatten();
                let done = target.cas(&key, expected.as_deref(), &v).await;
                if done == Ok(Done::Written) {
                    seen.insert(k, Some(v));
                }
                done
            }
        };
        let latency = started.elapsed();
        progress.ops.fetch_add(1, Ordering::Relaxed);
        let measured = started >= measure_from;
        match result {
            Ok(done) => {
                match done {
                    Done::Read(current) | Done::Mismatch(current) => {
                        if matches!(op, OpKind::Cas) && measured {
                            recorder.mismatch();
                        }
                        seen.insert(k, current);
                    }
                    Done::Written => {}
                }
                if measured {
                    recorder.ok(op, latency);
                }
            }
            Err(kind) => {
                progress.errors.fetch_add(1, Ordering::Relaxed);
                // The value is unknown now: a later CAS would only guess.
                seen.remove(&k);
                if measured {
                    recorder.error(kind);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_have_the_requested_size_and_are_unique() {
        assert_eq!(value(3, 17, 100).len(), 100);
        assert!(value(3, 17, 100).starts_with("c3-17-"));
        assert_ne!(value(3, 17, 8), value(3, 18, 8));
        // Smaller than the prefix: the prefix alone keeps it unique.
        assert_eq!(value(12, 3456, 2), "c12-3456-");
    }

    #[test]
    fn the_mix_follows_its_ratios() {
        let mix = Mix {
            keys: 10,
            read_ratio: 0.2,
            cas_ratio: 0.1,
            value_size: 8,
            route: Route::Client,
        };
        let mut rng = StdRng::seed_from_u64(1);
        let mut counts = HashMap::new();
        for _ in 0..10_000 {
            *counts.entry(mix.pick(&mut rng)).or_insert(0u32) += 1;
        }
        let share = |op| f64::from(counts[&op]) / 10_000.0;
        assert!((share(OpKind::Read) - 0.2).abs() < 0.02);
        assert!((share(OpKind::Cas) - 0.1).abs() < 0.02);
        assert!((share(OpKind::Write) - 0.7).abs() < 0.02);
    }
}
