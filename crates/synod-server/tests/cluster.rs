//! End-to-end behaviour of real `synod serve` processes: agreement across nodes, the seed's
//! story on five nodes, and crash tolerance with recovery from disk.

mod support;

use bytes::Bytes;
use support::{until_available, TestCluster};
use synod_server::CasOutcome;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_and_reads_through_different_nodes_agree() {
    let cluster = TestCluster::start(3, &[]).await;
    // Every link up first: a write forwarded over a link still being set up may rightly come
    // back `indeterminate`, which is not what these tests are about.
    cluster.await_connected().await;
    let (c1, c2, c3) = (cluster.client(1), cluster.client(2), cluster.client(3));

    assert_eq!(c1.put("greeting", "hello").await.unwrap(), None);
    assert_eq!(
        c2.get("greeting").await.unwrap(),
        Some(Bytes::from("hello"))
    );
    assert_eq!(
        c3.get("greeting").await.unwrap(),
        Some(Bytes::from("hello"))
    );

    assert_eq!(
        c3.put("greeting", "bonjour").await.unwrap(),
        Some("hello".into())
    );
    assert_eq!(
        c1.get("greeting").await.unwrap(),
        Some(Bytes::from("bonjour"))
    );

    assert_eq!(
        c2.cas("greeting", Some("hello"), "nope").await.unwrap(),
        CasOutcome::Mismatch {
            current: Some("bonjour".into())
        }
    );
    assert_eq!(
        c2.cas("greeting", Some("bonjour"), "hallo").await.unwrap(),
        CasOutcome::Written {
            previous: Some("bonjour".into())
        }
    );
    assert_eq!(
        c3.get("greeting").await.unwrap(),
        Some(Bytes::from("hallo"))
    );

    assert_eq!(c1.delete("greeting").await.unwrap(), Some("hallo".into()));
    assert_eq!(c2.get("greeting").await.unwrap(), None);
    assert_eq!(c3.get("never-written").await.unwrap(), None);

    // Keys with awkward characters travel intact.
    c1.put("a/b c?d", "odd").await.unwrap();
    assert_eq!(c2.get("a/b c?d").await.unwrap(), Some(Bytes::from("odd")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_story_on_five_nodes() {
    // Athens = 1, Cyrene = 3, Ephesus = 5. Generous attempts: the two proposers duel on purpose.
    let cluster = TestCluster::start(5, &["--max-attempts=20"]).await;
    cluster.await_connected().await;
    let (athens, cyrene, ephesus) = (cluster.client(1), cluster.client(3), cluster.client(5));

    let (alice, elanor) = tokio::join!(
        athens.propose_once("cluster-name", "alice"),
        ephesus.propose_once("cluster-name", "elanor"),
    );
    let (alice, elanor) = (alice.unwrap(), elanor.unwrap());
    assert_eq!(
        alice.value, elanor.value,
        "both callers learn the same chosen value"
    );
    assert!(alice.value == "alice" || alice.value == "elanor");
    assert_ne!(
        alice.won, elanor.won,
        "exactly one caller's value was chosen"
    );
    assert_eq!(alice.won, alice.value == "alice");

    let carol = cyrene.propose_once("cluster-name", "carol").await.unwrap();
    assert_eq!(carol.value, alice.value, "a chosen value is never replaced");
    assert!(!carol.won, "carol is told her value lost");

    // Every node reads the chosen value.
    for id in 1..=5 {
        let value = cluster.client(id).get("cluster-name").await.unwrap();
        assert_eq!(value, Some(Bytes::from(alice.value.clone())), "node {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_crashes_and_restarts() {
    let mut cluster = TestCluster::start(3, &[]).await;
    cluster.await_connected().await;
    let mut acknowledged: Vec<(String, String)> = Vec::new();
    for i in 0..6u8 {
        let (key, value) = (format!("k{i}"), format!("v{i}"));
        cluster
            .client(i % 3 + 1)
            .put(&key, value.clone())
            .await
            .unwrap();
        acknowledged.push((key, value));
    }

    // One node of three down: a quorum remains, writes still succeed through both survivors.
    // (Once both have seen it go: a write forwarded to a home that dies under it is rightly
    // `indeterminate`, and the survivors propose themselves only for a home they know is gone.)
    cluster.kill(3);
    cluster.await_link(1, 3, false).await;
    cluster.await_link(2, 3, false).await;
    for (i, id) in [(6u8, 1u8), (7, 2), (0, 1)] {
        let (key, value) = (format!("k{i}"), format!("w{i}"));
        cluster.client(id).put(&key, value.clone()).await.unwrap();
        acknowledged.retain(|(k, _)| *k != key);
        acknowledged.push((key, value));
    }

    // Two of three down: no quorum, so the request fails with 503 (within the request timeout).
    cluster.kill(2);
    let err = cluster
        .client(1)
        .put("unacknowledged", "maybe")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503), "{err}");
    let err = cluster.client(1).get("k1").await.unwrap_err();
    assert_eq!(err.status(), Some(503), "reads need a quorum too: {err}");

    // Both come back from their data directories: every acknowledged write is readable
    // through every node.
    cluster.restart(2).await;
    cluster.restart(3).await;
    for id in [3u8, 2, 1] {
        let client = cluster.client(id);
        for (key, value) in &acknowledged {
            let got = until_available(|| client.get(key)).await.unwrap();
            assert_eq!(got, Some(Bytes::from(value.clone())), "{key} via node {id}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cas_increments_through_every_node_lose_no_update() {
    let cluster = TestCluster::start(3, &["--max-attempts=20"]).await;
    cluster.await_connected().await;
    cluster.client(1).put("counter", "0").await.unwrap();
    let mut tasks = Vec::new();
    for id in 1..=3u8 {
        let client = cluster.client(id);
        tasks.push(tokio::spawn(async move {
            let (mut acked, mut unknown) = (0u64, 0u64);
            while acked + unknown < 8 {
                let current = match client.get("counter").await {
                    Ok(v) => v.expect("counter exists"),
                    Err(e) if e.status() == Some(503) => continue,
                    Err(e) => panic!("{e}"),
                };
                let n: u64 = std::str::from_utf8(&current).unwrap().parse().unwrap();
                let old = n.to_string();
                match client
                    .cas("counter", Some(&old), &(n + 1).to_string())
                    .await
                {
                    Ok(CasOutcome::Written { previous }) => {
                        assert_eq!(previous, Some(old));
                        acked += 1;
                    }
                    Ok(CasOutcome::Mismatch { .. }) => {}
                    Err(e) if e.code() == Some("unavailable") => {}
                    Err(e) if e.status() == Some(503) => unknown += 1,
                    Err(e) => panic!("{e}"),
                }
            }
            (acked, unknown)
        }));
    }
    let (mut acked, mut unknown) = (0, 0);
    for task in tasks {
        let (a, u) = task.await.unwrap();
        acked += a;
        unknown += u;
    }
    for id in 1..=3 {
        let value = cluster.client(id).get("counter").await.unwrap().unwrap();
        let n: u64 = std::str::from_utf8(&value).unwrap().parse().unwrap();
        assert!(
            n >= acked && n <= acked + unknown,
            "node {id}: counter {n}, {acked} acknowledged and {unknown} unknown increments"
        );
    }
}
