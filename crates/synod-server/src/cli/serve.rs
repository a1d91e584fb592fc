//! `synod serve`: run one node until Ctrl-C / SIGTERM (or a storage failure). The harness's
//! hidden `synod-harness node` is the same command.

use super::init_undo::InitUndo;
use super::security_args::SecurityArgs;
use crate::server::{Server, ServerConfig, DEFAULT_CLUSTER_ID};
use anyhow::{bail, Context};
use clap::Args;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use synod_core::{FastPaths, NodeId};

/// `synod serve` options.
#[derive(Args, Debug, Clone)]
#[command(args_override_self = true)]
pub struct ServeArgs {
    /// Read flags from this TOML file first (command-line flags override it; see
    /// docs/server.md).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// This node's id (1..63).
    #[arg(long)]
    pub id: u8,
    /// Every member's peer address, this node's included: `1=127.0.0.1:7001,2=...` (host names
    /// are resolved at start, IPv4 first: `1=localhost:7001`).
    #[arg(long)]
    pub peers: String,
    /// The HTTP API's address, `HOST:PORT` (a host name is resolved at start).
    #[arg(long, value_parser = resolve_addr)]
    pub http: SocketAddr,
    /// The data directory.
    #[arg(long)]
    pub data: PathBuf,
    /// Create a new node in `--data` (which must be missing or empty).
    #[arg(long)]
    pub init: bool,
    /// The cluster id; peers and the data directory must carry the same.
    #[arg(long, default_value = DEFAULT_CLUSTER_ID)]
    pub cluster_id: String,
    /// Join a running cluster through this member's HTTP API (`http://HOST:PORT`): its founding
    /// membership, members' addresses and configuration are asked there, waiting until an
    /// operator adds this node (`synod member add`). `--peers` then needs only this node's
    /// own address. Give it again on restarts.
    #[arg(long, conflicts_with = "init")]
    pub join: Option<String>,
    /// Timeouts and limits.
    #[command(flatten)]
    pub tuning: Tuning,
    /// TLS and tokens.
    #[command(flatten)]
    pub security: SecurityArgs,
}

/// A feature turned `on` or `off`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Switch {
    /// On.
    On,
    /// Off.
    Off,
}

impl Switch {
    /// Whether it is on.
    pub fn on(self) -> bool {
        self == Switch::On
    }

    fn arg(self) -> &'static str {
        match self {
            Switch::On => "on",
            Switch::Off => "off",
        }
    }
}

/// Timeouts, limits and features (shared with `synod cluster` and `synod-harness bench
/// --cluster`, which pass them on).
#[derive(Args, Debug, Clone)]
pub struct Tuning {
    /// Phase-1 quorum size (default: majority). Needs --q2; q1 + q2 must exceed the cluster size.
    #[arg(long, requires = "q2")]
    pub q1: Option<usize>,
    /// Phase-2 quorum size (default: majority).
    #[arg(long, requires = "q1")]
    pub q2: Option<usize>,
    /// Rounds (attempts) per request.
    #[arg(long, default_value_t = synod_core::DEFAULT_MAX_ATTEMPTS)]
    pub max_attempts: u32,
    /// How long a round waits for its quorums, in ms.
    #[arg(long, default_value_t = 500)]
    pub round_timeout_ms: u64,
    /// Smallest random backoff between attempts, in ms.
    #[arg(long, default_value_t = 5)]
    pub backoff_base_ms: u64,
    /// Largest random backoff between attempts, in ms.
    #[arg(long, default_value_t = 500)]
    pub backoff_max_ms: u64,
    /// How long an HTTP request waits for its outcome before answering 503, in ms.
    #[arg(long, default_value_t = 5000)]
    pub request_timeout_ms: u64,
    /// Largest value accepted, in bytes.
    #[arg(long, default_value_t = 1024 * 1024)]
    pub max_value_bytes: usize,
    /// Largest peer frame sent or accepted, in bytes.
    #[arg(long, default_value_t = crate::wire::DEFAULT_MAX_FRAME)]
    pub max_frame_bytes: usize,
    /// Requests that may wait behind a running one on the same key.
    #[arg(long, default_value_t = crate::replica::DEFAULT_QUEUE_LIMIT)]
    pub queue_limit: usize,
    /// Keys whose protocol state is kept in memory; beyond it, idle keys are evicted after each
    /// batch and reloaded from storage when touched (`synod_cache_evictions_total`).
    #[arg(long, default_value_t = crate::replica::DEFAULT_CACHE_LIMIT as u32,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub cache_limit: u32,
    /// One-round-trip writes and reads (`off`: classic two-phase rounds, for comparisons).
    #[arg(long, value_enum, default_value_t = Switch::On)]
    pub fast_paths: Switch,
    /// Forward client requests to their key's home (`off`: every node proposes for the
    /// requests it receives, for comparisons).
    #[arg(long, value_enum, default_value_t = Switch::On)]
    pub forward: Switch,
    /// How long a forwarded request waits for the home's answer, in ms; then a read runs here
    /// and a write answers `indeterminate`.
    #[arg(long, default_value_t = crate::forward::DEFAULT_FORWARD_TIMEOUT.as_millis() as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub forward_timeout_ms: u64,
    /// How long a membership change run on this node waits for a step to be installed on a
    /// quorum of the new configuration (and on the nodes it adds) before it reports a stall,
    /// in ms.
    #[arg(long, default_value_t = crate::reconfiguration::DEFAULT_INSTALL_TIMEOUT.as_millis() as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub install_timeout_ms: u64,
    /// Require peers' handshakes to list the same member addresses as `--peers` (`off` where
    /// nodes reach each other at different addresses, e.g. through proxies).
    #[arg(long, value_enum, default_value_t = Switch::On)]
    pub check_addresses: Switch,
}

impl Tuning {
    /// The same options as command-line arguments (for child processes).
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            format!("--max-attempts={}", self.max_attempts),
            format!("--round-timeout-ms={}", self.round_timeout_ms),
            format!("--backoff-base-ms={}", self.backoff_base_ms),
            format!("--backoff-max-ms={}", self.backoff_max_ms),
            format!("--request-timeout-ms={}", self.request_timeout_ms),
            format!("--max-value-bytes={}", self.max_value_bytes),
            format!("--max-frame-bytes={}", self.max_frame_bytes),
            format!("--queue-limit={}", self.queue_limit),
            format!("--cache-limit={}", self.cache_limit),
            format!("--fast-paths={}", self.fast_paths.arg()),
            format!("--forward={}", self.forward.arg()),
            format!("--forward-timeout-ms={}", self.forward_timeout_ms),
            format!("--install-timeout-ms={}", self.install_timeout_ms),
            format!("--check-addresses={}", self.check_addresses.arg()),
        ];
        if let (Some(q1), Some(q2)) = (self.q1, self.q2) {
            args.push(format!("--q1={q1}"));
            args.push(format!("--q2={q2}"));
        }
        args
    }
}

/// Resolves `HOST:PORT` (an IP address or a host name) to one socket address: the first IPv4
/// address the name has, else its first address, so that every node resolving the same name on
/// one machine binds and dials the same address.
pub fn resolve_addr(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    let not_host_port =
        || format!("\"{text}\" is not HOST:PORT (e.g. 127.0.0.1:7001 or localhost:7001)");
    let (host, port) = text.rsplit_once(':').ok_or_else(not_host_port)?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(not_host_port());
    }
    let addrs: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(text)
        .map_err(|e| format!("cannot resolve \"{host}\" in \"{text}\": {e}"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("\"{host}\" in \"{text}\" resolves to no address"))
}

/// Parses `1=127.0.0.1:7001,2=localhost:7002` (host names resolved by [`resolve_addr`]).
pub fn parse_peers(text: &str) -> anyhow::Result<BTreeMap<NodeId, SocketAddr>> {
    let mut peers = BTreeMap::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (id, addr) = item
            .split_once('=')
            .with_context(|| format!("peer \"{item}\" is not ID=HOST:PORT"))?;
        let id: u8 = id
            .trim()
            .parse()
            .with_context(|| format!("peer id \"{id}\" is not a number"))?;
        let addr =
            resolve_addr(addr.trim()).map_err(|e| anyhow::anyhow!("peer {id}'s address {e}"))?;
        if peers.insert(NodeId(id), addr).is_some() {
            bail!("peer {id} is listed twice");
        }
    }
    if peers.is_empty() {
        bail!("--peers lists no node");
    }
    Ok(peers)
}

fn config(args: ServeArgs) -> anyhow::Result<ServerConfig> {
    let peers = parse_peers(&args.peers)?;
    let t = args.tuning;
    let mut config = ServerConfig::new(NodeId(args.id), peers, args.http, args.data);
    config.cluster_id = args.cluster_id;
    config.init = args.init;
    config.quorums = t.q1.zip(t.q2);
    config.max_attempts = t.max_attempts;
    config.queue_limit = t.queue_limit;
    config.cache_limit = t.cache_limit as usize;
    config.fast_paths = if t.fast_paths.on() {
        FastPaths::ALL
    } else {
        FastPaths::NONE
    };
    config.forwarding = t.forward.on();
    config.forward_timeout = Duration::from_millis(t.forward_timeout_ms);
    config.install_timeout = Duration::from_millis(t.install_timeout_ms);
    config.timing.round_timeout = Duration::from_millis(t.round_timeout_ms);
    config.timing.backoff_base = Duration::from_millis(t.backoff_base_ms);
    config.timing.backoff_max = Duration::from_millis(t.backoff_max_ms);
    config.api.request_timeout = Duration::from_millis(t.request_timeout_ms);
    config.api.max_value = t.max_value_bytes;
    config.max_frame = t.max_frame_bytes;
    config.check_addresses = t.check_addresses.on();
    config.security = args.security.config();
    Ok(config)
}

/// Runs the node until a signal or a failure (`synod serve`, `synod-harness node`).
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    super::parent_death::die_with_launcher()?;
    let join = args.join.clone();
    let mut config = config(args)?;
    if let Some(url) = join {
        super::join::join(&url, &mut config).await?;
    }
    let id = config.node_id;
    let undo = config
        .init
        .then(|| InitUndo::record(&config.data))
        .flatten();
    let server = match Server::start(config).await {
        Ok(server) => server,
        Err(e) => {
            if let Some(undo) = undo {
                undo.undo();
            }
            return Err(e).with_context(|| format!("node {id} cannot start"));
        }
    };
    let scheme = if server.https() { "https" } else { "http" };
    println!(
        "synod node {id}: http={scheme}://{} peer={}",
        server.http_addr, server.peer_addr
    );
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("installing a SIGHUP handler")?;
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        tokio::select! {
            reason = server.stopped() => bail!("node {id} stopped: {reason}"),
            signal = &mut shutdown => {
                tracing::info!(node = %id, "{signal}: shutting down");
                return Ok(());
            }
            _ = hangup.recv() => match server.reload_security() {
                Ok(done) => tracing::info!(node = %id, "SIGHUP: {done}"),
                Err(e) => tracing::error!(node = %id, "SIGHUP: nothing reloaded: {e}"),
            },
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM, naming the signal.
pub async fn shutdown_signal() -> &'static str {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "interrupted",
        _ = term.recv() => "terminated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn parse(extra: &[&str]) -> Result<ServerConfig, String> {
        let base = [
            "synod",
            "--id=1",
            "--peers=1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003",
            "--http=127.0.0.1:8081",
            "--data=/tmp/unused",
        ];
        let cli = Cli::try_parse_from(base.iter().chain(extra)).map_err(|e| e.to_string())?;
        config(cli.serve).map_err(|e| e.to_string())
    }

    #[test]
    fn the_shortcuts_and_forwarding_are_on_unless_turned_off() {
        let default = parse(&[]).unwrap();
        assert_eq!(default.fast_paths, FastPaths::ALL);
        assert!(default.forwarding);
        assert_eq!(default.forward_timeout, Duration::from_millis(2000));
        let off = parse(&[
            "--fast-paths=off",
            "--forward",
            "off",
            "--forward-timeout-ms=300",
        ])
        .unwrap();
        assert_eq!(off.fast_paths, FastPaths::NONE);
        assert!(!off.forwarding);
        assert_eq!(off.forward_timeout, Duration::from_millis(300));
        // The flags travel to the children of `synod cluster` and `bench --cluster`.
        let cli = Cli::try_parse_from([
            "synod",
            "--id=1",
            "--peers=1=127.0.0.1:7001",
            "--http=127.0.0.1:8081",
            "--data=/tmp/unused",
            "--fast-paths=off",
        ])
        .unwrap();
        let args = cli.serve.tuning.to_args();
        assert!(args.contains(&"--fast-paths=off".to_owned()), "{args:?}");
        assert!(args.contains(&"--forward=on".to_owned()), "{args:?}");
    }

    #[test]
    fn host_names_are_resolved_in_peers_and_http() {
        let config = parse(&[
            "--peers=1=localhost:7001,2=127.0.0.1:7002",
            "--http=localhost:8081",
        ])
        .unwrap();
        let peer = config.peers[&NodeId(1)];
        assert!(peer.ip().is_loopback() && peer.port() == 7001, "{peer}");
        assert!(config.http.ip().is_loopback() && config.http.port() == 8081);
        let err = parse(&["--peers=1=localhost"]).unwrap_err();
        assert!(err.contains("is not HOST:PORT"), "{err}");
        let err = parse(&["--peers=1=no-such-host.invalid:7001"]).unwrap_err();
        assert!(
            err.contains("cannot resolve \"no-such-host.invalid\""),
            "{err}"
        );
        let err = parse(&["--http=:8081"]).unwrap_err();
        assert!(err.contains("is not HOST:PORT"), "{err}");
    }

    #[test]
    fn bad_switches_and_timeouts_are_refused_clearly() {
        let err = parse(&["--fast-paths=maybe"]).unwrap_err();
        assert!(err.contains("possible values: on, off"), "{err}");
        let err = parse(&["--forward-timeout-ms=0"]).unwrap_err();
        assert!(err.contains("--forward-timeout-ms"), "{err}");
    }
}
