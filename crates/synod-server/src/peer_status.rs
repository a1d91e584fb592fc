//! What this node knows about its links to each member, and what it tells about them: whether
//! it is ready (`/ready`: it reaches a quorum of its members and no member refuses it), the
//! per-member view of `/v1/cluster`, the per-peer metrics, and the log lines of a peer that
//! becomes unreachable (`warn`, once) and reachable again (`info`).
//!
//! A member is **connected** when both directions work: this node's connection to it is up
//! (its handshake sent and not refused) and the member's connection to this node is open (its
//! handshake accepted here). Paxos needs both: requests leave on the first, answers arrive on the
//! second. The transport reports every event here; nothing here does I/O.
//!
//! The members are the nodes this node knows the address of: those it was started with, and
//! those added while it runs ([`PeerStatus::add_member`], which the transport calls when it
//! learns of a node — an operator's address book, or a new node's handshake that names its own
//! address). An added node has a link, shows in `/v1/cluster` and gets per-peer metrics like
//! any other. A node is never removed here: one removed from the cluster's configuration is
//! still dialled and shown (a removed node does no harm as a peer; the protocol core no longer
//! counts its votes). Readiness counts the quorums of the configuration the node installed
//! ([`PeerStatus::readiness_in`]: a phase-1 quorum of its prepare set and a phase-2 quorum of its
//! accept set), not the founding [`Membership`] (the one compared at the handshake).

use crate::membership::{Addresses, Ids, Membership};
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};
use synod_core::{Configuration, NodeId, NodeSet};

/// How long a refused handshake counts (against readiness, and in the views) after it happened.
/// A refusing peer is re-dialled every second, so an ongoing disagreement stays fresh.
pub const REFUSAL_MEMORY: Duration = Duration::from_secs(10);
/// How long a peer must stay unreachable before that is logged at `warn` (nodes started
/// together take a moment to come up).
pub const UNREACHABLE_GRACE: Duration = Duration::from_secs(2);
/// How many refused handshakes of non-members are remembered.
const STRANGERS: usize = 16;

/// The links of one node to its members.
#[derive(Debug)]
pub struct PeerStatus {
    node: NodeId,
    membership: Membership,
    checks_addresses: bool,
    /// The known nodes. Never held while another lock is taken: readers copy what they need
    /// (an `Arc<Peer>`, an address) and let go.
    book: RwLock<Book>,
    strangers: Mutex<VecDeque<Refusal>>,
    epoch: Instant,
}

/// The nodes this node knows.
#[derive(Debug)]
struct Book {
    /// Every known node's peer address, this node's included.
    addresses: Addresses,
    /// Every known node but this one.
    peers: BTreeMap<NodeId, Arc<Peer>>,
}

/// One member's links, as this node sees them.
#[derive(Debug, Default)]
struct Peer {
    outbound: AtomicBool,
    inbound: AtomicU32,
    frames_sent: AtomicU64,
    frames_received: AtomicU64,
    /// Milliseconds after `epoch`, plus one, of the last thing received from the peer (0: never).
    last_contact: AtomicU64,
    state: Mutex<PeerState>,
}

#[derive(Debug, Default)]
struct PeerState {
    /// Since when this node has failed to connect (`None`: connected, or never tried).
    down_since: Option<Instant>,
    /// Whether the peer's unreachability was logged (and its recovery is to be).
    warned: bool,
    /// The peer's latest refusal of this node's handshake.
    refused_us: Option<Refusal>,
    /// This node's latest refusal of the peer's handshake.
    refused_them: Option<Refusal>,
}

/// A refused handshake.
#[derive(Clone, Debug)]
struct Refusal {
    /// The node the handshake named, if it named one.
    node: Option<NodeId>,
    /// Where it came from (refusals of this node by a peer: the peer's address).
    remote: String,
    /// Why, naming both nodes.
    reason: String,
    at: Instant,
}

impl Refusal {
    fn fresh(&self) -> bool {
        self.at.elapsed() < REFUSAL_MEMORY
    }
}

/// Whether this node can serve: `/ready`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Readiness {
    /// It reaches a quorum and no member refuses it.
    pub ready: bool,
    /// The members it is connected to both ways, itself included.
    pub connected: Vec<u8>,
    /// How many members a request needs: the larger of q1 and q2.
    pub quorum: usize,
    /// Why it is not ready (`None` when ready).
    pub reason: Option<String>,
}

/// One member in `/v1/cluster`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemberView {
    /// Its id.
    pub id: u8,
    /// Its peer address, as this node lists it.
    pub address: String,
    /// Whether it is this node.
    #[serde(rename = "self")]
    pub this: bool,
    /// Connected both ways (always true for this node itself).
    pub connected: bool,
    /// This node's connection to it is up.
    pub outbound: bool,
    /// Its connection to this node is open.
    pub inbound: bool,
    /// Milliseconds since anything arrived from it (`None`: never, or this node itself).
    pub last_contact_ms: Option<u64>,
    /// A handshake refused in the last [`REFUSAL_MEMORY`], either way, and why.
    pub refused: Option<String>,
    /// Frames sent to it.
    pub frames_sent: u64,
    /// Frames received from it.
    pub frames_received: u64,
}

/// A refused handshake of a node that is not a member, in `/v1/cluster`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StrangerView {
    /// The node id its handshake named, if any.
    pub node: Option<u8>,
    /// The address it connected from.
    pub remote: String,
    /// Why it was refused.
    pub reason: String,
    /// Milliseconds since.
    pub age_ms: u64,
}

/// This node's view of the membership, in `/v1/cluster`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MembershipView {
    /// Every known node's id and peer address (those added since the start included).
    pub members: Vec<MemberAddress>,
    /// Phase-1 quorum size of the founding membership.
    pub q1: usize,
    /// Phase-2 quorum size of the founding membership.
    pub q2: usize,
    /// Members a request needs (the larger of q1 and q2).
    pub quorum: usize,
    /// Whether peers' handshakes must list the same addresses.
    pub check_addresses: bool,
}

/// A member's id and address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemberAddress {
    /// The id.
    pub id: u8,
    /// The peer address.
    pub address: String,
}

/// Counts an open inbound connection of a peer until dropped.
#[derive(Debug)]
pub struct InboundOpen {
    peer: Arc<Peer>,
}

impl Drop for InboundOpen {
    fn drop(&mut self) {
        self.peer.inbound.fetch_sub(1, Ordering::Relaxed);
    }
}

impl PeerStatus {
    /// Node `node`'s links to the members listed in `addresses` (itself included), in the
    /// cluster founded with `membership`; `checks_addresses` is only shown.
    pub fn new(
        node: NodeId,
        membership: Membership,
        addresses: Addresses,
        checks_addresses: bool,
    ) -> Self {
        let peers = addresses
            .0
            .keys()
            .filter(|&&id| id != node)
            .map(|&id| (id, Arc::default()))
            .collect();
        PeerStatus {
            node,
            membership,
            checks_addresses,
            book: RwLock::new(Book { addresses, peers }),
            strangers: Mutex::new(VecDeque::new()),
            epoch: Instant::now(),
        }
    }

    /// Adds node `id` at `address` to the members this node knows (its links are reported
    /// from now on), or records its new address if it is known. This node itself is left as
    /// it is.
    pub fn add_member(&self, id: NodeId, address: SocketAddr) {
        if id == self.node {
            return;
        }
        let mut book = write(&self.book);
        book.addresses.0.insert(id, address.to_string());
        book.peers.entry(id).or_default();
    }

    /// Whether node `id` is a known member (this node included).
    pub fn knows(&self, id: NodeId) -> bool {
        read(&self.book).addresses.0.contains_key(&id)
    }

    /// Every known node's peer address, this node's included.
    pub fn addresses(&self) -> Addresses {
        read(&self.book).addresses.clone()
    }

    fn peer(&self, id: NodeId) -> Option<Arc<Peer>> {
        read(&self.book).peers.get(&id).cloned()
    }

    /// Every known node but this one, with its address, by id (a copy: no lock is held).
    fn peers(&self) -> Vec<(NodeId, Arc<Peer>, String)> {
        let book = read(&self.book);
        book.peers
            .iter()
            .map(|(&id, peer)| {
                let address = book.addresses.0.get(&id).cloned();
                (id, peer.clone(), address.unwrap_or_else(|| "?".into()))
            })
            .collect()
    }

    fn address(&self, id: NodeId) -> String {
        read(&self.book)
            .addresses
            .0
            .get(&id)
            .cloned()
            .unwrap_or_else(|| "?".into())
    }

    fn touch(&self, peer: &Peer) {
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        peer.last_contact.store(ms + 1, Ordering::Relaxed);
    }

    /// This node could not connect to `id` (or lost the connection while sending its
    /// handshake). Logged at `warn` once the peer has been unreachable for
    /// [`UNREACHABLE_GRACE`], and not again until it is reachable.
    pub fn connect_failed(&self, id: NodeId, error: &dyn std::fmt::Display) {
        let Some(peer) = self.peer(id) else { return };
        let address = self.address(id);
        let mut state = lock(&peer.state);
        let since = *state.down_since.get_or_insert_with(Instant::now);
        if !state.warned && since.elapsed() >= UNREACHABLE_GRACE {
            state.warned = true;
            tracing::warn!(
                peer = %id,
                address,
                "node {id} is unreachable (for {:.1} s): {error}; retrying, logged again when it is reachable",
                since.elapsed().as_secs_f64()
            );
        } else {
            tracing::debug!(peer = %id, address, "cannot connect: {error}");
        }
    }

    /// This node's connection to `id` is up (its handshake sent).
    pub fn outbound_up(&self, id: NodeId) {
        let Some(peer) = self.peer(id) else { return };
        peer.outbound.store(true, Ordering::Relaxed);
        let address = self.address(id);
        let mut state = lock(&peer.state);
        if let Some(since) = state.down_since.take() {
            if std::mem::take(&mut state.warned) {
                tracing::info!(
                    peer = %id,
                    address,
                    "node {id} is reachable again (after {:.1} s)",
                    since.elapsed().as_secs_f64()
                );
            }
        }
    }

    /// This node's connection to `id` ended.
    pub fn outbound_down(&self, id: NodeId) {
        let Some(peer) = self.peer(id) else { return };
        peer.outbound.store(false, Ordering::Relaxed);
        lock(&peer.state)
            .down_since
            .get_or_insert_with(Instant::now);
    }

    /// `id` accepted this node's handshake.
    pub fn accepted_by(&self, id: NodeId) {
        let Some(peer) = self.peer(id) else { return };
        self.touch(&peer);
        let refusal = lock(&peer.state).refused_us.take();
        if let Some(refusal) = refusal {
            tracing::info!(peer = %id, "node {id} accepts this node's handshake again (it refused: {})", refusal.reason);
        }
    }

    /// `id` refused this node's handshake, saying why. Logged at `warn` when the reason is new.
    pub fn refused_by(&self, id: NodeId, reason: String) {
        let Some(peer) = self.peer(id) else { return };
        self.touch(&peer);
        let remote = self.address(id);
        let mut state = lock(&peer.state);
        let new = state.refused_us.as_ref().is_none_or(|r| r.reason != reason);
        if new {
            tracing::warn!(peer = %id, "node {id} refuses this node's handshake: {reason}");
        } else {
            tracing::debug!(peer = %id, "node {id} refuses this node's handshake: {reason}");
        }
        state.refused_us = Some(Refusal {
            node: Some(id),
            remote,
            reason,
            at: Instant::now(),
        });
    }

    /// This node refused a handshake from `remote` naming node `claimed`: `error` is what it
    /// logs (at `warn` when new for that node), `reason` what the peer was told.
    pub fn refused(
        &self,
        claimed: Option<NodeId>,
        remote: SocketAddr,
        error: &dyn std::fmt::Display,
        reason: String,
    ) {
        let refusal = Refusal {
            node: claimed,
            remote: remote.to_string(),
            reason,
            at: Instant::now(),
        };
        let previous = match claimed.and_then(|id| self.peer(id)) {
            Some(peer) => lock(&peer.state).refused_them.replace(refusal.clone()),
            None => {
                let mut strangers = lock(&self.strangers);
                let index = strangers
                    .iter()
                    .position(|r| r.node == claimed && r.remote_ip() == refusal.remote_ip());
                let previous = index.and_then(|i| strangers.remove(i));
                strangers.push_back(refusal.clone());
                if strangers.len() > STRANGERS {
                    strangers.pop_front();
                }
                previous
            }
        };
        if previous.is_some_and(|p| p.reason == refusal.reason && p.fresh()) {
            tracing::debug!(%remote, "peer connection refused: {error}");
        } else {
            tracing::warn!(%remote, "peer connection closed: {error}");
        }
    }

    /// This node accepted `id`'s handshake: its connection counts as open until the returned
    /// guard is dropped.
    pub fn inbound_opened(&self, id: NodeId) -> Option<InboundOpen> {
        let peer = self.peer(id)?;
        peer.inbound.fetch_add(1, Ordering::Relaxed);
        self.touch(&peer);
        lock(&peer.state).refused_them = None;
        Some(InboundOpen { peer })
    }

    /// A frame went to `id`.
    pub fn frame_sent(&self, id: NodeId) {
        if let Some(peer) = self.peer(id) {
            peer.frames_sent.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A frame arrived from `id`.
    pub fn frame_received(&self, id: NodeId) {
        if let Some(peer) = self.peer(id) {
            peer.frames_received.fetch_add(1, Ordering::Relaxed);
            self.touch(&peer);
        }
    }

    fn connected(peer: &Peer) -> bool {
        peer.outbound.load(Ordering::Relaxed) && peer.inbound.load(Ordering::Relaxed) > 0
    }

    fn last_contact_ms(&self, peer: &Peer) -> Option<u64> {
        let at = peer.last_contact.load(Ordering::Relaxed).checked_sub(1)?;
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        Some(now.saturating_sub(at))
    }

    /// The fresh refusals involving `id` in words: its refusal of this node, and (`both`) this
    /// node's refusal of it.
    fn refusals(&self, id: NodeId, peer: &Peer, both: bool) -> Vec<String> {
        let state = lock(&peer.state);
        let mut out = Vec::new();
        if let Some(r) = state.refused_us.as_ref().filter(|r| r.fresh()) {
            out.push(format!("node {id} refuses this node: {}", r.reason));
        }
        if let Some(r) = state.refused_them.as_ref().filter(|r| both && r.fresh()) {
            out.push(format!("this node refuses node {id}: {}", r.reason));
        }
        out
    }

    /// What is wrong with the link to `id` at `address`, in words.
    fn link_problem(&self, id: NodeId, address: &str, peer: &Peer) -> String {
        let outbound = peer.outbound.load(Ordering::Relaxed);
        let inbound = peer.inbound.load(Ordering::Relaxed) > 0;
        let mut text = format!(
            "node {id} ({address}): {}",
            match (outbound, inbound) {
                (true, true) => "connected",
                (true, false) =>
                    "this node is connected to it, but it is not connected to this node",
                (false, true) => "it is connected to this node, but this node cannot connect to it",
                (false, false) => "not connected",
            }
        );
        match self.last_contact_ms(peer) {
            Some(ms) => {
                let _ = write!(text, ", last contact {:.1} s ago", ms as f64 / 1000.0);
            }
            None => text.push_str(", never in contact"),
        }
        text
    }

    /// The cluster's founding membership (the one compared at the handshake).
    pub fn founding(&self) -> Membership {
        self.membership
    }

    /// The larger of the founding quorum sizes: how many members a request needs.
    pub fn quorum(&self) -> usize {
        self.membership.q1.max(self.membership.q2)
    }

    /// [`Self::readiness_in`] the founding configuration (generation 0): what a cluster that
    /// never changed its members is ready in.
    #[cfg(test)]
    pub fn readiness(&self) -> Readiness {
        let m = self.membership;
        let founding = Configuration::new(0, m.members, m.q1, m.members, m.q2)
            .expect("a founding membership's quorums meet");
        self.readiness_in(&founding)
    }

    /// Whether this node can serve now in `configuration` (the one it installed), and if not,
    /// why: it must be a member, and be connected both ways to a phase-1 quorum of the prepare
    /// set and a phase-2 quorum of the accept set (itself counted). A member's refusal of this
    /// node's handshake counts (the two disagree about the cluster: quorums counted over
    /// different members need not intersect); this node's refusals of others do not (a node of
    /// another cluster dialling here says nothing about this node).
    pub fn readiness_in(&self, configuration: &Configuration) -> Readiness {
        let members = configuration.members();
        let mut connected = vec![self.node.0];
        let mut problems = Vec::new();
        let mut refusals = Vec::new();
        for (id, peer, address) in &self.peers() {
            if Self::connected(peer) {
                connected.push(id.0);
            } else if members.contains(*id) {
                problems.push(self.link_problem(*id, address, peer));
            }
            if members.contains(*id) {
                refusals.extend(self.refusals(*id, peer, false));
            }
        }
        connected.sort_unstable();
        let within = |set: NodeSet| {
            let ids: Vec<u8> = connected
                .iter()
                .copied()
                .filter(|&id| set.contains(NodeId(id)))
                .collect();
            ids
        };
        let (prepare, accept) = (
            within(configuration.prepare()),
            within(configuration.accept()),
        );
        let quorum = configuration.q1().max(configuration.q2());
        let mut reasons = Vec::new();
        if !members.contains(self.node) {
            reasons.push(format!(
                "this node (node {}) is not a member of the cluster's configuration (generation \
                 {}: members {}): it was removed",
                self.node,
                configuration.generation(),
                Ids(members)
            ));
        } else if configuration.is_stable() && prepare.len() < quorum {
            reasons.push(format!(
                "this node (node {}) is connected to {} of {} members ({}) and a quorum needs {quorum}; {}",
                self.node,
                prepare.len(),
                members.len(),
                ids(&prepare),
                problems.join("; ")
            ));
        } else if prepare.len() < configuration.q1() || accept.len() < configuration.q2() {
            reasons.push(format!(
                "this node (node {}) is connected to {} of the prepare set {} ({}; a phase-1 \
                 quorum needs {}) and {} of the accept set {} ({}; a phase-2 quorum needs {}) in \
                 generation {}; {}",
                self.node,
                prepare.len(),
                Ids(configuration.prepare()),
                ids(&prepare),
                configuration.q1(),
                accept.len(),
                Ids(configuration.accept()),
                ids(&accept),
                configuration.q2(),
                configuration.generation(),
                problems.join("; ")
            ));
        }
        reasons.extend(refusals);
        Readiness {
            ready: reasons.is_empty(),
            connected,
            quorum,
            reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
        }
    }

    /// Every known member's link, this node included, by id.
    pub fn members(&self) -> Vec<MemberView> {
        let book = read(&self.book);
        let known: Vec<(NodeId, String, Option<Arc<Peer>>)> = book
            .addresses
            .0
            .iter()
            .map(|(&id, address)| (id, address.clone(), book.peers.get(&id).cloned()))
            .collect();
        drop(book);
        known
            .into_iter()
            .map(|(id, address, peer)| match peer {
                None => MemberView {
                    id: id.0,
                    address: address.clone(),
                    this: true,
                    connected: true,
                    outbound: true,
                    inbound: true,
                    last_contact_ms: None,
                    refused: None,
                    frames_sent: 0,
                    frames_received: 0,
                },
                Some(peer) => {
                    let refusals = self.refusals(id, &peer, true);
                    MemberView {
                        id: id.0,
                        address: address.clone(),
                        this: false,
                        connected: Self::connected(&peer),
                        outbound: peer.outbound.load(Ordering::Relaxed),
                        inbound: peer.inbound.load(Ordering::Relaxed) > 0,
                        last_contact_ms: self.last_contact_ms(&peer),
                        refused: (!refusals.is_empty()).then(|| refusals.join("; ")),
                        frames_sent: peer.frames_sent.load(Ordering::Relaxed),
                        frames_received: peer.frames_received.load(Ordering::Relaxed),
                    }
                }
            })
            .collect()
    }

    /// The fresh refused handshakes of nodes that are not members, oldest first.
    pub fn strangers(&self) -> Vec<StrangerView> {
        lock(&self.strangers)
            .iter()
            .filter(|r| r.fresh())
            .map(|r| StrangerView {
                node: r.node.map(|n| n.0),
                remote: r.remote.clone(),
                reason: r.reason.clone(),
                age_ms: u64::try_from(r.at.elapsed().as_millis()).unwrap_or(u64::MAX),
            })
            .collect()
    }

    /// The founding membership's quorum sizes and every known member's address.
    pub fn membership(&self) -> MembershipView {
        MembershipView {
            members: read(&self.book)
                .addresses
                .0
                .iter()
                .map(|(id, address)| MemberAddress {
                    id: id.0,
                    address: address.clone(),
                })
                .collect(),
            q1: self.membership.q1,
            q2: self.membership.q2,
            quorum: self.quorum(),
            check_addresses: self.checks_addresses,
        }
    }

    /// The per-peer metrics, Prometheus text (appended to the node's own).
    pub fn render_metrics(&self, out: &mut String) {
        type Value = fn(&PeerStatus, &Peer) -> Option<String>;
        let families: [(&str, &str, &str, Value); 4] = [
            (
                "synod_peer_connected",
                "gauge",
                "1 if this node and the peer are connected both ways, else 0",
                |_, p| Some(u8::from(PeerStatus::connected(p)).to_string()),
            ),
            (
                "synod_peer_sent_frames_total",
                "counter",
                "frames sent to the peer",
                |_, p| Some(p.frames_sent.load(Ordering::Relaxed).to_string()),
            ),
            (
                "synod_peer_received_frames_total",
                "counter",
                "frames received from the peer",
                |_, p| Some(p.frames_received.load(Ordering::Relaxed).to_string()),
            ),
            (
                "synod_peer_last_contact_age_seconds",
                "gauge",
                "seconds since anything arrived from the peer (absent: never)",
                |s, p| {
                    s.last_contact_ms(p)
                        .map(|ms| format!("{:.3}", ms as f64 / 1000.0))
                },
            ),
        ];
        let peers = self.peers();
        for (name, kind, help, value) in families {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (id, peer, _) in &peers {
                if let Some(v) = value(self, peer) {
                    let _ = writeln!(out, "{name}{{peer=\"{id}\"}} {v}");
                }
            }
        }
    }
}

impl Refusal {
    fn remote_ip(&self) -> &str {
        self.remote
            .rsplit_once(':')
            .map_or(self.remote.as_str(), |(ip, _)| ip)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

/// `{1, 2}`.
fn ids(ids: &[u8]) -> String {
    let list: Vec<String> = ids.iter().map(u8::to_string).collect();
    format!("{{{}}}", list.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three() -> PeerStatus {
        let addresses = Addresses(
            (1..=3)
                .map(|i| (NodeId(i), format!("127.0.0.1:700{i}")))
                .collect(),
        );
        let membership = Membership::majority((1..=3).map(NodeId).collect());
        PeerStatus::new(NodeId(1), membership, addresses, true)
    }

    #[test]
    fn ready_needs_a_quorum_connected_both_ways() {
        let status = three();
        let not = status.readiness();
        assert!(!not.ready);
        assert_eq!((not.connected, not.quorum), (vec![1], 2));
        let reason = not.reason.unwrap();
        assert!(
            reason.contains("connected to 1 of 3 members ({1}) and a quorum needs 2"),
            "{reason}"
        );
        assert!(
            reason.contains("node 2 (127.0.0.1:7002): not connected, never in contact"),
            "{reason}"
        );
        // One direction is not enough.
        status.outbound_up(NodeId(2));
        assert!(!status.readiness().ready);
        let open = status.inbound_opened(NodeId(2)).unwrap();
        let ready = status.readiness();
        assert_eq!((ready.ready, ready.connected), (true, vec![1, 2]));
        assert_eq!(ready.reason, None);
        drop(open);
        let reason = status.readiness().reason.unwrap();
        assert!(
            reason.contains(
                "this node is connected to it, but it is not connected to this node, last contact"
            ),
            "{reason}"
        );
    }

    #[test]
    fn a_member_refusing_this_node_makes_it_not_ready_even_with_a_quorum() {
        let status = three();
        for id in [2, 3] {
            status.outbound_up(NodeId(id));
            std::mem::forget(status.inbound_opened(NodeId(id)));
        }
        assert!(status.readiness().ready);
        status.refused_by(NodeId(3), "node 3 runs with members {1, 2, 3, 4} …".into());
        let not = status.readiness();
        assert!(!not.ready);
        assert_eq!(
            not.reason.as_deref(),
            Some("node 3 refuses this node: node 3 runs with members {1, 2, 3, 4} …")
        );
        let view = status.members();
        assert_eq!(
            view[2].refused.as_deref(),
            Some("node 3 refuses this node: node 3 runs with members {1, 2, 3, 4} …")
        );
        status.accepted_by(NodeId(3));
        assert!(status.readiness().ready);
        // This node refusing a member's handshake is shown, but does not make it unready.
        let remote = "127.0.0.1:5554".parse().unwrap();
        status.refused(
            Some(NodeId(2)),
            remote,
            &"refused",
            "node 1 is in cluster …".into(),
        );
        assert!(status.readiness().ready);
        assert_eq!(
            status.members()[1].refused.as_deref(),
            Some("this node refuses node 2: node 1 is in cluster …")
        );
        // A stranger refused here does not matter to readiness, but is shown.
        let remote = "127.0.0.1:5555".parse().unwrap();
        status.refused(Some(NodeId(4)), remote, &"refused", "not a member".into());
        assert!(status.readiness().ready);
        let strangers = status.strangers();
        assert_eq!(strangers.len(), 1);
        assert_eq!(
            (strangers[0].node, strangers[0].reason.as_str()),
            (Some(4), "not a member")
        );
    }

    #[test]
    fn per_peer_metrics_are_labelled() {
        let status = three();
        status.frame_sent(NodeId(2));
        status.frame_received(NodeId(3));
        let mut text = String::new();
        status.render_metrics(&mut text);
        assert!(
            text.contains("synod_peer_connected{peer=\"2\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("synod_peer_sent_frames_total{peer=\"2\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("synod_peer_received_frames_total{peer=\"3\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("synod_peer_last_contact_age_seconds{peer=\"3\"} "),
            "{text}"
        );
        assert!(
            !text.contains("synod_peer_last_contact_age_seconds{peer=\"2\"}"),
            "{text}"
        );
    }

    #[test]
    fn an_added_member_is_shown_counted_and_measured() {
        let status = three();
        assert!(!status.knows(NodeId(4)));
        // Unknown, its events are not recorded.
        assert!(status.inbound_opened(NodeId(4)).is_none());
        status.add_member(NodeId(4), "127.0.0.1:7004".parse().unwrap());
        assert!(status.knows(NodeId(4)));
        let view = status.members();
        assert_eq!(
            view.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
        assert_eq!(view[3].address, "127.0.0.1:7004");
        assert!(!view[3].connected && !view[3].this);
        assert_eq!(status.membership().members[3].address, "127.0.0.1:7004");
        assert_eq!(
            status.founding(),
            Membership::majority((1..=3).map(NodeId).collect())
        );
        // Counted in the configuration that has it: node 4 replacing node 3 ({1, 2, 4}, 2 of 3).
        let replaced =
            Configuration::stable(4, [1, 2, 4].map(NodeId).into_iter().collect()).unwrap();
        let reason = status.readiness_in(&replaced).reason.unwrap();
        assert!(
            reason.contains("connected to 1 of 3 members ({1}) and a quorum needs 2"),
            "{reason}"
        );
        assert!(
            reason.contains("node 4 (127.0.0.1:7004): not connected"),
            "{reason}"
        );
        assert!(
            !reason.contains("node 3 ("),
            "a node outside the configuration is no problem: {reason}"
        );
        // Connected both ways, it makes a quorum with this node.
        status.outbound_up(NodeId(4));
        let _open = status.inbound_opened(NodeId(4)).unwrap();
        let ready = status.readiness_in(&replaced);
        assert_eq!((ready.ready, ready.connected), (true, vec![1, 4]));
        // Not in the founding configuration, where node 4 is no member.
        assert!(!status.readiness().ready);
        status.frame_sent(NodeId(4));
        let mut text = String::new();
        status.render_metrics(&mut text);
        assert!(
            text.contains("synod_peer_connected{peer=\"4\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("synod_peer_sent_frames_total{peer=\"4\"} 1\n"),
            "{text}"
        );
        // A new address replaces the old one; the links stay as they are.
        status.add_member(NodeId(4), "127.0.0.1:8004".parse().unwrap());
        let view = status.members();
        assert_eq!(view.len(), 4);
        assert_eq!(view[3].address, "127.0.0.1:8004");
        assert!(view[3].connected);
        // This node itself is not re-added or moved.
        status.add_member(NodeId(1), "127.0.0.1:9001".parse().unwrap());
        assert_eq!(status.members()[0].address, "127.0.0.1:7001");
    }

    /// Readiness follows the installed configuration: grown to five, two connected nodes are no
    /// quorum (the founding quorum size of 2 is not what counts); while a step's sets differ,
    /// both quorums are needed; a removed node is not ready.
    #[test]
    fn readiness_counts_the_installed_configurations_quorums() {
        let status = three();
        let connect = |id: u8| {
            status.outbound_up(NodeId(id));
            std::mem::forget(status.inbound_opened(NodeId(id)).unwrap());
        };
        status.add_member(NodeId(4), "127.0.0.1:7004".parse().unwrap());
        connect(4);
        let set = |ids: &[u8]| -> NodeSet { ids.iter().map(|&i| NodeId(i)).collect() };
        let grown = Configuration::stable(4, set(&[1, 2, 3, 4, 5])).unwrap();
        let not = status.readiness_in(&grown);
        assert!(!not.ready, "{{1, 4}} is no quorum of five");
        let reason = not.reason.unwrap();
        assert!(
            reason.contains("connected to 2 of 5 members ({1, 4}) and a quorum needs 3"),
            "{reason}"
        );
        // The step that widened the accept set: prepare {1, 2, 3} (2), accept {1, 2, 3, 4} (3).
        let widened = Configuration::new(1, set(&[1, 2, 3]), 2, set(&[1, 2, 3, 4]), 3).unwrap();
        let reason = status.readiness_in(&widened).reason.unwrap();
        assert!(
            reason.contains(
                "connected to 1 of the prepare set {1, 2, 3} ({1}; a phase-1 quorum needs 2)"
            ),
            "{reason}"
        );
        connect(2);
        assert!(
            status.readiness_in(&widened).ready,
            "{{1, 2}} and {{1, 2, 4}}"
        );
        assert!(status.readiness_in(&grown).ready, "3 of 5");
        // Removed: not a member of the configuration.
        let without_me = Configuration::stable(6, set(&[2, 3, 4])).unwrap();
        let removed = status.readiness_in(&without_me);
        assert!(!removed.ready);
        assert!(
            removed.reason.unwrap().contains("it was removed"),
            "a removed node says so"
        );
    }
}
