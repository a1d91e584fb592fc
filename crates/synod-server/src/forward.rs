//! Client requests run at their key's home: forwarded there over the peer transport, and the
//! answer relayed.
//!
//! [`Forwarder::run`] is how the HTTP API runs every client request. For a key whose home
//! (`home`) is another member, it sends an [`Item::Forward`] to the home on this node's
//! connection to it and waits for the matching [`Item::Answer`]; otherwise it submits the
//! request to this node's own runtime. The rules:
//!
//! * **The home executes.** A node that receives a forwarded request always runs it as its own
//!   client request — it never forwards it again, so there are no loops — and answers it. Its
//!   per-key queue then serializes every request on the key, wherever it arrived.
//! * **An unreachable home is not waited for.** If this node has no live connection to the home
//!   (or its queue to it is full), it proposes itself: Paxos is safe with any number of
//!   proposers; they may only pre-empt each other (counted in
//!   `synod_requests_home_unreachable_total`).
//! * **An unanswered forward is never run twice.** If no answer arrives within
//!   [`ForwardConfig::timeout`], or the connection the request left on is lost, the home may
//!   still have executed it — or may still do so. A read is then run here (reading twice changes
//!   nothing); any write answers `indeterminate`, because running it again here could apply it
//!   twice (a `PUT` applied, overwritten by another client, then applied again). The answer is
//!   "took effect once or not at all", which is true, never a wrong value.
//! * The request timeout bounds everything: past it the answer is `timeout`, as for a local
//!   request.
//!
//! A membership change's catch-up of a key ([`Forwarder::catch_up`]) takes the same road: it
//! runs at the key's home, queued behind the key's client requests, if the home runs the
//! change's generation (else here); the cluster's own reserved keys are caught up too.
//!
//! Answers are matched by id (a [`RequestId`] of this node, never repeated across restarts) and
//! by sender: an answer from another node than the one asked is ignored.

use crate::home::home_of;
use crate::members_record::{is_reserved, RESERVED_PREFIX};
use crate::metrics::Metrics;
use crate::peer_status::PeerStatus;
use crate::reconfiguration::{CatchUpRunner, Reconfigurer, DEFAULT_INSTALL_TIMEOUT};
use crate::replica::ReplyError;
use crate::runtime::{RuntimeHandle, Submitted};
use crate::transport::{Inbox, InboxClosed, Link, Outbox};
use crate::wire::{Answer, Failure, Forward, Item};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use synod_core::{NodeId, NodeSet, Operation, Outcome, RequestError, RequestId};
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

/// The result of a client request.
pub type RunResult = Result<Outcome<Bytes>, Failure>;

/// How client requests are routed, and the limits a home applies to forwarded ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForwardConfig {
    /// Forward requests to their key's home (off: every node proposes for what it receives).
    pub enabled: bool,
    /// How long a forwarded request waits for the home's answer.
    pub timeout: Duration,
    /// How long any client request may take in all (the HTTP request timeout).
    pub request_timeout: Duration,
    /// The longest key accepted, in bytes.
    pub max_key: usize,
    /// The largest value accepted, in bytes.
    pub max_value: usize,
}

/// Default [`ForwardConfig::timeout`]: four default round timeouts.
pub const DEFAULT_FORWARD_TIMEOUT: Duration = Duration::from_millis(2000);

impl Default for ForwardConfig {
    fn default() -> Self {
        ForwardConfig {
            enabled: true,
            timeout: DEFAULT_FORWARD_TIMEOUT,
            request_timeout: Duration::from_secs(5),
            max_key: 1024,
            max_value: 1024 * 1024,
        }
    }
}

type Waiting = HashMap<RequestId, (NodeId, oneshot::Sender<RunResult>)>;

/// How a home that runs another generation refuses a forwarded catch-up (the forwarding node
/// then runs it itself).
const OTHER_GENERATION: &str = "a catch-up of another generation: this node runs generation";

/// What a request does: a client's operation, or a membership change's catch-up of the key in
/// a generation.
#[derive(Clone, Debug)]
enum Work {
    Client(Operation<Bytes>),
    CatchUp(u64),
}

impl Work {
    /// The operation (a catch-up is a read).
    fn op(&self) -> Operation<Bytes> {
        match self {
            Work::Client(op) => op.clone(),
            Work::CatchUp(_) => Operation::Read,
        }
    }

    fn catch_up(&self) -> Option<u64> {
        match self {
            Work::Client(_) => None,
            Work::CatchUp(generation) => Some(*generation),
        }
    }
}

/// Runs client requests at their key's home; also the node's [`Inbox`] for peer items.
#[derive(Clone, Debug)]
pub struct Forwarder {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    node: NodeId,
    config: ForwardConfig,
    reconfigurer: Reconfigurer,
    runtime: RuntimeHandle,
    outbox: Outbox,
    waiting: Mutex<Waiting>,
}

/// Removes a forwarded request from the waiting ones when its caller stops waiting, however
/// it stops (answered, timed out, or dropped by a client that went away).
struct Unwait<'a> {
    waiting: &'a Mutex<Waiting>,
    id: RequestId,
}

impl Drop for Unwait<'_> {
    fn drop(&mut self) {
        if let Ok(mut waiting) = self.waiting.lock() {
            waiting.remove(&self.id);
        }
    }
}

impl Forwarder {
    /// The forwarding of node `node`, running requests on `runtime` and sending through
    /// `outbox`; keys' homes are among the members of the runtime's current configuration.
    pub fn new(
        node: NodeId,
        config: ForwardConfig,
        runtime: RuntimeHandle,
        outbox: Outbox,
    ) -> Self {
        let reconfigurer = Reconfigurer::new(
            node,
            runtime.clone(),
            outbox.clone(),
            DEFAULT_INSTALL_TIMEOUT,
        );
        Forwarder {
            inner: Arc::new(Inner {
                node,
                config,
                reconfigurer,
                runtime,
                outbox,
                waiting: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The same forwarding, with membership changes run here waiting `timeout` for each step
    /// to be installed (call before cloning it).
    pub fn with_install_timeout(self, timeout: Duration) -> Self {
        let inner = Arc::try_unwrap(self.inner).expect("set before the forwarder is shared");
        let reconfigurer = Reconfigurer::new(
            inner.node,
            inner.runtime.clone(),
            inner.outbox.clone(),
            timeout,
        );
        Forwarder {
            inner: Arc::new(Inner {
                reconfigurer,
                ..inner
            }),
        }
    }

    /// This node.
    pub fn node(&self) -> NodeId {
        self.inner.node
    }

    /// The members of the configuration this node runs.
    pub fn members(&self) -> NodeSet {
        self.inner.runtime.configuration().members()
    }

    /// Every node this node knows a peer address for (itself included).
    pub fn peers(&self) -> std::collections::BTreeMap<NodeId, std::net::SocketAddr> {
        self.inner.outbox.peers()
    }

    /// This node's side of membership changes.
    pub fn reconfigurer(&self) -> &Reconfigurer {
        &self.inner.reconfigurer
    }

    /// Refuses client requests on a node a membership change removed, and on the cluster's
    /// own (reserved) keys.
    fn admit(&self, key: &[u8]) -> Result<(), Failure> {
        if is_reserved(key) {
            return Err(Failure::BadInput(format!(
                "keys starting with {:?} are reserved for the cluster's own registers",
                String::from_utf8_lossy(RESERVED_PREFIX)
            )));
        }
        let configuration = self.inner.runtime.configuration();
        if !configuration.members().contains(self.inner.node) {
            return Err(Failure::Removed {
                node: self.inner.node,
                generation: configuration.generation(),
                members: format!(
                    "{{{}}}",
                    configuration
                        .members()
                        .iter()
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        Ok(())
    }

    /// The configuration.
    pub fn config(&self) -> &ForwardConfig {
        &self.inner.config
    }

    /// The members this node has a live connection to (requests for their keys are forwarded).
    pub fn connected(&self) -> NodeSet {
        self.members()
            .iter()
            .filter(|&m| {
                self.inner
                    .outbox
                    .link(m)
                    .is_some_and(|link| link.borrow().up)
            })
            .collect()
    }

    /// The node's runtime.
    pub fn runtime(&self) -> &RuntimeHandle {
        &self.inner.runtime
    }

    /// What this node knows about its links to each member.
    pub fn peer_status(&self) -> &Arc<PeerStatus> {
        self.inner.outbox.peer_status()
    }

    fn metrics(&self) -> &Metrics {
        self.inner.runtime.metrics()
    }

    /// Runs a client request at its key's home (see the module docs), within the request
    /// timeout.
    pub async fn run(&self, key: Bytes, op: Operation<Bytes>) -> RunResult {
        self.admit(&key)?;
        self.route(key, Work::Client(op)).await
    }

    /// Runs a membership change's catch-up of `key` in `generation` at the key's home, where it
    /// queues behind the key's client requests instead of racing them (a hot key's writes and
    /// a catch-up run elsewhere pre-empt each other); here if the home is this node or cannot
    /// be reached, or refuses it (it runs another generation).
    pub async fn catch_up(&self, key: Bytes, generation: u64) -> RunResult {
        match self.route(key.clone(), Work::CatchUp(generation)).await {
            Err(Failure::BadInput(why)) if why.starts_with(OTHER_GENERATION) => {
                let deadline = Instant::now() + self.inner.config.request_timeout;
                self.local(key, Work::CatchUp(generation), deadline).await
            }
            other => other,
        }
    }

    async fn route(&self, key: Bytes, work: Work) -> RunResult {
        let deadline = Instant::now() + self.inner.config.request_timeout;
        match self.home_elsewhere(&key) {
            Some((home, link)) => self.forward(home, link, key, work, deadline).await,
            None => self.local(key, work, deadline).await,
        }
    }

    /// The key's home and the link to it, if forwarding is on and the home is another node.
    fn home_elsewhere(&self, key: &[u8]) -> Option<(NodeId, watch::Receiver<Link>)> {
        if !self.inner.config.enabled {
            return None;
        }
        let home = home_of(key, self.members())?;
        if home == self.inner.node {
            return None;
        }
        Some((home, self.inner.outbox.link(home)?))
    }

    async fn forward(
        &self,
        home: NodeId,
        mut link: watch::Receiver<Link>,
        key: Bytes,
        work: Work,
        deadline: Instant,
    ) -> RunResult {
        let sent_on = *link.borrow_and_update();
        if !sent_on.up {
            tracing::debug!(%home, key = %String::from_utf8_lossy(&key), "no connection to the key's home: proposing here");
            return self.unreachable(key, work, deadline).await;
        }
        let id = self
            .inner
            .runtime
            .next_request_id()
            .map_err(|e| Failure::Stopped(e.0))?;
        let (tx, answer) = oneshot::channel();
        self.inner
            .waiting
            .lock()
            .expect("the waiting table is never left poisoned")
            .insert(id, (home, tx));
        let _unwait = Unwait {
            waiting: &self.inner.waiting,
            id,
        };
        let item = Item::Forward(Forward {
            from: self.inner.node,
            id,
            key: key.clone(),
            op: work.op(),
            catch_up: work.catch_up(),
        });
        if !self.inner.outbox.send_item(home, item) {
            // Never queued, so never executed: proposing here is safe.
            tracing::debug!(%home, key = %String::from_utf8_lossy(&key), "the queue to the key's home is full: proposing here");
            return self.unreachable(key, work, deadline).await;
        }
        tracing::debug!(%home, ?id, key = %String::from_utf8_lossy(&key), "forwarded to the key's home");
        self.metrics().forwards_sent.inc();
        let patience = deadline.min(Instant::now() + self.inner.config.timeout);
        let lost = async {
            // A closed watch means the connection task is gone: lost as well.
            let _ = link
                .wait_for(|now| !now.up || now.connections != sent_on.connections)
                .await
                .map(|_| ());
        };
        let answered = tokio::select! {
            answer = answer => answer.ok(),
            () = tokio::time::sleep_until(patience) => None,
            () = lost => None,
        };
        if let Some(result) = answered {
            return result;
        }
        if Instant::now() >= deadline {
            return Err(self.timed_out());
        }
        if matches!(work.op(), Operation::Read) {
            // Reading twice changes nothing (a catch-up is a read).
            tracing::debug!(%home, ?id, "the home did not answer a forwarded read: reading here");
            return self.unreachable(key, work, deadline).await;
        }
        tracing::debug!(%home, ?id, "the home did not answer a forwarded write: indeterminate");
        self.metrics().forwards_indeterminate.inc();
        Err(Failure::Request(RequestError::Indeterminate))
    }

    async fn unreachable(&self, key: Bytes, work: Work, deadline: Instant) -> RunResult {
        self.metrics().home_unreachable.inc();
        self.local(key, work, deadline).await
    }

    /// Runs a request on this node's own runtime until `deadline`.
    async fn local(&self, key: Bytes, work: Work, deadline: Instant) -> RunResult {
        let runtime = &self.inner.runtime;
        let submitted = match work {
            Work::Client(op) => runtime.submit(key, op).await,
            Work::CatchUp(_) => runtime.catch_up(key).await,
        }
        .map_err(|e| Failure::Stopped(e.0))?;
        self.outcome(submitted, deadline).await
    }

    /// Waits for a submitted request's outcome until `deadline` (then abandons it).
    async fn outcome(&self, submitted: Submitted, deadline: Instant) -> RunResult {
        let runtime = &self.inner.runtime;
        match tokio::time::timeout_at(deadline, submitted.reply).await {
            Ok(Ok(result)) => result.map_err(|e| match e {
                ReplyError::Request(e) => Failure::Request(e),
                ReplyError::QueueFull => Failure::QueueFull,
            }),
            Ok(Err(_)) => Err(Failure::Stopped(
                runtime
                    .failure()
                    .unwrap_or_else(|| "request dropped".into()),
            )),
            Err(_) => {
                runtime.abandon(submitted.request).await;
                Err(self.timed_out())
            }
        }
    }

    fn timed_out(&self) -> Failure {
        self.metrics().requests_timed_out.inc();
        Failure::Timeout {
            after_ms: u64::try_from(self.inner.config.request_timeout.as_millis())
                .unwrap_or(u64::MAX),
        }
    }

    /// Checks a forwarded request against this node's limits (the forwarding node checked its
    /// own, which should be the same).
    fn check(&self, key: &[u8], op: &Operation<Bytes>) -> Result<(), Failure> {
        let config = &self.inner.config;
        if key.is_empty() || key.len() > config.max_key {
            return Err(Failure::BadInput(format!(
                "keys must be 1 to {} bytes",
                config.max_key
            )));
        }
        let values: Vec<&Bytes> = match op {
            Operation::Put(v) | Operation::ProposeOnce(v) => vec![v],
            Operation::Cas { expected, new } => expected.iter().chain([new]).collect(),
            Operation::Delete | Operation::Read => Vec::new(),
        };
        if values.iter().any(|v| v.len() > config.max_value) {
            return Err(Failure::TooLarge {
                limit: config.max_value as u64,
            });
        }
        Ok(())
    }

    /// Executes a request forwarded by another node here — never forwarding it again — and
    /// sends the answer back.
    async fn execute(&self, forward: Forward) {
        self.metrics().forwards_received.inc();
        let Forward {
            from,
            id,
            key,
            op,
            catch_up,
        } = forward;
        let admitted = match catch_up {
            // The cluster's own keys are caught up too; only the generation must be this one.
            Some(generation) => {
                let here = self.inner.runtime.configuration().generation();
                if here == generation {
                    Ok(())
                } else {
                    Err(Failure::BadInput(format!(
                        "{OTHER_GENERATION} {here}, not {generation}"
                    )))
                }
            }
            None => self.admit(&key).and_then(|()| self.check(&key, &op)),
        };
        if let Err(refused) = admitted {
            self.answer(from, id, Err(refused));
            return;
        }
        let deadline = Instant::now() + self.inner.config.request_timeout;
        // Submitted here, in the order the items arrived, waiting while the replica is behind
        // (as protocol envelopes do)...
        let runtime = &self.inner.runtime;
        let submitted = match catch_up {
            Some(_) => runtime.catch_up(key).await,
            None => runtime.submit(key, op).await,
        };
        let submitted = match submitted {
            Ok(submitted) => submitted,
            Err(stopped) => return self.answer(from, id, Err(Failure::Stopped(stopped.0))),
        };
        // ...and the outcome, which may take a while (queued behind other requests on the
        // key), awaited elsewhere so that the peer's next items are not held up.
        let this = self.clone();
        tokio::spawn(async move {
            let result = this.outcome(submitted, deadline).await;
            this.answer(from, id, result);
        });
    }

    fn answer(&self, to: NodeId, id: RequestId, result: RunResult) {
        let answer = Item::Answer(Answer {
            from: self.inner.node,
            id,
            result,
        });
        // If it cannot be queued, the forwarding node times out (and answers as the rules say).
        self.inner.outbox.send_item(to, answer);
    }

    /// Hands an answer to the request waiting for it, if it came from the node asked.
    fn answered(&self, answer: Answer) {
        let mut waiting = self
            .inner
            .waiting
            .lock()
            .expect("the waiting table is never left poisoned");
        match waiting.get(&answer.id) {
            Some((home, _)) if *home == answer.from => {
                if let Some((_, tx)) = waiting.remove(&answer.id) {
                    let _ = tx.send(answer.result);
                }
            }
            Some((home, _)) => tracing::warn!(
                from = %answer.from,
                %home,
                "ignored an answer to a request forwarded to another node"
            ),
            // Late: the caller stopped waiting (and answered as the rules say).
            None => {}
        }
    }
}

impl CatchUpRunner for Forwarder {
    async fn run_catch_up(&self, key: Bytes, generation: u64) -> Result<Outcome<Bytes>, String> {
        self.catch_up(key, generation)
            .await
            .map_err(|e| e.to_string())
    }
}

impl Inbox for Forwarder {
    async fn deliver(&self, items: Vec<Item>) -> Result<(), InboxClosed> {
        let mut envelopes = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Item::Protocol(envelope) => envelopes.push(envelope),
                Item::Forward(forward) => self.execute(forward).await,
                Item::Answer(answer) => self.answered(answer),
                change => self.inner.reconfigurer.on_item(change).await,
            }
        }
        if envelopes.is_empty() {
            return Ok(());
        }
        self.inner
            .runtime
            .deliver(envelopes)
            .await
            .map_err(|_| InboxClosed)
    }

    fn metrics(&self) -> &Arc<Metrics> {
        self.inner.runtime.metrics()
    }

    fn peer_status(&self) -> &Arc<PeerStatus> {
        Forwarder::peer_status(self)
    }
}
