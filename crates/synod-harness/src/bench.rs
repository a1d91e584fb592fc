//! `synod-harness bench`: a closed-loop load generator against running endpoints — Synod nodes,
//! or etcd members for a comparison — or, with `--cluster N`, against a local Synod cluster it
//! starts (the same [`LocalCluster`] as `synod cluster`, its nodes run by [`run`]'s
//! [`NodeCommand`]) and stops afterwards.
//!
//! Prints progress on stderr (ok/s and errors/s each second on one live line when stderr is a
//! terminal; a plain line every 5 s otherwise) and, at the end, throughput, latency
//! percentiles (p50 / p90 / p99 / p99.9 / max, hdrhistogram) overall and per operation, errors
//! by kind, and — for Synod — the nodes' fsyncs and mean group-commit batch over the measured
//! window (from `/metrics`). `--json FILE` writes the same report for machines. The command fails
//! (exit 1) when more than `--max-error-rate` of the operations failed, or none succeeded.
//!
//! The pieces: `workload` (the client loop and the mix), `target` (Synod or etcd behind one
//! interface), [`etcd`] (etcd's v3 JSON gateway), `report` (histograms and the report).
//! [`replace`] is `synod-harness bench-replace`: the time to replace a dead member of a
//! 3-node cluster under a writer load.

pub mod etcd;
pub mod replace;
mod report;
mod target;
mod workload;

pub use target::TargetKind;
pub use workload::Route;

use anyhow::{bail, Context};
use clap::Args;
use report::{Progress, Recorder, Report, ServerStats};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use synod_server::cli::{ClusterArgs, LocalCluster, NodeCommand, Tuning};
use synod_server::{Client, ClientOptions, ClusterClient, DEFAULT_CLUSTER_ID};
use target::Target;
use tokio::time::Instant;
use workload::Mix;

/// `synod-harness bench` options.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Comma-separated HTTP endpoints (see --route).
    #[arg(long, value_delimiter = ',', required_unless_present = "cluster")]
    pub endpoints: Vec<String>,
    /// What the endpoints are.
    #[arg(long, value_enum, default_value_t = TargetKind::Synod)]
    pub target: TargetKind,
    /// Start a local Synod cluster of N nodes, bench it, and stop it.
    #[arg(long, conflicts_with = "endpoints")]
    pub cluster: Option<u8>,
    /// Peer port of node 1 of the `--cluster` (node i gets base + i - 1).
    #[arg(long, default_value_t = 17001)]
    pub base_port: u16,
    /// HTTP port of node 1 of the `--cluster`.
    #[arg(long, default_value_t = 18081)]
    pub http_base_port: u16,
    /// Concurrent closed-loop clients.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Distinct keys.
    #[arg(long, default_value_t = 1000)]
    pub keys: u64,
    /// Fraction of operations that are reads (0..1).
    #[arg(long, default_value_t = 0.2)]
    pub read_ratio: f64,
    /// Fraction of operations that are compare-and-sets (0..1).
    #[arg(long, default_value_t = 0.0)]
    pub cas_ratio: f64,
    /// Bytes per written value.
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,
    /// Which endpoint an operation goes to: the client's (`client`), the key's by number
    /// (`key`), or the key's home node (`home`, Synod only: asked from the nodes' `/cluster`).
    #[arg(long, value_enum, default_value_t = Route::Client)]
    pub route: Route,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Per-request client timeout, in ms.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
    /// Also write the report as JSON to FILE.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Fail (exit 1) when more than this fraction of the measured operations failed (0..1).
    #[arg(long, default_value_t = 0.01)]
    pub max_error_rate: f64,
    /// Server tuning for the `--cluster` nodes.
    #[command(flatten)]
    pub tuning: Tuning,
    /// Run the `--cluster` with peer mutual TLS and HTTPS (as `synod cluster --tls`).
    #[arg(long, requires = "cluster")]
    pub tls: bool,
}

/// Runs the benchmark; a `--cluster` is started with `node` (`synod-harness node`).
pub async fn run(args: BenchArgs, node: &NodeCommand) -> anyhow::Result<()> {
    if !(0.0..=1.0).contains(&args.read_ratio)
        || !(0.0..=1.0).contains(&args.cas_ratio)
        || args.read_ratio + args.cas_ratio > 1.0
    {
        bail!("--read-ratio and --cas-ratio must be in 0..1 and add up to at most 1");
    }
    if !(0.0..=1.0).contains(&args.max_error_rate) {
        bail!("--max-error-rate must be in 0..1");
    }
    if args.clients == 0 || args.keys == 0 || args.duration <= 0.0 || args.warmup < 0.0 {
        bail!("--clients, --keys and --duration must be positive, --warmup not negative");
    }
    let Some(nodes) = args.cluster else {
        return bench(&args, &args.endpoints, &ClientOptions::default()).await;
    };
    if args.target != TargetKind::Synod {
        bail!("--cluster starts Synod nodes; it cannot be combined with --target etcd");
    }
    let cluster = LocalCluster::start(
        &ClusterArgs {
            nodes,
            base_port: args.base_port,
            http_base_port: args.http_base_port,
            data_root: None,
            cluster_id: DEFAULT_CLUSTER_ID.to_owned(),
            tuning: args.tuning.clone(),
            tls: args.tls,
        },
        node,
    )
    .await?;
    eprintln!(
        "started a local cluster: {}",
        cluster.endpoints().join(", ")
    );
    let outcome = bench(&args, &cluster.endpoints(), cluster.client_options()).await;
    cluster.stop().await;
    outcome
}

async fn bench(
    args: &BenchArgs,
    endpoints: &[String],
    options: &ClientOptions,
) -> anyhow::Result<()> {
    if endpoints.is_empty() {
        bail!("no endpoints");
    }
    let timeout = Duration::from_millis(args.timeout_ms);
    let targets = endpoints
        .iter()
        .map(|e| {
            Target::new(args.target, e, timeout, options).with_context(|| format!("endpoint {e}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let homes = match (args.route, args.target) {
        (Route::Home, TargetKind::Synod) => Some(Arc::new(
            ClusterClient::connect_with(endpoints, timeout, options)
                .await
                .context("asking the nodes who they are (--route home)")?,
        )),
        (Route::Home, TargetKind::Etcd) => bail!("--route home needs Synod endpoints"),
        (Route::Client | Route::Key, _) => None,
    };
    let mix = Mix {
        keys: args.keys,
        read_ratio: args.read_ratio,
        cas_ratio: args.cas_ratio,
        value_size: args.value_size,
        route: args.route,
    };
    let setup = serde_json::json!({
        "target": args.target,
        "endpoints": endpoints,
        "clients": args.clients,
        "keys": args.keys,
        "read_ratio": args.read_ratio,
        "cas_ratio": args.cas_ratio,
        "value_size": args.value_size,
        "route": args.route,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
    });
    eprintln!(
        "bench: {} clients, {} keys, {:.0}% reads, {:.0}% cas, {} B values, {}s warm-up + {}s, --route {}, against {}",
        args.clients,
        args.keys,
        args.read_ratio * 100.0,
        args.cas_ratio * 100.0,
        args.value_size,
        args.warmup,
        args.duration,
        clap::ValueEnum::to_possible_value(&args.route)
            .map_or_else(String::new, |v| v.get_name().to_owned()),
        endpoints.join(",")
    );

    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(args.warmup);
    let end = measure_from + Duration::from_secs_f64(args.duration);
    let progress = Arc::new(Progress::default());
    let targets = Arc::new(targets);
    let mut clients = Vec::new();
    for c in 0..args.clients {
        clients.push(tokio::spawn(workload::client(
            c,
            targets.clone(),
            homes.clone(),
            mix,
            measure_from,
            end,
            progress.clone(),
        )));
    }
    let live = std::io::stderr().is_terminal();
    let ticker = tokio::spawn(progress_line(progress.clone(), start, measure_from, live));
    let server_before = match args.target {
        TargetKind::Synod => {
            tokio::time::sleep_until(measure_from).await;
            Some(scrape(endpoints, timeout, options).await)
        }
        TargetKind::Etcd => None,
    };
    let mut recorder = Recorder::default();
    for client in clients {
        recorder.merge(client.await.context("a bench client panicked")?);
    }
    let seconds = (Instant::now().min(end) - measure_from).as_secs_f64();
    ticker.abort();
    if live {
        eprintln!();
    }
    let server = match server_before {
        Some(before) => {
            let after = scrape(endpoints, timeout, options).await;
            Some(server_stats(&before, &after, seconds))
        }
        None => None,
    };
    let report = Report::new(setup, &recorder, seconds, server);
    print!("{}", report.text());
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("report written to {}", path.display());
    }
    report
        .within_error_rate(args.max_error_rate)
        .map_err(anyhow::Error::msg)
}

/// Prints `[  12s] measuring     4321 ok/s        0 errors/s` on stderr: with `live` (a
/// terminal) once a second, rewriting one line; otherwise as a plain line every 5 s, for logs.
async fn progress_line(progress: Arc<Progress>, start: Instant, measure_from: Instant, live: bool) {
    let period = Duration::from_secs(if live { 1 } else { 5 });
    let (mut last_ops, mut last_errors) = (0, 0);
    let mut tick = tokio::time::interval(period);
    tick.tick().await;
    loop {
        tick.tick().await;
        let ops = progress.ops.load(Ordering::Relaxed);
        let errors = progress.errors.load(Ordering::Relaxed);
        let phase = if Instant::now() < measure_from {
            "warm-up  "
        } else {
            "measuring"
        };
        let secs = period.as_secs_f64();
        let new_errors = errors - last_errors;
        let line = format!(
            "[{:>5}s] {phase} {:>8.0} ok/s {:>8.0} errors/s",
            start.elapsed().as_secs(),
            (ops - last_ops - new_errors) as f64 / secs,
            new_errors as f64 / secs,
        );
        if live {
            eprint!("\r{line}   ");
        } else {
            eprintln!("{line}");
        }
        (last_ops, last_errors) = (ops, errors);
    }
}

/// The Prometheus counters `synod-harness bench` reads from each node, summed over the nodes.
#[derive(Clone, Debug, Default, PartialEq)]
struct Scrape {
    fsyncs: f64,
    persists_sum: f64,
    persists_count: f64,
    rejects: f64,
    retries: f64,
    fast_writes: f64,
    fast_reads: f64,
    forwards: f64,
    /// `synod_process_write_bytes_total`: bytes the node processes wrote to storage (OS count).
    write_bytes: f64,
    /// `synod_log_bytes_total`: bytes appended to the acceptor logs.
    log_bytes: f64,
}

async fn scrape(endpoints: &[String], timeout: Duration, options: &ClientOptions) -> Scrape {
    let mut total = Scrape::default();
    for endpoint in endpoints {
        let Ok(client) = Client::with_options(endpoint, timeout, options) else {
            continue;
        };
        let Ok(text) = client.metrics().await else {
            continue;
        };
        let node = parse_metrics(&text);
        total.fsyncs += node.fsyncs;
        total.persists_sum += node.persists_sum;
        total.persists_count += node.persists_count;
        total.rejects += node.rejects;
        total.retries += node.retries;
        total.fast_writes += node.fast_writes;
        total.fast_reads += node.fast_reads;
        total.forwards += node.forwards;
        total.write_bytes += node.write_bytes;
        total.log_bytes += node.log_bytes;
    }
    total
}

fn parse_metrics(text: &str) -> Scrape {
    let mut s = Scrape::default();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((name, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        match name {
            "synod_fsyncs_total" => s.fsyncs = value,
            "synod_batch_persists_sum" => s.persists_sum = value,
            "synod_batch_persists_count" => s.persists_count = value,
            "synod_rejects_total" => s.rejects = value,
            "synod_retries_total" => s.retries = value,
            "synod_fast_writes_total" => s.fast_writes = value,
            "synod_fast_reads_total" => s.fast_reads = value,
            "synod_forwards_sent_total" => s.forwards = value,
            "synod_process_write_bytes_total" => s.write_bytes = value,
            "synod_log_bytes_total" => s.log_bytes = value,
            _ => {}
        }
    }
    s
}

fn server_stats(before: &Scrape, after: &Scrape, seconds: f64) -> ServerStats {
    let fsyncs = (after.fsyncs - before.fsyncs).max(0.0);
    let batches = after.persists_count - before.persists_count;
    ServerStats {
        fsyncs: fsyncs as u64,
        fsyncs_per_s: if seconds > 0.0 { fsyncs / seconds } else { 0.0 },
        mean_batch: if batches > 0.0 {
            (after.persists_sum - before.persists_sum) / batches
        } else {
            0.0
        },
        rejects: (after.rejects - before.rejects).max(0.0) as u64,
        retries: (after.retries - before.retries).max(0.0) as u64,
        fast_writes: (after.fast_writes - before.fast_writes).max(0.0) as u64,
        fast_reads: (after.fast_reads - before.fast_reads).max(0.0) as u64,
        forwards: (after.forwards - before.forwards).max(0.0) as u64,
        written_bytes: (after.write_bytes - before.write_bytes).max(0.0) as u64,
        log_bytes: (after.log_bytes - before.log_bytes).max(0.0) as u64,
        state_changes: (after.persists_sum - before.persists_sum).max(0.0) as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_deltas_give_fsync_rate_and_mean_batch() {
        let before = parse_metrics(
            "# HELP x\nsynod_fsyncs_total 10\nsynod_batch_persists_sum 40\nsynod_batch_persists_count 10\nsynod_batch_persists{quantile=\"0.5\"} 4\nsynod_rejects_total 1\nsynod_fast_writes_total 2\n",
        );
        assert_eq!(before.fsyncs, 10.0);
        assert_eq!(before.persists_sum, 40.0);
        let after = Scrape {
            fsyncs: 30.0,
            persists_sum: 140.0,
            persists_count: 30.0,
            rejects: 3.0,
            retries: 0.0,
            fast_writes: 7.0,
            fast_reads: 0.0,
            forwards: 0.0,
            write_bytes: 8192.0,
            log_bytes: 0.0,
        };
        let stats = server_stats(&before, &after, 2.0);
        assert_eq!(stats.fsyncs, 20);
        assert_eq!(stats.fsyncs_per_s, 10.0);
        assert_eq!(stats.mean_batch, 5.0);
        assert_eq!(stats.rejects, 2);
        assert_eq!(stats.fast_writes, 5);
        assert_eq!(stats.written_bytes, 8192);
        assert_eq!(stats.state_changes, 100);
    }
}
