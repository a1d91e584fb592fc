//! TLS and tokens (docs/security.md), each refusal shown to change nothing on disk.
//!
//! Peers: a node of a TLS cluster refuses a peer whose certificate comes from another CA, a peer
//! presenting node 2's certificate while its handshake claims node 3, and a plain-TCP peer — each
//! sending a forged `Accept` that would change a key if it were taken — and refuses hostile
//! frames (spoofed sender, garbage, oversized) even from a peer with a good certificate. Clients:
//! plain HTTP to the HTTPS port and HTTPS without the cluster's client certificate are refused;
//! a read-only token cannot write, a token for prefix `a/` cannot touch `b/x` (401/403 in the
//! `{"error","detail"}` format); SIGHUP reloads the token file.

mod support;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use rustls::pki_types::pem::PemObject;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use support::{
    changed_files, forged_accept, settled_snapshots, snapshot, until_available, TestCluster,
};
use synod_core::NodeId;
use synod_server::wire::{self, Handshake, HandshakeReply};
use synod_server::{hash_token, CertFiles, Client, ClientOptions, Membership};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

const MAX_FRAME: usize = 64 * 1024;

/// The handshake node `node` of `cluster` sends.
fn hello(cluster: &TestCluster, node: u8) -> Bytes {
    let members = Membership::majority((1..=3).map(NodeId).collect());
    let addresses = synod_server::Addresses(
        (1..=3u8)
            .map(|id| (NodeId(id), cluster.peer(id).to_string()))
            .collect(),
    );
    wire::encode_handshake(
        &Handshake::new(&cluster.cluster_id, NodeId(node), members).with_addresses(addresses),
    )
}

/// A TLS client configuration trusting `ca`, presenting `cert` (files in `dir`).
fn tls_client(dir: &Path, ca: &str, cert: &str) -> tokio_rustls::TlsConnector {
    let own = CertFiles {
        cert: dir.join(format!("{cert}.pem")),
        key: dir.join(format!("{cert}-key.pem")),
    };
    let certs = rustls::pki_types::CertificateDer::pem_file_iter(&own.cert)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(&own.key).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for ca in rustls::pki_types::CertificateDer::pem_file_iter(dir.join(ca)).unwrap() {
        roots.add(ca.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_root_certificates(roots)
    .with_client_auth_cert(certs, key)
    .unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// What became of a peer connection after it sent its frames.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// The node answered the handshake with this reply, then closed the connection.
    Closed(Option<HandshakeReply>),
    /// The connection is still open after 10 s.
    Open(Option<HandshakeReply>),
}

/// Sends `frames` on `io` and reports what the node did: the reply it wrote (if any) and
/// whether it closed the connection.
async fn exchange(io: impl AsyncRead + AsyncWrite + Unpin, frames: Vec<Bytes>) -> Outcome {
    let mut framed = Framed::new(io, wire::codec(usize::MAX >> 1));
    for frame in frames {
        if framed.send(frame).await.is_err() {
            return Outcome::Closed(None);
        }
    }
    let mut reply = None;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), framed.next()).await {
            Ok(Some(Ok(frame))) => reply = Some(wire::decode_reply(&frame).expect("a reply")),
            Ok(Some(Err(_)) | None) => return Outcome::Closed(reply),
            Err(_) => return Outcome::Open(reply),
        }
    }
}

/// Connects to `peer` over TLS with `connector` (expecting node 1's certificate) and sends
/// `frames`; a handshake the node refuses shows as a closed connection.
async fn over_tls(
    connector: &tokio_rustls::TlsConnector,
    peer: SocketAddr,
    frames: Vec<Bytes>,
) -> Outcome {
    let tcp = TcpStream::connect(peer).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("synod-node-1").unwrap();
    match connector.connect(name, tcp).await {
        Ok(tls) => exchange(tls, frames).await,
        Err(_) => Outcome::Closed(None),
    }
}

/// Node 1's data directory is byte-for-byte the same as `before`, and `key` still reads `value`
/// through node 1 (a read runs a Paxos round at node 1, which would find a forged Accept).
async fn unchanged(
    cluster: &TestCluster,
    before: &std::collections::BTreeMap<std::path::PathBuf, Vec<u8>>,
    key: &str,
    value: &str,
) {
    assert!(
        snapshot(&cluster.nodes[0].data) == *before,
        "node 1's data directory changed"
    );
    let client = cluster.client(1);
    let read = until_available(|| client.get(key)).await.unwrap();
    assert_eq!(read.as_deref(), Some(value.as_bytes()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_peers_refuse_other_cas_impostors_plain_tcp_and_hostile_frames() {
    let cluster =
        TestCluster::start_tls(3, &["--forward=off", "--fast-paths=off"], false, None).await;
    cluster.await_connected().await;
    let certs = cluster.tls.clone().unwrap();
    let client = cluster.client(1);
    until_available(|| client.put("k", "good")).await.unwrap();
    // Reads settle the key's state (every acceptor of the quorum re-accepts it); then the data
    // directory is still while nothing is asked.
    until_available(|| client.get("k")).await.unwrap();
    let before = snapshot(&cluster.nodes[0].data);
    let peer = cluster.peer(1);
    let refused = cluster
        .counter(1, "synod_peer_handshakes_refused_total")
        .await;

    // A certificate of another CA (with the right name, node 2's): the TLS handshake fails.
    let other = cluster.dir.path().join("other-ca");
    synod_server::make_cluster(&other, "evil", [NodeId(2)], &[], "x", 1).unwrap();
    std::fs::copy(certs.join("ca.pem"), other.join("cluster-ca.pem")).unwrap();
    let stranger = tls_client(&other, "cluster-ca.pem", "node-2");
    let outcome = over_tls(
        &stranger,
        peer,
        vec![hello(&cluster, 2), forged_accept(2, "k", "forged")],
    )
    .await;
    assert_eq!(outcome, Outcome::Closed(None));

    // Node 2's certificate, claiming to be node 3: refused with a reason naming the certificate.
    let node2 = tls_client(&certs, "ca.pem", "node-2");
    let outcome = over_tls(
        &node2,
        peer,
        vec![hello(&cluster, 3), forged_accept(3, "k", "forged")],
    )
    .await;
    match outcome {
        Outcome::Closed(Some(HandshakeReply::Refused(why))) => {
            assert!(
                why.contains("certificate does not name synod-node-3"),
                "{why}"
            )
        }
        other => panic!("expected a refusal naming the certificate, got {other:?}"),
    }

    // A plain-TCP peer with a perfect handshake: refused before a frame is read.
    let tcp = TcpStream::connect(peer).await.unwrap();
    let outcome = exchange(
        tcp,
        vec![hello(&cluster, 2), forged_accept(2, "k", "forged")],
    )
    .await;
    assert!(matches!(outcome, Outcome::Closed(_)), "{outcome:?}");

    await_counter(&cluster, refused + 3).await;
    unchanged(&cluster, &before, "k", "good").await;
    let before = snapshot(&cluster.nodes[0].data);

    // Hostile frames from a peer with a good certificate and handshake (node 2's): a spoofed
    // sender, a frame that does not decode, an oversized frame — each closes the connection.
    let malformed = cluster
        .counter(1, "synod_peer_frames_malformed_total")
        .await;
    let spoofed = forged_accept(3, "k", "forged");
    let garbage = Bytes::from_static(&[0xff; 64]);
    let oversized = Bytes::from(vec![0u8; wire::DEFAULT_MAX_FRAME + 1]);
    for hostile in [spoofed, garbage, oversized] {
        let outcome = over_tls(&node2, peer, vec![hello(&cluster, 2), hostile]).await;
        assert!(matches!(outcome, Outcome::Closed(_)), "{outcome:?}");
    }
    let now = cluster
        .counter(1, "synod_peer_frames_malformed_total")
        .await;
    assert_eq!(now, malformed + 3, "each hostile frame counted");
    unchanged(&cluster, &before, "k", "good").await;

    // The control: node 2's own certificate and handshake are accepted (so the refusals above
    // are the certificate checks', not a broken test).
    let tcp = TcpStream::connect(peer).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("synod-node-1").unwrap();
    let tls = node2.connect(name, tcp).await.unwrap();
    let mut framed = Framed::new(tls, wire::codec(MAX_FRAME));
    framed.send(hello(&cluster, 2)).await.unwrap();
    let reply = framed.next().await.unwrap().unwrap();
    assert_eq!(
        wire::decode_reply(&reply).unwrap(),
        HandshakeReply::Accepted
    );
}

/// Waits until node 1 has refused `at_least` handshakes in all.
async fn await_counter(cluster: &TestCluster, at_least: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let now = cluster
            .counter(1, "synod_peer_handshakes_refused_total")
            .await;
        if now >= at_least {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "refused handshakes: {now}, expected {at_least}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn token_entry(name: &str, token: &str, access: &str, prefix: &str) -> String {
    format!(
        "[[token]]\nname = {name:?}\nsha256 = \"{}\"\naccess = \"{access}\"\nprefix = {prefix:?}\n\n",
        hash_token(token)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_client_certificates_and_tokens_refuse_before_anything_changes() {
    let tokens = tempfile::NamedTempFile::new().unwrap();
    let file = |entries: &[String]| std::fs::write(tokens.path(), entries.concat()).unwrap();
    let admin = token_entry("admin", "admin-secret", "read-write", "");
    let reader = token_entry("reader", "reader-secret", "read", "");
    let a_writer = token_entry("a-writer", "a-secret", "read-write", "a/");
    file(&[admin.clone(), reader.clone(), a_writer.clone()]);
    let flag = format!("--token-file={}", tokens.path().display());
    let cluster = TestCluster::start_tls(3, &[&flag], true, Some("admin-secret")).await;
    cluster.await_connected().await;
    let certs = cluster.tls.clone().unwrap();
    let http = cluster.http(1).to_owned();
    for (key, value) in [("b/x", "b-value"), ("a/y", "a-value")] {
        let client = cluster.client(1);
        until_available(|| client.put(key, value)).await.unwrap();
    }
    let client_cert = CertFiles {
        cert: certs.join("client-admin.pem"),
        key: certs.join("client-admin-key.pem"),
    };
    let with = |token: Option<&str>, cert: bool| {
        let mut options = ClientOptions::default()
            .with_tls(&certs.join("ca.pem"), cert.then_some(&client_cert))
            .unwrap();
        if let Some(token) = token {
            options = options.with_token(token);
        }
        Client::with_options(&http, Duration::from_secs(10), &options).unwrap()
    };
    let dirs: Vec<&Path> = cluster.nodes.iter().map(|n| n.data.as_path()).collect();
    let before = settled_snapshots(&dirs).await;

    // Plain HTTP to the HTTPS port, and HTTPS without a client certificate: no answer at all.
    let plain = Client::new(
        &http.replace("https://", "http://"),
        Duration::from_secs(10),
    )
    .unwrap();
    assert!(plain.put("b/x", "forged").await.is_err());
    assert!(with(Some("admin-secret"), false)
        .put("b/x", "forged")
        .await
        .is_err());
    // No token, an unknown token: 401.
    for token in [None, Some("guess")] {
        let err = with(token, true).put("b/x", "forged").await.unwrap_err();
        assert_eq!(
            (err.status(), err.code()),
            (Some(401), Some("unauthorized")),
            "{err}"
        );
    }
    // A read-only token reads but cannot write; a token for `a/` cannot touch `b/x`.
    let reader_client = with(Some("reader-secret"), true);
    let err = reader_client.put("b/x", "forged").await.unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(403), Some("forbidden")),
        "{err}"
    );
    let err = reader_client.delete("a/y").await.unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    let a_client = with(Some("a-secret"), true);
    let err = a_client.put("b/x", "forged").await.unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(403), Some("forbidden")),
        "{err}"
    );
    assert!(err.to_string().contains("\"a/\""), "{err}");
    let err = a_client
        .cas("b/x", Some("b-value"), "forged")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    let err = a_client.get("b/x").await.unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    let after: Vec<_> = dirs.iter().map(|d| snapshot(d)).collect();
    let changed: Vec<_> = before
        .iter()
        .zip(&after)
        .flat_map(|(b, a)| changed_files(b, a))
        .collect();
    assert!(
        changed.is_empty(),
        "a refused request changed a data directory: {changed:?}"
    );

    // What the tokens do allow (reads are rounds: they may write acceptor state).
    let read = reader_client.get("b/x").await.unwrap();
    assert_eq!(read.as_deref(), Some(&b"b-value"[..]));
    a_client.put("a/y", "a-new").await.unwrap();
    let read = with(Some("admin-secret"), true).get("b/x").await.unwrap();
    assert_eq!(read.as_deref(), Some(&b"b-value"[..]), "b/x untouched");

    // Rotation: a token removed from the file and SIGHUP — refused from then on; a new one works.
    file(&[
        admin,
        token_entry("a-writer-2", "a-secret-2", "read-write", "a/"),
    ]);
    for node in &cluster.nodes {
        let pid = nix::unistd::Pid::from_raw(node.child.as_ref().unwrap().id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while a_client.get("a/y").await.map_err(|e| e.status()) != Err(Some(401)) {
        assert!(
            std::time::Instant::now() < deadline,
            "the old token still works"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    with(Some("a-secret-2"), true)
        .put("a/z", "v")
        .await
        .unwrap();
}
