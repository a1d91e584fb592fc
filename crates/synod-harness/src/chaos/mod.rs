//! The real-process chaos run: a local cluster of node processes (`synod serve`, run as
//! `synod-harness node` from the harness's own binary), a mixed workload of
//! many HTTP clients, and a nemesis that SIGKILLs and restarts nodes and cuts, slows and loses
//! peer traffic through fault-injecting proxies — then every fault heals, every node is
//! restarted, every key is read, and the whole history is checked for linearizability per key.
//! With `membership`, an admin also grows, replaces a disk of, and shrinks the cluster meanwhile.
//!
//! * [`proxy`] — the frame-aware TCP proxy in front of one node (per sending node: drop, delay,
//!   cut);
//! * [`nodes`] — the processes and their proxies;
//! * [`clients`] — the clients and how HTTP answers become `ok` / `fail` / `unknown`;
//! * [`nemesis`] — the fault schedule (kills, partitions, lossy links, pauses);
//! * [`membership`] — the admin that changes the members while the rest runs;
//! * [`netns`] — the other network: per-node network namespaces and kernel packet drops.
//!
//! The history is saved as JSON lines ([`synod_check::history`]) so that other checkers can read it.

pub mod clients;
pub mod membership;
pub mod nemesis;
pub mod netns;
pub mod nodes;
pub mod proxy;

use crate::workload::{ClientWorkload, KeyKind, Mix};
use anyhow::Context;
use clients::ClientOptions;
use membership::MembershipReport;
use nemesis::NemesisStats;
use rand::{Rng, SeedableRng};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use synod_check::append::{self, AppendAnomaly};
use synod_check::history::{self, Record, RecordStatus, Verdict};
use synod_server::cli::NodeCommand;

/// What to run.
#[derive(Clone, Debug)]
pub struct ChaosConfig {
    /// How to start a node process (`synod-harness node`, or `synod serve`).
    pub node: NodeCommand,
    /// Nodes (3 or 5).
    pub nodes: u8,
    /// Concurrent clients.
    pub clients: usize,
    /// How long the workload and the nemesis run.
    pub duration: Duration,
    /// Seeds the workload, the nemesis and the proxies (the processes' timing is not
    /// deterministic, so a seed does not replay a chaos run exactly).
    pub seed: u64,
    /// Keys and mix.
    pub workload: Mix,
    /// The clients' timeout and whether they settle unknown writes by reading.
    pub client: ClientOptions,
    /// The nodes' `--request-timeout-ms`: how long a node works on a request before it answers
    /// `timeout` (an `unknown`).
    pub request_timeout: Duration,
    /// Where the history goes (default: `history.jsonl` in the data root).
    pub history: Option<PathBuf>,
    /// Where the nodes' data and logs go (default: a temporary directory, removed at the end).
    pub data_root: Option<PathBuf>,
    /// Extra environment for the nodes (e.g. a fault-injection switch).
    pub node_env: Vec<(String, String)>,
    /// Whether the nemesis also pauses nodes (SIGSTOP/SIGCONT).
    pub pauses: bool,
    /// How the nodes are connected, and so how links are cut.
    pub network: Network,
    /// Whether an admin changes the members while the workload runs ([`membership`]): grow by
    /// two, replace a founding node's disk, shrink back (needs at least 2 nodes).
    pub membership: bool,
}

/// The network between the nodes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Network {
    /// Loopback, every peer link through a fault-injecting proxy ([`proxy`]).
    #[default]
    Proxies,
    /// A network namespace per node; cuts are kernel packet drops ([`netns`]).
    Namespaces,
}

/// What a chaos run did and found.
#[derive(Debug)]
pub struct ChaosReport {
    /// Operations recorded (final reads included).
    pub operations: usize,
    /// The checker's verdict per key.
    pub verdict: Verdict,
    /// What the direct check of append keys found ([`synod_check::append`]), per key.
    pub append_anomalies: Vec<(String, AppendAnomaly)>,
    /// The nemesis' counters.
    pub nemesis: NemesisStats,
    /// What the membership admin did, when it ran.
    pub membership: Option<MembershipReport>,
    /// Frames the proxies dropped.
    pub frames_dropped: u64,
    /// Connections the proxies cut or refused.
    pub connections_cut: u64,
    /// With namespaces: how many times a link was cut by a packet-dropping route.
    pub blackholed: Option<u64>,
    /// Final reads (one per key) that never succeeded after the heal.
    pub unread_keys: Vec<String>,
    /// Where the history was saved.
    pub history: PathBuf,
    /// Wall-clock length of the run.
    pub elapsed: Duration,
}

impl ChaosReport {
    /// Whether the history is linearizable, every key could be read after the heal, and every
    /// planned membership change was done.
    pub fn passed(&self) -> bool {
        !self.found_violation()
            && self
                .membership
                .as_ref()
                .is_none_or(MembershipReport::complete)
    }

    /// Whether the history is not linearizable, a key could not be read after the heal, or the
    /// append check found an anomaly.
    pub fn found_violation(&self) -> bool {
        !self.verdict.linearizable()
            || !self.unread_keys.is_empty()
            || !self.append_anomalies.is_empty()
    }
}

impl std::fmt::Display for ChaosReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "chaos: {} operations (ok {}, fail {}, unknown {}) in {:.1} s; nemesis: {} kills, {} restarts, {} partitions, {} lossy episodes, {} pauses; {}",
            self.operations,
            self.verdict.ok,
            self.verdict.failed,
            self.verdict.unknown,
            self.elapsed.as_secs_f64(),
            self.nemesis.kills,
            self.nemesis.restarts,
            self.nemesis.partitions,
            self.nemesis.lossy,
            self.nemesis.pauses,
            match self.blackholed {
                Some(n) => format!("namespaces: {n} links blackholed"),
                None => format!(
                    "proxies: {} frames dropped, {} connections cut",
                    self.frames_dropped, self.connections_cut
                ),
            },
        )?;
        if let Some(membership) = &self.membership {
            writeln!(f, "{membership}")?;
        }
        for key in &self.verdict.keys {
            let verdict = match &key.result {
                Ok(()) => "linearizable".to_owned(),
                Err(v) => format!("NOT LINEARIZABLE: {v}"),
            };
            writeln!(
                f,
                "  key {} ({}): {} operations, {verdict}",
                key.key,
                KeyKind::of(&key.key).name(),
                key.operations
            )?;
        }
        for line in anomaly_lines(&self.append_anomalies) {
            writeln!(f, "{line}")?;
        }
        for key in &self.unread_keys {
            writeln!(f, "  key {key}: no successful read after the heal")?;
        }
        write!(f, "history: {}", self.history.display())
    }
}

/// The serve flags of a chaos node: short timeouts so that faults cost little time (and
/// `--request-timeout-ms` from the config).
const SERVE_ARGS: &[&str] = &[
    "--round-timeout-ms=100",
    "--backoff-base-ms=5",
    "--backoff-max-ms=100",
];
/// How long the final reads may keep retrying.
const FINAL_READS: Duration = Duration::from_secs(60);
/// How long after the workload the membership admin may still finish its changes (without
/// faults or clients); a run whose changes are not all done by then fails.
const MEMBERSHIP_GRACE: Duration = Duration::from_secs(120);

/// Runs the chaos test described by `config`. With namespaces, the run creates them and runs on
/// a runtime of its own whose threads joined the client namespace (so the clients' sockets are
/// there), and removes them at the end.
pub async fn run(config: &ChaosConfig) -> anyhow::Result<ChaosReport> {
    if config.network == Network::Proxies {
        return run_on(config, None).await;
    }
    let namespaces = netns::Namespaces::create(slots(config))?;
    let client_ns = namespaces.client_path();
    let config = config.clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let result = netns::enter(&client_ns).and_then(|()| {
            let path = client_ns.clone();
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .on_thread_start(move || {
                    netns::enter(&path).expect("a runtime thread joins the client namespace")
                })
                .build()
                .context("starting the client namespace's runtime")?
                .block_on(run_on(&config, Some(namespaces)))
        });
        let _ = tx.send(result);
    });
    rx.await.context("the namespaced run's thread died")?
}

/// Nodes the run may start: the founders, and those the membership admin adds.
fn slots(config: &ChaosConfig) -> u8 {
    config.nodes
        + if config.membership {
            membership::ADDED
        } else {
            0
        }
}

/// [`run`], on the network given (`netns`: the namespaces, the calling thread in the client's).
async fn run_on(
    config: &ChaosConfig,
    netns: Option<netns::Namespaces>,
) -> anyhow::Result<ChaosReport> {
    let started = Instant::now();
    // Kept unless the run passes: the nodes' data and logs are what explains a failure.
    let temp = tempfile::Builder::new()
        .prefix("synod-chaos-")
        .tempdir()?
        .keep();
    let root = config.data_root.clone().unwrap_or_else(|| temp.clone());
    std::fs::create_dir_all(&root)?;
    let history_path = config
        .history
        .clone()
        .unwrap_or_else(|| root.join("history.jsonl"));
    let mut rng = rand::rngs::StdRng::seed_from_u64(config.seed);
    let setup = nodes::NodeSetup {
        command: config.node.clone(),
        serve_args: SERVE_ARGS
            .iter()
            .map(|s| s.to_string())
            .chain([format!(
                "--request-timeout-ms={}",
                config.request_timeout.as_millis()
            )])
            .collect(),
        env: config.node_env.clone(),
    };
    let mut cluster = nodes::ChaosCluster::start(
        &setup,
        &root,
        config.nodes,
        slots(config),
        config.seed,
        netns,
    )
    .await
    .with_context(|| format!("starting the cluster (logs in {})", root.display()))?;
    cluster.rejoin = config.membership;
    let (directory, endpoints) = tokio::sync::watch::channel(cluster.endpoints(1..=config.nodes));
    let cluster = tokio::sync::Mutex::new(cluster);

    let origin = Instant::now();
    let until = origin + config.duration;
    let mut tasks = Vec::new();
    for c in 0..config.clients {
        tasks.push(tokio::spawn(clients::run_client(
            c as u64,
            endpoints.clone(),
            ClientWorkload::new(config.workload, c as u64),
            rng.gen(),
            origin,
            until,
            config.client,
        )));
    }
    let mut admin_rng = rand::rngs::StdRng::seed_from_u64(rng.gen());
    let admin = async {
        if !config.membership {
            return None;
        }
        let plan = membership::Plan::new(config.nodes, &mut admin_rng);
        let deadline = until + MEMBERSHIP_GRACE;
        Some(
            membership::run(
                &cluster,
                &directory,
                plan,
                origin,
                config.duration,
                deadline,
                &mut admin_rng,
            )
            .await,
        )
    };
    let (nemesis, mut membership) = tokio::join!(
        nemesis::run(&cluster, &mut rng, until, config.pauses),
        admin
    );
    let mut records: Vec<Record> = Vec::new();
    let mut removed_answers = 0;
    for task in tasks {
        let (history, removed) = task.await.context("a client task failed")??;
        records.extend(history);
        removed_answers += removed;
    }
    let nemesis =
        nemesis.with_context(|| format!("the nemesis failed (logs in {})", root.display()))?;

    // Heal everything, stop every node (a removed one for good) and restart every member from
    // its disk.
    let mut cluster = cluster.into_inner();
    cluster.heal_links()?;
    cluster.stop().await;
    cluster
        .restart_members()
        .await
        .with_context(|| format!("restarting the members (logs in {})", root.display()))?;
    let members = cluster.endpoints(cluster.targets());
    let unread_keys = final_reads(config, &members, origin, &mut rng, &mut records).await?;
    if let Some(report) = membership.as_mut() {
        report.record = membership::final_record(&members).await;
        report.removed_answers = removed_answers;
    }
    cluster.stop().await;

    records.sort_by_key(|r| r.call);
    history::write_jsonl(&history_path, &records)
        .with_context(|| format!("writing {}", history_path.display()))?;
    let verdict = history::check(&records)?;
    let append_anomalies = append_anomalies(&records);
    let (frames_dropped, connections_cut) = cluster.proxies.values().fold((0, 0), |(d, c), p| {
        (
            d + p.stats.dropped.load(Ordering::Relaxed),
            c + p.stats.cut.load(Ordering::Relaxed),
        )
    });
    let blackholed = cluster.netns.as_ref().map(netns::Namespaces::cuts);
    let report = ChaosReport {
        operations: records.len(),
        verdict,
        append_anomalies,
        nemesis,
        membership,
        frames_dropped,
        connections_cut,
        blackholed,
        unread_keys,
        history: history_path,
        elapsed: started.elapsed(),
    };
    if config.data_root.is_some() || (report.passed() && config.history.is_some()) {
        let _ = std::fs::remove_dir_all(&temp);
    }
    Ok(report)
}

/// The report lines of `anomalies`: the first few of each key, and how many there are.
pub fn anomaly_lines(anomalies: &[(String, AppendAnomaly)]) -> Vec<String> {
    const SHOWN: usize = 3;
    let mut lines = Vec::new();
    let keys: BTreeSet<&str> = anomalies.iter().map(|(k, _)| k.as_str()).collect();
    for key in keys {
        let of_key: Vec<&AppendAnomaly> = anomalies
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, a)| a)
            .collect();
        lines.extend(
            of_key
                .iter()
                .take(SHOWN)
                .map(|a| format!("  key {key}: {a}")),
        );
        if of_key.len() > SHOWN {
            lines.push(format!("  key {key}: … {} anomalies in all", of_key.len()));
        }
    }
    lines
}

/// The direct check of every append key's history, key by key.
pub fn append_anomalies(records: &[Record]) -> Vec<(String, AppendAnomaly)> {
    let keys: BTreeSet<&str> = records
        .iter()
        .map(|r| r.key.as_str())
        .filter(|k| KeyKind::of(k) == KeyKind::Append)
        .collect();
    keys.into_iter()
        .flat_map(|key| {
            let of_key: Vec<Record> = records.iter().filter(|r| r.key == key).cloned().collect();
            append::check(&of_key)
                .into_iter()
                .map(move |a| (key.to_owned(), a))
        })
        .collect()
}

/// After the heal: one reader per key (every key of the workload and every key a client used)
/// reads it through the `endpoints` given (the members), retrying, until a read succeeds; every
/// attempt is recorded. Returns the keys no read succeeded on.
async fn final_reads(
    config: &ChaosConfig,
    endpoints: &[String],
    origin: Instant,
    rng: &mut rand::rngs::StdRng,
    records: &mut Vec<Record>,
) -> anyhow::Result<Vec<String>> {
    let mut unread = Vec::new();
    let keys: BTreeSet<String> = ClientWorkload::keys(config.workload)
        .into_iter()
        .chain(records.iter().map(|r| r.key.clone()))
        .collect();
    let mut nodes = clients::Nodes::fixed(endpoints.to_vec(), config.client.timeout);
    for (i, key) in keys.into_iter().enumerate() {
        let reader = (config.clients + i) as u64;
        let planned = ClientWorkload::new(config.workload, reader).read(key.clone());
        let deadline = Instant::now() + FINAL_READS;
        loop {
            let call = clients::now_ns(origin);
            let (status, output) = nodes.invoke(rng, &planned).await?;
            records.push(planned.record(reader, call, clients::now_ns(origin), status, output));
            if status == RecordStatus::Ok {
                break;
            }
            if Instant::now() > deadline {
                unread.push(key);
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(unread)
}
