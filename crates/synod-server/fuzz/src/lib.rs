//! What the fuzz targets share: a one-node cluster on the simulation's in-memory disk, whose
//! HTTP router runs every well-formed operation to completion locally, optionally behind a
//! token file; and the test certificates of the TLS target.

use axum::body::Body;
use axum::http::{Method, Request, Response};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use synod_core::{ClusterSpec, NodeId};
use synod_harness::sim::disk::SimDisk;
use synod_server::{
    secured_http_router, start_outbound, start_runtime, ApiConfig, ForwardConfig, Forwarder,
    Membership, Metrics, Reloadable, Replica, ReplicaConfig, RuntimeConfig, Storage, Tokens,
    TransportConfig,
};
use tower::ServiceExt;

/// The methods the HTTP targets draw from: the API's own and two it does not serve.
pub const METHODS: [Method; 6] = [
    Method::GET,
    Method::PUT,
    Method::POST,
    Method::DELETE,
    Method::PATCH,
    Method::HEAD,
];

/// A one-node cluster's HTTP API, on the current-thread runtime `rt` runs it on.
pub struct Node {
    /// Runs the node; a request runs (and the node with it) only inside `block_on`.
    pub rt: tokio::runtime::Runtime,
    /// The API (with the tokens it was started with, if any).
    pub router: axum::Router,
    /// The node's metrics: a request that reaches the node moves some of them.
    pub metrics: Arc<Metrics>,
}

impl Node {
    /// A node of its own; with `tokens`, its API requires them (`serve --token-file`).
    pub fn start(tokens: Option<Tokens>) -> Node {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let metrics = Arc::<Metrics>::default();
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
                Path::new("fuzz"),
                "fuzz",
                id,
                Membership::of(&config.cluster),
                true,
            )
            .unwrap();
            let replica = Replica::with_storage(storage, config, metrics.clone()).unwrap();
            let peers = [(id, "127.0.0.1:9".parse().unwrap())].into_iter().collect();
            let transport = TransportConfig::new("fuzz", id, peers);
            let outbox = start_outbound(&transport, replica.metrics().clone());
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
            let forwarder = Forwarder::new(id, forward, handle, outbox);
            secured_http_router(api, forwarder, tokens.map(|t| Arc::new(Reloadable::new(t))))
        });
        Node {
            rt,
            router,
            metrics,
        }
    }

    /// Sends `request` and waits for the whole answer: its status and body.
    pub fn send(&self, request: Request<Body>) -> (Response<()>, Vec<u8>) {
        self.rt.block_on(async {
            let response = self
                .router
                .clone()
                .oneshot(request)
                .await
                .expect("the router is infallible");
            let (parts, body) = response.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX)
                .await
                .expect("a response body can be read");
            (Response::from_parts(parts, ()), body.to_vec())
        })
    }

    /// The counters a request moves once it reaches the node (past the API's checks).
    pub fn work_done(&self) -> [u64; 8] {
        let m = &self.metrics;
        [
            m.rounds_started.get(),
            m.requests_ok.get(),
            m.requests_exhausted.get(),
            m.requests_indeterminate.get(),
            m.requests_queue_full.get(),
            m.requests_timed_out.get(),
            m.fast_reads.get() + m.fast_read_fallbacks.get(),
            m.fast_writes.get() + m.fast_write_fallbacks.get(),
        ]
    }
}

/// A directory of its own under the system's temporary directory (for certificates and token
/// files; the fuzzer runs a process for a long time, so one per process).
pub fn scratch_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("synod-fuzz-{what}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
