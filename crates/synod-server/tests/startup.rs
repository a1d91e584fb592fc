//! Starting and stopping: a node refuses a data directory that is missing, uninitialised,
//! corrupt or another node's, with a clear message and no change to it; `synod cluster` starts a
//! working cluster and stops every child on SIGTERM.

mod support;

use bytes::Bytes;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::{free_port, TestCluster};
use synod_server::client::Client;

/// Runs `synod serve` for node `id` of `cluster` with `data` and expects it to fail at start.
fn fails_to_start(cluster: &TestCluster, id: u8, init: bool) -> String {
    let output = cluster
        .command(id, init)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!output.status.success(), "node {id} should refuse to start");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_data_directories_are_refused_clearly() {
    let mut cluster = TestCluster::start(3, &[]).await;
    cluster.client(1).put("k", "v").await.unwrap();

    // Without --init, a missing directory is an error, never a fresh node.
    cluster.kill(3);
    let data3 = cluster.nodes[2].data.clone();
    std::fs::remove_dir_all(&data3).unwrap();
    let err = fails_to_start(&cluster, 3, false);
    assert!(err.contains("does not exist"), "{err}");
    assert!(!data3.exists(), "nothing was created");

    // --init on a directory that holds a node's state is refused.
    cluster.kill(2);
    let err = fails_to_start(&cluster, 2, true);
    assert!(err.contains("not empty"), "{err}");

    // Node 1's directory used as node 2's: another node's data.
    cluster.kill(1);
    let data1 = cluster.nodes[0].data.clone();
    cluster.nodes[1].data = data1.clone();
    let err = fails_to_start(&cluster, 2, false);
    assert!(err.contains("belongs to node 1"), "{err}");

    // Another cluster id.
    cluster.cluster_id = "another".into();
    let err = fails_to_start(&cluster, 1, false);
    assert!(err.contains("cluster"), "{err}");
    cluster.cluster_id = "test-cluster".into();

    // A corrupt database.
    let data2 = cluster.dir.path().join("node-2");
    cluster.nodes[1].data = data2.clone();
    std::fs::write(data2.join("synod.redb"), vec![0x42; 4096]).unwrap();
    let err = fails_to_start(&cluster, 2, false);
    assert!(err.contains("corrupt"), "{err}");

    // Node 1's directory was left intact by all of this: it restarts with its data.
    cluster.restart(1).await;
    cluster.nodes[2].data = cluster.dir.path().join("node-3-new");
    let mut init3 = cluster.command(3, true).spawn().unwrap();
    let client = cluster.client(1);
    let got = support::until_available(|| client.get("k")).await.unwrap();
    assert_eq!(got, Some(Bytes::from("v")));
    init3.kill().unwrap();
    init3.wait().unwrap();
}

/// `base` and `base + 1 .. base + n - 1` all free.
fn free_run(n: u16) -> u16 {
    loop {
        let base = free_port();
        if (1..n).all(|i| free_port() == base + i) {
            return base;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_command_serves_and_stops_cleanly() {
    let (peer_base, http_base) = (free_run(3), free_run(3));
    let mut child = Command::new(env!("CARGO_BIN_EXE_synod"))
        .args(["cluster", "--nodes", "3"])
        .arg(format!("--base-port={peer_base}"))
        .arg(format!("--http-base-port={http_base}"))
        .args(support::FAST)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut data = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.split("(data in ").nth(1) {
            data = Some(rest.trim_end_matches("):").to_owned());
        }
        if line.starts_with("try:") {
            break;
        }
    }
    let data = data.expect("the cluster prints its data directory");
    let endpoint = |i: u16| format!("http://127.0.0.1:{}", http_base + i);
    let c1 = Client::new(&endpoint(0), Duration::from_secs(10)).unwrap();
    let c3 = Client::new(&endpoint(2), Duration::from_secs(10)).unwrap();
    c1.put("hello", "world").await.unwrap();
    assert_eq!(c3.get("hello").await.unwrap(), Some(Bytes::from("world")));

    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    for i in 0..3 {
        let client = Client::new(&endpoint(i), Duration::from_secs(1)).unwrap();
        assert!(
            client.health().await.is_err(),
            "node {} still serving",
            i + 1
        );
    }
    assert!(
        !std::path::Path::new(&data).exists(),
        "temporary data removed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_runs_from_a_config_file_with_command_line_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let (peer, http, overridden) = (free_port(), free_port(), free_port());
    let file = dir.path().join("node.toml");
    let data = dir.path().join("data");
    std::fs::write(
        &file,
        format!(
            "id = 1\ncluster_id = \"solo\"\nhttp = \"127.0.0.1:{http}\"\ndata = {data:?}\n\
             round_timeout_ms = 200\n[peers]\n1 = \"127.0.0.1:{peer}\"\n"
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_synod"))
        .arg("serve")
        .arg("--config")
        .arg(&file)
        .arg(format!("--http=127.0.0.1:{overridden}"))
        .arg("--init")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = Client::new(
        &format!("http://127.0.0.1:{overridden}"),
        Duration::from_secs(5),
    )
    .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while client.health().await.is_err() {
        assert!(child.try_wait().unwrap().is_none(), "node exited");
        assert!(std::time::Instant::now() < deadline, "never healthy");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    client.put("k", "v").await.unwrap();
    assert_eq!(client.get("k").await.unwrap(), Some(Bytes::from("v")));
    assert!(
        data.join("synod.redb").is_file(),
        "the file's data dir is used"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
