//! A fault-injecting TCP proxy in front of one node B: every other node dials B's proxy instead
//! of B, and the proxy applies to each connection the fault of its directed link A → B.
//!
//! The proxy dials B and forwards A's frames (peer connections are one-way: A only writes). It
//! is frame-aware — it reads the same length-delimited frames as the transport — so it can lose
//! whole frames without corrupting the stream. The first frame is A's handshake, always
//! forwarded; the proxy decodes it ([`wire::decode_handshake`]) to learn who A is. One proxy per
//! node rather than one per link, so that every node lists B at the same address — the address
//! book a membership change writes into its record and sends to every member is then right for
//! all of them (docs/testing.md, *Membership change under chaos*). Each link's [`LinkFault`] can
//! be changed at any time:
//!
//! * `Up` — forward every frame at once;
//! * `Lossy` — drop each frame with a probability, delay the others by a random time (order on
//!   one connection is kept, as TCP would);
//! * `Cut` — close A's open connections; a new one is accepted, its frames swallowed, and closed
//!   when the link is up again (a partition; A's transport then reconnects and gets through).
//!
//! A connection whose first frame is not a handshake has no known sender: its link is `Up`.

use futures::{SinkExt, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use synod_server::wire;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::codec::{FramedRead, FramedWrite};

/// How long a connection to a node that is down is held before it is closed.
const DOWN_HOLD: Duration = Duration::from_millis(100);

/// What the link does to frames.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LinkFault {
    /// Forward everything.
    Up,
    /// Drop frames with probability `drop`; delay the others by up to `max_delay`.
    Lossy {
        /// Probability of losing a frame.
        drop: f64,
        /// Longest added delay.
        max_delay: Duration,
    },
    /// Close connections, refuse new ones.
    Cut,
}

/// Counters of one proxy (every link into its node).
#[derive(Debug, Default)]
pub struct LinkStats {
    /// Frames forwarded.
    pub forwarded: AtomicU64,
    /// Frames dropped.
    pub dropped: AtomicU64,
    /// Connections closed or refused because the link was cut.
    pub cut: AtomicU64,
}

/// The faults of the links into one node, by sending node (a link not listed is `Up`).
type Faults = BTreeMap<u8, LinkFault>;

/// A running proxy: change a link's fault with [`Proxy::set`].
#[derive(Debug)]
pub struct Proxy {
    /// Where the other nodes connect.
    pub addr: SocketAddr,
    faults: watch::Sender<Faults>,
    /// What the links did.
    pub stats: Arc<LinkStats>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on an ephemeral 127.0.0.1 port and forwards to `target`.
    pub async fn start(target: SocketAddr, seed: u64) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (faults, rx) = watch::channel(Faults::new());
        let stats = Arc::new(LinkStats::default());
        let rng = Arc::new(Mutex::new(StdRng::seed_from_u64(seed)));
        let task = tokio::spawn(accept(listener, target, rx, stats.clone(), rng));
        Ok(Proxy {
            addr,
            faults,
            stats,
            task,
        })
    }

    /// Changes what the link from node `from` does (a cut closes its open connections at once).
    pub fn set(&self, from: u8, fault: LinkFault) {
        self.faults.send_modify(|faults| {
            faults.insert(from, fault);
        });
    }

    /// Every link up.
    pub fn heal(&self) {
        self.faults.send_replace(Faults::new());
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(
    listener: TcpListener,
    target: SocketAddr,
    faults: watch::Receiver<Faults>,
    stats: Arc<LinkStats>,
    rng: Arc<Mutex<StdRng>>,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((inbound, _)) = listener.accept().await else {
            // Out of file descriptors or similar: do not spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        connections.spawn(forward(
            inbound,
            target,
            faults.clone(),
            stats.clone(),
            rng.clone(),
        ));
        while connections.try_join_next().is_some() {}
    }
}

/// The fault of the link from `from` (`None`: a sender the proxy could not name).
fn fault_of(faults: &watch::Receiver<Faults>, from: Option<u8>) -> LinkFault {
    from.and_then(|from| faults.borrow().get(&from).copied())
        .unwrap_or(LinkFault::Up)
}

/// Swallows the frames of a connection opened while its link is cut, and closes it once the
/// link is no longer cut. (Closing it at once would have the sender, which counts a connection
/// as up once its handshake is written, dial again at once, over and over.)
async fn hold_while_cut(
    mut frames: FramedRead<TcpStream, tokio_util::codec::LengthDelimitedCodec>,
    mut faults: watch::Receiver<Faults>,
    from: Option<u8>,
) {
    faults.mark_unchanged();
    while fault_of(&faults, from) == LinkFault::Cut {
        tokio::select! {
            frame = frames.next() => if !matches!(frame, Some(Ok(_))) { return },
            changed = faults.changed() => if changed.is_err() { return },
        }
    }
}

/// Forwards one connection's frames until either side closes or its link is cut.
async fn forward(
    inbound: TcpStream,
    target: SocketAddr,
    mut faults: watch::Receiver<Faults>,
    stats: Arc<LinkStats>,
    rng: Arc<Mutex<StdRng>>,
) {
    let codec = || wire::codec(usize::MAX >> 1);
    let mut frames = FramedRead::new(inbound, codec());
    // The handshake names the sender, and so the link.
    let Some(Ok(handshake)) = frames.next().await else {
        return;
    };
    let from = wire::decode_handshake(&handshake).ok().map(|h| h.node_id.0);
    if fault_of(&faults, from) == LinkFault::Cut {
        stats.cut.fetch_add(1, Ordering::Relaxed);
        hold_while_cut(frames, faults, from).await;
        return;
    }
    let Ok(outbound) = TcpStream::connect(target).await else {
        // The node is down. A dial refused would make the sender wait before the next one; a
        // connection closed at once makes it dial again at once (it counts a connection as up
        // once its handshake is written), over and over: hold this one a moment first.
        tokio::time::sleep(DOWN_HOLD).await;
        return;
    };
    let _ = outbound.set_nodelay(true);
    let mut out = FramedWrite::new(outbound, codec());
    if out.send(handshake.freeze()).await.is_err() {
        return;
    }
    stats.forwarded.fetch_add(1, Ordering::Relaxed);
    faults.mark_unchanged();
    loop {
        let frame = tokio::select! {
            frame = frames.next() => frame,
            changed = faults.changed() => {
                if changed.is_err() || fault_of(&faults, from) == LinkFault::Cut {
                    stats.cut.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                continue;
            }
        };
        let Some(Ok(frame)) = frame else { return };
        match fault_of(&faults, from) {
            LinkFault::Cut => {
                stats.cut.fetch_add(1, Ordering::Relaxed);
                return;
            }
            LinkFault::Lossy { drop, max_delay } => {
                let (lost, delay) = {
                    let mut rng = rng.lock().unwrap_or_else(|e| e.into_inner());
                    let lost = rng.gen_bool(drop.clamp(0.0, 1.0));
                    let delay = max_delay.mul_f64(rng.gen_range(0.0..1.0));
                    (lost, delay)
                };
                if lost {
                    stats.dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                tokio::time::sleep(delay).await;
            }
            LinkFault::Up => {}
        }
        if out.send(frame.freeze()).await.is_err() {
            return;
        }
        stats.forwarded.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use synod_core::{NodeId, NodeSet};
    use synod_server::Membership;

    type Sender = FramedWrite<TcpStream, tokio_util::codec::LengthDelimitedCodec>;
    type Receiver = FramedRead<TcpStream, tokio_util::codec::LengthDelimitedCodec>;

    /// A connection from node `from` through `proxy`, its handshake sent.
    async fn link(proxy: &Proxy, from: u8) -> Sender {
        let mut sender = FramedWrite::new(
            TcpStream::connect(proxy.addr).await.unwrap(),
            wire::codec(1 << 20),
        );
        let members: NodeSet = [1, 2, 3].into_iter().map(NodeId).collect();
        let handshake = wire::Handshake::new("chaos", NodeId(from), Membership::majority(members));
        sender
            .send(wire::encode_handshake(&handshake))
            .await
            .unwrap();
        sender
    }

    /// The node behind the proxy accepts the next connection and reads its handshake.
    async fn accepted(target: &TcpListener, from: u8) -> Receiver {
        let (stream, _) = target.accept().await.unwrap();
        let mut receiver = FramedRead::new(stream, wire::codec(1 << 20));
        let handshake = receiver.next().await.unwrap().unwrap();
        assert_eq!(
            wire::decode_handshake(&handshake).unwrap().node_id,
            NodeId(from)
        );
        receiver
    }

    #[tokio::test]
    async fn each_senders_frames_pass_are_dropped_and_cut() {
        let target = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Proxy::start(target.local_addr().unwrap(), 1).await.unwrap();
        let mut a = link(&proxy, 1).await;
        let mut b = accepted(&target, 1).await;
        let mut c = link(&proxy, 2).await;
        let mut d = accepted(&target, 2).await;
        a.send(Bytes::from_static(b"hello")).await.unwrap();
        assert_eq!(&b.next().await.unwrap().unwrap()[..], b"hello");
        // Total loss on the link from node 1: nothing gets through, and the loss is counted;
        // node 2's link is untouched.
        proxy.set(
            1,
            LinkFault::Lossy {
                drop: 1.0,
                max_delay: Duration::ZERO,
            },
        );
        a.send(Bytes::from_static(b"lost")).await.unwrap();
        while proxy.stats.dropped.load(Ordering::Relaxed) < 1 {
            tokio::task::yield_now().await;
        }
        c.send(Bytes::from_static(b"from 2")).await.unwrap();
        assert_eq!(&d.next().await.unwrap().unwrap()[..], b"from 2");
        proxy.set(1, LinkFault::Up);
        a.send(Bytes::from_static(b"after")).await.unwrap();
        assert_eq!(&b.next().await.unwrap().unwrap()[..], b"after");
        assert_eq!(proxy.stats.dropped.load(Ordering::Relaxed), 1);
        // A cut closes node 1's connection (the node behind sees EOF) and holds every new one
        // away from the node until the link heals; node 2 still gets through.
        proxy.set(1, LinkFault::Cut);
        assert!(b.next().await.is_none());
        let _refused = link(&proxy, 1).await;
        while proxy.stats.cut.load(Ordering::Relaxed) < 2 {
            tokio::task::yield_now().await;
        }
        c.send(Bytes::from_static(b"still")).await.unwrap();
        assert_eq!(&d.next().await.unwrap().unwrap()[..], b"still");
        proxy.heal();
        let mut e = link(&proxy, 1).await;
        let mut f = accepted(&target, 1).await;
        e.send(Bytes::from_static(b"healed")).await.unwrap();
        assert_eq!(&f.next().await.unwrap().unwrap()[..], b"healed");
    }
}
