//! Fuzz target: the TLS handshake of a node's servers (issue 19). The input is what a client
//! sends first — meant as a ClientHello — to the HTTPS acceptor (`--http-cert/--http-key`) or to
//! the peer transport's mutual-TLS acceptor (`--peer-cert/--peer-key/--peer-ca`), built from
//! certificates made by the server's own `certs` code, over an in-memory duplex stream; then
//! the client's side closes. The handshake must end with an error (random bytes cannot
//! complete a TLS 1.3 handshake) — never a panic, never a hang.
//!
//! The first byte picks the acceptor and whether the rest is sent as is or wrapped in a TLS
//! handshake record of the right length (so the fuzzer spends its time in the ClientHello
//! parser rather than on finding the record header).

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use std::time::Duration;
use synod_core::NodeId;
use synod_server::{
    http_server_config, make_cluster, CertFiles, HttpTlsFiles, PeerTls, PeerTlsFiles, DEFAULT_DAYS,
};
use synod_server_fuzz::scratch_dir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;

struct Acceptors {
    rt: tokio::runtime::Runtime,
    https: TlsAcceptor,
    peer: TlsAcceptor,
}

fn acceptors() -> &'static Acceptors {
    static ACCEPTORS: OnceLock<Acceptors> = OnceLock::new();
    ACCEPTORS.get_or_init(|| {
        let dir = scratch_dir("tls-handshake");
        make_cluster(
            &dir,
            "fuzz",
            [NodeId(1)],
            &["localhost".into()],
            "fuzz",
            DEFAULT_DAYS,
        )
        .expect("test certificates");
        let own = CertFiles {
            cert: dir.join("node-1.pem"),
            key: dir.join("node-1-key.pem"),
        };
        let https = http_server_config(&HttpTlsFiles {
            own: own.clone(),
            client_ca: None,
        })
        .expect("HTTPS configuration");
        let peer = PeerTls::load(&PeerTlsFiles {
            own,
            ca: dir.join("ca.pem"),
        })
        .expect("peer TLS configuration")
        .acceptor;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Acceptors { rt, https, peer }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, hello)) = data.split_first() else {
        return;
    };
    let a = acceptors();
    let acceptor = if mode & 1 == 0 { &a.https } else { &a.peer };
    let mut sent = Vec::new();
    if mode & 2 == 0 {
        // A handshake record (type 22, legacy version 3.1) around the bytes.
        let len = u16::try_from(hello.len().min(usize::from(u16::MAX))).unwrap();
        sent.extend_from_slice(&[22, 3, 1]);
        sent.extend_from_slice(&len.to_be_bytes());
        sent.extend_from_slice(&hello[..usize::from(len)]);
    } else {
        sent.extend_from_slice(hello);
    }
    let outcome = a.rt.block_on(async {
        let (mut client, server) = tokio::io::duplex(16 * 1024);
        let handshake = acceptor.accept(server);
        let client = async move {
            // Send, close our side, and take whatever the server answers until it hangs up.
            let _ = client.write_all(&sent).await;
            let _ = client.shutdown().await;
            let mut answer = Vec::new();
            let _ = client.read_to_end(&mut answer).await;
        };
        tokio::time::timeout(Duration::from_secs(5), async {
            let (accepted, ()) = tokio::join!(handshake, client);
            accepted
        })
        .await
    });
    match outcome {
        Err(_) => panic!("the handshake hung on {} bytes", data.len()),
        Ok(Ok(_)) => panic!("a handshake completed from one flight of client bytes"),
        Ok(Err(_)) => {}
    }
});
