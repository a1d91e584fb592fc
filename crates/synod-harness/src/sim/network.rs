//! The simulated network: what happens to a frame between two replicas.
//!
//! Every frame a replica sends (its batch's envelopes for one peer, encoded with the real wire
//! codec) is handed to [`Network::fate`], which, from the seeded RNG, drops it, delivers it once
//! or several times (duplication), each copy after its own delay — mostly short, sometimes long
//! enough to overtake later frames and outlive round timeouts (reordering). A partition splits
//! the members into two sides; frames crossing it are lost at delivery time, and it heals after a
//! while. Nothing here knows about Paxos.

use rand::rngs::StdRng;
use rand::Rng;
use synod_core::{NodeId, NodeSet};

/// How unreliable the network is in one run (drawn per seed).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NetworkFaults {
    /// Probability that a frame is lost.
    pub loss: f64,
    /// Probability that a frame is delivered twice (or more).
    pub duplication: f64,
    /// Usual delay range, µs.
    pub delay_us: (u64, u64),
    /// Probability of a long delay instead.
    pub long_delay: f64,
    /// Long delay range, µs (above the round timeout: reorders across rounds).
    pub long_delay_us: (u64, u64),
}

impl NetworkFaults {
    /// A perfect network with short delays (used after the faults heal).
    pub fn calm() -> Self {
        NetworkFaults {
            loss: 0.0,
            duplication: 0.0,
            delay_us: (100, 1_000),
            long_delay: 0.0,
            long_delay_us: (0, 0),
        }
    }

    /// Random fault rates: some seeds calm, some stormy.
    pub fn random(rng: &mut StdRng) -> Self {
        let storm = rng.gen_bool(0.5);
        NetworkFaults {
            loss: if storm {
                rng.gen_range(0.0..0.3)
            } else {
                rng.gen_range(0.0..0.05)
            },
            duplication: rng.gen_range(0.0..0.2),
            delay_us: (50, rng.gen_range(200..5_000)),
            long_delay: rng.gen_range(0.0..0.1),
            long_delay_us: (20_000, 300_000),
        }
    }
}

/// Counts of what the network did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetworkStats {
    /// Frames sent.
    pub frames: u64,
    /// Frames lost (randomly, or across a partition, or to a crashed node).
    pub lost: u64,
    /// Extra copies delivered.
    pub duplicated: u64,
    /// Frames given a long delay.
    pub delayed: u64,
    /// Partitions started.
    pub partitions: u64,
}

/// The network's state.
#[derive(Debug)]
pub struct Network {
    /// The current fault rates.
    pub faults: NetworkFaults,
    /// One side of the current partition (the rest is the other side), if any.
    partition: Option<NodeSet>,
    /// What happened so far.
    pub stats: NetworkStats,
}

impl Network {
    /// A network with these fault rates and no partition.
    pub fn new(faults: NetworkFaults) -> Self {
        Network {
            faults,
            partition: None,
            stats: NetworkStats::default(),
        }
    }

    /// The delays (µs) after which copies of a frame from `from` to `to` arrive; empty if it is
    /// lost.
    pub fn fate(&mut self, rng: &mut StdRng) -> Vec<u64> {
        self.stats.frames += 1;
        if rng.gen_bool(self.faults.loss) {
            self.stats.lost += 1;
            return Vec::new();
        }
        let mut copies = 1;
        while copies < 3 && rng.gen_bool(self.faults.duplication) {
            copies += 1;
            self.stats.duplicated += 1;
        }
        (0..copies).map(|_| self.delay(rng)).collect()
    }

    fn delay(&mut self, rng: &mut StdRng) -> u64 {
        if rng.gen_bool(self.faults.long_delay) {
            self.stats.delayed += 1;
            let (lo, hi) = self.faults.long_delay_us;
            rng.gen_range(lo..=hi)
        } else {
            let (lo, hi) = self.faults.delay_us;
            rng.gen_range(lo..=hi)
        }
    }

    /// Splits `members` into two random non-empty sides.
    pub fn partition(&mut self, members: &[NodeId], rng: &mut StdRng) {
        let mut side = NodeSet::EMPTY;
        while side.is_empty() || side.len() == members.len() {
            side = members
                .iter()
                .copied()
                .filter(|_| rng.gen_bool(0.5))
                .collect();
        }
        self.partition = Some(side);
        self.stats.partitions += 1;
    }

    /// Ends the partition.
    pub fn heal(&mut self) {
        self.partition = None;
    }

    /// Whether a frame from `from` to `to` crosses the partition.
    pub fn blocked(&self, from: NodeId, to: NodeId) -> bool {
        self.partition
            .is_some_and(|side| side.contains(from) != side.contains(to))
    }

    /// Counts a frame lost at delivery time.
    pub fn lost(&mut self) {
        self.stats.lost += 1;
    }
}
