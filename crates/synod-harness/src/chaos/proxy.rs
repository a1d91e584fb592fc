//! A fault-injecting TCP proxy for one directed peer link (node A → node B).
//!
//! Node A dials the proxy instead of B; the proxy dials B and forwards A's frames (peer
//! connections are one-way: A only writes). It is frame-aware — it reads the same
//! length-delimited frames as the transport — so it can lose whole frames without corrupting the
//! stream. The handshake (the first frame) is always forwarded. Its [`LinkFault`] can be changed
//! at any time:
//!
//! * `Up` — forward every frame at once;
//! * `Lossy` — drop each frame with a probability, delay the others by a random time (order on
//!   one connection is kept, as TCP would);
//! * `Cut` — close every open connection and refuse new ones (a partition; A's transport keeps
//!   reconnecting, and gets through once the link is up again).

use futures::{SinkExt, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use synod_server::wire;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::codec::{FramedRead, FramedWrite};

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

/// Counters of one link.
#[derive(Debug, Default)]
pub struct LinkStats {
    /// Frames forwarded.
    pub forwarded: AtomicU64,
    /// Frames dropped.
    pub dropped: AtomicU64,
    /// Connections closed or refused because the link was cut.
    pub cut: AtomicU64,
}

/// A running proxy: change its fault with [`Proxy::set`].
#[derive(Debug)]
pub struct Proxy {
    /// Where the dialling node connects.
    pub addr: SocketAddr,
    fault: watch::Sender<LinkFault>,
    /// What the link did.
    pub stats: Arc<LinkStats>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on an ephemeral 127.0.0.1 port and forwards to `target`.
    pub async fn start(target: SocketAddr, seed: u64) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (fault, rx) = watch::channel(LinkFault::Up);
        let stats = Arc::new(LinkStats::default());
        let rng = Arc::new(Mutex::new(StdRng::seed_from_u64(seed)));
        let task = tokio::spawn(accept(listener, target, rx, stats.clone(), rng));
        Ok(Proxy {
            addr,
            fault,
            stats,
            task,
        })
    }

    /// Changes what the link does (a cut closes the open connections at once).
    pub fn set(&self, fault: LinkFault) {
        self.fault.send_replace(fault);
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
    fault: watch::Receiver<LinkFault>,
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
        if *fault.borrow() == LinkFault::Cut {
            stats.cut.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        connections.spawn(forward(
            inbound,
            target,
            fault.clone(),
            stats.clone(),
            rng.clone(),
        ));
        while connections.try_join_next().is_some() {}
    }
}

/// Forwards one connection's frames until either side closes or the link is cut.
async fn forward(
    inbound: TcpStream,
    target: SocketAddr,
    mut fault: watch::Receiver<LinkFault>,
    stats: Arc<LinkStats>,
    rng: Arc<Mutex<StdRng>>,
) {
    let Ok(outbound) = TcpStream::connect(target).await else {
        return;
    };
    let _ = outbound.set_nodelay(true);
    let codec = || wire::codec(usize::MAX >> 1);
    let mut frames = FramedRead::new(inbound, codec());
    let mut out = FramedWrite::new(outbound, codec());
    let mut first = true;
    loop {
        let frame = tokio::select! {
            frame = frames.next() => frame,
            changed = fault.changed() => {
                if changed.is_err() || *fault.borrow() == LinkFault::Cut {
                    stats.cut.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                continue;
            }
        };
        let Some(Ok(frame)) = frame else { return };
        let current = *fault.borrow();
        match current {
            LinkFault::Cut => {
                stats.cut.fetch_add(1, Ordering::Relaxed);
                return;
            }
            LinkFault::Lossy { drop, max_delay } if !first => {
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
            _ => {}
        }
        first = false;
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

    async fn link(
        proxy: &Proxy,
    ) -> FramedWrite<TcpStream, tokio_util::codec::LengthDelimitedCodec> {
        FramedWrite::new(
            TcpStream::connect(proxy.addr).await.unwrap(),
            wire::codec(1 << 20),
        )
    }

    #[tokio::test]
    async fn frames_pass_are_dropped_and_cut() {
        let target = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Proxy::start(target.local_addr().unwrap(), 1).await.unwrap();
        let mut a = link(&proxy).await;
        let (b, _) = target.accept().await.unwrap();
        let mut b = FramedRead::new(b, wire::codec(1 << 20));
        a.send(Bytes::from_static(b"hello")).await.unwrap();
        assert_eq!(&b.next().await.unwrap().unwrap()[..], b"hello");
        // Total loss: nothing after the handshake gets through, and the loss is counted.
        proxy.set(LinkFault::Lossy {
            drop: 1.0,
            max_delay: Duration::ZERO,
        });
        a.send(Bytes::from_static(b"lost")).await.unwrap();
        while proxy.stats.dropped.load(Ordering::Relaxed) < 1 {
            tokio::task::yield_now().await;
        }
        proxy.set(LinkFault::Up);
        a.send(Bytes::from_static(b"after")).await.unwrap();
        assert_eq!(&b.next().await.unwrap().unwrap()[..], b"after");
        assert_eq!(proxy.stats.dropped.load(Ordering::Relaxed), 1);
        // A cut closes the connection (the target sees EOF) and refuses new ones.
        proxy.set(LinkFault::Cut);
        assert!(b.next().await.is_none());
        let mut c = link(&proxy).await;
        let _ = c.send(Bytes::from_static(b"refused")).await;
        while proxy.stats.cut.load(Ordering::Relaxed) < 2 {
            tokio::task::yield_now().await;
        }
        proxy.set(LinkFault::Up);
        let mut d = link(&proxy).await;
        d.send(Bytes::from_static(b"healed")).await.unwrap();
        let (e, _) = target.accept().await.unwrap();
        let mut e = FramedRead::new(e, wire::codec(1 << 20));
        assert_eq!(&e.next().await.unwrap().unwrap()[..], b"healed");
    }
}
