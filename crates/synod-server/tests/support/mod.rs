//! Test support: real `synod serve` processes on 127.0.0.1 with ephemeral ports and temporary
//! data directories. Readiness is awaited by polling `/health`, never by sleeping a fixed time.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use synod_server::{CertFiles, Client, ClientError, ClientOptions};

/// Short timeouts so failure paths finish quickly.
pub const FAST: &[&str] = &[
    "--round-timeout-ms=200",
    "--backoff-base-ms=5",
    "--backoff-max-ms=100",
    "--request-timeout-ms=2000",
];

/// A port nobody listens on right now, below the kernel's ephemeral range (so that outgoing
/// connections, which take ephemeral ports, never occupy it) and never handed out twice by this
/// test process.
pub fn free_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let _ = NEXT.compare_exchange(
        0,
        10_000 + (std::process::id() % 2_000) as u16 * 10,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    loop {
        let port = NEXT.fetch_add(1, Ordering::SeqCst);
        assert!(port < 32_000, "ran out of test ports");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// `base` and `base + 1 .. base + n - 1` all free (for `synod cluster`'s consecutive ports).
pub fn free_run(n: u16) -> u16 {
    loop {
        let base = free_port();
        if (1..n).all(|i| free_port() == base + i) {
            return base;
        }
    }
}

/// Whether process `pid` is gone (or a zombie nobody reaped yet: it runs no more).
pub fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which is in parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => true,
    }
}

/// Polls `condition` every 20 ms until it holds; panics with `what` after 20 s.
pub async fn await_condition(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One node process.
pub struct NodeProc {
    pub id: u8,
    pub http: String,
    pub peer: SocketAddr,
    pub data: PathBuf,
    pub child: Option<Child>,
}

/// N nodes of one cluster.
pub struct TestCluster {
    pub dir: tempfile::TempDir,
    pub nodes: Vec<NodeProc>,
    pub peers: String,
    pub cluster_id: String,
    pub extra: Vec<String>,
    /// With TLS: the directory of the cluster's CA and certificates (`synod_server::make_cluster`).
    pub tls: Option<PathBuf>,
    /// How this cluster's own clients connect (CA, client certificate, token).
    pub options: ClientOptions,
}

impl TestCluster {
    /// Starts `n` nodes with the [`FAST`] settings plus `extra` flags, and waits until all are
    /// healthy.
    pub async fn start(n: u8, extra: &[&str]) -> Self {
        let mut cluster = Self::layout(n, extra, false);
        cluster.launch().await;
        cluster
    }

    /// Starts `n` nodes with peer mutual TLS and HTTPS (certificates made in `dir/tls`: a CA,
    /// `node-<i>` and `client-admin`), plus `extra`; with `client_certs`, HTTPS clients must
    /// present a certificate of the cluster CA (this cluster's clients present `client-admin`);
    /// with `token`, this cluster's clients send it.
    pub async fn start_tls(n: u8, extra: &[&str], client_certs: bool, token: Option<&str>) -> Self {
        let mut cluster = Self::layout(n, extra, true);
        let certs = cluster.tls.clone().unwrap();
        let admin = CertFiles {
            cert: certs.join("client-admin.pem"),
            key: certs.join("client-admin-key.pem"),
        };
        let mut options = ClientOptions::default()
            .with_tls(&certs.join("ca.pem"), client_certs.then_some(&admin))
            .unwrap();
        if client_certs {
            cluster.extra.push(format!(
                "--http-client-ca={}",
                certs.join("ca.pem").display()
            ));
        }
        if let Some(token) = token {
            options = options.with_token(token);
        }
        cluster.options = options;
        cluster.launch().await;
        cluster
    }

    fn layout(n: u8, extra: &[&str], tls: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let scheme = if tls { "https" } else { "http" };
        let nodes: Vec<NodeProc> = (1..=n)
            .map(|id| NodeProc {
                id,
                http: format!("{scheme}://127.0.0.1:{}", free_port()),
                peer: format!("127.0.0.1:{}", free_port()).parse().unwrap(),
                data: dir.path().join(format!("node-{id}")),
                child: None,
            })
            .collect();
        let peers = nodes
            .iter()
            .map(|n| format!("{}={}", n.id, n.peer))
            .collect::<Vec<_>>()
            .join(",");
        let certs = dir.path().join("tls");
        if tls {
            let hosts = ["localhost".to_owned(), "127.0.0.1".to_owned()];
            let ids = (1..=n).map(synod_core::NodeId);
            synod_server::make_cluster(&certs, "test-cluster", ids, &hosts, "admin", 1).unwrap();
        }
        TestCluster {
            dir,
            nodes,
            peers,
            cluster_id: "test-cluster".into(),
            extra: FAST.iter().chain(extra).map(|s| s.to_string()).collect(),
            tls: tls.then_some(certs),
            options: ClientOptions::default(),
        }
    }

    async fn launch(&mut self) {
        let n = u8::try_from(self.nodes.len()).unwrap();
        for id in 1..=n {
            self.spawn(id, true);
        }
        for id in 1..=n {
            self.await_healthy(id).await;
        }
    }

    fn node(&mut self, id: u8) -> &mut NodeProc {
        &mut self.nodes[usize::from(id) - 1]
    }

    /// The `synod serve` command line of node `id`.
    pub fn command(&self, id: u8, init: bool) -> Command {
        let node = &self.nodes[usize::from(id) - 1];
        let mut command = Command::new(env!("CARGO_BIN_EXE_synod"));
        command
            .arg("serve")
            .arg(format!("--id={id}"))
            .arg(format!("--peers={}", self.peers))
            .arg(format!("--http={}", node.http.split("://").last().unwrap()))
            .arg("--data")
            .arg(&node.data)
            .arg(format!("--cluster-id={}", self.cluster_id))
            .args(&self.extra)
            .args(self.tls_args(id))
            .env("SYNOD_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        if init {
            command.arg("--init");
        }
        command
    }

    /// Node `id`'s TLS flags (none without TLS).
    fn tls_args(&self, id: u8) -> Vec<String> {
        let Some(certs) = &self.tls else {
            return Vec::new();
        };
        let file = |name: String| certs.join(name).display().to_string();
        let (cert, key) = (
            file(format!("node-{id}.pem")),
            file(format!("node-{id}-key.pem")),
        );
        vec![
            format!("--peer-cert={cert}"),
            format!("--peer-key={key}"),
            format!("--peer-ca={}", file("ca.pem".into())),
            format!("--http-cert={cert}"),
            format!("--http-key={key}"),
        ]
    }

    fn spawn(&mut self, id: u8, init: bool) {
        let child = self.command(id, init).spawn().expect("spawn synod serve");
        self.node(id).child = Some(child);
    }

    /// Polls `/health` of node `id` until it answers (panics after 20 s or if the process died).
    pub async fn await_healthy(&mut self, id: u8) {
        let client = self.client(id);
        let deadline = Instant::now() + Duration::from_secs(20);
        while client.health().await.is_err() {
            if let Some(status) = self.node(id).child.as_mut().unwrap().try_wait().unwrap() {
                panic!("node {id} exited during start-up: {status}");
            }
            assert!(Instant::now() < deadline, "node {id} never became healthy");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Polls `/cluster` until node `id` has (`true`) or has not (`false`) a live connection to
    /// node `peer` (panics after 20 s).
    pub async fn await_link(&self, id: u8, peer: u8, up: bool) {
        let client = self.client(id);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(info) = client.cluster().await {
                if info.connected.contains(&peer) == up {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "node {id} never saw its link to node {peer} {}",
                if up { "up" } else { "down" }
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until every running node has a live connection to every other running node (so
    /// that requests reach their key's home).
    pub async fn await_connected(&self) {
        let running: Vec<u8> = self
            .nodes
            .iter()
            .filter(|n| n.child.is_some())
            .map(|n| n.id)
            .collect();
        for &id in &running {
            for &peer in running.iter().filter(|&&p| p != id) {
                self.await_link(id, peer, true).await;
            }
        }
    }

    /// Sends `signal` to node `id`'s process.
    fn signal(&self, id: u8, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.pid(id)).unwrap());
        nix::sys::signal::kill(pid, signal).unwrap();
    }

    /// The process id of running node `id`.
    fn pid(&self, id: u8) -> u32 {
        self.nodes[usize::from(id) - 1].child.as_ref().unwrap().id()
    }

    /// Freezes node `id` (SIGSTOP): its connections stay open, but it answers nothing. Returns
    /// once every thread of the process is stopped: `kill` returns when the signal is queued,
    /// and on a loaded machine the node's other threads can go on serving requests until the
    /// thread that takes the signal is scheduled and stops the rest.
    pub async fn pause(&self, id: u8) {
        self.signal(id, nix::sys::signal::Signal::SIGSTOP);
        let pid = self.pid(id);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !every_thread_stopped(pid) {
            assert!(Instant::now() < deadline, "node {id} never stopped");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Lets a paused node `id` go on (SIGCONT).
    pub fn resume(&self, id: u8) {
        self.signal(id, nix::sys::signal::Signal::SIGCONT);
    }

    /// SIGKILLs node `id`.
    pub fn kill(&mut self, id: u8) {
        if let Some(mut child) = self.node(id).child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Restarts node `id` on its existing data directory and waits until it is healthy.
    pub async fn restart(&mut self, id: u8) {
        self.spawn(id, false);
        self.await_healthy(id).await;
    }

    /// A client of node `id` (its HTTP timeout is above the server's request timeout).
    pub fn client(&self, id: u8) -> Client {
        Client::with_options(
            &self.nodes[usize::from(id) - 1].http,
            Duration::from_secs(10),
            &self.options,
        )
        .unwrap()
    }

    /// The HTTP endpoint of node `id`.
    pub fn http(&self, id: u8) -> &str {
        &self.nodes[usize::from(id) - 1].http
    }

    /// The peer address of node `id`.
    pub fn peer(&self, id: u8) -> SocketAddr {
        self.nodes[usize::from(id) - 1].peer
    }

    /// The value of a counter in node `id`'s `/metrics`.
    pub async fn counter(&self, id: u8, name: &str) -> u64 {
        let text = self.client(id).metrics().await.unwrap();
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no counter {name} in:\n{text}"))
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Retries `op` while the server answers 503 (no quorum yet, e.g. while peers reconnect), up to
/// 20 s; returns the first other result.
pub async fn until_available<T, F, Fut>(mut op: F) -> Result<T, ClientError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ClientError>>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match op().await {
            Err(e) if e.status() == Some(503) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return other,
        }
    }
}

/// The bytes of every file under `dir` (recursively), by path; empty if `dir` does not exist.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(snapshot(&path));
        } else {
            files.insert(path.clone(), std::fs::read(&path).unwrap());
        }
    }
    files
}

/// Snapshots of `dirs` once they have stopped changing. A write acknowledged by a quorum may
/// still be landing on the other nodes (the slowest node's `Accept` is in flight after the
/// reply), so a test that compares directories before and after something must start from
/// settled ones: two snapshots taken 500 ms apart must be equal (20 s at most).
pub async fn settled_snapshots(dirs: &[&Path]) -> Vec<BTreeMap<PathBuf, Vec<u8>>> {
    let take = || dirs.iter().map(|d| snapshot(d)).collect::<Vec<_>>();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = take();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = take();
        if now == last {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "the data directories never settled"
        );
        last = now;
    }
}

/// The files that differ between two snapshots, for a failure message.
pub fn changed_files(
    before: &BTreeMap<PathBuf, Vec<u8>>,
    after: &BTreeMap<PathBuf, Vec<u8>>,
) -> Vec<PathBuf> {
    before
        .keys()
        .chain(after.keys())
        .filter(|p| before.get(*p) != after.get(*p))
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// A `synod serve` process whose stderr (its log) is collected.
pub struct LoggedNode {
    pub child: Child,
    pub log: Arc<Mutex<String>>,
    pub client: Client,
}

impl LoggedNode {
    /// Starts `synod serve --init` as node `id` with `peers`, HTTP on `http`, data in
    /// `dir/node-<id>`, the [`FAST`] settings plus `extra`, logging at `warn`.
    pub fn start(dir: &Path, id: u8, peers: &str, http: u16, extra: &[&str]) -> Self {
        Self::start_with_env(dir, id, peers, http, extra, &[])
    }

    /// The same with environment variables `env` (e.g. another `SYNOD_LOG`).
    pub fn start_with_env(
        dir: &Path,
        id: u8,
        peers: &str,
        http: u16,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_synod"))
            .arg("serve")
            .arg(format!("--id={id}"))
            .arg(format!("--peers={peers}"))
            .arg(format!("--http=127.0.0.1:{http}"))
            .arg("--data")
            .arg(dir.join(format!("node-{id}")))
            .arg("--init")
            .args(FAST)
            .args(extra)
            .env("SYNOD_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let client =
            Client::new(&format!("http://127.0.0.1:{http}"), Duration::from_secs(10)).unwrap();
        LoggedNode { child, log, client }
    }

    /// Waits until the log contains `text` (panics after 20 s).
    pub async fn await_log(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.log.lock().unwrap().contains(text) {
            assert!(
                Instant::now() < deadline,
                "no {text:?} in the log:\n{}",
                self.log.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// How many times the log contains `text` so far.
    pub fn count(&self, text: &str) -> usize {
        self.log.lock().unwrap().matches(text).count()
    }
}

impl Drop for LoggedNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A forged peer frame: an `Accept` of `value` for `key` at a huge ballot "from node `from`". If a
/// node's acceptor took it, every later read of `key` through that node would return `value`, so
/// a test that sends it and then reads shows whether it was refused.
pub fn forged_accept(from: u8, key: &'static str, value: &'static str) -> bytes::Bytes {
    use synod_core::{Ballot, Message, NodeId};
    synod_server::wire::encode_batch(&[synod_server::wire::Envelope {
        from: NodeId(from),
        key: bytes::Bytes::from_static(key.as_bytes()),
        msg: Message::Accept {
            ballot: Ballot::new(1_000_000, NodeId(from)),
            value: Some(bytes::Bytes::from_static(value.as_bytes())),
            next: None,
        },
    }])
}

/// `GET url`: the status and the body as JSON.
pub async fn get_json(url: &str) -> (u16, serde_json::Value) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: {e}: {text}"));
    (status, body)
}

/// Polls `GET base/ready` until its status is `want` (panics after 20 s); returns the body.
pub async fn await_ready_status(base: &str, want: u16) -> serde_json::Value {
    await_ready(base, want, |_| true).await
}

/// Polls `GET base/ready` until its status is `want` and `holds` holds for its body (panics
/// after 20 s); returns the body.
pub async fn await_ready(
    base: &str,
    want: u16,
    holds: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = get_json(&format!("{base}/ready")).await;
        if status == want && holds(&body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{base}/ready never answered {want}; last: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether every thread of process `pid` is stopped (state `T` in `/proc/<pid>/task/*/stat`).
fn every_thread_stopped(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().all(|task| {
        std::fs::read_to_string(task.path().join("stat")).is_ok_and(|stat| {
            // `pid (comm) state ...`: the name may hold spaces and parentheses.
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                == Some("T")
        })
    })
}
