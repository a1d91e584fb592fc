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
//! With [`SimConfig::membership`] an admin also changes the members while the clients run
//! ([`Change`]): it walks `synod_core::plan_since` step by step — catching up every key with
//! `Event::CatchUp` at a node of the current generation before a step that needs it, creating
//! each joining node on a fresh disk with its first configuration installed, sending
//! `Event::Install` (lost or delayed like a message; lagging nodes adopt it from `Stale`) and
//! moving on once a phase-1 and a phase-2 quorum of the new configuration run it — while
//! crashes are aimed at its steps; clients use the newest configuration's members and removed
//! nodes stop at the end. "Chosen" is then judged per generation: by the accept set and `q2` of
//! the configuration the ballot's round ran in. A restarted node must come back in the
//! generation it ran.
//!
//! Everything is drawn from one `StdRng` seeded with the run's seed, so a seed replays exactly:
//! a failing seed prints the command that replays it. [`Bug`] switches inject known bugs *in
//! the harness* (never in the replica) to show that the checks catch them.
//!
//! The modules: `world` is one run (the nodes, their disks, the network, the clock, the clients,
//! the faults, and the checks at the end); `admin` is the membership change's admin, which
//! drives [`Change`] inside a run; [`disk`] and [`network`] are the simulated disk and network.

mod admin;
pub mod disk;
pub mod network;
mod world;

use crate::workload::WorkloadConfig;
use network::NetworkStats;
use std::fmt;
use synod_check::history::Record;
use synod_core::{FastPaths, NodeId, NodeSet};

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
    /// The membership change's admin never runs the catch-up a step marked `catch_up_first`
    /// needs: it installs the step right away.
    SkipCatchUp,
    /// The membership change's admin sends each step's install to one node only and moves on
    /// as soon as that node runs it, instead of waiting for a phase-1 and a phase-2 quorum of
    /// the new configuration.
    InstallOnOneNode,
}

/// A membership change run while the clients run ([`SimConfig::membership`]); `n` is
/// [`SimConfig::nodes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Replace node `n` by node `n + 1`: add it, catch up every key, remove `n`.
    Replace,
    /// Grow by two nodes (`n + 1`, then `n + 2`), then shrink back to the original members.
    GrowShrink,
    /// Grow by two nodes, then remove nodes 1 and 2 (catch-ups before the removals).
    Rotate,
}

impl Change {
    /// Every shape.
    pub const ALL: [Change; 3] = [Change::Replace, Change::GrowShrink, Change::Rotate];

    /// The shape the tests give `seed`: they take turns (every cluster size meets every shape).
    pub fn for_seed(seed: u64) -> Self {
        Self::ALL[((seed / 2) % 3) as usize]
    }

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Change::Replace => "replace",
            Change::GrowShrink => "grow-shrink",
            Change::Rotate => "rotate",
        }
    }

    /// The shape called `name` on the command line.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The member sets the admin changes to, one change (planned with `plan_since`) each.
    pub fn targets(self, nodes: u8) -> Vec<NodeSet> {
        let base: NodeSet = (1..=nodes).map(NodeId).collect();
        let set = |ids: &[u8]| -> NodeSet { ids.iter().copied().map(NodeId).collect() };
        let grown = base.union(set(&[nodes + 1, nodes + 2]));
        match self {
            Change::Replace => vec![base.difference(set(&[nodes])).union(set(&[nodes + 1]))],
            Change::GrowShrink => vec![grown, base],
            Change::Rotate => vec![grown, grown.difference(set(&[1, 2]))],
        }
    }
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
    /// A membership change an admin runs while the clients run (see [`Change`]), with crashes
    /// aimed at its steps; `None` keeps the members fixed.
    pub membership: Option<Change>,
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
            membership: None,
            bug: None,
        }
    }

    /// The default run of `seed` with the membership change `change`: more operations per
    /// client, so that the clients run through most of the change.
    pub fn with_membership(seed: u64, change: Change) -> Self {
        SimConfig {
            ops_per_client: 20,
            membership: Some(change),
            ..Self::for_seed(seed)
        }
    }
}

/// What a run did and what its checks found.
#[derive(Clone, Debug, Default)]
pub struct SimReport {
    /// The seed.
    pub seed: u64,
    /// Replicas at start.
    pub nodes: u8,
    /// The membership change the run made, if any.
    pub membership: Option<Change>,
    /// The generation the change reached (0 without one).
    pub generation: u64,
    /// Membership steps installed on their quorums.
    pub steps: u64,
    /// Catch-ups that answered (one per key per catch-up).
    pub catch_ups: u64,
    /// Installs the admin sent that were lost.
    pub installs_lost: u64,
    /// Crashes aimed at the change (after an install, during a catch-up, between steps).
    pub change_crashes: u64,
    /// Nodes that adopted a newer configuration without the admin's install reaching them
    /// (from a peer's `Stale` answer).
    pub adopted_from_peer: u64,
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
    /// Safety violations: keys not linearizable, `once` keys with two values chosen, values
    /// learned without a phase-2 quorum (a stuck run or a node that cannot start is not one).
    pub safety_violations: usize,
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
        if let Some(change) = self.membership {
            return format!(
                "SYNOD_SIM_MEMBERSHIP_SEED={} cargo test -p synod-harness --test sim membership -- --nocapture   (or: cargo run -p synod-harness -- sim --membership {} --seed {})",
                self.seed,
                change.name(),
                self.seed
            );
        }
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
        if let Some(change) = self.membership {
            writeln!(
                f,
                "  membership {}: generation {} ({} steps), {} catch-ups, {} installs lost, {} adopted from a peer, {} crashes aimed at the change",
                change.name(),
                self.generation,
                self.steps,
                self.catch_ups,
                self.installs_lost,
                self.adopted_from_peer,
                self.change_crashes,
            )?;
        }
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
