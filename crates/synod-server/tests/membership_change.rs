//! Membership change with real processes (docs/operations.md): a 3-node cluster grows to 5
//! (each new node started with `serve --join`), a dead member's disk is replaced (it is
//! removed, then started empty and added again), and the cluster shrinks back to 3, while
//! writers keep writing. Growing to five and shrinking back to three each catch every register
//! up first (the quorums of {1,2,3} and of five members can miss each other). Every value
//! written before and during the changes is read back at the end from every member, and no
//! acknowledged write is lost; a removed node refuses client requests with a clear error; the
//! `synod member` command drives one of the changes; a stalled change is resumed and another
//! rolled back.

mod support;

use serde_json::{json, Value};
use std::process::{Command, Stdio};
use support::{await_ready, await_ready_status, free_port, until_available, NodeProc, TestCluster};

/// `GET /v1/members` of node `id`.
async fn members(cluster: &TestCluster, id: u8) -> Value {
    let (code, text) = cluster.client(id).get_raw("/v1/members").await.unwrap();
    assert_eq!(code, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// The member ids in a `/v1/members` answer's record.
fn record_members(answer: &Value) -> Vec<u64> {
    answer["record"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_u64().unwrap())
        .collect()
}

/// Runs a change through node `via` and returns the answer (status, JSON).
async fn change(cluster: &TestCluster, via: u8, body: Value) -> (u16, Value) {
    let client =
        synod_server::Client::new(cluster.http(via), std::time::Duration::from_secs(120)).unwrap();
    let (code, text) = client.post_raw("/v1/members", &body).await.unwrap();
    (code, serde_json::from_str(&text).unwrap())
}

/// Lays out node `id` (a new one, or one whose disk is replaced: its directory is emptied).
fn lay_out(cluster: &mut TestCluster, id: u8) {
    let data = cluster.dir.path().join(format!("node-{id}"));
    let _ = std::fs::remove_dir_all(&data);
    let node = NodeProc {
        id,
        http: format!("http://127.0.0.1:{}", free_port()),
        peer: format!("127.0.0.1:{}", free_port()).parse().unwrap(),
        data,
        child: None,
    };
    match cluster.nodes.iter().position(|n| n.id == id) {
        Some(i) => cluster.nodes[i] = node,
        None => cluster.nodes.push(node),
    }
}

/// Starts node `id` with `serve --join` through node `via` (it waits there until it is added).
fn start_joining(cluster: &mut TestCluster, id: u8, via: u8) {
    let i = cluster.nodes.iter().position(|n| n.id == id).unwrap();
    let node = &cluster.nodes[i];
    let child = Command::new(env!("CARGO_BIN_EXE_synod"))
        .arg("serve")
        .arg(format!("--id={id}"))
        .arg(format!("--peers={id}={}", node.peer))
        .arg(format!(
            "--http={}",
            node.http.trim_start_matches("http://")
        ))
        .arg("--data")
        .arg(&node.data)
        .arg(format!("--cluster-id={}", cluster.cluster_id))
        .arg(format!("--join={}", cluster.http(via)))
        .args(&cluster.extra)
        .env("SYNOD_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn synod serve --join");
    cluster.nodes[i].child = Some(child);
}

/// Adds node `id` (started with `--join` while the change runs) through node `via`.
async fn add(cluster: &mut TestCluster, id: u8, via: u8) {
    lay_out(cluster, id);
    let peer = cluster.nodes.iter().find(|n| n.id == id).unwrap().peer;
    let body = json!({"add": {"id": id, "addr": peer.to_string()}});
    let http = cluster.http(via).to_owned();
    let running = tokio::spawn(async move {
        let client = synod_server::Client::new(&http, std::time::Duration::from_secs(120)).unwrap();
        client.post_raw("/v1/members", &body).await.unwrap()
    });
    start_joining(cluster, id, via);
    let (code, text) = running.await.unwrap();
    assert_eq!(code, 200, "adding node {id}: {text}");
    cluster.await_healthy(id).await;
}

async fn put(cluster: &TestCluster, via: u8, key: &str, value: &str) {
    let client = cluster.client(via);
    until_available(|| client.put(key, value.as_bytes().to_vec()))
        .await
        .unwrap_or_else(|e| panic!("put {key} at node {via}: {e}"));
}

async fn assert_all(cluster: &TestCluster, via: u8, written: &[(String, String)]) {
    let client = cluster.client(via);
    for (key, value) in written {
        let read = until_available(|| client.get(key))
            .await
            .unwrap_or_else(|e| panic!("get {key} at node {via}: {e}"));
        assert_eq!(
            read.as_deref(),
            Some(value.as_bytes()),
            "{key} read at node {via}"
        );
    }
}

/// What a writer that keeps writing one key during the changes knows at the end: the last
/// value acknowledged, and the values written after it whose outcome is unknown (any of which
/// may be the key's value).
#[derive(Debug, Default)]
struct Written {
    acknowledged: Option<String>,
    unknown_after: Vec<String>,
    writes: u32,
}

/// Writes `key` again and again through nodes 1 and 2 (members throughout) until `stop`.
fn keep_writing(
    cluster: &TestCluster,
    key: &'static str,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<Written> {
    let clients = [cluster.client(1), cluster.client(2)];
    tokio::spawn(async move {
        let mut written = Written::default();
        let mut i = 0u32;
        while !*stop.borrow() {
            let value = format!("{key}-{i}");
            match clients[i as usize % 2]
                .put(key, value.clone().into_bytes())
                .await
            {
                Ok(_) => {
                    written.acknowledged = Some(value);
                    written.unknown_after.clear();
                    written.writes += 1;
                }
                // A refused write surely did not apply; anything else may have.
                Err(e) if e.surely_not_applied() => {}
                Err(_) => written.unknown_after.push(value),
            }
            i += 1;
        }
        written
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grow_to_five_replace_a_dead_disk_and_shrink_back_to_three() {
    let mut cluster = TestCluster::start(3, &[]).await;
    cluster.await_connected().await;
    // Writers keep writing through every change; no acknowledged write may be lost.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let writers: Vec<_> = ["w0", "w1", "w2"]
        .into_iter()
        .map(|key| (key, keep_writing(&cluster, key, stopped.clone())))
        .collect();
    let mut written = Vec::new();
    for i in 0..20 {
        let (key, value) = (format!("k{i}"), format!("v{i}-gen0"));
        put(&cluster, 1 + (i % 3) as u8, &key, &value).await;
        written.push((key, value));
    }
    let before = members(&cluster, 2).await;
    assert_eq!(before["configuration"]["generation"], 0);
    assert_eq!(record_members(&before), [1, 2, 3]);

    // Grow: 3 → 4 → 5, each new node joining through a member.
    add(&mut cluster, 4, 1).await;
    add(&mut cluster, 5, 2).await;
    let five = members(&cluster, 5).await;
    assert_eq!(record_members(&five), [1, 2, 3, 4, 5]);
    assert_eq!(five["configuration"]["generation"], 4);
    // Stable {1,2,3,4,5} (quorums of 3) could miss a value only {1,3} accepted in generation 0:
    // node 2, which ran the change, caught every register up in generation 3 first.
    assert_eq!(five["record"]["since_catch_up"], json!([3, 4]), "{five}");
    let admin = members(&cluster, 2).await;
    assert!(
        admin["change"]["caught_up"].as_u64().unwrap() >= 20,
        "{admin}"
    );
    // Readiness counts the installed configuration's quorums: 3 of the 5 members.
    await_ready(cluster.http(5), 200, |body| body["quorum"] == 3).await;
    for i in 20..30 {
        let (key, value) = (format!("k{i}"), format!("v{i}-gen4"));
        put(&cluster, 4 + (i % 2) as u8, &key, &value).await;
        written.push((key, value));
    }
    assert_all(&cluster, 5, &written).await;

    // Node 3's disk dies: remove it, then start it empty and add it again.
    cluster.kill(3);
    let (code, answer) = change(&cluster, 1, json!({"remove": 3})).await;
    assert_eq!(code, 200, "{answer}");
    let after = members(&cluster, 1).await;
    assert_eq!(record_members(&after), [1, 2, 4, 5]);
    add(&mut cluster, 3, 4).await;
    assert_all(&cluster, 3, &written).await;

    // Shrink back to {1, 2, 3}, one removal through the `synod member` command.
    let out = Command::new(env!("CARGO_BIN_EXE_synod"))
        .args(["member", "remove", "4", "--endpoint", cluster.http(2)])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "synod member remove 4: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains("node 5") && !listed.contains("node 4 "),
        "{listed}"
    );
    // {1,2,3} (quorums of 2) could miss what stable {1,2,3,4,5} chose: this removal catches
    // every register up first (its new node 3 included).
    let (code, answer) = change(&cluster, 1, json!({"remove": 5})).await;
    assert_eq!(code, 200, "{answer}");
    let admin = members(&cluster, 1).await;
    assert!(
        admin["change"]["caught_up"].as_u64().unwrap() >= 30,
        "{admin}"
    );
    let three = members(&cluster, 3).await;
    assert_eq!(record_members(&three), [1, 2, 3]);
    assert_eq!(three["configuration"]["generation"], 12);
    for id in 1..=3 {
        assert_all(&cluster, id, &written).await;
    }
    stop.send(true).unwrap();
    for (key, writer) in writers {
        let w = writer.await.unwrap();
        assert!(
            w.writes > 0,
            "{key}: no write was acknowledged during the changes"
        );
        let client = cluster.client(3);
        let read = until_available(|| client.get(key)).await.unwrap();
        let read = read.map(|v| String::from_utf8(v.to_vec()).unwrap());
        assert!(
            read == w.acknowledged || read.as_ref().is_some_and(|v| w.unknown_after.contains(v)),
            "{key}: read {read:?} after the changes, but the last acknowledged write was {:?} (unknown since: {:?})",
            w.acknowledged,
            w.unknown_after
        );
    }

    // A removed node that still runs refuses clients, naming the members to ask.
    let refused = cluster.client(4).get("k1").await.unwrap_err();
    assert_eq!(refused.status(), Some(410), "{refused}");
    assert!(refused.to_string().contains("removed"), "{refused}");
    // ... and is not ready, saying why.
    let not_ready = await_ready_status(cluster.http(4), 503).await;
    assert!(
        not_ready["detail"]
            .as_str()
            .unwrap()
            .contains("it was removed"),
        "{not_ready}"
    );
    // A change that makes no sense is refused without touching anything.
    let (code, answer) = change(&cluster, 1, json!({"remove": 9})).await;
    assert_eq!(code, 400, "{answer}");
    let (code, _) = change(
        &cluster,
        1,
        json!({"add": {"id": 2, "addr": "127.0.0.1:1"}}),
    )
    .await;
    assert_eq!(code, 400);
    assert_eq!(
        members(&cluster, 1).await["configuration"]["generation"],
        12
    );
    // The cluster's own register is not a client's key.
    let reserved = cluster
        .client(1)
        .get("\u{0}synod/members")
        .await
        .unwrap_err();
    assert_eq!(reserved.status(), Some(400), "{reserved}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_change_is_resumed_or_rolled_back() {
    let mut cluster = TestCluster::start(3, &["--install-timeout-ms=1000"]).await;
    cluster.await_connected().await;
    put(&cluster, 1, "a", "1").await;

    // Node 4 is added but never started: the first step cannot be installed on it.
    lay_out(&mut cluster, 4);
    let peer4 = cluster.nodes[3].peer;
    let (code, answer) = change(&cluster, 1, json!({"add": {"id": 4, "addr": peer4}})).await;
    assert_eq!(code, 503, "{answer}");
    assert_eq!(answer["error"], "stalled", "{answer}");
    assert!(
        answer["detail"]
            .as_str()
            .unwrap()
            .contains("new member(s) {4}"),
        "{answer}"
    );
    let stalled = members(&cluster, 2).await;
    assert_eq!(stalled["record"]["change"]["target"], json!([1, 2, 3, 4]));
    assert_eq!(
        stalled["record"]["configuration"]["accept"],
        json!([1, 2, 3, 4])
    );
    // The cluster serves meanwhile: {1,2,3} is three of the four acceptors a write needs.
    put(&cluster, 2, "a", "2").await;

    // Resume: start node 4 and ask again.
    start_joining(&mut cluster, 4, 3);
    let (code, answer) = change(&cluster, 1, json!({"add": {"id": 4, "addr": peer4}})).await;
    assert_eq!(code, 200, "{answer}");
    cluster.await_healthy(4).await;
    let resumed = members(&cluster, 4).await;
    assert_eq!(record_members(&resumed), [1, 2, 3, 4]);
    assert!(resumed["record"]["change"].is_null(), "{resumed}");

    // Roll back: node 5 never comes; asking for the members before the change undoes it.
    lay_out(&mut cluster, 5);
    let peer5 = cluster.nodes[4].peer;
    let (code, _) = change(&cluster, 3, json!({"add": {"id": 5, "addr": peer5}})).await;
    assert_eq!(code, 503);
    let (code, answer) = change(&cluster, 3, json!({"remove": 5})).await;
    assert_eq!(code, 200, "{answer}");
    let back = members(&cluster, 1).await;
    assert_eq!(record_members(&back), [1, 2, 3, 4]);
    assert_eq!(
        back["record"]["configuration"]["prepare"],
        json!([1, 2, 3, 4])
    );
    assert!(back["record"]["change"].is_null(), "{back}");
    let client = cluster.client(4);
    let value = until_available(|| client.get("a")).await.unwrap();
    assert_eq!(value.as_deref(), Some(&b"2"[..]));
}
