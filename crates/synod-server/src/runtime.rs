//! The driver around the [`Replica`]: one thread that batches inputs, and tokio timers.
//!
//! Client requests (from the API), peer envelopes (from the transport) and timer expiries all
//! arrive on one bounded channel. The replica thread takes whatever is waiting (up to
//! [`RuntimeConfig::max_batch`]) as one batch, hands it to [`Replica::handle_batch`] — which
//! makes the batch's state durable in one fsync — and only then carries out the effects: the
//! messages go to the [`Outbox`], the replies to the waiting callers, and the timer commands
//! start or stop tokio sleeps. This module moves bytes and timers; every decision is the
//! replica's.
//!
//! A storage failure stops the thread (the replica's memory would be ahead of its disk): the
//! node reports it through [`RuntimeHandle::failure`] and the process should exit.
//!
//! Request ids come from [`RequestIds`] of a new incarnation, counted durably in the replica's
//! storage when the runtime starts: no id repeats for this node, across restarts too.

use crate::backoff::Timing;
use crate::membership::Membership;
use crate::metrics::Metrics;
use crate::replica::{Event, Replica, ReplicaError, ReplyError, TimerCommand};
use crate::request_ids::{NoIds, RequestIds};
use crate::timer_table::TimerTable;
use crate::transport::Outbox;
use crate::wire::Envelope;
use bytes::Bytes;
use rand::SeedableRng;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use synod_core::{Configuration, Operation, Outcome, RequestId, Timer};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::AbortHandle;

/// How the driver batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// Round timeout and backoff.
    pub timing: Timing,
    /// Most inputs per batch (per fsync).
    pub max_batch: usize,
    /// Capacity of the input channel (senders wait when it is full: backpressure).
    pub input_capacity: usize,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            timing: Timing::default(),
            max_batch: 256,
            input_capacity: 4096,
        }
    }
}

/// The result a caller receives.
pub type SubmitResult = Result<Outcome<Bytes>, ReplyError>;

enum Command {
    Submit {
        key: Bytes,
        /// `None`: a membership change's catch-up of the key.
        op: Option<Operation<Bytes>>,
        request: RequestId,
        reply: oneshot::Sender<SubmitResult>,
    },
    Peer(Vec<Envelope>),
    Fired {
        key: Bytes,
        timer: Timer,
        generation: u64,
    },
    Abandon(RequestId),
    Install(Configuration),
    Keys {
        after: Option<Bytes>,
        limit: usize,
        reply: oneshot::Sender<Result<Vec<Bytes>, String>>,
    },
}

/// Why a request could not even be submitted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the node's replica has stopped: {0}")]
pub struct Stopped(pub String);

/// A cheap, cloneable handle to the running replica.
#[derive(Clone, Debug)]
pub struct RuntimeHandle {
    tx: mpsc::Sender<Command>,
    ids: Arc<RequestIds>,
    failure: watch::Receiver<Option<String>>,
    metrics: Arc<Metrics>,
    configuration: watch::Receiver<Configuration>,
    founding: Membership,
}

/// A submitted request: await `reply`; if you stop waiting, call [`RuntimeHandle::abandon`].
#[derive(Debug)]
pub struct Submitted {
    /// The request's id.
    pub request: RequestId,
    /// Resolves with the result (or is dropped if the replica stopped or restarted).
    pub reply: oneshot::Receiver<SubmitResult>,
}

impl RuntimeHandle {
    /// Queues `op` on `key`.
    pub async fn submit(&self, key: Bytes, op: Operation<Bytes>) -> Result<Submitted, Stopped> {
        self.queue(key, Some(op)).await
    }

    /// Queues a membership change's catch-up of `key` (a full-round read, answered like one).
    pub async fn catch_up(&self, key: Bytes) -> Result<Submitted, Stopped> {
        self.queue(key, None).await
    }

    async fn queue(&self, key: Bytes, op: Option<Operation<Bytes>>) -> Result<Submitted, Stopped> {
        let request = self.next_request_id()?;
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Submit {
                key,
                op,
                request,
                reply,
            })
            .await
            .map_err(|_| self.stopped())?;
        Ok(Submitted { request, reply: rx })
    }

    /// A request id no request of this node ever had (nor will have), e.g. to match a
    /// forwarded request's answer; `Err` once this incarnation's ids are used up.
    pub fn next_request_id(&self) -> Result<RequestId, Stopped> {
        self.ids.next().ok_or_else(|| {
            Stopped(format!(
                "this process has used up the request ids of its incarnation {}; restart the node",
                self.ids.incarnation()
            ))
        })
    }

    /// The incarnation this runtime numbers its requests in (1 on a node's first start).
    pub fn incarnation(&self) -> u64 {
        self.ids.incarnation()
    }

    /// Tells the replica nobody waits for `request` any more.
    pub async fn abandon(&self, request: RequestId) {
        let _ = self.tx.send(Command::Abandon(request)).await;
    }

    /// Hands envelopes received from a peer to the replica (waits when the replica is behind).
    pub async fn deliver(&self, envelopes: Vec<Envelope>) -> Result<(), Stopped> {
        self.tx
            .send(Command::Peer(envelopes))
            .await
            .map_err(|_| self.stopped())
    }

    /// Moves the replica to a newer membership `configuration` (durably, before it acts in
    /// it) and waits until it runs that generation or a later one.
    pub async fn install(&self, configuration: Configuration) -> Result<(), Stopped> {
        self.tx
            .send(Command::Install(configuration))
            .await
            .map_err(|_| self.stopped())?;
        let mut watch = self.configuration.clone();
        watch
            .wait_for(|c| c.generation() >= configuration.generation())
            .await
            .map(|_| ())
            .map_err(|_| self.stopped())
    }

    /// The membership configuration the replica runs now (it changes when one is installed,
    /// or adopted from a peer's `Stale` reply).
    pub fn configuration(&self) -> Configuration {
        *self.configuration.borrow()
    }

    /// The membership the cluster was founded with (generation 0; what a joining node
    /// records and every handshake compares).
    pub fn founding(&self) -> Membership {
        self.founding
    }

    /// Follows the replica's configuration as it changes.
    pub fn watch_configuration(&self) -> watch::Receiver<Configuration> {
        self.configuration.clone()
    }

    /// Up to `limit` keys this node holds acceptor state for, in order, after `after`.
    pub async fn acceptor_keys(
        &self,
        after: Option<Bytes>,
        limit: usize,
    ) -> Result<Vec<Bytes>, Stopped> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Keys {
                after,
                limit,
                reply,
            })
            .await
            .map_err(|_| self.stopped())?;
        match rx.await {
            Ok(Ok(keys)) => Ok(keys),
            Ok(Err(e)) => Err(Stopped(e)),
            Err(_) => Err(self.stopped()),
        }
    }

    /// Why the replica stopped, if it did.
    pub fn failure(&self) -> Option<String> {
        self.failure.borrow().clone()
    }

    /// Resolves when the replica stops, with the reason.
    pub async fn stopped_reason(&self) -> String {
        let mut rx = self.failure.clone();
        loop {
            if let Some(reason) = rx.borrow_and_update().clone() {
                return reason;
            }
            if rx.changed().await.is_err() {
                return "replica thread ended".into();
            }
        }
    }

    /// The node's metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Drops this handle and waits until the replica thread has ended and closed its storage —
    /// which it does once no other handle is left either. Returns why it ended.
    pub async fn close(self) -> String {
        let mut failure = self.failure.clone();
        drop(self);
        loop {
            if let Some(reason) = failure.borrow_and_update().clone() {
                return reason;
            }
            if failure.changed().await.is_err() {
                return "replica thread ended".into();
            }
        }
    }

    fn stopped(&self) -> Stopped {
        Stopped(self.failure().unwrap_or_else(|| "shutting down".into()))
    }
}

/// Why a runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The incarnation could not be counted in storage.
    #[error(transparent)]
    Replica(#[from] ReplicaError),
    /// The incarnation has no request ids.
    #[error(transparent)]
    NoIds(#[from] NoIds),
}

/// Starts the replica thread, after counting a new incarnation durably (its request ids are
/// new for this node). Must be called within a tokio runtime (timers are tokio tasks).
pub fn start(
    replica: Replica,
    outbox: Outbox,
    config: RuntimeConfig,
) -> Result<RuntimeHandle, StartError> {
    let ids = Arc::new(RequestIds::new(replica.next_incarnation()?)?);
    let (tx, rx) = mpsc::channel(config.input_capacity.max(1));
    let (fail_tx, failure) = watch::channel(None);
    let metrics = replica.metrics().clone();
    let (configuration_tx, configuration) = watch::channel(*replica.configuration());
    let founding = Membership::of(&replica.config().cluster);
    let driver = Driver {
        configuration: configuration_tx,
        replica,
        outbox,
        config,
        rx,
        tx: tx.downgrade(),
        tokio: tokio::runtime::Handle::current(),
        timers: TimerTable::new(),
        waiting: HashMap::new(),
        rng: rand::rngs::StdRng::from_entropy(),
    };
    let id = driver.replica.id();
    std::thread::Builder::new()
        .name(format!("replica-{id}"))
        .spawn(move || {
            let reason = driver.run();
            tracing::error!(node = %id, "replica stopped: {reason}");
            let _ = fail_tx.send(Some(reason));
        })
        .expect("spawning the replica thread");
    Ok(RuntimeHandle {
        tx,
        ids,
        failure,
        metrics,
        configuration,
        founding,
    })
}

struct Driver {
    replica: Replica,
    outbox: Outbox,
    config: RuntimeConfig,
    rx: mpsc::Receiver<Command>,
    tx: mpsc::WeakSender<Command>,
    tokio: tokio::runtime::Handle,
    timers: TimerTable<AbortHandle>,
    waiting: HashMap<RequestId, (oneshot::Sender<SubmitResult>, Instant)>,
    rng: rand::rngs::StdRng,
    /// The replica's configuration, published after every batch that changed it.
    configuration: watch::Sender<Configuration>,
}

impl Driver {
    /// Runs until every handle is gone or storage fails; returns why it stopped.
    fn run(mut self) -> String {
        let mut events = Vec::with_capacity(self.config.max_batch);
        while let Some(first) = self.rx.blocking_recv() {
            self.take(first, &mut events);
            while events.len() < self.config.max_batch {
                match self.rx.try_recv() {
                    Ok(next) => self.take(next, &mut events),
                    Err(_) => break,
                }
            }
            if events.is_empty() {
                continue;
            }
            let effects = match self.replica.handle_batch(events.drain(..)) {
                Ok(effects) => effects,
                Err(e) => return format!("storage failed, refusing to go on: {e}"),
            };
            check_durable(self.replica.durable_through(), effects.batch);
            let configuration = *self.replica.configuration();
            self.configuration.send_if_modified(|published| {
                let changed = *published != configuration;
                *published = configuration;
                changed
            });
            for out in effects.sends {
                self.outbox.send(out);
            }
            for reply in effects.replies {
                if let Some((tx, started)) = self.waiting.remove(&reply.request) {
                    self.replica
                        .metrics()
                        .request_latency_us
                        .record_duration(started.elapsed());
                    let _ = tx.send(reply.result);
                }
            }
            for command in effects.timers {
                self.timer(command);
            }
        }
        "shut down".into()
    }

    fn take(&mut self, command: Command, events: &mut Vec<Event>) {
        match command {
            Command::Submit {
                key,
                op,
                request,
                reply,
            } => {
                self.waiting.insert(request, (reply, Instant::now()));
                events.push(match op {
                    Some(op) => Event::Request { request, key, op },
                    None => Event::CatchUp { request, key },
                });
            }
            Command::Peer(envelopes) => events.extend(envelopes.into_iter().map(Event::Peer)),
            Command::Fired {
                key,
                timer,
                generation,
            } => {
                if self.timers.fire(&key, timer, generation) {
                    events.push(Event::Timeout { key, timer });
                }
            }
            Command::Abandon(request) => {
                if self.waiting.remove(&request).is_some() {
                    events.push(Event::Abandon { request });
                }
            }
            Command::Install(configuration) => events.push(Event::Install(configuration)),
            Command::Keys {
                after,
                limit,
                reply,
            } => {
                // A read of storage between batches: nothing of the batch being gathered is
                // lost, and its keys are listed by the next call at the latest.
                let keys = self
                    .replica
                    .acceptor_keys(after.as_deref(), limit)
                    .map_err(|e| e.to_string());
                let _ = reply.send(keys);
            }
        }
    }

    fn timer(&mut self, command: TimerCommand) {
        match command {
            TimerCommand::Cancel { key, timer } => {
                if let Some(handle) = self.timers.cancel(key, timer) {
                    handle.abort();
                }
            }
            TimerCommand::Set {
                key,
                timer,
                attempt,
            } => {
                let delay = self.config.timing.delay(timer, attempt, &mut self.rng);
                let generation = self.timers.next_generation();
                let Some(tx) = self.tx.upgrade() else { return };
                let fired = Command::Fired {
                    key: key.clone(),
                    timer,
                    generation,
                };
                let task = self.tokio.spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = tx.send(fired).await;
                });
                if let Some(old) = self.timers.arm(key, timer, task.abort_handle()) {
                    old.abort();
                }
            }
        }
    }
}

/// Persist before send, where the messages leave: a batch's messages and replies are released
/// only once the replica reports the batch durable. One comparison per batch, and a violation
/// would let a promise out ahead of the disk, so it is checked in release builds too.
fn check_durable(durable_through: u64, batch: u64) {
    assert!(
        durable_through >= batch,
        "runtime invariant: a batch is durable before its messages are released \
         (batch {batch}, durable through {durable_through})"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica::ReplicaConfig;
    use crate::transport::{start_outbound, TransportConfig};
    use std::collections::{BTreeMap, BTreeSet};
    use synod_core::{ClusterSpec, NodeId};

    #[tokio::test]
    async fn a_restarted_node_never_repeats_a_request_id() {
        let tmp = tempfile::tempdir().unwrap();
        let config = ReplicaConfig {
            cluster_id: "c".into(),
            node_id: NodeId(1),
            cluster: ClusterSpec::new([NodeId(1)]).unwrap(),
            queue_limit: 8,
            cache_limit: 8,
        };
        let peers = BTreeMap::from([(NodeId(1), "127.0.0.1:9".parse().unwrap())]);
        let mut seen = BTreeSet::new();
        for start_number in 1..=3u64 {
            let replica = Replica::open(
                tmp.path(),
                config.clone(),
                start_number == 1,
                Arc::default(),
            )
            .unwrap();
            let outbox = start_outbound(
                &TransportConfig::new("c", NodeId(1), peers.clone()),
                replica.metrics().clone(),
            );
            let handle = start(replica, outbox, RuntimeConfig::default()).unwrap();
            assert_eq!(handle.incarnation(), start_number);
            for _ in 0..4 {
                let id = handle.next_request_id().unwrap();
                assert!(seen.insert(id), "{id:?} was handed out before a restart");
            }
            // A request gets its id from the same source.
            let submitted = handle.submit("k".into(), Operation::Read).await.unwrap();
            assert!(seen.insert(submitted.request));
            submitted.reply.await.unwrap().unwrap();
            handle.close().await;
        }
    }

    #[test]
    fn a_durable_batch_may_be_released() {
        check_durable(4, 4);
        check_durable(5, 4);
    }

    #[test]
    #[should_panic(
        expected = "runtime invariant: a batch is durable before its messages are released"
    )]
    fn releasing_a_batch_ahead_of_the_disk_is_caught() {
        check_durable(3, 4);
    }
}
