//! `synod bench` against a running 3-node cluster: it drives reads, writes and compare-and-sets
//! through every node, and its JSON report accounts for them and for the nodes' fsyncs.

mod support;

use std::process::Command;
use support::TestCluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_drives_every_operation_and_reports_it() {
    let cluster = TestCluster::start(3, &[]).await;
    let endpoints = (1..=3)
        .map(|id| cluster.http(id))
        .collect::<Vec<_>>()
        .join(",");
    let json = cluster.dir.path().join("report.json");
    let ok_before: u64 = {
        let mut sum = 0;
        for id in 1..=3 {
            sum += cluster.counter(id, "synod_requests_ok_total").await;
        }
        sum
    };

    let output = Command::new(env!("CARGO_BIN_EXE_synod"))
        .args(["bench", "--endpoints", &endpoints])
        .args(["--clients", "4", "--keys", "20", "--value-size", "32"])
        .args([
            "--read-ratio",
            "0.3",
            "--cas-ratio",
            "0.3",
            "--route",
            "key",
        ])
        .args(["--duration", "1", "--warmup", "0.2", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
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

    // The nodes answered at least the operations the report measured.
    let mut ok_after = 0;
    for id in 1..=3 {
        ok_after += cluster.counter(id, "synod_requests_ok_total").await;
    }
    assert!(
        ok_after - ok_before >= ok,
        "{ok_after} - {ok_before} < {ok}"
    );
}
