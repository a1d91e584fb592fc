//! The `synod` client commands as a script uses them: `--endpoints` failing over past a dead
//! node, values from stdin and `get --raw` byte for byte, `--output json`, an empty key refused
//! before anything is sent, a 404 that is not Synod's empty-key answer reported as an error, and
//! the documented exit codes.

mod support;

use std::io::Write;
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use support::TestCluster;

/// A port on 127.0.0.1 nobody listens on.
fn dead_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// Runs `synod ARGS` with `stdin` as its standard input.
fn synod(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_synod"))
        .args(args)
        .env_remove("SYNOD_ENDPOINTS")
        .env_remove("SYNOD_ENDPOINT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_binary_values_json_and_exit_codes() {
    let cluster = TestCluster::start(1, &[]).await;
    let endpoints = format!("{},{}", dead_endpoint(), cluster.http(1));
    let e = endpoints.as_str();

    // The first endpoint is dead: the write goes to the second.
    let put = synod(&["put", "--endpoints", e, "greeting", "hello"], b"");
    assert_eq!(put.status.code(), Some(0), "{}", text(&put.stderr));
    assert_eq!(text(&put.stdout), "ok (previous: (empty))\n");
    let get = synod(&["get", "--endpoints", e, "greeting"], b"");
    assert_eq!(get.status.code(), Some(0), "{}", text(&get.stderr));
    assert_eq!(text(&get.stdout), "hello\n");

    // Every byte value, from stdin, back exactly with --raw.
    let value: Vec<u8> = (0..=255u8).chain([b'\n', 0, 0xff]).collect();
    let put = synod(&["put", "--endpoints", e, "bin", "-"], &value);
    assert_eq!(put.status.code(), Some(0), "{}", text(&put.stderr));
    let get = synod(&["get", "--raw", "--endpoints", e, "bin"], b"");
    assert_eq!(get.status.code(), Some(0), "{}", text(&get.stderr));
    assert_eq!(get.stdout, value, "get --raw returns the bytes exactly");
    // The same from a file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("v");
    std::fs::write(&file, b"from a file").unwrap();
    let put = synod(
        &[
            "put",
            "--endpoint",
            e,
            "f",
            "--value-file",
            file.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(put.status.code(), Some(0), "{}", text(&put.stderr));
    let get = synod(&["get", "--raw", "--endpoint", e, "f"], b"");
    assert_eq!(get.stdout, b"from a file");

    // --output json.
    let put = synod(
        &[
            "put",
            "--output",
            "json",
            "--endpoints",
            e,
            "greeting",
            "hi",
        ],
        b"",
    );
    let json: serde_json::Value = serde_json::from_slice(&put.stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"key": "greeting", "previous": "hello"})
    );
    let get = synod(
        &["get", "--output", "json", "--endpoints", e, "nothing"],
        b"",
    );
    assert_eq!(get.status.code(), Some(4), "an empty key is exit 4");
    let json: serde_json::Value = serde_json::from_slice(&get.stdout).unwrap();
    assert_eq!(json, serde_json::json!({"key": "nothing", "value": null}));
    let cas = synod(
        &[
            "cas",
            "--output",
            "json",
            "--endpoints",
            e,
            "greeting",
            "--expected",
            "no",
            "x",
        ],
        b"",
    );
    assert_eq!(cas.status.code(), Some(4), "a mismatch is exit 4");
    let json: serde_json::Value = serde_json::from_slice(&cas.stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"key": "greeting", "written": false, "current": "hi"})
    );

    // The old single-endpoint environment variable still works.
    let get = Command::new(env!("CARGO_BIN_EXE_synod"))
        .args(["get", "greeting"])
        .env_remove("SYNOD_ENDPOINTS")
        .env("SYNOD_ENDPOINT", cluster.http(1))
        .output()
        .unwrap();
    assert_eq!(text(&get.stdout), "hi\n", "{}", text(&get.stderr));

    // No endpoint reachable: exit 3, each endpoint named once.
    let (a, b) = (dead_endpoint(), dead_endpoint());
    let both = format!("{a},{b}");
    let put = synod(&["put", "--endpoints", &both, "k", "v"], b"");
    assert_eq!(put.status.code(), Some(3));
    let err = text(&put.stderr);
    assert!(
        err.starts_with("error: no endpoint could be reached"),
        "{err}"
    );
    assert_eq!(err.matches(&a).count(), 1, "{err}");
    assert_eq!(err.matches("Connection refused").count(), 2, "{err}");
}

/// A tiny HTTP server that is not Synod: 404 with an HTML page for everything; counts requests.
async fn not_synod() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let app = axum::Router::new().fallback(move || {
        let seen = seen.clone();
        async move {
            seen.fetch_add(1, Ordering::SeqCst);
            (
                axum::http::StatusCode::NOT_FOUND,
                "<html><body>Not Found</body></html>",
            )
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_that_is_not_synods_is_an_error_and_empty_keys_are_refused() {
    let (endpoint, requests) = not_synod().await;
    let get = synod(&["get", "--endpoint", &endpoint, "k"], b"");
    assert_eq!(get.status.code(), Some(1), "{}", text(&get.stderr));
    let err = text(&get.stderr);
    assert!(!err.contains("(empty)"), "{err}");
    assert!(
        err.contains("404 without Synod's empty-key answer"),
        "{err}"
    );
    assert!(err.contains("Not Found"), "the body is shown: {err}");
    assert!(get.stdout.is_empty());
    assert_eq!(requests.load(Ordering::SeqCst), 1);

    // An empty key: refused with the rule, exit 2, nothing sent.
    for args in [
        &["get", "--endpoint", &endpoint, ""][..],
        &["put", "--endpoint", &endpoint, "", "v"][..],
        &["del", "--endpoint", &endpoint, ""][..],
    ] {
        let output = synod(args, b"");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let err = text(&output.stderr);
        assert!(err.contains("a key is 1 to 1024 bytes"), "{err}");
        assert_eq!(err.matches("error:").count(), 1, "{err}");
    }
    assert_eq!(requests.load(Ordering::SeqCst), 1, "an empty key was sent");
}
