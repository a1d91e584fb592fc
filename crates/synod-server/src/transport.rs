//! TCP between peers.
//!
//! **Outbound**: one task per known peer owns one connection to it. It connects (retrying with
//! exponential backoff), sends the [`Handshake`], then drains the peer's bounded queue, packing
//! as many waiting items (protocol envelopes, forwarded requests, answers) as fit into each
//! frame. When the queue is full — the peer is slow or down — new items are dropped and counted:
//! Paxos tolerates loss, and retries recover. The task publishes the connection's state as a
//! [`Link`] (up or down, and how many connections it has made), which the forwarding of client
//! requests consults; a peer that closes the connection (its process died) is noticed at once,
//! since the peer never writes on it and anything read there is its end.
//!
//! **The address book** is dynamic, since members are added while the cluster serves
//! (docs/protocol.md, "Membership change"). It starts as `--peers`; [`Outbox::add_peer`] adds a
//! node (a queue, a [`Link`] and an outbound task of its own, exactly as for the nodes known at
//! the start) or moves a known one to a new address (its task drops the connection it has and
//! dials the new address). The inbound side adds every node whose handshake it accepts and
//! which it has no link to, at the address that node's handshake states for itself — a new
//! node dials every node it knows at its start, so every node learns it and dials it back.
//! Nodes are never removed: a node removed from the configuration is still dialled, which is
//! harmless (the protocol core no longer counts it). [`Outbox::peers`] is the current book; it
//! is the [`Addresses`] every handshake states.
//!
//! **Inbound**: a listener accepts connections; each must open with a handshake naming this
//! cluster, a node id other than this node's (below [`NodeId::LIMIT`]), and this cluster's
//! *founding* [`Membership`] — the member ids and quorum sizes it was created with, which
//! never change, whatever configuration either node has installed since (see
//! [`crate::membership`]); and, unless either side does not compare them, the same addresses
//! for the nodes both sides list ([`Addresses::common`]): a node that knows fewer nodes is not
//! misconfigured, one that lists a node at another address is. Anything else is refused,
//! counted and logged, naming what differs. The receiver answers every handshake with a
//! [`HandshakeReply`]: a refusal says why, so the dialling node knows it is refused and why,
//! too (and counts its next connection to that peer as up only once the peer accepts it).
//! Every node dials every other, so two nodes started with different founding `--peers`,
//! `--q1` or `--q2` refuse each other's connections on both sides. Every frame is bounded by
//! the frame limit; a frame that is oversized or does not decode, or an envelope whose sender
//! differs from the handshake's, closes that connection with a log line before any of its
//! items is used. The node itself keeps running.
//!
//! **Why a node id need not be in the list** this node was started with: the cluster's
//! members change, and a node that joined (or that a restarted node has not heard of) must be
//! let in, while the founding membership and the cluster id still keep other clusters out.
//! Admitting an id grants nothing the member list ever protected: the protocol core hears
//! protocol messages of its own generation only from members of its configuration (a
//! stranger's are ignored; one of an older generation is answered with `Stale` or, for a
//! `Commit`, learned — as from any node that was once a member), and without TLS any
//! process that reaches the peer port could always claim to be a member anyway. With TLS, only
//! a holder of a certificate of the cluster's CA that names the id it claims gets in, so the
//! cluster's CA — which issues a certificate to a node only when it is to be a member — is
//! what decides who may take part. At most [`NodeId::LIMIT`] peers can ever be learned.
//!
//! **TLS** (when the node runs with `--peer-cert/--peer-key/--peer-ca`): every connection is
//! TLS 1.3 with certificates on both sides, signed by the cluster CA; the dialling node requires
//! the peer's certificate to name the node it dials (`synod-node-<id>`), and the accepting node
//! requires the dialler's certificate to name the node its handshake claims. A connection that
//! is not TLS, or whose certificate fails either test, is refused like a bad handshake: counted
//! in `handshakes_refused`, logged, and closed before any frame of it is read as an item (and
//! before anything of its handshake, its addresses included, is used).
//!
//! Connections are one-way: after the reply to the handshake, a node writes only on connections
//! it opened and reads only on connections it accepted. Every event of a link is reported to the
//! node's [`PeerStatus`] (readiness, `/v1/cluster`, per-peer metrics, and the log lines of a peer
//! that becomes unreachable and reachable again), which learns of every added peer too.

use crate::membership::{Addresses, Membership};
use crate::metrics::Metrics;
use crate::peer_status::PeerStatus;
use crate::replica::Outgoing;
use crate::tls::{certifies_node, PeerTls, SharedPeerTls};
use crate::wire::{self, BatchBuilder, Handshake, HandshakeReply, Item, WireError};
use futures::{SinkExt, StreamExt};
use rustls::pki_types::CertificateDer;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;
use synod_core::NodeId;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_util::codec::{FramedRead, FramedWrite};

/// Transport settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportConfig {
    /// The cluster id sent and required in handshakes.
    pub cluster_id: String,
    /// This node.
    pub node_id: NodeId,
    /// The peer addresses known at the start (this node's included, which is not dialled); the
    /// [`Outbox`] adds to them while the node runs ([`Outbox::add_peer`]).
    pub peers: BTreeMap<NodeId, SocketAddr>,
    /// The founding phase-1 and phase-2 quorum sizes (sent and required in handshakes with the
    /// founding member ids), when [`TransportConfig::founding`] is `None`.
    pub quorums: (usize, usize),
    /// The cluster's founding membership, sent and required in handshakes. `None`: the ids of
    /// `peers` with `quorums` — right for a cluster whose members never changed. A node whose
    /// `peers` are not the founding members (it joined later, or the members changed since)
    /// must set it: `Some(Membership::of(&founding_cluster))`, what its data directory records.
    pub founding: Option<Membership>,
    /// Send the known addresses in handshakes and require peers' to match for the nodes both
    /// list (off where nodes reach each other at different addresses, e.g. through proxies).
    /// Also how a node learns the address of a node it does not know, from its handshake.
    pub check_addresses: bool,
    /// Limit on every frame, both directions.
    pub max_frame: usize,
    /// Items waiting per peer before new ones are dropped.
    pub queue_capacity: usize,
    /// Most envelopes per frame.
    pub max_batch: usize,
    /// How long an inbound connection may take to send its handshake.
    pub handshake_timeout: Duration,
    /// First wait before reconnecting.
    pub reconnect_min: Duration,
    /// Longest wait before reconnecting.
    pub reconnect_max: Duration,
    /// A frame that cannot be written within this time means the connection is dead (a peer
    /// that vanished without closing it): it is dropped and re-dialled.
    pub write_timeout: Duration,
    /// Mutual TLS on every peer connection (`None`: plain TCP).
    pub tls: Option<SharedPeerTls>,
}

/// A peer connection's bytes: plain TCP or TLS.
trait PeerIo: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> PeerIo for T {}

/// The reading half of an outbound connection.
type PeerRead = Box<dyn AsyncRead + Send + Unpin>;

/// The writing half of an outbound connection.
type PeerWrite = Box<dyn AsyncWrite + Send + Unpin>;

/// An accepted connection, read frame by frame.
type Inbound = FramedRead<Box<dyn PeerIo>, tokio_util::codec::LengthDelimitedCodec>;

impl TransportConfig {
    /// Defaults (majority quorums among others) for node `node_id` of `cluster_id` with these
    /// peers.
    pub fn new(cluster_id: &str, node_id: NodeId, peers: BTreeMap<NodeId, SocketAddr>) -> Self {
        let majority = Membership::majority(peers.keys().copied().collect());
        TransportConfig {
            cluster_id: cluster_id.to_owned(),
            node_id,
            peers,
            quorums: (majority.q1, majority.q2),
            founding: None,
            check_addresses: true,
            max_frame: wire::DEFAULT_MAX_FRAME,
            queue_capacity: 4096,
            max_batch: 512,
            handshake_timeout: Duration::from_secs(5),
            reconnect_min: Duration::from_millis(20),
            reconnect_max: Duration::from_secs(1),
            write_timeout: Duration::from_secs(5),
            tls: None,
        }
    }

    /// The cluster's founding membership: [`TransportConfig::founding`], or else the ids of
    /// `peers` with `quorums`. Compared at every handshake; it never changes.
    pub fn membership(&self) -> Membership {
        self.founding.unwrap_or_else(|| Membership {
            members: self.peers.keys().copied().collect(),
            q1: self.quorums.0,
            q2: self.quorums.1,
        })
    }

    /// The peer addresses known at the start (the [`Outbox`] knows the current ones).
    pub fn addresses(&self) -> Addresses {
        addresses_of(&self.peers)
    }

    /// The handshake this node sends while it knows the addresses `book`.
    fn handshake_with(&self, book: &BTreeMap<NodeId, SocketAddr>) -> Handshake {
        let hello = Handshake::new(&self.cluster_id, self.node_id, self.membership());
        if self.check_addresses {
            hello.with_addresses(addresses_of(book))
        } else {
            hello
        }
    }

    /// The handshake this node sends while it knows only the addresses it started with.
    pub fn handshake(&self) -> Handshake {
        self.handshake_with(&self.peers)
    }
}

fn addresses_of(book: &BTreeMap<NodeId, SocketAddr>) -> Addresses {
    Addresses(
        book.iter()
            .map(|(&id, addr)| (id, addr.to_string()))
            .collect(),
    )
}

/// The state of this node's outbound connection to one peer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Link {
    /// A connection is established (its handshake sent) and has not failed.
    pub up: bool,
    /// How many connections were established so far: a change means the one an item was
    /// queued on is gone, even if a new one is up.
    pub connections: u64,
}

/// The sending side: one bounded queue per known peer, and its connection's [`Link`]; the
/// address book; and the [`PeerStatus`] both sides report to. Cheap to clone: every clone is
/// the same outbox, and peers added through one are known to all.
#[derive(Clone, Debug)]
pub struct Outbox {
    routes: Arc<RwLock<HashMap<NodeId, Route>>>,
    shared: Arc<Shared>,
}

/// What the outbound tasks share with the outbox. It holds no queue's sender, so that the tasks
/// end once every clone of the outbox is dropped (their queues close).
#[derive(Debug)]
struct Shared {
    config: TransportConfig,
    /// Every known node's address, this node's included. Taken after `routes` when both are.
    book: RwLock<BTreeMap<NodeId, SocketAddr>>,
    metrics: Arc<Metrics>,
    status: Arc<PeerStatus>,
    /// Where outbound tasks are spawned ([`Outbox::add_peer`] may be called off the runtime).
    runtime: tokio::runtime::Handle,
}

impl Shared {
    /// The handshake for a new connection: with the addresses known now.
    fn handshake(&self) -> bytes::Bytes {
        wire::encode_handshake(&self.config.handshake_with(&read(&self.book)))
    }
}

/// One peer's queue, link and address, as the outbox holds them.
#[derive(Debug)]
struct Route {
    queue: mpsc::Sender<Item>,
    link: watch::Receiver<Link>,
    /// Where its task dials: a change makes it drop its connection and dial the new address.
    address: watch::Sender<SocketAddr>,
}

impl Outbox {
    /// Queues a protocol message; drops and counts it when the peer's queue is full.
    pub fn send(&self, out: Outgoing) {
        self.send_item(out.to, Item::Protocol(out.envelope));
    }

    /// Queues any item; `false` (the item dropped and counted) when the peer's queue is full or
    /// the peer is unknown.
    pub fn send_item(&self, to: NodeId, item: Item) -> bool {
        let routes = read(&self.routes);
        match routes.get(&to) {
            Some(route) => {
                let queued = route.queue.try_send(item).is_ok();
                if !queued {
                    self.shared.metrics.messages_dropped.inc();
                }
                queued
            }
            None => {
                drop(routes);
                tracing::warn!(%to, "no route to node; message dropped");
                false
            }
        }
    }

    /// The state of the connection to `peer` (`None` for this node itself or a node whose
    /// address is not known).
    pub fn link(&self, peer: NodeId) -> Option<watch::Receiver<Link>> {
        read(&self.routes)
            .get(&peer)
            .map(|route| route.link.clone())
    }

    /// What this node knows about its links to each member.
    pub fn peer_status(&self) -> &Arc<PeerStatus> {
        &self.shared.status
    }

    /// The address book: every known node's peer address, this node's included — those it
    /// started with and those added since.
    pub fn peers(&self) -> BTreeMap<NodeId, SocketAddr> {
        read(&self.shared.book).clone()
    }

    /// The address book as a handshake states it.
    pub fn addresses(&self) -> Addresses {
        addresses_of(&read(&self.shared.book))
    }

    /// Makes node `id` reachable at `addr`. An unknown node gets a queue, a [`Link`] and an
    /// outbound task, as the nodes known at the start did, and is reported to the
    /// [`PeerStatus`]; a known one at the same address is left alone; a known one at another
    /// address is dialled there from now on (its current connection, if any, is dropped — what
    /// was in flight on it may be lost, which Paxos tolerates). This node's own id, and ids at
    /// or above [`NodeId::LIMIT`], are ignored. May be called from any thread.
    pub fn add_peer(&self, id: NodeId, addr: SocketAddr) {
        let shared = &self.shared;
        if id == shared.config.node_id || id.0 >= NodeId::LIMIT {
            return;
        }
        let mut routes = write(&self.routes);
        if let Some(route) = routes.get(&id) {
            let old = *route.address.borrow();
            if old != addr {
                shared.status.add_member(id, addr);
                write(&shared.book).insert(id, addr);
                route.address.send_replace(addr);
                tracing::info!(peer = %id, %addr, "node {id} moved from {old} to {addr}");
            }
            return;
        }
        shared.status.add_member(id, addr);
        write(&shared.book).insert(id, addr);
        let route = spawn_outbound(shared, id, addr);
        routes.insert(id, route);
        drop(routes);
        tracing::info!(peer = %id, %addr, "node {id} added at {addr}; dialling it");
    }
}

/// Starts one connection task per peer and returns the outbox that feeds them. Must be called
/// within a Tokio runtime (the tasks of peers added later are spawned on the same one).
pub fn start_outbound(config: &TransportConfig, metrics: Arc<Metrics>) -> Outbox {
    let status = Arc::new(PeerStatus::new(
        config.node_id,
        config.membership(),
        config.addresses(),
        config.check_addresses,
    ));
    let shared = Arc::new(Shared {
        config: config.clone(),
        book: RwLock::new(config.peers.clone()),
        metrics,
        status,
        runtime: tokio::runtime::Handle::current(),
    });
    let routes = config
        .peers
        .iter()
        .filter(|(&peer, _)| peer != config.node_id)
        .map(|(&peer, &addr)| (peer, spawn_outbound(&shared, peer, addr)))
        .collect();
    Outbox {
        routes: Arc::new(RwLock::new(routes)),
        shared,
    }
}

/// Spawns the outbound task of `peer` at `addr`, and returns its route.
fn spawn_outbound(shared: &Arc<Shared>, peer: NodeId, addr: SocketAddr) -> Route {
    let (queue, rx) = mpsc::channel(shared.config.queue_capacity.max(1));
    let (link, watch) = watch::channel(Link::default());
    let (address, dial) = watch::channel(addr);
    shared
        .runtime
        .spawn(outbound(shared.clone(), peer, dial, rx, link));
    Route {
        queue,
        link: watch,
        address,
    }
}

/// Why an outbound connection ended.
#[derive(Debug)]
enum Ended {
    /// The connection failed or the peer closed it.
    Io(std::io::Error),
    /// The peer refused the handshake (reported to the [`PeerStatus`]).
    Refused,
    /// The peer's address changed: it is dialled at the new one.
    Moved,
}

impl From<std::io::Error> for Ended {
    fn from(e: std::io::Error) -> Self {
        Ended::Io(e)
    }
}

/// Resolves when the address `dial` holds changes; never if its outbox is gone (then the queue
/// closes, which ends the task).
async fn moved(dial: &mut watch::Receiver<SocketAddr>) {
    if dial.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Waits `wait`, or less if the peer's address changes meanwhile.
async fn pause(wait: Duration, dial: &mut watch::Receiver<SocketAddr>) {
    tokio::select! {
        () = tokio::time::sleep(wait) => {}
        () = moved(dial) => {}
    }
}

async fn outbound(
    shared: Arc<Shared>,
    peer: NodeId,
    mut dial: watch::Receiver<SocketAddr>,
    mut queue: mpsc::Receiver<Item>,
    link: watch::Sender<Link>,
) {
    let config = &shared.config;
    let (metrics, status) = (&shared.metrics, &shared.status);
    let mut wait = config.reconnect_min;
    // Whether the peer refused the last handshake: then a new connection counts as up only once
    // the peer accepts it, so that nothing (a forwarded request) is sent into a connection the
    // peer is about to refuse again. (Otherwise it counts as up at once: a peer reached through a
    // proxy that relays nothing back never answers.)
    let mut refused = false;
    loop {
        let addr = *dial.borrow_and_update();
        let connected = tokio::select! {
            connected = TcpStream::connect(addr) => Some(connected),
            () = moved(&mut dial) => None,
        };
        let stream = match connected {
            Some(Ok(stream)) => stream,
            Some(Err(e)) => {
                status.connect_failed(peer, &e);
                pause(wait, &mut dial).await;
                wait = (wait * 2).min(config.reconnect_max);
                if queue.is_closed() {
                    return;
                }
                continue;
            }
            None => continue,
        };
        let _ = stream.set_nodelay(true);
        let (read, write) = match open(config, peer, stream).await {
            Ok(halves) => halves,
            Err(e) => {
                status.connect_failed(peer, &e);
                pause(wait, &mut dial).await;
                wait = (wait * 2).min(config.reconnect_max);
                continue;
            }
        };
        let mut framed = FramedWrite::new(write, wire::codec(config.max_frame));
        let mut answers = FramedRead::new(read, wire::codec(config.max_frame));
        if let Err(e) = framed.send(shared.handshake()).await {
            status.connect_failed(peer, &e);
            pause(wait, &mut dial).await;
            continue;
        }
        if refused {
            let answered = tokio::time::timeout(
                config.handshake_timeout,
                read_reply(&mut answers, peer, status),
            )
            .await
            .unwrap_or_else(|_| {
                Err(Ended::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "no answer to the handshake",
                )))
            });
            match answered {
                Ok(()) => refused = false,
                Err(Ended::Refused) => {
                    pause(config.reconnect_max, &mut dial).await;
                    continue;
                }
                Err(Ended::Io(e)) => {
                    status.connect_failed(peer, &e);
                    pause(wait, &mut dial).await;
                    continue;
                }
                Err(Ended::Moved) => continue,
            }
        }
        tracing::debug!(%peer, %addr, "connected to peer");
        link.send_modify(|l| {
            l.up = true;
            l.connections += 1;
        });
        status.outbound_up(peer);
        wait = config.reconnect_min;
        let outcome = tokio::select! {
            outcome = pump(config, peer, &mut queue, &mut framed, answers, metrics, status) => outcome,
            () = moved(&mut dial) => Err(Ended::Moved),
        };
        link.send_modify(|l| l.up = false);
        status.outbound_down(peer);
        match outcome {
            Ok(()) => return,
            // Logged by the status; the peer is asked again after the longest wait.
            Err(Ended::Refused) => {
                refused = true;
                pause(config.reconnect_max, &mut dial).await;
            }
            Err(Ended::Moved) => {
                tracing::info!(%peer, "node {peer} moved to {}: reconnecting", *dial.borrow());
            }
            Err(Ended::Io(e)) => tracing::info!(%peer, "connection to peer lost: {e}"),
        }
    }
}

/// Splits a new outbound connection, after the TLS handshake when TLS is on (the peer's
/// certificate must name `peer`).
async fn open(
    config: &TransportConfig,
    peer: NodeId,
    stream: TcpStream,
) -> std::io::Result<(PeerRead, PeerWrite)> {
    let Some(tls) = &config.tls else {
        let (read, write) = stream.into_split();
        return Ok((Box::new(read), Box::new(write)));
    };
    let connector = tls.0.get().connector.clone();
    let stream = tokio::time::timeout(
        config.handshake_timeout,
        connector.connect(PeerTls::server_name(peer), stream),
    )
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no TLS handshake in time"))?
    .map_err(|e| std::io::Error::new(e.kind(), format!("TLS: {e}")))?;
    let (read, write) = tokio::io::split(stream);
    Ok((Box::new(read), Box::new(write)))
}

type Answers = FramedRead<PeerRead, tokio_util::codec::LengthDelimitedCodec>;

/// Reads the peer's next frame on a connection this node opened — the peer writes only its one
/// reply to the handshake there — and reports it: `Ok` if it accepted the handshake, `Err` if it
/// refused it, wrote something else, or the connection ended.
async fn read_reply(answers: &mut Answers, peer: NodeId, status: &PeerStatus) -> Result<(), Ended> {
    let frame = match answers.next().await {
        Some(Ok(frame)) => frame,
        Some(Err(e)) => return Err(Ended::Io(e)),
        None => {
            return Err(Ended::Io(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "the peer closed the connection",
            )))
        }
    };
    match wire::decode_reply(&frame) {
        Ok(HandshakeReply::Accepted) => {
            status.accepted_by(peer);
            Ok(())
        }
        Ok(HandshakeReply::Refused(reason)) => {
            status.refused_by(peer, reason);
            Err(Ended::Refused)
        }
        Err(e) => Err(Ended::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the peer wrote something else than a handshake reply: {e}"),
        ))),
    }
}

/// Reads what the peer writes on a connection this node opened until the connection ends, and
/// says why it ended.
async fn replies(mut answers: Answers, peer: NodeId, status: &PeerStatus) -> Ended {
    loop {
        if let Err(ended) = read_reply(&mut answers, peer, status).await {
            return ended;
        }
    }
}

/// Sends batches from the queue until it closes (Ok) or the connection fails, the peer closes
/// it or refuses the handshake (Err).
async fn pump(
    config: &TransportConfig,
    peer: NodeId,
    queue: &mut mpsc::Receiver<Item>,
    framed: &mut FramedWrite<PeerWrite, tokio_util::codec::LengthDelimitedCodec>,
    answers: Answers,
    metrics: &Metrics,
    status: &PeerStatus,
) -> Result<(), Ended> {
    let mut batch = BatchBuilder::new();
    let mut closed = std::pin::pin!(replies(answers, peer, status));
    loop {
        let first = tokio::select! {
            first = queue.recv() => first,
            ended = &mut closed => return Err(ended),
        };
        let Some(first) = first else { return Ok(()) };
        let mut next = Some(first);
        while let Some(item) = next.take() {
            let encoded = wire::encode_item(&item);
            if BatchBuilder::new().size_with(encoded.len()) > config.max_frame {
                metrics.messages_dropped.inc();
                tracing::warn!(
                    size = encoded.len(),
                    "message larger than the frame limit dropped"
                );
            } else {
                if batch.size_with(encoded.len()) > config.max_frame {
                    send_frame(config, framed, batch.finish(), metrics).await?;
                    status.frame_sent(peer);
                }
                batch.push(&encoded);
            }
            if batch.len() < config.max_batch {
                next = queue.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            send_frame(config, framed, batch.finish(), metrics).await?;
            status.frame_sent(peer);
        }
    }
}

async fn send_frame(
    config: &TransportConfig,
    framed: &mut FramedWrite<PeerWrite, tokio_util::codec::LengthDelimitedCodec>,
    frame: bytes::Bytes,
    metrics: &Metrics,
) -> std::io::Result<()> {
    tokio::time::timeout(config.write_timeout, framed.send(frame))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "write timed out"))??;
    metrics.frames_sent.inc();
    Ok(())
}

/// Where accepted peers' items go: the node (protocol envelopes to its runtime, forwarded
/// requests and answers to its forwarding). A trait, so that the transport (whose [`Outbox`]
/// the runtime sends through) does not depend on the runtime in turn.
pub trait Inbox: Clone + Send + Sync + 'static {
    /// Hands `items` on, waiting while the receiver is behind; `Err` once it has stopped.
    fn deliver(
        &self,
        items: Vec<Item>,
    ) -> impl std::future::Future<Output = Result<(), InboxClosed>> + Send;

    /// The node's metrics (frames received, malformed, refused handshakes).
    fn metrics(&self) -> &Arc<Metrics>;

    /// What the node knows about its links to each member.
    fn peer_status(&self) -> &Arc<PeerStatus>;
}

/// The [`Inbox`] has stopped taking items (the replica stopped).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InboxClosed;

/// Accepts peer connections on `listener` forever, delivering their items to `inbox`: the
/// handshakes are judged against the founding membership and the current address book of
/// `outbox` (the node's own, from [`start_outbound`]), and every accepted node this node has no
/// link to is added to it ([`Outbox::add_peer`]) at the address its handshake states for
/// itself, so that this node dials it back.
pub async fn serve_peers(listener: TcpListener, outbox: Outbox, inbox: impl Inbox) {
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let outbox = outbox.clone();
        let inbox = inbox.clone();
        tokio::spawn(async move {
            if let Err(e) = inbound(stream, remote, &outbox, &inbox).await {
                tracing::warn!(%remote, "peer connection closed: {e}");
            }
        });
    }
}

/// After `hello` was accepted: if this node has no link to its node, adds that node at the
/// address the handshake states for it (if it states one), so that this node dials it back.
fn learn(outbox: &Outbox, hello: &Handshake) {
    let peer = hello.node_id;
    if outbox.link(peer).is_some() {
        return;
    }
    let stated = hello.addresses.as_ref().and_then(|a| a.0.get(&peer));
    match stated.map(|address| (address, address.parse::<SocketAddr>())) {
        Some((_, Ok(addr))) => outbox.add_peer(peer, addr),
        Some((address, Err(e))) => tracing::warn!(
            %peer,
            "node {peer} connected and states its address as {address:?}, which is not an address ({e}); it is not dialled back"
        ),
        None => tracing::warn!(
            %peer,
            "node {peer} connected without stating its address (it does not compare addresses); it is not dialled back until its address is added here"
        ),
    }
}

/// Why an inbound connection was closed.
#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    /// No handshake in time, or the connection ended first.
    #[error("no handshake received")]
    NoHandshake,
    /// The handshake names another cluster.
    #[error("refused: handshake from cluster {0:?}")]
    WrongCluster(String),
    /// The handshake names this node itself, or an id no cluster can contain (at or above
    /// [`NodeId::LIMIT`]). Any other id is let in: members are added while the cluster runs.
    #[error("refused: handshake from node {0}, which is this node itself or not a valid node id (ids are below {limit})", limit = NodeId::LIMIT)]
    UnknownNode(NodeId),
    /// The peer's cluster was founded with other member ids or quorum sizes.
    #[error("refused: node {peer} runs with {theirs}, this node with {ours} ({differences}); every node must be started with the same --peers ids, --q1 and --q2")]
    WrongMembership {
        /// The node the handshake names.
        peer: NodeId,
        /// The peer's founding membership.
        theirs: Membership,
        /// This node's.
        ours: Membership,
        /// What differs, in words.
        differences: String,
    },
    /// The peer lists a node both know at another address. Both lists are cut down to the
    /// nodes both list ([`Addresses::common`]).
    #[error("refused: node {peer} lists other peer addresses than this node ({}); every node must be started with the same --peers (or with --check-addresses off where nodes reach each other at different addresses)", .ours.differences(.theirs, "here", "there"))]
    WrongAddresses {
        /// The node the handshake names.
        peer: NodeId,
        /// The peer's addresses of the nodes both list.
        theirs: Addresses,
        /// This node's addresses of the nodes both list.
        ours: Addresses,
    },
    /// The bytes were not valid.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// A frame was oversized or the socket failed.
    #[error("bad frame or i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// An item claimed another sender than the handshake.
    #[error("item from node {claimed} on the connection of node {peer}")]
    Spoofed {
        /// The handshake's node.
        peer: NodeId,
        /// The item's `from`.
        claimed: NodeId,
    },
    /// The replica stopped.
    #[error("replica stopped")]
    Stopped,
    /// The TLS handshake failed (not TLS, a certificate of another CA, none at all, or none in
    /// time).
    #[error("refused: TLS handshake failed: {0}")]
    Tls(String),
    /// The peer's certificate does not name the node its handshake claims.
    #[error("refused: the handshake claims node {claimed}, but the peer's certificate does not name {}", crate::tls::node_name(*.claimed))]
    NotCertified {
        /// The node the handshake names.
        claimed: NodeId,
    },
}

impl InboundError {
    /// The refusal as the refused node is told it (a [`HandshakeReply::Refused`]): both nodes
    /// named, no "here" and "there".
    fn told(&self, config: &TransportConfig) -> String {
        let me = config.node_id;
        let on = |node: NodeId| format!("on node {node}");
        match self {
            InboundError::WrongCluster(theirs) => format!(
                "node {me} belongs to cluster {:?}, not {theirs:?}",
                config.cluster_id
            ),
            InboundError::UnknownNode(node) if *node == me => {
                format!("node {me} refused a handshake claiming to be node {me} itself")
            }
            InboundError::UnknownNode(node) => format!(
                "node {me} refused node {node}: node ids are below {}",
                NodeId::LIMIT
            ),
            InboundError::WrongMembership {
                peer, theirs, ours, ..
            } => format!(
                "node {me} runs with {ours}, node {peer} with {theirs} ({}); every node must be started with the same --peers ids, --q1 and --q2",
                ours.differences(theirs, &on(me), &on(*peer))
            ),
            InboundError::WrongAddresses { peer, theirs, ours } => format!(
                "node {me} and node {peer} list other peer addresses ({}); every node must be started with the same --peers (or with --check-addresses off where nodes reach each other at different addresses)",
                ours.differences(theirs, &on(me), &on(*peer))
            ),
            other => format!("node {me} refused the handshake: {other}"),
        }
    }
}

async fn inbound(
    stream: TcpStream,
    remote: SocketAddr,
    outbox: &Outbox,
    inbox: &impl Inbox,
) -> Result<(), InboundError> {
    let config = &outbox.shared.config;
    let metrics = inbox.metrics().clone();
    let status = inbox.peer_status().clone();
    let (stream, cert) = match secure(stream, config).await {
        Ok(secured) => secured,
        Err(e) => {
            metrics.handshakes_refused.inc();
            status.refused(None, remote, &e, e.to_string());
            return Ok(());
        }
    };
    let mut frames = FramedRead::new(stream, wire::codec(config.max_frame));
    let admitted = match handshake(&mut frames, config).await {
        Ok(hello) => match &cert {
            Some(cert) if !certifies_node(cert, hello.node_id) => Err((
                Some(hello.node_id),
                InboundError::NotCertified {
                    claimed: hello.node_id,
                },
            )),
            _ => admit(&hello, config, &outbox.addresses())
                .inspect(|_| learn(outbox, &hello))
                .map_err(|e| (Some(hello.node_id), e)),
        },
        Err(e) => Err((None, e)),
    };
    let peer = match admitted {
        Ok(peer) => peer,
        Err((claimed, e)) => {
            metrics.handshakes_refused.inc();
            let told = e.told(config);
            status.refused(claimed, remote, &e, told.clone());
            if !matches!(e, InboundError::NoHandshake) {
                // Best effort: the connection is closed either way.
                let _ = reply(&mut frames, config, &HandshakeReply::Refused(told)).await;
            }
            return Ok(());
        }
    };
    reply(&mut frames, config, &HandshakeReply::Accepted).await?;
    let _open = status.inbound_opened(peer);
    tracing::info!(%peer, "peer connected");
    while let Some(frame) = frames.next().await {
        let items = frame
            .map_err(InboundError::from)
            .and_then(|frame| Ok(wire::decode_frame(&frame)?))
            .and_then(|items| match items.iter().find(|i| i.from() != peer) {
                Some(item) => Err(InboundError::Spoofed {
                    peer,
                    claimed: item.from(),
                }),
                None => Ok(items),
            });
        match items {
            Ok(items) => {
                metrics.frames_received.inc();
                status.frame_received(peer);
                inbox
                    .deliver(items)
                    .await
                    .map_err(|_| InboundError::Stopped)?;
            }
            Err(e) => {
                metrics.frames_malformed.inc();
                return Err(e);
            }
        }
    }
    Ok(())
}

/// The accepted connection as the node reads it: after the TLS handshake when TLS is on, with the
/// certificate the peer presented (the verifier has checked it chains to the cluster CA).
async fn secure(
    stream: TcpStream,
    config: &TransportConfig,
) -> Result<(Box<dyn PeerIo>, Option<CertificateDer<'static>>), InboundError> {
    let Some(tls) = &config.tls else {
        return Ok((Box::new(stream), None));
    };
    let acceptor = tls.0.get().acceptor.clone();
    let stream = tokio::time::timeout(config.handshake_timeout, acceptor.accept(stream))
        .await
        .map_err(|_| InboundError::Tls("none in time".into()))?
        .map_err(|e| InboundError::Tls(e.to_string()))?;
    let cert = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|certs| certs.first())
        .cloned()
        .ok_or_else(|| InboundError::Tls("the peer presented no certificate".into()))?;
    Ok((Box::new(stream), Some(cert)))
}

/// Writes the one reply to a handshake on an accepted connection.
async fn reply(
    frames: &mut Inbound,
    config: &TransportConfig,
    reply: &HandshakeReply,
) -> std::io::Result<()> {
    let mut out = FramedWrite::new(frames.get_mut(), wire::codec(config.max_frame));
    tokio::time::timeout(config.write_timeout, out.send(wire::encode_reply(reply)))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "write timed out"))?
}

/// Reads and decodes the first frame of an accepted connection.
async fn handshake(
    frames: &mut Inbound,
    config: &TransportConfig,
) -> Result<Handshake, InboundError> {
    let first = tokio::time::timeout(config.handshake_timeout, frames.next())
        .await
        .map_err(|_| InboundError::NoHandshake)?
        .ok_or(InboundError::NoHandshake)??;
    Ok(wire::decode_handshake(&first)?)
}

/// Judges a handshake, this node knowing the addresses `known`: the node it names, if it is
/// accepted. The same cluster id and founding membership are required, and an id other than
/// this node's that a cluster may contain (not necessarily a node known here: see the module
/// documentation); the addresses are compared for the nodes both list.
fn admit(
    hello: &Handshake,
    config: &TransportConfig,
    known: &Addresses,
) -> Result<NodeId, InboundError> {
    if hello.cluster_id != config.cluster_id {
        return Err(InboundError::WrongCluster(hello.cluster_id.clone()));
    }
    let ours = config.membership();
    if hello.membership != ours {
        return Err(InboundError::WrongMembership {
            peer: hello.node_id,
            differences: ours.differences(&hello.membership, "here", "there"),
            theirs: hello.membership,
            ours,
        });
    }
    if hello.node_id == config.node_id || hello.node_id.0 >= NodeId::LIMIT {
        return Err(InboundError::UnknownNode(hello.node_id));
    }
    if let (true, Some(theirs)) = (config.check_addresses, &hello.addresses) {
        let (ours, theirs) = (known.common(theirs), theirs.common(known));
        if theirs != ours {
            return Err(InboundError::WrongAddresses {
                peer: hello.node_id,
                theirs,
                ours,
            });
        }
    }
    Ok(hello.node_id)
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Envelope;
    use bytes::Bytes;
    use synod_core::{Ballot, Configuration, Message};

    fn envelope(i: u64) -> Envelope {
        Envelope {
            from: NodeId(1),
            key: Bytes::from(format!("key-{i}")),
            msg: Message::Prepare {
                ballot: Ballot::new(i, NodeId(1)),
            },
        }
    }

    #[tokio::test]
    async fn queued_messages_share_frames_within_the_limit_and_overflow_is_dropped() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peers = BTreeMap::from([
            (NodeId(1), "127.0.0.1:1".parse().unwrap()),
            (NodeId(2), listener.local_addr().unwrap()),
        ]);
        let mut config = TransportConfig::new("c", NodeId(1), peers);
        config.max_frame = 256;
        config.queue_capacity = 60;
        let metrics = Arc::new(Metrics::default());
        let outbox = start_outbound(&config, metrics.clone());
        // Queue everything before the connection is accepted: 60 fit, 20 are dropped.
        for i in 0..80 {
            outbox.send(Outgoing {
                to: NodeId(2),
                envelope: envelope(i),
            });
        }
        assert_eq!(metrics.messages_dropped.get(), 20);
        let (stream, _) = listener.accept().await.unwrap();
        let mut frames = FramedRead::new(stream, wire::codec(config.max_frame));
        let hello = wire::decode_handshake(&frames.next().await.unwrap().unwrap()).unwrap();
        assert_eq!(
            hello,
            Handshake::new("c", NodeId(1), config.membership()).with_addresses(config.addresses())
        );
        let mut received = Vec::new();
        let mut frame_count = 0;
        while received.len() < 60 {
            let frame = frames.next().await.unwrap().unwrap();
            assert!(frame.len() <= config.max_frame);
            received.extend(wire::decode_batch(&frame).unwrap());
            frame_count += 1;
        }
        assert_eq!(
            received,
            (0..60).map(envelope).collect::<Vec<_>>(),
            "in order"
        );
        assert!(
            frame_count < 60 && frame_count > 1,
            "batched, and split at the frame limit ({frame_count} frames)"
        );
    }

    #[test]
    fn handshakes_listing_other_addresses_are_refused_naming_the_difference() {
        let peers = |third: &str| {
            BTreeMap::from([
                (NodeId(1), "127.0.0.1:7001".parse().unwrap()),
                (NodeId(2), "127.0.0.1:7002".parse().unwrap()),
                (NodeId(3), third.parse().unwrap()),
            ])
        };
        let mut ours = TransportConfig::new("c", NodeId(1), peers("127.0.0.1:7003"));
        let mut theirs = TransportConfig::new("c", NodeId(2), peers("127.0.0.1:9003"));
        let err = admit(&theirs.handshake(), &ours, &ours.addresses()).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "refused: node 2 lists other peer addresses than this node (node 3 at \
                 127.0.0.1:7003 here, at 127.0.0.1:9003 there)"
            ),
            "{err}"
        );
        assert_eq!(
            err.told(&ours),
            "node 1 and node 2 list other peer addresses (node 3 at 127.0.0.1:7003 on node 1, \
             at 127.0.0.1:9003 on node 2); every node must be started with the same --peers (or \
             with --check-addresses off where nodes reach each other at different addresses)"
        );
        // Same addresses: accepted. A handshake stating none, or a receiver that does not
        // compare them: accepted.
        let same = TransportConfig::new("c", NodeId(2), peers("127.0.0.1:7003"));
        assert_eq!(
            admit(&same.handshake(), &ours, &ours.addresses()).unwrap(),
            NodeId(2)
        );
        theirs.check_addresses = false;
        assert_eq!(theirs.handshake().addresses, None);
        assert_eq!(
            admit(&theirs.handshake(), &ours, &ours.addresses()).unwrap(),
            NodeId(2)
        );
        theirs.check_addresses = true;
        ours.check_addresses = false;
        assert_eq!(
            admit(&theirs.handshake(), &ours, &ours.addresses()).unwrap(),
            NodeId(2)
        );
    }

    #[tokio::test]
    async fn after_a_refusal_a_connection_counts_as_up_only_once_the_peer_accepts() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peers = BTreeMap::from([
            (NodeId(1), "127.0.0.1:1".parse().unwrap()),
            (NodeId(2), listener.local_addr().unwrap()),
        ]);
        let mut config = TransportConfig::new("c", NodeId(1), peers);
        config.reconnect_max = Duration::from_millis(20);
        let outbox = start_outbound(&config, Arc::new(Metrics::default()));
        let mut link = outbox.link(NodeId(2)).unwrap();
        let accept = || async {
            let (stream, _) = listener.accept().await.unwrap();
            let mut framed = tokio_util::codec::Framed::new(stream, wire::codec(1 << 16));
            wire::decode_handshake(&framed.next().await.unwrap().unwrap()).unwrap();
            framed
        };
        // Refused: the first connection was up (nothing told otherwise yet), and is down.
        let mut first = accept().await;
        let refusal = HandshakeReply::Refused("node 2 runs with …".into());
        first.send(wire::encode_reply(&refusal)).await.unwrap();
        link.wait_for(|l| l.connections == 1 && !l.up)
            .await
            .unwrap();
        let refused = outbox.peer_status().members()[1].refused.clone();
        assert_eq!(
            refused.as_deref(),
            Some("node 2 refuses this node: node 2 runs with …")
        );
        // A connection the peer closes without answering never counts as up...
        drop(accept().await);
        // ...and one it accepts does.
        let mut third = accept().await;
        third
            .send(wire::encode_reply(&HandshakeReply::Accepted))
            .await
            .unwrap();
        let up = *link.wait_for(|l| l.up).await.unwrap();
        assert_eq!(up.connections, 2, "the unanswered connection never counted");
        assert_eq!(outbox.peer_status().members()[1].refused, None);
    }

    #[tokio::test]
    async fn the_link_is_up_while_connected_and_down_as_soon_as_the_peer_closes() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peers = BTreeMap::from([
            (NodeId(1), "127.0.0.1:1".parse().unwrap()),
            (NodeId(2), listener.local_addr().unwrap()),
        ]);
        let config = TransportConfig::new("c", NodeId(1), peers);
        let outbox = start_outbound(&config, Arc::new(Metrics::default()));
        assert!(outbox.link(NodeId(1)).is_none(), "no link to itself");
        let mut link = outbox.link(NodeId(2)).unwrap();
        assert!(!link.borrow().up, "down until connected");
        let (stream, _) = listener.accept().await.unwrap();
        let up = *link.wait_for(|l| l.up).await.unwrap();
        assert_eq!(up.connections, 1);
        // The peer goes away while this node has nothing to send: noticed all the same.
        drop(stream);
        link.wait_for(|l| !l.up).await.unwrap();
        let (_again, _) = listener.accept().await.unwrap();
        let up = *link.wait_for(|l| l.up).await.unwrap();
        assert_eq!(
            up.connections, 2,
            "a new connection is told apart from the old one"
        );
    }

    /// What the node under test received, for the tests that run its inbound side.
    #[derive(Clone)]
    struct Collect {
        items: mpsc::Sender<Vec<Item>>,
        metrics: Arc<Metrics>,
        status: Arc<PeerStatus>,
    }

    impl Inbox for Collect {
        async fn deliver(&self, items: Vec<Item>) -> Result<(), InboxClosed> {
            self.items.send(items).await.map_err(|_| InboxClosed)
        }

        fn metrics(&self) -> &Arc<Metrics> {
            &self.metrics
        }

        fn peer_status(&self) -> &Arc<PeerStatus> {
            &self.status
        }
    }

    /// `future`, or a failure naming `what` after 10 s (instead of a test that hangs).
    async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
        tokio::time::timeout(Duration::from_secs(10), future)
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
    }

    /// Node 1 of the cluster founded as {1, 2, 3} (nodes 2 and 3 unreachable), running its
    /// outbound and inbound sides: its outbox, its peer address, its metrics and what it
    /// receives.
    async fn node1(
        check_addresses: bool,
    ) -> (Outbox, SocketAddr, Arc<Metrics>, mpsc::Receiver<Vec<Item>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let peers = BTreeMap::from([
            (NodeId(1), addr),
            (NodeId(2), "127.0.0.1:1".parse().unwrap()),
            (NodeId(3), "127.0.0.1:2".parse().unwrap()),
        ]);
        let mut config = TransportConfig::new("c", NodeId(1), peers);
        config.check_addresses = check_addresses;
        let metrics = Arc::new(Metrics::default());
        let outbox = start_outbound(&config, metrics.clone());
        let (items, received) = mpsc::channel(16);
        let inbox = Collect {
            items,
            metrics: metrics.clone(),
            status: outbox.peer_status().clone(),
        };
        tokio::spawn(serve_peers(listener, outbox.clone(), inbox));
        (outbox, addr, metrics, received)
    }

    /// The founding membership of [`node1`]'s cluster.
    fn founding() -> Membership {
        Membership::majority([1, 2, 3].into_iter().map(NodeId).collect())
    }

    fn addresses(entries: &[(u8, SocketAddr)]) -> Addresses {
        Addresses(
            entries
                .iter()
                .map(|&(id, addr)| (NodeId(id), addr.to_string()))
                .collect(),
        )
    }

    type Connection = tokio_util::codec::Framed<TcpStream, tokio_util::codec::LengthDelimitedCodec>;

    /// Dials `to`, sends `hello` and returns the answer, with the connection (open if accepted).
    async fn knock(to: SocketAddr, hello: &Handshake) -> (HandshakeReply, Connection) {
        let stream = TcpStream::connect(to).await.unwrap();
        let mut framed = tokio_util::codec::Framed::new(stream, wire::codec(1 << 16));
        framed.send(wire::encode_handshake(hello)).await.unwrap();
        let reply = within("the handshake reply", framed.next()).await;
        (
            wire::decode_reply(&reply.unwrap().unwrap()).unwrap(),
            framed,
        )
    }

    /// Accepts the next connection on `listener` and reads its handshake.
    async fn accept(listener: &TcpListener) -> (Handshake, Connection) {
        let (stream, _) = within("a connection", listener.accept()).await.unwrap();
        let mut framed = tokio_util::codec::Framed::new(stream, wire::codec(1 << 16));
        let first = within("a handshake", framed.next()).await.unwrap().unwrap();
        (wire::decode_handshake(&first).unwrap(), framed)
    }

    /// Reads frames on `connection` until one holds items, and returns them.
    async fn items(connection: &mut Connection) -> Vec<Item> {
        let frame = within("a frame of items", connection.next()).await;
        wire::decode_frame(&frame.unwrap().unwrap()).unwrap()
    }

    fn prepare(from: u8, id: u64) -> Envelope {
        Envelope {
            from: NodeId(from),
            key: Bytes::from(format!("key-{id}")),
            msg: Message::Prepare {
                ballot: Ballot::new(id, NodeId(from)),
            },
        }
    }

    fn item(from: u8, id: u64) -> Item {
        Item::Protocol(prepare(from, id))
    }

    #[tokio::test]
    async fn a_node_that_joined_is_accepted_learned_and_dialled_back() {
        let (outbox, addr1, metrics, mut received) = node1(true).await;
        assert!(
            outbox.link(NodeId(4)).is_none(),
            "node 4 is unknown at first"
        );
        // Node 4 joined the cluster founded as {1, 2, 3}: it states that founding membership,
        // and knows only node 1's address and its own (fewer nodes than node 1 knows).
        let listener4 = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr4 = listener4.local_addr().unwrap();
        let hello4 = Handshake::new("c", NodeId(4), founding())
            .with_addresses(addresses(&[(1, addr1), (4, addr4)]));
        let (reply, mut from4) = knock(addr1, &hello4).await;
        assert_eq!(reply, HandshakeReply::Accepted);
        // Its items are delivered.
        from4
            .send(wire::encode_batch(&[prepare(4, 7)]))
            .await
            .unwrap();
        let got = within("node 4's items", received.recv()).await.unwrap();
        assert_eq!(got, vec![item(4, 7)]);
        // Node 1 learned node 4's address and dials it, stating the address book it has now.
        assert_eq!(outbox.peers().get(&NodeId(4)), Some(&addr4));
        let (hello1, mut to4) = accept(&listener4).await;
        assert_eq!(hello1.node_id, NodeId(1));
        assert_eq!(
            hello1.membership,
            founding(),
            "the founding membership, always"
        );
        let book = hello1.addresses.clone().unwrap();
        assert_eq!(book.0.get(&NodeId(4)), Some(&addr4.to_string()));
        assert_eq!(book.0.len(), 4, "nodes 1 to 4: {book:?}");
        let mut link = outbox.link(NodeId(4)).unwrap();
        let up = *within("the link to node 4", link.wait_for(|l| l.up))
            .await
            .unwrap();
        assert_eq!(up.connections, 1);
        // What node 1 sends to node 4 arrives.
        assert!(outbox.send_item(NodeId(4), item(1, 8)));
        assert_eq!(items(&mut to4).await, vec![item(1, 8)]);
        // Node 4 is a member in node 1's view: `/v1/cluster` lists it, connected both ways.
        let status = outbox.peer_status();
        let view = status.members();
        let four = view.iter().find(|m| m.id == 4).expect("node 4 listed");
        assert_eq!(four.address, addr4.to_string());
        assert!(four.connected && four.inbound && four.outbound, "{four:?}");
        assert!(status.membership().members.iter().any(|m| m.id == 4));
        // Once node 4 replaced node 3, nodes 1 and 4 are a quorum; in the founding
        // configuration, node 4 counts for nothing.
        let replaced =
            Configuration::stable(4, [1, 2, 4].map(NodeId).into_iter().collect()).unwrap();
        assert!(status.readiness_in(&replaced).ready);
        assert!(!status.readiness().ready);
        assert_eq!(metrics.handshakes_refused.get(), 0);
        // Node 1 now compares node 4's address too: a node 5 that lists node 4 elsewhere is
        // refused, and is not learned.
        let elsewhere: SocketAddr = "127.0.0.1:3".parse().unwrap();
        let hello5 = Handshake::new("c", NodeId(5), founding()).with_addresses(addresses(&[
            (1, addr1),
            (4, elsewhere),
            (5, elsewhere),
        ]));
        let (reply, _) = knock(addr1, &hello5).await;
        let HandshakeReply::Refused(why) = reply else {
            panic!("node 5 accepted")
        };
        assert!(
            why.contains(&format!(
                "node 4 at {addr4} on node 1, at {elsewhere} on node 5"
            )),
            "{why}"
        );
        assert!(outbox.link(NodeId(5)).is_none());
        assert_eq!(metrics.handshakes_refused.get(), 1);
    }

    #[tokio::test]
    async fn another_cluster_or_founding_membership_or_an_impossible_id_is_refused_and_counted() {
        let (outbox, addr1, metrics, _received) = node1(true).await;
        let own = "127.0.0.1:5".parse().unwrap();
        let stating = |hello: Handshake, id: u8| hello.with_addresses(addresses(&[(id, own)]));
        let four = Membership::majority([1, 2, 3, 4].into_iter().map(NodeId).collect());
        let cases = [
            (
                stating(Handshake::new("other", NodeId(4), founding()), 4),
                "belongs to cluster \"c\", not \"other\"",
            ),
            (
                stating(Handshake::new("c", NodeId(4), four), 4),
                "node 1 runs with members {1, 2, 3} with q1=2, q2=2, node 4 with members \
                 {1, 2, 3, 4} with q1=3, q2=3",
            ),
            (
                stating(Handshake::new("c", NodeId(1), founding()), 1),
                "claiming to be node 1 itself",
            ),
            (
                stating(Handshake::new("c", NodeId(NodeId::LIMIT), founding()), 64),
                "node ids are below 64",
            ),
        ];
        for (n, (hello, expected)) in cases.into_iter().enumerate() {
            let (reply, mut connection) = knock(addr1, &hello).await;
            match reply {
                HandshakeReply::Refused(why) => assert!(why.contains(expected), "{why}"),
                HandshakeReply::Accepted => panic!("{hello:?} accepted"),
            }
            assert!(
                within("the refused connection to close", connection.next())
                    .await
                    .is_none(),
                "closed after the refusal"
            );
            assert_eq!(metrics.handshakes_refused.get(), n as u64 + 1);
        }
        // Nothing was learned from a refused handshake.
        assert_eq!(outbox.peers().len(), 3);
        assert!(outbox.link(NodeId(4)).is_none());
        let strangers = outbox.peer_status().strangers();
        assert_eq!(strangers.len(), 3, "{strangers:?}");
    }

    #[tokio::test]
    async fn a_peer_added_at_runtime_gets_items_and_follows_a_new_address() {
        let config = TransportConfig::new(
            "c",
            NodeId(1),
            BTreeMap::from([(NodeId(1), "127.0.0.1:1".parse().unwrap())]),
        );
        let outbox = start_outbound(&config, Arc::new(Metrics::default()));
        assert!(!outbox.send_item(NodeId(2), item(1, 0)), "no route yet");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Added from another thread (as a runtime thread would): a route at once.
        let adder = outbox.clone();
        std::thread::spawn(move || adder.add_peer(NodeId(2), addr))
            .join()
            .unwrap();
        assert!(outbox.send_item(NodeId(2), item(1, 1)));
        let (hello, mut first) = accept(&listener).await;
        assert_eq!(hello.node_id, NodeId(1));
        assert_eq!(
            hello.addresses.unwrap().0.get(&NodeId(2)),
            Some(&addr.to_string())
        );
        assert_eq!(items(&mut first).await, vec![item(1, 1)]);
        let mut link = outbox.link(NodeId(2)).unwrap();
        within("the link", link.wait_for(|l| l.up)).await.unwrap();
        assert_eq!(
            outbox.peer_status().members()[1].address,
            addr.to_string(),
            "reported to the status"
        );
        // The same address again: nothing changes (no new connection, the same link).
        outbox.add_peer(NodeId(2), addr);
        assert!(outbox.send_item(NodeId(2), item(1, 2)));
        assert_eq!(items(&mut first).await, vec![item(1, 2)]);
        assert_eq!(link.borrow().connections, 1);
        // Its own id and impossible ids are ignored.
        outbox.add_peer(NodeId(1), addr);
        outbox.add_peer(NodeId(NodeId::LIMIT), addr);
        assert_eq!(outbox.peers().len(), 2);
        assert!(outbox.link(NodeId(1)).is_none());
        // A new address: the old connection is dropped, the new address dialled.
        let moved = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let new_addr = moved.local_addr().unwrap();
        outbox.add_peer(NodeId(2), new_addr);
        assert!(
            within("the old connection to close", first.next())
                .await
                .is_none(),
            "the old connection was closed"
        );
        let (_, mut second) = accept(&moved).await;
        within(
            "the new link",
            link.wait_for(|l| l.up && l.connections == 2),
        )
        .await
        .unwrap();
        assert!(outbox.send_item(NodeId(2), item(1, 3)));
        assert_eq!(items(&mut second).await, vec![item(1, 3)]);
        assert_eq!(outbox.peers()[&NodeId(2)], new_addr);
        assert_eq!(
            outbox.peer_status().members()[1].address,
            new_addr.to_string()
        );
    }

    #[test]
    fn addresses_are_compared_for_the_nodes_both_list() {
        let at = |port: u16| -> SocketAddr { format!("127.0.0.1:{port}").parse().unwrap() };
        let ours = TransportConfig::new(
            "c",
            NodeId(1),
            BTreeMap::from([
                (NodeId(1), at(7001)),
                (NodeId(2), at(7002)),
                (NodeId(3), at(7003)),
            ]),
        );
        let known = ours.addresses();
        let from = |id: u8, entries: &[(u8, SocketAddr)]| {
            Handshake::new("c", NodeId(id), founding()).with_addresses(addresses(entries))
        };
        // Node 3 lists node 2 elsewhere: refused, naming only what differs.
        let elsewhere = from(3, &[(1, at(7001)), (2, at(9002)), (3, at(7003))]);
        let err = admit(&elsewhere, &ours, &known).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "refused: node 3 lists other peer addresses than this node (node 2 at \
                 127.0.0.1:7002 here, at 127.0.0.1:9002 there)"
            ),
            "{err}"
        );
        // Even when it lists fewer nodes otherwise.
        let fewer_but_wrong = from(3, &[(2, at(9002)), (3, at(7003))]);
        assert!(admit(&fewer_but_wrong, &ours, &known).is_err());
        // A node that knows fewer nodes, or more (a new node 4), agrees on the rest: accepted.
        let fewer = from(3, &[(1, at(7001)), (3, at(7003))]);
        assert_eq!(admit(&fewer, &ours, &known).unwrap(), NodeId(3));
        let more = from(4, &[(1, at(7001)), (2, at(7002)), (4, at(7004))]);
        assert_eq!(admit(&more, &ours, &known).unwrap(), NodeId(4));
        // Any id below the limit with the same cluster and founding membership is accepted;
        // another founding membership is not, even from a node known here.
        let stranger = Handshake::new("c", NodeId(63), founding());
        assert_eq!(admit(&stranger, &ours, &known).unwrap(), NodeId(63));
        let refounded = Handshake::new(
            "c",
            NodeId(2),
            Membership::majority([1, 2].into_iter().map(NodeId).collect()),
        );
        assert!(matches!(
            admit(&refounded, &ours, &known),
            Err(InboundError::WrongMembership { .. })
        ));
    }

    #[test]
    fn the_founding_membership_is_stated_whatever_the_peers() {
        // A node that joined: its peers are {1, 2, 3, 4}, its cluster was founded as {1, 2, 3}.
        let peers = (1..=4)
            .map(|i| (NodeId(i), format!("127.0.0.1:700{i}").parse().unwrap()))
            .collect();
        let mut config = TransportConfig::new("c", NodeId(4), peers);
        assert_eq!(
            config.membership().members.len(),
            4,
            "by default, the peers"
        );
        config.founding = Some(founding());
        assert_eq!(config.membership(), founding());
        assert_eq!(config.handshake().membership, founding());
        assert_eq!(config.handshake().addresses.unwrap().0.len(), 4);
    }
}
