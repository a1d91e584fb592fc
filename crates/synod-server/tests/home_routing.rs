//! Every key has a home proposer, and requests reach it: real `synod serve` processes with
//! concurrent writers on one key through every node, a home that stops answering, a home that
//! is down, forwarding turned off, and a client that routes by home itself.

mod support;

use bytes::Bytes;
use support::TestCluster;
use synod_core::{NodeId, NodeSet};
use synod_server::{home_of, ClusterClient};

fn three() -> NodeSet {
    (1..=3).map(NodeId).collect()
}

/// A key whose home is node `home` among three.
fn key_homed_at(home: u8) -> String {
    (0..)
        .map(|i| format!("key-{i}"))
        .find(|k| home_of(k.as_bytes(), three()) == Some(NodeId(home)))
        .unwrap()
}

/// The acceptance check: on a healthy cluster, concurrent writers on one key through
/// every node get no errors — the home runs all of them, one after the other, in its queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_on_one_key_through_every_node_all_succeed() {
    const WRITERS_PER_NODE: u64 = 4;
    const PUTS: u64 = 10;
    // Generous timeouts: on a loaded machine a slow round is not what this test is about.
    let cluster = TestCluster::start(
        3,
        &[
            "--round-timeout-ms=2000",
            "--request-timeout-ms=20000",
            "--forward-timeout-ms=15000",
        ],
    )
    .await;
    cluster.await_connected().await;
    let key = "hot";
    let home = home_of(key.as_bytes(), three()).unwrap().0;
    let mut writers = Vec::new();
    for node in 1..=3u8 {
        for w in 0..WRITERS_PER_NODE {
            let client = cluster.client(node);
            writers.push(tokio::spawn(async move {
                let mut errors = Vec::new();
                for i in 0..PUTS {
                    if let Err(e) = client.put(key, format!("n{node}-w{w}-{i}")).await {
                        errors.push(format!("node {node} writer {w} put {i}: {e}"));
                    }
                }
                errors
            }));
        }
    }
    let mut errors = Vec::new();
    for writer in writers {
        errors.extend(writer.await.unwrap());
    }
    assert!(
        errors.is_empty(),
        "{} puts failed: {errors:#?}",
        errors.len()
    );

    // Every write ran at the home: the others forwarded theirs, and none proposed itself.
    let per_node = WRITERS_PER_NODE * PUTS;
    for node in (1..=3u8).filter(|&n| n != home) {
        assert_eq!(
            cluster.counter(node, "synod_forwards_sent_total").await,
            per_node
        );
        assert_eq!(
            cluster
                .counter(node, "synod_requests_home_unreachable_total")
                .await,
            0
        );
    }
    assert_eq!(
        cluster.counter(home, "synod_forwards_received_total").await,
        2 * per_node
    );
    assert!(
        cluster.counter(home, "synod_fast_writes_total").await > 0,
        "a home's writes after the first skip phase 1"
    );
    // One value, the same through every node; the reads are one-round-trip reads at the home.
    let value = cluster.client(home).get(key).await.unwrap().unwrap();
    for node in 1..=3 {
        assert_eq!(
            cluster.client(node).get(key).await.unwrap(),
            Some(value.clone())
        );
    }
    assert!(cluster.counter(home, "synod_fast_reads_total").await >= 3);
}

/// A home that keeps its connections but answers nothing (SIGSTOP): a forwarded write is
/// answered `indeterminate` — and indeed takes effect once the home goes on — while a read is
/// run by the node that received it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_forwarded_write_is_indeterminate_and_a_read_runs_where_it_arrived() {
    let cluster = TestCluster::start(3, &["--forward-timeout-ms=300"]).await;
    cluster.await_connected().await;
    let key = key_homed_at(1);
    let via = cluster.client(2);
    via.put(&key, "before").await.unwrap();
    assert_eq!(cluster.counter(2, "synod_forwards_sent_total").await, 1);

    cluster.pause(1).await;
    let err = match via.put(&key, "during").await {
        Err(err) => err,
        Ok(previous) => panic!(
            "a write through node 2 succeeded while its home was stopped (previous {previous:?}; \
             node 2 proposed it itself {} times)",
            cluster
                .counter(2, "synod_requests_home_unreachable_total")
                .await
        ),
    };
    assert_eq!(err.code(), Some("indeterminate"), "{err}");
    assert_eq!(
        cluster
            .counter(2, "synod_forwards_indeterminate_total")
            .await,
        1
    );
    assert_eq!(
        via.get(&key).await.unwrap(),
        Some(Bytes::from("before")),
        "the read ran on node 2 and nodes 2 and 3 are a quorum"
    );
    assert_eq!(
        cluster
            .counter(2, "synod_requests_home_unreachable_total")
            .await,
        1
    );

    // The home had received the write: it runs it once it goes on. Running it again on node 2
    // would have applied it twice.
    cluster.resume(1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        match cluster.client(3).get(&key).await {
            Ok(Some(v)) if v == "during" => break,
            _ => assert!(
                std::time::Instant::now() < deadline,
                "the home never applied the forwarded write"
            ),
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A home that is down is not waited for: the node that received the request proposes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_home_is_down_the_receiving_node_proposes_itself() {
    let mut cluster = TestCluster::start(3, &[]).await;
    cluster.await_connected().await;
    let key = key_homed_at(1);
    cluster.kill(1);
    cluster.await_link(2, 1, false).await;
    assert_eq!(cluster.client(2).put(&key, "v").await.unwrap(), None);
    assert_eq!(
        cluster
            .counter(2, "synod_requests_home_unreachable_total")
            .await,
        1
    );
    assert_eq!(cluster.counter(2, "synod_forwards_sent_total").await, 0);
    cluster.await_link(3, 1, false).await;
    assert_eq!(
        cluster.client(3).get(&key).await.unwrap(),
        Some(Bytes::from("v"))
    );
}

/// A client that routes by home itself needs no forwarding; with `--forward off` a node
/// proposes for every request it receives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_can_route_by_home_and_forwarding_can_be_turned_off() {
    let cluster = TestCluster::start(3, &["--forward=off"]).await;
    cluster.await_connected().await;
    let endpoints: Vec<&str> = (1..=3).map(|id| cluster.http(id)).collect();
    let routed = ClusterClient::connect(&endpoints, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(routed.members(), three());
    for home in 1..=3u8 {
        let key = key_homed_at(home);
        assert_eq!(routed.index_for(&key), usize::from(home) - 1);
        routed.put(&key, "routed").await.unwrap();
        assert_eq!(routed.get(&key).await.unwrap(), Some(Bytes::from("routed")));
        // Sent to a node that is not its home, it is proposed there.
        let other = home % 3 + 1;
        cluster.client(other).put(&key, "elsewhere").await.unwrap();
    }
    for node in 1..=3 {
        assert_eq!(cluster.counter(node, "synod_forwards_sent_total").await, 0);
        assert_eq!(
            cluster.counter(node, "synod_forwards_received_total").await,
            0
        );
        assert!(!cluster.client(node).cluster().await.unwrap().forwarding);
    }
    // An endpoint that does not answer is left out; its keys go to one that does.
    let with_dead = [cluster.http(1), "http://127.0.0.1:9"];
    let partial = ClusterClient::connect(&with_dead, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(partial.index_for(&key_homed_at(2)), 0);
    partial.put(&key_homed_at(2), "fallback").await.unwrap();
}
