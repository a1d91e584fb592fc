//! Fuzz target: the HTTP API's request handling. The input is split into a method, a path and
//! a body; the request is sent through the real axum router of a one-node cluster (so every
//! well-formed operation completes locally). Any request must get an HTTP answer — never a
//! panic, never a 500. (`http_auth` does the same with a token file.)

#![no_main]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use synod_server_fuzz::{Node, METHODS};

fn node() -> &'static Node {
    static NODE: OnceLock<Node> = OnceLock::new();
    NODE.get_or_init(|| Node::start(None))
}

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
    let (response, _) = node().send(request);
    assert_ne!(
        response.status(),
        StatusCode::INTERNAL_SERVER_ERROR,
        "{path:?}"
    );
});
