//! The chaos run's cluster: real node processes (`synod serve`'s entry point, run by a
//! [`NodeCommand`]) which the nemesis can SIGKILL and restart, SIGSTOP and SIGCONT, and whose
//! peer links it can cut — through one of two networks:
//!
//! * **proxies** (the default): the nodes listen on 127.0.0.1, each behind a [`Proxy`] of its
//!   own; every node's `--peers` list names, for every other node `j`, `j`'s proxy, so every
//!   byte between nodes crosses a proxy the run controls, which applies the fault of its
//!   directed link (the proxy names the sender from its handshake);
//! * **namespaces** ([`Namespaces`]): each node in its own network namespace at its own address,
//!   peers dialled directly, and a cut link is a kernel route that drops the packets.
//!
//! Either way the processes run the production node, unmodified.
//!
//! The cluster has a *slot* — an id, ports, a proxy, a data directory — for every node the run
//! may ever start: the founding members, started at once with `--init`, and the nodes a
//! membership change adds later ([`super::membership`]), started with `serve --join` through a
//! running member. It also keeps the run's view of the members, and the nodes out of the
//! nemesis' reach (`held`): a node the admin killed to replace its disk, or one it removed.
//!
//! With membership changes (`rejoin`), every restart joins too, with every slot in its
//! `--peers`: a founding node restarted with only the founding `--peers` would have no address
//! for the nodes added since — the nodes run with `--check-addresses=off` (they reach each other
//! at proxies' addresses), and then a handshake states no address to learn from. `--join` gives
//! the node its founding membership from the member, so its `--peers` may list more nodes. Only
//! when no other member runs (the first node of the final restart) does a founding node restart
//! on the founding `--peers`.

use super::netns::Namespaces;
use super::proxy::{LinkFault, Proxy};
use anyhow::{bail, Context};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use synod_server::cli::NodeCommand;
use tokio::process::Child;

/// The ports a node listens on are picked here, below Linux's ephemeral range (32768–60999 by
/// default). A node's ports are chosen when the run starts but bound only when it starts — a
/// joining node seconds later, a killed one again on restart — and the run's own outgoing
/// connections (clients, proxies, redials) take ephemeral ports all the while: a port from
/// that range could be taken in between, and the node would fail to start.
const NODE_PORTS: std::ops::Range<u16> = 20_000..32_000;

/// Picks a port of [`NODE_PORTS`] that is free on 127.0.0.1 now, starting from a place that
/// differs per process and moving on with every call (so that two runs at once rarely try the
/// same ones).
fn free_port() -> std::io::Result<u16> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let span = u32::from(NODE_PORTS.end - NODE_PORTS.start);
    let _ = NEXT.compare_exchange(
        u32::MAX,
        std::process::id().wrapping_mul(7919) % span,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    for _ in 0..span {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed) % span;
        let port = NODE_PORTS.start + offset as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrInUse,
        format!("no free port in {NODE_PORTS:?} on 127.0.0.1"),
    ))
}

/// How every node process is started.
#[derive(Clone, Debug)]
pub struct NodeSetup {
    /// The program (`synod-harness node`, or `synod serve`).
    pub command: NodeCommand,
    /// Flags added to every node's.
    pub serve_args: Vec<String>,
    /// Extra environment (e.g. a fault-injection switch).
    pub env: Vec<(String, String)>,
}

/// One node process (or the slot of one not started yet).
#[derive(Debug)]
pub struct NodeProc {
    /// Node id (1-based).
    pub id: u8,
    /// The HTTP endpoint, `http://127.0.0.1:PORT`.
    pub http: String,
    /// Where it listens for peers.
    pub peer: SocketAddr,
    /// Where the other nodes reach it: its proxy (with namespaces, `peer`).
    pub reached_at: SocketAddr,
    /// Its data directory.
    pub data: PathBuf,
    /// Whether it was started as a joining node (`serve --join`): its data directory was made
    /// by a join, so every restart joins too.
    pub joined: bool,
    child: Option<Child>,
    paused: bool,
}

/// The processes and the proxies between them.
#[derive(Debug)]
pub struct ChaosCluster {
    setup: NodeSetup,
    /// Every slot, node 1 first: the founding members, then the nodes a change may add.
    pub nodes: Vec<NodeProc>,
    /// The founding members' count (nodes `1..=founders`).
    pub founders: u8,
    /// The proxy in front of each node (none with namespaces).
    pub proxies: BTreeMap<u8, Proxy>,
    /// The namespaces, when the run uses them instead of proxies.
    pub netns: Option<Namespaces>,
    /// The members, as the run knows them: the founders, then what each finished change left.
    pub members: BTreeSet<u8>,
    /// Nodes the nemesis leaves alone: one the admin killed to replace its disk, or removed.
    pub held: BTreeSet<u8>,
    /// Whether restarts join through a running member (see the module docs).
    pub rejoin: bool,
    log_dir: PathBuf,
}

impl ChaosCluster {
    /// Lays out `slots` nodes under `root` and starts the first `founders` of them, with
    /// `setup`, waiting until all are healthy. With `netns` (holding a namespace per slot),
    /// each node runs in its namespace and no proxy is started.
    pub async fn start(
        setup: &NodeSetup,
        root: &Path,
        founders: u8,
        slots: u8,
        seed: u64,
        netns: Option<Namespaces>,
    ) -> anyhow::Result<Self> {
        let mut nodes = Vec::new();
        let mut proxies = BTreeMap::new();
        for id in 1..=slots {
            let (http, peer) = match &netns {
                // A namespace of its own: fixed ports, no race for them.
                Some(ns) => (
                    format!("http://{}:8080", ns.node_addr(id)),
                    SocketAddr::from((ns.node_addr(id), 7000)),
                ),
                None => (
                    format!("http://127.0.0.1:{}", free_port()?),
                    SocketAddr::from(([127, 0, 0, 1], free_port()?)),
                ),
            };
            let reached_at = match &netns {
                Some(_) => peer,
                None => {
                    let proxy = Proxy::start(peer, seed ^ (u64::from(id) << 8))
                        .await
                        .context("starting a node's proxy")?;
                    let addr = proxy.addr;
                    proxies.insert(id, proxy);
                    addr
                }
            };
            nodes.push(NodeProc {
                id,
                http,
                peer,
                reached_at,
                data: root.join(format!("node-{id}")),
                joined: false,
                child: None,
                paused: false,
            });
        }
        let mut cluster = ChaosCluster {
            setup: setup.clone(),
            nodes,
            founders,
            proxies,
            netns,
            members: (1..=founders).collect(),
            held: BTreeSet::new(),
            rejoin: false,
            log_dir: root.to_owned(),
        };
        for id in 1..=founders {
            cluster.spawn(id, true)?;
        }
        for id in 1..=founders {
            cluster.await_healthy(id).await?;
        }
        Ok(cluster)
    }

    fn node(&mut self, id: u8) -> &mut NodeProc {
        &mut self.nodes[usize::from(id) - 1]
    }

    /// Node `id`'s slot.
    pub fn slot(&self, id: u8) -> &NodeProc {
        &self.nodes[usize::from(id) - 1]
    }

    /// Where node `id` logs.
    fn log_path(&self, id: u8) -> PathBuf {
        self.log_dir.join(format!("node-{id}.log"))
    }

    /// The last `lines` lines of node `id`'s log (what explains a node that exited; the data
    /// root, with the logs, is removed when a test's temporary directory is).
    pub fn log_tail(&self, id: u8, lines: usize) -> String {
        let log =
            std::fs::read_to_string(self.log_path(id)).unwrap_or_else(|e| format!("(no log: {e})"));
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// The HTTP endpoints of `ids`.
    pub fn endpoints(&self, ids: impl IntoIterator<Item = u8>) -> Vec<String> {
        ids.into_iter()
            .map(|id| self.slot(id).http.clone())
            .collect()
    }

    /// The peer list node `id` is started with: itself where it listens, the others where they
    /// are reached — the founding members (the cluster's founding membership), or with `all`
    /// (a joining node, whose founding membership comes from the member it joins through) every
    /// slot, so that it never takes another node's own listening address from that member.
    fn peers_of(&self, id: u8, all: bool) -> String {
        let listed = if all {
            self.nodes.len()
        } else {
            usize::from(self.founders)
        };
        self.nodes[..listed]
            .iter()
            .map(|n| {
                let addr = if n.id == id { n.peer } else { n.reached_at };
                format!("{}={addr}", n.id)
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The HTTP endpoint node `id` joins through, if it joins: a running member not held, other
    /// than itself. A node that must join and finds none is an error.
    fn join_via(&self, id: u8) -> anyhow::Result<Option<String>> {
        if !self.slot(id).joined && !self.rejoin {
            return Ok(None);
        }
        let via = self
            .members
            .iter()
            .find(|&&m| m != id && self.is_up(m) && !self.held.contains(&m));
        match via {
            Some(&m) => Ok(Some(self.slot(m).http.clone())),
            None if self.slot(id).joined || id > self.founders => {
                bail!("node {id} must join, and no member runs to join through")
            }
            None => Ok(None),
        }
    }

    fn spawn(&mut self, id: u8, init: bool) -> anyhow::Result<()> {
        let join = if init { None } else { self.join_via(id)? };
        let peers = self.peers_of(id, join.is_some());
        let node = self.slot(id);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(id))?;
        let mut command = match &self.netns {
            Some(ns) => ns.wrap(id, &self.setup.command).command(),
            None => self.setup.command.command(),
        };
        command
            .arg(format!("--id={id}"))
            .arg(format!("--peers={peers}"))
            .arg(format!(
                "--http={}",
                node.http.trim_start_matches("http://")
            ))
            .arg("--data")
            .arg(&node.data)
            .arg("--cluster-id=chaos")
            // Every node reaches the others through proxies, at addresses of its own.
            .arg("--check-addresses=off")
            .args(&self.setup.serve_args)
            .envs(self.setup.env.iter().map(|(k, v)| (k, v)))
            .env(
                "SYNOD_LOG",
                std::env::var("SYNOD_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true);
        if let Some(url) = join {
            command.arg(format!("--join={url}"));
        }
        if init {
            command.arg("--init");
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting node {id}"))?;
        self.node(id).child = Some(child);
        Ok(())
    }

    /// Starts node `id` on an empty data directory with `serve --join` through a running
    /// member; it waits there until a change adds it, and every restart joins too.
    pub fn start_joining(&mut self, id: u8) -> anyhow::Result<()> {
        if self.is_up(id) {
            bail!("node {id} already runs");
        }
        self.node(id).joined = true;
        self.spawn(id, false)
    }

    /// Deletes the data directory of node `id`, which must be down (its disk died).
    pub fn wipe(&mut self, id: u8) -> anyhow::Result<()> {
        if self.is_up(id) {
            bail!("node {id} runs: its disk cannot be wiped");
        }
        let data = &self.slot(id).data;
        match std::fs::remove_dir_all(data) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("wiping {}", data.display()))
            }
            _ => Ok(()),
        }
    }

    /// Polls `/health` of node `id` until it answers (fails after 30 s or if the process died).
    pub async fn await_healthy(&mut self, id: u8) -> anyhow::Result<()> {
        let client = synod_server::Client::new(&self.slot(id).http, Duration::from_secs(2))?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while client.health().await.is_err() {
            if let Some(status) = self.exited(id)? {
                bail!("node {id} exited during start-up: {status}");
            }
            if tokio::time::Instant::now() > deadline {
                bail!("node {id} never became healthy");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// How node `id`'s process ended, if it was started and has exited by itself.
    pub fn exited(&mut self, id: u8) -> anyhow::Result<Option<std::process::ExitStatus>> {
        match self.node(id).child.as_mut() {
            Some(child) => Ok(child.try_wait()?),
            None => Ok(None),
        }
    }

    /// Whether node `id` is running.
    pub fn is_up(&self, id: u8) -> bool {
        self.slot(id).child.is_some()
    }

    /// SIGKILLs node `id` (paused or not) and reaps it.
    pub async fn kill(&mut self, id: u8) -> anyhow::Result<()> {
        self.node(id).paused = false;
        if let Some(mut child) = self.node(id).child.take() {
            child
                .kill()
                .await
                .with_context(|| format!("killing node {id}"))?;
        }
        Ok(())
    }

    /// Restarts node `id` on its data directory (joining again if it joined) and waits until
    /// it is healthy; returns whether it did (not when it runs or is held).
    pub async fn restart(&mut self, id: u8) -> anyhow::Result<bool> {
        if self.is_up(id) || self.held.contains(&id) {
            return Ok(false);
        }
        self.spawn(id, false)?;
        self.await_healthy(id).await?;
        Ok(true)
    }

    /// Restarts every member that is down and not held: the founding nodes on their founding
    /// disks first, so that a node that must join finds a member running.
    pub async fn restart_members(&mut self) -> anyhow::Result<()> {
        let mut members: Vec<u8> = self.members.iter().copied().collect();
        members.sort_by_key(|&id| self.slot(id).joined);
        for id in members {
            self.restart(id).await?;
        }
        Ok(())
    }

    /// The members the nemesis may strike (not held).
    pub fn targets(&self) -> Vec<u8> {
        self.members.difference(&self.held).copied().collect()
    }

    /// How many members the nemesis may kill or pause at once: a minority of the members, less
    /// the members already held down.
    pub fn fault_budget(&self) -> usize {
        let held = self.members.intersection(&self.held).count();
        (self.members.len().saturating_sub(1) / 2).saturating_sub(held)
    }

    /// Sends `signal` to node `id`'s process, if it runs.
    fn signal(&mut self, id: u8, signal: Signal) -> anyhow::Result<bool> {
        let Some(pid) = self.node(id).child.as_ref().and_then(Child::id) else {
            return Ok(false);
        };
        let pid = Pid::from_raw(i32::try_from(pid).context("a pid beyond i32")?);
        kill(pid, signal).with_context(|| format!("sending {signal} to node {id}"))?;
        Ok(true)
    }

    /// SIGSTOPs node `id` (a process pause: a GC pause or a frozen VM); returns whether it ran.
    pub fn pause(&mut self, id: u8) -> anyhow::Result<bool> {
        let stopped = !self.node(id).paused && self.signal(id, Signal::SIGSTOP)?;
        if stopped {
            self.node(id).paused = true;
        }
        Ok(stopped)
    }

    /// SIGCONTs node `id` if it is paused.
    pub fn resume(&mut self, id: u8) -> anyhow::Result<()> {
        if self.node(id).paused {
            self.signal(id, Signal::SIGCONT)?;
            self.node(id).paused = false;
        }
        Ok(())
    }

    /// Sets the fault of the link `from → to`. With namespaces a link is either up or cut: a
    /// lossy link is cut (the kernel here has no `netem` to lose a share of packets).
    pub fn set_link(&self, from: u8, to: u8, fault: LinkFault) -> anyhow::Result<()> {
        if let Some(ns) = &self.netns {
            return match fault {
                LinkFault::Up => Ok(()),
                LinkFault::Cut | LinkFault::Lossy { .. } => ns.block(from, to),
            };
        }
        if let Some(proxy) = self.proxies.get(&to) {
            proxy.set(from, fault);
        }
        Ok(())
    }

    /// Every link up.
    pub fn heal_links(&self) -> anyhow::Result<()> {
        for proxy in self.proxies.values() {
            proxy.heal();
        }
        match &self.netns {
            Some(ns) => ns.heal(),
            None => Ok(()),
        }
    }

    /// Kills every node (at the end of a run).
    pub async fn stop(&mut self) {
        for id in 1..=self.nodes.len() as u8 {
            let _ = self.kill(id).await;
        }
    }
}
