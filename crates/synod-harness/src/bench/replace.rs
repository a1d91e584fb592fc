//! `synod-harness bench-replace`: how long replacing a dead member takes while the cluster
//! keeps serving writes (issue 18's target), measured with real processes.
//!
//! 1. Starts a 3-node cluster on loopback (the same [`LocalCluster`] as `bench --cluster`, its
//!    nodes run by the caller's [`NodeCommand`]) and waits until every node is connected to the
//!    two others.
//! 2. Loads `--keys` keys (`k0 …`), each with its own value, through every node with
//!    `--load-clients` concurrent clients.
//! 3. Starts `--clients` closed-loop writers that keep writing (PUT, a unique value each time)
//!    through nodes 1 and 2 — the members that live through the whole change — until the end.
//!    Writer `c` owns the keys `k ≡ c (mod clients)` and picks one of them at random each time,
//!    so every key has one writer and its last acknowledged value is well defined.
//! 4. After `--warmup` + `--before` seconds (t = 0), kills node 3 (SIGKILL: its disk counts as
//!    dead) and replaces it by node 4 with an empty data directory, through node 1, as
//!    docs/operations.md says ("Replacing a node whose disk died"): `POST /v1/members
//!    {"remove": 3}`, then `{"add": {"id": 4, …}}` while node 4 starts with `serve --join`.
//!    `--order add-first` adds node 4 first; `--join-early` starts node 4 before the first
//!    POST; `--kill joined` kills node 3 as soon as node 4 is ready, `--kill last` only after
//!    the change (a planned replacement of a running member, for comparison). Each POST is
//!    timed, and node 1's `GET /v1/members` is polled meanwhile for the change's status and its
//!    catch-up (`caught_up` of `total` keys re-written).
//! 5. Keeps the writers running for `--after` seconds more, then stops them.
//! 6. Verifies: every key reads back from every member of the new configuration ({1, 2, 4})
//!    as its last acknowledged value — or as a write whose outcome the writer never learnt
//!    (`indeterminate`, a lost answer: it may have taken effect) — and then once more through
//!    node 4 with node 1 (which ran the change) killed, so that the read quorum is {2, 4}: a
//!    catch-up that left a value out would show there.
//!
//! Prints the report (wall time of the change and of each step, the catch-up, writes/s,
//! latency and errors before, during and after the change, a per-second timeline) and, with
//! `--json FILE`, the same as JSON. Fails (exit 1) when the change did not finish (a step
//! answered other than 200: the report still says how the writers fared) or any key read back
//! wrong (`FAIL`): a benchmark that loses data is no result.

use super::report::{histogram, Latency};
use super::target::synod_error_kind;
use anyhow::{bail, Context};
use clap::Args;
use futures::StreamExt;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use synod_server::cli::{ClusterArgs, LocalCluster, NodeCommand, Tuning};
use synod_server::{Client, ClientOptions, DEFAULT_CLUSTER_ID};
use tokio::sync::watch;
use tokio::time::Instant;

/// The replacement node's id.
const NEW: u8 = 4;
/// The member whose disk dies.
const DEAD: u8 = 3;
/// How many keys the verification reads at once.
const VERIFY_CONCURRENCY: usize = 32;
/// Attempts per verification read (a read may find no quorum for a moment).
const READ_ATTEMPTS: u32 = 20;
/// The environment variable that makes a node die with its launcher
/// (`synod_server::cli`'s parent-death guard, as `LocalCluster` sets it).
const PARENT_PID_ENV: &str = "SYNOD_PARENT_PID";

/// Which change runs first.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Order {
    /// Remove node 3, then add node 4 (docs/operations.md, a dead disk).
    RemoveFirst,
    /// Add node 4, then remove node 3 (never below three members).
    AddFirst,
}

/// When node 3 dies.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kill {
    /// Before the change (SIGKILL, its disk counts as lost): replacing a dead member.
    First,
    /// As soon as node 4 answers `/ready` (with `--order add-first`: node 3 is dead for the
    /// whole change but node 4's join).
    Joined,
    /// After the change (it runs throughout): a planned replacement, for comparison.
    Last,
}

/// `synod-harness bench-replace` options.
#[derive(Args, Debug, Clone)]
pub struct ReplaceArgs {
    /// Keys loaded before the change (and written during it).
    #[arg(long, default_value_t = 10_000)]
    pub keys: u64,
    /// Concurrent closed-loop writers running through the change (nodes 1 and 2).
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// Concurrent clients loading the keys (through every node).
    #[arg(long, default_value_t = 32)]
    pub load_clients: usize,
    /// Bytes per written value.
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,
    /// Seconds of writer load before measuring.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Measured seconds of writer load before node 3 is killed.
    #[arg(long, default_value_t = 5.0)]
    pub before: f64,
    /// Measured seconds of writer load after the change finished.
    #[arg(long, default_value_t = 5.0)]
    pub after: f64,
    /// Which change runs first.
    #[arg(long, value_enum, default_value_t = Order::RemoveFirst)]
    pub order: Order,
    /// When node 3 is killed: before the change (a dead member), as soon as node 4 has joined,
    /// or after the change (a planned replacement of a running member).
    #[arg(long, value_enum, default_value_t = Kill::First)]
    pub kill: Kill,
    /// Start node 4 (`serve --join`) before the first POST instead of with the add.
    #[arg(long)]
    pub join_early: bool,
    /// Peer port of node 1 (node i gets base + i - 1, node 4 included).
    #[arg(long, default_value_t = 17001)]
    pub base_port: u16,
    /// HTTP port of node 1 (node i gets base + i - 1, node 4 included).
    #[arg(long, default_value_t = 18081)]
    pub http_base_port: u16,
    /// Per-request client timeout of the writers and the verification, in ms.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
    /// How long one `POST /v1/members` may take, in seconds.
    #[arg(long, default_value_t = 300)]
    pub change_timeout: u64,
    /// Also write the report as JSON to FILE.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Server tuning for the nodes (node 4 included).
    #[command(flatten)]
    pub tuning: Tuning,
}

/// What the writers saw of one key: its last acknowledged value, and every value written whose
/// outcome is unknown (any of which may be its value: a write whose answer was lost may still
/// take effect later).
#[derive(Clone, Debug, Default)]
struct Expected {
    acknowledged: String,
    unknown: Vec<String>,
}

/// One writer operation: when it started and ended (µs since the writers started) and how.
#[derive(Clone, Debug)]
struct Op {
    end_us: u64,
    latency_us: u64,
    error: Option<String>,
}

/// What one writer returns.
struct WriterResult {
    ops: Vec<Op>,
    keys: Vec<(u64, Expected)>,
}

/// Writes through a phase of the run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Phase {
    /// Seconds of the phase.
    pub seconds: f64,
    /// Writes acknowledged (completed in the phase).
    pub ok: u64,
    /// Writes failed.
    pub errors: u64,
    /// Acknowledged writes per second.
    pub writes_per_s: f64,
    /// Latency of the acknowledged writes.
    pub latency: Latency,
    /// Failed writes by kind.
    pub errors_by_kind: BTreeMap<String, u64>,
}

/// One `POST /v1/members`.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// The request body.
    pub request: Value,
    /// Seconds from the start of the change (t = 0) to the POST.
    pub started_s: f64,
    /// Seconds until its answer.
    pub seconds: f64,
    /// The HTTP status (0: no answer).
    pub status: u16,
    /// The answer's error, if it failed.
    pub error: Option<String>,
    /// Keys the change re-written by its catch-up (`change.caught_up` on node 1 afterwards).
    pub caught_up: u64,
    /// Keys the catch-up had to re-write (`change.total`).
    pub catch_up_total: u64,
    /// The generation after it.
    pub generation: Option<u64>,
}

/// A change of node 1's `change.status` (or of its catch-up count), as polled.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    /// Seconds since the start of the change.
    pub at_s: f64,
    /// `change.status`.
    pub status: String,
    /// `change.caught_up`.
    pub caught_up: u64,
    /// `change.total`.
    pub total: u64,
}

/// The membership change.
#[derive(Clone, Debug, Serialize)]
pub struct Change {
    /// Which change ran first.
    pub order: Order,
    /// When node 3 was killed.
    pub kill: Kill,
    /// Seconds from the first POST to the last answer.
    pub seconds: f64,
    /// Whether every step answered 200.
    pub finished: bool,
    /// The POSTs, in order.
    pub steps: Vec<Step>,
    /// Keys re-written by catch-ups, summed over the steps.
    pub caught_up: u64,
    /// Seconds from the start of the change until node 4 answered `/ready`.
    pub new_node_ready_s: Option<f64>,
    /// How node 4's process ended, if it did while the change ran.
    pub new_node_exit: Option<String>,
    /// What node 1 said it was doing, polled every 100 ms.
    pub events: Vec<Event>,
}

/// Acknowledged and failed writes in one second of the run.
#[derive(Clone, Debug, Serialize)]
pub struct Second {
    /// Seconds since the start of the change (negative: before it), the start of the second.
    pub at_s: i64,
    /// Writes acknowledged in it.
    pub ok: u64,
    /// Writes failed in it.
    pub errors: u64,
}

/// The writers through the run.
#[derive(Clone, Debug, Serialize)]
pub struct Writes {
    /// Concurrent writers.
    pub clients: usize,
    /// From the end of the warm-up to the start of the change.
    pub before: Phase,
    /// From the start of the change (the kill, with `--kill first`) to its last answer.
    pub during: Phase,
    /// After it.
    pub after: Phase,
    /// Per second, from the end of the warm-up.
    pub per_second: Vec<Second>,
}

/// One pass of the verification.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Pass {
    /// Which node was read, and how.
    pub via: String,
    /// Keys read.
    pub keys: u64,
    /// Keys whose value was neither the last acknowledged one nor an unknown-outcome write.
    pub wrong: u64,
    /// Keys that could not be read at all.
    pub unreadable: u64,
    /// Keys whose value was an unknown-outcome write rather than the last acknowledged one.
    pub at_unknown_write: u64,
    /// Seconds it took.
    pub seconds: f64,
    /// A few of the wrong or unreadable keys.
    pub examples: Vec<String>,
}

/// The verification.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Verify {
    /// Whether every pass read every key right.
    pub passed: bool,
    /// Keys the writers left at a value whose write they never saw acknowledged (any of their
    /// unknown-outcome writes was still possible).
    pub keys_with_unknown_writes: u64,
    /// The passes.
    pub passes: Vec<Pass>,
}

/// The final report.
#[derive(Clone, Debug, Serialize)]
pub struct ReplaceReport {
    /// The run's parameters.
    pub setup: Value,
    /// Seconds loading the keys.
    pub load_seconds: f64,
    /// Keys loaded per second.
    pub load_writes_per_s: f64,
    /// The change.
    pub change: Change,
    /// The writers.
    pub writes: Writes,
    /// The verification (`None` when the change did not finish).
    pub verify: Option<Verify>,
}

/// The value loaded into key `k`: unique, `size` bytes (at least the prefix).
fn loaded_value(k: u64, size: usize) -> String {
    padded(format!("load-k{k}-"), size)
}

/// A writer's value: unique per writer and sequence number.
fn written_value(client: usize, seq: u64, size: usize) -> String {
    padded(format!("w{client}-{seq}-"), size)
}

fn padded(mut v: String, size: usize) -> String {
    if v.len() < size {
        v.extend(std::iter::repeat_n('x', size - v.len()));
    }
    v
}

/// A node's process.
struct Node {
    id: u8,
    http: String,
    pid: u32,
}

/// Runs the benchmark, starting nodes with `node` (`synod-harness node`).
pub async fn run(args: ReplaceArgs, node: &NodeCommand) -> anyhow::Result<()> {
    if args.keys == 0 || args.clients == 0 || args.load_clients == 0 {
        bail!("--keys, --clients and --load-clients must be positive");
    }
    if args.warmup < 0.0 || args.before <= 0.0 || args.after <= 0.0 {
        bail!("--before and --after must be positive, --warmup not negative");
    }
    if args.base_port.checked_add(u16::from(NEW)).is_none()
        || args.http_base_port.checked_add(u16::from(NEW)).is_none()
    {
        bail!("port numbers out of range");
    }
    let cluster = LocalCluster::start(
        &ClusterArgs {
            nodes: 3,
            base_port: args.base_port,
            http_base_port: args.http_base_port,
            data_root: None,
            cluster_id: DEFAULT_CLUSTER_ID.to_owned(),
            tuning: args.tuning.clone(),
            tls: false,
        },
        node,
    )
    .await?;
    eprintln!(
        "started a local cluster: {}",
        cluster.endpoints().join(", ")
    );
    let scratch = tempfile::Builder::new()
        .prefix("synod-replace-")
        .tempdir()
        .context("making node 4's data directory")?;
    let mut new_node: Option<tokio::process::Child> = None;
    let outcome = replace(&args, node, &cluster, scratch.path(), &mut new_node).await;
    if let Some(child) = new_node.as_mut() {
        stop_child(child).await;
    }
    cluster.stop().await;
    outcome
}

/// SIGTERM, then SIGKILL after 5 s.
async fn stop_child(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    }
    if tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
}

fn client(endpoint: &str, timeout: Duration) -> anyhow::Result<Client> {
    Client::with_options(endpoint, timeout, &ClientOptions::default())
        .with_context(|| format!("endpoint {endpoint}"))
}

/// Waits until the node at `endpoint` is connected to `peers` other members.
async fn await_connected(endpoint: &str, peers: usize) -> anyhow::Result<()> {
    let c = client(endpoint, Duration::from_secs(2))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let last = match c.cluster().await {
            Ok(info) if info.connected.len() >= peers => return Ok(()),
            Ok(info) => format!("connected to {:?} only", info.connected),
            Err(e) => e.to_string(),
        };
        if Instant::now() > deadline {
            bail!("{endpoint} is not connected to its peers within 30 s: {last}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the node at `endpoint` answers `/ready` with 200.
async fn await_ready(endpoint: &str, within: Duration) -> anyhow::Result<()> {
    let c = client(endpoint, Duration::from_secs(2))?;
    let deadline = Instant::now() + within;
    loop {
        let last = match c.get_raw("/ready").await {
            Ok((200, _)) => return Ok(()),
            Ok((code, text)) => format!("{code}: {text}"),
            Err(e) => e.to_string(),
        };
        if Instant::now() > deadline {
            bail!("{endpoint} is not ready within {within:?}: {last}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn pid_of(endpoint: &str, id: u8) -> anyhow::Result<u32> {
    let health = client(endpoint, Duration::from_secs(2))?
        .health()
        .await
        .with_context(|| format!("asking node {id} for its pid"))?;
    match (health.node, health.pid) {
        (Some(n), Some(pid)) if n == id => Ok(pid),
        _ => bail!("{endpoint} does not answer as node {id} with a pid: {health:?}"),
    }
}

fn sigkill(node: &Node) -> anyhow::Result<()> {
    let pid = i32::try_from(node.pid).context("a pid")?;
    kill(Pid::from_raw(pid), Signal::SIGKILL)
        .with_context(|| format!("killing node {} (pid {})", node.id, node.pid))
}

/// Puts `value` at `key` until acknowledged (nothing else writes the key meanwhile, so
/// writing the same value again after an unknown outcome is harmless).
async fn put_until_acknowledged(c: &Client, key: &str, value: &str) -> anyhow::Result<()> {
    let mut last = None;
    for _ in 0..READ_ATTEMPTS {
        match c.put(key, value.to_owned()).await {
            Ok(_) => return Ok(()),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(last.expect("attempted")).with_context(|| format!("loading {key}"))
}

/// Loads every key; returns the seconds it took.
async fn load(args: &ReplaceArgs, nodes: &[Node]) -> anyhow::Result<f64> {
    let timeout = Duration::from_millis(args.timeout_ms);
    let clients = nodes
        .iter()
        .map(|n| client(&n.http, timeout))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let clients = Arc::new(clients);
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.load_clients {
        let (clients, next) = (clients.clone(), next.clone());
        let (keys, size) = (args.keys, args.value_size);
        tasks.push(tokio::spawn(async move {
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= keys {
                    return anyhow::Ok(());
                }
                let c = &clients[(k % clients.len() as u64) as usize];
                put_until_acknowledged(c, &format!("k{k}"), &loaded_value(k, size)).await?;
            }
        }));
    }
    for task in tasks {
        task.await.context("a loading client panicked")??;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Writer `c` of `of`: PUTs to random keys of its own (`k ≡ c mod of`) through `clients` in
/// turn until `stop`.
async fn writer(
    c: usize,
    of: usize,
    args: (u64, usize),
    clients: Arc<Vec<Client>>,
    origin: Instant,
    stop: watch::Receiver<bool>,
) -> WriterResult {
    let (keys, size) = args;
    let mine: Vec<u64> = (c as u64..keys).step_by(of).collect();
    let mut expected: BTreeMap<u64, Expected> = BTreeMap::new();
    let mut ops = Vec::new();
    let mut rng = StdRng::seed_from_u64(0x5e1ec7 ^ c as u64);
    let mut seq = 0u64;
    while !*stop.borrow() && !mine.is_empty() {
        let k = mine[rng.gen_range(0..mine.len())];
        seq += 1;
        let value = written_value(c, seq, size);
        let via = &clients[(c + seq as usize) % clients.len()];
        let started = Instant::now();
        let result = via.put(&format!("k{k}"), value.clone()).await;
        let end = Instant::now();
        let entry = expected.entry(k).or_insert_with(|| Expected {
            acknowledged: loaded_value(k, size),
            unknown: Vec::new(),
        });
        let error = match result {
            Ok(_) => {
                entry.acknowledged = value;
                None
            }
            Err(e) => {
                if !e.surely_not_applied() {
                    entry.unknown.push(value);
                }
                Some(synod_error_kind(&e))
            }
        };
        ops.push(Op {
            end_us: (end - origin).as_micros() as u64,
            latency_us: (end - started).as_micros() as u64,
            error,
        });
    }
    WriterResult {
        ops,
        keys: expected.into_iter().collect(),
    }
}

/// Polls node 1's `GET /v1/members` every 100 ms until `stop`, recording each new status or
/// catch-up count (times from `kill`).
async fn poll_progress(
    endpoint: String,
    zero: Instant,
    mut stop: watch::Receiver<bool>,
) -> Vec<Event> {
    let Ok(c) = client(&endpoint, Duration::from_secs(2)) else {
        return Vec::new();
    };
    let mut events: Vec<Event> = Vec::new();
    loop {
        if let Ok((200, text)) = c.get_raw("/v1/members").await {
            if let Ok(answer) = serde_json::from_str::<Value>(&text) {
                let change = &answer["change"];
                let event = Event {
                    at_s: zero.elapsed().as_secs_f64(),
                    status: change["status"].as_str().unwrap_or_default().to_owned(),
                    caught_up: change["caught_up"].as_u64().unwrap_or(0),
                    total: change["total"].as_u64().unwrap_or(0),
                };
                let new = events.last().is_none_or(|last| {
                    (&last.status, last.caught_up, last.total)
                        != (&event.status, event.caught_up, event.total)
                });
                if new {
                    if events.last().is_none_or(|l| l.status != event.status) {
                        eprintln!("[{:>6.2}s] node 1: {}", event.at_s, event.status);
                    }
                    events.push(event);
                }
            }
        }
        tokio::select! {
            _ = stop.changed() => return events,
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}

/// `GET /v1/members` of node 1 after a step: its catch-up count and generation.
async fn after_step(c: &Client) -> (u64, u64, Option<u64>) {
    let Ok((200, text)) = c.get_raw("/v1/members").await else {
        return (0, 0, None);
    };
    let Ok(answer) = serde_json::from_str::<Value>(&text) else {
        return (0, 0, None);
    };
    (
        answer["change"]["caught_up"].as_u64().unwrap_or(0),
        answer["change"]["total"].as_u64().unwrap_or(0),
        answer["configuration"]["generation"].as_u64(),
    )
}

/// Starts node 4 empty, joining through `via`.
fn start_new_node(
    args: &ReplaceArgs,
    node: &NodeCommand,
    data: &std::path::Path,
    via: &str,
) -> anyhow::Result<tokio::process::Child> {
    let peer = args.base_port + u16::from(NEW) - 1;
    let http = args.http_base_port + u16::from(NEW) - 1;
    let mut command = node.command();
    command
        .arg(format!("--id={NEW}"))
        .arg(format!("--peers={NEW}=127.0.0.1:{peer}"))
        .arg(format!("--http=127.0.0.1:{http}"))
        .arg("--data")
        .arg(data)
        .arg(format!("--cluster-id={DEFAULT_CLUSTER_ID}"))
        .arg(format!("--join={via}"))
        .args(args.tuning.to_args())
        .env(PARENT_PID_ENV, std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    if std::env::var_os("SYNOD_LOG").is_none() && std::env::var_os("RUST_LOG").is_none() {
        command.env("SYNOD_LOG", "warn");
    }
    command.spawn().context("starting node 4")
}

/// One `POST /v1/members` through `c`.
async fn post(c: &Client, body: &Value) -> (u16, Option<String>) {
    match c.post_raw("/v1/members", body).await {
        Ok((200, _)) => (200, None),
        Ok((code, text)) => (code, Some(text)),
        Err(e) => (0, Some(e.to_string())),
    }
}

async fn replace(
    args: &ReplaceArgs,
    node: &NodeCommand,
    cluster: &LocalCluster,
    scratch: &std::path::Path,
    new_node: &mut Option<tokio::process::Child>,
) -> anyhow::Result<()> {
    let endpoints = cluster.endpoints();
    let mut nodes = Vec::new();
    for (i, http) in endpoints.iter().enumerate() {
        let id = i as u8 + 1;
        await_connected(http, 2).await?;
        nodes.push(Node {
            id,
            http: http.clone(),
            pid: pid_of(http, id).await?,
        });
    }
    let new_http = format!(
        "http://127.0.0.1:{}",
        args.http_base_port + u16::from(NEW) - 1
    );
    let new_peer = format!("127.0.0.1:{}", args.base_port + u16::from(NEW) - 1);

    eprintln!(
        "loading {} keys ({} B values) with {} clients",
        args.keys, args.value_size, args.load_clients
    );
    let load_seconds = load(args, &nodes).await?;
    eprintln!(
        "loaded in {load_seconds:.1} s ({:.0} writes/s)",
        args.keys as f64 / load_seconds
    );

    // The writers, through nodes 1 and 2.
    let timeout = Duration::from_millis(args.timeout_ms);
    let writer_clients = Arc::new(vec![
        client(&nodes[0].http, timeout)?,
        client(&nodes[1].http, timeout)?,
    ]);
    let (stop_tx, stop_rx) = watch::channel(false);
    let origin = Instant::now();
    let writers: Vec<_> = (0..args.clients)
        .map(|c| {
            tokio::spawn(writer(
                c,
                args.clients,
                (args.keys, args.value_size),
                writer_clients.clone(),
                origin,
                stop_rx.clone(),
            ))
        })
        .collect();
    eprintln!(
        "{} writers running through nodes 1 and 2: {} s warm-up, {} s measured before the change",
        args.clients, args.warmup, args.before
    );
    let measure_from = origin + Duration::from_secs_f64(args.warmup);
    tokio::time::sleep_until(measure_from + Duration::from_secs_f64(args.before)).await;

    // The change, through node 1 (node 3 killed first, with --kill first).
    let zero = Instant::now();
    if args.kill == Kill::First {
        sigkill(&nodes[2])?;
        eprintln!("[  0.00s] killed node 3 (pid {})", nodes[2].pid);
    }
    eprintln!("[  0.00s] replacing node 3 by node 4 ({new_peer}, {new_http}) through node 1");
    let (poll_stop, poll_stopped) = watch::channel(false);
    let poller = tokio::spawn(poll_progress(nodes[0].http.clone(), zero, poll_stopped));
    let admin = client(&nodes[0].http, Duration::from_secs(args.change_timeout))?;
    // A `GET /v1/members` reads the record through a quorum: bounded, in case there is none.
    let looker = client(&nodes[0].http, Duration::from_secs(10))?;
    let remove = json!({"remove": DEAD});
    let add = json!({"add": {"id": NEW, "addr": new_peer}});
    let plan = match args.order {
        Order::RemoveFirst => [remove, add],
        Order::AddFirst => [add, remove],
    };
    let mut new_ready: Option<tokio::task::JoinHandle<Option<f64>>> = None;
    let mut start_new = |new_node: &mut Option<tokio::process::Child>| -> anyhow::Result<()> {
        let data = scratch.join(format!("node-{NEW}"));
        *new_node = Some(start_new_node(args, node, &data, &nodes[0].http)?);
        let http = new_http.clone();
        let dead = (args.kill == Kill::Joined).then_some((nodes[2].id, nodes[2].pid));
        new_ready = Some(tokio::spawn(async move {
            await_ready(&http, Duration::from_secs(600)).await.ok()?;
            let ready = zero.elapsed().as_secs_f64();
            if let Some((id, pid)) = dead {
                match sigkill(&Node { id, http, pid }) {
                    Ok(()) => {
                        eprintln!("[{ready:>6.2}s] node 4 is ready: killed node 3 (pid {pid})")
                    }
                    Err(e) => eprintln!("[{ready:>6.2}s] node 4 is ready, but: {e:#}"),
                }
            }
            Some(ready)
        }));
        eprintln!(
            "[{:>6.2}s] started node 4 with --join {}",
            zero.elapsed().as_secs_f64(),
            nodes[0].http
        );
        Ok(())
    };
    if args.join_early {
        start_new(new_node)?;
    }
    let first_post = Instant::now();
    let mut steps = Vec::new();
    for body in plan {
        let started = Instant::now();
        eprintln!(
            "[{:>6.2}s] POST /v1/members {body}",
            (started - zero).as_secs_f64()
        );
        let (status, error) = if body.get("add").is_some() && new_node.is_none() {
            let (c, b) = (admin.clone(), body.clone());
            let running = tokio::spawn(async move { post(&c, &b).await });
            // Node 4 starts while the change runs, as in docs/operations.md (it waits there
            // until the configuration includes it).
            start_new(new_node)?;
            running.await.context("the change's request panicked")?
        } else {
            post(&admin, &body).await
        };
        let seconds = started.elapsed().as_secs_f64();
        eprintln!(
            "[{:>6.2}s] -> {status} after {seconds:.2} s",
            zero.elapsed().as_secs_f64()
        );
        let (caught_up, catch_up_total, generation) = after_step(&looker).await;
        eprintln!(
            "[{:>6.2}s] node 1: catch-up {caught_up} of {catch_up_total} keys; generation {}",
            zero.elapsed().as_secs_f64(),
            generation.map_or("?".into(), |g| g.to_string())
        );
        let failed = status != 200;
        steps.push(Step {
            request: body,
            started_s: (started - zero).as_secs_f64(),
            seconds,
            status,
            error,
            caught_up,
            catch_up_total,
            generation,
        });
        if failed {
            break;
        }
    }
    let done_at = steps.last().map_or(first_post, |s| {
        zero + Duration::from_secs_f64(s.started_s + s.seconds)
    });
    let finished = steps.len() == 2 && steps.iter().all(|s| s.status == 200);
    let new_node_exit = match new_node.as_mut().map(|c| c.try_wait()) {
        Some(Ok(Some(status))) => Some(status.to_string()),
        _ => None,
    };
    if args.kill == Kill::Last {
        sigkill(&nodes[2])?;
        eprintln!(
            "[{:>6.2}s] killed node 3 (pid {})",
            zero.elapsed().as_secs_f64(),
            nodes[2].pid
        );
    }
    if finished {
        tokio::time::sleep(Duration::from_secs_f64(args.after)).await;
    }
    let stop_at = Instant::now();
    let _ = stop_tx.send(true);
    let _ = poll_stop.send(true);
    let mut ops = Vec::new();
    let mut expected: Vec<Expected> = (0..args.keys)
        .map(|k| Expected {
            acknowledged: loaded_value(k, args.value_size),
            unknown: Vec::new(),
        })
        .collect();
    for w in writers {
        let result = w.await.context("a writer panicked")?;
        ops.extend(result.ops);
        for (k, e) in result.keys {
            expected[k as usize] = e;
        }
    }
    let events = poller.await.unwrap_or_default();
    let new_node_ready_s = match new_ready {
        Some(ready) if finished => {
            // The verification reads through node 4: it must be up.
            await_ready(&new_http, Duration::from_secs(60)).await?;
            ready.await.ok().flatten()
        }
        Some(ready) => {
            ready.abort();
            None
        }
        None => None,
    };

    let us = |t: Instant| (t - origin).as_micros() as u64;
    let writes = Writes {
        clients: args.clients,
        before: phase(&ops, us(measure_from), us(zero)),
        during: phase(&ops, us(zero), us(done_at)),
        after: phase(&ops, us(done_at), us(stop_at)),
        per_second: per_second(&ops, us(measure_from), us(zero), us(stop_at)),
    };
    let change = Change {
        order: args.order,
        kill: args.kill,
        seconds: (done_at - first_post).as_secs_f64(),
        finished,
        caught_up: steps.iter().map(|s| s.caught_up).sum(),
        steps,
        new_node_ready_s,
        new_node_exit,
        events,
    };

    let verify = if finished {
        let members = [
            (&nodes[0].http, "node 1"),
            (&nodes[1].http, "node 2"),
            (&new_http, "node 4"),
        ];
        let mut passes = Vec::new();
        for (http, name) in members {
            eprintln!("verifying: every key read through {name}");
            passes.push(verify_pass(http, name.to_owned(), &expected, timeout).await?);
        }
        // The catch-up's proof: without node 1, which ran the change, a read quorum is {2, 4}.
        sigkill(&nodes[0])?;
        eprintln!("verifying: node 1 killed, every key read through node 4 (quorum {{2, 4}})");
        passes.push(
            verify_pass(
                &new_http,
                "node 4, node 1 killed (quorum {2, 4})".into(),
                &expected,
                timeout,
            )
            .await?,
        );
        Some(Verify {
            passed: passes.iter().all(|p| p.wrong == 0 && p.unreadable == 0),
            keys_with_unknown_writes: expected.iter().filter(|e| !e.unknown.is_empty()).count()
                as u64,
            passes,
        })
    } else {
        None
    };

    let report = ReplaceReport {
        setup: json!({
            "keys": args.keys,
            "clients": args.clients,
            "load_clients": args.load_clients,
            "value_size": args.value_size,
            "warmup_s": args.warmup,
            "before_s": args.before,
            "after_s": args.after,
            "order": args.order,
            "kill": args.kill,
            "join_early": args.join_early,
            "writers_through": [1, 2],
            "replaced": DEAD,
            "by": NEW,
        }),
        load_seconds,
        load_writes_per_s: args.keys as f64 / load_seconds,
        change,
        writes,
        verify,
    };
    print!("{}", report.text());
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("report written to {}", path.display());
    }
    match &report.verify {
        None => {
            let step = report.change.steps.last();
            bail!(
                "the change did not finish: {}",
                step.map_or("no step ran".into(), |s| format!(
                    "{} answered {}: {}",
                    s.request,
                    s.status,
                    s.error.as_deref().unwrap_or("")
                ))
            )
        }
        Some(v) if !v.passed => {
            bail!("FAIL: keys read back wrong or not at all after the change (see the report)")
        }
        Some(_) => Ok(()),
    }
}

/// Reads every key through `endpoint` and compares it with `expected`.
async fn verify_pass(
    endpoint: &str,
    via: String,
    expected: &[Expected],
    timeout: Duration,
) -> anyhow::Result<Pass> {
    let c = client(endpoint, timeout)?;
    let started = Instant::now();
    let mut reads = futures::stream::iter(expected.iter().enumerate())
        .map(|(k, e)| {
            let c = c.clone();
            async move {
                let key = format!("k{k}");
                let mut last = String::new();
                for _ in 0..READ_ATTEMPTS {
                    match c.get(&key).await {
                        Ok(v) => {
                            let v = v.map(|b| String::from_utf8_lossy(&b).into_owned());
                            return (key, e, Ok(v));
                        }
                        Err(err) => last = err.to_string(),
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                (key, e, Err(last))
            }
        })
        .buffer_unordered(VERIFY_CONCURRENCY);
    let mut pass = Pass {
        via,
        ..Pass::default()
    };
    while let Some((key, e, read)) = reads.next().await {
        pass.keys += 1;
        match read {
            Ok(Some(v)) if v == e.acknowledged => {}
            Ok(Some(v)) if e.unknown.contains(&v) => pass.at_unknown_write += 1,
            Ok(v) => {
                pass.wrong += 1;
                if pass.examples.len() < 5 {
                    pass.examples.push(format!(
                        "{key}: read {:?}, last acknowledged {:?} ({} unknown-outcome writes)",
                        v.map(|v| v.chars().take(24).collect::<String>()),
                        e.acknowledged.chars().take(24).collect::<String>(),
                        e.unknown.len()
                    ));
                }
            }
            Err(err) => {
                pass.unreadable += 1;
                if pass.examples.len() < 5 {
                    pass.examples.push(format!("{key}: unreadable: {err}"));
                }
            }
        }
    }
    pass.seconds = started.elapsed().as_secs_f64();
    Ok(pass)
}

/// The writes that completed in `[from, to)` (µs).
fn phase(ops: &[Op], from: u64, to: u64) -> Phase {
    let mut latency = histogram();
    let mut errors_by_kind = BTreeMap::new();
    let mut errors = 0;
    for op in ops.iter().filter(|o| (from..to).contains(&o.end_us)) {
        match &op.error {
            None => latency.saturating_record(op.latency_us.max(1)),
            Some(kind) => {
                errors += 1;
                *errors_by_kind.entry(kind.clone()).or_default() += 1;
            }
        }
    }
    let seconds = to.saturating_sub(from) as f64 / 1e6;
    let ok = latency.len();
    Phase {
        seconds,
        ok,
        errors,
        writes_per_s: if seconds > 0.0 {
            ok as f64 / seconds
        } else {
            0.0
        },
        latency: Latency::of(&latency),
        errors_by_kind,
    }
}

/// Writes per whole second in `[from, to)` (µs), numbered from `zero` (the start of the
/// change): second 0 starts with it.
fn per_second(ops: &[Op], from: u64, zero: u64, to: u64) -> Vec<Second> {
    let second_of = |us: u64| (us as i64 - zero as i64).div_euclid(1_000_000);
    // Whole seconds before the change: a sliver before them (the timer's lateness) is left out.
    let first = if from < zero {
        -(((zero - from) / 1_000_000) as i64)
    } else {
        second_of(from)
    };
    let last = second_of(to.saturating_sub(1));
    let mut seconds: Vec<Second> = (first..=last)
        .map(|at_s| Second {
            at_s,
            ok: 0,
            errors: 0,
        })
        .collect();
    for op in ops
        .iter()
        .filter(|o| (from..to).contains(&o.end_us) && second_of(o.end_us) >= first)
    {
        let i = (second_of(op.end_us) - first) as usize;
        match op.error {
            None => seconds[i].ok += 1,
            Some(_) => seconds[i].errors += 1,
        }
    }
    seconds
}

impl ReplaceReport {
    /// The human-readable report.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let c = &self.change;
        let keys = self.setup["keys"].as_u64().unwrap_or(0);
        out.push_str(&format!(
            "replace a dead member: 3 nodes, {keys} keys (loaded in {:.1} s, {:.0} writes/s), {} writers through nodes 1 and 2\n",
            self.load_seconds, self.load_writes_per_s, self.writes.clients
        ));
        out.push_str(&format!(
            "change ({}, node 3 killed {}): {} in {:.2} s from the first POST to the last answer; {} keys re-written by the catch-up\n",
            match c.order {
                Order::RemoveFirst => "remove 3, then add 4",
                Order::AddFirst => "add 4, then remove 3",
            },
            match c.kill {
                Kill::First => "before it",
                Kill::Joined => "once node 4 was ready",
                Kill::Last => "after it",
            },
            if c.finished { "finished" } else { "DID NOT FINISH" },
            c.seconds,
            c.caught_up
        ));
        for s in &c.steps {
            out.push_str(&format!(
                "  POST {:<44} at {:>6.2} s: {} in {:>6.2} s, catch-up {} of {} keys, generation {}{}\n",
                s.request.to_string(),
                s.started_s,
                s.status,
                s.seconds,
                s.caught_up,
                s.catch_up_total,
                s.generation.map_or("?".into(), |g| g.to_string()),
                s.error
                    .as_deref()
                    .map_or(String::new(), |e| format!(": {e}"))
            ));
        }
        if let Some(ready) = c.new_node_ready_s {
            out.push_str(&format!("  node 4 ready at {ready:.2} s\n"));
        }
        if let Some(exit) = &c.new_node_exit {
            out.push_str(&format!(
                "  node 4 {exit} while the change ran (its error is on stderr)\n"
            ));
        }
        if !c.events.is_empty() {
            out.push_str("  node 1's change status (polled every 100 ms; s since the start of the change):\n");
            let mut last = "";
            for e in &c.events {
                if e.status != last {
                    out.push_str(&format!("    {:>6.2}  {}\n", e.at_s, e.status));
                    last = &e.status;
                }
            }
        }
        out.push_str("writes:\n");
        let w = &self.writes;
        for (name, p) in [
            ("before", &w.before),
            ("during", &w.during),
            ("after", &w.after),
        ] {
            out.push_str(&format!(
                "  {name:<6} {:>6.2} s: {:>7.0} writes/s ({} ok, {} failed{})  p50 {} µs  p99 {} µs  max {} µs\n",
                p.seconds,
                p.writes_per_s,
                p.ok,
                p.errors,
                if p.errors_by_kind.is_empty() {
                    String::new()
                } else {
                    format!(
                        ": {}",
                        p.errors_by_kind
                            .iter()
                            .map(|(k, n)| format!("{k} {n}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
                p.latency.p50_us,
                p.latency.p99_us,
                p.latency.max_us
            ));
        }
        out.push_str("  per second (s since the start of the change: ok[/failed]):\n   ");
        for (i, s) in w.per_second.iter().enumerate() {
            if i > 0 && i % 10 == 0 {
                out.push_str("\n   ");
            }
            if s.errors > 0 {
                out.push_str(&format!(" {:>3}:{}/{}", s.at_s, s.ok, s.errors));
            } else {
                out.push_str(&format!(" {:>3}:{}", s.at_s, s.ok));
            }
        }
        out.push('\n');
        match &self.verify {
            None => out.push_str("verification: not run (the change did not finish)\n"),
            Some(v) => {
                for p in &v.passes {
                    out.push_str(&format!(
                        "  read {} keys through {} in {:.1} s: {} wrong, {} unreadable, {} at an unknown-outcome write\n",
                        p.keys, p.via, p.seconds, p.wrong, p.unreadable, p.at_unknown_write
                    ));
                    for e in &p.examples {
                        out.push_str(&format!("    {e}\n"));
                    }
                }
                out.push_str(&format!(
                    "verification: {} ({} keys had writes whose outcome the writer never learnt)\n",
                    if v.passed {
                        "PASS — every key read back as its last acknowledged write (or a later unknown-outcome one) from every member"
                    } else {
                        "FAIL — some keys read back wrong or not at all"
                    },
                    v.keys_with_unknown_writes
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(end_us: u64, error: Option<&str>) -> Op {
        Op {
            end_us,
            latency_us: 1000,
            error: error.map(str::to_owned),
        }
    }

    #[test]
    fn phases_and_seconds_count_by_completion_time() {
        let ops = [
            op(500_000, None),
            op(1_500_000, None),
            op(1_600_000, Some("indeterminate")),
            op(2_100_000, None),
            op(3_900_000, None),
        ];
        let p = phase(&ops, 1_000_000, 3_000_000);
        assert_eq!((p.ok, p.errors), (2, 1));
        assert_eq!(p.errors_by_kind["indeterminate"], 1);
        assert!((p.writes_per_s - 1.0).abs() < 1e-9);
        // Second 0 starts with the change (2.0 s).
        let s = per_second(&ops, 1_000_000, 2_000_000, 4_000_000);
        let row: Vec<(i64, u64, u64)> = s.iter().map(|s| (s.at_s, s.ok, s.errors)).collect();
        assert_eq!(row, [(-1, 1, 1), (0, 1, 0), (1, 1, 0)]);
        // A start a little more than a second before the change: one whole second before it.
        let s = per_second(&ops, 900_000, 2_000_000, 3_000_000);
        let row: Vec<(i64, u64, u64)> = s.iter().map(|s| (s.at_s, s.ok, s.errors)).collect();
        assert_eq!(row, [(-1, 1, 1), (0, 1, 0)]);
    }

    #[test]
    fn values_are_unique_and_sized() {
        assert_eq!(loaded_value(7, 100).len(), 100);
        assert_ne!(loaded_value(7, 8), loaded_value(17, 8));
        assert_ne!(written_value(1, 2, 8), written_value(1, 3, 8));
        assert!(written_value(12, 3, 2).starts_with("w12-3-"));
    }
}
