//! Hostile and broken input: malformed peer frames, a wrong cluster id or an unknown node in
//! the handshake, oversized frames, a spoofed sender, and bad HTTP requests. Each is refused with
//! an error (a closed connection and a counter, or a 4xx answer), changes no state, and the node
//! keeps serving.

mod support;

use bytes::Bytes;
use futures::SinkExt;
use std::net::SocketAddr;
use std::time::Duration;
use support::TestCluster;
use synod_core::{Ballot, Message, NodeId};
use synod_server::wire::{self, Envelope, Handshake};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::FramedWrite;

const MAX_FRAME: usize = 64 * 1024;

/// An Accept of `value` at a huge ballot "from node 2": if node 1's acceptor took it, every later
/// read through node 1 would return `value`.
fn evil_accept(from: u8, key: &'static str, value: &'static str) -> Bytes {
    wire::encode_batch(&[Envelope {
        from: NodeId(from),
        key: Bytes::from_static(key.as_bytes()),
        msg: Message::Accept {
            ballot: Ballot::new(1_000_000, NodeId(2)),
            value: Some(Bytes::from_static(value.as_bytes())),
        },
    }])
}

/// Opens a peer connection, sends `frames` (payloads; the codec adds lengths) and then the raw
/// `tail` bytes, and reports whether the node closed the connection (EOF or reset).
async fn send(peer: SocketAddr, frames: Vec<Bytes>, tail: &[u8]) -> bool {
    let stream = TcpStream::connect(peer).await.unwrap();
    let mut framed = FramedWrite::new(stream, wire::codec(usize::MAX >> 1));
    for frame in frames {
        if framed.send(frame).await.is_err() {
            return true;
        }
    }
    let mut stream = framed.into_inner();
    if stream.write_all(tail).await.is_err() {
        return true;
    }
    let mut buf = [0u8; 16];
    match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => true,
        Ok(Ok(_)) => panic!("the node never writes on inbound peer connections"),
        Err(_) => false,
    }
}

fn hello(cluster: &str, node: u8) -> Bytes {
    wire::encode_handshake(&Handshake::new(cluster, NodeId(node)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_peer_frames_are_refused_and_change_no_state() {
    let max = format!("--max-frame-bytes={MAX_FRAME}");
    let cluster = TestCluster::start(3, &[&max]).await;
    let c1 = cluster.client(1);
    c1.put("k", "v").await.unwrap();
    let peer = cluster.peer(1);
    let id = cluster.cluster_id.clone();

    // A wrong cluster id, and a node id that is not a member: refused at the handshake.
    assert!(
        send(
            peer,
            vec![hello("other-cluster", 2), evil_accept(2, "k", "evil")],
            b""
        )
        .await
    );
    assert!(send(peer, vec![hello(&id, 9), evil_accept(9, "k", "evil")], b"").await);
    // Not a handshake at all (an HTTP request on the peer port).
    assert!(send(peer, vec![], b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await);
    assert_eq!(
        cluster
            .counter(1, "synod_peer_handshakes_refused_total")
            .await,
        3
    );

    // A good handshake followed by garbage, by a frame over the limit, or by an envelope that
    // claims another sender than the handshake: the connection is closed.
    assert!(
        send(
            peer,
            vec![hello(&id, 2), Bytes::from_static(&[0xff; 9])],
            b""
        )
        .await
    );
    let oversized = ((MAX_FRAME + 1) as u32).to_be_bytes();
    assert!(send(peer, vec![hello(&id, 2)], &oversized).await);
    assert!(send(peer, vec![hello(&id, 2), evil_accept(3, "k", "evil")], b"").await);
    assert_eq!(
        cluster
            .counter(1, "synod_peer_frames_malformed_total")
            .await,
        3
    );

    // No state changed: node 1's acceptor did not take the evil Accept, reads return "v".
    assert_eq!(c1.get("k").await.unwrap(), Some(Bytes::from("v")));
    c1.health().await.unwrap();

    // Control: the very same Accept on a legitimate connection does reach the acceptor (so the
    // checks above would have seen it had any of it got through).
    let stream = TcpStream::connect(peer).await.unwrap();
    let mut framed = FramedWrite::new(stream, wire::codec(MAX_FRAME));
    framed.send(hello(&id, 2)).await.unwrap();
    framed
        .send(evil_accept(2, "control", "evil"))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let got = c1.get("control").await.unwrap();
        if got == Some(Bytes::from("evil")) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "control accept never applied"
        );
    }
}

/// Sends `PUT /v1/kv/k` declaring a body of `length` bytes with `Expect: 100-continue`, sends no
/// body, and returns the status line of the first answer.
async fn declared_oversize_status(base: &str, length: usize) -> String {
    let authority = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(authority).await.unwrap();
    let head = format!(
        "PUT /v1/kv/k HTTP/1.1\r\nHost: {authority}\r\nContent-Length: {length}\r\nExpect: 100-continue\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    while !answer.windows(2).any(|w| w == b"\r\n") {
        let mut buf = [0u8; 512];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed before an answer");
        answer.extend_from_slice(&buf[..n]);
    }
    let line = answer.split(|&b| b == b'\r').next().unwrap();
    String::from_utf8_lossy(line).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_http_requests_get_errors_and_start_no_round() {
    let cluster = TestCluster::start(3, &["--max-value-bytes=1024"]).await;
    let c1 = cluster.client(1);
    c1.put("k", "v").await.unwrap();
    let rounds = cluster.counter(1, "synod_rounds_started_total").await;
    let http = reqwest::Client::new();
    let base = cluster.http(1).to_owned();
    let status = |request: reqwest::RequestBuilder| async move {
        request.send().await.unwrap().status().as_u16()
    };

    let big = vec![b'x'; 2000];
    assert_eq!(
        status(http.put(format!("{base}/v1/kv/k")).body(big.clone())).await,
        413
    );
    assert_eq!(
        status(
            http.post(format!("{base}/v1/kv/k/propose-once"))
                .body(big.clone())
        )
        .await,
        413
    );
    let cas_big = serde_json::json!({"expected": "v", "new": "x".repeat(2000)}).to_string();
    assert_eq!(
        status(http.post(format!("{base}/v1/kv/k/cas")).body(cas_big)).await,
        413
    );
    // Far over the body limit: the 413 comes from the declared length, before any body is read.
    // (Sending the megabyte with reqwest would race the server's close of the connection: the
    // client can get a broken pipe instead of the answer. `Expect: 100-continue` is the protocol's
    // way to ask first; a server that started reading the body would answer `100 Continue`.)
    assert_eq!(
        declared_oversize_status(cluster.http(1), 1 << 20).await,
        "HTTP/1.1 413 Payload Too Large"
    );
    let long_key = "k".repeat(2000);
    assert_eq!(
        status(http.put(format!("{base}/v1/kv/{long_key}")).body("v")).await,
        400
    );
    assert_eq!(
        status(http.post(format!("{base}/v1/kv/k/cas")).body("{not json")).await,
        400
    );
    assert_eq!(
        status(
            http.post(format!("{base}/v1/kv/k/cas"))
                .body(r#"{"expected": 1, "new": "x"}"#)
        )
        .await,
        400
    );
    assert_eq!(
        status(
            http.post(format!("{base}/v1/kv/k/cas"))
                .body(r#"{"new": 5}"#)
        )
        .await,
        400
    );
    assert_eq!(status(http.get(format!("{base}/v1/nothing"))).await, 404);
    assert_eq!(status(http.post(format!("{base}/v1/kv/k"))).await, 405);

    assert_eq!(
        cluster.counter(1, "synod_rounds_started_total").await,
        rounds,
        "no bad request started a Paxos round"
    );
    assert_eq!(c1.get("k").await.unwrap(), Some(Bytes::from("v")));
    let err = c1.put("k", vec![b'x'; 1025]).await.unwrap_err();
    assert_eq!((err.status(), err.code()), (Some(413), Some("too_large")));
}
