//! `synod cluster`: the one-command way to try Synod. Starts N `synod serve` child processes (or
//! whatever [`NodeCommand`] the caller names) on
//! loopback (node i gets peer port `base_port + i - 1` and HTTP port `http_base_port + i - 1`),
//! each with a fresh temporary data directory unless `--data-root` is given (see [`plan_init`]
//! for when its directories are initialised), waits until every node answers `/health` *as
//! itself* (its node id and the pid of the child just started: another process on the port does
//! not count), prints the endpoints, and on Ctrl-C or SIGTERM stops every child with SIGTERM
//! (SIGKILL after a grace period) before removing the temporary directories. The children die
//! with the launcher even when it is killed with SIGKILL ([`super::parent_death`]). A node that
//! fails to start stops the others and makes the command fail; so does a node that exits on its
//! own while the cluster runs (reported when the cluster stops). With `--tls`, a throw-away CA
//! and node certificates are made in `ROOT/tls` and every node runs peer mutual TLS and HTTPS.

use super::security_args::SecurityArgs;
use super::serve::{shutdown_signal, Tuning};
use super::NodeCommand;
use crate::client::Client;
use crate::client_options::ClientOptions;
use crate::server::DEFAULT_CLUSTER_ID;
use anyhow::{bail, Context};
use clap::Args;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// `synod cluster` options.
#[derive(Args, Debug, Clone)]
pub struct ClusterArgs {
    /// Number of nodes (1..63).
    #[arg(long, default_value_t = 3)]
    pub nodes: u8,
    /// Peer port of node 1; node i listens on base + i - 1.
    #[arg(long, default_value_t = 7001)]
    pub base_port: u16,
    /// HTTP port of node 1; node i serves on base + i - 1.
    #[arg(long, default_value_t = 8081)]
    pub http_base_port: u16,
    /// Keep data in `ROOT/node-<i>` instead of temporary directories. A new cluster is initialised
    /// only when every node's directory is missing or empty; if some hold data and others do
    /// not, nothing is started (a node without its durable promises cannot rejoin).
    #[arg(long)]
    pub data_root: Option<PathBuf>,
    /// The cluster id.
    #[arg(long, default_value = DEFAULT_CLUSTER_ID)]
    pub cluster_id: String,
    /// Timeouts and limits, passed on to every node.
    #[command(flatten)]
    pub tuning: Tuning,
    /// Secure the cluster: make a throw-away CA and node certificates in `ROOT/tls` (reusing the
    /// CA a `--data-root` already holds) and run every node with peer mutual TLS and HTTPS.
    #[arg(long)]
    pub tls: bool,
}

struct Child {
    id: u8,
    pid: Option<u32>,
    http: String,
}

type Exits = mpsc::UnboundedReceiver<(u8, std::io::Result<ExitStatus>)>;

/// A running local cluster: its child processes and (unless `--data-root` was given) the
/// temporary directory holding their data. Also used by `synod-harness bench --cluster N`.
pub struct LocalCluster {
    children: Vec<Child>,
    exited: Exits,
    root: PathBuf,
    temp: Option<tempfile::TempDir>,
    client: ClientOptions,
}

impl LocalCluster {
    /// Starts the cluster, each node by `node` (e.g. `synod serve`), and waits until every
    /// node answers `/health`; on failure, every child started so far is stopped.
    pub async fn start(args: &ClusterArgs, node: &NodeCommand) -> anyhow::Result<Self> {
        if args.nodes == 0 || args.nodes >= synod_core::NodeId::LIMIT {
            bail!(
                "--nodes must be between 1 and {}",
                synod_core::NodeId::LIMIT - 1
            );
        }
        let port = |base: u16, i: u8| {
            base.checked_add(u16::from(i) - 1)
                .context("port number out of range")
        };
        let mut peers = Vec::new();
        for i in 1..=args.nodes {
            peers.push(format!("{i}=127.0.0.1:{}", port(args.base_port, i)?));
        }
        let peers = peers.join(",");
        let temp = match &args.data_root {
            Some(_) => None,
            None => Some(
                tempfile::Builder::new()
                    .prefix("synod-cluster-")
                    .tempdir()?,
            ),
        };
        let root = match (&args.data_root, &temp) {
            (Some(root), _) => root.clone(),
            (None, Some(temp)) => temp.path().to_owned(),
            (None, None) => unreachable!("a temporary directory exists when no root is given"),
        };
        let dirs: Vec<(u8, PathBuf)> = (1..=args.nodes)
            .map(|i| (i, root.join(format!("node-{i}"))))
            .collect();
        let init = match &args.data_root {
            Some(_) => plan_init(&dirs)?,
            None => true,
        };
        let certs = root.join("tls");
        let client = if args.tls {
            let hosts = ["localhost".to_owned(), "127.0.0.1".to_owned()];
            let ids = (1..=args.nodes).map(synod_core::NodeId);
            crate::certs::make_cluster(&certs, &args.cluster_id, ids, &hosts, "admin", 30)
                .context("making the cluster's certificates")?;
            ClientOptions::default().with_tls(&certs.join("ca.pem"), None)?
        } else {
            ClientOptions::default()
        };
        let scheme = if args.tls { "https" } else { "http" };
        let (exited_tx, exited) = mpsc::unbounded_channel::<(u8, std::io::Result<ExitStatus>)>();
        let mut cluster = LocalCluster {
            children: Vec::new(),
            exited,
            root,
            temp,
            client,
        };
        for (i, data) in dirs {
            let http = format!("127.0.0.1:{}", port(args.http_base_port, i)?);
            let mut command = node.command();
            command
                .arg(format!("--id={i}"))
                .arg(format!("--peers={peers}"))
                .arg(format!("--http={http}"))
                .arg("--data")
                .arg(&data)
                .arg(format!("--cluster-id={}", args.cluster_id))
                .args(args.tuning.to_args())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                // Their own process group: a Ctrl-C at the terminal reaches the launcher only,
                // which stops them itself (so their exits are never taken for failures).
                .process_group(0)
                .kill_on_drop(true);
            if init {
                command.arg("--init");
            }
            if args.tls {
                let own = |suffix: &str| certs.join(format!("node-{i}{suffix}.pem"));
                command.args(
                    SecurityArgs {
                        peer_cert: Some(own("")),
                        peer_key: Some(own("-key")),
                        peer_ca: Some(certs.join("ca.pem")),
                        http_cert: Some(own("")),
                        http_key: Some(own("-key")),
                        ..SecurityArgs::default()
                    }
                    .to_args(),
                );
            }
            let (key, value) = super::parent_death::env_for_child();
            command.env(key, value);
            // Quiet children unless the user chose a filter (either variable).
            if std::env::var_os("SYNOD_LOG").is_none() && std::env::var_os("RUST_LOG").is_none() {
                command.env("SYNOD_LOG", "warn");
            }
            let mut child = match command.spawn() {
                Ok(child) => child,
                Err(e) => {
                    drop(exited_tx);
                    cluster.stop().await;
                    return Err(e).with_context(|| format!("starting node {i}"));
                }
            };
            let pid = child.id();
            let tx = exited_tx.clone();
            tokio::spawn(async move {
                let status = child.wait().await;
                let _ = tx.send((i, status));
            });
            cluster.children.push(Child {
                id: i,
                pid,
                http: format!("{scheme}://{http}"),
            });
        }
        drop(exited_tx);

        let outcome = tokio::select! {
            ready = await_ready(&cluster.children, &cluster.client) => ready,
            Some((id, status)) = cluster.exited.recv() => Err(anyhow::anyhow!(
                "node {id} {} during start-up (its error is above); the other nodes were stopped",
                describe_exit(&status)
            )),
        };
        if let Err(e) = outcome {
            cluster.stop().await;
            return Err(e);
        }
        Ok(cluster)
    }

    /// The nodes' HTTP endpoints (`http://127.0.0.1:PORT`), node 1 first.
    pub fn endpoints(&self) -> Vec<String> {
        self.children.iter().map(|c| c.http.clone()).collect()
    }

    /// How a client reaches the nodes (the CA to trust when the cluster runs TLS).
    pub fn client_options(&self) -> &ClientOptions {
        &self.client
    }

    /// The directory of the cluster's certificates (with `--tls`).
    pub fn certs_dir(&self) -> PathBuf {
        self.root.join("tls")
    }

    /// SIGTERM to every child, then waits (SIGKILL for those still running after 5 s), then
    /// removes the temporary data.
    pub async fn stop(mut self) {
        stop(&self.children, &mut self.exited).await;
        drop(self.temp);
    }
}

/// Runs the cluster (`synod cluster`: nodes started by `node`) until a signal.
pub async fn run_cluster(args: ClusterArgs, node: &NodeCommand) -> anyhow::Result<()> {
    let mut cluster = LocalCluster::start(&args, node).await?;
    println!(
        "synod cluster of {} nodes is up (data in {}):",
        args.nodes,
        cluster.root.display()
    );
    for child in &cluster.children {
        println!(
            "  node {}: {}  (pid {})",
            child.id,
            child.http,
            child.pid.unwrap_or(0)
        );
    }
    if args.tls {
        println!(
            "TLS: peers use mutual TLS, clients HTTPS; CA and certificates in {}",
            cluster.certs_dir().display()
        );
        println!(
            "try: SYNOD_CACERT={} synod put --endpoint {} greeting hello; press Ctrl-C to stop",
            cluster.certs_dir().join("ca.pem").display(),
            cluster.children[0].http
        );
    } else {
        println!(
            "try: synod put --endpoint {} greeting hello; press Ctrl-C to stop",
            cluster.children[0].http
        );
    }
    let mut running = cluster.children.len();
    let mut lost = Vec::new();
    loop {
        tokio::select! {
            signal = shutdown_signal() => {
                println!("{signal}: stopping the cluster");
                break;
            }
            Some((id, status)) = cluster.exited.recv() => {
                running -= 1;
                eprintln!("node {id} {} ({running} still running)", describe_exit(&status));
                lost.push(id);
                if running == 0 {
                    break;
                }
            }
        }
    }
    cluster.stop().await;
    if !lost.is_empty() {
        lost.sort_unstable();
        bail!(
            "{} of the cluster exited on {} own while it ran",
            nodes(&lost),
            if lost.len() == 1 { "its" } else { "their" }
        );
    }
    Ok(())
}

/// `exited with code 1`, `was killed by signal 9 (SIGKILL)`, … for a child's end.
fn describe_exit(status: &std::io::Result<ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => format!("exited with code {code}"),
            (None, Some(signal)) => match Signal::try_from(signal) {
                Ok(name) => format!("was killed by signal {signal} ({name})"),
                Err(_) => format!("was killed by signal {signal}"),
            },
            (None, None) => format!("ended ({status})"),
        },
        Err(e) => format!("could not be waited for ({e})"),
    }
}

/// Whether the node directories `dirs` (id, path) are to be initialised: `true` if every one is
/// missing or empty (a brand-new cluster), `false` if every one holds data (a restart). A mix is
/// an error naming the nodes without data: such a node has lost its promises, and initialising it
/// afresh under its old id would let it accept what it promised to refuse — agreement could break.
fn plan_init(dirs: &[(u8, PathBuf)]) -> anyhow::Result<bool> {
    let mut empty = Vec::new();
    let mut holding = Vec::new();
    for (id, dir) in dirs {
        if is_missing_or_empty(dir)? {
            empty.push((*id, dir));
        } else {
            holding.push(*id);
        }
    }
    if holding.is_empty() {
        return Ok(true);
    }
    if empty.is_empty() {
        return Ok(false);
    }
    let empty_ids: Vec<u8> = empty.iter().map(|(id, _)| *id).collect();
    let paths = empty
        .iter()
        .map(|(_, dir)| dir.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    bail!(
        "refusing to start: the data of {} ({paths}) {} missing or empty, while {} {} data. \
         A node without its durable promises cannot rejoin the cluster: initialising it afresh \
         under its old id could make it accept what it promised to refuse, and break agreement. \
         Restore its data directory (replacing a lost node will be done by a membership change, \
         which is not supported yet); to start a brand-new cluster, give an empty or missing \
         --data-root.",
        nodes(&empty_ids),
        if empty_ids.len() == 1 { "is" } else { "are" },
        nodes(&holding),
        if holding.len() == 1 { "holds" } else { "hold" },
    )
}

/// `node 2` or `nodes 1, 3`.
fn nodes(ids: &[u8]) -> String {
    let list = ids.iter().map(u8::to_string).collect::<Vec<_>>().join(", ");
    if ids.len() == 1 {
        format!("node {list}")
    } else {
        format!("nodes {list}")
    }
}

fn is_missing_or_empty(dir: &Path) -> anyhow::Result<bool> {
    if !dir.exists() {
        return Ok(true);
    }
    let mut entries =
        std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    Ok(entries.next().is_none())
}

/// Waits until every child answers `/health` as itself: its node id and its own pid. A node
/// answering with another pid is some other process on the port (a cluster left running, say),
/// which must not pass for the one just started.
async fn await_ready(children: &[Child], options: &ClientOptions) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    for child in children {
        let client = Client::with_options(&child.http, Duration::from_secs(1), options)?;
        loop {
            let last = match client.health().await {
                Ok(health) if health.pid == child.pid && health.node == Some(child.id) => break,
                Ok(health) => format!(
                    "{} answers as node {} (pid {}), not as node {} (pid {}): is another \
                     cluster using the port?",
                    child.http,
                    health.node.map_or("?".into(), |n| n.to_string()),
                    health.pid.map_or("?".into(), |p| p.to_string()),
                    child.id,
                    child.pid.map_or("?".into(), |p| p.to_string()),
                ),
                Err(e) => format!("{}: {e}", child.http),
            };
            if Instant::now() > deadline {
                bail!("node {} did not become ready within 20 s: {last}", child.id);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

/// SIGTERM to every child, then waits (SIGKILL for those still running after 5 s).
async fn stop(children: &[Child], exited: &mut Exits) {
    let signal = |sig| {
        for child in children {
            if let Some(pid) = child.pid.and_then(|p| i32::try_from(p).ok()) {
                let _ = kill(Pid::from_raw(pid), sig);
            }
        }
    };
    signal(Signal::SIGTERM);
    let grace = tokio::time::sleep(Duration::from_secs(5));
    tokio::pin!(grace);
    loop {
        tokio::select! {
            next = exited.recv() => if next.is_none() { return },
            _ = &mut grace => {
                signal(Signal::SIGKILL);
                while exited.recv().await.is_some() {}
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_is_initialised_whole_or_not_at_all() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs: Vec<(u8, PathBuf)> = (1..=3)
            .map(|i| (i, tmp.path().join(format!("node-{i}"))))
            .collect();
        // Brand new: missing or empty directories.
        std::fs::create_dir(&dirs[0].1).unwrap();
        assert!(plan_init(&dirs).unwrap());
        // All hold data: a restart.
        for (_, dir) in &dirs {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(dir.join("synod.redb"), b"x").unwrap();
        }
        assert!(!plan_init(&dirs).unwrap());
        // One lost its data: refused, naming it.
        std::fs::remove_file(dirs[1].1.join("synod.redb")).unwrap();
        let err = plan_init(&dirs).unwrap_err().to_string();
        assert!(err.contains("the data of node 2 ("), "{err}");
        assert!(err.contains("while nodes 1, 3 hold data"), "{err}");
        assert!(err.contains("cannot rejoin"), "{err}");
        std::fs::remove_dir(&dirs[1].1).unwrap();
        std::fs::remove_dir_all(&dirs[2].1).unwrap();
        let err = plan_init(&dirs).unwrap_err().to_string();
        assert!(err.contains("the data of nodes 2, 3 ("), "{err}");
        assert!(err.contains("while node 1 holds data"), "{err}");
    }
}
