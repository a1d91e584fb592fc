//! The chaos run's cluster: real node processes (`synod serve`'s entry point, run by a
//! [`NodeCommand`]) which the nemesis can SIGKILL and restart, SIGSTOP and SIGCONT, and whose
//! peer links it can cut — through one of two networks:
//!
//! * **proxies** (the default): the nodes listen on 127.0.0.1; node `i` listens for peers on
//!   its own port, but its `--peers` list names, for every other node `j`, the proxy of the link
//!   `i → j`, so every byte between nodes crosses a [`Proxy`] the run controls;
//! * **namespaces** ([`Namespaces`]): each node in its own network namespace at its own address,
//!   peers dialled directly, and a cut link is a kernel route that drops the packets.
//!
//! Either way the processes run the production node, unmodified.

use super::netns::Namespaces;
use super::proxy::{LinkFault, Proxy};
use anyhow::{bail, Context};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use synod_server::cli::NodeCommand;
use tokio::process::Child;

/// Picks a free port on 127.0.0.1 (bind to port 0 and release it).
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// One node process.
#[derive(Debug)]
pub struct NodeProc {
    /// Node id (1-based).
    pub id: u8,
    /// The HTTP endpoint, `http://127.0.0.1:PORT`.
    pub http: String,
    /// Where it listens for peers.
    pub peer: SocketAddr,
    /// Its data directory.
    pub data: PathBuf,
    child: Option<Child>,
    paused: bool,
}

/// The processes and the proxies between them.
#[derive(Debug)]
pub struct ChaosCluster {
    node: NodeCommand,
    /// The nodes, node 1 first.
    pub nodes: Vec<NodeProc>,
    /// The proxy of each directed link `(from, to)` (none with namespaces).
    pub links: BTreeMap<(u8, u8), Proxy>,
    /// The namespaces, when the run uses them instead of proxies.
    pub netns: Option<Namespaces>,
    serve_args: Vec<String>,
    env: Vec<(String, String)>,
    log_dir: PathBuf,
}

impl ChaosCluster {
    /// Starts `n` nodes with `node` under `root`, with `serve_args` added to every node's flags,
    /// and waits until all are healthy. With `netns`, each node runs in its namespace and no
    /// proxy is started.
    pub async fn start(
        node: &NodeCommand,
        root: &Path,
        n: u8,
        serve_args: Vec<String>,
        env: Vec<(String, String)>,
        seed: u64,
        netns: Option<Namespaces>,
    ) -> anyhow::Result<Self> {
        let mut nodes = Vec::new();
        for id in 1..=n {
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
            nodes.push(NodeProc {
                id,
                http,
                peer,
                data: root.join(format!("node-{id}")),
                child: None,
                paused: false,
            });
        }
        let mut links = BTreeMap::new();
        for from in 1..=n {
            for to in 1..=n {
                if from != to && netns.is_none() {
                    let target = nodes[usize::from(to) - 1].peer;
                    let proxy = Proxy::start(target, seed ^ (u64::from(from) << 8 | u64::from(to)))
                        .await
                        .context("starting a link proxy")?;
                    links.insert((from, to), proxy);
                }
            }
        }
        let mut cluster = ChaosCluster {
            node: node.clone(),
            nodes,
            links,
            netns,
            serve_args,
            env,
            log_dir: root.to_owned(),
        };
        for id in 1..=n {
            cluster.spawn(id, true)?;
        }
        for id in 1..=n {
            cluster.await_healthy(id).await?;
        }
        Ok(cluster)
    }

    fn node(&mut self, id: u8) -> &mut NodeProc {
        &mut self.nodes[usize::from(id) - 1]
    }

    /// The peer list node `id` is started with: itself, and the proxies of its links.
    fn peers_of(&self, id: u8) -> String {
        self.nodes
            .iter()
            .map(|n| {
                let addr = match self.links.get(&(id, n.id)) {
                    Some(proxy) => proxy.addr,
                    None => n.peer,
                };
                format!("{}={addr}", n.id)
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    fn spawn(&mut self, id: u8, init: bool) -> anyhow::Result<()> {
        let peers = self.peers_of(id);
        let node = &self.nodes[usize::from(id) - 1];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_dir.join(format!("node-{id}.log")))?;
        let mut command = match &self.netns {
            Some(ns) => ns.wrap(id, &self.node).command(),
            None => self.node.command(),
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
            .args(&self.serve_args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env(
                "SYNOD_LOG",
                std::env::var("SYNOD_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true);
        if init {
            command.arg("--init");
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting node {id}"))?;
        self.node(id).child = Some(child);
        Ok(())
    }

    /// Polls `/health` of node `id` until it answers (fails after 30 s or if the process died).
    pub async fn await_healthy(&mut self, id: u8) -> anyhow::Result<()> {
        let client = synod_server::Client::new(
            &self.nodes[usize::from(id) - 1].http,
            Duration::from_secs(2),
        )?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while client.health().await.is_err() {
            if let Some(child) = self.node(id).child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    bail!("node {id} exited during start-up: {status}");
                }
            }
            if tokio::time::Instant::now() > deadline {
                bail!("node {id} never became healthy");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Whether node `id` is running.
    pub fn is_up(&self, id: u8) -> bool {
        self.nodes[usize::from(id) - 1].child.is_some()
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

    /// Restarts node `id` on its data directory and waits until it is healthy.
    pub async fn restart(&mut self, id: u8) -> anyhow::Result<()> {
        if self.is_up(id) {
            return Ok(());
        }
        self.spawn(id, false)?;
        self.await_healthy(id).await
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
        if let Some(proxy) = self.links.get(&(from, to)) {
            proxy.set(fault);
        }
        Ok(())
    }

    /// Every link up.
    pub fn heal_links(&self) -> anyhow::Result<()> {
        for proxy in self.links.values() {
            proxy.set(LinkFault::Up);
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
