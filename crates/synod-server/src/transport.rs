//! TCP between peers.
//!
//! **Outbound**: one task per peer owns one connection to it. It connects (retrying with
//! exponential backoff), sends the [`Handshake`], then drains the peer's bounded queue, packing
//! as many waiting items (protocol envelopes, forwarded requests, answers) as fit into each
//! frame. When the queue is full — the peer is slow or down — new items are dropped and counted:
//! Paxos tolerates loss, and retries recover. The task publishes the connection's state as a
//! [`Link`] (up or down, and how many connections it has made), which the forwarding of client
//! requests consults; a peer that closes the connection (its process died) is noticed at once,
//! since the peer never writes on it and anything read there is its end.
//!
//! **Inbound**: a listener accepts connections; each must open with a handshake naming this
//! cluster, a member node id, and this node's [`Membership`] — the same member ids and quorum
//! sizes — and, unless either side does not compare them, the same member [`Addresses`]
//! (anything else is refused, counted and logged, naming what differs). The receiver answers
//! every handshake with a [`HandshakeReply`]: a refusal says why, so the dialling node knows it
//! is refused and why, too (and counts its next connection to that peer as up only once the peer
//! accepts it). Every node dials every other, so two nodes started with different
//! `--peers`, `--q1` or `--q2` refuse each other's connections on both sides. Every frame is
//! bounded by the frame limit; a frame that is oversized or does not decode, or an envelope whose
//! sender differs from the handshake's, closes that connection with a log line before any of its
//! items is used. The node itself keeps running.
//!
//! **TLS** (when the node runs with `--peer-cert/--peer-key/--peer-ca`): every connection is
//! TLS 1.3 with certificates on both sides, signed by the cluster CA; the dialling node requires
//! the peer's certificate to name the node it dials (`synod-node-<id>`), and the accepting node
//! requires the dialler's certificate to name the node its handshake claims. A connection that
//! is not TLS, or whose certificate fails either test, is refused like a bad handshake: counted
//! in `handshakes_refused`, logged, and closed before any frame of it is read as an item.
//!
//! Connections are one-way: after the reply to the handshake, a node writes only on connections
//! it opened and reads only on connections it accepted. Every event of a link is reported to the
//! node's [`PeerStatus`] (readiness, `/v1/cluster`, per-peer metrics, and the log lines of a peer
//! that becomes unreachable and reachable again).

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
use std::sync::Arc;
use std::time::Duration;
use synod_core::{NodeId, NodeSet};
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
    /// Every member's peer address (this node's included, which is not dialled).
    pub peers: BTreeMap<NodeId, SocketAddr>,
    /// Phase-1 and phase-2 quorum sizes (sent and required in handshakes with the member ids).
    pub quorums: (usize, usize),
    /// Send the member addresses in handshakes and require peers' to match (off where nodes
    /// reach each other at different addresses, e.g. through proxies).
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

    fn members(&self) -> NodeSet {
        self.peers.keys().copied().collect()
    }

    /// The member ids and quorum sizes this node runs with.
    pub fn membership(&self) -> Membership {
        Membership {
            members: self.members(),
            q1: self.quorums.0,
            q2: self.quorums.1,
        }
    }

    /// Every member's peer address as this node lists it.
    pub fn addresses(&self) -> Addresses {
        Addresses(
            self.peers
                .iter()
                .map(|(&id, addr)| (id, addr.to_string()))
                .collect(),
        )
    }

    /// The handshake this node sends.
    pub fn handshake(&self) -> Handshake {
        let hello = Handshake::new(&self.cluster_id, self.node_id, self.membership());
        if self.check_addresses {
            hello.with_addresses(self.addresses())
        } else {
            hello
        }
    }
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

/// The sending side: one bounded queue per peer, and its connection's [`Link`]; and the
/// [`PeerStatus`] both sides report to.
#[derive(Clone, Debug)]
pub struct Outbox {
    queues: HashMap<NodeId, mpsc::Sender<Item>>,
    links: HashMap<NodeId, watch::Receiver<Link>>,
    metrics: Arc<Metrics>,
    status: Arc<PeerStatus>,
}

impl Outbox {
    /// Queues a protocol message; drops and counts it when the peer's queue is full.
    pub fn send(&self, out: Outgoing) {
        self.send_item(out.to, Item::Protocol(out.envelope));
    }

    /// Queues any item; `false` (the item dropped and counted) when the peer's queue is full or
    /// the peer is unknown.
    pub fn send_item(&self, to: NodeId, item: Item) -> bool {
        match self.queues.get(&to) {
            Some(queue) => {
                let queued = queue.try_send(item).is_ok();
                if !queued {
                    self.metrics.messages_dropped.inc();
                }
                queued
            }
            None => {
                tracing::warn!(%to, "no route to node; message dropped");
                false
            }
        }
    }

    /// The state of the connection to `peer` (`None` for this node itself or a stranger).
    pub fn link(&self, peer: NodeId) -> Option<watch::Receiver<Link>> {
        self.links.get(&peer).cloned()
    }

    /// What this node knows about its links to each member.
    pub fn peer_status(&self) -> &Arc<PeerStatus> {
        &self.status
    }
}

/// Starts one connection task per peer and returns the outbox that feeds them.
pub fn start_outbound(config: &TransportConfig, metrics: Arc<Metrics>) -> Outbox {
    let status = Arc::new(PeerStatus::new(
        config.node_id,
        config.membership(),
        config.addresses(),
        config.check_addresses,
    ));
    let mut queues = HashMap::new();
    let mut links = HashMap::new();
    for (&peer, &addr) in &config.peers {
        if peer == config.node_id {
            continue;
        }
        let (tx, rx) = mpsc::channel(config.queue_capacity.max(1));
        let (link, watch) = watch::channel(Link::default());
        queues.insert(peer, tx);
        links.insert(peer, watch);
        tokio::spawn(outbound(
            config.clone(),
            peer,
            addr,
            rx,
            link,
            metrics.clone(),
            status.clone(),
        ));
    }
    Outbox {
        queues,
        links,
        metrics,
        status,
    }
}

/// Why an outbound connection ended.
#[derive(Debug)]
enum Ended {
    /// The connection failed or the peer closed it.
    Io(std::io::Error),
    /// The peer refused the handshake (reported to the [`PeerStatus`]).
    Refused,
}

impl From<std::io::Error> for Ended {
    fn from(e: std::io::Error) -> Self {
        Ended::Io(e)
    }
}

async fn outbound(
    config: TransportConfig,
    peer: NodeId,
    addr: SocketAddr,
    mut queue: mpsc::Receiver<Item>,
    link: watch::Sender<Link>,
    metrics: Arc<Metrics>,
    status: Arc<PeerStatus>,
) {
    let handshake = wire::encode_handshake(&config.handshake());
    let mut wait = config.reconnect_min;
    // Whether the peer refused the last handshake: then a new connection counts as up only once
    // the peer accepts it, so that nothing (a forwarded request) is sent into a connection the
    // peer is about to refuse again. (Otherwise it counts as up at once: a peer reached through a
    // proxy that relays nothing back never answers.)
    let mut refused = false;
    loop {
        let stream = match TcpStream::connect(addr).await {
            Ok(stream) => stream,
            Err(e) => {
                status.connect_failed(peer, &e);
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(config.reconnect_max);
                if queue.is_closed() {
                    return;
                }
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (read, write) = match open(&config, peer, stream).await {
            Ok(halves) => halves,
            Err(e) => {
                status.connect_failed(peer, &e);
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(config.reconnect_max);
                continue;
            }
        };
        let mut framed = FramedWrite::new(write, wire::codec(config.max_frame));
        let mut answers = FramedRead::new(read, wire::codec(config.max_frame));
        if let Err(e) = framed.send(handshake.clone()).await {
            status.connect_failed(peer, &e);
            tokio::time::sleep(wait).await;
            continue;
        }
        if refused {
            let answered = tokio::time::timeout(
                config.handshake_timeout,
                read_reply(&mut answers, peer, &status),
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
                    tokio::time::sleep(config.reconnect_max).await;
                    continue;
                }
                Err(Ended::Io(e)) => {
                    status.connect_failed(peer, &e);
                    tokio::time::sleep(wait).await;
                    continue;
                }
            }
        }
        tracing::debug!(%peer, %addr, "connected to peer");
        link.send_modify(|l| {
            l.up = true;
            l.connections += 1;
        });
        status.outbound_up(peer);
        wait = config.reconnect_min;
        let outcome = pump(
            &config,
            peer,
            &mut queue,
            &mut framed,
            answers,
            &metrics,
            &status,
        )
        .await;
        link.send_modify(|l| l.up = false);
        status.outbound_down(peer);
        match outcome {
            Ok(()) => return,
            // Logged by the status; the peer is asked again after the longest wait.
            Err(Ended::Refused) => {
                refused = true;
                tokio::time::sleep(config.reconnect_max).await;
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

/// Accepts peer connections on `listener` forever, delivering their items to `inbox`.
pub async fn serve_inbound(listener: TcpListener, config: TransportConfig, inbox: impl Inbox) {
    let config = Arc::new(config);
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let config = config.clone();
        let inbox = inbox.clone();
        tokio::spawn(async move {
            if let Err(e) = inbound(stream, remote, &config, &inbox).await {
                tracing::warn!(%remote, "peer connection closed: {e}");
            }
        });
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
    /// The handshake names a node that is not a member (or this node itself).
    #[error("refused: handshake from unknown node {0}")]
    UnknownNode(NodeId),
    /// The peer runs with other member ids or quorum sizes.
    #[error("refused: node {peer} runs with {theirs}, this node with {ours} ({differences}); every node must be started with the same --peers ids, --q1 and --q2")]
    WrongMembership {
        /// The node the handshake names.
        peer: NodeId,
        /// The peer's membership.
        theirs: Membership,
        /// This node's.
        ours: Membership,
        /// What differs, in words.
        differences: String,
    },
    /// The peer lists other member addresses.
    #[error("refused: node {peer} lists other peer addresses than this node ({}); every node must be started with the same --peers (or with --check-addresses off where nodes reach each other at different addresses)", .ours.differences(.theirs, "here", "there"))]
    WrongAddresses {
        /// The node the handshake names.
        peer: NodeId,
        /// The peer's addresses.
        theirs: Addresses,
        /// This node's.
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
            InboundError::UnknownNode(node) => format!(
                "node {node} is not one of node {me}'s peers (it runs with {})",
                config.membership()
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
    config: &TransportConfig,
    inbox: &impl Inbox,
) -> Result<(), InboundError> {
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
            _ => admit(&hello, config).map_err(|e| (Some(hello.node_id), e)),
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

/// Judges a handshake: the node it names, if it is accepted.
fn admit(hello: &Handshake, config: &TransportConfig) -> Result<NodeId, InboundError> {
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
    if hello.node_id == config.node_id || !config.members().contains(hello.node_id) {
        return Err(InboundError::UnknownNode(hello.node_id));
    }
    if let (true, Some(theirs)) = (config.check_addresses, &hello.addresses) {
        let ours = config.addresses();
        if *theirs != ours {
            return Err(InboundError::WrongAddresses {
                peer: hello.node_id,
                theirs: theirs.clone(),
                ours,
            });
        }
    }
    Ok(hello.node_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Envelope;
    use bytes::Bytes;
    use synod_core::{Ballot, Message};

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
            Handshake::new("c", NodeId(1), Membership::majority(config.members()))
                .with_addresses(config.addresses())
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
        let err = admit(&theirs.handshake(), &ours).unwrap_err();
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
        assert_eq!(admit(&same.handshake(), &ours).unwrap(), NodeId(2));
        theirs.check_addresses = false;
        assert_eq!(theirs.handshake().addresses, None);
        assert_eq!(admit(&theirs.handshake(), &ours).unwrap(), NodeId(2));
        theirs.check_addresses = true;
        ours.check_addresses = false;
        assert_eq!(admit(&theirs.handshake(), &ours).unwrap(), NodeId(2));
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
}
