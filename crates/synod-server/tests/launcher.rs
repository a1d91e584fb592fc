//! `synod cluster` cannot lie: its nodes die with it even when it is killed with SIGKILL (each
//! in its own process group, so a Ctrl-C reaches only the launcher, which stops them), and a
//! node that cannot start — its port held by another node, which answers `/health` in its stead
//! — makes the command fail (exit ≠ 0, never "up") after stopping the nodes that did start.

mod support;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{await_condition, free_port, free_run, process_gone};
use synod_server::Client;

/// `synod cluster --nodes N` on the given port bases, with the fast test settings.
fn cluster_command(nodes: u8, peer_base: u16, http_base: u16) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_synod"));
    command
        .arg("cluster")
        .arg(format!("--nodes={nodes}"))
        .arg(format!("--base-port={peer_base}"))
        .arg(format!("--http-base-port={http_base}"))
        .args(support::FAST)
        .stdin(Stdio::null());
    command
}

/// The process group of `pid` (field 5 of `/proc/PID/stat`).
fn process_group(pid: u32) -> u32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let (_, rest) = stat.rsplit_once(')').unwrap();
    rest.split_whitespace().nth(2).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nodes_die_with_a_killed_launcher() {
    let (peer_base, http_base) = (free_run(3), free_run(3));
    // A data root of the test's own: a launcher killed with SIGKILL cannot remove its
    // temporary directory.
    let root = tempfile::tempdir().unwrap();
    let mut launcher = cluster_command(3, peer_base, http_base)
        .arg("--data-root")
        .arg(root.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut pids = Vec::new();
    for line in BufReader::new(launcher.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(pid) = line.split("(pid ").nth(1) {
            pids.push(pid.trim_end_matches(')').parse::<u32>().unwrap());
        }
        if line.starts_with("try:") {
            break;
        }
    }
    assert_eq!(pids.len(), 3, "the launcher prints each node's pid");
    // Each node in its own process group: a Ctrl-C at the terminal reaches only the launcher,
    // which stops the nodes itself.
    for &pid in &pids {
        assert_eq!(
            process_group(pid),
            pid,
            "node {pid} shares the launcher's group"
        );
    }
    let client = Client::new(
        &format!("http://127.0.0.1:{http_base}"),
        Duration::from_secs(5),
    )
    .unwrap();
    client.put("k", "v").await.unwrap();

    kill(Pid::from_raw(launcher.id() as i32), Signal::SIGKILL).unwrap();
    launcher.wait().unwrap();
    for pid in pids {
        await_condition(&format!("node process {pid} is gone"), || process_gone(pid)).await;
    }
    // Their ports are free again.
    for port in (peer_base..peer_base + 3).chain(http_base..http_base + 3) {
        await_condition(&format!("port {port} is free"), || {
            TcpListener::bind(("127.0.0.1", port)).is_ok()
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_held_by_another_node_fails_the_launch_and_stops_the_rest() {
    let (peer_base, http_base) = (free_run(2), free_run(2));
    // Another node already serves HTTP on the port `synod cluster` will give its node 2.
    let dir = tempfile::tempdir().unwrap();
    let squatter = Command::new(env!("CARGO_BIN_EXE_synod"))
        .arg("serve")
        .arg("--id=2")
        .arg(format!("--peers=2=127.0.0.1:{}", free_port()))
        .arg(format!("--http=127.0.0.1:{}", http_base + 1))
        .arg("--data")
        .arg(dir.path().join("squatter"))
        .arg("--init")
        .env("SYNOD_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut squatter = KillOnDrop(squatter);
    let squatter_client = Client::new(
        &format!("http://127.0.0.1:{}", http_base + 1),
        Duration::from_secs(1),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while squatter_client.health().await.is_err() {
        assert!(Instant::now() < deadline, "the other node never answered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let output = cluster_command(2, peer_base, http_base)
        .env("SYNOD_LOG", "error")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(!output.status.success(), "{stdout}\n{stderr}");
    assert!(
        !stdout.contains("is up"),
        "another node's /health passed for node 2:\n{stdout}"
    );
    assert!(
        stderr.contains("node 2 exited with code 1 during start-up"),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("Address already in use").count(),
        1,
        "the cause once: {stderr}"
    );
    // Node 1 was stopped: its ports are free (the launcher waits for its children).
    for port in [peer_base, peer_base + 1, http_base] {
        assert!(
            TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "port {port} is still held"
        );
    }
    // A one-node cluster on the held port: the other node's `/health` answers at once, and must
    // not pass for the node just started.
    let output = cluster_command(1, free_port(), http_base + 1)
        .env("SYNOD_LOG", "error")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(
        !stdout.contains("is up"),
        "another node's /health passed for the node just started:\n{stdout}"
    );
    // The other node was not disturbed.
    let health = squatter_client.health().await.unwrap();
    assert_eq!(health.pid, Some(squatter.0.id()));
    squatter.0.kill().unwrap();
    squatter.0.wait().unwrap();
}

/// A process killed when the test ends, failed or not.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
