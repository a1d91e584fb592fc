//! Starting and stopping: a node refuses a data directory that is missing, uninitialised,
//! corrupt, another node's, or created for other members or quorum sizes, with a clear message
//! and no change to it (a regular file is called a file; a `--init` that fails, on a busy port
//! say, leaves nothing behind); `synod cluster` starts a working cluster, stops every child on
//! SIGTERM,
//! and with `--data-root` initialises only a whole new cluster (a node that lost its data is
//! refused).

mod support;

use bytes::Bytes;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};
use support::{free_port, free_run, TestCluster};
use synod_server::Client;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restarted_with_another_membership_is_refused() {
    let mut cluster = TestCluster::start(3, &[]).await;
    cluster.client(1).put("k", "v").await.unwrap();
    cluster.kill(3);
    let data3 = cluster.nodes[2].data.clone();

    // Another member list: a fourth node added to --peers.
    let peers = cluster.peers.clone();
    cluster.peers = format!("{peers},4=127.0.0.1:{}", free_port());
    let err = fails_to_start(&cluster, 3, false);
    assert!(
        err.contains("was initialised for members {1, 2, 3} with q1=2, q2=2, but this node was started with members {1, 2, 3, 4} with q1=3, q2=3"),
        "{err}"
    );
    assert!(
        err.contains("members {1, 2, 3} recorded, {1, 2, 3, 4} given"),
        "{err}"
    );
    // The SIGKILLed node's database needed redb's crash recovery, which that first open did
    // whatever its outcome (it rewrites redb's own bookkeeping, not content) before closing the
    // database cleanly. From here on, refused starts must leave the file byte-for-byte alone.
    let before = support::snapshot(&data3);
    assert!(!before.is_empty());
    let err = fails_to_start(&cluster, 3, false);
    assert!(err.contains("{1, 2, 3, 4} given"), "{err}");
    // A member left out.
    cluster.peers = peers
        .split(',')
        .filter(|p| !p.starts_with("2="))
        .collect::<Vec<_>>()
        .join(",");
    let err = fails_to_start(&cluster, 3, false);
    assert!(
        err.contains("members {1, 2, 3} recorded, {1, 3} given"),
        "{err}"
    );
    cluster.peers = peers;

    // Other quorum sizes (valid ones: 3 + 1 > 3).
    let extra = cluster.extra.clone();
    cluster.extra.extend(["--q1=3".into(), "--q2=1".into()]);
    let err = fails_to_start(&cluster, 3, false);
    assert!(
        err.contains("q1 2 recorded, 3 given; q2 2 recorded, 1 given"),
        "{err}"
    );
    cluster.extra = extra;

    assert!(
        support::snapshot(&data3) == before,
        "the refused starts changed nothing on disk"
    );
    // Started with the recorded configuration, it serves again.
    cluster.restart(3).await;
    let c3 = cluster.client(3);
    let got = support::until_available(|| c3.get("k")).await.unwrap();
    assert_eq!(got, Some(Bytes::from("v")));
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

/// A running `synod cluster` with its stdout (kept open: the command prints when it stops).
struct ClusterCommand {
    child: Child,
    _stdout: std::io::Lines<BufReader<ChildStdout>>,
}

impl ClusterCommand {
    /// Starts `synod cluster` of 3 nodes with `args` and waits until it reports the cluster up.
    fn start(peer_base: u16, http_base: u16, args: &[&OsStr]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_synod"))
            .args(["cluster", "--nodes", "3"])
            .arg(format!("--base-port={peer_base}"))
            .arg(format!("--http-base-port={http_base}"))
            .args(support::FAST)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        loop {
            let line = lines
                .next()
                .expect("the cluster command exited before the cluster was up")
                .unwrap();
            if line.starts_with("try:") {
                break;
            }
        }
        ClusterCommand {
            child,
            _stdout: lines,
        }
    }

    /// SIGTERM, and a clean exit.
    fn stop(mut self) {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM).unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_command_initialises_only_a_whole_new_cluster() {
    let root = tempfile::tempdir().unwrap();
    let (peer_base, http_base) = (free_run(3), free_run(3));
    let data_root: [&OsStr; 2] = ["--data-root".as_ref(), root.path().as_os_str()];
    let client = |i: u16| {
        Client::new(
            &format!("http://127.0.0.1:{}", http_base + i),
            Duration::from_secs(10),
        )
        .unwrap()
    };

    // Every directory missing: a brand-new cluster, initialised.
    let cluster = ClusterCommand::start(peer_base, http_base, &data_root);
    client(0).put("k", "v").await.unwrap();
    cluster.stop();

    // Every directory holds data: a restart, nothing initialised (--init would refuse them).
    let cluster = ClusterCommand::start(peer_base, http_base, &data_root);
    let c3 = client(2);
    let got = support::until_available(|| c3.get("k")).await.unwrap();
    assert_eq!(got, Some(Bytes::from("v")));
    cluster.stop();

    // Node 2's directory emptied: nothing starts, and no directory is touched.
    let node2 = root.path().join("node-2");
    std::fs::remove_dir_all(&node2).unwrap();
    std::fs::create_dir(&node2).unwrap();
    let before = support::snapshot(root.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_synod"))
        .args(["cluster", "--nodes", "3"])
        .arg(format!("--base-port={peer_base}"))
        .arg(format!("--http-base-port={http_base}"))
        .args(data_root)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("the cluster started although node 2 lost its data");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!status.success(), "{status}");
    assert!(err.contains("the data of node 2 ("), "{err}");
    assert!(
        err.contains("is missing or empty, while nodes 1, 3 hold data"),
        "{err}"
    );
    assert!(
        err.contains("A node without its durable promises cannot rejoin"),
        "{err}"
    );
    assert!(err.contains("membership change"), "{err}");
    assert!(
        support::snapshot(root.path()) == before,
        "the refused start changed the data"
    );
    assert!(std::fs::read_dir(&node2).unwrap().next().is_none());
    assert!(client(0).health().await.is_err(), "no node was started");

    // The same with node 2's directory gone altogether: it is not created.
    std::fs::remove_dir(&node2).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_synod"))
        .args(["cluster", "--nodes", "3"])
        .arg(format!("--base-port={peer_base}"))
        .arg(format!("--http-base-port={http_base}"))
        .args(data_root)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("the data of node 2 ("), "{err}");
    assert!(!node2.exists(), "node 2's directory was not created");
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

/// `synod serve` of a one-node cluster on `http` with `data`; its output once it has exited.
fn serve_once(http: u16, data: &std::path::Path, init: bool) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_synod"));
    command
        .arg("serve")
        .arg("--id=1")
        .arg(format!("--peers=1=127.0.0.1:{}", free_port()))
        .arg(format!("--http=127.0.0.1:{http}"))
        .arg("--data")
        .arg(data)
        .env("SYNOD_LOG", "error")
        .stdin(Stdio::null());
    if init {
        command.arg("--init");
    }
    command.output().unwrap()
}

#[test]
fn a_failed_init_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();

    // A missing directory (and its missing parent): neither is left behind.
    let data = dir.path().join("new").join("node-1");
    let output = serve_once(port, &data, true);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{err}"
    );
    assert_eq!(err.matches("Address already in use").count(), 1, "{err}");
    assert!(
        !dir.path().join("new").exists(),
        "the failed --init left {data:?}"
    );

    // An empty directory stays, empty.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert!(!serve_once(port, &empty, true).status.success());
    assert!(std::fs::read_dir(&empty).unwrap().next().is_none());

    // So the retry, once the port is free, initialises the node as asked.
    drop(busy);
    let mut child = Command::new(env!("CARGO_BIN_EXE_synod"))
        .arg("serve")
        .arg("--id=1")
        .arg(format!("--peers=1=127.0.0.1:{}", free_port()))
        .arg(format!("--http=127.0.0.1:{port}"))
        .arg("--data")
        .arg(&data)
        .arg("--init")
        .env("SYNOD_LOG", "error")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let file = data.join("synod.redb");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !file.is_file() {
        assert!(child.try_wait().unwrap().is_none(), "the retry failed");
        assert!(
            Instant::now() < deadline,
            "the retry never created its database"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_data_path_that_is_a_file_is_called_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data");
    std::fs::write(&file, b"not a directory").unwrap();
    for init in [false, true] {
        let output = serve_once(free_port(), &file, init);
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success());
        assert!(err.contains("is not a directory"), "{err}");
        assert!(!err.contains("does not exist"), "{err}");
        assert!(!err.contains("pass --init to create"), "{err}");
    }
    assert_eq!(std::fs::read(&file).unwrap(), b"not a directory");
}
