//! The synchronous heart of a node: every key's Paxos instance, and the step contract obeyed.
//!
//! A [`Replica`] maps each key to one `synod_core::Node<Bytes>` — acceptor, proposer and learner
//! of that key's register — loaded lazily from [`Storage`] the first time the key is touched.
//! It takes a batch of [`Event`]s (client requests, peer envelopes, timer expiries), steps the
//! nodes, and returns the batch's [`Effects`]: messages to send, replies, timer commands.
//!
//! **Persist before send.** Every `Persist` output of the batch goes into one [`WriteBatch`],
//! committed in one transaction (one fsync) *before* [`Replica::handle_batch`] returns; the
//! caller transmits the batch's messages only after that, so no message ever leaves ahead of the
//! state it depends on. A failed commit is returned as an error and the batch's effects are
//! withheld; the replica must then be [restarted](Replica::restart) from disk.
//!
//! **One request per key at a time.** The core answers `Busy` while a key's proposer runs a
//! request, so the replica keeps a bounded FIFO of waiting requests per key and starts the next
//! one when the current one is answered.
//!
//! No I/O besides storage, no clocks, no threads: the async runtime around it only moves bytes
//! and timers, and trace replays drive it directly.

use crate::membership::Membership;
use crate::metrics::Metrics;
use crate::shortcuts::Shortcuts;
use crate::storage::{Storage, StorageError, WriteBatch};
use crate::wire::Envelope;
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use synod_check::trace::NodeState;
use synod_core::{
    Ballot, ClusterSpec, Config, ConfigError, Configuration, Input, MembershipError, Message, Node,
    NodeId, Operation, Outcome, Output, Proposal, RequestError, RequestId, Timer,
};
use thiserror::Error;

/// Default bound on the requests waiting behind a key's running request.
pub const DEFAULT_QUEUE_LIMIT: usize = 1024;

/// Default bound on the keys whose core node is kept in memory.
pub const DEFAULT_CACHE_LIMIT: usize = 100_000;

/// What a replica runs with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaConfig {
    /// The cluster id (checked against the data directory).
    pub cluster_id: String,
    /// This node.
    pub node_id: NodeId,
    /// Members, quorum sizes and attempts per request.
    pub cluster: ClusterSpec,
    /// Bound on the requests waiting per key. `0` means no queue at all: a request that finds
    /// its key's proposer busy goes to the core, which answers `Busy` — exactly the core's own
    /// behaviour, for trace replays.
    pub queue_limit: usize,
    /// When more keys than this are in memory, the idle ones (no request running) are dropped
    /// after a batch; they are reloaded from storage when touched again. Only volatile learner
    /// state is lost, which is also what a restart loses.
    pub cache_limit: usize,
}

/// Why a replica could not run.
#[derive(Debug, Error)]
pub enum ReplicaError {
    /// The cluster configuration is invalid for this node.
    #[error("invalid cluster configuration: {0}")]
    Config(#[from] ConfigError),
    /// Storage failed; the replica must be restarted from disk.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A configuration to install or join with is invalid.
    #[error("invalid membership configuration: {0}")]
    Membership(#[from] MembershipError),
}

/// One input to the replica.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A client asks to run `op` on `key`; `request` must be unique among unanswered requests.
    Request {
        /// Echoed in the reply.
        request: RequestId,
        /// The key.
        key: Bytes,
        /// The operation.
        op: Operation<Bytes>,
    },
    /// A protocol message from a peer.
    Peer(Envelope),
    /// A timer set through [`TimerCommand::Set`] fired.
    Timeout {
        /// The key whose timer it is.
        key: Bytes,
        /// Which timer.
        timer: Timer,
    },
    /// The client stopped waiting: drop the request if it has not started yet.
    Abandon {
        /// The request.
        request: RequestId,
    },
    /// A membership change's catch-up of `key`: a `Read` that runs a full round
    /// (`Input::CatchUp`), queued and answered like a client request.
    CatchUp {
        /// Echoed in the reply; unique among unanswered requests.
        request: RequestId,
        /// The key.
        key: Bytes,
    },
    /// A membership change moves this node to `configuration` (ignored unless it is a valid
    /// configuration of a newer generation). A peer's `Stale` reply carrying a newer one has
    /// the same effect.
    Install(Configuration),
}

/// Why a request failed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ReplyError {
    /// The core's answer (`Exhausted` or `Indeterminate`).
    #[error(transparent)]
    Request(#[from] RequestError),
    /// Too many requests are waiting on this key.
    #[error("too many requests are waiting on this key")]
    QueueFull,
}

/// The answer to one client request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The request.
    pub request: RequestId,
    /// Its result.
    pub result: Result<Outcome<Bytes>, ReplyError>,
}

/// A message to transmit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    /// The receiver.
    pub to: NodeId,
    /// What to send.
    pub envelope: Envelope,
}

/// A timer the runtime must start or stop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimerCommand {
    /// Start (or restart) `timer` of `key`.
    Set {
        /// The key.
        key: Bytes,
        /// Which timer.
        timer: Timer,
        /// The attempt it belongs to (grows the backoff).
        attempt: u32,
    },
    /// Stop `timer` of `key`.
    Cancel {
        /// The key.
        key: Bytes,
        /// Which timer.
        timer: Timer,
    },
}

/// What a batch asks the runtime to do, released only after the batch's state is durable.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    /// Messages to transmit (broadcasts expanded per receiver), in order.
    pub sends: Vec<Outgoing>,
    /// Client replies.
    pub replies: Vec<Reply>,
    /// Timer commands, in order.
    pub timers: Vec<TimerCommand>,
    /// Every core output, in order, with its key — only when [`Replica::record_outputs`] is on
    /// (trace replays, the simulation's ghost oracle); always empty in production.
    pub outputs: Vec<(Bytes, Output<Bytes>)>,
    /// Acceptor states made durable by this batch.
    pub persisted: usize,
    /// The batch's sequence number (from 1, per replica): its messages may be released once
    /// [`Replica::durable_through`] has reached it.
    pub batch: u64,
}

#[derive(Debug, Default)]
struct Queue {
    /// Client requests and catch-ups (`Input::Request`, `Input::CatchUp`), in arrival order.
    waiting: VecDeque<Input<Bytes>>,
}

/// The request id of a queued input.
fn request_of(input: &Input<Bytes>) -> Option<RequestId> {
    match input {
        Input::Request { request, .. } | Input::CatchUp { request } => Some(*request),
        Input::Message { .. } | Input::Timeout(_) | Input::Install(_) => None,
    }
}

/// The per-key Paxos state of one node.
#[derive(Debug)]
pub struct Replica {
    config: ReplicaConfig,
    /// One configuration shared by every key's node (an idle node holds only a pointer to it).
    core: Arc<Config>,
    dir: PathBuf,
    storage: Option<Storage>,
    nodes: HashMap<Bytes, Node<Bytes>>,
    queues: HashMap<Bytes, Queue>,
    metrics: Arc<Metrics>,
    /// The sequence number of the last batch handled (or being handled).
    batches: u64,
    /// The sequence number of the last batch whose writes are durable.
    durable_through: u64,
    /// Whether [`Effects::outputs`] is filled (off unless a harness asks).
    record_outputs: bool,
    /// Which running requests took a one-round-trip shortcut (for the metrics).
    shortcuts: Shortcuts,
}

impl Replica {
    /// Opens the replica of `config.node_id` on the data directory `dir` (`init` creates a new
    /// one; see [`Storage::open`]).
    pub fn open(
        dir: &Path,
        config: ReplicaConfig,
        init: bool,
        metrics: Arc<Metrics>,
    ) -> Result<Self, ReplicaError> {
        if init {
            // A new directory is only made for a member (a node that joins later is made by
            // `join`); an existing one may belong to a node that joined or was removed since.
            config.cluster.node(config.node_id)?;
        }
        let storage = open_storage(dir, &config, init)?;
        Self::with_storage(storage, config, metrics)
    }

    /// A replica on storage opened by the caller (e.g. [`Storage::open_with_backend`] on the
    /// simulation's in-memory disk). [`Replica::restart`] reopens `storage.dir()` as a data
    /// directory, so a replica on another backend is restarted by building a new one instead.
    pub fn with_storage(
        storage: Storage,
        config: ReplicaConfig,
        metrics: Arc<Metrics>,
    ) -> Result<Self, ReplicaError> {
        let core = Arc::new(match storage.configuration()? {
            Some(installed) => Config::installed(config.cluster, config.node_id, installed)?,
            None => config.cluster.node(config.node_id)?,
        });
        Ok(Replica {
            config,
            core,
            dir: storage.dir().to_owned(),
            storage: Some(storage),
            nodes: HashMap::new(),
            queues: HashMap::new(),
            metrics,
            batches: 0,
            durable_through: 0,
            record_outputs: false,
            shortcuts: Shortcuts::default(),
        })
    }

    /// Creates the data directory `dir` of a node that joins the cluster of `config` in a
    /// later `configuration` (whose sets it belongs to): the directory is made and the
    /// configuration recorded as installed, durably, before the replica runs in it.
    pub fn join(
        dir: &Path,
        config: ReplicaConfig,
        configuration: Configuration,
        metrics: Arc<Metrics>,
    ) -> Result<Self, ReplicaError> {
        let configuration = configuration.checked()?;
        Config::joining(config.cluster, config.node_id, configuration)?;
        let storage = open_storage(dir, &config, true)?;
        storage.install(&configuration)?;
        Self::with_storage(storage, config, metrics)
    }

    /// The configuration this node runs: generation 0 (the cluster at start) until a
    /// membership change installs a later one.
    pub fn configuration(&self) -> &Configuration {
        self.core.configuration()
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.config.node_id
    }

    /// The configuration.
    pub fn config(&self) -> &ReplicaConfig {
        &self.config
    }

    /// The metrics this replica updates.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Whether every core output is copied into [`Effects::outputs`] (off by default: a trace
    /// replay or a simulation that judges the core's outputs turns it on; a node never does).
    pub fn record_outputs(&mut self, on: bool) {
        self.record_outputs = on;
    }

    /// The sequence number of the last batch whose state is durable ([`Effects::batch`]): a
    /// runtime releases a batch's messages only once this has reached it.
    pub fn durable_through(&self) -> u64 {
        self.durable_through
    }

    /// A crash and restart: all volatile state (proposers, learners, queues — unanswered
    /// requests are forgotten) is dropped and storage is reopened from disk. Also the way back
    /// after [`Replica::handle_batch`] failed. If reopening fails, the replica is unusable.
    pub fn restart(&mut self) -> Result<(), ReplicaError> {
        self.nodes.clear();
        self.queues.clear();
        self.shortcuts.clear();
        self.storage = None;
        self.storage = Some(open_storage(&self.dir, &self.config, false)?);
        Ok(())
    }

    /// Counts a new start of this node in its storage, durably, and returns the count: the
    /// runtime numbers its requests with it, so that no request id repeats across restarts
    /// (`request_ids`).
    pub fn next_incarnation(&self) -> Result<u64, ReplicaError> {
        Ok(self.storage().next_incarnation()?)
    }

    fn storage(&self) -> &Storage {
        self.storage
            .as_ref()
            .expect("storage is only absent during restart")
    }

    fn storage_mut(&mut self) -> &mut Storage {
        self.storage
            .as_mut()
            .expect("storage is only absent during restart")
    }

    /// The protocol state of `key` (loading it from disk if it is not in memory).
    pub fn node_state(&mut self, key: &Bytes) -> Result<NodeState<Bytes>, ReplicaError> {
        Ok(NodeState::of(self.node(key)?))
    }

    /// How many keys have their core node in memory.
    pub fn cached_keys(&self) -> usize {
        self.nodes.len()
    }

    /// Up to `limit` keys this node holds acceptor state for, in order, after `after`: the
    /// registers a membership change's catch-up re-writes.
    pub fn acceptor_keys(
        &self,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Bytes>, ReplicaError> {
        Ok(self.storage().acceptor_keys(after, limit)?)
    }

    /// The highest-ballot chosen value this node recorded for `key`.
    pub fn committed(&self, key: &[u8]) -> Result<Option<Proposal<Bytes>>, ReplicaError> {
        Ok(self.storage().committed(key)?)
    }

    fn node(&mut self, key: &Bytes) -> Result<&mut Node<Bytes>, ReplicaError> {
        if !self.nodes.contains_key(key) {
            let node = match self.storage().acceptor(key)? {
                Some(state) => Node::restart(self.core.clone(), state),
                None => Node::new(self.core.clone()),
            };
            self.nodes.insert(key.clone(), node);
        }
        Ok(self.nodes.get_mut(key).expect("inserted above"))
    }

    /// Handles a batch of events: steps the nodes, makes every persist of the batch durable in
    /// one transaction, and only then returns the effects to carry out.
    pub fn handle_batch(
        &mut self,
        events: impl IntoIterator<Item = Event>,
    ) -> Result<Effects, ReplicaError> {
        self.batches += 1;
        let mut effects = Effects {
            batch: self.batches,
            ..Effects::default()
        };
        let mut writes = BatchWrites::default();
        let mut count = 0u64;
        for event in events {
            count += 1;
            self.handle(event, &mut effects, &mut writes)?;
        }
        self.metrics.batch_inputs.record(count);
        let batch = writes.finish();
        if !batch.is_empty() {
            let started = Instant::now();
            let committed = self.storage_mut().commit(&batch)?;
            self.metrics.log_bytes.add(committed.log_bytes);
            if committed.applied > 0 {
                self.metrics.log_applies.inc();
                self.metrics
                    .log_applied_states
                    .add(committed.applied as u64);
            }
            if committed.durable {
                self.metrics.fsyncs.inc();
                self.metrics
                    .fsync_latency_us
                    .record_duration(started.elapsed());
                self.metrics
                    .batch_persists
                    .record(batch.acceptors.len() as u64);
            }
        }
        // The commit above returned: everything this batch wrote is durable (a batch with nothing
        // to write depends on nothing new).
        debug_assert!(
            self.durable_through < effects.batch,
            "replica invariant: a batch is made durable once, after every earlier one"
        );
        self.durable_through = effects.batch;
        effects.persisted = batch.acceptors.len();
        if self.nodes.len() > self.config.cache_limit {
            let before = self.nodes.len();
            self.nodes.retain(|_, node| node.has_request());
            self.metrics
                .cache_evictions
                .add((before - self.nodes.len()) as u64);
        }
        self.metrics.cached_keys.set(self.nodes.len() as u64);
        Ok(effects)
    }

    fn handle(
        &mut self,
        event: Event,
        effects: &mut Effects,
        writes: &mut BatchWrites,
    ) -> Result<(), ReplicaError> {
        match event {
            Event::Request { request, key, op } => {
                self.request(&key, Input::Request { request, op }, effects, writes)
            }
            Event::CatchUp { request, key } => {
                self.request(&key, Input::CatchUp { request }, effects, writes)
            }
            Event::Peer(Envelope { from, key, msg }) => {
                if matches!(msg, Message::Reject { .. }) {
                    self.metrics.rejects.inc();
                }
                if let Some(configuration) = stale_configuration(&msg) {
                    // The peer runs a newer configuration: adopt it (the core leaves a `Stale`
                    // to its runtime).
                    return self.install(configuration, effects, writes);
                }
                self.step(&key, Input::Message { from, msg }, effects, writes)
            }
            Event::Install(configuration) => self.install(configuration, effects, writes),
            Event::Timeout { key, timer } => {
                self.step(&key, Input::Timeout(timer), effects, writes)
            }
            Event::Abandon { request } => {
                for queue in self.queues.values_mut() {
                    queue.waiting.retain(|r| request_of(r) != Some(request));
                }
                self.queues.retain(|_, q| !q.waiting.is_empty());
                Ok(())
            }
        }
    }

    /// Runs a client request or a catch-up on `key`, or queues it behind the one running there.
    fn request(
        &mut self,
        key: &Bytes,
        input: Input<Bytes>,
        effects: &mut Effects,
        writes: &mut BatchWrites,
    ) -> Result<(), ReplicaError> {
        let request = request_of(&input).expect("a request or a catch-up");
        // Invariant: a key has waiting requests only while its proposer is busy.
        let busy = self.node(key)?.has_request();
        if busy && self.config.queue_limit > 0 {
            let queue = self.queues.entry(key.clone()).or_default();
            if queue.waiting.len() >= self.config.queue_limit {
                tracing::debug!(key = %String::from_utf8_lossy(key), ?request, "request refused: the key's queue is full");
                self.metrics.requests_queue_full.inc();
                effects.replies.push(Reply {
                    request,
                    result: Err(ReplyError::QueueFull),
                });
            } else {
                queue.waiting.push_back(input);
                tracing::debug!(key = %String::from_utf8_lossy(key), ?request, waiting = queue.waiting.len(), "request waits behind the key's running one");
            }
            return Ok(());
        }
        self.step(key, input, effects, writes)
    }

    /// Moves the node to a newer `configuration`: recorded durably first (no message of the new
    /// generation may leave before a restart would come back in it), then every key in memory
    /// steps `Input::Install` — in key order, so the effects do not depend on the map's order;
    /// a key loaded later starts in the new configuration. An older or equal generation is
    /// ignored.
    fn install(
        &mut self,
        configuration: Configuration,
        effects: &mut Effects,
        writes: &mut BatchWrites,
    ) -> Result<(), ReplicaError> {
        // What arrived from a peer or a file was deserialized field by field: a configuration
        // whose quorums could miss is refused and changes nothing (bad input never stops the
        // node).
        let configuration = match configuration.checked() {
            Ok(configuration) => configuration,
            Err(e) => {
                tracing::warn!("ignored an invalid membership configuration: {e}");
                return Ok(());
            }
        };
        if configuration.generation() <= self.configuration().generation() {
            return Ok(());
        }
        self.storage().install(&configuration)?;
        tracing::info!(
            generation = configuration.generation(),
            "installed a new membership configuration"
        );
        self.core = Arc::new(self.core.installing(configuration));
        let mut keys: Vec<Bytes> = self.nodes.keys().cloned().collect();
        keys.sort();
        for key in keys {
            self.step(&key, Input::Install(configuration), effects, writes)?;
        }
        Ok(())
    }

    /// Steps `key`'s node, turns its outputs into effects, and starts the key's next waiting
    /// request whenever its proposer becomes free.
    fn step(
        &mut self,
        key: &Bytes,
        input: Input<Bytes>,
        effects: &mut Effects,
        writes: &mut BatchWrites,
    ) -> Result<(), ReplicaError> {
        let mut input = Some(input);
        let mut outputs = Vec::new();
        while let Some(next) = input.take() {
            outputs.clear();
            if let Some(request) = request_of(&next) {
                if !self.node(key)?.has_request() {
                    self.shortcuts.start(key, request);
                }
            }
            let node = self.node(key)?;
            node.step(next, &mut outputs);
            let free = !node.has_request();
            for output in outputs.drain(..) {
                self.carry_out(key, output, effects, writes);
            }
            if free {
                if let Some(queue) = self.queues.get_mut(key) {
                    input = queue.waiting.pop_front();
                    if queue.waiting.is_empty() {
                        self.queues.remove(key);
                    }
                }
            }
        }
        Ok(())
    }

    fn carry_out(
        &mut self,
        key: &Bytes,
        output: Output<Bytes>,
        effects: &mut Effects,
        writes: &mut BatchWrites,
    ) {
        let me = self.id();
        if self.record_outputs {
            effects.outputs.push((key.clone(), output.clone()));
        }
        match output {
            Output::Persist(state) => {
                let promised = state.promised;
                let earlier = writes.acceptors.insert(key.clone(), state);
                check_superseded(earlier.as_ref(), promised);
            }
            Output::Send { to, msg } => effects.sends.push(Outgoing {
                to,
                envelope: Envelope {
                    from: me,
                    key: key.clone(),
                    msg,
                },
            }),
            Output::Broadcast { msg } => {
                self.shortcuts.broadcast(key, &msg, &self.metrics);
                for to in self.core.members().iter().filter(|n| *n != me) {
                    effects.sends.push(Outgoing {
                        to,
                        envelope: Envelope {
                            from: me,
                            key: key.clone(),
                            msg: msg.clone(),
                        },
                    });
                }
            }
            Output::Reply { request, result } => {
                self.shortcuts
                    .reply(key, request, result.is_ok(), &self.metrics);
                tracing::debug!(key = %String::from_utf8_lossy(key), ?request, ok = result.is_ok(), "request answered{}", match &result {
                    Ok(_) => String::new(),
                    Err(e) => format!(": {e}"),
                });
                match &result {
                    Ok(_) => {
                        self.metrics.requests_ok.inc();
                        self.metrics.rounds_committed.inc();
                    }
                    Err(RequestError::Exhausted { .. }) => {
                        self.metrics.requests_exhausted.inc();
                        self.metrics.rounds_failed.inc();
                    }
                    Err(RequestError::Indeterminate) => {
                        self.metrics.requests_indeterminate.inc();
                        self.metrics.rounds_failed.inc();
                    }
                    Err(RequestError::Busy) => {}
                }
                effects.replies.push(Reply {
                    request,
                    result: result.map_err(ReplyError::from),
                });
            }
            Output::SetTimer { timer, attempt } => {
                match timer {
                    Timer::Round => self.metrics.rounds_started.inc(),
                    Timer::Backoff => {
                        tracing::debug!(key = %String::from_utf8_lossy(key), ?attempt, "round failed (rejected or timed out): retrying after a random backoff");
                        self.metrics.retries.inc();
                        self.metrics.rounds_failed.inc();
                    }
                }
                effects.timers.push(TimerCommand::Set {
                    key: key.clone(),
                    timer,
                    attempt,
                });
            }
            Output::CancelTimer(timer) => effects.timers.push(TimerCommand::Cancel {
                key: key.clone(),
                timer,
            }),
            Output::Learned(proposal) => {
                let newer = writes
                    .committed
                    .get(key)
                    .is_none_or(|known: &Proposal<Bytes>| known.ballot < proposal.ballot);
                if newer {
                    writes.committed.insert(key.clone(), proposal);
                }
            }
        }
    }
}

/// A later persist of a key in one batch supersedes an earlier one, so it must not lower the
/// promise (checked in debug builds; the core checks it within one step, this across steps).
/// Opens (with `init`, creates) the data directory `dir` of the node `config` describes: its
/// cluster id, its id and the cluster's founding membership are what the directory must hold.
fn open_storage(dir: &Path, config: &ReplicaConfig, init: bool) -> Result<Storage, StorageError> {
    Storage::open(
        dir,
        &config.cluster_id,
        config.node_id,
        Membership::of(&config.cluster),
        init,
    )
}

/// The configuration a `Stale` reply carries (bare or wrapped in its sender's generation).
fn stale_configuration(msg: &Message<Bytes>) -> Option<Configuration> {
    match msg {
        Message::Stale { configuration } => Some(*configuration),
        Message::Generation { message, .. } => match message.as_ref() {
            Message::Stale { configuration } => Some(*configuration),
            _ => None,
        },
        _ => None,
    }
}

fn check_superseded(earlier: Option<&synod_core::AcceptorState<Bytes>>, promised: Ballot) {
    debug_assert!(
        earlier.is_none_or(|earlier| earlier.promised <= promised),
        "replica invariant: a later persist of a key in a batch never lowers its promise"
    );
}

/// The writes a batch collects: the latest state per key (a later persist of a key supersedes an
/// earlier one in the same batch, since both are made durable together).
#[derive(Default)]
struct BatchWrites {
    acceptors: BTreeMap<Bytes, synod_core::AcceptorState<Bytes>>,
    committed: BTreeMap<Bytes, Proposal<Bytes>>,
}

impl BatchWrites {
    fn finish(self) -> WriteBatch {
        WriteBatch {
            acceptors: self.acceptors.into_iter().collect(),
            committed: self.committed.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use synod_core::{Ballot, FastPaths};

    fn config(id: u8, n: u8) -> ReplicaConfig {
        let nodes: Vec<NodeId> = (1..=n).map(NodeId).collect();
        ReplicaConfig {
            cluster_id: "test".into(),
            node_id: NodeId(id),
            cluster: ClusterSpec::new(nodes).unwrap(),
            queue_limit: 2,
            cache_limit: 1,
        }
    }

    struct Cluster {
        _tmp: tempfile::TempDir,
        replicas: BTreeMap<NodeId, Replica>,
    }

    impl Cluster {
        fn new(n: u8) -> Self {
            Self::with_fast_paths(n, FastPaths::NONE)
        }

        fn with_fast_paths(n: u8, fast: FastPaths) -> Self {
            let tmp = tempfile::tempdir().unwrap();
            let replicas = (1..=n)
                .map(|i| {
                    let dir = tmp.path().join(i.to_string());
                    let mut config = config(i, n);
                    config.cluster = config.cluster.with_fast_paths(fast);
                    let r = Replica::open(&dir, config, true, Arc::default()).unwrap();
                    (NodeId(i), r)
                })
                .collect();
            Cluster {
                _tmp: tmp,
                replicas,
            }
        }

        /// Delivers every message until the network is quiet; returns all replies.
        fn run(&mut self, node: u8, events: Vec<Event>) -> Vec<Reply> {
            let mut replies = Vec::new();
            let mut inbox: VecDeque<(NodeId, Vec<Event>)> = VecDeque::new();
            inbox.push_back((NodeId(node), events));
            while let Some((to, events)) = inbox.pop_front() {
                let effects = self
                    .replicas
                    .get_mut(&to)
                    .unwrap()
                    .handle_batch(events)
                    .unwrap();
                replies.extend(effects.replies);
                for out in effects.sends {
                    inbox.push_back((out.to, vec![Event::Peer(out.envelope)]));
                }
            }
            replies
        }
    }

    fn key() -> Bytes {
        Bytes::from_static(b"name")
    }

    fn request(id: u64, op: Operation<Bytes>) -> Event {
        Event::Request {
            request: RequestId(id),
            key: key(),
            op,
        }
    }

    fn put(v: &'static str) -> Operation<Bytes> {
        Operation::Put(Bytes::from_static(v.as_bytes()))
    }

    #[test]
    fn requests_on_one_key_queue_behind_each_other_and_all_complete() {
        let mut c = Cluster::new(3);
        let replies = c.run(
            1,
            vec![
                request(1, put("a")),
                request(2, put("b")),
                request(3, Operation::Read),
                request(4, put("overflow")),
            ],
        );
        let by_id: BTreeMap<u64, _> = replies
            .into_iter()
            .map(|r| (r.request.0, r.result))
            .collect();
        assert_eq!(by_id[&4], Err(ReplyError::QueueFull), "queue limit is 2");
        assert_eq!(by_id[&1], Ok(Outcome::Written { previous: None }));
        assert_eq!(
            by_id[&2],
            Ok(Outcome::Written {
                previous: Some(Bytes::from_static(b"a"))
            })
        );
        assert_eq!(
            by_id[&3],
            Ok(Outcome::Read {
                value: Some(Bytes::from_static(b"b"))
            })
        );
    }

    #[test]
    fn a_one_round_trip_read_in_steady_state_fsyncs_nowhere() {
        let mut c = Cluster::with_fast_paths(3, FastPaths::ALL);
        // The first write is a classic round that reserves the next ballot; the second is a
        // one-round-trip write. Every message is delivered: the cluster is quiet afterwards.
        c.run(1, vec![request(1, put("a"))]);
        c.run(1, vec![request(2, put("b"))]);
        let fsyncs = |c: &Cluster| -> Vec<u64> {
            c.replicas
                .values()
                .map(|r| r.metrics().fsyncs.get())
                .collect()
        };
        let before = fsyncs(&c);
        let replies = c.run(1, vec![request(3, Operation::Read)]);
        assert_eq!(
            replies[0].result,
            Ok(Outcome::Read {
                value: Some(Bytes::from_static(b"b"))
            })
        );
        assert_eq!(
            fsyncs(&c),
            before,
            "no node made anything durable for the read"
        );
        let m = c.replicas[&NodeId(1)].metrics();
        assert_eq!(
            (m.fast_writes.get(), m.fast_write_fallbacks.get()),
            (1, 0),
            "the second write skipped phase 1"
        );
        assert_eq!(
            (m.fast_reads.get(), m.fast_read_fallbacks.get()),
            (1, 0),
            "the read was answered in one round trip"
        );
    }

    #[test]
    fn without_a_queue_the_core_answers_busy() {
        let tmp = tempfile::tempdir().unwrap();
        let mut config = config(1, 3);
        config.queue_limit = 0;
        let mut r = Replica::open(tmp.path(), config, true, Arc::default()).unwrap();
        r.record_outputs(true);
        let effects = r
            .handle_batch(vec![request(1, put("a")), request(2, put("b"))])
            .unwrap();
        assert_eq!(
            effects.replies,
            vec![Reply {
                request: RequestId(2),
                result: Err(ReplyError::Request(RequestError::Busy)),
            }]
        );
        assert!(effects.outputs.contains(&(
            key(),
            Output::Reply {
                request: RequestId(2),
                result: Err(RequestError::Busy)
            }
        )));
    }

    #[test]
    fn core_outputs_are_recorded_only_when_asked() {
        let tmp = tempfile::tempdir().unwrap();
        let mut r = Replica::open(tmp.path(), config(1, 3), true, Arc::default()).unwrap();
        let effects = r.handle_batch(vec![request(1, put("a"))]).unwrap();
        assert!(!effects.sends.is_empty());
        assert!(
            effects.outputs.is_empty(),
            "a node does not copy its outputs"
        );
        r.record_outputs(true);
        let other = Event::Request {
            request: RequestId(2),
            key: Bytes::from_static(b"other"),
            op: put("b"),
        };
        let effects = r.handle_batch(vec![other]).unwrap();
        assert!(effects
            .outputs
            .iter()
            .any(|(_, o)| matches!(o, Output::Persist(_))));
    }

    #[test]
    fn persist_happens_in_one_commit_before_sends_are_released() {
        let mut c = Cluster::new(3);
        let r1 = c.replicas.get_mut(&NodeId(1)).unwrap();
        let effects = r1
            .handle_batch(vec![
                request(1, put("a")),
                Event::Request {
                    request: RequestId(2),
                    key: Bytes::from_static(b"other"),
                    op: put("b"),
                },
            ])
            .unwrap();
        assert_eq!(effects.persisted, 2, "both keys' promises in one batch");
        assert_eq!(r1.metrics().fsyncs.get(), 1, "one fsync for the batch");
        assert_eq!(effects.sends.len(), 4, "two prepares to each of two peers");
        // The promises are on disk: a restart finds them.
        r1.restart().unwrap();
        let state = r1.node_state(&key()).unwrap();
        assert_eq!(state.promised, Ballot::new(1, NodeId(1)));
        assert_eq!(state.learned, None, "volatile learner state is gone");
    }

    #[test]
    fn each_batch_is_durable_before_its_effects_are_returned() {
        let mut c = Cluster::new(3);
        let r1 = c.replicas.get_mut(&NodeId(1)).unwrap();
        for expected in 1..=2 {
            let effects = r1.handle_batch(vec![request(expected, put("a"))]).unwrap();
            assert_eq!(effects.batch, expected);
            assert_eq!(r1.durable_through(), effects.batch);
        }
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(
        expected = "replica invariant: a later persist of a key in a batch never lowers"
    )]
    fn a_lower_persist_superseding_a_higher_one_is_caught() {
        let higher = synod_core::AcceptorState::<Bytes> {
            promised: Ballot::new(2, NodeId(1)),
            accepted: None,
        };
        check_superseded(Some(&higher), Ballot::new(1, NodeId(1)));
    }

    #[test]
    fn committed_values_are_recorded_and_survive_restart() {
        let mut c = Cluster::new(3);
        c.run(1, vec![request(1, put("x"))]);
        c.run(
            2,
            vec![Event::Request {
                request: RequestId(2),
                key: Bytes::from_static(b"second"),
                op: put("y"),
            }],
        );
        for r in c.replicas.values() {
            assert!(
                r.cached_keys() <= 1,
                "idle keys beyond the cache limit are dropped"
            );
        }
        for r in c.replicas.values_mut() {
            r.restart().unwrap();
            let committed = r
                .committed(b"name")
                .unwrap()
                .expect("commit reached everyone");
            assert_eq!(committed.value, Some(Bytes::from_static(b"x")));
        }
        // Volatile state is gone but the acceptors still hold "x": a read through node 3 sees it.
        let replies = c.run(3, vec![request(9, Operation::Read)]);
        assert_eq!(
            replies[0].result,
            Ok(Outcome::Read {
                value: Some(Bytes::from_static(b"x"))
            })
        );
    }

    #[test]
    fn an_abandoned_request_that_has_not_started_is_dropped() {
        let mut c = Cluster::new(3);
        let r1 = c.replicas.get_mut(&NodeId(1)).unwrap();
        r1.handle_batch(vec![request(1, put("a")), request(2, put("b"))])
            .unwrap();
        r1.handle_batch(vec![Event::Abandon {
            request: RequestId(2),
        }])
        .unwrap();
        // Time out the first request until it gives up: no reply for request 2 ever appears.
        let mut replies = Vec::new();
        for _ in 0..3 {
            for timer in [Timer::Round, Timer::Backoff] {
                let e = r1
                    .handle_batch(vec![Event::Timeout { key: key(), timer }])
                    .unwrap();
                replies.extend(e.replies);
            }
        }
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0].request, RequestId(1));
        assert!(matches!(
            replies[0].result,
            Err(ReplyError::Request(RequestError::Exhausted { attempts: 3 }))
        ));
    }
}
