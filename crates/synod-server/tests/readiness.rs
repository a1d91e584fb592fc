//! Health and readiness of real nodes: `/health` says which node and which process answers;
//! `/ready` answers 503 with the reason while this node cannot reach a quorum of its members,
//! and `/v1/cluster` shows every member's link.

mod support;

use support::TestCluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_names_the_node_and_its_process() {
    let cluster = TestCluster::start(1, &[]).await;
    let text = reqwest::get(format!("{}/health", cluster.http(1)))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    let pid = cluster.nodes[0].child.as_ref().unwrap().id();
    assert_eq!(body["status"], "ok", "{body}");
    assert_eq!(body["node"], 1, "{body}");
    assert_eq!(body["pid"], pid, "{body}");
}
