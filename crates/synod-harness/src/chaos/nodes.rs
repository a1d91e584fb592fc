//! The chaos run's cluster: real node processes on 127.0.0.1 (`synod serve`'s entry point, run by
//! a [`NodeCommand`]), whose peer links all go through [`Proxy`]s, and which the nemesis can
//! SIGKILL and restart.
//!
//! Node `i` listens for peers on its own port, but its `--peers` list names, for every other
//! node `j`, the proxy of the link `i → j`. So every byte between nodes crosses a proxy the run
//! controls, and the processes run the production node, unmodified.

use super::proxy::{LinkFault, Proxy};
use anyhow::{bail, Context};
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
}

/// The processes and the proxies between them.
#[derive(Debug)]
pub struct ChaosCluster {
    node: NodeCommand,
    /// The nodes, node 1 first.
    pub nodes: Vec<NodeProc>,
    /// The proxy of each directed link `(from, to)`.
    pub links: BTreeMap<(u8, u8), Proxy>,
    serve_args: Vec<String>,
    env: Vec<(String, String)>,
    log_dir: PathBuf,
}

impl ChaosCluster {
    /// Starts `n` nodes with `node` under `root`, with `serve_args` added to every node's flags,
    /// and waits until all are healthy.
    pub async fn start(
        node: &NodeCommand,
        root: &Path,
        n: u8,
        serve_args: Vec<String>,
        env: Vec<(String, String)>,
        seed: u64,
    ) -> anyhow::Result<Self> {
        let mut nodes = Vec::new();
        for id in 1..=n {
            nodes.push(NodeProc {
                id,
                http: format!("http://127.0.0.1:{}", free_port()?),
                peer: SocketAddr::from(([127, 0, 0, 1], free_port()?)),
                data: root.join(format!("node-{id}")),
                child: None,
            });
        }
        let mut links = BTreeMap::new();
        for from in 1..=n {
            for to in 1..=n {
                if from != to {
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
                let addr = if n.id == id {
                    n.peer
                } else {
                    self.links[&(id, n.id)].addr
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
        let mut command = self.node.command();
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

    /// SIGKILLs node `id` and reaps it.
    pub async fn kill(&mut self, id: u8) -> anyhow::Result<()> {
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

    /// Sets the fault of the link `from → to`.
    pub fn set_link(&self, from: u8, to: u8, fault: LinkFault) {
        if let Some(proxy) = self.links.get(&(from, to)) {
            proxy.set(fault);
        }
    }

    /// Every link up.
    pub fn heal_links(&self) {
        for proxy in self.links.values() {
            proxy.set(LinkFault::Up);
        }
    }

    /// Kills every node (at the end of a run).
    pub async fn stop(&mut self) {
        for id in 1..=self.nodes.len() as u8 {
            let _ = self.kill(id).await;
        }
    }
}
