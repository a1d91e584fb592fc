//! `synod-harness bench` against a running 3-node cluster: it drives reads, writes and
//! compare-and-sets through every node, each sent to its key's home (`--route home`), and its
//! JSON report accounts for them and for the nodes' fsyncs. The cluster is the library's `LocalCluster` (what `synod cluster` and
//! `bench --cluster` run), its nodes started as `synod-harness node`. A run in which every
//! operation fails exits with 1. `bench-replace` replaces a member of a tiny cluster under
//! writes and verifies every key afterwards.

use clap::Parser;
use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;
use synod_server::cli::{ClusterArgs, LocalCluster, NodeCommand};
use synod_server::Client;

const HARNESS: &str = env!("CARGO_BIN_EXE_synod-harness");

/// `synod cluster`'s flags.
#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    cluster: ClusterArgs,
}

/// The first of `n` consecutive ports nobody listens on, below the kernel's ephemeral range.
/// Runs `command`, which must succeed (its output in the failure message); its stdout.
fn succeeds(command: &mut Command) -> String {
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn free_ports(n: u16) -> u16 {
    let start = 20_000 + (std::process::id() % 400) as u16 * 16;
    (start..30_000)
        .step_by(usize::from(n))
        .find(|&base| (base..base + n).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok()))
        .expect("free ports")
}

/// The Prometheus counter `name` of the node at `endpoint`.
async fn counter(endpoint: &str, name: &str) -> u64 {
    let text = Client::new(endpoint, Duration::from_secs(5))
        .unwrap()
        .metrics()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no counter {name} in:\n{text}"))
}

async fn requests_ok(endpoints: &[String]) -> u64 {
    let mut sum = 0;
    for endpoint in endpoints {
        sum += counter(endpoint, "synod_requests_ok_total").await;
    }
    sum
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_drives_every_operation_and_reports_it() {
    let base = free_ports(6);
    let base_port = format!("--base-port={base}");
    let http_base_port = format!("--http-base-port={}", base + 3);
    let flags = Flags::parse_from([
        "cluster",
        "--nodes=3",
        &base_port,
        &http_base_port,
        "--round-timeout-ms=200",
        "--backoff-base-ms=5",
        "--backoff-max-ms=100",
        "--request-timeout-ms=2000",
    ]);
    let node = NodeCommand {
        program: HARNESS.into(),
        args: vec!["node".into()],
    };
    let cluster = LocalCluster::start(&flags.cluster, &node).await.unwrap();
    let endpoints = cluster.endpoints();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let ok_before = requests_ok(&endpoints).await;

    let stdout = succeeds(
        Command::new(HARNESS)
            .args(["bench", "--endpoints", &endpoints.join(",")])
            .args(["--clients", "4", "--keys", "20", "--value-size", "32"])
            .args([
                "--read-ratio",
                "0.3",
                "--cas-ratio",
                "0.3",
                "--route",
                "home",
            ])
            // A busy machine may fail a few requests (checked by kind below): the error-rate gate
            // is not what this test is about.
            .args(["--max-error-rate", "1"])
            .args(["--duration", "1", "--warmup", "0.2", "--json"])
            .arg(&json),
    );
    assert!(stdout.contains("throughput:"), "{stdout}");

    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let ok = report["ok"].as_u64().unwrap();
    assert!(ok > 0, "{report}");
    assert_eq!(report["latency"]["count"].as_u64(), Some(ok));
    for op in ["read", "write", "cas"] {
        assert!(
            report["by_op"][op]["count"].as_u64().unwrap() > 0,
            "no {op} measured: {report}"
        );
    }
    let latency = &report["latency"];
    assert!(latency["p50_us"].as_u64() <= latency["p99_us"].as_u64());
    assert!(latency["p99_us"].as_u64() <= latency["max_us"].as_u64());
    // Only the server's own availability answers may fail a request (a slow round on a busy
    // machine); anything else — a body the tool cannot decode, a refused connection — is a bug.
    for (kind, _) in report["errors_by_kind"].as_object().unwrap() {
        assert!(
            ["unavailable", "timeout", "indeterminate", "overloaded"].contains(&kind.as_str()),
            "unexpected error kind {kind}: {report}"
        );
    }
    assert!(report["server"]["fsyncs"].as_u64().unwrap() > 0, "{report}");
    assert!(
        report["server"]["mean_batch"].as_f64().unwrap() >= 1.0,
        "{report}"
    );

    // Every request went straight to its key's home: no node forwarded one, nor proposed one
    // for another node's key.
    for endpoint in &endpoints {
        assert_eq!(counter(endpoint, "synod_forwards_sent_total").await, 0);
        assert_eq!(
            counter(endpoint, "synod_requests_home_unreachable_total").await,
            0
        );
    }
    assert_eq!(report["server"]["forwards"].as_u64(), Some(0), "{report}");

    // The nodes answered at least the operations the report measured.
    let ok_after = requests_ok(&endpoints).await;
    assert!(
        ok_after - ok_before >= ok,
        "{ok_after} - {ok_before} < {ok}"
    );
    cluster.stop().await;
}

#[test]
fn a_run_of_errors_fails_the_command() {
    // Nothing listens on the endpoint: every operation fails, and the command must say so.
    let dead = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let output = Command::new(HARNESS)
        .args(["bench", "--endpoints", &endpoint, "--clients", "1"])
        .args(["--duration", "0.3", "--warmup", "0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("error: no operation succeeded"), "{stderr}");
}

/// `synod-harness bench-replace` on a tiny cluster: node 3 is replaced by node 4 (added first,
/// node 3 killed after the change: the planned replacement, which finishes on this build) while
/// writers keep writing, and every key reads back right from every member, and through the
/// quorum {2, 4} with node 1 killed. Timing is not asserted.
#[test]
fn bench_replace_verifies_every_key_after_the_replacement() {
    let base = free_ports(8);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("replace.json");
    let stdout = succeeds(
        Command::new(HARNESS)
            .args(["bench-replace", "--keys", "50", "--clients", "2"])
            .args(["--load-clients", "4", "--value-size", "16"])
            .args(["--warmup", "0.1", "--before", "0.3", "--after", "0.3"])
            .args(["--order", "add-first", "--kill", "last"])
            .arg(format!("--base-port={base}"))
            .arg(format!("--http-base-port={}", base + 4))
            .arg("--json")
            .arg(&json),
    );
    assert!(stdout.contains("verification: PASS"), "{stdout}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["change"]["finished"], true, "{report}");
    let steps = report["change"]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "{report}");
    assert!(steps.iter().all(|s| s["status"] == 200), "{report}");
    // Removing node 3 after adding node 4 caught every key up first.
    assert!(
        report["change"]["caught_up"].as_u64().unwrap() >= 50,
        "{report}"
    );
    let verify = &report["verify"];
    assert_eq!(verify["passed"], true, "{report}");
    let passes = verify["passes"].as_array().unwrap();
    assert_eq!(passes.len(), 4, "{report}");
    for pass in passes {
        assert_eq!(pass["keys"].as_u64(), Some(50), "{report}");
        assert_eq!(pass["wrong"].as_u64(), Some(0), "{report}");
        assert_eq!(pass["unreadable"].as_u64(), Some(0), "{report}");
    }
    assert!(
        report["writes"]["before"]["ok"].as_u64().unwrap() > 0,
        "{report}"
    );
}
