//! Health and readiness of real nodes: `/health` says which node and which process answers;
//! `/ready` answers 503 with the reason while a node cannot reach a quorum of its members (while
//! `/health` stays 200) or a member refuses it; `/v1/cluster`, `synod status` and the per-peer
//! metrics show every member's link; a node with another member list is refused on both sides,
//! visibly; an unreachable peer is logged once, and again when it recovers.

mod support;

use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};
use support::{await_ready, await_ready_status, free_port, get_json, LoggedNode, TestCluster};

/// Runs `synod status --endpoint base` with `extra` flags: exit code and stdout.
fn synod_status(base: &str, extra: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_synod"))
        .args(["status", "--endpoint", base])
        .args(extra)
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_names_the_node_and_its_process() {
    let cluster = TestCluster::start(1, &[]).await;
    let (status, body) = get_json(&format!("{}/health", cluster.http(1))).await;
    let pid = cluster.nodes[0].child.as_ref().unwrap().id();
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok", "{body}");
    assert_eq!(body["node"], 1, "{body}");
    assert_eq!(body["pid"], pid, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_a_quorum_is_alive_but_not_ready() {
    let mut cluster = TestCluster::start(3, &[]).await;
    let base = cluster.http(1).to_owned();
    let all = serde_json::json!([1, 2, 3]);
    await_ready(&base, 200, |body| body["connected"] == all).await;
    let (code, text) = synod_status(base.trim_start_matches("http://"), &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.starts_with(&format!("node 1 at {base}: ready\n")),
        "{text}"
    );

    // A majority killed: node 1 lives on, but cannot serve. (Both directions of each link are
    // seen to close, one after the other.)
    cluster.kill(2);
    cluster.kill(3);
    let gone = |id: u8| {
        format!(
            "node {id} ({}): not connected, last contact ",
            cluster.peer(id)
        )
    };
    let not = await_ready(&base, 503, |body| {
        let detail = body["detail"].as_str().unwrap_or_default();
        detail.contains(&gone(2)) && detail.contains(&gone(3))
    })
    .await;
    assert_eq!(not["error"], "not_ready", "{not}");
    let detail = not["detail"].as_str().unwrap();
    assert!(
        detail.starts_with(
            "this node (node 1) is connected to 1 of 3 members ({1}) and a quorum needs 2; node 2 ("
        ),
        "{detail}"
    );
    assert_eq!(not["connected"], serde_json::json!([1]), "{not}");
    let (status, health) = get_json(&format!("{base}/health")).await;
    assert_eq!((status, &health["status"]), (200, &Value::from("ok")));

    // The same in /v1/cluster, `synod status`, and the per-peer metrics.
    let (status, view) = get_json(&format!("{base}/v1/cluster")).await;
    assert_eq!(status, 200);
    assert_eq!(view["ready"], false, "{view}");
    let why = "this node (node 1) is connected to 1 of 3 members ({1}) and a quorum needs 2";
    assert!(
        view["not_ready"].as_str().unwrap().starts_with(why),
        "{view}"
    );
    let peers = view["peers"].as_array().unwrap();
    assert_eq!(peers.len(), 3, "{view}");
    assert_eq!(peers[0]["self"], true, "{view}");
    for peer in &peers[1..] {
        assert_eq!(peer["connected"], false, "{view}");
        assert!(peer["last_contact_ms"].as_u64().is_some(), "{view}");
        assert!(peer["frames_received"].as_u64().is_some(), "{view}");
    }
    assert_eq!(
        view["membership"]["quorum"], 2,
        "the membership as this node sees it: {view}"
    );
    assert_eq!(
        view["membership"]["members"][1]["address"],
        cluster.peer(2).to_string()
    );
    let (code, text) = synod_status(&base, &[]);
    assert_eq!(code, Some(1), "not ready: {text}");
    assert!(
        text.contains(": NOT READY: this node (node 1) is connected to 1 of 3"),
        "{text}"
    );
    assert!(
        text.contains(&format!("   2  {:<22} not connected", cluster.peer(2))),
        "{text}"
    );
    let (code, json) = synod_status(&base, &["--output", "json"]);
    assert_eq!(code, Some(1));
    let json: Value = serde_json::from_str(&json).unwrap();
    assert!(
        json["not_ready"].as_str().unwrap().starts_with(why),
        "{json}"
    );
    let metrics = cluster.client(1).metrics().await.unwrap();
    assert!(
        metrics.contains("synod_peer_connected{peer=\"2\"} 0\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("synod_peer_last_contact_age_seconds{peer=\"3\"} "),
        "{metrics}"
    );

    // One member back is a quorum again.
    cluster.restart(2).await;
    let ready = await_ready_status(&base, 200).await;
    assert_eq!(ready["connected"], serde_json::json!([1, 2]), "{ready}");
    let metrics = cluster.client(1).metrics().await.unwrap();
    assert!(
        metrics.contains("synod_peer_connected{peer=\"2\"} 1\n"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_another_member_list_is_refused_on_both_sides_visibly() {
    let cluster = TestCluster::start(3, &[]).await;
    await_ready_status(cluster.http(1), 200).await;
    // Node 4 believes in a four-member cluster that includes the three.
    let dir = tempfile::tempdir().unwrap();
    let peers = format!("{},4=127.0.0.1:{}", cluster.peers, free_port());
    let cluster_id = format!("--cluster-id={}", cluster.cluster_id);
    let http = free_port();
    let node4 = LoggedNode::start(dir.path(), 4, &peers, http, &[&cluster_id]);
    let base4 = format!("http://127.0.0.1:{http}");
    let refusal = "node 1 runs with members {1, 2, 3} with q1=2, q2=2, node 4 with members \
                   {1, 2, 3, 4} with q1=3, q2=3 (members {1, 2, 3} on node 1, {1, 2, 3, 4} on \
                   node 4; q1 2 on node 1, 3 on node 4; q2 2 on node 1, 3 on node 4)";

    // Node 4's side: told why, in its log, /ready and /v1/cluster.
    node4
        .await_log(&format!("node 1 refuses this node's handshake: {refusal}"))
        .await;
    let not = await_ready_status(&base4, 503).await;
    let detail = not["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("node 1 refuses this node: {refusal}")),
        "{detail}"
    );
    let (_, view) = get_json(&format!("{base4}/v1/cluster")).await;
    let refused = view["peers"][0]["refused"].as_str().unwrap_or_default();
    assert!(refused.contains(refusal), "{view}");
    let err = node4.client.put("k", "v").await.unwrap_err();
    assert_eq!(
        err.status(),
        Some(503),
        "no quorum without the others: {err}"
    );

    // Node 1's side: it refused node 4 (a stranger to it) and says so; it is still ready.
    let deadline = Instant::now() + Duration::from_secs(20);
    let stranger = loop {
        let (_, view) = get_json(&format!("{}/v1/cluster", cluster.http(1))).await;
        if let Some(s) = view["refused_handshakes"]
            .as_array()
            .and_then(|s| s.first())
        {
            break s.clone();
        }
        assert!(Instant::now() < deadline, "node 1 shows no refusal: {view}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(stranger["node"], 4, "{stranger}");
    assert!(
        stranger["reason"].as_str().unwrap().contains(refusal),
        "{stranger}"
    );
    let (status, ready) = get_json(&format!("{}/ready", cluster.http(1))).await;
    assert_eq!(
        status, 200,
        "a stranger does not make node 1 unready: {ready}"
    );
    let (_, text) = synod_status(cluster.http(1), &[]);
    assert!(
        text.contains("refused handshakes (not members):\n  node 4 from 127.0.0.1:"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_peer_is_logged_once_and_again_when_it_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let (p1, p2) = (free_port(), free_port());
    let peers = format!("1=127.0.0.1:{p1},2=127.0.0.1:{p2}");
    let debug = [("SYNOD_LOG", "info,synod_server=debug")];
    let node1 = LoggedNode::start_with_env(dir.path(), 1, &peers, free_port(), &[], &debug);
    node1.await_log("node 2 is unreachable (for ").await;
    // Three more failed attempts (each logged at debug, or at warn), and still one warning.
    let tries = node1.count("Connection refused");
    let deadline = Instant::now() + Duration::from_secs(20);
    while node1.count("Connection refused") < tries + 3 {
        assert!(Instant::now() < deadline, "node 1 stopped retrying");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        node1.count("is unreachable"),
        1,
        "{}",
        node1.log.lock().unwrap()
    );

    // A request is logged at debug with its key, status and latency; so is its round.
    let err = node1.client.put("greeting", "hello").await.unwrap_err();
    assert_eq!(err.status(), Some(503));
    node1
        .await_log("method=PUT path=/v1/kv/greeting key=greeting status=503 latency_us=")
        .await;
    node1.await_log("round started").await;

    // The format from the global flag (SYNOD_LOG_FORMAT is the unit-tested alternative).
    let info = [("SYNOD_LOG", "info")];
    let json = ["--log-format=json"];
    let node2 = LoggedNode::start_with_env(dir.path(), 2, &peers, free_port(), &json, &info);
    node1.await_log("node 2 is reachable again (after ").await;
    assert_eq!(node1.count("is reachable again"), 1);
    let log = node1.log.lock().unwrap().clone();
    assert!(log.contains(" WARN "), "{log}");
    assert!(!log.contains('\u{1b}'), "no colour in a pipe: {log:?}");
    // Node 2 logs JSON lines.
    node2.await_log("\"level\":\"INFO\"").await;
    for line in node2.log.lock().unwrap().lines() {
        let parsed: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(parsed["fields"]["message"].is_string(), "{line}");
    }
}

#[test]
fn an_invalid_log_filter_is_refused_at_start_naming_the_variable() {
    let output = Command::new(env!("CARGO_BIN_EXE_synod"))
        .args(["status", "--endpoint", "http://127.0.0.1:1"])
        .env("SYNOD_LOG", "synod_server=loud")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("invalid log filter in SYNOD_LOG=\"synod_server=loud\""),
        "{stderr}"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_synod"))
        .args(["status", "--endpoint", "http://127.0.0.1:1"])
        .env_remove("SYNOD_LOG")
        .env("SYNOD_LOG_FORMAT", "yaml")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("invalid SYNOD_LOG_FORMAT=\"yaml\""),
        "{stderr}"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_synod"))
        .args([
            "--log-format",
            "yaml",
            "status",
            "--endpoint",
            "http://127.0.0.1:1",
        ])
        .env_remove("SYNOD_LOG")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid --log-format \"yaml\""), "{stderr}");
}
