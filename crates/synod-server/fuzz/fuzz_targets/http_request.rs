//! Fuzz target: the HTTP API's request handling. The input is split into a method, a path and
//! a body; the request is sent through the real axum router of a one-node cluster (so every
//! well-formed operation completes locally). Any request must get an HTTP answer — never a
//! panic, never a 500.

#![no_main]

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use synod_core::{ClusterSpec, NodeId};
use synod_harness::sim::disk::SimDisk;
use synod_server::{
    http_router, start_outbound, start_runtime, ApiConfig, ForwardConfig, Forwarder, Membership,
    Replica, ReplicaConfig, RuntimeConfig, Storage, TransportConfig,
};
use tower::ServiceExt;

struct Node {
    rt: tokio::runtime::Runtime,
    router: axum::Router,
}

fn node() -> &'static Node {
    static NODE: OnceLock<Node> = OnceLock::new();
    NODE.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let router = rt.block_on(async {
            let id = NodeId(1);
            let disk = SimDisk::new();
            let config = ReplicaConfig {
                cluster_id: "fuzz".into(),
                node_id: id,
                cluster: ClusterSpec::new([id]).unwrap(),
                queue_limit: 64,
                cache_limit: 1024,
            };
            let storage = Storage::open_with_backend(
                disk.backends(synod_harness::sim::SIM_STORAGE),
                std::path::Path::new("fuzz"),
                "fuzz",
                id,
                Membership::of(&config.cluster),
                true,
            )
            .unwrap();
            let replica = Replica::with_storage(storage, config, Arc::default()).unwrap();
            let peers = [(id, "127.0.0.1:9".parse().unwrap())].into_iter().collect();
            let transport = TransportConfig::new("fuzz", id, peers);
            let outbox = start_outbound(&transport, replica.metrics().clone());
            let members = [id].into_iter().collect();
            let handle = start_runtime(replica, outbox.clone(), RuntimeConfig::default()).unwrap();
            let api = ApiConfig {
                max_value: 1024,
                max_key: 64,
                ..ApiConfig::default()
            };
            let forward = ForwardConfig {
                max_value: api.max_value,
                max_key: api.max_key,
                ..ForwardConfig::default()
            };
            http_router(api, Forwarder::new(id, members, forward, handle, outbox))
        });
        Node { rt, router }
    })
}

const METHODS: [Method; 6] = [
    Method::GET,
    Method::PUT,
    Method::POST,
    Method::DELETE,
    Method::PATCH,
    Method::HEAD,
];

fuzz_target!(|data: &[u8]| {
    let Some((&m, rest)) = data.split_first() else {
        return;
    };
    let split = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let (path, body) = rest.split_at(split);
    let Ok(path) = std::str::from_utf8(path) else {
        return;
    };
    let Ok(request) = Request::builder()
        .method(METHODS[usize::from(m) % METHODS.len()].clone())
        .uri(format!("/{}", path.trim_start_matches('/')))
        .body(Body::from(body.get(1..).unwrap_or_default().to_vec()))
    else {
        return;
    };
    let node = node();
    let response = node
        .rt
        .block_on(node.router.clone().oneshot(request))
        .expect("the router is infallible");
    assert_ne!(
        response.status(),
        StatusCode::INTERNAL_SERVER_ERROR,
        "{path:?}"
    );
});
