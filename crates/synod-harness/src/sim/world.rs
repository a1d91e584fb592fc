//! One simulated run: the production replicas, their disks, the network, the clock, the
//! clients and the faults, all driven by one seeded RNG and one event queue.
//!
//! Time is simulated (µs); nothing sleeps and nothing depends on the host's speed, so a seed
//! replays exactly. Each replica takes the events that reached it in a short window as one batch
//! ([`Replica::handle_batch`], which commits the batch's state in one redb transaction on the
//! node's [`SimDisk`]); the harness then carries out the effects the way the runtime does —
//! frames per peer through the wire codec, replies to clients, timers on the simulated clock
//! with the production backoff — or crashes the node instead: before the batch (its inputs are
//! lost), after the commit but before any message left, or halfway through the sends.
//!
//! The membership change's admin (the `Ev::Admin`, `Ev::Install` and `Ev::CatchUpGiveUp`
//! events, catch-ups, installs, joining and removed nodes) is in the sibling module `admin`,
//! as methods on the same [`World`].

use super::admin::Admin;
use super::disk::SimDisk;
use super::network::{Network, NetworkFaults};
use super::{Bug, Change, SimConfig, SimReport};
use crate::workload::{ClientWorkload, Planned};
use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;
use std::time::Duration;
use synod_check::history::{self, Output, RecordStatus};
use synod_check::notation;
use synod_check::oracle::ChosenOracle;
use synod_core::{
    Ballot, ClusterSpec, Configuration, Message, NodeId, Operation, Outcome, Output as CoreOutput,
    Proposal, RequestError, RequestId, Timer,
};
use synod_server::wire::{self, Envelope};
use synod_server::Membership;
use synod_server::Timing;
use synod_server::{Effects, Event, Replica, ReplicaConfig, ReplyError, TimerCommand, TimerTable};
use synod_server::{Storage, StorageOptions};

const CLUSTER_ID: &str = "sim";
/// How long a client waits for a reply before it gives up (the outcome is then unknown).
const CLIENT_TIMEOUT_US: u64 = 2_000_000;
/// Reads per client per key after the faults heal (retried until one succeeds).
const FINAL_READ_TRIES: usize = 30;
/// A run that has not finished by then is reported as stuck.
const TIME_LIMIT_US: u64 = 3_600_000_000;

#[derive(Debug)]
pub(super) enum Ev {
    Wake {
        node: usize,
        incarnation: u64,
    },
    Deliver {
        to: usize,
        from: NodeId,
        frame: Bytes,
    },
    Timer {
        node: usize,
        incarnation: u64,
        key: Bytes,
        timer: Timer,
        generation: u64,
    },
    ClientNext(usize),
    ClientGiveUp {
        client: usize,
        request: RequestId,
    },
    Crash(usize),
    Restart(usize),
    Partition,
    Heal,
    /// The membership change's admin takes its next step.
    Admin,
    /// The admin's install of `configuration` reaches node `node`.
    Install {
        node: usize,
        configuration: Configuration,
    },
    /// A crash aimed at the membership change.
    ChangeCrash(usize),
    /// The admin stops waiting for a catch-up.
    CatchUpGiveUp {
        request: RequestId,
    },
}

pub(super) struct SimNode {
    pub(super) id: NodeId,
    disk: SimDisk,
    pub(super) replica: Option<Replica>,
    incarnation: u64,
    inbox: Vec<Event>,
    wake_scheduled: bool,
    timers: TimerTable<()>,
    /// Requests running here, by id → client.
    requests: BTreeMap<RequestId, usize>,
    /// The newest generation this node ran after a batch (durable: it must come back in it).
    pub(super) installed: u64,
    /// Removed by the membership change and stopped for good.
    pub(super) stopped: bool,
    /// The newest generation the admin's install brought to this node.
    pub(super) delivered: u64,
}

impl SimNode {
    pub(super) fn new(id: NodeId, disk: SimDisk, replica: Option<Replica>, installed: u64) -> Self {
        SimNode {
            id,
            disk,
            replica,
            incarnation: 0,
            inbox: Vec::new(),
            wake_scheduled: false,
            timers: TimerTable::new(),
            requests: BTreeMap::new(),
            installed,
            stopped: false,
            delivered: installed,
        }
    }
}

struct Pending {
    planned: Planned,
    call: u64,
    node: usize,
    request: Option<RequestId>,
}

struct SimClient {
    workload: ClientWorkload,
    current: Option<Pending>,
    done: usize,
    /// After the heal: keys still to read, and tries left.
    final_reads: VecDeque<String>,
    tries: usize,
}

/// Fault rates of one run, drawn from its seed.
#[derive(Clone, Copy, Debug)]
struct RunFaults {
    /// Probability that a batch ends in a crash.
    crash: f64,
    /// Mean time between partitions (µs), 0 = none.
    partition_every: u64,
    /// Mean time between random crashes (µs), 0 = none.
    crash_every: u64,
    /// Probability that a crash is also a power loss.
    power_loss: f64,
}

pub(super) struct World<'a> {
    pub(super) config: &'a SimConfig,
    pub(super) rng: StdRng,
    pub(super) now: u64,
    seq: u64,
    queue: BTreeMap<(u64, u64), Ev>,
    pub(super) members: Vec<NodeId>,
    pub(super) replica_config: Vec<ReplicaConfig>,
    timing: Timing,
    pub(super) nodes: Vec<SimNode>,
    clients: Vec<SimClient>,
    network: Network,
    faults: RunFaults,
    pub(super) faulty: bool,
    pub(super) next_request: u64,
    oracle: BTreeMap<Bytes, ChosenOracle<Bytes>>,
    learned: BTreeSet<(Bytes, NodeId, Proposal<Bytes>)>,
    /// The generation each ballot's round ran in (from the `Accept`s its proposer sent).
    ballots: BTreeMap<(Bytes, Ballot), u64>,
    /// Every configuration, by generation.
    pub(super) configurations: BTreeMap<u64, Configuration>,
    pub(super) admin: Option<Admin>,
    /// The clients are done; the faults end when the membership change is (or after the
    /// admin's `CHANGE_FAULT_LIMIT_US`).
    pub(super) heal_pending: Option<u64>,
    /// When the faults ended.
    pub(super) healed_at: Option<u64>,
    pub(super) report: SimReport,
}

/// Runs the simulation of `seed`.
pub fn run(seed: u64, config: &SimConfig) -> SimReport {
    let mut rng = StdRng::seed_from_u64(seed);
    let members: Vec<NodeId> = (1..=config.nodes).map(NodeId).collect();
    let cluster = ClusterSpec::new(members.iter().copied())
        .and_then(|spec| spec.with_max_attempts(config.max_attempts))
        .expect("the simulation's cluster is valid")
        .with_fast_paths(config.fast_paths);
    let faults = RunFaults {
        crash: config.fault_scale * rng.gen_range(0.0..0.03),
        partition_every: if rng.gen_bool(0.7) {
            rng.gen_range(50_000..500_000)
        } else {
            0
        },
        crash_every: if rng.gen_bool(0.5) {
            rng.gen_range(100_000..1_000_000)
        } else {
            0
        },
        power_loss: if config.power_loss {
            rng.gen_range(0.2..0.6)
        } else {
            0.0
        },
    };
    let network = Network::new(NetworkFaults::random(&mut rng));
    let timing = Timing {
        round_timeout: Duration::from_millis(40),
        backoff_base: Duration::from_millis(2),
        backoff_max: Duration::from_millis(80),
    };
    let mut report = SimReport {
        seed,
        nodes: config.nodes,
        membership: config.membership,
        ..SimReport::default()
    };
    let initial = Configuration::initial(cluster.members(), cluster.quorums());
    let admin = config
        .membership
        .map(|change: Change| Admin::new(change.targets(config.nodes), initial));
    let replica_config: Vec<ReplicaConfig> = members
        .iter()
        .map(|&id| ReplicaConfig {
            cluster_id: CLUSTER_ID.into(),
            node_id: id,
            cluster,
            queue_limit: 64,
            cache_limit: usize::MAX,
        })
        .collect();
    let mut nodes = Vec::new();
    for (i, &id) in members.iter().enumerate() {
        let disk = SimDisk::new();
        disk.skip_log_sync(config.bug == Some(Bug::SkipLogFsync));
        let replica = open(&disk, &replica_config[i], true)
            .map_err(|e| report.problems.push(format!("node {id} cannot start: {e}")))
            .ok();
        nodes.push(SimNode::new(id, disk, replica, 0));
    }
    let clients = (0..config.clients)
        .map(|c| SimClient {
            workload: ClientWorkload::new(config.workload, c as u64),
            current: None,
            done: 0,
            final_reads: VecDeque::new(),
            tries: 0,
        })
        .collect();
    let mut world = World {
        config,
        rng,
        now: 0,
        seq: 0,
        queue: BTreeMap::new(),
        members,
        replica_config,
        timing,
        nodes,
        clients,
        network,
        faults,
        faulty: true,
        next_request: 1,
        oracle: BTreeMap::new(),
        learned: BTreeSet::new(),
        ballots: BTreeMap::new(),
        configurations: BTreeMap::from([(0, initial)]),
        admin,
        heal_pending: None,
        healed_at: None,
        report,
    };
    if world.report.problems.is_empty() {
        world.run();
    }
    world.finish()
}

/// The simulation's storage sizes: a log of a few kilobytes, so that runs apply it to the
/// database and start it over many times, and a power loss can meet either file mid-write.
pub const SIM_STORAGE: StorageOptions = StorageOptions {
    apply_log_bytes: 6 * 1024,
    log_preallocate: 8 * 1024,
};

fn open(disk: &SimDisk, config: &ReplicaConfig, init: bool) -> Result<Replica, String> {
    open_with(disk, config, init, None)
}

/// The replica on `disk` (`init`: a new one), with `joining` recorded as installed first.
pub(super) fn open_with(
    disk: &SimDisk,
    config: &ReplicaConfig,
    init: bool,
    joining: Option<Configuration>,
) -> Result<Replica, String> {
    let label = PathBuf::from(format!("sim-disk-{}", config.node_id));
    let storage = Storage::open_with_backend(
        disk.backends(SIM_STORAGE),
        &label,
        CLUSTER_ID,
        config.node_id,
        Membership::of(&config.cluster),
        init,
    )
    .map_err(|e| e.to_string())?;
    if let Some(configuration) = joining {
        storage.install(&configuration).map_err(|e| e.to_string())?;
    }
    let mut replica = Replica::with_storage(storage, config.clone(), Default::default())
        .map_err(|e| e.to_string())?;
    // The ghost oracle is fed from the core's outputs (every durable acceptance, every learned
    // value).
    replica.record_outputs(true);
    Ok(replica)
}

fn to_bytes(op: Operation<String>) -> Operation<Bytes> {
    match op {
        Operation::ProposeOnce(v) => Operation::ProposeOnce(v.into()),
        Operation::Put(v) => Operation::Put(v.into()),
        Operation::Delete => Operation::Delete,
        Operation::Cas { expected, new } => Operation::Cas {
            expected: expected.map(Bytes::from),
            new: new.into(),
        },
        Operation::Read => Operation::Read,
    }
}

fn text(v: Bytes) -> String {
    String::from_utf8_lossy(&v).into_owned()
}

fn to_output(outcome: Outcome<Bytes>) -> Output {
    let s = |v: Option<Bytes>| v.map(text);
    match outcome {
        Outcome::Read { value } => Output::Read { value: s(value) },
        Outcome::Written { previous } => Output::Written {
            previous: s(previous),
        },
        Outcome::CasMismatch { current } => Output::CasMismatch {
            current: s(current),
        },
        Outcome::Chosen { value, won } => Output::Chosen {
            value: text(value),
            won,
        },
    }
}

impl World<'_> {
    pub(super) fn at(&mut self, delay: u64, ev: Ev) {
        self.seq += 1;
        self.queue.insert((self.now + delay, self.seq), ev);
    }

    fn run(&mut self) {
        for c in 0..self.clients.len() {
            let think = self.rng.gen_range(0..1_000);
            self.at(think, Ev::ClientNext(c));
        }
        if self.faults.partition_every > 0 {
            let t = self.rng.gen_range(0..self.faults.partition_every);
            self.at(t, Ev::Partition);
        }
        if self.faults.crash_every > 0 {
            let t = self.rng.gen_range(0..self.faults.crash_every);
            let n = self.rng.gen_range(0..self.nodes.len());
            self.at(t, Ev::Crash(n));
        }
        if self.admin.is_some() {
            let t = self.rng.gen_range(0..50_000);
            self.at(t, Ev::Admin);
        }
        while let Some(((time, _), ev)) = self.queue.pop_first() {
            self.now = time;
            if self.now > TIME_LIMIT_US {
                self.report.problems.push(format!(
                    "the run did not finish within {} s of simulated time",
                    TIME_LIMIT_US / 1_000_000
                ));
                return;
            }
            self.report.events += 1;
            self.handle(ev);
        }
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Wake { node, incarnation } => {
                if self.nodes[node].incarnation == incarnation {
                    self.wake(node);
                }
            }
            Ev::Deliver { to, from, frame } => self.deliver(to, from, frame),
            Ev::Timer {
                node,
                incarnation,
                key,
                timer,
                generation,
            } => {
                let n = &mut self.nodes[node];
                if n.incarnation == incarnation && n.timers.fire(&key, timer, generation) {
                    self.push(node, Event::Timeout { key, timer });
                }
            }
            Ev::ClientNext(c) => self.client_next(c),
            Ev::ClientGiveUp { client, request } => {
                let waiting = self.clients[client]
                    .current
                    .as_ref()
                    .is_some_and(|p| p.request == Some(request));
                if waiting {
                    let node = self.clients[client].current.as_ref().map_or(0, |p| p.node);
                    if self.nodes[node].requests.remove(&request).is_some() {
                        self.push(node, Event::Abandon { request });
                    }
                    self.complete(client, RecordStatus::Unknown, None);
                }
            }
            Ev::Crash(node) => {
                if self.faulty {
                    self.crash(node);
                    if self.rng.gen_bool(self.faults.power_loss) {
                        self.power_loss(node);
                    }
                    if self.faults.crash_every > 0 {
                        let t = self.rng.gen_range(0..2 * self.faults.crash_every);
                        let n = self.rng.gen_range(0..self.nodes.len());
                        self.at(t, Ev::Crash(n));
                    }
                }
            }
            Ev::Restart(node) => self.restart(node),
            Ev::Partition => {
                if self.faulty {
                    self.network.partition(&self.members, &mut self.rng);
                    let heal = self.rng.gen_range(5_000..300_000);
                    self.at(heal, Ev::Heal);
                }
            }
            Ev::Heal => {
                self.network.heal();
                if self.faulty && self.faults.partition_every > 0 {
                    let t = self.rng.gen_range(0..2 * self.faults.partition_every);
                    self.at(t, Ev::Partition);
                }
            }
            Ev::Admin => self.admin_step(),
            Ev::Install {
                node,
                configuration,
            } => self.install_at(node, configuration),
            Ev::ChangeCrash(node) => {
                if self.faulty && self.nodes[node].replica.is_some() {
                    self.report.change_crashes += 1;
                    self.crash(node);
                    if self.rng.gen_bool(self.faults.power_loss) {
                        self.power_loss(node);
                    }
                }
            }
            Ev::CatchUpGiveUp { request } => self.catch_up_gave_up(request),
        }
    }

    /// Queues an input for a node and makes sure it will process its inbox soon.
    pub(super) fn push(&mut self, node: usize, event: Event) {
        let n = &mut self.nodes[node];
        if n.replica.is_none() {
            return;
        }
        n.inbox.push(event);
        if !n.wake_scheduled {
            n.wake_scheduled = true;
            let incarnation = n.incarnation;
            let delay = self.rng.gen_range(0..=300);
            self.at(delay, Ev::Wake { node, incarnation });
        }
    }

    fn deliver(&mut self, to: usize, from: NodeId, frame: Bytes) {
        if self.network.blocked(from, self.nodes[to].id) || self.nodes[to].replica.is_none() {
            self.network.lost();
            return;
        }
        let envelopes = match wire::decode_batch(&frame) {
            Ok(envelopes) => envelopes,
            Err(e) => {
                self.report
                    .problems
                    .push(format!("a frame from node {from} did not decode: {e}"));
                return;
            }
        };
        for envelope in envelopes {
            if envelope.from != from {
                self.report.problems.push(format!(
                    "node {from} sent an envelope claiming {}",
                    envelope.from
                ));
                continue;
            }
            let forged = self.forge(to, &envelope);
            self.push(to, Event::Peer(envelope));
            for e in forged {
                self.push(to, Event::Peer(e));
            }
        }
    }

    /// The [`Bug::AckBeforeAcceptQuorum`] switch: an `Accepted` is counted as if every member
    /// had sent it, so the proposer declares its value chosen after one real vote.
    fn forge(&self, to: usize, envelope: &Envelope) -> Vec<Envelope> {
        if self.config.bug != Some(Bug::AckBeforeAcceptQuorum) {
            return Vec::new();
        }
        let Message::Accepted { .. } = envelope.msg else {
            return Vec::new();
        };
        let me = self.nodes[to].id;
        self.members
            .iter()
            .filter(|&&m| m != me && m != envelope.from)
            .map(|&m| Envelope {
                from: m,
                ..envelope.clone()
            })
            .collect()
    }

    fn wake(&mut self, node: usize) {
        let n = &mut self.nodes[node];
        n.wake_scheduled = false;
        let events = std::mem::take(&mut n.inbox);
        if events.is_empty() || n.replica.is_none() {
            return;
        }
        self.report.batches += 1;
        let crash = self.faulty && self.rng.gen_bool(self.faults.crash);
        if crash && self.rng.gen_bool(0.3) {
            // Before the batch: its inputs were never durable anywhere.
            self.report.crashes_before_batch += 1;
            self.crash(node);
            return;
        }
        let bug_window = self.faulty
            && self.config.bug == Some(Bug::SendBeforeFsync)
            && self.rng.gen_bool((self.config.fault_scale * 0.05).min(0.5));
        let snapshot = bug_window.then(|| {
            // The disk image to fall back to is taken at a clean point (redb closed), so that
            // only the injected bug, not a torn image, is what the node recovers from.
            self.crash(node);
            self.restart(node);
            self.nodes[node].disk.snapshot()
        });
        if self.nodes[node].replica.is_none() {
            return;
        }
        // A power cut during this batch's commit (or the database apply it may trigger).
        self.maybe_cut_power(node);
        let id = self.nodes[node].id;
        let result = self.nodes[node]
            .replica
            .as_mut()
            .expect("checked above")
            .handle_batch(events);
        if self.nodes[node].disk.disarm() {
            // The power went out inside the commit: nothing of the batch left the node.
            self.report.power_cuts_in_commit += 1;
            self.crash(node);
            self.power_loss(node);
            return;
        }
        let effects = match result {
            Ok(effects) => effects,
            Err(e) => {
                self.report
                    .problems
                    .push(format!("node {id}: storage failed: {e}"));
                self.crash(node);
                return;
            }
        };
        self.observe(node, &effects);
        let generation = self.nodes[node]
            .replica
            .as_ref()
            .map_or(0, |r| r.configuration().generation());
        let n = &mut self.nodes[node];
        if generation > n.installed {
            n.installed = generation;
            if generation > n.delivered {
                // Nothing the admin sent brought it here: a peer's `Stale` did.
                self.report.adopted_from_peer += 1;
            }
        }
        if let Some(snapshot) = snapshot {
            // The injected bug: messages and replies left before the batch was durable, and
            // the node crashed before the fsync — its disk never saw the batch.
            self.carry_out(node, effects);
            self.crash(node);
            self.nodes[node].disk.restore(&snapshot);
            self.report.crashes_after_persist += 1;
            return;
        }
        if crash {
            // After the commit: the batch is durable but (some of) its messages never left.
            let frames = self.frames(&effects);
            let keep = self.rng.gen_range(0..=frames.len());
            for (to, frame) in frames.into_iter().take(keep) {
                self.transmit(id, to, frame);
            }
            self.report.crashes_after_persist += 1;
            self.crash(node);
            if self.rng.gen_bool(self.faults.power_loss) {
                self.power_loss(node);
            }
            return;
        }
        self.carry_out(node, effects);
    }

    /// Ghost bookkeeping: every durable acceptance, and every value a node learned.
    ///
    /// An acceptor accepts a ballot only in the generation of the round that sent it (the
    /// fence), so each acceptance is judged by the configuration of its ballot's generation,
    /// which the round's `Accept` messages carry.
    fn observe(&mut self, node: usize, effects: &Effects) {
        let id = self.nodes[node].id;
        let q2 = self.configurations[&0].q2();
        for out in &effects.sends {
            let (generation, msg) = match &out.envelope.msg {
                Message::Generation {
                    generation,
                    message,
                } => (*generation, message.as_ref()),
                msg => (0, msg),
            };
            if let Message::Accept { ballot, .. } = msg {
                self.ballots
                    .entry((out.envelope.key.clone(), *ballot))
                    .or_insert(generation);
            }
        }
        // A round's own acceptor accepts before its `Accept`s leave; with no peer to send to,
        // the node's generation is the round's.
        let generation = self.nodes[node]
            .replica
            .as_ref()
            .map_or(0, |r| r.configuration().generation());
        for (key, output) in &effects.outputs {
            match output {
                CoreOutput::Persist(state) => {
                    if let Some(p) = &state.accepted {
                        self.oracle
                            .entry(key.clone())
                            .or_insert_with(|| ChosenOracle::new(q2))
                            .record(id, p);
                        self.ballots
                            .entry((key.clone(), p.ballot))
                            .or_insert(generation);
                    }
                }
                CoreOutput::Learned(p) => {
                    self.learned.insert((key.clone(), id, p.clone()));
                }
                _ => {}
            }
        }
    }

    /// The batch's messages, one frame per receiver (like the transport), in send order.
    fn frames(&self, effects: &Effects) -> Vec<(NodeId, Bytes)> {
        let mut per_peer: BTreeMap<NodeId, Vec<Envelope>> = BTreeMap::new();
        for out in &effects.sends {
            per_peer
                .entry(out.to)
                .or_default()
                .push(out.envelope.clone());
        }
        per_peer
            .into_iter()
            .map(|(to, envelopes)| (to, wire::encode_batch(&envelopes)))
            .collect()
    }

    fn transmit(&mut self, from: NodeId, to: NodeId, frame: Bytes) {
        let Some(target) = self.nodes.iter().position(|n| n.id == to) else {
            self.report
                .problems
                .push(format!("a message to unknown node {to}"));
            return;
        };
        for delay in self.network.fate(&mut self.rng) {
            self.at(
                delay,
                Ev::Deliver {
                    to: target,
                    from,
                    frame: frame.clone(),
                },
            );
        }
    }

    fn carry_out(&mut self, node: usize, effects: Effects) {
        let id = self.nodes[node].id;
        for (to, frame) in self.frames(&effects) {
            self.transmit(id, to, frame);
        }
        for reply in effects.replies {
            if self.catch_up_answered(reply.request, reply.result.is_ok()) {
                continue;
            }
            let Some(client) = self.nodes[node].requests.remove(&reply.request) else {
                continue;
            };
            let (status, output) = match reply.result {
                Ok(outcome) => (RecordStatus::Ok, Some(to_output(outcome))),
                Err(ReplyError::Request(RequestError::Indeterminate)) => {
                    (RecordStatus::Unknown, None)
                }
                Err(ReplyError::Request(RequestError::Exhausted { .. } | RequestError::Busy))
                | Err(ReplyError::QueueFull) => (RecordStatus::Fail, None),
            };
            self.complete(client, status, output);
        }
        let incarnation = self.nodes[node].incarnation;
        for command in effects.timers {
            match command {
                TimerCommand::Set {
                    key,
                    timer,
                    attempt,
                } => {
                    let delay = self.timing.delay(timer, attempt, &mut self.rng);
                    let timers = &mut self.nodes[node].timers;
                    let generation = timers.next_generation();
                    timers.arm(key.clone(), timer, ());
                    let delay = delay.as_micros() as u64;
                    self.at(
                        delay,
                        Ev::Timer {
                            node,
                            incarnation,
                            key,
                            timer,
                            generation,
                        },
                    );
                }
                TimerCommand::Cancel { key, timer } => {
                    self.nodes[node].timers.cancel(key, timer);
                }
            }
        }
    }

    /// Drops `node`'s replica and everything volatile around it; its clients' requests end with
    /// an unknown outcome. `false` if it was not running.
    pub(super) fn take_down(&mut self, node: usize) -> bool {
        let n = &mut self.nodes[node];
        if n.replica.is_none() {
            return false;
        }
        n.replica = None;
        n.incarnation += 1;
        n.inbox.clear();
        n.wake_scheduled = false;
        n.timers.clear();
        let orphans: Vec<usize> = std::mem::take(&mut n.requests).into_values().collect();
        for client in orphans {
            self.complete(client, RecordStatus::Unknown, None);
        }
        true
    }

    fn crash(&mut self, node: usize) {
        if !self.take_down(node) {
            return;
        }
        self.report.crashes += 1;
        if let Some(admin) = self.admin.as_mut() {
            admin.catch_ups_lost_at(node);
        }
        let down = self.rng.gen_range(1_000..400_000);
        self.at(down, Ev::Restart(node));
    }

    /// The node (already crashed) loses power: its disk keeps what was synced, and each
    /// unsynced write is dropped, kept or torn.
    /// With the power-loss odds of a crash (faulty runs only), arms node `node`'s disk to lose
    /// power at its 1st, 2nd or 3rd sync from now: inside the commit or recovery about to run.
    fn maybe_cut_power(&mut self, node: usize) {
        if self.faulty
            && self
                .rng
                .gen_bool(self.faults.power_loss * self.faults.crash)
        {
            let n = self.rng.gen_range(0..3);
            self.nodes[node].disk.cut_power_at_sync(n);
        }
    }

    fn power_loss(&mut self, node: usize) {
        let loss = self.nodes[node].disk.power_loss(&mut self.rng);
        self.report.power_losses += 1;
        self.report.unsynced_dropped += loss.dropped;
        self.report.unsynced_torn += loss.torn;
    }

    fn restart(&mut self, node: usize) {
        if self.nodes[node].replica.is_some() || self.nodes[node].stopped {
            return;
        }
        // A power cut during the recovery: at the sync of its compacted log record, of the
        // database transaction that switches the log epoch, or of the start count after it.
        self.maybe_cut_power(node);
        let opened = open(&self.nodes[node].disk, &self.replica_config[node], false);
        if self.nodes[node].disk.disarm() {
            // The power went out inside the recovery (the open failed, or a sync it relied on
            // did): down again, and the next restart recovers from what the disk kept.
            drop(opened);
            self.report.power_cuts_in_recovery += 1;
            self.power_loss(node);
            let down = self.rng.gen_range(1_000..400_000);
            self.at(down, Ev::Restart(node));
            return;
        }
        match opened {
            Ok(replica) => {
                let generation = replica.configuration().generation();
                if generation < self.nodes[node].installed {
                    self.report.problems.push(format!(
                        "node {} came back in generation {generation} after running generation {}",
                        self.nodes[node].id, self.nodes[node].installed
                    ));
                }
                self.nodes[node].replica = Some(replica);
                self.report.restarts += 1;
            }
            Err(e) => self.report.problems.push(format!(
                "node {} cannot restart from its disk: {e}",
                self.nodes[node].id
            )),
        }
    }

    fn client_next(&mut self, c: usize) {
        let planned = if self.clients[c].done < self.config.ops_per_client {
            let rng = &mut self.rng;
            self.clients[c].workload.next(rng)
        } else if let Some(key) = self.clients[c].final_reads.front().cloned() {
            self.clients[c].workload.read(key)
        } else {
            return;
        };
        let node = match &self.admin {
            // Clients use the members of the newest configuration (a removed node gets no
            // more requests).
            Some(admin) => {
                let members = admin.members();
                let candidates: Vec<usize> = (0..self.nodes.len())
                    .filter(|&i| members.contains(self.nodes[i].id))
                    .collect();
                candidates[self.rng.gen_range(0..candidates.len())]
            }
            None => self.rng.gen_range(0..self.nodes.len()),
        };
        let call = self.now;
        self.clients[c].current = Some(Pending {
            planned,
            call,
            node,
            request: None,
        });
        if self.nodes[node].replica.is_none() {
            // Connection refused: surely not applied.
            self.complete(c, RecordStatus::Fail, None);
            return;
        }
        let request = RequestId(self.next_request);
        self.next_request += 1;
        let planned = &self.clients[c].current.as_ref().expect("just set").planned;
        let op = planned
            .record(c as u64, 0, 0, RecordStatus::Fail, None)
            .operation()
            .map(to_bytes);
        let key = Bytes::from(planned.key.clone());
        let Ok(op) = op else {
            self.report
                .problems
                .push("the workload planned an invalid operation".into());
            return;
        };
        if let Some(p) = self.clients[c].current.as_mut() {
            p.request = Some(request);
        }
        self.nodes[node].requests.insert(request, c);
        self.push(node, Event::Request { request, key, op });
        self.at(CLIENT_TIMEOUT_US, Ev::ClientGiveUp { client: c, request });
    }

    /// The client's current operation ended: record it and plan the next one.
    fn complete(&mut self, c: usize, status: RecordStatus, output: Option<Output>) {
        let Some(p) = self.clients[c].current.take() else {
            return;
        };
        let record = p.planned.record(
            c as u64,
            p.call * 1_000,
            self.now * 1_000,
            status,
            output.clone(),
        );
        self.report.history.push(record);
        let ops = self.config.ops_per_client;
        if let Some(output) = &output {
            self.clients[c].workload.observe(&p.planned, output);
        }
        if self.clients[c].done < ops {
            self.clients[c].done += 1;
            if self.clients.iter().all(|c| c.done >= ops) {
                if self.change_running() {
                    // The change goes on under faults; the heal comes when it is done.
                    self.heal_pending = Some(self.now);
                } else {
                    self.heal();
                }
                return;
            }
        } else if status == RecordStatus::Ok {
            self.clients[c].final_reads.pop_front();
            self.clients[c].tries = 0;
        } else {
            self.clients[c].tries += 1;
            if self.clients[c].tries >= FINAL_READ_TRIES {
                let key = self.clients[c].final_reads.pop_front().unwrap_or_default();
                self.report.problems.push(format!(
                    "no progress after the heal: client {c} could not read {key} in {FINAL_READ_TRIES} tries"
                ));
                self.clients[c].tries = 0;
            }
        }
        let client = &self.clients[c];
        if client.done < ops || !client.final_reads.is_empty() {
            let think = self.rng.gen_range(0..2_000);
            self.at(think, Ev::ClientNext(c));
        }
    }

    /// Every client has done its operations: end every fault, restart every node, and let each
    /// client read every key.
    pub(super) fn heal(&mut self) {
        self.heal_pending = None;
        self.healed_at = Some(self.now);
        self.faulty = false;
        self.network.heal();
        self.network.faults = NetworkFaults::calm();
        for node in 0..self.nodes.len() {
            self.restart(node);
        }
        let keys = ClientWorkload::keys(self.config.workload);
        for c in 0..self.clients.len() {
            self.clients[c].final_reads = keys.iter().cloned().collect();
            let think = self.rng.gen_range(0..2_000);
            self.at(think, Ev::ClientNext(c));
        }
    }

    fn finish(mut self) -> SimReport {
        let change_unfinished = self.change_running();
        let report = &mut self.report;
        report.network = self.network.stats;
        report.sim_time_us = self.now;
        match history::check(&report.history) {
            Ok(verdict) => {
                report.ok = verdict.ok;
                report.failed = verdict.failed;
                report.unknown = verdict.unknown;
                for bad in verdict.violations() {
                    report.linearizability_violations += 1;
                    report.problems.push(format!(
                        "key {}: {} ({} operations)",
                        bad.key,
                        bad.result
                            .as_ref()
                            .err()
                            .map(|v| v.to_string())
                            .unwrap_or_default(),
                        bad.operations
                    ));
                }
            }
            Err(e) => report.problems.push(format!("malformed history: {e}")),
        }
        if change_unfinished {
            report
                .problems
                .push("the membership change did not finish".into());
        }
        report.safety_violations = report.linearizability_violations;
        // Chosen: accepted at one ballot by a phase-2 quorum of the configuration of the
        // generation that ballot's round ran in (with fixed members, generation 0's: a
        // majority of the members, as before).
        let mut chosen: BTreeMap<&Bytes, Vec<&Proposal<Bytes>>> = BTreeMap::new();
        for (key, oracle) in &self.oracle {
            let list = chosen.entry(key).or_default();
            for (p, voters) in oracle.votes() {
                let generation = self.ballots.get(&(key.clone(), p.ballot)).copied();
                let configuration = generation.and_then(|g| self.configurations.get(&g));
                if let Some(c) = configuration {
                    if voters.intersection(c.accept()).len() >= c.q2() {
                        list.push(p);
                    }
                }
            }
        }
        for (key, list) in &chosen {
            if key.starts_with(b"once") {
                // Reads of the still-empty register choose `None`; single-decree agreement is
                // about the values proposed: at most one of them is ever chosen.
                let values: BTreeSet<&Bytes> =
                    list.iter().filter_map(|p| p.value.as_ref()).collect();
                if values.len() > 1 {
                    let values: Vec<String> = values
                        .into_iter()
                        .map(|v| notation::value(&Some(text(v.clone()))))
                        .collect();
                    report.safety_violations += 1;
                    report.problems.push(format!(
                        "agreement broken on {}: {} were all chosen",
                        text((*key).clone()),
                        values.join(", ")
                    ));
                }
            }
        }
        for (key, node, p) in &self.learned {
            let is_chosen = chosen.get(key).is_some_and(|list| list.contains(&p));
            if !is_chosen {
                report.safety_violations += 1;
                report.problems.push(format!(
                    "n{node} learned {} on {} but no phase-2 quorum accepted it",
                    notation::proposal(&p.clone().map_value(&text)),
                    text(key.clone())
                ));
            }
        }
        self.report
    }
}
