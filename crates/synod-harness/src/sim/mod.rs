//! Deterministic simulation of the production replica under the faults Paxos must survive.
//!
//! [`run`] builds a cluster of N production [`synod_server::Replica`]s (3 or 5), each on its
//! own in-memory redb disk ([`disk::SimDisk`]), connects them with a simulated network
//! ([`network::Network`]: loss, duplication, delay and reordering, partitions that heal) and a
//! simulated clock (round timeouts and the production randomized backoff), lets a few clients
//! issue random operations on a few hot keys ([`crate::workload`]), and crashes and restarts
//! nodes at random points — before a batch, after a batch's commit but before (or halfway
//! through) its sends, and at random times — some of them with a power loss, after which each
//! disk keeps only what was synced plus a random part of the rest ([`disk`]). Every peer message goes through the wire codec.
//! The proposers take the one-round-trip shortcuts ([`SimConfig::fast_paths`]), as a node's do
//! by default. When the clients are done, every fault heals, every node restarts, and every client reads
//! every key.
//!
//! Then the run is judged: the client history, per key, must be linearizable (the project's
//! checker, through [`synod_check::history::check`]); on the `once` keys at most one value may ever be
//! chosen (the ghost [`synod_check::oracle::ChosenOracle`], fed from every durable acceptance);
//! and every value a node learned must have been accepted by a phase-2 quorum at its ballot.
//!
//! Everything is drawn from one `StdRng` seeded with the run's seed, so a seed replays exactly:
//! a failing seed prints the command that replays it. [`Bug`] switches inject known bugs *in
//! the harness* (never in the replica) to show that the checks catch them.

pub mod disk;
pub mod network;
mod world;

use crate::workload::WorkloadConfig;
use network::NetworkStats;
use std::fmt;
use synod_check::history::Record;
use synod_core::FastPaths;

pub use world::{run, SIM_STORAGE};

/// A bug the harness can inject around the (correct) replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bug {
    /// A batch's messages and replies go out before its state is durable, and the node crashes
    /// before the fsync: the disk never sees the batch (its promises and accepts are forgotten).
    SendBeforeFsync,
    /// An `Accepted` counts as a vote of every member: the proposer acknowledges a write after
    /// one real accept instead of a phase-2 quorum.
    AckBeforeAcceptQuorum,
    /// The node never fsyncs its acceptor log and trusts the page cache: its disk's log
    /// `sync_data` does nothing. A process crash loses nothing (the page cache survives); only a
    /// power loss drops the acknowledged records.
    SkipLogFsync,
}

/// The shape of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    /// Replicas (3 or 5).
    pub nodes: u8,
    /// Concurrent clients.
    pub clients: usize,
    /// Operations per client before the heal.
    pub ops_per_client: usize,
    /// Keys and mix.
    pub workload: WorkloadConfig,
    /// Rounds per request.
    pub max_attempts: u32,
    /// The one-round-trip shortcuts the replicas' proposers take: both, as a node runs by
    /// default (`synod serve --fast-paths on`).
    pub fast_paths: FastPaths,
    /// Multiplies the crash rates (1.0 = the default fault mix).
    pub fault_scale: f64,
    /// Whether a random crash may also be a power loss (the disk drops, keeps or tears every
    /// write that was not synced): the run draws a probability for it between 0.2 and 0.6.
    pub power_loss: bool,
    /// An injected bug, if any.
    pub bug: Option<Bug>,
}

impl SimConfig {
    /// The default run of `seed`: 3 replicas for even seeds, 5 for odd ones.
    pub fn for_seed(seed: u64) -> Self {
        SimConfig {
            nodes: if seed.is_multiple_of(2) { 3 } else { 5 },
            clients: 4,
            ops_per_client: 12,
            workload: WorkloadConfig {
                register_keys: 2,
                once_keys: 1,
            },
            max_attempts: 3,
            fast_paths: FastPaths::ALL,
            fault_scale: 1.0,
            power_loss: true,
            bug: None,
        }
    }
}

/// What a run did and what its checks found.
#[derive(Clone, Debug, Default)]
pub struct SimReport {
    /// The seed.
    pub seed: u64,
    /// Replicas.
    pub nodes: u8,
    /// Simulated time at the end, µs.
    pub sim_time_us: u64,
    /// Events processed.
    pub events: u64,
    /// Batches the replicas handled.
    pub batches: u64,
    /// Crashes (all kinds).
    pub crashes: u64,
    /// Crashes before a batch was handled.
    pub crashes_before_batch: u64,
    /// Crashes after a batch was committed and before all its messages left.
    pub crashes_after_persist: u64,
    /// Restarts from disk.
    pub restarts: u64,
    /// Crashes that were also power losses.
    pub power_losses: u64,
    /// Of which the power went out inside a storage commit (a sync failed).
    pub power_cuts_in_commit: u64,
    /// Power losses inside a restart's recovery (a sync of the open failed).
    pub power_cuts_in_recovery: u64,
    /// Unsynced writes a power loss dropped whole.
    pub unsynced_dropped: u64,
    /// Unsynced writes a power loss tore.
    pub unsynced_torn: u64,
    /// What the network did.
    pub network: NetworkStats,
    /// Operations that returned.
    pub ok: usize,
    /// Operations that surely failed.
    pub failed: usize,
    /// Operations of unknown fate.
    pub unknown: usize,
    /// Keys whose history is not linearizable.
    pub linearizability_violations: usize,
    /// Everything the checks found (empty = passed).
    pub problems: Vec<String>,
    /// The client history.
    pub history: Vec<Record>,
}

impl SimReport {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }

    /// The command that replays this run.
    pub fn replay_command(&self) -> String {
        format!(
            "SYNOD_SIM_SEED={} cargo test -p synod-harness --test sim -- --nocapture   (or: cargo run -p synod-harness -- sim --seed {})",
            self.seed, self.seed
        )
    }
}

impl fmt::Display for SimReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "seed {}: {} nodes, {} operations (ok {}, fail {}, unknown {}), {} batches, {} crashes ({} before a batch, {} after a commit, {} power losses ({} inside a commit, {} inside a recovery): {} unsynced writes dropped, {} torn), {} restarts, {} frames ({} lost, {} duplicated, {} long-delayed), {} partitions, {:.3} s simulated",
            self.seed,
            self.nodes,
            self.history.len(),
            self.ok,
            self.failed,
            self.unknown,
            self.batches,
            self.crashes,
            self.crashes_before_batch,
            self.crashes_after_persist,
            self.power_losses,
            self.power_cuts_in_commit,
            self.power_cuts_in_recovery,
            self.unsynced_dropped,
            self.unsynced_torn,
            self.restarts,
            self.network.frames,
            self.network.lost,
            self.network.duplicated,
            self.network.delayed,
            self.network.partitions,
            self.sim_time_us as f64 / 1e6,
        )?;
        for problem in self.problems.iter().take(10) {
            writeln!(f, "  FAIL: {problem}")?;
        }
        if self.problems.len() > 10 {
            writeln!(f, "  … and {} more", self.problems.len() - 10)?;
        }
        if !self.passed() {
            writeln!(f, "  replay: {}", self.replay_command())?;
        }
        Ok(())
    }
}
