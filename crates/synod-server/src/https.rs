//! HTTPS for the client API: a listener that hands axum TLS connections instead of TCP ones.
//!
//! One task accepts TCP connections and runs each TLS handshake in a task of its own (bounded by
//! a timeout), so a client that connects and stays silent holds up nobody; finished handshakes
//! are queued for axum's accept loop. A connection that fails its handshake — plain HTTP sent
//! to the HTTPS port, a client certificate missing or from another CA when `--http-client-ca` is
//! set — is closed and logged at `debug`; it never reaches the router. The acceptor is read
//! from a [`Reloadable`] for each connection, so a certificate reloaded on SIGHUP serves the
//! next connection.

use crate::reloadable::Reloadable;
use axum::serve::Listener;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// How long a client may take over its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Finished handshakes waiting for axum to take them.
const READY_QUEUE: usize = 128;

/// A TLS listener for [`axum::serve`].
#[derive(Debug)]
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Serves TLS on `listener` with the acceptor current at each connection.
    pub fn new(
        listener: TcpListener,
        acceptor: Arc<Reloadable<TlsAcceptor>>,
    ) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (queue, ready) = mpsc::channel(READY_QUEUE);
        let accepting = tokio::spawn(async move {
            loop {
                let (stream, remote) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!("https accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // TLS writes a record per write: without this, Nagle's algorithm holds back
                // a response's last record until the client's delayed acknowledgement.
                let _ = stream.set_nodelay(true);
                let acceptor = acceptor.get();
                let queue = queue.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = queue.send((tls, remote)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%remote, "https handshake failed: {e}"),
                        Err(_) => tracing::debug!(%remote, "https handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener {
            ready,
            local,
            accepting,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accepting task is gone (it never ends on its own): accept nothing more.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
